/*
 * test_error_format.c - tg_error_format / tg_error_print (CPython's
 * exception-group drawing) and tg_error_to_json, compared as exact text.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "test_tree.h"

#include "taskgroup/error.h"

#include "error_internal.h"
#include "error_node.h"

TG_DEFINE_ERROR_TYPE(ImportError, "ImportError", &tg_Exception);
TG_DEFINE_ERROR_TYPE(ModuleNotFoundError, "ModuleNotFoundError", &ImportError);

/* A leaf without origin or provenance, so the text has no traceback. */
static tg_error *
bare(const tg_error_type *t, const char *msg)
{
	return tg_error_new_at(t, 0, NULL, 0, NULL, "%s", msg);
}

/* A leaf raised at file:line in func. */
static tg_error *
at(const tg_error_type *t, const char *file, int line, const char *func,
   const char *msg)
{
	return tg_error_new_at(t, 0, file, line, func, "%s", msg);
}

static char text[16384];

static const char *
fmt(const tg_error *e)
{
	size_t n = tg_error_format(e, text, sizeof(text));

	assert_true(n < sizeof(text));
	assert_int_equal(strlen(text), n);
	return text;
}

/* ------------------------------------------------------------------ */
/* Leaves                                                               */

static void
test_error_format_bare_leaf(void **state)
{
	tg_error *e = bare(&tg_ValueError, "654");

	(void)state;
	assert_string_equal(fmt(e), "ValueError: 654\n");
	tg_error_decref(e);
}

static void
test_error_format_empty_message_prints_type_only(void **state)
{
	tg_error *e = bare(&tg_CancelledError, "");

	(void)state;
	assert_string_equal(fmt(e), "CancelledError\n");
	tg_error_decref(e);
}

static void
test_error_format_leaf_with_origin_and_notes(void **state)
{
	tg_error *e = at(&tg_ValueError, "count.c", 18, "count_lines", "678");

	(void)state;
	assert_int_equal(tg_error_add_note(e, "Enriching Exceptions with Notes"),
			 TG_OK);
	assert_int_equal(tg_error_add_note(e, "Python 3.11"), TG_OK);
	assert_string_equal(fmt(e),
			    "Traceback (most recent call last):\n"
			    "  File \"count.c\", line 18, in count_lines\n"
			    "ValueError: 678\n"
			    "Enriching Exceptions with Notes\n"
			    "Python 3.11\n");
	tg_error_decref(e);
}

static void
test_error_format_spawn_chain(void **state)
{
	tg_spawn_site chain[2] = {
		{ "count.c", 40, "count_all_files", 7, "count not_utf8.txt" },
		{ "main.c", 12, "main", 1, NULL },
	};
	tg_error_provenance prov = { 7, "count not_utf8.txt", 3, 2, chain };
	tg_error_origin origin = { "count.c", 18, "count_lines" };
	err_spec spec = { &tg_UnicodeDecodeError, 0, "bad byte", &origin,
			  &prov, 0, 0 };
	tg_error *e = tg__error_alloc(&spec);

	(void)state;
	assert_non_null(e);
	assert_string_equal(
		fmt(e),
		"Traceback (most recent call last):\n"
		"  spawned at main.c:12 in main (task 1)\n"
		"  spawned at count.c:40 in count_all_files "
		"(task 7 \"count not_utf8.txt\")\n"
		"  File \"count.c\", line 18, in count_lines\n"
		"UnicodeDecodeError: bad byte\n");
	tg_error_decref(e);
}

static void
test_error_format_multiline_message_in_group(void **state)
{
	tg_error *g = group("g", 1, bare(&tg_ValueError, "one\ntwo"));

	(void)state;
	assert_string_equal(fmt(g),
			    "  + Exception Group Traceback (most recent call "
			    "last):\n"
			    "  | ExceptionGroup: g (1 sub-error)\n"
			    "  +-+---------------- 1 ----------------\n"
			    "    | ValueError: one\n"
			    "    | two\n"
			    "    +------------------------------------\n");
	tg_error_decref(g);
}

/* ------------------------------------------------------------------ */
/* Groups                                                               */

static void
test_error_format_flat_group_like_taskgroup(void **state)
{
	tg_error *kids[2] = {
		at(&tg_UnicodeDecodeError, "count.c", 18, "count_lines",
		   "'utf-8' codec can't decode byte 0xe5 in position 2: "
		   "invalid continuation byte"),
		at(&tg_RuntimeError, "count.c", 23, "count_lines",
		   "Files with thirteen lines are too scary!"),
	};
	tg_error *g = tg__error_group_for_join(2, kids);

	(void)state;
	assert_string_equal(
		fmt(g),
		"  + Exception Group Traceback (most recent call last):\n"
		"  | ExceptionGroup: unhandled errors in a task group "
		"(2 sub-errors)\n"
		"  +-+---------------- 1 ----------------\n"
		"    | Traceback (most recent call last):\n"
		"    |   File \"count.c\", line 18, in count_lines\n"
		"    | UnicodeDecodeError: 'utf-8' codec can't decode byte "
		"0xe5 in position 2: invalid continuation byte\n"
		"    +---------------- 2 ----------------\n"
		"    | Traceback (most recent call last):\n"
		"    |   File \"count.c\", line 23, in count_lines\n"
		"    | RuntimeError: Files with thirteen lines are too "
		"scary!\n"
		"    +------------------------------------\n");
	tg_error_decref(g);
}

static void
test_error_format_singular_sub_error(void **state)
{
	tg_error *g = group("group", 1, bare(&tg_ValueError, "654"));

	(void)state;
	assert_string_equal(fmt(g),
			    "  + Exception Group Traceback (most recent call "
			    "last):\n"
			    "  | ExceptionGroup: group (1 sub-error)\n"
			    "  +-+---------------- 1 ----------------\n"
			    "    | ValueError: 654\n"
			    "    +------------------------------------\n");
	tg_error_decref(g);
}

static const char nested_text[] =
	"  + Exception Group Traceback (most recent call last):\n"
	"  | ExceptionGroup: nested (3 sub-errors)\n"
	"  +-+---------------- 1 ----------------\n"
	"    | ValueError: 654\n"
	"    +---------------- 2 ----------------\n"
	"    | Exception Group Traceback (most recent call last):\n"
	"    | ExceptionGroup: imports (2 sub-errors)\n"
	"    +-+---------------- 1 ----------------\n"
	"      | ImportError: no_such_module\n"
	"      +---------------- 2 ----------------\n"
	"      | ModuleNotFoundError: another_module\n"
	"      +------------------------------------\n"
	"    +---------------- 3 ----------------\n"
	"    | TypeError: int\n"
	"    +------------------------------------\n";

static tg_error *
tutorial_nested(void)
{
	return group("nested", 3, bare(&tg_ValueError, "654"),
		     group("imports", 2, bare(&ImportError, "no_such_module"),
			   bare(&ModuleNotFoundError, "another_module")),
		     bare(&tg_TypeError, "int"));
}

static void
test_error_format_nested_group_like_tutorial(void **state)
{
	tg_error *g = tutorial_nested();

	(void)state;
	assert_string_equal(fmt(g), nested_text);
	tg_error_decref(g);
}

static void
test_error_format_nested_last_closes_once(void **state)
{
	tg_error *g = group("outer", 1,
			    group("inner", 1, bare(&tg_ValueError, "x")));

	(void)state;
	assert_string_equal(fmt(g),
			    "  + Exception Group Traceback (most recent call "
			    "last):\n"
			    "  | ExceptionGroup: outer (1 sub-error)\n"
			    "  +-+---------------- 1 ----------------\n"
			    "    | Exception Group Traceback (most recent call "
			    "last):\n"
			    "    | ExceptionGroup: inner (1 sub-error)\n"
			    "    +-+---------------- 1 ----------------\n"
			    "      | ValueError: x\n"
			    "      +------------------------------------\n");
	tg_error_decref(g);
}

static void
test_error_format_group_notes_after_message(void **state)
{
	tg_error *g = group("g", 1, bare(&tg_ValueError, "x"));

	(void)state;
	assert_int_equal(tg_error_add_note(g, "while counting"), TG_OK);
	assert_string_equal(fmt(g),
			    "  + Exception Group Traceback (most recent call "
			    "last):\n"
			    "  | ExceptionGroup: g (1 sub-error)\n"
			    "  | while counting\n"
			    "  +-+---------------- 1 ----------------\n"
			    "    | ValueError: x\n"
			    "    +------------------------------------\n");
	tg_error_decref(g);
}

static tg_error *
wide_group(size_t n)
{
	tg_error *kids[32];
	size_t i;

	for (i = 0; i < n; i++)
		kids[i] = tg_error_new_at(&tg_ValueError, 0, NULL, 0, NULL,
					  "%zu", i + 1);
	return tg_error_group_new("eg", n, kids);
}

/* CPython's test_exception_group_width_limit shape. */
static void
test_error_format_width_limit(void **state)
{
	tg_error *g = wide_group(17);
	char want[4096] = "";
	size_t i;

	(void)state;
	strcat(want, "  + Exception Group Traceback (most recent call last):\n"
		     "  | ExceptionGroup: eg (17 sub-errors)\n");
	for (i = 1; i <= 15; i++) {
		char line[128];

		snprintf(line, sizeof(line),
			 "  %s+---------------- %zu ----------------\n"
			 "    | ValueError: %zu\n",
			 i == 1 ? "+-" : "  ", i, i);
		strcat(want, line);
	}
	strcat(want, "    +---------------- ... ----------------\n"
		     "    | and 2 more errors\n"
		     "    +------------------------------------\n");
	assert_string_equal(fmt(g), want);
	tg_error_decref(g);
}

static void
test_error_format_width_limit_singular(void **state)
{
	tg_error *g = wide_group(16);

	(void)state;
	assert_non_null(strstr(fmt(g), "    +---------------- ... "
				       "----------------\n"
				       "    | and 1 more error\n"
				       "    +---------------------------------"
				       "---\n"));
	assert_null(strstr(text, "---- 16 ----"));
	tg_error_decref(g);
}

static void
test_error_format_width_exactly_fifteen(void **state)
{
	tg_error *g = wide_group(15);

	(void)state;
	assert_non_null(strstr(fmt(g), "---- 15 ----"));
	assert_null(strstr(text, "more error"));
	tg_error_decref(g);
}

/* CPython's test_exception_group_depth_limit: nested 12 deep. */
static void
test_error_format_depth_limit(void **state)
{
	tg_error *e = bare(&tg_ValueError, "deep");
	char want[8192] = "";
	char line[256];
	int i;

	(void)state;
	for (i = 11; i >= 0; i--) {
		char msg[16];

		snprintf(msg, sizeof(msg), "g%d", i);
		e = group(msg, 1, e);
	}
	for (i = 0; i <= 9; i++) {
		size_t ind = 2 * (size_t)(i + 1);

		snprintf(line, sizeof(line),
			 "%*s%c Exception Group Traceback (most recent call "
			 "last):\n%*s| ExceptionGroup: g%d (1 sub-error)\n"
			 "%*s+-+---------------- 1 ----------------\n",
			 (int)ind, "", i == 0 ? '+' : '|', (int)ind, "", i,
			 (int)ind, "");
		strcat(want, line);
	}
	snprintf(line, sizeof(line), "%*s| ... (max_group_depth is 10)\n"
				     "%*s+------------------------------------\n",
		 22, "", 22, "");
	strcat(want, line);
	assert_string_equal(fmt(e), want);
	tg_error_decref(e);
}

/* ------------------------------------------------------------------ */
/* Chains                                                               */

static void
test_error_format_cause_chain(void **state)
{
	tg_error *e = at(&tg_RuntimeError, "a.c", 20, "load", "config failed");

	(void)state;
	assert_int_equal(tg_error_set_cause(e, at(&tg_FileNotFoundError, "a.c",
						  10, "open_file", "missing")),
			 TG_OK);
	assert_string_equal(fmt(e),
			    "Traceback (most recent call last):\n"
			    "  File \"a.c\", line 10, in open_file\n"
			    "FileNotFoundError: missing\n"
			    "\n"
			    "The above exception was the direct cause of the "
			    "following exception:\n"
			    "\n"
			    "Traceback (most recent call last):\n"
			    "  File \"a.c\", line 20, in load\n"
			    "RuntimeError: config failed\n");
	tg_error_decref(e);
}

static void
test_error_format_cause_inside_group(void **state)
{
	tg_error *e = bare(&tg_RuntimeError, "outer");
	tg_error *g;

	(void)state;
	assert_int_equal(tg_error_set_cause(e, bare(&tg_ValueError, "inner")),
			 TG_OK);
	g = group("g", 1, e);
	assert_string_equal(fmt(g),
			    "  + Exception Group Traceback (most recent call "
			    "last):\n"
			    "  | ExceptionGroup: g (1 sub-error)\n"
			    "  +-+---------------- 1 ----------------\n"
			    "    | ValueError: inner\n"
			    "    | \n"
			    "    | The above exception was the direct cause of "
			    "the following exception:\n"
			    "    | \n"
			    "    | RuntimeError: outer\n"
			    "    +------------------------------------\n");
	tg_error_decref(g);
}

static void
test_error_format_context_chain(void **state)
{
	tg_error *e = tg__error_usage(TG_EFINISHED,
				      bare(&tg_ValueError, "handed over"),
				      "group already joined");

	(void)state;
	assert_string_equal(fmt(e),
			    "ValueError: handed over\n"
			    "\n"
			    "During handling of the above exception, another "
			    "exception occurred:\n"
			    "\n"
			    "RuntimeError: group already joined\n");
	tg_error_decref(e);
}

/* ------------------------------------------------------------------ */
/* Buffer and FILE                                                      */

static void
test_error_format_truncates_like_snprintf(void **state)
{
	tg_error *g = tutorial_nested();
	char small[10];
	size_t n;

	(void)state;
	n = tg_error_format(g, small, sizeof(small));
	assert_int_equal(n, strlen(nested_text));
	assert_string_equal(small, "  + Excep");
	assert_int_equal(tg_error_format(g, NULL, 0), n);
	small[0] = 'x';
	assert_int_equal(tg_error_format(g, small, 1), n);
	assert_int_equal(small[0], '\0');
	assert_int_equal(tg_error_format(NULL, small, sizeof(small)), 0);
	assert_string_equal(small, "");
	tg_error_decref(g);
}

static void
test_error_format_print_matches_format(void **state)
{
	tg_error *g = tutorial_nested();
	FILE *f = tmpfile();
	char back[4096];
	size_t n;

	(void)state;
	assert_non_null(f);
	assert_int_equal(tg_error_print(g, f), TG_OK);
	rewind(f);
	n = fread(back, 1, sizeof(back) - 1, f);
	back[n] = '\0';
	assert_string_equal(back, nested_text);
	assert_int_equal(tg_error_print(g, NULL), TG_EINVAL);
	assert_int_equal(tg_error_print(NULL, f), TG_OK);
	fclose(f);
	tg_error_decref(g);
}

static void *
fail_malloc(size_t n)
{
	(void)n;
	return NULL;
}

static void *
fail_calloc(size_t c, size_t n)
{
	(void)c;
	(void)n;
	return NULL;
}

static void *
fail_realloc(void *p, size_t n)
{
	(void)p;
	(void)n;
	return NULL;
}

static void
test_error_format_oom_stand_in_says_so(void **state)
{
	static const tg_allocator failing = { fail_malloc, fail_calloc,
					      fail_realloc, free };
	tg_error *kids[2] = { bare(&tg_ValueError, "kept"),
			      bare(&tg_TypeError, "also kept") };
	tg_error *g;

	(void)state;
	assert_int_equal(tg_set_allocator(&failing), TG_OK);
	g = tg__error_group_for_join(2, kids);
	assert_int_equal(tg_reset_allocator(), TG_OK);
	assert_string_equal(fmt(g),
			    "  + Exception Group Traceback (most recent call "
			    "last):\n"
			    "  | ExceptionGroup: unhandled errors in a task "
			    "group (3 sub-errors)\n"
			    "  +-+---------------- 1 ----------------\n"
			    "    | ValueError: kept\n"
			    "    +---------------- 2 ----------------\n"
			    "    | TypeError: also kept\n"
			    "    +---------------- 3 ----------------\n"
			    "    | MemoryError: out of memory\n"
			    "    +------------------------------------\n");
	tg_error_decref(g);
}

/* ------------------------------------------------------------------ */
/* JSON                                                                 */

/* A strict JSON checker (RFC 8259): returns the end of the value or
 * NULL. */
static const char *json_value(const char *p, int depth);

static const char *
ws(const char *p)
{
	while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r')
		p++;
	return p;
}

static const char *
json_string(const char *p)
{
	if (*p++ != '"')
		return NULL;
	while (*p != '"') {
		unsigned char c = (unsigned char)*p;

		if (c < 0x20)
			return NULL;
		if (c == '\\') {
			p++;
			if (*p == 'u') {
				int i;

				for (i = 1; i <= 4; i++)
					if (strchr("0123456789abcdefABCDEF",
						   p[i]) == NULL ||
					    p[i] == '\0')
						return NULL;
				p += 5;
				continue;
			}
			if (strchr("\"\\/bfnrt", *p) == NULL || *p == '\0')
				return NULL;
		} else if (c >= 0x80) {
			int n = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : c >= 0xC2 ? 1 : -1;

			if (n < 0)
				return NULL;
			while (n-- > 0)
				if (((unsigned char)*++p & 0xC0) != 0x80)
					return NULL;
		}
		p++;
	}
	return p + 1;
}

static const char *
json_number(const char *p)
{
	const char *start;

	if (*p == '-')
		p++;
	start = p;
	while (*p >= '0' && *p <= '9')
		p++;
	return p > start ? p : NULL;
}

static const char *
json_members(const char *p, char close, int depth, bool object)
{
	p = ws(p);
	if (*p == close)
		return p + 1;
	for (;;) {
		if (object) {
			if ((p = json_string(ws(p))) == NULL)
				return NULL;
			p = ws(p);
			if (*p++ != ':')
				return NULL;
		}
		if ((p = json_value(p, depth + 1)) == NULL)
			return NULL;
		p = ws(p);
		if (*p == close)
			return p + 1;
		if (*p++ != ',')
			return NULL;
	}
}

static const char *
json_value(const char *p, int depth)
{
	if (depth > 64)
		return NULL;
	p = ws(p);
	if (*p == '{')
		return json_members(p + 1, '}', depth, true);
	if (*p == '[')
		return json_members(p + 1, ']', depth, false);
	if (*p == '"')
		return json_string(p);
	if (strncmp(p, "null", 4) == 0)
		return p + 4;
	if (strncmp(p, "true", 4) == 0)
		return p + 4;
	if (strncmp(p, "false", 5) == 0)
		return p + 5;
	return json_number(p);
}

static bool
json_valid(const char *s)
{
	const char *end = json_value(s, 0);

	return end != NULL && *ws(end) == '\0';
}

static const char *
json(const tg_error *e)
{
	size_t n = tg_error_to_json(e, text, sizeof(text));

	assert_true(n < sizeof(text));
	assert_true(json_valid(text));
	return text;
}

static void
test_error_format_json_leaf_exact(void **state)
{
	tg_error *e = at(&tg_ValueError, "a.c", 3, "f", "bad");

	(void)state;
	assert_int_equal(tg_error_add_note(e, "n1"), TG_OK);
	assert_string_equal(
		json(e),
		"{\"type\":\"ValueError\",\"type_chain\":[\"ValueError\","
		"\"Exception\",\"BaseException\"],\"message\":\"bad\","
		"\"code\":0,\"notes\":[\"n1\"],\"origin\":{\"file\":\"a.c\","
		"\"line\":3,\"func\":\"f\"},\"provenance\":{\"task_id\":0,"
		"\"task_name\":null,\"worker\":-1,\"omitted\":0,"
		"\"spawn_chain\":[]},\"cause\":null,\"context\":null,"
		"\"leaf_count\":1,\"lost_count\":0}");
	tg_error_decref(e);
}

static void
test_error_format_json_group_and_type_chain(void **state)
{
	tg_error *g = tutorial_nested();

	(void)state;
	json(g);
	assert_non_null(strstr(text, "{\"type\":\"ExceptionGroup\","
				     "\"type_chain\":[\"ExceptionGroup\","
				     "\"BaseExceptionGroup\",\"Exception\","
				     "\"BaseException\"],\"message\":"
				     "\"nested\""));
	assert_non_null(strstr(text, "\"type_chain\":[\"ModuleNotFoundError\","
				     "\"ImportError\",\"Exception\","
				     "\"BaseException\"]"));
	assert_non_null(strstr(text, "\"leaf_count\":4,\"lost_count\":0,"
				     "\"children\":["));
	tg_error_decref(g);
}

static void
test_error_format_json_escapes(void **state)
{
	tg_error *e = bare(&tg_UnicodeDecodeError,
			   "q\" b\\ nl\n tab\t bel\x07 utf8:\xc3\xa9 "
			   "raw:\xe5\xff end");

	(void)state;
	json(e);
	assert_non_null(strstr(text, "\"message\":\"q\\\" b\\\\ nl\\n tab\\t "
				     "bel\\u0007 utf8:\xc3\xa9 raw:\\u00e5"
				     "\\u00ff end\""));
	tg_error_decref(e);
}

static void
test_error_format_json_provenance_and_cause(void **state)
{
	tg_spawn_site chain[1] = { { "m.c", 5, "main", 2, "w\"1" } };
	tg_error_provenance prov = { 2, "w\"1", 0, 1, chain };
	err_spec spec = { &tg_TimeoutError, ETIMEDOUT, "slow", NULL, &prov,
			  0, 0 };
	tg_error *e = tg__error_alloc(&spec);

	(void)state;
	assert_int_equal(tg_error_set_cause(e, bare(&tg_ValueError, "c")),
			 TG_OK);
	json(e);
	assert_non_null(strstr(text, "\"provenance\":{\"task_id\":2,"
				     "\"task_name\":\"w\\\"1\",\"worker\":0,"
				     "\"omitted\":0,\"spawn_chain\":[{\"file\":"
				     "\"m.c\",\"line\":5,\"func\":\"main\","
				     "\"task_id\":2,\"task_name\":\"w\\\"1\"}]}"));
	assert_non_null(strstr(text, "\"cause\":{\"type\":\"ValueError\""));
	assert_non_null(strstr(text, "\"type_chain\":[\"TimeoutError\","
				     "\"OSError\",\"Exception\","
				     "\"BaseException\"]"));
	tg_error_decref(e);
}

static void
test_error_format_json_null_and_truncation(void **state)
{
	tg_error *e = bare(&tg_ValueError, "x");
	char small[8];
	size_t full;
	FILE *f = tmpfile();
	char back[2048];
	size_t n;

	(void)state;
	assert_string_equal(json(NULL), "null");
	full = tg_error_to_json(e, NULL, 0);
	assert_int_equal(tg_error_to_json(e, small, sizeof(small)), full);
	assert_string_equal(small, "{\"type\"");
	assert_int_equal(tg_error_write_json(e, f), TG_OK);
	assert_int_equal(tg_error_write_json(e, NULL), TG_EINVAL);
	rewind(f);
	n = fread(back, 1, sizeof(back) - 1, f);
	back[n] = '\0';
	assert_int_equal(n, full + 1);
	assert_int_equal(back[full], '\n');
	assert_true(json_valid(back));
	fclose(f);
	tg_error_decref(e);
}

static void
test_error_format_json_deep_and_wide_valid(void **state)
{
	tg_error *e = wide_group(20);
	int i;

	(void)state;
	for (i = 0; i < 12; i++)
		e = group("g", 2, e, bare(&tg_Interrupt, "i"));
	json(e);
	assert_non_null(strstr(text, "\"type\":\"BaseExceptionGroup\""));
	tg_error_decref(e);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_error_format_bare_leaf),
		cmocka_unit_test(test_error_format_empty_message_prints_type_only),
		cmocka_unit_test(test_error_format_leaf_with_origin_and_notes),
		cmocka_unit_test(test_error_format_spawn_chain),
		cmocka_unit_test(test_error_format_multiline_message_in_group),
		cmocka_unit_test(test_error_format_flat_group_like_taskgroup),
		cmocka_unit_test(test_error_format_singular_sub_error),
		cmocka_unit_test(test_error_format_nested_group_like_tutorial),
		cmocka_unit_test(test_error_format_nested_last_closes_once),
		cmocka_unit_test(test_error_format_group_notes_after_message),
		cmocka_unit_test(test_error_format_width_limit),
		cmocka_unit_test(test_error_format_width_limit_singular),
		cmocka_unit_test(test_error_format_width_exactly_fifteen),
		cmocka_unit_test(test_error_format_depth_limit),
		cmocka_unit_test(test_error_format_cause_chain),
		cmocka_unit_test(test_error_format_cause_inside_group),
		cmocka_unit_test(test_error_format_context_chain),
		cmocka_unit_test(test_error_format_truncates_like_snprintf),
		cmocka_unit_test(test_error_format_print_matches_format),
		cmocka_unit_test(test_error_format_oom_stand_in_says_so),
		cmocka_unit_test(test_error_format_json_leaf_exact),
		cmocka_unit_test(test_error_format_json_group_and_type_chain),
		cmocka_unit_test(test_error_format_json_escapes),
		cmocka_unit_test(test_error_format_json_provenance_and_cause),
		cmocka_unit_test(test_error_format_json_null_and_truncation),
		cmocka_unit_test(test_error_format_json_deep_and_wide_valid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
