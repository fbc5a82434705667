/*
 * consumer/main.c - a program built against an installed taskgroup
 * (tests/install/run.cmake builds it with find_package and with
 * pkg-config).  It checks that the headers, the library and the version
 * agree, and runs a trivial task group.
 */
#include <stdio.h>
#include <string.h>

#include <taskgroup.h>

static tg_error *child(void *arg)
{
	int *slot = arg;

	*slot = 1;
	return NULL;
}

static tg_error *root(void *arg)
{
	int *slots = arg;
	tg_group g;
	int rc;

	rc = tg_group_init(&g, NULL);
	if (rc != TG_OK)
		return TG_RAISE(&tg_RuntimeError, "tg_group_init: %s",
				tg_strerror(rc));
	for (int i = 0; i < 2; i++) {
		rc = tg_spawn(&g, child, &slots[i]);
		if (rc != TG_OK)
			return tg_group_join(&g, TG_RAISE(&tg_RuntimeError,
							  "tg_spawn: %s",
							  tg_strerror(rc)));
	}
	return tg_group_join(&g, NULL);
}

static tg_error *fails(void *arg)
{
	(void)arg;
	return TG_RAISE(&tg_ValueError, "expected failure");
}

int main(void)
{
	int slots[2] = { 0, 0 };
	tg_error *err;

	if (strcmp(tg_version_string(), TG_VERSION_STRING) != 0 ||
	    tg_version() != TG_VERSION_HEX) {
		fprintf(stderr, "version mismatch: library %s, header %s\n",
			tg_version_string(), TG_VERSION_STRING);
		return 1;
	}

	err = tg_run(root, slots);
	if (err != NULL) {
		tg_error_print(err, stderr);
		tg_error_decref(err);
		return 1;
	}
	if (slots[0] != 1 || slots[1] != 1) {
		fprintf(stderr, "children did not run\n");
		return 1;
	}

	err = tg_run(fails, NULL);
	if (!tg_error_is(err, &tg_ValueError)) {
		fprintf(stderr, "expected a ValueError from tg_run\n");
		tg_error_print(err, stderr);
		tg_error_decref(err);
		return 1;
	}
	tg_error_decref(err);

	printf("taskgroup %s: consumer OK\n", tg_version_string());
	return 0;
}
