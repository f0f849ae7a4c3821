/* template.h: compile a kernel file once per floating-point type.
 *
 * A kernel file OP.c is written once on the type `real` and names its
 * functions FN(name); it ends its preamble with
 *
 *     #ifndef REAL_TEMPLATE
 *     #define KERNEL_FILE "kernels/OP.c"
 *     #include "kernels/template.h"
 *     #else
 *     ... the kernels ...
 *     #endif
 *
 * and this header includes it twice: with real = float and FN(x) = x_f32,
 * then with real = double and FN(x) = x_f64.  GEMM/GEMV/AXPY name the
 * matching CBLAS routine.  Static helpers inside the template must use FN()
 * too, since they are defined twice.
 */
#define REAL_TEMPLATE 1

#define real float
#define FN(x) x##_f32
#define GEMM cblas_sgemm
#define GEMV cblas_sgemv
#define AXPY cblas_saxpy
#define DOT cblas_sdot
#define REAL_EXP expf
#define REAL_LOG logf
#define REAL_SQRT sqrtf
#define REAL_TANH tanhf
#define REAL_FABS fabsf
#define REAL_MAX FLT_MAX
#include KERNEL_FILE
#undef real
#undef FN
#undef GEMM
#undef GEMV
#undef AXPY
#undef DOT
#undef REAL_EXP
#undef REAL_LOG
#undef REAL_SQRT
#undef REAL_TANH
#undef REAL_FABS
#undef REAL_MAX

#define real double
#define FN(x) x##_f64
#define GEMM cblas_dgemm
#define GEMV cblas_dgemv
#define AXPY cblas_daxpy
#define DOT cblas_ddot
#define REAL_EXP exp
#define REAL_LOG log
#define REAL_SQRT sqrt
#define REAL_TANH tanh
#define REAL_FABS fabs
#define REAL_MAX DBL_MAX
#include KERNEL_FILE
#undef real
#undef FN
#undef GEMM
#undef GEMV
#undef AXPY
#undef DOT
#undef REAL_EXP
#undef REAL_LOG
#undef REAL_SQRT
#undef REAL_TANH
#undef REAL_FABS
#undef REAL_MAX
