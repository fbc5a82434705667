/*
 * group_handle.h - the caller's tg_group handle: its layout and state
 * words, shared by group.c (open, spawn, join) and group_control.c
 * (cancel, deadlines, results).  Internal.
 */
#ifndef TG_GROUP_HANDLE_H
#define TG_GROUP_HANDLE_H

#include <stdbool.h>
#include <stdint.h>

#include "taskgroup/group.h"

#include "atomic.h"
#include "scheduler.h"

/* The caller's handle, in tg_group's opaque storage. */
typedef struct handle {
	/* HANDLE_OPEN until joined, then HANDLE_JOINED plus JOINED_* facts;
	 * anything else: not an initialised group.  Read by spawners on other
	 * threads.  One word for "is it a handle" and "is it open", so the
	 * check that every call makes is one compare. */
	TG_ATOMIC(uint64_t) state;
	tg__gcore *core;
	void *winner_arg; /* after join: first-success's winner */
	int64_t deadline; /* after join, with JOINED_DEADLINE: its deadline */
} handle;

_Static_assert(sizeof(handle) <= sizeof(tg_group), "tg_group too small");
_Static_assert(_Alignof(handle) <= _Alignof(tg_group), "tg_group alignment");

/* Both fit a sign-extended 32-bit immediate, so the fast paths test the
 * state with one compare against memory.  Zeroed or stale storage matches
 * neither. */
#define HANDLE_OPEN 0x74677031ULL   /* "tgp1" */
#define HANDLE_JOINED 0x74676a00ULL /* "tgj\0": its low bits hold JOINED_* */
/* What a joined handle remembers (low bits of HANDLE_JOINED). */
#define JOINED_EXPIRED 4     /* its own deadline had expired */
#define JOINED_FIRST_SUCCESS 8
#define JOINED_HAS_WINNER 16
#define JOINED_DEADLINE 32 /* the owner gave it a deadline: h->deadline */
#define JOINED_MASK                                                          \
	(JOINED_EXPIRED | JOINED_FIRST_SUCCESS | JOINED_HAS_WINNER |          \
	 JOINED_DEADLINE)

static inline handle *
handle_of(tg_group *g)
{
	return (handle *)(void *)g->tg__opaque;
}

/* Why g is not an open handle: TG_EINVAL or TG_EFINISHED. */
static inline int
closed_status(tg_group *g)
{
	handle *h;

	if (g == NULL)
		return TG_EINVAL;
	h = handle_of(g);
	/* relaxed: see open_core. */
	if ((tg_atomic_load_relaxed_u64(&h->state) & ~(uint64_t)JOINED_MASK) ==
	    HANDLE_JOINED)
		return TG_EFINISHED;
	return TG_EINVAL;
}

/* Is g an initialised, open handle?  Then its core is h->core, never
 * NULL (core_open sets it before the state). */
static inline bool
handle_open(tg_group *g)
{
	/* relaxed: the state changes only on the owner's thread at the end
	 * of the join, after which no legal spawner remains. */
	return g != NULL &&
	       tg_atomic_load_relaxed_u64(&handle_of(g)->state) == HANDLE_OPEN;
}

/* The core of an initialised, open handle; NULL otherwise (closed_status
 * says why). */
static inline tg__gcore *
open_core(tg_group *g)
{
	return handle_open(g) ? handle_of(g)->core : NULL;
}

#endif /* TG_GROUP_HANDLE_H */
