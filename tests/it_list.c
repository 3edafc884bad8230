/* it_list.c - integration tests for the list commands (LPUSH ... LMPOP): every command,
 * option and error text over TCP, run against kvns or redis-server (see harness.h);
 * every expectation was first checked against Redis 7. */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WRONGTYPE "WRONGTYPE Operation against a key holding the wrong kind of value"
#define NOT_INT   "ERR value is not an integer or out of range"
#define SYNTAX    "ERR syntax error"
#define POSITIVE  "ERR value is out of range, must be positive"

/* Fails unless r is an array of bulk strings equal to the comma-separated list csv
 * ("" for an empty array). */
static void assert_strings(const kv_reply *r, const char *csv)
{
    char got[1024];
    if (!r || r->type != KV_REPLY_ARRAY)
        it_fail("expected the array [%s], got %s", csv, kv_reply_describe(r, got, sizeof got));
    const char *p = csv;
    size_t i = 0;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        if (i >= r->count || r->elements[i]->type != KV_REPLY_BULK || r->elements[i]->len != n ||
            memcmp(r->elements[i]->str, p, n) != 0)
            it_fail("expected [%s], element %zu differs in %s", csv, i, kv_reply_describe(r, got, sizeof got));
        i++;
        p += n + (comma ? 1 : 0);
    }
    if (i != r->count)
        it_fail("expected [%s] (%zu elements), got %s", csv, i, kv_reply_describe(r, got, sizeof got));
}

/* Runs a command and checks its reply is the array csv. */
static void expect_strings(kv_conn *c, const char *csv, const char *first, ...)
{
    va_list ap;
    va_start(ap, first);
    kv_reply *r = conn_cmd_va(c, first, ap);
    va_end(ap);
    assert_strings(r, csv);
    kv_reply_free(r);
}

/* The whole list (LRANGE 0 -1) must be csv. */
static void expect_list(kv_conn *c, const char *key, const char *csv)
{
    expect_strings(c, csv, "LRANGE", key, "0", "-1", NULL);
}

/* Runs a command whose reply must be a RESP2 nil array (*-1), not a nil bulk. */
static void expect_nil_array(kv_conn *c, const char *first, ...)
{
    va_list ap;
    va_start(ap, first);
    kv_reply *r = conn_cmd_va(c, first, ap);
    va_end(ap);
    char got[256];
    if (!r || r->type != KV_REPLY_NIL || r->prefix != '*')
        it_fail("%s: expected *-1, got %s", first, kv_reply_describe(r, got, sizeof got));
    kv_reply_free(r);
}

/* Runs a command whose reply must be a RESP2 nil bulk ($-1). */
static void expect_nil_bulk(kv_conn *c, const char *first, ...)
{
    va_list ap;
    va_start(ap, first);
    kv_reply *r = conn_cmd_va(c, first, ap);
    va_end(ap);
    char got[256];
    if (!r || r->type != KV_REPLY_NIL || r->prefix != '$')
        it_fail("%s: expected $-1, got %s", first, kv_reply_describe(r, got, sizeof got));
    kv_reply_free(r);
}

/* ---- push ---------------------------------------------------------------------------- */

/* LPUSH prepends (last argument first), RPUSH appends; both return the length. */
static void test_push(void **state)
{
    kv_conn *c = *state;
    expect_int(c, 3, "LPUSH", "l", "a", "b", "c", NULL);
    expect_list(c, "l", "c,b,a");
    expect_int(c, 5, "RPUSH", "l", "d", "e", NULL);
    expect_list(c, "l", "c,b,a,d,e");
    expect_int(c, 5, "LLEN", "l", NULL);
    expect_int(c, 6, "rpush", "l", "", NULL);            /* empty element, any case */
    expect_bulk(c, "", "RPOP", "l", NULL);
    expect_status(c, "list", "TYPE", "l", NULL);
    expect_int(c, 0, "LLEN", "missing", NULL);
    expect_error(c, "ERR wrong number of arguments for 'lpush' command", "LPUSH", "l", NULL);
    expect_error(c, "ERR wrong number of arguments for 'rpush' command", "RPUSH", "l", NULL);
}

/* LPUSHX/RPUSHX only touch an existing list: 0 and no key otherwise. */
static void test_pushx(void **state)
{
    kv_conn *c = *state;
    expect_int(c, 0, "LPUSHX", "l", "a", NULL);
    expect_int(c, 0, "RPUSHX", "l", "a", "b", NULL);
    expect_int(c, 0, "EXISTS", "l", NULL);
    expect_int(c, 1, "RPUSH", "l", "x", NULL);
    expect_int(c, 3, "LPUSHX", "l", "a", "b", NULL);
    expect_int(c, 5, "RPUSHX", "l", "y", "z", NULL);
    expect_list(c, "l", "b,a,x,y,z");
    expect_status(c, "OK", "SET", "s", "v", NULL);
    expect_error(c, WRONGTYPE, "LPUSHX", "s", "a", NULL);
    expect_error(c, WRONGTYPE, "RPUSHX", "s", "a", NULL);
}

/* ---- pop ----------------------------------------------------------------------------- */

/* LPOP/RPOP without count: one element or nil; the key goes with its last element. */
static void test_pop(void **state)
{
    kv_conn *c = *state;
    expect_nil_bulk(c, "LPOP", "l", NULL);
    expect_nil_bulk(c, "RPOP", "l", NULL);
    expect_int(c, 3, "RPUSH", "l", "a", "b", "c", NULL);
    expect_bulk(c, "a", "LPOP", "l", NULL);
    expect_bulk(c, "c", "RPOP", "l", NULL);
    expect_bulk(c, "b", "lpop", "l", NULL);
    expect_int(c, 0, "EXISTS", "l", NULL);
    expect_nil_bulk(c, "RPOP", "l", NULL);
}

/* With count: an array of up to count elements; count 0 on a list is an empty array;
 * a missing key is a nil array; negative or non-numeric counts are errors. */
static void test_pop_count(void **state)
{
    kv_conn *c = *state;
    expect_int(c, 5, "RPUSH", "l", "a", "b", "c", "d", "e", NULL);
    expect_strings(c, "a,b", "LPOP", "l", "2", NULL);
    expect_strings(c, "e,d", "RPOP", "l", "2", NULL);
    expect_strings(c, "", "LPOP", "l", "0", NULL);
    expect_strings(c, "c", "RPOP", "l", "10", NULL);
    expect_int(c, 0, "EXISTS", "l", NULL);
    expect_nil_array(c, "LPOP", "l", "2", NULL);
    expect_nil_array(c, "RPOP", "l", "0", NULL);
    expect_error(c, POSITIVE, "LPOP", "l", "-1", NULL);
    expect_error(c, POSITIVE, "RPOP", "l", "x", NULL);
    expect_error(c, "ERR wrong number of arguments for 'lpop' command", "LPOP", "l", "1", "2", NULL);
    expect_error(c, "ERR wrong number of arguments for 'rpop' command", "RPOP", NULL);
    expect_status(c, "OK", "SET", "s", "v", NULL);
    expect_error(c, WRONGTYPE, "LPOP", "s", NULL);
    expect_error(c, WRONGTYPE, "RPOP", "s", "0", NULL);
    expect_error(c, POSITIVE, "LPOP", "s", "-5", NULL);   /* the count is parsed first */
}

/* ---- reads ----------------------------------------------------------------------------- */

/* LRANGE clamps its range like Redis, negative indexes count from the tail. */
static void test_lrange(void **state)
{
    kv_conn *c = *state;
    expect_strings(c, "", "LRANGE", "l", "0", "-1", NULL);
    expect_int(c, 5, "RPUSH", "l", "a", "b", "c", "d", "e", NULL);
    expect_strings(c, "b,c", "LRANGE", "l", "1", "2", NULL);
    expect_strings(c, "d,e", "LRANGE", "l", "-2", "-1", NULL);
    expect_strings(c, "a,b,c,d,e", "LRANGE", "l", "-100", "100", NULL);
    expect_strings(c, "", "LRANGE", "l", "3", "1", NULL);
    expect_strings(c, "", "LRANGE", "l", "5", "10", NULL);
    expect_strings(c, "", "LRANGE", "l", "0", "-6", NULL);
    expect_strings(c, "a", "LRANGE", "l", "0", "-5", NULL);
    expect_strings(c, "e", "LRANGE", "l", "-1", "9223372036854775807", NULL);
    expect_strings(c, "a,b,c,d,e", "LRANGE", "l", "-9223372036854775808", "4", NULL);
    expect_error(c, NOT_INT, "LRANGE", "l", "x", "1", NULL);
    expect_error(c, NOT_INT, "LRANGE", "missing", "0", "1.5", NULL);
    expect_status(c, "OK", "SET", "s", "v", NULL);
    expect_error(c, WRONGTYPE, "LRANGE", "s", "0", "-1", NULL);
}

/* LINDEX: the element or nil; the key is looked up before the index is parsed. */
static void test_lindex(void **state)
{
    kv_conn *c = *state;
    expect_nil_bulk(c, "LINDEX", "l", "0", NULL);
    expect_nil_bulk(c, "LINDEX", "l", "notanumber", NULL);
    expect_int(c, 3, "RPUSH", "l", "a", "b", "c", NULL);
    expect_bulk(c, "a", "LINDEX", "l", "0", NULL);
    expect_bulk(c, "c", "LINDEX", "l", "2", NULL);
    expect_bulk(c, "c", "LINDEX", "l", "-1", NULL);
    expect_bulk(c, "a", "LINDEX", "l", "-3", NULL);
    expect_nil_bulk(c, "LINDEX", "l", "3", NULL);
    expect_nil_bulk(c, "LINDEX", "l", "-4", NULL);
    expect_nil_bulk(c, "LINDEX", "l", "-9223372036854775808", NULL);
    expect_error(c, NOT_INT, "LINDEX", "l", "x", NULL);
    expect_status(c, "OK", "SET", "s", "v", NULL);
    expect_error(c, WRONGTYPE, "LINDEX", "s", "x", NULL);
}

/* LLEN of lists, missing keys and other types. */
static void test_llen(void **state)
{
    kv_conn *c = *state;
    expect_int(c, 0, "LLEN", "l", NULL);
    expect_int(c, 2, "RPUSH", "l", "a", "b", NULL);
    expect_int(c, 2, "LLEN", "l", NULL);
    expect_status(c, "OK", "SET", "s", "v", NULL);
    expect_error(c, WRONGTYPE, "LLEN", "s", NULL);
    expect_error(c, "ERR wrong number of arguments for 'llen' command", "LLEN", "a", "b", NULL);
}

/* ---- edits --------------------------------------------------------------------------- */

/* LSET: +OK, "no such key", "index out of range", integer errors after the lookup. */
static void test_lset(void **state)
{
    kv_conn *c = *state;
    expect_error(c, "ERR no such key", "LSET", "l", "0", "x", NULL);
    expect_error(c, "ERR no such key", "LSET", "l", "bad", "x", NULL);
    expect_int(c, 3, "RPUSH", "l", "a", "b", "c", NULL);
    expect_status(c, "OK", "LSET", "l", "0", "A", NULL);
    expect_status(c, "OK", "LSET", "l", "-1", "a much longer value than before", NULL);
    expect_status(c, "OK", "LSET", "l", "1", "", NULL);
    expect_list(c, "l", "A,,a much longer value than before");
    expect_error(c, "ERR index out of range", "LSET", "l", "3", "x", NULL);
    expect_error(c, "ERR index out of range", "LSET", "l", "-4", "x", NULL);
    expect_error(c, NOT_INT, "LSET", "l", "1x", "x", NULL);
    expect_status(c, "OK", "SET", "s", "v", NULL);
    expect_error(c, WRONGTYPE, "LSET", "s", "0", "x", NULL);
}

/* LINSERT BEFORE|AFTER: new length, -1 without the pivot, 0 without the key. */
static void test_linsert(void **state)
{
    kv_conn *c = *state;
    expect_int(c, 0, "LINSERT", "l", "BEFORE", "a", "x", NULL);
    expect_int(c, 0, "EXISTS", "l", NULL);
    expect_int(c, 3, "RPUSH", "l", "a", "b", "a", NULL);
    expect_int(c, 4, "LINSERT", "l", "BEFORE", "a", "x", NULL);
    expect_int(c, 5, "LINSERT", "l", "after", "a", "y", NULL);   /* the first pivot */
    expect_int(c, 6, "LINSERT", "l", "AFTER", "b", "z", NULL);
    expect_list(c, "l", "x,a,y,b,z,a");
    expect_int(c, -1, "LINSERT", "l", "BEFORE", "nope", "w", NULL);
    expect_error(c, SYNTAX, "LINSERT", "l", "MIDDLE", "a", "w", NULL);
    expect_error(c, SYNTAX, "LINSERT", "missing", "MIDDLE", "a", "w", NULL);
    expect_status(c, "OK", "SET", "s", "v", NULL);
    expect_error(c, WRONGTYPE, "LINSERT", "s", "BEFORE", "a", "w", NULL);
}

/* LREM: count > 0 from the head, < 0 from the tail, 0 all; the key goes when empty. */
static void test_lrem(void **state)
{
    kv_conn *c = *state;
    expect_int(c, 0, "LREM", "l", "0", "a", NULL);
    expect_int(c, 7, "RPUSH", "l", "a", "b", "a", "c", "a", "b", "a", NULL);
    expect_int(c, 2, "LREM", "l", "2", "a", NULL);
    expect_list(c, "l", "b,c,a,b,a");
    expect_int(c, 1, "LREM", "l", "-1", "b", NULL);
    expect_list(c, "l", "b,c,a,a");
    expect_int(c, 0, "LREM", "l", "5", "zzz", NULL);
    expect_int(c, 2, "LREM", "l", "0", "a", NULL);
    expect_list(c, "l", "b,c");
    expect_int(c, 1, "LREM", "l", "-9223372036854775808", "b", NULL);
    expect_int(c, 1, "LREM", "l", "100", "c", NULL);
    expect_int(c, 0, "EXISTS", "l", NULL);
    expect_error(c, NOT_INT, "LREM", "l", "x", "a", NULL);
    expect_status(c, "OK", "SET", "s", "v", NULL);
    expect_error(c, WRONGTYPE, "LREM", "s", "0", "a", NULL);
    expect_error(c, NOT_INT, "LREM", "s", "x", "a", NULL);     /* parsed before the lookup */
}

/* LTRIM keeps the inclusive range; an empty range deletes the key; +OK when missing. */
static void test_ltrim(void **state)
{
    kv_conn *c = *state;
    expect_status(c, "OK", "LTRIM", "l", "0", "1", NULL);
    expect_int(c, 6, "RPUSH", "l", "a", "b", "c", "d", "e", "f", NULL);
    expect_status(c, "OK", "LTRIM", "l", "1", "-2", NULL);
    expect_list(c, "l", "b,c,d,e");
    expect_status(c, "OK", "LTRIM", "l", "-3", "100", NULL);
    expect_list(c, "l", "c,d,e");
    expect_status(c, "OK", "LTRIM", "l", "-100", "0", NULL);
    expect_list(c, "l", "c");
    expect_status(c, "OK", "LTRIM", "l", "1", "0", NULL);
    expect_int(c, 0, "EXISTS", "l", NULL);
    expect_int(c, 2, "RPUSH", "l", "a", "b", NULL);
    expect_status(c, "OK", "LTRIM", "l", "5", "10", NULL);
    expect_int(c, 0, "EXISTS", "l", NULL);
    expect_error(c, NOT_INT, "LTRIM", "l", "0", "x", NULL);
    expect_status(c, "OK", "SET", "s", "v", NULL);
    expect_error(c, WRONGTYPE, "LTRIM", "s", "0", "1", NULL);
}

/* ---- LPOS -------------------------------------------------------------------------- */

/* RANK picks the n-th match (negative from the tail), COUNT returns several (0: all),
 * MAXLEN limits the comparisons. */
static void test_lpos(void **state)
{
    kv_conn *c = *state;
    expect_int(c, 8, "RPUSH", "l", "a", "b", "c", "1", "2", "3", "c", "c", NULL);
    expect_int(c, 2, "LPOS", "l", "c", NULL);
    expect_int(c, 6, "LPOS", "l", "c", "RANK", "2", NULL);
    expect_int(c, 7, "LPOS", "l", "c", "RANK", "-1", NULL);
    expect_int(c, 6, "LPOS", "l", "c", "rank", "-2", NULL);
    expect_nil_bulk(c, "LPOS", "l", "c", "RANK", "4", NULL);
    expect_nil_bulk(c, "LPOS", "l", "x", NULL);
    kv_reply *r = it_run(c, "LPOS", "l", "c", "COUNT", "2", NULL);
    assert_array_len(r, 2);
    assert_int(r->elements[0], 2);
    assert_int(r->elements[1], 6);
    kv_reply_free(r);
    r = it_run(c, "LPOS", "l", "c", "COUNT", "0", NULL);
    assert_array_len(r, 3);
    assert_int(r->elements[2], 7);
    kv_reply_free(r);
    r = it_run(c, "LPOS", "l", "c", "RANK", "-1", "COUNT", "2", NULL);
    assert_array_len(r, 2);
    assert_int(r->elements[0], 7);
    assert_int(r->elements[1], 6);
    kv_reply_free(r);
    r = it_run(c, "LPOS", "l", "c", "COUNT", "0", "MAXLEN", "7", NULL);
    assert_array_len(r, 2);
    kv_reply_free(r);
    expect_nil_bulk(c, "LPOS", "l", "c", "MAXLEN", "2", NULL);
    expect_int(c, 2, "LPOS", "l", "c", "MAXLEN", "3", NULL);
    expect_array_len(c, 0, "LPOS", "l", "x", "COUNT", "1", NULL);
    expect_array_len(c, 0, "LPOS", "missing", "x", "COUNT", "1", NULL);
    expect_nil_bulk(c, "LPOS", "missing", "x", NULL);
    /* RANK -9223372036854775808 behaves as Redis's negation leaves it */
    expect_int(c, 7, "LPOS", "l", "c", "RANK", "-9223372036854775808", NULL);
    expect_array_len(c, 3, "LPOS", "l", "c", "RANK", "-9223372036854775808", "COUNT", "1", NULL);
}

/* LPOS option errors, with Redis's texts; options are parsed before the lookup. */
static void test_lpos_errors(void **state)
{
    kv_conn *c = *state;
    expect_error(c, "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... "
                    "or use negative to start from the end of the list",
                 "LPOS", "l", "a", "RANK", "0", NULL);
    expect_error(c, NOT_INT, "LPOS", "l", "a", "RANK", "x", NULL);
    expect_error(c, "ERR COUNT can't be negative", "LPOS", "l", "a", "COUNT", "-1", NULL);
    expect_error(c, "ERR COUNT can't be negative", "LPOS", "l", "a", "COUNT", "x", NULL);
    expect_error(c, "ERR MAXLEN can't be negative", "LPOS", "l", "a", "MAXLEN", "-1", NULL);
    expect_error(c, "ERR MAXLEN can't be negative", "LPOS", "l", "a", "MAXLEN", "1.5", NULL);
    expect_error(c, SYNTAX, "LPOS", "l", "a", "RANK", NULL);
    expect_error(c, SYNTAX, "LPOS", "l", "a", "FOO", "1", NULL);
    expect_status(c, "OK", "SET", "s", "v", NULL);
    expect_error(c, WRONGTYPE, "LPOS", "s", "a", NULL);
    expect_error(c, SYNTAX, "LPOS", "s", "a", "FOO", NULL);
}

/* ---- moves --------------------------------------------------------------------------- */

/* LMOVE in all four directions, RPOPLPUSH, and a missing source. */
static void test_lmove(void **state)
{
    kv_conn *c = *state;
    expect_nil_bulk(c, "LMOVE", "src", "dst", "LEFT", "RIGHT", NULL);
    expect_int(c, 0, "EXISTS", "dst", NULL);
    expect_int(c, 4, "RPUSH", "src", "a", "b", "c", "d", NULL);
    expect_bulk(c, "a", "LMOVE", "src", "dst", "LEFT", "RIGHT", NULL);
    expect_bulk(c, "d", "LMOVE", "src", "dst", "RIGHT", "LEFT", NULL);
    expect_bulk(c, "b", "lmove", "src", "dst", "left", "left", NULL);
    expect_bulk(c, "c", "LMOVE", "src", "dst", "RIGHT", "RIGHT", NULL);
    expect_int(c, 0, "EXISTS", "src", NULL);                 /* emptied: deleted */
    expect_list(c, "dst", "b,d,a,c");
    expect_bulk(c, "c", "RPOPLPUSH", "dst", "other", NULL);
    expect_list(c, "other", "c");
    expect_nil_bulk(c, "RPOPLPUSH", "nothing", "other", NULL);
    expect_error(c, SYNTAX, "LMOVE", "dst", "other", "UP", "LEFT", NULL);
    expect_error(c, SYNTAX, "LMOVE", "dst", "other", "LEFT", "DOWN", NULL);
    expect_error(c, SYNTAX, "LMOVE", "missing", "other", "LEFT", "DOWN", NULL);
}

/* The same list as source and destination rotates; a one-element list survives. */
static void test_lmove_same_list(void **state)
{
    kv_conn *c = *state;
    expect_int(c, 3, "RPUSH", "l", "a", "b", "c", NULL);
    expect_bulk(c, "c", "RPOPLPUSH", "l", "l", NULL);
    expect_list(c, "l", "c,a,b");
    expect_bulk(c, "c", "LMOVE", "l", "l", "LEFT", "RIGHT", NULL);
    expect_list(c, "l", "a,b,c");
    expect_bulk(c, "a", "LMOVE", "l", "l", "LEFT", "LEFT", NULL);
    expect_bulk(c, "c", "LMOVE", "l", "l", "RIGHT", "RIGHT", NULL);
    expect_list(c, "l", "a,b,c");
    expect_int(c, 1, "RPUSH", "one", "x", NULL);
    expect_bulk(c, "x", "LMOVE", "one", "one", "LEFT", "RIGHT", NULL);
    expect_list(c, "one", "x");
    expect_bulk(c, "x", "RPOPLPUSH", "one", "one", NULL);
    expect_int(c, 1, "LLEN", "one", NULL);
}

/* A destination of another type is WRONGTYPE and leaves the source untouched; so is
 * a source of another type. Keys in different namespaces move like any others. */
static void test_lmove_types_and_namespaces(void **state)
{
    kv_conn *c = *state;
    expect_int(c, 2, "RPUSH", "src", "a", "b", NULL);
    expect_status(c, "OK", "SET", "str", "v", NULL);
    expect_error(c, WRONGTYPE, "LMOVE", "src", "str", "LEFT", "LEFT", NULL);
    expect_error(c, WRONGTYPE, "RPOPLPUSH", "src", "str", NULL);
    expect_list(c, "src", "a,b");
    expect_error(c, WRONGTYPE, "LMOVE", "str", "src", "LEFT", "LEFT", NULL);
    expect_nil_bulk(c, "RPOPLPUSH", "missing", "str", NULL);    /* source first */
    for (int i = 0; i < 20; i++) {
        char src[32], dst[32];
        snprintf(src, sizeof src, "ns%d/list", i % 3);
        snprintf(dst, sizeof dst, "other%d/list", i);
        expect_int(c, 1, "RPUSH", src, "v", NULL);
        expect_bulk(c, "v", "LMOVE", src, dst, "RIGHT", "LEFT", NULL);
        expect_int(c, 0, "EXISTS", src, NULL);
        expect_list(c, dst, "v");
    }
}

/* ---- LMPOP --------------------------------------------------------------------------- */

/* LMPOP pops from the first non-empty list: [key, elements]; nil array when none. */
static void test_lmpop(void **state)
{
    kv_conn *c = *state;
    expect_nil_array(c, "LMPOP", "2", "a", "b", "LEFT", NULL);
    expect_int(c, 3, "RPUSH", "b", "1", "2", "3", NULL);
    kv_reply *r = it_run(c, "LMPOP", "2", "a", "b", "LEFT", NULL);
    assert_array_len(r, 2);
    assert_bulk(r->elements[0], "b");
    assert_strings(r->elements[1], "1");
    kv_reply_free(r);
    r = it_run(c, "LMPOP", "3", "a", "b", "c", "right", "COUNT", "5", NULL);
    assert_array_len(r, 2);
    assert_bulk(r->elements[0], "b");
    assert_strings(r->elements[1], "3,2");
    kv_reply_free(r);
    expect_int(c, 0, "EXISTS", "b", NULL);
    expect_int(c, 4, "RPUSH", "ns1/x", "a", "b", "c", "d", NULL);
    r = it_run(c, "LMPOP", "2", "missing", "ns1/x", "LEFT", "count", "2", NULL);
    assert_array_len(r, 2);
    assert_bulk(r->elements[0], "ns1/x");
    assert_strings(r->elements[1], "a,b");
    kv_reply_free(r);
    expect_list(c, "ns1/x", "c,d");
}

/* LMPOP argument errors and type checks in key order. */
static void test_lmpop_errors(void **state)
{
    kv_conn *c = *state;
    const char *numkeys = "ERR numkeys should be greater than 0";
    expect_error(c, numkeys, "LMPOP", "0", "a", "LEFT", NULL);
    expect_error(c, numkeys, "LMPOP", "-1", "a", "LEFT", NULL);
    expect_error(c, numkeys, "LMPOP", "x", "a", "LEFT", NULL);
    expect_error(c, SYNTAX, "LMPOP", "2", "a", "LEFT", NULL);
    expect_error(c, SYNTAX, "LMPOP", "9223372036854775807", "a", "LEFT", NULL);
    expect_error(c, SYNTAX, "LMPOP", "1", "a", "MIDDLE", NULL);
    expect_error(c, SYNTAX, "LMPOP", "1", "a", "LEFT", "FOO", NULL);
    expect_error(c, SYNTAX, "LMPOP", "1", "a", "LEFT", "COUNT", NULL);
    expect_error(c, SYNTAX, "LMPOP", "1", "a", "LEFT", "COUNT", "1", "COUNT", "1", NULL);
    expect_error(c, "ERR count should be greater than 0", "LMPOP", "1", "a", "LEFT", "COUNT", "0", NULL);
    expect_error(c, "ERR count should be greater than 0", "LMPOP", "1", "a", "LEFT", "COUNT", "x", NULL);
    expect_error(c, "ERR wrong number of arguments for 'lmpop' command", "LMPOP", "1", "a", NULL);
    expect_status(c, "OK", "SET", "s", "v", NULL);
    expect_int(c, 1, "RPUSH", "l", "x", NULL);
    expect_error(c, WRONGTYPE, "LMPOP", "2", "s", "l", "LEFT", NULL);
    expect_list(c, "l", "x");
    kv_reply *r = it_run(c, "LMPOP", "2", "l", "s", "LEFT", NULL);   /* l comes first */
    assert_array_len(r, 2);
    kv_reply_free(r);
}

/* ---- RESP3 ----------------------------------------------------------------------------- */

/* Under RESP3 the nils are `_`, arrays stay arrays. */
static void test_resp3(void **state)
{
    kv_conn *c = *state;
    kv_reply *r = it_run(c, "HELLO", "3", NULL);
    kv_reply_free(r);
    const char *const cmds[][6] = {
        { "LPOP", "l", NULL },
        { "LPOP", "l", "2", NULL },
        { "LMPOP", "1", "l", "LEFT", NULL },
        { "LINDEX", "l", "0", NULL },
        { "LPOS", "l", "x", NULL },
        { "RPOPLPUSH", "l", "m", NULL },
    };
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        int argc = 0;
        while (cmds[i][argc])
            argc++;
        r = conn_cmdv(c, argc, cmds[i], NULL);
        char got[128];
        if (!r || r->type != KV_REPLY_NIL || r->prefix != '_')
            it_fail("%s under RESP3: expected _, got %s", cmds[i][0], kv_reply_describe(r, got, sizeof got));
        kv_reply_free(r);
    }
    expect_int(c, 2, "RPUSH", "l", "a", "b", NULL);
    expect_strings(c, "a,b", "LPOP", "l", "5", NULL);
}

/* ---- larger lists -------------------------------------------------------------------- */

/* A list of many blocks: pipelined pushes, then reads and edits at scattered indexes
 * compared with a local copy. */
static void test_large_list(void **state)
{
    kv_conn *c = *state;
    enum { N = 20000, BATCH = 500 };
    static char vals[N][40];
    const char *argv[BATCH + 2];
    for (int i = 0; i < N; i++)
        snprintf(vals[i], sizeof vals[i], "value-%d-%.*s", i, i % 10, "xxxxxxxxxx");
    argv[0] = "RPUSH";
    argv[1] = "big";
    for (int i = 0; i < N; i += BATCH) {
        for (int j = 0; j < BATCH; j++)
            argv[2 + j] = vals[i + j];
        kv_reply *r = conn_cmdv(c, BATCH + 2, argv, NULL);
        assert_int(r, i + BATCH);
        kv_reply_free(r);
    }
    char idx[32];
    for (int i = 0; i < N; i += 997) {
        expect_bulk(c, vals[i], "LINDEX", "big", fmt_ll(idx, sizeof idx, i), NULL);
        expect_bulk(c, vals[i], "LINDEX", "big", fmt_ll(idx, sizeof idx, i - N), NULL);
    }
    kv_reply *r = it_run(c, "LRANGE", "big", "9990", "10009", NULL);
    assert_array_len(r, 20);
    for (int i = 0; i < 20; i++)
        assert_bulk(r->elements[i], vals[9990 + i]);
    kv_reply_free(r);
    expect_status(c, "OK", "LSET", "big", "12345", "changed", NULL);
    expect_bulk(c, "changed", "LINDEX", "big", "12345", NULL);
    expect_int(c, N + 1, "LINSERT", "big", "AFTER", vals[15000], "inserted", NULL);
    expect_bulk(c, "inserted", "LINDEX", "big", "15001", NULL);
    expect_int(c, 15001, "LPOS", "big", "inserted", NULL);
    expect_int(c, 1, "LREM", "big", "-1", "inserted", NULL);
    expect_bulk(c, vals[15001], "LINDEX", "big", "15001", NULL);
    expect_status(c, "OK", "LTRIM", "big", "100", "-101", NULL);
    expect_int(c, N - 200, "LLEN", "big", NULL);
    expect_bulk(c, vals[100], "LPOP", "big", NULL);
    expect_bulk(c, vals[N - 101], "RPOP", "big", NULL);
    r = it_run(c, "LPOP", "big", "1000", NULL);
    assert_array_len(r, 1000);
    assert_bulk(r->elements[999], vals[1100]);
    kv_reply_free(r);
    expect_int(c, 1, "DEL", "big", NULL);
    expect_int(c, 0, "EXISTS", "big", NULL);
}

/* Elements far larger than a block, and binary bytes, round-trip unchanged. */
static void test_large_and_binary_elements(void **state)
{
    kv_conn *c = *state;
    size_t sizes[] = { 100000, 8190, 1 << 20 };
    for (size_t i = 0; i < 3; i++) {
        char *big = malloc(sizes[i]);
        for (size_t j = 0; j < sizes[i]; j++)
            big[j] = (char)(j * 31 + i);
        const char *argv[] = { "RPUSH", "l", big, "small" };
        size_t lens[] = { 5, 1, sizes[i], 5 };
        kv_reply *r = conn_cmdv(c, 4, argv, lens);
        assert_int(r, (long long)(2 * i + 2));
        kv_reply_free(r);
        char idx[32];
        r = it_run(c, "LINDEX", "l", fmt_ll(idx, sizeof idx, (long long)(2 * i)), NULL);
        assert_bulk_bin(r, big, sizes[i]);
        kv_reply_free(r);
        free(big);
    }
    const char bin[] = { 'a', 0, '\r', '\n', (char)0xff };
    const char *argv[] = { "LPUSH", "l", bin };
    size_t lens[] = { 5, 1, sizeof bin };
    kv_reply *r = conn_cmdv(c, 3, argv, lens);
    assert_int(r, 7);
    kv_reply_free(r);
    r = it_run(c, "LPOP", "l", NULL);
    assert_bulk_bin(r, bin, sizeof bin);
    kv_reply_free(r);
}

/* OBJECT ENCODING: listpack while small, quicklist beyond (kvns's rule; Redis 7.0
 * always says quicklist). COPY duplicates a list. */
static void test_encoding_and_copy(void **state)
{
    kv_conn *c = *state;
    expect_int(c, 2, "RPUSH", "l", "a", "b", NULL);
    expect_status(c, "OK", "SET", "s", "v", NULL);
    expect_int(c, 1, "COPY", "l", "ns2/copy", NULL);
    expect_list(c, "ns2/copy", "a,b");
    expect_bulk(c, "a", "LPOP", "ns2/copy", NULL);
    expect_list(c, "l", "a,b");
    it_skip_unless_kvns("list encoding thresholds");
    expect_bulk(c, "listpack", "OBJECT", "ENCODING", "l", NULL);
    char v[16];
    for (int i = 0; i < 200; i++)
        expect_int(c, 3 + i, "RPUSH", "l", fmt_ll(v, sizeof v, i), NULL);
    expect_bulk(c, "quicklist", "OBJECT", "ENCODING", "l", NULL);
}

/* Bytes INFO used_memory reports for a 1M-element list of 16-byte elements (printed
 * for the report; bounded loosely). */
static void test_memory_per_element(void **state)
{
    kv_conn *c = *state;
    enum { N = 1000000, BATCH = 1000 };
    kv_reply *r = it_run(c, "INFO", "memory", NULL);
    const char *at = r->str ? strstr(r->str, "used_memory:") : NULL;
    long long before = at ? atoll(at + 12) : -1;
    kv_reply_free(r);
    if (before < 0)
        it_fail("INFO memory has no used_memory");
    static char vals[BATCH][17];
    const char *argv[BATCH + 2] = { "RPUSH", "mem" };
    for (int i = 0; i < N; i += BATCH) {
        for (int j = 0; j < BATCH; j++) {
            snprintf(vals[j], sizeof vals[j], "%016d", i + j);
            argv[2 + j] = vals[j];
        }
        if (conn_send_cmdv(c, BATCH + 2, argv, NULL) != 0)
            it_fail("send failed");
    }
    for (int i = 0; i < N; i += BATCH) {
        r = conn_read_reply(c);
        assert_int(r, i + BATCH);
        kv_reply_free(r);
    }
    r = it_run(c, "INFO", "memory", NULL);
    at = r->str ? strstr(r->str, "used_memory:") : NULL;
    long long after = at ? atoll(at + 12) : -1;
    kv_reply_free(r);
    double per = (double)(after - before) / N;
    print_message("%s: %lld bytes for %d 16-byte elements: %.2f bytes/element\n",
                  srv_target_is_redis() ? "redis" : "kvns", after - before, N, per);
    assert_true(per > 16 && per < 24);
    expect_bulk(c, "0000000000999999", "LINDEX", "mem", "-1", NULL);
    expect_int(c, 1, "DEL", "mem", NULL);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, it_test_setup, it_test_teardown)
    const struct CMUnitTest tests[] = {
        T(test_push),
        T(test_pushx),
        T(test_pop),
        T(test_pop_count),
        T(test_lrange),
        T(test_lindex),
        T(test_llen),
        T(test_lset),
        T(test_linsert),
        T(test_lrem),
        T(test_ltrim),
        T(test_lpos),
        T(test_lpos_errors),
        T(test_lmove),
        T(test_lmove_same_list),
        T(test_lmove_types_and_namespaces),
        T(test_lmpop),
        T(test_lmpop_errors),
        T(test_resp3),
        T(test_large_list),
        T(test_large_and_binary_elements),
        T(test_encoding_and_copy),
        T(test_memory_per_element),
    };
#undef T
    return cmocka_run_group_tests(tests, it_group_setup, it_group_teardown);
}
