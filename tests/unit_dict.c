/* unit_dict.c - the arena dict: insert/find/delete at scale, incremental growth and
 * shrink with bounded undo per mutation, SCAN's guarantee while the table resizes,
 * set_value, free_step, copy, exact byte accounting, and crash atomicity (a child
 * killed at every undo record of mutations that start, run and finish rehashes). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "harness_arena.h"

#include "kvns/alloc.h"
#include "kvns/dict.h"
#include "kvns/shard.h"
#include "kvns/store.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define SHARDS 4
#define LANES  4
#define S      1        /* the shard the test dicts live in */

static kv_txn txn;
static aoff root_off;   /* an adict allocated in shard S */
static uint64_t base_mem;

static adict *D(void) { return arena_ptr(root_off); }

static void check_alloc(void)
{
    char err[256] = "";
    txn_begin(&txn);
    for (uint32_t s = 0; s < SHARDS; s++)
        txn_lock(&txn, s);
    txn_lock(&txn, lock_id_heap());
    int rc = alloc_check(err, sizeof err);
    txn_commit(&txn);
    if (rc)
        fail_msg("alloc_check: %s", err);
}

/* The dict's invariants, and the shard's bytes = baseline + root + d->bytes. */
static void check_dict(void)
{
    char err[256] = "";
    if (adict_check(D(), err, sizeof err))
        fail_msg("adict_check: %s", err);
    assert_int_equal(shard_at(S)->mem_used, base_mem + alloc_real_size(sizeof(adict)) + D()->bytes);
}

static int setup(void **state)
{
    arena_fixture_reset(&txn, SHARDS, 512u << 20);
    base_mem = shard_at(S)->mem_used;
    txn_begin(&txn);
    txn_lock(&txn, S);
    root_off = shard_alloc(&txn, S, sizeof(adict));
    assert_true(root_off != 0);
    adict_init(D());
    assert_int_equal(txn_commit(&txn), TXN_OK);
    return 0;
}

static void begin(void)
{
    txn_begin(&txn);
    txn_lock(&txn, S);
}

static void commit(void) { assert_int_equal(txn_commit(&txn), TXN_OK); }

static void ins(const char *k, const char *v)
{
    begin();
    assert_null(adict_find(D(), k, strlen(k)));
    assert_non_null(adict_insert(&txn, S, D(), k, strlen(k), v, strlen(v)));
    commit();
}

static bool del(const char *k)
{
    begin();
    bool r = adict_delete(&txn, S, D(), k, strlen(k));
    commit();
    return r;
}

static void expect_val(const char *k, const char *v)
{
    adict_node *n = adict_find(D(), k, strlen(k));
    if (!v) {
        assert_null(n);
        return;
    }
    assert_non_null(n);
    assert_int_equal(n->vlen, strlen(v));
    assert_memory_equal(adict_node_val(n), v, n->vlen);
}

/* Frees the whole dict and checks every byte came back. */
static void free_all(unsigned budget)
{
    bool done = false;
    while (!done) {
        begin();
        done = adict_free_step(&txn, S, D(), budget);
        commit();
    }
    assert_int_equal(D()->bytes, 0);
    assert_int_equal(adict_len(D()), 0);
    assert_int_equal(shard_at(S)->mem_used, base_mem + alloc_real_size(sizeof(adict)));
}

static void test_insert_find_delete_100k(void **state)
{
    (void)state;
    char k[32], v[32];
    size_t max_undo = 0;
    for (int i = 0; i < 100000; i++) {
        snprintf(k, sizeof k, "field:%d", i);
        snprintf(v, sizeof v, "value-%d", i * 7);
        begin();
        assert_non_null(adict_insert(&txn, S, D(), k, strlen(k), v, strlen(v)));
        /* incremental rehash: no insert logs more than a few buckets' worth */
        if (txn.ln->undo_used > max_undo)
            max_undo = txn.ln->undo_used;
        commit();
    }
    assert_true(max_undo < 4096);
    assert_int_equal(adict_len(D()), 100000);
    check_dict();
    for (int i = 0; i < 100000; i++) {
        snprintf(k, sizeof k, "field:%d", i);
        snprintf(v, sizeof v, "value-%d", i * 7);
        expect_val(k, v);
    }
    expect_val("field:100000", NULL);
    expect_val("", NULL);
    for (int i = 0; i < 100000; i += 2) {
        snprintf(k, sizeof k, "field:%d", i);
        assert_true(del(k));
    }
    assert_false(del("field:0"));
    assert_int_equal(adict_len(D()), 50000);
    check_dict();
    for (int i = 0; i < 100000; i++) {
        snprintf(k, sizeof k, "field:%d", i);
        snprintf(v, sizeof v, "value-%d", i * 7);
        expect_val(k, i % 2 ? v : NULL);
    }
    max_undo = 0;
    for (int i = 1; i < 100000; i += 2) {
        snprintf(k, sizeof k, "field:%d", i);
        begin();
        assert_true(adict_delete(&txn, S, D(), k, strlen(k)));
        if (txn.ln->undo_used > max_undo)
            max_undo = txn.ln->undo_used;
        commit();
    }
    assert_true(max_undo < 4096);
    assert_int_equal(adict_len(D()), 0);
    check_dict();
    /* shrinking went all the way back to the minimal table */
    begin();
    adict_rehash_step(&txn, S, D(), 1u << 30);
    commit();
    assert_true(D()->ht.size[0] <= 8);
    free_all(1000);
    check_alloc();
}

static void test_growth_and_shrink_incremental(void **state)
{
    (void)state;
    char k[32];
    bool saw_rehash = false;
    uint64_t max_size = 0;
    for (int i = 0; i < 5000; i++) {
        snprintf(k, sizeof k, "%d", i);
        ins(k, "");
        if (D()->ht.rehash_idx >= 0)
            saw_rehash = true;
        if (D()->ht.size[0] > max_size)
            max_size = D()->ht.size[0];
        /* both tables are reachable while rehashing: every key stays findable */
        if (i % 250 == 0) {
            for (int j = 0; j <= i; j++) {
                snprintf(k, sizeof k, "%d", j);
                assert_non_null(adict_find(D(), k, strlen(k)));
            }
            check_dict();
        }
    }
    assert_true(saw_rehash);
    assert_true(max_size >= 4096);
    assert_true(D()->ht.size[0] <= 8192);
    uint64_t big = D()->bytes;
    for (int i = 0; i < 4990; i++) {
        snprintf(k, sizeof k, "%d", i);
        assert_true(del(k));
        if (i % 500 == 0)
            check_dict();
    }
    check_dict();
    begin();
    adict_rehash_step(&txn, S, D(), 1u << 30);
    commit();
    assert_true(D()->ht.size[0] <= 64);
    assert_true(D()->bytes < big / 10);
    for (int i = 4990; i < 5000; i++) {
        snprintf(k, sizeof k, "%d", i);
        expect_val(k, "");
    }
    check_dict();
    free_all(3);
}

static void scan_collect(adict_node *n, void *ctx)
{
    uint8_t *seen = ctx;
    char buf[32];
    size_t len = n->klen < 31 ? n->klen : 31;
    memcpy(buf, adict_node_key(n), len);
    buf[len] = 0;
    int i;
    if (sscanf(buf, "s:%d", &i) == 1 && i >= 0 && i < 20000)
        seen[i]++;
}

/* Every key present for the whole scan is returned while the dict grows, then while
 * it shrinks, under it. */
static void test_scan_guarantee(void **state)
{
    (void)state;
    char k[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(k, sizeof k, "s:%d", i);
        ins(k, "v");
    }
    uint8_t *seen = calloc(20000, 1);
    int added = 1000;
    uint64_t cur = 0;
    int steps = 0;
    do {
        cur = adict_scan(D(), cur, scan_collect, seen);
        for (int j = 0; j < 8 && added < 20000; j++, added++) {
            snprintf(k, sizeof k, "s:%d", added);
            ins(k, "v");
        }
        steps++;
    } while (cur != 0);
    for (int i = 0; i < 1000; i++)
        if (!seen[i])
            fail_msg("key s:%d missed by the growing scan", i);
    /* shrinking: delete everything but keys 0..499 while scanning */
    memset(seen, 0, 20000);
    int next_del = 500;
    cur = 0;
    do {
        cur = adict_scan(D(), cur, scan_collect, seen);
        for (int j = 0; j < 40 && next_del < added; j++, next_del++) {
            snprintf(k, sizeof k, "s:%d", next_del);
            assert_true(del(k));
        }
    } while (cur != 0);
    for (int i = 0; i < 500; i++)
        if (!seen[i])
            fail_msg("key s:%d missed by the shrinking scan", i);
    /* a stable dict: each key exactly once */
    memset(seen, 0, 20000);
    cur = 0;
    do
        cur = adict_scan(D(), cur, scan_collect, seen);
    while (cur != 0);
    for (int i = 0; i < 500; i++)
        assert_int_equal(seen[i], 1);
    free(seen);
    check_dict();
    free_all(7);
    (void)steps;
}

static void test_set_value_and_random(void **state)
{
    (void)state;
    ins("a", "1");
    ins("b", "22");
    begin();
    adict_node *n = adict_find(D(), "a", 1);
    adict_node *n2 = adict_set_value(&txn, S, D(), n, "x", 1);     /* same class: in place */
    commit();
    assert_ptr_equal(n, n2);
    expect_val("a", "x");
    char big[3000];
    memset(big, 'z', sizeof big);
    begin();
    n = adict_find(D(), "a", 1);
    n2 = adict_set_value(&txn, S, D(), n, big, sizeof big);         /* reallocated */
    commit();
    assert_ptr_not_equal(n, n2);
    n = adict_find(D(), "a", 1);
    assert_int_equal(n->vlen, sizeof big);
    check_dict();
    begin();
    adict_set_value(&txn, S, D(), n, "", 0);
    commit();
    expect_val("a", "");
    check_dict();
    /* rollback of a set_value restores the old value */
    begin();
    adict_set_value(&txn, S, D(), adict_find(D(), "b", 1), "33", 2);
    txn_abort(&txn);
    expect_val("b", "22");
    check_dict();
    /* random: every key comes up */
    char k[16];
    for (int i = 0; i < 50; i++) {
        snprintf(k, sizeof k, "r%d", i);
        ins(k, "");
    }
    int hits[52] = { 0 };
    for (int i = 0; i < 20000; i++) {
        adict_node *r = adict_random(D());
        assert_non_null(r);
        int x;
        char buf[16] = "";
        memcpy(buf, adict_node_key(r), r->klen < 15 ? r->klen : 15);
        if (r->klen > 1 && sscanf(buf, "r%d", &x) == 1 && x < 50)
            hits[x]++;
        else
            hits[50 + (adict_node_key(r)[0] == 'b')]++;
    }
    for (int i = 0; i < 52; i++)
        assert_true(hits[i] > 0);
    free_all(1);
    begin();
    assert_null(adict_random(D()));
    commit();
}

static void test_free_step_bounded(void **state)
{
    (void)state;
    char k[32];
    for (int i = 0; i < 20000; i++) {
        snprintf(k, sizeof k, "f%d", i);
        begin();
        adict_insert(&txn, S, D(), k, strlen(k), k, strlen(k));
        commit();
        if (i == 16385)
            assert_true(D()->ht.rehash_idx >= 0);   /* free in the middle of a rehash */
    }
    assert_true(D()->ht.rehash_idx >= 0);
    int steps = 0;
    bool done = false;
    uint64_t last = D()->bytes;
    while (!done) {
        begin();
        done = adict_free_step(&txn, S, D(), 100);
        commit();
        assert_true(D()->bytes <= last);
        last = D()->bytes;
        steps++;
    }
    assert_true(steps >= 200 && steps < 400);
    assert_int_equal(D()->bytes, 0);
    assert_int_equal(shard_at(S)->mem_used, base_mem + alloc_real_size(sizeof(adict)));
    check_alloc();
    /* a freed dict can be used again */
    ins("again", "1");
    expect_val("again", "1");
    check_dict();
}

static void test_copy(void **state)
{
    (void)state;
    char k[32];
    for (int i = 0; i < 3000; i++) {
        snprintf(k, sizeof k, "c%d", i);
        ins(k, k + 1);
    }
    assert_true(D()->ht.rehash_idx >= 0 || D()->ht.size[0] >= 2048);
    uint32_t ds = 2;
    uint64_t mem2 = shard_at(ds)->mem_used;
    txn_begin(&txn);
    txn_lock(&txn, S);
    txn_lock(&txn, ds);
    aoff cr = shard_alloc(&txn, ds, sizeof(adict));
    assert_true(adict_copy(&txn, ds, D(), arena_ptr(cr)) != 0);
    commit();
    adict *c = arena_ptr(cr);
    char err[256];
    if (adict_check(c, err, sizeof err))
        fail_msg("copy: %s", err);
    assert_int_equal(adict_len(c), 3000);
    assert_int_equal(shard_at(ds)->mem_used, mem2 + alloc_real_size(sizeof(adict)) + c->bytes);
    for (int i = 0; i < 3000; i++) {
        snprintf(k, sizeof k, "c%d", i);
        adict_node *n = adict_find(c, k, strlen(k));
        assert_non_null(n);
        assert_memory_equal(adict_node_val(n), k + 1, strlen(k + 1));
    }
    /* independent: mutating the copy leaves the source alone */
    txn_begin(&txn);
    txn_lock(&txn, ds);
    assert_true(adict_delete(&txn, ds, c, "c1", 2));
    commit();
    expect_val("c1", "1");
    bool done = false;
    while (!done) {
        txn_begin(&txn);
        txn_lock(&txn, ds);
        done = adict_free_step(&txn, ds, c, 500);
        if (done)
            shard_free(&txn, ds, cr, sizeof(adict));
        commit();
    }
    assert_int_equal(shard_at(ds)->mem_used, mem2);
    /* an empty dict copies to an empty dict */
    free_all(100000);
    txn_begin(&txn);
    txn_lock(&txn, S);
    adict e;
    assert_true(adict_copy(&txn, S, D(), &e) != 0);
    commit();
    assert_int_equal(adict_len(&e), 0);
    assert_int_equal(e.bytes, 0);
    check_alloc();
}

/* ---- crash atomicity ------------------------------------------------------------------ */

#define UNIVERSE 400

static void ukey(char *buf, size_t cap, int i) { snprintf(buf, cap, "u:%d", i); }

/* Bitmap of which universe keys are present (with the right value). */
static void present(uint8_t *out)
{
    char k[32];
    for (int i = 0; i < UNIVERSE; i++) {
        ukey(k, sizeof k, i);
        adict_node *n = adict_find(D(), k, strlen(k));
        out[i] = n != NULL;
        if (n)
            assert_true(n->vlen == 8 && memcmp(adict_node_val(n), "val:", 4) == 0);
    }
}

/* One transaction: inserts keys ins[0..nins) and deletes del[0..ndel). */
static void mutate(kv_txn *t, const int *insk, int nins, const int *delk, int ndel)
{
    char k[32];
    txn_begin(t);
    txn_lock(t, S);
    for (int i = 0; i < nins; i++) {
        ukey(k, sizeof k, insk[i]);
        adict_insert(t, S, D(), k, strlen(k), "val:1234", 8);
    }
    for (int i = 0; i < ndel; i++) {
        ukey(k, sizeof k, delk[i]);
        adict_delete(t, S, D(), k, strlen(k));
    }
    txn_commit(t);
}

/* Kills a child at every undo record of the mutation; after recovery the dict holds
 * exactly the state before or after it, and every counter is exact. */
static void crash_every_record(const int *insk, int nins, const int *delk, int ndel)
{
    uint8_t before[UNIVERSE], after[UNIVERSE], now[UNIVERSE];
    present(before);
    memcpy(after, before, sizeof after);
    for (int i = 0; i < nins; i++)
        after[insk[i]] = 1;
    for (int i = 0; i < ndel; i++)
        after[delk[i]] = 0;
    int rolled_back = 0, committed = 0;
    for (long k = 1; k < 100000; k++) {
        pid_t pid = fork();
        if (pid == 0) {
            kv_txn child;
            txn_init(&child, 1);
            txn_kill_after_records = k;
            mutate(&child, insk, nins, delk, ndel);
            _exit(0);
        }
        int st;
        waitpid(pid, &st, 0);
        bool finished = WIFEXITED(st);
        lane_sweep(1);
        assert_int_equal(lanes_busy(), 0);
        present(now);
        check_dict();
        if (memcmp(now, after, UNIVERSE) == 0) {
            committed++;
        } else if (memcmp(now, before, UNIVERSE) == 0) {
            rolled_back++;
        } else {
            fail_msg("torn dict after a kill at undo record %ld", k);
        }
        if (finished)
            break;                         /* k passed the last record: applied */
        if (memcmp(now, after, UNIVERSE) == 0) {
            /* committed (killed after commit point): restore the before state */
            mutate(&txn, delk, ndel, insk, nins);
            present(now);
            assert_memory_equal(now, before, UNIVERSE);
        }
    }
    assert_true(rolled_back > 10);
    present(now);
    assert_memory_equal(now, after, UNIVERSE);
    check_dict();
    print_message("crash: %d rolled back, %d committed\n", rolled_back, committed);
}

static void test_crash_insert_rehash_and_delete(void **state)
{
    (void)state;
    char k[32];
    /* fill to exactly the table size: the next insert starts a rehash */
    int n = 0;
    while (!(adict_len(D()) >= 64 && adict_len(D()) == D()->ht.size[0] && D()->ht.rehash_idx < 0)) {
        ukey(k, sizeof k, n++);
        ins(k, "val:1234");
        assert_true(n < 100);
    }
    int i1[] = { n, n + 1, n + 2 }, d1[] = { 0, 3 };
    crash_every_record(i1, 3, d1, 2);          /* rehash start + bucket moves + delete */
    assert_true(D()->ht.rehash_idx >= 0);
    int i2[] = { n + 3 }, d2[] = { 5 };
    crash_every_record(i2, 1, d2, 1);          /* during a rehash */
    /* finish the rehash inside a crashing transaction: many inserts */
    int i3[80], d3[] = { 6 };
    for (int i = 0; i < 80; i++)
        i3[i] = n + 4 + i;
    crash_every_record(i3, 80, d3, 1);
    assert_true(D()->ht.size[0] >= 128);          /* the first rehash completed */
    /* a delete that triggers a shrink, then a delete of the last keys */
    int total = n + 84;
    int live = 0, dl[UNIVERSE];
    uint8_t p[UNIVERSE];
    present(p);
    for (int i = 0; i < total; i++)
        if (p[i])
            dl[live++] = i;
    /* delete down to just above the shrink threshold in plain transactions */
    begin();
    adict_rehash_step(&txn, S, D(), 1u << 30);
    commit();
    uint64_t size = D()->ht.size[0];
    int keep = (int)(size / 8);
    for (int i = keep; i < live; i++) {
        ukey(k, sizeof k, dl[i]);
        begin();
        adict_delete(&txn, S, D(), k, strlen(k));
        adict_rehash_step(&txn, S, D(), 1u << 30);
        commit();
    }
    assert_true(D()->ht.rehash_idx < 0);
    int d4[] = { dl[keep - 1] };
    crash_every_record(NULL, 0, d4, 1);        /* the shrinking delete */
    assert_true(D()->ht.rehash_idx >= 0 && D()->ht.size[1] < size);
    crash_every_record(NULL, 0, dl, keep - 1); /* delete everything */
    assert_int_equal(adict_len(D()), 0);
    check_alloc();
}

/* A killed free_step leaves a dict the next step can finish. */
static void test_crash_free_step(void **state)
{
    (void)state;
    char k[32];
    for (int i = 0; i < 300; i++) {
        ukey(k, sizeof k, i);
        ins(k, "val:1234");
    }
    for (long kill = 1; kill < 100000; kill++) {
        uint64_t bytes = D()->bytes;
        pid_t pid = fork();
        if (pid == 0) {
            kv_txn child;
            txn_init(&child, 1);
            txn_kill_after_records = kill;
            txn_begin(&child);
            txn_lock(&child, S);
            adict_free_step(&child, S, D(), 40);
            txn_commit(&child);
            _exit(0);
        }
        int st;
        waitpid(pid, &st, 0);
        lane_sweep(1);
        assert_true(D()->bytes <= bytes);
        assert_int_equal(shard_at(S)->mem_used, base_mem + alloc_real_size(sizeof(adict)) + D()->bytes);
        if (WIFEXITED(st) && D()->bytes == 0)
            break;
        if (WIFEXITED(st))
            kill = 0;                      /* one step done: kill the next one everywhere */
    }
    assert_int_equal(D()->bytes, 0);
    check_alloc();
}

/* The checker finds a key present twice (two nodes with the same key: what a loader
 * that trusted a file with a repeated field or member would build). */
static void test_check_finds_duplicate_key(void **state)
{
    (void)state;
    char k[32];
    for (int i = 0; i < 100; i++) {
        snprintf(k, sizeof k, "k%d", i);
        ins(k, "v");
    }
    check_dict();
    begin();
    assert_non_null(adict_insert(&txn, S, D(), "k42", 3, "again", 5));   /* bypasses the caller's check */
    commit();
    char err[256] = "";
    assert_int_equal(adict_check(D(), err, sizeof err), -1);
    assert_non_null(strstr(err, "'k42' present twice"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_insert_find_delete_100k, setup),
        cmocka_unit_test_setup(test_check_finds_duplicate_key, setup),
        cmocka_unit_test_setup(test_growth_and_shrink_incremental, setup),
        cmocka_unit_test_setup(test_scan_guarantee, setup),
        cmocka_unit_test_setup(test_set_value_and_random, setup),
        cmocka_unit_test_setup(test_free_step_bounded, setup),
        cmocka_unit_test_setup(test_copy, setup),
        cmocka_unit_test_setup(test_crash_insert_rehash_and_delete, setup),
        cmocka_unit_test_setup(test_crash_free_step, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
