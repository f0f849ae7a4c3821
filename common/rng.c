/* rng.c: Philox4x32-10 and the distributions drawn from it (see rng.h).
 *
 * Philox4x32-10 follows Random123 (Salmon et al., SC'11): ten rounds of two
 * 32x32->64 multiplications with the Weyl key schedule; tests/unit/test_rng.c
 * checks it against Random123's known-answer vectors. */
#include "rng.h"

#include <math.h>

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

static void philox_round(uint32_t c[4], const uint32_t k[2])
{
	uint64_t p0 = (uint64_t)PHILOX_M0 * c[0];
	uint64_t p1 = (uint64_t)PHILOX_M1 * c[2];
	uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0;
	uint32_t hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
	c[0] = hi1 ^ c[1] ^ k[0];
	c[1] = lo1;
	c[2] = hi0 ^ c[3] ^ k[1];
	c[3] = lo0;
}

void qt_philox4x32_10(uint32_t out[4], const uint32_t ctr[4],
		      const uint32_t key[2])
{
	uint32_t c[4] = {ctr[0], ctr[1], ctr[2], ctr[3]};
	uint32_t k[2] = {key[0], key[1]};
	for (int r = 0; r < 10; r++) {
		if (r > 0) {
			k[0] += PHILOX_W0;
			k[1] += PHILOX_W1;
		}
		philox_round(c, k);
	}
	for (int i = 0; i < 4; i++)
		out[i] = c[i];
}

void qt_rng_seed(qt_rng *rng, uint64_t seed, uint64_t stream)
{
	rng->key[0] = (uint32_t)seed;
	rng->key[1] = (uint32_t)(seed >> 32);
	rng->ctr[0] = 0;
	rng->ctr[1] = 0;
	rng->ctr[2] = (uint32_t)stream;
	rng->ctr[3] = (uint32_t)(stream >> 32);
	rng->used = 4;
	rng->has_spare = 0;
	rng->spare = 0;
}

uint32_t qt_rng_u32(qt_rng *rng)
{
	if (rng->used >= 4) {
		qt_philox4x32_10(rng->buf, rng->ctr, rng->key);
		/* 64-bit block index; wraps after 2^64 blocks. */
		if (++rng->ctr[0] == 0)
			++rng->ctr[1];
		rng->used = 0;
	}
	return rng->buf[rng->used++];
}

uint64_t qt_rng_u64(qt_rng *rng)
{
	uint64_t lo = qt_rng_u32(rng);
	uint64_t hi = qt_rng_u32(rng);
	return lo | hi << 32;
}

double qt_rng_uniform(qt_rng *rng)
{
	return (double)(qt_rng_u64(rng) >> 11) * 0x1.0p-53;
}

float qt_rng_uniformf(qt_rng *rng)
{
	return (float)(qt_rng_u32(rng) >> 8) * 0x1.0p-24f;
}

uint64_t qt_rng_below(qt_rng *rng, uint64_t n)
{
	uint64_t r, threshold;
	if (n == 0)
		return 0;
	/* 2^64 mod n: values below it belong to an incomplete last copy of
	 * [0, n) and are redrawn, so every residue is equally likely. */
	threshold = -n % n;
	do
		r = qt_rng_u64(rng);
	while (r < threshold);
	return r % n;
}

double qt_rng_normal(qt_rng *rng)
{
	double u, v, s, f;
	if (rng->has_spare) {
		rng->has_spare = 0;
		return rng->spare;
	}
	do {
		u = 2.0 * qt_rng_uniform(rng) - 1.0;
		v = 2.0 * qt_rng_uniform(rng) - 1.0;
		s = u * u + v * v;
	} while (s >= 1.0 || s == 0.0);
	f = sqrt(-2.0 * log(s) / s);
	rng->spare = v * f;
	rng->has_spare = 1;
	return u * f;
}

/* log(Gamma(x)) for x >= 1 by the Stirling series, shifted to x >= 7
 * where eight terms give full double precision.  Written out instead of
 * calling lgamma(), which writes the global signgam (not thread-safe). */
static double log_gamma(double x)
{
	static const double c[8] = {
		1.0 / 12, -1.0 / 360, 1.0 / 1260, -1.0 / 1680,
		1.0 / 1188, -691.0 / 360360, 1.0 / 156, -3617.0 / 122400,
	};
	double shift = 0, x2, series = 0;
	while (x < 7.0) {
		shift -= log(x);
		x += 1.0;
	}
	x2 = 1.0 / (x * x);
	for (int k = 7; k >= 0; k--)
		series = series * x2 + c[k];
	return shift + (x - 0.5) * log(x) - x + 0.91893853320467274178 +
	       series / x;
}

uint64_t qt_rng_poisson(qt_rng *rng, double lambda)
{
	if (!(lambda > 0))
		return 0;
	if (lambda < 10) {
		/* Count uniforms until their product drops below e^-lambda. */
		double limit = exp(-lambda), prod = 1.0;
		uint64_t k = 0;
		for (;;) {
			prod *= qt_rng_uniform(rng);
			if (prod <= limit)
				return k;
			k++;
		}
	}
	/* PTRS: W. Hörmann, "The transformed rejection method for generating
	 * Poisson random variables", Insurance: Mathematics and Economics 12
	 * (1993) 39-45, with the constants of that paper. */
	double slam = sqrt(lambda), loglam = log(lambda);
	double b = 0.931 + 2.53 * slam;
	double a = -0.059 + 0.02483 * b;
	double inv_alpha = 1.1239 + 1.1328 / (b - 3.4);
	double vr = 0.9277 - 3.6224 / (b - 2);
	for (;;) {
		double u = qt_rng_uniform(rng) - 0.5;
		double v = qt_rng_uniform(rng);
		double us = 0.5 - fabs(u);
		double kf = floor((2 * a / us + b) * u + lambda + 0.43);
		if (us >= 0.07 && v <= vr)
			return (uint64_t)kf;
		if (kf < 0 || (us < 0.013 && v > us))
			continue;
		if (log(v) + log(inv_alpha) - log(a / (us * us) + b) <=
		    -lambda + kf * loglam - log_gamma(kf + 1))
			return (uint64_t)kf;
	}
}

void qt_rng_shuffle(qt_rng *rng, int64_t *idx, int64_t n)
{
	for (int64_t i = n - 1; i > 0; i--) {
		int64_t j = (int64_t)qt_rng_below(rng, (uint64_t)i + 1);
		int64_t t = idx[i];
		idx[i] = idx[j];
		idx[j] = t;
	}
}

void qt_rng_permutation(qt_rng *rng, int64_t *idx, int64_t n)
{
	for (int64_t i = 0; i < n; i++)
		idx[i] = i;
	qt_rng_shuffle(rng, idx, n);
}
