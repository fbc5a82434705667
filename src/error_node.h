/*
 * error_node.h - the layout of a tg_error, shared by the error module's
 * files (error.c, error_tree.c, format.c, format_json.c).  Internal: the
 * rest of the library goes through error.h and error_internal.h.
 *
 * Memory layout
 * -------------
 * A node is one block: the struct, then its children array (groups), then
 * its spawn chain, then every string it owns (message, origin file and
 * function, task name, spawn-site strings).  Notes are the only part
 * allocated separately, because they grow after creation (PEP 678).
 *
 * Nodes built by the out-of-memory fallback live in static "reserve slots"
 * instead (error_tree.c); the flag ERR_RESERVED says so, and their release
 * returns the slot instead of freeing.  The preallocated MemoryError is
 * static and immortal (ERR_IMMORTAL): reference operations skip it.
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
	ERR_HAS_FATAL = 1u << 2 /* fatal itself or holds a fatal leaf */
};

struct tg_error {
	/* References.  Changed only through the atomic shim. */
	TG_ATOMIC(uint32_t) refs;
	unsigned flags;
	const tg_error_type *type;
	int code;
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
	size_t n_leaves; /* cached: 1 for a leaf */
	/* Where it was raised (file NULL when unknown). */
	tg_error_origin origin;
	/* Provenance; strings point into this node's block. */
	uint64_t task_id;
	const char *task_name;
	int worker;
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

/* Computes the cached leaf count and fatal flag from the children. */
void tg__error_seal(tg_error *e);

/* A copy of src's notes into dst (dst has none).  TG_OK or TG_ENOMEM. */
int tg__error_copy_notes(tg_error *dst, const tg_error *src);

/* The group type for these children: ExceptionGroup, or
 * BaseExceptionGroup when one is not an Exception. */
const tg_error_type *tg__error_group_type(size_t n, tg_error *const *children);

/* The snapshot of e's provenance (task_name, chain borrowed from e). */
tg_error_provenance tg__error_prov(const tg_error *e);

/* Gives a reserve-slot node's slot back (error_tree.c); called by
 * tg_error_decref on the last reference, after releasing its contents. */
void tg__error_reserve_free(tg_error *e);

/* vsnprintf into a fresh block (blocks.h: free it with tg__block_free)
 * sized for the text; NULL on failure. */
char *tg__error_vformat(const char *fmt, va_list ap);

/* ------------------------------------------------------------------ */
/* Output sink for the printers: a FILE, or an snprintf-like buffer that
 * counts the length the whole text needs. */

typedef struct tg__sink {
	FILE *f;     /* non-NULL: write here */
	char *buf;   /* else: copy here, at most len - 1 bytes */
	size_t len;
	size_t need; /* bytes written or needed so far */
	bool failed; /* a write to f failed */
} tg__sink;

void tg__sink_put(tg__sink *s, const char *p, size_t n);
void tg__sink_puts(tg__sink *s, const char *str);
void tg__sink_printf(tg__sink *s, const char *fmt, ...) TG_PRINTF(2, 3);
/* NUL-terminates a buffer sink; returns need. */
size_t tg__sink_finish(tg__sink *s);

#endif /* TG_ERROR_NODE_H */
