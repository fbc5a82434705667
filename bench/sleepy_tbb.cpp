// bench/sleepy_tbb.cpp - the sleepy batch with oneTBB: one task_group, n
// g.run calls from a loop, each blocking T in a plain nanosleep, then
// wait.  The arena has --threads slots and does not compensate for a
// blocked thread.
#include "bench_blocking.h"
#include "bench_tbb.h"

int main(int argc, char **argv)
{
	double ms = sleepy_take_ms(&argc, argv);
	bench_args a;
	bench_parse(argc, argv, &a, SLEEPY_DEFAULT_N);
	bench_tbb tbb(a);
	sleepy_batch b;
	sleepy_alloc(&b, a.n, ms);
	sleepy_batch *bp = &b;
	long n = a.n;
	for (int rep = -a.warmup; rep < a.reps; rep++) {
		sleepy_reset(&b);
		uint64_t t0 = bench_now_ns();
		tbb.arena.execute([&] {
			tbb::task_group g;
			for (long i = 0; i < n; i++)
				g.run([=] { sleepy_body(bp, i); });
			g.wait();
		});
		uint64_t t1 = bench_now_ns();
		if (rep >= 0)
			sleepy_report(&b, &a, a.threads, rep, t1 - t0);
	}
	sleepy_free(&b);
	return 0;
}
