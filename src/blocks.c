/*
 * blocks.c - the error path's blocks, carved from slabs that go back to
 * the system once empty (see blocks.h for why).
 *
 * Theory of operation
 * -------------------
 * Every block has a 16-byte head before the caller's bytes: the slab it
 * was carved from (NULL for a block straight from the allocator) and
 * either its class size (allocator blocks) or, while it is free in its
 * slab, the next free block.  Requests are rounded to the class of
 * size + head (tg__alloc_class), so every block of a class is
 * interchangeable.
 *
 * Classes of at most MAX_CLASS bytes are carved from slabs of SLAB_SIZE
 * bytes, mapped from the system (mmap).  A slab serves one class at a
 * time: its never-used tail is handed out front to back (so untouched
 * pages stay unmapped in RSS), its freed blocks LIFO before the tail.
 * Each class keeps a list of its slabs that have room; a full slab is on
 * no list and goes back on its class's list when a block of it is freed.
 * A slab whose last block comes back is empty and waits, for any class,
 * on a stack of empties (at most TG__BLOCKS_EMPTY_MAX; beyond that it is
 * unmapped at once).  The empties decay: at the first slab event (a slab
 * emptied, taken from the stack or mapped) after a period of
 * TG__BLOCKS_DECAY_NS, as many empties as the stack never went below
 * during the period were not needed in it, and that many, the longest
 * unused, are unmapped.  A workload that keeps emptying and refilling
 * slabs keeps what it needed in the last period (no mmap churn: two
 * system calls and fresh page faults per slab; unmapping all but 4
 * empties made tg-stress 10-15% slower), and a level that
 * moves little from one sample to the next: the largest need of
 * thousands of trees, not of the last few.  After a peak (a tree that
 * failed a thousand times) the surplus goes back to the system within
 * two periods of the next slab events.  Freed malloc blocks would
 * instead stay in the arenas and caches of the threads that freed them,
 * each keeping the largest peak it has seen.
 *
 * One mutex guards the lists, the slabs' free lists and the counts: it
 * orders a block's last use by the thread that freed it before its first
 * use by the thread that takes it (TSan sees the lock).  A few pointer
 * moves under it are cheap next to making an error; mapping and unmapping
 * happen outside it.
 *
 * Slabs exist only while the C library's allocator is in use
 * (tg__alloc_recycles); otherwise blocks come from the allocator, head
 * and all, so a counting or failing allocator sees every request.  A
 * block's head names where it came from, so a block freed after an
 * allocator swap still goes back to the right place.
 *
 * Under AddressSanitizer a free block's bytes are poisoned, so a use
 * after free still reports, and slabs come from malloc rather than mmap:
 * LeakSanitizer scans malloc blocks for pointers but not private
 * mappings, and an error node in a slab may be the only holder of a
 * large (allocator) block.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "taskgroup/common.h"
#include "taskgroup/group.h" /* tg_now_ns */

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

#if !defined(TG_BLOCKS_ASAN)
#include <sys/mman.h>
#if defined(MAP_ANONYMOUS) || defined(MAP_ANON)
#define TG_BLOCKS_MMAP 1
#ifndef MAP_ANONYMOUS
#define MAP_ANONYMOUS MAP_ANON
#endif
#endif
#endif

typedef struct slab slab;

typedef struct block_head {
	_Alignas(16) slab *slab; /* NULL: straight from the allocator */
	union {
		size_t size;             /* allocator blocks: class size */
		struct block_head *next; /* free in its slab: the next */
	} u;
} block_head;

/* At the start of its mapping.  All fields under lock. */
struct slab {
	_Alignas(64) slab *prev, *next; /* its class's list, or the empties */
	block_head *free;               /* freed blocks, LIFO */
	char *fresh;                    /* never handed out: [fresh, end) */
	char *end;
	size_t cls;  /* class size, head included */
	size_t out;  /* blocks handed out and not freed */
	size_t list; /* index of its class's list */
};

/* The largest class carved from slabs, and the number of classes up to
 * it in tg__alloc_class's sequence (32, 48, 64, 96, ..., 3072, 4096). */
#define MAX_CLASS 4096
#define NCLASSES 15
#define SLAB_SIZE TG__BLOCKS_SLAB_SIZE

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t fork_handlers_once = PTHREAD_ONCE_INIT;
static slab *roomy[NCLASSES]; /* per class: slabs with room, linked */
/* Empty slabs: a stack, the most recently emptied on top, linked
 * through prev (towards the top) and next (towards the bottom). */
static slab *empty_top, *empty_bottom;
static size_t n_empty;        /* slabs on the stack */
static size_t low_water;      /* the fewest on it since the period began */
static int64_t period_start;  /* when the period began (clock) */
static int64_t (*clock_fn)(void) = tg_now_ns; /* tests may swap it */
static size_t n_mapped;       /* slabs ever mapped (for tests) */
static size_t n_slabs;        /* slabs mapped, empty or not */

/*
 * fork(): another thread may hold the lock at the moment of the fork,
 * and the child has only the forking thread, so the lock would stay held
 * there for ever and the child's first error would hang (seen: 1 child in
 * about 200 while workers raised errors).  The handlers take the lock
 * around the fork, so the lists are consistent and the lock free on both
 * sides.  Registered once, at the first use of the lock.
 */
static void
fork_prepare(void)
{
	pthread_mutex_lock(&lock);
}

static void
fork_resume(void)
{
	/* The parent, and the child: its one thread is the one that took
	 * the lock in fork_prepare. */
	pthread_mutex_unlock(&lock);
}

static void
fork_handlers_register(void)
{
	/* Without the handlers (out of memory) a fork while another
	 * thread holds the lock is as before; nothing else depends on it. */
	(void)pthread_atfork(fork_prepare, fork_resume, fork_resume);
}

static void
blocks_lock(void)
{
	pthread_once(&fork_handlers_once, fork_handlers_register);
	pthread_mutex_lock(&lock);
}
static size_t n_out;          /* blocks handed out from slabs */

/* The index of class cls's list (found by walking tg__alloc_class's
 * sequence, so the classes are defined in one place); NCLASSES when the
 * class is not carved from slabs. */
static size_t
list_of(size_t cls)
{
	size_t i, c;

	for (i = 0, c = tg__alloc_class(1); i < NCLASSES && c <= MAX_CLASS;
	     i++, c = tg__alloc_class(c + 1))
		if (c == cls)
			return i;
	return NCLASSES;
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

static char *
body_of(slab *s)
{
	return (char *)s + sizeof(slab);
}

/* A fresh slab's memory, NULL when the system has none.  Called without
 * the lock. */
static slab *
map_slab(void)
{
	void *m;

#ifdef TG_BLOCKS_MMAP
	m = mmap(NULL, SLAB_SIZE, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return NULL;
#else
	/* Slabs exist only with the C library's allocator and must go back
	 * to it even after a swap: malloc itself, not tg__malloc. */
	m = malloc(SLAB_SIZE);
	if (m == NULL)
		return NULL;
#endif
	POISON(body_of(m), SLAB_SIZE - sizeof(slab));
	return m;
}

/* Gives an empty slab back to the system.  Called without the lock. */
static void
unmap_slab(slab *s)
{
	UNPOISON(s, SLAB_SIZE);
#ifdef TG_BLOCKS_MMAP
	munmap(s, SLAB_SIZE);
#else
	free(s);
#endif
}

static bool
is_full(const slab *s)
{
	return s->free == NULL && (size_t)(s->end - s->fresh) < s->cls;
}

/* Puts s first on its class's list.  Under lock. */
static void
link_roomy(slab *s)
{
	s->prev = NULL;
	s->next = roomy[s->list];
	if (s->next != NULL)
		s->next->prev = s;
	roomy[s->list] = s;
}

/* Takes s off its class's list.  Under lock. */
static void
unlink_roomy(slab *s)
{
	if (s->prev != NULL)
		s->prev->next = s->next;
	else
		roomy[s->list] = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
}

/* Makes the empty (or fresh) slab s serve class cls (list i).  Under
 * lock. */
static void
carve(slab *s, size_t cls, size_t i)
{
	s->free = NULL;
	s->fresh = body_of(s);
	s->end = (char *)s + SLAB_SIZE;
	s->cls = cls;
	s->out = 0;
	s->list = i;
	link_roomy(s);
}

/* Puts the empty slab s on top of the stack.  Under lock. */
static void
push_empty(slab *s)
{
	s->prev = NULL;
	s->next = empty_top;
	if (empty_top != NULL)
		empty_top->prev = s;
	else
		empty_bottom = s;
	empty_top = s;
	n_empty++;
}

/* Takes s, wherever it is, off the stack of empties.  Under lock. */
static void
unlink_empty(slab *s)
{
	if (s->prev != NULL)
		s->prev->next = s->next;
	else
		empty_top = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
	else
		empty_bottom = s->prev;
	n_empty--;
}

/* The most recently emptied slab, off the stack; NULL when none.  Under
 * lock. */
static slab *
pop_empty(void)
{
	slab *s = empty_top;

	if (s == NULL)
		return NULL;
	unlink_empty(s);
	if (n_empty < low_water)
		low_water = n_empty;
	return s;
}

/* A slab event; at the end of a period takes the empties the period did
 * not need off the bottom of the stack and returns them (linked through
 * next) for unmap_all.  Under lock. */
static slab *
tick(void)
{
	slab *out = NULL, *s;
	int64_t now = clock_fn();

	if (now - period_start < TG__BLOCKS_DECAY_NS)
		return NULL;
	for (; low_water > 0 && empty_bottom != NULL; low_water--) {
		s = empty_bottom;
		unlink_empty(s);
		n_slabs--;
		s->next = out;
		out = s;
	}
	period_start = now;
	low_water = n_empty;
	return out;
}

/* Unmaps the slabs linked through next.  Called without the lock. */
static void
unmap_all(slab *s)
{
	slab *next;

	for (; s != NULL; s = next) {
		next = s->next;
		unmap_slab(s);
	}
}

/* A block of class cls (list i) from a slab, or NULL when no slab can be
 * had. */
static block_head *
take(size_t cls, size_t i)
{
	block_head *h;
	slab *s, *mapped = NULL, *unmap = NULL;

	blocks_lock();
	if (roomy[i] == NULL && (s = pop_empty()) != NULL) {
		carve(s, cls, i);
		unmap = tick();
	}
	if (roomy[i] == NULL) {
		pthread_mutex_unlock(&lock);
		mapped = map_slab();
		if (mapped == NULL)
			return NULL;
		blocks_lock();
		n_slabs++;
		n_mapped++;
		/* Another thread may have made room meanwhile; this slab
		 * then simply joins the list. */
		carve(mapped, cls, i);
		unmap = tick();
	}
	s = roomy[i];
	if (s->free != NULL) {
		h = s->free;
		UNPOISON(payload(h), cls - sizeof(block_head));
		s->free = h->u.next;
	} else {
		h = (block_head *)(void *)s->fresh;
		UNPOISON(h, cls);
		s->fresh += cls;
	}
	h->slab = s;
	s->out++;
	n_out++;
	if (is_full(s))
		unlink_roomy(s);
	pthread_mutex_unlock(&lock);
	unmap_all(unmap);
	return h;
}

void *
tg__block_alloc(size_t size, bool zero)
{
	size_t cls, i;
	block_head *h = NULL;

	if (size == 0 || size > SIZE_MAX - sizeof(block_head))
		return NULL;
	cls = tg__alloc_class(size + sizeof(block_head));
	if (tg__alloc_recycles() && (i = list_of(cls)) < NCLASSES)
		h = take(cls, i);
	if (h != NULL) {
		if (zero)
			memset(payload(h), 0, size);
	} else {
		/* A class above MAX_CLASS, another allocator, or no slab to
		 * be had: the allocator's own block. */
		h = zero ? tg__calloc(1, cls) : tg__malloc(cls);
		if (h == NULL)
			return NULL;
		h->slab = NULL;
		h->u.size = cls;
	}
	return payload(h);
}

void
tg__block_free(void *p)
{
	block_head *h;
	slab *s, *unmap = NULL;
	bool was_full;

	if (p == NULL)
		return;
	h = head_of(p);
	s = h->slab;
	if (s == NULL) {
		tg__free(h);
		return;
	}
	blocks_lock();
	POISON(p, s->cls - sizeof(block_head));
	was_full = is_full(s);
	h->u.next = s->free;
	s->free = h;
	s->out--;
	n_out--;
	if (s->out == 0) {
		if (!was_full)
			unlink_roomy(s);
		/* None kept once another allocator took over: no new slab
		 * will be wanted. */
		if (n_empty < TG__BLOCKS_EMPTY_MAX && tg__alloc_recycles()) {
			POISON(body_of(s), SLAB_SIZE - sizeof(slab));
			push_empty(s);
			unmap = tick();
		} else {
			n_slabs--;
			s->next = NULL;
			unmap = s;
		}
	} else if (was_full) {
		link_roomy(s);
	}
	pthread_mutex_unlock(&lock);
	unmap_all(unmap);
}

/* Room for the caller's bytes in the block behind head h. */
static size_t
room(const block_head *h)
{
	return (h->slab != NULL ? h->slab->cls : h->u.size) -
	       sizeof(block_head);
}

void *
tg__block_grow(void *p, size_t used, size_t size)
{
	void *grown;

	if (p == NULL)
		return tg__block_alloc(size, false);
	/* A slab's class never changes while it has a block out, so
	 * reading it needs no lock. */
	if (size != 0 && size <= room(head_of(p)))
		return p;
	grown = tg__block_alloc(size, false);
	if (grown == NULL)
		return NULL;
	memcpy(grown, p, used);
	tg__block_free(p);
	return grown;
}

size_t
tg__blocks_drain(void)
{
	slab *all;
	size_t bytes;

	blocks_lock();
	bytes = n_empty * SLAB_SIZE;
	all = empty_top;
	empty_top = empty_bottom = NULL;
	n_slabs -= n_empty;
	n_empty = low_water = 0;
	period_start = clock_fn();
	pthread_mutex_unlock(&lock);
	unmap_all(all);
	return bytes;
}

void
tg__blocks_set_clock(int64_t (*now)(void))
{
	blocks_lock();
	clock_fn = now != NULL ? now : tg_now_ns;
	period_start = clock_fn();
	pthread_mutex_unlock(&lock);
}

size_t
tg_trim_memory(void)
{
	return tg__blocks_drain();
}

void
tg__blocks_stats(tg__blocks_stats_t *st)
{
	blocks_lock();
	st->slabs = n_slabs;
	st->empty_slabs = n_empty;
	st->blocks_out = n_out;
	st->mapped = n_mapped;
	pthread_mutex_unlock(&lock);
}
