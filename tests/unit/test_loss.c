/* test_loss.c: cross-entropy (plain, weighted, per-pixel), binary
 * cross-entropy with logits and MSE against PyTorch
 * (tests/reference/{cross_entropy,bce_logits,mse}.h5), finite-difference
 * gradients, and bad shapes and targets. */
#include "kernels/kernels.h"
#include "common/rng.h"
#include "fixture.h"
#include "test.h"

#include <string.h>

static const struct {
	const char *group;
	qt_dtype dt;
	double atol, rtol;
} DTYPES[] = {{"f64", QT_F64, 1e-13, 1e-10}, {"f32", QT_F32, 1e-6, 1e-5}};

static qt_tensor *load(const char *file, const char *group, const char *name,
		       qt_dtype dt)
{
	char path[256];
	snprintf(path, sizeof path, "%s/%s", group, name);
	return fixture_load(file, path, dt);
}

/* A 0-d fixture dataset as a double. */
static double load_scalar(const char *file, const char *group,
			  const char *name)
{
	qt_tensor *t = load(file, group, name, QT_F64);
	double v = t ? ((double *)t->data)[0] : NAN;
	qt_tensor_free(t);
	return v;
}

#define CHECK_TENSOR(got, want, atol, rtol)                                \
	check_tensor(__FILE__, __LINE__, #got, got, want, atol, rtol)

static void check_tensor(const char *file, int line, const char *name,
			 const qt_tensor *got, const qt_tensor *want,
			 double atol, double rtol)
{
	if (!got || !want || qt_tensor_numel(got) != qt_tensor_numel(want) ||
	    got->dtype != want->dtype) {
		printf("# %s:%d: %s: missing or mismatched tensor\n", file,
		       line, name);
		test_cur_failed = 1;
		return;
	}
	long n = (long)qt_tensor_numel(got);
	if (got->dtype == QT_F32)
		test_check_close(file, line, name, (const float *)got->data,
				 (const float *)want->data, n, atol, rtol);
	else
		test_check_close(file, line, name, (const double *)got->data,
				 (const double *)want->data, n, atol, rtol);
}

#define CHECK_SCALAR(got, want, atol, rtol)                                \
	do {                                                               \
		double g_ = (got), w_ = (want);                            \
		test_check_close(__FILE__, __LINE__, #got, &g_, &w_, 1,    \
				 atol, rtol);                              \
	} while (0)

static void test_cross_entropy_fixtures(void)
{
	static const char *F = "tests/reference/cross_entropy.h5";
	static const struct {
		const char *name;
		int weighted;
	} cases[] = {{"plain", 0}, {"weighted", 1}, {"pixel", 1},
		     {"pixel_plain", 0}};
	for (int d = 0; d < 2; d++) {
		for (int c = 0; c < 4; c++) {
			char g[64];
			qt_dtype dt = DTYPES[d].dt;
			double atol = DTYPES[d].atol, rtol = DTYPES[d].rtol;
			double loss = 0;
			snprintf(g, sizeof g, "%s/%s", DTYPES[d].group,
				 cases[c].name);
			qt_tensor *x = load(F, g, "logits", dt);
			qt_tensor *t = load(F, g, "target", QT_I64);
			qt_tensor *w = cases[c].weighted ? load(F, g, "weight", dt)
							 : NULL;
			qt_tensor *prob_want = load(F, g, "prob", dt);
			qt_tensor *dx_want = load(F, g, "dlogits", dt);
			double loss_want = load_scalar(F, g, "loss");
			CHECK(x && t && prob_want && dx_want &&
			      (w || !cases[c].weighted));
			if (!x || !t || !prob_want || !dx_want)
				continue;
			qt_tensor *prob = qt_tensor_new(dt, x->ndim, x->shape);
			qt_tensor *dx = qt_tensor_new(dt, x->ndim, x->shape);
			CHECK_OK(qt_cross_entropy_forward(&loss, prob, x, t, w,
							  NULL));
			CHECK_SCALAR(loss, loss_want, atol, rtol);
			CHECK_TENSOR(prob, prob_want, atol, rtol);
			CHECK_OK(qt_cross_entropy_backward(dx, prob, t, w, 1.0,
							   NULL));
			CHECK_TENSOR(dx, dx_want, atol, rtol);
			qt_tensor_free(prob);
			qt_tensor_free(dx);
			qt_tensor_free(x);
			qt_tensor_free(t);
			qt_tensor_free(w);
			qt_tensor_free(prob_want);
			qt_tensor_free(dx_want);
		}
	}
}

static void test_bce_mse_fixtures(void)
{
	static const char *FB = "tests/reference/bce_logits.h5";
	static const char *FM = "tests/reference/mse.h5";
	for (int d = 0; d < 2; d++) {
		const char *g = DTYPES[d].group;
		qt_dtype dt = DTYPES[d].dt;
		double atol = DTYPES[d].atol, rtol = DTYPES[d].rtol, loss = 0;

		qt_tensor *x = load(FB, g, "logits", dt);
		qt_tensor *t = load(FB, g, "target", dt);
		qt_tensor *dx_want = load(FB, g, "dlogits", dt);
		CHECK(x && t && dx_want);
		if (x && t && dx_want) {
			qt_tensor *dx = qt_tensor_new(dt, x->ndim, x->shape);
			CHECK_OK(qt_bce_logits_forward(&loss, x, t, NULL));
			CHECK_SCALAR(loss, load_scalar(FB, g, "loss"), atol,
				     rtol);
			CHECK_OK(qt_bce_logits_backward(dx, x, t, 1.0, NULL));
			CHECK_TENSOR(dx, dx_want, atol, rtol);
			qt_tensor_free(dx);
		}
		qt_tensor_free(x);
		qt_tensor_free(t);
		qt_tensor_free(dx_want);

		qt_tensor *p = load(FM, g, "pred", dt);
		t = load(FM, g, "target", dt);
		dx_want = load(FM, g, "dpred", dt);
		CHECK(p && t && dx_want);
		if (p && t && dx_want) {
			qt_tensor *dp = qt_tensor_new(dt, p->ndim, p->shape);
			CHECK_OK(qt_mse_forward(&loss, p, t, NULL));
			CHECK_SCALAR(loss, load_scalar(FM, g, "loss"), atol,
				     rtol);
			CHECK_OK(qt_mse_backward(dp, p, t, 1.0, NULL));
			CHECK_TENSOR(dp, dx_want, atol, rtol);
			qt_tensor_free(dp);
		}
		qt_tensor_free(p);
		qt_tensor_free(t);
		qt_tensor_free(dx_want);
	}
}

/* A scalar loss of x (float64) and its gradient with upstream dloss. */
struct loss_fn {
	const qt_tensor *target, *weight;
	qt_tensor *scratch; /* prob for cross-entropy */
	int kind;           /* 0 cross-entropy, 1 bce, 2 mse */
};

static double loss_eval(const struct loss_fn *f, const qt_tensor *x)
{
	double loss = NAN;
	if (f->kind == 0)
		qt_cross_entropy_forward(&loss, f->scratch, x, f->target,
					 f->weight, NULL);
	else if (f->kind == 1)
		qt_bce_logits_forward(&loss, x, f->target, NULL);
	else
		qt_mse_forward(&loss, x, f->target, NULL);
	return loss;
}

static int loss_grad(const struct loss_fn *f, qt_tensor *dx,
		     const qt_tensor *x, double dloss)
{
	loss_eval(f, x);
	if (f->kind == 0)
		return qt_cross_entropy_backward(dx, f->scratch, f->target,
						 f->weight, dloss, NULL);
	if (f->kind == 1)
		return qt_bce_logits_backward(dx, x, f->target, dloss, NULL);
	return qt_mse_backward(dx, x, f->target, dloss, NULL);
}

/* Central differences of dloss * L against backward. */
static void gradcheck(const struct loss_fn *f, qt_tensor *x, double dloss)
{
	int64_t n = qt_tensor_numel(x);
	qt_tensor *dx = qt_tensor_new(QT_F64, x->ndim, x->shape);
	qt_tensor *num = qt_tensor_new(QT_F64, x->ndim, x->shape);
	double *xd = x->data, *nd = num->data;
	CHECK_OK(loss_grad(f, dx, x, dloss));
	for (int64_t i = 0; i < n; i++) {
		double h = 1e-6, save = xd[i], lp, lm;
		xd[i] = save + h;
		lp = loss_eval(f, x);
		xd[i] = save - h;
		lm = loss_eval(f, x);
		xd[i] = save;
		nd[i] = dloss * (lp - lm) / (2 * h);
	}
	CHECK_CLOSE((double *)dx->data, nd, n, 1e-9, 1e-6);
	qt_tensor_free(dx);
	qt_tensor_free(num);
}

static void fill_normal(qt_tensor *t, qt_rng *rng, double scale)
{
	double *d = t->data;
	for (int64_t i = 0; i < qt_tensor_numel(t); i++)
		d[i] = scale * qt_rng_normal(rng);
}

static void test_cross_entropy_gradcheck(void)
{
	int64_t xs[] = {3, 4, 5}, ts[] = {3, 5}, ws[] = {4};
	qt_rng rng;
	qt_rng_seed(&rng, 11, 0);
	qt_tensor *x = qt_tensor_new(QT_F64, 3, xs);
	qt_tensor *prob = qt_tensor_new(QT_F64, 3, xs);
	qt_tensor *t = qt_tensor_new(QT_I64, 2, ts);
	qt_tensor *w = qt_tensor_new(QT_F64, 1, ws);
	fill_normal(x, &rng, 2);
	for (int i = 0; i < 15; i++)
		((int64_t *)t->data)[i] = (int64_t)qt_rng_below(&rng, 4);
	for (int i = 0; i < 4; i++)
		((double *)w->data)[i] = 0.5 + qt_rng_uniform(&rng);
	struct loss_fn f = {t, NULL, prob, 0};
	gradcheck(&f, x, 1.0);
	f.weight = w;
	gradcheck(&f, x, 2.5);
	/* (N, C) with target (N): drop the pixel dimension */
	x->ndim = 2;
	t->ndim = 1;
	prob->ndim = 2;
	gradcheck(&f, x, 1.0);
	qt_tensor_free(x);
	qt_tensor_free(prob);
	qt_tensor_free(t);
	qt_tensor_free(w);
}

static void test_bce_mse_gradcheck(void)
{
	int64_t s[] = {4, 6};
	qt_rng rng;
	qt_rng_seed(&rng, 12, 0);
	qt_tensor *x = qt_tensor_new(QT_F64, 2, s);
	qt_tensor *t = qt_tensor_new(QT_F64, 2, s);
	fill_normal(x, &rng, 3);
	for (int i = 0; i < 24; i++)
		((double *)t->data)[i] = qt_rng_uniform(&rng);
	struct loss_fn f = {t, NULL, NULL, 1};
	gradcheck(&f, x, 1.0);
	gradcheck(&f, x, -0.5);
	f.kind = 2;
	fill_normal(t, &rng, 1);
	gradcheck(&f, x, 1.0);
	gradcheck(&f, x, 3.0);
	qt_tensor_free(x);
	qt_tensor_free(t);
}

static void test_bad_shapes(void)
{
	int64_t xs[] = {4, 3}, ts[] = {4}, t5[] = {5}, ws[] = {3}, w2[] = {2};
	double loss;
	qt_tensor *x = qt_tensor_new(QT_F64, 2, xs);
	qt_tensor *p = qt_tensor_new(QT_F64, 2, xs);
	qt_tensor *pf = qt_tensor_new(QT_F32, 2, xs);
	qt_tensor *t = qt_tensor_new(QT_I64, 1, ts);
	qt_tensor *tbad = qt_tensor_new(QT_I64, 1, t5);
	qt_tensor *ti32 = qt_tensor_new(QT_I32, 1, ts);
	qt_tensor *w = qt_tensor_new(QT_F64, 1, ws);
	qt_tensor *wbad = qt_tensor_new(QT_F64, 1, w2);
	qt_tensor *v = qt_tensor_new(QT_F64, 1, ts);
	CHECK_OK(qt_cross_entropy_forward(&loss, p, x, t, w, NULL));
	CHECK(qt_cross_entropy_forward(&loss, p, x, tbad, w, NULL) == QT_ESHAPE);
	CHECK(qt_cross_entropy_forward(&loss, p, x, ti32, w, NULL) == QT_ESHAPE);
	CHECK(qt_cross_entropy_forward(&loss, p, x, t, wbad, NULL) == QT_ESHAPE);
	CHECK(qt_cross_entropy_forward(&loss, pf, x, t, NULL, NULL) == QT_ESHAPE);
	CHECK(qt_cross_entropy_forward(&loss, p, v, t, NULL, NULL) == QT_ESHAPE);
	CHECK(qt_cross_entropy_backward(pf, p, t, NULL, 1, NULL) == QT_ESHAPE);
	((int64_t *)t->data)[2] = 3;
	CHECK(qt_cross_entropy_forward(&loss, p, x, t, NULL, NULL) == QT_EFORMAT);
	CHECK(strstr(qt_error_message(QT_EFORMAT), "target[2] = 3") != NULL);
	((int64_t *)t->data)[2] = -1;
	CHECK(qt_cross_entropy_backward(p, p, t, NULL, 1, NULL) == QT_EFORMAT);
	CHECK(qt_mse_forward(&loss, x, v, NULL) == QT_ESHAPE);
	CHECK(qt_mse_forward(&loss, x, pf, NULL) == QT_ESHAPE);
	CHECK(qt_mse_backward(v, x, p, 1, NULL) == QT_ESHAPE);
	CHECK(qt_bce_logits_forward(&loss, x, v, NULL) == QT_ESHAPE);
	CHECK(qt_bce_logits_backward(pf, x, p, 1, NULL) == QT_ESHAPE);
	CHECK(qt_mse_forward(NULL, x, p, NULL) == QT_EUSAGE);
	qt_tensor_free(x);
	qt_tensor_free(p);
	qt_tensor_free(pf);
	qt_tensor_free(t);
	qt_tensor_free(tbad);
	qt_tensor_free(ti32);
	qt_tensor_free(w);
	qt_tensor_free(wbad);
	qt_tensor_free(v);
}

int main(void)
{
	RUN(test_cross_entropy_fixtures);
	RUN(test_bce_mse_fixtures);
	RUN(test_cross_entropy_gradcheck);
	RUN(test_bce_mse_gradcheck);
	RUN(test_bad_shapes);
	return test_done();
}
