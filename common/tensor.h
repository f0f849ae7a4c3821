/* tensor.h: the tensor type shared by the stream codec, the kernels and
 * the stages.
 *
 * A tensor is a dense, C-ordered (row-major) block of one dtype on one
 * device.  There are no strides: element (i0, i1, ..., ik) of a tensor of
 * shape (d0, d1, ..., dk) lives at offset ((i0*d1 + i1)*d2 + ...)*dk + ik.
 * Views that need strides are expressed by the ops' own size arguments.
 *
 * Ownership: a tensor made by qt_tensor_new() owns `data` (64-byte aligned,
 * freed by qt_tensor_free()); one made by qt_tensor_wrap() borrows it.
 * `data` of a QT_CUDA tensor is a device pointer.
 */
#ifndef QT_TENSOR_H
#define QT_TENSOR_H

#include <stddef.h>
#include <stdint.h>

#define QT_MAX_DIMS 8

/* Element types.  The names follow numpy's dtype strings on the wire
 * (little-endian): f4 f8 i1 i2 i4 i8 u1 u2 u4 u8 b1. */
typedef enum qt_dtype {
	QT_F32, QT_F64,
	QT_I8, QT_I16, QT_I32, QT_I64,
	QT_U8, QT_U16, QT_U32, QT_U64,
	QT_BOOL,
	QT_NDTYPES
} qt_dtype;

typedef enum qt_device { QT_CPU = 0, QT_CUDA = 1 } qt_device;

typedef struct qt_tensor {
	qt_dtype dtype;
	qt_device device;
	int ndim;                   /* 0 .. QT_MAX_DIMS; 0 is a scalar */
	int64_t shape[QT_MAX_DIMS]; /* shape[0 .. ndim-1], each >= 0 */
	void *data;                 /* numel * elsize bytes, C order */
	int owns;                   /* 1: data is freed with the tensor */
} qt_tensor;

/* Bytes per element of a dtype (1, 2, 4 or 8). */
size_t qt_dtype_size(qt_dtype dt);
/* numpy dtype string, e.g. "<f4", "|u1"; NULL for an invalid dtype. */
const char *qt_dtype_str(qt_dtype dt);
/* Short name for messages and headers: "float32", "int64", ... */
const char *qt_dtype_name(qt_dtype dt);
/* Parse a numpy dtype string ("<f4", "|u1", "<i8", "?" ...) or a short
 * name ("float32").  Returns 0 and sets *dt, or QT_EFORMAT for anything
 * quanta does not understand (big-endian data, structured dtypes, ...). */
int qt_dtype_parse(const char *s, size_t len, qt_dtype *dt);
int qt_dtype_is_float(qt_dtype dt);

/* Number of elements of a shape; -1 when it overflows int64 or any
 * dimension is negative. */
int64_t qt_shape_numel(int ndim, const int64_t *shape);

int64_t qt_tensor_numel(const qt_tensor *t);
size_t qt_tensor_nbytes(const qt_tensor *t);

/* Allocate a zero-filled CPU tensor.  Returns NULL (with qt_error set) when
 * the shape is invalid or the allocation fails. */
qt_tensor *qt_tensor_new(qt_dtype dt, int ndim, const int64_t *shape);
/* A tensor header over borrowed memory (not freed by qt_tensor_free). */
qt_tensor qt_tensor_wrap(qt_dtype dt, int ndim, const int64_t *shape,
			 void *data);
void qt_tensor_free(qt_tensor *t);
/* Deep copy of a CPU tensor. */
qt_tensor *qt_tensor_clone(const qt_tensor *t);

/* 1 when dtype and shape are equal. */
int qt_tensor_same_layout(const qt_tensor *a, const qt_tensor *b);

/* Format "(3, 20, 20)" into buf. */
const char *qt_shape_str(char *buf, size_t len, int ndim,
			 const int64_t *shape);

/* Element i of any dtype, as double (for statistics and printing). */
double qt_tensor_get(const qt_tensor *t, int64_t i);

/* Aligned allocation used for tensor data (64-byte aligned, zeroed).
 * Free with qt_free(). */
void *qt_alloc(size_t nbytes);
void qt_free(void *p);

#endif
