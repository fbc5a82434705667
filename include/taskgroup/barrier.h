/*
 * taskgroup/barrier.h - asyncio.Barrier: parties that wait for each other,
 * round after round.
 *
 *     tg_barrier b;
 *     tg_barrier_init(&b, 3);
 *     ...                                    // in each of 3 tasks:
 *     int index;
 *     tg_error *err = tg_barrier_wait(&b, &index);
 *     if (err) return err;                   // broken, or cancelled
 *     if (index == 2) ...                    // the last to arrive
 *     ...
 *     tg_barrier_destroy(&b);                // once nobody waits
 *
 * Semantics are asyncio's (CPython Lib/asyncio/locks.py):
 *  - Cyclic.  A round fills until `parties` waiters have arrived; the last
 *    one releases it and the round drains: every waiter of the round
 *    returns.  Arrivals during the drain wait until it has ended, so a new
 *    round never overtakes the draining one (a waiter beyond `parties`
 *    simply waits for the next round).
 *  - The arrival index, 0 .. parties - 1, comes back in *index; the
 *    indexes of a round are distinct, parties - 1 the last arrival's.  A
 *    waiter that leaves cancelled gives its place to the later arrivals
 *    (their indexes move down by one; CPython would hand its index out
 *    twice, gh-155233).
 *  - tg_barrier_abort breaks the barrier: every waiter returns
 *    BrokenBarrierError, and so does every later wait until a reset.
 *  - tg_barrier_reset returns the barrier to its empty state: the waiters
 *    of the round being filled return BrokenBarrierError; once they have
 *    left, new waits fill a new round.
 *  - Cancel-aware.  A waiter whose scope is cancelled while the round
 *    fills leaves at once with CancelledError and no longer counts (the
 *    other parties keep waiting for a full round).  A waiter whose round
 *    was already released returns its index even if cancelled, aborted
 *    or reset before it woke (CPython raises BrokenBarrierError when an
 *    abort comes between the release and the waiter's wake-up).
 *  - A waiter on a worker waits inside a blocking region
 *    (taskgroup/blocking.h): its worker's queued tasks go to the pool and
 *    a compensating worker may start, so parties > workers completes.
 *
 * Usable by tasks of any groups and pools, and by threads that are not
 * workers (nothing cancels those).  Every function is thread-safe on an
 * initialised barrier, except tg_barrier_destroy, which must not race
 * other calls.
 */
#ifndef TASKGROUP_BARRIER_H
#define TASKGROUP_BARRIER_H

#include <stdbool.h>

#include "common.h"
#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Caller storage for a barrier (an opaque handle; the state lives in a
 * block the library allocates). */
typedef struct tg_barrier {
	_Alignas(8) unsigned char opaque[32];
} tg_barrier;

/*
 * Initialises b for `parties` parties, empty and not broken.
 * Errors: TG_EINVAL (b NULL, parties < 1), TG_ENOMEM, TG_EAGAIN (the
 * platform refused a mutex or condition variable).  b is untouched on
 * error.  Initialising a barrier that is initialised and not destroyed
 * leaks it.  Thread-safety: b must not be in use by others.
 */
TG_API int tg_barrier_init(tg_barrier *b, int parties);

/*
 * Waits for the round to fill (asyncio's Barrier.wait).  Returns NULL with
 * the arrival index in *index (index may be NULL), or a new error, with
 * *index untouched:
 *  - BrokenBarrierError: the barrier is or became broken (abort), or was
 *    reset while this waiter waited;
 *  - CancelledError: the calling task's scope was cancelled while the
 *    round filled (or before the call);
 *  - RuntimeError with tg_error_code TG_EINVAL: b NULL or not an
 *    initialised barrier.
 * The preallocated MemoryError stands in for an error that cannot be
 * allocated.  Thread-safe.
 */
TG_API tg_error *tg_barrier_wait(tg_barrier *b, int *index);

/* Breaks b: every waiter returns BrokenBarrierError, and so do later
 * waits until tg_barrier_reset.  Errors: TG_EINVAL (b NULL or not a
 * barrier).  Thread-safe. */
TG_API int tg_barrier_abort(tg_barrier *b);

/* Returns b to its initial state (asyncio's Barrier.reset): the current
 * round's waiters return BrokenBarrierError; a broken barrier is mended.
 * Errors: TG_EINVAL (b NULL or not a barrier).  Thread-safe. */
TG_API int tg_barrier_reset(tg_barrier *b);

/* true if b is broken (false for NULL or not a barrier).  Thread-safe. */
TG_API bool tg_barrier_broken(const tg_barrier *b);

/* Waiters of the round being filled (0 while the barrier drains or is
 * broken; asyncio's n_waiting); TG_EINVAL for NULL or not a barrier.
 * Thread-safe (a snapshot). */
TG_API int tg_barrier_n_waiting(const tg_barrier *b);

/* The parties b was initialised with; TG_EINVAL for NULL or not a
 * barrier.  Thread-safe. */
TG_API int tg_barrier_parties(const tg_barrier *b);

/* Frees b's state.  Errors: TG_EINVAL (b NULL or not a barrier), TG_EBUSY
 * (a waiter is inside tg_barrier_wait: nothing changes).  Afterwards b is
 * not a barrier (every call on it returns TG_EINVAL) until initialised
 * again.  Thread-safety: must not race other calls on b. */
TG_API int tg_barrier_destroy(tg_barrier *b);

#ifdef __cplusplus
}
#endif

#endif /* TASKGROUP_BARRIER_H */
