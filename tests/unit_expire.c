/* unit_expire.c - TTL changes on every entry shape: inline and out-of-line keys and
 * string values, set, moved, cleared and set again, each followed by the value, the
 * deadline, the accounting and the arena checker; a long set/expire/delete loop that
 * leaves the store's byte count where it started; and a child killed at every undo
 * record of a TTL change on an out-of-line string. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "harness_arena.h"

#include "kvns/store.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SHARDS 8

static kv_txn txn;

static int setup(void **state)
{
    (void)state;
    arena_fixture_reset(&txn, SHARDS, 256u << 20);
    return 0;
}

/* A buffer of n bytes whose content depends on seed (so a stale copy shows). */
static char *pattern(size_t n, unsigned seed)
{
    char *p = malloc(n + 1);
    assert_non_null(p);
    for (size_t i = 0; i < n; i++)
        p[i] = (char)('a' + (i * 7 + seed) % 26);
    p[n] = 0;
    return p;
}

static void put_string(kv_txn *t, const char *key, size_t klen, const char *val, size_t vlen,
                       int64_t expire)
{
    kv_key k;
    key_init(&k, key, klen);
    txn_begin(t);
    txn_lock(t, k.shard);
    assert_int_equal(store_put_string(t, &k, val, vlen, expire, NULL), STORE_OK);
    assert_int_equal(txn_commit(t), TXN_OK);
}

/* Changes key's TTL through store_set_expire (expire < 0 clears it). */
static void set_expire(kv_txn *t, const char *key, size_t klen, int64_t expire)
{
    kv_key k;
    key_init(&k, key, klen);
    txn_begin(t);
    txn_lock(t, k.shard);
    kv_entry *e = store_find(t, &k);
    assert_non_null(e);
    assert_non_null(store_set_expire(t, &k, e, expire));
    assert_int_equal(txn_commit(t), TXN_OK);
}

/* Asserts key holds exactly val with deadline expire (-1: none), that the namespace's
 * byte counter equals the entry's footprint, and that the arena checks clean. */
static void check_string(const char *key, size_t klen, const char *val, size_t vlen,
                          int64_t expire)
{
    kv_key k;
    key_init(&k, key, klen);
    txn_begin(&txn);
    txn_lock(&txn, k.shard);
    kv_entry *e = store_find(&txn, &k);
    assert_non_null(e);
    assert_int_equal(e->type, KV_STRING);
    assert_int_equal(e->vlen, vlen);
    assert_memory_equal(entry_str(e), val, vlen);
    assert_int_equal(entry_expire(e), expire);
    assert_int_equal(store_ns_bytes(0), store_entry_bytes(e));
    txn_commit(&txn);
    arena_fixture_check(&txn);
}

static void delete_key(const char *key, size_t klen)
{
    kv_key k;
    key_init(&k, key, klen);
    txn_begin(&txn);
    txn_lock(&txn, k.shard);
    assert_int_equal(store_delete(&txn, &k), 1);
    assert_int_equal(txn_commit(&txn), TXN_OK);
}

static const size_t key_sizes[] = { 3, 480, 492, 600, 4000 };
static const size_t value_sizes[] = { 0, 5, 480, 490, 505, 1000, 70000 };

/* Every key size x value size: add a TTL, move it, clear it, add it again, and
 * the same with the TTL there from the start; the value and accounting hold at each
 * step. The sizes straddle the inline limit with and without the 8-byte TTL slot. */
static void test_ttl_changes_keep_value(void **state)
{
    (void)state;
    int64_t far = (int64_t)time(NULL) * 1000 + 3600 * 1000;
    for (size_t ki = 0; ki < sizeof key_sizes / sizeof key_sizes[0]; ki++) {
        for (size_t vi = 0; vi < sizeof value_sizes / sizeof value_sizes[0]; vi++) {
            size_t kl = key_sizes[ki], vl = value_sizes[vi];
            char *key = pattern(kl, (unsigned)ki);
            char *val = pattern(vl, (unsigned)(vi + 11));
            put_string(&txn, key, kl, val, vl, -1);   /* the shard's table exists from now on */
            delete_key(key, kl);
            uint64_t before = store_used_memory();
            for (int start_with_ttl = 0; start_with_ttl <= 1; start_with_ttl++) {
                put_string(&txn, key, kl, val, vl, start_with_ttl ? far : -1);
                check_string(key, kl, val, vl, start_with_ttl ? far : -1);
                set_expire(&txn, key, kl, far + 1);
                check_string(key, kl, val, vl, far + 1);
                set_expire(&txn, key, kl, far + 2);
                check_string(key, kl, val, vl, far + 2);
                set_expire(&txn, key, kl, -1);
                check_string(key, kl, val, vl, -1);
                set_expire(&txn, key, kl, -1);
                check_string(key, kl, val, vl, -1);
                set_expire(&txn, key, kl, far);
                check_string(key, kl, val, vl, far);
                delete_key(key, kl);
                assert_int_equal(store_ns_bytes(0), 0);
                assert_int_equal(store_used_memory(), before);
            }
            free(key);
            free(val);
        }
    }
}

/* SET + EXPIRE + DEL, many times: nothing accumulates in the byte counters. */
static void test_expire_loop_returns_memory(void **state)
{
    (void)state;
    int64_t far = (int64_t)time(NULL) * 1000 + 3600 * 1000;
    char *val = pattern(1000, 1);
    char *longkey = pattern(600, 2);
    put_string(&txn, "k", 1, val, 10, -1);       /* both shards' tables exist from now on */
    put_string(&txn, longkey, 600, val, 10, -1);
    delete_key("k", 1);
    delete_key(longkey, 600);
    uint64_t before = store_used_memory();
    for (int i = 0; i < 20000; i++) {
        const char *key = (i & 1) ? longkey : "k";
        size_t kl = (i & 1) ? 600 : 1;
        size_t vl = (i & 2) ? 1000 : 10;
        put_string(&txn, key, kl, val, vl, -1);
        set_expire(&txn, key, kl, far);
        set_expire(&txn, key, kl, -1);
        delete_key(key, kl);
    }
    assert_int_equal(store_ns_bytes(0), 0);
    assert_int_equal(store_used_memory(), before);
    arena_fixture_check(&txn);
    free(val);
    free(longkey);
}

/* A child killed at every undo record of a TTL change on an out-of-line string (and
 * of clearing it again) leaves the old entry or the new one, never a mix. */
static void test_crash_during_ttl_change(void **state)
{
    (void)state;
    int64_t far = (int64_t)time(NULL) * 1000 + 3600 * 1000;
    char *val = pattern(1000, 3);
    put_string(&txn, "big", 3, val, 1000, -1);
    int64_t deadlines[] = { far, -1 };
    for (size_t d = 0; d < 2; d++) {
        int64_t before_ttl = d == 0 ? -1 : far;
        for (long k = 1; k < 1000; k++) {
            pid_t pid = fork();
            if (pid == 0) {
                kv_txn child;
                txn_init(&child, 1);
                txn_kill_after_records = k;
                set_expire(&child, "big", 3, deadlines[d]);
                _exit(0);
            }
            int st;
            waitpid(pid, &st, 0);
            lane_sweep(1);
            kv_key key;
            key_init(&key, "big", 3);
            txn_begin(&txn);
            txn_lock(&txn, key.shard);
            kv_entry *e = store_find(&txn, &key);
            assert_non_null(e);
            int64_t now_ttl = entry_expire(e);
            txn_commit(&txn);
            check_string("big", 3, val, 1000, now_ttl);
            if (WIFEXITED(st)) {
                assert_int_equal(now_ttl, deadlines[d]);
                break;
            }
            assert_int_equal(now_ttl, before_ttl);   /* killed before the commit */
        }
    }
    free(val);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_ttl_changes_keep_value, setup),
        cmocka_unit_test_setup(test_expire_loop_returns_memory, setup),
        cmocka_unit_test_setup(test_crash_during_ttl_change, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
