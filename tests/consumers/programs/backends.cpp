// ctnn::cuda and ctnn::mpi, when ctnn has them: their libraries link and answer (no GPU is used,
// MPI is not started).
#include <ctnn/ctnn.hpp>   // ctnn::Conv, ctnn::parameter_count_v

#include <cstdio>   // std::printf

#if defined(CTNN_WITH_CUDA)
#include <cublas_v2.h>      // cublasGetProperty
#include <cuda_runtime.h>   // cudaRuntimeGetVersion
#include <cudnn.h>          // cudnnGetVersion
#endif
#if defined(CTNN_WITH_MPI)
#include <mpi.h>   // MPI_Get_version: callable before MPI_Init
#endif

// Conv2d(3, 4, kernel_size=3): weight 4*3*3*3 = 108, bias 4.
static_assert(ctnn::parameter_count_v<ctnn::Conv<3, 4, 3>> == 112);

int main() {
  std::printf("%s consumer: ctnn %d.%d.%d, Conv<3, 4, 3> has %zu parameters\n", CTNN_CONSUMER, CTNN_VERSION_MAJOR,
              CTNN_VERSION_MINOR, CTNN_VERSION_PATCH, ctnn::parameter_count_v<ctnn::Conv<3, 4, 3>>);
#if defined(CTNN_WITH_CUDA)
  int runtime = 0, cublas = 0;
  cudaRuntimeGetVersion(&runtime);
  cublasGetProperty(MAJOR_VERSION, &cublas);
  std::printf("%s consumer: CUDA runtime %d, cuBLAS %d, cuDNN %zu\n", CTNN_CONSUMER, runtime, cublas, cudnnGetVersion());
#endif
#if defined(CTNN_WITH_MPI)
  int version = 0, subversion = 0;
  MPI_Get_version(&version, &subversion);
  std::printf("%s consumer: MPI %d.%d\n", CTNN_CONSUMER, version, subversion);
#endif
}
