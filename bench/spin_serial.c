/* bench/spin_serial.c - the 50 us batch: n calls of bench_spin(i, K) in a
 * loop: the baseline.  --calibrate prints the K that takes ~50 us here. */
#include "bench_util.h"
#include "kernels.h"

static int cmp_u64(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
	return a < b ? -1 : a > b;
}

/* Median of 9 timings of 2^20 steps, scaled to 50 us. */
static long calibrate(void)
{
	const long k = 1L << 20;
	uint64_t t[9];
	volatile uint64_t sink = 0;
	for (int i = 0; i < 9; i++) {
		uint64_t t0 = bench_now_ns();
		sink += bench_spin((uint64_t)i, k);
		t[i] = bench_now_ns() - t0;
	}
	(void)sink;
	qsort(t, 9, sizeof t[0], cmp_u64);
	return (long)(50000.0 * (double)k / (double)t[4]);
}

int main(int argc, char **argv)
{
	bench_args a;
	bench_parse(argc, argv, &a, 10000);
	if (a.calibrate) {
		printf("spin_iters=%ld\n", calibrate());
		return 0;
	}
	if (a.spin <= 0)
		a.spin = calibrate();
	uint64_t *out = calloc((size_t)a.n + 1, sizeof *out);
	if (out == NULL)
		return 1;
	uint64_t expect = spin_expected(a.n, a.spin);
	for (int rep = -a.warmup; rep < a.reps; rep++) {
		memset(out, 0, (size_t)a.n * sizeof *out);
		uint64_t t0 = bench_now_ns();
		for (long i = 0; i < a.n; i++)
			out[i] = bench_spin((uint64_t)i, a.spin);
		uint64_t t1 = bench_now_ns();
		uint64_t s = spin_sum(out, a.n);
		if (rep >= 0)
			bench_report("spin", &a, 1, rep, t1 - t0, (uint64_t)a.n,
				     (long long)s, s == expect);
	}
	free(out);
	return 0;
}
