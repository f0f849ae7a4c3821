/* train.h: the training loop behind `quanta train`: read the training
 * stream into memory, shuffle each epoch, step the optimizer, validate,
 * log, checkpoint, stop early, resume.  Same seed, data and thread count
 * give bit-identical weights. */
#ifndef QT_TRAIN_H
#define QT_TRAIN_H

#include "common/stream.h"
#include <stdint.h>

typedef struct qt_train_opts {
	const char *model;      /* model file (or NULL with resume) */
	const char *const *set; /* "NAME=VALUE" overrides of the model's params */
	int nset;
	const char *input;      /* training stream endpoint */
	const char *val_input;  /* validation stream, or NULL */
	double val_fraction;    /* else hold out this fraction, or 0 */
	const char *output;     /* checkpoint path */
	const char *resume;     /* checkpoint to continue, or NULL */
	const char *log;        /* JSON-lines log path, or NULL */
	int epochs, batch;      /* 0: the model file's, else defaults */
	const char *optimizer;  /* NULL: the model file's */
	double lr;              /* < 0: the model file's */
	double weight_decay;    /* < 0: the model file's */
	const char *schedule;   /* "none", "step:5:0.5", ... */
	int early_stopping;     /* patience in epochs, 0 = off */
	int checkpoint_every;   /* epochs, 0 = only at the end */
	uint64_t seed;
	int threads;
	int quiet;
	int argc;               /* the stage's arguments, for the record */
	char **argv;
} qt_train_opts;

int qt_train(const qt_train_opts *o);

/* Read a whole stream into one batch (all samples).  Memory: the data
 * set, twice at the peak. */
int qt_read_all(const char *endpoint, qt_header **h, qt_batch **all);

#endif
