/*
 * test_error.c - errors: creation, types, errno mapping, notes, cause,
 * reference counting and the immortal MemoryError; group nodes and their
 * out-of-memory stand-ins: test_error_group.c.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "test_alloc.h"

#include "taskgroup/error.h"

#include "alloc.h"
#include "error_internal.h"
#include "error_node.h"

/* ------------------------------------------------------------------ */
/* The counting, failing allocator: tests/test_alloc.h                 */

TG_DEFINE_ERROR_TYPE(my_ParseError, "ParseError", &tg_ValueError);

/* ------------------------------------------------------------------ */
/* Creation and types                                                   */

static void
test_error_new_records_type_message_origin(void **state)
{
	tg_error *e = TG_RAISE(&tg_ValueError, "bad %d", 42);
	tg_error_origin o = tg_error_origin_of(e);

	(void)state;
	assert_ptr_equal(tg_error_type_of(e), &tg_ValueError);
	assert_string_equal(tg_error_message(e), "bad 42");
	assert_int_equal(tg_error_code(e), 0);
	assert_string_equal(o.file, __FILE__);
	assert_int_equal(o.line, __LINE__ - 8);
	assert_string_equal(o.func, __func__);
	assert_false(tg_error_is_group(e));
	assert_int_equal(tg_error_count(e), 0);
	assert_int_equal(tg_error_leaf_count(e), 1);
	assert_null(tg_error_cause(e));
	assert_null(tg_error_context(e));
	tg_error_decref(e);
}

static void
test_error_new_with_code(void **state)
{
	tg_error *e = TG_RAISE_CODE(&tg_RuntimeError, 77, "x");

	(void)state;
	assert_int_equal(tg_error_code(e), 77);
	tg_error_decref(e);
}

static void
test_error_new_null_type_gives_type_error(void **state)
{
	tg_error *e = tg_error_new_at(NULL, 0, "f.c", 1, "f", "x");

	(void)state;
	assert_true(tg_error_is(e, &tg_TypeError));
	tg_error_decref(e);
}

static void
test_error_new_group_type_gives_type_error(void **state)
{
	tg_error *e = TG_RAISE(&tg_ExceptionGroup, "x");

	(void)state;
	assert_true(tg_error_is(e, &tg_TypeError));
	assert_false(tg_error_is_group(e));
	tg_error_decref(e);
}

static void
test_error_type_names_match_python(void **state)
{
	static const struct {
		const tg_error_type *t;
		const char *name;
	} v[] = {
		{ &tg_BaseException, "BaseException" },
		{ &tg_Exception, "Exception" },
		{ &tg_ValueError, "ValueError" },
		{ &tg_FileNotFoundError, "FileNotFoundError" },
		{ &tg_UnicodeDecodeError, "UnicodeDecodeError" },
		{ &tg_CancelledError, "CancelledError" },
		{ &tg_Interrupt, "Interrupt" },
		{ &tg_ExceptionGroup, "ExceptionGroup" },
		{ &tg_BaseExceptionGroup, "BaseExceptionGroup" },
		{ &tg_MemoryError, "MemoryError" },
		{ &tg_BrokenBarrierError, "BrokenBarrierError" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		assert_string_equal(v[i].t->name, v[i].name);
}

static void
test_error_type_hierarchy(void **state)
{
	(void)state;
	assert_true(tg_error_type_is(&tg_FileNotFoundError, &tg_OSError));
	assert_true(tg_error_type_is(&tg_FileNotFoundError, &tg_Exception));
	assert_true(tg_error_type_is(&tg_BrokenPipeError, &tg_ConnectionError));
	assert_true(tg_error_type_is(&tg_UnicodeDecodeError, &tg_ValueError));
	assert_true(tg_error_type_is(&tg_NotImplementedError,
				     &tg_RuntimeError));
	assert_true(tg_error_type_is(&tg_BrokenBarrierError, &tg_RuntimeError));
	assert_false(tg_error_type_is(&tg_CancelledError, &tg_Exception));
	assert_true(tg_error_type_is(&tg_CancelledError, &tg_BaseException));
	assert_false(tg_error_type_is(&tg_Interrupt, &tg_Exception));
	assert_true(tg_error_type_is(&tg_ExceptionGroup, &tg_Exception));
	assert_true(tg_error_type_is(&tg_ExceptionGroup,
				     &tg_BaseExceptionGroup));
	assert_false(tg_error_type_is(&tg_BaseExceptionGroup, &tg_Exception));
	assert_false(tg_error_type_is(&tg_ValueError, &tg_TypeError));
	assert_false(tg_error_type_is(NULL, &tg_Exception));
	assert_false(tg_error_type_is(&tg_Exception, NULL));
	assert_true(tg_Interrupt.flags & TG_ERROR_TYPE_FATAL);
	assert_true(tg_CancelledError.flags & TG_ERROR_TYPE_CANCEL);
}

static void
test_error_user_type_macro(void **state)
{
	tg_error *e = TG_RAISE(&my_ParseError, "line %d", 3);

	(void)state;
	assert_true(tg_error_is(e, &my_ParseError));
	assert_true(tg_error_is(e, &tg_ValueError));
	assert_true(tg_error_is(e, &tg_Exception));
	assert_false(tg_error_is(e, &tg_TypeError));
	assert_false(tg_error_is(NULL, &tg_Exception));
	tg_error_decref(e);
}

static void
test_error_errno_mapping(void **state)
{
	static const struct {
		int errnum;
		const tg_error_type *t;
	} v[] = {
		{ ENOENT, &tg_FileNotFoundError },
		{ EACCES, &tg_PermissionError },
		{ EPERM, &tg_PermissionError },
		{ EEXIST, &tg_FileExistsError },
		{ EAGAIN, &tg_BlockingIOError },
		{ EINPROGRESS, &tg_BlockingIOError },
		{ ECHILD, &tg_ChildProcessError },
		{ EPIPE, &tg_BrokenPipeError },
		{ ECONNABORTED, &tg_ConnectionAbortedError },
		{ ECONNREFUSED, &tg_ConnectionRefusedError },
		{ ECONNRESET, &tg_ConnectionResetError },
		{ EINTR, &tg_InterruptedError },
		{ EISDIR, &tg_IsADirectoryError },
		{ ENOTDIR, &tg_NotADirectoryError },
		{ ESRCH, &tg_ProcessLookupError },
		{ ETIMEDOUT, &tg_TimeoutError },
		{ EINVAL, &tg_OSError },
		{ 0, &tg_OSError },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		assert_ptr_equal(tg_error_type_for_errno(v[i].errnum), v[i].t);
}

static void
test_error_from_errno_message(void **state)
{
	tg_error *e = tg_error_from_errno(ENOENT, "'%s'", "wrong_name.txt");
	char want[256];

	(void)state;
	snprintf(want, sizeof(want), "[Errno %d] %s: 'wrong_name.txt'",
		 ENOENT, strerror(ENOENT));
	assert_true(tg_error_is(e, &tg_FileNotFoundError));
	assert_true(tg_error_is(e, &tg_OSError));
	assert_int_equal(tg_error_code(e), ENOENT);
	assert_string_equal(tg_error_message(e), want);
	assert_string_equal(tg_error_origin_of(e).func, __func__);
	tg_error_decref(e);
}

static void
test_error_from_errno_empty_text(void **state)
{
	tg_error *e = tg_error_from_errno(EACCES, "%s", "");
	char want[256];

	(void)state;
	snprintf(want, sizeof(want), "[Errno %d] %s", EACCES, strerror(EACCES));
	assert_string_equal(tg_error_message(e), want);
	assert_true(tg_error_is(e, &tg_PermissionError));
	tg_error_decref(e);
}

static void
test_error_provenance_outside_task(void **state)
{
	tg_error *e = TG_RAISE(&tg_ValueError, "x");
	tg_error_provenance p = tg_error_provenance_of(e);

	(void)state;
	assert_int_equal(p.task_id, 0);
	assert_int_equal(p.worker, -1);
	assert_int_equal(p.depth, 0);
	assert_null(p.task_name);
	tg_error_decref(e);
}

static void
test_error_null_readers(void **state)
{
	(void)state;
	assert_null(tg_error_type_of(NULL));
	assert_null(tg_error_message(NULL));
	assert_int_equal(tg_error_code(NULL), 0);
	assert_int_equal(tg_error_count(NULL), 0);
	assert_null(tg_error_child(NULL, 0));
	assert_int_equal(tg_error_leaf_count(NULL), 0);
	assert_int_equal(tg_error_note_count(NULL), 0);
	assert_null(tg_error_note(NULL, 0));
	assert_null(tg_error_cause(NULL));
	assert_null(tg_error_incref(NULL));
	tg_error_decref(NULL);
}

/* ------------------------------------------------------------------ */
/* Notes                                                                */

static void
test_error_notes_add_and_read(void **state)
{
	tg_error *e = TG_RAISE(&tg_ValueError, "678");

	(void)state;
	assert_int_equal(tg_error_add_note(e, "Enriching %s", "Exceptions"),
			 TG_OK);
	assert_int_equal(tg_error_add_note(e, "Python 3.11"), TG_OK);
	assert_int_equal(tg_error_note_count(e), 2);
	assert_string_equal(tg_error_note(e, 0), "Enriching Exceptions");
	assert_string_equal(tg_error_note(e, 1), "Python 3.11");
	assert_null(tg_error_note(e, 2));
	tg_error_decref(e);
}

static void
test_error_notes_refused_when_shared(void **state)
{
	tg_error *e = TG_RAISE(&tg_ValueError, "x");

	(void)state;
	tg_error_incref(e);
	assert_int_equal(tg_error_add_note(e, "n"), TG_ESTATE);
	assert_int_equal(tg_error_note_count(e), 0);
	tg_error_decref(e);
	assert_int_equal(tg_error_add_note(e, "n"), TG_OK);
	assert_int_equal(tg_error_add_note(NULL, "n"), TG_EINVAL);
	assert_int_equal(tg_error_add_note(tg_error_oom(), "n"), TG_ESTATE);
	tg_error_decref(e);
}

static void
test_error_notes_oom_leaves_error_unchanged(void **state)
{
	tg_error *e = TG_RAISE(&tg_ValueError, "x");

	(void)state;
	test_alloc_fail_all = 1;
	assert_int_equal(tg_error_add_note(e, "n"), TG_ENOMEM);
	test_alloc_fail_all = 0;
	assert_int_equal(tg_error_note_count(e), 0);
	test_alloc_fail_at = test_alloc_calls + 1; /* the note's text succeeds, the array fails */
	assert_int_equal(tg_error_add_note(e, "n"), TG_ENOMEM);
	assert_int_equal(tg_error_note_count(e), 0);
	tg_error_decref(e);
}

static void
test_error_node_copies_each_string_once(void **state)
{
	static const char file[] = "deep.c", func[] = "walk";
	char name[] = "leaf task";
	tg_spawn_site chain[4];
	tg_error_provenance prov = { 9, name, 0, 4, chain };
	tg_error_origin origin = { file, 3, func };
	err_spec spec = { &tg_ValueError, 0, "m", &origin, &prov, 0, 0 };
	tg_error_provenance p;
	tg_error_origin o;
	tg_error *e;
	int i;

	(void)state;
	for (i = 0; i < 4; i++)
		chain[i] = (tg_spawn_site){ file, 10 + i, func,
					    (uint64_t)i + 1, NULL };
	e = tg__error_alloc(&spec);
	assert_non_null(e);
	p = tg_error_provenance_of(e);
	o = tg_error_origin_of(e);
	/* copies, not the caller's strings */
	assert_ptr_not_equal(o.file, file);
	assert_ptr_not_equal(p.task_name, name);
	name[0] = 'X';
	assert_string_equal(p.task_name, "leaf task");
	/* one copy serves every use of the same string */
	assert_string_equal(o.file, "deep.c");
	assert_string_equal(o.func, "walk");
	assert_int_equal(o.line, 3);
	for (i = 0; i < 4; i++) {
		assert_ptr_equal(p.chain[i].file, o.file);
		assert_ptr_equal(p.chain[i].func, o.func);
		assert_int_equal(p.chain[i].line, 10 + i);
		assert_int_equal(p.chain[i].task_id, (uint64_t)i + 1);
		assert_null(p.chain[i].task_name);
	}
	tg_error_decref(e);
}

static void
test_error_notes_array_grows_by_size_class(void **state)
{
	tg_error *e = TG_RAISE(&tg_ValueError, "x");
	long before = test_alloc_calls;
	char want[32];
	int i;

	(void)state;
	for (i = 0; i < 40; i++)
		assert_int_equal(tg_error_add_note(e, "note %d", i), TG_OK);
	/* 40 texts; the array grows only when it crosses a size class
	 * (capacities 2, 4, 6, 10, 14, 22, 30, 46 pointers, after the
	 * block's 16-byte head): 8 times */
	assert_int_equal(test_alloc_calls - before, 40 + 8);
	assert_int_equal(tg_error_note_count(e), 40);
	for (i = 0; i < 40; i++) {
		snprintf(want, sizeof(want), "note %d", i);
		assert_string_equal(tg_error_note(e, (size_t)i), want);
	}
	tg_error_decref(e);
	assert_int_equal(test_alloc_live, 0);
}

static void
test_error_blocks_come_in_size_classes(void **state)
{
	size_t n, prev = 0;

	(void)state;
	assert_int_equal(tg__alloc_class(1), 32);
	assert_int_equal(tg__alloc_class(33), 48);
	assert_int_equal(tg__alloc_class(65), 96);
	assert_int_equal(tg__alloc_class(97), 128);
	assert_int_equal(tg__alloc_class(700), 768);
	assert_int_equal(tg__alloc_class(769), 1024);
	for (n = 1; n <= 70000; n++) {
		size_t c = tg__alloc_class(n);

		assert_true(c >= n);
		assert_true(c >= prev);                  /* monotone */
		assert_int_equal(tg__alloc_class(c), c); /* a class is its own */
		assert_true(n <= 32 || c - n < n / 2);   /* waste under half */
		prev = c;
	}
	/* no overflow: sizes near the top come back as asked */
	assert_true(tg__alloc_class(SIZE_MAX) == SIZE_MAX);
	assert_true(tg__alloc_class(SIZE_MAX / 2 + 2) >= SIZE_MAX / 2 + 2);
}

static void
test_error_with_note_in_place_when_unshared(void **state)
{
	tg_error *e = TG_RAISE(&tg_ValueError, "x");
	tg_error *r = tg_error_with_note(e, "note %d", 1);

	(void)state;
	assert_ptr_equal(r, e);
	assert_string_equal(tg_error_note(r, 0), "note 1");
	assert_null(tg_error_with_note(NULL, "n"));
	tg_error_decref(r);
}

static void
test_error_with_note_copies_when_shared(void **state)
{
	tg_error *kids[2] = { TG_RAISE(&tg_ValueError, "a"),
			      TG_RAISE(&tg_TypeError, "b") };
	tg_error *g = tg_error_group_new("g", 2, kids);
	tg_error *keep = tg_error_incref(g);
	tg_error *r = tg_error_with_note(g, "added");

	(void)state;
	assert_ptr_not_equal(r, keep);
	assert_int_equal(tg_error_note_count(keep), 0);
	assert_int_equal(tg_error_note_count(r), 1);
	assert_string_equal(tg_error_message(r), "g");
	assert_ptr_equal(tg_error_child(r, 0), tg_error_child(keep, 0));
	assert_ptr_equal(tg_error_child(r, 1), tg_error_child(keep, 1));
	assert_ptr_equal(tg_error_type_of(r), &tg_ExceptionGroup);
	tg_error_decref(r);
	tg_error_decref(keep);
}

static void
test_error_with_note_on_immortal_oom_copies(void **state)
{
	tg_error *r = tg_error_with_note(tg_error_oom(), "while parsing");

	(void)state;
	assert_ptr_not_equal(r, tg_error_oom());
	assert_true(tg_error_is(r, &tg_MemoryError));
	assert_int_equal(tg_error_note_count(tg_error_oom()), 0);
	tg_error_decref(r);
	test_alloc_fail_all = 1;
	assert_ptr_equal(tg_error_with_note(tg_error_oom(), "x"), tg_error_oom());
}

/* ------------------------------------------------------------------ */
/* Cause                                                                */

static void
test_error_cause_set_and_replace(void **state)
{
	tg_error *e = TG_RAISE(&tg_RuntimeError, "outer");
	tg_error *c1 = TG_RAISE(&tg_ValueError, "c1");
	tg_error *c2 = TG_RAISE(&tg_ValueError, "c2");

	(void)state;
	assert_int_equal(tg_error_set_cause(e, c1), TG_OK);
	assert_ptr_equal(tg_error_cause(e), c1);
	assert_int_equal(tg_error_set_cause(e, c2), TG_OK);
	assert_ptr_equal(tg_error_cause(e), c2);
	assert_int_equal(tg_error_set_cause(e, NULL), TG_OK);
	assert_null(tg_error_cause(e));
	tg_error_decref(e);
}

static void
test_error_cause_refuses_cycle(void **state)
{
	tg_error *a = TG_RAISE(&tg_ValueError, "a");
	tg_error *kids[1] = { a };
	tg_error *g = tg_error_group_new("g", 1, kids);
	tg_error *borrowed = tg_error_child(g, 0);

	(void)state;
	/* a is held only by g: refs == 1, yet g contains it. */
	assert_int_equal(tg_error_set_cause(borrowed, tg_error_incref(g)),
			 TG_EINVAL);
	assert_null(tg_error_cause(borrowed));
	tg_error_incref(g);
	assert_int_equal(tg_error_set_cause(g, g), TG_EINVAL);
	assert_int_equal(tg_error_set_cause(NULL, TG_RAISE(&tg_ValueError, "x")),
			 TG_EINVAL);
	tg_error_decref(g);
}

static void
test_error_cause_refused_when_shared(void **state)
{
	tg_error *e = TG_RAISE(&tg_RuntimeError, "outer");

	(void)state;
	tg_error_incref(e);
	assert_int_equal(tg_error_set_cause(e, TG_RAISE(&tg_ValueError, "c")),
			 TG_ESTATE);
	assert_null(tg_error_cause(e));
	tg_error_decref(e);
	tg_error_decref(e);
}

static void
test_error_usage_keeps_attached_as_context(void **state)
{
	tg_error *att = TG_RAISE(&tg_ValueError, "handed over");
	tg_error *e = tg__error_usage(TG_EFINISHED, att, "spawn into %s",
				      "a finished group");

	(void)state;
	assert_true(tg_error_is(e, &tg_RuntimeError));
	assert_int_equal(tg_error_code(e), TG_EFINISHED);
	assert_string_equal(tg_error_message(e), "spawn into a finished group");
	assert_ptr_equal(tg_error_context(e), att);
	tg_error_decref(e);
}

/* Out of memory, the report is built in a reserve slot, so neither it
 * nor the error handed over is lost. */
static void
test_error_usage_under_oom_keeps_attached(void **state)
{
	tg_error *att = TG_RAISE(&tg_ValueError, "x");
	tg_error *e;

	(void)state;
	test_alloc_fail_all = 1;
	e = tg__error_usage(TG_EINVAL, att, "y %d", 7);
	test_alloc_fail_all = 0;
	assert_true(tg_error_is(e, &tg_RuntimeError));
	assert_int_equal(tg_error_code(e), TG_EINVAL);
	assert_string_equal(tg_error_message(e), "y 7");
	assert_ptr_equal(tg_error_context(e), att);
	assert_int_equal(tg_error_lost_count(e), 0);
	tg_error_decref(e);
	/* With nothing handed over, the MemoryError stands for the report. */
	test_alloc_fail_all = 1;
	e = tg__error_usage(TG_EINVAL, NULL, "y");
	test_alloc_fail_all = 0;
	assert_ptr_equal(e, tg_error_oom());
}

static void
test_error_cancelled_is_cancel(void **state)
{
	tg_error *e = tg__error_cancelled("c.c", 9, "f");

	(void)state;
	assert_true(tg__error_is_cancel(e));
	assert_true(tg_error_is(e, &tg_CancelledError));
	assert_false(tg_error_is(e, &tg_Exception));
	assert_false(tg__error_is_fatal(e));
	assert_int_equal(tg_error_origin_of(e).line, 9);
	tg_error_decref(e);
	assert_false(tg__error_is_cancel(NULL));
}

/* ------------------------------------------------------------------ */
/* Reference counting and memory                                        */

static void
test_error_refcount_incref_decref(void **state)
{
	tg_error *e = TG_RAISE(&tg_ValueError, "x");

	(void)state;
	assert_ptr_equal(tg_error_incref(e), e);
	tg_error_incref(e);
	tg_error_decref(e);
	tg_error_decref(e);
	assert_true(test_alloc_live > 0);
	tg_error_decref(e);
	assert_int_equal(test_alloc_live, 0);
}

static void
test_error_oom_is_immortal(void **state)
{
	tg_error *m = tg_error_oom();

	(void)state;
	assert_true(tg_error_is(m, &tg_MemoryError));
	assert_ptr_equal(tg_error_incref(m), m);
	tg_error_decref(m);
	tg_error_decref(m);
	tg_error_decref(m);
	assert_true(tg_error_is(tg_error_oom(), &tg_MemoryError));
	assert_int_equal(tg_error_leaf_count(m), 1);
}

static void
test_error_new_under_oom_returns_memory_error(void **state)
{
	(void)state;
	test_alloc_fail_all = 1;
	assert_ptr_equal(TG_RAISE(&tg_ValueError, "x"), tg_error_oom());
	assert_ptr_equal(tg_error_from_errno(ENOENT, "x"), tg_error_oom());
	assert_ptr_equal(tg__error_cancelled("a", 1, "b"), tg_error_oom());
	test_alloc_fail_all = 0;
	/* a short message is formatted on the stack: the node is the only
	 * allocation */
	test_alloc_fail_at = test_alloc_calls;
	assert_ptr_equal(TG_RAISE(&tg_ValueError, "x"), tg_error_oom());
	/* a long one takes a block of its own: it fits, the node does not */
	test_alloc_fail_at = test_alloc_calls + 1;
	assert_ptr_equal(TG_RAISE(&tg_ValueError, "%0300d", 7), tg_error_oom());
	test_alloc_fail_at = test_alloc_calls + 1;
	assert_ptr_equal(tg_error_from_errno(ENOENT, "%0300d", 7),
			 tg_error_oom());
	test_alloc_fail_at = -1;
}

static void
test_error_long_message_kept_whole(void **state)
{
	char want[600];
	tg_error *e;
	long before = test_alloc_calls;

	(void)state;
	memset(want, 'a', sizeof(want) - 1);
	want[sizeof(want) - 1] = '\0';
	e = TG_RAISE(&tg_ValueError, "%s", want);
	assert_string_equal(tg_error_message(e), want);
	assert_int_equal(test_alloc_calls - before, 2); /* text, then node */
	tg_error_decref(e);
	before = test_alloc_calls;
	e = TG_RAISE(&tg_ValueError, "short %d", 1);
	assert_string_equal(tg_error_message(e), "short 1");
	assert_int_equal(test_alloc_calls - before, 1); /* the node alone */
	tg_error_decref(e);
	e = tg_error_from_errno(ENOENT, "%s", want);
	assert_non_null(strstr(tg_error_message(e), want));
	assert_non_null(strstr(tg_error_message(e), "[Errno 2]"));
	tg_error_decref(e);
}

struct share_arg {
	tg_error *e;
	int rounds;
};

static void *
share_thread(void *p)
{
	struct share_arg *a = p;
	int i;

	for (i = 0; i < a->rounds; i++)
		tg_error_decref(tg_error_incref(a->e));
	tg_error_decref(a->e); /* the reference this thread was given */
	return NULL;
}

static void
test_error_refcount_across_threads(void **state)
{
	enum { THREADS = 4 };
	pthread_t th[THREADS];
	struct share_arg a = { TG_RAISE(&tg_ValueError, "shared"), 20000 };
	int i;

	(void)state;
	for (i = 0; i < THREADS; i++)
		tg_error_incref(a.e);
	for (i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&th[i], NULL, share_thread, &a),
				 0);
	tg_error_decref(a.e);
	for (i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(test_alloc_live, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, test_alloc_setup, test_alloc_teardown)
		T(test_error_new_records_type_message_origin),
		T(test_error_new_with_code),
		T(test_error_new_null_type_gives_type_error),
		T(test_error_new_group_type_gives_type_error),
		T(test_error_type_names_match_python),
		T(test_error_type_hierarchy),
		T(test_error_user_type_macro),
		T(test_error_errno_mapping),
		T(test_error_from_errno_message),
		T(test_error_from_errno_empty_text),
		T(test_error_provenance_outside_task),
		T(test_error_null_readers),
		T(test_error_notes_add_and_read),
		T(test_error_notes_refused_when_shared),
		T(test_error_notes_oom_leaves_error_unchanged),
		T(test_error_with_note_in_place_when_unshared),
		T(test_error_with_note_copies_when_shared),
		T(test_error_with_note_on_immortal_oom_copies),
		T(test_error_cause_set_and_replace),
		T(test_error_cause_refuses_cycle),
		T(test_error_cause_refused_when_shared),
		T(test_error_usage_keeps_attached_as_context),
		T(test_error_usage_under_oom_keeps_attached),
		T(test_error_cancelled_is_cancel),
		T(test_error_refcount_incref_decref),
		T(test_error_oom_is_immortal),
		T(test_error_new_under_oom_returns_memory_error),
		T(test_error_long_message_kept_whole),
		T(test_error_node_copies_each_string_once),
		T(test_error_notes_array_grows_by_size_class),
		T(test_error_blocks_come_in_size_classes),
		T(test_error_refcount_across_threads),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
