/*
 * fuzz_util.c - see fuzz_util.h.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* open_memstream */
#endif
#include "fuzz_util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const tg_error_type fz_ParseError = { "ParseError", &tg_ValueError, NULL, 0u };
const tg_error_type fz_DeepError = { "DeepError", &fz_ParseError, NULL, 0u };
const tg_error_type fz_Abort = { "Abort", &tg_BaseException, NULL,
				 TG_ERROR_TYPE_FATAL };

void
fz_fail(const char *file, int line, const char *cond, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "\n%s:%d: check failed: %s\n  ", file, line, cond);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fflush(stderr);
	abort();
}

void
fz_string(fz_in *in, char *out, size_t max)
{
	size_t len = max != 0 ? fz_byte(in) % (max + 1) : 0, i;

	for (i = 0; i < len; i++)
		out[i] = (char)fz_byte(in);
	out[len] = '\0';
}

const tg_error_type *
fz_leaf_type(unsigned b)
{
	static const tg_error_type *const types[] = {
		&tg_ValueError,       &tg_TypeError,
		&tg_RuntimeError,     &tg_OSError,
		&fz_ParseError,       &fz_DeepError,
		&tg_UnicodeDecodeError, &tg_FileNotFoundError,
		&tg_CancelledError,   &tg_Interrupt,
		&tg_TimeoutError,     &tg_NotImplementedError,
		&fz_Abort,            &tg_Exception,
		&tg_BaseException,    &tg_MemoryError,
	};

	return types[b % (sizeof(types) / sizeof(types[0]))];
}

const tg_error_type *
fz_match_type(unsigned b)
{
	static const tg_error_type *const extra[] = {
		&tg_ExceptionGroup, &tg_BaseExceptionGroup, &tg_Exception,
		&tg_BaseException,  &tg_ValueError,
	};

	if (b & 0x80u)
		return extra[(b & 0x7fu) % (sizeof(extra) / sizeof(extra[0]))];
	return fz_leaf_type(b);
}

bool
fz_is_bare_cancel(const tg_error *e)
{
	return e != NULL && tg_error_count(e) == 0 &&
	       (tg_error_type_of(e)->flags & TG_ERROR_TYPE_CANCEL) != 0;
}

static int
fatal_leaf(tg_error *leaf, void *ctx)
{
	(void)ctx;
	return (tg_error_type_of(leaf)->flags & TG_ERROR_TYPE_FATAL) != 0;
}

bool
fz_has_fatal(const tg_error *e)
{
	return e != NULL && tg_error_foreach_leaf(e, fatal_leaf, NULL) != 0;
}

size_t
fz_weight(const tg_error *e)
{
	size_t w, i, n;

	if (e == NULL)
		return 0;
	n = tg_error_count(e);
	if (n == 0) {
		w = (tg_error_type_of(e)->flags & TG_ERROR_TYPE_CANCEL) ? 0 : 1;
	} else {
		w = 0;
		for (i = 0; i < n; i++)
			w += fz_weight(tg_error_child(e, i));
	}
	return w + fz_weight(tg_error_context(e));
}

static size_t
size_rec(const tg_error *e, size_t limit, size_t acc)
{
	size_t i, n;

	if (e == NULL || acc > limit)
		return acc;
	acc++;
	n = tg_error_count(e);
	for (i = 0; i < n && acc <= limit; i++)
		acc = size_rec(tg_error_child(e, i), limit, acc);
	acc = size_rec(tg_error_cause(e), limit, acc);
	return size_rec(tg_error_context(e), limit, acc);
}

size_t
fz_size(const tg_error *e, size_t limit)
{
	size_t n = size_rec(e, limit, 0);

	return n > limit ? limit + 1 : n;
}

/* ------------------------------------------------------------------ */
/* JSON                                                                 */

typedef struct json {
	const unsigned char *s;
	size_t n, i;
	int depth;
} json;

static void
json_ws(json *j)
{
	while (j->i < j->n && (j->s[j->i] == ' ' || j->s[j->i] == '\t' ||
			       j->s[j->i] == '\n' || j->s[j->i] == '\r'))
		j->i++;
}

static bool
json_lit(json *j, const char *lit)
{
	size_t len = strlen(lit);

	if (j->n - j->i < len || memcmp(j->s + j->i, lit, len) != 0)
		return false;
	j->i += len;
	return true;
}

static bool
is_hex(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
	       (c >= 'A' && c <= 'F');
}

/* One UTF-8 sequence starting at j->i (RFC 3629: no overlongs, no
 * surrogates, at most U+10FFFF). */
static bool
json_utf8(json *j)
{
	const unsigned char *s = j->s + j->i;
	size_t left = j->n - j->i, len, k;
	unsigned c = s[0], lo = 0x80, hi = 0xbf;

	if (c < 0x80) {
		len = 1;
	} else if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		if (c == 0xe0)
			lo = 0xa0;
		if (c == 0xed)
			hi = 0x9f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		if (c == 0xf0)
			lo = 0x90;
		if (c == 0xf4)
			hi = 0x8f;
	} else {
		return false;
	}
	if (left < len)
		return false;
	for (k = 1; k < len; k++) {
		unsigned b = s[k];

		if (b < (k == 1 ? lo : 0x80) || b > (k == 1 ? hi : 0xbf))
			return false;
	}
	j->i += len;
	return true;
}

static bool
json_string(json *j)
{
	if (j->i >= j->n || j->s[j->i] != '"')
		return false;
	j->i++;
	while (j->i < j->n) {
		unsigned char c = j->s[j->i];

		if (c == '"') {
			j->i++;
			return true;
		}
		if (c < 0x20)
			return false;
		if (c == '\\') {
			if (++j->i >= j->n)
				return false;
			c = j->s[j->i++];
			if (c == 'u') {
				int k;

				for (k = 0; k < 4; k++) {
					if (j->i >= j->n || !is_hex(j->s[j->i]))
						return false;
					j->i++;
				}
			} else if (strchr("\"\\/bfnrt", c) == NULL || c == 0) {
				return false;
			}
			continue;
		}
		if (!json_utf8(j))
			return false;
	}
	return false;
}

static bool
json_number(json *j)
{
	size_t start;

	if (j->i < j->n && j->s[j->i] == '-')
		j->i++;
	if (j->i >= j->n)
		return false;
	if (j->s[j->i] == '0') {
		j->i++;
	} else if (j->s[j->i] >= '1' && j->s[j->i] <= '9') {
		while (j->i < j->n && j->s[j->i] >= '0' && j->s[j->i] <= '9')
			j->i++;
	} else {
		return false;
	}
	if (j->i < j->n && j->s[j->i] == '.') {
		start = ++j->i;
		while (j->i < j->n && j->s[j->i] >= '0' && j->s[j->i] <= '9')
			j->i++;
		if (j->i == start)
			return false;
	}
	if (j->i < j->n && (j->s[j->i] == 'e' || j->s[j->i] == 'E')) {
		j->i++;
		if (j->i < j->n && (j->s[j->i] == '+' || j->s[j->i] == '-'))
			j->i++;
		start = j->i;
		while (j->i < j->n && j->s[j->i] >= '0' && j->s[j->i] <= '9')
			j->i++;
		if (j->i == start)
			return false;
	}
	return true;
}

static bool
json_value(json *j)
{
	bool ok = false;

	if (++j->depth > 256)
		return false;
	json_ws(j);
	if (j->i >= j->n)
		return false;
	switch (j->s[j->i]) {
	case '{':
		j->i++;
		json_ws(j);
		if (j->i < j->n && j->s[j->i] == '}') {
			j->i++;
			ok = true;
			break;
		}
		for (;;) {
			json_ws(j);
			if (!json_string(j))
				break;
			json_ws(j);
			if (j->i >= j->n || j->s[j->i++] != ':')
				break;
			if (!json_value(j))
				break;
			json_ws(j);
			if (j->i < j->n && j->s[j->i] == ',') {
				j->i++;
				continue;
			}
			ok = j->i < j->n && j->s[j->i++] == '}';
			break;
		}
		break;
	case '[':
		j->i++;
		json_ws(j);
		if (j->i < j->n && j->s[j->i] == ']') {
			j->i++;
			ok = true;
			break;
		}
		for (;;) {
			if (!json_value(j))
				break;
			json_ws(j);
			if (j->i < j->n && j->s[j->i] == ',') {
				j->i++;
				continue;
			}
			ok = j->i < j->n && j->s[j->i++] == ']';
			break;
		}
		break;
	case '"':
		ok = json_string(j);
		break;
	case 't':
		ok = json_lit(j, "true");
		break;
	case 'f':
		ok = json_lit(j, "false");
		break;
	case 'n':
		ok = json_lit(j, "null");
		break;
	default:
		ok = json_number(j);
		break;
	}
	j->depth--;
	return ok;
}

bool
fz_json_valid(const char *s, size_t n)
{
	json j = { (const unsigned char *)s, n, 0, 0 };

	if (!json_value(&j))
		return false;
	json_ws(&j);
	return j.i == j.n;
}

/* ------------------------------------------------------------------ */
/* Exercising one error                                                 */

static int
count_leaf(tg_error *leaf, void *ctx)
{
	size_t *n = ctx;

	(void)leaf;
	(*n)++;
	return 0;
}

typedef struct stop_at {
	size_t seen, at;
} stop_at;

static int
stop_leaf(tg_error *leaf, void *ctx)
{
	stop_at *s = ctx;

	(void)leaf;
	return ++s->seen == s->at ? 7 : 0;
}

typedef struct leaf_is {
	const tg_error_type *type;
	bool ok;
} leaf_is;

static int
leaf_not_type(tg_error *leaf, void *ctx)
{
	leaf_is *c = ctx;

	if (tg_error_is(leaf, c->type))
		c->ok = false;
	return 0;
}

static int
leaf_type(tg_error *leaf, void *ctx)
{
	leaf_is *c = ctx;

	if (!tg_error_is(leaf, c->type))
		c->ok = false;
	return 0;
}

/* Leaf-only predicate: a leaf of the type (groups never match, so the
 * split is an exact partition of the leaves). */
static bool
pred_leaf_of(const tg_error *e, void *ctx)
{
	return tg_error_count(e) == 0 && tg_error_is(e, ctx);
}

static bool
all_leaves(const tg_error *e, const tg_error_type *t)
{
	leaf_is c = { t, true };

	if (e != NULL)
		tg_error_foreach_leaf(e, leaf_type, &c);
	return c.ok;
}

static bool
no_leaf(const tg_error *e, const tg_error_type *t)
{
	leaf_is c = { t, true };

	if (e != NULL)
		tg_error_foreach_leaf(e, leaf_not_type, &c);
	return c.ok;
}

/* Readers on every node: consistent with each other and NULL-safe. */
static void
check_node(const tg_error *e, int depth)
{
	size_t n = tg_error_count(e), i, leaves = 0;
	const tg_error_type *t = tg_error_type_of(e);
	tg_error_provenance p = tg_error_provenance_of(e);

	FZ_CHECK(t != NULL, "every error has a type");
	FZ_CHECK(tg_error_message(e) != NULL, "every error has a message");
	FZ_CHECK(tg_error_is(e, t) && tg_error_is(e, &tg_BaseException),
		 "isinstance of its own type and of BaseException");
	FZ_CHECK(tg_error_is_group(e) == (n != 0),
		 "group nodes, and only they, have children (%zu)", n);
	FZ_CHECK(tg_error_is_group(e) ==
			 ((t->flags & TG_ERROR_TYPE_GROUP) != 0),
		 "group flag of type %s", t->name);
	FZ_CHECK(tg_error_child(e, n) == NULL, "child past the end");
	FZ_CHECK(tg_error_note(e, tg_error_note_count(e)) == NULL,
		 "note past the end");
	for (i = 0; i < tg_error_note_count(e); i++)
		FZ_CHECK(tg_error_note(e, i) != NULL, "note %zu", i);
	FZ_CHECK(p.depth == 0 || p.chain != NULL, "provenance chain");
	if (n == 0) {
		FZ_CHECK(tg_error_leaf_count(e) == 1, "a leaf is its own leaf");
		return;
	}
	if (n != 0 && tg_error_is(e, &tg_ExceptionGroup) == false) {
		/* A BaseExceptionGroup holds at least one non-Exception. */
		bool base = false;

		for (i = 0; i < n; i++)
			base = base || !tg_error_is(tg_error_child(e, i),
						    &tg_Exception);
		FZ_CHECK(base, "BaseExceptionGroup of Exceptions only");
	}
	for (i = 0; i < n; i++) {
		const tg_error *c = tg_error_child(e, i);

		FZ_CHECK(c != NULL, "child %zu of %zu", i, n);
		leaves += tg_error_leaf_count(c);
		if (tg_error_type_of(e) == &tg_ExceptionGroup)
			FZ_CHECK(tg_error_is(c, &tg_Exception),
				 "ExceptionGroup holds a non-Exception");
		if (depth < 64)
			check_node(c, depth + 1);
	}
	FZ_CHECK(tg_error_leaf_count(e) == leaves, "leaf count %zu vs %zu",
		 tg_error_leaf_count(e), leaves);
}

static void
check_split(const tg_error *e, const tg_error_type *t)
{
	tg_error *m = NULL, *r = NULL, *sub, *m2 = NULL, *r2 = NULL;
	tg_error *x, *eg;
	size_t total = tg_error_leaf_count(e);
	int rc, st = -100;
	/* Group nodes can match t (taken whole), so the leaves of the match
	 * are all of type t only when no group type derives from t. */
	bool groups_match = tg_error_type_is(&tg_ExceptionGroup, t) ||
			    tg_error_type_is(&tg_BaseExceptionGroup, t);

	rc = tg_error_split(e, t, &m, &r);
	FZ_CHECK(rc == TG_OK, "split: %d", rc);
	if (tg_error_is(e, t))
		FZ_CHECK(m == e && r == NULL, "a matching root is taken whole");
	FZ_CHECK(tg_error_leaf_count(m) + tg_error_leaf_count(r) == total,
		 "split by %s: %zu + %zu leaves != %zu", t->name,
		 tg_error_leaf_count(m), tg_error_leaf_count(r), total);
	FZ_CHECK(m == NULL || tg_error_leaf_count(m) > 0, "empty match");
	FZ_CHECK(r == NULL || tg_error_leaf_count(r) > 0, "empty rest");
	FZ_CHECK(no_leaf(r, t), "rest holds a %s", t->name);
	if (!groups_match)
		FZ_CHECK(all_leaves(m, t), "match holds a leaf not %s", t->name);
	if (m != NULL)
		check_node(m, 0);
	if (r != NULL)
		check_node(r, 0);

	sub = tg_error_subgroup(e, t, &st);
	FZ_CHECK(st == TG_OK, "subgroup status %d", st);
	FZ_CHECK(tg_error_leaf_count(sub) == tg_error_leaf_count(m),
		 "subgroup %zu leaves, split %zu", tg_error_leaf_count(sub),
		 tg_error_leaf_count(m));
	tg_error_decref(sub);

	/* The leaf-only predicate partitions the leaves exactly. */
	rc = tg_error_split_pred(e, pred_leaf_of, (void *)t, &m2, &r2);
	FZ_CHECK(rc == TG_OK, "split_pred: %d", rc);
	FZ_CHECK(all_leaves(m2, t) && no_leaf(r2, t), "split_pred partition");
	FZ_CHECK(tg_error_leaf_count(m2) + tg_error_leaf_count(r2) == total,
		 "split_pred leaves");
	if (!groups_match)
		FZ_CHECK(tg_error_leaf_count(m2) == tg_error_leaf_count(m),
			 "split by type and by leaf predicate differ");
	sub = tg_error_subgroup_pred(e, pred_leaf_of, (void *)t, NULL);
	FZ_CHECK(tg_error_leaf_count(sub) == tg_error_leaf_count(m2),
		 "subgroup_pred");
	tg_error_decref(sub);
	tg_error_decref(m2);
	tg_error_decref(r2);

	/* except*: the same partition, the match always a group. */
	x = tg_error_incref((tg_error *)e);
	eg = tg_error_except_star_take(&x, t);
	if (tg_error_type_is(t, &tg_BaseExceptionGroup)) {
		FZ_CHECK(eg == NULL && x == e, "except* on a group type");
	} else {
		FZ_CHECK((eg == NULL) == (m == NULL), "except* vs split match");
		FZ_CHECK(eg == NULL || tg_error_is_group(eg),
			 "except* binds a group");
		FZ_CHECK(tg_error_leaf_count(eg) == tg_error_leaf_count(m),
			 "except* %zu leaves, split %zu",
			 tg_error_leaf_count(eg), tg_error_leaf_count(m));
		FZ_CHECK(tg_error_leaf_count(x) == tg_error_leaf_count(r),
			 "except* rest %zu leaves, split %zu",
			 tg_error_leaf_count(x), tg_error_leaf_count(r));
	}
	tg_error_decref(eg);
	tg_error_decref(x);
	tg_error_decref(m);
	tg_error_decref(r);
}

/* The text of f's output (open_memstream), or NULL. */
static char *
print_to_string(const tg_error *e, bool as_json, size_t *len)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);
	int rc;

	if (f == NULL)
		return NULL;
	rc = as_json ? tg_error_write_json(e, f) : tg_error_print(e, f);
	FZ_CHECK(rc == TG_OK, "print/write_json: %d", rc);
	fclose(f);
	*len = size;
	return buf;
}

/* snprintf-like: the full length, any buffer size, always terminated,
 * truncation a prefix; and the same text as the FILE * form. */
static char *
check_text(const tg_error *e, bool as_json, unsigned cut)
{
	size_t (*fn)(const tg_error *, char *, size_t) =
		as_json ? tg_error_to_json : tg_error_format;
	size_t n = fn(e, NULL, 0), k, plen = 0;
	char *full = malloc(n + 1), *part, *printed;

	FZ_CHECK(full != NULL, "malloc");
	FZ_CHECK(fn(e, full, n + 1) == n, "length changed");
	FZ_CHECK(strlen(full) == n, "%s: %zu bytes but strlen %zu",
		 as_json ? "json" : "format", n, strlen(full));
	k = n + 1 > 1 ? cut % (n + 2) : cut % 2;
	part = malloc(k != 0 ? k : 1);
	FZ_CHECK(part != NULL, "malloc");
	FZ_CHECK(fn(e, part, k) == n, "truncated call returns the full length");
	if (k != 0) {
		size_t got = strlen(part);

		FZ_CHECK(got == (n < k - 1 ? n : k - 1),
			 "truncated to %zu of %zu in %zu", got, n, k);
		FZ_CHECK(memcmp(part, full, got) == 0, "truncation not a prefix");
	}
	free(part);
	printed = print_to_string(e, as_json, &plen);
	if (printed != NULL) {
		if (as_json)
			FZ_CHECK(plen == n + 1 && printed[n] == '\n' &&
					 memcmp(printed, full, n) == 0,
				 "write_json differs from to_json");
		else
			FZ_CHECK(plen == n && memcmp(printed, full, n) == 0,
				 "print differs from format");
		free(printed);
	}
	if (as_json)
		FZ_CHECK(fz_json_valid(full, n), "invalid JSON: %s", full);
	return full;
}

void
fz_exercise(tg_error *e, fz_in *in)
{
	unsigned ops = fz_byte(in);
	char *before, *after, note[32];
	size_t leaves, counted = 0;
	tg_error *x;

	if (e == NULL) {
		/* NULL-safe readers and writers. */
		FZ_CHECK(tg_error_leaf_count(NULL) == 0 &&
				 tg_error_count(NULL) == 0 &&
				 tg_error_type_of(NULL) == NULL &&
				 !tg_error_is(NULL, &tg_BaseException),
			 "NULL readers");
		FZ_CHECK(tg_error_format(NULL, NULL, 0) == 0, "format NULL");
		FZ_CHECK(tg_error_to_json(NULL, NULL, 0) == 4, "json null");
		tg_error_decref(NULL);
		FZ_CHECK(tg_error_incref(NULL) == NULL, "incref NULL");
		return;
	}
	check_node(e, 0);
	leaves = tg_error_leaf_count(e);
	before = check_text(e, false, fz_byte(in));

	if (ops & 1)
		check_split(e, fz_match_type(fz_byte(in)));
	if (ops & 2) {
		free(check_text(e, true, fz_byte(in)));
	}
	if (ops & 4) {
		/* Copy-on-write note on a shared error; add_note refused. */
		size_t notes = tg_error_note_count(e);
		tg_error *shared = tg_error_incref(e);
		tg_error *copy;

		fz_string(in, note, sizeof(note) - 1);
		FZ_CHECK(tg_error_add_note(shared, "%s", note) == TG_ESTATE,
			 "add_note on a shared error");
		copy = tg_error_with_note(shared, "%s", note);
		FZ_CHECK(tg_error_note_count(e) == notes, "original got a note");
		if (copy != e) {
			FZ_CHECK(tg_error_note_count(copy) == notes + 1,
				 "copy has %zu notes", tg_error_note_count(copy));
			FZ_CHECK(strcmp(tg_error_note(copy, notes), note) == 0,
				 "note text");
			FZ_CHECK(tg_error_leaf_count(copy) == leaves,
				 "copy leaves");
			free(check_text(copy, ops & 2, fz_byte(in)));
		}
		tg_error_decref(copy);
	}
	if (ops & 8) {
		/* Wrapped in a group with a new leaf; used as a cause. */
		tg_error *kids[2] = { tg_error_incref(e),
				      TG_RAISE(&tg_ValueError, "wrap") };
		tg_error *g = tg_error_group_new("wrapped", 2, kids);
		tg_error *leaf = TG_RAISE(&tg_RuntimeError, "caused");
		int rc;

		FZ_CHECK(g != NULL && tg_error_leaf_count(g) == leaves + 1,
			 "wrapping group");
		FZ_CHECK(tg_error_is(g, &tg_ExceptionGroup) ==
				 tg_error_is(e, &tg_Exception),
			 "wrapper's type");
		check_node(g, 0);
		rc = tg_error_set_cause(leaf, tg_error_incref(e));
		FZ_CHECK(rc == TG_OK, "set_cause: %d", rc);
		FZ_CHECK(tg_error_cause(leaf) == e, "cause");
		x = tg_error_incref(leaf);
		rc = tg_error_set_cause(leaf, tg_error_incref(g));
		FZ_CHECK(rc == TG_ESTATE, "set_cause on a shared error: %d", rc);
		tg_error_decref(x);
		free(check_text(leaf, fz_byte(in) & 1, fz_byte(in)));
		tg_error_decref(leaf);
		if (ops & 16)
			check_split(g, fz_match_type(fz_byte(in)));
		tg_error_decref(g);
	}
	if (ops & 32) {
		stop_at s = { 0, fz_byte(in) % (leaves + 1) + 1 };
		int rc;

		tg_error_foreach_leaf(e, count_leaf, &counted);
		FZ_CHECK(counted == leaves, "foreach %zu, leaf_count %zu",
			 counted, leaves);
		rc = tg_error_foreach_leaf(e, stop_leaf, &s);
		FZ_CHECK(rc == (s.at <= leaves ? 7 : 0) &&
				 s.seen == (s.at <= leaves ? s.at : leaves),
			 "foreach early stop");
	}
	if (ops & 64) {
		/* References: a pair of incref/decref changes nothing. */
		x = tg_error_incref(e);
		FZ_CHECK(x == e, "incref returns its argument");
		tg_error_decref(x);
	}
	after = check_text(e, false, 0);
	FZ_CHECK(strcmp(before, after) == 0,
		 "the error changed while borrowed:\n%s\n---\n%s", before, after);
	free(before);
	free(after);
}
