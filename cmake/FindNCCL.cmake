# FindNCCL: NVIDIA's collective communication library (CMake ships no module for it).
#
# Hints, in order: the NCCL_PATH variable or environment variable, the CUDA toolkit's include and
# library directories (when find_package(CUDAToolkit) ran before; CUDA 13 images keep libnccl in
# the toolkit's lib/), /usr/local/cuda.
#
# Result variables: NCCL_FOUND, NCCL_VERSION (MAJOR.MINOR.PATCH, from nccl.h), NCCL_INCLUDE_DIR,
#   NCCL_LIBRARY
# Imported target: NCCL::nccl

set(_nccl_hints ${NCCL_PATH} $ENV{NCCL_PATH}
                ${CUDAToolkit_INCLUDE_DIRS} ${CUDAToolkit_LIBRARY_DIR} ${CUDAToolkit_LIBRARY_ROOT})
set(_nccl_paths /usr/local/cuda)

find_path(NCCL_INCLUDE_DIR nccl.h
  HINTS ${_nccl_hints}
  PATHS ${_nccl_paths}
  PATH_SUFFIXES include)
find_library(NCCL_LIBRARY nccl
  HINTS ${_nccl_hints}
  PATHS ${_nccl_paths}
  PATH_SUFFIXES lib64 lib targets/x86_64-linux/lib)

if(NCCL_INCLUDE_DIR AND EXISTS "${NCCL_INCLUDE_DIR}/nccl.h")
  file(STRINGS "${NCCL_INCLUDE_DIR}/nccl.h" _nccl_defines REGEX "^#define NCCL_(MAJOR|MINOR|PATCH) +[0-9]+")
  foreach(_part MAJOR MINOR PATCH)
    string(REGEX REPLACE ".*#define NCCL_${_part} +([0-9]+).*" "\\1" _nccl_${_part} "${_nccl_defines}")
  endforeach()
  set(NCCL_VERSION "${_nccl_MAJOR}.${_nccl_MINOR}.${_nccl_PATCH}")
endif()

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(NCCL
  REQUIRED_VARS NCCL_LIBRARY NCCL_INCLUDE_DIR
  VERSION_VAR NCCL_VERSION)
mark_as_advanced(NCCL_INCLUDE_DIR NCCL_LIBRARY)

if(NCCL_FOUND AND NOT TARGET NCCL::nccl)
  add_library(NCCL::nccl UNKNOWN IMPORTED)
  set_target_properties(NCCL::nccl PROPERTIES
    IMPORTED_LOCATION "${NCCL_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${NCCL_INCLUDE_DIR}")
endif()

unset(_nccl_hints)
unset(_nccl_paths)
