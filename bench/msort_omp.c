/* bench/msort_omp.c - mergesort of n ints with OpenMP tasks: both halves
 * are tasks down to MSORT_CUTOFF, then a serial merge. */
#include "bench_omp.h"
#include "kernels.h"

static void msort_omp(int *a, int *tmp, long n)
{
	if (n <= MSORT_CUTOFF) {
		msort_serial(a, tmp, n);
		return;
	}
	long m = n / 2;
#pragma omp task firstprivate(a, tmp, m)
	msort_omp(a, tmp, m);
#pragma omp task firstprivate(a, tmp, m, n)
	msort_omp(a + m, tmp + m, n - m);
#pragma omp taskwait
	msort_merge(a, m, n, tmp);
	memcpy(a, tmp, (size_t)n * sizeof *a);
}

int main(int argc, char **argv)
{
	bench_args a;
	bench_parse(argc, argv, &a, 10000000);
	bench_omp_setup(&a);
	int *data = malloc((size_t)a.n * sizeof *data);
	int *tmp = malloc((size_t)a.n * sizeof *tmp);
	if (data == NULL || tmp == NULL)
		return 1;
	msort_fill(data, a.n);
	uint64_t sum = msort_sum(data, a.n);
	for (int rep = -a.warmup; rep < a.reps; rep++) {
		msort_fill(data, a.n);
		uint64_t t0 = bench_now_ns();
#pragma omp parallel
#pragma omp single
		msort_omp(data, tmp, a.n);
		uint64_t t1 = bench_now_ns();
		if (rep >= 0)
			bench_report("msort", &a, a.threads, rep, t1 - t0,
				     msort_spawns(a.n), data[a.n / 2],
				     msort_check(data, a.n, sum));
	}
	free(data);
	free(tmp);
	return 0;
}
