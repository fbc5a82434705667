/*
 * format_json.c - tg_error_to_json / tg_error_write_json.  The schema is
 * documented in docs/errors.md and is stable: fields are only ever added.
 *
 *   {"type": "ValueError",
 *    "type_chain": ["ValueError", "Exception", "BaseException"],
 *    "message": "...", "code": 0, "notes": ["..."],
 *    "origin": {"file": "x.c", "line": 3, "func": "f"} | null,
 *    "provenance": {"task_id": 7, "task_name": "n" | null, "worker": 0,
 *                   "omitted": 0,
 *                   "spawn_chain": [{"file", "line", "func", "task_id",
 *                                    "task_name"}, ...]},
 *    "cause": {...} | null, "context": {...} | null,
 *    "leaf_count": 1, "lost_count": 0,
 *    "lost_errors": [{"type", "file", "line", "func", "task_id",
 *                     "task_name", "spawn_site": {...} | null}, ...]
 *                                            (reserve markers only)
 *    "children": [...],                      (group nodes only)
 *    "truncated": true}                      (only where the walk's
 *                                             stack could not grow)
 *
 * Strings: quotes, backslash and control characters are escaped; valid
 * UTF-8 passes through; any other byte becomes \u00XX (its Latin-1 code
 * point), so the output is always valid UTF-8 JSON.
 *
 * The walk is iterative (error_node.h, "Depth"): the objects being
 * written are frames on a tg__wstack, on the C stack for the first
 * FRAMES_FIRST levels and on the heap beyond.  An object the stack cannot
 * grow for is written without what is nested in it (cause and context
 * null, children empty) and with "truncated": true, so the text stays
 * valid JSON and says what is missing.
 */
#include <stdio.h>
#include <string.h>

#include "taskgroup/error.h"

#include "error_node.h"

#define CHAIN_MAX 32 /* type_chain entries kept */
#define FRAMES_FIRST 32

/* ------------------------------------------------------------------ */
/* Strings                                                              */

static bool
is_cont(unsigned char b)
{
	return (b & 0xC0) == 0x80;
}

/* Length of the valid UTF-8 sequence at p (2..4), or 0. */
static size_t
utf8_len(const unsigned char *p)
{
	unsigned char b = p[0];

	if (b >= 0xC2 && b <= 0xDF)
		return is_cont(p[1]) ? 2 : 0;
	if (b >= 0xE0 && b <= 0xEF) {
		unsigned char lo = b == 0xE0 ? 0xA0 : 0x80;
		unsigned char hi = b == 0xED ? 0x9F : 0xBF;

		return p[1] >= lo && p[1] <= hi && is_cont(p[2]) ? 3 : 0;
	}
	if (b >= 0xF0 && b <= 0xF4) {
		unsigned char lo = b == 0xF0 ? 0x90 : 0x80;
		unsigned char hi = b == 0xF4 ? 0x8F : 0xBF;

		return p[1] >= lo && p[1] <= hi && is_cont(p[2]) &&
			       is_cont(p[3])
			   ? 4
			   : 0;
	}
	return 0;
}

static const char *
short_escape(unsigned char b)
{
	switch (b) {
	case '"': return "\\\"";
	case '\\': return "\\\\";
	case '\n': return "\\n";
	case '\r': return "\\r";
	case '\t': return "\\t";
	case '\b': return "\\b";
	case '\f': return "\\f";
	default: return NULL;
	}
}

static void
put_string(tg__sink *s, const char *str)
{
	const unsigned char *p = (const unsigned char *)str;
	const char *esc;
	size_t n;

	if (str == NULL) {
		tg__sink_puts(s, "null");
		return;
	}
	tg__sink_put(s, "\"", 1);
	while (*p != '\0') {
		if ((esc = short_escape(*p)) != NULL) {
			tg__sink_puts(s, esc);
			n = 1;
		} else if (*p >= 0x20 && *p < 0x80) {
			/* The run of bytes that need no escape, at once. */
			for (n = 1; p[n] >= 0x20 && p[n] < 0x80 &&
				    short_escape(p[n]) == NULL;
			     n++)
				;
			tg__sink_put(s, (const char *)p, n);
		} else if ((n = utf8_len(p)) != 0) {
			tg__sink_put(s, (const char *)p, n);
		} else {
			tg__sink_printf(s, "\\u%04x", (unsigned)*p);
			n = 1;
		}
		p += n;
	}
	tg__sink_put(s, "\"", 1);
}

/* ------------------------------------------------------------------ */
/* Type chain: CPython's MRO for these single-inheritance-plus-"also"
 * hierarchies: the base chain, with each "also" chain inserted before
 * the first type the two share (ExceptionGroup, BaseExceptionGroup,
 * Exception, BaseException). */

static size_t
index_of(const tg_error_type *const *v, size_t n, const tg_error_type *t)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (v[i] == t)
			return i;
	return n;
}

static void
insert_at(const tg_error_type **v, size_t *n, size_t at,
	  const tg_error_type *t)
{
	if (*n >= CHAIN_MAX)
		return;
	memmove(&v[at + 1], &v[at], (*n - at) * sizeof(v[0]));
	v[at] = t;
	(*n)++;
}

/* Adds the chain of also (a second base) to v, before the first type
 * the two chains share, keeping v's order. */
static void
merge_also(const tg_error_type **v, size_t *n, const tg_error_type *also)
{
	const tg_error_type *u;
	size_t at = *n;

	for (u = also; u != NULL; u = u->base) {
		if ((at = index_of(v, *n, u)) < *n)
			break;
	}
	for (u = also; u != NULL && index_of(v, *n, u) == *n; u = u->base)
		insert_at(v, n, at++, u);
}

static size_t
type_chain(const tg_error_type *t, const tg_error_type **v)
{
	size_t n = 0;
	const tg_error_type *u;

	for (u = t; u != NULL && n < CHAIN_MAX; u = u->base)
		v[n++] = u;
	for (u = t; u != NULL; u = u->base)
		if (u->also != NULL)
			merge_also(v, &n, u->also);
	return n;
}

/* ------------------------------------------------------------------ */
/* Objects                                                              */

static void
key(tg__sink *s, const char *name, bool first)
{
	if (!first)
		tg__sink_put(s, ",", 1);
	put_string(s, name);
	tg__sink_put(s, ":", 1);
}

static void
write_type_chain(tg__sink *s, const tg_error_type *t)
{
	const tg_error_type *v[CHAIN_MAX];
	size_t n = type_chain(t, v), i;

	tg__sink_put(s, "[", 1);
	for (i = 0; i < n; i++) {
		if (i > 0)
			tg__sink_put(s, ",", 1);
		put_string(s, v[i]->name);
	}
	tg__sink_put(s, "]", 1);
}

static void
write_notes(tg__sink *s, const tg_error *e)
{
	size_t i;

	tg__sink_put(s, "[", 1);
	for (i = 0; i < e->n_notes; i++) {
		if (i > 0)
			tg__sink_put(s, ",", 1);
		put_string(s, e->notes[i]);
	}
	tg__sink_put(s, "]", 1);
}

static void
write_origin(tg__sink *s, const tg_error *e)
{
	if (e->origin.file == NULL) {
		tg__sink_puts(s, "null");
		return;
	}
	tg__sink_put(s, "{", 1);
	key(s, "file", true);
	put_string(s, e->origin.file);
	key(s, "line", false);
	tg__sink_printf(s, "%d", e->origin.line);
	key(s, "func", false);
	put_string(s, e->origin.func);
	tg__sink_put(s, "}", 1);
}

static void
write_site(tg__sink *s, const tg_spawn_site *site)
{
	tg__sink_put(s, "{", 1);
	key(s, "file", true);
	put_string(s, site->file);
	key(s, "line", false);
	tg__sink_printf(s, "%d", site->line);
	key(s, "func", false);
	put_string(s, site->func);
	key(s, "task_id", false);
	tg__sink_printf(s, "%llu", (unsigned long long)site->task_id);
	key(s, "task_name", false);
	put_string(s, site->task_name);
	tg__sink_put(s, "}", 1);
}

static void
write_provenance(tg__sink *s, const tg_error *e)
{
	size_t i;

	tg__sink_put(s, "{", 1);
	key(s, "task_id", true);
	tg__sink_printf(s, "%llu", (unsigned long long)e->task_id);
	key(s, "task_name", false);
	put_string(s, e->task_name);
	key(s, "worker", false);
	tg__sink_printf(s, "%d", e->worker);
	key(s, "omitted", false);
	tg__sink_printf(s, "%zu", e->omitted);
	key(s, "spawn_chain", false);
	tg__sink_put(s, "[", 1);
	for (i = 0; i < e->depth; i++) {
		if (i > 0)
			tg__sink_put(s, ",", 1);
		write_site(s, &e->chain[i]);
	}
	tg__sink_puts(s, "]}");
}

/* A marker's named lost errors (error_reserve.c); "" is unknown. */
static void
put_known(tg__sink *s, const char *str)
{
	put_string(s, str[0] != '\0' ? str : NULL);
}

static void
write_lost(tg__sink *s, const tg_error *e)
{
	size_t n, i;
	const tg__lost *l = tg__error_lost_named(e, &n);

	if (l == NULL)
		return;
	key(s, "lost_errors", false);
	tg__sink_put(s, "[", 1);
	for (i = 0; i < n; i++, l++) {
		if (i > 0)
			tg__sink_put(s, ",", 1);
		tg__sink_put(s, "{", 1);
		key(s, "type", true);
		put_string(s, l->type != NULL ? l->type->name : NULL);
		key(s, "file", false);
		put_known(s, l->file);
		key(s, "line", false);
		tg__sink_printf(s, "%d", l->line);
		key(s, "func", false);
		put_known(s, l->func);
		key(s, "task_id", false);
		tg__sink_printf(s, "%llu", (unsigned long long)l->task_id);
		key(s, "task_name", false);
		put_known(s, l->task_name);
		key(s, "spawn_site", false);
		if (l->spawn_file[0] == '\0') {
			tg__sink_puts(s, "null");
		} else {
			tg__sink_put(s, "{", 1);
			key(s, "file", true);
			put_string(s, l->spawn_file);
			key(s, "line", false);
			tg__sink_printf(s, "%d", l->spawn_line);
			key(s, "func", false);
			put_known(s, l->spawn_func);
			tg__sink_put(s, "}", 1);
		}
		tg__sink_put(s, "}", 1);
	}
	tg__sink_put(s, "]", 1);
}

/* An object up to its "cause" value. */
static void
write_head(tg__sink *s, const tg_error *e)
{
	tg__sink_put(s, "{", 1);
	key(s, "type", true);
	put_string(s, e->type->name);
	key(s, "type_chain", false);
	write_type_chain(s, e->type);
	key(s, "message", false);
	put_string(s, e->message);
	key(s, "code", false);
	tg__sink_printf(s, "%d", e->code);
	key(s, "notes", false);
	write_notes(s, e);
	key(s, "origin", false);
	write_origin(s, e);
	key(s, "provenance", false);
	write_provenance(s, e);
	key(s, "cause", false);
}

/* From after the "context" value up to the children's array. */
static void
write_counts(tg__sink *s, const tg_error *e)
{
	key(s, "leaf_count", false);
	tg__sink_printf(s, "%zu", e->n_leaves);
	key(s, "lost_count", false);
	tg__sink_printf(s, "%zu", e->n_lost);
	write_lost(s, e);
}

/* e without what nests in it, marked truncated. */
static void
write_truncated(tg__sink *s, const tg_error *e)
{
	write_head(s, e);
	tg__sink_puts(s, "null");
	key(s, "context", false);
	tg__sink_puts(s, "null");
	write_counts(s, e);
	if (e->n_children > 0) {
		key(s, "children", false);
		tg__sink_puts(s, "[]");
	}
	key(s, "truncated", false);
	tg__sink_puts(s, "true}");
}

/* An object being written: what comes next in it. */
enum { AT_CAUSE, AT_CONTEXT, AT_COUNTS, AT_CHILDREN };

typedef struct jframe {
	const tg_error *e;
	int at;
	size_t next; /* AT_CHILDREN: the child to write next */
} jframe;

/* Starts the value e: null, an object whose frame goes on the stack, or
 * (the stack cannot grow) a truncated object. */
static void
open_value(tg__sink *s, tg__wstack *frames, const tg_error *e)
{
	jframe *f;

	if (e == NULL) {
		tg__sink_puts(s, "null");
		return;
	}
	if ((f = tg__wstack_push(frames)) == NULL) {
		write_truncated(s, e);
		return;
	}
	f->e = e;
	f->at = AT_CAUSE;
	f->next = 0;
	write_head(s, e);
}

/* The walk: the fields in the order of the schema, depth first. */
static void
write_error(tg__sink *s, const tg_error *root)
{
	jframe first[FRAMES_FIRST], *f;
	tg__wstack frames;

	tg__wstack_init(&frames, first, FRAMES_FIRST, sizeof(first[0]));
	open_value(s, &frames, root);
	while ((f = tg__wstack_top(&frames)) != NULL) {
		const tg_error *e = f->e;

		switch (f->at) {
		case AT_CAUSE:
			f->at = AT_CONTEXT;
			open_value(s, &frames, e->cause);
			break;
		case AT_CONTEXT:
			f->at = AT_COUNTS;
			key(s, "context", false);
			open_value(s, &frames, e->context);
			break;
		case AT_COUNTS:
			f->at = AT_CHILDREN;
			write_counts(s, e);
			if (e->n_children > 0) {
				key(s, "children", false);
				tg__sink_put(s, "[", 1);
			}
			break;
		default:
			if (f->next < e->n_children) {
				if (f->next > 0)
					tg__sink_put(s, ",", 1);
				open_value(s, &frames, e->children[f->next++]);
				break;
			}
			tg__sink_puts(s, e->n_children > 0 ? "]}" : "}");
			tg__wstack_pop(&frames);
			break;
		}
	}
	tg__wstack_fini(&frames);
}

size_t
tg_error_to_json(const tg_error *e, char *buf, size_t len)
{
	tg__sink s = { .buf = buf, .len = len };

	write_error(&s, e);
	return tg__sink_finish(&s);
}

int
tg_error_write_json(const tg_error *e, FILE *f)
{
	tg__sink s = { .f = f };

	if (f == NULL)
		return TG_EINVAL;
	write_error(&s, e);
	tg__sink_put(&s, "\n", 1);
	tg__sink_finish(&s);
	return TG_OK;
}
