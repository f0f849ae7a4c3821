/* h5.h: HDF5 helpers for load, save and checkpoints.
 *
 * HDF5's own error printing is switched off (qt_h5_init) and its errors
 * come back as QT_E* codes with a one-line message naming the file, the
 * dataset and HDF5's innermost complaint.
 *
 * Datatypes map to quanta dtypes as h5py and numpy do: IEEE floats to
 * float32/float64 (half precision reads as float32), integers to
 * int8..int64 / uint8..uint64, h5py's bool (an enum FALSE=0, TRUE=1 on an
 * 8-bit integer) to bool and any other enum to its base integer type
 * (uint8 for one-byte enums).  quanta writes bool the way h5py does, so
 * h5py reads a numpy bool array back.
 *
 * Reading goes by rows: a hyperslab of the first dimension, converted by
 * HDF5 into the tensor's dtype (no conversion at all when they match).
 * Writing goes to a temporary file beside the target, renamed when the
 * caller commits, so no half-written file ever has the target's name.
 *
 * Reference: the HDF5 1.10 C API (Debian's serial build).
 */
#ifndef QT_H5_H
#define QT_H5_H

#include "common/tensor.h"

#include <hdf5.h>
#include <stdint.h>

/* Pass as `want` to keep a dataset's own dtype. */
#define QT_H5_NATIVE (-1)

/* Switch HDF5's automatic error printing off.  Idempotent; every function
 * below calls it, so stages need not. */
void qt_h5_init(void);

/* Record `fmt` followed by ": " and HDF5's innermost error message (when
 * its error stack holds one); returns `code`. */
int qt_h5_error(int code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* 1 when the file at `path` carries the HDF5 signature, 0 when it does
 * not (or cannot be read). */
int qt_h5_is_hdf5(const char *path);

/* Open an existing file read-only.  A missing or unreadable file is
 * QT_EUSAGE, a file that is not HDF5 QT_EFORMAT. */
int qt_h5_open(hid_t *file, const char *path);

/* The names of the datasets directly under the root group, in creation
 * order where the file tracks it (files quanta writes do), else in name
 * order.  *names is a newly allocated array of *n strings (free with
 * qt_h5_free_names). */
int qt_h5_list_datasets(hid_t file, char ***names, int *n);
void qt_h5_free_names(char **names, int n);

/* 1 when `name` is a dataset at `loc`, 0 when not. */
int qt_h5_has_dataset(hid_t loc, const char *name);

/* The quanta dtype of an HDF5 datatype, or QT_EFORMAT for strings,
 * compounds, references and other types quanta has no dtype for. */
int qt_h5_dtype_of(hid_t type, qt_dtype *dt);

/* The HDF5 type to use in memory (and in files) for a quanta dtype.
 * Owned by this module: do not close it. */
hid_t qt_h5_type(qt_dtype dt);

/* ---- reading by rows ---- */

/* An open dataset ready for row reads. */
typedef struct qt_h5_dset {
	hid_t id, space, ftype, mtype; /* mtype: native memory type */
	qt_dtype dtype;                /* its own dtype */
	int convert_by_hand;           /* enum: HDF5 cannot convert it */
	int ndim;                      /* full rank */
	int64_t shape[QT_MAX_DIMS];    /* full shape */
	int64_t row_elems;             /* elements per row of dim 0 */
	char name[80];                 /* for messages */
	char file[256];
} qt_h5_dset;

/* Open dataset `name` (a path from loc).  A missing dataset is
 * QT_EUSAGE naming the datasets there are; an unsupported type
 * QT_EFORMAT.  Also sizes the chunk cache so that a sequential scan
 * decompresses each chunk once. */
int qt_h5_dset_open(qt_h5_dset *d, hid_t loc, const char *name);
void qt_h5_dset_close(qt_h5_dset *d);

/* Read rows [start, start + count) of the first dimension into `out`,
 * a CPU tensor of shape (count, shape[1:]) and any dtype: HDF5 converts
 * (overwrites out's data).  count may be 0. */
int qt_h5_dset_read(qt_h5_dset *d, int64_t start, int64_t count,
		    qt_tensor *out);

/* A whole dataset (any rank, scalars included) as a new tensor of dtype
 * `want` (or QT_H5_NATIVE). */
int qt_h5_read_tensor(hid_t loc, const char *name, int want,
		      qt_tensor **out);

/* ---- writing ---- */

/* A file being written: HDF5 writes the temporary name, qt_h5_finish
 * renames it into place (commit = 1) or removes it (commit = 0). */
typedef struct qt_h5_out {
	hid_t file;
	char *path, *tmp;
} qt_h5_out;

/* Create `path` (under a temporary name beside it).  An unwritable
 * place is QT_EUSAGE. */
int qt_h5_create(qt_h5_out *o, const char *path);
/* Close the file; on commit flush it to disk and rename it into place.
 * Returns the first error (a full disk shows here); the temporary file is
 * removed on any failure. */
int qt_h5_finish(qt_h5_out *o, int commit);

/* A chunked dataset that grows along its first dimension. */
typedef struct qt_h5_append {
	hid_t id;
	qt_dtype dtype;
	int ndim;                   /* full rank: 1 + per-row rank */
	int64_t shape[QT_MAX_DIMS]; /* current full shape */
	char name[80];
} qt_h5_append;

/* Create dataset `name` at loc with rows of shape row_shape[0..row_ndim)
 * and no rows yet.  Chunks hold about 256 KiB of rows; compress 1..9 adds
 * gzip at that level (with byte shuffling), 0 stores raw chunks. */
int qt_h5_append_open(qt_h5_append *a, hid_t loc, const char *name,
		      qt_dtype dt, int row_ndim, const int64_t *row_shape,
		      int compress);
/* Append k rows, C-ordered, of the dataset's dtype. */
int qt_h5_append_rows(qt_h5_append *a, const void *rows, int64_t k);
/* Close (the dataset keeps the rows written).  Returns the first error. */
int qt_h5_append_close(qt_h5_append *a);

/* Write tensor t as dataset `name` (contiguous, or chunked and gzipped
 * when compress > 0 and t has a first dimension). */
int qt_h5_write_tensor(hid_t loc, const char *name, const qt_tensor *t,
		       int compress);

/* ---- attributes (on a file, group or dataset) ---- */

/* A variable-length UTF-8 string attribute (what h5py writes for str);
 * replaces an attribute of that name. */
int qt_h5_attr_write_str(hid_t obj, const char *name, const char *value);
/* A 1-D array of variable-length UTF-8 strings. */
int qt_h5_attr_write_strv(hid_t obj, const char *name, int n,
			  const char *const *v);
/* Read a string attribute (fixed or variable length).  Returns 1 and
 * *value (malloc'd) when present, 0 when absent, < 0 on error. */
int qt_h5_attr_read_str(hid_t obj, const char *name, char **value);
/* Read a string or 1-D string-array attribute into *n malloc'd strings
 * (free with qt_h5_free_names).  Returns 1, 0 when absent, or < 0. */
int qt_h5_attr_read_strv(hid_t obj, const char *name, char ***v, int *n);

#endif
