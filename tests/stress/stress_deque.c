/*
 * stress_deque.c - multi-thread stress of the work-stealing deque with an
 * exactly-once oracle (reliability.md §4.3 invariant 9).
 *
 * One owner thread pushes and takes (a random mix of bursts, some of its
 * takes claiming the oldest items as a spawn with a full queue does) and, as the
 * scheduler does, shares half of its private items whenever a thief asked
 * (and now and then unasked); 1..4 thief threads steal.  The items are split into rounds; each round uses a fresh
 * deque of initial capacity 1, 2 or 4 (so it grows up to ~20 times) whose
 * indices start at 0 or at 2^62 (alternating rounds), and at most
 * --round items.  Every item is a pointer to a payload that the owner
 * fills with plain stores before pushing it; whoever gets the item (the
 * owner's take or a thief's steal) checks the payload and bumps the
 * item's counter.  Invariants, each named on failure:
 *
 *   exactly-once   no item consumed twice (checked at once, by an atomic
 *                  counter per item) and none lost (every counter is 1
 *                  when the round ends; per-thread counts add up);
 *   payload        the consumer sees the owner's plain stores (TSan checks
 *                  the happens-before edge; the check word catches torn or
 *                  stale payloads without TSan);
 *   quiescence     top <= split <= bottom, and all equal once drained;
 *   growth         push never fails (memory is plentiful here);
 *   teardown       destroy frees every buffer, retired ones included
 *                  (allocations counted through tg_set_allocator).
 *
 * Options: --items N (default 10,000,000), --thieves K (1..4, default 2),
 * --seed S (default TG_TEST_SEED, else time), --round R (items per round,
 * default 1,048,576), --capacity C (1, 2 or 4; default random per round),
 * --timeout SEC (watchdog, default 300; a hang prints the seed and exits
 * 3).  Threads are not pinned.  The seed is always printed; the last line
 * is "stress_deque: N passed, M failed" (N, M count items).  Exit status:
 * 0 passed, 1 an invariant was violated, 2 bad usage, 3 watchdog.
 */
#define _POSIX_C_SOURCE 200809L

#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "taskgroup/common.h"

#include "deque.h"

enum { MAX_THIEVES = 4 };

typedef struct payload {
	uint64_t id;    /* global item number; plain, written by the owner */
	uint64_t check; /* mix(id); plain, written by the owner */
	TG_ATOMIC(uint32_t) taken; /* consumptions this round */
} payload;

static struct {
	uint64_t items;
	uint64_t round;
	int thieves;
	uint64_t seed;
	int capacity; /* 0: random per round */
	unsigned timeout;
} opt = { 10000000, (uint64_t)1 << 20, 2, 0, 0, 300 };

static tg__deque dq;
static payload *pay;               /* opt.round payloads, reused per round */
static pthread_barrier_t round_start, round_end;
static TG_ATOMIC(uint32_t) round_over; /* owner has drained; release */
static TG_ATOMIC(uint32_t) quit;       /* no more rounds */
static TG_ATOMIC(uint32_t) failures;   /* violations seen (any thread) */
static uint64_t consumed[1 + MAX_THIEVES]; /* per thread, this round */
static uint64_t stolen_total[1 + MAX_THIEVES];
static TG_ATOMIC(uint64_t) lost_cas; /* TG__STEAL_LOST results */

/* Allocation counters: only the owner thread allocates or frees (init,
 * grow, destroy), but count atomically anyway so that a stray allocation
 * elsewhere would still be counted. */
static TG_ATOMIC(uint64_t) n_alloc, n_free;

static void *
count_malloc(size_t n)
{
	void *p = malloc(n);

	if (p != NULL)
		tg_atomic_faa_relaxed_u64(&n_alloc, 1);
	return p;
}
static void *
count_calloc(size_t c, size_t n)
{
	void *p = calloc(c, n);

	if (p != NULL)
		tg_atomic_faa_relaxed_u64(&n_alloc, 1);
	return p;
}
static void *
count_realloc(void *p, size_t n)
{
	return realloc(p, n);
}
static void
count_free(void *p)
{
	if (p != NULL)
		tg_atomic_faa_relaxed_u64(&n_free, 1);
	free(p);
}

static void
violation(const char *invariant, const char *fmt, ...)
{
	va_list ap;
	char msg[256];

	/* relaxed: a count; report the first few only */
	if (tg_atomic_faa_relaxed_u32(&failures, 1) >= 10)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* one fprintf call: lines of different threads do not mix */
	fprintf(stderr, "stress_deque: FAILED invariant %s: %s (seed %" PRIu64
			")\n",
		invariant, msg, opt.seed);
}

static uint64_t
mix(uint64_t x)
{
	x ^= opt.seed;
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	x ^= x >> 33;
	return x;
}

static uint64_t
rnd(uint64_t *s)
{
	/* xorshift64* */
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ull;
}

/* The round's items are pay[0..n); item i of the round is global number
 * base + i. */
static uint64_t cur_base, cur_n;

static void
consume(int self, void *x)
{
	payload *p = x;
	uint64_t i;
	uint32_t before;

	if (p < pay || p >= pay + cur_n) {
		violation("exactly-once", "thread %d got a pointer %p that is "
			  "no item of this round", self, x);
		return;
	}
	i = (uint64_t)(p - pay);
	/* plain loads of the owner's plain stores: the release/acquire
	 * on bottom (and buf) must order them */
	if (p->id != cur_base + i || p->check != mix(cur_base + i))
		violation("payload", "item %" PRIu64 " read as id %" PRIu64
			  " check %#" PRIx64 " by thread %d",
			  cur_base + i, p->id, p->check, self);
	/* relaxed: atomicity alone catches a second consumption; the
	 * round barrier orders it before the owner's final check */
	before = tg_atomic_faa_relaxed_u32(&p->taken, 1);
	if (before != 0)
		violation("exactly-once", "item %" PRIu64 " consumed twice "
			  "(second time by thread %d)", cur_base + i, self);
	consumed[self]++;
}

static void *
thief_main(void *arg)
{
	int self = (int)(intptr_t)arg;

	for (;;) {
		unsigned misses = 0;

		pthread_barrier_wait(&round_start);
		/* acquire: pairs with the owner's release store of quit
		 * (also ordered by the barrier). */
		if (tg_atomic_load_acquire_u32(&quit))
			break;
		for (;;) {
			void *x = NULL;
			enum tg__steal r = tg__deque_steal(&dq, &x);

			if (r == TG__STEAL_OK) {
				consume(self, x);
				stolen_total[self]++;
				misses = 0;
			} else if (r == TG__STEAL_LOST) {
				tg_atomic_faa_relaxed_u64(&lost_cas, 1);
			} else {
				/* acquire: pairs with the owner's release
				 * store after draining, so an EMPTY seen
				 * after it is final. */
				if (tg_atomic_load_acquire_u32(&round_over))
					break;
				/* 2 cores, up to 5 threads: give the owner
				 * the CPU now and then. */
				if (++misses % 64 == 0)
					sched_yield();
				else
					tg_atomic_pause();
			}
		}
		pthread_barrier_wait(&round_end);
	}
	return NULL;
}

static int
growths_of(tg__deque *d)
{
	int n = 0;
	tg__deque_buf *b;

	for (b = d->retired; b != NULL; b = b->retired_next)
		n++;
	return n;
}

static void
push_one(uint64_t *next)
{
	payload *p = &pay[*next];

	/* plain stores, published by push's release store of bottom */
	p->id = cur_base + *next;
	p->check = mix(cur_base + *next);
	if (!tg__deque_push(&dq, p))
		violation("growth", "push of item %" PRIu64 " failed",
			  cur_base + *next);
	(*next)++;
	/* as tg_spawn does */
	if (tg__deque_wanted(&dq))
		(void)tg__deque_share(&dq);
}

static void
take_one(void)
{
	void *x;

	/* as the join loop does */
	if (tg__deque_wanted(&dq))
		(void)tg__deque_share(&dq);
	x = tg__deque_take(&dq);

	if (x != NULL)
		consume(0, x);
}

static void
take_oldest_some(int max)
{
	void *out[64];
	int i, n;

	/* as a spawn whose queue is full does */
	n = tg__deque_take_oldest(&dq, out, max);
	for (i = 0; i < n; i++)
		consume(0, out[i]);
}

/* One round: returns the number of growths. */
static int
run_round(uint64_t *rng, int64_t origin, int64_t capacity)
{
	uint64_t next = 0, i;
	uint64_t alloc0 = tg_atomic_load_relaxed_u64(&n_alloc);
	uint64_t free0 = tg_atomic_load_relaxed_u64(&n_free);
	int64_t t, s, b;
	int k, growths;
	uint64_t total;
	void *x;

	if (tg__deque_init(&dq, capacity) != 0) {
		violation("growth", "init(%" PRId64 ") failed", capacity);
		return 0;
	}
	/* Test only: start the empty deque's indices at origin.  No thief
	 * looks at the deque before the round_start barrier. */
	tg_atomic_store_relaxed_i64(&dq.top, origin);
	tg_atomic_store_relaxed_i64(&dq.split, origin);
	dq.bottom = origin;
	dq.split_owner = origin;
	dq.top_floor = origin;
	for (i = 0; i < cur_n; i++)
		tg_atomic_store_relaxed_u32(&pay[i].taken, 0);
	memset(consumed, 0, sizeof(consumed));
	tg_atomic_store_relaxed_u32(&round_over, 0);
	pthread_barrier_wait(&round_start);

	while (next < cur_n) {
		uint64_t r = rnd(rng);
		unsigned kind = (unsigned)(r & 7);
		/* burst length: log-uniform in [1, 2^20] */
		uint64_t burst = 1 + (r >> 8) % ((uint64_t)1 << ((r >> 3) % 21));

		for (i = 0; i < burst && next < cur_n; i++) {
			switch (kind) {
			case 0: case 1: case 2: case 3:
				push_one(&next); /* the deque grows */
				break;
			case 4: case 5:
				push_one(&next);
				if (rnd(rng) & 1)
					take_one();
				break;
			case 6:
				if ((r >> 44) % 4 == 0) /* from the FIFO end */
					take_oldest_some(1 + (int)((r >> 46) % 64));
				else
					take_one(); /* the owner pops a run */
				if ((r >> 40) % 4 == 0)
					(void)tg__deque_share(&dq); /* unasked */
				break;
			default:
				push_one(&next); /* last-item races */
				take_one();
				break;
			}
		}
	}
	while ((x = tg__deque_take(&dq)) != NULL)
		consume(0, x);
	if (dq.bottom != tg_atomic_load_relaxed_i64(&dq.split) ||
	    dq.split_owner != dq.bottom)
		violation("quiescence", "take returned NULL with items left "
			  "(split %" PRId64 ", bottom %" PRId64 ")",
			  tg_atomic_load_relaxed_i64(&dq.split), dq.bottom);
	/* release: the drained deque and this round's consumptions by the
	 * owner; the thieves stop at the next EMPTY. */
	tg_atomic_store_release_u32(&round_over, 1);
	pthread_barrier_wait(&round_end);

	/* Quiescent: the barrier orders every thief's work before this. */
	t = tg_atomic_load_relaxed_i64(&dq.top);
	s = tg_atomic_load_relaxed_i64(&dq.split);
	b = dq.bottom;
	if (!(t <= s && s <= b))
		violation("quiescence", "top %" PRId64 ", split %" PRId64
			  ", bottom %" PRId64 " out of order", t, s, b);
	if (dq.top_floor > t)
		violation("quiescence", "top_floor %" PRId64 " > top %" PRId64,
			  dq.top_floor, t);
	if (b != t)
		violation("quiescence", "%" PRId64 " items left after drain",
			  b - t);
	if (t - origin > (int64_t)(2 * cur_n) || t < origin)
		violation("quiescence", "top %" PRId64 " out of range", t);
	for (i = 0; i < cur_n; i++) {
		uint32_t n = tg_atomic_load_relaxed_u32(&pay[i].taken);

		if (n != 1) {
			violation("exactly-once", "item %" PRIu64 " consumed "
				  "%" PRIu32 " times", cur_base + i, n);
			break;
		}
	}
	total = 0;
	for (k = 0; k <= opt.thieves; k++)
		total += consumed[k];
	if (total != cur_n)
		violation("exactly-once", "%" PRIu64 " consumptions for %" PRIu64
			  " items", total, cur_n);
	growths = growths_of(&dq);
	tg__deque_destroy(&dq);
	if (tg_atomic_load_relaxed_u64(&n_alloc) - alloc0 != (uint64_t)growths + 1 ||
	    tg_atomic_load_relaxed_u64(&n_free) - free0 != (uint64_t)growths + 1)
		violation("teardown", "%" PRIu64 " buffers allocated, %" PRIu64
			  " freed, %d growths",
			  tg_atomic_load_relaxed_u64(&n_alloc) - alloc0,
			  tg_atomic_load_relaxed_u64(&n_free) - free0, growths);
	return growths;
}

static void
on_alarm(int sig)
{
	char msg[128];
	int n;

	(void)sig;
	n = snprintf(msg, sizeof(msg),
		     "stress_deque: FAILED invariant liveness: watchdog "
		     "(%u s) expired, seed %" PRIu64 "\n",
		     opt.timeout, opt.seed);
	if (n > 0 && write(2, msg, (size_t)n) < 0)
		_exit(3);
	_exit(3);
}

static int
parse_u64(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (s == NULL || *s == '\0' || *s == '-')
		return -1;
	v = strtoull(s, &end, 0);
	if (*end != '\0')
		return -1;
	*out = v;
	return 0;
}

static int
usage(const char *argv0)
{
	fprintf(stderr,
		"usage: %s [--items N] [--thieves 1..4] [--seed S] "
		"[--round R] [--capacity 1|2|4] [--timeout SEC]\n"
		"  env TG_TEST_SEED gives the seed when --seed is absent\n",
		argv0);
	return 2;
}

int
main(int argc, char **argv)
{
	static const tg_allocator counting = { count_malloc, count_calloc,
					       count_realloc, count_free };
	pthread_t th[MAX_THIEVES];
	uint64_t rng, v, done = 0, rounds = 0, stolen = 0;
	int growth_min = 1 << 30, growth_max = 0, i, seeded = 0;
	const char *env = getenv("TG_TEST_SEED");
	struct timespec t0, t1;
	double secs;

	for (i = 1; i < argc; i += 2) {
		const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;

		if (parse_u64(val, &v) != 0)
			return usage(argv[0]);
		if (strcmp(a, "--items") == 0 && v > 0)
			opt.items = v;
		else if (strcmp(a, "--thieves") == 0 && v >= 1 && v <= MAX_THIEVES)
			opt.thieves = (int)v;
		else if (strcmp(a, "--seed") == 0)
			opt.seed = v, seeded = 1;
		else if (strcmp(a, "--round") == 0 && v > 0 && v <= ((uint64_t)1 << 30))
			opt.round = v;
		else if (strcmp(a, "--capacity") == 0 && (v == 1 || v == 2 || v == 4))
			opt.capacity = (int)v;
		else if (strcmp(a, "--timeout") == 0)
			opt.timeout = (unsigned)v;
		else
			return usage(argv[0]);
	}
	if (!seeded && env != NULL && parse_u64(env, &v) == 0)
		opt.seed = v, seeded = 1;
	if (!seeded)
		opt.seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	if (opt.round > opt.items)
		opt.round = opt.items;
	printf("stress_deque: seed %" PRIu64 " (replay: --seed %" PRIu64
	       " or TG_TEST_SEED=%" PRIu64 "), %" PRIu64 " items, %d thieves, "
	       "rounds of %" PRIu64 "\n",
	       opt.seed, opt.seed, opt.seed, opt.items, opt.thieves, opt.round);
	fflush(stdout);

	signal(SIGALRM, on_alarm);
	alarm(opt.timeout);
	if (tg_set_allocator(&counting) != TG_OK) {
		fprintf(stderr, "stress_deque: tg_set_allocator failed\n");
		return 1;
	}
	pay = calloc((size_t)opt.round, sizeof(*pay));
	if (pay == NULL) {
		fprintf(stderr, "stress_deque: out of memory\n");
		return 1;
	}
	if (pthread_barrier_init(&round_start, NULL, (unsigned)opt.thieves + 1) ||
	    pthread_barrier_init(&round_end, NULL, (unsigned)opt.thieves + 1)) {
		fprintf(stderr, "stress_deque: pthread_barrier_init failed\n");
		return 1;
	}
	for (i = 0; i < opt.thieves; i++)
		if (pthread_create(&th[i], NULL, thief_main,
				   (void *)(intptr_t)(i + 1)) != 0) {
			fprintf(stderr, "stress_deque: pthread_create failed\n");
			return 1;
		}

	clock_gettime(CLOCK_MONOTONIC, &t0);
	rng = opt.seed * 2 + 1;
	while (done < opt.items) {
		int64_t origin = (rounds & 1) ? ((int64_t)1 << 62) : 0;
		int64_t cap = opt.capacity ? opt.capacity
					   : (int64_t)1 << (rnd(&rng) % 3);
		int g;

		cur_base = done;
		cur_n = opt.items - done < opt.round ? opt.items - done
						     : opt.round;
		g = run_round(&rng, origin, cap);
		if (g < growth_min)
			growth_min = g;
		if (g > growth_max)
			growth_max = g;
		done += cur_n;
		rounds++;
		if (tg_atomic_load_relaxed_u32(&failures) != 0)
			break;
	}
	/* release: read by the thieves after the barrier */
	tg_atomic_store_release_u32(&quit, 1);
	pthread_barrier_wait(&round_start);
	for (i = 0; i < opt.thieves; i++)
		pthread_join(th[i], NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) +
	       (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;

	for (i = 1; i <= opt.thieves; i++)
		stolen += stolen_total[i];
	printf("stress_deque: %" PRIu64 " rounds (origins 0 and 2^62), "
	       "growths per round %d..%d, %" PRIu64 " stolen, %" PRIu64
	       " lost CAS races, %.2f s\n",
	       rounds, growth_min, growth_max, stolen,
	       tg_atomic_load_relaxed_u64(&lost_cas), secs);
	pthread_barrier_destroy(&round_start);
	pthread_barrier_destroy(&round_end);
	free(pay);
	if (tg_reset_allocator() != TG_OK)
		violation("teardown", "tg_reset_allocator failed");
	if (tg_atomic_load_relaxed_u32(&failures) != 0) {
		printf("stress_deque: %" PRIu64 " passed, %" PRIu64 " failed "
		       "(seed %" PRIu64 ")\n",
		       done - cur_n, cur_n, opt.seed);
		return 1;
	}
	printf("stress_deque: %" PRIu64 " passed, 0 failed\n", done);
	return 0;
}
