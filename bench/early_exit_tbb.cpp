// bench/early_exit_tbb.cpp - early exit with oneTBB: one task_group, the
// batch spawned with g.run from a loop; task n / 10 calls g.cancel(), which
// cancels the group's task_group_context: the scheduler skips the group's
// tasks that have not started.  The loop stops spawning once the context
// says cancelled (oneTBB's task_group has no is_canceling(); this is the
// analogue of tg_spawn's TG_ESHUTTINGDOWN); wait() then says canceled.
#include "bench_cancel.h"
#include "bench_tbb.h"

#include <atomic>

int main(int argc, char **argv)
{
	bench_args a;
	bench_parse(argc, argv, &a, 10000);
	bench_tbb tbb(a);
	early_batch b;
	early_alloc(&b, a.n, a.spin);
	const early_batch *bp = &b;
	for (int rep = -a.warmup; rep < a.reps; rep++) {
		std::atomic<int> failed{ 0 };
		tbb::task_group_status st = tbb::not_complete;
		early_reset(&b);
		uint64_t t0 = bench_now_ns();
		tbb.arena.execute([&] {
			tbb::task_group_context ctx;
			tbb::task_group g(ctx);
			for (long i = 0; i < b.n; i++) {
				if (ctx.is_group_execution_cancelled())
					break;
				g.run([&g, &failed, bp, i] {
					early_body(bp, i);
					if (i == bp->fail) {
						failed.store(1, std::memory_order_relaxed);
						g.cancel();
					}
				});
			}
			st = g.wait();
		});
		uint64_t t1 = bench_now_ns();
		if (rep >= 0)
			early_report(&b, &a, a.threads, rep, t1 - t0,
				     failed.load() && st == tbb::canceled, 1);
	}
	early_free(&b);
	return 0;
}
