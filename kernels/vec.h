/* vec.h: short SIMD vectors of `real` for the CPU kernels, written with
 * GCC's vector extensions (GCC and clang): the compiler maps a vector to
 * the target's registers, splitting it where they are narrower, so the
 * code stays portable C while -march=native picks AVX-512, AVX2 or SSE.
 *
 * A kernel file includes this inside its REAL_TEMPLATE part, so it is
 * read once per real type (no include guard); every function is named
 * with FN().  Included in a preamble, it only defines QT_VBYTES.
 * VEC is the vector of VL reals (64 bytes where AVX-512 is available,
 * else 32); loads and stores go through memcpy, so pointers need only
 * the alignment of `real`.  Kernels built from these helpers
 * depend on their shapes and VL only, never on the thread count, so they
 * keep the library's bit-for-bit reproducibility across pool sizes.
 *
 * kernels/ is compiled with -ffp-contract=fast (Makefile), so a * b + c
 * on vectors becomes one fused multiply-add where the target has FMA. */
#ifndef QT_VBYTES
#if defined(__AVX512F__)
#define QT_VBYTES 64
#else
#define QT_VBYTES 32
#endif
#define VEC FN(vec)
#define IVEC FN(ivec)
#define VL ((int64_t)(QT_VBYTES / sizeof(real)))
/* GCC's __builtin_shuffle takes run-time lane masks; kernels using it
 * keep a plain C path for other compilers. */
#if defined(__GNUC__) && !defined(__clang__)
#define QT_VEC_SHUFFLE 1
#endif
#endif

/* Outside the template (a kernel file's preamble) only QT_VBYTES is
 * wanted, for workspace sizes. */
#ifdef REAL_TEMPLATE

typedef real FN(vec) __attribute__((vector_size(QT_VBYTES)));
/* Integer lanes as wide as real's: what a comparison of VECs gives
 * (-1 true, 0 false), and shuffle masks. */
typedef __typeof__(_Generic((real)0, float: (int32_t)0, default: (int64_t)0))
	FN(ilane);
typedef FN(ilane) FN(ivec) __attribute__((vector_size(QT_VBYTES)));
typedef int32_t FN(i32vec) __attribute__((vector_size(4 * VL)));
typedef real FN(vec8) __attribute__((vector_size(8 * sizeof(real))));
typedef real FN(vec4) __attribute__((vector_size(4 * sizeof(real))));
typedef real FN(vec2) __attribute__((vector_size(2 * sizeof(real))));

static inline VEC FN(vload)(const real *p)
{
	VEC v;
	memcpy(&v, p, sizeof v);
	return v;
}

static inline void FN(vstore)(real *p, VEC v)
{
	memcpy(p, &v, sizeof v);
}

static inline VEC FN(vsplat)(real s)
{
	VEC v = {0};
	return v + s;
}

/* Lanes of x where m is true (-1), of y where it is false (0). */
static inline VEC FN(vselect)(IVEC m, VEC x, VEC y)
{
	return (VEC)(((IVEC)x & m) | ((IVEC)y & ~m));
}

/* The lanes' sum, in lane order (a fixed order: reproducible). */
static inline real FN(vsum)(VEC v)
{
	real s = 0;
	for (int64_t l = 0; l < VL; l++)
		s += v[l];
	return s;
}

/* Keep lanes [0, n) of v, zero the others. */
static inline VEC FN(vhead)(VEC v, int64_t n)
{
	for (int64_t l = n; l < VL; l++)
		v[l] = 0;
	return v;
}

/* Store lanes [0, n) of v (n < VL: a partial last chunk). */
static inline void FN(vstore_head)(real *p, VEC v, int64_t n)
{
	for (int64_t l = 0; l < n; l++)
		p[l] = v[l];
}

/* d[0, n) = s[0, n), in whole vectors then halves, quarters...: short
 * runs (an image row of 4 or 16) become one or two moves. */
static inline void FN(copy_run)(real *d, const real *s, int64_t n)
{
	for (; n >= VL; n -= VL, d += VL, s += VL)
		FN(vstore)(d, FN(vload)(s));
	if (VL > 8 && n >= 8) {
		memcpy(d, s, 8 * sizeof(real));
		d += 8, s += 8, n -= 8;
	}
	if (VL > 4 && n >= 4) {
		memcpy(d, s, 4 * sizeof(real));
		d += 4, s += 4, n -= 4;
	}
	if (n >= 2) {
		memcpy(d, s, 2 * sizeof(real));
		d += 2, s += 2, n -= 2;
	}
	if (n)
		*d = *s;
}

/* d[0, n) += s[0, n), likewise. */
static inline void FN(add_run)(real *d, const real *s, int64_t n)
{
	for (; n >= VL; n -= VL, d += VL, s += VL)
		FN(vstore)(d, FN(vload)(d) + FN(vload)(s));
	if (VL > 8 && n >= 8) {
		FN(vec8) a, b;
		memcpy(&a, d, sizeof a);
		memcpy(&b, s, sizeof b);
		a += b;
		memcpy(d, &a, sizeof a);
		d += 8, s += 8, n -= 8;
	}
	if (VL > 4 && n >= 4) {
		FN(vec4) a, b;
		memcpy(&a, d, sizeof a);
		memcpy(&b, s, sizeof b);
		a += b;
		memcpy(d, &a, sizeof a);
		d += 4, s += 4, n -= 4;
	}
	for (; n > 0; n--)
		*d++ += *s++;
}

/* d[0, n) = 0. */
static inline void FN(zero_run)(real *d, int64_t n)
{
	VEC z = {0};
	for (; n >= VL; n -= VL, d += VL)
		FN(vstore)(d, z);
	for (; n > 0; n--)
		*d++ = 0;
}

#endif /* REAL_TEMPLATE */
