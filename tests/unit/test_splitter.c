/* test_splitter.c: common/splitter.h keeps every stratum's part counts at
 * floor or ceil of n * fraction after every window, is reproducible for a
 * seed, and does not copy a periodic input order into the parts.  The
 * grouped split keeps groups whole, meets the fractions in samples to
 * within a group, ignores the order of the samples and picks groups at
 * random. */
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

/* Add `size[g]` samples of group values `value[g]`, interleaved: sample j
 * of the stream belongs to group (j * step) mod ngroups while groups last. */
static void add_groups(qt_group_splitter *gs, const double *value,
		       const int64_t *size, int ngroups, int step)
{
	int64_t left[64], total = 0;
	for (int g = 0; g < ngroups; g++) {
		left[g] = size[g];
		total += size[g];
	}
	for (int64_t j = 0, g = 0; j < total; g = (g + step) % ngroups) {
		if (!left[g])
			continue;
		left[g]--;
		j++;
		CHECK_OK(qt_group_splitter_add(gs, value[g]));
	}
}

/* Random group sizes and fractions: no part exceeds its share of the
 * samples by a whole group, none falls short by more than the others
 * exceed theirs, and the per-part tallies add up. */
static void test_groups_meet_fractions(void)
{
	qt_rng r;
	qt_rng_seed(&r, 5, 0);
	for (int trial = 0; trial < 200; trial++) {
		int nparts = 2 + (int)qt_rng_below(&r, 2), ngroups;
		double frac[3], sum = 0, value[64];
		int64_t size[64], total = 0, biggest = 0, got[3] = {0}, ng = 0;
		qt_group_splitter *gs;
		for (int k = 0; k < nparts; k++)
			sum += frac[k] = 0.05 + qt_rng_uniform(&r);
		for (int k = 0; k < nparts; k++)
			frac[k] /= sum;
		ngroups = 8 + (int)qt_rng_below(&r, 56);
		for (int g = 0; g < ngroups; g++) {
			value[g] = 0.5 * g - 3;
			size[g] = 1 + (int64_t)qt_rng_below(&r, 30);
			total += size[g];
			biggest = size[g] > biggest ? size[g] : biggest;
		}
		CHECK_OK(qt_group_splitter_new(&gs, nparts, frac, (uint64_t)trial));
		add_groups(gs, value, size, ngroups, 1);
		CHECK_OK(qt_group_splitter_plan(gs));
		CHECK(qt_group_splitter_ngroups(gs) == ngroups);
		for (int g = 0; g < ngroups; g++) {
			int p = qt_group_splitter_part(gs, value[g]);
			CHECK(p >= 0 && p < nparts);
			if (p >= 0 && p < nparts)
				got[p] += size[g];
		}
		for (int k = 0; k < nparts; k++) {
			double d = fabs((double)got[k] - (double)total * frac[k]);
			CHECK(got[k] == qt_group_splitter_count(gs, k));
			/* never a whole group above the share */
			CHECK((double)got[k] - (double)total * frac[k] <
			      (double)biggest);
			ng += qt_group_splitter_groups(gs, k);
			if (!(d < (double)biggest * (nparts - 1))) {
				printf("# trial %d part %d: %lld samples, target "
				       "%.1f, largest group %lld\n", trial, k,
				       (long long)got[k], (double)total * frac[k],
				       (long long)biggest);
				test_cur_failed = 1;
			}
		}
		CHECK(ng == ngroups);
		qt_group_splitter_free(gs);
	}
}

/* Equal groups: the split is exact in groups (and so in samples). */
static void test_equal_groups_exact(void)
{
	double value[20];
	int64_t size[20];
	qt_group_splitter *gs;
	for (int g = 0; g < 20; g++) {
		value[g] = 1000 + g;
		size[g] = 10;
	}
	CHECK_OK(qt_group_splitter_new(&gs, 3, (double[]){0.7, 0.1, 0.2}, 4));
	add_groups(gs, value, size, 20, 7);
	CHECK_OK(qt_group_splitter_plan(gs));
	CHECK(qt_group_splitter_count(gs, 0) == 140);
	CHECK(qt_group_splitter_count(gs, 1) == 20);
	CHECK(qt_group_splitter_count(gs, 2) == 40);
	CHECK(qt_group_splitter_groups(gs, 0) == 14);
	CHECK(qt_group_splitter_groups(gs, 1) == 2);
	CHECK(qt_group_splitter_groups(gs, 2) == 4);
	qt_group_splitter_free(gs);
}

/* The parts of groups value[] for a seed, the samples in a given order. */
static void group_parts(uint64_t seed, int step, int *part)
{
	double value[30];
	int64_t size[30];
	qt_group_splitter *gs;
	for (int g = 0; g < 30; g++) {
		value[g] = g * 0.25;
		size[g] = 1 + g % 4;
	}
	CHECK_OK(qt_group_splitter_new(&gs, 2, (double[]){0.8, 0.2}, seed));
	add_groups(gs, value, size, 30, step);
	CHECK_OK(qt_group_splitter_plan(gs));
	for (int g = 0; g < 30; g++)
		part[g] = qt_group_splitter_part(gs, value[g]);
	qt_group_splitter_free(gs);
}

static void test_groups_seeded_order_free(void)
{
	int a[30], b[30], c[30];
	group_parts(9, 1, a);
	group_parts(9, 7, b); /* the same groups, samples in another order */
	group_parts(10, 1, c);
	CHECK(!memcmp(a, b, sizeof a));
	CHECK(memcmp(a, c, sizeof a) != 0);
}

/* 10 equal groups, 80/20: over many seeds each group is a test group
 * about 20% of the time. */
static void test_groups_chosen_at_random(void)
{
	enum { SEEDS = 2000 };
	int in_test[10] = {0};
	double value[10];
	int64_t size[10];
	for (int g = 0; g < 10; g++) {
		value[g] = g;
		size[g] = 5;
	}
	for (int seed = 0; seed < SEEDS; seed++) {
		qt_group_splitter *gs;
		CHECK_OK(qt_group_splitter_new(&gs, 2, (double[]){0.8, 0.2},
					       (uint64_t)seed));
		add_groups(gs, value, size, 10, 1);
		CHECK_OK(qt_group_splitter_plan(gs));
		for (int g = 0; g < 10; g++)
			in_test[g] += qt_group_splitter_part(gs, value[g]) == 1;
		qt_group_splitter_free(gs);
	}
	for (int g = 0; g < 10; g++) /* 400 expected, sd about 18 */
		if (in_test[g] < 330 || in_test[g] > 470) {
			printf("# group %d is a test group for %d of %d seeds\n",
			       g, in_test[g], SEEDS);
			test_cur_failed = 1;
		}
}

static void test_groups_bad_values(void)
{
	qt_group_splitter *gs;
	CHECK(qt_group_splitter_new(&gs, 2, (double[]){0.8, 0.3}, 0) ==
	      QT_EUSAGE);
	CHECK(gs == NULL);
	CHECK_OK(qt_group_splitter_new(&gs, 2, (double[]){0.5, 0.5}, 0));
	CHECK(qt_group_splitter_add(gs, NAN) == QT_ENUMERIC);
	CHECK_OK(qt_group_splitter_add(gs, 0.0));
	CHECK_OK(qt_group_splitter_add(gs, -0.0));
	CHECK_OK(qt_group_splitter_add(gs, INFINITY));
	CHECK_OK(qt_group_splitter_plan(gs));
	CHECK(qt_group_splitter_ngroups(gs) == 2); /* -0 and +0 are one */
	CHECK(qt_group_splitter_part(gs, -0.0) == qt_group_splitter_part(gs, 0.0));
	CHECK(qt_group_splitter_part(gs, INFINITY) >= 0);
	CHECK(qt_group_splitter_part(gs, 1.0) == QT_EFORMAT);
	CHECK(qt_group_splitter_part(gs, NAN) == QT_EFORMAT);
	qt_group_splitter_free(gs);
	/* an empty stream plans to nothing */
	CHECK_OK(qt_group_splitter_new(&gs, 2, (double[]){0.5, 0.5}, 0));
	CHECK_OK(qt_group_splitter_plan(gs));
	CHECK(qt_group_splitter_ngroups(gs) == 0);
	CHECK(qt_group_splitter_count(gs, 0) == 0);
	qt_group_splitter_free(gs);
}

int main(void)
{
	RUN(test_exact_at_every_window);
	RUN(test_seeded);
	RUN(test_periodic_input_not_copied);
	RUN(test_rejects_bad_fractions);
	RUN(test_groups_meet_fractions);
	RUN(test_equal_groups_exact);
	RUN(test_groups_seeded_order_free);
	RUN(test_groups_chosen_at_random);
	RUN(test_groups_bad_values);
	return test_done();
}
