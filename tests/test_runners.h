/*
 * test_runners.h - three runners (1, 2 and 4 workers) created by the
 * cmocka group setup and destroyed by its teardown, for the test programs
 * that run each scenario on several pool sizes.  Include once per program.
 */
#ifndef TG_TEST_RUNNERS_H
#define TG_TEST_RUNNERS_H

#include "taskgroup.h"

/* One worker, no compensating workers and no starvation detector: a
 * deterministic order (nothing else runs a task, and nothing asks the
 * worker to share its queue while a slow build, -O0 coverage, spins a
 * long spawn loop). */
static tg_runner *runner1;
static tg_runner *runner2;
static tg_runner *runner4;

static int
setup(void **state)
{
	tg_runner_config one = { .threads = 1, .max_blocking = -1,
				 .starvation_ns = -1 },
			 two = { .threads = 2 }, four = { .threads = 4 };

	(void)state;
	if (tg_runner_create(&runner1, &one) != TG_OK ||
	    tg_runner_create(&runner2, &two) != TG_OK)
		return -1;
	return tg_runner_create(&runner4, &four) == TG_OK ? 0 : -1;
}

static int
teardown(void **state)
{
	(void)state;
	return tg_runner_destroy(runner1) | tg_runner_destroy(runner2) |
	       tg_runner_destroy(runner4);
}

#endif /* TG_TEST_RUNNERS_H */
