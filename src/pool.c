/*
 * pool.c - creating and destroying the worker pool, the injection queue
 * for root tasks, and the thread-local "which worker am I".
 */
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "taskgroup/common.h"

#include "alloc.h"
#include "taskgroup/cancel.h"

#include "platform.h"
#include "scheduler.h"
#include "stack_guard.h"

/* Initial deque capacity (grows on demand). */
#define DEQUE_INITIAL 256
_Thread_local tg__worker *tg__tls_self
	__attribute__((tls_model("initial-exec")));

const tg__worker tg__no_worker = { .attention = 1 };
_Thread_local tg__worker *tg__tls_fast
	__attribute__((tls_model("initial-exec"))) =
		(tg__worker *)&tg__no_worker;

/* What tg__tls_attention points at on threads that are not workers: never
 * set, so the inline checkpoint says "not cancelled" there at once. */
static const uint32_t no_attention;

_Thread_local const uint32_t *tg__tls_attention
	__attribute__((tls_model("initial-exec"))) = &no_attention;

void *
tg__worker_thread(void *arg)
{
	tg__worker *w = arg;

	tg__tls_self = w;
	tg__tls_fast = w;
	tg__tls_attention = &w->attention;
	tg__stack_guard_thread_start(w, &w->pool->attr);
	tg__worker_loop(w);
	tg__stack_guard_thread_end();
	tg__tls_attention = &no_attention;
	tg__tls_fast = (tg__worker *)&tg__no_worker;
	tg__tls_self = NULL;
	return NULL;
}

tg__worker *
tg__worker_new(tg__pool *pool, int index)
{
	void *raw;
	tg__worker *w = tg__calloc_line(sizeof(*w), &raw);

	if (w == NULL)
		return NULL;
	w->raw = raw;
	if (tg__deque_init(&w->dq, DEQUE_INITIAL) != 0) {
		tg__free(raw);
		return NULL;
	}
	tg__deque_set_queue_max(&w->dq, TG__QUEUE_MAX);
	w->pool = pool;
	w->index = index;
	w->rng = 0x9E3779B97F4A7C15ULL * (uint64_t)(index + 1);
	/* relaxed: published to the workers by pthread_create. */
	tg_atomic_store_relaxed_u32(&w->last_thief, UINT32_MAX);
	return w;
}

static void
worker_free(tg__worker *w)
{
	/* acq_rel: the threads are joined; the exchange just takes the list. */
	tg__frame *back = tg_atomic_xchg_acqrel_ptr(&w->returned_frames, NULL);

	while (back != NULL) {
		tg__frame *next = back->next;

		tg__free(back);
		back = next;
	}
	while (w->free_frames != NULL) {
		tg__frame *f = w->free_frames;

		w->free_frames = f->next;
		tg__free(f);
	}
	tg__batch_cache_free(w);
	while (w->all_cores != NULL) {
		tg__gcore *gc = w->all_cores;

		w->all_cores = gc->all_next;
		tg__free(gc->raw);
	}
	tg__deque_destroy(&w->dq);
	tg__free(w->raw);
}

static void
stop_workers(tg__pool *pool)
{
	int i, n;

	/* seq_cst RMW: orders stop before the unconditional wake below: a
	 * worker's park snapshot either predates the wake (its wait returns)
	 * or follows it (its re-check sees stop). */
	tg_atomic_faa_seqcst_u32(&pool->stop, 1);
	tg__park_wake_all(&pool->park);
	/* No run is in progress and the detector is stopped, so no
	 * compensator starts now; one that retires releases comp_lock
	 * before it exits, so joining under the lock cannot wait for it. */
	pthread_mutex_lock(&pool->comp_lock);
	n = tg__pool_nused(pool);
	for (i = 0; i < n; i++) {
		tg__worker *w = pool->workers[i];

		if (w != NULL && w->joinable) {
			pthread_join(w->thread, NULL);
			w->joinable = false;
		}
	}
	pthread_mutex_unlock(&pool->comp_lock);
}

/* Thread attributes giving each worker a stack of stack_size bytes
 * rounded up to whole pages (0: the platform's default), with a guard
 * region of at least TG__STACK_GUARD below it (stack_guard.h; glibc adds
 * the guard to the stack size, so it takes nothing from the stack).
 * TG_OK, or TG_EINVAL when the size cannot be rounded or is refused. */
static int
worker_attr_init(pthread_attr_t *attr, size_t stack_size)
{
	long page = sysconf(_SC_PAGESIZE);
	size_t rounded, guard;

	if (page <= 0)
		page = 4096;
	if (stack_size > SIZE_MAX - (size_t)page)
		return TG_EINVAL;
	rounded = (stack_size + (size_t)page - 1) / (size_t)page * (size_t)page;
	if (pthread_attr_init(attr) != 0)
		return TG_ENOMEM;
	if (stack_size != 0 && pthread_attr_setstacksize(attr, rounded) != 0) {
		pthread_attr_destroy(attr);
		return TG_EINVAL;
	}
	/* Best effort: a platform that refuses keeps its own guard. */
	if (pthread_attr_getguardsize(attr, &guard) == 0 &&
	    guard < TG__STACK_GUARD)
		(void)pthread_attr_setguardsize(attr, TG__STACK_GUARD);
	return TG_OK;
}

int
tg__pool_create(tg__pool **out, const tg__pool_config *cfg)
{
	int nworkers = cfg->nworkers;
	tg__pool *pool;
	void *raw;
	int i, rc = TG_OK;

	pool = tg__calloc_line(sizeof(*pool), &raw);
	if (pool == NULL)
		return TG_ENOMEM;
	pool->raw = raw;
	pool->nworkers = nworkers;
	pool->nslots = nworkers + cfg->max_blocking;
	pool->starvation_ns = cfg->starvation_ns;
	pool->linger_ns = TG__LINGER_NS;
	pool->workers = tg__calloc((size_t)pool->nslots, sizeof(tg__worker *));
	if (pool->workers == NULL) {
		tg__free(pool->raw);
		return TG_ENOMEM;
	}
	/* Epoch 0 never appears in a memo (0 = "no memo"). */
	tg_atomic_store_relaxed_u64(&pool->cancel_epoch, 1);
	tg__park_init(&pool->park);
	rc = worker_attr_init(&pool->attr, cfg->stack_size);
	if (rc != TG_OK) {
		tg__free(pool->workers);
		tg__free(pool->raw);
		return rc;
	}
	if (pthread_mutex_init(&pool->scope_lock, NULL) != 0)
		goto fail_scope;
	if (pthread_mutex_init(&pool->inject_lock, NULL) != 0)
		goto fail_inject;
	if (pthread_mutex_init(&pool->comp_lock, NULL) != 0)
		goto fail_comp;
	if (pthread_mutex_init(&pool->waiters_lock, NULL) != 0)
		goto fail_waiters;
	if (pthread_mutex_init(&pool->monitor_lock, NULL) != 0)
		goto fail_monitor_lock;
	if (pthread_cond_init(&pool->monitor_cond, NULL) != 0)
		goto fail_monitor_cond;
	if (tg__timer_init(&pool->timer) != TG_OK)
		goto fail_timer;
	/* relaxed: published to the workers by pthread_create (and destroy,
	 * on failure, frees the slots made so far). */
	tg_atomic_store_relaxed_u32(&pool->nused, (uint32_t)nworkers);
	for (i = 0; i < nworkers; i++) {
		pool->workers[i] = tg__worker_new(pool, i);
		if (pool->workers[i] == NULL) {
			rc = TG_ENOMEM;
			goto fail;
		}
	}
	/* relaxed: published to the workers by pthread_create. */
	tg_atomic_store_relaxed_u32(&pool->active, (uint32_t)nworkers);
	/* pthread_create orders everything above before each worker's
	 * first instruction. */
	for (i = 0; i < nworkers; i++) {
		tg__worker *w = pool->workers[i];

		if (pthread_create(&w->thread, &pool->attr, tg__worker_thread,
				   w) != 0) {
			rc = TG_EAGAIN;
			goto fail;
		}
		w->joinable = true;
		if (cfg->pin)
			tg__pin_thread(w->thread, i);
	}
	if (tg__monitor_start(pool) != TG_OK) {
		rc = TG_EAGAIN;
		goto fail;
	}
	*out = pool;
	return TG_OK;
fail:
	tg__pool_destroy(pool);
	return rc;
fail_timer:
	pthread_cond_destroy(&pool->monitor_cond);
fail_monitor_cond:
	pthread_mutex_destroy(&pool->monitor_lock);
fail_monitor_lock:
	pthread_mutex_destroy(&pool->waiters_lock);
fail_waiters:
	pthread_mutex_destroy(&pool->comp_lock);
fail_comp:
	pthread_mutex_destroy(&pool->inject_lock);
fail_inject:
	pthread_mutex_destroy(&pool->scope_lock);
fail_scope:
	pthread_attr_destroy(&pool->attr);
	tg__free(pool->workers);
	tg__free(pool->raw);
	return TG_EAGAIN;
}

void
tg__pool_destroy(tg__pool *pool)
{
	int i, n;

	tg__monitor_stop(pool);
	stop_workers(pool);
	tg__timer_destroy(&pool->timer);
	n = tg__pool_nused(pool);
	for (i = 0; i < n; i++)
		if (pool->workers[i] != NULL)
			worker_free(pool->workers[i]);
	pthread_mutex_destroy(&pool->inject_lock);
	pthread_mutex_destroy(&pool->scope_lock);
	pthread_mutex_destroy(&pool->comp_lock);
	pthread_mutex_destroy(&pool->waiters_lock);
	pthread_cond_destroy(&pool->monitor_cond);
	pthread_mutex_destroy(&pool->monitor_lock);
	pthread_attr_destroy(&pool->attr);
	tg__free(pool->workers);
	tg__free(pool->raw);
}

void
tg__pool_inject(tg__pool *pool, tg__frame *f)
{
	f->next = NULL;
	pthread_mutex_lock(&pool->inject_lock);
	if (pool->inject_tail != NULL)
		pool->inject_tail->next = f;
	else
		pool->inject_head = f;
	pool->inject_tail = f;
	/* seq_cst RMW: the count is what a parking worker re-checks; pairs
	 * with the seq_cst load in tg__pool_has_work (park.h protocol). */
	tg_atomic_faa_seqcst_u64(&pool->inject_count, 1);
	pthread_mutex_unlock(&pool->inject_lock);
	tg__park_wake(&pool->park);
	/* Every worker may be blocked: a root must not wait for one. */
	tg__compensate(pool, false);
}
