/* bench/early_exit_tg.c - early exit on taskgroup: one task spawns the
 * batch into a fail-fast group from a loop and joins; task n / 10 returns
 * a ValueError, which cancels the group: queued children are skipped and
 * the next tg_spawn says TG_ESHUTTINGDOWN, which ends the loop (the
 * ordinary way to write it).  The run must return that one error. */
#include "bench_cancel.h"
#include "bench_tg.h"

static early_batch batch;

static tg_error *early_task(void *p)
{
	long i = (long)(uintptr_t)p;
	early_body(&batch, i);
	if (i == batch.fail)
		return TG_RAISE(&tg_ValueError, "task %ld failed", i);
	return NULL;
}

static tg_error *early_root(void *p)
{
	(void)p;
	tg_group g;
	int rc = tg_group_init(&g, NULL); /* NULL: fail-fast */
	if (rc != TG_OK)
		return TG_RAISE(&tg_RuntimeError, "tg_group_init: %s",
				tg_status_name(rc));
	for (long i = 0; i < batch.n; i++) {
		rc = tg_spawn(&g, early_task, (void *)(uintptr_t)i);
		if (rc == TG_ESHUTTINGDOWN)
			break; /* a child failed: the group is cancelled */
		if (rc != TG_OK)
			return tg_group_join(
				&g, TG_RAISE(&tg_RuntimeError, "tg_spawn: %s",
					     tg_status_name(rc)));
	}
	return tg_group_join(&g, NULL);
}

int main(int argc, char **argv)
{
	bench_args a;
	bench_parse(argc, argv, &a, 10000);
	early_alloc(&batch, a.n, a.spin);
	tg_runner *r = bench_tg_runner(&a);
	for (int rep = -a.warmup; rep < a.reps; rep++) {
		early_reset(&batch);
		uint64_t t0 = bench_now_ns();
		tg_error *err = tg_runner_run(r, early_root, NULL);
		uint64_t t1 = bench_now_ns();
		/* Exactly the failing task's error, nothing else. */
		int failed = err != NULL && tg_error_leaf_count(err) == 1 &&
			     tg_error_is(tg_error_child(err, 0), &tg_ValueError);
		if (!failed && err != NULL)
			tg_error_print(err, stderr);
		tg_error_decref(err);
		if (rep >= 0)
			early_report(&batch, &a, a.threads, rep, t1 - t0, failed,
				     1);
	}
	bench_tg_destroy(r);
	early_free(&batch);
	return 0;
}
