/* batch.c: batches of samples: validation against a header, gathering
 * samples (with PyG-style re-offsetting of ragged rows and graph indices)
 * and concatenation. */
#include "common/stream.h"
#include "common/error.h"

#include <stdlib.h>
#include <string.h>

qt_batch *qt_batch_new(int nfields)
{
	qt_batch *b = calloc(1, sizeof *b);
	if (b)
		b->nfields = nfields;
	return b;
}

void qt_batch_free(qt_batch *b)
{
	if (!b)
		return;
	for (int i = 0; i < b->nfields; i++) {
		qt_tensor_free(b->t[i]);
		qt_tensor_free(b->ptr[i]);
	}
	free(b);
}

static int is_ragged(const qt_field *f)
{
	return f->ndim > 0 && f->shape[0] < 0;
}

static int64_t get_index(const qt_tensor *t, int64_t i)
{
	return t->dtype == QT_I64 ? ((const int64_t *)t->data)[i]
				  : ((const int32_t *)t->data)[i];
}

static void set_index(qt_tensor *t, int64_t i, int64_t v)
{
	if (t->dtype == QT_I64)
		((int64_t *)t->data)[i] = v;
	else
		((int32_t *)t->data)[i] = (int32_t)v;
}

void qt_batch_rows(const qt_batch *b, int f, int64_t i, int64_t *start,
		   int64_t *end)
{
	if (b->ptr[f]) {
		const int64_t *p = b->ptr[f]->data;
		*start = p[i];
		*end = p[i + 1];
	} else {
		*start = i;
		*end = i + 1;
	}
}

int qt_batch_validate(const qt_header *h, const qt_batch *b)
{
	char s1[96], s2[96];
	if (b->nfields != h->nfields)
		return qt_error(QT_EFORMAT, "batch has %d fields, header "
				"declares %d", b->nfields, h->nfields);
	if (b->n < 0)
		return qt_error(QT_EFORMAT, "negative batch size");
	for (int i = 0; i < h->nfields; i++) {
		const qt_field *f = &h->fields[i];
		const qt_tensor *t = b->t[i];
		int ragged = is_ragged(f);
		int64_t rows = b->n;
		if (!t)
			return qt_error(QT_EFORMAT, "batch lacks field '%s'",
					f->name);
		if (t->dtype != f->dtype)
			return qt_error(QT_EFORMAT, "field '%s' is %s in the "
					"batch but %s in the header", f->name,
					qt_dtype_name(t->dtype),
					qt_dtype_name(f->dtype));
		if (ragged) {
			const qt_tensor *p = b->ptr[i];
			const int64_t *pv;
			if (!p || p->dtype != QT_I64 || p->ndim != 1 ||
			    p->shape[0] != b->n + 1)
				return qt_error(QT_EFORMAT, "ragged field '%s' "
						"needs '%s.ptr': int64 offsets, "
						"one more than the batch's %lld "
						"samples", f->name, f->name,
						(long long)b->n);
			pv = p->data;
			if (pv[0] != 0)
				return qt_error(QT_EFORMAT, "'%s.ptr' must start "
						"at 0", f->name);
			for (int64_t k = 0; k < b->n; k++)
				if (pv[k + 1] < pv[k])
					return qt_error(QT_EFORMAT, "'%s.ptr' is not "
							"monotone", f->name);
			rows = pv[b->n];
		} else if (b->ptr[i]) {
			return qt_error(QT_EFORMAT, "field '%s' is not ragged but "
					"has offsets", f->name);
		}
		int ok = t->ndim == f->ndim + !ragged && t->shape[0] == rows;
		for (int d = 1; ok && d < f->ndim + !ragged; d++)
			ok = t->shape[d] == f->shape[d - !ragged];
		if (!ok) {
			int64_t want[QT_MAX_DIMS];
			want[0] = rows;
			for (int d = ragged; d < f->ndim; d++)
				want[d + !ragged] = f->shape[d];
			return qt_error(QT_ESHAPE, "field '%s' has shape %s, the "
					"header and batch size say %s", f->name,
					qt_shape_str(s1, sizeof s1, t->ndim, t->shape),
					qt_shape_str(s2, sizeof s2,
						     f->ndim + !ragged, want));
		}
	}
	/* Graph indices must point at rows of the same sample. */
	for (int i = 0; i < h->nfields; i++) {
		const qt_field *f = &h->fields[i];
		int tf;
		if (!f->index_of[0])
			continue;
		tf = qt_header_find(h, f->index_of);
		const int64_t *ip = b->ptr[i]->data, *tp = b->ptr[tf]->data;
		int64_t per = qt_shape_numel(f->ndim - 1, f->shape + 1);
		for (int64_t s = 0; s < b->n; s++)
			for (int64_t k = ip[s] * per; k < ip[s + 1] * per; k++) {
				int64_t v = get_index(b->t[i], k);
				if (v < tp[s] || v >= tp[s + 1])
					return qt_error(QT_EFORMAT, "field '%s': "
							"index %lld of sample %lld "
							"is outside its '%s' rows "
							"[%lld, %lld)", f->name,
							(long long)v, (long long)s,
							f->index_of,
							(long long)tp[s],
							(long long)tp[s + 1]);
			}
	}
	return 0;
}

/* Gather: out rows for each selected sample, re-offsetting indices. */
qt_batch *qt_batch_take(const qt_header *h, const qt_batch *b,
			const int64_t *idx, int64_t k)
{
	qt_batch *o = qt_batch_new(h->nfields);
	if (!o) {
		qt_error(QT_ENOMEM, "out of memory");
		return NULL;
	}
	o->n = k;
	for (int i = 0; i < h->nfields; i++) {
		const qt_tensor *t = b->t[i];
		int64_t shape[QT_MAX_DIMS], rows = 0;
		size_t rowbytes;
		if (b->ptr[i]) {
			o->ptr[i] = qt_tensor_new(QT_I64, 1, (int64_t[]){k + 1});
			if (!o->ptr[i])
				goto fail;
			int64_t *op = o->ptr[i]->data;
			for (int64_t s = 0; s < k; s++) {
				int64_t a, e;
				qt_batch_rows(b, i, idx[s], &a, &e);
				rows += e - a;
				op[s + 1] = rows;
			}
		} else {
			rows = k;
		}
		memcpy(shape, t->shape, sizeof shape);
		shape[0] = rows;
		o->t[i] = qt_tensor_new(t->dtype, t->ndim, shape);
		if (!o->t[i])
			goto fail;
		rowbytes = (size_t)qt_shape_numel(t->ndim - 1, t->shape + 1) *
			   qt_dtype_size(t->dtype);
		for (int64_t s = 0, r = 0; s < k; s++) {
			int64_t a, e;
			qt_batch_rows(b, i, idx[s], &a, &e);
			memcpy((char *)o->t[i]->data + (size_t)r * rowbytes,
			       (const char *)t->data + (size_t)a * rowbytes,
			       (size_t)(e - a) * rowbytes);
			r += e - a;
		}
	}
	for (int i = 0; i < h->nfields; i++) {
		int tf;
		if (!h->fields[i].index_of[0])
			continue;
		tf = qt_header_find(h, h->fields[i].index_of);
		int64_t per = qt_shape_numel(h->fields[i].ndim - 1,
					     h->fields[i].shape + 1);
		const int64_t *op = o->ptr[i]->data, *tp = o->ptr[tf]->data;
		for (int64_t s = 0; s < k; s++) {
			int64_t a, e, shift = tp[s];
			qt_batch_rows(b, tf, idx[s], &a, &e);
			shift -= a; /* old sample start -> new sample start */
			for (int64_t r = op[s] * per; r < op[s + 1] * per; r++)
				set_index(o->t[i], r,
					  get_index(o->t[i], r) + shift);
		}
	}
	return o;
fail:
	qt_batch_free(o);
	return NULL;
}

qt_batch *qt_batch_concat(const qt_header *h, qt_batch *const *bs, int nb)
{
	int64_t total = 0, *idx;
	qt_batch *o;
	/* Concatenation is a gather over a virtual batch; build it by
	 * gathering each input whole and stitching the tensors. */
	for (int j = 0; j < nb; j++)
		total += bs[j]->n;
	if (nb == 1) {
		idx = malloc((size_t)(total ? total : 1) * sizeof *idx);
		if (!idx)
			return NULL;
		for (int64_t s = 0; s < total; s++)
			idx[s] = s;
		o = qt_batch_take(h, bs[0], idx, total);
		free(idx);
		return o;
	}
	o = qt_batch_new(h->nfields);
	if (!o) {
		qt_error(QT_ENOMEM, "out of memory");
		return NULL;
	}
	o->n = total;
	for (int i = 0; i < h->nfields; i++) {
		int64_t shape[QT_MAX_DIMS], rows = 0;
		const qt_tensor *t0 = bs[0]->t[i];
		size_t rowbytes = (size_t)qt_shape_numel(t0->ndim - 1,
							  t0->shape + 1) *
				  qt_dtype_size(t0->dtype);
		for (int j = 0; j < nb; j++)
			rows += bs[j]->t[i]->shape[0];
		memcpy(shape, t0->shape, sizeof shape);
		shape[0] = rows;
		o->t[i] = qt_tensor_new(t0->dtype, t0->ndim, shape);
		if (!o->t[i])
			goto fail;
		if (bs[0]->ptr[i]) {
			o->ptr[i] = qt_tensor_new(QT_I64, 1,
						  (int64_t[]){total + 1});
			if (!o->ptr[i])
				goto fail;
		}
		int64_t r = 0, s = 0;
		for (int j = 0; j < nb; j++) {
			const qt_tensor *t = bs[j]->t[i];
			memcpy((char *)o->t[i]->data + (size_t)r * rowbytes,
			       t->data, (size_t)t->shape[0] * rowbytes);
			if (o->ptr[i]) {
				int64_t *op = o->ptr[i]->data;
				const int64_t *ip = bs[j]->ptr[i]->data;
				for (int64_t q = 1; q <= bs[j]->n; q++)
					op[s + q] = r + ip[q];
			}
			r += t->shape[0];
			s += bs[j]->n;
		}
	}
	/* Shift graph indices of each part by its target's row offset. */
	for (int i = 0; i < h->nfields; i++) {
		int tf;
		if (!h->fields[i].index_of[0])
			continue;
		tf = qt_header_find(h, h->fields[i].index_of);
		int64_t per = qt_shape_numel(h->fields[i].ndim - 1,
					     h->fields[i].shape + 1);
		int64_t r = 0, shift = 0;
		for (int j = 0; j < nb; j++) {
			int64_t cnt = bs[j]->t[i]->shape[0] * per;
			for (int64_t q = 0; q < cnt; q++)
				set_index(o->t[i], r + q,
					  get_index(o->t[i], r + q) + shift);
			r += cnt;
			shift += bs[j]->t[tf]->shape[0];
		}
	}
	return o;
fail:
	qt_batch_free(o);
	return NULL;
}
