/* test_activation.c: ReLU, sigmoid and tanh against PyTorch fixtures
 * (tests/reference/activation.h5, from make_fixtures_part1.py),
 * finite-difference gradients, in-place use, thread-count independence,
 * and argument checks. */
#include "kernels/kernels.h"
#include "common/threadpool.h"
#include "tests/unit/test.h"
#include "tests/unit/fixture.h"

#include <stdlib.h>
#include <string.h>

#define FIX "tests/reference/activation.h5"

static const char *dtname[] = {[QT_F32] = "f32", [QT_F64] = "f64"};

typedef int act_fwd(qt_tensor *, const qt_tensor *, qt_ctx *);
typedef int act_bwd(qt_tensor *, const qt_tensor *, const qt_tensor *,
		    qt_ctx *);

static const struct act {
	const char *name;
	act_fwd *forward;
	act_bwd *backward;
} acts[] = {
	{"relu", qt_relu_forward, qt_relu_backward},
	{"sigmoid", qt_sigmoid_forward, qt_sigmoid_backward},
	{"tanh", qt_tanh_forward, qt_tanh_backward},
};
#define NACTS (int)(sizeof acts / sizeof acts[0])

static uint64_t rng = 0xA0761D6478BD642Full;

/* uniform in [-1, 1) */
static double urand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (double)(rng >> 11) / 4503599627370496.0 - 1.0;
}

static qt_tensor *rand_tensor(qt_dtype dt, int ndim, const int64_t *shape,
			      double scale)
{
	qt_tensor *t = qt_tensor_new(dt, ndim, shape);
	for (int64_t i = 0; t && i < qt_tensor_numel(t); i++) {
		if (dt == QT_F32)
			((float *)t->data)[i] = (float)(scale * urand());
		else
			((double *)t->data)[i] = scale * urand();
	}
	return t;
}

static qt_tensor *load(qt_dtype dt, const char *op, const char *name)
{
	char path[64];
	snprintf(path, sizeof path, "%s/%s/%s", dtname[dt], op, name);
	return fixture_load(FIX, path, dt);
}

/* got vs want: float64 to 1e-10 relative, float32 to 1e-5 */
static void check_tensor(const char *what, const char *op,
			 const qt_tensor *got, const qt_tensor *want)
{
	int64_t n = qt_tensor_numel(want);
	int ok;
	if (!got || !want || qt_tensor_numel(got) != n) {
		printf("# %s %s: missing or wrong size\n", op, what);
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
		printf("#   in %s %s, %s\n", op, what, dtname[want->dtype]);
}

static void test_fixtures(void)
{
	for (int d = 0; d < 2; d++)
	for (int a = 0; a < NACTS; a++) {
		qt_dtype dt = d ? QT_F32 : QT_F64;
		const char *op = acts[a].name;
		qt_tensor *x = load(dt, op, "x"), *y = load(dt, op, "y");
		qt_tensor *dy = load(dt, op, "dy"), *dx = load(dt, op, "dx");
		CHECK(x && y && dy && dx);
		if (x && y && dy && dx) {
			qt_tensor *gy = qt_tensor_new(dt, y->ndim, y->shape);
			qt_tensor *gx = qt_tensor_new(dt, x->ndim, x->shape);
			CHECK_OK(acts[a].forward(gy, x, NULL));
			check_tensor("y", op, gy, y);
			CHECK_OK(acts[a].backward(gx, dy, gy, NULL));
			check_tensor("dx", op, gx, dx);
			/* in place: y over x, dx over dy */
			qt_tensor *ix = qt_tensor_clone(x), *idy = qt_tensor_clone(dy);
			CHECK_OK(acts[a].forward(ix, ix, NULL));
			check_tensor("y in place", op, ix, y);
			CHECK_OK(acts[a].backward(idy, idy, ix, NULL));
			check_tensor("dx in place", op, idy, dx);
			qt_tensor_free(ix);
			qt_tensor_free(idy);
			qt_tensor_free(gy);
			qt_tensor_free(gx);
		}
		qt_tensor_free(x);
		qt_tensor_free(y);
		qt_tensor_free(dy);
		qt_tensor_free(dx);
	}
}

static double loss(const struct act *a, qt_tensor *y, const qt_tensor *x,
		   const qt_tensor *dy)
{
	double s = 0;
	if (a->forward(y, x, NULL))
		return NAN;
	for (int64_t i = 0; i < qt_tensor_numel(y); i++)
		s += ((double *)y->data)[i] * ((double *)dy->data)[i];
	return s;
}

/* Central differences of sum(y * dy) against the backward pass; x keeps
 * away from ReLU's kink at 0. */
static void test_gradcheck(void)
{
	int64_t shape[2] = {6, 7};
	for (int a = 0; a < NACTS; a++) {
		qt_tensor *x = rand_tensor(QT_F64, 2, shape, 3.0);
		qt_tensor *dy = rand_tensor(QT_F64, 2, shape, 1.0);
		qt_tensor *y = qt_tensor_new(QT_F64, 2, shape);
		qt_tensor *dx = qt_tensor_new(QT_F64, 2, shape);
		int64_t n = qt_tensor_numel(x);
		double *v = x->data, *num = malloc((size_t)n * sizeof *num);
		const double h = 1e-6;
		for (int64_t i = 0; i < n; i++)
			if (fabs(v[i]) < 1e-3)
				v[i] = 0.5;
		CHECK_OK(acts[a].forward(y, x, NULL));
		CHECK_OK(acts[a].backward(dx, dy, y, NULL));
		for (int64_t i = 0; i < n; i++) {
			double keep = v[i];
			v[i] = keep + h;
			double lp = loss(&acts[a], y, x, dy);
			v[i] = keep - h;
			double lm = loss(&acts[a], y, x, dy);
			v[i] = keep;
			num[i] = (lp - lm) / (2 * h);
		}
		if (!CHECK_CLOSE((const double *)dx->data, (const double *)num,
				 n, 1e-7, 1e-6))
			printf("#   finite differences of %s\n", acts[a].name);
		free(num);
		qt_tensor_free(x);
		qt_tensor_free(dy);
		qt_tensor_free(y);
		qt_tensor_free(dx);
	}
}

static void test_special_values(void)
{
	int64_t n = 5;
	double x[5] = {NAN, -INFINITY, INFINITY, -800, 800}, y[5], dx[5];
	double one[5] = {1, 1, 1, 1, 1};
	qt_tensor tx = qt_tensor_wrap(QT_F64, 1, &n, x);
	qt_tensor ty = qt_tensor_wrap(QT_F64, 1, &n, y);
	qt_tensor tdx = qt_tensor_wrap(QT_F64, 1, &n, dx);
	qt_tensor tone = qt_tensor_wrap(QT_F64, 1, &n, one);
	/* like torch: relu(nan) = nan, sigmoid saturates to 0 and 1 */
	CHECK_OK(qt_relu_forward(&ty, &tx, NULL));
	CHECK(isnan(y[0]) && y[1] == 0 && y[2] == INFINITY && y[3] == 0);
	CHECK_OK(qt_relu_backward(&tdx, &tone, &ty, NULL));
	CHECK(dx[1] == 0 && dx[2] == 1 && dx[3] == 0 && dx[4] == 1);
	CHECK_OK(qt_sigmoid_forward(&ty, &tx, NULL));
	CHECK(isnan(y[0]) && y[1] == 0 && y[2] == 1 && y[3] == 0 && y[4] == 1);
	CHECK_OK(qt_tanh_forward(&ty, &tx, NULL));
	CHECK(isnan(y[0]) && y[1] == -1 && y[2] == 1 && y[3] == -1 && y[4] == 1);
}

/* Pools of 1 to 4 threads give the same bits, on tensors of several
 * blocks. */
static void test_threads(void)
{
	int64_t shape[2] = {301, 1000};
	for (int d = 0; d < 2; d++)
	for (int a = 0; a < NACTS; a++) {
		qt_dtype dt = d ? QT_F32 : QT_F64;
		qt_tensor *x = rand_tensor(dt, 2, shape, 4.0);
		qt_tensor *dy = rand_tensor(dt, 2, shape, 1.0);
		qt_tensor *ry = NULL, *rdx = NULL;
		for (int t = 1; t <= 4; t++) {
			qt_pool *pool = qt_pool_new(t);
			qt_ctx ctx = {.device = QT_CPU, .pool = pool};
			qt_tensor *y = qt_tensor_new(dt, 2, shape);
			qt_tensor *dx = qt_tensor_new(dt, 2, shape);
			CHECK_OK(acts[a].forward(y, x, &ctx));
			CHECK_OK(acts[a].backward(dx, dy, y, &ctx));
			if (!ry) {
				ry = y;
				rdx = dx;
			} else {
				if (memcmp(y->data, ry->data, qt_tensor_nbytes(y)) ||
				    memcmp(dx->data, rdx->data, qt_tensor_nbytes(dx))) {
					printf("# %s %s differs with %d threads\n",
					       acts[a].name, dtname[dt], t);
					test_cur_failed = 1;
				}
				qt_tensor_free(y);
				qt_tensor_free(dx);
			}
			qt_pool_free(pool);
		}
		qt_tensor_free(ry);
		qt_tensor_free(rdx);
		qt_tensor_free(x);
		qt_tensor_free(dy);
	}
}

static void test_bad_arguments(void)
{
	int64_t s[2] = {3, 4}, t[2] = {4, 3};
	qt_tensor *x = qt_tensor_new(QT_F64, 2, s);
	qt_tensor *y = qt_tensor_new(QT_F64, 2, s);
	qt_tensor *yt = qt_tensor_new(QT_F64, 2, t);
	qt_tensor *yf = qt_tensor_new(QT_F32, 2, s);
	qt_tensor *xi = qt_tensor_new(QT_I64, 2, s);
	for (int a = 0; a < NACTS; a++) {
		CHECK_OK(acts[a].forward(y, x, NULL));
		CHECK(acts[a].forward(yt, x, NULL) == QT_ESHAPE);
		CHECK(acts[a].forward(yf, x, NULL) == QT_ESHAPE);
		CHECK(acts[a].forward(y, xi, NULL) == QT_ESHAPE);
		CHECK(acts[a].forward(NULL, x, NULL) == QT_EUSAGE);
		CHECK(acts[a].backward(x, yt, y, NULL) == QT_ESHAPE);
		CHECK(acts[a].backward(yt, x, y, NULL) == QT_ESHAPE);
		CHECK(acts[a].backward(x, yf, y, NULL) == QT_ESHAPE);
	}
	CHECK(qt_tanh_forward(yt, x, NULL) == QT_ESHAPE);
	CHECK(strstr(qt_error_message(QT_ESHAPE), "tanh_forward") != NULL);
	CHECK(strstr(qt_error_message(QT_ESHAPE), "(4, 3)") != NULL);
	qt_ctx cuda = {.device = QT_CUDA};
	x->device = y->device = QT_CUDA;
	CHECK(qt_relu_forward(y, x, &cuda) == QT_ENODEV);
	qt_tensor_free(x);
	qt_tensor_free(y);
	qt_tensor_free(yt);
	qt_tensor_free(yf);
	qt_tensor_free(xi);
}

int main(void)
{
	RUN(test_fixtures);
	RUN(test_gradcheck);
	RUN(test_special_values);
	RUN(test_threads);
	RUN(test_bad_arguments);
	return test_done();
}
