/*
 * tg-stress-check.c - the oracle: what the owner checks right after each
 * join (its children's plain writes, the join's result, placement and
 * order of its sub-errors, the deadline, the winner), and what the main
 * thread checks after each tree (the multiset of the final error's
 * leaves, exactly-once, the cancellation bound).  docs/tg-stress.md
 * explains each invariant.
 */
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "tg-stress.h"

/* ------------------------------------------------------------------ */
/* Small helpers                                                        */

const char *
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

const char *
policy_name(int p)
{
	return p == TG_POLICY_FAIL_FAST	      ? "fail-fast"
	       : p == TG_POLICY_COLLECT_ALL ? "collect-all"
					    : "first-success";
}

/* Records the tree's first violation (any thread); the run goes on and
 * the main thread reports it after the run. */
void
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
long
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

bool
is_cancel_leaf(const tg_error *e)
{
	return e != NULL && !tg_error_is_group(e) &&
	       tg_error_is(e, &tg_CancelledError);
}

/* The task id a task's tag note names; -1 when untagged.  The last tag
 * wins (a promoted fatal error carries its whole chain). */
long
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

/* Does the group of `scope` (or an enclosing one) have a cause?  Every
 * cause is set before the cancellation it may trigger, and a checkpoint
 * that sees a cancellation synchronises with it. */
bool
cause_in_chain(const struct node *scope)
{
	for (; scope != NULL; scope = scope->parent)
		if (atomic_load(&scope->grp.causes) != 0)
			return true;
	return false;
}

/* cancel-downwards: n saw a cancellation in the group owned by scope. */
void
saw_cancel(struct node *n, const struct node *scope, const char *where)
{
	if (!cause_in_chain(scope))
		violation(n->tree, "cancel-downwards",
			  "task %u saw tg_cancelled() %s, but neither %s%u's "
			  "group nor any enclosing group had a cause",
			  n->id, where, scope != NULL ? "task " : "(root) ",
			  scope != NULL ? scope->id : 0);
}


void
api_check(struct node *n, const char *call, int rc, int want)
{
	if (rc != want)
		violation(n->tree, "api", "task %u: %s returned %s, expected %s",
			  n->id, call, tg_status_name(rc), tg_status_name(want));
}

/* A short timeout: long enough that some children start, short enough
 * that many groups expire while children run. */
/* ------------------------------------------------------------------ */
/* After a join: the children, the result, the winner                   */

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
void
after_join(struct node *n, const tg_error *err)
{
	struct group_rec *g = &n->grp;

	g->join_kind = classify_join(err);
	g->expired = tg_group_expired(&g->handle);
	g->outer_cancelled = tg_cancelled();
	if (g->outer_cancelled)
		saw_cancel(n, n->parent, "after its join");
	check_children(n);
	check_deadline_after(n);
	check_join_result(n, err);
	check_winner(n);
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
	if (n->grp.open && n->grp.wide) {
		c->wide++;
		if (n->grp.nreal > c->wide_max)
			c->wide_max = n->grp.nreal;
	}
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

void
check_tree(struct tree *t, const tg_error *err, struct counts *c)
{
	uint32_t used = atomic_load(&t->next_id), i;
	uint64_t slips = atomic_load(&t->slips);
	unsigned nbar = atomic_load(&t->nbarriers);
	int workers = atomic_load(&t->workers);

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
	c->stalls = atomic_load(&t->stalls);
	for (i = 0; i < nbar && i < BARRIERS_PER_TREE; i++) {
		c->barriers += t->bars[i].made;
		c->rounds += (uint64_t)t->bars[i].released;
	}
	/* One body per worker per event: the pool's workers, and the
	 * compensating workers the tree's blocking started. */
	if (workers < t->threads)
		workers = t->threads;
	if (slips > (uint64_t)workers * c->events)
		violation(t, "cancel-bound",
			  "%" PRIu64 " bodies saw tg_cancelled() at their first "
			  "line; bound %d workers x %" PRIu64 " cancellation "
			  "events", slips, workers, c->events);
}
