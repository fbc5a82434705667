/* bench/barrier_pthread.c - barrier round trips on a pthread_barrier_t:
 * P plain threads (started for each repetition, pinned to CPU i of the
 * process's mask with --pin) each wait R + 1 rounds (the first one
 * untimed).  Parties = --threads, always: a pthread_barrier_wait holds its
 * thread until the round fills, so P parties need P threads, and a
 * barrier with more parties than threads would never release (--parties
 * other than --threads is refused; taskgroup's parties > workers case has
 * no pthread counterpart).  Its own check: exactly one waiter per round
 * gets PTHREAD_BARRIER_SERIAL_THREAD. */
#include "bench_blocking.h"

static barrier_run run;
static pthread_barrier_t bar;
static long serials; /* atomic */
static int pin;

static void *party(void *p)
{
	int me = (int)(uintptr_t)p;
	long passed = 0, serial = 0;
	if (pin)
		bench_pin_self(bench_nth_cpu(me));
	for (long r = 0; r <= run.rounds; r++) {
		barrier_enter(&run, me, r);
		int rc = pthread_barrier_wait(&bar);
		if (rc != 0 && rc != PTHREAD_BARRIER_SERIAL_THREAD) {
			fprintf(stderr, "pthread_barrier_wait: %s\n",
				strerror(rc));
			exit(1);
		}
		serial += rc == PTHREAD_BARRIER_SERIAL_THREAD;
		passed += barrier_leave(&run, me, r);
	}
	barrier_done(&run, passed);
	__atomic_fetch_add(&serials, serial, __ATOMIC_RELAXED);
	return NULL;
}

int main(int argc, char **argv)
{
	int parties = barrier_take_parties(&argc, argv);
	bench_args a;
	bench_parse(argc, argv, &a, BARRIER_DEFAULT_ROUNDS);
	if (parties != 0 && parties != a.threads) {
		fprintf(stderr, "barrier_pthread: --parties must equal "
				"--threads (one thread per party)\n");
		return 2;
	}
	parties = a.threads;
	pin = a.pin;
	barrier_alloc(&run, parties, a.n);
	pthread_t *t = (pthread_t *)calloc((size_t)parties, sizeof *t);
	if (t == NULL)
		return 1;
	for (int rep = -a.warmup; rep < a.reps; rep++) {
		barrier_reset(&run);
		serials = 0;
		int rc = pthread_barrier_init(&bar, NULL, (unsigned)parties);
		if (rc != 0) {
			fprintf(stderr, "pthread_barrier_init: %s\n",
				strerror(rc));
			return 1;
		}
		uint64_t t0 = bench_now_ns();
		for (int i = 0; i < parties; i++) {
			rc = pthread_create(&t[i], NULL, party,
					    (void *)(uintptr_t)i);
			if (rc != 0) {
				fprintf(stderr, "pthread_create: %s\n",
					strerror(rc));
				return 1;
			}
		}
		for (int i = 0; i < parties; i++)
			pthread_join(t[i], NULL);
		uint64_t t1 = bench_now_ns();
		pthread_barrier_destroy(&bar);
		if (rep < 0)
			continue;
		int serial_ok = serials == run.rounds + 1;
		if (!serial_ok)
			fprintf(stderr, "barrier: %ld serial waiters, not %ld\n",
				serials, run.rounds + 1);
		barrier_report(&run, &a, parties, rep, t1 - t0, serial_ok);
	}
	free(t);
	barrier_free(&run);
	return 0;
}
