/*
 * park.c - the parking protocol of park.h on ck_ec.
 */
#include "park.h"

static const struct ck_ec_mode ec_mode = {
	.ops = &tg__ec_ops,
	.single_producer = false,
};

void
tg__park_init(tg__park *p)
{
	ck_ec32_init(&p->ec, 0);
	/* relaxed: published to the workers by pthread_create. */
	tg_atomic_store_relaxed_u32(&p->sleepers, 0);
}

uint32_t
tg__park_prepare(tg__park *p)
{
	/* Snapshot first: a wake after this point changes the count, so the
	 * later wait returns at once (ck_ec_value is an acquire read). */
	uint32_t v = ck_ec32_value(&p->ec);

	/* seq_cst RMW: the sleeper announcement is ordered before the
	 * caller's re-check of its condition.  Pairs with the seq_cst read
	 * of sleepers in tg__park_wake. */
	tg_atomic_faa_seqcst_u32(&p->sleepers, 1);
	return v;
}

void
tg__park_wait(tg__park *p, uint32_t snapshot)
{
	ck_ec32_wait(&p->ec, &ec_mode, snapshot, NULL);
}

void
tg__park_wait_until(tg__park *p, uint32_t snapshot, int64_t deadline_ns)
{
	/* An absolute CLOCK_MONOTONIC time, as tg__ec_ops.gettime reads. */
	struct timespec deadline = {
		.tv_sec = (time_t)(deadline_ns / 1000000000),
		.tv_nsec = (long)(deadline_ns % 1000000000),
	};

	ck_ec32_wait(&p->ec, &ec_mode, snapshot, &deadline);
}

void
tg__park_done(tg__park *p)
{
	/* relaxed: only a count; the wait itself already returned. */
	tg_atomic_faa_relaxed_u32(&p->sleepers, (uint32_t)-1);
}

void
tg__park_wake(tg__park *p)
{
	/* seq_cst: pairs with the seq_cst increment in tg__park_prepare; the
	 * caller made its condition true with a seq_cst write before this. */
	if (tg_atomic_load_seqcst_u32(&p->sleepers) != 0)
		ck_ec32_inc(&p->ec, &ec_mode);
}

void
tg__park_wake_all(tg__park *p)
{
	ck_ec32_inc(&p->ec, &ec_mode);
}
