/* unit_zset.c - the sorted set structure on an arena: compact operations, conversion
 * at the thresholds, the skiplist against a brute-force model over random operations,
 * a 1M-member set (timings printed), bounded lazy freeing, COPY, and crash atomicity
 * (a child killed at every undo record of a ZADD and a ZREM, then recovery, the
 * structure checker and store_check). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "harness_arena.h"

#include "kvns/alloc.h"
#include "kvns/shard.h"
#include "kvns/zset.h"

#include <math.h>
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

static int setup(void **state)
{
    arena_fixture_reset(&txn, SHARDS, 768u << 20);
    return 0;
}

static void check_store(void) { arena_fixture_check(&txn); }

static double now_sec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- access helpers (each is one transaction, like a command) ---------------------------- */

/* The zset of key inside the open transaction t, or NULL. */
static zset_obj *zget(kv_txn *t, const kv_key *k, kv_entry **ep)
{
    kv_entry *e = store_find(t, k);
    if (ep)
        *ep = e;
    if (!e)
        return NULL;
    assert_int_equal(e->type, KV_ZSET);
    return arena_ptr(entry_obj(e));
}

/* Adds pairs to key (created when missing) in one transaction with t; returns the
 * number of members added, -1 when the transaction failed. */
static long zadd_t(kv_txn *t, const char *key, const zset_item *items, size_t n, int flags)
{
    kv_key k;
    key_init(&k, key, strlen(key));
    txn_begin(t);
    txn_lock(t, k.shard);
    kv_entry *e;
    zset_obj *z = zget(t, &k, &e);
    if (!z) {
        aoff root = zset_create(t, k.shard);
        assert_true(root != 0);
        assert_int_equal(store_put_object(t, &k, KV_ZSET, root, -1, &e), STORE_OK);
        z = arena_ptr(root);
    }
    long added = 0;
    for (size_t i = 0; i < n; i++) {
        int out;
        double ns;
        int rc = zset_add(t, k.shard, e, z, items[i].score, items[i].member, items[i].len, flags, &out, &ns);
        if (rc < 0)
            break;
        if (out & ZADD_OUT_ADDED)
            added++;
    }
    if (t->failed) {
        txn_abort(t);
        return -1;
    }
    if (!z->length)
        store_delete(t, &k);
    assert_int_equal(txn_commit(t), TXN_OK);
    return added;
}

static long zadd(const char *key, const zset_item *items, size_t n) { return zadd_t(&txn, key, items, n, 0); }

static void zadd1(const char *key, double score, const char *m)
{
    zset_item it = { m, strlen(m), score };
    assert_true(zadd(key, &it, 1) >= 0);
}

/* Removes members (one transaction with t); returns how many were there. */
static long zrem_t(kv_txn *t, const char *key, const char *const *members, size_t n)
{
    kv_key k;
    key_init(&k, key, strlen(key));
    txn_begin(t);
    txn_lock(t, k.shard);
    kv_entry *e;
    zset_obj *z = zget(t, &k, &e);
    long removed = 0;
    if (z) {
        for (size_t i = 0; i < n && z->length; i++)
            removed += zset_del(t, k.shard, e, z, members[i], strlen(members[i]));
        if (!z->length)
            store_delete(t, &k);
    }
    assert_int_equal(txn_commit(t), TXN_OK);
    return removed;
}

/* Deletes 0-based ranks [a, b] (one transaction). */
static uint64_t zrem_ranks(const char *key, uint64_t a, uint64_t b)
{
    kv_key k;
    key_init(&k, key, strlen(key));
    txn_begin(&txn);
    txn_lock(&txn, k.shard);
    kv_entry *e;
    zset_obj *z = zget(&txn, &k, &e);
    uint64_t removed = 0;
    if (z) {
        removed = zset_delete_rank_range(&txn, k.shard, e, z, a, b);
        if (!z->length)
            store_delete(&txn, &k);
    }
    assert_int_equal(txn_commit(&txn), TXN_OK);
    return removed;
}

/* Runs fn on the zset of key inside a read transaction. */
typedef void (*zread_fn)(const zset_obj *z, void *ctx);
static void zread(const char *key, zread_fn fn, void *ctx)
{
    kv_key k;
    key_init(&k, key, strlen(key));
    txn_begin(&txn);
    txn_lock(&txn, k.shard);
    fn(zget(&txn, &k, NULL), ctx);
    txn_commit(&txn);
}

static void check_fn(const zset_obj *z, void *ctx)
{
    (void)ctx;
    char err[256] = "";
    if (z && zset_check(z, err, sizeof err) != 0)
        fail_msg("zset_check: %s", err);
}

static void zcheck(const char *key) { zread(key, check_fn, NULL); }

struct info { bool exists; uint64_t length; char encoding[16]; size_t bytes; };

static void info_fn(const zset_obj *z, void *ctx)
{
    struct info *in = ctx;
    in->exists = z != NULL;
    if (z) {
        in->length = z->length;
        snprintf(in->encoding, sizeof in->encoding, "%s", zset_encoding_name(z));
        in->bytes = zset_bytes(z);
    }
}

static struct info zinfo(const char *key)
{
    struct info in = { 0 };
    zread(key, info_fn, &in);
    return in;
}

/* ---- the brute-force model ------------------------------------------------------------ */

typedef struct model_item { char m[24]; size_t len; double score; } model_item;
typedef struct model { model_item *v; size_t n; } model;

static int model_cmp(const void *a, const void *b)
{
    const model_item *x = a, *y = b;
    if (x->score != y->score)
        return x->score < y->score ? -1 : 1;
    return zset_member_cmp(x->m, x->len, y->m, y->len);
}

static long model_find(const model *md, const char *m, size_t len)
{
    for (size_t i = 0; i < md->n; i++)
        if (md->v[i].len == len && memcmp(md->v[i].m, m, len) == 0)
            return (long)i;
    return -1;
}

static void model_set(model *md, const char *m, size_t len, double score)
{
    long i = model_find(md, m, len);
    if (i < 0) {
        i = (long)md->n++;
        memcpy(md->v[i].m, m, len);
        md->v[i].len = len;
    }
    md->v[i].score = score;
    qsort(md->v, md->n, sizeof *md->v, model_cmp);
}

static void model_del(model *md, const char *m, size_t len)
{
    long i = model_find(md, m, len);
    if (i >= 0) {
        memmove(md->v + i, md->v + i + 1, (md->n - (size_t)i - 1) * sizeof *md->v);
        md->n--;
    }
}

/* Compares the whole set (forward and backward iteration) with md. */
struct cmp_ctx { const model *md; };

static void compare_fn(const zset_obj *z, void *ctx)
{
    const model *md = ((struct cmp_ctx *)ctx)->md;
    if (!md->n) {
        assert_null(z);
        return;
    }
    assert_non_null(z);
    assert_int_equal(z->length, md->n);
    for (int rev = 0; rev < 2; rev++) {
        zset_iter it;
        zset_iter_init(&it, z, 0, rev);
        const char *m;
        size_t len;
        double sc;
        size_t i = 0;
        while (zset_iter_next(&it, &m, &len, &sc)) {
            const model_item *want = &md->v[rev ? md->n - 1 - i : i];
            if (len != want->len || memcmp(m, want->m, len) != 0 || sc != want->score)
                fail_msg("rank %zu (rev %d): got %.*s/%g, want %.*s/%g", i, rev, (int)len, m, sc,
                         (int)want->len, want->m, want->score);
            i++;
        }
        assert_int_equal(i, md->n);
    }
    char err[256] = "";
    if (zset_check(z, err, sizeof err) != 0)
        fail_msg("zset_check: %s", err);
}

static void compare(const char *key, const model *md)
{
    struct cmp_ctx c = { md };
    zread(key, compare_fn, &c);
}

/* ---- compact encoding --------------------------------------------------------------------- */

struct probe { const char *m; double score; bool found; uint64_t rank, rrank; };

static void probe_fn(const zset_obj *z, void *ctx)
{
    struct probe *p = ctx;
    double sc = 0;
    p->found = zset_score(z, p->m, strlen(p->m), &p->score);
    if (p->found) {
        assert_true(zset_rank(z, p->m, strlen(p->m), false, &p->rank, &sc));
        assert_true(zset_rank(z, p->m, strlen(p->m), true, &p->rrank, &sc));
        assert_true(sc == p->score);
    }
}

static struct probe zprobe(const char *key, const char *m)
{
    struct probe p = { m, 0, false, 0, 0 };
    zread(key, probe_fn, &p);
    return p;
}

struct ranges { zrangespec r; zlexrangespec lr; bool ok, lok; uint64_t a, b, la, lb; };

static void ranges_fn(const zset_obj *z, void *ctx)
{
    struct ranges *x = ctx;
    x->ok = zset_score_range_ranks(z, &x->r, &x->a, &x->b);
    x->lok = zset_lex_range_ranks(z, &x->lr, &x->la, &x->lb);
}

static void test_compact_ops(void **state)
{
    (void)state;
    zadd1("z", 3, "c");
    zadd1("z", 1, "a");
    zadd1("z", 2, "b");
    zadd1("z", 2, "bb");
    zadd1("z", 2, "ba");
    struct info in = zinfo("z");
    assert_int_equal(in.length, 5);
    assert_string_equal(in.encoding, "listpack");
    struct probe p = zprobe("z", "bb");
    assert_true(p.found && p.score == 2 && p.rank == 3 && p.rrank == 1);
    p = zprobe("z", "nope");
    assert_false(p.found);
    /* update moves the member, NX/XX/GT/LT/INCR flags */
    zset_item it = { "a", 1, 10 };
    assert_int_equal(zadd_t(&txn, "z", &it, 1, ZADD_IN_NX), 0);
    assert_true(zprobe("z", "a").score == 1);
    assert_int_equal(zadd_t(&txn, "z", &it, 1, ZADD_IN_GT), 0);
    p = zprobe("z", "a");
    assert_true(p.score == 10 && p.rank == 4);
    it.score = 20;
    assert_int_equal(zadd_t(&txn, "z", &it, 1, ZADD_IN_LT), 0);
    assert_true(zprobe("z", "a").score == 10);
    it.score = 0.5;
    assert_int_equal(zadd_t(&txn, "z", &it, 1, ZADD_IN_INCR), 0);
    assert_true(zprobe("z", "a").score == 10.5);
    zset_item nx = { "new", 3, 7 };
    assert_int_equal(zadd_t(&txn, "z", &nx, 1, ZADD_IN_XX), 0);
    assert_false(zprobe("z", "new").found);
    /* ranges: [2, 3] holds b, ba, bb, c at ranks 1..4; lex on equal scores */
    struct ranges rg;
    memset(&rg, 0, sizeof rg);
    assert_true(zset_parse_range("2", 1, "(10.5", 5, &rg.r));
    assert_true(zset_parse_lex_range("[b", 2, "(c", 2, &rg.lr));
    zread("z", ranges_fn, &rg);
    assert_true(rg.ok && rg.a == 0 && rg.b == 3);
    /* lex ranges assume equal scores; like Redis, the last member <= max ("a", score
     * 10.5) is not >= min, so the range is empty */
    assert_false(rg.lok);
    assert_true(zset_parse_range("(3", 2, "+inf", 4, &rg.r));
    assert_true(zset_parse_lex_range("-", 1, "+", 1, &rg.lr));
    zread("z", ranges_fn, &rg);
    assert_true(rg.ok && rg.a == 4 && rg.b == 4);
    assert_true(rg.lok && rg.la == 0 && rg.lb == 4);
    assert_true(zset_parse_range("5", 1, "4", 1, &rg.r));
    zread("z", ranges_fn, &rg);
    assert_false(rg.ok);
    /* parsing edge cases as Redis */
    assert_false(zset_parse_range("abc", 3, "1", 1, &rg.r));
    assert_false(zset_parse_range("nan", 3, "1", 1, &rg.r));
    assert_true(zset_parse_range("(", 1, "", 0, &rg.r) && rg.r.minex && rg.r.min == 0 && rg.r.max == 0);
    assert_true(zset_parse_range("-inf", 4, "(+inf", 5, &rg.r) && isinf(rg.r.min) && rg.r.maxex);
    assert_false(zset_parse_lex_range("a", 1, "+", 1, &rg.lr));
    assert_false(zset_parse_lex_range("+x", 2, "+", 1, &rg.lr));
    assert_false(zset_parse_lex_range("", 0, "+", 1, &rg.lr));
    /* deletions */
    const char *del[] = { "ba", "zz" };
    assert_int_equal(zrem_t(&txn, "z", del, 2), 1);
    assert_int_equal(zrem_ranks("z", 0, 1), 2);
    assert_int_equal(zinfo("z").length, 2);
    zcheck("z");
    check_store();
    assert_int_equal(zrem_ranks("z", 0, 100), 2);
    assert_false(zinfo("z").exists);
    check_store();
}

/* ---- conversion at the thresholds --------------------------------------------------------- */

static void test_conversion_thresholds(void **state)
{
    (void)state;
    char m[80];
    for (int i = 0; i < ZSET_COMPACT_MAX_ENTRIES; i++) {
        snprintf(m, sizeof m, "m%03d", i);
        zadd1("n", i, m);
    }
    struct info in = zinfo("n");
    assert_int_equal(in.length, 128);
    assert_string_equal(in.encoding, "listpack");
    zcheck("n");
    check_store();
    zadd1("n", 0.5, "one-more");
    in = zinfo("n");
    assert_int_equal(in.length, 129);
    assert_string_equal(in.encoding, "skiplist");
    zcheck("n");
    struct probe p = zprobe("n", "one-more");
    assert_true(p.found && p.rank == 1 && p.rrank == 127);
    check_store();
    /* removing members never converts back (as Redis) */
    const char *del[] = { "one-more", "m000", "m001" };
    assert_int_equal(zrem_t(&txn, "n", del, 3), 3);
    assert_string_equal(zinfo("n").encoding, "skiplist");
    zcheck("n");

    /* member length: 64 bytes stay compact, 65 convert */
    memset(m, 'x', 64);
    m[64] = 0;
    zadd1("v", 1, m);
    assert_string_equal(zinfo("v").encoding, "listpack");
    m[64] = 'y';
    m[65] = 0;
    zadd1("v", 2, m);
    assert_string_equal(zinfo("v").encoding, "skiplist");
    assert_int_equal(zinfo("v").length, 2);
    zcheck("v");
    /* a first member over the limit makes a skiplist from the start */
    zadd1("w", 1, m);
    assert_string_equal(zinfo("w").encoding, "skiplist");
    zcheck("w");
    /* built results take the compact encoding when they fit */
    zset_item items[3] = { { "a", 1, 1 }, { "b", 1, 2 }, { "c", 1, 3 } };
    kv_key k;
    key_init(&k, "built", 5);
    txn_begin(&txn);
    txn_lock(&txn, k.shard);
    aoff root = zset_build_sorted(&txn, k.shard, items, 3);
    assert_int_equal(store_put_object(&txn, &k, KV_ZSET, root, -1, NULL), STORE_OK);
    assert_int_equal(txn_commit(&txn), TXN_OK);
    assert_string_equal(zinfo("built").encoding, "listpack");
    zcheck("built");
    check_store();
}

/* ---- random operations against the model ---------------------------------------------------- */

static void random_member(char *buf, size_t *len, unsigned space)
{
    *len = (size_t)snprintf(buf, 24, "mem:%u", (unsigned)(random() % space));
}

static double random_score(void)
{
    static const double special[] = { -INFINITY, INFINITY, 0, -0.5, 1e300 };
    if (random() % 50 == 0)
        return special[random() % 5];
    return (double)(random() % 200) / 4.0 - 20;   /* many ties */
}

static void test_random_vs_model(void **state)
{
    (void)state;
    model md = { calloc(4096, sizeof(model_item)), 0 };
    srandom(12345);
    const char *key = "rnd";
    unsigned space = 1500;
    for (int op = 0; op < 10000; op++) {
        char m[24];
        size_t len;
        random_member(m, &len, space);
        int kind = (int)(random() % 100);
        if (kind < 55) {
            double sc = random_score();
            zset_item it = { m, len, sc };
            long i = model_find(&md, m, len);
            int flags = 0;
            if (kind % 5 == 0)
                flags = ZADD_IN_INCR;
            else if (kind % 7 == 0)
                flags = ZADD_IN_GT;
            double want = sc;
            if (flags == ZADD_IN_INCR && i >= 0)
                want = md.v[i].score + sc;
            if (isnan(want))
                continue;
            if (flags == ZADD_IN_GT && i >= 0 && !(sc > md.v[i].score))
                want = md.v[i].score;
            zadd_t(&txn, key, &it, 1, flags);
            model_set(&md, m, len, want);
        } else if (kind < 85) {
            const char *ms[1] = { m };
            long was = model_find(&md, m, len) >= 0;
            assert_int_equal(zrem_t(&txn, key, ms, 1), was);
            model_del(&md, m, len);
        } else if (kind < 88 && md.n) {
            uint64_t a = (uint64_t)random() % md.n, b = a + (uint64_t)(random() % 20);
            uint64_t want = (b >= md.n ? md.n - 1 : b) - a + 1;
            assert_int_equal(zrem_ranks(key, a, b), want);
            size_t last = b >= md.n ? md.n - 1 : b;
            memmove(md.v + a, md.v + last + 1, (md.n - last - 1) * sizeof *md.v);
            md.n -= want;
        } else if (md.n) {
            /* ranks, scores and ranges against the model */
            struct probe p = zprobe(key, m);
            long i = model_find(&md, m, len);
            assert_int_equal(p.found, i >= 0);
            if (i >= 0) {
                assert_true(p.score == md.v[i].score);
                assert_int_equal(p.rank, i);
                assert_int_equal(p.rrank, md.n - 1 - (size_t)i);
            }
            struct ranges rg;
            memset(&rg, 0, sizeof rg);
            rg.r.min = random_score();
            rg.r.max = random_score();
            rg.r.minex = random() & 1;
            rg.r.maxex = random() & 1;
            rg.lr = (zlexrangespec){ NULL, NULL, 0, 0, ZLEX_MIN, ZLEX_MAX, true, true };
            zread(key, ranges_fn, &rg);
            long fa = -1, fb = -1;
            for (size_t j = 0; j < md.n; j++) {
                if (zset_score_gte_min(md.v[j].score, &rg.r) && zset_score_lte_max(md.v[j].score, &rg.r)) {
                    if (fa < 0)
                        fa = (long)j;
                    fb = (long)j;
                }
            }
            assert_int_equal(rg.ok, fa >= 0);
            if (fa >= 0) {
                assert_int_equal(rg.a, fa);
                assert_int_equal(rg.b, fb);
            }
            /* lex order is only defined over equal scores: "-" to "+" spans all */
            assert_true(rg.lok && rg.la == 0 && rg.lb == md.n - 1);
        }
        if (op % 500 == 0)
            compare(key, &md);
    }
    compare(key, &md);
    struct info in = zinfo(key);
    print_message("random ops: final length %zu, encoding %s\n", md.n, in.exists ? in.encoding : "-");
    check_store();
    free(md.v);
}

/* Lex ranges on a set whose scores are all equal (the case ZRANGEBYLEX is defined for),
 * in both encodings, against the model. */
static void test_lex_ranges(void **state)
{
    (void)state;
    srandom(777);
    for (int big = 0; big < 2; big++) {
        const char *key = big ? "lexbig" : "lexsmall";
        unsigned n = big ? 2000 : 100;
        model md = { calloc(n, sizeof(model_item)), 0 };
        for (unsigned i = 0; i < n; i++) {
            char m[24];
            snprintf(m, sizeof m, "%c%u", 'a' + (char)(i % 26), i * 7919 % 100000);
            zadd1(key, 0, m);
            model_set(&md, m, strlen(m), 0);
        }
        assert_string_equal(zinfo(key).encoding, big ? "skiplist" : "listpack");
        for (int q = 0; q < 500; q++) {
            struct ranges rg;
            memset(&rg, 0, sizeof rg);
            rg.r = (zrangespec){ 0, 0, false, false };
            char lo[24], hi[24];
            snprintf(lo, sizeof lo, "%c%ld", 'a' + (char)(random() % 26), random() % 100000);
            snprintf(hi, sizeof hi, "%c%ld", 'a' + (char)(random() % 26), random() % 100000);
            rg.lr = (zlexrangespec){ lo, hi, strlen(lo), strlen(hi), ZLEX_STR, ZLEX_STR, random() & 1, random() & 1 };
            if (q % 17 == 0)
                rg.lr.minkind = ZLEX_MIN;
            if (q % 13 == 0)
                rg.lr.maxkind = ZLEX_MAX;
            zread(key, ranges_fn, &rg);
            long la = -1, lb = -1;
            for (size_t j = 0; j < md.n; j++) {
                if (zset_lex_gte_min(md.v[j].m, md.v[j].len, &rg.lr) &&
                    zset_lex_lte_max(md.v[j].m, md.v[j].len, &rg.lr)) {
                    if (la < 0)
                        la = (long)j;
                    lb = (long)j;
                }
            }
            assert_int_equal(rg.lok, la >= 0);
            if (la >= 0) {
                assert_int_equal(rg.la, la);
                assert_int_equal(rg.lb, lb);
            }
        }
        compare(key, &md);
        free(md.v);
    }
    check_store();
}

/* ---- a million members ----------------------------------------------------------------------- */

struct rank_bench { char (*names)[24]; unsigned n, lookups; uint64_t checksum; };

static void rank_bench_fn(const zset_obj *z, void *ctx)
{
    struct rank_bench *b = ctx;
    for (unsigned i = 0; i < b->lookups; i++) {
        const char *m = b->names[(unsigned)random() % b->n];
        uint64_t rank;
        double sc;
        assert_true(zset_rank(z, m, strlen(m), false, &rank, &sc));
        b->checksum += rank;
    }
}

static void test_million_members(void **state)
{
    (void)state;
    const unsigned n = 1000000, batch = 20000;
    char (*names)[24] = malloc((size_t)n * 24);
    zset_item *items = malloc(batch * sizeof *items);
    srandom(99);
    double t0 = now_sec();
    for (unsigned base = 0; base < n; base += batch) {
        for (unsigned i = 0; i < batch; i++) {
            snprintf(names[base + i], 24, "member:%09u", base + i);   /* 16 bytes */
            items[i] = (zset_item){ names[base + i], 16, (double)(random() % 1000000) };
        }
        assert_int_equal(zadd("big", items, batch), batch);
    }
    double t1 = now_sec();
    struct info in = zinfo("big");
    assert_int_equal(in.length, n);
    assert_string_equal(in.encoding, "skiplist");
    struct rank_bench rb = { names, n, 200000, 0 };
    double t2 = now_sec();
    zread("big", rank_bench_fn, &rb);
    double t3 = now_sec();
    print_message("1M ZADD: %.2f s (%.2f us/member); 200k ZRANK: %.3f s (%.2f us each)\n", t1 - t0,
                  (t1 - t0) * 1e6 / n, t3 - t2, (t3 - t2) * 1e6 / rb.lookups);
    print_message("1M members of 16 bytes: %zu bytes in the object, %.1f bytes/member\n", in.bytes,
                  (double)in.bytes / n);
    /* single inserts into the big set stay cheap (O(log n)) */
    double t4 = now_sec();
    for (int i = 0; i < 1000; i++) {
        char m[24];
        snprintf(m, sizeof m, "extra:%d", i);
        zadd1("big", (double)(random() % 1000000), m);
    }
    double t5 = now_sec();
    print_message("1000 single-member ZADD transactions into the 1M set: %.2f us each\n",
                  (t5 - t4) * 1e6 / 1000);
    zcheck("big");
    check_store();

    /* delete: queued for lazy freeing; each step frees at most `budget` nodes */
    kv_key k;
    key_init(&k, "big", 3);
    txn_begin(&txn);
    txn_lock(&txn, k.shard);
    assert_int_equal(store_delete(&txn, &k), 1);
    assert_true(txn.ln->undo_used < 4096);
    assert_int_equal(txn_commit(&txn), TXN_OK);
    check_store();
    unsigned steps = 0;
    uint64_t max_undo = 0;
    bool more = true;
    double t6 = now_sec();
    while (more) {
        txn_begin(&txn);
        txn_lock(&txn, k.shard);
        uint64_t lazy_before = shard_at(k.shard)->lazy_bytes;
        more = store_lazyfree_step(&txn, k.shard, 1000);
        uint64_t lazy_after = shard_at(k.shard)->lazy_bytes;
        /* 1000 nodes of either kind are at most 1000 * 48 bytes plus tables and root */
        assert_true(lazy_before - lazy_after <= 1000 * 48 + (8u << 20));
        if (txn.ln->undo_used > max_undo)
            max_undo = txn.ln->undo_used;
        assert_int_equal(txn_commit(&txn), TXN_OK);
        steps++;
    }
    double t7 = now_sec();
    print_message("lazy free of 1M members: %u steps of <= 1000 nodes, max undo %llu bytes, %.2f s\n",
                  steps, (unsigned long long)max_undo, t7 - t6);
    assert_true(steps >= 2000);
    assert_int_equal(shard_at(k.shard)->lazy_bytes, 0);
    check_store();
    free(names);
    free(items);
}

/* ---- COPY ------------------------------------------------------------------------------------- */

static void test_copy(void **state)
{
    (void)state;
    model md = { calloc(400, sizeof(model_item)), 0 };
    for (int i = 0; i < 300; i++) {
        char m[24];
        snprintf(m, sizeof m, "c%d", i * 37 % 301);
        zadd1("src", i % 17, m);
        model_set(&md, m, strlen(m), i % 17);
        if (i == 50) {
            kv_key s, d;
            key_init(&s, "src", 3);
            key_init(&d, "small-copy", 10);
            uint32_t ids[2] = { s.shard, d.shard };
            txn_begin(&txn);
            txn_lock_many(&txn, ids, 2);
            assert_int_equal(store_copy(&txn, store_find(&txn, &s), &d, false), STORE_OK);
            assert_int_equal(txn_commit(&txn), TXN_OK);
            assert_string_equal(zinfo("small-copy").encoding, "listpack");
            compare("small-copy", &md);
        }
    }
    kv_key s, d;
    key_init(&s, "src", 3);
    key_init(&d, "{other}copy", 11);
    uint32_t ids[2] = { s.shard, d.shard };
    txn_begin(&txn);
    txn_lock_many(&txn, ids, 2);
    assert_int_equal(store_copy(&txn, store_find(&txn, &s), &d, false), STORE_OK);
    assert_int_equal(txn_commit(&txn), TXN_OK);
    compare("{other}copy", &md);
    /* the copy is independent */
    const char *del[] = { "c0", "c1" };
    assert_int_equal(zrem_t(&txn, "src", del, 2), 2);
    compare("{other}copy", &md);
    zadd1("{other}copy", 1000, "fresh");
    zcheck("{other}copy");
    zcheck("src");
    check_store();
    free(md.v);
}

/* ---- crash atomicity ---------------------------------------------------------------------------- */

/* The set as "member=score,..." (malloc'd), or "" when missing. */
struct dump { char *buf; size_t len, cap; };

static void dump_fn(const zset_obj *z, void *ctx)
{
    struct dump *d = ctx;
    d->cap = 64;
    d->buf = malloc(d->cap);
    d->len = 0;
    d->buf[0] = 0;
    if (!z)
        return;
    zset_iter it;
    zset_iter_init(&it, z, 0, false);
    const char *m;
    size_t len;
    double sc;
    while (zset_iter_next(&it, &m, &len, &sc)) {
        while (d->len + len + 40 > d->cap) {
            d->cap *= 2;
            d->buf = realloc(d->buf, d->cap);
        }
        d->len += (size_t)snprintf(d->buf + d->len, d->cap - d->len, "%.*s=%.17g,", (int)len, m, sc);
    }
}

static char *zdump(const char *key)
{
    struct dump d = { 0 };
    zread(key, dump_fn, &d);
    return d.buf;
}

typedef void (*mutation_fn)(kv_txn *t);

static void crash_zadd(kv_txn *t)
{
    /* new members (some raising levels), score moves, an INCR and an update in place */
    static zset_item items[12];
    char (*names)[24] = malloc(12 * 24);
    for (int i = 0; i < 8; i++) {
        snprintf(names[i], 24, "new-%d", i);
        items[i] = (zset_item){ names[i], strlen(names[i]), 1000.0 - i * 333 };
    }
    items[8] = (zset_item){ "k10", 3, -5 };      /* moves to the front */
    items[9] = (zset_item){ "k200", 4, 1e6 };    /* moves to the back */
    items[10] = (zset_item){ "k30", 3, 30.25 };  /* stays in place */
    items[11] = (zset_item){ "k40", 3, 77 };
    zadd_t(t, "crash", items, 12, 0);
    free(names);
}

static void crash_zrem(kv_txn *t)
{
    const char *ms[] = { "k0", "k1", "k150", "k299", "missing", "k77", "k78", "k79" };
    zrem_t(t, "crash", ms, 8);
}

/* Kills a child running `mutate` at every undo record in turn and checks that the set
 * is then exactly as before or exactly as after, and that the store is consistent. */
static void crash_every_record(mutation_fn mutate, const char *name)
{
    char *before = zdump("crash");
    int committed = 0, rolled_back = 0;
    char *after = NULL;
    for (long k = 1; k < 100000; k++) {
        pid_t pid = fork();
        if (pid == 0) {
            kv_txn child;
            txn_init(&child, 1);
            txn_kill_after_records = k;
            mutate(&child);
            _exit(0);
        }
        int st;
        waitpid(pid, &st, 0);
        bool finished = WIFEXITED(st);
        lane_sweep(1);
        char *now = zdump("crash");
        zcheck("crash");
        check_store();
        assert_int_equal(lanes_busy(), 0);
        if (finished) {
            after = now;
            committed++;
            break;
        }
        if (strcmp(now, before) != 0)
            fail_msg("%s: torn state after a kill at undo record %ld", name, k);
        rolled_back++;
        free(now);
    }
    assert_non_null(after);
    assert_true(strcmp(after, before) != 0);
    print_message("%s: killed at each of %d undo records: all rolled back; the full run committed\n",
                  name, rolled_back);
    assert_true(rolled_back > 20);
    free(before);
    free(after);
}

static void fill_crash_set(void)
{
    zset_item items[300];
    char (*names)[24] = malloc(300 * 24);
    for (int i = 0; i < 300; i++) {
        snprintf(names[i], 24, "k%d", i);
        items[i] = (zset_item){ names[i], strlen(names[i]), (double)i };
    }
    assert_int_equal(zadd("crash", items, 300), 300);
    free(names);
    assert_string_equal(zinfo("crash").encoding, "skiplist");
}

static void test_crash_zadd(void **state)
{
    (void)state;
    fill_crash_set();
    crash_every_record(crash_zadd, "ZADD into a skiplist");
    /* commit point kills: before the commit store rolls back, after it keeps */
    for (int point = 1; point <= 2; point++) {
        char *before = zdump("crash");
        pid_t pid = fork();
        if (pid == 0) {
            kv_txn child;
            txn_init(&child, 1);
            txn_kill_at_commit = point;
            const char *ms[] = { "k5" };
            zrem_t(&child, "crash", ms, 1);
            _exit(0);
        }
        int st;
        waitpid(pid, &st, 0);
        assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
        lane_sweep(1);
        char *now = zdump("crash");
        if (point == 1)
            assert_string_equal(now, before);
        else
            assert_null(strstr(now, "k5="));
        free(now);
        free(before);
        zcheck("crash");
        check_store();
    }
}

static void test_crash_zrem(void **state)
{
    (void)state;
    fill_crash_set();
    crash_every_record(crash_zrem, "ZREM from a skiplist");
}

/* A kill during the compact -> skiplist conversion. */
static void crash_convert(kv_txn *t)
{
    zset_item it = { "the-129th", 9, 64.5 };
    zadd_t(t, "crash", &it, 1, 0);
}

static void test_crash_conversion(void **state)
{
    (void)state;
    zset_item items[128];
    char (*names)[24] = malloc(128 * 24);
    for (int i = 0; i < 128; i++) {
        snprintf(names[i], 24, "k%d", i);
        items[i] = (zset_item){ names[i], strlen(names[i]), (double)i };
    }
    assert_int_equal(zadd("crash", items, 128), 128);
    free(names);
    assert_string_equal(zinfo("crash").encoding, "listpack");
    crash_every_record(crash_convert, "ZADD converting to a skiplist");
    assert_string_equal(zinfo("crash").encoding, "skiplist");
}

/* zset_check of key's set: 0, or -1 with err filled. */
struct check_result { int rc; char err[256]; };

static void check_into(const zset_obj *z, void *ctx)
{
    struct check_result *r = ctx;
    r->rc = zset_check(z, r->err, sizeof r->err);
}

/* The checker finds a member present twice: in the compact encoding (at different
 * scores, so the order check alone passes) and, through the dict check, in the
 * skiplist encoding's dict. */
static void test_check_finds_duplicate_members(void **state)
{
    (void)state;
    zadd1("dup", 1, "memberA");
    zadd1("dup", 2, "memberB");
    zcheck("dup");
    kv_key k;
    key_init(&k, "dup", 3);
    txn_begin(&txn);
    txn_lock(&txn, k.shard);
    zset_obj *z = zget(&txn, &k, NULL);
    assert_string_equal(zset_encoding_name(z), "listpack");
    zcompact *b = zset_block(z);
    char *at = memmem(b, sizeof *b + b->size, "memberB", 7);
    assert_non_null(at);
    memcpy(at, "memberA", 7);                 /* corruption: no undo wanted */
    txn_commit(&txn);
    struct check_result r = { 0, "" };
    zread("dup", check_into, &r);
    assert_int_equal(r.rc, -1);
    assert_non_null(strstr(r.err, "present twice"));

    char m[32];
    for (int i = 0; i < 200; i++) {
        snprintf(m, sizeof m, "big%d", i);
        zadd1("bigdup", i, m);
    }
    zcheck("bigdup");
    key_init(&k, "bigdup", 6);
    txn_begin(&txn);
    txn_lock(&txn, k.shard);
    z = zget(&txn, &k, NULL);
    assert_string_equal(zset_encoding_name(z), "skiplist");
    zskiplist *zsl = zset_zsl(z);
    adict_node *n = adict_find(&zsl->dict, "big7", 4);
    assert_non_null(n);
    assert_non_null(adict_insert(&txn, k.shard, &zsl->dict, "big7", 4, adict_node_val(n), n->vlen));
    txn_commit(&txn);
    r.rc = 0;
    zread("bigdup", check_into, &r);
    assert_int_equal(r.rc, -1);
}

/* Asserts that the namespace of key holds exactly its entry plus the zset's bytes. */
static void assert_ns_charged(const char *key, int ns)
{
    kv_key k;
    key_init(&k, key, strlen(key));
    txn_begin(&txn);
    txn_lock(&txn, k.shard);
    kv_entry *e;
    zset_obj *z = zget(&txn, &k, &e);
    uint64_t want = z ? entry_footprint(e) + zset_bytes(z) : 0;
    txn_commit(&txn);
    assert_int_equal(store_ns_bytes((uint32_t)ns), want);
}

/* zset_add, zset_del and zset_delete_rank_range charge the key's namespace themselves
 * (the helpers above never call store_charge): through growth, conversion to the
 * skiplist, score updates and removals down to the key's deletion. */
static void test_accounting(void **state)
{
    (void)state;
    const char *key = "zacct/z";
    zadd1(key, 1, "first");
    int ns = ns_find("zacct", 5);
    assert_true(ns > 0);
    assert_ns_charged(key, ns);
    char m[96];
    for (int i = 0; i < 300; i++) {
        snprintf(m, sizeof m, "member-%d", i);
        zadd1(key, i % 17, m);
        if (i % 50 == 0 || i == 127 || i == 128)
            assert_ns_charged(key, ns);
    }
    assert_string_equal(zinfo(key).encoding, "skiplist");
    zset_item upd[2] = { { "member-3", 8, 1000 }, { "member-4", 8, -5 } };
    assert_int_equal(zadd(key, upd, 2), 0);
    assert_ns_charged(key, ns);
    const char *gone[3] = { "member-3", "first", "absent" };
    assert_int_equal(zrem_t(&txn, key, gone, 3), 2);
    assert_ns_charged(key, ns);
    assert_int_equal(zrem_ranks(key, 10, 99), 90);
    assert_ns_charged(key, ns);
    assert_int_equal(zrem_ranks(key, 0, 1000), 209);
    assert_false(zinfo(key).exists);
    assert_int_equal(store_ns_bytes((uint32_t)ns), 0);
    check_store();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_compact_ops, setup),
        cmocka_unit_test_setup(test_conversion_thresholds, setup),
        cmocka_unit_test_setup(test_random_vs_model, setup),
        cmocka_unit_test_setup(test_lex_ranges, setup),
        cmocka_unit_test_setup(test_copy, setup),
        cmocka_unit_test_setup(test_crash_zadd, setup),
        cmocka_unit_test_setup(test_crash_zrem, setup),
        cmocka_unit_test_setup(test_crash_conversion, setup),
        cmocka_unit_test_setup(test_million_members, setup),
        cmocka_unit_test_setup(test_check_finds_duplicate_members, setup),
        cmocka_unit_test_setup(test_accounting, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
