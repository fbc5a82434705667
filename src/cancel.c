/*
 * cancel.c - cancellation scopes and checkpoints.
 *
 * Theory of operation
 * -------------------
 * Every open group is a cancellation scope; its parent_scope is the scope
 * its owner was in when it was opened, so scopes form a tree that mirrors
 * the program.  A scope is cancelled if its own cancel bits are set or any
 * enclosing scope is cancelled (level-triggered: bits are never cleared
 * while the group is open).
 *
 * The fast path: an epoch memo.  Cancelling bumps the pool's cancellation
 * epoch; each scope memoises "cancelled as of epoch E" in one word, and a
 * check is
 *
 *   memo(scope) >> 1 == epoch ? memo & 1 : slow path
 *
 * one acquire load of the epoch (a plain load on x86-64) and one relaxed
 * load of the memo.  Opening a group registers nothing (no locked
 * instruction on the fork-join hot path): it copies its enclosing scope's
 * fresh answer into its memo.
 *
 * The slow path must not walk the whole chain: a cancellation anywhere
 * makes every memo stale, so in a tree of depth D where each level is
 * cancelled in turn (a failure climbing D nested fail-fast groups) walking
 * to the root costs O(D) per check and O(D^2) in all.  So the slow path
 * walks at most TG__SCOPE_WALK_MAX links looking for an answer (a scope
 * whose bits are set, a fresh memo, a registered scope, or the root), and
 * failing that registers its scope in the pool's scope tree:
 *
 * - The scope tree.  A registered scope is linked under its parent scope
 *   (registering one registers every unregistered scope above it, so the
 *   registered scopes form a subtree that holds the root) and carries
 *   TG__SCOPE_PUSHED once it or an enclosing scope is cancelled.  A
 *   registered scope answers in O(1): PUSHED, or its own bits, or its
 *   root's bits (the SIGINT handler sets those without the lock).
 * - Cancelling pushes the news down: under scope_lock, an iterative
 *   pre-order walk of the registered subtree below the scope sets PUSHED,
 *   skipping subtrees that have it already (everything below a PUSHED
 *   scope has it).  Its cost is the registered scopes it reaches.
 * - A registered scope leaves the tree at its join (tg__scope_close),
 *   after every task in it has ended: only its subtree registers it.
 *
 * Every scope is registered at most once per group, with work linear in
 * the scopes it registers, and each check is bounded by
 * TG__SCOPE_WALK_MAX links: no recursion anywhere, and a climbing failure
 * costs O(D) in all.  pool->stat_scope_steps counts the links followed
 * (tg_runner_stats' scope_steps), so tests can tell.
 *
 * Memory order.  A canceller sets the bits (seq_cst CAS), pushes (under
 * the lock), then bumps the epoch (seq_cst RMW): a reader that loads the
 * new epoch with acquire sees the bits and the PUSHED bits written before
 * it, whether it walks, reads a registered scope or registers (the lock
 * orders the last).  A canceller that finds a scope unregistered under
 * the lock has nothing to push: its bits were set before the lock, so
 * whoever registers the scope later reads them.  A memo is one word,
 * (epoch << 1) | answer, so a reader never pairs an answer with the wrong
 * epoch; racing writers of memos store correct answers for their epochs.
 */
#include "taskgroup/cancel.h"

#include "error_internal.h"
#include "scheduler.h"

/* Links the slow path follows before it registers its scope instead. */
#define TG__SCOPE_WALK_MAX 16

/* The answer of a registered scope whose state word is st. */
static inline bool
registered_answer(const tg__gcore *gc, uint64_t st)
{
	/* acquire (both): pair with the bit-setting RMWs (a canceller that
	 * has not pushed yet, or the SIGINT handler on the root). */
	return (st & TG__SCOPE_PUSHED) != 0 ||
	       tg_atomic_load_acquire_u64(&gc->cancel) != 0 ||
	       tg_atomic_load_acquire_u64(&gc->scope_root->cancel) != 0;
}

/* Puts gc and every unregistered scope above it in the scope tree;
 * returns gc's answer.  *steps counts the links followed. */
static bool
scope_register(tg__pool *pool, tg__gcore *gc, uint64_t *steps)
{
	tg__gcore *g, *top, *parent;
	uint64_t n = 0, last = UINT64_MAX, i, st;
	bool above;

	pthread_mutex_lock(&pool->scope_lock);
	/* First pass, up to the first registered scope, top: never past the
	 * chain's end, whose run's root scope is registered when it is made
	 * (tg__scope_root_init).  Finds the highest position with bits set.
	 * relaxed (state): written under the lock we hold; acquire (bits): as
	 * in registered_answer. */
	for (g = gc; !(tg_atomic_load_relaxed_u64(&g->scope_state) &
		       TG__SCOPE_REG);
	     g = g->parent_scope, n++) {
		if (tg_atomic_load_acquire_u64(&g->cancel) != 0)
			last = n;
		/* Unregistered: no registered scope below it but the one of
		 * this chain, linked in the second pass. */
		g->scope_kids = NULL;
	}
	top = g;
	above = (tg_atomic_load_relaxed_u64(&top->scope_state) &
		 TG__SCOPE_PUSHED) != 0;
	/* Second pass: link each under its parent (registered by the end of
	 * the pass), PUSHED where a scope at or above it (below top) has
	 * bits, or top is PUSHED. */
	for (g = gc, i = 0; g != top; g = parent, i++) {
		parent = g->parent_scope;
		g->scope_root = top->scope_root;
		g->scope_prev = NULL;
		g->scope_next = parent->scope_kids;
		if (parent->scope_kids != NULL)
			parent->scope_kids->scope_prev = g;
		parent->scope_kids = g;
		st = TG__SCOPE_REG;
		if (above || (last != UINT64_MAX && last >= i))
			st |= TG__SCOPE_PUSHED;
		/* release: scope_root before the state, for the lock-free
		 * readers of registered_answer. */
		tg_atomic_store_release_u64(&g->scope_state, st);
	}
	*steps += 2 * n;
	st = tg_atomic_load_relaxed_u64(&gc->scope_state);
	pthread_mutex_unlock(&pool->scope_lock);
	return registered_answer(gc, st);
}

bool
tg__scope_cancelled_slow(tg__pool *pool, tg__gcore *gc, uint64_t epoch)
{
	tg__gcore *g = gc;
	uint64_t st, memo, steps = 0;
	bool cancelled;

	for (;;) {
		/* acquire: pairs with the release store of a registration,
		 * for scope_root. */
		st = tg_atomic_load_acquire_u64(&g->scope_state);
		if (st & TG__SCOPE_REG) {
			cancelled = registered_answer(g, st);
			break;
		}
		/* acquire: pairs with the RMW that set the bits (the
		 * caller's acquire load of the epoch made them visible). */
		if (tg_atomic_load_acquire_u64(&g->cancel) != 0) {
			cancelled = true;
			break;
		}
		/* relaxed: the memo carries its epoch; the caller found
		 * gc's own stale. */
		memo = tg_atomic_load_relaxed_u64(&g->memo);
		if (g != gc && memo >> 1 == epoch) {
			cancelled = memo & 1;
			break;
		}
		/* No end-of-chain test: the chain ends at its run's root
		 * scope, which is registered (answered above). */
		if (++steps == TG__SCOPE_WALK_MAX) {
			cancelled = scope_register(pool, gc, &steps);
			break;
		}
		g = g->parent_scope;
	}
	/* relaxed: a counter for tests; slow paths only. */
	tg_atomic_faa_relaxed_u64(&pool->stat_scope_steps, steps + 1);
	/* relaxed: a cache; any reader re-validates it against the epoch. */
	tg_atomic_store_relaxed_u64(&gc->memo, epoch << 1 | cancelled);
	if (cancelled)
		tg__note_cancelled();
	return cancelled;
}

/* Sets PUSHED on gc and every registered scope below it that lacks it
 * (an iterative pre-order walk, skipping PUSHED subtrees).  Under
 * scope_lock; returns the links followed. */
static uint64_t
scope_push(tg__gcore *gc)
{
	tg__gcore *cur;
	uint64_t st, steps = 1;

	/* relaxed (loads): the state is written under the lock we hold;
	 * release (stores): the readers' acquire of the epoch, bumped after
	 * this, orders them anyway, and a reader that races ahead of the
	 * epoch may see it early, which is allowed. */
	st = tg_atomic_load_relaxed_u64(&gc->scope_state);
	if (!(st & TG__SCOPE_REG) || (st & TG__SCOPE_PUSHED))
		return steps;
	tg_atomic_store_release_u64(&gc->scope_state, st | TG__SCOPE_PUSHED);
	cur = gc->scope_kids;
	while (cur != NULL) {
		steps++;
		st = tg_atomic_load_relaxed_u64(&cur->scope_state);
		if (!(st & TG__SCOPE_PUSHED)) {
			tg_atomic_store_release_u64(&cur->scope_state,
						    st | TG__SCOPE_PUSHED);
			if (cur->scope_kids != NULL) {
				cur = cur->scope_kids;
				continue;
			}
		}
		while (cur != gc && cur->scope_next == NULL)
			cur = cur->parent_scope;
		cur = cur == gc ? NULL : cur->scope_next;
	}
	return steps;
}

void
tg__scope_root_init(tg__gcore *gc)
{
	gc->scope_root = gc;
	gc->scope_kids = gc->scope_next = gc->scope_prev = NULL;
	/* relaxed: published with the scope (the caller's publication). */
	tg_atomic_store_relaxed_u64(&gc->scope_state, TG__SCOPE_REG);
}

void
tg__scope_close_slow(tg__pool *pool, tg__gcore *gc)
{
	tg__gcore *parent = gc->parent_scope;

	pthread_mutex_lock(&pool->scope_lock);
	/* Every scope below has been joined, so has left already; a joined
	 * scope is never a root, so parent is not NULL. */
	if (gc->scope_prev != NULL)
		gc->scope_prev->scope_next = gc->scope_next;
	else
		parent->scope_kids = gc->scope_next;
	if (gc->scope_next != NULL)
		gc->scope_next->scope_prev = gc->scope_prev;
	gc->scope_next = gc->scope_prev = gc->scope_kids = NULL;
	gc->scope_root = NULL;
	/* relaxed: the core is at rest again (the lock orders it for the
	 * next canceller; the next opening is this thread's). */
	tg_atomic_store_relaxed_u64(&gc->scope_state, 0);
	pthread_mutex_unlock(&pool->scope_lock);
}

static void
set_bits(tg__gcore *gc, uint64_t reason)
{
	uint64_t old;

	do {
		/* acquire: if the bits are set already, the first canceller's
		 * CAS happens before our push and epoch bump, so readers of
		 * our epoch see them; otherwise the CAS re-validates. */
		old = tg_atomic_load_acquire_u64(&gc->cancel);
		if ((old & reason) == reason)
			return; /* set already: still push and publish, so that
				 * this caller's own later checks see it even
				 * if the first canceller has not yet */
		/* seq_cst CAS: ordered before the push and the epoch bump. */
	} while (!tg_atomic_cas_seqcst_u64(&gc->cancel, old, old | reason));
}

/* The epoch and the attention words, after the bits (and the push). */
static void
publish(tg__pool *pool)
{
	int i, n;

	/* seq_cst RMW: publishes the bits and pushes to every check that
	 * loads the new epoch (acquire in tg__scope_cancelled /
	 * tg_cancelled). */
	tg_atomic_faa_seqcst_u64(&pool->cancel_epoch, 1);
	/* Push the news down to every worker: its running task's next
	 * checkpoint takes the slow path.  release: pairs with the exchange
	 * in tg_cancelled, which then sees the new epoch. */
	n = tg__pool_nused(pool);
	for (i = 0; i < n; i++)
		tg_atomic_store_release_u32(&pool->workers[i]->attention, 1);
}

void
tg__scope_cancel(tg__pool *pool, tg__gcore *gc, uint64_t reason)
{
	uint64_t steps;

	set_bits(gc, reason);
	pthread_mutex_lock(&pool->scope_lock);
	steps = scope_push(gc);
	pthread_mutex_unlock(&pool->scope_lock);
	/* relaxed: a counter for tests. */
	tg_atomic_faa_relaxed_u64(&pool->stat_scope_steps, steps);
	publish(pool);
	/* Tasks waiting in tg_sleep or tg_barrier_wait (wait.h).  seq_cst:
	 * after the epoch RMW above, the load side of the store->load pair
	 * with tg__cancel_wait_add's RMW. */
	if (tg_atomic_load_seqcst_u32(&pool->nwaiters) != 0)
		tg__cancel_waiters_wake(pool);
}

void
tg__scope_cancel_signal_safe(tg__pool *pool, tg__gcore *gc, uint64_t reason)
{
	/* A root: nothing above it, and every registered scope below reads
	 * its bits (registered_answer), so no push is needed. */
	set_bits(gc, reason);
	publish(pool);
}

bool
tg__attend(tg__worker *w)
{
	tg__gcore *scope;

	/* relaxed: a hint (tg__attention); the exchange below orders. */
	if (w == NULL || tg_atomic_load_relaxed_u32(&w->attention) == 0)
		return false;
	scope = tg__current_scope(w);
	if (scope == NULL)
		return false;
	/* Clear first, then look: a cancellation or request that lands
	 * after the exchange sets the word again.  acq_rel exchange: pairs
	 * with the release stores in tg__scope_cancel and find_work, so the
	 * epoch and the request they follow are visible below. */
	tg_atomic_xchg_acqrel_u32(&w->attention, 0);
	/* A checkpoint is also a scheduling point: share queued work with a
	 * thief that asked (deque.h, "Sharing"). */
	if (tg__deque_wanted(&w->dq))
		tg__share_work(w);
	/* Level-triggered: a cancelled answer sets the word again
	 * (tg__note_cancelled), so this scope's checkpoints stay on this
	 * path. */
	return tg__scope_cancelled(w->pool, scope);
}

/* The out-of-line checkpoint: reached when the worker's attention word
 * is set (or called as (tg_cancelled)()). */
bool(tg_cancelled)(void)
{
	return tg__attend(tg__self());
}

tg_error *
tg_checkpoint_at(const char *file, int line, const char *func)
{
	if (!tg_cancelled())
		return NULL;
	return tg__error_cancelled(file, line, func);
}
