/* store.c - the keyspace (see store.h): entries, their shard tables (an htable of
 * kv_entry chains, htable.h) with the remembered lookup position, and expiry. */
#include "kvns/store.h"
#include "kvns/rng.h"
#include "kvns/alloc.h"
#include "kvns/shard.h"
#include "store_internal.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ENTRY_HDR        ((size_t)sizeof(kv_entry))
#define INLINE_MAX       512          /* entries larger than this keep strings outside */
#define TABLE_MIN        4
#define RANDOM_TRIES     100          /* random picks before giving up on expired ones */

static const type_ops *type_table[8];

void store_register_type(uint8_t type, const type_ops *ops) { type_table[type & 7] = ops; }
const type_ops *store_type_ops(uint8_t type) { return type_table[type & 7]; }

/* ---- hashing and keys --------------------------------------------------------------- */

static inline uint64_t mix64(uint64_t a, uint64_t b)
{
    __uint128_t r = (__uint128_t)a * b;
    return (uint64_t)r ^ (uint64_t)(r >> 64);
}

static inline uint64_t read64(const char *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

/* Seeded 64-bit hash of a key (wyhash-style multiply-mix). */
uint64_t kv_hash_bytes(const void *bytes, size_t n, uint64_t seed)
{
    const char *p = bytes;
    const uint64_t c1 = 0xa0761d6478bd642fULL, c2 = 0xe7037ed1a0b428dbULL,
                   c3 = 0x8ebc6af09c88c6e3ULL, c4 = 0x589965cc75374cc3ULL;
    uint64_t h = seed ^ mix64(n ^ c1, c2);
    size_t left = n;
    while (left >= 16) {
        h = mix64(read64(p) ^ c1 ^ h, read64(p + 8) ^ c2);
        p += 16;
        left -= 16;
    }
    if (left >= 8) {
        h = mix64(read64(p) ^ c3 ^ h, c4);
        p += 8;
        left -= 8;
    }
    if (left) {
        uint64_t tail = 0;
        memcpy(&tail, p, left);
        h = mix64(tail ^ c4 ^ h, c1 ^ left);
    }
    return mix64(h ^ c2, c3 ^ n);
}

/* Canonical form: `default/x` is `x` (and `default/` the empty key) unless the local
 * part holds a `/`, which would read back as a namespace without the prefix. */
void key_init(kv_key *k, const char *raw, size_t len)
{
    if (len >= 8 && memcmp(raw, "default/", 8) == 0 && !memchr(raw + 8, '/', len - 8)) {
        raw += 8;
        len -= 8;
    }
    arena_header *h = arena_hdr();
    k->ptr = raw;
    k->len = (uint32_t)len;
    k->hash = kv_hash_bytes(raw, len, h->hash_seed);
    k->shard = h->shard_bits ? (uint32_t)(k->hash >> (64 - h->shard_bits)) : 0;
}

void key_split(const char *key, size_t len, const char **ns, size_t *nslen,
               const char **local, size_t *locallen)
{
    const char *slash = memchr(key, '/', len);
    if (!slash) {
        *ns = "default";
        *nslen = 7;
        *local = key;
        *locallen = len;
        return;
    }
    *ns = key;
    *nslen = (size_t)(slash - key);
    *local = slash + 1;
    *locallen = len - *nslen - 1;
}

/* ---- entries -------------------------------------------------------------------------- */

static inline size_t entry_key_at(const kv_entry *e) { return ENTRY_HDR + (entry_has_expire(e) ? 8 : 0); }

int64_t entry_expire(const kv_entry *e)
{
    if (!entry_has_expire(e))
        return -1;
    int64_t v;
    memcpy(&v, (const char *)e + ENTRY_HDR, 8);
    return v;
}

const char *entry_key(const kv_entry *e) { return (const char *)e + entry_key_at(e); }

static inline char *entry_val_at(const kv_entry *e) { return (char *)e + entry_key_at(e) + e->klen; }

aoff entry_obj(const kv_entry *e)
{
    aoff o;
    memcpy(&o, entry_val_at(e), 8);
    return o;
}

/* The external block of a string: [uint64 cap][bytes]. */
static inline uint64_t *ext_block(const kv_entry *e) { return arena_ptr(entry_obj(e)); }

const char *entry_str(const kv_entry *e)
{
    if (e->flags & ENTRY_VAL_EXT)
        return (const char *)(ext_block(e) + 1);
    return entry_val_at(e);
}

/* Allocation size of the entry block itself. */
static size_t entry_block_size(const kv_entry *e)
{
    return entry_key_at(e) + e->klen + ((e->flags & ENTRY_VAL_EXT) ? 8 : e->vlen);
}

size_t entry_footprint(const kv_entry *e)
{
    size_t n = alloc_real_size(entry_block_size(e));
    if (e->type == KV_STRING && (e->flags & ENTRY_VAL_EXT))
        n += alloc_real_size(8 + *ext_block(e));
    return n;
}

uint32_t entry_shard(const kv_entry *e)
{
    kv_key k;
    key_init(&k, entry_key(e), e->klen);
    return k.shard;
}

void store_charge(kv_txn *t, uint32_t s, const kv_entry *e, int64_t delta)
{
    tx_add64(t, s, ns_bytes_slot(s, e->nsid), delta);
}

/* Bytes charged to the namespace for e: its blocks plus a collection's nodes. */
static size_t entry_charge(const kv_entry *e)
{
    size_t n = entry_footprint(e);
    if (e->type != KV_STRING) {
        const type_ops *ops = store_type_ops(e->type);
        if (ops && ops->obj_bytes)
            n += ops->obj_bytes(entry_obj(e));
    }
    return n;
}

/* Builds a new entry block in shard s (fresh memory: no undo). What the value slot
 * holds:
 *   - a collection (type != KV_STRING): obj, the type's root;
 *   - a string adopting an existing external block (obj != 0): obj, and vlen is the
 *     string's length (the block keeps its bytes and capacity);
 *   - any other string: a copy of val[0..vlen), inline when the entry stays within
 *     INLINE_MAX, else in a new external block (ext_cap > 0 forces one of at least
 *     that capacity).
 * Returns NULL on failure. */
static kv_entry *entry_build(kv_txn *t, uint32_t s, const kv_key *k, int nsid, uint8_t type,
                             const void *val, size_t vlen, size_t ext_cap, aoff obj,
                             int64_t expire_ms)
{
    bool has_exp = expire_ms >= 0;
    size_t head = ENTRY_HDR + (has_exp ? 8 : 0) + k->len;
    bool store_obj = type != KV_STRING || obj != 0;
    bool ext = store_obj || ext_cap > 0 || head + vlen > INLINE_MAX;
    if (!store_obj && ext && ext_cap < vlen)
        ext_cap = vlen;
    aoff off = shard_alloc(t, s, head + (ext ? 8 : vlen));
    if (!off)
        return NULL;
    kv_entry *e = arena_ptr(off);
    e->next = 0;
    e->hits = 0;
    e->klen = k->len;
    e->vlen = type == KV_STRING ? (uint32_t)vlen : 0;
    e->nsid = (uint16_t)nsid;
    e->type = type;
    e->flags = (uint8_t)((has_exp ? ENTRY_EXPIRE : 0) | (ext ? ENTRY_VAL_EXT : 0));
    if (has_exp)
        memcpy((char *)e + ENTRY_HDR, &expire_ms, 8);
    memcpy((char *)e + ENTRY_HDR + (has_exp ? 8 : 0), k->ptr, k->len);
    char *vp = entry_val_at(e);
    if (store_obj) {
        memcpy(vp, &obj, 8);
    } else if (ext) {
        aoff blk = shard_alloc(t, s, 8 + ext_cap);
        if (!blk)
            return NULL;
        uint64_t *b = arena_ptr(blk);
        b[0] = ext_cap;
        if (vlen)
            memcpy(b + 1, val, vlen);
        memcpy(vp, &blk, 8);
    } else if (vlen) {
        memcpy(vp, val, vlen);
    }
    return e;
}

/* A deleted big object waiting for the housekeeper. */
typedef struct lazy_node {
    aoff    next;
    aoff    obj;
    uint8_t type;
    uint8_t pad[7];
} lazy_node;

/* Frees a collection root: now when small, else queued for lazy freeing. */
static void object_release(kv_txn *t, uint32_t s, uint8_t type, aoff obj)
{
    const type_ops *ops = store_type_ops(type);
    if (!ops || !ops->free_step)
        return;
    size_t bytes = ops->obj_bytes(obj);
    if (bytes <= LAZYFREE_THRESHOLD) {
        while (!t->failed && !ops->free_step(t, s, obj, 1u << 30))
            ;
        return;
    }
    shard *sh = shard_at(s);
    aoff n = shard_alloc(t, s, sizeof(lazy_node));
    if (!n)
        return;
    lazy_node *ln = arena_ptr(n);
    ln->next = sh->lazyfree;
    ln->obj = obj;
    ln->type = type;
    tx_store64(t, s, &sh->lazyfree, n);
    tx_add64(t, s, &sh->lazy_bytes, (int64_t)(bytes + alloc_real_size(sizeof(lazy_node))));
}

bool store_lazyfree_step(kv_txn *t, uint32_t s, unsigned budget)
{
    shard *sh = shard_at(s);
    if (!sh->lazyfree)
        return false;
    lazy_node *ln = arena_ptr(sh->lazyfree);
    const type_ops *ops = store_type_ops(ln->type);
    size_t before = ops->obj_bytes(ln->obj);
    bool done = ops->free_step(t, s, ln->obj, budget);
    size_t after = done ? 0 : ops->obj_bytes(ln->obj);
    int64_t freed = (int64_t)(before - after);
    if (done) {
        freed += (int64_t)alloc_real_size(sizeof(lazy_node));
        tx_store64(t, s, &sh->lazyfree, ln->next);
        shard_free(t, s, arena_off(ln), sizeof(lazy_node));
    }
    tx_add64(t, s, &sh->lazy_bytes, -freed);
    return sh->lazyfree != 0 || !done;
}

/* Frees e and what it owns (deferred to commit). */
static void entry_release(kv_txn *t, uint32_t s, kv_entry *e)
{
    if (e->type == KV_STRING) {
        if (e->flags & ENTRY_VAL_EXT)
            shard_free(t, s, entry_obj(e), 8 + *ext_block(e));
    } else {
        object_release(t, s, e->type, entry_obj(e));
    }
    shard_free(t, s, arena_off(e), entry_block_size(e));
}

/* ---- hash table ----------------------------------------------------------------------- */

static bool entry_matches(const kv_entry *e, const kv_key *k)
{
    return e->klen == k->len && memcmp(entry_key(e), k->ptr, k->len) == 0;
}

/* The key bytes of an entry (htable_type.key). */
static const char *entry_key_bytes(const void *node, size_t *len)
{
    const kv_entry *e = node;
    *len = e->klen;
    return entry_key(e);
}

/* The keyspace hash of key bytes (htable_type.hash). */
static uint64_t keyspace_hash(const void *key, size_t len)
{
    return kv_hash_bytes(key, len, arena_hdr()->hash_seed);
}

/* The shards' tables: kv_entry chains; their bucket arrays are charged to the shard's
 * mem_used by shard_alloc itself, so the type counts no bytes. */
const htable_type store_table_type = {
    .next_off = offsetof(kv_entry, next),
    .min_size = TABLE_MIN,
    .shrink_ratio = 8,
    .bytes_off = 0,
    .key = entry_key_bytes,
    .hash = keyspace_hash,
    .node_free = NULL,
};

/* Where a key was found in a shard's table: the entry (NULL when absent), the aref
 * pointing at it and the table holding it (during a rehash new keys sit in table 1
 * whatever their table-0 index, so the table cannot be derived from the hash). */
typedef struct table_pos {
    kv_entry *e;
    aref     *link;
    int       tbl;
} table_pos;

/* The calling thread's last lookup (store_find): the write that follows for the same
 * key - SET after its lookup, INCR, LPUSH creating a new key - reuses its position
 * instead of walking the chain again, as Redis hands lookupKeyWrite's dictEntry to
 * setKey. Valid inside the transaction that made it and only until the next change
 * to any table link or bucket array, which forgets it (memo_forget). */
static __thread struct {
    const kv_key *k;           /* NULL: nothing remembered */
    const kv_txn *t;
    uint64_t      gen;
    uint64_t      hash;
    table_pos     pos;
} memo;

static __thread uint64_t probe_count;

uint64_t store_probes(void) { return probe_count; }

static inline void memo_forget(void) { memo.k = NULL; }

static inline void memo_record(const kv_txn *t, const kv_key *k, const table_pos *pos)
{
    memo.k = k;
    memo.t = t;
    memo.gen = t->dedup_gen;
    memo.hash = k->hash;
    memo.pos = *pos;
}

/* Walks the chain at l (in table tbl) for k; fills pos and returns the entry, or
 * NULL. */
static inline kv_entry *chain_find(aref *l, int tbl, const kv_key *k, table_pos *pos)
{
    while (*l) {
        kv_entry *e = ref_ptr(*l);
        if (entry_matches(e, k)) {
            pos->e = e;
            pos->link = l;
            pos->tbl = tbl;
            return e;
        }
        l = &e->next;
    }
    return NULL;
}

/* Walks k's chains (one probe); fills pos and returns the entry, or NULL. The common
 * case - no rehash running - is spelt out on its own so it stays a single chain walk
 * with everything in registers. */
static inline __attribute__((always_inline)) kv_entry *
table_find(shard *sh, const kv_key *k, table_pos *pos)
{
    probe_count++;
    const htable *ht = &sh->ht;
    pos->e = NULL;
    if (!htable_rehashing(ht))
        return ht->size[0] ? chain_find(htable_bucket(ht, 0, k->hash & (ht->size[0] - 1)), 0, k, pos)
                           : NULL;
    for (int tbl = 0; tbl <= 1; tbl++) {
        aref *l = htable_chain(ht, tbl, k->hash);
        kv_entry *e = l ? chain_find(l, tbl, k, pos) : NULL;
        if (e)
            return e;
    }
    return NULL;
}

/* k's position: the memo of this transaction's last lookup of k when no table changed
 * since, else a fresh probe. Returns the entry (possibly expired), or NULL. */
static inline __attribute__((always_inline)) kv_entry *
table_locate(const kv_txn *t, shard *sh, const kv_key *k, table_pos *pos)
{
    if (memo.k == k && memo.t == t && memo.gen == t->dedup_gen && memo.hash == k->hash) {
        *pos = memo.pos;
        return pos->e;
    }
    return table_find(sh, k, pos);
}

void store_rehash_step(kv_txn *t, uint32_t s, unsigned buckets)
{
    shard *sh = shard_at(s);
    if (!htable_rehashing(&sh->ht))
        return;
    memo_forget();
    htable_rehash_step(t, s, &store_table_type, &sh->ht, buckets);
}

/* Keeps the load factor between 1/8 and 1: grows or shrinks incrementally. */
static void table_resize_if_needed(kv_txn *t, shard *sh, uint64_t keys_after)
{
    memo_forget();
    htable_resize_if_needed(t, sh->id, &store_table_type, &sh->ht, keys_after);
}

/* Links a new entry into the table new keys go to. */
static inline void table_insert(kv_txn *t, shard *sh, kv_entry *e, uint64_t hash)
{
    memo_forget();
    htable_insert(t, sh->id, &store_table_type, &sh->ht, e, hash);
}

/* Accounting for an entry entering (sign 1) or leaving (sign -1) shard s. */
static void account_entry(kv_txn *t, uint32_t s, const kv_entry *e, int sign)
{
    shard *sh = shard_at(s);
    tx_add64(t, s, ns_bytes_slot(s, e->nsid), sign * (int64_t)entry_charge(e));
    tx_add64(t, s, ns_keys_slot(s, e->nsid), sign);
    tx_add64(t, s, &sh->keys, sign);
    if (entry_has_expire(e))
        tx_add64(t, s, &sh->expires, sign);
}

/* Unlinks e (found through link in table tbl) and frees it. */
static void entry_unlink_free(kv_txn *t, shard *sh, aref *link, kv_entry *e, int tbl)
{
    memo_forget();
    account_entry(t, sh->id, e, -1);
    htable_unlink(t, sh->id, &store_table_type, &sh->ht, link, e, tbl);
    entry_release(t, sh->id, e);
}

/* Replaces old (at link) by new: accounting, relink, free of old's blocks except
 * what new took over (keep_obj: the collection root or external string block). */
static void entry_replace(kv_txn *t, shard *sh, aref *link, kv_entry *old, kv_entry *nw,
                          bool keep_obj)
{
    memo_forget();
    account_entry(t, sh->id, old, -1);
    htable_replace(t, sh->id, &store_table_type, link, old, nw);
    if (keep_obj)
        shard_free(t, sh->id, arena_off(old), entry_block_size(old));
    else
        entry_release(t, sh->id, old);
    account_entry(t, sh->id, nw, 1);
}

static bool entry_expired(const kv_txn *t, const kv_entry *e)
{
    return entry_has_expire(e) && entry_expire(e) <= t->now_ms;
}

kv_entry *store_find(kv_txn *t, const kv_key *k)
{
    shard *sh = shard_at(k->shard);
    table_pos pos;
    kv_entry *e = table_locate(t, sh, k, &pos);
    if (e && entry_expired(t, e)) {
        entry_unlink_free(t, sh, pos.link, e, pos.tbl);
        __atomic_add_fetch(&sh->stat_expired, 1, __ATOMIC_RELAXED);
        pos.e = e = NULL;
    }
    memo_record(t, k, &pos);
    return e;
}

kv_entry *store_find_read(kv_txn *t, const kv_key *k)
{
    kv_entry *e = store_find(t, k);
    shard *sh = shard_at(k->shard);
    if (e) {
        __atomic_add_fetch(&sh->stat_hits, 1, __ATOMIC_RELAXED);
        if (e->hits != UINT32_MAX)
            __atomic_add_fetch(&e->hits, 1, __ATOMIC_RELAXED);
    } else {
        __atomic_add_fetch(&sh->stat_misses, 1, __ATOMIC_RELAXED);
    }
    return e;
}

/* Common tail of every put: replaces the entry at pos (k's position as the caller
 * located it; NULL: locate it here) or inserts a new one, then moves the rehash a step (after the relink, so it
 * cannot move the chain pos points into). */
static int put_entry(kv_txn *t, const kv_key *k, const table_pos *pos,
                     kv_entry *(*build)(kv_txn *, const kv_key *, int, void *), void *ctx,
                     kv_entry **out)
{
    shard *sh = shard_at(k->shard);
    int nsid = key_nsid(k);
    if (nsid < 0)
        return STORE_E_NSFULL;
    if (k->len > STORE_MAX_KEY)
        return STORE_E_TOOBIG;
    table_pos here;
    if (!pos) {
        table_locate(t, sh, k, &here);
        pos = &here;
    }
    kv_entry *old = pos->e;
    if (!old)
        table_resize_if_needed(t, sh, sh->keys + 1);
    kv_entry *nw = build(t, k, nsid, ctx);
    if (!nw || t->failed)
        return STORE_E_NOMEM;
    if (old)
        entry_replace(t, sh, pos->link, old, nw, false);
    else {
        table_insert(t, sh, nw, k->hash);
        account_entry(t, k->shard, nw, 1);
    }
    store_rehash_step(t, k->shard, 1);
    if (out)
        *out = nw;
    return t->failed ? STORE_E_NOMEM : STORE_OK;
}

struct string_ctx { const void *v; size_t vlen; size_t ext_cap; int64_t expire; };

static kv_entry *build_string(kv_txn *t, const kv_key *k, int nsid, void *ctx)
{
    struct string_ctx *c = ctx;
    return entry_build(t, k->shard, k, nsid, KV_STRING, c->v, c->vlen, c->ext_cap, 0, c->expire);
}

/* Overwrites an inline string of the same length and the same TTL shape in place
 * (value bytes, deadline and hit counter, undo-logged): no allocation, relink or
 * free. Returns false when the entry does not qualify. */
static bool put_string_in_place(kv_txn *t, const kv_key *k, kv_entry *old, const void *v,
                                size_t vlen, int64_t expire_ms)
{
    if (old->type != KV_STRING || (old->flags & ENTRY_VAL_EXT) || old->vlen != vlen ||
        entry_has_expire(old) != (expire_ms >= 0) || vlen > 256)
        return false;
    tx_copy(t, k->shard, entry_val_at(old), v, vlen);
    if (expire_ms >= 0)
        tx_copy(t, k->shard, (char *)old + ENTRY_HDR, &expire_ms, 8);
    if (old->hits)
        tx_store32(t, k->shard, &old->hits, 0);     /* a new value starts unread */
    return true;
}

int store_put_string(kv_txn *t, const kv_key *k, const void *v, size_t vlen,
                     int64_t expire_ms, kv_entry **out)
{
    table_pos pos;
    kv_entry *old = table_locate(t, shard_at(k->shard), k, &pos);
    if (old && !entry_expired(t, old) && put_string_in_place(t, k, old, v, vlen, expire_ms)) {
        store_rehash_step(t, k->shard, 1);          /* keep rehashes moving, as any write */
        if (out)
            *out = old;
        return t->failed ? STORE_E_NOMEM : STORE_OK;
    }
    struct string_ctx c = { v, vlen, 0, expire_ms };
    return put_entry(t, k, &pos, build_string, &c, out);
}

struct object_ctx { uint8_t type; aoff obj; int64_t expire; };

static kv_entry *build_object(kv_txn *t, const kv_key *k, int nsid, void *ctx)
{
    struct object_ctx *c = ctx;
    return entry_build(t, k->shard, k, nsid, c->type, NULL, 0, 0, c->obj, c->expire);
}

int store_put_object(kv_txn *t, const kv_key *k, uint8_t type, aoff obj, int64_t expire_ms,
                     kv_entry **out)
{
    struct object_ctx c = { type, obj, expire_ms };
    return put_entry(t, k, NULL, build_object, &c, out);
}

int store_delete(kv_txn *t, const kv_key *k)
{
    shard *sh = shard_at(k->shard);
    table_pos pos;
    kv_entry *e = table_locate(t, sh, k, &pos);
    if (!e)
        return 0;
    bool live = !entry_expired(t, e);
    entry_unlink_free(t, sh, pos.link, e, pos.tbl);
    table_resize_if_needed(t, sh, sh->keys);
    return live;
}

/* Rebuilds e under k with a new TTL, keeping its value (string bytes or object). */
kv_entry *store_set_expire(kv_txn *t, const kv_key *k, kv_entry *e, int64_t expire_ms)
{
    shard *sh = shard_at(k->shard);
    if (entry_has_expire(e) && expire_ms >= 0) {
        tx_copy(t, k->shard, (char *)e + ENTRY_HDR, &expire_ms, 8);
        return t->failed ? NULL : e;
    }
    if (!entry_has_expire(e) && expire_ms < 0)
        return e;
    table_pos pos;
    if (table_locate(t, sh, k, &pos) != e)
        return NULL;
    /* the new entry takes over a collection root or an external string block as it
     * is; an inline string is copied (the TTL slot may push it out of line) */
    bool keep = e->flags & ENTRY_VAL_EXT;
    kv_entry *nw = entry_build(t, k->shard, k, e->nsid, e->type, keep ? NULL : entry_str(e),
                               e->vlen, 0, keep ? entry_obj(e) : 0, expire_ms);
    if (!nw)
        return NULL;
    nw->hits = e->hits;
    entry_replace(t, sh, pos.link, e, nw, keep);
    return t->failed ? NULL : nw;
}

int store_append(kv_txn *t, const kv_key *k, kv_entry *e, const void *v, size_t vlen,
                 kv_entry **out)
{
    size_t newlen = (size_t)e->vlen + vlen;
    if (newlen > 512u * 1024 * 1024)
        return STORE_E_TOOBIG;
    if ((e->flags & ENTRY_VAL_EXT) && *ext_block(e) >= newlen) {
        /* bytes past the current length are not live: no undo for them */
        memcpy((char *)(ext_block(e) + 1) + e->vlen, v, vlen);
        tx_store32(t, k->shard, &e->vlen, (uint32_t)newlen);
        if (out)
            *out = e;
        return t->failed ? STORE_E_NOMEM : STORE_OK;
    }
    char *buf = malloc(newlen ? newlen : 1);
    if (!buf)
        return STORE_E_NOMEM;
    memcpy(buf, entry_str(e), e->vlen);
    memcpy(buf + e->vlen, v, vlen);
    size_t head = ENTRY_HDR + (entry_has_expire(e) ? 8 : 0) + k->len;
    /* a string that outgrew the inline size grows geometrically from now on */
    size_t cap = head + newlen > INLINE_MAX ? newlen + newlen / 2 : 0;
    struct string_ctx c = { buf, newlen, cap, entry_expire(e) };
    uint32_t hits = e->hits;
    int rc = put_entry(t, k, NULL, build_string, &c, out);
    if (rc == STORE_OK && out && *out)
        (*out)->hits = hits;
    free(buf);
    return rc;
}

int store_setrange(kv_txn *t, const kv_key *k, kv_entry *e, size_t off, const void *v,
                   size_t n, kv_entry **out)
{
    if (off + n <= e->vlen && n <= 65536) {
        tx_copy(t, k->shard, (char *)entry_str(e) + off, v, n);
        if (out)
            *out = e;
        return t->failed ? STORE_E_NOMEM : STORE_OK;
    }
    size_t newlen = off + n > e->vlen ? off + n : e->vlen;
    char *buf = calloc(1, newlen ? newlen : 1);
    if (!buf)
        return STORE_E_NOMEM;
    memcpy(buf, entry_str(e), e->vlen);
    memcpy(buf + off, v, n);
    uint32_t hits = e->hits;
    struct string_ctx c = { buf, newlen, 0, entry_expire(e) };
    int rc = put_entry(t, k, NULL, build_string, &c, out);
    if (rc == STORE_OK && out && *out)
        (*out)->hits = hits;
    free(buf);
    return rc;
}

struct copy_ctx { const kv_entry *src; aoff obj; int64_t expire; };

static kv_entry *build_copy(kv_txn *t, const kv_key *k, int nsid, void *ctx)
{
    struct copy_ctx *c = ctx;
    if (c->src->type == KV_STRING)
        return entry_build(t, k->shard, k, nsid, KV_STRING, entry_str(c->src), c->src->vlen, 0, 0, c->expire);
    return entry_build(t, k->shard, k, nsid, c->src->type, NULL, 0, 0, c->obj, c->expire);
}

int store_copy(kv_txn *t, const kv_entry *src, const kv_key *dst, bool keep_ttl)
{
    struct copy_ctx c = { src, 0, keep_ttl ? entry_expire(src) : -1 };
    if (src->type != KV_STRING) {
        const type_ops *ops = store_type_ops(src->type);
        if (!ops || !ops->copy_obj)
            return STORE_E_NOMEM;
        c.obj = ops->copy_obj(t, dst->shard, entry_obj(src), entry_shard(src));
        if (!c.obj)
            return STORE_E_NOMEM;
    }
    /* the key bytes of src may be freed by the put (same key): copy them first */
    return put_entry(t, dst, NULL, build_copy, &c, NULL);
}

/* ---- whole-shard operations --------------------------------------------------------- */

void store_flush_shard(kv_txn *t, uint32_t s)
{
    shard *sh = shard_at(s);
    uint32_t nns = ns_count();
    for (uint32_t i = 0; i < nns; i++) {
        if (*ns_bytes_slot(s, i))
            tx_store64(t, s, ns_bytes_slot(s, i), 0);
        if (*ns_keys_slot(s, i))
            tx_store64(t, s, ns_keys_slot(s, i), 0);
    }
    memo_forget();
    shard_release_all(t, s);
    tx_store64(t, s, &sh->lazyfree, 0);
    tx_store64(t, s, &sh->lazy_bytes, 0);
    tx_store64(t, s, &sh->ht.table[0], 0);
    tx_store64(t, s, &sh->ht.table[1], 0);
    tx_store64(t, s, &sh->ht.size[0], 0);
    tx_store64(t, s, &sh->ht.size[1], 0);
    tx_store64(t, s, &sh->ht.used[0], 0);
    tx_store64(t, s, &sh->ht.used[1], 0);
    tx_store64(t, s, (uint64_t *)&sh->ht.rehash_idx, (uint64_t)-1);
    tx_store64(t, s, &sh->keys, 0);
    tx_store64(t, s, &sh->expires, 0);
}

/* What store_expire_scan's bucket walk needs. */
struct expire_ctx {
    kv_txn  *t;
    shard   *sh;
    unsigned deleted;
};

/* htable_walk visitor of active expiry: deletes e when it is expired. */
static int expire_visit(aref *link, void *node, void *ctx)
{
    struct expire_ctx *c = ctx;
    kv_entry *e = node;
    if (c->t->failed)
        return HTABLE_STOP;
    if (!entry_expired(c->t, e))
        return HTABLE_NEXT;
    entry_unlink_free(c->t, c->sh, link, e, 0);      /* not rehashing: one table */
    c->deleted++;
    return HTABLE_UNLINKED;
}

unsigned store_expire_scan(kv_txn *t, uint32_t s, unsigned buckets)
{
    shard *sh = shard_at(s);
    store_rehash_step(t, s, buckets);
    if (!sh->expires || !sh->ht.size[0] || htable_rehashing(&sh->ht))
        return 0;
    struct expire_ctx c = { t, sh, 0 };
    /* the cursor is a hint only: no undo */
    sh->expire_cursor = htable_walk(&sh->ht, &store_table_type, 0, sh->expire_cursor, buckets,
                                    expire_visit, &c);
    if (c.deleted) {
        __atomic_add_fetch(&sh->stat_expired, c.deleted, __ATOMIC_RELAXED);
        table_resize_if_needed(t, sh, sh->keys);
    }
    return c.deleted;
}

/* A store entry callback carried through the htable's untyped one, with the
 * transaction deciding which entries are expired. */
struct visit_ctx {
    const kv_txn *t;
    entry_fn      fn;
    void         *ctx;
};

/* htable visitor calling the entry callback for live entries only. */
static void visit_live(void *node, void *ctx)
{
    struct visit_ctx *c = ctx;
    if (!entry_expired(c->t, node))
        c->fn(node, c->ctx);
}

uint64_t store_scan_step(kv_txn *t, uint32_t s, uint64_t v, entry_fn fn, void *ctx)
{
    struct visit_ctx c = { t, fn, ctx };
    return htable_scan(&shard_at(s)->ht, &store_table_type, v, visit_live, &c);
}

void store_foreach(kv_txn *t, uint32_t s, entry_fn fn, void *ctx)
{
    struct visit_ctx c = { t, fn, ctx };
    htable_foreach(&shard_at(s)->ht, &store_table_type, visit_live, &c);
}

kv_entry *store_random(kv_txn *t, uint32_t s)
{
    shard *sh = shard_at(s);
    for (int tries = 0; tries < RANDOM_TRIES && sh->keys; tries++) {
        kv_entry *e = htable_random(&sh->ht, &store_table_type);
        if (!entry_expired(t, e))
            return e;
    }
    return NULL;
}

/* ---- accounting ----------------------------------------------------------------------- */
/* The sums below run before every write (eviction and maxmemory checks): the shard
 * array's address and count are read once, not per shard. */

uint64_t store_used_memory(void)
{
    const shard *sh = shard_at(0);
    uint32_t count = arena_hdr()->shard_count;
    uint64_t n = 0;
    for (uint32_t s = 0; s < count; s++)
        n += __atomic_load_n(&sh[s].mem_used, __ATOMIC_RELAXED);
    return n;
}

uint64_t store_keys(void)
{
    const shard *sh = shard_at(0);
    uint32_t count = arena_hdr()->shard_count;
    uint64_t n = 0;
    for (uint32_t s = 0; s < count; s++)
        n += __atomic_load_n(&sh[s].keys, __ATOMIC_RELAXED);
    return n;
}

uint64_t store_expires(void)
{
    const shard *sh = shard_at(0);
    uint32_t count = arena_hdr()->shard_count;
    uint64_t n = 0;
    for (uint32_t s = 0; s < count; s++)
        n += __atomic_load_n(&sh[s].expires, __ATOMIC_RELAXED);
    return n;
}

uint64_t store_ns_bytes(uint32_t nsid)
{
    uint64_t n = 0;
    for (uint32_t s = 0; s < arena_hdr()->shard_count; s++)
        n += __atomic_load_n(ns_bytes_slot(s, nsid), __ATOMIC_RELAXED);
    return n;
}

uint64_t store_ns_keys(uint32_t nsid)
{
    uint64_t n = 0;
    for (uint32_t s = 0; s < arena_hdr()->shard_count; s++)
        n += __atomic_load_n(ns_keys_slot(s, nsid), __ATOMIC_RELAXED);
    return n;
}

/* ---- eviction support ------------------------------------------------------------- */

size_t store_entry_bytes(const kv_entry *e) { return entry_charge(e); }

/* What store_sample_ns's bucket walk needs. */
struct sample_ctx {
    const kv_txn *t;
    uint32_t      nsid;
    kv_entry    **out;
    size_t        n, max;
};

/* htable_walk visitor of eviction sampling: keeps live entries of the namespace. */
static int sample_visit(aref *link, void *node, void *ctx)
{
    struct sample_ctx *c = ctx;
    kv_entry *e = node;
    if (e->nsid == c->nsid && !entry_expired(c->t, e))
        c->out[c->n++] = e;
    return c->n < c->max ? HTABLE_NEXT : HTABLE_STOP;
}

size_t store_sample_ns(kv_txn *t, uint32_t s, uint32_t nsid, kv_entry **out, size_t max,
                       unsigned budget)
{
    shard *sh = shard_at(s);
    if (!sh->ht.size[0] || !max)
        return 0;
    struct sample_ctx c = { t, nsid, out, 0, max };
    int tbl = htable_random_table(&sh->ht);
    htable_walk(&sh->ht, &store_table_type, tbl, rng_u64(), budget, sample_visit, &c);
    return c.n;
}
