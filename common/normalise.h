/* normalise.h: fitting and applying the normalisation of a field
 * (quanta-normalise; docs/stages/normalise.md is the manual and
 * specifies the parameter file).
 *
 * Methods, as scikit-learn's scalers define them (std is the population
 * standard deviation, ddof = 0, as numpy's std and StandardScaler):
 *
 *   minmax            y = (x - min) / (max - min)          to [0, 1]
 *   standard          y = (x - mean) / std
 *   minmax,standard   min-max scaling, then standardisation with the mean
 *                     and std of the min-max-scaled training data (what the
 *                     21cm seed notebook does)
 *
 * Statistics are global, or per channel: channel = the first per-sample
 * axis of fixed size (axis 0 of a (C, H, W) map; axis 1 of a ragged
 * (*, C) field, i.e. per feature of every row).
 *
 * One pass: min, max, mean and the sum of squared deviations are
 * accumulated together (common/stats.h: blockwise two-pass moments merged
 * with Chan et al.'s update).  The standardisation statistics of the
 * min-max-scaled data need no second pass, because min-max scaling is the
 * affine map x -> a x + b with a = 1/(max - min), b = -min/(max - min),
 * and an affine map moves the mean to a mean + b and scales the std by a.
 * Every method is therefore one affine map per channel,
 *
 *   y = x * scale[c] + offset[c]
 *
 * computed in double precision from the statistics and stored with them.
 * (Algebraically, minmax,standard and standard are the same map; they may
 * differ in the last bits, and their parameter files say which was asked
 * for.)
 *
 * Identity: the SHA-256 (nettle) of the bytes
 *   "quanta-normalise 1\n" "field=F\n" "method=M\n" "per_channel=0|1\n"
 *   "shape=D0,D1,...\n" ('*' for a ragged first axis, nothing for a scalar)
 *   "scale=" <C float64, little-endian> "\n" "offset=" <C float64> "\n"
 * names the transform: two parameter files with the same identity
 * transform every stream alike.  It travels in the provenance of every
 * stream normalised with them (normalise.sha256).
 */
#ifndef QT_NORMALISE_H
#define QT_NORMALISE_H

#include "common/stream.h"
#include <stdint.h>

enum qt_norm_method {
	QT_NORM_MINMAX = 1,
	QT_NORM_STANDARD = 2,
	QT_NORM_BOTH = 3 /* minmax, then standard */
};

/* The version written into (and required of) parameter files. */
#define QT_NORM_FORMAT "quanta-normalise 1"

/* Fitted parameters.  The arrays are (nchan,) and owned by the struct. */
typedef struct qt_norm {
	char field[QT_NAME_MAX];
	int method;            /* enum qt_norm_method */
	int per_channel;
	int ndim;              /* the field's per-sample shape */
	int64_t shape[QT_MAX_DIMS]; /* shape[0] == -1: ragged */
	qt_dtype dtype;        /* of the field that was fitted */
	int64_t nchan;         /* channels; 1 without per_channel */
	int64_t count;         /* values per channel that were fitted */
	double *min, *max, *mean, *std; /* of the data as given */
	double *smean, *sstd;  /* of the min-max-scaled data (QT_NORM_BOTH
				* only, else NULL) */
	double *scale, *offset;
	char sha256[65];       /* hex */
} qt_norm;

/* "minmax", "standard", "minmax,standard" (also "standard,minmax" is
 * refused: the order is part of the method). */
int qt_norm_parse_method(const char *s, int *method);
const char *qt_norm_method_name(int method);

/* Channels C and the elements per channel block `inner` of field f, and
 * whether its units are rows (ragged) or samples.  QT_EUSAGE when
 * per_channel is asked of a field without a fixed axis. */
int qt_norm_layout(const qt_field *f, int per_channel, int64_t *nchan,
		   int64_t *inner);

/* The affine map of `method` for one channel's statistics:
 * *scale, *offset with y = x * scale + offset, and (QT_NORM_BOTH) the
 * mean and std of the min-max-scaled data in *smean, *sstd.  A zero range
 * or zero std is QT_ENUMERIC unless allow_constant, which divides by 1
 * instead (scikit-learn's rule: a constant channel maps to 0) and sets
 * *constant = 1.  Pure arithmetic: no allocation. */
int qt_norm_affine(int method, double min, double max, double mean,
		   double std, int allow_constant, double *scale,
		   double *offset, double *smean, double *sstd, int *constant);

/* ---- fitting ---- */
typedef struct qt_norm_fitter qt_norm_fitter;

/* Start fitting field `field` of streams with header h.  QT_EUSAGE for a
 * missing field (naming the fields there are) or a bad per-channel
 * request. */
int qt_norm_fit_begin(qt_norm_fitter **f, const qt_header *h,
		      const char *field, int method, int per_channel);
/* Add the field's values in batch b (valid for h).  QT_ENUMERIC naming
 * the field, the batch (1-based) and the sample (0-based, in the stream)
 * when a value is NaN or infinite; nothing of that batch is added then. */
int qt_norm_fit_add(qt_norm_fitter *f, const qt_batch *b);
/* Finish: the parameters, with their identity, in *out (free with
 * qt_norm_free).  QT_EUSAGE when no value was seen, QT_ENUMERIC for a
 * constant channel (see qt_norm_affine); *nconstant (may be NULL) counts
 * the constant channels allowed. */
int qt_norm_fit_end(qt_norm_fitter *f, int allow_constant, qt_norm **out,
		    int *nconstant);
void qt_norm_fitter_free(qt_norm_fitter *f);

/* 1 when channel c was constant (zero range or zero std). */
int qt_norm_is_constant(const qt_norm *n, int64_t c);

/* (Re)compute n->sha256 from the fields listed above. */
int qt_norm_identity(qt_norm *n);

/* ---- applying ---- */

/* The field of h the parameters apply to, checked: present, same
 * per-sample shape (and so the same number of channels).  Returns its
 * index, or QT_EUSAGE / QT_ESHAPE naming `path` (the parameter file, for
 * messages). */
int qt_norm_check(const qt_norm *n, const qt_header *h, const char *path);

/* out = in * scale + offset, channel by channel, as float32.  `in` is the
 * batch tensor of the field (units, ...): samples, or rows of a ragged
 * field; out a float32 tensor of the same shape (overwritten; it may be
 * `in` itself when `in` is float32).  Returns
 * 0, or QT_ENUMERIC with *bad = the first element index that is NaN or
 * infinite (in the input or, out of float32 range, the output). */
int qt_norm_apply(const qt_norm *n, qt_tensor *out, const qt_tensor *in,
		  int64_t *bad);

/* Replace field `field` of batch b (valid for the input header) by its
 * normalised float32 values.  batch_no (1-based) and first_sample (the
 * stream's index of b's sample 0) name the place of a NaN in the message. */
int qt_norm_apply_batch(const qt_norm *n, int field, qt_batch *b,
			int64_t batch_no, int64_t first_sample);

/* ---- the parameter file (HDF5) ---- */

/* Write n to `path` atomically (temporary file, renamed).  `fitted_on`
 * (may be NULL): the JSON provenance of the training stream, kept as an
 * attribute. */
int qt_norm_save(const qt_norm *n, const char *path, const char *fitted_on);
/* The first half of qt_norm_save, for a caller that commits the file only
 * when the rest of its work succeeded: write n into o, made by
 * qt_h5_create (common/h5.h); then qt_h5_finish(o, 1) commits it and
 * qt_h5_finish(o, 0) discards it.  On failure o is left to the caller. */
struct qt_h5_out;
int qt_norm_write(const qt_norm *n, struct qt_h5_out *o,
		  const char *fitted_on);
/* Read and check a parameter file: every dataset present with the right
 * size, and the recorded sha256 equal to the recomputed one.  A missing
 * file is QT_EUSAGE, anything else wrong QT_EFORMAT. */
int qt_norm_load(qt_norm **n, const char *path);

qt_norm *qt_norm_new(int64_t nchan, int both);
void qt_norm_free(qt_norm *n);

#endif
