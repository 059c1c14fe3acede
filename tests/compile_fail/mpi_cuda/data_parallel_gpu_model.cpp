// expect: DataParallel<Model>: a CPU model, on Cpu or OneDnn \(GPU models: ctnn/distributed/nccl.hpp, NcclDataParallel\)
// DataParallel averages gradients over MPI in host memory: a model on the GPU is refused, and the
// message names the class for it. The twin wraps the same network on the CPU.

#include <cstddef>   // std::size_t

#include <ctnn/ctnn.hpp>                        // ctnn::Model, ctnn::Sequential, ctnn::Linear, ...
#include <ctnn/cuda.hpp>                        // ctnn::Cuda's Model (built with the CUDA backend only)
#include <ctnn/distributed/data_parallel.hpp>   // ctnn::distributed::DataParallel

using Net = ctnn::Sequential<ctnn::Flatten, ctnn::Linear<16, 2>>;
using Image = ctnn::Shape<1, 4, 4>;
#ifdef CTNN_SHOULD_FAIL
using Model = ctnn::Model<Net, Image, float, ctnn::Cuda>;
#else
using Model = ctnn::Model<Net, Image, float, ctnn::Cpu>;
#endif
[[maybe_unused]] constexpr std::size_t kBytes = sizeof(ctnn::distributed::DataParallel<Model>);
