/*
 * tg-stress-barrier.c - barrier parties among a group's children, and
 * their oracle.
 *
 * A group with a barrier (--barrier-rate, no concurrency limit: a party
 * waiting beyond a limit would hold a slot for ever) spawns 1..5 parties
 * among its other children, one by one or in one tg_spawn_each, as a run
 * of consecutive nodes reserved at once (a barrier whose parties did not
 * all fit in the tree would never fill).  Each party waits 1..3 rounds at
 * the group's tg_barrier before anything else it does, so that nothing
 * but a cancellation (of the whole group: the parties share its scope)
 * or an abort keeps a party from a round the others wait in.  Sometimes
 * the barrier is aborted while the parties run: by the owner right after
 * its spawns, or by the last party just before one of its waits.
 *
 * The oracle (invariant barrier; barrier.h's semantics):
 *   - a round released for one party was released for all: every party
 *     got an index in it, and the indexes are 0 .. parties - 1, each
 *     once (arrivals of the next round wait for the drain, so a party's
 *     r-th wait is in the barrier's r-th round);
 *   - a wait that began after tg_barrier_abort returned gives no index;
 *     a BrokenBarrierError only after an abort was asked for; a
 *     CancelledError only with a cause in the group or above;
 *   - n_waiting is in 0 .. parties - 1 while the parties run, 0 after the
 *     join; tg_barrier_broken after the join says whether it was
 *     aborted, a reset mends it; tg_barrier_destroy after the join
 *     succeeds.
 * What is racy is not checked: which party gets which index, and whether
 * a round completes before an abort or a cancellation.
 */
#include <inttypes.h>
#include <string.h>

#include "tg-stress.h"

bool
barrier_open(struct node *n, struct rng *r)
{
	struct tree *t = n->tree;
	/* Drawn first, so the random stream does not depend on whether
	 * the tree's budget of barriers is spent. */
	int parties = 1 + (int)below(r, BARRIER_PARTIES_MAX);
	int rounds = 1 + (int)below(r, BARRIER_ROUNDS_MAX);
	uint32_t a = below(r, 100);
	int abort_by = a < 8 ? 0 : a < 16 ? 1 + (int)below(r, (uint32_t)rounds)
					 : -1;
	unsigned slot = atomic_fetch_add(&t->nbarriers, 1);
	struct barrier_rec *b;
	int rc;

	if (slot >= BARRIERS_PER_TREE)
		return false;
	b = &t->bars[slot];
	/* Under the lock: the watch reads open (false since the last tree)
	 * under it while this slot is filled. */
	pthread_mutex_lock(&t->bar_lock);
	memset(b, 0, sizeof(*b));
	b->parties = parties;
	b->rounds = rounds;
	b->first = UINT32_MAX;
	b->abort_by = abort_by;
	atomic_init(&b->abort_req, false);
	atomic_init(&b->abort_done, false);
	atomic_init(&b->inside, 0);
	atomic_init(&b->last_ns, now_ns());
	pthread_mutex_unlock(&t->bar_lock);
	rc = tg_barrier_init(&b->b, parties);
	if (rc != TG_OK) {
		api_check(n, "tg_barrier_init", rc, TG_OK);
		return false;
	}
	b->made = true;
	pthread_mutex_lock(&t->bar_lock);
	b->open = true;
	pthread_mutex_unlock(&t->bar_lock);
	n->grp.bar = b;
	return true;
}

void
barrier_spawn(struct node *n, struct rng *r, bool must_refuse)
{
	struct barrier_rec *b = n->grp.bar;
	struct node *first = new_nodes(n->tree, n, n->depth + 1,
				       mix(n->seed ^ 0xba77), (uint32_t)b->parties);
	int j;

	if (first == NULL)
		return; /* the tree is full: a barrier nobody waits at */
	b->first = first->id;
	for (j = 0; j < b->parties; j++)
		first[j].party = j;
	if (b->parties > 1 && chance(r, 300000)) {
		spawn_batch_nodes(n, n, first, (uint32_t)b->parties,
				  must_refuse);
		return;
	}
	for (j = 0; j < b->parties; j++)
		spawn_node(n, n, &first[j], r, must_refuse);
}

/* tg_barrier_abort, with the flags the parties' checks read around it. */
static void
abort_barrier(struct node *n, struct barrier_rec *b)
{
	/* seq_cst: a party that sees abort_done after its wait returned an
	 * index would be wrong; one that sees abort_req may get broken. */
	atomic_store(&b->abort_req, true);
	api_check(n, "tg_barrier_abort", tg_barrier_abort(&b->b), TG_OK);
	atomic_store(&b->abort_done, true);
	if (!tg_barrier_broken(&b->b))
		violation(n->tree, "barrier",
			  "task %u: tg_barrier_broken false right after "
			  "tg_barrier_abort", n->id);
}

void
barrier_owner(struct node *n)
{
	struct barrier_rec *b = n->grp.bar;
	int w = tg_barrier_n_waiting(&b->b);

	if (w < 0 || w >= b->parties)
		violation(n->tree, "barrier",
			  "task %u's barrier of %d parties has %d waiting",
			  n->id, b->parties, w);
	if (tg_barrier_parties(&b->b) != b->parties)
		violation(n->tree, "barrier",
			  "task %u: tg_barrier_parties %d, initialised with %d",
			  n->id, tg_barrier_parties(&b->b), b->parties);
	if (b->abort_by == 0)
		abort_barrier(n, b);
}

tg_error *
barrier_rounds(struct node *n)
{
	struct node *p = n->parent;
	struct barrier_rec *b = p->grp.bar;
	int round;

	for (round = 0; round < b->rounds; round++) {
		bool after_abort;
		int index = -1;
		tg_error *e;

		if (b->abort_by == round + 1 && n->party == b->parties - 1)
			abort_barrier(n, b);
		after_abort = atomic_load(&b->abort_done);
		/* relaxed: the watch's clock and count (hints). */
		atomic_store_explicit(&b->last_ns, now_ns(),
				      memory_order_relaxed);
		atomic_fetch_add_explicit(&b->inside, 1, memory_order_relaxed);
		e = tg_barrier_wait(&b->b, &index);
		atomic_fetch_sub_explicit(&b->inside, 1, memory_order_relaxed);
		atomic_store_explicit(&b->last_ns, now_ns(),
				      memory_order_relaxed);
		if (e == NULL) {
			if (after_abort || index < 0 || index >= b->parties)
				violation(n->tree, "barrier",
					  "task %u (party %d of task %u's "
					  "barrier of %d) got index %d in round "
					  "%d%s", n->id, n->party, p->id,
					  b->parties, index, round,
					  after_abort ? ", a wait that began "
							"after tg_barrier_abort "
							"returned"
						      : "");
			n->bar_index[round] = (int8_t)index;
			n->bar_rounds = (uint8_t)(round + 1);
			continue;
		}
		if (is_cancel_leaf(e)) {
			saw_cancel(n, p, "in tg_barrier_wait");
			n->bar_end = BAR_CANCELLED;
			return e;
		}
		if (tg_error_is(e, &tg_BrokenBarrierError)) {
			if (!atomic_load(&b->abort_req))
				violation(n->tree, "barrier",
					  "task %u (party %d of task %u's "
					  "barrier) got BrokenBarrierError in "
					  "round %d, but nobody aborted it",
					  n->id, n->party, p->id, round);
		} else {
			violation(n->tree, "api",
				  "task %u: tg_barrier_wait returned %s: %s",
				  n->id, tg_error_type_of(e)->name,
				  tg_error_message(e));
		}
		tg_error_decref(e);
		n->bar_end = BAR_BROKEN;
		return NULL; /* the rest of the body, without the barrier */
	}
	n->bar_end = BAR_ALL;
	return NULL;
}

void
barrier_check(struct node *n)
{
	struct tree *t = n->tree;
	struct barrier_rec *b = n->grp.bar;
	bool aborted;
	int round, j;

	/* The watch leaves it alone from now on (its waits have all ended:
	 * the join returned), so the state read below stays as it is. */
	pthread_mutex_lock(&t->bar_lock);
	b->open = false;
	pthread_mutex_unlock(&t->bar_lock);
	aborted = atomic_load(&b->abort_req);

	for (round = 0; b->first != UINT32_MAX && round < b->rounds; round++) {
		unsigned seen = 0;
		int released = 0;

		for (j = 0; j < b->parties; j++) {
			const struct node *x = &t->nodes[b->first + (uint32_t)j];

			if (x->bar_rounds <= round)
				continue;
			released++;
			seen |= 1u << x->bar_index[round];
		}
		if (released == 0)
			continue;
		if (released != b->parties ||
		    seen != (1u << b->parties) - 1)
			violation(t, "barrier",
				  "round %d of task %u's barrier of %d parties "
				  "released %d of them with indexes 0x%x (each "
				  "bit an index; all %d, each once, expected)",
				  round, n->id, b->parties, released, seen,
				  b->parties);
		b->released++;
	}
	if (tg_barrier_n_waiting(&b->b) != 0)
		violation(t, "barrier",
			  "task %u's barrier has %d waiting after the join",
			  n->id, tg_barrier_n_waiting(&b->b));
	if (tg_barrier_broken(&b->b) != aborted)
		violation(t, "barrier",
			  "task %u's barrier: tg_barrier_broken %d after the "
			  "join, aborted %d", n->id, tg_barrier_broken(&b->b),
			  aborted);
	if (aborted) {
		api_check(n, "tg_barrier_reset", tg_barrier_reset(&b->b), TG_OK);
		if (tg_barrier_broken(&b->b))
			violation(t, "barrier",
				  "task %u's barrier still broken after "
				  "tg_barrier_reset", n->id);
	}
}

void
barrier_close(struct node *n)
{
	struct tree *t = n->tree;
	struct barrier_rec *b = n->grp.bar;

	pthread_mutex_lock(&t->bar_lock);
	b->open = false; /* barrier_check did, unless the group never opened */
	api_check(n, "tg_barrier_destroy", tg_barrier_destroy(&b->b), TG_OK);
	pthread_mutex_unlock(&t->bar_lock);
}

void
barrier_watch(struct tree *t, int64_t now, int64_t quiet_ns)
{
	const struct config *cfg = t->cfg;
	unsigned n = atomic_load(&t->nbarriers), i;

	if (quiet_ns < cfg->stall_ns)
		return;
	pthread_mutex_lock(&t->bar_lock);
	for (i = 0; i < n && i < BARRIERS_PER_TREE; i++) {
		struct barrier_rec *b = &t->bars[i];
		int inside;

		if (!b->open || b->stalled)
			continue;
		inside = atomic_load_explicit(&b->inside, memory_order_relaxed);
		if (inside == 0 ||
		    now - atomic_load_explicit(&b->last_ns,
					       memory_order_relaxed) <
			    cfg->stall_ns)
			continue;
		/* As an abort by a party: the parties' checks accept the
		 * BrokenBarrierError it gives. */
		b->stalled = true;
		atomic_store(&b->abort_req, true);
		(void)tg_barrier_abort(&b->b);
		atomic_store(&b->abort_done, true);
		atomic_fetch_add(&t->stalls, 1);
		fprintf(stderr,
			"\ntg-stress: %s: barrier %u of tree %" PRIu64
			" (threads %d, seed %" PRIu64 "), %d parties: %d "
			"waiting, no progress (and no task of the tree ended) "
			"for %.1f s; aborted so that the tree can end\n",
			cfg->stall_fails ? "FAILED invariant barrier-stall"
					 : "warning: barrier stall",
			i, t->index, t->threads, cfg->seed, b->parties, inside,
			(double)cfg->stall_ns / NS_PER_S);
		print_replay(stderr, cfg, t->index, t->threads);
		if (cfg->stall_fails)
			violation(t, "barrier-stall",
				  "a barrier of %d parties made no progress for "
				  "%.1f s with %d waiting (aborted)", b->parties,
				  (double)cfg->stall_ns / NS_PER_S, inside);
	}
	pthread_mutex_unlock(&t->bar_lock);
}
