/* test_init.c: parameter initialisers: fans and gains against
 * torch.nn.init (tests/reference/init.h5), bounds, means and standard
 * deviations of large draws, reproducibility, and bad shapes. */
#include "kernels/kernels.h"
#include "common/rng.h"
#include "fixture.h"
#include "test.h"

#include <string.h>

static const char *FIX = "tests/reference/init.h5";

static double load_scalar(const char *group, const char *name)
{
	char path[256];
	snprintf(path, sizeof path, "%s/%s", group, name);
	qt_tensor *t = fixture_load(FIX, path, QT_F64);
	double v = t ? ((double *)t->data)[0] : NAN;
	qt_tensor_free(t);
	return v;
}

static void test_fans_and_gains(void)
{
	for (int i = 0; i < 4; i++) {
		char g[32], path[64];
		snprintf(g, sizeof g, "shape%d", i);
		snprintf(path, sizeof path, "%s/shape", g);
		qt_tensor *s = fixture_load(FIX, path, QT_I64);
		CHECK(s != NULL);
		if (!s)
			continue;
		qt_tensor *w = qt_tensor_new(QT_F32, (int)s->shape[0], s->data);
		int64_t fin = -1, fout = -1;
		CHECK_OK(qt_init_fans(&fin, &fout, w));
		CHECK(fin == (int64_t)load_scalar(g, "fan_in"));
		CHECK(fout == (int64_t)load_scalar(g, "fan_out"));
		qt_tensor_free(w);
		qt_tensor_free(s);
	}
	static const struct {
		const char *name;
		qt_nonlinearity nl;
		double param;
	} gains[] = {
		{"linear", QT_NL_LINEAR, 0}, {"sigmoid", QT_NL_SIGMOID, 0},
		{"tanh", QT_NL_TANH, 0}, {"relu", QT_NL_RELU, 0},
		{"leaky_relu", QT_NL_LEAKY_RELU, 0.01},
		{"leaky_relu_0.2", QT_NL_LEAKY_RELU, 0.2},
		{"selu", QT_NL_SELU, 0},
	};
	for (size_t i = 0; i < sizeof gains / sizeof *gains; i++) {
		double got = qt_init_gain(gains[i].nl, gains[i].param);
		double want = load_scalar("gain", gains[i].name);
		CHECK_CLOSE(&got, &want, 1, 0, 1e-15);
	}
}

/* Sample statistics of a tensor. */
struct stats {
	double min, max, mean, std, within_1sd;
};

static struct stats stats_of(const qt_tensor *t)
{
	struct stats s = {INFINITY, -INFINITY, 0, 0, 0};
	int64_t n = qt_tensor_numel(t);
	double sum = 0, sq = 0;
	for (int64_t i = 0; i < n; i++) {
		double v = qt_tensor_get(t, i);
		s.min = v < s.min ? v : s.min;
		s.max = v > s.max ? v : s.max;
		sum += v;
	}
	s.mean = sum / (double)n;
	for (int64_t i = 0; i < n; i++) {
		double d = qt_tensor_get(t, i) - s.mean;
		sq += d * d;
	}
	s.std = sqrt(sq / (double)(n - 1));
	for (int64_t i = 0; i < n; i++)
		s.within_1sd += fabs(qt_tensor_get(t, i)) <= s.std;
	s.within_1sd /= (double)n;
	return s;
}

/* U(-b, b): inside the bounds, reaching close to them, mean 0 and
 * std b / sqrt(3) within a few standard errors. */
static void check_uniform(const char *what, const qt_tensor *w, double b)
{
	struct stats s = stats_of(w);
	double n = (double)qt_tensor_numel(w), sd = b / sqrt(3.0);
	int ok = s.min >= -b && s.max <= b && s.min < -0.999 * b &&
		 s.max > 0.999 * b && fabs(s.mean) < 5 * sd / sqrt(n) &&
		 fabs(s.std / sd - 1) < 0.01;
	if (!ok)
		printf("# %s: U(-%g, %g): min %g max %g mean %g std %g\n",
		       what, b, b, s.min, s.max, s.mean, s.std);
	CHECK(ok);
}

/* N(0, sd^2): mean, std, and the 68.3% inside one standard deviation. */
static void check_normal(const char *what, const qt_tensor *w, double sd)
{
	struct stats s = stats_of(w);
	double n = (double)qt_tensor_numel(w);
	int ok = fabs(s.mean) < 5 * sd / sqrt(n) &&
		 fabs(s.std / sd - 1) < 0.01 &&
		 fabs(s.within_1sd - 0.682689) < 0.005;
	if (!ok)
		printf("# %s: N(0, %g^2): mean %g std %g within 1 sd %g\n",
		       what, sd, s.mean, s.std, s.within_1sd);
	CHECK(ok);
}

/* Every initialiser on a (256, 128, 3, 3) weight (294912 values: the
 * standard error of the std is 0.13%), in both dtypes. */
static void test_distributions(void)
{
	int64_t big[] = {256, 128, 3, 3}, fin = 128 * 9, fout = 256 * 9;
	qt_rng rng;
	qt_rng_seed(&rng, 2024, 0);
	for (int d = 0; d < 2; d++) {
		qt_dtype dt = d ? QT_F32 : QT_F64;
		qt_tensor *w = qt_tensor_new(dt, 4, big);
		int64_t cout = big[0];
		qt_tensor *b = qt_tensor_new(dt, 1, &cout);

		CHECK_OK(qt_init_torch_default(w, b, &rng, NULL));
		check_uniform("torch default weight", w, 1 / sqrt((double)fin));
		struct stats sb = stats_of(b);
		CHECK(sb.min >= -1 / sqrt((double)fin) &&
		      sb.max <= 1 / sqrt((double)fin) && sb.max > sb.min);

		CHECK_OK(qt_init_xavier_uniform(w, 1.0, &rng, NULL));
		check_uniform("xavier_uniform", w,
			      sqrt(6.0 / (double)(fin + fout)));
		CHECK_OK(qt_init_xavier_uniform(w, 5.0 / 3, &rng, NULL));
		check_uniform("xavier_uniform tanh gain", w,
			      5.0 / 3 * sqrt(6.0 / (double)(fin + fout)));
		CHECK_OK(qt_init_xavier_normal(w, 1.0, &rng, NULL));
		check_normal("xavier_normal", w,
			     sqrt(2.0 / (double)(fin + fout)));
		CHECK_OK(qt_init_kaiming_uniform(w, 0, QT_FAN_IN,
						 QT_NL_LEAKY_RELU, &rng, NULL));
		check_uniform("kaiming_uniform", w, sqrt(6.0 / (double)fin));
		CHECK_OK(qt_init_kaiming_normal(w, 0, QT_FAN_IN, QT_NL_RELU,
						&rng, NULL));
		check_normal("kaiming_normal fan_in relu", w,
			     sqrt(2.0 / (double)fin));
		CHECK_OK(qt_init_kaiming_normal(w, 0.2, QT_FAN_OUT,
						QT_NL_LEAKY_RELU, &rng, NULL));
		check_normal("kaiming_normal fan_out leaky", w,
			     sqrt(2.0 / 1.04) / sqrt((double)fout));
		CHECK_OK(qt_init_normal(w, 3.0, 0.5, &rng, NULL));
		struct stats sn = stats_of(w);
		CHECK(fabs(sn.mean - 3) < 0.01 && fabs(sn.std / 0.5 - 1) < 0.01);
		CHECK_OK(qt_init_uniform(w, 2.0, 4.0, &rng, NULL));
		struct stats su = stats_of(w);
		CHECK(su.min >= 2 && su.max <= 4 && fabs(su.mean - 3) < 0.01);
		qt_tensor_free(w);
		qt_tensor_free(b);
	}
}

/* The bounds and stds against the values torch.nn.init derives for the
 * fixture's shapes (small draws: bounds only, std within 4%). */
static void test_torch_bounds(void)
{
	qt_rng rng;
	qt_rng_seed(&rng, 77, 3);
	for (int i = 0; i < 4; i++) {
		char g[32], path[64];
		snprintf(g, sizeof g, "shape%d", i);
		snprintf(path, sizeof path, "%s/shape", g);
		qt_tensor *s = fixture_load(FIX, path, QT_I64);
		if (!s) {
			CHECK(0);
			continue;
		}
		qt_tensor *w = qt_tensor_new(QT_F64, (int)s->shape[0], s->data);
		double b = load_scalar(g, "default_bound");
		CHECK_OK(qt_init_torch_default(w, NULL, &rng, NULL));
		struct stats st = stats_of(w);
		CHECK(st.min >= -b && st.max <= b);
		b = load_scalar(g, "xavier_uniform_bound");
		CHECK_OK(qt_init_xavier_uniform(w, 1.0, &rng, NULL));
		st = stats_of(w);
		CHECK(st.min >= -b && st.max <= b);
		if (qt_tensor_numel(w) >= 10000) {
			double sd = load_scalar(g, "kaiming_std_fan_in_relu");
			CHECK_OK(qt_init_kaiming_normal(w, 0, QT_FAN_IN,
							QT_NL_RELU, &rng, NULL));
			CHECK(fabs(stats_of(w).std / sd - 1) < 0.04);
			sd = load_scalar(g, "kaiming_std_fan_out_leaky");
			CHECK_OK(qt_init_kaiming_normal(w, 0.2, QT_FAN_OUT,
							QT_NL_LEAKY_RELU, &rng,
							NULL));
			CHECK(fabs(stats_of(w).std / sd - 1) < 0.04);
			sd = load_scalar(g, "xavier_normal_std");
			CHECK_OK(qt_init_xavier_normal(w, 1.0, &rng, NULL));
			CHECK(fabs(stats_of(w).std / sd - 1) < 0.04);
		}
		qt_tensor_free(w);
		qt_tensor_free(s);
	}
}

static void test_constants_and_reproducibility(void)
{
	int64_t shape[] = {7, 5};
	qt_tensor *a = qt_tensor_new(QT_F64, 2, shape);
	qt_tensor *b = qt_tensor_new(QT_F64, 2, shape);
	qt_tensor *f = qt_tensor_new(QT_F32, 2, shape);
	qt_rng rng;
	CHECK_OK(qt_init_ones(a, NULL));
	CHECK(stats_of(a).min == 1 && stats_of(a).max == 1);
	CHECK_OK(qt_init_constant(a, -2.5, NULL));
	CHECK(stats_of(a).min == -2.5 && stats_of(a).max == -2.5);
	CHECK_OK(qt_init_zeros(a, NULL));
	CHECK(stats_of(a).min == 0 && stats_of(a).max == 0);
	/* same seed, same values; float32 is the float64 draw rounded */
	qt_rng_seed(&rng, 5, 1);
	CHECK_OK(qt_init_xavier_normal(a, 1.0, &rng, NULL));
	qt_rng_seed(&rng, 5, 1);
	CHECK_OK(qt_init_xavier_normal(b, 1.0, &rng, NULL));
	CHECK(memcmp(a->data, b->data, qt_tensor_nbytes(a)) == 0);
	qt_rng_seed(&rng, 5, 1);
	CHECK_OK(qt_init_xavier_normal(f, 1.0, &rng, NULL));
	for (int64_t i = 0; i < 35; i++)
		CHECK(((float *)f->data)[i] == (float)((double *)a->data)[i]);
	qt_rng_seed(&rng, 5, 2);
	CHECK_OK(qt_init_xavier_normal(b, 1.0, &rng, NULL));
	CHECK(memcmp(a->data, b->data, qt_tensor_nbytes(a)) != 0);
	qt_tensor_free(a);
	qt_tensor_free(b);
	qt_tensor_free(f);
}

static void test_bad_shapes(void)
{
	int64_t s1[] = {10}, s2[] = {4, 3}, s3[] = {3}, zero[] = {0, 3};
	qt_tensor *v = qt_tensor_new(QT_F32, 1, s1);
	qt_tensor *w = qt_tensor_new(QT_F32, 2, s2);
	qt_tensor *b3 = qt_tensor_new(QT_F32, 1, s3);
	qt_tensor *wi = qt_tensor_new(QT_I32, 2, s2);
	qt_tensor *empty = qt_tensor_new(QT_F32, 2, zero);
	qt_rng rng;
	int64_t fin, fout;
	qt_rng_seed(&rng, 1, 0);
	CHECK(qt_init_fans(&fin, &fout, v) == QT_ESHAPE);
	CHECK(qt_init_xavier_uniform(v, 1, &rng, NULL) == QT_ESHAPE);
	CHECK(qt_init_kaiming_normal(v, 0, QT_FAN_IN, QT_NL_RELU, &rng,
				     NULL) == QT_ESHAPE);
	CHECK(qt_init_torch_default(w, b3, &rng, NULL) == QT_ESHAPE);
	CHECK(qt_init_torch_default(wi, NULL, &rng, NULL) == QT_ESHAPE);
	CHECK(qt_init_uniform(w, 1, 0, &rng, NULL) == QT_EUSAGE);
	CHECK(qt_init_normal(w, 0, -1, &rng, NULL) == QT_EUSAGE);
	CHECK(qt_init_normal(w, 0, 1, NULL, NULL) == QT_EUSAGE);
	CHECK(qt_init_constant(wi, 0, NULL) == QT_ESHAPE);
	/* a zero-element weight is left alone, as torch does */
	CHECK_OK(qt_init_kaiming_uniform(empty, 0, QT_FAN_IN, QT_NL_RELU, &rng,
					 NULL));
	CHECK_OK(qt_init_xavier_normal(empty, 1, &rng, NULL));
	qt_tensor *all[] = {v, w, b3, wi, empty};
	for (size_t i = 0; i < sizeof all / sizeof *all; i++)
		qt_tensor_free(all[i]);
}

int main(void)
{
	RUN(test_fans_and_gains);
	RUN(test_distributions);
	RUN(test_torch_bounds);
	RUN(test_constants_and_reproducibility);
	RUN(test_bad_shapes);
	return test_done();
}
