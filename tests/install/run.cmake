# test_install_consumer: installs the build into a temporary prefix, then
# builds tests/install/consumer against the installed tree two ways and
# runs what it built:
#   1. find_package(taskgroup): taskgroup::taskgroup and
#      taskgroup::taskgroup_static;
#   2. pkg-config: cc main.c $(pkg-config --cflags --libs taskgroup).
# It also checks the installed file list and the .pc file's private
# requirements.  Run by ctest (tests/CMakeLists.txt passes the variables):
#
#   cmake -DTG_BUILD_DIR=... -DTG_CONFIG=... -DTG_CONSUMER_SOURCE=...
#         -DTG_WORK_DIR=... -DTG_C_COMPILER=... -DTG_CMAKE_GENERATOR=...
#         -DTG_C_FLAGS=... -DTG_LD_FLAGS=... -DTG_VERSION=...
#         -P tests/install/run.cmake
cmake_minimum_required(VERSION 3.20)

foreach(v TG_BUILD_DIR TG_CONSUMER_SOURCE TG_WORK_DIR TG_C_COMPILER TG_VERSION)
  if(NOT ${v})
    message(FATAL_ERROR "${v} is not set")
  endif()
endforeach()

set(prefix ${TG_WORK_DIR}/prefix)
# Warnings are errors for the consumer: the installed headers must compile
# cleanly in a strict C11 program.
set(strict_flags "-std=c11 -Wall -Wextra -Wpedantic -Werror")

function(step title)
  message("\n== ${title}")
endfunction()

# Runs a command; stops the test with its output when it fails.
function(run)
  cmake_parse_arguments(PARSE_ARGV 0 R "QUIET" "WORKING_DIRECTORY;OUTPUT" "COMMAND")
  if(NOT R_WORKING_DIRECTORY)
    set(R_WORKING_DIRECTORY ${TG_WORK_DIR})
  endif()
  string(JOIN " " shown ${R_COMMAND})
  message("$ ${shown}")
  execute_process(COMMAND ${R_COMMAND}
    WORKING_DIRECTORY ${R_WORKING_DIRECTORY}
    RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(out AND (NOT R_QUIET OR NOT status EQUAL 0))
    message("${out}")
  endif()
  if(NOT status EQUAL 0)
    message(FATAL_ERROR "command failed (${status}): ${shown}")
  endif()
  if(R_OUTPUT)
    set(${R_OUTPUT} "${out}" PARENT_SCOPE)
  endif()
endfunction()

file(REMOVE_RECURSE ${TG_WORK_DIR})
file(MAKE_DIRECTORY ${TG_WORK_DIR})

# ---------------------------------------------------------------------------
step("install into ${prefix}")
set(config_args "")
if(TG_CONFIG)
  set(config_args --config ${TG_CONFIG})
endif()
run(COMMAND ${CMAKE_COMMAND} --install ${TG_BUILD_DIR} --prefix ${prefix}
            ${config_args})

file(GLOB_RECURSE installed LIST_DIRECTORIES false RELATIVE ${prefix} ${prefix}/*)
list(SORT installed)
list(JOIN installed "\n  " text)
message("installed:\n  ${text}")

set(missing "")
foreach(f include/taskgroup.h include/taskgroup/common.h
          include/taskgroup/version.h)
  if(NOT EXISTS ${prefix}/${f})
    list(APPEND missing ${f})
  endif()
endforeach()
foreach(pattern "lib*/libtaskgroup.so" "lib*/libtaskgroup.a"
                "lib*/cmake/taskgroup/taskgroupConfig.cmake"
                "lib*/cmake/taskgroup/taskgroupConfigVersion.cmake"
                "lib*/cmake/taskgroup/taskgroupTargets.cmake"
                "lib*/pkgconfig/taskgroup.pc")
  file(GLOB_RECURSE found ${prefix}/${pattern})
  if(NOT found)
    list(APPEND missing ${pattern})
  endif()
endforeach()
# Every header taskgroup.h includes must be installed.
file(STRINGS ${prefix}/include/taskgroup.h includes REGEX "^#include \"")
foreach(line IN LISTS includes)
  string(REGEX REPLACE "^#include \"([^\"]+)\".*" "\\1" h "${line}")
  if(NOT EXISTS ${prefix}/include/${h})
    list(APPEND missing include/${h})
  endif()
endforeach()
if(missing)
  message(FATAL_ERROR "not installed: ${missing}")
endif()
foreach(pattern "include/*.in" "include/*/*.in" "include/*atomic*")
  file(GLOB stray ${prefix}/${pattern})
  if(stray)
    message(FATAL_ERROR "installed files that are not public headers: ${stray}")
  endif()
endforeach()
file(STRINGS ${prefix}/include/taskgroup/version.h vline
     REGEX "#define TG_VERSION_STRING")
if(NOT vline MATCHES "\"${TG_VERSION}\"")
  message(FATAL_ERROR "installed version.h says '${vline}', expected ${TG_VERSION}")
endif()

# ---------------------------------------------------------------------------
step("consumer with find_package(taskgroup)")
set(gen_args "")
if(TG_CMAKE_GENERATOR)
  set(gen_args -G ${TG_CMAKE_GENERATOR})
endif()
set(cbuild ${TG_WORK_DIR}/cmake-consumer)
run(COMMAND ${CMAKE_COMMAND} -S ${TG_CONSUMER_SOURCE} -B ${cbuild} ${gen_args}
            -DCMAKE_BUILD_TYPE=Debug
            -DCMAKE_PREFIX_PATH=${prefix}
            -DCMAKE_FIND_PACKAGE_NO_PACKAGE_REGISTRY=ON
            -DCMAKE_C_COMPILER=${TG_C_COMPILER}
            "-DCMAKE_C_FLAGS=${strict_flags} ${TG_C_FLAGS}"
            "-DCMAKE_EXE_LINKER_FLAGS=${TG_LD_FLAGS}")
run(COMMAND ${CMAKE_COMMAND} --build ${cbuild})

# The package must come from the temporary prefix, not from the build
# tree or a system install.
file(STRINGS ${cbuild}/CMakeCache.txt dirline REGEX "^taskgroup_DIR:")
string(FIND "${dirline}" "${prefix}/" at)
if(NOT at GREATER -1)
  message(FATAL_ERROR "find_package found another taskgroup: ${dirline}")
endif()

foreach(exe consumer_shared consumer_static)
  run(COMMAND ${cbuild}/${exe} OUTPUT out)
  if(NOT out MATCHES "taskgroup ${TG_VERSION}: consumer OK")
    message(FATAL_ERROR "${exe} printed no success line")
  endif()
endforeach()

# The shared consumer must really use the shared library, the static one
# must not need it.
find_program(READELF readelf)
if(READELF)
  run(QUIET COMMAND ${READELF} -d ${cbuild}/consumer_shared OUTPUT dyn)
  if(NOT dyn MATCHES "libtaskgroup\\.so")
    message(FATAL_ERROR "consumer_shared does not depend on libtaskgroup.so")
  endif()
  run(QUIET COMMAND ${READELF} -d ${cbuild}/consumer_static OUTPUT dyn)
  if(dyn MATCHES "libtaskgroup\\.so")
    message(FATAL_ERROR "consumer_static depends on libtaskgroup.so")
  endif()
endif()

# ---------------------------------------------------------------------------
step("consumer with pkg-config")
find_program(PKG_CONFIG NAMES pkg-config pkgconf REQUIRED)
file(GLOB_RECURSE pc ${prefix}/taskgroup.pc)
get_filename_component(pcdir ${pc} DIRECTORY)
get_filename_component(libdir ${pcdir} DIRECTORY)
set(ENV{PKG_CONFIG_PATH} "${pcdir}")

run(COMMAND ${PKG_CONFIG} --modversion taskgroup OUTPUT modversion)
string(STRIP "${modversion}" modversion)
if(NOT modversion STREQUAL TG_VERSION)
  message(FATAL_ERROR "pkg-config --modversion says '${modversion}', expected ${TG_VERSION}")
endif()
run(COMMAND ${PKG_CONFIG} --cflags taskgroup OUTPUT cflags)
run(COMMAND ${PKG_CONFIG} --libs taskgroup OUTPUT libs)
run(COMMAND ${PKG_CONFIG} --static --libs taskgroup OUTPUT static_libs)
foreach(flag "-lck" "-pthread")
  if(NOT static_libs MATCHES "(^| )${flag}( |\n|$)")
    message(FATAL_ERROR "pkg-config --static --libs lacks ${flag}: ${static_libs}")
  endif()
endforeach()
# The prefix is relative to the .pc file: the paths must point into the
# temporary prefix, wherever it was installed.
if(NOT cflags MATCHES "-I${prefix}/")
  file(REAL_PATH ${prefix} real_prefix)
  if(NOT cflags MATCHES "-I${real_prefix}/")
    message(FATAL_ERROR "pkg-config --cflags does not point into ${prefix}: ${cflags}")
  endif()
endif()

separate_arguments(cflags UNIX_COMMAND "${cflags}")
separate_arguments(libs UNIX_COMMAND "${libs}")
separate_arguments(sflags UNIX_COMMAND "${strict_flags} ${TG_C_FLAGS}")
separate_arguments(lflags UNIX_COMMAND "${TG_LD_FLAGS}")
set(pkgexe ${TG_WORK_DIR}/consumer_pkgconfig)
run(COMMAND ${TG_C_COMPILER} ${sflags} ${cflags}
            ${TG_CONSUMER_SOURCE}/main.c -o ${pkgexe} ${lflags} ${libs})
run(COMMAND ${CMAKE_COMMAND} -E env "LD_LIBRARY_PATH=${libdir}" ${pkgexe}
    OUTPUT out)
if(NOT out MATCHES "taskgroup ${TG_VERSION}: consumer OK")
  message(FATAL_ERROR "consumer_pkgconfig printed no success line")
endif()

message("\nOK: installed tree consumed with find_package (shared, static) "
        "and with pkg-config")
