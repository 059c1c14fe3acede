# Compile-fail tests (see tests/CMakeLists.txt and the "One mistake, one error" section of docs/architecture.md).
#
# A file tests/compile_fail/<stem>.cpp starts with the line
#   // expect: <CMake regular expression>
# optionally followed by
#   // errors: <count>          (default 1: one mistake, one error)
# and guards the code that must not compile with #ifdef CTNN_SHOULD_FAIL.
#
# include()d: defines ctnn_read_expect(<file> <regex-var> [<count-var>]).
# Run as a script, it is the test itself:
#   cmake -DBUILD_DIR=<dir> -DTARGET=<target> -DSOURCE=<file> [-DCONFIG=<cfg>] -P ctnnCompileFail.cmake
# It builds the target and passes only when the build fails, its output matches the expect
# regex, AND the compiler reported exactly <count> errors (lines "...: error: ..."): a build that
# succeeds, a build broken for another reason, and a mistake that cascades into more errors all
# fail the test.

function(ctnn_read_expect file out_var)
  file(STRINGS "${file}" first_lines LIMIT_COUNT 2)
  list(GET first_lines 0 first_line)
  if(NOT first_line MATCHES "^// expect: (.+)$")
    message(FATAL_ERROR "${file}: the first line must be '// expect: <regex>' (the compiler message "
                        "this file must produce when CTNN_SHOULD_FAIL is defined)")
  endif()
  set(${out_var} "${CMAKE_MATCH_1}" PARENT_SCOPE)
  if(ARGC GREATER 2)
    set(count 1)
    list(LENGTH first_lines line_count)
    if(line_count GREATER 1)
      list(GET first_lines 1 second_line)
      if(second_line MATCHES "^// errors: ([0-9]+)$")
        set(count "${CMAKE_MATCH_1}")
      endif()
    endif()
    set(${ARGV2} "${count}" PARENT_SCOPE)
  endif()
endfunction()

if(NOT CMAKE_SCRIPT_MODE_FILE STREQUAL CMAKE_CURRENT_LIST_FILE)
  return()
endif()

foreach(var BUILD_DIR TARGET SOURCE)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "ctnnCompileFail.cmake: -D${var}=... is required")
  endif()
endforeach()
ctnn_read_expect("${SOURCE}" expect expected_errors)

set(ENV{LC_ALL} C)  # plain ASCII quotes in GCC's messages
set(config_args "")
if(CONFIG)
  set(config_args --config "${CONFIG}")
endif()
execute_process(
  COMMAND "${CMAKE_COMMAND}" --build "${BUILD_DIR}" --target "${TARGET}" ${config_args}
  RESULT_VARIABLE result
  OUTPUT_VARIABLE output
  ERROR_VARIABLE output)
message("${output}")

if(result EQUAL 0)
  message(FATAL_ERROR "compile_fail: ${SOURCE} compiled with CTNN_SHOULD_FAIL defined, "
                      "but it must fail with a message matching: ${expect}")
endif()
if(NOT output MATCHES "${expect}")
  message(FATAL_ERROR "compile_fail: ${SOURCE} failed to compile, but its output (above) does not "
                      "match the expected message: ${expect}")
endif()
# One error line per "file:line:col: error: ..." (g++ and clang), "fatal error:" included.
string(REGEX REPLACE "(^|\n)([^\n]*: )?(fatal )?error: " "\n@error@" marked "${output}")
string(REGEX MATCHALL "@error@" error_lines "${marked}")
list(LENGTH error_lines errors)
if(NOT errors EQUAL expected_errors)
  message(FATAL_ERROR "compile_fail: ${SOURCE} failed to compile with the expected message, but with "
                      "${errors} errors instead of ${expected_errors}: one mistake must give one error")
endif()
message("compile_fail: ${SOURCE} failed to compile as expected (matched: ${expect}; ${errors} error(s))")
