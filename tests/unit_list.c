/* unit_list.c - the LIST structure (shm/list.c) on a private arena, checked against a
 * plain in-memory model: pushes and pops at both ends across block boundaries, large
 * elements, LINDEX/LSET/LINSERT/LREM/LTRIM on multi-block lists, byte accounting
 * (store_check and list_check after every phase), incremental freeing of a 100k
 * element list, and crash atomicity (a child killed at every undo record of a
 * multi-list mutation; after recovery both lists are wholly before or wholly after). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "harness_arena.h"

#include "kvns/alloc.h"
#include "kvns/list.h"
#include "kvns/shard.h"
#include "kvns/store.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define SHARDS 8
#define LANES  4

static kv_txn txn;

static int setup(void **state)
{
    arena_fixture_reset(&txn, SHARDS, 256u << 20);
    return 0;
}

static void check_store(void) { arena_fixture_check(&txn); }

/* ---- a plain model of a list ------------------------------------------------------ */

typedef struct model {
    char  **v;
    size_t *n;
    size_t  len, cap;
} model;

static void model_insert(model *m, size_t at, const char *p, size_t n)
{
    if (m->len == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 64;
        m->v = realloc(m->v, m->cap * sizeof *m->v);
        m->n = realloc(m->n, m->cap * sizeof *m->n);
        assert_non_null(m->v);
        assert_non_null(m->n);
    }
    memmove(m->v + at + 1, m->v + at, (m->len - at) * sizeof *m->v);
    memmove(m->n + at + 1, m->n + at, (m->len - at) * sizeof *m->n);
    m->v[at] = malloc(n ? n : 1);
    memcpy(m->v[at], p, n);
    m->n[at] = n;
    m->len++;
}

static void model_erase(model *m, size_t at)
{
    free(m->v[at]);
    memmove(m->v + at, m->v + at + 1, (m->len - at - 1) * sizeof *m->v);
    memmove(m->n + at, m->n + at + 1, (m->len - at - 1) * sizeof *m->n);
    m->len--;
}

static void model_free(model *m)
{
    while (m->len)
        model_erase(m, m->len - 1);
    free(m->v);
    free(m->n);
    memset(m, 0, sizeof *m);
}

static bool model_eq(const model *m, size_t i, const char *p, size_t n)
{
    return m->n[i] == n && memcmp(m->v[i], p, n) == 0;
}

/* ---- list operations in an open transaction (the key's shard locked) -------------- */

static kv_key key_of(const char *name)
{
    kv_key k;
    key_init(&k, name, strlen(name));
    return k;
}

/* Binds h to the list of k; false when the key is missing. */
static bool open_list(kv_txn *t, const kv_key *k, list_h *h)
{
    kv_entry *e = store_find(t, k);
    if (!e)
        return false;
    assert_int_equal(e->type, KV_LIST);
    list_bind_entry(h, t, k->shard, e);
    return true;
}

/* Pushes one element, creating the list as the commands do. */
static bool op_push(kv_txn *t, const kv_key *k, bool tail, const char *p, size_t n)
{
    list_h h;
    if (open_list(t, k, &h))
        return list_push(&h, tail, p, n);
    aoff root = list_create(t, k->shard);
    if (!root)
        return false;
    list_bind(&h, t, k->shard, NULL, root);
    if (!list_push(&h, tail, p, n))
        return false;
    return store_put_object(t, k, KV_LIST, root, -1, NULL) == STORE_OK;
}

static void delete_if_empty(kv_txn *t, const kv_key *k, list_h *h)
{
    if (h->r->count == 0)
        store_delete(t, k);
}

/* Pops into buf (malloc'd copy, caller frees); false when empty. */
static bool op_pop(kv_txn *t, const kv_key *k, bool tail, char **buf, size_t *n)
{
    list_h h;
    if (!open_list(t, k, &h))
        return false;
    list_elem el;
    assert_true(list_pop(&h, tail, &el));
    *buf = malloc(el.n ? el.n : 1);
    memcpy(*buf, el.p, el.n);
    *n = el.n;
    delete_if_empty(t, k, &h);
    return true;
}

static void op_set(kv_txn *t, const kv_key *k, uint64_t idx, const char *p, size_t n)
{
    list_h h;
    list_pos pos;
    assert_true(open_list(t, k, &h));
    assert_true(list_seek(h.r, idx, &pos));
    assert_true(list_set(&h, &pos, p, n));
}

/* LINSERT: the index of the pivot used, or -1. */
static long op_insert(kv_txn *t, const kv_key *k, const char *pivot, size_t pn, bool after,
                      const char *p, size_t n)
{
    list_h h;
    list_pos pos;
    if (!open_list(t, k, &h))
        return -1;
    bool more = list_seek(h.r, 0, &pos);
    while (more) {
        list_elem el = list_get(&pos);
        if (el.n == pn && memcmp(el.p, pivot, pn) == 0)
            break;
        more = list_next(&pos);
    }
    if (!more)
        return -1;
    long at = (long)pos.index;
    assert_true(list_insert(&h, &pos, after, p, n));
    return at;
}

static uint64_t op_rem(kv_txn *t, const kv_key *k, long count, const char *p, size_t n)
{
    list_h h;
    if (!open_list(t, k, &h))
        return 0;
    bool ok;
    uint64_t removed = list_remove(&h, p, n, count < 0 ? (uint64_t)-count : (uint64_t)count, count < 0, &ok);
    assert_true(ok);
    delete_if_empty(t, k, &h);
    return removed;
}

static void op_trim(kv_txn *t, const kv_key *k, uint64_t drop_head, uint64_t drop_tail)
{
    list_h h;
    if (!open_list(t, k, &h))
        return;
    list_drop(&h, false, drop_head);
    list_drop(&h, true, drop_tail);
    delete_if_empty(t, k, &h);
}

static void begin(const kv_key *k)
{
    txn_begin(&txn);
    txn_lock(&txn, k->shard);
}

static void commit(void) { assert_int_equal(txn_commit(&txn), TXN_OK); }

/* ---- verification ------------------------------------------------------------------ */

/* Checks the list of k against m: both directions, some random seeks, the structure. */
static void verify(const kv_key *k, const model *m)
{
    begin(k);
    list_h h;
    bool exists = open_list(&txn, k, &h);
    if (m->len == 0) {
        assert_false(exists);
        commit();
        return;
    }
    assert_true(exists);
    char err[256];
    if (list_check(arena_off(h.r), err, sizeof err) != 0)
        fail_msg("list_check: %s", err);
    assert_int_equal(h.r->count, m->len);
    list_pos pos;
    assert_true(list_seek(h.r, 0, &pos));
    for (size_t i = 0; i < m->len; i++) {
        list_elem el = list_get(&pos);
        if (!model_eq(m, i, el.p, el.n))
            fail_msg("element %zu differs (len %zu, want %zu)", i, el.n, m->n[i]);
        assert_int_equal(pos.index, i);
        assert_int_equal(list_next(&pos), i + 1 < m->len);
    }
    assert_true(list_seek(h.r, m->len - 1, &pos));
    for (size_t i = m->len; i-- > 0;) {
        list_elem el = list_get(&pos);
        assert_true(model_eq(m, i, el.p, el.n));
        assert_int_equal(list_prev(&pos), i > 0);
    }
    for (int j = 0; j < 50; j++) {
        size_t i = (size_t)random() % m->len;
        assert_true(list_seek(h.r, i, &pos));
        list_elem el = list_get(&pos);
        assert_true(model_eq(m, i, el.p, el.n));
    }
    assert_false(list_seek(h.r, m->len, &pos));
    commit();
}

/* A deterministic value of length n tagged with id. */
static char *make_val(char *buf, size_t n, unsigned id)
{
    for (size_t i = 0; i < n; i++)
        buf[i] = (char)('a' + (id * 7 + i) % 26);
    if (n >= 8)
        snprintf(buf, 8, "%07u", id % 10000000);
    return buf;
}

/* Lengths that cross the varint and block-size boundaries now and then. */
static size_t random_len(void)
{
    static const size_t edge[] = { 0, 1, 126, 127, 128, 129, 8155, 8156, 8157, 8158, 8160, 8161,
                                   9000, 16383, 16384, 20000, 70000 };
    int r = (int)(random() % 100);
    if (r < 3)
        return edge[random() % (sizeof edge / sizeof edge[0])];
    if (r < 10)
        return (size_t)(random() % 2000);
    return (size_t)(random() % 40);
}

/* ---- tests --------------------------------------------------------------------------- */

/* Random pushes and pops at both ends, several per transaction (so a pop and a push
 * meet in one block and one transaction), across many block boundaries. */
static void test_push_pop_both_ends(void **state)
{
    (void)state;
    srandom(1);
    kv_key k = key_of("pp");
    model m = { 0 };
    char *buf = malloc(80000);
    unsigned id = 0;
    for (int round = 0; round < 3000; round++) {
        begin(&k);
        int ops = 1 + (int)(random() % 8);
        for (int j = 0; j < ops; j++) {
            bool tail = random() & 1;
            /* grow in the first half, shrink in the second */
            bool push = random() % 100 < (round < 1500 ? 65 : 35);
            if (push || m.len == 0) {
                size_t n = random_len();
                make_val(buf, n, id++);
                assert_true(op_push(&txn, &k, tail, buf, n));
                model_insert(&m, tail ? m.len : 0, buf, n);
            } else {
                char *v;
                size_t n;
                assert_true(op_pop(&txn, &k, tail, &v, &n));
                size_t at = tail ? m.len - 1 : 0;
                assert_true(model_eq(&m, at, v, n));
                model_erase(&m, at);
                free(v);
            }
        }
        commit();
        if (round % 300 == 299) {
            verify(&k, &m);
            check_store();
        }
    }
    /* drain from both ends */
    while (m.len) {
        begin(&k);
        char *v;
        size_t n;
        bool tail = m.len % 2;
        assert_true(op_pop(&txn, &k, tail, &v, &n));
        assert_true(model_eq(&m, tail ? m.len - 1 : 0, v, n));
        model_erase(&m, tail ? m.len - 1 : 0);
        free(v);
        commit();
    }
    verify(&k, &m);
    assert_int_equal(store_keys(), 0);
    check_store();
    free(buf);
    model_free(&m);
}

/* Pure RPUSH fills blocks to the full size; LPUSH in front works the same way. */
static void test_sequential_pushes_fill_blocks(void **state)
{
    (void)state;
    kv_key k = key_of("seq");
    model m = { 0 };
    char buf[16];
    for (int i = 0; i < 20000; i++) {
        if (i % 500 == 0)
            begin(&k);
        make_val(buf, 16, (unsigned)i);
        assert_true(op_push(&txn, &k, i >= 10000, buf, 16));
        model_insert(&m, i >= 10000 ? m.len : 0, buf, 16);
        if (i % 500 == 499)
            commit();
    }
    verify(&k, &m);
    begin(&k);
    list_h h;
    assert_true(open_list(&txn, &k, &h));
    /* 18 bytes per element, 8160 data bytes per block: 453 elements per full block */
    assert_true(h.r->nblocks <= 20000 / 453 + 4);
    assert_true(h.r->bytes < 20000 * 18 * 103 / 100 + 3 * 8192);
    assert_string_equal(list_encoding(arena_off(h.r)), "quicklist");
    commit();
    check_store();
    model_free(&m);
}

/* Elements larger than a block get blocks of their own, next to small ones. */
static void test_large_elements(void **state)
{
    (void)state;
    kv_key k = key_of("big");
    model m = { 0 };
    static const size_t lens[] = { 5, 8158, 3, 8160, 8161, 1, 20000, 2, 16384, 200000, 4, 9000, 1u << 20, 7 };
    size_t nl = sizeof lens / sizeof lens[0];
    char *buf = malloc(1u << 20);
    for (size_t i = 0; i < nl; i++) {
        begin(&k);
        make_val(buf, lens[i], (unsigned)i);
        assert_true(op_push(&txn, &k, i % 3 != 0, buf, lens[i]));
        model_insert(&m, i % 3 != 0 ? m.len : 0, buf, lens[i]);
        commit();
    }
    verify(&k, &m);
    check_store();
    /* replace a small element by a huge one and back, insert a huge one mid-block */
    begin(&k);
    make_val(buf, 300000, 99);
    op_set(&txn, &k, 2, buf, 300000);
    commit();
    model_erase(&m, 2);
    model_insert(&m, 2, buf, 300000);
    verify(&k, &m);
    begin(&k);
    op_set(&txn, &k, 2, "tiny", 4);
    make_val(buf, 50000, 98);
    assert_int_equal(op_insert(&txn, &k, "tiny", 4, true, buf, 50000), 2);
    commit();
    model_erase(&m, 2);
    model_insert(&m, 2, "tiny", 4);
    model_insert(&m, 3, buf, 50000);
    verify(&k, &m);
    check_store();
    free(buf);
    model_free(&m);
}

/* LINDEX/LSET/LINSERT/LREM/LTRIM at random places of a multi-block list. */
static void test_middle_edits(void **state)
{
    (void)state;
    srandom(7);
    kv_key k = key_of("mid");
    model m = { 0 };
    char buf[4096];
    /* a small pool of repeated values gives LREM and LINSERT something to find */
    begin(&k);
    for (unsigned i = 0; i < 6000; i++) {
        size_t n = i % 5 == 0 ? 6 : 10 + i % 60;
        make_val(buf, n, i % 5 == 0 ? i % 7 : i);
        assert_true(op_push(&txn, &k, true, buf, n));
        model_insert(&m, m.len, buf, n);
    }
    commit();
    verify(&k, &m);
    for (int round = 0; round < 400; round++) {
        int what = (int)(random() % 5);
        begin(&k);
        if (what == 0 && m.len) {                    /* LSET, same or other length */
            size_t i = (size_t)random() % m.len;
            size_t n = random() & 1 ? m.n[i] : (size_t)(random() % 3000);
            make_val(buf, n, 100000u + (unsigned)round);
            op_set(&txn, &k, i, buf, n);
            model_erase(&m, i);
            model_insert(&m, i, buf, n);
        } else if (what == 1) {                      /* LINSERT around a pool value */
            char pivot[8];
            make_val(pivot, 6, (unsigned)(random() % 8));
            bool after = random() & 1;
            size_t n = (size_t)(random() % 200);
            make_val(buf, n, 200000u + (unsigned)round);
            long at = op_insert(&txn, &k, pivot, 6, after, buf, n);
            long want = -1;
            for (size_t i = 0; i < m.len && want < 0; i++)
                if (model_eq(&m, i, pivot, 6))
                    want = (long)i;
            assert_int_equal(at, want);
            if (at >= 0)
                model_insert(&m, (size_t)at + after, buf, n);
        } else if (what == 2) {                      /* LREM with either sign */
            char val[8];
            make_val(val, 6, (unsigned)(random() % 7));
            long count = (long)(random() % 7) - 3;
            uint64_t got = op_rem(&txn, &k, count, val, 6);
            uint64_t want = 0;
            if (count >= 0) {
                for (size_t i = 0; i < m.len && (count == 0 || want < (uint64_t)count);)
                    if (model_eq(&m, i, val, 6)) {
                        model_erase(&m, i);
                        want++;
                    } else {
                        i++;
                    }
            } else {
                for (size_t i = m.len; i-- > 0 && want < (uint64_t)-count;)
                    if (model_eq(&m, i, val, 6)) {
                        model_erase(&m, i);
                        want++;
                    }
            }
            assert_int_equal(got, want);
        } else if (what == 3 && m.len > 100) {       /* LTRIM a little from both ends */
            uint64_t a = (uint64_t)(random() % 40), b = (uint64_t)(random() % 40);
            op_trim(&txn, &k, a, b);
            for (uint64_t i = 0; i < a; i++)
                model_erase(&m, 0);
            for (uint64_t i = 0; i < b; i++)
                model_erase(&m, m.len - 1);
        } else if (m.len) {                          /* LINDEX */
            size_t i = (size_t)random() % m.len;
            list_h h;
            list_pos pos;
            assert_true(open_list(&txn, &k, &h));
            assert_true(list_seek(h.r, i, &pos));
            list_elem el = list_get(&pos);
            assert_true(model_eq(&m, i, el.p, el.n));
        }
        commit();
        if (round % 50 == 49) {
            verify(&k, &m);
            check_store();
        }
    }
    /* LREM of everything that is left of one value, then LTRIM to an empty range */
    begin(&k);
    op_rem(&txn, &k, 0, "0000003", 6);
    commit();
    for (size_t i = 0; i < m.len;)
        if (model_eq(&m, i, "0000003", 6))
            model_erase(&m, i);
        else
            i++;
    verify(&k, &m);
    begin(&k);
    op_trim(&txn, &k, m.len, 0);
    commit();
    model_free(&m);
    verify(&k, &m);
    assert_int_equal(store_keys(), 0);
    check_store();
}

/* LREM that empties most blocks leaves merged, not scattered tiny, blocks. */
static void test_lrem_merges_blocks(void **state)
{
    (void)state;
    kv_key k = key_of("merge");
    model m = { 0 };
    char buf[32];
    begin(&k);
    for (unsigned i = 0; i < 20000; i++) {
        const char *v = i % 50 == 0 ? make_val(buf, 20, i) : "x";
        size_t n = i % 50 == 0 ? 20 : 1;
        assert_true(op_push(&txn, &k, true, v, n));
        if (i % 50 == 0)
            model_insert(&m, m.len, buf, 20);
    }
    commit();
    begin(&k);
    assert_int_equal(op_rem(&txn, &k, 0, "x", 1), 20000 - 400);
    list_h h;
    assert_true(open_list(&txn, &k, &h));
    assert_true(h.r->nblocks <= 4);
    commit();
    verify(&k, &m);
    check_store();
    model_free(&m);
}

/* The namespace's bytes are exactly the entry plus every block, in any namespace. */
static void test_accounting(void **state)
{
    (void)state;
    uint64_t base = store_used_memory();
    kv_key a = key_of("acct/l"), b = key_of("l2");
    char buf[3000];
    for (int i = 0; i < 3000; i++) {
        begin(&a);
        make_val(buf, (size_t)(i % 3000), (unsigned)i);
        assert_true(op_push(&txn, &a, i & 1, buf, (size_t)(i % 3000)));
        commit();
    }
    int ns = ns_find("acct", 4);
    assert_true(ns > 0);
    begin(&a);
    list_h h;
    assert_true(open_list(&txn, &a, &h));
    kv_entry *e = store_find(&txn, &a);
    assert_int_equal(store_ns_bytes((uint32_t)ns), entry_footprint(e) + h.r->bytes);
    /* a copy into another shard is charged there */
    commit();
    uint32_t ids[2] = { a.shard, b.shard };
    txn_begin(&txn);
    txn_lock_many(&txn, ids, 2);
    assert_int_equal(store_copy(&txn, store_find(&txn, &a), &b, false), STORE_OK);
    commit();
    check_store();
    kv_key keys[2] = { a, b };
    for (int j = 0; j < 2; j++) {
        begin(&keys[j]);
        assert_int_equal(store_delete(&txn, &keys[j]), 1);
        commit();
    }
    /* big lists are freed lazily: drive the queues to the end */
    for (uint32_t s = 0; s < SHARDS; s++) {
        for (;;) {
            txn_begin(&txn);
            txn_lock(&txn, s);
            bool more = store_lazyfree_step(&txn, s, 64);
            commit();
            if (!more)
                break;
        }
    }
    assert_int_equal(store_ns_bytes((uint32_t)ns), 0);
    /* only the keys' minimal bucket arrays remain */
    assert_true(store_used_memory() <= base + 2 * 64);
    check_store();
}

/* Deleting a 100k-element list: freeing happens in steps of at most `budget` blocks,
 * each step returns memory, and the checker passes between steps. */
static void test_free_step_incremental(void **state)
{
    (void)state;
    uint64_t base = store_used_memory();
    kv_key k = key_of("huge");
    char buf[16];
    for (unsigned i = 0; i < 100000; i++) {
        if (i % 5000 == 0)
            begin(&k);
        make_val(buf, 16, i);
        assert_true(op_push(&txn, &k, true, buf, 16));
        if (i % 5000 == 4999)
            commit();
    }
    begin(&k);
    list_h h;
    assert_true(open_list(&txn, &k, &h));
    uint64_t nblocks = h.r->nblocks;
    assert_true(nblocks > 200);
    assert_int_equal(store_delete(&txn, &k), 1);      /* queued: the delete is O(1) */
    commit();
    shard *sh = shard_at(k.shard);
    assert_true(sh->lazyfree != 0);
    check_store();
    unsigned steps = 0;
    uint64_t before = sh->lazy_bytes;
    for (;;) {
        txn_begin(&txn);
        txn_lock(&txn, k.shard);
        bool more = store_lazyfree_step(&txn, k.shard, 16);
        commit();
        steps++;
        uint64_t now = sh->lazy_bytes;
        assert_true(before - now <= 16 * LIST_BLOCK_ALLOC_MAX + 4096);
        before = now;
        if (steps % 50 == 0)
            check_store();
        if (!more)
            break;
    }
    assert_true(steps >= nblocks / 16);
    assert_int_equal(sh->lazy_bytes, 0);
    assert_true(store_used_memory() <= base + 64);
    check_store();
}

/* ---- crash atomicity ----------------------------------------------------------------- */

#define CRASH_A "crash/a"

/* The second list of the crash test: a key on another shard than CRASH_A. The hash
 * seed is random per arena, so the name is chosen at run time (children inherit the
 * arena, hence the same choice). */
static const char *crash_b_name(void)
{
    static char name[32];
    if (!name[0]) {
        kv_key a = key_of(CRASH_A);
        for (int i = 0;; i++) {
            snprintf(name, sizeof name, "other/b%d", i);
            if (key_of(name).shard != a.shard)
                break;
        }
    }
    return name;
}


/* Snapshot of a list as a model (empty when missing). */
static void snapshot(kv_txn *t, const kv_key *k, model *m)
{
    list_h h;
    list_pos pos;
    memset(m, 0, sizeof *m);
    if (!open_list(t, k, &h))
        return;
    for (bool more = list_seek(h.r, 0, &pos); more; more = list_next(&pos)) {
        list_elem el = list_get(&pos);
        model_insert(m, m->len, el.p, el.n);
    }
}

static bool models_equal(const model *x, const model *y)
{
    if (x->len != y->len)
        return false;
    for (size_t i = 0; i < x->len; i++)
        if (!model_eq(x, i, y->v[i], y->n[i]))
            return false;
    return true;
}

/* Elements in the tail block of h. */
static uint64_t blk_count_tail(list_h *h)
{
    return ((list_block *)arena_ptr(h->r->tail))->count;
}

/* One transaction over two lists in two shards: LINSERT, LREM, LSET with another
 * length, an LMOVE-like pop and push, a pop and a push at the same end of the same
 * block, LTRIM and a few pushes that add blocks. Leaves the transaction open when
 * keep_open (the caller inspects, then aborts). */
static void mutate(kv_txn *t, int round, bool keep_open)
{
    kv_key a = key_of(CRASH_A), b = key_of(crash_b_name());
    uint32_t ids[2] = { a.shard, b.shard };
    char buf[600];
    txn_begin(t);
    txn_lock_many(t, ids, 2);
    snprintf(buf, sizeof buf, "ins-%d", round);
    op_insert(t, &a, "pivot", 5, round & 1, buf, strlen(buf));
    op_rem(t, &a, round % 2 ? -2 : 2, "dup", 3);
    list_h h;
    list_pos pos;
    if (open_list(t, &a, &h) && list_seek(h.r, h.r->count / 3, &pos)) {
        memset(buf, 'S', 300);
        list_set(&h, &pos, buf, 100 + (size_t)(round % 200));
    }
    char *v;
    size_t n;
    if (op_pop(t, &a, true, &v, &n)) {               /* LMOVE a b RIGHT LEFT */
        op_push(t, &b, false, v, n);
        free(v);
    }
    if (op_pop(t, &a, false, &v, &n)) {              /* the freed bytes are reused: */
        snprintf(buf, sizeof buf, "%0*d", (int)(n > 2 ? n - 2 : 1), round);
        op_push(t, &a, false, buf, strlen(buf));     /* they must be in the undo log */
        free(v);
    }
    op_trim(t, &b, 1, 0);
    if (round >= 2) {
        /* heavier: LREM across every block (with merges), an insert that splits a
         * full block, LTRIM of several whole blocks, a pop of a whole end block */
        op_rem(t, &a, 0, "dup", 3);
        memset(buf, 'I', 500);
        op_insert(t, &a, "pivot", 5, false, buf, 500);
        op_trim(t, &a, 700, 300);
        if (open_list(t, &a, &h))
            list_drop(&h, true, blk_count_tail(&h));
    }
    for (int i = 0; i < 30; i++) {
        memset(buf, 'p', 500);
        snprintf(buf, 20, "push-%d-%d", round, i);
        op_push(t, &a, true, buf, 500);
    }
    if (!keep_open)
        txn_commit(t);
}

/* Builds the two lists: a is multi-block with pivots and duplicates spread out. */
static void crash_setup(void)
{
    kv_key a = key_of(CRASH_A), b = key_of(crash_b_name());
    assert_true(a.shard != b.shard);
    char buf[64];
    begin(&a);
    for (int i = 0; i < 6000; i++) {
        const char *v = i % 100 == 50 ? "pivot" : i % 37 == 0 ? "dup" : buf;
        if (v == buf)
            snprintf(buf, sizeof buf, "element-%d-%.*s", i, i % 30, "abcdefghijklmnopqrstuvwxyz0123456789");
        assert_true(op_push(&txn, &a, true, v, strlen(v)));
    }
    commit();
    begin(&b);
    for (int i = 0; i < 20; i++) {
        snprintf(buf, sizeof buf, "b-%d", i);
        assert_true(op_push(&txn, &b, true, buf, strlen(buf)));
    }
    commit();
}

/* The state of both lists, read in one transaction. */
static void read_both(model *ma, model *mb)
{
    kv_key a = key_of(CRASH_A), b = key_of(crash_b_name());
    uint32_t ids[2] = { a.shard, b.shard };
    txn_begin(&txn);
    txn_lock_many(&txn, ids, 2);
    snapshot(&txn, &a, ma);
    snapshot(&txn, &b, mb);
    char err[256];
    list_h h;
    if (open_list(&txn, &a, &h) && list_check(arena_off(h.r), err, sizeof err) != 0)
        fail_msg("list a: %s", err);
    if (open_list(&txn, &b, &h) && list_check(arena_off(h.r), err, sizeof err) != 0)
        fail_msg("list b: %s", err);
    commit();
}

static void test_crash_at_every_step(void **state)
{
    (void)state;
    crash_setup();
    int rolled_back = 0;
    for (int round = 0; round < 4; round++) {
        model before_a, before_b, after_a, after_b;
        read_both(&before_a, &before_b);
        /* the expected result: run the mutation, look, roll it back */
        mutate(&txn, round, true);
        kv_key a = key_of(CRASH_A), b = key_of(crash_b_name());
        snapshot(&txn, &a, &after_a);
        snapshot(&txn, &b, &after_b);
        txn_abort(&txn);
        model now_a, now_b;
        read_both(&now_a, &now_b);
        assert_true(models_equal(&now_a, &before_a) && models_equal(&now_b, &before_b));
        model_free(&now_a);
        model_free(&now_b);
        for (long k = 1; k < 1000000; k++) {
            pid_t pid = fork();
            if (pid == 0) {
                kv_txn child;
                txn_init(&child, 1);
                txn_kill_after_records = k;
                mutate(&child, round, false);
                _exit(0);
            }
            int st;
            waitpid(pid, &st, 0);
            bool finished = WIFEXITED(st);
            lane_sweep(1);
            read_both(&now_a, &now_b);
            bool is_before = models_equal(&now_a, &before_a) && models_equal(&now_b, &before_b);
            bool is_after = models_equal(&now_a, &after_a) && models_equal(&now_b, &after_b);
            if (!is_before && !is_after)
                fail_msg("round %d: torn state after a kill at undo record %ld", round, k);
            assert_true(finished ? is_after : is_before);
            model_free(&now_a);
            model_free(&now_b);
            if (k % 64 == 1)
                check_store();
            assert_int_equal(lanes_busy(), 0);
            if (finished) {
                print_message("round %d: %ld undo records, every kill rolled back\n", round, k - 1);
                break;
            }
            rolled_back++;
        }
        check_store();
        model_free(&before_a);
        model_free(&before_b);
        model_free(&after_a);
        model_free(&after_b);
    }
    assert_true(rolled_back > 60);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_push_pop_both_ends, setup),
        cmocka_unit_test_setup(test_sequential_pushes_fill_blocks, setup),
        cmocka_unit_test_setup(test_large_elements, setup),
        cmocka_unit_test_setup(test_middle_edits, setup),
        cmocka_unit_test_setup(test_lrem_merges_blocks, setup),
        cmocka_unit_test_setup(test_accounting, setup),
        cmocka_unit_test_setup(test_free_step_incremental, setup),
        cmocka_unit_test_setup(test_crash_at_every_step, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
