/*
 * alloc.h - every allocation of the library goes through here, so that
 * tg_set_allocator can count and fail allocations (tests) or substitute an
 * allocator (users).  Internal.
 */
#ifndef TG_ALLOC_H
#define TG_ALLOC_H

#include <stdbool.h>
#include <stddef.h>

/* The current allocator's functions.  tg__malloc(0) returns NULL, like
 * libuv's, so callers never depend on a zero-size block. */
void *tg__malloc(size_t size);
void *tg__calloc(size_t count, size_t size);
void *tg__realloc(void *ptr, size_t size);
void tg__free(void *ptr);

/* Zeroed memory aligned to a cache line (64 bytes), for structs with
 * _Alignas(64) members; *raw receives what tg__free must be given. */
void *tg__calloc_line(size_t size, void **raw);

/* The size class of a request of size bytes: size rounded up to 32, 48
 * or 64 bytes below 64, then to two classes per power of two (96, 128,
 * 192, 256, 384, 512, 768, ...); size itself when rounding would overflow.
 * The error path's blocks come in these classes (blocks.h says why).
 * Wastes under a third of a block on average.  Pure function. */
size_t tg__alloc_class(size_t size);

/* True while the C library's allocator is in use: only then are freed
 * error blocks recycled (blocks.c).  Changes only under the rules of
 * tg_set_allocator. */
bool tg__alloc_recycles(void);

/* Runners hold a pin while they exist; tg_set_allocator refuses (TG_EBUSY)
 * while any pin is held.  Thread-safe. */
void tg__alloc_pin(void);
void tg__alloc_unpin(void);

#endif /* TG_ALLOC_H */
