/* dense.c: the fully connected layer, forward and backward, through CBLAS.
 *
 *   x (m, in), w (out, in), b (out) or NULL, y (m, out)
 *   forward   y  = x w^T + b
 *   backward  dx = dy w           (overwritten)
 *             dw += dy^T x        (accumulated)
 *             db += sum_rows dy   (accumulated, summed in double)
 *
 * Reference: torch.nn.Linear / torch.nn.functional.linear, whose weight is
 * (out_features, in_features).
 *
 * Parallelism: the work is cut into blocks of BLOCK rows (of y and dx) or
 * BLOCK output features (of dw and db) whatever the thread count, each
 * block one single-threaded BLAS call, and the pool shares the blocks out.
 * A result element is thus always computed by the same call with the same
 * operands, so the output is the same bit for bit for every thread count.
 * Products under INLINE multiply-adds run on the caller: waking the pool
 * (10-30 us) would cost more than they take.
 *
 * A batch of one row block (the eor regressor's 16 maps into a 160000 ->
 * 1024 layer) would leave y and dx to one call on one thread; there the
 * blocks are of columns instead: COLS output features of y, COLS input
 * features of dx, still fixed by the shapes alone.  The column blocks of
 * one call hold the same operands and the same inner dimension as the
 * whole product, so BLAS sums each element in the same order.
 */
#ifndef REAL_TEMPLATE
#include "kernels/cpu.h"
#include "common/threadpool.h"

#include <cblas.h>
#include <float.h>
#include <math.h>
#include <string.h>

#define BLOCK 64
#define COLS 256
#define INLINE ((int64_t)1 << 20)

static struct qt_pool *pool_for_macs(struct qt_pool *pool, int64_t m,
				     int64_t in, int64_t out)
{
	return m * in * out < INLINE ? NULL : pool;
}

#define KERNEL_FILE "kernels/dense.c"
#include "kernels/template.h"
#else

struct FN(dense_args) {
	real *y, *dx, *dw, *db;
	const real *x, *w, *b, *dy;
	int64_t m, in, out;
};

/* y[r0:r1] = x[r0:r1] w^T + b for row blocks [begin, end) */
static void FN(dense_forward_task)(void *arg, int64_t begin, int64_t end,
				   int chunk)
{
	const struct FN(dense_args) *a = arg;
	for (int64_t blk = begin; blk < end; blk++) {
		int64_t r0 = blk * BLOCK;
		int64_t rows = a->m - r0 < BLOCK ? a->m - r0 : BLOCK;
		real *y = a->y + r0 * a->out;
		real beta = 0;
		if (a->b) {
			for (int64_t r = 0; r < rows; r++)
				memcpy(y + r * a->out, a->b,
				       (size_t)a->out * sizeof(real));
			beta = 1;
		}
		GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows,
		     (int)a->out, (int)a->in, 1, a->x + r0 * a->in, (int)a->in,
		     a->w, (int)a->in, beta, y, (int)a->out);
	}
}

/* y[:, o0:o1] = x w[o0:o1]^T + b[o0:o1] for blocks of COLS outputs */
static void FN(dense_forward_cols_task)(void *arg, int64_t begin,
					int64_t end, int chunk)
{
	const struct FN(dense_args) *a = arg;
	for (int64_t blk = begin; blk < end; blk++) {
		int64_t o0 = blk * COLS;
		int64_t cols = a->out - o0 < COLS ? a->out - o0 : COLS;
		real beta = 0;
		if (a->b) {
			for (int64_t r = 0; r < a->m; r++)
				memcpy(a->y + r * a->out + o0, a->b + o0,
				       (size_t)cols * sizeof(real));
			beta = 1;
		}
		GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, (int)a->m,
		     (int)cols, (int)a->in, 1, a->x, (int)a->in,
		     a->w + o0 * a->in, (int)a->in, beta, a->y + o0,
		     (int)a->out);
	}
}

void FN(qt_dense_forward)(real *y, const real *x, const real *w,
			  const real *b, int64_t m, int64_t in, int64_t out,
			  struct qt_pool *pool)
{
	struct FN(dense_args) a = {.y = y, .x = x, .w = w, .b = b,
				   .m = m, .in = in, .out = out};
	pool = pool_for_macs(pool, m, in, out);
	if (m <= BLOCK && out > COLS)
		qt_pool_for(pool, (out + COLS - 1) / COLS,
			    FN(dense_forward_cols_task), &a);
	else
		qt_pool_for(pool, (m + BLOCK - 1) / BLOCK,
			    FN(dense_forward_task), &a);
}

/* dx[r0:r1] = dy[r0:r1] w for row blocks */
static void FN(dense_dx_task)(void *arg, int64_t begin, int64_t end,
			      int chunk)
{
	const struct FN(dense_args) *a = arg;
	for (int64_t blk = begin; blk < end; blk++) {
		int64_t r0 = blk * BLOCK;
		int64_t rows = a->m - r0 < BLOCK ? a->m - r0 : BLOCK;
		GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)rows,
		     (int)a->in, (int)a->out, 1, a->dy + r0 * a->out,
		     (int)a->out, a->w, (int)a->in, 0, a->dx + r0 * a->in,
		     (int)a->in);
	}
}

/* dx[:, i0:i1] = dy w[:, i0:i1] for blocks of COLS inputs */
static void FN(dense_dx_cols_task)(void *arg, int64_t begin, int64_t end,
				   int chunk)
{
	const struct FN(dense_args) *a = arg;
	for (int64_t blk = begin; blk < end; blk++) {
		int64_t i0 = blk * COLS;
		int64_t cols = a->in - i0 < COLS ? a->in - i0 : COLS;
		GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)a->m,
		     (int)cols, (int)a->out, 1, a->dy, (int)a->out, a->w + i0,
		     (int)a->in, 0, a->dx + i0, (int)a->in);
	}
}

/* dw[o0:o1] += dy[:, o0:o1]^T x and db[o0:o1] += sum_rows dy[:, o0:o1]
 * for blocks of output features */
static void FN(dense_dw_task)(void *arg, int64_t begin, int64_t end,
			      int chunk)
{
	const struct FN(dense_args) *a = arg;
	for (int64_t blk = begin; blk < end; blk++) {
		int64_t o0 = blk * BLOCK;
		int64_t cols = a->out - o0 < BLOCK ? a->out - o0 : BLOCK;
		if (a->dw)
			GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, (int)cols,
			     (int)a->in, (int)a->m, 1, a->dy + o0, (int)a->out,
			     a->x, (int)a->in, 1, a->dw + o0 * a->in,
			     (int)a->in);
		if (a->db) {
			double sum[BLOCK] = {0};
			for (int64_t r = 0; r < a->m; r++) {
				const real *dyr = a->dy + r * a->out + o0;
				for (int64_t j = 0; j < cols; j++)
					sum[j] += dyr[j];
			}
			for (int64_t j = 0; j < cols; j++)
				a->db[o0 + j] += (real)sum[j];
		}
	}
}

void FN(qt_dense_backward)(real *dx, real *dw, real *db, const real *dy,
			   const real *x, const real *w, int64_t m, int64_t in,
			   int64_t out, struct qt_pool *pool)
{
	struct FN(dense_args) a = {.dx = dx, .dw = dw, .db = db, .dy = dy,
				   .x = x, .w = w, .m = m, .in = in,
				   .out = out};
	pool = pool_for_macs(pool, m, in, out);
	if (dx && m <= BLOCK && in > COLS)
		qt_pool_for(pool, (in + COLS - 1) / COLS,
			    FN(dense_dx_cols_task), &a);
	else if (dx)
		qt_pool_for(pool, (m + BLOCK - 1) / BLOCK, FN(dense_dx_task),
			    &a);
	if ((dw || db) && m > 0)
		qt_pool_for(pool, (out + BLOCK - 1) / BLOCK,
			    FN(dense_dw_task), &a);
}

#endif
