/* splitter.c: exact streaming split assignment (see splitter.h). */
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

int qt_splitter_new(qt_splitter **sp, int nparts, const double *frac,
		    uint64_t seed)
{
	qt_splitter *s;
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
	s = calloc(1, sizeof *s);
	if (!s)
		return qt_error(QT_ENOMEM, "out of memory");
	s->nparts = nparts;
	for (int k = 0; k < nparts; k++)
		s->frac[k] = frac[k] / sum;
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
