/*
 * test_pool_thread_failure.c - a thread that cannot be created.
 *
 * This program is linked with -Wl,--wrap=pthread_create (tests/
 * CMakeLists.txt), so every pthread_create of the static library comes
 * here: __wrap_pthread_create fails the k-th call on demand and otherwise
 * starts the thread through a trampoline that counts the threads alive.
 *
 * runner.h: tg_runner_create gives TG_EAGAIN when a thread cannot be
 * created, "the ones started are stopped and joined", and *out is set only
 * on success; tg_run reports it as a RuntimeError with code TG_EAGAIN;
 * tg_group_set_deadline gives TG_EAGAIN when the pool's timer thread cannot
 * be started.  Checked for every k: the status, no block leaked (a
 * counting allocator; LSan in the ASan build), no thread left running,
 * the allocator free to change again (no runner pin left), and the
 * library still usable.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "taskgroup.h"

#include "test_atomic_alloc.h"
#include "test_check.h"

/* ---------------------------------------------------------------- */
/* The wrapper                                                        */

int __real_pthread_create(pthread_t *thread, const pthread_attr_t *attr,
			  void *(*fn)(void *), void *arg);
int __wrap_pthread_create(pthread_t *thread, const pthread_attr_t *attr,
			  void *(*fn)(void *), void *arg);

static atomic_int wrap_calls;   /* pthread_create calls so far */
static atomic_int wrap_fail_at; /* fail the call with this number; 0: none */
static atomic_int wrap_failed;  /* calls failed on purpose */
static atomic_int threads_alive;   /* started here, not yet returned */
static atomic_int threads_started; /* started here, ever */

struct trampoline {
	void *(*fn)(void *);
	void *arg;
};

static void *
trampoline(void *p)
{
	struct trampoline t = *(struct trampoline *)p;
	void *result;

	free(p);
	atomic_fetch_add(&threads_started, 1);
	atomic_fetch_add(&threads_alive, 1);
	result = t.fn(t.arg);
	atomic_fetch_sub(&threads_alive, 1);
	return result;
}

int
__wrap_pthread_create(pthread_t *thread, const pthread_attr_t *attr,
		      void *(*fn)(void *), void *arg)
{
	int n = atomic_fetch_add(&wrap_calls, 1) + 1;
	struct trampoline *t;
	int rc;

	if (n == atomic_load(&wrap_fail_at)) {
		atomic_fetch_add(&wrap_failed, 1);
		return EAGAIN;
	}
	t = malloc(sizeof(*t));
	if (t == NULL)
		return EAGAIN;
	t->fn = fn;
	t->arg = arg;
	rc = __real_pthread_create(thread, attr, trampoline, t);
	if (rc != 0)
		free(t);
	return rc;
}

/* Fails the k-th pthread_create from now (1-based) and restarts the
 * counts; no_fail() disarms and keeps them. */
static void
fail_thread(int k)
{
	atomic_store(&wrap_failed, 0);
	atomic_store(&threads_started, 0);
	atomic_store(&wrap_fail_at, atomic_load(&wrap_calls) + k);
}

static void
no_fail(void)
{
	atomic_store(&wrap_fail_at, 0);
}

/* Threads of the process, from /proc (-1 if unavailable). */
static int
process_threads(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	int n = -1;

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "Threads: %d", &n) == 1)
			break;
	fclose(f);
	return n;
}

static atomic_int ran;

/* The process's thread count once it is back to want or below: a joined
 * thread's kernel task may take a moment more to go (pthread_join returns
 * when the thread's tid is cleared, a little before the kernel drops it
 * from the count).  Gives up after 10 s; returns the last count seen. */
static int
settled_threads(int want)
{
	struct timespec ms = { 0, 1000000 };
	int i, n = process_threads();

	for (i = 0; i < 10000 && n > want; i++) {
		nanosleep(&ms, NULL);
		n = process_threads();
	}
	return n;
}

/* The process's thread count once it has stayed the same for 100 ms (up
 * to 10 s): the threads of a runner just destroyed may still be leaving
 * the count, as in settled_threads. */
static int
stable_threads(void)
{
	struct timespec ms = { 0, 1000000 };
	int i, same = 0, n = process_threads(), m;

	for (i = 0; i < 10000 && same < 100; i++) {
		nanosleep(&ms, NULL);
		m = process_threads();
		same = m == n ? same + 1 : 0;
		n = m;
	}
	return n;
}

static tg_error *
count_run(void *arg)
{
	(void)arg;
	atomic_fetch_add(&ran, 1);
	return NULL;
}

/* A group of children on r works (the library is still usable). */
static tg_error *
spawn_some(void *arg)
{
	tg_group g;
	int i;

	(void)arg;
	CHECK_STATUS(tg_group_init(&g, NULL), TG_OK);
	for (i = 0; i < 100; i++)
		CHECK_STATUS(tg_spawn(&g, count_run, NULL), TG_OK);
	return tg_group_join(&g, NULL);
}

static void
assert_runner_works(int threads)
{
	tg_runner *r;
	tg_error *err;

	assert_int_equal(tg_runner_create(&r, &(tg_runner_config){
						      .threads = threads }),
			 TG_OK);
	atomic_store(&ran, 0);
	err = tg_runner_run(r, spawn_some, NULL);
	assert_null(err);
	assert_int_equal(atomic_load(&ran), 100);
	assert_int_equal(tg_runner_destroy(r), TG_OK);
}

/* ---------------------------------------------------------------- */

static void
test_thread_failure_runner_create(void **state)
{
	const int threads = 4;
	int baseline, before, created, k, pin;
	tg_runner *r;

	(void)state;
	check_reset();
	/* How many threads a runner starts. */
	no_fail();
	before = atomic_load(&wrap_calls);

	assert_int_equal(tg_runner_create(&r, &(tg_runner_config){
						      .threads = threads }),
			 TG_OK);
	created = atomic_load(&wrap_calls) - before;
	assert_true(created >= threads);
	assert_int_equal(tg_runner_destroy(r), TG_OK);
	assert_int_equal(atomic_load(&threads_alive), 0);
	/* Measured after a first thread was made: a sanitizer runtime may
	 * start a thread of its own then. */
	baseline = stable_threads();

	for (pin = 0; pin < 2; pin++) {
		for (k = 1; k <= created; k++) {
			tg_runner *const none = (tg_runner *)&k;
			int rc;

			assert_int_equal(tg_set_allocator(&ta_allocator), TG_OK);
			r = none;
			fail_thread(k);
			rc = tg_runner_create(&r, &(tg_runner_config){
							  .threads = threads,
							  .pin_threads = pin });
			no_fail();
			if (rc == TG_OK)
				tg_runner_destroy(r);
			assert_int_equal(rc, TG_EAGAIN);
			assert_int_equal(atomic_load(&wrap_failed), 1);
			assert_ptr_equal(r, none);
			/* The k-1 threads started ran and were stopped and
			 * joined before create returned. */
			assert_int_equal(atomic_load(&threads_started), k - 1);
			assert_int_equal(atomic_load(&threads_alive), 0);
			/* At most baseline: a baseline taken while a thread
			 * was still leaving can only be high. */
			if (baseline > 0)
				assert_true(settled_threads(baseline) <=
					    baseline);
			/* No runner pin left behind, and nothing leaked. */
			assert_int_equal(tg_reset_allocator(), TG_OK);
			assert_int_equal(ta_live(), 0);
		}
	}
	assert_runner_works(threads);
	check_report();
}

static void
test_thread_failure_tg_run(void **state)
{
	const char *env = getenv("TG_THREADS");
	char *saved = env != NULL ? strdup(env) : NULL;
	tg_error *err;
	int k;

	(void)state;
	setenv("TG_THREADS", "3", 1);
	for (k = 1; k <= 3; k++) {
		assert_int_equal(tg_set_allocator(&ta_allocator), TG_OK);
		atomic_store(&ran, 0);
		fail_thread(k);
		err = tg_run(count_run, NULL);
		no_fail();
		assert_true(tg_error_is(err, &tg_RuntimeError));
		assert_int_equal(tg_error_code(err), TG_EAGAIN);
		assert_int_equal(atomic_load(&ran), 0); /* fn never ran */
		tg_error_decref(err);
		assert_int_equal(atomic_load(&threads_alive), 0);
		assert_int_equal(tg_reset_allocator(), TG_OK);
		assert_int_equal(ta_live(), 0);
	}
	assert_null(tg_run(count_run, NULL));
	assert_int_equal(atomic_load(&ran), 1);
	if (saved != NULL)
		setenv("TG_THREADS", saved, 1);
	else
		unsetenv("TG_THREADS");
	free(saved);
}

/* The pool's timer thread (started by the first deadline) cannot be
 * created: TG_EAGAIN and nothing changed; a later deadline works. */
static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static tg_error *
wait_to_be_cancelled(void *arg)
{
	double give_up = now_s() + 30.0; /* hang guard, not a timing test */

	(void)arg;
	while (!tg_cancelled()) {
		if (now_s() > give_up) {
			CHECK(!"the deadline never fired");
			return NULL;
		}
		sched_yield();
	}
	return tg_checkpoint_at(__FILE__, __LINE__, __func__);
}

static tg_error *
timer_thread_fails(void *arg)
{
	const int64_t minute = 60000000000;
	tg_group g;
	tg_error *err;
	int64_t when;
	int rc;

	(void)arg;
	CHECK_STATUS(tg_group_init(&g, NULL), TG_OK);
	fail_thread(1);
	rc = tg_group_set_timeout(&g, minute);
	no_fail();
	if (atomic_load(&wrap_failed) == 1) {
		CHECK_STATUS(rc, TG_EAGAIN);
		/* Nothing changed. */
		CHECK(tg_group_deadline(&g) == TG_DEADLINE_NONE);
		CHECK(!tg_group_expired(&g));
		CHECK(!tg_cancelled());
	} else {
		/* The timer thread was already there (or needs none). */
		CHECK_STATUS(rc, TG_OK);
	}
	when = tg_now_ns() + minute;
	CHECK_STATUS(tg_group_set_deadline(&g, when), TG_OK);
	CHECK(tg_group_deadline(&g) == when);
	CHECK(tg_group_join(&g, NULL) == NULL);
	/* The timer works: the child is spawned first, since the 1 ms
	 * deadline may pass as soon as it is set. */
	CHECK_STATUS(tg_group_init(&g, NULL), TG_OK);
	CHECK_STATUS(tg_spawn(&g, wait_to_be_cancelled, NULL), TG_OK);
	CHECK_STATUS(tg_group_set_timeout(&g, 1000000), TG_OK);
	err = tg_group_join(&g, NULL);
	CHECK(tg_error_is(err, &tg_TimeoutError));
	tg_error_decref(err);
	return NULL;
}

static void
test_thread_failure_timer_thread(void **state)
{
	tg_runner *r;
	int i;

	(void)state;
	check_reset();
	for (i = 0; i < 3; i++) {
		assert_int_equal(tg_set_allocator(&ta_allocator), TG_OK);
		assert_int_equal(tg_runner_create(&r, &(tg_runner_config){
							      .threads = 1 + i % 2 }),
				 TG_OK);
		assert_null(tg_runner_run(r, timer_thread_fails, NULL));
		assert_int_equal(tg_runner_destroy(r), TG_OK);
		/* Workers and the timer thread are all joined. */
		assert_int_equal(atomic_load(&threads_alive), 0);
		assert_int_equal(tg_reset_allocator(), TG_OK);
		assert_int_equal(ta_live(), 0);
	}
	check_report();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_thread_failure_runner_create),
		cmocka_unit_test(test_thread_failure_tg_run),
		cmocka_unit_test(test_thread_failure_timer_thread),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
