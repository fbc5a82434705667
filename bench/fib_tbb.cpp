// bench/fib_tbb.cpp - fib(n) with oneTBB: a task_group per inner node,
// both branches run in it, then wait.
#include "bench_tbb.h"
#include "kernels.h"

static long fib_tbb(int n)
{
	if (n < 2)
		return n;
	long x = 0, y = 0;
	tbb::task_group g;
	g.run([&] { x = fib_tbb(n - 1); });
	g.run([&] { y = fib_tbb(n - 2); });
	g.wait();
	return x + y;
}

int main(int argc, char **argv)
{
	bench_args a;
	bench_parse(argc, argv, &a, 30);
	bench_tbb tbb(a);
	for (int rep = -a.warmup; rep < a.reps; rep++) {
		long r = -1;
		uint64_t t0 = bench_now_ns();
		tbb.arena.execute([&] { r = fib_tbb((int)a.n); });
		uint64_t t1 = bench_now_ns();
		if (rep >= 0)
			bench_report("fib", &a, a.threads, rep, t1 - t0,
				     fib_spawns(a.n), r, r == fib_expected(a.n));
	}
	return 0;
}
