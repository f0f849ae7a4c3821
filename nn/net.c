/* net.c: building a network from a model's syntax tree, binding it to a
 * stream, and running forward and backward passes (see net.h).
 *
 * Nodes are created in the order the model file defines them, which is a
 * topological order: forward runs them first to last, backward last to
 * first.  A value used by several layers receives the sum of their
 * gradients: the first writes its gradient buffer, the others add. */
#include "nn/layer.h"
#include "common/error.h"
#include "common/threadpool.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- small helpers ---- */

qt_tensor qt_rows(const qt_tensor *t, int64_t n)
{
	qt_tensor v = *t;
	v.owns = 0;
	v.shape[0] = n;
	return v;
}

void qt_net_need_work(qt_net *net, qt_node *n, size_t bytes)
{
	if (bytes > n->work)
		n->work = bytes;
}

qt_param *qt_node_param(qt_net *net, qt_node *n, const char *name,
			int ndim, const int64_t *shape, int trainable)
{
	qt_param *p;
	if (n->nparams >= QT_NODE_MAX_PARAMS) {
		qt_error(QT_EINTERNAL, "too many parameters in %s", n->name);
		return NULL;
	}
	p = &n->params[n->nparams];
	memset(p, 0, sizeof *p);
	snprintf(p->name, sizeof p->name, "%s", name);
	p->value = qt_tensor_new(net->dtype, ndim, shape);
	if (!p->value)
		return NULL;
	if (trainable && !(p->grad = qt_tensor_new(net->dtype, ndim, shape))) {
		qt_tensor_free(p->value);
		return NULL;
	}
	n->nparams++;
	return p;
}

int qt_node_aux(qt_net *net, qt_node *n, int k, qt_dtype dt, int per_sample,
		int ndim, const int64_t *shape)
{
	int64_t full[QT_MAX_DIMS];
	int nd = ndim;
	qt_tensor_free(n->aux[k]);
	n->aux[k] = NULL;
	if (per_sample) {
		/* A header only: the memory plan gives it its data. */
		full[0] = net->max_batch;
		memcpy(full + 1, shape, (size_t)ndim * sizeof *shape);
		nd = ndim + 1;
		if (!(n->aux[k] = malloc(sizeof *n->aux[k])))
			return qt_error(QT_ENOMEM, "out of memory");
		*n->aux[k] = qt_tensor_wrap(dt, nd, full, NULL);
		return 0;
	}
	memcpy(full, shape, (size_t)ndim * sizeof *shape);
	n->aux[k] = qt_tensor_new(dt, nd, full);
	return n->aux[k] ? 0 : QT_ENOMEM;
}

static int64_t per_sample(const qt_node *n)
{
	return qt_shape_numel(n->ndim, n->shape);
}

/* ---- building ---- */

#define MAX_NODES 4096

struct sym {
	const char *name;
	int node;
};

struct builder {
	const qt_model *m;
	qt_net *net;
	struct sym *syms;
	int nsyms;
	int counts[64]; /* per layer type, for default names */
	const qt_layer *types[64];
	int ntypes;
};

static int lookup(const struct builder *bd, const char *name)
{
	for (int i = bd->nsyms - 1; i >= 0; i--)
		if (!strcmp(bd->syms[i].name, name))
			return bd->syms[i].node;
	return -1;
}

static int define(struct builder *bd, const char *name, int node)
{
	struct sym *s = realloc(bd->syms, (size_t)(bd->nsyms + 1) * sizeof *s);
	if (!s)
		return qt_error(QT_ENOMEM, "out of memory");
	bd->syms = s;
	s[bd->nsyms].name = name;
	s[bd->nsyms++].node = node;
	return 0;
}

static int find_target(const qt_net *net, const char *name)
{
	for (int i = 0; i < net->ntargets; i++)
		if (!strcmp(net->targets[i].name, name))
			return i;
	return -1;
}

static qt_node *new_node(qt_net *net, int line, int col)
{
	qt_node *n;
	if (net->nnodes >= MAX_NODES) {
		qt_error(QT_EFORMAT, "more than %d layers", MAX_NODES);
		return NULL;
	}
	n = &net->nodes[net->nnodes++];
	memset(n, 0, sizeof *n);
	n->line = line;
	n->col = col;
	n->field = -1;
	return n;
}

static int name_taken(const qt_net *net, const char *name, int except)
{
	for (int i = 0; i < net->nnodes; i++)
		if (i != except && !strcmp(net->nodes[i].name, name))
			return 1;
	return 0;
}

static int eval_expr(struct builder *bd, const qt_mexpr *e, int *out);

/* One layer: the term's value inputs (after `first`, the pipeline's
 * value, if >= 0), its options, its parameters. */
static int build_layer(struct builder *bd, const qt_mterm *t, int first,
		       int *out)
{
	qt_net *net = bd->net;
	const qt_layer *L = qt_layer_find(t->name);
	qt_build b = {.m = bd->m, .term = t, .line = t->line, .col = t->col};
	int in[QT_NODE_MAX_IN], nin = 0, rc, idx;
	const char *name;
	qt_node *n;

	if (!L) {
		if (lookup(bd, t->name) >= 0)
			return qt_model_error(bd->m, t->line, t->col, QT_EFORMAT,
					      "'%s' is a value; only the first "
					      "step of a pipeline may be a value",
					      t->name);
		return qt_model_error(bd->m, t->line, t->col, QT_EFORMAT,
				      "unknown layer or value '%s' (layers: %s)",
				      t->name, qt_layer_names());
	}
	if (t->nargs > 32)
		return qt_model_error(bd->m, t->line, t->col, QT_EFORMAT,
				      "too many arguments");
	b.pos = L->pos;
	if (first >= 0)
		in[nin++] = first;
	/* Positional arguments that are values (names or expressions). */
	for (int i = 0; i < t->nargs; i++) {
		const qt_marg *a = &t->args[i];
		int v;
		if (a->key || (a->v.kind != QT_MV_NAME && a->v.kind != QT_MV_EXPR))
			continue;
		if (a->v.kind == QT_MV_NAME) {
			v = lookup(bd, a->v.str);
			if (v < 0)
				return qt_model_error(bd->m, a->v.line, a->v.col,
						      QT_EFORMAT, "'%s' is not "
						      "a value defined above",
						      a->v.str);
		} else if ((rc = eval_expr(bd, a->v.expr, &v)) < 0) {
			return rc;
		}
		if (nin >= QT_NODE_MAX_IN)
			return qt_model_error(bd->m, a->line, a->col, QT_EFORMAT,
					      "too many inputs");
		in[nin++] = v;
		b.used[i] = 1;
	}
	if (nin < L->min_in || nin > L->max_in) {
		if (L->min_in == L->max_in)
			return qt_model_error(bd->m, t->line, t->col, QT_EFORMAT,
					      "%s takes %d input%s, got %d",
					      L->name, L->min_in,
					      L->min_in == 1 ? "" : "s", nin);
		return qt_model_error(bd->m, t->line, t->col, QT_EFORMAT,
				      "%s takes %d to %d inputs, got %d", L->name,
				      L->min_in, L->max_in, nin);
	}
	if (!(n = new_node(net, t->line, t->col)))
		return QT_EFORMAT;
	idx = (int)(n - net->nodes);
	n->layer = L;
	n->nin = nin;
	memcpy(n->in, in, (size_t)nin * sizeof *in);
	if ((rc = bopt_str(&b, "name", &name)) < 0)
		return rc;
	if (name) {
		if (strlen(name) >= sizeof n->name || !*name)
			return bopt_fail(&b, QT_EFORMAT, "bad name");
		snprintf(n->name, sizeof n->name, "%s", name);
	} else {
		int k;
		for (k = 0; k < bd->ntypes && bd->types[k] != L; k++)
			;
		if (k == bd->ntypes && bd->ntypes < 64)
			bd->types[bd->ntypes++] = L;
		int c = ++bd->counts[k < 64 ? k : 63];
		snprintf(n->name, sizeof n->name, "%s_%d", L->name, c);
	}
	if (name_taken(net, n->name, idx))
		return bopt_fail(&b, QT_EFORMAT, "the name '%s' is used twice",
				 n->name);
	if ((rc = L->build(&b, net, n)) < 0)
		return rc;
	for (int i = 0; i < t->nargs; i++)
		if (!b.used[i]) {
			const qt_marg *a = &t->args[i];
			if (a->key)
				return qt_model_error(bd->m, a->line, a->col,
						      QT_EFORMAT, "%s has no "
						      "option '%s'", L->name,
						      a->key);
			return qt_model_error(bd->m, a->line, a->col, QT_EFORMAT,
					      "%s: too many positional "
					      "arguments", L->name);
		}
	*out = idx;
	return 0;
}

static int eval_expr(struct builder *bd, const qt_mexpr *e, int *out)
{
	int cur = -1, rc;
	for (int i = 0; i < e->n; i++) {
		const qt_mterm *t = &e->terms[i];
		/* A bare first name that is a value starts the pipeline. */
		if (i == 0 && !t->is_call && lookup(bd, t->name) >= 0) {
			cur = lookup(bd, t->name);
			continue;
		}
		if ((rc = build_layer(bd, t, cur, &cur)) < 0)
			return rc;
	}
	*out = cur;
	return 0;
}

static int build_input(struct builder *bd, const qt_mstmt *s)
{
	qt_node *n;
	if (s->is_edges || (s->ndim > 0 && s->shape[0] < 0))
		return qt_model_error(bd->m, s->line, s->col, QT_EFORMAT,
				      "graph inputs (ragged fields, edges) need "
				      "the graph layers, which this version "
				      "of quanta does not have");
	if (lookup(bd, s->name) >= 0 || find_target(bd->net, s->name) >= 0)
		return qt_model_error(bd->m, s->line, s->col, QT_EFORMAT,
				      "'%s' is declared twice", s->name);
	if (strlen(s->name) >= QT_NAME_MAX)
		return qt_model_error(bd->m, s->line, s->col, QT_EFORMAT,
				      "input name too long");
	if (!(n = new_node(bd->net, s->line, s->col)))
		return QT_EFORMAT;
	snprintf(n->name, sizeof n->name, "%s", s->name);
	n->ndim = s->ndim;
	memcpy(n->shape, s->shape, sizeof n->shape);
	return define(bd, s->name, (int)(n - bd->net->nodes));
}

static int build_target(struct builder *bd, const qt_mstmt *s)
{
	qt_net *net = bd->net;
	qt_target *t;
	if (lookup(bd, s->name) >= 0 || find_target(net, s->name) >= 0)
		return qt_model_error(bd->m, s->line, s->col, QT_EFORMAT,
				      "'%s' is declared twice", s->name);
	if (net->ntargets >= QT_NET_MAX_IO || strlen(s->name) >= QT_NAME_MAX)
		return qt_model_error(bd->m, s->line, s->col, QT_EFORMAT,
				      "too many targets or name too long");
	t = &net->targets[net->ntargets++];
	snprintf(t->name, sizeof t->name, "%s", s->name);
	t->field = -1;
	t->line = s->line;
	t->col = s->col;
	return 0;
}

static int build_loss(struct builder *bd, const qt_mstmt *s)
{
	static const char *const kinds[] = {"cross_entropy", "mse", "bce", NULL};
	const qt_mterm *t = &s->expr->terms[0];
	qt_net *net = bd->net;
	qt_build b = {.m = bd->m, .term = t, .line = t->line, .col = t->col};
	qt_loss *l;
	int k, pred = -1, target = -1, rc;
	for (k = 0; kinds[k] && strcmp(kinds[k], t->name); k++)
		;
	if (!kinds[k])
		return qt_model_error(bd->m, t->line, t->col, QT_EFORMAT,
				      "unknown loss '%s' (losses: cross_entropy, "
				      "mse, bce)", t->name);
	if (net->nlosses >= QT_NET_MAX_LOSSES || t->nargs > 32)
		return qt_model_error(bd->m, t->line, t->col, QT_EFORMAT,
				      "too many losses or arguments");
	for (int i = 0; i < t->nargs; i++) {
		const qt_marg *a = &t->args[i];
		if (a->key)
			continue;
		if (a->v.kind != QT_MV_NAME)
			return qt_model_error(bd->m, a->line, a->col, QT_EFORMAT,
					      "%s takes a value and a target "
					      "by name", t->name);
		b.used[i] = 1;
		if (pred < 0) {
			pred = lookup(bd, a->v.str);
			if (pred < 0)
				return qt_model_error(bd->m, a->line, a->col,
						      QT_EFORMAT, "'%s' is not a "
						      "value defined above",
						      a->v.str);
		} else if (target < 0) {
			target = find_target(net, a->v.str);
			if (target < 0)
				return qt_model_error(bd->m, a->line, a->col,
						      QT_EFORMAT, "'%s' is not a "
						      "declared target (add "
						      "'target %s')", a->v.str,
						      a->v.str);
		} else {
			return qt_model_error(bd->m, a->line, a->col, QT_EFORMAT,
					      "%s takes two arguments", t->name);
		}
	}
	if (target < 0)
		return qt_model_error(bd->m, t->line, t->col, QT_EFORMAT,
				      "%s needs a value and a target, e.g. "
				      "%s(logits, labels)", t->name, t->name);
	l = &net->losses[net->nlosses];
	memset(l, 0, sizeof *l);
	l->kind = (qt_loss_kind)k;
	l->pred = pred;
	l->target = target;
	l->line = t->line;
	l->col = t->col;
	if (k == QT_LOSS_CE) {
		double w[4096];
		int nw;
		const qt_node *p = &net->nodes[pred];
		if ((rc = bopt_doubles(&b, "weight", w, 4096, &nw)) < 0)
			return rc;
		if (p->ndim < 1)
			return bopt_fail(&b, QT_ESHAPE, "logits must have a "
					 "class dimension");
		if (nw) {
			if (nw != p->shape[0])
				return bopt_fail(&b, QT_ESHAPE, "%d class weights "
						 "for %lld classes", nw,
						 (long long)p->shape[0]);
			l->weight = qt_tensor_new(net->dtype, 1,
						  (int64_t[]){nw});
			if (!l->weight)
				return QT_ENOMEM;
			for (int i = 0; i < nw; i++) {
				if (w[i] < 0)
					return bopt_fail(&b, QT_EFORMAT,
							 "negative class weight");
				if (net->dtype == QT_F32)
					((float *)l->weight->data)[i] = (float)w[i];
				else
					((double *)l->weight->data)[i] = w[i];
			}
		}
		int64_t shape[QT_MAX_DIMS + 1] = {net->max_batch};
		memcpy(shape + 1, p->shape, (size_t)p->ndim * sizeof *shape);
		l->prob = qt_tensor_new(net->dtype, p->ndim + 1, shape);
		if (!l->prob)
			return QT_ENOMEM;
	}
	for (int i = 0; i < t->nargs; i++)
		if (!b.used[i])
			return qt_model_error(bd->m, t->args[i].line,
					      t->args[i].col, QT_EFORMAT,
					      "%s has no option '%s'", t->name,
					      t->args[i].key);
	net->nlosses++;
	return 0;
}

static int build_optimizer(struct builder *bd, const qt_mstmt *s)
{
	static const char *const names[] = {"sgd", "adam", "adamw", "adamax",
					    NULL};
	const qt_mterm *t = &s->expr->terms[0];
	qt_build b = {.m = bd->m, .term = t, .line = t->line, .col = t->col};
	qt_optim_cfg *o = &bd->net->optim;
	int k, rc = 0;
	for (k = 0; names[k] && strcmp(names[k], t->name); k++)
		;
	if (!names[k])
		return qt_model_error(bd->m, t->line, t->col, QT_EFORMAT,
				      "unknown optimizer '%s' (sgd, adam, adamw, "
				      "adamax)", t->name);
	if (t->nargs > 32)
		return qt_model_error(bd->m, t->line, t->col, QT_EFORMAT,
				      "too many arguments");
	static const char *const pos[] = {"lr", NULL, NULL};
	b.pos = pos;
	snprintf(o->name, sizeof o->name, "%s", names[k]);
	o->line = t->line;
	o->col = t->col;
	if (k == 0 && !bopt_has(&b, "lr"))
		return bopt_fail(&b, QT_EFORMAT, "sgd needs lr=...");
	rc = bopt_double(&b, "lr", k == 3 ? 2e-3 : 1e-3, 0, 1e3, &o->lr);
	if (!rc)
		rc = bopt_double(&b, "weight_decay", k == 2 ? 1e-2 : 0, 0, 1e3,
				 &o->weight_decay);
	if (!rc && k == 0) {
		rc = bopt_double(&b, "momentum", 0, 0, 1, &o->momentum);
		if (!rc)
			rc = bopt_double(&b, "dampening", 0, 0, 1, &o->dampening);
		if (!rc)
			rc = bopt_bool(&b, "nesterov", 0, &o->nesterov);
	} else if (!rc) {
		rc = bopt_double(&b, "beta1", 0.9, 0, 0.999999, &o->beta1);
		if (!rc)
			rc = bopt_double(&b, "beta2", 0.999, 0, 0.999999999,
					 &o->beta2);
		if (!rc)
			rc = bopt_double(&b, "eps", 1e-8, 0, 1, &o->eps);
		if (!rc && k != 3)
			rc = bopt_bool(&b, "amsgrad", 0, &o->amsgrad);
	}
	if (rc < 0)
		return rc;
	for (int i = 0; i < t->nargs; i++)
		if (!b.used[i])
			return qt_model_error(bd->m, t->args[i].line,
					      t->args[i].col, QT_EFORMAT,
					      "%s has no option '%s'", t->name,
					      t->args[i].key ? t->args[i].key
							     : "(positional)");
	return 0;
}

static int build_train(struct builder *bd, const qt_mstmt *s)
{
	for (int i = 0; i < s->nargs; i++) {
		const qt_marg *a = &s->args[i];
		int *dst = !strcmp(a->key, "epochs") ? &bd->net->epochs
			 : !strcmp(a->key, "batch") ? &bd->net->batch : NULL;
		if (!dst)
			return qt_model_error(bd->m, a->line, a->col, QT_EFORMAT,
					      "unknown train setting '%s' "
					      "(epochs, batch)", a->key);
		if (a->v.kind != QT_MV_NUM || !a->v.is_int || a->v.num < 1 ||
		    a->v.num > 1e9)
			return qt_model_error(bd->m, a->v.line, a->v.col,
					      QT_EFORMAT, "%s must be a positive "
					      "integer", a->key);
		*dst = (int)a->v.num;
	}
	return 0;
}

/* Which nodes need gradients, then the memory plan (nn/plan.c: relu
 * and other activations in place, flatten as a view, buffers and
 * workspaces shared between values whose lives do not overlap, cheap
 * outputs recomputed in backward rather than kept). */
static int alloc_buffers(qt_net *net)
{
	for (int i = 0; i < net->nnodes; i++) {
		qt_node *n = &net->nodes[i];
		if (n->ndim + 1 > QT_MAX_DIMS)
			return qt_error(QT_ESHAPE, "%s: too many dimensions",
					n->name);
		/* Gradients only where some parameter lies upstream. */
		n->needs_grad = n->nparams > 0;
		for (int k = 0; k < n->nin; k++)
			n->needs_grad |= net->nodes[n->in[k]].needs_grad;
	}
	return qt_plan_build(net);
}

int qt_net_build(qt_net **netp, const qt_model *m, const qt_net_cfg *cfg)
{
	struct builder bd = {.m = m};
	qt_net *net = calloc(1, sizeof *net);
	int rc = 0, have_output = 0, last = -1;

	if (!net)
		return qt_error(QT_ENOMEM, "out of memory");
	bd.net = net;
	net->dtype = cfg->dtype;
	net->max_batch = cfg->max_batch > 0 ? cfg->max_batch : 1;
	net->ctx = cfg->ctx;
	net->loss_scale = 1.0;
	qt_rng_seed(&net->rng, cfg->seed, 0);
	net->text = strdup(m->text);
	net->path = strdup(m->path);
	net->nodes = calloc(MAX_NODES, sizeof *net->nodes);
	if (!net->text || !net->path || !net->nodes) {
		rc = qt_error(QT_ENOMEM, "out of memory");
		goto out;
	}
	for (int i = 0; i < m->n && !rc; i++) {
		const qt_mstmt *s = &m->stmts[i];
		switch (s->kind) {
		case QT_MS_INPUT:
			rc = build_input(&bd, s);
			break;
		case QT_MS_TARGET:
			rc = build_target(&bd, s);
			break;
		case QT_MS_ASSIGN:
			for (int r = 0; r < s->repeat && !rc; r++) {
				int v;
				rc = eval_expr(&bd, s->expr, &v);
				if (!rc)
					rc = define(&bd, s->name, v);
				last = v;
			}
			break;
		case QT_MS_OUTPUT:
			for (int k = 0; k < s->nnames && !rc; k++) {
				int v = lookup(&bd, s->names[k]);
				if (v < 0)
					rc = qt_model_error(m, s->line, s->col,
							    QT_EFORMAT, "output "
							    "'%s' is not a value "
							    "defined above",
							    s->names[k]);
				else if (net->noutputs >= QT_NET_MAX_IO)
					rc = qt_model_error(m, s->line, s->col,
							    QT_EFORMAT,
							    "too many outputs");
				else
					net->outputs[net->noutputs++] = v;
			}
			have_output = 1;
			break;
		case QT_MS_LOSS:
			rc = build_loss(&bd, s);
			break;
		case QT_MS_OPTIMIZER:
			rc = build_optimizer(&bd, s);
			break;
		case QT_MS_TRAIN:
			rc = build_train(&bd, s);
			break;
		case QT_MS_PARAM: /* substituted by the parser */
			break;
		}
	}
	if (!rc && last < 0)
		rc = qt_error(QT_EFORMAT, "%s: the model defines no layers",
			      m->path);
	if (!rc && !have_output)
		net->outputs[net->noutputs++] = last;
	if (!rc && !net->optim.name[0]) {
		snprintf(net->optim.name, sizeof net->optim.name, "adam");
		net->optim.lr = 1e-3;
		net->optim.beta1 = 0.9;
		net->optim.beta2 = 0.999;
		net->optim.eps = 1e-8;
	}
	if (!rc)
		rc = alloc_buffers(net);
	if (!rc && cfg->chunked)
		rc = qt_chunks_new(net, m, cfg);
out:
	free(bd.syms);
	if (rc) {
		qt_net_free(net);
		return rc;
	}
	*netp = net;
	return 0;
}

void qt_net_free(qt_net *net)
{
	if (!net)
		return;
	for (int i = 0; net->nodes && i < net->nnodes; i++) {
		qt_node *n = &net->nodes[i];
		qt_tensor_free(n->out);
		qt_tensor_free(n->grad);
		for (int k = 0; k < QT_NODE_MAX_AUX; k++)
			qt_tensor_free(n->aux[k]);
		for (int k = 0; k < n->nparams; k++) {
			qt_tensor_free(n->params[k].value);
			qt_tensor_free(n->params[k].grad);
			for (int s = 0; s < 3; s++)
				qt_tensor_free(n->params[k].state[s]);
		}
	}
	for (int i = 0; i < net->ntargets; i++)
		qt_tensor_free(net->targets[i].value);
	for (int i = 0; i < net->nlosses; i++) {
		qt_tensor_free(net->losses[i].weight);
		qt_tensor_free(net->losses[i].prob);
	}
	qt_tensor_free(net->scratch);
	qt_chunks_free(net);
	qt_plan_free(net);
	free(net->nodes);
	free(net->text);
	free(net->path);
	free(net);
}

/* ---- binding to a stream ---- */

static int target_loss(const qt_net *net, int t)
{
	for (int i = 0; i < net->nlosses; i++)
		if (net->losses[i].target == t)
			return i;
	return -1;
}

int qt_net_bind(qt_net *net, const qt_header *h)
{
	char s1[96], s2[96];
	for (int i = 0; i < net->nnodes; i++) {
		qt_node *n = &net->nodes[i];
		const qt_field *f;
		if (n->layer)
			continue;
		n->field = qt_header_find(h, n->name);
		if (n->field < 0)
			return qt_error(QT_EFORMAT, "%s:%d: the stream has no "
					"field '%s' for this input", net->path,
					n->line, n->name);
		f = &h->fields[n->field];
		if (f->ndim != n->ndim || qt_shape_numel(f->ndim, f->shape) !=
		    per_sample(n) || memcmp(f->shape, n->shape,
					    (size_t)n->ndim * sizeof *n->shape))
			return qt_error(QT_ESHAPE, "%s:%d: input '%s' is %s per "
					"sample in the model but %s in the stream",
					net->path, n->line, n->name,
					qt_shape_str(s1, sizeof s1, n->ndim, n->shape),
					qt_shape_str(s2, sizeof s2, f->ndim, f->shape));
		if (f->dtype == QT_BOOL)
			return qt_error(QT_EFORMAT, "input '%s' is boolean",
					n->name);
	}
	for (int t = 0; t < net->ntargets; t++) {
		qt_target *tg = &net->targets[t];
		int l = target_loss(net, t);
		const qt_field *f;
		int64_t shape[QT_MAX_DIMS] = {net->max_batch};
		tg->field = qt_header_find(h, tg->name);
		qt_tensor_free(tg->value);
		tg->value = NULL;
		if (tg->field < 0)
			continue; /* prediction needs no targets */
		f = &h->fields[tg->field];
		if (f->ndim > 0 && f->shape[0] < 0)
			return qt_error(QT_EFORMAT, "target '%s' is ragged",
					tg->name);
		memcpy(shape + 1, f->shape, (size_t)f->ndim * sizeof *shape);
		if (l >= 0) {
			const qt_loss *L = &net->losses[l];
			const qt_node *p = &net->nodes[L->pred];
			if (L->kind == QT_LOSS_CE) {
				/* logits (C, d...) against labels (d...) */
				int ok = !qt_dtype_is_float(f->dtype) &&
					 f->ndim == p->ndim - 1;
				for (int d = 0; ok && d < f->ndim; d++)
					ok = f->shape[d] == p->shape[d + 1];
				if (!ok)
					return qt_error(QT_ESHAPE, "%s:%d: "
							"cross_entropy needs integer "
							"labels of shape %s for logits "
							"%s; '%s' is %s %s", net->path,
							L->line,
							qt_shape_str(s1, sizeof s1,
								     p->ndim - 1,
								     p->shape + 1),
							qt_shape_str(s2, sizeof s2,
								     p->ndim, p->shape),
							tg->name,
							qt_dtype_name(f->dtype),
							qt_shape_str(s2, sizeof s2,
								     f->ndim, f->shape));
				if (f->nclasses && f->nclasses != p->shape[0])
					return qt_error(QT_ESHAPE, "%s:%d: the "
							"model has %lld classes but "
							"'%s' names %d", net->path,
							L->line,
							(long long)p->shape[0],
							tg->name, f->nclasses);
			} else if (qt_shape_numel(f->ndim, f->shape) !=
				   per_sample(p)) {
				return qt_error(QT_ESHAPE, "%s:%d: the loss compares "
						"%s with '%s' of shape %s", net->path,
						L->line,
						qt_shape_str(s1, sizeof s1, p->ndim,
							     p->shape),
						tg->name,
						qt_shape_str(s2, sizeof s2, f->ndim,
							     f->shape));
			}
		}
		tg->value = qt_tensor_new(l >= 0 && net->losses[l].kind ==
					  QT_LOSS_CE ? QT_I64 : net->dtype,
					  f->ndim + 1, shape);
		if (!tg->value)
			return QT_ENOMEM;
	}
	return qt_chunks_bind(net, h);
}

/* Copy rows of src (any dtype) into dst (the net's dtype or int64). */
static int copy_rows(qt_tensor *dst, const qt_tensor *src, const int64_t *idx,
		     int64_t n, const char *name)
{
	int64_t per = qt_shape_numel(src->ndim - 1, src->shape + 1);
	size_t es = qt_dtype_size(src->dtype);
	for (int64_t r = 0; r < n; r++) {
		int64_t s = idx ? idx[r] : r;
		const char *from = (const char *)src->data + (size_t)(s * per) * es;
		if (dst->dtype == src->dtype) {
			memcpy((char *)dst->data + (size_t)(r * per) * es, from,
			       (size_t)per * es);
			continue;
		}
		qt_tensor row = qt_tensor_wrap(src->dtype, 1, &per, (void *)from);
		for (int64_t k = 0; k < per; k++) {
			double v = qt_tensor_get(&row, k);
			int64_t o = r * per + k;
			if (dst->dtype == QT_F32)
				((float *)dst->data)[o] = (float)v;
			else if (dst->dtype == QT_F64)
				((double *)dst->data)[o] = v;
			else
				((int64_t *)dst->data)[o] = (int64_t)v;
		}
	}
	(void)name;
	return 0;
}

/* First a pass without an early exit (a training step checks every
 * input value): x * 0 is 0 for a finite x and NaN otherwise, so eight
 * running sums of those stay 0 exactly when all values are finite; the
 * independent sums let the compiler use vector instructions.  Only a
 * batch with a non-finite value pays for the search that names it. */
static int check_finite(const qt_tensor *t, int64_t count, const char *name)
{
	int bad = 0;
	int64_t k = 0;
	if (t->dtype == QT_F32) {
		const float *x = t->data;
		float acc[8] = {0};
		for (; k + 8 <= count; k += 8)
			for (int j = 0; j < 8; j++)
				acc[j] += x[k + j] * 0.0f;
		for (int j = 0; j < 8; j++)
			bad |= acc[j] != 0;
	} else {
		const double *x = t->data;
		double acc[8] = {0};
		for (; k + 8 <= count; k += 8)
			for (int j = 0; j < 8; j++)
				acc[j] += x[k + j] * 0.0;
		for (int j = 0; j < 8; j++)
			bad |= acc[j] != 0;
	}
	for (; k < count; k++)
		bad |= !isfinite(t->dtype == QT_F32 ? ((const float *)t->data)[k]
						   : ((const double *)t->data)[k]);
	for (k = 0; bad && k < count; k++) {
		double v = t->dtype == QT_F32 ? ((const float *)t->data)[k]
					      : ((const double *)t->data)[k];
		if (!isfinite(v))
			return qt_error(QT_ENUMERIC, "field '%s' holds a "
					"non-finite value (%g); drop such samples "
					"with 'quanta filter --finite %s'", name,
					v, name);
	}
	return 0;
}

int qt_net_load(qt_net *net, const qt_batch *b, const int64_t *idx,
		int64_t n)
{
	int rc;
	if (n > net->max_batch || n < 0)
		return qt_error(QT_EINTERNAL, "batch of %lld rows exceeds %lld",
				(long long)n, (long long)net->max_batch);
	net->n = n;
	for (int i = 0; i < net->nnodes; i++) {
		qt_node *nd = &net->nodes[i];
		if (nd->layer)
			continue;
		if (nd->field < 0)
			return qt_error(QT_EINTERNAL, "network not bound");
		copy_rows(nd->out, b->t[nd->field], idx, n, nd->name);
		if ((rc = check_finite(nd->out, n * per_sample(nd), nd->name)) < 0)
			return rc;
	}
	for (int t = 0; t < net->ntargets; t++) {
		qt_target *tg = &net->targets[t];
		int l = target_loss(net, t);
		int64_t per;
		if (tg->field < 0 || !tg->value)
			continue;
		copy_rows(tg->value, b->t[tg->field], idx, n, tg->name);
		per = qt_shape_numel(tg->value->ndim - 1, tg->value->shape + 1);
		if (tg->value->dtype == QT_I64 && l >= 0) {
			int64_t C = net->nodes[net->losses[l].pred].shape[0];
			const int64_t *y = tg->value->data;
			for (int64_t k = 0; k < n * per; k++)
				if (y[k] < 0 || y[k] >= C)
					return qt_error(QT_EFORMAT, "label %lld of "
							"'%s' is outside the model's "
							"%lld classes", (long long)y[k],
							tg->name, (long long)C);
		} else if ((rc = check_finite(tg->value, n * per, tg->name)) < 0) {
			return rc;
		}
	}
	return 0;
}

/* ---- passes ---- */

qt_tensor qt_net_value(const qt_net *net, int node)
{
	return qt_rows(net->nodes[node].out, net->n);
}

/* View of a target shaped like its loss's prediction. */
static qt_tensor target_view(const qt_net *net, const qt_loss *l)
{
	const qt_target *tg = &net->targets[l->target];
	qt_tensor v = qt_rows(tg->value, net->n);
	if (l->kind != QT_LOSS_CE) {
		const qt_node *p = &net->nodes[l->pred];
		v.ndim = p->ndim + 1;
		memcpy(v.shape + 1, p->shape, (size_t)p->ndim * sizeof *p->shape);
	}
	return v;
}

int qt_net_forward(qt_net *net, int training, double *loss)
{
	int rc;
	double total = 0;
	net->training = training;
	qt_plan_forward_begin(net);
	for (int i = 0; i < net->nnodes; i++) {
		qt_node *n = &net->nodes[i];
		if (!n->layer)
			continue;
		qt_plan_work(net, i, 0);
		if ((rc = n->layer->forward(net, n)) < 0)
			return qt_error_prefix(rc, "%s: ", n->name);
	}
	for (int i = 0; i < net->nlosses; i++) {
		qt_loss *l = &net->losses[i];
		qt_tensor pred = qt_net_value(net, l->pred);
		qt_tensor tgt;
		if (!net->targets[l->target].value)
			continue;
		tgt = target_view(net, l);
		if (l->kind == QT_LOSS_CE) {
			qt_tensor prob = qt_rows(l->prob, net->n);
			rc = qt_cross_entropy_forward(&l->value, &prob, &pred, &tgt,
						      l->weight, &net->ctx);
		} else if (l->kind == QT_LOSS_MSE) {
			rc = qt_mse_forward(&l->value, &pred, &tgt, &net->ctx);
		} else {
			rc = qt_bce_logits_forward(&l->value, &pred, &tgt,
						   &net->ctx);
		}
		if (rc < 0)
			return rc;
		total += l->value;
	}
	if (loss)
		*loss = total;
	return 0;
}

/* Zeroing 670 MB of gradients (the eor regressor) is memory bound:
 * blocks of ZERO_BLOCK bytes of each gradient, shared over the pool. */
#define ZERO_BLOCK ((size_t)1 << 22)

static void zero_task(void *arg, int64_t begin, int64_t end, int chunk)
{
	qt_net *net = arg;
	int64_t at = 0;
	for (int i = 0; i < net->nnodes; i++)
		for (int k = 0; k < net->nodes[i].nparams; k++) {
			qt_tensor *g = net->nodes[i].params[k].grad;
			size_t bytes = g ? qt_tensor_nbytes(g) : 0;
			int64_t nb = (int64_t)((bytes + ZERO_BLOCK - 1) / ZERO_BLOCK);
			for (int64_t b = begin > at ? begin - at : 0;
			     b < nb && at + b < end; b++) {
				size_t off = (size_t)b * ZERO_BLOCK;
				memset((char *)g->data + off, 0,
				       bytes - off < ZERO_BLOCK ? bytes - off
								: ZERO_BLOCK);
			}
			at += nb;
		}
}

void qt_net_zero_grad(qt_net *net)
{
	int64_t nb = 0;
	for (int i = 0; i < net->nnodes; i++)
		for (int k = 0; k < net->nodes[i].nparams; k++) {
			qt_tensor *g = net->nodes[i].params[k].grad;
			if (g)
				nb += (int64_t)((qt_tensor_nbytes(g) + ZERO_BLOCK - 1) /
						ZERO_BLOCK);
		}
	qt_pool_for(nb > 1 ? net->ctx.pool : NULL, nb, zero_task, net);
}

/* dst += src over n elements of the net's dtype. */
static void add_into(qt_net *net, qt_tensor *dst, const qt_tensor *src)
{
	int64_t n = qt_tensor_numel(dst);
	if (net->dtype == QT_F32) {
		float *d = dst->data;
		const float *s = src->data;
		for (int64_t k = 0; k < n; k++)
			d[k] += s[k];
	} else {
		double *d = dst->data;
		const double *s = src->data;
		for (int64_t k = 0; k < n; k++)
			d[k] += s[k];
	}
}

/* Where the gradient for node v goes: its own buffer the first time,
 * else the scratch buffer (then added).  *acc tells which. */
static qt_tensor grad_dest(qt_net *net, qt_node *v, int *acc)
{
	qt_tensor g = qt_rows(v->grad, net->n);
	if (!v->grad_set) {
		v->grad_set = 1;
		*acc = 0;
		return g;
	}
	*acc = 1;
	qt_tensor s = g;
	s.data = net->scratch->data;
	return s;
}

int qt_net_backward(qt_net *net)
{
	int rc;
	for (int i = 0; i < net->nnodes; i++)
		net->nodes[i].grad_set = 0;
	for (int i = 0; i < net->nlosses; i++) {
		qt_loss *l = &net->losses[i];
		qt_node *p = &net->nodes[l->pred];
		qt_tensor pred = qt_net_value(net, l->pred), tgt, dst;
		int acc;
		if (!p->needs_grad || !net->targets[l->target].value)
			continue;
		tgt = target_view(net, l);
		dst = grad_dest(net, p, &acc);
		if (l->kind == QT_LOSS_CE) {
			qt_tensor prob = qt_rows(l->prob, net->n);
			rc = qt_cross_entropy_backward(&dst, &prob, &tgt, l->weight,
						       net->loss_scale, &net->ctx);
		} else if (l->kind == QT_LOSS_MSE) {
			rc = qt_mse_backward(&dst, &pred, &tgt, net->loss_scale,
					     &net->ctx);
		} else {
			rc = qt_bce_logits_backward(&dst, &pred, &tgt,
						    net->loss_scale, &net->ctx);
		}
		if (rc < 0)
			return rc;
		if (acc) {
			qt_tensor g = qt_rows(p->grad, net->n);
			add_into(net, &g, &dst);
		}
	}
	for (int i = net->nnodes - 1; i >= 0; i--) {
		qt_node *n = &net->nodes[i];
		qt_tensor dxv[QT_NODE_MAX_IN], *dx[QT_NODE_MAX_IN];
		int acc[QT_NODE_MAX_IN] = {0}, scratch_for = -1;
		/* Outputs the plan did not keep, made again for this
		 * backward or a later one (before the check: the plan
		 * counts on them). */
		if ((rc = qt_plan_recompute(net, i)) < 0)
			return rc;
		if (!n->layer || !n->grad_set)
			continue;
		for (int k = 0; k < n->nin; k++) {
			qt_node *src = &net->nodes[n->in[k]];
			dx[k] = NULL;
			if (!src->needs_grad)
				continue;
			if (!src->grad_set || n->layer->accumulates) {
				dxv[k] = qt_rows(src->grad, net->n);
				acc[k] = src->grad_set;
				src->grad_set = 1;
			} else {
				dxv[k] = grad_dest(net, src, &acc[k]);
				acc[k] = 0; /* the layer overwrites scratch */
				scratch_for = k;
			}
			dx[k] = &dxv[k];
		}
		qt_plan_work(net, i, 1);
		if ((rc = n->layer->backward(net, n, dx, acc)) < 0)
			return qt_error_prefix(rc, "%s backward: ", n->name);
		if (scratch_for >= 0) {
			qt_tensor g = qt_rows(net->nodes[n->in[scratch_for]].grad,
					      net->n);
			add_into(net, &g, &dxv[scratch_for]);
		}
	}
	return 0;
}

int qt_net_each_param(qt_net *net, qt_param_fn *fn, void *arg)
{
	for (int i = 0; i < net->nnodes; i++)
		for (int k = 0; k < net->nodes[i].nparams; k++) {
			int rc = fn(arg, &net->nodes[i], &net->nodes[i].params[k]);
			if (rc)
				return rc;
		}
	return 0;
}

int64_t qt_net_count_params(const qt_net *net, int64_t *trainable)
{
	int64_t all = 0, tr = 0;
	for (int i = 0; i < net->nnodes; i++)
		for (int k = 0; k < net->nodes[i].nparams; k++) {
			const qt_param *p = &net->nodes[i].params[k];
			int64_t c = qt_tensor_numel(p->value);
			all += c;
			if (p->grad)
				tr += c;
		}
	if (trainable)
		*trainable = tr;
	return all;
}

void qt_net_summary(const qt_net *net, FILE *f)
{
	char shape[96], label[96];
	int64_t tr, all = qt_net_count_params(net, &tr);
	const char *rule = "------------------------------------------------"
			   "---------------------------";
	fprintf(f, "Model: %s\n%s\n%-34s %-26s %12s\n%s\n", net->path, rule,
		"Layer (type)", "Output Shape", "Param #", rule);
	for (int i = 0; i < net->nnodes; i++) {
		const qt_node *n = &net->nodes[i];
		int64_t cnt = 0;
		int64_t s[QT_MAX_DIMS + 1] = {-1};
		for (int k = 0; k < n->nparams; k++)
			cnt += qt_tensor_numel(n->params[k].value);
		memcpy(s + 1, n->shape, (size_t)n->ndim * sizeof *s);
		qt_shape_str(shape, sizeof shape, n->ndim + 1, s);
		snprintf(label, sizeof label, "%s (%s)", n->name,
			 n->layer ? n->layer->name : "input");
		fprintf(f, "%-34s %-26s %12lld\n", label, shape, (long long)cnt);
	}
	fprintf(f, "%s\nTotal params: %lld\nTrainable params: %lld\n"
		"Non-trainable params: %lld\n%s\n", rule, (long long)all,
		(long long)tr, (long long)(all - tr), rule);
}
