// bench/spin_tbb.cpp - the 50 us batch with oneTBB: one task_group, n
// g.run calls of bench_spin(i, K) from a loop, then wait.
#include "bench_tbb.h"
#include "kernels.h"

#include <vector>

int main(int argc, char **argv)
{
	bench_args a;
	bench_parse(argc, argv, &a, 10000);
	if (a.spin <= 0) {
		fprintf(stderr, "--spin K is required (spin_serial --calibrate)\n");
		return 2;
	}
	bench_tbb tbb(a);
	std::vector<uint64_t> out((size_t)a.n + 1);
	uint64_t expect = spin_expected(a.n, a.spin);
	long n = a.n, k = a.spin;
	uint64_t *o = out.data();
	for (int rep = -a.warmup; rep < a.reps; rep++) {
		memset(o, 0, (size_t)n * sizeof *o);
		uint64_t t0 = bench_now_ns();
		tbb.arena.execute([&] {
			tbb::task_group g;
			for (long i = 0; i < n; i++)
				g.run([=] { o[i] = bench_spin((uint64_t)i, k); });
			g.wait();
		});
		uint64_t t1 = bench_now_ns();
		uint64_t s = spin_sum(o, n);
		if (rep >= 0)
			bench_report("spin", &a, a.threads, rep, t1 - t0,
				     (uint64_t)n, (long long)s, s == expect);
	}
	return 0;
}
