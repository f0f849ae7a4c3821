/* batchnorm.c: batch normalisation over the channels of (N, C, *),
 * forward and backward.
 *
 *   x, y, dy, dx: (N, C, P)   P = product of the dims after C: H*W for
 *                             BatchNorm2d, 1 for BatchNorm1d on (N, C),
 *                             L for BatchNorm1d on (N, C, L)
 *   gamma, beta, dgamma, dbeta, running_mean, running_var,
 *   save_mean, save_invstd: (C)
 *
 * Reference: torch.nn.BatchNorm1d/2d (F.batch_norm).  With M = N * P:
 *   training: mean = sum x / M, var = sum (x - mean)^2 / M (biased, used
 *             to normalise), invstd = 1 / sqrt(var + eps);
 *             running_mean = (1 - momentum) running_mean + momentum mean,
 *             running_var  = (1 - momentum) running_var
 *                            + momentum var * M / (M - 1)   (unbiased)
 *   eval:     mean = running_mean, invstd = 1 / sqrt(running_var + eps)
 *   y = (x - mean) * invstd * gamma + beta   (gamma 1 and beta 0 if NULL)
 * Forward saves mean and invstd (for eval: those of the running stats).
 *
 * Backward, with xhat = (x - mean) * invstd and sums over the M values of
 * one channel:
 *   dgamma += sum dy * xhat,  dbeta += sum dy      (accumulate)
 *   training: dx = gamma invstd (dy - sum dy / M - xhat sum(dy xhat) / M)
 *   eval:     dx = gamma invstd dy                  (dx is overwritten;
 *                                                   NULL skips it)
 * Statistics are accumulated in double for both dtypes (as ATen does).
 *
 * Parallelism: channels are independent; ranges of channels are shared
 * over the pool (tensors under INLINE elements run on the caller), each
 * channel computed exactly as on one thread.
 */
#ifndef REAL_TEMPLATE
#include "kernels/cpu.h"
#include "common/threadpool.h"

#include <math.h>

#define INLINE ((int64_t)1 << 16)

#define KERNEL_FILE "kernels/batchnorm.c"
#include "kernels/template.h"
#else

struct FN(bn_args) {
	real *y, *save_mean, *save_invstd, *running_mean, *running_var;
	real *dx, *dgamma, *dbeta;
	const real *x, *gamma, *beta, *dy, *csave_mean, *csave_invstd;
	int64_t N, C, P;
	int training;
	double momentum, eps;
};

static void FN(bn_forward_task)(void *arg, int64_t c0, int64_t c1,
				int chunk)
{
	const struct FN(bn_args) *a = arg;
	real *y = a->y, *save_mean = a->save_mean;
	real *save_invstd = a->save_invstd, *running_mean = a->running_mean;
	real *running_var = a->running_var;
	const real *x = a->x, *gamma = a->gamma, *beta = a->beta;
	int64_t N = a->N, C = a->C, P = a->P, M = N * P;
	int training = a->training;
	double momentum = a->momentum, eps = a->eps;
	for (int64_t c = c0; c < c1; c++) {
		double mean, invstd;
		if (training) {
			double sum = 0, sq = 0, var;
			for (int64_t n = 0; n < N; n++) {
				const real *xc = x + (n * C + c) * P;
				for (int64_t p = 0; p < P; p++)
					sum += xc[p];
			}
			mean = sum / (double)M;
			for (int64_t n = 0; n < N; n++) {
				const real *xc = x + (n * C + c) * P;
				for (int64_t p = 0; p < P; p++) {
					double d = xc[p] - mean;
					sq += d * d;
				}
			}
			var = sq / (double)M;
			invstd = 1.0 / sqrt(var + eps);
			if (running_mean)
				running_mean[c] = (real)(
					(1 - momentum) * running_mean[c] +
					momentum * mean);
			if (running_var)
				running_var[c] = (real)(
					(1 - momentum) * running_var[c] +
					momentum * sq / (double)(M - 1));
		} else {
			mean = running_mean[c];
			invstd = 1.0 / sqrt((double)running_var[c] + eps);
		}
		if (save_mean)
			save_mean[c] = (real)mean;
		if (save_invstd)
			save_invstd[c] = (real)invstd;
		/* y = x * alpha + shift, folded as ATen does */
		double g = gamma ? (double)gamma[c] : 1.0;
		double b = beta ? (double)beta[c] : 0.0;
		real alpha = (real)(invstd * g);
		real shift = (real)(b - mean * invstd * g);
		for (int64_t n = 0; n < N; n++) {
			const real *xc = x + (n * C + c) * P;
			real *yc = y + (n * C + c) * P;
			for (int64_t p = 0; p < P; p++)
				yc[p] = xc[p] * alpha + shift;
		}
	}
}

void FN(qt_batchnorm_forward)(real *y, real *save_mean, real *save_invstd,
			      real *running_mean, real *running_var,
			      const real *x, const real *gamma,
			      const real *beta, int64_t N, int64_t C,
			      int64_t P, int training, double momentum,
			      double eps, struct qt_pool *pool)
{
	struct FN(bn_args) a = {
		.y = y, .save_mean = save_mean, .save_invstd = save_invstd,
		.running_mean = running_mean, .running_var = running_var,
		.x = x, .gamma = gamma, .beta = beta, .N = N, .C = C, .P = P,
		.training = training, .momentum = momentum, .eps = eps};
	qt_pool_for(N * C * P < INLINE ? NULL : pool, C,
		    FN(bn_forward_task), &a);
}

static void FN(bn_backward_task)(void *arg, int64_t c0, int64_t c1,
				 int chunk)
{
	const struct FN(bn_args) *args = arg;
	real *dx = args->dx, *dgamma = args->dgamma, *dbeta = args->dbeta;
	const real *dy = args->dy, *x = args->x, *gamma = args->gamma;
	const real *save_mean = args->csave_mean;
	const real *save_invstd = args->csave_invstd;
	int64_t N = args->N, C = args->C, P = args->P, M = N * P;
	int training = args->training;
	for (int64_t c = c0; c < c1; c++) {
		double mean = save_mean[c], invstd = save_invstd[c];
		double g = gamma ? (double)gamma[c] : 1.0;
		double sum_dy = 0, sum_dy_xhat = 0;
		for (int64_t n = 0; n < N; n++) {
			const real *xc = x + (n * C + c) * P;
			const real *dyc = dy + (n * C + c) * P;
			for (int64_t p = 0; p < P; p++) {
				sum_dy += dyc[p];
				sum_dy_xhat += dyc[p] * ((xc[p] - mean) * invstd);
			}
		}
		if (dgamma)
			dgamma[c] += (real)sum_dy_xhat;
		if (dbeta)
			dbeta[c] += (real)sum_dy;
		if (!dx)
			continue;
		/* dx = k * (dy - a - xhat * b), in the form ATen uses */
		double k = g * invstd;
		double a = training ? sum_dy / (double)M : 0;
		double b = training ? sum_dy_xhat / (double)M : 0;
		for (int64_t n = 0; n < N; n++) {
			const real *xc = x + (n * C + c) * P;
			const real *dyc = dy + (n * C + c) * P;
			real *dxc = dx + (n * C + c) * P;
			for (int64_t p = 0; p < P; p++) {
				double xhat = (xc[p] - mean) * invstd;
				dxc[p] = (real)(k * (dyc[p] - a - xhat * b));
			}
		}
	}
}

void FN(qt_batchnorm_backward)(real *dx, real *dgamma, real *dbeta,
			       const real *dy, const real *x,
			       const real *save_mean, const real *save_invstd,
			       const real *gamma, int64_t N, int64_t C,
			       int64_t P, int training, struct qt_pool *pool)
{
	struct FN(bn_args) a = {
		.dx = dx, .dgamma = dgamma, .dbeta = dbeta, .dy = dy, .x = x,
		.csave_mean = save_mean, .csave_invstd = save_invstd,
		.gamma = gamma, .N = N, .C = C, .P = P, .training = training};
	qt_pool_for(N * C * P < INLINE ? NULL : pool, C,
		    FN(bn_backward_task), &a);
}

#endif
