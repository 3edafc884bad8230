/* unit_keyspace.c - the keyspace commands (t_keyspace.c) run in-process through the
 * dispatcher on a private arena: exact replies of the EXPIRE family, RENAME/COPY across
 * shards and namespaces, OBJECT ENCODING, KEYS display names, and SCAN's guarantee
 * (every key present for the whole scan is returned) while the tables grow and shrink
 * between calls. */
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

#define EXPECT(want, ...) assert_string_equal(cmd_fixture_run(__VA_ARGS__, NULL), want)

static int group_setup(void **state)
{
    return cmd_fixture_init();
}

static int test_setup(void **state)
{
    EXPECT("+OK\r\n", "FLUSHALL");
    return 0;
}

/* Option errors come before the integer parse and the key lookup, as in Redis 7. */
static void test_expire_errors(void **state)
{
    EXPECT("-ERR NX and XX, GT or LT options at the same time are not compatible\r\n",
           "EXPIRE", "nokey", "10", "nx", "xx");
    EXPECT("-ERR GT and LT options at the same time are not compatible\r\n",
           "EXPIRE", "k", "10", "gt", "LT");
    EXPECT("-ERR Unsupported option foo\r\n", "EXPIRE", "k", "x", "foo");
    EXPECT("-ERR value is not an integer or out of range\r\n", "EXPIRE", "k", "x", "nx");
    EXPECT(":0\r\n", "EXPIRE", "nokey", "10");
    EXPECT("+OK\r\n", "SET", "k", "v");
    EXPECT("-ERR invalid expire time in 'expire' command\r\n", "EXPIRE", "k", "9223372036854775807");
    EXPECT("-ERR invalid expire time in 'pexpire' command\r\n", "PEXPIRE", "k", "9223372036854775807");
    EXPECT("-ERR invalid expire time in 'expireat' command\r\n", "EXPIREAT", "k", "-9223372036854776");
    EXPECT(":1\r\n", "PEXPIREAT", "k", "9223372036854775807");
    EXPECT(":9223372036854775807\r\n", "PEXPIRETIME", "k");
    EXPECT(":1\r\n", "PERSIST", "k");
    EXPECT(":0\r\n", "PERSIST", "k");
    EXPECT(":-1\r\n", "TTL", "k");
    EXPECT(":-2\r\n", "TTL", "nokey");
}

/* NX/XX/GT/LT semantics, a persistent key counting as an infinite TTL. */
static void test_expire_conditions(void **state)
{
    EXPECT("+OK\r\n", "SET", "k", "v");
    EXPECT(":0\r\n", "EXPIRE", "k", "100", "gt");
    EXPECT(":0\r\n", "EXPIRE", "k", "100", "xx");
    EXPECT(":1\r\n", "EXPIRE", "k", "100", "lt");
    EXPECT(":100\r\n", "TTL", "k");
    EXPECT(":0\r\n", "EXPIRE", "k", "50", "gt");
    EXPECT(":1\r\n", "EXPIRE", "k", "200", "gt");
    EXPECT(":0\r\n", "EXPIRE", "k", "300", "lt");
    EXPECT(":1\r\n", "EXPIRE", "k", "150", "LT");
    EXPECT(":0\r\n", "EXPIRE", "k", "10", "nx");
    EXPECT(":1\r\n", "EXPIRE", "k", "10", "xx");
    EXPECT(":10\r\n", "TTL", "k");
    EXPECT(":1\r\n", "EXPIREAT", "k", "4000000000");
    EXPECT(":4000000000\r\n", "EXPIRETIME", "k");
    EXPECT(":4000000000000\r\n", "PEXPIRETIME", "k");
    EXPECT(":1\r\n", "PEXPIRE", "k", "-1");        /* past deadline: deleted */
    EXPECT(":0\r\n", "EXISTS", "k");
}

/* RENAME moves value and TTL across namespaces; `x` and `default/x` are one key. */
static void test_rename_copy(void **state)
{
    EXPECT("-ERR no such key\r\n", "RENAME", "a", "b");
    EXPECT("-ERR no such key\r\n", "RENAMENX", "a", "b");
    EXPECT("+OK\r\n", "SET", "a", "1");
    EXPECT(":1\r\n", "EXPIRE", "a", "100");
    EXPECT("+OK\r\n", "RENAME", "a", "default/a");
    EXPECT(":0\r\n", "RENAMENX", "default/a", "a");
    EXPECT("+OK\r\n", "RENAME", "a", "ns1/a");
    EXPECT(":0\r\n", "EXISTS", "a");
    EXPECT(":100\r\n", "TTL", "ns1/a");
    for (int i = 0; i < 16; i++) {               /* lands in every shard pairing */
        char dst[32];
        snprintf(dst, sizeof dst, "n%d/x%d", i, i);
        EXPECT("+OK\r\n", "RENAME", "ns1/a", dst);
        EXPECT("+OK\r\n", "RENAME", dst, "ns1/a");
    }
    EXPECT("$1\r\n1\r\n", "GET", "ns1/a");
    EXPECT("+OK\r\n", "SET", "b", "2");
    EXPECT(":0\r\n", "RENAMENX", "ns1/a", "b");
    EXPECT(":1\r\n", "RENAMENX", "ns1/a", "c");
    EXPECT("-ERR source and destination objects are the same\r\n", "COPY", "c", "default/c");
    EXPECT(":0\r\n", "COPY", "c", "b");
    EXPECT(":1\r\n", "COPY", "c", "b", "REPLACE", "DB", "0");
    EXPECT(":100\r\n", "TTL", "b");
    EXPECT("-ERR DB index is out of range\r\n", "COPY", "c", "b", "DB", "1");
    EXPECT("-ERR syntax error\r\n", "COPY", "c", "b", "DB");
    EXPECT(":0\r\n", "COPY", "nokey", "z");
    EXPECT(":2\r\n", "DEL", "b", "c", "b", "nokey");
}

/* TYPE, OBJECT ENCODING/REFCOUNT/IDLETIME and their errors. */
static void test_type_object(void **state)
{
    EXPECT("+none\r\n", "TYPE", "s");
    EXPECT("+OK\r\n", "SET", "s", "123");
    EXPECT("+string\r\n", "TYPE", "s");
    EXPECT("$3\r\nint\r\n", "OBJECT", "ENCODING", "s");
    EXPECT("+OK\r\n", "SET", "s", "0123");
    EXPECT("$6\r\nembstr\r\n", "OBJECT", "encoding", "s");
    EXPECT("+OK\r\n", "SET", "s", "12345678901234567890");
    EXPECT("$6\r\nembstr\r\n", "OBJECT", "encoding", "s");
    EXPECT("+OK\r\n", "SET", "s", "123456789012345678901234567890123456789012345");
    EXPECT("$3\r\nraw\r\n", "OBJECT", "encoding", "s");
    EXPECT(":1\r\n", "OBJECT", "refcount", "s");
    EXPECT(":0\r\n", "OBJECT", "idletime", "s");
    EXPECT("$-1\r\n", "OBJECT", "encoding", "nokey");
    EXPECT("-ERR unknown subcommand 'foo'. Try OBJECT HELP.\r\n", "OBJECT", "foo", "s");
    EXPECT("-ERR wrong number of arguments for 'object|encoding' command\r\n", "OBJECT", "ENCODING");
    EXPECT("-ERR wrong number of arguments for 'object|help' command\r\n", "OBJECT", "help", "x");
}

/* KEYS returns display names (the default namespace bare) and matches against them. */
static void test_keys(void **state)
{
    EXPECT("+OK\r\n", "SET", "default/x", "1");
    EXPECT("+OK\r\n", "SET", "ns/y", "2");
    EXPECT("*1\r\n$1\r\nx\r\n", "KEYS", "x*");
    EXPECT("*1\r\n$4\r\nns/y\r\n", "KEYS", "ns/*");
    EXPECT("*0\r\n", "KEYS", "default/*");
    EXPECT(":2\r\n", "DBSIZE");
    EXPECT(":3\r\n", "TOUCH", "x", "ns/y", "default/x", "nope");
    EXPECT("-ERR syntax error\r\n", "FLUSHALL", "sync", "x");
    EXPECT("+OK\r\n", "FLUSHDB", "ASYNC");
    EXPECT(":0\r\n", "DBSIZE");
    EXPECT("$-1\r\n", "RANDOMKEY");
}

/* Parses a SCAN reply: returns the next cursor and marks seen[i] for "k<i>" keys. */
static unsigned long long scan_parse(const char *r, bool *seen, int n)
{
    unsigned long long cur;
    int len, cnt;
    assert_int_equal(sscanf(r, "*2\r\n$%d\r\n%llu\r\n*%d\r\n", &len, &cur, &cnt), 3);
    r = strstr(r + 4, "\r\n*") + 3;
    r = strstr(r, "\r\n") + 2;
    for (int i = 0; i < cnt; i++) {
        int klen, id = -1;
        assert_int_equal(sscanf(r, "$%d\r\n", &klen), 1);
        r = strstr(r, "\r\n") + 2;
        if (r[0] == 'k')
            id = atoi(r + 1);
        if (id >= 0 && id < n)
            seen[id] = true;
        r += klen + 2;
    }
    return cur;
}

/* SCAN returns every key present for the whole scan although the shards' tables grow
 * (and then shrink) between calls; the cursor is a bulk string; bad input errors. */
static void test_scan_guarantee(void **state)
{
    enum { N = 300, EXTRA = 6000 };
    char key[32], cur[32];
    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof key, "k%d", i);
        EXPECT("+OK\r\n", "SET", key, "v");
    }
    for (int round = 0; round < 2; round++) {
        bool seen[N] = { false };
        unsigned long long c = 0;
        int calls = 0, extra = 0;
        do {
            snprintf(cur, sizeof cur, "%llu", c);
            c = scan_parse(cmd_fixture_run("SCAN", cur, "COUNT", "3", NULL), seen, N);
            for (int j = 0; j < 40 && extra < EXTRA; j++, extra++) {
                snprintf(key, sizeof key, "e%d", extra);
                cmd_fixture_run(round == 0 ? "SET" : "DEL", key, "v", NULL);
            }
            calls++;
        } while (c != 0);
        for (int i = 0; i < N; i++)
            if (!seen[i])
                fail_msg("round %d: key k%d missed by SCAN (%d calls)", round, i, calls);
    }
    EXPECT("-ERR invalid cursor\r\n", "SCAN", "x");
    EXPECT("-ERR invalid cursor\r\n", "SCAN", "18446744073709551616");
    EXPECT("-ERR syntax error\r\n", "SCAN", "0", "COUNT", "0");
    EXPECT("-ERR syntax error\r\n", "SCAN", "0", "MATCH");
    EXPECT("-ERR value is not an integer or out of range\r\n", "SCAN", "0", "COUNT", "x");
    EXPECT("*2\r\n$1\r\n0\r\n*1\r\n$2\r\nk7\r\n", "SCAN", "0", "MATCH", "k7", "COUNT", "100000");
    EXPECT("*2\r\n$1\r\n0\r\n*0\r\n", "SCAN", "0", "TYPE", "list", "COUNT", "100000");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_expire_errors, test_setup),
        cmocka_unit_test_setup(test_expire_conditions, test_setup),
        cmocka_unit_test_setup(test_rename_copy, test_setup),
        cmocka_unit_test_setup(test_type_object, test_setup),
        cmocka_unit_test_setup(test_keys, test_setup),
        cmocka_unit_test_setup(test_scan_guarantee, test_setup),
    };
    return cmocka_run_group_tests(tests, group_setup, NULL);
}
