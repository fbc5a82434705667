/*
 * tg-stress-rss.c - resident-set samples for the soak (--rss): RSS from
 * /proc/self/statm, malloc's bytes in use, where the resident memory is
 * (/proc/self/smaps), and the growth after the warm-up.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 33)
#include <malloc.h>
#define HAVE_GLIBC_MALLOC 1 /* mallinfo2, malloc_trim */
#endif

#include "tg-stress.h"

/* Resident set size in KiB, from /proc/self/statm; 0 if unreadable. */
static uint64_t
rss_kib(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	unsigned long long size, resident;
	int ok;

	if (f == NULL)
		return 0;
	ok = fscanf(f, "%llu %llu", &size, &resident) == 2;
	fclose(f);
	return ok ? resident * (uint64_t)sysconf(_SC_PAGESIZE) / 1024 : 0;
}

/* Bytes malloc has handed out and not had back, in KiB (glibc); 0 when
 * unknown.  Separates a leak (this grows) from fragmentation (only RSS
 * grows). */
static uint64_t
heap_kib(void)
{
#ifdef HAVE_GLIBC_MALLOC
	struct mallinfo2 mi = mallinfo2();

	return (uint64_t)(mi.uordblks + mi.hblkhd) / 1024;
#else
	return 0;
#endif
}

/* Where the resident memory is, in KiB, from /proc/self/smaps: the main
 * heap, other anonymous memory (glibc's per-thread arenas and large
 * mmapped blocks), thread stacks (a read-write anonymous mapping right
 * above a small no-access guard), and the rest (code, data, the main
 * stack).  A diagnostic: it says which kind of memory grows. */
struct rss_parts {
	uint64_t heap, anon, stacks, other;
};

static void
rss_parts(struct rss_parts *p)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[512], perms[8] = "", prev_perms[8] = "";
	unsigned long long lo = 0, hi = 0, prev_lo = 0, prev_hi = 0, kib;
	uint64_t *into = &p->other;
	bool prev_anon = false;

	memset(p, 0, sizeof *p);
	if (f == NULL)
		return; /* all 0: the line then shows no breakdown */
	while (fgets(line, sizeof line, f) != NULL) {
		unsigned long long a, b;
		char pm[8];
		int path = 0;

		if (sscanf(line, "%llx-%llx %7s %*s %*s %*s %n", &a, &b, pm,
			   &path) >= 3 &&
		    path > 0) {
			bool anon = line[path] == '\n' || line[path] == '\0';

			prev_lo = lo;
			prev_hi = hi;
			memcpy(prev_perms, perms, sizeof perms);
			lo = a;
			hi = b;
			memcpy(perms, pm, sizeof perms);
			if (strncmp(line + path, "[heap]", 6) == 0)
				into = &p->heap;
			else if (!anon)
				into = &p->other;
			else if (prev_anon && prev_hi == lo &&
				 prev_perms[0] == '-' && prev_perms[1] == '-' &&
				 prev_hi - prev_lo <= 64 * 1024)
				into = &p->stacks;
			else
				into = &p->anon;
			prev_anon = anon;
			continue;
		}
		if (sscanf(line, "Rss: %llu kB", &kib) == 1)
			*into += kib;
	}
	fclose(f);
}

/* Gives what the library and the allocator keep for reuse back to the
 * system (tg_trim_memory, then glibc's malloc_trim): what RSS then counts
 * is memory the process holds, not what its caches kept after a peak. */
static void
trim_heap(void)
{
	(void)tg_trim_memory();
#ifdef HAVE_GLIBC_MALLOC
	malloc_trim(0);
#endif
}

void
rss_sample(const struct config *cfg, struct rss_log *l, int64_t elapsed)
{
	uint64_t raw = rss_kib(), kib = raw, heap = heap_kib();

	if (cfg->rss_trim) {
		trim_heap();
		kib = rss_kib();
	}
	l->samples++;
	l->last = kib;
	l->raw_last = raw;
	l->heap_last = heap;
	l->next_ns += cfg->rss_interval_ns;
	if (elapsed < cfg->rss_warmup_ns || l->baseline == 0) {
		if (elapsed >= cfg->rss_warmup_ns) {
			l->baseline = kib;
			l->raw_baseline = raw;
			l->heap_baseline = heap;
		}
		l->max = kib;
	} else {
		l->after_warmup++;
		if (kib > l->max)
			l->max = kib;
	}
	if (!cfg->quiet) {
		struct rss_parts parts;

		char before[64] = "";

		if (cfg->rss_trim)
			snprintf(before, sizeof before,
				 " after the trim, %" PRIu64 " KiB before",
				 raw);
		rss_parts(&parts);
		fprintf(stderr,
			"%stg-stress: rss %" PRIu64 " KiB%s (heap %" PRIu64
			", other anonymous %" PRIu64 ", thread stacks %" PRIu64
			", files and main stack %" PRIu64 "), malloc in use %" PRIu64
			" KiB at %.0f s%s\n",
			isatty(2) ? "\r\033[K" : "", kib, before, parts.heap,
			parts.anon, parts.stacks, parts.other, heap,
			(double)elapsed / NS_PER_S,
			l->baseline == kib && l->after_warmup == 0 ? " (baseline)"
								   : "");
	}
}

double
growth_pct(uint64_t baseline, uint64_t last)
{
	if (baseline == 0)
		return 0.0;
	return 100.0 * ((double)last - (double)baseline) / (double)baseline;
}

double
rss_growth(const struct rss_log *l)
{
	return l->after_warmup == 0 ? 0.0 : growth_pct(l->baseline, l->last);
}

/* Makes every page of p resident now.  The oracle's arrays are sized for
 * the largest tree (--max-tasks) but calloc leaves their pages untouched
 * until a tree uses them, so without this the tool's own RSS would climb
 * each time a tree larger than any before it came: growth that --rss
 * would blame on the library.  Writes through a volatile pointer, which
 * the compiler cannot drop as redundant after calloc. */
void
prefault(void *p, size_t bytes)
{
	volatile unsigned char *v = p;
	size_t i;

	for (i = 0; i < bytes; i += 4096)
		v[i] = 0;
}
