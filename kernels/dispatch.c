/* dispatch.c: the tensor-level entry points of kernels.h.  Each checks its
 * arguments, then routes to the CPU function of the tensors' dtype
 * (kernels/cpu.h) or to the CUDA launcher (kernels/cuda.h).  This is the
 * only file of quanta with #ifdef QT_HAVE_CUDA. */
#include "kernels/kernels.h"
#include "kernels/cpu.h"
#ifdef QT_HAVE_CUDA
#include "kernels/cuda.h"
#endif

/* ==== part 1: dense, convolution, pooling, activations ==== */

#include "common/threadpool.h"

#include <limits.h>
#include <stdint.h>

/* Helpers of part 1; the p1_ prefix keeps them apart from part 2's. */

#define P1_SHAPE(buf, t) qt_shape_str(buf, sizeof buf, (t)->ndim, (t)->shape)

static qt_device p1_device(const qt_ctx *ctx)
{
	return ctx ? ctx->device : QT_CPU;
}

static struct qt_pool *p1_pool(const qt_ctx *ctx)
{
	return ctx ? ctx->pool : NULL;
}

static const char *p1_device_name(qt_device dev)
{
	return dev == QT_CPU ? "cpu" : dev == QT_CUDA ? "cuda" : "an unknown device";
}

/* The context's device has no kernel for op. */
static int p1_no_kernel(const char *op, qt_device dev)
{
	if (dev != QT_CUDA)
		return qt_error(QT_EUSAGE, "%s: unknown device %d", op, (int)dev);
#ifdef QT_HAVE_CUDA
	return qt_error(QT_ENODEV, "%s: no CUDA kernel yet; use --device cpu",
			op);
#else
	return qt_error(QT_ENODEV, "%s: quanta was built without CUDA; use "
			"--device cpu", op);
#endif
}

/* t is given, of dtype dt (float32 or float64 when dt is QT_NDTYPES), on
 * the context's device, with ndim dimensions (any when ndim < 0). */
static int p1_check(const char *op, const char *name, const qt_tensor *t,
		    qt_dtype dt, const qt_ctx *ctx, int ndim)
{
	char s[128];
	if (!t)
		return qt_error(QT_EUSAGE, "%s: %s is NULL", op, name);
	if (dt == QT_NDTYPES && !qt_dtype_is_float(t->dtype))
		return qt_error(QT_ESHAPE, "%s: %s is %s; only float32 and "
				"float64 are supported", op, name,
				qt_dtype_name(t->dtype));
	if (dt != QT_NDTYPES && t->dtype != dt)
		return qt_error(QT_ESHAPE, "%s: %s is %s, expected %s", op,
				name, qt_dtype_name(t->dtype),
				qt_dtype_name(dt));
	if (t->device != p1_device(ctx))
		return qt_error(QT_EUSAGE, "%s: %s is on %s but the context "
				"is %s", op, name, p1_device_name(t->device),
				p1_device_name(p1_device(ctx)));
	if (ndim >= 0 && t->ndim != ndim)
		return qt_error(QT_ESHAPE, "%s: %s %s should have %d "
				"dimensions", op, name, P1_SHAPE(s, t), ndim);
	if (!t->data && qt_tensor_numel(t) > 0)
		return qt_error(QT_EUSAGE, "%s: %s has no data", op, name);
	return 0;
}

/* t (checked) has exactly this shape. */
static int p1_shape(const char *op, const char *name, const qt_tensor *t,
		    int ndim, const int64_t *shape)
{
	char s[128], want[128];
	int ok = t->ndim == ndim;
	for (int i = 0; ok && i < ndim; i++)
		ok = t->shape[i] == shape[i];
	if (!ok)
		return qt_error(QT_ESHAPE, "%s: %s is %s, expected %s", op,
				name, P1_SHAPE(s, t),
				qt_shape_str(want, sizeof want, ndim, shape));
	return 0;
}

/* The checks and sizes shared by dense forward and backward: x (..., in),
 * w (out, in), b (out) or NULL, y (..., out). */
static int p1_dense(const char *op, int64_t *m, const qt_tensor *y,
		    const char *yname, const qt_tensor *x, const qt_tensor *w,
		    const qt_tensor *b, const qt_ctx *ctx)
{
	char sx[128], sw[128];
	int64_t shape[QT_MAX_DIMS];
	int rc;
	if ((rc = p1_check(op, "x", x, QT_NDTYPES, ctx, -1)) ||
	    (rc = p1_check(op, "w", w, x->dtype, ctx, 2)) ||
	    (rc = p1_check(op, yname, y, x->dtype, ctx, x->ndim)) ||
	    (b && (rc = p1_check(op, "b", b, x->dtype, ctx, 1))))
		return rc;
	int64_t out = w->shape[0], in = w->shape[1];
	if (out < 1 || in < 1 || out > INT_MAX || in > INT_MAX)
		return qt_error(QT_ESHAPE, "%s: weight %s: in and out features "
				"must be 1 to %d", op, P1_SHAPE(sw, w), INT_MAX);
	if (x->ndim < 1 || x->shape[x->ndim - 1] != in)
		return qt_error(QT_ESHAPE, "%s: x %s does not fit weight %s: "
				"its last dimension must be in_features = %lld",
				op, P1_SHAPE(sx, x), P1_SHAPE(sw, w),
				(long long)in);
	for (int i = 0; i < x->ndim; i++)
		shape[i] = i < x->ndim - 1 ? x->shape[i] : out;
	if ((rc = p1_shape(op, yname, y, x->ndim, shape)))
		return rc;
	if (b && (rc = p1_shape(op, "b", b, 1, &out)))
		return rc;
	*m = qt_tensor_numel(x) / in;
	if (*m > INT_MAX)
		return qt_error(QT_ESHAPE, "%s: x %s has more than %d rows", op,
				P1_SHAPE(sx, x), INT_MAX);
	return 0;
}

int qt_dense_forward(qt_tensor *y, const qt_tensor *x, const qt_tensor *w,
		     const qt_tensor *b, qt_ctx *ctx)
{
	const char *op = "dense_forward";
	int64_t m;
	int rc = p1_dense(op, &m, y, "y", x, w, b, ctx);
	if (rc)
		return rc;
	if (p1_device(ctx) != QT_CPU)
		return p1_no_kernel(op, p1_device(ctx));
	int64_t out = w->shape[0], in = w->shape[1];
	if (x->dtype == QT_F32)
		qt_dense_forward_f32(y->data, x->data, w->data,
				     b ? b->data : NULL, m, in, out,
				     p1_pool(ctx));
	else
		qt_dense_forward_f64(y->data, x->data, w->data,
				     b ? b->data : NULL, m, in, out,
				     p1_pool(ctx));
	return 0;
}

int qt_dense_backward(qt_tensor *dx, qt_tensor *dw, qt_tensor *db,
		      const qt_tensor *dy, const qt_tensor *x,
		      const qt_tensor *w, qt_ctx *ctx)
{
	const char *op = "dense_backward";
	int64_t m;
	int rc = p1_dense(op, &m, dy, "dy", x, w, db, ctx);
	if (rc)
		return rc;
	if (dx && ((rc = p1_check(op, "dx", dx, x->dtype, ctx, x->ndim)) ||
		   (rc = p1_shape(op, "dx", dx, x->ndim, x->shape))))
		return rc;
	if (dw && ((rc = p1_check(op, "dw", dw, x->dtype, ctx, 2)) ||
		   (rc = p1_shape(op, "dw", dw, 2, w->shape))))
		return rc;
	if (p1_device(ctx) != QT_CPU)
		return p1_no_kernel(op, p1_device(ctx));
	int64_t out = w->shape[0], in = w->shape[1];
	if (x->dtype == QT_F32)
		qt_dense_backward_f32(dx ? dx->data : NULL,
				      dw ? dw->data : NULL,
				      db ? db->data : NULL, dy->data, x->data,
				      w->data, m, in, out, p1_pool(ctx));
	else
		qt_dense_backward_f64(dx ? dx->data : NULL,
				      dw ? dw->data : NULL,
				      db ? db->data : NULL, dy->data, x->data,
				      w->data, m, in, out, p1_pool(ctx));
	return 0;
}

int64_t qt_window_out_size(int64_t in, int64_t k, int stride, int pad_before,
			   int pad_after)
{
	if (in < 0 || k < 1 || stride < 1 || pad_before < 0 || pad_after < 0)
		return 0;
	int64_t span = in + pad_before + pad_after - k;
	return span < 0 ? 0 : span / stride + 1;
}

int qt_conv2d_same_padding(qt_conv2d_opts *opt, int64_t h, int64_t w,
			   int64_t kh, int64_t kw)
{
	if (!opt || opt->stride_h < 1 || opt->stride_w < 1 || h < 0 || w < 0 ||
	    kh < 1 || kw < 1 || kh > INT_MAX / 2 || kw > INT_MAX / 2)
		return qt_error(QT_EUSAGE, "conv2d 'same' padding: needs "
				"strides >= 1 and kernel sizes >= 1");
	int64_t in[2] = {h, w}, k[2] = {kh, kw};
	int s[2] = {opt->stride_h, opt->stride_w}, before[2], after[2];
	for (int d = 0; d < 2; d++) {
		int64_t out = (in[d] + s[d] - 1) / s[d];
		int64_t total = (out - 1) * s[d] + k[d] - in[d];
		if (total < 0)
			total = 0;
		before[d] = (int)(total / 2);
		after[d] = (int)(total - total / 2);
	}
	opt->pad_top = before[0];
	opt->pad_bottom = after[0];
	opt->pad_left = before[1];
	opt->pad_right = after[1];
	return 0;
}

/* Check x (N, Cin, H, W), w (Cout, Cin, KH, KW) and the options, and fill
 * the geometry. */
static int p1_conv(const char *op, qt_conv2d_geom *g, const qt_tensor *x,
		   const qt_tensor *w, const qt_conv2d_opts *opt,
		   const qt_ctx *ctx)
{
	char sx[128], sw[128];
	int rc;
	if ((rc = p1_check(op, "x", x, QT_NDTYPES, ctx, 4)) ||
	    (rc = p1_check(op, "w", w, x->dtype, ctx, 4)))
		return rc;
	if (!opt)
		return qt_error(QT_EUSAGE, "%s: options are NULL", op);
	if (opt->stride_h < 1 || opt->stride_w < 1 || opt->pad_top < 0 ||
	    opt->pad_left < 0 || opt->pad_bottom < 0 || opt->pad_right < 0)
		return qt_error(QT_EUSAGE, "%s: stride (%d, %d) must be >= 1 "
				"and padding (%d, %d, %d, %d) >= 0", op,
				opt->stride_h, opt->stride_w, opt->pad_top,
				opt->pad_left, opt->pad_bottom, opt->pad_right);
	if (w->shape[1] != x->shape[1])
		return qt_error(QT_ESHAPE, "%s: weight %s expects %lld input "
				"channels but x %s has %lld", op,
				P1_SHAPE(sw, w), (long long)w->shape[1],
				P1_SHAPE(sx, x), (long long)x->shape[1]);
	*g = (qt_conv2d_geom){
		.n = x->shape[0], .cin = x->shape[1], .h = x->shape[2],
		.w = x->shape[3], .cout = w->shape[0], .kh = w->shape[2],
		.kw = w->shape[3], .sh = opt->stride_h, .sw = opt->stride_w,
		.pt = opt->pad_top, .pl = opt->pad_left,
	};
	if (g->cin < 1 || g->cout < 1 || g->kh < 1 || g->kw < 1)
		return qt_error(QT_ESHAPE, "%s: weight %s has an empty "
				"dimension", op, P1_SHAPE(sw, w));
	g->oh = qt_window_out_size(g->h, g->kh, g->sh, opt->pad_top,
				   opt->pad_bottom);
	g->ow = qt_window_out_size(g->w, g->kw, g->sw, opt->pad_left,
				   opt->pad_right);
	if (g->oh < 1 || g->ow < 1)
		return qt_error(QT_ESHAPE, "%s: kernel %lldx%lld does not fit "
				"x %s with padding (top %d, left %d, bottom %d, "
				"right %d)", op, (long long)g->kh,
				(long long)g->kw, P1_SHAPE(sx, x), opt->pad_top,
				opt->pad_left, opt->pad_bottom, opt->pad_right);
	if (g->cin * g->kh * g->kw > INT_MAX || g->oh * g->ow > INT_MAX ||
	    g->h * g->w > INT_MAX || g->cout > INT_MAX)
		return qt_error(QT_ESHAPE, "%s: x %s with weight %s is too "
				"large for BLAS", op, P1_SHAPE(sx, x),
				P1_SHAPE(sw, w));
	return 0;
}

/* The workspace is big enough and aligned for the dtype. */
static int p1_conv_work(const char *op, const qt_conv2d_geom *g,
			qt_dtype dt, void *work, size_t work_bytes,
			const qt_ctx *ctx)
{
	size_t need = qt_conv2d_workspace_cpu(g, qt_pool_threads(p1_pool(ctx)),
					      qt_dtype_size(dt));
	if (work_bytes < need || (need > 0 && !work))
		return qt_error(QT_EUSAGE, "%s: workspace of %zu bytes, needs "
				"%zu (qt_conv2d_workspace)", op,
				work ? work_bytes : 0, need);
	if ((uintptr_t)work % qt_dtype_size(dt))
		return qt_error(QT_EUSAGE, "%s: workspace is not aligned for "
				"%s", op, qt_dtype_name(dt));
	return 0;
}

int qt_conv2d_workspace(size_t *bytes, const qt_tensor *x, const qt_tensor *w,
			const qt_conv2d_opts *opt, const qt_ctx *ctx)
{
	const char *op = "conv2d_workspace";
	qt_conv2d_geom g;
	int rc = p1_conv(op, &g, x, w, opt, ctx);
	if (rc)
		return rc;
	if (!bytes)
		return qt_error(QT_EUSAGE, "%s: bytes is NULL", op);
	if (p1_device(ctx) != QT_CPU)
		return p1_no_kernel(op, p1_device(ctx));
	*bytes = qt_conv2d_workspace_cpu(&g, qt_pool_threads(p1_pool(ctx)),
					 qt_dtype_size(x->dtype));
	return 0;
}

int qt_conv2d_forward(qt_tensor *y, const qt_tensor *x, const qt_tensor *w,
		      const qt_tensor *b, const qt_conv2d_opts *opt,
		      void *work, size_t work_bytes, qt_ctx *ctx)
{
	const char *op = "conv2d_forward";
	qt_conv2d_geom g;
	int rc;
	if ((rc = p1_conv(op, &g, x, w, opt, ctx)) ||
	    (rc = p1_check(op, "y", y, x->dtype, ctx, 4)) ||
	    (rc = p1_shape(op, "y", y, 4,
			   (int64_t[]){g.n, g.cout, g.oh, g.ow})) ||
	    (b && ((rc = p1_check(op, "b", b, x->dtype, ctx, 1)) ||
		   (rc = p1_shape(op, "b", b, 1, &g.cout)))))
		return rc;
	if (p1_device(ctx) != QT_CPU)
		return p1_no_kernel(op, p1_device(ctx));
	if ((rc = p1_conv_work(op, &g, x->dtype, work, work_bytes, ctx)))
		return rc;
	if (x->dtype == QT_F32)
		qt_conv2d_forward_f32(y->data, x->data, w->data,
				      b ? b->data : NULL, &g, work,
				      p1_pool(ctx));
	else
		qt_conv2d_forward_f64(y->data, x->data, w->data,
				      b ? b->data : NULL, &g, work,
				      p1_pool(ctx));
	return 0;
}

int qt_conv2d_backward(qt_tensor *dx, qt_tensor *dw, qt_tensor *db,
		       const qt_tensor *dy, const qt_tensor *x,
		       const qt_tensor *w, const qt_conv2d_opts *opt,
		       void *work, size_t work_bytes, qt_ctx *ctx)
{
	const char *op = "conv2d_backward";
	qt_conv2d_geom g;
	int rc;
	if ((rc = p1_conv(op, &g, x, w, opt, ctx)) ||
	    (rc = p1_check(op, "dy", dy, x->dtype, ctx, 4)) ||
	    (rc = p1_shape(op, "dy", dy, 4,
			   (int64_t[]){g.n, g.cout, g.oh, g.ow})) ||
	    (dx && ((rc = p1_check(op, "dx", dx, x->dtype, ctx, 4)) ||
		    (rc = p1_shape(op, "dx", dx, 4, x->shape)))) ||
	    (dw && ((rc = p1_check(op, "dw", dw, x->dtype, ctx, 4)) ||
		    (rc = p1_shape(op, "dw", dw, 4, w->shape)))) ||
	    (db && ((rc = p1_check(op, "db", db, x->dtype, ctx, 1)) ||
		    (rc = p1_shape(op, "db", db, 1, &g.cout)))))
		return rc;
	if (p1_device(ctx) != QT_CPU)
		return p1_no_kernel(op, p1_device(ctx));
	if ((rc = p1_conv_work(op, &g, x->dtype, work, work_bytes, ctx)))
		return rc;
	if (x->dtype == QT_F32)
		qt_conv2d_backward_f32(dx ? dx->data : NULL,
				       dw ? dw->data : NULL,
				       db ? db->data : NULL, dy->data, x->data,
				       w->data, &g, work, p1_pool(ctx));
	else
		qt_conv2d_backward_f64(dx ? dx->data : NULL,
				       dw ? dw->data : NULL,
				       db ? db->data : NULL, dy->data, x->data,
				       w->data, &g, work, p1_pool(ctx));
	return 0;
}

/* Check the input plane tensor x (N, C, H, W) of a pooling op and the
 * window (stride 0 = kernel size); fill the geometry. */
static int p1_pool2d(const char *op, qt_pool2d_geom *g, const char *xname,
		     const qt_tensor *x, int kh, int kw, int sh, int sw,
		     const qt_ctx *ctx)
{
	char sx[128];
	int rc;
	if ((rc = p1_check(op, xname, x, QT_NDTYPES, ctx, 4)))
		return rc;
	if (sh == 0)
		sh = kh;
	if (sw == 0)
		sw = kw;
	if (kh < 1 || kw < 1 || sh < 1 || sw < 1)
		return qt_error(QT_EUSAGE, "%s: kernel %dx%d and stride "
				"(%d, %d) must be >= 1", op, kh, kw, sh, sw);
	*g = (qt_pool2d_geom){
		.nc = x->shape[0] * x->shape[1], .h = x->shape[2],
		.w = x->shape[3], .kh = kh, .kw = kw, .sh = sh, .sw = sw,
	};
	g->oh = qt_window_out_size(g->h, kh, sh, 0, 0);
	g->ow = qt_window_out_size(g->w, kw, sw, 0, 0);
	if (g->oh < 1 || g->ow < 1)
		return qt_error(QT_ESHAPE, "%s: window %dx%d does not fit "
				"%s %s", op, kh, kw, xname, P1_SHAPE(sx, x));
	if (g->h * g->w > INT32_MAX)
		return qt_error(QT_ESHAPE, "%s: %s %s: planes over 2^31 "
				"pixels", op, xname, P1_SHAPE(sx, x));
	return 0;
}

int qt_maxpool2d_forward(qt_tensor *y, qt_tensor *argmax, const qt_tensor *x,
			 int kh, int kw, int sh, int sw, qt_ctx *ctx)
{
	const char *op = "maxpool2d_forward";
	qt_pool2d_geom g;
	int rc;
	if ((rc = p1_pool2d(op, &g, "x", x, kh, kw, sh, sw, ctx)))
		return rc;
	int64_t shape[4] = {x->shape[0], x->shape[1], g.oh, g.ow};
	if ((rc = p1_check(op, "y", y, x->dtype, ctx, 4)) ||
	    (rc = p1_shape(op, "y", y, 4, shape)) ||
	    (rc = p1_check(op, "argmax", argmax, QT_I32, ctx, 4)) ||
	    (rc = p1_shape(op, "argmax", argmax, 4, shape)))
		return rc;
	if (p1_device(ctx) != QT_CPU)
		return p1_no_kernel(op, p1_device(ctx));
	if (x->dtype == QT_F32)
		qt_maxpool2d_forward_f32(y->data, argmax->data, x->data, &g,
					 p1_pool(ctx));
	else
		qt_maxpool2d_forward_f64(y->data, argmax->data, x->data, &g,
					 p1_pool(ctx));
	return 0;
}

int qt_maxpool2d_backward(qt_tensor *dx, const qt_tensor *dy,
			  const qt_tensor *argmax, qt_ctx *ctx)
{
	const char *op = "maxpool2d_backward";
	char sdx[128], sdy[128];
	int rc;
	if ((rc = p1_check(op, "dx", dx, QT_NDTYPES, ctx, 4)) ||
	    (rc = p1_check(op, "dy", dy, dx->dtype, ctx, 4)) ||
	    (rc = p1_check(op, "argmax", argmax, QT_I32, ctx, 4)) ||
	    (rc = p1_shape(op, "argmax", argmax, 4, dy->shape)))
		return rc;
	if (dy->shape[0] != dx->shape[0] || dy->shape[1] != dx->shape[1] ||
	    dy->shape[2] > dx->shape[2] || dy->shape[3] > dx->shape[3])
		return qt_error(QT_ESHAPE, "%s: dy %s does not fit dx %s", op,
				P1_SHAPE(sdy, dy), P1_SHAPE(sdx, dx));
	if (dx->shape[2] * dx->shape[3] > INT32_MAX)
		return qt_error(QT_ESHAPE, "%s: dx %s: planes over 2^31 pixels",
				op, P1_SHAPE(sdx, dx));
	if (p1_device(ctx) != QT_CPU)
		return p1_no_kernel(op, p1_device(ctx));
	qt_pool2d_geom g = {
		.nc = dx->shape[0] * dx->shape[1], .h = dx->shape[2],
		.w = dx->shape[3], .oh = dy->shape[2], .ow = dy->shape[3],
	};
	/* argmax indexes dx: a corrupt one must not write out of bounds
	 * (checked without an early exit, so that the loop vectorises) */
	const int32_t *am = argmax->data;
	int64_t n = qt_tensor_numel(argmax);
	uint32_t plane = (uint32_t)(g.h * g.w);
	int bad = 0;
	for (int64_t i = 0; i < n; i++)
		bad |= (uint32_t)am[i] >= plane;
	for (int64_t i = 0; bad && i < n; i++)
		if ((uint32_t)am[i] >= plane)
			return qt_error(QT_EUSAGE, "%s: argmax[%lld] = %d is "
					"outside the %lldx%lld plane", op,
					(long long)i, (int)am[i],
					(long long)g.h, (long long)g.w);
	if (dx->dtype == QT_F32)
		qt_maxpool2d_backward_f32(dx->data, dy->data, am, &g,
					  p1_pool(ctx));
	else
		qt_maxpool2d_backward_f64(dx->data, dy->data, am, &g,
					  p1_pool(ctx));
	return 0;
}

int qt_avgpool2d_forward(qt_tensor *y, const qt_tensor *x, int kh, int kw,
			 int sh, int sw, qt_ctx *ctx)
{
	const char *op = "avgpool2d_forward";
	qt_pool2d_geom g;
	int rc;
	if ((rc = p1_pool2d(op, &g, "x", x, kh, kw, sh, sw, ctx)) ||
	    (rc = p1_check(op, "y", y, x->dtype, ctx, 4)) ||
	    (rc = p1_shape(op, "y", y, 4,
			   (int64_t[]){x->shape[0], x->shape[1], g.oh, g.ow})))
		return rc;
	if (p1_device(ctx) != QT_CPU)
		return p1_no_kernel(op, p1_device(ctx));
	if (x->dtype == QT_F32)
		qt_avgpool2d_forward_f32(y->data, x->data, &g, p1_pool(ctx));
	else
		qt_avgpool2d_forward_f64(y->data, x->data, &g, p1_pool(ctx));
	return 0;
}

int qt_avgpool2d_backward(qt_tensor *dx, const qt_tensor *dy, int kh, int kw,
			  int sh, int sw, qt_ctx *ctx)
{
	const char *op = "avgpool2d_backward";
	qt_pool2d_geom g;
	int rc;
	if ((rc = p1_pool2d(op, &g, "dx", dx, kh, kw, sh, sw, ctx)) ||
	    (rc = p1_check(op, "dy", dy, dx->dtype, ctx, 4)) ||
	    (rc = p1_shape(op, "dy", dy, 4,
			   (int64_t[]){dx->shape[0], dx->shape[1], g.oh,
				       g.ow})))
		return rc;
	if (p1_device(ctx) != QT_CPU)
		return p1_no_kernel(op, p1_device(ctx));
	if (dx->dtype == QT_F32)
		qt_avgpool2d_backward_f32(dx->data, dy->data, &g, p1_pool(ctx));
	else
		qt_avgpool2d_backward_f64(dx->data, dy->data, &g, p1_pool(ctx));
	return 0;
}

/* y is (N, C) or (N, C, 1, 1) for x (N, C, H, W). */
static int p1_gap(const char *op, const char *yname, const qt_tensor *y,
		  const char *xname, const qt_tensor *x, const qt_ctx *ctx)
{
	int rc;
	if ((rc = p1_check(op, xname, x, QT_NDTYPES, ctx, 4)) ||
	    (rc = p1_check(op, yname, y, x->dtype, ctx, -1)))
		return rc;
	if (y->ndim == 4)
		return p1_shape(op, yname, y, 4,
				(int64_t[]){x->shape[0], x->shape[1], 1, 1});
	return p1_shape(op, yname, y, 2, x->shape);
}

int qt_global_avgpool2d_forward(qt_tensor *y, const qt_tensor *x, qt_ctx *ctx)
{
	const char *op = "global_avgpool2d_forward";
	int rc = p1_gap(op, "y", y, "x", x, ctx);
	if (rc)
		return rc;
	if (p1_device(ctx) != QT_CPU)
		return p1_no_kernel(op, p1_device(ctx));
	int64_t nc = x->shape[0] * x->shape[1], hw = x->shape[2] * x->shape[3];
	if (hw == 0)
		return qt_error(QT_ESHAPE, "%s: x has empty planes", op);
	if (x->dtype == QT_F32)
		qt_global_avgpool2d_forward_f32(y->data, x->data, nc, hw,
						p1_pool(ctx));
	else
		qt_global_avgpool2d_forward_f64(y->data, x->data, nc, hw,
						p1_pool(ctx));
	return 0;
}

int qt_global_avgpool2d_backward(qt_tensor *dx, const qt_tensor *dy,
				 qt_ctx *ctx)
{
	const char *op = "global_avgpool2d_backward";
	int rc = p1_gap(op, "dy", dy, "dx", dx, ctx);
	if (rc)
		return rc;
	if (p1_device(ctx) != QT_CPU)
		return p1_no_kernel(op, p1_device(ctx));
	int64_t nc = dx->shape[0] * dx->shape[1];
	int64_t hw = dx->shape[2] * dx->shape[3];
	if (hw == 0)
		return 0;
	if (dx->dtype == QT_F32)
		qt_global_avgpool2d_backward_f32(dx->data, dy->data, nc, hw,
						 p1_pool(ctx));
	else
		qt_global_avgpool2d_backward_f64(dx->data, dy->data, nc, hw,
						 p1_pool(ctx));
	return 0;
}

/* The activations: one checker and one table of CPU functions. */
typedef void p1_act_f32(float *, const float *, int64_t, struct qt_pool *);
typedef void p1_act_f64(double *, const double *, int64_t, struct qt_pool *);
typedef void p1_act_grad_f32(float *, const float *, const float *, int64_t,
			     struct qt_pool *);
typedef void p1_act_grad_f64(double *, const double *, const double *,
			     int64_t, struct qt_pool *);

static int p1_act_forward(const char *op, qt_tensor *y, const qt_tensor *x,
			  qt_ctx *ctx, p1_act_f32 *f32, p1_act_f64 *f64)
{
	int rc;
	if ((rc = p1_check(op, "x", x, QT_NDTYPES, ctx, -1)) ||
	    (rc = p1_check(op, "y", y, x->dtype, ctx, x->ndim)) ||
	    (rc = p1_shape(op, "y", y, x->ndim, x->shape)))
		return rc;
	if (p1_device(ctx) != QT_CPU)
		return p1_no_kernel(op, p1_device(ctx));
	if (x->dtype == QT_F32)
		f32(y->data, x->data, qt_tensor_numel(x), p1_pool(ctx));
	else
		f64(y->data, x->data, qt_tensor_numel(x), p1_pool(ctx));
	return 0;
}

static int p1_act_backward(const char *op, qt_tensor *dx, const qt_tensor *dy,
			   const qt_tensor *y, qt_ctx *ctx,
			   p1_act_grad_f32 *f32, p1_act_grad_f64 *f64)
{
	int rc;
	if ((rc = p1_check(op, "y", y, QT_NDTYPES, ctx, -1)) ||
	    (rc = p1_check(op, "dy", dy, y->dtype, ctx, y->ndim)) ||
	    (rc = p1_shape(op, "dy", dy, y->ndim, y->shape)) ||
	    (rc = p1_check(op, "dx", dx, y->dtype, ctx, y->ndim)) ||
	    (rc = p1_shape(op, "dx", dx, y->ndim, y->shape)))
		return rc;
	if (p1_device(ctx) != QT_CPU)
		return p1_no_kernel(op, p1_device(ctx));
	if (y->dtype == QT_F32)
		f32(dx->data, dy->data, y->data, qt_tensor_numel(y),
		    p1_pool(ctx));
	else
		f64(dx->data, dy->data, y->data, qt_tensor_numel(y),
		    p1_pool(ctx));
	return 0;
}

int qt_relu_forward(qt_tensor *y, const qt_tensor *x, qt_ctx *ctx)
{
	return p1_act_forward("relu_forward", y, x, ctx, qt_relu_forward_f32,
			      qt_relu_forward_f64);
}

int qt_relu_backward(qt_tensor *dx, const qt_tensor *dy, const qt_tensor *y,
		     qt_ctx *ctx)
{
	return p1_act_backward("relu_backward", dx, dy, y, ctx,
			       qt_relu_backward_f32, qt_relu_backward_f64);
}

int qt_sigmoid_forward(qt_tensor *y, const qt_tensor *x, qt_ctx *ctx)
{
	return p1_act_forward("sigmoid_forward", y, x, ctx,
			      qt_sigmoid_forward_f32, qt_sigmoid_forward_f64);
}

int qt_sigmoid_backward(qt_tensor *dx, const qt_tensor *dy,
			const qt_tensor *y, qt_ctx *ctx)
{
	return p1_act_backward("sigmoid_backward", dx, dy, y, ctx,
			       qt_sigmoid_backward_f32,
			       qt_sigmoid_backward_f64);
}

int qt_tanh_forward(qt_tensor *y, const qt_tensor *x, qt_ctx *ctx)
{
	return p1_act_forward("tanh_forward", y, x, ctx, qt_tanh_forward_f32,
			      qt_tanh_forward_f64);
}

int qt_tanh_backward(qt_tensor *dx, const qt_tensor *dy, const qt_tensor *y,
		     qt_ctx *ctx)
{
	return p1_act_backward("tanh_backward", dx, dy, y, ctx,
			       qt_tanh_backward_f32, qt_tanh_backward_f64);
}

/* ==== end of part 1 ==== */

/* ==== part 2: losses, softmax, dropout, normalisation, optimizers, init ==== */

/* Part 2's checks.  The p2_ prefix keeps these static helpers apart from
 * part 1's in this file.  Each returns 0 or a QT_E* code with a message
 * naming the op and the argument. */

#include "common/rng.h" /* here, not at the top: part 2 owns only this block */

#include <math.h>

static qt_device p2_device(const qt_ctx *ctx)
{
	return ctx ? ctx->device : QT_CPU;
}

static const char *p2_device_name(qt_device d)
{
	return d == QT_CUDA ? "cuda" : "cpu";
}

/* A float32/float64 tensor on the context's device. */
static int p2_check_float(const char *op, const char *name,
			  const qt_tensor *t, const qt_ctx *ctx)
{
	if (!t)
		return qt_error(QT_EUSAGE, "%s: %s is NULL", op, name);
	if (!qt_dtype_is_float(t->dtype))
		return qt_error(QT_ESHAPE, "%s: %s must be float32 or float64, "
				"not %s", op, name, qt_dtype_name(t->dtype));
	if (t->device != p2_device(ctx))
		return qt_error(QT_EUSAGE, "%s: %s is on %s but the context "
				"on %s", op, name, p2_device_name(t->device),
				p2_device_name(p2_device(ctx)));
	return 0;
}

/* A tensor of ref's dtype and shape on the same device. */
static int p2_check_like(const char *op, const char *name, const qt_tensor *t,
			 const qt_tensor *ref, const char *refname,
			 const qt_ctx *ctx)
{
	char s1[128], s2[128];
	int rc = p2_check_float(op, name, t, ctx);
	if (rc)
		return rc;
	if (!qt_tensor_same_layout(t, ref))
		return qt_error(QT_ESHAPE, "%s: %s is %s %s, expected %s %s "
				"like %s", op, name, qt_dtype_name(t->dtype),
				qt_shape_str(s1, sizeof s1, t->ndim, t->shape),
				qt_dtype_name(ref->dtype),
				qt_shape_str(s2, sizeof s2, ref->ndim,
					     ref->shape), refname);
	return 0;
}

/* A tensor of ref's dtype with ref's element count (any shape). */
static int p2_check_numel(const char *op, const char *name,
			  const qt_tensor *t, const qt_tensor *ref,
			  const char *refname, const qt_ctx *ctx)
{
	int rc = p2_check_float(op, name, t, ctx);
	if (rc)
		return rc;
	if (t->dtype != ref->dtype)
		return qt_error(QT_ESHAPE, "%s: %s is %s but %s is %s", op,
				name, qt_dtype_name(t->dtype), refname,
				qt_dtype_name(ref->dtype));
	if (qt_tensor_numel(t) != qt_tensor_numel(ref))
		return qt_error(QT_ESHAPE, "%s: %s has %lld elements but %s "
				"has %lld", op, name,
				(long long)qt_tensor_numel(t), refname,
				(long long)qt_tensor_numel(ref));
	return 0;
}

/* A vector (C) of dtype dt; NULL passes when `optional`. */
static int p2_check_vec(const char *op, const char *name, const qt_tensor *t,
			qt_dtype dt, int64_t C, int optional,
			const qt_ctx *ctx)
{
	char s[128];
	int rc;
	if (!t && optional)
		return 0;
	if ((rc = p2_check_float(op, name, t, ctx)))
		return rc;
	if (t->dtype != dt || t->ndim != 1 || t->shape[0] != C)
		return qt_error(QT_ESHAPE, "%s: %s is %s %s, expected %s (%lld)",
				op, name, qt_dtype_name(t->dtype),
				qt_shape_str(s, sizeof s, t->ndim, t->shape),
				qt_dtype_name(dt), (long long)C);
	return 0;
}

/* Part 2 has CPU kernels only so far. */
static int p2_cpu_only(const char *op, const qt_ctx *ctx)
{
	if (p2_device(ctx) != QT_CPU)
		return qt_error(QT_ENODEV, "%s: no CUDA kernel yet; run this "
				"op with --device cpu", op);
	return 0;
}

/* Product of shape[from .. to-1]. */
static int64_t p2_prod(const qt_tensor *t, int from, int to)
{
	int64_t n = 1;
	for (int i = from; i < to; i++)
		n *= t->shape[i];
	return n;
}

/* Call fn_f32 or fn_f64 by dtype; tensor data (void *) converts to the
 * function's pointer type. */
#define P2_DISPATCH(dt, fn, ...)                                           \
	do {                                                               \
		if ((dt) == QT_F32)                                        \
			fn##_f32(__VA_ARGS__);                             \
		else                                                       \
			fn##_f64(__VA_ARGS__);                             \
	} while (0)

/* ---- softmax and log-softmax ---- */

/* out and in alike, at least 1-D. */
static int p2_softmax_check(const char *op, const qt_tensor *out,
			    const char *outname, const qt_tensor *in,
			    const char *inname, const qt_ctx *ctx)
{
	int rc;
	if ((rc = p2_check_float(op, inname, in, ctx)) ||
	    (rc = p2_check_like(op, outname, out, in, inname, ctx)))
		return rc;
	if (in->ndim < 1)
		return qt_error(QT_ESHAPE, "%s: %s is a scalar; softmax needs "
				"a last dimension", op, inname);
	return p2_cpu_only(op, ctx);
}

int qt_softmax_forward(qt_tensor *y, const qt_tensor *x, qt_ctx *ctx)
{
	int rc = p2_softmax_check("softmax", y, "y", x, "x", ctx);
	if (rc)
		return rc;
	P2_DISPATCH(x->dtype, qt_softmax_forward, y->data, x->data,
		    p2_prod(x, 0, x->ndim - 1), x->shape[x->ndim - 1]);
	return 0;
}

int qt_softmax_backward(qt_tensor *dx, const qt_tensor *dy,
			const qt_tensor *y, qt_ctx *ctx)
{
	const char *op = "softmax_backward";
	int rc;
	if ((rc = p2_softmax_check(op, dx, "dx", dy, "dy", ctx)) ||
	    (rc = p2_check_like(op, "y", y, dy, "dy", ctx)))
		return rc;
	P2_DISPATCH(dy->dtype, qt_softmax_backward, dx->data, dy->data,
		    y->data, p2_prod(dy, 0, dy->ndim - 1),
		    dy->shape[dy->ndim - 1]);
	return 0;
}

int qt_log_softmax_forward(qt_tensor *y, const qt_tensor *x, qt_ctx *ctx)
{
	int rc = p2_softmax_check("log_softmax", y, "y", x, "x", ctx);
	if (rc)
		return rc;
	P2_DISPATCH(x->dtype, qt_log_softmax_forward, y->data, x->data,
		    p2_prod(x, 0, x->ndim - 1), x->shape[x->ndim - 1]);
	return 0;
}

int qt_log_softmax_backward(qt_tensor *dx, const qt_tensor *dy,
			    const qt_tensor *y, qt_ctx *ctx)
{
	const char *op = "log_softmax_backward";
	int rc;
	if ((rc = p2_softmax_check(op, dx, "dx", dy, "dy", ctx)) ||
	    (rc = p2_check_like(op, "y", y, dy, "dy", ctx)))
		return rc;
	P2_DISPATCH(dy->dtype, qt_log_softmax_backward, dx->data, dy->data,
		    y->data, p2_prod(dy, 0, dy->ndim - 1),
		    dy->shape[dy->ndim - 1]);
	return 0;
}

/* ---- cross-entropy ---- */

/* logits-like (N, C, ...) tensor x, target (N, ...) int64 with classes in
 * [0, C), weight (C) or NULL.  Sets N, C, P (P = product of the trailing
 * dims). */
static int p2_ce_check(const char *op, const qt_tensor *x, const char *xname,
		       const qt_tensor *target, const qt_tensor *weight,
		       int64_t *N, int64_t *C, int64_t *P, const qt_ctx *ctx)
{
	char s1[128], s2[128];
	int rc, ok;
	if ((rc = p2_check_float(op, xname, x, ctx)))
		return rc;
	if (x->ndim < 2)
		return qt_error(QT_ESHAPE, "%s: %s is %s; expected (N, C) or "
				"(N, C, d1, ...)", op, xname,
				qt_shape_str(s1, sizeof s1, x->ndim, x->shape));
	*N = x->shape[0];
	*C = x->shape[1];
	*P = p2_prod(x, 2, x->ndim);
	if (*C < 1)
		return qt_error(QT_ESHAPE, "%s: %s has no classes (C = 0)", op,
				xname);
	if (!target)
		return qt_error(QT_EUSAGE, "%s: target is NULL", op);
	ok = target->dtype == QT_I64 && target->ndim == x->ndim - 1 &&
	     target->shape[0] == *N;
	for (int i = 1; ok && i < target->ndim; i++)
		ok = target->shape[i] == x->shape[i + 1];
	if (!ok)
		return qt_error(QT_ESHAPE, "%s: target is %s %s; expected int64 "
				"of %s's shape without the class dim 1 (%s is "
				"%s)", op, qt_dtype_name(target->dtype),
				qt_shape_str(s1, sizeof s1, target->ndim,
					     target->shape), xname, xname,
				qt_shape_str(s2, sizeof s2, x->ndim, x->shape));
	if (target->device != p2_device(ctx))
		return qt_error(QT_EUSAGE, "%s: target is on %s but the context "
				"on %s", op, p2_device_name(target->device),
				p2_device_name(p2_device(ctx)));
	if ((rc = p2_check_vec(op, "weight", weight, x->dtype, *C, 1, ctx)) ||
	    (rc = p2_cpu_only(op, ctx)))
		return rc;
	const int64_t *t = target->data;
	int64_t n = *N * *P;
	for (int64_t i = 0; i < n; i++)
		if (t[i] < 0 || t[i] >= *C)
			return qt_error(QT_EFORMAT, "%s: target[%lld] = %lld is "
					"not a class in [0, %lld)", op,
					(long long)i, (long long)t[i],
					(long long)*C);
	return 0;
}

int qt_cross_entropy_forward(double *loss, qt_tensor *prob,
			     const qt_tensor *logits, const qt_tensor *target,
			     const qt_tensor *weight, qt_ctx *ctx)
{
	const char *op = "cross_entropy";
	int64_t N = 0, C = 0, P = 0;
	int rc;
	if (!loss)
		return qt_error(QT_EUSAGE, "%s: loss is NULL", op);
	if ((rc = p2_ce_check(op, logits, "logits", target, weight, &N, &C,
			      &P, ctx)) ||
	    (rc = p2_check_like(op, "prob", prob, logits, "logits", ctx)))
		return rc;
	P2_DISPATCH(logits->dtype, qt_cross_entropy_forward, loss, prob->data,
		    logits->data, target->data, weight ? weight->data : NULL,
		    N, C, P);
	return 0;
}

int qt_cross_entropy_backward(qt_tensor *dlogits, const qt_tensor *prob,
			      const qt_tensor *target, const qt_tensor *weight,
			      double dloss, qt_ctx *ctx)
{
	const char *op = "cross_entropy_backward";
	int64_t N = 0, C = 0, P = 0;
	int rc;
	if ((rc = p2_ce_check(op, prob, "prob", target, weight, &N, &C, &P,
			      ctx)) ||
	    (rc = p2_check_like(op, "dlogits", dlogits, prob, "prob", ctx)))
		return rc;
	P2_DISPATCH(prob->dtype, qt_cross_entropy_backward, dlogits->data,
		    prob->data, target->data, weight ? weight->data : NULL,
		    dloss, N, C, P);
	return 0;
}

/* ---- binary cross-entropy with logits, mean squared error ---- */

/* Two float tensors of one dtype and shape; an optional third (the
 * gradient) alike. */
static int p2_pair_check(const char *op, const qt_tensor *a,
			 const char *aname, const qt_tensor *b,
			 const char *bname, const qt_tensor *grad,
			 const char *gname, const qt_ctx *ctx)
{
	int rc;
	if ((rc = p2_check_float(op, aname, a, ctx)) ||
	    (rc = p2_check_like(op, bname, b, a, aname, ctx)) ||
	    (gname && (rc = p2_check_like(op, gname, grad, a, aname, ctx))))
		return rc;
	return p2_cpu_only(op, ctx);
}

int qt_bce_logits_forward(double *loss, const qt_tensor *logits,
			  const qt_tensor *target, qt_ctx *ctx)
{
	int rc;
	if (!loss)
		return qt_error(QT_EUSAGE, "bce_logits: loss is NULL");
	if ((rc = p2_pair_check("bce_logits", logits, "logits", target,
				"target", NULL, NULL, ctx)))
		return rc;
	P2_DISPATCH(logits->dtype, qt_bce_logits_forward, loss, logits->data,
		    target->data, qt_tensor_numel(logits));
	return 0;
}

int qt_bce_logits_backward(qt_tensor *dlogits, const qt_tensor *logits,
			   const qt_tensor *target, double dloss, qt_ctx *ctx)
{
	int rc = p2_pair_check("bce_logits_backward", logits, "logits",
			       target, "target", dlogits, "dlogits", ctx);
	if (rc)
		return rc;
	P2_DISPATCH(logits->dtype, qt_bce_logits_backward, dlogits->data,
		    logits->data, target->data, dloss,
		    qt_tensor_numel(logits));
	return 0;
}

int qt_mse_forward(double *loss, const qt_tensor *pred,
		   const qt_tensor *target, qt_ctx *ctx)
{
	int rc;
	if (!loss)
		return qt_error(QT_EUSAGE, "mse: loss is NULL");
	if ((rc = p2_pair_check("mse", pred, "pred", target, "target", NULL,
				NULL, ctx)))
		return rc;
	P2_DISPATCH(pred->dtype, qt_mse_forward, loss, pred->data,
		    target->data, qt_tensor_numel(pred));
	return 0;
}

int qt_mse_backward(qt_tensor *dpred, const qt_tensor *pred,
		    const qt_tensor *target, double dloss, qt_ctx *ctx)
{
	int rc = p2_pair_check("mse_backward", pred, "pred", target, "target",
			       dpred, "dpred", ctx);
	if (rc)
		return rc;
	P2_DISPATCH(pred->dtype, qt_mse_backward, dpred->data, pred->data,
		    target->data, dloss, qt_tensor_numel(pred));
	return 0;
}

/* ---- dropout ---- */

static int p2_dropout_check(const char *op, const qt_tensor *out,
			    const char *outname, const qt_tensor *in,
			    const char *inname, const qt_tensor *mask,
			    double p, int training, const qt_ctx *ctx)
{
	int rc;
	if ((rc = p2_check_float(op, inname, in, ctx)) ||
	    (rc = p2_check_like(op, outname, out, in, inname, ctx)))
		return rc;
	if (!(p >= 0 && p <= 1))
		return qt_error(QT_EUSAGE, "%s: dropout probability %g is not "
				"in [0, 1]", op, p);
	if (training) {
		if (!mask)
			return qt_error(QT_EUSAGE, "%s: training needs a mask",
					op);
		if (mask->dtype != QT_U8 && mask->dtype != QT_BOOL)
			return qt_error(QT_ESHAPE, "%s: mask must be uint8, "
					"not %s", op,
					qt_dtype_name(mask->dtype));
		if (qt_tensor_numel(mask) != qt_tensor_numel(in))
			return qt_error(QT_ESHAPE, "%s: mask has %lld elements "
					"but %s has %lld", op,
					(long long)qt_tensor_numel(mask),
					inname,
					(long long)qt_tensor_numel(in));
		if (mask->device != p2_device(ctx))
			return qt_error(QT_EUSAGE, "%s: mask is on %s but the "
					"context on %s", op,
					p2_device_name(mask->device),
					p2_device_name(p2_device(ctx)));
	}
	return p2_cpu_only(op, ctx);
}

int qt_dropout_forward(qt_tensor *y, qt_tensor *mask, const qt_tensor *x,
		       double p, int training, qt_rng *rng, qt_ctx *ctx)
{
	int rc = p2_dropout_check("dropout", y, "y", x, "x", mask, p,
				  training, ctx);
	if (rc)
		return rc;
	if (training && !rng)
		return qt_error(QT_EUSAGE, "dropout: training needs an rng");
	P2_DISPATCH(x->dtype, qt_dropout_forward, y->data,
		    training ? mask->data : NULL, x->data,
		    qt_tensor_numel(x), p, training, rng);
	return 0;
}

int qt_dropout_backward(qt_tensor *dx, const qt_tensor *dy,
			const qt_tensor *mask, double p, int training,
			qt_ctx *ctx)
{
	int rc = p2_dropout_check("dropout_backward", dx, "dx", dy, "dy", mask,
				  p, training, ctx);
	if (rc)
		return rc;
	P2_DISPATCH(dy->dtype, qt_dropout_backward, dx->data, dy->data,
		    training ? mask->data : NULL, qt_tensor_numel(dy), p,
		    training);
	return 0;
}

/* ---- batch normalisation ---- */

/* x (N, C, ...): sets N, C, P. */
static int p2_bn_shape(const char *op, const qt_tensor *x, int64_t *N,
		       int64_t *C, int64_t *P, const qt_ctx *ctx)
{
	char s[128];
	int rc = p2_check_float(op, "x", x, ctx);
	if (rc)
		return rc;
	if (x->ndim < 2)
		return qt_error(QT_ESHAPE, "%s: x is %s; expected (N, C) or "
				"(N, C, ...)", op,
				qt_shape_str(s, sizeof s, x->ndim, x->shape));
	*N = x->shape[0];
	*C = x->shape[1];
	*P = p2_prod(x, 2, x->ndim);
	return 0;
}

int qt_batchnorm_forward(qt_tensor *y, qt_tensor *save_mean,
			 qt_tensor *save_invstd, qt_tensor *running_mean,
			 qt_tensor *running_var, const qt_tensor *x,
			 const qt_tensor *gamma, const qt_tensor *beta,
			 int training, double momentum, double eps,
			 qt_ctx *ctx)
{
	const char *op = "batchnorm";
	int64_t N = 0, C = 0, P = 0;
	int rc;
	if ((rc = p2_bn_shape(op, x, &N, &C, &P, ctx)))
		return rc;
	qt_dtype dt = x->dtype;
	if ((rc = p2_check_like(op, "y", y, x, "x", ctx)) ||
	    (rc = p2_check_vec(op, "gamma", gamma, dt, C, 1, ctx)) ||
	    (rc = p2_check_vec(op, "beta", beta, dt, C, 1, ctx)) ||
	    (rc = p2_check_vec(op, "save_mean", save_mean, dt, C, !training,
			       ctx)) ||
	    (rc = p2_check_vec(op, "save_invstd", save_invstd, dt, C,
			       !training, ctx)) ||
	    (rc = p2_check_vec(op, "running_mean", running_mean, dt, C,
			       training, ctx)) ||
	    (rc = p2_check_vec(op, "running_var", running_var, dt, C,
			       training, ctx)))
		return rc;
	if (!(eps >= 0) || !(momentum >= 0 && momentum <= 1))
		return qt_error(QT_EUSAGE, "%s: need eps >= 0 and momentum in "
				"[0, 1], got eps %g, momentum %g", op, eps,
				momentum);
	if (training && N * P < 2)
		return qt_error(QT_ESHAPE, "%s: training needs more than one "
				"value per channel (x has N * spatial = %lld)",
				op, (long long)(N * P));
	if ((rc = p2_cpu_only(op, ctx)))
		return rc;
	P2_DISPATCH(dt, qt_batchnorm_forward, y->data,
		    save_mean ? save_mean->data : NULL,
		    save_invstd ? save_invstd->data : NULL,
		    running_mean ? running_mean->data : NULL,
		    running_var ? running_var->data : NULL, x->data,
		    gamma ? gamma->data : NULL, beta ? beta->data : NULL, N, C,
		    P, training, momentum, eps, p1_pool(ctx));
	return 0;
}

int qt_batchnorm_backward(qt_tensor *dx, qt_tensor *dgamma, qt_tensor *dbeta,
			  const qt_tensor *dy, const qt_tensor *x,
			  const qt_tensor *save_mean,
			  const qt_tensor *save_invstd, const qt_tensor *gamma,
			  int training, qt_ctx *ctx)
{
	const char *op = "batchnorm_backward";
	int64_t N = 0, C = 0, P = 0;
	int rc;
	if ((rc = p2_bn_shape(op, x, &N, &C, &P, ctx)))
		return rc;
	qt_dtype dt = x->dtype;
	if ((rc = p2_check_like(op, "dy", dy, x, "x", ctx)) ||
	    (dx && (rc = p2_check_like(op, "dx", dx, x, "x", ctx))) ||
	    (rc = p2_check_vec(op, "save_mean", save_mean, dt, C, 0, ctx)) ||
	    (rc = p2_check_vec(op, "save_invstd", save_invstd, dt, C, 0,
			       ctx)) ||
	    (rc = p2_check_vec(op, "gamma", gamma, dt, C, 1, ctx)) ||
	    (rc = p2_check_vec(op, "dgamma", dgamma, dt, C, 1, ctx)) ||
	    (rc = p2_check_vec(op, "dbeta", dbeta, dt, C, 1, ctx)) ||
	    (rc = p2_cpu_only(op, ctx)))
		return rc;
	P2_DISPATCH(dt, qt_batchnorm_backward, dx ? dx->data : NULL,
		    dgamma ? dgamma->data : NULL, dbeta ? dbeta->data : NULL,
		    dy->data, x->data, save_mean->data, save_invstd->data,
		    gamma ? gamma->data : NULL, N, C, P, training,
		    p1_pool(ctx));
	return 0;
}

/* ---- optimizers ---- */

qt_sgd_opts qt_sgd_defaults(double lr)
{
	qt_sgd_opts o = {.lr = lr};
	return o;
}

qt_adam_opts qt_adam_defaults(void)
{
	qt_adam_opts o = {.lr = 1e-3, .beta1 = 0.9, .beta2 = 0.999,
			  .eps = 1e-8};
	return o;
}

qt_adam_opts qt_adamw_defaults(void)
{
	qt_adam_opts o = qt_adam_defaults();
	o.weight_decay = 1e-2;
	return o;
}

qt_adam_opts qt_adamax_defaults(void)
{
	qt_adam_opts o = qt_adam_defaults();
	o.lr = 2e-3;
	return o;
}

/* param, grad and the state buffers (NULL entries of `state` skipped). */
static int p2_optim_check(const char *op, const qt_tensor *param,
			  const qt_tensor *grad, const qt_tensor *const *state,
			  const char *const *names, int nstate, int64_t step,
			  const qt_ctx *ctx)
{
	int rc;
	if ((rc = p2_check_float(op, "param", param, ctx)) ||
	    (rc = p2_check_numel(op, "grad", grad, param, "param", ctx)))
		return rc;
	for (int i = 0; i < nstate; i++)
		if (state[i] && (rc = p2_check_numel(op, names[i], state[i],
						     param, "param", ctx)))
			return rc;
	if (step < 1)
		return qt_error(QT_EUSAGE, "%s: step %lld; steps count from 1",
				op, (long long)step);
	return p2_cpu_only(op, ctx);
}

int qt_sgd_step(qt_tensor *param, qt_tensor *momentum_buf,
		const qt_tensor *grad, const qt_sgd_opts *o, int64_t step,
		qt_ctx *ctx)
{
	const char *op = "sgd";
	const qt_tensor *state[] = {momentum_buf};
	const char *names[] = {"momentum_buf"};
	int rc;
	if (!o)
		return qt_error(QT_EUSAGE, "%s: options are NULL", op);
	if (!(o->lr >= 0) || !(o->momentum >= 0) || !(o->weight_decay >= 0) ||
	    !isfinite(o->dampening))
		return qt_error(QT_EUSAGE, "%s: need lr, momentum, weight_decay "
				">= 0 (got %g, %g, %g) and a finite dampening",
				op, o->lr, o->momentum, o->weight_decay);
	if (o->nesterov && (o->momentum <= 0 || o->dampening != 0))
		return qt_error(QT_EUSAGE, "%s: nesterov momentum requires a "
				"momentum and zero dampening", op);
	if (o->momentum != 0 && !momentum_buf)
		return qt_error(QT_EUSAGE, "%s: momentum %g needs a momentum "
				"buffer", op, o->momentum);
	if ((rc = p2_optim_check(op, param, grad, state, names, 1, step, ctx)))
		return rc;
	P2_DISPATCH(param->dtype, qt_sgd_step, param->data,
		    o->momentum != 0 ? momentum_buf->data : NULL, grad->data,
		    qt_tensor_numel(param), o->lr, o->momentum, o->dampening,
		    o->weight_decay, o->nesterov, o->maximize, step);
	return 0;
}

static int p2_adam_opts_check(const char *op, const qt_adam_opts *o)
{
	if (!o)
		return qt_error(QT_EUSAGE, "%s: options are NULL", op);
	if (!(o->lr >= 0) || !(o->eps >= 0) || !(o->weight_decay >= 0))
		return qt_error(QT_EUSAGE, "%s: need lr, eps, weight_decay >= 0 "
				"(got %g, %g, %g)", op, o->lr, o->eps,
				o->weight_decay);
	if (!(o->beta1 >= 0 && o->beta1 < 1) || !(o->beta2 >= 0 && o->beta2 < 1))
		return qt_error(QT_EUSAGE, "%s: betas (%g, %g) must lie in "
				"[0, 1)", op, o->beta1, o->beta2);
	return 0;
}

static int p2_adam(const char *op, int decoupled, qt_tensor *param,
		   qt_tensor *exp_avg, qt_tensor *exp_avg_sq,
		   qt_tensor *max_exp_avg_sq, const qt_tensor *grad,
		   const qt_adam_opts *o, int64_t step, qt_ctx *ctx)
{
	const qt_tensor *state[] = {exp_avg, exp_avg_sq, max_exp_avg_sq};
	const char *names[] = {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"};
	int rc;
	if ((rc = p2_adam_opts_check(op, o)))
		return rc;
	if (!exp_avg || !exp_avg_sq || (o->amsgrad && !max_exp_avg_sq))
		return qt_error(QT_EUSAGE, "%s: needs the exp_avg and exp_avg_sq "
				"buffers%s", op,
				o->amsgrad ? " and, with amsgrad, max_exp_avg_sq"
					   : "");
	if ((rc = p2_optim_check(op, param, grad, state, names,
				 o->amsgrad ? 3 : 2, step, ctx)))
		return rc;
	P2_DISPATCH(param->dtype, qt_adam_step, param->data, exp_avg->data,
		    exp_avg_sq->data, o->amsgrad ? max_exp_avg_sq->data : NULL,
		    grad->data, qt_tensor_numel(param), o->lr, o->beta1,
		    o->beta2, o->eps, o->weight_decay, decoupled, o->maximize,
		    step, p1_pool(ctx));
	return 0;
}

int qt_adam_step(qt_tensor *param, qt_tensor *exp_avg, qt_tensor *exp_avg_sq,
		 qt_tensor *max_exp_avg_sq, const qt_tensor *grad,
		 const qt_adam_opts *opts, int64_t step, qt_ctx *ctx)
{
	return p2_adam("adam", 0, param, exp_avg, exp_avg_sq, max_exp_avg_sq,
		       grad, opts, step, ctx);
}

int qt_adamw_step(qt_tensor *param, qt_tensor *exp_avg, qt_tensor *exp_avg_sq,
		  qt_tensor *max_exp_avg_sq, const qt_tensor *grad,
		  const qt_adam_opts *opts, int64_t step, qt_ctx *ctx)
{
	return p2_adam("adamw", 1, param, exp_avg, exp_avg_sq, max_exp_avg_sq,
		       grad, opts, step, ctx);
}

int qt_adamax_step(qt_tensor *param, qt_tensor *exp_avg, qt_tensor *exp_inf,
		   const qt_tensor *grad, const qt_adam_opts *o, int64_t step,
		   qt_ctx *ctx)
{
	const char *op = "adamax";
	const qt_tensor *state[] = {exp_avg, exp_inf};
	const char *names[] = {"exp_avg", "exp_inf"};
	int rc;
	if ((rc = p2_adam_opts_check(op, o)))
		return rc;
	if (o->amsgrad)
		return qt_error(QT_EUSAGE, "%s: amsgrad is an Adam/AdamW option",
				op);
	if (!exp_avg || !exp_inf)
		return qt_error(QT_EUSAGE, "%s: needs the exp_avg and exp_inf "
				"buffers", op);
	if ((rc = p2_optim_check(op, param, grad, state, names, 2, step, ctx)))
		return rc;
	P2_DISPATCH(param->dtype, qt_adamax_step, param->data, exp_avg->data,
		    exp_inf->data, grad->data, qt_tensor_numel(param), o->lr,
		    o->beta1, o->beta2, o->eps, o->weight_decay, o->maximize,
		    step);
	return 0;
}

/* ---- initialisers ---- */

double qt_init_gain(qt_nonlinearity nl, double param)
{
	switch (nl) {
	case QT_NL_TANH: return 5.0 / 3;
	case QT_NL_RELU: return sqrt(2.0);
	case QT_NL_LEAKY_RELU: return sqrt(2.0 / (1 + param * param));
	case QT_NL_SELU: return 3.0 / 4;
	case QT_NL_LINEAR:
	case QT_NL_SIGMOID:
	default: return 1.0;
	}
}

int qt_init_fans(int64_t *fan_in, int64_t *fan_out, const qt_tensor *w)
{
	char s[128];
	if (!w)
		return qt_error(QT_EUSAGE, "init: weight is NULL");
	if (w->ndim < 2)
		return qt_error(QT_ESHAPE, "init: fan in and fan out need a "
				"weight of 2 or more dims, not %s",
				qt_shape_str(s, sizeof s, w->ndim, w->shape));
	int64_t rf = p2_prod(w, 2, w->ndim);
	*fan_in = w->shape[1] * rf;
	*fan_out = w->shape[0] * rf;
	return 0;
}

int qt_init_constant(qt_tensor *w, double value, qt_ctx *ctx)
{
	int rc;
	if ((rc = p2_check_float("init", "w", w, ctx)) ||
	    (rc = p2_cpu_only("init", ctx)))
		return rc;
	P2_DISPATCH(w->dtype, qt_fill_constant, w->data, qt_tensor_numel(w),
		    value);
	return 0;
}

int qt_init_zeros(qt_tensor *w, qt_ctx *ctx)
{
	return qt_init_constant(w, 0.0, ctx);
}

int qt_init_ones(qt_tensor *w, qt_ctx *ctx)
{
	return qt_init_constant(w, 1.0, ctx);
}

int qt_init_uniform(qt_tensor *w, double lo, double hi, qt_rng *rng,
		    qt_ctx *ctx)
{
	int rc;
	if ((rc = p2_check_float("init", "w", w, ctx)))
		return rc;
	if (!rng)
		return qt_error(QT_EUSAGE, "init: rng is NULL");
	if (!(lo <= hi) || !isfinite(lo) || !isfinite(hi))
		return qt_error(QT_EUSAGE, "init: uniform bounds [%g, %g) are "
				"not finite and ordered", lo, hi);
	if ((rc = p2_cpu_only("init", ctx)))
		return rc;
	P2_DISPATCH(w->dtype, qt_fill_uniform, w->data, qt_tensor_numel(w), lo,
		    hi, rng);
	return 0;
}

int qt_init_normal(qt_tensor *w, double mean, double std, qt_rng *rng,
		   qt_ctx *ctx)
{
	int rc;
	if ((rc = p2_check_float("init", "w", w, ctx)))
		return rc;
	if (!rng)
		return qt_error(QT_EUSAGE, "init: rng is NULL");
	if (!isfinite(mean) || !(std >= 0) || !isfinite(std))
		return qt_error(QT_EUSAGE, "init: normal needs a finite mean "
				"and std >= 0, got %g, %g", mean, std);
	if ((rc = p2_cpu_only("init", ctx)))
		return rc;
	P2_DISPATCH(w->dtype, qt_fill_normal, w->data, qt_tensor_numel(w),
		    mean, std, rng);
	return 0;
}

int qt_init_xavier_uniform(qt_tensor *w, double gain, qt_rng *rng,
			   qt_ctx *ctx)
{
	int64_t fin, fout;
	int rc = qt_init_fans(&fin, &fout, w);
	if (rc)
		return rc;
	if (qt_tensor_numel(w) == 0)
		return p2_check_float("init", "w", w, ctx);
	double a = gain * sqrt(6.0 / (double)(fin + fout));
	return qt_init_uniform(w, -a, a, rng, ctx);
}

int qt_init_xavier_normal(qt_tensor *w, double gain, qt_rng *rng,
			  qt_ctx *ctx)
{
	int64_t fin, fout;
	int rc = qt_init_fans(&fin, &fout, w);
	if (rc)
		return rc;
	if (qt_tensor_numel(w) == 0)
		return p2_check_float("init", "w", w, ctx);
	return qt_init_normal(w, 0.0, gain * sqrt(2.0 / (double)(fin + fout)),
			      rng, ctx);
}

/* Kaiming's standard deviation gain / sqrt(fan); 0 for an empty w. */
static int p2_kaiming_std(double *std, const qt_tensor *w, double a,
			  qt_fan_mode mode, qt_nonlinearity nl)
{
	int64_t fin, fout, fan;
	int rc = qt_init_fans(&fin, &fout, w);
	if (rc)
		return rc;
	if (mode != QT_FAN_IN && mode != QT_FAN_OUT)
		return qt_error(QT_EUSAGE, "init: unknown fan mode %d",
				(int)mode);
	fan = mode == QT_FAN_IN ? fin : fout;
	*std = fan > 0 ? qt_init_gain(nl, a) / sqrt((double)fan) : 0.0;
	return 0;
}

int qt_init_kaiming_uniform(qt_tensor *w, double a, qt_fan_mode mode,
			    qt_nonlinearity nl, qt_rng *rng, qt_ctx *ctx)
{
	double std = 0, bound;
	int rc = p2_kaiming_std(&std, w, a, mode, nl);
	if (rc)
		return rc;
	bound = sqrt(3.0) * std;
	return qt_init_uniform(w, -bound, bound, rng, ctx);
}

int qt_init_kaiming_normal(qt_tensor *w, double a, qt_fan_mode mode,
			   qt_nonlinearity nl, qt_rng *rng, qt_ctx *ctx)
{
	double std = 0;
	int rc = p2_kaiming_std(&std, w, a, mode, nl);
	if (rc)
		return rc;
	return qt_init_normal(w, 0.0, std, rng, ctx);
}

int qt_init_torch_default(qt_tensor *weight, qt_tensor *bias, qt_rng *rng,
			  qt_ctx *ctx)
{
	int64_t fin, fout;
	int rc = qt_init_fans(&fin, &fout, weight);
	if (rc)
		return rc;
	if (bias && (rc = p2_check_vec("init", "bias", bias, weight->dtype,
				       weight->shape[0], 1, ctx)))
		return rc;
	if ((rc = qt_init_kaiming_uniform(weight, sqrt(5.0), QT_FAN_IN,
					  QT_NL_LEAKY_RELU, rng, ctx)))
		return rc;
	if (!bias)
		return 0;
	double bound = fin > 0 ? 1.0 / sqrt((double)fin) : 0.0;
	return qt_init_uniform(bias, -bound, bound, rng, ctx);
}

/* ==== end of part 2 ==== */
