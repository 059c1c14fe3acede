# Findstb: the single-file stb libraries (Debian: libstb-dev). stb ships no CMake package.
#
# Both spellings work for users of stb::stb: `#include <stb_image.h>` through the directory that
# holds stb_image.h, `#include <stb/stb_image.h>` through its parent when that directory is stb/.
# The implementation is not compiled here: exactly one translation unit must
# `#define STB_IMAGE_IMPLEMENTATION` (as stb's own documentation asks).
#
# Result variables: stb_FOUND, STB_INCLUDE_DIR.  Imported target: stb::stb

find_path(STB_INCLUDE_DIR stb_image.h PATH_SUFFIXES stb)

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(stb REQUIRED_VARS STB_INCLUDE_DIR)
mark_as_advanced(STB_INCLUDE_DIR)

if(stb_FOUND AND NOT TARGET stb::stb)
  set(_stb_dirs "${STB_INCLUDE_DIR}")
  get_filename_component(_stb_dir_name "${STB_INCLUDE_DIR}" NAME)
  if(_stb_dir_name STREQUAL "stb")
    get_filename_component(_stb_parent "${STB_INCLUDE_DIR}" DIRECTORY)
    list(APPEND _stb_dirs "${_stb_parent}")  # dropped by CMake when it is an implicit directory
  endif()
  add_library(stb::stb INTERFACE IMPORTED)
  set_target_properties(stb::stb PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${_stb_dirs}")
  unset(_stb_dirs)
  unset(_stb_dir_name)
  unset(_stb_parent)
endif()
