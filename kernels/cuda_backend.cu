/* cuda_backend.cu: the CUDA backend's state (device, stream, cuBLAS
 * handle).  The op twins live in kernels/OP.cu beside each OP.c. */
#include "kernels/cuda.h"
#include "common/error.h"

#include <cuda_runtime.h>
#include <cublas_v2.h>
#include <stdlib.h>

struct cuda_state {
	cudaStream_t stream;
	cublasHandle_t blas;
};

extern "C" int qt_cuda_open(void **state)
{
	int n = 0;
	cudaError_t err = cudaGetDeviceCount(&n);
	if (err != cudaSuccess || n == 0)
		return qt_error(QT_ENODEV, "no CUDA device: %s",
				err != cudaSuccess ? cudaGetErrorString(err)
						   : "none found");
	struct cuda_state *s = (struct cuda_state *)calloc(1, sizeof *s);
	if (!s)
		return qt_error(QT_ENOMEM, "out of memory");
	if ((err = cudaStreamCreate(&s->stream)) != cudaSuccess) {
		free(s);
		return qt_error(QT_ENODEV, "cudaStreamCreate: %s",
				cudaGetErrorString(err));
	}
	cublasStatus_t st = cublasCreate(&s->blas);
	if (st != CUBLAS_STATUS_SUCCESS) {
		cudaStreamDestroy(s->stream);
		free(s);
		return qt_error(QT_ENODEV, "cublasCreate failed (status %d)",
				(int)st);
	}
	cublasSetStream(s->blas, s->stream);
	*state = s;
	return 0;
}

extern "C" void qt_cuda_close(void *state)
{
	struct cuda_state *s = (struct cuda_state *)state;
	if (!s)
		return;
	cublasDestroy(s->blas);
	cudaStreamDestroy(s->stream);
	free(s);
}
