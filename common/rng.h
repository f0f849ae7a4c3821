/* rng.h: quanta's seedable, reproducible random number generator.
 *
 * The generator is Philox4x32-10 (Salmon et al., "Parallel random numbers:
 * as easy as 1, 2, 3", SC'11), a counter-based generator: block i of stream
 * s under seed k is the four 32-bit words
 *
 *     philox4x32_10(counter = (i_lo, i_hi, s_lo, s_hi), key = (k_lo, k_hi))
 *
 * and a qt_rng hands those words out in order (word 0 first, block 0
 * first).  Streams of one seed therefore never overlap (each has 2^64
 * blocks of its own), so every data-loader worker, epoch or layer can own
 * a stream that does not depend on how much the others drew.
 *
 * Reproducibility: integers, uniforms and shuffles are computed with
 * integer and exactly rounded IEEE arithmetic only, so the same seed and
 * stream give the same values bit for bit on every platform.  Normals and
 * Poisson draws also call log() (and exp() for small Poisson means), so
 * they are identical wherever the C library is the same and may differ in
 * the last bit between C libraries.
 *
 * A qt_rng is a plain value: copy it to fork a generator, keep it on the
 * stack, save it in a checkpoint as its bytes.  It is not thread-safe; use
 * one per thread (one stream each).
 */
#ifndef QT_RNG_H
#define QT_RNG_H

#include <stdint.h>

typedef struct qt_rng {
	uint32_t key[2];  /* the seed */
	uint32_t ctr[4];  /* next block: index ctr[0..1], stream ctr[2..3] */
	uint32_t buf[4];  /* the current block */
	int used;         /* words of buf already handed out, 4 when empty */
	int has_spare;    /* a second normal deviate is waiting in spare */
	double spare;
} qt_rng;

/* Start stream `stream` of seed `seed` at its first block. */
void qt_rng_seed(qt_rng *rng, uint64_t seed, uint64_t stream);

/* The raw Philox4x32-10 block function (exposed for known-answer tests). */
void qt_philox4x32_10(uint32_t out[4], const uint32_t ctr[4],
		      const uint32_t key[2]);

/* Next 32 bits; next 64 bits (two words, the first is the low half). */
uint32_t qt_rng_u32(qt_rng *rng);
uint64_t qt_rng_u64(qt_rng *rng);

/* Uniform in [0, 1): double from 53 bits of one u64, float from the top 24
 * bits of one u32.  Never returns 1. */
double qt_rng_uniform(qt_rng *rng);
float qt_rng_uniformf(qt_rng *rng);

/* Uniform integer in [0, n) without modulo bias (rejection of the top
 * partial range of 2^64).  Returns 0 when n is 0. */
uint64_t qt_rng_below(qt_rng *rng, uint64_t n);

/* Standard normal deviate (Marsaglia's polar method; the second deviate of
 * each pair is kept for the next call). */
double qt_rng_normal(qt_rng *rng);

/* Poisson deviate of mean `lambda` (multiplication of uniforms below 10,
 * Hörmann's PTRS transformed rejection from 10 on, as numpy does).
 * Returns 0 for lambda <= 0 or NaN. */
uint64_t qt_rng_poisson(qt_rng *rng, double lambda);

/* Fisher-Yates shuffle of idx[0 .. n-1] in place (every permutation
 * equally likely).  qt_rng_permutation first fills idx with 0 .. n-1. */
void qt_rng_shuffle(qt_rng *rng, int64_t *idx, int64_t n);
void qt_rng_permutation(qt_rng *rng, int64_t *idx, int64_t n);

#endif
