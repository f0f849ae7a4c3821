/* test_splitter.c: common/splitter.h keeps every stratum's part counts at
 * floor or ceil of n * fraction after every window, is reproducible for a
 * seed, and does not copy a periodic input order into the parts. */
#include "common/error.h"
#include "common/rng.h"
#include "common/splitter.h"
#include "test.h"

#include <stdlib.h>
#include <string.h>

/* Random fractions, strata and window sizes; check after every window. */
static void test_exact_at_every_window(void)
{
	qt_rng g;
	qt_rng_seed(&g, 11, 0);
	for (int trial = 0; trial < 60; trial++) {
		int nparts = 2 + (int)qt_rng_below(&g, 3), nkeys;
		double frac[4], sum = 0, worst = 0;
		qt_splitter *sp;
		int64_t key[300], seen[7] = {0}, got[7][4] = {{0}};
		uint8_t part[300];
		for (int k = 0; k < nparts; k++)
			frac[k] = qt_rng_uniform(&g) + (trial % 4 == 0);
		if (trial % 5 == 0)
			frac[nparts - 1] = 0; /* an empty part */
		for (int k = 0; k < nparts; k++)
			sum += frac[k];
		for (int k = 0; k < nparts; k++)
			frac[k] /= sum;
		nkeys = 1 + (int)qt_rng_below(&g, 7);
		CHECK_OK(qt_splitter_new(&sp, nparts, frac, (uint64_t)trial));
		for (int w = 0; w < 40; w++) {
			int64_t n = (int64_t)qt_rng_below(&g, 300);
			for (int64_t i = 0; i < n; i++)
				key[i] = 100 * (int64_t)qt_rng_below(&g, (uint64_t)nkeys) - 300;
			CHECK_OK(qt_splitter_assign(sp, key, n, part));
			for (int64_t i = 0; i < n; i++) {
				int s = (int)((key[i] + 300) / 100);
				seen[s]++;
				got[s][part[i]]++;
			}
			for (int s = 0; s < nkeys; s++)
				for (int k = 0; k < nparts; k++) {
					double d = fabs((double)got[s][k] -
							(double)seen[s] * frac[k]);
					worst = fmax(worst, d);
					CHECK(got[s][k] == qt_splitter_stratum_count(
						      sp, 100 * s - 300, k));
				}
		}
		if (!(worst < 1.0)) {
			printf("# trial %d: a count is %.3f from its target\n",
			       trial, worst);
			test_cur_failed = 1;
		}
		for (int k = 0; k < nparts; k++)
			if (frac[k] == 0)
				CHECK(qt_splitter_count(sp, k) == 0);
		qt_splitter_free(sp);
	}
}

static void run(uint64_t seed, int64_t n, uint8_t *part)
{
	qt_splitter *sp;
	int64_t *key = malloc((size_t)n * sizeof *key);
	for (int64_t i = 0; i < n; i++)
		key[i] = i % 3;
	CHECK_OK(qt_splitter_new(&sp, 3, (double[]){0.7, 0.2, 0.1}, seed));
	for (int64_t s = 0; s < n; s += 100)
		CHECK_OK(qt_splitter_assign(sp, key + s, n - s < 100 ? n - s : 100,
					    part + s));
	qt_splitter_free(sp);
	free(key);
}

static void test_seeded(void)
{
	enum { N = 5000 };
	static uint8_t a[N], b[N], c[N];
	run(42, N, a);
	run(42, N, b);
	run(43, N, c);
	CHECK(!memcmp(a, b, N));
	CHECK(memcmp(a, c, N) != 0);
}

/* An input that cycles through 5 kinds (say redshifts): with 0.8/0.2
 * a systematic "every fifth sample" rule would send one kind to test.
 * Here each kind must get close to its 20% of the test part. */
static void test_periodic_input_not_copied(void)
{
	enum { N = 20000, W = 256 };
	static uint8_t part[N];
	int64_t per_kind[5] = {0};
	qt_splitter *sp;
	CHECK_OK(qt_splitter_new(&sp, 2, (double[]){0.8, 0.2}, 7));
	for (int64_t s = 0; s < N; s += W)
		CHECK_OK(qt_splitter_assign(sp, NULL, N - s < W ? N - s : W,
					    part + s));
	for (int64_t i = 0; i < N; i++)
		per_kind[i % 5] += part[i] == 1;
	CHECK(qt_splitter_count(sp, 1) == N / 5);
	for (int k = 0; k < 5; k++) /* 800 expected, sd about 25 */
		if (per_kind[k] < 650 || per_kind[k] > 950) {
			printf("# kind %d has %lld test samples of 4000\n", k,
			       (long long)per_kind[k]);
			test_cur_failed = 1;
		}
	qt_splitter_free(sp);
}

static void test_rejects_bad_fractions(void)
{
	qt_splitter *sp = NULL;
	CHECK(qt_splitter_new(&sp, 2, (double[]){0.8, 0.3}, 0) == QT_EUSAGE);
	CHECK(qt_splitter_new(&sp, 2, (double[]){-0.1, 1.1}, 0) == QT_EUSAGE);
	CHECK(qt_splitter_new(&sp, 2, (double[]){NAN, 1}, 0) == QT_EUSAGE);
	CHECK(qt_splitter_new(&sp, 0, (double[]){1}, 0) == QT_EUSAGE);
	CHECK(sp == NULL);
	/* too many strata: a float field is no label */
	CHECK_OK(qt_splitter_new(&sp, 2, (double[]){0.5, 0.5}, 0));
	int64_t *key = malloc((QT_SPLIT_MAX_STRATA + 1) * sizeof *key);
	uint8_t *part = malloc(QT_SPLIT_MAX_STRATA + 1);
	for (int64_t i = 0; i <= QT_SPLIT_MAX_STRATA; i++)
		key[i] = i * 7919;
	CHECK(qt_splitter_assign(sp, key, QT_SPLIT_MAX_STRATA, part) == 0);
	CHECK(qt_splitter_nstrata(sp) == QT_SPLIT_MAX_STRATA);
	CHECK(qt_splitter_assign(sp, key, QT_SPLIT_MAX_STRATA + 1, part) ==
	      QT_EUSAGE);
	free(key);
	free(part);
	qt_splitter_free(sp);
}

int main(void)
{
	RUN(test_exact_at_every_window);
	RUN(test_seeded);
	RUN(test_periodic_input_not_copied);
	RUN(test_rejects_bad_fractions);
	return test_done();
}
