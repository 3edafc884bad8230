/* dict.h - a generic arena hash table of byte-string keyed nodes (hash fields, set
 * members, sorted-set members).
 *
 * An adict lives inside some root object of one shard; every node and bucket array is
 * allocated in that shard and every change to existing memory is undo-logged, so the
 * caller only needs the shard locked in its transaction. It is an htable (htable.h,
 * the same core as the shard tables of store.c): two bucket arrays while it rehashes
 * incrementally (one bucket step per mutation), so no single command rewrites O(n)
 * existing memory.
 *
 * Nodes are [adict_node header][klen key bytes][vlen value bytes]; the value is not
 * aligned (memcpy numbers in and out). d->bytes is the sum of alloc_real_size of the
 * bucket arrays and nodes: callers mirror its changes into their root's byte counter
 * and store_charge (read it before and after a mutation, charge the difference).
 * Node pointers stay valid until the next mutation of the dict. */
#ifndef KVNS_DICT_H
#define KVNS_DICT_H

#include "kvns/htable.h"

typedef struct adict {
    htable   ht;              /* chains of adict_node */
    uint64_t bytes;           /* alloc_real_size of tables + nodes */
} adict;

typedef struct adict_node {
    aref     next;
    uint32_t klen;
    uint32_t vlen;
    uint32_t pad;
    /* then klen key bytes, then vlen value bytes */
} adict_node;

/* Zeroes d (fresh memory, no undo): an empty dict without tables. */
void adict_init(adict *d);
static inline uint64_t adict_len(const adict *d) { return htable_len(&d->ht); }
/* True when d has a bucket array (possibly empty of nodes). */
static inline bool adict_has_table(const adict *d) { return d->ht.size[0] != 0; }
/* The node holding key, or NULL. */
adict_node *adict_find(const adict *d, const void *key, size_t klen);
static inline const char *adict_node_key(const adict_node *n) { return (const char *)(n + 1); }
static inline char *adict_node_val(adict_node *n) { return (char *)(n + 1) + n->klen; }

/* Inserts a new key (the caller checked it is absent); returns the node or NULL when
 * an allocation failed (t->failed set). */
adict_node *adict_insert(kv_txn *t, uint32_t shard, adict *d, const void *key, size_t klen,
                         const void *val, size_t vlen);
/* Replaces the value of n (a node of d); may reallocate the node and returns the node
 * now holding the key, or NULL on failure. */
adict_node *adict_set_value(kv_txn *t, uint32_t shard, adict *d, adict_node *n,
                            const void *val, size_t vlen);
/* Deletes key; returns true when it was present. */
bool adict_delete(kv_txn *t, uint32_t shard, adict *d, const void *key, size_t klen);

/* Calls fn for every node of the buckets one Redis dictScan step visits at cursor;
 * returns the next cursor, 0 when done. Every key present for the whole scan is
 * returned at least once, even while the dict grows or shrinks. */
uint64_t adict_scan(const adict *d, uint64_t cursor, void (*fn)(adict_node *n, void *ctx), void *ctx);
/* Calls fn for every node. fn must not mutate d. */
void adict_foreach(const adict *d, void (*fn)(adict_node *n, void *ctx), void *ctx);
/* A random node (chain-length biased like Redis's dictGetRandomKey), NULL when empty. */
adict_node *adict_random(const adict *d);

/* Frees up to budget nodes (d is dead: nothing may look it up any more). Returns true
 * when every node and bucket array is freed; d itself belongs to the caller. */
bool adict_free_step(kv_txn *t, uint32_t shard, adict *d, unsigned budget);
/* Deep-copies src (any shard) into dst (fresh memory, not yet reachable) with nodes in
 * dst_shard. Returns nonzero on success, 0 with t->failed set on failure (whatever
 * was allocated is then released by the transaction's rollback). */
aoff adict_copy(kv_txn *t, uint32_t dst_shard, const adict *src, adict *dst);

/* ---- additions ------------------------------------------------------------------- */
/* Moves up to `buckets` buckets of a pending incremental rehash (mutations do one). */
void adict_rehash_step(kv_txn *t, uint32_t shard, adict *d, unsigned buckets);
/* Pre-sizes an empty dict (no tables yet, fresh or logged) for n keys: used when a
 * compact encoding converts, so the conversion does not rehash. */
bool adict_expand(kv_txn *t, uint32_t shard, adict *d, uint64_t n);
/* Fresh-build mode, for dicts being built in this transaction (a local adict struct
 * whose tables and nodes are all fresh; the caller then publishes the struct into its
 * root with one logged copy). Nothing is undo-logged: never use it on a dict that
 * existed before the transaction, nor the logged functions on a non-arena struct.
 * adict_presize_fresh sizes an empty table for n keys; adict_put_fresh inserts key
 * or, when present, replaces its value if `replace`. Returns 1 added, 0 present,
 * -1 on failure (t->failed). */
bool adict_presize_fresh(kv_txn *t, uint32_t shard, adict *d, uint64_t n);
int adict_put_fresh(kv_txn *t, uint32_t shard, adict *d, const void *key, size_t klen,
                    const void *val, size_t vlen, bool replace);
/* Bytes a node for klen/vlen costs (alloc_real_size of header + key + value). */
size_t adict_node_cost(size_t klen, size_t vlen);
/* The dict's hash of key bytes (seeded per arena). */
uint64_t adict_hash(const void *key, size_t klen);
/* Checks counters, bucket placement, that no key is present twice and d->bytes; 0 or
 * -1 with a description. */
int adict_check(const adict *d, char *err, size_t errlen);

#endif
