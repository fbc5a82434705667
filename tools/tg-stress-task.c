/*
 * tg-stress-task.c - the task every node of a tree runs: its start and
 * end (exactly-once, the tag on what it returns), its spawns (one by
 * one, in batches, into its parent's group), its group (policy, limit,
 * deadline, wide or not, barrier parties among the children), checkpoints
 * and blocking, and its failures.  Every decision comes from the node's
 * own seed.
 */
#include <inttypes.h>
#include <string.h>
#include <unistd.h>

#include "tg-stress.h"

const char NAME_ONE[] = "tg-stress";
const char NAME_BATCH[] = "tg-stress batch";

/* ------------------------------------------------------------------ */
/* Spawning                                                             */

/* Reserves k consecutive nodes (a batch's args are an array), all or
 * none; NULL when the tree has no room for them. */
struct node *
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
		n->party = -1;
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

/* Spawns c (a node of owner's group) into owner's group, by owner or by
 * a child of it.  must_refuse: the owner cancelled the group itself (or
 * set a deadline in the past), so the spawn has to be refused. */
void
spawn_node(struct node *spawner, struct node *owner, struct node *c,
	   struct rng *r, bool must_refuse)
{
	struct tree *t = spawner->tree;
	struct group_rec *g = &owner->grp;
	bool try_spawn = g->limit > 0 && chance(r, 400000);
	uint32_t how = below(r, 4);
	int rc;

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

/* A new child with its seed, spawned as spawn_node does; nothing when the
 * tree is full (--max-tasks). */
static void
spawn_child(struct node *spawner, struct node *owner, uint64_t seed,
	    struct rng *r, bool must_refuse)
{
	struct node *c = new_node(spawner->tree, owner, spawner->depth + 1, seed);

	if (c != NULL)
		spawn_node(spawner, owner, c, r, must_refuse);
}

/* Spawns the k consecutive nodes from first into owner's group with one
 * tg_spawn_each (the args are an array of them), by owner or by a child
 * of it; must_refuse as in spawn_node. */
void
spawn_batch_nodes(struct node *spawner, struct node *owner,
		  struct node *first, uint32_t k, bool must_refuse)
{
	struct tree *t = spawner->tree;
	struct group_rec *g = &owner->grp;
	uint32_t j;
	bool named;
	int rc;

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

/* k new children spawned with one tg_spawn_each; nothing when the tree
 * has no room for all of them. */
static void
spawn_batch(struct node *spawner, struct node *owner, uint64_t seed,
	    uint32_t k, bool must_refuse)
{
	struct node *first = new_nodes(spawner->tree, owner, spawner->depth + 1,
				       seed, k);

	if (first != NULL)
		spawn_batch_nodes(spawner, owner, first, k, must_refuse);
}

/* ------------------------------------------------------------------ */
/* Deadlines                                                            */
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

/* The group's policy, limit and deadline; whether it is wide (many
 * children that fail often: joins of hundreds of errors, and bursts of
 * spawns that grow the owner's deque while thieves steal) and whether
 * some of its children are barrier parties. */
static void
pick_group_options(struct node *n, struct rng *r)
{
	const struct config *cfg = n->tree->cfg;
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
	g->wide = chance(r, cfg->wide_ppm);
	if (g->wide) {
		/* Mostly collect-all, where every failure is kept: a join
		 * of hundreds of errors.  Few limits: a limited wide group
		 * queues its children on the pending list, not the deque. */
		g->policy = p < 6   ? TG_POLICY_COLLECT_ALL
			    : p < 8 ? TG_POLICY_FAIL_FAST
				    : TG_POLICY_FIRST_SUCCESS;
		if (g->limit > 0 && !chance(r, 400000))
			g->limit = 0;
	} else if (chance(r, cfg->barrier_ppm) && barrier_open(n, r)) {
		g->limit = 0; /* parties beyond a limit would wait forever */
	}
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

/* How many children the owner spawns: 1..--max-children, or for a wide
 * group --wide-children/2 .. --wide-children (past the deque's initial
 * 256 slots with the default 600). */
static uint32_t
pick_children(const struct config *cfg, const struct group_rec *g,
	      struct rng *r)
{
	uint32_t half = cfg->wide_children / 2;

	if (!g->wide)
		return 1 + below(r, cfg->max_children);
	return half + below(r, cfg->wide_children - half + 1);
}

/* Opens, fills and joins n's group; returns the join's result. */
static tg_error *
run_group(struct node *n, struct rng *r, bool body_fail, bool fatal)
{
	const struct config *cfg = n->tree->cfg;
	struct group_rec *g = &n->grp;
	tg_group_options opts = { 0 };
	bool refuse, parties_spawned;
	uint32_t k, i, bar_at;
	int rc;
	tg_error *err;

	pick_group_options(n, r);
	opts.policy = g->policy;
	opts.limit = g->limit;
	opts.name = "tg-stress";
	rc = tg_group_init(&g->handle, &opts);
	if (rc != TG_OK) {
		api_check(n, "tg_group_init", rc, TG_OK);
		if (g->bar != NULL)
			barrier_close(n);
		g->bar = NULL;
		return NULL;
	}
	g->open = true;
	refuse = setup_deadline(n, r);
	if (chance(r, 20000)) {
		cancel_own_group(n);
		refuse = true;
	}
	k = pick_children(cfg, g, r);
	/* The parties go in among the children, before child bar_at. */
	bar_at = g->bar != NULL ? below(r, k) : UINT32_MAX;
	parties_spawned = false;
	for (i = 0; i < k; i++) {
		if (!parties_spawned && i >= bar_at) {
			barrier_spawn(n, r, refuse);
			parties_spawned = true;
		}
		/* A wide group spawns one by one, mostly (the deque grows),
		 * with a few batches of up to 64. */
		if (k - i >= 2 && chance(r, g->wide ? 10000 : 150000)) {
			/* The next 2..k - i children in one call. */
			uint32_t m = 2 + below(r, g->wide && k - i - 1 > 63
							  ? 63 : k - i - 1);

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
	if (g->bar != NULL) {
		if (!parties_spawned)
			barrier_spawn(n, r, refuse);
		barrier_owner(n);
	}
	err = tg_group_join(&g->handle, body_error(n, r, body_fail, fatal));
	after_join(n, err);
	if (g->bar != NULL) {
		barrier_check(n);
		barrier_close(n);
	}
	return err;
}

/* A blocking region around a plain sleep that nothing interrupts (its
 * worker's queue goes to the pool meanwhile), sometimes nested, with the
 * documented answers of tg_blocking_begin, _end and _depth. */
static void
blocking_region(struct node *n, struct rng *r)
{
	int depth = tg_blocking_depth();
	bool nest = chance(r, 250000);

	if (depth == 0 && chance(r, 125000))
		api_check(n, "tg_blocking_end (unmatched)", tg_blocking_end(),
			  TG_ESTATE);
	api_check(n, "tg_blocking_begin", tg_blocking_begin(), TG_OK);
	if (nest)
		api_check(n, "tg_blocking_begin (nested)", tg_blocking_begin(),
			  TG_OK);
	if (tg_blocking_depth() != depth + 1 + nest)
		violation(n->tree, "api",
			  "task %u: tg_blocking_depth %d inside %d region(s) "
			  "opened at depth %d", n->id, tg_blocking_depth(),
			  1 + nest, depth);
	usleep(below(r, 200));
	if (nest)
		api_check(n, "tg_blocking_end (nested)", tg_blocking_end(),
			  TG_OK);
	api_check(n, "tg_blocking_end", tg_blocking_end(), TG_OK);
	if (tg_blocking_depth() != depth)
		violation(n->tree, "api",
			  "task %u: tg_blocking_depth %d after its regions, %d "
			  "before", n->id, tg_blocking_depth(), depth);
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
	 * checkpoint (1 in 8 with a time <= 0: a checkpoint that lets
	 * others run), or a blocking region. */
	if (chance(r, 30000)) {
		if (chance(r, PPM / 2)) {
			int64_t ns = chance(r, 125000)
					     ? -(int64_t)below(r, 2)
					     : 1000 + (int64_t)below(r, 50000);
			tg_error *c = tg_sleep(ns);

			if (c != NULL) {
				if (!is_cancel_leaf(c))
					violation(n->tree, "api",
						  "task %u: tg_sleep returned "
						  "%s", n->id,
						  tg_error_type_of(c)->name);
				saw_cancel(n, n->parent, "in tg_sleep");
				return c;
			}
		} else {
			blocking_region(n, r);
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
			saw_cancel(n, n->parent, "at a checkpoint");
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
	/* 1 in 200; in a wide group 1 in 200,000, so that a group of
	 * hundreds is not nearly always cancelled by one of its children. */
	if (chance(r, p->grp.wide ? 5 : 5000)) {
		atomic_fetch_or(&p->grp.causes, CAUSE_EXPLICIT);
		api_check(n, "tg_group_cancel (by a child)",
			  tg_group_cancel(&p->grp.handle), TG_OK);
	}
}

/* The workers a tree's bodies ran on (compensating workers included):
 * cancel-bound allows one body per worker per cancellation event. */
static void
note_worker(struct node *n)
{
	struct tree *t = n->tree;
	int w = tg_current_worker() + 1;
	/* relaxed: a maximum read after the run (tg_runner_run returned). */
	int seen = atomic_load_explicit(&t->workers, memory_order_relaxed);

	if (w < 1 || w > t->threads + TG_MAX_BLOCKING_DEFAULT)
		violation(t, "api", "task %u runs on worker %d of a pool of %d "
			  "threads", n->id, w - 1, t->threads);
	while (w > seen &&
	       !atomic_compare_exchange_weak_explicit(&t->workers, &seen, w,
						      memory_order_relaxed,
						      memory_order_relaxed))
		;
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
		saw_cancel(n, n->parent, "at its first line");
	}
	note_worker(n);
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
	/* relaxed: the stall watch only looks for a change. */
	atomic_fetch_add_explicit(&t->progress, 1, memory_order_relaxed);
	return err;
}

tg_error *
task_main(void *arg)
{
	/* The very first line: a body that starts in a cancelled scope
	 * slipped past the pre-start check (cancel-bound). */
	bool cancelled = tg_cancelled();
	struct node *n = arg;
	const struct config *cfg = n->tree->cfg;
	struct rng r = { n->seed };
	/* A wide group's children are leaves that fail half the time
	 * (unless --fail-rate is 0). */
	bool wide = n->parent != NULL && n->parent->grp.wide;
	bool has_group, fail, fatal, in_body;
	tg_error *err, *own = NULL;

	task_start(n, cancelled);
	n->result = expected_result(n);
	has_group = !wide && n->depth < cfg->depth &&
		    (n->depth == 0 || chance(&r, 650000));
	fail = chance(&r, wide && cfg->fail_ppm != 0 ? WIDE_FAIL_PPM
						      : n->tree->fail_ppm);
	fatal = chance(&r, cfg->fatal_ppm);
	fail = fail || fatal;
	in_body = has_group && chance(&r, PPM / 2);
	/* A party waits first: nothing but a cancellation may keep it from
	 * its rounds, or the others would wait for ever. */
	if (n->party >= 0 && (err = barrier_rounds(n)) != NULL)
		return task_finish(n, err);
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
