/* htable.h - the one arena hash table with incremental rehash, behind both the
 * keyspace (a shard's kv_entry chains, store.c) and the collection dicts (adict_node
 * chains, dict.c).
 *
 * A table keeps two bucket arrays of aref while it rehashes incrementally: new nodes
 * go to table 1, every mutation of the owner moves one bucket of table 0 (buckets of
 * table 0 below rehash_idx are already moved), and the load factor stays between
 * 1/shrink_ratio and 1. Nodes are the owner's own blocks; an htable_type (one const
 * struct per use, like Redis's dictType) says where a node's chain link and key bytes
 * are, how keys hash, how large the smallest table is and where the owner counts the
 * table's bytes.
 *
 * Two modes: the logged functions change existing arena memory only through the
 * undo-logged stores of txn.h (the owner's shard locked in t); the *_fresh functions
 * write plainly and serve only tables built in the running transaction that nothing
 * reachable points at yet.
 *
 * Lookups are the owner's: it walks htable_chain() of each table itself with its own
 * inline key comparison, so the hot path makes no indirect call. */
#ifndef KVNS_HTABLE_H
#define KVNS_HTABLE_H

#include "kvns/txn.h"

typedef struct htable {
    aoff     table[2];         /* bucket arrays of aref */
    uint64_t size[2];          /* bucket counts (powers of two) or 0 */
    uint64_t used[2];          /* nodes in each table */
    int64_t  rehash_idx;       /* next bucket of table 0 to move, -1 when not rehashing */
} htable;                      /* 56 bytes */

typedef struct htable_type {
    uint32_t next_off;         /* offset of the node's aref chain link */
    uint32_t min_size;         /* bucket count of the first table (a power of two) */
    uint32_t shrink_ratio;     /* shrink once fewer than size / shrink_ratio nodes remain */
    int32_t  bytes_off;        /* offset from the htable to the owner's uint64 byte counter
                                * of bucket arrays (and nodes htable_free_step frees);
                                * 0: the owner counts nothing */
    const char *(*key)(const void *node, size_t *len);
    uint64_t (*hash)(const void *key, size_t len);
    /* htable_free_step only: frees node (deferred to commit), returns its bytes */
    size_t (*node_free)(kv_txn *t, uint32_t s, void *node);
} htable_type;

/* What an htable_walk visitor did with the node it was shown. */
enum htable_visit { HTABLE_NEXT = 0, HTABLE_UNLINKED = 1, HTABLE_STOP = 2 };

/* Zeroes ht (fresh memory, no undo): an empty table without buckets. */
void htable_init(htable *ht);

static inline bool htable_rehashing(const htable *ht) { return ht->rehash_idx >= 0; }
static inline uint64_t htable_len(const htable *ht) { return ht->used[0] + ht->used[1]; }
/* The highest table index in use: 1 while rehashing, else 0. */
static inline int htable_last_table(const htable *ht) { return htable_rehashing(ht) ? 1 : 0; }

/* The head link of bucket idx of table tbl. */
static inline aref *htable_bucket(const htable *ht, int tbl, uint64_t idx)
{
    return (aref *)arena_ptr(ht->table[tbl]) + idx;
}

/* The chain link of node. */
static inline aref *htable_next(const htable_type *ty, void *node)
{
    return (aref *)((char *)node + ty->next_off);
}

/* The head link of the chain where a key of this hash sits in table tbl, or NULL when
 * table tbl cannot hold it (no buckets, or its bucket of table 0 already moved). */
static inline aref *htable_chain(const htable *ht, int tbl, uint64_t hash)
{
    if (!ht->size[tbl])
        return NULL;
    uint64_t idx = hash & (ht->size[tbl] - 1);
    if (tbl == 0 && htable_rehashing(ht) && idx < (uint64_t)ht->rehash_idx)
        return NULL;
    return htable_bucket(ht, tbl, idx);
}

/* Links a fresh node (its link is not yet live memory: no undo for it) at the head of
 * its chain in the table new nodes go to (logged). The table must have buckets. */
static inline void htable_insert(kv_txn *t, uint32_t s, const htable_type *ty, htable *ht,
                                 void *node, uint64_t hash)
{
    int tbl = htable_last_table(ht);
    aref *head = htable_bucket(ht, tbl, hash & (ht->size[tbl] - 1));
    *htable_next(ty, node) = *head;
    tx_store32(t, s, head, ptr_ref(node));
    tx_add64(t, s, &ht->used[tbl], 1);
}

/* Unlinks node, found through link in table tbl (logged); freeing it is the owner's. */
static inline void htable_unlink(kv_txn *t, uint32_t s, const htable_type *ty, htable *ht,
                                 aref *link, void *node, int tbl)
{
    tx_store32(t, s, link, *htable_next(ty, node));
    tx_add64(t, s, &ht->used[tbl], -1);
}

/* Puts the fresh node nw in old's place in its chain (old found through link; logged). */
static inline void htable_replace(kv_txn *t, uint32_t s, const htable_type *ty, aref *link,
                                  void *old, void *nw)
{
    *htable_next(ty, nw) = *htable_next(ty, old);
    tx_store32(t, s, link, ptr_ref(nw));
}

/* Grows (keys_after > size) or shrinks (below 1/shrink_ratio) by starting an
 * incremental rehash, or creates the first table; nothing while a rehash runs. Called
 * with the node count the owner is about to reach. Logged. */
void htable_resize_if_needed(kv_txn *t, uint32_t s, const htable_type *ty, htable *ht,
                             uint64_t keys_after);
/* Moves up to `buckets` non-empty buckets (or 10 times as many empty ones) of a running
 * rehash; finishing it frees table 0 and checks the size again. Logged. */
void htable_rehash_step(kv_txn *t, uint32_t s, const htable_type *ty, htable *ht,
                        unsigned buckets);
/* Gives an empty table without buckets a first table for n nodes (logged), so filling
 * it does not rehash. Returns false when it has buckets already or allocation failed. */
bool htable_expand(kv_txn *t, uint32_t s, const htable_type *ty, htable *ht, uint64_t n);

/* Fresh mode: grows a not-rehashing fresh table to hold n nodes at load <= 1 (plain
 * writes). Returns false when allocation failed. */
bool htable_presize_fresh(kv_txn *t, uint32_t s, const htable_type *ty, htable *ht, uint64_t n);
/* Fresh mode: links node into a fresh table presized for it (plain writes). */
static inline void htable_insert_fresh(const htable_type *ty, htable *ht, void *node, uint64_t hash)
{
    aref *head = htable_bucket(ht, 0, hash & (ht->size[0] - 1));
    *htable_next(ty, node) = *head;
    *head = ptr_ref(node);
    ht->used[0]++;
}

/* Calls fn for each node of the buckets one step of Redis's dictScan visits at cursor
 * v; returns the next cursor, 0 when done. Every node present for the whole scan is
 * visited at least once even while the table grows or shrinks between steps. fn may
 * not unlink nodes. */
uint64_t htable_scan(const htable *ht, const htable_type *ty, uint64_t v,
                     void (*fn)(void *node, void *ctx), void *ctx);
/* Calls fn for every node (fn may not unlink). */
void htable_foreach(const htable *ht, const htable_type *ty, void (*fn)(void *node, void *ctx),
                    void *ctx);
/* The table a random pick looks in: table 1 with probability used[1] / len while
 * rehashing (half and half would over-sample the newest nodes). */
int htable_random_table(const htable *ht);
/* A random node, NULL when empty: a random non-empty bucket of htable_random_table,
 * then a uniform pick in its chain (chain-length biased like Redis's dictGetRandomKey). */
void *htable_random(const htable *ht, const htable_type *ty);
/* Shows visit each node of up to `buckets` buckets of table tbl from bucket start on
 * (wrapping; moved buckets of table 0 count but hold nothing), with the link pointing
 * at it. Returns the bucket to continue from next time. */
uint64_t htable_walk(const htable *ht, const htable_type *ty, int tbl, uint64_t start,
                     unsigned buckets, int (*visit)(aref *link, void *node, void *ctx), void *ctx);
/* The table is dead: frees up to budget nodes through ty->node_free and the bucket
 * arrays once empty, using rehash_idx as its cursor (logged). Returns true when all is
 * freed. */
bool htable_free_step(kv_txn *t, uint32_t s, const htable_type *ty, htable *ht, unsigned budget);
/* alloc_real_size of the bucket arrays. */
uint64_t htable_table_bytes(const htable *ht);
/* Checks the structure: sizes, table 1 only while rehashing, moved buckets empty,
 * node refs inside the heap, every node in its hash's bucket, chain lengths and used
 * counts; calls visit (NULL: none) for each node, which returns 0 or -1 with err set.
 * Messages start with `what` ("shard 3", "dict"). Returns 0 or -1 with err. */
int htable_check(const htable *ht, const htable_type *ty, const char *what,
                 int (*visit)(const void *node, void *ctx, char *err, size_t errlen), void *ctx,
                 char *err, size_t errlen);

#endif
