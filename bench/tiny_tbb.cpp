// bench/tiny_tbb.cpp - the tiny batch with oneTBB: one task_group, n
// g.run calls from a loop, then wait.
#include "bench_tbb.h"
#include "kernels.h"

#include <vector>

int main(int argc, char **argv)
{
	bench_args a;
	bench_parse(argc, argv, &a, 1000000);
	bench_tbb tbb(a);
	std::vector<uint32_t> out((size_t)a.n + 1);
	uint64_t expect = tiny_expected(a.n);
	long n = a.n;
	uint32_t *o = out.data();
	for (int rep = -a.warmup; rep < a.reps; rep++) {
		memset(o, 0, (size_t)n * sizeof *o);
		uint64_t t0 = bench_now_ns();
		tbb.arena.execute([&] {
			tbb::task_group g;
			for (long i = 0; i < n; i++)
				g.run([=] { tiny_body(o, i); });
			g.wait();
		});
		uint64_t t1 = bench_now_ns();
		uint64_t s = tiny_sum(o, n);
		if (rep >= 0)
			bench_report("tiny", &a, a.threads, rep, t1 - t0,
				     (uint64_t)n, (long long)s, s == expect);
	}
	return 0;
}
