/* source_npy.c: .npy and .npz files as tensor streams (see source.h).
 *
 * A .npy file is one field, named by --name or after the file's stem; an
 * .npz archive has one field per member.  Rows are read in order straight
 * into the batch tensors (pread for .npy, libzip for .npz members, which
 * may be deflated and so are read forward only).
 */
#include "common/source_impl.h"
#include "common/error.h"
#include "common/npy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct npy_src {
	qt_npz *z;
	int n;
	qt_npy_reader *r[QT_MAX_FIELDS];
	int started;
};

static void npy_close(qt_source *s)
{
	struct npy_src *x = s->impl;
	if (!x)
		return;
	for (int i = 0; i < x->n; i++)
		qt_npy_close(x->r[i]);
	qt_npz_close(x->z);
	free(x);
	s->impl = NULL;
}

static int npy_read(qt_source *s, int64_t start, int64_t k, qt_batch *b)
{
	struct npy_src *x = s->impl;
	int rc;
	for (int i = 0; i < x->n; i++) {
		qt_tensor *t;
		if (!x->started && start > 0 &&
		    (rc = qt_npy_skip_rows(x->r[i], start)) < 0)
			return rc;
		if (!(t = qt_source_tensor(s, i, k)))
			return QT_ENOMEM;
		if ((rc = qt_npy_read_rows(x->r[i], t->data, k)) < 0)
			return rc;
	}
	x->started = 1;
	return 0;
}

static struct npy_src *npy_src_new(qt_source *s)
{
	struct npy_src *x = calloc(1, sizeof *x);
	if (!x) {
		qt_error(QT_ENOMEM, "out of memory");
		return NULL;
	}
	s->impl = x;
	s->read = npy_read;
	s->close = npy_close;
	return x;
}

/* Field `name` for an open reader: per-sample shape = shape[1:]. */
static int add_field(qt_source *s, const char *name, qt_npy_reader *r)
{
	const qt_npy_info *in = qt_npy_reader_info(r);
	char fname[QT_NAME_MAX];
	int rc;
	qt_source_field_name(fname, sizeof fname, name);
	rc = qt_header_add_field(s->h, fname, in->dtype, in->ndim - 1,
				 in->shape + 1);
	return rc < 0 ? qt_error_prefix(rc, "%s: ", s->path) : 0;
}

int qt_source_open_npy(qt_source *s)
{
	struct npy_src *x = npy_src_new(s);
	const qt_npy_info *in;
	char stem[256];
	const char *base, *dot;
	int rc;
	if (!x)
		return QT_ENOMEM;
	if ((rc = qt_npy_open(&x->r[0], s->path)) < 0)
		return rc;
	x->n = 1;
	in = qt_npy_reader_info(x->r[0]);
	if (in->ndim < 1)
		return qt_error(QT_EFORMAT, "%s holds a 0-d array: it has no "
				"samples to load", s->path);
	base = strrchr(s->path, '/');
	base = base ? base + 1 : s->path;
	dot = strrchr(base, '.');
	snprintf(stem, sizeof stem, "%.*s",
		 (int)(dot && dot > base ? (size_t)(dot - base) : strlen(base)),
		 base);
	if ((rc = add_field(s, s->opts->name ? s->opts->name : stem,
			    x->r[0])) < 0)
		return rc;
	s->total = in->shape[0];
	return 0;
}

int qt_source_open_npz(qt_source *s)
{
	struct npy_src *x = npy_src_new(s);
	qt_npy_reader **all = NULL;
	qt_source_cand *c = NULL;
	int n, sel[QT_MAX_FIELDS], nsel, rc;
	if (!x)
		return QT_ENOMEM;
	if ((rc = qt_npz_open(&x->z, s->path)) < 0)
		return rc;
	n = qt_npz_count(x->z);
	all = calloc((size_t)n + 1, sizeof *all);
	c = calloc((size_t)n + 1, sizeof *c);
	if (!all || !c) {
		rc = qt_error(QT_ENOMEM, "out of memory");
		goto out;
	}
	for (int i = 0; i < n; i++) {
		c[i].name = qt_npz_name(x->z, i);
		c[i].samples = -1;
		if (qt_npz_open_member(x->z, i, &all[i]) < 0) {
			snprintf(c[i].why, sizeof c[i].why, "%s",
				 qt_error_message(QT_EFORMAT));
			all[i] = NULL;
		} else if (qt_npy_reader_info(all[i])->ndim < 1) {
			snprintf(c[i].why, sizeof c[i].why, "a 0-d array, it has "
				 "no samples");
		} else {
			c[i].samples = qt_npy_reader_info(all[i])->shape[0];
		}
	}
	if ((rc = nsel = qt_source_choose(s, "member", c, n, sel)) < 0)
		goto out;
	for (int i = 0; i < nsel; i++) {
		x->r[x->n++] = all[sel[i]];
		all[sel[i]] = NULL;
		if ((rc = add_field(s, c[sel[i]].name, x->r[i])) < 0)
			goto out;
	}
	s->total = nsel ? c[sel[0]].samples : 0;
	rc = 0;
out:
	for (int i = 0; all && i < n; i++)
		qt_npy_close(all[i]);
	free(all);
	free(c);
	return rc;
}
