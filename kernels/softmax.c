/* softmax.c: softmax and log-softmax over the last dimension, forward and
 * backward, on rows of C values.
 *
 *   x, y, dy, dx: (R, C), R = product of the leading dimensions
 *
 * Reference: torch.softmax(x, dim=-1), torch.log_softmax(x, dim=-1).
 *   softmax:      y = exp(x - max) / sum exp(x - max)
 *                 dx = y * (dy - sum(dy * y))
 *   log_softmax:  y = (x - max) - log(sum exp(x - max))
 *                 dx = dy - exp(y) * sum(dy)
 * Subtracting the row maximum keeps exp() from overflowing.  Row sums are
 * accumulated in double for both dtypes.  Backward overwrites dx; every
 * function may run in place (y == x, dx == dy).
 */
#ifndef REAL_TEMPLATE
#include "kernels/cpu.h"

#include <float.h>
#include <math.h>

#define KERNEL_FILE "kernels/softmax.c"
#include "kernels/template.h"
#else

static real FN(row_max)(const real *x, int64_t C)
{
	real m = -REAL_MAX;
	for (int64_t c = 0; c < C; c++)
		if (x[c] > m || x[c] != x[c])
			m = x[c];
	return m;
}

void FN(qt_softmax_forward)(real *y, const real *x, int64_t rows, int64_t C)
{
	for (int64_t r = 0; r < rows; r++) {
		const real *xr = x + r * C;
		real *yr = y + r * C;
		real m = FN(row_max)(xr, C);
		double sum = 0;
		for (int64_t c = 0; c < C; c++) {
			yr[c] = REAL_EXP(xr[c] - m);
			sum += yr[c];
		}
		real inv = (real)(1.0 / sum);
		for (int64_t c = 0; c < C; c++)
			yr[c] *= inv;
	}
}

void FN(qt_softmax_backward)(real *dx, const real *dy, const real *y,
			     int64_t rows, int64_t C)
{
	for (int64_t r = 0; r < rows; r++) {
		const real *dyr = dy + r * C, *yr = y + r * C;
		real *dxr = dx + r * C;
		double dot = 0;
		for (int64_t c = 0; c < C; c++)
			dot += (double)dyr[c] * yr[c];
		for (int64_t c = 0; c < C; c++)
			dxr[c] = yr[c] * (dyr[c] - (real)dot);
	}
}

void FN(qt_log_softmax_forward)(real *y, const real *x, int64_t rows,
				int64_t C)
{
	for (int64_t r = 0; r < rows; r++) {
		const real *xr = x + r * C;
		real *yr = y + r * C;
		real m = FN(row_max)(xr, C);
		double sum = 0;
		for (int64_t c = 0; c < C; c++)
			sum += REAL_EXP(xr[c] - m);
		/* (x - m) first: exact for x near m, where m + log(sum)
		 * would round at the scale of m */
		real lse = (real)log(sum);
		for (int64_t c = 0; c < C; c++)
			yr[c] = (xr[c] - m) - lse;
	}
}

void FN(qt_log_softmax_backward)(real *dx, const real *dy, const real *y,
				 int64_t rows, int64_t C)
{
	for (int64_t r = 0; r < rows; r++) {
		const real *dyr = dy + r * C, *yr = y + r * C;
		real *dxr = dx + r * C;
		double sum = 0;
		for (int64_t c = 0; c < C; c++)
			sum += dyr[c];
		for (int64_t c = 0; c < C; c++)
			dxr[c] = dyr[c] - REAL_EXP(yr[c]) * (real)sum;
	}
}

#endif
