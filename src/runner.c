/*
 * runner.c - tg_runner (asyncio.Runner) and tg_run (asyncio.run): a pool
 * plus the bookkeeping of runs submitted from threads that are not
 * workers, and the opt-in Ctrl-C handling.
 *
 * Every run has a root scope: a group core that no task owns, whose
 * cancellation reaches every group of the run (the root task's groups
 * take it as their parent scope).  The SIGINT handler cancels it.
 *
 * Ctrl-C, as asyncio.Runner does it: the handler is installed for one run
 * at a time (the main thread's), only if SIGINT had its default action.
 * What the handler does is async-signal-safe: lock-free atomics
 * (tg__scope_cancel) and a futex wake.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include "taskgroup/runner.h"

#include "alloc.h"
#include "error_internal.h"
#include "platform.h"
#include "group_handle.h"
#include "scheduler.h"

/* A runner is a shell around its pool.  Shells are never given back to
 * the system: destroy puts its shell on a process-wide list (closing
 * left set) and tg_runner_create takes one from there first.  So a run or
 * destroy racing a destroy of the same runner reads a shell that exists,
 * sees closing and returns TG_ESTATE, never freed memory (a pointer kept
 * past destroy may later name a new runner: runner.h).  Shells come from
 * calloc, not the library's allocator, so they outlive allocator
 * swaps. */
struct tg_runner {
	tg__pool *pool; /* NULL in a shell on the list */
	bool handle_sigint;
	/* Runs in progress (and runs that looked and backed off); destroy
	 * refuses while non-zero.  Never reset: racing runs keep it
	 * balanced across reuse. */
	TG_ATOMIC(uint32_t) active;
	/* 0 open; 1 once destroy has begun (new runs are refused), and on
	 * the list. */
	TG_ATOMIC(uint32_t) closing;
	struct tg_runner *next_shell; /* the list, under shells_lock */
};

static pthread_mutex_t shells_lock = PTHREAD_MUTEX_INITIALIZER;
static struct tg_runner *shells; /* destroyed runners, for reuse */
static pthread_once_t shells_fork_once = PTHREAD_ONCE_INIT;

/* fork: the child has only the forking thread, so the lock must not be
 * left held by another one. */
static void shells_fork_prepare(void) { pthread_mutex_lock(&shells_lock); }
static void shells_fork_resume(void) { pthread_mutex_unlock(&shells_lock); }
static void
shells_fork_register(void)
{
	(void)pthread_atfork(shells_fork_prepare, shells_fork_resume,
			     shells_fork_resume);
}

/* A shell: one from the list (closing still set: the caller clears it
 * once the pool is in place), else a new one; NULL without memory. */
static struct tg_runner *
shell_take(void)
{
	struct tg_runner *r;

	pthread_once(&shells_fork_once, shells_fork_register);
	pthread_mutex_lock(&shells_lock);
	r = shells;
	if (r != NULL)
		shells = r->next_shell;
	pthread_mutex_unlock(&shells_lock);
	if (r != NULL)
		return r;
	r = calloc(1, sizeof(*r));
	if (r != NULL)
		/* relaxed: published with the runner (the caller's *out). */
		tg_atomic_store_relaxed_u32(&r->closing, 1);
	return r;
}

static void
shell_give(struct tg_runner *r)
{
	pthread_mutex_lock(&shells_lock);
	r->next_shell = shells;
	shells = r;
	pthread_mutex_unlock(&shells_lock);
}

/* One submitted root task: the submitter waits on it. */
struct tg__run {
	pthread_mutex_t lock;
	pthread_cond_t done_cv;
	bool done;
	tg_error *result;
	tg__pool *pool;
	tg__gcore *scope; /* the root scope */
	/* The user's main function, which run_main calls inside the run's
	 * leftovers group (tg_run_group): open while main runs, unless it
	 * could not be opened (no memory). */
	tg_task_fn main_fn;
	void *main_arg;
	tg_group leftovers;
	/* 1 while main may spawn into it; read by tg_run_group on any
	 * thread of the run (relaxed: the opening is published to the
	 * run's tasks by their spawns; the close happens after the last
	 * of the leftovers' children, who may read it while it ends). */
	TG_ATOMIC(uint32_t) leftovers_open;
};

/* The run whose root scope SIGINT cancels: NULL (none), the run, or
 * SIGINT_BUSY while a handler uses it (the run's memory must then stay
 * alive: sigint_uninstall waits).  And how many SIGINTs it has had. */
static TG_ATOMIC(void *) sigint_run;
static TG_ATOMIC(uint32_t) sigint_count;
static char sigint_busy_tag;
#define SIGINT_BUSY ((void *)&sigint_busy_tag)

static void
on_sigint(int sig)
{
	int saved_errno = errno;
	void *v;

	/* seq_cst RMW: counts this SIGINT exactly once even if two arrive
	 * on different threads at once. */
	if (tg_atomic_faa_seqcst_u32(&sigint_count, 1) == 0) {
		/* acquire: pairs with the release store in sigint_install. */
		v = tg_atomic_load_acquire_ptr(&sigint_run);
		/* seq_cst CAS: claims the run against sigint_uninstall's CAS,
		 * so it stays alive until the release store below. */
		if (v != NULL && v != SIGINT_BUSY &&
		    tg_atomic_cas_seqcst_ptr(&sigint_run, v, SIGINT_BUSY)) {
			struct tg__run *run = v;

			tg__scope_cancel_signal_safe(run->pool, run->scope,
					 TG__CANCEL_INTERRUPT);
			if (tg__wake_signal_safe)
				tg__park_wake_all(&run->pool->park);
			/* release: our uses of run are done (pairs with the
			 * load in sigint_uninstall). */
			tg_atomic_store_release_ptr(&sigint_run, run);
		}
		errno = saved_errno;
		return;
	}
	/* The second one: the default action (the process ends). */
	signal(sig, SIG_DFL);
	raise(sig);
	errno = saved_errno;
}

/* Installs the handler for run if the rules allow; true if installed
 * (then *old holds the action to restore). */
static bool
sigint_install(tg_runner *r, struct tg__run *run, struct sigaction *old)
{
	struct sigaction sa;

	if (!r->handle_sigint || !tg__is_main_thread())
		return false;
	if (sigaction(SIGINT, NULL, old) != 0 ||
	    (old->sa_flags & SA_SIGINFO) != 0 || old->sa_handler != SIG_DFL)
		return false; /* the program handles (or ignores) SIGINT */
	/* relaxed: nothing else reads the count before the store below. */
	tg_atomic_store_relaxed_u32(&sigint_count, 0);
	/* release: publishes run (see on_sigint). */
	tg_atomic_store_release_ptr(&sigint_run, run);
	sa.sa_handler = on_sigint;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	if (sigaction(SIGINT, &sa, NULL) != 0) {
		tg_atomic_store_release_ptr(&sigint_run, NULL);
		return false;
	}
	return true;
}

static void
sigint_uninstall(const struct sigaction *old)
{
	void *v;

	sigaction(SIGINT, old, NULL);
	/* A handler still running on another thread may hold the run: wait
	 * for it to give the run back, then take it away for good. */
	for (;;) {
		/* acquire: pairs with the handler's release store. */
		v = tg_atomic_load_acquire_ptr(&sigint_run);
		if (v == SIGINT_BUSY) {
			tg_atomic_pause();
			continue;
		}
		/* seq_cst CAS: against the handler's claim. */
		if (tg_atomic_cas_seqcst_ptr(&sigint_run, v, NULL))
			break;
	}
}

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
	tg__pool_config pc;
	tg_runner *r;
	int n, rc;

	if (out == NULL)
		return TG_EINVAL;
	n = thread_count(cfg);
	if (n <= 0)
		return TG_EINVAL;
	if (cfg != NULL && (cfg->max_blocking < -1 ||
			    cfg->max_blocking > TG_MAX_BLOCKING ||
			    cfg->starvation_ns < -1))
		return TG_EINVAL;
	if (cfg != NULL && cfg->stack_size != 0 &&
	    cfg->stack_size < TG_STACK_SIZE_MIN)
		return TG_EINVAL;
	r = shell_take();
	if (r == NULL)
		return TG_ENOMEM;
	tg__alloc_pin();
	r->handle_sigint = cfg != NULL && cfg->handle_sigint;
	pc.nworkers = n;
	pc.pin = cfg != NULL && cfg->pin_threads;
	pc.stack_size = cfg != NULL ? cfg->stack_size : 0;
	pc.max_blocking = cfg != NULL && cfg->max_blocking != 0
				  ? cfg->max_blocking
				  : TG_MAX_BLOCKING_DEFAULT;
	if (pc.max_blocking < 0)
		pc.max_blocking = 0;
	pc.starvation_ns = cfg != NULL && cfg->starvation_ns != 0
				   ? cfg->starvation_ns
				   : TG_STARVATION_NS_DEFAULT;
	if (pc.starvation_ns < 0)
		pc.starvation_ns = 0;
	rc = tg__pool_create(&r->pool, &pc);
	if (rc != TG_OK) {
		r->pool = NULL;
		tg__alloc_unpin();
		shell_give(r);
		return rc;
	}
	/* seq_cst: after the pool; a racing run (of a pointer kept past an
	 * earlier destroy of this shell) that reads closing 0 with its
	 * seq_cst load sees the pool. */
	(void)tg_atomic_cas_seqcst_u32(&r->closing, 1, 0);
	*out = r;
	return TG_OK;
}

int
tg_runner_threads(const tg_runner *r)
{
	return r != NULL ? r->pool->nworkers : 0;
}

int
tg_runner_stats(const tg_runner *r, tg_runner_stats_t *out)
{
	tg__pool *pool;

	if (r == NULL || out == NULL)
		return TG_EINVAL;
	pool = r->pool;
	/* relaxed: statistics, a snapshot. */
	out->compensations =
		tg_atomic_load_relaxed_u64(&pool->stat_compensations);
	out->handoffs = tg_atomic_load_relaxed_u64(&pool->stat_handoffs);
	out->scope_steps = tg_atomic_load_relaxed_u64(&pool->stat_scope_steps);
	out->threads_now = (int)tg_atomic_load_relaxed_u32(&pool->active);
	out->blocked_now = (int)tg_atomic_load_relaxed_u32(&pool->blocked);
	/* relaxed: a snapshot of a hint. */
	out->looking_now = (int)tg_atomic_load_relaxed_u32(&pool->hungry);
	return TG_OK;
}

/* A run's root scope: a group core no task owns, never joined. */
static tg__gcore *
root_scope_new(tg__pool *pool)
{
	tg__gcore *gc = tg__gcore_new();
	uint64_t epoch;

	if (gc == NULL)
		return NULL;
	gc->policy = TG_POLICY_FAIL_FAST;
	/* acquire: as in tg_group_init; a fresh scope is not cancelled. */
	epoch = tg_atomic_load_acquire_u64(&pool->cancel_epoch);
	/* relaxed: published to the workers with the root frame (the
	 * injection queue's lock). */
	tg_atomic_store_relaxed_u64(&gc->memo, epoch << 1);
	tg__scope_root_init(gc);
	return gc;
}

/* The run's answer once interrupted by SIGINT: an Interrupt error with
 * what had failed attached (cancellations are not failures). */
static tg_error *
interrupted_result(tg_error *err)
{
	tg_error *e = tg_error_new_at(&tg_Interrupt, SIGINT, __FILE__,
				      __LINE__, __func__,
				      "interrupted by SIGINT (Ctrl-C)");

	if (err != NULL && tg__error_is_cancel(err)) {
		tg_error_decref(err);
		err = NULL;
	}
	if (err == NULL)
		return e;
	if (e == tg_error_oom())
		return err; /* keep the failures rather than the interrupt */
	tg__error_set_context(e, err);
	return e;
}

/*
 * The root task: asyncio.run's shape.  Opens the leftovers group (collect
 * all, so a failure there cancels neither main nor its siblings), runs
 * main in it, joins what main left open inside it, then cancels the
 * leftovers and waits for them: their real errors join main's result
 * (both: one ExceptionGroup, the leftovers' first).
 */
static tg_error *
run_main(void *arg)
{
	struct tg__run *run = arg;
	tg_group_options opts = { .policy = TG_POLICY_COLLECT_ALL,
				  .name = "tg_run_group" };
	tg__worker *w;
	tg__gcore *core;
	tg_error *err, *left, *parts[2];

	if (tg_group_init(&run->leftovers, &opts) != TG_OK)
		return run->main_fn(run->main_arg); /* no memory: without */
	tg_atomic_store_relaxed_u32(&run->leftovers_open, 1);
	err = run->main_fn(run->main_arg);
	w = tg__self();
	core = open_core(&run->leftovers);
	/* Main's own open groups first (as the runtime would after it
	 * returns: tg__join_abandoned); the leftovers group stays open. */
	if (w->current->open != core)
		err = tg__join_abandoned_inside(w, w->current, err, core);
	(void)tg_group_cancel(&run->leftovers);
	/* Closed first: a leftover asking now gets NULL (a spawn would be
	 * refused anyway: the group is cancelled). */
	tg_atomic_store_relaxed_u32(&run->leftovers_open, 0);
	left = tg_group_join(&run->leftovers, NULL);
	/* Only a cancellation (the root scope's, by SIGINT: run_root turns
	 * it into an Interrupt): main's result stands. */
	if (left != NULL && tg__error_is_cancel(left)) {
		tg_error_decref(left);
		left = NULL;
	}
	if (left == NULL)
		return err;
	if (err == NULL)
		return left;
	parts[0] = left;
	parts[1] = err;
	return tg_error_group_new("unhandled errors in the run's leftover "
				  "tasks and in its main function",
				  2, parts);
}

tg_group *
tg_run_group(void)
{
	tg__worker *w = tg__self();
	tg__frame *f;

	if (w == NULL || w->current == NULL)
		return NULL;
	/* Up the owners to the root (a root's group is its run's root
	 * scope, which no task owns).  Every frame on the way is running. */
	for (f = w->current; f->group->owner != NULL; f = f->group->owner)
		;
	if (f->run == NULL ||
	    tg_atomic_load_relaxed_u32(&f->run->leftovers_open) == 0)
		return NULL;
	return &f->run->leftovers;
}

/* Submits fn(arg) as a root task and waits for it. */
static tg_error *
run_root(tg_runner *r, tg_task_fn fn, void *arg, const tg_site *site)
{
	struct tg__run run;
	struct sigaction old_action;
	bool sigint;
	uint64_t cancel;
	tg__frame *f = tg__malloc(sizeof(*f));

	if (f == NULL)
		return tg_error_oom();
	run.pool = r->pool;
	run.scope = root_scope_new(r->pool);
	if (run.scope == NULL) {
		tg__free(f);
		return tg_error_oom();
	}
	if (pthread_mutex_init(&run.lock, NULL) != 0) {
		tg__free(run.scope->raw);
		tg__free(f);
		return tg__error_usage(TG_EAGAIN, NULL,
				       "tg_runner_run: no mutex available");
	}
	if (pthread_cond_init(&run.done_cv, NULL) != 0) {
		pthread_mutex_destroy(&run.lock);
		tg__free(run.scope->raw);
		tg__free(f);
		return tg__error_usage(TG_EAGAIN, NULL,
				       "tg_runner_run: no condition variable");
	}
	run.done = false;
	run.result = NULL;
	run.main_fn = fn;
	run.main_arg = arg;
	tg_atomic_store_relaxed_u32(&run.leftovers_open, 0);
	*f = (tg__frame){ .fn = run_main, .arg = &run, .group = run.scope,
			  .run = &run, .site = site, /* id 0: none yet */
			  .home = NULL };
	sigint = sigint_install(r, &run, &old_action);
	tg__pool_inject(r->pool, f);
	pthread_mutex_lock(&run.lock);
	while (!run.done)
		pthread_cond_wait(&run.done_cv, &run.lock);
	pthread_mutex_unlock(&run.lock);
	if (sigint)
		sigint_uninstall(&old_action);
	/* relaxed: no handler can touch the scope after the uninstall; a
	 * SIGINT that came after the root finished may or may not count. */
	cancel = tg_atomic_load_relaxed_u64(&run.scope->cancel);
	pthread_cond_destroy(&run.done_cv);
	pthread_mutex_destroy(&run.lock);
	tg__free(run.scope->raw);
	if (cancel & TG__CANCEL_INTERRUPT)
		return interrupted_result(run.result);
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
	/* seq_cst CAS / load: see tg_runner_run.  One destroy wins; a
	 * racing one (or one of a runner destroyed already) finds closing
	 * set. */
	if (!tg_atomic_cas_seqcst_u32(&r->closing, 0, 1))
		return TG_ESTATE;
	if (tg_atomic_load_seqcst_u32(&r->active) != 0) {
		/* seq_cst: reopens for the run in progress and later ones
		 * (their seq_cst load of closing). */
		(void)tg_atomic_cas_seqcst_u32(&r->closing, 1, 0);
		return TG_EBUSY;
	}
	tg__pool_destroy(r->pool);
	r->pool = NULL;
	tg__alloc_unpin();
	shell_give(r);
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
