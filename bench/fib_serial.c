/* bench/fib_serial.c - fib(n), plain recursion: the baseline. */
#include "bench_util.h"
#include "kernels.h"

int main(int argc, char **argv)
{
	bench_args a;
	bench_parse(argc, argv, &a, 30);
	for (int rep = -a.warmup; rep < a.reps; rep++) {
		volatile int n = (int)a.n; /* keep the call from being folded */
		uint64_t t0 = bench_now_ns();
		long r = fib_serial(n);
		uint64_t t1 = bench_now_ns();
		if (rep >= 0)
			bench_report("fib", &a, 1, rep, t1 - t0, fib_spawns(a.n),
				     r, r == fib_expected(a.n));
	}
	return 0;
}
