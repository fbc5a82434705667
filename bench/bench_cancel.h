/*
 * bench/bench_cancel.h - what the cancellation benchmarks add to
 * bench_util.h: options of their own (taken out of argv before
 * bench_parse, which rejects what it does not know), the output line with
 * extra key=value pairs, and the early-exit batch that every
 * implementation of bench/early_exit_* shares.  Common subset of C11 and
 * C++17 (the oneTBB peer includes it).
 *
 * Early exit: a batch of n tasks spawned from one loop; task i marks
 * started[i], then runs its body (K LCG steps with --spin K, about 50 us;
 * else one bench_mix, a few ns); task early_fail_index(n) = n / 10 then
 * fails, which must stop the batch.  A serial loop that stops after that
 * index is the baseline; "started" counts the bodies that began.
 */
#ifndef BENCH_CANCEL_H
#define BENCH_CANCEL_H

#include "bench_util.h" /* first: it sets _GNU_SOURCE */
#include "kernels.h"

#include <stdarg.h>

/* Removes "--name VALUE" from argv (shifting the rest down); returns
 * VALUE, or def when the option is absent. */
static inline const char *bench_take_opt(int *argc, char **argv,
					 const char *name, const char *def)
{
	for (int i = 1; i + 1 < *argc; i++) {
		if (strcmp(argv[i], name) != 0)
			continue;
		const char *v = argv[i + 1];
		for (int j = i; j + 2 <= *argc; j++)
			argv[j] = argv[j + 2];
		*argc -= 2;
		return v;
	}
	return def;
}

/* bench_report's line, with extra " key=value" pairs (fmt) before the
 * newline; run.py reads every pair. */
#if defined(__GNUC__) || defined(__clang__)
__attribute__((format(printf, 9, 10)))
#endif
static inline void bench_report_kv(const char *kernel, const bench_args *a,
				   int threads, int rep, uint64_t ns,
				   uint64_t spawns, long long result, int ok,
				   const char *fmt, ...)
{
	va_list ap;
	printf("kernel=%s n=%ld impl=%s threads=%d rep=%d time_ms=%.4f "
	       "spawns=%llu maxrss_kb=%ld result=%lld ok=%d cc=%s%d",
	       kernel, a->n, BENCH_IMPL, threads, rep, (double)ns / 1e6,
	       (unsigned long long)spawns, bench_maxrss_kb(), result, ok,
	       BENCH_CC_NAME, BENCH_CC_MAJOR);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	if (!ok) {
		fprintf(stderr, "%s/%s n=%ld: wrong result %lld\n", kernel,
			BENCH_IMPL, a->n, result);
		exit(1);
	}
}

/* ------------------------------------------------------------------ */
/* Early exit                                                           */

typedef struct early_batch {
	long n;
	long k;           /* LCG steps per task; 0: the tiny body */
	long fail;        /* the index that fails */
	uint8_t *started; /* started[i] = 1 when body i began */
	uint64_t *out;    /* out[i]: body i's result */
} early_batch;

static inline long early_fail_index(long n)
{
	return n / 10;
}

/* The tiny body, out of line as tiny_body is (no vectorising or fusing
 * with the loop around it). */
#if defined(__GNUC__) || defined(__clang__)
__attribute__((noinline, unused))
#endif
static void early_tiny(uint64_t *out, long i)
{
	out[i] = bench_mix((uint64_t)i);
}

/* Body i.  Each index is written by one task only: plain stores. */
static inline void early_body(const early_batch *b, long i)
{
	b->started[i] = 1;
	if (b->k > 0)
		b->out[i] = bench_spin((uint64_t)i, b->k);
	else
		early_tiny(b->out, i);
}

/* Allocates the arrays (exits on failure). */
static inline void early_alloc(early_batch *b, long n, long k)
{
	b->n = n;
	b->k = k;
	b->fail = early_fail_index(n);
	b->started = (uint8_t *)calloc((size_t)n + 1, 1);
	b->out = (uint64_t *)calloc((size_t)n + 1, sizeof *b->out);
	if (b->started == NULL || b->out == NULL) {
		fprintf(stderr, "early_exit: out of memory\n");
		exit(1);
	}
}

static inline void early_free(early_batch *b)
{
	free(b->started);
	free(b->out);
}

static inline void early_reset(early_batch *b)
{
	memset(b->started, 0, (size_t)b->n);
	memset(b->out, 0, (size_t)b->n * sizeof *b->out);
}

/* Bodies started, or -1 if a started body's result is wrong or the
 * failing body never started (the run did not do what it claims). */
static inline long early_count(const early_batch *b)
{
	long started = 0;
	for (long i = 0; i < b->n; i++) {
		if (!b->started[i])
			continue;
		uint64_t want = b->k > 0 ? bench_spin_jump((uint64_t)i, b->k)
					 : bench_mix((uint64_t)i);
		if (b->out[i] != want)
			return -1;
		started++;
	}
	return b->started[b->fail] ? started : -1;
}

/* The output line: kernel early_spin (--spin) or early_tiny; result and
 * started = bodies started; ok needs the failure reported (failed) and a
 * consistent count. */
static inline void early_report(const early_batch *b, const bench_args *a,
				int threads, int rep, uint64_t ns, int failed,
				int cancellation)
{
	long started = early_count(b);
	bench_report_kv(b->k > 0 ? "early_spin" : "early_tiny", a, threads,
			rep, ns, (uint64_t)b->n, started, failed && started > 0,
			" started=%ld fail_index=%ld cancellation=%d", started,
			b->fail, cancellation);
}

#endif /* BENCH_CANCEL_H */
