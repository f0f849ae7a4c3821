/* sink.c: tensor streams into HDF5, .npy and .npz files (see sink.h). */
#include "common/sink.h"
#include "common/error.h"
#include "common/h5.h"
#include "common/npy.h"
#include "common/provjson.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum kind { K_NONE, K_H5, K_NPY, K_NPZ };

struct qt_sink {
	enum kind kind;
	qt_header *h;
	/* HDF5 */
	qt_h5_out out;
	qt_h5_append d[QT_MAX_FIELDS], p[QT_MAX_FIELDS];
	int nd;
	int64_t rows[QT_MAX_FIELDS];  /* rows written per field */
	int64_t *scratch;             /* shifted offsets and indices */
	size_t scratch_n;
	/* .npy / .npz */
	qt_npy_writer *w[QT_MAX_FIELDS];
	qt_npz_writer *z;
	int err;
};

static enum kind kind_of(const char *path)
{
	const char *dot = strrchr(path, '.'), *slash = strrchr(path, '/');
	if (!dot || (slash && dot < slash))
		return K_NONE;
	if (!strcasecmp(dot, ".h5") || !strcasecmp(dot, ".hdf5") ||
	    !strcasecmp(dot, ".hdf") || !strcasecmp(dot, ".he5"))
		return K_H5;
	if (!strcasecmp(dot, ".npy"))
		return K_NPY;
	if (!strcasecmp(dot, ".npz"))
		return K_NPZ;
	return K_NONE;
}

int qt_sink_known(const char *path)
{
	return kind_of(path) != K_NONE;
}

static int is_ragged(const qt_field *f)
{
	return f->ndim > 0 && f->shape[0] < 0;
}

/* Per-row shape of the stored array: a ragged field's rows drop the -1. */
static void row_shape(const qt_field *f, int *ndim, const int64_t **shape)
{
	*ndim = f->ndim - is_ragged(f);
	*shape = f->shape + is_ragged(f);
}

static int open_h5(qt_sink *k, const char *path, int compress)
{
	const qt_header *h = k->h;
	char pn[QT_NAME_MAX + 8];
	int rc;
	/* NAME_ptr must not be taken by another field. */
	for (int i = 0; i < h->nfields; i++) {
		if (!is_ragged(&h->fields[i]))
			continue;
		snprintf(pn, sizeof pn, "%s_ptr", h->fields[i].name);
		if (qt_header_find(h, pn) >= 0)
			return qt_error(QT_EUSAGE, "field '%s' has the name of the "
					"offsets of ragged field '%s'; rename it",
					pn, h->fields[i].name);
	}
	if ((rc = qt_h5_create(&k->out, path)) < 0)
		return rc;
	for (int i = 0; i < h->nfields; i++) {
		const qt_field *f = &h->fields[i];
		const int64_t *shape;
		int ndim;
		row_shape(f, &ndim, &shape);
		if ((rc = qt_h5_append_open(&k->d[i], k->out.file, f->name,
					    f->dtype, ndim, shape, compress)) < 0)
			return rc;
		k->nd = i + 1;
		if (f->nclasses > 0 &&
		    (rc = qt_h5_attr_write_strv(k->d[i].id, "classes",
						f->nclasses,
						(const char *const *)f->classes)) < 0)
			return rc;
		if (f->index_of[0] &&
		    (rc = qt_h5_attr_write_str(k->d[i].id, "index_of",
					       f->index_of)) < 0)
			return rc;
		if (!is_ragged(f))
			continue;
		int64_t zero = 0;
		snprintf(pn, sizeof pn, "%s_ptr", f->name);
		if ((rc = qt_h5_append_open(&k->p[i], k->out.file, pn, QT_I64, 0,
					    NULL, compress)) < 0 ||
		    (rc = qt_h5_append_rows(&k->p[i], &zero, 1)) < 0)
			return rc;
	}
	return 0;
}

static int open_npy(qt_sink *k, const char *path)
{
	const qt_field *f = &k->h->fields[0];
	if (k->h->nfields != 1)
		return qt_error(QT_EUSAGE, "a .npy file holds one field and the "
				"stream has %d: pick one with --fields, or save "
				"to .npz or .h5", k->h->nfields);
	if (is_ragged(f))
		return qt_error(QT_EUSAGE, "field '%s' is ragged (samples of "
				"different sizes), which .npy cannot hold; save "
				"to .h5", f->name);
	return qt_npy_create(&k->w[0], path, f->dtype, f->ndim, f->shape);
}

static int open_npz(qt_sink *k, const char *path, int compress)
{
	int rc;
	for (int i = 0; i < k->h->nfields; i++)
		if (is_ragged(&k->h->fields[i]))
			return qt_error(QT_EUSAGE, "field '%s' is ragged (samples "
					"of different sizes), which .npz cannot "
					"hold; save to .h5",
					k->h->fields[i].name);
	if ((rc = qt_npz_create(&k->z, path, compress)) < 0)
		return rc;
	for (int i = 0; i < k->h->nfields; i++) {
		const qt_field *f = &k->h->fields[i];
		if ((rc = qt_npz_add(k->z, f->name, f->dtype, f->ndim, f->shape,
				     &k->w[i])) < 0)
			return rc;
	}
	return 0;
}

int qt_sink_open(qt_sink **kp, const char *path, const qt_header *h,
		 int compress)
{
	qt_sink *k;
	int rc;
	enum kind kind = kind_of(path);
	if (kind == K_NONE)
		return qt_error(QT_EUSAGE, "'%s': unknown output type (quanta "
				"saves .h5/.hdf5, .npy and .npz files)", path);
	if (compress < 0 || compress > 9)
		return qt_error(QT_EUSAGE, "compression level %d is outside "
				"[0, 9]", compress);
	if (!(k = calloc(1, sizeof *k)))
		return qt_error(QT_ENOMEM, "out of memory");
	k->kind = kind;
	k->out.file = H5I_INVALID_HID;
	if (!(k->h = qt_header_clone(h))) {
		free(k);
		return qt_error(QT_ENOMEM, "out of memory");
	}
	rc = kind == K_H5 ? open_h5(k, path, compress)
	   : kind == K_NPY ? open_npy(k, path)
			   : open_npz(k, path, compress);
	if (rc < 0) {
		qt_sink_close(k, 0);
		return rc;
	}
	*kp = k;
	return 0;
}

static int64_t *scratch(qt_sink *k, size_t n)
{
	if (n > k->scratch_n) {
		int64_t *s = qt_alloc(n * sizeof *s);
		if (!s) {
			qt_error(QT_ENOMEM, "out of memory");
			return NULL;
		}
		qt_free(k->scratch);
		k->scratch = s;
		k->scratch_n = n;
	}
	return k->scratch;
}

/* `rows` rows (n elements) of int32/int64 values starting at element
 * `from` of t, shifted by `by`: batch-wide offsets and indices become
 * file-wide row numbers. */
static int append_shifted(qt_sink *k, qt_h5_append *a, const qt_tensor *t,
			  int64_t from, int64_t n, int64_t rows, int64_t by)
{
	size_t es = qt_dtype_size(t->dtype);
	int64_t *s;
	if (!by)
		return qt_h5_append_rows(a, (const char *)t->data +
						    (size_t)from * es, rows);
	if (!(s = scratch(k, (size_t)n)))
		return QT_ENOMEM;
	if (t->dtype == QT_I32) {
		const int32_t *v = (const int32_t *)t->data + from;
		for (int64_t i = 0; i < n; i++)
			((int32_t *)s)[i] = (int32_t)(v[i] + by);
	} else {
		const int64_t *v = (const int64_t *)t->data + from;
		for (int64_t i = 0; i < n; i++)
			s[i] = v[i] + by;
	}
	return qt_h5_append_rows(a, s, rows);
}

static int write_h5(qt_sink *k, const qt_batch *b)
{
	const qt_header *h = k->h;
	int64_t before[QT_MAX_FIELDS];
	int rc;
	memcpy(before, k->rows, sizeof before);
	for (int i = 0; i < h->nfields; i++) {
		const qt_field *f = &h->fields[i];
		const qt_tensor *t = b->t[i];
		int64_t rows = t->shape[0];
		if (f->index_of[0]) {
			int tf = qt_header_find(h, f->index_of);
			int64_t per = qt_shape_numel(t->ndim - 1, t->shape + 1);
			/* Shifted by the target's rows before this batch. */
			rc = append_shifted(k, &k->d[i], t, 0, rows * per, rows,
					    before[tf]);
		} else {
			rc = qt_h5_append_rows(&k->d[i], t->data, rows);
		}
		if (rc < 0)
			return rc;
		if (is_ragged(f) &&
		    (rc = append_shifted(k, &k->p[i], b->ptr[i], 1, b->n, b->n,
					 before[i])) < 0)
			return rc;
		k->rows[i] += rows;
	}
	return 0;
}

int qt_sink_write(qt_sink *k, const qt_batch *b)
{
	int rc = qt_batch_validate(k->h, b);
	if (k->err)
		return k->err;
	if (rc < 0)
		return k->err = rc;
	if (k->kind == K_H5) {
		rc = write_h5(k, b);
	} else {
		for (int i = 0; i < k->h->nfields && !rc; i++)
			rc = qt_npy_write_rows(k->w[i], b->t[i]->data, b->n);
	}
	return rc < 0 ? (k->err = rc) : 0;
}

static int close_h5(qt_sink *k, int commit)
{
	int rc = 0;
	char *json;
	for (int i = 0; i < k->nd; i++) {
		int r1 = qt_h5_append_close(&k->d[i]);
		int r2 = k->p[i].id > 0 ? qt_h5_append_close(&k->p[i]) : 0;
		if (!rc)
			rc = r1 ? r1 : r2;
	}
	if (commit && !rc) {
		if (!(json = qt_prov_to_json(k->h)))
			rc = QT_ENOMEM;
		else
			rc = qt_h5_attr_write_str(k->out.file, "provenance", json);
		free(json);
	}
	int rc2 = qt_h5_finish(&k->out, commit && !rc);
	return rc ? rc : rc2;
}

int qt_sink_close(qt_sink *k, int commit)
{
	int rc = 0;
	if (!k)
		return 0;
	commit = commit && !k->err;
	if (k->kind == K_H5)
		rc = close_h5(k, commit);
	else if (k->kind == K_NPZ)
		rc = qt_npz_finish(k->z, commit);
	else
		rc = qt_npy_finish(k->w[0], commit);
	if (k->err)
		rc = k->err;
	qt_free(k->scratch);
	qt_header_free(k->h);
	free(k);
	return rc;
}
