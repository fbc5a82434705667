/*
 * taskgroup/cancel.h - cooperative cancellation checkpoints.
 *
 * Cancellation is level-triggered: once the current scope (the innermost
 * open group of the running task, else the group the task belongs to) or
 * any enclosing scope is cancelled, every later checkpoint in it says so.
 * A checkpoint costs a thread-local read and one relaxed load; the scope
 * chain is consulted only after some group of the pool was cancelled (see
 * docs/cancellation.md and docs/design.md, "Cancellation").
 */
#ifndef TASKGROUP_CANCEL_H
#define TASKGROUP_CANCEL_H

#include <stdbool.h>

#include "common.h"
#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* True if the calling task's scope is cancelled.  false outside tasks.
 * Thread-safe (it reads the calling thread's own state).
 *
 * tg_cancelled() is inline: one thread-local read and one relaxed load of
 * the calling worker's "attention" word, which every cancellation in the
 * pool (and a thief asking this worker for work) sets; only then does the
 * out-of-line function look at the scope (see docs/cancellation.md).
 * (tg_cancelled)() calls the function directly. */
TG_API bool(tg_cancelled)(void);

#if (defined(__GNUC__) || defined(__clang__)) && !defined(TG_NO_INLINE_CHECKPOINT)
/* Internal: the calling thread's attention word (a worker's, or a word
 * that stays 0 on other threads).  Not for direct use. */
#ifdef __cplusplus
extern TG_API thread_local const uint32_t *tg__tls_attention
	__attribute__((tls_model("initial-exec")));
#else
extern TG_API _Thread_local const uint32_t *tg__tls_attention
	__attribute__((tls_model("initial-exec")));
#endif

static inline bool
tg__cancelled_inline(void)
{
	/* relaxed: a hint; the function re-reads everything it decides on
	 * with the orders it needs (src/cancel.c). */
	return __atomic_load_n(tg__tls_attention, __ATOMIC_RELAXED) != 0 &&
	       (tg_cancelled)();
}
#define tg_cancelled() tg__cancelled_inline()
#endif

/* NULL, or a new CancelledError recording where the checkpoint is, when the
 * calling task's scope is cancelled (NULL outside tasks).  Thread-safe, as
 * tg_cancelled.  If the error cannot be allocated, the preallocated
 * MemoryError comes back instead (still non-NULL). */
TG_API tg_error *tg_checkpoint_at(const char *file, int line, const char *func);

/* The `await` point: returns a CancelledError from the enclosing task
 * function when its scope is cancelled.  Use it in functions returning
 * tg_error *. */
#define TG_CHECKPOINT()                                                      \
	do {                                                                 \
		if (tg_cancelled())                                          \
			return tg_checkpoint_at(__FILE__, __LINE__, __func__); \
	} while (0)

#ifdef __cplusplus
}
#endif

#endif /* TASKGROUP_CANCEL_H */
