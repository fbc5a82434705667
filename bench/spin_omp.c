/* bench/spin_omp.c - the 50 us batch with OpenMP: one thread creates n
 * tasks of bench_spin(i, K) in a loop (omp single), then a taskwait. */
#include "bench_omp.h"
#include "kernels.h"

int main(int argc, char **argv)
{
	bench_args a;
	bench_parse(argc, argv, &a, 10000);
	if (a.spin <= 0) {
		fprintf(stderr, "--spin K is required (spin_serial --calibrate)\n");
		return 2;
	}
	bench_omp_setup(&a);
	uint64_t *out = calloc((size_t)a.n + 1, sizeof *out);
	if (out == NULL)
		return 1;
	uint64_t expect = spin_expected(a.n, a.spin);
	long n = a.n, k = a.spin;
	for (int rep = -a.warmup; rep < a.reps; rep++) {
		memset(out, 0, (size_t)n * sizeof *out);
		uint64_t t0 = bench_now_ns();
#pragma omp parallel
#pragma omp single
		{
			for (long i = 0; i < n; i++) {
#pragma omp task firstprivate(i)
				out[i] = bench_spin((uint64_t)i, k);
			}
#pragma omp taskwait
		}
		uint64_t t1 = bench_now_ns();
		uint64_t s = spin_sum(out, n);
		if (rep >= 0)
			bench_report("spin", &a, a.threads, rep, t1 - t0,
				     (uint64_t)n, (long long)s, s == expect);
	}
	free(out);
	return 0;
}
