/*
 * bench/bench_omp.h - the OpenMP side: the team size comes from --threads;
 * pinning is OpenMP's own (bench/run.sh sets OMP_PROC_BIND=close and
 * OMP_PLACES=threads together with taskset when --pin is asked for).  The
 * same sources build against libgomp (gcc) and libomp (clang).
 */
#ifndef BENCH_OMP_H
#define BENCH_OMP_H

#include "bench_util.h" /* first: it sets _GNU_SOURCE */

#include <omp.h>

static inline void bench_omp_setup(const bench_args *a)
{
	omp_set_dynamic(0);
	omp_set_num_threads(a->threads);
	if (a->pin && getenv("OMP_PROC_BIND") == NULL)
		fprintf(stderr, "note: --pin with OpenMP needs OMP_PROC_BIND/"
				"OMP_PLACES in the environment\n");
}

#endif /* BENCH_OMP_H */
