/*
 * platform.c - the platform file, the only one with Linux-only code:
 * ck_ec's gettime / wait / wake for parking, and the few other platform
 * facts the library needs (platform.h).  Linux uses futex(2), gettid and
 * CPU affinity directly, and pthread_getattr_np for a thread's stack
 * bounds; elsewhere (or with TG_PORTABLE_PLATFORM) one process-wide mutex
 * and condition variable stand in for the futex (correct, slower: every
 * wake broadcasts), threads are not pinned, and stack bounds are unknown
 * (no stack-overflow message).
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

#if defined(__linux__) && !defined(TG_PORTABLE_PLATFORM)
#include <linux/futex.h>
#include <sched.h>
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

const bool tg__main_thread_known = true;

/* A futex wake is a plain system call. */
const bool tg__wake_signal_safe = true;

void
tg__pin_thread(pthread_t thread, int index)
{
	cpu_set_t allowed, one;
	int count, cpu, seen = 0;

	if (sched_getaffinity(0, sizeof(allowed), &allowed) != 0)
		return;
	count = CPU_COUNT(&allowed);
	if (count <= 0)
		return;
	for (cpu = 0; cpu < CPU_SETSIZE; cpu++) {
		if (!CPU_ISSET(cpu, &allowed))
			continue;
		if (seen++ == index % count) {
			CPU_ZERO(&one);
			CPU_SET(cpu, &one);
			/* Best effort: pinning is an optimisation. */
			(void)pthread_setaffinity_np(thread, sizeof(one), &one);
			return;
		}
	}
}

int64_t
tg__thread_cpu_ns(pthread_t thread)
{
	clockid_t cid;
	struct timespec ts;

	if (pthread_getcpuclockid(thread, &cid) != 0 ||
	    clock_gettime(cid, &ts) != 0)
		return -1;
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

bool
tg__thread_stack(uintptr_t *lo, size_t *size, size_t *guard)
{
	pthread_attr_t attr;
	void *addr;
	size_t sz, gd;
	long page = sysconf(_SC_PAGESIZE);
	bool ok;

	if (page <= 0)
		page = 4096;
	if (pthread_getattr_np(pthread_self(), &attr) != 0)
		return false;
	/* glibc: [addr, addr + sz) is the usable stack, the guard lies right
	 * below addr (its size as requested; the pages are whole). */
	ok = pthread_attr_getstack(&attr, &addr, &sz) == 0 &&
	     pthread_attr_getguardsize(&attr, &gd) == 0;
	pthread_attr_destroy(&attr);
	if (!ok || addr == NULL || sz == 0)
		return false;
	*lo = (uintptr_t)addr;
	*size = sz;
	*guard = (gd + (size_t)page - 1) / (size_t)page * (size_t)page;
	return true;
}

const bool tg__thread_stack_known = true;

#else /* portable fallback */

static pthread_mutex_t fallback_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t fallback_cond = PTHREAD_COND_INITIALIZER;
static pthread_once_t fork_handlers_once = PTHREAD_ONCE_INIT;

/*
 * fork(): the child has only the forking thread, yet it may start a new
 * runner, whose workers park and wake here.  Two things of the parent's
 * threads would be left behind in it: the mutex, if one of them held it
 * at the fork, and the waiters parked in the condition variable, which
 * the child's copy still counts.  Either can hang the child's first
 * park or wake (seen: 7 children in 9,000 forks from a busy pool; with
 * the mutex alone still 1 in 6,000).
 * So the handlers take the mutex around the fork, and the child starts
 * from a fresh condition variable: no thread of the child can be using
 * it.  Registered at the first park or wake: before that the parent has
 * no waiter to leave behind.
 */
static void
fork_prepare(void)
{
	pthread_mutex_lock(&fallback_lock);
}

static void
fork_parent(void)
{
	pthread_mutex_unlock(&fallback_lock);
}

static void
fork_child(void)
{
	static const pthread_cond_t fresh = PTHREAD_COND_INITIALIZER;

	fallback_cond = fresh;
	/* Its one thread is the one that took the mutex in fork_prepare. */
	pthread_mutex_unlock(&fallback_lock);
}

static void
fork_handlers_register(void)
{
	/* Without the handlers (out of memory) a fork is as unsafe as
	 * before; nothing else depends on them. */
	(void)pthread_atfork(fork_prepare, fork_parent, fork_child);
}

static void
fallback_lock_take(void)
{
	pthread_once(&fork_handlers_once, fork_handlers_register);
	pthread_mutex_lock(&fallback_lock);
}

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
	fallback_lock_take();
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
	fallback_lock_take();
	pthread_cond_broadcast(&fallback_cond);
	pthread_mutex_unlock(&fallback_lock);
}

bool
tg__is_main_thread(void)
{
	return false; /* no portable way: Ctrl-C handling stays off */
}

const bool tg__main_thread_known = false;

/* The wake takes a mutex: not from a signal handler (parked threads
 * still wake within the 10 ms slices of ec_wait32). */
const bool tg__wake_signal_safe = false;

void
tg__pin_thread(pthread_t thread, int index)
{
	/* No portable way to pin: the scheduler places the threads. */
	(void)thread;
	(void)index;
}

int64_t
tg__thread_cpu_ns(pthread_t thread)
{
	/* pthread_getcpuclockid is optional in POSIX (macOS lacks it). */
	(void)thread;
	return -1;
}

bool
tg__thread_stack(uintptr_t *lo, size_t *size, size_t *guard)
{
	/* No portable way to find a thread's stack (pthread_getattr_np is a
	 * GNU extension). */
	(void)lo;
	(void)size;
	(void)guard;
	return false;
}

const bool tg__thread_stack_known = false;
#endif

const struct ck_ec_ops tg__ec_ops = {
	.gettime = ec_gettime,
	.wait32 = ec_wait32,
	.wake32 = ec_wake32,
	/* Spinning happens in the worker loop before parking; ck_ec's own
	 * busy loop stays short. */
	.busy_loop_iter = 16,
};
