/* bench/deep_cancel_tg.c - cancellation through deeply nested groups.
 *
 * The root task opens a fail-fast group and spawns level 1; level i opens
 * a fail-fast group, spawns level i + 1 into it and joins it; the last
 * level raises.  The failure then climbs: each join finds its group
 * cancelled (one cancellation per level, each bumping the pool's epoch)
 * and returns an ExceptionGroup one level deeper than its child's.
 *
 * One line per depth and repetition: ns per level (the run's wall time
 * over the depth), so a cancellation that costs O(1) per level gives the
 * same figure at every depth and one that walks the scope chain grows
 * linearly with it.  Depths: --depths "1000,10000,100000".  Every worker
 * stack is --stack-mib MiB (default 1024: a level takes a few hundred
 * bytes of one worker's stack when it runs beneath its parent's join).
 * The result is checked: the error is an ExceptionGroup chain of exactly
 * depth groups ending in the RuntimeError raised at the bottom. */
#include "bench_cancel.h"
#include "bench_tg.h"

static long depth_goal;

static tg_error *level(void *p)
{
	long i = (long)(intptr_t)p;
	if (i == depth_goal)
		return TG_RAISE(&tg_RuntimeError, "bottom");
	tg_group g;
	int rc = tg_group_init(&g, NULL);
	if (rc != TG_OK)
		return TG_RAISE(&tg_RuntimeError, "tg_group_init: %s",
				tg_status_name(rc));
	rc = tg_spawn(&g, level, (void *)(intptr_t)(i + 1));
	if (rc != TG_OK)
		tg_group_cancel(&g);
	return tg_group_join(&g, NULL);
}

/* Depth of the ExceptionGroup chain err heads; -1 if it is not a chain
 * of single-child groups over the bottom RuntimeError. */
static long chain_depth(const tg_error *err)
{
	long d = 0;
	while (err != NULL && tg_error_is_group(err)) {
		if (tg_error_count(err) != 1)
			return -1;
		err = tg_error_child(err, 0);
		d++;
	}
	if (err == NULL || !tg_error_is(err, &tg_RuntimeError))
		return -1;
	return d;
}

int main(int argc, char **argv)
{
	const char *depths =
		bench_take_opt(&argc, argv, "--depths", "1000,10000,100000");
	long stack_mib = strtol(bench_take_opt(&argc, argv, "--stack-mib",
					       "1024"), NULL, 10);
	bench_args a;
	bench_parse(argc, argv, &a, 0);
	if (stack_mib < 1) {
		fprintf(stderr, "need --stack-mib >= 1\n");
		return 2;
	}
	tg_runner *r = NULL;
	tg_runner_config cfg;
	memset(&cfg, 0, sizeof cfg);
	cfg.threads = a.threads;
	cfg.pin_threads = a.pin != 0;
	cfg.stack_size = (size_t)stack_mib << 20;
	int rc = tg_runner_create(&r, &cfg);
	if (rc != TG_OK)
		bench_tg_die("tg_runner_create", NULL, rc);

	for (const char *s = depths; *s != '\0';) {
		char *end;
		long d = strtol(s, &end, 10);
		if (end == s || d < 1) {
			fprintf(stderr, "bad --depths %s\n", depths);
			return 2;
		}
		s = *end == ',' ? end + 1 : end;
		depth_goal = d;
		for (int rep = -a.warmup; rep < a.reps; rep++) {
			uint64_t t0 = bench_now_ns();
			tg_error *err = tg_runner_run(r, level, (void *)1);
			uint64_t t1 = bench_now_ns();
			long got = chain_depth(err);
			/* The run's result: levels 1 .. d - 1 each wrap it. */
			if (got != d - 1) {
				fprintf(stderr, "depth %ld: chain of %ld, "
						"expected %ld\n", d, got, d - 1);
				return 1;
			}
			tg_error_decref(err);
			if (rep >= 0)
				printf("kernel=deep_cancel impl=%s threads=%d "
				       "depth=%ld rep=%d ns_per_level=%.1f\n",
				       BENCH_IMPL, a.threads, d, rep,
				       (double)(t1 - t0) / (double)d);
			fflush(stdout);
		}
	}
	bench_tg_destroy(r);
	return 0;
}
