/* cuda.h: CUDA launchers behind kernels.h, one per op, with the CPU
 * function's name and arguments (float32 only) plus the backend state.
 * Included only by kernels/dispatch.c when QT_HAVE_CUDA is defined. */
#ifndef QT_KERNELS_CUDA_H
#define QT_KERNELS_CUDA_H

#ifdef __cplusplus
extern "C" {
#endif

/* Backend state: the CUDA stream and cuBLAS handle of one context.
 * qt_cuda_open returns QT_ENODEV when no GPU is usable. */
int qt_cuda_open(void **state);
void qt_cuda_close(void *state);

#ifdef __cplusplus
}
#endif

#endif
