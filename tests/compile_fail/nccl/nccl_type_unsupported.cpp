// expect: ctnn::distributed::nccl_type: float or double
// The gradients NCCL all-reduces are float or double; another type is refused when it is
// compiled. The twin asks for double.

#include <cstdint>   // std::int32_t

#include <ctnn/distributed/nccl.hpp>   // ctnn::distributed::nccl_type

#ifdef CTNN_SHOULD_FAIL
using Value = std::int32_t;
#else
using Value = double;
#endif
[[maybe_unused]] ncclDataType_t datatype() { return ctnn::distributed::nccl_type<Value>(); }
