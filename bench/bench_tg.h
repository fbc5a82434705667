/*
 * bench/bench_tg.h - the taskgroup side of the benchmark programs: one
 * runner per process (threads and pinning from the arguments), one
 * tg_runner_run per repetition, timed around the run.
 */
#ifndef BENCH_TG_H
#define BENCH_TG_H

#include "bench_util.h" /* first: it sets _GNU_SOURCE */

#include <taskgroup.h>

/* Any error from the library ends the program: a benchmark must not time
 * a run that failed. */
static inline void bench_tg_die(const char *what, tg_error *err, int rc)
{
	fprintf(stderr, "taskgroup: %s failed", what);
	if (rc != 0)
		fprintf(stderr, ": %s (%s)", tg_strerror(rc), tg_status_name(rc));
	fputc('\n', stderr);
	if (err != NULL) {
		tg_error_print(err, stderr);
		tg_error_decref(err);
	}
	exit(1);
}

static inline tg_runner *bench_tg_runner(const bench_args *a)
{
	tg_runner *r = NULL;
	tg_runner_config cfg;
	memset(&cfg, 0, sizeof cfg);
	cfg.threads = a->threads;
	cfg.pin_threads = a->pin != 0;
	int rc = tg_runner_create(&r, &cfg);
	if (rc != TG_OK)
		bench_tg_die("tg_runner_create", NULL, rc);
	return r;
}

/* Runs fn(arg) as the root task; returns the wall time in ns. */
static inline uint64_t bench_tg_run(tg_runner *r, tg_task_fn fn, void *arg)
{
	uint64_t t0 = bench_now_ns();
	tg_error *err = tg_runner_run(r, fn, arg);
	uint64_t t1 = bench_now_ns();
	if (err != NULL)
		bench_tg_die("tg_runner_run", err, 0);
	return t1 - t0;
}

static inline void bench_tg_destroy(tg_runner *r)
{
	tg_runner_stats_t st;
	int rc;

	/* CPU-bound kernels must start no compensating worker: say so. */
	if (tg_runner_stats(r, &st) == TG_OK)
		fprintf(stderr, "taskgroup: compensations=%llu handoffs=%llu\n",
			(unsigned long long)st.compensations,
			(unsigned long long)st.handoffs);
	rc = tg_runner_destroy(r);
	if (rc != TG_OK)
		bench_tg_die("tg_runner_destroy", NULL, rc);
}

/* Inside a task: run a spawn call (what: its name) or fail loudly, joining
 * g with a RuntimeError naming the status (returns the error to hand
 * over). */
#define BENCH_TG_OR_JOIN(g, call, what)                                      \
	do {                                                                 \
		int bench_rc_ = (call);                                      \
		if (bench_rc_ != TG_OK)                                      \
			return tg_group_join(                                \
				(g), TG_RAISE(&tg_RuntimeError, what ": %s", \
					      tg_status_name(bench_rc_)));   \
	} while (0)
#define BENCH_TG_SPAWN(g, fn, arg)                                           \
	BENCH_TG_OR_JOIN(g, tg_spawn((g), (fn), (arg)), "tg_spawn")
#define BENCH_TG_SPAWN_EACH(g, fn, args, n, stride)                          \
	BENCH_TG_OR_JOIN(g, tg_spawn_each((g), (fn), (args), (n), (stride)), \
			 "tg_spawn_each")

#endif /* BENCH_TG_H */
