/* init.c: fill a parameter tensor with constants or random numbers from
 * qt_rng; the initialisers of kernels.h (torch.nn.init) reduce to these.
 *
 *   w: n elements of any shape
 *
 * Reference: torch.nn.init.uniform_, normal_, constant_.  The bounds and
 * standard deviations of xavier_*, kaiming_* and the default Linear/Conv
 * initialisation are computed from the fans in kernels/dispatch.c.
 * Draws are made in element order from double-precision deviates
 * (qt_rng_uniform, qt_rng_normal), so float32 and float64 tensors filled
 * from the same generator state hold the same values up to rounding.
 * Uniform values lie in [lo, hi) before rounding to the tensor's dtype,
 * which for float32 may round up to hi itself.
 */
#ifndef REAL_TEMPLATE
#include "kernels/cpu.h"
#include "common/rng.h"

#define KERNEL_FILE "kernels/init.c"
#include "kernels/template.h"
#else

void FN(qt_fill_constant)(real *w, int64_t n, double value)
{
	for (int64_t i = 0; i < n; i++)
		w[i] = (real)value;
}

void FN(qt_fill_uniform)(real *w, int64_t n, double lo, double hi,
			 struct qt_rng *rng)
{
	double span = hi - lo;
	for (int64_t i = 0; i < n; i++)
		w[i] = (real)(lo + span * qt_rng_uniform(rng));
}

void FN(qt_fill_normal)(real *w, int64_t n, double mean, double std,
			struct qt_rng *rng)
{
	for (int64_t i = 0; i < n; i++)
		w[i] = (real)(mean + std * qt_rng_normal(rng));
}

#endif
