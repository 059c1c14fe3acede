# The optional oneDNN backend (the fast CPU path, <ctnn/onednn.hpp>): decides CTNN_WITH_ONEDNN from
# CTNN_ENABLE_ONEDNN (AUTO/ON/OFF) and, when enabled, creates the INTERFACE target ctnn_onednn
# (ctnn::onednn): ctnn::ctnn + oneDNN 3.x (DNNL::dnnl) + CTNN_WITH_ONEDNN=1.
#
#   AUTO  enabled when oneDNN 3.x is found (tools/install-deps puts it in build-deps/onednn/)
#   ON    the same, but a missing oneDNN is a configuration error
#   OFF   nothing is looked for; ctnn runs on Eigen alone and the oneDNN tests skip
# Debian's libdnnl-dev is oneDNN 2.x (another API) and is not used.

include(ctnnFeatureMode)  # ctnn_feature_mode
set(CTNN_WITH_ONEDNN OFF)
ctnn_feature_mode(CTNN_ENABLE_ONEDNN _ctnn_onednn_mode)
if(_ctnn_onednn_mode STREQUAL "OFF")
  message(STATUS "ctnn: oneDNN backend disabled (CTNN_ENABLE_ONEDNN=${CTNN_ENABLE_ONEDNN})")
  return()
endif()

find_package(dnnl 3 CONFIG QUIET
             HINTS "${PROJECT_SOURCE_DIR}/build-deps/onednn" "${CMAKE_BINARY_DIR}/onednn")
if(NOT dnnl_FOUND OR NOT TARGET DNNL::dnnl)
  if(_ctnn_onednn_mode STREQUAL "AUTO")
    message(STATUS "ctnn: oneDNN backend disabled: oneDNN 3.x not found (run tools/install-deps, "
                   "or set -Ddnnl_DIR=<prefix>/lib/cmake/dnnl)")
    return()
  endif()
  message(FATAL_ERROR "ctnn: CTNN_ENABLE_ONEDNN=${CTNN_ENABLE_ONEDNN} but oneDNN 3.x was not found: run "
                      "tools/install-deps or set -Ddnnl_DIR=<prefix>/lib/cmake/dnnl")
endif()
set(CTNN_WITH_ONEDNN ON)
message(STATUS "ctnn: oneDNN backend enabled (oneDNN ${dnnl_VERSION}, ${dnnl_DIR})")

add_library(ctnn_onednn INTERFACE)
add_library(ctnn::onednn ALIAS ctnn_onednn)
set_target_properties(ctnn_onednn PROPERTIES EXPORT_NAME onednn)
target_link_libraries(ctnn_onednn INTERFACE ctnn DNNL::dnnl)
target_compile_definitions(ctnn_onednn INTERFACE CTNN_WITH_ONEDNN=1)
