/* shard.h - one slice of the keyspace: its robust lock, hash table, slabs and counters.
 * Everything here is arena memory and is written only under the shard's lock through
 * the logged stores of txn.h (statistics counters excepted: they are relaxed atomics
 * whose exactness does not matter after a crash). */
#ifndef KVNS_SHARD_H
#define KVNS_SHARD_H

#include "kvns/arena.h"
#include "kvns/htable.h"

typedef struct shard {
    pthread_mutex_t lock;
    uint32_t id;
    uint32_t poisoned;
    htable   ht;               /* the keyspace: chains of kv_entry (store.c) */
    uint64_t keys;
    uint64_t expires;          /* keys carrying a TTL */
    uint64_t mem_used;         /* arena bytes charged to this shard (keys + tables) */
    uint64_t expire_cursor;    /* housekeeper's position for active expiry */
    uint64_t version;          /* bumped by every committed write touching the shard */
    /* slab allocator */
    aoff     slab_free[SLAB_CLASSES];
    aoff     slab_chunk[SLAB_CLASSES];
    uint64_t slab_chunk_used[SLAB_CLASSES];
    aoff     chunks;           /* every slab chunk of the shard, linked by run header */
    aoff     large;            /* large runs, doubly linked */
    aoff     lazyfree;         /* queue of deleted big objects (lazy_node list) */
    uint64_t lazy_bytes;       /* bytes still held by queued objects */
    /* statistics (relaxed atomics, not undo-logged) */
    uint64_t stat_hits, stat_misses, stat_expired, stat_evicted;
    /* WATCH: versions of the shard's keys by hash bits (watch.c), undo-logged */
    uint64_t watch_ver[64];
    char     pad[64];
} shard;

/* Header at the start of every heap run (slab chunk or large object). */
typedef struct run_header {
    uint64_t npages;
    aoff     next;             /* heap free list, or the shard's chunk/large list */
    aoff     prev;             /* large list; a free run: the tag of the transaction
                                  that freed it (alloc.c: not reused by that one) */
    uint32_t magic;
    uint16_t kind;             /* RUN_FREE, RUN_SLAB, RUN_LARGE, RUN_UNDO */
    uint16_t slab_class;
    uint32_t shard;
    uint32_t pad;
    uint64_t pad2;
} run_header;                  /* 48 bytes */

#define RUN_MAGIC 0x4e555221u  /* "!RUN" */
enum run_kind { RUN_FREE = 1, RUN_SLAB = 2, RUN_LARGE = 3, RUN_UNDO = 4 };   /* UNDO: a log segment */

static inline shard *shard_at(uint32_t i) { return arena_shard_at(i, sizeof(shard)); }

#endif
