/*
 * task.c - task identity: current_task() and the provenance (async stack
 * trace) that errors record.
 */
#include <string.h>

#include "taskgroup/trace.h"

#include "provenance.h"
#include "scheduler.h"

static tg_spawn_site
site_of(tg__frame *f)
{
	tg_spawn_site s;

	s.file = f->site != NULL ? f->site->file : NULL;
	s.line = f->site != NULL ? f->site->line : 0;
	s.func = f->site != NULL ? f->site->func : NULL;
	s.task_id = tg__frame_id(f);
	s.task_name = f->name;
	return s;
}

/* The task that owns the group f belongs to; NULL for roots. */
static tg__frame *
parent_of(const tg__frame *f)
{
	return f->group != NULL ? f->group->owner : NULL;
}

bool
tg__provenance_capture(tg__provenance *out)
{
	tg__worker *w = tg__self();
	tg__frame *f;

	memset(out, 0, sizeof(*out));
	out->worker = -1;
	if (w == NULL || w->current == NULL)
		return false;
	f = w->current;
	out->task_id = tg__frame_id(f);
	out->task_name = f->name;
	out->worker = w->index;
	/* The chain has f's group's depth + 1 frames (its ancestors and f);
	 * the levels past TG__CHAIN_MAX are counted, not walked, so an error
	 * costs the same at any depth. */
	if (f->group->depth + 1 > TG__CHAIN_MAX)
		out->omitted = f->group->depth + 1 - TG__CHAIN_MAX;
	/* Every frame on this chain is running (a group's owner outlives the
	 * group's children), so reading them needs no synchronisation. */
	for (; f != NULL && out->depth < TG__CHAIN_MAX; f = parent_of(f))
		out->chain[out->depth++] = site_of(f);
	return true;
}

int
tg_current_task(tg_task_info *out)
{
	tg__worker *w = tg__self();
	tg__frame *f, *parent;

	if (out == NULL)
		return TG_EINVAL;
	if (w == NULL || w->current == NULL)
		return TG_ENOTASK;
	f = w->current;
	parent = parent_of(f);
	out->id = tg__frame_id(f);
	out->name = f->name;
	out->worker = w->index;
	out->parent_id = parent != NULL ? tg__frame_id(parent) : 0;
	out->spawned_at = site_of(f);
	return TG_OK;
}

uint64_t
tg_current_task_id(void)
{
	tg__worker *w = tg__self();

	return w != NULL && w->current != NULL ? tg__frame_id(w->current) : 0;
}

int
tg_current_worker(void)
{
	tg__worker *w = tg__self();

	return w != NULL ? w->index : -1;
}
