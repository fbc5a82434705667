/*
 * bench/bench_tbb.h - the oneTBB side: a task_arena of --threads slots
 * (and a global_control cap), and with --pin an observer that pins each
 * thread entering the arena to the next CPU of the process's mask.
 */
#ifndef BENCH_TBB_H
#define BENCH_TBB_H

#include "bench_util.h" /* first: it sets _GNU_SOURCE */

#include <atomic>
#include <memory>

#include <tbb/global_control.h>
#include <tbb/task_arena.h>
#include <tbb/task_group.h>
#include <tbb/task_scheduler_observer.h>

class bench_pin_observer : public tbb::task_scheduler_observer {
public:
	explicit bench_pin_observer(tbb::task_arena &arena)
		: tbb::task_scheduler_observer(arena)
	{
		observe(true);
	}
	void on_scheduler_entry(bool) override
	{
		thread_local int pinned = 0;
		if (!pinned) {
			bench_pin_self(bench_nth_cpu(next_.fetch_add(1)));
			pinned = 1;
		}
	}

private:
	std::atomic<int> next_{ 0 };
};

struct bench_tbb {
	tbb::global_control limit;
	tbb::task_arena arena;
	std::unique_ptr<bench_pin_observer> pin;

	explicit bench_tbb(const bench_args &a)
		: limit(tbb::global_control::max_allowed_parallelism,
			(size_t)a.threads),
		  arena(a.threads)
	{
		arena.initialize();
		if (a.pin)
			pin.reset(new bench_pin_observer(arena));
	}
	~bench_tbb()
	{
		if (pin)
			pin->observe(false);
	}
};

#endif /* BENCH_TBB_H */
