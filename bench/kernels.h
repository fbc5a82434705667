/*
 * bench/kernels.h - the serial kernels, their known answers and their spawn
 * counts, shared by every implementation so that all of them do the same
 * work per task.  Common subset of C11 and C++17.
 *
 *   fib      fib(n), both branches spawned: a group per inner node.
 *   nqueens  count placements of n queens; one child per valid column.
 *   msort    mergesort of n ints: halves spawned down to MSORT_CUTOFF,
 *            merged serially; leaves sorted by the serial mergesort.
 *   tiny     a flat batch of n tasks spawned from one loop; task i stores
 *            bench_mix(i) (a few ns).
 *   spin     a flat batch of n tasks of K steps of an LCG each (~50 us);
 *            K comes from --spin (calibrated by the serial program).
 */
#ifndef BENCH_KERNELS_H
#define BENCH_KERNELS_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* fib                                                                  */

static inline long fib_serial(int n)
{
	return n < 2 ? n : fib_serial(n - 1) + fib_serial(n - 2);
}

/* F(n) by iteration: the known answer. */
static inline long long fib_expected(long n)
{
	long long a = 0, b = 1;
	for (long i = 0; i < n; i++) {
		long long t = a + b;
		a = b;
		b = t;
	}
	return a;
}

/* Spawns of fib(n) with both branches spawned at every inner node: the call
 * tree has F(n+1) - 1 inner nodes, each spawning two children. */
static inline uint64_t fib_spawns(long n)
{
	return n < 2 ? 0 : 2u * (uint64_t)(fib_expected(n + 1) - 1);
}

/* ------------------------------------------------------------------ */
/* nqueens                                                              */

#define NQ_MAX 16

/* Can a queen go in row j, column a[j], given rows 0..j-1? */
static inline int nq_ok(int j, const char *a)
{
	int q = a[j];
	for (int i = 0; i < j; i++) {
		int p = a[i];
		if (p == q || p - q == j - i || q - p == j - i)
			return 0;
	}
	return 1;
}

/* Solutions below a board with rows 0..j-1 placed; *nodes counts the valid
 * placements tried (= the spawns of the parallel versions). */
static inline long nq_serial(int n, int j, const char *a, uint64_t *nodes)
{
	if (j == n)
		return 1;
	long count = 0;
	for (int i = 0; i < n; i++) {
		char b[NQ_MAX];
		memcpy(b, a, (size_t)j);
		b[j] = (char)i;
		if (nq_ok(j, b)) {
			++*nodes;
			count += nq_serial(n, j + 1, b, nodes);
		}
	}
	return count;
}

/* Known solution counts (OEIS A000170), index n. */
static inline long long nq_expected(long n)
{
	static const long long t[] = { 1,   1,    0,     0,     2,
				       10,  4,    40,    92,    352,
				       724, 2680, 14200, 73712, 365596 };
	return n >= 0 && n < (long)(sizeof t / sizeof t[0]) ? t[n] : -1;
}

/* Valid placements in the whole search tree (one spawn each), index n;
 * checked by the serial program against its own count. */
static inline uint64_t nq_spawns(long n)
{
	static const uint64_t t[] = { 0,     1,      2,      5,       16,
				      53,    152,    551,    2056,    8393,
				      35538, 166925, 856188, 4674889, 27358552 };
	return n >= 0 && n < (long)(sizeof t / sizeof t[0]) ? t[n] : 0;
}

/* ------------------------------------------------------------------ */
/* msort                                                                */

#define MSORT_CUTOFF 4096 /* below this, the parallel versions go serial */
#define MSORT_SMALL 16    /* below this, insertion sort */

static inline uint64_t bench_splitmix(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15u);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	return z ^ (z >> 31);
}

/* The input: n pseudo-random ints, the same on every run. */
static inline void msort_fill(int *a, long n)
{
	uint64_t s = 42;
	for (long i = 0; i < n; i++)
		a[i] = (int)(bench_splitmix(&s) >> 33);
}

/* Merges sorted a[0..m) and a[m..n) into out[0..n). */
static inline void msort_merge(const int *a, long m, long n, int *out)
{
	long i = 0, j = m, k = 0;
	while (i < m && j < n)
		out[k++] = a[j] < a[i] ? a[j++] : a[i++];
	while (i < m)
		out[k++] = a[i++];
	while (j < n)
		out[k++] = a[j++];
}

/* Sorts a[0..n) in place with scratch tmp[0..n). */
static inline void msort_serial(int *a, int *tmp, long n)
{
	if (n <= MSORT_SMALL) {
		for (long i = 1; i < n; i++) {
			int v = a[i];
			long j = i;
			for (; j > 0 && a[j - 1] > v; j--)
				a[j] = a[j - 1];
			a[j] = v;
		}
		return;
	}
	long m = n / 2;
	msort_serial(a, tmp, m);
	msort_serial(a + m, tmp + m, n - m);
	msort_merge(a, m, n, tmp);
	memcpy(a, tmp, (size_t)n * sizeof *a);
}

/* Spawns of the parallel versions: two per split above the cutoff. */
static inline uint64_t msort_spawns(long n)
{
	if (n <= MSORT_CUTOFF)
		return 0;
	return 2 + msort_spawns(n / 2) + msort_spawns(n - n / 2);
}

static inline uint64_t msort_sum(const int *a, long n)
{
	uint64_t s = 0;
	for (long i = 0; i < n; i++)
		s += (uint64_t)(uint32_t)a[i];
	return s;
}

/* 1 if a[0..n) is sorted and has the input's sum. */
static inline int msort_check(const int *a, long n, uint64_t input_sum)
{
	for (long i = 1; i < n; i++)
		if (a[i - 1] > a[i])
			return 0;
	return msort_sum(a, n) == input_sum;
}

/* ------------------------------------------------------------------ */
/* tiny and spin batches                                                */

/* A few ns of work: the murmur3 finaliser. */
static inline uint32_t bench_mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdu;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53u;
	x ^= x >> 33;
	return (uint32_t)x;
}

/* One tiny task's body, kept out of line so that no implementation (the
 * serial loop included) gets it vectorised or fused with its neighbours. */
#if defined(__GNUC__) || defined(__clang__)
__attribute__((noinline, unused))
#endif
static void tiny_body(uint32_t *out, long i)
{
	out[i] = bench_mix((uint64_t)i);
}

static inline uint64_t tiny_expected(long n)
{
	uint64_t s = 0;
	for (long i = 0; i < n; i++)
		s += bench_mix((uint64_t)i);
	return s;
}

static inline uint64_t tiny_sum(const uint32_t *r, long n)
{
	uint64_t s = 0;
	for (long i = 0; i < n; i++)
		s += r[i];
	return s;
}

#define LCG_A 6364136223846793005u
#define LCG_C 1442695040888963407u

/* k dependent steps of an LCG from seed (~1 ns a step).  The empty asm
 * hides x from the optimiser at every step: clang otherwise unrolls by 8
 * and folds the 8 steps into one affine map, 8 times less work. */
static inline uint64_t bench_spin(uint64_t seed, long k)
{
	uint64_t x = seed;
	for (long i = 0; i < k; i++) {
		x = x * LCG_A + LCG_C;
#if defined(__GNUC__) || defined(__clang__)
		__asm__ volatile("" : "+r"(x));
#endif
	}
	return x;
}

/* bench_spin(seed, k) in O(log k), by squaring the affine map: the check. */
static inline uint64_t bench_spin_jump(uint64_t seed, long k)
{
	uint64_t mul = 1, add = 0;     /* accumulated map x -> mul x + add */
	uint64_t cm = LCG_A, ca = LCG_C; /* the map applied 2^bit times */
	for (unsigned long r = (unsigned long)k; r != 0; r >>= 1) {
		if (r & 1) {
			mul = mul * cm;
			add = add * cm + ca;
		}
		ca = ca * cm + ca;
		cm = cm * cm;
	}
	return mul * seed + add;
}

static inline uint64_t spin_expected(long n, long k)
{
	uint64_t s = 0;
	for (long i = 0; i < n; i++)
		s += bench_spin_jump((uint64_t)i, k);
	return s;
}

static inline uint64_t spin_sum(const uint64_t *r, long n)
{
	uint64_t s = 0;
	for (long i = 0; i < n; i++)
		s += r[i];
	return s;
}

#endif /* BENCH_KERNELS_H */
