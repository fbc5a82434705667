/*
 * taskgroup/trace.h - current_task() and task identity.
 */
#ifndef TASKGROUP_TRACE_H
#define TASKGROUP_TRACE_H

#include "common.h"
#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What asyncio.current_task() tells, for the task the calling thread is
 * running.  Strings are borrowed and valid while that task runs. */
typedef struct tg_task_info {
	uint64_t id;          /* unique in the process, never 0; given on
			       * first ask (ids follow no spawn order),
			       * then never changes */
	const char *name;     /* NULL when unnamed */
	int worker;           /* index of the worker thread running it */
	uint64_t parent_id;   /* the task that owns its group; 0 for a root */
	tg_spawn_site spawned_at;
} tg_task_info;

/* Fills *out for the calling thread's current task.  Returns TG_OK,
 * TG_EINVAL (out NULL) or TG_ENOTASK (not running a task).  The three
 * functions here look only at the calling thread's task (and, for
 * parent_id, its parent, which outlives it); a task or parent with no id
 * yet gets one with an atomic compare-and-swap, so callers on different
 * threads agree: thread-safe. */
TG_API int tg_current_task(tg_task_info *out);

/* The current task's id, or 0 when the thread runs no task. */
TG_API uint64_t tg_current_task_id(void);

/* The calling thread's worker index, or -1 when it is not a worker:
 * 0 .. threads - 1 for the pool's workers, threads .. threads +
 * max_blocking - 1 for compensating workers (taskgroup/blocking.h). */
TG_API int tg_current_worker(void);

#ifdef __cplusplus
}
#endif

#endif /* TASKGROUP_TRACE_H */
