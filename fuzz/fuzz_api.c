/*
 * fuzz_api.c - libFuzzer target for the task-group API.
 *
 * One runner (2 workers) is created on the first input and kept.  Each
 * input is a small program, run as the root task of one tg_runner_run:
 * the root opens groups (nested; fail-fast, collect-all or first-success;
 * some with a concurrency limit or a deadline), spawns children into the
 * innermost or an outer one, cancels, joins (with or without a body
 * error), misuses the API (join twice, spawn after join, join out of
 * order, NULL and uninitialised handles, runs from inside a task), checks
 * tg_cancelled(), and at the end joins what is open or leaves it to the
 * runtime.  A child is a small tree, fixed before it is spawned: it
 * succeeds, fails with one of many types (cancellations and fatal errors
 * included), checkpoints, spawns siblings into its own group, opens a
 * nested group of its own (joined, or left open for the runtime), cancels
 * its group, or misuses the API.  Every join result also goes through
 * fz_exercise (split, except*, printing, JSON, notes: fuzz_util.c).
 *
 * What is checked never depends on timing:
 *  - every call returns one of the codes its header allows, and exactly
 *    the one it must wherever the outcome is decided (spawn after an
 *    explicit cancel, misuse codes, ...);
 *  - every child runs at most once, and exactly once when its group
 *    cannot have been cancelled (collect-all, no cancel, no deadline, no
 *    failure that could cancel an enclosing fail-fast group);
 *  - a join returns exactly the errors its children returned (by
 *    identity, owner-spawned ones in spawn order, the body's last), minus
 *    the cancellations, minus the non-fatal ones once a first-success
 *    child won; with a fatal error, that error as the root and the rest
 *    in its context; "weight" (non-cancel leaves plus contexts,
 *    fz_weight) is conserved in every case, including the runtime's joins
 *    of groups left open;
 *  - NULL, CancelledError or TimeoutError when nothing failed, as
 *    tg_group_join documents, and exactly NULL where no cancellation can
 *    have happened;
 *  - a first-success winner is a child that returned NULL;
 *  - ASan, UBSan and LSan: no memory error, no undefined behaviour, no
 *    leaked error.
 * Which siblings a fail-fast failure cancels, which child wins, how the
 * work is spread over the workers: never asserted.
 *
 * Encoding: fuzz/README.md; examples: fuzz/gen_corpus.sh.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"

#define THREADS 2
#define MAX_SPECS 192
#define MAX_KIDS 4
#define MAX_SPEC_DEPTH 3
#define MAX_OPEN 6
#define MAX_GROUPS 24
#define MAX_MEMBERS 64
#define MAX_STEPS 96

static tg_runner *runner;
/* FZ_TRACE=1 in the environment: print each step and every join result
 * to stderr (for reading a crash input or a corpus file). */
static bool trace;

#define TRACE(...)                                                           \
	do {                                                                 \
		if (trace)                                                   \
			fprintf(stderr, __VA_ARGS__);                        \
	} while (0)

/* ------------------------------------------------------------------ */
/* Children                                                             */

enum kind {
	K_OK,         /* returns NULL */
	K_FAIL,       /* returns its error */
	K_CHECKPOINT, /* CancelledError if cancelled, else its error */
	K_SIBLINGS,   /* spawns its kids into its own group */
	K_NESTED,     /* opens a group, spawns its kids, joins */
	K_ABANDON,    /* opens a group, spawns its kids, returns */
	K_CANCEL_OWN, /* tg_group_cancel on its own group */
	K_MISUSE,     /* calls that must be refused from a child */
	K_COUNT
};

/* Nested-group options (K_NESTED, K_ABANDON). */
enum {
	N_CANCEL = 1,   /* tg_group_cancel before the join */
	N_DEADLINE = 2, /* a deadline already past */
	N_LIMIT = 4,    /* concurrency limit 1 */
	N_TRY = 8,      /* tg_try_spawn instead of tg_spawn */
};

typedef struct spec spec;
struct spec {
	int id;
	enum kind kind;
	const tg_error_type *fail; /* own error (NULL: none) */
	int policy;                /* nested group */
	unsigned nopts;            /* N_* */
	int nkids;
	spec *kids[MAX_KIDS];

	/* K_NESTED, K_ABANDON: the handle of its own group.  Here, not on
	 * the task's stack: a K_ABANDON task returns with the group open,
	 * and its children still spawn into it through the handle while
	 * the runtime joins it. */
	tg_group nested;

	/* Set by the spawner, before the spawn (group) or after it (rc). */
	tg_group *group; /* the group it was spawned into */
	int limit;       /* that group's limit */
	int spawn_rc;
	int order; /* owner spawns: position among the group's, else -1 */

	/* Written by the child while it runs, read after its group's join
	 * (which orders them). */
	atomic_int runs;
	bool saw_cancel;      /* K_CHECKPOINT: tg_cancelled() was true */
	tg_error *returned;   /* what the function returned (not owned) */
	bool returned_cancel; /* ...a bare cancellation (dropped) */
	size_t returned_w;    /* fz_weight(returned) */
	bool returned_fatal;
	size_t own_w;        /* K_ABANDON: weight of its own error */
	bool nested_cancel;  /* the nested join gave a bare CancelledError */
	bool body_cancel;    /* the nested body error was a cancellation */
};

static spec specs[MAX_SPECS];
static int nspecs;

static bool
type_cancel(const tg_error_type *t)
{
	return t != NULL && (t->flags & TG_ERROR_TYPE_CANCEL) != 0;
}

static bool
type_fatal(const tg_error_type *t)
{
	return t != NULL && (t->flags & TG_ERROR_TYPE_FATAL) != 0;
}

static tg_error *
raise_for(const spec *s, const tg_error_type *t)
{
	if (t == NULL)
		return NULL;
	if (t == &tg_FileNotFoundError)
		return tg_error_from_errno(ENOENT, "spec %d", s->id);
	return TG_RAISE(t, "spec %d", s->id);
}

/* A child's own error type: none half the time. */
static const tg_error_type *
parse_fail(fz_in *in)
{
	unsigned b = fz_byte(in);

	return (b & 1) ? fz_leaf_type(b >> 1) : NULL;
}

static spec *
parse_spec(fz_in *in, int depth)
{
	spec *s;
	int i;

	if (nspecs == MAX_SPECS)
		return NULL;
	s = &specs[nspecs];
	memset(s, 0, sizeof(*s));
	atomic_init(&s->runs, 0);
	s->id = nspecs++;
	s->kind = (enum kind)(fz_byte(in) % K_COUNT);
	s->order = -1;
	s->spawn_rc = 1; /* not spawned */
	if (depth >= MAX_SPEC_DEPTH &&
	    (s->kind == K_SIBLINGS || s->kind == K_NESTED ||
	     s->kind == K_ABANDON))
		s->kind = K_FAIL;
	switch (s->kind) {
	case K_OK:
		break;
	case K_FAIL:
		s->fail = fz_leaf_type(fz_byte(in));
		break;
	case K_SIBLINGS:
	case K_NESTED:
	case K_ABANDON: {
		unsigned b = fz_byte(in);

		s->policy = (int)(b % 3);
		s->nopts = b >> 2;
		/* A first-success group left open: the runtime's join
		 * would report a winner nobody can read; keep it simple. */
		if (s->kind == K_ABANDON &&
		    s->policy == TG_POLICY_FIRST_SUCCESS)
			s->policy = TG_POLICY_COLLECT_ALL;
		/* Nor a deadline: its TimeoutError, or not, would depend on
		 * whether an outer cancellation came first. */
		if (s->kind == K_ABANDON)
			s->nopts &= ~(unsigned)N_DEADLINE;
		s->nkids = (int)(fz_byte(in) % (MAX_KIDS + 1));
		for (i = 0; i < s->nkids; i++) {
			s->kids[i] = parse_spec(in, depth + 1);
			if (s->kids[i] == NULL) {
				s->nkids = i;
				break;
			}
		}
		s->fail = parse_fail(in);
		break;
	}
	default:
		s->fail = parse_fail(in);
		break;
	}
	return s;
}

/* ------------------------------------------------------------------ */
/* Static facts about what a spec can do (for the checks after a join)  */

/* What the members of a group (specs spawned into it, siblings
 * included) can do to it. */
typedef struct gfacts {
	bool fail, fatal, cancel_own, any;
} gfacts;

static void member_facts(const spec *s, gfacts *f);

static gfacts
kids_facts(const spec *s)
{
	gfacts f = { false, false, false, false };
	int i;

	for (i = 0; i < s->nkids; i++)
		member_facts(s->kids[i], &f);
	return f;
}

/* Can s return an error its group records (not a bare cancellation)? */
static bool
may_fail(const spec *s)
{
	if (s->fail != NULL && !type_cancel(s->fail))
		return true;
	switch (s->kind) {
	case K_ABANDON:
		return true; /* the runtime adds a RuntimeError */
	case K_NESTED:
		/* A TimeoutError, or its group's errors. */
		return (s->nopts & N_DEADLINE) || kids_facts(s).fail;
	default:
		return false;
	}
}

/* Can s hand its group a fatal error? */
static bool
may_fatal(const spec *s)
{
	if (type_fatal(s->fail))
		return true;
	if (s->kind == K_NESTED || s->kind == K_ABANDON)
		return kids_facts(s).fatal;
	return false;
}

static void
member_facts(const spec *s, gfacts *f)
{
	int i;

	f->any = true;
	f->fail = f->fail || may_fail(s);
	f->fatal = f->fatal || may_fatal(s);
	f->cancel_own = f->cancel_own || s->kind == K_CANCEL_OWN;
	if (s->kind == K_SIBLINGS)
		for (i = 0; i < s->nkids; i++)
			member_facts(s->kids[i], f);
}

static bool
self_cancel(int policy, const gfacts *f, const tg_error_type *body)
{
	if (f->cancel_own || f->fatal || type_fatal(body))
		return true;
	if (policy == TG_POLICY_FAIL_FAST)
		return f->fail || (body != NULL && !type_cancel(body));
	if (policy == TG_POLICY_FIRST_SUCCESS)
		return f->any;
	return false;
}

/* The nested group of s (K_NESTED, K_ABANDON) can be cancelled, given
 * whether the group s runs in can be (outer). */
static bool
nested_may_cancel(const spec *s, bool outer)
{
	gfacts f;

	if (outer || (s->nopts & (N_CANCEL | N_DEADLINE)))
		return true;
	f = kids_facts(s);
	/* K_ABANDON's own error is not a body error of its group. */
	return self_cancel(s->policy, &f,
			   s->kind == K_NESTED ? s->fail : NULL);
}

/* ------------------------------------------------------------------ */
/* The exact check of a join                                            */

/* Members of a group: the specs spawned into it, siblings included, in
 * a flat list. */
typedef struct members {
	spec *v[MAX_MEMBERS * 4];
	int n;
} members;

static void
add_member(members *m, spec *s)
{
	int i;

	if (m->n < (int)(sizeof(m->v) / sizeof(m->v[0])))
		m->v[m->n++] = s;
	if (s->kind == K_SIBLINGS && s->spawn_rc == TG_OK &&
	    atomic_load(&s->runs) == 1)
		for (i = 0; i < s->nkids; i++)
			add_member(m, s->kids[i]);
}

static bool
ran(const spec *s)
{
	return s->spawn_rc == TG_OK && atomic_load(&s->runs) == 1;
}

/* Did s hand its group an error (one the join keeps, at least until a
 * first-success winner drops it)?  K_ABANDON always does: the runtime's
 * join of its open group replaces whatever it returned. */
static bool
recorded(const spec *s)
{
	return ran(s) && (s->kind == K_ABANDON ||
			  (s->returned != NULL && !s->returned_cancel));
}

/* A first-success win: a child that ran and returned NULL (a child
 * that returned a CancelledError did not succeed: it must not win, nor
 * make the join drop the other children's errors). */
static bool
returned_success(const spec *s)
{
	return s->returned == NULL;
}

static bool
succeeded(const spec *s)
{
	return ran(s) && s->kind != K_ABANDON && returned_success(s);
}

/* What a group's join keeps of its members' errors. */
typedef struct tally {
	size_t w;     /* their weight */
	bool fatal;   /* one of them holds a fatal error */
	bool won;     /* first-success: a child succeeded */
	bool abandon; /* a K_ABANDON error among them (identity unknown) */
	size_t nkept;
	spec *kept[MAX_MEMBERS * 4];
} tally;

static size_t member_weight(const spec *s);
static bool member_fatal(const spec *s);

static void
tally_members(int policy, const members *m, tally *t)
{
	int k;

	memset(t, 0, sizeof(*t));
	for (k = 0; k < m->n; k++)
		if (policy == TG_POLICY_FIRST_SUCCESS && succeeded(m->v[k]))
			t->won = true;
	for (k = 0; k < m->n; k++) {
		spec *s = m->v[k];

		if (!recorded(s))
			continue;
		if (t->won && !member_fatal(s))
			continue; /* dropped: a child succeeded */
		t->kept[t->nkept++] = s;
		t->w += member_weight(s);
		t->fatal = t->fatal || member_fatal(s);
		t->abandon = t->abandon || s->kind == K_ABANDON;
	}
}

static void
tally_kids(const spec *s, tally *t)
{
	members m = { .n = 0 };
	int i;

	for (i = 0; i < s->nkids; i++)
		add_member(&m, s->kids[i]);
	tally_members(s->policy, &m, t);
}

/* The weight a recorded member's error adds to its group. */
static size_t
member_weight(const spec *s)
{
	if (s->kind == K_ABANDON) {
		/* Its own error, its group's errors, one RuntimeError. */
		tally t;

		tally_kids(s, &t);
		return s->own_w + t.w + 1;
	}
	return s->returned_w;
}

static bool
member_fatal(const spec *s)
{
	if (s->kind == K_ABANDON) {
		tally t;

		tally_kids(s, &t);
		return type_fatal(s->fail) || t.fatal;
	}
	return s->returned_fatal;
}

/* What is known about one join, for check_join: its policy, the body's
 * error as passed, outer_quiet (no enclosing scope can have been
 * cancelled, so the result cannot be an outer cancellation), deadline
 * (the group had one that may have fired) and own_cancel (the group may
 * have been cancelled explicitly). */
typedef struct join_case {
	const char *where;
	int policy;
	tg_error *body;      /* as passed (identity; may be freed) */
	size_t body_w;       /* its weight */
	bool body_cancel;    /* a bare cancellation */
	bool body_fatal;
	bool outer_quiet;
	bool deadline;
	bool own_cancel;     /* explicitly cancelled (or may have been) */
} join_case;

static void
check_join(const join_case *jc, const members *m, tg_error *res)
{
	size_t want_w, got_w, nkept, i, k;
	bool fatal, abandon;
	int last_order = -1;
	tally t;

	tally_members(jc->policy, m, &t);
	want_w = jc->body_w + t.w;
	fatal = jc->body_fatal || t.fatal;
	abandon = t.abandon;
	nkept = t.nkept;
	got_w = fz_weight(res);
	if (nkept == 0 && (jc->body == NULL || jc->body_cancel)) {
		/* Nothing failed. */
		FZ_CHECK(res == NULL || fz_is_bare_cancel(res) ||
				 (tg_error_is(res, &tg_TimeoutError) &&
				  tg_error_count(res) == 0),
			 "%s: nothing failed but the join returned %s",
			 jc->where, tg_error_type_of(res)->name);
		if (res != NULL && tg_error_is(res, &tg_TimeoutError))
			FZ_CHECK(jc->deadline, "%s: TimeoutError without a deadline",
				 jc->where);
		if (res != NULL && fz_is_bare_cancel(res))
			FZ_CHECK(!jc->outer_quiet || jc->body_cancel,
				 "%s: CancelledError, but no enclosing scope "
				 "could be cancelled and the body was not",
				 jc->where);
		if (jc->outer_quiet && !jc->deadline && !jc->body_cancel)
			FZ_CHECK(res == NULL, "%s: must be NULL", jc->where);
		if (jc->outer_quiet && !jc->deadline && jc->body_cancel &&
		    !jc->own_cancel && jc->policy != TG_POLICY_FIRST_SUCCESS)
			FZ_CHECK(fz_is_bare_cancel(res),
				 "%s: a cancelled body must give CancelledError",
				 jc->where);
		return;
	}
	FZ_CHECK(res != NULL, "%s: %zu errors recorded but the join returned "
		 "NULL", jc->where, nkept);
	FZ_CHECK(got_w == want_w, "%s: join result weighs %zu, its children's "
		 "errors and the body %zu", jc->where, got_w, want_w);
	if (fatal) {
		FZ_CHECK(tg_error_count(res) == 0 &&
				 type_fatal(tg_error_type_of(res)),
			 "%s: a fatal error must be the root, got %s",
			 jc->where, tg_error_type_of(res)->name);
		return;
	}
	/* The children by identity: each kept error once, the body last,
	 * owner-spawned ones in spawn order. */
	FZ_CHECK(tg_error_is_group(res), "%s: errors but not a group (%s)",
		 jc->where, tg_error_type_of(res)->name);
	k = nkept + (jc->body != NULL && !jc->body_cancel);
	FZ_CHECK(tg_error_count(res) == k, "%s: %zu children, expected %zu",
		 jc->where, tg_error_count(res), k);
	if (jc->body != NULL && !jc->body_cancel)
		FZ_CHECK(tg_error_child(res, k - 1) == jc->body,
			 "%s: the body's error is not last", jc->where);
	for (i = 0; i < nkept; i++) {
		tg_error *c = tg_error_child(res, i);
		spec *owner = NULL;

		for (k = 0; k < nkept; k++)
			if (t.kept[k]->kind != K_ABANDON &&
			    t.kept[k]->returned == c)
				owner = t.kept[k];
		if (owner == NULL) {
			FZ_CHECK(abandon && tg_error_is_group(c),
				 "%s: child %zu of the result was returned by "
				 "no child task", jc->where, i);
			continue;
		}
		if (owner->order >= 0) {
			FZ_CHECK(owner->order > last_order,
				 "%s: owner spawns out of order (%d after %d)",
				 jc->where, owner->order, last_order);
			last_order = owner->order;
		}
	}
}

/* ------------------------------------------------------------------ */
/* The child task                                                       */

static tg_error *noop(void *arg)
{
	(void)arg;
	return NULL;
}

static void
check_usage(tg_error *e, int code, const char *what)
{
	FZ_CHECK(e != NULL && tg_error_is(e, &tg_RuntimeError) &&
			 tg_error_code(e) == code,
		 "%s: expected a RuntimeError with code %s, got %s code %d",
		 what, tg_status_name(code),
		 e != NULL ? tg_error_type_of(e)->name : "NULL",
		 tg_error_code(e));
	tg_error_decref(e);
}

/* A refused join: a RuntimeError with the status as its code, holding
 * the body's error (as its context, or as a child: the weight says it is
 * kept either way). */
static void
check_join_usage(tg_error *e, int code, size_t body_w, const char *what)
{
	FZ_CHECK(e != NULL && fz_weight(e) == 1 + body_w,
		 "%s: weighs %zu, expected 1 + the body's %zu", what,
		 fz_weight(e), body_w);
	if (tg_error_count(e) == 0) {
		check_usage(e, code, what);
		return;
	}
	FZ_CHECK(tg_error_is(tg_error_child(e, 0), &tg_RuntimeError) &&
			 tg_error_code(tg_error_child(e, 0)) == code,
		 "%s: a group whose first child is not the RuntimeError", what);
	tg_error_decref(e);
}

static size_t
body_weight(const tg_error *body)
{
	return fz_is_bare_cancel(body) ? 0 : fz_weight(body);
}

static int
spawn_one(tg_group *g, spec *kid, int limit, bool try_spawn, bool named);
static tg_error *task(void *arg);

/* K_NESTED and K_ABANDON: a group of the child's own. */
static tg_error *
run_nested(spec *s)
{
	tg_group_options o = { .policy = s->policy,
			       .name = (s->id & 1) ? "nested" : NULL,
			       .limit = (s->nopts & N_LIMIT) ? 1 : 0 };
	tg_error *body, *res;
	tg_group *g = &s->nested;
	members m = { .n = 0 };
	int rc, i;
	void *won = NULL;

	rc = tg_group_init(g, &o);
	FZ_CHECK(rc == TG_OK, "nested init: %d", rc);
	if (s->nopts & N_DEADLINE) {
		rc = tg_group_set_deadline(g, 0);
		FZ_CHECK(rc == TG_OK, "past deadline: %d", rc);
	}
	for (i = 0; i < s->nkids; i++) {
		rc = spawn_one(g, s->kids[i], o.limit, s->nopts & N_TRY,
			       (s->id & 2) != 0);
		if (s->nopts & N_DEADLINE)
			FZ_CHECK(rc == TG_ESHUTTINGDOWN,
				 "spawn into an expired group: %d", rc);
	}
	if (s->nopts & N_CANCEL)
		FZ_CHECK(tg_group_cancel(g) == TG_OK, "cancel");
	if (s->kind == K_ABANDON) {
		s->own_w = 0;
		body = raise_for(s, s->fail);
		s->own_w = fz_weight(body);
		s->body_cancel = fz_is_bare_cancel(body);
		if (s->body_cancel)
			s->own_w = 0;
		return body; /* the runtime joins g */
	}
	body = raise_for(s, s->fail);
	s->body_cancel = fz_is_bare_cancel(body);
	{
		join_case jc = {
			.where = "nested join",
			.policy = s->policy,
			.body = body,
			.body_w = s->body_cancel ? 0 : fz_weight(body),
			.body_cancel = s->body_cancel,
			.body_fatal = fz_has_fatal(body),
			/* Whether the child's own group can be cancelled is
			 * known only after it is joined: checked later. */
			.outer_quiet = false,
			.deadline = (s->nopts & N_DEADLINE) != 0,
			.own_cancel = true,
		};

		res = tg_group_join(g, body);
		for (i = 0; i < s->nkids; i++)
			add_member(&m, s->kids[i]);
		check_join(&jc, &m, res);
	}
	s->nested_cancel = fz_is_bare_cancel(res);
	if (s->nopts & N_DEADLINE)
		FZ_CHECK(tg_group_expired(g), "past deadline not expired");
	rc = tg_group_winner(g, &won);
	if (s->policy != TG_POLICY_FIRST_SUCCESS) {
		FZ_CHECK(rc == TG_ESTATE, "winner of a %d group: %d", s->policy,
			 rc);
	} else if (rc == TG_OK) {
		spec *w = won;

		FZ_CHECK(w != NULL && w->group == g && returned_success(w) &&
				 atomic_load(&w->runs) == 1,
			 "the winner is not a child of this group that "
			 "returned NULL");
	} else {
		FZ_CHECK(rc == TG_ENOENT, "winner: %d", rc);
	}
	return res;
}

static tg_error *
run_misuse(spec *s)
{
	tg_error *e;
	int rc;

	/* Joining the group it runs in: not the owner. */
	e = tg_group_join(s->group, NULL);
	check_usage(e, TG_ENOTOWNER, "join from a child");
	/* Its deadline, read from a child (allowed; moving it from here
	 * would change what the oracle expects, so it is not tried). */
	(void)tg_group_deadline(s->group);
	/* The runner from its own task. */
	check_usage(tg_runner_run(runner, noop, NULL), TG_EDEADLK,
		    "tg_runner_run from a task");
	e = tg_run(noop, NULL);
	check_usage(e, TG_EDEADLK, "tg_run from a task");
	rc = tg_runner_destroy(runner);
	FZ_CHECK(rc == TG_EDEADLK || rc == TG_EBUSY,
		 "tg_runner_destroy from a task: %d", rc);
	return raise_for(s, s->fail);
}

static tg_error *
task(void *arg)
{
	spec *s = arg;
	tg_task_info info;
	tg_error *err = NULL;
	int i, rc;

	FZ_CHECK(atomic_fetch_add(&s->runs, 1) == 0, "spec %d ran twice",
		 s->id);
	rc = tg_current_task(&info);
	FZ_CHECK(rc == TG_OK && info.id != 0 && info.id == tg_current_task_id() &&
			 info.worker >= 0 &&
			 info.worker < THREADS + TG_MAX_BLOCKING_DEFAULT &&
			 info.worker == tg_current_worker(),
		 "tg_current_task in a child: %d", rc);
	switch (s->kind) {
	case K_OK:
		break;
	case K_FAIL:
		err = raise_for(s, s->fail);
		break;
	case K_CHECKPOINT:
		if (tg_cancelled()) {
			s->saw_cancel = true;
			err = tg_checkpoint_at(__FILE__, __LINE__, __func__);
			FZ_CHECK(err != NULL && tg_error_is(err, &tg_CancelledError),
				 "checkpoint in a cancelled scope");
		} else {
			err = raise_for(s, s->fail);
		}
		break;
	case K_SIBLINGS:
		for (i = 0; i < s->nkids; i++)
			spawn_one(s->group, s->kids[i], s->limit, false, false);
		err = raise_for(s, s->fail);
		break;
	case K_NESTED:
	case K_ABANDON:
		err = run_nested(s);
		break;
	case K_CANCEL_OWN:
		FZ_CHECK(tg_group_cancel(s->group) == TG_OK, "cancel own group");
		err = raise_for(s, s->fail);
		break;
	case K_MISUSE:
		err = run_misuse(s);
		break;
	default:
		break;
	}
	s->returned = err;
	s->returned_cancel = fz_is_bare_cancel(err);
	s->returned_w = fz_weight(err);
	s->returned_fatal = fz_has_fatal(err);
	return err;
}

/* Spawns kid into g and checks the status; the kid's spawn_rc records
 * it.  limit: g's concurrency limit. */
static int
spawn_one(tg_group *g, spec *kid, int limit, bool try_spawn, bool named)
{
	int rc;

	kid->group = g;
	kid->limit = limit;
	if (try_spawn)
		rc = tg_try_spawn(g, task, kid);
	else if (named)
		rc = tg_spawn_named(g, task, kid, "kid");
	else
		rc = tg_spawn(g, task, kid);
	kid->spawn_rc = rc;
	FZ_CHECK(rc == TG_OK || rc == TG_ESHUTTINGDOWN ||
			 (limit != 0 && try_spawn && rc == TG_EAGAIN),
		 "spawn (limit %d, try %d): %s", limit, try_spawn,
		 tg_status_name(rc));
	return rc;
}

/* ------------------------------------------------------------------ */
/* The validation after a join: run counts and skips, given whether the */
/* group could be cancelled (mc).                                       */

static void
validate(const spec *s, bool mc)
{
	int runs = atomic_load(&s->runs), i;

	if (s->spawn_rc != TG_OK) {
		FZ_CHECK(runs == 0, "spec %d: spawn failed (%s) but it ran",
			 s->id, tg_status_name(s->spawn_rc));
		if (s->spawn_rc == TG_ESHUTTINGDOWN)
			FZ_CHECK(mc, "spec %d: spawn refused as shutting down, "
				 "but its group could not be cancelled", s->id);
		return;
	}
	FZ_CHECK(runs <= 1, "spec %d ran %d times", s->id, runs);
	if (runs == 0) {
		FZ_CHECK(mc, "spec %d was skipped, but its group could not be "
			 "cancelled", s->id);
		return;
	}
	if (s->kind == K_CHECKPOINT && s->saw_cancel)
		FZ_CHECK(mc, "spec %d saw a cancellation, but its group could "
			 "not be cancelled", s->id);
	switch (s->kind) {
	case K_SIBLINGS:
		for (i = 0; i < s->nkids; i++)
			validate(s->kids[i], mc);
		break;
	case K_NESTED:
	case K_ABANDON: {
		bool inner = nested_may_cancel(s, mc);

		for (i = 0; i < s->nkids; i++)
			validate(s->kids[i], inner);
		if (s->kind == K_NESTED && s->nested_cancel)
			FZ_CHECK(mc || s->body_cancel,
				 "spec %d: nested join gave CancelledError, but "
				 "no enclosing scope could be cancelled", s->id);
		break;
	}
	default:
		break;
	}
}

/* ------------------------------------------------------------------ */
/* The root task: the program                                           */

typedef struct group {
	tg_group g;
	int policy;
	int limit;
	bool cancelled;    /* explicitly, by the root */
	bool deadline;     /* a deadline that may fire (past or soon) */
	bool past;         /* a deadline already past: cancelled for sure */
	bool has_deadline; /* the last set that took gave a time, not NONE:
			    * the joined handle still reads it */
	bool open;
	int nspawned;
	spec *spawned[MAX_MEMBERS];
} group;

static group groups[MAX_GROUPS];
static int ngroups;
static int stack[MAX_OPEN]; /* open groups, innermost last */
static int nopen;
static int joined_idx = -1; /* a joined group, for misuse */
static bool abandon_at_end;
static const tg_error_type *root_fail;

enum op {
	OP_OPEN,       /* policy/options byte */
	OP_SPAWN,      /* spec: into the innermost group */
	OP_SPAWN_AT,   /* index, spec: into an enclosing group */
	OP_CANCEL,     /* index */
	OP_JOIN,       /* body byte, then error-ops bytes (fz_exercise) */
	OP_JOIN_WRONG, /* body byte: join an outer group (TG_ESTATE) */
	OP_MISUSE,     /* which */
	OP_CHECKPOINT, /* tg_cancelled() in the body */
	OP_DEADLINE,   /* which */
	OP_REPEAT,     /* count, spec: spawn copies into the innermost */
	OP_ROOT_FAIL,  /* type: the root task's own error */
	OP_ABANDON,    /* leave open groups to the runtime at the end */
	OP_COUNT
};

static gfacts
group_facts(const group *gr)
{
	gfacts f = { false, false, false, false };
	int i;

	for (i = 0; i < gr->nspawned; i++)
		member_facts(gr->spawned[i], &f);
	return f;
}

/* Can the group at stack position pos be cancelled (by itself or an
 * enclosing group), given everything done so far? */
static bool
stack_may_cancel(int pos, const tg_error_type *body)
{
	int j;

	for (j = 0; j <= pos; j++) {
		const group *gr = &groups[stack[j]];
		gfacts f = group_facts(gr);

		if (gr->cancelled || gr->deadline ||
		    self_cancel(gr->policy, &f, j == pos ? body : NULL))
			return true;
	}
	return false;
}

/* Is the group at stack position pos surely cancelled (explicitly, or
 * a past deadline), itself or an enclosing one? */
static bool
stack_surely_cancelled(int pos)
{
	int j;

	for (j = 0; j <= pos; j++)
		if (groups[stack[j]].cancelled || groups[stack[j]].past)
			return true;
	return false;
}

static void
op_open(fz_in *in)
{
	unsigned b = fz_byte(in);
	tg_group_options o = { .policy = (int)(b % 3),
			       .name = (b & 8) ? "fuzz" : NULL,
			       .limit = (b & 16) ? (int)(b >> 5) % 3 + 1 : 0 };
	group *gr;
	int rc;

	if (nopen == MAX_OPEN || ngroups == MAX_GROUPS)
		return;
	gr = &groups[ngroups];
	memset(gr, 0, sizeof(*gr));
	rc = tg_group_init(&gr->g, &o);
	FZ_CHECK(rc == TG_OK, "tg_group_init: %s", tg_status_name(rc));
	gr->policy = o.policy;
	gr->limit = o.limit;
	gr->open = true;
	stack[nopen++] = ngroups++;
	/* A group opened inside a cancelled scope starts cancelled. */
	if (nopen >= 2 && stack_surely_cancelled(nopen - 2))
		FZ_CHECK(tg_cancelled(), "a group opened in a cancelled scope "
			 "is not cancelled");
}

static void
op_spawn(fz_in *in, int pos, int copies)
{
	group *gr;
	spec *s;
	bool surely, mc;
	int rc, c;
	size_t at = in->i;

	if (nopen == 0) {
		parse_spec(in, 0);
		return;
	}
	gr = &groups[stack[pos]];
	for (c = 0; c < copies; c++) {
		in->i = at; /* the same spec again */
		if (gr->nspawned == MAX_MEMBERS)
			return;
		s = parse_spec(in, 0);
		if (s == NULL)
			return;
		surely = stack_surely_cancelled(pos);
		mc = stack_may_cancel(pos, NULL);
		s->order = gr->nspawned;
		gr->spawned[gr->nspawned++] = s;
		rc = spawn_one(&gr->g, s, gr->limit, false,
			       (s->id & 1) != 0);
		/* The root is never a child of the group: no TG_EDEADLK. */
		FZ_CHECK(rc != TG_EDEADLK, "the owner got TG_EDEADLK");
		if (surely)
			FZ_CHECK(rc == TG_ESHUTTINGDOWN,
				 "spawn into a cancelled group: %s",
				 tg_status_name(rc));
		if (!mc)
			FZ_CHECK(rc == TG_OK, "spawn: %s", tg_status_name(rc));
	}
}

static void
op_cancel(fz_in *in)
{
	unsigned b = fz_byte(in);
	group *gr;

	if (nopen == 0)
		return;
	gr = &groups[stack[b % nopen]];
	FZ_CHECK(tg_group_cancel(&gr->g) == TG_OK, "tg_group_cancel");
	FZ_CHECK(tg_group_cancel(&gr->g) == TG_OK, "cancel is idempotent");
	gr->cancelled = true;
	FZ_CHECK(tg_cancelled(), "tg_cancelled() after cancelling a group of "
		 "the current scope chain");
}

static tg_error *
body_error(unsigned b)
{
	switch (b % 4) {
	case 0:
	case 1:
		return NULL;
	case 2:
		return TG_RAISE(&tg_CancelledError, "body cancelled");
	default:
		return TG_RAISE(fz_leaf_type(b >> 2), "body");
	}
}

static void
op_join(fz_in *in)
{
	group *gr;
	tg_error *body, *res;
	members m = { .n = 0 };
	join_case jc;
	bool mc, outer;
	int i, pos, rc;
	void *won;

	body = body_error(fz_byte(in));
	if (nopen == 0) {
		/* Nothing open: join a joined group, or NULL. */
		size_t w = body_weight(body);

		if (joined_idx >= 0) {
			check_join_usage(tg_group_join(&groups[joined_idx].g,
						       body),
					 TG_EFINISHED, w, "join twice");
		} else {
			check_join_usage(tg_group_join(NULL, body), TG_EINVAL,
					 w, "join NULL");
		}
		return;
	}
	pos = nopen - 1;
	gr = &groups[stack[pos]];
	outer = pos > 0 && stack_may_cancel(pos - 1, NULL);
	mc = stack_may_cancel(pos, tg_error_type_of(body)) ||
	     (body != NULL && fz_has_fatal(body));
	jc = (join_case){
		.where = "join",
		.policy = gr->policy,
		.body = body,
		.body_w = fz_is_bare_cancel(body) ? 0 : fz_weight(body),
		.body_cancel = fz_is_bare_cancel(body),
		.body_fatal = fz_has_fatal(body),
		.outer_quiet = !outer,
		.deadline = gr->deadline,
		.own_cancel = gr->cancelled || group_facts(gr).cancel_own ||
			      gr->deadline,
	};
	res = tg_group_join(&gr->g, body);
	if (trace) {
		fprintf(stderr, "fuzz_api: join of group %d (policy %d):\n",
			(int)(gr - groups), gr->policy);
		if (res != NULL)
			tg_error_print(res, stderr);
		else
			fprintf(stderr, "  NULL\n");
	}
	nopen--;
	gr->open = false;
	joined_idx = (int)(gr - groups);
	for (i = 0; i < gr->nspawned; i++)
		add_member(&m, gr->spawned[i]);
	check_join(&jc, &m, res);
	for (i = 0; i < gr->nspawned; i++)
		validate(gr->spawned[i], mc);
	if (gr->past)
		FZ_CHECK(tg_group_expired(&gr->g), "past deadline not expired");
	if (!gr->deadline)
		FZ_CHECK(!tg_group_expired(&gr->g), "expired without a deadline");
	FZ_CHECK((tg_group_deadline(&gr->g) != TG_DEADLINE_NONE) ==
			 gr->has_deadline,
		 "a joined group reads its last deadline (or none)");
	won = NULL;
	rc = tg_group_winner(&gr->g, &won);
	if (gr->policy == TG_POLICY_FIRST_SUCCESS) {
		tally t;

		tally_members(gr->policy, &m, &t);
		FZ_CHECK(!t.won || rc == TG_OK,
			 "a child succeeded but tg_group_winner says %s",
			 tg_status_name(rc));
	}
	if (gr->policy == TG_POLICY_FIRST_SUCCESS && rc == TG_OK) {
		spec *w = won;

		FZ_CHECK(w != NULL && w->group == &gr->g && returned_success(w) &&
				 atomic_load(&w->runs) == 1,
			 "the winner is not a child of this group that "
			 "returned NULL");
	} else {
		FZ_CHECK(rc == (gr->policy == TG_POLICY_FIRST_SUCCESS
					? TG_ENOENT
					: TG_ESTATE),
			 "tg_group_winner: %s", tg_status_name(rc));
	}
	/* The join is over: every later operation on the handle is the
	 * joined-handle kind. */
	fz_exercise(res, in);
	tg_error_decref(res);
	FZ_CHECK(tg_group_cancel(&gr->g) == TG_OK, "cancel after join");
	FZ_CHECK(tg_spawn(&gr->g, noop, NULL) == TG_EFINISHED,
		 "spawn after join");
}

static void
op_join_wrong(fz_in *in)
{
	tg_error *body = body_error(fz_byte(in));
	tg_error *res;
	size_t w;

	if (nopen < 2) {
		tg_error_decref(body);
		return;
	}
	w = body_weight(body);
	res = tg_group_join(&groups[stack[0]].g, body);
	check_join_usage(res, TG_ESTATE, w, "join out of nesting order");
}

static void
op_misuse(fz_in *in)
{
	unsigned b = fz_byte(in);
	tg_group zero;
	tg_group_options bad = { .policy = 3 + (int)(b >> 4) };
	tg_task_info info;
	tg_group *top = nopen != 0 ? &groups[stack[nopen - 1]].g : NULL;
	int rc;

	memset(&zero, 0, sizeof(zero));
	switch (b % 12) {
	case 0:
		FZ_CHECK(tg_group_init(NULL, NULL) == TG_EINVAL, "init NULL");
		break;
	case 1:
		FZ_CHECK(tg_group_init(&zero, &bad) == TG_EINVAL, "bad policy");
		bad.policy = 0;
		bad.limit = -1 - (int)(b >> 4);
		FZ_CHECK(tg_group_init(&zero, &bad) == TG_EINVAL, "bad limit");
		break;
	case 2:
		FZ_CHECK(tg_spawn(NULL, noop, NULL) == TG_EINVAL, "spawn NULL");
		FZ_CHECK(tg_spawn(&zero, noop, NULL) == TG_EINVAL,
			 "spawn uninitialised");
		if (top != NULL)
			FZ_CHECK(tg_spawn(top, NULL, NULL) == TG_EINVAL,
				 "spawn NULL fn");
		break;
	case 3:
		FZ_CHECK(tg_group_cancel(NULL) == TG_EINVAL, "cancel NULL");
		FZ_CHECK(tg_group_cancel(&zero) == TG_EINVAL,
			 "cancel uninitialised");
		break;
	case 4: {
		tg_error *body = body_error(b >> 4);
		size_t w = body_weight(body);

		check_join_usage(tg_group_join(&zero, body), TG_EINVAL, w,
				 "join uninitialised");
		break;
	}
	case 5:
		if (joined_idx >= 0) {
			group *gr = &groups[joined_idx];

			FZ_CHECK(tg_spawn(&gr->g, noop, NULL) == TG_EFINISHED,
				 "spawn after join");
			check_usage(tg_group_join(&gr->g, NULL), TG_EFINISHED,
				    "join twice");
			FZ_CHECK(tg_group_set_deadline(&gr->g, 0) ==
					 TG_EFINISHED,
				 "deadline after join");
		}
		break;
	case 6:
		check_usage(tg_runner_run(runner, noop, NULL), TG_EDEADLK,
			    "tg_runner_run from the root task");
		check_usage(tg_runner_run(NULL, noop, NULL), TG_EINVAL,
			    "tg_runner_run NULL");
		break;
	case 7:
		rc = tg_runner_destroy(runner);
		FZ_CHECK(rc == TG_EDEADLK || rc == TG_EBUSY,
			 "destroy from a task: %d", rc);
		break;
	case 8:
		FZ_CHECK(tg_current_task(NULL) == TG_EINVAL, "current_task NULL");
		FZ_CHECK(tg_current_task(&info) == TG_OK && info.parent_id == 0,
			 "the root task has no parent");
		break;
	case 9:
		FZ_CHECK(tg_group_set_deadline(NULL, 0) == TG_EINVAL &&
				 tg_group_set_deadline(&zero, 0) == TG_EINVAL,
			 "deadline on NULL / uninitialised");
		if (top != NULL && !groups[stack[nopen - 1]].deadline)
			/* A negative timeout is accepted (already expired,
			 * as asyncio's timeout(-1)): not tried here. */
			FZ_CHECK(tg_group_set_deadline(top, -1) == TG_EINVAL &&
					 tg_group_set_timeout(top, INT64_MAX) ==
						 TG_EINVAL,
				 "bad deadlines");
		break;
	case 10: {
		void *arg = NULL;

		FZ_CHECK(tg_group_winner(NULL, &arg) == TG_EINVAL &&
				 tg_group_winner(&zero, &arg) == TG_EINVAL,
			 "winner of NULL / uninitialised");
		if (top != NULL)
			FZ_CHECK(tg_group_winner(top, &arg) == TG_ESTATE &&
					 tg_group_winner(top, NULL) == TG_EINVAL,
				 "winner before join");
		break;
	}
	default:
		FZ_CHECK(tg_try_spawn(NULL, noop, NULL) == TG_EINVAL,
			 "try_spawn NULL");
		FZ_CHECK(!tg_group_expired(NULL) &&
				 tg_group_deadline(NULL) == TG_DEADLINE_NONE,
			 "deadline readers on NULL");
		break;
	}
}

static void
op_checkpoint(void)
{
	bool c = tg_cancelled();
	tg_error *e;

	if (nopen == 0) {
		FZ_CHECK(!c, "the root scope is never cancelled here");
		return;
	}
	if (stack_surely_cancelled(nopen - 1))
		FZ_CHECK(c, "tg_cancelled() false in a cancelled group");
	if (!stack_may_cancel(nopen - 1, NULL))
		FZ_CHECK(!c, "tg_cancelled() true, but nothing could cancel");
	e = tg_checkpoint_at(__FILE__, __LINE__, __func__);
	if (e != NULL) {
		FZ_CHECK(tg_error_is(e, &tg_CancelledError), "checkpoint error");
		tg_error_decref(e);
	}
}

static void
op_deadline(fz_in *in)
{
	unsigned b = fz_byte(in);
	group *gr;
	int64_t far = tg_now_ns() + INT64_C(3600) * 1000000000;
	int rc;

	if (nopen == 0)
		return;
	gr = &groups[stack[nopen - 1]];
	switch (b % 4) {
	case 0: /* already past: cancels at once */
		rc = tg_group_set_deadline(&gr->g, (int64_t)(b >> 2));
		FZ_CHECK(rc == TG_OK || (gr->deadline && rc == TG_ESTATE),
			 "past deadline: %s", tg_status_name(rc));
		if (rc == TG_OK)
			gr->has_deadline = true;
		gr->deadline = gr->past = true;
		FZ_CHECK(tg_cancelled(), "past deadline did not cancel");
		break;
	case 1: /* soon: may fire before the join or not */
		rc = tg_group_set_timeout(&gr->g, (int64_t)(b >> 2) * 1000);
		FZ_CHECK(rc == TG_OK || (gr->deadline && rc == TG_ESTATE),
			 "short timeout: %s", tg_status_name(rc));
		if (rc == TG_OK)
			gr->has_deadline = true;
		gr->deadline = true;
		break;
	case 2: /* an hour away: never fires */
		rc = tg_group_set_deadline(&gr->g, far);
		FZ_CHECK(rc == TG_OK || (gr->deadline && rc == TG_ESTATE),
			 "far deadline: %s", tg_status_name(rc));
		if (rc == TG_OK) {
			gr->has_deadline = true;
			FZ_CHECK(tg_group_deadline(&gr->g) == far,
				 "deadline read back");
		}
		break;
	default: /* removed */
		rc = tg_group_set_deadline(&gr->g, TG_DEADLINE_NONE);
		FZ_CHECK(rc == TG_OK || (gr->deadline && rc == TG_ESTATE),
			 "no deadline: %s", tg_status_name(rc));
		if (rc == TG_OK) {
			gr->has_deadline = false;
			FZ_CHECK(tg_group_deadline(&gr->g) == TG_DEADLINE_NONE,
				 "deadline removed");
		}
		break;
	}
}

typedef struct program {
	fz_in in;
	size_t abandoned_w; /* expected weight of the run's result */
	bool abandoned_fatal;
	bool abandon_mc;
} program;

static tg_error *
root(void *arg)
{
	program *p = arg;
	fz_in *in = &p->in;
	int steps = 0;

	static const char *const names[OP_COUNT] = {
		"open", "spawn", "spawn_at", "cancel", "join", "join_wrong",
		"misuse", "checkpoint", "deadline", "repeat", "root_fail",
		"abandon"
	};

	while (fz_more(in) && steps++ < MAX_STEPS) {
		unsigned op = fz_byte(in) % OP_COUNT;

		TRACE("fuzz_api: %s (%d open, %d specs)\n", names[op], nopen,
		      nspecs);
		switch (op) {
		case OP_OPEN:
			op_open(in);
			break;
		case OP_SPAWN:
			op_spawn(in, nopen - 1, 1);
			break;
		case OP_SPAWN_AT: {
			unsigned b = fz_byte(in);

			op_spawn(in, nopen != 0 ? (int)(b % nopen) : 0, 1);
			break;
		}
		case OP_CANCEL:
			op_cancel(in);
			break;
		case OP_JOIN:
			op_join(in);
			break;
		case OP_JOIN_WRONG:
			op_join_wrong(in);
			break;
		case OP_MISUSE:
			op_misuse(in);
			break;
		case OP_CHECKPOINT:
			op_checkpoint();
			break;
		case OP_DEADLINE:
			op_deadline(in);
			break;
		case OP_REPEAT: {
			unsigned b = fz_byte(in);

			op_spawn(in, nopen - 1, (int)(b % 8) + 1);
			break;
		}
		case OP_ROOT_FAIL:
			root_fail = parse_fail(in);
			break;
		case OP_ABANDON:
			abandon_at_end = true;
			break;
		}
	}
	if (!abandon_at_end) {
		while (nopen != 0) {
			static const uint8_t none[1] = { 0 };
			fz_in quiet = { none, 0, 0 };
			fz_in save = *in;

			/* Joined with no body error and no error operations. */
			*in = quiet;
			op_join(in);
			*in = save;
		}
	}
	return root_fail != NULL ? TG_RAISE(root_fail, "root") : NULL;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	tg_runner_config cfg = { .threads = THREADS };

	(void)argc;
	(void)argv;
	trace = getenv("FZ_TRACE") != NULL && *getenv("FZ_TRACE") != '0';
	if (tg_runner_create(&runner, &cfg) != TG_OK) {
		fprintf(stderr, "fuzz_api: cannot create the runner\n");
		abort();
	}
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	program p = { .in = { data, size, 0 } };
	tg_error *res;
	size_t want_w = 0, got_w, timeouts = 0;
	int i, j;

	nspecs = 0;
	ngroups = 0;
	nopen = 0;
	joined_idx = -1;
	abandon_at_end = false;
	root_fail = NULL;

	res = tg_runner_run(runner, root, &p);
	if (trace && res != NULL) {
		fprintf(stderr, "fuzz_api: the run returned:\n");
		tg_error_print(res, stderr);
	}

	/* Groups left open: the runtime joined them as the root returned,
	 * innermost first; each adds its errors and one RuntimeError. */
	for (i = 0; i < nopen; i++) {
		group *gr = &groups[stack[i]];
		members m = { .n = 0 };
		tally t;

		for (j = 0; j < gr->nspawned; j++)
			add_member(&m, gr->spawned[j]);
		tally_members(gr->policy, &m, &t);
		want_w += t.w;
		want_w += 1;
		/* With nothing failed, a deadline gives a TimeoutError, or a
		 * CancelledError if an enclosing group was cancelled. */
		if (t.nkept == 0 && gr->deadline)
			timeouts++;
		for (j = 0; j < gr->nspawned; j++)
			validate(gr->spawned[j], stack_may_cancel(i, NULL));
	}
	if (root_fail != NULL && !type_cancel(root_fail))
		want_w += 1;
	got_w = fz_weight(res);
	FZ_CHECK(got_w >= want_w && got_w <= want_w + timeouts,
		 "run result weighs %zu, expected %zu (+ up to %zu timeouts; "
		 "%d groups left open)", got_w, want_w, timeouts, nopen);
	if (nopen == 0 && root_fail == NULL)
		FZ_CHECK(res == NULL, "run result");
	tg_error_decref(res);
	return 0;
}
