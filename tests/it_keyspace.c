/* it_keyspace.c - integration tests for key-level commands (DEL, EXISTS, TYPE, the TTL
 * and EXPIRE families, RENAME, COPY, OBJECT, KEYS, SCAN, flushing, expiry) and for kvns's
 * namespaces, run against kvns or redis-server (see harness.h). */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOT_INT  "ERR value is not an integer or out of range"
#define SYNTAX   "ERR syntax error"

/* Fails unless r is an array holding exactly the strings in want (any order, no extras);
 * what names the command in the failure message. */
static void assert_same_strings(const char *what, const kv_reply *r, const char *const *want,
                                size_t n)
{
    char got[2048];
    if (!r || r->type != KV_REPLY_ARRAY)
        it_fail("%s: expected an array of %zu strings, got %s", what, n,
                kv_reply_describe(r, got, sizeof got));
    bool *seen = calloc(n ? n : 1, sizeof *seen);
    assert_non_null(seen);
    for (size_t i = 0; i < r->count; i++) {
        size_t j = 0;
        while (j < n && (seen[j] || !kv_reply_is_str(r->elements[i], want[j])))
            j++;
        if (j == n) {
            free(seen);
            it_fail("%s: unexpected or repeated element %zu in %s", what, i,
                    kv_reply_describe(r, got, sizeof got));
        }
        seen[j] = true;
    }
    for (size_t j = 0; j < n; j++) {
        if (!seen[j]) {
            free(seen);
            it_fail("%s: \"%s\" missing from %s", what, want[j],
                    kv_reply_describe(r, got, sizeof got));
        }
    }
    free(seen);
}

/* Runs KEYS pattern and checks the exact set of names. */
static void expect_keys(kv_conn *c, const char *pattern, const char *const *want, size_t n)
{
    char what[128];
    snprintf(what, sizeof what, "KEYS %s", pattern);
    kv_reply *r = conn_cmd(c, "KEYS", pattern, NULL);
    assert_same_strings(what, r, want, n);
    kv_reply_free(r);
}

/* Sets each key of a NULL-terminated list to "1" with one MSET. */
static void set_keys(kv_conn *c, const char *const *keys)
{
    const char *argv[64];
    int argc = 0;
    argv[argc++] = "MSET";
    for (const char *const *k = keys; *k && argc < 62; k++) {
        argv[argc++] = *k;
        argv[argc++] = "1";
    }
    kv_reply *r = conn_cmdv(c, argc, argv, NULL);
    assert_status(r, "OK");
    kv_reply_free(r);
}

/* Runs a full SCAN (with optional MATCH/TYPE) and returns a malloc'ed array of names. */
static char **scan_all(kv_conn *c, const char *match, const char *type, size_t *n_out)
{
    char cursor[32] = "0";
    size_t n = 0, cap = 64;
    char **names = malloc(cap * sizeof *names);
    assert_non_null(names);
    int rounds = 0;
    do {
        const char *argv[10] = { "SCAN", cursor, "COUNT", "100" };
        int argc = 4;
        if (match) {
            argv[argc++] = "MATCH";
            argv[argc++] = match;
        }
        if (type) {
            argv[argc++] = "TYPE";
            argv[argc++] = type;
        }
        kv_reply *r = conn_cmdv(c, argc, argv, NULL);
        assert_array_len(r, 2);
        assert_reply_type(r->elements[0], KV_REPLY_BULK);
        assert_reply_type(r->elements[1], KV_REPLY_ARRAY);
        snprintf(cursor, sizeof cursor, "%s", r->elements[0]->str);
        for (size_t i = 0; i < r->elements[1]->count; i++) {
            if (n == cap) {
                cap *= 2;
                names = realloc(names, cap * sizeof *names);
                assert_non_null(names);
            }
            names[n++] = strdup(r->elements[1]->elements[i]->str);
        }
        kv_reply_free(r);
        if (++rounds > 100000)
            it_fail("SCAN did not finish");
    } while (strcmp(cursor, "0") != 0);
    *n_out = n;
    return names;
}

/* True when name is among names[0..n). */
static bool contains(char **names, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(names[i], name) == 0)
            return true;
    }
    return false;
}

/* Frees what scan_all returned. */
static void free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

/* DEL and UNLINK count the keys they removed; missing and repeated keys count once. */
static void test_del_unlink(void **state)
{
    kv_conn *c = *state;
    expect_status(c, "OK", "MSET", "a", "1", "b", "2", "c", "3", NULL);
    expect_int(c, 2, "DEL", "a", "b", "missing", NULL);
    expect_int(c, 0, "DEL", "a", NULL);
    expect_int(c, 1, "DEL", "c", "c", NULL);
    expect_status(c, "OK", "MSET", "a", "1", "b", "2", NULL);
    expect_int(c, 1, "UNLINK", "a", "a", NULL);
    expect_int(c, 1, "UNLINK", "b", "zz", NULL);
    expect_int(c, 0, "UNLINK", "b", NULL);
    expect_int(c, 0, "DBSIZE", NULL);
    expect_error(c, "ERR wrong number of arguments for 'del' command", "DEL", NULL);
    expect_error(c, "ERR wrong number of arguments for 'unlink' command", "UNLINK", NULL);
}

/* EXISTS counts every argument, duplicates included. */
static void test_exists_counts_duplicates(void **state)
{
    kv_conn *c = *state;
    expect_status(c, "OK", "MSET", "a", "1", "b", "2", NULL);
    expect_int(c, 1, "EXISTS", "a", NULL);
    expect_int(c, 0, "EXISTS", "nope", NULL);
    expect_int(c, 3, "EXISTS", "a", "a", "b", NULL);
    expect_int(c, 2, "EXISTS", "a", "nope", "a", NULL);
    expect_error(c, "ERR wrong number of arguments for 'exists' command", "EXISTS", NULL);
}

/* TYPE is "string" for strings and "none" for missing keys. */
static void test_type_string_none(void **state)
{
    kv_conn *c = *state;
    expect_status(c, "OK", "SET", "s", "v", NULL);
    expect_status(c, "OK", "SET", "i", "12", NULL);
    expect_status(c, "string", "TYPE", "s", NULL);
    expect_status(c, "string", "TYPE", "i", NULL);
    expect_status(c, "none", "TYPE", "nope", NULL);
    expect_error(c, "ERR wrong number of arguments for 'type' command", "TYPE", NULL);
}

/* TYPE names each collection type. */
static void test_type_collections(void **state)
{
    kv_conn *c = *state;
    expect_int(c, 1, "RPUSH", "l", "x", NULL);
    expect_status(c, "list", "TYPE", "l", NULL);
    expect_int(c, 1, "HSET", "h", "f", "v", NULL);
    expect_status(c, "hash", "TYPE", "h", NULL);
    expect_int(c, 1, "SADD", "s", "m", NULL);
    expect_status(c, "set", "TYPE", "s", NULL);
    expect_int(c, 1, "ZADD", "z", "1", "m", NULL);
    expect_status(c, "zset", "TYPE", "z", NULL);
}

/* TTL/PTTL: -2 for missing keys, -1 without expiry, remaining time otherwise. */
static void test_ttl_pttl(void **state)
{
    kv_conn *c = *state;
    expect_int(c, -2, "TTL", "nope", NULL);
    expect_int(c, -2, "PTTL", "nope", NULL);
    expect_status(c, "OK", "SET", "k", "v", NULL);
    expect_int(c, -1, "TTL", "k", NULL);
    expect_int(c, -1, "PTTL", "k", NULL);
    expect_status(c, "OK", "SET", "e", "v", "EX", "100", NULL);
    expect_int(c, 100, "TTL", "e", NULL);
    expect_int_range(c, 99000, 100000, "PTTL", "e", NULL);
    expect_error(c, "ERR wrong number of arguments for 'ttl' command", "TTL", NULL);
    expect_error(c, "ERR wrong number of arguments for 'pttl' command", "PTTL", "a", "b", NULL);
}

/* EXPIRE and PEXPIRE set relative TTLs; 0 for missing keys. */
static void test_expire_pexpire(void **state)
{
    kv_conn *c = *state;
    expect_int(c, 0, "EXPIRE", "nope", "100", NULL);
    expect_int(c, 0, "PEXPIRE", "nope", "100", NULL);
    expect_int(c, 0, "EXISTS", "nope", NULL);
    expect_status(c, "OK", "SET", "k", "v", NULL);
    expect_int(c, 1, "EXPIRE", "k", "100", NULL);
    expect_int_range(c, 99, 100, "TTL", "k", NULL);
    expect_int(c, 1, "PEXPIRE", "k", "50000", NULL);
    expect_int_range(c, 49000, 50000, "PTTL", "k", NULL);
    expect_int_range(c, 49, 50, "TTL", "k", NULL);
    expect_bulk(c, "v", "GET", "k", NULL);
    expect_error(c, NOT_INT, "EXPIRE", "k", "abc", NULL);
    expect_error(c, NOT_INT, "PEXPIRE", "k", "1.5", NULL);
    expect_error(c, "ERR wrong number of arguments for 'expire' command", "EXPIRE", "k", NULL);
    expect_error(c, "ERR wrong number of arguments for 'pexpire' command", "PEXPIRE", NULL);
}

/* EXPIREAT and PEXPIREAT take absolute unix times. */
static void test_expireat_pexpireat(void **state)
{
    kv_conn *c = *state;
    char buf[32];
    expect_status(c, "OK", "SET", "k", "v", NULL);
    expect_int(c, 1, "EXPIREAT", "k", fmt_ll(buf, sizeof buf, now_ms() / 1000 + 100), NULL);
    expect_int_range(c, 98, 100, "TTL", "k", NULL);
    expect_int(c, 1, "PEXPIREAT", "k", fmt_ll(buf, sizeof buf, now_ms() + 200000), NULL);
    expect_int_range(c, 198000, 200000, "PTTL", "k", NULL);
    expect_int(c, 0, "EXPIREAT", "nope", "4000000000", NULL);
    expect_int(c, 0, "PEXPIREAT", "nope", "4000000000000", NULL);
    expect_error(c, NOT_INT, "EXPIREAT", "k", "soon", NULL);
    expect_error(c, "ERR wrong number of arguments for 'expireat' command", "EXPIREAT", "k", NULL);
}

/* NX/XX/GT/LT: only set when no TTL / a TTL / a greater / a smaller one (no TTL = infinite). */
static void test_expire_nx_xx_gt_lt(void **state)
{
    kv_conn *c = *state;
    expect_status(c, "OK", "SET", "k", "v", NULL);
    expect_int(c, 0, "EXPIRE", "k", "100", "XX", NULL);
    expect_int(c, -1, "TTL", "k", NULL);
    expect_int(c, 0, "EXPIRE", "k", "100", "GT", NULL);
    expect_int(c, -1, "TTL", "k", NULL);
    expect_int(c, 1, "EXPIRE", "k", "100", "NX", NULL);
    expect_int(c, 0, "EXPIRE", "k", "50", "NX", NULL);
    expect_int_range(c, 99, 100, "TTL", "k", NULL);
    expect_int(c, 1, "EXPIRE", "k", "200", "xx", NULL);
    expect_int_range(c, 199, 200, "TTL", "k", NULL);
    expect_int(c, 1, "EXPIRE", "k", "300", "GT", NULL);
    expect_int(c, 0, "EXPIRE", "k", "50", "GT", NULL);
    expect_int_range(c, 299, 300, "TTL", "k", NULL);
    expect_int(c, 1, "EXPIRE", "k", "50", "LT", NULL);
    expect_int(c, 0, "EXPIRE", "k", "60", "lt", NULL);
    expect_int_range(c, 49, 50, "TTL", "k", NULL);
    expect_int(c, 1, "EXPIRE", "k", "70", "XX", "GT", NULL);
    expect_int_range(c, 69, 70, "TTL", "k", NULL);
    expect_int(c, 1, "PEXPIRE", "k", "40000", "XX", "LT", NULL);
    expect_int_range(c, 39000, 40000, "PTTL", "k", NULL);
    /* LT on a key without TTL always applies (no TTL counts as infinite). */
    expect_status(c, "OK", "SET", "p", "v", NULL);
    expect_int(c, 1, "EXPIRE", "p", "100", "LT", NULL);
    expect_int_range(c, 99, 100, "TTL", "p", NULL);
    char buf[32];
    expect_int(c, 1, "EXPIREAT", "p", fmt_ll(buf, sizeof buf, now_ms() / 1000 + 500), "GT", NULL);
    expect_int(c, 0, "PEXPIREAT", "p", fmt_ll(buf, sizeof buf, now_ms() + 1000), "GT", NULL);
    expect_int_range(c, 498, 500, "TTL", "p", NULL);
}

/* Incompatible or unknown EXPIRE options are rejected with Redis's messages. */
static void test_expire_option_errors(void **state)
{
    kv_conn *c = *state;
    const char *nx_msg = "ERR NX and XX, GT or LT options at the same time are not compatible";
    const char *gtlt = "ERR GT and LT options at the same time are not compatible";
    expect_status(c, "OK", "SET", "k", "v", NULL);
    expect_error(c, nx_msg, "EXPIRE", "k", "100", "NX", "XX", NULL);
    expect_error(c, nx_msg, "EXPIRE", "k", "100", "NX", "GT", NULL);
    expect_error(c, nx_msg, "PEXPIRE", "k", "100", "LT", "NX", NULL);
    expect_error(c, gtlt, "EXPIRE", "k", "100", "GT", "LT", NULL);
    expect_error(c, gtlt, "EXPIREAT", "k", "4000000000", "LT", "GT", NULL);
    expect_error(c, "ERR Unsupported option foo", "EXPIRE", "k", "100", "foo", NULL);
    expect_error(c, "ERR Unsupported option BAR", "PEXPIREAT", "k", "4000000000000", "BAR", NULL);
    expect_int(c, -1, "TTL", "k", NULL);
}

/* Expire times that overflow the millisecond clock are invalid for every variant. */
static void test_expire_invalid_time(void **state)
{
    kv_conn *c = *state;
    expect_status(c, "OK", "SET", "k", "v", NULL);
    expect_error(c, "ERR invalid expire time in 'expire' command", "EXPIRE", "k",
                 "9223372036854775807", NULL);
    expect_error(c, "ERR invalid expire time in 'expire' command", "EXPIRE", "k",
                 "-9223372036854775808", NULL);
    expect_error(c, "ERR invalid expire time in 'expire' command", "EXPIRE", "k",
                 "9223372036854774", NULL);
    expect_error(c, "ERR invalid expire time in 'pexpire' command", "PEXPIRE", "k",
                 "9223372036854775807", NULL);
    expect_error(c, "ERR invalid expire time in 'expireat' command", "EXPIREAT", "k",
                 "9223372036854775807", NULL);
    expect_int(c, -1, "TTL", "k", NULL);
    /* Large but representable relative times are fine. */
    expect_int(c, 1, "EXPIRE", "k", "922337203685477", NULL);
    expect_int(c, 1, "PERSIST", "k", NULL);
}

/* A zero, negative or past expire time deletes the key at once (and answers 1). */
static void test_nonpositive_ttl_deletes(void **state)
{
    kv_conn *c = *state;
    static const char *const cmds[][2] = {
        { "EXPIRE", "0" }, { "EXPIRE", "-1" }, { "PEXPIRE", "0" }, { "PEXPIRE", "-100" },
        { "EXPIREAT", "1" }, { "PEXPIREAT", "1" }, { "EXPIREAT", "-5" },
    };
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        expect_status(c, "OK", "SET", "k", "v", NULL);
        expect_int(c, 1, cmds[i][0], "k", cmds[i][1], NULL);
        expect_int(c, 0, "EXISTS", "k", NULL);
        expect_nil(c, "GET", "k", NULL);
        expect_int(c, -2, "TTL", "k", NULL);
    }
    expect_int(c, 0, "DBSIZE", NULL);
}

/* PERSIST removes a TTL (1) and answers 0 for keys without TTL or missing keys. */
static void test_persist(void **state)
{
    kv_conn *c = *state;
    expect_status(c, "OK", "SET", "k", "v", NULL);
    expect_int(c, 0, "PERSIST", "k", NULL);
    expect_int(c, 1, "EXPIRE", "k", "100", NULL);
    expect_int(c, 1, "PERSIST", "k", NULL);
    expect_int(c, -1, "TTL", "k", NULL);
    expect_int(c, 0, "PERSIST", "k", NULL);
    expect_int(c, 0, "PERSIST", "nope", NULL);
    expect_error(c, "ERR wrong number of arguments for 'persist' command", "PERSIST", NULL);
}

/* EXPIRETIME / PEXPIRETIME give the absolute expiry, -1 without TTL, -2 when missing. */
static void test_expiretime_pexpiretime(void **state)
{
    kv_conn *c = *state;
    expect_int(c, -2, "EXPIRETIME", "nope", NULL);
    expect_int(c, -2, "PEXPIRETIME", "nope", NULL);
    expect_status(c, "OK", "SET", "k", "v", NULL);
    expect_int(c, -1, "EXPIRETIME", "k", NULL);
    expect_int(c, -1, "PEXPIRETIME", "k", NULL);
    expect_int(c, 1, "EXPIREAT", "k", "4000000000", NULL);
    expect_int(c, 4000000000LL, "EXPIRETIME", "k", NULL);
    expect_int(c, 4000000000000LL, "PEXPIRETIME", "k", NULL);
    expect_int(c, 1, "PEXPIREAT", "k", "4000000000123", NULL);
    expect_int(c, 4000000000123LL, "PEXPIRETIME", "k", NULL);
    expect_int(c, 4000000000LL, "EXPIRETIME", "k", NULL);
    long long now_s = now_ms() / 1000;
    expect_status(c, "OK", "SET", "r", "v", "EX", "100", NULL);
    expect_int_range(c, now_s + 99, now_s + 101, "EXPIRETIME", "r", NULL);
}

/* RENAME moves value and TTL, replaces the destination, and fails for missing keys. */
static void test_rename(void **state)
{
    kv_conn *c = *state;
    expect_error(c, "ERR no such key", "RENAME", "nope", "x", NULL);
    expect_error(c, "ERR no such key", "RENAME", "nope", "nope", NULL);
    expect_status(c, "OK", "SET", "a", "1", "EX", "100", NULL);
    expect_status(c, "OK", "RENAME", "a", "a", NULL);          /* same name: OK, unchanged */
    expect_bulk(c, "1", "GET", "a", NULL);
    expect_int_range(c, 99, 100, "TTL", "a", NULL);
    expect_status(c, "OK", "RENAME", "a", "b", NULL);
    expect_int(c, 0, "EXISTS", "a", NULL);
    expect_bulk(c, "1", "GET", "b", NULL);
    expect_int_range(c, 99, 100, "TTL", "b", NULL);
    /* The destination's value and TTL are replaced by the source's. */
    expect_status(c, "OK", "SET", "c", "3", NULL);
    expect_status(c, "OK", "SET", "d", "4", "EX", "100", NULL);
    expect_status(c, "OK", "RENAME", "c", "d", NULL);
    expect_bulk(c, "3", "GET", "d", NULL);
    expect_int(c, -1, "TTL", "d", NULL);
    expect_status(c, "OK", "RENAME", "b", "d", NULL);
    expect_int_range(c, 99, 100, "TTL", "d", NULL);
    expect_int(c, 1, "DBSIZE", NULL);
    expect_error(c, "ERR wrong number of arguments for 'rename' command", "RENAME", "d", NULL);
}

/* RENAMENX renames only onto a missing name. */
static void test_renamenx(void **state)
{
    kv_conn *c = *state;
    expect_error(c, "ERR no such key", "RENAMENX", "nope", "x", NULL);
    expect_status(c, "OK", "MSET", "a", "1", "b", "2", NULL);
    expect_int(c, 0, "RENAMENX", "a", "b", NULL);
    expect_bulk(c, "1", "GET", "a", NULL);
    expect_bulk(c, "2", "GET", "b", NULL);
    expect_int(c, 0, "RENAMENX", "a", "a", NULL);
    expect_int(c, 1, "EXPIRE", "a", "100", NULL);
    expect_int(c, 1, "RENAMENX", "a", "c", NULL);
    expect_int(c, 0, "EXISTS", "a", NULL);
    expect_bulk(c, "1", "GET", "c", NULL);
    expect_int_range(c, 99, 100, "TTL", "c", NULL);
    expect_error(c, "ERR wrong number of arguments for 'renamenx' command", "RENAMENX", NULL);
}

/* COPY duplicates value and TTL; REPLACE overwrites; DB 0 is accepted. */
static void test_copy(void **state)
{
    kv_conn *c = *state;
    expect_int(c, 0, "COPY", "nope", "dst", NULL);
    expect_status(c, "OK", "SET", "src", "v", "EX", "100", NULL);
    expect_int(c, 1, "COPY", "src", "dst", NULL);
    expect_bulk(c, "v", "GET", "dst", NULL);
    expect_int_range(c, 99, 100, "TTL", "dst", NULL);
    expect_bulk(c, "v", "GET", "src", NULL);
    expect_status(c, "OK", "SET", "src", "w", NULL);
    expect_int(c, 0, "COPY", "src", "dst", NULL);
    expect_bulk(c, "v", "GET", "dst", NULL);
    expect_int(c, 1, "COPY", "src", "dst", "REPLACE", NULL);
    expect_bulk(c, "w", "GET", "dst", NULL);
    expect_int(c, -1, "TTL", "dst", NULL);
    expect_int(c, 0, "COPY", "src", "dst", "DB", "0", NULL);
    expect_int(c, 1, "COPY", "src", "dst", "db", "0", "replace", NULL);
    expect_int(c, 1, "COPY", "src", "dst2", "DB", "0", NULL);
    /* The copy is independent of the original. */
    expect_int(c, 2, "APPEND", "dst2", "x", NULL);
    expect_bulk(c, "w", "GET", "src", NULL);
    expect_error(c, "ERR source and destination objects are the same", "COPY", "src", "src",
                 NULL);
    expect_error(c, "ERR source and destination objects are the same", "COPY", "src", "src",
                 "REPLACE", NULL);
    expect_error(c, "ERR DB index is out of range", "COPY", "src", "x", "DB", "-1", NULL);
    expect_error(c, "ERR DB index is out of range", "COPY", "src", "x", "DB", "16", NULL);
    expect_error(c, NOT_INT, "COPY", "src", "x", "DB", "abc", NULL);
    expect_error(c, SYNTAX, "COPY", "src", "x", "FOO", NULL);
    expect_error(c, "ERR wrong number of arguments for 'copy' command", "COPY", "src", NULL);
    if (srv_target_is_redis())      /* Redis has 16 databases; kvns has only db 0 */
        expect_int(c, 1, "COPY", "src", "x", "DB", "1", NULL);
}

/* TOUCH counts existing keys, duplicates included. */
static void test_touch(void **state)
{
    kv_conn *c = *state;
    expect_status(c, "OK", "MSET", "a", "1", "b", "2", NULL);
    expect_int(c, 3, "TOUCH", "a", "b", "nope", "a", NULL);
    expect_int(c, 0, "TOUCH", "nope", NULL);
    expect_error(c, "ERR wrong number of arguments for 'touch' command", "TOUCH", NULL);
}

/* OBJECT ENCODING: int / embstr / raw like Redis (kvns: any of the three), nil if missing. */
static void test_object_encoding(void **state)
{
    kv_conn *c = *state;
    static const char *const long_value = "0123456789012345678901234567890123456789012345678";
    expect_status(c, "OK", "SET", "i", "123", NULL);
    expect_status(c, "OK", "SET", "neg", "-5", NULL);
    expect_status(c, "OK", "SET", "s", "abc", NULL);
    expect_status(c, "OK", "SET", "r", long_value, NULL);
    expect_status(c, "OK", "SET", "huge", "12345678901234567890", NULL);
    expect_status(c, "OK", "SET", "a", "abc", NULL);
    expect_int(c, 4, "APPEND", "a", "d", NULL);
    static const struct { const char *key, *redis_encoding; } cases[] = {
        { "i", "int" }, { "neg", "int" }, { "s", "embstr" }, { "r", "raw" },
        { "huge", "embstr" }, { "a", "raw" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        kv_reply *r = conn_cmd(c, "OBJECT", "ENCODING", cases[i].key, NULL);
        if (srv_target_is_redis()) {
            assert_bulk(r, cases[i].redis_encoding);
        } else if (!kv_reply_is_str(r, "int") && !kv_reply_is_str(r, "embstr") &&
                   !kv_reply_is_str(r, "raw")) {
            char got[256];
            it_fail("OBJECT ENCODING %s: expected int/embstr/raw, got %s", cases[i].key,
                    kv_reply_describe(r, got, sizeof got));
        }
        kv_reply_free(r);
    }
    expect_nil(c, "OBJECT", "ENCODING", "nope", NULL);
    expect_error(c, "ERR wrong number of arguments for 'object|encoding' command", "OBJECT",
                 "ENCODING", NULL);
}

/* OBJECT FREQ/IDLETIME/REFCOUNT/HELP exist; unknown subcommands get Redis's error. */
static void test_object_subcommands(void **state)
{
    kv_conn *c = *state;
    expect_status(c, "OK", "SET", "s", "v", NULL);
    expect_int_range(c, 0, 5, "OBJECT", "IDLETIME", "s", NULL);
    expect_int_range(c, 1, 2147483647LL, "OBJECT", "REFCOUNT", "s", NULL);
    /* FREQ: Redis refuses unless an LFU maxmemory policy is set; kvns may answer a number. */
    kv_reply *r = conn_cmd(c, "OBJECT", "FREQ", "s", NULL);
    if (srv_target_is_redis() || (r && r->type == KV_REPLY_ERROR))
        assert_error_prefix(r, "ERR An LFU maxmemory policy is not selected");
    else
        assert_reply_type(r, KV_REPLY_INTEGER);
    kv_reply_free(r);
    r = conn_cmd(c, "OBJECT", "HELP", NULL);
    assert_reply_type(r, KV_REPLY_ARRAY);
    assert_true(r->count >= 4);
    for (size_t i = 0; i < r->count; i++) {
        if (r->elements[i]->type != KV_REPLY_STATUS && r->elements[i]->type != KV_REPLY_BULK)
            it_fail("OBJECT HELP line %zu is a %s", i, kv_reply_type_name(r->elements[i]->type));
    }
    kv_reply_free(r);
    expect_nil(c, "OBJECT", "IDLETIME", "nope", NULL);
    expect_nil(c, "OBJECT", "REFCOUNT", "nope", NULL);
    expect_error(c, "ERR unknown subcommand 'foo'. Try OBJECT HELP.", "OBJECT", "foo", "s", NULL);
    expect_error(c, "ERR wrong number of arguments for 'object' command", "OBJECT", NULL);
}

/* DBSIZE counts keys; FLUSHDB and FLUSHALL (plain, ASYNC, SYNC) empty the keyspace. */
static void test_dbsize_flush(void **state)
{
    kv_conn *c = *state;
    const char *variants[][2] = {
        { "FLUSHDB", NULL }, { "FLUSHDB", "ASYNC" }, { "FLUSHDB", "SYNC" },
        { "FLUSHALL", NULL }, { "FLUSHALL", "ASYNC" }, { "flushall", "sync" },
    };
    expect_int(c, 0, "DBSIZE", NULL);
    for (size_t i = 0; i < sizeof variants / sizeof variants[0]; i++) {
        expect_status(c, "OK", "MSET", "a", "1", "b", "2", "c", "3", NULL);
        expect_status(c, "OK", "SET", "t", "v", "EX", "100", NULL);
        expect_int(c, 4, "DBSIZE", NULL);
        expect_status(c, "OK", variants[i][0], variants[i][1], NULL);
        expect_int(c, 0, "DBSIZE", NULL);
        expect_nil(c, "GET", "a", NULL);
    }
    expect_error(c, SYNTAX, "FLUSHDB", "foo", NULL);
    expect_error(c, SYNTAX, "FLUSHALL", "foo", NULL);
    expect_error(c, SYNTAX, "FLUSHALL", "ASYNC", "SYNC", NULL);
    expect_error(c, "ERR wrong number of arguments for 'dbsize' command", "DBSIZE", "x", NULL);
}

/* RANDOMKEY is nil on an empty keyspace and returns an existing key otherwise. */
static void test_randomkey(void **state)
{
    kv_conn *c = *state;
    expect_nil(c, "RANDOMKEY", NULL);
    expect_status(c, "OK", "SET", "only", "v", NULL);
    expect_bulk(c, "only", "RANDOMKEY", NULL);
    expect_status(c, "OK", "MSET", "a", "1", "b", "2", NULL);
    for (int i = 0; i < 20; i++) {
        kv_reply *r = conn_cmd(c, "RANDOMKEY", NULL);
        assert_reply_type(r, KV_REPLY_BULK);
        if (!kv_reply_is_str(r, "a") && !kv_reply_is_str(r, "b") && !kv_reply_is_str(r, "only"))
            it_fail("RANDOMKEY returned unknown key %s", r->str);
        kv_reply_free(r);
    }
    expect_error(c, "ERR wrong number of arguments for 'randomkey' command", "RANDOMKEY", "x",
                 NULL);
}

/* KEYS glob patterns: * ? [set] [^set] [a-z] and escapes. */
static void test_keys_patterns(void **state)
{
    kv_conn *c = *state;
    static const char *const keys[] = { "hello", "hallo", "hxllo", "hllo", "heeeello", "h?llo",
                                        NULL };
    set_keys(c, keys);
    static const char *const all[] = { "hello", "hallo", "hxllo", "hllo", "heeeello", "h?llo" };
    expect_keys(c, "*", all, 6);
    static const char *const q[] = { "hello", "hallo", "hxllo", "h?llo" };
    expect_keys(c, "h?llo", q, 4);
    static const char *const star[] = { "hello", "hallo", "hxllo", "hllo", "heeeello", "h?llo" };
    expect_keys(c, "h*llo", star, 6);
    static const char *const ae[] = { "hello", "hallo" };
    expect_keys(c, "h[ae]llo", ae, 2);
    static const char *const not_e[] = { "hallo", "hxllo", "h?llo" };
    expect_keys(c, "h[^e]llo", not_e, 3);
    static const char *const a_z[] = { "hello", "hallo", "hxllo" };
    expect_keys(c, "h[a-z]llo", a_z, 3);
    static const char *const a_b[] = { "hallo" };
    expect_keys(c, "h[a-b]llo", a_b, 1);
    static const char *const escaped[] = { "h?llo" };
    expect_keys(c, "h\\?llo", escaped, 1);
    expect_keys(c, "nomatch*", NULL, 0);
    static const char *const exact[] = { "hllo" };
    expect_keys(c, "hllo", exact, 1);
    /* Redis's matcher negates a class with '^' only: "[!e]" is the set {'!', 'e'}.
     * kvns also accepts '!' as a negation (see include/kvns/glob.h). */
    if (srv_target_is_redis()) {
        static const char *const bang_literal[] = { "hello" };
        expect_keys(c, "h[!e]llo", bang_literal, 1);
    } else {
        expect_keys(c, "h[!e]llo", not_e, 3);
    }
    expect_error(c, "ERR wrong number of arguments for 'keys' command", "KEYS", NULL);
}

/* SCAN: bulk-string cursor, full iteration, MATCH, COUNT, TYPE, and argument errors. */
static void test_scan_basic(void **state)
{
    kv_conn *c = *state;
    static const char *const keys[] = { "user:1", "user:2", "user:3", "item:1", "item:2", NULL };
    set_keys(c, keys);
    kv_reply *r = conn_cmd(c, "SCAN", "0", NULL);
    assert_array_len(r, 2);
    assert_reply_type(r->elements[0], KV_REPLY_BULK);
    assert_reply_type(r->elements[1], KV_REPLY_ARRAY);
    kv_reply_free(r);
    size_t n;
    char **names = scan_all(c, NULL, NULL, &n);
    for (const char *const *k = keys; *k; k++)
        assert_true(contains(names, n, *k));
    free_names(names, n);
    names = scan_all(c, "user:*", NULL, &n);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(strncmp(names[i], "user:", 5), 0);
    assert_true(contains(names, n, "user:1") && contains(names, n, "user:2") &&
                contains(names, n, "user:3"));
    free_names(names, n);
    names = scan_all(c, NULL, "string", &n);
    assert_true(n >= 5);
    free_names(names, n);
    names = scan_all(c, "item:*", "string", &n);
    assert_true(contains(names, n, "item:1") && contains(names, n, "item:2"));
    free_names(names, n);
    /* Unknown types match nothing; an exhausted cursor gives cursor "0". */
    names = scan_all(c, NULL, "nosuchtype", &n);
    assert_int_equal(n, 0);
    free_names(names, n);
    expect_error(c, "ERR invalid cursor", "SCAN", "abc", NULL);
    expect_error(c, "ERR invalid cursor", "SCAN", "18446744073709551616", NULL);
    expect_error(c, SYNTAX, "SCAN", "0", "COUNT", "0", NULL);
    expect_error(c, SYNTAX, "SCAN", "0", "COUNT", "-1", NULL);
    expect_error(c, NOT_INT, "SCAN", "0", "COUNT", "abc", NULL);
    expect_error(c, SYNTAX, "SCAN", "0", "MATCH", NULL);
    expect_error(c, SYNTAX, "SCAN", "0", "FOO", "bar", NULL);
    expect_error(c, "ERR wrong number of arguments for 'scan' command", "SCAN", NULL);
}

/* Runs `cmd [key] cursor [opt [val]]` (key, opt, val may be NULL) and returns the reply. */
static kv_reply *scan_call(kv_conn *c, const char *cmd, const char *key, const char *cursor,
                           const char *opt, const char *val)
{
    const char *argv[5];
    int argc = 0;
    argv[argc++] = cmd;
    if (key)
        argv[argc++] = key;
    argv[argc++] = cursor;
    if (opt)
        argv[argc++] = opt;
    if (val)
        argv[argc++] = val;
    return conn_cmdv(c, argc, argv, NULL);
}

/* What SCAN, HSCAN, SSCAN and ZSCAN share (src/scan.c), checked on each as Redis 7.0
 * answers: any cursor strtoul takes (200 zeros is cursor 0), COUNT up to LLONG_MAX
 * (the 10 * COUNT work bound saturates: one call returns everything), TYPE for SCAN
 * only, and no NOVALUES (added in 7.4). The collections are big enough to be walked
 * with the hashtable cursor. */
static void test_scan_family_shared_options(void **state)
{
    kv_conn *c = *state;
    enum { N = 300 };
    char names[N][16];
    const char *hset[2 + 2 * N], *sadd[2 + N], *zadd[2 + 2 * N];
    hset[0] = "HSET", hset[1] = "h", sadd[0] = "SADD", sadd[1] = "s", zadd[0] = "ZADD", zadd[1] = "z";
    for (int i = 0; i < N; i++) {
        snprintf(names[i], sizeof names[i], "m%d", i);
        hset[2 + 2 * i] = names[i], hset[3 + 2 * i] = "v";
        sadd[2 + i] = names[i];
        zadd[2 + 2 * i] = "1", zadd[3 + 2 * i] = names[i];
    }
    const char *const *fills[] = { hset, sadd, zadd };
    const int fill_argc[] = { 2 + 2 * N, 2 + N, 2 + 2 * N };
    for (int i = 0; i < 3; i++) {
        kv_reply *r = conn_cmdv(c, fill_argc[i], fills[i], NULL);
        assert_int(r, N);
        kv_reply_free(r);
    }
    char zeros[201];
    memset(zeros, '0', 200);
    zeros[200] = 0;
    static const struct { const char *cmd, *key; size_t items; } scans[] = {
        { "SCAN", NULL, 3 }, { "HSCAN", "h", 2 * N }, { "SSCAN", "s", N }, { "ZSCAN", "z", 2 * N },
    };
    for (size_t i = 0; i < sizeof scans / sizeof scans[0]; i++) {
        const char *cmd = scans[i].cmd, *key = scans[i].key;
        kv_reply *r = scan_call(c, cmd, key, "0", "COUNT", "9223372036854775807");
        assert_array_len(r, 2);
        assert_bulk(r->elements[0], "0");
        assert_array_len(r->elements[1], scans[i].items);
        kv_reply_free(r);
        r = scan_call(c, cmd, key, zeros, NULL, NULL);
        assert_array_len(r, 2);
        kv_reply_free(r);
        r = scan_call(c, cmd, key, "0", "NOVALUES", NULL);
        assert_error(r, SYNTAX);
        kv_reply_free(r);
        r = scan_call(c, cmd, key, "0", "TYPE", "string");
        if (key)
            assert_error(r, SYNTAX);
        else
            assert_array_len(r, 2);
        kv_reply_free(r);
    }
}

/* keyspace_hits + keyspace_misses of INFO stats: lookups counted so far. */
static void info_hits_misses(kv_conn *c, long long *hits, long long *misses)
{
    kv_reply *r = conn_cmd(c, "INFO", "stats", NULL);
    const char *h = r->str ? strstr(r->str, "keyspace_hits:") : NULL;
    const char *m = r->str ? strstr(r->str, "keyspace_misses:") : NULL;
    assert_non_null(h);
    assert_non_null(m);
    *hits = atoll(h + strlen("keyspace_hits:"));
    *misses = atoll(m + strlen("keyspace_misses:"));
    kv_reply_free(r);
}

/* Typed lookups count as Redis's lookupKeyRead/lookupKeyWrite do: a command reading a
 * value counts one hit (one miss on a missing key), a command modifying it counts
 * nothing, whatever it replies. One command of each kind per type, space-separated. */
static void test_keyspace_hits_by_command_kind(void **state)
{
    kv_conn *c = *state;
    static const struct { const char *cmd; int hits, misses; } cases[] = {
        { "GET s", 1, 0 },            { "GET nokey", 0, 1 },        { "STRLEN s", 1, 0 },
        { "GETRANGE s 0 1", 1, 0 },   { "APPEND s x", 0, 0 },       { "SET s v", 0, 0 },
        { "SETNX s v", 0, 0 },        { "SETRANGE s 0 x", 0, 0 },       { "INCR cnt", 0, 0 },  
        { "HGET h f", 1, 0 },         { "HGET nokey f", 0, 1 },     { "HLEN h", 1, 0 },
        { "HSCAN h 0", 1, 0 },        { "HSET h f v", 0, 0 },       { "HDEL h nosuch", 0, 0 },
        { "LLEN l", 1, 0 },           { "LRANGE l 0 -1", 1, 0 },    { "LINDEX nokey 0", 0, 1 },
        { "LPUSH l x", 0, 0 },        { "LSET l 0 a", 0, 0 },       { "LMOVE l l LEFT RIGHT", 0, 0 },
        { "SCARD st", 1, 0 },         { "SISMEMBER nokey a", 0, 1 }, { "SSCAN st 0", 1, 0 },
        { "SADD st b", 0, 0 },        { "SREM st nosuch", 0, 0 },   { "ZCARD z", 1, 0 },
        { "ZSCORE z a", 1, 0 },       { "ZRANGE nokey 0 -1", 0, 1 }, { "ZSCAN z 0", 1, 0 },
        { "ZADD z 2 a", 0, 0 },       { "ZREM z nosuch", 0, 0 },    { "GET h", 1, 0 },
    };
    expect_status(c, "OK", "SET", "s", "abc", NULL);
    expect_int(c, 1, "HSET", "h", "f", "v", NULL);
    expect_int(c, 2, "RPUSH", "l", "a", "b", NULL);
    expect_int(c, 1, "SADD", "st", "a", NULL);
    expect_int(c, 1, "ZADD", "z", "1", "a", NULL);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char line[64];
        const char *argv[8];
        int argc = 0;
        snprintf(line, sizeof line, "%s", cases[i].cmd);
        for (char *w = strtok(line, " "); w && argc < 8; w = strtok(NULL, " "))
            argv[argc++] = w;
        long long h0, m0, h1, m1;
        info_hits_misses(c, &h0, &m0);
        kv_reply_free(conn_cmdv(c, argc, argv, NULL));
        info_hits_misses(c, &h1, &m1);
        if (h1 - h0 != cases[i].hits || m1 - m0 != cases[i].misses)
            it_fail("%s: %lld hits, %lld misses; want %d, %d", cases[i].cmd, h1 - h0, m1 - m0,
                    cases[i].hits, cases[i].misses);
    }
}

/* SCAN guarantee: every key present for the whole scan is returned at least once, even
 * while other keys are added and removed (forcing the table to grow) during the scan. */
static void test_scan_returns_stable_keys_under_churn(void **state)
{
    kv_conn *c = *state;
    enum { STABLE = 2000, BATCH = 250 };
    char (*names)[16] = malloc(sizeof(char[16]) * STABLE);
    bool *seen = calloc(STABLE, sizeof *seen);
    assert_non_null(names);
    assert_non_null(seen);
    for (int base = 0; base < STABLE; base += BATCH) {
        const char *argv[1 + 2 * BATCH];
        argv[0] = "MSET";
        for (int i = 0; i < BATCH; i++) {
            snprintf(names[base + i], sizeof names[0], "stable:%d", base + i);
            argv[1 + 2 * i] = names[base + i];
            argv[2 + 2 * i] = "v";
        }
        kv_reply *r = conn_cmdv(c, 1 + 2 * BATCH, argv, NULL);
        assert_status(r, "OK");
        kv_reply_free(r);
    }
    char cursor[32] = "0";
    int round = 0, churn = 0;
    do {
        kv_reply *r = conn_cmd(c, "SCAN", cursor, "COUNT", "10", NULL);
        assert_array_len(r, 2);
        assert_reply_type(r->elements[0], KV_REPLY_BULK);
        snprintf(cursor, sizeof cursor, "%s", r->elements[0]->str);
        const kv_reply *batch = r->elements[1];
        for (size_t i = 0; i < batch->count; i++) {
            const char *k = batch->elements[i]->str;
            if (strncmp(k, "stable:", 7) == 0) {
                int idx = atoi(k + 7);
                assert_in_range(idx, 0, STABLE - 1);
                seen[idx] = true;
            }
        }
        kv_reply_free(r);
        /* Churn: add three keys, remove one added earlier. */
        char key[32];
        for (int j = 0; j < 3; j++) {
            snprintf(key, sizeof key, "churn:%d", churn++);
            expect_status(c, "OK", "SET", key, "x", NULL);
        }
        if (churn > 6) {
            snprintf(key, sizeof key, "churn:%d", churn - 7);
            expect_int(c, 1, "DEL", key, NULL);
        }
        if (++round > 20000)
            it_fail("SCAN with COUNT 10 did not finish after %d rounds", round);
    } while (strcmp(cursor, "0") != 0);
    int missing = 0, first_missing = -1;
    for (int i = 0; i < STABLE; i++) {
        if (!seen[i]) {
            missing++;
            if (first_missing < 0)
                first_missing = i;
        }
    }
    free(seen);
    free(names);
    if (missing)
        it_fail("SCAN missed %d stable keys (first: stable:%d) in %d rounds", missing,
                first_missing, round);
}

/* Lazy expiry: an expired key reads as missing. */
static void test_lazy_expiry(void **state)
{
    kv_conn *c = *state;
    expect_status(c, "OK", "SET", "k", "v", "PX", "50", NULL);
    expect_bulk(c, "v", "GET", "k", NULL);
    sleep_ms(100);
    expect_nil(c, "GET", "k", NULL);
    expect_int(c, 0, "EXISTS", "k", NULL);
    expect_int(c, -2, "TTL", "k", NULL);
    expect_status(c, "OK", "SET", "k2", "v", "PX", "50", NULL);
    sleep_ms(100);
    expect_int(c, 0, "EXISTS", "k2", NULL);
    expect_status(c, "none", "TYPE", "k2", NULL);
    expect_int(c, 1, "SETNX", "k2", "new", NULL);
    expect_int(c, -1, "TTL", "k2", NULL);
}

/* Active expiry: expired keys disappear from DBSIZE without being accessed. */
static void test_active_expiry(void **state)
{
    kv_conn *c = *state;
    char key[32];
    for (int i = 0; i < 200; i++) {
        snprintf(key, sizeof key, "volatile:%d", i);
        conn_send_cmd(c, "SET", key, "v", "PX", "100", NULL);
    }
    for (int i = 0; i < 200; i++) {
        kv_reply *r = conn_read_reply(c);
        assert_status(r, "OK");
        kv_reply_free(r);
    }
    expect_status(c, "OK", "SET", "keeper", "v", NULL);
    expect_int_range(c, 1, 201, "DBSIZE", NULL);
    long long deadline = now_ms() + 1500;
    long long size = -1;
    while (now_ms() < deadline) {
        sleep_ms(100);
        kv_reply *r = conn_cmd(c, "DBSIZE", NULL);
        assert_reply_type(r, KV_REPLY_INTEGER);
        size = r->integer;
        kv_reply_free(r);
        if (size == 1)
            break;
    }
    if (size != 1)
        it_fail("DBSIZE is %lld 1.5 s after 200 keys expired (expected 1: active expiry)", size);
    expect_bulk(c, "v", "GET", "keeper", NULL);
}

/* kvns namespaces: the same name in two namespaces holds two values. */
static void test_ns_separate_values(void **state)
{
    kv_conn *c = *state;
    it_skip_unless_kvns("namespaces and single-database limits");
    expect_status(c, "OK", "SET", "db1/x", "1", NULL);
    expect_status(c, "OK", "SET", "db2/x", "2", NULL);
    expect_bulk(c, "1", "GET", "db1/x", NULL);
    expect_bulk(c, "2", "GET", "db2/x", NULL);
    expect_nil(c, "GET", "x", NULL);
    expect_int(c, 1, "DEL", "db1/x", NULL);
    expect_bulk(c, "2", "GET", "db2/x", NULL);
}

/* kvns namespaces: a bare name lives in namespace "default". */
static void test_ns_default_alias(void **state)
{
    kv_conn *c = *state;
    it_skip_unless_kvns("namespaces and single-database limits");
    expect_status(c, "OK", "SET", "x", "v", NULL);
    expect_bulk(c, "v", "GET", "default/x", NULL);
    expect_int(c, 1, "EXISTS", "default/x", NULL);
    expect_status(c, "OK", "SET", "default/x", "w", NULL);
    expect_bulk(c, "w", "GET", "x", NULL);
    expect_int(c, 2, "EXISTS", "x", "default/x", NULL);
    expect_int(c, 1, "DEL", "default/x", NULL);
    expect_nil(c, "GET", "x", NULL);
}

/* kvns namespaces: `default/` is the empty key, as `default/x` is `x`. */
static void test_ns_default_empty_key(void **state)
{
    kv_conn *c = *state;
    it_skip_unless_kvns("namespaces and single-database limits");
    expect_status(c, "OK", "SET", "", "v", NULL);
    expect_bulk(c, "v", "GET", "default/", NULL);
    expect_int(c, 2, "EXISTS", "", "default/", NULL);
    static const char *const one[] = { "" };
    expect_keys(c, "*", one, 1);
    size_t n;
    char **names = scan_all(c, NULL, NULL, &n);
    assert_int_equal(n, 1);
    assert_string_equal(names[0], "");
    free_names(names, n);
    expect_status(c, "OK", "SET", "default/", "w", NULL);
    expect_bulk(c, "w", "GET", "", NULL);
    expect_int(c, 1, "DBSIZE", NULL);
    expect_int(c, 1, "DEL", "default/", NULL);
    expect_nil(c, "GET", "", NULL);
    expect_int(c, 0, "DBSIZE", NULL);
}

/* kvns namespaces: KEYS shows display names, bare for the default namespace. */
static void test_ns_keys_display_names(void **state)
{
    kv_conn *c = *state;
    it_skip_unless_kvns("namespaces and single-database limits");
    expect_status(c, "OK", "SET", "db1/x", "1", NULL);
    expect_status(c, "OK", "SET", "db2/x", "2", NULL);
    expect_status(c, "OK", "SET", "default/x", "3", NULL);
    static const char *const all[] = { "db1/x", "db2/x", "x" };
    expect_keys(c, "*", all, 3);
}

/* kvns namespaces: a pattern with a namespace part matches only that namespace. */
static void test_ns_keys_pattern(void **state)
{
    kv_conn *c = *state;
    it_skip_unless_kvns("namespaces and single-database limits");
    expect_status(c, "OK", "MSET", "db1/x", "1", "db2/x", "2", "x", "3", NULL);
    static const char *const db1[] = { "db1/x" };
    expect_keys(c, "db1/*", db1, 1);
    static const char *const bare[] = { "x" };
    expect_keys(c, "x", bare, 1);
}

/* kvns namespaces: SCAN MATCH across namespaces until the cursor is 0. */
static void test_ns_scan_match(void **state)
{
    kv_conn *c = *state;
    it_skip_unless_kvns("namespaces and single-database limits");
    expect_status(c, "OK", "MSET", "db1/x", "1", "db2/x", "2", "x", "3", "other/y", "4", NULL);
    size_t n;
    char **names = scan_all(c, "db*/*", NULL, &n);
    assert_true(contains(names, n, "db1/x"));
    assert_true(contains(names, n, "db2/x"));
    assert_false(contains(names, n, "x"));
    assert_false(contains(names, n, "other/y"));
    free_names(names, n);
}

/* kvns namespaces: only the first '/' separates the namespace; the rest is the key. */
static void test_ns_nested_slash(void **state)
{
    kv_conn *c = *state;
    it_skip_unless_kvns("namespaces and single-database limits");
    expect_status(c, "OK", "SET", "ns/a/b", "v", NULL);
    expect_bulk(c, "v", "GET", "ns/a/b", NULL);
    kv_reply *r = conn_cmd(c, "KEYS", "ns/*", NULL);
    assert_reply_type(r, KV_REPLY_ARRAY);
    assert_true(kv_reply_find_str(r, "ns/a/b") >= 0);
    kv_reply_free(r);
}

/* kvns namespaces: RENAME moves a key (value and TTL) to another namespace. */
static void test_ns_rename_across(void **state)
{
    kv_conn *c = *state;
    it_skip_unless_kvns("namespaces and single-database limits");
    expect_status(c, "OK", "SET", "db1/k", "v", "EX", "100", NULL);
    expect_status(c, "OK", "RENAME", "db1/k", "db2/k", NULL);
    expect_int(c, 0, "EXISTS", "db1/k", NULL);
    expect_bulk(c, "v", "GET", "db2/k", NULL);
    expect_int_range(c, 99, 100, "TTL", "db2/k", NULL);
    expect_status(c, "OK", "RENAME", "db2/k", "k", NULL);
    expect_bulk(c, "v", "GET", "default/k", NULL);
}

/* Sets key to "1", retrying while the namespace table is full: empty namespaces are
 * reclaimed about once a second and their ids reused a second after that. */
static void set_retrying_while_full(kv_conn *c, const char *key)
{
    for (long long deadline = now_ms() + 5000;; sleep_ms(20)) {
        kv_reply *r = conn_cmd(c, "SET", key, "1", NULL);
        assert_non_null(r);
        bool ok = r->type == KV_REPLY_STATUS;
        if (!ok)
            assert_error(r, "ERR too many namespaces");
        kv_reply_free(r);
        if (ok)
            return;
        if (now_ms() > deadline)
            it_fail("SET %s: still too many namespaces after 5 s", key);
    }
}

/* kvns_namespaces of INFO memory (namespaces registered, default included). */
static long long info_namespaces(kv_conn *c)
{
    kv_reply *r = conn_cmd(c, "INFO", "memory", NULL);
    assert_non_null(r);
    const char *p = r->str ? strstr(r->str, "kvns_namespaces:") : NULL;
    assert_non_null(p);
    long long n = atoll(p + strlen("kvns_namespaces:"));
    kv_reply_free(r);
    return n;
}

/* kvns namespaces: emptied namespaces are reclaimed, so more than the 1,024 the table
 * holds can be used over time: 1,100 created and deleted one by one, then 1,000 kept
 * and dropped by FLUSHALL, then 1,000 new ones (only possible with reused ids). */
static void test_ns_reclaimed_after_emptying(void **state)
{
    kv_conn *c = *state;
    it_skip_unless_kvns("namespaces and single-database limits");
    char key[32];
    for (int i = 0; i < 1100; i++) {
        snprintf(key, sizeof key, "t%d/x", i);
        set_retrying_while_full(c, key);
        expect_int(c, 1, "DEL", key, NULL);
    }
    for (int i = 0; i < 1000; i++) {
        snprintf(key, sizeof key, "f%d/x", i);
        set_retrying_while_full(c, key);
    }
    expect_int(c, 1000, "DBSIZE", NULL);
    expect_status(c, "OK", "FLUSHALL", NULL);
    for (int i = 0; i < 1000; i++) {
        snprintf(key, sizeof key, "g%d/x", i);
        set_retrying_while_full(c, key);
    }
    expect_int(c, 1000, "DBSIZE", NULL);
    expect_int(c, 0, "EXISTS", "f0/x", "t0/x", NULL);
    expect_bulk(c, "1", "GET", "g999/x", NULL);
    assert_int_equal(info_namespaces(c), 1001);
    expect_status(c, "OK", "DEBUG", "CHECK", NULL);
    expect_status(c, "OK", "FLUSHALL", NULL);
    for (long long deadline = now_ms() + 5000; info_namespaces(c) != 1; sleep_ms(50))
        if (now_ms() > deadline)
            it_fail("namespaces not reclaimed 5 s after FLUSHALL");
}

/* MEMORY USAGE key [SAMPLES n]...: options parsed as Redis parses them, a negative
 * count is a syntax error (found by the differential fuzzer), a missing key is nil. */
static void test_memory_usage_options(void **state)
{
    kv_conn *c = *state;
    expect_status(c, "OK", "SET", "k", "v", NULL);
    expect_int_range(c, 1, 1000, "MEMORY", "USAGE", "k", NULL);
    expect_int_range(c, 1, 1000, "MEMORY", "USAGE", "k", "SAMPLES", "0", NULL);
    expect_int_range(c, 1, 1000, "MEMORY", "USAGE", "k", "samples", "5", "SAMPLES", "1", NULL);
    expect_error(c, SYNTAX, "MEMORY", "USAGE", "k", "SAMPLES", "-1", NULL);
    expect_error(c, SYNTAX, "MEMORY", "USAGE", "nokey", "SAMPLES", "-1", NULL);
    expect_error(c, NOT_INT, "MEMORY", "USAGE", "k", "SAMPLES", "x", NULL);
    expect_error(c, SYNTAX, "MEMORY", "USAGE", "k", "SAMPLES", NULL);
    expect_error(c, SYNTAX, "MEMORY", "USAGE", "k", "FOO", "1", NULL);
    expect_nil(c, "MEMORY", "USAGE", "nokey", NULL);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, it_test_setup, it_test_teardown)
    const struct CMUnitTest tests[] = {
        T(test_del_unlink),
        T(test_exists_counts_duplicates),
        T(test_type_string_none),
        T(test_type_collections),
        T(test_ttl_pttl),
        T(test_expire_pexpire),
        T(test_expireat_pexpireat),
        T(test_expire_nx_xx_gt_lt),
        T(test_expire_option_errors),
        T(test_expire_invalid_time),
        T(test_nonpositive_ttl_deletes),
        T(test_persist),
        T(test_expiretime_pexpiretime),
        T(test_rename),
        T(test_renamenx),
        T(test_copy),
        T(test_touch),
        T(test_object_encoding),
        T(test_object_subcommands),
        T(test_dbsize_flush),
        T(test_randomkey),
        T(test_keys_patterns),
        T(test_scan_basic),
        T(test_scan_family_shared_options),
        T(test_keyspace_hits_by_command_kind),
        T(test_scan_returns_stable_keys_under_churn),
        T(test_lazy_expiry),
        T(test_active_expiry),
        T(test_ns_separate_values),
        T(test_ns_default_alias),
        T(test_ns_default_empty_key),
        T(test_ns_keys_display_names),
        T(test_ns_keys_pattern),
        T(test_ns_scan_match),
        T(test_ns_nested_slash),
        T(test_ns_rename_across),
        T(test_ns_reclaimed_after_emptying),
        T(test_memory_usage_options),
    };
#undef T
    return cmocka_run_group_tests(tests, it_group_setup, it_group_teardown);
}
