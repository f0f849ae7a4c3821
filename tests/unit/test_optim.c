/* test_optim.c: SGD (momentum, dampening, nesterov, weight decay), Adam
 * (weight decay, amsgrad), AdamW and Adamax against five steps of
 * torch.optim (tests/reference/optim.h5), the torch defaults, and bad
 * arguments. */
#include "kernels/kernels.h"
#include "fixture.h"
#include "test.h"

#include <string.h>

static const char *FIX = "tests/reference/optim.h5";

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

static double load_scalar(const char *group, const char *name)
{
	qt_tensor *t = load(group, name, QT_F64);
	double v = t ? ((double *)t->data)[0] : NAN;
	qt_tensor_free(t);
	return v;
}

enum kind { SGD, ADAM, ADAMW, ADAMAX };

static const struct {
	const char *name;
	enum kind kind;
} CASES[] = {
	{"sgd", SGD}, {"sgd_momentum", SGD}, {"sgd_dampening_wd", SGD},
	{"sgd_nesterov_wd", SGD}, {"adam", ADAM}, {"adam_defaults", ADAM},
	{"adam_wd", ADAM}, {"adam_amsgrad", ADAM}, {"adamw", ADAMW},
	{"adamw_amsgrad_wd", ADAMW}, {"adamax", ADAMAX},
	{"adamax_wd", ADAMAX},
};

static void run_case(int d, int c)
{
	char g[64];
	qt_dtype dt = DTYPES[d].dt;
	enum kind kind = CASES[c].kind;
	snprintf(g, sizeof g, "%s/%s", DTYPES[d].group, CASES[c].name);
	qt_tensor *p0 = load(g, "param0", dt), *grads = load(g, "grads", dt);
	qt_tensor *want = load(g, "params", dt);
	CHECK(p0 && grads && want);
	if (!p0 || !grads || !want)
		return;
	qt_sgd_opts so = qt_sgd_defaults(load_scalar(g, "lr"));
	qt_adam_opts ao = kind == ADAMW	   ? qt_adamw_defaults()
			  : kind == ADAMAX ? qt_adamax_defaults()
					   : qt_adam_defaults();
	if (kind == SGD) {
		so.momentum = load_scalar(g, "momentum");
		so.dampening = load_scalar(g, "dampening");
		so.nesterov = load_scalar(g, "nesterov") != 0;
		so.weight_decay = load_scalar(g, "weight_decay");
	} else {
		ao.lr = load_scalar(g, "lr");
		ao.beta1 = load_scalar(g, "beta1");
		ao.beta2 = load_scalar(g, "beta2");
		ao.eps = load_scalar(g, "eps");
		ao.weight_decay = load_scalar(g, "weight_decay");
		ao.amsgrad = load_scalar(g, "amsgrad") != 0;
	}
	qt_tensor *p = qt_tensor_clone(p0);
	qt_tensor *s1 = qt_tensor_new(dt, p0->ndim, p0->shape);
	qt_tensor *s2 = qt_tensor_new(dt, p0->ndim, p0->shape);
	qt_tensor *s3 = qt_tensor_new(dt, p0->ndim, p0->shape);
	int64_t n = qt_tensor_numel(p0);
	size_t es = qt_dtype_size(dt);
	for (int64_t t = 0; t < 5; t++) {
		qt_tensor gt = qt_tensor_wrap(dt, p0->ndim, p0->shape,
					      (char *)grads->data + t * n * es);
		const void *wt = (const char *)want->data + t * n * es;
		if (kind == SGD)
			CHECK_OK(qt_sgd_step(p, so.momentum != 0 ? s1 : NULL,
					     &gt, &so, t + 1, NULL));
		else if (kind == ADAM)
			CHECK_OK(qt_adam_step(p, s1, s2, ao.amsgrad ? s3 : NULL,
					      &gt, &ao, t + 1, NULL));
		else if (kind == ADAMW)
			CHECK_OK(qt_adamw_step(p, s1, s2, ao.amsgrad ? s3 : NULL,
					       &gt, &ao, t + 1, NULL));
		else
			CHECK_OK(qt_adamax_step(p, s1, s2, &gt, &ao, t + 1,
						NULL));
		int ok = dt == QT_F64
			 ? CHECK_CLOSE((double *)p->data, (const double *)wt,
				       n, DTYPES[d].atol, DTYPES[d].rtol)
			 : CHECK_CLOSE((float *)p->data, (const float *)wt,
				       n, DTYPES[d].atol, DTYPES[d].rtol);
		if (!ok)
			printf("# ... in %s after step %lld\n", g,
			       (long long)t + 1);
	}
	qt_tensor *all[] = {p0, grads, want, p, s1, s2, s3};
	for (size_t i = 0; i < sizeof all / sizeof *all; i++)
		qt_tensor_free(all[i]);
}

static void test_sgd(void)
{
	for (int d = 0; d < 2; d++)
		for (int c = 0; c < 4; c++)
			run_case(d, c);
}

static void test_adam(void)
{
	for (int d = 0; d < 2; d++)
		for (int c = 4; c < 8; c++)
			run_case(d, c);
}

static void test_adamw(void)
{
	for (int d = 0; d < 2; d++)
		for (int c = 8; c < 10; c++)
			run_case(d, c);
}

static void test_adamax(void)
{
	for (int d = 0; d < 2; d++)
		for (int c = 10; c < 12; c++)
			run_case(d, c);
}

/* The defaults are torch's (the adam_defaults and adamax fixtures use
 * them implicitly); spell them out once. */
static void test_defaults(void)
{
	qt_adam_opts a = qt_adam_defaults(), w = qt_adamw_defaults();
	qt_adam_opts m = qt_adamax_defaults();
	qt_sgd_opts s = qt_sgd_defaults(0.5);
	CHECK(a.lr == 1e-3 && a.beta1 == 0.9 && a.beta2 == 0.999 &&
	      a.eps == 1e-8 && a.weight_decay == 0 && !a.amsgrad);
	CHECK(w.lr == 1e-3 && w.weight_decay == 1e-2 && w.eps == 1e-8);
	CHECK(m.lr == 2e-3 && m.beta1 == 0.9 && m.beta2 == 0.999 &&
	      m.eps == 1e-8 && m.weight_decay == 0);
	CHECK(s.lr == 0.5 && s.momentum == 0 && s.dampening == 0 &&
	      s.weight_decay == 0 && !s.nesterov);
}

static void test_bad_arguments(void)
{
	int64_t n = 6, n5 = 5;
	qt_tensor *p = qt_tensor_new(QT_F32, 1, &n);
	qt_tensor *g = qt_tensor_new(QT_F32, 1, &n);
	qt_tensor *g5 = qt_tensor_new(QT_F32, 1, &n5);
	qt_tensor *g64 = qt_tensor_new(QT_F64, 1, &n);
	qt_tensor *m = qt_tensor_new(QT_F32, 1, &n);
	qt_tensor *v = qt_tensor_new(QT_F32, 1, &n);
	qt_sgd_opts s = qt_sgd_defaults(0.1);
	qt_adam_opts a = qt_adam_defaults();
	CHECK(qt_sgd_step(p, NULL, g5, &s, 1, NULL) == QT_ESHAPE);
	CHECK(qt_sgd_step(p, NULL, g64, &s, 1, NULL) == QT_ESHAPE);
	CHECK(qt_sgd_step(p, NULL, g, &s, 0, NULL) == QT_EUSAGE);
	s.momentum = 0.9;
	CHECK(qt_sgd_step(p, NULL, g, &s, 1, NULL) == QT_EUSAGE);
	CHECK(qt_sgd_step(p, g5, g, &s, 1, NULL) == QT_ESHAPE);
	s.nesterov = 1;
	s.dampening = 0.1;
	CHECK(qt_sgd_step(p, m, g, &s, 1, NULL) == QT_EUSAGE);
	s.lr = -1;
	CHECK(qt_sgd_step(p, m, g, &s, 1, NULL) == QT_EUSAGE);
	CHECK(qt_adam_step(p, m, g5, NULL, g, &a, 1, NULL) == QT_ESHAPE);
	CHECK(qt_adam_step(p, m, NULL, NULL, g, &a, 1, NULL) == QT_EUSAGE);
	a.amsgrad = 1;
	CHECK(qt_adam_step(p, m, v, NULL, g, &a, 1, NULL) == QT_EUSAGE);
	CHECK(qt_adamax_step(p, m, v, g, &a, 1, NULL) == QT_EUSAGE);
	a.amsgrad = 0;
	a.beta2 = 1.0;
	CHECK(qt_adamw_step(p, m, v, NULL, g, &a, 1, NULL) == QT_EUSAGE);
	a = qt_adam_defaults();
	a.eps = -1;
	CHECK(qt_adamax_step(p, m, v, g, &a, 1, NULL) == QT_EUSAGE);
	CHECK(qt_adamax_step(p, m, v, g, NULL, 1, NULL) == QT_EUSAGE);
	qt_tensor *all[] = {p, g, g5, g64, m, v};
	for (size_t i = 0; i < sizeof all / sizeof *all; i++)
		qt_tensor_free(all[i]);
}

int main(void)
{
	RUN(test_sgd);
	RUN(test_adam);
	RUN(test_adamw);
	RUN(test_adamax);
	RUN(test_defaults);
	RUN(test_bad_arguments);
	return test_done();
}
