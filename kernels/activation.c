/* activation.c: elementwise ReLU, sigmoid and tanh, forward and backward.
 *
 *   x, y, dy, dx: n elements of any shape; in place allowed (y == x,
 *   dx == dy).  Backward takes the saved output y and overwrites dx.
 *   relu     y = x < 0 ? 0 : x (NaN stays NaN)   dx = y <= 0 ? 0 : dy
 *   sigmoid  y = 1 / (1 + exp(-x))               dx = dy * (1 - y) * y
 *   tanh     y = tanh(x)                         dx = dy * (1 - y * y)
 *
 * Reference: torch.relu, torch.sigmoid, torch.tanh and their autograd
 * formulas (threshold_backward(grad, result, 0), sigmoid_backward,
 * tanh_backward in ATen's derivatives.yaml, all from the result).
 *
 * Parallelism: blocks of BLOCK elements shared over the pool; tensors
 * under INLINE elements run on the caller, where they take less time than
 * waking the pool's workers (10-30 us).  Each element's result is the
 * same either way.
 */
#ifndef REAL_TEMPLATE
#include "kernels/cpu.h"
#include "common/threadpool.h"

#include <float.h>
#include <math.h>

#define BLOCK 32768
#define INLINE ((int64_t)1 << 18)

enum { ACT_RELU, ACT_SIGMOID, ACT_TANH };

#define KERNEL_FILE "kernels/activation.c"
#include "kernels/template.h"
#else

struct FN(act_args) {
	real *out;
	const real *in, *dy;
	int64_t n;
	int kind;
};

static void FN(act_forward_task)(void *arg, int64_t begin, int64_t end,
				 int chunk)
{
	const struct FN(act_args) *a = arg;
	int64_t i0 = begin * BLOCK;
	int64_t i1 = end * BLOCK < a->n ? end * BLOCK : a->n;
	real *y = a->out;
	const real *x = a->in;
	switch (a->kind) {
	case ACT_RELU:
		for (int64_t i = i0; i < i1; i++)
			y[i] = x[i] < 0 ? 0 : x[i];
		break;
	case ACT_SIGMOID:
		for (int64_t i = i0; i < i1; i++)
			y[i] = 1 / (1 + REAL_EXP(-x[i]));
		break;
	default:
		for (int64_t i = i0; i < i1; i++)
			y[i] = REAL_TANH(x[i]);
		break;
	}
}

static void FN(act_backward_task)(void *arg, int64_t begin, int64_t end,
				  int chunk)
{
	const struct FN(act_args) *a = arg;
	int64_t i0 = begin * BLOCK;
	int64_t i1 = end * BLOCK < a->n ? end * BLOCK : a->n;
	real *dx = a->out;
	const real *y = a->in, *dy = a->dy;
	switch (a->kind) {
	case ACT_RELU:
		for (int64_t i = i0; i < i1; i++)
			dx[i] = y[i] <= 0 ? 0 : dy[i];
		break;
	case ACT_SIGMOID:
		for (int64_t i = i0; i < i1; i++)
			dx[i] = dy[i] * (1 - y[i]) * y[i];
		break;
	default:
		for (int64_t i = i0; i < i1; i++)
			dx[i] = dy[i] * (1 - y[i] * y[i]);
		break;
	}
}

static void FN(act_forward)(real *y, const real *x, int64_t n, int kind,
			    struct qt_pool *pool)
{
	struct FN(act_args) a = {.out = y, .in = x, .n = n, .kind = kind};
	qt_pool_for(n < INLINE ? NULL : pool, (n + BLOCK - 1) / BLOCK,
		    FN(act_forward_task), &a);
}

static void FN(act_backward)(real *dx, const real *dy, const real *y,
			     int64_t n, int kind, struct qt_pool *pool)
{
	struct FN(act_args) a = {.out = dx, .in = y, .dy = dy, .n = n,
				 .kind = kind};
	qt_pool_for(n < INLINE ? NULL : pool, (n + BLOCK - 1) / BLOCK,
		    FN(act_backward_task), &a);
}

void FN(qt_relu_forward)(real *y, const real *x, int64_t n,
			 struct qt_pool *pool)
{
	FN(act_forward)(y, x, n, ACT_RELU, pool);
}

void FN(qt_relu_backward)(real *dx, const real *dy, const real *y, int64_t n,
			  struct qt_pool *pool)
{
	FN(act_backward)(dx, dy, y, n, ACT_RELU, pool);
}

void FN(qt_sigmoid_forward)(real *y, const real *x, int64_t n,
			    struct qt_pool *pool)
{
	FN(act_forward)(y, x, n, ACT_SIGMOID, pool);
}

void FN(qt_sigmoid_backward)(real *dx, const real *dy, const real *y,
			     int64_t n, struct qt_pool *pool)
{
	FN(act_backward)(dx, dy, y, n, ACT_SIGMOID, pool);
}

void FN(qt_tanh_forward)(real *y, const real *x, int64_t n,
			 struct qt_pool *pool)
{
	FN(act_forward)(y, x, n, ACT_TANH, pool);
}

void FN(qt_tanh_backward)(real *dx, const real *dy, const real *y, int64_t n,
			  struct qt_pool *pool)
{
	FN(act_backward)(dx, dy, y, n, ACT_TANH, pool);
}

#endif
