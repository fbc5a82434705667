/*
 * count_lines - count the lines of several files in parallel, and report
 * every failure, not just the first.
 *
 * The C version of the line counter from "Python 3.11 Preview: Task and
 * Exception Groups" (Real Python), whose async version reads:
 *
 *     async def count_all_files(file_names):
 *         async with asyncio.TaskGroup() as tg:
 *             for file_num, file_name in enumerate(file_names, start=1):
 *                 tg.create_task(count_lines_in_file(file_num, file_name))
 *
 *     try:
 *         asyncio.run(count_all_files(sys.argv[1:]))
 *     except* UnicodeDecodeError as eg:
 *         print("Bad encoding:", *[str(e)[:50] for e in eg.exceptions])
 *
 * Usage: count_lines [--fail-fast] FILE...
 *
 * By default the group collects every error (the tutorial's point: see
 * them all at once).  --fail-fast uses the TaskGroup default instead: the
 * first failure cancels the files not yet started.
 *
 * Exit status: 0 when nothing is left unhandled, 1 when errors were
 * reported (the bad-encoding ones are handled, like the tutorial's except*),
 * 2 on bad usage.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "taskgroup.h"

/* The tutorial's empty-file failure, as user-defined error types. */
TG_DEFINE_ERROR_TYPE(NameError, "NameError", &tg_Exception);
TG_DEFINE_ERROR_TYPE(UnboundLocalError, "UnboundLocalError", &NameError);

struct file_job {
	int file_num;
	const char *file_name;
};

struct all_files {
	int count;
	struct file_job *jobs;
	int policy;
};

static pthread_mutex_t print_lock = PTHREAD_MUTEX_INITIALIZER;

/* Python's "for line in file" over UTF-8 text: returns the number of lines,
 * or sets *bad to the offset of the first byte that does not decode and
 * *why to the reason, as Python's codec words it. */
static long
decode_and_count(const unsigned char *p, size_t n, size_t *bad,
		 const char **why)
{
	long lines = 0;
	size_t i = 0;

	while (i < n) {
		unsigned char c = p[i];
		size_t need, k;
		unsigned char lo = 0x80, hi = 0xBF;

		if (c < 0x80) {
			lines += c == '\n';
			i++;
			continue;
		}
		if (c >= 0xC2 && c <= 0xDF) {
			need = 1;
		} else if (c >= 0xE0 && c <= 0xEF) {
			need = 2;
			lo = c == 0xE0 ? 0xA0 : 0x80;
			hi = c == 0xED ? 0x9F : 0xBF;
		} else if (c >= 0xF0 && c <= 0xF4) {
			need = 3;
			lo = c == 0xF0 ? 0x90 : 0x80;
			hi = c == 0xF4 ? 0x8F : 0xBF;
		} else {
			*bad = i;
			*why = "invalid start byte";
			return -1;
		}
		for (k = 1; k <= need; k++) {
			unsigned char min = k == 1 ? lo : 0x80;
			unsigned char max = k == 1 ? hi : 0xBF;

			if (i + k >= n) {
				*bad = i;
				*why = "unexpected end of data";
				return -1;
			}
			if (p[i + k] < min || p[i + k] > max) {
				*bad = i;
				*why = "invalid continuation byte";
				return -1;
			}
		}
		i += need + 1;
	}
	if (n > 0 && p[n - 1] != '\n')
		lines++; /* a last line without its newline still counts */
	return lines;
}

/* Reads the whole file; NULL with errno set on failure. */
static unsigned char *
read_file(const char *name, size_t *len)
{
	FILE *f = fopen(name, "rb");
	unsigned char *buf = NULL;
	size_t cap = 0, n = 0;

	if (f == NULL)
		return NULL;
	for (;;) {
		size_t got;

		if (n == cap) {
			unsigned char *bigger;

			cap = cap ? cap * 2 : 4096;
			bigger = realloc(buf, cap);
			if (bigger == NULL) {
				free(buf);
				fclose(f);
				errno = ENOMEM;
				return NULL;
			}
			buf = bigger;
		}
		got = fread(buf + n, 1, cap - n, f);
		n += got;
		if (got == 0)
			break;
	}
	if (ferror(f)) {
		int saved = errno;

		free(buf);
		fclose(f);
		errno = saved ? saved : EIO;
		return NULL;
	}
	fclose(f);
	*len = n;
	return buf;
}

static void
print_count(const struct file_job *job, long lines)
{
	long i;

	pthread_mutex_lock(&print_lock);
	printf("%-20.20s ", job->file_name);
	for (i = 0; i < lines && i < 40; i++)
		fputs("\u25a1", stdout); /* the tutorial's box */
	printf(" (%ld)  [worker %d]\n", lines, tg_current_worker());
	fflush(stdout);
	pthread_mutex_unlock(&print_lock);
}

static tg_error *
count_lines_in_file(void *arg)
{
	const struct file_job *job = arg;
	size_t len = 0, bad = 0;
	const char *why = NULL;
	unsigned char *data;
	long lines;

	data = read_file(job->file_name, &len);
	if (data == NULL)
		return tg_error_from_errno(errno, "'%s'", job->file_name);
	lines = decode_and_count(data, len, &bad, &why);
	if (lines < 0) {
		tg_error *err = TG_RAISE(&tg_UnicodeDecodeError,
					 "'utf-8' codec can't decode byte "
					 "0x%02x in position %zu: %s",
					 data[bad], bad, why);

		free(data);
		tg_error_add_note(err, "while counting %s", job->file_name);
		return err;
	}
	free(data);
	if (lines == 0)
		return TG_RAISE(&UnboundLocalError,
				"cannot access local variable 'line_num' where "
				"it is not associated with a value (%s is empty)",
				job->file_name);
	print_count(job, lines);
	if (lines == 13)
		return TG_RAISE(&tg_RuntimeError,
				"Files with thirteen lines are too scary!");
	return NULL;
}

static tg_error *
count_all_files(void *arg)
{
	struct all_files *all = arg;
	tg_group_options opts = { .policy = all->policy, .name = "files" };
	tg_group tg;
	int i, rc;

	rc = tg_group_init(&tg, &opts);
	if (rc != TG_OK)
		return TG_RAISE(&tg_RuntimeError, "tg_group_init: %s",
				tg_strerror(rc));
	for (i = 0; i < all->count; i++) {
		rc = tg_spawn_named(&tg, count_lines_in_file, &all->jobs[i],
				    all->jobs[i].file_name);
		if (rc != TG_OK && rc != TG_ESHUTTINGDOWN)
			return tg_group_join(&tg, TG_RAISE(&tg_RuntimeError,
							   "tg_spawn: %s",
							   tg_strerror(rc)));
	}
	return tg_group_join(&tg, NULL);
}

static int
print_bad_encoding(tg_error *leaf, void *ctx)
{
	(void)ctx;
	printf(" %.50s", tg_error_message(leaf));
	return 0;
}

int
main(int argc, char **argv)
{
	struct all_files all = { 0, NULL, TG_POLICY_COLLECT_ALL };
	tg_error *err;
	int i, first = 1;

	if (argc > 1 && strcmp(argv[1], "--fail-fast") == 0) {
		all.policy = TG_POLICY_FAIL_FAST;
		first = 2;
	}
	if (argc <= first) {
		fprintf(stderr, "usage: %s [--fail-fast] FILE...\n", argv[0]);
		return 2;
	}
	all.count = argc - first;
	all.jobs = calloc((size_t)all.count, sizeof(*all.jobs));
	if (all.jobs == NULL) {
		perror("calloc");
		return 2;
	}
	for (i = 0; i < all.count; i++) {
		all.jobs[i].file_num = i + 1;
		all.jobs[i].file_name = argv[first + i];
	}

	err = tg_run(count_all_files, &all);

	/* except* UnicodeDecodeError as eg: print("Bad encoding:", ...) */
	TG_EXCEPT_STAR(&err, &tg_UnicodeDecodeError, eg) {
		printf("Bad encoding:");
		tg_error_foreach_leaf(eg, print_bad_encoding, NULL);
		printf("\n");
	}
	free(all.jobs);
	if (err != NULL) {
		fflush(stdout);
		tg_error_print(err, stderr);
		tg_error_decref(err);
		return 1;
	}
	return 0;
}
