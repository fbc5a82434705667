/*
 * test_batch.c - tg_spawn_each: every child once with its element, the
 * error order of one-by-one spawns, fail-fast skipping, children as tasks
 * of their own, splitting to an idle worker, limited and first-success
 * groups, bad input, and memory: one block per call, nothing lost or
 * leaked when memory runs out.  Each test runs its scenario as a root task
 * of a runner.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "taskgroup.h"

#include "atomic.h"
#include "batch.h"
#include "scheduler.h"
#include "test_atomic_alloc.h"
#include "test_runners.h"

/* Runs body(arg) on runner1, then on runner2. */
static void
run_on_both(tg_task_fn body, void *arg)
{
	assert_null(tg_runner_run(runner1, body, arg));
	assert_null(tg_runner_run(runner2, body, arg));
}

/* ---------------------------------------------------------------- */

struct elem {
	uint64_t hits;
	uint64_t index;
};

static tg_error *
hit(void *arg)
{
	struct elem *e = arg;

	tg_atomic_faa_acqrel_u64(&e->hits, 1);
	return NULL;
}

struct batch {
	struct elem *elems;
	size_t n;
};

static tg_error *
spawn_batch(void *arg)
{
	struct batch *b = arg;
	tg_group g;

	assert_int_equal(tg_group_init(&g, NULL), TG_OK);
	assert_int_equal(tg_spawn_each(&g, hit, b->elems, b->n,
				       sizeof(struct elem)),
			 TG_OK);
	return tg_group_join(&g, NULL);
}

static void
test_batch_every_child_runs_once_with_its_element(void **state)
{
	struct batch b = { calloc(200000, sizeof(struct elem)), 200000 };
	tg_runner *const runners[3] = { runner1, runner2, runner4 };
	size_t i;
	int round;

	(void)state;
	assert_non_null(b.elems);
	for (round = 0; round < 3; round++) {
		tg_runner *r = runners[round];

		memset(b.elems, 0, b.n * sizeof(struct elem));
		assert_null(tg_runner_run(r, spawn_batch, &b));
		for (i = 0; i < b.n; i++)
			assert_int_equal(b.elems[i].hits, 1);
	}
	free(b.elems);
}

static tg_error *
count_up(void *arg)
{
	tg_atomic_faa_acqrel_u64(arg, 1);
	return NULL;
}

static tg_error *
zero_and_shared(void *arg)
{
	uint64_t *counter = arg;
	tg_group g;

	assert_int_equal(tg_group_init(&g, NULL), TG_OK);
	/* count 0: nothing; args NULL is fine with stride 0. */
	assert_int_equal(tg_spawn_each(&g, count_up, counter, 0, 8), TG_OK);
	assert_int_equal(tg_spawn_each(&g, count_up, NULL, 0, 0), TG_OK);
	/* stride 0: every child gets args itself. */
	assert_int_equal(tg_spawn_each(&g, count_up, counter, 1000, 0), TG_OK);
	return tg_group_join(&g, NULL);
}

static void
test_batch_count_zero_spawns_nothing_and_stride_zero_shares_args(void **state)
{
	uint64_t counter = 0;

	(void)state;
	assert_null(tg_runner_run(runner1, zero_and_shared, &counter));
	assert_int_equal(counter, 1000);
	counter = 0;
	assert_null(tg_runner_run(runner2, zero_and_shared, &counter));
	assert_int_equal(counter, 1000);
}

/* ---------------------------------------------------------------- */
/* Errors                                                             */

/* Fails with code i for the children whose index i is 3 mod 10. */
static tg_error *
fail_some(void *arg)
{
	int i = *(int *)arg;

	if (i % 10 == 3)
		return TG_RAISE_CODE(&tg_ValueError, i, "child %d", i);
	return NULL;
}

static tg_error *
fail_with_code(void *arg)
{
	int code = (int)(intptr_t)arg;

	return TG_RAISE_CODE(&tg_ValueError, code, "child %d", code);
}

static int indices[10000];

static tg_error *
mixed_spawns(void *arg)
{
	tg_group g;
	tg_group_options collect = { .policy = TG_POLICY_COLLECT_ALL };

	(void)arg;
	assert_int_equal(tg_group_init(&g, &collect), TG_OK);
	assert_int_equal(tg_spawn(&g, fail_with_code, (void *)(intptr_t)-1),
			 TG_OK);
	assert_int_equal(tg_spawn_each(&g, fail_some, indices, 10000,
				       sizeof(int)),
			 TG_OK);
	assert_int_equal(tg_spawn(&g, fail_with_code, (void *)(intptr_t)20000),
			 TG_OK);
	return tg_group_join(&g, NULL);
}

struct order {
	int next; /* the code the next leaf must have */
	int seen;
};

static int
leaf_in_order(tg_error *leaf, void *arg)
{
	struct order *o = arg;

	assert_int_equal(tg_error_code(leaf), o->next);
	o->seen++;
	if (o->next == -1)
		o->next = 3;
	else if (o->next == 9993)
		o->next = 20000;
	else
		o->next += 10;
	return 0;
}

static void
test_batch_errors_keep_the_order_of_one_by_one_spawns(void **state)
{
	int round, i;

	(void)state;
	for (i = 0; i < 10000; i++)
		indices[i] = i;
	for (round = 0; round < 2; round++) {
		struct order o = { -1, 0 };
		tg_error *err = tg_runner_run(round == 0 ? runner1 : runner2,
					      mixed_spawns, NULL);

		assert_non_null(err);
		tg_error_foreach_leaf(err, leaf_in_order, &o);
		assert_int_equal(o.seen, 1 + 1000 + 1);
		tg_error_decref(err);
	}
}

struct fail_fast {
	uint64_t ran;
	int fail_at;
	int n;
};

static struct fail_fast ff;

static tg_error *
count_and_fail_at(void *arg)
{
	int i = *(int *)arg;

	tg_atomic_faa_acqrel_u64(&ff.ran, 1);
	if (i == ff.fail_at)
		return TG_RAISE_CODE(&tg_ValueError, i, "child %d", i);
	return NULL;
}

static tg_error *
fail_fast_batch(void *arg)
{
	tg_group g;

	(void)arg;
	assert_int_equal(tg_group_init(&g, NULL), TG_OK);
	assert_int_equal(tg_spawn_each(&g, count_and_fail_at, indices, ff.n,
				       sizeof(int)),
			 TG_OK);
	return tg_group_join(&g, NULL);
}

static void
test_batch_fail_fast_skips_children_not_started(void **state)
{
	tg_error *err;
	int i;

	(void)state;
	for (i = 0; i < 10000; i++)
		indices[i] = i;
	ff = (struct fail_fast){ 0, 10, 1000 };
	/* One worker runs the range in index order: 0..10, then the rest is
	 * skipped, never run. */
	err = tg_runner_run(runner1, fail_fast_batch, NULL);
	assert_int_equal(ff.ran, 11);
	assert_int_equal(tg_error_leaf_count(err), 1);
	assert_int_equal(tg_error_code(tg_error_child(err, 0)), 10);
	tg_error_decref(err);
	/* Two workers: still the one error, and not every child ran past
	 * it... unless the other worker raced ahead; only the error is
	 * certain. */
	ff = (struct fail_fast){ 0, 10, 10000 };
	err = tg_runner_run(runner2, fail_fast_batch, NULL);
	assert_int_equal(tg_error_leaf_count(err), 1);
	assert_int_equal(tg_error_code(tg_error_child(err, 0)), 10);
	assert_true(ff.ran >= 11 && ff.ran <= 10000);
	tg_error_decref(err);
}

/* ---------------------------------------------------------------- */
/* Children are tasks                                                 */

struct seen_task {
	uint64_t id;
	uint64_t parent_id;
	int line;
};

static struct seen_task seen[1000];
static int spawn_line;

static tg_error *
record_task(void *arg)
{
	struct seen_task *s = arg;
	tg_task_info info;

	assert_int_equal(tg_current_task(&info), TG_OK);
	s->id = info.id;
	s->parent_id = info.parent_id;
	s->line = info.spawned_at.line;
	return NULL;
}

static tg_error *
spawn_recorders(void *arg)
{
	uint64_t *owner_id = arg;
	tg_group g;
	int rc;

	*owner_id = tg_current_task_id();
	assert_int_equal(tg_group_init(&g, NULL), TG_OK);
	spawn_line = __LINE__ + 1;
	rc = tg_spawn_each(&g, record_task, seen, 1000, sizeof(seen[0]));
	assert_int_equal(rc, TG_OK);
	return tg_group_join(&g, NULL);
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

static void
test_batch_children_are_tasks_of_their_own(void **state)
{
	uint64_t owner = 0, ids[1000];
	int round, i;

	(void)state;
	for (round = 0; round < 2; round++) {
		memset(seen, 0, sizeof(seen));
		assert_null(tg_runner_run(round == 0 ? runner1 : runner2,
					  spawn_recorders, &owner));
		for (i = 0; i < 1000; i++) {
			assert_int_not_equal(seen[i].id, 0);
			assert_int_not_equal(seen[i].id, owner);
			assert_int_equal(seen[i].parent_id, owner);
			assert_int_equal(seen[i].line, spawn_line);
			ids[i] = seen[i].id;
		}
		qsort(ids, 1000, sizeof(ids[0]), cmp_u64);
		for (i = 1; i < 1000; i++)
			assert_true(ids[i] != ids[i - 1]); /* unique */
	}
}

/* Batches in batches: each of 100 children spawns a batch of 100. */
static uint64_t grandchildren;

static tg_error *
inner_batch(void *arg)
{
	tg_group g;

	(void)arg;
	assert_int_equal(tg_group_init(&g, NULL), TG_OK);
	assert_int_equal(tg_spawn_each(&g, count_up, &grandchildren, 100, 0),
			 TG_OK);
	return tg_group_join(&g, NULL);
}

static tg_error *
outer_batch(void *arg)
{
	tg_group g;

	(void)arg;
	assert_int_equal(tg_group_init(&g, NULL), TG_OK);
	assert_int_equal(tg_spawn_each(&g, inner_batch, NULL, 100, 0), TG_OK);
	return tg_group_join(&g, NULL);
}

static void
test_batch_children_open_batches_of_their_own(void **state)
{
	(void)state;
	grandchildren = 0;
	run_on_both(outer_batch, NULL);
	assert_int_equal(grandchildren, 2 * 100 * 100);
}

/* An idle worker that asks for work gets half of a running batch: child 0
 * waits, checkpointing, until a child has run on another worker.  (It
 * gives up after 20 s so that a failure cannot hang the suite.) */
struct steal_probe {
	uint32_t first_worker;
	uint64_t elsewhere; /* children seen on another worker */
	uint64_t ran;
};

static struct steal_probe probe;

static tg_error *
wait_for_a_thief(void *arg)
{
	int i = *(int *)arg;
	int me = tg_current_worker();

	tg_atomic_faa_acqrel_u64(&probe.ran, 1);
	if (i == 0) {
		int64_t give_up = tg_now_ns() + 20 * INT64_C(1000000000);

		tg_atomic_store_release_u32(&probe.first_worker,
					    (uint32_t)me);
		while (tg_atomic_load_acquire_u64(&probe.elsewhere) == 0 &&
		       tg_now_ns() < give_up)
			(void)tg_cancelled(); /* a checkpoint shares */
		return NULL;
	}
	if ((uint32_t)me != tg_atomic_load_acquire_u32(&probe.first_worker))
		tg_atomic_faa_acqrel_u64(&probe.elsewhere, 1);
	return NULL;
}

static tg_error *
spawn_probe(void *arg)
{
	tg_group g;

	(void)arg;
	assert_int_equal(tg_group_init(&g, NULL), TG_OK);
	assert_int_equal(tg_spawn_each(&g, wait_for_a_thief, indices, 1000,
				       sizeof(int)),
			 TG_OK);
	return tg_group_join(&g, NULL);
}

static void
test_batch_idle_worker_takes_half_of_a_running_batch(void **state)
{
	int i;

	(void)state;
	for (i = 0; i < 10000; i++)
		indices[i] = i;
	probe = (struct steal_probe){ UINT32_MAX, 0, 0 };
	assert_null(tg_runner_run(runner2, spawn_probe, NULL));
	assert_true(tg_atomic_load_acquire_u64(&probe.elsewhere) > 0);
	assert_int_equal(probe.ran, 1000);
}

/* ---------------------------------------------------------------- */
/* Groups with hooks: a limit, first-success                          */

struct limit_probe {
	uint64_t running;
	uint64_t peak;
	uint64_t ran;
};

static tg_error *
limited_child(void *arg)
{
	struct limit_probe *p = arg;
	uint64_t now = tg_atomic_faa_acqrel_u64(&p->running, 1) + 1;
	uint64_t peak = tg_atomic_load_acquire_u64(&p->peak);
	int64_t until = tg_now_ns() + 20000;

	while (now > peak && !tg_atomic_cas_seqcst_u64(&p->peak, peak, now))
		peak = tg_atomic_load_acquire_u64(&p->peak);
	while (tg_now_ns() < until)
		;
	tg_atomic_faa_acqrel_u64(&p->ran, 1);
	tg_atomic_faa_acqrel_u64(&p->running, (uint64_t)-1);
	return NULL;
}

static tg_error *
limited_batch(void *arg)
{
	tg_group g;
	tg_group_options two = { .limit = 2 };

	assert_int_equal(tg_group_init(&g, &two), TG_OK);
	assert_int_equal(tg_spawn_each(&g, limited_child, arg, 50, 0), TG_OK);
	return tg_group_join(&g, NULL);
}

static void
test_batch_limited_group_keeps_its_limit(void **state)
{
	struct limit_probe p = { 0, 0, 0 };

	(void)state;
	assert_null(tg_runner_run(runner2, limited_batch, &p));
	assert_int_equal(p.ran, 50);
	assert_true(p.peak >= 1 && p.peak <= 2);
}

static tg_error *
succeed_from_five(void *arg)
{
	int i = *(int *)arg;

	if (i < 5)
		return TG_RAISE_CODE(&tg_ValueError, i, "child %d", i);
	return NULL;
}

static tg_error *
first_success_batch(void *arg)
{
	tg_group g;
	tg_group_options first = { .policy = TG_POLICY_FIRST_SUCCESS };
	void *winner = NULL;
	tg_error *err;

	(void)arg;
	assert_int_equal(tg_group_init(&g, &first), TG_OK);
	assert_int_equal(tg_spawn_each(&g, succeed_from_five, indices, 10,
				       sizeof(int)),
			 TG_OK);
	err = tg_group_join(&g, NULL);
	assert_null(err);
	assert_int_equal(tg_group_winner(&g, &winner), TG_OK);
	assert_true((int *)winner >= &indices[5] &&
		    (int *)winner < &indices[10]);
	return NULL;
}

static void
test_batch_first_success_group_names_a_winner(void **state)
{
	int i;

	(void)state;
	for (i = 0; i < 10000; i++)
		indices[i] = i;
	run_on_both(first_success_batch, NULL);
}

/* ---------------------------------------------------------------- */
/* Bad input                                                          */

struct outside {
	tg_group *g;
	int rc;
};

static void *
spawn_from_outside(void *arg)
{
	struct outside *o = arg;

	o->rc = tg_spawn_each(o->g, count_up, NULL, 1, 0);
	return NULL;
}

static tg_error *
misuse(void *arg)
{
	uint64_t counter = 0;
	tg_group g, never;
	struct outside o;
	pthread_t t;

	(void)arg;
	memset(&never, 0, sizeof(never));
	assert_int_equal(tg_spawn_each(NULL, count_up, &counter, 1, 0),
			 TG_EINVAL);
	assert_int_equal(tg_spawn_each(&never, count_up, &counter, 1, 0),
			 TG_EINVAL);
	assert_int_equal(tg_group_init(&g, NULL), TG_OK);
	assert_int_equal(tg_spawn_each(&g, NULL, &counter, 1, 0), TG_EINVAL);
	assert_int_equal(tg_spawn_each(&g, count_up, NULL, 2, 8), TG_EINVAL);
	assert_int_equal(tg_spawn_each(&g, count_up, &counter,
				       TG_SPAWN_EACH_MAX + 1, 0),
			 TG_EINVAL);
	/* The last element would lie past the end of the address space. */
	assert_int_equal(tg_spawn_each(&g, count_up,
				       (void *)(UINTPTR_MAX - 100), 3, 64),
			 TG_EINVAL);
	/* Not a task: a thread of its own. */
	o.g = &g;
	o.rc = TG_OK;
	assert_int_equal(pthread_create(&t, NULL, spawn_from_outside, &o), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(o.rc, TG_ENOTASK);
	/* Cancelled: refused. */
	assert_int_equal(tg_group_cancel(&g), TG_OK);
	assert_int_equal(tg_spawn_each(&g, count_up, &counter, 5, 0),
			 TG_ESHUTTINGDOWN);
	assert_null(tg_group_join(&g, NULL));
	/* Joined. */
	assert_int_equal(tg_spawn_each(&g, count_up, &counter, 1, 0),
			 TG_EFINISHED);
	assert_int_equal(counter, 0); /* no refused child ran */
	return NULL;
}

/* ---------------------------------------------------------------- */
/* Named batches                                                     */

#define NAMED_N 2000
#define NAMED_FAILS 700 /* the child that fails */

static const char batch_name[] = "batch child";

struct named_elem {
	const char *name; /* the child's task name, as it saw it */
	int ran;
	int index;
};

static struct named_elem named[NAMED_N];

static tg_error *
note_name(void *arg)
{
	struct named_elem *e = arg;
	tg_task_info info;

	if (tg_current_task(&info) != TG_OK)
		return TG_RAISE(&tg_RuntimeError, "no current task");
	e->name = info.name;
	e->ran = 1;
	if (e->index == NAMED_FAILS)
		return TG_RAISE_CODE(&tg_ValueError, NAMED_FAILS, "child %d",
				     e->index);
	return NULL;
}

struct named_case {
	int limit;       /* 0: ranges; else one frame per child */
	const char *name; /* NULL: tg_spawn_each */
};

static tg_error *
spawn_named(void *arg)
{
	const struct named_case *c = arg;
	/* Collect-all, so that every child runs whatever the order. */
	tg_group_options opts = { .policy = TG_POLICY_COLLECT_ALL,
				  .limit = c->limit };
	tg_group g;
	int rc;

	if (tg_group_init(&g, &opts) != TG_OK)
		return TG_RAISE(&tg_RuntimeError, "init");
	rc = c->name != NULL
		     ? tg_spawn_each_named(&g, note_name, named, NAMED_N,
					   sizeof(named[0]), c->name)
		     : tg_spawn_each(&g, note_name, named, NAMED_N,
				     sizeof(named[0]));
	if (rc != TG_OK)
		return tg_group_join(&g, TG_RAISE(&tg_RuntimeError, "spawn"));
	return tg_group_join(&g, NULL);
}

static int
leaf_task_name(tg_error *leaf, void *ctx)
{
	*(const char **)ctx = tg_error_provenance_of(leaf).task_name;
	return 1; /* the first leaf only */
}

static void
check_named(tg_runner *r, int limit, const char *name)
{
	struct named_case c = { limit, name };
	const char *raised_by = "unset";
	tg_error *err;
	int i;

	for (i = 0; i < NAMED_N; i++)
		named[i] = (struct named_elem){ "unset", 0, i };
	err = tg_runner_run(r, spawn_named, &c);
	for (i = 0; i < NAMED_N; i++) {
		assert_int_equal(named[i].ran, 1);
		assert_ptr_equal(named[i].name, name);
	}
	/* The failing child's error names the task that raised it (as
	 * the child saw it: the batch's name, or none). */
	assert_non_null(err);
	assert_int_equal(tg_error_leaf_count(err), 1);
	tg_error_foreach_leaf(err, leaf_task_name, &raised_by);
	if (name != NULL)
		assert_string_equal(raised_by, name); /* errors copy it */
	else
		assert_null(raised_by);
	tg_error_decref(err);
}

static void
test_batch_named_children_carry_the_name(void **state)
{
	(void)state;
	/* Ranges (which split on 2 workers) and one frame per child (a
	 * limited group), on 1 and 2 workers; unnamed batches stay NULL. */
	check_named(runner1, 0, batch_name);
	check_named(runner2, 0, batch_name);
	check_named(runner1, 3, batch_name);
	check_named(runner2, 3, batch_name);
	check_named(runner2, 0, NULL);
	check_named(runner2, 3, NULL);
}

static void
test_batch_bad_input_gets_defined_results(void **state)
{
	uint64_t counter = 0;
	tg_group g;

	(void)state;
	run_on_both(misuse, NULL);
	memset(&g, 0, sizeof(g));
	/* Outside any task, with a handle that is not open. */
	assert_int_equal(tg_spawn_each(&g, count_up, &counter, 1, 0),
			 TG_EINVAL);
}

/* ---------------------------------------------------------------- */
/* Memory                                                             */

/* The allocator can only change while no runner exists: the shared
 * runners go, `a` is installed, and *r is a new one-worker runner. */
static void
own_allocator_runner(const tg_allocator *a, tg_runner **r)
{
	assert_int_equal(teardown(NULL), 0);
	assert_int_equal(tg_set_allocator(a), TG_OK);
	assert_int_equal(tg_runner_create(r, &(tg_runner_config){ .threads = 1 }),
			 TG_OK);
}

/* Undoes own_allocator_runner: r goes, the default allocator and the
 * shared runners come back. */
static void
own_allocator_done(tg_runner *r, void **state)
{
	assert_int_equal(tg_runner_destroy(r), TG_OK);
	assert_int_equal(tg_reset_allocator(), TG_OK);
	assert_int_equal(setup(state), 0);
}

static tg_error *
batch_rounds(void *arg)
{
	uint64_t *during = arg;
	struct batch b = { calloc(10000, sizeof(struct elem)), 10000 };
	int round;

	assert_non_null(b.elems);
	for (round = 0; round < 3; round++) {
		if (round == 2)
			ta_arm(TA_COUNT, 0);
		assert_null(spawn_batch(&b));
	}
	*during = (uint64_t)ta_calls();
	free(b.elems);
	return NULL;
}

static void
test_batch_allocates_nothing_once_warm(void **state)
{
	tg_runner *r;
	uint64_t during = 99;

	own_allocator_runner(&ta_allocator, &r);
	assert_null(tg_runner_run(r, batch_rounds, &during));
	/* The range block of the earlier rounds is reused: nothing is
	 * allocated per call, let alone per child. */
	assert_int_equal(during, 0);
	own_allocator_done(r, state);
}

static tg_error *
no_range_memory(void *arg)
{
	uint64_t *counter = arg;
	tg_group g, limited;
	tg_group_options three = { .limit = 3 };

	assert_int_equal(tg_group_init(&g, NULL), TG_OK);
	assert_int_equal(tg_group_init(&limited, &three), TG_OK);
	ta_arm(TA_FAIL_SIZE, (long)sizeof(tg__range));
	assert_int_equal(tg_spawn_each(&g, count_up, counter, 100, 0),
			 TG_ENOMEM);
	/* A limited group takes a frame per child: none. */
	ta_arm(TA_FAIL_SIZE, (long)sizeof(tg__frame));
	assert_int_equal(tg_spawn_each(&limited, count_up, counter, 100, 0),
			 TG_ENOMEM);
	ta_disarm();
	assert_null(tg_group_join(&limited, NULL));
	return tg_group_join(&g, NULL);
}

static void
test_batch_without_memory_spawns_nothing(void **state)
{
	tg_runner *r;
	uint64_t counter = 0;

	own_allocator_runner(&ta_allocator, &r);
	assert_null(tg_runner_run(r, no_range_memory, &counter));
	assert_int_equal(counter, 0);
	own_allocator_done(r, state);
}

/* Every child fails while no frame can be had for its record: the
 * errors stay with the range and are all reported, in order, between the
 * one-by-one children spawned around the batch. */
static tg_error *
fail_arming(void *arg)
{
	int i = *(int *)arg;

	if (i == 0)
		ta_arm(TA_FAIL_SIZE, (long)sizeof(tg__frame));
	return TG_RAISE_CODE(&tg_ValueError, i, "child %d", i);
}

static tg_error *
records_without_memory(void *arg)
{
	tg_group g;
	tg_group_options collect = { .policy = TG_POLICY_COLLECT_ALL };
	tg_error *err;

	(void)arg;
	assert_int_equal(tg_group_init(&g, &collect), TG_OK);
	assert_int_equal(tg_spawn(&g, fail_with_code, (void *)(intptr_t)-1),
			 TG_OK);
	assert_int_equal(tg_spawn_each(&g, fail_arming, indices, 100,
				       sizeof(int)),
			 TG_OK);
	assert_int_equal(tg_spawn(&g, fail_with_code, (void *)(intptr_t)9993),
			 TG_OK);
	err = tg_group_join(&g, NULL);
	ta_disarm();
	return err;
}

static int
leaf_codes(tg_error *leaf, void *arg)
{
	struct order *o = arg;

	assert_int_equal(tg_error_code(leaf), o->next);
	o->seen++;
	o->next = o->next == -1 ? 0 : o->next == 99 ? 9993 : o->next + 1;
	return 0;
}

static void
test_batch_failures_without_memory_are_all_kept(void **state)
{
	tg_runner *r;
	tg_error *err;
	struct order o = { -1, 0 };
	int i;

	for (i = 0; i < 10000; i++)
		indices[i] = i;
	own_allocator_runner(&ta_allocator, &r);
	err = tg_runner_run(r, records_without_memory, NULL);
	assert_non_null(err);
	tg_error_foreach_leaf(err, leaf_codes, &o);
	assert_int_equal(o.seen, 102);
	tg_error_decref(err);
	own_allocator_done(r, state);
	assert_int_equal(ta_live(), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_batch_every_child_runs_once_with_its_element),
		cmocka_unit_test(test_batch_count_zero_spawns_nothing_and_stride_zero_shares_args),
		cmocka_unit_test(test_batch_errors_keep_the_order_of_one_by_one_spawns),
		cmocka_unit_test(test_batch_fail_fast_skips_children_not_started),
		cmocka_unit_test(test_batch_children_are_tasks_of_their_own),
		cmocka_unit_test(test_batch_children_open_batches_of_their_own),
		cmocka_unit_test(test_batch_idle_worker_takes_half_of_a_running_batch),
		cmocka_unit_test(test_batch_limited_group_keeps_its_limit),
		cmocka_unit_test(test_batch_first_success_group_names_a_winner),
		cmocka_unit_test(test_batch_named_children_carry_the_name),
		cmocka_unit_test(test_batch_bad_input_gets_defined_results),
		cmocka_unit_test(test_batch_allocates_nothing_once_warm),
		cmocka_unit_test(test_batch_without_memory_spawns_nothing),
		cmocka_unit_test(test_batch_failures_without_memory_are_all_kept),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
