/* spool.h: read a stream's batches twice, in bounded memory.
 *
 * Some stages must see every sample before they write the first one:
 * quanta-balance (how many samples does each bin have?) and
 * quanta-normalise --fit with an output (the statistics of the whole
 * training set).  A pipe or a socket cannot be read twice, so the first
 * pass hands each batch to qt_spool_add and the second pass gets them back
 * from qt_spool_next, in the same order:
 *
 *   - a regular file input is simply opened and read again (nothing is
 *     copied); each batch must have the same number of samples as in the
 *     first pass, or the file changed under us and that is an error;
 *   - any other input (stdin, a FIFO, a ZeroMQ endpoint) is copied batch
 *     by batch, as MessagePack, to an anonymous temporary file in $TMPDIR
 *     (default /tmp): created with mkstemp and unlinked at once, so it
 *     never outlives the process, even one that is killed.
 *
 * Memory: one batch at a time, plus 16 bytes per batch of bookkeeping.
 * Disk: the size of the stream, for inputs that are not regular files.
 *
 *   qt_spool *sp;
 *   qt_spool_open(&sp, input, qt_reader_header(rd));
 *   while ((rc = qt_reader_next(rd, &b)) > 0) { look(b); qt_spool_add(sp, b); ... }
 *   qt_spool_rewind(sp);
 *   while ((rc = qt_spool_next(sp, &b)) > 0) { write(b); qt_batch_free(b); }
 *   qt_spool_close(sp);
 */
#ifndef QT_SPOOL_H
#define QT_SPOOL_H

#include "common/stream.h"

typedef struct qt_spool qt_spool;

/* Prepare to replay the stream read from endpoint `input`, whose header is
 * h (copied).  Returns 0 or QT_EIO (no temporary file could be made). */
int qt_spool_open(qt_spool **s, const char *input, const qt_header *h);
/* Remember batch b (valid for h) of the first pass.  QT_EIO when the
 * temporary file cannot be written (a full disk names $TMPDIR). */
int qt_spool_add(qt_spool *s, const qt_batch *b);
/* Start the second pass (may be called again for a third). */
int qt_spool_rewind(qt_spool *s);
/* 1 and *b (caller frees): the next batch; 0: all batches replayed;
 * < 0: error (the file changed, or could not be read). */
int qt_spool_next(qt_spool *s, qt_batch **b);
/* 1 when the batches are copied to a temporary file, 0 when the input
 * file is read again. */
int qt_spool_is_copy(const qt_spool *s);
void qt_spool_close(qt_spool *s);

#endif
