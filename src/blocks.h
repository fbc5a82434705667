/*
 * blocks.h - recycled blocks for the error path (errors, note texts, notes
 * arrays).  Internal.
 *
 * Errors are made on the worker that fails and freed on whichever thread
 * drops the tree, in sizes that vary with the message and the spawn chain.
 * Handed to malloc one by one, that traffic makes glibc's per-thread
 * caches and arenas creep up for as long as a program keeps failing
 * (docs/testing.md, the soaks).  So these blocks come in size classes
 * (tg__alloc_class) and a freed one goes to a small list of its class,
 * shared by all threads, where the next request of that class finds it.
 * The lists hold at most TG__BLOCKS_HELD_MAX bytes in all; beyond that,
 * and for blocks over 4 KiB, free goes to the allocator.
 *
 * Recycling happens only with the C library's allocator.  With one set by
 * tg_set_allocator every request and every free reaches it, so a counting
 * or failing allocator sees exactly what the library does; and
 * tg_set_allocator first gives the recycled blocks back.
 */
#ifndef TG_BLOCKS_H
#define TG_BLOCKS_H

#include <stdbool.h>
#include <stddef.h>

/* Bytes the lists may hold in all (their blocks' class sizes summed). */
#define TG__BLOCKS_HELD_MAX (1024 * 1024)

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

/* Frees every recycled block through the allocator (tg_set_allocator
 * calls it before a swap).  Thread-safe, but only meaningful while no
 * block is being freed. */
void tg__blocks_drain(void);

/* For tests: blocks and bytes (class sizes) the lists hold now. */
void tg__blocks_held(size_t *blocks, size_t *bytes);

#endif /* TG_BLOCKS_H */
