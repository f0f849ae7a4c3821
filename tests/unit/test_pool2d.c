/* test_pool2d.c: max, average and global average pooling against PyTorch
 * fixtures (tests/reference/pool2d.h5, from make_fixtures_part1.py: exact
 * tiling, floor mode, overlapping and rectangular windows, ties),
 * finite-difference gradients, thread-count independence, and argument
 * checks. */
#include "kernels/kernels.h"
#include "common/threadpool.h"
#include "tests/unit/test.h"
#include "tests/unit/fixture.h"

#include <stdlib.h>
#include <string.h>

#define FIX "tests/reference/pool2d.h5"

static const char *dtname[] = {[QT_F32] = "f32", [QT_F64] = "f64"};

static uint64_t rng = 0xD1B54A32D192ED03ull;

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

static qt_tensor *load(qt_dtype dt, const char *group, int cfg,
		       const char *name)
{
	char path[64];
	if (cfg < 0)
		snprintf(path, sizeof path, "%s/%s/%s", dtname[dt], group, name);
	else
		snprintf(path, sizeof path, "%s/%s/c%d/%s", dtname[dt], group,
			 cfg, name);
	return fixture_load(FIX, path, !strcmp(name, "argmax") ? QT_I32 : dt);
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

static int nconfig(void)
{
	qt_tensor *nc = fixture_load(FIX, "nconfig", QT_I32);
	int n = nc ? ((int32_t *)nc->data)[0] : 0;
	qt_tensor_free(nc);
	CHECK(n >= 5);
	return n;
}

/* meta/cK = [kh, kw, sh, sw, ties] */
static int meta(int c, int32_t m[5])
{
	char name[32];
	snprintf(name, sizeof name, "meta/c%d", c);
	qt_tensor *t = fixture_load(FIX, name, QT_I32);
	if (!t)
		return -1;
	memcpy(m, t->data, 5 * sizeof *m);
	qt_tensor_free(t);
	return 0;
}

static void test_maxpool_fixtures(void)
{
	int n = nconfig();
	for (int d = 0; d < 2; d++)
	for (int c = 0; c < n; c++) {
		qt_dtype dt = d ? QT_F32 : QT_F64;
		int32_t m[5];
		CHECK(meta(c, m) == 0);
		qt_tensor *x = load(dt, "max", c, "x"), *y = load(dt, "max", c, "y");
		qt_tensor *am = load(dt, "max", c, "argmax");
		qt_tensor *dy = load(dt, "max", c, "dy");
		qt_tensor *dx = load(dt, "max", c, "dx");
		CHECK(x && y && am && dy && dx);
		if (x && y && am && dy && dx) {
			qt_tensor *gy = qt_tensor_new(dt, 4, y->shape);
			qt_tensor *gam = qt_tensor_new(QT_I32, 4, y->shape);
			qt_tensor *gx = qt_tensor_new(dt, 4, x->shape);
			memset(gx->data, 0x7f, qt_tensor_nbytes(gx));
			CHECK_OK(qt_maxpool2d_forward(gy, gam, x, m[0], m[1], m[2],
						      m[3], NULL));
			check_tensor("max y", c, gy, y);
			if (memcmp(gam->data, am->data, qt_tensor_nbytes(am))) {
				printf("# max argmax differs from torch's, c%d "
				       "%s\n", c, dtname[dt]);
				test_cur_failed = 1;
			}
			CHECK_OK(qt_maxpool2d_backward(gx, dy, gam, NULL));
			check_tensor("max dx", c, gx, dx);
			qt_tensor_free(gy);
			qt_tensor_free(gam);
			qt_tensor_free(gx);
		}
		qt_tensor_free(x);
		qt_tensor_free(y);
		qt_tensor_free(am);
		qt_tensor_free(dy);
		qt_tensor_free(dx);
	}
}

static void test_avgpool_fixtures(void)
{
	int n = nconfig();
	for (int d = 0; d < 2; d++)
	for (int c = 0; c < n; c++) {
		qt_dtype dt = d ? QT_F32 : QT_F64;
		int32_t m[5];
		CHECK(meta(c, m) == 0);
		qt_tensor *x = load(dt, "avg", c, "x"), *y = load(dt, "avg", c, "y");
		qt_tensor *dy = load(dt, "avg", c, "dy");
		qt_tensor *dx = load(dt, "avg", c, "dx");
		CHECK(x && y && dy && dx);
		if (x && y && dy && dx) {
			qt_tensor *gy = qt_tensor_new(dt, 4, y->shape);
			qt_tensor *gx = qt_tensor_new(dt, 4, x->shape);
			memset(gx->data, 0x7f, qt_tensor_nbytes(gx));
			CHECK_OK(qt_avgpool2d_forward(gy, x, m[0], m[1], m[2], m[3],
						      NULL));
			check_tensor("avg y", c, gy, y);
			CHECK_OK(qt_avgpool2d_backward(gx, dy, m[0], m[1], m[2],
						       m[3], NULL));
			check_tensor("avg dx", c, gx, dx);
			qt_tensor_free(gy);
			qt_tensor_free(gx);
		}
		qt_tensor_free(x);
		qt_tensor_free(y);
		qt_tensor_free(dy);
		qt_tensor_free(dx);
	}
}

static void test_global_avgpool_fixtures(void)
{
	for (int d = 0; d < 2; d++) {
		qt_dtype dt = d ? QT_F32 : QT_F64;
		qt_tensor *x = load(dt, "gap", -1, "x"), *y = load(dt, "gap", -1, "y");
		qt_tensor *dy = load(dt, "gap", -1, "dy");
		qt_tensor *dx = load(dt, "gap", -1, "dx");
		CHECK(x && y && dy && dx);
		if (x && y && dy && dx) {
			qt_tensor *gy = qt_tensor_new(dt, 2, y->shape);
			qt_tensor *gx = qt_tensor_new(dt, 4, x->shape);
			CHECK_OK(qt_global_avgpool2d_forward(gy, x, NULL));
			check_tensor("gap y", 0, gy, y);
			CHECK_OK(qt_global_avgpool2d_backward(gx, dy, NULL));
			check_tensor("gap dx", 0, gx, dx);
			/* (N, C, 1, 1) works too */
			int64_t s4[4] = {y->shape[0], y->shape[1], 1, 1};
			qt_tensor y4 = qt_tensor_wrap(dt, 4, s4, gy->data);
			CHECK_OK(qt_global_avgpool2d_forward(&y4, x, NULL));
			check_tensor("gap y (N, C, 1, 1)", 0, gy, y);
			qt_tensor_free(gy);
			qt_tensor_free(gx);
		}
		qt_tensor_free(x);
		qt_tensor_free(y);
		qt_tensor_free(dy);
		qt_tensor_free(dx);
	}
}

/* The loss sum(y * dy) of one pooling op in float64. */
enum { MAXP, AVGP, GAP };

struct fd {
	int kind, kh, kw, sh, sw;
	qt_tensor *y, *x, *dy, *argmax;
};

static double fd_loss(struct fd *f)
{
	double s = 0;
	int rc = f->kind == MAXP ? qt_maxpool2d_forward(f->y, f->argmax, f->x,
							f->kh, f->kw, f->sh,
							f->sw, NULL)
	       : f->kind == AVGP ? qt_avgpool2d_forward(f->y, f->x, f->kh,
							f->kw, f->sh, f->sw,
							NULL)
				 : qt_global_avgpool2d_forward(f->y, f->x, NULL);
	if (rc)
		return NAN;
	for (int64_t i = 0; i < qt_tensor_numel(f->y); i++)
		s += ((double *)f->y->data)[i] * ((double *)f->dy->data)[i];
	return s;
}

static void test_gradcheck(void)
{
	static const int win[][4] = {{2, 2, 2, 2}, {3, 3, 2, 2}, {2, 3, 1, 2},
				     {3, 2, 0, 0}};
	for (int kind = MAXP; kind <= GAP; kind++)
	for (int k = 0; k < 4; k++) {
		if (kind == GAP && k > 0)
			break;
		struct fd f = {.kind = kind, .kh = win[k][0], .kw = win[k][1],
			       .sh = win[k][2], .sw = win[k][3]};
		int sh = f.sh ? f.sh : f.kh, sw = f.sw ? f.sw : f.kw;
		int64_t xs[4] = {2, 2, 7, 6};
		int64_t ys[4] = {2, 2, (7 - f.kh) / sh + 1, (6 - f.kw) / sw + 1};
		if (kind == GAP)
			ys[2] = ys[3] = 1;
		f.x = rand_tensor(QT_F64, 4, xs);
		f.y = qt_tensor_new(QT_F64, 4, ys);
		f.dy = rand_tensor(QT_F64, 4, ys);
		f.argmax = qt_tensor_new(QT_I32, 4, ys);
		qt_tensor *dx = qt_tensor_new(QT_F64, 4, xs);
		fd_loss(&f);
		if (kind == MAXP)
			CHECK_OK(qt_maxpool2d_backward(dx, f.dy, f.argmax, NULL));
		else if (kind == AVGP)
			CHECK_OK(qt_avgpool2d_backward(dx, f.dy, f.kh, f.kw, f.sh,
						       f.sw, NULL));
		else
			CHECK_OK(qt_global_avgpool2d_backward(dx, f.dy, NULL));

		const double h = 1e-6;
		int64_t n = qt_tensor_numel(f.x);
		double *v = f.x->data, *num = malloc((size_t)n * sizeof *num);
		for (int64_t i = 0; i < n; i++) {
			double keep = v[i];
			v[i] = keep + h;
			double lp = fd_loss(&f);
			v[i] = keep - h;
			double lm = fd_loss(&f);
			v[i] = keep;
			num[i] = (lp - lm) / (2 * h);
		}
		if (!CHECK_CLOSE((const double *)dx->data, (const double *)num,
				 n, 1e-7, 1e-6))
			printf("#   finite differences, op %d window %d\n", kind,
			       k);
		free(num);
		qt_tensor_free(f.x);
		qt_tensor_free(f.y);
		qt_tensor_free(f.dy);
		qt_tensor_free(f.argmax);
		qt_tensor_free(dx);
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
	for (int d = 0; d < 2; d++) {
		qt_dtype dt = d ? QT_F32 : QT_F64;
		/* over the size that runs on the caller, 2x2 windows on the
		 * vectorised path */
		int64_t xs[4] = {70, 5, 32, 32}, ys[4] = {70, 5, 16, 16};
		int64_t gs[2] = {70, 5};
		qt_tensor *x = rand_tensor(dt, 4, xs), *dy = rand_tensor(dt, 4, ys);
		qt_tensor *dg = rand_tensor(dt, 2, gs);
		qt_tensor *ref[7] = {0};
		for (int t = 1; t <= 4; t++) {
			qt_pool *pool = qt_pool_new(t);
			qt_ctx ctx = {.device = QT_CPU, .pool = pool};
			qt_tensor *out[7] = {
				qt_tensor_new(dt, 4, ys), qt_tensor_new(QT_I32, 4, ys),
				qt_tensor_new(dt, 4, xs), qt_tensor_new(dt, 4, ys),
				qt_tensor_new(dt, 4, xs), qt_tensor_new(dt, 2, gs),
				qt_tensor_new(dt, 4, xs),
			};
			CHECK_OK(qt_maxpool2d_forward(out[0], out[1], x, 2, 2, 0, 0,
						      &ctx));
			CHECK_OK(qt_maxpool2d_backward(out[2], dy, out[1], &ctx));
			CHECK_OK(qt_avgpool2d_forward(out[3], x, 2, 2, 2, 2, &ctx));
			CHECK_OK(qt_avgpool2d_backward(out[4], dy, 2, 2, 2, 2,
						       &ctx));
			CHECK_OK(qt_global_avgpool2d_forward(out[5], x, &ctx));
			CHECK_OK(qt_global_avgpool2d_backward(out[6], dg, &ctx));
			for (int i = 0; i < 7; i++) {
				if (!ref[i]) {
					ref[i] = out[i];
					continue;
				}
				if (!same_bytes(out[i], ref[i])) {
					printf("# %s output %d differs with %d "
					       "threads\n", dtname[dt], i, t);
					test_cur_failed = 1;
				}
				qt_tensor_free(out[i]);
			}
			qt_pool_free(pool);
		}
		for (int i = 0; i < 7; i++)
			qt_tensor_free(ref[i]);
		qt_tensor_free(x);
		qt_tensor_free(dy);
		qt_tensor_free(dg);
	}
}

static void test_nan_and_ties(void)
{
	/* one 2x2 window: NaN wins over larger values; ties keep the first */
	int64_t xs[4] = {1, 1, 2, 2}, ys[4] = {1, 1, 1, 1};
	double v[4] = {1, NAN, 3, 2}, t[4] = {2, 5, 5, 1};
	qt_tensor x = qt_tensor_wrap(QT_F64, 4, xs, v);
	qt_tensor *y = qt_tensor_new(QT_F64, 4, ys);
	qt_tensor *am = qt_tensor_new(QT_I32, 4, ys);
	CHECK_OK(qt_maxpool2d_forward(y, am, &x, 2, 2, 0, 0, NULL));
	CHECK(isnan(((double *)y->data)[0]) && ((int32_t *)am->data)[0] == 1);
	x.data = t;
	CHECK_OK(qt_maxpool2d_forward(y, am, &x, 2, 2, 0, 0, NULL));
	CHECK(((double *)y->data)[0] == 5 && ((int32_t *)am->data)[0] == 1);
	qt_tensor_free(y);
	qt_tensor_free(am);
}

/* The vectorised 2x2 stride-2 max pooling (wide rows, narrow planes run
 * together, odd sizes left to the plain loop) against the rule written
 * out: values from {-1, 0, 1, NaN} so that ties and NaNs are frequent;
 * then backward against routing dy by hand. */
static void test_2x2_paths(void)
{
	static const int64_t shapes[][4] = {
		{3, 5, 16, 16}, {3, 10, 4, 4}, {2, 3, 8, 64}, {5, 4, 4, 8},
		{2, 2, 9, 17}, {1, 3, 6, 6}, {4, 6, 2, 32},
	};
	for (int d = 0; d < 2; d++)
	for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
		qt_dtype dt = d ? QT_F32 : QT_F64;
		const int64_t *xs = shapes[k];
		int64_t oh = xs[2] / 2, ow = xs[3] / 2;
		int64_t ys[4] = {xs[0], xs[1], oh, ow}, nc = xs[0] * xs[1];
		qt_tensor *x = qt_tensor_new(dt, 4, xs);
		qt_tensor *y = qt_tensor_new(dt, 4, ys);
		qt_tensor *am = qt_tensor_new(QT_I32, 4, ys);
		qt_tensor *dy = rand_tensor(dt, 4, ys);
		qt_tensor *dx = qt_tensor_new(dt, 4, xs);
		int bad = 0;
		for (int64_t i = 0; i < qt_tensor_numel(x); i++) {
			double u = urand();
			double v = u < -0.9 ? NAN : u < -0.3 ? -1 : u < 0.3 ? 0 : 1;
			if (dt == QT_F32)
				((float *)x->data)[i] = (float)v;
			else
				((double *)x->data)[i] = v;
		}
		CHECK_OK(qt_maxpool2d_forward(y, am, x, 2, 2, 2, 2, NULL));
		CHECK_OK(qt_maxpool2d_backward(dx, dy, am, NULL));
		for (int64_t c = 0; c < nc && !bad; c++)
		for (int64_t i = 0; i < oh; i++)
		for (int64_t j = 0; j < ow; j++) {
			int64_t pl = c * xs[2] * xs[3], best = 2 * i * xs[3] + 2 * j;
			double m = -INFINITY;
			for (int ki = 0; ki < 2; ki++)
				for (int kj = 0; kj < 2; kj++) {
					int64_t idx = (2 * i + ki) * xs[3] + 2 * j + kj;
					double v = qt_tensor_get(x, pl + idx);
					if (v > m || v != v) {
						m = v;
						best = idx;
					}
				}
			int64_t o = (c * oh + i) * ow + j;
			double got = qt_tensor_get(y, o);
			int32_t ga = ((int32_t *)am->data)[o];
			if (ga != best || !(got == m || (got != got && m != m))) {
				printf("# %s %lldx%lldx%lldx%lld: window %lld: got %g "
				       "at %d, want %g at %lld\n", dtname[dt],
				       (long long)xs[0], (long long)xs[1],
				       (long long)xs[2], (long long)xs[3],
				       (long long)o, got, ga, m, (long long)best);
				bad = 1;
				break;
			}
			/* backward: dy at the argmax, zero elsewhere */
			for (int ki = 0; ki < 2; ki++)
				for (int kj = 0; kj < 2; kj++) {
					int64_t idx = (2 * i + ki) * xs[3] + 2 * j + kj;
					double want = idx == best ? qt_tensor_get(dy, o) : 0;
					if (qt_tensor_get(dx, pl + idx) != want && !bad) {
						printf("# %s: dx[%lld] wrong\n", dtname[dt],
						       (long long)(pl + idx));
						bad = 1;
					}
				}
		}
		CHECK(!bad);
		/* an argmax outside its window (not from a 2x2 forward):
		 * backward must still add dy at every argmax */
		int32_t *ai = am->data;
		ai[qt_tensor_numel(am) - 1] = ai[0];
		CHECK_OK(qt_maxpool2d_backward(dx, dy, am, NULL));
		qt_tensor *ref = qt_tensor_new(dt, 4, xs);
		memset(ref->data, 0, qt_tensor_nbytes(ref));
		for (int64_t o = 0; o < qt_tensor_numel(am); o++) {
			int64_t at = o / (oh * ow) * xs[2] * xs[3] + ai[o];
			if (dt == QT_F32)
				((float *)ref->data)[at] += ((float *)dy->data)[o];
			else
				((double *)ref->data)[at] += ((double *)dy->data)[o];
		}
		CHECK(same_bytes(dx, ref));
		qt_tensor_free(ref);
		qt_tensor_free(x);
		qt_tensor_free(y);
		qt_tensor_free(am);
		qt_tensor_free(dy);
		qt_tensor_free(dx);
	}
}

static void test_bad_arguments(void)
{
	int64_t xs[4] = {2, 3, 7, 7}, ys[4] = {2, 3, 3, 3}, y4[4] = {2, 3, 4, 4};
	int64_t gs[2] = {2, 3}, g2[2] = {3, 2};
	qt_tensor *x = qt_tensor_new(QT_F64, 4, xs);
	qt_tensor *y = qt_tensor_new(QT_F64, 4, ys);
	qt_tensor *yb = qt_tensor_new(QT_F64, 4, y4);
	qt_tensor *yf = qt_tensor_new(QT_F32, 4, ys);
	qt_tensor *am = qt_tensor_new(QT_I32, 4, ys);
	qt_tensor *am64 = qt_tensor_new(QT_I64, 4, ys);
	qt_tensor *g = qt_tensor_new(QT_F64, 2, gs);
	qt_tensor *gb = qt_tensor_new(QT_F64, 2, g2);
	qt_tensor *x3 = qt_tensor_new(QT_F64, 3, xs);

	CHECK_OK(qt_maxpool2d_forward(y, am, x, 2, 2, 0, 0, NULL));
	CHECK(qt_maxpool2d_forward(yb, am, x, 2, 2, 0, 0, NULL) == QT_ESHAPE);
	CHECK(strstr(qt_error_message(QT_ESHAPE), "maxpool2d_forward") != NULL);
	CHECK(strstr(qt_error_message(QT_ESHAPE), "(2, 3, 4, 4)") != NULL);
	CHECK(qt_maxpool2d_forward(yf, am, x, 2, 2, 0, 0, NULL) == QT_ESHAPE);
	CHECK(qt_maxpool2d_forward(y, am64, x, 2, 2, 0, 0, NULL) == QT_ESHAPE);
	CHECK(qt_maxpool2d_forward(y, am, x3, 2, 2, 0, 0, NULL) == QT_ESHAPE);
	CHECK(qt_maxpool2d_forward(y, am, x, 8, 8, 0, 0, NULL) == QT_ESHAPE);
	CHECK(qt_maxpool2d_forward(y, am, x, 0, 2, 0, 0, NULL) == QT_EUSAGE);
	CHECK(qt_maxpool2d_backward(x, yb, am, NULL) == QT_ESHAPE);
	((int32_t *)am->data)[3] = 49;
	CHECK(qt_maxpool2d_backward(x, y, am, NULL) == QT_EUSAGE);
	CHECK(qt_avgpool2d_forward(yb, x, 2, 2, 0, 0, NULL) == QT_ESHAPE);
	CHECK(qt_avgpool2d_backward(x, yb, 2, 2, 0, 0, NULL) == QT_ESHAPE);
	CHECK(qt_avgpool2d_forward(y, x, 3, 3, -1, 2, NULL) == QT_EUSAGE);
	CHECK_OK(qt_avgpool2d_forward(y, x, 3, 3, 2, 2, NULL));
	CHECK(qt_global_avgpool2d_forward(gb, x, NULL) == QT_ESHAPE);
	CHECK(qt_global_avgpool2d_backward(x, gb, NULL) == QT_ESHAPE);
	CHECK_OK(qt_global_avgpool2d_forward(g, x, NULL));
	qt_ctx cuda = {.device = QT_CUDA};
	x->device = y->device = QT_CUDA;
	CHECK(qt_avgpool2d_forward(y, x, 2, 2, 0, 0, &cuda) == QT_ENODEV);

	qt_tensor_free(x);
	qt_tensor_free(y);
	qt_tensor_free(yb);
	qt_tensor_free(yf);
	qt_tensor_free(am);
	qt_tensor_free(am64);
	qt_tensor_free(g);
	qt_tensor_free(gb);
	qt_tensor_free(x3);
}

int main(void)
{
	RUN(test_maxpool_fixtures);
	RUN(test_avgpool_fixtures);
	RUN(test_global_avgpool_fixtures);
	RUN(test_gradcheck);
	RUN(test_threads);
	RUN(test_nan_and_ties);
	RUN(test_2x2_paths);
	RUN(test_bad_arguments);
	return test_done();
}
