/* source_impl.h: what the format back-ends of source.c share.  Not a
 * public API. */
#ifndef QT_SOURCE_IMPL_H
#define QT_SOURCE_IMPL_H

#include "common/source.h"

struct qt_source {
	qt_header *h;
	const char *format;
	const char *path;
	const qt_source_opts *opts; /* valid while opening only */
	int64_t total;              /* samples in the file */
	int64_t next, end;          /* samples [next, end) still to yield */
	qt_batch *b;
	size_t cap[QT_MAX_FIELDS];  /* bytes b->t[i] can hold */
	size_t ptr_cap[QT_MAX_FIELDS];
	char notes[2048];
	/* Fill b (b->n == k) with samples [start, start + k).  Calls come
	 * in order without gaps, the first one at opts->start. */
	int (*read)(qt_source *s, int64_t start, int64_t k, qt_batch *b);
	void (*close)(qt_source *s);
	void *impl;
};

int qt_source_open_h5(qt_source *s);
int qt_source_open_npy(qt_source *s);
int qt_source_open_npz(qt_source *s);
int qt_source_open_csv(qt_source *s);

/* Append a line to the notes. */
void qt_source_note(qt_source *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Make b->t[f] hold `rows` rows of field f (its memory is reused from
 * batch to batch); returns it or NULL (qt_error set). */
qt_tensor *qt_source_tensor(qt_source *s, int f, int64_t rows);
/* Make b->ptr[f] an int64 tensor of n + 1 offsets. */
qt_tensor *qt_source_ptr(qt_source *s, int f, int64_t n);

/* A field name from a dataset, member, column or file name: characters
 * other than letters, digits, '_' and '-' become '_'. */
void qt_source_field_name(char *dst, size_t len, const char *src);

/* Something in the file that could become a field. */
typedef struct qt_source_cand {
	const char *name;
	int64_t samples;    /* < 0: cannot be a field, `why` says why */
	char why[160];
	int hidden;         /* only when asked for by name (NAME_ptr) */
} qt_source_cand;

/* Choose what to load: opts->fields in their order (each present and
 * usable, all with the same number of samples), or else the largest set
 * of usable candidates agreeing on the number of samples.  `what` names
 * the kind ("dataset", "member", "column").  sel receives indices into
 * c; returns their count or an error. */
int qt_source_choose(qt_source *s, const char *what,
		     const qt_source_cand *c, int n, int *sel);

#endif
