/* plot.h: figures for quanta plot-data, drawn with PLplot's cairo
 * drivers (pngcairo, svgcairo, pdfcairo).
 *
 * What this adds to PLplot: a palette that reads on paper (white
 * background, dark ink, the Okabe-Ito colour-blind-safe qualitative
 * colours for series, viridis for heatmaps), atomic output files, figure
 * layout in grids of panels, axes with labelled frames, heatmaps with a
 * labelled colour bar, legends and text in boxes.  A new kind of plot is a
 * function in stages/plot-data.c that calls these.
 *
 *   qt_fig *fig;
 *   if ((rc = qt_fig_open(&fig, "loss.png", 900, 600)) < 0) ...
 *   qt_box panel = qt_plot_cell(qt_plot_area(1), 1, 2, 0);
 *   qt_axes ax = {.xmin = 1, .xmax = 10, .ymin = 0, .ymax = 1,
 *                 .xlabel = "epoch", .ylabel = "loss", .grid = 1};
 *   qt_plot_axes(qt_plot_axes_frame(panel, &ax), &ax);
 *   qt_plot_line(n, x, y, qt_series_colour(0), 2.0, 0);
 *   rc = qt_fig_close(fig);   // or qt_fig_abort(fig) on failure
 *
 * Coordinates: a qt_box is a rectangle in normalised figure coordinates
 * (0..1 from the left and from the bottom).  Drawing calls after
 * qt_plot_axes take data (world) coordinates of that panel; on a log axis
 * they take the data values themselves (not their logarithms) and skip
 * values <= 0.
 *
 * PLplot is one global state: one figure at a time, from one thread.
 * PLplot ends the process on a fatal error of its own; the handler set by
 * qt_fig_open removes the unfinished file and prints the one-line
 * `quanta-STAGE: ...` message first (exit status 1).
 */
#ifndef QT_PLOT_H
#define QT_PLOT_H

#include <stddef.h>
#include <stdint.h>

/* Colour indices (PLplot cmap0) of the palette. */
enum {
	QT_COL_BG = 0,     /* white */
	QT_COL_INK = 1,    /* near black: frames, text */
	QT_COL_GRID = 2,   /* light grey grid lines */
	QT_COL_MUTED = 3,  /* mid grey: reference lines, secondary text */
	QT_COL_WHITE = 4,  /* white ink (text on dark cells) */
	QT_COL_SERIES = 5  /* first of QT_NSERIES series colours */
};
#define QT_NSERIES 7

/* The default character height in pixels (PNG) or points (SVG, PDF), for
 * sizing a figure to its content before it is opened. */
#define QT_PLOT_CHAR_PX 14.0

/* Colour index of series i (Okabe-Ito: blue, vermillion, bluish green,
 * orange, reddish purple, sky blue, yellow; then again). */
int qt_series_colour(int i);

typedef struct qt_box {
	double x0, x1, y0, y1;
} qt_box;

typedef struct qt_fig qt_fig;

/* The PLplot device for an output name: ".png" pngcairo, ".svg"
 * svgcairo, ".pdf" pdfcairo (case-insensitive).  Returns 0 or QT_EUSAGE
 * naming the extensions known. */
int qt_fig_device(const char *path, const char **device);

/* Parse "WxH" (pixels for PNG, points for SVG and PDF; 100..10000). */
int qt_fig_parse_size(const char *s, int *width, int *height);

/* Start a figure written to `path` (under a temporary name in the same
 * folder until qt_fig_close).  Returns 0, QT_EUSAGE (unknown extension)
 * or QT_EIO (the folder cannot be written). */
int qt_fig_open(qt_fig **fig, const char *path, int width, int height);
/* Finish the figure and rename it into place.  Returns 0 or QT_EIO
 * (nothing left behind then). */
int qt_fig_close(qt_fig *fig);
/* Finish and remove the temporary file. */
void qt_fig_abort(qt_fig *fig);

/* ---- layout ---- */

/* Width over height of the page (pixels or points). */
double qt_plot_page_aspect(void);
/* The figure minus a band at the top for `title_lines` lines of a
 * figure title (0: the whole figure). */
qt_box qt_plot_area(int title_lines);
/* Cell i (row-major from the top left) of an nrows x ncols grid. */
qt_box qt_plot_cell(qt_box area, int nrows, int ncols, int i);
/* The box shrunk by margins given in character heights of the current
 * text size (left, right, bottom, top). */
qt_box qt_plot_inset(qt_box b, double left, double right, double bottom,
		     double top);
/* The largest box of physical width/height `aspect` centred in b. */
qt_box qt_plot_fit_aspect(qt_box b, double aspect);
/* Character height as a fraction of the figure height and width. */
double qt_plot_char_y(void);
double qt_plot_char_x(void);
/* Width of a text in character heights (for margins). */
double qt_plot_text_width(const char *text);
/* Text size relative to the default (1.0). */
void qt_plot_text_scale(double scale);

/* Check a label given on the command line (option `what`, e.g.
 * "--units"): 1 to `max` bytes of printable text.  Returns 0 or
 * QT_EUSAGE. */
int qt_plot_check_label(const char *text, const char *what, size_t max);

/* A title centred at the top of the figure. */
void qt_plot_suptitle(const char *text);

/* ---- axes and data ---- */

typedef struct qt_axes {
	double xmin, xmax, ymin, ymax;   /* data values (positive when log) */
	int logx, logy;
	int grid;                        /* light grid at the major ticks */
	int no_xticks, no_yticks;        /* frame only on that axis */
	double xtick, ytick;             /* major tick steps, 0: automatic */
	const char *xlabel, *ylabel, *title;
} qt_axes;

/* The frame that leaves room inside `outer` for the tick labels, axis
 * labels and title of `a`. */
qt_box qt_plot_axes_frame(qt_box outer, const qt_axes *a);
/* Draw the frame, ticks, tick labels, axis labels and panel title in box
 * `b` (the frame itself; labels go outside it), and make its data
 * coordinates current. */
void qt_plot_axes(qt_box b, const qt_axes *a);

/* Line styles: 0 solid, 1 dashed, 2 dotted, 3 dash-dot, 4 long-short
 * dashes, 5 dash-dot-dot. */
#define QT_NSTYLES 6

/* A polyline; NaN (or <= 0 on a log axis) breaks it; style as above. */
void qt_plot_line(int64_t n, const double *x, const double *y, int colour,
		  double width, int style);
/* Filled circle markers of diameter `size` character heights, with
 * opacity alpha (0..1). */
void qt_plot_points(int64_t n, const double *x, const double *y, int colour,
		    double alpha, double size);
/* A histogram: nbins bins between edges[0..nbins], heights h, filled
 * with opacity fill_alpha (0: not filled), outlined in line style
 * `style` except along empty bins. */
void qt_plot_steps(int nbins, const double *edges, const double *h,
		   int colour, double width, double fill_alpha, int style);
/* Text at data coordinates (x, y); just 0 left, 0.5 centre, 1 right;
 * scale relative to the current text size. */
void qt_plot_text(double x, double y, double just, double scale, int colour,
		  const char *text);

/* Text outside (or inside, disp < 0) the frame of the current panel, as
 * PLplot's plmtex: side "b", "t", "l", "r" ("lv", "rv": written
 * horizontally), `disp` character heights from the frame, `pos` 0..1
 * along it, `just` 0 left .. 1 right. */
void qt_plot_margin_text(const char *side, double disp, double pos,
			 double just, int colour, const char *text);

/* A legend in a corner of the current panel: corner 0 top right, 1 top
 * left, 2 bottom right, 3 bottom left.  kinds[i]: 0 line, 1 dashed line,
 * 2 marker, 3 filled box. */
void qt_plot_legend(int corner, int n, const char *const *labels,
		    const int *colours, const int *kinds);
/* The same with the line style of each entry's line or box outline
 * (styles NULL: as qt_plot_legend). */
void qt_plot_legend_styled(int corner, int n, const char *const *labels,
			   const int *colours, const int *kinds,
			   const int *styles);
/* The corner, of the ncorners in `order`, where the legend of n labels
 * covers the fewest of the npts markers (x, y) of diameter `size`
 * character heights (data values of the current panel); ties go to the
 * earlier corner in `order`. */
int qt_plot_legend_corner(int n, const char *const *labels, int64_t npts,
			  const double *x, const double *y, double size,
			  const int *order, int ncorners);

/* ---- heatmaps ---- */

/* Cells of z (ny rows of nx values, row 0 drawn at the top, as images
 * are stored) over the data rectangle [x0,x1] x [y0,y1] of the current
 * panel, coloured by viridis from zmin to zmax (log10 of both when log).
 * Values outside [zmin, zmax] get the colour of the nearer end; NaN, and
 * values <= 0 when log, are left white. */
void qt_plot_heatmap(const double *z, int nx, int ny, double x0, double x1,
		     double y0, double y1, double zmin, double zmax, int log);
/* A vertical colour bar in box b for the range [zmin, zmax] (log: a
 * logarithmic scale), its label along the right side. */
void qt_plot_colorbar(qt_box b, double zmin, double zmax, int log,
		      const char *label);
/* A grid of n images img (n, h, w) (row 0 of each drawn at the top),
 * ncols per row, filling `area` with one colour scale [zmin, zmax]
 * (logarithmic when log) shared by all and a colour bar labelled
 * `bar_label` at the right.  titles[i] (titles may be NULL) goes above
 * image i in colour title_colours[i] (NULL: ink). */
void qt_plot_image_grid(qt_box area, int n, int ncols, const double *img,
			int h, int w, const char *const *titles,
			const int *title_colours, double zmin, double zmax,
			int log, const char *bar_label);
/* A figure size (pixels) for qt_plot_image_grid under a one-line title:
 * ncols images of `cell` pixels width per row, heights to their aspect. */
void qt_plot_image_grid_size(int n, int ncols, int h, int w, int cell,
			     int *width, int *height);
/* Relative luminance (0 dark .. 1 light) of the viridis colour at
 * fraction f, to pick white or dark text on a cell. */
double qt_viridis_luminance(double f);

/* The smallest "nice" step (1, 2 or 5 times a power of ten) that divides
 * `range` into at most `n` steps; integer steps only when `integer`. */
double qt_nice_step(double range, int n, int integer);

#endif
