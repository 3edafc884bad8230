/* hash.h - the HASH type in the arena (shm/hash.c), and the packed-block helpers it
 * shares with the SET type.
 *
 * A hash is a root object in its key's shard with one of two encodings, as Redis 7:
 *   listpack  - one packed block of field, value, field, value... entries, kept while
 *               the hash has <= HASH_LP_MAX_ENTRIES fields and every field and value
 *               is <= HASH_LP_MAX_VALUE bytes. Insertion order is kept.
 *   hashtable - an adict (dict.h): node key = field, node value = value.
 * A hash converts to the hashtable once a limit is crossed and never back.
 * Packed blocks are copy-on-write: a mutation builds the new block in fresh memory
 * and swaps one logged pointer, so the undo volume of a compact hash is O(1) (a value
 * overwritten by one of the same length is copied in place, logged: as bounded).
 *
 * Functions taking `e` charge the namespace of entry e (store_charge) with every byte
 * the object grows or shrinks by; pass e = NULL while the root is not in the keyspace
 * yet (store_put_object charges obj_bytes when it links it). */
#ifndef KVNS_HASH_H
#define KVNS_HASH_H

#include "kvns/dict.h"
#include "kvns/store.h"

#include <string.h>

#define HASH_LP_MAX_ENTRIES 128
#define HASH_LP_MAX_VALUE   64

enum hash_encoding { HASH_LISTPACK = 0, HASH_HT = 1 };

typedef struct hash_obj {
    uint64_t bytes;          /* alloc_real_size of root + block + dict */
    uint32_t enc;            /* enum hash_encoding */
    uint32_t count;          /* listpack: fields */
    aoff     lp;             /* listpack block, 0 when empty */
    uint64_t lp_size;        /* bytes of the block (its allocation size) */
    adict    dict;           /* hashtable */
} hash_obj;

/* A byte string outside the arena or inside it (argument, field, member). */
typedef struct hs_str {
    const char *p;
    size_t      len;
} hs_str;

/* ---- packed blocks: entries of [u8 len][len bytes] ------------------------------ */

/* Decodes the block into out[] (room for every entry); returns the entry count. */
static inline size_t pk_decode(const char *blk, size_t size, hs_str *out)
{
    size_t n = 0;
    for (size_t at = 0; at < size; n++) {
        out[n].len = (uint8_t)blk[at];
        out[n].p = blk + at + 1;
        at += 1 + out[n].len;
    }
    return n;
}

/* Bytes a block holding items[0..n) needs. */
static inline size_t pk_size(const hs_str *items, size_t n)
{
    size_t size = 0;
    for (size_t i = 0; i < n; i++)
        size += 1 + items[i].len;
    return size;
}

/* Writes items[0..n) (each len <= 255) as a block at dst. */
static inline void pk_encode(char *dst, const hs_str *items, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        *dst++ = (char)(uint8_t)items[i].len;
        if (items[i].len)
            memcpy(dst, items[i].p, items[i].len);
        dst += items[i].len;
    }
}

/* ---- the hash type ------------------------------------------------------------------ */

extern const type_ops hash_type_ops;

static inline hash_obj *hash_at(aoff obj) { return (hash_obj *)arena_ptr(obj); }

/* A new empty hash root in shard s (fresh memory), or 0 on failure. */
aoff hash_new(kv_txn *t, uint32_t s);
uint64_t hash_len(aoff obj);
/* The value of field f: true and *v set when present. */
bool hash_get(aoff obj, const char *f, size_t flen, hs_str *v);
/* Sets pairs kv[0..2n) = field, value, field, value... (a later pair wins over an
 * earlier one with the same field). nx: only fields not present are set. force_ht:
 * convert to the hashtable first (Redis 7.2's rule for a call with > 128 pairs; the
 * commands follow 7.0, which does not have it). Returns
 * the number of fields added, or -1 on failure (t->failed). */
long long hash_set(kv_txn *t, uint32_t s, const kv_entry *e, aoff obj, const hs_str *kv, size_t n,
                   bool nx, bool force_ht);
/* Deletes fields f[0..n); returns how many existed, or -1 on failure. The caller
 * deletes the key when the hash became empty. */
long long hash_del(kv_txn *t, uint32_t s, const kv_entry *e, aoff obj, const hs_str *f, size_t n);

typedef void (*hash_fn)(hs_str field, hs_str value, void *ctx);
/* Calls fn for every field (listpack: insertion order). fn must not mutate. */
void hash_foreach(aoff obj, hash_fn fn, void *ctx);
/* One HSCAN step: a hashtable visits the buckets of one dict scan step and returns
 * the next cursor; a listpack visits everything and returns 0. */
uint64_t hash_scan(aoff obj, uint64_t cursor, hash_fn fn, void *ctx);
/* A uniformly random field of a non-empty hash (chain-biased for the hashtable). */
void hash_random(aoff obj, hs_str *field, hs_str *value);
const char *hash_encoding(aoff obj);

/* Checks the object's internal invariants and byte counter (tests, DEBUG). */
int hash_check(aoff obj, char *err, size_t errlen);

#endif
