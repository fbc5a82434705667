# How ctest runs count_lines (see cmake/TaskgroupExamples.cmake).  The
# sample files are in data/; wrong_name.txt does not exist on purpose.
# `make demo` runs the same command as example_count_lines_demo.
#
# Documented exit status: 0 when every file was counted, 1 when errors
# were reported.

# Every kind of failure at once: missing, empty, not UTF-8, thirteen lines
# (rot13.txt), next to two good files.  All of them must be reported.
tg_example_test(example_count_lines_demo
  ARGS rot13.txt poem.txt tasks.txt empty_file.txt not_utf8.txt wrong_name.txt
  EXPECT_EXIT 1
  PASS_REGEX "wrong_name\\.txt" "empty_file\\.txt" "not_utf8\\.txt"
             "rot13\\.txt")

# Only good files: nothing to report.
tg_example_test(example_count_lines_good
  ARGS poem.txt tasks.txt
  EXPECT_EXIT 0
  PASS_REGEX "poem\\.txt" "tasks\\.txt")

# A missing file alone still gives the "errors reported" status.
tg_example_test(example_count_lines_missing
  ARGS wrong_name.txt
  EXPECT_EXIT 1
  PASS_REGEX "wrong_name\\.txt")
