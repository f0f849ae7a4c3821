/* h5.c: HDF5 helpers (see h5.h): quiet errors reported through qt_error,
 * dtype mapping, row (hyperslab) reads, extendable chunked datasets,
 * string attributes, and atomic file creation. */
#include "common/h5.h"
#include "common/error.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Chunks of about this many bytes: big enough that per-chunk overhead
 * vanishes, small enough that a partial read decompresses little and a
 * small dataset's one partly filled chunk wastes little space. */
#define CHUNK_TARGET (256u << 10)
#define CACHE_MAX ((size_t)256 << 20)

static hid_t bool_type = H5I_INVALID_HID;

void qt_h5_init(void)
{
	static int done;
	if (done)
		return;
	done = 1;
	H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

/* The innermost (most specific) description on HDF5's error stack. */
static herr_t walk_cb(unsigned n, const H5E_error2_t *e, void *data)
{
	char *buf = data;
	if (e->desc && e->desc[0])
		snprintf(buf, 256, "%s", e->desc);
	return 0;
}

int qt_h5_error(int code, const char *fmt, ...)
{
	char what[512], why[256] = "";
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, walk_cb, why);
	H5Eclear2(H5E_DEFAULT);
	if (why[0])
		return qt_error(code, "%s: %s", what, why);
	return qt_error(code, "%s", what);
}

/* ---- types ---- */

static hid_t make_bool_type(void)
{
	int8_t f = 0, t = 1;
	hid_t ty = H5Tenum_create(H5T_NATIVE_INT8);
	if (ty < 0)
		return ty;
	if (H5Tenum_insert(ty, "FALSE", &f) < 0 ||
	    H5Tenum_insert(ty, "TRUE", &t) < 0) {
		H5Tclose(ty);
		return H5I_INVALID_HID;
	}
	return ty;
}

hid_t qt_h5_type(qt_dtype dt)
{
	switch (dt) {
	case QT_F32: return H5T_NATIVE_FLOAT;
	case QT_F64: return H5T_NATIVE_DOUBLE;
	case QT_I8: return H5T_NATIVE_INT8;
	case QT_I16: return H5T_NATIVE_INT16;
	case QT_I32: return H5T_NATIVE_INT32;
	case QT_I64: return H5T_NATIVE_INT64;
	case QT_U8: return H5T_NATIVE_UINT8;
	case QT_U16: return H5T_NATIVE_UINT16;
	case QT_U32: return H5T_NATIVE_UINT32;
	case QT_U64: return H5T_NATIVE_UINT64;
	case QT_BOOL:
		qt_h5_init();
		if (bool_type < 0)
			bool_type = make_bool_type();
		return bool_type;
	default: return H5I_INVALID_HID;
	}
}

static int int_dtype(size_t size, int is_signed, qt_dtype *dt)
{
	static const qt_dtype s[] = {QT_I8, QT_I16, QT_I32, QT_I64};
	static const qt_dtype u[] = {QT_U8, QT_U16, QT_U32, QT_U64};
	int k = size == 1 ? 0 : size == 2 ? 1 : size == 4 ? 2 : size == 8 ? 3 : -1;
	if (k < 0)
		return QT_EFORMAT;
	*dt = is_signed ? s[k] : u[k];
	return 0;
}

/* h5py's bool: an enum on a 1-byte integer with exactly FALSE=0, TRUE=1. */
static int is_bool_enum(hid_t type)
{
	char *n0, *n1;
	int8_t v0 = -1, v1 = -1;
	int ok;
	if (H5Tget_nmembers(type) != 2 || H5Tget_size(type) != 1)
		return 0;
	n0 = H5Tget_member_name(type, 0);
	n1 = H5Tget_member_name(type, 1);
	ok = n0 && n1 && H5Tget_member_value(type, 0, &v0) >= 0 &&
	     H5Tget_member_value(type, 1, &v1) >= 0 &&
	     !strcmp(n0, "FALSE") && !strcmp(n1, "TRUE") && v0 == 0 && v1 == 1;
	H5free_memory(n0);
	H5free_memory(n1);
	return ok;
}

int qt_h5_dtype_of(hid_t type, qt_dtype *dt)
{
	size_t size = H5Tget_size(type);
	hid_t base;
	int rc;
	switch (H5Tget_class(type)) {
	case H5T_FLOAT:
		/* Half precision has no quanta dtype; HDF5 widens it. */
		*dt = size <= 4 ? QT_F32 : QT_F64;
		return 0;
	case H5T_INTEGER:
		return int_dtype(size, H5Tget_sign(type) == H5T_SGN_2, dt);
	case H5T_ENUM:
		if (is_bool_enum(type)) {
			*dt = QT_BOOL;
			return 0;
		}
		if ((base = H5Tget_super(type)) < 0)
			return QT_EFORMAT;
		rc = int_dtype(size, H5Tget_sign(base) == H5T_SGN_2, dt);
		H5Tclose(base);
		if (rc == 0 && size == 1)
			*dt = QT_U8;
		return rc;
	default:
		return QT_EFORMAT;
	}
}

static const char *class_name(hid_t type)
{
	switch (H5Tget_class(type)) {
	case H5T_STRING: return "strings";
	case H5T_COMPOUND: return "a compound (structured) type";
	case H5T_REFERENCE: return "references";
	case H5T_VLEN: return "variable-length sequences";
	case H5T_ARRAY: return "an array type";
	case H5T_OPAQUE: return "an opaque type";
	case H5T_BITFIELD: return "a bitfield type";
	case H5T_TIME: return "a time type";
	default: return "an unsupported type";
	}
}

/* ---- files ---- */

int qt_h5_is_hdf5(const char *path)
{
	static const unsigned char sig[8] = {0x89, 'H', 'D', 'F', '\r', '\n',
					     0x1a, '\n'};
	unsigned char buf[8];
	int fd = open(path, O_RDONLY | O_CLOEXEC), found = 0;
	if (fd < 0)
		return 0;
	/* The signature sits at 0 or, after a user block, at 512, 1024,
	 * 2048, ... */
	for (off_t off = 0; off <= ((off_t)1 << 30) && !found;
	     off = off ? off * 2 : 512) {
		ssize_t n = pread(fd, buf, sizeof buf, off);
		if (n != (ssize_t)sizeof buf)
			break;
		found = !memcmp(buf, sig, sizeof sig);
	}
	close(fd);
	return found;
}

int qt_h5_open(hid_t *file, const char *path)
{
	struct stat st;
	hid_t f;
	qt_h5_init();
	if (stat(path, &st) != 0 || access(path, R_OK) != 0)
		return qt_error(QT_EUSAGE, "cannot open '%s': %s", path,
				strerror(errno));
	if (S_ISDIR(st.st_mode))
		return qt_error(QT_EUSAGE, "'%s' is a directory", path);
	if (!qt_h5_is_hdf5(path))
		return qt_error(QT_EFORMAT, "'%s' is not an HDF5 file (no HDF5 "
				"signature)", path);
	f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
	if (f < 0)
		return qt_h5_error(QT_EFORMAT, "cannot open HDF5 file '%s'",
				   path);
	*file = f;
	return 0;
}

void qt_h5_free_names(char **names, int n)
{
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

struct name_list {
	char **v;
	int n, cap, err;
};

static int is_dataset(hid_t loc, const char *name)
{
	hid_t o = H5Oopen(loc, name, H5P_DEFAULT);
	int yes;
	if (o < 0) {
		H5Eclear2(H5E_DEFAULT);
		return 0;
	}
	yes = H5Iget_type(o) == H5I_DATASET;
	H5Oclose(o);
	return yes;
}

static herr_t list_cb(hid_t g, const char *name, const H5L_info_t *info,
		      void *data)
{
	struct name_list *l = data;
	if (!is_dataset(g, name))
		return 0;
	if (l->n == l->cap) {
		int cap = l->cap ? 2 * l->cap : 16;
		char **v = realloc(l->v, (size_t)cap * sizeof *v);
		if (!v) {
			l->err = 1;
			return -1;
		}
		l->v = v;
		l->cap = cap;
	}
	if (!(l->v[l->n] = strdup(name))) {
		l->err = 1;
		return -1;
	}
	l->n++;
	return 0;
}

int qt_h5_list_datasets(hid_t file, char ***names, int *n)
{
	struct name_list l = {0};
	hsize_t idx = 0;
	qt_h5_init();
	/* Creation order where the file tracks it (quanta's files do, so
	 * fields come back in the order they were saved), else names. */
	herr_t rc = H5Literate(file, H5_INDEX_CRT_ORDER, H5_ITER_INC, &idx,
			       list_cb, &l);
	if (rc < 0 && !l.err) {
		H5Eclear2(H5E_DEFAULT);
		qt_h5_free_names(l.v, l.n);
		memset(&l, 0, sizeof l);
		idx = 0;
		rc = H5Literate(file, H5_INDEX_NAME, H5_ITER_INC, &idx, list_cb,
				&l);
	}
	if (rc < 0) {
		qt_h5_free_names(l.v, l.n);
		if (l.err)
			return qt_error(QT_ENOMEM, "out of memory");
		return qt_h5_error(QT_EFORMAT, "cannot list the datasets");
	}
	*names = l.v;
	*n = l.n;
	return 0;
}

int qt_h5_has_dataset(hid_t loc, const char *name)
{
	char path[1024];
	size_t len = strlen(name);
	if (!len || len >= sizeof path)
		return 0;
	/* H5Lexists needs every parent group of the path to exist. */
	for (size_t i = 1; i <= len; i++) {
		if (i < len && name[i] != '/')
			continue;
		memcpy(path, name, i);
		path[i] = '\0';
		if (H5Lexists(loc, path, H5P_DEFAULT) <= 0) {
			H5Eclear2(H5E_DEFAULT);
			return 0;
		}
	}
	return is_dataset(loc, name);
}

static void file_name(hid_t loc, char *buf, size_t len)
{
	if (H5Fget_name(loc, buf, len) < 0) {
		H5Eclear2(H5E_DEFAULT);
		snprintf(buf, len, "HDF5 file");
	}
}

/* "images, labels, xHI" for a missing-dataset message. */
static void dataset_names(hid_t loc, char *buf, size_t len)
{
	char **v;
	int n;
	size_t used = 0;
	buf[0] = '\0';
	if (qt_h5_list_datasets(loc, &v, &n) < 0)
		return;
	for (int i = 0; i < n && used + 8 < len; i++) {
		int w = snprintf(buf + used, len - used, "%s%s", i ? ", " : "",
				 v[i]);
		used += w > 0 ? (size_t)w : 0;
	}
	if (used >= len - 8 && len > 4)
		snprintf(buf + len - 5, 5, "...");
	qt_h5_free_names(v, n);
}

/* ---- reading ---- */

/* A chunk cache that holds one chunk-row of the dataset, so reading
 * along the first dimension decompresses every chunk once. */
static hid_t read_access_plist(hid_t d, size_t elsize)
{
	hid_t dcpl = H5Dget_create_plist(d), dapl = H5I_INVALID_HID;
	hid_t space = H5Dget_space(d);
	hsize_t chunk[H5S_MAX_RANK], dims[H5S_MAX_RANK];
	int rank;
	if (dcpl < 0 || space < 0)
		goto out;
	if (H5Pget_layout(dcpl) != H5D_CHUNKED)
		goto out;
	rank = H5Pget_chunk(dcpl, H5S_MAX_RANK, chunk);
	if (rank <= 0 || H5Sget_simple_extent_dims(space, dims, NULL) != rank)
		goto out;
	size_t bytes = elsize, across = 1;
	for (int i = 0; i < rank; i++) {
		bytes *= chunk[i];
		if (i > 0 && chunk[i])
			across *= (dims[i] + chunk[i] - 1) / chunk[i];
	}
	size_t want = bytes * across;
	if (want < ((size_t)1 << 20))
		want = (size_t)1 << 20;
	if (want > CACHE_MAX)
		want = CACHE_MAX;
	dapl = H5Pcreate(H5P_DATASET_ACCESS);
	if (dapl >= 0 && H5Pset_chunk_cache(dapl, 10007, want, 1.0) < 0) {
		H5Pclose(dapl);
		dapl = H5I_INVALID_HID;
	}
out:
	if (dcpl >= 0)
		H5Pclose(dcpl);
	if (space >= 0)
		H5Sclose(space);
	H5Eclear2(H5E_DEFAULT);
	return dapl;
}

int qt_h5_dset_open(qt_h5_dset *d, hid_t loc, const char *name)
{
	hsize_t dims[H5S_MAX_RANK];
	hid_t dapl;
	int rank;
	qt_h5_init();
	memset(d, 0, sizeof *d);
	d->id = d->space = d->ftype = d->mtype = H5I_INVALID_HID;
	snprintf(d->name, sizeof d->name, "%s", name);
	file_name(loc, d->file, sizeof d->file);
	if (!qt_h5_has_dataset(loc, name)) {
		char list[512];
		dataset_names(loc, list, sizeof list);
		return qt_error(QT_EUSAGE, "%s: no dataset '%s' (it has: %s)",
				d->file, name, list[0] ? list : "none");
	}
	if ((d->id = H5Dopen2(loc, name, H5P_DEFAULT)) < 0)
		return qt_h5_error(QT_EFORMAT, "%s: cannot open dataset '%s'",
				   d->file, name);
	if ((d->ftype = H5Dget_type(d->id)) < 0)
		goto fail;
	if (qt_h5_dtype_of(d->ftype, &d->dtype) < 0) {
		int rc = qt_error(QT_EFORMAT, "%s: dataset '%s' holds %s, which "
				  "quanta cannot load", d->file, name,
				  class_name(d->ftype));
		qt_h5_dset_close(d);
		return rc;
	}
	if (H5Tget_class(d->ftype) == H5T_ENUM) {
		d->mtype = H5Tget_native_type(d->ftype, H5T_DIR_ASCEND);
		d->convert_by_hand = 1;
	} else {
		d->mtype = H5Tcopy(qt_h5_type(d->dtype));
	}
	if (d->mtype < 0)
		goto fail;
	/* Reopen with a chunk cache fitted to row-by-row reading. */
	dapl = read_access_plist(d->id, qt_dtype_size(d->dtype));
	if (dapl >= 0) {
		hid_t id = H5Dopen2(loc, name, dapl);
		H5Pclose(dapl);
		if (id >= 0) {
			H5Dclose(d->id);
			d->id = id;
		}
		H5Eclear2(H5E_DEFAULT);
	}
	if ((d->space = H5Dget_space(d->id)) < 0)
		goto fail;
	rank = H5Sget_simple_extent_ndims(d->space);
	if (rank < 0 || rank > QT_MAX_DIMS) {
		qt_h5_dset_close(d);
		return qt_error(QT_EFORMAT, "%s: dataset '%s' has rank %d "
				"(quanta handles at most %d)", d->file, name,
				rank, QT_MAX_DIMS);
	}
	if (H5Sget_simple_extent_dims(d->space, dims, NULL) < 0)
		goto fail;
	d->ndim = rank;
	d->row_elems = 1;
	for (int i = 0; i < rank; i++) {
		d->shape[i] = (int64_t)dims[i];
		if (i > 0)
			d->row_elems *= d->shape[i];
	}
	return 0;
fail:
	{
		int rc = qt_h5_error(QT_EFORMAT, "%s: dataset '%s'", d->file,
				     name);
		qt_h5_dset_close(d);
		return rc;
	}
}

void qt_h5_dset_close(qt_h5_dset *d)
{
	if (d->mtype >= 0)
		H5Tclose(d->mtype);
	if (d->ftype >= 0)
		H5Tclose(d->ftype);
	if (d->space >= 0)
		H5Sclose(d->space);
	if (d->id >= 0)
		H5Dclose(d->id);
	d->id = d->space = d->ftype = d->mtype = H5I_INVALID_HID;
}

static void store(void *dst, qt_dtype dt, int64_t i, double v)
{
	switch (dt) {
	case QT_F32: ((float *)dst)[i] = (float)v; break;
	case QT_F64: ((double *)dst)[i] = v; break;
	case QT_I8: ((int8_t *)dst)[i] = (int8_t)v; break;
	case QT_I16: ((int16_t *)dst)[i] = (int16_t)v; break;
	case QT_I32: ((int32_t *)dst)[i] = (int32_t)v; break;
	case QT_I64: ((int64_t *)dst)[i] = (int64_t)v; break;
	case QT_U8: ((uint8_t *)dst)[i] = (uint8_t)v; break;
	case QT_U16: ((uint16_t *)dst)[i] = (uint16_t)v; break;
	case QT_U32: ((uint32_t *)dst)[i] = (uint32_t)v; break;
	case QT_U64: ((uint64_t *)dst)[i] = (uint64_t)v; break;
	case QT_BOOL: ((uint8_t *)dst)[i] = v != 0; break;
	default: break;
	}
}

/* Read the selection with the dataset's own memory type, then convert
 * element by element: for enums (HDF5 converts them only to enums) and
 * for bool targets of non-enum data. */
static int read_by_hand(qt_h5_dset *d, hid_t mspace, hid_t fspace,
			int64_t n, qt_tensor *out)
{
	hid_t mt = d->convert_by_hand ? d->mtype : qt_h5_type(d->dtype);
	qt_dtype own = d->dtype;
	qt_tensor tmp;
	void *buf = qt_alloc((size_t)n * qt_dtype_size(own));
	if (!buf)
		return qt_error(QT_ENOMEM, "out of memory");
	if (H5Dread(d->id, mt, mspace, fspace, H5P_DEFAULT, buf) < 0) {
		qt_free(buf);
		return qt_h5_error(QT_EFORMAT, "%s: reading dataset '%s'",
				   d->file, d->name);
	}
	tmp = qt_tensor_wrap(own, 1, &n, buf);
	for (int64_t i = 0; i < n; i++)
		store(out->data, out->dtype, i, qt_tensor_get(&tmp, i));
	qt_free(buf);
	return 0;
}

static int check_out(const qt_h5_dset *d, int64_t count,
		     const qt_tensor *out)
{
	char s1[96], s2[96];
	int64_t want[QT_MAX_DIMS];
	int ok = out->ndim == d->ndim && out->device == QT_CPU;
	memcpy(want, d->shape, sizeof want);
	if (d->ndim > 0)
		want[0] = count;
	for (int i = 0; ok && i < d->ndim; i++)
		ok = out->shape[i] == want[i];
	if (!ok)
		return qt_error(QT_EINTERNAL, "%s: dataset '%s': tensor %s given "
				"for %s", d->file, d->name,
				qt_shape_str(s1, sizeof s1, out->ndim, out->shape),
				qt_shape_str(s2, sizeof s2, d->ndim, want));
	return 0;
}

static int read_selection(qt_h5_dset *d, hid_t mspace, hid_t fspace,
			  int64_t n, qt_tensor *out)
{
	int by_hand = out->dtype != d->dtype &&
		      (d->convert_by_hand || out->dtype == QT_BOOL);
	hid_t mt;
	if (n == 0)
		return 0;
	if (by_hand)
		return read_by_hand(d, mspace, fspace, n, out);
	mt = out->dtype == d->dtype ? d->mtype : qt_h5_type(out->dtype);
	if (H5Dread(d->id, mt, mspace, fspace, H5P_DEFAULT, out->data) < 0)
		return qt_h5_error(QT_EFORMAT, "%s: reading dataset '%s'",
				   d->file, d->name);
	return 0;
}

int qt_h5_dset_read(qt_h5_dset *d, int64_t start, int64_t count,
		    qt_tensor *out)
{
	hsize_t off[H5S_MAX_RANK] = {0}, cnt[H5S_MAX_RANK];
	hid_t mspace;
	int rc;
	if (d->ndim < 1)
		return qt_error(QT_EFORMAT, "%s: dataset '%s' is a scalar, it "
				"has no rows", d->file, d->name);
	if (start < 0 || count < 0 || start > d->shape[0] ||
	    count > d->shape[0] - start)
		return qt_error(QT_EUSAGE, "%s: rows [%lld, %lld) are outside "
				"dataset '%s' (%lld rows)", d->file,
				(long long)start, (long long)(start + count),
				d->name, (long long)d->shape[0]);
	if ((rc = check_out(d, count, out)) < 0)
		return rc;
	if (count == 0 || d->row_elems == 0)
		return 0;
	off[0] = (hsize_t)start;
	cnt[0] = (hsize_t)count;
	for (int i = 1; i < d->ndim; i++)
		cnt[i] = (hsize_t)d->shape[i];
	if (H5Sselect_hyperslab(d->space, H5S_SELECT_SET, off, NULL, cnt,
				NULL) < 0)
		return qt_h5_error(QT_EINTERNAL, "%s: selecting rows of '%s'",
				   d->file, d->name);
	if ((mspace = H5Screate_simple(d->ndim, cnt, NULL)) < 0)
		return qt_h5_error(QT_ENOMEM, "%s: dataset '%s'", d->file,
				   d->name);
	rc = read_selection(d, mspace, d->space, count * d->row_elems, out);
	H5Sclose(mspace);
	return rc;
}

int qt_h5_read_tensor(hid_t loc, const char *name, int want,
		      qt_tensor **out)
{
	qt_h5_dset d;
	qt_tensor *t;
	int rc = qt_h5_dset_open(&d, loc, name);
	if (rc < 0)
		return rc;
	t = qt_tensor_new(want == QT_H5_NATIVE ? d.dtype : (qt_dtype)want,
			  d.ndim, d.shape);
	if (!t) {
		qt_h5_dset_close(&d);
		return QT_ENOMEM;
	}
	rc = read_selection(&d, H5S_ALL, H5S_ALL, qt_tensor_numel(t), t);
	qt_h5_dset_close(&d);
	if (rc < 0) {
		qt_tensor_free(t);
		return rc;
	}
	*out = t;
	return 0;
}

/* ---- writing ---- */

int qt_h5_create(qt_h5_out *o, const char *path)
{
	const char *slash = strrchr(path, '/');
	int dirlen = slash ? (int)(slash - path + 1) : 0, fd;
	size_t n = strlen(path) + 32;
	hid_t fapl, fcpl;
	mode_t um;
	qt_h5_init();
	o->file = H5I_INVALID_HID;
	o->path = strdup(path);
	o->tmp = malloc(n);
	if (!o->path || !o->tmp) {
		free(o->path);
		free(o->tmp);
		o->path = o->tmp = NULL;
		return qt_error(QT_ENOMEM, "out of memory");
	}
	snprintf(o->tmp, n, "%.*s.%s.tmpXXXXXX", dirlen, path, path + dirlen);
	if ((fd = mkostemp(o->tmp, O_CLOEXEC)) < 0) {
		int rc = qt_error(QT_EUSAGE, "cannot write '%s': %s", path,
				  strerror(errno));
		free(o->path);
		free(o->tmp);
		o->path = o->tmp = NULL;
		return rc;
	}
	/* mkstemp makes 0600; give the file the mode a plain create would. */
	um = umask(0);
	umask(um);
	(void)fchmod(fd, 0666 & ~um);
	close(fd);
	/* A strong close: closing the file closes every object in it, so
	 * the file is complete when qt_h5_finish renames it. */
	fapl = H5Pcreate(H5P_FILE_ACCESS);
	if (fapl >= 0)
		H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG);
	/* Remember the order datasets are made in (h5py: track_order). */
	fcpl = H5Pcreate(H5P_FILE_CREATE);
	if (fcpl >= 0)
		H5Pset_link_creation_order(fcpl, H5P_CRT_ORDER_TRACKED |
						 H5P_CRT_ORDER_INDEXED);
	o->file = H5Fcreate(o->tmp, H5F_ACC_TRUNC,
			    fcpl >= 0 ? fcpl : H5P_DEFAULT,
			    fapl >= 0 ? fapl : H5P_DEFAULT);
	if (fapl >= 0)
		H5Pclose(fapl);
	if (fcpl >= 0)
		H5Pclose(fcpl);
	if (o->file < 0) {
		int rc = qt_h5_error(QT_EIO, "cannot create '%s'", path);
		qt_h5_finish(o, 0);
		return rc;
	}
	return 0;
}

int qt_h5_finish(qt_h5_out *o, int commit)
{
	int rc = 0, fd;
	if (!o->tmp)
		return 0;
	if (o->file >= 0 && H5Fclose(o->file) < 0)
		rc = qt_h5_error(QT_EIO, "writing '%s'", o->path);
	o->file = H5I_INVALID_HID;
	if (commit && !rc) {
		fd = open(o->tmp, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || fsync(fd) != 0)
			rc = qt_error(QT_EIO, "writing '%s': %s", o->path,
				      strerror(errno));
		if (fd >= 0)
			close(fd);
	}
	if (commit && !rc && rename(o->tmp, o->path) != 0)
		rc = qt_error(QT_EIO, "cannot rename to '%s': %s", o->path,
			      strerror(errno));
	if (!commit || rc)
		unlink(o->tmp);
	free(o->path);
	free(o->tmp);
	o->path = o->tmp = NULL;
	return rc;
}

/* Rows per chunk for rows of `row_bytes`: about CHUNK_TARGET bytes. */
static hsize_t chunk_rows(size_t row_bytes)
{
	size_t r = row_bytes ? CHUNK_TARGET / row_bytes : CHUNK_TARGET;
	return r ? (hsize_t)r : 1;
}

static hid_t chunked_plist(int ndim, const hsize_t *chunk, qt_dtype dt,
			   int compress)
{
	hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
	if (dcpl < 0)
		return dcpl;
	if (H5Pset_chunk(dcpl, ndim, chunk) < 0 ||
	    H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER) < 0 ||
	    (compress > 0 && qt_dtype_size(dt) > 1 && H5Pset_shuffle(dcpl) < 0) ||
	    (compress > 0 && H5Pset_deflate(dcpl, (unsigned)compress) < 0)) {
		H5Pclose(dcpl);
		return H5I_INVALID_HID;
	}
	return dcpl;
}

int qt_h5_append_open(qt_h5_append *a, hid_t loc, const char *name,
		      qt_dtype dt, int row_ndim, const int64_t *row_shape,
		      int compress)
{
	hsize_t dims[H5S_MAX_RANK], maxdims[H5S_MAX_RANK], chunk[H5S_MAX_RANK];
	hid_t space = H5I_INVALID_HID, dcpl = H5I_INVALID_HID;
	hid_t dapl = H5I_INVALID_HID;
	size_t row_bytes = qt_dtype_size(dt);
	qt_h5_init();
	memset(a, 0, sizeof *a);
	a->id = H5I_INVALID_HID;
	snprintf(a->name, sizeof a->name, "%s", name);
	if (row_ndim < 0 || row_ndim >= QT_MAX_DIMS)
		return qt_error(QT_ESHAPE, "dataset '%s': rank %d is too high",
				name, row_ndim + 1);
	a->dtype = dt;
	a->ndim = row_ndim + 1;
	dims[0] = 0;
	maxdims[0] = H5S_UNLIMITED;
	for (int i = 0; i < row_ndim; i++) {
		a->shape[i + 1] = row_shape[i];
		dims[i + 1] = (hsize_t)row_shape[i];
		/* A chunk dimension must be positive and within a fixed
		 * maximum; an empty dimension gets an unlimited one. */
		maxdims[i + 1] = row_shape[i] ? (hsize_t)row_shape[i]
					       : H5S_UNLIMITED;
		chunk[i + 1] = row_shape[i] ? (hsize_t)row_shape[i] : 1;
		row_bytes *= (size_t)row_shape[i];
	}
	chunk[0] = chunk_rows(row_bytes);
	space = H5Screate_simple(a->ndim, dims, maxdims);
	dcpl = chunked_plist(a->ndim, chunk, dt, compress);
	dapl = H5Pcreate(H5P_DATASET_ACCESS);
	if (space < 0 || dcpl < 0 || dapl < 0)
		goto fail;
	/* Room for two chunks, evicting full ones first: appends fill each
	 * chunk across several batches without re-reading it. */
	size_t cbytes = (size_t)chunk[0] * (row_bytes ? row_bytes : 1);
	H5Pset_chunk_cache(dapl, 521, 2 * cbytes + CHUNK_TARGET, 1.0);
	a->id = H5Dcreate2(loc, name, qt_h5_type(dt), space, H5P_DEFAULT, dcpl,
			   dapl);
	if (a->id < 0)
		goto fail;
	H5Sclose(space);
	H5Pclose(dcpl);
	H5Pclose(dapl);
	return 0;
fail:
	{
		int rc = qt_h5_error(QT_EIO, "creating dataset '%s'", name);
		if (space >= 0)
			H5Sclose(space);
		if (dcpl >= 0)
			H5Pclose(dcpl);
		if (dapl >= 0)
			H5Pclose(dapl);
		return rc;
	}
}

int qt_h5_append_rows(qt_h5_append *a, const void *rows, int64_t k)
{
	hsize_t dims[H5S_MAX_RANK], off[H5S_MAX_RANK] = {0};
	hsize_t cnt[H5S_MAX_RANK];
	hid_t fspace = H5I_INVALID_HID, mspace = H5I_INVALID_HID;
	int rc = 0;
	if (k <= 0)
		return 0;
	for (int i = 0; i < a->ndim; i++)
		dims[i] = cnt[i] = (hsize_t)a->shape[i];
	dims[0] = (hsize_t)(a->shape[0] + k);
	off[0] = (hsize_t)a->shape[0];
	cnt[0] = (hsize_t)k;
	if (H5Dset_extent(a->id, dims) < 0 ||
	    (fspace = H5Dget_space(a->id)) < 0 ||
	    H5Sselect_hyperslab(fspace, H5S_SELECT_SET, off, NULL, cnt, NULL) <
		    0 ||
	    (mspace = H5Screate_simple(a->ndim, cnt, NULL)) < 0 ||
	    H5Dwrite(a->id, qt_h5_type(a->dtype), mspace, fspace, H5P_DEFAULT,
		     rows) < 0)
		rc = qt_h5_error(QT_EIO, "writing dataset '%s'", a->name);
	else
		a->shape[0] += k;
	if (mspace >= 0)
		H5Sclose(mspace);
	if (fspace >= 0)
		H5Sclose(fspace);
	return rc;
}

int qt_h5_append_close(qt_h5_append *a)
{
	int rc = 0;
	if (a->id >= 0 && H5Dclose(a->id) < 0)
		rc = qt_h5_error(QT_EIO, "writing dataset '%s'", a->name);
	a->id = H5I_INVALID_HID;
	return rc;
}

int qt_h5_write_tensor(hid_t loc, const char *name, const qt_tensor *t,
		       int compress)
{
	hsize_t dims[H5S_MAX_RANK], chunk[H5S_MAX_RANK];
	hid_t space, dcpl = H5P_DEFAULT, d;
	size_t row_bytes = qt_dtype_size(t->dtype);
	int chunked = compress > 0 && t->ndim > 0 && qt_tensor_numel(t) > 0;
	qt_h5_init();
	for (int i = 0; i < t->ndim; i++) {
		dims[i] = chunk[i] = (hsize_t)t->shape[i];
		if (i > 0)
			row_bytes *= (size_t)t->shape[i];
	}
	if (chunked) {
		chunk[0] = chunk_rows(row_bytes);
		if (chunk[0] > dims[0])
			chunk[0] = dims[0];
		dcpl = chunked_plist(t->ndim, chunk, t->dtype, compress);
		if (dcpl < 0)
			return qt_h5_error(QT_EIO, "dataset '%s'", name);
	}
	space = t->ndim ? H5Screate_simple(t->ndim, dims, NULL)
			: H5Screate(H5S_SCALAR);
	if (space < 0) {
		if (chunked)
			H5Pclose(dcpl);
		return qt_h5_error(QT_EIO, "dataset '%s'", name);
	}
	d = H5Dcreate2(loc, name, qt_h5_type(t->dtype), space, H5P_DEFAULT,
		       dcpl, H5P_DEFAULT);
	int rc = 0;
	if (d < 0 || (qt_tensor_numel(t) > 0 &&
		      H5Dwrite(d, qt_h5_type(t->dtype), H5S_ALL, H5S_ALL,
			       H5P_DEFAULT, t->data) < 0))
		rc = qt_h5_error(QT_EIO, "writing dataset '%s'", name);
	if (d >= 0 && H5Dclose(d) < 0 && !rc)
		rc = qt_h5_error(QT_EIO, "writing dataset '%s'", name);
	H5Sclose(space);
	if (chunked)
		H5Pclose(dcpl);
	return rc;
}

/* ---- attributes ---- */

static hid_t vlen_str_type(H5T_cset_t cset)
{
	hid_t t = H5Tcopy(H5T_C_S1);
	if (t < 0)
		return t;
	if (H5Tset_size(t, H5T_VARIABLE) < 0 || H5Tset_cset(t, cset) < 0) {
		H5Tclose(t);
		return H5I_INVALID_HID;
	}
	return t;
}

static int write_str_attr(hid_t obj, const char *name, int n, int scalar,
			  const char *const *v)
{
	hsize_t dim = (hsize_t)n;
	hid_t type, space, attr = H5I_INVALID_HID;
	int rc = 0;
	qt_h5_init();
	if (H5Aexists(obj, name) > 0 && H5Adelete(obj, name) < 0)
		return qt_h5_error(QT_EIO, "replacing attribute '%s'", name);
	type = vlen_str_type(H5T_CSET_UTF8);
	space = scalar ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &dim, NULL);
	if (type < 0 || space < 0 ||
	    (attr = H5Acreate2(obj, name, type, space, H5P_DEFAULT,
			       H5P_DEFAULT)) < 0 ||
	    ((n > 0 || scalar) && H5Awrite(attr, type, v) < 0))
		rc = qt_h5_error(QT_EIO, "writing attribute '%s'", name);
	if (attr >= 0 && H5Aclose(attr) < 0 && !rc)
		rc = qt_h5_error(QT_EIO, "writing attribute '%s'", name);
	if (space >= 0)
		H5Sclose(space);
	if (type >= 0)
		H5Tclose(type);
	return rc;
}

int qt_h5_attr_write_str(hid_t obj, const char *name, const char *value)
{
	return write_str_attr(obj, name, 1, 1, &value);
}

int qt_h5_attr_write_strv(hid_t obj, const char *name, int n,
			  const char *const *v)
{
	return write_str_attr(obj, name, n, 0, v);
}

/* A fixed-length string of `size` bytes, padding dropped. */
static char *fixed_str(const char *p, size_t size, H5T_str_t pad)
{
	size_t len = strnlen(p, size);
	if (pad == H5T_STR_SPACEPAD)
		while (len > 0 && p[len - 1] == ' ')
			len--;
	return strndup(p, len);
}

int qt_h5_attr_read_strv(hid_t obj, const char *name, char ***vp, int *np)
{
	hid_t attr, ftype = H5I_INVALID_HID, space = H5I_INVALID_HID;
	hid_t mtype = H5I_INVALID_HID;
	char **v = NULL;
	int rc = 0, n = 0;
	hssize_t npts;
	qt_h5_init();
	htri_t ex = H5Aexists(obj, name);
	if (ex < 0)
		return qt_h5_error(QT_EFORMAT, "reading attribute '%s'", name);
	if (ex == 0)
		return 0;
	if ((attr = H5Aopen(obj, name, H5P_DEFAULT)) < 0)
		return qt_h5_error(QT_EFORMAT, "reading attribute '%s'", name);
	if ((ftype = H5Aget_type(attr)) < 0 ||
	    (space = H5Aget_space(attr)) < 0 ||
	    (npts = H5Sget_simple_extent_npoints(space)) < 0) {
		rc = qt_h5_error(QT_EFORMAT, "reading attribute '%s'", name);
		goto out;
	}
	if (H5Tget_class(ftype) != H5T_STRING ||
	    H5Sget_simple_extent_ndims(space) > 1) {
		rc = qt_error(QT_EFORMAT, "attribute '%s' is not a string or a "
			      "list of strings", name);
		goto out;
	}
	if (npts > 1 << 24) {
		rc = qt_error(QT_EFORMAT, "attribute '%s' has %lld strings",
			      name, (long long)npts);
		goto out;
	}
	n = (int)npts;
	if (!(v = calloc((size_t)n + 1, sizeof *v))) {
		rc = qt_error(QT_ENOMEM, "out of memory");
		goto out;
	}
	if (H5Tis_variable_str(ftype) > 0) {
		char **raw = calloc((size_t)n + 1, sizeof *raw);
		mtype = vlen_str_type(H5Tget_cset(ftype));
		if (!raw || mtype < 0 || H5Aread(attr, mtype, raw) < 0) {
			rc = raw ? qt_h5_error(QT_EFORMAT, "reading attribute "
					       "'%s'", name)
				 : qt_error(QT_ENOMEM, "out of memory");
			free(raw);
			goto out;
		}
		for (int i = 0; i < n && !rc; i++)
			if (!(v[i] = strdup(raw[i] ? raw[i] : "")))
				rc = qt_error(QT_ENOMEM, "out of memory");
		H5Dvlen_reclaim(mtype, space, H5P_DEFAULT, raw);
		free(raw);
	} else {
		size_t size = H5Tget_size(ftype);
		char *buf = size ? malloc((size_t)n * size + 1) : NULL;
		mtype = H5Tcopy(ftype);
		if (!buf || mtype < 0 || H5Aread(attr, mtype, buf) < 0) {
			rc = buf ? qt_h5_error(QT_EFORMAT, "reading attribute "
					       "'%s'", name)
				 : qt_error(QT_EFORMAT, "attribute '%s': empty "
					    "string type", name);
			free(buf);
			goto out;
		}
		for (int i = 0; i < n && !rc; i++)
			if (!(v[i] = fixed_str(buf + (size_t)i * size, size,
					       H5Tget_strpad(ftype))))
				rc = qt_error(QT_ENOMEM, "out of memory");
		free(buf);
	}
out:
	if (mtype >= 0)
		H5Tclose(mtype);
	if (space >= 0)
		H5Sclose(space);
	if (ftype >= 0)
		H5Tclose(ftype);
	H5Aclose(attr);
	if (rc < 0) {
		if (v)
			qt_h5_free_names(v, n);
		return rc;
	}
	*vp = v;
	*np = n;
	return 1;
}

int qt_h5_attr_read_str(hid_t obj, const char *name, char **value)
{
	char **v;
	int n, rc = qt_h5_attr_read_strv(obj, name, &v, &n);
	if (rc <= 0)
		return rc;
	if (n != 1) {
		qt_h5_free_names(v, n);
		return qt_error(QT_EFORMAT, "attribute '%s' holds %d strings, "
				"not one", name, n);
	}
	*value = v[0];
	free(v);
	return 1;
}
