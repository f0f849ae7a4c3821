/* layers.c: the layer types of model files (docs/MODELS.md, "Layers"):
 * how each reads its options, infers its output shape, creates and
 * initialises its parameters, and calls its kernels.  Parameter names
 * and default initialisation follow PyTorch's modules (nn.Linear,
 * nn.Conv2d, nn.BatchNorm*), so checkpoints map one to one onto a
 * PyTorch state_dict. */
#include "nn/layer.h"
#include "common/error.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static qt_tensor out_view(const qt_net *net, const qt_node *n)
{
	return qt_rows(n->out, net->n);
}

static qt_tensor in_view(const qt_net *net, const qt_node *n, int k)
{
	return qt_rows(net->nodes[n->in[k]].out, net->n);
}

static qt_tensor grad_view(const qt_net *net, const qt_node *n)
{
	return qt_rows(n->grad, net->n);
}

static const qt_node *input(const qt_net *net, const qt_node *n, int k)
{
	return &net->nodes[n->in[k]];
}

static int need_rank(qt_build *b, const qt_net *net, const qt_node *n,
		     int rank, const char *what)
{
	char s[96];
	const qt_node *x = input(net, n, 0);
	if (x->ndim != rank)
		return bopt_fail(b, QT_ESHAPE, "needs %s per sample, got %s from "
				 "'%s'", what,
				 qt_shape_str(s, sizeof s, x->ndim, x->shape),
				 x->name);
	return 0;
}

/* ---- initialisation ---- */

enum { INIT_DEFAULT, INIT_GLOROT_UNIFORM, INIT_GLOROT_NORMAL, INIT_HE_UNIFORM,
       INIT_HE_NORMAL };
static const char *const init_words[] = {"default", "glorot_uniform",
					 "glorot_normal", "he_uniform",
					 "he_normal", NULL};

/* PyTorch's reset_parameters for Linear and Conv: weight
 * kaiming_uniform(a=sqrt(5)), bias U(-1/sqrt(fan_in), 1/sqrt(fan_in));
 * the Keras-style choices leave the bias at zero. */
static int init_weights(qt_net *net, int how, qt_param *w, qt_param *b)
{
	int64_t fan_in, fan_out;
	int rc;
	switch (how) {
	case INIT_GLOROT_UNIFORM:
		rc = qt_init_xavier_uniform(w->value, 1.0, &net->rng, &net->ctx);
		break;
	case INIT_GLOROT_NORMAL:
		rc = qt_init_xavier_normal(w->value, 1.0, &net->rng, &net->ctx);
		break;
	case INIT_HE_UNIFORM:
		rc = qt_init_kaiming_uniform(w->value, 0, QT_FAN_IN, QT_NL_RELU,
					     &net->rng, &net->ctx);
		break;
	case INIT_HE_NORMAL:
		rc = qt_init_kaiming_normal(w->value, 0, QT_FAN_IN, QT_NL_RELU,
					    &net->rng, &net->ctx);
		break;
	default:
		rc = qt_init_kaiming_uniform(w->value, sqrt(5.0), QT_FAN_IN,
					     QT_NL_LEAKY_RELU, &net->rng,
					     &net->ctx);
		if (!rc && b) {
			qt_init_fans(&fan_in, &fan_out, w->value);
			double bound = fan_in > 0 ? 1.0 / sqrt((double)fan_in) : 0;
			rc = qt_init_uniform(b->value, -bound, bound, &net->rng,
					     &net->ctx);
		}
		return rc;
	}
	return rc;
}

/* ---- dense ---- */

static int dense_build(qt_build *b, qt_net *net, qt_node *n)
{
	const qt_node *x = input(net, n, 0);
	int units, bias, init, rc;
	qt_param *w, *bp = NULL;
	if ((rc = bopt_int(b, "units", 0, 1, 1 << 24, &units)) < 0 ||
	    (rc = bopt_bool(b, "bias", 1, &bias)) < 0 ||
	    (rc = bopt_word(b, "init", init_words, INIT_DEFAULT, &init)) < 0)
		return rc;
	if (!bopt_has(b, "units") && units == 0)
		return bopt_fail(b, QT_EFORMAT, "needs the number of units, "
				 "e.g. dense(30)");
	if (x->ndim < 1)
		return bopt_fail(b, QT_ESHAPE, "input '%s' has no feature "
				 "dimension", x->name);
	n->ndim = x->ndim;
	memcpy(n->shape, x->shape, sizeof n->shape);
	n->shape[n->ndim - 1] = units;
	n->iopt[0] = bias;
	w = qt_node_param(net, n, "weight", 2,
			  (int64_t[]){units, x->shape[x->ndim - 1]}, 1);
	if (!w || (bias && !(bp = qt_node_param(net, n, "bias", 1,
						(int64_t[]){units}, 1))))
		return QT_ENOMEM;
	return init_weights(net, init, w, bp);
}

static int dense_forward(qt_net *net, qt_node *n)
{
	qt_tensor y = out_view(net, n), x = in_view(net, n, 0);
	return qt_dense_forward(&y, &x, n->params[0].value,
				n->iopt[0] ? n->params[1].value : NULL,
				&net->ctx);
}

static int dense_backward(qt_net *net, qt_node *n, qt_tensor *const *dx,
			  const int *acc)
{
	qt_tensor dy = grad_view(net, n), x = in_view(net, n, 0);
	return qt_dense_backward(dx[0], n->params[0].grad,
				 n->iopt[0] ? n->params[1].grad : NULL, &dy, &x,
				 n->params[0].value, &net->ctx);
}

/* ---- conv2d ---- */

static qt_conv2d_opts conv_opts(const qt_node *n)
{
	qt_conv2d_opts o = {.stride_h = n->iopt[2], .stride_w = n->iopt[3],
			    .pad_top = n->iopt[4], .pad_left = n->iopt[5],
			    .pad_bottom = n->iopt[6], .pad_right = n->iopt[7]};
	return o;
}

static int conv2d_build(qt_build *b, qt_net *net, qt_node *n)
{
	static const char *const pads[] = {"valid", "same", NULL};
	const qt_node *x = input(net, n, 0);
	int filters, k[2], s[2], bias, init, pad = 0, padn = 0, rc;
	qt_param *w, *bp = NULL;
	qt_conv2d_opts o = {0};
	size_t work;

	if ((rc = need_rank(b, net, n, 3, "(channels, height, width)")) < 0 ||
	    (rc = bopt_int(b, "filters", 0, 1, 1 << 20, &filters)) < 0 ||
	    (rc = bopt_pair(b, "kernel", 3, 1, 4096, k)) < 0 ||
	    (rc = bopt_pair(b, "stride", 1, 1, 4096, s)) < 0 ||
	    (rc = bopt_bool(b, "bias", 1, &bias)) < 0 ||
	    (rc = bopt_word(b, "init", init_words, INIT_DEFAULT, &init)) < 0)
		return rc;
	if (!filters)
		return bopt_fail(b, QT_EFORMAT, "needs the number of filters, "
				 "e.g. conv2d(32, kernel=3)");
	if (bopt_has(b, "padding")) {
		qt_build probe = *b;
		if (bopt_int(&probe, "padding", 0, 0, 4096, &padn) == 0) {
			*b = probe;
			pad = 2;
		} else if ((rc = bopt_word(b, "padding", pads, 0, &pad)) < 0) {
			return rc;
		}
	}
	o.stride_h = s[0];
	o.stride_w = s[1];
	if (pad == 1) {
		if (s[0] != 1 || s[1] != 1)
			return bopt_fail(b, QT_EFORMAT, "padding=same needs "
					 "stride 1 (as in PyTorch)");
		qt_conv2d_same_padding(&o, x->shape[1], x->shape[2], k[0], k[1]);
	} else if (pad == 2) {
		o.pad_top = o.pad_bottom = o.pad_left = o.pad_right = padn;
	}
	n->ndim = 3;
	n->shape[0] = filters;
	n->shape[1] = qt_window_out_size(x->shape[1], k[0], s[0], o.pad_top,
					 o.pad_bottom);
	n->shape[2] = qt_window_out_size(x->shape[2], k[1], s[1], o.pad_left,
					 o.pad_right);
	if (n->shape[1] < 1 || n->shape[2] < 1)
		return bopt_fail(b, QT_ESHAPE, "a %dx%d kernel does not fit the "
				 "%lldx%lld input", k[0], k[1],
				 (long long)x->shape[1], (long long)x->shape[2]);
	n->iopt[0] = bias;
	n->iopt[2] = o.stride_h;
	n->iopt[3] = o.stride_w;
	n->iopt[4] = o.pad_top;
	n->iopt[5] = o.pad_left;
	n->iopt[6] = o.pad_bottom;
	n->iopt[7] = o.pad_right;
	w = qt_node_param(net, n, "weight", 4,
			  (int64_t[]){filters, x->shape[0], k[0], k[1]}, 1);
	if (!w || (bias && !(bp = qt_node_param(net, n, "bias", 1,
						(int64_t[]){filters}, 1))))
		return QT_ENOMEM;
	int64_t xs[4] = {net->max_batch, x->shape[0], x->shape[1], x->shape[2]};
	/* The size query reads shapes only; the data pointer is never
	 * dereferenced but must not be NULL. */
	qt_tensor xt = qt_tensor_wrap(net->dtype, 4, xs, w->value->data);
	if ((rc = qt_conv2d_workspace(&work, &xt, w->value, &o, &net->ctx)) < 0)
		return rc;
	qt_net_need_work(net, n, work);
	return init_weights(net, init, w, bp);
}

static int conv2d_forward(qt_net *net, qt_node *n)
{
	qt_tensor y = out_view(net, n), x = in_view(net, n, 0);
	qt_conv2d_opts o = conv_opts(n);
	return qt_conv2d_forward(&y, &x, n->params[0].value,
				 n->iopt[0] ? n->params[1].value : NULL, &o,
				 net->work, net->work_bytes, &net->ctx);
}

static int conv2d_backward(qt_net *net, qt_node *n, qt_tensor *const *dx,
			   const int *acc)
{
	qt_tensor dy = grad_view(net, n), x = in_view(net, n, 0);
	qt_conv2d_opts o = conv_opts(n);
	return qt_conv2d_backward(dx[0], n->params[0].grad,
				  n->iopt[0] ? n->params[1].grad : NULL, &dy, &x,
				  n->params[0].value, &o, net->work,
				  net->work_bytes, &net->ctx);
}

/* ---- pooling ---- */

static int pool_build(qt_build *b, qt_net *net, qt_node *n, int max)
{
	const qt_node *x = input(net, n, 0);
	int k[2], s[2], rc;
	if ((rc = need_rank(b, net, n, 3, "(channels, height, width)")) < 0 ||
	    (rc = bopt_pair(b, "size", 2, 1, 4096, k)) < 0 ||
	    (rc = bopt_pair(b, "stride", 0, 0, 4096, s)) < 0)
		return rc;
	if (!s[0])
		s[0] = k[0], s[1] = k[1];
	if (s[0] < 1 || s[1] < 1)
		return bopt_fail(b, QT_EFORMAT, "stride must be at least 1");
	n->ndim = 3;
	n->shape[0] = x->shape[0];
	n->shape[1] = qt_window_out_size(x->shape[1], k[0], s[0], 0, 0);
	n->shape[2] = qt_window_out_size(x->shape[2], k[1], s[1], 0, 0);
	if (n->shape[1] < 1 || n->shape[2] < 1)
		return bopt_fail(b, QT_ESHAPE, "a %dx%d window does not fit the "
				 "%lldx%lld input", k[0], k[1],
				 (long long)x->shape[1], (long long)x->shape[2]);
	n->iopt[0] = k[0];
	n->iopt[1] = k[1];
	n->iopt[2] = s[0];
	n->iopt[3] = s[1];
	if (max)
		return qt_node_aux(net, n, 0, QT_I32, 1, 3, n->shape);
	return 0;
}

static int maxpool_build(qt_build *b, qt_net *net, qt_node *n)
{
	return pool_build(b, net, n, 1);
}

static int avgpool_build(qt_build *b, qt_net *net, qt_node *n)
{
	return pool_build(b, net, n, 0);
}

static int maxpool_forward(qt_net *net, qt_node *n)
{
	qt_tensor y = out_view(net, n), x = in_view(net, n, 0);
	qt_tensor am = qt_rows(n->aux[0], net->n);
	return qt_maxpool2d_forward(&y, &am, &x, n->iopt[0], n->iopt[1],
				    n->iopt[2], n->iopt[3], &net->ctx);
}

static int maxpool_backward(qt_net *net, qt_node *n, qt_tensor *const *dx,
			    const int *acc)
{
	qt_tensor dy = grad_view(net, n), am = qt_rows(n->aux[0], net->n);
	return dx[0] ? qt_maxpool2d_backward(dx[0], &dy, &am, &net->ctx) : 0;
}

static int avgpool_forward(qt_net *net, qt_node *n)
{
	qt_tensor y = out_view(net, n), x = in_view(net, n, 0);
	return qt_avgpool2d_forward(&y, &x, n->iopt[0], n->iopt[1], n->iopt[2],
				    n->iopt[3], &net->ctx);
}

static int avgpool_backward(qt_net *net, qt_node *n, qt_tensor *const *dx,
			    const int *acc)
{
	qt_tensor dy = grad_view(net, n);
	return dx[0] ? qt_avgpool2d_backward(dx[0], &dy, n->iopt[0], n->iopt[1],
					     n->iopt[2], n->iopt[3], &net->ctx)
		     : 0;
}

static int gap_build(qt_build *b, qt_net *net, qt_node *n)
{
	int rc = need_rank(b, net, n, 3, "(channels, height, width)");
	n->ndim = 1;
	n->shape[0] = input(net, n, 0)->shape[0];
	return rc;
}

static int gap_forward(qt_net *net, qt_node *n)
{
	qt_tensor y = out_view(net, n), x = in_view(net, n, 0);
	return qt_global_avgpool2d_forward(&y, &x, &net->ctx);
}

static int gap_backward(qt_net *net, qt_node *n, qt_tensor *const *dx,
			const int *acc)
{
	qt_tensor dy = grad_view(net, n);
	return dx[0] ? qt_global_avgpool2d_backward(dx[0], &dy, &net->ctx) : 0;
}

/* ---- flatten: a view of its input's buffer where the memory plan
 * could make it one (always for the output; for the gradient when the
 * input has no other consumer), else a copy ---- */

static int flatten_build(qt_build *b, qt_net *net, qt_node *n)
{
	const qt_node *x = input(net, n, 0);
	n->ndim = 1;
	n->shape[0] = qt_shape_numel(x->ndim, x->shape);
	return 0;
}

static int flatten_forward(qt_net *net, qt_node *n)
{
	qt_tensor y = out_view(net, n);
	const void *x = input(net, n, 0)->out->data;
	if (y.data != x)
		memcpy(y.data, x, qt_tensor_nbytes(&y));
	return 0;
}

static int flatten_backward(qt_net *net, qt_node *n, qt_tensor *const *dx,
			    const int *acc)
{
	qt_tensor dy = grad_view(net, n);
	if (dx[0] && dx[0]->data != dy.data)
		memcpy(dx[0]->data, dy.data, qt_tensor_nbytes(&dy));
	return 0;
}

/* ---- elementwise activations and softmax ---- */

static int same_shape_build(qt_build *b, qt_net *net, qt_node *n)
{
	const qt_node *x = input(net, n, 0);
	n->ndim = x->ndim;
	memcpy(n->shape, x->shape, sizeof n->shape);
	return 0;
}

#define ACTIVATION(NAME)                                                   \
	static int NAME##_fwd(qt_net *net, qt_node *n)                     \
	{                                                                  \
		qt_tensor y = out_view(net, n), x = in_view(net, n, 0);    \
		return qt_##NAME##_forward(&y, &x, &net->ctx);             \
	}                                                                  \
	static int NAME##_bwd(qt_net *net, qt_node *n,                     \
			      qt_tensor *const *dx, const int *acc)        \
	{                                                                  \
		qt_tensor dy = grad_view(net, n), y = out_view(net, n);    \
		return dx[0] ? qt_##NAME##_backward(dx[0], &dy, &y,         \
						    &net->ctx) : 0;        \
	}
ACTIVATION(relu)
ACTIVATION(sigmoid)
ACTIVATION(tanh)
ACTIVATION(softmax)

/* ---- dropout ---- */

static int dropout_build(qt_build *b, qt_net *net, qt_node *n)
{
	int rc = bopt_double(b, "p", 0.5, 0, 0.999, &n->dopt[0]);
	if (rc < 0)
		return rc;
	same_shape_build(b, net, n);
	return qt_node_aux(net, n, 0, QT_U8, 1, n->ndim, n->shape);
}

static int dropout_forward(qt_net *net, qt_node *n)
{
	qt_tensor y = out_view(net, n), x = in_view(net, n, 0);
	qt_tensor mask = qt_rows(n->aux[0], net->n);
	return qt_dropout_forward(&y, net->training ? &mask : NULL, &x,
				  n->dopt[0], net->training, &net->rng,
				  &net->ctx);
}

static int dropout_backward(qt_net *net, qt_node *n, qt_tensor *const *dx,
			    const int *acc)
{
	qt_tensor dy = grad_view(net, n), mask = qt_rows(n->aux[0], net->n);
	return dx[0] ? qt_dropout_backward(dx[0], &dy, net->training ? &mask
								     : NULL,
					   n->dopt[0], net->training, &net->ctx)
		     : 0;
}

/* ---- batchnorm: 1d over features (C) or (C, L), 2d over (C, H, W) ---- */

static int batchnorm_build(qt_build *b, qt_net *net, qt_node *n)
{
	const qt_node *x = input(net, n, 0);
	int affine, rc;
	int64_t c;
	if ((rc = bopt_double(b, "momentum", QT_BN_MOMENTUM, 0, 1,
			      &n->dopt[0])) < 0 ||
	    (rc = bopt_double(b, "eps", QT_BN_EPS, 1e-12, 1, &n->dopt[1])) < 0 ||
	    (rc = bopt_bool(b, "affine", 1, &affine)) < 0)
		return rc;
	if (x->ndim < 1)
		return bopt_fail(b, QT_ESHAPE, "needs a channel dimension");
	same_shape_build(b, net, n);
	c = x->shape[0];
	n->iopt[0] = affine;
	if (affine) {
		qt_param *g = qt_node_param(net, n, "weight", 1, &c, 1);
		qt_param *be = g ? qt_node_param(net, n, "bias", 1, &c, 1) : NULL;
		if (!be)
			return QT_ENOMEM;
		qt_init_ones(g->value, &net->ctx);
	}
	qt_param *rm = qt_node_param(net, n, "running_mean", 1, &c, 0);
	qt_param *rv = rm ? qt_node_param(net, n, "running_var", 1, &c, 0) : NULL;
	if (!rv)
		return QT_ENOMEM;
	qt_init_ones(rv->value, &net->ctx);
	if ((rc = qt_node_aux(net, n, 0, net->dtype, 0, 1, &c)) < 0 ||
	    (rc = qt_node_aux(net, n, 1, net->dtype, 0, 1, &c)) < 0)
		return rc;
	return 0;
}

static int batchnorm_forward(qt_net *net, qt_node *n)
{
	qt_tensor y = out_view(net, n), x = in_view(net, n, 0);
	int a = n->iopt[0];
	/* Recomputed inside backward (nn/plan.c): the same batch
	 * statistics again, the running ones already updated. */
	int keep = net->recompute && net->training;
	if (net->training && net->n < 2)
		return qt_error(QT_ESHAPE, "batch normalisation needs at least "
				"2 samples per batch in training");
	return qt_batchnorm_forward(&y, n->aux[0], n->aux[1],
				    keep ? NULL : n->params[a ? 2 : 0].value,
				    keep ? NULL : n->params[a ? 3 : 1].value, &x,
				    a ? n->params[0].value : NULL,
				    a ? n->params[1].value : NULL, net->training,
				    n->dopt[0], n->dopt[1], &net->ctx);
}

static int batchnorm_backward(qt_net *net, qt_node *n, qt_tensor *const *dx,
			      const int *acc)
{
	qt_tensor dy = grad_view(net, n), x = in_view(net, n, 0);
	int a = n->iopt[0];
	return qt_batchnorm_backward(dx[0], a ? n->params[0].grad : NULL,
				     a ? n->params[1].grad : NULL, &dy, &x,
				     n->aux[0], n->aux[1],
				     a ? n->params[0].value : NULL,
				     net->training, &net->ctx);
}

/* ---- concat and add (several inputs; they accumulate themselves) ---- */

static int concat_build(qt_build *b, qt_net *net, qt_node *n)
{
	const qt_node *x0 = input(net, n, 0);
	int axis, rc;
	char s1[96], s2[96];
	if ((rc = bopt_int(b, "axis", 1, 1, QT_MAX_DIMS - 1, &axis)) < 0)
		return rc;
	if (axis > x0->ndim)
		return bopt_fail(b, QT_ESHAPE, "axis %d is past the input's "
				 "%d dimensions (axis 1 is the first "
				 "per-sample one)", axis, x0->ndim);
	n->ndim = x0->ndim;
	memcpy(n->shape, x0->shape, sizeof n->shape);
	n->shape[axis - 1] = 0;
	for (int k = 0; k < n->nin; k++) {
		const qt_node *x = input(net, n, k);
		int ok = x->ndim == x0->ndim;
		for (int d = 0; ok && d < x->ndim; d++)
			ok = d == axis - 1 || x->shape[d] == x0->shape[d];
		if (!ok)
			return bopt_fail(b, QT_ESHAPE, "cannot join %s ('%s') and "
					 "%s ('%s') along axis %d",
					 qt_shape_str(s1, sizeof s1, x0->ndim,
						      x0->shape), x0->name,
					 qt_shape_str(s2, sizeof s2, x->ndim,
						      x->shape), x->name, axis);
		n->shape[axis - 1] += x->shape[axis - 1];
	}
	n->iopt[0] = axis - 1;
	return 0;
}

/* Rows of `outer` blocks: each input contributes `inner * its axis size`
 * contiguous elements per block. */
static int concat_pass(qt_net *net, qt_node *n, qt_tensor *const *dx,
		       const int *acc, int backward)
{
	int ax = n->iopt[0];
	size_t es = qt_dtype_size(net->dtype);
	int64_t outer = net->n, inner = 1, total = n->shape[ax], off = 0;
	for (int d = 0; d < ax; d++)
		outer *= n->shape[d];
	for (int d = ax + 1; d < n->ndim; d++)
		inner *= n->shape[d];
	for (int k = 0; k < n->nin; k++) {
		const qt_node *x = input(net, n, k);
		int64_t len = x->shape[ax] * inner;
		if (backward && !dx[k]) {
			off += len;
			continue;
		}
		for (int64_t o = 0; o < outer; o++) {
			char *whole = (char *)(backward ? n->grad : n->out)->data +
				      (size_t)(o * total * inner + off) * es;
			char *part = (char *)(backward ? dx[k]->data : x->out->data)
				     + (size_t)(o * len) * es;
			if (!backward) {
				memcpy(whole, part, (size_t)len * es);
			} else if (!acc[k]) {
				memcpy(part, whole, (size_t)len * es);
			} else if (net->dtype == QT_F32) {
				for (int64_t i = 0; i < len; i++)
					((float *)part)[i] += ((float *)whole)[i];
			} else {
				for (int64_t i = 0; i < len; i++)
					((double *)part)[i] += ((double *)whole)[i];
			}
		}
		off += len;
	}
	return 0;
}

static int concat_forward(qt_net *net, qt_node *n)
{
	return concat_pass(net, n, NULL, NULL, 0);
}

static int concat_backward(qt_net *net, qt_node *n, qt_tensor *const *dx,
			   const int *acc)
{
	return concat_pass(net, n, dx, acc, 1);
}

static int add_build(qt_build *b, qt_net *net, qt_node *n)
{
	const qt_node *x0 = input(net, n, 0);
	char s1[96], s2[96];
	for (int k = 1; k < n->nin; k++) {
		const qt_node *x = input(net, n, k);
		if (x->ndim != x0->ndim || memcmp(x->shape, x0->shape,
						  (size_t)x->ndim * sizeof *x->shape))
			return bopt_fail(b, QT_ESHAPE, "cannot add %s ('%s') and "
					 "%s ('%s')",
					 qt_shape_str(s1, sizeof s1, x0->ndim,
						      x0->shape), x0->name,
					 qt_shape_str(s2, sizeof s2, x->ndim,
						      x->shape), x->name);
	}
	return same_shape_build(b, net, n);
}

static int add_forward(qt_net *net, qt_node *n)
{
	qt_tensor y = out_view(net, n);
	int64_t cnt = qt_tensor_numel(&y);
	memcpy(y.data, input(net, n, 0)->out->data, qt_tensor_nbytes(&y));
	for (int k = 1; k < n->nin; k++) {
		const void *x = input(net, n, k)->out->data;
		if (net->dtype == QT_F32)
			for (int64_t i = 0; i < cnt; i++)
				((float *)y.data)[i] += ((const float *)x)[i];
		else
			for (int64_t i = 0; i < cnt; i++)
				((double *)y.data)[i] += ((const double *)x)[i];
	}
	return 0;
}

static int add_backward(qt_net *net, qt_node *n, qt_tensor *const *dx,
			const int *acc)
{
	qt_tensor dy = grad_view(net, n);
	int64_t cnt = qt_tensor_numel(&dy);
	for (int k = 0; k < n->nin; k++) {
		if (!dx[k])
			continue;
		if (!acc[k])
			memcpy(dx[k]->data, dy.data, qt_tensor_nbytes(&dy));
		else if (net->dtype == QT_F32)
			for (int64_t i = 0; i < cnt; i++)
				((float *)dx[k]->data)[i] += ((float *)dy.data)[i];
		else
			for (int64_t i = 0; i < cnt; i++)
				((double *)dx[k]->data)[i] += ((double *)dy.data)[i];
	}
	return 0;
}

/* ---- the table ---- */

/* Memory-plan flags (layer.h): what backward reads, what may run in
 * place or be recomputed. */
#define ROW QT_LF_ROWWISE
#define ACT (QT_LF_BWD_Y | QT_LF_INPLACE | QT_LF_CHEAP | ROW)

static const qt_layer layers[] = {
	{"dense", {"units"}, 1, 1, dense_build, dense_forward, dense_backward, 0,
	 QT_LF_BWD_X | QT_LF_PURE | ROW},
	{"conv2d", {"filters"}, 1, 1, conv2d_build, conv2d_forward,
	 conv2d_backward, 0, QT_LF_BWD_X | QT_LF_PURE | ROW},
	{"maxpool2d", {"size"}, 1, 1, maxpool_build, maxpool_forward,
	 maxpool_backward, 0, QT_LF_CHEAP | ROW},
	{"avgpool2d", {"size"}, 1, 1, avgpool_build, avgpool_forward,
	 avgpool_backward, 0, QT_LF_CHEAP | ROW},
	{"global_avgpool2d", {NULL}, 1, 1, gap_build, gap_forward, gap_backward,
	 0, QT_LF_CHEAP | ROW},
	{"flatten", {NULL}, 1, 1, flatten_build, flatten_forward,
	 flatten_backward, 0, QT_LF_VIEW | ROW},
	{"relu", {NULL}, 1, 1, same_shape_build, relu_fwd, relu_bwd, 0, ACT},
	{"sigmoid", {NULL}, 1, 1, same_shape_build, sigmoid_fwd, sigmoid_bwd, 0,
	 ACT},
	{"tanh", {NULL}, 1, 1, same_shape_build, tanh_fwd, tanh_bwd, 0, ACT},
	{"softmax", {NULL}, 1, 1, same_shape_build, softmax_fwd, softmax_bwd, 0,
	 ACT},
	{"dropout", {"p"}, 1, 1, dropout_build, dropout_forward,
	 dropout_backward, 0, 0},
	{"batchnorm", {NULL}, 1, 1, batchnorm_build, batchnorm_forward,
	 batchnorm_backward, 0, QT_LF_BWD_X | QT_LF_CHEAP},
	{"concat", {NULL}, 2, QT_NODE_MAX_IN, concat_build, concat_forward,
	 concat_backward, 1, QT_LF_CHEAP | ROW},
	{"add", {NULL}, 2, QT_NODE_MAX_IN, add_build, add_forward, add_backward,
	 1, QT_LF_CHEAP | ROW},
};

const qt_layer *qt_layer_find(const char *name)
{
	for (size_t i = 0; i < sizeof layers / sizeof layers[0]; i++)
		if (!strcmp(layers[i].name, name))
			return &layers[i];
	return NULL;
}

const char *qt_layer_names(void)
{
	static char buf[512];
	if (!buf[0])
		for (size_t i = 0; i < sizeof layers / sizeof layers[0]; i++) {
			size_t l = strlen(buf);
			snprintf(buf + l, sizeof buf - l, "%s%s", i ? ", " : "",
				 layers[i].name);
		}
	return buf;
}
