/*
 * error.c - error types, the preallocated MemoryError, reference counting
 * and the readers.  Building and creating errors is in error_new.c,
 * notes, causes and copies in error_note.c, the tree operations (groups,
 * split, except*) in error_tree.c, the out-of-memory reserve in
 * error_reserve.c, printing in format.c and format_json.c.
 *
 * An error is one block (error_node.h) holding every string it shows, so
 * nothing it prints is borrowed from a task that may be gone.  It is
 * immutable once shared: notes and cause change only while the caller's
 * reference is the only one (refs == 1).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "taskgroup/error.h"

#include "blocks.h"
#include "atomic.h"
#include "error_internal.h"
#include "error_node.h"

/* ------------------------------------------------------------------ */
/* Types                                                                */

#define TYPE(ident, str, base_, also_, flags_)                               \
	const tg_error_type ident = { (str), (base_), (also_), (flags_) }

TYPE(tg_BaseException, "BaseException", NULL, NULL, 0u);
TYPE(tg_Exception, "Exception", &tg_BaseException, NULL, 0u);
TYPE(tg_ValueError, "ValueError", &tg_Exception, NULL, 0u);
TYPE(tg_TypeError, "TypeError", &tg_Exception, NULL, 0u);
TYPE(tg_RuntimeError, "RuntimeError", &tg_Exception, NULL, 0u);
TYPE(tg_NotImplementedError, "NotImplementedError", &tg_RuntimeError, NULL,
     0u);
TYPE(tg_MemoryError, "MemoryError", &tg_Exception, NULL, 0u);
TYPE(tg_UnicodeError, "UnicodeError", &tg_ValueError, NULL, 0u);
TYPE(tg_UnicodeDecodeError, "UnicodeDecodeError", &tg_UnicodeError, NULL, 0u);
TYPE(tg_OSError, "OSError", &tg_Exception, NULL, 0u);
TYPE(tg_BlockingIOError, "BlockingIOError", &tg_OSError, NULL, 0u);
TYPE(tg_ChildProcessError, "ChildProcessError", &tg_OSError, NULL, 0u);
TYPE(tg_ConnectionError, "ConnectionError", &tg_OSError, NULL, 0u);
TYPE(tg_BrokenPipeError, "BrokenPipeError", &tg_ConnectionError, NULL, 0u);
TYPE(tg_ConnectionAbortedError, "ConnectionAbortedError", &tg_ConnectionError,
     NULL, 0u);
TYPE(tg_ConnectionRefusedError, "ConnectionRefusedError", &tg_ConnectionError,
     NULL, 0u);
TYPE(tg_ConnectionResetError, "ConnectionResetError", &tg_ConnectionError,
     NULL, 0u);
TYPE(tg_FileExistsError, "FileExistsError", &tg_OSError, NULL, 0u);
TYPE(tg_FileNotFoundError, "FileNotFoundError", &tg_OSError, NULL, 0u);
TYPE(tg_InterruptedError, "InterruptedError", &tg_OSError, NULL, 0u);
TYPE(tg_IsADirectoryError, "IsADirectoryError", &tg_OSError, NULL, 0u);
TYPE(tg_NotADirectoryError, "NotADirectoryError", &tg_OSError, NULL, 0u);
TYPE(tg_PermissionError, "PermissionError", &tg_OSError, NULL, 0u);
TYPE(tg_ProcessLookupError, "ProcessLookupError", &tg_OSError, NULL, 0u);
TYPE(tg_TimeoutError, "TimeoutError", &tg_OSError, NULL, 0u);
TYPE(tg_CancelledError, "CancelledError", &tg_BaseException, NULL,
     TG_ERROR_TYPE_CANCEL);
TYPE(tg_BrokenBarrierError, "BrokenBarrierError", &tg_RuntimeError, NULL, 0u);
TYPE(tg_Interrupt, "Interrupt", &tg_BaseException, NULL, TG_ERROR_TYPE_FATAL);
TYPE(tg_BaseExceptionGroup, "BaseExceptionGroup", &tg_BaseException, NULL,
     TG_ERROR_TYPE_GROUP);
TYPE(tg_ExceptionGroup, "ExceptionGroup", &tg_BaseExceptionGroup,
     &tg_Exception, TG_ERROR_TYPE_GROUP);

bool
tg_error_type_is(const tg_error_type *t, const tg_error_type *base)
{
	if (t == NULL || base == NULL)
		return false;
	for (; t != NULL; t = t->base) {
		if (t == base)
			return true;
		if (t->also != NULL && tg_error_type_is(t->also, base))
			return true;
	}
	return false;
}

/* PEP 3151: errno values with a specific OSError subtype. */
static const struct {
	int errnum;
	const tg_error_type *type;
} errno_table[] = {
	{ EAGAIN, &tg_BlockingIOError },
#if defined(EWOULDBLOCK) && EWOULDBLOCK != EAGAIN
	{ EWOULDBLOCK, &tg_BlockingIOError },
#endif
	{ EALREADY, &tg_BlockingIOError },
	{ EINPROGRESS, &tg_BlockingIOError },
	{ ECHILD, &tg_ChildProcessError },
	{ EPIPE, &tg_BrokenPipeError },
#ifdef ESHUTDOWN
	{ ESHUTDOWN, &tg_BrokenPipeError },
#endif
	{ ECONNABORTED, &tg_ConnectionAbortedError },
	{ ECONNREFUSED, &tg_ConnectionRefusedError },
	{ ECONNRESET, &tg_ConnectionResetError },
	{ EEXIST, &tg_FileExistsError },
	{ ENOENT, &tg_FileNotFoundError },
	{ EINTR, &tg_InterruptedError },
	{ EISDIR, &tg_IsADirectoryError },
	{ ENOTDIR, &tg_NotADirectoryError },
	{ EACCES, &tg_PermissionError },
	{ EPERM, &tg_PermissionError },
	{ ESRCH, &tg_ProcessLookupError },
	{ ETIMEDOUT, &tg_TimeoutError },
};

const tg_error_type *
tg_error_type_for_errno(int errnum)
{
	size_t i;

	for (i = 0; i < sizeof(errno_table) / sizeof(errno_table[0]); i++)
		if (errno_table[i].errnum == errnum)
			return errno_table[i].type;
	return &tg_OSError;
}

/* ------------------------------------------------------------------ */
/* The preallocated MemoryError                                         */

static tg_error oom_error = {
	.refs = 1,
	.flags = ERR_IMMORTAL,
	.type = &tg_MemoryError,
	.code = ENOMEM,
	.message = "out of memory",
	.n_leaves = 1,
	/* It stands for one error: the one that could not be made
	 * (error.h, tg_error_lost_count). */
	.n_stubs = 1,
	.n_lost = 1,
	.worker = -1,
};

tg_error *
tg_error_oom(void)
{
	return &oom_error;
}

/* ------------------------------------------------------------------ */
/* Reference counting                                                   */

tg_error *
tg_error_incref(tg_error *e)
{
	if (e == NULL || (e->flags & ERR_IMMORTAL) != 0)
		return e;
	/* relaxed: the caller holds a reference, so the node cannot be
	 * freed meanwhile and nothing needs ordering (as shared_ptr copies);
	 * the new reference reaches another thread only through a channel
	 * that orders it (a release store, a queue, thread creation). */
	tg_atomic_faa_relaxed_u32(&e->refs, 1);
	return e;
}

void
tg__error_free_notes(tg_error *e)
{
	size_t i;

	for (i = 0; i < e->n_notes; i++)
		tg__block_free(e->notes[i]);
	tg__block_free(e->notes);
	e->notes = NULL;
	e->n_notes = 0;
}

/* Drops one reference to e; true when it was the last (e is then the
 * caller's to free). */
static bool
drop_ref(tg_error *e)
{
	if (e == NULL || (e->flags & ERR_IMMORTAL) != 0)
		return false;
	/* acq_rel: the release half orders this thread's uses of e before
	 * the decrement; the acquire half, on the thread that takes the
	 * count to zero, makes every other thread's uses (ordered before
	 * their own decrements) visible before the free.  Pairs with the
	 * same operation in every other decref. */
	return tg_atomic_faa_acqrel_u32(&e->refs, (uint32_t)-1) == 1;
}

/* Drops the reference r, pushing r on *dead when it was the last. */
static void
release_ref(tg_error *r, tg_error **dead)
{
	if (drop_ref(r)) {
		r->next_dead = *dead;
		*dead = r;
	}
}

/*
 * Frees e (whose last reference is gone) and everything only it held,
 * with no recursion: a node whose count reaches zero is pushed on a list
 * threaded through the dying nodes themselves (next_dead shares the word
 * of n_leaves, which nothing reads once refs is 0), so releasing a chain
 * a million deep takes no stack and no memory, and cannot fail.
 */
static void
release_tree(tg_error *e)
{
	tg_error *dead = e;
	size_t i;

	e->next_dead = NULL;
	while (dead != NULL) {
		tg_error *n = dead;

		dead = n->next_dead;
		for (i = 0; i < n->n_children; i++)
			release_ref(n->children[i], &dead);
		release_ref(n->cause, &dead);
		release_ref(n->context, &dead);
		tg__error_free_notes(n);
		if ((n->flags & ERR_RESERVED) != 0)
			tg__error_reserve_free(n);
		else
			tg__block_free(n);
	}
}

void
tg_error_decref(tg_error *e)
{
	if (drop_ref(e))
		release_tree(e);
}

/* ------------------------------------------------------------------ */
/* Readers                                                              */

const tg_error_type *
tg_error_type_of(const tg_error *e)
{
	return e != NULL ? e->type : NULL;
}

const char *
tg_error_message(const tg_error *e)
{
	return e != NULL ? e->message : NULL;
}

int
tg_error_code(const tg_error *e)
{
	return e != NULL ? e->code : 0;
}

bool
tg_error_is(const tg_error *e, const tg_error_type *type)
{
	return e != NULL && tg_error_type_is(e->type, type);
}

bool
tg_error_is_group(const tg_error *e)
{
	return e != NULL && e->n_children > 0;
}

size_t
tg_error_count(const tg_error *e)
{
	return e != NULL ? e->n_children : 0;
}

tg_error *
tg_error_child(const tg_error *e, size_t i)
{
	return e != NULL && i < e->n_children ? e->children[i] : NULL;
}

size_t
tg_error_leaf_count(const tg_error *e)
{
	return e != NULL ? e->n_leaves : 0;
}

size_t
tg_error_kept_count(const tg_error *e)
{
	return e != NULL ? e->n_leaves - e->n_stubs : 0;
}

size_t
tg_error_lost_count(const tg_error *e)
{
	return e != NULL ? e->n_lost : 0;
}

size_t
tg_error_note_count(const tg_error *e)
{
	return e != NULL ? e->n_notes : 0;
}

const char *
tg_error_note(const tg_error *e, size_t i)
{
	return e != NULL && i < e->n_notes ? e->notes[i] : NULL;
}

tg_error *
tg_error_cause(const tg_error *e)
{
	return e != NULL ? e->cause : NULL;
}

tg_error *
tg_error_context(const tg_error *e)
{
	return e != NULL ? e->context : NULL;
}

tg_error_origin
tg_error_origin_of(const tg_error *e)
{
	tg_error_origin none = { NULL, 0, NULL };

	return e != NULL ? e->origin : none;
}

tg_error_provenance
tg_error_provenance_of(const tg_error *e)
{
	return tg__error_prov(e);
}
