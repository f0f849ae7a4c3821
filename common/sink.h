/* sink.h: tensor streams into data files (the work behind `quanta save`).
 *
 *     qt_sink *k;
 *     if ((rc = qt_sink_open(&k, "out.h5", header, 4)) < 0) ...
 *     while (...) if ((rc = qt_sink_write(k, batch)) < 0) break;
 *     rc = qt_sink_close(k, rc == 0);   // commit only a complete stream
 *
 * The file is written under a temporary name beside the target and
 * renamed into place only by a committing close: a stream that ends badly
 * leaves no output file, and no temporary one.  Memory is bounded by one
 * batch.
 *
 * Per format (chosen by the extension):
 *   .h5 .hdf5  one chunked dataset per field (gzip level `compress` when
 *              > 0), class names as a `classes` string-array attribute,
 *              the header's provenance as a JSON string attribute
 *              `provenance` on the root.  A ragged field NAME is its rows
 *              concatenated plus an int64 dataset NAME_ptr of the sample
 *              offsets (n + 1 of them, from 0); an index field has an
 *              `index_of` attribute and file-wide row numbers, so the
 *              whole file reads as one PyG batch.
 *   .npy       exactly one field, not ragged.
 *   .npz       one member NAME.npy per field (np.savez; deflated, as
 *              np.savez_compressed does, when compress > 0); not ragged.
 */
#ifndef QT_SINK_H
#define QT_SINK_H

#include "common/stream.h"

typedef struct qt_sink qt_sink;

/* 1 when `path` has an extension quanta can save to. */
int qt_sink_known(const char *path);

/* Start writing the fields of h to `path`.  An unknown extension, a
 * header the format cannot hold, or an unwritable place is QT_EUSAGE. */
int qt_sink_open(qt_sink **k, const char *path, const qt_header *h,
		 int compress);
/* Append a batch valid for the header given to qt_sink_open. */
int qt_sink_write(qt_sink *k, const qt_batch *b);
/* Finish: commit = 1 completes the file and renames it into place,
 * commit = 0 removes it.  Frees k; returns the first error. */
int qt_sink_close(qt_sink *k, int commit);

#endif
