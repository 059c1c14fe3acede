# ctest compile_fail.with_clang: configure ./CMakeLists.txt with COMPILER in WORK_DIR, build the
# passing twins, then run the compile-fail harness (cmake/ctnnCompileFail.cmake) on every case.
#
# cmake -DCOMPILER=<clang++> -DCTNN_SOURCE_DIR=<dir> -DWORK_DIR=<dir> [-DGENERATOR=<generator>] -P run.cmake
# With COMPILER empty (no clang++ found) it prints "SKIPPED: ..." (the test's SKIP_REGULAR_EXPRESSION).

if(NOT COMPILER)
  message("SKIPPED: clang++ not found; install clang to check the compile-fail cases with it")
  return()
endif()
foreach(var CTNN_SOURCE_DIR WORK_DIR)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "run.cmake: -D${var}=... is required")
  endif()
endforeach()

include("${CMAKE_CURRENT_LIST_DIR}/../../support/run_step.cmake")  # ctnn_step

set(configure_args -S "${CMAKE_CURRENT_LIST_DIR}" -B "${WORK_DIR}" "-DCMAKE_CXX_COMPILER=${COMPILER}"
                   "-DCTNN_SOURCE_DIR=${CTNN_SOURCE_DIR}" -DCMAKE_BUILD_TYPE=Release)
if(GENERATOR)
  list(APPEND configure_args -G "${GENERATOR}")
endif()
file(REMOVE_RECURSE "${WORK_DIR}")
ctnn_step(with_clang "configure with ${COMPILER}" "${CMAKE_COMMAND}" ${configure_args})
ctnn_step(with_clang "build the passing twins" "${CMAKE_COMMAND}" --build "${WORK_DIR}")

file(READ "${WORK_DIR}/compile_fail_cases.txt" stems)
set(failed "")
foreach(stem IN LISTS stems)
  execute_process(COMMAND "${CMAKE_COMMAND}" -DBUILD_DIR=${WORK_DIR} -DTARGET=compile_fail_${stem}
                          -DSOURCE=${CTNN_SOURCE_DIR}/tests/compile_fail/${stem}.cpp
                          -P "${CTNN_SOURCE_DIR}/cmake/ctnnCompileFail.cmake"
                  RESULT_VARIABLE result OUTPUT_VARIABLE output ERROR_VARIABLE output)
  if(result EQUAL 0)
    string(REGEX MATCH "compile_fail: [^\n]*" verdict "${output}")
    message(STATUS "${verdict}")
  else()
    message("${output}")
    list(APPEND failed ${stem})
  endif()
endforeach()
list(LENGTH stems total)
if(failed)
  message(FATAL_ERROR "with_clang: these compile-fail cases fail the harness with ${COMPILER}: ${failed}")
endif()
message(STATUS "with_clang: all ${total} compile-fail cases fail as expected with ${COMPILER}")
