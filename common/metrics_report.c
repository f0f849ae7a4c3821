/* metrics_report.c: the metrics of metrics.c as a text table, a JSON
 * object (jansson) and a one-batch quanta stream.  JSON keys and stream
 * field names are the same; docs/stages/evaluate.md lists them.
 * Non-finite values (an AUC without negatives) are null in JSON and NaN
 * in the stream. */
#include "common/metrics.h"
#include "common/error.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- text ---- */

/* Display width of a UTF-8 string (code points; no wide characters). */
static int text_width(const char *s)
{
	int w = 0;
	for (; *s; s++)
		w += ((unsigned char)*s & 0xC0) != 0x80;
	return w;
}

static void pad(FILE *f, const char *s, int width, int right)
{
	int n = width - text_width(s);
	if (right)
		for (; n > 0; n--)
			fputc(' ', f);
	fputs(s, f);
	if (!right)
		for (; n > 0; n--)
			fputc(' ', f);
}

static const char *class_name(char *const *names, int c, char *buf,
			      size_t len)
{
	if (names)
		return names[c];
	snprintf(buf, len, "%d", c);
	return buf;
}

static void fmt_num(char *buf, size_t len, const char *fmt, double v)
{
	if (isnan(v))
		snprintf(buf, len, "n/a");
	else
		snprintf(buf, len, fmt, v);
}

/* A C x C matrix with class names as row and column labels. */
static void print_matrix(FILE *f, const qt_cls_eval *e, char *const *names,
			 int normalised)
{
	int C = e->nclasses, w0 = text_width("truth\\pred"), w = 5;
	char buf[64], nb[32];
	for (int c = 0; c < C; c++) {
		int l = text_width(class_name(names, c, nb, sizeof nb));
		w0 = l > w0 ? l : w0;
		w = l > w ? l : w;
		if (!normalised) {
			snprintf(buf, sizeof buf, "%lld",
				 (long long)e->support[c]);
			w = (int)strlen(buf) > w ? (int)strlen(buf) : w;
		}
	}
	pad(f, "truth\\pred", w0, 0);
	for (int c = 0; c < C; c++) {
		fputs("  ", f);
		pad(f, class_name(names, c, nb, sizeof nb), w, 1);
	}
	fputc('\n', f);
	for (int t = 0; t < C; t++) {
		pad(f, class_name(names, t, nb, sizeof nb), w0, 0);
		for (int p = 0; p < C; p++) {
			if (normalised)
				snprintf(buf, sizeof buf, "%.3f",
					 e->confusion_norm[t * C + p]);
			else
				snprintf(buf, sizeof buf, "%lld", (long long)
					 e->confusion[t * C + p]);
			fputs("  ", f);
			pad(f, buf, w, 1);
		}
		fputc('\n', f);
	}
}

int qt_cls_print(FILE *f, const qt_cls_eval *e, char *const *names,
		 const char *source)
{
	int C = e->nclasses, w0 = 5, multi = e->auc_class != NULL;
	char nb[32], a[32];
	fprintf(f, "classification: %lld samples, %d classes%s%s%s\n\n",
		(long long)e->n, C, source ? " (" : "", source ? source : "",
		source ? ")" : "");
	fmt_num(a, sizeof a, "%.4f", e->accuracy);
	fprintf(f, "accuracy   %s\n", a);
	if (e->nscore) {
		fmt_num(a, sizeof a, "%.4f", e->auc);
		if (multi)
			fprintf(f, "AUC        %s  (one-vs-rest, mean over "
				"classes)\n", a);
		else
			fprintf(f, "AUC        %s  (class '%s' positive)\n", a,
				class_name(names, 1, nb, sizeof nb));
	}
	fputs("\nconfusion matrix (rows: truth, columns: predicted)\n", f);
	print_matrix(f, e, names, 0);
	fputs("\nrow-normalised (recall on the diagonal)\n", f);
	print_matrix(f, e, names, 1);
	for (int c = 0; c < C; c++) {
		int l = text_width(class_name(names, c, nb, sizeof nb));
		w0 = l > w0 ? l : w0;
	}
	fputc('\n', f);
	pad(f, "class", w0, 0);
	fprintf(f, "  precision     recall         f1    support%s\n",
		multi ? "        AUC" : "");
	for (int c = 0; c <= C; c++) {
		int macro = c == C;
		double p = macro ? e->precision_macro : e->precision[c];
		double r = macro ? e->recall_macro : e->recall[c];
		double f1 = macro ? e->f1_macro : e->f1[c];
		int64_t s = macro ? e->n : e->support[c];
		pad(f, macro ? "macro" : class_name(names, c, nb, sizeof nb),
		    w0, 0);
		fmt_num(a, sizeof a, "%.4f", p);
		fprintf(f, "  %9s", a);
		fmt_num(a, sizeof a, "%.4f", r);
		fprintf(f, "  %9s", a);
		fmt_num(a, sizeof a, "%.4f", f1);
		fprintf(f, "  %9s  %9lld", a, (long long)s);
		if (multi) {
			fmt_num(a, sizeof a, "%.4f",
				macro ? e->auc : e->auc_class[c]);
			fprintf(f, "  %9s", a);
		}
		fputc('\n', f);
	}
	return ferror(f) ? qt_error(QT_EIO, "cannot write the table: %s",
				    strerror(errno)) : 0;
}

int qt_reg_print(FILE *f, const qt_reg_eval *e, const char *source)
{
	const char *names[] = {"MSE", "RMSE", "MAE", "R^2", "Pearson r"};
	const double *v[] = {e->mse, e->rmse, e->mae, e->r2, e->pearson};
	char a[32];
	fprintf(f, "regression: %lld samples, %d output%s%s%s%s\n\n",
		(long long)e->n, e->k, e->k == 1 ? "" : "s",
		source ? " (" : "", source ? source : "", source ? ")" : "");
	if (e->k == 1) {
		for (int m = 0; m < 5; m++) {
			fmt_num(a, sizeof a, "%.6g", v[m][0]);
			fprintf(f, "%-10s %s\n", names[m], a);
		}
	} else {
		fprintf(f, "output");
		for (int m = 0; m < 5; m++)
			fprintf(f, "  %12s", names[m]);
		fputc('\n', f);
		for (int j = 0; j < e->k; j++) {
			fprintf(f, "%-6d", j);
			for (int m = 0; m < 5; m++) {
				fmt_num(a, sizeof a, "%.6g", v[m][j]);
				fprintf(f, "  %12s", a);
			}
			fputc('\n', f);
		}
	}
	return ferror(f) ? qt_error(QT_EIO, "cannot write the table: %s",
				    strerror(errno)) : 0;
}

/* ---- JSON ---- */

static json_t *jnum(double v)
{
	return isfinite(v) ? json_real(v) : json_null();
}

static json_t *jarray_d(const double *v, int n)
{
	json_t *a = json_array();
	for (int i = 0; a && i < n; i++)
		json_array_append_new(a, jnum(v[i]));
	return a;
}

static json_t *jarray_i(const int64_t *v, int n)
{
	json_t *a = json_array();
	for (int i = 0; a && i < n; i++)
		json_array_append_new(a, json_integer((json_int_t)v[i]));
	return a;
}

/* Output (k) arrays as a number when k == 1. */
static json_t *joutput(const double *v, int k)
{
	return k == 1 ? jnum(v[0]) : jarray_d(v, k);
}

/* Print `root` with one top-level key per line and each value (a matrix
 * included) on that line: readable, and still one JSON object. */
static int dump_json(json_t *root, FILE *f)
{
	const char *key;
	json_t *v;
	size_t i = 0, n = json_object_size(root);
	fputs("{\n", f);
	json_object_foreach(root, key, v) {
		char *val = json_dumps(v, JSON_ENCODE_ANY |
				       JSON_REAL_PRECISION(15));
		json_t *ks = json_string(key);
		char *kstr = ks ? json_dumps(ks, JSON_ENCODE_ANY) : NULL;
		json_decref(ks);
		if (!val || !kstr) {
			free(val);
			free(kstr);
			return -1;
		}
		fprintf(f, "  %s: %s%s\n", kstr, val, ++i < n ? "," : "");
		free(val);
		free(kstr);
	}
	fputs("}\n", f);
	return ferror(f) ? -1 : 0;
}

/* Write `root` (stolen) to path ("-": stdout), atomically for files. */
static int write_json(const char *path, json_t *root)
{
	char *tmp = NULL;
	int fd, rc = 0;
	mode_t mask;
	FILE *f;
	if (!root)
		return qt_error(QT_ENOMEM, "out of memory");
	if (!strcmp(path, "-")) {
		if (dump_json(root, stdout) < 0)
			rc = qt_error(QT_EIO, "cannot write JSON to standard "
				      "output");
		json_decref(root);
		return rc;
	}
	if (asprintf(&tmp, "%s.tmp.XXXXXX", path) < 0) {
		json_decref(root);
		return qt_error(QT_ENOMEM, "out of memory");
	}
	if ((fd = mkstemp(tmp)) < 0) {
		rc = qt_error(QT_EIO, "cannot create %s: %s", path,
			      strerror(errno));
		goto out;
	}
	/* mkstemp makes 0600; the result is as readable as any new file. */
	mask = umask(0);
	umask(mask);
	fchmod(fd, 0666 & ~mask);
	if (!(f = fdopen(fd, "w"))) {
		close(fd);
		unlink(tmp);
		rc = qt_error(QT_EIO, "cannot write %s: %s", path,
			      strerror(errno));
		goto out;
	}
	if (dump_json(root, f) < 0 || fflush(f) != 0) {
		rc = qt_error(QT_EIO, "cannot write %s: %s", path,
			      strerror(errno));
		fclose(f);
		unlink(tmp);
		goto out;
	}
	if (fclose(f) != 0 || rename(tmp, path) != 0) {
		rc = qt_error(QT_EIO, "cannot write %s: %s", path,
			      strerror(errno));
		unlink(tmp);
	}
out:
	free(tmp);
	json_decref(root);
	return rc;
}

int qt_cls_write_json(const char *path, const qt_cls_eval *e,
		      char *const *names)
{
	int C = e->nclasses;
	char nb[32];
	json_t *o = json_object(), *cl = json_array(), *cm = json_array(),
	       *cn = json_array();
	if (!o || !cl || !cm || !cn) {
		json_decref(o);
		json_decref(cl);
		json_decref(cm);
		json_decref(cn);
		return qt_error(QT_ENOMEM, "out of memory");
	}
	for (int c = 0; c < C; c++) {
		json_array_append_new(cl, json_string(class_name(names, c, nb,
								 sizeof nb)));
		json_array_append_new(cm, jarray_i(e->confusion + c * C, C));
		json_array_append_new(cn, jarray_d(e->confusion_norm + c * C,
						   C));
	}
	json_object_set_new(o, "task", json_string("classification"));
	json_object_set_new(o, "samples", json_integer((json_int_t)e->n));
	json_object_set_new(o, "classes", cl);
	json_object_set_new(o, "accuracy", jnum(e->accuracy));
	json_object_set_new(o, "confusion", cm);
	json_object_set_new(o, "confusion_normalised", cn);
	json_object_set_new(o, "precision", jarray_d(e->precision, C));
	json_object_set_new(o, "recall", jarray_d(e->recall, C));
	json_object_set_new(o, "f1", jarray_d(e->f1, C));
	json_object_set_new(o, "support", jarray_i(e->support, C));
	json_object_set_new(o, "precision_macro", jnum(e->precision_macro));
	json_object_set_new(o, "recall_macro", jnum(e->recall_macro));
	json_object_set_new(o, "f1_macro", jnum(e->f1_macro));
	if (e->nscore)
		json_object_set_new(o, "auc", jnum(e->auc));
	if (e->auc_class)
		json_object_set_new(o, "auc_per_class",
				    jarray_d(e->auc_class, C));
	return write_json(path, o);
}

int qt_reg_write_json(const char *path, const qt_reg_eval *e)
{
	json_t *o = json_object();
	if (!o)
		return qt_error(QT_ENOMEM, "out of memory");
	json_object_set_new(o, "task", json_string("regression"));
	json_object_set_new(o, "samples", json_integer((json_int_t)e->n));
	json_object_set_new(o, "outputs", json_integer(e->k));
	json_object_set_new(o, "mse", joutput(e->mse, e->k));
	json_object_set_new(o, "rmse", joutput(e->rmse, e->k));
	json_object_set_new(o, "mae", joutput(e->mae, e->k));
	json_object_set_new(o, "r2", joutput(e->r2, e->k));
	json_object_set_new(o, "pearson_r", joutput(e->pearson, e->k));
	return write_json(path, o);
}

/* ---- stream ---- */

/* A header with base's provenance and no fields. */
static qt_header *empty_header(const qt_header *base)
{
	qt_header *h = base ? qt_header_clone(base) : qt_header_new();
	if (!h)
		return NULL;
	while (h->nfields > 0)
		qt_header_remove_field(h, h->nfields - 1);
	return h;
}

/* Add field `name` of shape (shape) and its one-sample tensor with the
 * given values (doubles or int64 as dtype says). */
static int add_metric(qt_header *h, qt_batch *b, const char *name,
		      qt_dtype dt, int ndim, const int64_t *shape,
		      const void *values)
{
	int64_t full[3] = {1, 0, 0};
	int i;
	qt_tensor *t;
	if ((i = qt_header_add_field(h, name, dt, ndim, shape)) < 0)
		return i;
	for (int d = 0; d < ndim; d++)
		full[d + 1] = shape[d];
	if (!(t = qt_tensor_new(dt, ndim + 1, full)))
		return QT_ENOMEM;
	memcpy(t->data, values, qt_tensor_nbytes(t));
	b->t[i] = t;
	b->nfields = h->nfields;
	return 0;
}

static int add_scalar(qt_header *h, qt_batch *b, const char *name, double v)
{
	return add_metric(h, b, name, QT_F64, 0, NULL, &v);
}

static int finish_stream(int rc, qt_header *h, qt_batch *b, qt_header **ho,
			 qt_batch **bo)
{
	if (rc < 0) {
		qt_header_free(h);
		qt_batch_free(b);
		return rc;
	}
	*ho = h;
	*bo = b;
	return 0;
}

int qt_cls_stream(const qt_cls_eval *e, char *const *names,
		  const qt_header *base, qt_header **ho, qt_batch **bo)
{
	int64_t C = e->nclasses, cc[2] = {C, C};
	qt_header *h = empty_header(base);
	qt_batch *b = qt_batch_new(0);
	char nb[32];
	int rc = 0, f;
	if (!h || !b)
		return finish_stream(qt_error(QT_ENOMEM, "out of memory"), h,
				     b, ho, bo);
	b->n = 1;
	if ((rc = add_metric(h, b, "samples", QT_I64, 0, NULL, &e->n)) < 0 ||
	    (rc = add_scalar(h, b, "accuracy", e->accuracy)) < 0 ||
	    (rc = add_metric(h, b, "confusion", QT_I64, 2, cc,
			     e->confusion)) < 0 ||
	    (rc = add_metric(h, b, "confusion_normalised", QT_F64, 2, cc,
			     e->confusion_norm)) < 0 ||
	    (rc = add_metric(h, b, "precision", QT_F64, 1, &C,
			     e->precision)) < 0 ||
	    (rc = add_metric(h, b, "recall", QT_F64, 1, &C, e->recall)) < 0 ||
	    (rc = add_metric(h, b, "f1", QT_F64, 1, &C, e->f1)) < 0 ||
	    (rc = add_metric(h, b, "support", QT_I64, 1, &C,
			     e->support)) < 0 ||
	    (rc = add_scalar(h, b, "precision_macro", e->precision_macro)) < 0 ||
	    (rc = add_scalar(h, b, "recall_macro", e->recall_macro)) < 0 ||
	    (rc = add_scalar(h, b, "f1_macro", e->f1_macro)) < 0)
		return finish_stream(rc, h, b, ho, bo);
	if (e->nscore && (rc = add_scalar(h, b, "auc", e->auc)) < 0)
		return finish_stream(rc, h, b, ho, bo);
	if (e->auc_class && (rc = add_metric(h, b, "auc_per_class", QT_F64, 1,
					     &C, e->auc_class)) < 0)
		return finish_stream(rc, h, b, ho, bo);
	/* The class names travel with the confusion matrix. */
	f = qt_header_find(h, "confusion");
	if (names)
		rc = qt_header_set_classes(h, f, (int)C,
					   (const char *const *)names);
	else {
		char **gen = calloc((size_t)C, sizeof *gen);
		for (int c = 0; gen && c < C; c++)
			gen[c] = strdup(class_name(NULL, c, nb, sizeof nb));
		rc = gen ? qt_header_set_classes(h, f, (int)C,
						 (const char *const *)gen)
			 : qt_error(QT_ENOMEM, "out of memory");
		for (int c = 0; gen && c < C; c++)
			free(gen[c]);
		free(gen);
	}
	return finish_stream(rc, h, b, ho, bo);
}

int qt_reg_stream(const qt_reg_eval *e, const qt_header *base,
		  qt_header **ho, qt_batch **bo)
{
	const char *names[] = {"mse", "rmse", "mae", "r2", "pearson_r"};
	const double *v[] = {e->mse, e->rmse, e->mae, e->r2, e->pearson};
	int64_t k = e->k;
	qt_header *h = empty_header(base);
	qt_batch *b = qt_batch_new(0);
	int rc;
	if (!h || !b)
		return finish_stream(qt_error(QT_ENOMEM, "out of memory"), h,
				     b, ho, bo);
	b->n = 1;
	if ((rc = add_metric(h, b, "samples", QT_I64, 0, NULL, &e->n)) < 0)
		return finish_stream(rc, h, b, ho, bo);
	for (int m = 0; m < 5; m++)
		if ((rc = add_metric(h, b, names[m], QT_F64, k == 1 ? 0 : 1,
				     &k, v[m])) < 0)
			break;
	return finish_stream(rc, h, b, ho, bo);
}

/* ---- reading back ---- */

void qt_free_names(char **names)
{
	if (!names)
		return;
	for (char **p = names; *p; p++)
		free(*p);
	free(names);
}

int qt_metrics_load_confusion(const char *path, int *nclasses,
			      char ***names_out, int64_t **counts_out)
{
	json_error_t err;
	json_t *root, *classes, *conf;
	char **names = NULL;
	int64_t *counts = NULL;
	size_t C = 0;
	int rc = 0;
	if (access(path, R_OK) != 0)
		return qt_error(QT_EUSAGE, "cannot open '%s': %s", path,
				strerror(errno));
	if (!(root = json_load_file(path, 0, &err)))
		return qt_error(QT_EFORMAT, "%s:%d:%d: %s", path, err.line,
				err.column, err.text);
	classes = json_object_get(root, "classes");
	conf = json_object_get(root, "confusion");
	if (!json_is_array(classes) || !json_is_array(conf)) {
		rc = qt_error(QT_EFORMAT, "%s has no \"classes\" and "
			      "\"confusion\" (write it with 'quanta evaluate "
			      "--json' on a classification)", path);
		goto out;
	}
	C = json_array_size(classes);
	if (C < 1 || C > QT_METRICS_MAX_CLASSES ||
	    json_array_size(conf) != C) {
		rc = qt_error(QT_EFORMAT, "%s: \"confusion\" is not a %zu x %zu "
			      "matrix", path, C, C);
		goto out;
	}
	names = calloc(C + 1, sizeof *names);
	counts = malloc(C * C * sizeof *counts);
	if (!names || !counts) {
		rc = qt_error(QT_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < C; i++) {
		json_t *s = json_array_get(classes, i);
		json_t *row = json_array_get(conf, i);
		if (!json_is_string(s) || !(names[i] = strdup(json_string_value(s)))) {
			rc = qt_error(QT_EFORMAT, "%s: class %zu is not a "
				      "string", path, i);
			goto out;
		}
		if (!json_is_array(row) || json_array_size(row) != C) {
			rc = qt_error(QT_EFORMAT, "%s: row %zu of \"confusion\" "
				      "does not have %zu counts", path, i, C);
			goto out;
		}
		for (size_t j = 0; j < C; j++) {
			json_t *v = json_array_get(row, j);
			if (!json_is_integer(v) || json_integer_value(v) < 0) {
				rc = qt_error(QT_EFORMAT, "%s: confusion[%zu]"
					      "[%zu] is not a count", path, i, j);
				goto out;
			}
			counts[i * C + j] = json_integer_value(v);
		}
	}
out:
	json_decref(root);
	if (rc < 0) {
		qt_free_names(names);
		free(counts);
		return rc;
	}
	*nclasses = (int)C;
	*names_out = names;
	*counts_out = counts;
	return 0;
}
