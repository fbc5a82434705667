/* bench/cancel_skip_tg.c - the cost of a queued child skipped after a
 * cancellation.  The root task runs --rounds rounds of: open a fail-fast
 * group, spawn n children (n <= the pool's per-worker queue limit, 8192,
 * so that all of them are queued, none run inside tg_spawn), then
 *
 *   skip   tg_group_cancel, then join: every queued child is skipped
 *   run    join: every child runs (a no-op that marks its slot)
 *
 * each phase timed inside the task.  One line per variant and repetition
 * (kernel=skip / kernel=run), with spawn_ns and join_ns per child and ran =
 * the children whose body ran (0 for skip on 1 worker).  join_ns of skip
 * is the cost of skipping one child; join_ns of run, that of popping and
 * running a no-op.  --variant skip|run runs one only (for callgrind). */
#include "bench_cancel.h"
#include "bench_tg.h"

static long skip_n, skip_rounds;
static uint8_t *ran; /* ran[i]: child i's body ran (this round) */
static uint64_t spawn_ns, join_ns;
static long ran_total;

static tg_error *child(void *p)
{
	*(uint8_t *)p = 1;
	return NULL;
}

static tg_error *skip_root(void *p)
{
	int cancel = p != NULL;
	for (long r = 0; r < skip_rounds; r++) {
		tg_group g;
		int rc = tg_group_init(&g, NULL);
		if (rc != TG_OK)
			return TG_RAISE(&tg_RuntimeError, "tg_group_init: %s",
					tg_status_name(rc));
		uint64_t t0 = bench_now_ns();
		for (long i = 0; i < skip_n; i++)
			BENCH_TG_SPAWN(&g, child, &ran[i]);
		uint64_t t1 = bench_now_ns();
		if (cancel)
			tg_group_cancel(&g);
		tg_error *err = tg_group_join(&g, NULL);
		uint64_t t2 = bench_now_ns();
		if (err != NULL)
			return err;
		spawn_ns += t1 - t0;
		join_ns += t2 - t1;
		/* Outside the timed phases: count and clear the marks. */
		for (long i = 0; i < skip_n; i++) {
			ran_total += ran[i];
			ran[i] = 0;
		}
	}
	return NULL;
}

int main(int argc, char **argv)
{
	const char *only = bench_take_opt(&argc, argv, "--variant", NULL);
	skip_rounds = strtol(bench_take_opt(&argc, argv, "--rounds", "1000"),
			     NULL, 10);
	bench_args a;
	bench_parse(argc, argv, &a, 4096);
	if (a.n < 1 || a.n > 8192 || skip_rounds < 1) {
		fprintf(stderr, "need 1 <= --n <= 8192 (the queue limit) and "
				"--rounds >= 1\n");
		return 2;
	}
	int do_skip = only == NULL || strcmp(only, "skip") == 0;
	int do_run = only == NULL || strcmp(only, "run") == 0;
	if (!do_skip && !do_run) {
		fprintf(stderr, "unknown --variant %s\n", only);
		return 2;
	}
	skip_n = a.n;
	ran = calloc((size_t)a.n, 1);
	if (ran == NULL)
		return 1;
	uint64_t children = (uint64_t)skip_n * (uint64_t)skip_rounds;
	tg_runner *r = bench_tg_runner(&a);
	for (int rep = -a.warmup; rep < a.reps; rep++) {
		for (int v = 0; v < 2; v++) {
			int cancel = v == 0;
			if (cancel ? !do_skip : !do_run)
				continue;
			spawn_ns = join_ns = 0;
			ran_total = 0;
			uint64_t ns = bench_tg_run(r, skip_root,
						   cancel ? (void *)1 : NULL);
			if (rep < 0)
				continue;
			/* run: every child ran; skip: none needs to (on 1
			 * worker none can: nothing is stolen). */
			int ok = cancel ? ran_total <= (long)children
					: ran_total == (long)children;
			bench_report_kv(cancel ? "skip" : "run", &a, a.threads,
					rep, ns, children, ran_total, ok,
					" rounds=%ld spawn_ns=%.3f join_ns=%.3f "
					"ran=%ld",
					skip_rounds,
					(double)spawn_ns / (double)children,
					(double)join_ns / (double)children,
					ran_total);
		}
	}
	bench_tg_destroy(r);
	free(ran);
	return 0;
}
