/*
 * test_deadline.h - what the deadline tests (test_timer.c, test_timeout.c,
 * test_timeout_movers.c) share: MS and HOUR in nanoseconds, and three
 * children: one that polls checkpoints until its scope is cancelled, one
 * that succeeds, and one that fails once its scope is cancelled.  Include
 * it once per test program.
 */
#ifndef TG_TEST_DEADLINE_H
#define TG_TEST_DEADLINE_H

#include <stdint.h>

#include "taskgroup.h"

#define MS INT64_C(1000000)
#define HOUR (INT64_C(3600) * 1000 * MS)

/* Polls checkpoints until its scope is cancelled. */
static inline tg_error *
wait_for_cancel(void *arg)
{
	(void)arg;
	for (;;)
		TG_CHECKPOINT();
}

static inline tg_error *
succeed(void *arg)
{
	(void)arg;
	return NULL;
}

/* A real error, raised once the scope is cancelled: it wins over the
 * timeout. */
static inline tg_error *
fail_after_cancel(void *arg)
{
	(void)arg;
	while (!tg_cancelled())
		;
	return TG_RAISE(&tg_ValueError, "while unwinding");
}

#endif /* TG_TEST_DEADLINE_H */
