# docs/examples/batch.c: 1000 records in one tg_spawn_each, 4 rejected
# (ids 7, 257, 507 and 757), all reported in index order.
tg_example_test(example_batch
  EXPECT_EXIT 1
  PASS_REGEX "sum of the squares kept: 331937304"
             "4 records rejected"
             "record 7: negative value -7.*record 257: negative value -257.*record 507: negative value -507.*record 757: negative value -757")
