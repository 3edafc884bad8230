/* unit_probes.c - a write command finds its key once: the dispatcher runs commands
 * in-process on a private arena and store_probes() counts the table walks each one
 * makes (SET replacing a value of another length, INCR, APPEND, GETDEL, and LPUSH /
 * HSET / SADD / ZADD creating a key each walk the chain once, as Redis's setKey reuses
 * lookupKeyWrite's dictEntry). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "kvns/command.h"
#include "harness_cmd.h"
#include "kvns/store.h"

/* Runs the command, checks its reply, and returns the table probes it made. */
static uint64_t probes_of(const char *want, const char *first, ...)
{
    const char *w[16];
    size_t n = 0;
    va_list ap;
    va_start(ap, first);
    for (const char *x = first; x; x = va_arg(ap, const char *)) {
        assert_true(n < 16);
        w[n++] = x;
    }
    va_end(ap);
    uint64_t before = store_probes();
    assert_string_equal(cmd_fixture_runv(w, n), want);
    return store_probes() - before;
}

static int group_setup(void **state)
{
    (void)state;
    return cmd_fixture_init();
}

static int test_setup(void **state)
{
    (void)state;
    assert_string_equal(cmd_fixture_run("FLUSHALL", NULL), "+OK\r\n");
    return 0;
}

/* SET creating, replacing with another length, in place, over another type. */
static void test_set_probes_once(void **state)
{
    (void)state;
    assert_int_equal(probes_of("+OK\r\n", "SET", "k", "v1", NULL), 1);
    assert_int_equal(probes_of("+OK\r\n", "SET", "k", "a longer value", NULL), 1);
    assert_int_equal(probes_of("+OK\r\n", "SET", "k", "same length!!!", NULL), 1);
    assert_int_equal(probes_of("$14\r\nsame length!!!\r\n", "SET", "k", "x", "GET", NULL), 1);
    assert_int_equal(probes_of("+OK\r\n", "SET", "k", "yy", "PX", "100000", NULL), 1);
    assert_int_equal(probes_of(":1\r\n", "LPUSH", "l", "a", NULL), 1);
    assert_int_equal(probes_of("+OK\r\n", "SET", "l", "over a list", NULL), 1);
    assert_int_equal(probes_of("$11\r\nover a list\r\n", "GET", "l", NULL), 1);
}

/* INCR within the same digit count, across it (a new entry), and on a new key. */
static void test_counters_probe_once(void **state)
{
    (void)state;
    assert_int_equal(probes_of(":1\r\n", "INCR", "n", NULL), 1);
    assert_int_equal(probes_of("+OK\r\n", "SET", "n", "9", NULL), 1);
    assert_int_equal(probes_of(":10\r\n", "INCR", "n", NULL), 1);
    assert_int_equal(probes_of(":11\r\n", "INCR", "n", NULL), 1);
    assert_int_equal(probes_of(":111\r\n", "INCRBY", "n", "100", NULL), 1);
    assert_int_equal(probes_of("$5\r\n111.5\r\n", "INCRBYFLOAT", "n", "0.5", NULL), 1);
    assert_int_equal(probes_of(":8\r\n", "APPEND", "n", "abc", NULL), 1);
    assert_int_equal(probes_of(":8\r\n", "SETRANGE", "n", "7", "z", NULL), 1);
    assert_int_equal(probes_of(":10\r\n", "SETRANGE", "n", "8", "zz", NULL), 1);
    assert_int_equal(probes_of("$10\r\n111.5abzzz\r\n", "GETDEL", "n", NULL), 1);
}

/* A collection created by its first write, then written again. */
static void test_collection_create_probes_once(void **state)
{
    (void)state;
    assert_int_equal(probes_of(":1\r\n", "LPUSH", "l", "a", NULL), 1);
    assert_int_equal(probes_of(":2\r\n", "LPUSH", "l", "b", NULL), 1);
    assert_int_equal(probes_of(":1\r\n", "HSET", "h", "f", "v", NULL), 1);
    assert_int_equal(probes_of(":1\r\n", "HSET", "h", "g", "v", NULL), 1);
    assert_int_equal(probes_of(":1\r\n", "SADD", "s", "m", NULL), 1);
    assert_int_equal(probes_of(":1\r\n", "SADD", "s", "n", NULL), 1);
    assert_int_equal(probes_of(":1\r\n", "ZADD", "z", "1", "m", NULL), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_set_probes_once, test_setup),
        cmocka_unit_test_setup(test_counters_probe_once, test_setup),
        cmocka_unit_test_setup(test_collection_create_probes_once, test_setup),
    };
    return cmocka_run_group_tests(tests, group_setup, NULL);
}
