/*
 * timer.h - group deadlines: one timer thread per pool, started on the
 * first deadline, that cancels a group when its deadline passes.  Internal.
 */
#ifndef TG_TIMER_H
#define TG_TIMER_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tg__pool;
struct tg__gcore;

typedef struct tg__timer {
	pthread_mutex_t lock;
	pthread_cond_t cv; /* on CLOCK_MONOTONIC where available */
	/* Under lock: */
	bool started, stop;
	pthread_t thread;
	struct tg__gcore **heap; /* min-heap on deadline */
	size_t n, cap;
} tg__timer;

/* Initialises t (no thread yet).  TG_OK or TG_EAGAIN. */
int tg__timer_init(tg__timer *t);
/* Stops the thread, if started, and frees t's resources.  Every deadline
 * must have been removed (every group joined). */
void tg__timer_destroy(tg__timer *t);

/* Sets gc's deadline (TG_DEADLINE_NONE removes it); a deadline not in the
 * future cancels gc at once.  Any task or thread while gc is open; owner
 * says whether the caller is gc's owning task, which alone may give gc
 * its first deadline (the owner sets TG__JOIN_DEADLINE itself: join_flags
 * is never written here).  Returns TG_OK, TG_ENOTOWNER (not the owner,
 * and the owner gave gc no deadline), TG_ESTATE (gc's deadline already
 * expired), TG_ENOMEM, TG_EAGAIN. */
int tg__timer_set(struct tg__pool *pool, struct tg__gcore *gc,
		  int64_t deadline, bool owner);
/* gc's deadline, read under the timer's lock.  Any thread while gc is
 * open. */
int64_t tg__timer_deadline(struct tg__pool *pool, struct tg__gcore *gc);
/* Takes gc off the timer, so the core can be recycled, and closes it to
 * other callers (timer_open).  Called by the join when the owner gave gc
 * a deadline (TG__JOIN_DEADLINE). */
void tg__timer_remove(struct tg__pool *pool, struct tg__gcore *gc);

#endif /* TG_TIMER_H */
