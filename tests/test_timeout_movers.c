/*
 * test_timeout_movers.c - asyncio.Timeout's contract on a group's deadline
 * (issue 20, section 3), the part beyond its owner: once the owner has
 * given a group a deadline, other tasks and plain threads may read and
 * move it while the group is open (Timeout.reschedule from another task);
 * only the owner joins; and the timer never keeps a joined group (checked
 * on the pool's heap).  The owner's side: test_timeout.c.
 * Outcomes only: children wait for their cancellation by polling
 * checkpoints, so a broken timer hangs (ctest's timeout), never flakes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <pthread.h>

#include "taskgroup.h"

#include "test_deadline.h"
#include "test_runners.h"
#include "test_timer_heap.h"

/* ------------------------------------------------------------------ */
/* Moved by other tasks                                                 */

typedef struct mover {
	tg_group *g;
	int64_t seen;  /* the deadline it read */
	int64_t moved; /* the deadline it set */
	int rc, rc2;
} mover;

/* A child that reads its group's deadline, moves it far, reads it back,
 * then moves it into the past: the group (and the owner waiting in its
 * join) times out. */
static tg_error *
move_then_expire(void *arg)
{
	mover *m = arg;

	m->seen = tg_group_deadline(m->g);
	m->moved = m->seen + HOUR;
	m->rc = tg_group_set_deadline(m->g, m->moved);
	assert_int_equal(tg_group_deadline(m->g), m->moved);
	m->rc2 = tg_group_set_timeout(m->g, -1);
	assert_true(tg_group_expired(m->g));
	/* Fired: nobody may move it any more. */
	assert_int_equal(tg_group_set_timeout(m->g, HOUR), TG_ESTATE);
	TG_CHECKPOINT(); /* cancelled: returns a CancelledError */
	return TG_RAISE(&tg_RuntimeError, "not cancelled");
}

static tg_error *
moved_by_child(void *arg)
{
	tg_group g;
	tg_error *err;
	mover m = { &g, 0, 0, -1, -1 };
	int64_t d = tg_now_ns() + HOUR;

	(void)arg;
	tg_group_init(&g, NULL);
	assert_int_equal(tg_group_set_deadline(&g, d), TG_OK);
	tg_spawn(&g, wait_for_cancel, NULL);
	tg_spawn(&g, wait_for_cancel, NULL);
	/* Last: with one worker the join runs it first (newest first), and
	 * the children it waits for above are skipped when it expires g. */
	tg_spawn(&g, move_then_expire, &m);
	err = tg_group_join(&g, NULL); /* waits while the child moves it */
	assert_true(tg_error_is(err, &tg_TimeoutError));
	tg_error_decref(err);
	assert_int_equal(m.seen, d);
	assert_int_equal(m.rc, TG_OK);
	assert_int_equal(m.rc2, TG_OK);
	assert_true(tg_group_expired(&g));
	assert_true(tg_group_deadline(&g) <= tg_now_ns());
	assert_int_equal(timer_entries(), 0);
	return NULL;
}

/* A child moves the deadline (the owner gave none but TG_DEADLINE_NONE,
 * asyncio.timeout(None)) and returns; nothing expires.  With one worker
 * the child runs inside the owner's join, after the join looked at the
 * group: the join must still take the group off the timer (the heap is
 * empty after it), and the deadline the child set is what the handle
 * keeps. */
static tg_error *
move_far(void *arg)
{
	mover *m = arg;

	m->seen = tg_group_deadline(m->g);
	m->moved = tg_now_ns() + HOUR;
	m->rc = tg_group_set_deadline(m->g, m->moved);
	m->rc2 = tg_group_set_deadline(m->g, m->moved + 1);
	m->moved += 1;
	return NULL;
}

static tg_error *
moved_far_by_child(void *arg)
{
	tg_group g;
	mover m = { &g, 0, 0, -1, -1 };
	int i;

	(void)arg;
	for (i = 0; i < 50; i++) {
		tg_group_init(&g, NULL);
		assert_int_equal(tg_group_set_deadline(&g, TG_DEADLINE_NONE),
				 TG_OK);
		tg_spawn(&g, move_far, &m);
		assert_null(tg_group_join(&g, NULL));
		assert_int_equal(m.seen, TG_DEADLINE_NONE);
		assert_int_equal(m.rc, TG_OK);
		assert_int_equal(m.rc2, TG_OK);
		assert_int_equal(tg_group_deadline(&g), m.moved);
		assert_false(tg_group_expired(&g));
		assert_int_equal(timer_entries(), 0);
		/* The next group (likely the same core) has no deadline. */
		tg_group_init(&g, NULL);
		tg_spawn(&g, succeed, NULL);
		assert_int_equal(tg_group_deadline(&g), TG_DEADLINE_NONE);
		assert_null(tg_group_join(&g, NULL));
		assert_int_equal(timer_entries(), 0);
	}
	return NULL;
}

/* The owner gave no deadline: another task may not give one (the join
 * would not look at the timer), and nothing changes. */
static tg_error *
refused_mover(void *arg)
{
	mover *m = arg;

	m->rc = tg_group_set_deadline(m->g, tg_now_ns() + HOUR);
	m->rc2 = tg_group_set_timeout(m->g, -1);
	m->seen = tg_group_deadline(m->g);
	return NULL;
}

static tg_error *
not_given_by_owner(void *arg)
{
	tg_group g;
	mover m = { &g, 0, 0, -1, -1 };

	(void)arg;
	tg_group_init(&g, NULL);
	tg_spawn(&g, refused_mover, &m);
	assert_null(tg_group_join(&g, NULL));
	assert_int_equal(m.rc, TG_ENOTOWNER);
	assert_int_equal(m.rc2, TG_ENOTOWNER);
	assert_int_equal(m.seen, TG_DEADLINE_NONE);
	assert_false(tg_group_expired(&g));
	assert_int_equal(tg_group_deadline(&g), TG_DEADLINE_NONE);
	assert_int_equal(timer_entries(), 0);
	return NULL;
}

/* Only the owner joins: a child that tries gets a RuntimeError with
 * TG_ENOTOWNER, and the group is unaffected. */
static tg_error *
join_from_child(void *arg)
{
	tg_error *err = tg_group_join(arg, NULL);

	assert_true(tg_error_is(err, &tg_RuntimeError));
	assert_int_equal(tg_error_code(err), TG_ENOTOWNER);
	tg_error_decref(err);
	return NULL;
}

static tg_error *
only_owner_joins(void *arg)
{
	tg_group g;

	(void)arg;
	tg_group_init(&g, NULL);
	assert_int_equal(tg_group_set_timeout(&g, HOUR), TG_OK);
	tg_spawn(&g, join_from_child, &g);
	assert_null(tg_group_join(&g, NULL));
	assert_int_equal(timer_entries(), 0);
	return NULL;
}

static void
test_timeout_other_tasks_read_and_move_the_deadline(void **state)
{
	(void)state;
	assert_null(tg_runner_run(runner1, moved_by_child, NULL));
	assert_null(tg_runner_run(runner2, moved_by_child, NULL));
	assert_null(tg_runner_run(runner1, moved_far_by_child, NULL));
	assert_null(tg_runner_run(runner2, moved_far_by_child, NULL));
	assert_null(tg_runner_run(runner1, not_given_by_owner, NULL));
	assert_null(tg_runner_run(runner2, only_owner_joins, NULL));
}

/* ------------------------------------------------------------------ */
/* Moved by another thread                                              */

typedef struct remote {
	tg_group *g;
	int64_t seen, moved;
	int rc_far, rc_past, rc_late;
	int join_code;
	bool expired_seen;
} remote;

/* A plain thread (no pool worker): reads the deadline, tries to join
 * (refused), moves the deadline far, then into the past.  The owner waits
 * in its join meanwhile: its children end only when the group expires,
 * so the group is open for every call here. */
static void *
remote_thread(void *arg)
{
	remote *r = arg;
	tg_error *err;

	r->seen = tg_group_deadline(r->g);
	err = tg_group_join(r->g, NULL);
	r->join_code = tg_error_is(err, &tg_RuntimeError) ? tg_error_code(err)
							 : -1;
	tg_error_decref(err);
	r->moved = r->seen + HOUR;
	r->rc_far = tg_group_set_deadline(r->g, r->moved);
	if (tg_group_deadline(r->g) != r->moved)
		r->rc_far = -1;
	r->rc_past = tg_group_set_timeout(r->g, -1);
	r->expired_seen = tg_group_expired(r->g);
	/* After its own expiry, nothing may move it: still open here?  Not
	 * known (the join may be ending), so no more calls. */
	return NULL;
}

static tg_error *
moved_by_thread(void *arg)
{
	tg_group g;
	tg_error *err;
	pthread_t th;
	remote r = { &g, 0, 0, -1, -1, -1, -1, false };
	int64_t d = tg_now_ns() + HOUR;

	(void)arg;
	tg_group_init(&g, NULL);
	assert_int_equal(tg_group_set_deadline(&g, d), TG_OK);
	tg_spawn(&g, wait_for_cancel, NULL);
	tg_spawn(&g, wait_for_cancel, NULL);
	assert_int_equal(pthread_create(&th, NULL, remote_thread, &r), 0);
	err = tg_group_join(&g, NULL);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_true(tg_error_is(err, &tg_TimeoutError));
	tg_error_decref(err);
	assert_int_equal(r.seen, d);
	assert_int_equal(r.join_code, TG_ENOTOWNER);
	assert_int_equal(r.rc_far, TG_OK);
	assert_int_equal(r.rc_past, TG_OK);
	assert_true(r.expired_seen);
	assert_true(tg_group_expired(&g));
	assert_true(tg_group_deadline(&g) < d);
	assert_int_equal(timer_entries(), 0);
	return NULL;
}

/* Many movers at once, tasks and threads, while the owner waits: each
 * move is serialised by the timer's lock; the last mover expires it. */
#define MOVES 2000

typedef struct race {
	tg_group *g;
	int64_t base;
	TG_ATOMIC(uint32_t) done; /* movers finished */
	TG_ATOMIC(uint32_t) bad;  /* wrong answers seen */
} race;

static void
move_many(race *rc, int64_t salt)
{
	int i;

	for (i = 0; i < MOVES; i++) {
		int64_t d;

		if (tg_group_set_deadline(rc->g, rc->base + salt + i) != TG_OK)
			(void)tg_atomic_faa_relaxed_u32(&rc->bad, 1);
		d = tg_group_deadline(rc->g);
		if (d < rc->base || d == TG_DEADLINE_NONE)
			(void)tg_atomic_faa_relaxed_u32(&rc->bad, 1);
		(void)tg_group_expired(rc->g);
	}
}

static tg_error *
race_task(void *arg)
{
	race *rc = arg;

	move_many(rc, HOUR);
	/* seq_cst: pairs with the expirer's load (relaxed would do: the
	 * moves are ordered by the timer's lock, not by this count). */
	(void)tg_atomic_faa_seqcst_u32(&rc->done, 1);
	return NULL;
}

static void *
race_thread(void *arg)
{
	race *rc = arg;

	move_many(rc, 2 * HOUR);
	/* seq_cst: pairs with the expirer's load, so the thread has made
	 * every call before the group can end. */
	(void)tg_atomic_faa_seqcst_u32(&rc->done, 1);
	return NULL;
}

/* Waits until the three movers have finished, then expires the group.
 * seq_cst load: pairs with the movers' seq_cst counts. */
static tg_error *
expirer(void *arg)
{
	race *rc = arg;

	while (tg_atomic_load_seqcst_u32(&rc->done) < 3)
		TG_CHECKPOINT();
	if (tg_group_set_timeout(rc->g, -1) != TG_OK)
		(void)tg_atomic_faa_relaxed_u32(&rc->bad, 1);
	TG_CHECKPOINT();
	return TG_RAISE(&tg_RuntimeError, "not cancelled");
}

static tg_error *
racing_movers(void *arg)
{
	tg_group g;
	tg_error *err;
	pthread_t th;
	race rc;

	(void)arg;
	rc.g = &g;
	rc.base = tg_now_ns();
	tg_atomic_store_relaxed_u32(&rc.done, 0);
	tg_atomic_store_relaxed_u32(&rc.bad, 0);
	tg_group_init(&g, NULL);
	assert_int_equal(tg_group_set_deadline(&g, rc.base + 3 * HOUR), TG_OK);
	assert_int_equal(pthread_create(&th, NULL, race_thread, &rc), 0);
	tg_spawn(&g, race_task, &rc);
	tg_spawn(&g, race_task, &rc);
	tg_spawn(&g, expirer, &rc);
	err = tg_group_join(&g, NULL);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_true(tg_error_is(err, &tg_TimeoutError));
	tg_error_decref(err);
	assert_int_equal(tg_atomic_load_relaxed_u32(&rc.bad), 0);
	assert_true(tg_group_expired(&g));
	assert_int_equal(timer_entries(), 0);
	return NULL;
}

static void
test_timeout_other_threads_read_and_move_the_deadline(void **state)
{
	(void)state;
	assert_null(tg_runner_run(runner1, moved_by_thread, NULL));
	assert_null(tg_runner_run(runner2, moved_by_thread, NULL));
	assert_null(tg_runner_run(runner2, racing_movers, NULL));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_timeout_other_tasks_read_and_move_the_deadline),
		cmocka_unit_test(test_timeout_other_threads_read_and_move_the_deadline),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
