/*
 * scheduler.h - the scheduler's data: task frames, group cores, workers and
 * the pool, and the functions the modules share.  Internal.
 *
 * Ownership and threads, in one paragraph
 * ---------------------------------------
 * A task runs to completion on the worker that started it (no continuation
 * stealing), so everything a task owns is touched by one thread only: its
 * frame while it runs, the group cores it opens, their owner-side
 * counters.  Other threads touch a group core only through the fields
 * marked "shared" below, always through the atomic shim.  A group core is
 * alive from tg_group_init to the end of tg_group_join; every task that may
 * touch it (its children, their descendants, the owner) runs inside that
 * interval, which is what makes the plain owner-side fields safe.
 */
#ifndef TG_SCHEDULER_H
#define TG_SCHEDULER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "taskgroup/group.h"

#include "atomic.h"
#include "deque.h"
#include "park.h"
#include "timer.h"

struct tg__gcore;
struct tg__run;
struct tg__pool;

/* ------------------------------------------------------------------ */
/* Task frames                                                          */

typedef struct tg__frame {
	tg_task_fn fn;
	void *arg;
	struct tg__gcore *group; /* its group; a root's: its run's root scope
				  * (so never NULL: every task has a
				  * cancellation scope) */
	struct tg__run *run;     /* roots only: the waiting run; else NULL */
	uint64_t key;            /* spawn order within the group */
	/* Process-unique task id; 0 until first asked for (tg__frame_id),
	 * so a spawn only clears it.  Any thread that may read the frame
	 * (a descendant walking its chain) may set it. */
	TG_ATOMIC(uint64_t) id;
	const char *name;
	const tg_site *site;     /* spawn site; NULL when not recorded */
	struct tg__worker *home; /* whose cache it came from; NULL: malloc;
				  * TG__RANGE_HOME: a batch's range */
	struct tg__gcore *open;  /* innermost group it opened, not joined;
				  * NULL whenever it is not running */
	tg_error *error;         /* failed only: set by record_failure */
	struct tg__frame *next;  /* cache, injection queue, failed list */
} tg__frame;

/* ------------------------------------------------------------------ */
/* Group cores                                                          */

/* Cancellation reasons (bits of tg__gcore.cancel). */
enum {
	TG__CANCEL_FAILED = 1u << 0,   /* a child (or the body) failed */
	TG__CANCEL_EXPLICIT = 1u << 1, /* tg_group_cancel */
	TG__CANCEL_DEADLINE = 1u << 2, /* its own deadline passed (timer.c) */
	TG__CANCEL_WON = 1u << 3,      /* first-success: a child succeeded */
	TG__CANCEL_INTERRUPT = 1u << 4 /* a run's root scope: SIGINT */
};

/* Group features that need work when a child ends (tg__gcore.hooks). */
enum {
	TG__HOOK_LIMIT = 1u << 0,        /* concurrency limit: free a slot */
	TG__HOOK_FIRST_SUCCESS = 1u << 1 /* a success may win */
};

/* tg__gcore.join_flags */
#define TG__JOIN_DEADLINE 1u /* a deadline was set: take it off the timer */
#define TG__JOIN_OPTIONS 2u  /* options other than the defaults */

typedef struct tg__gcore {
	/* Owner side: set by tg_group_init on the owner's thread; read by
	 * others only while the group is open (so never changing then). */
	struct tg__worker *owner_worker;
	tg__frame *owner;
	/* owner when the owner's spawns may take tg_spawn's fast path (no
	 * concurrency limit); NULL otherwise.  One compare covers both. */
	tg__frame *spawn_owner;
	struct tg__gcore *enclosing;    /* owner's next outer open group */
	struct tg__gcore *parent_scope; /* enclosing cancellation scope */
	/* Ancestors of its children: its owner's plus one (a run's root
	 * scope: 0), so an error's spawn chain knows its length without
	 * walking it (task.c). */
	size_t depth;
	int policy;
	unsigned hooks;  /* TG__HOOK_* */
	uint32_t limit;  /* concurrency limit; 0 = none */
	bool eager;      /* every child runs at its spawn (group_spawn.c) */
	const char *name;
	/* Owner thread only: spawns made and completions seen on it. */
	uint64_t spawned_local;
	/* The owner's deque bottom when the group opened: its children are
	 * queued above it (join_core, "batches run oldest first"). */
	int64_t dq_mark;
	uint64_t done_local;
	struct tg__gcore *next_free; /* worker's cache */
	struct tg__gcore *all_next;  /* every core of the worker */
	void *raw; /* allocation base (the struct is cache-line aligned) */
	/* Deadline (timer.c): deadline, heap_pos and timer_open under the
	 * timer's lock. */
	int64_t deadline; /* TG_DEADLINE_NONE at rest */
	size_t heap_pos;  /* SIZE_MAX when not in the heap */
	/* The owner gave the group a deadline (TG_DEADLINE_NONE included),
	 * so other tasks and threads may move it; cleared when the join
	 * takes the core off the timer.  false at rest. */
	bool timer_open;
	/* Owner only (its task, on its thread; never under another
	 * caller's lock): what the join must undo to bring the core back to
	 * rest (group.c, core_alloc); 0 takes the join's fast path. */
	unsigned join_flags; /* TG__JOIN_* */
	/* First-success: the winner's arg, written once by the child that
	 * won the CAS on `won`, read by the joiner after every child is
	 * counted done. */
	void *winner_arg;

	/* Shared, read-mostly: read at every spawn and checkpoint, written
	 * only when the group is cancelled. */
	_Alignas(64) TG_ATOMIC(uint64_t) cancel; /* TG__CANCEL_* bits */
	/* Memo of "this scope or an enclosing one is cancelled", valid for
	 * one pool epoch: (epoch << 1) | cancelled.  0 = no memo. */
	TG_ATOMIC(uint64_t) memo;
	/* Shared, written by other workers as stolen children spawn, fail
	 * and finish: a line of their own, so those writes do not slow the
	 * owner's reads above. */
	_Alignas(64) TG_ATOMIC(uint64_t) spawned_remote;
	TG_ATOMIC(uint64_t) done_remote;
	TG_ATOMIC(void *) failed; /* stack of failed frames (Treiber) */
	/* Registration in the pool's scope tree (cancel.c): TG__SCOPE_*
	 * bits, written under pool->scope_lock, read without it.  On this
	 * line so that the join's fast path tests it with the remote
	 * counters, in one OR. */
	TG_ATOMIC(uint64_t) scope_state;
	/* Concurrency limit (group.c): children holding a slot (started or
	 * queued on a deque), and the pending children waiting for one, in
	 * spawn order, under pending_lock (a spin lock: a few pointer moves). */
	TG_ATOMIC(uint64_t) slots;
	TG_ATOMIC(uint64_t) pending_count;
	TG_ATOMIC(uint32_t) pending_lock;
	tg__frame *pending_head, *pending_tail;
	TG_ATOMIC(uint32_t) won;   /* first-success: 1 once a child won */
	/* The scope tree (cancel.c), under pool->scope_lock; meaningful only
	 * while scope_state says registered: the run's root scope at the top
	 * of this one's chain (read without the lock: set before the
	 * registration's release store), and the registered scopes whose
	 * parent_scope this is (a list through scope_next / scope_prev). */
	struct tg__gcore *scope_root;
	struct tg__gcore *scope_kids, *scope_next, *scope_prev;
} tg__gcore;

/* tg__gcore.scope_state */
#define TG__SCOPE_REG 1u    /* in the scope tree */
#define TG__SCOPE_PUSHED 2u /* it or an enclosing scope is cancelled (bits
			     * set by anything but a signal handler) */

/* ------------------------------------------------------------------ */
/* Workers                                                              */

typedef struct tg__worker {
	tg__deque dq;
	struct tg__pool *pool;
	int index;
	/* Running task.  Its cancellation scope is derived:
	 * tg__current_scope().  Written only by the owner, always with
	 * tg__set_current (a relaxed store: the starvation detector reads
	 * it from its own thread, blocking.c); the owner reads it plainly. */
	TG_ATOMIC(tg__frame *) current;
	/* Index of the worker that last stole from us (leapfrog hint);
	 * written by thieves. */
	TG_ATOMIC(uint32_t) last_thief;
	uint64_t rng;
	/* Stealing back-off (worker.c, "Tiny steals"), owner only:
	 * consecutive stolen tasks that ran under TG__STEAL_TINY_NS, the
	 * current pause length (0: none), and the end of the pause in
	 * progress (0: none). */
	uint32_t tiny_steals;
	int64_t steal_pause_ns;
	int64_t steal_resume_ns;
	/* Frames of ours freed by other workers (stolen tasks): a lock-free
	 * stack they push on, which we take whole when our cache is empty. */
	_Alignas(64) TG_ATOMIC(void *) returned_frames;
	/* Non-zero: the running task's next checkpoint must look (cancel.c):
	 * set by every cancellation in the pool, by a thief asking for work,
	 * and when a task resumes after running one from another scope.
	 * tg__tls_attention points here on this worker's thread. */
	TG_ATOMIC(uint32_t) attention;
	/* Caches (owner only). */
	_Alignas(64) tg__frame *free_frames;
	/* Frames whose home is this worker: made by it, kept for reuse until
	 * the pool is destroyed (running, queued, pending, cached, or on
	 * their way home).  Counted only when one is made, so the cache's
	 * push and pop carry no count. */
	uint64_t frames_owned;
	tg__gcore *free_cores;
	tg__gcore *all_cores;
	/* The innermost batch range running on this thread (batch.c); NULL
	 * when none.  Owner only. */
	struct tg__batch_run *batch;
	/* Range blocks of ended batches, for the next ones (batch.c), and
	 * how many (at most TG__RANGES_CACHED).  Owner only. */
	struct tg__range *free_ranges;
	unsigned free_ranges_n;
	/* Blocking regions (blocking.c), owner only: how many are open on
	 * this thread's running task stack. */
	unsigned blocking_depth;
	/* The starvation detector's view (its thread only): w->current at
	 * its last look, and for how many looks in a row it was the same. */
	void *seen_current;
	unsigned seen_same;
	int64_t seen_wall_ns, seen_cpu_ns; /* when it first saw that task */
	/* Compensating workers (index >= pool->nworkers), under the pool's
	 * comp_lock: the slot holds a live thread (RUNNING) or none (FREE,
	 * possibly an exited thread still to be joined: joinable). */
	unsigned slot_state;
	pthread_t thread;
	bool joinable; /* a thread was created and not joined yet */
	void *raw; /* allocation base (the struct is cache-line aligned) */
} tg__worker;

/* The running task of w becomes f (owner only).  relaxed: the starvation
 * detector only compares successive values (blocking.c); the owner's own
 * plain reads see its own stores. */
static inline void
tg__set_current(tg__worker *w, tg__frame *f)
{
	tg_atomic_store_relaxed_ptr((void **)&w->current, f);
}

/* Tasks a worker's deque queues at most (pool.c sets it): a spawn that
 * finds the queue full makes room or runs its child (group.c,
 * spawn_overflow), so huge flat batches reserve nothing per task. */
#define TG__QUEUE_MAX 8192
/* Frames a worker makes for its cache at most; frames made beyond it
 * have no home and go back to malloc when their task ends.  Room for a
 * full queue and as many more running, nested or pending, so a steady flat
 * batch recycles its frames, and memory after a burst (a limited group's
 * long pending list) goes back. */
#define TG__FRAMES_OWNED_MAX (2 * TG__QUEUE_MAX)

/* Slow paths: kept out of line so the fast paths around them stay small
 * (fewer saved registers). */
#define TG__COLD __attribute__((noinline, cold))
/* The fast paths of init, spawn and join start on a cache line of their
 * own, so that where the linker happens to put them (which moves with
 * every change elsewhere) does not move their timing. */
#define TG__HOT_ALIGN __attribute__((aligned(64)))

/* Slow paths of the inline helpers below (worker.c). */
TG__COLD tg__frame *tg__frame_alloc_slow(tg__worker *w);
TG__COLD void tg__frame_free_slow(tg__frame *f);

static inline tg__frame *
tg__frame_alloc(tg__worker *w)
{
	tg__frame *f = w->free_frames;

	if (f == NULL)
		return tg__frame_alloc_slow(w);
	w->free_frames = f->next;
	return f; /* f->home == w: set when it was first allocated */
}

static inline void
tg__frame_free(tg__worker *w, tg__frame *f)
{
	/* A frame of ours goes back to the cache: frames made past
	 * TG__FRAMES_OWNED_MAX have no home (tg__frame_alloc_slow), so the
	 * cache never outgrows the cap and this path needs no count. */
	if (f->home != w) {
		tg__frame_free_slow(f);
		return;
	}
	f->next = w->free_frames;
	w->free_frames = f;
}

/* worker.c: f's task id, given it now if it has none (the first reader
 * of a task's id gives it one, so spawns need not).  Any thread that may
 * read f. */
uint64_t tg__frame_id(tg__frame *f);

/* ------------------------------------------------------------------ */
/* Pool                                                                 */

typedef struct tg__pool {
	/* The pool's parallelism: workers 0 .. nworkers - 1 live as long as
	 * the pool.  Compensating workers (blocking.c) take slots nworkers ..
	 * nslots - 1, made on first use; nused says how many slots exist
	 * (release when one is added, so a reader of nused sees the slot's
	 * worker): whoever scans workers scans [0, nused). */
	int nworkers;
	int nslots;
	tg__worker **workers;
	TG_ATOMIC(uint32_t) nused;
	/* Bumped (after the cancel bits are set) whenever a group of the pool
	 * is cancelled; checkpoints compare it with their cache. */
	_Alignas(64) TG_ATOMIC(uint64_t) cancel_epoch;
	_Alignas(64) tg__park park;
	_Alignas(64) TG_ATOMIC(uint32_t) stop;
	tg__timer timer; /* deadlines (timer.c) */
	/* Root tasks from threads that are not workers. */
	pthread_mutex_t inject_lock;
	tg__frame *inject_head, *inject_tail; /* under inject_lock */
	TG_ATOMIC(uint64_t) inject_count;     /* hint for lock-free checks */
	/* Blocking (blocking.c).  active: worker threads running (not
	 * retired); blocked: workers inside a blocking region; idle: workers
	 * in the top-level idle loop (a task handed off finds a taker). */
	_Alignas(64) TG_ATOMIC(uint32_t) active;
	TG_ATOMIC(uint32_t) blocked;
	TG_ATOMIC(uint32_t) idle;
	/* hungry: the idle workers that look for work (not pausing after
	 * tiny steals, not a surplus compensator lingering); while there
	 * are some, spawns publish what they queue (tg__feed_hungry). */
	TG_ATOMIC(uint32_t) hungry;
	/* Counters for tests and benchmarks (relaxed, slow paths only):
	 * compensating threads started, and frames a join claimed but could
	 * not run (not in its group's subtree) and handed off. */
	TG_ATOMIC(uint64_t) stat_compensations;
	TG_ATOMIC(uint64_t) stat_handoffs;
	/* The scope tree (cancel.c): registering scopes, pushing
	 * cancellations down, unlinking closed scopes.  A leaf lock: nothing
	 * else is taken while it is held. */
	_Alignas(64) pthread_mutex_t scope_lock;
	/* Scope links followed by cancellation checks and pushes (relaxed,
	 * slow paths only): tg_runner_stats' scope_steps. */
	TG_ATOMIC(uint64_t) stat_scope_steps;
	pthread_mutex_t comp_lock; /* starting and retiring compensators */
	pthread_attr_t attr;       /* for every worker thread */
	int64_t linger_ns;         /* a surplus compensator parks this long */
	int64_t starvation_ns;     /* the detector's bound; 0: off */
	/* Waiters that a cancellation must wake (wait.h), and how many. */
	pthread_mutex_t waiters_lock;
	struct tg__cancel_waiter *waiters;
	TG_ATOMIC(uint32_t) nwaiters;
	/* The starvation detector's thread (blocking.c). */
	pthread_t monitor;
	bool monitor_started;
	pthread_mutex_t monitor_lock;
	pthread_cond_t monitor_cond; /* signalled at destroy */
	bool monitor_stop;           /* under monitor_lock */
	void *raw; /* allocation base (the struct is cache-line aligned) */
} tg__pool;

/* The worker the calling thread is, or NULL.  initial-exec: the library
 * is loaded at start-up, so its TLS sits in the static block and this is
 * one fs-relative load (pool.c defines it). */
extern _Thread_local tg__worker *tg__tls_self
	__attribute__((tls_model("initial-exec")));

static inline tg__worker *
tg__self(void)
{
	return tg__tls_self;
}

/* A worker at rest that no thread is: no running task, no cached frame or
 * core, no room on its deque, its attention word set.  Every fast path
 * that reads it takes its slow path, which then finds tg__self() NULL.
 * Never written (it is const: a write would fault). */
extern const tg__worker tg__no_worker;
/* The worker the calling thread is, or tg__no_worker on threads that are
 * not workers: the fast paths of init, spawn and join read this, so they
 * need no NULL check (pool.c defines it; initial-exec as tg__tls_self). */
extern _Thread_local tg__worker *tg__tls_fast
	__attribute__((tls_model("initial-exec")));

static inline tg__worker *
tg__self_or_none(void)
{
	return tg__tls_fast;
}

/* How many worker slots exist now ([0, n) of pool->workers).  acquire:
 * pairs with the release store that added the last one (blocking.c), so
 * its worker is visible. */
static inline int
tg__pool_nused(tg__pool *pool)
{
	return (int)tg_atomic_load_acquire_u32(&pool->nused);
}

/* pool.c */
typedef struct tg__pool_config {
	int nworkers;
	bool pin;
	size_t stack_size;    /* of each worker thread; 0: the default */
	int max_blocking;     /* compensating workers at most */
	int64_t starvation_ns; /* the detector's bound; 0: off */
} tg__pool_config;
/* TG_EINVAL when the stack size cannot be rounded up to whole pages or
 * the platform refuses it. */
int tg__pool_create(tg__pool **out, const tg__pool_config *cfg);
/* A new worker struct for slot index (not started), or NULL. */
tg__worker *tg__worker_new(tg__pool *pool, int index);
/* pool.c: the thread body of every worker. */
void *tg__worker_thread(void *arg);
void tg__pool_destroy(tg__pool *pool);
void tg__pool_inject(tg__pool *pool, tg__frame *f);

/* worker.c */
/* A thief asked w for work: share half of w's private queue and wake
 * parked workers to take it. */
TG__COLD void tg__share_work(tg__worker *w);
/* Are workers looking for work (pool->hungry)?  A hint: one relaxed load
 * of a line written only when a worker starts or stops looking. */
static inline bool
tg__pool_hungry(tg__pool *pool)
{
	/* relaxed: a hint; a miss costs parallelism for one spawn. */
	return tg_atomic_load_relaxed_u32(&pool->hungry) != 0;
}
/* Workers look for work: w publishes its whole queue, wakes sleepers, and
 * sets its own attention word, so that its next spawn takes the slow
 * path, which publishes that child too (design.md "Blocking", "Work
 * reaches idle workers").  Owner only; spawn's slow path. */
TG__COLD void tg__feed_hungry(tg__worker *w);
/* The body of a worker thread: find work, run it, park; until stop. */
void tg__worker_loop(tg__worker *w);
/* Runs f, or skips it (counted as cancelled, never run) when its group's
 * scope is cancelled. */
void tg__run_frame(tg__worker *w, tg__frame *f);
/* Finds runnable work for w: its own deque, then thieving (the leapfrog
 * hint first, and not while w pauses after tiny steals); NULL if none.
 * Joiners pass take_roots = false.  *stolen says whether the frame came
 * from another worker's deque.  Run what it returns with tg__run_found. */
tg__frame *tg__find_work(tg__worker *w, bool take_roots, bool *stolen);
/* tg__find_work for the join of gc by w's running task (isolation,
 * design.md "Blocking"): w's own queue above gc's mark, then stealing
 * along the leapfrog chain (whoever last stole from us, from them, ...;
 * TG__LEAPFROG_HOPS at most), never random victims and never roots.  The
 * caller runs what it returns only when it is in gc's subtree
 * (tg__in_subtree) and hands it off otherwise. */
tg__frame *tg__find_work_for_join(tg__worker *w, const tg__gcore *gc,
				  bool *stolen);
#define TG__LEAPFROG_HOPS 4
/* Runs a frame tg__find_work returned (tg__run_frame, timing it when it
 * was stolen: see "Tiny steals" in worker.c). */
void tg__run_found(tg__worker *w, tg__frame *f, bool stolen);
/* Thieves pause after this many consecutive stolen tasks shorter than
 * TG__STEAL_TINY_NS each, for TG__STEAL_PAUSE_MIN_NS, doubling at each
 * further tiny steal up to TG__STEAL_PAUSE_MAX_NS. */
#define TG__STEAL_TINY_NS 1000
#define TG__STEAL_TINY_STREAK 16
#define TG__STEAL_PAUSE_MIN_NS 20000
#define TG__STEAL_PAUSE_MAX_NS 1000000
/* Accounts for a stolen task that ran for ran_ns, at time now (a tg_now_ns
 * reading): ends, starts or lengthens w's pause.  Owner only. */
void tg__steal_account(tg__worker *w, int64_t ran_ns, int64_t now);
/* True if any deque or the injection queue holds work (park re-check). */
bool tg__pool_has_work(tg__pool *pool, bool roots);
/* A compensating worker with nothing to run while the pool has more
 * workers outside blocking regions than its parallelism parks this long
 * before it exits (blocking.c): the next blocking call nearby finds it. */
#define TG__LINGER_NS 50000000
/* Spin budget before parking, in polls. */
#define TG__SPIN_POLLS 2048
/* One idle step of a worker that found nothing to run: a spin poll, or,
 * once the budget is spent, a park until woken.  keep_waiting(arg) is
 * re-checked after the park is announced (park.h); roots says whether
 * injected roots count as work for this worker. */
void tg__idle(tg__worker *w, unsigned *polls, bool roots,
	      bool (*keep_waiting)(void *), void *arg);

/* group.c: a zeroed, cache-line aligned core in its at-rest state (no
 * deadline, off the timer); NULL when out of memory.  Free with
 * tg__free(gc->raw). */
tg__gcore *tg__gcore_new(void);

/* group_limit.c: takes one of gc's concurrency slots if one is free;
 * false when the group is at its limit. */
bool tg__limit_slot_take(tg__gcore *gc);
/* group_limit.c: f waits for a slot of gc on its pending list (queued on
 * w as soon as one is free, maybe at once). */
void tg__limit_pending_push(tg__worker *w, tg__gcore *gc, tg__frame *f);
/* group_collect.c: the join's error for gc's failed frames (any order;
 * each holds its error, and goes back to w's cache) and the body's error
 * (may be NULL), consuming both.  Never NULL when either is non-NULL. */
tg_error *tg__collect(tg__worker *w, tg__frame *failed, tg_error *body_err);
/* group_collect.c: a first-success group with a winner keeps only its
 * fatal failures: the others are released; returns what is left. */
tg__frame *tg__drop_nonfatal(tg__worker *w, tg__frame *failed);

/* group.c: a child of a limited group ended: its slot goes to the next
 * pending child (queued on w) or back to the group. */
void tg__limit_release(tg__worker *w, tg__gcore *gc);

/* group.c: joins the groups a task left open when it returned. */
tg_error *tg__join_abandoned(tg__worker *w, tg__frame *f, tg_error *err);
/* group.c: the same for the groups f opened inside stop (an open group of
 * f's), which stays open (runner.c: the run's leftovers group). */
tg_error *tg__join_abandoned_inside(tg__worker *w, tg__frame *f,
				    tg_error *err, const tg__gcore *stop);

/* group.c, for tg_spawn_each (batch.c).  The core of g if it is an open
 * handle; else NULL with *status TG_EINVAL or TG_EFINISHED. */
tg__gcore *tg__group_core(tg_group *g, int *status);
/* n consecutive spawn keys of gc for a spawn by w's running task (the
 * owner's keys, or remote ones after them); counts n spawns. */
uint64_t tg__group_keys(tg__worker *w, tg__gcore *gc, uint64_t n);
/* Like tg__group_keys, for a batch of n children that runs as one frame:
 * n keys and spawns, and n - 1 completions counted at once. */
uint64_t tg__group_batch_keys(tg__worker *w, tg__gcore *gc, uint64_t n);
/* Counts one more frame of gc, spawned by a task running on w that belongs
 * to gc (a batch's range splitting off a half). */
void tg__group_count_frame(tg__worker *w, tg__gcore *gc);
/* Queues f on w's deque: shares if a thief asked; when the queue is full,
 * runs the oldest tasks first (or f itself). */
void tg__launch(tg__worker *w, tg__frame *f);
/* tg_spawn_each for a group with hooks (a limit, first-success): a frame
 * per child, all allocated first.  TG_OK or TG_ENOMEM (nothing spawned). */
int tg__spawn_each_framewise(tg__worker *w, tg__gcore *gc, tg_task_fn fn,
			     void *args, size_t count, size_t stride,
			     const char *name, const tg_site *site);

/* worker.c: puts the failed child f (its error err, taken over) on its
 * group's failed list and cancels the group as its policy says
 * (tg__failure_cancel). */
void tg__record_failure(tg__pool *pool, tg__gcore *gc, tg__frame *f,
			tg_error *err);
/* worker.c: the cancellation a failure causes: fail-fast groups, and any
 * group for a fatal error. */
void tg__failure_cancel(tg__pool *pool, tg__gcore *gc, const tg_error *err);
/* batch.c: w answers a thief with nothing private to share: the running
 * range of a batch (w->batch, not NULL) gives the upper half of the
 * children it has not started to a new range on w's deque (unless too few
 * are left, or memory is out). */
void tg__batch_split(tg__worker *w);
/* batch.c: w is about to block (blocking.c): every range running on its
 * stack gives all the children it has not started to new ranges on w's
 * deque (as far as memory allows). */
void tg__batch_give_all(tg__worker *w);

/* batch.c: the home of every range's frame (a marker, never a worker):
 * tg__frame_free_slow gives such a frame to tg__batch_range_free. */
extern char tg__range_home;
#define TG__RANGE_HOME ((struct tg__worker *)(void *)&tg__range_home)
/* Range blocks a worker keeps for reuse at most. */
#define TG__RANGES_CACHED 64
/* batch.c: a range's frame ended: its block goes to the calling worker's
 * cache (to malloc when full, or off a worker's thread). */
void tg__batch_range_free(tg__frame *f);
/* batch.c: frees w's cached range blocks (pool destroy). */
void tg__batch_cache_free(tg__worker *w);

/* The arg of child i of a batch (tg_spawn_each): args + i * stride, in
 * integer arithmetic so that args NULL with stride 0 stays defined. */
static inline void *
tg__batch_arg(void *args, size_t stride, uint64_t i)
{
	return (void *)((uintptr_t)args + (uintptr_t)(i * stride));
}

/* cancel.c: the slow path of tg__scope_cancelled (memo stale). */
TG__COLD bool tg__scope_cancelled_slow(tg__pool *pool, tg__gcore *gc,
				       uint64_t epoch);

/* This thread has seen a cancellation (through the epoch, before the
 * canceller's store to its attention word landed): its next checkpoint
 * must look, so that no later checkpoint says "not cancelled" (cancel.c).
 * Harmless when the scope seen is not the running task's. */
static inline void
tg__note_cancelled(void)
{
	tg__worker *w = tg__self();

	/* relaxed: only this thread's own later loads depend on it. */
	if (w != NULL)
		tg_atomic_store_relaxed_u32(&w->attention, 1);
}

/* Is gc, or a scope enclosing it, cancelled?  O(1) unless a group of the
 * pool was cancelled since gc's memo was written (cancel.c explains). */
static inline bool
tg__scope_cancelled(tg__pool *pool, tg__gcore *gc)
{
	/* acquire: pairs with the epoch RMW in tg__scope_cancel, so the
	 * cancel bits written before it are visible to the slow path. */
	uint64_t epoch = tg_atomic_load_acquire_u64(&pool->cancel_epoch);
	/* relaxed: the memo carries its own epoch (cancel.c). */
	uint64_t memo = tg_atomic_load_relaxed_u64(&gc->memo);

	if (memo >> 1 == epoch) {
		if (__builtin_expect(memo & 1, 0))
			tg__note_cancelled();
		return memo & 1;
	}
	return tg__scope_cancelled_slow(pool, gc, epoch);
}
/* True when gc's memo is fresh and says "not cancelled": the answer the
 * fast paths take without a call (on false they ask tg__scope_cancelled
 * or take their slow path).  acquire / relaxed: as in
 * tg__scope_cancelled. */
static inline bool
tg__scope_surely_live(tg__pool *pool, tg__gcore *gc)
{
	uint64_t epoch = tg_atomic_load_acquire_u64(&pool->cancel_epoch);

	return tg_atomic_load_relaxed_u64(&gc->memo) == epoch << 1;
}
/* Cancels gc for reason: its bits, the push down the scope tree (under
 * pool->scope_lock), the epoch, every worker's attention word, and a
 * broadcast to the waiters of wait.h (which takes locks).  Not from a
 * signal handler. */
void tg__scope_cancel(tg__pool *pool, tg__gcore *gc, uint64_t reason);
/* The same for a run's root scope (parent_scope NULL) from a signal
 * handler: no lock, no push (every registered scope reads its root's bits
 * itself), no waiters' broadcast (the starvation detector's thread
 * broadcasts when it sees the epoch move, blocking.c). */
void tg__scope_cancel_signal_safe(tg__pool *pool, tg__gcore *gc,
				  uint64_t reason);
/* cancel.c: a new root scope goes into the scope tree (its top).  Before
 * the scope is published. */
void tg__scope_root_init(tg__gcore *gc);
/* cancel.c: gc, registered, leaves the scope tree (its join, after every
 * task in it has ended).  Owner only. */
TG__COLD void tg__scope_close_slow(tg__pool *pool, tg__gcore *gc);
/* gc is being closed by its owner (every task in it has ended, so no
 * registration can race this read): out of the scope tree if in it.
 * relaxed: every registrant ran in gc's subtree, and its end happens
 * before the join that calls this. */
static inline void
tg__scope_close(tg__pool *pool, tg__gcore *gc)
{
	if (__builtin_expect(tg_atomic_load_relaxed_u64(&gc->scope_state) != 0,
			     0))
		tg__scope_close_slow(pool, gc);
}

/* Is w's attention word set?  While it is clear, no thief has asked w for
 * work since w last answered, and the scope of w's running task is not
 * cancelled as far as w has seen: every cancellation in the pool sets the
 * word (tg__scope_cancel), so do thieves asking for work (tg__find_work),
 * a look that finds the scope cancelled (tg__note_cancelled) and a task
 * that resumes in another scope (tg__run_body); only tg__attend clears it,
 * after which it looks at the scope.  So a clear word answers "cancelled?"
 * for the running task's scope and every scope enclosing it, as the
 * inline checkpoint (taskgroup/cancel.h) relies on.  A cancellation that
 * another thread is making at this moment may not be seen yet: the
 * caller's step then counts as made before it, and the child it starts
 * or queues is checked again before it runs.  relaxed: a hint; tg__attend
 * re-reads with the orders it needs. */
static inline bool
tg__attention(tg__worker *w)
{
	return tg_atomic_load_relaxed_u32(&w->attention) != 0;
}
/* cancel.c: answers w's attention word (w may be NULL: then false): clears
 * it, shares work with a thief that asked, and returns whether the running
 * task's scope is cancelled (which sets the word again).  false, with the
 * word untouched, when w runs no task.  What tg_cancelled does. */
TG__COLD bool tg__attend(tg__worker *w);
/* The cancellation scope of the code w is running: the innermost group
 * its task has open, else the group the task belongs to (a root's: its
 * run's root scope); NULL only when w runs no task. */
static inline tg__gcore *
tg__current_scope(const tg__worker *w)
{
	const tg__frame *f = w->current;

	if (f == NULL)
		return NULL;
	return f->open != NULL ? f->open : f->group;
}

/* worker.c: the end of a task (or of a child skipped as cancelled) in
 * the cases that need more than a local count: a root, a failure, a group
 * with hooks, or a completion on a worker other than the group owner's.
 * ran: the body ran (false: skipped as cancelled). */
void tg__finish_frame(tg__worker *w, tg__frame *f, tg_error *err, bool ran);

/* Runs f, whose scope was just found not cancelled (tg__run_frame, and
 * inline in the join loop).  in_join: the caller is the join of f's group
 * by its owner, so the resumed task's scope is f's group (see below) and
 * the group's owner worker is w.  f->open is NULL (frames are at rest
 * with no open group: new ones are made so, and a task's groups are all
 * joined before it ends).  gc is f->group (passed: the join's loop has
 * it in a register already).  no_hooks: the caller knows gc has no
 * hooks. */
static inline __attribute__((always_inline)) void
tg__run_body(tg__worker *w, tg__frame *f, tg__gcore *gc, bool in_join,
	     bool no_hooks)
{
	tg__frame *saved;
	tg_error *err;

	if (!in_join)
		saved = w->current;
	tg__set_current(w, f);
	err = f->fn(f->arg);
	if (__builtin_expect(f->open != NULL, 0))
		err = tg__join_abandoned(w, f, err);
	/* In a join the task to resume is gc's owner (every join checks
	 * that it runs it): read back, so that nothing is kept across the
	 * call. */
	tg__set_current(w, in_join ? gc->owner : saved);
	/* A checkpoint of f may have cleared the attention word after
	 * finding f's scope not cancelled.  That verdict holds for the
	 * resumed task only if its scope is f's group (or encloses it, which
	 * a not-cancelled gc implies); otherwise make its next checkpoint
	 * look (relaxed: only this thread's own later loads depend on it). */
	if (!in_join && saved != NULL &&
	    gc != (saved->open != NULL ? saved->open : saved->group))
		tg_atomic_store_relaxed_u32(&w->attention, 1);
	if (__builtin_expect(err == NULL &&
				     (in_join || gc->owner_worker == w) &&
				     (no_hooks || gc->hooks == 0),
			     1)) {
		/* The common case: a success counted on the owner's thread. */
		gc->done_local++;
		tg__frame_free(w, f);
		return;
	}
	tg__finish_frame(w, f, err, true);
}

/* blocking.c */
/* Starts the starvation detector (pool create); TG_OK or TG_EAGAIN. */
int tg__monitor_start(tg__pool *pool);
/* Stops and joins it (pool destroy, before the workers stop). */
void tg__monitor_stop(tg__pool *pool);
/* If fewer than nworkers workers are outside blocking regions (or
 * always: force) and the pool holds work a new worker could take, starts
 * a compensating worker, within the bound.  Whether one started.  Any
 * thread. */
bool tg__compensate(tg__pool *pool, bool force);
/* A compensating worker w found nothing to run: true when it should
 * exit now (a surplus that lingered long enough; it has been counted out
 * and its slot freed).  *idle_since: when it became a surplus (0: not
 * one), kept by the caller between calls. */
bool tg__compensator_retire(tg__worker *w, int64_t *idle_since);
/* Wakes every registered cancel waiter (wait.h) after a cancellation. */
void tg__cancel_waiters_wake(tg__pool *pool);
/* w's queued work goes to the pool (its private items become public;
 * running batches give what they have not started: all of it when w is
 * about to block, else half of the innermost), and parked workers are
 * woken.  Owner only. */
void tg__publish(tg__worker *w, bool blocking);
/* A join found f, not in the subtree of the group it waits for, where
 * it may not run it: f goes to the injection queue for a worker with an
 * empty stack, when one is idle or a compensator could be started for
 * it.  false when neither (no thread, no memory, the bound): the caller
 * then runs f itself, as the only way left to run it. */
bool tg__handoff(tg__worker *w, tg__frame *f);
/* Is f inside the subtree of gc (its group is gc or a scope gc
 * encloses)?  f is claimed (queued, not run): its chain is alive. */
bool tg__in_subtree(const tg__frame *f, const tg__gcore *gc);
/* A join that has found nothing it may run for TG__JOIN_STALL_NS holds a
 * worker that runs nothing: it counts as blocked (as a blocking region
 * does) until it finds work or its children are done, so that work it may
 * not take (outside its subtree: barrier parties queued on a blocked
 * worker, handed-off roots) gets a compensating worker (design.md,
 * "Blocking").  Owner-only state, kept by the join between calls. */
typedef struct tg__join_stall {
	int64_t since; /* tg_now_ns of the first empty poll budget; 0: none */
	bool counted;  /* counted in pool->blocked */
} tg__join_stall;
#define TG__JOIN_STALL_NS 1000000
/* The join's poll budget ran out with nothing found (before it parks). */
void tg__join_stalled(tg__worker *w, tg__join_stall *st);
/* The join found work or is done: no longer stalled. */
void tg__join_unstall(tg__worker *w, tg__join_stall *st);

/* runner.c: a root task finished. */
void tg__run_complete(struct tg__run *run, tg_error *err);

#endif /* TG_SCHEDULER_H */
