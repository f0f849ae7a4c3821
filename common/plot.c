/* plot.c: figures with PLplot's cairo drivers (see plot.h).
 *
 * PLplot keeps one global state; this file adds a palette, atomic files,
 * layout helpers in normalised figure coordinates, axes with our own tick
 * label formatting (so margins can be sized to the labels), heatmaps and
 * colour bars in viridis, and legends.  PLplot's conventions used here:
 * plvpor sets a viewport in normalised coordinates, plwind its world
 * coordinates; log axes take log10 values, which the drawing functions
 * compute from data values.  Character sizes are in millimetres of the
 * page (plgchr, plgspa).
 */
#include "common/plot.h"
#include "common/cli.h"
#include "common/error.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <plplot.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

struct qt_fig {
	char *path, *tmp;
	int width, height;
};

/* The file being written, for the PLplot exit handler. */
static char *live_tmp;
static char plot_abort_msg[256];
/* The current axes (for data-to-world conversion of log axes). */
static qt_axes cur;
static double page_w = 800, page_h = 600;

/* Scratch colour index for translucent series colours. */
#define COL_SCRATCH 15

static const unsigned char palette[][3] = {
	{255, 255, 255}, /* background */
	{34, 34, 34},    /* ink */
	{221, 221, 221}, /* grid */
	{119, 119, 119}, /* muted */
	{255, 255, 255}, /* white ink */
	/* Okabe & Ito (2002), "Color Universal Design" */
	{0, 114, 178},   /* blue */
	{213, 94, 0},    /* vermillion */
	{0, 158, 115},   /* bluish green */
	{230, 159, 0},   /* orange */
	{204, 121, 167}, /* reddish purple */
	{86, 180, 233},  /* sky blue */
	{240, 228, 66},  /* yellow */
};

/* viridis (van der Walt & Smith, matplotlib; CC0) at 10 equally spaced
 * stops, interpolated linearly in RGB by PLplot. */
static const unsigned char viridis[10][3] = {
	{68, 1, 84}, {72, 40, 120}, {62, 74, 137}, {49, 104, 142},
	{38, 130, 142}, {31, 158, 137}, {53, 183, 121}, {109, 205, 89},
	{180, 222, 44}, {253, 231, 37},
};

int qt_series_colour(int i)
{
	return QT_COL_SERIES + (i % QT_NSERIES + QT_NSERIES) % QT_NSERIES;
}

/* ---- files ---- */

int qt_fig_device(const char *path, const char **device)
{
	const char *dot = strrchr(path, '.'), *slash = strrchr(path, '/');
	if (dot && (!slash || dot > slash)) {
		if (!strcasecmp(dot, ".png"))
			return *device = "pngcairo", 0;
		if (!strcasecmp(dot, ".svg"))
			return *device = "svgcairo", 0;
		if (!strcasecmp(dot, ".pdf"))
			return *device = "pdfcairo", 0;
	}
	return qt_error(QT_EUSAGE, "%s: unknown picture format (the name "
			"must end in .png, .svg or .pdf)", path);
}

int qt_fig_parse_size(const char *s, int *width, int *height)
{
	const char *hs;
	char *end;
	long w, h;
	errno = 0;
	w = strtol(s, &end, 10);
	if (end == s || (*end != 'x' && *end != 'X'))
		goto bad;
	hs = end + 1;
	h = strtol(hs, &end, 10);
	if (end == hs || *end || errno)
		goto bad;
	if (w < 100 || w > 10000 || h < 100 || h > 10000)
		return qt_error(QT_EUSAGE, "--size: %ldx%ld is outside "
				"100x100 .. 10000x10000", w, h);
	*width = (int)w;
	*height = (int)h;
	return 0;
bad:
	return qt_error(QT_EUSAGE, "--size: '%s' is not WIDTHxHEIGHT (e.g. "
			"1200x800)", s);
}

static int on_plplot_exit(PLCHAR_VECTOR msg)
{
	fprintf(stderr, "quanta-%s: plotting failed: %s\n", qt_cli_stage(),
		msg ? msg : "PLplot error");
	if (live_tmp)
		unlink(live_tmp);
	_exit(1);
}

static void on_plplot_abort(PLCHAR_VECTOR msg)
{
	if (!plot_abort_msg[0])
		snprintf(plot_abort_msg, sizeof plot_abort_msg, "%s",
			 msg ? msg : "PLplot error");
}

static void set_palette(void)
{
	PLFLT pos[10], r[10], g[10], b[10];
	plscmap0n(16);
	for (size_t i = 0; i < sizeof palette / sizeof *palette; i++)
		plscol0((PLINT)i, palette[i][0], palette[i][1], palette[i][2]);
	for (int i = 0; i < 10; i++) {
		pos[i] = i / 9.0;
		r[i] = viridis[i][0] / 255.0;
		g[i] = viridis[i][1] / 255.0;
		b[i] = viridis[i][2] / 255.0;
	}
	plscmap1n(256);
	plscmap1l(1, 10, pos, r, g, b, NULL);
}

int qt_fig_open(qt_fig **out, const char *path, int width, int height)
{
	const char *device;
	qt_fig *f;
	mode_t mask;
	int fd, rc;
	if ((rc = qt_fig_device(path, &device)) < 0)
		return rc;
	if (!(f = calloc(1, sizeof *f)))
		return qt_error(QT_ENOMEM, "out of memory");
	if (!(f->path = strdup(path)) ||
	    asprintf(&f->tmp, "%s.tmp.XXXXXX", path) < 0) {
		free(f->path);
		free(f);
		return qt_error(QT_ENOMEM, "out of memory");
	}
	if ((fd = mkstemp(f->tmp)) < 0) {
		rc = qt_error(QT_EIO, "cannot create %s: %s", path,
			      strerror(errno));
		free(f->tmp);
		free(f->path);
		free(f);
		return rc;
	}
	/* mkstemp makes 0600; a picture is as readable as any new file. */
	mask = umask(0);
	umask(mask);
	fchmod(fd, 0666 & ~mask);
	close(fd);
	f->width = width;
	f->height = height;
	live_tmp = f->tmp;
	plot_abort_msg[0] = '\0';
	page_w = width;
	page_h = height;
	plsexit(on_plplot_exit);
	plsabort(on_plplot_abort);
	plsdev(device);
	plsfnam(f->tmp);
	plscolbg(255, 255, 255);
	plspage(0, 0, width, height, 0, 0);
	plinit();
	/* PLplot scales its default text with the page; quanta keeps text at
	 * QT_PLOT_CHAR_PX (at the drivers' 72 dots per inch), so a bigger
	 * figure has more room rather than bigger letters. */
	plschr(QT_PLOT_CHAR_PX * 25.4 / 72, 1.0);
	set_palette();
	pladv(0);
	plcol0(QT_COL_INK);
	*out = f;
	return 0;
}

static void fig_free(qt_fig *f)
{
	live_tmp = NULL;
	free(f->tmp);
	free(f->path);
	free(f);
}

int qt_fig_close(qt_fig *f)
{
	struct stat st;
	int rc = 0;
	plend();
	if (plot_abort_msg[0])
		rc = qt_error(QT_EINTERNAL, "plotting failed: %s",
			      plot_abort_msg);
	else if (stat(f->tmp, &st) != 0 || st.st_size == 0)
		rc = qt_error(QT_EIO, "cannot write %s", f->path);
	else if (rename(f->tmp, f->path) != 0)
		rc = qt_error(QT_EIO, "cannot write %s: %s", f->path,
			      strerror(errno));
	if (rc < 0)
		unlink(f->tmp);
	fig_free(f);
	return rc;
}

void qt_fig_abort(qt_fig *f)
{
	if (!f)
		return;
	plend();
	unlink(f->tmp);
	fig_free(f);
}

/* ---- layout ---- */

static double char_mm(void)
{
	PLFLT def, ht;
	plgchr(&def, &ht);
	return ht;
}

static void page_mm(double *w, double *h)
{
	PLFLT x0, x1, y0, y1;
	plgspa(&x0, &x1, &y0, &y1);
	*w = x1 - x0;
	*h = y1 - y0;
}

double qt_plot_page_aspect(void)
{
	return page_w / page_h;
}

double qt_plot_char_y(void)
{
	double w, h;
	page_mm(&w, &h);
	return char_mm() / h;
}

double qt_plot_char_x(void)
{
	double w, h;
	page_mm(&w, &h);
	return char_mm() / w;
}

/* Advance widths of DejaVu Sans (cairo's default sans face) in em, for
 * ' ' .. '~'.  PLplot's public API cannot measure text, and margins must
 * fit labels, so widths are estimated from the font's metrics.  An em
 * is 1.33 PLplot character heights with the cairo drivers (measured). */
static const float advance[95] = {
	.318f, .401f, .460f, .838f, .636f, .950f, .780f, .275f, .390f, .390f,
	.500f, .838f, .318f, .361f, .318f, .337f, .636f, .636f, .636f, .636f,
	.636f, .636f, .636f, .636f, .636f, .636f, .337f, .337f, .838f, .838f,
	.838f, .531f, 1.0f, .684f, .686f, .698f, .770f, .632f, .575f, .775f,
	.752f, .295f, .295f, .656f, .557f, .863f, .748f, .787f, .603f, .787f,
	.695f, .635f, .611f, .732f, .684f, .989f, .685f, .611f, .685f, .390f,
	.337f, .390f, .838f, .500f, .500f, .613f, .635f, .550f, .635f, .615f,
	.352f, .635f, .634f, .278f, .278f, .579f, .278f, .974f, .634f, .612f,
	.635f, .635f, .411f, .521f, .392f, .634f, .592f, .818f, .592f, .592f,
	.525f, .636f, .337f, .636f, .838f};

double qt_plot_text_width(const char *text)
{
	double em = 0;
	for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
		if (*p == '#' && p[1]) {        /* PLplot escape: #u, #d, ... */
			p++;
			continue;
		}
		if (*p >= 32 && *p < 127)
			em += advance[*p - 32];
		else if ((*p & 0xC0) != 0x80)   /* a non-ASCII code point */
			em += 0.7;
	}
	return em * 1.33;
}

void qt_plot_text_scale(double scale)
{
	plschr(0, scale);
}

/* The current text scale (relative to the default size). */
static double text_scale(void)
{
	PLFLT def, ht;
	plgchr(&def, &ht);
	return def > 0 ? ht / def : 1.0;
}

qt_box qt_plot_area(int title_lines)
{
	return (qt_box){0, 1, 0, 1 - title_lines * 2.6 * qt_plot_char_y()};
}

qt_box qt_plot_cell(qt_box a, int nrows, int ncols, int i)
{
	int r = i / ncols, c = i % ncols;
	double w = (a.x1 - a.x0) / ncols, h = (a.y1 - a.y0) / nrows;
	return (qt_box){a.x0 + c * w, a.x0 + (c + 1) * w, a.y1 - (r + 1) * h,
			a.y1 - r * h};
}

qt_box qt_plot_inset(qt_box b, double left, double right, double bottom,
		     double top)
{
	double cx = qt_plot_char_x(), cy = qt_plot_char_y();
	qt_box r = {b.x0 + left * cx, b.x1 - right * cx, b.y0 + bottom * cy,
		    b.y1 - top * cy};
	if (r.x1 < r.x0 + 0.01)
		r.x1 = r.x0 + 0.01;
	if (r.y1 < r.y0 + 0.01)
		r.y1 = r.y0 + 0.01;
	return r;
}

qt_box qt_plot_fit_aspect(qt_box b, double aspect)
{
	double w = (b.x1 - b.x0) * page_w, h = (b.y1 - b.y0) * page_h;
	if (w / h > aspect) {
		double nw = h * aspect / page_w, cx = (b.x0 + b.x1) / 2;
		b.x0 = cx - nw / 2;
		b.x1 = cx + nw / 2;
	} else {
		double nh = w / aspect / page_h, cy = (b.y0 + b.y1) / 2;
		b.y0 = cy - nh / 2;
		b.y1 = cy + nh / 2;
	}
	return b;
}

int qt_plot_check_label(const char *text, const char *what, size_t max)
{
	size_t n = strlen(text);
	if (n == 0 || n > max)
		return qt_error(QT_EUSAGE, "%s: the text must be 1 to %zu "
				"bytes long", what, max);
	for (const unsigned char *p = (const unsigned char *)text; *p; p++)
		if (*p < 32 || *p == 127)
			return qt_error(QT_EUSAGE, "%s: control character in "
					"'%s'", what, text);
	return 0;
}

void qt_plot_suptitle(const char *text)
{
	if (!text || !*text)
		return;
	double s = text_scale();
	plvpor(0, 1, 0, 1);
	plwind(0, 1, 0, 1);
	plschr(0, 1.15 * s);
	plcol0(QT_COL_INK);
	plmtex("t", -1.5, 0.5, 0.5, text);
	plschr(0, s);
}

/* ---- ticks ---- */

double qt_nice_step(double range, int n, int integer)
{
	double raw, p, f;
	if (!(range > 0) || n < 1)
		return 1;
	raw = range / n;
	p = pow(10, floor(log10(raw)));
	f = raw / p;
	f = f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10;
	raw = f * p;
	return integer && raw < 1 ? 1 : raw;
}

/* Decimals that show a tick step exactly (0.25 -> 2, 5 -> 0). */
static int step_decimals(double step)
{
	int d = 0;
	while (d < 10 && fabs(step * pow(10, d) - floor(step * pow(10, d) +
							 0.5)) > 1e-6)
		d++;
	return d;
}

struct tick_fmt {
	int decimals[2]; /* x, y */
	double step[2];
};
static struct tick_fmt fmt;

static void format_tick(char *buf, size_t len, double v, double step,
			int decimals)
{
	if (fabs(v) < step * 1e-9)
		v = 0;
	/* Fixed decimals from the step, unless that takes more than four
	 * (tiny steps) or the numbers are large: then four digits. */
	if (decimals > 4 || step >= 1e5)
		snprintf(buf, len, "%.4g", v);
	else
		snprintf(buf, len, "%.*f", decimals, v);
}

static void label_func(PLINT axis, PLFLT value, PLCHAR_NC_VECTOR label,
		       PLINT length, PLPointer data)
{
	int a = axis == PL_X_AXIS ? 0 : 1;
	format_tick(label, (size_t)length, value, fmt.step[a],
		    fmt.decimals[a]);
}

/* ---- log axes ----
 * The labelled ticks of a log axis are the richest of these sequences
 * that fits the room: 1..9, 1-2-3-5 or 1-2-5 times each power of ten when
 * the range spans few decades, else every decade (or every second,
 * third, ... decade).  A range of less than a factor of three, or one
 * too narrow to hold two of them, gets evenly spaced ticks, as a linear
 * axis would.  One notation for every label of an axis: decimals
 * ("0.001", "0.5", "20") when all the ticks read well so, else powers of
 * ten ("10^-5", "2×10^-5"), never a mixture. */

#define LOG_TICKS_MAX 64

struct log_ticks {
	int n;
	double t[LOG_TICKS_MAX];
	int powers;    /* m×10^k labels, decades as 10^k */
	int decimals;  /* fixed decimals (of m with powers); -1: as needed */
};

/* Multiples of every step-th power of ten within [lo, hi]. */
static int decade_multiples(double lo, double hi, const double *m, int nm,
			    int step, double *t)
{
	int n = 0;
	for (int k = (int)floor(log10(lo)); k <= (int)ceil(log10(hi)); k++) {
		if (k % step)
			continue;
		for (int j = 0; j < nm; j++) {
			double v = m[j] * pow(10, k);
			if (v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9) &&
			    n < LOG_TICKS_MAX)
				t[n++] = v;
		}
	}
	return n;
}

/* Evenly spaced ticks, for a range of less than a factor of three or
 * one without two of the multiples. */
static void narrow_log_ticks(double lo, double hi, int room,
			     struct log_ticks *lt)
{
	double step = qt_nice_step(hi - lo, room < 2 ? 2 : room > 6 ? 6 : room,
				   0);
	lt->n = 0;
	for (double v = ceil(lo / step - 1e-9) * step;
	     v <= hi + step * 1e-9 && lt->n < LOG_TICKS_MAX; v += step)
		lt->t[lt->n++] = v;
	lt->decimals = step_decimals(step);
	lt->powers = lt->decimals > 4 || lo < 1e-3 || hi >= 1e5;
	if (lt->powers)
		lt->decimals = step_decimals(step /
					     pow(10, floor(log10(hi) + 1e-9)));
}

/* Ticks t (n) chosen, written as decimals unless one of them is too
 * small or too large for that. */
static void take_log_ticks(struct log_ticks *lt, const double *t, int n)
{
	lt->n = n;
	lt->decimals = -1;
	lt->powers = 0;
	for (int i = 0; i < n; i++) {
		lt->t[i] = t[i];
		if (t[i] < 1e-3 * (1 - 1e-9) || t[i] >= 1e5)
			lt->powers = 1;
	}
}

/* Labelled ticks on [lo, hi] (data values > 0): the richest sequence
 * with 2 to `room` ticks, else the sparsest with 2 or more. */
static void plan_log_ticks(double lo, double hi, int room,
			   struct log_ticks *lt)
{
	static const double m19[] = {1, 2, 3, 4, 5, 6, 7, 8, 9},
			    m1235[] = {1, 2, 3, 5}, m125[] = {1, 2, 5},
			    m1[] = {1};
	static const struct { const double *m; int nm; double max_dec; }
		seq[] = {{m19, 9, 0.9}, {m1235, 4, 1.2}, {m125, 3, 3.5}};
	double dec = log10(hi / lo), t[LOG_TICKS_MAX];
	int n;
	lt->n = 0;
	if (dec < 0.5) {
		narrow_log_ticks(lo, hi, room, lt);
		return;
	}
	for (size_t s = 0; s < sizeof seq / sizeof *seq; s++) {
		if (dec > seq[s].max_dec)
			continue;
		if ((n = decade_multiples(lo, hi, seq[s].m, seq[s].nm, 1,
					  t)) < 2)
			continue;
		take_log_ticks(lt, t, n);
		if (n <= room)
			return;
	}
	for (int step = 1;; step++) {
		if ((n = decade_multiples(lo, hi, m1, 1, step, t)) < 2)
			break;
		take_log_ticks(lt, t, n);
		if (n <= room)
			return;
	}
	if (lt->n < 2)
		narrow_log_ticks(lo, hi, room, lt);
}

/* The label of tick v in the notation of lt: PLplot's #u...#d raise the
 * exponent. */
static void log_label(char *buf, size_t len, double v,
		      const struct log_ticks *lt)
{
	int k = (int)floor(log10(v) + 1e-9);
	double m = v / pow(10, k);
	if (!lt->powers) {
		snprintf(buf, len, "%.*f", lt->decimals >= 0 ? lt->decimals
						: step_decimals(v), v);
	} else if (lt->decimals < 0 && fabs(m - 1) < 1e-9) {
		snprintf(buf, len, "10#u%d#d", k);
	} else {
		snprintf(buf, len, "%.*f×10#u%d#d", lt->decimals >= 0 ?
			 lt->decimals : step_decimals(m), m, k);
	}
}

/* How many labels fit along box b: one per three character heights up
 * a y axis, as on linear axes, one per seven character widths along an
 * x axis. */
static int log_room(qt_box b, int y)
{
	int n = y ? (int)((b.y1 - b.y0) / qt_plot_char_y() / 3)
		  : (int)((b.x1 - b.x0) / qt_plot_char_x() / 7);
	return n < 2 ? 2 : n;
}

/* Width in character heights of the widest label of a log axis. */
static double log_label_width(double lo, double hi, int room)
{
	struct log_ticks lt;
	char buf[64];
	double w = 0;
	plan_log_ticks(lo, hi, room, &lt);
	for (int i = 0; i < lt.n; i++) {
		log_label(buf, sizeof buf, lt.t[i], &lt);
		double tw = qt_plot_text_width(buf);
		w = tw > w ? tw : w;
	}
	return w;
}

/* Width in character heights of the widest tick label of a linear axis
 * on [lo, hi] with ticks every `step`. */
static double linear_label_width(double lo, double hi, double step,
				 int decimals)
{
	char buf[64];
	double w = 0;
	for (double v = ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9;
	     v += step) {
		format_tick(buf, sizeof buf, v, step, decimals);
		double tw = qt_plot_text_width(buf);
		w = tw > w ? tw : w;
	}
	return w;
}

/* A short tick mark at world position w of the current panel, inward
 * from both sides; `len` in world units across the axis. */
static void log_tick_mark(int y, double w, double len)
{
	PLFLT wx0, wx1, wy0, wy1;
	plgvpw(&wx0, &wx1, &wy0, &wy1);
	if (y) {
		pljoin(wx0, w, wx0 + len, w);
		pljoin(wx1 - len, w, wx1, w);
	} else {
		pljoin(w, wy0, w, wy0 + len);
		pljoin(w, wy1 - len, w, wy1);
	}
}

/* Unlabelled ticks: 2..9 of each decade, or over many decades the
 * decades left without a label. */
static void log_minor_ticks(int y, double lo, double hi, double len)
{
	int many = log10(hi / lo) > 6;
	for (int k = (int)floor(log10(lo)); k <= (int)ceil(log10(hi)); k++)
		for (int j = many ? 1 : 2; j <= (many ? 1 : 9); j++) {
			double v = j * pow(10, k);
			if (v >= lo && v <= hi)
				log_tick_mark(y, log10(v), len);
		}
}

/* Ticks (inside the frame on both sides), labels and optionally grid
 * lines of a log axis of the current panel, whose world coordinates are
 * log10 of [lo, hi], with at most about `room` labels.  axis 0: x,
 * labels below; 1: y, labels left; 2: y, labels right (colour bars).
 * PLplot's own log axes label decades only, which leaves a short range
 * without any number. */
static void draw_log_axis(int axis, double lo, double hi, int room,
			  int grid)
{
	PLFLT vx0, vx1, vy0, vy1, wx0, wx1, wy0, wy1;
	struct log_ticks lt;
	char buf[64];
	int y = axis > 0;
	plan_log_ticks(lo, hi, room, &lt);
	plgvpd(&vx0, &vx1, &vy0, &vy1);
	plgvpw(&wx0, &wx1, &wy0, &wy1);
	double len = y ? 0.55 * qt_plot_char_x() * (wx1 - wx0) / (vx1 - vx0)
		       : 0.55 * qt_plot_char_y() * (wy1 - wy0) / (vy1 - vy0);
	double a0 = y ? wy0 : wx0, a1 = y ? wy1 : wx1;
	plcol0(grid ? QT_COL_GRID : QT_COL_INK);
	plwidth(grid ? 0.8 : 1.0);
	for (int i = 0; i < lt.n; i++) {
		double w = log10(lt.t[i]), pos = (w - a0) / (a1 - a0);
		if (grid) {
			if (y)
				pljoin(wx0, w, wx1, w);
			else
				pljoin(w, wy0, w, wy1);
			continue;
		}
		log_tick_mark(y, w, len);
		log_label(buf, sizeof buf, lt.t[i], &lt);
		if (axis == 0)
			plmtex("b", 1.5, pos, 0.5, buf);
		else if (axis == 1)
			plmtex("lv", 0.7, pos, 1.0, buf);
		else
			plmtex("rv", 0.7, pos, 0.0, buf);
	}
	if (!grid)
		log_minor_ticks(y, lo, hi, len / 2);
	plwidth(1.0);
	plcol0(QT_COL_INK);
}

static double to_world(double v, int log)
{
	return log ? (v > 0 ? log10(v) : NAN) : v;
}

/* Choose the tick steps of linear axes drawn in box b: a label every
 * three character heights up the y axis and every 5.5 along the x axis
 * at most, 2 to 8 of them (unless the axes fix them). */
static void plan_ticks(qt_box b, const qt_axes *a, double *xs, double *ys)
{
	int nx = (int)((b.x1 - b.x0) / qt_plot_char_x() / 5.5);
	int ny = (int)((b.y1 - b.y0) / qt_plot_char_y() / 3);
	nx = nx < 2 ? 2 : nx > 8 ? 8 : nx;
	ny = ny < 2 ? 2 : ny > 8 ? 8 : ny;
	*xs = a->xtick > 0 ? a->xtick : qt_nice_step(a->xmax - a->xmin, nx, 0);
	*ys = a->ytick > 0 ? a->ytick : qt_nice_step(a->ymax - a->ymin, ny, 0);
}

/* Width in character heights of the widest y tick label of axes a drawn
 * in frame b. */
static double y_label_width(qt_box b, const qt_axes *a, double ystep)
{
	if (a->logy)
		return log_label_width(a->ymin, a->ymax, log_room(b, 1));
	return linear_label_width(a->ymin, a->ymax, ystep,
				  step_decimals(ystep));
}

qt_box qt_plot_axes_frame(qt_box outer, const qt_axes *a)
{
	double xs, ys, left = 0.6, bottom = 0.6, top = 0.6, right = 1.2;
	plan_ticks(outer, a, &xs, &ys);
	if (!a->no_xticks)
		bottom += 1.6;
	if (a->xlabel)
		bottom += 2.1;
	if (a->title)
		top += 1.6;
	if (!a->no_yticks)
		left += 0.6 + y_label_width(qt_plot_inset(outer, 0, 0, bottom,
							  top), a, ys);
	if (a->ylabel)
		left += 1.6;
	return qt_plot_inset(outer, left, right, bottom, top);
}

void qt_plot_axes(qt_box b, const qt_axes *a)
{
	char xopt[16], yopt[16];
	double xs, ys, ylw = 0;
	cur = *a;
	plan_ticks(b, a, &xs, &ys);
	fmt.step[0] = xs;
	fmt.step[1] = ys;
	fmt.decimals[0] = step_decimals(xs);
	fmt.decimals[1] = step_decimals(ys);
	plslabelfunc(label_func, NULL);
	plvpor(b.x0, b.x1, b.y0, b.y1);
	plwind(to_world(a->xmin, a->logx), to_world(a->xmax, a->logx),
	       to_world(a->ymin, a->logy), to_world(a->ymax, a->logy));
	if (a->grid) {
		plcol0(QT_COL_GRID);
		plwidth(0.8);
		plbox(a->logx ? "" : "g", xs, 0, a->logy ? "" : "g", ys, 0);
		if (a->logx)
			draw_log_axis(0, a->xmin, a->xmax, log_room(b, 0), 1);
		if (a->logy)
			draw_log_axis(1, a->ymin, a->ymax, log_room(b, 1), 1);
	}
	plcol0(QT_COL_INK);
	plwidth(1.0);
	snprintf(xopt, sizeof xopt, "bc%s",
		 a->no_xticks || a->logx ? "" : "nto");
	snprintf(yopt, sizeof yopt, "bc%s",
		 a->no_yticks || a->logy ? "" : "ntvo");
	plbox(xopt, xs, 0, yopt, ys, 0);
	if (a->logx && !a->no_xticks)
		draw_log_axis(0, a->xmin, a->xmax, log_room(b, 0), 0);
	if (a->logy && !a->no_yticks)
		draw_log_axis(1, a->ymin, a->ymax, log_room(b, 1), 0);
	if (!a->no_yticks)
		ylw = y_label_width(b, a, ys);
	if (a->xlabel)
		plmtex("b", a->no_xticks ? 1.5 : 3.0, 0.5, 0.5, a->xlabel);
	if (a->ylabel)
		plmtex("l", a->no_yticks ? 1.2 : ylw + 1.6, 0.5, 0.5,
		       a->ylabel);
	if (a->title)
		plmtex("t", 0.8, 0.5, 0.5, a->title);
	plslabelfunc(NULL, NULL);
}

/* ---- data ---- */

/* Dash patterns of the line styles (marks and spaces in micrometres of
 * the page), distinct in rhythm so that lines on top of each other stay
 * apart: the gaps of one show the colour of the one beneath. */
static void set_style(int style)
{
	static const struct { int n; PLINT mark[3], space[3]; } pattern[] = {
		{0, {0}, {0}},                                /* solid */
		{1, {6000}, {3000}},                          /* dashed */
		{1, {800}, {1800}},                           /* dotted */
		{2, {6000, 800}, {2200, 2200}},               /* dash-dot */
		{2, {7000, 2500}, {2200, 2200}},              /* long-short */
		{3, {6000, 800, 800}, {2200, 2200, 2200}},    /* dash-dot-dot */
	};
	int s = style >= 0 && style < QT_NSTYLES ? style : 0;
	plstyl(pattern[s].n, pattern[s].mark, pattern[s].space);
}

void qt_plot_line(int64_t n, const double *x, const double *y, int colour,
		  double width, int style)
{
	PLFLT *wx = malloc((size_t)(n > 0 ? n : 1) * sizeof *wx);
	PLFLT *wy = malloc((size_t)(n > 0 ? n : 1) * sizeof *wy);
	int64_t k = 0;
	if (!wx || !wy)
		goto out;
	plcol0(colour);
	plwidth(width);
	set_style(style);
	for (int64_t i = 0; i <= n; i++) {
		double a = i < n ? to_world(x[i], cur.logx) : NAN;
		double b = i < n ? to_world(y[i], cur.logy) : NAN;
		if (isfinite(a) && isfinite(b)) {
			wx[k] = a;
			wy[k++] = b;
			continue;
		}
		if (k > 1)
			plline((PLINT)k, wx, wy);
		k = 0;
	}
	set_style(0);
	plwidth(1.0);
	plcol0(QT_COL_INK);
out:
	free(wx);
	free(wy);
}

static void scratch_colour(int colour, double alpha)
{
	PLINT r, g, b;
	PLFLT a;
	plgcol0a(colour, &r, &g, &b, &a);
	plscol0a(COL_SCRATCH, r, g, b, alpha);
	plcol0(COL_SCRATCH);
}

void qt_plot_points(int64_t n, const double *x, const double *y, int colour,
		    double alpha, double size)
{
	double s = text_scale();
	scratch_colour(colour, alpha);
	plschr(0, size * s);
	for (int64_t i = 0; i < n; i++) {
		PLFLT a = to_world(x[i], cur.logx), b = to_world(y[i], cur.logy);
		if (isfinite(a) && isfinite(b))
			plstring(1, &a, &b, "●");
	}
	plschr(0, s);
	plcol0(QT_COL_INK);
}

/* The outline of the bins [a, b) of a step polygon (x, y) from
 * qt_plot_steps: up from the base at the left edge, along the tops, down
 * at the right edge.  rx, ry: room for 2 (b - a) + 2 points. */
static void step_run(const PLFLT *x, const PLFLT *y, int a, int b,
		     double base, PLFLT *rx, PLFLT *ry)
{
	int k = 0;
	rx[k] = x[2 * a + 1];
	ry[k++] = base;
	for (int i = a; i < b; i++) {
		rx[k] = x[2 * i + 1];
		ry[k++] = y[2 * i + 1];
		rx[k] = x[2 * i + 2];
		ry[k++] = y[2 * i + 2];
	}
	rx[k] = x[2 * b];
	ry[k++] = base;
	plline(k, rx, ry);
}

void qt_plot_steps(int nbins, const double *edges, const double *h,
		   int colour, double width, double fill_alpha, int style)
{
	int n = 2 * nbins + 2;
	PLFLT *x = malloc((size_t)n * sizeof *x), *y = malloc((size_t)n * sizeof *y);
	PLFLT *rx = malloc((size_t)n * sizeof *rx);
	PLFLT *ry = malloc((size_t)n * sizeof *ry);
	double base = cur.logy ? log10(cur.ymin) : 0;
	if (!x || !y || !rx || !ry)
		goto out;
	x[0] = to_world(edges[0], cur.logx);
	y[0] = base;
	for (int i = 0; i < nbins; i++) {
		double v = cur.logy ? (h[i] > 0 ? log10(h[i]) : base) : h[i];
		x[2 * i + 1] = to_world(edges[i], cur.logx);
		x[2 * i + 2] = to_world(edges[i + 1], cur.logx);
		y[2 * i + 1] = y[2 * i + 2] = v;
	}
	x[n - 1] = to_world(edges[nbins], cur.logx);
	y[n - 1] = base;
	if (fill_alpha > 0) {
		scratch_colour(colour, fill_alpha);
		plfill(n, x, y);
	}
	plcol0(colour);
	plwidth(width);
	set_style(style);
	/* Runs of non-empty bins only: empty ones would draw along the
	 * frame, where every group's outline would lie on the others. */
	for (int a = 0; a < nbins;) {
		int b = a;
		while (b < nbins && y[2 * b + 1] != base)
			b++;
		if (b > a)
			step_run(x, y, a, b, base, rx, ry);
		a = b > a ? b : a + 1;
	}
	set_style(0);
	plwidth(1.0);
	plcol0(QT_COL_INK);
out:
	free(x);
	free(y);
	free(rx);
	free(ry);
}

void qt_plot_text(double x, double y, double just, double scale, int colour,
		  const char *text)
{
	double s = text_scale();
	plschr(0, scale * s);
	plcol0(colour);
	plptex(to_world(x, cur.logx), to_world(y, cur.logy), 1, 0, just, text);
	plschr(0, s);
	plcol0(QT_COL_INK);
}

void qt_plot_margin_text(const char *side, double disp, double pos,
			 double just, int colour, const char *text)
{
	plcol0(colour);
	plmtex(side, disp, pos, just, text);
	plcol0(QT_COL_INK);
}

/* Legend geometry in character heights: padding, the width of a line
 * sample, the height of an entry, the gap to the frame. */
#define LEGEND_PAD 0.7
#define LEGEND_SAMPLE 3.2
#define LEGEND_LINE 1.6
#define LEGEND_GAP 0.8

/* The box of a legend of n entries in `corner` of the current panel, in
 * normalised figure coordinates. */
static qt_box legend_box(int corner, int n, const char *const *labels)
{
	PLFLT vx0, vx1, vy0, vy1;
	double cx = qt_plot_char_x(), cy = qt_plot_char_y(), tw = 0, bw, bh;
	qt_box b;
	plgvpd(&vx0, &vx1, &vy0, &vy1);
	for (int i = 0; i < n; i++) {
		double w = qt_plot_text_width(labels[i]) * cx;
		tw = w > tw ? w : tw;
	}
	bw = (3 * LEGEND_PAD + LEGEND_SAMPLE) * cx + tw;
	bh = (n * LEGEND_LINE + 0.6) * cy;
	b.x0 = corner == 1 || corner == 3 ? vx0 + LEGEND_GAP * cx
					  : vx1 - LEGEND_GAP * cx - bw;
	b.y0 = corner >= 2 ? vy0 + LEGEND_GAP * cy
			   : vy1 - LEGEND_GAP * cy - bh;
	b.x1 = b.x0 + bw;
	b.y1 = b.y0 + bh;
	return b;
}

int qt_plot_legend_corner(int n, const char *const *labels, int64_t npts,
			  const double *x, const double *y, double size,
			  const int *order, int ncorners)
{
	PLFLT vx0, vx1, vy0, vy1, wx0, wx1, wy0, wy1;
	double rx = size / 2 * qt_plot_char_x(), ry = size / 2 * qt_plot_char_y();
	int64_t fewest = -1;
	int best = order[0];
	plgvpd(&vx0, &vx1, &vy0, &vy1);
	plgvpw(&wx0, &wx1, &wy0, &wy1);
	for (int c = 0; c < ncorners; c++) {
		qt_box b = legend_box(order[c], n, labels);
		int64_t under = 0;
		for (int64_t i = 0; i < npts; i++) {
			double u = vx0 + (to_world(x[i], cur.logx) - wx0) /
					 (wx1 - wx0) * (vx1 - vx0);
			double v = vy0 + (to_world(y[i], cur.logy) - wy0) /
					 (wy1 - wy0) * (vy1 - vy0);
			under += u + rx > b.x0 && u - rx < b.x1 &&
				 v + ry > b.y0 && v - ry < b.y1;
		}
		if (fewest < 0 || under < fewest) {
			fewest = under;
			best = order[c];
		}
	}
	return best;
}

void qt_plot_legend(int corner, int n, const char *const *labels,
		    const int *colours, const int *kinds)
{
	qt_plot_legend_styled(corner, n, labels, colours, kinds, NULL);
}

void qt_plot_legend_styled(int corner, int n, const char *const *labels,
			   const int *colours, const int *kinds,
			   const int *styles)
{
	PLFLT vx0, vx1, vy0, vy1, wx0, wx1, wy0, wy1;
	double cx = qt_plot_char_x(), cy = qt_plot_char_y();
	double line_h = LEGEND_LINE * cy, sample = LEGEND_SAMPLE * cx;
	double pad = LEGEND_PAD * cx, bw, bh;
	qt_box box;
	if (n <= 0)
		return;
	plgvpd(&vx0, &vx1, &vy0, &vy1);
	plgvpw(&wx0, &wx1, &wy0, &wy1);
	box = legend_box(corner, n, labels);
	bw = box.x1 - box.x0;
	bh = box.y1 - box.y0;
	plvpor(box.x0, box.x1, box.y0, box.y1);
	plwind(0, bw, 0, bh);
	{
		PLFLT fx[5] = {0, bw, bw, 0, 0}, fy[5] = {0, 0, bh, bh, 0};
		scratch_colour(QT_COL_BG, 0.85);
		plfill(4, fx, fy);
		plcol0(QT_COL_GRID);
		plline(5, fx, fy);
	}
	for (int i = 0; i < n; i++) {
		double yc = bh - 0.3 * cy - (i + 0.5) * line_h;
		PLFLT lx[2] = {pad, pad + sample}, ly[2] = {yc, yc};
		int style = styles ? styles[i] : kinds[i] == 1;
		if (kinds[i] == 0 || kinds[i] == 1) {
			plcol0(colours[i]);
			plwidth(2.0);
			set_style(style);
			plline(2, lx, ly);
			set_style(0);
			plwidth(1.0);
		} else if (kinds[i] == 2) {
			PLFLT mx = pad + sample / 2, my = yc;
			plcol0(colours[i]);
			plstring(1, &mx, &my, "●");
		} else {
			PLFLT fx[4] = {pad, pad + sample, pad + sample, pad};
			PLFLT fy[4] = {yc - 0.35 * cy, yc - 0.35 * cy,
				       yc + 0.35 * cy, yc + 0.35 * cy};
			PLFLT ox[5] = {fx[0], fx[1], fx[2], fx[3], fx[0]};
			PLFLT oy[5] = {fy[0], fy[1], fy[2], fy[3], fy[0]};
			scratch_colour(colours[i], 0.5);
			plfill(4, fx, fy);
			plcol0(colours[i]);
			set_style(style);
			plline(5, ox, oy);
			set_style(0);
		}
		plcol0(QT_COL_INK);
		plptex(pad + sample + pad, yc, 1, 0, 0, labels[i]);
	}
	plvpor(vx0, vx1, vy0, vy1);
	plwind(wx0, wx1, wy0, wy1);
}

/* ---- heatmaps ---- */

/* plimagefr draws cell (i, j) between the transformed corners (i, j) and
 * (i + 1, j + 1); without a transform it spaces nx corners (not nx + 1)
 * over [xmin, xmax], so the cells are given their corners explicitly. */
static void draw_cells(PLFLT **g, int nx, int ny, double x0, double x1,
		       double y0, double y1, double lo, double hi)
{
	PLFLT *xg = malloc((size_t)(nx + 1) * sizeof *xg);
	PLFLT *yg = malloc((size_t)(ny + 1) * sizeof *yg);
	PLcGrid grid = {.xg = xg, .yg = yg, .nx = nx + 1, .ny = ny + 1};
	if (xg && yg) {
		for (int i = 0; i <= nx; i++)
			xg[i] = x0 + (x1 - x0) * i / nx;
		for (int j = 0; j <= ny; j++)
			yg[j] = y0 + (y1 - y0) * j / ny;
		plimagefr((PLFLT_MATRIX)g, nx, ny, x0, x1, y0, y1, lo, hi, lo,
			  hi, pltr1, &grid);
	}
	free(xg);
	free(yg);
}

void qt_plot_heatmap(const double *z, int nx, int ny, double x0, double x1,
		     double y0, double y1, double zmin, double zmax, int log)
{
	PLFLT **g;
	double lo = log ? log10(zmin) : zmin, hi = log ? log10(zmax) : zmax;
	double blank = lo - 1 - fabs(lo);
	if (!(hi > lo))
		hi = lo + 1;
	plAlloc2dGrid(&g, nx, ny);
	if (!g)
		return;
	for (int ix = 0; ix < nx; ix++)
		for (int iy = 0; iy < ny; iy++) {
			double v = z[(int64_t)(ny - 1 - iy) * nx + ix];
			if (log)
				v = v > 0 ? log10(v) : NAN;
			/* clip to the scale, as matplotlib's under/over
			 * colours do; NaN (and <= 0 on a log scale) blank */
			v = v < lo ? lo : v > hi ? hi : v;
			g[ix][iy] = isfinite(v) ? v : blank;
		}
	draw_cells(g, nx, ny, to_world(x0, cur.logx), to_world(x1, cur.logx),
		   to_world(y0, cur.logy), to_world(y1, cur.logy), lo, hi);
	plFree2dGrid(g, nx, ny);
}

/* Labels on a colour bar in box b: at most seven. */
static int colorbar_room(qt_box b)
{
	int n = log_room(b, 1);
	return n > 7 ? 7 : n;
}

void qt_plot_colorbar(qt_box b, double zmin, double zmax, int log,
		      const char *label)
{
	enum { N = 256 };
	PLFLT **g;
	double lo = log ? log10(zmin) : zmin, hi = log ? log10(zmax) : zmax;
	double step, lw;
	char yopt[16];
	if (!(hi > lo))
		hi = lo + 1;
	plvpor(b.x0, b.x1, b.y0, b.y1);
	plwind(0, 1, lo, hi);
	plAlloc2dGrid(&g, 1, N);
	if (!g)
		return;
	for (int i = 0; i < N; i++)
		g[0][i] = lo + (i + 0.5) * (hi - lo) / N;
	draw_cells(g, 1, N, 0, 1, lo, hi, lo, hi);
	plFree2dGrid(g, 1, N);
	{	/* a label every three character heights or more */
		int nt = (int)((b.y1 - b.y0) / qt_plot_char_y() / 3);
		step = qt_nice_step(hi - lo, nt < 2 ? 2 : nt > 7 ? 7 : nt, 0);
	}
	fmt.step[1] = step;
	fmt.decimals[1] = step_decimals(step);
	plslabelfunc(label_func, NULL);
	plcol0(QT_COL_INK);
	snprintf(yopt, sizeof yopt, "bc%s", log ? "" : "mtvo");
	plbox("bc", 0, 0, yopt, step, 0);
	plslabelfunc(NULL, NULL);
	if (log)
		draw_log_axis(2, zmin, zmax, colorbar_room(b), 0);
	lw = log ? log_label_width(zmin, zmax, colorbar_room(b))
		 : linear_label_width(lo, hi, step, fmt.decimals[1]);
	if (label)
		plmtex("r", lw + 1.8, 0.5, 0.5, label);
}

void qt_plot_image_grid(qt_box area, int n, int ncols, const double *img,
			int h, int w, const char *const *titles,
			const int *title_colours, double zmin, double zmax,
			int log, const char *bar_label)
{
	double lo = log ? log10(zmin) : zmin, hi = log ? log10(zmax) : zmax;
	double step = qt_nice_step(hi > lo ? hi - lo : 1, 6, 0);
	double right = 1.0 + 1.3 + 0.8 + 2.4 +
		       (log ? log_label_width(zmin, zmax, colorbar_room(area))
			    : linear_label_width(lo, hi, step,
						 step_decimals(step)));
	double top = -1, bottom = 2, cx = qt_plot_char_x();
	int nrows = (n + ncols - 1) / ncols;
	double s = text_scale(), ts = ncols >= 4 ? 0.85 * s : s;
	qt_box grid = qt_plot_inset(area, 0.3, right, 0.6, 0), bar;
	for (int i = 0; i < n; i++) {
		qt_box cell = qt_plot_cell(grid, nrows, ncols, i), fr;
		plschr(0, ts);
		fr = qt_plot_inset(cell, 0.4, 0.4, 0.5,
				   titles && titles[i] ? 2.3 : 0.5);
		fr = qt_plot_fit_aspect(fr, (double)w / h);
		cur = (qt_axes){.xmin = 0, .xmax = w, .ymin = 0, .ymax = h};
		plvpor(fr.x0, fr.x1, fr.y0, fr.y1);
		plwind(0, w, 0, h);
		qt_plot_heatmap(img + (int64_t)i * h * w, w, h, 0, w, 0, h,
				zmin, zmax, log);
		plcol0(QT_COL_INK);
		plbox("bc", 0, 0, "bc", 0, 0);
		if (titles && titles[i]) {
			plcol0(title_colours ? title_colours[i] : QT_COL_INK);
			plmtex("t", 0.9, 0.5, 0.5, titles[i]);
			plcol0(QT_COL_INK);
		}
		top = fr.y1 > top ? fr.y1 : top;
		bottom = fr.y0 < bottom ? fr.y0 : bottom;
	}
	plschr(0, s);
	bar = (qt_box){grid.x1 + 1.0 * cx, grid.x1 + 2.3 * cx, bottom, top};
	qt_plot_colorbar(bar, zmin, zmax, log, bar_label);
}

void qt_plot_image_grid_size(int n, int ncols, int h, int w, int cell,
			     int *width, int *height)
{
	/* The margins of qt_plot_image_grid in default characters: a colour
	 * bar with labels of about five characters at the right, 2.3 above
	 * and 0.5 below each image, the title band of qt_plot_area(1). */
	double c = QT_PLOT_CHAR_PX, imgw = cell - 0.8 * c;
	int nrows = (n + ncols - 1) / ncols;
	*width = (int)(ncols * cell + 0.3 * c + (1.0 + 1.3 + 0.8 + 2.4 + 5) * c);
	*height = (int)(nrows * (imgw * h / w + 2.8 * c) + 0.6 * c + 2.6 * c);
}

double qt_viridis_luminance(double f)
{
	double x = (f < 0 ? 0 : f > 1 ? 1 : f) * 9, c[3];
	int i = x >= 9 ? 8 : (int)x;
	double t = x - i;
	for (int k = 0; k < 3; k++)
		c[k] = ((1 - t) * viridis[i][k] + t * viridis[i + 1][k]) / 255;
	return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
}
