# ctnn_feature_mode(<option> <out>): an optional part's CTNN_ENABLE_* value as AUTO, ON or OFF in
# <out>: AUTO in any letter case, else ON or OFF as CMake reads the value as a boolean (1, YES,
# TRUE ... are ON). Shared by ctnnOneDnn, ctnnCuda and ctnnDistributed.
include_guard(GLOBAL)

function(ctnn_feature_mode option out)
  string(TOUPPER "${${option}}" mode)
  if(NOT mode STREQUAL "AUTO")
    if(${option})
      set(mode ON)
    else()
      set(mode OFF)
    endif()
  endif()
  set(${out} ${mode} PARENT_SCOPE)
endfunction()
