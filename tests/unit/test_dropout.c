/* test_dropout.c: inverted dropout: scaling and backward against PyTorch
 * with torch's own mask (tests/reference/dropout.h5), keep rate, mask
 * reproducibility, evaluation mode, p = 0 and 1, finite differences, and
 * bad arguments. */
#include "kernels/kernels.h"
#include "common/rng.h"
#include "fixture.h"
#include "test.h"

#include <string.h>

static const char *FIX = "tests/reference/dropout.h5";

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

static double get(const qt_tensor *t, int64_t i)
{
	return qt_tensor_get(t, i);
}

/* torch's mask gives torch's dx; where both masks keep an element our y
 * equals torch's y. */
static void test_against_torch(void)
{
	for (int d = 0; d < 2; d++) {
		const char *g = DTYPES[d].group;
		qt_dtype dt = DTYPES[d].dt;
		qt_tensor *x = load(g, "x", dt), *dy = load(g, "dy", dt);
		qt_tensor *y_want = load(g, "y", dt), *dx_want = load(g, "dx", dt);
		qt_tensor *mask_t = load(g, "mask", QT_U8);
		qt_tensor *pt = load(g, "p", QT_F64);
		CHECK(x && dy && y_want && dx_want && mask_t && pt);
		if (!x || !dy || !y_want || !dx_want || !mask_t || !pt)
			return;
		double p = ((double *)pt->data)[0];
		int64_t n = qt_tensor_numel(x);
		qt_tensor *y = qt_tensor_new(dt, x->ndim, x->shape);
		qt_tensor *dx = qt_tensor_new(dt, x->ndim, x->shape);
		qt_tensor *mask = qt_tensor_new(QT_U8, x->ndim, x->shape);
		qt_rng rng;
		qt_rng_seed(&rng, 5, 0);

		CHECK_OK(qt_dropout_backward(dx, dy, mask_t, p, 1, NULL));
		if (dt == QT_F64)
			CHECK_CLOSE((double *)dx->data, (double *)dx_want->data,
				    n, DTYPES[d].atol, DTYPES[d].rtol);
		else
			CHECK_CLOSE((float *)dx->data, (float *)dx_want->data,
				    n, DTYPES[d].atol, DTYPES[d].rtol);

		CHECK_OK(qt_dropout_forward(y, mask, x, p, 1, &rng, NULL));
		int64_t both = 0, bad = -1;
		const uint8_t *m = mask->data, *mt = mask_t->data;
		for (int64_t i = 0; i < n; i++) {
			if (!m[i] && get(y, i) != 0 && bad < 0)
				bad = i;
			if (m[i] && mt[i]) {
				both++;
				if (get(y, i) != get(y_want, i) && bad < 0)
					bad = i;
			}
		}
		if (bad >= 0)
			printf("# %s: element %lld: y %.10g, torch %.10g\n", g,
			       (long long)bad, get(y, bad), get(y_want, bad));
		CHECK(bad < 0);
		CHECK(both > n / 3);
		qt_tensor_free(y);
		qt_tensor_free(dx);
		qt_tensor_free(mask);
		qt_tensor_free(x);
		qt_tensor_free(dy);
		qt_tensor_free(y_want);
		qt_tensor_free(dx_want);
		qt_tensor_free(mask_t);
		qt_tensor_free(pt);
	}
}

static void test_keep_rate_and_reproducibility(void)
{
	int64_t n = 200000;
	qt_tensor *x = qt_tensor_new(QT_F32, 1, &n);
	qt_tensor *y = qt_tensor_new(QT_F32, 1, &n);
	qt_tensor *x64 = qt_tensor_new(QT_F64, 1, &n);
	qt_tensor *y64 = qt_tensor_new(QT_F64, 1, &n);
	qt_tensor *m1 = qt_tensor_new(QT_U8, 1, &n);
	qt_tensor *m2 = qt_tensor_new(QT_U8, 1, &n);
	qt_rng rng;
	static const double ps[] = {0.1, 0.5, 0.8};
	for (int64_t i = 0; i < n; i++) {
		((float *)x->data)[i] = 1;
		((double *)x64->data)[i] = 1;
	}
	for (int k = 0; k < 3; k++) {
		double p = ps[k], kept = 0, sum = 0;
		qt_rng_seed(&rng, 99, (uint64_t)k);
		CHECK_OK(qt_dropout_forward(y, m1, x, p, 1, &rng, NULL));
		for (int64_t i = 0; i < n; i++) {
			kept += ((uint8_t *)m1->data)[i];
			sum += ((float *)y->data)[i];
		}
		/* keep rate 1 - p within 5 standard deviations; mean of y 1 */
		double sd = sqrt(p * (1 - p) / (double)n);
		CHECK(fabs(kept / (double)n - (1 - p)) < 5 * sd);
		CHECK(fabs(sum / (double)n - 1) < 5 * sd / (1 - p));
		/* same seed and stream: same mask, for either dtype */
		qt_rng_seed(&rng, 99, (uint64_t)k);
		CHECK_OK(qt_dropout_forward(y64, m2, x64, p, 1, &rng, NULL));
		CHECK(memcmp(m1->data, m2->data, (size_t)n) == 0);
		/* another stream: another mask */
		qt_rng_seed(&rng, 99, (uint64_t)k + 100);
		CHECK_OK(qt_dropout_forward(y64, m2, x64, p, 1, &rng, NULL));
		CHECK(memcmp(m1->data, m2->data, (size_t)n) != 0);
	}
	qt_tensor_free(x);
	qt_tensor_free(y);
	qt_tensor_free(x64);
	qt_tensor_free(y64);
	qt_tensor_free(m1);
	qt_tensor_free(m2);
}

static void test_eval_and_extremes(void)
{
	int64_t n = 1000;
	qt_tensor *x = qt_tensor_new(QT_F64, 1, &n);
	qt_tensor *y = qt_tensor_new(QT_F64, 1, &n);
	qt_tensor *m = qt_tensor_new(QT_U8, 1, &n);
	qt_rng rng;
	qt_rng_seed(&rng, 3, 0);
	for (int64_t i = 0; i < n; i++)
		((double *)x->data)[i] = qt_rng_normal(&rng);
	/* evaluation: identity, no mask or rng needed */
	CHECK_OK(qt_dropout_forward(y, NULL, x, 0.5, 0, NULL, NULL));
	CHECK(memcmp(x->data, y->data, (size_t)n * 8) == 0);
	CHECK_OK(qt_dropout_backward(y, x, NULL, 0.5, 0, NULL));
	CHECK(memcmp(x->data, y->data, (size_t)n * 8) == 0);
	/* p = 0 keeps everything unscaled, p = 1 drops everything */
	CHECK_OK(qt_dropout_forward(y, m, x, 0.0, 1, &rng, NULL));
	CHECK(memcmp(x->data, y->data, (size_t)n * 8) == 0);
	CHECK_OK(qt_dropout_forward(y, m, x, 1.0, 1, &rng, NULL));
	int nonzero = 0;
	for (int64_t i = 0; i < n; i++)
		nonzero += ((double *)y->data)[i] != 0 ||
			   ((uint8_t *)m->data)[i] != 0;
	CHECK(nonzero == 0);
	CHECK_OK(qt_dropout_backward(y, x, m, 1.0, 1, NULL));
	for (int64_t i = 0; i < n; i++)
		nonzero += ((double *)y->data)[i] != 0;
	CHECK(nonzero == 0);
	qt_tensor_free(x);
	qt_tensor_free(y);
	qt_tensor_free(m);
}

/* With the generator state fixed the op is linear in x: backward against
 * central differences of sum(r * y). */
static void test_gradcheck(void)
{
	int64_t n = 50;
	double p = 0.4;
	qt_tensor *x = qt_tensor_new(QT_F64, 1, &n);
	qt_tensor *r = qt_tensor_new(QT_F64, 1, &n);
	qt_tensor *y = qt_tensor_new(QT_F64, 1, &n);
	qt_tensor *dx = qt_tensor_new(QT_F64, 1, &n);
	qt_tensor *m = qt_tensor_new(QT_U8, 1, &n);
	double num[50], *xd = x->data, *rd = r->data, *yd = y->data;
	qt_rng rng, start;
	qt_rng_seed(&rng, 8, 1);
	for (int64_t i = 0; i < n; i++) {
		xd[i] = qt_rng_normal(&rng);
		rd[i] = qt_rng_normal(&rng);
	}
	start = rng;
	CHECK_OK(qt_dropout_forward(y, m, x, p, 1, &rng, NULL));
	CHECK_OK(qt_dropout_backward(dx, r, m, p, 1, NULL));
	for (int64_t i = 0; i < n; i++) {
		double h = 1e-6, save = xd[i], lp = 0, lm = 0;
		xd[i] = save + h;
		rng = start;
		qt_dropout_forward(y, m, x, p, 1, &rng, NULL);
		for (int64_t j = 0; j < n; j++)
			lp += rd[j] * yd[j];
		xd[i] = save - h;
		rng = start;
		qt_dropout_forward(y, m, x, p, 1, &rng, NULL);
		for (int64_t j = 0; j < n; j++)
			lm += rd[j] * yd[j];
		xd[i] = save;
		num[i] = (lp - lm) / (2 * h);
	}
	CHECK_CLOSE((double *)dx->data, num, n, 1e-8, 1e-6);
	qt_tensor_free(x);
	qt_tensor_free(r);
	qt_tensor_free(y);
	qt_tensor_free(dx);
	qt_tensor_free(m);
}

static void test_bad_arguments(void)
{
	int64_t n = 10, n2 = 11;
	qt_tensor *x = qt_tensor_new(QT_F32, 1, &n);
	qt_tensor *y64 = qt_tensor_new(QT_F64, 1, &n);
	qt_tensor *m = qt_tensor_new(QT_U8, 1, &n);
	qt_tensor *m11 = qt_tensor_new(QT_U8, 1, &n2);
	qt_tensor *mf = qt_tensor_new(QT_F32, 1, &n);
	qt_rng rng;
	qt_rng_seed(&rng, 1, 0);
	CHECK(qt_dropout_forward(x, m, x, 1.5, 1, &rng, NULL) == QT_EUSAGE);
	CHECK(qt_dropout_forward(x, m, x, NAN, 1, &rng, NULL) == QT_EUSAGE);
	CHECK(qt_dropout_forward(x, NULL, x, 0.5, 1, &rng, NULL) == QT_EUSAGE);
	CHECK(qt_dropout_forward(x, m, x, 0.5, 1, NULL, NULL) == QT_EUSAGE);
	CHECK(qt_dropout_forward(x, m11, x, 0.5, 1, &rng, NULL) == QT_ESHAPE);
	CHECK(qt_dropout_forward(x, mf, x, 0.5, 1, &rng, NULL) == QT_ESHAPE);
	CHECK(qt_dropout_forward(y64, m, x, 0.5, 1, &rng, NULL) == QT_ESHAPE);
	CHECK(qt_dropout_backward(x, x, m11, 0.5, 1, NULL) == QT_ESHAPE);
	qt_tensor_free(x);
	qt_tensor_free(y64);
	qt_tensor_free(m);
	qt_tensor_free(m11);
	qt_tensor_free(mf);
}

int main(void)
{
	RUN(test_against_torch);
	RUN(test_keep_rate_and_reproducibility);
	RUN(test_eval_and_extremes);
	RUN(test_gradcheck);
	RUN(test_bad_arguments);
	return test_done();
}
