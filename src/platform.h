/*
 * platform.h - what the platform file (futex.c) provides besides ck_ec's
 * wait and wake operations.  Internal.
 */
#ifndef TG_PLATFORM_H
#define TG_PLATFORM_H

#include <stdbool.h>

/* True on the process's initial thread (where signals like SIGINT are
 * conventionally handled).  false where it cannot be told. */
bool tg__is_main_thread(void);

/* Whether waking parked threads (tg__park_wake_all) is async-signal-safe:
 * true with futex, false with the mutex-based fallback. */
extern const bool tg__wake_signal_safe;

#endif /* TG_PLATFORM_H */
