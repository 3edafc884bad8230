/* store.h - the keyspace: keys, namespaces, entries, expiry, iteration.
 *
 * A key `ns/local` belongs to namespace `ns`; a key without `/` to `default`, and
 * `default/x` is the same key as `x` (its canonical form is the bare `x`; a default
 * key whose local part itself holds a `/` keeps its `default/` prefix). The canonical
 * form is also the display name KEYS and SCAN return.
 *
 * Every function taking a kv_txn needs the key's shard locked in that transaction
 * (txn_lock(t, k->shard)). Entries returned are valid until the transaction ends or
 * the entry is changed through another call. */
#ifndef KVNS_STORE_H
#define KVNS_STORE_H

#include "kvns/txn.h"

enum kv_type { KV_STRING = 0, KV_LIST = 1, KV_HASH = 2, KV_SET = 3, KV_ZSET = 4 };

enum entry_flags {
    ENTRY_EXPIRE = 1,        /* an int64 unix-ms deadline follows the header */
    ENTRY_VAL_EXT = 2,       /* the value is an aoff to an external block */
};

typedef struct kv_entry {
    aref     next;           /* hash chain */
    uint32_t hits;           /* reads, for lru/mru eviction and OBJECT FREQ */
    uint32_t klen;
    uint32_t vlen;           /* strings: value length */
    uint16_t nsid;
    uint8_t  type;           /* enum kv_type */
    uint8_t  flags;          /* enum entry_flags */
} kv_entry;                  /* 20 bytes; then [expire], key, value */

typedef struct kv_key {
    const char *ptr;         /* canonical key bytes (points into the caller's buffer) */
    uint32_t    len;
    uint32_t    shard;
    uint64_t    hash;
} kv_key;

enum store_error {
    STORE_OK = 0,
    STORE_E_NOMEM = -1,      /* arena full / transaction failed: abort the command */
    STORE_E_NSFULL = -2,     /* no room for another namespace */
    STORE_E_TOOBIG = -3,     /* key or value beyond the supported size */
};

#define STORE_MAX_KEY   (512u * 1024 * 1024)

/* Seeded 64-bit hash of bytes (keys, dict members): fast multiply-mix, not
 * cryptographic; the arena's random seed makes it hard to flood. */
uint64_t kv_hash_bytes(const void *p, size_t n, uint64_t seed);
/* Fills k from raw key bytes: canonical form, hash, shard. Cheap, no locking. */
void key_init(kv_key *k, const char *raw, size_t len);
/* ---- namespaces (namespace.c) ----------------------------------------------------- */
/* Namespace id for the key (registering a new namespace if needed), or -1 when
 * KVNS_MAX_NAMESPACES namespaces exist. Call with the key's shard locked when the id
 * goes into an entry: only then can it not be reclaimed before the entry is charged. */
int key_nsid(const kv_key *k);
/* Namespace id for the key when its namespace exists, else -1 (never registers). */
int key_nsid_existing(const kv_key *k);
/* Namespace name of id; sets *len. Meaningful while ns_live(id). */
const char *ns_name(uint32_t nsid, uint32_t *len);
/* Ids ever used (each live or free): loops over namespaces run below it. */
uint32_t ns_count(void);
/* True when id is a registered namespace (not reclaimed). */
bool ns_live(uint32_t nsid);
/* Number of registered namespaces, default included (INFO). */
uint32_t ns_live_count(void);
/* Bumped each time id is reclaimed: state kept per id elsewhere (latency series,
 * policy caches) compares it to tell a reused id from its earlier namespace. */
uint32_t ns_generation(uint32_t nsid);
/* Namespace id of a live name, or -1. */
int ns_find(const char *name, size_t len);
/* Housekeeper: frees every namespace but default that holds no key in any shard,
 * under every shard lock (ascending) then the namespace lock, so no writer can be
 * registering or using it meanwhile; a freed id is reused a second later at the
 * earliest. Returns how many were freed. */
unsigned store_ns_reclaim(kv_txn *t);
/* Test hook: when non-zero, the process raises SIGKILL before that many more steps
 * (single stores) of a namespace registration or reclaim. */
extern long ns_kill_after_stores;

/* ---- entries ------------------------------------------------------------------- */
static inline bool entry_has_expire(const kv_entry *e) { return e->flags & ENTRY_EXPIRE; }
int64_t entry_expire(const kv_entry *e);                 /* unix ms, or -1 */
const char *entry_key(const kv_entry *e);                /* klen bytes */
/* String value bytes (len in e->vlen). */
const char *entry_str(const kv_entry *e);
/* For collection types: the aoff of the type's root object. */
aoff entry_obj(const kv_entry *e);
/* Bytes this entry occupies in the arena, value block included (not collections'
 * nodes, which their type module reports). */
size_t entry_footprint(const kv_entry *e);

/* ---- lookup and mutation (shard locked) ---------------------------------------- */
/* The live entry for k, or NULL. An expired entry is deleted on the way (lazy expiry). */
kv_entry *store_find(kv_txn *t, const kv_key *k);
/* Same, and counts a keyspace hit or miss; a hit bumps the entry's hit counter. */
kv_entry *store_find_read(kv_txn *t, const kv_key *k);
/* Table probes (chain walks) made by the calling thread so far. A write reuses the
 * position its key's lookup found - store_find then store_put_* / store_append /
 * store_setrange / store_set_expire / store_delete of the same kv_key in the same
 * transaction walk the chain once - and tests count on it. */
uint64_t store_probes(void);

/* Creates or replaces k with a string value (any previous type is dropped).
 * expire_ms < 0 means no TTL. On success *out (if non-NULL) is the new entry. */
int store_put_string(kv_txn *t, const kv_key *k, const void *v, size_t vlen,
                     int64_t expire_ms, kv_entry **out);
/* Appends to the string entry e of key k (amortised: external values grow in place
 * while capacity lasts). Keeps the TTL. */
int store_append(kv_txn *t, const kv_key *k, kv_entry *e, const void *v, size_t vlen,
                 kv_entry **out);
/* Overwrites bytes [off, off+n) of string e, zero-padding when it grows. Keeps TTL. */
int store_setrange(kv_txn *t, const kv_key *k, kv_entry *e, size_t off, const void *v,
                   size_t n, kv_entry **out);
/* Creates or replaces k with a collection root already built in k's shard
 * (type != KV_STRING); obj_bytes is charged to the namespace. */
int store_put_object(kv_txn *t, const kv_key *k, uint8_t type, aoff obj, int64_t expire_ms,
                     kv_entry **out);
/* Deletes k. Returns 1 when it existed (and was live), else 0. */
int store_delete(kv_txn *t, const kv_key *k);
/* Sets (expire_ms >= 0) or clears (-1) the TTL of e; the entry may move, so the new
 * one is returned (NULL on failure: abort). */
kv_entry *store_set_expire(kv_txn *t, const kv_key *k, kv_entry *e, int64_t expire_ms);
/* Copies entry src (any type) to key dst, replacing what dst held; keeps the TTL when
 * keep_ttl. src may live in another shard (both locked). */
int store_copy(kv_txn *t, const kv_entry *src, const kv_key *dst, bool keep_ttl);

/* Charges (delta > 0) or refunds bytes of a collection's nodes to e's namespace;
 * type modules call it with alloc_real_size() of every node they allocate (+) or
 * free (-), alongside the byte counter in their root that obj_bytes reports. */
void store_charge(kv_txn *t, uint32_t shard, const kv_entry *e, int64_t delta);
/* Bytes charged to e's namespace for it (entry, value, collection nodes):
 * MEMORY USAGE and eviction accounting. */
size_t store_entry_bytes(const kv_entry *e);
/* Namespace-filtered random sample: up to max live entries of namespace nsid met in
 * shard s from a random bucket onward (at most `budget` buckets visited). */
size_t store_sample_ns(kv_txn *t, uint32_t s, uint32_t nsid, kv_entry **out, size_t max,
                       unsigned budget);
/* The shard a live entry belongs to. */
uint32_t entry_shard(const kv_entry *e);

/* Per-type hooks, registered by the type modules (t_list.c, ...) before serving.
 * - free_step: frees (shard_free, deferred to commit) at most `budget` nodes of the
 *   object and returns true once everything, root included, is freed. Small objects
 *   are freed in the deleting transaction; objects over LAZYFREE_THRESHOLD bytes are
 *   queued and freed by the housekeeper in bounded steps, so deleting a 1M-element
 *   collection never holds a shard lock for long. obj_bytes must shrink as nodes go.
 * - copy_obj: deep-copies the object of src_shard into dst_shard (fresh memory, no
 *   undo needed) and returns the new root, or 0 (t->failed set) on failure.
 * - obj_bytes: arena bytes of every node and the root (alloc_real_size of each
 *   allocation); kept as a counter in the root, updated with store_charge.
 * - encoding: OBJECT ENCODING's answer for the object's current encoding. */
typedef struct type_ops {
    bool (*free_step)(kv_txn *t, uint32_t shard, aoff obj, unsigned budget);
    aoff (*copy_obj)(kv_txn *t, uint32_t dst_shard, aoff obj, uint32_t src_shard);
    size_t (*obj_bytes)(aoff obj);
    const char *(*encoding)(aoff obj);
} type_ops;
#define LAZYFREE_THRESHOLD (64 * 1024)
void store_register_type(uint8_t type, const type_ops *ops);
const type_ops *store_type_ops(uint8_t type);

/* ---- whole-shard operations ------------------------------------------------------ */
/* Deletes every key of shard s (FLUSHALL): O(chunks). */
void store_flush_shard(kv_txn *t, uint32_t s);
/* Frees up to `budget` nodes of objects queued for lazy freeing in shard s; returns
 * true while work remains (housekeeper). */
bool store_lazyfree_step(kv_txn *t, uint32_t s, unsigned budget);
/* Moves up to `buckets` buckets of an incremental rehash forward. */
void store_rehash_step(kv_txn *t, uint32_t s, unsigned buckets);
/* Deletes expired keys met in up to `buckets` buckets from the shard's expiry cursor;
 * returns how many were deleted (housekeeper's active expiry). */
unsigned store_expire_scan(kv_txn *t, uint32_t s, unsigned buckets);

/* Calls fn for every live entry of the buckets visited by one SCAN step of shard s at
 * cursor v (Redis's reverse-binary cursor; survives resizes). Returns the next v,
 * 0 when the shard is done. */
typedef void (*entry_fn)(kv_entry *e, void *ctx);
uint64_t store_scan_step(kv_txn *t, uint32_t s, uint64_t v, entry_fn fn, void *ctx);
/* Calls fn for every live entry of shard s. */
void store_foreach(kv_txn *t, uint32_t s, entry_fn fn, void *ctx);
/* A random live entry of shard s, or NULL when empty. */
kv_entry *store_random(kv_txn *t, uint32_t s);

/* ---- accounting ------------------------------------------------------------------ */
uint64_t store_used_memory(void);            /* sum over shards, lock-free */
uint64_t store_keys(void);
uint64_t store_expires(void);
uint64_t store_ns_bytes(uint32_t nsid);      /* lock-free sums over shards */
uint64_t store_ns_keys(uint32_t nsid);

/* Walks every structure of every shard and checks its invariants (DEBUG CHECK).
 * Takes all locks itself through t. Returns 0 or -1 with a description. */
int store_check(kv_txn *t, char *err, size_t errlen);

/* Splits a canonical key into namespace and local part (display purposes). */
void key_split(const char *key, size_t len, const char **ns, size_t *nslen,
               const char **local, size_t *locallen);

#endif
