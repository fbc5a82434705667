/*
 * batch.h - the block of a batch's range (batch.c), for the tests that
 * count its allocations.  Internal.
 */
#ifndef TG_BATCH_H
#define TG_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "taskgroup/group.h"

#include "scheduler.h"

/* A range of a batch: the frame that runs it, and what every child needs. */
typedef struct tg__range {
	tg__frame frame; /* first: freed as the frame (home
			  * TG__RANGE_HOME: tg__batch_range_free) */
	tg_task_fn fn;
	void *args;
	size_t stride;
	uint64_t lo, hi; /* the children [lo, hi) of the batch */
	uint64_t key0;   /* child i has key key0 + i */
} tg__range;

#endif /* TG_BATCH_H */
