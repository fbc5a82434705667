/*
 * deque_model.cpp - Relacy model of the work-stealing deque.
 *
 * Not a transcription: this file compiles the real src/deque.h and
 * src/deque.c as C++ with the atomic shim's Relacy back end
 * (TG_ATOMIC_RELACY in src/atomic.h), so the model checker sees exactly
 * the memory orders the library declares.  Three shims make the C sources
 * valid C++, none of which touches an atomic operation:
 *   - _Alignas(n) is spelled alignas(n);
 *   - alloc.h is replaced by tg__malloc/tg__free below, which return a
 *     pointer that converts to any object pointer (C's void * rule) and
 *     build the slot array out of rl::atomic cells (deque.c sizes slots
 *     as sizeof(void *): right for the C back ends, too small for an
 *     rl::atomic, so the allocator recomputes the capacity);
 *   - slots are default-constructed rl::atomic cells, i.e. uninitialised:
 *     a thief that reads a slot no store has reached is reported by
 *     Relacy ("uninitialized access").
 *
 * Scenario (thread 0 = owner, threads 1..2 = thieves), on the split
 * deque (public [top, split), private [split, bottom)):
 *   owner:   init capacity 2 (in before()); push A, push B; share (A
 *            public); push C (grows the ring to 4, unless a steal made
 *            room: then C reuses A's slot); share (B public); then, as
 *            the scheduler does, share when a thief asked and take: C
 *            (private), B (public, Chase-Lev take on split, racing the
 *            thieves), push D (private again, at B's index) and take
 *            until take returns NULL;
 *   thieves: one steal each (an EMPTY steal sets want).
 * Scenario "oldest" (tg__deque_take_oldest, what a spawn whose queue is
 * full does), same thieves:
 *   owner:   push A, B, C (private); claim the two oldest (split store
 *            and one CAS on top, racing a thief that read the new split;
 *            a lost race retries from the new top); push D; share; claim
 *            again (the public range, or private items made public if the
 *            thieves emptied it); take until take returns NULL.
 * Items are pointers to payloads whose rl::var fields the owner writes
 * with plain stores before pushing; whoever gets an item reads them, so a
 * missing release/acquire edge is a data race Relacy reports.  after()
 * checks that every item was consumed exactly once, that
 * top <= split <= bottom at quiescence, and destroys the deque (Relacy
 * reports leaked buffers).

 * Mutants (-DTG_MUTANT=N, or --mutant N at run time): each weakens one
 * order at one call site through the back end's TG_RL_ORDER hook, the
 * source itself is unchanged.  tests/relacy/run_mutants.sh builds them and
 * checks each verdict; the list and the reason each survivor survives are
 * in mutant_table below.
 *
 * Usage: deque_model [--random N] [--bound K] [--mutant N] [--list]
 * Default: random 1,000,000 iterations, then context bound 2 exhaustive.
 * Exit 0 when every requested search passes.
 */
#include <relacy/relacy.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

/* ------------------------------------------------------------------ */
/* Mutation hook                                                        */

enum {
	M_NONE,
	M_TAKE_FENCE_ACQREL,
	M_TAKE_FENCE_NONE,
	M_STEAL_FENCE_ACQREL,
	M_STEAL_FENCE_NONE,
	M_SHARE_SPLIT_RELAXED,
	M_GROW_BUF_RELAXED,
	M_STEAL_BUF_RELAXED,
	M_STEAL_SPLIT_RELAXED,
	M_STEAL_CAS_RELAXED,
	M_TAKE_CAS_RELAXED,
	M_PUSH_TOP_RELAXED,
	M_TAKE_TOP_RELAXED,
	M_STEAL_TOP_RELAXED,
	M_TAKE_SPLIT_RELAXED,
	M_OLDEST_SPLIT_RELAXED,
	M_OLDEST_CAS_RELAXED,
	M_OLDEST_TOP_RELAXED,
	M_SHARE_ALL_SPLIT_RELAXED,
	M_COUNT
};

/* "take" below is tg__deque_take_public, the only part of take that
 * touches shared cells. */
static const struct {
	const char *name;
	bool caught; /* expected verdict; survivors are explained below */
} mutant_table[M_COUNT] = {
	{ "none", false },
	/* take: seq_cst fence -> acq_rel / removed.  No store->load order
	 * between the owner's split store and its top load: the owner reads
	 * a stale top, takes B as a non-last public item (no CAS) and
	 * pushes D privately at B's index, while a thief that read the old
	 * split claims that index by CAS -> D consumed twice, reported as a
	 * data race on D's payload (the thief reads what was never
	 * published). */
	{ "take_fence_acqrel", true },
	{ "take_fence_none", true },
	/* steal: seq_cst fence -> acq_rel / removed.  The Dekker pair loses
	 * its second half: the thief reads a stale split after the owner
	 * took the item -> consumed twice (seen as above). */
	{ "steal_fence_acqrel", true },
	{ "steal_fence_none", true },
	/* share: split store release -> relaxed.  A thief that sees the new
	 * split does not see the slot or the payload -> data race on the
	 * payload (or an uninitialised slot). */
	{ "share_split_relaxed", true },
	/* grow: buf store release -> relaxed (the bug of the paper's code,
	 * found by CDSChecker).  A thief that read an older split may use
	 * the new ring before the copied slots are visible. */
	{ "grow_buf_relaxed", true },
	/* steal: buf load acquire -> relaxed: the other half of that edge. */
	{ "steal_buf_relaxed", true },
	/* steal: split load acquire -> relaxed: no edge from share -> data
	 * race on the payload. */
	{ "steal_split_relaxed", true },
	/* steal: CAS seq_cst -> relaxed.  SURVIVES.  Exactly-once is
	 * settled by the atomicity of the CAS on top (any order) and the
	 * Dekker race by the two seq_cst fences, not by the CAS's order.
	 * The CAS's release half pairs with the owner's acquire loads of
	 * top (push's make_room, take): it orders a thief's read of a slot
	 * before the owner reuses the slot (write-after-read).  Breaking
	 * that needs a load that reads from a store that follows it (load
	 * buffering), which Relacy does not generate; x86 never does it.
	 * Kept seq_cst: the paper's order, and the same locked cmpxchg. */
	{ "steal_cas_relaxed", false },
	/* take: CAS seq_cst -> relaxed.  SURVIVES: the paper's authors agree
	 * it can be relaxed (CDSSpec notes): the owner's fence already
	 * orders it and the owner reads nothing through it.  Kept seq_cst:
	 * same instruction on x86, and the shim has no relaxed CAS. */
	{ "take_cas_relaxed", false },
	/* push: top load acquire -> relaxed.  SURVIVES for the reason given
	 * for steal_cas_relaxed (the acquire half of the same
	 * write-after-read edge; CDSSpec injection #3 needs load
	 * buffering).  Required by the C11 model; kept. */
	{ "push_top_relaxed", false },
	/* take: top load acquire -> relaxed (Chase-Lev has it relaxed; here
	 * the value becomes top_floor, which push uses to reuse slots).
	 * SURVIVES for the same load-buffering reason as push_top_relaxed;
	 * kept, since the floor it sets stands in for push's acquire. */
	{ "take_top_relaxed", false },
	/* steal: top load acquire -> relaxed.  SURVIVES: the seq_cst fence
	 * that follows gives the order (found by AutoMO, confirmed by the
	 * paper's authors); acquire here is deliberately stronger (free on
	 * x86) and gives TSan, which ignores fences, its edge. */
	{ "steal_top_relaxed", false },
	/* take: the split stores release -> relaxed (the paper's take has
	 * relaxed bottom stores).  SURVIVES: under C11/C++11 (which Relacy
	 * implements) a store by the owner continues the release sequence
	 * headed by share's release store, so a thief that reads take's
	 * split value still synchronises with the share.  Deliberately
	 * stronger for ThreadSanitizer, see deque.h. */
	{ "take_split_relaxed", false },
	/* take_oldest: split store release -> relaxed.  A thief that reads
	 * the claim's split and wins index s reads a slot (or a payload)
	 * nothing published to it: caught as in share_split_relaxed. */
	{ "oldest_split_relaxed", true },
	/* take_oldest: CAS seq_cst -> relaxed.  SURVIVES: as take_cas: the
	 * atomicity of the CAS on top settles which of owner and thief gets
	 * index s, and the owner reads nothing through it (its slots are its
	 * own writes).  Kept seq_cst: same instruction on x86. */
	{ "oldest_cas_relaxed", false },
	/* take_oldest: top load acquire -> relaxed.  SURVIVES for the
	 * load-buffering reason of push_top_relaxed (the value becomes
	 * top_floor, which push uses to reuse slots); kept. */
	{ "oldest_top_relaxed", false },
	/* share_all (a worker about to block publishes its whole queue):
	 * split store release -> relaxed, as share_split_relaxed. */
	{ "share_all_split_relaxed", true },
};

#ifndef TG_MUTANT
#define TG_MUTANT 0
#endif
static int g_mutant = TG_MUTANT;

/* The cells of the deque under test (set in before(); per-iteration test
 * objects live at the same address in every iteration). */
static const void *g_top, *g_split, *g_buf;

static rl::memory_order model_order(const char *fn, int op, const void *cell,
				   rl::memory_order mo);

#define TG_RL_ORDER(op, cell, order)                                          \
	model_order(__func__, (op), (const void *)(cell), (order))
#define TG_ATOMIC_RELACY 1

/* ------------------------------------------------------------------ */
/* The real deque, compiled as C++                                      */

#define _Alignas(n) alignas(n)
#include "deque.h"
#undef _Alignas

/* alloc.h replacement: the deque's buffers are its only allocations. */
#define TG_ALLOC_H 1

struct model_mem {
	void *p;
	template <class U> operator U *() const { return static_cast<U *>(p); }
};

#pragma push_macro("new")
#undef new
static model_mem
tg__malloc(size_t size)
{
	/* deque.c asks for sizeof(tg__deque_buf) + capacity * slot size,
	 * the slot being an rl::atomic<void *> here. */
	const size_t slot = sizeof(rl::atomic<void *>);
	size_t cap = (size - sizeof(tg__deque_buf)) / slot;
	model_mem m;
	tg__deque_buf *b;

	RL_ASSERT(sizeof(tg__deque_buf) + cap * slot == size);
	m.p = malloc(size);
	b = static_cast<tg__deque_buf *>(m.p);
	for (size_t i = 0; i < cap; i++)
		::new (static_cast<void *>(&b->slot[i])) rl::atomic<void *>();
	return m;
}

static void
tg__free(void *p)
{
	tg__deque_buf *b = static_cast<tg__deque_buf *>(p);

	if (b == NULL)
		return;
	for (int64_t i = 0; i <= b->mask; i++)
		b->slot[i].~atomic();
	free(p);
}
#pragma pop_macro("new")

#include "deque.c"

/* The mutants: see mutant_table for what each one weakens. */
static rl::memory_order
model_order(const char *fn, int op, const void *cell, rl::memory_order mo)
{
	/* push's load of top sits in its slow path, make_room. */
	bool push = strcmp(fn, "tg__deque_push") == 0 ||
		    strcmp(fn, "tg__deque_make_room") == 0;
	bool take = strcmp(fn, "tg__deque_take_public") == 0;
	bool steal = strcmp(fn, "tg__deque_steal") == 0;
	bool grow = strcmp(fn, "tg__deque_grow") == 0;
	bool share = strcmp(fn, "tg__deque_share") == 0;
	bool share_all = strcmp(fn, "tg__deque_share_all") == 0;
	bool oldest = strcmp(fn, "tg__deque_take_oldest") == 0;

	switch (g_mutant) {
	case M_TAKE_FENCE_ACQREL:
		if (take && op == TG_RL_FENCE)
			return rl::mo_acq_rel;
		break;
	case M_TAKE_FENCE_NONE:
		if (take && op == TG_RL_FENCE)
			return rl::mo_relaxed; /* dropped by the back end */
		break;
	case M_STEAL_FENCE_ACQREL:
		if (steal && op == TG_RL_FENCE)
			return rl::mo_acq_rel;
		break;
	case M_STEAL_FENCE_NONE:
		if (steal && op == TG_RL_FENCE)
			return rl::mo_relaxed;
		break;
	case M_SHARE_SPLIT_RELAXED:
		if (share && op == TG_RL_STORE && cell == g_split)
			return rl::mo_relaxed;
		break;
	case M_SHARE_ALL_SPLIT_RELAXED:
		if (share_all && op == TG_RL_STORE && cell == g_split)
			return rl::mo_relaxed;
		break;
	case M_GROW_BUF_RELAXED:
		if (grow && op == TG_RL_STORE && cell == g_buf)
			return rl::mo_relaxed;
		break;
	case M_STEAL_BUF_RELAXED:
		if (steal && op == TG_RL_LOAD && cell == g_buf)
			return rl::mo_relaxed;
		break;
	case M_STEAL_SPLIT_RELAXED:
		if (steal && op == TG_RL_LOAD && cell == g_split)
			return rl::mo_relaxed;
		break;
	case M_STEAL_CAS_RELAXED:
		if (steal && op == TG_RL_RMW)
			return rl::mo_relaxed;
		break;
	case M_TAKE_CAS_RELAXED:
		if (take && op == TG_RL_RMW)
			return rl::mo_relaxed;
		break;
	case M_PUSH_TOP_RELAXED:
		if (push && op == TG_RL_LOAD && cell == g_top)
			return rl::mo_relaxed;
		break;
	case M_TAKE_TOP_RELAXED:
		if (take && op == TG_RL_LOAD && cell == g_top)
			return rl::mo_relaxed;
		break;
	case M_STEAL_TOP_RELAXED:
		if (steal && op == TG_RL_LOAD && cell == g_top)
			return rl::mo_relaxed;
		break;
	case M_TAKE_SPLIT_RELAXED:
		if (take && op == TG_RL_STORE && cell == g_split)
			return rl::mo_relaxed;
		break;
	case M_OLDEST_SPLIT_RELAXED:
		if (oldest && op == TG_RL_STORE && cell == g_split)
			return rl::mo_relaxed;
		break;
	case M_OLDEST_CAS_RELAXED:
		if (oldest && op == TG_RL_RMW)
			return rl::mo_relaxed;
		break;
	case M_OLDEST_TOP_RELAXED:
		if (oldest && op == TG_RL_LOAD && cell == g_top)
			return rl::mo_relaxed;
		break;
	default:
		break;
	}
	return mo;
}

/* ------------------------------------------------------------------ */
/* The test                                                             */

enum { NITEMS = 4, NTHIEVES = 2, NTHREADS = 1 + NTHIEVES };

/* What the explored executions covered (counted in after(); they do not
 * influence the executions, so Relacy's replay stays deterministic). */
static struct {
	unsigned long long runs, stolen, grown, reused, two_thieves;
	unsigned long long claimed, claim_lost; /* scenario "oldest" */
} cover;

/* The owner's part of each scenario (the thieves always steal once). */
enum scenario { SCENARIO_MAIN, SCENARIO_OLDEST, SCENARIO_SHARE_ALL };

struct payload {
	rl::var<int> id;
	rl::var<int> check;
};

template <int SCENARIO>
struct deque_test : rl::test_suite<deque_test<SCENARIO>, NTHREADS> {
	tg__deque d;
	payload item[NITEMS];
	/* got[thread][item]: each thread writes only its own row; after()
	 * reads them once every thread has finished. */
	int got[NTHREADS][NITEMS];
	int first_claim; /* scenario "oldest": what the first claim got */

	void before()
	{
		memset(got, 0, sizeof(got));
		first_claim = -1;
		RL_ASSERT(tg__deque_init(&d, 2) == 0);
		g_top = &d.top;
		g_split = &d.split;
		g_buf = &d.buf;
	}

	void consume(unsigned thread, void *x)
	{
		payload *p = static_cast<payload *>(x);
		long i = p - item;

		RL_ASSERT(i >= 0 && i < NITEMS);
		/* plain reads: a data race unless the push happens-before */
		RL_ASSERT(p->id($) == (int)i + 1);
		RL_ASSERT(p->check($) == ((int)i + 1) * 7);
		got[thread][i]++;
	}

	void push(int i)
	{
		item[i].id($) = i + 1;
		item[i].check($) = (i + 1) * 7;
		RL_ASSERT(tg__deque_push(&d, &item[i]));
	}

	/* The scheduler's take: share first if a thief asked. */
	void *take()
	{
		if (tg__deque_wanted(&d))
			(void)tg__deque_share(&d);
		return tg__deque_take(&d);
	}

	/* Scenario "oldest" (a spawn whose queue is full): push A, B, C
	 * (private); claim the 2 oldest (split store + one CAS on top,
	 * racing a thief that read the new split); push D; share; claim the
	 * oldest again (public now: the thief protocol); take until empty. */
	void owner_oldest()
	{
		void *out[4], *x;
		int n;

		push(0);
		push(1);
		push(2);
		n = tg__deque_take_oldest(&d, out, 2);
		/* 2: A and B.  Fewer when thieves won indices and the retries
		 * claimed what was left (B, or C made public): always a run of
		 * consecutive items, oldest first. */
		RL_ASSERT(n >= 0 && n <= 2);
		for (int i = 0; i < n; i++)
			RL_ASSERT(static_cast<payload *>(out[i]) ==
				  static_cast<payload *>(out[0]) + i);
		if (n == 2)
			RL_ASSERT(out[0] == &item[0]);
		first_claim = n;
		for (int i = 0; i < n; i++)
			consume(0, out[i]);
		push(3);
		(void)tg__deque_share(&d);
		n = tg__deque_take_oldest(&d, out, 4);
		RL_ASSERT(n >= 0 && n <= 4);
		for (int i = 0; i < n; i++)
			consume(0, out[i]);
		while ((x = take()) != NULL)
			consume(0, x);
	}

	/* Scenario "share_all" (a worker that blocks publishes its whole
	 * queue): push A, B, C; publish all; take B... (the public path,
	 * racing the thieves for the last one); push D; publish all; take
	 * until empty. */
	void owner_share_all()
	{
		void *x;

		push(0);
		push(1);
		push(2);
		RL_ASSERT(tg__deque_share_all(&d));
		RL_ASSERT(tg__deque_private_empty(&d));
		if ((x = tg__deque_take(&d)) != NULL)
			consume(0, x);
		push(3);
		(void)tg__deque_share_all(&d);
		while ((x = tg__deque_take(&d)) != NULL)
			consume(0, x);
	}

	void thread(unsigned index)
	{
		if (index == 0 && SCENARIO == SCENARIO_OLDEST) {
			owner_oldest();
		} else if (index == 0 && SCENARIO == SCENARIO_SHARE_ALL) {
			owner_share_all();
		} else if (index == 0) {
			void *x;

			push(0);
			push(1);
			(void)tg__deque_share(&d);
			push(2);
			(void)tg__deque_share(&d);
			if ((x = take()) != NULL)
				consume(0, x);
			if ((x = take()) != NULL)
				consume(0, x);
			push(3);
			while ((x = take()) != NULL)
				consume(0, x);
		} else {
			void *x = NULL;

			if (tg__deque_steal(&d, &x) == TG__STEAL_OK)
				consume(index, x);
		}
	}

	void after()
	{
		int64_t t = tg_atomic_load_relaxed_i64(&d.top);
		int64_t s = tg_atomic_load_relaxed_i64(&d.split);

		for (int i = 0; i < NITEMS; i++) {
			int n = 0;

			for (int k = 0; k < NTHREADS; k++)
				n += got[k][i];
			/* every item consumed exactly once */
			RL_ASSERT(n == 1);
		}
		/* top <= split <= bottom at quiescence, and empty */
		RL_ASSERT(t <= s && s <= d.bottom);
		RL_ASSERT(t == d.bottom);
		RL_ASSERT(s == d.split_owner);
		{
			int thieves = 0;

			for (int k = 1; k < NTHREADS; k++)
				for (int i = 0; i < NITEMS; i++)
					thieves += got[k][i];
			cover.runs++;
			cover.stolen += thieves != 0;
			cover.two_thieves += thieves == 2;
			cover.grown += d.retired != NULL;
			cover.reused += d.retired == NULL;
			cover.claimed += first_claim == 2;
			cover.claim_lost += first_claim < 2;
		}
		tg__deque_destroy(&d);
	}
};

static bool
run(rl::scheduler_type_e type, unsigned long long iterations, unsigned bound)
{
	rl::test_params p;
	bool ok;

	memset(&cover, 0, sizeof(cover));
	p.search_type = type;
	p.iteration_count = iterations;
	p.context_bound = bound;
	p.output_history = false;
	ok = rl::simulate<deque_test<SCENARIO_MAIN> >(p);
	if (ok)
		printf("main: executions %llu: a thief got an item in %llu, "
		       "both thieves in %llu; the ring grew in %llu, C reused "
		       "a stolen slot in %llu\n",
		       cover.runs, cover.stolen, cover.two_thieves,
		       cover.grown, cover.reused);
	if (!ok)
		return false;
	memset(&cover, 0, sizeof(cover));
	ok = rl::simulate<deque_test<SCENARIO_OLDEST> >(p);
	if (ok)
		printf("oldest: executions %llu: a thief got an item in %llu; "
		       "the owner's claim of A and B won in %llu, lost to a "
		       "thief in %llu\n",
		       cover.runs, cover.stolen, cover.claimed,
		       cover.claim_lost);
	if (!ok)
		return false;
	memset(&cover, 0, sizeof(cover));
	ok = rl::simulate<deque_test<SCENARIO_SHARE_ALL> >(p);
	if (ok)
		printf("share_all: executions %llu: a thief got an item in "
		       "%llu, both thieves in %llu\n",
		       cover.runs, cover.stolen, cover.two_thieves);
	return ok;
}

int
main(int argc, char **argv)
{
	unsigned long long iterations = 1000000;
	int bound = 2;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--random") == 0 && i + 1 < argc) {
			iterations = strtoull(argv[++i], NULL, 10);
		} else if (strcmp(argv[i], "--bound") == 0 && i + 1 < argc) {
			bound = atoi(argv[++i]);
		} else if (strcmp(argv[i], "--mutant") == 0 && i + 1 < argc) {
			g_mutant = atoi(argv[++i]);
		} else if (strcmp(argv[i], "--list") == 0) {
			for (int m = 1; m < M_COUNT; m++)
				printf("%d %s %s\n", m, mutant_table[m].name,
				       mutant_table[m].caught ? "caught"
							      : "survives");
			return 0;
		} else {
			fprintf(stderr,
				"usage: %s [--random N] [--bound K] "
				"[--mutant N] [--list]\n"
				"  N = 0 skips that search; K = -1 skips the "
				"bounded search\n",
				argv[0]);
			return 2;
		}
	}
	if (g_mutant < 0 || g_mutant >= M_COUNT) {
		fprintf(stderr, "unknown mutant %d\n", g_mutant);
		return 2;
	}
	printf("deque model: mutant %d (%s)\n", g_mutant,
	       mutant_table[g_mutant].name);
	if (iterations > 0) {
		printf("random scheduler, %llu iterations\n", iterations);
		if (!run(rl::random_scheduler_type, iterations, 0)) {
			printf("FAILED: random scheduler\n");
			return 1;
		}
	}
	if (bound >= 0) {
		printf("context bound %d, exhaustive\n", bound);
		if (!run(rl::fair_context_bound_scheduler_type, 0, bound)) {
			printf("FAILED: context bound %d\n", bound);
			return 1;
		}
	}
	printf("deque model: passed\n");
	return 0;
}
