/* bench/msort_serial.c - mergesort of n ints, plain recursion: the
 * baseline.  The input is refilled (untimed) before every repetition. */
#include "bench_util.h"
#include "kernels.h"

int main(int argc, char **argv)
{
	bench_args a;
	bench_parse(argc, argv, &a, 10000000);
	int *data = malloc((size_t)a.n * sizeof *data);
	int *tmp = malloc((size_t)a.n * sizeof *tmp);
	if (data == NULL || tmp == NULL)
		return 1;
	msort_fill(data, a.n);
	uint64_t sum = msort_sum(data, a.n);
	for (int rep = -a.warmup; rep < a.reps; rep++) {
		msort_fill(data, a.n);
		uint64_t t0 = bench_now_ns();
		msort_serial(data, tmp, a.n);
		uint64_t t1 = bench_now_ns();
		if (rep >= 0)
			bench_report("msort", &a, 1, rep, t1 - t0,
				     msort_spawns(a.n), data[a.n / 2],
				     msort_check(data, a.n, sum));
	}
	free(data);
	free(tmp);
	return 0;
}
