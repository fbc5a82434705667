/* quickstart.c - the example of README.md: four checks run in parallel in
 * one task group, and every failure comes back in one error group. */
#include <stdio.h>
#include <taskgroup.h>

static tg_error *check(void *arg) /* a task returns NULL or an error */
{
	int n = *(int *)arg;

	return n % 3 ? NULL : TG_RAISE(&tg_ValueError, "%d is a multiple of 3", n);
}

static tg_error *main_task(void *arg)
{
	static int items[] = { 1, 3, 4, 6 };
	/* Collect-all: a failure does not cancel the other children (the
	 * default, fail-fast, cancels them as asyncio.TaskGroup does). */
	tg_group_options opts = { .policy = TG_POLICY_COLLECT_ALL };
	tg_group g;

	(void)arg;
	if (tg_group_init(&g, &opts) != TG_OK)
		return TG_RAISE(&tg_RuntimeError, "cannot open a group");
	for (int i = 0; i < 4; i++)
		tg_spawn(&g, check, &items[i]); /* runs in parallel */
	return tg_group_join(&g, NULL); /* NULL, or all the children's errors */
}

int main(void)
{
	tg_error *err = tg_run(main_task, NULL); /* asyncio.run(main()) */

	TG_EXCEPT_STAR(&err, &tg_ValueError, eg) { /* except* ValueError */
		printf("%zu values rejected\n", tg_error_leaf_count(eg));
		tg_error_print(eg, stdout);
	}
	if (err != NULL) { /* anything else: report it, like Python would */
		tg_error_print(err, stderr);
		tg_error_decref(err);
		return 1;
	}
	return 0;
}
