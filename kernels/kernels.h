/* kernels.h: every op of the quanta kernel library, forward and backward.
 *
 * Conventions (docs/KERNELS.md has the long form):
 *  - Tensor-level functions qt_OP_forward / qt_OP_backward take outputs
 *    first, then inputs, then options, then the context.  Every tensor
 *    argument carries its shape in a comment.  They check dtypes, shapes
 *    and devices, then dispatch on (device, dtype) to a CPU function
 *    (kernels/OP.c, float32 and float64) or its CUDA twin (kernels/OP.cu).
 *  - Kernels never allocate and never exit.  Scratch space is passed in by
 *    the caller (see the *_workspace functions); whatever backward needs is
 *    saved by forward into buffers the caller owns.
 *  - Backward accumulates (+=) into parameter gradients (dW, db, ...) and
 *    OVERWRITES the input gradient (dx) unless its comment says otherwise.
 *    The trainer zeroes parameter gradients once per step.
 *  - Return 0 or a negative QT_E* code (common/error.h) with a message.
 */
#ifndef QT_KERNELS_H
#define QT_KERNELS_H

#include "common/tensor.h"
#include "common/error.h"

struct qt_pool;

/* Execution context of an op: the device and its resources. */
typedef struct qt_ctx {
	qt_device device;
	struct qt_pool *pool; /* CPU thread pool; NULL runs on the caller */
	void *cuda;           /* CUDA backend state when device == QT_CUDA */
} qt_ctx;

/* ==== part 1: dense, convolution, pooling, activations ==== */
/*
 * Part 1 ops take float32 or float64 tensors, all of one dtype, on the
 * context's device (ctx == NULL means the CPU without a thread pool).
 * Shape or dtype mismatches return QT_ESHAPE, NULL or out-of-range options
 * QT_EUSAGE, a missing CUDA kernel QT_ENODEV; the message names the op and
 * the shapes.  With ctx->pool the CPU kernels split their work over the
 * pool (one level of parallelism: BLAS runs single-threaded inside), and
 * their results are the same bit for bit for every pool size, 1 included.
 * Without a pool, OpenBLAS may thread a GEMM itself, which can change the
 * last bits; trainers that promise reproducibility use a pool.
 *
 * Flatten needs no kernel: a C-ordered (N, C, H, W) tensor already is an
 * (N, C*H*W) one; give the next op a header with the new shape over the
 * same data (qt_tensor_wrap), and reshape the gradient back the same way.
 */

/* Dense layer, torch.nn.Linear: y = x W^T + b over the last dimension.
 * x (..., in) and y (..., out) have equal leading dimensions (M rows). */
int qt_dense_forward(qt_tensor *y /* (..., out) */,
		     const qt_tensor *x /* (..., in) */,
		     const qt_tensor *w /* (out, in) */,
		     const qt_tensor *b /* (out) or NULL */, qt_ctx *ctx);

/* dx = dy W            OVERWRITES; NULL when not needed (first layer)
 * dw += dy^T x         accumulates; NULL for frozen weights
 * db += sum_rows dy    accumulates; NULL when the layer has no bias */
int qt_dense_backward(qt_tensor *dx /* (..., in) or NULL */,
		      qt_tensor *dw /* (out, in) or NULL */,
		      qt_tensor *db /* (out) or NULL */,
		      const qt_tensor *dy /* (..., out) */,
		      const qt_tensor *x /* (..., in) */,
		      const qt_tensor *w /* (out, in) */, qt_ctx *ctx);

/* 2-D convolution options: strides and zero padding per side. */
typedef struct qt_conv2d_opts {
	int stride_h, stride_w; /* >= 1 */
	int pad_top, pad_left, pad_bottom, pad_right; /* >= 0 */
} qt_conv2d_opts;

/* Output length of a sliding window: floor((in + pad_before + pad_after
 * - k) / stride) + 1, or 0 when the window does not fit or an argument is
 * out of range (k < 1, stride < 1, negative padding). */
int64_t qt_window_out_size(int64_t in, int64_t k, int stride, int pad_before,
			   int pad_after);

/* 'same' padding for opt's strides: out = ceil(in / stride), total padding
 * max((out - 1) * stride + k - in, 0), split with the odd pixel at the
 * bottom/right.  For stride 1 this is PyTorch's padding='same' (even
 * kernels included); for any stride it is Keras/TensorFlow's 'same'.
 * 'valid' is all pads 0.  Reads opt->stride_h/w (>= 1, else QT_EUSAGE),
 * writes the four pads. */
int qt_conv2d_same_padding(qt_conv2d_opts *opt, int64_t h, int64_t w,
			   int64_t kh, int64_t kw);

/* Bytes of workspace that qt_conv2d_forward and qt_conv2d_backward need for
 * these shapes, options and ctx (the thread count matters): the im2col
 * tiles of each thread and the per-slot weight-gradient partial sums.  May
 * be 0.  The workspace lives on ctx's device, aligned for the dtype
 * (qt_alloc gives 64 bytes); one buffer serves both directions. */
int qt_conv2d_workspace(size_t *bytes, const qt_tensor *x /* (N, Cin, H, W) */,
			const qt_tensor *w /* (Cout, Cin, KH, KW) */,
			const qt_conv2d_opts *opt, const qt_ctx *ctx);

/* torch.nn.functional.conv2d(F.pad(x, (left, right, top, bottom)), w, b,
 * stride): OH = qt_window_out_size(H, KH, stride_h, pad_top, pad_bottom),
 * OW likewise.  work_bytes must be at least qt_conv2d_workspace(), else
 * QT_EUSAGE. */
int qt_conv2d_forward(qt_tensor *y /* (N, Cout, OH, OW) */,
		      const qt_tensor *x /* (N, Cin, H, W) */,
		      const qt_tensor *w /* (Cout, Cin, KH, KW) */,
		      const qt_tensor *b /* (Cout) or NULL */,
		      const qt_conv2d_opts *opt, void *work, size_t work_bytes,
		      qt_ctx *ctx);

/* dx           OVERWRITES; NULL when not needed (first layer)
 * dw += ...    accumulates; NULL for frozen weights
 * db += ...    accumulates (sum of dy over N, OH, OW); NULL without bias */
int qt_conv2d_backward(qt_tensor *dx /* (N, Cin, H, W) or NULL */,
		       qt_tensor *dw /* (Cout, Cin, KH, KW) or NULL */,
		       qt_tensor *db /* (Cout) or NULL */,
		       const qt_tensor *dy /* (N, Cout, OH, OW) */,
		       const qt_tensor *x /* (N, Cin, H, W) */,
		       const qt_tensor *w /* (Cout, Cin, KH, KW) */,
		       const qt_conv2d_opts *opt, void *work,
		       size_t work_bytes, qt_ctx *ctx);

/* Max pooling, torch.nn.MaxPool2d(kernel_size=(kh, kw), stride=(sh, sw))
 * without padding, floor mode: OH = floor((H - kh) / sh) + 1.  A stride of
 * 0 means the kernel size (PyTorch's default).  argmax receives, like
 * return_indices=True, the index ih * W + iw of each maximum inside its
 * (H, W) plane (the first one on ties; a NaN wins and propagates). */
int qt_maxpool2d_forward(qt_tensor *y /* (N, C, OH, OW) */,
			 qt_tensor *argmax /* int32 (N, C, OH, OW) */,
			 const qt_tensor *x /* (N, C, H, W) */, int kh, int kw,
			 int sh, int sw, qt_ctx *ctx);

/* dx OVERWRITTEN: dy routed to the saved argmax positions (summed where
 * overlapping windows share a maximum). */
int qt_maxpool2d_backward(qt_tensor *dx /* (N, C, H, W) */,
			  const qt_tensor *dy /* (N, C, OH, OW) */,
			  const qt_tensor *argmax /* int32 (N, C, OH, OW) */,
			  qt_ctx *ctx);

/* Average pooling, torch.nn.AvgPool2d(kernel_size, stride) without padding
 * (so count_include_pad does not matter), floor mode; shapes and stride
 * default as for max pooling. */
int qt_avgpool2d_forward(qt_tensor *y /* (N, C, OH, OW) */,
			 const qt_tensor *x /* (N, C, H, W) */, int kh, int kw,
			 int sh, int sw, qt_ctx *ctx);

/* dx OVERWRITTEN: each dy spread evenly over its window. */
int qt_avgpool2d_backward(qt_tensor *dx /* (N, C, H, W) */,
			  const qt_tensor *dy /* (N, C, OH, OW) */, int kh,
			  int kw, int sh, int sw, qt_ctx *ctx);

/* Global average pooling, x.mean(dim=(2, 3)) (AdaptiveAvgPool2d(1) then
 * flatten); y may also be shaped (N, C, 1, 1). */
int qt_global_avgpool2d_forward(qt_tensor *y /* (N, C) */,
				const qt_tensor *x /* (N, C, H, W) */,
				qt_ctx *ctx);

/* dx OVERWRITTEN: dx[n, c, :, :] = dy[n, c] / (H * W). */
int qt_global_avgpool2d_backward(qt_tensor *dx /* (N, C, H, W) */,
				 const qt_tensor *dy /* (N, C) */,
				 qt_ctx *ctx);

/* Elementwise activations on tensors of any (equal) shape.  Forward may
 * run in place (y == x), backward too (dx == dy).  Backward takes the
 * saved OUTPUT y, as PyTorch's autograd does, and OVERWRITES dx:
 *   relu     y = max(x, 0)           dx = y > 0 ? dy : 0    (torch.relu)
 *   sigmoid  y = 1 / (1 + exp(-x))   dx = dy * (1 - y) * y  (torch.sigmoid)
 *   tanh     y = tanh(x)             dx = dy * (1 - y * y)  (torch.tanh) */
int qt_relu_forward(qt_tensor *y, const qt_tensor *x, qt_ctx *ctx);
int qt_relu_backward(qt_tensor *dx, const qt_tensor *dy, const qt_tensor *y,
		     qt_ctx *ctx);
int qt_sigmoid_forward(qt_tensor *y, const qt_tensor *x, qt_ctx *ctx);
int qt_sigmoid_backward(qt_tensor *dx, const qt_tensor *dy,
			const qt_tensor *y, qt_ctx *ctx);
int qt_tanh_forward(qt_tensor *y, const qt_tensor *x, qt_ctx *ctx);
int qt_tanh_backward(qt_tensor *dx, const qt_tensor *dy, const qt_tensor *y,
		     qt_ctx *ctx);

/* ==== end of part 1 ==== */

/* ==== part 2: losses, softmax, dropout, normalisation, optimizers, init ==== */

/* Part 2 follows PyTorch's definitions and defaults; each kernel file
 * (kernels/softmax.c, cross_entropy.c, mse.c, dropout.c, batchnorm.c,
 * optim.c, init.c) names its torch reference.  Float tensors are float32
 * or float64, all of one dtype per call; losses are returned as double.
 * Tensors live on the context's device; `ctx` may be NULL (the CPU, on
 * the caller's thread; of part 2 only batch normalisation and Adam use
 * ctx->pool, with the same results for every thread count).  Only the
 * CPU is implemented so far.
 * Errors: QT_ESHAPE for a wrong dtype or shape (the message names the
 * argument and the shapes), QT_EUSAGE for a NULL tensor where one is
 * needed, an option out of range or a tensor not on ctx's device,
 * QT_EFORMAT for class targets outside [0, C), QT_ENODEV on a CUDA
 * context. */

struct qt_rng;

/* ---- softmax and log-softmax over the last dimension ----
 * torch.softmax(x, -1) and torch.log_softmax(x, -1), numerically stable.
 * Forward overwrites y; backward takes the forward OUTPUT y and overwrites
 * dx.  In place is allowed (y == x, dx == dy). */
int qt_softmax_forward(qt_tensor *y /* (..., C) */,
		       const qt_tensor *x /* (..., C) */, qt_ctx *ctx);
int qt_softmax_backward(qt_tensor *dx /* (..., C) */,
			const qt_tensor *dy /* (..., C) */,
			const qt_tensor *y /* (..., C) softmax output */,
			qt_ctx *ctx);
int qt_log_softmax_forward(qt_tensor *y /* (..., C) */,
			   const qt_tensor *x /* (..., C) */, qt_ctx *ctx);
int qt_log_softmax_backward(qt_tensor *dx /* (..., C) */,
			    const qt_tensor *dy /* (..., C) */,
			    const qt_tensor *y /* (..., C) log_softmax output */,
			    qt_ctx *ctx);

/* ---- cross-entropy from logits, class targets ----
 * F.cross_entropy(logits, target, weight, reduction='mean') with the class
 * dimension 1 as in torch: logits (N, C) with target (N), or logits
 * (N, C, d1, ...) with target (N, d1, ...) for per-pixel labels (e.g.
 * (N, C, P) with target (N, P) for HEALPix maps).  With weight, the mean
 * is torch's weighted mean: sum w[t] * nll / sum w[t] over all samples.
 * Targets must be in [0, C) (there is no ignore_index).
 * Forward writes the loss and the softmax probabilities `prob`, which
 * backward needs.  Backward overwrites dlogits with dloss * dL/dlogits
 * (dloss is the upstream gradient of the loss, 1 for a plain loss). */
int qt_cross_entropy_forward(double *loss,
			     qt_tensor *prob /* (N, C, ...) */,
			     const qt_tensor *logits /* (N, C, ...) */,
			     const qt_tensor *target /* (N, ...) int64 */,
			     const qt_tensor *weight /* (C) or NULL */,
			     qt_ctx *ctx);
int qt_cross_entropy_backward(qt_tensor *dlogits /* (N, C, ...) */,
			      const qt_tensor *prob /* (N, C, ...) from forward */,
			      const qt_tensor *target /* (N, ...) int64 */,
			      const qt_tensor *weight /* (C) or NULL */,
			      double dloss, qt_ctx *ctx);

/* ---- binary cross-entropy with logits ----
 * F.binary_cross_entropy_with_logits(x, t, reduction='mean'), stable for
 * large |x|; targets are probabilities in [0, 1] of x's dtype.
 * Backward overwrites dlogits. */
int qt_bce_logits_forward(double *loss, const qt_tensor *logits /* (...) */,
			  const qt_tensor *target /* same shape */,
			  qt_ctx *ctx);
int qt_bce_logits_backward(qt_tensor *dlogits /* same shape */,
			   const qt_tensor *logits /* (...) */,
			   const qt_tensor *target /* same shape */,
			   double dloss, qt_ctx *ctx);

/* ---- mean squared error ----
 * F.mse_loss(pred, target, reduction='mean').  Backward overwrites dpred
 * with dloss * 2 (pred - target) / numel. */
int qt_mse_forward(double *loss, const qt_tensor *pred /* (N, ...) */,
		   const qt_tensor *target /* same shape */, qt_ctx *ctx);
int qt_mse_backward(qt_tensor *dpred /* (N, ...) */,
		    const qt_tensor *pred /* (N, ...) */,
		    const qt_tensor *target /* same shape */,
		    double dloss, qt_ctx *ctx);

/* ---- dropout ----
 * F.dropout(x, p, training): inverted dropout, kept elements scaled by
 * 1 / (1 - p), p in [0, 1].  In training forward draws the mask (one
 * uint8 per element, 1 = kept; QT_U8 or QT_BOOL, same element count as x)
 * from rng; in evaluation y = x and mask and rng may be NULL.  Backward
 * overwrites dx = dy * mask / (1 - p) (dx = dy in evaluation).  In place
 * is allowed (y == x, dx == dy). */
int qt_dropout_forward(qt_tensor *y /* (...) */,
		       qt_tensor *mask /* (...) uint8, or NULL in eval */,
		       const qt_tensor *x /* (...) */, double p, int training,
		       struct qt_rng *rng, qt_ctx *ctx);
int qt_dropout_backward(qt_tensor *dx /* (...) */,
			const qt_tensor *dy /* (...) */,
			const qt_tensor *mask /* (...) uint8, or NULL in eval */,
			double p, int training, qt_ctx *ctx);

/* ---- batch normalisation ----
 * torch.nn.BatchNorm1d on (N, C) or (N, C, L), BatchNorm2d on (N, C, H, W):
 * statistics per channel (dim 1) over all other dims.
 * Training: normalise with the batch mean and BIASED variance; update
 * running_mean/running_var (if not NULL) with
 *     running = (1 - momentum) running + momentum * batch_stat,
 * using the UNBIASED batch variance; needs more than one value per channel.
 * Evaluation: normalise with running_mean/running_var (required).
 * y = (x - mean) / sqrt(var + eps) * gamma + beta; gamma/beta NULL mean
 * affine=False.  Forward saves mean and 1/sqrt(var + eps) in save_mean/
 * save_invstd for backward (may be NULL in evaluation when no backward
 * follows).  torch defaults: momentum QT_BN_MOMENTUM, eps QT_BN_EPS.
 * Keras' BatchNormalization(momentum=0.9, epsilon=1e-3) is momentum 0.1,
 * eps 1e-3 here (Keras' momentum weighs the old value, torch's the new
 * one; Keras also uses the biased variance for its moving variance, so
 * moving variances differ by the factor M/(M-1) of each batch).
 * Backward: dx OVERWRITTEN (NULL when not needed); dgamma, dbeta
 * ACCUMULATED (+=), NULL to skip; `training` must be the forward's.
 * dx may be dy (in place). */
#define QT_BN_MOMENTUM 0.1
#define QT_BN_EPS 1e-5
int qt_batchnorm_forward(qt_tensor *y /* (N, C, ...) */,
			 qt_tensor *save_mean /* (C) */,
			 qt_tensor *save_invstd /* (C) */,
			 qt_tensor *running_mean /* (C) in/out, or NULL */,
			 qt_tensor *running_var /* (C) in/out, or NULL */,
			 const qt_tensor *x /* (N, C, ...) */,
			 const qt_tensor *gamma /* (C) or NULL */,
			 const qt_tensor *beta /* (C) or NULL */,
			 int training, double momentum, double eps,
			 qt_ctx *ctx);
int qt_batchnorm_backward(qt_tensor *dx /* (N, C, ...) or NULL */,
			  qt_tensor *dgamma /* (C) +=, or NULL */,
			  qt_tensor *dbeta /* (C) +=, or NULL */,
			  const qt_tensor *dy /* (N, C, ...) */,
			  const qt_tensor *x /* (N, C, ...) forward input */,
			  const qt_tensor *save_mean /* (C) from forward */,
			  const qt_tensor *save_invstd /* (C) from forward */,
			  const qt_tensor *gamma /* (C) or NULL */,
			  int training, qt_ctx *ctx);

/* ---- optimizers ----
 * In-place updates of one parameter tensor from its gradient, with
 * torch.optim's formulas (kernels/optim.c lists them).  param, grad and
 * every state buffer have the same dtype and element count; state buffers
 * are zeroed by the caller before step 1 and kept between steps (they are
 * torch's momentum_buffer, exp_avg, exp_avg_sq, max_exp_avg_sq, exp_inf).
 * `step` counts the calls, 1 at the first: torch's state['step'] after its
 * increment, used for the bias corrections (and by SGD to start the
 * momentum buffer).  The *_defaults functions return torch's defaults. */
typedef struct qt_sgd_opts {
	double lr, momentum, dampening, weight_decay;
	int nesterov; /* needs momentum > 0 and dampening 0 */
	int maximize;
} qt_sgd_opts;

typedef struct qt_adam_opts {
	double lr, beta1, beta2, eps;
	double weight_decay; /* Adam, Adamax: L2 added to grad; AdamW: decoupled */
	int amsgrad;         /* Adam and AdamW only */
	int maximize;
} qt_adam_opts;

/* SGD: momentum, dampening, weight decay 0 (torch has no default lr).
 * Adam: lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight decay 0.
 * AdamW: as Adam with weight decay 1e-2.  Adamax: as Adam with lr 2e-3. */
qt_sgd_opts qt_sgd_defaults(double lr);
qt_adam_opts qt_adam_defaults(void);
qt_adam_opts qt_adamw_defaults(void);
qt_adam_opts qt_adamax_defaults(void);

int qt_sgd_step(qt_tensor *param /* (...) */,
		qt_tensor *momentum_buf /* same; NULL when momentum is 0 */,
		const qt_tensor *grad /* same */, const qt_sgd_opts *opts,
		int64_t step, qt_ctx *ctx);
int qt_adam_step(qt_tensor *param /* (...) */, qt_tensor *exp_avg /* same */,
		 qt_tensor *exp_avg_sq /* same */,
		 qt_tensor *max_exp_avg_sq /* same with amsgrad, else NULL */,
		 const qt_tensor *grad /* same */, const qt_adam_opts *opts,
		 int64_t step, qt_ctx *ctx);
int qt_adamw_step(qt_tensor *param /* (...) */, qt_tensor *exp_avg /* same */,
		  qt_tensor *exp_avg_sq /* same */,
		  qt_tensor *max_exp_avg_sq /* same with amsgrad, else NULL */,
		  const qt_tensor *grad /* same */, const qt_adam_opts *opts,
		  int64_t step, qt_ctx *ctx);
int qt_adamax_step(qt_tensor *param /* (...) */,
		   qt_tensor *exp_avg /* same */, qt_tensor *exp_inf /* same */,
		   const qt_tensor *grad /* same */, const qt_adam_opts *opts,
		   int64_t step, qt_ctx *ctx);

/* ---- initialisers (torch.nn.init) ----
 * Fill a float tensor in place, drawing from rng in element order.
 * Fans as torch's _calculate_fan_in_and_fan_out: a weight of shape
 * (out, in) or (Cout, Cin, k1, k2, ...) has fan_in = in * k1 * k2 ...,
 * fan_out = out * k1 * k2 ...; fewer than 2 dims is QT_ESHAPE.
 * Gains as torch.nn.init.calculate_gain: linear, conv and sigmoid 1,
 * tanh 5/3, relu sqrt(2), leaky_relu sqrt(2 / (1 + slope^2)), selu 3/4. */
typedef enum qt_nonlinearity {
	QT_NL_LINEAR, QT_NL_SIGMOID, QT_NL_TANH, QT_NL_RELU,
	QT_NL_LEAKY_RELU, QT_NL_SELU
} qt_nonlinearity;

typedef enum qt_fan_mode { QT_FAN_IN, QT_FAN_OUT } qt_fan_mode;

/* `param` is the negative slope of leaky_relu, ignored otherwise. */
double qt_init_gain(qt_nonlinearity nl, double param);
int qt_init_fans(int64_t *fan_in, int64_t *fan_out,
		 const qt_tensor *w /* (out, in, ...) */);

int qt_init_constant(qt_tensor *w /* (...) */, double value, qt_ctx *ctx);
int qt_init_zeros(qt_tensor *w /* (...) */, qt_ctx *ctx);
int qt_init_ones(qt_tensor *w /* (...) */, qt_ctx *ctx);
/* U(lo, hi); N(mean, std^2) */
int qt_init_uniform(qt_tensor *w /* (...) */, double lo, double hi,
		    struct qt_rng *rng, qt_ctx *ctx);
int qt_init_normal(qt_tensor *w /* (...) */, double mean, double std,
		   struct qt_rng *rng, qt_ctx *ctx);
/* Glorot: U(-a, a), a = gain sqrt(6 / (fan_in + fan_out));
 * N(0, std^2), std = gain sqrt(2 / (fan_in + fan_out)).  torch gain: 1. */
int qt_init_xavier_uniform(qt_tensor *w /* (out, in, ...) */, double gain,
			   struct qt_rng *rng, qt_ctx *ctx);
int qt_init_xavier_normal(qt_tensor *w /* (out, in, ...) */, double gain,
			  struct qt_rng *rng, qt_ctx *ctx);
/* He: std = gain(nl, a) / sqrt(fan), fan = fan_in or fan_out by mode;
 * uniform U(-sqrt(3) std, sqrt(3) std) or normal N(0, std^2).
 * torch defaults: a 0, QT_FAN_IN, QT_NL_LEAKY_RELU (gain sqrt(2)). */
int qt_init_kaiming_uniform(qt_tensor *w /* (out, in, ...) */, double a,
			    qt_fan_mode mode, qt_nonlinearity nl,
			    struct qt_rng *rng, qt_ctx *ctx);
int qt_init_kaiming_normal(qt_tensor *w /* (out, in, ...) */, double a,
			   qt_fan_mode mode, qt_nonlinearity nl,
			   struct qt_rng *rng, qt_ctx *ctx);
/* torch's reset_parameters() of nn.Linear and nn.ConvNd: weight
 * kaiming_uniform(a = sqrt(5)), i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in)),
 * then bias (if not NULL) U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with the
 * weight's fan_in.  The weight is drawn first. */
int qt_init_torch_default(qt_tensor *weight /* (out, in, ...) */,
			  qt_tensor *bias /* (out) or NULL */,
			  struct qt_rng *rng, qt_ctx *ctx);

/* ==== end of part 2 ==== */

#endif
