/* cross_entropy.c: cross-entropy from logits with integer class targets,
 * and binary cross-entropy with logits, forward and backward.
 *
 * Cross-entropy, torch.nn.functional.cross_entropy(logits, target,
 * weight=w, reduction='mean'), class dimension 1 as in torch:
 *
 *   logits, prob, dlogits: (N, C, P)   P = product of the dims after C
 *                                      (1 for plain (N, C) classification,
 *                                      pixels for per-pixel labels)
 *   target: (N, P) int64 in [0, C)     weight: (C) or NULL (all ones)
 *
 *   loss = sum_i -w[t_i] log softmax(x_i)[t_i] / sum_i w[t_i]
 *          (i runs over the N*P samples; with no weight the divisor is N*P)
 *   dlogits_i = dloss * w[t_i] / sum_j w[t_j] * (softmax(x_i) - onehot(t_i))
 *
 * Forward writes the softmax probabilities into `prob` for backward.
 * Backward overwrites dlogits.  Sums are accumulated in double.
 *
 * Binary cross-entropy with logits, F.binary_cross_entropy_with_logits(x,
 * t, reduction='mean'), over n elements of any shape:
 *
 *   loss = mean(max(x, 0) - x t + log(1 + exp(-|x|)))
 *   dx   = dloss * (sigmoid(x) - t) / n          (overwrites dx)
 */
#ifndef REAL_TEMPLATE
#include "kernels/cpu.h"

#include <float.h>
#include <math.h>

#define KERNEL_FILE "kernels/cross_entropy.c"
#include "kernels/template.h"
#else

void FN(qt_cross_entropy_forward)(double *loss, real *prob, const real *logits,
				  const int64_t *target, const real *weight,
				  int64_t N, int64_t C, int64_t P)
{
	double total = 0, wsum = 0;
	for (int64_t n = 0; n < N; n++) {
		for (int64_t p = 0; p < P; p++) {
			const real *x = logits + n * C * P + p;
			real *pr = prob + n * C * P + p;
			int64_t t = target[n * P + p];
			double w = weight ? (double)weight[t] : 1.0;
			real m = -REAL_MAX;
			double sum = 0;
			for (int64_t c = 0; c < C; c++)
				if (x[c * P] > m || x[c * P] != x[c * P])
					m = x[c * P];
			for (int64_t c = 0; c < C; c++) {
				pr[c * P] = REAL_EXP(x[c * P] - m);
				sum += pr[c * P];
			}
			real inv = (real)(1.0 / sum);
			for (int64_t c = 0; c < C; c++)
				pr[c * P] *= inv;
			/* -log softmax(x)[t] = log(sum) - (x[t] - m) */
			total += w * (log(sum) - (double)(x[t * P] - m));
			wsum += w;
		}
	}
	*loss = total / wsum;
}

void FN(qt_cross_entropy_backward)(real *dlogits, const real *prob,
				   const int64_t *target, const real *weight,
				   double dloss, int64_t N, int64_t C,
				   int64_t P)
{
	double wsum = 0;
	int64_t NP = N * P;
	for (int64_t i = 0; i < NP; i++)
		wsum += weight ? (double)weight[target[i]] : 1.0;
	for (int64_t n = 0; n < N; n++) {
		for (int64_t p = 0; p < P; p++) {
			int64_t t = target[n * P + p];
			double w = weight ? (double)weight[t] : 1.0;
			real scale = (real)(dloss * w / wsum);
			const real *pr = prob + n * C * P + p;
			real *d = dlogits + n * C * P + p;
			for (int64_t c = 0; c < C; c++)
				d[c * P] = scale * (pr[c * P] - (c == t));
		}
	}
}

void FN(qt_bce_logits_forward)(double *loss, const real *x, const real *t,
			       int64_t n)
{
	double total = 0;
	for (int64_t i = 0; i < n; i++) {
		double xi = x[i], ti = t[i];
		total += (xi > 0 ? xi : 0) - xi * ti + log1p(exp(-fabs(xi)));
	}
	*loss = total / (double)n;
}

void FN(qt_bce_logits_backward)(real *dx, const real *x, const real *t,
				double dloss, int64_t n)
{
	double scale = dloss / (double)n;
	for (int64_t i = 0; i < n; i++) {
		double s = 1.0 / (1.0 + exp(-(double)x[i]));
		dx[i] = (real)(scale * (s - (double)t[i]));
	}
}

#endif
