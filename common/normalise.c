/* normalise.c: fitting, applying, storing and identifying normalisation
 * parameters (see normalise.h; docs/stages/normalise.md specifies the
 * file).
 *
 * Layout of a field's batch tensor as this file sees it: `units` (samples,
 * or rows of a ragged field) of C channel blocks of `inner` elements each,
 * so element k belongs to channel (k / inner) % C.  Without per-channel
 * statistics C = 1 and a unit is one block.
 */
#include "common/normalise.h"
#include "common/error.h"
#include "common/fieldref.h"
#include "common/h5.h"
#include "common/stats.h"
#include "common/version.h"

#include <math.h>
#include <nettle/sha2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int qt_norm_parse_method(const char *s, int *method)
{
	if (!strcmp(s, "minmax"))
		*method = QT_NORM_MINMAX;
	else if (!strcmp(s, "standard"))
		*method = QT_NORM_STANDARD;
	else if (!strcmp(s, "minmax,standard"))
		*method = QT_NORM_BOTH;
	else
		return qt_error(QT_EUSAGE, "--method: '%s' is not a method (use "
				"minmax, standard or minmax,standard)", s);
	return 0;
}

const char *qt_norm_method_name(int method)
{
	switch (method) {
	case QT_NORM_MINMAX: return "minmax";
	case QT_NORM_STANDARD: return "standard";
	case QT_NORM_BOTH: return "minmax,standard";
	default: return "?";
	}
}

static int is_ragged(const qt_field *f)
{
	return f->ndim > 0 && f->shape[0] < 0;
}

int qt_norm_layout(const qt_field *f, int per_channel, int64_t *nchan,
		   int64_t *inner)
{
	int axis = is_ragged(f) ? 1 : 0; /* first axis of fixed size */
	int64_t per_unit = qt_shape_numel(f->ndim - axis, f->shape + axis);
	if (per_unit < 0)
		return qt_error(QT_ESHAPE, "field '%s': bad shape", f->name);
	if (!per_channel) {
		*nchan = 1;
		*inner = per_unit;
		return 0;
	}
	if (f->ndim <= axis)
		return qt_error(QT_EUSAGE, "--per-channel: field '%s' has no "
				"%saxis to take channels from", f->name,
				axis ? "fixed " : "");
	*nchan = f->shape[axis];
	*inner = qt_shape_numel(f->ndim - axis - 1, f->shape + axis + 1);
	return 0;
}

int qt_norm_affine(int method, double min, double max, double mean,
		   double std, int allow_constant, double *scale,
		   double *offset, double *smean, double *sstd, int *constant)
{
	double a = 1, b = 0;
	*constant = 0;
	if (method & QT_NORM_MINMAX) {
		double r = max - min;
		if (!(r > 0)) {
			if (!allow_constant)
				return qt_error(QT_ENUMERIC, "zero range (min = "
						"max = %g)", min);
			r = 1;
			*constant = 1;
		}
		a = 1 / r;
		b = -min / r;
	}
	if (method & QT_NORM_STANDARD) {
		/* The mean and std after the first map, x -> a x + b. */
		double m = mean * a + b, s = std * a;
		if (!(s > 0)) {
			if (!allow_constant)
				return qt_error(QT_ENUMERIC, "zero standard "
						"deviation (every value is %g)",
						mean);
			s = 1;
			*constant = 1;
		}
		if (method == QT_NORM_BOTH) {
			*smean = m;
			*sstd = s;
		}
		b = (b - m) / s;
		a = a / s;
	}
	*scale = a;
	*offset = b;
	return 0;
}

qt_norm *qt_norm_new(int64_t nchan, int both)
{
	qt_norm *n = calloc(1, sizeof *n);
	double *p;
	if (!n || nchan < 1 || nchan > (INT64_C(1) << 32)) {
		free(n);
		return NULL;
	}
	if (!(p = calloc((size_t)nchan * 8, sizeof *p))) {
		free(n);
		return NULL;
	}
	n->nchan = nchan;
	n->min = p;
	n->max = p + nchan;
	n->mean = p + 2 * nchan;
	n->std = p + 3 * nchan;
	n->scale = p + 4 * nchan;
	n->offset = p + 5 * nchan;
	if (both) {
		n->smean = p + 6 * nchan;
		n->sstd = p + 7 * nchan;
	}
	return n;
}

void qt_norm_free(qt_norm *n)
{
	if (!n)
		return;
	free(n->min);
	free(n);
}

int qt_norm_is_constant(const qt_norm *n, int64_t c)
{
	if (c < 0 || c >= n->nchan)
		return 0;
	if ((n->method & QT_NORM_MINMAX) && !(n->max[c] > n->min[c]))
		return 1;
	return (n->method & QT_NORM_STANDARD) && !(n->std[c] > 0);
}

/* ---- identity ---- */

static void hash_str(struct sha256_ctx *h, const char *s)
{
	sha256_update(h, strlen(s), (const uint8_t *)s);
}

static void hash_doubles(struct sha256_ctx *h, const double *v, int64_t n)
{
	for (int64_t i = 0; i < n; i++) {
		uint64_t u;
		uint8_t le[8];
		memcpy(&u, &v[i], sizeof u);
		for (int j = 0; j < 8; j++)
			le[j] = (uint8_t)(u >> (8 * j));
		sha256_update(h, 8, le);
	}
}

int qt_norm_identity(qt_norm *n)
{
	struct sha256_ctx h;
	uint8_t d[SHA256_DIGEST_SIZE];
	char line[QT_NAME_MAX + 64];
	sha256_init(&h);
	hash_str(&h, QT_NORM_FORMAT "\n");
	snprintf(line, sizeof line, "field=%s\nmethod=%s\nper_channel=%d\n"
		 "shape=", n->field, qt_norm_method_name(n->method),
		 n->per_channel ? 1 : 0);
	hash_str(&h, line);
	for (int i = 0; i < n->ndim; i++) {
		if (n->shape[i] < 0)
			snprintf(line, sizeof line, "%s*", i ? "," : "");
		else
			snprintf(line, sizeof line, "%s%lld", i ? "," : "",
				 (long long)n->shape[i]);
		hash_str(&h, line);
	}
	hash_str(&h, "\nscale=");
	hash_doubles(&h, n->scale, n->nchan);
	hash_str(&h, "\noffset=");
	hash_doubles(&h, n->offset, n->nchan);
	hash_str(&h, "\n");
	sha256_digest(&h, sizeof d, d);
	for (size_t i = 0; i < sizeof d; i++)
		snprintf(n->sha256 + 2 * i, 3, "%02x", d[i]);
	return 0;
}

/* ---- fitting ---- */

struct qt_norm_fitter {
	int field;
	qt_field f;           /* copy; classes not kept */
	int method, per_channel;
	int64_t nchan, inner;
	qt_stats *st;         /* (nchan) */
	int64_t batches, samples;
	double buf[1024];
};

int qt_norm_fit_begin(qt_norm_fitter **fp, const qt_header *h,
		      const char *field, int method, int per_channel)
{
	qt_norm_fitter *f;
	int i, rc;
	int64_t nchan, inner;
	*fp = NULL;
	if ((i = qt_field_require(h, field, "--field")) < 0)
		return i;
	if ((rc = qt_norm_layout(&h->fields[i], per_channel, &nchan,
				 &inner)) < 0)
		return rc;
	if (nchan < 1)
		return qt_error(QT_EUSAGE, "field '%s' has no channels to fit "
				"(its channel axis has size 0)", field);
	if (method < QT_NORM_MINMAX || method > QT_NORM_BOTH)
		return qt_error(QT_EUSAGE, "bad normalisation method %d", method);
	if (!(f = calloc(1, sizeof *f)) ||
	    !(f->st = malloc((size_t)nchan * sizeof *f->st))) {
		free(f);
		return qt_error(QT_ENOMEM, "out of memory");
	}
	f->field = i;
	f->f = h->fields[i];
	f->f.classes = NULL;
	f->f.nclasses = 0;
	f->method = method;
	f->per_channel = per_channel;
	f->nchan = nchan;
	f->inner = inner;
	for (int64_t c = 0; c < nchan; c++)
		qt_stats_init(&f->st[c]);
	*fp = f;
	return 0;
}

void qt_norm_fitter_free(qt_norm_fitter *f)
{
	if (!f)
		return;
	free(f->st);
	free(f);
}

/* Index of the first NaN or infinite element of t, or -1. */
static int64_t first_nonfinite(const qt_tensor *t)
{
	int64_t n = qt_tensor_numel(t);
	if (t->dtype == QT_F32) {
		const float *x = t->data;
		for (int64_t k = 0; k < n; k++)
			if (!isfinite(x[k]))
				return k;
	} else if (t->dtype == QT_F64) {
		const double *x = t->data;
		for (int64_t k = 0; k < n; k++)
			if (!isfinite(x[k]))
				return k;
	}
	return -1;
}

/* The sample (within b) that owns element k of field f's tensor. */
static int64_t sample_of(const qt_batch *b, int f, int64_t k)
{
	const qt_tensor *t = b->t[f];
	int64_t per = qt_shape_numel(t->ndim - 1, t->shape + 1);
	int64_t unit = per > 0 ? k / per : 0, lo = 0, hi;
	if (!b->ptr[f])
		return unit;
	const int64_t *p = b->ptr[f]->data;
	hi = b->n; /* p[lo] <= unit < p[hi] */
	while (hi - lo > 1) {
		int64_t mid = lo + (hi - lo) / 2;
		if (p[mid] <= unit)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

static int nonfinite_error(const qt_batch *b, int f, const char *name,
			   int64_t k, int64_t batch_no, int64_t first_sample,
			   const char *what)
{
	double v = qt_tensor_get(b->t[f], k);
	int64_t s = sample_of(b, f, k);
	return qt_error(QT_ENUMERIC, "field '%s', batch %lld, sample %lld "
			"(%lld of the stream): %s%s; drop such samples first "
			"(quanta filter --finite %s)", name, (long long)batch_no,
			(long long)s, (long long)(first_sample + s),
			isnan(v) ? "NaN" : v > 0 ? "+Inf" : "-Inf", what, name);
}

/* Add `count` consecutive values of dtype dt at p to s, through the
 * fitter's buffer (*fill values pending). */
static void feed(qt_norm_fitter *f, qt_stats *s, qt_dtype dt, const void *p,
		 int64_t count, int *fill)
{
	size_t es = qt_dtype_size(dt);
	for (int64_t i = 0; i < count; i++) {
		if (dt == QT_F32) {
			f->buf[(*fill)++] = ((const float *)p)[i];
		} else {
			qt_tensor one = qt_tensor_wrap(dt, 0, NULL,
						       (char *)p + (size_t)i * es);
			f->buf[(*fill)++] = qt_tensor_get(&one, 0);
		}
		if (*fill == (int)(sizeof f->buf / sizeof f->buf[0])) {
			qt_stats_add_doubles(s, f->buf, *fill);
			*fill = 0;
		}
	}
}

int qt_norm_fit_add(qt_norm_fitter *f, const qt_batch *b)
{
	const qt_tensor *t = b->t[f->field];
	int64_t numel = qt_tensor_numel(t), bad;
	size_t es = qt_dtype_size(t->dtype);
	f->batches++;
	if ((bad = first_nonfinite(t)) >= 0)
		return nonfinite_error(b, f->field, f->f.name, bad, f->batches,
				       f->samples, "");
	if (f->nchan == 1) {
		qt_stats_add(&f->st[0], t->dtype, t->data, numel);
	} else {
		int64_t units = t->ndim ? t->shape[0] : 1;
		for (int64_t c = 0; c < f->nchan; c++) {
			int fill = 0;
			for (int64_t u = 0; u < units; u++) {
				int64_t at = (u * f->nchan + c) * f->inner;
				if (t->dtype == QT_F64) {
					qt_stats_add_doubles(&f->st[c],
							     (const double *)t->data + at,
							     f->inner);
					continue;
				}
				feed(f, &f->st[c], t->dtype,
				     (const char *)t->data + (size_t)at * es,
				     f->inner, &fill);
			}
			if (fill)
				qt_stats_add_doubles(&f->st[c], f->buf, fill);
		}
	}
	f->samples += b->n;
	return 0;
}

int qt_norm_fit_end(qt_norm_fitter *f, int allow_constant, qt_norm **out,
		    int *nconstant)
{
	qt_norm *n;
	int rc = 0, ncons = 0;
	*out = NULL;
	if (nconstant)
		*nconstant = 0;
	if (f->st[0].n == 0)
		return qt_error(QT_EUSAGE, "nothing to fit: field '%s' has no "
				"values in the stream (%lld samples)", f->f.name,
				(long long)f->samples);
	if (!(n = qt_norm_new(f->nchan, f->method == QT_NORM_BOTH)))
		return qt_error(QT_ENOMEM, "out of memory");
	snprintf(n->field, sizeof n->field, "%s", f->f.name);
	n->method = f->method;
	n->per_channel = f->per_channel;
	n->ndim = f->f.ndim;
	memcpy(n->shape, f->f.shape, sizeof n->shape);
	n->dtype = f->f.dtype;
	n->count = f->st[0].n;
	for (int64_t c = 0; c < f->nchan && rc == 0; c++) {
		const qt_stats *s = &f->st[c];
		int cons;
		double dummy_m, dummy_s;
		n->min[c] = s->min;
		n->max[c] = s->max;
		n->mean[c] = s->mean;
		n->std[c] = qt_stats_std(s, 0);
		rc = qt_norm_affine(n->method, n->min[c], n->max[c], n->mean[c],
				    n->std[c], allow_constant, &n->scale[c],
				    &n->offset[c], n->smean ? &n->smean[c] :
				    &dummy_m, n->sstd ? &n->sstd[c] : &dummy_s,
				    &cons);
		if (rc < 0) {
			char where[64] = "";
			if (f->per_channel)
				snprintf(where, sizeof where, " channel %lld",
					 (long long)c);
			rc = qt_error(rc, "field '%s'%s is constant: %s, so %s "
				      "scaling would divide by zero; drop it, or "
				      "pass --allow-constant to map it to 0",
				      n->field, where, qt_error_message(rc),
				      (n->method & QT_NORM_MINMAX) ? "min-max" :
				      "standard");
		}
		ncons += cons;
	}
	if (rc == 0)
		rc = qt_norm_identity(n);
	if (rc < 0) {
		qt_norm_free(n);
		return rc;
	}
	if (nconstant)
		*nconstant = ncons;
	*out = n;
	return 0;
}

/* ---- applying ---- */

int qt_norm_check(const qt_norm *n, const qt_header *h, const char *path)
{
	int i = qt_header_find(h, n->field);
	char want[96], got[96];
	if (i < 0) {
		qt_field_require(h, n->field, NULL);
		return qt_error_prefix(QT_EUSAGE, "the parameters in %s were "
				       "fitted on field '%s': ", path, n->field);
	}
	const qt_field *f = &h->fields[i];
	if (f->ndim != n->ndim ||
	    memcmp(f->shape, n->shape, (size_t)n->ndim * sizeof *n->shape))
		return qt_error(QT_ESHAPE, "field '%s' has per-sample shape %s "
				"here, but the parameters in %s were fitted on "
				"shape %s; fit parameters on data of this layout",
				n->field, qt_shape_str(got, sizeof got, f->ndim,
						       f->shape), path,
				qt_shape_str(want, sizeof want, n->ndim,
					     n->shape));
	return i;
}

/* One channel block: y[i] = x[i] * a + b as float32; the index of the
 * first non-finite result, or -1. */
static int64_t apply_block(float *y, const qt_tensor *in, int64_t at,
			   int64_t count, double a, double b)
{
	if (in->dtype == QT_F32) {
		const float *x = (const float *)in->data + at;
		for (int64_t i = 0; i < count; i++)
			y[i] = (float)(x[i] * a + b);
	} else if (in->dtype == QT_F64) {
		const double *x = (const double *)in->data + at;
		for (int64_t i = 0; i < count; i++)
			y[i] = (float)(x[i] * a + b);
	} else {
		for (int64_t i = 0; i < count; i++)
			y[i] = (float)(qt_tensor_get(in, at + i) * a + b);
	}
	for (int64_t i = 0; i < count; i++)
		if (!isfinite(y[i]))
			return i;
	return -1;
}

int qt_norm_apply(const qt_norm *n, qt_tensor *out, const qt_tensor *in,
		  int64_t *bad)
{
	int64_t numel = qt_tensor_numel(in), C = n->nchan, inner, units;
	*bad = -1;
	if (out->dtype != QT_F32 || qt_tensor_numel(out) != numel)
		return qt_error(QT_EINTERNAL, "qt_norm_apply: output is not a "
				"float32 tensor of the input's size");
	if (numel == 0)
		return 0;
	units = in->ndim ? in->shape[0] : 1;
	inner = numel / units / C;
	if (inner * C * units != numel)
		return qt_error(QT_EINTERNAL, "qt_norm_apply: %lld values are "
				"not units of %lld channels", (long long)numel,
				(long long)C);
	for (int64_t u = 0; u < units; u++)
		for (int64_t c = 0; c < C; c++) {
			int64_t at = (u * C + c) * inner;
			int64_t k = apply_block((float *)out->data + at, in, at,
						inner, n->scale[c], n->offset[c]);
			if (k >= 0) {
				*bad = at + k;
				return QT_ENUMERIC;
			}
		}
	return 0;
}

int qt_norm_apply_batch(const qt_norm *n, int field, qt_batch *b,
			int64_t batch_no, int64_t first_sample)
{
	qt_tensor *in = b->t[field], *out = in;
	int64_t bad;
	int rc;
	if ((bad = first_nonfinite(in)) >= 0)
		return nonfinite_error(b, field, n->field, bad, batch_no,
				       first_sample, "");
	if (in->dtype != QT_F32 &&
	    !(out = qt_tensor_new(QT_F32, in->ndim, in->shape)))
		return QT_ENOMEM;
	if ((rc = qt_norm_apply(n, out, in, &bad)) < 0) {
		if (rc == QT_ENUMERIC)
			rc = nonfinite_error(b, field, n->field, bad, batch_no,
					     first_sample, " after normalising "
					     "(out of float32 range)");
		if (out != in)
			qt_tensor_free(out);
		return rc;
	}
	if (out != in) {
		qt_tensor_free(in);
		b->t[field] = out;
	}
	return 0;
}

/* ---- the parameter file ---- */

/* A 1-D int64 attribute of n values (an empty one for n == 0). */
static int attr_write_i64v(hid_t obj, const char *name, int n,
			   const int64_t *v)
{
	hsize_t dims[1] = {(hsize_t)n};
	hid_t space = n ? H5Screate_simple(1, dims, NULL) : H5Screate(H5S_NULL);
	hid_t a = H5I_INVALID_HID;
	int rc = 0;
	if (space < 0 ||
	    (a = H5Acreate2(obj, name, H5T_STD_I64LE, space, H5P_DEFAULT,
			    H5P_DEFAULT)) < 0 ||
	    (n && H5Awrite(a, H5T_NATIVE_INT64, v) < 0))
		rc = qt_h5_error(QT_EIO, "writing attribute '%s'", name);
	if (a >= 0 && H5Aclose(a) < 0 && !rc)
		rc = qt_h5_error(QT_EIO, "writing attribute '%s'", name);
	if (space >= 0)
		H5Sclose(space);
	return rc;
}

static int attr_write_i64(hid_t obj, const char *name, int64_t v)
{
	hid_t space = H5Screate(H5S_SCALAR), a = H5I_INVALID_HID;
	int rc = 0;
	if (space < 0 ||
	    (a = H5Acreate2(obj, name, H5T_STD_I64LE, space, H5P_DEFAULT,
			    H5P_DEFAULT)) < 0 ||
	    H5Awrite(a, H5T_NATIVE_INT64, &v) < 0)
		rc = qt_h5_error(QT_EIO, "writing attribute '%s'", name);
	if (a >= 0 && H5Aclose(a) < 0 && !rc)
		rc = qt_h5_error(QT_EIO, "writing attribute '%s'", name);
	if (space >= 0)
		H5Sclose(space);
	return rc;
}

/* An integer attribute of at most max values into v; *n gets the count.
 * A missing attribute is QT_EFORMAT. */
static int attr_read_i64v(hid_t obj, const char *name, int max, int64_t *v,
			  int *n)
{
	hid_t a, space = H5I_INVALID_HID, type = H5I_INVALID_HID;
	hssize_t npts;
	int rc = 0;
	htri_t ex = H5Aexists(obj, name);
	if (ex <= 0)
		return ex < 0 ? qt_h5_error(QT_EFORMAT, "attribute '%s'", name)
			      : qt_error(QT_EFORMAT, "no attribute '%s'", name);
	if ((a = H5Aopen(obj, name, H5P_DEFAULT)) < 0)
		return qt_h5_error(QT_EFORMAT, "attribute '%s'", name);
	if ((space = H5Aget_space(a)) < 0 || (type = H5Aget_type(a)) < 0 ||
	    (npts = H5Sget_simple_extent_npoints(space)) < 0) {
		rc = qt_h5_error(QT_EFORMAT, "attribute '%s'", name);
	} else if (H5Tget_class(type) != H5T_INTEGER || npts > max) {
		rc = qt_error(QT_EFORMAT, "attribute '%s' is not %s integer%s",
			      name, max > 1 ? "a list of at most 8" : "an",
			      max > 1 ? "s" : "");
	} else if (npts > 0 && H5Aread(a, H5T_NATIVE_INT64, v) < 0) {
		rc = qt_h5_error(QT_EFORMAT, "attribute '%s'", name);
	} else {
		*n = (int)npts;
	}
	if (type >= 0)
		H5Tclose(type);
	if (space >= 0)
		H5Sclose(space);
	H5Aclose(a);
	return rc;
}

static int attr_read_i64(hid_t obj, const char *name, int64_t *v)
{
	int n = 0, rc = attr_read_i64v(obj, name, 1, v, &n);
	if (rc == 0 && n != 1)
		rc = qt_error(QT_EFORMAT, "attribute '%s' is empty", name);
	return rc;
}

static int write_vec(hid_t loc, const char *name, const double *v,
		     int64_t n)
{
	qt_tensor t = qt_tensor_wrap(QT_F64, 1, &n, (void *)v);
	return qt_h5_write_tensor(loc, name, &t, 0);
}

int qt_norm_write(const qt_norm *n, qt_h5_out *o, const char *fitted_on)
{
	hid_t f = o->file;
	int rc;
	if ((rc = qt_h5_attr_write_str(f, "format", QT_NORM_FORMAT)) < 0 ||
	    (rc = qt_h5_attr_write_str(f, "field", n->field)) < 0 ||
	    (rc = qt_h5_attr_write_str(f, "method",
				       qt_norm_method_name(n->method))) < 0 ||
	    (rc = attr_write_i64(f, "per_channel", n->per_channel ? 1 : 0)) < 0 ||
	    (rc = attr_write_i64v(f, "shape", n->ndim, n->shape)) < 0 ||
	    (rc = qt_h5_attr_write_str(f, "dtype", qt_dtype_name(n->dtype))) < 0 ||
	    (rc = attr_write_i64(f, "channels", n->nchan)) < 0 ||
	    (rc = attr_write_i64(f, "count", n->count)) < 0 ||
	    (rc = attr_write_i64(f, "ddof", 0)) < 0 ||
	    (rc = qt_h5_attr_write_str(f, "sha256", n->sha256)) < 0 ||
	    (rc = qt_h5_attr_write_str(f, "quanta_version",
				       QUANTA_VERSION_STRING)) < 0 ||
	    (fitted_on &&
	     (rc = qt_h5_attr_write_str(f, "fitted_on", fitted_on)) < 0) ||
	    (rc = write_vec(f, "min", n->min, n->nchan)) < 0 ||
	    (rc = write_vec(f, "max", n->max, n->nchan)) < 0 ||
	    (rc = write_vec(f, "mean", n->mean, n->nchan)) < 0 ||
	    (rc = write_vec(f, "std", n->std, n->nchan)) < 0 ||
	    (n->smean &&
	     ((rc = write_vec(f, "scaled_mean", n->smean, n->nchan)) < 0 ||
	      (rc = write_vec(f, "scaled_std", n->sstd, n->nchan)) < 0)) ||
	    (rc = write_vec(f, "scale", n->scale, n->nchan)) < 0 ||
	    (rc = write_vec(f, "offset", n->offset, n->nchan)) < 0)
		return qt_error_prefix(rc, "writing %s: ", o->path);
	return 0;
}

int qt_norm_save(const qt_norm *n, const char *path, const char *fitted_on)
{
	qt_h5_out o;
	int rc;
	if ((rc = qt_h5_create(&o, path)) < 0)
		return rc;
	if ((rc = qt_norm_write(n, &o, fitted_on)) < 0) {
		qt_h5_finish(&o, 0);
		return rc;
	}
	return qt_h5_finish(&o, 1);
}

static int read_vec(hid_t f, const char *name, double *v, int64_t n)
{
	qt_tensor *t = NULL;
	int rc = qt_h5_read_tensor(f, name, QT_F64, &t);
	if (rc < 0)
		return qt_error(QT_EFORMAT, "%s", qt_error_message(rc));
	if (t->ndim != 1 || t->shape[0] != n)
		rc = qt_error(QT_EFORMAT, "dataset '%s' does not hold %lld "
			      "values, one per channel", name, (long long)n);
	else
		memcpy(v, t->data, (size_t)n * sizeof *v);
	qt_tensor_free(t);
	return rc;
}

static int read_str(hid_t f, const char *name, char **v)
{
	int rc = qt_h5_attr_read_str(f, name, v);
	if (rc == 0)
		return qt_error(QT_EFORMAT, "no attribute '%s'", name);
	return rc < 0 ? rc : 0;
}

/* Read everything but the checks that need the whole struct. */
static int load_file(hid_t f, qt_norm **out)
{
	char *format = NULL, *field = NULL, *method = NULL, *dtype = NULL;
	char *sha = NULL;
	int64_t per_channel = 0, nchan = 0, count = 0, ncheck, inner;
	int64_t shape[QT_MAX_DIMS];
	int ndim = 0, m = 0, rc;
	qt_dtype dt = QT_F32;
	qt_norm *n = NULL;
	qt_field fl;

	if ((rc = read_str(f, "format", &format)) < 0)
		goto out;
	if (strcmp(format, QT_NORM_FORMAT)) {
		rc = qt_error(QT_EFORMAT, "format '%s' is not '%s'", format,
			      QT_NORM_FORMAT);
		goto out;
	}
	if ((rc = read_str(f, "field", &field)) < 0 ||
	    (rc = read_str(f, "method", &method)) < 0 ||
	    (rc = read_str(f, "dtype", &dtype)) < 0 ||
	    (rc = read_str(f, "sha256", &sha)) < 0 ||
	    (rc = attr_read_i64(f, "per_channel", &per_channel)) < 0 ||
	    (rc = attr_read_i64(f, "channels", &nchan)) < 0 ||
	    (rc = attr_read_i64(f, "count", &count)) < 0 ||
	    (rc = attr_read_i64v(f, "shape", QT_MAX_DIMS, shape, &ndim)) < 0)
		goto out;
	if ((rc = qt_norm_parse_method(method, &m)) < 0 ||
	    (rc = qt_dtype_parse(dtype, strlen(dtype), &dt)) < 0) {
		rc = qt_error(QT_EFORMAT, "%s", qt_error_message(rc));
		goto out;
	}
	memset(&fl, 0, sizeof fl);
	snprintf(fl.name, sizeof fl.name, "%s", field);
	fl.ndim = ndim;
	memcpy(fl.shape, shape, (size_t)ndim * sizeof *shape);
	for (int i = 0; i < ndim; i++)
		if (shape[i] < (i == 0 ? -1 : 0))
			rc = qt_error(QT_EFORMAT, "bad attribute 'shape'");
	if (rc < 0 || strlen(field) >= QT_NAME_MAX ||
	    (rc = qt_norm_layout(&fl, (int)per_channel, &ncheck, &inner)) < 0 ||
	    ncheck != nchan || nchan < 1 || (per_channel != 0 && per_channel != 1)) {
		rc = qt_error(QT_EFORMAT, "its field, shape, per_channel and "
			      "channels attributes do not agree");
		goto out;
	}
	if (!(n = qt_norm_new(nchan, m == QT_NORM_BOTH))) {
		rc = qt_error(QT_ENOMEM, "out of memory");
		goto out;
	}
	snprintf(n->field, sizeof n->field, "%s", field);
	n->method = m;
	n->per_channel = (int)per_channel;
	n->ndim = ndim;
	memcpy(n->shape, shape, sizeof shape);
	n->dtype = dt;
	n->count = count;
	if ((rc = read_vec(f, "min", n->min, nchan)) < 0 ||
	    (rc = read_vec(f, "max", n->max, nchan)) < 0 ||
	    (rc = read_vec(f, "mean", n->mean, nchan)) < 0 ||
	    (rc = read_vec(f, "std", n->std, nchan)) < 0 ||
	    (n->smean &&
	     ((rc = read_vec(f, "scaled_mean", n->smean, nchan)) < 0 ||
	      (rc = read_vec(f, "scaled_std", n->sstd, nchan)) < 0)) ||
	    (rc = read_vec(f, "scale", n->scale, nchan)) < 0 ||
	    (rc = read_vec(f, "offset", n->offset, nchan)) < 0)
		goto out;
	qt_norm_identity(n);
	if (strcmp(sha, n->sha256))
		rc = qt_error(QT_EFORMAT, "its parameters do not match their "
			      "recorded sha256 (the file was edited or is "
			      "damaged)");
out:
	free(format);
	free(field);
	free(method);
	free(dtype);
	free(sha);
	if (rc < 0) {
		qt_norm_free(n);
		n = NULL;
	}
	*out = n;
	return rc;
}

int qt_norm_load(qt_norm **out, const char *path)
{
	hid_t f;
	int rc;
	*out = NULL;
	if ((rc = qt_h5_open(&f, path)) < 0)
		return rc;
	rc = load_file(f, out);
	H5Fclose(f);
	if (rc < 0)
		return qt_error_prefix(QT_EFORMAT, "%s is not a valid quanta "
				       "normalise parameter file: ", path);
	return 0;
}
