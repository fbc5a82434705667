/*
 * group_control.c - what a group's owner asks of an open group besides
 * spawning and joining: deadlines (asyncio.timeout), and afterwards the
 * facts its join kept (expired, a first-success winner).  Split from
 * group.c; tg_group_cancel stays there, next to the join it affects.
 */
#include "taskgroup/group.h"

#include "group_handle.h"
#include "scheduler.h"

/* The open core of g when the caller is the task that opened it; else
 * NULL with *status saying why. */
static tg__gcore *
owned_core(const tg_group *g, int *status)
{
	tg__worker *w = tg__self();
	tg__gcore *gc = open_core((tg_group *)g);

	if (gc == NULL) {
		*status = closed_status((tg_group *)g);
		return NULL;
	}
	if (w == NULL || w->current != gc->owner) {
		*status = TG_ENOTOWNER;
		return NULL;
	}
	return gc;
}

int
tg_group_set_deadline(tg_group *g, int64_t deadline_ns)
{
	int status;
	tg__gcore *gc = owned_core(g, &status);

	if (gc == NULL)
		return status;
	if (deadline_ns < 0)
		return TG_EINVAL;
	return tg__timer_set(gc->owner_worker->pool, gc, deadline_ns);
}

int
tg_group_set_timeout(tg_group *g, int64_t timeout_ns)
{
	int status;
	tg__gcore *gc = owned_core(g, &status);
	int64_t now;

	if (gc == NULL)
		return status;
	now = tg_now_ns();
	/* The sum must be a real time: TG_DEADLINE_NONE is not reachable by
	 * a timeout. */
	if (timeout_ns < 0 || timeout_ns >= TG_DEADLINE_NONE - now)
		return TG_EINVAL;
	return tg__timer_set(gc->owner_worker->pool, gc, now + timeout_ns);
}

int64_t
tg_group_deadline(const tg_group *g)
{
	int status;
	tg__gcore *gc = owned_core(g, &status);

	/* The owner is the only writer (under the timer's lock, which it
	 * released): a plain read is its own write. */
	return gc != NULL ? gc->deadline : TG_DEADLINE_NONE;
}

bool
tg_group_expired(const tg_group *g)
{
	int status;
	tg__gcore *gc = owned_core(g, &status);
	const handle *h;

	if (gc != NULL)
		/* relaxed: a status read; the bit never clears while open. */
		return (tg_atomic_load_relaxed_u64(&gc->cancel) &
			TG__CANCEL_DEADLINE) != 0;
	if (status != TG_EFINISHED)
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
