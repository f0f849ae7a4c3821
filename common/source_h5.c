/* source_h5.c: HDF5 files as tensor streams (see source.h).
 *
 * Each field reads its rows of a batch as one hyperslab, straight into
 * the batch tensor, in the dataset's own dtype.  A ragged field NAME
 * (rows of all samples concatenated, as `quanta save` writes it) reads
 * NAME_ptr[start .. start + k] first and then the rows those offsets
 * span; index fields (attribute index_of) hold row numbers over the whole
 * file and are shifted to the batch's rows, as the stream format wants.
 */
#include "common/source_impl.h"
#include "common/error.h"
#include "common/h5.h"
#include "common/provjson.h"

#include <stdlib.h>
#include <string.h>

struct h5_field {
	qt_h5_dset d;      /* the data */
	qt_h5_dset p;      /* NAME_ptr of a ragged field */
	int ragged;
	int target;        /* field indexed by this index field, or -1 */
	int64_t base;      /* first row of the current batch */
};

struct h5_src {
	hid_t file;
	int n;
	struct h5_field f[QT_MAX_FIELDS];
};

static void h5_close(qt_source *s)
{
	struct h5_src *x = s->impl;
	if (!x)
		return;
	for (int i = 0; i < x->n; i++) {
		qt_h5_dset_close(&x->f[i].d);
		if (x->f[i].ragged)
			qt_h5_dset_close(&x->f[i].p);
	}
	if (x->file >= 0)
		H5Fclose(x->file);
	free(x);
	s->impl = NULL;
}

static int is_int(qt_dtype dt)
{
	return !qt_dtype_is_float(dt) && dt != QT_BOOL;
}

/* ptr: a 1-D integer dataset. */
static int ptr_ok(const qt_h5_dset *p)
{
	return p->ndim == 1 && is_int(p->dtype) && p->shape[0] >= 1;
}

static void ptr_name(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s_ptr", name);
}

/* What each dataset at the root could be. */
static int candidates(qt_source *s, hid_t file, char **names, int n,
		      qt_source_cand *c)
{
	for (int i = 0; i < n; i++) {
		qt_h5_dset d, p;
		char pn[600];
		size_t len = strlen(names[i]);
		c[i].name = names[i];
		c[i].samples = -1;
		/* NAME_ptr beside NAME belongs to NAME. */
		if (len > 4 && !strcmp(names[i] + len - 4, "_ptr")) {
			for (int j = 0; j < n; j++)
				if (strlen(names[j]) == len - 4 &&
				    !strncmp(names[j], names[i], len - 4))
					c[i].hidden = 1;
		}
		if (qt_h5_dset_open(&d, file, names[i]) < 0) {
			snprintf(c[i].why, sizeof c[i].why, "%s",
				 qt_error_message(QT_EFORMAT));
			continue;
		}
		if (d.ndim == 0) {
			snprintf(c[i].why, sizeof c[i].why, "a scalar, it has no "
				 "samples");
		} else {
			c[i].samples = d.shape[0];
			ptr_name(pn, sizeof pn, names[i]);
			if (qt_h5_has_dataset(file, pn) &&
			    qt_h5_dset_open(&p, file, pn) == 0) {
				if (ptr_ok(&p))
					c[i].samples = p.shape[0] - 1;
				qt_h5_dset_close(&p);
			}
		}
		qt_h5_dset_close(&d);
	}
	return 0;
}

/* ptr[0] == 0 and ptr[last] == the data's rows. */
static int check_ptr(qt_source *s, struct h5_field *f)
{
	int64_t v[2], one = 1, rows = f->d.shape[0], n = f->p.shape[0];
	qt_tensor t0 = qt_tensor_wrap(QT_I64, 1, &one, &v[0]);
	qt_tensor t1 = qt_tensor_wrap(QT_I64, 1, &one, &v[1]);
	int rc;
	if ((rc = qt_h5_dset_read(&f->p, 0, 1, &t0)) < 0 ||
	    (rc = qt_h5_dset_read(&f->p, n - 1, 1, &t1)) < 0)
		return rc;
	if (v[0] != 0 || v[1] != rows)
		return qt_error(QT_EFORMAT, "%s: '%s' must run from 0 to %lld "
				"(the rows of '%s'), it runs from %lld to %lld",
				s->path, f->p.name, (long long)rows, f->d.name,
				(long long)v[0], (long long)v[1]);
	return 0;
}

/* Add field i of the source for dataset `name`. */
static int add_field(qt_source *s, struct h5_src *x, const char *name)
{
	struct h5_field *f = &x->f[x->n];
	char fname[QT_NAME_MAX], pn[600], **classes;
	int64_t shape[QT_MAX_DIMS];
	int rc, idx, ncls;
	if ((rc = qt_h5_dset_open(&f->d, x->file, name)) < 0)
		return rc;
	f->target = -1;
	x->n++;
	ptr_name(pn, sizeof pn, name);
	if (qt_h5_has_dataset(x->file, pn)) {
		if ((rc = qt_h5_dset_open(&f->p, x->file, pn)) < 0)
			return rc;
		f->ragged = 1;
		if (!ptr_ok(&f->p))
			return qt_error(QT_EFORMAT, "%s: '%s' must be a 1-D "
					"integer dataset of offsets", s->path, pn);
		if ((rc = check_ptr(s, f)) < 0)
			return rc;
	}
	shape[0] = -1;
	for (int d = 1; d < f->d.ndim; d++)
		shape[d - !f->ragged] = f->d.shape[d];
	qt_source_field_name(fname, sizeof fname, name);
	idx = qt_header_add_field(s->h, fname, f->d.dtype,
				  f->d.ndim - 1 + f->ragged, shape);
	if (idx < 0)
		return qt_error_prefix(idx, "%s: ", s->path);
	rc = qt_h5_attr_read_strv(f->d.id, "classes", &classes, &ncls);
	if (rc < 0)
		return qt_error_prefix(rc, "%s: dataset '%s': ", s->path, name);
	if (rc > 0) {
		if (is_int(f->d.dtype))
			rc = qt_header_set_classes(s->h, idx, ncls,
						   (const char *const *)classes);
		else
			qt_source_note(s, "ignoring the classes of '%s': it is "
				       "%s, not integer labels", name,
				       qt_dtype_name(f->d.dtype));
		qt_h5_free_names(classes, ncls);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* index_of attributes, once every field is known. */
static int link_index_fields(qt_source *s, struct h5_src *x)
{
	for (int i = 0; i < x->n; i++) {
		char *target;
		int rc = qt_h5_attr_read_str(x->f[i].d.id, "index_of", &target);
		if (rc < 0)
			return qt_error_prefix(rc, "%s: dataset '%s': ", s->path,
					       x->f[i].d.name);
		if (rc == 0)
			continue;
		int t = qt_header_find(s->h, target);
		if (t >= 0 && x->f[i].ragged && x->f[t].ragged &&
		    is_int(x->f[i].d.dtype) &&
		    (x->f[i].d.dtype == QT_I64 || x->f[i].d.dtype == QT_I32)) {
			qt_header_set_index_of(s->h, i, target);
			x->f[i].target = t;
		} else {
			qt_source_note(s, "'%s' indexes rows of '%s', which is "
				       "not loaded as a ragged field: its values "
				       "stay file-wide row numbers",
				       x->f[i].d.name, target);
		}
		free(target);
	}
	return 0;
}

static void shift(qt_tensor *t, int64_t by)
{
	int64_t n = qt_tensor_numel(t);
	if (!by)
		return;
	if (t->dtype == QT_I64) {
		int64_t *v = t->data;
		for (int64_t i = 0; i < n; i++)
			v[i] -= by;
	} else {
		int32_t *v = t->data;
		for (int64_t i = 0; i < n; i++)
			v[i] -= (int32_t)by;
	}
}

static int h5_read(qt_source *s, int64_t start, int64_t k, qt_batch *b)
{
	struct h5_src *x = s->impl;
	for (int i = 0; i < x->n; i++) {
		struct h5_field *f = &x->f[i];
		int64_t first = start, rows = k;
		qt_tensor *t;
		int rc;
		if (f->ragged) {
			qt_tensor *p = qt_source_ptr(s, i, k);
			int64_t *pv;
			if (!p)
				return QT_ENOMEM;
			if ((rc = qt_h5_dset_read(&f->p, start, k + 1, p)) < 0)
				return rc;
			pv = p->data;
			first = pv[0];
			for (int64_t j = 0; j <= k; j++) {
				if (pv[j] < first || (j && pv[j] < pv[j - 1]) ||
				    pv[j] > f->d.shape[0])
					return qt_error(QT_EFORMAT, "%s: '%s' is "
							"not a non-decreasing "
							"list of rows of '%s' "
							"(entry %lld)", s->path,
							f->p.name, f->d.name,
							(long long)(start + j));
				pv[j] -= first;
			}
			rows = pv[k];
		}
		f->base = first;
		if (!(t = qt_source_tensor(s, i, rows)))
			return QT_ENOMEM;
		if ((rc = qt_h5_dset_read(&f->d, first, rows, t)) < 0)
			return rc;
	}
	for (int i = 0; i < x->n; i++)
		if (x->f[i].target >= 0)
			shift(b->t[i], x->f[x->f[i].target].base);
	return 0;
}

int qt_source_open_h5(qt_source *s)
{
	struct h5_src *x = calloc(1, sizeof *x);
	qt_source_cand *c = NULL;
	char **names = NULL, *prov;
	int n = 0, sel[QT_MAX_FIELDS], nsel, rc;
	if (!x)
		return qt_error(QT_ENOMEM, "out of memory");
	x->file = H5I_INVALID_HID;
	s->impl = x;
	s->close = h5_close;
	s->read = h5_read;
	if ((rc = qt_h5_open(&x->file, s->path)) < 0)
		return rc;
	if ((rc = qt_h5_list_datasets(x->file, &names, &n)) < 0)
		return qt_error_prefix(rc, "%s: ", s->path);
	if (!(c = calloc((size_t)n + 1, sizeof *c))) {
		rc = qt_error(QT_ENOMEM, "out of memory");
		goto out;
	}
	candidates(s, x->file, names, n, c);
	if ((rc = nsel = qt_source_choose(s, "dataset", c, n, sel)) < 0)
		goto out;
	for (int i = 0; i < nsel; i++)
		if ((rc = add_field(s, x, names[sel[i]])) < 0)
			goto out;
	if ((rc = link_index_fields(s, x)) < 0)
		goto out;
	s->total = nsel ? c[sel[0]].samples : 0;
	rc = qt_h5_attr_read_str(x->file, "provenance", &prov);
	if (rc > 0) {
		/* Parsed aside, so a bad attribute leaves no half list. */
		qt_header *tmp = qt_header_new();
		if (tmp && qt_prov_from_json(tmp, prov) == 0) {
			s->h->prov = tmp->prov;
			s->h->nprov = tmp->nprov;
			tmp->prov = NULL;
			tmp->nprov = 0;
		} else {
			qt_source_note(s, "ignoring the file's provenance "
				       "attribute: %s",
				       qt_error_message(QT_EFORMAT));
		}
		qt_header_free(tmp);
		free(prov);
	}
	rc = 0;
out:
	free(c);
	qt_h5_free_names(names, n);
	return rc;
}
