/* label.h: one class label per sample, read from a label field.
 *
 * A field gives one label per sample when it is
 *   - a scalar (per-sample shape () or (1,)) of an integer or bool dtype,
 *     or of a float dtype holding whole numbers (labels Keras users kept
 *     as float32): the label is the value;
 *   - a vector (C,) with C == the number of class names in the header, of
 *     any dtype (one-hot or probabilities): the label is the index of the
 *     largest entry (the first one on ties, as numpy's argmax).
 * Split, filter and inspect use this so that "the class of a sample" means
 * the same thing everywhere.
 */
#ifndef QT_LABEL_H
#define QT_LABEL_H

#include "common/stream.h"

enum qt_label_kind {
	QT_LABEL_SCALAR = 1, /* the value is the label */
	QT_LABEL_ARGMAX = 2  /* one-hot / scores: argmax over (C,) */
};

/* How field f gives one label per sample: QT_LABEL_SCALAR or
 * QT_LABEL_ARGMAX, or QT_EUSAGE with a message naming the field when it
 * cannot (ragged, images, ...). */
int qt_label_kind(const qt_field *f);

/* Label of sample i of tensor t (the batch tensor of field f, leading
 * dimension = samples), with kind from qt_label_kind.  Returns 0, or
 * QT_EFORMAT when the value is not a class index (NaN, a fraction, or
 * outside int64). */
int qt_label_get(const qt_field *f, int kind, const qt_tensor *t, int64_t i,
		 int64_t *label);

#endif
