/* stats.c: streaming moments, histograms and per-field summaries
 * (see stats.h for the formulas). */
#include "common/stats.h"
#include "common/error.h"
#include "common/label.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define BLOCK 1024

void qt_stats_init(qt_stats *s)
{
	memset(s, 0, sizeof *s);
	s->min = INFINITY;
	s->max = -INFINITY;
}

/* Fold a partial result (nb finite values, mean mb, M2 m2b) into s. */
static void merge_moments(qt_stats *s, int64_t nb, double mb, double m2b)
{
	int64_t na = s->n, n;
	double d;
	if (nb == 0)
		return;
	if (na == 0) {
		s->n = nb;
		s->mean = mb;
		s->m2 = m2b;
		return;
	}
	n = na + nb;
	d = mb - s->mean;
	s->mean += d * ((double)nb / (double)n);
	s->m2 += m2b + d * d * ((double)na * (double)nb / (double)n);
	s->n = n;
}

/* One block, any values: counts, min/max, then the corrected two-pass
 * moments. */
static void add_block_general(qt_stats *s, const double *x, int n)
{
	int64_t cnt = 0;
	double sum = 0, mn = s->min, mx = s->max, m, d1 = 0, d2 = 0;
	for (int i = 0; i < n; i++) {
		double v = x[i];
		if (isnan(v)) {
			s->nan++;
		} else if (isinf(v)) {
			if (v > 0)
				s->posinf++;
			else
				s->neginf++;
		} else {
			cnt++;
			sum += v;
			if (v < mn)
				mn = v;
			if (v > mx)
				mx = v;
		}
	}
	s->min = mn;
	s->max = mx;
	if (!cnt)
		return;
	m = sum / (double)cnt;
	for (int i = 0; i < n; i++)
		if (isfinite(x[i])) {
			double d = x[i] - m;
			d1 += d;
			d2 += d * d;
		}
	/* d1 is the rounding error of the first pass; it corrects both. */
	merge_moments(s, cnt, m + d1 / (double)cnt,
		      fmax(0.0, d2 - d1 * d1 / (double)cnt));
}

/* The same block, when every value is finite (the common case), with
 * LANES independent partial sums that the compiler keeps in vector
 * registers; the lanes are merged in a fixed order, so the result does
 * not depend on the machine.  x holds float32 (f32 != 0) or float64
 * values; inlined with a constant f32, the test folds away.  Returns 0,
 * having changed nothing, when the block holds a NaN or an Inf (the sum
 * is then not finite; also a float64 sum that overflows): add_block's
 * general loop counts those. */
#define LANES 16

/* Sum of the lanes, pairwise in a fixed order (destroys a). */
static inline __attribute__((always_inline)) double lane_sum(double *a)
{
	for (int w = LANES / 2; w > 0; w /= 2)
		for (int j = 0; j < w; j++)
			a[j] += a[j + w];
	return a[0];
}

/* Value i into lane j: the sum, and min and max (as floats for
 * float32, which is exact and twice as many to a vector). */
static inline __attribute__((always_inline)) void
take(double *acc, double *lo, double *hi, float *lof, float *hif, int j,
     const float *xf, const double *xd, int i, int f32)
{
	if (f32) {
		float v = xf[i];
		acc[j] += (double)v;
		lof[j] = v < lof[j] ? v : lof[j];
		hif[j] = v > hif[j] ? v : hif[j];
	} else {
		double v = xd[i];
		acc[j] += v;
		lo[j] = v < lo[j] ? v : lo[j];
		hi[j] = v > hi[j] ? v : hi[j];
	}
}

static inline __attribute__((always_inline)) int
add_finite_block(qt_stats *s, const void *x, int f32, int n)
{
	const float *xf = x;
	const double *xd = x;
	double acc[LANES] = {0}, lo[LANES], hi[LANES], e1[LANES] = {0},
	       e2[LANES] = {0}, sum, m, mn = s->min, mx = s->max;
	float lof[LANES], hif[LANES];
	int i, whole = n - n % LANES;
	for (int j = 0; j < LANES; j++) {
		lo[j] = lof[j] = INFINITY;
		hi[j] = hif[j] = -INFINITY;
	}
	for (i = 0; i < whole; i += LANES)
		for (int j = 0; j < LANES; j++)
			take(acc, lo, hi, lof, hif, j, xf, xd, i + j, f32);
	for (; i < n; i++)
		take(acc, lo, hi, lof, hif, i % LANES, xf, xd, i, f32);
	sum = lane_sum(acc);
	if (!isfinite(sum))
		return 0;
	m = sum / (double)n;
	for (i = 0; i < whole; i += LANES)
		for (int j = 0; j < LANES; j++) {
			double d = (f32 ? (double)xf[i + j] : xd[i + j]) - m;
			e1[j] += d;
			e2[j] += d * d;
		}
	for (; i < n; i++) {
		double d = (f32 ? (double)xf[i] : xd[i]) - m;
		e1[i % LANES] += d;
		e2[i % LANES] += d * d;
	}
	for (int j = 0; j < LANES; j++) {
		double l = f32 ? (double)lof[j] : lo[j];
		double h = f32 ? (double)hif[j] : hi[j];
		mn = l < mn ? l : mn;
		mx = h > mx ? h : mx;
	}
	s->min = mn;
	s->max = mx;
	double d1 = lane_sum(e1), d2 = lane_sum(e2);
	/* d1 is the rounding error of the first pass; it corrects both. */
	merge_moments(s, n, m + d1 / (double)n,
		      fmax(0.0, d2 - d1 * d1 / (double)n));
	return 1;
}

/* One block: counts, min/max, then the corrected two-pass moments. */
static void add_block(qt_stats *s, const double *x, int n)
{
	if (n > 0 && add_finite_block(s, x, 0, n))
		return;
	add_block_general(s, x, n);
}

static void add_block_f32(qt_stats *s, const float *x, int n)
{
	double buf[BLOCK];
	if (n > 0 && add_finite_block(s, x, 1, n))
		return;
	for (int i = 0; i < n; i++)
		buf[i] = x[i];
	add_block_general(s, buf, n);
}

void qt_stats_add_doubles(qt_stats *s, const double *x, int64_t n)
{
	for (int64_t i = 0; i < n; i += BLOCK)
		add_block(s, x + i, (int)(n - i < BLOCK ? n - i : BLOCK));
}

#define CONVERT(T)                                                      \
	for (int j = 0; j < k; j++)                                     \
		buf[j] = (double)((const T *)data)[i + j];              \
	break

void qt_stats_add(qt_stats *s, qt_dtype dt, const void *data, int64_t n)
{
	double buf[BLOCK];
	if (dt == QT_F64) {
		qt_stats_add_doubles(s, data, n);
		return;
	}
	if (dt == QT_F32) {
		for (int64_t i = 0; i < n; i += BLOCK)
			add_block_f32(s, (const float *)data + i,
				      (int)(n - i < BLOCK ? n - i : BLOCK));
		return;
	}
	for (int64_t i = 0; i < n; i += BLOCK) {
		int k = (int)(n - i < BLOCK ? n - i : BLOCK);
		switch (dt) {
		case QT_I8: CONVERT(int8_t);
		case QT_I16: CONVERT(int16_t);
		case QT_I32: CONVERT(int32_t);
		case QT_I64: CONVERT(int64_t);
		case QT_U8: case QT_BOOL: CONVERT(uint8_t);
		case QT_U16: CONVERT(uint16_t);
		case QT_U32: CONVERT(uint32_t);
		case QT_U64: CONVERT(uint64_t);
		default: return;
		}
		add_block(s, buf, k);
	}
}

void qt_stats_merge(qt_stats *s, const qt_stats *o)
{
	merge_moments(s, o->n, o->mean, o->m2);
	if (o->min < s->min)
		s->min = o->min;
	if (o->max > s->max)
		s->max = o->max;
	s->nan += o->nan;
	s->posinf += o->posinf;
	s->neginf += o->neginf;
}

int64_t qt_stats_total(const qt_stats *s)
{
	return s->n + s->nan + s->posinf + s->neginf;
}

double qt_stats_var(const qt_stats *s, int ddof)
{
	if (s->n <= ddof)
		return NAN;
	return s->m2 / (double)(s->n - ddof);
}

double qt_stats_std(const qt_stats *s, int ddof)
{
	return sqrt(qt_stats_var(s, ddof));
}

/* ---- histograms ---- */

int qt_tally_init(qt_tally *h, int nclasses)
{
	memset(h, 0, sizeof *h);
	h->nclasses = nclasses > 0 ? nclasses : 0;
	if (h->nclasses) {
		h->counts = calloc((size_t)h->nclasses, sizeof *h->counts);
		if (!h->counts)
			return qt_error(QT_ENOMEM, "out of memory");
	}
	return 0;
}

void qt_tally_add(qt_tally *h, double v)
{
	if (h->nclasses) {
		if (v >= 0 && v < h->nclasses && v == floor(v))
			h->counts[(int)v]++;
		else
			h->other++;
		return;
	}
	if (h->overflow)
		return;
	if (h->nvalues && h->values[h->last] == v) {
		h->vcounts[h->last]++;
		return;
	}
	for (int i = 0; i < h->nvalues; i++)
		if (h->values[i] == v) {
			h->vcounts[i]++;
			h->last = i;
			return;
		}
	if (h->nvalues == QT_TALLY_MAX_VALUES || isnan(v)) {
		h->overflow = 1;
		return;
	}
	h->values[h->nvalues] = v;
	h->vcounts[h->nvalues] = 1;
	h->last = h->nvalues++;
}

void qt_tally_sort(qt_tally *h)
{
	for (int i = 1; i < h->nvalues; i++)
		for (int j = i; j > 0 && h->values[j - 1] > h->values[j]; j--) {
			double v = h->values[j];
			int64_t c = h->vcounts[j];
			h->values[j] = h->values[j - 1];
			h->vcounts[j] = h->vcounts[j - 1];
			h->values[j - 1] = v;
			h->vcounts[j - 1] = c;
		}
	h->last = 0;
}

void qt_tally_free(qt_tally *h)
{
	free(h->counts);
	h->counts = NULL;
}

/* ---- per-field summaries ---- */

int qt_field_stats_init(qt_field_stats *fs, const qt_field *f)
{
	int kind;
	memset(fs, 0, sizeof *fs);
	qt_stats_init(&fs->st);
	fs->min_rows = INT64_MAX;
	fs->max_rows = 0;
	if (f->index_of[0])
		return 0;
	if (f->nclasses > 0) {
		kind = qt_label_kind(f);
		qt_error_clear();
		if (kind == QT_LABEL_ARGMAX) {
			fs->tally_mode = QT_TALLY_LABELS;
			fs->label_kind = kind;
		} else {
			fs->tally_mode = QT_TALLY_ELEMENTS;
		}
		return qt_tally_init(&fs->tally, f->nclasses);
	}
	if (!qt_dtype_is_float(f->dtype)) {
		fs->tally_mode = QT_TALLY_ELEMENTS;
		return qt_tally_init(&fs->tally, 0);
	}
	return 0;
}

/* Graph indices as stored per sample: minus the sample's first row. */
static void add_index_field(qt_field_stats *fs, const qt_header *h, int f,
			    const qt_batch *b)
{
	const qt_field *fd = &h->fields[f];
	int tf = qt_header_find(h, fd->index_of);
	const int64_t *ip = b->ptr[f]->data, *tp = b->ptr[tf]->data;
	int64_t per = qt_shape_numel(fd->ndim - 1, fd->shape + 1);
	double buf[BLOCK];
	int k = 0;
	for (int64_t s = 0; s < b->n; s++)
		for (int64_t e = ip[s] * per; e < ip[s + 1] * per; e++) {
			buf[k++] = qt_tensor_get(b->t[f], e) - (double)tp[s];
			if (k == BLOCK) {
				add_block(&fs->st, buf, k);
				k = 0;
			}
		}
	if (k)
		add_block(&fs->st, buf, k);
}

void qt_field_stats_add(qt_field_stats *fs, const qt_header *h, int f,
			const qt_batch *b)
{
	const qt_field *fd = &h->fields[f];
	const qt_tensor *t = b->t[f];
	int64_t numel = qt_tensor_numel(t);

	fs->samples += b->n;
	fs->rows += t->shape[0];
	if (b->ptr[f]) {
		const int64_t *p = b->ptr[f]->data;
		for (int64_t s = 0; s < b->n; s++) {
			int64_t r = p[s + 1] - p[s];
			if (r < fs->min_rows)
				fs->min_rows = r;
			if (r > fs->max_rows)
				fs->max_rows = r;
		}
	}
	if (fd->index_of[0])
		add_index_field(fs, h, f, b);
	else
		qt_stats_add(&fs->st, t->dtype, t->data, numel);

	if (fs->tally_mode == QT_TALLY_LABELS) {
		for (int64_t s = 0; s < b->n; s++) {
			int64_t lab;
			if (qt_label_get(fd, fs->label_kind, t, s, &lab) < 0)
				fs->tally.other++;
			else
				qt_tally_add(&fs->tally, (double)lab);
		}
		qt_error_clear();
	} else if (fs->tally_mode == QT_TALLY_ELEMENTS) {
		for (int64_t e = 0; e < numel && !fs->tally.overflow; e++)
			qt_tally_add(&fs->tally, qt_tensor_get(t, e));
	}
}

void qt_field_stats_free(qt_field_stats *fs)
{
	qt_tally_free(&fs->tally);
}
