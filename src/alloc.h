/*
 * alloc.h - every allocation of the library goes through here, so that
 * tg_set_allocator can count and fail allocations (tests) or substitute an
 * allocator (users).  Internal.
 */
#ifndef TG_ALLOC_H
#define TG_ALLOC_H

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

/* A copy of s made with tg__malloc; NULL when s is NULL or out of memory. */
char *tg__strdup(const char *s);

/* Runners hold a pin while they exist; tg_set_allocator refuses (TG_EBUSY)
 * while any pin is held.  Thread-safe. */
void tg__alloc_pin(void);
void tg__alloc_unpin(void);

#endif /* TG_ALLOC_H */
