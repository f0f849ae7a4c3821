/* checkpoint.h: training checkpoints as HDF5 files, readable with h5py.
 *
 * Layout (docs/MODELS.md, "Checkpoints"):
 *   /                       attributes: format = "quanta-checkpoint",
 *                           format_version = "1", quanta_version, model (the
 *                           model file's text), model_path, model_set (JSON:
 *                           `param` overrides it was built with), fields (JSON:
 *                           the stream fields the network was trained on),
 *                           provenance (JSON: the training stream's steps),
 *                           preprocessing (JSON: identities of fitted
 *                           preprocessing, e.g. normalisation parameters),
 *                           state (JSON: epoch, step, optimizer settings and
 *                           learning rate, schedule, early-stopping state)
 *   /weights/LAYER/PARAM    parameters and buffers, by layer name, as in a
 *                           PyTorch state_dict (weight, bias, running_mean..)
 *   /optimizer/LAYER/PARAM/STATE   optimizer state (exp_avg, ...)
 *   /history/KEY            per-epoch metrics (epoch, loss, val_loss, ...)
 *   /rng                    the generator state for bit-exact resumption
 * Files are written under a temporary name and renamed when complete.
 */
#ifndef QT_CHECKPOINT_H
#define QT_CHECKPOINT_H

#include "nn/net.h"
#include "nn/optim.h"

#define QT_HIST_MAX_KEYS 16

/* Per-epoch metrics: columns by name, NaN where a metric is absent. */
typedef struct qt_history {
	int nkeys, n, cap;
	char keys[QT_HIST_MAX_KEYS][32];
	double *cols[QT_HIST_MAX_KEYS];
} qt_history;

int qt_history_add(qt_history *h, int epoch_row, const char *key, double v);
void qt_history_free(qt_history *h);

/* What a checkpoint says besides the weights. */
typedef struct qt_ckpt {
	char *model;          /* model text */
	char *model_path;
	char *model_set;      /* JSON array of "NAME=VALUE" parameter overrides */
	char *fields;         /* JSON */
	char *provenance;     /* JSON */
	char *preprocessing;  /* JSON object */
	char *state;          /* JSON object */
	qt_history hist;
	char *path;
} qt_ckpt;

/* Write a checkpoint of net (and optimizer o, may be NULL). */
int qt_ckpt_save(const char *path, qt_net *net, const qt_optim *o,
		 const qt_ckpt *meta);
/* Read everything but the tensors; QT_EFORMAT for a file that is not a
 * quanta checkpoint (names what it found). */
int qt_ckpt_open(qt_ckpt *ck, const char *path);
void qt_ckpt_close(qt_ckpt *ck);
/* Copy the weights (and buffers) into net, checking names and shapes;
 * with o, the optimizer state too. */
int qt_ckpt_load(const qt_ckpt *ck, qt_net *net, qt_optim *o);

/* "NAME=VALUE" overrides as a JSON array, and back (the strings of
 * *set are malloc'd; free with qt_free_list from common/cli.h). */
char *qt_ckpt_set_json(const char *const *set, int n);
int qt_ckpt_set_parse(const char *json, char ***set, int *n);

/* JSON of the fields of h that net reads (inputs and targets). */
char *qt_ckpt_fields_json(const qt_net *net, const qt_header *h);
/* JSON object of the preprocessing identities in h's provenance: every
 * provenance param whose key ends in ".sha256", by key, in order; the
 * n-th repetition of a key is "KEY#n". */
char *qt_ckpt_preprocessing_json(const qt_header *h);

#endif
