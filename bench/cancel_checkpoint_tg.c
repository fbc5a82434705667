/* bench/cancel_checkpoint_tg.c - the cost of a cancellation checkpoint:
 * a child task of an open (not cancelled) group runs a loop of n
 * iterations, timed inside the task, in four variants:
 *
 *   empty     the loop alone (an empty asm keeps each iteration)
 *   call      if (tg_cancelled()) break;   (the inline fast path)
 *   fn        if ((tg_cancelled)()) break; (the out-of-line function, what
 *             builds without the inline path get: TG_NO_INLINE_CHECKPOINT,
 *             compilers other than gcc and clang)
 *   macro     TG_CHECKPOINT(); in a task function
 *   every64   TG_CHECKPOINT(); on every 64th iteration only
 *
 * One line per variant and repetition (kernel=ckpt_<variant>), time_ms the
 * loop's time and ns_per_iter; the checkpoint's own cost is a variant's
 * ns_per_iter minus empty's.  --variant V runs one variant only (for
 * callgrind).  The scope is a group's child, not a root task, because a
 * root outside any group has no scope and tg_cancelled() returns early. */
#include "bench_cancel.h"
#include "bench_tg.h"

enum { V_EMPTY, V_CALL, V_FN, V_MACRO, V_EVERY64, V_COUNT };
static const char *const variant_name[V_COUNT] = { "empty", "call", "fn",
						   "macro", "every64" };

static long loop_n;
static uint64_t loop_ns;
static long loop_iters; /* iterations done: n unless a checkpoint fired */

/* Each loop is its own function, out of line, so that none is merged with
 * another or with the timing around it. */
#define BENCH_NOINLINE __attribute__((noinline))

static BENCH_NOINLINE long loop_empty(long n)
{
	long i;
	for (i = 0; i < n; i++)
		__asm__ volatile("");
	return i;
}

static BENCH_NOINLINE long loop_call(long n)
{
	long i;
	for (i = 0; i < n; i++)
		if (tg_cancelled())
			break;
	return i;
}

static BENCH_NOINLINE long loop_fn(long n)
{
	long i;
	for (i = 0; i < n; i++)
		if ((tg_cancelled)())
			break;
	return i;
}

static BENCH_NOINLINE tg_error *loop_macro(long n)
{
	for (long i = 0; i < n; i++) {
		TG_CHECKPOINT();
		__asm__ volatile("");
	}
	return NULL;
}

static BENCH_NOINLINE tg_error *loop_every64(long n)
{
	for (long i = 0; i < n; i++) {
		if ((i & 63) == 0)
			TG_CHECKPOINT();
		__asm__ volatile("");
	}
	return NULL;
}

static tg_error *ck_child(void *p)
{
	int v = (int)(intptr_t)p;
	tg_error *err = NULL;
	uint64_t t0 = bench_now_ns();
	switch (v) {
	case V_EMPTY:
		loop_iters = loop_empty(loop_n);
		break;
	case V_CALL:
		loop_iters = loop_call(loop_n);
		break;
	case V_FN:
		loop_iters = loop_fn(loop_n);
		break;
	case V_MACRO:
		err = loop_macro(loop_n);
		loop_iters = err == NULL ? loop_n : -1;
		break;
	default:
		err = loop_every64(loop_n);
		loop_iters = err == NULL ? loop_n : -1;
		break;
	}
	loop_ns = bench_now_ns() - t0;
	return err;
}

static tg_error *ck_root(void *p)
{
	tg_group g;
	int rc = tg_group_init(&g, NULL);
	if (rc != TG_OK)
		return TG_RAISE(&tg_RuntimeError, "tg_group_init: %s",
				tg_status_name(rc));
	BENCH_TG_SPAWN(&g, ck_child, p);
	return tg_group_join(&g, NULL);
}

int main(int argc, char **argv)
{
	const char *only = bench_take_opt(&argc, argv, "--variant", NULL);
	bench_args a;
	bench_parse(argc, argv, &a, 100000000);
	int first = 0, last = V_COUNT - 1;
	if (only != NULL) {
		for (first = 0; first < V_COUNT; first++)
			if (strcmp(only, variant_name[first]) == 0)
				break;
		if (first == V_COUNT) {
			fprintf(stderr, "unknown --variant %s\n", only);
			return 2;
		}
		last = first;
	}
	loop_n = a.n;
	tg_runner *r = bench_tg_runner(&a);
	for (int rep = -a.warmup; rep < a.reps; rep++) {
		/* The variants interleaved, so drift hits them alike. */
		for (int v = first; v <= last; v++) {
			char kernel[32];
			loop_iters = -1;
			bench_tg_run(r, ck_root, (void *)(intptr_t)v);
			if (rep < 0)
				continue;
			snprintf(kernel, sizeof kernel, "ckpt_%s",
				 variant_name[v]);
			bench_report_kv(kernel, &a, a.threads, rep, loop_ns, 0,
					loop_iters, loop_iters == a.n,
					" ns_per_iter=%.4f",
					a.n > 0 ? (double)loop_ns / (double)a.n
						: 0.0);
		}
	}
	bench_tg_destroy(r);
	return 0;
}
