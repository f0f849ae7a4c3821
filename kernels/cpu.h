/* cpu.h: the CPU implementations behind kernels.h, one pair of functions
 * per op and dtype (suffix _f32 / _f64), on raw pointers.  Each is defined
 * once in kernels/OP.c through kernels/template.h. */
#ifndef QT_KERNELS_CPU_H
#define QT_KERNELS_CPU_H

#include <stddef.h>
#include <stdint.h>

struct qt_pool;

/* ==== part 1: dense, convolution, pooling, activations ==== */

/* ==== end of part 1 ==== */

/* ==== part 2: losses, softmax, dropout, normalisation, optimizers, init ==== */

/* ==== end of part 2 ==== */

#endif
