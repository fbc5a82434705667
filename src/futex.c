/*
 * futex.c - the platform file: ck_ec's gettime / wait / wake for parking,
 * and the few other platform facts the library needs (platform.h).
 * Linux uses futex(2) directly; elsewhere one process-wide mutex and
 * condition variable stand in (correct, slower: every wake broadcasts).
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <time.h>

#include "park.h"
#include "platform.h"

static int
ec_gettime(const struct ck_ec_ops *ops, struct timespec *out)
{
	(void)ops;
	return clock_gettime(CLOCK_MONOTONIC, out);
}

#if defined(__linux__)
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

/* FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC deadline, which is
 * what ck_ec hands us. */
static void
ec_wait32(const struct ck_ec_wait_state *state, const uint32_t *addr,
	  uint32_t expected, const struct timespec *deadline)
{
	(void)state;
	syscall(SYS_futex, addr, FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG,
		expected, deadline, NULL, FUTEX_BITSET_MATCH_ANY);
}

static void
ec_wake32(const struct ck_ec_ops *ops, const uint32_t *addr)
{
	(void)ops;
	syscall(SYS_futex, addr, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, INT_MAX,
		NULL, NULL, 0);
}

bool
tg__is_main_thread(void)
{
	/* The initial thread's id is the process id. */
	return syscall(SYS_gettid) == getpid();
}

/* A futex wake is a plain system call. */
const bool tg__wake_signal_safe = true;

#else /* portable fallback */

static pthread_mutex_t fallback_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t fallback_cond = PTHREAD_COND_INITIALIZER;

/* The value check and the sleep happen under the mutex, and a waker takes
 * the mutex before broadcasting, so a wake after the check cannot be
 * missed.  The condition variable uses the realtime clock by default, so
 * waits are bounded to short slices and ck_ec re-checks its deadline. */
static void
ec_wait32(const struct ck_ec_wait_state *state, const uint32_t *addr,
	  uint32_t expected, const struct timespec *deadline)
{
	struct timespec slice;

	(void)state;
	(void)deadline;
	clock_gettime(CLOCK_REALTIME, &slice);
	slice.tv_nsec += 10 * 1000 * 1000;
	if (slice.tv_nsec >= 1000000000L) {
		slice.tv_sec += 1;
		slice.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&fallback_lock);
	/* acquire: the event count's value; the mutex orders it against the
	 * waker's broadcast (see above). */
	if (tg_atomic_load_acquire_u32(addr) == expected)
		pthread_cond_timedwait(&fallback_cond, &fallback_lock, &slice);
	pthread_mutex_unlock(&fallback_lock);
}

static void
ec_wake32(const struct ck_ec_ops *ops, const uint32_t *addr)
{
	(void)ops;
	(void)addr;
	pthread_mutex_lock(&fallback_lock);
	pthread_cond_broadcast(&fallback_cond);
	pthread_mutex_unlock(&fallback_lock);
}

bool
tg__is_main_thread(void)
{
	return false; /* no portable way: Ctrl-C handling stays off */
}

/* The wake takes a mutex: not from a signal handler (parked threads
 * still wake within the 10 ms slices of ec_wait32). */
const bool tg__wake_signal_safe = false;
#endif

const struct ck_ec_ops tg__ec_ops = {
	.gettime = ec_gettime,
	.wait32 = ec_wait32,
	.wake32 = ec_wake32,
	/* Spinning happens in the worker loop before parking; ck_ec's own
	 * busy loop stays short. */
	.busy_loop_iter = 16,
};
