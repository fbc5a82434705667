/*
 * test_check.h - assertions for code that runs on worker threads.
 *
 * cmocka's assert_* macros longjmp back to the test function, which is only
 * valid on the thread that runs the test; tasks run on the pool's workers.
 * CHECK* records a failure (the first one's text is kept) and lets the task
 * go on; check_report(), called on the test's thread once the run has
 * returned, fails the test with what was recorded.  check_reset() starts a
 * test afresh.  Include it once per test program (it defines static state).
 */
#ifndef TG_TEST_CHECK_H
#define TG_TEST_CHECK_H

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>

#include "taskgroup/common.h"

static pthread_mutex_t check_lock = PTHREAD_MUTEX_INITIALIZER;
static int check_failures;
static char check_first[512];

static inline void
check_failv(const char *file, int line, const char *fmt, va_list ap)
{
	pthread_mutex_lock(&check_lock);
	if (check_failures++ == 0) {
		int n = snprintf(check_first, sizeof(check_first), "%s:%d: ",
				 file, line);

		if (n > 0 && (size_t)n < sizeof(check_first))
			vsnprintf(check_first + n, sizeof(check_first) - (size_t)n,
				  fmt, ap);
	}
	pthread_mutex_unlock(&check_lock);
}

static inline void __attribute__((format(printf, 3, 4)))
check_fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	check_failv(file, line, fmt, ap);
	va_end(ap);
}

#define CHECK(cond)                                                          \
	((cond) ? (void)0                                                    \
		: check_fail(__FILE__, __LINE__, "CHECK(%s) failed", #cond))

/* Two integers, printed on failure. */
#define CHECK_INT(a, b)                                                      \
	do {                                                                 \
		long long check_a_ = (long long)(a);                         \
		long long check_b_ = (long long)(b);                         \
		if (check_a_ != check_b_)                                    \
			check_fail(__FILE__, __LINE__,                       \
				   "%s == %s failed (%lld != %lld)", #a, #b, \
				   check_a_, check_b_);                      \
	} while (0)

/* Two TG_* status codes, printed by name on failure. */
#define CHECK_STATUS(a, b)                                                   \
	do {                                                                 \
		int check_a_ = (a), check_b_ = (b);                          \
		if (check_a_ != check_b_)                                    \
			check_fail(__FILE__, __LINE__,                       \
				   "%s == %s failed (%s != %s)", #a, #b,     \
				   tg_status_name(check_a_),                 \
				   tg_status_name(check_b_));                \
	} while (0)

static inline void
check_reset(void)
{
	pthread_mutex_lock(&check_lock);
	check_failures = 0;
	check_first[0] = '\0';
	pthread_mutex_unlock(&check_lock);
}

/* On the test's thread: fails the test if any CHECK failed. */
#define check_report()                                                       \
	do {                                                                 \
		int check_n_;                                                \
		pthread_mutex_lock(&check_lock);                             \
		check_n_ = check_failures;                                   \
		pthread_mutex_unlock(&check_lock);                           \
		if (check_n_ != 0)                                           \
			fail_msg("%d check(s) failed; first: %s", check_n_, \
				 check_first);                               \
	} while (0)

#endif /* TG_TEST_CHECK_H */
