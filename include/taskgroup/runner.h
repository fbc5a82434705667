/*
 * taskgroup/runner.h - the pool and its entry points (asyncio.run and
 * asyncio.Runner).
 *
 *     tg_error *err = tg_run(main_task, &args);   // asyncio.run(main())
 *
 * A runner owns a work-stealing pool: one thread per worker, each with its
 * own deque.  tg_runner_run submits fn(arg) as the root task and blocks the
 * calling thread (which is not a worker) until it and everything it spawned
 * have finished, then returns its error.  Many runs may use one runner, one
 * after the other or at the same time from different threads.
 */
#ifndef TASKGROUP_RUNNER_H
#define TASKGROUP_RUNNER_H

#include <stdbool.h>
#include <stdint.h>

#include "common.h"
#include "error.h"
#include "group.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tg_runner tg_runner;

typedef struct tg_runner_config {
	/* Worker threads; 0 = the TG_THREADS environment variable if set and
	 * not empty (1..1024), else the number of online CPUs. */
	int threads;
	/* Pin worker i to the i-th CPU of the process's affinity mask
	 * (modulo its size).  Linux only; elsewhere ignored. */
	bool pin_threads;
	/* asyncio.Runner's Ctrl-C handling, opt-in.  During tg_runner_run on
	 * the process's main thread, and only if SIGINT has its default
	 * action then: the first SIGINT cancels the run's root scope (every
	 * group of the run) and wakes parked workers; the run then returns a
	 * tg_Interrupt error with whatever had failed attached as its
	 * context.  A second SIGINT restores the default action and re-raises
	 * it (the process ends, as Python's second Ctrl-C does).  The previous
	 * action is restored when the run returns.  Elsewhere (another
	 * thread, a handler already installed, runs started from tasks, and
	 * systems other than Linux, where the library cannot tell the main
	 * thread) this flag does nothing. */
	bool handle_sigint;
	/* Stack size of each worker thread, in bytes (rounded up to whole
	 * pages); 0 = the platform's default for new threads (with glibc:
	 * the stack limit, `ulimit -s`, when the program started; 8 MiB
	 * usually).  Every task runs on a worker's stack, and a join runs
	 * other tasks on top of its own frames: size it for the deepest
	 * nesting of tasks and groups the program makes.  At least
	 * TG_STACK_SIZE_MIN.
	 *
	 * Depth: nested groups of one task per level (each opens a group,
	 * spawns the next level, joins) cost the library about 110 bytes of
	 * stack per level in an optimised x86-64 build, about 260-290 at -O0
	 * or under AddressSanitizer, plus the tasks' own frames.  On one
	 * worker (every level on one stack) 8 MiB held 74,800 levels and
	 * 1 MiB 9,300 (gcc 12 -O3; docs/design.md, "Tasks and threads").
	 * Steals can spread a chain over several workers' stacks, so more
	 * workers may get further, but nothing promises it.
	 *
	 * Overflow (Linux): each worker has a guard region of at least 64
	 * KiB below its stack (added to stack_size, not taken from it) and
	 * an alternate signal stack, and the first worker started installs
	 * a SIGSEGV and SIGBUS handler for the process.  A task that runs
	 * into the guard ends the process with abort() after one message on
	 * stderr naming the task (name, id), its spawn site, its nesting
	 * depth, the worker and its stack size.  Every other SIGSEGV or
	 * SIGBUS goes to the disposition there was before that handler: a
	 * handler the program installed first is called, the default action
	 * still ends the process by the signal.  A handler the program
	 * installs afterwards replaces the library's (no overflow message
	 * then).  Elsewhere (no way to tell a thread's stack bounds) nothing
	 * is installed and an overflow is a plain SIGSEGV. */
	size_t stack_size;
	/* Compensating workers at most (taskgroup/blocking.h): extra threads
	 * the pool may start while workers block, so that `threads` workers
	 * keep running tasks.  0 = TG_MAX_BLOCKING_DEFAULT; -1 = none (a
	 * blocked worker's share of the pool stays idle); at most
	 * TG_MAX_BLOCKING. */
	int max_blocking;
	/* The starvation detector's bound, in nanoseconds: when every worker
	 * has run the same task this long (blocked where the library cannot
	 * see it: a plain read or sleep, a spin on a condition) and work
	 * waits, the pool starts a compensating worker.  0 =
	 * TG_STARVATION_NS_DEFAULT; -1 = off.  Costs the task path nothing:
	 * one thread looks a few times per bound. */
	int64_t starvation_ns;
} tg_runner_config;

/* Default and largest tg_runner_config.max_blocking. */
#define TG_MAX_BLOCKING_DEFAULT 64
#define TG_MAX_BLOCKING 4096
/* Default starvation bound: 5 ms. */
#define TG_STARVATION_NS_DEFAULT ((int64_t)5000000)

/* Upper bound on threads (config or TG_THREADS). */
#define TG_MAX_THREADS 1024

/* Smallest tg_runner_config.stack_size accepted (other than 0). */
#define TG_STACK_SIZE_MIN ((size_t)64 * 1024)

/*
 * Creates a runner and starts its workers.  cfg may be NULL (defaults).
 * Errors: TG_EINVAL (out NULL, threads < 0 or > TG_MAX_THREADS, TG_THREADS
 * set to a non-empty value that is not a number in 1..TG_MAX_THREADS; an
 * empty TG_THREADS counts as unset; stack_size not 0 and below
 * TG_STACK_SIZE_MIN, or too large to round up to whole pages;
 * max_blocking below -1 or above TG_MAX_BLOCKING; starvation_ns below
 * -1), TG_ENOMEM,
 * TG_EAGAIN (a thread could not be created, for instance with no memory
 * for a stack of stack_size bytes; the ones started are stopped and
 * joined).
 * *out is set only on success.  Thread-safe.
 */
TG_API int tg_runner_create(tg_runner **out, const tg_runner_config *cfg);

/*
 * Runs fn(arg) as the root task on r's pool and waits for it.  Returns
 * fn's error (new reference) or NULL.  Misuse returns a RuntimeError whose
 * tg_error_code is the status and fn never runs: TG_EINVAL (r or fn NULL),
 * TG_EDEADLK (called from a task of r's own pool, which would wait for
 * itself), TG_ESTATE (r is being destroyed, or was: see
 * tg_runner_destroy).  Thread-safe: concurrent runs on one runner share
 * its workers, and a run may race the runner's destroy.
 */
TG_API tg_error *tg_runner_run_at(tg_runner *r, tg_task_fn fn, void *arg,
				  const tg_site *site);
/* tg_runner_run(r, fn, arg), recording the call site as the root task's
 * spawn site (the top of every async stack trace).  (tg_runner_run)(...)
 * calls the plain function. */
#define tg_runner_run(r, fn, arg)                                            \
	tg_runner_run_at((r), (fn), (arg), TG_SITE())
TG_API tg_error *(tg_runner_run)(tg_runner *r, tg_task_fn fn, void *arg);

/*
 * The calling task's run's leftovers group: asyncio.create_task without a
 * TaskGroup.  Every run (tg_runner_run, tg_run) calls its function inside
 * this group, opened with the collect-all policy and named
 * "tg_run_group", so a child spawned into it may outlive the task that
 * spawned it, and its failure cancels nothing.  When the run's function
 * returns (after its own open groups are joined), the children still in
 * the group are cancelled, as asyncio.run cancels the tasks still
 * pending, and waited for: a child that waits for cancellation with a
 * checkpoint, tg_sleep or a barrier ends then.  Their real errors join
 * the run's result: alone when the function returned NULL, else one
 * ExceptionGroup of the leftovers' error and the function's.
 * (CPython hands those errors to the loop's exception handler instead:
 * C has no such handler, and nothing may be lost.)
 * Only spawn into it (tg_spawn, tg_try_spawn, tg_spawn_each and their
 * named forms); the runner cancels and joins it.  Returns NULL outside
 * tasks, once the run's function has returned, or when the group could
 * not be opened (no memory: then the run goes on without it).
 * Thread-safe: from any task of the run; walks the task's ancestors (a
 * few loads per level).
 */
TG_API tg_group *tg_run_group(void);

/*
 * Stops the workers and frees the runner's pool.  Errors: TG_EINVAL (r
 * NULL), TG_EBUSY (a run is in progress; nothing is freed), TG_EDEADLK
 * (called from one of r's own tasks), TG_ESTATE (another destroy of r has
 * begun, or r was destroyed already).
 * Thread-safety: tg_runner_run and tg_runner_destroy may race a destroy
 * of the same runner: the runner's small shell is never given back to
 * the system (the next tg_runner_create reuses it), so a racing run
 * either started first (then destroy returns TG_EBUSY) or gets TG_ESTATE,
 * and never touches freed memory.  After destroy has returned, r must not
 * be used again: until a new runner is created the calls above return
 * TG_ESTATE, but after that r may be the new runner.  The other calls on
 * r (tg_runner_threads, tg_runner_stats) must not race destroy.
 */
TG_API int tg_runner_destroy(tg_runner *r);

/*
 * fork(): the child has only the thread that called fork, so a runner made
 * before the fork has no workers there: the child must not use or destroy
 * it (its memory stays, unfreed).  The child may create new runners, run
 * them and make errors: the library takes its one lock around the fork
 * (pthread_atfork), so it is never left held.  A fork from inside a task
 * leaves the child inside that task with no pool; as POSIX says for
 * multi-threaded processes, such a child should only exec or _exit.
 */

/* Worker count of r (0 for NULL).  Thread-safe while r exists. */
TG_API int tg_runner_threads(const tg_runner *r);

/* What r's pool did about blocking (taskgroup/blocking.h) and
 * cancellation, since it was created. */
typedef struct tg_runner_stats_t {
	/* Compensating worker threads started (by blocking regions, by the
	 * starvation detector, and for handed-off tasks). */
	uint64_t compensations;
	/* Tasks a join claimed but could not run (not in its group's
	 * subtree) and handed to a worker with an empty stack. */
	uint64_t handoffs;
	int threads_now; /* worker threads running now (with compensators) */
	/* Workers inside blocking regions now, and joins that have found
	 * nothing they may run for a millisecond (counted as blocked, so
	 * that work they may not take gets a compensating worker). */
	int blocked_now;
	/* Links between cancellation scopes that cancellation checks and
	 * cancellations followed (the slow paths: see docs/design.md,
	 * "Cancellation").  Bounded by a small constant per check and per
	 * scope reached, at any nesting depth: a failure climbing D nested
	 * groups costs O(D) steps in all. */
	uint64_t scope_steps;
	/* Idle workers looking for work now (not pausing after tiny steals,
	 * not a compensator about to exit): while there are some, spawns
	 * publish every child they queue at once (docs/design.md,
	 * "Blocking"). */
	int looking_now;
} tg_runner_stats_t;

/* Fills *out with a snapshot.  Errors: TG_EINVAL (r or out NULL).
 * Thread-safe while r exists. */
TG_API int tg_runner_stats(const tg_runner *r, tg_runner_stats_t *out);

/*
 * asyncio.run: creates a runner with default configuration, runs fn(arg),
 * destroys the runner, returns fn's error or NULL.  Failures to create the
 * runner come back as errors: MemoryError, or RuntimeError with code
 * TG_EAGAIN / TG_EINVAL (bad TG_THREADS) / TG_EDEADLK (called from a task:
 * open a group there instead).
 */
TG_API tg_error *tg_run_at(tg_task_fn fn, void *arg, const tg_site *site);
#define tg_run(fn, arg) tg_run_at((fn), (arg), TG_SITE())
TG_API tg_error *(tg_run)(tg_task_fn fn, void *arg);

#ifdef __cplusplus
}
#endif

#endif /* TASKGROUP_RUNNER_H */
