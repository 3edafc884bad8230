/* it_difffuzz.c - the short seeded run of the differential fuzzer (make check): the
 * same random command sequences to kvns and redis-server, reply by reply, with DEBUG
 * CHECK on kvns (tests/fuzz/difffuzz.h). Bounded by a command count per seed and by a
 * wall-clock cap (the ASan build is several times slower). A failure prints the seed, the minimised command sequence and
 * both replies; `build/difffuzz --seed N ...` (printed with it) replays it. */
#include "fuzz/difffuzz.h"

#include <stdlib.h>

#define SEED_COMMANDS  80000     /* per seed */
#define SEED_MAX_MS    12000     /* per seed */
#define MIN_COMMANDS   2000      /* fewer compared within the cap fails the test */

static difffuzz_servers servers;

static int group_setup(void **state)
{
    if (srv_target_is_redis())
        return 0;                /* nothing to compare redis-server with */
    return difffuzz_start_servers(&servers) == 0 ? 0 : -1;
}

static int group_teardown(void **state)
{
    difffuzz_stop_servers(&servers);
    return 0;
}

/* Runs one seed and fails on any divergence or failed DEBUG CHECK. */
static void run_seed(uint64_t seed)
{
    it_skip_unless_kvns("the differential fuzzer compares kvns with redis-server");
    difffuzz_opts o;
    difffuzz_default_opts(&o);
    o.seed = seed;
    o.commands = SEED_COMMANDS;
    o.max_ms = SEED_MAX_MS;
    o.minimise_ms = 20000;
    difffuzz_result res;
    int rc = difffuzz_run(&servers, &o, &res);
    print_message("seed %llu: %ld commands, %ld checks OK\n", (unsigned long long)seed,
                  res.sent, res.checks);
    assert_int_equal(rc, 0);
    assert_false(res.failed);
    assert_true(res.sent >= MIN_COMMANDS);
    assert_true(res.checks >= res.sent / o.check_every);
}

static void test_seed_1(void **state) { run_seed(1); }
static void test_seed_2(void **state) { run_seed(2); }
static void test_seed_3(void **state) { run_seed(3); }
static void test_seed_4(void **state) { run_seed(4); }

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seed_1),
        cmocka_unit_test(test_seed_2),
        cmocka_unit_test(test_seed_3),
        cmocka_unit_test(test_seed_4),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
