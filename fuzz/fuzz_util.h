/*
 * fuzz_util.h - what the two fuzzers share: an input reader, the error
 * types they raise, an abort-on-failure check, a JSON validator and
 * fz_exercise(), which runs the whole read-only error API on one error and
 * checks its invariants (split, subgroup, except*, printing, JSON, notes,
 * references).
 */
#ifndef TG_FUZZ_UTIL_H
#define TG_FUZZ_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <taskgroup.h>

/* The input, read front to back; past the end every byte reads as 0, so
 * every input is a complete program. */
typedef struct fz_in {
	const uint8_t *p;
	size_t n, i;
} fz_in;

static inline unsigned
fz_byte(fz_in *in)
{
	return in->i < in->n ? in->p[in->i++] : 0u;
}

static inline bool
fz_more(const fz_in *in)
{
	return in->i < in->n;
}

/* A string from the input: a length byte (mod max), then that many raw
 * bytes (any value; a 0 byte ends the C string early).  out has max + 1
 * bytes. */
void fz_string(fz_in *in, char *out, size_t max);

/* A failed check: prints what and where, then abort()s (libFuzzer reports
 * the input as a crash). */
void fz_fail(const char *file, int line, const char *cond, const char *fmt,
	     ...) __attribute__((noreturn, format(printf, 4, 5)));
#define FZ_CHECK(cond, ...)                                                  \
	do {                                                                 \
		if (!(cond))                                                 \
			fz_fail(__FILE__, __LINE__, #cond, __VA_ARGS__);     \
	} while (0)

/* Custom types: a subtype chain under ValueError, and a user-defined
 * fatal type (flag FATAL, base BaseException, as tg_Interrupt). */
extern const tg_error_type fz_ParseError; /* ValueError */
extern const tg_error_type fz_DeepError;  /* fz_ParseError */
extern const tg_error_type fz_Abort;      /* BaseException, FATAL */

/* The error types the fuzzers raise and match on, indexed by a byte
 * (modulo the count).  Never a GROUP type. */
const tg_error_type *fz_leaf_type(unsigned b);
/* Types to split/match by: the leaf types plus the group and root types. */
const tg_error_type *fz_match_type(unsigned b);

/* A bare cancellation (what the runtime drops instead of keeping). */
bool fz_is_bare_cancel(const tg_error *e);
/* Some leaf below e has a FATAL type. */
bool fz_has_fatal(const tg_error *e);

/*
 * The weight of an error: its non-cancellation leaves plus, for every
 * node, the weight of its context.  Joins keep it: a join result weighs
 * what its children's errors and the body's error weigh together, also
 * when a fatal error is promoted to the root and the rest moves into its
 * context.
 */
size_t fz_weight(const tg_error *e);

/* Nodes reachable from e through children, causes and contexts, counted
 * with repetition (a shared subtree counts each time it is reached, as
 * printing visits it), stopping once past limit: at most limit + 1. */
size_t fz_size(const tg_error *e, size_t limit);

/* Strict RFC 8259 check of one JSON value, strings valid UTF-8. */
bool fz_json_valid(const char *s, size_t n);

/*
 * Runs reads, split / subgroup / except* (by a type and by a predicate),
 * format (full and truncated buffers, against print), JSON (against
 * write_json, validated), notes (copy-on-write, refused on a shared
 * error), wrapping (group_new, set_cause) and leaf iteration on e, as the
 * next input bytes select, and checks their invariants.  e is borrowed
 * and left as it was (checked: its text is the same afterwards).
 */
void fz_exercise(tg_error *e, fz_in *in);

#endif /* TG_FUZZ_UTIL_H */
