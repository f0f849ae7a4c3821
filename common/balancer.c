/* balancer.c: equal counts per (group, bin) cell (see balancer.h).
 *
 * First pass: each sample's group becomes a small id (a hash table of the
 * distinct group values) and its key is kept as a double.  Planning bins
 * the keys (numpy.histogram's rule), counts the cells, sorts the sample
 * numbers by cell with a stable counting sort, and then, cell by cell in
 * (group value, bin) order, draws the kept samples: a partial Fisher-Yates
 * shuffle for down-sampling, draws with replacement for up-sampling.
 * Bins below min_count are treated as empty before the targets are set.
 */
#include "common/balancer.h"
#include "common/error.h"
#include "common/rng.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Distinct doubles -> dense ids in order of first appearance. */
struct valset {
	double *v;        /* (n) values by id */
	int n, cap;
	int *slot;        /* (nslot) id + 1, 0 = free */
	int nslot;        /* power of two, > 2 n */
	int *rank;        /* after valset_sort: rank of each id by value */
	int *by_rank;     /* id of each rank */
};

static uint64_t hash_double(double x)
{
	uint64_t z;
	if (x == 0)
		x = 0; /* -0 and +0 are one value */
	memcpy(&z, &x, sizeof z);
	z += 0x9e3779b97f4a7c15ull; /* splitmix64's finaliser */
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static int valset_grow(struct valset *s)
{
	int nslot = s->nslot ? 2 * s->nslot : 64;
	int *slot = calloc((size_t)nslot, sizeof *slot);
	double *v = realloc(s->v, (size_t)nslot / 2 * sizeof *v);
	if (v)
		s->v = v;
	if (!slot || !v) {
		free(slot);
		return qt_error(QT_ENOMEM, "out of memory");
	}
	for (int id = 0; id < s->n; id++) {
		uint64_t h = hash_double(s->v[id]) & (uint64_t)(nslot - 1);
		while (slot[h])
			h = (h + 1) & (uint64_t)(nslot - 1);
		slot[h] = id + 1;
	}
	free(s->slot);
	s->slot = slot;
	s->nslot = nslot;
	s->cap = nslot / 2;
	return 0;
}

/* The id of x, adding it when new; < 0 past `max` values. */
static int valset_id(struct valset *s, double x, int max)
{
	uint64_t h;
	int rc;
	if (s->n + 1 > s->nslot / 2 && (rc = valset_grow(s)) < 0)
		return rc;
	h = hash_double(x) & (uint64_t)(s->nslot - 1);
	while (s->slot[h]) {
		int id = s->slot[h] - 1;
		if (s->v[id] == x)
			return id;
		h = (h + 1) & (uint64_t)(s->nslot - 1);
	}
	if (s->n >= max)
		return QT_EUSAGE;
	s->v[s->n] = x;
	s->slot[h] = ++s->n;
	return s->n - 1;
}

static const double *sort_base;

static int by_value(const void *a, const void *b)
{
	double x = sort_base[*(const int *)a], y = sort_base[*(const int *)b];
	return (x > y) - (x < y);
}

static int valset_sort(struct valset *s)
{
	int n = s->n ? s->n : 1;
	s->rank = malloc((size_t)n * sizeof *s->rank);
	s->by_rank = malloc((size_t)n * sizeof *s->by_rank);
	if (!s->rank || !s->by_rank)
		return qt_error(QT_ENOMEM, "out of memory");
	for (int i = 0; i < s->n; i++)
		s->by_rank[i] = i;
	sort_base = s->v;
	qsort(s->by_rank, (size_t)s->n, sizeof *s->by_rank, by_value);
	for (int r = 0; r < s->n; r++)
		s->rank[s->by_rank[r]] = r;
	return 0;
}

static void valset_free(struct valset *s)
{
	free(s->v);
	free(s->slot);
	free(s->rank);
	free(s->by_rank);
}

struct qt_balancer {
	qt_balance_opts o;
	int64_t n, cap;       /* samples */
	int32_t *group;       /* (n) group ids */
	double *key;          /* (n) keys; freed by planning */
	uint32_t *copies;     /* (n) after planning */
	struct valset groups;
	struct valset labels; /* classes without names: distinct labels */
	int nbins;
	double lo, hi;        /* values: the range binned */
	double kmin, kmax;    /* values: seen */
	int64_t *before, *after; /* (ngroups, nbins) */
	int64_t *target;      /* (ngroups) count per occupied bin */
	int64_t out_of_range, kept;
	int planned;
};

int qt_balancer_new(qt_balancer **bp, const qt_balance_opts *o)
{
	qt_balancer *b;
	*bp = NULL;
	if (o->classes ? o->nclasses < 0 :
	    (o->nbins < 1 || o->nbins > 1000000 ||
	     (o->have_range && !(o->lo < o->hi && isfinite(o->lo) &&
				 isfinite(o->hi)))))
		return qt_error(QT_EUSAGE, "balancer: bad bins or range");
	if (o->min_count < 0 || o->count < 0)
		return qt_error(QT_EUSAGE, "balancer: negative min_count or count");
	if (!(b = calloc(1, sizeof *b)))
		return qt_error(QT_ENOMEM, "out of memory");
	b->o = *o;
	if (b->o.min_count == 0)
		b->o.min_count = 1;
	b->kmin = HUGE_VAL;
	b->kmax = -HUGE_VAL;
	*bp = b;
	return 0;
}

void qt_balancer_free(qt_balancer *b)
{
	if (!b)
		return;
	free(b->group);
	free(b->key);
	free(b->copies);
	valset_free(&b->groups);
	valset_free(&b->labels);
	free(b->before);
	free(b->after);
	free(b->target);
	free(b);
}

static const char *name_or(const char *s, const char *dflt)
{
	return s ? s : dflt;
}

int qt_balancer_add(qt_balancer *b, double group, double key)
{
	int g = 0;
	if (b->n == b->cap) {
		int64_t cap = b->cap ? 2 * b->cap : 1024;
		int32_t *ng = realloc(b->group, (size_t)cap * sizeof *ng);
		if (ng)
			b->group = ng;
		double *nk = realloc(b->key, (size_t)cap * sizeof *nk);
		if (nk)
			b->key = nk;
		if (!ng || !nk)
			return qt_error(QT_ENOMEM, "out of memory (%lld samples)",
					(long long)cap);
		b->cap = cap;
	}
	if (isnan(key) || (!b->o.classes && isinf(key)))
		return qt_error(QT_ENUMERIC, "field '%s' is %s; drop such "
				"samples first (quanta filter --finite %s)",
				name_or(b->o.key_name, "key"),
				isnan(key) ? "NaN" : "infinite",
				name_or(b->o.key_name, "FIELD"));
	if (b->o.group_name) {
		if (isnan(group))
			return qt_error(QT_ENUMERIC, "field '%s' is NaN; drop such "
					"samples first (quanta filter --finite "
					"%s)", b->o.group_name, b->o.group_name);
		if ((g = valset_id(&b->groups, group, QT_BALANCE_MAX_GROUPS)) < 0)
			return g != QT_EUSAGE ? g :
			       qt_error(QT_EUSAGE, "--by %s has more than %d "
					"distinct values; group by a field with a "
					"few values (such as the redshift)",
					b->o.group_name, QT_BALANCE_MAX_GROUPS);
	} else if (b->groups.n == 0 && (g = valset_id(&b->groups, 0, 1)) < 0) {
		return g;
	}
	if (b->o.classes && b->o.nclasses > 0 && (key < 0 ||
						   key >= b->o.nclasses))
		return qt_error(QT_EFORMAT, "label %g of field '%s' is not a "
				"class (the field has %d class names)", key,
				name_or(b->o.key_name, "label"), b->o.nclasses);
	if (b->o.classes && b->o.nclasses == 0) {
		int id = valset_id(&b->labels, key, QT_BALANCE_MAX_GROUPS);
		if (id < 0)
			return id != QT_EUSAGE ? id :
			       qt_error(QT_EUSAGE, "field '%s' has more than %d "
					"distinct labels", name_or(b->o.key_name,
								   "label"),
					QT_BALANCE_MAX_GROUPS);
	}
	if (key < b->kmin)
		b->kmin = key;
	if (key > b->kmax)
		b->kmax = key;
	b->group[b->n] = g;
	b->key[b->n++] = key;
	return 0;
}

/* numpy.histogram's bin of x for equal bins over [lo, hi], or -1. */
static int value_bin(double x, double lo, double hi, int nbins)
{
	double step = (hi - lo) / nbins;
	if (!(x >= lo && x <= hi))
		return -1;
	double f = (x - lo) / (hi - lo) * nbins; /* in [0, nbins] */
	int k = f >= nbins ? nbins - 1 : f > 0 ? (int)f : 0;
	/* Edges as numpy.linspace makes them: k step + lo, the last = hi. */
	if (k > 0 && x < k * step + lo)
		k--;
	else if (k < nbins - 1 && x >= (k + 1) * step + lo)
		k++;
	return k;
}

/* The bin of every key, in place (as a double holding an int). */
static void bin_keys(qt_balancer *b)
{
	if (b->o.classes) {
		b->nbins = b->o.nclasses ? b->o.nclasses : b->labels.n;
		for (int64_t i = 0; i < b->n; i++)
			if (!b->o.nclasses) {
				int id = valset_id(&b->labels, b->key[i], INT32_MAX);
				b->key[i] = b->labels.rank[id];
			}
		return;
	}
	b->nbins = b->o.nbins;
	if (b->o.have_range) {
		b->lo = b->o.lo;
		b->hi = b->o.hi;
	} else if (b->n == 0) {
		b->lo = 0;
		b->hi = 1;
	} else {
		b->lo = b->kmin;
		b->hi = b->kmax;
		if (b->lo == b->hi) {
			b->lo -= 0.5;
			b->hi += 0.5;
		}
	}
	for (int64_t i = 0; i < b->n; i++) {
		int k = value_bin(b->key[i], b->lo, b->hi, b->nbins);
		b->out_of_range += k < 0;
		b->key[i] = k;
	}
}

static int empty_bin_error(const qt_balancer *b, int g, int k)
{
	char gl[96], bl[96];
	const char *key = name_or(b->o.key_name, "key");
	qt_balancer_bin_label(b, k, bl, sizeof bl);
	if (b->o.group_name)
		return qt_error(QT_EUSAGE, "%s %s has no samples in %s bin %d %s; "
				"%s (use --allow-empty to balance the other "
				"bins only, or fewer --bins)", b->o.group_name,
				qt_balancer_group_label(b, g, gl, sizeof gl), key,
				k, bl, b->o.mode == QT_BALANCE_DOWN ?
				"down-sampling would drop the whole group" :
				"there is nothing to copy");
	return qt_error(QT_EUSAGE, "%s bin %d %s has no samples; %s (use "
			"--allow-empty to balance the other bins only, or fewer "
			"--bins)", key, k, bl, b->o.mode == QT_BALANCE_DOWN ?
			"down-sampling would drop every sample" :
			"there is nothing to copy");
}

static int sparse_bin_error(const qt_balancer *b, int g, int k, int64_t n)
{
	char gl[96], bl[96], where[256];
	const char *key = name_or(b->o.key_name, "key");
	qt_balancer_bin_label(b, k, bl, sizeof bl);
	if (b->o.group_name)
		snprintf(where, sizeof where, "%s %s has %lld sample%s in %s bin "
			 "%d %s", b->o.group_name,
			 qt_balancer_group_label(b, g, gl, sizeof gl),
			 (long long)n, n == 1 ? "" : "s", key, k, bl);
	else
		snprintf(where, sizeof where, "%s bin %d %s has %lld sample%s",
			 key, k, bl, (long long)n, n == 1 ? "" : "s");
	return qt_error(QT_EUSAGE, "%s, fewer than --min-count %lld (use "
			"--allow-empty to drop such bins, or a smaller "
			"--min-count)", where, (long long)b->o.min_count);
}

/* Each group's target count per occupied bin (0 when none is). */
static int targets(qt_balancer *b)
{
	int K = b->nbins;
	for (int g = 0; g < b->groups.n; g++) {
		const int64_t *c = b->before + (int64_t)g * K;
		int64_t t = -1;
		for (int k = 0; k < K; k++) {
			if (c[k] < b->o.min_count) {
				if (b->o.allow_empty)
					continue;
				return c[k] == 0 ? empty_bin_error(b, g, k) :
				       sparse_bin_error(b, g, k, c[k]);
			}
			if (t < 0 || (b->o.mode == QT_BALANCE_DOWN ? c[k] < t :
				      c[k] > t))
				t = c[k];
		}
		if (t >= 0 && b->o.count > 0)
			t = b->o.count;
		b->target[g] = t < 0 ? 0 : t;
	}
	return 0;
}

/* Mark t of the n samples p[0..n-1] of one cell, chosen without
 * replacement (a partial Fisher-Yates shuffle of p). */
static void keep_subset(qt_balancer *b, int64_t *p, int64_t n, int64_t t,
			qt_rng *rng)
{
	for (int64_t j = 0; j < t; j++) {
		int64_t r = j + (int64_t)qt_rng_below(rng, (uint64_t)(n - j));
		int64_t tmp = p[j];
		p[j] = p[r];
		p[r] = tmp;
		b->copies[p[j]] = 1;
	}
}

/* Keep all n samples of a cell; in up mode add copies, drawn with
 * replacement, up to t. */
static void keep_all(qt_balancer *b, const int64_t *p, int64_t n, int64_t t,
		     qt_rng *rng)
{
	for (int64_t j = 0; j < n; j++)
		b->copies[p[j]] = 1;
	if (b->o.mode != QT_BALANCE_UP)
		return;
	for (int64_t j = n; j < t; j++)
		b->copies[p[qt_rng_below(rng, (uint64_t)n)]]++;
}

/* Select the samples of cell c (its n samples are p[0..n-1]); returns
 * how many copies it writes. */
static int64_t fill_cell(qt_balancer *b, int64_t c, int64_t *p, qt_rng *rng)
{
	int64_t n = b->before[c], t = b->target[c / b->nbins];
	if (n < b->o.min_count)
		return 0;
	if (b->o.mode == QT_BALANCE_DOWN ? n >= t : n > t) {
		keep_subset(b, p, n, t, rng);
		return t;
	}
	keep_all(b, p, n, t, rng);
	return b->o.mode == QT_BALANCE_UP ? t : n;
}

int qt_balancer_plan(qt_balancer *b)
{
	int K, G, rc = 0;
	int64_t ncell, *start = NULL, *perm = NULL;
	int32_t *cell = NULL;
	qt_rng rng;

	if (b->planned)
		return qt_error(QT_EINTERNAL, "qt_balancer_plan called twice");
	if ((rc = valset_sort(&b->groups)) < 0 ||
	    (rc = valset_sort(&b->labels)) < 0)
		return rc;
	bin_keys(b);
	K = b->nbins;
	G = b->groups.n;
	ncell = (int64_t)G * K;
	b->before = calloc((size_t)(ncell ? ncell : 1), sizeof *b->before);
	b->after = calloc((size_t)(ncell ? ncell : 1), sizeof *b->after);
	b->copies = calloc((size_t)(b->n ? b->n : 1), sizeof *b->copies);
	start = calloc((size_t)ncell + 1, sizeof *start);
	b->target = calloc((size_t)(G ? G : 1), sizeof *b->target);
	perm = malloc((size_t)(b->n ? b->n : 1) * sizeof *perm);
	cell = malloc((size_t)(b->n ? b->n : 1) * sizeof *cell);
	if (!b->before || !b->after || !b->copies || !start || !b->target ||
	    !perm || !cell) {
		rc = qt_error(QT_ENOMEM, "out of memory");
		goto out;
	}
	for (int64_t i = 0; i < b->n; i++) {
		int k = (int)b->key[i];
		cell[i] = k < 0 ? -1 : b->groups.rank[b->group[i]] * K + k;
		if (cell[i] >= 0)
			b->before[cell[i]]++;
	}
	if ((rc = targets(b)) < 0)
		goto out;
	/* Stable counting sort of the sample numbers by cell. */
	for (int64_t c = 0; c < ncell; c++)
		start[c + 1] = start[c] + b->before[c];
	{
		int64_t *fill = b->after; /* reused as cursors, reset below */
		for (int64_t i = 0; i < b->n; i++)
			if (cell[i] >= 0)
				perm[start[cell[i]] + fill[cell[i]]++] = i;
	}
	qt_rng_seed(&rng, b->o.seed, 0);
	b->kept = 0;
	for (int64_t c = 0; c < ncell; c++) {
		b->after[c] = fill_cell(b, c, perm + start[c], &rng);
		b->kept += b->after[c];
	}
	b->planned = 1;
out:
	free(b->key);
	b->key = NULL;
	free(start);
	free(perm);
	free(cell);
	return rc;
}

uint32_t qt_balancer_copies(const qt_balancer *b, int64_t i)
{
	return b->planned && i >= 0 && i < b->n ? b->copies[i] : 0;
}

int64_t qt_balancer_samples(const qt_balancer *b)
{
	return b->n;
}

int64_t qt_balancer_kept(const qt_balancer *b)
{
	return b->kept;
}

int64_t qt_balancer_out_of_range(const qt_balancer *b)
{
	return b->out_of_range;
}

int qt_balancer_ngroups(const qt_balancer *b)
{
	return b->groups.n;
}

int qt_balancer_nbins(const qt_balancer *b)
{
	return b->nbins;
}

void qt_balancer_range(const qt_balancer *b, double *lo, double *hi)
{
	*lo = b->lo;
	*hi = b->hi;
}

int64_t qt_balancer_count(const qt_balancer *b, int g, int k, int after)
{
	if (!b->before || g < 0 || g >= b->groups.n || k < 0 || k >= b->nbins)
		return 0;
	return (after ? b->after : b->before)[(int64_t)g * b->nbins + k];
}

int qt_balancer_cell(const qt_balancer *b, int g, int k)
{
	int64_t n = qt_balancer_count(b, g, k, 0);
	if (n == 0)
		return QT_CELL_EMPTY;
	if (n < b->o.min_count)
		return QT_CELL_SPARSE;
	return qt_balancer_count(b, g, k, 1) < qt_balancer_target(b, g) ?
	       QT_CELL_SHORT : QT_CELL_TARGET;
}

int64_t qt_balancer_target(const qt_balancer *b, int g)
{
	if (!b->target || g < 0 || g >= b->groups.n)
		return 0;
	return b->target[g];
}

const char *qt_balancer_group_label(const qt_balancer *b, int g, char *buf,
				    size_t len)
{
	double v;
	if (!b->o.group_name || !b->groups.by_rank || g < 0 ||
	    g >= b->groups.n) {
		snprintf(buf, len, "all");
		return buf;
	}
	v = b->groups.v[b->groups.by_rank[g]];
	if (b->o.group_classes && v >= 0 && v < b->o.ngroup_classes &&
	    v == floor(v))
		snprintf(buf, len, "%s", b->o.group_classes[(int)v]);
	else
		snprintf(buf, len, "%g", v);
	return buf;
}

const char *qt_balancer_bin_label(const qt_balancer *b, int k, char *buf,
				  size_t len)
{
	if (b->o.classes) {
		if (b->o.nclasses && b->o.key_classes)
			snprintf(buf, len, "%s", b->o.key_classes[k]);
		else if (b->o.nclasses || !b->labels.by_rank)
			snprintf(buf, len, "%d", k);
		else
			snprintf(buf, len, "%g", b->labels.v[b->labels.by_rank[k]]);
		return buf;
	}
	double step = (b->hi - b->lo) / b->nbins;
	double a = k * step + b->lo, e = k + 1 == b->nbins ? b->hi :
						       (k + 1) * step + b->lo;
	snprintf(buf, len, "[%g, %g%c", a, e, k + 1 == b->nbins ? ']' : ')');
	return buf;
}
