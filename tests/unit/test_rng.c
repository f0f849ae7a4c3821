/* test_rng.c: the Philox4x32-10 generator and its distributions: known
 * answers (Random123's vectors, and the first words of a seed computed by
 * an independent Python Philox), determinism, streams, moments of every
 * distribution, unbiased integers and shuffles. */
#include "common/rng.h"
#include "test.h"

#include <math.h>
#include <string.h>

static void test_philox_known_answers(void)
{
	/* Random123 kat_vectors, "philox4x32 10" lines: ctr, key, out */
	static const uint32_t kat[3][10] = {
		{0, 0, 0, 0, 0, 0,
		 0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8},
		{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff,
		 0xffffffff, 0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd},
		{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822,
		 0x299f31d0, 0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1},
	};
	for (int i = 0; i < 3; i++) {
		uint32_t out[4];
		qt_philox4x32_10(out, kat[i], kat[i] + 4);
		CHECK(memcmp(out, kat[i] + 6, sizeof out) == 0);
	}
}

/* Words of (seed, stream) are Philox blocks of counter (block, stream)
 * and key seed, in order. */
static void test_first_values(void)
{
	static const uint32_t s42[8] = {0x9ceaf053, 0x77f5493b, 0x12bf50ad,
					0x5742b3d7, 0xfcdb2127, 0x53ba6cfd,
					0x838f5a6e, 0x744e06fb};
	static const uint32_t s42_1[4] = {0x02933769, 0x2051e913, 0x3b68b038,
					  0xb62c409c};
	static const uint32_t big[6] = {0xaef2adf7, 0xf69b5950, 0x3ceb44f4,
					0x89b6573a, 0xec2ab39f, 0x4671fd85};
	qt_rng r;
	qt_rng_seed(&r, 42, 0);
	for (int i = 0; i < 8; i++)
		CHECK(qt_rng_u32(&r) == s42[i]);
	qt_rng_seed(&r, 42, 1);
	for (int i = 0; i < 4; i++)
		CHECK(qt_rng_u32(&r) == s42_1[i]);
	qt_rng_seed(&r, 0x0123456789abcdefull, 0xfedcba9876543210ull);
	for (int i = 0; i < 6; i++)
		CHECK(qt_rng_u32(&r) == big[i]);
	/* u64 = first word | second word << 32; uniform = top 53 bits */
	qt_rng_seed(&r, 42, 0);
	CHECK(qt_rng_u64(&r) == (0x77f5493bull << 32 | 0x9ceaf053ull));
	qt_rng_seed(&r, 42, 0);
	CHECK(qt_rng_uniform(&r) == 0.4685865183391049);
	CHECK(qt_rng_uniform(&r) == 0.34086154938517876);
	qt_rng_seed(&r, 42, 0);
	CHECK(qt_rng_uniformf(&r) == (float)(0x9ceaf053u >> 8) * 0x1.0p-24f);
}

static void test_determinism_and_streams(void)
{
	qt_rng a, b, c;
	int same_ab = 1, same_ac = 0;
	qt_rng_seed(&a, 7, 3);
	qt_rng_seed(&b, 7, 3);
	qt_rng_seed(&c, 7, 4);
	for (int i = 0; i < 1000; i++) {
		uint64_t x = qt_rng_u64(&a), y = qt_rng_u64(&b);
		same_ab &= x == y;
		same_ac += x == qt_rng_u64(&c);
	}
	CHECK(same_ab);
	CHECK(same_ac == 0);
	/* a copy forks the generator: both continue identically */
	qt_rng fork = a;
	CHECK(qt_rng_normal(&fork) == qt_rng_normal(&a));
	CHECK(qt_rng_poisson(&fork, 50) == qt_rng_poisson(&a, 50));
	/* neighbouring streams and seeds are uncorrelated */
	double sxy = 0, sx = 0, sy = 0, sxx = 0, syy = 0;
	int n = 100000;
	qt_rng_seed(&a, 1, 0);
	qt_rng_seed(&b, 1, 1);
	for (int i = 0; i < n; i++) {
		double x = qt_rng_uniform(&a), y = qt_rng_uniform(&b);
		sx += x;
		sy += y;
		sxy += x * y;
		sxx += x * x;
		syy += y * y;
	}
	double cov = sxy / n - sx / n * sy / n;
	double corr = cov / sqrt((sxx / n - sx * sx / n / n) *
				 (syy / n - sy * sy / n / n));
	CHECK(fabs(corr) < 5 / sqrt((double)n));
}

static void test_uniform_moments(void)
{
	qt_rng r;
	int n = 1000000, out_of_range = 0;
	double s = 0, ss = 0, sf = 0;
	qt_rng_seed(&r, 123, 0);
	for (int i = 0; i < n; i++) {
		double u = qt_rng_uniform(&r);
		float f = qt_rng_uniformf(&r);
		out_of_range += !(u >= 0 && u < 1) + !(f >= 0 && f < 1);
		s += u;
		ss += u * u;
		sf += f;
	}
	double mean = s / n, var = ss / n - mean * mean;
	CHECK(out_of_range == 0);
	/* standard errors: mean sqrt(1/12/n), variance ~ sqrt(1/180/n) */
	CHECK(fabs(mean - 0.5) < 5 * sqrt(1.0 / 12 / n));
	CHECK(fabs(var - 1.0 / 12) < 5 * sqrt(1.0 / 180 / n));
	CHECK(fabs(sf / n - 0.5) < 5 * sqrt(1.0 / 12 / n));
}

static void test_below_unbiased(void)
{
	qt_rng r;
	long counts[6] = {0};
	int n = 600000, bad = 0;
	qt_rng_seed(&r, 9, 0);
	for (int i = 0; i < n; i++) {
		uint64_t k = qt_rng_below(&r, 6);
		if (k >= 6)
			bad++;
		else
			counts[k]++;
	}
	double chi2 = 0, e = n / 6.0;
	for (int k = 0; k < 6; k++)
		chi2 += (counts[k] - e) * (counts[k] - e) / e;
	CHECK(bad == 0);
	CHECK(chi2 < 20.5); /* chi-square, 5 dof, p = 0.001 */
	CHECK(qt_rng_below(&r, 1) == 0);
	CHECK(qt_rng_below(&r, 0) == 0);
	/* n = 3 * 2^62: a plain `u64 % n` would give [0, 2^62) half of the
	 * draws instead of a third */
	uint64_t big = 3ull << 62;
	int low = 0, m = 100000;
	for (int i = 0; i < m; i++) {
		uint64_t k = qt_rng_below(&r, big);
		bad += k >= big;
		low += k < (1ull << 62);
	}
	CHECK(bad == 0);
	CHECK(fabs(low / (double)m - 1.0 / 3) < 5 * sqrt(2.0 / 9 / m));
}

static void test_normal_moments(void)
{
	qt_rng r;
	int n = 1000000;
	double s = 0, s2 = 0, s3 = 0, s4 = 0, within = 0;
	qt_rng_seed(&r, 31, 2);
	for (int i = 0; i < n; i++) {
		double z = qt_rng_normal(&r);
		s += z;
		s2 += z * z;
		s3 += z * z * z;
		s4 += z * z * z * z;
		within += fabs(z) <= 1;
	}
	CHECK(fabs(s / n) < 5 / sqrt((double)n));
	CHECK(fabs(s2 / n - 1) < 5 * sqrt(2.0 / n));
	CHECK(fabs(s3 / n) < 5 * sqrt(15.0 / n));
	CHECK(fabs(s4 / n - 3) < 5 * sqrt(96.0 / n));
	CHECK(fabs(within / n - 0.682689492) < 5 * sqrt(0.2166 / n));
}

static void test_poisson_moments(void)
{
	static const double lambdas[] = {0.5, 4, 9.99, 10, 37.5, 1000};
	qt_rng r;
	qt_rng_seed(&r, 17, 0);
	for (int j = 0; j < 6; j++) {
		double lam = lambdas[j], s = 0, ss = 0;
		int n = 200000, zeros = 0;
		for (int i = 0; i < n; i++) {
			double k = (double)qt_rng_poisson(&r, lam);
			s += k;
			ss += k * k;
			zeros += k == 0;
		}
		double mean = s / n, var = ss / n - mean * mean;
		/* se(mean) = sqrt(lam / n); se(var) ~ lam sqrt(2 / n) */
		int ok = fabs(mean - lam) < 5 * sqrt(lam / n) &&
			 fabs(var - lam) < 5 * sqrt((2 * lam * lam + lam) / n);
		if (lam < 10) {
			double p0 = exp(-lam);
			ok &= fabs(zeros / (double)n - p0) <
			      5 * sqrt(p0 * (1 - p0) / n) + 1e-9;
		}
		if (!ok)
			printf("# poisson(%g): mean %g var %g\n", lam, mean, var);
		CHECK(ok);
	}
	CHECK(qt_rng_poisson(&r, 0) == 0);
	CHECK(qt_rng_poisson(&r, -1) == 0);
	CHECK(qt_rng_poisson(&r, NAN) == 0);
}

static void test_shuffle(void)
{
	qt_rng r;
	int64_t idx[1000], again[1000];
	int seen[1000] = {0}, ok = 1;
	qt_rng_seed(&r, 4, 0);
	qt_rng_permutation(&r, idx, 1000);
	for (int i = 0; i < 1000; i++) {
		if (idx[i] < 0 || idx[i] >= 1000 || seen[idx[i]]++)
			ok = 0;
	}
	CHECK(ok);
	qt_rng_seed(&r, 4, 0);
	qt_rng_permutation(&r, again, 1000);
	CHECK(memcmp(idx, again, sizeof idx) == 0);
	/* all 6 orders of 3 elements equally likely */
	long counts[6] = {0};
	int n = 600000;
	for (int i = 0; i < n; i++) {
		int64_t p[3] = {0, 1, 2};
		qt_rng_shuffle(&r, p, 3);
		counts[p[0] * 2 + (p[1] > p[2])]++;
	}
	double chi2 = 0, e = n / 6.0;
	for (int k = 0; k < 6; k++)
		chi2 += (counts[k] - e) * (counts[k] - e) / e;
	CHECK(chi2 < 20.5);
	/* n = 0 and 1 are no-ops */
	qt_rng_shuffle(&r, idx, 0);
	qt_rng_shuffle(&r, idx, 1);
}

int main(void)
{
	RUN(test_philox_known_answers);
	RUN(test_first_values);
	RUN(test_determinism_and_streams);
	RUN(test_uniform_moments);
	RUN(test_below_unbiased);
	RUN(test_normal_moments);
	RUN(test_poisson_moments);
	RUN(test_shuffle);
	return test_done();
}
