# One packaging test as one command (ctest package.find_package / package.add_subdirectory):
#
#   find_package      install the ctnn build tree into PREFIX, then configure, build and run
#                     tests/consumers/find_package with CMAKE_PREFIX_PATH=PREFIX
#   add_subdirectory  configure, build and run tests/consumers/add_subdirectory, which
#                     add_subdirectory()s CTNN_SOURCE_DIR
# Both build and run the same programs, one per target of ctnn (programs/programs.cmake).
#
# cmake -DMODE=... -DCTNN_SOURCE_DIR=... -DCTNN_BINARY_DIR=... -DPREFIX=... -DWORK_DIR=...
#       [-DCONFIG=...] [-DGENERATOR=...] [-DCXX_COMPILER=...] [-DWITH_CUDA=ON|OFF] [-DWITH_MPI=ON|OFF]
#       [-DWITH_ONEDNN=ON|OFF]
#       [-DCUDA_ARCHITECTURES=90,80] -P run_consumer.cmake

foreach(var MODE CTNN_SOURCE_DIR CTNN_BINARY_DIR PREFIX WORK_DIR)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "run_consumer.cmake: -D${var}=... is required")
  endif()
endforeach()
if(NOT MODE MATCHES "^(find_package|add_subdirectory)$")
  message(FATAL_ERROR "run_consumer.cmake: MODE must be find_package or add_subdirectory, not '${MODE}'")
endif()

include("${CMAKE_CURRENT_LIST_DIR}/../support/run_step.cmake")  # ctnn_step

set(config_args "")
if(CONFIG)
  set(config_args --config "${CONFIG}")
endif()

set(configure_args -S "${CMAKE_CURRENT_LIST_DIR}/${MODE}" -B "${WORK_DIR}")
if(GENERATOR)
  list(APPEND configure_args -G "${GENERATOR}")
endif()
if(CXX_COMPILER)
  list(APPEND configure_args "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}")
endif()
if(CONFIG)
  list(APPEND configure_args "-DCMAKE_BUILD_TYPE=${CONFIG}")
endif()
foreach(component CUDA MPI ONEDNN)
  if(WITH_${component})
    set(WITH_${component} ON)
  else()
    set(WITH_${component} OFF)
  endif()
  list(APPEND configure_args "-DCTNN_CONSUMER_EXPECT_${component}=${WITH_${component}}")
endforeach()

file(REMOVE_RECURSE "${WORK_DIR}")
if(MODE STREQUAL "find_package")
  file(REMOVE_RECURSE "${PREFIX}")
  ctnn_step(${MODE} "install ctnn into ${PREFIX}"
       "${CMAKE_COMMAND}" --install "${CTNN_BINARY_DIR}" --prefix "${PREFIX}" ${config_args})
  list(APPEND configure_args "-DCMAKE_PREFIX_PATH=${PREFIX}")
else()
  list(APPEND configure_args "-DCTNN_SOURCE_DIR=${CTNN_SOURCE_DIR}" "-DCTNN_ENABLE_CUDA=${WITH_CUDA}")
  if(WITH_CUDA AND CUDA_ARCHITECTURES)  # comma-separated; the consumer turns it into a list
    list(APPEND configure_args "-DCTNN_CONSUMER_CUDA_ARCHITECTURES=${CUDA_ARCHITECTURES}")
  endif()
endif()

ctnn_step(${MODE} "configure the consumer" "${CMAKE_COMMAND}" ${configure_args})
ctnn_step(${MODE} "build the consumer" "${CMAKE_COMMAND}" --build "${WORK_DIR}" ${config_args})

# One program per target (programs/programs.cmake).
set(programs consumer_ctnn consumer_io consumer_image consumer_data consumer_train)
if(WITH_CUDA)
  list(APPEND programs consumer_cuda)  # links ctnn::cuda; prints without touching a GPU
endif()
if(WITH_MPI)
  list(APPEND programs consumer_mpi)  # links ctnn::mpi; prints MPI's version without starting it
endif()
if(WITH_ONEDNN)
  list(APPEND programs consumer_onednn)  # links ctnn::onednn; runs the small network on oneDNN
endif()
foreach(program IN LISTS programs)
  set(path "${WORK_DIR}/${program}")
  if(CONFIG AND EXISTS "${WORK_DIR}/${CONFIG}/${program}")  # multi-config generators
    set(path "${WORK_DIR}/${CONFIG}/${program}")
  endif()
  ctnn_step(${MODE} "run ${program}" "${path}")
endforeach()
message(STATUS "${MODE}: OK")
