/* plot-data.c: quanta plot-data KIND: pictures of streams, training logs
 * and metrics as PNG, SVG or PDF.
 *
 * Each kind gathers its data first (common/plotdata.c: bounded memory),
 * then draws with common/plot.c, so a failure while reading leaves no
 * file; the picture is written under a temporary name and renamed.
 * A new kind is a function here plus a line in `kinds`.
 * Manual: docs/stages/plot-data.md.
 */
#include "common/cli.h"
#include "common/error.h"
#include "common/fieldref.h"
#include "common/metrics.h"
#include "common/plot.h"
#include "common/plotdata.h"
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
	"               --channel K (0), --log\n"
	"  class-means  the mean image of each class side by side\n"
	"               --field F (images), --label F (labels), --channel K, --log\n"
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
	"  quanta plot-data hist -i eor.qs --field xHI --by redshift -o xhi.png\n";

enum {
	O_INPUT = 'i', O_OUTPUT = 'o', O_HELP = 'h', O_VERSION = 'V',
	O_SIZE = 256, O_TITLE, O_LOG, O_LOGY, O_KEYS, O_METRICS, O_NORMALISE,
	O_FIELD, O_LABEL, O_PRED, O_N, O_CHANNEL, O_BY, O_BINS, O_RANGE,
	O_DENSITY, O_X, O_Y, O_MAX_POINTS, O_SEED, O_LAST
};

struct opts {
	const char *input, *output, *title, *logfile, *keys, *metrics;
	const char *field, *label, *pred, *by, *x, *y;
	int width, height, logscale, normalise, density;
	long long n, channel, bins, max_points, seed;
	int has_range;
	double lo, hi;
	char given[O_LAST];
};

typedef int (*kind_fn)(const struct opts *o);

/* ---- shared helpers ---- */

static int open_figure(qt_fig **fig, const struct opts *o, int w, int h)
{
	return qt_fig_open(fig, o->output, o->width ? o->width : w,
			   o->height ? o->height : h);
}

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

/* Text for value v of field f: its class name, an integer, or %.3g. */
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

static void data_range(const double *v, int64_t n, int log, double *lo,
		       double *hi)
{
	*lo = INFINITY;
	*hi = -INFINITY;
	for (int64_t i = 0; i < n; i++) {
		if (!isfinite(v[i]) || (log && v[i] <= 0))
			continue;
		*lo = v[i] < *lo ? v[i] : *lo;
		*hi = v[i] > *hi ? v[i] : *hi;
	}
}

/* Pad a range for axes: 5% each side (a factor on log axes). */
static void pad_range(double *lo, double *hi, int log)
{
	if (log) {
		if (!(*hi > *lo)) {
			*lo /= 2;
			*hi *= 2;
		}
		double f = pow(*hi / *lo, 0.05);
		*lo /= f;
		*hi *= f;
		return;
	}
	if (!(*hi > *lo)) {
		double d = fabs(*lo) > 0 ? fabs(*lo) * 0.1 : 0.5;
		*lo -= d;
		*hi += d;
		return;
	}
	double d = (*hi - *lo) * 0.05;
	*lo -= d;
	*hi += d;
}

/* ---- curves ---- */

static int is_default_curve(const char *key)
{
	static const char *skip[] = {"seconds", "samples_per_s", "lr",
				     "time", "step", "batch"};
	for (size_t i = 0; i < sizeof skip / sizeof *skip; i++)
		if (!strcmp(key, skip[i]))
			return 0;
	return 1;
}

#define MAX_PANELS 8

static int kind_curves(const struct opts *o)
{
	qt_trainlog log;
	char **keys = NULL, *base[MAX_PANELS], title[512];
	int nkeys = 0, sel[64], nsel = 0, np = 0, rc;
	int train[MAX_PANELS], val[MAX_PANELS];
	qt_fig *fig = NULL;

	if ((rc = qt_trainlog_read(o->logfile, &log)) < 0)
		return rc;
	if (o->keys) {
		if ((rc = qt_parse_list(o->keys, "--keys", &keys, &nkeys)) < 0)
			goto out;
		for (int i = 0; i < nkeys && nsel < 64; i++) {
			int k = qt_trainlog_key(&log, keys[i]);
			if (k < 0) {
				rc = qt_error(QT_EUSAGE, "%s has no key '%s'",
					      o->logfile, keys[i]);
				goto out;
			}
			sel[nsel++] = k;
		}
	} else {
		for (int k = 0; k < log.nkeys && nsel < 64; k++)
			if (is_default_curve(log.keys[k]))
				sel[nsel++] = k;
	}
	if (nsel == 0) {
		rc = qt_error(QT_EFORMAT, "%s has no metric to draw",
			      o->logfile);
		goto out;
	}
	/* One panel per metric; "val_M" joins the panel of "M". */
	for (int i = 0; i < nsel; i++) {
		char *k = log.keys[sel[i]];
		int isval = !strncmp(k, "val_", 4) && k[4];
		char *b = isval ? k + 4 : k;
		int p;
		for (p = 0; p < np && strcmp(base[p], b); p++)
			;
		if (p == np) {
			if (np == MAX_PANELS) {
				rc = qt_error(QT_EUSAGE, "more than %d metrics: "
					      "choose some with --keys",
					      MAX_PANELS);
				goto out;
			}
			base[np] = b;
			train[np] = val[np] = -1;
			np++;
		}
		if (isval)
			val[p] = sel[i];
		else
			train[p] = sel[i];
	}
	{
		int ncols = np < 3 ? np : (np == 4 ? 2 : 3);
		int nrows = (np + ncols - 1) / ncols;
		double ex0, ex1;
		data_range(log.epoch, log.nrows, 0, &ex0, &ex1);
		if ((rc = open_figure(&fig, o, ncols == 1 ? 800 : 560 * ncols,
				      nrows == 1 ? 520 : 420 * nrows)) < 0)
			goto out;
		snprintf(title, sizeof title, "training history (%s)",
			 o->logfile);
		qt_plot_suptitle(o->title ? o->title : title);
		qt_box area = qt_plot_area(1);
		for (int p = 0; p < np; p++) {
			int series[2] = {train[p], val[p]}, kinds[2], cols[2];
			const char *labels[2];
			double lo = INFINITY, hi = -INFINITY, y[2] = {NAN, NAN};
			double col[4096], *v;
			int nl = 0;
			for (int s = 0; s < 2; s++) {
				double a, b;
				if (series[s] < 0)
					continue;
				for (int r = 0; r < log.nrows && r < 4096; r++)
					col[r] = log.v[(size_t)r * log.nkeys +
						       series[s]];
				data_range(col, log.nrows < 4096 ? log.nrows : 4096,
					   o->logscale, &a, &b);
				lo = a < lo ? a : lo;
				hi = b > hi ? b : hi;
			}
			if (!(lo <= hi)) {
				lo = o->logscale ? 0.1 : 0;
				hi = 1;
			}
			pad_range(&lo, &hi, o->logscale);
			qt_axes ax = {.xmin = ex0, .xmax = ex1, .ymin = lo,
				      .ymax = hi, .logy = o->logscale,
				      .grid = 1, .xlabel = "epoch",
				      .ylabel = base[p]};
			if (!(ex1 > ex0)) {
				ax.xmin = ex0 - 0.5;
				ax.xmax = ex0 + 0.5;
			}
			ax.xtick = qt_nice_step(ax.xmax - ax.xmin, 8, 1);
			qt_box cell = qt_plot_cell(area, nrows, ncols, p);
			qt_plot_axes(qt_plot_axes_frame(cell, &ax), &ax);
			v = malloc((size_t)log.nrows * sizeof *v);
			if (!v) {
				rc = qt_error(QT_ENOMEM, "out of memory");
				goto out;
			}
			for (int s = 0; s < 2; s++) {
				int c = qt_series_colour(s);
				double first = NAN, last = NAN;
				if (series[s] < 0)
					continue;
				for (int r = 0; r < log.nrows; r++) {
					v[r] = log.v[(size_t)r * log.nkeys +
						     series[s]];
					if (isfinite(v[r])) {
						if (isnan(first))
							first = v[r];
						last = v[r];
					}
				}
				qt_plot_line(log.nrows, log.epoch, v, c, 2.0, s);
				if (log.nrows <= 40)
					qt_plot_points(log.nrows, log.epoch, v, c,
						       1.0, 0.55);
				if (isnan(y[0]))
					y[0] = first, y[1] = last;
				labels[nl] = s ? "validation" : "training";
				kinds[nl] = s;
				cols[nl++] = c;
			}
			free(v);
			/* The legend goes where the curves are not: top right
			 * for falling curves, bottom right for rising ones. */
			qt_plot_legend(y[1] > y[0] ? 2 : 0, nl, labels, cols,
				       kinds);
		}
	}
	rc = qt_fig_close(fig);
	fig = NULL;
out:
	if (fig)
		qt_fig_abort(fig);
	if (keys)
		qt_free_list(keys, nkeys);
	qt_trainlog_free(&log);
	return rc;
}

/* ---- confusion ---- */

/* Split a class name at the space nearest its middle when it is wider
 * than `width` characters: returns the second line (in buf), or NULL. */
static const char *wrap_name(const char *name, double width, char *first,
			     size_t len)
{
	const char *best = NULL;
	size_t n = strlen(name);
	if (qt_plot_text_width(name) <= width || n >= len)
		return NULL;
	for (const char *p = strchr(name, ' '); p; p = strchr(p + 1, ' '))
		if (!best || labs((long)(p - name) - (long)n / 2) <
			     labs((long)(best - name) - (long)n / 2))
			best = p;
	if (!best)
		return NULL;
	snprintf(first, len, "%.*s", (int)(best - name), name);
	return best + 1;
}

static int kind_confusion(const struct opts *o)
{
	int C = 0, rc;
	char **names = NULL, title[256], buf[64], line1[128];
	int64_t *counts = NULL, total = 0, diag = 0, maxc = 1;
	double *z = NULL, wname = 0;
	qt_fig *fig = NULL;

	if ((rc = qt_metrics_load_confusion(o->metrics, &C, &names,
					    &counts)) < 0)
		return rc;
	if (!(z = malloc((size_t)C * C * sizeof *z))) {
		rc = qt_error(QT_ENOMEM, "out of memory");
		goto out;
	}
	for (int t = 0; t < C; t++) {
		int64_t row = 0;
		for (int p = 0; p < C; p++)
			row += counts[t * C + p];
		for (int p = 0; p < C; p++) {
			int64_t v = counts[t * C + p];
			z[t * C + p] = o->normalise ? (row ? (double)v / row : 0)
						    : (double)v;
			maxc = v > maxc ? v : maxc;
		}
		total += row;
		diag += counts[t * C + t];
	}
	{
		int side = 110 * C + 330;
		side = side < 650 ? 650 : side > 1600 ? 1600 : side;
		if ((rc = open_figure(&fig, o, side + 120, side)) < 0)
			goto out;
	}
	if (o->title)
		snprintf(title, sizeof title, "%s", o->title);
	else
		snprintf(title, sizeof title, "confusion matrix: accuracy "
			 "%.1f%% of %lld samples", total ? 100.0 * diag / total
							 : 0.0, (long long)total);
	qt_plot_suptitle(title);
	for (int c = 0; c < C; c++) {
		double w = qt_plot_text_width(names[c]);
		wname = w > wname ? w : wname;
	}
	{
		double zmax = o->normalise ? 1 : (double)maxc;
		double cell_chars, scale, right = 1.2 + 1.3 + 0.8 + 2.4 +
			qt_plot_text_width(o->normalise ? "0.0" : "00000");
		double cy = qt_plot_char_y(), cx = qt_plot_char_x();
		qt_box area = qt_plot_area(1), fr;
		fr = qt_plot_inset(area, wname + 3.2, right, 5.6, 0.8);
		fr = qt_plot_fit_aspect(fr, 1.0);
		qt_axes ax = {.xmin = 0, .xmax = C, .ymin = 0, .ymax = C,
			      .no_xticks = 1, .no_yticks = 1};
		qt_plot_axes(fr, &ax);
		qt_plot_heatmap(z, C, C, 0, C, 0, C, 0, zmax, 0);
		qt_plot_axes(fr, &ax); /* the frame over the cells */
		cell_chars = (fr.y1 - fr.y0) / C / cy;
		scale = cell_chars / 3.6;
		scale = scale > 1.1 ? 1.1 : scale;
		for (int t = 0; t < C && scale >= 0.35; t++)
			for (int p = 0; p < C; p++) {
				double f = z[t * C + p] / zmax, yc = C - t - 0.5;
				int64_t v = counts[t * C + p], row = 0;
				int col = qt_viridis_luminance(f) < 0.45 ?
					  QT_COL_WHITE : QT_COL_INK;
				for (int q = 0; q < C; q++)
					row += counts[t * C + q];
				snprintf(line1, sizeof line1, "%lld", (long long)v);
				snprintf(buf, sizeof buf, "%.1f%%",
					 row ? 100.0 * v / row : 0.0);
				qt_plot_text(p + 0.5, yc + 0.12, 0.5, scale, col,
					     o->normalise ? buf : line1);
				qt_plot_text(p + 0.5, yc - 0.32, 0.5,
					     0.75 * scale, col,
					     o->normalise ? line1 : buf);
			}
		for (int c = 0; c < C; c++) {
			double pos = (c + 0.5) / C;
			double cellw = (fr.x1 - fr.x0) / C / cx;
			const char *second = wrap_name(names[c], cellw * 0.95,
						       line1, sizeof line1);
			qt_plot_margin_text("b", 1.4, pos, 0.5, QT_COL_INK,
					    second ? line1 : names[c]);
			if (second)
				qt_plot_margin_text("b", 2.6, pos, 0.5,
						    QT_COL_INK, second);
			qt_plot_margin_text("lv", 0.8, 1 - pos, 1.0, QT_COL_INK,
					    names[c]);
		}
		qt_plot_margin_text("b", 4.2, 0.5, 0.5, QT_COL_INK,
				    "predicted class");
		qt_plot_margin_text("l", wname + 1.6, 0.5, 0.5, QT_COL_INK,
				    "true class");
		qt_plot_colorbar((qt_box){fr.x1 + 1.2 * cx, fr.x1 + 2.5 * cx,
					  fr.y0, fr.y1}, 0, zmax, 0,
				 o->normalise ? "fraction of the true class"
					      : "samples");
	}
	rc = qt_fig_close(fig);
	fig = NULL;
out:
	if (fig)
		qt_fig_abort(fig);
	qt_free_names(names);
	free(counts);
	free(z);
	return rc;
}
