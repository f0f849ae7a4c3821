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

/* ==== end of part 1 ==== */

/* ==== part 2: losses, softmax, dropout, normalisation, optimizers, init ==== */

/* ==== end of part 2 ==== */

#endif
