/* balancer.h: equal sample counts per bin, within groups (quanta-balance).
 *
 * Every sample has a group (the value of a --by field, e.g. the redshift;
 * one group when there is none) and a key: a number to put into one of
 * `nbins` equal-width bins (e.g. the neutral fraction xHI), or a class
 * label.  The balancer takes one (group, key) pair per sample in stream
 * order, then plans how many copies of each sample to write so that within
 * every group every bin holds the same number of samples:
 *
 *   down: each bin keeps a uniformly random subset (without replacement)
 *         of the size of the group's smallest bin;
 *   up:   each bin keeps all its samples and draws copies of them, with
 *         replacement, up to the size of the group's largest bin (as
 *         imbalanced-learn's RandomOverSampler does).
 *
 * A bin with fewer than min_count samples (default 1) counts as empty.
 * An empty bin inside a group is an error (down-sampling would empty the
 * group; up-sampling has nothing to copy) unless allow_empty is set: then
 * the group's empty bins stay empty (their samples are dropped) and the
 * others are balanced among themselves; empty bins never set the target.
 *
 * With count > 0 the target of every occupied bin is `count` instead of
 * the group's smallest (down) or largest (up) bin: bins with more samples
 * keep a random subset of `count`; bins with fewer are kept whole (down,
 * "short" bins) or topped up with copies drawn with replacement (up).  Groups are the distinct values seen; bins of values follow
 * numpy.histogram: edges lo + k (hi - lo) / nbins (in double precision),
 * every bin half-open [a, b) except the last [a, hi]; values outside
 * [lo, hi] are dropped and counted.  Without a range, [lo, hi] is the
 * data's [min, max] (widened by 0.5 each way when they are equal, as numpy
 * does).
 *
 * Determinism: the plan depends only on the pairs, their order and the
 * seed.  Cells (group in increasing value, then bin) are visited in order,
 * each drawing from one Philox stream (common/rng.h).
 *
 * Memory: 16 bytes per sample, plus 12 more per sample while planning,
 * plus two counts per (group, bin) cell.
 */
#ifndef QT_BALANCER_H
#define QT_BALANCER_H

#include <stddef.h>
#include <stdint.h>

enum qt_balance_mode { QT_BALANCE_DOWN = 0, QT_BALANCE_UP = 1 };

/* At most this many groups, and distinct labels without class names. */
#define QT_BALANCE_MAX_GROUPS 10000

typedef struct qt_balance_opts {
	int mode;          /* enum qt_balance_mode */
	int classes;       /* 1: keys are class labels; 0: values to bin */
	int nbins;         /* values: number of bins (>= 1) */
	int have_range;    /* values: 1 when lo/hi are given */
	double lo, hi;     /* values: the binned range (lo < hi) */
	int nclasses;      /* classes: labels are 0..nclasses-1 (the header's
			    * class names); 0: the distinct labels seen */
	int allow_empty;   /* skip empty bins instead of failing */
	int64_t min_count; /* bins with fewer samples count as empty (0: 1) */
	int64_t count;     /* the target per bin; 0: the smallest / largest */
	uint64_t seed;
	/* For messages and labels only (may be NULL): */
	const char *key_name;            /* the binned / class field */
	const char *group_name;          /* the --by field; NULL: one group */
	char *const *key_classes;        /* nclasses names of the labels */
	char *const *group_classes;      /* class names of the group field */
	int ngroup_classes;
} qt_balance_opts;

typedef struct qt_balancer qt_balancer;

/* A balancer with options o (copied; the name arrays must outlive it).
 * QT_EUSAGE for inconsistent options, QT_ENOMEM. */
int qt_balancer_new(qt_balancer **b, const qt_balance_opts *o);
void qt_balancer_free(qt_balancer *b);

/* The next sample: its group value (ignored without a group field) and
 * its key (a value, or a label).  QT_ENUMERIC for NaN (or an infinite
 * value of a binned key), QT_EFORMAT for a label that is no class, and
 * QT_EUSAGE past QT_BALANCE_MAX_GROUPS groups or labels. */
int qt_balancer_add(qt_balancer *b, double group, double key);

/* Decide the copies of every sample.  QT_EUSAGE naming the group and bin
 * when a bin is empty (or below min_count) and allow_empty is not set. */
int qt_balancer_plan(qt_balancer *b);

/* After planning: copies of sample i (0-based, in the order added). */
uint32_t qt_balancer_copies(const qt_balancer *b, int64_t i);

/* ---- for the report (after planning) ---- */
int64_t qt_balancer_samples(const qt_balancer *b);     /* added */
int64_t qt_balancer_kept(const qt_balancer *b);        /* copies, total */
int64_t qt_balancer_out_of_range(const qt_balancer *b);
int qt_balancer_ngroups(const qt_balancer *b);
int qt_balancer_nbins(const qt_balancer *b);
/* The range that was binned (values only). */
void qt_balancer_range(const qt_balancer *b, double *lo, double *hi);
/* Samples of group g (in increasing group value) and bin k, before and
 * after balancing. */
int64_t qt_balancer_count(const qt_balancer *b, int g, int k, int after);
/* What balancing did to bin k of group g. */
enum qt_balance_cell {
	QT_CELL_EMPTY = 0,  /* no samples */
	QT_CELL_SPARSE = 1, /* fewer than min_count: all dropped */
	QT_CELL_SHORT = 2,  /* below the target, kept whole (down, count) */
	QT_CELL_TARGET = 3  /* holds the group's target */
};
int qt_balancer_cell(const qt_balancer *b, int g, int k);
/* The count per occupied bin of group g (0 when it has none). */
int64_t qt_balancer_target(const qt_balancer *b, int g);
/* Group g as text: its class name, or its value ("8.5"). */
const char *qt_balancer_group_label(const qt_balancer *b, int g, char *buf,
				    size_t len);
/* Bin k as text: "[0.3, 0.4)", a class name, or a label value. */
const char *qt_balancer_bin_label(const qt_balancer *b, int k, char *buf,
				  size_t len);

#endif
