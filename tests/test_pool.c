/*
 * test_pool.c - the pool under load: random trees of nested groups with
 * spawns from children into their parents' groups, failures under both
 * policies, cancellation, on 1, 2, 4 and 8 workers (8 oversubscribes this
 * machine on purpose).  Oracle after every tree:
 *   - every spawned task ran exactly once or was skipped as cancelled
 *     (per-task state word, claimed with a CAS);
 *   - every failure appears exactly once in the returned tree, under the
 *     error code of the task that raised it;
 *   - results written with plain stores by the tasks are read after the
 *     join (TSan checks the happens-before the join promises).
 * The seed is printed; TG_TEST_SEED replays one.  Not a benchmark.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "taskgroup.h"

#include "atomic.h"

#define MAX_TASKS 20000

enum { ST_PENDING = 0, ST_RUNNING, ST_DONE };

struct tree;

struct node {
	struct tree *tree;
	uint32_t id;
	uint32_t depth;
	uint64_t seed;
	tg_group *parent_group; /* the group this task runs in */
	long result;            /* plain: written by the task, read after join */
};

struct tree {
	TG_ATOMIC(uint32_t) state[MAX_TASKS];
	TG_ATOMIC(uint32_t) next_id;
	TG_ATOMIC(uint32_t) failed[MAX_TASKS];
	struct node nodes[MAX_TASKS];
	int fail_permille;
	int policy;
	TG_ATOMIC(uint32_t) explicit_cancels;
	uint32_t max_depth;
};

static uint64_t
mix(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

static tg_error *run_node(void *arg);

/* Reserves a node; NULL when the tree is full. */
static struct node *
new_node(struct tree *t, uint32_t depth, uint64_t seed, tg_group *g)
{
	/* relaxed: ids only need to be unique; the node is published by
	 * tg_spawn. */
	uint32_t id = tg_atomic_faa_relaxed_u32(&t->next_id, 1);
	struct node *n;

	if (id >= MAX_TASKS)
		return NULL;
	n = &t->nodes[id];
	n->tree = t;
	n->id = id;
	n->depth = depth;
	n->seed = seed;
	n->parent_group = g;
	n->result = 0;
	return n;
}

static void
spawn_child(struct tree *t, tg_group *g, uint32_t depth, uint64_t seed)
{
	struct node *c = new_node(t, depth, seed, g);
	int rc;

	if (c == NULL)
		return;
	rc = tg_spawn(g, run_node, c);
	if (rc != TG_OK) {
		/* Refused (the group is shutting down): never runs. */
		assert_int_equal(rc, TG_ESHUTTINGDOWN);
		tg_atomic_store_relaxed_u32(&t->state[c->id], ST_DONE);
		tg_atomic_store_relaxed_u32(&t->failed[c->id], 2);
	}
}

static tg_error *
run_node(void *arg)
{
	struct node *n = arg;
	struct tree *t = n->tree;
	uint64_t r = mix(n->seed);
	tg_group g;
	tg_error *err = NULL;
	int kids, i;

	/* Exactly once: PENDING -> RUNNING may happen once. */
	if (!tg_atomic_cas_seqcst_u32(&t->state[n->id], ST_PENDING, ST_RUNNING))
		fail_msg("task %u ran twice", n->id);
	n->result = (long)n->id * 3 + 1;
	/* Sometimes spawn a sibling into the group we run in. */
	if (n->parent_group != NULL && r % 7 == 0 && n->depth < t->max_depth)
		spawn_child(t, n->parent_group, n->depth + 1, r ^ 0x51);
	if (n->depth < t->max_depth && r % 4 != 0) {
		kids = 1 + (int)((r >> 8) % 5);
		if (tg_group_init(&g, &(tg_group_options){ .policy = t->policy }) ==
		    TG_OK) {
			for (i = 0; i < kids; i++)
				spawn_child(t, &g, n->depth + 1, mix(r + i));
			if ((r >> 20) % 50 == 0) {
				tg_atomic_faa_relaxed_u32(&t->explicit_cancels, 1);
				tg_group_cancel(&g);
			}
			err = tg_group_join(&g, NULL);
		}
	}
	tg_atomic_store_release_u32(&t->state[n->id], ST_DONE);
	if ((int)((r >> 32) % 1000) < t->fail_permille) {
		tg_atomic_store_relaxed_u32(&t->failed[n->id], 1);
		tg_error *mine = TG_RAISE_CODE(&tg_ValueError, (int)n->id,
					       "task %u", n->id);

		if (err != NULL && tg_error_is(err, &tg_CancelledError)) {
			/* Our own error replaces the cancellation, as raising
			 * in an `except CancelledError` block would. */
			tg_error_decref(err);
			err = NULL;
		}
		if (err == NULL)
			return mine;
		/* Keep both: the nested group's errors and ours. */
		return tg_error_group_new("task and its group", 2,
					  (tg_error *[]){ err, mine });
	}
	return err;
}

static int
collect_leaf(tg_error *leaf, void *ctx)
{
	uint32_t *seen = ctx;

	if (tg_error_is(leaf, &tg_ValueError)) {
		int code = tg_error_code(leaf);

		assert_true(code >= 0 && code < MAX_TASKS);
		seen[code]++;
	} else {
		/* Only our ValueErrors, or a RuntimeError from misuse (none
		 * expected) may appear. */
		fail_msg("unexpected leaf %s: %s",
			 tg_error_type_of(leaf)->name, tg_error_message(leaf));
	}
	return 0;
}

static void
check_tree(struct tree *t, tg_error *err, uint32_t *seen)
{
	uint32_t n = tg_atomic_load_relaxed_u32(&t->next_id), i;

	if (n > MAX_TASKS)
		n = MAX_TASKS;
	memset(seen, 0, MAX_TASKS * sizeof(*seen));
	if (err != NULL)
		tg_error_foreach_leaf(err, collect_leaf, seen);
	for (i = 0; i < n; i++) {
		uint32_t st = tg_atomic_load_acquire_u32(&t->state[i]);
		uint32_t f = tg_atomic_load_relaxed_u32(&t->failed[i]);

		/* Never started means skipped as cancelled (PENDING) or
		 * refused (marked DONE, failed = 2); both fine.  Started
		 * means finished. */
		assert_true(st == ST_PENDING || st == ST_DONE);
		if (st == ST_DONE && f != 2)
			assert_int_equal(t->nodes[i].result, (long)i * 3 + 1);
		if (f == 1)
			assert_int_equal(seen[i], 1); /* kept, exactly once */
		else
			assert_int_equal(seen[i], 0);
		/* Skipping happens under fail-fast, or after an explicit
		 * cancel under either policy. */
		if (st == ST_PENDING &&
		    tg_atomic_load_relaxed_u32(&t->explicit_cancels) == 0)
			assert_int_equal(t->policy, TG_POLICY_FAIL_FAST);
	}
}

static tg_error *
root(void *arg)
{
	struct tree *t = arg;
	struct node *n = new_node(t, 0, t->nodes[0].seed, NULL);

	return run_node(n);
}

static uint64_t total_tasks;

static void
stress(int threads, int trees, uint64_t seed)
{
	tg_runner *r;
	struct tree *t = calloc(1, sizeof(*t));
	uint32_t *seen = calloc(MAX_TASKS, sizeof(*seen));
	int i;

	assert_non_null(t);
	assert_non_null(seen);
	assert_int_equal(tg_runner_create(&r, &(tg_runner_config){ .threads = threads }),
			 TG_OK);
	for (i = 0; i < trees; i++) {
		uint64_t s = mix(seed + (uint64_t)i);
		tg_error *err;

		memset(t, 0, sizeof(*t));
		t->nodes[0].seed = s;
		t->fail_permille = (int)(s % 4) * 10; /* 0, 1, 2, 3 % */
		t->policy = (s >> 8) % 2 ? TG_POLICY_FAIL_FAST
					 : TG_POLICY_COLLECT_ALL;
		t->max_depth = 6 + (uint32_t)((s >> 16) % 5);
		err = tg_runner_run(r, root, t);
		check_tree(t, err, seen);
		total_tasks += tg_atomic_load_relaxed_u32(&t->next_id);
		tg_error_decref(err);
	}
	assert_int_equal(tg_runner_destroy(r), TG_OK);
	free(seen);
	free(t);
}

static uint64_t test_seed;

static void
test_pool_random_trees_1_worker(void **state)
{
	(void)state;
	stress(1, 200, test_seed);
}

static void
test_pool_random_trees_2_workers(void **state)
{
	(void)state;
	stress(2, 300, test_seed + 1000);
}

static void
test_pool_random_trees_4_workers(void **state)
{
	(void)state;
	stress(4, 200, test_seed + 2000);
}

static void
test_pool_random_trees_8_workers(void **state)
{
	(void)state;
	stress(8, 200, test_seed + 3000);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pool_random_trees_1_worker),
		cmocka_unit_test(test_pool_random_trees_2_workers),
		cmocka_unit_test(test_pool_random_trees_4_workers),
		cmocka_unit_test(test_pool_random_trees_8_workers),
	};
	const char *env = getenv("TG_TEST_SEED");

	test_seed = env != NULL ? strtoull(env, NULL, 0) : (uint64_t)time(NULL);
	printf("test_pool: seed %llu (replay with TG_TEST_SEED=%llu)\n",
	       (unsigned long long)test_seed, (unsigned long long)test_seed);
	{
		int rc = cmocka_run_group_tests(tests, NULL, NULL);

		printf("test_pool: %llu tasks checked\n",
		       (unsigned long long)total_tasks);
		return rc;
	}
}
