/*
 * error_internal.h - what the core (group, runner) needs from the error
 * module, beyond the public error.h.  Internal.
 */
#ifndef TG_ERROR_INTERNAL_H
#define TG_ERROR_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "taskgroup/error.h"

/*
 * The node tg_group_join returns: a group "unhandled errors in a task
 * group" over children[0..n) (n >= 1), consuming them; type ExceptionGroup,
 * or BaseExceptionGroup if a child is fatal.  Never NULL; on out-of-memory
 * the children are still reachable from the returned stand-in, or counted
 * by it (error_reserve.c: with the reserve used up it may be the single
 * child itself, or the MemoryError).
 */
tg_error *tg__error_group_for_join(size_t n, tg_error **children);

/*
 * A misuse report: a RuntimeError whose code is a TG_E* status, message
 * formatted.  attached (may be NULL) is consumed and kept as the result's
 * context, so an error handed to a failing call is never lost.  Never
 * NULL (tg_error_oom() when out of memory; attached is then released).
 */
tg_error *tg__error_usage(int status, tg_error *attached, const char *fmt, ...)
	TG_PRINTF(3, 4);

/* Sets the context of e, which the caller holds the only reference to
 * (not the immortal MemoryError), consuming context. */
void tg__error_set_context(tg_error *e, tg_error *context);

/* A CancelledError (new reference; never NULL). */
tg_error *tg__error_cancelled(const char *file, int line, const char *func);

/* e is a cancellation leaf (its type has the CANCEL flag). */
bool tg__error_is_cancel(const tg_error *e);

/* The join's answer for a group holding a fatal leaf (consumed): a copy
 * of the first fatal leaf (depth first) as the root, with the rest of the
 * group (and the leaf's own context, if any) as its context.  Returns the
 * group unchanged when it holds no fatal leaf or memory runs out. */
tg_error *tg__error_promote_fatal(tg_error *group);

/* e is fatal or a group holding a fatal leaf. */
bool tg__error_is_fatal(const tg_error *e);

#endif /* TG_ERROR_INTERNAL_H */
