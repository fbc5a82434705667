/* bench/fibck_tg.c - fib(n) on taskgroup as bench/fib_tg.c, with a
 * cancellation checkpoint (TG_CHECKPOINT, i.e. tg_cancelled()) at the top
 * of every task: what a checkpoint per task costs in a fork-join program.
 * Nothing is cancelled, so the result must still be fib(n). */
#include "bench_tg.h"
#include "kernels.h"

typedef struct fib_task_arg {
	int n;
	long result;
} fib_task_arg;

static tg_error *fib_task(void *p)
{
	fib_task_arg *a = p;
	TG_CHECKPOINT();
	if (a->n < 2) {
		a->result = a->n;
		return NULL;
	}
	fib_task_arg x = { a->n - 1, 0 }, y = { a->n - 2, 0 };
	tg_group g;
	int rc = tg_group_init(&g, NULL);
	if (rc != TG_OK)
		return TG_RAISE(&tg_RuntimeError, "tg_group_init: %s",
				tg_status_name(rc));
	BENCH_TG_SPAWN(&g, fib_task, &x);
	BENCH_TG_SPAWN(&g, fib_task, &y);
	tg_error *err = tg_group_join(&g, NULL);
	if (err != NULL)
		return err;
	a->result = x.result + y.result;
	return NULL;
}

int main(int argc, char **argv)
{
	bench_args a;
	bench_parse(argc, argv, &a, 30);
	tg_runner *r = bench_tg_runner(&a);
	for (int rep = -a.warmup; rep < a.reps; rep++) {
		fib_task_arg root = { (int)a.n, -1 };
		uint64_t ns = bench_tg_run(r, fib_task, &root);
		if (rep >= 0)
			bench_report("fibck", &a, a.threads, rep, ns,
				     fib_spawns(a.n), root.result,
				     root.result == fib_expected(a.n));
	}
	bench_tg_destroy(r);
	return 0;
}
