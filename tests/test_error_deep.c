/*
 * test_error_deep.c - error trees deeper than any stack: every operation
 * on a tree runs in bounded C stack (docs/errors.md, "Depth").
 *
 * Each test runs its body on a thread with a 64 KiB stack (or
 * PTHREAD_STACK_MIN, if larger) and builds chains 10^6 levels deep: a
 * group containing a group containing ... a group of two leaves
 * (ValueError "v", TypeError "t"); a chain of 10^6 errors linked by
 * context; and a "caterpillar" (each level a group of a leaf and the next
 * level).  On them: split by type and by predicate, subgroup, except*,
 * leaf iteration, the cause check, printing (a FILE and a buffer), JSON,
 * the copy tg_error_with_note makes, and release.  The recursive versions
 * overflowed a 256 KiB stack at 2,000 levels (split) and 10,000 (free).
 *
 * Then the same with every allocation failing: split, subgroup and
 * except* fail cleanly, leaf iteration still visits every leaf (finding
 * each from the root), the cause check says TG_ENOMEM, JSON is still
 * valid (objects past the walk's first levels marked "truncated"), a
 * long chain prints with the deepest links left out and counted, and
 * release needs no memory at all.
 *
 * On small trees the iterative split, subgroup and leaf walk are compared
 * with straightforward recursive versions written here, on many random
 * trees.
 *
 * Body failures are recorded with test_check.h (cmocka's asserts may not
 * run on another thread) and reported once the thread is joined.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* fopencookie */
#endif

#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "test_alloc.h"
#include "test_check.h"
#include "test_tree.h"

#include "taskgroup/error.h"

#include "error_internal.h"

#define DEEP 1000000
#define SMALL_STACK ((size_t)64 * 1024)

/* ------------------------------------------------------------------ */
/* A body on a small stack                                              */

typedef void (*body_fn)(void);

static void *
trampoline(void *arg)
{
	body_fn *fn = arg;

	(*fn)();
	return NULL;
}

static void
run_on_small_stack(body_fn fn)
{
	size_t size = SMALL_STACK;
	pthread_attr_t attr;
	pthread_t t;

	if (size < (size_t)PTHREAD_STACK_MIN)
		size = (size_t)PTHREAD_STACK_MIN;
	check_reset();
	assert_int_equal(pthread_attr_init(&attr), 0);
	assert_int_equal(pthread_attr_setstacksize(&attr, size), 0);
	assert_int_equal(pthread_create(&t, &attr, trampoline, &fn), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	pthread_attr_destroy(&attr);
	check_report();
}

/* ------------------------------------------------------------------ */
/* Deep trees                                                           */

/* depth groups "level" above a group "b" of ValueError "v" and
 * TypeError "t". */
static tg_error *
group_chain(size_t depth)
{
	tg_error *e = group("b", 2, TG_RAISE(&tg_ValueError, "v"),
			    TG_RAISE(&tg_TypeError, "t"));
	size_t i;

	for (i = 0; i < depth && e != NULL; i++)
		e = tg_error_group_new("level", 1, &e);
	CHECK(e != NULL);
	return e;
}

/* length errors "c", each the context of the next: the chain's head is
 * the newest. */
static tg_error *
context_chain(size_t length)
{
	tg_error *e = TG_RAISE(&tg_ValueError, "c");
	size_t i;

	for (i = 1; i < length; i++) {
		tg_error *n = TG_RAISE(&tg_ValueError, "c");

		tg__error_set_context(n, e);
		e = n;
	}
	return e;
}

/* depth levels, each a group of a leaf and the next level (a bare leaf at
 * the bottom): a walk that keeps siblings waiting needs one per level. */
static tg_error *
caterpillar(size_t depth)
{
	tg_error *e = TG_RAISE(&tg_TypeError, "bottom");
	size_t i;

	for (i = 0; i < depth && e != NULL; i++)
		e = group("cat", 2, e, TG_RAISE(&tg_ValueError, "side"));
	CHECK(e != NULL);
	return e;
}

/* The "level" groups (one child each) above the first other node, and
 * that node (into *bottom). */
static size_t
levels(const tg_error *e, const tg_error **bottom)
{
	size_t n = 0;

	while (tg_error_count(e) == 1 &&
	       strcmp(tg_error_message(e), "level") == 0) {
		e = tg_error_child(e, 0);
		n++;
	}
	*bottom = e;
	return n;
}

/* A split part of group_chain(DEEP): DEEP levels over "b" holding only
 * the leaf of type t. */
static void
check_part(const tg_error *part, const tg_error_type *t, const char *msg)
{
	const tg_error *b, *leaf;

	CHECK(part != NULL);
	if (part == NULL)
		return;
	CHECK_INT(levels(part, &b), DEEP);
	CHECK(strcmp(tg_error_message(b), "b") == 0);
	CHECK_INT(tg_error_count(b), 1);
	leaf = tg_error_child(b, 0);
	CHECK(tg_error_is(leaf, t) && !tg_error_is_group(leaf));
	CHECK(strcmp(tg_error_message(leaf), msg) == 0);
	CHECK_INT(tg_error_leaf_count(part), 1);
}

static size_t pred_calls;

static bool
is_type_error(const tg_error *e, void *ctx)
{
	(void)ctx;
	pred_calls++;
	return tg_error_is(e, &tg_TypeError);
}

struct leaves {
	size_t n;
	char order[8];
};

static int
note_leaf(tg_error *leaf, void *arg)
{
	struct leaves *l = arg;

	if (l->n < sizeof(l->order) - 1)
		l->order[l->n] = tg_error_message(leaf)[0];
	l->n++;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Streaming checks of a FILE's output                                  */

/* A FILE that checks JSON structure as it is written (compact JSON, as
 * the library writes it): brackets balance, strings close, and it counts
 * the "type" keys (one per error object) and the deepest nesting. */
struct json_watch {
	long depth, max_depth;
	size_t types, bytes;
	bool in_string, escaped, bad;
	char last[8]; /* the string just closed, when short */
	size_t last_n;
	bool key_pending;
};

static ssize_t
watch_write(void *cookie, const char *buf, size_t size)
{
	struct json_watch *w = cookie;
	size_t i;

	for (i = 0; i < size; i++) {
		char ch = buf[i];

		w->bytes++;
		if (w->in_string) {
			if (w->escaped)
				w->escaped = false;
			else if (ch == '\\')
				w->escaped = true;
			else if (ch == '"')
				w->in_string = false, w->key_pending = true;
			else if (w->last_n < sizeof(w->last))
				w->last[w->last_n++] = ch;
			continue;
		}
		if (ch == ':' && w->key_pending && w->last_n == 4 &&
		    memcmp(w->last, "type", 4) == 0)
			w->types++;
		w->key_pending = false;
		if (ch == '"') {
			w->in_string = true;
			w->last_n = 0;
		} else if (ch == '{' || ch == '[') {
			if (++w->depth > w->max_depth)
				w->max_depth = w->depth;
		} else if (ch == '}' || ch == ']') {
			if (--w->depth < 0)
				w->bad = true;
		}
	}
	return (ssize_t)size;
}

static FILE *
watch_open(struct json_watch *w)
{
	cookie_io_functions_t io = { NULL, watch_write, NULL, NULL };

	memset(w, 0, sizeof(*w));
	return fopencookie(w, "w", io);
}

/* The JSON of e, checked: balanced, one "type" key per object. */
static void
check_json(const tg_error *e, size_t objects, long min_depth)
{
	struct json_watch w;
	FILE *f = watch_open(&w);

	CHECK(f != NULL);
	if (f == NULL)
		return;
	CHECK_INT(tg_error_write_json(e, f), TG_OK);
	fclose(f);
	CHECK(!w.bad && !w.in_string && w.depth == 0);
	CHECK_INT(w.types, objects);
	CHECK(w.max_depth >= min_depth);
	/* The same length as the buffer form (plus its newline). */
	CHECK_INT(w.bytes, tg_error_to_json(e, NULL, 0) + 1);
}

/* ------------------------------------------------------------------ */
/* Depth 10^6                                                           */

static void
deep_split_body(void)
{
	tg_error *e = group_chain(DEEP), *m = NULL, *r = NULL, *err;
	struct leaves l = { 0, "" };
	int status = -1, ran = 0;

	CHECK_INT(tg_error_leaf_count(e), 2);
	CHECK_INT(tg_error_split(e, &tg_ValueError, &m, &r), TG_OK);
	check_part(m, &tg_ValueError, "v");
	check_part(r, &tg_TypeError, "t");
	tg_error_decref(m);
	tg_error_decref(r);
	/* The predicate sees every node, in preorder: the levels, "b" and
	 * both leaves. */
	pred_calls = 0;
	CHECK_INT(tg_error_split_pred(e, is_type_error, NULL, &m, &r), TG_OK);
	CHECK_INT(pred_calls, DEEP + 3);
	check_part(m, &tg_TypeError, "t");
	check_part(r, &tg_ValueError, "v");
	tg_error_decref(m);
	tg_error_decref(r);
	m = tg_error_subgroup(e, &tg_TypeError, &status);
	CHECK_INT(status, TG_OK);
	check_part(m, &tg_TypeError, "t");
	tg_error_decref(m);
	/* except* on a shared deep tree: the rest replaces it. */
	err = tg_error_incref(e);
	TG_EXCEPT_STAR(&err, &tg_ValueError, eg)
	{
		ran++;
		check_part(eg, &tg_ValueError, "v");
	}
	CHECK_INT(ran, 1);
	check_part(err, &tg_TypeError, "t");
	tg_error_decref(err);
	tg_error_foreach_leaf(e, note_leaf, &l);
	CHECK_INT(l.n, 2);
	CHECK(strcmp(l.order, "vt") == 0);
	/* The copy-on-write copy is shallow: it shares the deep child. */
	m = tg_error_with_note(tg_error_incref(e), "noted");
	CHECK(m != e && tg_error_child(m, 0) == tg_error_child(e, 0));
	tg_error_decref(m);
	tg_error_decref(e); /* a million nodes, freed with no recursion */
}

static void
test_error_deep_split_subgroup_except_star_free(void **state)
{
	(void)state;
	run_on_small_stack(deep_split_body);
}

static void
deep_print_body(void)
{
	static char text[1 << 16], shallow_text[1 << 16];
	tg_error *e = group_chain(DEEP), *s = group_chain(40);
	size_t one, two, n;
	FILE *null = fopen("/dev/null", "w");

	/* The drawing stops at depth 10: the same text at any depth. */
	n = tg_error_format(e, text, sizeof(text));
	CHECK(n > 0 && n < sizeof(text));
	tg_error_format(s, shallow_text, sizeof(shallow_text));
	CHECK(strcmp(text, shallow_text) == 0);
	CHECK(strstr(text, "max_group_depth is 10") != NULL);
	CHECK(null != NULL);
	if (null != NULL) {
		CHECK_INT(tg_error_print(e, null), TG_OK);
		CHECK_INT(tg_error_write_json(e, null), TG_OK);
		fclose(null);
	}
	/* JSON has every level: DEEP + 3 objects, nested two per level (the
	 * object and its children array). */
	check_json(e, DEEP + 3, 2 * DEEP);
	tg_error_decref(s);
	/* Each level adds the same text: the length is linear. */
	s = group_chain(1);
	one = tg_error_to_json(s, NULL, 0);
	tg_error_decref(s);
	s = group_chain(2);
	two = tg_error_to_json(s, NULL, 0);
	tg_error_decref(s);
	CHECK_INT(tg_error_to_json(e, NULL, 0), one + (DEEP - 1) * (two - one));
	tg_error_decref(e);
}

static void
test_error_deep_print_and_json(void **state)
{
	(void)state;
	run_on_small_stack(deep_print_body);
}

/* A chain of 10^6 contexts: drawn deepest first, whole; JSON nests it. */
static void
deep_chain_body(void)
{
	tg_error *e = context_chain(DEEP), *s;
	size_t one, two, n;
	FILE *null = fopen("/dev/null", "w");

	CHECK(null != NULL);
	if (null != NULL) {
		CHECK_INT(tg_error_print(e, null), TG_OK);
		fclose(null);
	}
	s = context_chain(1);
	one = tg_error_format(s, NULL, 0);
	tg_error_decref(s);
	s = context_chain(2);
	two = tg_error_format(s, NULL, 0);
	tg_error_decref(s);
	n = tg_error_format(e, NULL, 0);
	CHECK_INT(n, one + (DEEP - 1) * (two - one));
	check_json(e, DEEP, DEEP);
	tg_error_decref(e);
}

static void
test_error_deep_context_chain_prints_whole(void **state)
{
	(void)state;
	run_on_small_stack(deep_chain_body);
}

/* The cause check walks a caterpillar, whose walk keeps one sibling
 * waiting per level; and finds a cycle at the bottom of a deep chain. */
static void
deep_cause_body(void)
{
	tg_error *cat = caterpillar(DEEP);
	tg_error *x = TG_RAISE(&tg_RuntimeError, "x");
	tg_error *bottom_holder, *chain;
	struct leaves l = { 0, "" };

	CHECK_INT(tg_error_leaf_count(cat), DEEP + 1);
	tg_error_foreach_leaf(cat, note_leaf, &l);
	CHECK_INT(l.n, DEEP + 1);
	CHECK_INT(tg_error_set_cause(x, cat), TG_OK);
	CHECK(tg_error_cause(x) == cat);
	/* x at the bottom of a deep chain: making it x's cause is a cycle. */
	bottom_holder = group("holder", 1, x);
	chain = bottom_holder;
	{
		size_t i;

		for (i = 0; i < DEEP && chain != NULL; i++)
			chain = tg_error_group_new("level", 1, &chain);
	}
	/* x is held only by the chain: it is "unshared" for the check, and
	 * the check must see the cycle. */
	CHECK_INT(tg_error_set_cause(x, tg_error_incref(chain)), TG_EINVAL);
	tg_error_decref(chain);
}

static void
test_error_deep_cause_check(void **state)
{
	(void)state;
	run_on_small_stack(deep_cause_body);
}

/* ------------------------------------------------------------------ */
/* Depth 10^6 with every allocation failing                             */

static void
deep_oom_body(void)
{
	tg_error *e = group_chain(DEEP), *c = context_chain(DEEP);
	tg_error *cat = caterpillar(1000), *x = TG_RAISE(&tg_ValueError, "x");
	tg_error *m = e, *r = e, *err = tg_error_incref(e);
	struct leaves l = { 0, "" };
	struct json_watch w;
	static char text[1 << 16];
	long live = test_alloc_live;
	int status = -1, ran = 0;
	FILE *f;

	test_alloc_fail_all = 1;
	/* Split, subgroup and except* fail cleanly (the first level already
	 * needs memory). */
	CHECK_INT(tg_error_split(e, &tg_ValueError, &m, &r), TG_ENOMEM);
	CHECK(m == NULL && r == NULL);
	CHECK(tg_error_subgroup(e, &tg_ValueError, &status) == NULL);
	CHECK_INT(status, TG_ENOMEM);
	TG_EXCEPT_STAR(&err, &tg_ValueError, eg)
	{
		ran++;
	}
	CHECK_INT(ran, 0);
	CHECK(err == e);
	tg_error_decref(err);
	CHECK_INT(test_alloc_live, live);
	/* Leaf iteration has no way to fail: it finds each leaf from the
	 * root when its stack cannot grow. */
	tg_error_foreach_leaf(e, note_leaf, &l);
	CHECK_INT(l.n, 2);
	CHECK(strcmp(l.order, "vt") == 0);
	/* The cause check cannot walk the caterpillar without memory. */
	CHECK_INT(tg_error_set_cause(x, cat), TG_ENOMEM);
	CHECK(tg_error_cause(x) == NULL);
	live = test_alloc_live; /* cat was consumed: released */
	/* JSON: valid, the levels past the first ones truncated. */
	f = watch_open(&w);
	CHECK(f != NULL);
	if (f != NULL) {
		CHECK_INT(tg_error_write_json(e, f), TG_OK);
		fclose(f);
		CHECK(!w.bad && !w.in_string && w.depth == 0);
		CHECK(w.types > 1 && w.types < 100);
	}
	tg_error_to_json(e, text, sizeof(text));
	CHECK(strstr(text, "\"children\":[],\"truncated\":true}") != NULL);
	/* A long chain prints its first links, saying how many are left out
	 * (the first 64 fit the stack). */
	tg_error_format(c, text, sizeof(text));
	CHECK(strstr(text, "... (999936 earlier errors of this chain not "
			   "shown: out of memory)") != NULL);
	/* Nothing above allocated anything it kept. */
	CHECK_INT(test_alloc_live, live);
	/* Release needs no memory. */
	tg_error_decref(e);
	tg_error_decref(c);
	tg_error_decref(x);
	test_alloc_fail_all = 0;
}

static void
test_error_deep_out_of_memory(void **state)
{
	(void)state;
	run_on_small_stack(deep_oom_body);
}

/* ------------------------------------------------------------------ */
/* Small trees: the iterative walks against recursive ones              */

static uint64_t rng = 0x9e3779b97f4a7c15u;

static unsigned
rnd(unsigned n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned)(rng % n);
}

static const tg_error_type *const kinds[] = { &tg_ValueError, &tg_TypeError,
					      &tg_OSError, &tg_Interrupt };

static tg_error *
random_tree(int depth)
{
	tg_error *kids[5];
	size_t n, i;

	if (depth == 0 || rnd(3) == 0) {
		tg_error *e = TG_RAISE(kinds[rnd(4)], "%u", rnd(100));

		if (rnd(4) == 0)
			tg_error_set_cause(e, TG_RAISE(&tg_RuntimeError, "c"));
		return e;
	}
	n = 1 + rnd(4);
	for (i = 0; i < n; i++)
		kids[i] = random_tree(depth - 1);
	return tg_error_group_new("g", n, kids);
}

/* CPython's split, recursively, as a shape ("msg[...]", leaves
 * "Type:msg"); "" for an empty part. */
static void
ref_split(const tg_error *e, const tg_error_type *t, bool want_match,
	  char *out, size_t len)
{
	size_t i, start = strlen(out), before;
	bool any = false;

	if (tg_error_is(e, t) || !tg_error_is_group(e)) {
		if (tg_error_is(e, t) == want_match)
			snprintf(out + start, len - start, "%s:%s",
				 tg_error_type_of(e)->name,
				 tg_error_message(e));
		return;
	}
	snprintf(out + start, len - start, "%s[", tg_error_message(e));
	for (i = 0; i < tg_error_count(e); i++) {
		before = strlen(out);
		if (any)
			strncat(out, ",", len - before - 1);
		ref_split(tg_error_child(e, i), t, want_match, out, len);
		if (strlen(out) == before + (any ? 1 : 0))
			out[before] = '\0'; /* the child's part was empty */
		else
			any = true;
	}
	if (!any)
		out[start] = '\0';
	else
		strncat(out, "]", len - strlen(out) - 1);
}

static void
shape(const tg_error *e, char *out, size_t len)
{
	size_t i, start = strlen(out);

	if (e == NULL)
		return;
	if (!tg_error_is_group(e)) {
		snprintf(out + start, len - start, "%s:%s",
			 tg_error_type_of(e)->name, tg_error_message(e));
		return;
	}
	snprintf(out + start, len - start, "%s[", tg_error_message(e));
	for (i = 0; i < tg_error_count(e); i++) {
		if (i > 0)
			strncat(out, ",", len - strlen(out) - 1);
		shape(tg_error_child(e, i), out, len);
	}
	strncat(out, "]", len - strlen(out) - 1);
}

static void
ref_leaves(const tg_error *e, char *out, size_t len)
{
	size_t i;

	if (!tg_error_is_group(e)) {
		size_t n = strlen(out);

		snprintf(out + n, len - n, "%s;", tg_error_message(e));
		return;
	}
	for (i = 0; i < tg_error_count(e); i++)
		ref_leaves(tg_error_child(e, i), out, len);
}

static int
leaf_text(tg_error *leaf, void *arg)
{
	char *out = arg;
	size_t n = strlen(out);

	snprintf(out + n, 4096 - n, "%s;", tg_error_message(leaf));
	return 0;
}

static void
test_error_deep_iterative_matches_recursive(void **state)
{
	static char want[4096], got[4096];
	int round, k;

	(void)state;
	for (round = 0; round < 400; round++) {
		tg_error *e = random_tree(1 + rnd(5));

		for (k = 0; k < 4; k++) {
			const tg_error_type *t = kinds[k];
			tg_error *m, *r, *sub;
			int status;

			assert_int_equal(tg_error_split(e, t, &m, &r), TG_OK);
			want[0] = got[0] = '\0';
			ref_split(e, t, true, want, sizeof(want));
			shape(m, got, sizeof(got));
			assert_string_equal(got, want);
			want[0] = got[0] = '\0';
			ref_split(e, t, false, want, sizeof(want));
			shape(r, got, sizeof(got));
			assert_string_equal(got, want);
			sub = tg_error_subgroup(e, t, &status);
			assert_int_equal(status, TG_OK);
			/* subgroup is split's match part. */
			want[0] = got[0] = '\0';
			shape(m, want, sizeof(want));
			shape(sub, got, sizeof(got));
			assert_string_equal(got, want);
			tg_error_decref(m);
			tg_error_decref(r);
			tg_error_decref(sub);
		}
		want[0] = got[0] = '\0';
		ref_leaves(e, want, sizeof(want));
		tg_error_foreach_leaf(e, leaf_text, got);
		assert_string_equal(got, want);
		tg_error_decref(e);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, test_alloc_setup, test_alloc_teardown)
		T(test_error_deep_split_subgroup_except_star_free),
		T(test_error_deep_print_and_json),
		T(test_error_deep_context_chain_prints_whole),
		T(test_error_deep_cause_check),
		T(test_error_deep_out_of_memory),
		T(test_error_deep_iterative_matches_recursive),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
