/*
 * error_new.c - building error nodes (one block each, error_node.h) and
 * creating errors: leaves with their provenance, errno errors, misuse
 * reports and cancellations.
 */
#define _POSIX_C_SOURCE 200809L /* XSI strerror_r */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "taskgroup/error.h"

#include "alloc.h"
#include "blocks.h"
#include "error_internal.h"
#include "error_node.h"
#include "provenance.h"

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
	size_t i, leaves = 0, stubs = 0, lost = 0;
	bool fatal = false;

	if (e->n_children == 0) {
		fatal = (e->type->flags & TG_ERROR_TYPE_FATAL) != 0;
	} else {
		for (i = 0; i < e->n_children; i++) {
			tg_error *c = e->children[i];

			if (c == NULL)
				continue;
			leaves += c->n_leaves;
			stubs = tg__error_count_add(stubs, c->n_stubs);
			lost = tg__error_count_add(lost, c->n_lost);
			fatal = fatal || (c->flags & ERR_HAS_FATAL) != 0;
		}
		e->n_leaves = leaves;
		e->n_stubs = stubs;
		e->n_lost = lost;
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

char *
tg__error_note_copy(const char *note)
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
		return tg__error_note_copy(fmt);
	s = tg__block_alloc((size_t)n + 1, false);
	if (s != NULL)
		vsnprintf(s, (size_t)n + 1, fmt, ap);
	return s;
}

/* A leaf with the calling task's provenance; message is copied. */
void
tg__error_spec_capture(err_spec *spec, tg__provenance *cap,
		       tg_error_provenance *prov)
{
	if (!tg__provenance_capture(cap))
		return;
	prov->task_id = cap->task_id;
	prov->task_name = cap->task_name;
	prov->worker = cap->worker;
	prov->depth = cap->depth;
	prov->chain = cap->chain;
	spec->prov = prov;
	spec->prov_omitted = cap->omitted;
}

static tg_error *
new_leaf(const tg_error_type *type, int code, const tg_error_origin *origin,
	 const char *message)
{
	tg__provenance cap;
	tg_error_provenance prov;
	err_spec spec = { type, code, message, origin, NULL, 0, 0 };

	tg__error_spec_capture(&spec, &cap, &prov);
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
	size_t need, lp, lu;
	va_list ap;
	tg_error *e;

	va_start(ap, fmt);
	user = format_message(user_buf, sizeof(user_buf), &user_heap,
			      fmt != NULL ? fmt : "", ap);
	va_end(ap);
	if (user == NULL)
		return tg_error_oom();
	errno_prefix(prefix, sizeof(prefix), errnum);
	lp = strlen(prefix);
	lu = strlen(user);
	need = lp + lu + 3;
	message = need <= sizeof(message_buf) ? message_buf : tg__malloc(need);
	if (message != NULL) { /* "prefix: user", or the prefix alone */
		memcpy(message, prefix, lp);
		memcpy(message + lp, ": ", lu > 0 ? 2 : 0);
		memcpy(message + lp + (lu > 0 ? 2 : 0), user, lu + 1);
	}
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
	char text[256];
	va_list ap, again;
	tg_error *e;

	va_start(ap, fmt);
	va_copy(again, ap);
	e = new_leaf_v(&tg_RuntimeError, status, NULL, fmt, ap);
	va_end(ap);
	if (e == tg_error_oom() && attached != NULL) {
		/* Neither the report nor what was handed over may go
		 * uncounted: a reserve slot holds the report (its message
		 * formatted on the stack), with attached as its context. */
		text[0] = '\0';
		if (fmt != NULL)
			vsnprintf(text, sizeof(text), fmt, again);
		va_end(again);
		return tg__error_reserve_usage(status, text, attached);
	}
	va_end(again);
	if (e != tg_error_oom())
		e->context = attached; /* still private: no other reference */
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

