# test_exported_symbols: the shared library's dynamic symbol table holds
# only the public API: names starting with tg_ followed by a letter or a
# digit (tg__internal names stay hidden; see TG_API in
# include/taskgroup/common.h and C_VISIBILITY_PRESET hidden).
#
#   cmake -DTG_NM=nm -DTG_LIBRARY=libtaskgroup.so -P exported_symbols.cmake

cmake_minimum_required(VERSION 3.20)

execute_process(
  COMMAND ${TG_NM} -D --defined-only ${TG_LIBRARY}
  RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "${TG_NM} failed (${status}): ${err}")
endif()

string(REPLACE "\n" ";" lines "${out}")
set(bad "")
set(good 0)
foreach(line IN LISTS lines)
  if(line STREQUAL "")
    continue()
  endif()
  # "<address> <type> <name>[@version]"
  string(REGEX REPLACE "^[0-9a-fA-F]* *[A-Za-z] +" "" name "${line}")
  string(REGEX REPLACE "@.*" "" name "${name}")
  if(name MATCHES "^tg_[A-Za-z0-9]")
    math(EXPR good "${good} + 1")
  elseif(name STREQUAL "tg__tls_attention")
    # The inline checkpoint's thread-local word (include/taskgroup/cancel.h):
    # internal, but read by callers' inlined tg_cancelled().
    math(EXPR good "${good} + 1")
  elseif(name MATCHES "^(_init|_fini|_edata|_end|__bss_start)$")
    # Added by the linker.
  elseif(name MATCHES "^__odr_asan[._]tg_[A-Za-z0-9]")
    # ASan's one-definition-rule markers for exported tg_ globals.
  else()
    list(APPEND bad "${line}")
  endif()
endforeach()

if(bad)
  list(JOIN bad "\n  " text)
  message(FATAL_ERROR "symbols exported by ${TG_LIBRARY} outside the tg_ API "
                      "(mark internals static or leave them without TG_API):\n  ${text}")
endif()
if(good EQUAL 0)
  message(FATAL_ERROR "${TG_LIBRARY} exports no tg_ symbol at all")
endif()
message("OK: ${good} exported symbols, all tg_*")
