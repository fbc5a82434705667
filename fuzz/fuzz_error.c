/*
 * fuzz_error.c - libFuzzer target for the error module alone (no pool):
 * the input is a program for a stack machine that builds error trees
 * (leaves of many types with arbitrary message bytes, errno errors, group
 * nodes, notes, causes, shared subtrees) and runs split / subgroup /
 * except* / printing / JSON on them through fz_exercise(), which checks
 * the invariants (fuzz_util.c).  One opcode per byte (byte % OP_COUNT),
 * operands in the bytes after it; see fuzz/README.md for the encoding and
 * fuzz/gen_corpus.sh for examples.  Everything is released at the end:
 * LeakSanitizer reports any reference the library loses.
 */
#include <errno.h>
#include <string.h>

#include "fuzz_util.h"

enum {
	OP_LEAF,     /* type, code, message: push a new leaf */
	OP_ERRNO,    /* errno byte, message: push tg_error_from_errno */
	OP_GROUP,    /* n, message: pop n (1..32), push a group of them */
	OP_NOTE,     /* note: add_note (unshared top) or with_note (shared) */
	OP_CAUSE,    /* pop the cause, set it on the new top */
	OP_DUP,      /* push another reference to the top */
	OP_SPLIT,    /* type: replace the top by its match and rest */
	OP_EXCEPT,   /* type: except* on the top, push the handled part */
	OP_EXERCISE, /* fz_exercise on the top */
	OP_POP,      /* release the top */
	OP_SWAP,     /* k: swap the top with the k-th from the top */
	OP_COUNT
};

#define STACK_MAX 64
#define MSG_MAX 48
/* Trees stay small enough to print many times per input: an operation
 * that would build one of more nodes (counted as printing visits them) is
 * skipped. */
#define SIZE_MAX_NODES 500

static tg_error *stack[STACK_MAX];
static size_t depth;

static void
push(tg_error *e)
{
	FZ_CHECK(e != NULL, "NULL where an error was expected");
	if (depth == STACK_MAX) {
		tg_error_decref(e);
		return;
	}
	stack[depth++] = e;
}

static tg_error *
pop(void)
{
	return depth != 0 ? stack[--depth] : NULL;
}

/* How many references the stack holds to e (a lower bound of its count:
 * when 1, only an error that nothing else shares). */
static size_t
refs_on_stack(const tg_error *e)
{
	size_t i, n = 0;

	for (i = 0; i < depth; i++)
		n += stack[i] == e;
	return n;
}

/* Whether e is reachable from `from` (as a child, cause or context at
 * any depth).  Gives up after a fixed number of visits (shared subtrees
 * make the walk exponential): 1 yes, 0 no, -1 unknown. */
static int visits;

static int
reachable(const tg_error *from, const tg_error *e)
{
	size_t i;
	int r;

	if (from == NULL)
		return 0;
	if (from == e)
		return 1;
	if (++visits > 20000)
		return -1;
	for (i = 0; i < tg_error_count(from); i++)
		if ((r = reachable(tg_error_child(from, i), e)) != 0)
			return r;
	if ((r = reachable(tg_error_cause(from), e)) != 0)
		return r;
	return reachable(tg_error_context(from), e);
}

/* Whether the library sees e as unshared: 1 when the stack (and extra,
 * a reference the caller holds apart from it) holds its only reference,
 * 0 when not, -1 when the walk gave up. */
static int
unshared(const tg_error *e, const tg_error *extra)
{
	size_t i;
	int r;

	if (e == tg_error_oom() || refs_on_stack(e) != 1)
		return 0;
	visits = 0;
	if ((r = reachable(extra, e)) != 0)
		return r == 1 ? 0 : -1;
	for (i = 0; i < depth; i++) {
		if (stack[i] == e)
			continue;
		if ((r = reachable(stack[i], e)) != 0)
			return r == 1 ? 0 : -1;
	}
	return 1;
}

static void
op_leaf(fz_in *in)
{
	const tg_error_type *t = fz_leaf_type(fz_byte(in));
	int code = (int)(int8_t)fz_byte(in);
	char msg[MSG_MAX + 1];
	tg_error *e;

	fz_string(in, msg, MSG_MAX);
	e = tg_error_new_at(t, code, (fz_byte(in) & 1) ? "fz.c" : NULL, 7,
			    "fz", "%s", msg);
	FZ_CHECK(tg_error_type_of(e) == t, "leaf of type %s is %s", t->name,
		 tg_error_type_of(e)->name);
	FZ_CHECK(tg_error_code(e) == code, "code");
	FZ_CHECK(strcmp(tg_error_message(e), msg) == 0, "message");
	FZ_CHECK(tg_error_provenance_of(e).task_id == 0 &&
			 tg_error_provenance_of(e).worker == -1,
		 "raised outside a task");
	push(e);
}

static void
op_errno(fz_in *in)
{
	int errnum = (int)fz_byte(in) % 140;
	char msg[MSG_MAX + 1];
	tg_error *e;

	fz_string(in, msg, MSG_MAX);
	e = tg_error_from_errno(errnum, "%s", msg);
	FZ_CHECK(tg_error_type_of(e) == tg_error_type_for_errno(errnum),
		 "errno %d: %s", errnum, tg_error_type_of(e)->name);
	FZ_CHECK(tg_error_is(e, &tg_OSError), "errno error is an OSError");
	FZ_CHECK(tg_error_code(e) == errnum, "errno code");
	push(e);
}

static void
op_group(fz_in *in)
{
	size_t n = fz_byte(in) % 32 + 1, i, leaves = 0, nodes = 0;
	tg_error *kids[32];
	bool base = false;
	char msg[MSG_MAX + 1];
	tg_error *g;

	fz_string(in, msg, MSG_MAX);
	if (n > depth)
		n = depth;
	if (n == 0) {
		/* No children: refused, nothing consumed. */
		FZ_CHECK(tg_error_group_new(msg, 0, kids) == NULL, "empty group");
		return;
	}
	for (i = 0; i < n; i++) {
		kids[i] = stack[depth - n + i];
		leaves += tg_error_leaf_count(kids[i]);
		nodes += fz_size(kids[i], SIZE_MAX_NODES);
		base = base || !tg_error_is(kids[i], &tg_Exception);
	}
	if (nodes >= SIZE_MAX_NODES)
		return;
	depth -= n;
	g = tg_error_group_new(msg, n, kids);
	FZ_CHECK(g != NULL && tg_error_count(g) == n, "group of %zu", n);
	FZ_CHECK(tg_error_leaf_count(g) == leaves, "group leaves");
	FZ_CHECK(tg_error_type_of(g) ==
			 (base ? &tg_BaseExceptionGroup : &tg_ExceptionGroup),
		 "group type %s", tg_error_type_of(g)->name);
	for (i = 0; i < n; i++)
		FZ_CHECK(tg_error_child(g, i) == kids[i], "child %zu kept", i);
	push(g);
}

static void
op_note(fz_in *in)
{
	char note[MSG_MAX + 1];
	tg_error *e = depth != 0 ? stack[depth - 1] : NULL;
	size_t notes;
	int state;

	fz_string(in, note, MSG_MAX);
	if (e == NULL)
		return;
	notes = tg_error_note_count(e);
	state = unshared(e, NULL); /* while e is still on the stack */
	pop();
	if (state == 1) {
		int rc = tg_error_add_note(e, "%s", note);

		FZ_CHECK(rc == TG_OK, "add_note on an unshared error: %d", rc);
		FZ_CHECK(tg_error_note_count(e) == notes + 1, "note added");
		push(e);
		return;
	}
	e = tg_error_with_note(e, "%s", note);
	FZ_CHECK(tg_error_note_count(e) == notes + 1, "with_note");
	FZ_CHECK(strcmp(tg_error_note(e, notes), note) == 0, "note text");
	push(e);
}

static void
op_cause(fz_in *in)
{
	tg_error *cause = pop(), *e;
	int rc, state;

	(void)in;
	if (cause == NULL)
		return;
	e = depth != 0 ? stack[depth - 1] : NULL;
	if (e == NULL || fz_size(e, SIZE_MAX_NODES) + fz_size(cause, SIZE_MAX_NODES) >
				 SIZE_MAX_NODES) {
		push(cause);
		return;
	}
	/* cause is consumed whatever happens. */
	state = unshared(e, cause);
	rc = tg_error_set_cause(e, cause);
	if (state == 1) {
		/* e is private and cannot be inside cause. */
		FZ_CHECK(rc == TG_OK, "set_cause: %d", rc);
		FZ_CHECK(tg_error_cause(e) == cause, "cause set");
	} else if (state == 0) {
		FZ_CHECK(rc == TG_ESTATE || rc == TG_EINVAL,
			 "set_cause on a shared error: %d", rc);
	} else {
		FZ_CHECK(rc == TG_OK || rc == TG_ESTATE || rc == TG_EINVAL,
			 "set_cause: %d", rc);
	}
}

static void
op_split(fz_in *in)
{
	const tg_error_type *t = fz_match_type(fz_byte(in));
	tg_error *e = pop(), *m = NULL, *r = NULL;
	int rc;

	if (e == NULL)
		return;
	rc = tg_error_split(e, t, &m, &r);
	FZ_CHECK(rc == TG_OK, "split %d", rc);
	FZ_CHECK(tg_error_leaf_count(m) + tg_error_leaf_count(r) ==
			 tg_error_leaf_count(e),
		 "split leaves");
	tg_error_decref(e);
	if (r != NULL)
		push(r);
	if (m != NULL)
		push(m);
}

static void
op_except(fz_in *in)
{
	const tg_error_type *t = fz_match_type(fz_byte(in));
	tg_error *e = pop(), *eg;
	size_t leaves;

	if (e == NULL)
		return;
	leaves = tg_error_leaf_count(e);
	eg = tg_error_except_star_take(&e, t);
	if (eg == NULL) {
		push(e);
		return;
	}
	FZ_CHECK(tg_error_is_group(eg), "except* binds a group");
	FZ_CHECK(tg_error_leaf_count(eg) + tg_error_leaf_count(e) == leaves,
		 "except* leaves");
	if (e != NULL)
		push(e);
	push(eg);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fz_in in = { data, size, 0 };
	int steps = 0;

	depth = 0;
	while (fz_more(&in) && steps++ < 256) {
		switch (fz_byte(&in) % OP_COUNT) {
		case OP_LEAF:
			op_leaf(&in);
			break;
		case OP_ERRNO:
			op_errno(&in);
			break;
		case OP_GROUP:
			op_group(&in);
			break;
		case OP_NOTE:
			op_note(&in);
			break;
		case OP_CAUSE:
			op_cause(&in);
			break;
		case OP_DUP:
			if (depth != 0)
				push(tg_error_incref(stack[depth - 1]));
			break;
		case OP_SPLIT:
			op_split(&in);
			break;
		case OP_EXCEPT:
			op_except(&in);
			break;
		case OP_EXERCISE:
			fz_exercise(depth != 0 ? stack[depth - 1] : NULL, &in);
			break;
		case OP_POP:
			tg_error_decref(pop());
			break;
		case OP_SWAP:
			if (depth >= 2) {
				size_t k = fz_byte(&in) % (depth - 1) + 1;
				tg_error *t = stack[depth - 1];

				stack[depth - 1] = stack[depth - 1 - k];
				stack[depth - 1 - k] = t;
			}
			break;
		}
	}
	/* The top of what is left is checked once more; all is released. */
	for (steps = 0; depth != 0; steps++) {
		tg_error *e = pop();

		if (steps < 2)
			fz_exercise(e, &in);
		tg_error_decref(e);
	}
	return 0;
}
