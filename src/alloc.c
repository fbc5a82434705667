/*
 * alloc.c - the allocator hook (tg_set_allocator) and the library's
 * allocation entry points.
 */
#include <stdint.h>
#include <stdlib.h>

#include "taskgroup/common.h"

#include "alloc.h"
#include "blocks.h"
#include "atomic.h"

/* The four functions in use.  Swapped only while no runner exists (pins
 * == 0), so readers need no ordering beyond the pool start that follows:
 * pthread_create orders the swap before any worker's allocation. */
static tg_allocator current = { malloc, calloc, realloc, free };
/* current is the C library's (blocks.c recycles only then); same rules. */
static bool recycling = true;

/* Runners alive; tg_set_allocator refuses while non-zero. */
static TG_ATOMIC(uint32_t) pins;

void *
tg__malloc(size_t size)
{
	if (size == 0)
		return NULL;
	return current.malloc_fn(size);
}

void *
tg__calloc(size_t count, size_t size)
{
	if (count == 0 || size == 0)
		return NULL;
	return current.calloc_fn(count, size);
}

void *
tg__realloc(void *ptr, size_t size)
{
	if (size == 0)
		return NULL;
	return current.realloc_fn(ptr, size);
}

void
tg__free(void *ptr)
{
	current.free_fn(ptr);
}

size_t
tg__alloc_class(size_t size)
{
	size_t pow = 64, half;

	if (size <= 32)
		return 32;
	if (size <= 64)
		return (size + 15) & ~(size_t)15;
	/* Find pow, the power of two with pow < size <= 2 * pow. */
	while (size > 2 * pow) {
		if (pow > SIZE_MAX / 4)
			return size;
		pow *= 2;
	}
	half = pow + pow / 2;
	return size <= half ? half : 2 * pow;
}

bool
tg__alloc_recycles(void)
{
	return recycling;
}

void *
tg__calloc_line(size_t size, void **raw)
{
	void *p = tg__calloc(1, size + 63);

	*raw = p;
	if (p == NULL)
		return NULL;
	return (void *)(((uintptr_t)p + 63) & ~(uintptr_t)63);
}

void
tg__alloc_pin(void)
{
	/* acq_rel: pairs with the acquire load in set_allocator, so a swap
	 * that sees no pin happens before this runner's first allocation. */
	tg_atomic_faa_acqrel_u32(&pins, 1);
}

void
tg__alloc_unpin(void)
{
	/* acq_rel: the runner's last free happens before a later swap. */
	tg_atomic_faa_acqrel_u32(&pins, (uint32_t)-1);
}

int
tg_set_allocator(const tg_allocator *allocator)
{
	if (allocator == NULL || allocator->malloc_fn == NULL ||
	    allocator->calloc_fn == NULL || allocator->realloc_fn == NULL ||
	    allocator->free_fn == NULL)
		return TG_EINVAL;
	/* acquire: pairs with unpin's acq_rel (see above). */
	if (tg_atomic_load_acquire_u32(&pins) != 0)
		return TG_EBUSY;
	/* Recycled blocks came from the allocator in use: give them back
	 * to it before it goes. */
	tg__blocks_drain();
	current = *allocator;
	recycling = allocator->malloc_fn == malloc &&
		    allocator->calloc_fn == calloc &&
		    allocator->realloc_fn == realloc &&
		    allocator->free_fn == free;
	return TG_OK;
}

int
tg_reset_allocator(void)
{
	static const tg_allocator libc = { malloc, calloc, realloc, free };

	return tg_set_allocator(&libc);
}
