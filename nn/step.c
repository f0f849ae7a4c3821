/* step.c: a training step's gradients, over the whole batch or in chunks.
 *
 * A small network trained with large batches (the jets CNN: 3 505
 * parameters, batches of 1 000) spends most of its time moving
 * activations: run layer by layer over the whole batch, every layer's
 * output and gradient streams through memory (5 MB for the first
 * convolution's output alone).  Run in chunks of CHUNK_ROWS rows, the
 * whole forward and backward pass of a chunk stays in the core's L2
 * cache.  Each chunk runs on a replica of the network (same model,
 * buffers for CHUNK_ROWS rows, kernels on the calling thread); the
 * replicas take the network's weights at the start of a step, load
 * their chunks' rows straight from the batch, add their chunks'
 * gradients into their own gradient buffers, and the network's
 * gradients are their sum.
 *
 * Determinism: chunk j of a batch goes to replica j mod NREP, each
 * replica runs its chunks in order, and the replicas' gradients are
 * summed in replica order.  None of this depends on the thread count,
 * which only decides which thread runs which replica.
 *
 * Which networks: every layer must have QT_LF_ROWWISE (output row i
 * depends on input row i alone, no random draws: no batch normalisation,
 * no dropout), no loss may carry class weights (the weighted mean's
 * denominator belongs to the whole batch), and the parameters must be
 * few (each replica holds a copy of the weights and their gradients).
 */
#include "common/error.h"
#include "common/threadpool.h"
#include "nn/layer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK_ROWS 64
#define NREP 4
/* Replicas copy the weights every step: only for small networks. */
#define MAX_PARAMS ((int64_t)1 << 20)

struct replica {
	qt_net *net;
	double loss[QT_NET_MAX_LOSSES]; /* this step's share of each loss */
	int64_t rows[CHUNK_ROWS];       /* batch rows of the chunk */
	int rc;                         /* the error of chunk bad, */
	int64_t bad;
	char msg[256];                  /* and its message */
};

typedef struct qt_chunks {
	struct replica rep[NREP];
	const qt_batch *b;              /* the step's batch and rows */
	const int64_t *idx;
} qt_chunks;

static int chunkable(const qt_net *net)
{
	for (int i = 0; i < net->nnodes; i++) {
		const qt_node *n = &net->nodes[i];
		if (n->layer && !(n->layer->flags & QT_LF_ROWWISE))
			return 0;
		if (!n->layer && n->ndim > 0 && n->shape[0] < 0)
			return 0; /* ragged input */
	}
	for (int i = 0; i < net->nlosses; i++)
		if (net->losses[i].weight)
			return 0;
	return net->max_batch >= 2 * CHUNK_ROWS &&
	       qt_net_count_params(net, NULL) <= MAX_PARAMS;
}

int qt_chunks_new(qt_net *net, const qt_model *m, const qt_net_cfg *cfg)
{
	qt_net_cfg rc_cfg = *cfg;
	qt_chunks *c;
	int rc;

	if (!chunkable(net))
		return 0;
	if (!(c = calloc(1, sizeof *c)))
		return qt_error(QT_ENOMEM, "out of memory");
	net->chunks = c;
	rc_cfg.max_batch = CHUNK_ROWS;
	rc_cfg.chunked = 0;
	rc_cfg.ctx.pool = NULL; /* a replica runs on one thread */
	for (int r = 0; r < NREP; r++)
		if ((rc = qt_net_build(&c->rep[r].net, m, &rc_cfg)) < 0)
			return rc;
	return 0;
}

int qt_chunks_bind(qt_net *net, const qt_header *h)
{
	int rc;
	for (int r = 0; net->chunks && r < NREP; r++)
		if ((rc = qt_net_bind(net->chunks->rep[r].net, h)) < 0)
			return rc;
	return 0;
}

void qt_chunks_free(qt_net *net)
{
	if (!net->chunks)
		return;
	for (int r = 0; r < NREP; r++)
		qt_net_free(net->chunks->rep[r].net);
	free(net->chunks);
	net->chunks = NULL;
}

int qt_net_chunk_rows(const qt_net *net)
{
	return net->chunks ? CHUNK_ROWS : 0;
}

/* Rows [at, at + n) of src into the leading rows of dst (same layout). */
static void copy_rows(qt_tensor *dst, int64_t dst_at, const qt_tensor *src,
		      int64_t src_at, int64_t n)
{
	size_t row = qt_tensor_nbytes(src) / (size_t)src->shape[0];
	memcpy((char *)dst->data + (size_t)dst_at * row,
	       (const char *)src->data + (size_t)src_at * row, (size_t)n * row);
}

static void sync_weights(qt_net *rep, const qt_net *net)
{
	for (int i = 0; i < net->nnodes; i++)
		for (int k = 0; k < net->nodes[i].nparams; k++) {
			const qt_param *from = &net->nodes[i].params[k];
			qt_param *to = &rep->nodes[i].params[k];
			memcpy(to->value->data, from->value->data,
			       qt_tensor_nbytes(from->value));
		}
}

/* The values the caller may read after the step: targets, losses'
 * predictions and outputs, rows [at, at + n). */
static void copy_results_back(qt_net *net, const qt_net *rep, int64_t at,
			      int64_t n)
{
	for (int t = 0; t < net->ntargets; t++)
		if (net->targets[t].value)
			copy_rows(net->targets[t].value, at, rep->targets[t].value,
				  0, n);
	for (int i = 0; i < net->nlosses; i++) {
		int p = net->losses[i].pred;
		copy_rows(net->nodes[p].out, at, rep->nodes[p].out, 0, n);
	}
	for (int i = 0; i < net->noutputs; i++) {
		int p = net->outputs[i];
		copy_rows(net->nodes[p].out, at, rep->nodes[p].out, 0, n);
	}
}

static int run_chunk(qt_net *net, struct replica *r, int64_t at, int64_t n)
{
	const qt_chunks *c = net->chunks;
	qt_net *rep = r->net;
	int rc;

	for (int64_t i = 0; i < n; i++)
		r->rows[i] = c->idx ? c->idx[at + i] : at + i;
	if ((rc = qt_net_load(rep, c->b, r->rows, n)) < 0)
		return rc;
	/* Each chunk's losses are means over its rows: weighted by its
	 * share of the batch they add up to the batch's means. */
	rep->loss_scale = (double)n / (double)net->n;
	if ((rc = qt_net_forward(rep, 1, NULL)) < 0 ||
	    (rc = qt_net_backward(rep)) < 0)
		return rc;
	for (int i = 0; i < net->nlosses; i++)
		r->loss[i] += rep->losses[i].value * rep->loss_scale;
	copy_results_back(net, rep, at, n);
	return 0;
}

static void replica_task(void *arg, int64_t begin, int64_t end, int chunk)
{
	qt_net *net = arg;
	int64_t nchunks = (net->n + CHUNK_ROWS - 1) / CHUNK_ROWS;
	(void)chunk;
	for (int64_t k = begin; k < end; k++) {
		struct replica *r = &net->chunks->rep[k];
		sync_weights(r->net, net);
		qt_net_zero_grad(r->net);
		memset(r->loss, 0, sizeof r->loss);
		r->rc = 0;
		for (int64_t j = k; j < nchunks && !r->rc; j += NREP) {
			int64_t at = j * CHUNK_ROWS;
			int64_t n = net->n - at < CHUNK_ROWS ? net->n - at
							     : CHUNK_ROWS;
			if ((r->rc = run_chunk(net, r, at, n)) < 0) {
				r->bad = j;
				snprintf(r->msg, sizeof r->msg, "%s",
					 qt_error_message(r->rc));
			}
		}
	}
}

/* The network's gradients: the replicas' sum, in replica order. */
static void sum_gradients(qt_net *net)
{
	for (int i = 0; i < net->nnodes; i++)
		for (int k = 0; k < net->nodes[i].nparams; k++) {
			qt_tensor *g = net->nodes[i].params[k].grad;
			int64_t len = g ? qt_tensor_numel(g) : 0;
			for (int r = 0; r < NREP && g; r++) {
				const qt_tensor *s =
					net->chunks->rep[r].net->nodes[i].params[k].grad;
				if (net->dtype == QT_F32) {
					float *d = g->data;
					const float *v = s->data;
					for (int64_t e = 0; e < len; e++)
						d[e] = r ? d[e] + v[e] : v[e];
				} else {
					double *d = g->data;
					const double *v = s->data;
					for (int64_t e = 0; e < len; e++)
						d[e] = r ? d[e] + v[e] : v[e];
				}
			}
		}
}

static int chunked_step(qt_net *net, const qt_batch *b, const int64_t *idx,
			int64_t n, double *loss)
{
	qt_chunks *c = net->chunks;
	double total = 0;

	net->n = n;
	c->b = b;
	c->idx = idx;
	net->training = 1;
	qt_pool_for(net->ctx.pool, NREP, replica_task, net);
	/* The error of the first bad chunk, as a whole batch would say. */
	const struct replica *first = NULL;
	for (int r = 0; r < NREP; r++)
		if (c->rep[r].rc < 0 && (!first || c->rep[r].bad < first->bad))
			first = &c->rep[r];
	if (first)
		return qt_error(first->rc, "%s", first->msg);
	sum_gradients(net);
	for (int i = 0; i < net->nlosses; i++) {
		net->losses[i].value = 0;
		for (int r = 0; r < NREP; r++)
			net->losses[i].value += c->rep[r].loss[i];
		if (net->targets[net->losses[i].target].value)
			total += net->losses[i].value;
	}
	if (loss)
		*loss = total;
	return 0;
}

int qt_net_train_step(qt_net *net, const qt_batch *b, const int64_t *idx,
		      int64_t n, double *loss)
{
	int rc;
	if (n > net->max_batch || n < 0)
		return qt_error(QT_EINTERNAL, "batch of %lld rows exceeds %lld",
				(long long)n, (long long)net->max_batch);
	if (net->chunks && n > CHUNK_ROWS)
		return chunked_step(net, b, idx, n, loss);
	if ((rc = qt_net_load(net, b, idx, n)) < 0)
		return rc;
	qt_net_zero_grad(net);
	if ((rc = qt_net_forward(net, 1, loss)) < 0)
		return rc;
	return qt_net_backward(net);
}
