/*
 * stack_guard.c - a task that overflows its worker's stack ends with a
 * message naming it, instead of a bare SIGSEGV.
 *
 * Theory of operation
 * -------------------
 * Every task runs on a worker thread's stack, and a join runs other tasks
 * on top of the joining task's frames, so deep nesting of groups grows one
 * stack (docs/design.md, "Tasks and threads", gives the depths).  When it
 * runs out, the next push lands in the guard region below the stack (at
 * least TG__STACK_GUARD bytes: pool.c asks for it) and the kernel raises
 * SIGSEGV.  The handler cannot run on the full stack, so each worker has
 * an alternate signal stack (sigaltstack) from its start to its end, and
 * the handler is installed with SA_ONSTACK.
 *
 *  - At a worker's start (tg__stack_guard_thread_start, from
 *    tg__worker_thread) it asks the platform file for its stack bounds
 *    (tg__thread_stack: pthread_getattr_np on Linux; unknown in the
 *    portable fallback, where nothing below happens), installs the
 *    handler for SIGSEGV and SIGBUS once per process, maps an alternate
 *    stack (unless the thread already has one: AddressSanitizer gives
 *    every thread its own, and frees whatever is installed when the thread
 *    ends, so it is left in place), and records the bounds in a
 *    thread-local record the handler reads.  At its end the record is
 *    cleared and the alternate stack freed.
 *  - The handler (on_fault) decides "this is a task's stack overflow"
 *    when the signal is a fault (si_code > 0, not sent by kill), the
 *    thread is a worker with a record, and the fault address lies in the
 *    guard region below the stack or up to TG__STACK_GUARD further down
 *    (a frame that stepped over part of it).  It then writes one message
 *    to stderr with write(2) only (no stdio, no allocation: the name, id,
 *    spawn site and nesting depth of the worker's running task, the
 *    worker's index and stack size) and calls abort().
 *  - Any other SIGSEGV or SIGBUS goes to the disposition that was there
 *    when the handler was installed: a handler function is called (with
 *    its mask); the default action or SIG_IGN is restored and the
 *    handler returns, so the faulting instruction faults again and the
 *    process ends as it would have without this file (a signal sent with
 *    kill is raised again).  A handler installed after the first worker
 *    started replaces this one, which is then never called (runner.h
 *    says so).
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "platform.h"
#include "scheduler.h"
#include "stack_guard.h"

/* Alternate signal stack per worker (plus a guard page below it): the
 * handler needs little, but a handler it chains to may need more.  Only
 * the pages touched cost memory. */
#define ALT_STACK_SIZE ((size_t)64 * 1024)

/* What the handler knows about the thread it runs on.  volatile: written
 * by the thread itself, read by its own signal handler, which may
 * interrupt it anywhere (active is set last and cleared first). */
typedef struct guard_record {
	volatile int active;
	volatile uintptr_t lo;        /* lowest usable address of the stack */
	volatile size_t guard;        /* guard bytes right below lo */
	volatile size_t stack_size;   /* what the worker was created with */
	tg__worker *volatile worker;
	void *volatile alt;           /* our alternate stack's mapping, or NULL */
	volatile size_t alt_len;
} guard_record;

/* initial-exec, as pool.c's: one fs-relative access, nothing lazy that a
 * signal handler could trip on. */
static _Thread_local guard_record record
	__attribute__((tls_model("initial-exec")));

static pthread_once_t install_once = PTHREAD_ONCE_INIT;
/* Written once, before the handler is installed; read by the handler. */
static struct sigaction prev_segv, prev_bus;
/* Set in install(), read after pthread_once (which orders it). */
static bool installed;
/* The platform's default stack size for new threads (for the message). */
static size_t default_stack;

/* ------------------------------------------------------------------ */
/* The message, built without stdio                                     */

typedef struct out {
	char buf[1024];
	size_t n;
} out;

static void
put(out *o, const char *s)
{
	/* Keeps a byte for the final newline. */
	while (*s != '\0' && o->n < sizeof(o->buf) - 1)
		o->buf[o->n++] = *s++;
}

static void
put_u64(out *o, uint64_t v)
{
	char digits[21];
	int i = (int)sizeof(digits) - 1;

	digits[i] = '\0';
	do {
		digits[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	put(o, digits + i);
}

static void
write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t k = write(fd, p, n);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return;
		p += k;
		n -= (size_t)k;
	}
}

static void
report_overflow_and_abort(void)
{
	out o; /* on the alternate stack: 1 KiB of its 64 */
	tg__worker *w = record.worker;
	tg__frame *f = NULL;

	if (w != NULL)
		/* relaxed: the thread's own store; tg__set_current's rule. */
		f = tg_atomic_load_relaxed_ptr((void **)&w->current);
	o.n = 0;
	put(&o, "taskgroup: stack overflow in ");
	if (f != NULL) {
		put(&o, "task ");
		if (f->name != NULL) {
			put(&o, "\"");
			put(&o, f->name);
			put(&o, "\" (id ");
			put_u64(&o, tg__frame_id(f));
			put(&o, ")");
		} else {
			put_u64(&o, tg__frame_id(f));
		}
		if (f->site != NULL) {
			put(&o, " spawned at ");
			put(&o, f->site->file != NULL ? f->site->file : "?");
			put(&o, ":");
			put_u64(&o, (uint64_t)(f->site->line > 0 ? f->site->line
								 : 0));
			if (f->site->func != NULL) {
				put(&o, " (");
				put(&o, f->site->func);
				put(&o, ")");
			}
		} else {
			put(&o, " (spawn site not recorded)");
		}
		put(&o, ", nested ");
		put_u64(&o, (uint64_t)f->group->depth + 1);
		put(&o, " tasks deep,");
	} else {
		put(&o, "a worker outside any task,");
	}
	put(&o, " on worker ");
	put_u64(&o, w != NULL ? (uint64_t)w->index : 0);
	put(&o, "\ntaskgroup: the worker's stack is ");
	if (record.stack_size != 0) {
		put_u64(&o, record.stack_size);
		put(&o, " bytes");
	} else {
		put(&o, "of unknown size");
	}
	put(&o, "; tg_runner_config.stack_size sets it (0 = the platform "
		"default for new threads");
	if (default_stack != 0) {
		put(&o, ", ");
		put_u64(&o, default_stack);
		put(&o, " bytes here");
	}
	put(&o, "): raise it, or nest less deeply\n");
	if (o.buf[o.n - 1] != '\n')
		o.buf[o.n++] = '\n'; /* truncated: the byte kept for it */
	write_all(STDERR_FILENO, o.buf, o.n);
	abort();
}

/* ------------------------------------------------------------------ */
/* The handler                                                          */

static bool
is_overflow(const siginfo_t *info)
{
	uintptr_t addr, lo, below;

	/* si_code <= 0: sent (kill, sigqueue, tgkill), not a fault; its
	 * si_addr means nothing. */
	if (!record.active || info->si_code <= 0)
		return false;
	addr = (uintptr_t)info->si_addr;
	lo = record.lo;
	below = record.guard + TG__STACK_GUARD;
	return addr < lo && lo - addr <= below;
}

/* The fault is not ours: what would have happened without us. */
static void
chain(int sig, siginfo_t *info, void *uctx)
{
	const struct sigaction *prev = sig == SIGBUS ? &prev_bus : &prev_segv;
	sigset_t saved;

	if (!(prev->sa_flags & SA_SIGINFO) &&
	    (prev->sa_handler == SIG_DFL || prev->sa_handler == SIG_IGN)) {
		if (prev->sa_handler == SIG_IGN && info->si_code <= 0)
			return; /* a sent signal, ignored as before */
		/* Back to the old disposition; on return the instruction
		 * faults again and gets it (the kernel does not let a fault
		 * be ignored).  A sent signal is sent again (pending until
		 * this handler returns). */
		(void)sigaction(sig, prev, NULL);
		if (info->si_code <= 0)
			(void)raise(sig);
		return;
	}
	(void)pthread_sigmask(SIG_BLOCK, &prev->sa_mask, &saved);
	if (prev->sa_flags & SA_SIGINFO)
		prev->sa_sigaction(sig, info, uctx);
	else
		prev->sa_handler(sig);
	(void)pthread_sigmask(SIG_SETMASK, &saved, NULL);
}

static void
on_fault(int sig, siginfo_t *info, void *uctx)
{
	int saved_errno = errno;

	if (is_overflow(info))
		report_overflow_and_abort();
	chain(sig, info, uctx);
	errno = saved_errno;
}

static void
install(void)
{
	struct sigaction sa;
	pthread_attr_t attr;

	if (pthread_attr_init(&attr) == 0) {
		if (pthread_attr_getstacksize(&attr, &default_stack) != 0)
			default_stack = 0;
		pthread_attr_destroy(&attr);
	}
	/* The previous dispositions first, so that a fault on another
	 * thread that reaches on_fault as soon as it is installed finds
	 * them. */
	if (sigaction(SIGSEGV, NULL, &prev_segv) != 0 ||
	    sigaction(SIGBUS, NULL, &prev_bus) != 0)
		return;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_fault;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSEGV, &sa, NULL) != 0)
		return;
	if (sigaction(SIGBUS, &sa, NULL) != 0) {
		(void)sigaction(SIGSEGV, &prev_segv, NULL);
		return;
	}
	installed = true;
}

/* An alternate signal stack for the calling thread: its own if it has
 * one already (AddressSanitizer's), else one mapped here.  false when
 * there is none. */
static bool
alt_stack_setup(void)
{
	stack_t cur, ss;
	long page = sysconf(_SC_PAGESIZE);
	long min = (long)SIGSTKSZ; /* not a constant with newer glibc */
	size_t size = ALT_STACK_SIZE;
	void *m;

	if (sigaltstack(NULL, &cur) == 0 && !(cur.ss_flags & SS_DISABLE))
		return true;
	if (page <= 0)
		page = 4096;
	if (min > 0 && (size_t)min > size)
		size = ((size_t)min + (size_t)page - 1) / (size_t)page *
		       (size_t)page;
	m = mmap(NULL, size + (size_t)page, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return false;
	/* A guard page below it: a handler that overflows the alternate
	 * stack faults there (and the process ends) instead of writing over
	 * whatever is mapped below. */
	(void)mprotect(m, (size_t)page, PROT_NONE);
	memset(&ss, 0, sizeof(ss));
	ss.ss_sp = (char *)m + page;
	ss.ss_size = size;
	ss.ss_flags = 0;
	if (sigaltstack(&ss, NULL) != 0) {
		munmap(m, size + (size_t)page);
		return false;
	}
	record.alt = m;
	record.alt_len = size + (size_t)page;
	return true;
}

void
tg__stack_guard_thread_start(tg__worker *w, const pthread_attr_t *attr)
{
	uintptr_t lo;
	size_t size, guard, stack_size = 0;

	if (!tg__thread_stack(&lo, &size, &guard))
		return; /* the portable fallback: a plain SIGSEGV */
	pthread_once(&install_once, install);
	if (!installed || !alt_stack_setup())
		return;
	if (attr == NULL || pthread_attr_getstacksize(attr, &stack_size) != 0)
		stack_size = 0;
	record.lo = lo;
	record.guard = guard;
	record.stack_size = stack_size;
	record.worker = w;
	record.active = 1; /* last: volatile accesses stay in order */
}

void
tg__stack_guard_thread_end(void)
{
	void *alt = record.alt;

	record.active = 0; /* first */
	record.worker = NULL;
	if (alt != NULL) {
		stack_t ss;

		memset(&ss, 0, sizeof(ss));
		ss.ss_flags = SS_DISABLE;
		ss.ss_size = ALT_STACK_SIZE; /* ignored; some systems check */
		/* Never unmapped while still installed. */
		if (sigaltstack(&ss, NULL) == 0)
			munmap(alt, record.alt_len);
		record.alt = NULL;
	}
}

bool
tg__stack_guard_installed(void)
{
	return installed;
}
