/*
 * test_eager_all.h - the every-spawn-eager rerun (issue 20).
 *
 * tests/CMakeLists.txt builds test_group, test_cancel, test_timeout and
 * test_timeout_movers a second time (test_*_eager) with TG_TEST_EAGER_ALL
 * against a copy of the library whose groups are all eager.  The outcomes
 * those programs assert (error trees, their order, cancellation, deadlines)
 * must be the same; what may differ, and only as documented:
 *
 *  - under fail-fast, a spawn after an eager sibling failed is refused
 *    (TG_ESHUTTINGDOWN): the failure cancelled the group inside the
 *    earlier spawn, as it does when a queued child fails on another worker
 *    before the spawn;
 *  - children run in spawn order on the spawner's thread, so a test that
 *    asserts which child a lone worker runs first (LIFO) states the eager
 *    order instead;
 *  - a child that waits for a later sibling (or for the spawner) never
 *    sees it start: such tests are skipped (TEST_SKIP_IF_EAGER).
 */
#ifndef TG_TEST_EAGER_ALL_H
#define TG_TEST_EAGER_ALL_H

#ifdef TG_TEST_EAGER_ALL
#define TEST_EAGER 1
#else
#define TEST_EAGER 0
#endif

/* A spawn into a group that an eager sibling's failure may have
 * cancelled: TG_OK, or under the eager rerun also TG_ESHUTTINGDOWN. */
#define assert_spawn_ok(rc)                                                  \
	do {                                                                 \
		int spawn_rc_ = (rc);                                        \
		if (!(TEST_EAGER && spawn_rc_ == TG_ESHUTTINGDOWN))          \
			assert_int_equal(spawn_rc_, TG_OK);                  \
	} while (0)

/* For a test whose children wait for something an eager child's spawn
 * has not yet reached (a later sibling, the spawner). */
#define TEST_SKIP_IF_EAGER()                                                 \
	do {                                                                 \
		if (TEST_EAGER)                                              \
			skip();                                              \
	} while (0)

#endif /* TG_TEST_EAGER_ALL_H */
