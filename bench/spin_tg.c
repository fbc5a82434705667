/* bench/spin_tg.c - the 50 us batch on taskgroup: one task spawns n tasks
 * of bench_spin(i, K) into one group from a loop, then joins.  Built with
 * BENCH_TG_EACH (bench_spin_each_tg), one tg_spawn_each over the output
 * array spawns them instead (child i gets &out[i]). */
#include "bench_tg.h"
#include "kernels.h"

static uint64_t *spin_out;
static long spin_n, spin_k;

#ifdef BENCH_TG_EACH
#define SPIN_INDEX(p) ((long)((uint64_t *)(p) - spin_out))
#else
#define SPIN_INDEX(p) ((long)(uintptr_t)(p))
#endif

static tg_error *spin_task(void *p)
{
	long i = SPIN_INDEX(p);
	spin_out[i] = bench_spin((uint64_t)i, spin_k);
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
#ifdef BENCH_TG_EACH
	BENCH_TG_SPAWN_EACH(&g, spin_task, spin_out, (size_t)spin_n,
			    sizeof *spin_out);
#else
	for (long i = 0; i < spin_n; i++)
		BENCH_TG_SPAWN(&g, spin_task, (void *)(uintptr_t)i);
#endif
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
