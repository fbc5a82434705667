/*
 * group_control.c - what a group's owner asks of an open group besides
 * spawning and joining: deadlines (asyncio.timeout; read and moved by
 * any task or thread while the group is open, given first by the owner:
 * timer.c), and afterwards the facts its join kept (the deadline,
 * expired, a first-success winner).  Split from
 * group.c; tg_group_cancel stays there, next to the join it affects.
 */
#include "taskgroup/group.h"

#include "group_handle.h"
#include "scheduler.h"

/* Sets gc's deadline for any caller: the owning task (which alone may
 * give g its first deadline) or, once it has, any task or thread. */
static int
set_deadline(tg__gcore *gc, int64_t deadline_ns)
{
	tg__worker *w = tg__self();
	bool owner = w != NULL && w->current == gc->owner;

	/* Owner only (its thread): join_flags is read by the join without a
	 * lock, so no other caller writes it (timer.c); set before the timer
	 * is asked, so that a failure leaves at most a harmless lock in the
	 * join. */
	if (owner)
		gc->join_flags |= TG__JOIN_DEADLINE;
	return tg__timer_set(gc->owner_worker->pool, gc, deadline_ns, owner);
}

int
tg_group_set_deadline(tg_group *g, int64_t deadline_ns)
{
	tg__gcore *gc = open_core(g);

	if (gc == NULL)
		return closed_status(g);
	if (deadline_ns < 0)
		return TG_EINVAL;
	return set_deadline(gc, deadline_ns);
}

int
tg_group_set_timeout(tg_group *g, int64_t timeout_ns)
{
	tg__gcore *gc = open_core(g);
	int64_t now, deadline;

	if (gc == NULL)
		return closed_status(g);
	now = tg_now_ns(); /* >= 0: now + timeout_ns cannot go below INT64_MIN */
	/* The sum must be a real time: TG_DEADLINE_NONE is not reachable by
	 * a timeout.  A negative timeout is a time already past
	 * (asyncio.timeout(-11)): it expires at once. */
	if (timeout_ns >= TG_DEADLINE_NONE - now)
		return TG_EINVAL;
	deadline = now + timeout_ns;
	return set_deadline(gc, deadline < 0 ? 0 : deadline);
}

int64_t
tg_group_deadline(const tg_group *g)
{
	tg__gcore *gc = open_core((tg_group *)g);
	const handle *h;

	if (gc != NULL)
		/* Under the timer's lock: other tasks and threads may be
		 * moving it. */
		return tg__timer_deadline(gc->owner_worker->pool, gc);
	if (closed_status((tg_group *)g) != TG_EFINISHED)
		return TG_DEADLINE_NONE;
	h = handle_of((tg_group *)g);
	/* relaxed: see open_core; h->deadline was written by the join before
	 * the state, on the owner's thread, which the caller is ordered
	 * after. */
	if ((tg_atomic_load_relaxed_u64(&h->state) & JOINED_DEADLINE) == 0)
		return TG_DEADLINE_NONE;
	return h->deadline;
}

bool
tg_group_expired(const tg_group *g)
{
	tg__gcore *gc = open_core((tg_group *)g);
	const handle *h;

	if (gc != NULL)
		/* relaxed: a status read, from any thread; the bit never
		 * clears while open. */
		return (tg_atomic_load_relaxed_u64(&gc->cancel) &
			TG__CANCEL_DEADLINE) != 0;
	if (closed_status((tg_group *)g) != TG_EFINISHED)
		return false;
	h = handle_of((tg_group *)g);
	/* relaxed: see open_core. */
	return (tg_atomic_load_relaxed_u64(&h->state) & JOINED_EXPIRED) != 0;
}

int
tg_group_winner(const tg_group *g, void **arg_out)
{
	const handle *h;
	uint64_t state;
	int status;

	if (g == NULL || arg_out == NULL)
		return TG_EINVAL;
	status = closed_status((tg_group *)g);
	h = handle_of((tg_group *)g);
	if (status != TG_EFINISHED)
		return tg_atomic_load_relaxed_u64(&h->state) == HANDLE_OPEN
			       ? TG_ESTATE
			       : TG_EINVAL;
	/* relaxed: see open_core. */
	state = tg_atomic_load_relaxed_u64(&h->state);
	if ((state & JOINED_FIRST_SUCCESS) == 0)
		return TG_ESTATE;
	if ((state & JOINED_HAS_WINNER) == 0)
		return TG_ENOENT;
	*arg_out = h->winner_arg;
	return TG_OK;
}
