/*
 * blocks.h - the error path's blocks (errors, note texts, notes arrays),
 * carved from slabs given back to the system once empty.  Internal.
 *
 * Errors are made on the worker that fails and freed on whichever thread
 * drops the tree, in sizes that vary with the message and the spawn chain.
 * Handed to malloc one by one, that traffic makes glibc's per-thread
 * caches and arenas creep up for as long as a program keeps failing, each
 * keeping the largest peak of live errors it has seen (docs/testing.md,
 * the soaks).  So these blocks come in size classes (tg__alloc_class),
 * and those up to 4 KiB are carved from 64 KiB slabs mapped from the
 * system: a freed block serves the next request of its class, and a slab
 * whose blocks are all free goes back to the system once a period shows
 * it is not needed (TG__BLOCKS_DECAY_NS), or at once beyond
 * TG__BLOCKS_EMPTY_MAX empties.
 *
 * Slabs are used only with the C library's allocator.  With one set by
 * tg_set_allocator every request and every free reaches it, so a counting
 * or failing allocator sees exactly what the library does; and
 * tg_set_allocator first gives the empty slabs back.
 */
#ifndef TG_BLOCKS_H
#define TG_BLOCKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bytes of one slab; the most empty slabs kept for the next peak (the
 * rest are unmapped at once); and the period after which the empties the
 * last period did not need are unmapped (checked at slab events: a slab
 * emptied, taken from the empties or mapped). */
#define TG__BLOCKS_SLAB_SIZE ((size_t)64 * 1024)
#define TG__BLOCKS_EMPTY_MAX 16
#define TG__BLOCKS_DECAY_NS ((int64_t)1000 * 1000 * 1000)

/* A block with room for size bytes (zeroed when zero is true), NULL when
 * out of memory or size is 0.  Free it with tg__block_free only.
 * Thread-safe. */
void *tg__block_alloc(size_t size, bool zero);

/* Gives p (from tg__block_alloc or tg__block_grow; NULL is ignored) back.
 * Thread-safe. */
void tg__block_free(void *p);

/* Room for size bytes with p's first used bytes kept: p itself when its
 * class is big enough, else a new block holding a copy of the first used
 * bytes of p, and p given back.  NULL when out of memory (p unchanged)
 * or size is 0.  Thread-safe. */
void *tg__block_grow(void *p, size_t used, size_t size);

/* Gives the kept empty slabs back to the system (tg_set_allocator calls
 * it before a swap; tg_trim_memory is its public face); returns their
 * bytes.  Thread-safe. */
size_t tg__blocks_drain(void);

/* For tests: the clock the decay reads (tg_now_ns; NULL restores it).
 * Starts a new period.  Thread-safe. */
void tg__blocks_set_clock(int64_t (*now)(void));

/* For tests: slabs mapped now (empty ones included), empty slabs kept,
 * blocks handed out from slabs and not freed, and slabs ever mapped. */
typedef struct tg__blocks_stats_t {
	size_t slabs, empty_slabs, blocks_out, mapped;
} tg__blocks_stats_t;
void tg__blocks_stats(tg__blocks_stats_t *st);

#endif /* TG_BLOCKS_H */
