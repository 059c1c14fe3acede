// expect: ctnn::distributed::mpi_type: no MPI datatype for this type
// A sum over processes of a type MPI has no datatype for here (16-bit integers) is refused when it
// is compiled, not when it runs. The twin sums 32-bit integers.

#include <cstdint>   // std::int16_t, std::int32_t

#include <ctnn/distributed/mpi.hpp>   // ctnn::distributed::mpi_type

#ifdef CTNN_SHOULD_FAIL
using Value = std::int16_t;
#else
using Value = std::int32_t;
#endif
[[maybe_unused]] MPI_Datatype datatype() { return ctnn::distributed::mpi_type<Value>(); }
