/*
 * platform.h - what the platform file (platform.c) provides besides ck_ec's
 * wait and wake operations (park.h's tg__ec_ops).  Internal.
 *
 * platform.c is the one file with Linux-only code (futex, gettid, CPU
 * affinity).  Elsewhere, or on Linux when built with TG_PORTABLE_PLATFORM
 * (the CMake option of the same name, which CI uses to test it), a
 * portable fallback stands in: a process-wide mutex and condition
 * variable for parking, no CPU pinning, no main-thread test, no stack
 * bounds (so no stack-overflow message: stack_guard.h).
 */
#ifndef TG_PLATFORM_H
#define TG_PLATFORM_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* True on the process's initial thread (where signals like SIGINT are
 * conventionally handled).  false where it cannot be told. */
bool tg__is_main_thread(void);
/* Whether tg__is_main_thread can tell (true on Linux): without it the
 * runner's Ctrl-C handling (tg_runner_config.handle_sigint) stays off. */
extern const bool tg__main_thread_known;

/* Whether waking parked threads (tg__park_wake_all) is async-signal-safe:
 * true with futex, false with the mutex-based fallback. */
extern const bool tg__wake_signal_safe;

/* Pins thread, the pool's index-th worker, to one CPU of those the
 * process may run on (round robin).  Best effort: does nothing where the
 * platform cannot pin or the call fails (pinning is an optimisation). */
void tg__pin_thread(pthread_t thread, int index);

/* CPU time thread has used, in ns; -1 where the platform cannot tell
 * (the portable fallback).  The starvation detector (blocking.c). */
int64_t tg__thread_cpu_ns(pthread_t thread);

/* The calling thread's stack: its lowest usable address (*lo), its size
 * and the size of the guard region right below it (rounded up to whole
 * pages; 0 when it has none).  false where the platform cannot tell (the
 * portable fallback, or the query failed): then the stack-overflow
 * handler is not installed (stack_guard.c). */
bool tg__thread_stack(uintptr_t *lo, size_t *size, size_t *guard);
/* Whether tg__thread_stack can tell at all (true on Linux): tests skip
 * the stack-overflow message without it. */
extern const bool tg__thread_stack_known;

#endif /* TG_PLATFORM_H */
