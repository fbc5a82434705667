/* bench/nqueens_serial.c - nqueens(n) by plain recursion: the baseline.
 * Also checks the spawn count table of kernels.h. */
#include "bench_util.h"
#include "kernels.h"

int main(int argc, char **argv)
{
	bench_args a;
	bench_parse(argc, argv, &a, 12);
	if (a.n < 1 || a.n >= NQ_MAX) {
		fprintf(stderr, "n must be 1..%d\n", NQ_MAX - 1);
		return 2;
	}
	for (int rep = -a.warmup; rep < a.reps; rep++) {
		char board[NQ_MAX] = { 0 };
		uint64_t nodes = 0;
		uint64_t t0 = bench_now_ns();
		long r = nq_serial((int)a.n, 0, board, &nodes);
		uint64_t t1 = bench_now_ns();
		if (rep >= 0)
			bench_report("nqueens", &a, 1, rep, t1 - t0, nodes, r,
				     r == nq_expected(a.n) &&
					     nodes == nq_spawns(a.n));
	}
	return 0;
}
