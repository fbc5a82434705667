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
 *    "leaf_count": 1,
 *    "children": [...]}                      (group nodes only)
 *
 * Strings: quotes, backslash and control characters are escaped; valid
 * UTF-8 passes through; any other byte becomes \u00XX (its Latin-1 code
 * point), so the output is always valid UTF-8 JSON.
 */
#include <stdio.h>
#include <string.h>

#include "taskgroup/error.h"

#include "error_node.h"

#define CHAIN_MAX 32 /* type_chain entries kept */

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
			tg__sink_put(s, (const char *)p, 1);
			n = 1;
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

static void write_error(tg__sink *s, const tg_error *e);

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

static void
write_children(tg__sink *s, const tg_error *e)
{
	size_t i;

	tg__sink_put(s, "[", 1);
	for (i = 0; i < e->n_children; i++) {
		if (i > 0)
			tg__sink_put(s, ",", 1);
		write_error(s, e->children[i]);
	}
	tg__sink_put(s, "]", 1);
}

static void
write_error(tg__sink *s, const tg_error *e)
{
	if (e == NULL) {
		tg__sink_puts(s, "null");
		return;
	}
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
	write_error(s, e->cause);
	key(s, "context", false);
	write_error(s, e->context);
	key(s, "leaf_count", false);
	tg__sink_printf(s, "%zu", e->n_leaves);
	if (e->n_children > 0) {
		key(s, "children", false);
		write_children(s, e);
	}
	tg__sink_put(s, "}", 1);
}

size_t
tg_error_to_json(const tg_error *e, char *buf, size_t len)
{
	tg__sink s = { NULL, buf, len, 0, false };

	write_error(&s, e);
	return tg__sink_finish(&s);
}

int
tg_error_write_json(const tg_error *e, FILE *f)
{
	tg__sink s = { f, NULL, 0, 0, false };

	if (f == NULL)
		return TG_EINVAL;
	write_error(&s, e);
	tg__sink_put(&s, "\n", 1);
	return TG_OK;
}
