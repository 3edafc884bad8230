/* dict.c - arena hash table with incremental rehash (see dict.h). Modelled on the
 * shard tables of store.c: new keys go to table 1 while a rehash is running, every
 * mutation moves one bucket, and the load factor stays between 1/8 and 1. */
#include "kvns/dict.h"
#include "kvns/rng.h"
#include "kvns/store.h"
#include "kvns/alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NODE_HDR         ((size_t)sizeof(adict_node))
#define TABLE_MIN        4
#define REHASH_EMPTY_MAX 10
#define INPLACE_MAX      4096    /* values up to this are overwritten in place */

/* ---- hashing -------------------------------------------------------------------- */

/* Hash of a member or field (see kv_hash_bytes). */
uint64_t adict_hash(const void *key, size_t n)
{
    /* another seed than the keyspace's: members and keys hash independently */
    return kv_hash_bytes(key, n, arena_hdr()->hash_seed ^ 0x6469637464696374ULL);
}

/* ---- basics ------------------------------------------------------------------------ */

void adict_init(adict *d)
{
    memset(d, 0, sizeof *d);
    d->rehash_idx = -1;
}

uint64_t adict_len(const adict *d) { return d->used[0] + d->used[1]; }

size_t adict_node_cost(size_t klen, size_t vlen) { return alloc_real_size(NODE_HDR + klen + vlen); }

/* Allocation size of node n (what it was allocated with, up to its size class). */
static inline size_t node_size(const adict_node *n) { return NODE_HDR + n->klen + n->vlen; }

/* Smallest power-of-two table (>= TABLE_MIN) for n keys at load factor <= 1. */
static uint64_t table_size_for(uint64_t n)
{
    uint64_t size = TABLE_MIN;
    while (size < n)
        size *= 2;
    return size;
}

/* True while table 1 is being filled from table 0. */
static inline bool rehashing(const adict *d) { return d->rehash_idx >= 0; }

/* The head link of bucket idx of table tbl. */
static inline aref *bucket_at(const adict *d, int tbl, uint64_t idx)
{
    return (aref *)arena_ptr(d->table[tbl]) + idx;
}

/* True when n holds exactly these key bytes. */
static inline bool node_matches(const adict_node *n, const void *key, size_t klen)
{
    return n->klen == klen && memcmp(adict_node_key(n), key, klen) == 0;
}

/* Finds key; returns the node and sets *link to the aref pointing at it (NULL when
 * absent). Skips the already-moved buckets of table 0 during a rehash. */
static adict_node *find_link(const adict *d, const void *key, size_t klen, uint64_t hash, aref **link,
                             int *in_table)
{
    for (int tbl = 0; tbl <= (rehashing(d) ? 1 : 0); tbl++) {
        if (!d->size[tbl])
            continue;
        uint64_t idx = hash & (d->size[tbl] - 1);
        if (tbl == 0 && rehashing(d) && idx < (uint64_t)d->rehash_idx)
            continue;
        aref *l = bucket_at(d, tbl, idx);
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

/* ---- tables and rehash ------------------------------------------------------------- */

/* Allocates a zeroed bucket array (fresh memory, no undo) and counts it in d->bytes
 * (logged). Returns 0 on failure. */
static aoff table_alloc(kv_txn *t, uint32_t s, adict *d, uint64_t size)
{
    aoff off = shard_alloc(t, s, size * sizeof(aref));
    if (!off)
        return 0;
    memset(arena_ptr(off), 0, size * sizeof(aref));
    tx_add64(t, s, &d->bytes, (int64_t)alloc_real_size(size * sizeof(aref)));
    return off;
}

/* Frees a bucket array at commit and uncounts it (logged). */
static void table_free(kv_txn *t, uint32_t s, adict *d, aoff tbl, uint64_t size)
{
    shard_free(t, s, tbl, size * sizeof(aref));
    tx_add64(t, s, &d->bytes, -(int64_t)alloc_real_size(size * sizeof(aref)));
}

/* Starts an incremental rehash into a new table of new_size buckets. */
static void rehash_start(kv_txn *t, uint32_t s, adict *d, uint64_t new_size)
{
    aoff tbl = table_alloc(t, s, d, new_size);
    if (!tbl)
        return;
    tx_store64(t, s, &d->table[1], tbl);
    tx_store64(t, s, &d->size[1], new_size);
    tx_store64(t, s, &d->used[1], 0);
    tx_store64(t, s, (uint64_t *)&d->rehash_idx, 0);
}

/* Keeps the load factor between 1/8 and 1 once no rehash is running; `keys_after` is
 * the count the caller is about to reach. Creates the first table when none exists. */
static void resize_if_needed(kv_txn *t, uint32_t s, adict *d, uint64_t keys_after)
{
    if (rehashing(d) || t->failed)
        return;
    if (d->size[0] == 0) {
        if (!keys_after)
            return;
        aoff tbl = table_alloc(t, s, d, TABLE_MIN);
        if (!tbl)
            return;
        tx_store64(t, s, &d->table[0], tbl);
        tx_store64(t, s, &d->size[0], TABLE_MIN);
        return;
    }
    if (keys_after > d->size[0]) {
        rehash_start(t, s, d, d->size[0] * 2);
    } else if (d->size[0] > TABLE_MIN && keys_after < d->size[0] / 8) {
        uint64_t n = TABLE_MIN;
        while (n < keys_after * 2)
            n *= 2;
        rehash_start(t, s, d, n);
    }
}

/* Moves every node of bucket b of table 0 to table 1 (logged). Returns how many. */
static uint64_t move_bucket(kv_txn *t, uint32_t s, adict *d, uint64_t b)
{
    aref *src = bucket_at(d, 0, b);
    uint64_t moved = 0;
    for (aref r = *src; r && !t->failed;) {
        adict_node *n = ref_ptr(r);
        aref next = n->next;
        uint64_t h = adict_hash(adict_node_key(n), n->klen);
        aref *dst = bucket_at(d, 1, h & (d->size[1] - 1));
        tx_store32(t, s, &n->next, *dst);
        tx_store32(t, s, dst, r);
        moved++;
        r = next;
    }
    if (*src)
        tx_store32(t, s, src, 0);
    return moved;
}

void adict_rehash_step(kv_txn *t, uint32_t s, adict *d, unsigned buckets)
{
    unsigned empty = 0;
    while (buckets > 0 && rehashing(d) && !t->failed) {
        uint64_t b = (uint64_t)d->rehash_idx;
        if (!*bucket_at(d, 0, b) && ++empty < REHASH_EMPTY_MAX * buckets) {
            tx_store64(t, s, (uint64_t *)&d->rehash_idx, b + 1);
        } else {
            uint64_t moved = move_bucket(t, s, d, b);
            tx_add64(t, s, &d->used[0], -(int64_t)moved);
            tx_add64(t, s, &d->used[1], (int64_t)moved);
            tx_store64(t, s, (uint64_t *)&d->rehash_idx, b + 1);
            buckets--;
        }
        if (!t->failed && (uint64_t)d->rehash_idx >= d->size[0]) {
            table_free(t, s, d, d->table[0], d->size[0]);
            tx_store64(t, s, &d->table[0], d->table[1]);
            tx_store64(t, s, &d->size[0], d->size[1]);
            tx_store64(t, s, &d->used[0], d->used[1]);
            tx_store64(t, s, &d->table[1], 0);
            tx_store64(t, s, &d->size[1], 0);
            tx_store64(t, s, &d->used[1], 0);
            tx_store64(t, s, (uint64_t *)&d->rehash_idx, (uint64_t)-1);
            resize_if_needed(t, s, d, adict_len(d));   /* keys may have come or gone */
        }
    }
}

bool adict_expand(kv_txn *t, uint32_t s, adict *d, uint64_t n)
{
    if (d->size[0] || rehashing(d))
        return false;
    uint64_t size = table_size_for(n);
    aoff tbl = table_alloc(t, s, d, size);
    if (!tbl)
        return false;
    tx_store64(t, s, &d->table[0], tbl);
    tx_store64(t, s, &d->size[0], size);
    return !t->failed;
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
    resize_if_needed(t, s, d, adict_len(d) + 1);
    adict_node *n = node_build(t, s, key, klen, val, vlen);
    if (!n || t->failed)
        return NULL;
    int tbl = rehashing(d) ? 1 : 0;
    uint64_t h = adict_hash(key, klen);
    aref *head = bucket_at(d, tbl, h & (d->size[tbl] - 1));
    n->next = *head;                        /* n is fresh: no undo */
    tx_store32(t, s, head, ptr_ref(n));
    tx_add64(t, s, &d->used[tbl], 1);
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
    nw->next = n->next;
    tx_store32(t, s, link, ptr_ref(nw));
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
    tx_store32(t, s, link, n->next);
    tx_add64(t, s, &d->used[tbl], -1);
    tx_add64(t, s, &d->bytes, -(int64_t)adict_node_cost(n->klen, n->vlen));
    shard_free(t, s, arena_off(n), node_size(n));
    resize_if_needed(t, s, d, adict_len(d));
    return true;
}

/* ---- iteration ----------------------------------------------------------------------- */

/* v with its 64 bits reversed (the scan cursor arithmetic). */
static uint64_t rev64(uint64_t v)
{
    v = ((v >> 1) & 0x5555555555555555ULL) | ((v & 0x5555555555555555ULL) << 1);
    v = ((v >> 2) & 0x3333333333333333ULL) | ((v & 0x3333333333333333ULL) << 2);
    v = ((v >> 4) & 0x0F0F0F0F0F0F0F0FULL) | ((v & 0x0F0F0F0F0F0F0F0FULL) << 4);
    return __builtin_bswap64(v);
}

/* Calls fn for each node of one bucket (next read first: fn may not unlink). */
static void visit_bucket(const adict *d, int tbl, uint64_t idx, void (*fn)(adict_node *, void *), void *ctx)
{
    for (aref r = *bucket_at(d, tbl, idx); r;) {
        adict_node *n = ref_ptr(r);
        r = n->next;
        fn(n, ctx);
    }
}

/* One step of Redis's dictScan: the reverse-binary increment visits every bucket that
 * exists for the whole scan even when the table is resized between calls. */
uint64_t adict_scan(const adict *d, uint64_t v, void (*fn)(adict_node *n, void *ctx), void *ctx)
{
    if (!adict_len(d) || !d->size[0])
        return 0;
    if (!rehashing(d)) {
        uint64_t m0 = d->size[0] - 1;
        visit_bucket(d, 0, v & m0, fn, ctx);
        v |= ~m0;
        v = rev64(v);
        v++;
        return rev64(v);
    }
    int small = d->size[0] <= d->size[1] ? 0 : 1, large = 1 - small;
    uint64_t m0 = d->size[small] - 1, m1 = d->size[large] - 1;
    uint64_t b0 = v & m0;
    if (!(small == 0 && b0 < (uint64_t)d->rehash_idx))
        visit_bucket(d, small, b0, fn, ctx);
    do {
        uint64_t b1 = v & m1;
        if (!(large == 0 && b1 < (uint64_t)d->rehash_idx))
            visit_bucket(d, large, b1, fn, ctx);
        v |= ~m1;
        v = rev64(v);
        v++;
        v = rev64(v);
    } while (v & (m0 ^ m1));
    return v;
}

void adict_foreach(const adict *d, void (*fn)(adict_node *n, void *ctx), void *ctx)
{
    for (int tbl = 0; tbl <= (rehashing(d) ? 1 : 0); tbl++)
        for (uint64_t b = 0; b < d->size[tbl]; b++)
            if (!(tbl == 0 && rehashing(d) && b < (uint64_t)d->rehash_idx))
                visit_bucket(d, tbl, b, fn, ctx);
}

adict_node *adict_random(const adict *d)
{
    if (!adict_len(d))
        return NULL;
    uint64_t lo = rehashing(d) ? (uint64_t)d->rehash_idx : 0;
    uint64_t span = d->size[0] + (rehashing(d) ? d->size[1] : 0) - lo;
    aref head = 0;
    for (unsigned tries = 0; !head; tries++) {
        uint64_t i = lo + rng_u64() % span;
        if (tries > 100000) {          /* pathological sparseness: walk instead */
            for (i = lo; !head; i = lo + (i - lo + 1) % span)
                head = i < d->size[0] ? *bucket_at(d, 0, i) : *bucket_at(d, 1, i - d->size[0]);
            break;
        }
        head = i < d->size[0] ? *bucket_at(d, 0, i) : *bucket_at(d, 1, i - d->size[0]);
    }
    unsigned len = 0;
    for (aref r = head; r; r = ((adict_node *)ref_ptr(r))->next)
        len++;
    unsigned pick = (unsigned)(rng_u64() % len);
    while (pick--)
        head = ((adict_node *)ref_ptr(head))->next;
    return ref_ptr(head);
}

/* ---- freeing and copying ----------------------------------------------------------------- */

/* The dict is dead, so rehash_idx is free to serve as the freeing cursor over table 0
 * (buckets below it are done, exactly as during a rehash); when table 0 is finished,
 * table 1 (if a rehash was running) takes its place. */
bool adict_free_step(kv_txn *t, uint32_t s, adict *d, unsigned budget)
{
    if (!d->size[0] && !d->size[1])
        return true;
    uint64_t idx = rehashing(d) ? (uint64_t)d->rehash_idx : 0;
    uint64_t used0 = d->used[0];
    int64_t freed_bytes = 0;
    unsigned freed = 0, visited = 0, visit_max = budget > (1u << 26) ? budget : budget * 8 + 64;
    bool done = false;
    while (!t->failed) {
        if (idx >= d->size[0]) {
            /* table 0 drained: free it and continue with table 1, if any */
            tx_add64(t, s, &d->bytes, -freed_bytes);
            freed_bytes = 0;
            table_free(t, s, d, d->table[0], d->size[0]);
            tx_store64(t, s, &d->table[0], d->table[1]);
            tx_store64(t, s, &d->size[0], d->size[1]);
            used0 = d->used[1];
            tx_store64(t, s, &d->table[1], 0);
            tx_store64(t, s, &d->size[1], 0);
            tx_store64(t, s, &d->used[1], 0);
            idx = 0;
            if (!d->size[0]) {
                done = true;
                break;
            }
            continue;
        }
        if (freed >= budget || visited >= visit_max)
            break;
        aref *b = bucket_at(d, 0, idx);
        aref r = *b;
        while (r && freed < budget) {
            adict_node *n = ref_ptr(r);
            r = n->next;
            freed_bytes += (int64_t)adict_node_cost(n->klen, n->vlen);
            shard_free(t, s, arena_off(n), node_size(n));
            used0--;
            freed++;
        }
        if (r) {                       /* budget ran out inside the chain */
            tx_store32(t, s, b, r);
            break;
        }
        idx++;
        visited++;
    }
    tx_store64(t, s, &d->used[0], done ? 0 : used0);
    tx_add64(t, s, &d->bytes, -freed_bytes);
    tx_store64(t, s, (uint64_t *)&d->rehash_idx, done ? (uint64_t)-1 : idx);
    return done && !t->failed;
}

aoff adict_copy(kv_txn *t, uint32_t dst_shard, const adict *src, adict *dst)
{
    adict_init(dst);
    uint64_t n = adict_len(src);
    if (!n)
        return 1;
    uint64_t size = table_size_for(n);
    aoff tbl = shard_alloc(t, dst_shard, size * sizeof(aref));
    if (!tbl)
        return 0;
    aref *buckets = arena_ptr(tbl);
    memset(buckets, 0, size * sizeof(aref));
    uint64_t bytes = alloc_real_size(size * sizeof(aref));
    for (int st = 0; st <= (rehashing(src) ? 1 : 0); st++) {
        for (uint64_t b = 0; b < src->size[st]; b++) {
            if (st == 0 && rehashing(src) && b < (uint64_t)src->rehash_idx)
                continue;
            for (aref r = *bucket_at(src, st, b); r;) {
                adict_node *sn = ref_ptr(r);
                r = sn->next;
                aoff off = shard_alloc(t, dst_shard, node_size(sn));
                if (!off)
                    return 0;
                adict_node *dn = arena_ptr(off);
                memcpy(dn, sn, node_size(sn));          /* fresh memory: no undo */
                aref *head = buckets + (adict_hash(adict_node_key(sn), sn->klen) & (size - 1));
                dn->next = *head;
                *head = ptr_ref(dn);
                bytes += adict_node_cost(sn->klen, sn->vlen);
            }
        }
    }
    dst->table[0] = tbl;
    dst->size[0] = size;
    dst->used[0] = n;
    dst->bytes = bytes;
    return t->failed ? 0 : 1;
}

/* ---- fresh building ------------------------------------------------------------------ */

/* Replaces a fresh dict's table by one of new_size buckets (all plain writes). */
static bool fresh_resize(kv_txn *t, uint32_t s, adict *d, uint64_t new_size)
{
    aoff tbl = shard_alloc(t, s, new_size * sizeof(aref));
    if (!tbl)
        return false;
    aref *nb = arena_ptr(tbl);
    memset(nb, 0, new_size * sizeof(aref));
    for (uint64_t b = 0; b < d->size[0]; b++) {
        for (aref r = *bucket_at(d, 0, b); r;) {
            adict_node *n = ref_ptr(r);
            aref next = n->next;
            aref *head = nb + (adict_hash(adict_node_key(n), n->klen) & (new_size - 1));
            n->next = *head;
            *head = r;
            r = next;
        }
    }
    if (d->size[0]) {
        shard_free(t, s, d->table[0], d->size[0] * sizeof(aref));
        d->bytes -= alloc_real_size(d->size[0] * sizeof(aref));
    }
    d->table[0] = tbl;
    d->size[0] = new_size;
    d->bytes += alloc_real_size(new_size * sizeof(aref));
    return true;
}

bool adict_presize_fresh(kv_txn *t, uint32_t s, adict *d, uint64_t n)
{
    uint64_t size = table_size_for(n);
    return size <= d->size[0] || fresh_resize(t, s, d, size);
}

int adict_put_fresh(kv_txn *t, uint32_t s, adict *d, const void *key, size_t klen, const void *val,
                    size_t vlen, bool replace)
{
    if (t->failed)
        return -1;
    uint64_t h = adict_hash(key, klen);
    aref *link;
    int tbl;
    adict_node *old = d->used[0] ? find_link(d, key, klen, h, &link, &tbl) : NULL;
    if (old && !replace)
        return 0;
    if (!old && d->used[0] + 1 > d->size[0] && !fresh_resize(t, s, d, table_size_for(d->used[0] + 1)))
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
        aref *head = bucket_at(d, 0, h & (d->size[0] - 1));
        n->next = *head;
        *head = ptr_ref(n);
        d->used[0]++;
    }
    d->bytes += adict_node_cost(klen, vlen);
    return old ? 0 : 1;
}

/* ---- checking ------------------------------------------------------------------------- */

int adict_check(const adict *d, char *err, size_t errlen)
{
    uint64_t bytes = 0;
    for (int tbl = 0; tbl < 2; tbl++) {
        if (!d->size[tbl]) {
            if (d->used[tbl] || d->table[tbl]) {
                snprintf(err, errlen, "dict table %d: no buckets but used %llu", tbl,
                         (unsigned long long)d->used[tbl]);
                return -1;
            }
            continue;
        }
        if (d->size[tbl] & (d->size[tbl] - 1)) {
            snprintf(err, errlen, "dict table %d size %llu not a power of two", tbl,
                     (unsigned long long)d->size[tbl]);
            return -1;
        }
        if (tbl == 1 && !rehashing(d)) {
            snprintf(err, errlen, "dict has a second table but no rehash");
            return -1;
        }
        bytes += alloc_real_size(d->size[tbl] * sizeof(aref));
        uint64_t count = 0;
        for (uint64_t b = 0; b < d->size[tbl]; b++) {
            for (aref r = *bucket_at(d, tbl, b); r; r = ((adict_node *)ref_ptr(r))->next) {
                adict_node *n = ref_ptr(r);
                if (tbl == 0 && rehashing(d) && b < (uint64_t)d->rehash_idx) {
                    snprintf(err, errlen, "dict: moved bucket %llu not empty", (unsigned long long)b);
                    return -1;
                }
                if ((adict_hash(adict_node_key(n), n->klen) & (d->size[tbl] - 1)) != b) {
                    snprintf(err, errlen, "dict: key '%.*s' in the wrong bucket",
                             (int)(n->klen > 64 ? 64 : n->klen), adict_node_key(n));
                    return -1;
                }
                if (adict_find(d, adict_node_key(n), n->klen) != n) {
                    snprintf(err, errlen, "dict: key '%.*s' present twice",
                             (int)(n->klen > 64 ? 64 : n->klen), adict_node_key(n));
                    return -1;
                }
                if (++count > d->used[tbl]) {
                    snprintf(err, errlen, "dict table %d holds more nodes than used=%llu", tbl,
                             (unsigned long long)d->used[tbl]);
                    return -1;
                }
                bytes += adict_node_cost(n->klen, n->vlen);
            }
        }
        if (count != d->used[tbl]) {
            snprintf(err, errlen, "dict table %d holds %llu nodes, used says %llu", tbl,
                     (unsigned long long)count, (unsigned long long)d->used[tbl]);
            return -1;
        }
    }
    if (bytes != d->bytes) {
        snprintf(err, errlen, "dict holds %llu bytes, counter says %llu", (unsigned long long)bytes,
                 (unsigned long long)d->bytes);
        return -1;
    }
    return 0;
}
