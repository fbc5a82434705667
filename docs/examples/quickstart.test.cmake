# The README example must build and run (see cmake/TaskgroupExamples.cmake).
tg_example_test(example_quickstart
  EXPECT_EXIT 0
  PASS_REGEX "2 values rejected" "3 is a multiple of 3" "6 is a multiple of 3")
