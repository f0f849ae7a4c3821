/* pool2d.c: max, average and global average pooling over (H, W) planes,
 * forward and backward.
 *
 *   x (N, C, H, W) seen as nc = N*C planes, y (N, C, OH, OW),
 *   OH = floor((H - kh) / sh) + 1, OW likewise (no padding, floor mode)
 *   max:     y = max over the window; argmax (int32) = ih*W + iw of the
 *            first maximum in row-major window order, NaN wins
 *   average: y = sum over the window / (kh*kw)
 *   global:  y (N, C) = mean over H*W (summed in double)
 * Backward overwrites dx: max routes dy to argmax, average spreads
 * dy / (kh*kw) over the window, global spreads dy / (H*W).
 *
 * Reference: torch.nn.functional.max_pool2d(x, (kh, kw), (sh, sw),
 * return_indices=True), avg_pool2d(x, (kh, kw), (sh, sw)), and
 * x.mean(dim=(2, 3)).  The NaN and tie rules are those of ATen's CPU
 * max-pooling kernel.
 *
 * Parallelism: planes are independent; the pool shares them out.
 */
#ifndef REAL_TEMPLATE
#include "kernels/cpu.h"
#include "common/threadpool.h"

#include <float.h>
#include <math.h>
#include <string.h>

#define KERNEL_FILE "kernels/pool2d.c"
#include "kernels/template.h"
#else

struct FN(pool_args) {
	real *y, *dx;
	int32_t *argmax;
	const real *x, *dy;
	const int32_t *argmax_in;
	const qt_pool2d_geom *g;
	int64_t nc, hw;
};

static void FN(maxpool_forward_task)(void *arg, int64_t begin, int64_t end,
				     int chunk)
{
	const struct FN(pool_args) *a = arg;
	const qt_pool2d_geom *g = a->g;
	for (int64_t c = begin; c < end; c++) {
		const real *x = a->x + c * g->h * g->w;
		real *y = a->y + c * g->oh * g->ow;
		int32_t *am = a->argmax + c * g->oh * g->ow;
		for (int64_t i = 0; i < g->oh; i++)
		for (int64_t j = 0; j < g->ow; j++) {
			int64_t ih0 = i * g->sh, iw0 = j * g->sw;
			int64_t best = ih0 * g->w + iw0;
			real m = -(real)INFINITY;
			for (int64_t ki = 0; ki < g->kh; ki++)
			for (int64_t kj = 0; kj < g->kw; kj++) {
				int64_t idx = (ih0 + ki) * g->w + iw0 + kj;
				real v = x[idx];
				if (v > m || v != v) {
					m = v;
					best = idx;
				}
			}
			y[i * g->ow + j] = m;
			am[i * g->ow + j] = (int32_t)best;
		}
	}
}

void FN(qt_maxpool2d_forward)(real *y, int32_t *argmax, const real *x,
			      const qt_pool2d_geom *g, struct qt_pool *pool)
{
	struct FN(pool_args) a = {.y = y, .argmax = argmax, .x = x, .g = g};
	qt_pool_for(pool, g->nc, FN(maxpool_forward_task), &a);
}

static void FN(maxpool_backward_task)(void *arg, int64_t begin, int64_t end,
				      int chunk)
{
	const struct FN(pool_args) *a = arg;
	const qt_pool2d_geom *g = a->g;
	int64_t po = g->oh * g->ow;
	for (int64_t c = begin; c < end; c++) {
		real *dx = a->dx + c * g->h * g->w;
		const real *dy = a->dy + c * po;
		const int32_t *am = a->argmax_in + c * po;
		memset(dx, 0, (size_t)(g->h * g->w) * sizeof(real));
		for (int64_t o = 0; o < po; o++)
			dx[am[o]] += dy[o];
	}
}

void FN(qt_maxpool2d_backward)(real *dx, const real *dy,
			       const int32_t *argmax, const qt_pool2d_geom *g,
			       struct qt_pool *pool)
{
	struct FN(pool_args) a = {.dx = dx, .dy = dy, .argmax_in = argmax,
				  .g = g};
	qt_pool_for(pool, g->nc, FN(maxpool_backward_task), &a);
}

static void FN(avgpool_forward_task)(void *arg, int64_t begin, int64_t end,
				     int chunk)
{
	const struct FN(pool_args) *a = arg;
	const qt_pool2d_geom *g = a->g;
	real div = (real)(g->kh * g->kw);
	for (int64_t c = begin; c < end; c++) {
		const real *x = a->x + c * g->h * g->w;
		real *y = a->y + c * g->oh * g->ow;
		for (int64_t i = 0; i < g->oh; i++)
		for (int64_t j = 0; j < g->ow; j++) {
			const real *xw = x + i * g->sh * g->w + j * g->sw;
			real sum = 0;
			for (int64_t ki = 0; ki < g->kh; ki++)
				for (int64_t kj = 0; kj < g->kw; kj++)
					sum += xw[ki * g->w + kj];
			y[i * g->ow + j] = sum / div;
		}
	}
}

void FN(qt_avgpool2d_forward)(real *y, const real *x, const qt_pool2d_geom *g,
			      struct qt_pool *pool)
{
	struct FN(pool_args) a = {.y = y, .x = x, .g = g};
	qt_pool_for(pool, g->nc, FN(avgpool_forward_task), &a);
}

static void FN(avgpool_backward_task)(void *arg, int64_t begin, int64_t end,
				      int chunk)
{
	const struct FN(pool_args) *a = arg;
	const qt_pool2d_geom *g = a->g;
	real div = (real)(g->kh * g->kw);
	for (int64_t c = begin; c < end; c++) {
		real *dx = a->dx + c * g->h * g->w;
		const real *dy = a->dy + c * g->oh * g->ow;
		memset(dx, 0, (size_t)(g->h * g->w) * sizeof(real));
		for (int64_t i = 0; i < g->oh; i++)
		for (int64_t j = 0; j < g->ow; j++) {
			real *dxw = dx + i * g->sh * g->w + j * g->sw;
			real d = dy[i * g->ow + j] / div;
			for (int64_t ki = 0; ki < g->kh; ki++)
				for (int64_t kj = 0; kj < g->kw; kj++)
					dxw[ki * g->w + kj] += d;
		}
	}
}

void FN(qt_avgpool2d_backward)(real *dx, const real *dy,
			       const qt_pool2d_geom *g, struct qt_pool *pool)
{
	struct FN(pool_args) a = {.dx = dx, .dy = dy, .g = g};
	qt_pool_for(pool, g->nc, FN(avgpool_backward_task), &a);
}

static void FN(gap_forward_task)(void *arg, int64_t begin, int64_t end,
				 int chunk)
{
	const struct FN(pool_args) *a = arg;
	for (int64_t c = begin; c < end; c++) {
		const real *x = a->x + c * a->hw;
		double sum = 0;
		for (int64_t i = 0; i < a->hw; i++)
			sum += x[i];
		a->y[c] = (real)(sum / (double)a->hw);
	}
}

void FN(qt_global_avgpool2d_forward)(real *y, const real *x, int64_t nc,
				     int64_t hw, struct qt_pool *pool)
{
	struct FN(pool_args) a = {.y = y, .x = x, .nc = nc, .hw = hw};
	qt_pool_for(pool, nc, FN(gap_forward_task), &a);
}

static void FN(gap_backward_task)(void *arg, int64_t begin, int64_t end,
				  int chunk)
{
	const struct FN(pool_args) *a = arg;
	for (int64_t c = begin; c < end; c++) {
		real *dx = a->dx + c * a->hw;
		real d = a->dy[c] / (real)a->hw;
		for (int64_t i = 0; i < a->hw; i++)
			dx[i] = d;
	}
}

void FN(qt_global_avgpool2d_backward)(real *dx, const real *dy, int64_t nc,
				      int64_t hw, struct qt_pool *pool)
{
	struct FN(pool_args) a = {.dx = dx, .dy = dy, .nc = nc, .hw = hw};
	qt_pool_for(pool, nc, FN(gap_backward_task), &a);
}

#endif
