/* bench/barrier_omp.c - barrier round trips with OpenMP: a parallel
 * region of P = --threads threads, each running R + 1 `omp barrier`s (the
 * first one untimed).  Parties = --threads, always: the barrier is the
 * team's, every thread of the team is a party and each holds its thread
 * while it waits (--parties other than --threads is refused).  The
 * runtime's wait policy is its default one (spin, then sleep). */
#include "bench_blocking.h"
#include "bench_omp.h"

int main(int argc, char **argv)
{
	int parties = barrier_take_parties(&argc, argv);
	bench_args a;
	bench_parse(argc, argv, &a, BARRIER_DEFAULT_ROUNDS);
	if (parties != 0 && parties != a.threads) {
		fprintf(stderr, "barrier_omp: --parties must equal --threads "
				"(the barrier is the team's)\n");
		return 2;
	}
	parties = a.threads;
	bench_omp_setup(&a);
	barrier_run run;
	barrier_alloc(&run, parties, a.n);
	for (int rep = -a.warmup; rep < a.reps; rep++) {
		int team = 0;
		barrier_reset(&run);
		uint64_t t0 = bench_now_ns();
#pragma omp parallel shared(run, team)
		{
			int me = omp_get_thread_num();
			long passed = 0;
			if (me == 0)
				team = omp_get_num_threads();
			/* A smaller team than asked for would make every party
			 * check read a slot nobody writes: leave at once. */
			if (omp_get_num_threads() == parties) {
				for (long r = 0; r <= run.rounds; r++) {
					barrier_enter(&run, me, r);
#pragma omp barrier
					passed += barrier_leave(&run, me, r);
				}
			}
			barrier_done(&run, passed);
		}
		uint64_t t1 = bench_now_ns();
		if (rep < 0)
			continue;
		if (team != parties)
			fprintf(stderr, "barrier_omp: a team of %d threads, "
					"not %d\n", team, parties);
		barrier_report(&run, &a, parties, rep, t1 - t0,
			       team == parties);
	}
	barrier_free(&run);
	return 0;
}
