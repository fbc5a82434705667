# RunExpect.cmake - runs one command for ctest and checks its exit status
# and output (see TaskgroupExamples.cmake).  Input variables: TG_CMD (the
# command and its arguments), TG_WORKING_DIRECTORY, TG_EXPECT_EXIT,
# TG_TIMEOUT, TG_PASS_REGEX, TG_FAIL_REGEX.
#
# ctest's own PASS_REGULAR_EXPRESSION ignores the exit status, and WILL_FAIL
# accepts any failure, crashes included; this checks the exact status.

cmake_minimum_required(VERSION 3.20)

string(JOIN " " shown ${TG_CMD})
message("$ cd ${TG_WORKING_DIRECTORY} && ${shown}")
execute_process(
  COMMAND ${TG_CMD}
  WORKING_DIRECTORY ${TG_WORKING_DIRECTORY}
  TIMEOUT ${TG_TIMEOUT}
  RESULT_VARIABLE status
  OUTPUT_VARIABLE output
  ERROR_VARIABLE output)
message("${output}")
message("exit status: ${status} (expected ${TG_EXPECT_EXIT})")

set(failures "")
# A signal shows up as a message ("Segmentation fault", "Child aborted"),
# never as a number, so it never equals the expected status.
if(NOT "${status}" STREQUAL "${TG_EXPECT_EXIT}")
  list(APPEND failures "exit status was '${status}', expected ${TG_EXPECT_EXIT}")
endif()
foreach(re IN LISTS TG_PASS_REGEX)
  if(NOT output MATCHES "${re}")
    list(APPEND failures "output does not match '${re}'")
  endif()
endforeach()
foreach(re IN LISTS TG_FAIL_REGEX)
  if(output MATCHES "${re}")
    list(APPEND failures "output matches '${re}' (not allowed)")
  endif()
endforeach()
if(failures)
  list(JOIN failures "\n  " text)
  message(FATAL_ERROR "FAILED:\n  ${text}")
endif()
message("PASSED")
