/* metrics.h: evaluation metrics of classifiers and regressors, computed
 * in one streaming pass (quanta evaluate, quanta plot-data scatter).
 *
 * Classification (qt_cls_eval): truth and predicted class indices in
 * [0, C), optionally class probabilities (C per sample).  Accumulates the
 * confusion matrix C x C (rows: truth, columns: predicted) and, when
 * probabilities are given, keeps the scores that ROC AUC needs.  Computes
 * what scikit-learn computes with
 *     accuracy_score, confusion_matrix (normalize=None and "true"),
 *     precision_recall_fscore_support (average=None and "macro"),
 *     roc_auc_score (binary: prob[:, 1]; multiclass: multi_class="ovr",
 *                    average="macro")
 * with these conventions (sklearn's defaults):
 *   - a precision, recall or F1 whose denominator is 0 is 0
 *     (zero_division=0);
 *   - macro averages run over the classes present in truth or prediction
 *     (sklearn's default `labels`), so a class nobody saw or predicted does
 *     not pull the average to 0;
 *   - a row of the normalised confusion matrix with no sample is all 0.
 *   - AUC is the exact Mann-Whitney statistic with ties counted one half
 *     (equivalently, positives' midranks); a class with no positive or no
 *     negative sample has no AUC (NaN), and the multiclass mean leaves it
 *     out (sklearn raises an error there instead).
 *
 * Memory: the confusion matrix (8 C^2 bytes) and, for AUC only, 4 bytes
 * for the label plus 4 bytes per score column of every sample (one column
 * for two classes, C otherwise), and at the end a sort buffer of 8 bytes
 * per sample.  AUC cannot be computed exactly from fewer: pass
 * with_scores = 0 to give it up on streams too large to keep.
 *
 * Regression (qt_reg_eval): truth and prediction of k outputs per sample.
 * MSE, RMSE, MAE, R^2 = 1 - SS_res / SS_tot and Pearson r for each output,
 * from running means and co-moments merged per chunk with Chan, Golub and
 * LeVeque's pairwise update (stable for long streams and large offsets).
 * R^2 follows sklearn's r2_score (force_finite): with SS_tot = 0 it is 1
 * for a perfect prediction and 0 otherwise.  Pearson r is NaN when either
 * variance is 0.  Constant memory: 7 doubles per output plus a chunk.
 *
 * Errors: functions return 0 or a negative QT_E* code with a message
 * (labels out of range: QT_EFORMAT; NaN or Inf: QT_ENUMERIC; shapes that
 * do not fit: QT_ESHAPE; allocation: QT_ENOMEM).
 */
#ifndef QT_METRICS_H
#define QT_METRICS_H

#include "common/stream.h"
#include "common/tensor.h"

#include <stdint.h>
#include <stdio.h>

/* Most classes a confusion matrix grows to when the class count is not
 * fixed in advance (8 MiB of counts). */
#define QT_METRICS_MAX_CLASSES 1024

typedef struct qt_cls_eval {
	int nclasses;          /* C (may grow while !fixed) */
	int fixed;             /* 1: labels >= C are errors */
	int64_t n;             /* samples counted */
	int64_t *confusion;    /* (C, C): [truth][pred] counts */

	/* Scores kept for AUC: nscore = 1 (binary, prob[:, 1]), C, or 0. */
	int nscore;
	int64_t nkept, cap;
	float *scores;         /* (nkept, nscore) */
	int32_t *labels;       /* (nkept) */
	float *scratch;        /* prob converted to float32, (chunk, C) */
	int64_t scratch_len;

	/* Results, filled by qt_cls_compute (arrays (C) or (C, C)). */
	double accuracy;
	double *confusion_norm;                /* (C, C) rows sum to 1 or 0 */
	double *precision, *recall, *f1;       /* (C) */
	int64_t *support;                      /* (C) samples per true class */
	int64_t *predicted;                    /* (C) samples per predicted class */
	double precision_macro, recall_macro, f1_macro;
	double *auc_class;   /* (C) one-vs-rest AUC (multiclass), else NULL */
	double auc;          /* binary AUC, multiclass macro OvR AUC, or NaN */
} qt_cls_eval;

/* Start a classification evaluation.  nclasses: C when known (class
 * names, probability width), else 0 to grow with the largest label seen
 * (up to QT_METRICS_MAX_CLASSES); fixed: 1 when labels must be < C.
 * with_scores: keep probability scores for AUC (needs C >= 2 and fixed).
 * Returns 0 or QT_EUSAGE/QT_ENOMEM. */
int qt_cls_init(qt_cls_eval *e, int nclasses, int fixed, int with_scores);

/* Count n samples.  truth (n), pred (n) class indices; pred may be NULL
 * when prob is given (argmax of each row, the first on ties); prob (n, C)
 * or NULL (required when the evaluation keeps scores).  On error nothing
 * of the call's samples after the bad one is counted. */
int qt_cls_add(qt_cls_eval *e, const int64_t *truth, const int64_t *pred,
	       const float *prob, int64_t n);

/* The same from tensors of any integer dtype (truth, pred) and any float
 * dtype (prob), whatever their shapes: truth and pred hold the same number
 * of elements m, prob m * C.  pred or prob may be NULL as above. */
int qt_cls_add_tensors(qt_cls_eval *e, const qt_tensor *truth,
		       const qt_tensor *pred, const qt_tensor *prob);

/* Compute all results from the counts and scores.  May be called again
 * after more samples.  Returns 0 or QT_ENOMEM. */
int qt_cls_compute(qt_cls_eval *e);

void qt_cls_free(qt_cls_eval *e);

/* Exact ROC AUC of n scores with 0/1 labels (ties count one half).
 * NaN when either class is empty.  Sorts `pairs` in place. */
typedef struct qt_scored {
	float score;
	int32_t positive;
} qt_scored;
double qt_roc_auc(qt_scored *pairs, int64_t n);

typedef struct qt_reg_eval {
	int k;                 /* outputs per sample */
	int64_t n;             /* samples counted */
	/* running state, (k) each */
	double *mean_y, *mean_p, *m2_y, *m2_p, *c_yp, *ss_res, *abs_res;
	double *chunk;         /* (QT_REG_CHUNK, 2k) conversion buffer */
	/* results (k) each, filled by qt_reg_compute */
	double *mse, *rmse, *mae, *r2, *pearson;
} qt_reg_eval;

#define QT_REG_CHUNK 256

int qt_reg_init(qt_reg_eval *e, int k);
/* y (n, k) truth, p (n, k) prediction. */
int qt_reg_add(qt_reg_eval *e, const double *y, const double *p, int64_t n);
/* Tensors of any numeric dtype holding n * k elements each. */
int qt_reg_add_tensors(qt_reg_eval *e, const qt_tensor *y,
		       const qt_tensor *p);
/* Fill the results; NaN for every metric when no sample was seen. */
void qt_reg_compute(qt_reg_eval *e);
void qt_reg_free(qt_reg_eval *e);

/* ---- reports (metrics_report.c) ----
 *
 * The same metrics in three forms: a text table, a JSON object and a
 * one-batch stream.  Keys of the JSON object equal field names of the
 * stream (docs/stages/evaluate.md lists them).  `names` are the C class
 * names (or NULL for "0", "1", ...). */

/* Readable table; `source` (may be NULL) names the fields in a first
 * line.  Returns 0 or QT_EIO when writing fails. */
int qt_cls_print(FILE *f, const qt_cls_eval *e, char *const *names,
		 const char *source);
int qt_reg_print(FILE *f, const qt_reg_eval *e, const char *source);

/* Write metrics as JSON to `path` ("-" is stdout); a file is written
 * under a temporary name and renamed.  Returns 0 or QT_EIO/QT_ENOMEM. */
int qt_cls_write_json(const char *path, const qt_cls_eval *e,
		      char *const *names);
int qt_reg_write_json(const char *path, const qt_reg_eval *e);

/* Header and the single batch of the metrics stream.  `base` (may be
 * NULL) gives the provenance to carry over.  Caller frees both. */
int qt_cls_stream(const qt_cls_eval *e, char *const *names,
		  const qt_header *base, qt_header **h, qt_batch **b);
int qt_reg_stream(const qt_reg_eval *e, const qt_header *base,
		  qt_header **h, qt_batch **b);

/* Read back the confusion matrix of a metrics JSON file written by
 * qt_cls_write_json: *nclasses, *names (NULL-terminated, caller frees
 * with qt_free_names), *counts (C*C, caller frees).  Errors name the
 * file: QT_EUSAGE when it cannot be opened (exit status 2, like a missing
 * input stream), QT_EFORMAT when it is not such a file. */
int qt_metrics_load_confusion(const char *path, int *nclasses,
			      char ***names, int64_t **counts);
void qt_free_names(char **names);

#endif
