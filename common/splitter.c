/* splitter.c: exact streaming split assignment, and the grouped split
 * (see splitter.h). */
#include "common/splitter.h"
#include "common/error.h"
#include "common/rng.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct qt_splitter {
	int nparts;
	double frac[QT_SPLIT_MAX_PARTS];
	uint64_t seed, windows; /* window w draws from Philox stream w */
	int nstrata, cap;     /* strata in use, allocated */
	int64_t *keys;        /* (cap) */
	int64_t *counts;      /* (cap, nparts) */
	int64_t *seen;        /* (cap) samples of the stratum so far */
	int *table;           /* open addressing: stratum + 1, 0 empty (2 cap) */
	int64_t total[QT_SPLIT_MAX_PARTS];
};

/* Check nparts fractions (each in [0, 1], summing to 1 within 1e-9) and
 * store them, normalised, in out. */
static int check_fractions(int nparts, const double *frac, double *out)
{
	double sum = 0;
	if (nparts < 1 || nparts > QT_SPLIT_MAX_PARTS)
		return qt_error(QT_EUSAGE, "a split has 1 to %d parts",
				QT_SPLIT_MAX_PARTS);
	for (int k = 0; k < nparts; k++) {
		if (!(frac[k] >= 0 && frac[k] <= 1))
			return qt_error(QT_EUSAGE, "split fractions must lie "
					"in [0, 1]");
		sum += frac[k];
	}
	if (fabs(sum - 1) > 1e-9)
		return qt_error(QT_EUSAGE, "split fractions add up to %g, not 1",
				sum);
	for (int k = 0; k < nparts; k++)
		out[k] = frac[k] / sum;
	return 0;
}

int qt_splitter_new(qt_splitter **sp, int nparts, const double *frac,
		    uint64_t seed)
{
	qt_splitter *s;
	double norm[QT_SPLIT_MAX_PARTS];
	int rc = check_fractions(nparts, frac, norm);
	if (rc < 0)
		return rc;
	s = calloc(1, sizeof *s);
	if (!s)
		return qt_error(QT_ENOMEM, "out of memory");
	s->nparts = nparts;
	memcpy(s->frac, norm, (size_t)nparts * sizeof *norm);
	s->seed = seed;
	*sp = s;
	return 0;
}

void qt_splitter_free(qt_splitter *s)
{
	if (!s)
		return;
	free(s->keys);
	free(s->counts);
	free(s->seen);
	free(s->table);
	free(s);
}

static uint64_t hash(int64_t key)
{
	uint64_t x = (uint64_t)key;
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	return x;
}

static void table_put(int *table, int cap, int64_t key, int idx)
{
	uint64_t mask = (uint64_t)cap * 2 - 1, h = hash(key) & mask;
	while (table[h])
		h = (h + 1) & mask;
	table[h] = idx + 1;
}

static int grow(qt_splitter *s)
{
	int cap = s->cap ? s->cap * 2 : 16;
	int64_t *keys = realloc(s->keys, (size_t)cap * sizeof *keys);
	if (keys)
		s->keys = keys;
	int64_t *counts = realloc(s->counts, (size_t)cap * (size_t)s->nparts *
				  sizeof *counts);
	if (counts)
		s->counts = counts;
	int64_t *seen = realloc(s->seen, (size_t)cap * sizeof *seen);
	if (seen)
		s->seen = seen;
	int *table = calloc((size_t)cap * 2, sizeof *table);
	if (!keys || !counts || !seen || !table) {
		free(table);
		return qt_error(QT_ENOMEM, "out of memory");
	}
	for (int i = 0; i < s->nstrata; i++)
		table_put(table, cap, s->keys[i], i);
	free(s->table);
	s->table = table;
	s->cap = cap;
	return 0;
}

/* Index of the stratum of `key`, made on first sight; < 0 on error. */
static int stratum(qt_splitter *s, int64_t key)
{
	int rc;
	if (s->cap) {
		uint64_t mask = (uint64_t)s->cap * 2 - 1, h = hash(key) & mask;
		for (; s->table[h]; h = (h + 1) & mask)
			if (s->keys[s->table[h] - 1] == key)
				return s->table[h] - 1;
	}
	if (s->nstrata == QT_SPLIT_MAX_STRATA)
		return qt_error(QT_EUSAGE, "more than %d strata: is the "
				"stratification field a class label?",
				QT_SPLIT_MAX_STRATA);
	if (s->nstrata == s->cap && (rc = grow(s)) < 0)
		return rc;
	int i = s->nstrata++;
	s->keys[i] = key;
	s->seen[i] = 0;
	memset(s->counts + (size_t)i * (size_t)s->nparts, 0,
	       (size_t)s->nparts * sizeof *s->counts);
	table_put(s->table, s->cap, key, i);
	return i;
}

int qt_splitter_assign(qt_splitter *s, const int64_t *key, int64_t n,
		       uint8_t *part)
{
	int64_t *order = malloc((size_t)(n ? n : 1) * sizeof *order);
	qt_rng rng;
	int rc = 0;
	if (!order)
		return qt_error(QT_ENOMEM, "out of memory");
	qt_rng_seed(&rng, s->seed, s->windows++);
	qt_rng_permutation(&rng, order, n);
	for (int64_t i = 0; i < n; i++) {
		int64_t j = order[i];
		int st = stratum(s, key ? key[j] : 0), best = 0;
		if (st < 0) {
			rc = st;
			break;
		}
		int64_t *c = s->counts + (size_t)st * (size_t)s->nparts;
		double m = (double)++s->seen[st], bd = -INFINITY;
		for (int k = 0; k < s->nparts; k++) {
			double d = m * s->frac[k] - (double)c[k];
			if (s->frac[k] > 0 && d > bd) {
				bd = d;
				best = k;
			}
		}
		c[best]++;
		s->total[best]++;
		part[j] = (uint8_t)best;
	}
	free(order);
	return rc;
}

int64_t qt_splitter_count(const qt_splitter *s, int k)
{
	return k >= 0 && k < s->nparts ? s->total[k] : 0;
}

int qt_splitter_nstrata(const qt_splitter *s)
{
	return s->nstrata;
}

int64_t qt_splitter_stratum_count(const qt_splitter *s, int64_t key, int k)
{
	if (!s->cap || k < 0 || k >= s->nparts)
		return 0;
	uint64_t mask = (uint64_t)s->cap * 2 - 1, h = hash(key) & mask;
	for (; s->table[h]; h = (h + 1) & mask)
		if (s->keys[s->table[h] - 1] == key)
			return s->counts[(size_t)(s->table[h] - 1) *
					 (size_t)s->nparts + (size_t)k];
	return 0;
}

/* ---- grouped split ---- */

struct group {
	double value;
	int64_t n;   /* samples */
	int part;
};

struct qt_group_splitter {
	int nparts;
	double frac[QT_SPLIT_MAX_PARTS];
	uint64_t seed;
	struct group *g;  /* (cap) distinct values; sorted by planning */
	int n, cap;
	int *slot;        /* (2 cap) open addressing: index + 1, 0 free */
	int64_t count[QT_SPLIT_MAX_PARTS];  /* samples per part */
	int64_t groups[QT_SPLIT_MAX_PARTS]; /* groups per part */
	int planned;
};

int qt_group_splitter_new(qt_group_splitter **gp, int nparts,
			  const double *frac, uint64_t seed)
{
	qt_group_splitter *g;
	double norm[QT_SPLIT_MAX_PARTS];
	int rc = check_fractions(nparts, frac, norm);
	*gp = NULL;
	if (rc < 0)
		return rc;
	if (!(g = calloc(1, sizeof *g)))
		return qt_error(QT_ENOMEM, "out of memory");
	g->nparts = nparts;
	memcpy(g->frac, norm, (size_t)nparts * sizeof *norm);
	g->seed = seed;
	*gp = g;
	return 0;
}

void qt_group_splitter_free(qt_group_splitter *g)
{
	if (!g)
		return;
	free(g->g);
	free(g->slot);
	free(g);
}

static uint64_t value_hash(double v)
{
	int64_t bits;
	if (v == 0)
		v = 0; /* -0 and +0 are one group */
	memcpy(&bits, &v, sizeof bits);
	return hash(bits);
}

/* The slot holding v, or the free slot where v belongs. */
static uint64_t group_slot(const qt_group_splitter *g, double v)
{
	uint64_t mask = (uint64_t)g->cap * 2 - 1, h = value_hash(v) & mask;
	while (g->slot[h] && g->g[g->slot[h] - 1].value != v)
		h = (h + 1) & mask;
	return h;
}

/* Rebuild the table for the groups' current order. */
static void group_rehash(qt_group_splitter *g)
{
	memset(g->slot, 0, (size_t)g->cap * 2 * sizeof *g->slot);
	for (int i = 0; i < g->n; i++)
		g->slot[group_slot(g, g->g[i].value)] = i + 1;
}

static int group_grow(qt_group_splitter *g)
{
	int cap = g->cap ? 2 * g->cap : 64;
	struct group *ng = realloc(g->g, (size_t)cap * sizeof *ng);
	if (ng)
		g->g = ng;
	int *slot = calloc((size_t)cap * 2, sizeof *slot);
	if (!ng || !slot) {
		free(slot);
		return qt_error(QT_ENOMEM, "out of memory (%d groups)", cap);
	}
	free(g->slot);
	g->slot = slot;
	g->cap = cap;
	group_rehash(g);
	return 0;
}

int qt_group_splitter_add(qt_group_splitter *g, double v)
{
	uint64_t h;
	int rc;
	if (g->planned)
		return qt_error(QT_EINTERNAL, "qt_group_splitter_add after "
				"planning");
	if (isnan(v))
		return qt_error(QT_ENUMERIC, "the group value is NaN");
	if (v == 0)
		v = 0;
	if (!g->cap && (rc = group_grow(g)) < 0)
		return rc;
	h = group_slot(g, v);
	if (g->slot[h]) {
		g->g[g->slot[h] - 1].n++;
		return 0;
	}
	if (g->n == QT_SPLIT_MAX_GROUPS)
		return qt_error(QT_EUSAGE, "more than %d distinct group values: "
				"group by a field such as a simulation run, not "
				"one that differs for every sample",
				QT_SPLIT_MAX_GROUPS);
	if (g->n == g->cap) {
		if ((rc = group_grow(g)) < 0)
			return rc;
		h = group_slot(g, v);
	}
	g->g[g->n] = (struct group){.value = v, .n = 1};
	g->slot[h] = ++g->n;
	return 0;
}

static int by_value(const void *a, const void *b)
{
	double x = ((const struct group *)a)->value;
	double y = ((const struct group *)b)->value;
	return (x > y) - (x < y);
}

/* The part furthest below its share of `total` samples (ties: the lower
 * one; parts of fraction 0 never). */
static int neediest_part(const qt_group_splitter *g, int64_t total)
{
	double best_deficit = -INFINITY;
	int best = 0;
	for (int k = 0; k < g->nparts; k++) {
		double d = (double)total * g->frac[k] - (double)g->count[k];
		if (g->frac[k] > 0 && d > best_deficit) {
			best_deficit = d;
			best = k;
		}
	}
	return best;
}

int qt_group_splitter_plan(qt_group_splitter *g)
{
	int64_t assigned = 0, *order;
	qt_rng rng;
	if (g->planned)
		return qt_error(QT_EINTERNAL, "qt_group_splitter_plan called "
				"twice");
	if (!(order = malloc((size_t)(g->n ? g->n : 1) * sizeof *order)))
		return qt_error(QT_ENOMEM, "out of memory");
	if (g->n) {
		qsort(g->g, (size_t)g->n, sizeof *g->g, by_value);
		group_rehash(g);
	}
	qt_rng_seed(&rng, g->seed, 0);
	qt_rng_permutation(&rng, order, g->n);
	for (int i = 0; i < g->n; i++) {
		struct group *gr = &g->g[order[i]];
		assigned += gr->n;
		gr->part = neediest_part(g, assigned);
		g->count[gr->part] += gr->n;
		g->groups[gr->part]++;
	}
	free(order);
	g->planned = 1;
	return 0;
}

int qt_group_splitter_part(const qt_group_splitter *g, double v)
{
	uint64_t h;
	if (!g->planned)
		return qt_error(QT_EINTERNAL, "qt_group_splitter_part before "
				"planning");
	if (g->cap && !isnan(v)) {
		h = group_slot(g, v == 0 ? 0 : v);
		if (g->slot[h])
			return g->g[g->slot[h] - 1].part;
	}
	return qt_error(QT_EFORMAT, "group value %g was not seen in the first "
			"pass (did the input change?)", v);
}

int64_t qt_group_splitter_count(const qt_group_splitter *g, int k)
{
	return k >= 0 && k < g->nparts ? g->count[k] : 0;
}

int64_t qt_group_splitter_groups(const qt_group_splitter *g, int k)
{
	return k >= 0 && k < g->nparts ? g->groups[k] : 0;
}

int64_t qt_group_splitter_ngroups(const qt_group_splitter *g)
{
	return g->n;
}
