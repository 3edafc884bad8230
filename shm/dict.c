/* dict.c - the collection dict (see dict.h): an htable of adict_node chains. This file
 * holds what is particular to dicts - nodes with key and value bytes, the byte
 * counter, in-place value updates, deep copies - and leaves rehash, scan, random
 * picks, freeing and structural checks to htable.c. */
#include "kvns/dict.h"
#include "kvns/store.h"
#include "kvns/alloc.h"

#include <stdio.h>
#include <string.h>
#include <stddef.h>

#define NODE_HDR         ((size_t)sizeof(adict_node))
#define INPLACE_MAX      4096    /* values up to this are overwritten in place */

/* ---- hashing -------------------------------------------------------------------- */

/* Hash of a member or field (see kv_hash_bytes). */
uint64_t adict_hash(const void *key, size_t n)
{
    /* another seed than the keyspace's: members and keys hash independently */
    return kv_hash_bytes(key, n, arena_hdr()->hash_seed ^ 0x6469637464696374ULL);
}

/* ---- the table type ------------------------------------------------------------------ */

/* Allocation size of node n (what it was allocated with, up to its size class). */
static inline size_t node_size(const adict_node *n) { return NODE_HDR + n->klen + n->vlen; }

/* The key bytes of a node (htable_type.key). */
static const char *node_key(const void *node, size_t *len)
{
    const adict_node *n = node;
    *len = n->klen;
    return adict_node_key(n);
}

/* Frees a node of a dead dict (htable_type.node_free); returns its cost. */
static size_t node_free(kv_txn *t, uint32_t s, void *node)
{
    adict_node *n = node;
    size_t cost = adict_node_cost(n->klen, n->vlen);
    shard_free(t, s, arena_off(n), node_size(n));
    return cost;
}

/* Collection dicts: adict_node chains, tables and nodes counted in adict.bytes. */
static const htable_type dict_type = {
    .next_off = offsetof(adict_node, next),
    .min_size = 4,
    .shrink_ratio = 8,
    .bytes_off = (int32_t)(offsetof(adict, bytes) - offsetof(adict, ht)),
    .key = node_key,
    .hash = adict_hash,
    .node_free = node_free,
};

void adict_init(adict *d)
{
    htable_init(&d->ht);
    d->bytes = 0;
}

size_t adict_node_cost(size_t klen, size_t vlen) { return alloc_real_size(NODE_HDR + klen + vlen); }

/* True when n holds exactly these key bytes. */
static inline bool node_matches(const adict_node *n, const void *key, size_t klen)
{
    return n->klen == klen && memcmp(adict_node_key(n), key, klen) == 0;
}

/* Finds key; returns the node and sets *link to the aref pointing at it and *in_table
 * to its table (NULL when absent). */
static inline adict_node *find_link(const adict *d, const void *key, size_t klen, uint64_t hash,
                                    aref **link, int *in_table)
{
    for (int tbl = 0; tbl <= htable_last_table(&d->ht); tbl++) {
        aref *l = htable_chain(&d->ht, tbl, hash);
        if (!l)
            continue;
        while (*l) {
            adict_node *n = ref_ptr(*l);
            if (node_matches(n, key, klen)) {
                *link = l;
                *in_table = tbl;
                return n;
            }
            l = &n->next;
        }
    }
    return NULL;
}

adict_node *adict_find(const adict *d, const void *key, size_t klen)
{
    if (!adict_len(d))
        return NULL;
    aref *link;
    int tbl;
    return find_link(d, key, klen, adict_hash(key, klen), &link, &tbl);
}

void adict_rehash_step(kv_txn *t, uint32_t s, adict *d, unsigned buckets)
{
    if (htable_rehashing(&d->ht))
        htable_rehash_step(t, s, &dict_type, &d->ht, buckets);
}

bool adict_expand(kv_txn *t, uint32_t s, adict *d, uint64_t n)
{
    return htable_expand(t, s, &dict_type, &d->ht, n);
}

/* ---- mutation ---------------------------------------------------------------------- */

/* Allocates and fills a node (fresh memory). */
static adict_node *node_build(kv_txn *t, uint32_t s, const void *key, size_t klen, const void *val,
                              size_t vlen)
{
    aoff off = shard_alloc(t, s, NODE_HDR + klen + vlen);
    if (!off)
        return NULL;
    adict_node *n = arena_ptr(off);
    n->next = 0;
    n->klen = (uint32_t)klen;
    n->vlen = (uint32_t)vlen;
    n->pad = 0;
    if (klen)
        memcpy((char *)(n + 1), key, klen);
    if (vlen)
        memcpy((char *)(n + 1) + klen, val, vlen);
    return n;
}

adict_node *adict_insert(kv_txn *t, uint32_t s, adict *d, const void *key, size_t klen,
                         const void *val, size_t vlen)
{
    if (t->failed)
        return NULL;
    adict_rehash_step(t, s, d, 1);
    htable_resize_if_needed(t, s, &dict_type, &d->ht, adict_len(d) + 1);
    adict_node *n = node_build(t, s, key, klen, val, vlen);
    if (!n || t->failed)
        return NULL;
    htable_insert(t, s, &dict_type, &d->ht, n, adict_hash(key, klen));
    tx_add64(t, s, &d->bytes, (int64_t)adict_node_cost(klen, vlen));
    return t->failed ? NULL : n;
}

adict_node *adict_set_value(kv_txn *t, uint32_t s, adict *d, adict_node *n, const void *val, size_t vlen)
{
    if (t->failed)
        return NULL;
    size_t old_cost = adict_node_cost(n->klen, n->vlen);
    size_t new_size = NODE_HDR + n->klen + vlen;
    if (new_size <= INPLACE_MAX && alloc_real_size(new_size) == old_cost) {
        /* same size class: overwrite in place (the block is the same allocation) */
        if (vlen)
            tx_copy(t, s, adict_node_val(n), val, vlen);
        if (n->vlen != vlen)
            tx_store32(t, s, &n->vlen, (uint32_t)vlen);
        return t->failed ? NULL : n;
    }
    aref *link;
    int tbl;
    uint64_t h = adict_hash(adict_node_key(n), n->klen);
    if (find_link(d, adict_node_key(n), n->klen, h, &link, &tbl) != n)
        return NULL;
    adict_node *nw = node_build(t, s, adict_node_key(n), n->klen, val, vlen);
    if (!nw)
        return NULL;
    htable_replace(t, s, &dict_type, link, n, nw);
    shard_free(t, s, arena_off(n), node_size(n));
    tx_add64(t, s, &d->bytes, (int64_t)alloc_real_size(new_size) - (int64_t)old_cost);
    return t->failed ? NULL : nw;
}

bool adict_delete(kv_txn *t, uint32_t s, adict *d, const void *key, size_t klen)
{
    if (!adict_len(d) || t->failed)
        return false;
    adict_rehash_step(t, s, d, 1);
    aref *link;
    int tbl;
    adict_node *n = find_link(d, key, klen, adict_hash(key, klen), &link, &tbl);
    if (!n)
        return false;
    htable_unlink(t, s, &dict_type, &d->ht, link, n, tbl);
    tx_add64(t, s, &d->bytes, -(int64_t)adict_node_cost(n->klen, n->vlen));
    shard_free(t, s, arena_off(n), node_size(n));
    htable_resize_if_needed(t, s, &dict_type, &d->ht, adict_len(d));
    return true;
}

/* ---- iteration ----------------------------------------------------------------------- */

/* An adict callback carried through the htable's untyped one. */
struct visit_ctx {
    void (*fn)(adict_node *n, void *ctx);
    void *ctx;
};

/* htable visitor calling the adict callback. */
static void visit_node(void *node, void *ctx)
{
    struct visit_ctx *c = ctx;
    c->fn(node, c->ctx);
}

uint64_t adict_scan(const adict *d, uint64_t v, void (*fn)(adict_node *n, void *ctx), void *ctx)
{
    if (!adict_len(d))
        return 0;
    struct visit_ctx c = { fn, ctx };
    return htable_scan(&d->ht, &dict_type, v, visit_node, &c);
}

void adict_foreach(const adict *d, void (*fn)(adict_node *n, void *ctx), void *ctx)
{
    struct visit_ctx c = { fn, ctx };
    htable_foreach(&d->ht, &dict_type, visit_node, &c);
}

adict_node *adict_random(const adict *d) { return htable_random(&d->ht, &dict_type); }

/* ---- freeing and copying ----------------------------------------------------------------- */

bool adict_free_step(kv_txn *t, uint32_t s, adict *d, unsigned budget)
{
    return htable_free_step(t, s, &dict_type, &d->ht, budget);
}

/* Where adict_copy builds and what it counts. */
struct copy_ctx {
    kv_txn  *t;
    uint32_t shard;
    adict   *dst;
};

/* Copies one source node into the fresh destination dict (no undo). */
static void copy_node(void *node, void *ctx)
{
    struct copy_ctx *c = ctx;
    const adict_node *sn = node;
    if (c->t->failed)
        return;
    aoff off = shard_alloc(c->t, c->shard, node_size(sn));
    if (!off)
        return;
    adict_node *dn = arena_ptr(off);
    memcpy(dn, sn, node_size(sn));
    htable_insert_fresh(&dict_type, &c->dst->ht, dn, adict_hash(adict_node_key(sn), sn->klen));
    c->dst->bytes += adict_node_cost(sn->klen, sn->vlen);
}

aoff adict_copy(kv_txn *t, uint32_t dst_shard, const adict *src, adict *dst)
{
    adict_init(dst);
    uint64_t n = adict_len(src);
    if (!n)
        return 1;
    if (!htable_presize_fresh(t, dst_shard, &dict_type, &dst->ht, n))
        return 0;
    struct copy_ctx c = { t, dst_shard, dst };
    htable_foreach(&src->ht, &dict_type, copy_node, &c);
    return t->failed ? 0 : 1;
}

/* ---- fresh building ------------------------------------------------------------------ */

bool adict_presize_fresh(kv_txn *t, uint32_t s, adict *d, uint64_t n)
{
    return htable_presize_fresh(t, s, &dict_type, &d->ht, n);
}

int adict_put_fresh(kv_txn *t, uint32_t s, adict *d, const void *key, size_t klen, const void *val,
                    size_t vlen, bool replace)
{
    if (t->failed)
        return -1;
    uint64_t h = adict_hash(key, klen);
    aref *link;
    int tbl;
    adict_node *old = d->ht.used[0] ? find_link(d, key, klen, h, &link, &tbl) : NULL;
    if (old && !replace)
        return 0;
    if (!old && !htable_presize_fresh(t, s, &dict_type, &d->ht, d->ht.used[0] + 1))
        return -1;
    adict_node *n = node_build(t, s, key, klen, val, vlen);
    if (!n)
        return -1;
    if (old) {
        n->next = old->next;
        *link = ptr_ref(n);
        d->bytes -= adict_node_cost(old->klen, old->vlen);
        shard_free(t, s, arena_off(old), node_size(old));
    } else {
        htable_insert_fresh(&dict_type, &d->ht, n, h);
    }
    d->bytes += adict_node_cost(klen, vlen);
    return old ? 0 : 1;
}

/* ---- checking ------------------------------------------------------------------------- */

/* What adict_check's per-node visit needs: the dict and the byte sum so far. */
struct check_ctx {
    const adict *d;
    uint64_t     bytes;
};

/* Per-node part of adict_check: the key is found as this very node (not shadowed by a
 * duplicate) and its cost is summed. */
static int check_node(const void *node, void *ctx, char *err, size_t errlen)
{
    const adict_node *n = node;
    struct check_ctx *c = ctx;
    if (adict_find(c->d, adict_node_key(n), n->klen) != n) {
        snprintf(err, errlen, "dict: key '%.*s' present twice",
                 (int)(n->klen > 64 ? 64 : n->klen), adict_node_key(n));
        return -1;
    }
    c->bytes += adict_node_cost(n->klen, n->vlen);
    return 0;
}

int adict_check(const adict *d, char *err, size_t errlen)
{
    struct check_ctx c = { d, htable_table_bytes(&d->ht) };
    if (htable_check(&d->ht, &dict_type, "dict", check_node, &c, err, errlen) < 0)
        return -1;
    if (c.bytes != d->bytes) {
        snprintf(err, errlen, "dict holds %llu bytes, counter says %llu", (unsigned long long)c.bytes,
                 (unsigned long long)d->bytes);
        return -1;
    }
    return 0;
}
