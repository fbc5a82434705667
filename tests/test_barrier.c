/*
 * test_barrier.c - tg_barrier (asyncio.Barrier): arrival indexes, cyclic
 * rounds that nobody overtakes, the last arrival's bookkeeping, abort and
 * reset, cancellation while waiting (fail-fast and tg_group_cancel, with
 * a replacement party), more parties than workers, waiters on plain
 * threads, misuse and allocation failure.
 *
 * Every test runs under a watchdog (alarm): a wait that never returns
 * fails the program instead of hanging ctest.  Outcomes only, no timings.
 */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "taskgroup.h"

#include "atomic.h"

#include "test_alloc.h"
#include "test_check.h"

/* Generous: the slowest test takes well under a second unsanitised. */
#define WATCHDOG_S 120
#define STR_(x) #x
#define STR(x) STR_(x)

static void
watchdog_fired(int sig)
{
	static const char msg[] =
		"test_barrier: watchdog: a test ran for " STR(WATCHDOG_S)
		" s (hung)\n";

	(void)sig;
	(void)!write(2, msg, sizeof(msg) - 1);
	_exit(1);
}

static int
arm_watchdog(void **state)
{
	(void)state;
	check_reset();
	signal(SIGALRM, watchdog_fired);
	alarm(WATCHDOG_S);
	return 0;
}

static int
disarm_watchdog(void **state)
{
	(void)state;
	alarm(0);
	return 0;
}

/* Runs fn(arg) as the root task of a fresh runner of `threads` workers.
 * Fresh runners, so that the allocator test can swap allocators. */
static tg_error *
run_on(int threads, tg_task_fn fn, void *arg)
{
	tg_runner_config cfg = { .threads = threads };
	tg_runner *r;
	tg_error *err;

	assert_int_equal(tg_runner_create(&r, &cfg), TG_OK);
	err = tg_runner_run(r, fn, arg);
	assert_int_equal(tg_runner_destroy(r), TG_OK);
	return err;
}

/* Polls until n parties wait in b's filling round (tasks sleep in a
 * blocking region meanwhile; plain threads just sleep). */
static void
await_waiting(const tg_barrier *b, int n)
{
	while (tg_barrier_n_waiting(b) != n)
		tg_error_decref(tg_sleep(1000000));
}

static bool
is_permutation(const int *idx, int n)
{
	bool seen[64] = { false };

	for (int i = 0; i < n; i++) {
		if (idx[i] < 0 || idx[i] >= n || seen[idx[i]])
			return false;
		seen[idx[i]] = true;
	}
	return true;
}

/* ---------------------------------------------------------------- */
/* One round: the indexes are a permutation                           */

#define MAX_PARTIES 16

static struct {
	tg_barrier b;
	int parties;
	bool batch; /* the parties as one tg_spawn_each */
	int idx[MAX_PARTIES];
} one;

static tg_error *
one_party(void *arg)
{
	int *out = arg;
	tg_error *err = tg_barrier_wait(&one.b, out);

	CHECK(err == NULL);
	return err;
}

static tg_error *
one_round(void *arg)
{
	tg_group g;

	(void)arg;
	CHECK_STATUS(tg_group_init(&g, NULL), TG_OK);
	if (one.batch)
		CHECK_STATUS(tg_spawn_each(&g, one_party, one.idx, one.parties,
					   sizeof(one.idx[0])),
			     TG_OK);
	else
		for (int i = 0; i < one.parties; i++)
			CHECK_STATUS(tg_spawn(&g, one_party, &one.idx[i]),
				     TG_OK);
	return tg_group_join(&g, NULL);
}

/* One round of each size on each pool, the parties spawned one by one
 * or as one batch (a batch's children must not wait behind a sibling
 * that blocks: the pool hands them on). */
static void
run_one_rounds(bool batch)
{
	static const int threads[] = { 1, 2, 8 };
	static const int parties[] = { 1, 2, 3, 8, 16 };

	for (size_t t = 0; t < sizeof(threads) / sizeof(threads[0]); t++) {
		for (size_t p = 0; p < sizeof(parties) / sizeof(parties[0]);
		     p++) {
			one.parties = parties[p];
			one.batch = batch;
			memset(one.idx, 0xff, sizeof(one.idx));
			assert_int_equal(tg_barrier_init(&one.b, one.parties),
					 TG_OK);
			assert_null(run_on(threads[t], one_round, NULL));
			check_report();
			assert_true(is_permutation(one.idx, one.parties));
			assert_int_equal(tg_barrier_n_waiting(&one.b), 0);
			assert_int_equal(tg_barrier_destroy(&one.b), TG_OK);
		}
	}
}

static void
test_barrier_indexes_are_a_permutation(void **state)
{
	(void)state;
	run_one_rounds(false);
}

static void
test_barrier_parties_spawned_as_one_batch(void **state)
{
	(void)state;
	for (int rep = 0; rep < 20; rep++)
		run_one_rounds(true);
}

/* ---------------------------------------------------------------- */
/* Cyclic rounds                                                      */

#define MAX_ROUNDS 200

/*
 * Each party, each round r: writes its contribution into slot[r % 2]
 * (plain memory: the barrier orders it), counts itself in arrived[r],
 * waits, then checks that
 *  - all parties had arrived at round r (nobody passes early, and a fast
 *    party never slips into the round that drains: it would be counted
 *    in the next round's arrivals and pass it early);
 *  - the last arrival of round r - 1 has done its bookkeeping (total);
 * and the last arrival (index parties - 1) sums the round's slots.
 * Indexes are tallied per round: each must come back exactly once.
 */
static struct {
	tg_barrier b;
	int parties, rounds;
	uint32_t arrived[MAX_ROUNDS];           /* atomic */
	uint32_t seen[MAX_ROUNDS][MAX_PARTIES]; /* atomic */
	long slot[2][MAX_PARTIES];
	long total[MAX_ROUNDS];
	int tasks; /* parties that are tasks; the rest are plain threads */
} cyc;

typedef struct party {
	int id;
} party;

static party parties_args[MAX_PARTIES];

static long
contribution(int round, int id)
{
	return (long)round * 1000 + id + 1;
}

static long
round_total(int round)
{
	long n = cyc.parties;

	return n * round * 1000 + n * (n + 1) / 2;
}

static tg_error *
cyc_party(void *arg)
{
	const party *p = arg;

	for (int r = 0; r < cyc.rounds; r++) {
		int index = -1;
		tg_error *err;

		cyc.slot[r % 2][p->id] = contribution(r, p->id);
		tg_atomic_faa_seqcst_u32(&cyc.arrived[r], 1);
		err = tg_barrier_wait(&cyc.b, &index);
		if (err != NULL) {
			CHECK(err == NULL);
			return err;
		}
		CHECK(index >= 0 && index < cyc.parties);
		if (index < 0 || index >= cyc.parties)
			return NULL;
		CHECK_INT(tg_atomic_load_seqcst_u32(&cyc.arrived[r]),
			  cyc.parties);
		tg_atomic_faa_seqcst_u32(&cyc.seen[r][index], 1);
		if (r > 0)
			CHECK_INT(cyc.total[r - 1], round_total(r - 1));
		if (index == cyc.parties - 1) {
			long sum = 0;

			for (int i = 0; i < cyc.parties; i++)
				sum += cyc.slot[r % 2][i];
			cyc.total[r] = sum;
		}
	}
	return NULL;
}

static void *
cyc_thread(void *arg)
{
	tg_error_decref(cyc_party(arg));
	return NULL;
}

static tg_error *
cyc_root(void *arg)
{
	tg_group g;

	(void)arg;
	CHECK_STATUS(tg_group_init(&g, NULL), TG_OK);
	for (int i = 0; i < cyc.tasks; i++)
		CHECK_STATUS(tg_spawn(&g, cyc_party, &parties_args[i]), TG_OK);
	return tg_group_join(&g, NULL);
}

/* Runs the cyclic scenario: `tasks` parties as tasks of a pool of
 * `threads` workers, the other parties on plain threads. */
static void
run_cyclic(int threads, int parties, int tasks, int rounds)
{
	pthread_t th[MAX_PARTIES];

	memset(&cyc, 0, sizeof(cyc));
	cyc.parties = parties;
	cyc.rounds = rounds;
	cyc.tasks = tasks;
	for (int i = 0; i < parties; i++)
		parties_args[i].id = i;
	assert_int_equal(tg_barrier_init(&cyc.b, parties), TG_OK);
	for (int i = tasks; i < parties; i++)
		assert_int_equal(pthread_create(&th[i], NULL, cyc_thread,
						&parties_args[i]),
				 0);
	if (tasks > 0)
		assert_null(run_on(threads, cyc_root, NULL));
	for (int i = tasks; i < parties; i++)
		assert_int_equal(pthread_join(th[i], NULL), 0);
	check_report();
	for (int r = 0; r < rounds; r++) {
		assert_int_equal(cyc.arrived[r], parties);
		assert_int_equal(cyc.total[r], round_total(r));
		for (int i = 0; i < parties; i++)
			assert_int_equal(cyc.seen[r][i], 1);
	}
	assert_int_equal(tg_barrier_n_waiting(&cyc.b), 0);
	assert_false(tg_barrier_broken(&cyc.b));
	assert_int_equal(tg_barrier_destroy(&cyc.b), TG_OK);
}

static void
test_barrier_cyclic_rounds(void **state)
{
	(void)state;
	run_cyclic(2, 2, 2, MAX_ROUNDS);
	run_cyclic(4, 3, 3, MAX_ROUNDS);
	run_cyclic(8, 5, 5, MAX_ROUNDS);
	run_cyclic(8, 1, 1, MAX_ROUNDS);
}

/* More parties than workers: the waiters' blocking regions make the pool
 * start compensating workers. */
static void
test_barrier_parties_exceed_workers(void **state)
{
	(void)state;
	run_cyclic(1, 8, 8, 50);
	run_cyclic(2, 8, 8, 50);
	run_cyclic(8, 16, 16, 50);
}

/* Waiters on plain threads (not workers) and tasks fill the same rounds. */
static void
test_barrier_plain_threads_and_tasks(void **state)
{
	(void)state;
	run_cyclic(1, 4, 2, 100);
	run_cyclic(2, 6, 3, 100);
	run_cyclic(1, 3, 0, 100); /* threads only, no pool */
}

/* ---------------------------------------------------------------- */
/* Abort and reset                                                    */

static struct {
	tg_barrier b;
	uint32_t broken; /* atomic: waiters that got BrokenBarrierError */
	int idx[MAX_PARTIES];
} br;

static tg_error *
expect_broken(void *arg)
{
	tg_error *err = tg_barrier_wait(&br.b, NULL);

	(void)arg;
	CHECK(tg_error_is(err, &tg_BrokenBarrierError));
	CHECK(tg_error_is(err, &tg_RuntimeError));
	if (tg_error_is(err, &tg_BrokenBarrierError))
		tg_atomic_faa_seqcst_u32(&br.broken, 1);
	tg_error_decref(err);
	return NULL;
}

static tg_error *
expect_index(void *arg)
{
	tg_error *err = tg_barrier_wait(&br.b, arg);

	CHECK(err == NULL);
	return err;
}

/* Spawns n waiters running fn, with &br.idx[i] as argument. */
static tg_error *
spawn_waiters(tg_group *g, int n, tg_task_fn fn)
{
	for (int i = 0; i < n; i++)
		CHECK_STATUS(tg_spawn(g, fn, &br.idx[i]), TG_OK);
	return NULL;
}

/* A full round of `parties` on br.b; their indexes must be distinct. */
static tg_error *
full_round(int parties)
{
	tg_group g;
	tg_error *err;

	memset(br.idx, 0xff, sizeof(br.idx));
	CHECK_STATUS(tg_group_init(&g, NULL), TG_OK);
	spawn_waiters(&g, parties, expect_index);
	err = tg_group_join(&g, NULL);
	CHECK(is_permutation(br.idx, parties));
	return err;
}

static tg_error *
abort_root(void *arg)
{
	tg_group g;
	tg_error *err;
	int index = -1;

	(void)arg;
	CHECK_STATUS(tg_group_init(&g, NULL), TG_OK);
	spawn_waiters(&g, 3, expect_broken);
	await_waiting(&br.b, 3);
	CHECK_STATUS(tg_barrier_abort(&br.b), TG_OK);
	CHECK(tg_barrier_broken(&br.b));
	CHECK_INT(tg_barrier_n_waiting(&br.b), 0);
	err = tg_group_join(&g, NULL);
	CHECK(err == NULL);
	tg_error_decref(err);
	CHECK_INT(br.broken, 3);

	/* Broken until reset: a later wait fails at once, aborting again
	 * changes nothing. */
	err = tg_barrier_wait(&br.b, &index);
	CHECK(tg_error_is(err, &tg_BrokenBarrierError));
	CHECK_INT(index, -1);
	tg_error_decref(err);
	CHECK_STATUS(tg_barrier_abort(&br.b), TG_OK);
	CHECK(tg_barrier_broken(&br.b));

	CHECK_STATUS(tg_barrier_reset(&br.b), TG_OK);
	CHECK(!tg_barrier_broken(&br.b));
	CHECK_INT(tg_barrier_n_waiting(&br.b), 0);
	return full_round(4);
}

static void
test_barrier_abort_wakes_every_waiter(void **state)
{
	static const int threads[] = { 1, 2, 8 };

	(void)state;
	for (size_t t = 0; t < sizeof(threads) / sizeof(threads[0]); t++) {
		memset(&br, 0, sizeof(br));
		assert_int_equal(tg_barrier_init(&br.b, 4), TG_OK);
		assert_null(run_on(threads[t], abort_root, NULL));
		check_report();
		assert_int_equal(tg_barrier_destroy(&br.b), TG_OK);
	}
}

static tg_error *
reset_root(void *arg)
{
	tg_group g;
	tg_error *err;

	(void)arg;
	/* Resetting an idle barrier changes nothing. */
	CHECK_STATUS(tg_barrier_reset(&br.b), TG_OK);
	CHECK(!tg_barrier_broken(&br.b));

	CHECK_STATUS(tg_group_init(&g, NULL), TG_OK);
	spawn_waiters(&g, 2, expect_broken);
	await_waiting(&br.b, 2);
	CHECK_STATUS(tg_barrier_reset(&br.b), TG_OK);
	CHECK(!tg_barrier_broken(&br.b)); /* resetting is not broken */
	CHECK_INT(tg_barrier_n_waiting(&br.b), 0);
	err = tg_group_join(&g, NULL);
	CHECK(err == NULL);
	tg_error_decref(err);
	CHECK_INT(br.broken, 2);

	/* The waiters have left: the barrier works again, twice. */
	CHECK_INT(tg_barrier_n_waiting(&br.b), 0);
	err = full_round(3);
	if (err != NULL)
		return err;
	return full_round(3);
}

static void
test_barrier_reset_breaks_waiters_then_works(void **state)
{
	static const int threads[] = { 1, 2, 8 };

	(void)state;
	for (size_t t = 0; t < sizeof(threads) / sizeof(threads[0]); t++) {
		memset(&br, 0, sizeof(br));
		assert_int_equal(tg_barrier_init(&br.b, 3), TG_OK);
		assert_null(run_on(threads[t], reset_root, NULL));
		check_report();
		assert_false(tg_barrier_broken(&br.b));
		assert_int_equal(tg_barrier_destroy(&br.b), TG_OK);
	}
}

/* ---------------------------------------------------------------- */
/* Cancellation                                                       */

enum { BY_FAIL_FAST, BY_GROUP_CANCEL };

/*
 * Four parties.  W1, V and W3 arrive in that order (indexes 0, 1, 2); V
 * runs in an inner group H, which is then cancelled (a sibling fails, or
 * a sibling calls tg_group_cancel).  V must leave with CancelledError and
 * stop counting; W3 takes its place (index 1).  W2 and the coordinator
 * itself then fill the round: the four indexes are 0 .. 3.
 */
static struct {
	tg_barrier b;
	int how;
	tg_group *outer;
	tg_group inner;
	int w1, w2, w3, self;
	uint32_t victim_cancelled; /* atomic */
} cs;

static tg_error *
cs_waiter(void *arg)
{
	tg_error *err = tg_barrier_wait(&cs.b, arg);

	CHECK(err == NULL);
	return err;
}

static tg_error *
cs_victim(void *arg)
{
	int index = -1;
	tg_error *err = tg_barrier_wait(&cs.b, &index);

	(void)arg;
	CHECK(tg_error_is(err, &tg_CancelledError));
	CHECK_INT(index, -1);
	if (tg_error_is(err, &tg_CancelledError))
		tg_atomic_store_release_u32(&cs.victim_cancelled, 1);
	return err; /* a cancellation: never a leaf of the join's error */
}

static tg_error *
cs_fail(void *arg)
{
	(void)arg;
	return TG_RAISE(&tg_ValueError, "a sibling fails");
}

static tg_error *
cs_cancel(void *arg)
{
	(void)arg;
	CHECK_STATUS(tg_group_cancel(&cs.inner), TG_OK);
	return NULL;
}

static tg_error *
cs_coordinator(void *arg)
{
	tg_error *err;

	(void)arg;
	CHECK_STATUS(tg_spawn(cs.outer, cs_waiter, &cs.w1), TG_OK);
	await_waiting(&cs.b, 1);
	CHECK_STATUS(tg_group_init(&cs.inner, NULL), TG_OK);
	CHECK_STATUS(tg_spawn(&cs.inner, cs_victim, NULL), TG_OK);
	await_waiting(&cs.b, 2);
	CHECK_STATUS(tg_spawn(cs.outer, cs_waiter, &cs.w3), TG_OK);
	await_waiting(&cs.b, 3);
	CHECK_STATUS(tg_spawn(&cs.inner,
			      cs.how == BY_FAIL_FAST ? cs_fail : cs_cancel,
			      NULL),
		     TG_OK);
	err = tg_group_join(&cs.inner, NULL);
	if (cs.how == BY_FAIL_FAST) {
		CHECK_INT(tg_error_leaf_count(err), 1);
		CHECK(tg_error_is(tg_error_child(err, 0), &tg_ValueError));
	} else {
		CHECK(err == NULL);
	}
	tg_error_decref(err);
	CHECK_INT(tg_atomic_load_acquire_u32(&cs.victim_cancelled), 1);
	CHECK_INT(tg_barrier_n_waiting(&cs.b), 2);

	/* The replacement, then this task: the round fills. */
	CHECK_STATUS(tg_spawn(cs.outer, cs_waiter, &cs.w2), TG_OK);
	err = tg_barrier_wait(&cs.b, &cs.self);
	CHECK(err == NULL);
	return err;
}

static tg_error *
cs_root(void *arg)
{
	tg_group g;

	(void)arg;
	cs.outer = &g;
	CHECK_STATUS(tg_group_init(&g, NULL), TG_OK);
	CHECK_STATUS(tg_spawn(&g, cs_coordinator, NULL), TG_OK);
	return tg_group_join(&g, NULL);
}

static void
run_cancel_scenario(int how)
{
	static const int threads[] = { 1, 2, 8 };

	for (size_t t = 0; t < sizeof(threads) / sizeof(threads[0]); t++) {
		int idx[4];

		memset(&cs, 0, sizeof(cs));
		cs.how = how;
		cs.w1 = cs.w2 = cs.w3 = cs.self = -1;
		assert_int_equal(tg_barrier_init(&cs.b, 4), TG_OK);
		assert_null(run_on(threads[t], cs_root, NULL));
		check_report();
		assert_int_equal(cs.w1, 0);
		assert_int_equal(cs.w3, 1); /* moved up into V's place */
		idx[0] = cs.w1;
		idx[1] = cs.w2;
		idx[2] = cs.w3;
		idx[3] = cs.self;
		assert_true(is_permutation(idx, 4));
		assert_int_equal(tg_barrier_n_waiting(&cs.b), 0);
		assert_false(tg_barrier_broken(&cs.b));
		assert_int_equal(tg_barrier_destroy(&cs.b), TG_OK);
	}
}

static void
test_barrier_cancel_by_failing_sibling(void **state)
{
	(void)state;
	run_cancel_scenario(BY_FAIL_FAST);
}

static void
test_barrier_cancel_by_group_cancel(void **state)
{
	(void)state;
	run_cancel_scenario(BY_GROUP_CANCEL);
}

/* A wait in a scope already cancelled never arrives. */
static tg_error *
cancelled_root(void *arg)
{
	tg_barrier *solo = arg; /* one party: would return at once */
	tg_group g;
	tg_error *err;
	int index = -1;

	CHECK_STATUS(tg_group_init(&g, NULL), TG_OK);
	CHECK_STATUS(tg_group_cancel(&g), TG_OK);
	err = tg_barrier_wait(&br.b, &index);
	CHECK(tg_error_is(err, &tg_CancelledError));
	tg_error_decref(err);
	CHECK_INT(tg_barrier_n_waiting(&br.b), 0);
	err = tg_barrier_wait(solo, &index);
	CHECK(tg_error_is(err, &tg_CancelledError));
	tg_error_decref(err);
	CHECK_INT(index, -1);
	err = tg_group_join(&g, NULL);
	CHECK(err == NULL);
	tg_error_decref(err);

	/* Outside the cancelled scope the same waits arrive. */
	err = tg_barrier_wait(solo, &index);
	CHECK(err == NULL);
	CHECK_INT(index, 0);
	tg_error_decref(err);
	return full_round(2);
}

static void
test_barrier_cancelled_scope_does_not_arrive(void **state)
{
	tg_barrier solo;

	(void)state;
	memset(&br, 0, sizeof(br));
	assert_int_equal(tg_barrier_init(&br.b, 2), TG_OK);
	assert_int_equal(tg_barrier_init(&solo, 1), TG_OK);
	assert_null(run_on(2, cancelled_root, &solo));
	check_report();
	assert_int_equal(tg_barrier_destroy(&solo), TG_OK);
	assert_int_equal(tg_barrier_destroy(&br.b), TG_OK);
}

/* A waiter whose round was released returns its index, even when its
 * scope is cancelled before it wakes: here the last arrival releases the
 * round, then cancels the group they share. */
static struct {
	tg_barrier b;
	tg_group inner;
	int first, last;
} rel;

static tg_error *
rel_first(void *arg)
{
	tg_error *err = tg_barrier_wait(&rel.b, &rel.first);

	(void)arg;
	CHECK(err == NULL);
	return err;
}

static tg_error *
rel_last(void *arg)
{
	tg_error *err;

	(void)arg;
	await_waiting(&rel.b, 1);
	err = tg_barrier_wait(&rel.b, &rel.last);
	CHECK(err == NULL);
	CHECK_STATUS(tg_group_cancel(&rel.inner), TG_OK);
	return err;
}

static tg_error *
rel_root(void *arg)
{
	(void)arg;
	CHECK_STATUS(tg_group_init(&rel.inner, NULL), TG_OK);
	CHECK_STATUS(tg_spawn(&rel.inner, rel_first, NULL), TG_OK);
	CHECK_STATUS(tg_spawn(&rel.inner, rel_last, NULL), TG_OK);
	return tg_group_join(&rel.inner, NULL);
}

static void
test_barrier_released_waiter_wins_over_cancel(void **state)
{
	static const int threads[] = { 1, 2, 8 };

	(void)state;
	for (size_t t = 0; t < sizeof(threads) / sizeof(threads[0]); t++) {
		memset(&rel, 0, sizeof(rel));
		rel.first = rel.last = -1;
		assert_int_equal(tg_barrier_init(&rel.b, 2), TG_OK);
		assert_null(run_on(threads[t], rel_root, NULL));
		check_report();
		assert_int_equal(rel.first, 0);
		assert_int_equal(rel.last, 1);
		assert_int_equal(tg_barrier_destroy(&rel.b), TG_OK);
	}
}

/* ---------------------------------------------------------------- */
/* Queries, misuse, allocation                                        */

typedef struct thread_wait {
	tg_barrier *b;
	int index;
	tg_error *err;
} thread_wait;

static void *
thread_waits(void *arg)
{
	thread_wait *tw = arg;

	tw->err = tg_barrier_wait(tw->b, &tw->index);
	return NULL;
}

/* parties, n_waiting and broken as plain threads arrive; destroy refuses
 * while they wait, and then nothing has changed. */
static void
test_barrier_queries_and_busy_destroy(void **state)
{
	tg_barrier b;
	thread_wait tw[2];
	pthread_t th[2];
	int idx[3];

	(void)state;
	assert_int_equal(tg_barrier_init(&b, 3), TG_OK);
	assert_int_equal(tg_barrier_parties(&b), 3);
	assert_int_equal(tg_barrier_n_waiting(&b), 0);
	assert_false(tg_barrier_broken(&b));
	for (int i = 0; i < 2; i++) {
		tw[i] = (thread_wait){ &b, -1, NULL };
		assert_int_equal(pthread_create(&th[i], NULL, thread_waits,
						&tw[i]),
				 0);
		await_waiting(&b, i + 1);
		assert_int_equal(tg_barrier_destroy(&b), TG_EBUSY);
		assert_int_equal(tg_barrier_n_waiting(&b), i + 1);
	}
	assert_int_equal(tg_barrier_parties(&b), 3);
	assert_false(tg_barrier_broken(&b));
	assert_null(tg_barrier_wait(&b, &idx[2]));
	for (int i = 0; i < 2; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_null(tw[i].err);
		idx[i] = tw[i].index;
	}
	assert_true(is_permutation(idx, 3));
	assert_int_equal(idx[2], 2); /* the main thread came last */
	assert_int_equal(tg_barrier_n_waiting(&b), 0);

	/* A broken barrier has nobody waiting. */
	tw[0] = (thread_wait){ &b, -1, NULL };
	assert_int_equal(pthread_create(&th[0], NULL, thread_waits, &tw[0]),
			 0);
	await_waiting(&b, 1);
	assert_int_equal(tg_barrier_abort(&b), TG_OK);
	assert_int_equal(tg_barrier_n_waiting(&b), 0);
	assert_true(tg_barrier_broken(&b));
	assert_int_equal(pthread_join(th[0], NULL), 0);
	assert_true(tg_error_is(tw[0].err, &tg_BrokenBarrierError));
	assert_int_equal(tw[0].index, -1);
	tg_error_decref(tw[0].err);
	assert_int_equal(tg_barrier_destroy(&b), TG_OK);

	/* One party: every wait is a round of its own, index 0. */
	assert_int_equal(tg_barrier_init(&b, 1), TG_OK);
	for (int i = 0; i < 3; i++) {
		idx[0] = -1;
		assert_null(tg_barrier_wait(&b, &idx[0]));
		assert_int_equal(idx[0], 0);
	}
	assert_null(tg_barrier_wait(&b, NULL));
	assert_int_equal(tg_barrier_n_waiting(&b), 0);
	assert_int_equal(tg_barrier_destroy(&b), TG_OK);
}

/* Every call on something that is not a barrier. */
static void
assert_not_a_barrier(tg_barrier *b)
{
	int index = 12345;
	tg_error *err = tg_barrier_wait(b, &index);

	assert_true(tg_error_is(err, &tg_RuntimeError));
	assert_false(tg_error_is(err, &tg_BrokenBarrierError));
	assert_int_equal(tg_error_code(err), TG_EINVAL);
	assert_int_equal(index, 12345);
	tg_error_decref(err);
	assert_int_equal(tg_barrier_abort(b), TG_EINVAL);
	assert_int_equal(tg_barrier_reset(b), TG_EINVAL);
	assert_false(tg_barrier_broken(b));
	assert_int_equal(tg_barrier_n_waiting(b), TG_EINVAL);
	assert_int_equal(tg_barrier_parties(b), TG_EINVAL);
	assert_int_equal(tg_barrier_destroy(b), TG_EINVAL);
}

static void
test_barrier_misuse(void **state)
{
	tg_barrier b, before;

	(void)state;
	assert_int_equal(tg_barrier_init(NULL, 2), TG_EINVAL);
	memset(&b, 0xab, sizeof(b));
	before = b;
	assert_int_equal(tg_barrier_init(&b, 0), TG_EINVAL);
	assert_int_equal(tg_barrier_init(&b, -1), TG_EINVAL);
	assert_int_equal(tg_barrier_init(&b, INT32_MIN), TG_EINVAL);
	assert_memory_equal(&b, &before, sizeof(b)); /* untouched */

	assert_not_a_barrier(NULL);
	assert_not_a_barrier(&b); /* garbage */
	memset(&b, 0, sizeof(b));
	assert_not_a_barrier(&b); /* zeroed */

	assert_int_equal(tg_barrier_init(&b, 2), TG_OK);
	assert_int_equal(tg_barrier_destroy(&b), TG_OK);
	assert_not_a_barrier(&b); /* destroyed (destroy twice: EINVAL) */

	/* Initialised again after destroy: a barrier again. */
	assert_int_equal(tg_barrier_init(&b, 1), TG_OK);
	assert_null(tg_barrier_wait(&b, NULL));
	assert_int_equal(tg_barrier_destroy(&b), TG_OK);
}

static void
test_barrier_allocation_failure(void **state)
{
	tg_barrier b, before;
	int index = -1;

	(void)state;
	memset(&b, 0x5a, sizeof(b));
	before = b;
	test_alloc_fail_all = 1;
	assert_int_equal(tg_barrier_init(&b, 2), TG_ENOMEM);
	test_alloc_fail_all = 0;
	assert_memory_equal(&b, &before, sizeof(b));

	/* The state lives in one block from the allocator, freed by
	 * destroy (the fixture checks that nothing leaked). */
	assert_int_equal(tg_barrier_init(&b, 1), TG_OK);
	assert_int_equal(test_alloc_live, 1);
	assert_null(tg_barrier_wait(&b, &index));
	assert_int_equal(index, 0);
	assert_int_equal(tg_barrier_destroy(&b), TG_OK);
	assert_int_equal(test_alloc_live, 0);
}

static int
alloc_setup(void **state)
{
	arm_watchdog(state);
	return test_alloc_setup(state);
}

static int
alloc_teardown(void **state)
{
	disarm_watchdog(state);
	return test_alloc_teardown(state);
}

#define WATCHED(t) cmocka_unit_test_setup_teardown(t, arm_watchdog, \
						   disarm_watchdog)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		WATCHED(test_barrier_indexes_are_a_permutation),
		WATCHED(test_barrier_parties_spawned_as_one_batch),
		WATCHED(test_barrier_cyclic_rounds),
		WATCHED(test_barrier_parties_exceed_workers),
		WATCHED(test_barrier_plain_threads_and_tasks),
		WATCHED(test_barrier_abort_wakes_every_waiter),
		WATCHED(test_barrier_reset_breaks_waiters_then_works),
		WATCHED(test_barrier_cancel_by_failing_sibling),
		WATCHED(test_barrier_cancel_by_group_cancel),
		WATCHED(test_barrier_cancelled_scope_does_not_arrive),
		WATCHED(test_barrier_released_waiter_wins_over_cancel),
		WATCHED(test_barrier_queries_and_busy_destroy),
		WATCHED(test_barrier_misuse),
		cmocka_unit_test_setup_teardown(test_barrier_allocation_failure,
						alloc_setup, alloc_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
