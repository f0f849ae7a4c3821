/* plot-data.c: quanta plot-data KIND: pictures of streams, training logs
 * and metrics as PNG, SVG or PDF.
 *
 * Each kind gathers its data here (with common/plotdata.c, in bounded
 * memory), then draws it with common/plotkinds.c, so a failure while
 * reading leaves no file; the picture is written under a temporary name
 * and renamed.  A new kind is a gathering function here, a drawing
 * function in common/plotkinds.c and a line in `kinds`.
 * Manual: docs/stages/plot-data.md.
 */
#include "common/cli.h"
#include "common/error.h"
#include "common/fieldref.h"
#include "common/metrics.h"
#include "common/plot.h"
#include "common/plotdata.h"
#include "common/plotkinds.h"
#include "common/stream.h"

#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
	"Usage: quanta plot-data KIND [OPTIONS] -o OUT.png|OUT.svg|OUT.pdf\n"
	"Draw a picture of a stream, a training log or evaluation metrics.\n"
	"\n"
	"Kinds:\n"
	"  curves       loss and metrics per epoch from a 'quanta train --log' file\n"
	"               --log FILE (required), --keys K1,K2,..., --logy\n"
	"  confusion    confusion matrix from 'quanta evaluate --json' output\n"
	"               --metrics FILE (required), --normalise\n"
	"  images       a grid of the first samples' images, titled label -> pred\n"
	"               --field F (images), --label F, --pred F, --n N (16),\n"
	"               --channel K (0), --log, --units TEXT (colour bar unit)\n"
	"  class-means  the mean image of each class side by side\n"
	"               --field F (images), --label F (labels), --channel K, --log,\n"
	"               --units TEXT\n"
	"  hist         histogram of a scalar field, one per value of --by\n"
	"               --field F (required), --by G, --bins N (30), --range A,B,\n"
	"               --density, --log\n"
	"  scatter      prediction against truth with the y = x line and R^2\n"
	"               --x F (required), --y F (pred), --max-points N (20000),\n"
	"               --seed S (1)\n"
	"\n"
	"Options for every kind:\n"
	"  -o, --output OUT    picture to write; .png, .svg or .pdf (required)\n"
	"  -i, --input IN      stream to read (default '-', stdin)\n"
	"      --size WxH      picture size in pixels (PNG) or points (SVG, PDF)\n"
	"      --title TEXT    figure title\n"
	"  -h, --help          this help\n"
	"  -V, --version       version\n"
	"\n"
	"Examples:\n"
	"  quanta plot-data curves --log train.jsonl -o loss.png\n"
	"  quanta evaluate --json m.json < pred.qs && quanta plot-data confusion --metrics m.json -o cm.svg\n"
	"  quanta simulate jets -n 64 | quanta plot-data images --n 16 --log -o jets.png\n"
	"  quanta simulate eor -n 16 --size 64 | quanta plot-data images --field maps --units mK -o eor.png\n"
	"  quanta plot-data hist -i eor.qs --field xHI --by redshift -o xhi.png\n";

enum {
	O_INPUT = 'i', O_OUTPUT = 'o', O_HELP = 'h', O_VERSION = 'V',
	O_SIZE = 256, O_TITLE, O_LOG, O_LOGY, O_KEYS, O_METRICS, O_NORMALISE,
	O_FIELD, O_LABEL, O_PRED, O_N, O_CHANNEL, O_BY, O_BINS, O_RANGE,
	O_DENSITY, O_X, O_Y, O_MAX_POINTS, O_SEED, O_UNITS, O_LAST
};

struct opts {
	const char *input, *logfile, *keys, *metrics;
	const char *field, *label, *pred, *by, *x, *y, *units;
	qt_figspec fig;
	int logscale, normalise, density;
	long long n, channel, bins, max_points, seed;
	int has_range;
	double lo, hi;
	char given[O_LAST];
};

typedef int (*kind_fn)(const struct opts *o);

/* ---- shared helpers ---- */

/* An optional field: the name given (must exist) or the default when the
 * stream has it, else -1. */
static int optional_field(const qt_header *h, const char *name, int given,
			  const char *dflt, const char *opt)
{
	if (given)
		return qt_field_require(h, name, opt);
	return qt_header_find(h, dflt);
}

/* A field with one number per sample. */
static int require_scalar(const qt_header *h, int f)
{
	char buf[96];
	if (qt_field_numel(&h->fields[f]) == 1)
		return 0;
	return qt_error(QT_ESHAPE, "field '%s' has shape %s per sample: this "
			"kind wants one number per sample", h->fields[f].name,
			qt_shape_str(buf, sizeof buf, h->fields[f].ndim,
				     h->fields[f].shape));
}

/* Text for value v of field f: a class name (of f, or of `names` when f
 * has none), an integer, or %.3g. */
static void value_text(char *buf, size_t len, const qt_field *f, double v,
		       const qt_field *names)
{
	if (!names || names->nclasses == 0)
		names = f;
	if (!qt_dtype_is_float(f->dtype) && v >= 0 && v < names->nclasses)
		snprintf(buf, len, "%s", names->classes[(int64_t)v]);
	else if (!qt_dtype_is_float(f->dtype))
		snprintf(buf, len, "%lld", (long long)v);
	else
		snprintf(buf, len, "%.3g", v);
}

/* ---- curves and confusion: from files ---- */

static int kind_curves(const struct opts *o)
{
	static const char *skip[] = {"seconds", "samples_per_s", "lr", "time",
				     "step", "batch"};
	qt_trainlog log;
	char **keys = NULL;
	int nkeys = 0, *sel = NULL, nsel = 0, rc;

	if ((rc = qt_trainlog_read(o->logfile, &log)) < 0)
		return rc;
	if (o->keys && (rc = qt_parse_list(o->keys, "--keys", &keys,
					   &nkeys)) < 0)
		goto out;
	if (!(sel = malloc((size_t)(log.nkeys + nkeys + 1) * sizeof *sel))) {
		rc = qt_error(QT_ENOMEM, "out of memory");
		goto out;
	}
	for (int i = 0; i < nkeys; i++) {
		if ((sel[nsel++] = qt_trainlog_key(&log, keys[i])) < 0) {
			rc = qt_error(QT_EUSAGE, "%s has no key '%s'",
				      o->logfile, keys[i]);
			goto out;
		}
	}
	/* By default every metric but timing and the learning rate. */
	for (int k = 0; !o->keys && k < log.nkeys; k++) {
		size_t s = 0;
		while (s < sizeof skip / sizeof *skip &&
		       strcmp(log.keys[k], skip[s]))
			s++;
		if (s == sizeof skip / sizeof *skip)
			sel[nsel++] = k;
	}
	rc = qt_draw_curves(&o->fig, &log, sel, nsel, o->logscale, o->logfile);
out:
	free(sel);
	if (keys)
		qt_free_list(keys, nkeys);
	qt_trainlog_free(&log);
	return rc;
}

static int kind_confusion(const struct opts *o)
{
	int C, rc;
	char **names;
	int64_t *counts;
	if ((rc = qt_metrics_load_confusion(o->metrics, &C, &names,
					    &counts)) < 0)
		return rc;
	rc = qt_draw_confusion(&o->fig, C, names, counts, o->normalise);
	qt_free_names(names);
	free(counts);
	return rc;
}

/* ---- images and class means ---- */

/* Image field, its dims and the channel to show. */
struct imgsrc {
	int f;
	int64_t channels, h, w;
	char bar_label[192];
};

static int image_source(const qt_header *h, const struct opts *o,
			const char *prefix, struct imgsrc *s)
{
	char channel[48] = "";
	int rc;
	if ((rc = s->f = qt_field_require(h, o->field, "--field")) < 0)
		return rc;
	if ((rc = qt_image_dims(&h->fields[s->f], &s->channels, &s->h,
				&s->w)) < 0)
		return rc;
	if (o->channel >= s->channels)
		return qt_error(QT_EUSAGE, "--channel %lld: field '%s' has %lld "
				"channel%s", o->channel, o->field,
				(long long)s->channels,
				s->channels == 1 ? "" : "s");
	if (s->channels > 1)
		snprintf(channel, sizeof channel, " (channel %lld)", o->channel);
	snprintf(s->bar_label, sizeof s->bar_label, "%s%s%s%s%s%s", prefix,
		 o->field, channel, o->units ? " [" : "",
		 o->units ? o->units : "", o->units ? "]" : "");
	return 0;
}

/* Values v (n) of field f (-1: none) within its class names, if any. */
static int check_classes(const qt_header *h, int f, const double *v,
			 int64_t n)
{
	const qt_field *fl = f >= 0 ? &h->fields[f] : NULL;
	if (!fl || !fl->nclasses || qt_dtype_is_float(fl->dtype))
		return 0;
	for (int64_t i = 0; i < n; i++)
		if (!(v[i] >= 0 && v[i] < fl->nclasses))
			return qt_error(QT_EFORMAT, "label %g of sample %lld "
					"in '%s' is outside [0, %d) (the "
					"classes named in the stream)", v[i],
					(long long)i, fl->name, fl->nclasses);
	return 0;
}

/* "label → pred" titles, the prediction in vermillion when wrong. */
static void image_titles(const qt_header *h, int fl, int fp, int64_t n,
			 const double *lab, const double *prd,
			 char (*titles)[160], const char **tp, int *tc)
{
	for (int64_t i = 0; i < n; i++) {
		char a[64], p[64];
		tc[i] = QT_COL_INK;
		tp[i] = titles[i];
		if (fl >= 0)
			value_text(a, sizeof a, &h->fields[fl], lab[i], NULL);
		if (fp >= 0)
			value_text(p, sizeof p, &h->fields[fp], prd[i],
				   fl >= 0 ? &h->fields[fl] : NULL);
		if (fl >= 0 && fp >= 0) {
			snprintf(titles[i], sizeof titles[i], "%s → %s", a, p);
			if (!qt_dtype_is_float(h->fields[fp].dtype) &&
			    lab[i] != prd[i])
				tc[i] = qt_series_colour(1);
		} else {
			snprintf(titles[i], sizeof titles[i], "%s",
				 fl >= 0 ? a : p);
		}
	}
}

static int kind_images(const struct opts *o)
{
	qt_reader *r = NULL;
	qt_batch *b = NULL;
	const qt_header *h;
	struct imgsrc s;
	int64_t n = o->n, got = 0, hw;
	double *img = NULL, *lab = NULL, *prd = NULL;
	char (*titles)[160] = NULL, title[256];
	const char **tp = NULL;
	int *tc = NULL, fl, fp, rc;

	if ((rc = qt_reader_open(&r, o->input)) < 0)
		return rc;
	h = qt_reader_header(r);
	if ((rc = image_source(h, o, "", &s)) < 0 ||
	    (rc = fl = optional_field(h, o->label, o->given[O_LABEL], "labels",
				      "--label")) < -1 ||
	    (rc = fp = optional_field(h, o->pred, o->given[O_PRED], "pred",
				      "--pred")) < -1 ||
	    (fl >= 0 && (rc = require_scalar(h, fl)) < 0) ||
	    (fp >= 0 && (rc = require_scalar(h, fp)) < 0))
		goto out;
	hw = s.h * s.w;
	img = malloc((size_t)(n * hw) * sizeof *img);
	lab = malloc((size_t)n * sizeof *lab);
	prd = malloc((size_t)n * sizeof *prd);
	titles = calloc((size_t)n, sizeof *titles);
	tp = calloc((size_t)n, sizeof *tp);
	tc = calloc((size_t)n, sizeof *tc);
	if (!img || !lab || !prd || !titles || !tp || !tc) {
		rc = qt_error(QT_ENOMEM, "out of memory");
		goto out;
	}
	/* Only the first n samples: the rest of the stream is not read. */
	while (got < n && (rc = qt_reader_next(r, &b)) > 0) {
		for (int64_t i = 0; i < b->n && got < n; i++, got++) {
			qt_image_get(b->t[s.f], i, s.channels, o->channel, hw,
				     img + got * hw);
			lab[got] = fl >= 0 ? qt_tensor_get(b->t[fl], i) : NAN;
			prd[got] = fp >= 0 ? qt_tensor_get(b->t[fp], i) : NAN;
		}
		qt_batch_free(b);
		b = NULL;
	}
	if (rc < 0)
		goto out;
	if (got == 0) {
		rc = qt_error(QT_EFORMAT, "the stream has no samples");
		goto out;
	}
	if ((rc = check_classes(h, fl, lab, got)) < 0 ||
	    (rc = check_classes(h, fp, prd, got)) < 0)
		goto out;
	image_titles(h, fl, fp, got, lab, prd, titles, tp, tc);
	snprintf(title, sizeof title, "%s: %s%lld sample%s%s%s%s", o->field,
		 got > 1 ? "first " : "", (long long)got, got > 1 ? "s" : "",
		 fl >= 0 || fp >= 0 ? " (" : "",
		 fl >= 0 && fp >= 0 ? "truth → prediction" :
		 fl >= 0 ? h->fields[fl].name : fp >= 0 ? h->fields[fp].name : "",
		 fl >= 0 || fp >= 0 ? ")" : "");
	rc = qt_draw_images(&o->fig, title, (int)got, 0, img, (int)s.h,
			    (int)s.w, fl >= 0 || fp >= 0 ? tp : NULL, tc,
			    o->logscale, s.bar_label);
out:
	qt_batch_free(b);
	qt_reader_close(r);
	free(img);
	free(lab);
	free(prd);
	free(titles);
	free(tp);
	free(tc);
	return rc;
}

#define MAX_MEAN_CLASSES 64

static int kind_class_means(const struct opts *o)
{
	qt_reader *r = NULL;
	qt_batch *b = NULL;
	const qt_header *h;
	const qt_field *lf;
	struct imgsrc s;
	int64_t hw, count[MAX_MEAN_CLASSES] = {0}, seen = 0;
	double *sum = NULL, *row = NULL, *mean = NULL;
	char titles[MAX_MEAN_CLASSES][96], title[256];
	const char *tp[MAX_MEAN_CLASSES];
	int fl, C = 0, limit, shown = 0, rc;

	if ((rc = qt_reader_open(&r, o->input)) < 0)
		return rc;
	h = qt_reader_header(r);
	if ((rc = image_source(h, o, "mean ", &s)) < 0 ||
	    (rc = fl = qt_field_require(h, o->label, "--label")) < 0 ||
	    (rc = require_scalar(h, fl)) < 0)
		goto out;
	lf = &h->fields[fl];
	if (qt_dtype_is_float(lf->dtype)) {
		rc = qt_error(QT_ESHAPE, "field '%s' is %s: class means need "
			      "integer class labels", lf->name,
			      qt_dtype_name(lf->dtype));
		goto out;
	}
	limit = lf->nclasses > 0 ? lf->nclasses : MAX_MEAN_CLASSES;
	if (limit > MAX_MEAN_CLASSES) {
		rc = qt_error(QT_EFORMAT, "field '%s' has %d classes: at most "
			      "%d fit in one picture", lf->name, lf->nclasses,
			      MAX_MEAN_CLASSES);
		goto out;
	}
	hw = s.h * s.w;
	/* Streaming sums: one image of doubles per class. */
	sum = calloc((size_t)(limit * hw), sizeof *sum);
	row = malloc((size_t)hw * sizeof *row);
	if (!sum || !row) {
		rc = qt_error(QT_ENOMEM, "out of memory");
		goto out;
	}
	while ((rc = qt_reader_next(r, &b)) > 0) {
		for (int64_t i = 0; i < b->n; i++, seen++) {
			double v = qt_tensor_get(b->t[fl], i);
			int64_t c = (int64_t)v;
			if (!(v >= 0 && v < limit)) {
				rc = qt_error(QT_EFORMAT, "label %g of sample "
					      "%lld is outside [0, %d)%s", v,
					      (long long)seen, limit,
					      lf->nclasses ? " (the classes "
					      "named in the stream)" : "");
				goto out;
			}
			qt_image_get(b->t[s.f], i, s.channels, o->channel, hw,
				     row);
			for (int64_t k = 0; k < hw; k++)
				sum[c * hw + k] += row[k];
			count[c]++;
			C = c + 1 > C ? (int)c + 1 : C;
		}
		qt_batch_free(b);
		b = NULL;
	}
	if (rc < 0)
		goto out;
	if (lf->nclasses > 0)
		C = lf->nclasses;
	if (!(mean = malloc((size_t)(C > 0 ? C : 1) * (size_t)hw *
			    sizeof *mean))) {
		rc = qt_error(QT_ENOMEM, "out of memory");
		goto out;
	}
	/* Classes with samples, in class order. */
	for (int c = 0; c < C; c++) {
		char name[64];
		if (!count[c])
			continue;
		for (int64_t k = 0; k < hw; k++)
			mean[shown * hw + k] = sum[c * hw + k] / count[c];
		value_text(name, sizeof name, lf, c, NULL);
		snprintf(titles[shown], sizeof titles[shown], "%s (n = %lld)",
			 name, (long long)count[c]);
		tp[shown] = titles[shown];
		shown++;
	}
	if (shown == 0) {
		rc = qt_error(QT_EFORMAT, "the stream has no samples");
		goto out;
	}
	snprintf(title, sizeof title, "mean %s per class of %s", o->field,
		 lf->name);
	rc = qt_draw_images(&o->fig, title, shown,
			    shown <= 6 ? shown : (int)ceil(sqrt((double)shown)),
			    mean, (int)s.h, (int)s.w, tp, NULL, o->logscale,
			    s.bar_label);
out:
	qt_batch_free(b);
	qt_reader_close(r);
	free(sum);
	free(row);
	free(mean);
	return rc;
}

/* ---- hist ---- */

static int kind_hist(const struct opts *o)
{
	qt_reader *r = NULL;
	qt_batch *b = NULL;
	const qt_header *h;
	qt_hist hs = {0};
	int f, g = -1, rc;
	int64_t seen = 0;
	char names[QT_HIST_MAX_GROUPS][96], title[256];
	char *np[QT_HIST_MAX_GROUPS];

	if (!o->field)
		return qt_error(QT_EUSAGE, "hist needs --field (the field to "
				"histogram)");
	if ((rc = qt_reader_open(&r, o->input)) < 0)
		return rc;
	h = qt_reader_header(r);
	if ((rc = f = qt_field_require(h, o->field, "--field")) < 0 ||
	    (rc = require_scalar(h, f)) < 0 ||
	    (o->by && ((rc = g = qt_field_require(h, o->by, "--by")) < 0 ||
		       (rc = require_scalar(h, g)) < 0)))
		goto out;
	if ((rc = qt_hist_init(&hs, (int)o->bins, o->has_range, o->lo,
			       o->hi)) < 0)
		goto out;
	while ((rc = qt_reader_next(r, &b)) > 0) {
		for (int64_t i = 0; i < b->n; i++, seen++) {
			double gv = g >= 0 ? qt_tensor_get(b->t[g], i) : 0;
			if ((rc = qt_hist_add(&hs, qt_tensor_get(b->t[f], i),
					      gv)) < 0) {
				rc = qt_error_prefix(rc, "sample %lld: ",
						     (long long)seen);
				goto out;
			}
		}
		qt_batch_free(b);
		b = NULL;
	}
	if (rc < 0 || (rc = qt_hist_finish(&hs)) < 0)
		goto out;
	if (hs.outside)
		qt_cli_note("%lld value%s outside --range %g,%g not shown",
			    (long long)hs.outside, hs.outside == 1 ? "" : "s",
			    hs.lo, hs.hi);
	/* Legend entries: "redshift = 7.5 (n = 120)" or the class name. */
	for (int k = 0; g >= 0 && k < hs.ngroups; k++) {
		char v[64];
		value_text(v, sizeof v, &h->fields[g], hs.group[k], NULL);
		snprintf(names[k], sizeof names[k], "%s%s%s (n = %lld)",
			 h->fields[g].nclasses ? "" : o->by,
			 h->fields[g].nclasses ? "" : " = ", v,
			 (long long)hs.count[k]);
		np[k] = names[k];
	}
	if (o->by)
		snprintf(title, sizeof title, "%s by %s", o->field, o->by);
	else
		snprintf(title, sizeof title, "%s", o->field);
	rc = qt_draw_hist(&o->fig, &hs, g >= 0 ? np : NULL, o->field, title,
			  o->density, o->logscale);
out:
	qt_batch_free(b);
	qt_reader_close(r);
	qt_hist_free(&hs);
	return rc;
}

/* ---- scatter ---- */

static int kind_scatter(const struct opts *o)
{
	qt_reader *r = NULL;
	qt_batch *b = NULL;
	const qt_header *h;
	qt_reservoir res = {0};
	qt_reg_eval re = {0};
	int fx, fy, rc;

	if (!o->x)
		return qt_error(QT_EUSAGE, "scatter needs --x (the truth "
				"field)");
	if ((rc = qt_reader_open(&r, o->input)) < 0)
		return rc;
	h = qt_reader_header(r);
	if ((rc = fx = qt_field_require(h, o->x, "--x")) < 0 ||
	    (rc = fy = qt_field_require(h, o->y, "--y")) < 0 ||
	    (rc = require_scalar(h, fx)) < 0 ||
	    (rc = require_scalar(h, fy)) < 0 ||
	    (rc = qt_reservoir_init(&res, o->max_points,
				    (uint64_t)o->seed)) < 0 ||
	    (rc = qt_reg_init(&re, 1)) < 0)
		goto out;
	/* R^2 over every sample; a uniform sample of points to draw. */
	while ((rc = qt_reader_next(r, &b)) > 0) {
		if ((rc = qt_reg_add_tensors(&re, b->t[fx], b->t[fy])) < 0)
			goto out;
		for (int64_t i = 0; i < b->n; i++)
			qt_reservoir_add(&res, qt_tensor_get(b->t[fx], i),
					 qt_tensor_get(b->t[fy], i));
		qt_batch_free(b);
		b = NULL;
	}
	if (rc < 0)
		goto out;
	if (res.seen == 0) {
		rc = qt_error(QT_EFORMAT, "the stream has no samples");
		goto out;
	}
	qt_reg_compute(&re);
	rc = qt_draw_scatter(&o->fig, &res, re.r2[0], o->x, o->y);
out:
	qt_batch_free(b);
	qt_reader_close(r);
	qt_reservoir_free(&res);
	qt_reg_free(&re);
	return rc;
}

/* ---- options ---- */

#define BIT(o) (1ull << ((o) - O_SIZE))
#define COMMON (BIT(O_SIZE) | BIT(O_TITLE))

static const struct kind {
	const char *name;
	kind_fn fn;
	int stream;              /* reads -i */
	int log_takes_file;      /* --log FILE (curves) or --log (scale) */
	unsigned long long allowed;
} kinds[] = {
	{"curves", kind_curves, 0, 1,
	 BIT(O_LOG) | BIT(O_LOGY) | BIT(O_KEYS)},
	{"confusion", kind_confusion, 0, 0,
	 BIT(O_METRICS) | BIT(O_NORMALISE)},
	{"images", kind_images, 1, 0,
	 BIT(O_FIELD) | BIT(O_LABEL) | BIT(O_PRED) | BIT(O_N) |
		 BIT(O_CHANNEL) | BIT(O_LOG) | BIT(O_UNITS)},
	{"class-means", kind_class_means, 1, 0,
	 BIT(O_FIELD) | BIT(O_LABEL) | BIT(O_CHANNEL) | BIT(O_LOG) |
		 BIT(O_UNITS)},
	{"hist", kind_hist, 1, 0,
	 BIT(O_FIELD) | BIT(O_BY) | BIT(O_BINS) | BIT(O_RANGE) |
		 BIT(O_DENSITY) | BIT(O_LOG)},
	{"scatter", kind_scatter, 1, 0,
	 BIT(O_X) | BIT(O_Y) | BIT(O_MAX_POINTS) | BIT(O_SEED)},
};

static const struct kind *find_kind(const char *name)
{
	for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++)
		if (!strcmp(kinds[i].name, name))
			return &kinds[i];
	return NULL;
}

static int parse_range(const char *arg, struct opts *o)
{
	const char *s = arg;
	char *end;
	o->lo = strtod(s, &end);
	if (end == s || *end != ',')
		goto bad;
	s = end + 1;
	o->hi = strtod(s, &end);
	if (end == s || *end || !isfinite(o->lo) || !isfinite(o->hi))
		goto bad;
	if (!(o->hi > o->lo))
		return qt_error(QT_EUSAGE, "--range: the lower end must be "
				"below the upper end");
	o->has_range = 1;
	return 0;
bad:
	return qt_error(QT_EUSAGE, "--range: '%s' is not LOWER,UPPER", arg);
}

static const char *option_name(int c, const struct option *lo)
{
	for (; lo->name; lo++)
		if (lo->val == c)
			return lo->name;
	return "?";
}

int main(int argc, char **argv)
{
	struct option longopts[] = {
		{"input", required_argument, NULL, O_INPUT},
		{"output", required_argument, NULL, O_OUTPUT},
		{"size", required_argument, NULL, O_SIZE},
		{"title", required_argument, NULL, O_TITLE},
		{"log", no_argument, NULL, O_LOG},
		{"logy", no_argument, NULL, O_LOGY},
		{"keys", required_argument, NULL, O_KEYS},
		{"metrics", required_argument, NULL, O_METRICS},
		{"normalise", no_argument, NULL, O_NORMALISE},
		{"normalize", no_argument, NULL, O_NORMALISE},
		{"field", required_argument, NULL, O_FIELD},
		{"label", required_argument, NULL, O_LABEL},
		{"pred", required_argument, NULL, O_PRED},
		{"n", required_argument, NULL, O_N},
		{"channel", required_argument, NULL, O_CHANNEL},
		{"by", required_argument, NULL, O_BY},
		{"bins", required_argument, NULL, O_BINS},
		{"range", required_argument, NULL, O_RANGE},
		{"density", no_argument, NULL, O_DENSITY},
		{"x", required_argument, NULL, O_X},
		{"y", required_argument, NULL, O_Y},
		{"max-points", required_argument, NULL, O_MAX_POINTS},
		{"seed", required_argument, NULL, O_SEED},
		{"units", required_argument, NULL, O_UNITS},
		{"help", no_argument, NULL, O_HELP},
		{"version", no_argument, NULL, O_VERSION},
		{NULL, 0, NULL, 0}};
	struct opts o = {.input = "-", .label = "labels",
			 .pred = "pred", .y = "pred", .n = 16, .bins = 30,
			 .max_points = 20000, .seed = 1};
	const struct kind *k;
	char **av = argv + 1;
	int ac = argc - 1, c, rc = 0;
	const char *device;

	qt_cli_init("plot-data", argc, argv);
	if (argc < 2)
		return qt_cli_usage("missing KIND (curves, confusion, images, "
				    "class-means, hist, scatter)");
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))
		return qt_cli_finish(qt_cli_help(usage));
	if (!strcmp(argv[1], "-V") || !strcmp(argv[1], "--version"))
		return qt_cli_finish(qt_cli_version());
	if (!(k = find_kind(argv[1])))
		return qt_cli_usage("unknown kind '%s' (kinds: curves, "
				    "confusion, images, class-means, hist, "
				    "scatter; KIND comes first)", argv[1]);
	/* --log is the log file of `curves`, a log scale elsewhere. */
	longopts[4].has_arg = k->log_takes_file ? required_argument
						: no_argument;
	opterr = 0;
	while ((c = getopt_long(ac, av, ":i:o:hV", longopts, NULL)) != -1) {
		if (c == ':')
			return qt_cli_bad_option(av, 1);
		if (c == '?')
			return qt_cli_bad_option(av, 0);
		if (c >= O_SIZE && c < O_LAST) {
			if (!(k->allowed & BIT(c)) && !(COMMON & BIT(c)))
				return qt_cli_usage("option '--%s' does not "
						    "apply to '%s'",
						    option_name(c, longopts),
						    k->name);
			o.given[c] = 1;
		}
		if (c == O_INPUT && !k->stream)
			return qt_cli_usage("option '-i' does not apply to "
					    "'%s'", k->name);
		switch (c) {
		case O_INPUT: o.input = optarg; break;
		case O_OUTPUT: o.fig.path = optarg; break;
		case O_HELP: return qt_cli_finish(qt_cli_help(usage));
		case O_VERSION: return qt_cli_finish(qt_cli_version());
		case O_SIZE:
			rc = qt_fig_parse_size(optarg, &o.fig.width,
					       &o.fig.height);
			break;
		case O_TITLE: o.fig.title = optarg; break;
		case O_LOG:
			if (k->log_takes_file)
				o.logfile = optarg;
			else
				o.logscale = 1;
			break;
		case O_LOGY: o.logscale = 1; break;
		case O_KEYS: o.keys = optarg; break;
		case O_METRICS: o.metrics = optarg; break;
		case O_NORMALISE: o.normalise = 1; break;
		case O_FIELD: o.field = optarg; break;
		case O_LABEL: o.label = optarg; break;
		case O_PRED: o.pred = optarg; break;
		case O_N: rc = qt_parse_int(optarg, "--n", 1, 400, &o.n); break;
		case O_CHANNEL:
			rc = qt_parse_int(optarg, "--channel", 0, 1 << 20,
					  &o.channel);
			break;
		case O_BY: o.by = optarg; break;
		case O_BINS:
			rc = qt_parse_int(optarg, "--bins", 1, 100000, &o.bins);
			break;
		case O_RANGE: rc = parse_range(optarg, &o); break;
		case O_DENSITY: o.density = 1; break;
		case O_X: o.x = optarg; break;
		case O_Y: o.y = optarg; break;
		case O_MAX_POINTS:
			rc = qt_parse_int(optarg, "--max-points", 1, 10000000,
					  &o.max_points);
			break;
		case O_SEED:
			rc = qt_parse_int(optarg, "--seed", 0, INT64_MAX,
					  &o.seed);
			break;
		case O_UNITS:
			rc = qt_plot_check_label(optarg, "--units", 40);
			o.units = optarg;
			break;
		}
		if (rc < 0)
			return qt_cli_fail(rc);
	}
	if (optind < ac)
		return qt_cli_usage("unexpected argument '%s'", av[optind]);
	if (!o.field && (k->fn == kind_images || k->fn == kind_class_means))
		o.field = "images";
	if (!o.fig.path)
		return qt_cli_usage("missing -o OUT (a .png, .svg or .pdf "
				    "file)");
	if ((rc = qt_fig_device(o.fig.path, &device)) < 0)
		return qt_cli_fail(rc);
	if (k->log_takes_file && !o.logfile)
		return qt_cli_usage("curves needs --log FILE (the JSON lines "
				    "of 'quanta train --log')");
	if (k->fn == kind_confusion && !o.metrics)
		return qt_cli_usage("confusion needs --metrics FILE (from "
				    "'quanta evaluate --json')");
	return qt_cli_finish(k->fn(&o));
}
