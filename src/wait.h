/*
 * wait.h - waits on a condition variable that the pool's cancellations
 * wake: what tg_sleep and tg_barrier_wait build on.  Internal.
 *
 * A task that waits on a condition variable of its own is not woken by a
 * cancellation of its scope (cancellation only sets flags).  A waiter on
 * a worker thread registers its mutex and condition variable with the
 * worker's pool; tg__scope_cancel then broadcasts every registered one,
 * each under its mutex.  Protocol (no lost wake-up):
 *
 *     tg__cancel_wait_add(&cw, &mu, &cv);      // NOT holding mu
 *     pthread_mutex_lock(&mu);
 *     while (!condition && !tg__cancel_wait_cancelled())
 *         pthread_cond_wait(&cv, &mu);         // or a timed wait
 *     pthread_mutex_unlock(&mu);
 *     tg__cancel_wait_remove(&cw);             // NOT holding mu
 *
 * Lock order: the pool's waiter list, then a waiter's mu (the canceller
 * holds the list while it broadcasts), so add and remove must be called
 * without mu held.  On threads that are not workers add and remove do
 * nothing and tg__cancel_wait_cancelled is false.
 */
#ifndef TG_WAIT_H
#define TG_WAIT_H

#include <pthread.h>
#include <stdbool.h>

struct tg__pool;

typedef struct tg__cancel_waiter {
	struct tg__pool *pool; /* NULL: not registered (not a worker) */
	pthread_mutex_t *mu;
	pthread_cond_t *cv;
	struct tg__cancel_waiter *prev, *next;
} tg__cancel_waiter;

void tg__cancel_wait_add(tg__cancel_waiter *cw, pthread_mutex_t *mu,
			 pthread_cond_t *cv);
void tg__cancel_wait_remove(tg__cancel_waiter *cw);
/* Is the calling task's scope cancelled?  After tg__cancel_wait_add, a
 * cancellation is either seen here or broadcasts the waiter's cv.  false
 * on threads that are not workers, and outside tasks. */
bool tg__cancel_wait_cancelled(void);

#endif /* TG_WAIT_H */
