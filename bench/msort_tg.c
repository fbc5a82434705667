/* bench/msort_tg.c - mergesort of n ints on taskgroup: both halves are
 * spawned into a group down to MSORT_CUTOFF, then merged serially. */
#include "bench_tg.h"
#include "kernels.h"

typedef struct msort_arg {
	int *a, *tmp;
	long n;
} msort_arg;

static tg_error *msort_task(void *p)
{
	msort_arg *s = p;
	if (s->n <= MSORT_CUTOFF) {
		msort_serial(s->a, s->tmp, s->n);
		return NULL;
	}
	long m = s->n / 2;
	msort_arg lo = { s->a, s->tmp, m };
	msort_arg hi = { s->a + m, s->tmp + m, s->n - m };
	tg_group g;
	int rc = tg_group_init(&g, NULL);
	if (rc != TG_OK)
		return TG_RAISE(&tg_RuntimeError, "tg_group_init: %s",
				tg_status_name(rc));
	BENCH_TG_SPAWN(&g, msort_task, &lo);
	BENCH_TG_SPAWN(&g, msort_task, &hi);
	tg_error *err = tg_group_join(&g, NULL);
	if (err != NULL)
		return err;
	msort_merge(s->a, m, s->n, s->tmp);
	memcpy(s->a, s->tmp, (size_t)s->n * sizeof *s->a);
	return NULL;
}

int main(int argc, char **argv)
{
	bench_args a;
	bench_parse(argc, argv, &a, 10000000);
	int *data = malloc((size_t)a.n * sizeof *data);
	int *tmp = malloc((size_t)a.n * sizeof *tmp);
	if (data == NULL || tmp == NULL)
		return 1;
	msort_fill(data, a.n);
	uint64_t sum = msort_sum(data, a.n);
	tg_runner *r = bench_tg_runner(&a);
	for (int rep = -a.warmup; rep < a.reps; rep++) {
		msort_fill(data, a.n);
		msort_arg root = { data, tmp, a.n };
		uint64_t ns = bench_tg_run(r, msort_task, &root);
		if (rep >= 0)
			bench_report("msort", &a, a.threads, rep, ns,
				     msort_spawns(a.n), data[a.n / 2],
				     msort_check(data, a.n, sum));
	}
	bench_tg_destroy(r);
	free(data);
	free(tmp);
	return 0;
}
