/* test_batchnorm.c: batch normalisation (BatchNorm1d on (N, C) and
 * (N, C, L), BatchNorm2d on (N, C, H, W), with and without affine, torch
 * and Keras-mapped eps) against PyTorch (tests/reference/batchnorm.h5):
 * three training steps with running statistics, backward, then eval mode.
 * Finite-difference gradients in both modes, accumulation, bad shapes. */
#include "kernels/kernels.h"
#include "common/rng.h"
#include "fixture.h"
#include "test.h"

#include <stdlib.h>
#include <string.h>

static const char *FIX = "tests/reference/batchnorm.h5";

static const struct {
	const char *group;
	qt_dtype dt;
	double atol, rtol;
} DTYPES[] = {{"f64", QT_F64, 1e-12, 1e-10}, {"f32", QT_F32, 1e-6, 1e-5}};

static qt_tensor *load(const char *group, const char *name, qt_dtype dt)
{
	char path[256];
	snprintf(path, sizeof path, "%s/%s", group, name);
	return fixture_load(FIX, path, dt);
}

static double load_scalar(const char *group, const char *name)
{
	qt_tensor *t = load(group, name, QT_F64);
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

static void run_case(int d, const char *name, int affine)
{
	char g[64];
	qt_dtype dt = DTYPES[d].dt;
	double atol = DTYPES[d].atol, rtol = DTYPES[d].rtol;
	snprintf(g, sizeof g, "%s/%s", DTYPES[d].group, name);
	double momentum = load_scalar(g, "momentum"), eps = load_scalar(g, "eps");
	qt_tensor *xs[3], *gamma = NULL, *beta = NULL;
	for (int i = 0; i < 3; i++) {
		char xn[16];
		snprintf(xn, sizeof xn, "x%d", i);
		xs[i] = load(g, xn, dt);
	}
	if (affine) {
		gamma = load(g, "gamma", dt);
		beta = load(g, "beta", dt);
	}
	qt_tensor *dy = load(g, "dy", dt), *x_eval = load(g, "x_eval", dt);
	qt_tensor *dy_eval = load(g, "dy_eval", dt);
	CHECK(xs[0] && xs[1] && xs[2] && dy && x_eval && dy_eval &&
	      (!affine || (gamma && beta)));
	if (!xs[0] || !xs[1] || !xs[2] || !dy || !x_eval || !dy_eval)
		return;
	int64_t C = xs[0]->shape[1];
	qt_tensor *y = qt_tensor_new(dt, xs[0]->ndim, xs[0]->shape);
	qt_tensor *dx = qt_tensor_new(dt, xs[0]->ndim, xs[0]->shape);
	qt_tensor *mean = qt_tensor_new(dt, 1, &C);
	qt_tensor *invstd = qt_tensor_new(dt, 1, &C);
	qt_tensor *rmean = qt_tensor_new(dt, 1, &C);
	qt_tensor *rvar = qt_tensor_new(dt, 1, &C);
	qt_tensor *dgamma = qt_tensor_new(dt, 1, &C);
	qt_tensor *dbeta = qt_tensor_new(dt, 1, &C);
	CHECK_OK(qt_init_ones(rvar, NULL)); /* torch's fresh running_var */

	for (int i = 0; i < 3; i++)
		CHECK_OK(qt_batchnorm_forward(y, mean, invstd, rmean, rvar,
					      xs[i], gamma, beta, 1, momentum,
					      eps, NULL));
	qt_tensor *want = load(g, "y", dt);
	CHECK_TENSOR(y, want, atol, rtol);
	qt_tensor_free(want);
	want = load(g, "save_mean", dt);
	CHECK_TENSOR(mean, want, atol, rtol);
	qt_tensor_free(want);
	want = load(g, "save_invstd", dt);
	CHECK_TENSOR(invstd, want, atol, rtol);
	qt_tensor_free(want);
	want = load(g, "running_mean", dt);
	CHECK_TENSOR(rmean, want, atol, rtol);
	qt_tensor_free(want);
	want = load(g, "running_var", dt);
	CHECK_TENSOR(rvar, want, atol, rtol);
	qt_tensor_free(want);

	CHECK_OK(qt_batchnorm_backward(dx, affine ? dgamma : NULL,
				       affine ? dbeta : NULL, dy, xs[2], mean,
				       invstd, gamma, 1, NULL));
	want = load(g, "dx", dt);
	CHECK_TENSOR(dx, want, atol, rtol);
	qt_tensor_free(want);
	if (affine) {
		want = load(g, "dgamma", dt);
		CHECK_TENSOR(dgamma, want, atol, rtol);
		qt_tensor_free(want);
		want = load(g, "dbeta", dt);
		CHECK_TENSOR(dbeta, want, atol, rtol);
		qt_tensor_free(want);
	}

	/* evaluation mode: running statistics, and they stay unchanged */
	qt_tensor *rm_before = qt_tensor_clone(rmean);
	CHECK_OK(qt_init_zeros(dgamma, NULL));
	CHECK_OK(qt_init_zeros(dbeta, NULL));
	CHECK_OK(qt_batchnorm_forward(y, mean, invstd, rmean, rvar, x_eval,
				      gamma, beta, 0, momentum, eps, NULL));
	CHECK(memcmp(rm_before->data, rmean->data, qt_tensor_nbytes(rmean)) == 0);
	want = load(g, "y_eval", dt);
	CHECK_TENSOR(y, want, atol, rtol);
	qt_tensor_free(want);
	CHECK_OK(qt_batchnorm_backward(dx, affine ? dgamma : NULL,
				       affine ? dbeta : NULL, dy_eval, x_eval,
				       mean, invstd, gamma, 0, NULL));
	want = load(g, "dx_eval", dt);
	CHECK_TENSOR(dx, want, atol, rtol);
	qt_tensor_free(want);
	if (affine) {
		want = load(g, "dgamma_eval", dt);
		CHECK_TENSOR(dgamma, want, atol, rtol);
		qt_tensor_free(want);
		want = load(g, "dbeta_eval", dt);
		CHECK_TENSOR(dbeta, want, atol, rtol);
		qt_tensor_free(want);
	}
	/* eval forward also works without save buffers */
	CHECK_OK(qt_batchnorm_forward(y, NULL, NULL, rmean, rvar, x_eval,
				      gamma, beta, 0, momentum, eps, NULL));

	for (int i = 0; i < 3; i++)
		qt_tensor_free(xs[i]);
	qt_tensor *all[] = {gamma, beta, dy, x_eval, dy_eval, y, dx, mean,
			    invstd, rmean, rvar, dgamma, dbeta, rm_before};
	for (size_t i = 0; i < sizeof all / sizeof *all; i++)
		qt_tensor_free(all[i]);
}

static void test_fixtures(void)
{
	for (int d = 0; d < 2; d++) {
		run_case(d, "bn2d", 1);
		run_case(d, "bn1d", 1);
		run_case(d, "bn1d_seq_noaffine", 0);
		run_case(d, "bn2d_keras", 1);
	}
}

/* sum(r * y) as a function of x, gamma and beta (running stats copied so
 * each evaluation starts from the same ones). */
struct bn_problem {
	qt_tensor *x, *gamma, *beta, *r, *y, *mean, *invstd, *rm, *rv;
	int training;
};

static double bn_objective(struct bn_problem *b)
{
	qt_tensor *rm = qt_tensor_clone(b->rm), *rv = qt_tensor_clone(b->rv);
	double s = 0;
	qt_batchnorm_forward(b->y, b->mean, b->invstd, rm, rv, b->x, b->gamma,
			     b->beta, b->training, 0.1, 1e-5, NULL);
	for (int64_t i = 0; i < qt_tensor_numel(b->y); i++)
		s += ((double *)b->r->data)[i] * ((double *)b->y->data)[i];
	qt_tensor_free(rm);
	qt_tensor_free(rv);
	return s;
}

/* Central differences of the objective with respect to every element of
 * t, into num. */
static void bn_numeric(struct bn_problem *b, qt_tensor *t, double *num)
{
	double *d = t->data;
	for (int64_t i = 0; i < qt_tensor_numel(t); i++) {
		double h = 1e-6, save = d[i], lp, lm;
		d[i] = save + h;
		lp = bn_objective(b);
		d[i] = save - h;
		lm = bn_objective(b);
		d[i] = save;
		num[i] = (lp - lm) / (2 * h);
	}
}

static void gradcheck(int training, const int64_t *shape, int ndim)
{
	int64_t C = shape[1];
	qt_rng rng;
	struct bn_problem b = {
		.x = qt_tensor_new(QT_F64, ndim, shape),
		.r = qt_tensor_new(QT_F64, ndim, shape),
		.y = qt_tensor_new(QT_F64, ndim, shape),
		.gamma = qt_tensor_new(QT_F64, 1, &C),
		.beta = qt_tensor_new(QT_F64, 1, &C),
		.mean = qt_tensor_new(QT_F64, 1, &C),
		.invstd = qt_tensor_new(QT_F64, 1, &C),
		.rm = qt_tensor_new(QT_F64, 1, &C),
		.rv = qt_tensor_new(QT_F64, 1, &C),
		.training = training,
	};
	qt_tensor *dx = qt_tensor_new(QT_F64, ndim, shape);
	qt_tensor *dg = qt_tensor_new(QT_F64, 1, &C);
	qt_tensor *db = qt_tensor_new(QT_F64, 1, &C);
	int64_t n = qt_tensor_numel(b.x);
	double *num = calloc((size_t)n, sizeof *num);
	qt_rng_seed(&rng, 21, (uint64_t)training);
	for (int64_t i = 0; i < n; i++) {
		((double *)b.x->data)[i] = 2 * qt_rng_normal(&rng) + 1;
		((double *)b.r->data)[i] = qt_rng_normal(&rng);
	}
	for (int64_t c = 0; c < C; c++) {
		((double *)b.gamma->data)[c] = 0.5 + qt_rng_uniform(&rng);
		((double *)b.beta->data)[c] = qt_rng_normal(&rng);
		((double *)b.rm->data)[c] = qt_rng_normal(&rng);
		((double *)b.rv->data)[c] = 0.5 + qt_rng_uniform(&rng);
	}
	bn_objective(&b);
	CHECK_OK(qt_batchnorm_backward(dx, dg, db, b.r, b.x, b.mean, b.invstd,
				       b.gamma, training, NULL));
	bn_numeric(&b, b.x, num);
	CHECK_CLOSE((double *)dx->data, num, n, 1e-7, 1e-6);
	bn_numeric(&b, b.gamma, num);
	CHECK_CLOSE((double *)dg->data, num, C, 1e-7, 1e-6);
	bn_numeric(&b, b.beta, num);
	CHECK_CLOSE((double *)db->data, num, C, 1e-7, 1e-6);
	/* parameter gradients accumulate; dx is overwritten (or skipped) */
	double dg0[8], dx0 = ((double *)dx->data)[0];
	memcpy(dg0, dg->data, (size_t)C * sizeof(double));
	bn_objective(&b);
	CHECK_OK(qt_batchnorm_backward(NULL, dg, db, b.r, b.x, b.mean, b.invstd,
				       b.gamma, training, NULL));
	for (int64_t c = 0; c < C; c++)
		CHECK(fabs(((double *)dg->data)[c] - 2 * dg0[c]) <=
		      1e-12 * fabs(dg0[c]) + 1e-15);
	CHECK(((double *)dx->data)[0] == dx0);
	free(num);
	qt_tensor *all[] = {b.x, b.r, b.y, b.gamma, b.beta, b.mean, b.invstd,
			    b.rm, b.rv, dx, dg, db};
	for (size_t i = 0; i < sizeof all / sizeof *all; i++)
		qt_tensor_free(all[i]);
}

static void test_gradcheck_training(void)
{
	int64_t s4[] = {3, 4, 2, 3}, s2[] = {6, 3};
	gradcheck(1, s4, 4);
	gradcheck(1, s2, 2);
}

static void test_gradcheck_eval(void)
{
	int64_t s3[] = {2, 3, 4};
	gradcheck(0, s3, 3);
}

static void test_bad_shapes(void)
{
	int64_t xs[] = {4, 3, 2}, one[] = {1, 3}, c3 = 3, c2 = 2;
	qt_tensor *x = qt_tensor_new(QT_F32, 3, xs);
	qt_tensor *y = qt_tensor_new(QT_F32, 3, xs);
	qt_tensor *x1 = qt_tensor_new(QT_F32, 2, one);
	qt_tensor *v3 = qt_tensor_new(QT_F32, 1, &c3);
	qt_tensor *w3 = qt_tensor_new(QT_F32, 1, &c3);
	qt_tensor *v2 = qt_tensor_new(QT_F32, 1, &c2);
	qt_tensor *d3 = qt_tensor_new(QT_F64, 1, &c3);
	qt_tensor *yd = qt_tensor_new(QT_F64, 3, xs);
	CHECK_OK(qt_batchnorm_forward(y, v3, w3, NULL, NULL, x, NULL, NULL, 1,
				      0.1, 1e-5, NULL));
	CHECK(qt_batchnorm_forward(y, v3, w3, NULL, NULL, x, v2, NULL, 1, 0.1,
				   1e-5, NULL) == QT_ESHAPE);
	CHECK(qt_batchnorm_forward(y, v3, w3, NULL, NULL, x, d3, NULL, 1, 0.1,
				   1e-5, NULL) == QT_ESHAPE);
	CHECK(qt_batchnorm_forward(yd, v3, w3, NULL, NULL, x, NULL, NULL, 1,
				   0.1, 1e-5, NULL) == QT_ESHAPE);
	CHECK(qt_batchnorm_forward(y, v2, w3, NULL, NULL, x, NULL, NULL, 1,
				   0.1, 1e-5, NULL) == QT_ESHAPE);
	/* one value per channel cannot be normalised in training */
	CHECK(qt_batchnorm_forward(x1, v3, w3, NULL, NULL, x1, NULL, NULL, 1,
				   0.1, 1e-5, NULL) == QT_ESHAPE);
	/* training needs save buffers, eval running statistics */
	CHECK(qt_batchnorm_forward(y, NULL, w3, NULL, NULL, x, NULL, NULL, 1,
				   0.1, 1e-5, NULL) == QT_EUSAGE);
	CHECK(qt_batchnorm_forward(y, v3, w3, NULL, NULL, x, NULL, NULL, 0,
				   0.1, 1e-5, NULL) == QT_EUSAGE);
	CHECK(qt_batchnorm_forward(y, v3, w3, NULL, NULL, x, NULL, NULL, 1,
				   1.5, 1e-5, NULL) == QT_EUSAGE);
	CHECK(qt_batchnorm_forward(y, v3, w3, NULL, NULL, v3, NULL, NULL, 1,
				   0.1, 1e-5, NULL) == QT_ESHAPE);
	CHECK(qt_batchnorm_backward(y, v2, NULL, y, x, v3, w3, NULL, 1,
				    NULL) == QT_ESHAPE);
	CHECK(qt_batchnorm_backward(y, NULL, NULL, yd, x, v3, w3, NULL, 1,
				    NULL) == QT_ESHAPE);
	qt_tensor *all[] = {x, y, x1, v3, w3, v2, d3, yd};
	for (size_t i = 0; i < sizeof all / sizeof *all; i++)
		qt_tensor_free(all[i]);
}

int main(void)
{
	RUN(test_fixtures);
	RUN(test_gradcheck_training);
	RUN(test_gradcheck_eval);
	RUN(test_bad_shapes);
	return test_done();
}
