/* dropout.c: inverted dropout, forward and backward.
 *
 *   x, y, dy, dx: n elements of any (equal) shape
 *   mask: n bytes, 1 = kept, 0 = dropped (caller-owned; forward writes it)
 *
 * Reference: torch.nn.functional.dropout(x, p, training).  In training
 * each element is kept with probability 1 - p and scaled by 1 / (1 - p),
 * so the expected output equals the input; p == 1 drops everything (y = 0).
 * In evaluation the op is the identity and the mask is not used.
 * As in torch, dropped elements are multiplied by 0 (a NaN stays NaN).
 *   y  = x * mask / (1 - p)
 *   dx = dy * mask / (1 - p)      (overwrites dx)
 *
 * The mask is drawn from qt_rng, one 32-bit word per element in element
 * order: element i is kept when word_i < (1 - p) * 2^32.  The same
 * generator state therefore gives the same mask for float32 and float64.
 */
#ifndef REAL_TEMPLATE
#include "kernels/cpu.h"
#include "common/rng.h"

#include <string.h>

#define KERNEL_FILE "kernels/dropout.c"
#include "kernels/template.h"
#else

void FN(qt_dropout_forward)(real *y, uint8_t *mask, const real *x, int64_t n,
			    double p, int training, struct qt_rng *rng)
{
	if (!training) {
		if (y != x)
			memmove(y, x, (size_t)n * sizeof *y);
		return;
	}
	double keep_below = (1.0 - p) * 4294967296.0;
	real scale = p < 1 ? (real)(1.0 / (1.0 - p)) : 0;
	for (int64_t i = 0; i < n; i++) {
		mask[i] = (double)qt_rng_u32(rng) < keep_below;
		y[i] = x[i] * (mask[i] ? scale : 0);
	}
}

void FN(qt_dropout_backward)(real *dx, const real *dy, const uint8_t *mask,
			     int64_t n, double p, int training)
{
	if (!training) {
		if (dx != dy)
			memmove(dx, dy, (size_t)n * sizeof *dx);
		return;
	}
	real scale = p < 1 ? (real)(1.0 / (1.0 - p)) : 0;
	for (int64_t i = 0; i < n; i++)
		dx[i] = dy[i] * (mask[i] ? scale : 0);
}

#endif
