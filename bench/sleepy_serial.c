/* bench/sleepy_serial.c - the sleepy batch one child after the other: n
 * plain nanosleeps of T in a loop, n * T: the baseline. */
#include "bench_blocking.h"

int main(int argc, char **argv)
{
	double ms = sleepy_take_ms(&argc, argv);
	bench_args a;
	bench_parse(argc, argv, &a, SLEEPY_DEFAULT_N);
	sleepy_batch b;
	sleepy_alloc(&b, a.n, ms);
	for (int rep = -a.warmup; rep < a.reps; rep++) {
		sleepy_reset(&b);
		uint64_t t0 = bench_now_ns();
		for (long i = 0; i < b.n; i++)
			sleepy_body(&b, i);
		uint64_t t1 = bench_now_ns();
		if (rep >= 0)
			sleepy_report(&b, &a, 1, rep, t1 - t0);
	}
	sleepy_free(&b);
	return 0;
}
