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
 * Cancelling sets the bits (seq_cst RMW) and then bumps the pool's
 * cancellation epoch.  Nothing is pushed to descendants and nothing is
 * registered when a group opens (which would cost a locked instruction per
 * group on the fork-join hot path).  Instead each scope memoises
 * "cancelled as of epoch E" in one word, and a checkpoint is
 *
 *   memo(scope) >> 1 == epoch ? memo & 1 : recompute
 *
 * after finding the scope from the thread's running task: one acquire load
 * of the epoch (a plain load on x86-64) and one relaxed load of the memo.  Recomputing walks up the scope
 * chain only until it meets a memo of the current epoch, so the walk
 * happens once per scope per cancellation event anywhere in the pool,
 * never per checkpoint.  Every scope on the walk is alive: it encloses the
 * running code.  A new group copies its enclosing scope's answer into its
 * memo, so opening a group costs no walk either.
 *
 * Memory order: the canceller's bits RMW happens before its epoch RMW
 * (program order, both seq_cst); a reader that loads the new epoch with
 * acquire therefore sees the bits when it walks.  A memo is one word,
 * (epoch << 1) | answer, so a reader never pairs an answer with the wrong
 * epoch; racing writers of memos store correct answers for their epochs.
 */
#include "taskgroup/cancel.h"

#include "error_internal.h"
#include "scheduler.h"

bool
tg__scope_cancelled_slow(tg__pool *pool, tg__gcore *gc, uint64_t epoch)
{
	bool cancelled;

	/* acquire: pairs with the RMW that set the bits (the caller's
	 * acquire load of the epoch made them visible). */
	cancelled = tg_atomic_load_acquire_u64(&gc->cancel) != 0 ||
		    (gc->parent_scope != NULL &&
		     tg__scope_cancelled(pool, gc->parent_scope));
	/* relaxed: a cache; any reader re-validates it against the epoch. */
	tg_atomic_store_relaxed_u64(&gc->memo, epoch << 1 | cancelled);
	if (cancelled)
		tg__note_cancelled();
	return cancelled;
}

void
tg__scope_cancel(tg__pool *pool, tg__gcore *gc, uint64_t reason)
{
	tg__scope_cancel_signal_safe(pool, gc, reason);
	/* Tasks waiting in tg_sleep or tg_barrier_wait (wait.h).  seq_cst:
	 * after the epoch RMW above, the load side of the store->load pair
	 * with tg__cancel_wait_add's RMW. */
	if (tg_atomic_load_seqcst_u32(&pool->nwaiters) != 0)
		tg__cancel_waiters_wake(pool);
}

void
tg__scope_cancel_signal_safe(tg__pool *pool, tg__gcore *gc, uint64_t reason)
{
	uint64_t old;
	int i, n;

	do {
		/* acquire: if the bit is set already, the first canceller's
		 * CAS happens before our epoch bump, so readers of our epoch
		 * see the bit; otherwise the CAS re-validates. */
		old = tg_atomic_load_acquire_u64(&gc->cancel);
		if ((old & reason) == reason)
			break; /* set already: still publish below, so that this
				* caller's own later checkpoints see it even if
				* the first canceller has not bumped the epoch yet */
		/* seq_cst CAS: ordered before the epoch bump below. */
	} while (!tg_atomic_cas_seqcst_u64(&gc->cancel, old, old | reason));
	/* seq_cst RMW: publishes the bits to every checkpoint that loads the
	 * new epoch (acquire in tg__scope_cancelled / tg_cancelled). */
	tg_atomic_faa_seqcst_u64(&pool->cancel_epoch, 1);
	/* Push the news down to every worker: its running task's next
	 * checkpoint takes the slow path.  release: pairs with the exchange
	 * in tg_cancelled, which then sees the new epoch. */
	n = tg__pool_nused(pool);
	for (i = 0; i < n; i++)
		tg_atomic_store_release_u32(&pool->workers[i]->attention, 1);
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
