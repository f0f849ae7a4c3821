/* predict.c: checkpoint + stream -> stream with predictions (predict.h). */
#include "nn/predict.h"
#include "common/cli.h"
#include "common/error.h"
#include "kernels/kernels.h"
#include "nn/checkpoint.h"
#include "nn/net.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct outspec {
	int node;
	int kind;        /* 0 regression, 1 classification, 2 binary */
	int prob_field, pred_field;
	int squeeze;     /* output (1,) reported as () */
};

struct qt_predictor {
	qt_model *model;
	qt_net *net;
	qt_header *out;
	int nin;         /* fields of the input */
	int nout;
	struct outspec outs[QT_NET_MAX_IO];
};

/* The target field description of the checkpoint's `fields` JSON. */
static json_t *target_desc(json_t *fields, const char *name)
{
	json_t *targets = json_object_get(fields, "targets"), *t;
	size_t i;
	json_array_foreach(targets, i, t)
		if (!strcmp(json_string_value(json_object_get(t, "name")) ?
			    json_string_value(json_object_get(t, "name")) : "",
			    name))
			return t;
	return NULL;
}

/* Inputs must match the training stream: name, dtype, shape. */
static int check_inputs(json_t *fields, const qt_header *in, const char *path)
{
	json_t *inputs = json_object_get(fields, "inputs"), *f;
	size_t i;
	json_array_foreach(inputs, i, f) {
		const char *name = json_string_value(json_object_get(f, "name"));
		const char *dt = json_string_value(json_object_get(f, "dtype"));
		json_t *shape = json_object_get(f, "shape");
		int k = name ? qt_header_find(in, name) : -1;
		const qt_field *g;
		qt_dtype want;
		if (!name || !dt || !json_is_array(shape))
			return qt_error(QT_EFORMAT, "%s: damaged 'fields' "
					"attribute", path);
		if (k < 0)
			return qt_error(QT_EFORMAT, "the stream has no field '%s', "
					"which %s was trained on", name, path);
		g = &in->fields[k];
		if (qt_dtype_parse(dt, strlen(dt), &want) < 0 || want != g->dtype)
			return qt_error(QT_ESHAPE, "field '%s' is %s, but %s was "
					"trained on %s", name,
					qt_dtype_name(g->dtype), path, dt);
		int ok = (int)json_array_size(shape) == g->ndim;
		for (int d = 0; ok && d < g->ndim; d++)
			ok = json_integer_value(json_array_get(shape, (size_t)d)) ==
			     g->shape[d];
		if (!ok) {
			char s[96];
			char *js = json_dumps(shape, JSON_COMPACT);
			int rc = qt_error(QT_ESHAPE, "field '%s' is %s per sample, "
					  "but %s was trained on %s", name,
					  qt_shape_str(s, sizeof s, g->ndim,
						       g->shape), path,
					  js ? js : "?");
			free(js);
			return rc;
		}
	}
	return 0;
}

static int check_preprocessing(const qt_ckpt *ck, const qt_header *in,
			       const char *path)
{
	char *have = qt_ckpt_preprocessing_json(in);
	json_t *a = json_loads(ck->preprocessing ? ck->preprocessing : "{}", 0,
			       NULL);
	json_t *b = have ? json_loads(have, 0, NULL) : NULL;
	int rc = 0;
	if (!a || !b) {
		rc = qt_error(QT_EFORMAT, "%s: damaged 'preprocessing' attribute",
			      path);
	} else if (!json_equal(a, b)) {
		const char *key, *why = NULL;
		json_t *v, *w = NULL;
		json_object_foreach(a, key, v)
			if (!(w = json_object_get(b, key)) || !json_equal(v, w)) {
				why = key;
				break;
			}
		if (why)
			rc = qt_error(QT_EFORMAT, "%s was trained on a stream with "
				      "%s=%.12s..., this stream has %s%.12s%s; "
				      "apply the same preprocessing parameters "
				      "first, or pass --ignore-preprocessing",
				      path, why, json_string_value(v),
				      w ? "" : "none", w ? json_string_value(w)
							 : "", w ? "..." : "");
		else
			json_object_foreach(b, key, v)
				if (!json_object_get(a, key)) {
					rc = qt_error(QT_EFORMAT, "this stream has "
						      "%s=%.12s..., but %s was "
						      "trained without it; pass "
						      "--ignore-preprocessing to "
						      "predict anyway", key,
						      json_string_value(v), path);
					break;
				}
	}
	json_decref(a);
	json_decref(b);
	free(have);
	return rc;
}

static int add_classes(qt_header *h, int f, json_t *target)
{
	json_t *cls = json_object_get(target, "classes"), *c;
	const char *names[4096];
	size_t i;
	if (!json_is_array(cls) || json_array_size(cls) > 4096)
		return 0;
	json_array_foreach(cls, i, c)
		names[i] = json_string_value(c) ? json_string_value(c) : "";
	return qt_header_set_classes(h, f, (int)json_array_size(cls), names);
}

int qt_predictor_open(qt_predictor **pp, const char *path, const qt_header *in,
		      int64_t max_batch, qt_pool *pool,
		      int ignore_preprocessing, const qt_header **out)
{
	qt_predictor *p = calloc(1, sizeof *p);
	qt_ckpt ck;
	json_t *fields = NULL;
	qt_net_cfg cfg = {.dtype = QT_F32, .max_batch = max_batch};
	int rc;
	if (!p)
		return qt_error(QT_ENOMEM, "out of memory");
	if ((rc = qt_ckpt_open(&ck, path)) < 0) {
		free(p);
		return rc;
	}
	cfg.ctx.pool = pool;
	fields = json_loads(ck.fields, 0, NULL);
	if (!fields) {
		rc = qt_error(QT_EFORMAT, "%s: damaged 'fields' attribute", path);
		goto out;
	}
	if ((rc = check_inputs(fields, in, path)) < 0)
		goto out;
	if (!ignore_preprocessing &&
	    (rc = check_preprocessing(&ck, in, path)) < 0)
		goto out;
	char **set = NULL;
	int nset = 0;
	if ((rc = qt_ckpt_set_parse(ck.model_set, &set, &nset)) < 0)
		goto out;
	rc = qt_model_parse_set(&p->model, path, ck.model,
				(const char *const *)set, nset);
	qt_free_list(set, nset);
	if (rc < 0 ||
	    (rc = qt_net_build(&p->net, p->model, &cfg)) < 0 ||
	    (rc = qt_net_bind(p->net, in)) < 0 ||
	    (rc = qt_ckpt_load(&ck, p->net, NULL)) < 0)
		goto out;
	if (!(p->out = qt_header_clone(in))) {
		rc = QT_ENOMEM;
		goto out;
	}
	p->nin = in->nfields;
	p->nout = p->net->noutputs;
	for (int k = 0; k < p->nout; k++) {
		struct outspec *o = &p->outs[k];
		const qt_node *n = &p->net->nodes[p->net->outputs[k]];
		const qt_loss *l = NULL;
		char prefix[80] = "", name[160];
		json_t *target = NULL;
		o->node = p->net->outputs[k];
		o->prob_field = o->pred_field = -1;
		for (int i = 0; i < p->net->nlosses; i++)
			if (p->net->losses[i].pred == o->node)
				l = &p->net->losses[i];
		if (l)
			target = target_desc(fields,
					     p->net->targets[l->target].name);
		if (p->nout > 1)
			snprintf(prefix, sizeof prefix, "%s_", n->name);
		o->kind = !l ? 0 : l->kind == QT_LOSS_CE ? 1
			: l->kind == QT_LOSS_BCE ? 2 : 0;
		if (o->kind == 1 || o->kind == 2) {
			snprintf(name, sizeof name, "%sprob", prefix);
			rc = qt_header_add_field(p->out, name, QT_F32, n->ndim,
						 n->shape);
			if (rc < 0)
				goto clash;
			o->prob_field = rc;
		}
		if (o->kind == 1) {
			snprintf(name, sizeof name, "%spred", prefix);
			rc = qt_header_add_field(p->out, name, QT_I64,
						 n->ndim - 1, n->shape + 1);
			if (rc < 0)
				goto clash;
			o->pred_field = rc;
			if (target && (rc = add_classes(p->out, rc, target)) < 0)
				goto out;
		} else if (o->kind == 0) {
			json_t *ts = json_object_get(target, "shape");
			o->squeeze = n->ndim == 1 && n->shape[0] == 1 &&
				     (!target || (json_is_array(ts) &&
						  json_array_size(ts) == 0));
			snprintf(name, sizeof name, "%spred", prefix);
			rc = qt_header_add_field(p->out, name, QT_F32,
						 o->squeeze ? 0 : n->ndim, n->shape);
			if (rc < 0)
				goto clash;
			o->pred_field = rc;
		}
		rc = 0;
		continue;
clash:
		rc = qt_error(QT_EFORMAT, "the stream already has a field '%s'; "
			      "drop it first (predictions are added as new "
			      "fields)", name);
		goto out;
	}
	*out = p->out;
	*pp = p;
out:
	json_decref(fields);
	qt_ckpt_close(&ck);
	if (rc) {
		qt_predictor_close(p);
		return rc;
	}
	return 0;
}

/* Copy the network's output rows [0, n) into dst at row `at`, converting
 * logits to probabilities or classes as the output's kind asks. */
static void emit(qt_predictor *p, const struct outspec *o, qt_batch *out,
		 int64_t at, int64_t n)
{
	const qt_node *nd = &p->net->nodes[o->node];
	int64_t per = qt_shape_numel(nd->ndim, nd->shape);
	const float *y = nd->out->data;
	if (o->kind == 0) {
		memcpy((float *)out->t[o->pred_field]->data + at * per, y,
		       (size_t)(n * per) * sizeof(float));
		return;
	}
	float *prob = (float *)out->t[o->prob_field]->data + at * per;
	if (o->kind == 2) {
		for (int64_t i = 0; i < n * per; i++)
			prob[i] = 1.0f / (1.0f + expf(-y[i]));
		return;
	}
	/* softmax over the class axis (axis 1 of (n, C, inner)) */
	int64_t C = nd->shape[0], inner = per / C;
	int64_t *pred = (int64_t *)out->t[o->pred_field]->data + at * inner;
	for (int64_t i = 0; i < n; i++)
		for (int64_t q = 0; q < inner; q++) {
			const float *row = y + i * per + q;
			float *pr = prob + i * per + q;
			float m = -INFINITY;
			double sum = 0;
			int64_t best = 0;
			for (int64_t c = 0; c < C; c++)
				if (row[c * inner] > m) {
					m = row[c * inner];
					best = c;
				}
			for (int64_t c = 0; c < C; c++)
				sum += exp((double)row[c * inner] - m);
			for (int64_t c = 0; c < C; c++)
				pr[c * inner] = (float)(exp((double)row[c * inner] - m)
							/ sum);
			pred[i * inner + q] = best;
		}
}

int qt_predictor_run(qt_predictor *p, const qt_batch *in, qt_batch **outp)
{
	qt_batch *out = qt_batch_new(p->out->nfields);
	int rc = 0;
	if (!out)
		return qt_error(QT_ENOMEM, "out of memory");
	out->n = in->n;
	for (int i = 0; i < p->nin; i++) {
		/* pass the input through: copies, so `in` stays the caller's */
		out->t[i] = qt_tensor_clone(in->t[i]);
		if (in->ptr[i])
			out->ptr[i] = qt_tensor_clone(in->ptr[i]);
		if (!out->t[i] || (in->ptr[i] && !out->ptr[i]))
			rc = QT_ENOMEM;
	}
	for (int i = p->nin; i < p->out->nfields && !rc; i++) {
		const qt_field *f = &p->out->fields[i];
		int64_t shape[QT_MAX_DIMS] = {in->n};
		memcpy(shape + 1, f->shape, (size_t)f->ndim * sizeof *shape);
		if (!(out->t[i] = qt_tensor_new(f->dtype, f->ndim + 1, shape)))
			rc = QT_ENOMEM;
	}
	for (int64_t at = 0; at < in->n && !rc; at += p->net->max_batch) {
		int64_t n = in->n - at < p->net->max_batch ? in->n - at
							   : p->net->max_batch;
		int64_t idx_stack[1];
		int64_t *idx = n > 1 ? malloc((size_t)n * sizeof *idx) : idx_stack;
		if (!idx) {
			rc = QT_ENOMEM;
			break;
		}
		for (int64_t k = 0; k < n; k++)
			idx[k] = at + k;
		rc = qt_net_load(p->net, in, idx, n);
		if (idx != idx_stack)
			free(idx);
		if (!rc)
			rc = qt_net_forward(p->net, 0, NULL);
		for (int k = 0; k < p->nout && !rc; k++)
			emit(p, &p->outs[k], out, at, n);
	}
	if (rc) {
		qt_batch_free(out);
		return rc;
	}
	*outp = out;
	return 0;
}

void qt_predictor_close(qt_predictor *p)
{
	if (!p)
		return;
	qt_net_free(p->net);
	qt_model_free(p->model);
	qt_header_free(p->out);
	free(p);
}
