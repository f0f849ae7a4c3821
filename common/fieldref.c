/* fieldref.c: field lookup with helpful errors (see fieldref.h). */
#include "common/fieldref.h"
#include "common/error.h"

#include <stdio.h>
#include <string.h>

int qt_field_require(const qt_header *h, const char *name,
		     const char *option)
{
	char list[512];
	size_t used = 0;
	int i = qt_header_find(h, name);
	if (i >= 0)
		return i;
	list[0] = '\0';
	for (int j = 0; j < h->nfields && used < sizeof list; j++) {
		int n = snprintf(list + used, sizeof list - used, "%s%s",
				 j ? ", " : "", h->fields[j].name);
		used += n > 0 ? (size_t)n : 0;
	}
	if (used >= sizeof list)
		strcpy(list + sizeof list - 5, "...");
	return qt_error(QT_EUSAGE, "no field '%s' in the stream (it has: %s)%s%s",
			name, list, option ? "; name the field with " : "",
			option ? option : "");
}

int64_t qt_field_numel(const qt_field *f)
{
	if (f->ndim > 0 && f->shape[0] < 0)
		return -1;
	return qt_shape_numel(f->ndim, f->shape);
}

int qt_field_same_shape(const qt_field *a, const qt_field *b)
{
	if (a->ndim != b->ndim)
		return 0;
	for (int d = 0; d < a->ndim; d++)
		if (a->shape[d] != b->shape[d])
			return 0;
	return 1;
}
