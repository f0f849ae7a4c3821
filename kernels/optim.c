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
 */
#ifndef REAL_TEMPLATE
#include "kernels/cpu.h"

#include <math.h>

#define KERNEL_FILE "kernels/optim.c"
#include "kernels/template.h"
#else

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

void FN(qt_adam_step)(real *param, real *exp_avg, real *exp_avg_sq,
		      real *max_exp_avg_sq, const real *grad, int64_t n,
		      double lr, double beta1, double beta2, double eps,
		      double weight_decay, int decoupled, int maximize,
		      int64_t step)
{
	double t = (double)step;
	real step_size = (real)(lr / (1 - pow(beta1, t)));
	real bc2_sqrt = (real)sqrt(1 - pow(beta2, t));
	real b1 = (real)beta1, b2 = (real)beta2;
	real c1 = (real)(1 - beta1), c2 = (real)(1 - beta2);
	real reps = (real)eps, wd = (real)weight_decay;
	real decay = (real)(1 - lr * weight_decay);
	for (int64_t i = 0; i < n; i++) {
		real g = maximize ? -grad[i] : grad[i];
		real v, denom;
		if (decoupled)
			param[i] *= decay;
		else if (weight_decay != 0)
			g += wd * param[i];
		exp_avg[i] = exp_avg[i] * b1 + c1 * g;
		exp_avg_sq[i] = exp_avg_sq[i] * b2 + c2 * g * g;
		v = exp_avg_sq[i];
		if (max_exp_avg_sq) {
			if (v > max_exp_avg_sq[i])
				max_exp_avg_sq[i] = v;
			v = max_exp_avg_sq[i];
		}
		denom = REAL_SQRT(v) / bc2_sqrt + reps;
		param[i] -= step_size * exp_avg[i] / denom;
	}
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
