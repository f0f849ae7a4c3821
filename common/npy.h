/* npy.h: numpy's .npy and .npz files, read and written by rows.
 *
 * .npy (numpy's format versions 1.0, 2.0 and 3.0, NEP 1): a magic string,
 * a Python-literal header {'descr': '<f4', 'fortran_order': False,
 * 'shape': (N, ...)} padded to 64 bytes, then the array's bytes.  quanta
 * reads and writes the little-endian dtypes it has (f4 f8 i1..i8 u1..u8
 * b1) in C order; Fortran order, big-endian, object, string, structured
 * and half-precision arrays are rejected with a message that says what to
 * do.
 *
 * Readers go by rows of the first dimension and never hold more than the
 * rows asked for: a .npy file is read with pread, an .npz member (stored
 * or deflated) through libzip, sequentially.
 *
 * Writers don't need the row count in advance: rows go to a temporary
 * file beside the target and the header (space for any count reserved
 * up front) is written when the caller finishes, then the file is
 * renamed into place.  An .npz (what np.savez / np.savez_compressed
 * write: a zip of NAME.npy members) is assembled from such members by
 * libzip when it is finished.
 */
#ifndef QT_NPY_H
#define QT_NPY_H

#include "common/tensor.h"

#include <stddef.h>
#include <stdint.h>

typedef struct qt_npy_info {
	qt_dtype dtype;
	int ndim;                   /* 0 .. QT_MAX_DIMS */
	int64_t shape[QT_MAX_DIMS];
	size_t data_offset;         /* bytes before the array data */
} qt_npy_info;

/* Parse the header at the start of a .npy file, buf[0..len).  Returns 0
 * and fills *info; QT_EFORMAT (with a message) for a header that is not
 * .npy, is cut short, or describes an array quanta cannot read. */
int qt_npy_parse_header(const void *buf, size_t len, qt_npy_info *info);

/* Format a version 1.0 header (or 2.0 when it does not fit) for an array
 * of dtype dt and shape[0..ndim), padded with spaces to exactly `pad`
 * bytes when pad is larger than the minimum (a multiple of 64 bytes
 * either way).  Returns the header's length, 0 if buf (of len bytes) is
 * too small. */
size_t qt_npy_format_header(char *buf, size_t len, qt_dtype dt, int ndim,
			    const int64_t *shape, size_t pad);

/* ---- reading ---- */

typedef struct qt_npy_reader qt_npy_reader;

/* Open a .npy file and read its header.  A missing file is QT_EUSAGE, a
 * file that is not .npy, or shorter than its header says, QT_EFORMAT. */
int qt_npy_open(qt_npy_reader **r, const char *path);
const qt_npy_info *qt_npy_reader_info(const qt_npy_reader *r);
/* Read the next k rows (of the first dimension) into dst, which holds
 * k * (bytes per row).  Rows come in order; QT_EUSAGE past the end. */
int qt_npy_read_rows(qt_npy_reader *r, void *dst, int64_t k);
/* Skip the next k rows. */
int qt_npy_skip_rows(qt_npy_reader *r, int64_t k);
void qt_npy_close(qt_npy_reader *r);

/* A whole .npy file (any rank) as a new tensor. */
int qt_npy_load(const char *path, qt_tensor **t);

/* An .npz archive: its .npy members by name. */
typedef struct qt_npz qt_npz;
/* A missing file is QT_EUSAGE, one that is not a zip QT_EFORMAT. */
int qt_npz_open(qt_npz **z, const char *path);
int qt_npz_count(const qt_npz *z);
/* Member i's name without ".npy" (e.g. "x" for np.savez(f, x=...)). */
const char *qt_npz_name(const qt_npz *z, int i);
/* Open member i for reading (several members may be open at once). */
int qt_npz_open_member(qt_npz *z, int i, qt_npy_reader **r);
void qt_npz_close(qt_npz *z);

/* ---- writing ---- */

typedef struct qt_npy_writer qt_npy_writer;

/* Start `path` (a temporary file beside it) for rows of dtype dt and
 * per-row shape row_shape[0..row_ndim).  An unwritable place is
 * QT_EUSAGE. */
int qt_npy_create(qt_npy_writer **w, const char *path, qt_dtype dt,
		  int row_ndim, const int64_t *row_shape);
/* Append k rows, C-ordered, row-major. */
int qt_npy_write_rows(qt_npy_writer *w, const void *rows, int64_t k);
/* commit = 1: write the header (with the row count), flush to disk and
 * rename into place; commit = 0: remove the temporary file.  Frees w.
 * Returns the first error of the whole write. */
int qt_npy_finish(qt_npy_writer *w, int commit);

/* Write a whole tensor (any rank) as a .npy file, atomically. */
int qt_npy_save(const char *path, const qt_tensor *t);

typedef struct qt_npz_writer qt_npz_writer;
/* Start an .npz at path; compress 0 stores members (np.savez), 1..9
 * deflates them at that level (np.savez_compressed). */
int qt_npz_create(qt_npz_writer **z, const char *path, int compress);
/* Add member NAME.npy; *member receives rows with qt_npy_write_rows and
 * belongs to z (do not finish it yourself). */
int qt_npz_add(qt_npz_writer *z, const char *name, qt_dtype dt,
	       int row_ndim, const int64_t *row_shape,
	       qt_npy_writer **member);
/* commit = 1: finish the members, zip them and rename the archive into
 * place; 0: remove everything.  Frees z.  Returns the first error. */
int qt_npz_finish(qt_npz_writer *z, int commit);

#endif
