/*
 * runner.c - tg_runner (asyncio.Runner) and tg_run (asyncio.run): a pool
 * plus the bookkeeping of runs submitted from threads that are not
 * workers.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "taskgroup/runner.h"

#include "alloc.h"
#include "error_internal.h"
#include "scheduler.h"

struct tg_runner {
	tg__pool *pool;
	/* Runs in progress; destroy refuses while non-zero. */
	TG_ATOMIC(uint32_t) active;
	/* Set once destroy has begun; new runs are refused. */
	TG_ATOMIC(uint32_t) closing;
};

/* One submitted root task: the submitter waits on it. */
struct tg__run {
	pthread_mutex_t lock;
	pthread_cond_t done_cv;
	bool done;
	tg_error *result;
};

void
tg__run_complete(struct tg__run *run, tg_error *err)
{
	pthread_mutex_lock(&run->lock);
	run->result = err;
	run->done = true;
	pthread_cond_signal(&run->done_cv);
	/* The submitter may free run as soon as it sees done: touch nothing
	 * after the unlock. */
	pthread_mutex_unlock(&run->lock);
}

/* Worker count from cfg, TG_THREADS, or the CPUs; <= 0 on bad input. */
static int
thread_count(const tg_runner_config *cfg)
{
	const char *env;
	long n;

	if (cfg != NULL && cfg->threads != 0)
		return cfg->threads > 0 && cfg->threads <= TG_MAX_THREADS
			       ? cfg->threads
			       : -1;
	env = getenv("TG_THREADS");
	if (env != NULL && *env != '\0') {
		char *end;

		errno = 0;
		n = strtol(env, &end, 10);
		if (errno != 0 || *end != '\0' || n < 1 || n > TG_MAX_THREADS)
			return -1;
		return (int)n;
	}
	n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 1)
		n = 1;
	return n > TG_MAX_THREADS ? TG_MAX_THREADS : (int)n;
}

int
tg_runner_create(tg_runner **out, const tg_runner_config *cfg)
{
	tg_runner *r;
	int n, rc;

	if (out == NULL)
		return TG_EINVAL;
	n = thread_count(cfg);
	if (n <= 0)
		return TG_EINVAL;
	tg__alloc_pin();
	r = tg__calloc(1, sizeof(*r));
	if (r == NULL) {
		tg__alloc_unpin();
		return TG_ENOMEM;
	}
	rc = tg__pool_create(&r->pool, n, cfg != NULL && cfg->pin_threads);
	if (rc != TG_OK) {
		tg__free(r);
		tg__alloc_unpin();
		return rc;
	}
	*out = r;
	return TG_OK;
}

int
tg_runner_threads(const tg_runner *r)
{
	return r != NULL ? r->pool->nworkers : 0;
}

/* Submits fn(arg) as a root task and waits for it. */
static tg_error *
run_root(tg_runner *r, tg_task_fn fn, void *arg, const tg_site *site)
{
	struct tg__run run;
	tg__frame *f = tg__malloc(sizeof(*f));

	if (f == NULL)
		return tg_error_oom();
	if (pthread_mutex_init(&run.lock, NULL) != 0) {
		tg__free(f);
		return tg__error_usage(TG_EAGAIN, NULL,
				       "tg_runner_run: no mutex available");
	}
	if (pthread_cond_init(&run.done_cv, NULL) != 0) {
		pthread_mutex_destroy(&run.lock);
		tg__free(f);
		return tg__error_usage(TG_EAGAIN, NULL,
				       "tg_runner_run: no condition variable");
	}
	run.done = false;
	run.result = NULL;
	*f = (tg__frame){ .fn = fn, .arg = arg, .run = &run,
			  .id = tg__next_root_id(), .site = site,
			  .home = NULL };
	tg__pool_inject(r->pool, f);
	pthread_mutex_lock(&run.lock);
	while (!run.done)
		pthread_cond_wait(&run.done_cv, &run.lock);
	pthread_mutex_unlock(&run.lock);
	pthread_cond_destroy(&run.done_cv);
	pthread_mutex_destroy(&run.lock);
	return run.result;
}

tg_error *
tg_runner_run_at(tg_runner *r, tg_task_fn fn, void *arg, const tg_site *site)
{
	tg__worker *w = tg__self();
	tg_error *err;

	if (r == NULL || fn == NULL)
		return tg__error_usage(TG_EINVAL, NULL,
				       "tg_runner_run: NULL %s",
				       r == NULL ? "runner" : "function");
	if (w != NULL && w->pool == r->pool)
		return tg__error_usage(TG_EDEADLK, NULL,
				       "tg_runner_run: called from one of the "
				       "runner's own tasks (it would wait for "
				       "itself); open a group instead");
	/* seq_cst RMW, then seq_cst read of closing: pairs with destroy's
	 * store of closing and read of active (store->load both ways), so
	 * either this run sees closing or destroy sees this run. */
	tg_atomic_faa_seqcst_u32(&r->active, 1);
	if (tg_atomic_load_seqcst_u32(&r->closing) != 0) {
		tg_atomic_faa_seqcst_u32(&r->active, (uint32_t)-1);
		return tg__error_usage(TG_ESTATE, NULL,
				       "tg_runner_run: the runner is being "
				       "destroyed");
	}
	err = run_root(r, fn, arg, site);
	/* seq_cst: see above; also orders the run before a destroy. */
	tg_atomic_faa_seqcst_u32(&r->active, (uint32_t)-1);
	return err;
}

int
tg_runner_destroy(tg_runner *r)
{
	tg__worker *w = tg__self();

	if (r == NULL)
		return TG_EINVAL;
	if (w != NULL && w->pool == r->pool)
		return TG_EDEADLK;
	/* seq_cst RMW / load: see tg_runner_run. */
	tg_atomic_faa_seqcst_u32(&r->closing, 1);
	if (tg_atomic_load_seqcst_u32(&r->active) != 0) {
		tg_atomic_faa_seqcst_u32(&r->closing, (uint32_t)-1);
		return TG_EBUSY;
	}
	tg__pool_destroy(r->pool);
	tg__free(r);
	tg__alloc_unpin();
	return TG_OK;
}

tg_error *(tg_runner_run)(tg_runner *r, tg_task_fn fn, void *arg)
{
	return tg_runner_run_at(r, fn, arg, NULL);
}

tg_error *
tg_run_at(tg_task_fn fn, void *arg, const tg_site *site)
{
	tg_runner *r;
	tg_error *err;
	int rc;

	if (fn == NULL)
		return tg__error_usage(TG_EINVAL, NULL, "tg_run: NULL function");
	if (tg__self() != NULL)
		return tg__error_usage(TG_EDEADLK, NULL,
				       "tg_run: called from a task; open a "
				       "group there instead");
	rc = tg_runner_create(&r, NULL);
	if (rc == TG_ENOMEM)
		return tg_error_oom();
	if (rc != TG_OK)
		return tg__error_usage(rc, NULL, "tg_run: cannot start the "
				       "pool: %s", tg_strerror(rc));
	err = tg_runner_run_at(r, fn, arg, site);
	rc = tg_runner_destroy(r);
	(void)rc; /* cannot be busy: our run has returned */
	return err;
}

tg_error *(tg_run)(tg_task_fn fn, void *arg)
{
	return tg_run_at(fn, arg, NULL);
}
