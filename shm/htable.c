/* htable.c - the arena hash table core shared by the keyspace and the collection
 * dicts (see htable.h): resizing, incremental rehash, the scan cursor, random picks,
 * bucket walks, freeing and the structural checker. */
#include "kvns/htable.h"
#include "kvns/alloc.h"
#include "kvns/rng.h"

#include <stdio.h>
#include <string.h>

#define REHASH_EMPTY_MAX 10
#define RANDOM_DRAWS     1000     /* empty buckets drawn before walking to a full one */

void htable_init(htable *ht)
{
    memset(ht, 0, sizeof *ht);
    ht->rehash_idx = -1;
}

/* The owner's byte counter, or NULL when the type counts nothing. */
static inline uint64_t *owner_bytes(const htable_type *ty, htable *ht)
{
    return ty->bytes_off ? (uint64_t *)((char *)ht + ty->bytes_off) : NULL;
}

/* Adds delta to the owner's byte counter (logged). */
static void charge(kv_txn *t, uint32_t s, const htable_type *ty, htable *ht, int64_t delta)
{
    uint64_t *b = owner_bytes(ty, ht);
    if (b && delta)
        tx_add64(t, s, b, delta);
}

/* The hash of node's key. */
static inline uint64_t node_hash(const htable_type *ty, const void *node)
{
    size_t len;
    const char *key = ty->key(node, &len);
    return ty->hash(key, len);
}

/* Smallest power-of-two size (>= min_size) for n nodes at load factor <= 1. */
static uint64_t size_for(const htable_type *ty, uint64_t n)
{
    uint64_t size = ty->min_size;
    while (size < n)
        size *= 2;
    return size;
}

/* Allocates a zeroed bucket array (fresh memory, no undo); 0 on failure. */
static aoff buckets_alloc(kv_txn *t, uint32_t s, uint64_t size)
{
    aoff off = shard_alloc(t, s, size * sizeof(aref));
    if (off)
        memset(arena_ptr(off), 0, size * sizeof(aref));
    return off;
}

/* Allocates a bucket array and counts it in the owner (logged); 0 on failure. */
static aoff table_alloc(kv_txn *t, uint32_t s, const htable_type *ty, htable *ht, uint64_t size)
{
    aoff off = buckets_alloc(t, s, size);
    if (off)
        charge(t, s, ty, ht, (int64_t)alloc_real_size(size * sizeof(aref)));
    return off;
}

/* Frees a bucket array at commit and uncounts it (logged). */
static void table_free(kv_txn *t, uint32_t s, const htable_type *ty, htable *ht, aoff tbl,
                       uint64_t size)
{
    shard_free(t, s, tbl, size * sizeof(aref));
    charge(t, s, ty, ht, -(int64_t)alloc_real_size(size * sizeof(aref)));
}

/* Starts an incremental rehash into a new table of new_size buckets. */
static void rehash_start(kv_txn *t, uint32_t s, const htable_type *ty, htable *ht, uint64_t new_size)
{
    aoff tbl = table_alloc(t, s, ty, ht, new_size);
    if (!tbl)
        return;
    tx_store64(t, s, &ht->table[1], tbl);
    tx_store64(t, s, &ht->size[1], new_size);
    tx_store64(t, s, &ht->used[1], 0);
    tx_store64(t, s, (uint64_t *)&ht->rehash_idx, 0);
}

void htable_resize_if_needed(kv_txn *t, uint32_t s, const htable_type *ty, htable *ht,
                             uint64_t keys_after)
{
    if (htable_rehashing(ht) || t->failed)
        return;
    if (ht->size[0] == 0) {
        if (!keys_after)
            return;
        aoff tbl = table_alloc(t, s, ty, ht, ty->min_size);
        if (!tbl)
            return;
        tx_store64(t, s, &ht->table[0], tbl);
        tx_store64(t, s, &ht->size[0], ty->min_size);
        return;
    }
    if (keys_after > ht->size[0]) {
        rehash_start(t, s, ty, ht, ht->size[0] * 2);
    } else if (ht->size[0] > ty->min_size && keys_after < ht->size[0] / ty->shrink_ratio) {
        uint64_t n = ty->min_size;
        while (n < keys_after * 2)
            n *= 2;
        rehash_start(t, s, ty, ht, n);
    }
}

/* Moves every node of bucket b of table 0 to table 1 (logged). Returns how many. */
static uint64_t move_bucket(kv_txn *t, uint32_t s, const htable_type *ty, htable *ht, uint64_t b)
{
    aref *src = htable_bucket(ht, 0, b);
    uint64_t moved = 0;
    for (aref r = *src; r && !t->failed;) {
        void *node = ref_ptr(r);
        aref *link = htable_next(ty, node);
        aref next = *link;
        aref *dst = htable_bucket(ht, 1, node_hash(ty, node) & (ht->size[1] - 1));
        tx_store32(t, s, link, *dst);
        tx_store32(t, s, dst, r);
        moved++;
        r = next;
    }
    if (*src)
        tx_store32(t, s, src, 0);
    return moved;
}

void htable_rehash_step(kv_txn *t, uint32_t s, const htable_type *ty, htable *ht, unsigned buckets)
{
    unsigned empty = 0;
    while (buckets > 0 && htable_rehashing(ht) && !t->failed) {
        uint64_t b = (uint64_t)ht->rehash_idx;
        if (!*htable_bucket(ht, 0, b) && ++empty < REHASH_EMPTY_MAX * buckets) {
            tx_store64(t, s, (uint64_t *)&ht->rehash_idx, b + 1);
        } else {
            uint64_t moved = move_bucket(t, s, ty, ht, b);
            tx_add64(t, s, &ht->used[0], -(int64_t)moved);
            tx_add64(t, s, &ht->used[1], (int64_t)moved);
            tx_store64(t, s, (uint64_t *)&ht->rehash_idx, b + 1);
            buckets--;
        }
        if (!t->failed && (uint64_t)ht->rehash_idx >= ht->size[0]) {
            table_free(t, s, ty, ht, ht->table[0], ht->size[0]);
            tx_store64(t, s, &ht->table[0], ht->table[1]);
            tx_store64(t, s, &ht->size[0], ht->size[1]);
            tx_store64(t, s, &ht->used[0], ht->used[1]);
            tx_store64(t, s, &ht->table[1], 0);
            tx_store64(t, s, &ht->size[1], 0);
            tx_store64(t, s, &ht->used[1], 0);
            tx_store64(t, s, (uint64_t *)&ht->rehash_idx, (uint64_t)-1);
            htable_resize_if_needed(t, s, ty, ht, htable_len(ht));   /* nodes came or went */
        }
    }
}

bool htable_expand(kv_txn *t, uint32_t s, const htable_type *ty, htable *ht, uint64_t n)
{
    if (ht->size[0] || htable_rehashing(ht))
        return false;
    uint64_t size = size_for(ty, n);
    aoff tbl = table_alloc(t, s, ty, ht, size);
    if (!tbl)
        return false;
    tx_store64(t, s, &ht->table[0], tbl);
    tx_store64(t, s, &ht->size[0], size);
    return !t->failed;
}

/* ---- fresh building ------------------------------------------------------------------ */

bool htable_presize_fresh(kv_txn *t, uint32_t s, const htable_type *ty, htable *ht, uint64_t n)
{
    if (n <= ht->size[0])
        return true;
    uint64_t new_size = size_for(ty, n);
    aoff tbl = buckets_alloc(t, s, new_size);
    if (!tbl)
        return false;
    aref *nb = arena_ptr(tbl);
    for (uint64_t b = 0; b < ht->size[0]; b++) {
        for (aref r = *htable_bucket(ht, 0, b); r;) {
            void *node = ref_ptr(r);
            aref *link = htable_next(ty, node);
            aref next = *link;
            aref *head = nb + (node_hash(ty, node) & (new_size - 1));
            *link = *head;
            *head = r;
            r = next;
        }
    }
    uint64_t *bytes = owner_bytes(ty, ht);
    if (ht->size[0]) {
        shard_free(t, s, ht->table[0], ht->size[0] * sizeof(aref));
        if (bytes)
            *bytes -= alloc_real_size(ht->size[0] * sizeof(aref));
    }
    ht->table[0] = tbl;
    ht->size[0] = new_size;
    if (bytes)
        *bytes += alloc_real_size(new_size * sizeof(aref));
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

/* The cursor after v for a table of mask m: the reverse-binary increment. */
static inline uint64_t cursor_next(uint64_t v, uint64_t m)
{
    v |= ~m;
    v = rev64(v);
    v++;
    return rev64(v);
}

/* Calls fn for each node of bucket idx of table tbl, unless table 0 already moved it
 * (the next link is read first). */
static void visit_bucket(const htable *ht, const htable_type *ty, int tbl, uint64_t idx,
                         void (*fn)(void *, void *), void *ctx)
{
    if (tbl == 0 && htable_rehashing(ht) && idx < (uint64_t)ht->rehash_idx)
        return;
    for (aref r = *htable_bucket(ht, tbl, idx); r;) {
        void *node = ref_ptr(r);
        r = *htable_next(ty, node);
        fn(node, ctx);
    }
}

/* Redis's dictScan: while rehashing, the small table's bucket v and every bucket of the
 * large table that expands it are visited in one step, so the reverse-binary cursor
 * misses nothing present for the whole scan whichever way the table was resized. */
uint64_t htable_scan(const htable *ht, const htable_type *ty, uint64_t v,
                     void (*fn)(void *node, void *ctx), void *ctx)
{
    if (!ht->size[0])
        return 0;
    if (!htable_rehashing(ht)) {
        uint64_t m0 = ht->size[0] - 1;
        visit_bucket(ht, ty, 0, v & m0, fn, ctx);
        return cursor_next(v, m0);
    }
    int small = ht->size[0] <= ht->size[1] ? 0 : 1, large = 1 - small;
    uint64_t m0 = ht->size[small] - 1, m1 = ht->size[large] - 1;
    visit_bucket(ht, ty, small, v & m0, fn, ctx);
    do {
        visit_bucket(ht, ty, large, v & m1, fn, ctx);
        v = cursor_next(v, m1);
    } while (v & (m0 ^ m1));
    return v;
}

void htable_foreach(const htable *ht, const htable_type *ty, void (*fn)(void *node, void *ctx),
                    void *ctx)
{
    for (int tbl = 0; tbl <= htable_last_table(ht); tbl++)
        for (uint64_t b = 0; b < ht->size[tbl]; b++)
            visit_bucket(ht, ty, tbl, b, fn, ctx);
}

int htable_random_table(const htable *ht)
{
    uint64_t len = htable_len(ht);
    if (!htable_rehashing(ht) || !len)
        return 0;
    return rng_u64() % len < ht->used[1] ? 1 : 0;
}

void *htable_random(const htable *ht, const htable_type *ty)
{
    if (!htable_len(ht))
        return NULL;
    int tbl = htable_random_table(ht);
    /* the live buckets of the chosen table: [lo, size) (it holds used[tbl] > 0 nodes) */
    uint64_t lo = tbl == 0 && htable_rehashing(ht) ? (uint64_t)ht->rehash_idx : 0;
    uint64_t span = ht->size[tbl] - lo;
    uint64_t i = lo + rng_u64() % span;
    aref head = *htable_bucket(ht, tbl, i);
    for (unsigned draws = 1; !head && draws < RANDOM_DRAWS; draws++) {
        i = lo + rng_u64() % span;
        head = *htable_bucket(ht, tbl, i);
    }
    while (!head) {                     /* pathological sparseness: walk instead */
        i = lo + (i - lo + 1) % span;
        head = *htable_bucket(ht, tbl, i);
    }
    unsigned len = 0;
    for (aref r = head; r; r = *htable_next(ty, ref_ptr(r)))
        len++;
    unsigned pick = (unsigned)(rng_u64() % len);
    while (pick--)
        head = *htable_next(ty, ref_ptr(head));
    return ref_ptr(head);
}

uint64_t htable_walk(const htable *ht, const htable_type *ty, int tbl, uint64_t start,
                     unsigned buckets, int (*visit)(aref *link, void *node, void *ctx), void *ctx)
{
    if (!ht->size[tbl])
        return start;
    uint64_t mask = ht->size[tbl] - 1, b = start & mask;
    for (unsigned i = 0; i < buckets; i++, b = (b + 1) & mask) {
        if (tbl == 0 && htable_rehashing(ht) && b < (uint64_t)ht->rehash_idx)
            continue;
        aref *link = htable_bucket(ht, tbl, b);
        while (*link) {
            void *node = ref_ptr(*link);
            int what = visit(link, node, ctx);
            if (what == HTABLE_STOP)
                return b;
            if (what == HTABLE_NEXT)
                link = htable_next(ty, node);
        }
    }
    return b;
}

/* ---- freeing --------------------------------------------------------------------------- */

/* The table is dead, so rehash_idx is free to serve as the freeing cursor over table 0
 * (buckets below it are done, exactly as during a rehash); when table 0 is finished,
 * table 1 (if a rehash was running) takes its place. Bytes freed are counted once per
 * step, not per node. */
bool htable_free_step(kv_txn *t, uint32_t s, const htable_type *ty, htable *ht, unsigned budget)
{
    if (!ht->size[0] && !ht->size[1])
        return true;
    uint64_t idx = htable_rehashing(ht) ? (uint64_t)ht->rehash_idx : 0;
    uint64_t used0 = ht->used[0];
    int64_t freed_bytes = 0;
    unsigned freed = 0, visited = 0, visit_max = budget > (1u << 26) ? budget : budget * 8 + 64;
    bool done = false;
    while (!t->failed) {
        if (idx >= ht->size[0]) {
            /* table 0 drained: free it and continue with table 1, if any */
            charge(t, s, ty, ht, -freed_bytes);
            freed_bytes = 0;
            table_free(t, s, ty, ht, ht->table[0], ht->size[0]);
            tx_store64(t, s, &ht->table[0], ht->table[1]);
            tx_store64(t, s, &ht->size[0], ht->size[1]);
            used0 = ht->used[1];
            tx_store64(t, s, &ht->table[1], 0);
            tx_store64(t, s, &ht->size[1], 0);
            tx_store64(t, s, &ht->used[1], 0);
            idx = 0;
            if (!ht->size[0]) {
                done = true;
                break;
            }
            continue;
        }
        if (freed >= budget || visited >= visit_max)
            break;
        aref *b = htable_bucket(ht, 0, idx);
        aref r = *b;
        while (r && freed < budget) {
            void *node = ref_ptr(r);
            r = *htable_next(ty, node);
            freed_bytes += (int64_t)ty->node_free(t, s, node);
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
    tx_store64(t, s, &ht->used[0], done ? 0 : used0);
    charge(t, s, ty, ht, -freed_bytes);
    tx_store64(t, s, (uint64_t *)&ht->rehash_idx, done ? (uint64_t)-1 : idx);
    return done && !t->failed;
}

/* ---- checking ------------------------------------------------------------------------- */

uint64_t htable_table_bytes(const htable *ht)
{
    uint64_t n = 0;
    for (int tbl = 0; tbl < 2; tbl++)
        if (ht->size[tbl])
            n += alloc_real_size(ht->size[tbl] * sizeof(aref));
    return n;
}

/* Checks one chain: refs inside the heap, bounded length, every node in bucket b of
 * table tbl. Adds its length to *count. Returns 0 or -1 with err. */
static int check_chain(const htable *ht, const htable_type *ty, const char *what, int tbl, uint64_t b,
                       int (*visit)(const void *, void *, char *, size_t), void *ctx,
                       uint64_t *count, char *err, size_t errlen)
{
    const arena_header *h = arena_hdr();
    uint64_t chain = 0, len = htable_len(ht);
    for (aref r = *htable_bucket(ht, tbl, b); r; r = *htable_next(ty, ref_ptr(r))) {
        aoff off = (aoff)r << 3;
        if (off < h->heap_start || off >= h->heap_bump || ++chain > len + 1) {
            snprintf(err, errlen, "%s bucket %llu: bad node ref", what, (unsigned long long)b);
            return -1;
        }
        const void *node = ref_ptr(r);
        size_t klen;
        const char *key = ty->key(node, &klen);
        if ((ty->hash(key, klen) & (ht->size[tbl] - 1)) != b) {
            snprintf(err, errlen, "%s: key '%.*s' in the wrong bucket", what,
                     (int)(klen > 64 ? 64 : klen), key);
            return -1;
        }
        if (++*count > ht->used[tbl]) {
            snprintf(err, errlen, "%s table %d holds more nodes than used=%llu", what, tbl,
                     (unsigned long long)ht->used[tbl]);
            return -1;
        }
        if (visit && visit(node, ctx, err, errlen) < 0)
            return -1;
    }
    return 0;
}

int htable_check(const htable *ht, const htable_type *ty, const char *what,
                 int (*visit)(const void *node, void *ctx, char *err, size_t errlen), void *ctx,
                 char *err, size_t errlen)
{
    for (int tbl = 0; tbl < 2; tbl++) {
        if (!ht->size[tbl]) {
            if (ht->used[tbl] || ht->table[tbl]) {
                snprintf(err, errlen, "%s table %d: no buckets but used %llu", what, tbl,
                         (unsigned long long)ht->used[tbl]);
                return -1;
            }
            continue;
        }
        if (ht->size[tbl] & (ht->size[tbl] - 1)) {
            snprintf(err, errlen, "%s table %d size %llu not a power of two", what, tbl,
                     (unsigned long long)ht->size[tbl]);
            return -1;
        }
        if (tbl == 1 && !htable_rehashing(ht)) {
            snprintf(err, errlen, "%s has a second table but no rehash", what);
            return -1;
        }
        uint64_t count = 0;
        for (uint64_t b = 0; b < ht->size[tbl]; b++) {
            if (tbl == 0 && htable_rehashing(ht) && b < (uint64_t)ht->rehash_idx &&
                *htable_bucket(ht, 0, b)) {
                snprintf(err, errlen, "%s: moved bucket %llu not empty", what, (unsigned long long)b);
                return -1;
            }
            if (check_chain(ht, ty, what, tbl, b, visit, ctx, &count, err, errlen) < 0)
                return -1;
        }
        if (count != ht->used[tbl]) {
            snprintf(err, errlen, "%s table %d holds %llu nodes, used says %llu", what, tbl,
                     (unsigned long long)count, (unsigned long long)ht->used[tbl]);
            return -1;
        }
    }
    if (htable_rehashing(ht) && !ht->size[1]) {
        snprintf(err, errlen, "%s rehashing without a second table", what);
        return -1;
    }
    return 0;
}
