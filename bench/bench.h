/* bench.h: timing and argument helpers shared by the benchmark programs
 * in bench/ (each bench/NAME.c is a program of its own). */
#ifndef QT_BENCH_H
#define QT_BENCH_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BENCH_MAX_RUNS 256

/* Monotonic wall clock, seconds. */
static inline double bench_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static inline int bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Median of v[0..n), 0 < n <= BENCH_MAX_RUNS; v is left as it is. */
static inline double bench_median(const double *v, int n)
{
	double s[BENCH_MAX_RUNS];
	memcpy(s, v, (size_t)n * sizeof *v);
	qsort(s, (size_t)n, sizeof *s, bench_cmp_double);
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

/* Option `name`'s value s as an integer in [lo, hi], or a message naming
 * program `prog` and exit 2. */
static inline long bench_int(const char *prog, const char *s,
			     const char *name, long lo, long hi)
{
	char *end;
	long v = strtol(s, &end, 10);
	if (!*s || *end || v < lo || v > hi) {
		fprintf(stderr, "%s: %s must be an integer in [%ld, %ld], not "
			"'%s'\n", prog, name, lo, hi, s);
		exit(2);
	}
	return v;
}

#endif
