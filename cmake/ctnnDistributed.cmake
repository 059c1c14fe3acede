# Data parallelism: decides CTNN_WITH_MPI and CTNN_WITH_NCCL and creates the INTERFACE targets
# ctnn_mpi (exported as ctnn::mpi) and ctnn_nccl (ctnn::nccl).
#
#   CTNN_ENABLE_MPI   AUTO: when an MPI library is found (Debian: libopenmpi-dev); ON: required;
#                     OFF: not looked for
#   CTNN_ENABLE_NCCL  AUTO: when MPI, the CUDA backend and NCCL are all there; ON: required; OFF
#
#   ctnn::mpi    ctnn::ctnn + MPI (any MPI-3 library: Open MPI, MPICH) and CTNN_WITH_MPI=1
#   ctnn::nccl   ctnn::mpi + ctnn::cuda + NCCL and CTNN_WITH_NCCL=1 (MPI starts the processes
#                and hands out NCCL's unique id)
# Included once from the top-level CMakeLists.txt, after ctnnCuda.

include(ctnnFeatureMode)  # ctnn_feature_mode
set(CTNN_WITH_MPI OFF)
set(CTNN_WITH_NCCL OFF)

ctnn_feature_mode(CTNN_ENABLE_MPI _ctnn_mpi_mode)
if(_ctnn_mpi_mode STREQUAL "OFF")
  message(STATUS "ctnn: MPI data parallelism disabled (CTNN_ENABLE_MPI=${CTNN_ENABLE_MPI})")
  return()
endif()

# The C API only: the MPI-2 C++ bindings are gone from MPI-3 and not needed.
set(MPI_CXX_SKIP_MPICXX ON CACHE BOOL "Leave out the deprecated MPI C++ bindings")
find_package(MPI COMPONENTS CXX QUIET)
if(NOT MPI_CXX_FOUND)
  if(_ctnn_mpi_mode STREQUAL "ON")
    message(FATAL_ERROR "ctnn: CTNN_ENABLE_MPI=ON but no MPI library was found (Debian: libopenmpi-dev, "
                        "see tools/install-deps). Use -DCTNN_ENABLE_MPI=AUTO or OFF to build without it.")
  endif()
  message(STATUS "ctnn: MPI data parallelism disabled: no MPI library found")
  return()
endif()
set(CTNN_WITH_MPI ON)

add_library(ctnn_mpi INTERFACE)
add_library(ctnn::mpi ALIAS ctnn_mpi)
set_target_properties(ctnn_mpi PROPERTIES EXPORT_NAME mpi)
target_link_libraries(ctnn_mpi INTERFACE ctnn::ctnn MPI::MPI_CXX)
target_compile_definitions(ctnn_mpi INTERFACE CTNN_WITH_MPI=1 OMPI_SKIP_MPICXX=1 MPICH_SKIP_MPICXX=1)
message(STATUS "ctnn: MPI data parallelism enabled (MPI ${MPI_CXX_VERSION}, launcher ${MPIEXEC_EXECUTABLE})")

ctnn_feature_mode(CTNN_ENABLE_NCCL _ctnn_nccl_mode)
if(_ctnn_nccl_mode STREQUAL "OFF")
  return()
endif()
set(_ctnn_nccl_missing "")
if(NOT CTNN_WITH_CUDA)
  list(APPEND _ctnn_nccl_missing "the CUDA backend (CTNN_ENABLE_CUDA)")
else()
  find_package(NCCL QUIET)  # cmake/FindNCCL.cmake
  if(NOT NCCL_FOUND)
    list(APPEND _ctnn_nccl_missing "NCCL (nccl.h and libnccl; hint: -DNCCL_PATH=...)")
  endif()
endif()
if(NOT _ctnn_nccl_missing STREQUAL "")
  list(JOIN _ctnn_nccl_missing ", " _ctnn_msg)
  if(_ctnn_nccl_mode STREQUAL "ON")
    message(FATAL_ERROR "ctnn: CTNN_ENABLE_NCCL=ON but not found: ${_ctnn_msg}")
  endif()
  message(STATUS "ctnn: NCCL data parallelism disabled: not found: ${_ctnn_msg}")
  return()
endif()
set(CTNN_WITH_NCCL ON)

add_library(ctnn_nccl INTERFACE)
add_library(ctnn::nccl ALIAS ctnn_nccl)
set_target_properties(ctnn_nccl PROPERTIES EXPORT_NAME nccl)
target_link_libraries(ctnn_nccl INTERFACE ctnn::mpi ctnn::cuda NCCL::nccl)
target_compile_definitions(ctnn_nccl INTERFACE CTNN_WITH_NCCL=1)
message(STATUS "ctnn: NCCL data parallelism enabled (NCCL ${NCCL_VERSION})")
