/*
 * test_eager.c - eager children (tg_spawn_eager, tg_group_options.eager;
 * asyncio's eager task factory): a child runs inside its spawn, as a
 * child of the group in every respect (identity, current task, spawn
 * order in the error tree, cancellation, fail-fast), on pools of 1 and 2
 * workers, and one that blocks in a region cannot starve a 1-worker pool.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <taskgroup.h>

#include "test_runners.h"

#define WATCHDOG_S 120

/* ---------------------------------------------------------------- */
/* Identity: the child is its own task, and runs inside the call.     */

static struct {
	uint64_t parent_id, seen_id, seen_parent;
	const char *name;
	bool ran;
} ident;

static tg_error *
ident_child(void *arg)
{
	tg_task_info info;

	(void)arg;
	if (tg_current_task(&info) != TG_OK)
		return TG_RAISE(&tg_RuntimeError, "current");
	ident.seen_id = info.id;
	ident.seen_parent = info.parent_id;
	ident.name = info.name;
	ident.ran = true;
	return NULL;
}

static tg_error *
ident_root(void *arg)
{
	tg_group g;
	int rc;

	(void)arg;
	ident.parent_id = tg_current_task_id();
	if (tg_group_init(&g, NULL) != TG_OK)
		return TG_RAISE(&tg_RuntimeError, "init");
	rc = tg_spawn_eager_named(&g, ident_child, NULL, "eager-one");
	if (rc != TG_OK || !ident.ran)
		return tg_group_join(&g, TG_RAISE(&tg_RuntimeError,
						  "not run in the call"));
	return tg_group_join(&g, NULL);
}

static void
test_eager_child_is_its_own_task_and_runs_in_the_call(void **state)
{
	tg_runner *rs[2] = { runner1, runner2 };
	int i;

	(void)state;
	for (i = 0; i < 2; i++) {
		memset(&ident, 0, sizeof(ident));
		assert_null(tg_runner_run(rs[i], ident_root, NULL));
		assert_true(ident.ran);
		assert_true(ident.seen_id != 0);
		assert_true(ident.seen_id != ident.parent_id);
		assert_true(ident.seen_parent == ident.parent_id);
		assert_string_equal(ident.name, "eager-one");
	}
}

/* ---------------------------------------------------------------- */
/* The error tree: with the collect-all policy (nothing cancelled),    */
/* eager and queued spawns give the same children in the same order.  */

static tg_error *
coded_child(void *arg)
{
	intptr_t i = (intptr_t)arg;

	if (i % 3 == 1)
		return TG_RAISE_CODE(&tg_ValueError, (int)i, "child %d", (int)i);
	if (i % 3 == 2)
		return TG_RAISE_CODE(&tg_TypeError, (int)i, "child %d", (int)i);
	return NULL;
}

enum spawn_mode { QUEUED, EAGER_CALL, EAGER_GROUP };

static tg_error *
tree_root(void *arg)
{
	enum spawn_mode mode = *(enum spawn_mode *)arg;
	tg_group_options o = { .policy = TG_POLICY_COLLECT_ALL,
			       .eager = mode == EAGER_GROUP };
	tg_group g;
	intptr_t i;
	int rc;

	if (tg_group_init(&g, &o) != TG_OK)
		return TG_RAISE(&tg_RuntimeError, "init");
	for (i = 0; i < 12; i++) {
		rc = mode == EAGER_CALL ? tg_spawn_eager(&g, coded_child, (void *)i)
					: tg_spawn(&g, coded_child, (void *)i);
		if (rc != TG_OK)
			return tg_group_join(&g, TG_RAISE(&tg_RuntimeError,
							  "spawn %d", rc));
	}
	return tg_group_join(&g, NULL);
}

static void
assert_same_tree(tg_error *a, tg_error *b)
{
	size_t i;

	assert_int_equal(tg_error_count(a), tg_error_count(b));
	for (i = 0; i < tg_error_count(a); i++) {
		const tg_error *x = tg_error_child(a, i), *y = tg_error_child(b, i);

		assert_ptr_equal(tg_error_type_of(x), tg_error_type_of(y));
		assert_int_equal(tg_error_code(x), tg_error_code(y));
		assert_string_equal(tg_error_message(x), tg_error_message(y));
	}
}

static void
test_eager_children_keep_the_error_tree_and_its_order(void **state)
{
	tg_runner *rs[2] = { runner1, runner2 };
	enum spawn_mode modes[3] = { QUEUED, EAGER_CALL, EAGER_GROUP };
	int i;

	(void)state;
	for (i = 0; i < 2; i++) {
		tg_error *queued = tg_runner_run(rs[i], tree_root, &modes[0]);
		tg_error *call = tg_runner_run(rs[i], tree_root, &modes[1]);
		tg_error *group = tg_runner_run(rs[i], tree_root, &modes[2]);

		assert_int_equal(tg_error_count(queued), 8);
		/* Spawn order: children 1, 2, 4, 5, ... */
		assert_int_equal(tg_error_code(tg_error_child(queued, 0)), 1);
		assert_int_equal(tg_error_code(tg_error_child(queued, 7)), 11);
		assert_same_tree(queued, call);
		assert_same_tree(queued, group);
		tg_error_decref(queued);
		tg_error_decref(call);
		tg_error_decref(group);
	}
}

/* ---------------------------------------------------------------- */
/* Fail-fast: an eager failure cancels the group before the spawn     */
/* returns; later spawns are refused, as with a queued failure that   */
/* has run.  tg_spawn_each into an eager group runs its children in   */
/* order and skips those after the failure.                           */

static int ff_ran[8];

static tg_error *
ff_child(void *arg)
{
	intptr_t i = *(intptr_t *)arg;

	ff_ran[i]++;
	return i == 2 ? TG_RAISE_CODE(&tg_ValueError, 2, "two") : NULL;
}

static tg_error *
ff_root(void *arg)
{
	bool each = *(bool *)arg;
	tg_group_options o = { .eager = 1 };
	static intptr_t idx[8] = { 0, 1, 2, 3, 4, 5, 6, 7 };
	tg_group g;
	int i, rc;

	if (tg_group_init(&g, each ? &o : NULL) != TG_OK)
		return TG_RAISE(&tg_RuntimeError, "init");
	if (each) {
		rc = tg_spawn_each(&g, ff_child, idx, 8, sizeof idx[0]);
		if (rc != TG_OK)
			return tg_group_join(&g, TG_RAISE(&tg_RuntimeError,
							  "each %d", rc));
		return tg_group_join(&g, NULL);
	}
	for (i = 0; i < 8; i++) {
		rc = tg_spawn_eager(&g, ff_child, &idx[i]);
		if (i <= 2 && rc != TG_OK)
			return tg_group_join(&g, TG_RAISE(&tg_RuntimeError,
							  "spawn %d", i));
		if (i > 2 && rc != TG_ESHUTTINGDOWN)
			return tg_group_join(&g, TG_RAISE(&tg_RuntimeError,
							  "spawn %d: %d", i,
							  rc));
	}
	return tg_group_join(&g, NULL);
}

static void
test_eager_failure_cancels_the_group_at_once(void **state)
{
	tg_runner *rs[2] = { runner1, runner2 };
	bool each;
	int i, k, j;

	(void)state;
	for (i = 0; i < 2; i++)
		for (k = 0; k < 2; k++) {
			tg_error *err;

			each = k == 1;
			memset(ff_ran, 0, sizeof(ff_ran));
			err = tg_runner_run(rs[i], ff_root, &each);
			assert_int_equal(tg_error_count(err), 1);
			assert_int_equal(tg_error_code(tg_error_child(err, 0)), 2);
			tg_error_decref(err);
			for (j = 0; j < 8; j++)
				assert_int_equal(ff_ran[j], j <= 2 ? 1 : 0);
		}
}

/* ---------------------------------------------------------------- */
/* Cancellation: a checkpoint inside an eager child sees its group's  */
/* cancellation (made by the child itself here), and the child's      */
/* CancelledError is no error of the group; a cancelled group refuses */
/* eager spawns as it refuses queued ones.                            */

static tg_group *cancel_g;
static bool cancel_seen;

static tg_error *
self_cancelling_child(void *arg)
{
	(void)arg;
	if (tg_group_cancel(cancel_g) != TG_OK)
		return TG_RAISE(&tg_RuntimeError, "cancel");
	cancel_seen = tg_cancelled();
	TG_CHECKPOINT();
	return TG_RAISE(&tg_RuntimeError, "the checkpoint did not return");
}

static tg_error *
cancel_root(void *arg)
{
	tg_group g;
	int rc;

	(void)arg;
	cancel_g = &g;
	if (tg_group_init(&g, NULL) != TG_OK)
		return TG_RAISE(&tg_RuntimeError, "init");
	if (tg_spawn_eager(&g, self_cancelling_child, NULL) != TG_OK)
		return tg_group_join(&g, TG_RAISE(&tg_RuntimeError, "spawn"));
	rc = tg_spawn_eager(&g, self_cancelling_child, NULL);
	if (rc != TG_ESHUTTINGDOWN)
		return tg_group_join(&g, TG_RAISE(&tg_RuntimeError,
						  "after cancel: %d", rc));
	return tg_group_join(&g, NULL);
}

static void
test_eager_child_sees_its_groups_cancellation(void **state)
{
	tg_runner *rs[2] = { runner1, runner2 };
	int i;

	(void)state;
	for (i = 0; i < 2; i++) {
		cancel_seen = false;
		assert_null(tg_runner_run(rs[i], cancel_root, NULL));
		assert_true(cancel_seen);
	}
}

/* ---------------------------------------------------------------- */
/* Blocking: an eager child that waits at a barrier for a sibling      */
/* queued before it, on one worker: its region publishes the queued    */
/* sibling and a compensating worker runs it.                          */

static tg_barrier eager_barrier;

static tg_error *
party(void *arg)
{
	int index;

	(void)arg;
	return tg_barrier_wait(&eager_barrier, &index);
}

static tg_error *
blocking_root(void *arg)
{
	tg_group g;

	(void)arg;
	if (tg_group_init(&g, NULL) != TG_OK)
		return TG_RAISE(&tg_RuntimeError, "init");
	if (tg_spawn(&g, party, NULL) != TG_OK ||
	    tg_spawn_eager(&g, party, NULL) != TG_OK)
		return tg_group_join(&g, TG_RAISE(&tg_RuntimeError, "spawn"));
	return tg_group_join(&g, NULL);
}

static void
test_eager_child_that_blocks_cannot_starve_one_worker(void **state)
{
	tg_runner *r;
	int round;

	(void)state;
	alarm(WATCHDOG_S);
	assert_int_equal(tg_runner_create(&r, &(tg_runner_config){
						      .threads = 1 }),
			 TG_OK);
	assert_int_equal(tg_barrier_init(&eager_barrier, 2), TG_OK);
	for (round = 0; round < 20; round++)
		assert_null(tg_runner_run(r, blocking_root, NULL));
	assert_int_equal(tg_barrier_destroy(&eager_barrier), TG_OK);
	assert_int_equal(tg_runner_destroy(r), TG_OK);
	alarm(0);
}

/* ---------------------------------------------------------------- */
/* Misuse: the errors of tg_spawn.                                    */

static tg_error *
misuse_root(void *arg)
{
	tg_group g, never;

	(void)arg;
	memset(&never, 0, sizeof(never));
	if (tg_spawn_eager(NULL, ident_child, NULL) != TG_EINVAL ||
	    tg_spawn_eager(&never, ident_child, NULL) != TG_EINVAL)
		return TG_RAISE(&tg_RuntimeError, "bad handle");
	if (tg_group_init(&g, NULL) != TG_OK)
		return TG_RAISE(&tg_RuntimeError, "init");
	if (tg_spawn_eager(&g, NULL, NULL) != TG_EINVAL)
		return tg_group_join(&g, TG_RAISE(&tg_RuntimeError, "NULL fn"));
	if (tg_group_join(&g, NULL) != NULL)
		return TG_RAISE(&tg_RuntimeError, "join");
	if (tg_spawn_eager(&g, ident_child, NULL) != TG_EFINISHED)
		return TG_RAISE(&tg_RuntimeError, "after join");
	return NULL;
}

static void
test_eager_spawn_misuse(void **state)
{
	tg_group g;

	(void)state;
	assert_null(tg_runner_run(runner1, misuse_root, NULL));
	memset(&g, 0, sizeof(g));
	/* Outside any task. */
	assert_int_not_equal(tg_spawn_eager(&g, ident_child, NULL), TG_OK);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			test_eager_child_is_its_own_task_and_runs_in_the_call),
		cmocka_unit_test(
			test_eager_children_keep_the_error_tree_and_its_order),
		cmocka_unit_test(test_eager_failure_cancels_the_group_at_once),
		cmocka_unit_test(test_eager_child_sees_its_groups_cancellation),
		cmocka_unit_test(
			test_eager_child_that_blocks_cannot_starve_one_worker),
		cmocka_unit_test(test_eager_spawn_misuse),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
