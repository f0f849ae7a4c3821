/* plan.c: where a network's activations, gradients and saved buffers
 * live: one arena, laid out at build time from when each buffer is
 * live, so that buffers whose lives do not overlap share memory.
 *
 * A training step is a timeline.  Node i runs forward at time FWD(i);
 * the losses at LOSS_F and LOSS_B; going back, node j first recomputes
 * (RS(j), below) and then runs backward (BS(j)).  Each buffer is a
 * value live from the first time it is written to the last time it is
 * read:
 *
 *   output of i   from FWD(i) to the last forward read by a consumer,
 *                 and on to the last backward read when a backward needs
 *                 it (conv, dense and batchnorm read their input x;
 *                 activations read their own output y); network outputs,
 *                 loss predictions and inputs live for ever (predict,
 *                 the accuracy count and repeated forward passes over
 *                 one loaded batch read them afterwards)
 *   gradient of i from the first backward that writes it (its last
 *                 consumer's, or the loss's) to its own backward
 *   saved per-sample buffers (max pooling's argmax, dropout's mask)
 *                 from FWD(i) to BS(i)
 *   scratch       for a gradient that several consumers add up
 *   workspace     of a layer's kernels (convolution), while it runs
 *
 * Values may share one buffer outright:
 *   - flatten is a view: its output is its input's buffer, and so is
 *     its gradient when the input has no other consumer;
 *   - an activation runs in place (y over x) when x is read by nobody
 *     after it, and its backward writes dx over dy when it is the first
 *     to write dx (kernels.h allows both).
 *
 * Recomputation.  The outputs that cross from forward to backward are
 * what a training step holds at its peak.  Some are cheap to make again
 * from values that are kept anyway: batch normalisation, activations and
 * pooling after a convolution whose output batch normalisation keeps for
 * its own backward, or a convolution with a tiny fan-in (a first 3x3
 * layer on one channel: 9 multiply-adds per output).  Those are not
 * kept: the first backward step that needs one runs the forward of its
 * chain again, just before, into buffers of the backward phase that live
 * until their last backward read (Chen et al. 2016, "Training deep nets
 * with sublinear memory cost").  Each is recomputed once per step:
 * making one again for every backward that reads it would save a little
 * more memory (20 MB of the eor regressor's 290) for a second pass of
 * batch normalisation over the largest maps.  A recomputed layer's
 * per-sample saved buffer (max pooling's argmax) is written again by the
 * recomputation, into a buffer of the backward phase too.  The layers
 * are deterministic, so the recomputed values are the same bits; batch
 * normalisation runs without updating its running statistics and writes
 * the same saved mean and 1/std again.
 *
 * Placement: first fit, as in TensorFlow's and MXNet's planners: in
 * some order (largest first, longest-lived first, ...), each value at
 * the lowest offset that overlaps no placed value with an overlapping
 * life; several orders are tried and the smallest arena kept.
 *
 * QT_PLAN_DEBUG=1 in the environment prints the plan to stderr. */
#include "nn/layer.h"
#include "common/error.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ALIGN 64
#define ORDERS_UP_TO 2000
#define MAXAUX QT_NODE_MAX_AUX

struct pval {
	int64_t bytes;
	int def, last;  /* live over [def, last] */
	int parent;     /* union-find: values sharing one buffer */
	int64_t offset;
};

/* Before node j's backward, node `node` runs forward again into `val`
 * (or, for a view, shows it). */
struct entry {
	int node, val, in0; /* in0: the recomputed value of input 0, or -1 */
	int wval;           /* its workspace, or -1 */
	char *ptr, *wptr;
};

struct qt_plan {
	int n;
	struct pval *v;
	int nv, vcap;
	struct entry *e;
	int ne, ecap;
	int *first, *count; /* node j's entries: e[first[j] .. + count[j]) */
	int *root;      /* node -> node whose output buffer it views */
	int *groot;     /* node -> node whose gradient buffer it shares */
	int *fv, *gv;   /* node -> forward output, gradient value (-1: none) */
	int *av, *bav;  /* node * MAXAUX + k -> per-sample aux value written
			   in forward, and by recomputations (-1: none) */
	int sv;         /* scratch value */
	char *remat;    /* node is recomputed in backward */
	char **fptr;    /* node -> forward output buffer */
	char **aptr, **baptr; /* node * MAXAUX + k -> aux buffers */
	int *wf, *wb;   /* node -> workspace value in forward, backward */
	char **wfptr, **wbptr;
	int switched;   /* some buffers point at recomputed ones */
};

/* ---- the timeline ---- */

static int t_fwd(const struct qt_plan *p, int i) { return 1 + i; }
static int t_loss_b(const struct qt_plan *p) { return p->n + 2; }
static int t_rs(const struct qt_plan *p, int j)
{
	return p->n + 3 + 2 * (p->n - 1 - j);
}
static int t_bs(const struct qt_plan *p, int j) { return t_rs(p, j) + 1; }
static int t_end(const struct qt_plan *p) { return 3 * p->n + 3; }

static int newval(struct qt_plan *p, int64_t bytes)
{
	if (p->nv == p->vcap) {
		int cap = p->vcap ? 2 * p->vcap : 64;
		struct pval *v = realloc(p->v, (size_t)cap * sizeof *v);
		if (!v)
			return -1;
		p->v = v;
		p->vcap = cap;
	}
	p->v[p->nv] = (struct pval){bytes, INT_MAX, INT_MIN, p->nv, 0};
	return p->nv++;
}

static void use(struct qt_plan *p, int v, int t)
{
	if (v < 0)
		return;
	if (t < p->v[v].def)
		p->v[v].def = t;
	if (t > p->v[v].last)
		p->v[v].last = t;
}

static int find(struct qt_plan *p, int v)
{
	while (p->v[v].parent != v) {
		p->v[v].parent = p->v[p->v[v].parent].parent;
		v = p->v[v].parent;
	}
	return v;
}

/* Values a (read last at t) and b (first written at t) become one
 * buffer, for an op that allows it (checked by the caller). */
static void share_at(struct qt_plan *p, int a, int b, int t)
{
	int ga, gb;
	if (a < 0 || b < 0)
		return;
	ga = find(p, a);
	gb = find(p, b);
	if (ga == gb || p->v[ga].last > t || p->v[gb].def < t ||
	    p->v[ga].bytes != p->v[gb].bytes)
		return;
	p->v[gb].parent = ga;
	if (p->v[gb].def < p->v[ga].def)
		p->v[ga].def = p->v[gb].def;
	if (p->v[gb].last > p->v[ga].last)
		p->v[ga].last = p->v[gb].last;
}

static int add_entry(struct qt_plan *p, int j, int node, int val, int in0)
{
	if (p->ne == p->ecap) {
		int cap = p->ecap ? 2 * p->ecap : 64;
		struct entry *e = realloc(p->e, (size_t)cap * sizeof *e);
		if (!e)
			return -1;
		p->e = e;
		p->ecap = cap;
	}
	p->e[p->ne++] = (struct entry){node, val, in0, -1, NULL, NULL};
	p->count[j]++;
	return 0;
}

/* ---- which outputs are recomputed ---- */

struct ctx {
	qt_net *net;
	struct qt_plan *p;
	char *pinned, *bneed, *memo, *isview;
	int *step, *inst; /* recomputed in backward step step[r] as inst[r] */
};

static int64_t node_bytes(const qt_net *net, const qt_node *n)
{
	return net->max_batch * qt_shape_numel(n->ndim, n->shape) *
	       (int64_t)qt_dtype_size(net->dtype);
}

/* Cheap and deterministic given its inputs and parameters. */
static int recomputable(const struct ctx *c, int i)
{
	const qt_node *n = &c->net->nodes[i];
	unsigned f = n->layer ? n->layer->flags : 0;
	if (!n->layer || c->pinned[i] || c->isview[i])
		return 0;
	if (f & QT_LF_CHEAP)
		return 1;
	if ((f & QT_LF_PURE) && n->nparams > 0) {
		const qt_tensor *w = n->params[0].value;
		return w->ndim >= 2 && qt_tensor_numel(w) / w->shape[0] <= 16;
	}
	return 0;
}

/* Can node u's output be had in backward: kept (some backward reads it
 * anyway, or it lives for ever) or recomputed from such values? */
static int available(struct ctx *c, int u)
{
	const qt_node *n = &c->net->nodes[u];
	int ok;
	if (c->pinned[u] || c->bneed[u])
		return 1;
	if (c->memo[u])
		return c->memo[u] == 1;
	ok = recomputable(c, u);
	for (int k = 0; ok && k < n->nin; k++)
		ok = available(c, c->p->root[n->in[k]]);
	c->memo[u] = ok ? 1 : 2;
	return ok;
}

static void commit(struct ctx *c, int i)
{
	const qt_node *n = &c->net->nodes[i];
	c->p->remat[i] = 1;
	for (int k = 0; k < n->nin; k++) {
		int u = c->p->root[n->in[k]];
		if (!c->pinned[u] && !c->bneed[u] && !c->p->remat[u])
			commit(c, u);
	}
}

/* The value root r has in backward step j: kept, recomputed by an
 * earlier step, or recomputed now at RS(j) (inputs first).  -2 when out
 * of memory. */
static int value_in_step(struct ctx *c, int r, int j)
{
	struct qt_plan *p = c->p;
	const qt_node *n = &c->net->nodes[r];
	int in[QT_NODE_MAX_IN], val, rs = t_rs(p, j);
	if (!p->remat[r])
		return p->fv[r];
	if (c->step[r] >= 0)
		return c->inst[r];
	for (int k = 0; k < n->nin; k++)
		if ((in[k] = value_in_step(c, p->root[n->in[k]], j)) == -2)
			return -2;
	for (int k = 0; k < n->nin; k++)
		use(p, in[k], rs);
	if ((val = newval(p, node_bytes(c->net, n))) < 0)
		return -2;
	use(p, val, rs);
	for (int k = 0; k < MAXAUX; k++) {
		int *b = &p->bav[r * MAXAUX + k];
		if (p->av[r * MAXAUX + k] < 0)
			continue;
		if (*b < 0 && (*b = newval(p, p->v[p->av[r * MAXAUX + k]].bytes)) < 0)
			return -2;
		use(p, *b, rs);
	}
	c->step[r] = j;
	c->inst[r] = val;
	if (add_entry(p, j, r, val, p->remat[p->root[n->in[0]]] ? in[0] : -1))
		return -2;
	if (n->work) {
		int w = p->e[p->ne - 1].wval = newval(p, (int64_t)n->work);
		if (w < 0)
			return -2;
		use(p, w, rs);
	}
	for (int f = r + 1; f < p->n; f++)
		if (c->isview[f] && p->root[f] == r && add_entry(p, j, f, val, -1))
			return -2;
	return val;
}

/* ---- placement ---- */

struct span {
	int64_t lo, hi;
};

static int cmp_span(const void *a, const void *b)
{
	const struct span *x = a, *y = b;
	return (x->lo > y->lo) - (x->lo < y->lo);
}

struct order {
	int64_t key1, key2;
	int id;
};

static int cmp_order(const void *a, const void *b)
{
	const struct order *x = a, *y = b;
	if (x->key1 != y->key1)
		return x->key1 < y->key1 ? -1 : 1;
	if (x->key2 != y->key2)
		return x->key2 < y->key2 ? -1 : 1;
	return (x->id > y->id) - (x->id < y->id);
}

/* First fit of the groups in order g[0..ng): offsets into off[] (by
 * value id); returns the arena's size. */
static int64_t first_fit(struct qt_plan *p, const struct order *g, int ng,
			 int64_t *off, struct span *s)
{
	int64_t end = 0;
	for (int a = 0; a < ng; a++) {
		const struct pval *x = &p->v[g[a].id];
		int ns = 0;
		int64_t o = 0;
		for (int b = 0; b < a; b++) {
			const struct pval *y = &p->v[g[b].id];
			if (y->def <= x->last && x->def <= y->last)
				s[ns++] = (struct span){off[g[b].id],
							off[g[b].id] + y->bytes};
		}
		qsort(s, (size_t)ns, sizeof *s, cmp_span);
		for (int b = 0; b < ns && s[b].lo < o + x->bytes; b++)
			if (s[b].hi > o)
				o = (s[b].hi + ALIGN - 1) / ALIGN * ALIGN;
		off[g[a].id] = o;
		if (o + x->bytes > end)
			end = o + x->bytes;
	}
	return end;
}

/* Several orders, the smallest arena (first fit is not optimal, and
 * which order wins depends on the graph): largest first, longest-lived
 * first, largest area (bytes x life) first, earliest first, and ties
 * broken other ways.  Big graphs (over ORDERS_UP_TO values) try the
 * first only: each try costs time quadratic in the values. */
static int place(struct qt_plan *p, size_t *total)
{
	struct order *g = malloc((size_t)p->nv * sizeof *g + 1);
	struct span *s = malloc((size_t)p->nv * sizeof *s + 1);
	int64_t *off = malloc((size_t)p->nv * sizeof *off + 1);
	int64_t *best = malloc((size_t)p->nv * sizeof *best + 1);
	int64_t best_end = -1;
	int ng = 0;
	if (!g || !s || !off || !best) {
		free(g);
		free(s);
		free(off);
		free(best);
		return qt_error(QT_ENOMEM, "out of memory");
	}
	for (int k = 0; k < (p->nv <= ORDERS_UP_TO ? 8 : 1); k++) {
		int64_t end;
		ng = 0;
		for (int v = 0; v < p->nv; v++) {
			const struct pval *x = &p->v[v];
			int64_t life = (int64_t)x->last - x->def + 1;
			if (find(p, v) != v || x->bytes <= 0)
				continue;
			g[ng++] = k == 0 ? (struct order){-x->bytes, x->def, v}
				: k == 1 ? (struct order){-life, -x->bytes, v}
				: k == 2 ? (struct order){-x->bytes * life, x->def, v}
				: k == 3 ? (struct order){x->def, -x->bytes, v}
				: k == 4 ? (struct order){-x->bytes, -x->last, v}
				: k == 5 ? (struct order){-x->bytes, -life, v}
				: k == 6 ? (struct order){-x->last, -x->bytes, v}
					 : (struct order){-x->bytes, life, v};
		}
		qsort(g, (size_t)ng, sizeof *g, cmp_order);
		end = first_fit(p, g, ng, off, s);
		if (best_end < 0 || end < best_end) {
			best_end = end;
			for (int a = 0; a < ng; a++)
				best[g[a].id] = off[g[a].id];
		}
	}
	for (int a = 0; a < ng; a++)
		p->v[g[a].id].offset = best[g[a].id];
	free(g);
	free(s);
	free(off);
	free(best);
	*total = (size_t)(best_end > 0 ? best_end : 0);
	return 0;
}

/* ---- building the plan ---- */

static qt_tensor *header(qt_dtype dt, int ndim, const int64_t *shape,
			 void *data)
{
	qt_tensor *t = malloc(sizeof *t);
	if (t)
		*t = qt_tensor_wrap(dt, ndim, shape, data);
	return t;
}

static int alloc_plan(struct qt_plan *p, int n)
{
	size_t z = (size_t)n + 1;
	p->n = n;
	p->sv = -1;
	p->first = calloc(z, sizeof *p->first);
	p->count = calloc(z, sizeof *p->count);
	p->root = malloc(z * sizeof *p->root);
	p->groot = malloc(z * sizeof *p->groot);
	p->fv = malloc(z * sizeof *p->fv);
	p->gv = malloc(z * sizeof *p->gv);
	p->av = malloc(z * MAXAUX * sizeof *p->av);
	p->bav = malloc(z * MAXAUX * sizeof *p->bav);
	p->remat = calloc(z, 1);
	p->fptr = calloc(z, sizeof *p->fptr);
	p->aptr = calloc(z * MAXAUX, sizeof *p->aptr);
	p->baptr = calloc(z * MAXAUX, sizeof *p->baptr);
	p->wf = malloc(z * sizeof *p->wf);
	p->wb = malloc(z * sizeof *p->wb);
	p->wfptr = calloc(z, sizeof *p->wfptr);
	p->wbptr = calloc(z, sizeof *p->wbptr);
	if (!p->first || !p->count || !p->root || !p->groot || !p->fv ||
	    !p->gv || !p->av || !p->bav || !p->remat || !p->fptr ||
	    !p->aptr || !p->baptr || !p->wf || !p->wb || !p->wfptr ||
	    !p->wbptr)
		return qt_error(QT_ENOMEM, "out of memory");
	for (int i = 0; i < n; i++) {
		p->fv[i] = p->gv[i] = p->wf[i] = p->wb[i] = -1;
		for (int k = 0; k < MAXAUX; k++)
			p->av[i * MAXAUX + k] = p->bav[i * MAXAUX + k] = -1;
	}
	return 0;
}

void qt_plan_free(qt_net *net)
{
	struct qt_plan *p = net->plan;
	if (p) {
		free(p->v);
		free(p->e);
		free(p->first);
		free(p->count);
		free(p->root);
		free(p->groot);
		free(p->fv);
		free(p->gv);
		free(p->av);
		free(p->bav);
		free(p->remat);
		free(p->fptr);
		free(p->aptr);
		free(p->baptr);
		free(p->wf);
		free(p->wb);
		free(p->wfptr);
		free(p->wbptr);
		free(p);
	}
	net->plan = NULL;
	qt_free(net->arena);
	net->arena = NULL;
}

static void debug_print(qt_net *net, struct qt_plan *p)
{
	FILE *f = stderr;
	int64_t peak = 0;
	int at = 0;
	for (int t = 0; t <= t_end(p); t++) {
		int64_t live = 0;
		for (int v = 0; v < p->nv; v++)
			if (find(p, v) == v && p->v[v].def <= t &&
			    t <= p->v[v].last)
				live += p->v[v].bytes;
		if (live > peak)
			peak = live, at = t;
	}
	fprintf(f, "plan: %d nodes, %d values, arena %.1f MB, most live "
		"%.1f MB at time %d\n", p->n, p->nv,
		(double)net->arena_bytes / 1e6, (double)peak / 1e6, at);
	for (int i = 0; i < p->n; i++) {
		const qt_node *n = &net->nodes[i];
		int fv = p->fv[p->root[i]], gv = p->gv[i];
		fprintf(f, "  %-18s %8.2f MB  %s out [%d, %d] at %lld",
			n->name, (double)node_bytes(net, n) / 1e6,
			p->remat[p->root[i]] ? "recomputed" : "kept      ",
			p->v[fv].def, p->v[fv].last,
			(long long)p->v[find(p, fv)].offset);
		if (gv >= 0)
			fprintf(f, "  grad [%d, %d] at %lld", p->v[gv].def,
				p->v[gv].last, (long long)p->v[find(p, gv)].offset);
		fprintf(f, "\n");
		for (int e = p->first[i]; e < p->first[i] + p->count[i]; e++)
			fprintf(f, "    recompute %s [%d, %d] at %lld\n",
				net->nodes[p->e[e].node].name,
				p->v[p->e[e].val].def, p->v[p->e[e].val].last,
				(long long)p->v[find(p, p->e[e].val)].offset);
	}
}

int qt_plan_build(qt_net *net)
{
	int N = net->nnodes, rc;
	struct qt_plan *p = calloc(1, sizeof *p);
	struct ctx c = {.net = net, .p = p};
	int *uses = NULL, *contrib = NULL, *gview = NULL;
	char *ispred = NULL;
	int64_t scratch_bytes = 0;
	size_t total = 0;

	if (!(net->plan = p))
		return qt_error(QT_ENOMEM, "out of memory");
	if ((rc = alloc_plan(p, N)) < 0)
		return rc;
	c.pinned = calloc((size_t)N + 1, 1);
	c.bneed = calloc((size_t)N + 1, 1);
	c.memo = calloc((size_t)N + 1, 1);
	c.isview = calloc((size_t)N + 1, 1);
	ispred = calloc((size_t)N + 1, 1);
	c.step = malloc(((size_t)N + 1) * sizeof *c.step);
	c.inst = malloc(((size_t)N + 1) * sizeof *c.inst);
	uses = calloc((size_t)N + 1, sizeof *uses);
	contrib = calloc((size_t)N + 1, sizeof *contrib);
	gview = calloc((size_t)N + 1, sizeof *gview);
	if (!c.pinned || !c.bneed || !c.memo || !c.isview || !ispred ||
	    !c.step || !c.inst || !uses || !contrib || !gview)
		goto nomem;
	for (int i = 0; i < N; i++)
		c.step[i] = -1;

	/* The graph: consumers, views, what must live for ever. */
	for (int i = 0; i < N; i++) {
		const qt_node *n = &net->nodes[i];
		for (int k = 0; k < n->nin; k++)
			uses[n->in[k]]++;
		if (!n->layer)
			c.pinned[i] = 1;
	}
	for (int i = 0; i < net->nlosses; i++)
		ispred[net->losses[i].pred] = c.pinned[net->losses[i].pred] = 1;
	for (int i = 0; i < net->noutputs; i++)
		c.pinned[net->outputs[i]] = 1;
	for (int i = 0; i < N; i++) {
		const qt_node *n = &net->nodes[i];
		int x = n->nin ? n->in[0] : -1;
		c.isview[i] = n->layer && (n->layer->flags & QT_LF_VIEW) &&
			      n->nin == 1;
		p->root[i] = c.isview[i] ? p->root[x] : i;
		gview[i] = c.isview[i] && n->needs_grad && uses[x] == 1 &&
			   !ispred[x];
		p->groot[i] = gview[i] ? p->groot[x] : i;
	}
	for (int i = 0; i < N; i++)
		if (c.pinned[i])
			c.pinned[p->root[i]] = 1;

	/* Outputs some backward reads; which of them to recompute. */
	for (int j = 0; j < N; j++) {
		const qt_node *n = &net->nodes[j];
		if (!n->layer || !n->needs_grad)
			continue;
		if (n->layer->flags & QT_LF_BWD_X)
			for (int k = 0; k < n->nin; k++)
				c.bneed[p->root[n->in[k]]] = 1;
		if (n->layer->flags & QT_LF_BWD_Y)
			c.bneed[p->root[j]] = 1;
	}
	for (int i = 0; i < N; i++) {
		const qt_node *n = &net->nodes[i];
		int ok = c.bneed[i] && p->root[i] == i && recomputable(&c, i);
		for (int k = 0; ok && k < n->nin; k++)
			ok = available(&c, p->root[n->in[k]]);
		if (ok)
			commit(&c, i);
	}

	/* Forward: outputs (views show their root's), per-sample saved
	 * buffers, the reads of each layer. */
	for (int i = 0; i < N; i++) {
		qt_node *n = &net->nodes[i];
		if (p->root[i] == i) {
			if ((p->fv[i] = newval(p, node_bytes(net, n))) < 0)
				goto nomem;
			use(p, p->fv[i], n->layer ? t_fwd(p, i) : 0);
			if (c.pinned[i])
				use(p, p->fv[i], t_end(p));
		}
		for (int k = 0; k < MAXAUX; k++) {
			int *v = &p->av[i * MAXAUX + k];
			if (!n->aux[k] || n->aux[k]->data)
				continue;
			if ((*v = newval(p, (int64_t)qt_tensor_nbytes(n->aux[k]))) < 0)
				goto nomem;
			use(p, *v, t_fwd(p, i));
		}
		if (!n->layer || c.isview[i])
			continue;
		for (int k = 0; k < n->nin; k++)
			use(p, p->fv[p->root[n->in[k]]], t_fwd(p, i));
		if (n->work) {
			if ((p->wf[i] = newval(p, (int64_t)n->work)) < 0)
				goto nomem;
			use(p, p->wf[i], t_fwd(p, i));
			if (n->needs_grad) {
				if ((p->wb[i] = newval(p, (int64_t)n->work)) < 0)
					goto nomem;
				use(p, p->wb[i], t_bs(p, i));
			}
		}
	}

	/* Backward: recomputations, then the reads of each backward. */
	for (int j = N - 1; j >= 0; j--) {
		const qt_node *n = &net->nodes[j];
		int need[QT_NODE_MAX_IN + 1], nneed = 0, val;
		p->first[j] = p->ne;
		if (!n->layer || !n->needs_grad)
			continue;
		if (n->layer->flags & QT_LF_BWD_X)
			for (int k = 0; k < n->nin; k++)
				need[nneed++] = p->root[n->in[k]];
		if (n->layer->flags & QT_LF_BWD_Y)
			need[nneed++] = p->root[j];
		for (int k = 0; k < nneed; k++) {
			if ((val = value_in_step(&c, need[k], j)) == -2)
				goto nomem;
			use(p, val, t_bs(p, j));
		}
		for (int k = 0; k < MAXAUX; k++) {
			int a = j * MAXAUX + k;
			if (p->av[a] < 0)
				continue;
			/* A recomputed layer's saved buffer comes from a
			 * recomputation: an earlier one, or one now. */
			if (p->remat[j] && p->bav[a] < 0 &&
			    value_in_step(&c, j, j) == -2)
				goto nomem;
			use(p, p->remat[j] ? p->bav[a] : p->av[a], t_bs(p, j));
		}
	}

	/* Gradients. */
	for (int i = 0; i < N; i++) {
		qt_node *n = &net->nodes[i];
		if (!n->needs_grad)
			continue;
		if (p->groot[i] != i)
			p->gv[i] = p->gv[p->groot[i]];
		else if ((p->gv[i] = newval(p, node_bytes(net, n))) < 0)
			goto nomem;
	}
	for (int i = 0; i < net->nlosses; i++) {
		int pr = net->losses[i].pred;
		if (net->nodes[pr].needs_grad) {
			use(p, p->gv[pr], t_loss_b(p));
			contrib[p->groot[pr]]++;
		}
	}
	for (int j = 0; j < N; j++) {
		const qt_node *n = &net->nodes[j];
		if (!n->layer || !n->needs_grad)
			continue;
		use(p, p->gv[j], t_bs(p, j));
		for (int k = 0; k < n->nin; k++) {
			int m = n->in[k];
			if (!net->nodes[m].needs_grad)
				continue;
			use(p, p->gv[m], t_bs(p, j));
			if (!gview[j])
				contrib[p->groot[m]]++;
		}
	}
	for (int i = 0; i < N; i++)
		if (contrib[i] > 1 && node_bytes(net, &net->nodes[i]) > scratch_bytes)
			scratch_bytes = node_bytes(net, &net->nodes[i]);
	if (scratch_bytes) {
		if ((p->sv = newval(p, scratch_bytes)) < 0)
			goto nomem;
		use(p, p->sv, t_loss_b(p));
		use(p, p->sv, t_bs(p, 0));
	}

	/* Activations in place: forward, recomputed, backward. */
	for (int j = 0; j < N; j++) {
		const qt_node *n = &net->nodes[j];
		if (n->layer && (n->layer->flags & QT_LF_INPLACE) &&
		    n->nin == 1 && !c.isview[j])
			share_at(p, p->fv[p->root[n->in[0]]], p->fv[j],
				 t_fwd(p, j));
	}
	for (int j = N - 1; j >= 0; j--)
		for (int e = p->first[j]; e < p->first[j] + p->count[j]; e++) {
			const qt_node *n = &net->nodes[p->e[e].node];
			if (!c.isview[p->e[e].node] &&
			    (n->layer->flags & QT_LF_INPLACE) && n->nin == 1)
				share_at(p, p->e[e].in0, p->e[e].val, t_rs(p, j));
		}
	for (int j = N - 1; j >= 0; j--) {
		const qt_node *n = &net->nodes[j];
		if (n->layer && (n->layer->flags & QT_LF_INPLACE) &&
		    n->needs_grad && n->nin == 1 && !c.isview[j] &&
		    net->nodes[n->in[0]].needs_grad)
			share_at(p, p->gv[j], p->gv[n->in[0]], t_bs(p, j));
	}

	if ((rc = place(p, &total)) < 0)
		goto out;
	net->arena_bytes = total;
	if (total && !(net->arena = qt_alloc(total))) {
		rc = qt_error(QT_ENOMEM, "out of memory for %zu bytes of "
			      "activations", total);
		goto out;
	}
#define PTR(x) ((x) >= 0 ? (char *)net->arena + p->v[find(p, (x))].offset \
		      : NULL)
	for (int e = 0; e < p->ne; e++) {
		p->e[e].ptr = PTR(p->e[e].val);
		p->e[e].wptr = PTR(p->e[e].wval);
	}
	for (int i = 0; i < N; i++) {
		qt_node *n = &net->nodes[i];
		int64_t shape[QT_MAX_DIMS] = {net->max_batch};
		memcpy(shape + 1, n->shape, (size_t)n->ndim * sizeof *shape);
		p->fptr[i] = PTR(p->fv[p->root[i]]);
		p->wfptr[i] = PTR(p->wf[i]);
		p->wbptr[i] = PTR(p->wb[i]);
		if (!(n->out = header(net->dtype, n->ndim + 1, shape, p->fptr[i])) ||
		    (n->needs_grad && !(n->grad = header(net->dtype, n->ndim + 1,
							 shape, PTR(p->gv[i])))))
			goto nomem;
		for (int k = 0; k < MAXAUX; k++) {
			int a = i * MAXAUX + k;
			if (p->av[a] < 0)
				continue;
			n->aux[k]->data = p->aptr[a] = PTR(p->av[a]);
			p->baptr[a] = PTR(p->bav[a]);
		}
	}
	if (p->sv >= 0 &&
	    !(net->scratch = header(net->dtype, 1, (int64_t[]){scratch_bytes /
				    (int64_t)qt_dtype_size(net->dtype)},
				    PTR(p->sv))))
		goto nomem;
#undef PTR
	if (getenv("QT_PLAN_DEBUG"))
		debug_print(net, p);
	rc = 0;
	goto out;
nomem:
	rc = qt_error(QT_ENOMEM, "out of memory");
out:
	free(c.pinned);
	free(c.bneed);
	free(c.memo);
	free(c.isview);
	free(c.step);
	free(c.inst);
	free(ispred);
	free(uses);
	free(contrib);
	free(gview);
	return rc;
}

/* ---- at run time ---- */

void qt_plan_forward_begin(qt_net *net)
{
	struct qt_plan *p = net->plan;
	if (!p || !p->switched)
		return;
	for (int i = 0; i < p->n; i++) {
		if (!p->remat[p->root[i]])
			continue;
		net->nodes[i].out->data = p->fptr[i];
		for (int k = 0; k < MAXAUX; k++)
			if (p->aptr[i * MAXAUX + k])
				net->nodes[i].aux[k]->data = p->aptr[i * MAXAUX + k];
	}
	p->switched = 0;
}

int qt_plan_recompute(qt_net *net, int j)
{
	struct qt_plan *p = net->plan;
	if (!p)
		return 0;
	for (int e = p->first[j]; e < p->first[j] + p->count[j]; e++) {
		int r = p->e[e].node, rc;
		qt_node *n = &net->nodes[r];
		n->out->data = p->e[e].ptr;
		p->switched = 1;
		if (n->layer->flags & QT_LF_VIEW)
			continue;
		for (int k = 0; k < MAXAUX; k++)
			if (p->baptr[r * MAXAUX + k])
				n->aux[k]->data = p->baptr[r * MAXAUX + k];
		net->work = p->e[e].wptr;
		net->work_bytes = n->work;
		net->recompute = 1;
		rc = n->layer->forward(net, n);
		net->recompute = 0;
		if (rc < 0)
			return qt_error_prefix(rc, "%s (recomputed): ", n->name);
	}
	return 0;
}

void qt_plan_work(qt_net *net, int i, int backward)
{
	struct qt_plan *p = net->plan;
	net->work = !p ? NULL : backward ? p->wbptr[i] : p->wfptr[i];
	net->work_bytes = net->work ? net->nodes[i].work : 0;
}
