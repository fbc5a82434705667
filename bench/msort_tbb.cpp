// bench/msort_tbb.cpp - mergesort of n ints with oneTBB: both halves run
// in a task_group down to MSORT_CUTOFF, then a serial merge.
#include "bench_tbb.h"
#include "kernels.h"

#include <vector>

static void msort_tbb(int *a, int *tmp, long n)
{
	if (n <= MSORT_CUTOFF) {
		msort_serial(a, tmp, n);
		return;
	}
	long m = n / 2;
	tbb::task_group g;
	g.run([=] { msort_tbb(a, tmp, m); });
	g.run([=] { msort_tbb(a + m, tmp + m, n - m); });
	g.wait();
	msort_merge(a, m, n, tmp);
	memcpy(a, tmp, (size_t)n * sizeof *a);
}

int main(int argc, char **argv)
{
	bench_args a;
	bench_parse(argc, argv, &a, 10000000);
	bench_tbb tbb(a);
	std::vector<int> data((size_t)a.n), tmp((size_t)a.n);
	msort_fill(data.data(), a.n);
	uint64_t sum = msort_sum(data.data(), a.n);
	for (int rep = -a.warmup; rep < a.reps; rep++) {
		msort_fill(data.data(), a.n);
		uint64_t t0 = bench_now_ns();
		tbb.arena.execute(
			[&] { msort_tbb(data.data(), tmp.data(), a.n); });
		uint64_t t1 = bench_now_ns();
		if (rep >= 0)
			bench_report("msort", &a, a.threads, rep, t1 - t0,
				     msort_spawns(a.n), data[(size_t)a.n / 2],
				     msort_check(data.data(), a.n, sum));
	}
	return 0;
}
