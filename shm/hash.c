/* hash.c - the HASH type: listpack and hashtable encodings (see hash.h). */
#include "kvns/hash.h"
#include "kvns/rng.h"
#include "kvns/alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Bytes the root allocation really takes. */
static size_t root_cost(void) { return alloc_real_size(sizeof(hash_obj)); }

/* Bytes a packed block of size bytes really takes (0 for none). */
static size_t block_cost(uint64_t size) { return size ? alloc_real_size(size) : 0; }

/* Adds delta to the root's byte counter and, once the object is in the keyspace, to
 * the namespace of its entry e. */
static void account(kv_txn *t, uint32_t s, const kv_entry *e, hash_obj *h, int64_t delta)
{
    if (!delta)
        return;
    tx_add64(t, s, &h->bytes, delta);
    if (e)
        store_charge(t, s, e, delta);
}

aoff hash_new(kv_txn *t, uint32_t s)
{
    aoff off = shard_alloc(t, s, sizeof(hash_obj));
    if (!off)
        return 0;
    hash_obj *h = arena_ptr(off);
    memset(h, 0, sizeof *h);
    h->enc = HASH_LISTPACK;
    adict_init(&h->dict);
    h->bytes = root_cost();
    return off;
}

uint64_t hash_len(aoff obj)
{
    const hash_obj *h = hash_at(obj);
    return h->enc == HASH_HT ? adict_len(&h->dict) : h->count;
}

const char *hash_encoding(aoff obj) { return hash_at(obj)->enc == HASH_HT ? "hashtable" : "listpack"; }

/* ---- listpack helpers ---------------------------------------------------------------- */

/* Decodes the listpack into a malloc'd array with room for `extra` more entries;
 * *n = entries decoded (2 per field). The array points into the block, which stays
 * valid for the transaction (frees are deferred to commit). */
static hs_str *lp_items(const hash_obj *h, size_t extra, size_t *n)
{
    hs_str *items = malloc((2 * (size_t)h->count + extra + 1) * sizeof *items);
    if (!items)
        abort();
    *n = h->lp ? pk_decode(arena_ptr(h->lp), h->lp_size, items) : 0;
    return items;
}

/* Index of field f among items[0..n) (pairs), or -1. */
static long lp_find(const hs_str *items, size_t n, const char *f, size_t flen)
{
    for (size_t i = 0; i < n; i += 2)
        if (items[i].len == flen && memcmp(items[i].p, f, flen) == 0)
            return (long)i;
    return -1;
}

/* Replaces the block by a fresh one holding items[0..n) (copy-on-write: one logged
 * pointer swap, the old block freed at commit). Returns false on failure. */
static bool lp_store(kv_txn *t, uint32_t s, const kv_entry *e, hash_obj *h, const hs_str *items, size_t n)
{
    size_t size = pk_size(items, n);
    aoff blk = 0;
    if (size) {
        blk = shard_alloc(t, s, size);
        if (!blk)
            return false;
        pk_encode(arena_ptr(blk), items, n);
    }
    int64_t delta = (int64_t)block_cost(size) - (int64_t)block_cost(h->lp_size);
    if (h->lp)
        shard_free(t, s, h->lp, h->lp_size);
    tx_store64(t, s, &h->lp, blk);
    tx_store64(t, s, &h->lp_size, size);
    tx_store32(t, s, &h->count, (uint32_t)(n / 2));
    account(t, s, e, h, delta);
    return !t->failed;
}

/* HSET's common update - one existing field, a new value of the old one's length -
 * done in place: one logged copy of the value bytes (at most HASH_LP_MAX_VALUE)
 * instead of decoding and re-encoding the block. Returns false (nothing changed)
 * when the field is missing or its value has another length. */
static bool lp_overwrite_value(kv_txn *t, uint32_t s, hash_obj *h, const hs_str *f, const hs_str *v)
{
    if (!h->lp)
        return false;
    char *blk = arena_ptr(h->lp);
    for (size_t at = 0; at < h->lp_size;) {
        size_t fl = (uint8_t)blk[at];
        size_t vl = (uint8_t)blk[at + 1 + fl];
        if (fl == f->len && memcmp(blk + at + 1, f->p, fl) == 0) {
            if (vl != v->len)
                return false;
            tx_copy(t, s, blk + at + 2 + fl, v->p, vl);
            return true;
        }
        at += 2 + fl + vl;
    }
    return false;
}

/* Converts the listpack to a hashtable built fresh (no undo per field) holding the
 * current fields plus pairs kv[0..2n) applied in order; *added counts new fields. */
static bool lp_convert(kv_txn *t, uint32_t s, const kv_entry *e, hash_obj *h, const hs_str *kv, size_t n,
                       bool nx, long long *added)
{
    size_t m;
    hs_str *items = lp_items(h, 0, &m);
    adict nd;
    adict_init(&nd);
    bool ok = adict_presize_fresh(t, s, &nd, m / 2 + n);
    for (size_t i = 0; ok && i < m; i += 2)
        ok = adict_put_fresh(t, s, &nd, items[i].p, items[i].len, items[i + 1].p, items[i + 1].len, false) >= 0;
    *added = 0;
    for (size_t i = 0; ok && i < n; i++) {
        int r = adict_put_fresh(t, s, &nd, kv[2 * i].p, kv[2 * i].len, kv[2 * i + 1].p, kv[2 * i + 1].len, !nx);
        ok = r >= 0;
        *added += r == 1;
    }
    free(items);
    if (!ok || t->failed)
        return false;
    int64_t delta = (int64_t)nd.bytes - (int64_t)block_cost(h->lp_size);
    if (h->lp)
        shard_free(t, s, h->lp, h->lp_size);
    tx_copy(t, s, &h->dict, &nd, sizeof nd);
    tx_store32(t, s, &h->enc, HASH_HT);
    tx_store32(t, s, &h->count, 0);
    tx_store64(t, s, &h->lp, 0);
    tx_store64(t, s, &h->lp_size, 0);
    account(t, s, e, h, delta);
    return !t->failed;
}

/* ---- reads ----------------------------------------------------------------------------- */

bool hash_get(aoff obj, const char *f, size_t flen, hs_str *v)
{
    const hash_obj *h = hash_at(obj);
    if (h->enc == HASH_HT) {
        adict_node *n = adict_find(&h->dict, f, flen);
        if (!n)
            return false;
        v->p = adict_node_val(n);
        v->len = n->vlen;
        return true;
    }
    const char *blk = h->lp ? arena_ptr(h->lp) : NULL;
    for (size_t at = 0; at < h->lp_size;) {
        size_t fl = (uint8_t)blk[at];
        const char *fp = blk + at + 1;
        size_t vl = (uint8_t)blk[at + 1 + fl];
        const char *vp = blk + at + 2 + fl;
        if (fl == flen && memcmp(fp, f, flen) == 0) {
            v->p = vp;
            v->len = vl;
            return true;
        }
        at += 2 + fl + vl;
    }
    return false;
}

struct fn_adapter {
    hash_fn fn;
    void *ctx;
};

/* adict callback forwarding a node as (field, value) to a hash_fn. */
static void node_visit(adict_node *n, void *arg)
{
    struct fn_adapter *a = arg;
    a->fn((hs_str){ adict_node_key(n), n->klen }, (hs_str){ adict_node_val(n), n->vlen }, a->ctx);
}

void hash_foreach(aoff obj, hash_fn fn, void *ctx)
{
    const hash_obj *h = hash_at(obj);
    if (h->enc == HASH_HT) {
        struct fn_adapter a = { fn, ctx };
        adict_foreach(&h->dict, node_visit, &a);
        return;
    }
    const char *blk = h->lp ? arena_ptr(h->lp) : NULL;
    for (size_t at = 0; at < h->lp_size;) {
        size_t fl = (uint8_t)blk[at];
        size_t vl = (uint8_t)blk[at + 1 + fl];
        fn((hs_str){ blk + at + 1, fl }, (hs_str){ blk + at + 2 + fl, vl }, ctx);
        at += 2 + fl + vl;
    }
}

uint64_t hash_scan(aoff obj, uint64_t cursor, hash_fn fn, void *ctx)
{
    const hash_obj *h = hash_at(obj);
    if (h->enc != HASH_HT) {
        hash_foreach(obj, fn, ctx);
        return 0;
    }
    struct fn_adapter a = { fn, ctx };
    return adict_scan(&h->dict, cursor, node_visit, &a);
}

void hash_random(aoff obj, hs_str *field, hs_str *value)
{
    const hash_obj *h = hash_at(obj);
    if (h->enc == HASH_HT) {
        adict_node *n = adict_random(&h->dict);
        *field = (hs_str){ adict_node_key(n), n->klen };
        *value = (hs_str){ adict_node_val(n), n->vlen };
        return;
    }
    uint64_t pick = rng_u64() % h->count;
    const char *blk = arena_ptr(h->lp);
    size_t at = 0;
    for (;;) {
        size_t fl = (uint8_t)blk[at];
        size_t vl = (uint8_t)blk[at + 1 + fl];
        if (pick-- == 0) {
            *field = (hs_str){ blk + at + 1, fl };
            *value = (hs_str){ blk + at + 2 + fl, vl };
            return;
        }
        at += 2 + fl + vl;
    }
}

/* ---- writes ------------------------------------------------------------------------------ */

long long hash_set(kv_txn *t, uint32_t s, const kv_entry *e, aoff obj, const hs_str *kv, size_t n,
                   bool nx, bool force_ht)
{
    hash_obj *h = hash_at(obj);
    long long added = 0;
    if (h->enc == HASH_LISTPACK && n == 1 && !nx && !force_ht &&
        kv[1].len <= HASH_LP_MAX_VALUE && lp_overwrite_value(t, s, h, &kv[0], &kv[1]))
        return t->failed ? -1 : 0;
    if (h->enc == HASH_LISTPACK) {
        bool convert = force_ht, changed = false;
        size_t m;
        hs_str *items = lp_items(h, 2 * n, &m);
        for (size_t i = 0; i < n && !convert; i++) {
            const hs_str *f = &kv[2 * i], *v = &kv[2 * i + 1];
            long idx = lp_find(items, m, f->p, f->len);
            if (idx >= 0 && nx)
                continue;                   /* HSETNX on an existing field: no change */
            if (f->len > HASH_LP_MAX_VALUE || v->len > HASH_LP_MAX_VALUE) {
                convert = true;
            } else if (idx >= 0) {
                items[idx + 1] = *v;
                changed = true;
            } else if (m / 2 >= HASH_LP_MAX_ENTRIES) {
                convert = true;
            } else {
                items[m++] = *f;
                items[m++] = *v;
                added++;
                changed = true;
            }
        }
        bool ok = true;
        if (convert)
            ok = lp_convert(t, s, e, h, kv, n, nx, &added);
        else if (changed)
            ok = lp_store(t, s, e, h, items, m);
        free(items);
        return ok ? added : -1;
    }
    uint64_t before = h->dict.bytes;
    for (size_t i = 0; i < n && !t->failed; i++) {
        const hs_str *f = &kv[2 * i], *v = &kv[2 * i + 1];
        adict_node *node = adict_find(&h->dict, f->p, f->len);
        if (node) {
            if (!nx)
                adict_set_value(t, s, &h->dict, node, v->p, v->len);
        } else if (adict_insert(t, s, &h->dict, f->p, f->len, v->p, v->len)) {
            added++;
        }
    }
    account(t, s, e, h, (int64_t)h->dict.bytes - (int64_t)before);
    return t->failed ? -1 : added;
}

long long hash_del(kv_txn *t, uint32_t s, const kv_entry *e, aoff obj, const hs_str *f, size_t n)
{
    hash_obj *h = hash_at(obj);
    long long deleted = 0;
    if (h->enc == HASH_LISTPACK) {
        size_t m;
        hs_str *items = lp_items(h, 0, &m);
        for (size_t i = 0; i < n; i++) {
            long idx = lp_find(items, m, f[i].p, f[i].len);
            if (idx < 0)
                continue;
            memmove(items + idx, items + idx + 2, (m - (size_t)idx - 2) * sizeof *items);
            m -= 2;
            deleted++;
        }
        bool ok = !deleted || lp_store(t, s, e, h, items, m);
        free(items);
        return ok ? deleted : -1;
    }
    uint64_t before = h->dict.bytes;
    for (size_t i = 0; i < n && !t->failed; i++)
        deleted += adict_delete(t, s, &h->dict, f[i].p, f[i].len);
    account(t, s, e, h, (int64_t)h->dict.bytes - (int64_t)before);
    return t->failed ? -1 : deleted;
}

/* ---- type hooks ---------------------------------------------------------------------------- */

/* Frees up to budget fields; true once the root itself is freed too. */
static bool hash_free_step(kv_txn *t, uint32_t s, aoff obj, unsigned budget)
{
    hash_obj *h = hash_at(obj);
    if (h->enc == HASH_HT) {
        uint64_t before = h->dict.bytes;
        bool done = adict_free_step(t, s, &h->dict, budget);
        tx_add64(t, s, &h->bytes, -(int64_t)(before - h->dict.bytes));
        if (!done)
            return false;
    }
    if (h->lp) {
        shard_free(t, s, h->lp, h->lp_size);
        tx_add64(t, s, &h->bytes, -(int64_t)block_cost(h->lp_size));
        tx_store64(t, s, &h->lp, 0);
    }
    shard_free(t, s, obj, sizeof(hash_obj));
    return !t->failed;
}

/* Deep copy into dst_shard (fresh memory); returns the new root or 0. */
static aoff hash_copy_obj(kv_txn *t, uint32_t dst_shard, aoff obj, uint32_t src_shard)
{
    (void)src_shard;
    const hash_obj *h = hash_at(obj);
    aoff off = hash_new(t, dst_shard);
    if (!off)
        return 0;
    hash_obj *nh = hash_at(off);
    if (h->enc == HASH_HT) {
        if (!adict_copy(t, dst_shard, &h->dict, &nh->dict))
            return 0;
        nh->enc = HASH_HT;
        nh->bytes += nh->dict.bytes;
    } else if (h->lp) {
        aoff blk = shard_alloc(t, dst_shard, h->lp_size);
        if (!blk)
            return 0;
        memcpy(arena_ptr(blk), arena_ptr(h->lp), h->lp_size);
        nh->lp = blk;
        nh->lp_size = h->lp_size;
        nh->count = h->count;
        nh->bytes += block_cost(h->lp_size);
    }
    return t->failed ? 0 : off;
}

/* obj_bytes hook: the root's byte counter. */
static size_t hash_obj_bytes(aoff obj) { return hash_at(obj)->bytes; }

const type_ops hash_type_ops = {
    .free_step = hash_free_step,
    .copy_obj = hash_copy_obj,
    .obj_bytes = hash_obj_bytes,
    .encoding = hash_encoding,
};

/* ---- checking ------------------------------------------------------------------------------ */

int hash_check(aoff obj, char *err, size_t errlen)
{
    const hash_obj *h = hash_at(obj);
    uint64_t bytes = root_cost() + block_cost(h->lp_size);
    if (h->enc == HASH_HT) {
        if (h->lp || h->count) {
            snprintf(err, errlen, "hashtable hash keeps a listpack");
            return -1;
        }
        if (adict_check(&h->dict, err, errlen))
            return -1;
        bytes += h->dict.bytes;
    } else if (h->enc == HASH_LISTPACK) {
        if (adict_len(&h->dict) || h->dict.bytes || h->count > HASH_LP_MAX_ENTRIES || !h->lp != !h->lp_size) {
            snprintf(err, errlen, "listpack hash: bad header (count %u)", h->count);
            return -1;
        }
        size_t m;
        hs_str *items = lp_items(h, 0, &m);
        int rc = 0;
        if (m != 2 * (size_t)h->count || pk_size(items, m) != h->lp_size) {
            snprintf(err, errlen, "listpack hash holds %zu entries for %u fields", m, h->count);
            rc = -1;
        }
        for (size_t i = 0; i < m && !rc; i++) {
            if (items[i].len > HASH_LP_MAX_VALUE) {
                snprintf(err, errlen, "listpack hash entry of %zu bytes", items[i].len);
                rc = -1;
            } else if (i % 2 == 0 && lp_find(items, i, items[i].p, items[i].len) >= 0) {
                snprintf(err, errlen, "listpack hash repeats field '%.*s'", (int)items[i].len, items[i].p);
                rc = -1;
            }
        }
        free(items);
        if (rc)
            return rc;
    } else {
        snprintf(err, errlen, "hash with unknown encoding %u", h->enc);
        return -1;
    }
    if (bytes != h->bytes) {
        snprintf(err, errlen, "hash holds %llu bytes, counter says %llu", (unsigned long long)bytes,
                 (unsigned long long)h->bytes);
        return -1;
    }
    return 0;
}
