/* net.h: a network built from a model file: the graph of layers, its
 * buffers, forward and backward passes, losses and parameters.
 *
 *   qt_model *m;  qt_model_load(&m, "models/jets.net");
 *   qt_net *net;  qt_net_build(&net, m, &cfg);
 *   qt_net_bind(net, stream_header);              // fields -> inputs/targets
 *   for each step:
 *       qt_net_load(net, batch, idx, n);          // rows idx[0..n) of a batch
 *       qt_net_zero_grad(net);
 *       qt_net_forward(net, 1);                   // training mode; losses
 *       qt_net_backward(net);                     // parameter gradients +=
 *       qt_optim_step(opt, net);
 *   or, the four first in one call that may run in chunks of rows:
 *       qt_net_train_step(net, batch, idx, n, &loss);
 *
 * Activations are kept for the largest batch (cfg.max_batch); smaller
 * batches use the leading rows.  Every buffer is allocated by build; the
 * passes allocate nothing.  The network owns a copy of the model text.
 *
 * Buffers share memory where their lives allow (nn/plan.c): a node's
 * out is valid after forward while something still reads it; network
 * outputs, loss predictions and inputs stay valid until the next
 * forward or load.  A gradient buffer holds its gradient from the
 * backward that writes it until the node's own backward.  One backward
 * pass per forward pass.
 */
#ifndef QT_NET_H
#define QT_NET_H

#include "common/rng.h"
#include "common/stream.h"
#include "kernels/kernels.h"
#include "nn/model.h"

#include <stdio.h>

#define QT_NODE_MAX_IN 8
#define QT_NODE_MAX_PARAMS 4
#define QT_NODE_MAX_AUX 4
#define QT_NET_MAX_LOSSES 8
#define QT_NET_MAX_IO 16

struct qt_layer;
struct qt_plan;

/* A parameter (trainable: grad != NULL) or a buffer (running statistics:
 * grad == NULL), with the optimizer's state beside it. */
typedef struct qt_param {
	char name[24];       /* "weight", "bias", "running_mean", ... */
	qt_tensor *value;
	qt_tensor *grad;     /* same shape; NULL for buffers */
	qt_tensor *state[3]; /* optimizer state, allocated by the optimizer */
} qt_param;

typedef struct qt_node {
	char name[64];               /* "conv2d_1", an input's field name */
	const struct qt_layer *layer; /* NULL for an input */
	int nin, in[QT_NODE_MAX_IN]; /* producing nodes */
	int ndim;                    /* per-sample output shape */
	int64_t shape[QT_MAX_DIMS];
	int nparams;
	qt_param params[QT_NODE_MAX_PARAMS];
	int iopt[8];                 /* layer options, meaning per layer */
	double dopt[4];
	qt_tensor *out, *grad;       /* (max_batch, shape...) */
	qt_tensor *aux[QT_NODE_MAX_AUX]; /* saved by forward for backward */
	int line, col;               /* where the model file defines it */
	int field;                   /* input: stream field index */
	int needs_grad;              /* some parameter lies upstream */
	size_t work;                 /* workspace its kernels need (bytes) */
	int grad_set;                /* grad written in this backward pass */
} qt_node;

typedef enum qt_loss_kind { QT_LOSS_CE, QT_LOSS_MSE, QT_LOSS_BCE } qt_loss_kind;

typedef struct qt_target {
	char name[QT_NAME_MAX];
	int field;          /* stream field index once bound */
	qt_tensor *value;   /* (max_batch, ...) int64 labels or float values */
	int line, col;
} qt_target;

typedef struct qt_loss {
	qt_loss_kind kind;
	int pred;           /* node */
	int target;         /* index into targets */
	qt_tensor *weight;  /* class weights (C) or NULL */
	qt_tensor *prob;    /* CE: softmax saved by forward */
	double value;       /* after forward */
	int line, col;
} qt_loss;

typedef struct qt_optim_cfg {
	char name[16];      /* "sgd", "adam", "adamw", "adamax" */
	double lr, momentum, dampening, beta1, beta2, eps, weight_decay;
	int nesterov, amsgrad;
	int line, col;      /* where set in the model, for messages */
} qt_optim_cfg;

typedef struct qt_net_cfg {
	qt_dtype dtype;     /* QT_F32 (training) or QT_F64 (gradient checks) */
	int64_t max_batch;
	uint64_t seed;      /* initial weights and dropout */
	qt_ctx ctx;
	int chunked;        /* let qt_net_train_step split batches into
			       cache-sized chunks when the network allows */
} qt_net_cfg;

typedef struct qt_net {
	char *text;         /* the model file */
	char *path;
	qt_dtype dtype;
	int64_t max_batch, n; /* allocated rows; rows of the current batch */
	int nnodes;
	qt_node *nodes;
	int ntargets;
	qt_target targets[QT_NET_MAX_IO];
	int nlosses;
	qt_loss losses[QT_NET_MAX_LOSSES];
	int noutputs;
	int outputs[QT_NET_MAX_IO];
	qt_optim_cfg optim;  /* from the model file; the trainer may override */
	int epochs, batch;   /* `train` defaults (0: not given) */
	double weight_decay;
	qt_ctx ctx;
	qt_rng rng;
	void *work;          /* the running layer's workspace (im2col),
				work_bytes long, in the arena */
	size_t work_bytes;
	qt_tensor *scratch;  /* gradient accumulation (NULL when no value
				has several consumers), in the arena */
	void *arena;         /* every node's out, grad and per-sample aux,
				laid out by the memory plan (nn/plan.c) */
	size_t arena_bytes;
	struct qt_plan *plan;
	int recompute;       /* a forward running again inside backward */
	int training;
	double loss_scale;   /* backward seeds the loss gradients with it */
	struct qt_chunks *chunks; /* replicas for chunked steps, or NULL */
} qt_net;

int qt_net_build(qt_net **net, const qt_model *m, const qt_net_cfg *cfg);
void qt_net_free(qt_net *net);

/* Match inputs and targets to stream fields by name; check dtypes and
 * per-sample shapes.  QT_ESHAPE/QT_EFORMAT name the field and the model
 * line.  Every input must be in the stream; a target that is not is left
 * unbound (field -1), and its loss is skipped: prediction needs none. */
int qt_net_bind(qt_net *net, const qt_header *h);

/* Copy samples idx[0..n) of batch b (a batch of the bound stream) into
 * the input and target buffers, converting to the network's dtype.
 * idx == NULL means samples 0..n-1.  Non-finite inputs are QT_ENUMERIC. */
int qt_net_load(qt_net *net, const qt_batch *b, const int64_t *idx,
		int64_t n);

/* Forward pass over the loaded rows.  training = 1 uses batch statistics
 * and dropout; with targets bound and loaded, computes the losses.
 * Returns the total loss in *loss (may be NULL). */
int qt_net_forward(qt_net *net, int training, double *loss);
/* Backward pass from the losses of the last forward pass; accumulates
 * (+=) into every parameter gradient. */
int qt_net_backward(qt_net *net);
void qt_net_zero_grad(qt_net *net);

/* One training step's gradients over rows idx[0..n) of batch b (as
 * qt_net_load takes them): load, zero the gradients, forward in
 * training mode, backward; *loss as qt_net_forward gives it.
 * Networks built with cfg.chunked whose layers all work row by row (no
 * batch normalisation, no dropout), without class weights and with few
 * parameters run the batch in chunks of rows that keep every activation
 * in the core's cache, the chunks spread over the pool's threads, each
 * chunk on a replica of the network (nn/step.c).  The chunks and the
 * order their gradients are summed in depend on the batch size only, so
 * the result is the same for every thread count.  Afterwards the targets,
 * losses' predictions and outputs hold the whole batch's values, as
 * after qt_net_load and qt_net_forward; the inputs and other
 * activations are not valid. */
int qt_net_train_step(qt_net *net, const qt_batch *b, const int64_t *idx,
		      int64_t n, double *loss);
/* Whether net runs its training steps in chunks (for reports). */
int qt_net_chunk_rows(const qt_net *net);

/* Visit parameters and buffers in a fixed order. */
typedef int qt_param_fn(void *arg, qt_node *node, qt_param *p);
int qt_net_each_param(qt_net *net, qt_param_fn *fn, void *arg);
int64_t qt_net_count_params(const qt_net *net, int64_t *trainable);

/* A view of a node's output over the current batch: (n, shape...). */
qt_tensor qt_net_value(const qt_net *net, int node);

/* Keras-style table: layer (type), output shape, parameters, total. */
void qt_net_summary(const qt_net *net, FILE *f);

#endif
