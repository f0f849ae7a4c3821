/* test_conv2d.c: qt_conv2d_forward/backward against PyTorch fixtures
 * (tests/reference/conv2d.h5, from make_fixtures_part1.py: valid, 'same'
 * with odd and even kernels, strides, asymmetric padding, 1x1, no bias),
 * against a direct loop on shapes large enough to be cut into several
 * im2col tiles and backward slots, finite-difference gradients,
 * thread-count independence, and argument checks. */
#include "kernels/kernels.h"
#include "kernels/cpu.h"
#include "common/threadpool.h"
#include "tests/unit/test.h"
#include "tests/unit/fixture.h"

#include <stdlib.h>
#include <string.h>

#define FIX "tests/reference/conv2d.h5"

static const char *dtname[] = {[QT_F32] = "f32", [QT_F64] = "f64"};

static uint64_t rng = 0x9E3779B97F4A7C15ull;

/* uniform in [-1, 1) */
static double urand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (double)(rng >> 11) / 4503599627370496.0 - 1.0;
}

static qt_tensor *rand_tensor(qt_dtype dt, int ndim, const int64_t *shape)
{
	qt_tensor *t = qt_tensor_new(dt, ndim, shape);
	for (int64_t i = 0; t && i < qt_tensor_numel(t); i++) {
		if (dt == QT_F32)
			((float *)t->data)[i] = (float)urand();
		else
			((double *)t->data)[i] = urand();
	}
	return t;
}

static qt_tensor *load(qt_dtype dt, int cfg, const char *name)
{
	char path[64];
	snprintf(path, sizeof path, "%s/c%d/%s", dtname[dt], cfg, name);
	return fixture_load(FIX, path, dt);
}

/* got vs want: float64 to 1e-10 relative, float32 to 1e-5 */
static void check_tensor(const char *what, int cfg, const qt_tensor *got,
			 const qt_tensor *want)
{
	int64_t n = qt_tensor_numel(want);
	int ok;
	if (!got || !want || qt_tensor_numel(got) != n) {
		printf("# %s (c%d): missing or wrong size\n", what, cfg);
		test_cur_failed = 1;
		return;
	}
	if (want->dtype == QT_F64)
		ok = CHECK_CLOSE((const double *)got->data,
				 (const double *)want->data, n, 1e-12, 1e-10);
	else
		ok = CHECK_CLOSE((const float *)got->data,
				 (const float *)want->data, n, 1e-5, 1e-5);
	if (!ok)
		printf("#   in %s, config c%d, %s\n", what, cfg,
		       dtname[want->dtype]);
}

/* A workspace for x, w, opt under ctx (qt_alloc: aligned, maybe empty). */
static void *workspace(size_t *bytes, const qt_tensor *x, const qt_tensor *w,
		       const qt_conv2d_opts *opt, const qt_ctx *ctx)
{
	*bytes = 0;
	CHECK_OK(qt_conv2d_workspace(bytes, x, w, opt, ctx));
	return qt_alloc(*bytes ? *bytes : 1);
}

static void run_fixture(qt_dtype dt, int c)
{
	char name[32];
	snprintf(name, sizeof name, "meta/c%d", c);
	qt_tensor *m = fixture_load(FIX, name, QT_I32);
	CHECK(m != NULL);
	if (!m)
		return;
	const int32_t *mv = m->data;
	qt_conv2d_opts opt = {mv[0], mv[1], mv[2], mv[3], mv[4], mv[5]};
	int bias = mv[6], same = mv[7];
	qt_tensor *x = load(dt, c, "x"), *w = load(dt, c, "w");
	qt_tensor *b = bias ? load(dt, c, "b") : NULL;
	qt_tensor *y = load(dt, c, "y"), *dy = load(dt, c, "dy");
	qt_tensor *dx = load(dt, c, "dx"), *dw = load(dt, c, "dw");
	qt_tensor *db = bias ? load(dt, c, "db") : NULL;
	int ok = x && w && y && dy && dx && dw && (!bias || (b && db));
	CHECK(ok);
	if (ok && same) {
		/* the helper reproduces the 'same' pads torch was given */
		qt_conv2d_opts s = {.stride_h = opt.stride_h,
				    .stride_w = opt.stride_w};
		CHECK_OK(qt_conv2d_same_padding(&s, x->shape[2], x->shape[3],
						w->shape[2], w->shape[3]));
		CHECK(!memcmp(&s, &opt, sizeof s));
	}
	if (ok) {
		size_t bytes;
		void *work = workspace(&bytes, x, w, &opt, NULL);
		qt_tensor *gy = qt_tensor_new(dt, 4, y->shape);
		qt_tensor *gx = qt_tensor_new(dt, 4, x->shape);
		qt_tensor *gw = qt_tensor_new(dt, 4, w->shape);
		qt_tensor *gb = bias ? qt_tensor_new(dt, 1, b->shape) : NULL;
		/* garbage in dx: backward overwrites it */
		memset(gx->data, 0x7f, qt_tensor_nbytes(gx));
		CHECK_OK(qt_conv2d_forward(gy, x, w, b, &opt, work, bytes,
					   NULL));
		check_tensor("y", c, gy, y);
		CHECK_OK(qt_conv2d_backward(gx, gw, gb, dy, x, w, &opt, work,
					    bytes, NULL));
		check_tensor("dx", c, gx, dx);
		check_tensor("dw", c, gw, dw);
		if (bias)
			check_tensor("db", c, gb, db);
		/* dx only, then dw only: the same values */
		qt_tensor *gw2 = qt_tensor_new(dt, 4, w->shape);
		CHECK_OK(qt_conv2d_backward(gx, NULL, NULL, dy, x, w, &opt,
					    work, bytes, NULL));
		check_tensor("dx alone", c, gx, dx);
		CHECK_OK(qt_conv2d_backward(NULL, gw2, NULL, dy, x, w, &opt,
					    work, bytes, NULL));
		check_tensor("dw alone", c, gw2, dw);
		qt_tensor_free(gw2);
		qt_tensor_free(gy);
		qt_tensor_free(gx);
		qt_tensor_free(gw);
		qt_tensor_free(gb);
		qt_free(work);
	}
	qt_tensor_free(m);
	qt_tensor_free(x);
	qt_tensor_free(w);
	qt_tensor_free(b);
	qt_tensor_free(y);
	qt_tensor_free(dy);
	qt_tensor_free(dx);
	qt_tensor_free(dw);
	qt_tensor_free(db);
}

static void test_fixtures(void)
{
	qt_tensor *nc = fixture_load(FIX, "nconfig", QT_I32);
	CHECK(nc != NULL);
	if (!nc)
		return;
	int n = ((int32_t *)nc->data)[0];
	qt_tensor_free(nc);
	CHECK(n >= 9);
	for (int c = 0; c < n; c++) {
		run_fixture(QT_F64, c);
		run_fixture(QT_F32, c);
	}
}

static void test_same_padding(void)
{
	qt_conv2d_opts o = {.stride_h = 1, .stride_w = 1};
	/* PyTorch padding='same', even kernel: the extra pixel bottom/right */
	CHECK_OK(qt_conv2d_same_padding(&o, 20, 20, 4, 2));
	CHECK(o.pad_top == 1 && o.pad_bottom == 2);
	CHECK(o.pad_left == 0 && o.pad_right == 1);
	CHECK_OK(qt_conv2d_same_padding(&o, 20, 20, 5, 3));
	CHECK(o.pad_top == 2 && o.pad_bottom == 2);
	CHECK(o.pad_left == 1 && o.pad_right == 1);
	/* TensorFlow 'same', stride 2: out = ceil(in / 2) */
	o = (qt_conv2d_opts){.stride_h = 2, .stride_w = 2};
	CHECK_OK(qt_conv2d_same_padding(&o, 200, 7, 3, 3));
	CHECK(o.pad_top == 0 && o.pad_bottom == 1);
	CHECK(o.pad_left == 1 && o.pad_right == 1);
	CHECK(qt_window_out_size(200, 3, 2, 0, 1) == 100);
	CHECK(qt_window_out_size(7, 3, 2, 1, 1) == 4);
	CHECK(qt_window_out_size(2, 3, 1, 0, 0) == 0);
	o.stride_h = 0;
	CHECK(qt_conv2d_same_padding(&o, 20, 20, 3, 3) == QT_EUSAGE);
}

/* Direct loops in double: the definition in conv2d.c's header. */
static void direct_forward(double *y, const double *x, const double *w,
			   const double *b, const qt_conv2d_geom *g)
{
	for (int64_t n = 0; n < g->n; n++)
	for (int64_t co = 0; co < g->cout; co++)
	for (int64_t i = 0; i < g->oh; i++)
	for (int64_t j = 0; j < g->ow; j++) {
		double s = b ? b[co] : 0;
		for (int64_t ci = 0; ci < g->cin; ci++)
		for (int64_t ki = 0; ki < g->kh; ki++)
		for (int64_t kj = 0; kj < g->kw; kj++) {
			int64_t ih = i * g->sh - g->pt + ki;
			int64_t iw = j * g->sw - g->pl + kj;
			if (ih < 0 || ih >= g->h || iw < 0 || iw >= g->w)
				continue;
			s += w[((co * g->cin + ci) * g->kh + ki) * g->kw + kj] *
			     x[((n * g->cin + ci) * g->h + ih) * g->w + iw];
		}
		y[((n * g->cout + co) * g->oh + i) * g->ow + j] = s;
	}
}

/* dx, dw, db zeroed by the caller */
static void direct_backward(double *dx, double *dw, double *db,
			    const double *dy, const double *x,
			    const double *w, const qt_conv2d_geom *g)
{
	for (int64_t n = 0; n < g->n; n++)
	for (int64_t co = 0; co < g->cout; co++)
	for (int64_t i = 0; i < g->oh; i++)
	for (int64_t j = 0; j < g->ow; j++) {
		double d = dy[((n * g->cout + co) * g->oh + i) * g->ow + j];
		db[co] += d;
		for (int64_t ci = 0; ci < g->cin; ci++)
		for (int64_t ki = 0; ki < g->kh; ki++)
		for (int64_t kj = 0; kj < g->kw; kj++) {
			int64_t ih = i * g->sh - g->pt + ki;
			int64_t iw = j * g->sw - g->pl + kj;
			if (ih < 0 || ih >= g->h || iw < 0 || iw >= g->w)
				continue;
			int64_t wi = ((co * g->cin + ci) * g->kh + ki) * g->kw + kj;
			int64_t xi = ((n * g->cin + ci) * g->h + ih) * g->w + iw;
			dw[wi] += d * x[xi];
			dx[xi] += d * w[wi];
		}
	}
}

struct shape {
	int64_t n, cin, h, w, cout, kh, kw;
	qt_conv2d_opts opt;
};

/* Shapes that take several tiles per sample (K * OH * OW over the tile
 * bound, a tile ending mid-row), more samples than backward slots, and
 * windows reaching past every edge; the last four take the small-channel
 * direct path (stride 1): the jets network's two convolutions, uneven
 * padding with a partial last vector of pixels, and more channels than
 * one register block with taps not a multiple of 5. */
static const struct shape big[] = {
	{2, 8, 100, 100, 3, 3, 3, {1, 1, 1, 1, 1, 1}},
	{1, 64, 50, 47, 2, 3, 3, {2, 1, 0, 2, 1, 0}},
	{37, 2, 9, 9, 3, 3, 3, {2, 2, 1, 1, 0, 1}},
	{5, 6, 12, 12, 4, 1, 1, {1, 1, 0, 0, 0, 0}},
	{33, 1, 20, 20, 5, 5, 5, {1, 1, 0, 0, 0, 0}},
	{40, 5, 8, 8, 10, 5, 5, {1, 1, 0, 0, 0, 0}},
	{37, 3, 11, 13, 7, 5, 5, {1, 1, 2, 1, 0, 2}},
	{3, 2, 6, 6, 13, 3, 3, {1, 1, 1, 1, 1, 1}},
};

static qt_conv2d_geom geom(const struct shape *s)
{
	qt_conv2d_geom g = {s->n, s->cin, s->h, s->w, s->cout, s->kh, s->kw,
			    0, 0, s->opt.stride_h, s->opt.stride_w,
			    s->opt.pad_top, s->opt.pad_left};
	g.oh = qt_window_out_size(s->h, s->kh, s->opt.stride_h,
				  s->opt.pad_top, s->opt.pad_bottom);
	g.ow = qt_window_out_size(s->w, s->kw, s->opt.stride_w,
				  s->opt.pad_left, s->opt.pad_right);
	return g;
}

static void test_direct(void)
{
	qt_pool *pool = qt_pool_new(3);
	qt_ctx ctx = {.device = QT_CPU, .pool = pool};
	for (size_t k = 0; k < sizeof big / sizeof big[0]; k++) {
		const struct shape *s = &big[k];
		qt_conv2d_geom g = geom(s);
		int64_t xs[4] = {s->n, s->cin, s->h, s->w};
		int64_t ws[4] = {s->cout, s->cin, s->kh, s->kw};
		int64_t ys[4] = {s->n, s->cout, g.oh, g.ow};
		qt_tensor *x = rand_tensor(QT_F64, 4, xs);
		qt_tensor *w = rand_tensor(QT_F64, 4, ws);
		qt_tensor *b = rand_tensor(QT_F64, 1, ws);
		qt_tensor *dy = rand_tensor(QT_F64, 4, ys);
		qt_tensor *y = qt_tensor_new(QT_F64, 4, ys);
		qt_tensor *dx = qt_tensor_new(QT_F64, 4, xs);
		qt_tensor *dw = qt_tensor_new(QT_F64, 4, ws);
		qt_tensor *db = qt_tensor_new(QT_F64, 1, ws);
		qt_tensor *ry = qt_tensor_new(QT_F64, 4, ys);
		qt_tensor *rdx = qt_tensor_new(QT_F64, 4, xs);
		qt_tensor *rdw = qt_tensor_new(QT_F64, 4, ws);
		qt_tensor *rdb = qt_tensor_new(QT_F64, 1, ws);
		size_t bytes;
		void *work = workspace(&bytes, x, w, &s->opt, &ctx);

		CHECK_OK(qt_conv2d_forward(y, x, w, b, &s->opt, work, bytes,
					   &ctx));
		CHECK_OK(qt_conv2d_backward(dx, dw, db, dy, x, w, &s->opt, work,
					    bytes, &ctx));
		direct_forward(ry->data, x->data, w->data, b->data, &g);
		direct_backward(rdx->data, rdw->data, rdb->data, dy->data,
				x->data, w->data, &g);
		int ok = CHECK_CLOSE((const double *)y->data,
				     (const double *)ry->data,
				     qt_tensor_numel(y), 1e-12, 1e-10);
		ok &= CHECK_CLOSE((const double *)dx->data,
				  (const double *)rdx->data,
				  qt_tensor_numel(dx), 1e-12, 1e-10);
		ok &= CHECK_CLOSE((const double *)dw->data,
				  (const double *)rdw->data,
				  qt_tensor_numel(dw), 1e-12, 1e-10);
		ok &= CHECK_CLOSE((const double *)db->data,
				  (const double *)rdb->data,
				  qt_tensor_numel(db), 1e-12, 1e-10);
		if (!ok)
			printf("#   in shape %zu\n", k);
		qt_free(work);
		qt_tensor_free(x);
		qt_tensor_free(w);
		qt_tensor_free(b);
		qt_tensor_free(dy);
		qt_tensor_free(y);
		qt_tensor_free(dx);
		qt_tensor_free(dw);
		qt_tensor_free(db);
		qt_tensor_free(ry);
		qt_tensor_free(rdx);
		qt_tensor_free(rdw);
		qt_tensor_free(rdb);
	}
	qt_pool_free(pool);
}

/* Finite differences of the loss sum(y * dy) in float64. */
struct fd {
	qt_tensor *y, *x, *w, *b, *dy;
	qt_conv2d_opts opt;
	void *work;
	size_t bytes;
};

static double fd_loss(struct fd *f)
{
	double s = 0;
	if (qt_conv2d_forward(f->y, f->x, f->w, f->b, &f->opt, f->work,
			      f->bytes, NULL))
		return NAN;
	for (int64_t i = 0; i < qt_tensor_numel(f->y); i++)
		s += ((double *)f->y->data)[i] * ((double *)f->dy->data)[i];
	return s;
}

static void fd_compare(const char *name, int cfg, struct fd *f,
		       qt_tensor *p, const qt_tensor *g)
{
	const double h = 1e-6;
	int64_t n = qt_tensor_numel(p);
	double *v = p->data, *num = malloc((size_t)n * sizeof *num);
	for (int64_t i = 0; i < n; i++) {
		double keep = v[i];
		v[i] = keep + h;
		double lp = fd_loss(f);
		v[i] = keep - h;
		double lm = fd_loss(f);
		v[i] = keep;
		num[i] = (lp - lm) / (2 * h);
	}
	if (!CHECK_CLOSE((const double *)g->data, (const double *)num, n,
			 1e-7, 1e-6))
		printf("#   finite differences of %s, shape %d\n", name, cfg);
	free(num);
}

static void test_gradcheck(void)
{
	static const struct shape small[] = {
		{2, 2, 5, 6, 3, 3, 3, {1, 1, 1, 1, 1, 1}},
		{2, 2, 6, 5, 2, 4, 4, {1, 1, 1, 1, 2, 2}},
		{1, 3, 7, 6, 2, 2, 3, {2, 1, 1, 0, 0, 2}},
		{2, 3, 4, 4, 2, 1, 1, {1, 1, 0, 0, 0, 0}},
	};
	for (int k = 0; k < (int)(sizeof small / sizeof small[0]); k++) {
		const struct shape *s = &small[k];
		qt_conv2d_geom g = geom(s);
		int64_t xs[4] = {s->n, s->cin, s->h, s->w};
		int64_t ws[4] = {s->cout, s->cin, s->kh, s->kw};
		int64_t ys[4] = {s->n, s->cout, g.oh, g.ow};
		struct fd f = {
			.y = qt_tensor_new(QT_F64, 4, ys),
			.x = rand_tensor(QT_F64, 4, xs),
			.w = rand_tensor(QT_F64, 4, ws),
			.b = rand_tensor(QT_F64, 1, ws),
			.dy = rand_tensor(QT_F64, 4, ys),
			.opt = s->opt,
		};
		f.work = workspace(&f.bytes, f.x, f.w, &f.opt, NULL);
		qt_tensor *dx = qt_tensor_new(QT_F64, 4, xs);
		qt_tensor *dw = qt_tensor_new(QT_F64, 4, ws);
		qt_tensor *db = qt_tensor_new(QT_F64, 1, ws);
		CHECK_OK(qt_conv2d_backward(dx, dw, db, f.dy, f.x, f.w, &f.opt,
					    f.work, f.bytes, NULL));
		fd_compare("x", k, &f, f.x, dx);
		fd_compare("w", k, &f, f.w, dw);
		fd_compare("b", k, &f, f.b, db);
		qt_free(f.work);
		qt_tensor_free(f.y);
		qt_tensor_free(f.x);
		qt_tensor_free(f.w);
		qt_tensor_free(f.b);
		qt_tensor_free(f.dy);
		qt_tensor_free(dx);
		qt_tensor_free(dw);
		qt_tensor_free(db);
	}
}

static int same_bytes(const qt_tensor *a, const qt_tensor *b)
{
	return qt_tensor_nbytes(a) == qt_tensor_nbytes(b) &&
	       !memcmp(a->data, b->data, qt_tensor_nbytes(a));
}

/* Pools of 1 to 4 threads give the same bits. */
static void test_threads(void)
{
	for (int d = 0; d < 2; d++)
	for (size_t k = 0; k < sizeof big / sizeof big[0]; k++) {
		qt_dtype dt = d ? QT_F32 : QT_F64;
		const struct shape *s = &big[k];
		qt_conv2d_geom g = geom(s);
		int64_t xs[4] = {s->n, s->cin, s->h, s->w};
		int64_t ws[4] = {s->cout, s->cin, s->kh, s->kw};
		int64_t ys[4] = {s->n, s->cout, g.oh, g.ow};
		qt_tensor *x = rand_tensor(dt, 4, xs), *w = rand_tensor(dt, 4, ws);
		qt_tensor *b = rand_tensor(dt, 1, ws), *dy = rand_tensor(dt, 4, ys);
		qt_tensor *ref[4] = {0};
		for (int t = 1; t <= 4; t++) {
			qt_pool *pool = qt_pool_new(t);
			qt_ctx ctx = {.device = QT_CPU, .pool = pool};
			qt_tensor *out[4] = {
				qt_tensor_new(dt, 4, ys), qt_tensor_new(dt, 4, xs),
				qt_tensor_new(dt, 4, ws), qt_tensor_new(dt, 1, ws),
			};
			size_t bytes;
			void *work = workspace(&bytes, x, w, &s->opt, &ctx);
			CHECK_OK(qt_conv2d_forward(out[0], x, w, b, &s->opt, work,
						   bytes, &ctx));
			CHECK_OK(qt_conv2d_backward(out[1], out[2], out[3], dy, x,
						    w, &s->opt, work, bytes,
						    &ctx));
			for (int i = 0; i < 4; i++) {
				if (!ref[i]) {
					ref[i] = out[i];
					continue;
				}
				if (!same_bytes(out[i], ref[i])) {
					printf("# %s shape %zu: output %d differs "
					       "with %d threads\n", dtname[dt], k,
					       i, t);
					test_cur_failed = 1;
				}
				qt_tensor_free(out[i]);
			}
			qt_free(work);
			qt_pool_free(pool);
		}
		for (int i = 0; i < 4; i++)
			qt_tensor_free(ref[i]);
		qt_tensor_free(x);
		qt_tensor_free(w);
		qt_tensor_free(b);
		qt_tensor_free(dy);
	}
}

static void test_bad_arguments(void)
{
	int64_t xs[4] = {2, 3, 8, 8}, ws[4] = {4, 3, 3, 3}, ys[4] = {2, 4, 6, 6};
	int64_t w5[4] = {4, 5, 3, 3}, wbig[4] = {4, 3, 9, 9};
	int64_t y7[4] = {2, 4, 7, 7}, bs[1] = {4}, b3[1] = {3};
	qt_tensor *x = qt_tensor_new(QT_F64, 4, xs);
	qt_tensor *w = qt_tensor_new(QT_F64, 4, ws);
	qt_tensor *y = qt_tensor_new(QT_F64, 4, ys);
	qt_tensor *b = qt_tensor_new(QT_F64, 1, bs);
	qt_tensor *wc = qt_tensor_new(QT_F64, 4, w5);
	qt_tensor *wk = qt_tensor_new(QT_F64, 4, wbig);
	qt_tensor *yb = qt_tensor_new(QT_F64, 4, y7);
	qt_tensor *bb = qt_tensor_new(QT_F64, 1, b3);
	qt_tensor *wf = qt_tensor_new(QT_F32, 4, ws);
	qt_tensor *x3 = qt_tensor_new(QT_F64, 3, xs);
	qt_conv2d_opts opt = {1, 1, 0, 0, 0, 0}, bad = {0, 1, 0, 0, 0, 0};
	size_t bytes = 0;
	void *work = workspace(&bytes, x, w, &opt, NULL);

	CHECK(bytes > 0);
	CHECK_OK(qt_conv2d_forward(y, x, w, b, &opt, work, bytes, NULL));
	CHECK(qt_conv2d_forward(y, x, wc, b, &opt, work, bytes, NULL) ==
	      QT_ESHAPE);
	CHECK(strstr(qt_error_message(QT_ESHAPE), "conv2d_forward") != NULL);
	CHECK(strstr(qt_error_message(QT_ESHAPE), "(4, 5, 3, 3)") != NULL);
	CHECK(qt_conv2d_forward(y, x, wk, b, &opt, work, bytes, NULL) ==
	      QT_ESHAPE);
	CHECK(qt_conv2d_forward(yb, x, w, b, &opt, work, bytes, NULL) ==
	      QT_ESHAPE);
	CHECK(qt_conv2d_forward(y, x, w, bb, &opt, work, bytes, NULL) ==
	      QT_ESHAPE);
	CHECK(qt_conv2d_forward(y, x, wf, b, &opt, work, bytes, NULL) ==
	      QT_ESHAPE);
	CHECK(qt_conv2d_forward(y, x3, w, b, &opt, work, bytes, NULL) ==
	      QT_ESHAPE);
	CHECK(qt_conv2d_forward(y, x, w, b, &bad, work, bytes, NULL) ==
	      QT_EUSAGE);
	CHECK(qt_conv2d_forward(y, x, w, b, &opt, work, bytes - 1, NULL) ==
	      QT_EUSAGE);
	CHECK(qt_conv2d_forward(y, x, w, b, &opt, NULL, 0, NULL) == QT_EUSAGE);
	CHECK(qt_conv2d_backward(x, w, b, yb, x, w, &opt, work, bytes, NULL) ==
	      QT_ESHAPE);
	CHECK(qt_conv2d_backward(y, w, b, y, x, w, &opt, work, bytes, NULL) ==
	      QT_ESHAPE);
	CHECK(qt_conv2d_backward(x, wc, b, y, x, w, &opt, work, bytes, NULL) ==
	      QT_ESHAPE);
	CHECK(qt_conv2d_backward(x, w, bb, y, x, w, &opt, work, bytes, NULL) ==
	      QT_ESHAPE);
	CHECK(qt_conv2d_workspace(&bytes, x, wk, &opt, NULL) == QT_ESHAPE);
	qt_ctx cuda = {.device = QT_CUDA};
	x->device = y->device = w->device = b->device = QT_CUDA;
	CHECK(qt_conv2d_forward(y, x, w, b, &opt, work, bytes, &cuda) ==
	      QT_ENODEV);

	qt_free(work);
	qt_tensor_free(x);
	qt_tensor_free(w);
	qt_tensor_free(y);
	qt_tensor_free(b);
	qt_tensor_free(wc);
	qt_tensor_free(wk);
	qt_tensor_free(yb);
	qt_tensor_free(bb);
	qt_tensor_free(wf);
	qt_tensor_free(x3);
}

int main(void)
{
	RUN(test_fixtures);
	RUN(test_same_padding);
	RUN(test_direct);
	RUN(test_gradcheck);
	RUN(test_threads);
	RUN(test_bad_arguments);
	return test_done();
}
