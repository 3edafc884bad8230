/* set.h - the SET type in the arena (shm/set.c).
 *
 * A set is a root object in its key's shard with one of three encodings, as Redis 7.2:
 *   intset    - a sorted array of 2-, 4- or 8-byte integers, while every member is an
 *               integer (Redis's string2ll form) and there are <= SET_INTSET_MAX;
 *   listpack  - a packed block of members (insertion order) while there are
 *               <= SET_LP_MAX_ENTRIES, each <= SET_LP_MAX_VALUE bytes;
 *   hashtable - an adict whose nodes have empty values.
 * Additions follow Redis's conversions (an intset meeting a string becomes a listpack
 * when small enough, else a hashtable; a listpack past its limits a hashtable); a set
 * never converts back. Compact blocks are copy-on-write, as hash.h describes.
 *
 * Functions taking `e` charge e's namespace (NULL before the root is in the keyspace). */
#ifndef KVNS_SET_H
#define KVNS_SET_H

#include "kvns/hash.h"

#define SET_INTSET_MAX     512
#define SET_LP_MAX_ENTRIES 128
#define SET_LP_MAX_VALUE   64

enum set_encoding { SET_INTSET = 0, SET_LISTPACK = 1, SET_HT = 2 };

typedef struct set_obj {
    uint64_t bytes;          /* alloc_real_size of root + block + dict */
    uint32_t enc;            /* enum set_encoding */
    uint32_t count;          /* intset / listpack members */
    aoff     blk;            /* the intset or listpack block, 0 when empty */
    uint32_t blk_size;       /* its allocation size */
    uint32_t width;          /* intset: bytes per integer (2, 4, 8) */
    adict    dict;           /* hashtable */
} set_obj;

/* A member as returned by reads: s points into the arena, or into buf for an intset
 * member formatted as text. */
typedef struct set_member {
    hs_str s;
    char   buf[24];
} set_member;

extern const type_ops set_type_ops;

static inline set_obj *set_at(aoff obj) { return (set_obj *)arena_ptr(obj); }

/* The encoding Redis's setTypeCreate picks for a new set whose first member is first
 * and which is about to receive size_hint members. */
uint32_t set_initial_encoding(hs_str first, size_t size_hint);
/* A new empty set root of encoding enc in shard s (fresh memory), or 0. */
aoff set_new(kv_txn *t, uint32_t s, uint32_t enc);
uint64_t set_len(aoff obj);
bool set_contains(aoff obj, const char *p, size_t len);
/* Adds members m[0..n) (duplicates allowed); returns how many were new, or -1. */
long long set_add(kv_txn *t, uint32_t s, const kv_entry *e, aoff obj, const hs_str *m, size_t n);
/* Removes members m[0..n); returns how many were present, or -1. The caller deletes
 * the key when the set became empty. */
long long set_rem(kv_txn *t, uint32_t s, const kv_entry *e, aoff obj, const hs_str *m, size_t n);
/* A new set root in shard s holding the distinct members m[0..n) (n > 0), built in
 * fresh memory with the smallest encoding that fits; 0 on failure. */
aoff set_build(kv_txn *t, uint32_t s, const hs_str *m, size_t n);

typedef void (*set_fn)(hs_str member, void *ctx);
/* Calls fn for every member (intset: ascending; listpack: insertion order). */
void set_foreach(aoff obj, set_fn fn, void *ctx);
/* One SSCAN step (compact encodings: everything, returning 0). */
uint64_t set_scan(aoff obj, uint64_t cursor, set_fn fn, void *ctx);
/* A random member of a non-empty set. */
void set_random(aoff obj, set_member *out);
const char *set_encoding(aoff obj);
int set_check(aoff obj, char *err, size_t errlen);

#endif
