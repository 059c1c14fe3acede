# For the test scripts run with cmake -P (tests/consumers/run_consumer.cmake,
# tests/compile_fail/with_clang/run.cmake):
#
# ctnn_step(<who> <description> <command>...): runs the command with its output shown; a command
# that fails stops the script with "<who>: <description>: failed".
function(ctnn_step who description)
  message(STATUS "${who}: ${description}")
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE result)
  if(NOT result EQUAL 0)
    message(FATAL_ERROR "${who}: ${description}: failed (${result}): ${ARGN}")
  endif()
endfunction()
