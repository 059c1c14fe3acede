// expect: NcclDataParallel<Model>: a CUDA model \(CPU: DataParallel\)
// NcclDataParallel all-reduces gradients that live on the GPU: a CPU model is refused, and the
// message names the class for it. The twin wraps the same network on the GPU.

#include <cstddef>   // std::size_t

#include <ctnn/ctnn.hpp>               // ctnn::Model, ctnn::Sequential, ctnn::Linear, ...
#include <ctnn/cuda.hpp>               // ctnn::Cuda's Model
#include <ctnn/distributed/nccl.hpp>   // ctnn::distributed::NcclDataParallel

using Net = ctnn::Sequential<ctnn::Flatten, ctnn::Linear<16, 2>>;
using Image = ctnn::Shape<1, 4, 4>;
#ifdef CTNN_SHOULD_FAIL
using Model = ctnn::Model<Net, Image, float, ctnn::Cpu>;
#else
using Model = ctnn::Model<Net, Image, float, ctnn::Cuda>;
#endif
[[maybe_unused]] constexpr std::size_t kBytes = sizeof(ctnn::distributed::NcclDataParallel<Model>);
