/* test_metrics.c: common/metrics.c against hand-computed cases and against
 * sklearn-equivalent values from tests/reference/make_metrics_fixtures.py
 * (tests/reference/metrics.h5), the JSON and stream reports, and the
 * statistics behind quanta plot-data (common/plotdata.c: histograms,
 * reservoir sampling, training logs). */
#include "common/error.h"
#include "common/metrics.h"
#include "common/plotdata.h"
#include "common/stream.h"
#include "fixture.h"
#include "test.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FIX "tests/reference/metrics.h5"

/* The case of tests/bats/evaluate.bats: 8 samples, 2 classes. */
static const int64_t hand_truth[8] = {0, 0, 0, 0, 1, 1, 1, 1};
static const float hand_p1[8] = {0.1f, 0.4f, 0.35f, 0.8f,
				 0.9f, 0.8f, 0.3f, 0.7f};

static void test_hand_binary(void)
{
	qt_cls_eval e;
	float prob[16];
	for (int i = 0; i < 8; i++) {
		prob[2 * i] = 1 - hand_p1[i];
		prob[2 * i + 1] = hand_p1[i];
	}
	CHECK_OK(qt_cls_init(&e, 2, 1, 1));
	/* Two calls: the sums must not depend on the batching. */
	CHECK_OK(qt_cls_add(&e, hand_truth, NULL, prob, 3));
	CHECK_OK(qt_cls_add(&e, hand_truth + 3, NULL, prob + 6, 5));
	CHECK_OK(qt_cls_compute(&e));
	/* argmax: predictions 0 0 0 1 | 1 1 0 1 */
	const int64_t want_conf[4] = {3, 1, 1, 3};
	CHECK(e.n == 8 && !memcmp(e.confusion, want_conf, sizeof want_conf));
	CHECK(e.accuracy == 0.75);
	CHECK(e.precision[0] == 0.75 && e.recall[1] == 0.75 && e.f1[1] == 0.75);
	CHECK(e.support[0] == 4 && e.support[1] == 4);
	/* Positive-negative pairs won: 4 + (3 + 1/2 for the tie at 0.8) + 1
	 * + 3 = 11.5 of 16. */
	CHECK(e.auc == 11.5 / 16);
	CHECK(e.auc_class == NULL);
	qt_cls_free(&e);
}

static void test_auc_edge_cases(void)
{
	qt_scored tied[4] = {{0.5f, 1}, {0.5f, 0}, {0.5f, 1}, {0.5f, 0}};
	qt_scored perfect[4] = {{0.9f, 1}, {0.1f, 0}, {0.8f, 1}, {0.2f, 0}};
	qt_scored reversed[4] = {{0.1f, 1}, {0.9f, 0}, {0.2f, 1}, {0.8f, 0}};
	qt_scored one_class[3] = {{0.1f, 1}, {0.9f, 1}, {0.2f, 1}};
	/* Midranks: ranks 1 2 3.5 3.5 5; positives at 2 and 3.5:
	 * U = 5.5 - 3 = 2.5 of 2 * 3. */
	qt_scored mixed[5] = {{0.3f, 0}, {0.4f, 1}, {0.7f, 1}, {0.7f, 0},
			      {0.9f, 0}};
	CHECK(qt_roc_auc(tied, 4) == 0.5);
	CHECK(qt_roc_auc(perfect, 4) == 1.0);
	CHECK(qt_roc_auc(reversed, 4) == 0.0);
	CHECK(isnan(qt_roc_auc(one_class, 3)));
	CHECK(qt_roc_auc(mixed, 5) == 2.5 / 6);
}

/* Feed a fixture group in batches of `step` samples. */
static void check_group(const char *g, int C, int use_pred, int step)
{
	char name[64];
	qt_tensor *truth, *pred, *prob, *conf, *prec, *rec, *f1, *macro, *acc,
		*auc, *auc_class = NULL;
	qt_cls_eval e;
#define LOAD(var, key, dt)                                             \
	snprintf(name, sizeof name, "%s/%s", g, key);                  \
	var = fixture_load(FIX, name, dt)
	LOAD(truth, "truth", QT_I64);
	LOAD(pred, "pred", QT_I64);
	LOAD(prob, "prob", QT_F32);
	LOAD(conf, "confusion", QT_I64);
	LOAD(prec, "precision", QT_F64);
	LOAD(rec, "recall", QT_F64);
	LOAD(f1, "f1", QT_F64);
	LOAD(macro, "macro", QT_F64);
	LOAD(acc, "accuracy", QT_F64);
	LOAD(auc, "auc", QT_F64);
	if (C > 2) {
		LOAD(auc_class, "auc_class", QT_F64);
		CHECK(auc_class != NULL);
	}
#undef LOAD
	CHECK(truth && pred && prob && conf && prec && rec && f1 && macro &&
	      acc && auc);
	if (!(truth && pred && prob && conf && prec && rec && f1 && macro &&
	      acc && auc))
		goto out;
	int64_t n = truth->shape[0];
	CHECK_OK(qt_cls_init(&e, C, 1, 1));
	for (int64_t s = 0; s < n; s += step) {
		int64_t k = n - s < step ? n - s : step, one = k, two[2] = {k, C};
		qt_tensor tt = qt_tensor_wrap(QT_I64, 1, &one,
					      (int64_t *)truth->data + s);
		qt_tensor pt = qt_tensor_wrap(QT_I64, 1, &one,
					      (int64_t *)pred->data + s);
		qt_tensor rt = qt_tensor_wrap(QT_F32, 2, two,
					      (float *)prob->data + s * C);
		CHECK_OK(qt_cls_add_tensors(&e, &tt, use_pred ? &pt : NULL, &rt));
	}
	CHECK_OK(qt_cls_compute(&e));
	CHECK(e.n == n);
	CHECK(!memcmp(e.confusion, conf->data, (size_t)(C * C) * 8));
	CHECK_CLOSE(e.precision, (double *)prec->data, C, 1e-15, 1e-12);
	CHECK_CLOSE(e.recall, (double *)rec->data, C, 1e-15, 1e-12);
	CHECK_CLOSE(e.f1, (double *)f1->data, C, 1e-15, 1e-12);
	double m[3] = {e.precision_macro, e.recall_macro, e.f1_macro};
	CHECK_CLOSE(m, (double *)macro->data, 3, 1e-15, 1e-12);
	CHECK_CLOSE(&e.accuracy, (double *)acc->data, 1, 1e-15, 1e-12);
	CHECK_CLOSE(&e.auc, (double *)auc->data, 1, 1e-15, 1e-12);
	if (auc_class) {
		CHECK(e.auc_class != NULL);
		if (e.auc_class)
			CHECK_CLOSE(e.auc_class, (double *)auc_class->data, C,
				    1e-15, 1e-12);
	}
	qt_cls_free(&e);
out:
	qt_tensor_free(truth);
	qt_tensor_free(pred);
	qt_tensor_free(prob);
	qt_tensor_free(conf);
	qt_tensor_free(prec);
	qt_tensor_free(rec);
	qt_tensor_free(f1);
	qt_tensor_free(macro);
	qt_tensor_free(acc);
	qt_tensor_free(auc);
	qt_tensor_free(auc_class);
}

static void test_multiclass_fixture(void)
{
	check_group("multiclass", 3, 1, 7);
	check_group("multiclass", 3, 0, 64); /* predictions by argmax */
}

static void test_binary_fixture(void)
{
	check_group("binary", 2, 1, 1000);
	check_group("binary", 2, 0, 1);
}

static void test_regression_fixture(void)
{
	qt_tensor *y = fixture_load(FIX, "regression/y", QT_F64);
	qt_tensor *p = fixture_load(FIX, "regression/p", QT_F64);
	qt_tensor *mse = fixture_load(FIX, "regression/mse", QT_F64);
	qt_tensor *mae = fixture_load(FIX, "regression/mae", QT_F64);
	qt_tensor *r2 = fixture_load(FIX, "regression/r2", QT_F64);
	qt_tensor *r = fixture_load(FIX, "regression/pearson_r", QT_F64);
	qt_reg_eval e;
	CHECK(y && p && mse && mae && r2 && r);
	if (!(y && p && mse && mae && r2 && r))
		goto out;
	int64_t n = y->shape[0], k = y->shape[1];
	CHECK_OK(qt_reg_init(&e, (int)k));
	/* Uneven batches through the tensor path (float32 copies would lose
	 * the 1e6 offset's digits, so the f64 path and a converted path). */
	for (int64_t s = 0; s < n; s += 37) {
		int64_t b = n - s < 37 ? n - s : 37, sh[2] = {b, k};
		qt_tensor yt = qt_tensor_wrap(QT_F64, 2, sh,
					      (double *)y->data + s * k);
		qt_tensor pt = qt_tensor_wrap(QT_F64, 2, sh,
					      (double *)p->data + s * k);
		CHECK_OK(qt_reg_add_tensors(&e, &yt, &pt));
	}
	qt_reg_compute(&e);
	CHECK(e.n == n);
	CHECK_CLOSE(e.mse, (double *)mse->data, k, 1e-12, 1e-9);
	CHECK_CLOSE(e.mae, (double *)mae->data, k, 1e-12, 1e-9);
	CHECK_CLOSE(e.r2, (double *)r2->data, k, 1e-12, 1e-9);
	CHECK_CLOSE(e.pearson, (double *)r->data, k, 1e-12, 1e-9);
	qt_reg_free(&e);
out:
	qt_tensor_free(y);
	qt_tensor_free(p);
	qt_tensor_free(mse);
	qt_tensor_free(mae);
	qt_tensor_free(r2);
	qt_tensor_free(r);
}

static void test_regression_hand(void)
{
	/* y = 1 2 3 4, p = 1 2 3 5: SS_res 1, SS_tot 5, MAE 1/4. */
	const double y[4] = {1, 2, 3, 4}, p[4] = {1, 2, 3, 5};
	const double c[3] = {2, 2, 2}, cp[3] = {2, 2, 2}, cq[3] = {1, 2, 3};
	qt_reg_eval e;
	CHECK_OK(qt_reg_init(&e, 1));
	CHECK_OK(qt_reg_add(&e, y, p, 4));
	qt_reg_compute(&e);
	CHECK(e.mse[0] == 0.25 && e.mae[0] == 0.25 && e.rmse[0] == 0.5);
	CHECK(fabs(e.r2[0] - 0.8) < 1e-15);
	/* r = sum dy dp / sqrt(sum dy^2 sum dp^2) with dy = -1.5 -0.5 0.5 1.5,
	 * dp = -1.75 -0.75 0.25 2.25: 6.5 / sqrt(5 * 8.75). */
	CHECK(fabs(e.pearson[0] - 6.5 / sqrt(5 * 8.75)) < 1e-14);
	qt_reg_free(&e);
	/* Constant truth: R^2 is 1 when exact, else 0; r is undefined. */
	CHECK_OK(qt_reg_init(&e, 1));
	CHECK_OK(qt_reg_add(&e, c, cp, 3));
	qt_reg_compute(&e);
	CHECK(e.r2[0] == 1.0 && isnan(e.pearson[0]));
	qt_reg_free(&e);
	CHECK_OK(qt_reg_init(&e, 1));
	CHECK_OK(qt_reg_add(&e, c, cq, 3));
	qt_reg_compute(&e);
	CHECK(e.r2[0] == 0.0);
	qt_reg_free(&e);
}

static void test_conventions(void)
{
	/* Class 2 never predicted, class 3 never seen nor predicted. */
	const int64_t t[5] = {0, 1, 2, 0, 1}, p[5] = {0, 1, 1, 1, 1};
	qt_cls_eval e;
	CHECK_OK(qt_cls_init(&e, 4, 1, 0));
	CHECK_OK(qt_cls_add(&e, t, p, NULL, 5));
	CHECK_OK(qt_cls_compute(&e));
	CHECK(e.precision[2] == 0 && e.recall[2] == 0 && e.f1[2] == 0);
	CHECK(e.confusion_norm[3 * 4 + 3] == 0);
	/* macro over classes 0, 1, 2: precision (1 + 0.5 + 0) / 3 */
	CHECK(fabs(e.precision_macro - 0.5) < 1e-15);
	CHECK(fabs(e.recall_macro - (0.5 + 1 + 0) / 3) < 1e-15);
	CHECK(isnan(e.auc));
	qt_cls_free(&e);
}

static void test_growing_classes(void)
{
	const int64_t t[3] = {0, 3, 1}, p[3] = {0, 1, 1};
	qt_cls_eval e;
	CHECK_OK(qt_cls_init(&e, 0, 0, 0));
	CHECK_OK(qt_cls_add(&e, t, p, NULL, 3));
	CHECK_OK(qt_cls_compute(&e));
	CHECK(e.nclasses == 4);
	CHECK(e.confusion[0] == 1 && e.confusion[3 * 4 + 1] == 1 &&
	      e.confusion[1 * 4 + 1] == 1);
	qt_cls_free(&e);
}

static void test_errors(void)
{
	const int64_t bad[2] = {0, 5}, neg[1] = {-1}, ok[2] = {0, 1};
	const float nanp[2] = {NAN, 1};
	const double y[1] = {1}, p[1] = {NAN};
	qt_cls_eval e;
	qt_reg_eval r;
	CHECK_OK(qt_cls_init(&e, 2, 1, 0));
	CHECK(qt_cls_add(&e, bad, ok, NULL, 2) == QT_EFORMAT);
	CHECK(strstr(qt_error_message(QT_EFORMAT), "5 of sample 1") != NULL);
	CHECK(qt_cls_add(&e, ok, neg, NULL, 1) == QT_EFORMAT);
	qt_cls_free(&e);
	CHECK_OK(qt_cls_init(&e, 2, 1, 1));
	CHECK(qt_cls_add(&e, ok, NULL, nanp, 1) == QT_ENUMERIC);
	qt_cls_free(&e);
	CHECK(qt_cls_init(&e, 0, 0, 1) == QT_EUSAGE);
	qt_cls_free(&e);
	CHECK_OK(qt_reg_init(&r, 1));
	CHECK(qt_reg_add(&r, y, p, 1) == QT_ENUMERIC);
	qt_reg_free(&r);
}

static void test_reports(void)
{
	char path[] = "/tmp/quanta-test-metrics-XXXXXX";
	char *names[] = {"bkg", "sig"};
	float prob[16];
	qt_cls_eval e;
	qt_header *h = NULL;
	qt_batch *b = NULL;
	char **back = NULL;
	int64_t *counts = NULL;
	int C = 0, fd = mkstemp(path);
	CHECK(fd >= 0);
	close(fd);
	for (int i = 0; i < 8; i++) {
		prob[2 * i] = 1 - hand_p1[i];
		prob[2 * i + 1] = hand_p1[i];
	}
	CHECK_OK(qt_cls_init(&e, 2, 1, 1));
	CHECK_OK(qt_cls_add(&e, hand_truth, NULL, prob, 8));
	CHECK_OK(qt_cls_compute(&e));
	CHECK_OK(qt_cls_write_json(path, &e, names));
	CHECK_OK(qt_metrics_load_confusion(path, &C, &back, &counts));
	CHECK(C == 2 && back && !strcmp(back[0], "bkg") &&
	      !strcmp(back[1], "sig") && back[2] == NULL);
	CHECK(counts && !memcmp(counts, e.confusion, 4 * sizeof *counts));
	qt_free_names(back);
	free(counts);
	back = NULL;
	counts = NULL;
	CHECK_OK(qt_cls_stream(&e, names, NULL, &h, &b));
	if (h && b) {
		int f = qt_header_find(h, "confusion");
		int a = qt_header_find(h, "auc");
		CHECK_OK(qt_batch_validate(h, b));
		CHECK(b->n == 1 && f >= 0 && h->fields[f].nclasses == 2);
		CHECK(a >= 0 && ((double *)b->t[a]->data)[0] == 11.5 / 16);
		CHECK(f >= 0 && h->fields[f].dtype == QT_I64 &&
		      ((int64_t *)b->t[f]->data)[1] == 1);
	}
	/* A file that is not a metrics file. */
	FILE *fp = fopen(path, "w");
	if (fp) {
		fputs("{\"task\": \"regression\"}\n", fp);
		fclose(fp);
	}
	CHECK(qt_metrics_load_confusion(path, &C, &back, &counts) ==
	      QT_EFORMAT);
	unlink(path);
	CHECK(qt_metrics_load_confusion(path, &C, &back, &counts) == QT_EUSAGE);
	CHECK(back == NULL && counts == NULL);
	qt_header_free(h);
	qt_batch_free(b);
	qt_cls_free(&e);
}

static void test_histogram(void)
{
	qt_hist h;
	/* Fixed range [0, 1], 4 bins; 1.0 falls in the last (closed) bin. */
	const double v[6] = {0.0, 0.1, 0.3, 0.99, 1.0, 1.5};
	const double g[6] = {8.0, 7.5, 8.0, 7.5, 7.5, 8.0};
	CHECK_OK(qt_hist_init(&h, 4, 1, 0, 1));
	for (int i = 0; i < 6; i++)
		CHECK_OK(qt_hist_add(&h, v[i], g[i]));
	CHECK_OK(qt_hist_finish(&h));
	CHECK(h.ngroups == 2 && h.group[0] == 7.5 && h.group[1] == 8.0);
	CHECK(h.outside == 1 && h.count[0] == 3 && h.count[1] == 2);
	/* group 7.5: 0.1 -> bin 0, 0.99 and 1.0 -> bin 3 */
	CHECK(h.h[0] == 1 && h.h[1] == 0 && h.h[3] == 2);
	/* group 8.0: 0.0 -> bin 0, 0.3 -> bin 1 */
	CHECK(h.h[4] == 1 && h.h[5] == 1);
	CHECK(qt_hist_add(&h, NAN, 0) == QT_ENUMERIC);
	qt_hist_free(&h);
	/* Without a range: from the smallest to the largest value. */
	CHECK_OK(qt_hist_init(&h, 2, 0, 0, 0));
	for (int i = 0; i < 5; i++)
		CHECK_OK(qt_hist_add(&h, 2.0 + i, 0));
	CHECK_OK(qt_hist_finish(&h));
	CHECK(h.lo == 2 && h.hi == 6 && h.h[0] == 2 && h.h[1] == 3);
	qt_hist_free(&h);
	/* At most QT_HIST_MAX_GROUPS groups. */
	CHECK_OK(qt_hist_init(&h, 2, 1, 0, 1));
	for (int i = 0; i < QT_HIST_MAX_GROUPS; i++)
		CHECK_OK(qt_hist_add(&h, 0.5, i));
	CHECK(qt_hist_add(&h, 0.5, 99) == QT_EFORMAT);
	qt_hist_free(&h);
}

static void test_reservoir(void)
{
	/* Keep 100 of 1000 values, 50 times: each value is kept with
	 * probability 0.1, so the mean of the kept values is near 499.5. */
	double mean = 0;
	for (int rep = 0; rep < 50; rep++) {
		qt_reservoir r;
		CHECK_OK(qt_reservoir_init(&r, 100, (uint64_t)rep));
		for (int i = 0; i < 1000; i++)
			qt_reservoir_add(&r, i, -i);
		CHECK(r.n == 100 && r.seen == 1000);
		CHECK(r.min == -999 && r.max == 999);
		for (int i = 0; i < 100; i++) {
			CHECK(r.y[i] == -r.x[i]);
			mean += r.x[i] / 5000.0;
		}
		qt_reservoir_free(&r);
	}
	/* standard error of that mean: 289 / sqrt(5000) = 4.1 */
	CHECK(fabs(mean - 499.5) < 20);
}

static void test_trainlog(void)
{
	char path[] = "/tmp/quanta-test-log-XXXXXX";
	int fd = mkstemp(path), l, v;
	qt_trainlog log;
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
	CHECK(f != NULL);
	if (!f)
		return;
	fputs("{\"epoch\": 1, \"loss\": 0.9, \"phase\": \"train\"}\n\n"
	      "{\"epoch\": 2, \"loss\": 0.5, \"val_loss\": 0.7}\n", f);
	fclose(f);
	CHECK_OK(qt_trainlog_read(path, &log));
	CHECK(log.nrows == 2 && log.nkeys == 2);
	l = qt_trainlog_key(&log, "loss");
	v = qt_trainlog_key(&log, "val_loss");
	CHECK(l == 0 && v == 1 && qt_trainlog_key(&log, "phase") < 0);
	if (l == 0 && v == 1) {
		CHECK(log.epoch[1] == 2 && log.v[0] == 0.9 && log.v[2] == 0.5);
		CHECK(isnan(log.v[1]) && log.v[3] == 0.7);
	}
	qt_trainlog_free(&log);
	f = fopen(path, "a");
	if (f) {
		fputs("{\"epoch\": 3, \"loss\": \n", f);
		fclose(f);
	}
	CHECK(qt_trainlog_read(path, &log) == QT_EFORMAT);
	CHECK(strstr(qt_error_message(QT_EFORMAT), ":4:") != NULL);
	unlink(path);
	CHECK(qt_trainlog_read(path, &log) == QT_EUSAGE);
}

int main(void)
{
	RUN(test_hand_binary);
	RUN(test_auc_edge_cases);
	RUN(test_multiclass_fixture);
	RUN(test_binary_fixture);
	RUN(test_regression_fixture);
	RUN(test_regression_hand);
	RUN(test_conventions);
	RUN(test_growing_classes);
	RUN(test_errors);
	RUN(test_reports);
	RUN(test_histogram);
	RUN(test_reservoir);
	RUN(test_trainlog);
	return test_done();
}
