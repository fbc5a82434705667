/* bench/sleepy_omp.c - the sleepy batch with OpenMP: one thread creates n
 * tasks that each block T in a plain nanosleep (omp single), then a
 * taskwait.  The team has --threads threads and never grows: a blocked
 * thread is one thread less. */
#include "bench_blocking.h"
#include "bench_omp.h"

int main(int argc, char **argv)
{
	double ms = sleepy_take_ms(&argc, argv);
	bench_args a;
	bench_parse(argc, argv, &a, SLEEPY_DEFAULT_N);
	bench_omp_setup(&a);
	sleepy_batch b;
	sleepy_alloc(&b, a.n, ms);
	for (int rep = -a.warmup; rep < a.reps; rep++) {
		sleepy_reset(&b);
		uint64_t t0 = bench_now_ns();
#pragma omp parallel shared(b)
#pragma omp single
		{
			for (long i = 0; i < b.n; i++) {
#pragma omp task firstprivate(i)
				sleepy_body(&b, i);
			}
#pragma omp taskwait
		}
		uint64_t t1 = bench_now_ns();
		if (rep >= 0)
			sleepy_report(&b, &a, a.threads, rep, t1 - t0);
	}
	sleepy_free(&b);
	return 0;
}
