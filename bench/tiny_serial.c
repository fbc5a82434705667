/* bench/tiny_serial.c - the tiny batch: n calls of tiny_body (a few ns
 * each) in a loop: the baseline. */
#include "bench_util.h"
#include "kernels.h"

int main(int argc, char **argv)
{
	bench_args a;
	bench_parse(argc, argv, &a, 1000000);
	uint32_t *out = calloc((size_t)a.n + 1, sizeof *out);
	if (out == NULL)
		return 1;
	uint64_t expect = tiny_expected(a.n);
	for (int rep = -a.warmup; rep < a.reps; rep++) {
		memset(out, 0, (size_t)a.n * sizeof *out);
		uint64_t t0 = bench_now_ns();
		for (long i = 0; i < a.n; i++)
			tiny_body(out, i);
		uint64_t t1 = bench_now_ns();
		uint64_t s = tiny_sum(out, a.n);
		if (rep >= 0)
			bench_report("tiny", &a, 1, rep, t1 - t0, (uint64_t)a.n,
				     (long long)s, s == expect);
	}
	free(out);
	return 0;
}
