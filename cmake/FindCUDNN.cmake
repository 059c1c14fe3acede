# FindCUDNN: NVIDIA cuDNN (CMake ships no module for it).
#
# Hints, in order: the CUDNN_PATH variable or environment variable, the CUDA toolkit's include
# and library directories (when find_package(CUDAToolkit) ran before), /usr/local/cuda.
#
# Result variables: CUDNN_FOUND, CUDNN_VERSION (MAJOR.MINOR.PATCH, from cudnn_version.h),
#   CUDNN_VERSION_MAJOR, CUDNN_VERSION_MINOR, CUDNN_VERSION_PATCH, CUDNN_INCLUDE_DIR, CUDNN_LIBRARY
# Imported target: CUDNN::cudnn

set(_cudnn_hints ${CUDNN_PATH} $ENV{CUDNN_PATH}
                 ${CUDAToolkit_INCLUDE_DIRS} ${CUDAToolkit_LIBRARY_DIR} ${CUDAToolkit_LIBRARY_ROOT})
set(_cudnn_paths /usr/local/cuda)

find_path(CUDNN_INCLUDE_DIR cudnn.h
  HINTS ${_cudnn_hints}
  PATHS ${_cudnn_paths}
  PATH_SUFFIXES include)
find_library(CUDNN_LIBRARY cudnn
  HINTS ${_cudnn_hints}
  PATHS ${_cudnn_paths}
  PATH_SUFFIXES lib64 lib lib/x64 targets/x86_64-linux/lib)

# cuDNN >= 8 keeps its version in cudnn_version.h, older releases in cudnn.h.
if(CUDNN_INCLUDE_DIR)
  foreach(_cudnn_header cudnn_version.h cudnn.h)
    if(EXISTS "${CUDNN_INCLUDE_DIR}/${_cudnn_header}")
      file(STRINGS "${CUDNN_INCLUDE_DIR}/${_cudnn_header}" _cudnn_defines
           REGEX "^#define CUDNN_(MAJOR|MINOR|PATCHLEVEL) +[0-9]+")
      if(_cudnn_defines)
        foreach(_part MAJOR MINOR PATCHLEVEL)
          string(REGEX REPLACE ".*#define CUDNN_${_part} +([0-9]+).*" "\\1"
                 _cudnn_${_part} "${_cudnn_defines}")
        endforeach()
        set(CUDNN_VERSION_MAJOR ${_cudnn_MAJOR})
        set(CUDNN_VERSION_MINOR ${_cudnn_MINOR})
        set(CUDNN_VERSION_PATCH ${_cudnn_PATCHLEVEL})
        set(CUDNN_VERSION "${_cudnn_MAJOR}.${_cudnn_MINOR}.${_cudnn_PATCHLEVEL}")
        break()
      endif()
    endif()
  endforeach()
endif()

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(CUDNN
  REQUIRED_VARS CUDNN_LIBRARY CUDNN_INCLUDE_DIR
  VERSION_VAR CUDNN_VERSION)
mark_as_advanced(CUDNN_INCLUDE_DIR CUDNN_LIBRARY)

if(CUDNN_FOUND AND NOT TARGET CUDNN::cudnn)
  add_library(CUDNN::cudnn UNKNOWN IMPORTED)
  set_target_properties(CUDNN::cudnn PROPERTIES
    IMPORTED_LOCATION "${CUDNN_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${CUDNN_INCLUDE_DIR}")
endif()

unset(_cudnn_hints)
unset(_cudnn_paths)
