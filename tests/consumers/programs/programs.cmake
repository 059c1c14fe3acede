# The consumer programs, one per target of ctnn, built by both consumer projects (find_package/ and
# add_subdirectory/) once ctnn's targets exist:
#
#   consumer_ctnn    ctnn::ctnn alone: <ctnn/ctnn.hpp> and the models include no header of the other
#                    parts' libraries (ctnn.cpp fails to compile otherwise) and a small model runs
#   consumer_io      ctnn::io:    weights saved and loaded          (<ctnn/io.hpp>)
#   consumer_image   ctnn::image: a PNG decoded                     (<ctnn/image.hpp>)
#   consumer_data    ctnn::data:  an IDX file read                  (<ctnn/data.hpp>)
#   consumer_train   ctnn::train: a checkpoint and a plot written   (<ctnn/train.hpp>)
#   consumer_cuda, consumer_mpi   ctnn::cuda, ctnn::mpi: only when ctnn has them (backends.cpp)
#   consumer_onednn  ctnn::onednn: only when ctnn has it; oneDNN's logits equal Eigen's (onednn.cpp)
#
# ctnn_add_consumer_programs(<project name> <expect cuda> <expect mpi> <expect onednn>)
function(ctnn_add_consumer_programs consumer expect_cuda expect_mpi expect_onednn)
  set(dir "${CMAKE_CURRENT_FUNCTION_LIST_DIR}")

  # What a user's own flags must not inherit from ctnn's development build, and what ctnn::ctnn
  # must not link.
  get_target_property(options ctnn::ctnn INTERFACE_COMPILE_OPTIONS)
  if(options MATCHES "march|sanitize")
    message(FATAL_ERROR "ctnn::ctnn exports development flags: ${options}")
  endif()
  get_target_property(libraries ctnn::ctnn INTERFACE_LINK_LIBRARIES)
  if(libraries MATCHES "nlohmann|ZLIB|PNG|JPEG|stb")
    message(FATAL_ERROR "ctnn::ctnn links a library of another part: ${libraries}")
  endif()

  foreach(part ctnn io image data train)
    if(NOT TARGET ctnn::${part})
      message(FATAL_ERROR "ctnn defines no ctnn::${part}")
    endif()
    add_executable(consumer_${part} "${dir}/${part}.cpp")
    target_link_libraries(consumer_${part} PRIVATE ctnn::${part})
    target_compile_definitions(consumer_${part} PRIVATE CTNN_CONSUMER="${consumer}")
  endforeach()

  # The optional targets: there exactly when ctnn is configured with them.
  foreach(component cuda mpi onednn)
    if(expect_${component})
      if(NOT TARGET ctnn::${component} OR (DEFINED ctnn_${component}_FOUND AND NOT ctnn_${component}_FOUND))
        message(FATAL_ERROR "ctnn has ${component}, but defines no ctnn::${component}")
      endif()
      if(component STREQUAL "onednn")
        add_executable(consumer_${component} "${dir}/onednn.cpp")
      else()
        add_executable(consumer_${component} "${dir}/backends.cpp")
      endif()
      target_link_libraries(consumer_${component} PRIVATE ctnn::${component})
      target_compile_definitions(consumer_${component} PRIVATE CTNN_CONSUMER="${consumer}")
    elseif(TARGET ctnn::${component})
      message(FATAL_ERROR "ctnn has no ${component}, but defines ctnn::${component}")
    endif()
  endforeach()
endfunction()
