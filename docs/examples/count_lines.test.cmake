# How ctest runs count_lines (see cmake/TaskgroupExamples.cmake).  The
# sample files are in data/; wrong_name.txt does not exist on purpose.
# `make demo` runs the same command as example_count_lines_demo.
#
# Documented exit status (count_lines.c): 0 when nothing is left
# unhandled, 1 when errors were reported (bad encodings are handled, like
# the tutorial's except*), 2 on bad usage.

# Every kind of failure at once, next to two good files: missing, empty,
# not UTF-8 (handled: "Bad encoding"), thirteen lines.  All are reported,
# and the good files are still counted.
tg_example_test(example_count_lines_demo
  ARGS rot13.txt poem.txt tasks.txt empty_file.txt not_utf8.txt wrong_name.txt
  EXPECT_EXIT 1
  PASS_REGEX "poem\\.txt[^\n]*\\(5\\)" "tasks\\.txt[^\n]*\\(28\\)"
             "Bad encoding" "thirteen" "empty_file\\.txt"
             "FileNotFoundError[^\n]*wrong_name\\.txt"
             "3 sub-errors")

# Only good files: nothing to report.
tg_example_test(example_count_lines_good
  ARGS poem.txt tasks.txt
  EXPECT_EXIT 0
  PASS_REGEX "poem\\.txt[^\n]*\\(5\\)" "tasks\\.txt[^\n]*\\(28\\)"
  FAIL_REGEX "Traceback")

# A bad encoding alone is handled (except*): status 0.
tg_example_test(example_count_lines_not_utf8
  ARGS not_utf8.txt
  EXPECT_EXIT 0
  PASS_REGEX "Bad encoding")

# A missing file alone gives the "errors reported" status.
tg_example_test(example_count_lines_missing
  ARGS wrong_name.txt
  EXPECT_EXIT 1
  PASS_REGEX "FileNotFoundError[^\n]*wrong_name\\.txt")

# No file at all: bad usage.
tg_example_test(example_count_lines_usage
  EXPECT_EXIT 2
  PASS_REGEX "usage")
