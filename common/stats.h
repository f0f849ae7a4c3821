/* stats.h: streaming summary statistics of tensor fields, in constant
 * memory: count, min, max, mean, standard deviation, NaN/Inf counts, a
 * class (or small-integer) histogram, and rows per sample of ragged
 * fields.  quanta-inspect is a thin loop over these.
 *
 * Moments: values are taken in blocks of 1024; each block's mean and sum of
 * squared deviations come from the corrected two-pass formula in double
 * (Björck; Chan, Golub & LeVeque, "Algorithms for computing the sample
 * variance", 1983), and blocks are combined with Chan et al.'s pairwise
 * update
 *     n = na + nb,  d = mb - ma,  mean = ma + d nb/n,
 *     M2 = M2a + M2b + d^2 na nb / n,
 * which is also how two partial results merge (qt_stats_merge).  The error
 * does not grow with the count the way a naive sum of squares does.
 * NaN and +-Inf are counted apart and left out of the moments and of
 * min/max (numpy's nanmean/nanstd over the finite values).  Values are
 * converted to double first; int64 beyond 2^53 is rounded.
 */
#ifndef QT_STATS_H
#define QT_STATS_H

#include "common/stream.h"
#include <stdint.h>

typedef struct qt_stats {
	int64_t n;        /* finite values */
	double mean;      /* of the finite values; 0 when n == 0 */
	double m2;        /* sum of squared deviations from the mean */
	double min, max;  /* of the finite values; +Inf / -Inf when n == 0 */
	int64_t nan, posinf, neginf;
} qt_stats;

void qt_stats_init(qt_stats *s);
/* Add n values of dtype dt stored at data (C order, any dtype). */
void qt_stats_add(qt_stats *s, qt_dtype dt, const void *data, int64_t n);
void qt_stats_add_doubles(qt_stats *s, const double *x, int64_t n);
/* Merge o into s: the result is as if s had seen o's values too. */
void qt_stats_merge(qt_stats *s, const qt_stats *o);
/* All values seen, finite or not. */
int64_t qt_stats_total(const qt_stats *s);
/* Variance and standard deviation of the finite values with `ddof`
 * degrees of freedom removed (0: population, numpy's default; 1: sample).
 * NaN when n <= ddof. */
double qt_stats_var(const qt_stats *s, int ddof);
double qt_stats_std(const qt_stats *s, int ddof);

/* A tally (a histogram of counts) of class indices (nclasses > 0: bins
 * 0..nclasses-1 and an `other` count for values that are no class index)
 * or of the distinct values of an integer field (nclasses == 0: up to
 * QT_TALLY_MAX_VALUES of them; more sets `overflow` and the counts stop
 * being meaningful). */
#define QT_TALLY_MAX_VALUES 16
typedef struct qt_tally {
	int nclasses;
	int64_t *counts; /* nclasses bins (class mode) */
	int64_t other;
	int nvalues;     /* value mode */
	double values[QT_TALLY_MAX_VALUES];
	int64_t vcounts[QT_TALLY_MAX_VALUES];
	int overflow;
	int last;        /* value mode: bin of the previous value (a cache) */
} qt_tally;

/* Returns 0 or QT_ENOMEM.  Free with qt_tally_free. */
int qt_tally_init(qt_tally *h, int nclasses);
void qt_tally_add(qt_tally *h, double v);
/* Value mode: order the bins by value (call once, before reporting). */
void qt_tally_sort(qt_tally *h);
void qt_tally_free(qt_tally *h);

/* Everything quanta-inspect reports about one field of a stream. */
enum qt_tally_mode {
	QT_TALLY_NONE = 0,
	QT_TALLY_ELEMENTS, /* every element is a class index / a value */
	QT_TALLY_LABELS    /* one label per sample (qt_label_get, argmax) */
};

typedef struct qt_field_stats {
	qt_stats st;      /* every element; index fields: relative to the
			   * sample's first row, i.e. as stored per sample */
	int tally_mode;   /* enum qt_tally_mode */
	int label_kind;   /* for QT_TALLY_LABELS */
	qt_tally tally;
	int64_t samples;
	int64_t rows;     /* ragged: rows over all samples; fixed: samples */
	int64_t min_rows, max_rows; /* ragged: rows per sample */
} qt_field_stats;

/* Choose what to collect for field f: a class histogram when f has class
 * names, a value histogram for integer fields, none for floats and graph
 * indices.  Returns 0 or QT_ENOMEM. */
int qt_field_stats_init(qt_field_stats *fs, const qt_field *f);
/* Add field f of batch b (valid for header h). */
void qt_field_stats_add(qt_field_stats *fs, const qt_header *h, int f,
			const qt_batch *b);
void qt_field_stats_free(qt_field_stats *fs);

#endif
