/* tensor.c: tensor allocation, dtype names and shape arithmetic. */
#include "tensor.h"
#include "error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
	const char *str, *name;
	size_t size;
} dtypes[QT_NDTYPES] = {
	[QT_F32] = {"<f4", "float32", 4},
	[QT_F64] = {"<f8", "float64", 8},
	[QT_I8] = {"|i1", "int8", 1},
	[QT_I16] = {"<i2", "int16", 2},
	[QT_I32] = {"<i4", "int32", 4},
	[QT_I64] = {"<i8", "int64", 8},
	[QT_U8] = {"|u1", "uint8", 1},
	[QT_U16] = {"<u2", "uint16", 2},
	[QT_U32] = {"<u4", "uint32", 4},
	[QT_U64] = {"<u8", "uint64", 8},
	[QT_BOOL] = {"|b1", "bool", 1},
};

size_t qt_dtype_size(qt_dtype dt)
{
	return (unsigned)dt < QT_NDTYPES ? dtypes[dt].size : 0;
}

const char *qt_dtype_str(qt_dtype dt)
{
	return (unsigned)dt < QT_NDTYPES ? dtypes[dt].str : NULL;
}

const char *qt_dtype_name(qt_dtype dt)
{
	return (unsigned)dt < QT_NDTYPES ? dtypes[dt].name : "invalid";
}

int qt_dtype_is_float(qt_dtype dt)
{
	return dt == QT_F32 || dt == QT_F64;
}

int qt_dtype_parse(const char *s, size_t len, qt_dtype *dt)
{
	char buf[16];
	if (len == 0 || len >= sizeof buf)
		return qt_error(QT_EFORMAT, "unknown dtype '%.*s'",
				(int)(len < 32 ? len : 32), s);
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (!strcmp(buf, "?") || !strcmp(buf, "|b1") || !strcmp(buf, "b1")) {
		*dt = QT_BOOL;
		return 0;
	}
	for (int i = 0; i < QT_NDTYPES; i++) {
		const char *str = dtypes[i].str;
		/* "<f4", "f4", "=f4" (native is little-endian on every host
		 * quanta builds for), and "|" for single bytes. */
		if (!strcmp(buf, str) || !strcmp(buf, dtypes[i].name) ||
		    !strcmp(buf, str + 1) ||
		    (buf[0] == '=' && !strcmp(buf + 1, str + 1)) ||
		    (dtypes[i].size == 1 && buf[0] == '<' &&
		     !strcmp(buf + 1, str + 1))) {
			*dt = (qt_dtype)i;
			return 0;
		}
	}
	if (buf[0] == '>')
		return qt_error(QT_EFORMAT,
				"big-endian dtype '%s' is not supported; "
				"convert with astype('<%s')", buf, buf + 1);
	return qt_error(QT_EFORMAT, "unknown dtype '%s'", buf);
}

int64_t qt_shape_numel(int ndim, const int64_t *shape)
{
	int64_t n = 1;
	if (ndim < 0 || ndim > QT_MAX_DIMS)
		return -1;
	for (int i = 0; i < ndim; i++) {
		if (shape[i] < 0)
			return -1;
		if (shape[i] && n > INT64_MAX / shape[i])
			return -1;
		n *= shape[i];
	}
	return n;
}

int64_t qt_tensor_numel(const qt_tensor *t)
{
	return qt_shape_numel(t->ndim, t->shape);
}

size_t qt_tensor_nbytes(const qt_tensor *t)
{
	return (size_t)qt_tensor_numel(t) * qt_dtype_size(t->dtype);
}

void *qt_alloc(size_t nbytes)
{
	size_t n = (nbytes + 63) & ~(size_t)63;
	void *p;
	if (n < nbytes)
		return NULL;
	p = aligned_alloc(64, n ? n : 64);
	if (p)
		memset(p, 0, n ? n : 64);
	return p;
}

void qt_free(void *p)
{
	free(p);
}

qt_tensor *qt_tensor_new(qt_dtype dt, int ndim, const int64_t *shape)
{
	qt_tensor *t;
	int64_t n = qt_shape_numel(ndim, shape);
	size_t es = qt_dtype_size(dt);
	if (n < 0 || !es) {
		qt_error(QT_ESHAPE, "invalid tensor shape or dtype");
		return NULL;
	}
	if ((uint64_t)n > SIZE_MAX / es) {
		qt_error(QT_ENOMEM, "tensor of %lld elements is too large",
			 (long long)n);
		return NULL;
	}
	t = calloc(1, sizeof *t);
	if (!t) {
		qt_error(QT_ENOMEM, "out of memory");
		return NULL;
	}
	t->dtype = dt;
	t->device = QT_CPU;
	t->ndim = ndim;
	if (ndim)
		memcpy(t->shape, shape, (size_t)ndim * sizeof *shape);
	t->data = qt_alloc((size_t)n * es);
	if (!t->data) {
		free(t);
		qt_error(QT_ENOMEM, "out of memory allocating %zu bytes",
			 (size_t)n * es);
		return NULL;
	}
	t->owns = 1;
	return t;
}

qt_tensor qt_tensor_wrap(qt_dtype dt, int ndim, const int64_t *shape,
			 void *data)
{
	qt_tensor t = {.dtype = dt, .device = QT_CPU, .ndim = ndim,
		       .data = data, .owns = 0};
	if (ndim > 0)
		memcpy(t.shape, shape, (size_t)ndim * sizeof *shape);
	return t;
}

void qt_tensor_free(qt_tensor *t)
{
	if (!t)
		return;
	if (t->owns)
		qt_free(t->data);
	free(t);
}

qt_tensor *qt_tensor_clone(const qt_tensor *t)
{
	qt_tensor *c = qt_tensor_new(t->dtype, t->ndim, t->shape);
	if (c)
		memcpy(c->data, t->data, qt_tensor_nbytes(t));
	return c;
}

int qt_tensor_same_layout(const qt_tensor *a, const qt_tensor *b)
{
	if (a->dtype != b->dtype || a->ndim != b->ndim)
		return 0;
	for (int i = 0; i < a->ndim; i++)
		if (a->shape[i] != b->shape[i])
			return 0;
	return 1;
}

const char *qt_shape_str(char *buf, size_t len, int ndim,
			 const int64_t *shape)
{
	size_t used = 0;
	int n = snprintf(buf, len, "(");
	used = n > 0 ? (size_t)n : 0;
	for (int i = 0; i < ndim && used < len; i++) {
		if (shape[i] < 0)
			n = snprintf(buf + used, len - used, "%s*",
				     i ? ", " : "");
		else
			n = snprintf(buf + used, len - used, "%s%lld",
				     i ? ", " : "", (long long)shape[i]);
		used += n > 0 ? (size_t)n : 0;
	}
	if (used < len)
		snprintf(buf + used, len - used, ")");
	return buf;
}

double qt_tensor_get(const qt_tensor *t, int64_t i)
{
	const void *d = t->data;
	switch (t->dtype) {
	case QT_F32: return ((const float *)d)[i];
	case QT_F64: return ((const double *)d)[i];
	case QT_I8: return ((const int8_t *)d)[i];
	case QT_I16: return ((const int16_t *)d)[i];
	case QT_I32: return ((const int32_t *)d)[i];
	case QT_I64: return (double)((const int64_t *)d)[i];
	case QT_U8: case QT_BOOL: return ((const uint8_t *)d)[i];
	case QT_U16: return ((const uint16_t *)d)[i];
	case QT_U32: return ((const uint32_t *)d)[i];
	case QT_U64: return (double)((const uint64_t *)d)[i];
	default: return 0.0;
	}
}
