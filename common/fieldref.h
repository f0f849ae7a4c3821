/* fieldref.h: finding the fields a stage was told to use, with errors
 * that list what the stream does have.
 *
 *   int f = qt_field_require(h, truth, "--truth");
 *   if (f < 0) return qt_cli_fail(f);
 *   // "no field 'labels' in the stream (it has: images, y); name the
 *   //  field with --truth"
 */
#ifndef QT_FIELDREF_H
#define QT_FIELDREF_H

#include "common/stream.h"

/* Index of field `name`, or QT_EUSAGE with a message naming the fields
 * of the stream and `option` (may be NULL) as the way to pick another. */
int qt_field_require(const qt_header *h, const char *name,
		     const char *option);

/* Elements per sample of a fixed-shape field (product of its shape, 1 for
 * a scalar); -1 for a ragged field. */
int64_t qt_field_numel(const qt_field *f);

/* 1 when two fields have the same per-sample shape (ragged dims equal). */
int qt_field_same_shape(const qt_field *a, const qt_field *b);

#endif
