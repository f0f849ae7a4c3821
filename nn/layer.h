/* layer.h: the layer types a model file can name, and the option reader
 * their build functions use.  Internal to nn/. */
#ifndef QT_LAYER_H
#define QT_LAYER_H

#include "nn/net.h"

/* Reads a layer's arguments: positional numbers fill the layer's main
 * parameters in order; every option read is marked used, and options
 * left unread are reported as unknown. */
typedef struct qt_build {
	const qt_model *m;
	const qt_mterm *term;
	const char *const *pos;   /* names of positional parameters */
	int used[32];
	int line, col;            /* of the layer, for shape errors */
} qt_build;

int bopt_int(qt_build *b, const char *key, int def, int min, int max,
	     int *out);
int bopt_double(qt_build *b, const char *key, double def, double min,
		double max, double *out);
int bopt_bool(qt_build *b, const char *key, int def, int *out);
/* An int or a list of two ints ([kh, kw]). */
int bopt_pair(qt_build *b, const char *key, int def, int min, int max,
	      int out[2]);
/* A word from `words` (NULL-terminated); *out is its index. */
int bopt_word(qt_build *b, const char *key, const char *const *words,
	      int def, int *out);
/* A list of numbers; *n set to its length (0 when absent). */
int bopt_doubles(qt_build *b, const char *key, double *out, int max, int *n);
/* A string or a bare word; NULL when absent. */
int bopt_str(qt_build *b, const char *key, const char **out);
/* Is option `key` present? */
int bopt_has(const qt_build *b, const char *key);
/* Error at the layer's position. */
int bopt_fail(const qt_build *b, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

typedef struct qt_layer {
	const char *name;
	const char *pos[3];          /* main parameters, in order */
	int min_in, max_in;          /* data inputs */
	/* Read options, set n->shape/ndim and n->iopt/dopt, create
	 * parameters (qt_node_param) and saved buffers (qt_node_aux). */
	int (*build)(qt_build *b, qt_net *net, qt_node *n);
	int (*forward)(qt_net *net, qt_node *n);
	/* Write input gradients into dx[i] (NULL: not needed).  With
	 * acc[i] set the layer must add into dx[i]; layers that cannot
	 * (accumulate == 0) never see acc set: the engine gives them a
	 * scratch buffer and adds it itself. */
	int (*backward)(qt_net *net, qt_node *n, qt_tensor *const *dx,
			const int *acc);
	int accumulates;
	unsigned flags;              /* QT_LF_*: what the memory plan may do */
} qt_layer;

/* Layer flags for the memory plan (nn/plan.c). */
#define QT_LF_BWD_X 1u   /* backward reads the inputs' values */
#define QT_LF_BWD_Y 2u   /* backward reads the layer's own output */
#define QT_LF_INPLACE 4u /* forward may write y over x (one input), and
			    backward dx over dy */
#define QT_LF_VIEW 8u    /* the output is the input's data reshaped
			    (flatten): forward and backward copy only when
			    the plan gave them separate buffers */
#define QT_LF_CHEAP 16u  /* forward is cheap and deterministic: rather
			    than keep the output for backward, recompute
			    it when its inputs are kept anyway */
#define QT_LF_PURE 32u   /* forward is deterministic; recomputed like
			    QT_LF_CHEAP when the first parameter has a
			    fan-in (elements per output unit) of 16 or less */
#define QT_LF_ROWWISE 64u /* output row i depends on input row i alone,
			    with no random draws: a batch may run in chunks
			    of rows (nn/step.c) */

const qt_layer *qt_layer_find(const char *name);
/* The names of all layers, for messages. */
const char *qt_layer_names(void);

/* Create parameter `name` of node n with the given shape (grad too when
 * trainable).  Returns the parameter or NULL with qt_error set. */
qt_param *qt_node_param(qt_net *net, qt_node *n, const char *name,
			int ndim, const int64_t *shape, int trainable);
/* Create saved buffer k of node n: (max_batch, shape...) of dtype dt
 * when per_sample, else exactly shape. */
int qt_node_aux(qt_net *net, qt_node *n, int k, qt_dtype dt, int per_sample,
		int ndim, const int64_t *shape);
/* Rows [0, net->n) of a (max_batch, ...) tensor. */
qt_tensor qt_rows(const qt_tensor *t, int64_t n);
/* Node n's kernels need `bytes` of workspace: the memory plan gives it
 * net->work (net->work_bytes long) while n runs. */
void qt_net_need_work(qt_net *net, qt_node *n, size_t bytes);

/* The memory plan (nn/plan.c).  qt_plan_build lays out every node's
 * output and gradient and the per-sample saved buffers (those created
 * by qt_node_aux with per_sample set) in net->arena; needs_grad must be
 * set.  qt_plan_forward_begin points recomputed outputs back at their
 * forward buffers; qt_plan_recompute runs the forward of the outputs
 * that node j's backward needs and the plan did not keep (with
 * net->recompute set: batch normalisation then leaves its running
 * statistics alone). */
int qt_plan_build(qt_net *net);
void qt_plan_free(qt_net *net);
void qt_plan_forward_begin(qt_net *net);
int qt_plan_recompute(qt_net *net, int j);
/* Point net->work at node i's workspace for its forward or backward. */
void qt_plan_work(qt_net *net, int i, int backward);

/* Chunked training steps (nn/step.c): replicas built with the network
 * when cfg->chunked and the network allows; bound with it; freed. */
int qt_chunks_new(qt_net *net, const qt_model *m, const qt_net_cfg *cfg);
int qt_chunks_bind(qt_net *net, const qt_header *h);
void qt_chunks_free(qt_net *net);

#endif
