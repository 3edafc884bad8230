/* it_string.c - integration tests for the string commands (SET family, GET family,
 * counters, ranges), run against kvns or redis-server (see harness.h). */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WRONGTYPE "WRONGTYPE Operation against a key holding the wrong kind of value"
#define NOT_INT   "ERR value is not an integer or out of range"
#define NOT_FLOAT "ERR value is not a valid float"
#define SYNTAX    "ERR syntax error"

/* SET stores, GET reads back, SET overwrites, GET of a missing key is nil. */
static void test_set_get_basic(void **state)
{
    kv_conn *c = *state;
    expect_status(c, "OK", "SET", "k", "v", NULL);
    expect_bulk(c, "v", "GET", "k", NULL);
    expect_status(c, "OK", "SET", "k", "v2", NULL);
    expect_bulk(c, "v2", "GET", "k", NULL);
    expect_nil(c, "GET", "missing", NULL);
    expect_status(c, "OK", "SET", "empty", "", NULL);
    expect_bulk(c, "", "GET", "empty", NULL);
    expect_int(c, 1, "EXISTS", "empty", NULL);
}

/* SET EX / PX set a TTL in seconds / milliseconds; options are case-insensitive. */
static void test_set_ex_px(void **state)
{
    kv_conn *c = *state;
    expect_status(c, "OK", "SET", "k", "v", "EX", "100", NULL);
    expect_int_range(c, 99, 100, "TTL", "k", NULL);
    expect_status(c, "OK", "SET", "k", "v", "PX", "5000", NULL);
    expect_int_range(c, 4000, 5000, "PTTL", "k", NULL);
    expect_status(c, "OK", "SET", "k", "v", "ex", "50", NULL);
    expect_int_range(c, 49, 50, "TTL", "k", NULL);
    expect_status(c, "OK", "SET", "k", "v", "pX", "1500", NULL);
    expect_int_range(c, 1, 2, "TTL", "k", NULL);
    expect_bulk(c, "v", "GET", "k", NULL);
}

/* SET EXAT / PXAT take absolute unix times; a time in the past deletes the key. */
static void test_set_exat_pxat(void **state)
{
    kv_conn *c = *state;
    char buf[32];
    long long now = now_ms();
    expect_status(c, "OK", "SET", "k", "v", "EXAT", fmt_ll(buf, sizeof buf, now / 1000 + 100), NULL);
    expect_int_range(c, 98, 100, "TTL", "k", NULL);
    expect_status(c, "OK", "SET", "k", "v", "PXAT", fmt_ll(buf, sizeof buf, now + 100000), NULL);
    expect_int_range(c, 98000, 100000, "PTTL", "k", NULL);
    expect_status(c, "OK", "SET", "k", "v", "EXAT", "1", NULL);
    expect_int(c, 0, "EXISTS", "k", NULL);
    expect_nil(c, "GET", "k", NULL);
    expect_status(c, "OK", "SET", "k", "v", "PXAT", "1", NULL);
    expect_int(c, 0, "EXISTS", "k", NULL);
}

/* NX sets only a missing key, XX only an existing one; otherwise nil and no change. */
static void test_set_nx_xx(void **state)
{
    kv_conn *c = *state;
    expect_status(c, "OK", "SET", "k", "v1", "NX", NULL);
    expect_nil(c, "SET", "k", "v2", "NX", NULL);
    expect_bulk(c, "v1", "GET", "k", NULL);
    expect_nil(c, "SET", "other", "v", "XX", NULL);
    expect_int(c, 0, "EXISTS", "other", NULL);
    expect_status(c, "OK", "SET", "k", "v3", "XX", NULL);
    expect_bulk(c, "v3", "GET", "k", NULL);
    expect_status(c, "OK", "SET", "n", "v", "NX", "EX", "100", NULL);
    expect_int_range(c, 99, 100, "TTL", "n", NULL);
    expect_status(c, "OK", "SET", "n", "w", "XX", "PX", "100000", NULL);
    expect_int_range(c, 99000, 100000, "PTTL", "n", NULL);
}

/* KEEPTTL keeps the TTL; a plain SET drops it. */
static void test_set_keepttl(void **state)
{
    kv_conn *c = *state;
    expect_status(c, "OK", "SET", "k", "v", "EX", "100", NULL);
    expect_status(c, "OK", "SET", "k", "v2", "KEEPTTL", NULL);
    expect_int_range(c, 99, 100, "TTL", "k", NULL);
    expect_bulk(c, "v2", "GET", "k", NULL);
    expect_status(c, "OK", "SET", "k", "v3", NULL);
    expect_int(c, -1, "TTL", "k", NULL);
    expect_status(c, "OK", "SET", "fresh", "v", "KEEPTTL", NULL);
    expect_int(c, -1, "TTL", "fresh", NULL);
}

/* SET ... GET returns the old value (nil when missing), also combined with NX/XX. */
static void test_set_get_option(void **state)
{
    kv_conn *c = *state;
    expect_nil(c, "SET", "k", "v", "GET", NULL);
    expect_bulk(c, "v", "GET", "k", NULL);
    expect_bulk(c, "v", "SET", "k", "v2", "GET", NULL);
    expect_bulk(c, "v2", "GET", "k", NULL);
    expect_bulk(c, "v2", "SET", "k", "v3", "GET", "EX", "100", NULL);
    expect_int_range(c, 99, 100, "TTL", "k", NULL);
    /* NX + GET (allowed since 7.0): returns the old value and does not overwrite. */
    expect_bulk(c, "v3", "SET", "k", "v4", "NX", "GET", NULL);
    expect_bulk(c, "v3", "GET", "k", NULL);
    expect_nil(c, "SET", "n", "v", "GET", "NX", NULL);
    expect_bulk(c, "v", "GET", "n", NULL);
    /* XX + GET on a missing key: nil, nothing created. */
    expect_nil(c, "SET", "x", "v", "XX", "GET", NULL);
    expect_int(c, 0, "EXISTS", "x", NULL);
    expect_bulk(c, "v3", "SET", "k", "v5", "XX", "GET", NULL);
    expect_bulk(c, "v5", "GET", "k", NULL);
}

/* SET ... GET on a key holding a list is WRONGTYPE and leaves the list alone. */
static void test_set_get_option_wrongtype(void **state)
{
    kv_conn *c = *state;
    expect_int(c, 1, "RPUSH", "l", "a", NULL);
    expect_error(c, WRONGTYPE, "SET", "l", "v", "GET", NULL);
    expect_status(c, "list", "TYPE", "l", NULL);
    /* Plain SET replaces any type. */
    expect_status(c, "OK", "SET", "l", "v", NULL);
    expect_status(c, "string", "TYPE", "l", NULL);
}

/* Conflicting, unknown or incomplete SET options are syntax errors; nothing is set. */
static void test_set_option_errors(void **state)
{
    kv_conn *c = *state;
    expect_error(c, SYNTAX, "SET", "k", "v", "NX", "XX", NULL);
    expect_error(c, SYNTAX, "SET", "k", "v", "XX", "NX", NULL);
    expect_error(c, SYNTAX, "SET", "k", "v", "EX", "10", "PX", "10", NULL);
    expect_error(c, SYNTAX, "SET", "k", "v", "EX", "10", "KEEPTTL", NULL);
    expect_error(c, SYNTAX, "SET", "k", "v", "KEEPTTL", "PX", "5", NULL);
    expect_error(c, SYNTAX, "SET", "k", "v", "EX", "10", "PXAT", "10", NULL);
    expect_error(c, SYNTAX, "SET", "k", "v", "EXAT", "10", "PXAT", "10", NULL);
    expect_error(c, SYNTAX, "SET", "k", "v", "FOO", NULL);
    expect_error(c, SYNTAX, "SET", "k", "v", "EX", NULL);
    expect_error(c, SYNTAX, "SET", "k", "v", "PX", NULL);
    expect_error(c, NOT_INT, "SET", "k", "v", "EX", "abc", NULL);
    expect_error(c, NOT_INT, "SET", "k", "v", "PX", "1.5", NULL);
    expect_error(c, "ERR wrong number of arguments for 'set' command", "SET", "k", NULL);
    expect_error(c, "ERR wrong number of arguments for 'set' command", "SET", NULL);
    expect_int(c, 0, "EXISTS", "k", NULL);
}

/* Zero, negative and overflowing expire times are rejected with the set-specific text. */
static void test_set_invalid_expire(void **state)
{
    kv_conn *c = *state;
    const char *msg = "ERR invalid expire time in 'set' command";
    expect_error(c, msg, "SET", "k", "v", "EX", "0", NULL);
    expect_error(c, msg, "SET", "k", "v", "EX", "-1", NULL);
    expect_error(c, msg, "SET", "k", "v", "PX", "0", NULL);
    expect_error(c, msg, "SET", "k", "v", "PX", "-100", NULL);
    expect_error(c, msg, "SET", "k", "v", "EXAT", "0", NULL);
    expect_error(c, msg, "SET", "k", "v", "PXAT", "-5", NULL);
    expect_error(c, msg, "SET", "k", "v", "EX", "9223372036854775807", NULL);
    expect_error(c, msg, "SET", "k", "v", "EX", "92233720368547758", NULL);
    expect_error(c, msg, "SET", "k", "v", "PX", "9223372036854775807", NULL);
    expect_error(c, msg, "SET", "k", "v", "EXAT", "9223372036854775807", NULL);
    expect_int(c, 0, "EXISTS", "k", NULL);
    /* found by the differential fuzzer: as in Redis, a syntax error anywhere wins over
     * a bad time, and a bad time over SET ... GET on another type */
    expect_error(c, SYNTAX, "SET", "k", "v", "EX", "0", "extra", NULL);
    expect_error(c, SYNTAX, "SET", "k", "v", "PX", "abc", "NX", "XX", NULL);
    expect_int(c, 1, "RPUSH", "list", "x", NULL);
    expect_error(c, msg, "SET", "list", "v", "EX", "0", "GET", NULL);
    expect_int(c, 0, "EXISTS", "k", NULL);
}

/* MSET sets pairs and drops TTLs; MGET answers nil for missing keys. */
static void test_mset_mget(void **state)
{
    kv_conn *c = *state;
    expect_status(c, "OK", "SET", "a", "old", "EX", "100", NULL);
    expect_status(c, "OK", "MSET", "a", "1", "b", "2", NULL);
    expect_int(c, -1, "TTL", "a", NULL);
    kv_reply *r = conn_cmd(c, "MGET", "a", "b", "c", "a", NULL);
    assert_array_len(r, 4);
    assert_bulk(r->elements[0], "1");
    assert_bulk(r->elements[1], "2");
    assert_nil(r->elements[2]);
    assert_bulk(r->elements[3], "1");
    kv_reply_free(r);
    /* The last value of a repeated key wins. */
    expect_status(c, "OK", "MSET", "d", "x", "d", "y", NULL);
    expect_bulk(c, "y", "GET", "d", NULL);
    expect_error(c, "ERR wrong number of arguments for 'mset' command", "MSET", "a", "1", "b",
                 NULL);
    expect_error(c, "ERR wrong number of arguments for 'mset' command", "MSET", "a", NULL);
    expect_error(c, "ERR wrong number of arguments for 'mset' command", "MSET", NULL);
    expect_error(c, "ERR wrong number of arguments for 'mget' command", "MGET", NULL);
    expect_bulk(c, "1", "GET", "a", NULL);
}

/* MGET answers nil for keys of another type instead of WRONGTYPE. */
static void test_mget_wrong_type_is_nil(void **state)
{
    kv_conn *c = *state;
    expect_int(c, 1, "RPUSH", "l", "x", NULL);
    expect_status(c, "OK", "SET", "s", "v", NULL);
    kv_reply *r = conn_cmd(c, "MGET", "s", "l", NULL);
    assert_array_len(r, 2);
    assert_bulk(r->elements[0], "v");
    assert_nil(r->elements[1]);
    kv_reply_free(r);
}

/* MSETNX sets all keys only when none exists. */
static void test_msetnx(void **state)
{
    kv_conn *c = *state;
    expect_int(c, 1, "MSETNX", "a", "1", "b", "2", NULL);
    expect_bulk(c, "1", "GET", "a", NULL);
    expect_int(c, 0, "MSETNX", "c", "3", "a", "9", NULL);
    expect_int(c, 0, "EXISTS", "c", NULL);
    expect_bulk(c, "1", "GET", "a", NULL);
    expect_error(c, "ERR wrong number of arguments for 'msetnx' command", "MSETNX", "c", "3", "d",
                 NULL);
    expect_error(c, "ERR wrong number of arguments for 'msetnx' command", "MSETNX", NULL);
}

/* SETNX returns 1 when it set the key, 0 (value unchanged) when the key existed. */
static void test_setnx(void **state)
{
    kv_conn *c = *state;
    expect_int(c, 1, "SETNX", "k", "v1", NULL);
    expect_int(c, 0, "SETNX", "k", "v2", NULL);
    expect_bulk(c, "v1", "GET", "k", NULL);
    expect_error(c, "ERR wrong number of arguments for 'setnx' command", "SETNX", "k", NULL);
}

/* SETEX / PSETEX set value and TTL; zero, negative, non-numeric and overflowing times fail. */
static void test_setex_psetex(void **state)
{
    kv_conn *c = *state;
    expect_status(c, "OK", "SETEX", "k", "100", "v", NULL);
    expect_bulk(c, "v", "GET", "k", NULL);
    expect_int_range(c, 99, 100, "TTL", "k", NULL);
    expect_status(c, "OK", "PSETEX", "p", "100000", "w", NULL);
    expect_bulk(c, "w", "GET", "p", NULL);
    expect_int_range(c, 99000, 100000, "PTTL", "p", NULL);
    expect_error(c, "ERR invalid expire time in 'setex' command", "SETEX", "k", "0", "v", NULL);
    expect_error(c, "ERR invalid expire time in 'setex' command", "SETEX", "k", "-1", "v", NULL);
    expect_error(c, "ERR invalid expire time in 'setex' command", "SETEX", "k",
                 "9223372036854775807", "v", NULL);
    expect_error(c, "ERR invalid expire time in 'setex' command", "SETEX", "k",
                 "9223372036854775", "v", NULL);
    expect_error(c, "ERR invalid expire time in 'psetex' command", "PSETEX", "k", "0", "v", NULL);
    expect_error(c, "ERR invalid expire time in 'psetex' command", "PSETEX", "k", "-5", "v", NULL);
    expect_error(c, "ERR invalid expire time in 'psetex' command", "PSETEX", "k",
                 "9223372036854775807", "v", NULL);
    expect_error(c, NOT_INT, "SETEX", "k", "abc", "v", NULL);
    expect_error(c, NOT_INT, "PSETEX", "k", "1.5", "v", NULL);
    expect_error(c, "ERR wrong number of arguments for 'setex' command", "SETEX", "k", "10", NULL);
    expect_error(c, "ERR wrong number of arguments for 'psetex' command", "PSETEX", "k", NULL);
    /* The failed calls left the earlier value and TTL alone. */
    expect_bulk(c, "v", "GET", "k", NULL);
    expect_int_range(c, 98, 100, "TTL", "k", NULL);
}

/* GETSET returns the old value (nil when missing), stores the new one and drops the TTL. */
static void test_getset(void **state)
{
    kv_conn *c = *state;
    expect_nil(c, "GETSET", "k", "v1", NULL);
    expect_bulk(c, "v1", "GET", "k", NULL);
    expect_status(c, "OK", "SET", "k", "v2", "EX", "100", NULL);
    expect_bulk(c, "v2", "GETSET", "k", "v3", NULL);
    expect_bulk(c, "v3", "GET", "k", NULL);
    expect_int(c, -1, "TTL", "k", NULL);
    expect_error(c, "ERR wrong number of arguments for 'getset' command", "GETSET", "k", NULL);
}

/* GETDEL returns the value and deletes the key; nil when missing. */
static void test_getdel(void **state)
{
    kv_conn *c = *state;
    expect_status(c, "OK", "SET", "k", "v", "EX", "100", NULL);
    expect_bulk(c, "v", "GETDEL", "k", NULL);
    expect_int(c, 0, "EXISTS", "k", NULL);
    expect_nil(c, "GETDEL", "k", NULL);
    expect_error(c, "ERR wrong number of arguments for 'getdel' command", "GETDEL", NULL);
}

/* GETEX EX/PX/EXAT/PXAT set the TTL, PERSIST removes it, no option leaves it. */
static void test_getex(void **state)
{
    kv_conn *c = *state;
    char buf[32];
    expect_status(c, "OK", "SET", "k", "v", NULL);
    expect_bulk(c, "v", "GETEX", "k", NULL);
    expect_int(c, -1, "TTL", "k", NULL);
    expect_bulk(c, "v", "GETEX", "k", "EX", "100", NULL);
    expect_int_range(c, 99, 100, "TTL", "k", NULL);
    expect_bulk(c, "v", "GETEX", "k", NULL);
    expect_int_range(c, 99, 100, "TTL", "k", NULL);
    expect_bulk(c, "v", "GETEX", "k", "PX", "5000", NULL);
    expect_int_range(c, 4000, 5000, "PTTL", "k", NULL);
    expect_bulk(c, "v", "GETEX", "k", "EXAT", fmt_ll(buf, sizeof buf, now_ms() / 1000 + 200), NULL);
    expect_int_range(c, 198, 200, "TTL", "k", NULL);
    expect_bulk(c, "v", "GETEX", "k", "PXAT", fmt_ll(buf, sizeof buf, now_ms() + 300000), NULL);
    expect_int_range(c, 298000, 300000, "PTTL", "k", NULL);
    expect_bulk(c, "v", "GETEX", "k", "PERSIST", NULL);
    expect_int(c, -1, "TTL", "k", NULL);
    expect_nil(c, "GETEX", "missing", "EX", "10", NULL);
    expect_int(c, 0, "EXISTS", "missing", NULL);
    /* An absolute time in the past deletes the key after returning it. */
    expect_bulk(c, "v", "GETEX", "k", "EXAT", "1", NULL);
    expect_int(c, 0, "EXISTS", "k", NULL);
}

/* GETEX rejects bad option combinations and invalid times without touching the key. */
static void test_getex_errors(void **state)
{
    kv_conn *c = *state;
    const char *msg = "ERR invalid expire time in 'getex' command";
    expect_status(c, "OK", "SET", "k", "v", NULL);
    expect_error(c, msg, "GETEX", "k", "EX", "0", NULL);
    expect_error(c, msg, "GETEX", "k", "EX", "-1", NULL);
    expect_error(c, msg, "GETEX", "k", "PX", "0", NULL);
    expect_error(c, msg, "GETEX", "k", "EX", "9223372036854775807", NULL);
    expect_error(c, SYNTAX, "GETEX", "k", "EX", "10", "PX", "10", NULL);
    expect_error(c, SYNTAX, "GETEX", "k", "PERSIST", "EX", "10", NULL);
    expect_error(c, SYNTAX, "GETEX", "k", "FOO", NULL);
    expect_error(c, SYNTAX, "GETEX", "k", "EX", NULL);
    expect_error(c, NOT_INT, "GETEX", "k", "EX", "abc", NULL);
    expect_error(c, "ERR wrong number of arguments for 'getex' command", "GETEX", NULL);
    expect_int(c, -1, "TTL", "k", NULL);
    /* found by the differential fuzzer: as in Redis, the key is looked up before the
     * time is validated, so a missing key or another type wins over a bad time */
    expect_nil(c, "GETEX", "missing", "PX", "0", NULL);
    expect_nil(c, "GETEX", "missing", "EX", "abc", NULL);
    expect_int(c, 1, "RPUSH", "list", "x", NULL);
    expect_error_prefix(c, "WRONGTYPE", "GETEX", "list", "EX", "-1", NULL);
}

/* APPEND creates or extends and returns the new length; STRLEN is 0 for missing keys. */
static void test_append_strlen(void **state)
{
    kv_conn *c = *state;
    expect_int(c, 3, "APPEND", "k", "foo", NULL);
    expect_int(c, 6, "APPEND", "k", "bar", NULL);
    expect_bulk(c, "foobar", "GET", "k", NULL);
    expect_int(c, 6, "APPEND", "k", "", NULL);
    expect_int(c, 6, "STRLEN", "k", NULL);
    expect_int(c, 0, "STRLEN", "missing", NULL);
    expect_status(c, "OK", "SET", "n", "12", NULL);
    expect_int(c, 3, "APPEND", "n", "3", NULL);
    expect_bulk(c, "123", "GET", "n", NULL);
    expect_int(c, 124, "INCR", "n", NULL);
    expect_int(c, 3, "STRLEN", "n", NULL);
    expect_error(c, "ERR wrong number of arguments for 'append' command", "APPEND", "k", NULL);
    expect_error(c, "ERR wrong number of arguments for 'strlen' command", "STRLEN", NULL);
}

/* INCR, INCRBY, DECR, DECRBY on missing and existing keys; the result is a string. */
static void test_incr_decr(void **state)
{
    kv_conn *c = *state;
    expect_int(c, 1, "INCR", "n", NULL);
    expect_int(c, 11, "INCRBY", "n", "10", NULL);
    expect_int(c, 10, "DECR", "n", NULL);
    expect_int(c, 5, "DECRBY", "n", "5", NULL);
    expect_int(c, -5, "DECRBY", "n", "10", NULL);
    expect_int(c, 0, "INCRBY", "n", "5", NULL);
    expect_int(c, -1, "DECR", "d", NULL);
    expect_int(c, -7, "DECRBY", "e", "7", NULL);
    expect_int(c, 3, "INCRBY", "f", "3", NULL);
    expect_bulk(c, "0", "GET", "n", NULL);
    expect_status(c, "OK", "SET", "s", "-42", NULL);
    expect_int(c, -41, "INCR", "s", NULL);
    expect_status(c, "OK", "SET", "m", "9223372036854775806", NULL);
    expect_int(c, 9223372036854775807LL, "INCR", "m", NULL);
    expect_bulk(c, "9223372036854775807", "GET", "m", NULL);
    expect_int(c, -9223372036854775807LL, "DECRBY", "x", "9223372036854775807", NULL);
}

/* Counters reject non-integer values and increments, and overflow in either direction. */
static void test_incr_errors(void **state)
{
    kv_conn *c = *state;
    const char *overflow = "ERR increment or decrement would overflow";
    const char *bad_values[] = { "foo", "1.5", " 1", "1 ", "+1", "01", "", "99999999999999999999" };
    for (size_t i = 0; i < sizeof bad_values / sizeof bad_values[0]; i++) {
        expect_status(c, "OK", "SET", "s", bad_values[i], NULL);
        expect_error(c, NOT_INT, "INCR", "s", NULL);
        expect_error(c, NOT_INT, "DECRBY", "s", "1", NULL);
    }
    expect_bulk(c, "99999999999999999999", "GET", "s", NULL);
    expect_error(c, NOT_INT, "INCRBY", "n", "abc", NULL);
    expect_error(c, NOT_INT, "INCRBY", "n", "1.5", NULL);
    expect_error(c, NOT_INT, "INCRBY", "n", "9223372036854775808", NULL);
    expect_error(c, NOT_INT, "DECRBY", "n", "", NULL);
    expect_int(c, 0, "EXISTS", "n", NULL);
    expect_status(c, "OK", "SET", "max", "9223372036854775807", NULL);
    expect_error(c, overflow, "INCR", "max", NULL);
    expect_error(c, overflow, "INCRBY", "max", "1", NULL);
    expect_bulk(c, "9223372036854775807", "GET", "max", NULL);
    expect_status(c, "OK", "SET", "min", "-9223372036854775808", NULL);
    expect_error(c, overflow, "DECR", "min", NULL);
    expect_error(c, overflow, "INCRBY", "min", "-1", NULL);
    expect_status(c, "OK", "SET", "n", "5", NULL);
    expect_error(c, overflow, "INCRBY", "n", "9223372036854775807", NULL);
    /* DECRBY cannot negate LLONG_MIN: a message of its own. */
    expect_error(c, "ERR decrement would overflow", "DECRBY", "n", "-9223372036854775808", NULL);
    expect_bulk(c, "5", "GET", "n", NULL);
    expect_error(c, "ERR wrong number of arguments for 'incr' command", "INCR", NULL);
    expect_error(c, "ERR wrong number of arguments for 'incrby' command", "INCRBY", "n", NULL);
    expect_error(c, "ERR wrong number of arguments for 'decr' command", "DECR", "a", "b", NULL);
    expect_error(c, "ERR wrong number of arguments for 'decrby' command", "DECRBY", NULL);
}

/* INCRBYFLOAT formats results without trailing zeros and accepts exponent input. */
static void test_incrbyfloat(void **state)
{
    kv_conn *c = *state;
    expect_status(c, "OK", "SET", "f", "10", NULL);
    expect_bulk(c, "10.5", "INCRBYFLOAT", "f", "0.5", NULL);
    expect_bulk(c, "10.5", "GET", "f", NULL);
    expect_bulk(c, "5010.5", "INCRBYFLOAT", "f", "5.0e3", NULL);
    expect_bulk(c, "5000", "INCRBYFLOAT", "g", "5.0e3", NULL);
    expect_bulk(c, "3", "INCRBYFLOAT", "h", "3", NULL);
    expect_bulk(c, "0", "INCRBYFLOAT", "h", "-3", NULL);
    expect_bulk(c, "0.1", "INCRBYFLOAT", "i", "0.1", NULL);
    expect_bulk(c, "0.3", "INCRBYFLOAT", "i", "0.2", NULL);
    expect_bulk(c, "-1.25", "INCRBYFLOAT", "j", "-1.25", NULL);
    expect_bulk(c, "1.1", "INCRBYFLOAT", "k", "1.10", NULL);
    expect_status(c, "OK", "SET", "e", "1e3", NULL);
    expect_bulk(c, "1001", "INCRBYFLOAT", "e", "1", NULL);
    /* The stored value is the formatted string: INCR works on integral results. */
    expect_int(c, 1002, "INCR", "e", NULL);
}

/* INCRBYFLOAT errors: non-float value or increment, and NaN/Infinity results. */
static void test_incrbyfloat_errors(void **state)
{
    kv_conn *c = *state;
    const char *naninf = "ERR increment would produce NaN or Infinity";
    expect_status(c, "OK", "SET", "f", "1.5", NULL);
    expect_error(c, naninf, "INCRBYFLOAT", "f", "inf", NULL);
    expect_error(c, naninf, "INCRBYFLOAT", "f", "-inf", NULL);
    expect_error(c, naninf, "INCRBYFLOAT", "f", "+inf", NULL);
    expect_error(c, NOT_FLOAT, "INCRBYFLOAT", "f", "nan", NULL);
    expect_error(c, NOT_FLOAT, "INCRBYFLOAT", "f", "abc", NULL);
    expect_error(c, NOT_FLOAT, "INCRBYFLOAT", "f", " 1", NULL);
    expect_error(c, NOT_FLOAT, "INCRBYFLOAT", "f", "1 ", NULL);
    expect_error(c, NOT_FLOAT, "INCRBYFLOAT", "f", "", NULL);
    expect_bulk(c, "1.5", "GET", "f", NULL);
    expect_status(c, "OK", "SET", "s", "abc", NULL);
    expect_error(c, NOT_FLOAT, "INCRBYFLOAT", "s", "1", NULL);
    expect_status(c, "OK", "SET", "s", " 1", NULL);
    expect_error(c, NOT_FLOAT, "INCRBYFLOAT", "s", "1", NULL);
    expect_error(c, "ERR wrong number of arguments for 'incrbyfloat' command", "INCRBYFLOAT", "f",
                 NULL);
}

/* SETRANGE overwrites, extends, and pads a missing key with zero bytes. */
static void test_setrange(void **state)
{
    kv_conn *c = *state;
    expect_int(c, 8, "SETRANGE", "k", "5", "abc", NULL);
    kv_reply *r = conn_cmd(c, "GET", "k", NULL);
    assert_bulk_bin(r, "\0\0\0\0\0abc", 8);
    kv_reply_free(r);
    expect_status(c, "OK", "SET", "s", "Hello World", NULL);
    expect_int(c, 11, "SETRANGE", "s", "6", "Redis", NULL);
    expect_bulk(c, "Hello Redis", "GET", "s", NULL);
    expect_int(c, 13, "SETRANGE", "s", "10", "s!!", NULL);
    expect_bulk(c, "Hello Redis!!", "GET", "s", NULL);
    expect_int(c, 13, "SETRANGE", "s", "0", "", NULL);
    expect_int(c, 13, "SETRANGE", "s", "15", "", NULL);   /* empty value: no padding */
    expect_int(c, 13, "STRLEN", "s", NULL);
    /* An empty value on a missing key creates nothing. */
    expect_int(c, 0, "SETRANGE", "e", "0", "", NULL);
    expect_int(c, 0, "SETRANGE", "e", "100", "", NULL);
    expect_int(c, 0, "EXISTS", "e", NULL);
}

/* SETRANGE rejects negative offsets and results over 512 MB before allocating anything. */
static void test_setrange_errors(void **state)
{
    kv_conn *c = *state;
    expect_status(c, "OK", "SET", "k", "v", NULL);
    expect_error(c, "ERR offset is out of range", "SETRANGE", "k", "-1", "x", NULL);
    expect_error(c, "ERR offset is out of range", "SETRANGE", "missing", "-1", "x", NULL);
    /* Redis 7.0 words the over-512MB case as a size error, not as an offset error. */
    expect_error(c, "ERR string exceeds maximum allowed size (proto-max-bulk-len)", "SETRANGE",
                 "k", "536870912", "x", NULL);
    expect_error(c, "ERR string exceeds maximum allowed size (proto-max-bulk-len)", "SETRANGE",
                 "missing", "536870912", "x", NULL);
    expect_error(c, NOT_INT, "SETRANGE", "k", "abc", "x", NULL);
    expect_error(c, "ERR wrong number of arguments for 'setrange' command", "SETRANGE", "k", "0",
                 NULL);
    expect_bulk(c, "v", "GET", "k", NULL);
    expect_int(c, 0, "EXISTS", "missing", NULL);
}

/* GETRANGE / SUBSTR with positive, negative and out-of-range indexes. */
static void test_getrange_substr(void **state)
{
    kv_conn *c = *state;
    expect_status(c, "OK", "SET", "s", "Hello Redis", NULL);
    static const struct { const char *start, *end, *want; } cases[] = {
        { "0", "4", "Hello" },     { "-5", "-1", "Redis" },  { "0", "-1", "Hello Redis" },
        { "5", "3", "" },          { "-100", "2", "Hel" },  { "0", "100", "Hello Redis" },
        { "-1", "-5", "" },        { "20", "30", "" },      { "-1", "0", "" },
        { "10", "10", "s" },       { "-1", "-1", "s" },     { "6", "-1", "Redis" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        expect_bulk(c, cases[i].want, "GETRANGE", "s", cases[i].start, cases[i].end, NULL);
        expect_bulk(c, cases[i].want, "SUBSTR", "s", cases[i].start, cases[i].end, NULL);
    }
    expect_bulk(c, "", "GETRANGE", "missing", "0", "-1", NULL);
    expect_status(c, "OK", "SET", "e", "", NULL);
    expect_bulk(c, "", "GETRANGE", "e", "0", "-1", NULL);
    expect_status(c, "OK", "SET", "n", "12345", NULL);
    expect_bulk(c, "234", "GETRANGE", "n", "1", "3", NULL);
    expect_error(c, NOT_INT, "GETRANGE", "s", "a", "b", NULL);
    expect_error(c, "ERR wrong number of arguments for 'getrange' command", "GETRANGE", "s", "0",
                 NULL);
}

/* In-place modifications (INCR family, APPEND, SETRANGE, INCRBYFLOAT) keep the TTL; SET drops it. */
static void test_ttl_kept_by_modifications(void **state)
{
    kv_conn *c = *state;
    expect_status(c, "OK", "SET", "k", "1", "EX", "100", NULL);
    expect_int(c, 2, "INCR", "k", NULL);
    expect_int_range(c, 99, 100, "TTL", "k", NULL);
    expect_int(c, 7, "INCRBY", "k", "5", NULL);
    expect_int(c, 6, "DECR", "k", NULL);
    expect_int(c, 4, "DECRBY", "k", "2", NULL);
    expect_int_range(c, 99, 100, "TTL", "k", NULL);
    expect_bulk(c, "5.5", "INCRBYFLOAT", "k", "1.5", NULL);
    expect_int_range(c, 99, 100, "TTL", "k", NULL);
    expect_int(c, 4, "APPEND", "k", "x", NULL);
    expect_int_range(c, 99, 100, "TTL", "k", NULL);
    expect_int(c, 4, "SETRANGE", "k", "0", "y", NULL);
    expect_int_range(c, 99, 100, "TTL", "k", NULL);
    expect_bulk(c, "y.5x", "GET", "k", NULL);
    expect_status(c, "OK", "SET", "k", "fresh", NULL);
    expect_int(c, -1, "TTL", "k", NULL);
}

/* Keys and values with NUL, CR and LF bytes round-trip exactly. */
static void test_binary_safe(void **state)
{
    kv_conn *c = *state;
    static const char key[] = "bin\0key\r\n";
    static const char val[] = "a\0b\r\nc\0\xff\x80";
    const size_t klen = sizeof key - 1, vlen = sizeof val - 1;
    const char *set_argv[] = { "SET", key, val };
    const size_t set_lens[] = { 3, klen, vlen };
    kv_reply *r = conn_cmdv(c, 3, set_argv, set_lens);
    assert_status(r, "OK");
    kv_reply_free(r);
    const char *get_argv[] = { "GET", key };
    const size_t get_lens[] = { 3, klen };
    r = conn_cmdv(c, 2, get_argv, get_lens);
    assert_bulk_bin(r, val, vlen);
    kv_reply_free(r);
    /* The key with the NUL is distinct from its prefix before the NUL. */
    expect_nil(c, "GET", "bin", NULL);
    const char *strlen_argv[] = { "STRLEN", key };
    const size_t strlen_lens[] = { 6, klen };
    r = conn_cmdv(c, 2, strlen_argv, strlen_lens);
    assert_int(r, (long long)vlen);
    kv_reply_free(r);
    const char *append_argv[] = { "APPEND", key, "\0" };
    const size_t append_lens[] = { 6, klen, 1 };
    r = conn_cmdv(c, 3, append_argv, append_lens);
    assert_int(r, (long long)vlen + 1);
    kv_reply_free(r);
    const char *range_argv[] = { "GETRANGE", key, "1", "3" };
    const size_t range_lens[] = { 8, klen, 1, 1 };
    r = conn_cmdv(c, 4, range_argv, range_lens);
    assert_bulk_bin(r, "\0b\r", 3);
    kv_reply_free(r);
}

/* A 1 MB value of every byte value survives SET/GET/APPEND/GETRANGE. */
static void test_large_value_1mb(void **state)
{
    kv_conn *c = *state;
    const size_t n = 1024 * 1024;
    char *val = malloc(n);
    assert_non_null(val);
    for (size_t i = 0; i < n; i++)
        val[i] = (char)((i * 131 + (i >> 9)) & 0xff);
    const char *argv[] = { "SET", "big", val };
    const size_t lens[] = { 3, 3, n };
    kv_reply *r = conn_cmdv(c, 3, argv, lens);
    assert_status(r, "OK");
    kv_reply_free(r);
    r = conn_cmd(c, "GET", "big", NULL);
    assert_bulk_bin(r, val, n);
    kv_reply_free(r);
    expect_int(c, (long long)n, "STRLEN", "big", NULL);
    expect_int(c, (long long)n + 3, "APPEND", "big", "end", NULL);
    r = conn_cmd(c, "GETRANGE", "big", "-3", "-1", NULL);
    assert_bulk(r, "end");
    kv_reply_free(r);
    r = conn_cmd(c, "GETRANGE", "big", "1000", "1009", NULL);
    assert_bulk_bin(r, val + 1000, 10);
    kv_reply_free(r);
    free(val);
}

/* Every string command rejects a key holding a list with WRONGTYPE. */
static void test_wrongtype_string_commands(void **state)
{
    kv_conn *c = *state;
    expect_int(c, 1, "RPUSH", "l", "a", NULL);
    expect_error(c, WRONGTYPE, "GET", "l", NULL);
    expect_error(c, WRONGTYPE, "GETSET", "l", "x", NULL);
    expect_error(c, WRONGTYPE, "GETDEL", "l", NULL);
    expect_error(c, WRONGTYPE, "GETEX", "l", NULL);
    expect_error(c, WRONGTYPE, "APPEND", "l", "x", NULL);
    expect_error(c, WRONGTYPE, "STRLEN", "l", NULL);
    expect_error(c, WRONGTYPE, "INCR", "l", NULL);
    expect_error(c, WRONGTYPE, "DECRBY", "l", "2", NULL);
    expect_error(c, WRONGTYPE, "INCRBYFLOAT", "l", "1", NULL);
    expect_error(c, WRONGTYPE, "SETRANGE", "l", "0", "x", NULL);
    expect_error(c, WRONGTYPE, "GETRANGE", "l", "0", "1", NULL);
    expect_int(c, 0, "SETNX", "l", "x", NULL);
    expect_status(c, "list", "TYPE", "l", NULL);
}

/* Wrong argument counts use Redis's exact message with the lower-case command name. */
static void test_wrong_arity(void **state)
{
    kv_conn *c = *state;
    expect_error(c, "ERR wrong number of arguments for 'get' command", "GET", NULL);
    expect_error(c, "ERR wrong number of arguments for 'get' command", "get", "a", "b", NULL);
    expect_error(c, "ERR wrong number of arguments for 'getset' command", "GetSet", "a", NULL);
    expect_error(c, "ERR wrong number of arguments for 'substr' command", "SUBSTR", "a", NULL);
    expect_error(c, "ERR wrong number of arguments for 'incrbyfloat' command", "INCRBYFLOAT",
                 NULL);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, it_test_setup, it_test_teardown)
    const struct CMUnitTest tests[] = {
        T(test_set_get_basic),
        T(test_set_ex_px),
        T(test_set_exat_pxat),
        T(test_set_nx_xx),
        T(test_set_keepttl),
        T(test_set_get_option),
        T(test_set_get_option_wrongtype),
        T(test_set_option_errors),
        T(test_set_invalid_expire),
        T(test_mset_mget),
        T(test_mget_wrong_type_is_nil),
        T(test_msetnx),
        T(test_setnx),
        T(test_setex_psetex),
        T(test_getset),
        T(test_getdel),
        T(test_getex),
        T(test_getex_errors),
        T(test_append_strlen),
        T(test_incr_decr),
        T(test_incr_errors),
        T(test_incrbyfloat),
        T(test_incrbyfloat_errors),
        T(test_setrange),
        T(test_setrange_errors),
        T(test_getrange_substr),
        T(test_ttl_kept_by_modifications),
        T(test_binary_safe),
        T(test_large_value_1mb),
        T(test_wrongtype_string_commands),
        T(test_wrong_arity),
    };
#undef T
    return cmocka_run_group_tests(tests, it_group_setup, it_group_teardown);
}
