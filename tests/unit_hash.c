/* unit_hash.c - the HASH type on an arena: listpack operations and order, the
 * conversions to a hashtable (by count, by field or value length, forced) that never
 * go back, hashtable operations at scale, byte accounting checked by store_check,
 * deletion (immediate and lazy), COPY across shards, and crash atomicity of every kind
 * of mutation (a child killed at each undo record, then recovery and the checkers). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "harness_arena.h"

#include "kvns/alloc.h"
#include "kvns/hash.h"
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

static kv_txn txn;

static int setup(void **state)
{
    arena_fixture_reset(&txn, SHARDS, 256u << 20);
    return 0;
}

static void check_store(void) { arena_fixture_check(&txn); }

/* The hash object of key, or 0 (inside an open transaction). */
static aoff obj_of(kv_txn *t, const kv_key *k, kv_entry **out)
{
    kv_entry *e = store_find(t, k);
    if (out)
        *out = e;
    if (!e)
        return 0;
    assert_int_equal(e->type, KV_HASH);
    return entry_obj(e);
}

/* HSET-like: sets pairs f[i] = v[i] (NULL-terminated arrays) in key, in transaction t
 * (committed by the caller). Returns the number of new fields. */
static long long tset(kv_txn *t, const char *key, const char *const *fv, bool nx, bool force)
{
    kv_key k;
    key_init(&k, key, strlen(key));
    size_t n = 0;
    while (fv[2 * n])
        n++;
    hs_str *kv = malloc(2 * n * sizeof *kv);
    for (size_t i = 0; i < 2 * n; i++)
        kv[i] = (hs_str){ fv[i], strlen(fv[i]) };
    kv_entry *e;
    aoff obj = obj_of(t, &k, &e);
    long long added;
    if (obj) {
        added = hash_set(t, k.shard, e, obj, kv, n, nx, force);
    } else {
        obj = hash_new(t, k.shard);
        added = hash_set(t, k.shard, NULL, obj, kv, n, nx, force);
        if (added >= 0)
            assert_int_equal(store_put_object(t, &k, KV_HASH, obj, -1, NULL), STORE_OK);
    }
    free(kv);
    return added;
}

static long long hset(const char *key, const char *const *fv)
{
    kv_key k;
    key_init(&k, key, strlen(key));
    txn_begin(&txn);
    txn_lock(&txn, k.shard);
    long long n = tset(&txn, key, fv, false, false);
    assert_int_equal(txn_commit(&txn), TXN_OK);
    return n;
}

/* Deletes fields (NULL-terminated) in t; deletes the key when the hash empties. */
static long long tdel(kv_txn *t, const char *key, const char *const *f)
{
    kv_key k;
    key_init(&k, key, strlen(key));
    kv_entry *e;
    aoff obj = obj_of(t, &k, &e);
    if (!obj)
        return 0;
    size_t n = 0;
    while (f[n])
        n++;
    hs_str *fs = malloc((n + 1) * sizeof *fs);
    for (size_t i = 0; i < n; i++)
        fs[i] = (hs_str){ f[i], strlen(f[i]) };
    long long r = hash_del(t, k.shard, e, obj, fs, n);
    free(fs);
    if (hash_len(obj) == 0)
        store_delete(t, &k);
    return r;
}

static long long hdel(const char *key, const char *const *f)
{
    kv_key k;
    key_init(&k, key, strlen(key));
    txn_begin(&txn);
    txn_lock(&txn, k.shard);
    long long n = tdel(&txn, key, f);
    assert_int_equal(txn_commit(&txn), TXN_OK);
    return n;
}

/* Runs fn(obj) on key's hash under its lock (obj 0 when missing). */
static aoff peek_begin(const char *key)
{
    kv_key k;
    key_init(&k, key, strlen(key));
    txn_begin(&txn);
    txn_lock(&txn, k.shard);
    return obj_of(&txn, &k, NULL);
}

static void peek_end(void) { assert_int_equal(txn_commit(&txn), TXN_OK); }

static void expect_field(const char *key, const char *f, const char *v)
{
    aoff obj = peek_begin(key);
    hs_str got;
    bool present = obj && hash_get(obj, f, strlen(f), &got);
    if (!v) {
        assert_false(present);
    } else {
        assert_true(present);
        assert_int_equal(got.len, strlen(v));
        assert_memory_equal(got.p, v, got.len);
    }
    peek_end();
}

static const char *encoding(const char *key)
{
    aoff obj = peek_begin(key);
    const char *enc = obj ? hash_encoding(obj) : "none";
    char err[256];
    if (obj && hash_check(obj, err, sizeof err))
        fail_msg("hash_check: %s", err);
    peek_end();
    return enc;
}

struct snap {
    char *buf;
    size_t len, cap;
    size_t n;
};

static void snap_pair(hs_str f, hs_str v, void *arg)
{
    struct snap *s = arg;
    size_t need = s->len + f.len + v.len + 3;
    if (need > s->cap) {
        s->cap = need * 2;
        s->buf = realloc(s->buf, s->cap);
    }
    memcpy(s->buf + s->len, f.p, f.len);
    s->len += f.len;
    s->buf[s->len++] = '=';
    memcpy(s->buf + s->len, v.p, v.len);
    s->len += v.len;
    s->buf[s->len++] = '\n';
    s->buf[s->len] = 0;
    s->n++;
}

static int cmp_line(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The hash as sorted "f=v" lines (malloc'd), "" for a missing key; order_kept gets the
 * unsorted listing (insertion order for a listpack). */
static char *snapshot(const char *key, char **order_kept)
{
    aoff obj = peek_begin(key);
    struct snap s = { calloc(1, 1), 0, 1, 0 };
    if (obj)
        hash_foreach(obj, snap_pair, &s);
    peek_end();
    if (order_kept)
        *order_kept = strdup(s.buf);
    char **lines = malloc((s.n + 1) * sizeof *lines);
    size_t n = 0;
    for (char *p = strtok(s.buf, "\n"); p; p = strtok(NULL, "\n"))
        lines[n++] = p;
    qsort(lines, n, sizeof *lines, cmp_line);
    char *out = calloc(1, s.len + 1);
    for (size_t i = 0; i < n; i++) {
        strcat(out, lines[i]);
        strcat(out, "\n");
    }
    free(lines);
    free(s.buf);
    return out;
}

/* ---- tests ------------------------------------------------------------------------- */

static void test_listpack_basics_and_order(void **state)
{
    (void)state;
    const char *a[] = { "f1", "v1", "f2", "v2", "f3", "v3", NULL };
    assert_int_equal(hset("h", a), 3);
    const char *b[] = { "f2", "changed", "f4", "v4", "f4", "v4b", NULL };
    assert_int_equal(hset("h", b), 1);              /* f4 twice: the later value wins */
    assert_string_equal(encoding("h"), "listpack");
    char *order;
    char *sorted = snapshot("h", &order);
    assert_string_equal(order, "f1=v1\nf2=changed\nf3=v3\nf4=v4b\n");
    free(order);
    free(sorted);
    expect_field("h", "f2", "changed");
    expect_field("h", "nope", NULL);
    const char *d[] = { "f1", "zz", "f3", NULL };
    assert_int_equal(hdel("h", d), 2);
    sorted = snapshot("h", &order);
    assert_string_equal(order, "f2=changed\nf4=v4b\n");
    free(order);
    free(sorted);
    /* NX keeps existing values */
    kv_key k;
    key_init(&k, "h", 1);
    txn_begin(&txn);
    txn_lock(&txn, k.shard);
    const char *nx[] = { "f2", "no", "f5", "yes", NULL };
    assert_int_equal(tset(&txn, "h", nx, true, false), 1);
    assert_int_equal(txn_commit(&txn), TXN_OK);
    expect_field("h", "f2", "changed");
    expect_field("h", "f5", "yes");
    /* empty field and value are fine */
    const char *e[] = { "", "", NULL };
    assert_int_equal(hset("h", e), 1);
    expect_field("h", "", "");
    check_store();
    const char *all[] = { "f2", "f4", "f5", "", NULL };
    assert_int_equal(hdel("h", all), 4);
    assert_string_equal(encoding("h"), "none");    /* the empty hash was deleted */
    check_store();
}

static void test_conversion_by_count_never_back(void **state)
{
    (void)state;
    char f[32], v[32];
    for (int i = 0; i < 128; i++) {
        snprintf(f, sizeof f, "field%d", i);
        snprintf(v, sizeof v, "%d", i);
        const char *p[] = { f, v, NULL };
        assert_int_equal(hset("h", p), 1);
    }
    assert_string_equal(encoding("h"), "listpack");
    check_store();
    const char *p[] = { "field0", "again", NULL };
    assert_int_equal(hset("h", p), 0);             /* an update does not convert */
    assert_string_equal(encoding("h"), "listpack");
    const char *q[] = { "one-more", "x", NULL };
    assert_int_equal(hset("h", q), 1);
    assert_string_equal(encoding("h"), "hashtable");
    check_store();
    for (int i = 0; i < 128; i++) {
        snprintf(f, sizeof f, "field%d", i);
        snprintf(v, sizeof v, "%d", i);
        expect_field("h", f, i ? v : "again");
    }
    for (int i = 0; i < 120; i++) {
        snprintf(f, sizeof f, "field%d", i);
        const char *d[] = { f, NULL };
        assert_int_equal(hdel("h", d), 1);
    }
    assert_string_equal(encoding("h"), "hashtable");   /* never back */
    check_store();
}

static void test_conversion_by_length(void **state)
{
    (void)state;
    char v64[65], v65[66];
    memset(v64, 'a', 64);
    v64[64] = 0;
    memset(v65, 'b', 65);
    v65[65] = 0;
    const char *a[] = { "f", v64, v64, "x", NULL };
    assert_int_equal(hset("h1", a), 2);
    assert_string_equal(encoding("h1"), "listpack");
    const char *b[] = { "g", v65, NULL };
    assert_int_equal(hset("h1", b), 1);
    assert_string_equal(encoding("h1"), "hashtable");
    expect_field("h1", "f", v64);
    expect_field("h1", v64, "x");
    expect_field("h1", "g", v65);
    const char *c[] = { v65, "short", NULL };          /* a long field converts too */
    assert_int_equal(hset("h2", c), 1);
    assert_string_equal(encoding("h2"), "hashtable");
    /* NX with a long value on an existing field changes nothing (as Redis) */
    const char *d[] = { "k", "v", NULL };
    assert_int_equal(hset("h3", d), 1);
    kv_key k;
    key_init(&k, "h3", 2);
    txn_begin(&txn);
    txn_lock(&txn, k.shard);
    const char *nx[] = { "k", v65, NULL };
    assert_int_equal(tset(&txn, "h3", nx, true, false), 0);
    assert_int_equal(txn_commit(&txn), TXN_OK);
    assert_string_equal(encoding("h3"), "listpack");
    expect_field("h3", "k", "v");
    /* force_ht (HSET with > 128 pairs) */
    key_init(&k, "h4", 2);
    txn_begin(&txn);
    txn_lock(&txn, k.shard);
    const char *f[] = { "a", "1", "a", "2", NULL };
    assert_int_equal(tset(&txn, "h4", f, false, true), 1);
    assert_int_equal(txn_commit(&txn), TXN_OK);
    assert_string_equal(encoding("h4"), "hashtable");
    expect_field("h4", "a", "2");
    check_store();
}

static void test_hashtable_at_scale(void **state)
{
    (void)state;
    char f[32], v[64];
    for (int i = 0; i < 20000; i += 100) {
        kv_key k;
        key_init(&k, "big", 3);
        txn_begin(&txn);
        txn_lock(&txn, k.shard);
        for (int j = i; j < i + 100; j++) {
            snprintf(f, sizeof f, "f%d", j);
            snprintf(v, sizeof v, "value-%d", j);
            const char *p[] = { f, v, NULL };
            assert_int_equal(tset(&txn, "big", p, false, false), 1);
        }
        assert_int_equal(txn_commit(&txn), TXN_OK);
    }
    assert_string_equal(encoding("big"), "hashtable");
    check_store();
    /* updates that grow values beyond their size class reallocate nodes */
    for (int i = 0; i < 20000; i += 7) {
        snprintf(f, sizeof f, "f%d", i);
        snprintf(v, sizeof v, "a-much-longer-value-than-before-%d", i);
        const char *p[] = { f, v, NULL };
        assert_int_equal(hset("big", p), 0);
    }
    check_store();
    for (int i = 0; i < 20000; i += 3) {
        snprintf(f, sizeof f, "f%d", i);
        const char *d[] = { f, NULL };
        assert_int_equal(hdel("big", d), 1);
    }
    check_store();
    aoff obj = peek_begin("big");
    assert_int_equal(hash_len(obj), 20000 - 6667);
    peek_end();
    for (int i = 0; i < 20000; i += 997) {
        snprintf(f, sizeof f, "f%d", i);
        if (i % 3 == 0)
            v[0] = 0;
        else if (i % 7 == 0)
            snprintf(v, sizeof v, "a-much-longer-value-than-before-%d", i);
        else
            snprintf(v, sizeof v, "value-%d", i);
        expect_field("big", f, v[0] ? v : NULL);
    }
}

/* Deleting a big hash queues it for the housekeeper; its steps give every byte back. */
static void test_delete_small_and_lazy(void **state)
{
    (void)state;
    uint64_t base = store_used_memory();
    const char *a[] = { "f", "v", NULL };
    hset("small", a);
    char f[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(f, sizeof f, "field-%d", i);
        const char *p[] = { f, "some value", NULL };
        hset("large", p);
    }
    assert_true(store_used_memory() > base + LAZYFREE_THRESHOLD);
    kv_key k1, k2;
    key_init(&k1, "small", 5);
    key_init(&k2, "large", 5);
    uint32_t ids[2] = { k1.shard, k2.shard };
    txn_begin(&txn);
    txn_lock_many(&txn, ids, 2);
    assert_int_equal(store_delete(&txn, &k1), 1);
    assert_int_equal(store_delete(&txn, &k2), 1);
    assert_int_equal(txn_commit(&txn), TXN_OK);
    check_store();
    assert_true(shard_at(k2.shard)->lazyfree != 0);
    int steps = 0;
    for (bool more = true; more; steps++) {
        txn_begin(&txn);
        txn_lock(&txn, k2.shard);
        more = store_lazyfree_step(&txn, k2.shard, 256);
        assert_int_equal(txn_commit(&txn), TXN_OK);
        check_store();
    }
    assert_true(steps > 10);
    /* only the shard tables the keys needed remain */
    assert_true(store_used_memory() <= base + 64);
}

static void test_copy_across_shards(void **state)
{
    (void)state;
    char f[32], dstkey[32];
    for (int i = 0; i < 300; i++) {
        snprintf(f, sizeof f, "f%d", i);
        const char *p[] = { f, f, NULL };
        hset("src", p);
        if (i == 50) {
            /* a listpack copy */
            kv_key s, d;
            key_init(&s, "src", 3);
            key_init(&d, "ns2/lp", 6);
            uint32_t ids[2] = { s.shard, d.shard };
            txn_begin(&txn);
            txn_lock_many(&txn, ids, 2);
            assert_int_equal(store_copy(&txn, store_find(&txn, &s), &d, false), STORE_OK);
            assert_int_equal(txn_commit(&txn), TXN_OK);
        }
    }
    kv_key s, d;
    key_init(&s, "src", 3);
    int n = 0;
    do {       /* a destination in another shard */
        snprintf(dstkey, sizeof dstkey, "ns1/dst%d", n++);
        key_init(&d, dstkey, strlen(dstkey));
    } while (d.shard == s.shard);
    uint32_t ids[2] = { s.shard, d.shard };
    txn_begin(&txn);
    txn_lock_many(&txn, ids, 2);
    assert_int_equal(store_copy(&txn, store_find(&txn, &s), &d, false), STORE_OK);
    assert_int_equal(txn_commit(&txn), TXN_OK);
    check_store();
    char *a = snapshot("src", NULL), *b = snapshot(dstkey, NULL), *c = snapshot("ns2/lp", NULL);
    assert_string_equal(a, b);
    assert_int_equal(strlen(c) > 0, 1);
    assert_string_equal(encoding(dstkey), "hashtable");
    assert_string_equal(encoding("ns2/lp"), "listpack");
    free(a);
    free(b);
    free(c);
    const char *del[] = { "f1", NULL };
    hdel(dstkey, del);
    expect_field("src", "f1", "f1");
    check_store();
}

/* ---- crash atomicity ------------------------------------------------------------------- */

typedef void (*mutation_fn)(kv_txn *t);

/* Kills a child at every undo record of fn's transaction; after each recovery the key
 * holds exactly the before or the after state and every checker passes. */
static void crash_every_record(const char *key, mutation_fn fn)
{
    char *before = snapshot(key, NULL);
    /* learn the after state from a run that completes; every run then starts from
     * the copy the caller kept in "pristine" */
    pid_t pid = fork();
    if (pid == 0) {
        kv_txn child;
        txn_init(&child, 1);
        fn(&child);
        _exit(0);
    }
    int st;
    waitpid(pid, &st, 0);
    assert_true(WIFEXITED(st));
    char *after = snapshot(key, NULL);
    assert_string_not_equal(before, after);
    int rolled = 0;
    for (long k = 1; k < 200000; k++) {
        /* put the before state back from the pristine copy */
        kv_key src, dst;
        key_init(&src, "pristine", 8);
        key_init(&dst, key, strlen(key));
        uint32_t ids[2] = { src.shard, dst.shard };
        txn_begin(&txn);
        txn_lock_many(&txn, ids, 2);
        kv_entry *pe = store_find(&txn, &src);
        if (pe)
            assert_int_equal(store_copy(&txn, pe, &dst, false), STORE_OK);
        else
            store_delete(&txn, &dst);
        assert_int_equal(txn_commit(&txn), TXN_OK);
        char *now = snapshot(key, NULL);
        assert_string_equal(now, before);
        free(now);
        pid = fork();
        if (pid == 0) {
            kv_txn child;
            txn_init(&child, 1);
            txn_kill_after_records = k;
            fn(&child);
            _exit(0);
        }
        waitpid(pid, &st, 0);
        bool finished = WIFEXITED(st);
        lane_sweep(1);
        assert_int_equal(lanes_busy(), 0);
        now = snapshot(key, NULL);
        if (strcmp(now, before) == 0)
            rolled++;
        else if (strcmp(now, after) != 0)
            fail_msg("torn hash after a kill at undo record %ld", k);
        free(now);
        encoding(key);                      /* runs hash_check */
        check_store();
        if (finished) {
            assert_true(rolled >= 1);
            break;
        }
    }
    print_message("%s: %d kills rolled back\n", key, rolled);
    free(before);
    free(after);
}

/* Makes "pristine" a copy of key (the state every crash run starts from). */
static void keep_pristine(const char *key)
{
    kv_key src, dst;
    key_init(&src, key, strlen(key));
    key_init(&dst, "pristine", 8);
    uint32_t ids[2] = { src.shard, dst.shard };
    txn_begin(&txn);
    txn_lock_many(&txn, ids, 2);
    kv_entry *e = store_find(&txn, &src);
    if (e)
        assert_int_equal(store_copy(&txn, e, &dst, false), STORE_OK);
    else
        store_delete(&txn, &dst);
    assert_int_equal(txn_commit(&txn), TXN_OK);
}

static void lock_key(kv_txn *t, const char *key)
{
    kv_key k;
    key_init(&k, key, strlen(key));
    txn_begin(t);
    txn_lock(t, k.shard);
}

static void mut_listpack(kv_txn *t)
{
    lock_key(t, "c1");
    const char *p[] = { "a", "new", "zz", "added", NULL };
    tset(t, "c1", p, false, false);
    const char *d[] = { "b", NULL };
    tdel(t, "c1", d);
    txn_commit(t);
}

static void mut_convert(kv_txn *t)
{
    lock_key(t, "c2");
    const char *p[] = { "x", "y", "f-new", "this value is longer than sixty-four bytes, so the hash converts..", NULL };
    tset(t, "c2", p, false, false);
    txn_commit(t);
}

static void mut_hashtable(kv_txn *t)
{
    lock_key(t, "c3");
    char f[32];
    for (int i = 0; i < 40; i++) {
        snprintf(f, sizeof f, "n%d", i);
        const char *p[] = { f, "inserted", NULL };
        tset(t, "c3", p, false, false);
    }
    const char *u[] = { "f3", "updated-to-a-longer-value", "f4", "u", NULL };
    tset(t, "c3", u, false, false);
    const char *d[] = { "f5", "f6", "f7", NULL };
    tdel(t, "c3", d);
    txn_commit(t);
}

static void mut_delete_key(kv_txn *t)
{
    lock_key(t, "c4");
    const char *d[] = { "a", "b", NULL };
    tdel(t, "c4", d);                       /* the last fields: the key goes */
    txn_commit(t);
}

static void mut_create(kv_txn *t)
{
    lock_key(t, "c5");
    const char *p[] = { "a", "1", "b", "2", NULL };
    tset(t, "c5", p, false, false);
    txn_commit(t);
}

static void test_crash_atomicity(void **state)
{
    (void)state;
    const char *a[] = { "a", "1", "b", "2", "c", "3", NULL };
    hset("c1", a);
    keep_pristine("c1");
    crash_every_record("c1", mut_listpack);
    char f[32];
    for (int i = 0; i < 100; i++) {
        snprintf(f, sizeof f, "f%d", i);
        const char *p[] = { f, "v", NULL };
        hset("c2", p);
    }
    keep_pristine("c2");
    crash_every_record("c2", mut_convert);
    /* a hashtable at exactly its table size: the inserts start and run a rehash */
    for (int i = 0; i < 256; i++) {
        snprintf(f, sizeof f, "f%d", i);
        const char *p[] = { f, "v", NULL };
        hset("c3", p);
    }
    assert_string_equal(encoding("c3"), "hashtable");
    keep_pristine("c3");
    crash_every_record("c3", mut_hashtable);
    const char *b[] = { "a", "1", "b", "2", NULL };
    hset("c4", b);
    keep_pristine("c4");
    crash_every_record("c4", mut_delete_key);
    keep_pristine("c5");                    /* missing */
    crash_every_record("c5", mut_create);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_listpack_basics_and_order, setup),
        cmocka_unit_test_setup(test_conversion_by_count_never_back, setup),
        cmocka_unit_test_setup(test_conversion_by_length, setup),
        cmocka_unit_test_setup(test_hashtable_at_scale, setup),
        cmocka_unit_test_setup(test_delete_small_and_lazy, setup),
        cmocka_unit_test_setup(test_copy_across_shards, setup),
        cmocka_unit_test_setup(test_crash_atomicity, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
