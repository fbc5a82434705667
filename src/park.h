/*
 * park.h - blocking a thread until "something changed" (an event count),
 * on Concurrency Kit's ck_ec with the platform's wait/wake operations from
 * platform.c (futex on Linux, a condition variable elsewhere).  Internal.
 *
 * Protocol (no lost wake-up): a waiter
 *     v = tg__park_prepare(p);      // snapshot, and count itself a sleeper
 *     if (!condition) tg__park_wait(p, v);
 *     tg__park_done(p);
 * and a waker makes the condition true with a seq_cst read-modify-write
 * (or a seq_cst fence after its store) and then calls tg__park_wake(p),
 * which does the futex wake only when somebody is counted as a sleeper.
 * The two seq_cst pairs (sleeper count write / condition read on one side,
 * condition write / sleeper count read on the other) are the store->load
 * (Dekker) pattern: at least one side sees the other.
 */
#ifndef TG_PARK_H
#define TG_PARK_H

#include <time.h> /* struct timespec, before ck_ec.h */

#include <ck_ec.h>
#include <stdint.h>

#include "atomic.h"

typedef struct tg__park {
	struct ck_ec32 ec;
	/* Threads between prepare and done. */
	TG_ATOMIC(uint32_t) sleepers;
} tg__park;

void tg__park_init(tg__park *p);
uint32_t tg__park_prepare(tg__park *p);
void tg__park_wait(tg__park *p, uint32_t snapshot);
/* tg__park_wait that also returns at deadline_ns (a tg_now_ns time). */
void tg__park_wait_until(tg__park *p, uint32_t snapshot, int64_t deadline_ns);
void tg__park_done(tg__park *p);
/* Wakes every parked thread if any is counted; cheap when none is. */
void tg__park_wake(tg__park *p);
/* Wakes every parked thread unconditionally (shutdown). */
void tg__park_wake_all(tg__park *p);

/* The platform's ck_ec operations (platform.c). */
extern const struct ck_ec_ops tg__ec_ops;

#endif /* TG_PARK_H */
