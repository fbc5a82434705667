/*
 * cancellable_wait.c - a task that waits on something of its own (here a
 * pipe that never becomes readable) and still leaves promptly when its
 * group is cancelled; its siblings keep running meanwhile.
 *
 * The wait is a blocking region (tg_blocking_begin / tg_blocking_end):
 * the worker's queued tasks go to the pool, and a compensating worker
 * starts when none is free, so the sibling that fails runs even on a
 * pool of one worker.  Cancellation only sets flags, so the task waits
 * in slices (poll with a 10 ms timeout) and looks at tg_cancelled()
 * between them: it notices within one slice.  For sleeping, tg_sleep
 * does all of this and wakes at once.
 *
 *     $ ./cancellable_wait
 *     reader: cancelled after waiting
 *     the group failed: ValueError: the producer gave up
 */
#include <poll.h>
#include <stdio.h>
#include <unistd.h>

#include <taskgroup.h>

static tg_error *
reader(void *arg)
{
	int fd = *(int *)arg;
	struct pollfd p = { .fd = fd, .events = POLLIN };
	tg_error *err = NULL;

	tg_blocking_begin();
	for (;;) {
		int n = poll(&p, 1, 10); /* one 10 ms slice */

		if (n > 0)
			break; /* readable (never, in this example) */
		if (tg_cancelled()) {
			err = tg_checkpoint_at(__FILE__, __LINE__, __func__);
			break;
		}
	}
	tg_blocking_end();
	if (err != NULL)
		printf("reader: cancelled after waiting\n");
	return err;
}

static tg_error *
producer(void *arg)
{
	(void)arg;
	tg_error *err = tg_sleep(50 * 1000 * 1000); /* 50 ms of work */

	return err != NULL ? err
			   : TG_RAISE(&tg_ValueError, "the producer gave up");
}

static tg_error *
main_task(void *arg)
{
	tg_group g;

	if (tg_group_init(&g, NULL) != TG_OK)
		return TG_RAISE(&tg_RuntimeError, "tg_group_init");
	/* The producer is spawned first, so on one worker the reader (LIFO)
	 * runs first and blocks: the producer runs elsewhere. */
	if (tg_spawn(&g, producer, NULL) != TG_OK ||
	    tg_spawn(&g, reader, arg) != TG_OK)
		return tg_group_join(&g, TG_RAISE(&tg_RuntimeError, "spawn"));
	return tg_group_join(&g, NULL);
}

int
main(void)
{
	tg_runner *r;
	tg_error *err;
	int fds[2];

	if (pipe(fds) != 0)
		return 2;
	/* One worker: only the blocking region lets the producer run. */
	if (tg_runner_create(&r, &(tg_runner_config){ .threads = 1 }) != TG_OK)
		return 2;
	err = tg_runner_run(r, main_task, &fds[0]);
	if (err != NULL && tg_error_count(err) == 1)
		printf("the group failed: %s: %s\n",
		       tg_error_type_of(tg_error_child(err, 0))->name,
		       tg_error_message(tg_error_child(err, 0)));
	tg_error_decref(err);
	tg_runner_destroy(r);
	close(fds[0]);
	close(fds[1]);
	return err != NULL ? 1 : 0;
}
