/*
 * docs/examples/batch.c - a batch in one call.  tg_spawn_each runs
 * check_record on every element of an array, in parallel: the batch is
 * queued as one range that idle workers split in halves, and each record
 * is still a task of its own, so every failure is kept, in index order.
 */
#include <stdio.h>
#include <taskgroup.h>

#define N 1000

typedef struct record {
	int id;
	int value;
	long square; /* written by its task */
} record;

static tg_error *check_record(void *arg) /* arg: &records[i] */
{
	record *r = arg;

	if (r->value < 0)
		return TG_RAISE_CODE(&tg_ValueError, r->id,
				     "record %d: negative value %d", r->id,
				     r->value);
	r->square = (long)r->value * r->value;
	return NULL;
}

static tg_error *check_all(void *arg)
{
	record *records = arg;
	tg_group_options opts = { .policy = TG_POLICY_COLLECT_ALL };
	tg_group g;
	int rc = tg_group_init(&g, &opts);

	if (rc != TG_OK)
		return TG_RAISE(&tg_RuntimeError, "tg_group_init: %s",
				tg_status_name(rc));
	/* Child i runs check_record(&records[i]); all or nothing. */
	rc = tg_spawn_each(&g, check_record, records, N, sizeof(records[0]));
	if (rc != TG_OK)
		return tg_group_join(&g, TG_RAISE(&tg_RuntimeError,
						  "tg_spawn_each: %s",
						  tg_status_name(rc)));
	return tg_group_join(&g, NULL);
}

int main(void)
{
	static record records[N];
	long sum = 0;
	tg_error *err;

	for (int i = 0; i < N; i++)
		records[i] = (record){ i, i % 250 == 7 ? -i : i, 0 };
	err = tg_run(check_all, records);
	for (int i = 0; i < N; i++)
		sum += records[i].square;
	printf("sum of the squares kept: %ld\n", sum);
	if (err != NULL) {
		printf("%zu records rejected\n", tg_error_leaf_count(err));
		tg_error_print(err, stdout);
		tg_error_decref(err);
		return 1;
	}
	return 0;
}
