/*
 * tg-stress.h - what the parts of tg-stress share: the configuration,
 * the tree's nodes, the random streams, and the functions each part
 * gives the others.  tg-stress.c has the overview; docs/tg-stress.md the
 * invariants.
 *
 *   tg-stress.c          options, pools, the loop over trees, the summary
 *   tg-stress-task.c     the task: spawns, groups, deadlines, blocking
 *   tg-stress-barrier.c  barrier parties and their oracle
 *   tg-stress-check.c    the oracle: after each join, after each tree
 *   tg-stress-rss.c      resident-set samples (--rss)
 */
#ifndef TG_STRESS_H
#define TG_STRESS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include <taskgroup.h>

#define MAX_POOLS 16
#define POOL_BLOCK 8 /* consecutive trees per pool, then the next pool */
#define TAG_PREFIX "tg-stress task "
#define SEQ_REMOTE UINT32_MAX
#define NS_PER_S INT64_C(1000000000)
#define PPM 1000000u
/* Barrier groups per tree at most, so that the parties waiting at once
 * stay well below the pool's compensating workers (max_blocking 64):
 * 8 x 5 parties. */
#define BARRIERS_PER_TREE 8
#define BARRIER_PARTIES_MAX 5
#define BARRIER_ROUNDS_MAX 3
/* A child of a wide group fails with this probability (ppm). */
#define WIDE_FAIL_PPM 500000u

/* Task names (tg_spawn_named, tg_spawn_each_named). */
extern const char NAME_ONE[];
extern const char NAME_BATCH[];

/* ------------------------------------------------------------------ */
/* Configuration                                                        */

struct config {
	uint64_t seed;
	int threads[MAX_POOLS];
	int npools;
	uint64_t trees;      /* 0: until the duration ends */
	int64_t duration_ns; /* 0: none */
	int64_t only_tree;   /* --tree: run this index only; -1: all */
	uint32_t depth;
	uint32_t fail_ppm;  /* per task */
	uint32_t fatal_ppm; /* per task, on top of fail_ppm */
	uint32_t max_children;
	uint32_t max_tasks;
	uint32_t wide_ppm;      /* per group: a wide group */
	uint32_t wide_children; /* a wide group's children, at most */
	uint32_t barrier_ppm;   /* per group: barrier parties among the children */
	uint32_t pool_trees;    /* a pool is made afresh after this many trees */
	int64_t stall_ns;       /* a barrier wait this long without progress */
	bool stall_fails;       /* ... is a violation (default), not only
				 * counted (--stall-warn) */
	int64_t tree_timeout_ns;
	bool rss;
	int64_t rss_interval_ns;
	int64_t rss_warmup_ns;
	double max_rss_growth; /* percent; < 0: not checked */
	bool rss_trim; /* malloc_trim(0) before each sample */
	bool quiet;
	uint64_t stack_size; /* workers' stacks, bytes; 0: the default */
};

/* ------------------------------------------------------------------ */
/* Trees                                                                */

enum { ST_PENDING, ST_RUNNING, ST_DONE, ST_SKIPPED, ST_REFUSED };
/* What a task returned. */
enum { RET_NONE, RET_REAL, RET_CANCEL };
/* What a join returned. */
enum { JK_NONE, JK_NULL, JK_ERRORS, JK_FATAL, JK_CANCEL, JK_TIMEOUT, JK_OTHER };
/* Why a group may be cancelled; set before the event that cancels it. */
enum {
	CAUSE_FAIL = 1u << 0,
	CAUSE_EXPLICIT = 1u << 1,
	CAUSE_DEADLINE = 1u << 2,
	CAUSE_WON = 1u << 3
};
enum { DL_NONE, DL_PAST, DL_SHORT, DL_FAR, DL_REMOVED, DL_MOVED };
/* How a party's barrier rounds ended (after the rounds that gave an
 * index). */
enum { BAR_ALL, BAR_CANCELLED, BAR_BROKEN };

/* A barrier shared by some children of one group (tg-stress-barrier.c). */
struct barrier_rec {
	tg_barrier b;
	int parties, rounds;
	uint32_t first;        /* the parties' first node id */
	bool made;             /* initialised (and destroyed after the join) */
	/* Who aborts it while the parties run: -1 nobody, 0 the owner after
	 * its spawns, r + 1 the last party before its wait of round r. */
	int abort_by;
	atomic_bool abort_req;  /* set before tg_barrier_abort */
	atomic_bool abort_done; /* set after it returned */
	int released;           /* rounds released (barrier_check) */
	/* The stall watch (barrier_watch, on the watchdog's thread). */
	bool open;              /* under the tree's bar_lock */
	bool stalled;           /* under bar_lock: aborted by the watch */
	atomic_int inside;      /* parties inside tg_barrier_wait */
	atomic_llong last_ns;   /* the last wait that began or ended */
};

/* The group a task opens (at most one per task), with what the oracle
 * needs about it. */
struct group_rec {
	tg_group handle;
	/* The owner's (plain); the oracle reads them after the run. */
	bool open;
	bool wide; /* many children, failing often (--wide-rate) */
	int policy;
	int limit;
	int dl_mode;
	uint32_t next_seq;
	bool body_error, body_fatal, body_cancel;
	int join_kind;
	bool expired;
	bool outer_cancelled; /* tg_cancelled() right after the join */
	uint32_t nreal, nreal_fatal, nsuccess, ncancel, nskipped;
	struct barrier_rec *bar; /* NULL: no barrier among the children */
	/* Shared. */
	atomic_uint causes;   /* CAUSE_* */
	atomic_int active;    /* children running now (the limit check) */
	atomic_uint head;     /* children list: node id + 1; 0 ends */
};

struct node {
	/* Set by the spawner before tg_spawn, which publishes them. */
	struct tree *tree;
	struct node *parent; /* owner of the group this task runs in */
	uint64_t seed;
	uint32_t id, depth;
	uint32_t seq;  /* the owner's spawn order; SEQ_REMOTE for others */
	uint32_t next; /* children list link (id + 1) */
	const char *name; /* what it was spawned with (NULL: no name) */
	int party;        /* index among its barrier's parties; -1: none */
	atomic_uint state;
	/* The task's own (plain), read by its owner after the join. */
	long result;
	bool finished;
	bool raised, raised_fatal, raised_in_body;
	int ret_kind;
	bool ret_fatal;
	const tg_error *ret; /* identity only: compared, never read */
	bool seen_in_parent; /* the owner's, while checking its join */
	/* A party's rounds: the index of each round it was released from,
	 * then how the rounds ended (BAR_*). */
	uint8_t bar_rounds;
	uint8_t bar_end;
	int8_t bar_index[BARRIER_ROUNDS_MAX];
	struct group_rec grp;
};

struct tree {
	const struct config *cfg;
	uint64_t index;
	uint64_t seed;
	int threads;
	uint32_t fail_ppm;
	uint32_t cap;
	uint32_t used; /* after the run: nodes handed out */
	struct node *nodes;
	uint32_t *seen; /* post-run leaf counts, by task id */
	atomic_uint next_id;
	atomic_uint slips;
	atomic_uint full;
	atomic_int workers; /* highest worker index seen + 1 */
	atomic_uint nbarriers; /* barriers handed out (bars[]) */
	struct barrier_rec bars[BARRIERS_PER_TREE];
	pthread_mutex_t bar_lock; /* the barriers' open flags (the watch) */
	atomic_uint stalls;       /* barriers the watch aborted */
	atomic_uint progress;     /* tasks ended (the stall watch's clock) */
	/* The first violation; detail is written before the flag. */
	atomic_bool claimed;
	atomic_bool violated;
	const char *invariant;
	char detail[768];
};

/* What one tree or a whole run counted. */
struct counts {
	uint64_t trees, tasks, ran, skipped, refused, failed, matched, dropped;
	uint64_t timeouts, fatal, slips, events, full;
	uint64_t wide, wide_max;   /* wide joins; most sub-errors in one */
	uint64_t barriers, rounds; /* barriers made; rounds released */
	uint64_t stalls;           /* barriers aborted by the stall watch */
};

/* ------------------------------------------------------------------ */
/* Random streams                                                       */

static inline uint64_t
mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* A task's decisions come from its own seed, so a tree's shape depends
 * on the tree seed alone (the scheduling still varies). */
struct rng {
	uint64_t s;
};

static inline uint32_t
rnd(struct rng *r)
{
	r->s = mix(r->s);
	return (uint32_t)(r->s >> 32);
}

static inline uint32_t
below(struct rng *r, uint32_t n)
{
	return n == 0 ? 0 : rnd(r) % n;
}

static inline bool
chance(struct rng *r, uint32_t ppm)
{
	return rnd(r) % PPM < ppm;
}

static inline int64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

/* ------------------------------------------------------------------ */
/* tg-stress-check.c: the oracle                                        */

const char *state_name(unsigned st);
const char *policy_name(int p);
void violation(struct tree *t, const char *invariant, const char *fmt, ...)
	TG_PRINTF(3, 4);
void api_check(struct node *n, const char *call, int rc, int want);
long expected_result(const struct node *n);
bool is_cancel_leaf(const tg_error *e);
long tag_of(const tg_error *e);
bool cause_in_chain(const struct node *scope);
void saw_cancel(struct node *n, const struct node *scope, const char *where);
void after_join(struct node *n, const tg_error *err);
void check_tree(struct tree *t, const tg_error *err, struct counts *c);

/* ------------------------------------------------------------------ */
/* tg-stress-task.c: the task                                           */

tg_error *task_main(void *arg);
struct node *new_nodes(struct tree *t, struct node *parent, uint32_t depth,
		       uint64_t seed, uint32_t k);
void spawn_node(struct node *spawner, struct node *owner, struct node *c,
		struct rng *r, bool must_refuse);
void spawn_batch_nodes(struct node *spawner, struct node *owner,
		       struct node *first, uint32_t k, bool must_refuse);

/* ------------------------------------------------------------------ */
/* tg-stress-barrier.c: barrier parties                                 */

/* n's group gets a barrier (false: none to be had); the parties are
 * spawned by barrier_spawn. */
bool barrier_open(struct node *n, struct rng *r);
void barrier_spawn(struct node *n, struct rng *r, bool must_refuse);
/* The owner, after its spawns: queries, and the planned abort. */
void barrier_owner(struct node *n);
/* A party's rounds; a CancelledError from a wait, else NULL. */
tg_error *barrier_rounds(struct node *n);
/* After the join: every round's indexes, the barrier's state. */
void barrier_check(struct node *n);
void barrier_close(struct node *n);
/* The watchdog's thread, every tick: aborts a barrier whose waits have
 * made no progress for --stall-timeout while no task of the tree ended
 * either (quiet_ns; a liveness failure of the pool: docs/tg-stress.md),
 * so that the tree ends and is reported. */
void barrier_watch(struct tree *t, int64_t now, int64_t quiet_ns);

/* tg-stress.c: the replay line of a tree. */
void print_replay(FILE *f, const struct config *cfg, uint64_t index,
		  int threads);

/* ------------------------------------------------------------------ */
/* tg-stress-rss.c: resident-set samples                                */

struct rss_log {
	int64_t next_ns;
	uint64_t baseline, last, max;
	uint64_t raw_baseline, raw_last; /* with --rss-trim: before the trim */
	uint64_t heap_baseline, heap_last;
	int samples, after_warmup;
};

void rss_sample(const struct config *cfg, struct rss_log *l, int64_t elapsed);
double growth_pct(uint64_t baseline, uint64_t last);
double rss_growth(const struct rss_log *l);
void prefault(void *p, size_t bytes);

#endif /* TG_STRESS_H */
