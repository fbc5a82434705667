/* bench/barrier_tg.c - barrier round trips on taskgroup: one task opens a
 * tg_barrier of P parties and spawns P children into one group, then
 * joins; each child waits R + 1 rounds in tg_barrier_wait (the first one
 * untimed).  P defaults to the workers; with --parties P > --threads the
 * rounds can only fill because a waiter waits inside a blocking region and
 * the pool starts compensating workers (tg_runner_config.max_blocking, 64
 * by default, bounds P - workers).  Its own check: the arrival indices of
 * every round are 0 .. P - 1, so they sum to (R + 1) * P (P - 1) / 2. */
#include "bench_blocking.h"
#include "bench_tg.h"

#include <taskgroup/barrier.h>

static barrier_run run;
static tg_barrier bar;
static long index_sum; /* atomic */

static tg_error *party(void *p)
{
	int me = (int)(uintptr_t)p;
	long passed = 0, sum = 0;
	tg_error *err = NULL;
	for (long r = 0; r <= run.rounds; r++) {
		int index = -1;
		barrier_enter(&run, me, r);
		err = tg_barrier_wait(&bar, &index);
		if (err != NULL)
			break;
		passed += barrier_leave(&run, me, r);
		sum += index;
	}
	barrier_done(&run, passed);
	__atomic_fetch_add(&index_sum, sum, __ATOMIC_RELAXED);
	return err;
}

static tg_error *barrier_root(void *p)
{
	(void)p;
	int rc = tg_barrier_init(&bar, run.parties);
	if (rc != TG_OK)
		return TG_RAISE(&tg_RuntimeError, "tg_barrier_init: %s",
				tg_status_name(rc));
	tg_group g;
	rc = tg_group_init(&g, NULL);
	if (rc != TG_OK) {
		tg_barrier_destroy(&bar);
		return TG_RAISE(&tg_RuntimeError, "tg_group_init: %s",
				tg_status_name(rc));
	}
	tg_error *err = NULL;
	for (int i = 0; i < run.parties && err == NULL; i++) {
		rc = tg_spawn(&g, party, (void *)(uintptr_t)i);
		if (rc != TG_OK) {
			/* The parties already waiting would wait forever. */
			tg_barrier_abort(&bar);
			err = TG_RAISE(&tg_RuntimeError, "tg_spawn: %s",
				       tg_status_name(rc));
		}
	}
	err = tg_group_join(&g, err);
	rc = tg_barrier_destroy(&bar);
	if (rc != TG_OK && err == NULL)
		err = TG_RAISE(&tg_RuntimeError, "tg_barrier_destroy: %s",
			       tg_status_name(rc));
	return err;
}

int main(int argc, char **argv)
{
	int parties = barrier_take_parties(&argc, argv);
	bench_args a;
	bench_parse(argc, argv, &a, BARRIER_DEFAULT_ROUNDS);
	if (parties == 0)
		parties = a.threads;
	barrier_alloc(&run, parties, a.n);
	long long p = parties;
	long long expect_sum = (long long)(a.n + 1) * (p * (p - 1) / 2);
	tg_runner *r = bench_tg_runner(&a);
	for (int rep = -a.warmup; rep < a.reps; rep++) {
		barrier_reset(&run);
		index_sum = 0;
		uint64_t ns = bench_tg_run(r, barrier_root, NULL);
		if (rep < 0)
			continue;
		int sum_ok = index_sum == expect_sum;
		if (!sum_ok)
			fprintf(stderr, "barrier: arrival indices sum to %ld, "
					"not %lld\n", index_sum, expect_sum);
		barrier_report(&run, &a, a.threads, rep, ns, sum_ok);
	}
	bench_tg_destroy(r);
	barrier_free(&run);
	return 0;
}
