/* bench/spin_each_tg.c - the 50 us batch on taskgroup, spawned in one call:
 * one task spawns the n tasks of bench_spin(i, K) with one tg_spawn_each
 * over the output array (child i gets &out[i]), then joins. */
#include "bench_tg.h"
#include "kernels.h"

static uint64_t *spin_out;
static long spin_n, spin_k;

static tg_error *spin_task(void *p)
{
	uint64_t *slot = p;
	long i = (long)(slot - spin_out);
	*slot = bench_spin((uint64_t)i, spin_k);
	return NULL;
}

static tg_error *spin_root(void *p)
{
	(void)p;
	tg_group g;
	int rc = tg_group_init(&g, NULL);
	if (rc != TG_OK)
		return TG_RAISE(&tg_RuntimeError, "tg_group_init: %s",
				tg_status_name(rc));
	rc = tg_spawn_each(&g, spin_task, spin_out, (size_t)spin_n,
			   sizeof *spin_out);
	if (rc != TG_OK)
		return tg_group_join(&g, TG_RAISE(&tg_RuntimeError,
						  "tg_spawn_each: %s",
						  tg_status_name(rc)));
	return tg_group_join(&g, NULL);
}

int main(int argc, char **argv)
{
	bench_args a;
	bench_parse(argc, argv, &a, 10000);
	if (a.spin <= 0) {
		fprintf(stderr, "--spin K is required (spin_serial --calibrate)\n");
		return 2;
	}
	spin_n = a.n;
	spin_k = a.spin;
	spin_out = calloc((size_t)a.n + 1, sizeof *spin_out);
	if (spin_out == NULL)
		return 1;
	uint64_t expect = spin_expected(a.n, a.spin);
	tg_runner *r = bench_tg_runner(&a);
	for (int rep = -a.warmup; rep < a.reps; rep++) {
		memset(spin_out, 0, (size_t)a.n * sizeof *spin_out);
		uint64_t ns = bench_tg_run(r, spin_root, NULL);
		uint64_t s = spin_sum(spin_out, a.n);
		if (rep >= 0)
			bench_report("spin", &a, a.threads, rep, ns,
				     (uint64_t)a.n, (long long)s, s == expect);
	}
	bench_tg_destroy(r);
	free(spin_out);
	return 0;
}
