/* unit_htable.c - the hash table core (htable.c) on a node type of its own whose chain
 * link is not the first field: incremental rehash under inserts and deletes, SCAN's
 * guarantee while the table grows and shrinks, random picks reaching every node (in
 * a rehash and in a sparse table), bucket walks that unlink, bounded freeing with
 * exact byte counts, and the checker catching each kind of corruption. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "harness_arena.h"

#include "kvns/alloc.h"
#include "kvns/htable.h"
#include "kvns/shard.h"
#include "kvns/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SHARDS 2
#define S      1

/* A test node: a number as its key, the link after it. */
typedef struct tnode {
    uint32_t key;
    aref     next;
} tnode;

/* The owner: the table and the byte counter the type points at. */
typedef struct towner {
    htable   ht;
    uint64_t bytes;
} towner;

static kv_txn txn;
static aoff owner_off;
static uint64_t base_mem;

static towner *O(void) { return arena_ptr(owner_off); }

static const char *tkey(const void *node, size_t *len)
{
    *len = sizeof(uint32_t);
    return (const char *)&((const tnode *)node)->key;
}

static uint64_t thash(const void *key, size_t len) { return kv_hash_bytes(key, len, 12345); }

static size_t tfree(kv_txn *t, uint32_t s, void *node)
{
    shard_free(t, s, arena_off(node), sizeof(tnode));
    return alloc_real_size(sizeof(tnode));
}

static const htable_type ttype = {
    .next_off = offsetof(tnode, next),
    .min_size = 4,
    .shrink_ratio = 8,
    .bytes_off = (int32_t)(offsetof(towner, bytes) - offsetof(towner, ht)),
    .key = tkey,
    .hash = thash,
    .node_free = tfree,
};

static uint64_t hash_of(uint32_t key) { return thash(&key, sizeof key); }

static int setup(void **state)
{
    arena_fixture_reset(&txn, SHARDS, 256u << 20);
    base_mem = shard_at(S)->mem_used;
    txn_begin(&txn);
    txn_lock(&txn, S);
    owner_off = shard_alloc(&txn, S, sizeof(towner));
    assert_true(owner_off != 0);
    htable_init(&O()->ht);
    O()->bytes = 0;
    assert_int_equal(txn_commit(&txn), TXN_OK);
    return 0;
}

static void begin(void)
{
    txn_begin(&txn);
    txn_lock(&txn, S);
}

static void commit(void) { assert_int_equal(txn_commit(&txn), TXN_OK); }

/* The node holding key and the link pointing at it (NULL when absent). */
static tnode *find(uint32_t key, aref **link, int *in_table)
{
    for (int tbl = 0; tbl <= htable_last_table(&O()->ht); tbl++) {
        aref *l = htable_chain(&O()->ht, tbl, hash_of(key));
        if (!l)
            continue;
        for (; *l; l = &((tnode *)ref_ptr(*l))->next) {
            tnode *n = ref_ptr(*l);
            if (n->key == key) {
                if (link)
                    *link = l;
                if (in_table)
                    *in_table = tbl;
                return n;
            }
        }
    }
    return NULL;
}

/* One owner mutation inserting key, as adict_insert does it. */
static void ins(uint32_t key)
{
    begin();
    htable_rehash_step(&txn, S, &ttype, &O()->ht, 1);
    htable_resize_if_needed(&txn, S, &ttype, &O()->ht, htable_len(&O()->ht) + 1);
    aoff off = shard_alloc(&txn, S, sizeof(tnode));
    assert_true(off != 0);
    tnode *n = arena_ptr(off);
    n->key = key;
    htable_insert(&txn, S, &ttype, &O()->ht, n, hash_of(key));
    tx_add64(&txn, S, &O()->bytes, (int64_t)alloc_real_size(sizeof(tnode)));
    commit();
}

/* One owner mutation deleting key; returns whether it was there. */
static bool del(uint32_t key)
{
    begin();
    htable_rehash_step(&txn, S, &ttype, &O()->ht, 1);
    aref *link;
    int tbl;
    tnode *n = find(key, &link, &tbl);
    if (n) {
        htable_unlink(&txn, S, &ttype, &O()->ht, link, n, tbl);
        tx_add64(&txn, S, &O()->bytes, -(int64_t)tfree(&txn, S, n));
        htable_resize_if_needed(&txn, S, &ttype, &O()->ht, htable_len(&O()->ht));
    }
    commit();
    return n != NULL;
}

/* Structure, byte counter and the shard's memory agree. */
static void check(void)
{
    char err[256] = "";
    if (htable_check(&O()->ht, &ttype, "test", NULL, NULL, err, sizeof err))
        fail_msg("htable_check: %s", err);
    assert_int_equal(O()->bytes, htable_table_bytes(&O()->ht) +
                                     htable_len(&O()->ht) * alloc_real_size(sizeof(tnode)));
    assert_int_equal(shard_at(S)->mem_used, base_mem + alloc_real_size(sizeof(towner)) + O()->bytes);
}

/* Frees everything in steps of budget nodes and checks every byte came back. */
static void free_all(unsigned budget)
{
    bool done = false;
    while (!done) {
        uint64_t before = htable_len(&O()->ht);
        begin();
        done = htable_free_step(&txn, S, &ttype, &O()->ht, budget);
        commit();
        assert_true(before - htable_len(&O()->ht) <= budget);
    }
    assert_int_equal(O()->bytes, 0);
    assert_int_equal(htable_len(&O()->ht), 0);
    assert_false(htable_rehashing(&O()->ht));
    assert_int_equal(shard_at(S)->mem_used, base_mem + alloc_real_size(sizeof(towner)));
}

static void test_rehash_under_inserts_and_deletes(void **state)
{
    (void)state;
    const uint32_t n = 5000;
    unsigned rehashing_seen = 0;
    for (uint32_t i = 0; i < n; i++) {
        ins(i);
        if (htable_rehashing(&O()->ht)) {
            rehashing_seen++;
            assert_true(O()->ht.size[1] == 2 * O()->ht.size[0]);
        }
        assert_true(htable_len(&O()->ht) <= O()->ht.size[htable_last_table(&O()->ht)]);
        if (i % 97 == 0) {
            check();
            for (uint32_t j = 0; j <= i; j += 13)
                assert_non_null(find(j, NULL, NULL));
        }
    }
    assert_true(rehashing_seen > 0);
    assert_int_equal(htable_len(&O()->ht), n);
    check();
    for (uint32_t i = 0; i < n; i++)
        assert_non_null(find(i, NULL, NULL));
    /* deleting all but 10 shrinks the table back, keeping the rest findable */
    uint64_t peak = O()->ht.size[0];
    for (uint32_t i = 10; i < n; i++) {
        assert_true(del(i));
        if (i % 101 == 0) {
            check();
            for (uint32_t j = 0; j < 10; j++)
                assert_non_null(find(j, NULL, NULL));
        }
    }
    assert_false(del(n + 1));
    while (htable_rehashing(&O()->ht)) {
        begin();
        htable_rehash_step(&txn, S, &ttype, &O()->ht, 4);
        commit();
    }
    assert_true(O()->ht.size[0] <= 64 && O()->ht.size[0] < peak);
    for (uint32_t j = 0; j < 10; j++)
        assert_non_null(find(j, NULL, NULL));
    assert_null(find(10, NULL, NULL));
    check();
    free_all(1000);
}

/* htable_scan visitor: counts each key seen. */
static void scan_count(void *node, void *ctx)
{
    uint8_t *seen = ctx;
    uint32_t k = ((tnode *)node)->key;
    if (seen[k] < 255)
        seen[k]++;
}

static void test_scan_while_growing_and_shrinking(void **state)
{
    (void)state;
    enum { FIRST = 1000, MAX = 12000 };
    for (uint32_t i = 0; i < FIRST; i++)
        ins(i);
    uint8_t *seen = calloc(MAX, 1);
    uint32_t added = FIRST;
    bool grew_mid_scan = false;
    uint64_t cur = 0, size0 = O()->ht.size[0];
    do {
        cur = htable_scan(&O()->ht, &ttype, cur, scan_count, seen);
        for (int j = 0; j < 8 && added < MAX; j++)
            ins(added++);
        grew_mid_scan |= O()->ht.size[0] > size0;
    } while (cur != 0);
    assert_true(grew_mid_scan);
    for (uint32_t i = 0; i < FIRST; i++)
        if (!seen[i])
            fail_msg("key %u missed by the growing scan", i);
    memset(seen, 0, MAX);
    uint32_t next_del = 500;
    size0 = O()->ht.size[0];
    bool shrank_mid_scan = false;
    cur = 0;
    do {
        cur = htable_scan(&O()->ht, &ttype, cur, scan_count, seen);
        for (int j = 0; j < 40 && next_del < added; j++)
            assert_true(del(next_del++));
        shrank_mid_scan |= htable_rehashing(&O()->ht) && O()->ht.size[1] < size0;
    } while (cur != 0);
    assert_true(shrank_mid_scan);
    for (uint32_t i = 0; i < 500; i++)
        if (!seen[i])
            fail_msg("key %u missed by the shrinking scan", i);
    /* a table that holds still: each key exactly once, deleted keys never */
    while (htable_rehashing(&O()->ht)) {
        begin();
        htable_rehash_step(&txn, S, &ttype, &O()->ht, 16);
        commit();
    }
    memset(seen, 0, MAX);
    cur = 0;
    do
        cur = htable_scan(&O()->ht, &ttype, cur, scan_count, seen);
    while (cur != 0);
    for (uint32_t i = 0; i < MAX; i++)
        assert_int_equal(seen[i], i < 500 ? 1 : 0);
    free(seen);
    check();
    free_all(7);
}

static void test_random_covers_every_node(void **state)
{
    (void)state;
    /* stop inserting right after a rehash started: nodes sit in both tables */
    uint32_t n = 0;
    while (!(n >= 100 && htable_rehashing(&O()->ht)))
        ins(n++);
    assert_true(O()->ht.used[0] > 0 && O()->ht.used[1] > 0);
    uint32_t *hits = calloc(n, sizeof *hits);
    for (uint32_t i = 0; i < n * 200; i++) {
        tnode *x = htable_random(&O()->ht, &ttype);
        assert_non_null(x);
        assert_true(x->key < n);
        hits[x->key]++;
    }
    for (uint32_t i = 0; i < n; i++)
        if (!hits[i])
            fail_msg("random never picked node %u of %u", i, n);
    free(hits);
    free_all(1u << 30);
    assert_null(htable_random(&O()->ht, &ttype));

    /* a sparse fresh table (4096 buckets, one node) still yields its node */
    htable fresh;
    htable_init(&fresh);
    begin();
    static const htable_type plain = {
        .next_off = offsetof(tnode, next), .min_size = 4, .shrink_ratio = 8,
        .key = tkey, .hash = thash,
    };
    assert_true(htable_presize_fresh(&txn, S, &plain, &fresh, 4096));
    aoff off = shard_alloc(&txn, S, sizeof(tnode));
    tnode *only = arena_ptr(off);
    only->key = 77;
    htable_insert_fresh(&plain, &fresh, only, hash_of(77));
    assert_int_equal(fresh.size[0], 4096);
    for (int i = 0; i < 20; i++)
        assert_ptr_equal(htable_random(&fresh, &plain), only);
    shard_free(&txn, S, off, sizeof(tnode));
    shard_free(&txn, S, fresh.table[0], fresh.size[0] * sizeof(aref));
    commit();
}

/* htable_walk visitor: unlinks odd keys of a not-rehashing table. */
static int unlink_odd(aref *link, void *node, void *ctx)
{
    tnode *n = node;
    unsigned *removed = ctx;
    if (!(n->key & 1))
        return HTABLE_NEXT;
    htable_unlink(&txn, S, &ttype, &O()->ht, link, n, 0);
    tx_add64(&txn, S, &O()->bytes, -(int64_t)tfree(&txn, S, n));
    ++*removed;
    return HTABLE_UNLINKED;
}

static void test_walk_unlinks_and_wraps(void **state)
{
    (void)state;
    for (uint32_t i = 0; i < 64; i++)
        ins(i);
    while (htable_rehashing(&O()->ht)) {
        begin();
        htable_rehash_step(&txn, S, &ttype, &O()->ht, 16);
        commit();
    }
    uint64_t size = O()->ht.size[0];
    unsigned removed = 0;
    /* half the table from its last bucket on: wraps to bucket 0 */
    begin();
    uint64_t next = htable_walk(&O()->ht, &ttype, 0, size - 1, (unsigned)(size / 2), unlink_odd, &removed);
    commit();
    assert_int_equal(next, size / 2 - 1);
    assert_true(removed > 0 && removed < 32);
    begin();
    htable_walk(&O()->ht, &ttype, 0, next, (unsigned)(size / 2), unlink_odd, &removed);
    commit();
    assert_int_equal(removed, 32);
    for (uint32_t i = 0; i < 64; i++)
        assert_true((find(i, NULL, NULL) != NULL) == !(i & 1));
    check();
    free_all(5);
}

/* Asserts htable_check fails with a message containing what. */
static void expect_corrupt(const char *what)
{
    char err[256] = "";
    assert_int_equal(htable_check(&O()->ht, &ttype, "test", NULL, NULL, err, sizeof err), -1);
    if (!strstr(err, what))
        fail_msg("checker said '%s', expected '%s'", err, what);
}

static void test_check_detects_corruption(void **state)
{
    (void)state;
    for (uint32_t i = 0; i < 40; i++)
        ins(i);
    while (htable_rehashing(&O()->ht)) {
        begin();
        htable_rehash_step(&txn, S, &ttype, &O()->ht, 16);
        commit();
    }
    check();
    htable *ht = &O()->ht;
    /* counters */
    ht->used[0]++;
    expect_corrupt("holds 40 nodes, used says 41");
    ht->used[0] -= 2;
    expect_corrupt("holds more nodes than used=39");
    ht->used[0]++;
    /* size */
    ht->size[0]--;
    expect_corrupt("not a power of two");
    ht->size[0]++;
    /* a node moved to a bucket its hash does not pick */
    aref *link;
    tnode *n = find(7, &link, NULL);
    uint64_t b = hash_of(7) & (ht->size[0] - 1), other = (b + 1) & (ht->size[0] - 1);
    *link = n->next;
    n->next = *htable_bucket(ht, 0, other);
    *htable_bucket(ht, 0, other) = ptr_ref(n);
    expect_corrupt("in the wrong bucket");
    *htable_bucket(ht, 0, other) = n->next;
    n->next = *htable_bucket(ht, 0, b);
    *htable_bucket(ht, 0, b) = ptr_ref(n);
    check();
    /* a cycle */
    aref saved = n->next;
    n->next = ptr_ref(n);
    expect_corrupt("holds more nodes than used=40");
    n->next = saved;
    /* a ref outside the heap */
    n->next = 1;
    expect_corrupt("bad node ref");
    n->next = saved;
    /* a second table without a rehash */
    ht->size[1] = 8;
    expect_corrupt("second table but no rehash");
    ht->size[1] = 0;
    check();
    /* during a rehash: a bucket below rehash_idx must be empty */
    uint32_t i = 40;
    while (!htable_rehashing(ht))
        ins(i++);
    uint64_t first_full = (uint64_t)ht->rehash_idx;
    while (!*htable_bucket(ht, 0, first_full))
        first_full++;
    int64_t idx = ht->rehash_idx;
    ht->rehash_idx = (int64_t)first_full + 1;
    expect_corrupt("moved bucket");
    ht->rehash_idx = idx;
    check();
    free_all(3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_rehash_under_inserts_and_deletes, setup),
        cmocka_unit_test_setup(test_scan_while_growing_and_shrinking, setup),
        cmocka_unit_test_setup(test_random_covers_every_node, setup),
        cmocka_unit_test_setup(test_walk_unlinks_and_wraps, setup),
        cmocka_unit_test_setup(test_check_detects_corruption, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
