/* bench/fib_omp.c - fib(n) with OpenMP tasks: both branches are tasks,
 * then a taskwait (libgomp with gcc, libomp with clang). */
#include "bench_omp.h"
#include "kernels.h"

static long fib_omp(int n)
{
	if (n < 2)
		return n;
	long x, y;
#pragma omp task shared(x) firstprivate(n)
	x = fib_omp(n - 1);
#pragma omp task shared(y) firstprivate(n)
	y = fib_omp(n - 2);
#pragma omp taskwait
	return x + y;
}

int main(int argc, char **argv)
{
	bench_args a;
	bench_parse(argc, argv, &a, 30);
	bench_omp_setup(&a);
	for (int rep = -a.warmup; rep < a.reps; rep++) {
		long r = -1;
		uint64_t t0 = bench_now_ns();
#pragma omp parallel
#pragma omp single
		r = fib_omp((int)a.n);
		uint64_t t1 = bench_now_ns();
		if (rep >= 0)
			bench_report("fib", &a, a.threads, rep, t1 - t0,
				     fib_spawns(a.n), r, r == fib_expected(a.n));
	}
	return 0;
}
