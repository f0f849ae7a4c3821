/* show.c: numpy-style and JSON printing of arrays (see show.h). */
#include "common/show.h"

#include <inttypes.h>
#include <math.h>
#include <string.h>

int qt_show_value(char *buf, size_t len, qt_dtype dt, const void *data,
		  int64_t i)
{
	int n;
	switch (dt) {
	case QT_F32:
	case QT_F64: {
		double v = dt == QT_F32 ? ((const float *)data)[i]
					: ((const double *)data)[i];
		if (isnan(v))
			return snprintf(buf, len, "nan");
		if (isinf(v))
			return snprintf(buf, len, v > 0 ? "inf" : "-inf");
		n = snprintf(buf, len, "%.6g", v);
		if (n > 0 && (size_t)n + 1 < len && !strpbrk(buf, ".e")) {
			buf[n++] = '.';
			buf[n] = '\0';
		}
		return n;
	}
	case QT_BOOL:
		return snprintf(buf, len, "%s",
				((const uint8_t *)data)[i] ? "True" : "False");
	case QT_U64:
		return snprintf(buf, len, "%" PRIu64,
				((const uint64_t *)data)[i]);
	case QT_I64:
		return snprintf(buf, len, "%" PRId64,
				((const int64_t *)data)[i]);
	default:
		return snprintf(buf, len, "%.0f",
				qt_tensor_get(&(qt_tensor){.dtype = dt,
						.data = (void *)data}, i));
	}
}

struct printer {
	FILE *f;        /* NULL while measuring the element width */
	qt_dtype dt;
	const void *data;
	int ndim;
	const int64_t *shape;
	int64_t stride[QT_MAX_DIMS]; /* elements */
	int summarise, width, indent;
	int col;        /* the column the next character goes to */
};

static void newline(struct printer *p, int nl, int spaces)
{
	for (int k = 0; k < nl; k++)
		fputc('\n', p->f);
	fprintf(p->f, "%*s", spaces, "");
	p->col = spaces;
}

/* Before an item of dimension dim other than the first: a space, or a
 * wrap when a last-dimension item of width w would pass the line width
 * (numpy: 75 columns less one per closing bracket); blank lines and the
 * bracket indent between rows and blocks. */
static void put_sep(struct printer *p, int dim, int w)
{
	if (!p->f)
		return;
	if (dim < p->ndim - 1) {
		newline(p, p->ndim - 1 - dim, p->indent + dim + 1);
	} else if (p->col + 1 + w > QT_SHOW_LINEWIDTH - p->ndim) {
		newline(p, 1, p->indent + p->ndim);
	} else {
		fputc(' ', p->f);
		p->col++;
	}
}

static void put(struct printer *p, const char *s, int w)
{
	if (p->f) {
		fprintf(p->f, "%*s", w, s);
		p->col += w;
	}
}

static void print_rec(struct printer *p, int dim, int64_t off)
{
	char buf[64];
	int64_t n;
	if (dim == p->ndim) {
		int w = qt_show_value(buf, sizeof buf, p->dt, p->data, off);
		if (!p->f && w > p->width)
			p->width = w;
		put(p, buf, p->width);
		return;
	}
	n = p->shape[dim];
	put(p, "[", 1);
	for (int64_t i = 0; i < n; i++) {
		if (p->summarise && n > 2 * QT_SHOW_EDGE && i == QT_SHOW_EDGE) {
			put_sep(p, dim, 3);
			put(p, "...", 3);
			i = n - QT_SHOW_EDGE;
		}
		if (i > 0)
			put_sep(p, dim, p->width);
		print_rec(p, dim + 1, off + i * p->stride[dim]);
	}
	put(p, "]", 1);
}

void qt_show_array(FILE *f, qt_dtype dt, const void *data, int ndim,
		   const int64_t *shape, int indent)
{
	struct printer p = {.f = NULL, .dt = dt, .data = data, .ndim = ndim,
			    .shape = shape, .indent = indent};
	int64_t s = 1;
	for (int d = ndim - 1; d >= 0; d--) {
		p.stride[d] = s;
		s *= shape[d];
	}
	p.summarise = qt_shape_numel(ndim, shape) > QT_SHOW_THRESHOLD;
	print_rec(&p, 0, 0);
	p.f = f;
	p.col = indent;
	print_rec(&p, 0, 0);
}

void qt_show_json_number(FILE *f, double v)
{
	if (!isfinite(v))
		fputs("null", f);
	else if (v == floor(v) && fabs(v) < 1e15)
		fprintf(f, "%.0f", v);
	else
		fprintf(f, "%.17g", v);
}

static void json_value(FILE *f, qt_dtype dt, const void *data, int64_t i)
{
	char buf[64];
	switch (dt) {
	case QT_F32: {
		float v = ((const float *)data)[i];
		if (!isfinite(v))
			fputs("null", f);
		else
			fprintf(f, "%.9g", (double)v);
		return;
	}
	case QT_F64:
		if (!isfinite(((const double *)data)[i]))
			fputs("null", f);
		else
			fprintf(f, "%.17g", ((const double *)data)[i]);
		return;
	case QT_BOOL:
		fputs(((const uint8_t *)data)[i] ? "true" : "false", f);
		return;
	default:
		qt_show_value(buf, sizeof buf, dt, data, i);
		fputs(buf, f);
	}
}

static void json_rec(FILE *f, qt_dtype dt, const void *data, int ndim,
		     const int64_t *shape, int dim, int64_t off, int64_t stride)
{
	if (dim == ndim) {
		json_value(f, dt, data, off);
		return;
	}
	stride /= shape[dim] ? shape[dim] : 1;
	fputc('[', f);
	for (int64_t i = 0; i < shape[dim]; i++) {
		if (i)
			fputc(',', f);
		json_rec(f, dt, data, ndim, shape, dim + 1, off + i * stride,
			 stride);
	}
	fputc(']', f);
}

void qt_show_json_array(FILE *f, qt_dtype dt, const void *data, int ndim,
			const int64_t *shape)
{
	json_rec(f, dt, data, ndim, shape, 0, 0, qt_shape_numel(ndim, shape));
}

void qt_show_json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
		switch (*c) {
		case '"': fputs("\\\"", f); break;
		case '\\': fputs("\\\\", f); break;
		case '\n': fputs("\\n", f); break;
		case '\r': fputs("\\r", f); break;
		case '\t': fputs("\\t", f); break;
		default:
			if (*c < 0x20)
				fprintf(f, "\\u%04x", *c);
			else
				fputc(*c, f);
		}
	}
	fputc('"', f);
}
