/* metrics.c: streaming classification and regression metrics (see
 * metrics.h for the definitions, which follow scikit-learn's).
 *
 * Classification counts a confusion matrix and keeps (label, scores) per
 * sample for AUC; regression merges per-chunk means and co-moments with
 * the pairwise update of Chan, Golub & LeVeque (1979):
 *     delta = mean_b - mean_a,  n = n_a + n_b
 *     mean  = mean_a + delta * n_b / n
 *     M2    = M2_a + M2_b + delta^2 * n_a * n_b / n
 *     C_xy  = C_a + C_b + delta_x * delta_y * n_a * n_b / n
 * where each chunk's own moments come from a two-pass sum over the chunk.
 */
#include "common/metrics.h"
#include "common/error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK 512

/* ---- classification ---- */

static void free_results(qt_cls_eval *e)
{
	free(e->confusion_norm);
	free(e->precision);
	free(e->recall);
	free(e->f1);
	free(e->support);
	free(e->predicted);
	free(e->auc_class);
	e->confusion_norm = e->precision = e->recall = e->f1 = NULL;
	e->support = e->predicted = NULL;
	e->auc_class = NULL;
}

int qt_cls_init(qt_cls_eval *e, int nclasses, int fixed, int with_scores)
{
	memset(e, 0, sizeof *e);
	e->accuracy = e->auc = NAN;
	e->precision_macro = e->recall_macro = e->f1_macro = NAN;
	if (nclasses < 0 || nclasses > QT_METRICS_MAX_CLASSES)
		return qt_error(QT_EUSAGE, "%d classes: at most %d are "
				"supported", nclasses, QT_METRICS_MAX_CLASSES);
	if (fixed && nclasses < 1)
		return qt_error(QT_EUSAGE, "a fixed class count needs at "
				"least one class");
	if (with_scores && (!fixed || nclasses < 2))
		return qt_error(QT_EUSAGE, "AUC needs probabilities of at "
				"least two classes");
	e->nclasses = nclasses;
	e->fixed = fixed;
	e->nscore = with_scores ? (nclasses == 2 ? 1 : nclasses) : 0;
	if (nclasses > 0) {
		e->confusion = calloc((size_t)nclasses * (size_t)nclasses,
				      sizeof *e->confusion);
		if (!e->confusion)
			return qt_error(QT_ENOMEM, "out of memory");
	}
	return 0;
}

void qt_cls_free(qt_cls_eval *e)
{
	free_results(e);
	free(e->confusion);
	free(e->scores);
	free(e->labels);
	free(e->scratch);
	memset(e, 0, sizeof *e);
}

/* Grow an unfixed confusion matrix to hold class `c`. */
static int grow_classes(qt_cls_eval *e, int64_t c)
{
	int64_t C = e->nclasses, C2 = c + 1;
	int64_t *m;
	if (C2 > QT_METRICS_MAX_CLASSES)
		return qt_error(QT_EFORMAT, "class %lld: more than %d classes "
				"(is this really a class label?)", (long long)c,
				QT_METRICS_MAX_CLASSES);
	m = calloc((size_t)(C2 * C2), sizeof *m);
	if (!m)
		return qt_error(QT_ENOMEM, "out of memory");
	for (int64_t i = 0; i < C; i++)
		memcpy(m + i * C2, e->confusion + i * C, (size_t)C * sizeof *m);
	free(e->confusion);
	e->confusion = m;
	e->nclasses = (int)C2;
	return 0;
}

static int check_class(qt_cls_eval *e, int64_t c, const char *what,
		       int64_t sample)
{
	if (c >= 0 && c < e->nclasses)
		return 0;
	if (c < 0 || e->fixed)
		return qt_error(QT_EFORMAT, "%s %lld of sample %lld is outside "
				"[0, %d)", what, (long long)c,
				(long long)sample, e->nclasses);
	return grow_classes(e, c);
}

static int keep_scores(qt_cls_eval *e, int64_t t, const float *row)
{
	int C = e->nclasses;
	for (int c = 0; c < C; c++)
		if (!isfinite(row[c]))
			return qt_error(QT_ENUMERIC, "probability %g of class "
					"%d of sample %lld is not finite",
					(double)row[c], c, (long long)e->n);
	if (e->nkept == e->cap) {
		int64_t cap = e->cap ? 2 * e->cap : 1024;
		float *s = realloc(e->scores, (size_t)cap *
				   (size_t)e->nscore * sizeof *s);
		if (!s)
			return qt_error(QT_ENOMEM, "out of memory keeping "
					"scores for AUC (%lld samples)",
					(long long)e->nkept);
		e->scores = s;
		int32_t *l = realloc(e->labels, (size_t)cap * sizeof *l);
		if (!l)
			return qt_error(QT_ENOMEM, "out of memory keeping "
					"scores for AUC (%lld samples)",
					(long long)e->nkept);
		e->labels = l;
		e->cap = cap;
	}
	if (e->nscore == 1)
		e->scores[e->nkept] = row[1];
	else
		memcpy(e->scores + e->nkept * e->nscore, row,
		       (size_t)C * sizeof *row);
	e->labels[e->nkept++] = (int32_t)t;
	return 0;
}

int qt_cls_add(qt_cls_eval *e, const int64_t *truth, const int64_t *pred,
	       const float *prob, int64_t n)
{
	int rc;
	if (!pred && !prob)
		return qt_error(QT_EUSAGE, "predictions need a class or "
				"probabilities");
	if (e->nscore && !prob)
		return qt_error(QT_EUSAGE, "AUC needs probabilities");
	if (prob && !e->fixed)
		return qt_error(QT_EUSAGE, "probabilities need a fixed class "
				"count");
	for (int64_t i = 0; i < n; i++) {
		int64_t t = truth[i], p;
		const float *row = prob ? prob + i * e->nclasses : NULL;
		if (pred) {
			p = pred[i];
		} else {
			p = 0;
			for (int c = 1; c < e->nclasses; c++)
				if (row[c] > row[p])
					p = c;
		}
		if ((rc = check_class(e, t, "truth label", e->n)) < 0 ||
		    (rc = check_class(e, p, "predicted class", e->n)) < 0)
			return rc;
		if (e->nscore && (rc = keep_scores(e, t, row)) < 0)
			return rc;
		e->confusion[t * e->nclasses + p]++;
		e->n++;
	}
	return 0;
}

/* Element i of an integer tensor as int64 (UINT64 above INT64_MAX maps to
 * -1, which every range check rejects). */
static int64_t get_i64(const qt_tensor *t, int64_t i)
{
	const void *d = t->data;
	switch (t->dtype) {
	case QT_I8: return ((const int8_t *)d)[i];
	case QT_I16: return ((const int16_t *)d)[i];
	case QT_I32: return ((const int32_t *)d)[i];
	case QT_I64: return ((const int64_t *)d)[i];
	case QT_U8: case QT_BOOL: return ((const uint8_t *)d)[i];
	case QT_U16: return ((const uint16_t *)d)[i];
	case QT_U32: return ((const uint32_t *)d)[i];
	case QT_U64: {
		uint64_t v = ((const uint64_t *)d)[i];
		return v > INT64_MAX ? -1 : (int64_t)v;
	}
	default: return -1;
	}
}

int qt_cls_add_tensors(qt_cls_eval *e, const qt_tensor *truth,
		       const qt_tensor *pred, const qt_tensor *prob)
{
	int64_t m = qt_tensor_numel(truth), C = e->nclasses;
	int64_t tb[CHUNK], pb[CHUNK];
	int rc;
	if (qt_dtype_is_float(truth->dtype) ||
	    (pred && qt_dtype_is_float(pred->dtype)))
		return qt_error(QT_ESHAPE, "class labels must be integers");
	if (pred && qt_tensor_numel(pred) != m)
		return qt_error(QT_ESHAPE, "%lld predicted classes for %lld "
				"truth labels", (long long)qt_tensor_numel(pred),
				(long long)m);
	if (prob) {
		if (!qt_dtype_is_float(prob->dtype))
			return qt_error(QT_ESHAPE, "probabilities must be "
					"floating point");
		if (!e->fixed || qt_tensor_numel(prob) != m * C)
			return qt_error(QT_ESHAPE, "%lld probabilities for %lld "
					"samples of %lld classes",
					(long long)qt_tensor_numel(prob),
					(long long)m, (long long)C);
		if (prob->dtype != QT_F32 && !e->scratch) {
			e->scratch = malloc((size_t)(CHUNK * C) * sizeof(float));
			if (!e->scratch)
				return qt_error(QT_ENOMEM, "out of memory");
		}
	}
	for (int64_t s = 0; s < m; s += CHUNK) {
		int64_t k = m - s < CHUNK ? m - s : CHUNK;
		const float *pr = NULL;
		for (int64_t i = 0; i < k; i++) {
			tb[i] = get_i64(truth, s + i);
			if (pred)
				pb[i] = get_i64(pred, s + i);
		}
		if (prob && prob->dtype == QT_F32) {
			pr = (const float *)prob->data + s * C;
		} else if (prob) {
			for (int64_t i = 0; i < k * C; i++)
				e->scratch[i] = (float)qt_tensor_get(prob,
								     s * C + i);
			pr = e->scratch;
		}
		if ((rc = qt_cls_add(e, tb, pred ? pb : NULL, pr, k)) < 0)
			return rc;
	}
	return 0;
}

static int cmp_scored(const void *a, const void *b)
{
	float x = ((const qt_scored *)a)->score;
	float y = ((const qt_scored *)b)->score;
	return (x > y) - (x < y);
}

double qt_roc_auc(qt_scored *pairs, int64_t n)
{
	/* 2U = sum over tie groups of 2 * pos * (negatives below) + pos * neg
	 * (a tie counts one half); exact in uint64 while n < 4e9. */
	uint64_t twice_u = 0, neg_below = 0, npos = 0, nneg = 0;
	qsort(pairs, (size_t)n, sizeof *pairs, cmp_scored);
	for (int64_t i = 0; i < n;) {
		uint64_t pos = 0, neg = 0;
		int64_t j = i;
		for (; j < n && pairs[j].score == pairs[i].score; j++) {
			if (pairs[j].positive)
				pos++;
			else
				neg++;
		}
		twice_u += 2 * pos * neg_below + pos * neg;
		neg_below += neg;
		npos += pos;
		nneg += neg;
		i = j;
	}
	if (npos == 0 || nneg == 0)
		return NAN;
	return (double)((long double)twice_u /
			(2.0L * (long double)npos * (long double)nneg));
}

static int compute_auc(qt_cls_eval *e)
{
	int C = e->nclasses;
	int64_t n = e->nkept;
	qt_scored *pairs;
	if (!e->nscore || n == 0)
		return 0;
	pairs = malloc((size_t)n * sizeof *pairs);
	if (!pairs)
		return qt_error(QT_ENOMEM, "out of memory sorting %lld scores "
				"for AUC", (long long)n);
	if (e->nscore == 1) {
		for (int64_t i = 0; i < n; i++)
			pairs[i] = (qt_scored){e->scores[i], e->labels[i] == 1};
		e->auc = qt_roc_auc(pairs, n);
	} else {
		double sum = 0;
		int defined = 0;
		if (!(e->auc_class = malloc((size_t)C * sizeof *e->auc_class))) {
			free(pairs);
			return qt_error(QT_ENOMEM, "out of memory");
		}
		for (int c = 0; c < C; c++) {
			for (int64_t i = 0; i < n; i++)
				pairs[i] = (qt_scored){e->scores[i * C + c],
						       e->labels[i] == c};
			e->auc_class[c] = qt_roc_auc(pairs, n);
			if (!isnan(e->auc_class[c])) {
				sum += e->auc_class[c];
				defined++;
			}
		}
		e->auc = defined ? sum / defined : NAN;
	}
	free(pairs);
	return 0;
}

int qt_cls_compute(qt_cls_eval *e)
{
	int C = e->nclasses, present = 0;
	int64_t correct = 0;
	double sp = 0, sr = 0, sf = 0;
	size_t c1 = (size_t)(C > 0 ? C : 1);
	free_results(e);
	e->accuracy = e->auc = NAN;
	e->precision_macro = e->recall_macro = e->f1_macro = NAN;
	e->confusion_norm = calloc(c1 * c1, sizeof *e->confusion_norm);
	e->precision = calloc(c1, sizeof(double));
	e->recall = calloc(c1, sizeof(double));
	e->f1 = calloc(c1, sizeof(double));
	e->support = calloc(c1, sizeof(int64_t));
	e->predicted = calloc(c1, sizeof(int64_t));
	if (!e->confusion_norm || !e->precision || !e->recall || !e->f1 ||
	    !e->support || !e->predicted) {
		free_results(e);
		return qt_error(QT_ENOMEM, "out of memory");
	}
	for (int t = 0; t < C; t++)
		for (int p = 0; p < C; p++) {
			int64_t v = e->confusion[t * C + p];
			e->support[t] += v;
			e->predicted[p] += v;
			if (t == p)
				correct += v;
		}
	for (int t = 0; t < C; t++)
		for (int p = 0; p < C; p++)
			e->confusion_norm[t * C + p] = e->support[t] ?
				(double)e->confusion[t * C + p] /
				(double)e->support[t] : 0.0;
	for (int c = 0; c < C; c++) {
		int64_t tp = e->confusion[c * C + c];
		int64_t fp = e->predicted[c] - tp, fn = e->support[c] - tp;
		e->precision[c] = e->predicted[c] ?
			(double)tp / (double)e->predicted[c] : 0.0;
		e->recall[c] = e->support[c] ?
			(double)tp / (double)e->support[c] : 0.0;
		e->f1[c] = tp ? 2.0 * (double)tp / (double)(2 * tp + fp + fn)
			      : 0.0;
		if (e->support[c] || e->predicted[c]) {
			present++;
			sp += e->precision[c];
			sr += e->recall[c];
			sf += e->f1[c];
		}
	}
	if (e->n > 0)
		e->accuracy = (double)correct / (double)e->n;
	if (present) {
		e->precision_macro = sp / present;
		e->recall_macro = sr / present;
		e->f1_macro = sf / present;
	}
	return compute_auc(e);
}

/* ---- regression ---- */

int qt_reg_init(qt_reg_eval *e, int k)
{
	double **arrays[] = {&e->mean_y, &e->mean_p, &e->m2_y, &e->m2_p,
			     &e->c_yp, &e->ss_res, &e->abs_res, &e->mse,
			     &e->rmse, &e->mae, &e->r2, &e->pearson};
	memset(e, 0, sizeof *e);
	if (k < 1)
		return qt_error(QT_EUSAGE, "regression needs at least one "
				"output");
	e->k = k;
	for (size_t i = 0; i < sizeof arrays / sizeof *arrays; i++)
		if (!(*arrays[i] = calloc((size_t)k, sizeof(double))))
			goto nomem;
	if (!(e->chunk = malloc((size_t)QT_REG_CHUNK * 2 * (size_t)k *
				sizeof(double))))
		goto nomem;
	qt_reg_compute(e);
	return 0;
nomem:
	qt_reg_free(e);
	return qt_error(QT_ENOMEM, "out of memory");
}

void qt_reg_free(qt_reg_eval *e)
{
	double *arrays[] = {e->mean_y, e->mean_p, e->m2_y, e->m2_p, e->c_yp,
			    e->ss_res, e->abs_res, e->mse, e->rmse, e->mae,
			    e->r2, e->pearson, e->chunk};
	for (size_t i = 0; i < sizeof arrays / sizeof *arrays; i++)
		free(arrays[i]);
	memset(e, 0, sizeof *e);
}

/* Merge samples [0, nb) of y, p (nb, k) into the running state. */
static int add_chunk(qt_reg_eval *e, const double *y, const double *p,
		     int64_t nb)
{
	int k = e->k;
	double na = (double)e->n, nbd = (double)nb, n = na + nbd;
	for (int64_t i = 0; i < nb * k; i++)
		if (!isfinite(y[i]) || !isfinite(p[i]))
			return qt_error(QT_ENUMERIC, "%s %g of sample %lld is "
					"not finite", isfinite(y[i]) ?
					"prediction" : "truth",
					isfinite(y[i]) ? p[i] : y[i],
					(long long)(e->n + i / k));
	for (int j = 0; j < k; j++) {
		double sy = 0, sp = 0, my, mp, m2y = 0, m2p = 0, cyp = 0;
		double ss = 0, ab = 0, dy, dp;
		for (int64_t i = 0; i < nb; i++) {
			sy += y[i * k + j];
			sp += p[i * k + j];
		}
		my = sy / nbd;
		mp = sp / nbd;
		for (int64_t i = 0; i < nb; i++) {
			double a = y[i * k + j] - my, b = p[i * k + j] - mp;
			double r = y[i * k + j] - p[i * k + j];
			m2y += a * a;
			m2p += b * b;
			cyp += a * b;
			ss += r * r;
			ab += fabs(r);
		}
		dy = my - e->mean_y[j];
		dp = mp - e->mean_p[j];
		e->mean_y[j] += dy * nbd / n;
		e->mean_p[j] += dp * nbd / n;
		e->m2_y[j] += m2y + dy * dy * na * nbd / n;
		e->m2_p[j] += m2p + dp * dp * na * nbd / n;
		e->c_yp[j] += cyp + dy * dp * na * nbd / n;
		e->ss_res[j] += ss;
		e->abs_res[j] += ab;
	}
	e->n += nb;
	return 0;
}

int qt_reg_add(qt_reg_eval *e, const double *y, const double *p, int64_t n)
{
	int rc;
	for (int64_t s = 0; s < n; s += QT_REG_CHUNK) {
		int64_t nb = n - s < QT_REG_CHUNK ? n - s : QT_REG_CHUNK;
		if ((rc = add_chunk(e, y + s * e->k, p + s * e->k, nb)) < 0)
			return rc;
	}
	return 0;
}

int qt_reg_add_tensors(qt_reg_eval *e, const qt_tensor *y,
		       const qt_tensor *p)
{
	int64_t m = qt_tensor_numel(y), k = e->k, n;
	double *cy = e->chunk, *cp = e->chunk + QT_REG_CHUNK * k;
	int rc;
	if (qt_tensor_numel(p) != m || m % k)
		return qt_error(QT_ESHAPE, "%lld predictions for %lld truth "
				"values of %lld outputs per sample",
				(long long)qt_tensor_numel(p), (long long)m,
				(long long)k);
	n = m / k;
	if (y->dtype == QT_F64 && p->dtype == QT_F64)
		return qt_reg_add(e, y->data, p->data, n);
	for (int64_t s = 0; s < n; s += QT_REG_CHUNK) {
		int64_t nb = n - s < QT_REG_CHUNK ? n - s : QT_REG_CHUNK;
		for (int64_t i = 0; i < nb * k; i++) {
			cy[i] = qt_tensor_get(y, s * k + i);
			cp[i] = qt_tensor_get(p, s * k + i);
		}
		if ((rc = add_chunk(e, cy, cp, nb)) < 0)
			return rc;
	}
	return 0;
}

void qt_reg_compute(qt_reg_eval *e)
{
	for (int j = 0; j < e->k; j++) {
		double n = (double)e->n;
		if (e->n == 0) {
			e->mse[j] = e->rmse[j] = e->mae[j] = NAN;
			e->r2[j] = e->pearson[j] = NAN;
			continue;
		}
		e->mse[j] = e->ss_res[j] / n;
		e->rmse[j] = sqrt(e->mse[j]);
		e->mae[j] = e->abs_res[j] / n;
		if (e->m2_y[j] > 0)
			e->r2[j] = 1.0 - e->ss_res[j] / e->m2_y[j];
		else
			e->r2[j] = e->ss_res[j] == 0 ? 1.0 : 0.0;
		if (e->m2_y[j] > 0 && e->m2_p[j] > 0)
			e->pearson[j] = e->c_yp[j] /
					sqrt(e->m2_y[j] * e->m2_p[j]);
		else
			e->pearson[j] = NAN;
	}
}
