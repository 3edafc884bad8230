/* t_zset.h - helpers shared by the sorted set command files (t_zset.c,
 * t_zset_range.c, t_zset_setops.c). Private to src/. */
#ifndef KVNS_T_ZSET_H
#define KVNS_T_ZSET_H

#include "kvns/command.h"
#include "kvns/zset.h"

extern const command zset_commands[];

/* Handlers defined in t_zset_range.c and t_zset_setops.c (the table is in t_zset.c). */
void zcmd_zrange(client *c);
void zcmd_zrangestore(client *c);
void zcmd_zrevrange(client *c);
void zcmd_zrangebyscore(client *c);
void zcmd_zrevrangebyscore(client *c);
void zcmd_zrangebylex(client *c);
void zcmd_zrevrangebylex(client *c);
void zcmd_zcount(client *c);
void zcmd_zlexcount(client *c);
void zcmd_zremrangebyrank(client *c);
void zcmd_zremrangebyscore(client *c);
void zcmd_zremrangebylex(client *c);
void zcmd_zunionstore(client *c);
void zcmd_zinterstore(client *c);
void zcmd_zdiffstore(client *c);
void zcmd_zunion(client *c);
void zcmd_zinter(client *c);
void zcmd_zdiff(client *c);
void zcmd_zintercard(client *c);

static inline kv_txn *zset_txn(client *c) { return &c->w->txn; }

/* The zset object of entry e of a KV_ZSET key, or NULL when e is NULL (no such key). */
static inline zset_obj *zset_of(const kv_entry *e) { return e ? arena_ptr(entry_obj(e)) : NULL; }
/* Creates an empty zset at k; NULL after replying the store error. */
zset_obj *zset_create_at(client *c, const kv_key *k, kv_entry **ep);
/* Finishes a mutation of z (the zset of key k): deletes the key when z became empty.
 * Returns false after aborting the command when the transaction failed. */
bool zset_settle(client *c, const kv_key *k, zset_obj *z);
/* Replaces key k by the zset of items (sorted, unique), or deletes it when n == 0.
 * Returns false after aborting the command on failure. */
bool zset_store_result(client *c, const kv_key *k, const zset_item *items, size_t n);

/* A score in Redis's shape: RESP3 double, RESP2 bulk string. */
static inline void zset_reply_score(client *c, double score) { reply_double(&c->out, score); }
/* One member, with its score when withscores (RESP3: a [member, score] pair). */
void zset_reply_member(client *c, const char *m, size_t len, double score, bool withscores);
/* Array header for n members: doubled in RESP2 when withscores. */
void zset_reply_members_header(client *c, long long n, bool withscores);

/* Growing process-local copies of members (results that outlive arena pointers). */
typedef struct zset_results {
    zset_item *items;
    size_t    *offs;        /* member offsets in the pool until frozen */
    size_t     n, cap;
    char      *pool;        /* member bytes, items point into it once frozen */
    size_t     pool_len, pool_cap;
} zset_results;
void zres_init(zset_results *r);
/* Appends a copy of m; false when out of process memory. */
bool zres_add(zset_results *r, const char *m, size_t len, double score);
/* Points the items at the pool (call once all are added). */
void zres_freeze(zset_results *r);
/* Sorts by (score, member). */
void zres_sort(zset_results *r);
void zres_free(zset_results *r);

#endif
