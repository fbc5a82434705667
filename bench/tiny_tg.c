/* bench/tiny_tg.c - the tiny batch on taskgroup: one task spawns n tasks
 * into one group from a loop, then joins; task i runs tiny_body(out, i).
 * Built with BENCH_TG_EACH (bench_tiny_each_tg), one tg_spawn_each over
 * the output array spawns them instead (child i gets &out[i]).  Built with
 * BENCH_TG_EAGER (bench_tiny_eager_tg), the loop spawns with
 * tg_spawn_eager: each child runs inside its spawn (asyncio's eager task
 * factory). */
#include "bench_tg.h"
#include "kernels.h"

static uint32_t *tiny_out;
static long tiny_n;

#ifdef BENCH_TG_EACH
#define TINY_INDEX(p) ((long)((uint32_t *)(p) - tiny_out))
#else
#define TINY_INDEX(p) ((long)(uintptr_t)(p))
#endif

static tg_error *tiny_task(void *p)
{
	tiny_body(tiny_out, TINY_INDEX(p));
	return NULL;
}

static tg_error *tiny_root(void *p)
{
	(void)p;
	tg_group g;
	int rc = tg_group_init(&g, NULL);
	if (rc != TG_OK)
		return TG_RAISE(&tg_RuntimeError, "tg_group_init: %s",
				tg_status_name(rc));
#ifdef BENCH_TG_EACH
	BENCH_TG_SPAWN_EACH(&g, tiny_task, tiny_out, (size_t)tiny_n,
			    sizeof *tiny_out);
#elif defined(BENCH_TG_EAGER)
	for (long i = 0; i < tiny_n; i++)
		BENCH_TG_OR_JOIN(&g, tg_spawn_eager(&g, tiny_task,
						    (void *)(uintptr_t)i),
				 "tg_spawn_eager");
#else
	for (long i = 0; i < tiny_n; i++)
		BENCH_TG_SPAWN(&g, tiny_task, (void *)(uintptr_t)i);
#endif
	return tg_group_join(&g, NULL);
}

int main(int argc, char **argv)
{
	bench_args a;
	bench_parse(argc, argv, &a, 1000000);
	tiny_n = a.n;
	tiny_out = calloc((size_t)a.n + 1, sizeof *tiny_out);
	if (tiny_out == NULL)
		return 1;
	uint64_t expect = tiny_expected(a.n);
	tg_runner *r = bench_tg_runner(&a);
	for (int rep = -a.warmup; rep < a.reps; rep++) {
		memset(tiny_out, 0, (size_t)a.n * sizeof *tiny_out);
		uint64_t ns = bench_tg_run(r, tiny_root, NULL);
		uint64_t s = tiny_sum(tiny_out, a.n);
		if (rep >= 0)
			bench_report("tiny", &a, a.threads, rep, ns,
				     (uint64_t)a.n, (long long)s, s == expect);
	}
	bench_tg_destroy(r);
	free(tiny_out);
	return 0;
}
