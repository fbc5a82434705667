/*
 * provenance.h - who is raising an error: the calling task's identity and
 * its async stack trace.  Provided by the core (task.c), used by the error
 * module when an error is created.  Internal.
 *
 * The chain follows structure, not call stacks: task -> the group it was
 * spawned into -> that group's owning task -> ... up to the root.  Every
 * link is alive while the task runs (a group's owner cannot finish before
 * the group is joined, and the group cannot be joined before this task
 * finishes), so capture needs no locking.
 */
#ifndef TG_PROVENANCE_H
#define TG_PROVENANCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "taskgroup/error.h"

#define TG__CHAIN_MAX 32

typedef struct tg__provenance {
	uint64_t task_id;      /* 0 outside tasks */
	const char *task_name; /* borrowed; NULL when unnamed */
	int worker;            /* -1 outside a pool */
	size_t depth;          /* entries used in chain */
	size_t omitted;        /* levels above chain[depth-1] not recorded */
	/* chain[0]: the current task's own spawn site; then its ancestors'.
	 * Strings are borrowed from live tasks: copy them before the task
	 * returns. */
	tg_spawn_site chain[TG__CHAIN_MAX];
} tg__provenance;

/* Fills *out for the calling thread's current task.  Returns false (and
 * out->task_id = 0, worker = -1, depth = 0) when the thread runs no task. */
bool tg__provenance_capture(tg__provenance *out);

#endif /* TG_PROVENANCE_H */
