/* bench/early_exit_omp.c - early exit with OpenMP: one thread creates the
 * batch's tasks in a loop (omp single) inside a taskgroup; task n / 10
 * runs `cancel taskgroup`, after which the runtime discards the tasks
 * that have not started and creates no new ones.
 *
 * Cancellation is off unless OMP_CANCELLATION=true is in the environment
 * when the runtime starts.  libgomp reads the environment in a constructor,
 * before main, so setenv() alone is too late there: without the variable
 * the program sets it and re-executes itself.  The line reports what
 * omp_get_cancellation() said (cancellation=0: the cancel was ignored). */
#include "bench_cancel.h"
#include "bench_omp.h"

#include <unistd.h>

int main(int argc, char **argv)
{
	if (getenv("OMP_CANCELLATION") == NULL) {
		setenv("OMP_CANCELLATION", "true", 1);
		execv("/proc/self/exe", argv);
		/* exec failed: libomp may still see the variable (it reads
		 * the environment lazily); the line says either way. */
	}
	bench_args a;
	bench_parse(argc, argv, &a, 10000);
	int cancellation = omp_get_cancellation();
	if (!cancellation)
		fprintf(stderr, "early_exit_omp: OpenMP cancellation is off "
				"(OMP_CANCELLATION=true missing?)\n");
	bench_omp_setup(&a);
	early_batch b;
	early_alloc(&b, a.n, a.spin);
	for (int rep = -a.warmup; rep < a.reps; rep++) {
		int failed = 0;
		early_reset(&b);
		uint64_t t0 = bench_now_ns();
#pragma omp parallel shared(b, failed)
#pragma omp single
		{
#pragma omp taskgroup
			{
				for (long i = 0; i < b.n; i++) {
#pragma omp task firstprivate(i)
					{
						early_body(&b, i);
						if (i == b.fail) {
							/* one writer; read after
							 * the region's barrier */
							failed = 1;
#pragma omp cancel taskgroup
						}
					}
				}
			}
		}
		uint64_t t1 = bench_now_ns();
		if (rep >= 0)
			early_report(&b, &a, a.threads, rep, t1 - t0, failed,
				     cancellation);
	}
	early_free(&b);
	return 0;
}
