/* dispatch.c: the tensor-level entry points of kernels.h.  Each checks its
 * arguments, then routes to the CPU function of the tensors' dtype
 * (kernels/cpu.h) or to the CUDA launcher (kernels/cuda.h).  This is the
 * only file of quanta with #ifdef QT_HAVE_CUDA. */
#include "kernels/kernels.h"
#include "kernels/cpu.h"
#ifdef QT_HAVE_CUDA
#include "kernels/cuda.h"
#endif

/* ==== part 1: dense, convolution, pooling, activations ==== */

/* ==== end of part 1 ==== */

/* ==== part 2: losses, softmax, dropout, normalisation, optimizers, init ==== */

/* ==== end of part 2 ==== */
