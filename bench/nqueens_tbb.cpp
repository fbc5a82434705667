// bench/nqueens_tbb.cpp - nqueens(n) with oneTBB: a task_group per node,
// one task per valid column.
#include "bench_tbb.h"
#include "kernels.h"

static long nq_tbb(int n, int j, const char *a)
{
	if (j == n)
		return 1;
	char boards[NQ_MAX][NQ_MAX];
	long counts[NQ_MAX] = { 0 };
	tbb::task_group g;
	for (int i = 0; i < n; i++) {
		char *b = boards[i];
		memcpy(b, a, (size_t)j);
		b[j] = (char)i;
		if (nq_ok(j, b))
			g.run([=, &counts] { counts[i] = nq_tbb(n, j + 1, b); });
	}
	g.wait();
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
	bench_tbb tbb(a);
	for (int rep = -a.warmup; rep < a.reps; rep++) {
		long r = -1;
		char board[NQ_MAX] = { 0 };
		uint64_t t0 = bench_now_ns();
		tbb.arena.execute([&] { r = nq_tbb((int)a.n, 0, board); });
		uint64_t t1 = bench_now_ns();
		if (rep >= 0)
			bench_report("nqueens", &a, a.threads, rep, t1 - t0,
				     nq_spawns(a.n), r, r == nq_expected(a.n));
	}
	return 0;
}
