/* unit_set.c - the SET type on an arena: intset order and width upgrades, Redis 7.2's
 * conversions (intset -> listpack on a small string, intset -> hashtable past 512
 * integers or on a string when large, listpack -> hashtable past 128 members or 64
 * bytes) that never go back, setTypeCreate's initial choice, set_build's encodings,
 * hashtable operations, random members, accounting (store_check), lazy deletion, COPY,
 * and crash atomicity of each kind of change. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "harness_arena.h"

#include "kvns/alloc.h"
#include "kvns/set.h"
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

static aoff obj_of(kv_txn *t, const kv_key *k, kv_entry **out)
{
    kv_entry *e = store_find(t, k);
    if (out)
        *out = e;
    if (!e)
        return 0;
    assert_int_equal(e->type, KV_SET);
    return entry_obj(e);
}

static hs_str *strs(const char *const *m, size_t *n)
{
    *n = 0;
    while (m[*n])
        (*n)++;
    hs_str *v = malloc((*n + 1) * sizeof *v);
    for (size_t i = 0; i < *n; i++)
        v[i] = (hs_str){ m[i], strlen(m[i]) };
    return v;
}

/* SADD-like in transaction t (a new key gets setTypeCreate's encoding). */
static long long tadd(kv_txn *t, const char *key, const char *const *m)
{
    kv_key k;
    key_init(&k, key, strlen(key));
    size_t n;
    hs_str *v = strs(m, &n);
    kv_entry *e;
    aoff obj = obj_of(t, &k, &e);
    long long added;
    if (obj) {
        added = set_add(t, k.shard, e, obj, v, n);
    } else {
        obj = set_new(t, k.shard, set_initial_encoding(v[0], n));
        added = set_add(t, k.shard, NULL, obj, v, n);
        if (added >= 0)
            assert_int_equal(store_put_object(t, &k, KV_SET, obj, -1, NULL), STORE_OK);
    }
    free(v);
    return added;
}

static long long trem(kv_txn *t, const char *key, const char *const *m)
{
    kv_key k;
    key_init(&k, key, strlen(key));
    kv_entry *e;
    aoff obj = obj_of(t, &k, &e);
    if (!obj)
        return 0;
    size_t n;
    hs_str *v = strs(m, &n);
    long long r = set_rem(t, k.shard, e, obj, v, n);
    free(v);
    if (set_len(obj) == 0)
        store_delete(t, &k);
    return r;
}

static void lock_key(kv_txn *t, const char *key)
{
    kv_key k;
    key_init(&k, key, strlen(key));
    txn_begin(t);
    txn_lock(t, k.shard);
}

static long long sadd(const char *key, const char *const *m)
{
    lock_key(&txn, key);
    long long n = tadd(&txn, key, m);
    assert_int_equal(txn_commit(&txn), TXN_OK);
    return n;
}

static long long srem(const char *key, const char *const *m)
{
    lock_key(&txn, key);
    long long n = trem(&txn, key, m);
    assert_int_equal(txn_commit(&txn), TXN_OK);
    return n;
}

static long long sadd1(const char *key, const char *m)
{
    const char *v[] = { m, NULL };
    return sadd(key, v);
}

static const char *encoding(const char *key)
{
    kv_key k;
    key_init(&k, key, strlen(key));
    lock_key(&txn, key);
    aoff obj = obj_of(&txn, &k, NULL);
    const char *enc = obj ? set_encoding(obj) : "none";
    char err[256];
    if (obj && set_check(obj, err, sizeof err))
        fail_msg("set_check: %s", err);
    assert_int_equal(txn_commit(&txn), TXN_OK);
    return enc;
}

static bool contains(const char *key, const char *m)
{
    kv_key k;
    key_init(&k, key, strlen(key));
    lock_key(&txn, key);
    aoff obj = obj_of(&txn, &k, NULL);
    bool r = obj && set_contains(obj, m, strlen(m));
    assert_int_equal(txn_commit(&txn), TXN_OK);
    return r;
}

static uint64_t card(const char *key)
{
    kv_key k;
    key_init(&k, key, strlen(key));
    lock_key(&txn, key);
    aoff obj = obj_of(&txn, &k, NULL);
    uint64_t n = obj ? set_len(obj) : 0;
    assert_int_equal(txn_commit(&txn), TXN_OK);
    return n;
}

struct listing {
    char buf[1 << 16];
    size_t len;
};

static void list_member(hs_str m, void *arg)
{
    struct listing *l = arg;
    if (l->len + m.len + 2 < sizeof l->buf) {
        memcpy(l->buf + l->len, m.p, m.len);
        l->len += m.len;
        l->buf[l->len++] = ' ';
        l->buf[l->len] = 0;
    }
}

/* The members in iteration order, space separated (static buffer). */
static const char *members(const char *key)
{
    static struct listing l;
    l.len = 0;
    l.buf[0] = 0;
    kv_key k;
    key_init(&k, key, strlen(key));
    lock_key(&txn, key);
    aoff obj = obj_of(&txn, &k, NULL);
    if (obj)
        set_foreach(obj, list_member, &l);
    assert_int_equal(txn_commit(&txn), TXN_OK);
    return l.buf;
}

/* ---- tests ------------------------------------------------------------------------- */

static void test_intset_order_and_widths(void **state)
{
    (void)state;
    const char *a[] = { "5", "-3", "100", "5", "0", NULL };
    assert_int_equal(sadd("s", a), 4);
    assert_string_equal(encoding("s"), "intset");
    assert_string_equal(members("s"), "-3 0 5 100 ");
    assert_int_equal(sadd1("s", "70000"), 1);               /* width 2 -> 4 */
    assert_int_equal(sadd1("s", "-9223372036854775808"), 1); /* -> 8 */
    assert_int_equal(sadd1("s", "9223372036854775807"), 1);
    assert_string_equal(encoding("s"), "intset");
    assert_string_equal(members("s"), "-9223372036854775808 -3 0 5 100 70000 9223372036854775807 ");
    assert_true(contains("s", "70000"));
    assert_false(contains("s", "07"));
    assert_false(contains("s", "1"));
    assert_false(contains("s", "99999999999999999999"));
    const char *r[] = { "70000", "5", "nope", "x", NULL };
    assert_int_equal(srem("s", r), 2);
    assert_string_equal(members("s"), "-9223372036854775808 -3 0 100 9223372036854775807 ");
    /* non-canonical integers are strings: "007" converts to a listpack */
    assert_int_equal(sadd1("s", "007"), 1);
    assert_string_equal(encoding("s"), "listpack");
    assert_true(contains("s", "007"));
    assert_true(contains("s", "100"));
    check_store();
}

static void test_intset_to_listpack_and_hashtable(void **state)
{
    (void)state;
    char m[32];
    for (int i = 0; i < 127; i++) {
        snprintf(m, sizeof m, "%d", i * 3);
        sadd1("small", m);
    }
    assert_string_equal(encoding("small"), "intset");
    assert_int_equal(sadd1("small", "abc"), 1);              /* 127 < 128: listpack */
    assert_string_equal(encoding("small"), "listpack");
    assert_int_equal(card("small"), 128);
    assert_true(contains("small", "378"));
    assert_int_equal(sadd1("small", "one-more"), 1);          /* 129: hashtable */
    assert_string_equal(encoding("small"), "hashtable");
    assert_true(contains("small", "abc") && contains("small", "0") && contains("small", "one-more"));
    for (int i = 0; i < 128; i++) {
        snprintf(m, sizeof m, "%d", i);
        sadd1("mid", m);
    }
    assert_int_equal(sadd1("mid", "abc"), 1);                /* 128 integers + a string */
    assert_string_equal(encoding("mid"), "hashtable");
    for (int i = 0; i < 512; i++) {
        snprintf(m, sizeof m, "%d", i);
        sadd1("ints", m);
    }
    assert_string_equal(encoding("ints"), "intset");
    assert_int_equal(sadd1("ints", "512"), 1);               /* 513 integers */
    assert_string_equal(encoding("ints"), "hashtable");
    assert_int_equal(card("ints"), 513);
    /* never back */
    for (int i = 0; i < 500; i++) {
        snprintf(m, sizeof m, "%d", i);
        const char *r[] = { m, NULL };
        assert_int_equal(srem("ints", r), 1);
    }
    assert_string_equal(encoding("ints"), "hashtable");
    char long65[66];
    memset(long65, 'q', 65);
    long65[65] = 0;
    sadd1("lp", "a");
    assert_string_equal(encoding("lp"), "listpack");
    sadd1("lp", long65);
    assert_string_equal(encoding("lp"), "hashtable");
    sadd1("is", "1");
    sadd1("is", long65);                                      /* intset + long string */
    assert_string_equal(encoding("is"), "hashtable");
    check_store();
}

/* setTypeCreate: integer first member and <= 512 members -> intset; <= 128 ->
 * listpack; else hashtable. One SADD with many members follows the conversions. */
static void test_initial_encodings(void **state)
{
    (void)state;
    const char *a[] = { "x", "1", NULL };
    sadd("e1", a);
    assert_string_equal(encoding("e1"), "listpack");
    const char *b[] = { "1", "x", NULL };
    sadd("e2", b);
    assert_string_equal(encoding("e2"), "listpack");
    assert_string_equal(members("e2"), "1 x ");
    const char *many[201];
    char buf[200][16];
    for (int i = 0; i < 200; i++) {
        snprintf(buf[i], sizeof buf[i], "m%d", i % 100);     /* 100 distinct, 200 given */
        many[i] = buf[i];
    }
    many[200] = NULL;
    assert_int_equal(sadd("e3", many), 100);
    assert_string_equal(encoding("e3"), "hashtable");       /* size hint 200 > 128 */
    for (int i = 0; i < 200; i++)
        snprintf(buf[i], sizeof buf[i], "%d", i);
    assert_int_equal(sadd("e4", many), 200);
    assert_string_equal(encoding("e4"), "intset");
    check_store();
}

static void test_build_encodings(void **state)
{
    (void)state;
    struct { size_t n; bool ints; size_t len; const char *enc; } cases[] = {
        { 1, true, 0, "intset" },     { 512, true, 0, "intset" },   { 513, true, 0, "hashtable" },
        { 128, false, 5, "listpack" }, { 129, false, 5, "hashtable" }, { 3, false, 65, "hashtable" },
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        hs_str *m = malloc(cases[c].n * sizeof *m);
        char *text = malloc(cases[c].n * 80);
        for (size_t i = 0; i < cases[c].n; i++) {
            char *p = text + 80 * i;
            if (cases[c].ints)
                snprintf(p, 80, "%zu", (cases[c].n - i) * 1000);     /* unsorted input */
            else
                snprintf(p, 80, "%0*zu", (int)cases[c].len, i);
            m[i] = (hs_str){ p, strlen(p) };
        }
        char key[16];
        snprintf(key, sizeof key, "b%zu", c);
        lock_key(&txn, key);
        kv_key k;
        key_init(&k, key, strlen(key));
        aoff obj = set_build(&txn, k.shard, m, cases[c].n);
        assert_true(obj != 0);
        assert_int_equal(store_put_object(&txn, &k, KV_SET, obj, -1, NULL), STORE_OK);
        assert_int_equal(txn_commit(&txn), TXN_OK);
        assert_string_equal(encoding(key), cases[c].enc);
        assert_int_equal(card(key), cases[c].n);
        for (size_t i = 0; i < cases[c].n; i++) {
            char mm[81];
            memcpy(mm, m[i].p, m[i].len);
            mm[m[i].len] = 0;
            assert_true(contains(key, mm));
        }
        free(m);
        free(text);
    }
    check_store();
}

static void test_hashtable_random_and_lazy_delete(void **state)
{
    (void)state;
    uint64_t base = store_used_memory();
    char m[32];
    for (int i = 0; i < 10000; i += 500) {
        const char *v[501];
        char (*buf)[16] = malloc(500 * 16);
        for (int j = 0; j < 500; j++) {
            snprintf(buf[j], 16, "mem-%d", i + j);
            v[j] = buf[j];
        }
        v[500] = NULL;
        assert_int_equal(sadd("big", v), 500);
        free(buf);
    }
    assert_string_equal(encoding("big"), "hashtable");
    assert_int_equal(card("big"), 10000);
    check_store();
    int hits[10] = { 0 };
    kv_key k;
    key_init(&k, "big", 3);
    lock_key(&txn, "big");
    aoff obj = obj_of(&txn, &k, NULL);
    for (int i = 0; i < 10000; i++) {
        set_member r;
        set_random(obj, &r);
        int x;
        snprintf(m, sizeof m, "%.*s", (int)r.s.len, r.s.p);
        assert_int_equal(sscanf(m, "mem-%d", &x), 1);
        hits[x / 1000]++;
    }
    assert_int_equal(txn_commit(&txn), TXN_OK);
    for (int i = 0; i < 10; i++)
        assert_true(hits[i] > 500 && hits[i] < 1500);
    lock_key(&txn, "big");
    assert_int_equal(store_delete(&txn, &k), 1);
    assert_int_equal(txn_commit(&txn), TXN_OK);
    check_store();
    for (bool more = true; more;) {
        lock_key(&txn, "big");
        more = store_lazyfree_step(&txn, k.shard, 300);
        assert_int_equal(txn_commit(&txn), TXN_OK);
    }
    check_store();
    assert_true(store_used_memory() <= base + 64);
}

static void test_random_compact(void **state)
{
    (void)state;
    const char *a[] = { "1", "2", "3", NULL };
    sadd("i", a);
    const char *b[] = { "x", "y", "z", NULL };
    sadd("l", b);
    kv_key ki, kl;
    key_init(&ki, "i", 1);
    key_init(&kl, "l", 1);
    uint32_t ids[2] = { ki.shard, kl.shard };
    txn_begin(&txn);
    txn_lock_many(&txn, ids, 2);
    int seen_i[4] = { 0 }, seen_l[3] = { 0 };
    for (int n = 0; n < 300; n++) {
        set_member r;
        set_random(obj_of(&txn, &ki, NULL), &r);
        assert_int_equal(r.s.len, 1);
        seen_i[r.s.p[0] - '0']++;
        set_random(obj_of(&txn, &kl, NULL), &r);
        seen_l[r.s.p[0] - 'x']++;
    }
    assert_int_equal(txn_commit(&txn), TXN_OK);
    assert_true(seen_i[1] && seen_i[2] && seen_i[3] && seen_l[0] && seen_l[1] && seen_l[2]);
}

static void test_copy(void **state)
{
    (void)state;
    const char *a[] = { "1", "2", NULL };
    sadd("src-i", a);
    const char *b[] = { "a", "b", NULL };
    sadd("src-l", b);
    for (int i = 0; i < 200; i++) {
        char m[16];
        snprintf(m, sizeof m, "h%d", i);
        sadd1("src-h", m);
    }
    const char *srcs[] = { "src-i", "src-l", "src-h" };
    for (int i = 0; i < 3; i++) {
        char dst[32];
        snprintf(dst, sizeof dst, "other/copy%d", i);
        kv_key s, d;
        key_init(&s, srcs[i], strlen(srcs[i]));
        key_init(&d, dst, strlen(dst));
        uint32_t ids[2] = { s.shard, d.shard };
        txn_begin(&txn);
        txn_lock_many(&txn, ids, 2);
        assert_int_equal(store_copy(&txn, store_find(&txn, &s), &d, false), STORE_OK);
        assert_int_equal(txn_commit(&txn), TXN_OK);
        assert_string_equal(encoding(dst), encoding(srcs[i]));
        assert_int_equal(card(dst), card(srcs[i]));
        char *x = strdup(members(srcs[i]));
        if (i < 2)
            assert_string_equal(members(dst), x);
        free(x);
    }
    assert_true(contains("other/copy2", "h199"));
    check_store();
}

/* ---- crash atomicity ------------------------------------------------------------------ */

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Sorted member listing (malloc'd). */
static char *snapshot(const char *key)
{
    char *raw = strdup(members(key));
    size_t n = 0;
    char *words[4096];
    for (char *p = strtok(raw, " "); p && n < 4096; p = strtok(NULL, " "))
        words[n++] = p;
    qsort(words, n, sizeof *words, cmp_str);
    char *out = calloc(1, strlen(members(key)) + 2);
    for (size_t i = 0; i < n; i++) {
        strcat(out, words[i]);
        strcat(out, " ");
    }
    free(raw);
    return out;
}

static void copy_key(const char *from, const char *to)
{
    kv_key s, d;
    key_init(&s, from, strlen(from));
    key_init(&d, to, strlen(to));
    uint32_t ids[2] = { s.shard, d.shard };
    txn_begin(&txn);
    txn_lock_many(&txn, ids, 2);
    kv_entry *e = store_find(&txn, &s);
    if (e)
        assert_int_equal(store_copy(&txn, e, &d, false), STORE_OK);
    else
        store_delete(&txn, &d);
    assert_int_equal(txn_commit(&txn), TXN_OK);
}

typedef void (*mutation_fn)(kv_txn *t);

/* Kills a child at every undo record of fn; after each recovery the key holds the
 * before or the after state (starting each run from a pristine copy). */
static void crash_every_record(const char *key, mutation_fn fn)
{
    copy_key(key, "pristine");
    char *before = snapshot(key);
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
    char *after = snapshot(key);
    assert_string_not_equal(before, after);
    int rolled = 0;
    for (long k = 1; k < 200000; k++) {
        copy_key("pristine", key);
        char *now = snapshot(key);
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
        now = snapshot(key);
        if (strcmp(now, before) == 0)
            rolled++;
        else if (strcmp(now, after) != 0)
            fail_msg("torn set after a kill at undo record %ld: %s", k, now);
        free(now);
        encoding(key);
        check_store();
        if (finished)
            break;
    }
    assert_true(rolled >= 1);
    print_message("%s: %d kills rolled back\n", key, rolled);
    free(before);
    free(after);
}

static void mut_intset(kv_txn *t)
{
    lock_key(t, "c1");
    const char *a[] = { "100000", "-4", NULL };
    tadd(t, "c1", a);
    const char *r[] = { "2", NULL };
    trem(t, "c1", r);
    txn_commit(t);
}

static void mut_to_listpack(kv_txn *t)
{
    lock_key(t, "c1");
    const char *a[] = { "str", NULL };
    tadd(t, "c1", a);
    txn_commit(t);
}

static void mut_to_hashtable(kv_txn *t)
{
    lock_key(t, "c2");
    const char *a[] = { "513", "514", NULL };
    tadd(t, "c2", a);
    txn_commit(t);
}

static void mut_hashtable(kv_txn *t)
{
    lock_key(t, "c2");
    char buf[30][16];
    const char *a[31];
    for (int i = 0; i < 30; i++) {
        snprintf(buf[i], sizeof buf[i], "new%d", i);
        a[i] = buf[i];
    }
    a[30] = NULL;
    tadd(t, "c2", a);
    const char *r[] = { "7", "8", "new3", NULL };
    trem(t, "c2", r);
    txn_commit(t);
}

static void mut_pop_last(kv_txn *t)
{
    lock_key(t, "c3");
    const char *r[] = { "only", NULL };
    trem(t, "c3", r);
    txn_commit(t);
}

static void test_crash_atomicity(void **state)
{
    (void)state;
    const char *a[] = { "1", "2", "3", NULL };
    sadd("c1", a);
    crash_every_record("c1", mut_intset);
    crash_every_record("c1", mut_to_listpack);
    assert_string_equal(encoding("c1"), "listpack");
    char m[16];
    for (int i = 0; i <= 512; i++) {
        snprintf(m, sizeof m, "%d", i);
        if (i < 512)
            sadd1("c2", m);
    }
    crash_every_record("c2", mut_to_hashtable);
    assert_string_equal(encoding("c2"), "hashtable");
    crash_every_record("c2", mut_hashtable);
    sadd1("c3", "only");
    crash_every_record("c3", mut_pop_last);
    assert_string_equal(encoding("c3"), "none");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_intset_order_and_widths, setup),
        cmocka_unit_test_setup(test_intset_to_listpack_and_hashtable, setup),
        cmocka_unit_test_setup(test_initial_encodings, setup),
        cmocka_unit_test_setup(test_build_encodings, setup),
        cmocka_unit_test_setup(test_hashtable_random_and_lazy_delete, setup),
        cmocka_unit_test_setup(test_random_compact, setup),
        cmocka_unit_test_setup(test_copy, setup),
        cmocka_unit_test_setup(test_crash_atomicity, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
