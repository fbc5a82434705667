# test_atomic_shim_only: fails if any file under src/ or include/ other
# than src/atomic.h (and the inline checkpoint in include/taskgroup/cancel.h)
# mentions ck_pr_ or __atomic_ (code or comment).  Every
# atomic access goes through the shim, whose names carry the memory order
# and which maps to __atomic builtins in the TSan build.
#
#   cmake -DTG_SOURCE_DIR=<source tree> -P tests/atomic_shim_only.cmake

cmake_minimum_required(VERSION 3.20)

if(NOT TG_SOURCE_DIR)
  message(FATAL_ERROR "set -DTG_SOURCE_DIR=<source tree>")
endif()

# include/taskgroup/cancel.h: the inline checkpoint's one relaxed load
# (a public header cannot include the shim; docs/design.md explains).
set(allowed "src/atomic.h" "include/taskgroup/cancel.h")
file(GLOB_RECURSE files LIST_DIRECTORIES false RELATIVE ${TG_SOURCE_DIR}
     ${TG_SOURCE_DIR}/src/* ${TG_SOURCE_DIR}/include/*)
list(SORT files)

set(offenders "")
set(checked 0)
foreach(f IN LISTS files)
  if(f IN_LIST allowed)
    continue()
  endif()
  math(EXPR checked "${checked} + 1")
  file(READ ${TG_SOURCE_DIR}/${f} text)
  if(NOT text MATCHES "ck_pr_|__atomic_")
    continue()
  endif()
  # Report each offending line with its number.  Characters that mean
  # something to CMake lists (\ ; [ ]) are masked before splitting lines.
  string(REPLACE "\\" "<backslash>" text "${text}")
  string(REPLACE ";" "<semicolon>" text "${text}")
  string(REPLACE "[" "<lbracket>" text "${text}")
  string(REPLACE "]" "<rbracket>" text "${text}")
  string(REPLACE "\n" ";" lines "${text}")
  set(n 0)
  foreach(line IN LISTS lines)
    math(EXPR n "${n} + 1")
    if(line MATCHES "ck_pr_|__atomic_")
      string(STRIP "${line}" line)
      list(APPEND offenders "${f}:${n}: ${line}")
    endif()
  endforeach()
endforeach()

if(offenders)
  list(LENGTH offenders count)
  list(JOIN offenders "\n  " text)
  string(REPLACE "<semicolon>" ";" text "${text}")
  string(REPLACE "<backslash>" "\\" text "${text}")
  string(REPLACE "<lbracket>" "[" text "${text}")
  string(REPLACE "<rbracket>" "]" text "${text}")
  message(FATAL_ERROR
    "${count} use(s) of ck_pr_/__atomic_ outside src/atomic.h; "
    "use the tg_atomic_* shim instead:\n  ${text}")
endif()
message("OK: ${checked} files under src/ and include/ checked; "
        "only src/atomic.h uses ck_pr_ / __atomic_")
