/* plotkinds.h: the finished pictures of quanta plot-data, one function per
 * kind, each drawing data already gathered (common/plotdata.h) into a new
 * figure file (common/plot.h).  Callable from tests without a process.
 *
 * Every function opens the figure at f->path, draws, and closes it; on
 * failure nothing is left at f->path.  Returns 0 or a QT_E* code.
 */
#ifndef QT_PLOTKINDS_H
#define QT_PLOTKINDS_H

#include "common/plotdata.h"

#include <stdint.h>

typedef struct qt_figspec {
	const char *path;     /* .png, .svg or .pdf */
	int width, height;    /* 0: a default that fits the content */
	const char *title;    /* NULL: the kind's default title */
} qt_figspec;

/* Training curves: series keys[0..nkeys-1] (columns of log) in one panel
 * per metric, "val_M" dashed in the panel of "M"; at most 8 panels
 * (QT_EUSAGE beyond).  `source` names the log in the default title. */
int qt_draw_curves(const qt_figspec *f, const qt_trainlog *log,
		   const int *keys, int nkeys, int logy, const char *source);

/* A confusion matrix counts (C, C) [truth][pred] with class names, colour
 * by counts or (normalise) by the fraction of the true class. */
int qt_draw_confusion(const qt_figspec *f, int nclasses, char *const *names,
		      const int64_t *counts, int normalise);

/* n images img (n, h, w) in a grid with one colour scale: [min, max], or
 * for log [largest / 1e6 or the smallest positive value, largest].
 * titles/title_colours as qt_plot_image_grid; ncols 0: about square. */
int qt_draw_images(const qt_figspec *f, const char *default_title, int n,
		   int ncols, const double *img, int h, int w,
		   const char *const *titles, const int *title_colours,
		   int log, const char *bar_label);

/* Finished histograms (qt_hist_finish done) with one name per group
 * (names NULL for a single unnamed histogram); density divides each by its
 * count and bin width (in place). */
int qt_draw_hist(const qt_figspec *f, qt_hist *hs, char *const *names,
		 const char *xlabel, const char *default_title, int density,
		 int log);

/* Sampled points with the y = x line and R^2 over all of them. */
int qt_draw_scatter(const qt_figspec *f, const qt_reservoir *r, double r2,
		    const char *xlabel, const char *ylabel);

#endif
