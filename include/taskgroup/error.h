/*
 * taskgroup/error.h - errors and error groups (Python's exceptions,
 * ExceptionGroup, except* and PEP 678 notes, in C).
 *
 * A task returns NULL for success or a tg_error * it hands over.  Errors are
 * reference counted and immutable once shared: the only in-place changes
 * (notes, cause) are allowed while the caller holds the only reference.
 * Errors never point back at tasks or groups, and a cause or child can never
 * contain its parent, so no cycle can form.
 *
 * Out of memory never loses an error without counting it and never
 * crashes: a function that has to allocate and cannot returns (or records)
 * the preallocated MemoryError (tg_error_oom()), which is immortal:
 * incref/decref on it do nothing; a group node that cannot be allocated is
 * replaced by a stand-in whose MemoryError counts the errors it had to
 * release (tg_error_lost_count).
 *
 * Depth: every operation on a tree (release, split, subgroup, except*,
 * leaf iteration, the cause check, printing, JSON) runs in bounded C
 * stack however deep the tree is, so a tree is as deep as memory allows,
 * on any thread's stack.  Deep trees cost the walks some heap (one item
 * per level past the first few); when that cannot be had, each function
 * below says what it does.
 *
 * Ownership words used below:
 *   "consumes e"   the callee takes over the caller's reference to e;
 *   "new reference" the caller must tg_error_decref the result;
 *   "borrowed"     valid while the caller keeps its reference to the parent.
 */
#ifndef TASKGROUP_ERROR_H
#define TASKGROUP_ERROR_H

#include <stdbool.h>
#include <stdio.h>

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tg_error tg_error;

/* ------------------------------------------------------------------ */
/* Types                                                                */

/* Type flags.  FATAL: the Ctrl-C kind (Python's BaseException that is not
 * an Exception).  CANCEL: a cancellation, never kept as a leaf in a group.
 * GROUP: instances are group nodes. */
enum {
	TG_ERROR_TYPE_FATAL = 1u << 0,
	TG_ERROR_TYPE_CANCEL = 1u << 1,
	TG_ERROR_TYPE_GROUP = 1u << 2
};

/*
 * An error type is a static descriptor; its address is its identity.  base
 * is the parent type (NULL only for tg_BaseException); also is an optional
 * second base (ExceptionGroup is both a BaseExceptionGroup and an
 * Exception, as in Python).  Matching a type matches its subtypes.
 */
typedef struct tg_error_type {
	const char *name;
	const struct tg_error_type *base;
	const struct tg_error_type *also;
	unsigned flags;
} tg_error_type;

/* Define a user type:  TG_DEFINE_ERROR_TYPE(my_ParseError, "ParseError",
 * &tg_ValueError);  and declare it in a header with
 * TG_DECLARE_ERROR_TYPE(my_ParseError). */
#define TG_DEFINE_ERROR_TYPE(ident, name_str, base_type)                     \
	const tg_error_type ident = { (name_str), (base_type), NULL, 0u }
#define TG_DECLARE_ERROR_TYPE(ident) extern const tg_error_type ident

/* Built-in types, named as in Python. */
TG_API extern const tg_error_type tg_BaseException;  /* root */
TG_API extern const tg_error_type tg_Exception;      /* ordinary errors */
TG_API extern const tg_error_type tg_ValueError;
TG_API extern const tg_error_type tg_TypeError;
TG_API extern const tg_error_type tg_RuntimeError;
TG_API extern const tg_error_type tg_NotImplementedError; /* RuntimeError */
TG_API extern const tg_error_type tg_MemoryError;
TG_API extern const tg_error_type tg_UnicodeError;        /* ValueError */
TG_API extern const tg_error_type tg_UnicodeDecodeError;  /* UnicodeError */
TG_API extern const tg_error_type tg_OSError;
/* PEP 3151 subtypes of OSError, chosen by errno in tg_error_from_errno. */
TG_API extern const tg_error_type tg_BlockingIOError;     /* EAGAIN ... */
TG_API extern const tg_error_type tg_ChildProcessError;   /* ECHILD */
TG_API extern const tg_error_type tg_ConnectionError;
TG_API extern const tg_error_type tg_BrokenPipeError;     /* EPIPE, ESHUTDOWN */
TG_API extern const tg_error_type tg_ConnectionAbortedError;
TG_API extern const tg_error_type tg_ConnectionRefusedError;
TG_API extern const tg_error_type tg_ConnectionResetError;
TG_API extern const tg_error_type tg_FileExistsError;     /* EEXIST */
TG_API extern const tg_error_type tg_FileNotFoundError;   /* ENOENT */
TG_API extern const tg_error_type tg_InterruptedError;    /* EINTR */
TG_API extern const tg_error_type tg_IsADirectoryError;   /* EISDIR */
TG_API extern const tg_error_type tg_NotADirectoryError;  /* ENOTDIR */
TG_API extern const tg_error_type tg_PermissionError;     /* EACCES, EPERM */
TG_API extern const tg_error_type tg_ProcessLookupError;  /* ESRCH */
TG_API extern const tg_error_type tg_TimeoutError;        /* ETIMEDOUT */
/* Outside the ordinary hierarchy (base tg_BaseException), as in Python 3.8+. */
TG_API extern const tg_error_type tg_CancelledError;      /* CANCEL */
TG_API extern const tg_error_type tg_BrokenBarrierError;  /* RuntimeError */
TG_API extern const tg_error_type tg_Interrupt;           /* FATAL (Ctrl-C) */
/* Group nodes. */
TG_API extern const tg_error_type tg_BaseExceptionGroup;  /* GROUP */
TG_API extern const tg_error_type tg_ExceptionGroup;      /* GROUP */

/* True if t is base or derives from it (through base or also).  NULL
 * arguments give false.  Thread-safe. */
TG_API bool tg_error_type_is(const tg_error_type *t, const tg_error_type *base);

/* ------------------------------------------------------------------ */
/* Creating errors                                                      */

/*
 * A new leaf error of `type` with a printf-formatted message, recording
 * where it was raised and, when called from a task, the task's provenance
 * (id, name, worker, spawn chain).  code is an errno value or a user code
 * (0 for none).  Returns a new reference; never NULL: on out-of-memory, or
 * if type is NULL or a GROUP type, it returns tg_error_oom() or a
 * TypeError respectively.  Thread-safe.
 */
TG_API tg_error *tg_error_new_at(const tg_error_type *type, int code,
				 const char *file, int line, const char *func,
				 const char *fmt, ...) TG_PRINTF(6, 7);

/* Python's `raise T("...")`: TG_RAISE(&tg_ValueError, "bad %d", x) */
#define TG_RAISE(type, ...)                                                  \
	tg_error_new_at((type), 0, __FILE__, __LINE__, __func__, __VA_ARGS__)
#define TG_RAISE_CODE(type, code, ...)                                       \
	tg_error_new_at((type), (code), __FILE__, __LINE__, __func__,        \
			__VA_ARGS__)

/*
 * An OSError whose subtype follows errnum as PEP 3151 does (ENOENT gives
 * FileNotFoundError, EACCES PermissionError, ...); the message is
 * "[Errno N] strerror(N): <formatted text>", and code is errnum.  Same
 * return rules as tg_error_new_at.
 */
TG_API tg_error *tg_error_from_errno_at(int errnum, const char *file, int line,
					const char *func, const char *fmt, ...)
	TG_PRINTF(5, 6);
#define tg_error_from_errno(errnum, ...)                                     \
	tg_error_from_errno_at((errnum), __FILE__, __LINE__, __func__,       \
			       __VA_ARGS__)

/* The subtype tg_error_from_errno would pick for errnum (tg_OSError when
 * none is specific).  Thread-safe. */
TG_API const tg_error_type *tg_error_type_for_errno(int errnum);

/*
 * A group node (Python's ExceptionGroup(message, children)).  Consumes the
 * n references in children (the array itself stays the caller's).  The
 * node's type is tg_ExceptionGroup, or tg_BaseExceptionGroup when a child
 * is not an Exception (FATAL, a CancelledError or a BaseExceptionGroup), as
 * Python's BaseExceptionGroup constructor picks.  Returns a new reference,
 * or NULL (and
 * consumes nothing) if message is NULL, n is 0, children is NULL or holds
 * NULL.  On out-of-memory a stand-in from a static reserve takes the
 * node's place: the first 31 children (non-Exceptions first) and a
 * MemoryError that counts and names the ones released
 * (tg_error_lost_count; docs/errors.md, "Out of memory").  With all 16
 * slots in use: a single child comes back as it is (not grouped); several
 * go into a child stand-in nobody else holds, or are released and counted
 * (tg_error_lost_untracked).  Thread-safe.
 */
TG_API tg_error *tg_error_group_new(const char *message, size_t n,
				    tg_error **children);

/*
 * The same with a code on the group node (an errno value or your own; 0
 * for none), as a leaf takes one from TG_RAISE_CODE: tg_error_code reads
 * it, the JSON writes it, and the parts that split, subgroup and except*
 * rebuild from the node keep it, as they keep its notes.  The
 * out-of-memory stand-in carries it too; with all 16 reserve slots in use
 * (the children come back ungrouped, or folded into a child stand-in),
 * there is no node of its own to carry it.  Same arguments, ownership and
 * results as tg_error_group_new.  Thread-safe.
 */
TG_API tg_error *tg_error_group_new_code(const char *message, int code,
					 size_t n, tg_error **children);

/* The preallocated MemoryError.  Immortal.  It stands for one error
 * (tg_error_lost_count gives 1).  Thread-safe. */
TG_API tg_error *tg_error_oom(void);

/* ------------------------------------------------------------------ */
/* Reference counting                                                   */

/* Adds a reference and returns e.  NULL-safe.  Thread-safe. */
TG_API tg_error *tg_error_incref(tg_error *e);
/* Drops a reference; frees the node (and releases its children, cause and
 * context) when it was the last.  Needs no memory and no stack however
 * deep the tree.  NULL-safe.  Thread-safe. */
TG_API void tg_error_decref(tg_error *e);

/* ------------------------------------------------------------------ */
/* Changing an error you own                                            */

/*
 * PEP 678: appends a printf-formatted note.  Allowed only while e has a
 * single reference (the caller's): a shared error is immutable.
 * Returns TG_OK, TG_EINVAL (NULL), TG_ESTATE (shared, or the immortal
 * MemoryError), TG_ENOMEM (the error is unchanged).
 */
TG_API int tg_error_add_note(tg_error *e, const char *fmt, ...) TG_PRINTF(2, 3);

/*
 * Copy-on-write form: returns an error equal to e with the note added,
 * consuming e.  If e is unshared it is changed in place and returned;
 * otherwise a shallow copy (sharing children, cause and context) is made.
 * On out-of-memory returns e unchanged.  NULL gives NULL.
 */
TG_API tg_error *tg_error_with_note(tg_error *e, const char *fmt, ...)
	TG_PRINTF(2, 3);

/*
 * Python's `raise e from cause`: sets e's cause, consuming cause (also on
 * failure).  Printing shows the cause first, then "The above exception was
 * the direct cause of the following exception:".  Same ownership rule as
 * add_note.  Returns TG_OK, TG_EINVAL (NULL e, or cause would make a cycle),
 * TG_ESTATE (e shared), TG_ENOMEM (cause is deeper than the cycle check
 * can walk without memory, and none could be had; e is unchanged).
 */
TG_API int tg_error_set_cause(tg_error *e, tg_error *cause);

/* ------------------------------------------------------------------ */
/* Reading                                                              */

/* All readers are thread-safe on errors nobody is changing, and NULL-safe
 * (NULL/0/false for a NULL error). */
TG_API const tg_error_type *tg_error_type_of(const tg_error *e);
TG_API const char *tg_error_message(const tg_error *e);
TG_API int tg_error_code(const tg_error *e);
/* e's type is type or a subtype of it (isinstance). */
TG_API bool tg_error_is(const tg_error *e, const tg_error_type *type);
TG_API bool tg_error_is_group(const tg_error *e);
/* Children of a group node (0 for a leaf); child i is borrowed. */
TG_API size_t tg_error_count(const tg_error *e);
TG_API tg_error *tg_error_child(const tg_error *e, size_t i);
/* Leaves below e (1 for a leaf). */
TG_API size_t tg_error_leaf_count(const tg_error *e);

/*
 * Counted losses.  When memory runs out the library substitutes
 * "stand-ins", MemoryError leaves that say how many errors they stand for:
 * the preallocated MemoryError (tg_error_oom(): one error, the one that
 * could not be made), and the marker that ends a stand-in group's children
 * (the errors it had to release to fit, naming the first few of them,
 * with their tasks, in tg_error_print and the JSON).
 *
 * tg_error_lost_count: the errors e's tree stands for without holding
 * them: for a stand-in, its count; for a group, the sum over its children
 * (cached: O(1)); 0 for any other leaf (including a MemoryError you raise
 * yourself) and for NULL.  Causes and contexts are not included, as in
 * tg_error_leaf_count.  A noted copy of a stand-in (tg_error_with_note)
 * keeps its count but not the names.
 *
 * tg_error_kept_count: the leaves of e that are not stand-ins (O(1)).  So
 * for a join's result, tg_error_kept_count + tg_error_lost_count is the
 * number of errors its tasks raised (docs/errors.md, "Out of memory").
 *
 * Thread-safe on errors nobody is changing, as the other readers.
 */
TG_API size_t tg_error_lost_count(const tg_error *e);
TG_API size_t tg_error_kept_count(const tg_error *e);

/*
 * Errors released that no tree counts, since the process started: when
 * all 16 reserve slots are in use at once and no child can take the
 * others in, a group's children are released and the preallocated
 * MemoryError (counted as one) stands in; the others are counted here.
 * Also a misuse report's attached error, when even its report cannot be
 * kept.  Never decreases.  Thread-safe (a relaxed atomic read).
 */
TG_API uint64_t tg_error_lost_untracked(void);
TG_API size_t tg_error_note_count(const tg_error *e);
TG_API const char *tg_error_note(const tg_error *e, size_t i);
/* Borrowed; NULL when none. */
TG_API tg_error *tg_error_cause(const tg_error *e);
/* Errors that were pending when a fatal error ended a group (Python's
 * __context__ in spirit): borrowed, NULL when none. */
TG_API tg_error *tg_error_context(const tg_error *e);

/* Where the error was raised (TG_RAISE's file, line and function). */
typedef struct tg_error_origin {
	const char *file;
	int line;
	const char *func;
} tg_error_origin;
TG_API tg_error_origin tg_error_origin_of(const tg_error *e);

/* One step of an async stack trace: the site of a tg_spawn and the task it
 * created. */
typedef struct tg_spawn_site {
	const char *file;
	int line;
	const char *func;
	uint64_t task_id;
	const char *task_name; /* NULL when unnamed */
} tg_spawn_site;

/* The task that raised e: id (0 when raised outside any task), name,
 * worker index (-1 outside a pool, and for a NULL error) and the chain of spawn sites from that
 * task up to the root (chain[0] is the raising task's own spawn site).
 * Pointers are borrowed from e. */
typedef struct tg_error_provenance {
	uint64_t task_id;
	const char *task_name;
	int worker;
	size_t depth;
	const tg_spawn_site *chain;
} tg_error_provenance;
TG_API tg_error_provenance tg_error_provenance_of(const tg_error *e);

/*
 * Leaf iteration, depth first, in child order.  Calls fn(leaf, ctx) for
 * each leaf (a leaf passed as e is its own only leaf); stops early and
 * returns fn's value when it is non-zero; returns 0 otherwise.  Out of
 * memory (a tree deeper than its walk can follow without the heap) it
 * still visits every leaf, in the same order, finding each from the root
 * (depth times width steps per leaf).
 */
TG_API int tg_error_foreach_leaf(const tg_error *e,
				 int (*fn)(tg_error *leaf, void *ctx), void *ctx);

/* ------------------------------------------------------------------ */
/* Split, subgroup, except*                                             */

typedef bool (*tg_error_pred)(const tg_error *e, void *ctx);

/*
 * Python's eg.split(T): *match gets the part of e whose nodes match type
 * (including subtypes), *rest the part that does not, each a new reference
 * or NULL when empty (never an empty group).  The matcher is tried on every
 * node, groups included; a node that matches is taken whole (the same
 * node, as CPython does).  Other group nodes on the way are rebuilt with the
 * original's message, code, notes (copied), cause, context, origin and
 * provenance; the type is picked as tg_error_group_new does, so a
 * BaseExceptionGroup part holding only Exceptions becomes an ExceptionGroup
 * (CPython's derive).  Leaves are shared.  e itself is not consumed.
 * Any depth: the walk keeps its groups in progress on the heap past the
 * first 16 levels.  Returns TG_OK, TG_EINVAL (NULL e, type, match or
 * rest), TG_ENOMEM (both outputs NULL, nothing leaked; also when the
 * walk's stack cannot grow).
 */
TG_API int tg_error_split(const tg_error *e, const tg_error_type *type,
			  tg_error **match, tg_error **rest);
/* The same with a predicate, called on every node visited. */
TG_API int tg_error_split_pred(const tg_error *e, tg_error_pred pred,
			       void *ctx, tg_error **match, tg_error **rest);
/* split without building rest: a new reference or NULL.  NULL also when
 * memory runs out or an argument is NULL (then *status, if given, is
 * TG_ENOMEM or TG_EINVAL; else TG_OK). */
TG_API tg_error *tg_error_subgroup(const tg_error *e,
				   const tg_error_type *type, int *status);
TG_API tg_error *tg_error_subgroup_pred(const tg_error *e, tg_error_pred pred,
					void *ctx, int *status);

/*
 * Leaving a block early.  With GCC and clang (TG_AUTO_CLEANUP is 1) the
 * macros below give their variables __attribute__((cleanup)), so that
 * break, continue, return and goto cannot leak what they hold: the
 * cleanup releases it when the variable goes out of scope.  Other
 * compilers, or a program built with -DTG_NO_AUTO_CLEANUP, get plain C11
 * (TG_AUTO_CLEANUP is 0): each macro then says which call releases what
 * before an early exit.
 */
#if !defined(TG_NO_AUTO_CLEANUP) && (defined(__GNUC__) || defined(__clang__))
#define TG_AUTO_CLEANUP 1
#define TG__CLEANUP(fn) __attribute__((cleanup(fn)))
#else
#define TG_AUTO_CLEANUP 0
#define TG__CLEANUP(fn)
#endif

/* TG_EXCEPT_STAR's cleanup: releases the variable's error. */
static inline void
tg__error_release_var(tg_error **e)
{
	tg_error_decref(*e);
}

/*
 * One except* clause, on its own:
 *
 *     TG_EXCEPT_STAR(&err, &tg_UnicodeDecodeError, eg) {
 *         ... eg is a group holding the matching leaves ...
 *     }
 *     TG_EXCEPT_STAR(&err, &tg_OSError, eg) { ... }
 *     if (err) { tg_error_print(err, stderr); ... }  // the unhandled rest
 *
 * Runs its block once if *errp has leaves of type (or subtypes), with eg
 * bound to them (a group; a bare matching error is wrapped in a group, as
 * except* does) and *errp replaced by the rest (NULL when nothing is left).
 * eg is released when the block ends, also by break, continue, return
 * or goto when TG_AUTO_CLEANUP is 1; without it, a block left by break,
 * return or goto must tg_error_decref(eg) first.  A block cannot re-raise
 * or raise: the except* statement below can.  Under memory exhaustion the
 * block does not run and *errp is unchanged.  (The block is the body of a
 * for loop: break and continue end the block, not a loop around it.)
 */
#define TG_EXCEPT_STAR(errp, type, eg)                                       \
	for (tg_error *eg TG__CLEANUP(tg__error_release_var) =               \
		     tg_error_except_star_take((errp), (type));              \
	     eg != NULL; tg_error_decref(eg), eg = NULL)

/* The function behind TG_EXCEPT_STAR: the matching part as a group (new
 * reference) or NULL; *errp becomes the rest.  NULL errp, *errp or type,
 * or a group type (tg_ExceptionGroup, tg_BaseExceptionGroup or a type
 * derived from them: Python refuses except* on group types), gives NULL
 * and leaves *errp unchanged.  Thread-safe as split is. */
TG_API tg_error *tg_error_except_star_take(tg_error **errp,
					   const tg_error_type *type);

/*
 * The except* statement: Python's
 *
 *     try:
 *         ...                              # err
 *     except* (TypeError, ValueError) as eg:
 *         raise                            # re-raise what eg holds
 *     except* OSError as eg:
 *         raise RuntimeError("io") from eg # a new error, caused by eg
 *     except* KeyError:
 *         pass                             # handled
 *
 * is, in C:
 *
 *     TG_EXCEPT_STAR_BEGIN(st, err);       // consumes err
 *     TG_EXCEPT_STAR_CLAUSE(&st, eg, &tg_TypeError, &tg_ValueError) {
 *         tg_except_star_reraise(&st);
 *     }
 *     TG_EXCEPT_STAR_CLAUSE(&st, eg, &tg_OSError) {
 *         tg_except_star_raise_from(&st, TG_RAISE(&tg_RuntimeError, "io"),
 *                                   tg_error_incref(eg));
 *     }
 *     TG_EXCEPT_STAR_CLAUSE(&st, eg, &my_KeyError) {
 *         (void)eg;                         // handled
 *     }
 *     err = tg_except_star_end(&st);       // what propagates, or NULL
 *
 * The result is what CPython 3.11.4+ propagates for the same tree and
 * clauses (Objects/exceptions.c, _PyExc_PrepReraiseStar):
 *  - each clause runs at most once, in order, on what the clauses before
 *    it left (the first clause that matches a leaf takes it); its eg is
 *    the matching part (tg_error_split with the clause's types; a bare
 *    matching error is wrapped in ExceptionGroup("", [e])); a clause
 *    that matches nothing does not run;
 *  - what no clause matched and what the clauses re-raised
 *    (tg_except_star_reraise, Python's bare raise) go back together in
 *    the original tree's shape and order: the subgroup of err holding
 *    exactly those leaves (recognised by identity), each rebuilt node
 *    with its original's message, code, notes, cause and context; a
 *    node all of whose leaves are kept is the node itself (CPython
 *    rebuilds it: equal, not the same pointer), so when nothing was
 *    handled the result is err itself;
 *  - errors the clauses raise (tg_except_star_raise, Python's raise E;
 *    also raising eg itself, which Python's raise e does) propagate as
 *    they are, each with its clause's eg as context (see
 *    tg_except_star_raise): one raised error and nothing kept gives that
 *    error itself; otherwise ExceptionGroup("", [raised..., kept part])
 *    (a BaseExceptionGroup when one is not an Exception), as CPython
 *    builds it since 3.11.4 (gh-103590; 3.11.0-3.11.3 wrapped a single
 *    raised error too);
 *  - nothing raised and nothing kept gives NULL.
 * A clause naming a group type (or none) fails the statement as Python's
 * TypeError does: neither it nor later clauses run, what earlier clauses
 * raised is released, and end returns a TypeError (code TG_EINVAL)
 * whose context is err.  Out of memory (docs/errors.md, "Out of
 * memory"): no error the result should hold is dropped (a clause that
 * cannot be matched leaves more unhandled, never fewer), though the
 * shape may be flatter; a TG_RAISE that cannot allocate raises the
 * preallocated MemoryError, which counts one error.
 *
 * Leaving early.  A clause's eg is borrowed from the statement: break,
 * continue or a goto that stays within st's scope leaves nothing behind
 * (the next clause, or end, closes the clause as if it had ended; its
 * re-raise and raises so far stand).  Leaving st's scope (return, goto
 * out) without end abandons the statement: everything it holds,
 * err included, is released (the errors are dropped, as a return in a
 * Python finally block drops the exception).  With TG_AUTO_CLEANUP that
 * happens by itself (TG_EXCEPT_STAR_BEGIN gives st a cleanup that calls
 * tg_except_star_release); without it, call tg_except_star_release (or
 * end) before every such exit.  return tg_except_star_end(&st); from
 * inside a clause is fine.  (A clause is the body of a for loop: break
 * and continue end the clause, not a loop around the statement.)
 *
 * A statement is used by one thread at a time (not thread-safe); the
 * errors it holds and returns are ordinary errors, shareable as usual.
 */

/* The statement, in the caller's storage (184 bytes on 64-bit systems).
 * Its fields are private: use the functions below. */
#define TG__EXCEPT_STAR_INLINE 6
typedef struct tg__errvec {
	tg_error **heap; /* NULL: the items are in inl */
	size_t n, cap;
	tg_error *inl[TG__EXCEPT_STAR_INLINE];
} tg__errvec;

typedef struct tg_except_star {
	tg_error *orig;    /* what the statement handles */
	tg_error *rest;    /* what no clause has matched yet */
	tg_error *eg;      /* the running clause's match (NULL: none) */
	tg_error *failure; /* the TypeError of a bad clause */
	int state;
	bool reraise;      /* the running clause re-raised */
	bool folded;       /* kept was folded under memory pressure */
	tg__errvec kept;   /* re-raised parts (and, at the end, the rest) */
	tg__errvec raised; /* raised errors, in order */
} tg_except_star;

/* Declares st (a tg_except_star) and begins it with err (consumed); with
 * TG_AUTO_CLEANUP, st is released when it goes out of scope unless ended. */
#define TG_EXCEPT_STAR_BEGIN(st, err)                                        \
	tg_except_star st TG__CLEANUP(tg_except_star_release);               \
	(void)tg_except_star_begin(&st, (err))

/* One clause: runs its block with eg (borrowed, valid in the block) when
 * the statement's unmatched rest has leaves of one of the types (one or
 * more const tg_error_type pointers; Python's except* (T1, T2) as eg). */
#define TG_EXCEPT_STAR_CLAUSE(stp, eg, ...)                                  \
	for (tg_error *eg = tg_except_star_clause(                           \
		     (stp), (const tg_error_type *const[]){ __VA_ARGS__ },   \
		     sizeof((const tg_error_type *const[]){ __VA_ARGS__ }) / \
			     sizeof(const tg_error_type *));                 \
	     eg != NULL; eg = tg_except_star_clause_end((stp)))

/* Begins a statement over err (consumed; NULL: nothing to handle, no
 * clause runs and end gives NULL).  st needs no preparation: begin
 * writes every field.  Returns TG_OK, or TG_EINVAL for a NULL st (err is
 * then not consumed).  Allocates nothing. */
TG_API int tg_except_star_begin(tg_except_star *st, tg_error *err);

/* Starts the next clause: closes a clause still running (as its end
 * would), then matches types[0..n) against the unmatched rest (a node
 * matches when it is an instance of any of them).  Returns the clause's
 * eg, borrowed from st until the clause ends, or NULL when the clause is
 * not to run: nothing of those types is left, nothing was handed to
 * begin, the statement has ended or failed, NULL st, the types are bad
 * (n is 0, types or one of them is NULL, or one is a group type: the
 * statement fails, as described above), or no memory to match (neither
 * this clause nor any later one runs, so that a later clause cannot take
 * what this one was written for; end gives what the statement holds:
 * the rest, unhandled, with what earlier clauses re-raised and raised).
 * Allocates what tg_error_split does. */
TG_API tg_error *tg_except_star_clause(tg_except_star *st,
				       const tg_error_type *const *types,
				       size_t n);

/* Ends the running clause: its eg is released, or kept when the clause
 * re-raised.  Returns NULL (for the loop of TG_EXCEPT_STAR_CLAUSE).
 * Nothing to do (NULL st, no clause running) is not an error.  The
 * statement holds 6 re-raised parts in itself; past that it takes heap,
 * and with none to be had it groups the parts it holds (the result is
 * the same: docs/errors.md, "Out of memory"). */
TG_API tg_error *tg_except_star_clause_end(tg_except_star *st);

/* Python's bare raise in the running clause: its eg goes back into the
 * result, in the original tree's shape.  Calling it again changes
 * nothing.  Returns TG_OK, TG_EINVAL (NULL st) or TG_ESTATE (no clause
 * is running). */
TG_API int tg_except_star_reraise(tg_except_star *st);

/*
 * Python's raise e in the running clause: e (consumed, also on failure)
 * joins the result, after the errors raised before it.  While the
 * caller's reference to e is the only one and e has no context, its
 * context becomes the clause's eg (Python's __context__); an error
 * shared with others (or the immortal MemoryError) is immutable and
 * keeps what it has, and so does raising eg itself.  A clause may raise
 * several errors (Python's clause raises at most one): each joins, in
 * order; a clause may also raise and re-raise.  Allocates nothing for
 * the first 6 errors a statement raises.  Returns TG_OK, TG_EINVAL
 * (NULL e: nothing consumed; NULL st: e released), TG_ESTATE (no clause
 * is running: e released), TG_ENOMEM (e is kept, but there was no memory
 * to keep it beside the errors raised before it, which were grouped
 * first into one ExceptionGroup("", [...]): nothing is lost, the result
 * is one level deeper there).
 */
TG_API int tg_except_star_raise(tg_except_star *st, tg_error *e);

/* Python's raise e from cause: tg_error_set_cause(e, cause) (cause
 * consumed; for raise E from eg, pass tg_error_incref(eg)), then
 * tg_except_star_raise(st, e).  e is raised even when the cause could not
 * be set (e shared: TG_ESTATE; a cycle: TG_EINVAL; no memory for the
 * cycle check: TG_ENOMEM).  Returns the raise's status when it failed,
 * else the cause's.  NULL cause: a plain raise.  NULL e: TG_EINVAL, cause
 * released. */
TG_API int tg_except_star_raise_from(tg_except_star *st, tg_error *e,
				     tg_error *cause);

/* Ends the statement (closing a running clause) and returns what it
 * propagates, as described above: a new reference, or NULL when every
 * error was handled (or begin had none, or st is NULL or ended).
 * Everything else st held is released; release or end again does
 * nothing.  Never fails: under memory exhaustion the result keeps every
 * error, in a flatter shape (docs/errors.md). */
TG_API TG_NODISCARD tg_error *tg_except_star_end(tg_except_star *st);

/* Abandons the statement: releases everything it holds (err, matches,
 * raised errors) without a result.  Does nothing on NULL or on a
 * statement that has ended.  TG_EXCEPT_STAR_BEGIN's cleanup. */
TG_API void tg_except_star_release(tg_except_star *st);

/* ------------------------------------------------------------------ */
/* Printing and export                                                  */

/*
 * Draws e the way Python's traceback module draws an exception group:
 *
 *   + Exception Group Traceback (most recent call last):
 *   | ExceptionGroup: unhandled errors in a task group (2 sub-errors)
 *   +-+---------------- 1 ----------------
 *     | ...
 *
 * with each error's type, message, notes, where it was raised and its
 * spawn chain; at most 15 children per group and 10 levels, the rest
 * summarised as "and N more"; a stand-in's MemoryError is followed by the
 * lost errors it names.  NULL e prints nothing.
 * tg_error_print returns TG_OK or TG_EINVAL (NULL f); tg_error_format
 * writes at most len bytes (always NUL-terminated when len > 0) and returns
 * the length the full text needs, as snprintf does.
 * Any depth and any length of cause/context chains.  They allocate nothing
 * unless chains hold more than 64 links in all (the links of a chain are
 * drawn deepest first, so they are kept on a stack); if that stack cannot
 * grow, the deepest links are left out, with a line saying how many.
 * Thread-safe on errors nobody is changing.
 */
TG_API int tg_error_print(const tg_error *e, FILE *f);
TG_API size_t tg_error_format(const tg_error *e, char *buf, size_t len);

/* The JSON form (schema in docs/errors.md), snprintf-like as above.  Any
 * depth; allocates nothing for trees up to 32 objects deep (counting
 * causes and contexts), takes a stack from the allocator beyond; an object
 * the stack cannot grow for is written without its cause, context and
 * children (null, null, []) and with "truncated": true, so the text stays
 * valid JSON.  Thread-safe on errors nobody is changing. */
TG_API size_t tg_error_to_json(const tg_error *e, char *buf, size_t len);
TG_API int tg_error_write_json(const tg_error *e, FILE *f);

#ifdef __cplusplus
}
#endif

#endif /* TASKGROUP_ERROR_H */
