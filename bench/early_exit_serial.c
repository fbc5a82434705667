/* bench/early_exit_serial.c - the early-exit baseline: the batch's bodies
 * in a loop that stops after the failing index (run until the failure),
 * n / 10 + 1 bodies.  --spin K: the 50 us tasks; without: the tiny ones. */
#include "bench_cancel.h"

int main(int argc, char **argv)
{
	bench_args a;
	bench_parse(argc, argv, &a, 10000);
	early_batch b;
	early_alloc(&b, a.n, a.spin);
	for (int rep = -a.warmup; rep < a.reps; rep++) {
		int failed = 0;
		early_reset(&b);
		uint64_t t0 = bench_now_ns();
		for (long i = 0; i < b.n; i++) {
			early_body(&b, i);
			if (i == b.fail) {
				failed = 1;
				break;
			}
		}
		uint64_t t1 = bench_now_ns();
		if (rep >= 0)
			early_report(&b, &a, 1, rep, t1 - t0, failed, 1);
	}
	early_free(&b);
	return 0;
}
