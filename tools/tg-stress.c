/*
 * tg-stress - random task trees with an oracle.
 *
 * Each tree, generated from a seed, mixes spawns, successes, failures
 * (ordinary and fatal), explicit cancels (by the owner and by children),
 * nested groups under the three policies, deadlines (none, past, short,
 * far, removed, moved), concurrency limits with tg_spawn and tg_try_spawn,
 * batches spawned with tg_spawn_each (named or not),
 * children spawning siblings into their parent's group, checkpoints and
 * body errors.  Trees run one at a time on pools of the requested sizes.
 *
 * The oracle, after every join and after every tree (docs/tg-stress.md
 * explains each invariant):
 *   exactly-once       every spawned task ran once or was skipped (a CAS
 *                      on its state word); a refused spawn never ran
 *   join-waited        the owner reads each child's plain writes after the
 *                      join (TSan checks that edge), no child is running
 *   join-result        NULL / CancelledError / TimeoutError / errors as
 *                      group.h documents, from what the children returned
 *   error-placement    each sub-error of a join comes from a child of that
 *                      group (tasks tag what they return with a note)
 *   error-order        the owner's children in spawn order, then the
 *                      others, the body's error last
 *   error-multiset     the leaves of the final error are exactly the
 *                      errors raised (less those a first-success group
 *                      dropped by design): none lost, none twice
 *   cancel-downwards   a task sees tg_cancelled() only if its own group or
 *                      an enclosing one had a cause; skips likewise
 *   cancel-bound       bodies that see tg_cancelled() at their very first
 *                      line <= workers x cancellation events
 *   limit, deadline, winner, api: the documented results of those calls
 *
 * Not a benchmark: the checks dominate.  Exit status 0, 1 (a violated
 * invariant: name, seed and tree printed), 2 (usage).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 33)
#include <malloc.h>
#define HAVE_GLIBC_MALLOC 1 /* mallinfo2, malloc_trim */
#endif

#include <taskgroup.h>

#define MAX_POOLS 16
#define POOL_BLOCK 8 /* consecutive trees per pool, then the next pool */
#define TAG_PREFIX "tg-stress task "
/* Task names (tg_spawn_named, tg_spawn_each_named). */
static const char NAME_ONE[] = "tg-stress";
static const char NAME_BATCH[] = "tg-stress batch";
#define SEQ_REMOTE UINT32_MAX
#define NS_PER_S INT64_C(1000000000)
#define PPM 1000000u

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

/* The group a task opens (at most one per task), with what the oracle
 * needs about it. */
struct group_rec {
	tg_group handle;
	/* The owner's (plain); the oracle reads them after the run. */
	bool open;
	int policy;
	int limit;
	int dl_mode;
	uint32_t next_seq;
	bool body_error, body_fatal, body_cancel;
	int join_kind;
	bool expired;
	bool outer_cancelled; /* tg_cancelled() right after the join */
	uint32_t nreal, nreal_fatal, nsuccess, ncancel, nskipped;
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
	atomic_uint state;
	/* The task's own (plain), read by its owner after the join. */
	long result;
	bool finished;
	bool raised, raised_fatal, raised_in_body;
	int ret_kind;
	bool ret_fatal;
	const tg_error *ret; /* identity only: compared, never read */
	bool seen_in_parent; /* the owner's, while checking its join */
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
};

/* ------------------------------------------------------------------ */
/* Small helpers                                                        */

static uint64_t
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

static uint32_t
rnd(struct rng *r)
{
	r->s = mix(r->s);
	return (uint32_t)(r->s >> 32);
}

static uint32_t
below(struct rng *r, uint32_t n)
{
	return n == 0 ? 0 : rnd(r) % n;
}

static bool
chance(struct rng *r, uint32_t ppm)
{
	return rnd(r) % PPM < ppm;
}

static int64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

static const char *
state_name(unsigned st)
{
	static const char *const names[] = { "pending", "running", "done",
					     "skipped", "refused" };

	return st < 5 ? names[st] : "?";
}

static const char *
join_kind_name(int k)
{
	static const char *const names[] = { "none",  "NULL",      "errors",
					     "fatal", "cancelled", "timeout",
					     "other" };

	return k >= 0 && k <= JK_OTHER ? names[k] : "?";
}

static const char *
policy_name(int p)
{
	return p == TG_POLICY_FAIL_FAST	      ? "fail-fast"
	       : p == TG_POLICY_COLLECT_ALL ? "collect-all"
					    : "first-success";
}

/* Records the tree's first violation (any thread); the run goes on and
 * the main thread reports it after the run. */
static void TG_PRINTF(3, 4)
violation(struct tree *t, const char *invariant, const char *fmt, ...)
{
	va_list ap;

	if (atomic_exchange(&t->claimed, true))
		return;
	t->invariant = invariant;
	va_start(ap, fmt);
	vsnprintf(t->detail, sizeof(t->detail), fmt, ap);
	va_end(ap);
	atomic_store_explicit(&t->violated, true, memory_order_release);
}

/* What the task writes with a plain store and its owner reads back. */
static long
expected_result(const struct node *n)
{
	return (long)(n->seed & 0xffffff) * 7 + n->id;
}

static bool
is_fatal(const tg_error *e)
{
	const tg_error_type *t = tg_error_type_of(e);

	return t != NULL && (t->flags & TG_ERROR_TYPE_FATAL) != 0;
}

static bool
is_cancel_leaf(const tg_error *e)
{
	return e != NULL && !tg_error_is_group(e) &&
	       tg_error_is(e, &tg_CancelledError);
}

/* The task id a task's tag note names; -1 when untagged.  The last tag
 * wins (a promoted fatal error carries its whole chain). */
static long
tag_of(const tg_error *e)
{
	size_t i = tg_error_note_count(e);

	while (i-- > 0) {
		const char *note = tg_error_note(e, i);
		char *end;
		unsigned long id;

		if (strncmp(note, TAG_PREFIX, strlen(TAG_PREFIX)) != 0)
			continue;
		id = strtoul(note + strlen(TAG_PREFIX), &end, 10);
		if (*end == '\0' && id < (unsigned long)LONG_MAX)
			return (long)id;
	}
	return -1;
}

static struct node *
owner_of_scope(struct node *n)
{
	return n->parent;
}

/* Does the group of `scope` (or an enclosing one) have a cause?  Every
 * cause is set before the cancellation it may trigger, and a checkpoint
 * that sees a cancellation synchronises with it. */
static bool
cause_in_chain(const struct node *scope)
{
	for (; scope != NULL; scope = scope->parent)
		if (atomic_load(&scope->grp.causes) != 0)
			return true;
	return false;
}

/* cancel-downwards: n saw a cancellation in the group owned by scope. */
static void
saw_cancel(struct node *n, const struct node *scope, const char *where)
{
	if (!cause_in_chain(scope))
		violation(n->tree, "cancel-downwards",
			  "task %u saw tg_cancelled() %s, but neither %s%u's "
			  "group nor any enclosing group had a cause",
			  n->id, where, scope != NULL ? "task " : "(root) ",
			  scope != NULL ? scope->id : 0);
}

/* ------------------------------------------------------------------ */
/* Spawning                                                             */

static tg_error *task_main(void *arg);

/* Reserves k consecutive nodes (a batch's args are an array), all or
 * none; NULL when the tree has no room for them. */
static struct node *
new_nodes(struct tree *t, struct node *parent, uint32_t depth, uint64_t seed,
	  uint32_t k)
{
	/* relaxed: ids only need to be unique; tg_spawn publishes the node. */
	uint32_t id = atomic_load_explicit(&t->next_id, memory_order_relaxed);
	uint32_t j;

	do {
		if (id >= t->cap || t->cap - id < k) {
			atomic_fetch_add_explicit(&t->full, 1,
						  memory_order_relaxed);
			return NULL;
		}
	} while (!atomic_compare_exchange_weak_explicit(
		&t->next_id, &id, id + k, memory_order_relaxed,
		memory_order_relaxed));
	for (j = 0; j < k; j++) {
		struct node *n = &t->nodes[id + j];

		memset(n, 0, sizeof(*n));
		n->tree = t;
		n->parent = parent;
		n->seed = k == 1 ? seed : mix(seed ^ (j + 1));
		n->id = id + j;
		n->depth = depth;
		atomic_init(&n->state, ST_PENDING);
		atomic_init(&n->grp.causes, 0);
		atomic_init(&n->grp.active, 0);
		atomic_init(&n->grp.head, 0);
	}
	return &t->nodes[id];
}

static struct node *
new_node(struct tree *t, struct node *parent, uint32_t depth, uint64_t seed)
{
	return new_nodes(t, parent, depth, seed, 1);
}

/* Adds c to its group's children list.  relaxed: the owner reads the list
 * after the join, which must order every child's writes before it. */
static void
list_push(struct group_rec *g, struct node *c)
{
	unsigned head = atomic_load_explicit(&g->head, memory_order_relaxed);

	do
		c->next = head;
	while (!atomic_compare_exchange_weak_explicit(
		&g->head, &head, c->id + 1, memory_order_relaxed,
		memory_order_relaxed));
}

/* A spawn that did not happen must never run. */
static void
mark_refused(struct tree *t, struct node *c, int rc)
{
	unsigned st = ST_PENDING;

	if (!atomic_compare_exchange_strong(&c->state, &st, ST_REFUSED))
		violation(t, "exactly-once",
			  "task %u ran although its spawn returned %s (state %s)",
			  c->id, tg_status_name(rc), state_name(st));
}

/* Is rc a documented answer for this spawn? */
static void
check_spawn_status(struct node *spawner, struct node *owner, struct node *c,
		   int rc, bool try_spawn)
{
	struct tree *t = spawner->tree;
	const struct group_rec *g = &owner->grp;

	switch (rc) {
	case TG_ESHUTTINGDOWN:
		if (!cause_in_chain(owner))
			violation(t, "cancel-downwards",
				  "spawn of task %u into the group of task %u "
				  "refused (TG_ESHUTTINGDOWN) with no cause in "
				  "that group or above",
				  c->id, owner->id);
		return;
	case TG_EAGAIN:
		if (try_spawn && g->limit > 0)
			return;
		break;
	default:
		break;
	}
	violation(t, "api", "%s of task %u by task %u into the group of task "
		  "%u (limit %d): %s",
		  try_spawn ? "tg_try_spawn" : "tg_spawn", c->id, spawner->id,
		  owner->id, g->limit, tg_status_name(rc));
}

/* Spawns one child into owner's group, by owner or by a child of it.
 * must_refuse: the owner cancelled the group itself (or set a deadline
 * in the past), so the spawn has to be refused. */
static void
spawn_child(struct node *spawner, struct node *owner, uint64_t seed,
	    struct rng *r, bool must_refuse)
{
	struct tree *t = spawner->tree;
	struct group_rec *g = &owner->grp;
	struct node *c = new_node(t, owner, spawner->depth + 1, seed);
	bool try_spawn = g->limit > 0 && chance(r, 400000);
	uint32_t how = below(r, 4);
	int rc;

	if (c == NULL)
		return;
	c->seq = spawner == owner ? g->next_seq++ : SEQ_REMOTE;
	list_push(g, c);
	if (try_spawn)
		rc = tg_try_spawn(&g->handle, task_main, c);
	else if (how == 0) {
		c->name = NAME_ONE;
		rc = tg_spawn_named(&g->handle, task_main, c, c->name);
	}
	else if (how == 1)
		rc = (tg_spawn)(&g->handle, task_main, c);
	else
		rc = tg_spawn(&g->handle, task_main, c);
	if (rc == TG_OK) {
		if (must_refuse)
			violation(t, "cancel-downwards",
				  "task %u spawned into the group of task %u "
				  "after that group was cancelled by its owner",
				  c->id, owner->id);
		return;
	}
	mark_refused(t, c, rc);
	check_spawn_status(spawner, owner, c, rc, try_spawn);
}

/* Spawns k children into owner's group with one tg_spawn_each (the
 * nodes are consecutive, so the args are an array of them), by owner or
 * by a child of it; must_refuse as in spawn_child. */
static void
spawn_batch(struct node *spawner, struct node *owner, uint64_t seed,
	    uint32_t k, bool must_refuse)
{
	struct tree *t = spawner->tree;
	struct group_rec *g = &owner->grp;
	struct node *first = new_nodes(t, owner, spawner->depth + 1, seed, k);
	uint32_t j;
	bool named;
	int rc;

	if (first == NULL)
		return;
	/* Named or not by the first id's parity (the seed's random stream
	 * stays as it was, so are the trees). */
	named = (first->id & 1) != 0;

	for (j = 0; j < k; j++) {
		first[j].seq = spawner == owner ? g->next_seq++ : SEQ_REMOTE;
		first[j].name = named ? NAME_BATCH : NULL;
		list_push(g, &first[j]);
	}
	rc = named ? tg_spawn_each_named(&g->handle, task_main, first, k,
					 sizeof(*first), NAME_BATCH)
		   : tg_spawn_each(&g->handle, task_main, first, k,
				   sizeof(*first));
	if (rc == TG_OK) {
		if (must_refuse)
			violation(t, "cancel-downwards",
				  "tasks %u.. spawned (tg_spawn_each) into the "
				  "group of task %u after that group was "
				  "cancelled by its owner",
				  first->id, owner->id);
		return;
	}
	for (j = 0; j < k; j++)
		mark_refused(t, &first[j], rc);
	/* No EAGAIN for a batch: it waits over a limit, as tg_spawn. */
	check_spawn_status(spawner, owner, first, rc, false);
}

/* ------------------------------------------------------------------ */
/* Deadlines                                                            */

static void
api_check(struct node *n, const char *call, int rc, int want)
{
	if (rc != want)
		violation(n->tree, "api", "task %u: %s returned %s, expected %s",
			  n->id, call, tg_status_name(rc), tg_status_name(want));
}

/* A short timeout: long enough that some children start, short enough
 * that many groups expire while children run. */
static int64_t
short_timeout(struct rng *r)
{
	return (int64_t)below(r, 200000);
}

/* A deadline in the past: expires (cancels the group) at once, and a
 * fired timeout cannot be reset. */
static void
set_past_deadline(struct node *n)
{
	tg_group *h = &n->grp.handle;

	atomic_fetch_or(&n->grp.causes, CAUSE_DEADLINE);
	api_check(n, "tg_group_set_deadline(past)",
		  tg_group_set_deadline(h, tg_now_ns() - 1), TG_OK);
	if (!tg_group_expired(h))
		violation(n->tree, "deadline",
			  "task %u: a deadline in the past did not expire at "
			  "once", n->id);
	api_check(n, "tg_group_set_deadline(after expiry)",
		  tg_group_set_deadline(h, TG_DEADLINE_NONE), TG_ESTATE);
}

/* A timeout that may fire while the children run. */
static void
set_short_deadline(struct node *n, struct rng *r)
{
	tg_group *h = &n->grp.handle;
	int64_t before = tg_now_ns(), d = short_timeout(r);

	atomic_fetch_or(&n->grp.causes, CAUSE_DEADLINE);
	api_check(n, "tg_group_set_timeout", tg_group_set_timeout(h, d), TG_OK);
	if (tg_group_deadline(h) < before + d ||
	    tg_group_deadline(h) > tg_now_ns() + d)
		violation(n->tree, "deadline",
			  "task %u: tg_group_deadline %" PRId64
			  " outside [%" PRId64 ", now + %" PRId64 "]",
			  n->id, tg_group_deadline(h), before + d, d);
}

/* A deadline that never fires, then (by mode) removed, or moved to a
 * short one. */
static void
set_far_deadline(struct node *n, struct rng *r)
{
	struct group_rec *g = &n->grp;
	int64_t d = tg_now_ns() + 60 * NS_PER_S;

	api_check(n, "tg_group_set_deadline(far)",
		  tg_group_set_deadline(&g->handle, d), TG_OK);
	if (tg_group_deadline(&g->handle) != d)
		violation(n->tree, "deadline",
			  "task %u: tg_group_deadline %" PRId64 ", set %" PRId64,
			  n->id, tg_group_deadline(&g->handle), d);
	if (g->dl_mode == DL_REMOVED) {
		api_check(n, "tg_group_set_deadline(NONE)",
			  tg_group_set_deadline(&g->handle, TG_DEADLINE_NONE),
			  TG_OK);
	} else if (g->dl_mode == DL_MOVED) {
		atomic_fetch_or(&g->causes, CAUSE_DEADLINE);
		api_check(n, "tg_group_set_deadline(moved)",
			  tg_group_set_deadline(&g->handle,
						tg_now_ns() + short_timeout(r)),
			  TG_OK);
	}
}

/* Sets up the group's deadline by its mode.  Returns true when that
 * already cancelled the group (a deadline in the past). */
static bool
setup_deadline(struct node *n, struct rng *r)
{
	switch (n->grp.dl_mode) {
	case DL_PAST:
		set_past_deadline(n);
		return true;
	case DL_SHORT:
		set_short_deadline(n, r);
		return false;
	case DL_FAR:
	case DL_REMOVED:
	case DL_MOVED:
		set_far_deadline(n, r);
		return false;
	default:
		if (tg_group_deadline(&n->grp.handle) != TG_DEADLINE_NONE)
			violation(n->tree, "deadline",
				  "task %u: a new group has deadline %" PRId64,
				  n->id, tg_group_deadline(&n->grp.handle));
		return false;
	}
}

/* After the join: expired as the mode allows, no deadline left. */
static void
check_deadline_after(struct node *n)
{
	struct group_rec *g = &n->grp;
	bool must = g->dl_mode == DL_PAST;
	bool may = must || g->dl_mode == DL_SHORT || g->dl_mode == DL_MOVED;

	if ((g->expired && !may) || (!g->expired && must))
		violation(n->tree, "deadline",
			  "task %u: tg_group_expired %d after the join, deadline "
			  "mode %d", n->id, g->expired, g->dl_mode);
	if ((tg_group_deadline(&g->handle) == TG_DEADLINE_NONE) !=
	    (g->dl_mode == DL_NONE || g->dl_mode == DL_REMOVED))
		violation(n->tree, "deadline",
			  "task %u: joined group reports deadline %" PRId64
			  ", mode %d", n->id, tg_group_deadline(&g->handle),
			  g->dl_mode);
}

/* ------------------------------------------------------------------ */
/* After a join: the children, the result, the winner                   */

/* join-waited: every child finished (or never started, or was refused)
 * and its plain writes are visible; tallies what the children returned.
 * A child not started is marked skipped, so a late start is caught. */
static void
check_children(struct node *n)
{
	struct tree *t = n->tree;
	struct group_rec *g = &n->grp;
	/* relaxed: the join orders the pushes before this read. */
	unsigned id = atomic_load_explicit(&g->head, memory_order_relaxed);

	while (id != 0) {
		struct node *c = &t->nodes[id - 1];
		unsigned st = atomic_load_explicit(&c->state,
						   memory_order_relaxed);

		id = c->next;
		switch (st) {
		case ST_PENDING:
			if (!atomic_compare_exchange_strong(&c->state, &st,
							    ST_SKIPPED)) {
				violation(t, "join-waited",
					  "task %u started after its group "
					  "(task %u's) was joined", c->id, n->id);
				break;
			}
			g->nskipped++;
			if (!cause_in_chain(n))
				violation(t, "cancel-downwards",
					  "task %u never started, but neither "
					  "its group (task %u's) nor any "
					  "enclosing group had a cause: skipped "
					  "without a cancellation, or the join "
					  "returned before it ran", c->id, n->id);
			break;
		case ST_DONE:
			if (!c->finished || c->result != expected_result(c))
				violation(t, "join-waited",
					  "task %u's plain writes not visible "
					  "after task %u's join (finished %d, "
					  "result %ld)", c->id, n->id,
					  c->finished, c->result);
			g->nreal += c->ret_kind == RET_REAL;
			g->nreal_fatal += c->ret_kind == RET_REAL && c->ret_fatal;
			g->nsuccess += c->ret_kind == RET_NONE;
			g->ncancel += c->ret_kind == RET_CANCEL;
			break;
		case ST_REFUSED:
			break;
		default:
			violation(t, "join-waited",
				  "task %u is %s after task %u's join", c->id,
				  state_name(st), n->id);
			break;
		}
	}
}

static int
classify_join(const tg_error *err)
{
	if (err == NULL)
		return JK_NULL;
	if (is_fatal(err))
		return JK_FATAL;
	if (tg_error_is_group(err))
		return JK_ERRORS;
	if (tg_error_is(err, &tg_CancelledError))
		return JK_CANCEL;
	if (tg_error_is(err, &tg_TimeoutError))
		return JK_TIMEOUT;
	return JK_OTHER;
}

/* Is node x in the subtree of n's group? */
static bool
below_group(const struct node *x, const struct node *n)
{
	for (; x != NULL; x = x->parent)
		if (x->parent == n || x == n)
			return true;
	return false;
}

/* The body's error: a leaf raised by the owner with its own id. */
static bool
is_body_error(const struct node *n, const tg_error *x)
{
	return !tg_error_is_group(x) && tg_error_code(x) == (int)n->id &&
	       tg_error_context(x) == NULL &&
	       (tg_error_is(x, &tg_ValueError) || tg_error_is(x, &tg_Interrupt));
}

/* One sub-error of n's join: it must be what a child of n's group
 * returned (its tag and identity), once, in spawn order. */
static void
check_sub_error(struct node *n, const tg_error *x, size_t i,
		uint32_t *last_seq, bool *remote_seen)
{
	struct tree *t = n->tree;
	long tag = tag_of(x);
	struct node *c;

	if (tag < 0 || (unsigned long)tag >= t->cap) {
		violation(t, "error-placement",
			  "sub-error %zu of task %u's join carries no task "
			  "tag: %s: %s", i, n->id, tg_error_type_of(x)->name,
			  tg_error_message(x));
		return;
	}
	c = &t->nodes[tag];
	if (c->parent != n || atomic_load(&c->state) != ST_DONE ||
	    c->ret_kind != RET_REAL || c->ret != x) {
		violation(t, "error-placement",
			  "sub-error %zu of task %u's join is task %ld's "
			  "error, but that task belongs to the group of "
			  "task %d (state %s, returned an error: %d, same "
			  "object: %d)", i, n->id, tag,
			  c->parent != NULL ? (int)c->parent->id : -1,
			  state_name(atomic_load(&c->state)),
			  c->ret_kind == RET_REAL, c->ret == x);
		return;
	}
	if (c->seen_in_parent) {
		violation(t, "error-multiset",
			  "task %u's error appears twice in task %u's join",
			  c->id, n->id);
		return;
	}
	c->seen_in_parent = true;
	if (c->seq == SEQ_REMOTE) {
		*remote_seen = true;
	} else {
		if (*remote_seen || (*last_seq != SEQ_REMOTE && c->seq <= *last_seq))
			violation(t, "error-order",
				  "in task %u's join (%s, limit %d), task %u "
				  "(owner spawn #%u) comes after %s", n->id,
				  policy_name(n->grp.policy), n->grp.limit,
				  c->id, c->seq,
				  *remote_seen ? "a child spawned by another task"
					       : "a later owner spawn");
		*last_seq = c->seq;
	}
}

/* A join that returned a group of errors: exactly the kept errors of the
 * children (spawn order), then the body's. */
static void
check_error_group(struct node *n, const tg_error *err, uint32_t expected)
{
	struct group_rec *g = &n->grp;
	size_t cnt = tg_error_count(err), i;
	uint32_t last_seq = SEQ_REMOTE;
	bool remote_seen = false;

	if (cnt != expected) {
		violation(n->tree, "error-multiset",
			  "task %u's %s join returned %zu sub-errors, expected "
			  "%u (%u children failed, %u succeeded, %u cancelled, "
			  "%u skipped; body error %d)", n->id,
			  policy_name(g->policy), cnt, expected, g->nreal,
			  g->nsuccess, g->ncancel, g->nskipped, g->body_error);
		return;
	}
	for (i = 0; i < cnt; i++) {
		const tg_error *x = tg_error_child(err, i);

		if (g->body_error && i == cnt - 1) {
			if (!is_body_error(n, x))
				violation(n->tree, "error-order",
					  "the last sub-error of task %u's join "
					  "is not its body's error", n->id);
			continue;
		}
		check_sub_error(n, x, i, &last_seq, &remote_seen);
	}
}

/* "task 5 0x2, task 1 0x0, ...": the causes recorded in the chain of
 * groups from scope up to the root, for violation messages. */
static const char *
describe_chain(const struct node *scope, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (; scope != NULL && used < len; scope = scope->parent) {
		int k = snprintf(buf + used, len - used, "%stask %u 0x%x",
				 used > 0 ? ", " : "", scope->id,
				 atomic_load(&scope->grp.causes));

		if (k < 0)
			break;
		used += (size_t)k;
	}
	return buf;
}

/* A join with no error to report: NULL, CancelledError or TimeoutError
 * as the cancellation state says (group.h, tg_group_join). */
static void
check_quiet_join(struct node *n, int kind)
{
	struct group_rec *g = &n->grp;
	int plain = g->expired ? JK_TIMEOUT : JK_NULL;
	char chain[256];
	bool ok;

	/* Not cancelled from outside after the join means not at the join
	 * either (cancellation is level-triggered). */
	if (!g->outer_cancelled)
		ok = kind == plain;
	else
		ok = kind == plain || kind == JK_CANCEL;
	if (!ok)
		violation(n->tree, "join-result",
			  "task %u's %s join returned %s; nothing failed, "
			  "expired %d, outer scope cancelled %d, body cancelled "
			  "%d, children: %u succeeded, %u cancelled, %u skipped, "
			  "%u failed (dropped by a winner); causes by group "
			  "(1 fail, 2 cancel, 4 deadline, 8 won): %s", n->id,
			  policy_name(g->policy), join_kind_name(kind),
			  g->expired, g->outer_cancelled, g->body_cancel,
			  g->nsuccess, g->ncancel, g->nskipped, g->nreal,
			  describe_chain(n, chain, sizeof(chain)));
}

/* The join's result against what the children and the body did. */
static void
check_join_result(struct node *n, const tg_error *err)
{
	struct group_rec *g = &n->grp;
	bool won = g->policy == TG_POLICY_FIRST_SUCCESS && g->nsuccess > 0;
	uint32_t kept = won ? g->nreal_fatal : g->nreal;
	uint32_t expected = kept + g->body_error;
	bool fatal = g->nreal_fatal > 0 || g->body_fatal;

	if (expected == 0) {
		check_quiet_join(n, g->join_kind);
	} else if (fatal) {
		long code = tg_error_code(err);

		/* Promotion: the first fatal error is the root; the rest is
		 * its context (checked by the tree-wide multiset). */
		if (g->join_kind != JK_FATAL || tg_error_count(err) != 0 ||
		    code < 0 || (unsigned long)code >= n->tree->cap ||
		    !n->tree->nodes[code].raised_fatal ||
		    !below_group(&n->tree->nodes[code], n))
			violation(n->tree, "join-result",
				  "task %u's join holds a fatal error but "
				  "returned %s (code %ld)", n->id,
				  join_kind_name(g->join_kind), code);
	} else if (g->join_kind != JK_ERRORS) {
		violation(n->tree, "join-result",
			  "task %u's %s join returned %s, expected %u errors",
			  n->id, policy_name(g->policy),
			  join_kind_name(g->join_kind), expected);
	} else {
		check_error_group(n, err, expected);
	}
}

/* Is arg one of this tree's nodes (so it may be read)? */
static bool
is_node(const struct tree *t, const void *arg)
{
	/* As integers: arg may point anywhere. */
	uintptr_t p = (uintptr_t)arg, base = (uintptr_t)t->nodes;

	return p >= base && p < base + t->cap * sizeof(*t->nodes) &&
	       (p - base) % sizeof(*t->nodes) == 0;
}

/* winner: a success, or TG_ENOENT; TG_ESTATE for other policies. */
static void
check_winner(struct node *n)
{
	struct group_rec *g = &n->grp;
	void *arg = NULL;
	int rc = tg_group_winner(&g->handle, &arg);
	const struct node *w = arg;

	if (g->policy != TG_POLICY_FIRST_SUCCESS) {
		api_check(n, "tg_group_winner (not first-success)", rc,
			  TG_ESTATE);
		return;
	}
	if (g->nsuccess == 0) {
		if (rc == TG_OK)
			violation(n->tree, "winner",
				  "task %u's first-success group names task %d "
				  "the winner, but no child succeeded (%u "
				  "failed, %u cancelled, %u skipped); the winner "
				  "%s", n->id,
				  is_node(n->tree, w) ? (int)w->id : -1,
				  g->nreal, g->ncancel, g->nskipped,
				  !is_node(n->tree, w) ? "is not a task's argument"
				  : w->ret_kind == RET_CANCEL
					  ? "returned a CancelledError"
					  : "returned an error");
		else
			api_check(n, "tg_group_winner", rc, TG_ENOENT);
		return;
	}
	if (rc != TG_OK) {
		api_check(n, "tg_group_winner", rc, TG_OK);
		return;
	}
	if (!is_node(n->tree, w) || w->parent != n || w->ret_kind != RET_NONE)
		violation(n->tree, "winner",
			  "task %u's winner is not a child that succeeded",
			  n->id);
}

/* Everything the owner can check right after its join. */
static void
after_join(struct node *n, const tg_error *err)
{
	struct group_rec *g = &n->grp;

	g->join_kind = classify_join(err);
	g->expired = tg_group_expired(&g->handle);
	g->outer_cancelled = tg_cancelled();
	if (g->outer_cancelled)
		saw_cancel(n, owner_of_scope(n), "after its join");
	check_children(n);
	check_deadline_after(n);
	check_join_result(n, err);
	check_winner(n);
}

/* ------------------------------------------------------------------ */
/* The task                                                             */

static tg_error *
raise_own(struct node *n, bool fatal)
{
	n->raised = true;
	n->raised_fatal = fatal;
	if (fatal)
		return TG_RAISE_CODE(&tg_Interrupt, (int)n->id,
				     "task %u interrupted", n->id);
	return TG_RAISE_CODE(&tg_ValueError, (int)n->id, "task %u failed",
			     n->id);
}

static void
pick_group_options(struct node *n, struct rng *r)
{
	struct group_rec *g = &n->grp;
	uint32_t p = below(r, 10), d = below(r, 100);

	g->policy = p < 5   ? TG_POLICY_FAIL_FAST
		    : p < 8 ? TG_POLICY_COLLECT_ALL
			    : TG_POLICY_FIRST_SUCCESS;
	g->limit = chance(r, 250000) ? 1 + (int)below(r, 3) : 0;
	g->dl_mode = d < 80   ? DL_NONE
		     : d < 83 ? DL_PAST
		     : d < 93 ? DL_SHORT
		     : d < 95 ? DL_FAR
		     : d < 97 ? DL_REMOVED
			      : DL_MOVED;
}

static void
cancel_own_group(struct node *n)
{
	atomic_fetch_or(&n->grp.causes, CAUSE_EXPLICIT);
	api_check(n, "tg_group_cancel", tg_group_cancel(&n->grp.handle), TG_OK);
}

/* The body's error, if any: a checkpoint's CancelledError, or (when
 * body_fail) the task's own error, which replaces it. */
static tg_error *
body_error(struct node *n, struct rng *r, bool body_fail, bool fatal)
{
	struct group_rec *g = &n->grp;
	tg_error *body = NULL;

	if (chance(r, 150000)) {
		body = tg_checkpoint_at(__FILE__, __LINE__, __func__);
		if (body != NULL) {
			saw_cancel(n, n, "in its body");
			g->body_cancel = true;
		}
	}
	if (!body_fail)
		return body;
	tg_error_decref(body);
	g->body_cancel = false;
	g->body_error = true;
	g->body_fatal = fatal;
	n->raised_in_body = true;
	if (g->policy == TG_POLICY_FAIL_FAST || fatal)
		atomic_fetch_or(&g->causes, CAUSE_FAIL);
	return raise_own(n, fatal);
}

/* Opens, fills and joins n's group; returns the join's result. */
static tg_error *
run_group(struct node *n, struct rng *r, bool body_fail, bool fatal)
{
	const struct config *cfg = n->tree->cfg;
	struct group_rec *g = &n->grp;
	tg_group_options opts = { 0 };
	bool refuse;
	uint32_t k, i;
	int rc;
	tg_error *err;

	pick_group_options(n, r);
	opts.policy = g->policy;
	opts.limit = g->limit;
	opts.name = "tg-stress";
	rc = tg_group_init(&g->handle, &opts);
	if (rc != TG_OK) {
		api_check(n, "tg_group_init", rc, TG_OK);
		return NULL;
	}
	g->open = true;
	refuse = setup_deadline(n, r);
	if (chance(r, 20000)) {
		cancel_own_group(n);
		refuse = true;
	}
	k = 1 + below(r, cfg->max_children);
	for (i = 0; i < k; i++) {
		if (k - i >= 2 && chance(r, 150000)) {
			/* The next 2..k - i children in one call. */
			uint32_t m = 2 + below(r, k - i - 1);

			spawn_batch(n, n, mix(n->seed ^ (i + 1)), m, refuse);
			i += m - 1;
			continue;
		}
		spawn_child(n, n, mix(n->seed ^ (i + 1)), r, refuse);
		if (i == k / 2 && chance(r, 30000)) {
			cancel_own_group(n);
			refuse = true;
		}
	}
	err = tg_group_join(&g->handle, body_error(n, r, body_fail, fatal));
	after_join(n, err);
	return err;
}

/* Busy work with checkpoints, so cancellations and deadlines land while
 * tasks run.  Returns a CancelledError when a checkpoint says so. */
static tg_error *
work(struct node *n, struct rng *r)
{
	bool deadline = n->parent != NULL && n->parent->grp.dl_mode != DL_NONE;
	uint32_t iters, i;
	volatile uint32_t sink = 0;

	/* Blocking (3%): a cancel-aware tg_sleep, which answers like a
	 * checkpoint, or a blocking region around a sleep that nothing
	 * interrupts (its worker's queue goes to the pool meanwhile). */
	if (chance(r, 30000)) {
		if (chance(r, PPM / 2)) {
			tg_error *c = tg_sleep(1000 + below(r, 50000));

			if (c != NULL) {
				saw_cancel(n, owner_of_scope(n), "in tg_sleep");
				return c;
			}
		} else {
			(void)tg_blocking_begin();
			usleep(below(r, 200));
			(void)tg_blocking_end();
		}
	}
	if (!chance(r, deadline ? 600000 : 200000))
		return NULL;
	iters = 1 + below(r, 16);
	for (i = 0; i < iters; i++) {
		tg_error *c;
		uint32_t j;

		for (j = 0; j < 256; j++)
			sink += j;
		(void)sink;
		c = tg_checkpoint_at(__FILE__, __LINE__, __func__);
		if (c != NULL) {
			saw_cancel(n, owner_of_scope(n), "at a checkpoint");
			return c;
		}
	}
	return NULL;
}

/* What a child does to its parent's group: spawn a sibling into it, or
 * (rarely) cancel it. */
static void
sibling_actions(struct node *n, struct rng *r)
{
	struct node *p = n->parent;

	if (n->depth < n->tree->cfg->depth && chance(r, 125000)) {
		if (chance(r, 250000))
			spawn_batch(n, p, mix(n->seed ^ 0x5151),
				    2 + below(r, 3), false);
		else
			spawn_child(n, p, mix(n->seed ^ 0x5151), r, false);
	}
	if (chance(r, 5000)) {
		atomic_fetch_or(&p->grp.causes, CAUSE_EXPLICIT);
		api_check(n, "tg_group_cancel (by a child)",
			  tg_group_cancel(&p->grp.handle), TG_OK);
	}
}

/* Start of a task: exactly-once, the limit, the first-line check. */
static void
task_start(struct node *n, bool cancelled)
{
	struct tree *t = n->tree;
	unsigned st = ST_PENDING;

	if (!atomic_compare_exchange_strong(&n->state, &st, ST_RUNNING))
		violation(t, "exactly-once", "task %u started in state %s",
			  n->id, state_name(st));
	if (cancelled) {
		atomic_fetch_add_explicit(&t->slips, 1, memory_order_relaxed);
		saw_cancel(n, owner_of_scope(n), "at its first line");
	}
	{
		tg_task_info info = { 0 };

		if (tg_current_task(&info) != TG_OK || info.name != n->name)
			violation(t, "api", "task %u runs as \"%s\", spawned "
				  "as \"%s\"", n->id,
				  info.name != NULL ? info.name : "(none)",
				  n->name != NULL ? n->name : "(none)");
	}
	if (n->parent != NULL && n->parent->grp.limit > 0) {
		int a = atomic_fetch_add(&n->parent->grp.active, 1) + 1;

		if (a > n->parent->grp.limit)
			violation(t, "limit",
				  "%d children of task %u's group running at "
				  "once, limit %d", a, n->parent->id,
				  n->parent->grp.limit);
	}
}

/* The task's result from its group's and its own error. */
static tg_error *
combine(tg_error *joined, tg_error *own)
{
	tg_error *parts[2];

	if (own == NULL)
		return joined;
	if (joined == NULL)
		return own;
	if (is_cancel_leaf(joined)) {
		/* Our error replaces the cancellation, as raising in an
		 * `except CancelledError` block would. */
		tg_error_decref(joined);
		return own;
	}
	parts[0] = joined;
	parts[1] = own;
	return tg_error_group_new("tg-stress: a task's group and its own error",
				  2, parts);
}

/* End of a task: tag and record what it returns, tell the parent's
 * group the cause this may be, mark it done. */
static tg_error *
task_finish(struct node *n, tg_error *err)
{
	struct tree *t = n->tree;
	struct node *p = n->parent;
	unsigned st = ST_RUNNING;

	n->ret_kind = err == NULL ? RET_NONE
		      : is_cancel_leaf(err) ? RET_CANCEL
					    : RET_REAL;
	if (n->ret_kind == RET_REAL) {
		err = tg_error_with_note(err, TAG_PREFIX "%u", n->id);
		n->ret_fatal = n->raised_fatal || n->grp.join_kind == JK_FATAL;
	}
	n->ret = err;
	if (p != NULL) {
		if (n->ret_kind == RET_REAL &&
		    (p->grp.policy == TG_POLICY_FAIL_FAST || n->ret_fatal))
			atomic_fetch_or(&p->grp.causes, CAUSE_FAIL);
		if (n->ret_kind == RET_NONE &&
		    p->grp.policy == TG_POLICY_FIRST_SUCCESS)
			atomic_fetch_or(&p->grp.causes, CAUSE_WON);
		if (p->grp.limit > 0)
			atomic_fetch_sub(&p->grp.active, 1);
	}
	if (!atomic_compare_exchange_strong(&n->state, &st, ST_DONE))
		violation(t, "exactly-once", "task %u ended in state %s", n->id,
			  state_name(st));
	n->finished = true;
	return err;
}

static tg_error *
task_main(void *arg)
{
	/* The very first line: a body that starts in a cancelled scope
	 * slipped past the pre-start check (cancel-bound). */
	bool cancelled = tg_cancelled();
	struct node *n = arg;
	const struct config *cfg = n->tree->cfg;
	struct rng r = { n->seed };
	bool has_group, fail, fatal, in_body;
	tg_error *err, *own = NULL;

	task_start(n, cancelled);
	n->result = expected_result(n);
	has_group = n->depth < cfg->depth && (n->depth == 0 || chance(&r, 650000));
	fail = chance(&r, n->tree->fail_ppm);
	fatal = chance(&r, cfg->fatal_ppm);
	fail = fail || fatal;
	in_body = has_group && chance(&r, PPM / 2);
	if (n->parent != NULL)
		sibling_actions(n, &r);
	err = work(n, &r);
	if (err != NULL) /* cancelled: return the CancelledError */
		return task_finish(n, err);
	if (has_group)
		err = run_group(n, &r, fail && in_body, fatal);
	if (fail && !in_body)
		own = raise_own(n, fatal);
	return task_finish(n, combine(err, own));
}

/* ------------------------------------------------------------------ */
/* After the tree                                                       */

/* Counts the leaves of e by task id: children, contexts and causes
 * (a promoted fatal error keeps the others as its context). */
static void
count_leaves(struct tree *t, const tg_error *e)
{
	size_t i, n = tg_error_count(e);

	if (tg_error_is_group(e)) {
		for (i = 0; i < n; i++)
			count_leaves(t, tg_error_child(e, i));
	} else if (tg_error_is(e, &tg_TimeoutError)) {
		return; /* its cause is the CancelledError it converted */
		/* A group's own timeout: checked at its join. */
	} else if (is_cancel_leaf(e)) {
		violation(t, "error-multiset",
			  "a CancelledError is a leaf of the final error");
	} else if ((tg_error_is(e, &tg_ValueError) ||
		    tg_error_is(e, &tg_Interrupt)) &&
		   tg_error_code(e) >= 0 &&
		   (unsigned)tg_error_code(e) < t->used) {
		t->seen[tg_error_code(e)]++;
	} else {
		violation(t, "error-multiset", "unexpected leaf %s: %s",
			  tg_error_type_of(e)->name, tg_error_message(e));
	}
	if (tg_error_context(e) != NULL)
		count_leaves(t, tg_error_context(e));
	if (tg_error_cause(e) != NULL)
		count_leaves(t, tg_error_cause(e));
}

/* Does x's error reach the final tree?  Only a first-success group that
 * had a success drops errors, and never fatal ones. */
static bool
error_kept(const struct node *x)
{
	for (; x->parent != NULL; x = x->parent) {
		const struct group_rec *g = &x->parent->grp;

		if (g->policy == TG_POLICY_FIRST_SUCCESS && g->nsuccess > 0 &&
		    !x->ret_fatal)
			return false;
	}
	return true;
}

/* Cancellation events in the tree: each (group, reason) cancels once. */
static uint64_t
count_events(const struct node *n)
{
	const struct group_rec *g = &n->grp;
	unsigned causes = atomic_load(&g->causes);
	uint64_t e = 0;

	if (!g->open)
		return 0;
	e += (causes & CAUSE_FAIL) != 0;
	e += (causes & CAUSE_EXPLICIT) != 0;
	e += g->expired;
	/* A winner may be declared on any child that ran to its end. */
	e += g->policy == TG_POLICY_FIRST_SUCCESS &&
	     g->nsuccess + g->ncancel > 0;
	return e;
}

/* The checks on one node after the run; adds to the counts. */
static void
check_node(struct tree *t, const struct node *n, struct counts *c)
{
	unsigned st = atomic_load(&n->state);
	bool kept = n->raised && error_kept(n);

	switch (st) {
	case ST_DONE:
		c->ran++;
		c->tasks++;
		if (!n->finished || n->result != expected_result(n))
			violation(t, "join-waited",
				  "task %u's writes not visible after the run",
				  n->id);
		break;
	case ST_SKIPPED:
		c->skipped++;
		c->tasks++;
		break;
	case ST_REFUSED:
		c->refused++;
		break;
	default:
		violation(t, "exactly-once", "task %u is %s after the run",
			  n->id, state_name(st));
		break;
	}
	c->failed += n->raised;
	c->fatal += n->raised_fatal;
	c->dropped += n->raised && !kept;
	if (t->seen[n->id] == (uint32_t)kept)
		c->matched += kept;
	else
		violation(t, "error-multiset",
			  "task %u's error appears %u times in the final error, "
			  "expected %d (raised %d%s%s)", n->id, t->seen[n->id],
			  kept, n->raised, n->raised_in_body ? ", in its body" : "",
			  n->raised_fatal ? ", fatal" : "");
	c->events += count_events(n);
	c->timeouts += n->grp.join_kind == JK_TIMEOUT;
}

/* The run's result is the root's: tagged, or NULL. */
static void
check_root(struct tree *t, const tg_error *err)
{
	const struct node *root = &t->nodes[0];

	if (root->ret_kind == RET_NONE ? err != NULL
				       : err != root->ret || tag_of(err) != 0)
		violation(t, "join-result",
			  "the run returned %s (%p, tag %ld), not what the root "
			  "task returned (%s, %p)",
			  err != NULL ? tg_error_type_of(err)->name : "NULL",
			  (const void *)err, err != NULL ? tag_of(err) : -1L,
			  root->ret_kind == RET_NONE ? "NULL" : "an error",
			  (const void *)root->ret);
}

static void
check_tree(struct tree *t, const tg_error *err, struct counts *c)
{
	uint32_t used = atomic_load(&t->next_id), i;
	uint64_t slips = atomic_load(&t->slips);

	if (used > t->cap)
		used = t->cap;
	t->used = used;
	memset(t->seen, 0, used * sizeof(*t->seen));
	memset(c, 0, sizeof(*c));
	c->trees = 1;
	if (err != NULL)
		count_leaves(t, err);
	check_root(t, err);
	for (i = 0; i < used; i++)
		check_node(t, &t->nodes[i], c);
	c->slips = slips;
	c->full = atomic_load(&t->full);
	if (slips > (uint64_t)t->threads * c->events)
		violation(t, "cancel-bound",
			  "%" PRIu64 " bodies saw tg_cancelled() at their first "
			  "line; bound %d workers x %" PRIu64 " cancellation "
			  "events", slips, t->threads, c->events);
}

/* ------------------------------------------------------------------ */
/* Driver                                                               */

struct pool {
	int threads;
	tg_runner *runner;
	struct counts counts;
};

static struct {
	atomic_llong tree_start_ns; /* 0 between trees */
	atomic_ullong tree_index;
	atomic_int tree_threads;
} watch;

static void
print_replay(FILE *f, const struct config *cfg, uint64_t index, int threads)
{
	fprintf(f,
		"replay: tg-stress --seed %" PRIu64 " --tree %" PRIu64
		" --threads %d --depth %u --fail-rate %g --fatal-rate %g "
		"--max-children %u --max-tasks %u --stack-size %" PRIu64 "\n",
		cfg->seed, index, threads, cfg->depth,
		(double)cfg->fail_ppm / PPM, (double)cfg->fatal_ppm / PPM,
		cfg->max_children, cfg->max_tasks, cfg->stack_size);
}

/* A tree that never ends is a violation too (a join that hangs). */
static void *
watchdog(void *arg)
{
	const struct config *cfg = arg;

	for (;;) {
		long long start;

		sleep(1);
		start = atomic_load(&watch.tree_start_ns);
		if (start == 0 || now_ns() - start < cfg->tree_timeout_ns)
			continue;
		fprintf(stderr,
			"\ntg-stress: FAILED invariant progress: tree %llu "
			"(threads %d) still running after %.0f s (seed %" PRIu64
			")\n",
			(unsigned long long)atomic_load(&watch.tree_index),
			atomic_load(&watch.tree_threads),
			(double)cfg->tree_timeout_ns / NS_PER_S, cfg->seed);
		print_replay(stderr, cfg, atomic_load(&watch.tree_index),
			     atomic_load(&watch.tree_threads));
		fflush(stderr);
		_exit(1);
	}
	return NULL;
}

static void
report_violation(const struct tree *t, const tg_error *err)
{
	fprintf(stderr,
		"\ntg-stress: FAILED invariant %s: %s (seed %" PRIu64
		", tree %" PRIu64 ", threads %d)\n",
		t->invariant, t->detail, t->cfg->seed, t->index, t->threads);
	print_replay(stderr, t->cfg, t->index, t->threads);
	if (err != NULL) {
		fprintf(stderr, "the run's error:\n");
		tg_error_print(err, stderr);
	}
}

/* Runs tree `index` on pool p; false on a violation (reported). */
static bool
run_tree(struct tree *t, struct pool *p, uint64_t index, struct counts *c)
{
	struct node *root;
	tg_error *err;

	t->index = index;
	t->seed = mix(t->cfg->seed ^ mix(index));
	t->threads = p->threads;
	/* 0, 1/2, 1 or 3/2 times --fail-rate: some trees fail nowhere. */
	t->fail_ppm = (uint32_t)((uint64_t)t->cfg->fail_ppm * (t->seed % 4) / 2);
	atomic_store(&t->next_id, 0);
	atomic_store(&t->slips, 0);
	atomic_store(&t->full, 0);
	atomic_store(&t->claimed, false);
	atomic_store(&t->violated, false);
	root = new_node(t, NULL, 0, t->seed);
	atomic_store(&watch.tree_index, index);
	atomic_store(&watch.tree_threads, p->threads);
	atomic_store(&watch.tree_start_ns, now_ns());
	err = tg_runner_run(p->runner, task_main, root);
	atomic_store(&watch.tree_start_ns, 0);
	if (!atomic_load_explicit(&t->violated, memory_order_acquire))
		check_tree(t, err, c);
	if (atomic_load_explicit(&t->violated, memory_order_acquire)) {
		report_violation(t, err);
		tg_error_decref(err);
		return false;
	}
	tg_error_decref(err);
	return true;
}

static void
add_counts(struct counts *to, const struct counts *c)
{
	to->trees += c->trees;
	to->tasks += c->tasks;
	to->ran += c->ran;
	to->skipped += c->skipped;
	to->refused += c->refused;
	to->failed += c->failed;
	to->matched += c->matched;
	to->dropped += c->dropped;
	to->timeouts += c->timeouts;
	to->fatal += c->fatal;
	to->slips += c->slips;
	to->events += c->events;
	to->full += c->full;
}

/* Resident set size in KiB, from /proc/self/statm; 0 if unreadable. */
static uint64_t
rss_kib(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	unsigned long long size, resident;
	int ok;

	if (f == NULL)
		return 0;
	ok = fscanf(f, "%llu %llu", &size, &resident) == 2;
	fclose(f);
	return ok ? resident * (uint64_t)sysconf(_SC_PAGESIZE) / 1024 : 0;
}

/* Bytes malloc has handed out and not had back, in KiB (glibc); 0 when
 * unknown.  Separates a leak (this grows) from fragmentation (only RSS
 * grows). */
static uint64_t
heap_kib(void)
{
#ifdef HAVE_GLIBC_MALLOC
	struct mallinfo2 mi = mallinfo2();

	return (uint64_t)(mi.uordblks + mi.hblkhd) / 1024;
#else
	return 0;
#endif
}

/* Where the resident memory is, in KiB, from /proc/self/smaps: the main
 * heap, other anonymous memory (glibc's per-thread arenas and large
 * mmapped blocks), thread stacks (a read-write anonymous mapping right
 * above a small no-access guard), and the rest (code, data, the main
 * stack).  A diagnostic: it says which kind of memory grows. */
struct rss_parts {
	uint64_t heap, anon, stacks, other;
};

static void
rss_parts(struct rss_parts *p)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[512], perms[8] = "", prev_perms[8] = "";
	unsigned long long lo = 0, hi = 0, prev_lo = 0, prev_hi = 0, kib;
	uint64_t *into = &p->other;
	bool prev_anon = false;

	memset(p, 0, sizeof *p);
	if (f == NULL)
		return; /* all 0: the line then shows no breakdown */
	while (fgets(line, sizeof line, f) != NULL) {
		unsigned long long a, b;
		char pm[8];
		int path = 0;

		if (sscanf(line, "%llx-%llx %7s %*s %*s %*s %n", &a, &b, pm,
			   &path) >= 3 &&
		    path > 0) {
			bool anon = line[path] == '\n' || line[path] == '\0';

			prev_lo = lo;
			prev_hi = hi;
			memcpy(prev_perms, perms, sizeof perms);
			lo = a;
			hi = b;
			memcpy(perms, pm, sizeof perms);
			if (strncmp(line + path, "[heap]", 6) == 0)
				into = &p->heap;
			else if (!anon)
				into = &p->other;
			else if (prev_anon && prev_hi == lo &&
				 prev_perms[0] == '-' && prev_perms[1] == '-' &&
				 prev_hi - prev_lo <= 64 * 1024)
				into = &p->stacks;
			else
				into = &p->anon;
			prev_anon = anon;
			continue;
		}
		if (sscanf(line, "Rss: %llu kB", &kib) == 1)
			*into += kib;
	}
	fclose(f);
}

/* Gives what the library and the allocator keep for reuse back to the
 * system (tg_trim_memory, then glibc's malloc_trim): what RSS then counts
 * is memory the process holds, not what its caches kept after a peak. */
static void
trim_heap(void)
{
	(void)tg_trim_memory();
#ifdef HAVE_GLIBC_MALLOC
	malloc_trim(0);
#endif
}

struct rss_log {
	int64_t next_ns;
	uint64_t baseline, last, max;
	uint64_t raw_baseline, raw_last; /* with --rss-trim: before the trim */
	uint64_t heap_baseline, heap_last;
	int samples, after_warmup;
};

static void
rss_sample(const struct config *cfg, struct rss_log *l, int64_t elapsed)
{
	uint64_t raw = rss_kib(), kib = raw, heap = heap_kib();

	if (cfg->rss_trim) {
		trim_heap();
		kib = rss_kib();
	}
	l->samples++;
	l->last = kib;
	l->raw_last = raw;
	l->heap_last = heap;
	l->next_ns += cfg->rss_interval_ns;
	if (elapsed < cfg->rss_warmup_ns || l->baseline == 0) {
		if (elapsed >= cfg->rss_warmup_ns) {
			l->baseline = kib;
			l->raw_baseline = raw;
			l->heap_baseline = heap;
		}
		l->max = kib;
	} else {
		l->after_warmup++;
		if (kib > l->max)
			l->max = kib;
	}
	if (!cfg->quiet) {
		struct rss_parts parts;

		char before[64] = "";

		if (cfg->rss_trim)
			snprintf(before, sizeof before,
				 " after the trim, %" PRIu64 " KiB before",
				 raw);
		rss_parts(&parts);
		fprintf(stderr,
			"%stg-stress: rss %" PRIu64 " KiB%s (heap %" PRIu64
			", other anonymous %" PRIu64 ", thread stacks %" PRIu64
			", files and main stack %" PRIu64 "), malloc in use %" PRIu64
			" KiB at %.0f s%s\n",
			isatty(2) ? "\r\033[K" : "", kib, before, parts.heap,
			parts.anon, parts.stacks, parts.other, heap,
			(double)elapsed / NS_PER_S,
			l->baseline == kib && l->after_warmup == 0 ? " (baseline)"
								   : "");
	}
}

static double
growth_pct(uint64_t baseline, uint64_t last)
{
	if (baseline == 0)
		return 0.0;
	return 100.0 * ((double)last - (double)baseline) / (double)baseline;
}

static double
rss_growth(const struct rss_log *l)
{
	return l->after_warmup == 0 ? 0.0 : growth_pct(l->baseline, l->last);
}

static void
progress(const struct config *cfg, uint64_t done, const struct counts *tot,
	 int64_t elapsed)
{
	double frac = cfg->trees != 0 ? (double)done / (double)cfg->trees
				       : (double)elapsed / (double)cfg->duration_ns;
	int width = 30, fill, i;
	char bar[31];

	if (frac > 1.0)
		frac = 1.0;
	fill = (int)(frac * width);
	for (i = 0; i < width; i++)
		bar[i] = i < fill ? '#' : '.';
	bar[width] = '\0';
	fprintf(stderr,
		"\r\033[K[%s] %3.0f%%  trees %" PRIu64 "  tasks %" PRIu64
		"  %.1f s",
		bar, frac * 100.0, done, tot->tasks, (double)elapsed / NS_PER_S);
	fflush(stderr);
}

static void
print_summary(const struct config *cfg, const struct counts *tot,
	      const struct pool *pools, int64_t elapsed)
{
	double secs = (double)elapsed / NS_PER_S;
	int i;

	printf("tg-stress: ok: seed %" PRIu64 ", trees %" PRIu64 ", tasks %" PRIu64
	       " (ran %" PRIu64 ", skipped %" PRIu64 "), refused %" PRIu64
	       ", failed %" PRIu64 " (fatal %" PRIu64 "), errors matched %" PRIu64
	       ", dropped by a winner %" PRIu64 ", timeouts %" PRIu64
	       ", first-line cancels %" PRIu64 " (events %" PRIu64 ")",
	       cfg->seed, tot->trees, tot->tasks, tot->ran, tot->skipped,
	       tot->refused, tot->failed, tot->fatal, tot->matched,
	       tot->dropped, tot->timeouts, tot->slips, tot->events);
	if (tot->full != 0)
		printf(", spawns left out (--max-tasks) %" PRIu64, tot->full);
	printf(", pools");
	for (i = 0; i < cfg->npools; i++)
		printf("%s%dt: %" PRIu64 " trees/%" PRIu64 " tasks",
		       i == 0 ? " " : ", ", pools[i].threads,
		       pools[i].counts.trees, pools[i].counts.tasks);
	printf(", elapsed %.2f s (%.0f tasks/s)\n", secs,
	       secs > 0 ? (double)tot->tasks / secs : 0.0);
}

/* ------------------------------------------------------------------ */
/* Options                                                              */

static void
usage(FILE *f)
{
	fputs("usage: tg-stress [options]\n"
	      "Random task trees (spawn, fail, cancel, nested groups, "
	      "deadlines, policies,\nconcurrency limits) checked by an "
	      "oracle.  Prints the seed first.\n\n"
	      "  --seed S            seed (default: from the clock)\n"
	      "  --threads N[,N...]  pool sizes, trees rotate over them "
	      "(default 1,2,8)\n"
	      "  --trees N           trees to run (default 1000; with "
	      "--duration: no limit)\n"
	      "  --duration D        run for D (30s, 20m, 1h; default: none)\n"
	      "  --tree I            run only tree I (replays one tree of a "
	      "seed)\n"
	      "  --depth D           maximum nesting depth (default 8)\n"
	      "  --fail-rate P       task failure probability, 0..1 or N% "
	      "(default 0.05)\n"
	      "  --fatal-rate P      fatal (tg_Interrupt) failures, per task "
	      "(default 0.0005)\n"
	      "  --max-children N    children per group, 1..64 (default 6)\n"
	      "  --max-tasks N       tasks per tree at most (default 4000)\n"
	      "  --tree-timeout D    a tree running longer is a hang "
	      "(default 120s)\n"
	      "  --stack-size B      each worker's stack, in bytes "
	      "(default 0: the system's)\n"
	      "  --rss               sample RSS every --rss-interval and "
	      "report its growth\n"
	      "                      after --rss-warmup\n"
	      "  --rss-interval D    time between RSS samples (default 1m)\n"
	      "  --rss-warmup D      baseline: the first sample after D "
	      "(default 1m)\n"
	      "  --max-rss-growth P  with --rss: fail if RSS grew more than "
	      "P percent\n"
	      "  --rss-trim          with --rss: give cached memory back "
	      "(tg_trim_memory and,\n"
	      "                      with glibc, malloc_trim) before each "
	      "sample; the growth\n"
	      "                      is then measured after it\n"
	      "  --quiet             no progress bar, only the seed and the "
	      "summary\n"
	      "  --help              this text\n\n"
	      "Exit status: 0 all invariants held, 1 a violation (named, with "
	      "the seed and\nthe tree to replay), 2 usage error.\n",
	      f);
}

static void
usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "tg-stress: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n(tg-stress --help for the options)\n");
	exit(2);
}

static uint64_t
parse_u64(const char *s, const char *opt, uint64_t min, uint64_t max)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || v < min ||
	    v > max)
		usage_error("bad value for %s", opt);
	return v;
}

/* "30s", "20m", "1h", "500ms", or plain seconds. */
static int64_t
parse_duration(const char *s, const char *opt)
{
	char *end;
	double v;
	double unit = 1.0;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || v < 0)
		usage_error("bad duration for %s (e.g. 30s, 20m, 1h)", opt);
	if (strcmp(end, "ms") == 0)
		unit = 1e-3;
	else if (strcmp(end, "m") == 0 || strcmp(end, "min") == 0)
		unit = 60.0;
	else if (strcmp(end, "h") == 0)
		unit = 3600.0;
	else if (strcmp(end, "s") != 0 && *end != '\0')
		usage_error("bad duration for %s (e.g. 30s, 20m, 1h)", opt);
	if (v * unit > 1e7)
		usage_error("duration too long for %s", opt);
	return (int64_t)(v * unit * (double)NS_PER_S);
}

/* A probability: "0.05" or "5%". */
static uint32_t
parse_rate(const char *s, const char *opt)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno == 0 && end != s && *end == '%') {
		v /= 100.0;
		end++;
	}
	if (errno != 0 || end == s || *end != '\0' || !(v >= 0.0 && v <= 1.0))
		usage_error("bad probability for %s (0..1 or N%%)", opt);
	return (uint32_t)(v * PPM + 0.5);
}

/* A percentage: "1" or "1%". */
static double
parse_percent(const char *s, const char *opt)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno == 0 && end != s && *end == '%')
		end++;
	if (errno != 0 || end == s || *end != '\0' || !(v >= 0.0 && v <= 1000.0))
		usage_error("bad percentage for %s", opt);
	return v;
}

static void
parse_threads(struct config *cfg, const char *s)
{
	char buf[256], *tok, *save = NULL;

	if (strlen(s) >= sizeof(buf))
		usage_error("bad value for %s", "--threads");
	strcpy(buf, s);
	cfg->npools = 0;
	for (tok = strtok_r(buf, ",", &save); tok != NULL;
	     tok = strtok_r(NULL, ",", &save)) {
		if (cfg->npools == MAX_POOLS)
			usage_error("too many pool sizes for %s", "--threads");
		cfg->threads[cfg->npools++] =
			(int)parse_u64(tok, "--threads", 1, TG_MAX_THREADS);
	}
	if (cfg->npools == 0)
		usage_error("bad value for %s", "--threads");
}

enum {
	OPT_SEED = 256, OPT_THREADS, OPT_TREES, OPT_DURATION, OPT_TREE,
	OPT_DEPTH, OPT_FAIL, OPT_FATAL, OPT_CHILDREN, OPT_TASKS,
	OPT_TREE_TIMEOUT, OPT_RSS, OPT_RSS_INTERVAL, OPT_RSS_WARMUP,
	OPT_RSS_GROWTH, OPT_RSS_TRIM, OPT_QUIET, OPT_STACK, OPT_HELP
};

static void
parse_args(struct config *cfg, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "seed", required_argument, NULL, OPT_SEED },
		{ "threads", required_argument, NULL, OPT_THREADS },
		{ "trees", required_argument, NULL, OPT_TREES },
		{ "duration", required_argument, NULL, OPT_DURATION },
		{ "tree", required_argument, NULL, OPT_TREE },
		{ "depth", required_argument, NULL, OPT_DEPTH },
		{ "fail-rate", required_argument, NULL, OPT_FAIL },
		{ "fatal-rate", required_argument, NULL, OPT_FATAL },
		{ "max-children", required_argument, NULL, OPT_CHILDREN },
		{ "max-tasks", required_argument, NULL, OPT_TASKS },
		{ "tree-timeout", required_argument, NULL, OPT_TREE_TIMEOUT },
		{ "rss", no_argument, NULL, OPT_RSS },
		{ "rss-interval", required_argument, NULL, OPT_RSS_INTERVAL },
		{ "rss-warmup", required_argument, NULL, OPT_RSS_WARMUP },
		{ "max-rss-growth", required_argument, NULL, OPT_RSS_GROWTH },
		{ "rss-trim", no_argument, NULL, OPT_RSS_TRIM },
		{ "quiet", no_argument, NULL, OPT_QUIET },
		{ "stack-size", required_argument, NULL, OPT_STACK },
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 }
	};
	bool seeded = false, trees_set = false;
	int c;

	*cfg = (struct config){
		.threads = { 1, 2, 8 }, .npools = 3, .only_tree = -1,
		.depth = 8, .fail_ppm = 50000, .fatal_ppm = 500,
		.max_children = 6, .max_tasks = 4000,
		.tree_timeout_ns = 120 * NS_PER_S,
		.rss_interval_ns = 60 * NS_PER_S,
		.rss_warmup_ns = 60 * NS_PER_S, .max_rss_growth = -1.0,
	};
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case OPT_SEED:
			cfg->seed = parse_u64(optarg, "--seed", 0, UINT64_MAX);
			seeded = true;
			break;
		case OPT_THREADS:
			parse_threads(cfg, optarg);
			break;
		case OPT_TREES:
			cfg->trees = parse_u64(optarg, "--trees", 1, UINT64_MAX);
			trees_set = true;
			break;
		case OPT_DURATION:
			cfg->duration_ns = parse_duration(optarg, "--duration");
			if (cfg->duration_ns == 0)
				usage_error("bad duration for %s", "--duration");
			break;
		case OPT_TREE:
			cfg->only_tree = (int64_t)parse_u64(optarg, "--tree", 0,
							    INT64_MAX);
			break;
		case OPT_DEPTH:
			cfg->depth = (uint32_t)parse_u64(optarg, "--depth", 0, 32);
			break;
		case OPT_FAIL:
			cfg->fail_ppm = parse_rate(optarg, "--fail-rate");
			break;
		case OPT_FATAL:
			cfg->fatal_ppm = parse_rate(optarg, "--fatal-rate");
			break;
		case OPT_CHILDREN:
			cfg->max_children = (uint32_t)parse_u64(
				optarg, "--max-children", 1, 64);
			break;
		case OPT_TASKS:
			cfg->max_tasks = (uint32_t)parse_u64(
				optarg, "--max-tasks", 1, 1u << 24);
			break;
		case OPT_TREE_TIMEOUT:
			cfg->tree_timeout_ns =
				parse_duration(optarg, "--tree-timeout");
			break;
		case OPT_RSS_TRIM:
			cfg->rss_trim = true;
			break;
		case OPT_RSS:
			cfg->rss = true;
			break;
		case OPT_RSS_INTERVAL:
			cfg->rss_interval_ns =
				parse_duration(optarg, "--rss-interval");
			if (cfg->rss_interval_ns < NS_PER_S / 10)
				usage_error("%s must be at least 100ms",
					    "--rss-interval");
			break;
		case OPT_RSS_WARMUP:
			cfg->rss_warmup_ns = parse_duration(optarg, "--rss-warmup");
			break;
		case OPT_RSS_GROWTH:
			cfg->max_rss_growth =
				parse_percent(optarg, "--max-rss-growth");
			break;
		case OPT_QUIET:
			cfg->quiet = true;
			break;
		case OPT_STACK:
			/* tg_runner_create refuses sizes below its minimum. */
			cfg->stack_size = parse_u64(optarg, "--stack-size", 0,
						    SIZE_MAX);
			break;
		case OPT_HELP:
			usage(stdout);
			exit(0);
		default:
			fprintf(stderr, "(tg-stress --help for the options)\n");
			exit(2);
		}
	}
	if (optind < argc)
		usage_error("unexpected argument %s", argv[optind]);
	if (cfg->only_tree >= 0 && cfg->npools != 1)
		usage_error("%s needs a single --threads value", "--tree");
	if (cfg->max_rss_growth >= 0 && !cfg->rss)
		usage_error("%s needs --rss", "--max-rss-growth");
	if (cfg->rss_trim && !cfg->rss)
		usage_error("%s needs --rss", "--rss-trim");
	if (!seeded)
		cfg->seed = mix((uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32)) %
			    1000000000u;
	if (cfg->only_tree >= 0)
		cfg->trees = 1;
	else if (!trees_set && cfg->duration_ns == 0)
		cfg->trees = 1000;
}

/* ------------------------------------------------------------------ */

static bool
create_pools(const struct config *cfg, struct pool *pools)
{
	int i, rc;

	for (i = 0; i < cfg->npools; i++) {
		tg_runner_config rcfg = { .threads = cfg->threads[i],
					  .stack_size =
						  (size_t)cfg->stack_size };

		pools[i].threads = cfg->threads[i];
		rc = tg_runner_create(&pools[i].runner, &rcfg);
		if (rc != TG_OK) {
			fprintf(stderr, "tg-stress: cannot create a pool of %d "
				"threads: %s\n", cfg->threads[i],
				tg_strerror(rc));
			return false;
		}
	}
	return true;
}

static void
destroy_pools(const struct config *cfg, struct pool *pools)
{
	int i;

	for (i = 0; i < cfg->npools; i++)
		if (pools[i].runner != NULL &&
		    tg_runner_destroy(pools[i].runner) != TG_OK)
			fprintf(stderr, "tg-stress: tg_runner_destroy failed\n");
}

/* The pool tree `index` runs on: blocks of POOL_BLOCK trees per pool. */
static struct pool *
pool_for(const struct config *cfg, struct pool *pools, uint64_t index)
{
	return &pools[(index / POOL_BLOCK) % (uint64_t)cfg->npools];
}

/* The loop over trees; returns the exit status. */
static int
run_all(const struct config *cfg, struct pool *pools, struct tree *t)
{
	struct counts tot = { 0 }, c;
	struct rss_log rss = { 0 };
	bool bar = !cfg->quiet && isatty(2);
	int64_t start = now_ns(), last_bar = 0, elapsed = 0;
	uint64_t done = 0, index;

	rss.next_ns = cfg->rss_interval_ns;
	for (;;) {
		if (cfg->trees != 0 && done >= cfg->trees)
			break;
		if (cfg->duration_ns != 0 && elapsed >= cfg->duration_ns)
			break;
		index = cfg->only_tree >= 0 ? (uint64_t)cfg->only_tree : done;
		/* --tree with one pool size replays on that size. */
		if (!run_tree(t, cfg->only_tree >= 0 ? &pools[0]
						     : pool_for(cfg, pools, index),
			      index, &c))
			return 1;
		add_counts(&tot, &c);
		add_counts(&(cfg->only_tree >= 0 ? &pools[0]
						 : pool_for(cfg, pools, index))->counts,
			   &c);
		done++;
		elapsed = now_ns() - start;
		if (cfg->rss && elapsed >= rss.next_ns)
			rss_sample(cfg, &rss, elapsed);
		if (bar && elapsed - last_bar > NS_PER_S / 10) {
			progress(cfg, done, &tot, elapsed);
			last_bar = elapsed;
		}
	}
	if (bar)
		fprintf(stderr, "\r\033[K");
	print_summary(cfg, &tot, pools, elapsed);
	if (!cfg->rss)
		return 0;
	if (rss.after_warmup == 0) {
		printf("tg-stress: rss: %d samples, none after the warm-up: no "
		       "growth figure\n", rss.samples);
		return cfg->max_rss_growth >= 0 ? 1 : 0;
	}
	printf("tg-stress: rss: baseline %" PRIu64 " KiB after %.0f s warm-up, "
	       "last %" PRIu64 " KiB, max %" PRIu64 " KiB, growth %+.2f%% over "
	       "%d samples; malloc in use %" PRIu64 " -> %" PRIu64 " KiB\n",
	       rss.baseline, (double)cfg->rss_warmup_ns / NS_PER_S, rss.last,
	       rss.max, rss_growth(&rss), rss.after_warmup, rss.heap_baseline,
	       rss.heap_last);
	if (cfg->rss_trim)
		printf("tg-stress: rss: measured after the trim; before it: "
		       "baseline %" PRIu64 " KiB, last %" PRIu64 " KiB, growth "
		       "%+.2f%%\n", rss.raw_baseline, rss.raw_last,
		       growth_pct(rss.raw_baseline, rss.raw_last));
	if (cfg->max_rss_growth >= 0 && rss_growth(&rss) > cfg->max_rss_growth) {
		printf("tg-stress: FAILED invariant rss-growth: %+.2f%% > %.2f%% "
		       "(seed %" PRIu64 ")\n", rss_growth(&rss),
		       cfg->max_rss_growth, cfg->seed);
		return 1;
	}
	return 0;
}

/* Makes every page of p resident now.  The oracle's arrays are sized for
 * the largest tree (--max-tasks) but calloc leaves their pages untouched
 * until a tree uses them, so without this the tool's own RSS would climb
 * each time a tree larger than any before it came: growth that --rss
 * would blame on the library.  Writes through a volatile pointer, which
 * the compiler cannot drop as redundant after calloc. */
static void
prefault(void *p, size_t bytes)
{
	volatile unsigned char *v = p;
	size_t i;

	for (i = 0; i < bytes; i += 4096)
		v[i] = 0;
}

int
main(int argc, char **argv)
{
	static struct config cfg;
	struct pool pools[MAX_POOLS] = { 0 };
	struct tree t = { 0 };
	pthread_t wd;
	int status;

	parse_args(&cfg, argc, argv);
	printf("tg-stress: seed %" PRIu64 " (replay with --seed %" PRIu64 ")\n",
	       cfg.seed, cfg.seed);
	fflush(stdout);
	t.cfg = &cfg;
	t.cap = cfg.max_tasks;
	t.nodes = calloc(cfg.max_tasks, sizeof(*t.nodes));
	t.seen = calloc(cfg.max_tasks, sizeof(*t.seen));
	if (t.nodes == NULL || t.seen == NULL) {
		fprintf(stderr, "tg-stress: out of memory\n");
		return 1;
	}
	if (cfg.rss) {
		prefault(t.nodes, cfg.max_tasks * sizeof(*t.nodes));
		prefault(t.seen, cfg.max_tasks * sizeof(*t.seen));
	}
	if (pthread_create(&wd, NULL, watchdog, &cfg) != 0 ||
	    pthread_detach(wd) != 0) {
		fprintf(stderr, "tg-stress: cannot start the watchdog\n");
		return 1;
	}
	if (!create_pools(&cfg, pools)) {
		destroy_pools(&cfg, pools);
		return 1;
	}
	status = run_all(&cfg, pools, &t);
	fflush(stdout);
	if (status == 1 && atomic_load(&t.violated)) {
		/* Tasks of a broken tree may still hold the pools: do not
		 * wait for them. */
		fflush(stderr);
		_exit(1);
	}
	destroy_pools(&cfg, pools);
	free(t.nodes);
	free(t.seen);
	return status;
}
