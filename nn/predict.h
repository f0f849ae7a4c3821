/* predict.h: applying a trained checkpoint to a stream, batch by batch.
 *
 * The output stream is the input stream plus prediction fields:
 *   classification (an output trained with cross_entropy): PREFIXprob,
 *     float32 (C, ...) softmax probabilities, and PREFIXpred, int64 (...)
 *     the most probable class, with the label field's class names;
 *   binary (bce): PREFIXprob, the sigmoid;
 *   otherwise (mse, or no loss): PREFIXpred, float32, the output's values
 *     (shape (1,) becomes () when the target was a scalar).
 * PREFIX is empty for a single output, else "NAME_".
 */
#ifndef QT_PREDICT_H
#define QT_PREDICT_H

#include "common/stream.h"
#include "common/threadpool.h"

typedef struct qt_predictor qt_predictor;

/* Open checkpoint `path` for streams with header `in`.  Refuses (QT_ESHAPE
 * / QT_EFORMAT) an input whose fields differ from the training stream's,
 * and one whose preprocessing identities differ unless ignore_preprocessing.
 * *out is the output header (owned by the predictor). */
int qt_predictor_open(qt_predictor **p, const char *path, const qt_header *in,
		      int64_t max_batch, qt_pool *pool,
		      int ignore_preprocessing, const qt_header **out);
/* The output batch for one input batch. */
int qt_predictor_run(qt_predictor *p, const qt_batch *in, qt_batch **out);
void qt_predictor_close(qt_predictor *p);

#endif
