# docs/examples/barrier.c: four tasks on two workers, three rounds; the
# last arrival of each round prints it, in round order (168, 135 and 127
# primes in the three blocks of 1000), then main prints the total.
tg_example_test(example_barrier
  EXPECT_EXIT 0
  PASS_REGEX "^round 1 done: 168 primes in \\[0, 1000\\), 168 so far\nround 2 done: 135 primes in \\[1000, 2000\\), 303 so far\nround 3 done: 127 primes in \\[2000, 3000\\), 430 so far\n3 rounds, 430 primes below 3000\n"
  FAIL_REGEX "Traceback" "Error")
