/*
 * tg-stress - random task trees with an oracle.
 *
 * Each tree, generated from a seed, mixes spawns, successes, failures
 * (ordinary and fatal), explicit cancels (by the owner and by children),
 * nested groups under the three policies, deadlines (none, past, short,
 * far, removed, moved), concurrency limits with tg_spawn and tg_try_spawn,
 * batches spawned with tg_spawn_each (named or not),
 * children spawning siblings into their parent's group, checkpoints and
 * body errors, blocking (tg_sleep, blocking regions), wide groups (hundreds
 * of children, half of them failing: joins of hundreds of errors, and
 * bursts of spawns that grow the deque while thieves steal) and barrier
 * parties among a group's children (tg_barrier rounds, aborts).  Trees run
 * one at a time on pools of the requested sizes, each pool made afresh
 * after --pool-trees trees (so that its deques start small again).
 *
 * The oracle, after every join and after every tree (docs/tg-stress.md
 * explains each invariant):
 *   exactly-once       every spawned task ran once or was skipped (a CAS
 *                      on its state word); a refused spawn never ran
 *   join-waited        the owner reads each child's plain writes after the
 *                      join (TSan checks that edge), no child is running
 *   join-result        NULL / CancelledError / TimeoutError / errors as
 *                      group.h documents, from what the children returned
 *   error-placement    each sub-error of a join comes from a child of that
 *                      group (tasks tag what they return with a note)
 *   error-order        the owner's children in spawn order, then the
 *                      others, the body's error last
 *   error-multiset     the leaves of the final error are exactly the
 *                      errors raised (less those a first-success group
 *                      dropped by design): none lost, none twice
 *   cancel-downwards   a task sees tg_cancelled() only if its own group or
 *                      an enclosing one had a cause; skips likewise
 *   cancel-bound       bodies that see tg_cancelled() at their very first
 *                      line <= workers x cancellation events
 *   barrier            every round released for all parties with distinct
 *                      indexes; broken only after an abort
 *   limit, deadline, winner, api: the documented results of those calls
 *
 * Not a benchmark: the checks dominate.  Exit status 0, 1 (a violated
 * invariant: name, seed and tree printed), 2 (usage).
 *
 * The parts are listed in tg-stress.h.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tg-stress.h"

/* ------------------------------------------------------------------ */
/* Driver                                                               */

struct pool {
	int threads;
	tg_runner *runner;
	uint64_t life; /* trees since the runner was made */
	uint64_t made; /* runners made for this pool size */
	struct counts counts;
};

static struct {
	atomic_llong tree_start_ns; /* 0 between trees */
	atomic_ullong tree_index;
	atomic_int tree_threads;
	struct tree *tree; /* set before the watchdog starts */
} watch;

void
print_replay(FILE *f, const struct config *cfg, uint64_t index, int threads)
{
	fprintf(f,
		"replay: tg-stress --seed %" PRIu64 " --tree %" PRIu64
		" --threads %d --depth %u --fail-rate %g --fatal-rate %g "
		"--max-children %u --max-tasks %u --wide-rate %g "
		"--wide-children %u --barrier-rate %g --stack-size %" PRIu64
		"%s\n",
		cfg->seed, index, threads, cfg->depth,
		(double)cfg->fail_ppm / PPM, (double)cfg->fatal_ppm / PPM,
		cfg->max_children, cfg->max_tasks, (double)cfg->wide_ppm / PPM,
		cfg->wide_children, (double)cfg->barrier_ppm / PPM,
		cfg->stack_size, cfg->stall_fails ? "" : " --stall-warn");
}

/* A tree that never ends is a violation too (a join that hangs); a
 * barrier that stalls is aborted first (barrier_watch). */
static void *
watchdog(void *arg)
{
	const struct config *cfg = arg;
	unsigned seen = 0;
	int64_t quiet_since = now_ns();

	for (;;) {
		long long start;
		int64_t now;
		unsigned progress;

		usleep(50000);
		now = now_ns();
		/* relaxed: only a change matters. */
		progress = atomic_load_explicit(&watch.tree->progress,
						memory_order_relaxed);
		if (progress != seen) {
			seen = progress;
			quiet_since = now;
		}
		start = atomic_load(&watch.tree_start_ns);
		if (start == 0)
			continue;
		barrier_watch(watch.tree, now, now - quiet_since);
		if (now - start < cfg->tree_timeout_ns)
			continue;
		fprintf(stderr,
			"\ntg-stress: FAILED invariant progress: tree %llu "
			"(threads %d) still running after %.0f s (seed %" PRIu64
			")\n",
			(unsigned long long)atomic_load(&watch.tree_index),
			atomic_load(&watch.tree_threads),
			(double)cfg->tree_timeout_ns / NS_PER_S, cfg->seed);
		print_replay(stderr, cfg, atomic_load(&watch.tree_index),
			     atomic_load(&watch.tree_threads));
		fflush(stderr);
		_exit(1);
	}
	return NULL;
}

static void
report_violation(const struct tree *t, const tg_error *err)
{
	fprintf(stderr,
		"\ntg-stress: FAILED invariant %s: %s (seed %" PRIu64
		", tree %" PRIu64 ", threads %d)\n",
		t->invariant, t->detail, t->cfg->seed, t->index, t->threads);
	print_replay(stderr, t->cfg, t->index, t->threads);
	if (err != NULL) {
		fprintf(stderr, "the run's error:\n");
		tg_error_print(err, stderr);
	}
}

/* Runs tree `index` on pool p; false on a violation (reported). */
static bool
run_tree(struct tree *t, struct pool *p, uint64_t index, struct counts *c)
{
	struct node *root;
	tg_error *err;

	t->index = index;
	t->seed = mix(t->cfg->seed ^ mix(index));
	t->threads = p->threads;
	/* 0, 1/2, 1 or 3/2 times --fail-rate: some trees fail nowhere. */
	t->fail_ppm = (uint32_t)((uint64_t)t->cfg->fail_ppm * (t->seed % 4) / 2);
	atomic_store(&t->next_id, 0);
	atomic_store(&t->slips, 0);
	atomic_store(&t->full, 0);
	atomic_store(&t->workers, 0);
	atomic_store(&t->nbarriers, 0);
	atomic_store(&t->stalls, 0);
	atomic_fetch_add(&t->progress, 1); /* a new tree: the watch restarts */
	atomic_store(&t->claimed, false);
	atomic_store(&t->violated, false);
	root = new_nodes(t, NULL, 0, t->seed, 1);
	atomic_store(&watch.tree_index, index);
	atomic_store(&watch.tree_threads, p->threads);
	atomic_store(&watch.tree_start_ns, now_ns());
	err = tg_runner_run(p->runner, task_main, root);
	atomic_store(&watch.tree_start_ns, 0);
	if (!atomic_load_explicit(&t->violated, memory_order_acquire))
		check_tree(t, err, c);
	if (atomic_load_explicit(&t->violated, memory_order_acquire)) {
		report_violation(t, err);
		tg_error_decref(err);
		return false;
	}
	tg_error_decref(err);
	return true;
}

static void
add_counts(struct counts *to, const struct counts *c)
{
	to->trees += c->trees;
	to->tasks += c->tasks;
	to->ran += c->ran;
	to->skipped += c->skipped;
	to->refused += c->refused;
	to->failed += c->failed;
	to->matched += c->matched;
	to->dropped += c->dropped;
	to->timeouts += c->timeouts;
	to->fatal += c->fatal;
	to->slips += c->slips;
	to->events += c->events;
	to->full += c->full;
	to->wide += c->wide;
	if (c->wide_max > to->wide_max)
		to->wide_max = c->wide_max;
	to->barriers += c->barriers;
	to->rounds += c->rounds;
	to->stalls += c->stalls;
}

static void
progress(const struct config *cfg, uint64_t done, const struct counts *tot,
	 int64_t elapsed)
{
	double frac = cfg->trees != 0 ? (double)done / (double)cfg->trees
				       : (double)elapsed / (double)cfg->duration_ns;
	int width = 30, fill, i;
	char bar[31];

	if (frac > 1.0)
		frac = 1.0;
	fill = (int)(frac * width);
	for (i = 0; i < width; i++)
		bar[i] = i < fill ? '#' : '.';
	bar[width] = '\0';
	fprintf(stderr,
		"\r\033[K[%s] %3.0f%%  trees %" PRIu64 "  tasks %" PRIu64
		"  %.1f s",
		bar, frac * 100.0, done, tot->tasks, (double)elapsed / NS_PER_S);
	fflush(stderr);
}

static void
print_summary(const struct config *cfg, const struct counts *tot,
	      const struct pool *pools, int64_t elapsed)
{
	double secs = (double)elapsed / NS_PER_S;
	int i;

	printf("tg-stress: ok: seed %" PRIu64 ", trees %" PRIu64 ", tasks %" PRIu64
	       " (ran %" PRIu64 ", skipped %" PRIu64 "), refused %" PRIu64
	       ", failed %" PRIu64 " (fatal %" PRIu64 "), errors matched %" PRIu64
	       ", dropped by a winner %" PRIu64 ", timeouts %" PRIu64
	       ", first-line cancels %" PRIu64 " (events %" PRIu64 ")",
	       cfg->seed, tot->trees, tot->tasks, tot->ran, tot->skipped,
	       tot->refused, tot->failed, tot->fatal, tot->matched,
	       tot->dropped, tot->timeouts, tot->slips, tot->events);
	printf(", wide joins %" PRIu64 " (most errors in one %" PRIu64
	       "), barriers %" PRIu64 " (rounds released %" PRIu64 ")",
	       tot->wide, tot->wide_max, tot->barriers, tot->rounds);
	if (tot->stalls != 0)
		printf(", BARRIER STALLS %" PRIu64 " (aborted by the watch: "
		       "docs/tg-stress.md)", tot->stalls);
	if (tot->full != 0)
		printf(", spawns left out (--max-tasks) %" PRIu64, tot->full);
	printf(", pools");
	for (i = 0; i < cfg->npools; i++)
		printf("%s%dt: %" PRIu64 " trees/%" PRIu64 " tasks/%" PRIu64
		       " runners",
		       i == 0 ? " " : ", ", pools[i].threads,
		       pools[i].counts.trees, pools[i].counts.tasks,
		       pools[i].made);
	printf(", elapsed %.2f s (%.0f tasks/s)\n", secs,
	       secs > 0 ? (double)tot->tasks / secs : 0.0);
}

/* ------------------------------------------------------------------ */
/* Options                                                              */

static void
usage(FILE *f)
{
	fputs("usage: tg-stress [options]\n"
	      "Random task trees (spawn, fail, cancel, nested groups, "
	      "deadlines, policies,\nconcurrency limits) checked by an "
	      "oracle.  Prints the seed first.\n\n"
	      "  --seed S            seed (default: from the clock)\n"
	      "  --threads N[,N...]  pool sizes, trees rotate over them "
	      "(default 1,2,8)\n"
	      "  --trees N           trees to run (default 1000; with "
	      "--duration: no limit)\n"
	      "  --duration D        run for D (30s, 20m, 1h; default: none)\n"
	      "  --tree I            run only tree I (replays one tree of a "
	      "seed)\n"
	      "  --depth D           maximum nesting depth (default 8)\n"
	      "  --fail-rate P       task failure probability, 0..1 or N% "
	      "(default 0.05)\n"
	      "  --fatal-rate P      fatal (tg_Interrupt) failures, per task "
	      "(default 0.0005)\n"
	      "  --max-children N    children per group, 1..64 (default 6)\n"
	      "  --max-tasks N       tasks per tree at most (default 4000)\n"
	      "  --wide-rate P       probability that a group is wide "
	      "(default 0.002)\n"
	      "  --wide-children N   a wide group's children at most, "
	      "2..100000 (default 600)\n"
	      "  --barrier-rate P    probability that a group has barrier "
	      "parties (default 0.005)\n"
	      "  --pool-trees N      make each pool afresh after N of its "
	      "trees (default 64;\n"
	      "                      0: never)\n"
	      "  --stall-timeout D   a barrier whose waits make no progress "
	      "for D is aborted\n"
	      "                      and is a violation, barrier-stall "
	      "(default 2s)\n"
	      "  --stall-warn        ... is only counted and reported, not a "
	      "violation\n"
	      "  --tree-timeout D    a tree running longer is a hang "
	      "(default 120s)\n"
	      "  --stack-size B      each worker's stack, in bytes "
	      "(default 0: the system's)\n"
	      "  --rss               sample RSS every --rss-interval and "
	      "report its growth\n"
	      "                      after --rss-warmup\n"
	      "  --rss-interval D    time between RSS samples (default 1m)\n"
	      "  --rss-warmup D      baseline: the first sample after D "
	      "(default 1m)\n"
	      "  --max-rss-growth P  with --rss: fail if RSS grew more than "
	      "P percent\n"
	      "  --rss-trim          with --rss: give cached memory back "
	      "(tg_trim_memory and,\n"
	      "                      with glibc, malloc_trim) before each "
	      "sample; the growth\n"
	      "                      is then measured after it\n"
	      "  --quiet             no progress bar, only the seed and the "
	      "summary\n"
	      "  --help              this text\n\n"
	      "Exit status: 0 all invariants held, 1 a violation (named, with "
	      "the seed and\nthe tree to replay), 2 usage error.\n",
	      f);
}

static void
usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "tg-stress: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n(tg-stress --help for the options)\n");
	exit(2);
}

static uint64_t
parse_u64(const char *s, const char *opt, uint64_t min, uint64_t max)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || v < min ||
	    v > max)
		usage_error("bad value for %s", opt);
	return v;
}

/* "30s", "20m", "1h", "500ms", or plain seconds. */
static int64_t
parse_duration(const char *s, const char *opt)
{
	char *end;
	double v;
	double unit = 1.0;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || v < 0)
		usage_error("bad duration for %s (e.g. 30s, 20m, 1h)", opt);
	if (strcmp(end, "ms") == 0)
		unit = 1e-3;
	else if (strcmp(end, "m") == 0 || strcmp(end, "min") == 0)
		unit = 60.0;
	else if (strcmp(end, "h") == 0)
		unit = 3600.0;
	else if (strcmp(end, "s") != 0 && *end != '\0')
		usage_error("bad duration for %s (e.g. 30s, 20m, 1h)", opt);
	if (v * unit > 1e7)
		usage_error("duration too long for %s", opt);
	return (int64_t)(v * unit * (double)NS_PER_S);
}

/* A probability: "0.05" or "5%". */
static uint32_t
parse_rate(const char *s, const char *opt)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno == 0 && end != s && *end == '%') {
		v /= 100.0;
		end++;
	}
	if (errno != 0 || end == s || *end != '\0' || !(v >= 0.0 && v <= 1.0))
		usage_error("bad probability for %s (0..1 or N%%)", opt);
	return (uint32_t)(v * PPM + 0.5);
}

/* A percentage: "1" or "1%". */
static double
parse_percent(const char *s, const char *opt)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno == 0 && end != s && *end == '%')
		end++;
	if (errno != 0 || end == s || *end != '\0' || !(v >= 0.0 && v <= 1000.0))
		usage_error("bad percentage for %s", opt);
	return v;
}

static void
parse_threads(struct config *cfg, const char *s)
{
	char buf[256], *tok, *save = NULL;

	if (strlen(s) >= sizeof(buf))
		usage_error("bad value for %s", "--threads");
	strcpy(buf, s);
	cfg->npools = 0;
	for (tok = strtok_r(buf, ",", &save); tok != NULL;
	     tok = strtok_r(NULL, ",", &save)) {
		if (cfg->npools == MAX_POOLS)
			usage_error("too many pool sizes for %s", "--threads");
		cfg->threads[cfg->npools++] =
			(int)parse_u64(tok, "--threads", 1, TG_MAX_THREADS);
	}
	if (cfg->npools == 0)
		usage_error("bad value for %s", "--threads");
}

enum {
	OPT_SEED = 256, OPT_THREADS, OPT_TREES, OPT_DURATION, OPT_TREE,
	OPT_DEPTH, OPT_FAIL, OPT_FATAL, OPT_CHILDREN, OPT_TASKS,
	OPT_TREE_TIMEOUT, OPT_RSS, OPT_RSS_INTERVAL, OPT_RSS_WARMUP,
	OPT_RSS_GROWTH, OPT_RSS_TRIM, OPT_QUIET, OPT_STACK, OPT_WIDE,
	OPT_WIDE_CHILDREN, OPT_BARRIER, OPT_POOL_TREES, OPT_STALL,
	OPT_STALL_FAILS, OPT_STALL_WARN, OPT_HELP
};

static void
parse_args(struct config *cfg, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "seed", required_argument, NULL, OPT_SEED },
		{ "threads", required_argument, NULL, OPT_THREADS },
		{ "trees", required_argument, NULL, OPT_TREES },
		{ "duration", required_argument, NULL, OPT_DURATION },
		{ "tree", required_argument, NULL, OPT_TREE },
		{ "depth", required_argument, NULL, OPT_DEPTH },
		{ "fail-rate", required_argument, NULL, OPT_FAIL },
		{ "fatal-rate", required_argument, NULL, OPT_FATAL },
		{ "max-children", required_argument, NULL, OPT_CHILDREN },
		{ "max-tasks", required_argument, NULL, OPT_TASKS },
		{ "tree-timeout", required_argument, NULL, OPT_TREE_TIMEOUT },
		{ "rss", no_argument, NULL, OPT_RSS },
		{ "rss-interval", required_argument, NULL, OPT_RSS_INTERVAL },
		{ "rss-warmup", required_argument, NULL, OPT_RSS_WARMUP },
		{ "max-rss-growth", required_argument, NULL, OPT_RSS_GROWTH },
		{ "rss-trim", no_argument, NULL, OPT_RSS_TRIM },
		{ "quiet", no_argument, NULL, OPT_QUIET },
		{ "stack-size", required_argument, NULL, OPT_STACK },
		{ "wide-rate", required_argument, NULL, OPT_WIDE },
		{ "wide-children", required_argument, NULL, OPT_WIDE_CHILDREN },
		{ "barrier-rate", required_argument, NULL, OPT_BARRIER },
		{ "pool-trees", required_argument, NULL, OPT_POOL_TREES },
		{ "stall-timeout", required_argument, NULL, OPT_STALL },
		{ "stall-fails", no_argument, NULL, OPT_STALL_FAILS },
		{ "stall-warn", no_argument, NULL, OPT_STALL_WARN },
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 }
	};
	bool seeded = false, trees_set = false;
	int c;

	*cfg = (struct config){
		.threads = { 1, 2, 8 }, .npools = 3, .only_tree = -1,
		.depth = 8, .fail_ppm = 50000, .fatal_ppm = 500,
		.max_children = 6, .max_tasks = 4000,
		.wide_ppm = 2000, .wide_children = 600, .barrier_ppm = 5000,
		.pool_trees = 64, .stall_ns = 2 * NS_PER_S,
		.stall_fails = true,
		.tree_timeout_ns = 120 * NS_PER_S,
		.rss_interval_ns = 60 * NS_PER_S,
		.rss_warmup_ns = 60 * NS_PER_S, .max_rss_growth = -1.0,
	};
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case OPT_SEED:
			cfg->seed = parse_u64(optarg, "--seed", 0, UINT64_MAX);
			seeded = true;
			break;
		case OPT_THREADS:
			parse_threads(cfg, optarg);
			break;
		case OPT_TREES:
			cfg->trees = parse_u64(optarg, "--trees", 1, UINT64_MAX);
			trees_set = true;
			break;
		case OPT_DURATION:
			cfg->duration_ns = parse_duration(optarg, "--duration");
			if (cfg->duration_ns == 0)
				usage_error("bad duration for %s", "--duration");
			break;
		case OPT_TREE:
			cfg->only_tree = (int64_t)parse_u64(optarg, "--tree", 0,
							    INT64_MAX);
			break;
		case OPT_DEPTH:
			cfg->depth = (uint32_t)parse_u64(optarg, "--depth", 0, 32);
			break;
		case OPT_FAIL:
			cfg->fail_ppm = parse_rate(optarg, "--fail-rate");
			break;
		case OPT_FATAL:
			cfg->fatal_ppm = parse_rate(optarg, "--fatal-rate");
			break;
		case OPT_CHILDREN:
			cfg->max_children = (uint32_t)parse_u64(
				optarg, "--max-children", 1, 64);
			break;
		case OPT_TASKS:
			cfg->max_tasks = (uint32_t)parse_u64(
				optarg, "--max-tasks", 1, 1u << 24);
			break;
		case OPT_TREE_TIMEOUT:
			cfg->tree_timeout_ns =
				parse_duration(optarg, "--tree-timeout");
			break;
		case OPT_RSS_TRIM:
			cfg->rss_trim = true;
			break;
		case OPT_RSS:
			cfg->rss = true;
			break;
		case OPT_RSS_INTERVAL:
			cfg->rss_interval_ns =
				parse_duration(optarg, "--rss-interval");
			if (cfg->rss_interval_ns < NS_PER_S / 10)
				usage_error("%s must be at least 100ms",
					    "--rss-interval");
			break;
		case OPT_RSS_WARMUP:
			cfg->rss_warmup_ns = parse_duration(optarg, "--rss-warmup");
			break;
		case OPT_RSS_GROWTH:
			cfg->max_rss_growth =
				parse_percent(optarg, "--max-rss-growth");
			break;
		case OPT_QUIET:
			cfg->quiet = true;
			break;
		case OPT_STACK:
			/* tg_runner_create refuses sizes below its minimum. */
			cfg->stack_size = parse_u64(optarg, "--stack-size", 0,
						    SIZE_MAX);
			break;
		case OPT_WIDE:
			cfg->wide_ppm = parse_rate(optarg, "--wide-rate");
			break;
		case OPT_WIDE_CHILDREN:
			cfg->wide_children = (uint32_t)parse_u64(
				optarg, "--wide-children", 2, 100000);
			break;
		case OPT_BARRIER:
			cfg->barrier_ppm = parse_rate(optarg, "--barrier-rate");
			break;
		case OPT_POOL_TREES:
			cfg->pool_trees = (uint32_t)parse_u64(
				optarg, "--pool-trees", 0, UINT32_MAX);
			break;
		case OPT_STALL:
			cfg->stall_ns = parse_duration(optarg, "--stall-timeout");
			if (cfg->stall_ns < NS_PER_S / 10)
				usage_error("%s must be at least 100ms",
					    "--stall-timeout");
			break;
		case OPT_STALL_FAILS: /* the default; kept for old replay lines */
			cfg->stall_fails = true;
			break;
		case OPT_STALL_WARN:
			cfg->stall_fails = false;
			break;
		case OPT_HELP:
			usage(stdout);
			exit(0);
		default:
			fprintf(stderr, "(tg-stress --help for the options)\n");
			exit(2);
		}
	}
	if (optind < argc)
		usage_error("unexpected argument %s", argv[optind]);
	if (cfg->only_tree >= 0 && cfg->npools != 1)
		usage_error("%s needs a single --threads value", "--tree");
	if (cfg->max_rss_growth >= 0 && !cfg->rss)
		usage_error("%s needs --rss", "--max-rss-growth");
	if (cfg->rss_trim && !cfg->rss)
		usage_error("%s needs --rss", "--rss-trim");
	if (!seeded)
		cfg->seed = mix((uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32)) %
			    1000000000u;
	if (cfg->only_tree >= 0)
		cfg->trees = 1;
	else if (!trees_set && cfg->duration_ns == 0)
		cfg->trees = 1000;
}

/* ------------------------------------------------------------------ */

/* A new runner for pool p: new workers, new deques of the initial
 * capacity. */
static bool
make_runner(const struct config *cfg, struct pool *p)
{
	tg_runner_config rcfg = { .threads = p->threads,
				  .stack_size = (size_t)cfg->stack_size };
	int rc = tg_runner_create(&p->runner, &rcfg);

	if (rc != TG_OK) {
		p->runner = NULL;
		fprintf(stderr, "tg-stress: cannot create a pool of %d threads: "
			"%s\n", p->threads, tg_strerror(rc));
		return false;
	}
	p->life = 0;
	p->made++;
	return true;
}

static bool
destroy_runner(struct pool *p)
{
	int rc = p->runner != NULL ? tg_runner_destroy(p->runner) : TG_OK;

	p->runner = NULL;
	if (rc != TG_OK) {
		fprintf(stderr, "tg-stress: tg_runner_destroy failed: %s\n",
			tg_strerror(rc));
		return false;
	}
	return true;
}

static bool
create_pools(const struct config *cfg, struct pool *pools)
{
	int i;

	for (i = 0; i < cfg->npools; i++) {
		pools[i].threads = cfg->threads[i];
		if (!make_runner(cfg, &pools[i]))
			return false;
	}
	return true;
}

static void
destroy_pools(const struct config *cfg, struct pool *pools)
{
	int i;

	for (i = 0; i < cfg->npools; i++)
		(void)destroy_runner(&pools[i]);
}

/* After a tree: a pool that has run --pool-trees trees is made afresh, so
 * that the next bursts of spawns grow small deques again (a deque never
 * shrinks) and the pool's start and destroy are exercised too. */
static bool
age_pool(const struct config *cfg, struct pool *p)
{
	if (cfg->pool_trees == 0 || ++p->life < cfg->pool_trees)
		return true;
	return destroy_runner(p) && make_runner(cfg, p);
}

/* The pool tree `index` runs on: blocks of POOL_BLOCK trees per pool. */
static struct pool *
pool_for(const struct config *cfg, struct pool *pools, uint64_t index)
{
	return &pools[(index / POOL_BLOCK) % (uint64_t)cfg->npools];
}

/* The loop over trees; returns the exit status. */
static int
run_all(const struct config *cfg, struct pool *pools, struct tree *t)
{
	struct counts tot = { 0 }, c;
	struct rss_log rss = { 0 };
	struct pool *p;
	bool bar = !cfg->quiet && isatty(2);
	int64_t start = now_ns(), last_bar = 0, elapsed = 0;
	uint64_t done = 0, index;

	rss.next_ns = cfg->rss_interval_ns;
	for (;;) {
		if (cfg->trees != 0 && done >= cfg->trees)
			break;
		if (cfg->duration_ns != 0 && elapsed >= cfg->duration_ns)
			break;
		index = cfg->only_tree >= 0 ? (uint64_t)cfg->only_tree : done;
		/* --tree with one pool size replays on that size. */
		p = cfg->only_tree >= 0 ? &pools[0] : pool_for(cfg, pools, index);
		if (!run_tree(t, p, index, &c))
			return 1;
		add_counts(&tot, &c);
		add_counts(&p->counts, &c);
		if (!age_pool(cfg, p))
			return 1;
		done++;
		elapsed = now_ns() - start;
		if (cfg->rss && elapsed >= rss.next_ns)
			rss_sample(cfg, &rss, elapsed);
		if (bar && elapsed - last_bar > NS_PER_S / 10) {
			progress(cfg, done, &tot, elapsed);
			last_bar = elapsed;
		}
	}
	if (bar)
		fprintf(stderr, "\r\033[K");
	print_summary(cfg, &tot, pools, elapsed);
	if (!cfg->rss)
		return 0;
	if (rss.after_warmup == 0) {
		printf("tg-stress: rss: %d samples, none after the warm-up: no "
		       "growth figure\n", rss.samples);
		return cfg->max_rss_growth >= 0 ? 1 : 0;
	}
	printf("tg-stress: rss: baseline %" PRIu64 " KiB after %.0f s warm-up, "
	       "last %" PRIu64 " KiB, max %" PRIu64 " KiB, growth %+.2f%% over "
	       "%d samples; malloc in use %" PRIu64 " -> %" PRIu64 " KiB\n",
	       rss.baseline, (double)cfg->rss_warmup_ns / NS_PER_S, rss.last,
	       rss.max, rss_growth(&rss), rss.after_warmup, rss.heap_baseline,
	       rss.heap_last);
	if (cfg->rss_trim)
		printf("tg-stress: rss: measured after the trim; before it: "
		       "baseline %" PRIu64 " KiB, last %" PRIu64 " KiB, growth "
		       "%+.2f%%\n", rss.raw_baseline, rss.raw_last,
		       growth_pct(rss.raw_baseline, rss.raw_last));
	if (cfg->max_rss_growth >= 0 && rss_growth(&rss) > cfg->max_rss_growth) {
		printf("tg-stress: FAILED invariant rss-growth: %+.2f%% > %.2f%% "
		       "(seed %" PRIu64 ")\n", rss_growth(&rss),
		       cfg->max_rss_growth, cfg->seed);
		return 1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	static struct config cfg;
	struct pool pools[MAX_POOLS] = { 0 };
	struct tree t = { 0 };
	pthread_t wd;
	int status;

	parse_args(&cfg, argc, argv);
	printf("tg-stress: seed %" PRIu64 " (replay with --seed %" PRIu64 ")\n",
	       cfg.seed, cfg.seed);
	fflush(stdout);
	t.cfg = &cfg;
	pthread_mutex_init(&t.bar_lock, NULL);
	watch.tree = &t;
	t.cap = cfg.max_tasks;
	t.nodes = calloc(cfg.max_tasks, sizeof(*t.nodes));
	t.seen = calloc(cfg.max_tasks, sizeof(*t.seen));
	if (t.nodes == NULL || t.seen == NULL) {
		fprintf(stderr, "tg-stress: out of memory\n");
		return 1;
	}
	if (cfg.rss) {
		prefault(t.nodes, cfg.max_tasks * sizeof(*t.nodes));
		prefault(t.seen, cfg.max_tasks * sizeof(*t.seen));
	}
	if (pthread_create(&wd, NULL, watchdog, &cfg) != 0 ||
	    pthread_detach(wd) != 0) {
		fprintf(stderr, "tg-stress: cannot start the watchdog\n");
		return 1;
	}
	if (!create_pools(&cfg, pools)) {
		destroy_pools(&cfg, pools);
		return 1;
	}
	status = run_all(&cfg, pools, &t);
	fflush(stdout);
	if (status == 1 && atomic_load(&t.violated)) {
		/* Tasks of a broken tree may still hold the pools: do not
		 * wait for them. */
		fflush(stderr);
		_exit(1);
	}
	destroy_pools(&cfg, pools);
	free(t.nodes);
	free(t.seen);
	return status;
}
