/*
 * platform.h - what the platform file (platform.c) provides besides ck_ec's
 * wait and wake operations (park.h's tg__ec_ops).  Internal.
 *
 * platform.c is the one file with Linux-only code (futex, gettid, CPU
 * affinity).  Elsewhere, or on Linux when built with TG_PORTABLE_PLATFORM
 * (the CMake option of the same name, which CI uses to test it), a
 * portable fallback stands in: a process-wide mutex and condition
 * variable for parking, no CPU pinning, no main-thread test.
 */
#ifndef TG_PLATFORM_H
#define TG_PLATFORM_H

#include <pthread.h>
#include <stdbool.h>
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

#endif /* TG_PLATFORM_H */
