/* test.h: a minimal TAP-producing harness for quanta's C unit tests.
 *
 *   static void test_roundtrip(void) { CHECK(x == 1); CHECK_CLOSE(a, b, n, 1e-6, 1e-5); }
 *   int main(void) { RUN(test_roundtrip); return test_done(); }
 *
 * Each RUN prints "ok N - name" or "not ok N - name" with the failed checks
 * as TAP diagnostics ("# file:line: ..."); test_done() prints the plan and
 * returns non-zero when anything failed.  tests/run.sh counts the lines.
 */
#ifndef QT_TEST_H
#define QT_TEST_H

#include <math.h>
#include <stdio.h>
#include <stdint.h>

static int test_count, test_failed, test_cur_failed;

#define CHECK(cond)                                                        \
	do {                                                               \
		if (!(cond)) {                                             \
			printf("# %s:%d: check failed: %s\n", __FILE__,     \
			       __LINE__, #cond);                           \
			test_cur_failed = 1;                               \
		}                                                          \
	} while (0)

#define CHECK_OK(expr)                                                     \
	do {                                                               \
		int rc_ = (expr);                                          \
		if (rc_ != 0) {                                            \
			printf("# %s:%d: %s returned %d: %s\n", __FILE__,   \
			       __LINE__, #expr, rc_, qt_error_message(rc_)); \
			test_cur_failed = 1;                               \
		}                                                          \
	} while (0)

/* Compare n doubles-or-floats: |got - want| <= atol + rtol * |want|.
 * Reports the max difference and the first bad index. */
#define CHECK_CLOSE(got, want, n, atol, rtol)                              \
	test_check_close(__FILE__, __LINE__, #got, (got), (want), (n),     \
			 (atol), (rtol))

#define test_check_close(file, line, name, got, want, n, atol, rtol)       \
	_Generic((got), float *: test_close_f, const float *: test_close_f, \
		 double *: test_close_d, const double *: test_close_d)(     \
		file, line, name, got, want, n, atol, rtol)

#define TEST_CLOSE_BODY                                                    \
	double maxd = 0;                                                   \
	long bad = -1;                                                     \
	for (long i = 0; i < (long)n; i++) {                               \
		double g = got[i], w = want[i], d = fabs(g - w);           \
		if (!(d <= atol + rtol * fabs(w))) {                       \
			if (bad < 0)                                       \
				bad = i;                                   \
		}                                                          \
		if (d > maxd || d != d)                                    \
			maxd = d;                                          \
	}                                                                  \
	if (bad >= 0) {                                                    \
		printf("# %s:%d: %s: max |diff| %.3g, first bad index %ld " \
		       "(got %.10g, want %.10g)\n", file, line, name, maxd, \
		       bad, (double)got[bad], (double)want[bad]);          \
		test_cur_failed = 1;                                       \
	}                                                                  \
	return bad < 0

static inline int test_close_f(const char *file, int line, const char *name,
			       const float *got, const float *want, long n,
			       double atol, double rtol)
{
	TEST_CLOSE_BODY;
}

static inline int test_close_d(const char *file, int line, const char *name,
			       const double *got, const double *want, long n,
			       double atol, double rtol)
{
	TEST_CLOSE_BODY;
}

#define RUN(fn)                                                            \
	do {                                                               \
		test_cur_failed = 0;                                       \
		fn();                                                      \
		test_count++;                                              \
		if (test_cur_failed)                                       \
			test_failed++;                                     \
		printf("%s %d - %s\n", test_cur_failed ? "not ok" : "ok",  \
		       test_count, #fn);                                   \
		fflush(stdout);                                            \
	} while (0)

#define SKIP(fn, why)                                                      \
	do {                                                               \
		test_count++;                                              \
		printf("ok %d - %s # SKIP %s\n", test_count, #fn, why);    \
	} while (0)

static inline int test_done(void)
{
	printf("1..%d\n", test_count);
	return test_failed ? 1 : 0;
}

#endif
