/*
 * error_node.h - the layout of a tg_error, shared by the error module's
 * files (error.c, error_new.c, error_note.c, error_tree.c,
 * error_except.c, error_reserve.c, error_walk.c, format.c,
 * format_json.c).  Internal: the rest of the library goes through
 * error.h and error_internal.h.
 *
 * Memory layout
 * -------------
 * A node is one block: the struct, then its children array (groups), then
 * its spawn chain, then every string it owns (message, origin file and
 * function, task name, spawn-site strings).  Notes are the only part
 * allocated separately, because they grow after creation (PEP 678).
 *
 * Nodes built by the out-of-memory fallback live in static "reserve slots"
 * instead (error_reserve.c); the flag ERR_RESERVED says so, and their
 * release returns the slot instead of freeing.  The preallocated
 * MemoryError is static and immortal (ERR_IMMORTAL): reference operations
 * skip it.
 *
 * Depth
 * -----
 * No operation on a tree recurses once per level: a tree may be as deep as
 * memory allows, on any stack (docs/errors.md, "Depth").  Walks keep their
 * position in a tg__wstack (below), which starts in a small array on the C
 * stack and moves to the heap only for deep trees; release needs no stack
 * at all (it threads dying nodes through next_dead).
 */
#ifndef TG_ERROR_NODE_H
#define TG_ERROR_NODE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "taskgroup/error.h"

#include "atomic.h"

enum {
	ERR_IMMORTAL = 1u << 0, /* static MemoryError: refs never change */
	ERR_RESERVED = 1u << 1, /* lives in a static OOM reserve slot */
	ERR_HAS_FATAL = 1u << 2, /* fatal itself or holds a fatal leaf */
	ERR_MARKER = 1u << 3     /* a reserve slot's counting MemoryError */
};

struct tg_error {
	/* References.  Changed only through the atomic shim. */
	TG_ATOMIC(uint32_t) refs;
	unsigned flags;
	int code;
	int worker;
	const tg_error_type *type;
	const char *message; /* never NULL */
	/* PEP 678 notes: separately allocated, changed only while refs == 1. */
	char **notes;
	size_t n_notes;
	/* Owned references (NULL when none). */
	tg_error *cause;
	tg_error *context;
	/* Group nodes: n_children > 0, each an owned reference. */
	tg_error **children;
	size_t n_children;
	union {
		size_t n_leaves;     /* cached: 1 for a leaf */
		tg_error *next_dead; /* once refs is 0: the release list */
	};
	/* Cached like n_leaves, over the children: the out-of-memory
	 * stand-in leaves below (1 for a stand-in leaf itself: the
	 * preallocated MemoryError, a reserve marker, a noted copy of
	 * either) and the errors they stand for (error.h,
	 * tg_error_lost_count).  n_leaves - n_stubs is tg_error_kept_count. */
	size_t n_stubs;
	size_t n_lost;
	/* Where it was raised (file NULL when unknown). */
	tg_error_origin origin;
	/* Provenance; strings point into this node's block. */
	uint64_t task_id;
	const char *task_name;
	size_t depth;
	size_t omitted;
	tg_spawn_site *chain;
};

/* The shape a new node is built from: every pointer is copied. */
typedef struct err_spec {
	const tg_error_type *type;
	int code;
	const char *message;
	const tg_error_origin *origin;        /* NULL: unknown */
	const tg_error_provenance *prov;      /* NULL: none */
	size_t prov_omitted;
	size_t n_children;                    /* 0 for a leaf */
} err_spec;

/* A node from spec in one allocation: refs 1, no notes, no cause, no
 * context, children slots zeroed (the caller fills them and calls
 * tg__error_seal).  NULL when out of memory. */
tg_error *tg__error_alloc(const err_spec *spec);
/* error_new.c: fills spec's provenance from the calling task (capture
 * into *cap, described by *prov, both the caller's storage, which must
 * live until tg__error_alloc); nothing outside tasks. */
struct tg__provenance;
void tg__error_spec_capture(err_spec *spec, struct tg__provenance *cap,
			    tg_error_provenance *prov);

/* Computes the cached leaf count and fatal flag from the children. */
void tg__error_seal(tg_error *e);

/* A copy of src's notes into dst (dst has none).  TG_OK or TG_ENOMEM. */
int tg__error_copy_notes(tg_error *dst, const tg_error *src);

/* The group type for these children: ExceptionGroup, or
 * BaseExceptionGroup when one is not an Exception. */
const tg_error_type *tg__error_group_type(size_t n, tg_error *const *children);

/* The snapshot of e's provenance (task_name, chain borrowed from e). */
tg_error_provenance tg__error_prov(const tg_error *e);

/* A copy of note in a block (as tg__error_vformat makes notes); NULL when
 * out of memory. */
char *tg__error_note_copy(const char *note);

/* Frees e's notes (the array and each text). */
void tg__error_free_notes(tg_error *e);

/* a + b, or SIZE_MAX when that overflows: counts of errors in trees that
 * share subtrees can exceed any size_t, and a count must never wrap. */
static inline size_t
tg__error_count_add(size_t a, size_t b)
{
	return a > SIZE_MAX - b ? SIZE_MAX : a + b;
}

/* The raised errors e accounts for: the leaves it keeps plus the errors
 * its stand-ins count as lost (tg_error_kept_count + tg_error_lost_count). */
static inline size_t
tg__error_represented(const tg_error *e)
{
	return tg__error_count_add(e->n_leaves - e->n_stubs, e->n_lost);
}

/* ------------------------------------------------------------------ */
/* Group nodes and except* (error_tree.c, error_except.c)               */

/* A bare error that matches an except* clause, wrapped as CPython does:
 * ExceptionGroup("", [e]) (e is not consumed: the group takes a new
 * reference).  NULL when out of memory. */
tg_error *tg__error_wrap_bare(tg_error *e);

/* type is a group type or derives from one (except* refuses it). */
bool tg__error_type_is_group(const tg_error_type *type);

/* tg_error_subgroup_pred, except that a group whose every child comes
 * back unchanged is kept whole (the same node, a new reference) instead
 * of rebuilt: the projection behind except*'s result.  TG_OK or
 * TG_ENOMEM (*match NULL, nothing leaked). */
int tg__error_subgroup_whole(const tg_error *e, tg_error_pred pred,
			     void *ctx, tg_error **match);

/* ------------------------------------------------------------------ */
/* The out-of-memory reserve (error_reserve.c)                          */

/* The stand-in group for children when their node could not be
 * allocated (error.h, tg_error_group_new; docs/errors.md).  Consumes the
 * children; never NULL.  code goes on a stand-in node of its own; a
 * child handed back, one folded into, or the preallocated MemoryError
 * keeps its own. */
tg_error *tg__error_reserve_group(const char *message, int code, size_t n,
				  tg_error **children);

/* The misuse report (a RuntimeError with code status and the message,
 * cut to fit, and attached as its context) built in a reserve slot, when
 * its node could not be allocated.  Consumes attached.  With every slot
 * in use: the preallocated MemoryError, attached released and counted in
 * tg_error_lost_untracked(). */
tg_error *tg__error_reserve_usage(int status, const char *message,
				  tg_error *attached);

/* Gives a reserve-slot node's slot back; called by tg_error_decref on the
 * last reference, after releasing its contents. */
void tg__error_reserve_free(tg_error *e);

/* One of the first errors a reserve marker counts as lost, as it was
 * recorded before it was released: strings are copies, cut to fit
 * (a file keeps its end, with "..." in front).  Empty strings and 0
 * lines mean unknown. */
#define TG__LOST_NAMED 4
typedef struct tg__lost {
	const tg_error_type *type;
	uint64_t task_id; /* 0: raised outside any task */
	int line;         /* where it was raised */
	int spawn_line;   /* where its task was spawned */
	char task_name[32];
	char file[48];
	char func[32];
	char spawn_file[48];
	char spawn_func[32];
} tg__lost;

/* The named lost errors of a reserve marker (*n of them), or NULL with
 * *n = 0 for any other node. */
const tg__lost *tg__error_lost_named(const tg_error *e, size_t *n);

/* ------------------------------------------------------------------ */
/* Walking deep trees (error_walk.c)                                    */

/*
 * A stack of fixed-size items for the iterative walks: it starts in the
 * caller's array (on the C stack, so shallow trees cost no allocation)
 * and moves to a block from the library allocator, doubling, when that is
 * full.  push returns NULL when it cannot grow (out of memory): each walk
 * says what it then does (docs/errors.md, "Depth").
 */
typedef struct tg__wstack {
	char *items;
	size_t n, cap; /* items in use, room */
	size_t size;   /* bytes per item */
	bool heap;     /* items is tg__malloc'd */
} tg__wstack;

void tg__wstack_init(tg__wstack *s, void *first, size_t cap, size_t size);
void *tg__wstack_push(tg__wstack *s);
/* The top item (NULL when empty). */
static inline void *
tg__wstack_top(const tg__wstack *s)
{
	return s->n > 0 ? s->items + (s->n - 1) * s->size : NULL;
}
static inline void
tg__wstack_pop(tg__wstack *s)
{
	s->n--;
}
/* Frees the heap block, if any. */
void tg__wstack_fini(tg__wstack *s);

/* Leaf k (0-based, depth first, in child order) of e, found from the
 * cached leaf counts with no stack at all: the fallback of the leaf walks
 * when their stack cannot grow.  O(depth * width).  NULL when k >=
 * e->n_leaves. */
const tg_error *tg__error_kth_leaf(const tg_error *e, size_t k);

/* vsnprintf into a fresh block (blocks.h: free it with tg__block_free)
 * sized for the text; NULL on failure. */
char *tg__error_vformat(const char *fmt, va_list ap);

/* ------------------------------------------------------------------ */
/* Output sink for the printers: a FILE, or an snprintf-like buffer that
 * counts the length the whole text needs.  A FILE sink gathers the small
 * pieces the printers emit in hold and hands them to fwrite in chunks:
 * fwrite takes the FILE's lock on every call, and one byte per call made
 * the JSON of a large tree several times slower. */

typedef struct tg__sink {
	FILE *f;     /* non-NULL: write here */
	char *buf;   /* else: copy here, at most len - 1 bytes */
	size_t len;
	size_t need; /* bytes written or needed so far */
	bool failed; /* a write to f failed */
	size_t held; /* f: bytes waiting in hold */
	char hold[512];
} tg__sink;

void tg__sink_put(tg__sink *s, const char *p, size_t n);
void tg__sink_puts(tg__sink *s, const char *str);
void tg__sink_printf(tg__sink *s, const char *fmt, ...) TG_PRINTF(2, 3);
/* Writes out what a FILE sink holds, or NUL-terminates a buffer sink;
 * returns need.  Every sink ends with it. */
size_t tg__sink_finish(tg__sink *s);

#endif /* TG_ERROR_NODE_H */
