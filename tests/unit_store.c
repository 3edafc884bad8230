/* unit_store.c - the arena store: allocator, hash table growth and shrink, SCAN's
 * guarantee, random picks and the checker mid-rehash, namespaces and accounting, and
 * crash atomicity (a child killed at every undo record and at the commit point, then
 * recovery and the checker). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "harness_arena.h"

#include "kvns/alloc.h"
#include "kvns/evict.h"
#include "kvns/shard.h"
#include "kvns/store.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SHARDS 8
#define LANES  4

static kv_txn txn;

/* Every test starts from an empty store. */
static int setup(void **state)
{
    arena_fixture_reset(&txn, SHARDS, 256u << 20);
    return 0;
}

static void check_store(void) { arena_fixture_check(&txn); }

static void put(const char *key, const char *val, int64_t expire)
{
    kv_key k;
    key_init(&k, key, strlen(key));
    txn_begin(&txn);
    txn_lock(&txn, k.shard);
    assert_int_equal(store_put_string(&txn, &k, val, strlen(val), expire, NULL), STORE_OK);
    assert_int_equal(txn_commit(&txn), TXN_OK);
}

/* Returns a malloc'd copy of key's value, or NULL. */
static char *get(const char *key)
{
    kv_key k;
    key_init(&k, key, strlen(key));
    txn_begin(&txn);
    txn_lock(&txn, k.shard);
    kv_entry *e = store_find(&txn, &k);
    char *v = e ? strndup(entry_str(e), e->vlen) : NULL;
    txn_commit(&txn);
    return v;
}

static int del(const char *key)
{
    kv_key k;
    key_init(&k, key, strlen(key));
    txn_begin(&txn);
    txn_lock(&txn, k.shard);
    int n = store_delete(&txn, &k);
    txn_commit(&txn);
    return n;
}

static void test_alloc_classes(void **state)
{
    (void)state;
    assert_int_equal(alloc_real_size(1), 8);
    assert_int_equal(alloc_real_size(8), 8);
    assert_int_equal(alloc_real_size(9), 16);
    assert_int_equal(alloc_real_size(128), 128);
    assert_int_equal(alloc_real_size(129), 144);
    assert_int_equal(alloc_real_size(16384), 16384);
    /* large objects take whole pages, header included */
    assert_int_equal(alloc_real_size(16385), 5 * 4096);
    for (size_t n = 1; n < 20000; n += 7)
        assert_true(alloc_real_size(n) >= n);
}

static void test_alloc_reuse_and_rollback(void **state)
{
    (void)state;
    uint64_t before = shard_at(0)->mem_used;
    txn_begin(&txn);
    txn_lock(&txn, 0);
    aoff a = shard_alloc(&txn, 0, 100);
    aoff big = shard_alloc(&txn, 0, 100000);
    assert_true(a != 0 && big != 0);
    txn_abort(&txn);
    /* the rollback returns the allocator to where it was: the same slot comes back */
    assert_int_equal(shard_at(0)->mem_used, before);
    txn_begin(&txn);
    txn_lock(&txn, 0);
    aoff a2 = shard_alloc(&txn, 0, 100);
    assert_int_equal(a2, a);
    shard_free(&txn, 0, a2, 100);
    assert_int_equal(txn_commit(&txn), TXN_OK);
    assert_int_equal(shard_at(0)->mem_used, before);
    check_store();
}

static void test_put_get_delete_namespaces(void **state)
{
    (void)state;
    put("x", "1", -1);
    char *v = get("default/x");
    assert_non_null(v);
    assert_string_equal(v, "1");        /* default/x is x */
    free(v);
    put("db1/x", "2", -1);
    put("db2/x", "3", -1);
    v = get("db1/x");
    assert_string_equal(v, "2");
    free(v);
    int db1 = ns_find("db1", 3), db2 = ns_find("db2", 3);
    assert_true(db1 > 0 && db2 > 0 && db1 != db2);
    assert_int_equal(store_ns_keys((uint32_t)db1), 1);
    assert_true(store_ns_bytes((uint32_t)db1) > 0);
    put("default/a/b", "4", -1);        /* keeps its prefix: a/b would be namespace a */
    v = get("default/a/b");
    assert_string_equal(v, "4");
    free(v);
    assert_null(get("a/b"));
    assert_int_equal(del("db1/x"), 1);
    assert_int_equal(store_ns_keys((uint32_t)db1), 0);
    assert_int_equal(store_ns_bytes((uint32_t)db1), 0);
    assert_int_equal(del("db1/x"), 0);
    check_store();
}

static void test_expiry_is_lazy_and_exact(void **state)
{
    (void)state;
    put("gone", "v", 1);                /* 1970: already expired */
    assert_null(get("gone"));
    assert_int_equal(store_keys(), 0);  /* the lookup deleted it */
    put("later", "v", (int64_t)time(NULL) * 1000 + 100000);
    assert_int_equal(store_expires(), 1);
    check_store();
}

static void test_table_growth_and_shrink(void **state)
{
    (void)state;
    char key[32], val[32];
    uint64_t base = store_used_memory();
    for (int i = 0; i < 50000; i++) {
        snprintf(key, sizeof key, "k:%d", i);
        snprintf(val, sizeof val, "v%d", i);
        put(key, val, -1);
    }
    assert_int_equal(store_keys(), 50000);
    check_store();
    for (int i = 0; i < 50000; i += 997) {
        snprintf(key, sizeof key, "k:%d", i);
        snprintf(val, sizeof val, "v%d", i);
        char *v = get(key);
        assert_non_null(v);
        assert_string_equal(v, val);
        free(v);
    }
    for (int i = 0; i < 50000; i++) {
        snprintf(key, sizeof key, "k:%d", i);
        assert_int_equal(del(key), 1);
    }
    /* drive the shrink rehashes to the end */
    for (uint32_t s = 0; s < SHARDS; s++) {
        txn_begin(&txn);
        txn_lock(&txn, s);
        store_rehash_step(&txn, s, 1u << 20);
        txn_commit(&txn);
    }
    assert_int_equal(store_keys(), 0);
    check_store();
    /* only the minimal bucket arrays remain charged */
    assert_true(store_used_memory() <= base + SHARDS * 64);
}

/* The keyspace's random pick and checker are the shared table core's: in the middle of
 * a rehash store_random reaches keys of both tables, and DEBUG CHECK notices a shard
 * table whose counter disagrees with its chains. */
static void test_random_and_check_mid_rehash(void **state)
{
    (void)state;
    enum { MAXKEYS = 4096 };
    char key[32];
    int ids[MAXKEYS], n = 0;
    shard *sh = shard_at(0);
    for (int i = 0; n < MAXKEYS && !(n >= 64 && htable_rehashing(&sh->ht)); i++) {
        kv_key k;
        snprintf(key, sizeof key, "r:%d", i);
        key_init(&k, key, strlen(key));
        if (k.shard != 0)
            continue;
        put(key, "v", -1);
        ids[n++] = i;
    }
    assert_true(htable_rehashing(&sh->ht) && sh->ht.used[0] > 0 && sh->ht.used[1] > 0);
    uint8_t *hit = calloc((size_t)ids[n - 1] + 1, 1);
    txn_begin(&txn);
    txn_lock(&txn, 0);
    for (int i = 0; i < n * 200; i++) {
        kv_entry *e = store_random(&txn, 0);
        assert_non_null(e);
        snprintf(key, sizeof key, "%.*s", (int)e->klen, entry_key(e));
        hit[atoi(key + 2)] = 1;
    }
    txn_commit(&txn);
    for (int i = 0; i < n; i++)
        if (!hit[ids[i]])
            fail_msg("store_random never picked r:%d", ids[i]);
    free(hit);
    char err[256] = "";
    sh->ht.used[1]++;
    assert_int_equal(store_check(&txn, err, sizeof err), -1);
    assert_non_null(strstr(err, "shard 0 table 1 holds"));
    sh->ht.used[1]--;
    check_store();
}

static void collect(kv_entry *e, void *ctx)
{
    uint8_t *seen = ctx;
    char buf[32];
    size_t n = e->klen < 31 ? e->klen : 31;
    memcpy(buf, entry_key(e), n);
    buf[n] = 0;
    int i;
    if (sscanf(buf, "s:%d", &i) == 1 && i >= 0 && i < 4000)
        seen[i] = 1;
}

/* Every key present for the whole scan is returned, while the tables grow under it. */
static void test_scan_survives_growth(void **state)
{
    (void)state;
    char key[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(key, sizeof key, "s:%d", i);
        put(key, "v", -1);
    }
    uint8_t *seen = calloc(4000, 1);
    int added = 1000;
    for (uint32_t s = 0; s < SHARDS; s++) {
        uint64_t v = 0;
        do {
            txn_begin(&txn);
            txn_lock(&txn, s);
            v = store_scan_step(&txn, s, v, collect, seen);
            txn_commit(&txn);
            for (int j = 0; j < 3 && added < 4000; j++, added++) {
                snprintf(key, sizeof key, "s:%d", added);
                put(key, "v", -1);
            }
        } while (v != 0);
    }
    for (int i = 0; i < 1000; i++)
        if (!seen[i])
            fail_msg("key s:%d missed by the scan", i);
    free(seen);
    check_store();
}

/* One multi-shard transaction: rewrites 40 keys (some growing to external values,
 * some deleted and re-created) so that it allocates, frees and rehashes. */
static void mutate_many(kv_txn *t, int round)
{
    char key[32], val[700];
    uint32_t ids[SHARDS];
    for (uint32_t s = 0; s < SHARDS; s++)
        ids[s] = s;
    txn_begin(t);
    txn_lock_many(t, ids, SHARDS);
    for (int i = 0; i < 40; i++) {
        snprintf(key, sizeof key, "ns%d/key:%d", i % 3, i);
        kv_key k;
        key_init(&k, key, strlen(key));
        size_t n = (size_t)snprintf(val, sizeof val, "r%d-%d", round, i);
        if (i % 5 == 0) {
            memset(val + n, 'x', 600);       /* an external value */
            n += 600;
        }
        if (i % 7 == 0)
            store_delete(t, &k);
        store_put_string(t, &k, val, n, i % 2 ? t->now_ms + 1000000 : -1, NULL);
    }
    txn_commit(t);
}

/* The round number every key of the set carries (-1: missing, -2: torn). */
static int rounds_present(void)
{
    int seen = -3;
    char key[32];
    for (int i = 0; i < 40; i++) {
        snprintf(key, sizeof key, "ns%d/key:%d", i % 3, i);
        char *v = get(key);
        int r = -1;
        if (v)
            sscanf(v, "r%d-", &r);
        free(v);
        if (seen == -3)
            seen = r;
        else if (seen != r)
            return -2;
    }
    return seen;
}

/* Kills a child at every undo record of a multi-shard transaction (and at both sides
 * of the commit point); after recovery the store holds either the whole old round or
 * the whole new one, and the checker passes. */
static void test_crash_at_every_step(void **state)
{
    (void)state;
    mutate_many(&txn, 0);
    assert_int_equal(rounds_present(), 0);
    int committed = 0, rolled_back = 0;
    for (long k = 1; k < 100000; k++) {
        int expect_old = rounds_present();
        pid_t pid = fork();
        if (pid == 0) {
            kv_txn child;
            txn_init(&child, 1);
            txn_kill_after_records = k;
            mutate_many(&child, expect_old + 1);
            _exit(0);                      /* finished without hitting the kill point */
        }
        int st;
        waitpid(pid, &st, 0);
        bool finished = WIFEXITED(st);
        lane_sweep(1);
        int now = rounds_present();
        if (now == -2)
            fail_msg("torn transaction after a kill at undo record %ld", k);
        assert_true(now == expect_old || now == expect_old + 1);
        if (now == expect_old + 1)
            committed++;
        else
            rolled_back++;
        check_store();
        assert_int_equal(lanes_busy(), 0);
        if (finished)
            break;                         /* k passed the last record */
    }
    for (int point = 1; point <= 2; point++) {
        int before = rounds_present();
        pid_t pid = fork();
        if (pid == 0) {
            kv_txn child;
            txn_init(&child, 1);
            txn_kill_at_commit = point;
            mutate_many(&child, before + 1);
            _exit(0);
        }
        int st;
        waitpid(pid, &st, 0);
        assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
        lane_sweep(1);
        /* before the commit store: rolled back; after it: kept */
        assert_int_equal(rounds_present(), point == 1 ? before : before + 1);
        check_store();
    }
    assert_true(rolled_back > 50);
    print_message("kills: %d rolled back, %d committed\n", rolled_back, committed);
}

/* A same-length overwrite rewrites the entry in place (same address, hits reset, TTL
 * shape kept) and a different length or TTL shape builds a new entry; accounting holds
 * either way, and a kill in the middle of the in-place write rolls it back. */
static void test_overwrite_in_place(void **state)
{
    (void)state;
    kv_key k;
    key_init(&k, "inplace", 7);
    kv_entry *first, *second;
    txn_begin(&txn);
    txn_lock(&txn, k.shard);
    assert_int_equal(store_put_string(&txn, &k, "aaaa", 4, -1, &first), STORE_OK);
    assert_int_equal(txn_commit(&txn), TXN_OK);
    first->hits = 7;
    txn_begin(&txn);
    txn_lock(&txn, k.shard);
    assert_int_equal(store_put_string(&txn, &k, "bbbb", 4, -1, &second), STORE_OK);
    assert_int_equal(txn_commit(&txn), TXN_OK);
    assert_ptr_equal(first, second);
    assert_int_equal(second->hits, 0);
    char *v = get("inplace");
    assert_string_equal(v, "bbbb");
    free(v);
    uint64_t used = store_used_memory();
    put("inplace", "cccc", (int64_t)time(NULL) * 1000 + 100000);   /* TTL shape changes */
    assert_int_equal(store_expires(), 1);
    put("inplace", "dddd", (int64_t)time(NULL) * 1000 + 200000);   /* in place, new deadline */
    assert_int_equal(store_expires(), 1);
    put("inplace", "eeeee", -1);                                  /* new length */
    assert_int_equal(store_expires(), 0);
    put("inplace", "fffff", -1);
    assert_true(store_used_memory() >= used);
    check_store();
    pid_t pid = fork();
    if (pid == 0) {
        kv_txn child;
        txn_init(&child, 1);
        /* writes the new bytes in place, then dies holding the lock, uncommitted */
        txn_begin(&child);
        txn_lock(&child, k.shard);
        store_put_string(&child, &k, "ggggg", 5, -1, NULL);
        _exit(0);
    }
    int st;
    waitpid(pid, &st, 0);
    lane_sweep(1);
    v = get("inplace");
    assert_string_equal(v, "fffff");
    free(v);
    check_store();
}

/* A lock whose owner died is recovered by the next taker, not only by a sweep. */
static void test_recovery_by_next_locker(void **state)
{
    (void)state;
    put("solo", "old", -1);
    kv_key k;
    key_init(&k, "solo", 4);
    pid_t pid = fork();
    if (pid == 0) {
        kv_txn child;
        txn_init(&child, 2);
        txn_begin(&child);
        txn_lock(&child, k.shard);
        store_put_string(&child, &k, "new-value-that-is-longer", 24, -1, NULL);
        raise(SIGKILL);                     /* dies holding the lock, uncommitted */
    }
    int st;
    waitpid(pid, &st, 0);
    char *v = get("solo");                  /* EOWNERDEAD -> undo -> consistent */
    assert_string_equal(v, "old");
    free(v);
    lane_sweep(2);
    check_store();
}

/* Puts then deletes ns/a, leaving namespace ns registered and empty. */
static void empty_namespace(const char *ns)
{
    char key[64];
    snprintf(key, sizeof key, "%s/a", ns);
    put(key, "v", -1);
    assert_int_equal(del(key), 1);
    assert_true(ns_find(ns, strlen(ns)) > 0);
}

/* Runs store_ns_reclaim in a child killed before its k-th registry store; returns
 * true when the child finished (k was past the last store). Recovers its lane. */
static bool reclaim_killed_at(long k)
{
    pid_t pid = fork();
    if (pid == 0) {
        kv_txn child;
        txn_init(&child, 1);
        ns_kill_after_stores = k;
        store_ns_reclaim(&child);
        _exit(0);
    }
    int st;
    waitpid(pid, &st, 0);
    lane_sweep(1);
    return WIFEXITED(st);
}

/* Number of live namespaces named name (a torn registration could make two). */
static int live_named(const char *name)
{
    int n = 0;
    for (uint32_t id = 0; id < ns_count(); id++) {
        uint32_t len;
        const char *p = ns_name(id, &len);
        n += ns_live(id) && len == strlen(name) && memcmp(p, name, len) == 0;
    }
    return n;
}

/* Kills the housekeeper's reclaim before every store it makes: each empty namespace
 * is then either still registered under its id or cleanly free (generation bumped,
 * eviction counter reset, not found by name), a namespace with keys is never touched,
 * the checker passes, and registering afterwards works. */
static void test_ns_reclaim_crash_at_every_step(void **state)
{
    (void)state;
    put("keep/a", "kept", -1);
    int keep = ns_find("keep", 4);
    int freed = 0, kept = 0;
    for (long k = 1; k < 1000; k++) {
        empty_namespace("r1");
        empty_namespace("r2");
        int ids[2] = { ns_find("r1", 2), ns_find("r2", 2) };
        uint32_t gens[2] = { ns_generation((uint32_t)ids[0]), ns_generation((uint32_t)ids[1]) };
        __atomic_add_fetch(&arena_hdr()->ns_evictions[ids[0]], 5, __ATOMIC_RELAXED);
        bool finished = reclaim_killed_at(k);
        for (int i = 0; i < 2; i++) {
            const char *name = i ? "r2" : "r1";
            if (ns_live((uint32_t)ids[i])) {
                assert_int_equal(ns_find(name, 2), ids[i]);
                kept++;
            } else {
                assert_int_equal(ns_find(name, 2), -1);
                assert_int_equal(ns_generation((uint32_t)ids[i]), gens[i] + 1);
                assert_int_equal(evict_count((uint32_t)ids[i]), 0);
                freed++;
            }
            assert_true(live_named(name) <= 1);
        }
        assert_int_equal(ns_find("keep", 4), keep);
        char *v = get("keep/a");
        assert_string_equal(v, "kept");
        free(v);
        check_store();
        assert_int_equal(lanes_busy(), 0);
        if (finished) {
            assert_false(ns_live((uint32_t)ids[0]) || ns_live((uint32_t)ids[1]));
            break;
        }
    }
    assert_true(freed > 0 && kept > 0);
    /* the dead reclaimer's namespace lock is recovered by the next registration */
    put("after/a", "v", -1);
    assert_int_equal(live_named("after"), 1);
    check_store();
}

/* Kills a writer before every store of a namespace registration: afterwards the
 * namespace exists once or not at all, the write is rolled back, and it registers. */
static void test_ns_register_crash_at_every_step(void **state)
{
    (void)state;
    char name[32];
    for (long k = 1; k < 100; k++) {
        snprintf(name, sizeof name, "fresh%ld", k);
        char key[64];
        snprintf(key, sizeof key, "%s/a", name);
        pid_t pid = fork();
        if (pid == 0) {
            kv_txn child;
            txn_init(&child, 1);
            kv_key kk;
            key_init(&kk, key, strlen(key));
            txn_begin(&child);
            txn_lock(&child, kk.shard);
            ns_kill_after_stores = k;
            store_put_string(&child, &kk, "v", 1, -1, NULL);
            txn_commit(&child);
            _exit(0);
        }
        int st;
        waitpid(pid, &st, 0);
        lane_sweep(1);
        bool finished = WIFEXITED(st);
        assert_true(live_named(name) <= 1);
        char *v = get(key);
        assert_true(finished ? v != NULL : v == NULL);
        free(v);
        put(key, "w", -1);
        assert_int_equal(live_named(name), 1);
        check_store();
        if (finished)
            break;
    }
}

/* A reclaimed id is reused (after the reuse delay) with no trace of the namespace
 * that had it: counters zero, eviction counter zero, a new generation. Names of 30
 * bytes: only the freed slot has that much name room, so the new one must take it. */
static void test_ns_reuse_starts_clean(void **state)
{
    (void)state;
    static const char old[] = "old-namespace-with-a-long-name", nu[] = "new-namespace-with-a-long-name";
    put("old-namespace-with-a-long-name/a", "v", -1);
    int id = ns_find(old, 30);
    __atomic_add_fetch(&arena_hdr()->ns_evictions[id], 7, __ATOMIC_RELAXED);
    uint32_t gen = ns_generation((uint32_t)id);
    assert_int_equal(del("old-namespace-with-a-long-name/a"), 1);
    assert_true(store_ns_reclaim(&txn) >= 1);
    assert_false(ns_live((uint32_t)id));
    assert_int_equal(ns_find(old, 30), -1);
    assert_int_equal(evict_count((uint32_t)id), 0);
    put("new-namespace-with-a-long-name/early", "v", -1);   /* within the reuse delay */
    assert_true(ns_find(nu, 30) != id);
    assert_int_equal(del("new-namespace-with-a-long-name/early"), 1);
    assert_true(store_ns_reclaim(&txn) >= 1);
    struct timespec pause = { 1, 100 * 1000000L };
    nanosleep(&pause, NULL);
    put("new-namespace-with-a-long-name/b", "vv", -1);
    assert_int_equal(ns_find(nu, 30), id);
    assert_int_equal(store_ns_keys((uint32_t)id), 1);
    assert_int_equal(evict_count((uint32_t)id), 0);
    assert_int_equal(ns_generation((uint32_t)id), gen + 1);
    char *v = get("new-namespace-with-a-long-name/b");
    assert_string_equal(v, "vv");
    free(v);
    assert_null(get("old-namespace-with-a-long-name/a"));
    check_store();
}

/* A savepoint inside one transaction undoes only what came after it: an overwrite,
 * an insert and a delete across two shards, then a later write still commits; the
 * words logged after the savepoint are logged again when written once more. */
static void test_savepoint_rolls_back_only_after_it(void **state)
{
    (void)state;
    put("sp/a", "1", -1);
    put("sp/b", "2", -1);
    kv_key a, b, c;
    key_init(&a, "sp/a", 4);
    key_init(&b, "sp/b", 4);
    key_init(&c, "sp/c", 4);
    uint32_t ids[3] = { a.shard, b.shard, c.shard };
    txn_begin(&txn);
    txn_lock_many(&txn, ids, 3);
    assert_int_equal(store_put_string(&txn, &a, "10", 2, -1, NULL), STORE_OK);
    txn_savepoint sp = txn_savepoint_take(&txn);
    assert_int_equal(store_put_string(&txn, &a, "11", 2, -1, NULL), STORE_OK);
    assert_int_equal(store_put_string(&txn, &c, "3", 1, -1, NULL), STORE_OK);
    assert_int_equal(store_delete(&txn, &b), 1);
    txn_rollback_to(&txn, &sp);
    assert_int_equal(txn_holds(&txn, a.shard), true);
    assert_non_null(store_find(&txn, &b));
    assert_null(store_find(&txn, &c));
    kv_entry *e = store_find(&txn, &a);
    assert_non_null(e);
    assert_memory_equal(entry_str(e), "10", 2);
    /* after the rollback the same words change again: they must be logged again,
     * so a full abort still returns to the state before the transaction */
    assert_int_equal(store_put_string(&txn, &c, "4", 1, -1, NULL), STORE_OK);
    txn_abort(&txn);
    char *v = get("sp/a");
    assert_string_equal(v, "1");
    free(v);
    assert_null(get("sp/c"));
    check_store();
    /* and a savepoint rollback followed by commit keeps what preceded it */
    txn_begin(&txn);
    txn_lock_many(&txn, ids, 3);
    assert_int_equal(store_put_string(&txn, &a, "20", 2, -1, NULL), STORE_OK);
    sp = txn_savepoint_take(&txn);
    assert_int_equal(store_delete(&txn, &a), 1);
    txn_rollback_to(&txn, &sp);
    assert_int_equal(txn_commit(&txn), TXN_OK);
    v = get("sp/a");
    assert_string_equal(v, "20");
    free(v);
    check_store();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_alloc_classes, setup),
        cmocka_unit_test_setup(test_alloc_reuse_and_rollback, setup),
        cmocka_unit_test_setup(test_put_get_delete_namespaces, setup),
        cmocka_unit_test_setup(test_expiry_is_lazy_and_exact, setup),
        cmocka_unit_test_setup(test_table_growth_and_shrink, setup),
        cmocka_unit_test_setup(test_scan_survives_growth, setup),
        cmocka_unit_test_setup(test_random_and_check_mid_rehash, setup),
        cmocka_unit_test_setup(test_crash_at_every_step, setup),
        cmocka_unit_test_setup(test_recovery_by_next_locker, setup),
        cmocka_unit_test_setup(test_overwrite_in_place, setup),
        cmocka_unit_test_setup(test_ns_reclaim_crash_at_every_step, setup),
        cmocka_unit_test_setup(test_ns_register_crash_at_every_step, setup),
        cmocka_unit_test_setup(test_ns_reuse_starts_clean, setup),
        cmocka_unit_test_setup(test_savepoint_rolls_back_only_after_it, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
