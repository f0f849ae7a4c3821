/* source.c: data files as tensor streams: picking the format, choosing
 * the fields, --classes, --start/--count, and the batch buffers every
 * format back-end fills (see source.h). */
#include "common/source_impl.h"
#include "common/cli.h"
#include "common/error.h"
#include "common/h5.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

void qt_source_note(qt_source *s, const char *fmt, ...)
{
	size_t used = strlen(s->notes);
	va_list ap;
	if (used + 2 >= sizeof s->notes)
		return;
	va_start(ap, fmt);
	vsnprintf(s->notes + used, sizeof s->notes - used - 1, fmt, ap);
	va_end(ap);
	used = strlen(s->notes);
	s->notes[used] = '\n';
	s->notes[used + 1] = '\0';
}

void qt_source_field_name(char *dst, size_t len, const char *src)
{
	size_t i;
	for (i = 0; src[i] && i + 1 < len; i++) {
		char c = src[i];
		dst[i] = (isalnum((unsigned char)c) || c == '_' || c == '-') ? c
									  : '_';
	}
	dst[i] = '\0';
}

/* Grow-only storage for one tensor of the reused batch. */
static qt_tensor *reserve(qt_tensor **slot, size_t *cap, qt_dtype dt,
			  int ndim, const int64_t *shape)
{
	int64_t numel = qt_shape_numel(ndim, shape);
	size_t need;
	if (numel < 0) {
		qt_error(QT_EFORMAT, "tensor shape overflows");
		return NULL;
	}
	need = (size_t)numel * qt_dtype_size(dt);
	if (!*slot || need > *cap) {
		/* Half as much again, so ragged batches rarely reallocate. */
		int64_t big[QT_MAX_DIMS];
		size_t row = ndim ? need / (shape[0] ? (size_t)shape[0] : 1) : need;
		memcpy(big, shape, (size_t)ndim * sizeof *shape);
		if (ndim && *slot)
			big[0] = shape[0] + shape[0] / 2;
		qt_tensor_free(*slot);
		*slot = qt_tensor_new(dt, ndim, big);
		if (!*slot) {
			*cap = 0;
			return NULL;
		}
		*cap = ndim ? (size_t)big[0] * row : need;
		if (*cap < need)
			*cap = need;
	}
	(*slot)->ndim = ndim;
	memcpy((*slot)->shape, shape, (size_t)ndim * sizeof *shape);
	return *slot;
}

qt_tensor *qt_source_tensor(qt_source *s, int f, int64_t rows)
{
	const qt_field *fld = &s->h->fields[f];
	int ragged = fld->ndim > 0 && fld->shape[0] < 0;
	int64_t shape[QT_MAX_DIMS];
	int ndim = fld->ndim + !ragged;
	shape[0] = rows;
	for (int d = ragged; d < fld->ndim; d++)
		shape[d + !ragged] = fld->shape[d];
	return reserve(&s->b->t[f], &s->cap[f], fld->dtype, ndim, shape);
}

qt_tensor *qt_source_ptr(qt_source *s, int f, int64_t n)
{
	int64_t len = n + 1;
	return reserve(&s->b->ptr[f], &s->ptr_cap[f], QT_I64, 1, &len);
}

static void list_names(char *buf, size_t len, const qt_source_cand *c,
		       int n)
{
	size_t used = 0;
	buf[0] = '\0';
	for (int i = 0; i < n && used + 8 < len; i++) {
		int w;
		if (c[i].hidden)
			continue;
		w = snprintf(buf + used, len - used, "%s%s", used ? ", " : "",
			     c[i].name);
		used += w > 0 ? (size_t)w : 0;
	}
	if (used + 8 >= len && len > 8)
		snprintf(buf + len - 5, 5, "...");
}

static int choose_named(qt_source *s, const char *what,
			const qt_source_cand *c, int n, int *sel)
{
	const qt_source_opts *o = s->opts;
	char names[400];
	for (int k = 0; k < o->nfields; k++) {
		int i;
		for (i = 0; i < n && strcmp(c[i].name, o->fields[k]); i++)
			;
		if (i == n) {
			list_names(names, sizeof names, c, n);
			return qt_error(QT_EUSAGE, "%s: no %s '%s' (it has: %s)",
					s->path, what, o->fields[k],
					names[0] ? names : "none");
		}
		for (int j = 0; j < k; j++)
			if (sel[j] == i)
				return qt_error(QT_EUSAGE, "--fields names '%s' "
						"twice", o->fields[k]);
		if (c[i].samples < 0)
			return qt_error(QT_EFORMAT, "%s: %s '%s' cannot be "
					"loaded: %s", s->path, what, c[i].name,
					c[i].why);
		if (k > 0 && c[i].samples != c[sel[0]].samples)
			return qt_error(QT_EUSAGE, "%s: %s '%s' has %lld samples "
					"but '%s' has %lld; load them "
					"separately", s->path, what, c[i].name,
					(long long)c[i].samples, c[sel[0]].name,
					(long long)c[sel[0]].samples);
		sel[k] = i;
	}
	return o->nfields;
}

int qt_source_choose(qt_source *s, const char *what, const qt_source_cand *c,
		     int n, int *sel)
{
	int best = -1, best_n = 0, tie = 0, k = 0;
	if (s->opts->nfields > 0)
		return choose_named(s, what, c, n, sel);
	/* The largest set of candidates that agree on the sample count. */
	for (int i = 0; i < n; i++) {
		int m = 0;
		if (c[i].samples < 0 || c[i].hidden)
			continue;
		for (int j = 0; j < n; j++)
			m += !c[j].hidden && c[j].samples == c[i].samples;
		if (m > best_n) {
			best_n = m;
			best = i;
			tie = 0;
		} else if (m == best_n && c[i].samples != c[best].samples) {
			tie = 1;
		}
	}
	if (best < 0) {
		for (int i = 0; i < n; i++)
			if (c[i].samples < 0 && !c[i].hidden)
				return qt_error(QT_EFORMAT, "%s: nothing quanta "
						"can load ('%s': %s)", s->path,
						c[i].name, c[i].why);
		return qt_error(QT_EFORMAT, "%s: no %ss in the file", s->path,
				what);
	}
	if (tie) {
		char names[400];
		list_names(names, sizeof names, c, n);
		return qt_error(QT_EUSAGE, "%s: the %ss disagree on the number "
				"of samples; choose with --fields (it has: %s)",
				s->path, what, names);
	}
	for (int i = 0; i < n && k < QT_MAX_FIELDS; i++) {
		if (c[i].hidden)
			continue;
		if (c[i].samples == c[best].samples)
			sel[k++] = i;
		else if (c[i].samples < 0)
			qt_source_note(s, "skipping %s '%s': %s", what, c[i].name,
				       c[i].why);
		else
			qt_source_note(s, "skipping %s '%s': %lld samples, the "
				       "others have %lld (name it with "
				       "--fields)", what, c[i].name,
				       (long long)c[i].samples,
				       (long long)c[best].samples);
	}
	return k;
}

/* ---- opening ---- */

enum kind { K_NONE, K_H5, K_NPY, K_NPZ, K_CSV };

static enum kind by_extension(const char *path)
{
	static const struct {
		const char *ext;
		enum kind k;
	} map[] = {{".h5", K_H5}, {".hdf5", K_H5}, {".hdf", K_H5},
		   {".he5", K_H5}, {".npy", K_NPY}, {".npz", K_NPZ},
		   {".csv", K_CSV}};
	const char *dot = strrchr(path, '.'), *slash = strrchr(path, '/');
	if (!dot || (slash && dot < slash))
		return K_NONE;
	for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
		if (!strcasecmp(dot, map[i].ext))
			return map[i].k;
	return K_NONE;
}

/* A file without a known extension: look at its first bytes. */
static enum kind by_contents(const char *path)
{
	unsigned char buf[8] = {0};
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;
	if (fd < 0)
		return K_NONE;
	n = read(fd, buf, sizeof buf);
	close(fd);
	if (n >= 6 && !memcmp(buf, "\x93NUMPY", 6))
		return K_NPY;
	if (n >= 4 && !memcmp(buf, "PK\x03\x04", 4))
		return K_NPZ;
	return qt_h5_is_hdf5(path) ? K_H5 : K_NONE;
}

static const char *const kind_names[] = {"", "hdf5", "npy", "npz", "csv"};

/* Options that only one format understands are errors elsewhere. */
static int check_options(const qt_source_opts *o, enum kind k)
{
	if (k != K_CSV && (o->nint || o->nfloat || o->ngroups))
		return qt_error(QT_EUSAGE, "--%s applies to CSV files only",
				o->nint ? "int" : o->nfloat ? "float" : "group");
	if (k != K_NPY && o->name)
		return qt_error(QT_EUSAGE, "--name applies to .npy files only");
	if (k == K_NPY && o->nfields)
		return qt_error(QT_EUSAGE, "a .npy file holds one array: name "
				"its field with --name, not --fields");
	return 0;
}

/* --classes FIELD=a,b,c */
static int apply_classes(qt_source *s)
{
	for (int i = 0; i < s->opts->nclasses; i++) {
		const char *spec = s->opts->classes[i], *eq = strchr(spec, '=');
		char field[QT_NAME_MAX], **names;
		int f, n, rc;
		if (!eq || eq == spec || (size_t)(eq - spec) >= sizeof field ||
		    !eq[1])
			return qt_error(QT_EUSAGE, "--classes: '%s' is not "
					"FIELD=name,name,...", spec);
		snprintf(field, sizeof field, "%.*s", (int)(eq - spec), spec);
		if ((f = qt_header_find(s->h, field)) < 0)
			return qt_error(QT_EUSAGE, "--classes: no field '%s' is "
					"loaded", field);
		if (qt_dtype_is_float(s->h->fields[f].dtype) ||
		    s->h->fields[f].dtype == QT_BOOL)
			return qt_error(QT_EUSAGE, "--classes: field '%s' is %s; "
					"class labels are integers", field,
					qt_dtype_name(s->h->fields[f].dtype));
		if ((rc = qt_parse_list(eq + 1, "--classes", &names, &n)) < 0)
			return rc;
		rc = qt_header_set_classes(s->h, f, n,
					   (const char *const *)names);
		qt_free_list(names, n);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int qt_source_open(qt_source **sp, const char *path,
		   const qt_source_opts *o)
{
	qt_source *s;
	struct stat st;
	enum kind k;
	int rc;
	if (stat(path, &st) != 0)
		return qt_error(QT_EUSAGE, "cannot open '%s': %s", path,
				strerror(errno));
	if (S_ISDIR(st.st_mode))
		return qt_error(QT_EUSAGE, "'%s' is a directory", path);
	if ((k = by_extension(path)) == K_NONE &&
	    (k = by_contents(path)) == K_NONE)
		return qt_error(QT_EUSAGE, "'%s': unknown file type (quanta "
				"loads .h5/.hdf5, .npy, .npz and .csv files)",
				path);
	if ((rc = check_options(o, k)) < 0)
		return rc;
	if (o->start < 0)
		return qt_error(QT_EUSAGE, "--start must not be negative");
	if (!(s = calloc(1, sizeof *s)) || !(s->h = qt_header_new())) {
		free(s);
		return qt_error(QT_ENOMEM, "out of memory");
	}
	s->path = path;
	s->opts = o;
	s->format = kind_names[k];
	switch (k) {
	case K_H5: rc = qt_source_open_h5(s); break;
	case K_NPY: rc = qt_source_open_npy(s); break;
	case K_NPZ: rc = qt_source_open_npz(s); break;
	default: rc = qt_source_open_csv(s); break;
	}
	if (rc < 0)
		goto fail;
	if ((rc = apply_classes(s)) < 0 ||
	    (rc = qt_header_validate(s->h)) < 0)
		goto fail;
	if (o->start > s->total) {
		rc = qt_error(QT_EUSAGE, "--start %lld is past the %lld samples "
			      "of '%s'", (long long)o->start,
			      (long long)s->total, path);
		goto fail;
	}
	s->next = o->start;
	s->end = o->count >= 0 && o->count < s->total - o->start
			 ? o->start + o->count : s->total;
	if (!(s->b = qt_batch_new(s->h->nfields))) {
		rc = qt_error(QT_ENOMEM, "out of memory");
		goto fail;
	}
	s->opts = NULL;
	*sp = s;
	return 0;
fail:
	qt_source_close(s);
	return rc;
}

const qt_header *qt_source_header(const qt_source *s)
{
	return s->h;
}

const char *qt_source_format(const qt_source *s)
{
	return s->format;
}

int64_t qt_source_samples(const qt_source *s)
{
	return s->end - s->next;
}

const char *qt_source_notes(const qt_source *s)
{
	return s->notes;
}

int qt_source_next(qt_source *s, int64_t max_n, const qt_batch **b)
{
	int64_t k = s->end - s->next;
	int rc;
	if (k <= 0)
		return 0;
	if (max_n < 1)
		return qt_error(QT_EUSAGE, "batch size must be positive");
	if (k > max_n)
		k = max_n;
	s->b->n = k;
	if ((rc = s->read(s, s->next, k, s->b)) < 0)
		return rc;
	s->next += k;
	*b = s->b;
	return 1;
}

void qt_source_close(qt_source *s)
{
	if (!s)
		return;
	if (s->close)
		s->close(s);
	qt_batch_free(s->b);
	qt_header_free(s->h);
	free(s);
}
