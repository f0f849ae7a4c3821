/* test_normalise.c: common/normalise.h: the affine maps of each method and
 * their composition (min-max then standard == one affine map whose
 * standard statistics come from the raw ones), one-pass fitting (global,
 * per channel, ragged, integer input) against two-pass sums in double,
 * applying, the NaN / constant / layout errors, the identity hash, and the
 * HDF5 round trip. */
#include "common/error.h"
#include "common/normalise.h"
#include "common/stream.h"
#include "test.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A header with one float32 field "maps" of per-sample shape (C, H). */
static qt_header *maps_header(qt_dtype dt, int ndim, const int64_t *shape)
{
	qt_header *h = qt_header_new();
	int64_t one = 1;
	qt_header_add_field(h, "z", QT_F32, 0, &one);
	qt_header_add_field(h, "maps", dt, ndim, shape);
	return h;
}

/* A batch of n samples; maps element k of sample s is f(s0 + s, k). */
static double value(int64_t s, int64_t k)
{
	return sin(0.7 * (double)s + 1.3 * (double)k) * (1 + (double)(k % 3)) +
	       0.5 * (double)(k % 3);
}

static qt_batch *maps_batch(const qt_header *h, int64_t s0, int64_t n)
{
	const qt_field *f = &h->fields[1];
	int64_t full[QT_MAX_DIMS + 1], per = qt_shape_numel(f->ndim, f->shape);
	qt_batch *b = qt_batch_new(2);
	full[0] = n;
	memcpy(full + 1, f->shape, (size_t)f->ndim * sizeof *full);
	b->n = n;
	b->t[0] = qt_tensor_new(QT_F32, 1, &n);
	b->t[1] = qt_tensor_new(f->dtype, f->ndim + 1, full);
	for (int64_t s = 0; s < n; s++)
		for (int64_t k = 0; k < per; k++) {
			double v = value(s0 + s, k);
			if (f->dtype == QT_F32)
				((float *)b->t[1]->data)[s * per + k] = (float)v;
			else if (f->dtype == QT_U8)
				((uint8_t *)b->t[1]->data)[s * per + k] =
					(uint8_t)(40 + 10 * v);
		}
	return b;
}

/* Two-pass statistics in double of the elements of channel c (or all). */
static void reference(const qt_batch *const *bs, int nb, int64_t C,
		      int64_t inner, int64_t c, double *mn, double *mx,
		      double *mean, double *std)
{
	double sum = 0, ss = 0;
	int64_t n = 0;
	*mn = HUGE_VAL;
	*mx = -HUGE_VAL;
	for (int pass = 0; pass < 2; pass++)
		for (int j = 0; j < nb; j++) {
			const qt_tensor *t = bs[j]->t[1];
			int64_t numel = qt_tensor_numel(t);
			for (int64_t k = 0; k < numel; k++) {
				double v;
				if (C > 1 && (k / inner) % C != c)
					continue;
				v = qt_tensor_get(t, k);
				if (pass == 0) {
					sum += v;
					n++;
					*mn = fmin(*mn, v);
					*mx = fmax(*mx, v);
				} else {
					ss += (v - sum / n) * (v - sum / n);
				}
			}
		}
	*mean = sum / n;
	*std = sqrt(ss / n);
}

static void test_affine_methods(void)
{
	double a, b, sm = -1, ss = -1;
	int cons;
	CHECK_OK(qt_norm_affine(QT_NORM_MINMAX, 2, 6, 3, 1, 0, &a, &b, &sm,
				&ss, &cons));
	CHECK(fabs(a - 0.25) < 1e-15 && fabs(b + 0.5) < 1e-15 && !cons);
	CHECK(sm == -1 && ss == -1); /* only for minmax,standard */
	CHECK_OK(qt_norm_affine(QT_NORM_STANDARD, 2, 6, 3, 2, 0, &a, &b, &sm,
				&ss, &cons));
	CHECK(fabs(a - 0.5) < 1e-15 && fabs(b + 1.5) < 1e-15);
	/* minmax,standard: the scaled data have mean (3-2)/4 and std 2/4. */
	CHECK_OK(qt_norm_affine(QT_NORM_BOTH, 2, 6, 3, 2, 0, &a, &b, &sm, &ss,
				&cons));
	CHECK(fabs(sm - 0.25) < 1e-15 && fabs(ss - 0.5) < 1e-15);
	/* The composite equals min-max then standardise, value by value. */
	for (double x = -3; x <= 9; x += 0.75) {
		double y1 = (x - 2) / 4, y2 = (y1 - sm) / ss;
		CHECK(fabs(x * a + b - y2) < 1e-13);
		/* ... and, as affine maps compose, standard alone. */
		CHECK(fabs(x * a + b - (x - 3) / 2) < 1e-13);
	}
}

static void test_affine_constant(void)
{
	double a, b, sm, ss;
	int cons = -1;
	CHECK(qt_norm_affine(QT_NORM_MINMAX, 5, 5, 5, 0, 0, &a, &b, &sm, &ss,
			     &cons) == QT_ENUMERIC);
	CHECK(strstr(qt_error_message(QT_ENUMERIC), "zero range") != NULL);
	CHECK(qt_norm_affine(QT_NORM_STANDARD, 5, 5, 5, 0, 0, &a, &b, &sm, &ss,
			     &cons) == QT_ENUMERIC);
	for (int m = QT_NORM_MINMAX; m <= QT_NORM_BOTH; m++) {
		CHECK_OK(qt_norm_affine(m, 5, 5, 5, 0, 1, &a, &b, &sm, &ss,
					&cons));
		CHECK(cons == 1 && 5 * a + b == 0); /* maps to 0 */
	}
}

static void test_parse_method(void)
{
	int m = 0;
	CHECK_OK(qt_norm_parse_method("minmax,standard", &m));
	CHECK(m == QT_NORM_BOTH);
	CHECK(!strcmp(qt_norm_method_name(m), "minmax,standard"));
	CHECK(qt_norm_parse_method("standard,minmax", &m) == QT_EUSAGE);
	CHECK(qt_norm_parse_method("zscore", &m) == QT_EUSAGE);
}

/* Fit over three batches of different sizes; per_channel or global. */
static void fit_and_compare(qt_dtype dt, int per_channel, int method)
{
	int64_t shape[3] = {3, 4, 5};
	qt_header *h = maps_header(dt, 3, shape);
	qt_batch *bs[3] = {maps_batch(h, 0, 7), maps_batch(h, 7, 1),
			   maps_batch(h, 8, 12)};
	qt_norm_fitter *f = NULL;
	qt_norm *n = NULL;
	int64_t C = per_channel ? 3 : 1;
	CHECK_OK(qt_norm_fit_begin(&f, h, "maps", method, per_channel));
	for (int j = 0; j < 3 && f; j++)
		CHECK_OK(qt_norm_fit_add(f, bs[j]));
	if (f)
		CHECK_OK(qt_norm_fit_end(f, 0, &n, NULL));
	CHECK(n != NULL);
	if (n) {
		CHECK(n->nchan == C && n->count == 20 * 60 / C);
		for (int64_t c = 0; c < C; c++) {
			double want[4], got[4] = {n->min[c], n->max[c], n->mean[c],
						  n->std[c]};
			reference((const qt_batch *const *)bs, 3, C, 20, c,
				  &want[0], &want[1], &want[2], &want[3]);
			CHECK_CLOSE(got, want, 4, 1e-12, 1e-12);
			if (method == QT_NORM_BOTH) {
				/* Mean and std of the min-max-scaled data, by
				 * two passes over the scaled values. */
				double r = want[1] - want[0];
				double sw[2] = {(want[2] - want[0]) / r, want[3] / r};
				double sg[2] = {n->smean[c], n->sstd[c]};
				CHECK_CLOSE(sg, sw, 2, 1e-12, 1e-12);
			}
		}
		CHECK(strlen(n->sha256) == 64);
	}
	qt_norm_free(n);
	qt_norm_fitter_free(f);
	for (int j = 0; j < 3; j++)
		qt_batch_free(bs[j]);
	qt_header_free(h);
}

static void test_fit_global(void)
{
	fit_and_compare(QT_F32, 0, QT_NORM_STANDARD);
	fit_and_compare(QT_F32, 0, QT_NORM_BOTH);
}

static void test_fit_per_channel(void)
{
	fit_and_compare(QT_F32, 1, QT_NORM_MINMAX);
	fit_and_compare(QT_F32, 1, QT_NORM_BOTH);
}

static void test_fit_integer_input(void)
{
	fit_and_compare(QT_U8, 1, QT_NORM_BOTH);
}

/* Applying gives x * scale + offset per channel, as float32, and the
 * minmax,standard output has mean 0 and std 1 per channel. */
static void test_apply(void)
{
	int64_t shape[2] = {2, 6};
	qt_header *h = maps_header(QT_U8, 2, shape);
	qt_batch *b = maps_batch(h, 0, 9);
	qt_tensor *in = qt_tensor_clone(b->t[1]);
	qt_norm_fitter *f = NULL;
	qt_norm *n = NULL;
	CHECK_OK(qt_norm_fit_begin(&f, h, "maps", QT_NORM_BOTH, 1));
	CHECK_OK(qt_norm_fit_add(f, b));
	CHECK_OK(qt_norm_fit_end(f, 0, &n, NULL));
	CHECK_OK(qt_norm_apply_batch(n, 1, b, 1, 0));
	CHECK(b->t[1]->dtype == QT_F32 && b->t[1]->shape[0] == 9);
	if (n && b->t[1]->dtype == QT_F32) {
		const float *y = b->t[1]->data;
		float want[108];
		double sum[2] = {0}, ss[2] = {0};
		for (int k = 0; k < 108; k++) {
			int c = (k / 6) % 2;
			want[k] = (float)(qt_tensor_get(in, k) * n->scale[c] +
					  n->offset[c]);
			sum[c] += y[k];
			ss[c] += (double)y[k] * y[k];
		}
		CHECK_CLOSE(y, want, 108, 0, 0);
		for (int c = 0; c < 2; c++) {
			CHECK(fabs(sum[c] / 54) < 1e-6);
			CHECK(fabs(ss[c] / 54 - 1) < 1e-5);
		}
	}
	qt_tensor_free(in);
	qt_norm_free(n);
	qt_norm_fitter_free(f);
	qt_batch_free(b);
	qt_header_free(h);
}

/* A ragged (*, 3) field: channels are the 3 columns of every row. */
static void test_ragged_per_channel(void)
{
	int64_t shape[2] = {-1, 3}, rows = 5, ptrn = 3, full[2] = {5, 3};
	qt_header *h = qt_header_new();
	qt_batch *b = qt_batch_new(1);
	qt_norm_fitter *f = NULL;
	qt_norm *n = NULL;
	float *x;
	qt_header_add_field(h, "nodes", QT_F32, 2, shape);
	b->n = 2;
	b->t[0] = qt_tensor_new(QT_F32, 2, full);
	b->ptr[0] = qt_tensor_new(QT_I64, 1, &ptrn);
	((int64_t *)b->ptr[0]->data)[1] = 2;
	((int64_t *)b->ptr[0]->data)[2] = rows;
	x = b->t[0]->data;
	for (int r = 0; r < rows; r++)
		for (int c = 0; c < 3; c++)
			x[r * 3 + c] = (float)(r * (c + 1) + 10 * c);
	CHECK_OK(qt_batch_validate(h, b));
	CHECK_OK(qt_norm_fit_begin(&f, h, "nodes", QT_NORM_MINMAX, 1));
	CHECK_OK(qt_norm_fit_add(f, b));
	CHECK_OK(qt_norm_fit_end(f, 0, &n, NULL));
	if (n) {
		double mn[3] = {0, 10, 20}, mx[3] = {4, 18, 32};
		double mean[3] = {2, 14, 26};
		CHECK(n->nchan == 3 && n->count == 5);
		CHECK_CLOSE(n->min, mn, 3, 0, 0);
		CHECK_CLOSE(n->max, mx, 3, 0, 0);
		CHECK_CLOSE(n->mean, mean, 3, 1e-14, 1e-14);
	}
	qt_norm_fitter_free(f);
	qt_norm_free(n);
	/* Per-channel needs a fixed axis: a ragged (*) field has none. */
	int64_t r1 = -1;
	qt_header_add_field(h, "hits", QT_F32, 1, &r1);
	CHECK(qt_norm_fit_begin(&f, h, "hits", QT_NORM_MINMAX, 1) == QT_EUSAGE);
	qt_batch_free(b);
	qt_header_free(h);
}

static void test_nan_names_batch_and_sample(void)
{
	int64_t shape[1] = {4};
	qt_header *h = maps_header(QT_F32, 1, shape);
	qt_batch *b1 = maps_batch(h, 0, 3), *b2 = maps_batch(h, 3, 5);
	qt_norm_fitter *f = NULL;
	qt_norm *n = NULL;
	((float *)b2->t[1]->data)[2 * 4 + 1] = NAN;
	CHECK_OK(qt_norm_fit_begin(&f, h, "maps", QT_NORM_STANDARD, 0));
	CHECK_OK(qt_norm_fit_add(f, b1));
	CHECK(qt_norm_fit_add(f, b2) == QT_ENUMERIC);
	const char *msg = qt_error_message(QT_ENUMERIC);
	CHECK(strstr(msg, "'maps'") && strstr(msg, "batch 2") &&
	      strstr(msg, "sample 2 (5 of the stream)") && strstr(msg, "NaN"));
	/* The bad batch added nothing: the fit is that of b1 alone. */
	CHECK_OK(qt_norm_fit_end(f, 0, &n, NULL));
	CHECK(n && n->count == 12);
	qt_norm_free(n);
	qt_norm_fitter_free(f);
	qt_batch_free(b1);
	qt_batch_free(b2);
	qt_header_free(h);
}

static void test_constant_channel(void)
{
	int64_t shape[2] = {2, 3};
	qt_header *h = maps_header(QT_F32, 2, shape);
	qt_batch *b = maps_batch(h, 0, 4);
	qt_norm_fitter *f = NULL;
	qt_norm *n = NULL;
	int ncons = 0;
	for (int s = 0; s < 4; s++)
		for (int k = 3; k < 6; k++)
			((float *)b->t[1]->data)[s * 6 + k] = 0.5f;
	CHECK_OK(qt_norm_fit_begin(&f, h, "maps", QT_NORM_BOTH, 1));
	CHECK_OK(qt_norm_fit_add(f, b));
	CHECK(qt_norm_fit_end(f, 0, &n, NULL) == QT_ENUMERIC && !n);
	CHECK(strstr(qt_error_message(QT_ENUMERIC), "channel 1 is constant"));
	CHECK_OK(qt_norm_fit_end(f, 1, &n, &ncons));
	CHECK(ncons == 1 && n && qt_norm_is_constant(n, 1) &&
	      !qt_norm_is_constant(n, 0));
	if (n) {
		CHECK_OK(qt_norm_apply_batch(n, 1, b, 1, 0));
		CHECK(((float *)b->t[1]->data)[4] == 0);
	}
	qt_norm_free(n);
	qt_norm_fitter_free(f);
	qt_batch_free(b);
	qt_header_free(h);
}

static qt_norm *fit_simple(const qt_header *h, int method, int per_channel)
{
	qt_batch *b = maps_batch(h, 0, 6);
	qt_norm_fitter *f = NULL;
	qt_norm *n = NULL;
	if (qt_norm_fit_begin(&f, h, "maps", method, per_channel) == 0 &&
	    qt_norm_fit_add(f, b) == 0)
		qt_norm_fit_end(f, 0, &n, NULL);
	qt_norm_fitter_free(f);
	qt_batch_free(b);
	return n;
}

static void test_check_layout(void)
{
	int64_t s1[2] = {2, 3}, s2[2] = {2, 4};
	qt_header *h = maps_header(QT_F32, 2, s1), *other = maps_header(QT_F32, 2, s2);
	qt_header *none = qt_header_new();
	int64_t one = 1;
	qt_norm *n = fit_simple(h, QT_NORM_STANDARD, 1);
	qt_header_add_field(none, "images", QT_F32, 0, &one);
	CHECK(n != NULL);
	if (n) {
		CHECK(qt_norm_check(n, h, "p.h5") == 1);
		CHECK(qt_norm_check(n, other, "p.h5") == QT_ESHAPE);
		CHECK(strstr(qt_error_message(QT_ESHAPE), "(2, 4)") &&
		      strstr(qt_error_message(QT_ESHAPE), "(2, 3)"));
		CHECK(qt_norm_check(n, none, "p.h5") == QT_EUSAGE);
		CHECK(strstr(qt_error_message(QT_EUSAGE), "field 'maps'"));
	}
	qt_norm_free(n);
	qt_header_free(h);
	qt_header_free(other);
	qt_header_free(none);
}

static void test_identity(void)
{
	int64_t shape[2] = {2, 3};
	qt_header *h = maps_header(QT_F32, 2, shape);
	qt_norm *a = fit_simple(h, QT_NORM_BOTH, 1), *b = fit_simple(h, QT_NORM_BOTH, 1);
	qt_norm *c = fit_simple(h, QT_NORM_STANDARD, 1);
	CHECK(a && b && c);
	if (a && b && c) {
		char was[65];
		CHECK(!strcmp(a->sha256, b->sha256));
		CHECK(strcmp(a->sha256, c->sha256) != 0); /* method differs */
		memcpy(was, b->sha256, sizeof was);
		b->offset[1] = nextafter(b->offset[1], 1e9);
		qt_norm_identity(b);
		CHECK(strcmp(was, b->sha256) != 0); /* one bit of one value */
		snprintf(b->field, sizeof b->field, "other");
		b->offset[1] = a->offset[1];
		qt_norm_identity(b);
		CHECK(strcmp(was, b->sha256) != 0);
	}
	qt_norm_free(a);
	qt_norm_free(b);
	qt_norm_free(c);
	qt_header_free(h);
}

static void test_save_load(void)
{
	int64_t shape[2] = {2, 3};
	qt_header *h = maps_header(QT_F32, 2, shape);
	qt_norm *n = fit_simple(h, QT_NORM_BOTH, 1), *m = NULL;
	char dir[] = "/tmp/test_normalise.XXXXXX", path[64];
	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof path, "%s/p.h5", dir);
	CHECK(n != NULL);
	if (n) {
		CHECK_OK(qt_norm_save(n, path, "[]"));
		CHECK_OK(qt_norm_load(&m, path));
	}
	if (n && m) {
		CHECK(!strcmp(m->sha256, n->sha256) && !strcmp(m->field, "maps"));
		CHECK(m->method == QT_NORM_BOTH && m->per_channel == 1 &&
		      m->ndim == 2 && m->shape[1] == 3 && m->nchan == 2 &&
		      m->count == n->count);
		CHECK_CLOSE(m->scale, n->scale, 2, 0, 0);
		CHECK_CLOSE(m->offset, n->offset, 2, 0, 0);
		CHECK_CLOSE(m->sstd, n->sstd, 2, 0, 0);
	}
	qt_norm_free(m);
	m = NULL;
	CHECK(qt_norm_load(&m, "/nonexistent/p.h5") == QT_EUSAGE);
	CHECK(qt_norm_load(&m, "/etc/hostname") == QT_EFORMAT);
	unlink(path);
	rmdir(dir);
	qt_norm_free(n);
	qt_header_free(h);
}

int main(void)
{
	RUN(test_affine_methods);
	RUN(test_affine_constant);
	RUN(test_parse_method);
	RUN(test_fit_global);
	RUN(test_fit_per_channel);
	RUN(test_fit_integer_input);
	RUN(test_apply);
	RUN(test_ragged_per_channel);
	RUN(test_nan_names_batch_and_sample);
	RUN(test_constant_channel);
	RUN(test_check_layout);
	RUN(test_identity);
	RUN(test_save_load);
	return test_done();
}
