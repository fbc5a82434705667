/*
 * bench/bench_util.h - what every benchmark program shares: argument
 * parsing, the clock, peak RSS, CPU pinning helpers and the one output line
 * per repetition that bench/run.sh parses.
 *
 * Every program takes the same options:
 *
 *     --n N          problem size (kernel specific; each program has a default)
 *     --threads T    workers (ignored by the serial programs), default 1
 *     --reps R       timed repetitions, default 5
 *     --warmup W     untimed repetitions before them, default 1
 *     --pin          pin workers to CPUs (taskgroup: pin_threads; TBB: an
 *                    observer; OpenMP: set OMP_PROC_BIND/OMP_PLACES instead)
 *     --spin K       spin iterations per task (the 50 us batch; see
 *                    bench_spin()); --calibrate prints the K for 50 us
 *
 * and prints, for each timed repetition, one line of key=value pairs:
 *
 *     kernel=fib n=30 impl=taskgroup threads=1 rep=0 time_ms=12.345
 *     spawns=2692536 maxrss_kb=3456 result=832040 ok=1 cc=gcc12
 *
 * (maxrss_kb is the peak RSS so far, VmHWM; cc the compiler.)
 *
 * A result that differs from the known answer prints ok=0, a message on
 * stderr, and the program exits with status 1.
 *
 * Written in the common subset of C11 and C++17 (the TBB peers include it).
 */
#ifndef BENCH_UTIL_H
#define BENCH_UTIL_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1 /* sched_setaffinity, CPU_SET */
#endif

#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#ifndef BENCH_IMPL
#error "compile with -DBENCH_IMPL=\"name\""
#endif

typedef struct bench_args {
	long n;
	int threads;
	int reps;
	int warmup;
	int pin;
	long spin;
	int calibrate;
} bench_args;

static inline void bench_usage(const char *prog)
{
	fprintf(stderr,
		"usage: %s [--n N] [--threads T] [--reps R] [--warmup W] [--pin]"
		" [--spin K] [--calibrate]\n",
		prog);
}

/* Parses argv into *a, whose n is preset to the program's default. */
static inline void bench_parse(int argc, char **argv, bench_args *a,
			       long default_n)
{
	a->n = default_n;
	a->threads = 1;
	a->reps = 5;
	a->warmup = 1;
	a->pin = 0;
	a->spin = 0;
	a->calibrate = 0;
	for (int i = 1; i < argc; i++) {
		const char *o = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(o, "--pin") == 0) {
			a->pin = 1;
		} else if (strcmp(o, "--calibrate") == 0) {
			a->calibrate = 1;
		} else if (v != NULL && strcmp(o, "--n") == 0) {
			a->n = strtol(v, NULL, 10), i++;
		} else if (v != NULL && strcmp(o, "--threads") == 0) {
			a->threads = (int)strtol(v, NULL, 10), i++;
		} else if (v != NULL && strcmp(o, "--reps") == 0) {
			a->reps = (int)strtol(v, NULL, 10), i++;
		} else if (v != NULL && strcmp(o, "--warmup") == 0) {
			a->warmup = (int)strtol(v, NULL, 10), i++;
		} else if (v != NULL && strcmp(o, "--spin") == 0) {
			a->spin = strtol(v, NULL, 10), i++;
		} else {
			bench_usage(argv[0]);
			exit(2);
		}
	}
	if (a->threads < 1 || a->reps < 1 || a->warmup < 0 || a->n < 0) {
		bench_usage(argv[0]);
		exit(2);
	}
}

/* Monotonic clock in nanoseconds. */
static inline uint64_t bench_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Peak resident set size of the process so far, in KiB: VmHWM from
 * /proc/self/status (getrusage's ru_maxrss survives exec, so a program
 * started by a big parent would report the parent's size), else
 * ru_maxrss. */
static inline long bench_maxrss_kb(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	if (f != NULL) {
		char line[256];
		long kb = -1;
		while (fgets(line, sizeof line, f) != NULL) {
			if (strncmp(line, "VmHWM:", 6) == 0) {
				kb = strtol(line + 6, NULL, 10);
				break;
			}
		}
		fclose(f);
		if (kb >= 0)
			return kb;
	}
	struct rusage ru;
	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return -1;
	return ru.ru_maxrss;
}

/* The i-th CPU (modulo) of the process's affinity mask, or -1. */
static inline int bench_nth_cpu(int i)
{
	cpu_set_t set;
	if (sched_getaffinity(0, sizeof set, &set) != 0)
		return -1;
	int count = CPU_COUNT(&set);
	if (count <= 0)
		return -1;
	int want = i % count;
	for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
		if (CPU_ISSET(cpu, &set) && want-- == 0)
			return cpu;
	}
	return -1;
}

/* Pins the calling thread to one CPU; returns 0 or -1. */
static inline int bench_pin_self(int cpu)
{
	cpu_set_t set;
	if (cpu < 0)
		return -1;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof set, &set);
}

/* The compiler, for matching each program with the serial baseline built
 * by the same compiler. */
#if defined(__clang__)
#define BENCH_CC_NAME "clang"
#define BENCH_CC_MAJOR __clang_major__
#elif defined(__GNUC__)
#define BENCH_CC_NAME "gcc"
#define BENCH_CC_MAJOR __GNUC__
#else
#define BENCH_CC_NAME "cc"
#define BENCH_CC_MAJOR 0
#endif

/* One line per timed repetition (the format run.sh parses). */
static inline void bench_report(const char *kernel, const bench_args *a,
				int threads, int rep, uint64_t ns,
				uint64_t spawns, long long result, int ok)
{
	printf("kernel=%s n=%ld impl=%s threads=%d rep=%d time_ms=%.4f "
	       "spawns=%llu maxrss_kb=%ld result=%lld ok=%d cc=%s%d\n",
	       kernel, a->n, BENCH_IMPL, threads, rep, (double)ns / 1e6,
	       (unsigned long long)spawns, bench_maxrss_kb(), result, ok,
	       BENCH_CC_NAME, BENCH_CC_MAJOR);
	fflush(stdout);
	if (!ok) {
		fprintf(stderr, "%s/%s n=%ld: wrong result %lld\n", kernel,
			BENCH_IMPL, a->n, result);
		exit(1);
	}
}

#endif /* BENCH_UTIL_H */
