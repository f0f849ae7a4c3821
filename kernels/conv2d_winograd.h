/* conv2d_winograd.h: the Winograd F(4x4, 3x3) path of kernels/conv2d.c,
 * for 3x3 convolutions with stride 1 (any padding).  Internal to the
 * kernel library: kernels/conv2d.c chooses it by shape and
 * kernels/conv2d_winograd.c implements it; the arguments and the
 * accumulate-or-overwrite rules are those of qt_conv2d_forward_f32 and
 * qt_conv2d_backward_f32 in kernels/cpu.h. */
#ifndef QT_KERNELS_CONV2D_WINOGRAD_H
#define QT_KERNELS_CONV2D_WINOGRAD_H

#include "kernels/cpu.h"

struct qt_pool;

/* 1 when g is a 3x3 stride-1 convolution the Winograd path computes
 * (whatever the channel counts; conv2d.c decides whether it pays). */
int qt_wino_fits(const qt_conv2d_geom *g);

/* Bytes of the transforms of one tile row (forward or dx, the larger):
 * a thread's workspace holds at least one, however wide the image. */
size_t qt_wino_row_bytes(const qt_conv2d_geom *g, size_t elsize);

/* Workspace bytes of the Winograd path for a pool of nthreads threads. */
size_t qt_wino_workspace(const qt_conv2d_geom *g, int nthreads, size_t elsize);

/* y overwritten; b may be NULL. */
void qt_wino_forward_f32(float *y, const float *x, const float *w,
			 const float *b, const qt_conv2d_geom *g, void *work,
			 struct qt_pool *pool);
void qt_wino_forward_f64(double *y, const double *x, const double *w,
			 const double *b, const qt_conv2d_geom *g, void *work,
			 struct qt_pool *pool);

/* dx overwritten, dw and db accumulated (+=); each may be NULL. */
void qt_wino_backward_f32(float *dx, float *dw, float *db, const float *dy,
			  const float *x, const float *w,
			  const qt_conv2d_geom *g, void *work,
			  struct qt_pool *pool);
void qt_wino_backward_f64(double *dx, double *dw, double *db,
			  const double *dy, const double *x, const double *w,
			  const qt_conv2d_geom *g, void *work,
			  struct qt_pool *pool);

#endif
