/* it_sort.c - integration tests for SORT and SORT_RO over TCP: numeric and ALPHA
 * order, BY and GET patterns (string keys, hash fields, missing keys, namespaces),
 * LIMIT, DESC, STORE, the three source types, errors, MULTI, scripts and RESP3. Run
 * against kvns or redis-server (see harness.h); every expectation was first checked
 * against Redis 7. */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WRONGTYPE "WRONGTYPE Operation against a key holding the wrong kind of value"
#define NOT_INT   "ERR value is not an integer or out of range"
#define SYNTAX    "ERR syntax error"
#define NOT_DOUBLE "ERR One or more scores can't be converted into double"

/* Fails unless r is an array whose elements are the comma-separated list csv ("" for
 * an empty array), "~" standing for a nil element. */
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
        bool nil = n == 1 && p[0] == '~';
        const kv_reply *e = i < r->count ? r->elements[i] : NULL;
        bool ok = e && (nil ? e->type == KV_REPLY_NIL
                            : e->type == KV_REPLY_BULK && e->len == n && memcmp(e->str, p, n) == 0);
        if (!ok)
            it_fail("expected [%s], element %zu differs in %s", csv, i, kv_reply_describe(r, got, sizeof got));
        i++;
        p += n + (comma ? 1 : 0);
    }
    if (i != r->count)
        it_fail("expected [%s] (%zu elements), got %s", csv, i, kv_reply_describe(r, got, sizeof got));
}

/* Runs a command and checks its reply is the array csv (see assert_strings). */
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

/* ---- order ----------------------------------------------------------------------------- */

/* Numeric order parses each element as strtod does (spaces, hex, inf; "" is 0), ties
 * broken by the bytes; ALPHA is byte order; DESC reverses both. */
static void test_numeric_and_alpha(void **state)
{
    kv_conn *c = *state;
    expect_int(c, 4, "RPUSH", "l", "3", "1", "10", "2", NULL);
    expect_strings(c, "1,2,3,10", "SORT", "l", NULL);
    expect_strings(c, "10,3,2,1", "SORT", "l", "DESC", NULL);
    expect_strings(c, "1,10,2,3", "SORT", "l", "ALPHA", NULL);
    expect_strings(c, "3,2,10,1", "SORT", "l", "ALPHA", "DESC", NULL);
    expect_strings(c, "1,2,3,10", "SORT", "l", "DESC", "ASC", NULL);
    expect_strings(c, "1,2,3,10", "SORT_RO", "l", NULL);

    expect_int(c, 7, "RPUSH", "odd", "3", "", " 4", "0x10", "inf", "-inf", "2.5", NULL);
    expect_strings(c, "-inf,,2.5,3, 4,0x10,inf", "SORT", "odd", NULL);
    expect_int(c, 4, "RPUSH", "ties", "b", "a", "0", "00", NULL);
    expect_error(c, NOT_DOUBLE, "SORT", "ties", NULL);
    expect_strings(c, "0,00,a,b", "SORT", "ties", "ALPHA", NULL);
    expect_int(c, 1, "RPUSH", "nan", "nan", NULL);
    expect_error(c, NOT_DOUBLE, "SORT", "nan", NULL);
    expect_int(c, 1, "RPUSH", "huge", "1e400", NULL);
    expect_error(c, NOT_DOUBLE, "SORT", "huge", NULL);

    expect_int(c, 6, "RPUSH", "case", "b", "B", "a", "A", "10", "9", NULL);
    expect_strings(c, "10,9,A,B,a,b", "SORT", "case", "ALPHA", NULL);
    expect_strings(c, "", "SORT", "missing", NULL);
}

/* ---- BY ------------------------------------------------------------------------------- */

/* BY string keys and hash fields; a missing weight counts as 0 (ALPHA: first), ties
 * by the element; BY without '*' does not sort. */
static void test_by(void **state)
{
    kv_conn *c = *state;
    expect_int(c, 4, "RPUSH", "l", "1", "2", "3", "4", NULL);
    expect_status(c, "OK", "MSET", "w_1", "30", "w_2", "20", "w_3", "10", NULL);
    expect_strings(c, "4,3,2,1", "SORT", "l", "BY", "w_*", NULL);
    expect_strings(c, "1,2,3,4", "SORT", "l", "BY", "w_*", "DESC", NULL);
    expect_strings(c, "4,3,2,1", "SORT", "l", "BY", "w_*", "ALPHA", NULL);   /* "" < "10" < "20" < "30" */
    expect_strings(c, "1,2,3,4", "SORT", "l", "BY", "nosort", NULL);
    expect_strings(c, "4,3,2,1", "SORT", "l", "BY", "nosort", "DESC", NULL);

    expect_int(c, 1, "HSET", "h_1", "f", "b", NULL);
    expect_int(c, 1, "HSET", "h_2", "f", "c", NULL);
    expect_int(c, 1, "HSET", "h_3", "f", "a", NULL);
    expect_int(c, 1, "HSET", "h_4", "g", "z", NULL);
    expect_strings(c, "4,3,1,2", "SORT", "l", "BY", "h_*->f", "ALPHA", NULL);
    expect_strings(c, "2,1,3,4", "SORT", "l", "BY", "h_*->f", "ALPHA", "DESC", NULL);
    /* a hash-field pattern on a string key (and the other way round) finds nothing */
    expect_strings(c, "1,2,3,4", "SORT", "l", "BY", "w_*->f", NULL);
    expect_strings(c, "1,2,3,4", "SORT", "l", "BY", "h_*", NULL);

    /* weights in namespaces */
    expect_status(c, "OK", "MSET", "ns/w_1", "3", "ns/w_2", "1", "ns/w_3", "2", "ns/w_4", "-1", NULL);
    expect_strings(c, "4,2,3,1", "SORT", "l", "BY", "ns/w_*", NULL);
    expect_int(c, 1, "RPUSH", "bad", "x", NULL);
    expect_status(c, "OK", "SET", "w_x", "abc", NULL);
    expect_error(c, NOT_DOUBLE, "SORT", "bad", "BY", "w_*", NULL);
}

/* Many weights spread over every shard: the sort reads them all in one go. */
static void test_by_many_keys(void **state)
{
    kv_conn *c = *state;
    enum { N = 300 };
    char el[16], key[24], w[16];
    for (int i = 0; i < N; i++) {
        snprintf(el, sizeof el, "e%d", i);
        snprintf(key, sizeof key, "weight_e%d", i);
        snprintf(w, sizeof w, "%d", N - i);
        expect_int(c, i + 1, "RPUSH", "many", el, NULL);
        expect_status(c, "OK", "SET", key, w, NULL);
    }
    kv_reply *r = it_run(c, "SORT", "many", "BY", "weight_*", "GET", "weight_*", NULL);
    assert_array_len(r, N);
    for (int i = 0; i < N; i++) {
        snprintf(w, sizeof w, "%d", i + 1);
        assert_bulk(r->elements[i], w);
    }
    kv_reply_free(r);
}

/* A SORT with a BY pattern takes every shard: while another worker holds the shard
 * of one weight (DEBUG LOCKSHARD) it waits for it and then answers in full, where a
 * SORT without patterns (its key on another shard) answers at once. */
static void test_by_waits_for_a_held_shard(void **state)
{
    kv_conn *c = *state;
    it_skip_unless_kvns("DEBUG LOCKSHARD holds a shard");
    kv_reply *r = it_run(c, "DEBUG", "KEYSHARD", "w_1", NULL);
    long long wshard = r->integer;
    kv_reply_free(r);
    char list[32];
    for (int i = 0;; i++) {
        snprintf(list, sizeof list, "list%d", i);
        r = it_run(c, "DEBUG", "KEYSHARD", list, NULL);
        long long s = r->integer;
        kv_reply_free(r);
        if (s != wshard)
            break;
    }
    expect_int(c, 2, "RPUSH", list, "1", "2", NULL);
    expect_status(c, "OK", "MSET", "w_1", "2", "w_2", "1", NULL);
    kv_conn *holder = it_connect();
    long long pid = it_info_ll(holder, "server", "process_id");
    assert_int_equal(conn_send_cmd(holder, "DEBUG", "LOCKSHARD", "w_1", "600", NULL), 0);
    sleep_ms(100);
    kv_conn *other = it_connect_elsewhere(it_port(), pid);
    long long t0 = mono_ms();
    expect_strings(other, "1,2", "SORT", list, NULL);
    long long plain_ms = mono_ms() - t0;
    expect_strings(other, "2,1", "SORT", list, "BY", "w_*", NULL);
    long long by_ms = mono_ms() - t0;
    conn_set_timeout(holder, 10000);
    r = conn_read_reply(holder);
    assert_status(r, "OK");
    kv_reply_free(r);
    conn_close(holder);
    conn_close(other);
    if (plain_ms > 250 || by_ms < 300)
        it_fail("SORT took %lld ms, SORT BY %lld ms (the shard was held for 600 ms)", plain_ms, by_ms);
}

/* ---- GET ------------------------------------------------------------------------------ */

/* GET # is the element; GET of a missing key, another type, a missing field or a
 * pattern without '*' is nil; several GETs give one group per element. */
static void test_get(void **state)
{
    kv_conn *c = *state;
    expect_int(c, 3, "RPUSH", "l", "1", "2", "3", NULL);
    expect_status(c, "OK", "MSET", "v_1", "one", "v_3", "three", "fixed", "x", NULL);
    expect_int(c, 1, "HSET", "h_2", "name", "two", NULL);
    expect_int(c, 1, "RPUSH", "v_2", "a list", NULL);
    expect_strings(c, "one,~,three", "SORT", "l", "GET", "v_*", NULL);
    expect_strings(c, "1,one,~,2,~,two,3,three,~", "SORT", "l", "GET", "#", "GET", "v_*", "GET", "h_*->name",
                   NULL);
    expect_strings(c, "~,~,~", "SORT", "l", "GET", "fixed", NULL);
    expect_strings(c, "three,~,one", "SORT", "l", "DESC", "GET", "v_*", NULL);
    expect_strings(c, "~,two,~", "SORT", "l", "GET", "h_*->name", NULL);
    expect_strings(c, "~,~,~", "SORT", "l", "GET", "h_*->nofield", NULL);
    expect_strings(c, "one,~,three", "SORT_RO", "l", "GET", "v_*", NULL);
}

/* ---- LIMIT ---------------------------------------------------------------------------- */

/* LIMIT offset count, clamped as Redis does (negative offset: 0, negative count: all,
 * past the end: empty), also with BY nosort on a list, from its other end for DESC. */
static void test_limit(void **state)
{
    kv_conn *c = *state;
    expect_int(c, 5, "RPUSH", "l", "5", "4", "3", "2", "1", NULL);
    expect_strings(c, "2,3", "SORT", "l", "LIMIT", "1", "2", NULL);
    expect_strings(c, "4,3", "SORT", "l", "LIMIT", "1", "2", "DESC", NULL);
    expect_strings(c, "1,2,3,4,5", "SORT", "l", "LIMIT", "-1", "-1", NULL);
    expect_strings(c, "3,4,5", "SORT", "l", "LIMIT", "2", "-5", NULL);
    expect_strings(c, "4,5", "SORT", "l", "LIMIT", "3", "1000000000000", NULL);
    expect_strings(c, "", "SORT", "l", "LIMIT", "10", "2", NULL);
    expect_strings(c, "", "SORT", "l", "LIMIT", "0", "0", NULL);
    expect_strings(c, "4,3", "SORT", "l", "BY", "nosort", "LIMIT", "1", "2", NULL);
    expect_strings(c, "2,3", "SORT", "l", "BY", "nosort", "LIMIT", "1", "2", "DESC", NULL);
    expect_strings(c, "", "SORT", "l", "BY", "nosort", "LIMIT", "10", "1", "DESC", NULL);
    expect_error(c, NOT_INT, "SORT", "l", "LIMIT", "a", "1", NULL);
    expect_error(c, NOT_INT, "SORT", "l", "LIMIT", "1", "1.5", NULL);
}

/* ---- STORE ---------------------------------------------------------------------------- */

/* STORE replaces the destination (any type) by a list and returns its length; a
 * missing GET value is stored as ""; an empty result deletes the destination; the last
 * STORE wins. */
static void test_store(void **state)
{
    kv_conn *c = *state;
    expect_int(c, 3, "RPUSH", "l", "3", "1", "2", NULL);
    expect_status(c, "OK", "SET", "dst", "a string", NULL);
    expect_int(c, 3, "SORT", "l", "STORE", "dst", NULL);
    expect_status(c, "list", "TYPE", "dst", NULL);
    expect_list(c, "dst", "1,2,3");
    expect_status(c, "OK", "SET", "v_2", "two", NULL);
    expect_int(c, 6, "SORT", "l", "GET", "v_*", "GET", "#", "STORE", "ns/dst", NULL);
    expect_list(c, "ns/dst", ",1,two,2,,3");
    expect_int(c, 3, "SORT", "l", "STORE", "l", NULL);   /* onto itself */
    expect_list(c, "l", "1,2,3");
    expect_int(c, 0, "SORT", "l", "LIMIT", "5", "1", "STORE", "dst", NULL);
    expect_int(c, 0, "EXISTS", "dst", NULL);
    expect_int(c, 0, "SORT", "missing", "STORE", "ns/dst", NULL);
    expect_int(c, 0, "EXISTS", "ns/dst", NULL);
    expect_int(c, 2, "SORT", "l", "DESC", "LIMIT", "0", "2", "STORE", "d1", "STORE", "d2", NULL);
    expect_int(c, 0, "EXISTS", "d1", NULL);
    expect_list(c, "d2", "3,2");
    expect_int(c, 3, "SORT", "l", "STORE", "get", "STORE", "d3", NULL);
    expect_int(c, 0, "EXISTS", "get", NULL);
    expect_list(c, "d3", "1,2,3");
    expect_int(c, 1, "RPUSH", "bad", "x", NULL);
    expect_error(c, NOT_DOUBLE, "SORT", "bad", "STORE", "d3", NULL);
    expect_list(c, "d3", "1,2,3");
}

/* ---- source types ---------------------------------------------------------------------- */

/* Sets and sorted sets sort by element; a sorted set with BY nosort keeps its score
 * order (reversed for DESC, LIMIT from that end); a set stored or sorted by a script
 * with BY nosort is sorted ALPHA so that the result does not depend on set order. */
static void test_set_and_zset(void **state)
{
    kv_conn *c = *state;
    expect_int(c, 4, "SADD", "s", "10", "2", "33", "1", NULL);
    expect_strings(c, "1,2,10,33", "SORT", "s", NULL);
    expect_strings(c, "1,10,2,33", "SORT", "s", "ALPHA", NULL);
    expect_int(c, 3, "SADD", "ss", "z", "y", "x", NULL);
    expect_int(c, 3, "SORT", "ss", "BY", "nosort", "STORE", "dst", NULL);
    expect_list(c, "dst", "x,y,z");
    expect_strings(c, "x,y,z", "EVAL", "return redis.call('sort', KEYS[1], 'by', 'nosort')", "1", "ss", NULL);

    expect_int(c, 4, "ZADD", "z", "10", "x", "20", "y", "30", "zz", "5", "w", NULL);
    expect_strings(c, "w,x,y,zz", "SORT", "z", "BY", "nosort", NULL);
    expect_strings(c, "x,y", "SORT", "z", "BY", "nosort", "LIMIT", "1", "2", NULL);
    expect_strings(c, "y,x", "SORT", "z", "BY", "nosort", "LIMIT", "1", "2", "DESC", NULL);
    expect_strings(c, "", "SORT", "z", "BY", "nosort", "LIMIT", "10", "2", "DESC", NULL);
    expect_strings(c, "zz,y,x,w", "SORT", "z", "ALPHA", "DESC", NULL);
    expect_status(c, "OK", "MSET", "w_w", "4", "w_x", "3", "w_y", "1", "w_zz", "2", NULL);
    expect_strings(c, "y,1,zz,2,x,3,w,4", "SORT", "z", "BY", "w_*", "GET", "#", "GET", "w_*", NULL);
    expect_error(c, NOT_DOUBLE, "SORT", "z", NULL);
}

/* ---- errors ----------------------------------------------------------------------------- */

/* WRONGTYPE for other types; Redis's syntax errors (options checked before the key). */
static void test_errors(void **state)
{
    kv_conn *c = *state;
    expect_status(c, "OK", "SET", "str", "v", NULL);
    expect_int(c, 1, "HSET", "h", "f", "v", NULL);
    expect_error(c, WRONGTYPE, "SORT", "str", NULL);
    expect_error(c, WRONGTYPE, "SORT_RO", "h", NULL);
    expect_error(c, SYNTAX, "SORT", "str", "foo", NULL);
    expect_int(c, 1, "RPUSH", "l", "1", NULL);
    expect_error(c, SYNTAX, "SORT", "l", "LIMIT", "1", NULL);
    expect_error(c, SYNTAX, "SORT", "l", "LIMIT", "1", "2", "3", NULL);
    expect_error(c, SYNTAX, "SORT", "l", "STORE", NULL);
    expect_error(c, SYNTAX, "SORT", "l", "GET", NULL);
    expect_error(c, SYNTAX, "SORT", "l", "BY", NULL);
    expect_error(c, SYNTAX, "SORT_RO", "l", "STORE", "x", NULL);
    expect_error(c, "ERR wrong number of arguments for 'sort' command", "SORT", NULL);
    expect_int(c, 0, "EXISTS", "x", NULL);
}

/* COMMAND GETKEYS finds the last STORE as Redis's sortGetKeys does. */
static void test_getkeys(void **state)
{
    kv_conn *c = *state;
    expect_strings(c, "l,d", "COMMAND", "GETKEYS", "SORT", "l", "GET", "store", "STORE", "d", NULL);
    expect_strings(c, "l", "COMMAND", "GETKEYS", "SORT", "l", "LIMIT", "0", "1", NULL);
    expect_strings(c, "l", "COMMAND", "GETKEYS", "SORT_RO", "l", "GET", "x_*", NULL);
}

/* ---- MULTI, scripts, RESP3 ----------------------------------------------------------------- */

/* SORT with patterns inside MULTI and from a script. */
static void test_multi_and_script(void **state)
{
    kv_conn *c = *state;
    expect_int(c, 3, "RPUSH", "l", "1", "2", "3", NULL);
    expect_status(c, "OK", "MSET", "w_1", "3", "w_2", "2", "w_3", "1", NULL);
    expect_status(c, "OK", "MULTI", NULL);
    expect_status(c, "QUEUED", "SORT", "l", "BY", "w_*", "GET", "#", "GET", "w_*", NULL);
    expect_status(c, "QUEUED", "SORT", "l", "BY", "w_*", "STORE", "dst", NULL);
    kv_reply *r = it_run(c, "EXEC", NULL);
    assert_array_len(r, 2);
    assert_strings(r->elements[0], "3,1,2,2,1,3");
    assert_int(r->elements[1], 3);
    kv_reply_free(r);
    expect_list(c, "dst", "3,2,1");
    expect_strings(c, "3,1,2,2,1,3", "EVAL", "return redis.call('sort', KEYS[1], 'by', 'w_*', 'get', '#', 'get', 'w_*')",
                   "1", "l", NULL);
    expect_int(c, 2, "EVAL", "return redis.call('sort', KEYS[1], 'limit', 0, 2, 'store', KEYS[2])", "2", "l",
               "ns/dst", NULL);
    expect_list(c, "ns/dst", "1,2");
}

/* RESP3: an array, missing GET values as RESP3 nulls. */
static void test_resp3(void **state)
{
    kv_conn *c = *state;
    kv_reply *r = it_run(c, "HELLO", "3", NULL);
    kv_reply_free(r);
    expect_int(c, 2, "RPUSH", "l", "2", "1", NULL);
    expect_status(c, "OK", "SET", "v_1", "one", NULL);
    r = it_run(c, "SORT", "l", "GET", "v_*", NULL);
    assert_strings(r, "one,~");
    if (r->elements[1]->prefix != '_')
        it_fail("a RESP3 null expected, got prefix %c", r->elements[1]->prefix);
    kv_reply_free(r);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, it_test_setup, it_test_teardown)
    const struct CMUnitTest tests[] = {
        T(test_numeric_and_alpha),
        T(test_by),
        T(test_by_many_keys),
        T(test_by_waits_for_a_held_shard),
        T(test_get),
        T(test_limit),
        T(test_store),
        T(test_set_and_zset),
        T(test_errors),
        T(test_getkeys),
        T(test_multi_and_script),
        T(test_resp3),
    };
#undef T
    return cmocka_run_group_tests(tests, it_group_setup, it_group_teardown);
}
