/* bench/tiny_omp.c - the tiny batch with OpenMP: one thread creates n
 * tasks in a loop (omp single), then a taskwait. */
#include "bench_omp.h"
#include "kernels.h"

int main(int argc, char **argv)
{
	bench_args a;
	bench_parse(argc, argv, &a, 1000000);
	bench_omp_setup(&a);
	uint32_t *out = calloc((size_t)a.n + 1, sizeof *out);
	if (out == NULL)
		return 1;
	uint64_t expect = tiny_expected(a.n);
	long n = a.n;
	for (int rep = -a.warmup; rep < a.reps; rep++) {
		memset(out, 0, (size_t)n * sizeof *out);
		uint64_t t0 = bench_now_ns();
#pragma omp parallel
#pragma omp single
		{
			for (long i = 0; i < n; i++) {
#pragma omp task firstprivate(i)
				tiny_body(out, i);
			}
#pragma omp taskwait
		}
		uint64_t t1 = bench_now_ns();
		uint64_t s = tiny_sum(out, n);
		if (rep >= 0)
			bench_report("tiny", &a, a.threads, rep, t1 - t0,
				     (uint64_t)n, (long long)s, s == expect);
	}
	free(out);
	return 0;
}
