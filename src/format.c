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
 *
 * The walk is iterative (error_node.h, "Depth").  Groups nest at most
 * MAX_GROUP_DEPTH deep in the drawing, so their frames fit a fixed array;
 * a cause/context chain, drawn deepest first, can be any length, and its
 * links wait on a tg__wstack: on the C stack up to CHAIN_FIRST links in
 * all, on the heap beyond.  If that cannot grow, the links it could not
 * hold are left out, with a line that says how many.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "taskgroup/error.h"

#include "error_node.h"

#define MAX_GROUP_WIDTH 15
#define MAX_GROUP_DEPTH 10
#define CHAIN_FIRST 64

/* ------------------------------------------------------------------ */
/* Sink                                                                 */

static void
sink_write(tg__sink *s, const char *p, size_t n)
{
	if (n > 0 && fwrite(p, 1, n, s->f) != n)
		s->failed = true;
}

void
tg__sink_put(tg__sink *s, const char *p, size_t n)
{
	if (s->f != NULL) {
		if (s->held + n > sizeof(s->hold)) {
			sink_write(s, s->hold, s->held);
			s->held = 0;
		}
		if (n > sizeof(s->hold)) {
			sink_write(s, p, n);
		} else {
			memcpy(s->hold + s->held, p, n);
			s->held += n;
		}
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
	if (s->f != NULL) {
		sink_write(s, s->hold, s->held);
		s->held = 0;
	} else if (s->buf != NULL && s->len > 0)
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

/* A reserve marker's named lost errors, one line each, then how many
 * more it counts (error_reserve.c). */
static void
emit_lost(pctx *c, const tg_error *e)
{
	size_t n, i;
	const tg__lost *l = tg__error_lost_named(e, &n);

	for (i = 0; i < n; i++, l++) {
		line_start(c, '|');
		tg__sink_puts(c->s, "  lost: ");
		put_lines(c, l->type != NULL && l->type->name != NULL
				     ? l->type->name
				     : "Error");
		if (l->file[0] != '\0') {
			tg__sink_puts(c->s, " raised at ");
			put_lines(c, l->file);
			tg__sink_printf(c->s, ":%d in ", l->line);
			put_lines(c, l->func[0] != '\0' ? l->func : "?");
		}
		if (l->task_id != 0) {
			tg__sink_printf(c->s, " (task %llu",
					(unsigned long long)l->task_id);
			if (l->task_name[0] != '\0') {
				tg__sink_puts(c->s, " \"");
				put_lines(c, l->task_name);
				tg__sink_puts(c->s, "\"");
			}
			if (l->spawn_file[0] != '\0') {
				tg__sink_puts(c->s, ", spawned at ");
				put_lines(c, l->spawn_file);
				tg__sink_printf(c->s, ":%d in ", l->spawn_line);
				put_lines(c, l->spawn_func[0] != '\0'
						     ? l->spawn_func
						     : "?");
			}
			tg__sink_puts(c->s, ")");
		}
		tg__sink_put(c->s, "\n", 1);
	}
	if (n > 0 && e->n_lost > n) {
		line_start(c, '|');
		tg__sink_printf(c->s, "  and %zu more lost\n", e->n_lost - n);
	}
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
	emit_lost(c, e);
	for (i = 0; i < e->n_notes; i++)
		emit(c, '|', e->notes[i]);
}

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

/*
 * The walk.  A CHAIN frame draws one cause/context chain, deepest first:
 * its links are on the links stack from base, next of them still to
 * draw.  A GROUP frame draws a group's children: each child's separator,
 * then the child's own chain one level deeper (a CHAIN frame above it),
 * then, after the last, the closing line unless a nested group already
 * closed (need_close).  This is the recursion of CPython's
 * TracebackException.format, step for step.
 */
enum { FRAME_CHAIN, FRAME_GROUP };

typedef struct pframe {
	int kind;
	bool toplevel; /* GROUP: drawn at depth 0 */
	bool in_child; /* GROUP: child next - 1 is drawn; its end is due */
	const tg_error *e; /* GROUP: the group */
	size_t next;       /* GROUP: the child to draw next;
			    * CHAIN: links left to draw */
	size_t base;       /* CHAIN: its first link on the links stack */
	size_t omitted;    /* CHAIN: links left out (out of memory) */
} pframe;

/* At most one GROUP and one CHAIN frame per group level drawn (the depth
 * rises by at least one per level, and a group deeper than
 * MAX_GROUP_DEPTH prints one line instead), plus the first chain. */
#define FRAMES_MAX (2 * (MAX_GROUP_DEPTH + 2) + 1)

typedef struct walk {
	pframe frames[FRAMES_MAX];
	size_t n;
	tg__wstack links; /* const tg_error *, every open chain's */
} walk;

static const tg_error *
link_of(const tg_error *e)
{
	return e->cause != NULL ? e->cause : e->context;
}

/* A CHAIN frame for x and the links below it. */
static void
open_chain(walk *w, const tg_error *x)
{
	pframe *f;
	const tg_error **slot;

	if (w->n == FRAMES_MAX)
		return; /* cannot happen (FRAMES_MAX); drawn as nothing */
	f = &w->frames[w->n++];

	f->kind = FRAME_CHAIN;
	f->base = w->links.n;
	f->omitted = 0;
	for (; x != NULL; x = link_of(x)) {
		if ((slot = tg__wstack_push(&w->links)) == NULL)
			break;
		*slot = x;
	}
	for (; x != NULL; x = link_of(x))
		f->omitted++;
	f->next = w->links.n - f->base;
}

/* CPython's format_exception_only and, for a group, its header: one
 * element of a chain.  A group to draw opens a GROUP frame. */
static void
draw_element(pctx *c, walk *w, const tg_error *e)
{
	pframe *f;

	if (e->n_children == 0) {
		if (has_trace(e)) {
			emit(c, '|', "Traceback (most recent call last):");
			emit_trace(c, e);
		}
		emit_exception_only(c, e);
		return;
	}
	if (c->depth > MAX_GROUP_DEPTH || w->n == FRAMES_MAX) {
		line_start(c, '|');
		tg__sink_printf(c->s, "... (max_group_depth is %d)\n",
				MAX_GROUP_DEPTH);
		return;
	}
	f = &w->frames[w->n++];
	f->kind = FRAME_GROUP;
	f->e = e;
	f->next = 0;
	f->in_child = false;
	f->toplevel = c->depth == 0;
	if (f->toplevel)
		c->depth++;
	emit(c, f->toplevel ? '+' : '|',
	     "Exception Group Traceback (most recent call last):");
	emit_trace(c, e);
	emit_exception_only(c, e);
	c->need_close = false;
}

/* One step of a CHAIN frame: the next link, deepest first, after the
 * line that joins it to the one drawn before. */
static void
step_chain(pctx *c, walk *w, pframe *f)
{
	const tg_error *x;

	if (f->next == 0) {
		w->links.n = f->base;
		w->n--;
		return;
	}
	if (f->omitted > 0) {
		line_start(c, '|');
		tg__sink_printf(c->s,
				"... (%zu earlier errors of this chain not "
				"shown: out of memory)\n",
				f->omitted);
		f->omitted = 0;
	}
	x = ((const tg_error **)(void *)w->links.items)[f->base + --f->next];
	if (x->cause != NULL || x->context != NULL) {
		emit(c, '|', "");
		emit(c, '|',
		     x->cause != NULL
			     ? "The above exception was the direct cause of "
			       "the following exception:"
			     : "During handling of the above exception, "
			       "another exception occurred:");
		emit(c, '|', "");
	}
	draw_element(c, w, x);
}

/* One step of a GROUP frame: the end of the child just drawn, then the
 * next child (at most MAX_GROUP_WIDTH, then "and N more"). */
static void
step_group(pctx *c, walk *w, pframe *f)
{
	size_t num = f->e->n_children, i, remaining;
	size_t n = num <= MAX_GROUP_WIDTH ? num : MAX_GROUP_WIDTH + 1;
	bool last, truncated;

	if (f->in_child) {
		if (f->next == n && c->need_close) {
			indent(c);
			tg__sink_puts(c->s,
				      "+------------------------------------\n");
			c->need_close = false;
		}
		c->depth--;
		f->in_child = false;
	}
	if (f->next == n) {
		if (f->toplevel)
			c->depth = 0;
		w->n--;
		return;
	}
	i = f->next++;
	last = i == n - 1;
	truncated = i >= MAX_GROUP_WIDTH;
	if (last)
		c->need_close = true; /* a nested group may close */
	emit_separator(c, i, truncated);
	c->depth++;
	f->in_child = true;
	if (!truncated) {
		open_chain(w, f->e->children[i]);
	} else {
		remaining = num - MAX_GROUP_WIDTH;
		line_start(c, '|');
		tg__sink_printf(c->s, "and %zu more error%s\n", remaining,
				remaining > 1 ? "s" : "");
	}
}

static void
format_to(const tg_error *e, tg__sink *s)
{
	pctx c = { s, 0, false };
	const tg_error *first[CHAIN_FIRST];
	walk w;

	if (e == NULL)
		return;
	w.n = 0;
	tg__wstack_init(&w.links, first, CHAIN_FIRST, sizeof(first[0]));
	open_chain(&w, e);
	while (w.n > 0) {
		pframe *f = &w.frames[w.n - 1];

		if (f->kind == FRAME_CHAIN)
			step_chain(&c, &w, f);
		else
			step_group(&c, &w, f);
	}
	tg__wstack_fini(&w.links);
}

int
tg_error_print(const tg_error *e, FILE *f)
{
	tg__sink s = { .f = f };

	if (f == NULL)
		return TG_EINVAL;
	format_to(e, &s);
	tg__sink_finish(&s);
	return TG_OK;
}

size_t
tg_error_format(const tg_error *e, char *buf, size_t len)
{
	tg__sink s = { .buf = buf, .len = len };

	format_to(e, &s);
	return tg__sink_finish(&s);
}
