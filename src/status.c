/*
 * status.c - names and descriptions of the TG_E* status codes.
 */
#include "taskgroup/common.h"

#define TG_STATUS_MAP(XX)                                                    \
	XX(TG_OK, "success")                                                 \
	XX(TG_EINVAL, "bad argument")                                        \
	XX(TG_ENOMEM, "out of memory")                                       \
	XX(TG_ESHUTTINGDOWN, "task group is shutting down")                  \
	XX(TG_EFINISHED, "task group is finished")                           \
	XX(TG_ENOTASK, "not called from a task")                             \
	XX(TG_EBUSY, "resource busy")                                        \
	XX(TG_EDEADLK, "call would wait for itself")                         \
	XX(TG_ESTATE, "invalid state for this call")                         \
	XX(TG_EAGAIN, "resource temporarily unavailable")                    \
	XX(TG_ENOTOWNER, "caller does not own the task group")               \
	XX(TG_ENOENT, "no such result")

const char *
tg_strerror(int status)
{
#define XX(code, text)                                                       \
	case code:                                                           \
		return text;
	switch (status) {
		TG_STATUS_MAP(XX)
	}
#undef XX
	return "unknown status";
}

const char *
tg_status_name(int status)
{
#define XX(code, text)                                                       \
	case code:                                                           \
		return #code;
	switch (status) {
		TG_STATUS_MAP(XX)
	}
#undef XX
	return "TG_UNKNOWN";
}
