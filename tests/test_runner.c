/*
 * test_runner.c - runners and tg_run: configuration, thread counts,
 * many runs on one pool, concurrent runs, misuse (a runner called or
 * destroyed from its own task, destroyed while a run is in progress),
 * current_task.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "taskgroup.h"

#include "atomic.h"

static tg_error *
succeed(void *arg)
{
	(void)arg;
	return NULL;
}

static tg_error *
fail_root(void *arg)
{
	(void)arg;
	return TG_RAISE(&tg_ValueError, "from the root");
}

static void
test_runner_config_is_validated(void **state)
{
	tg_runner *r = NULL;

	(void)state;
	assert_int_equal(tg_runner_create(NULL, NULL), TG_EINVAL);
	assert_int_equal(tg_runner_create(&r, &(tg_runner_config){ .threads = -1 }),
			 TG_EINVAL);
	assert_int_equal(tg_runner_create(&r, &(tg_runner_config){
						      .threads = TG_MAX_THREADS + 1 }),
			 TG_EINVAL);
	assert_int_equal(tg_runner_create(&r, &(tg_runner_config){
						      .stack_size = 1 }),
			 TG_EINVAL);
	assert_int_equal(tg_runner_create(&r, &(tg_runner_config){
						      .stack_size =
							      TG_STACK_SIZE_MIN - 1 }),
			 TG_EINVAL);
	/* Too large to round up to whole pages. */
	assert_int_equal(tg_runner_create(&r, &(tg_runner_config){
						      .stack_size = SIZE_MAX }),
			 TG_EINVAL);
	assert_null(r);
	assert_int_equal(tg_runner_destroy(NULL), TG_EINVAL);
	assert_int_equal(tg_runner_threads(NULL), 0);
}

static void
test_runner_thread_count_from_environment(void **state)
{
	tg_runner *r;

	(void)state;
	setenv("TG_THREADS", "3", 1);
	assert_int_equal(tg_runner_create(&r, NULL), TG_OK);
	assert_int_equal(tg_runner_threads(r), 3);
	assert_int_equal(tg_runner_destroy(r), TG_OK);
	setenv("TG_THREADS", "zero", 1);
	assert_int_equal(tg_runner_create(&r, NULL), TG_EINVAL);
	setenv("TG_THREADS", "0", 1);
	assert_int_equal(tg_runner_create(&r, NULL), TG_EINVAL);
	/* An explicit count wins over the environment. */
	assert_int_equal(tg_runner_create(&r, &(tg_runner_config){ .threads = 2 }),
			 TG_OK);
	assert_int_equal(tg_runner_threads(r), 2);
	assert_int_equal(tg_runner_destroy(r), TG_OK);
	unsetenv("TG_THREADS");
	assert_int_equal(tg_runner_create(&r, NULL), TG_OK);
	assert_true(tg_runner_threads(r) >= 1);
	assert_int_equal(tg_runner_destroy(r), TG_OK);
}

static void
test_runner_many_runs_on_one_pool(void **state)
{
	tg_runner *r;
	tg_error *err;
	int i;

	(void)state;
	assert_int_equal(tg_runner_create(&r, &(tg_runner_config){
						      .threads = 2, .pin_threads = true }),
			 TG_OK);
	for (i = 0; i < 200; i++)
		assert_null(tg_runner_run(r, succeed, NULL));
	err = tg_runner_run(r, fail_root, NULL);
	assert_true(tg_error_is(err, &tg_ValueError));
	tg_error_decref(err);
	assert_int_equal(tg_runner_destroy(r), TG_OK);
}

static void
test_runner_pool_create_destroy_cycles(void **state)
{
	tg_runner *r;
	int i;

	(void)state;
	for (i = 0; i < 100; i++) {
		assert_int_equal(tg_runner_create(&r, &(tg_runner_config){
							      .threads = 4 }),
				 TG_OK);
		assert_null(tg_runner_run(r, succeed, NULL));
		assert_int_equal(tg_runner_destroy(r), TG_OK);
	}
}

/* ---------------------------------------------------------------- */

static tg_runner *self_runner;

static tg_error *
call_own_runner(void *arg)
{
	tg_error *err = tg_runner_run(self_runner, succeed, NULL);
	tg_error *nested_run = tg_run(succeed, NULL);

	(void)arg;
	assert_int_equal(tg_error_code(err), TG_EDEADLK);
	assert_int_equal(tg_error_code(nested_run), TG_EDEADLK);
	assert_int_equal(tg_runner_destroy(self_runner), TG_EDEADLK);
	tg_error_decref(err);
	tg_error_decref(nested_run);
	return NULL;
}

static void
test_runner_called_from_own_task_is_refused(void **state)
{
	tg_error *err;

	(void)state;
	assert_int_equal(tg_runner_create(&self_runner, &(tg_runner_config){
							.threads = 2 }),
			 TG_OK);
	assert_null(tg_runner_run(self_runner, call_own_runner, NULL));
	err = tg_runner_run(NULL, succeed, NULL);
	assert_int_equal(tg_error_code(err), TG_EINVAL);
	tg_error_decref(err);
	err = tg_runner_run(self_runner, NULL, NULL);
	assert_int_equal(tg_error_code(err), TG_EINVAL);
	tg_error_decref(err);
	assert_int_equal(tg_runner_destroy(self_runner), TG_OK);
}

/* A run that blocks until released, so destroy meets a run in progress. */
static TG_ATOMIC(uint32_t) run_started, release_run;

static tg_error *
block_until_released(void *arg)
{
	(void)arg;
	tg_atomic_store_release_u32(&run_started, 1);
	while (tg_atomic_load_acquire_u32(&release_run) == 0)
		tg_atomic_pause();
	return NULL;
}

static void *
run_in_thread(void *arg)
{
	return tg_runner_run(arg, block_until_released, NULL);
}

static void
test_runner_destroy_during_run_is_busy(void **state)
{
	tg_runner *r;
	pthread_t t;
	void *result;

	(void)state;
	assert_int_equal(tg_runner_create(&r, &(tg_runner_config){ .threads = 1 }),
			 TG_OK);
	tg_atomic_store_relaxed_u32(&run_started, 0);
	tg_atomic_store_relaxed_u32(&release_run, 0);
	assert_int_equal(pthread_create(&t, NULL, run_in_thread, r), 0);
	while (tg_atomic_load_acquire_u32(&run_started) == 0)
		tg_atomic_pause();
	assert_int_equal(tg_runner_destroy(r), TG_EBUSY);
	tg_atomic_store_release_u32(&release_run, 1);
	assert_int_equal(pthread_join(t, &result), 0);
	assert_null(result);
	assert_int_equal(tg_runner_destroy(r), TG_OK);
}

/* Concurrent runs from several threads share one pool. */
static tg_error *
count_in_group(void *arg)
{
	tg_group g;
	int i;

	tg_group_init(&g, NULL);
	for (i = 0; i < 1000; i++)
		tg_spawn(&g, succeed, arg);
	return tg_group_join(&g, NULL);
}

static void *
many_runs(void *arg)
{
	int i;

	for (i = 0; i < 50; i++) {
		tg_error *err = tg_runner_run(arg, count_in_group, NULL);

		if (err != NULL)
			return err;
	}
	return NULL;
}

static void
test_runner_concurrent_runs_share_the_pool(void **state)
{
	tg_runner *r;
	pthread_t t[4];
	void *result;
	int i;

	(void)state;
	assert_int_equal(tg_runner_create(&r, &(tg_runner_config){ .threads = 2 }),
			 TG_OK);
	for (i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, many_runs, r), 0);
	for (i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(t[i], &result), 0);
		assert_null(result);
	}
	assert_int_equal(tg_runner_destroy(r), TG_OK);
}

/* ---------------------------------------------------------------- */

struct ids {
	uint64_t root, child, child_parent;
	int child_worker;
	const char *child_name;
	int child_line;
};

static tg_error *
record_child(void *arg)
{
	struct ids *ids = arg;
	tg_task_info info;

	assert_int_equal(tg_current_task(&info), TG_OK);
	ids->child = info.id;
	ids->child_parent = info.parent_id;
	ids->child_worker = info.worker;
	ids->child_name = info.name;
	ids->child_line = info.spawned_at.line;
	assert_int_equal(tg_current_task_id(), info.id);
	assert_int_equal(tg_current_worker(), info.worker);
	return NULL;
}

static tg_error *
record_root(void *arg)
{
	struct ids *ids = arg;
	tg_group g;

	ids->root = tg_current_task_id();
	tg_group_init(&g, NULL);
	tg_spawn_named(&g, record_child, ids, "the child");
	return tg_group_join(&g, NULL);
}

static void
test_runner_current_task_identifies_tasks(void **state)
{
	struct ids ids = { 0 };
	tg_task_info info;

	(void)state;
	assert_int_equal(tg_current_task(&info), TG_ENOTASK);
	assert_int_equal(tg_current_task(NULL), TG_EINVAL);
	assert_int_equal(tg_current_task_id(), 0);
	assert_int_equal(tg_current_worker(), -1);
	assert_false(tg_cancelled());
	assert_null(tg_checkpoint_at(__FILE__, __LINE__, __func__));
	assert_null(tg_run(record_root, &ids));
	assert_true(ids.root != 0);
	assert_true(ids.child != 0 && ids.child != ids.root);
	assert_int_equal(ids.child_parent, ids.root);
	assert_true(ids.child_worker >= 0);
	assert_string_equal(ids.child_name, "the child");
	assert_true(ids.child_line > 0);
}

/* Task ids are given on first ask (the spawn leaves them unset), by
 * whichever thread asks first: a task, or a descendant on another worker
 * reading its parent_id.  Each task must get exactly one id. */
#define ID_CHILDREN 64
#define ID_GRANDCHILDREN 4

struct id_child {
	uint64_t early, late;                       /* its own id, twice */
	uint64_t seen_by[ID_GRANDCHILDREN];         /* its grandchildren's
						     * parent_id */
	uint64_t grandchild[ID_GRANDCHILDREN];      /* their own ids */
};

struct id_grandchild {
	struct id_child *parent;
	int index;
};

static tg_error *
record_grandchild(void *arg)
{
	struct id_grandchild *gc = arg;
	tg_task_info info;

	if (tg_current_task(&info) != TG_OK)
		return TG_RAISE(&tg_RuntimeError, "no current task");
	gc->parent->seen_by[gc->index] = info.parent_id;
	gc->parent->grandchild[gc->index] = info.id;
	return NULL;
}

static tg_error *
record_id_child(void *arg)
{
	struct id_child *c = arg;
	struct id_grandchild gcs[ID_GRANDCHILDREN];
	tg_group g;
	int i;

	if (tg_group_init(&g, NULL) != TG_OK)
		return TG_RAISE(&tg_RuntimeError, "tg_group_init");
	for (i = 0; i < ID_GRANDCHILDREN; i++) {
		gcs[i] = (struct id_grandchild){ c, i };
		if (tg_spawn(&g, record_grandchild, &gcs[i]) != TG_OK)
			return tg_group_join(&g, TG_RAISE(&tg_RuntimeError,
							  "tg_spawn"));
	}
	c->early = tg_current_task_id(); /* races the thieves' first asks */
	tg_error *err = tg_group_join(&g, NULL);
	c->late = tg_current_task_id();
	return err;
}

static tg_error *
spawn_id_children(void *arg)
{
	struct id_child *children = arg;
	tg_group g;
	int i;

	if (tg_group_init(&g, NULL) != TG_OK)
		return TG_RAISE(&tg_RuntimeError, "tg_group_init");
	for (i = 0; i < ID_CHILDREN; i++)
		if (tg_spawn(&g, record_id_child, &children[i]) != TG_OK)
			return tg_group_join(&g, TG_RAISE(&tg_RuntimeError,
							  "tg_spawn"));
	return tg_group_join(&g, NULL);
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void
test_runner_task_ids_are_given_once(void **state)
{
	enum { N = ID_CHILDREN * (1 + ID_GRANDCHILDREN) };
	static struct id_child children[ID_CHILDREN];
	static uint64_t all[N];
	tg_runner *r;
	int round, i, j, n;

	(void)state;
	assert_int_equal(tg_runner_create(&r, &(tg_runner_config){
						      .threads = 4 }),
			 TG_OK);
	for (round = 0; round < 50; round++) {
		memset(children, 0, sizeof(children));
		assert_null(tg_runner_run(r, spawn_id_children, children));
		n = 0;
		for (i = 0; i < ID_CHILDREN; i++) {
			assert_true(children[i].early != 0);
			assert_int_equal(children[i].late, children[i].early);
			all[n++] = children[i].early;
			for (j = 0; j < ID_GRANDCHILDREN; j++) {
				assert_int_equal(children[i].seen_by[j],
						 children[i].early);
				assert_true(children[i].grandchild[j] != 0);
				all[n++] = children[i].grandchild[j];
			}
		}
		/* Every id once. */
		qsort(all, N, sizeof(all[0]), cmp_u64);
		for (i = 1; i < N; i++)
			assert_true(all[i] != all[i - 1]);
	}
	assert_int_equal(tg_runner_destroy(r), TG_OK);
}

static void
test_runner_run_returns_the_root_error(void **state)
{
	tg_error *err;

	(void)state;
	err = tg_run(fail_root, NULL);
	assert_true(tg_error_is(err, &tg_ValueError));
	tg_error_decref(err);
	err = tg_run(NULL, NULL);
	assert_int_equal(tg_error_code(err), TG_EINVAL);
	tg_error_decref(err);
	setenv("TG_THREADS", "nonsense", 1);
	err = tg_run(succeed, NULL);
	assert_int_equal(tg_error_code(err), TG_EINVAL);
	tg_error_decref(err);
	unsetenv("TG_THREADS");
}

/* ------------------------------------------------------------------ */
/* Worker stack size                                                    */

#define STACK_TASKS 64

typedef struct stack_probe {
	size_t seen[STACK_TASKS]; /* each task's thread's stack size */
	TG_ATOMIC(uint32_t) started;
} stack_probe;

typedef struct stack_child {
	stack_probe *probe;
	int index;
} stack_child;

/* The calling thread's stack size as the platform reports it; 0 when it
 * cannot say (not glibc). */
static size_t
own_stack_size(void)
{
#if defined(__GLIBC__)
	pthread_attr_t attr;
	size_t size = 0;

	if (pthread_getattr_np(pthread_self(), &attr) != 0)
		return 0;
	if (pthread_attr_getstacksize(&attr, &size) != 0)
		size = 0;
	pthread_attr_destroy(&attr);
	return size;
#else
	return 0;
#endif
}

static tg_error *
stack_child_task(void *arg)
{
	stack_child *c = arg;
	uint32_t spins = 0;

	c->probe->seen[c->index] = own_stack_size();
	tg_atomic_faa_seqcst_u32(&c->probe->started, 1);
	/* Stay a little, checkpointing, so that the other worker takes some
	 * of the siblings (not required for the outcome). */
	while (tg_atomic_load_seqcst_u32(&c->probe->started) < 2 &&
	       spins++ < 100000)
		(void)tg_cancelled();
	return NULL;
}

static tg_error *
stack_root(void *arg)
{
	static stack_child kids[STACK_TASKS];
	stack_probe *probe = arg;
	tg_group g;
	int i;

	assert_int_equal(tg_group_init(&g, NULL), TG_OK);
	for (i = 0; i < STACK_TASKS; i++) {
		kids[i] = (stack_child){ probe, i };
		assert_int_equal(tg_spawn(&g, stack_child_task, &kids[i]), TG_OK);
	}
	return tg_group_join(&g, NULL);
}

/* Uses most of a task's stack: a 512 KiB array written and read back. */
static tg_error *
use_half_a_mebibyte(void *arg)
{
	volatile unsigned char big[512 * 1024];
	size_t i, sum = 0;

	(void)arg;
	for (i = 0; i < sizeof(big); i += 4096)
		big[i] = (unsigned char)(i / 4096 + 1);
	for (i = 0; i < sizeof(big); i += 4096)
		sum += big[i];
	/* 128 pages holding 1..128. */
	return sum != 128 * 129 / 2
		       ? TG_RAISE(&tg_RuntimeError, "read back %zu", sum)
		       : NULL;
}

typedef struct nest_arg {
	int depth;
	long leaves;
} nest_arg;

/* A binary tree of groups, depth levels deep: counts its leaves. */
static tg_error *
nest_task(void *arg)
{
	nest_arg *a = arg, x, y;
	tg_group g;
	tg_error *err;

	if (a->depth == 0) {
		a->leaves = 1;
		return NULL;
	}
	x = (nest_arg){ a->depth - 1, 0 };
	y = x;
	if (tg_group_init(&g, NULL) != TG_OK)
		return TG_RAISE(&tg_RuntimeError, "init");
	if (tg_spawn(&g, nest_task, &x) != TG_OK ||
	    tg_spawn(&g, nest_task, &y) != TG_OK)
		return tg_group_join(&g, TG_RAISE(&tg_RuntimeError, "spawn"));
	err = tg_group_join(&g, NULL);
	a->leaves = x.leaves + y.leaves;
	return err;
}

static void
test_runner_stack_size_is_given_to_the_workers(void **state)
{
	const size_t page = (size_t)sysconf(_SC_PAGESIZE);
	const size_t asked = 1024 * 1024 + 1; /* rounded up to whole pages */
	const size_t rounded = (asked + page - 1) / page * page;
	stack_probe probe;
	tg_runner *r;
	tg_error *err;
	int i;

	(void)state;
	memset(&probe, 0, sizeof(probe));
	assert_int_equal(tg_runner_create(&r, &(tg_runner_config){
						      .threads = 2,
						      .stack_size = asked }),
			 TG_OK);
	err = tg_runner_run(r, stack_root, &probe);
	assert_null(err);
	/* Every task, on whichever worker it ran, saw the size asked. */
	for (i = 0; i < STACK_TASKS; i++)
		if (probe.seen[i] != 0) /* 0: the platform cannot say */
			assert_int_equal(probe.seen[i], rounded);
#if defined(__GLIBC__)
	assert_true(probe.seen[0] != 0); /* glibc can say */
#endif
	/* A task may use most of it. */
	assert_null(tg_runner_run(r, use_half_a_mebibyte, NULL));
	assert_int_equal(tg_runner_destroy(r), TG_OK);
}

static void
test_runner_stack_size_minimum_runs_nested_groups(void **state)
{
	nest_arg root = { 10, 0 };
	tg_runner *r;

	(void)state;
	assert_int_equal(tg_runner_create(&r, &(tg_runner_config){
						      .threads = 2,
						      .stack_size =
							      TG_STACK_SIZE_MIN }),
			 TG_OK);
	assert_null(tg_runner_run(r, nest_task, &root));
	assert_int_equal(root.leaves, 1024);
	assert_int_equal(tg_runner_destroy(r), TG_OK);
}

/* ------------------------------------------------------------------ */
/* fork()                                                               */

/* Not under the sanitizers: TSan does not follow a multi-threaded fork,
 * and the ASan of gcc 12 does not make its own allocator safe across one
 * (a child hung in ASan's allocator lock, held by a parent thread at the
 * fork). */
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define TEST_NO_FORK 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(address_sanitizer)
#define TEST_NO_FORK 1
#endif
#endif

#ifndef TEST_NO_FORK
#include <signal.h>
#include <sys/wait.h>

#define FORKS 1000

static TG_ATOMIC(uint32_t) churn_stop;

/* Errors made and freed on the workers, as fast as they go: the error
 * path's blocks are taken and given back under the library's lock. */
static tg_error *
churn_child(void *arg)
{
	(void)arg;
	return TG_RAISE(&tg_ValueError, "churn");
}

static tg_error *
churn_root(void *arg)
{
	tg_group g;
	int i;

	(void)arg;
	if (tg_group_init(&g, &(tg_group_options){
				      .policy = TG_POLICY_COLLECT_ALL }) != TG_OK)
		return TG_RAISE(&tg_RuntimeError, "init");
	for (i = 0; i < 64; i++)
		if (tg_spawn(&g, churn_child, NULL) != TG_OK)
			break;
	return tg_group_join(&g, NULL);
}

static void *
churn_thread(void *arg)
{
	tg_runner *r = arg;
	unsigned n = 0;

	/* seq_cst: a flag only (pairs with the release stores in the
	 * test; the thread is joined before anything it wrote is read). */
	while (tg_atomic_load_seqcst_u32(&churn_stop) == 0) {
		tg_error_decref(tg_runner_run(r, churn_root, NULL));
		/* Now and then a pause, in which the workers park: forks
		 * then also find threads parked (the portable platform
		 * file's condition variable, src/platform.c). */
		if (++n % 2 == 0)
			usleep(50);
	}
	return NULL;
}

/* In the child: a new pool, errors made and freed on its workers. */
static int
child_runs_a_new_pool(void)
{
	tg_error *err;
	size_t leaves;

	alarm(5); /* a deadlock ends the child, and the parent sees it */
	err = tg_run(churn_root, NULL);
	leaves = tg_error_leaf_count(err);
	tg_error_decref(err);
	return leaves == 64 ? 0 : 1;
}

static void
test_runner_fork_child_can_start_a_new_runner(void **state)
{
	pthread_t churner;
	tg_runner *r;
	int i, status;

	(void)state;
	assert_int_equal(tg_runner_create(&r, &(tg_runner_config){
						      .threads = 2 }),
			 TG_OK);
	/* release: before the churner starts (pthread_create orders it too). */
	tg_atomic_store_release_u32(&churn_stop, 0);
	assert_int_equal(pthread_create(&churner, NULL, churn_thread, r), 0);
	for (i = 0; i < FORKS; i++) {
		pid_t pid = fork();

		assert_true(pid >= 0);
		if (pid == 0)
			_exit(child_runs_a_new_pool());
		assert_int_equal(waitpid(pid, &status, 0), pid);
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			fail_msg("fork %d: the child %s %d", i,
				 WIFSIGNALED(status) ? "died of signal"
						     : "exited with",
				 WIFSIGNALED(status) ? WTERMSIG(status)
						     : WEXITSTATUS(status));
	}
	/* release: pairs with the churner's load; it stops after its run. */
	tg_atomic_store_release_u32(&churn_stop, 1);
	assert_int_equal(pthread_join(churner, NULL), 0);
	assert_int_equal(tg_runner_destroy(r), TG_OK);
}
#endif /* !TEST_NO_FORK */

static void
test_runner_status_strings(void **state)
{
	(void)state;
	assert_string_equal(tg_status_name(TG_EDEADLK), "TG_EDEADLK");
	assert_string_equal(tg_strerror(TG_OK), "success");
	assert_string_equal(tg_strerror(12345), "unknown status");
	assert_string_equal(tg_version_string(), TG_VERSION_STRING);
	assert_int_equal(tg_version(), TG_VERSION_HEX);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_runner_config_is_validated),
		cmocka_unit_test(test_runner_thread_count_from_environment),
		cmocka_unit_test(test_runner_many_runs_on_one_pool),
		cmocka_unit_test(test_runner_pool_create_destroy_cycles),
		cmocka_unit_test(test_runner_called_from_own_task_is_refused),
		cmocka_unit_test(test_runner_destroy_during_run_is_busy),
		cmocka_unit_test(test_runner_concurrent_runs_share_the_pool),
		cmocka_unit_test(test_runner_current_task_identifies_tasks),
		cmocka_unit_test(test_runner_task_ids_are_given_once),
		cmocka_unit_test(test_runner_run_returns_the_root_error),
		cmocka_unit_test(test_runner_stack_size_is_given_to_the_workers),
		cmocka_unit_test(test_runner_stack_size_minimum_runs_nested_groups),
#ifndef TEST_NO_FORK
		cmocka_unit_test(test_runner_fork_child_can_start_a_new_runner),
#endif
		cmocka_unit_test(test_runner_status_strings),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
