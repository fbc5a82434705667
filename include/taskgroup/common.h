/*
 * taskgroup/common.h - export macro, status codes and the allocator hook.
 *
 * Every public function that can fail without an error object returns an
 * int status: TG_OK (0) or one of the negative TG_E* codes below.  Codes are
 * stable (part of the ABI); tg_strerror() and tg_status_name() describe them.
 */
#ifndef TASKGROUP_COMMON_H
#define TASKGROUP_COMMON_H

#include <stddef.h>
#include <stdint.h>

#if defined(TG_STATIC_DEFINE)
#define TG_API
#elif defined(_WIN32)
#define TG_API __declspec(dllexport)
#else
#define TG_API __attribute__((visibility("default")))
#endif

#if defined(__GNUC__) || defined(__clang__)
#define TG_NODISCARD __attribute__((warn_unused_result))
#define TG_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define TG_NODISCARD
#define TG_PRINTF(fmt, args)
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* A source location: where a task was spawned or a run started.  TG_SITE()
 * makes a static one for the line it is written on, so passing it costs a
 * pointer (GNU C and clang; other compilers pass NULL: no site recorded). */
typedef struct tg_site {
	const char *file;
	int line;
	const char *func;
} tg_site;

#if defined(__GNUC__) || defined(__clang__)
#define TG_SITE()                                                            \
	(__extension__({                                                     \
		static const tg_site tg__site_here = { __FILE__, __LINE__,   \
						       __func__ };           \
		&tg__site_here;                                              \
	}))
#else
#define TG_SITE() ((const tg_site *)0)
#endif

/* Status codes.  Negative, so "if (rc < 0)" tests for any failure. */
enum tg_status {
	TG_OK = 0,
	/* An argument is NULL or out of range. */
	TG_EINVAL = -1,
	/* Memory could not be allocated. */
	TG_ENOMEM = -2,
	/* The group is aborting (a child failed or it was cancelled): spawn
	 * refused, the function never runs (asyncio: "is shutting down"). */
	TG_ESHUTTINGDOWN = -3,
	/* The group was already joined: spawn refused or join repeated
	 * (asyncio: "is finished"). */
	TG_EFINISHED = -4,
	/* The call needs a running task (inside tg_run or a runner) and the
	 * calling thread is not running one. */
	TG_ENOTASK = -5,
	/* The object is in use: a runner with runs in progress, say. */
	TG_EBUSY = -6,
	/* The call would wait for itself: a runner called from one of its own
	 * tasks. */
	TG_EDEADLK = -7,
	/* The call is not valid in the object's current state: groups joined
	 * out of nesting order, an object not initialised. */
	TG_ESTATE = -8,
	/* A resource other than memory ran out: a thread could not be
	 * created, or a try-spawn would exceed a limit. */
	TG_EAGAIN = -9,
	/* Only the task that opened the group may join it. */
	TG_ENOTOWNER = -10,
	/* Nothing to return: no child of a first-success group succeeded. */
	TG_ENOENT = -11
};

/* A short English description of a status code ("bad argument").  Never
 * NULL; unknown codes give "unknown status".  Thread-safe. */
TG_API const char *tg_strerror(int status);

/* The code's name as written in C ("TG_EINVAL").  Never NULL.  Thread-safe. */
TG_API const char *tg_status_name(int status);

/*
 * Allocator hook.  Every allocation the library makes goes through these
 * four functions (default: the C library's).  All four must be non-NULL,
 * else TG_EINVAL and nothing changes.  free must accept NULL.
 *
 * With the C library's allocator, error blocks (errors, notes) up to 4 KiB
 * come from 64 KiB slabs mapped from the system, given back once empty
 * and unneeded; at most 1 MiB of empty slabs is kept (docs/errors.md).  With an allocator
 * set here every request and every free reaches it, and the swap first
 * gives the kept slabs back.
 *
 * Thread-safety: call it while no pool exists (before the first tg_run or
 * runner, or after every runner is destroyed); swapping allocators while
 * memory from the old one is live would hand it to the wrong free.
 * Returns TG_OK, TG_EINVAL, or TG_EBUSY if any runner is alive.
 */
typedef struct tg_allocator {
	void *(*malloc_fn)(size_t size);
	void *(*calloc_fn)(size_t count, size_t size);
	void *(*realloc_fn)(void *ptr, size_t size);
	void (*free_fn)(void *ptr);
} tg_allocator;

TG_API int tg_set_allocator(const tg_allocator *allocator);

/* Restores the C library's allocator.  Same rules as tg_set_allocator. */
TG_API int tg_reset_allocator(void);

/*
 * Gives back to the system the memory the library keeps only for reuse
 * and any thread may release: the empty slabs of the error path, which
 * the library otherwise gives back by itself once a period of use shows
 * them unneeded (at most 1 MiB; docs/errors.md).  Returns the bytes given
 * back (0 when none were kept).  The frames and group cores each worker
 * caches belong to that worker and stay.  For programs about to idle
 * after a burst of failures, and for measuring what the process holds
 * (tg-stress --rss-trim).  Thread-safe; any time, from any thread.
 */
TG_API size_t tg_trim_memory(void);

#ifdef __cplusplus
}
#endif

#endif /* TASKGROUP_COMMON_H */
