/* source.h: data files as tensor streams (the work behind `quanta load`).
 *
 * A source opens an HDF5, .npy, .npz or CSV file, declares its fields
 * (name, dtype, per-sample shape, class names) in a stream header and
 * then yields batches of samples in file order, reading only the rows of
 * each batch: memory is bounded by the batch size, not the file.
 *
 *     qt_source *s;
 *     if ((rc = qt_source_open(&s, "jets.h5", &opts)) < 0) ...
 *     const qt_header *h = qt_source_header(s);   // fields only
 *     while ((rc = qt_source_next(s, 256, &b)) > 0) ... write b ...
 *     qt_source_close(s);
 *
 * Per format:
 *   HDF5   one field per dataset at the root (or as named); by default all
 *          datasets whose sample counts agree (the largest such set).
 *          A dataset NAME with an integer dataset NAME_ptr beside it (what
 *          `quanta save` writes for ragged fields) is a ragged field; an
 *          `index_of` attribute makes it an index field; a `classes`
 *          string-array attribute names the classes of a label field; a
 *          root `provenance` attribute (JSON) becomes the stream's
 *          provenance.
 *   .npy   one field, named opts->name or the file's stem.
 *   .npz   one field per member NAME.npy.
 *   CSV    a header row names the columns; see source_csv.c.
 */
#ifndef QT_SOURCE_H
#define QT_SOURCE_H

#include "common/stream.h"

typedef struct qt_source_opts {
	char **fields;      /* fields to load, in this order; NULL: all */
	int nfields;
	int64_t start;      /* first sample */
	int64_t count;      /* samples to load; < 0: to the end */
	const char *name;   /* .npy: the field's name */
	char **classes;     /* "FIELD=a,b,c": class names of a label field */
	int nclasses;
	/* CSV only */
	char **int_cols;    /* columns to load as int64 */
	int nint;
	char **float_cols;  /* columns to load as float32 */
	int nfloat;
	char **groups;      /* "NAME=colA,colB": columns as one (k,) field */
	int ngroups;
} qt_source_opts;

typedef struct qt_source qt_source;

/* Open `path`; the type comes from the extension (.h5 .hdf5 .he5 .hdf,
 * .npy, .npz, .csv), or from the contents for other names.  Missing
 * files and bad options are QT_EUSAGE, files that are not what they claim
 * (or that quanta cannot represent) QT_EFORMAT, with a message naming the
 * file and the dataset, member, line or column. */
int qt_source_open(qt_source **s, const char *path,
		   const qt_source_opts *opts);

/* The stream header: fields with class names, and the provenance the
 * file carried (if any).  Owned by the source. */
const qt_header *qt_source_header(const qt_source *s);
/* "hdf5", "npy", "npz" or "csv". */
const char *qt_source_format(const qt_source *s);
/* Samples the source will yield in all. */
int64_t qt_source_samples(const qt_source *s);
/* Remarks for the user (fields skipped, types chosen), one per line,
 * or "". */
const char *qt_source_notes(const qt_source *s);

/* The next batch of at most max_n samples: 1 and *b (owned by the source,
 * valid until the next call), 0 at the end, < 0 on error. */
int qt_source_next(qt_source *s, int64_t max_n, const qt_batch **b);

void qt_source_close(qt_source *s);

#endif
