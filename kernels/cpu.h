/* cpu.h: the CPU implementations behind kernels.h, one pair of functions
 * per op and dtype (suffix _f32 / _f64), on raw pointers.  Each is defined
 * once in kernels/OP.c through kernels/template.h. */
#ifndef QT_KERNELS_CPU_H
#define QT_KERNELS_CPU_H

#include <stddef.h>
#include <stdint.h>

struct qt_pool;

/* ==== part 1: dense, convolution, pooling, activations ==== */

/* Part 1 kernels take the thread pool (NULL: run on the caller); their
 * results do not depend on its thread count.  Arguments are checked by
 * kernels/dispatch.c: BLAS dimensions fit an int, buffers are big enough. */

/* dense: x (m, in), w (out, in), b (out) or NULL, y (m, out).
 * backward: dx overwritten, dw and db accumulated; each may be NULL. */
void qt_dense_forward_f32(float *y, const float *x, const float *w,
			  const float *b, int64_t m, int64_t in, int64_t out,
			  struct qt_pool *pool);
void qt_dense_forward_f64(double *y, const double *x, const double *w,
			  const double *b, int64_t m, int64_t in, int64_t out,
			  struct qt_pool *pool);
void qt_dense_backward_f32(float *dx, float *dw, float *db, const float *dy,
			   const float *x, const float *w, int64_t m,
			   int64_t in, int64_t out, struct qt_pool *pool);
void qt_dense_backward_f64(double *dx, double *dw, double *db,
			   const double *dy, const double *x, const double *w,
			   int64_t m, int64_t in, int64_t out,
			   struct qt_pool *pool);

/* conv2d geometry: x (n, cin, h, w), weight (cout, cin, kh, kw),
 * y (n, cout, oh, ow); output pixel (i, j) reads input rows
 * i*sh - pt + 0..kh-1 and columns j*sw - pl + 0..kw-1, zeros outside
 * (the bottom/right padding is implied by oh, ow). */
typedef struct qt_conv2d_geom {
	int64_t n, cin, h, w;
	int64_t cout, kh, kw;
	int64_t oh, ow;
	int sh, sw, pt, pl;
} qt_conv2d_geom;

/* Workspace bytes of the conv2d kernels for a pool of nthreads threads. */
size_t qt_conv2d_workspace_cpu(const qt_conv2d_geom *g, int nthreads,
			       size_t elsize);
/* forward: b may be NULL.  backward: dx overwritten, dw and db accumulated;
 * each may be NULL.  work: qt_conv2d_workspace_cpu() bytes. */
void qt_conv2d_forward_f32(float *y, const float *x, const float *w,
			   const float *b, const qt_conv2d_geom *g, void *work,
			   struct qt_pool *pool);
void qt_conv2d_forward_f64(double *y, const double *x, const double *w,
			   const double *b, const qt_conv2d_geom *g, void *work,
			   struct qt_pool *pool);
void qt_conv2d_backward_f32(float *dx, float *dw, float *db, const float *dy,
			    const float *x, const float *w,
			    const qt_conv2d_geom *g, void *work,
			    struct qt_pool *pool);
void qt_conv2d_backward_f64(double *dx, double *dw, double *db,
			    const double *dy, const double *x, const double *w,
			    const qt_conv2d_geom *g, void *work,
			    struct qt_pool *pool);

/* The algorithm behind the conv2d kernels.  QT_CONV2D_AUTO chooses by
 * shape (docs/KERNELS.md), as the functions above do; the others force a
 * path, for tests and benchmarks: QT_CONV2D_DIRECT the small-channel or
 * im2col + GEMM path, QT_CONV2D_WINOGRAD Winograd F(4x4, 3x3) wherever it
 * applies (3x3 kernel, stride 1; DIRECT otherwise).  The workspace must
 * be qt_conv2d_workspace_path() bytes for the same path. */
typedef enum qt_conv2d_path {
	QT_CONV2D_AUTO, QT_CONV2D_DIRECT, QT_CONV2D_WINOGRAD
} qt_conv2d_path;
size_t qt_conv2d_workspace_path(const qt_conv2d_geom *g, int nthreads,
				size_t elsize, qt_conv2d_path path);
void qt_conv2d_forward_path_f32(float *y, const float *x, const float *w,
				const float *b, const qt_conv2d_geom *g,
				void *work, struct qt_pool *pool,
				qt_conv2d_path path);
void qt_conv2d_forward_path_f64(double *y, const double *x, const double *w,
				const double *b, const qt_conv2d_geom *g,
				void *work, struct qt_pool *pool,
				qt_conv2d_path path);
void qt_conv2d_backward_path_f32(float *dx, float *dw, float *db,
				 const float *dy, const float *x,
				 const float *w, const qt_conv2d_geom *g,
				 void *work, struct qt_pool *pool,
				 qt_conv2d_path path);
void qt_conv2d_backward_path_f64(double *dx, double *dw, double *db,
				 const double *dy, const double *x,
				 const double *w, const qt_conv2d_geom *g,
				 void *work, struct qt_pool *pool,
				 qt_conv2d_path path);

/* pool2d geometry: nc planes of (h, w) in, (oh, ow) out, window (kh, kw),
 * stride (sh, sw), no padding. */
typedef struct qt_pool2d_geom {
	int64_t nc, h, w, oh, ow;
	int kh, kw, sh, sw;
} qt_pool2d_geom;

/* argmax: index ih*w + iw within the plane; backward overwrites dx */
void qt_maxpool2d_forward_f32(float *y, int32_t *argmax, const float *x,
			      const qt_pool2d_geom *g, struct qt_pool *pool);
void qt_maxpool2d_forward_f64(double *y, int32_t *argmax, const double *x,
			      const qt_pool2d_geom *g, struct qt_pool *pool);
void qt_maxpool2d_backward_f32(float *dx, const float *dy,
			       const int32_t *argmax, const qt_pool2d_geom *g,
			       struct qt_pool *pool);
void qt_maxpool2d_backward_f64(double *dx, const double *dy,
			       const int32_t *argmax, const qt_pool2d_geom *g,
			       struct qt_pool *pool);
void qt_avgpool2d_forward_f32(float *y, const float *x,
			      const qt_pool2d_geom *g, struct qt_pool *pool);
void qt_avgpool2d_forward_f64(double *y, const double *x,
			      const qt_pool2d_geom *g, struct qt_pool *pool);
void qt_avgpool2d_backward_f32(float *dx, const float *dy,
			       const qt_pool2d_geom *g, struct qt_pool *pool);
void qt_avgpool2d_backward_f64(double *dx, const double *dy,
			       const qt_pool2d_geom *g, struct qt_pool *pool);
/* global average over hw pixels of each of nc planes: y (nc) */
void qt_global_avgpool2d_forward_f32(float *y, const float *x, int64_t nc,
				     int64_t hw, struct qt_pool *pool);
void qt_global_avgpool2d_forward_f64(double *y, const double *x, int64_t nc,
				     int64_t hw, struct qt_pool *pool);
void qt_global_avgpool2d_backward_f32(float *dx, const float *dy, int64_t nc,
				      int64_t hw, struct qt_pool *pool);
void qt_global_avgpool2d_backward_f64(double *dx, const double *dy,
				      int64_t nc, int64_t hw,
				      struct qt_pool *pool);

/* activations over n elements; in place allowed; backward from the output
 * y, overwriting dx */
void qt_relu_forward_f32(float *y, const float *x, int64_t n,
			 struct qt_pool *pool);
void qt_relu_forward_f64(double *y, const double *x, int64_t n,
			 struct qt_pool *pool);
void qt_relu_backward_f32(float *dx, const float *dy, const float *y,
			  int64_t n, struct qt_pool *pool);
void qt_relu_backward_f64(double *dx, const double *dy, const double *y,
			  int64_t n, struct qt_pool *pool);
void qt_sigmoid_forward_f32(float *y, const float *x, int64_t n,
			    struct qt_pool *pool);
void qt_sigmoid_forward_f64(double *y, const double *x, int64_t n,
			    struct qt_pool *pool);
void qt_sigmoid_backward_f32(float *dx, const float *dy, const float *y,
			     int64_t n, struct qt_pool *pool);
void qt_sigmoid_backward_f64(double *dx, const double *dy, const double *y,
			     int64_t n, struct qt_pool *pool);
void qt_tanh_forward_f32(float *y, const float *x, int64_t n,
			 struct qt_pool *pool);
void qt_tanh_forward_f64(double *y, const double *x, int64_t n,
			 struct qt_pool *pool);
void qt_tanh_backward_f32(float *dx, const float *dy, const float *y,
			  int64_t n, struct qt_pool *pool);
void qt_tanh_backward_f64(double *dx, const double *dy, const double *y,
			  int64_t n, struct qt_pool *pool);

/* ==== end of part 1 ==== */

/* ==== part 2: losses, softmax, dropout, normalisation, optimizers, init ==== */

struct qt_rng;

/* Part 2 kernels run on the caller's thread; arguments are checked by
 * kernels/dispatch.c (shapes, dtypes, class targets in [0, C)). */

/* softmax, log_softmax: x, y, dy, dx (rows, C); backward takes the forward
 * output y and overwrites dx; in place allowed. */
void qt_softmax_forward_f32(float *y, const float *x, int64_t rows,
			    int64_t C);
void qt_softmax_forward_f64(double *y, const double *x, int64_t rows,
			    int64_t C);
void qt_softmax_backward_f32(float *dx, const float *dy, const float *y,
			     int64_t rows, int64_t C);
void qt_softmax_backward_f64(double *dx, const double *dy, const double *y,
			     int64_t rows, int64_t C);
void qt_log_softmax_forward_f32(float *y, const float *x, int64_t rows,
				int64_t C);
void qt_log_softmax_forward_f64(double *y, const double *x, int64_t rows,
				int64_t C);
void qt_log_softmax_backward_f32(float *dx, const float *dy, const float *y,
				 int64_t rows, int64_t C);
void qt_log_softmax_backward_f64(double *dx, const double *dy, const double *y,
				 int64_t rows, int64_t C);

/* cross-entropy: logits, prob, dlogits (N, C, P), target (N, P), weight (C)
 * or NULL; forward writes *loss and prob; backward overwrites dlogits.
 * bce with logits: x, t, dx (n); backward overwrites dx. */
void qt_cross_entropy_forward_f32(double *loss, float *prob,
				  const float *logits,
				  const int64_t *target, const float *weight,
				  int64_t N, int64_t C, int64_t P);
void qt_cross_entropy_forward_f64(double *loss, double *prob,
				  const double *logits,
				  const int64_t *target, const double *weight,
				  int64_t N, int64_t C, int64_t P);
void qt_cross_entropy_backward_f32(float *dlogits, const float *prob,
				   const int64_t *target, const float *weight,
				   double dloss, int64_t N, int64_t C,
				   int64_t P);
void qt_cross_entropy_backward_f64(double *dlogits, const double *prob,
				   const int64_t *target, const double *weight,
				   double dloss, int64_t N, int64_t C,
				   int64_t P);
void qt_bce_logits_forward_f32(double *loss, const float *x, const float *t,
			       int64_t n);
void qt_bce_logits_forward_f64(double *loss, const double *x, const double *t,
			       int64_t n);
void qt_bce_logits_backward_f32(float *dx, const float *x, const float *t,
				double dloss, int64_t n);
void qt_bce_logits_backward_f64(double *dx, const double *x, const double *t,
				double dloss, int64_t n);

/* mse: pred, target, dpred (n); backward overwrites dpred. */
void qt_mse_forward_f32(double *loss, const float *pred, const float *target,
			int64_t n);
void qt_mse_forward_f64(double *loss, const double *pred, const double *target,
			int64_t n);
void qt_mse_backward_f32(float *dpred, const float *pred, const float *target,
			 double dloss, int64_t n);
void qt_mse_backward_f64(double *dpred, const double *pred,
			 const double *target, double dloss, int64_t n);

/* dropout: x, y, dy, dx (n), mask (n) 1 = kept (written by forward in
 * training, unused in evaluation); backward overwrites dx. */
void qt_dropout_forward_f32(float *y, uint8_t *mask, const float *x, int64_t n,
			    double p, int training, struct qt_rng *rng);
void qt_dropout_forward_f64(double *y, uint8_t *mask, const double *x,
			    int64_t n, double p, int training,
			    struct qt_rng *rng);
void qt_dropout_backward_f32(float *dx, const float *dy, const uint8_t *mask,
			     int64_t n, double p, int training);
void qt_dropout_backward_f64(double *dx, const double *dy, const uint8_t *mask,
			     int64_t n, double p, int training);

/* batchnorm: x, y, dy, dx (N, C, P); gamma, beta, running_mean/var,
 * save_mean/invstd, dgamma, dbeta (C).  NULL gamma/beta mean 1/0, NULL
 * running stats are not updated.  Backward overwrites dx (NULL: skipped)
 * and accumulates dgamma, dbeta (NULL: skipped).  Channels are shared
 * over the pool. */
void qt_batchnorm_forward_f32(float *y, float *save_mean, float *save_invstd,
			      float *running_mean, float *running_var,
			      const float *x, const float *gamma,
			      const float *beta, int64_t N, int64_t C,
			      int64_t P, int training, double momentum,
			      double eps, struct qt_pool *pool);
void qt_batchnorm_forward_f64(double *y, double *save_mean, double *save_invstd,
			      double *running_mean, double *running_var,
			      const double *x, const double *gamma,
			      const double *beta, int64_t N, int64_t C,
			      int64_t P, int training, double momentum,
			      double eps, struct qt_pool *pool);
void qt_batchnorm_backward_f32(float *dx, float *dgamma, float *dbeta,
			       const float *dy, const float *x,
			       const float *save_mean, const float *save_invstd,
			       const float *gamma, int64_t N, int64_t C,
			       int64_t P, int training, struct qt_pool *pool);
void qt_batchnorm_backward_f64(double *dx, double *dgamma, double *dbeta,
			       const double *dy, const double *x,
			       const double *save_mean, const double *save_invstd,
			       const double *gamma, int64_t N, int64_t C,
			       int64_t P, int training, struct qt_pool *pool);

/* optimizers: param, grad and state buffers (n), updated in place; step
 * is 1 at the first call; momentum_buf may be NULL when momentum is 0;
 * max_exp_avg_sq non-NULL means amsgrad; decoupled selects AdamW.  Adam
 * shares big tensors over the pool (NULL: the caller's thread). */
void qt_sgd_step_f32(float *param, float *momentum_buf, const float *grad,
		     int64_t n, double lr, double momentum, double dampening,
		     double weight_decay, int nesterov, int maximize,
		     int64_t step);
void qt_sgd_step_f64(double *param, double *momentum_buf, const double *grad,
		     int64_t n, double lr, double momentum, double dampening,
		     double weight_decay, int nesterov, int maximize,
		     int64_t step);
void qt_adam_step_f32(float *param, float *exp_avg, float *exp_avg_sq,
		      float *max_exp_avg_sq, const float *grad, int64_t n,
		      double lr, double beta1, double beta2, double eps,
		      double weight_decay, int decoupled, int maximize,
		      int64_t step, struct qt_pool *pool);
void qt_adam_step_f64(double *param, double *exp_avg, double *exp_avg_sq,
		      double *max_exp_avg_sq, const double *grad, int64_t n,
		      double lr, double beta1, double beta2, double eps,
		      double weight_decay, int decoupled, int maximize,
		      int64_t step, struct qt_pool *pool);
void qt_adamax_step_f32(float *param, float *exp_avg, float *exp_inf,
			const float *grad, int64_t n, double lr, double beta1,
			double beta2, double eps, double weight_decay,
			int maximize, int64_t step);
void qt_adamax_step_f64(double *param, double *exp_avg, double *exp_inf,
			const double *grad, int64_t n, double lr, double beta1,
			double beta2, double eps, double weight_decay,
			int maximize, int64_t step);

/* fill w (n): constant, uniform in [lo, hi), normal(mean, std^2). */
void qt_fill_constant_f32(float *w, int64_t n, double value);
void qt_fill_constant_f64(double *w, int64_t n, double value);
void qt_fill_uniform_f32(float *w, int64_t n, double lo, double hi,
			 struct qt_rng *rng);
void qt_fill_uniform_f64(double *w, int64_t n, double lo, double hi,
			 struct qt_rng *rng);
void qt_fill_normal_f32(float *w, int64_t n, double mean, double std,
			struct qt_rng *rng);
void qt_fill_normal_f64(double *w, int64_t n, double mean, double std,
			struct qt_rng *rng);
/* ==== end of part 2 ==== */

#endif
