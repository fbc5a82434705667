/*
 * bench/bench_blocking.h - what the blocking benchmarks (bench/run.py
 * --suite blocking) add to bench_util.h and bench_cancel.h: their options,
 * the sleepy batch and the barrier's round check, shared by every
 * implementation of bench/sleepy_* and bench/barrier_*.  Common subset of
 * C11 and C++17 (the oneTBB peer includes it); the few atomics are the
 * GCC/clang __atomic builtins, which both languages have.
 *
 * sleepy: a batch of n children (--n, default 8) that each block T
 * (--sleep-ms T, default 100; fractions allowed) in a plain nanosleep, with
 * no checkpoint and no blocking region: the pool cannot tell the worker is
 * blocked.  bench_sleepy_tgsleep sleeps with tg_sleep instead, inside a
 * blocking region.  Each child times its own sleep; result = the children
 * that slept at least T (known answer: n).  The line adds sleep_ms and
 * os_threads (the distinct threads that ran a child: more than the workers
 * means the pool compensated).
 *
 * barrier: P parties (--parties P, default --threads) each wait R rounds
 * (--n R, default 10000) on one barrier, after one untimed round that gets
 * every party started.  Party 0 times the R rounds from the return of the
 * first wait to the return of the last: ns_per_round, thread start-up and
 * spawning left out (time_ms is the whole run, start-up included).  Each
 * round is checked: before waiting, party i publishes the round it is in;
 * after the wait it reads party i + 1's, which must be that round or the
 * next.  result = the waits that passed (known answer: P * (R + 1)).
 */
#ifndef BENCH_BLOCKING_H
#define BENCH_BLOCKING_H

#include "bench_cancel.h" /* first (through bench_util.h): _GNU_SOURCE */

#include <errno.h>
#include <pthread.h>
#include <time.h>

/* ------------------------------------------------------------------ */
/* sleepy                                                               */

#define SLEEPY_DEFAULT_N 8
#define SLEEPY_DEFAULT_MS "100"

typedef struct sleepy_batch {
	long n;
	int64_t sleep_ns;
	double sleep_ms;
	uint8_t *slept;      /* slept[i] = 1: child i slept >= sleep_ns */
	pthread_t *thread;   /* thread[i]: the thread that ran child i */
} sleepy_batch;

/* Takes --sleep-ms out of argv (before bench_parse); exits on a bad
 * value. */
static inline double sleepy_take_ms(int *argc, char **argv)
{
	const char *v = bench_take_opt(argc, argv, "--sleep-ms",
				       SLEEPY_DEFAULT_MS);
	double ms = strtod(v, NULL);
	if (!(ms >= 0) || ms > 3600e3) {
		fprintf(stderr, "--sleep-ms needs 0 .. 3600000, not %s\n", v);
		exit(2);
	}
	return ms;
}

static inline void sleepy_alloc(sleepy_batch *b, long n, double ms)
{
	b->n = n;
	b->sleep_ms = ms;
	b->sleep_ns = (int64_t)(ms * 1e6 + 0.5);
	b->slept = (uint8_t *)calloc((size_t)n + 1, 1);
	b->thread = (pthread_t *)calloc((size_t)n + 1, sizeof *b->thread);
	if (b->slept == NULL || b->thread == NULL) {
		fprintf(stderr, "sleepy: out of memory\n");
		exit(1);
	}
}

static inline void sleepy_free(sleepy_batch *b)
{
	free(b->slept);
	free(b->thread);
}

static inline void sleepy_reset(sleepy_batch *b)
{
	memset(b->slept, 0, (size_t)b->n);
}

/* A plain nanosleep of ns, resumed after a signal: no checkpoint, no
 * blocking region. */
static inline void sleepy_nanosleep(int64_t ns)
{
	struct timespec ts, rem;
	ts.tv_sec = (time_t)(ns / 1000000000);
	ts.tv_nsec = (long)(ns % 1000000000);
	while (nanosleep(&ts, &rem) != 0 && errno == EINTR)
		ts = rem;
}

/* Child i's bookkeeping around its sleep (t0, t1: bench_now_ns before and
 * after).  Each index is written by one child only: plain stores, read
 * after the join. */
static inline void sleepy_mark(sleepy_batch *b, long i, uint64_t t0,
			       uint64_t t1)
{
	b->slept[i] = t1 - t0 >= (uint64_t)b->sleep_ns;
	b->thread[i] = pthread_self();
}

/* Child i of the nanosleep variant. */
static inline void sleepy_body(sleepy_batch *b, long i)
{
	uint64_t t0 = bench_now_ns();
	sleepy_nanosleep(b->sleep_ns);
	sleepy_mark(b, i, t0, bench_now_ns());
}

/* Distinct threads among thread[0..n) (n is small: quadratic). */
static inline long bench_distinct_threads(const pthread_t *t, long n)
{
	long d = 0;
	for (long i = 0; i < n; i++) {
		long j = 0;
		while (j < i && !pthread_equal(t[j], t[i]))
			j++;
		d += j == i;
	}
	return d;
}

/* The line of one repetition. */
static inline void sleepy_report(const sleepy_batch *b, const bench_args *a,
				 int threads, int rep, uint64_t ns)
{
	long slept = 0;
	for (long i = 0; i < b->n; i++)
		slept += b->slept[i];
	bench_report_kv("sleepy", a, threads, rep, ns, (uint64_t)b->n, slept,
			slept == b->n, " sleep_ms=%.3f os_threads=%ld",
			b->sleep_ms, bench_distinct_threads(b->thread, b->n));
}

/* ------------------------------------------------------------------ */
/* barrier                                                              */

#define BARRIER_DEFAULT_ROUNDS 10000

/* One party's published round, alone on its cache line. */
typedef struct barrier_slot {
	long round;
	char pad[64 - sizeof(long)];
} barrier_slot;

typedef struct barrier_run {
	int parties;
	long rounds;             /* timed rounds; one more is waited */
	barrier_slot *seen;      /* seen[i].round: party i's current round */
	pthread_t *thread;       /* thread[i]: the thread of party i */
	long passed;             /* waits that passed the check (atomic) */
	uint64_t t0, t1;         /* party 0: after the first and last wait */
} barrier_run;

/* Takes --parties out of argv (before bench_parse); 0 when absent (the
 * caller's default: --threads). */
static inline int barrier_take_parties(int *argc, char **argv)
{
	const char *v = bench_take_opt(argc, argv, "--parties", "0");
	long p = strtol(v, NULL, 10);
	if (p < 0 || p > 4096) {
		fprintf(stderr, "--parties needs 1 .. 4096, not %s\n", v);
		exit(2);
	}
	return (int)p;
}

static inline void barrier_alloc(barrier_run *b, int parties, long rounds)
{
	b->parties = parties;
	b->rounds = rounds;
	b->seen = (barrier_slot *)calloc((size_t)parties, sizeof *b->seen);
	b->thread = (pthread_t *)calloc((size_t)parties, sizeof *b->thread);
	if (b->seen == NULL || b->thread == NULL) {
		fprintf(stderr, "barrier: out of memory\n");
		exit(1);
	}
}

static inline void barrier_free(barrier_run *b)
{
	free(b->seen);
	free(b->thread);
}

static inline void barrier_reset(barrier_run *b)
{
	for (int i = 0; i < b->parties; i++)
		b->seen[i].round = -1;
	b->passed = 0;
	b->t0 = b->t1 = 0;
}

/* Party me, before its wait of round r (0 = the untimed one).  Relaxed:
 * the barrier orders it before the neighbour's read. */
static inline void barrier_enter(barrier_run *b, int me, long r)
{
	if (r == 0)
		b->thread[me] = pthread_self();
	__atomic_store_n(&b->seen[me].round, r, __ATOMIC_RELAXED);
}

/* Party me, after its wait of round r returned: 1 if the neighbour had
 * arrived in round r (it may already be in r + 1, not further: it cannot
 * pass round r + 1 without me).  Party 0 takes the time stamps. */
static inline int barrier_leave(barrier_run *b, int me, long r)
{
	if (me == 0 && r == 0)
		b->t0 = bench_now_ns();
	if (me == 0 && r == b->rounds)
		b->t1 = bench_now_ns();
	long v = __atomic_load_n(&b->seen[(me + 1) % b->parties].round,
				 __ATOMIC_RELAXED);
	return v == r || v == r + 1;
}

/* Party me's count of passed waits, added once at its end. */
static inline void barrier_done(barrier_run *b, long passed)
{
	__atomic_fetch_add(&b->passed, passed, __ATOMIC_RELAXED);
}

/* The line of one repetition (ns: the whole run); ok also needs extra_ok,
 * the implementation's own check (1 if it has none). */
static inline void barrier_report(const barrier_run *b, const bench_args *a,
				  int threads, int rep, uint64_t ns,
				  int extra_ok)
{
	long expect = (long)b->parties * (b->rounds + 1);
	double per = b->rounds > 0 && b->t1 >= b->t0
			     ? (double)(b->t1 - b->t0) / (double)b->rounds
			     : 0.0;
	bench_report_kv("barrier", a, threads, rep, ns, (uint64_t)b->parties,
			b->passed, b->passed == expect && extra_ok,
			" parties=%d rounds=%ld ns_per_round=%.1f os_threads=%ld",
			b->parties, b->rounds, per,
			bench_distinct_threads(b->thread, b->parties));
}

#endif /* BENCH_BLOCKING_H */
