/* stream.h: the quanta tensor stream (docs/FORMAT.md is the specification).
 *
 * A stream is a sequence of MessagePack maps: one header, then batches,
 * then (from quanta writers, and always over ZeroMQ) an end map.  Each
 * tensor is a map encoded exactly as Python's msgpack-numpy encodes an
 * ndarray, so numpy users read and write streams without quanta.
 *
 * Reading:
 *     qt_reader *r; qt_batch *b;
 *     if ((rc = qt_reader_open(&r, "-")) < 0) ...      // "-", path, @/> endpoint
 *     const qt_header *h = qt_reader_header(r);
 *     while ((rc = qt_reader_next(r, &b)) > 0) { ...; qt_batch_free(b); }
 *     // rc == 0: clean end; rc < 0: error (message in qt_error_message)
 *     qt_reader_close(r);
 *
 * Writing:
 *     qt_writer *w;
 *     qt_writer_open(&w, "-", header);  // header copied; provenance as given
 *     qt_writer_write(w, batch) ...
 *     qt_writer_close(w);   // end map, flush, rename a file into place
 *     // or qt_writer_abort(w) on failure: no end map, temp file removed
 *
 * Batches are validated against the header on read and on write: every
 * field present with the declared dtype and per-sample shape, ragged
 * offsets monotone, graph indices in range.
 */
#ifndef QT_STREAM_H
#define QT_STREAM_H

#include "common/tensor.h"
#include <stdint.h>

#define QT_STREAM_VERSION 1
#define QT_MAX_FIELDS 64
#define QT_NAME_MAX 64

/* A field as declared in the header: name, dtype, per-sample shape.
 * A ragged field has shape[0] == -1 (a variable number of rows per
 * sample, e.g. the nodes of a graph); its batches carry NAME.ptr offsets.
 * An index field (index_of != "") holds row numbers of another ragged
 * field of the same sample (e.g. edges (E, 2) index nodes); in a batch
 * they are offset to index the batch's concatenated rows, as PyG does. */
typedef struct qt_field {
	char name[QT_NAME_MAX];
	qt_dtype dtype;
	int ndim;                   /* per-sample rank */
	int64_t shape[QT_MAX_DIMS]; /* per-sample shape; shape[0] may be -1 */
	char index_of[QT_NAME_MAX]; /* ragged field indexed, or "" */
	int nclasses;               /* class names of a label field */
	char **classes;
} qt_field;

/* One step that made the stream: stage name, its arguments, and named
 * parameters (e.g. the identity of a normaliser's fitted parameters). */
typedef struct qt_prov {
	char *stage;
	char *version;
	int argc;
	char **argv;
	int nparams;
	char **keys, **values;
} qt_prov;

typedef struct qt_header {
	int version;
	int nfields;
	qt_field fields[QT_MAX_FIELDS];
	int nprov;
	qt_prov *prov;
	int end_marker; /* 1: the writer promises an end map */
} qt_header;

/* A batch: n samples, one tensor per header field (same order).  For a
 * ragged field i, ptr[i] is an int64 tensor (n+1) of row offsets. */
typedef struct qt_batch {
	int64_t n;
	int nfields;
	qt_tensor *t[QT_MAX_FIELDS];
	qt_tensor *ptr[QT_MAX_FIELDS];
} qt_batch;

/* ---- headers ---- */
qt_header *qt_header_new(void);
void qt_header_free(qt_header *h);
qt_header *qt_header_clone(const qt_header *h);
/* Add a field; shape is the per-sample shape (shape[0] may be -1).
 * Returns the field index or a negative error (bad name, duplicate,
 * too many fields). */
int qt_header_add_field(qt_header *h, const char *name, qt_dtype dt,
			int ndim, const int64_t *shape);
int qt_header_set_classes(qt_header *h, int field, int n,
			  const char *const *names);
int qt_header_set_index_of(qt_header *h, int field, const char *target);
/* Index of a field by name, or -1. */
int qt_header_find(const qt_header *h, const char *name);
/* Append a provenance step (stage, version, argv).  Returns the step's
 * index for qt_header_add_param, or a negative error. */
int qt_header_add_prov(qt_header *h, const char *stage, int argc,
		       char *const *argv);
int qt_header_add_param(qt_header *h, int step, const char *key,
			const char *value);
/* Remove field i (and its class names). */
void qt_header_remove_field(qt_header *h, int i);
/* Check names, dtypes, shapes and index_of references. */
int qt_header_validate(const qt_header *h);

/* ---- batches ---- */
qt_batch *qt_batch_new(int nfields);
void qt_batch_free(qt_batch *b);
/* Check a batch against a header (fields, dtypes, shapes, offsets,
 * index ranges).  Returns 0 or QT_EFORMAT/QT_ESHAPE with a message. */
int qt_batch_validate(const qt_header *h, const qt_batch *b);
/* A new batch of samples idx[0..k-1] of b (any order, repeats allowed);
 * ragged rows and graph indices are re-offset. */
qt_batch *qt_batch_take(const qt_header *h, const qt_batch *b,
			const int64_t *idx, int64_t k);
/* Concatenate batches (all valid for h) into one. */
qt_batch *qt_batch_concat(const qt_header *h, qt_batch *const *bs, int nb);
/* Rows [ptr[i], ptr[i+1]) of ragged field f for sample i, or [i, i+1)
 * for a fixed field. */
void qt_batch_rows(const qt_batch *b, int f, int64_t i, int64_t *start,
		   int64_t *end);

/* ---- reading and writing ---- */
typedef struct qt_reader qt_reader;
typedef struct qt_writer qt_writer;

/* Open an input endpoint: "-" (stdin), a file path, "@tcp://0.0.0.0:PORT" (bind),
 * ">tcp://HOST:PORT" (connect; also ipc://).  Reads the header. */
int qt_reader_open(qt_reader **r, const char *endpoint);
const qt_header *qt_reader_header(const qt_reader *r);
/* 1 and *b set: a batch (caller frees); 0: end of stream; < 0: error. */
int qt_reader_next(qt_reader *r, qt_batch **b);
/* Bytes read so far (for throughput reports). */
uint64_t qt_reader_bytes(const qt_reader *r);
void qt_reader_close(qt_reader *r);

/* Open an output endpoint and write the header.  A file path is written
 * under a temporary name in the same folder and renamed by
 * qt_writer_close. */
int qt_writer_open(qt_writer **w, const char *endpoint, const qt_header *h);
const qt_header *qt_writer_header(const qt_writer *w);
int qt_writer_write(qt_writer *w, const qt_batch *b);
/* Write the end map, flush, close; rename a file into place.  Returns the
 * first error of the whole write (a full disk shows here). */
int qt_writer_close(qt_writer *w);
/* Give up: no end map; a file output is removed. */
void qt_writer_abort(qt_writer *w);

/* ---- in-memory codec (for tests, the fuzzer and ZeroMQ) ---- */
/* Decode one msgpack message: a header (returns 1, *h set), a batch for
 * header `h0` (returns 2, *b set), an end map (returns 3), or an error. */
int qt_decode_message(const void *buf, size_t len, const qt_header *h0,
		      qt_header **h, qt_batch **b);

/* Largest message accepted (bytes): QUANTA_MAX_MESSAGE or 4 GiB. */
size_t qt_max_message(void);

/* ---- internals of the reader: stream.c, endpoint.c and codec.c ---- */

/* The body of a large tensor "data" bin that a byte-stream reader read
 * straight into an aligned buffer of its own (from qt_alloc) instead of
 * into the message: bytes off .. off+len-1 of the message were never
 * written; `data` holds them. */
typedef struct qt_detached {
	size_t off, len;
	void *data;
} qt_detached;

struct qt_chan;
/* qt_chan_recv (common/endpoint.h) for the messages after a header: the
 * bodies of large "data" bins of tensor maps may arrive detached, listed
 * in (*d)[0 .. *nd-1] until the next call.  A decoder that keeps d[i].data
 * sets it to NULL; the channel frees the others. */
int qt_chan_recv_detached(struct qt_chan *c, const uint8_t **p, size_t *len,
			  qt_detached **d, int *nd);
/* qt_decode_message for such a message: a tensor whose data is d[i] takes
 * d[i].data over (and sets it to NULL) instead of copying it. */
int qt_decode_message_detached(const void *buf, size_t len,
			       const qt_header *h0, qt_header **h,
			       qt_batch **b, qt_detached *d, int nd);

#endif
