/* set.c - the SET type: intset, listpack and hashtable encodings (see set.h). */
#include "kvns/set.h"
#include "kvns/rng.h"
#include "kvns/alloc.h"
#include "kvns/parse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Bytes the root allocation really takes. */
static size_t root_cost(void) { return alloc_real_size(sizeof(set_obj)); }

/* Bytes a block of size bytes really takes (0 for none). */
static size_t block_cost(uint64_t size) { return size ? alloc_real_size(size) : 0; }

/* Adds delta to the root's byte counter and, once in the keyspace, to e's namespace. */
static void account(kv_txn *t, uint32_t s, const kv_entry *e, set_obj *o, int64_t delta)
{
    if (!delta)
        return;
    tx_add64(t, s, &o->bytes, delta);
    if (e)
        store_charge(t, s, e, delta);
}

/* Redis's isSdsRepresentableAsLongLong: the canonical decimal form of an int64. */
static bool as_int(const char *p, size_t len, long long *v)
{
    return len <= 20 && parse_ll(p, len, v) == 0;
}

uint32_t set_initial_encoding(hs_str first, size_t size_hint)
{
    long long v;
    if (as_int(first.p, first.len, &v) && size_hint <= SET_INTSET_MAX)
        return SET_INTSET;
    return size_hint <= SET_LP_MAX_ENTRIES ? SET_LISTPACK : SET_HT;
}

aoff set_new(kv_txn *t, uint32_t s, uint32_t enc)
{
    aoff off = shard_alloc(t, s, sizeof(set_obj));
    if (!off)
        return 0;
    set_obj *o = arena_ptr(off);
    memset(o, 0, sizeof *o);
    o->enc = enc;
    o->width = 2;
    adict_init(&o->dict);
    o->bytes = root_cost();
    return off;
}

uint64_t set_len(aoff obj)
{
    const set_obj *o = set_at(obj);
    return o->enc == SET_HT ? adict_len(&o->dict) : o->count;
}

const char *set_encoding(aoff obj)
{
    switch (set_at(obj)->enc) {
    case SET_INTSET:   return "intset";
    case SET_LISTPACK: return "listpack";
    default:           return "hashtable";
    }
}

/* ---- intset blocks ------------------------------------------------------------------ */

/* Integer i of an intset block of the given width. */
static int64_t is_get(const char *blk, uint32_t width, size_t i)
{
    if (width == 2) {
        int16_t v;
        memcpy(&v, blk + 2 * i, 2);
        return v;
    }
    if (width == 4) {
        int32_t v;
        memcpy(&v, blk + 4 * i, 4);
        return v;
    }
    int64_t v;
    memcpy(&v, blk + 8 * i, 8);
    return v;
}

/* Stores v as integer i of an intset block of the given width. */
static void is_put(char *blk, uint32_t width, size_t i, int64_t v)
{
    if (width == 2) {
        int16_t x = (int16_t)v;
        memcpy(blk + 2 * i, &x, 2);
    } else if (width == 4) {
        int32_t x = (int32_t)v;
        memcpy(blk + 4 * i, &x, 4);
    } else {
        memcpy(blk + 8 * i, &v, 8);
    }
}

/* Bytes an integer needs (Redis's _intsetValueEncoding). */
static uint32_t int_width(int64_t v)
{
    if (v < INT32_MIN || v > INT32_MAX)
        return 8;
    if (v < INT16_MIN || v > INT16_MAX)
        return 4;
    return 2;
}

/* Binary search in a sorted int64 array: true when found; *pos = index or insertion point. */
static bool ints_search(const int64_t *a, size_t n, int64_t v, size_t *pos)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (a[mid] < v)
            lo = mid + 1;
        else
            hi = mid;
    }
    *pos = lo;
    return lo < n && a[lo] == v;
}

/* True when v is in the intset of o. */
static bool is_contains(const set_obj *o, int64_t v)
{
    if (!o->count || int_width(v) > o->width)
        return false;
    const char *blk = arena_ptr(o->blk);
    size_t lo = 0, hi = o->count;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int64_t x = is_get(blk, o->width, mid);
        if (x == v)
            return true;
        if (x < v)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

/* Writes v in decimal into buf (24 bytes); returns the length. */
static size_t fmt_int(char *buf, int64_t v) { return (size_t)snprintf(buf, 24, "%lld", (long long)v); }

/* ---- the working copy of a compact set ---------------------------------------------------- */

/* A compact set decoded into process memory while a command changes it; written back
 * once (copy-on-write) at the end. */
typedef struct work {
    uint32_t enc;            /* the encoding the set has reached so far */
    int64_t *ints;           /* SET_INTSET: sorted */
    hs_str  *strs;           /* SET_LISTPACK: insertion order */
    size_t   n, cap;
    char    *numbuf;         /* text of integers converted to listpack members */
    adict    nd;             /* SET_HT: built fresh */
    uint32_t width;
} work;

/* realloc that aborts on failure (process memory for working copies). */
static void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (!p)
        abort();
    return p;
}

/* Decodes o's compact block into w, with room for `extra` more members. */
static void work_load(work *w, const set_obj *o, size_t extra)
{
    memset(w, 0, sizeof *w);
    w->enc = o->enc;
    w->width = o->width;
    w->cap = o->count + extra + 1;
    adict_init(&w->nd);
    const char *blk = o->blk ? arena_ptr(o->blk) : NULL;
    if (o->enc == SET_INTSET) {
        w->ints = xrealloc(NULL, w->cap * sizeof *w->ints);
        for (size_t i = 0; i < o->count; i++)
            w->ints[i] = is_get(blk, o->width, i);
        w->n = o->count;
    } else {
        w->strs = xrealloc(NULL, w->cap * sizeof *w->strs);
        w->n = blk ? pk_decode(blk, o->blk_size, w->strs) : 0;
    }
}

/* Releases w's process memory (a fresh dict, if any, is now the object's). */
static void work_free(work *w)
{
    free(w->ints);
    free(w->strs);
    free(w->numbuf);
}

/* Moves the working set to a fresh hashtable sized for `more` further members. */
static bool work_to_ht(kv_txn *t, uint32_t s, work *w, size_t more)
{
    bool ok = adict_presize_fresh(t, s, &w->nd, w->n + more);
    char buf[24];
    for (size_t i = 0; ok && i < w->n; i++) {
        if (w->enc == SET_INTSET)
            ok = adict_put_fresh(t, s, &w->nd, buf, fmt_int(buf, w->ints[i]), NULL, 0, false) >= 0;
        else
            ok = adict_put_fresh(t, s, &w->nd, w->strs[i].p, w->strs[i].len, NULL, 0, false) >= 0;
    }
    w->enc = SET_HT;
    return ok;
}

/* Moves a working intset to a listpack (members as text, ascending order). */
static void work_to_listpack(work *w)
{
    w->numbuf = xrealloc(NULL, w->n * 24 + 1);
    w->strs = xrealloc(NULL, w->cap * sizeof *w->strs);
    for (size_t i = 0; i < w->n; i++) {
        char *p = w->numbuf + 24 * i;
        w->strs[i] = (hs_str){ p, fmt_int(p, w->ints[i]) };
    }
    w->enc = SET_LISTPACK;
}

/* Index of the member p among a[0..n), or -1. */
static long lp_index(const hs_str *a, size_t n, const char *p, size_t len)
{
    for (size_t i = 0; i < n; i++)
        if (a[i].len == len && memcmp(a[i].p, p, len) == 0)
            return (long)i;
    return -1;
}

/* Adds one member to the working set, converting as Redis's setTypeAdd does.
 * Returns 1 when added, 0 when present, -1 on failure. */
static int work_add(kv_txn *t, uint32_t s, work *w, hs_str m, size_t more)
{
    long long v;
    if (w->enc == SET_INTSET) {
        if (as_int(m.p, m.len, &v)) {
            size_t pos;
            if (ints_search(w->ints, w->n, v, &pos))
                return 0;
            memmove(w->ints + pos + 1, w->ints + pos, (w->n - pos) * sizeof *w->ints);
            w->ints[pos] = v;
            w->n++;
            if (w->n > SET_INTSET_MAX && !work_to_ht(t, s, w, more))
                return -1;
            return 1;
        }
        /* the longest integer text is 20 bytes: always within the listpack limit */
        if (w->n < SET_LP_MAX_ENTRIES && m.len <= SET_LP_MAX_VALUE)
            work_to_listpack(w);
        else if (!work_to_ht(t, s, w, more + 1))
            return -1;
    }
    if (w->enc == SET_LISTPACK) {
        if (lp_index(w->strs, w->n, m.p, m.len) >= 0)
            return 0;
        if (w->n < SET_LP_MAX_ENTRIES && m.len <= SET_LP_MAX_VALUE) {
            w->strs[w->n++] = m;
            return 1;
        }
        if (!work_to_ht(t, s, w, more + 1))
            return -1;
    }
    return adict_put_fresh(t, s, &w->nd, m.p, m.len, NULL, 0, false);
}

/* Writes the working set back into o: a fresh block or the fresh hashtable, one
 * logged swap, the old block freed at commit. */
static bool work_store(kv_txn *t, uint32_t s, const kv_entry *e, set_obj *o, work *w)
{
    size_t size = 0;
    aoff blk = 0;
    uint32_t width = o->width;
    if (w->enc == SET_INTSET) {
        for (size_t i = 0; i < w->n; i++)
            if (int_width(w->ints[i]) > width)
                width = int_width(w->ints[i]);
        size = w->n * width;
    } else if (w->enc == SET_LISTPACK) {
        size = pk_size(w->strs, w->n);
    }
    if (size) {
        blk = shard_alloc(t, s, size);
        if (!blk)
            return false;
        if (w->enc == SET_INTSET)
            for (size_t i = 0; i < w->n; i++)
                is_put(arena_ptr(blk), width, i, w->ints[i]);
        else
            pk_encode(arena_ptr(blk), w->strs, w->n);
    }
    int64_t delta = (int64_t)block_cost(size) + (int64_t)w->nd.bytes - (int64_t)block_cost(o->blk_size);
    if (o->blk)
        shard_free(t, s, o->blk, o->blk_size);
    if (w->enc == SET_HT) {
        tx_copy(t, s, &o->dict, &w->nd, sizeof w->nd);
        tx_store32(t, s, &o->count, 0);
    } else {
        tx_store32(t, s, &o->count, (uint32_t)w->n);
    }
    tx_store64(t, s, &o->blk, blk);
    tx_store32(t, s, &o->blk_size, (uint32_t)size);
    tx_store32(t, s, &o->width, width);
    tx_store32(t, s, &o->enc, w->enc);
    account(t, s, e, o, delta);
    return !t->failed;
}

/* ---- membership and changes ------------------------------------------------------------------ */

bool set_contains(aoff obj, const char *p, size_t len)
{
    const set_obj *o = set_at(obj);
    if (o->enc == SET_HT)
        return adict_find(&o->dict, p, len) != NULL;
    if (o->enc == SET_INTSET) {
        long long v;
        return as_int(p, len, &v) && is_contains(o, v);
    }
    const char *blk = o->blk ? arena_ptr(o->blk) : NULL;
    for (size_t at = 0; at < o->blk_size;) {
        size_t l = (uint8_t)blk[at];
        if (l == len && memcmp(blk + at + 1, p, len) == 0)
            return true;
        at += 1 + l;
    }
    return false;
}

long long set_add(kv_txn *t, uint32_t s, const kv_entry *e, aoff obj, const hs_str *m, size_t n)
{
    set_obj *o = set_at(obj);
    long long added = 0;
    if (o->enc == SET_HT && (adict_len(&o->dict) || adict_has_table(&o->dict))) {
        uint64_t before = o->dict.bytes;
        for (size_t i = 0; i < n && !t->failed; i++)
            if (!adict_find(&o->dict, m[i].p, m[i].len) &&
                adict_insert(t, s, &o->dict, m[i].p, m[i].len, NULL, 0))
                added++;
        account(t, s, e, o, (int64_t)o->dict.bytes - (int64_t)before);
        return t->failed ? -1 : added;
    }
    /* members all present already (SADD's common repeat): nothing to decode or write */
    size_t present = 0;
    while (present < n && set_contains(obj, m[present].p, m[present].len))
        present++;
    if (present == n)
        return 0;
    /* a compact set, or a brand-new empty hashtable: work on a copy, write back once */
    work w;
    work_load(&w, o, n);
    if (w.enc == SET_HT && !adict_presize_fresh(t, s, &w.nd, n)) {
        work_free(&w);
        return -1;
    }
    bool ok = true;
    for (size_t i = 0; i < n && ok; i++) {
        int r = work_add(t, s, &w, m[i], n - i - 1);
        ok = r >= 0;
        added += r == 1;
    }
    if (ok && added)
        ok = work_store(t, s, e, o, &w);
    work_free(&w);
    return ok ? added : -1;
}

long long set_rem(kv_txn *t, uint32_t s, const kv_entry *e, aoff obj, const hs_str *m, size_t n)
{
    set_obj *o = set_at(obj);
    long long removed = 0;
    if (o->enc == SET_HT) {
        uint64_t before = o->dict.bytes;
        for (size_t i = 0; i < n && !t->failed; i++)
            removed += adict_delete(t, s, &o->dict, m[i].p, m[i].len);
        account(t, s, e, o, (int64_t)o->dict.bytes - (int64_t)before);
        return t->failed ? -1 : removed;
    }
    work w;
    work_load(&w, o, 0);
    for (size_t i = 0; i < n; i++) {
        if (w.enc == SET_INTSET) {
            long long v;
            size_t pos;
            if (!as_int(m[i].p, m[i].len, &v) || !ints_search(w.ints, w.n, v, &pos))
                continue;
            memmove(w.ints + pos, w.ints + pos + 1, (w.n - pos - 1) * sizeof *w.ints);
        } else {
            long idx = lp_index(w.strs, w.n, m[i].p, m[i].len);
            if (idx < 0)
                continue;
            memmove(w.strs + idx, w.strs + idx + 1, (w.n - (size_t)idx - 1) * sizeof *w.strs);
        }
        w.n--;
        removed++;
    }
    bool ok = !removed || work_store(t, s, e, o, &w);
    work_free(&w);
    return ok ? removed : -1;
}

/* qsort order of int64 values. */
static int cmp_int64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

aoff set_build(kv_txn *t, uint32_t s, const hs_str *m, size_t n)
{
    bool ints = n <= SET_INTSET_MAX, small = n <= SET_LP_MAX_ENTRIES;
    long long v;
    for (size_t i = 0; i < n && (ints || small); i++) {
        if (ints && !as_int(m[i].p, m[i].len, &v))
            ints = false;
        if (m[i].len > SET_LP_MAX_VALUE)
            small = false;
    }
    uint32_t enc = ints ? SET_INTSET : small ? SET_LISTPACK : SET_HT;
    aoff obj = set_new(t, s, enc);
    if (!obj)
        return 0;
    set_obj *o = set_at(obj);
    work w;
    work_load(&w, o, n);
    bool ok = true;
    if (enc == SET_HT)
        ok = adict_presize_fresh(t, s, &w.nd, n);
    for (size_t i = 0; i < n && ok; i++) {
        if (enc == SET_INTSET) {
            as_int(m[i].p, m[i].len, &v);
            w.ints[w.n++] = v;
        } else if (enc == SET_LISTPACK) {
            w.strs[w.n++] = m[i];
        } else {
            ok = adict_put_fresh(t, s, &w.nd, m[i].p, m[i].len, NULL, 0, false) >= 0;
        }
    }
    if (ok && enc == SET_INTSET)
        qsort(w.ints, w.n, sizeof *w.ints, cmp_int64);
    /* the root is fresh: plain writes would do, the logged ones are just as correct */
    ok = ok && work_store(t, s, NULL, o, &w);
    work_free(&w);
    return ok ? obj : 0;
}

/* ---- iteration ----------------------------------------------------------------------------------- */

struct fn_adapter {
    set_fn fn;
    void *ctx;
};

/* adict callback forwarding a node's key as a member to a set_fn. */
static void node_visit(adict_node *n, void *arg)
{
    struct fn_adapter *a = arg;
    a->fn((hs_str){ adict_node_key(n), n->klen }, a->ctx);
}

void set_foreach(aoff obj, set_fn fn, void *ctx)
{
    const set_obj *o = set_at(obj);
    if (o->enc == SET_HT) {
        struct fn_adapter a = { fn, ctx };
        adict_foreach(&o->dict, node_visit, &a);
        return;
    }
    const char *blk = o->blk ? arena_ptr(o->blk) : NULL;
    if (o->enc == SET_INTSET) {
        char buf[24];
        for (size_t i = 0; i < o->count; i++)
            fn((hs_str){ buf, fmt_int(buf, is_get(blk, o->width, i)) }, ctx);
        return;
    }
    for (size_t at = 0; at < o->blk_size;) {
        size_t l = (uint8_t)blk[at];
        fn((hs_str){ blk + at + 1, l }, ctx);
        at += 1 + l;
    }
}

uint64_t set_scan(aoff obj, uint64_t cursor, set_fn fn, void *ctx)
{
    const set_obj *o = set_at(obj);
    if (o->enc != SET_HT) {
        set_foreach(obj, fn, ctx);
        return 0;
    }
    struct fn_adapter a = { fn, ctx };
    return adict_scan(&o->dict, cursor, node_visit, &a);
}

void set_random(aoff obj, set_member *out)
{
    const set_obj *o = set_at(obj);
    if (o->enc == SET_HT) {
        adict_node *n = adict_random(&o->dict);
        out->s = (hs_str){ adict_node_key(n), n->klen };
        return;
    }
    uint64_t pick = rng_u64() % o->count;
    const char *blk = arena_ptr(o->blk);
    if (o->enc == SET_INTSET) {
        out->s = (hs_str){ out->buf, fmt_int(out->buf, is_get(blk, o->width, pick)) };
        return;
    }
    size_t at = 0;
    while (pick--)
        at += 1 + (uint8_t)blk[at];
    out->s = (hs_str){ blk + at + 1, (uint8_t)blk[at] };
}

/* ---- type hooks ------------------------------------------------------------------------------------- */

/* Frees up to budget members; true once the root is freed too. */
static bool set_free_step(kv_txn *t, uint32_t s, aoff obj, unsigned budget)
{
    set_obj *o = set_at(obj);
    if (o->enc == SET_HT) {
        uint64_t before = o->dict.bytes;
        bool done = adict_free_step(t, s, &o->dict, budget);
        tx_add64(t, s, &o->bytes, -(int64_t)(before - o->dict.bytes));
        if (!done)
            return false;
    }
    if (o->blk) {
        shard_free(t, s, o->blk, o->blk_size);
        tx_add64(t, s, &o->bytes, -(int64_t)block_cost(o->blk_size));
        tx_store64(t, s, &o->blk, 0);
    }
    shard_free(t, s, obj, sizeof(set_obj));
    return !t->failed;
}

/* Deep copy into dst_shard (fresh memory); returns the new root or 0. */
static aoff set_copy_obj(kv_txn *t, uint32_t dst_shard, aoff obj, uint32_t src_shard)
{
    (void)src_shard;
    const set_obj *o = set_at(obj);
    aoff off = set_new(t, dst_shard, o->enc);
    if (!off)
        return 0;
    set_obj *no = set_at(off);
    no->width = o->width;
    if (o->enc == SET_HT) {
        if (!adict_copy(t, dst_shard, &o->dict, &no->dict))
            return 0;
        no->bytes += no->dict.bytes;
    } else if (o->blk) {
        aoff blk = shard_alloc(t, dst_shard, o->blk_size);
        if (!blk)
            return 0;
        memcpy(arena_ptr(blk), arena_ptr(o->blk), o->blk_size);
        no->blk = blk;
        no->blk_size = o->blk_size;
        no->count = o->count;
        no->bytes += block_cost(o->blk_size);
    }
    return t->failed ? 0 : off;
}

/* obj_bytes hook: the root's byte counter. */
static size_t set_obj_bytes(aoff obj) { return set_at(obj)->bytes; }

const type_ops set_type_ops = {
    .free_step = set_free_step,
    .copy_obj = set_copy_obj,
    .obj_bytes = set_obj_bytes,
    .encoding = set_encoding,
};

/* ---- checking ---------------------------------------------------------------------------------------- */

int set_check(aoff obj, char *err, size_t errlen)
{
    const set_obj *o = set_at(obj);
    uint64_t bytes = root_cost() + block_cost(o->blk_size);
    const char *blk = o->blk ? arena_ptr(o->blk) : NULL;
    if (!o->blk != !o->blk_size) {
        snprintf(err, errlen, "set block and size disagree");
        return -1;
    }
    if (o->enc == SET_HT) {
        if (o->blk || o->count) {
            snprintf(err, errlen, "hashtable set keeps a block");
            return -1;
        }
        if (adict_check(&o->dict, err, errlen))
            return -1;
        bytes += o->dict.bytes;
    } else if (o->enc == SET_INTSET) {
        if (o->count > SET_INTSET_MAX || o->blk_size != o->count * o->width || adict_len(&o->dict)) {
            snprintf(err, errlen, "intset: bad header (count %u width %u size %u)", o->count, o->width, o->blk_size);
            return -1;
        }
        for (size_t i = 1; i < o->count; i++) {
            if (is_get(blk, o->width, i - 1) >= is_get(blk, o->width, i)) {
                snprintf(err, errlen, "intset not strictly ascending at %zu", i);
                return -1;
            }
        }
    } else if (o->enc == SET_LISTPACK) {
        if (o->count > SET_LP_MAX_ENTRIES || adict_len(&o->dict)) {
            snprintf(err, errlen, "listpack set: bad header (count %u)", o->count);
            return -1;
        }
        hs_str *items = xrealloc(NULL, (o->count + 1) * sizeof *items);
        size_t n = blk ? pk_decode(blk, o->blk_size, items) : 0;
        int rc = 0;
        if (n != o->count) {
            snprintf(err, errlen, "listpack set holds %zu members, count says %u", n, o->count);
            rc = -1;
        }
        for (size_t i = 0; i < n && !rc; i++) {
            if (items[i].len > SET_LP_MAX_VALUE || lp_index(items, i, items[i].p, items[i].len) >= 0) {
                snprintf(err, errlen, "listpack set: bad or repeated member '%.*s'", (int)items[i].len, items[i].p);
                rc = -1;
            }
        }
        free(items);
        if (rc)
            return rc;
    } else {
        snprintf(err, errlen, "set with unknown encoding %u", o->enc);
        return -1;
    }
    if (bytes != o->bytes) {
        snprintf(err, errlen, "set holds %llu bytes, counter says %llu", (unsigned long long)bytes,
                 (unsigned long long)o->bytes);
        return -1;
    }
    return 0;
}
