# test_readme_example: the C example in README.md is
# docs/examples/quickstart.c (from its first #include on), so the README
# shows code that the tests build and run.
#
#   cmake -DTG_SOURCE_DIR=<source tree> -P tests/readme_example.cmake
cmake_minimum_required(VERSION 3.20)

file(READ ${TG_SOURCE_DIR}/README.md readme)
file(READ ${TG_SOURCE_DIR}/docs/examples/quickstart.c example)

string(FIND "${readme}" "```c\n" start)
if(start EQUAL -1)
  message(FATAL_ERROR "README.md has no ```c block")
endif()
math(EXPR start "${start} + 5")
string(SUBSTRING "${readme}" ${start} -1 block)
string(FIND "${block}" "```" end)
string(SUBSTRING "${block}" 0 ${end} block)

string(FIND "${example}" "#include" from)
string(SUBSTRING "${example}" ${from} -1 example)

if(NOT block STREQUAL example)
  set(hint "")
  if(TG_OUT_DIR)
    file(WRITE ${TG_OUT_DIR}/readme_block.c "${block}")
    set(hint " (the README's block is in ${TG_OUT_DIR}/readme_block.c, to diff)")
  endif()
  message(FATAL_ERROR
    "README.md's C example differs from docs/examples/quickstart.c; "
    "copy the file into the README${hint}")
endif()
message("OK: README.md's example is docs/examples/quickstart.c")
