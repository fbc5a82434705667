/*
 * version.c - the run-time mirror of taskgroup/version.h.
 */
#include "taskgroup/version.h"

unsigned
tg_version(void)
{
	return TG_VERSION_HEX;
}

const char *
tg_version_string(void)
{
	return TG_VERSION_STRING;
}
