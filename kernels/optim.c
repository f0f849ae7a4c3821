/* optim.c: optimizer steps as in-place updates of flat parameter arrays:
 * SGD, Adam, AdamW and Adamax.
 *
 *   param, grad, and every state buffer: n elements (any shape, flat)
 *   step: the number of this step, 1 for the first (torch's state['step']
 *         after its increment); bias corrections use it.
 *
 * Reference: torch.optim.SGD, Adam, AdamW, Adamax (torch 1.13, the
 * single-tensor code paths), element by element with g = grad:
 *   maximize:     g = -g
 *   SGD:          g += wd p;  if momentum: buf = g at step 1, else
 *                 buf = momentum buf + (1 - dampening) g;
 *                 g = nesterov ? g + momentum buf : buf;   p -= lr g
 *   Adam:         g += wd p  (L2 added to the gradient)
 *   AdamW:        p *= 1 - lr wd  (decoupled weight decay)
 *   Adam, AdamW:  m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
 *                 amsgrad: vmax = max(vmax, v), used for v below;
 *                 p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
 *   Adamax:       g += wd p;  m = b1 m + (1 - b1) g;
 *                 u = max(b2 u, |g| + eps);  p -= lr / (1 - b1^t) * m / u
 * State buffers start at zero (the caller zeroes them once).  Element-wise
 * arithmetic is done in the parameters' dtype, the bias corrections in
 * double, as torch does.
 *
 * Adam and AdamW are one pass over the five arrays in vectors of VL
 * (kernels/vec.h); a last partial vector goes through the same vector
 * code on a padded copy, so every element gets the same arithmetic
 * wherever it lies.  A big tensor (a dense layer's 160M weights: memory
 * bound) is cut into blocks of BLOCK elements shared over the pool;
 * the result does not depend on the thread count.
 */
#ifndef REAL_TEMPLATE
#include "kernels/cpu.h"
#include "common/threadpool.h"

#include <math.h>
#include <string.h>
#if defined(__AVX__)
#include <immintrin.h>
#endif

#define BLOCK 16384
#define INLINE ((int64_t)1 << 16)

#define KERNEL_FILE "kernels/optim.c"
#include "kernels/template.h"
#else
#include "kernels/vec.h"

void FN(qt_sgd_step)(real *param, real *momentum_buf, const real *grad,
		     int64_t n, double lr, double momentum, double dampening,
		     double weight_decay, int nesterov, int maximize,
		     int64_t step)
{
	real wd = (real)weight_decay, mom = (real)momentum;
	real damp = (real)(1 - dampening), rlr = (real)lr;
	for (int64_t i = 0; i < n; i++) {
		real g = maximize ? -grad[i] : grad[i];
		if (weight_decay != 0)
			g += wd * param[i];
		if (momentum != 0) {
			real b;
			if (step <= 1)
				b = g;
			else
				b = mom * momentum_buf[i] + damp * g;
			momentum_buf[i] = b;
			g = nesterov ? g + mom * b : b;
		}
		param[i] -= rlr * g;
	}
}

/* Lane-wise square root, correctly rounded like REAL_SQRT (GCC's vector
 * extensions have none, and with errno semantics it will not vectorise
 * sqrtf itself). */
static inline VEC FN(vsqrt)(VEC v)
{
#if QT_VBYTES == 64 && defined(__AVX512F__)
	return sizeof(real) == 4 ? (VEC)_mm512_sqrt_ps((__m512)v)
				 : (VEC)_mm512_sqrt_pd((__m512d)v);
#elif QT_VBYTES == 32 && defined(__AVX__)
	return sizeof(real) == 4 ? (VEC)_mm256_sqrt_ps((__m256)v)
				 : (VEC)_mm256_sqrt_pd((__m256d)v);
#else
	for (int64_t l = 0; l < VL; l++)
		v[l] = REAL_SQRT(v[l]);
	return v;
#endif
}

struct FN(adam_args) {
	real *param, *exp_avg, *exp_avg_sq, *max_exp_avg_sq;
	const real *grad;
	int64_t n;
	VEC step_size, bc2_sqrt, b1, b2, c1, c2, eps, wd, decay;
	int decoupled, weight_decay, maximize;
};

/* One vector of VL elements at p, m, v, vmax (NULL: no amsgrad), g; the
 * scalar formula of the file's head, operation for operation. */
static inline void FN(adam_vec)(const struct FN(adam_args) *a, real *p,
				real *m, real *v, real *vmax, const real *g)
{
	VEC gv = FN(vload)(g), pv = FN(vload)(p), mv, vv, u, denom;
	if (a->maximize)
		gv = -gv;
	if (a->decoupled)
		pv *= a->decay;
	else if (a->weight_decay)
		gv += a->wd * pv;
	mv = FN(vload)(m) * a->b1 + a->c1 * gv;
	vv = FN(vload)(v) * a->b2 + a->c2 * gv * gv;
	FN(vstore)(m, mv);
	FN(vstore)(v, vv);
	u = vv;
	if (vmax) {
		VEC mx = FN(vload)(vmax);
		mx = FN(vselect)(vv > mx, vv, mx);
		FN(vstore)(vmax, mx);
		u = mx;
	}
	denom = FN(vsqrt)(u) / a->bc2_sqrt + a->eps;
	pv -= a->step_size * mv / denom;
	FN(vstore)(p, pv);
}

/* Elements [i0, i1): whole vectors, then the rest padded to one. */
static void FN(adam_range)(const struct FN(adam_args) *a, int64_t i0,
			   int64_t i1)
{
	real *vmax = a->max_exp_avg_sq;
	int64_t i = i0;
	for (; i + VL <= i1; i += VL)
		FN(adam_vec)(a, a->param + i, a->exp_avg + i, a->exp_avg_sq + i,
			     vmax ? vmax + i : NULL, a->grad + i);
	if (i < i1) {
		real t[5][VL];
		size_t k = (size_t)(i1 - i) * sizeof(real);
		memset(t, 0, sizeof t);
		memcpy(t[0], a->param + i, k);
		memcpy(t[1], a->exp_avg + i, k);
		memcpy(t[2], a->exp_avg_sq + i, k);
		if (vmax)
			memcpy(t[3], vmax + i, k);
		memcpy(t[4], a->grad + i, k);
		FN(adam_vec)(a, t[0], t[1], t[2], vmax ? t[3] : NULL, t[4]);
		memcpy(a->param + i, t[0], k);
		memcpy(a->exp_avg + i, t[1], k);
		memcpy(a->exp_avg_sq + i, t[2], k);
		if (vmax)
			memcpy(vmax + i, t[3], k);
	}
}

static void FN(adam_task)(void *arg, int64_t b0, int64_t b1, int chunk)
{
	const struct FN(adam_args) *a = arg;
	int64_t i1 = b1 * BLOCK < a->n ? b1 * BLOCK : a->n;
	FN(adam_range)(a, b0 * BLOCK, i1);
}

void FN(qt_adam_step)(real *param, real *exp_avg, real *exp_avg_sq,
		      real *max_exp_avg_sq, const real *grad, int64_t n,
		      double lr, double beta1, double beta2, double eps,
		      double weight_decay, int decoupled, int maximize,
		      int64_t step, struct qt_pool *pool)
{
	double t = (double)step;
	struct FN(adam_args) a = {
		.param = param, .exp_avg = exp_avg, .exp_avg_sq = exp_avg_sq,
		.max_exp_avg_sq = max_exp_avg_sq, .grad = grad, .n = n,
		.step_size = FN(vsplat)((real)(lr / (1 - pow(beta1, t)))),
		.bc2_sqrt = FN(vsplat)((real)sqrt(1 - pow(beta2, t))),
		.b1 = FN(vsplat)((real)beta1), .b2 = FN(vsplat)((real)beta2),
		.c1 = FN(vsplat)((real)(1 - beta1)),
		.c2 = FN(vsplat)((real)(1 - beta2)), .eps = FN(vsplat)((real)eps),
		.wd = FN(vsplat)((real)weight_decay),
		.decay = FN(vsplat)((real)(1 - lr * weight_decay)),
		.decoupled = decoupled, .weight_decay = weight_decay != 0,
		.maximize = maximize};
	qt_pool_for(n < INLINE ? NULL : pool, (n + BLOCK - 1) / BLOCK,
		    FN(adam_task), &a);
}

void FN(qt_adamax_step)(real *param, real *exp_avg, real *exp_inf,
			const real *grad, int64_t n, double lr, double beta1,
			double beta2, double eps, double weight_decay,
			int maximize, int64_t step)
{
	real clr = (real)(lr / (1 - pow(beta1, (double)step)));
	real b1 = (real)beta1, b2 = (real)beta2, c1 = (real)(1 - beta1);
	real reps = (real)eps, wd = (real)weight_decay;
	for (int64_t i = 0; i < n; i++) {
		real g = maximize ? -grad[i] : grad[i];
		real u, a;
		if (weight_decay != 0)
			g += wd * param[i];
		exp_avg[i] = exp_avg[i] * b1 + c1 * g;
		u = exp_inf[i] * b2;
		a = REAL_FABS(g) + reps;
		exp_inf[i] = u > a ? u : a;
		param[i] -= clr * exp_avg[i] / exp_inf[i];
	}
}

#endif
