/* test_dense.c: qt_dense_forward/backward against PyTorch fixtures
 * (tests/reference/dense.h5, from make_fixtures_part1.py), finite-difference
 * gradients, thread-count independence, and argument checks. */
#include "kernels/kernels.h"
#include "common/threadpool.h"
#include "tests/unit/test.h"
#include "tests/unit/fixture.h"

#include <stdlib.h>
#include <string.h>

#define FIX "tests/reference/dense.h5"

static const char *dtname[] = {[QT_F32] = "f32", [QT_F64] = "f64"};

static uint64_t rng = 0x2545F4914F6CDD1Dull;

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

static void scale(qt_tensor *t, double s)
{
	for (int64_t i = 0; i < qt_tensor_numel(t); i++) {
		if (t->dtype == QT_F32)
			((float *)t->data)[i] *= (float)s;
		else
			((double *)t->data)[i] *= s;
	}
}

static void test_fixtures(void)
{
	qt_tensor *nc = fixture_load(FIX, "nconfig", QT_I32);
	CHECK(nc != NULL);
	if (!nc)
		return;
	int n = ((int32_t *)nc->data)[0];
	qt_tensor_free(nc);
	CHECK(n >= 3);
	for (int d = 0; d < 2; d++) {
		qt_dtype dt = d ? QT_F32 : QT_F64;
		for (int c = 0; c < n; c++) {
			char meta[32];
			snprintf(meta, sizeof meta, "meta/c%d", c);
			qt_tensor *m = fixture_load(FIX, meta, QT_I32);
			int bias = m && ((int32_t *)m->data)[0];
			qt_tensor *x = load(dt, c, "x"), *w = load(dt, c, "w");
			qt_tensor *b = bias ? load(dt, c, "b") : NULL;
			qt_tensor *y = load(dt, c, "y"), *dy = load(dt, c, "dy");
			qt_tensor *dx = load(dt, c, "dx"), *dw = load(dt, c, "dw");
			qt_tensor *db = bias ? load(dt, c, "db") : NULL;
			CHECK(m && x && w && y && dy && dx && dw &&
			      (!bias || (b && db)));
			if (m && x && w && y && dy && dx && dw &&
			    (!bias || (b && db))) {
				qt_tensor *gy = qt_tensor_new(dt, y->ndim, y->shape);
				qt_tensor *gx = qt_tensor_new(dt, x->ndim, x->shape);
				qt_tensor *gw = qt_tensor_new(dt, 2, w->shape);
				qt_tensor *gb = bias ? qt_tensor_new(dt, 1, b->shape)
						     : NULL;
				CHECK_OK(qt_dense_forward(gy, x, w, b, NULL));
				check_tensor("y", c, gy, y);
				CHECK_OK(qt_dense_backward(gx, gw, gb, dy, x, w,
							   NULL));
				check_tensor("dx", c, gx, dx);
				check_tensor("dw", c, gw, dw);
				if (bias)
					check_tensor("db", c, gb, db);
				/* a second backward accumulates dw, db and
				 * overwrites dx */
				CHECK_OK(qt_dense_backward(gx, gw, gb, dy, x, w,
							   NULL));
				check_tensor("dx again", c, gx, dx);
				scale(gw, 0.5);
				check_tensor("dw accumulated", c, gw, dw);
				if (bias) {
					scale(gb, 0.5);
					check_tensor("db accumulated", c, gb, db);
				}
				qt_tensor_free(gy);
				qt_tensor_free(gx);
				qt_tensor_free(gw);
				qt_tensor_free(gb);
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
	}
}

/* Finite differences: the loss sum(y * dy) of a float64 dense layer. */
struct fd {
	qt_tensor *y, *x, *w, *b, *dy;
};

static double fd_loss(struct fd *f)
{
	double s = 0;
	if (qt_dense_forward(f->y, f->x, f->w, f->b, NULL))
		return NAN;
	for (int64_t i = 0; i < qt_tensor_numel(f->y); i++)
		s += ((double *)f->y->data)[i] * ((double *)f->dy->data)[i];
	return s;
}

/* Central differences of the loss with respect to each element of p,
 * compared with the analytic gradient g. */
static void fd_compare(const char *name, struct fd *f, qt_tensor *p,
		       const qt_tensor *g)
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
		printf("#   finite differences of %s\n", name);
	free(num);
}

static void test_gradcheck(void)
{
	for (int bias = 0; bias < 2; bias++) {
		int64_t xs[3] = {2, 3, 6}, ws[2] = {4, 6}, ys[3] = {2, 3, 4};
		struct fd f = {
			.y = qt_tensor_new(QT_F64, 3, ys),
			.x = rand_tensor(QT_F64, 3, xs),
			.w = rand_tensor(QT_F64, 2, ws),
			.b = bias ? rand_tensor(QT_F64, 1, ws) : NULL,
			.dy = rand_tensor(QT_F64, 3, ys),
		};
		qt_tensor *dx = qt_tensor_new(QT_F64, 3, xs);
		qt_tensor *dw = qt_tensor_new(QT_F64, 2, ws);
		qt_tensor *db = qt_tensor_new(QT_F64, 1, ws);
		CHECK_OK(qt_dense_backward(dx, dw, bias ? db : NULL, f.dy, f.x,
					   f.w, NULL));
		fd_compare("x", &f, f.x, dx);
		fd_compare("w", &f, f.w, dw);
		if (bias)
			fd_compare("b", &f, f.b, db);
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

/* Results are the same bit for bit for pools of 1, 2, 3 and 4 threads,
 * with several row and feature blocks. */
static void test_threads(void)
{
	for (int d = 0; d < 2; d++) {
		qt_dtype dt = d ? QT_F32 : QT_F64;
		int64_t xs[2] = {300, 70}, ws[2] = {130, 70}, ys[2] = {300, 130};
		qt_tensor *x = rand_tensor(dt, 2, xs), *w = rand_tensor(dt, 2, ws);
		qt_tensor *b = rand_tensor(dt, 1, ws), *dy = rand_tensor(dt, 2, ys);
		qt_tensor *ref[4] = {0};
		for (int t = 1; t <= 4; t++) {
			qt_pool *pool = qt_pool_new(t);
			qt_ctx ctx = {.device = QT_CPU, .pool = pool};
			qt_tensor *out[4] = {
				qt_tensor_new(dt, 2, ys), qt_tensor_new(dt, 2, xs),
				qt_tensor_new(dt, 2, ws), qt_tensor_new(dt, 1, ws),
			};
			/* dw, db start non-zero: backward accumulates */
			for (int k = 2; k < 4; k++)
				for (int64_t i = 0; i < qt_tensor_numel(out[k]); i++) {
					if (dt == QT_F32)
						((float *)out[k]->data)[i] = 0.25f;
					else
						((double *)out[k]->data)[i] = 0.25;
				}
			CHECK(pool != NULL);
			CHECK_OK(qt_dense_forward(out[0], x, w, b, &ctx));
			CHECK_OK(qt_dense_backward(out[1], out[2], out[3], dy, x,
						   w, &ctx));
			for (int k = 0; k < 4; k++) {
				if (!ref[k]) {
					ref[k] = out[k];
					continue;
				}
				if (!same_bytes(out[k], ref[k])) {
					printf("# %s output %d differs with %d "
					       "threads\n", dtname[dt], k, t);
					test_cur_failed = 1;
				}
				qt_tensor_free(out[k]);
			}
			qt_pool_free(pool);
		}
		for (int k = 0; k < 4; k++)
			qt_tensor_free(ref[k]);
		qt_tensor_free(x);
		qt_tensor_free(w);
		qt_tensor_free(b);
		qt_tensor_free(dy);
	}
}

static void test_bad_arguments(void)
{
	int64_t xs[2] = {4, 5}, ws[2] = {3, 5}, ys[2] = {4, 3}, bs[1] = {3};
	int64_t bad_w[2] = {3, 6}, bad_y[2] = {4, 4}, bad_b[1] = {4};
	qt_tensor *x = qt_tensor_new(QT_F64, 2, xs);
	qt_tensor *w = qt_tensor_new(QT_F64, 2, ws);
	qt_tensor *y = qt_tensor_new(QT_F64, 2, ys);
	qt_tensor *b = qt_tensor_new(QT_F64, 1, bs);
	qt_tensor *w6 = qt_tensor_new(QT_F64, 2, bad_w);
	qt_tensor *y4 = qt_tensor_new(QT_F64, 2, bad_y);
	qt_tensor *b4 = qt_tensor_new(QT_F64, 1, bad_b);
	qt_tensor *wf = qt_tensor_new(QT_F32, 2, ws);
	qt_tensor *xi = qt_tensor_new(QT_I32, 2, xs);
	qt_tensor *x3 = qt_tensor_new(QT_F64, 1, xs + 1);

	CHECK_OK(qt_dense_forward(y, x, w, b, NULL));
	CHECK(qt_dense_forward(y, x, w6, b, NULL) == QT_ESHAPE);
	CHECK(qt_dense_forward(y4, x, w, b, NULL) == QT_ESHAPE);
	CHECK(qt_dense_forward(y, x, w, b4, NULL) == QT_ESHAPE);
	CHECK(qt_dense_forward(y, x, wf, b, NULL) == QT_ESHAPE);
	CHECK(qt_dense_forward(y, xi, w, b, NULL) == QT_ESHAPE);
	CHECK(qt_dense_forward(y, x3, w, b, NULL) == QT_ESHAPE);
	CHECK(qt_dense_forward(NULL, x, w, b, NULL) == QT_EUSAGE);
	CHECK(qt_dense_backward(x, w, b, y4, x, w, NULL) == QT_ESHAPE);
	CHECK(qt_dense_backward(y, w, b, y, x, w, NULL) == QT_ESHAPE);
	CHECK(qt_dense_backward(x, w6, b, y, x, w, NULL) == QT_ESHAPE);
	CHECK(qt_dense_backward(x, w, b4, y, x, w, NULL) == QT_ESHAPE);
	CHECK_OK(qt_dense_backward(NULL, NULL, NULL, y, x, w, NULL));
	qt_ctx cuda = {.device = QT_CUDA};
	CHECK(qt_dense_forward(y, x, w, b, &cuda) == QT_EUSAGE);
	x->device = y->device = w->device = b->device = QT_CUDA;
	CHECK(qt_dense_forward(y, x, w, b, &cuda) == QT_ENODEV);
	x->device = y->device = w->device = b->device = QT_CPU;
	/* the message names the op and the shapes */
	qt_dense_forward(y, x, w6, b, NULL);
	CHECK(strstr(qt_error_message(QT_ESHAPE), "dense_forward") != NULL);
	CHECK(strstr(qt_error_message(QT_ESHAPE), "(3, 6)") != NULL);

	qt_tensor_free(x);
	qt_tensor_free(w);
	qt_tensor_free(y);
	qt_tensor_free(b);
	qt_tensor_free(w6);
	qt_tensor_free(y4);
	qt_tensor_free(b4);
	qt_tensor_free(wf);
	qt_tensor_free(xi);
	qt_tensor_free(x3);
}

int main(void)
{
	RUN(test_fixtures);
	RUN(test_gradcheck);
	RUN(test_threads);
	RUN(test_bad_arguments);
	return test_done();
}
