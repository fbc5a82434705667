/* bench/sleepy_tg.c - the sleepy batch on taskgroup: one task spawns n
 * children into one group from a loop, then joins; each child blocks T in
 * a plain nanosleep, which the pool does not see (no blocking region, no
 * checkpoint): only the starvation detector (tg_runner_config.
 * starvation_ns, 5 ms by default) can add workers meanwhile.
 * Built with BENCH_TG_SLEEP (bench_sleepy_tgsleep), each child sleeps
 * with tg_sleep instead: a cancel-aware sleep inside a blocking region,
 * which hands the worker's queue over and starts a compensating worker at
 * once. */
#include "bench_blocking.h"
#include "bench_tg.h"

static sleepy_batch batch;

static tg_error *sleepy_task(void *p)
{
	long i = (long)(uintptr_t)p;
#ifdef BENCH_TG_SLEEP
	uint64_t t0 = bench_now_ns();
	tg_error *err = tg_sleep(batch.sleep_ns);
	if (err != NULL)
		return err;
	sleepy_mark(&batch, i, t0, bench_now_ns());
#else
	sleepy_body(&batch, i);
#endif
	return NULL;
}

static tg_error *sleepy_root(void *p)
{
	(void)p;
	tg_group g;
	int rc = tg_group_init(&g, NULL);
	if (rc != TG_OK)
		return TG_RAISE(&tg_RuntimeError, "tg_group_init: %s",
				tg_status_name(rc));
	for (long i = 0; i < batch.n; i++)
		BENCH_TG_SPAWN(&g, sleepy_task, (void *)(uintptr_t)i);
	return tg_group_join(&g, NULL);
}

int main(int argc, char **argv)
{
	double ms = sleepy_take_ms(&argc, argv);
	bench_args a;
	bench_parse(argc, argv, &a, SLEEPY_DEFAULT_N);
	sleepy_alloc(&batch, a.n, ms);
	tg_runner *r = bench_tg_runner(&a);
	for (int rep = -a.warmup; rep < a.reps; rep++) {
		sleepy_reset(&batch);
		uint64_t ns = bench_tg_run(r, sleepy_root, NULL);
		if (rep >= 0)
			sleepy_report(&batch, &a, a.threads, rep, ns);
	}
	bench_tg_destroy(r);
	sleepy_free(&batch);
	return 0;
}
