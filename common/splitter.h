/* splitter.h: seeded, exact, streaming assignment of samples to the parts
 * of a split (train / validation / test), optionally stratified.
 *
 * Samples arrive in windows (quanta-split cuts windows of a fixed number
 * of samples).  For window w the splitter draws a random permutation from
 * Philox stream w of the seed (common/rng.h) and walks the window in that
 * order; each sample goes to the part
 * furthest below its target share within the sample's stratum (its class):
 * with n samples of the stratum seen so far including this one, the part
 * k maximising n * frac[k] - count[k] (ties: the lower k).
 *
 * Properties (tests/unit/test_splitter.c checks them):
 *   - exact: after every sample, each stratum's count of each part is
 *     floor or ceil of n * frac[k] (the largest-deficit rule keeps the
 *     discrepancy below one), so the fractions and the class proportions
 *     of every part hold to within one sample per class, at the end of
 *     any stream, without knowing its length in advance;
 *   - random: within a window the samples of a stratum that go to a part
 *     are a uniformly random subset of the right size (the permutation is
 *     uniform and the deficit sequence does not look at the samples), so
 *     a periodic order in the input cannot leak into a part;
 *   - deterministic: the same seed, fractions and window sizes give the
 *     same assignment;
 *   - constant memory: a few counters per stratum.
 *
 * Grouped split (qt_group_splitter, below): every sample carries a group
 * value (e.g. the simulation run it came from) and all samples of a group
 * go to the same part.  This needs every group's size before the first
 * decision, so it takes two passes: qt_group_splitter_add counts the
 * samples of each distinct value, qt_group_splitter_plan assigns the
 * groups, qt_group_splitter_part looks a group's part up.  Planning sorts
 * the distinct values, shuffles them with Philox stream 0 of the seed,
 * and walks them in that order giving each group to the part furthest
 * below its share of the samples, as the ungrouped splitter does: with m
 * the samples of the groups walked so far including this one, the part k
 * maximising m * frac[k] - count[k] (ties: the lower k; parts with
 * fraction 0 get nothing).  So:
 *   - fractions count samples: a part never exceeds N * frac[k] (N: all
 *     samples) by as much as one group (the chosen part is below its
 *     share before the group joins it), so each part ends within about
 *     one group of its share, and the parts' excesses are what the
 *     others lack;
 *   - which groups go where is random for the seed; with groups of equal
 *     size the groups of a part are a uniformly random subset;
 *   - the plan depends only on the distinct values, their sample counts
 *     and the seed, not on the order of the samples;
 *   - memory: 24 bytes and two or four table slots per distinct value,
 *     8 more while planning.
 */
#ifndef QT_SPLITTER_H
#define QT_SPLITTER_H

#include <stdint.h>

#define QT_SPLIT_MAX_PARTS 8
#define QT_SPLIT_MAX_STRATA 65536
#define QT_SPLIT_MAX_GROUPS (1 << 24)

typedef struct qt_splitter qt_splitter;

/* nparts fractions, each >= 0, summing to 1 (normalised here; QT_EUSAGE
 * when the sum is not within 1e-9 of 1).  Returns 0 or an error. */
int qt_splitter_new(qt_splitter **sp, int nparts, const double *frac,
		    uint64_t seed);
void qt_splitter_free(qt_splitter *sp);

/* Assign a window of n samples: key[i] is sample i's stratum (any int64,
 * e.g. a class index; NULL: one stratum for all), part[i] receives its
 * part.  QT_EUSAGE when more than QT_SPLIT_MAX_STRATA distinct keys
 * appear, QT_ENOMEM when out of memory. */
int qt_splitter_assign(qt_splitter *sp, const int64_t *key, int64_t n,
		       uint8_t *part);

/* Samples given to part k so far (all strata); the number of strata. */
int64_t qt_splitter_count(const qt_splitter *sp, int k);
int qt_splitter_nstrata(const qt_splitter *sp);
/* Counts of stratum `key` (0 if never seen). */
int64_t qt_splitter_stratum_count(const qt_splitter *sp, int64_t key, int k);

/* ---- grouped split ---- */

typedef struct qt_group_splitter qt_group_splitter;

/* Fractions and seed as for qt_splitter_new. */
int qt_group_splitter_new(qt_group_splitter **gp, int nparts,
			  const double *frac, uint64_t seed);
void qt_group_splitter_free(qt_group_splitter *g);

/* Count one sample of the group whose value is v (-0 and +0 are one
 * group).  QT_ENUMERIC for NaN, QT_EUSAGE past QT_SPLIT_MAX_GROUPS
 * distinct values, QT_ENOMEM.  Only before planning. */
int qt_group_splitter_add(qt_group_splitter *g, double v);

/* Assign every group to a part (once, after the last add). */
int qt_group_splitter_plan(qt_group_splitter *g);

/* After planning: the part of group v, or QT_EFORMAT for a value that
 * was never added. */
int qt_group_splitter_part(const qt_group_splitter *g, double v);

/* After planning: samples and groups given to part k; distinct groups. */
int64_t qt_group_splitter_count(const qt_group_splitter *g, int k);
int64_t qt_group_splitter_groups(const qt_group_splitter *g, int k);
int64_t qt_group_splitter_ngroups(const qt_group_splitter *g);

#endif
