/*
 * blocks.c - recycled blocks for the error path (see blocks.h for why).
 *
 * Theory of operation
 * -------------------
 * Every block has a 16-byte head before the caller's bytes: the block's
 * class size (head included) and, while the block sits on a list, the
 * next one.  Requests are rounded to the class of size + head
 * (tg__alloc_class), so every block of a class is interchangeable.
 *
 * Classes of at most MAX_CLASS bytes have one list each: a LIFO stack,
 * shared by all threads.  free pushes while all the lists together hold
 * less than TG__BLOCKS_HELD_MAX bytes, else gives the block to the
 * allocator; alloc pops, else asks the allocator.  One budget for all the
 * classes lets the classes a program uses take it all (a stress run's
 * errors are mostly 1 KiB blocks).  One mutex guards the lists and the
 * budget: it orders a block's last use by the thread that freed it before
 * its first use by the thread that takes it (TSan sees the lock); a few
 * pointer moves under it are cheap next to making an error, and a
 * lock-free stack (whose pop needs ABA protection) would not pay.
 *
 * Recycling is on only while the C library's allocator is in use
 * (tg__alloc_recycles); otherwise alloc and free go straight to the
 * allocator, head and all.  Under AddressSanitizer a listed block's bytes
 * are poisoned, so a use after free still reports.
 */
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "alloc.h"
#include "blocks.h"

#if defined(__SANITIZE_ADDRESS__)
#define TG_BLOCKS_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TG_BLOCKS_ASAN 1
#endif
#endif

#ifdef TG_BLOCKS_ASAN
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

typedef struct block_head {
	_Alignas(16) size_t size; /* class size, head included */
	struct block_head *next;  /* on a list only */
} block_head;

/* The largest class with a list, and the number of classes up to it in
 * tg__alloc_class's sequence (32, 48, 64, 96, ..., 3072, 4096). */
#define MAX_CLASS 4096
#define NCLASSES 15

static pthread_mutex_t lists_lock = PTHREAD_MUTEX_INITIALIZER;
static block_head *lists[NCLASSES]; /* stacks; under lists_lock */
static size_t held;                 /* bytes listed; under lists_lock */

/* The list of class size cls (found by walking tg__alloc_class's
 * sequence, so the classes are defined in one place); NULL when the
 * class has none. */
static block_head **
list_of(size_t cls)
{
	size_t i, c;

	for (i = 0, c = tg__alloc_class(1); i < NCLASSES && c <= MAX_CLASS;
	     i++, c = tg__alloc_class(c + 1))
		if (c == cls)
			return &lists[i];
	return NULL;
}

static void *
payload(block_head *h)
{
	return (char *)h + sizeof(block_head);
}

static block_head *
head_of(void *p)
{
	return (block_head *)(void *)((char *)p - sizeof(block_head));
}

/* A listed block of class cls, or NULL. */
static block_head *
take(size_t cls)
{
	block_head **l = list_of(cls);
	block_head *h;

	if (l == NULL)
		return NULL;
	pthread_mutex_lock(&lists_lock);
	h = *l;
	if (h != NULL) {
		*l = h->next;
		held -= cls;
	}
	pthread_mutex_unlock(&lists_lock);
	if (h != NULL)
		UNPOISON(payload(h), cls - sizeof(block_head));
	return h;
}

void *
tg__block_alloc(size_t size, bool zero)
{
	size_t cls;
	block_head *h = NULL;

	if (size == 0 || size > SIZE_MAX - sizeof(block_head))
		return NULL;
	cls = tg__alloc_class(size + sizeof(block_head));
	if (tg__alloc_recycles())
		h = take(cls);
	if (h != NULL) {
		if (zero)
			memset(payload(h), 0, size);
	} else {
		h = zero ? tg__calloc(1, cls) : tg__malloc(cls);
		if (h == NULL)
			return NULL;
		h->size = cls;
	}
	h->next = NULL;
	return payload(h);
}

void
tg__block_free(void *p)
{
	block_head *h, **l;

	if (p == NULL)
		return;
	h = head_of(p);
	l = tg__alloc_recycles() ? list_of(h->size) : NULL;
	if (l != NULL) {
		pthread_mutex_lock(&lists_lock);
		if (held + h->size <= TG__BLOCKS_HELD_MAX) {
			POISON(p, h->size - sizeof(block_head));
			held += h->size;
			h->next = *l;
			*l = h;
			h = NULL;
		}
		pthread_mutex_unlock(&lists_lock);
	}
	tg__free(h); /* NULL when listed */
}

void *
tg__block_grow(void *p, size_t used, size_t size)
{
	block_head *h;
	void *grown;

	if (p == NULL)
		return tg__block_alloc(size, false);
	h = head_of(p);
	if (size != 0 && size <= h->size - sizeof(block_head))
		return p;
	grown = tg__block_alloc(size, false);
	if (grown == NULL)
		return NULL;
	memcpy(grown, p, used);
	tg__block_free(p);
	return grown;
}

void
tg__blocks_drain(void)
{
	block_head *all = NULL, *h;
	size_t i;

	pthread_mutex_lock(&lists_lock);
	for (i = 0; i < NCLASSES; i++) {
		while ((h = lists[i]) != NULL) {
			lists[i] = h->next;
			h->next = all;
			all = h;
		}
	}
	held = 0;
	pthread_mutex_unlock(&lists_lock);
	while (all != NULL) {
		h = all;
		all = h->next;
		UNPOISON(payload(h), h->size - sizeof(block_head));
		tg__free(h);
	}
}

void
tg__blocks_held(size_t *blocks, size_t *bytes)
{
	block_head *h;
	size_t i;

	*blocks = 0;
	pthread_mutex_lock(&lists_lock);
	for (i = 0; i < NCLASSES; i++)
		for (h = lists[i]; h != NULL; h = h->next)
			(*blocks)++;
	*bytes = held;
	pthread_mutex_unlock(&lists_lock);
}
