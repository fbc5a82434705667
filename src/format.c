/*
 * format.c - tg_error_print / tg_error_format: the tree drawn the way
 * CPython's traceback module draws an exception group
 * (TracebackException.format with max_group_width 15, max_group_depth 10).
 *
 * The drawing rules, as in CPython:
 *  - a context carries the group depth; every emitted line is indented by
 *    2 * depth spaces and, when depth > 0, a margin "| " ("+ " on the
 *    header of the outermost group);
 *  - a group prints its header and "Type: message (N sub-errors)", then
 *    for each child a separator "+-+---------------- i ----------------"
 *    (the first) or "  +---------------- i ----------------" at the
 *    group's depth, the child one level deeper, and after the last child
 *    one closing "+------------------------------------" unless a nested
 *    group already closed (need_close);
 *  - more than 15 children: the 16th separator is titled "..." and says
 *    "and N more errors"; deeper than 10 levels a group prints
 *    "... (max_group_depth is 10)";
 *  - causes print first, then "The above exception was the direct cause
 *    of the following exception:" (contexts: "During handling of the above
 *    exception, another exception occurred:"), as CPython's chain walk.
 *
 * Instead of Python source lines, a traceback shows the spawn chain (root
 * first, "spawned at file:line in func (task id \"name\")") and the raise
 * site ("File \"x.c\", line N, in func").  The text is deterministic: no
 * addresses, times or worker numbers.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "taskgroup/error.h"

#include "error_node.h"

#define MAX_GROUP_WIDTH 15
#define MAX_GROUP_DEPTH 10

/* ------------------------------------------------------------------ */
/* Sink                                                                 */

void
tg__sink_put(tg__sink *s, const char *p, size_t n)
{
	if (s->f != NULL) {
		if (n > 0 && fwrite(p, 1, n, s->f) != n)
			s->failed = true;
	} else if (s->buf != NULL && s->len > 0 && s->need < s->len - 1) {
		size_t room = s->len - 1 - s->need;

		memcpy(s->buf + s->need, p, n < room ? n : room);
	}
	s->need += n;
}

void
tg__sink_puts(tg__sink *s, const char *str)
{
	tg__sink_put(s, str, strlen(str));
}

void
tg__sink_printf(tg__sink *s, const char *fmt, ...)
{
	char small[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n > 0)
		tg__sink_put(s, small,
			     (size_t)n < sizeof(small) ? (size_t)n
						       : sizeof(small) - 1);
}

size_t
tg__sink_finish(tg__sink *s)
{
	if (s->f == NULL && s->buf != NULL && s->len > 0)
		s->buf[s->need < s->len ? s->need : s->len - 1] = '\0';
	return s->need;
}

/* ------------------------------------------------------------------ */
/* Lines                                                                */

typedef struct pctx {
	tg__sink *s;
	size_t depth;
	bool need_close;
} pctx;

static void
indent(pctx *c)
{
	size_t i;

	for (i = 0; i < 2 * c->depth; i++)
		tg__sink_put(c->s, " ", 1);
}

/* Starts a line: indentation and, inside a group, the margin. */
static void
line_start(pctx *c, char margin)
{
	char m[2] = { margin, ' ' };

	indent(c);
	if (c->depth > 0)
		tg__sink_put(c->s, m, 2);
}

/* Writes text; each newline in it starts a new margined line. */
static void
put_lines(pctx *c, const char *text)
{
	const char *nl;

	while ((nl = strchr(text, '\n')) != NULL) {
		tg__sink_put(c->s, text, (size_t)(nl - text) + 1);
		line_start(c, '|');
		text = nl + 1;
	}
	tg__sink_puts(c->s, text);
}

/* One whole line (text may hold newlines: each becomes a line). */
static void
emit(pctx *c, char margin, const char *text)
{
	line_start(c, margin);
	put_lines(c, text);
	tg__sink_put(c->s, "\n", 1);
}

/* ------------------------------------------------------------------ */
/* One error                                                            */

static const char *
type_name(const tg_error *e)
{
	return e->type->name != NULL ? e->type->name : "Error";
}

static void
emit_spawn_site(pctx *c, const tg_spawn_site *site)
{
	line_start(c, '|');
	tg__sink_puts(c->s, "  spawned at ");
	put_lines(c, site->file ? site->file : "?");
	tg__sink_printf(c->s, ":%d in ", site->line);
	put_lines(c, site->func ? site->func : "?");
	tg__sink_printf(c->s, " (task %llu", (unsigned long long)site->task_id);
	if (site->task_name != NULL) {
		tg__sink_puts(c->s, " \"");
		put_lines(c, site->task_name);
		tg__sink_puts(c->s, "\"");
	}
	tg__sink_puts(c->s, ")\n");
}

static bool
has_trace(const tg_error *e)
{
	return e->origin.file != NULL || e->depth > 0;
}

/* The stack part: spawn chain from the root down, then the raise site. */
static void
emit_trace(pctx *c, const tg_error *e)
{
	size_t i;

	if (e->omitted > 0) {
		line_start(c, '|');
		tg__sink_printf(c->s, "  ... %zu earlier spawn levels\n",
				e->omitted);
	}
	for (i = e->depth; i-- > 0;)
		emit_spawn_site(c, &e->chain[i]);
	if (e->origin.file == NULL)
		return;
	line_start(c, '|');
	tg__sink_puts(c->s, "  File \"");
	put_lines(c, e->origin.file);
	tg__sink_printf(c->s, "\", line %d, in ", e->origin.line);
	put_lines(c, e->origin.func ? e->origin.func : "?");
	tg__sink_put(c->s, "\n", 1);
}

/* CPython's format_exception_only: "Type: message", then the notes. */
static void
emit_exception_only(pctx *c, const tg_error *e)
{
	size_t i;

	line_start(c, '|');
	tg__sink_puts(c->s, type_name(e));
	if (e->n_children > 0) {
		tg__sink_puts(c->s, ": ");
		put_lines(c, e->message);
		tg__sink_printf(c->s, " (%zu sub-error%s)", e->n_children,
				e->n_children == 1 ? "" : "s");
	} else if (e->message[0] != '\0') {
		tg__sink_puts(c->s, ": ");
		put_lines(c, e->message);
	}
	tg__sink_put(c->s, "\n", 1);
	for (i = 0; i < e->n_notes; i++)
		emit(c, '|', e->notes[i]);
}

static void format_chain(pctx *c, const tg_error *e);

static void
emit_separator(pctx *c, size_t i, bool truncated)
{
	indent(c);
	tg__sink_puts(c->s, i == 0 ? "+-" : "  ");
	if (truncated)
		tg__sink_puts(c->s, "+---------------- ... ----------------\n");
	else
		tg__sink_printf(c->s, "+---------------- %zu ----------------\n",
				i + 1);
}

static void
format_children(pctx *c, const tg_error *e)
{
	size_t num = e->n_children, i, n, remaining;

	n = num <= MAX_GROUP_WIDTH ? num : MAX_GROUP_WIDTH + 1;
	c->need_close = false;
	for (i = 0; i < n; i++) {
		bool last = i == n - 1;
		bool truncated = i >= MAX_GROUP_WIDTH;

		if (last)
			c->need_close = true; /* a nested group may close */
		emit_separator(c, i, truncated);
		c->depth++;
		if (!truncated) {
			format_chain(c, e->children[i]);
		} else {
			remaining = num - MAX_GROUP_WIDTH;
			line_start(c, '|');
			tg__sink_printf(c->s, "and %zu more error%s\n",
					remaining, remaining > 1 ? "s" : "");
		}
		if (last && c->need_close) {
			indent(c);
			tg__sink_puts(c->s,
				      "+------------------------------------\n");
			c->need_close = false;
		}
		c->depth--;
	}
}

static void
format_group(pctx *c, const tg_error *e)
{
	bool toplevel = c->depth == 0;

	if (toplevel)
		c->depth++;
	emit(c, toplevel ? '+' : '|',
	     "Exception Group Traceback (most recent call last):");
	emit_trace(c, e);
	emit_exception_only(c, e);
	format_children(c, e);
	if (toplevel)
		c->depth = 0;
}

static void
format_one(pctx *c, const tg_error *e)
{
	if (e->n_children == 0) {
		if (has_trace(e)) {
			emit(c, '|', "Traceback (most recent call last):");
			emit_trace(c, e);
		}
		emit_exception_only(c, e);
	} else if (c->depth > MAX_GROUP_DEPTH) {
		line_start(c, '|');
		tg__sink_printf(c->s, "... (max_group_depth is %d)\n",
				MAX_GROUP_DEPTH);
	} else {
		format_group(c, e);
	}
}

/* CPython's chain walk: the cause (else the context) first, then e. */
static void
format_chain(pctx *c, const tg_error *e)
{
	const char *msg = NULL;

	if (e->cause != NULL) {
		format_chain(c, e->cause);
		msg = "The above exception was the direct cause of the "
		      "following exception:";
	} else if (e->context != NULL) {
		format_chain(c, e->context);
		msg = "During handling of the above exception, another "
		      "exception occurred:";
	}
	if (msg != NULL) {
		emit(c, '|', "");
		emit(c, '|', msg);
		emit(c, '|', "");
	}
	format_one(c, e);
}

static void
format_to(const tg_error *e, tg__sink *s)
{
	pctx c = { s, 0, false };

	if (e != NULL)
		format_chain(&c, e);
}

int
tg_error_print(const tg_error *e, FILE *f)
{
	tg__sink s = { f, NULL, 0, 0, false };

	if (f == NULL)
		return TG_EINVAL;
	format_to(e, &s);
	return TG_OK;
}

size_t
tg_error_format(const tg_error *e, char *buf, size_t len)
{
	tg__sink s = { NULL, buf, len, 0, false };

	format_to(e, &s);
	return tg__sink_finish(&s);
}
