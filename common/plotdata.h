/* plotdata.h: the data behind quanta plot-data's pictures, gathered with
 * bounded memory: training logs (JSON lines), image samples, per-class
 * image sums, histograms (by group) and a uniform random sample of
 * (x, y) points.  Drawing is in plot.h.
 */
#ifndef QT_PLOTDATA_H
#define QT_PLOTDATA_H

#include "common/rng.h"
#include "common/stream.h"

#include <stdint.h>

/* ---- training logs ----
 * One JSON object per line, as `quanta train --log` writes:
 *   {"epoch": 1, "loss": 0.91, "val_loss": 0.95, "accuracy": 0.62, ...}
 * Every numeric key becomes a column; other values are ignored; a key
 * missing from a line is NaN there.  "epoch" (else the line number) is
 * the x axis.  Blank lines are skipped. */
typedef struct qt_trainlog {
	int nrows, nkeys;
	char **keys;     /* (nkeys), in order of first appearance */
	double *epoch;   /* (nrows) */
	double *v;       /* (nrows, nkeys), NaN where missing */
} qt_trainlog;

/* Errors: QT_EUSAGE when the file cannot be opened, QT_EFORMAT (with
 * file:line) for a line that is not a JSON object, or no line at all. */
int qt_trainlog_read(const char *path, qt_trainlog *log);
/* Index of a key, or -1. */
int qt_trainlog_key(const qt_trainlog *log, const char *key);
void qt_trainlog_free(qt_trainlog *log);

/* ---- images ---- */

/* Image dimensions of a field of per-sample shape (H, W) or (C, H, W):
 * *channels = 1 for (H, W).  QT_ESHAPE for any other shape. */
int qt_image_dims(const qt_field *f, int64_t *channels, int64_t *h,
		  int64_t *w);
/* Channel `channel` of sample i of a batch tensor (n, [C,] H, W) as
 * doubles into out (H * W). */
void qt_image_get(const qt_tensor *t, int64_t i, int64_t channels,
		  int64_t channel, int64_t hw, double *out);

/* ---- histograms ----
 * Values with an optional group value each (e.g. the class or the
 * redshift); one histogram per distinct group value, at most
 * QT_HIST_MAX_GROUPS.  With a fixed range, counts are binned on the fly
 * (constant memory); without one, values are kept (12 bytes per value)
 * until qt_hist_finish picks the range from their minimum and maximum. */
#define QT_HIST_MAX_GROUPS 12

typedef struct qt_hist {
	int nbins, ngroups, fixed;
	double lo, hi;
	double group[QT_HIST_MAX_GROUPS];  /* group values, sorted by finish */
	int64_t count[QT_HIST_MAX_GROUPS]; /* values per group (in range) */
	double *h;                         /* (ngroups, nbins) counts */
	int64_t outside;                   /* values outside a fixed range */
	double *vals;                      /* kept values (no fixed range) */
	int8_t *grp;
	int64_t nvals, cap;
} qt_hist;

int qt_hist_init(qt_hist *h, int nbins, int fixed, double lo, double hi);
/* Add value v of group g (pass 0 for a single histogram).  NaN and Inf
 * are QT_ENUMERIC; a 13th distinct group is QT_EFORMAT. */
int qt_hist_add(qt_hist *h, double v, double g);
/* Bin kept values, sort groups by value.  QT_EFORMAT when there is no
 * value at all. */
int qt_hist_finish(qt_hist *h);
void qt_hist_free(qt_hist *h);

/* ---- a uniform sample of points (reservoir sampling, algorithm R) ----
 * Keeps at most `cap` of the (x, y) pairs offered, each pair with equal
 * probability, and the minimum and maximum of all of them. */
typedef struct qt_reservoir {
	int64_t cap, n, seen;
	double *x, *y;
	double min, max;   /* over x and y of every pair seen */
	qt_rng rng;
} qt_reservoir;

int qt_reservoir_init(qt_reservoir *r, int64_t cap, uint64_t seed);
void qt_reservoir_add(qt_reservoir *r, double x, double y);
void qt_reservoir_free(qt_reservoir *r);

#endif
