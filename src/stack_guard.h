/*
 * stack_guard.h - a clear message instead of a bare SIGSEGV when a task
 * overflows its worker's stack (stack_guard.c).  Internal.
 *
 * Each worker thread is created with a guard region of at least
 * TG__STACK_GUARD bytes below its stack (pool.c), and calls
 * tg__stack_guard_thread_start / _end around its loop (pool.c,
 * tg__worker_thread: the body of every worker, compensators included).
 * Where the platform file can tell a thread's stack bounds (Linux), the
 * first worker installs a SIGSEGV and SIGBUS handler for the process, and
 * every worker gets an alternate signal stack.  A fault in or just below a
 * worker's guard region then prints which task overflowed and where it was
 * spawned, and aborts; any other fault goes to the handler that was there
 * before (or the default action).  Elsewhere (the portable fallback)
 * nothing is installed and an overflow is the platform's plain SIGSEGV.
 */
#ifndef TG_STACK_GUARD_H
#define TG_STACK_GUARD_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

struct tg__worker;

/* The smallest guard region worker threads get (pool.c raises the
 * platform's one page to this).  It costs address space, not memory, and
 * a frame larger than the guard (a big local array in code built without
 * -fstack-clash-protection) can step over it: 64 KiB catches frames up to
 * that size. */
#define TG__STACK_GUARD ((size_t)64 * 1024)

/* At the start of a worker thread (w: its worker; attr: the attributes
 * it was created with, for the stack size the message reports): sets up
 * the alternate signal stack, records the thread's stack bounds, and
 * installs the process's handler once.  Does nothing where the stack
 * bounds cannot be told (the portable fallback) or memory is short. */
void tg__stack_guard_thread_start(struct tg__worker *w,
				  const pthread_attr_t *attr);
/* At the end of the same thread: forgets the bounds, frees the alternate
 * stack it set up. */
void tg__stack_guard_thread_end(void);

/* Whether the overflow handler is installed in this process (tests).
 * Call it from a task: a worker has started by then, and its start
 * (pthread_once) orders the installation before the call. */
bool tg__stack_guard_installed(void);

#endif /* TG_STACK_GUARD_H */
