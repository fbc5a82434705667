/*
 * error.c - error types, creating errors, reference counting, notes,
 * causes and the readers.  The tree operations (groups, split, except*)
 * are in error_tree.c, printing in format.c and format_json.c.
 *
 * An error is one block (error_node.h) holding every string it shows, so
 * nothing it prints is borrowed from a task that may be gone.  It is
 * immutable once shared: notes and cause change only while the caller's
 * reference is the only one (refs == 1).
 */
#define _POSIX_C_SOURCE 200809L /* XSI strerror_r */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "taskgroup/error.h"

#include "alloc.h"
#include "blocks.h"
#include "atomic.h"
#include "error_internal.h"
#include "error_node.h"
#include "provenance.h"

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
	.worker = -1,
};

tg_error *
tg_error_oom(void)
{
	return &oom_error;
}

/* ------------------------------------------------------------------ */
/* Building a node                                                      */

/* The strings a node holds: message, origin file and function, task
 * name, and three per spawn site. */
#define NODE_STRINGS (4 + 3 * TG__CHAIN_MAX)

/* Copies a node's strings into its block, each source string once: a
 * spawn chain names the same file and functions over and over (the
 * sites' static strings, the same pointers), and one copy serves them
 * all, which makes a deep error several times smaller.  Run twice with
 * the same spec: first with cursor NULL to count the bytes, then to
 * copy; both runs see the same pointers, so they agree. */
typedef struct str_copier {
	char *cursor; /* NULL: count only */
	size_t size;  /* bytes used so far */
	size_t n;
	const char *src[NODE_STRINGS];
	const char *dst[NODE_STRINGS];
} str_copier;

static void
copier_start(str_copier *c, char *cursor)
{
	c->cursor = cursor;
	c->size = 0;
	c->n = 0;
}

/* s's copy in the block (the earlier one when s was copied already);
 * NULL stays NULL.  Counting only, returns s. */
static const char *
str_put(str_copier *c, const char *s)
{
	const char *at = s;
	size_t i, n;

	if (s == NULL)
		return NULL;
	for (i = 0; i < c->n; i++)
		if (c->src[i] == s)
			return c->dst[i];
	n = strlen(s) + 1;
	if (c->cursor != NULL) {
		memcpy(c->cursor, s, n);
		at = c->cursor;
		c->cursor += n;
	}
	c->size += n;
	if (c->n < NODE_STRINGS) {
		c->src[c->n] = s;
		c->dst[c->n] = at;
		c->n++;
	}
	return at;
}

/* Every string of spec through c; with e, also stores the copies (and
 * the rest of the origin and the chain) in e. */
static void
put_strings(str_copier *c, const err_spec *spec, tg_error *e)
{
	const tg_error_provenance *p = spec->prov;
	const char *message, *name;
	size_t i;

	message = str_put(c, spec->message != NULL ? spec->message : "");
	if (e != NULL)
		e->message = message;
	if (spec->origin != NULL) {
		const char *file = str_put(c, spec->origin->file);
		const char *func = str_put(c, spec->origin->func);

		if (e != NULL) {
			e->origin.file = file;
			e->origin.line = spec->origin->line;
			e->origin.func = func;
		}
	}
	if (p == NULL)
		return;
	name = str_put(c, p->task_name);
	if (e != NULL)
		e->task_name = name;
	for (i = 0; i < p->depth; i++) {
		const tg_spawn_site *site = &p->chain[i];
		const char *file = str_put(c, site->file);
		const char *func = str_put(c, site->func);
		const char *task = str_put(c, site->task_name);

		if (e != NULL) {
			e->chain[i] = *site;
			e->chain[i].file = file;
			e->chain[i].func = func;
			e->chain[i].task_name = task;
		}
	}
}

/* The provenance fields that are not strings. */
static void
fill_provenance(tg_error *e, const tg_error_provenance *p, size_t omitted)
{
	e->worker = -1;
	if (p == NULL)
		return;
	e->task_id = p->task_id;
	e->worker = p->worker;
	e->depth = p->depth;
	e->omitted = omitted;
}

tg_error *
tg__error_alloc(const err_spec *spec)
{
	size_t depth = spec->prov != NULL ? spec->prov->depth : 0;
	size_t kids = spec->n_children * sizeof(tg_error *);
	size_t sites = depth * sizeof(tg_spawn_site);
	size_t head = sizeof(tg_error) + kids + sites;
	str_copier copier;
	tg_error *e;

	if (spec->n_children > (SIZE_MAX / 2) / sizeof(tg_error *) ||
	    depth > TG__CHAIN_MAX)
		return NULL;
	copier_start(&copier, NULL);
	put_strings(&copier, spec, NULL);
	e = tg__block_alloc(head + copier.size, true);
	if (e == NULL)
		return NULL;
	e->refs = 1;
	e->type = spec->type;
	e->code = spec->code;
	e->n_leaves = 1;
	e->children = spec->n_children ? (tg_error **)(void *)(e + 1) : NULL;
	e->n_children = spec->n_children;
	e->chain = depth ? (tg_spawn_site *)(void *)((char *)(e + 1) + kids)
			 : NULL;
	fill_provenance(e, spec->prov, spec->prov_omitted);
	copier_start(&copier, (char *)e + head);
	put_strings(&copier, spec, e);
	tg__error_seal(e);
	return e;
}

void
tg__error_seal(tg_error *e)
{
	size_t i, leaves = 0;
	bool fatal = false;

	if (e->n_children == 0) {
		fatal = (e->type->flags & TG_ERROR_TYPE_FATAL) != 0;
	} else {
		for (i = 0; i < e->n_children; i++) {
			tg_error *c = e->children[i];

			if (c == NULL)
				continue;
			leaves += c->n_leaves;
			fatal = fatal || (c->flags & ERR_HAS_FATAL) != 0;
		}
		e->n_leaves = leaves;
	}
	if (fatal)
		e->flags |= ERR_HAS_FATAL;
	else
		e->flags &= ~(unsigned)ERR_HAS_FATAL;
}

tg_error_provenance
tg__error_prov(const tg_error *e)
{
	tg_error_provenance p = { 0, NULL, -1, 0, NULL };

	if (e == NULL)
		return p;
	p.task_id = e->task_id;
	p.task_name = e->task_name;
	p.worker = e->worker;
	p.depth = e->depth;
	p.chain = e->chain;
	return p;
}

/* A copy of note in a block (as tg__error_vformat makes notes); NULL when
 * out of memory. */
static char *
note_copy(const char *note)
{
	size_t n = strlen(note) + 1;
	char *copy = tg__block_alloc(n, false);

	if (copy != NULL)
		memcpy(copy, note, n);
	return copy;
}

char *
tg__error_vformat(const char *fmt, va_list ap)
{
	va_list ap2;
	int n;
	char *s;

	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return note_copy(fmt);
	s = tg__block_alloc((size_t)n + 1, false);
	if (s != NULL)
		vsnprintf(s, (size_t)n + 1, fmt, ap);
	return s;
}

/* A leaf with the calling task's provenance; message is copied. */
static tg_error *
new_leaf(const tg_error_type *type, int code, const tg_error_origin *origin,
	 const char *message)
{
	tg__provenance cap;
	tg_error_provenance prov;
	err_spec spec = { type, code, message, origin, NULL, 0, 0 };

	if (tg__provenance_capture(&cap)) {
		prov.task_id = cap.task_id;
		prov.task_name = cap.task_name;
		prov.worker = cap.worker;
		prov.depth = cap.depth;
		prov.chain = cap.chain;
		spec.prov = &prov;
		spec.prov_omitted = cap.omitted;
	}
	return tg__error_alloc(&spec);
}

/* fmt/ap formatted into buf (len bytes) when the text fits, which is the
 * common case and allocates nothing; else into a fresh block that *heap
 * receives for the caller to free.  NULL when out of memory. */
static const char *
format_message(char *buf, size_t len, char **heap, const char *fmt,
	       va_list ap)
{
	va_list ap2;
	int n;

	*heap = NULL;
	va_copy(ap2, ap);
	n = vsnprintf(buf, len, fmt, ap2);
	va_end(ap2);
	if (n >= 0 && (size_t)n < len)
		return buf;
	*heap = tg__error_vformat(fmt, ap);
	return *heap;
}

/* new_leaf with the message formatted from fmt/ap. */
static tg_error *
new_leaf_v(const tg_error_type *type, int code, const tg_error_origin *origin,
	   const char *fmt, va_list ap)
{
	char buf[256], *heap;
	const char *message = format_message(buf, sizeof(buf), &heap,
					     fmt != NULL ? fmt : "", ap);
	tg_error *e;

	if (message == NULL)
		return tg_error_oom();
	e = new_leaf(type, code, origin, message);
	tg__block_free(heap);
	return e != NULL ? e : tg_error_oom();
}

/* The TypeError for a bad type passed to tg_error_new_at. */
static tg_error *
bad_type(const tg_error_type *type, const tg_error_origin *origin)
{
	tg_error *e;

	if (type == NULL)
		e = new_leaf(&tg_TypeError, TG_EINVAL, origin,
			     "error type is NULL");
	else
		e = new_leaf(&tg_TypeError, TG_EINVAL, origin,
			     "a group type cannot be raised as a leaf");
	return e != NULL ? e : tg_error_oom();
}

tg_error *
tg_error_new_at(const tg_error_type *type, int code, const char *file,
		int line, const char *func, const char *fmt, ...)
{
	tg_error_origin origin = { file, line, func };
	va_list ap;
	tg_error *e;

	if (type == NULL || (type->flags & TG_ERROR_TYPE_GROUP) != 0)
		return bad_type(type, &origin);
	va_start(ap, fmt);
	e = new_leaf_v(type, code, &origin, fmt, ap);
	va_end(ap);
	return e;
}

/* strerror_r comes in two forms (XSI: int, GNU: char *), depending on
 * feature macros the build may set; _Generic takes whichever is there. */
static const char *
xsi_text(int rc, const char *buf)
{
	return rc == 0 ? buf : NULL;
}

static const char *
gnu_text(char *text, const char *buf)
{
	(void)buf;
	return text;
}

#define STRERROR_TEXT(rc, buf)                                               \
	_Generic((rc), int: xsi_text, char *: gnu_text)((rc), (buf))

/* "[Errno N] text" for errnum, where text is strerror's. */
static void
errno_prefix(char *buf, size_t len, int errnum)
{
	char space[128];
	const char *text;

	space[0] = '\0';
	text = STRERROR_TEXT(strerror_r(errnum, space, sizeof(space)), space);
	if (text == NULL || text[0] == '\0')
		snprintf(buf, len, "[Errno %d] Unknown error %d", errnum,
			 errnum);
	else
		snprintf(buf, len, "[Errno %d] %s", errnum, text);
}

tg_error *
tg_error_from_errno_at(int errnum, const char *file, int line,
		       const char *func, const char *fmt, ...)
{
	tg_error_origin origin = { file, line, func };
	char prefix[160], user_buf[256], message_buf[512];
	char *user_heap, *message;
	const char *user;
	size_t need;
	va_list ap;
	tg_error *e;

	va_start(ap, fmt);
	user = format_message(user_buf, sizeof(user_buf), &user_heap,
			      fmt != NULL ? fmt : "", ap);
	va_end(ap);
	if (user == NULL)
		return tg_error_oom();
	errno_prefix(prefix, sizeof(prefix), errnum);
	need = strlen(prefix) + strlen(user) + 3;
	message = need <= sizeof(message_buf) ? message_buf : tg__malloc(need);
	if (message != NULL)
		sprintf(message, user[0] != '\0' ? "%s: %s" : "%s%s", prefix,
			user);
	tg__block_free(user_heap);
	if (message == NULL)
		return tg_error_oom();
	e = new_leaf(tg_error_type_for_errno(errnum), errnum, &origin, message);
	if (message != message_buf)
		tg__free(message);
	return e != NULL ? e : tg_error_oom();
}

tg_error *
tg__error_usage(int status, tg_error *attached, const char *fmt, ...)
{
	va_list ap;
	tg_error *e;

	va_start(ap, fmt);
	e = new_leaf_v(&tg_RuntimeError, status, NULL, fmt, ap);
	va_end(ap);
	if (e == tg_error_oom()) {
		tg_error_decref(attached);
		return e;
	}
	e->context = attached; /* e is still private: no other reference */
	return e;
}

void
tg__error_set_context(tg_error *e, tg_error *context)
{
	tg_error_decref(e->context);
	e->context = context;
}

tg_error *
tg__error_cancelled(const char *file, int line, const char *func)
{
	tg_error_origin origin = { file, line, func };
	tg_error *e = new_leaf(&tg_CancelledError, 0, &origin, "");

	return e != NULL ? e : tg_error_oom();
}

bool
tg__error_is_cancel(const tg_error *e)
{
	return e != NULL && e->n_children == 0 &&
	       (e->type->flags & TG_ERROR_TYPE_CANCEL) != 0;
}

bool
tg__error_is_fatal(const tg_error *e)
{
	return e != NULL && (e->flags & ERR_HAS_FATAL) != 0;
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

static void
free_notes(tg_error *e)
{
	size_t i;

	for (i = 0; i < e->n_notes; i++)
		tg__block_free(e->notes[i]);
	tg__block_free(e->notes);
	e->notes = NULL;
	e->n_notes = 0;
}

/* Releases what e owns (not e's own block). */
static void
release_contents(tg_error *e)
{
	size_t i;

	for (i = 0; i < e->n_children; i++)
		tg_error_decref(e->children[i]);
	tg_error_decref(e->cause);
	tg_error_decref(e->context);
	free_notes(e);
}

void
tg_error_decref(tg_error *e)
{
	if (e == NULL || (e->flags & ERR_IMMORTAL) != 0)
		return;
	/* acq_rel: the release half orders this thread's uses of e before
	 * the decrement; the acquire half, on the thread that takes the
	 * count to zero, makes every other thread's uses (ordered before
	 * their own decrements) visible before the free.  Pairs with the
	 * same operation in every other decref. */
	if (tg_atomic_faa_acqrel_u32(&e->refs, (uint32_t)-1) != 1)
		return;
	release_contents(e);
	if ((e->flags & ERR_RESERVED) != 0)
		tg__error_reserve_free(e);
	else
		tg__block_free(e);
}

/* True while the caller's reference is the only one. */
static bool
unshared(const tg_error *e)
{
	if ((e->flags & ERR_IMMORTAL) != 0)
		return false;
	/* acquire: pairs with the acq_rel decrement of any thread that
	 * dropped its reference, so its reads of e happen before the
	 * caller's changes. */
	return tg_atomic_load_acquire_u32(&e->refs) == 1;
}

/* ------------------------------------------------------------------ */
/* Notes and cause                                                      */

/* Appends note (taken over) to e's notes.  TG_OK or TG_ENOMEM (note
 * freed). */
static int
append_note(tg_error *e, char *note)
{
	size_t need = (e->n_notes + 1) * sizeof(char *);
	char **grown;

	if (note == NULL)
		return TG_ENOMEM;
	/* A block holds a class's worth: it moves only when it is full. */
	grown = tg__block_grow(e->notes, e->n_notes * sizeof(char *), need);
	if (grown == NULL) {
		tg__block_free(note);
		return TG_ENOMEM;
	}
	e->notes = grown;
	e->notes[e->n_notes++] = note;
	return TG_OK;
}

int
tg__error_copy_notes(tg_error *dst, const tg_error *src)
{
	size_t i;

	for (i = 0; i < src->n_notes; i++) {
		if (append_note(dst, note_copy(src->notes[i])) != TG_OK) {
			free_notes(dst);
			return TG_ENOMEM;
		}
	}
	return TG_OK;
}

int
tg_error_add_note(tg_error *e, const char *fmt, ...)
{
	va_list ap;
	char *note;

	if (e == NULL || fmt == NULL)
		return TG_EINVAL;
	if (!unshared(e))
		return TG_ESTATE;
	va_start(ap, fmt);
	note = tg__error_vformat(fmt, ap);
	va_end(ap);
	return append_note(e, note);
}

/* A private copy of e sharing its children, cause and context. */
static tg_error *
shallow_copy(const tg_error *e)
{
	tg_error_provenance prov = tg__error_prov(e);
	err_spec spec = { e->type, e->code, e->message,
			  e->origin.file ? &e->origin : NULL,
			  &prov, e->omitted, e->n_children };
	tg_error *c = tg__error_alloc(&spec);
	size_t i;

	if (c == NULL)
		return NULL;
	if (tg__error_copy_notes(c, e) != TG_OK) {
		tg__block_free(c);
		return NULL;
	}
	for (i = 0; i < e->n_children; i++)
		c->children[i] = tg_error_incref(e->children[i]);
	c->cause = tg_error_incref(e->cause);
	c->context = tg_error_incref(e->context);
	tg__error_seal(c);
	return c;
}

/* tg__error_promote_fatal's helpers: the first fatal leaf, and a
 * predicate matching one node by identity. */
static int
first_fatal(tg_error *leaf, void *ctx)
{
	if ((leaf->type->flags & TG_ERROR_TYPE_FATAL) == 0)
		return 0;
	*(const tg_error **)ctx = leaf;
	return 1;
}

static bool
is_node(const tg_error *e, void *node)
{
	return e == node;
}

tg_error *
tg__error_promote_fatal(tg_error *group)
{
	const tg_error *fatal = NULL;
	tg_error *match = NULL, *rest = NULL, *root, *ctx;

	tg_error_foreach_leaf(group, first_fatal, &fatal);
	if (fatal == NULL || fatal == group)
		return group;
	/* Out of memory below: the group itself still holds everything (and
	 * is a BaseExceptionGroup), so nothing is lost. */
	if (tg_error_split_pred(group, is_node, (void *)fatal, &match,
				&rest) != TG_OK)
		return group;
	tg_error_decref(match);
	root = shallow_copy(fatal);
	if (root == NULL) {
		tg_error_decref(rest);
		return group;
	}
	if (fatal->context != NULL && rest != NULL) {
		tg_error *parts[2] = { tg_error_incref(fatal->context), rest };

		ctx = tg__error_group_for_join(2, parts);
	} else {
		ctx = rest != NULL ? rest : tg_error_incref(fatal->context);
	}
	tg_error_decref(root->context); /* root is private: no reader */
	root->context = ctx;
	tg_error_decref(group);
	return root;
}

tg_error *
tg_error_with_note(tg_error *e, const char *fmt, ...)
{
	va_list ap;
	char *note;
	tg_error *target;

	if (e == NULL || fmt == NULL)
		return e;
	va_start(ap, fmt);
	note = tg__error_vformat(fmt, ap);
	va_end(ap);
	if (note == NULL)
		return e;
	target = unshared(e) ? e : shallow_copy(e);
	if (target == NULL) {
		tg__block_free(note);
		return e;
	}
	if (append_note(target, note) != TG_OK) {
		if (target != e)
			tg_error_decref(target);
		return e;
	}
	if (target != e)
		tg_error_decref(e);
	return target;
}

/* True if target is from itself, or is reachable from it through
 * children, cause or context. */
static bool
reaches(const tg_error *from, const tg_error *target)
{
	size_t i;

	if (from == NULL)
		return false;
	if (from == target)
		return true;
	for (i = 0; i < from->n_children; i++)
		if (reaches(from->children[i], target))
			return true;
	return reaches(from->cause, target) || reaches(from->context, target);
}

int
tg_error_set_cause(tg_error *e, tg_error *cause)
{
	if (e == NULL || reaches(cause, e)) {
		tg_error_decref(cause);
		return TG_EINVAL;
	}
	if (!unshared(e)) {
		tg_error_decref(cause);
		return TG_ESTATE;
	}
	tg_error_decref(e->cause);
	e->cause = cause;
	return TG_OK;
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
