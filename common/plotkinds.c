/* plotkinds.c: the pictures of quanta plot-data (see plotkinds.h), drawn
 * with common/plot.c from data gathered by common/plotdata.c.  Default
 * figure sizes follow the content (panels, classes, images) so that text
 * of the fixed size QT_PLOT_CHAR_PX fits without crowding. */
#include "common/plotkinds.h"
#include "common/error.h"
#include "common/plot.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int open_figure(qt_fig **fig, const qt_figspec *f, int w, int h)
{
	return qt_fig_open(fig, f->path, f->width ? f->width : w,
			   f->height ? f->height : h);
}

static int finish(qt_fig *fig, int rc)
{
	if (rc < 0) {
		qt_fig_abort(fig);
		return rc;
	}
	return qt_fig_close(fig);
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
	double d;
	if (log) {
		if (!(*hi > *lo)) {
			*lo /= 2;
			*hi *= 2;
		}
		d = pow(*hi / *lo, 0.05);
		*lo /= d;
		*hi *= d;
		return;
	}
	d = *hi > *lo ? (*hi - *lo) * 0.05 : fabs(*lo) > 0 ? fabs(*lo) * 0.1
							     : 0.5;
	*lo -= d;
	*hi += d;
}

/* ---- curves ---- */

#define MAX_PANELS 8

/* Draw one metric's panel: training (solid) and validation (dashed). */
static int curve_panel(qt_box cell, const qt_trainlog *log, const int *series,
		       const char *name, int logy, double *v)
{
	double lo = INFINITY, hi = -INFINITY, ex0, ex1, d, y0 = NAN, y1 = NAN;
	const char *labels[2];
	int kinds[2], cols[2], nl = 0;
	data_range(log->epoch, log->nrows, 0, &ex0, &ex1);
	for (int s = 0; s < 2; s++) {
		double a, b;
		if (series[s] < 0)
			continue;
		for (int r = 0; r < log->nrows; r++)
			v[r] = log->v[(size_t)r * log->nkeys + series[s]];
		data_range(v, log->nrows, logy, &a, &b);
		lo = a < lo ? a : lo;
		hi = b > hi ? b : hi;
	}
	if (!(lo <= hi)) {
		lo = logy ? 0.1 : 0;
		hi = 1;
	}
	pad_range(&lo, &hi, logy);
	/* whole markers at the first and last epoch */
	d = (ex1 - ex0) * 0.02;
	d = d > 0.5 ? d : 0.5;
	qt_axes ax = {.xmin = ex0 - d, .xmax = ex1 + d, .ymin = lo, .ymax = hi,
		      .logy = logy, .grid = 1, .xlabel = "epoch",
		      .ylabel = name};
	ax.xtick = qt_nice_step(ax.xmax - ax.xmin, 8, 1);
	qt_plot_axes(qt_plot_axes_frame(cell, &ax), &ax);
	for (int s = 0; s < 2; s++) {
		int c = qt_series_colour(s);
		double first = NAN, last = NAN;
		if (series[s] < 0)
			continue;
		for (int r = 0; r < log->nrows; r++) {
			v[r] = log->v[(size_t)r * log->nkeys + series[s]];
			if (isfinite(v[r])) {
				if (isnan(first))
					first = v[r];
				last = v[r];
			}
		}
		qt_plot_line(log->nrows, log->epoch, v, c, 2.0, s);
		if (log->nrows <= 40)
			qt_plot_points(log->nrows, log->epoch, v, c, 1.0, 0.55);
		if (isnan(y0)) {
			y0 = first;
			y1 = last;
		}
		labels[nl] = s ? "validation" : "training";
		kinds[nl] = s;
		cols[nl++] = c;
	}
	/* The legend goes where the curves are not: top right for falling
	 * curves, bottom right for rising ones. */
	qt_plot_legend(y1 > y0 ? 2 : 0, nl, labels, cols, kinds);
	return 0;
}

int qt_draw_curves(const qt_figspec *f, const qt_trainlog *log,
		   const int *keys, int nkeys, int logy, const char *source)
{
	const char *base[MAX_PANELS];
	int series[MAX_PANELS][2], np = 0, ncols, nrows, rc = 0;
	char title[512];
	qt_fig *fig;
	double *v;

	/* One panel per metric; "val_M" joins the panel of "M". */
	for (int i = 0; i < nkeys; i++) {
		const char *k = log->keys[keys[i]];
		int isval = !strncmp(k, "val_", 4) && k[4], p;
		const char *b = isval ? k + 4 : k;
		for (p = 0; p < np && strcmp(base[p], b); p++)
			;
		if (p == np) {
			if (np == MAX_PANELS)
				return qt_error(QT_EUSAGE, "more than %d "
						"metrics: choose some with "
						"--keys", MAX_PANELS);
			base[np] = b;
			series[np][0] = series[np][1] = -1;
			np++;
		}
		series[p][isval] = keys[i];
	}
	if (np == 0)
		return qt_error(QT_EFORMAT, "%s has no metric to draw", source);
	if (!(v = malloc((size_t)log->nrows * sizeof *v)))
		return qt_error(QT_ENOMEM, "out of memory");
	ncols = np < 3 ? np : np == 4 ? 2 : 3;
	nrows = (np + ncols - 1) / ncols;
	if ((rc = open_figure(&fig, f, ncols == 1 ? 800 : 560 * ncols,
			      nrows == 1 ? 520 : 420 * nrows)) < 0) {
		free(v);
		return rc;
	}
	snprintf(title, sizeof title, "training history (%s)", source);
	qt_plot_suptitle(f->title ? f->title : title);
	qt_box area = qt_plot_area(1);
	for (int p = 0; p < np && rc == 0; p++)
		rc = curve_panel(qt_plot_cell(area, nrows, ncols, p), log,
				 series[p], base[p], logy, v);
	free(v);
	return finish(fig, rc);
}

/* ---- confusion ---- */

/* Split a class name at the space nearest its middle when it is wider
 * than `width` characters: returns the second line (the first in
 * `first`), or NULL. */
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

/* Count and row percentage in each cell, white on dark colours. */
static void cell_texts(int C, const int64_t *counts, const double *z,
		       double zmax, int normalise, double scale)
{
	char count[32], pct[32];
	for (int t = 0; t < C; t++) {
		int64_t row = 0;
		for (int q = 0; q < C; q++)
			row += counts[t * C + q];
		for (int p = 0; p < C; p++) {
			double yc = C - t - 0.5;
			int64_t v = counts[t * C + p];
			int col = qt_viridis_luminance(z[t * C + p] / zmax) < 0.45
					  ? QT_COL_WHITE : QT_COL_INK;
			snprintf(count, sizeof count, "%lld", (long long)v);
			snprintf(pct, sizeof pct, "%.1f%%",
				 row ? 100.0 * v / row : 0.0);
			qt_plot_text(p + 0.5, yc + 0.12, 0.5, scale, col,
				     normalise ? pct : count);
			qt_plot_text(p + 0.5, yc - 0.32, 0.5, 0.75 * scale, col,
				     normalise ? count : pct);
		}
	}
}

int qt_draw_confusion(const qt_figspec *f, int C, char *const *names,
		      const int64_t *counts, int normalise)
{
	int64_t total = 0, diag = 0, maxc = 1;
	double *z, wname = 0, zmax, scale, right, cx, cy;
	char title[256], first[128];
	int side, wrapped = 0, rc;
	qt_box avail, fr;
	qt_fig *fig;

	if (!(z = malloc((size_t)C * C * sizeof *z)))
		return qt_error(QT_ENOMEM, "out of memory");
	for (int t = 0; t < C; t++) {
		int64_t row = 0;
		for (int p = 0; p < C; p++)
			row += counts[t * C + p];
		for (int p = 0; p < C; p++) {
			int64_t v = counts[t * C + p];
			z[t * C + p] = normalise ? (row ? (double)v / row : 0)
						 : (double)v;
			maxc = v > maxc ? v : maxc;
		}
		total += row;
		diag += counts[t * C + t];
	}
	for (int c = 0; c < C; c++) {
		double w = qt_plot_text_width(names[c]);
		wname = w > wname ? w : wname;
	}
	/* A square of cells plus the margins, in default characters. */
	right = 1.2 + 1.3 + 0.8 + 2.4 +
		qt_plot_text_width(normalise ? "0.0" : "00000");
	side = 100 * C + 240;
	side = side < 420 ? 420 : side > 1300 ? 1300 : side;
	if ((rc = open_figure(&fig, f, side + (int)((wname + 4.2 + right) *
						    QT_PLOT_CHAR_PX),
			      side + (int)(9.6 * QT_PLOT_CHAR_PX))) < 0) {
		free(z);
		return rc;
	}
	snprintf(title, sizeof title, "confusion matrix: accuracy %.1f%% of "
		 "%lld samples", total ? 100.0 * diag / total : 0.0,
		 (long long)total);
	qt_plot_suptitle(f->title ? f->title : title);
	zmax = normalise ? 1 : (double)maxc;
	cx = qt_plot_char_x();
	cy = qt_plot_char_y();
	avail = qt_plot_inset(qt_plot_area(1), wname + 3.8, right, 5.8, 0.8);
	fr = qt_plot_fit_aspect(avail, 1.0);
	fr.y0 += avail.y1 - fr.y1; /* right under the title */
	fr.y1 = avail.y1;
	qt_axes ax = {.xmin = 0, .xmax = C, .ymin = 0, .ymax = C,
		      .no_xticks = 1, .no_yticks = 1};
	qt_plot_axes(fr, &ax);
	qt_plot_heatmap(z, C, C, 0, C, 0, C, 0, zmax, 0);
	qt_plot_axes(fr, &ax); /* the frame over the cells */
	/* Text scaled to the cells, none when they are too small to read. */
	scale = (fr.y1 - fr.y0) / C / cy / 3.6;
	scale = scale > 1.1 ? 1.1 : scale;
	if (scale >= 0.35)
		cell_texts(C, counts, z, zmax, normalise, scale);
	for (int c = 0; c < C; c++) {
		double pos = (c + 0.5) / C;
		const char *second = wrap_name(names[c], (fr.x1 - fr.x0) / C /
					       cx * 0.95, first, sizeof first);
		qt_plot_margin_text("b", 1.4, pos, 0.5, QT_COL_INK,
				    second ? first : names[c]);
		if (second)
			qt_plot_margin_text("b", 2.6, pos, 0.5, QT_COL_INK,
					    second);
		wrapped |= second != NULL;
		qt_plot_margin_text("lv", 0.8, 1 - pos, 1.0, QT_COL_INK,
				    names[c]);
	}
	qt_plot_margin_text("b", wrapped ? 4.6 : 3.4, 0.5, 0.5, QT_COL_INK,
			    "predicted class");
	qt_plot_margin_text("l", wname + 2.2, 0.5, 0.5, QT_COL_INK,
			    "true class");
	qt_plot_colorbar((qt_box){fr.x1 + 1.2 * cx, fr.x1 + 2.5 * cx, fr.y0,
				  fr.y1}, 0, zmax, 0,
			 normalise ? "fraction of the true class" : "samples");
	free(z);
	return finish(fig, 0);
}

/* ---- image grids ---- */

int qt_draw_images(const qt_figspec *f, const char *default_title, int n,
		   int ncols, const double *img, int h, int w,
		   const char *const *titles, const int *title_colours,
		   int log, const char *bar_label)
{
	double lo, hi;
	int fw, fh, rc;
	qt_fig *fig;
	data_range(img, (int64_t)n * h * w, log, &lo, &hi);
	if (!(lo <= hi))
		return qt_error(QT_EFORMAT, log ? "no positive pixel value to "
				"show on a log scale" : "no finite pixel value");
	/* A log scale shows six decades below the largest value. */
	if (log && lo < hi * 1e-6)
		lo = hi * 1e-6;
	if (!(hi > lo)) {
		if (log) {
			lo /= 10;
		} else {
			lo -= 0.5;
			hi += 0.5;
		}
	}
	if (ncols < 1)
		ncols = (int)ceil(sqrt((double)n));
	qt_plot_image_grid_size(n, ncols, h, w, ncols <= 2 ? 300 :
				ncols <= 6 ? 220 : 150, &fw, &fh);
	if ((rc = open_figure(&fig, f, fw, fh)) < 0)
		return rc;
	qt_plot_suptitle(f->title ? f->title : default_title);
	qt_plot_image_grid(qt_plot_area(1), n, ncols, img, h, w, titles,
			   title_colours, lo, hi, log, bar_label);
	return finish(fig, 0);
}

/* ---- histograms ---- */

/* 1 when the histograms are higher in their left half than in their
 * right half (the legend then goes to the right). */
static int left_heavier(const qt_hist *hs)
{
	double left = 0, right = 0;
	for (int k = 0; k < hs->ngroups; k++)
		for (int i = 0; i < hs->nbins; i++) {
			double v = hs->h[(size_t)k * hs->nbins + i];
			double *side = 2 * i < hs->nbins ? &left : &right;
			*side = v > *side ? v : *side;
		}
	return left >= right;
}

int qt_draw_hist(const qt_figspec *f, qt_hist *hs, char *const *names,
		 const char *xlabel, const char *default_title, int density,
		 int log)
{
	const char *labels[QT_HIST_MAX_GROUPS];
	char unnamed[64];
	int cols[QT_HIST_MAX_GROUPS], kinds[QT_HIST_MAX_GROUPS], rc;
	int styles[QT_HIST_MAX_GROUPS];
	double width = (hs->hi - hs->lo) / hs->nbins, ymax = 0, ymin = INFINITY;
	double *edges, room, fill;
	qt_fig *fig;
	qt_box fr;

	if (!(edges = malloc((size_t)(hs->nbins + 1) * sizeof *edges)))
		return qt_error(QT_ENOMEM, "out of memory");
	for (int i = 0; i <= hs->nbins; i++)
		edges[i] = hs->lo + i * width;
	/* Densities: counts / (values in the group * bin width). */
	for (int k = 0; k < hs->ngroups; k++) {
		double norm = density && hs->count[k] ?
			      1.0 / (hs->count[k] * width) : 1.0;
		for (int i = 0; i < hs->nbins; i++) {
			double *v = &hs->h[(size_t)k * hs->nbins + i];
			*v *= norm;
			ymax = *v > ymax ? *v : ymax;
			ymin = *v > 0 && *v < ymin ? *v : ymin;
		}
	}
	if ((rc = open_figure(&fig, f, 800, 560)) < 0) {
		free(edges);
		return rc;
	}
	qt_plot_suptitle(f->title ? f->title : default_title);
	qt_axes ax = {.xmin = hs->lo, .xmax = hs->hi, .ymin = 0,
		      .ymax = ymax > 0 ? ymax * 1.08 : 1, .logy = log,
		      .grid = 1, .xlabel = xlabel,
		      .ylabel = density ? "density" : "samples per bin"};
	if (log) {
		ax.ymin = isfinite(ymin) ? ymin / 2 : 0.5;
		ax.ymax = ymax > 0 ? ymax * 2 : 1;
	}
	/* Room above the bars for the legend, in the corner over the lower
	 * half of the histograms. */
	fr = qt_plot_axes_frame(qt_plot_area(1), &ax);
	room = (hs->ngroups * 1.6 + 1.6) * qt_plot_char_y() / (fr.y1 - fr.y0);
	room = room > 0.6 ? 0.6 : room;
	if (log)
		ax.ymax *= pow(ax.ymax / ax.ymin, room / (1 - room));
	else
		ax.ymax /= 1 - room;
	qt_plot_axes(qt_plot_axes_frame(qt_plot_area(1), &ax), &ax);
	/* Fills of more than two groups mix to mud.  Each group has its own
	 * colour and dash pattern, drawn in order: where outlines coincide
	 * (groups of equal counts) the gaps of the later one show the
	 * earlier beneath, so both stay visible, and the patterns survive
	 * grey print and colour blindness. */
	fill = hs->ngroups == 1 ? 0.25 : hs->ngroups == 2 ? 0.15 : 0;
	for (int k = 0; k < hs->ngroups; k++) {
		cols[k] = qt_series_colour(k);
		styles[k] = k % QT_NSTYLES;
		qt_plot_steps(hs->nbins, edges, hs->h + (size_t)k * hs->nbins,
			      cols[k], 2.0, fill, styles[k]);
		if (!names) {
			snprintf(unnamed, sizeof unnamed, "n = %lld",
				 (long long)hs->count[k]);
			labels[k] = unnamed;
		} else {
			labels[k] = names[k];
		}
		kinds[k] = fill > 0 ? 3 : 0;
	}
	qt_plot_legend_styled(left_heavier(hs) ? 0 : 1, hs->ngroups, labels,
			      cols, kinds, styles);
	free(edges);
	return finish(fig, 0);
}

/* ---- scatter ---- */

int qt_draw_scatter(const qt_figspec *f, const qt_reservoir *r, double r2,
		    const char *xlabel, const char *ylabel)
{
	double lo = r->min, hi = r->max, alpha, dx[2], dy[2], step;
	char l0[160], title[256];
	const char *labels[2] = {l0, "y = x"};
	/* Off the diagonal first: top left, bottom right. */
	static const int corners[4] = {1, 2, 0, 3};
	int cols[2] = {qt_series_colour(0), QT_COL_MUTED}, kinds[2] = {2, 1};
	int rc;
	qt_fig *fig;
	if (r->n == 0)
		return qt_error(QT_EFORMAT, "no points to draw");
	if ((rc = open_figure(&fig, f, 680, 640)) < 0)
		return rc;
	snprintf(title, sizeof title, "%s against %s", ylabel, xlabel);
	qt_plot_suptitle(f->title ? f->title : title);
	pad_range(&lo, &hi, 0);
	/* The same ticks on both axes: the diagonal is at 45 degrees. */
	step = qt_nice_step(hi - lo, 7, 0);
	qt_axes ax = {.xmin = lo, .xmax = hi, .ymin = lo, .ymax = hi,
		      .xtick = step, .ytick = step, .grid = 1,
		      .xlabel = xlabel, .ylabel = ylabel};
	qt_plot_axes(qt_plot_fit_aspect(qt_plot_axes_frame(qt_plot_area(1),
							   &ax), 1.0), &ax);
	dx[0] = dy[0] = lo;
	dx[1] = dy[1] = hi;
	qt_plot_line(2, dx, dy, QT_COL_MUTED, 1.5, 1);
	/* Translucent points, so that density shows. */
	alpha = 8.0 / sqrt((double)r->n);
	alpha = alpha > 0.8 ? 0.8 : alpha < 0.06 ? 0.06 : alpha;
	qt_plot_points(r->n, r->x, r->y, cols[0], alpha, 0.5);
	if (r->seen > r->n)
		snprintf(l0, sizeof l0, "%lld of %lld samples, R² = %.4f",
			 (long long)r->n, (long long)r->seen, r2);
	else
		snprintf(l0, sizeof l0, "%lld samples, R² = %.4f",
			 (long long)r->seen, r2);
	qt_plot_legend(qt_plot_legend_corner(2, labels, r->n, r->x, r->y, 0.5,
					     corners, 4), 2, labels, cols, kinds);
	return finish(fig, 0);
}
