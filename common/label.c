/* label.c: one class label per sample (see label.h). */
#include "common/label.h"
#include "common/error.h"

#include <math.h>

static int64_t per_sample(const qt_field *f)
{
	return qt_shape_numel(f->ndim, f->shape);
}

int qt_label_kind(const qt_field *f)
{
	char s[96];
	if (f->ndim > 0 && f->shape[0] < 0)
		return qt_error(QT_EUSAGE, "field '%s' is ragged; a label field "
				"has one value per sample", f->name);
	if (f->index_of[0])
		return qt_error(QT_EUSAGE, "field '%s' holds graph indices, not "
				"labels", f->name);
	if (per_sample(f) == 1)
		return QT_LABEL_SCALAR;
	if (f->ndim == 1 && f->nclasses >= 2 && f->shape[0] == f->nclasses)
		return QT_LABEL_ARGMAX;
	return qt_error(QT_EUSAGE, "field '%s' has per-sample shape %s; a label "
			"field is a scalar, or a one-hot vector with one entry "
			"per class name", f->name,
			qt_shape_str(s, sizeof s, f->ndim, f->shape));
}

int qt_label_get(const qt_field *f, int kind, const qt_tensor *t, int64_t i,
		 int64_t *label)
{
	double v;
	if (kind == QT_LABEL_ARGMAX) {
		int64_t c = f->shape[0], best = 0;
		double bv = qt_tensor_get(t, i * c);
		for (int64_t k = 0; k < c; k++) {
			v = qt_tensor_get(t, i * c + k);
			if (isnan(v))
				return qt_error(QT_EFORMAT, "field '%s': sample "
						"has NaN scores", f->name);
			if (v > bv) {
				bv = v;
				best = k;
			}
		}
		*label = best;
		return 0;
	}
	switch (t->dtype) {
	case QT_I64:
		*label = ((const int64_t *)t->data)[i];
		return 0;
	case QT_U64: {
		uint64_t u = ((const uint64_t *)t->data)[i];
		if (u > (uint64_t)INT64_MAX)
			return qt_error(QT_EFORMAT, "field '%s': label %llu is "
					"too large", f->name,
					(unsigned long long)u);
		*label = (int64_t)u;
		return 0;
	}
	default:
		break;
	}
	v = qt_tensor_get(t, i);
	if (!(v == floor(v)) || fabs(v) > 9.0e15)
		return qt_error(QT_EFORMAT, "field '%s': value %g is not a class "
				"index", f->name, v);
	*label = (int64_t)v;
	return 0;
}
