# The optional CUDA backend: decides CTNN_WITH_CUDA from CTNN_ENABLE_CUDA (AUTO/ON/OFF) and, when
# enabled, creates the INTERFACE target ctnn_cuda (exported as ctnn::cuda).
#
#   AUTO  enabled when CUDAToolkit, cuDNN and a working CUDA compiler are all found
#   ON    the same, but anything missing is a configuration error
#   OFF   nothing CUDA is looked for
# Included once from the top-level CMakeLists.txt (enable_language must run at file scope).

include(ctnnFeatureMode)  # ctnn_feature_mode
set(CTNN_WITH_CUDA OFF)
ctnn_feature_mode(CTNN_ENABLE_CUDA _ctnn_cuda_mode)

if(_ctnn_cuda_mode STREQUAL "OFF")
  message(STATUS "ctnn: CUDA backend disabled (CTNN_ENABLE_CUDA=${CTNN_ENABLE_CUDA})")
  return()
endif()

set(_ctnn_cuda_missing "")
find_package(CUDAToolkit QUIET)
if(NOT CUDAToolkit_FOUND)
  list(APPEND _ctnn_cuda_missing "the CUDA toolkit (CUDAToolkit)")
endif()
find_package(CUDNN QUIET)  # cmake/FindCUDNN.cmake
if(NOT CUDNN_FOUND)
  list(APPEND _ctnn_cuda_missing "cuDNN (cudnn.h and libcudnn; hint: -DCUDNN_PATH=...)")
endif()
if(_ctnn_cuda_missing STREQUAL "" AND NOT CMAKE_CUDA_COMPILER)
  include(CheckLanguage)  # a few seconds: only when everything else is there
  check_language(CUDA)
  if(NOT CMAKE_CUDA_COMPILER)
    list(APPEND _ctnn_cuda_missing "a working CUDA compiler (nvcc; hint: -DCMAKE_CUDA_COMPILER=...)")
  endif()
endif()

if(NOT _ctnn_cuda_missing STREQUAL "")
  if(_ctnn_cuda_mode STREQUAL "AUTO")
    list(JOIN _ctnn_cuda_missing ", " _ctnn_msg)
    message(STATUS "ctnn: CUDA backend disabled: not found: ${_ctnn_msg}")
    return()
  endif()
  list(JOIN _ctnn_cuda_missing "\n  " _ctnn_msg)
  message(FATAL_ERROR "ctnn: CTNN_ENABLE_CUDA=${CTNN_ENABLE_CUDA} but not found:\n  ${_ctnn_msg}\n"
                      "Use -DCTNN_ENABLE_CUDA=AUTO or OFF to build the CPU library alone.")
endif()
set(CTNN_WITH_CUDA ON)

if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
  set(CMAKE_CUDA_ARCHITECTURES 90 CACHE STRING "CUDA architectures to build for (90 = H100)")
endif()
if(PROJECT_IS_TOP_LEVEL AND CTNN_CCACHE_PROGRAM AND NOT DEFINED CMAKE_CUDA_COMPILER_LAUNCHER)
  set(CMAKE_CUDA_COMPILER_LAUNCHER "${CTNN_CCACHE_PROGRAM}")
endif()
enable_language(CUDA)

# CUDA sources of this tree are C++20. CMake < 3.26 knows no C++20 flag for nvcc: teach it.
if(NOT "cuda_std_20" IN_LIST CMAKE_CUDA_COMPILE_FEATURES
   AND CMAKE_CUDA_COMPILER_ID STREQUAL "NVIDIA" AND NOT DEFINED CMAKE_CUDA20_STANDARD_COMPILE_OPTION)
  set(CMAKE_CUDA20_STANDARD_COMPILE_OPTION "-std=c++20")
  set(CMAKE_CUDA20_EXTENSION_COMPILE_OPTION "-std=c++20")
endif()
# ctnn::cuda links the shared runtime (CUDA::cudart); .cu files must not add the static one.
if(NOT DEFINED CMAKE_CUDA_RUNTIME_LIBRARY)
  set(CMAKE_CUDA_RUNTIME_LIBRARY Shared)
endif()
if(NOT DEFINED CMAKE_CUDA_STANDARD)
  set(CMAKE_CUDA_STANDARD 20)
  set(CMAKE_CUDA_STANDARD_REQUIRED ON)
endif()

add_library(ctnn_cuda INTERFACE)
add_library(ctnn::cuda ALIAS ctnn_cuda)
set_target_properties(ctnn_cuda PROPERTIES EXPORT_NAME cuda)
# NVRTC compiles ctnn's own few kernels (pooling, optimizers, ...) at run time for the device
# present, so programs using the backend stay plain C++ compiled by the host compiler.
target_link_libraries(ctnn_cuda INTERFACE ctnn::ctnn CUDA::cudart CUDA::cublas CUDA::nvrtc CUDNN::cudnn)
target_compile_definitions(ctnn_cuda INTERFACE CTNN_WITH_CUDA=1)
if(CTNN_WITH_OPENMP AND CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  # OpenMP::OpenMP_CXX adds -fopenmp to C++ sources only; give nvcc's host compiler the same, so
  # a header sees the same _OPENMP in .cu and .cpp translation units.
  target_compile_options(ctnn_cuda INTERFACE $<$<COMPILE_LANGUAGE:CUDA>:-Xcompiler=-fopenmp>)
endif()

message(STATUS "ctnn: CUDA backend enabled (CUDA ${CUDAToolkit_VERSION}, cuDNN ${CUDNN_VERSION}, "
               "architectures ${CMAKE_CUDA_ARCHITECTURES})")
