/* test_softmax.c: softmax and log-softmax over the last dimension against
 * PyTorch (tests/reference/softmax.h5), finite-difference gradients, and
 * shape errors. */
#include "kernels/kernels.h"
#include "common/rng.h"
#include "fixture.h"
#include "test.h"

#include <string.h>

static const char *FIX = "tests/reference/softmax.h5";

/* The two dtypes of every fixture and their tolerances. */
static const struct {
	const char *group;
	qt_dtype dt;
	double atol, rtol;
} DTYPES[] = {{"f64", QT_F64, 1e-13, 1e-10}, {"f32", QT_F32, 1e-6, 1e-5}};

static qt_tensor *load(const char *group, const char *name, qt_dtype dt)
{
	char path[256];
	snprintf(path, sizeof path, "%s/%s", group, name);
	return fixture_load(FIX, path, dt);
}

/* Compare two tensors of one float dtype; reports at the caller's line. */
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

static void test_fixtures(void)
{
	static const char *cases[] = {"rows", "large", "3d"};
	for (int d = 0; d < 2; d++) {
		for (int c = 0; c < 3; c++) {
			char g[64];
			qt_dtype dt = DTYPES[d].dt;
			double atol = DTYPES[d].atol, rtol = DTYPES[d].rtol;
			snprintf(g, sizeof g, "%s/%s", DTYPES[d].group, cases[c]);
			qt_tensor *x = load(g, "x", dt), *dy = load(g, "dy", dt);
			qt_tensor *ys = load(g, "y_softmax", dt);
			qt_tensor *dxs = load(g, "dx_softmax", dt);
			qt_tensor *yl = load(g, "y_log_softmax", dt);
			qt_tensor *dxl = load(g, "dx_log_softmax", dt);
			CHECK(x && dy && ys && dxs && yl && dxl);
			if (x && dy && ys && dxs && yl && dxl) {
				qt_tensor *y = qt_tensor_new(dt, x->ndim, x->shape);
				qt_tensor *dx = qt_tensor_new(dt, x->ndim, x->shape);
				CHECK_OK(qt_softmax_forward(y, x, NULL));
				CHECK_TENSOR(y, ys, atol, rtol);
				CHECK_OK(qt_softmax_backward(dx, dy, y, NULL));
				CHECK_TENSOR(dx, dxs, atol, rtol);
				CHECK_OK(qt_log_softmax_forward(y, x, NULL));
				CHECK_TENSOR(y, yl, atol, rtol);
				CHECK_OK(qt_log_softmax_backward(dx, dy, y, NULL));
				CHECK_TENSOR(dx, dxl, atol, rtol);
				/* in place: y == x, dx == dy */
				CHECK_OK(qt_softmax_forward(x, x, NULL));
				CHECK_TENSOR(x, ys, atol, rtol);
				CHECK_OK(qt_softmax_backward(dy, dy, x, NULL));
				CHECK_TENSOR(dy, dxs, atol, rtol);
				qt_tensor_free(y);
				qt_tensor_free(dx);
			}
			qt_tensor_free(x);
			qt_tensor_free(dy);
			qt_tensor_free(ys);
			qt_tensor_free(dxs);
			qt_tensor_free(yl);
			qt_tensor_free(dxl);
		}
	}
}

/* L(x) = sum r * f(x); backward with dy = r against central differences. */
static void gradcheck(int log_variant)
{
	int64_t shape[] = {3, 2, 5};
	qt_rng rng;
	qt_tensor *x = qt_tensor_new(QT_F64, 3, shape);
	qt_tensor *r = qt_tensor_new(QT_F64, 3, shape);
	qt_tensor *y = qt_tensor_new(QT_F64, 3, shape);
	qt_tensor *dx = qt_tensor_new(QT_F64, 3, shape);
	qt_tensor *num = qt_tensor_new(QT_F64, 3, shape);
	double *xd = x->data, *rd = r->data, *yd = y->data;
	int64_t n = qt_tensor_numel(x);
	int (*fwd)(qt_tensor *, const qt_tensor *, qt_ctx *) =
		log_variant ? qt_log_softmax_forward : qt_softmax_forward;
	int (*bwd)(qt_tensor *, const qt_tensor *, const qt_tensor *,
		   qt_ctx *) =
		log_variant ? qt_log_softmax_backward : qt_softmax_backward;

	qt_rng_seed(&rng, 7, 0);
	for (int64_t i = 0; i < n; i++) {
		xd[i] = 2 * qt_rng_normal(&rng);
		rd[i] = qt_rng_normal(&rng);
	}
	CHECK_OK(fwd(y, x, NULL));
	CHECK_OK(bwd(dx, r, y, NULL));
	for (int64_t i = 0; i < n; i++) {
		double h = 1e-6, save = xd[i], lp = 0, lm = 0;
		xd[i] = save + h;
		fwd(y, x, NULL);
		for (int64_t j = 0; j < n; j++)
			lp += rd[j] * yd[j];
		xd[i] = save - h;
		fwd(y, x, NULL);
		for (int64_t j = 0; j < n; j++)
			lm += rd[j] * yd[j];
		xd[i] = save;
		((double *)num->data)[i] = (lp - lm) / (2 * h);
	}
	CHECK_CLOSE((double *)dx->data, (double *)num->data, n, 1e-8, 1e-6);
	qt_tensor_free(x);
	qt_tensor_free(r);
	qt_tensor_free(y);
	qt_tensor_free(dx);
	qt_tensor_free(num);
}

static void test_softmax_gradcheck(void)
{
	gradcheck(0);
}

static void test_log_softmax_gradcheck(void)
{
	gradcheck(1);
}

static void test_bad_shapes(void)
{
	int64_t s23[] = {2, 3}, s24[] = {2, 4};
	qt_tensor *x = qt_tensor_new(QT_F64, 2, s23);
	qt_tensor *y = qt_tensor_new(QT_F64, 2, s24);
	qt_tensor *yf = qt_tensor_new(QT_F32, 2, s23);
	qt_tensor *xi = qt_tensor_new(QT_I32, 2, s23);
	qt_tensor scalar = qt_tensor_wrap(QT_F64, 0, NULL, x->data);
	CHECK(qt_softmax_forward(y, x, NULL) == QT_ESHAPE);
	CHECK(strstr(qt_error_message(QT_ESHAPE), "(2, 4)") != NULL);
	CHECK(qt_softmax_forward(yf, x, NULL) == QT_ESHAPE);
	CHECK(qt_log_softmax_forward(xi, xi, NULL) == QT_ESHAPE);
	CHECK(qt_softmax_backward(x, x, y, NULL) == QT_ESHAPE);
	CHECK(qt_log_softmax_backward(x, y, x, NULL) == QT_ESHAPE);
	CHECK(qt_softmax_forward(&scalar, &scalar, NULL) == QT_ESHAPE);
	CHECK(qt_softmax_forward(NULL, x, NULL) == QT_EUSAGE);
	qt_ctx cuda = {.device = QT_CUDA};
	CHECK(qt_softmax_forward(x, x, &cuda) == QT_EUSAGE);
	x->device = QT_CUDA;
	CHECK(qt_softmax_forward(x, x, &cuda) == QT_ENODEV);
	x->device = QT_CPU;
	qt_tensor_free(x);
	qt_tensor_free(y);
	qt_tensor_free(yf);
	qt_tensor_free(xi);
}

int main(void)
{
	RUN(test_fixtures);
	RUN(test_softmax_gradcheck);
	RUN(test_log_softmax_gradcheck);
	RUN(test_bad_shapes);
	return test_done();
}
