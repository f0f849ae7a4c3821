/* mse.c: mean squared error loss, forward and backward.
 *
 *   pred, target, dpred: n elements of any (equal) shape
 *
 * Reference: torch.nn.functional.mse_loss(pred, target, reduction='mean').
 *   loss  = sum (pred - target)^2 / n        (accumulated in double)
 *   dpred = dloss * 2 (pred - target) / n    (overwrites dpred)
 */
#ifndef REAL_TEMPLATE
#include "kernels/cpu.h"

#define KERNEL_FILE "kernels/mse.c"
#include "kernels/template.h"
#else

void FN(qt_mse_forward)(double *loss, const real *pred, const real *target,
			int64_t n)
{
	double total = 0;
	for (int64_t i = 0; i < n; i++) {
		double d = (double)pred[i] - (double)target[i];
		total += d * d;
	}
	*loss = total / (double)n;
}

void FN(qt_mse_backward)(real *dpred, const real *pred, const real *target,
			 double dloss, int64_t n)
{
	real scale = (real)(2.0 * dloss / (double)n);
	for (int64_t i = 0; i < n; i++)
		dpred[i] = scale * (pred[i] - target[i]);
}

#endif
