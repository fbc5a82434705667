/*
 * docs/examples/barrier.c - workers that meet at a barrier each round
 * (asyncio.Barrier).  Four tasks count the primes of one block of numbers
 * per round, a quarter each, and wait for each other at the barrier; the
 * one that arrives last (index PARTIES - 1) does the round's bookkeeping:
 * it adds up the round and prints it, while the others start on the next
 * block.  Four parties on a pool of two workers: a waiting task waits in a
 * blocking region, so the pool starts extra workers and the round fills.
 */
#include <stdbool.h>
#include <stdio.h>
#include <taskgroup.h>

#define PARTIES 4
#define ROUNDS 3
#define BLOCK 1000 /* round r: the primes in [r * BLOCK, (r + 1) * BLOCK) */

static tg_barrier barrier;
/* counts[r % 2][w]: worker w's count for round r.  Two rows, because a
 * worker past the barrier writes the next round's row while the last
 * arrival still reads this one; the barrier orders everything else. */
static long counts[2][PARTIES];
static long total; /* written by each round's last arrival only */

static bool is_prime(long n)
{
	if (n < 2)
		return false;
	for (long d = 2; d * d <= n; d++)
		if (n % d == 0)
			return false;
	return true;
}

static tg_error *worker(void *arg)
{
	int w = *(int *)arg;

	for (int r = 0; r < ROUNDS; r++) {
		long lo = (long)r * BLOCK + (long)w * BLOCK / PARTIES;
		long hi = lo + BLOCK / PARTIES, n = 0;
		int index;
		tg_error *err;

		for (long i = lo; i < hi; i++)
			n += is_prime(i);
		counts[r % 2][w] = n;
		err = tg_barrier_wait(&barrier, &index);
		if (err != NULL)
			return err; /* broken, or cancelled */
		if (index == PARTIES - 1) { /* the last to arrive */
			long round = 0;

			for (int i = 0; i < PARTIES; i++)
				round += counts[r % 2][i];
			total += round;
			printf("round %d done: %ld primes in [%d, %d), "
			       "%ld so far\n",
			       r + 1, round, r * BLOCK, (r + 1) * BLOCK, total);
		}
	}
	return NULL;
}

static tg_error *main_task(void *arg)
{
	static int ids[PARTIES] = { 0, 1, 2, 3 };
	tg_group g;

	(void)arg;
	if (tg_group_init(&g, NULL) != TG_OK)
		return TG_RAISE(&tg_RuntimeError, "cannot open a group");
	/* Fail-fast: a worker that fails cancels the others, and a cancelled
	 * worker leaves the barrier at once with CancelledError. */
	tg_spawn_each(&g, worker, ids, PARTIES, sizeof(ids[0]));
	return tg_group_join(&g, NULL);
}

int main(void)
{
	tg_runner_config cfg = { .threads = 2 }; /* fewer than PARTIES */
	tg_runner *runner;
	tg_error *err;
	int rc;

	rc = tg_barrier_init(&barrier, PARTIES);
	if (rc != TG_OK) {
		fprintf(stderr, "tg_barrier_init: %s\n", tg_status_name(rc));
		return 1;
	}
	rc = tg_runner_create(&runner, &cfg);
	if (rc != TG_OK) {
		fprintf(stderr, "tg_runner_create: %s\n", tg_status_name(rc));
		return 1;
	}
	err = tg_runner_run(runner, main_task, NULL);
	tg_runner_destroy(runner);
	tg_barrier_destroy(&barrier); /* nobody waits any more */
	if (err != NULL) {
		tg_error_print(err, stderr);
		tg_error_decref(err);
		return 1;
	}
	printf("%d rounds, %ld primes below %d\n", ROUNDS, total,
	       ROUNDS * BLOCK);
	return 0;
}
