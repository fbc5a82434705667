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

struct tg__gcore;
struct tg__run;
struct tg__pool;

/* ------------------------------------------------------------------ */
/* Task frames                                                          */

typedef struct tg__frame {
	tg_task_fn fn;
	void *arg;
	struct tg__gcore *group; /* the group it belongs to; NULL for roots */
	struct tg__run *run;     /* roots: the waiting run; else NULL */
	uint64_t key;            /* spawn order within the group */
	uint64_t id;
	const char *name;
	const char *file;        /* spawn site */
	const char *func;
	int line;
	int worker;              /* set when it starts */
	struct tg__gcore *open;  /* innermost group it opened, not joined */
	tg_error *error;         /* failed: kept on the group's list */
	struct tg__frame *next;  /* cache, injection queue, failed list */
} tg__frame;

/* ------------------------------------------------------------------ */
/* Group cores                                                          */

/* Cancellation reasons (bits of tg__gcore.cancel). */
enum {
	TG__CANCEL_FAILED = 1u << 0,   /* a child (or the body) failed */
	TG__CANCEL_EXPLICIT = 1u << 1, /* tg_group_cancel */
};

typedef struct tg__gcore {
	/* Owner side: set by tg_group_init on the owner's thread; read by
	 * others only while the group is open (so never changing then). */
	struct tg__worker *owner_worker;
	tg__frame *owner;
	struct tg__gcore *enclosing;    /* owner's next outer open group */
	struct tg__gcore *parent_scope; /* enclosing cancellation scope */
	int policy;
	const char *name;
	/* Owner thread only: spawns made and completions seen on it. */
	uint64_t spawned_local;
	uint64_t done_local;
	struct tg__gcore *next_free; /* worker's cache */
	struct tg__gcore *all_next;  /* every core of the worker */

	/* Shared. */
	_Alignas(64) TG_ATOMIC(uint64_t) spawned_remote;
	TG_ATOMIC(uint64_t) done_remote;
	TG_ATOMIC(uint64_t) cancel; /* TG__CANCEL_* bits */
	/* Memo of "this scope or an enclosing one is cancelled", valid for
	 * one pool epoch: (epoch << 1) | cancelled.  0 = no memo. */
	TG_ATOMIC(uint64_t) memo;
	TG_ATOMIC(void *) failed; /* stack of failed frames (Treiber) */
} tg__gcore;

/* ------------------------------------------------------------------ */
/* Workers                                                              */

typedef struct tg__worker {
	tg__deque dq;
	struct tg__pool *pool;
	int index;
	/* Running task and its cancellation scope (innermost open group of
	 * that task, else its own group).  Owner only. */
	tg__frame *current;
	struct tg__gcore *scope;
	/* tg_cancelled's cache: the answer for scope at pool epoch seen_epoch
	 * (TG__EPOCH_NONE = recompute). */
	uint64_t seen_epoch;
	bool seen_cancelled;
	/* Index of the worker that last stole from us (leapfrog hint);
	 * written by thieves. */
	TG_ATOMIC(uint32_t) last_thief;
	uint64_t rng;
	/* Task ids: [next_id, id_limit) reserved from the global counter. */
	uint64_t next_id, id_limit;
	/* Caches (owner only). */
	tg__frame *free_frames;
	uint32_t free_frame_count;
	tg__gcore *free_cores;
	tg__gcore *all_cores;
	pthread_t thread;
	bool started;
	void *raw; /* allocation base (the struct is cache-line aligned) */
} tg__worker;

#define TG__EPOCH_NONE UINT64_MAX

/* ------------------------------------------------------------------ */
/* Pool                                                                 */

typedef struct tg__pool {
	int nworkers;
	tg__worker **workers;
	/* Bumped (after the cancel bits are set) whenever a group of the pool
	 * is cancelled; checkpoints compare it with their cache. */
	_Alignas(64) TG_ATOMIC(uint64_t) cancel_epoch;
	_Alignas(64) tg__park park;
	_Alignas(64) TG_ATOMIC(uint32_t) stop;
	/* Root tasks from threads that are not workers. */
	pthread_mutex_t inject_lock;
	tg__frame *inject_head, *inject_tail; /* under inject_lock */
	TG_ATOMIC(uint64_t) inject_count;     /* hint for lock-free checks */
} tg__pool;

/* The worker the calling thread is, or NULL. */
tg__worker *tg__self(void);

/* pool.c */
int tg__pool_create(tg__pool **out, int nworkers, bool pin);
void tg__pool_destroy(tg__pool *pool);
void tg__pool_inject(tg__pool *pool, tg__frame *f);

/* worker.c */
/* The body of a worker thread: find work, run it, park; until stop. */
void tg__worker_loop(tg__worker *w);
void tg__run_frame(tg__worker *w, tg__frame *f);
/* Finds runnable work for w: its own deque, then thieving (the leapfrog
 * hint first); NULL if none.  Joiners pass take_roots = false. */
tg__frame *tg__find_work(tg__worker *w, bool take_roots);
/* True if any deque or the injection queue holds work (park re-check). */
bool tg__pool_has_work(tg__pool *pool, bool roots);
tg__frame *tg__frame_alloc(tg__worker *w);
void tg__frame_free(tg__worker *w, tg__frame *f);
uint64_t tg__next_task_id(tg__worker *w);
/* A task id for a root submitted from outside the pool. */
uint64_t tg__next_root_id(void);
/* Spin budget before parking, in polls. */
#define TG__SPIN_POLLS 2048

/* group.c: joins the groups a task left open when it returned. */
tg_error *tg__join_abandoned(tg__worker *w, tg__frame *f, tg_error *err);

/* cancel.c */
bool tg__scope_cancelled(tg__pool *pool, tg__gcore *gc);
void tg__scope_cancel(tg__pool *pool, tg__gcore *gc, uint64_t reason);
static inline void
tg__scope_enter(tg__worker *w, tg__gcore *scope)
{
	w->scope = scope;
	w->seen_epoch = TG__EPOCH_NONE;
}

/* runner.c: a root task finished. */
void tg__run_complete(struct tg__run *run, tg_error *err);

#endif /* TG_SCHEDULER_H */
