# docs/examples/cancellable_wait.c: a reader blocked on a pipe leaves
# when its sibling's failure cancels the group, on a pool of one worker.
tg_example_test(example_cancellable_wait
  EXPECT_EXIT 1
  PASS_REGEX "reader: cancelled after waiting"
             "the group failed: ValueError: the producer gave up")
