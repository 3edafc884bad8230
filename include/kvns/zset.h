/* zset.h - the sorted set type in the arena (shm/zset.c, shm/zskiplist.c) and the
 * helpers its command files share (src/t_zset*.c).
 *
 * A sorted set is a root object (zset_obj, fixed for the key's life) whose body has one
 * of two encodings:
 *   - compact ("listpack" in OBJECT ENCODING): one packed block of (score, member)
 *     entries sorted by (score, member), used while the set has at most
 *     ZSET_COMPACT_MAX_ENTRIES members of at most ZSET_COMPACT_MAX_VALUE bytes. Every
 *     change writes a new block (copy on write): nothing existing is rewritten, so a
 *     crash can only leave the old block or the new one reachable.
 *   - skiplist ("skiplist"): Pugh's skiplist with Redis's spans and backward links
 *     (O(log n) rank and range access) plus an adict member -> node offset (O(1)
 *     ZSCORE). Links of existing nodes change only through tx_store64 (a level is one
 *     8-byte word: forward ref + span), so every change rolls back exactly.
 * Conversion goes one way (compact -> skiplist) as in Redis, except that results built
 * by the STORE commands take the compact encoding whenever they fit.
 *
 * Accounting: zset_obj.bytes counts alloc_real_size of the root, the body and every
 * skiplist node; the dict counts its own (adict.bytes); zset_bytes() is their sum and is
 * what obj_bytes reports. Mutators keep both counters and charge every change to the
 * namespace of the key's entry e themselves (e NULL: not in the keyspace yet). */
#ifndef KVNS_ZSET_H
#define KVNS_ZSET_H

#include "kvns/dict.h"
#include "kvns/store.h"

#define ZSET_COMPACT_MAX_ENTRIES 128    /* zset-max-listpack-entries */
#define ZSET_COMPACT_MAX_VALUE   64     /* zset-max-listpack-value */
#define ZSL_MAXLEVEL             32
#define ZSL_LONG_MEMBER          0xffff /* zsl_node.mlen16: a uint64 length follows the levels */

enum zset_encoding { ZSET_COMPACT = 1, ZSET_SKIPLIST = 2 };

/* The root object a KV_ZSET entry points at. */
typedef struct zset_obj {
    uint64_t bytes;          /* real bytes of root + body + skiplist nodes (not the dict's) */
    uint64_t length;         /* members */
    uint32_t encoding;       /* enum zset_encoding */
    uint32_t pad;
    aoff     body;           /* compact block or zskiplist */
} zset_obj;

/* Compact block: this header, then entries [score: 8 bytes][len: 1 byte][member]. */
typedef struct zcompact {
    uint32_t size;           /* allocation size of the block: header + entries */
    uint32_t count;          /* entries */
} zcompact;

/* A skiplist node: header, `level` level words (forward aref in the low half, span in
 * the high half), [uint64 member length when mlen16 == ZSL_LONG_MEMBER], member bytes. */
typedef struct zsl_node {
    double   score;
    aref     backward;       /* previous node at level 0, 0 for the first */
    uint8_t  level;
    uint8_t  pad;
    uint16_t mlen16;
} zsl_node;

/* The skiplist body: tail, level count, the member dict and the header node (its level
 * words follow it directly, as for any node). */
typedef struct zskiplist {
    aoff     tail;
    uint32_t level;          /* levels in use, 1..ZSL_MAXLEVEL */
    uint32_t pad;
    adict    dict;           /* member -> aoff of its node (8-byte value) */
    zsl_node head;
    uint64_t head_levels[ZSL_MAXLEVEL];
} zskiplist;

/* ---- node access -------------------------------------------------------------------- */
static inline uint64_t *zsl_levels(const zsl_node *n) { return (uint64_t *)(n + 1); }
static inline aref zsl_fwd_ref(const zsl_node *n, int i) { return (aref)zsl_levels(n)[i]; }
static inline zsl_node *zsl_fwd(const zsl_node *n, int i)
{
    aref r = zsl_fwd_ref(n, i);
    return r ? (zsl_node *)ref_ptr(r) : NULL;
}
static inline uint32_t zsl_span(const zsl_node *n, int i) { return (uint32_t)(zsl_levels(n)[i] >> 32); }
static inline uint64_t zsl_level_word(aref fwd, uint64_t span) { return (span << 32) | fwd; }
/* Member bytes of n; sets *len. */
const char *zsl_member(const zsl_node *n, size_t *len);
static inline zskiplist *zset_zsl(const zset_obj *z) { return (zskiplist *)arena_ptr(z->body); }
static inline zcompact *zset_block(const zset_obj *z) { return (zcompact *)arena_ptr(z->body); }

/* ---- range specifications ------------------------------------------------------------ */
typedef struct zrangespec {
    double min, max;
    bool   minex, maxex;     /* exclusive bounds */
} zrangespec;

enum zlex_kind { ZLEX_STR = 0, ZLEX_MIN = 1, ZLEX_MAX = 2 };   /* "[x"/"(x", "-", "+" */
typedef struct zlexrangespec {
    const char *min, *max;   /* bound bytes (point into the argument) */
    size_t      minlen, maxlen;
    uint8_t     minkind, maxkind;
    bool        minex, maxex;
} zlexrangespec;

/* Parses score bounds like Redis's zslParseRange ("(" prefix = exclusive, strtod
 * semantics, NaN refused). Returns false when either is not a float. */
bool zset_parse_range(const char *min, size_t minlen, const char *max, size_t maxlen, zrangespec *r);
/* Parses lex bounds like zslParseLexRange ("[x", "(x", "-", "+"). */
bool zset_parse_lex_range(const char *min, size_t minlen, const char *max, size_t maxlen,
                          zlexrangespec *r);
bool zset_score_gte_min(double v, const zrangespec *r);
bool zset_score_lte_max(double v, const zrangespec *r);
bool zset_lex_gte_min(const char *m, size_t len, const zlexrangespec *r);
bool zset_lex_lte_max(const char *m, size_t len, const zlexrangespec *r);
/* memcmp order, shorter first on a common prefix. */
int zset_member_cmp(const char *a, size_t alen, const char *b, size_t blen);

/* ---- the object ---------------------------------------------------------------------- */
enum zadd_in  { ZADD_IN_NX = 1, ZADD_IN_XX = 2, ZADD_IN_GT = 4, ZADD_IN_LT = 8, ZADD_IN_INCR = 16 };
enum zadd_out { ZADD_OUT_NOP = 1, ZADD_OUT_NAN = 2, ZADD_OUT_ADDED = 4, ZADD_OUT_UPDATED = 8 };

/* One (member, score) pair in process memory (results, sources of STORE commands). */
typedef struct zset_item {
    const char *member;
    size_t      len;
    double      score;
} zset_item;

/* Creates an empty compact zset in shard s; returns the root, 0 on failure. */
aoff zset_create(kv_txn *t, uint32_t s);
/* Builds a zset in shard s from items sorted by (score, member) without duplicates,
 * compact when it fits; returns the root, 0 on failure. */
aoff zset_build_sorted(kv_txn *t, uint32_t s, const zset_item *items, size_t n);
/* Arena bytes of the whole object (obj_bytes). */
size_t zset_bytes(const zset_obj *z);
const char *zset_encoding_name(const zset_obj *z);

/* Redis's zsetAdd: applies flags, converts the encoding when needed. Returns 1 on
 * success (see *out_flags), 0 when the result would be NaN, -1 when the transaction
 * failed (allocation or undo space). *newscore gets the resulting score. */
int zset_add(kv_txn *t, uint32_t s, const kv_entry *e, zset_obj *z, double score, const char *m,
             size_t len, int in_flags, int *out_flags, double *newscore);
/* Removes member m; true when it was there (failure: check t->failed). */
bool zset_del(kv_txn *t, uint32_t s, const kv_entry *e, zset_obj *z, const char *m, size_t len);
/* Removes the members of 0-based ranks [first, last]; returns how many. */
uint64_t zset_delete_rank_range(kv_txn *t, uint32_t s, const kv_entry *e, zset_obj *z, uint64_t first,
                                uint64_t last);

/* Score of m; false when absent. */
bool zset_score(const zset_obj *z, const char *m, size_t len, double *score);
/* 0-based rank of m (from the top when reverse) and its score; false when absent. */
bool zset_rank(const zset_obj *z, const char *m, size_t len, bool reverse, uint64_t *rank,
               double *score);
/* 0-based rank of the first (last) member inside the range, found as Redis does (for
 * a lex range over unequal scores the answer is Redis's, whatever it means). */
bool zset_first_in_range(const zset_obj *z, const zrangespec *r, uint64_t *rank);
bool zset_last_in_range(const zset_obj *z, const zrangespec *r, uint64_t *rank);
bool zset_first_in_lex_range(const zset_obj *z, const zlexrangespec *r, uint64_t *rank);
bool zset_last_in_lex_range(const zset_obj *z, const zlexrangespec *r, uint64_t *rank);
/* 0-based ranks of the first and last members inside the range; false when none. */
bool zset_score_range_ranks(const zset_obj *z, const zrangespec *r, uint64_t *first, uint64_t *last);
bool zset_lex_range_ranks(const zset_obj *z, const zlexrangespec *r, uint64_t *first, uint64_t *last);
/* A uniformly random member (compact) or dict-random one (skiplist). */
void zset_random(const zset_obj *z, const char **m, size_t *len, double *score);

/* Iteration by rank in either direction. Pointers stay valid until the transaction
 * changes the set. */
typedef struct zset_iter {
    const zset_obj *z;
    bool      reverse;
    uint64_t  pos;           /* compact: index of the next entry */
    zsl_node *node;          /* skiplist: next node */
    uint16_t  off[ZSET_COMPACT_MAX_ENTRIES + 1];   /* compact: entry offsets */
} zset_iter;
/* Positions it at 0-based rank (counted from the top when reverse). */
void zset_iter_init(zset_iter *it, const zset_obj *z, uint64_t rank, bool reverse);
/* The next member; false at the end. */
bool zset_iter_next(zset_iter *it, const char **m, size_t *len, double *score);

/* One ZSCAN step (skiplist: the dict's cursor; compact: everything, next cursor 0). */
typedef void (*zset_visit_fn)(const char *m, size_t len, double score, void *ctx);
uint64_t zset_scan(const zset_obj *z, uint64_t cursor, zset_visit_fn fn, void *ctx);

/* Checks the structure (order, unique members, spans, links, dict, counters); 0 or -1 with a
 * description (unit tests and debugging). */
int zset_check(const zset_obj *z, char *err, size_t errlen);

extern const type_ops zset_type_ops;

/* ---- skiplist internals (shm/zskiplist.c, used by shm/zset.c) -------------------------- */
/* Initialises the skiplist body (fresh memory). */
void zsl_init(zskiplist *zsl);
/* Inserts a new node for (score, m) (m must be absent); returns it, NULL on failure. */
zsl_node *zsl_insert(kv_txn *t, uint32_t s, zset_obj *z, double score, const char *m, size_t len);
/* Bulk construction of a fresh skiplist (memory of this transaction: plain stores) from
 * members appended in ascending (score, member) order. */
typedef struct zsl_builder {
    zskiplist *zsl;
    zsl_node  *last[ZSL_MAXLEVEL];        /* last node linked at each level */
    uint64_t   last_rank[ZSL_MAXLEVEL];
    uint64_t   count;
    uint64_t   bytes;                     /* real bytes of the appended nodes */
    zsl_node  *prev;
} zsl_builder;
void zsl_builder_init(zsl_builder *b, zskiplist *zsl);
/* Appends a node of the given level (0: a random one); NULL on allocation failure. */
zsl_node *zsl_builder_append(kv_txn *t, uint32_t s, zsl_builder *b, double score, const char *m,
                             size_t len, int level);
/* Sets the trailing spans, the level count and the tail. */
void zsl_builder_finish(zsl_builder *b);
/* Moves node n to its place for newscore (same node, same levels). */
void zsl_update_score(kv_txn *t, uint32_t s, zset_obj *z, zsl_node *n, double newscore);
/* Unlinks and frees node n (its dict entry is the caller's). */
void zsl_delete(kv_txn *t, uint32_t s, zset_obj *z, zsl_node *n);
/* Unlinks and frees the nodes of 1-based ranks [start, end], removing them from the
 * dict as well; returns how many. */
uint64_t zsl_delete_rank_range(kv_txn *t, uint32_t s, zset_obj *z, uint64_t start, uint64_t end);
/* 1-based rank of node n. */
uint64_t zsl_rank_of(const zset_obj *z, const zsl_node *n);
/* Node of 1-based rank, NULL when out of range. */
zsl_node *zsl_by_rank(const zset_obj *z, uint64_t rank);
/* First / last node inside the range with its 1-based rank, NULL when none. */
zsl_node *zsl_first_in_range(const zset_obj *z, const zrangespec *r, uint64_t *rank);
zsl_node *zsl_last_in_range(const zset_obj *z, const zrangespec *r, uint64_t *rank);
zsl_node *zsl_first_in_lex_range(const zset_obj *z, const zlexrangespec *r, uint64_t *rank);
zsl_node *zsl_last_in_lex_range(const zset_obj *z, const zlexrangespec *r, uint64_t *rank);
/* The node of member m through the dict, NULL when absent. */
zsl_node *zsl_lookup(const zset_obj *z, const char *m, size_t len);
/* A random level with Redis's distribution (p = 1/4), process-local generator. */
int zsl_random_level(void);
/* Allocation size of a node. */
size_t zsl_node_size(int level, size_t mlen);
/* Frees up to budget nodes of a dead skiplist (level-0 order); true when none is left. */
bool zsl_free_nodes(kv_txn *t, uint32_t s, zset_obj *z, unsigned *budget);
int zsl_check(const zset_obj *z, char *err, size_t errlen);

#endif
