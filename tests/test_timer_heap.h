/*
 * test_timer_heap.h - white box: how many groups of the calling task's pool
 * are on the timer's heap (test_timeout.c, test_timeout_movers.c check that
 * the timer never keeps a joined group).  Include it once per test program.
 */
#ifndef TG_TEST_TIMER_HEAP_H
#define TG_TEST_TIMER_HEAP_H

#include <pthread.h>
#include <stddef.h>

#include "scheduler.h" /* white box: the pool's timer heap */

/* Groups of the calling task's pool still on the timer's heap. */
static size_t
timer_entries(void)
{
	tg__timer *t = &tg__self()->pool->timer;
	size_t n;

	pthread_mutex_lock(&t->lock);
	n = t->n;
	pthread_mutex_unlock(&t->lock);
	return n;
}

#endif /* TG_TEST_TIMER_HEAP_H */
