/* show.h: tensors and values as text, for people (numpy's str() layout)
 * and for machines (JSON).
 *
 * The people's layout follows numpy's array printing
 * (numpy.set_printoptions defaults): nested brackets, elements separated
 * by spaces and right-aligned to one width, one row of the last dimension
 * per line (wrapped at 75 columns, counting the `indent` the caller has
 * printed), a blank line between blocks of 3-d and higher arrays; an array
 * of more than 1000 elements is summarised to the first and last three
 * items of every dimension with "...".  Floats are printed with six
 * significant digits, a whole float keeps its point ("1."), bools are
 * True/False.
 *
 * JSON: arrays as nested lists in full; NaN and +-Inf, which JSON cannot
 * carry, become null.
 */
#ifndef QT_SHOW_H
#define QT_SHOW_H

#include "common/tensor.h"
#include <stdio.h>

#define QT_SHOW_THRESHOLD 1000
#define QT_SHOW_EDGE 3
#define QT_SHOW_LINEWIDTH 75

/* Print element i of data (dtype dt) as numpy would into buf. */
int qt_show_value(char *buf, size_t len, qt_dtype dt, const void *data,
		  int64_t i);

/* Print an array of shape (ndim, shape) in numpy's str() layout.
 * Lines after the first are indented by `indent` spaces. */
void qt_show_array(FILE *f, qt_dtype dt, const void *data, int ndim,
		   const int64_t *shape, int indent);

/* The same array as JSON nested lists (all elements). */
void qt_show_json_array(FILE *f, qt_dtype dt, const void *data, int ndim,
			const int64_t *shape);

/* A JSON string literal with the escapes RFC 8259 requires. */
void qt_show_json_string(FILE *f, const char *s);

/* A JSON number that reads back to the same double, or null. */
void qt_show_json_number(FILE *f, double v);

#endif
