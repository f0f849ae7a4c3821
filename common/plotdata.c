/* plotdata.c: data gathering for quanta plot-data (see plotdata.h):
 * JSON-lines training logs (jansson), image extraction, histograms with
 * groups, and reservoir sampling (Vitter's algorithm R: item i replaces a
 * random kept item with probability cap / (i + 1)). */
#include "common/plotdata.h"
#include "common/error.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- training logs ---- */

static int add_key(qt_trainlog *log, const char *key)
{
	char **k = realloc(log->keys, (size_t)(log->nkeys + 1) * sizeof *k);
	double *v;
	if (!k)
		return qt_error(QT_ENOMEM, "out of memory");
	log->keys = k;
	if (!(k[log->nkeys] = strdup(key)))
		return qt_error(QT_ENOMEM, "out of memory");
	/* Widen the table by one column, NaN in the rows so far. */
	v = malloc((size_t)(log->nrows > 0 ? log->nrows : 1) *
		   (size_t)(log->nkeys + 1) * sizeof *v);
	if (!v) {
		free(k[log->nkeys]);
		return qt_error(QT_ENOMEM, "out of memory");
	}
	for (int r = 0; r < log->nrows; r++) {
		memcpy(v + (size_t)r * (log->nkeys + 1),
		       log->v + (size_t)r * log->nkeys,
		       (size_t)log->nkeys * sizeof *v);
		v[(size_t)r * (log->nkeys + 1) + log->nkeys] = NAN;
	}
	free(log->v);
	log->v = v;
	return log->nkeys++;
}

int qt_trainlog_key(const qt_trainlog *log, const char *key)
{
	for (int i = 0; i < log->nkeys; i++)
		if (!strcmp(log->keys[i], key))
			return i;
	return -1;
}

static int add_row(qt_trainlog *log, json_t *o)
{
	const char *key;
	json_t *val;
	int r = log->nrows, rc;
	double *v = realloc(log->v, (size_t)(r + 1) *
			    (size_t)(log->nkeys ? log->nkeys : 1) * sizeof *v);
	double *e = realloc(log->epoch, (size_t)(r + 1) * sizeof *e);
	if (v)
		log->v = v;
	if (e)
		log->epoch = e;
	if (!v || !e)
		return qt_error(QT_ENOMEM, "out of memory");
	for (int k = 0; k < log->nkeys; k++)
		log->v[(size_t)r * log->nkeys + k] = NAN;
	log->epoch[r] = r + 1;
	log->nrows++;
	json_object_foreach(o, key, val) {
		int k;
		if (!json_is_number(val))
			continue;
		if (!strcmp(key, "epoch")) {
			log->epoch[r] = json_number_value(val);
			continue;
		}
		if ((k = qt_trainlog_key(log, key)) < 0 &&
		    (k = rc = add_key(log, key)) < 0)
			return rc;
		log->v[(size_t)r * log->nkeys + k] = json_number_value(val);
	}
	return 0;
}

int qt_trainlog_read(const char *path, qt_trainlog *log)
{
	FILE *f;
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	int lineno = 0, rc = 0;
	memset(log, 0, sizeof *log);
	if (!(f = fopen(path, "r")))
		return qt_error(QT_EUSAGE, "cannot open '%s': %s", path,
				strerror(errno));
	while ((len = getline(&line, &cap, f)) >= 0) {
		json_error_t err;
		json_t *o;
		const char *p = line;
		lineno++;
		while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
			p++;
		if (!*p)
			continue;
		if (!(o = json_loads(line, JSON_DECODE_ANY, &err))) {
			rc = qt_error(QT_EFORMAT, "%s:%d:%d: %s", path, lineno,
				      err.column, err.text);
			break;
		}
		if (!json_is_object(o)) {
			json_decref(o);
			rc = qt_error(QT_EFORMAT, "%s:%d: not a JSON object "
				      "(one {\"epoch\": ..., \"loss\": ...} per "
				      "line)", path, lineno);
			break;
		}
		rc = add_row(log, o);
		json_decref(o);
		if (rc < 0)
			break;
	}
	if (!rc && ferror(f))
		rc = qt_error(QT_EIO, "cannot read %s: %s", path,
			      strerror(errno));
	if (!rc && log->nrows == 0)
		rc = qt_error(QT_EFORMAT, "%s: no epochs in the log", path);
	free(line);
	fclose(f);
	if (rc < 0)
		qt_trainlog_free(log);
	return rc;
}

void qt_trainlog_free(qt_trainlog *log)
{
	for (int i = 0; i < log->nkeys; i++)
		free(log->keys[i]);
	free(log->keys);
	free(log->epoch);
	free(log->v);
	memset(log, 0, sizeof *log);
}

/* ---- images ---- */

int qt_image_dims(const qt_field *f, int64_t *channels, int64_t *h,
		  int64_t *w)
{
	char buf[96];
	if ((f->ndim == 2 || f->ndim == 3) && f->shape[0] > 0 &&
	    f->shape[f->ndim - 1] > 0 && f->shape[f->ndim - 2] > 0) {
		*channels = f->ndim == 3 ? f->shape[0] : 1;
		*h = f->shape[f->ndim - 2];
		*w = f->shape[f->ndim - 1];
		if (*h * *w <= 4096 * 4096)
			return 0;
	}
	return qt_error(QT_ESHAPE, "field '%s' has shape %s per sample: "
			"images must be (H, W) or (C, H, W)", f->name,
			qt_shape_str(buf, sizeof buf, f->ndim, f->shape));
}

void qt_image_get(const qt_tensor *t, int64_t i, int64_t channels,
		  int64_t channel, int64_t hw, double *out)
{
	int64_t base = (i * channels + channel) * hw;
	if (t->dtype == QT_F32) {
		const float *p = (const float *)t->data + base;
		for (int64_t k = 0; k < hw; k++)
			out[k] = p[k];
		return;
	}
	for (int64_t k = 0; k < hw; k++)
		out[k] = qt_tensor_get(t, base + k);
}

/* ---- histograms ---- */

int qt_hist_init(qt_hist *h, int nbins, int fixed, double lo, double hi)
{
	memset(h, 0, sizeof *h);
	if (nbins < 1 || nbins > 100000)
		return qt_error(QT_EUSAGE, "%d bins: give 1 to 100000", nbins);
	if (fixed && !(hi > lo))
		return qt_error(QT_EUSAGE, "the range needs lower < upper");
	h->nbins = nbins;
	h->fixed = fixed;
	h->lo = lo;
	h->hi = hi;
	h->h = calloc((size_t)QT_HIST_MAX_GROUPS * (size_t)nbins,
		      sizeof *h->h);
	if (!h->h)
		return qt_error(QT_ENOMEM, "out of memory");
	return 0;
}

void qt_hist_free(qt_hist *h)
{
	free(h->h);
	free(h->vals);
	free(h->grp);
	memset(h, 0, sizeof *h);
}

static int bin_of(const qt_hist *h, double v)
{
	int b;
	if (v < h->lo || v > h->hi)
		return -1;
	b = (int)((v - h->lo) / (h->hi - h->lo) * h->nbins);
	return b >= h->nbins ? h->nbins - 1 : b; /* the last bin is closed */
}

static void count(qt_hist *h, double v, int g)
{
	int b = bin_of(h, v);
	if (b < 0) {
		h->outside++;
		return;
	}
	h->h[(size_t)g * h->nbins + b] += 1;
	h->count[g]++;
}

int qt_hist_add(qt_hist *h, double v, double gv)
{
	int g;
	if (!isfinite(v))
		return qt_error(QT_ENUMERIC, "value %g is not finite", v);
	if (!isfinite(gv))
		return qt_error(QT_ENUMERIC, "group value %g is not finite", gv);
	for (g = 0; g < h->ngroups && h->group[g] != gv; g++)
		;
	if (g == h->ngroups) {
		if (g == QT_HIST_MAX_GROUPS)
			return qt_error(QT_EFORMAT, "more than %d distinct "
					"group values (a group field should "
					"hold a class or a few values such as "
					"redshifts)", QT_HIST_MAX_GROUPS);
		h->group[h->ngroups++] = gv;
	}
	if (h->fixed) {
		count(h, v, g);
		return 0;
	}
	if (h->nvals == h->cap) {
		int64_t cap = h->cap ? 2 * h->cap : 4096;
		double *nv = realloc(h->vals, (size_t)cap * sizeof *nv);
		int8_t *ng;
		if (!nv)
			return qt_error(QT_ENOMEM, "out of memory keeping %lld "
					"values (give --range to bin on the "
					"fly)", (long long)h->nvals);
		h->vals = nv;
		if (!(ng = realloc(h->grp, (size_t)cap)))
			return qt_error(QT_ENOMEM, "out of memory");
		h->grp = ng;
		h->cap = cap;
	}
	h->vals[h->nvals] = v;
	h->grp[h->nvals++] = (int8_t)g;
	return 0;
}

int qt_hist_finish(qt_hist *h)
{
	int order[QT_HIST_MAX_GROUPS];
	double group[QT_HIST_MAX_GROUPS], *hh;
	int64_t cnt[QT_HIST_MAX_GROUPS];
	if (!h->fixed) {
		double lo = INFINITY, hi = -INFINITY;
		if (h->nvals == 0)
			return qt_error(QT_EFORMAT, "no values to histogram");
		for (int64_t i = 0; i < h->nvals; i++) {
			lo = h->vals[i] < lo ? h->vals[i] : lo;
			hi = h->vals[i] > hi ? h->vals[i] : hi;
		}
		if (!(hi > lo)) { /* one value: a bin of width 1 around it */
			lo -= 0.5;
			hi += 0.5;
		}
		h->lo = lo;
		h->hi = hi;
		for (int64_t i = 0; i < h->nvals; i++)
			count(h, h->vals[i], h->grp[i]);
	} else if (h->ngroups == 0) {
		return qt_error(QT_EFORMAT, "no values to histogram");
	}
	/* Sort groups by value (insertion sort of at most 12). */
	for (int g = 0; g < h->ngroups; g++)
		order[g] = g;
	for (int i = 1; i < h->ngroups; i++)
		for (int j = i; j > 0 && h->group[order[j]] <
					 h->group[order[j - 1]]; j--) {
			int t = order[j];
			order[j] = order[j - 1];
			order[j - 1] = t;
		}
	hh = malloc((size_t)h->ngroups * (size_t)h->nbins * sizeof *hh);
	if (!hh)
		return qt_error(QT_ENOMEM, "out of memory");
	for (int r = 0; r < h->ngroups; r++) {
		int g = order[r];
		group[r] = h->group[g];
		cnt[r] = h->count[g];
		memcpy(hh + (size_t)r * h->nbins, h->h + (size_t)g * h->nbins,
		       (size_t)h->nbins * sizeof *hh);
	}
	memcpy(h->group, group, (size_t)h->ngroups * sizeof *group);
	memcpy(h->count, cnt, (size_t)h->ngroups * sizeof *cnt);
	memcpy(h->h, hh, (size_t)h->ngroups * (size_t)h->nbins * sizeof *hh);
	free(hh);
	return 0;
}

/* ---- reservoir ---- */

int qt_reservoir_init(qt_reservoir *r, int64_t cap, uint64_t seed)
{
	memset(r, 0, sizeof *r);
	r->cap = cap;
	r->min = INFINITY;
	r->max = -INFINITY;
	r->x = malloc((size_t)cap * sizeof *r->x);
	r->y = malloc((size_t)cap * sizeof *r->y);
	if (!r->x || !r->y) {
		qt_reservoir_free(r);
		return qt_error(QT_ENOMEM, "out of memory");
	}
	qt_rng_seed(&r->rng, seed, 0);
	return 0;
}

void qt_reservoir_add(qt_reservoir *r, double x, double y)
{
	int64_t j;
	r->min = x < r->min ? x : r->min;
	r->min = y < r->min ? y : r->min;
	r->max = x > r->max ? x : r->max;
	r->max = y > r->max ? y : r->max;
	if (r->n < r->cap) {
		r->x[r->n] = x;
		r->y[r->n++] = y;
	} else if ((j = (int64_t)qt_rng_below(&r->rng,
					      (uint64_t)r->seen + 1)) < r->cap) {
		r->x[j] = x;
		r->y[j] = y;
	}
	r->seen++;
}

void qt_reservoir_free(qt_reservoir *r)
{
	free(r->x);
	free(r->y);
	memset(r, 0, sizeof *r);
}
