/* conv2d.c: 2-D convolution (cross-correlation), forward and backward, by
 * im2col + GEMM.
 *
 *   x (N, Cin, H, W), w (Cout, Cin, KH, KW), b (Cout) or NULL,
 *   y (N, Cout, OH, OW); K = Cin*KH*KW, P = OH*OW
 *   y[n, co, i, j] = b[co] + sum_{ci,ki,kj} w[co, ci, ki, kj]
 *                    * x[n, ci, i*sh - pt + ki, j*sw - pl + kj]
 *   (zero outside the input; bottom/right padding is implied by OH, OW)
 *
 * Reference: torch.nn.functional.conv2d(F.pad(x, (pl, pr, pt, pb)), w, b,
 * stride=(sh, sw)); with pads from qt_conv2d_same_padding it is
 * torch.nn.Conv2d(padding='same') and Keras padding='same'.
 *
 * Per sample, the output pixels are cut into tiles of at most COL_ELEMS / K
 * pixels (a bound on the im2col buffer whatever the image size); for a
 * tile, col (K, tile) holds the input patches and
 *   forward   y[n][:, tile]  = w (Cout, K) col            (+ b)
 *   backward  dw            += dy[n][:, tile] col^T        (accumulated)
 *             dcol           = w^T dy[n][:, tile], scattered into dx[n]
 *             db            += sum over the tile of dy[n]  (accumulated)
 * A 1x1 kernel with stride 1 and no padding uses x and dx in place of col.
 * dx is overwritten.
 *
 * Parallelism, one level: the forward pass shares the (sample, tile)
 * tasks over the pool; the backward pass cuts the batch into
 * min(N, SLOTS) slots of consecutive samples, each with its own dw/db
 * partial sum, then adds the partial sums in slot order.  The slots and
 * tiles do not depend on the thread count, so neither do the results.
 *
 * Workspace (elements): first (slots - 1) * (Cout*K + Cout) partial sums
 * (slot 0 adds straight into dw and db), then per thread 2*K*tile (col and
 * dcol), none for the 1x1 case.
 */
#ifndef REAL_TEMPLATE
#include "kernels/cpu.h"
#include "common/threadpool.h"

#include <cblas.h>
#include <float.h>
#include <math.h>
#include <string.h>

#define COL_ELEMS ((int64_t)1 << 19) /* im2col tile bound, elements */
#define MIN_TILE 32                  /* pixels, however large K is */
#define SLOTS 16                     /* backward partial sums, fixed */

static int conv_direct(const qt_conv2d_geom *g)
{
	return g->kh == 1 && g->kw == 1 && g->sh == 1 && g->sw == 1 &&
	       g->pt == 0 && g->pl == 0 && g->oh == g->h && g->ow == g->w;
}

/* Output pixels per tile. */
static int64_t conv_tile(const qt_conv2d_geom *g)
{
	int64_t k = g->cin * g->kh * g->kw, p = g->oh * g->ow;
	int64_t t = COL_ELEMS / k;
	if (t < MIN_TILE)
		t = MIN_TILE;
	return t < p ? t : p;
}

static int64_t conv_slots(const qt_conv2d_geom *g)
{
	return g->n < SLOTS ? g->n : SLOTS;
}

/* Elements of the backward partial sums, at the start of the workspace. */
static int64_t conv_partial_elems(const qt_conv2d_geom *g)
{
	int64_t s = conv_slots(g);
	return s > 1 ? (s - 1) * (g->cout * g->cin * g->kh * g->kw + g->cout) : 0;
}

/* Elements of one thread's col + dcol buffers, after the partial sums. */
static int64_t conv_col_elems(const qt_conv2d_geom *g)
{
	return conv_direct(g) ? 0 : 2 * g->cin * g->kh * g->kw * conv_tile(g);
}

size_t qt_conv2d_workspace_cpu(const qt_conv2d_geom *g, int nthreads,
			       size_t elsize)
{
	int64_t elems = conv_partial_elems(g) + nthreads * conv_col_elems(g);
	return (size_t)elems * elsize;
}

/* First sample of slot s of ns over n samples (as qt_pool_for splits). */
static int64_t slot_begin(int64_t n, int64_t ns, int64_t s)
{
	return (n / ns) * s + (n % ns) * s / ns;
}

#define KERNEL_FILE "kernels/conv2d.c"
#include "kernels/template.h"
#else

/* col (K, np) = the input patches of output pixels [p0, p0 + np) of one
 * sample x (Cin, H, W); row (ci*KH + ki)*KW + kj. */
static void FN(im2col)(real *col, const real *x, const qt_conv2d_geom *g,
		       int64_t p0, int64_t np)
{
	real *dst = col;
	for (int64_t ci = 0; ci < g->cin; ci++)
	for (int64_t ki = 0; ki < g->kh; ki++)
	for (int64_t kj = 0; kj < g->kw; kj++) {
		const real *xc = x + ci * g->h * g->w;
		int64_t oi = p0 / g->ow, oj = p0 % g->ow, left = np;
		while (left > 0) {
			int64_t run = g->ow - oj < left ? g->ow - oj : left;
			int64_t ih = oi * g->sh - g->pt + ki;
			int64_t iw0 = oj * g->sw - g->pl + kj;
			if (ih < 0 || ih >= g->h) {
				memset(dst, 0, (size_t)run * sizeof(real));
			} else if (g->sw == 1) {
				/* [0, lo) and [hi, run) fall outside the row */
				const real *xr = xc + ih * g->w;
				int64_t lo = iw0 < 0 ? -iw0 : 0;
				int64_t hi = g->w - iw0;
				if (lo > run)
					lo = run;
				if (hi > run)
					hi = run;
				if (hi < lo)
					hi = lo;
				memset(dst, 0, (size_t)lo * sizeof(real));
				memcpy(dst + lo, xr + iw0 + lo,
				       (size_t)(hi - lo) * sizeof(real));
				memset(dst + hi, 0,
				       (size_t)(run - hi) * sizeof(real));
			} else {
				const real *xr = xc + ih * g->w;
				for (int64_t j = 0; j < run; j++) {
					int64_t iw = iw0 + j * g->sw;
					dst[j] = iw >= 0 && iw < g->w ? xr[iw] : 0;
				}
			}
			dst += run;
			left -= run;
			oi++;
			oj = 0;
		}
	}
}

/* dx (Cin, H, W) += the patches in col (K, np), the reverse of im2col. */
static void FN(col2im)(real *dx, const real *col, const qt_conv2d_geom *g,
		       int64_t p0, int64_t np)
{
	const real *src = col;
	for (int64_t ci = 0; ci < g->cin; ci++)
	for (int64_t ki = 0; ki < g->kh; ki++)
	for (int64_t kj = 0; kj < g->kw; kj++) {
		real *dxc = dx + ci * g->h * g->w;
		int64_t oi = p0 / g->ow, oj = p0 % g->ow, left = np;
		while (left > 0) {
			int64_t run = g->ow - oj < left ? g->ow - oj : left;
			int64_t ih = oi * g->sh - g->pt + ki;
			int64_t iw0 = oj * g->sw - g->pl + kj;
			if (ih >= 0 && ih < g->h) {
				real *dxr = dxc + ih * g->w;
				for (int64_t j = 0; j < run; j++) {
					int64_t iw = iw0 + j * g->sw;
					if (iw >= 0 && iw < g->w)
						dxr[iw] += src[j];
				}
			}
			src += run;
			left -= run;
			oi++;
			oj = 0;
		}
	}
}

struct FN(conv_args) {
	real *y, *dx, *dw, *db;
	const real *x, *w, *b, *dy;
	const qt_conv2d_geom *g;
	real *work;
	int64_t tile, ntiles;
};

/* Forward: tasks t = n * ntiles + tile index. */
static void FN(conv_forward_task)(void *arg, int64_t begin, int64_t end,
				  int chunk)
{
	const struct FN(conv_args) *a = arg;
	const qt_conv2d_geom *g = a->g;
	int64_t k = g->cin * g->kh * g->kw, p = g->oh * g->ow;
	int direct = conv_direct(g);
	/* the 1x1 case needs no col buffer, and work may be NULL */
	real *col = direct ? NULL
			   : a->work + conv_partial_elems(g) +
				     chunk * conv_col_elems(g);

	for (int64_t t = begin; t < end; t++) {
		int64_t n = t / a->ntiles, p0 = t % a->ntiles * a->tile;
		int64_t np = p - p0 < a->tile ? p - p0 : a->tile;
		const real *xn = a->x + n * g->cin * g->h * g->w;
		real *yn = a->y + n * g->cout * p + p0;
		const real *B = col;
		int64_t ldb = np;
		real beta = 0;

		if (direct) {
			B = xn + p0;
			ldb = p;
		} else {
			FN(im2col)(col, xn, g, p0, np);
		}
		if (a->b) {
			for (int64_t co = 0; co < g->cout; co++)
				for (int64_t j = 0; j < np; j++)
					yn[co * p + j] = a->b[co];
			beta = 1;
		}
		GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)g->cout,
		     (int)np, (int)k, 1, a->w, (int)k, B, (int)ldb, beta, yn,
		     (int)p);
	}
}

void FN(qt_conv2d_forward)(real *y, const real *x, const real *w,
			   const real *b, const qt_conv2d_geom *g, void *work,
			   struct qt_pool *pool)
{
	struct FN(conv_args) a = {.y = y, .x = x, .w = w, .b = b, .g = g,
				  .work = work};
	a.tile = conv_tile(g);
	a.ntiles = a.tile > 0 ? (g->oh * g->ow + a.tile - 1) / a.tile : 0;
	qt_pool_for(pool, g->n * a.ntiles, FN(conv_forward_task), &a);
}

/* Backward over slots [begin, end) of consecutive samples. */
static void FN(conv_backward_task)(void *arg, int64_t begin, int64_t end,
				   int chunk)
{
	const struct FN(conv_args) *a = arg;
	const qt_conv2d_geom *g = a->g;
	int64_t k = g->cin * g->kh * g->kw, p = g->oh * g->ow;
	int64_t hw = g->h * g->w, ns = conv_slots(g);
	int direct = conv_direct(g);
	real *col = direct ? NULL
			   : a->work + conv_partial_elems(g) +
				     chunk * conv_col_elems(g);
	real *dcol = direct ? NULL : col + k * a->tile;

	for (int64_t s = begin; s < end; s++) {
		real *dw = a->dw, *db = a->db;
		if (s > 0) {
			/* slot s > 0 sums into its own zeroed partial */
			real *part = a->work + (s - 1) * (g->cout * k + g->cout);
			memset(part, 0,
			       (size_t)(g->cout * k + g->cout) * sizeof(real));
			dw = dw ? part : NULL;
			db = db ? part + g->cout * k : NULL;
		}
		for (int64_t n = slot_begin(g->n, ns, s);
		     n < slot_begin(g->n, ns, s + 1); n++) {
			const real *xn = a->x + n * g->cin * hw;
			const real *dyn = a->dy + n * g->cout * p;
			real *dxn = a->dx ? a->dx + n * g->cin * hw : NULL;
			if (dxn && !direct)
				memset(dxn, 0, (size_t)(g->cin * hw) * sizeof(real));
			for (int64_t p0 = 0; p0 < p; p0 += a->tile) {
				int64_t np = p - p0 < a->tile ? p - p0 : a->tile;
				if (dw) {
					const real *B = xn + p0;
					int64_t ldb = p;
					if (!direct) {
						FN(im2col)(col, xn, g, p0, np);
						B = col;
						ldb = np;
					}
					GEMM(CblasRowMajor, CblasNoTrans,
					     CblasTrans, (int)g->cout, (int)k,
					     (int)np, 1, dyn + p0, (int)p, B,
					     (int)ldb, 1, dw, (int)k);
				}
				if (db) {
					for (int64_t co = 0; co < g->cout; co++) {
						const real *d = dyn + co * p + p0;
						double sum = 0;
						for (int64_t j = 0; j < np; j++)
							sum += d[j];
						db[co] += (real)sum;
					}
				}
				if (dxn && direct) {
					GEMM(CblasRowMajor, CblasTrans,
					     CblasNoTrans, (int)k, (int)np,
					     (int)g->cout, 1, a->w, (int)k,
					     dyn + p0, (int)p, 0, dxn + p0,
					     (int)p);
				} else if (dxn) {
					GEMM(CblasRowMajor, CblasTrans,
					     CblasNoTrans, (int)k, (int)np,
					     (int)g->cout, 1, a->w, (int)k,
					     dyn + p0, (int)p, 0, dcol, (int)np);
					FN(col2im)(dxn, dcol, g, p0, np);
				}
			}
		}
	}
}

/* dw and db += the partial sums of slots 1.., in slot order, over
 * elements [begin, end) of the concatenation (dw, db). */
static void FN(conv_reduce_task)(void *arg, int64_t begin, int64_t end,
				 int chunk)
{
	const struct FN(conv_args) *a = arg;
	const qt_conv2d_geom *g = a->g;
	int64_t nw = g->cout * g->cin * g->kh * g->kw, stride = nw + g->cout;
	int64_t ns = conv_slots(g);

	for (int64_t e = begin; e < end; e++) {
		if ((e < nw && !a->dw) || (e >= nw && !a->db))
			continue;
		real *dst = e < nw ? a->dw + e : a->db + (e - nw);
		real sum = *dst;
		for (int64_t s = 1; s < ns; s++)
			sum += a->work[(s - 1) * stride + e];
		*dst = sum;
	}
}

void FN(qt_conv2d_backward)(real *dx, real *dw, real *db, const real *dy,
			    const real *x, const real *w,
			    const qt_conv2d_geom *g, void *work,
			    struct qt_pool *pool)
{
	struct FN(conv_args) a = {.dx = dx, .dw = dw, .db = db, .dy = dy,
				  .x = x, .w = w, .g = g, .work = work};
	int64_t ns = conv_slots(g);
	if (g->n == 0)
		return;
	a.tile = conv_tile(g);
	qt_pool_for(pool, ns, FN(conv_backward_task), &a);
	if (ns > 1 && (dw || db))
		qt_pool_for(pool, g->cout * g->cin * g->kh * g->kw + g->cout,
			    FN(conv_reduce_task), &a);
}

#endif
