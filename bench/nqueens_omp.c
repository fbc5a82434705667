/* bench/nqueens_omp.c - nqueens(n) with OpenMP tasks: one task per valid
 * column, then a taskwait. */
#include "bench_omp.h"
#include "kernels.h"

static long nq_omp(int n, int j, const char *a)
{
	if (j == n)
		return 1;
	char boards[NQ_MAX][NQ_MAX];
	long counts[NQ_MAX] = { 0 };
	for (int i = 0; i < n; i++) {
		char *b = boards[i];
		memcpy(b, a, (size_t)j);
		b[j] = (char)i;
		if (nq_ok(j, b)) {
#pragma omp task shared(counts) firstprivate(b, i, n, j)
			counts[i] = nq_omp(n, j + 1, b);
		}
	}
#pragma omp taskwait
	long count = 0;
	for (int i = 0; i < n; i++)
		count += counts[i];
	return count;
}

int main(int argc, char **argv)
{
	bench_args a;
	bench_parse(argc, argv, &a, 12);
	if (a.n < 1 || a.n >= NQ_MAX) {
		fprintf(stderr, "n must be 1..%d\n", NQ_MAX - 1);
		return 2;
	}
	bench_omp_setup(&a);
	for (int rep = -a.warmup; rep < a.reps; rep++) {
		long r = -1;
		char board[NQ_MAX] = { 0 };
		uint64_t t0 = bench_now_ns();
#pragma omp parallel
#pragma omp single
		r = nq_omp((int)a.n, 0, board);
		uint64_t t1 = bench_now_ns();
		if (rep >= 0)
			bench_report("nqueens", &a, a.threads, rep, t1 - t0,
				     nq_spawns(a.n), r, r == nq_expected(a.n));
	}
	return 0;
}
