/* txn.h - crash-atomic transactions over the arena: robust locks, lanes, undo log.
 *
 * Every store mutation runs inside a transaction owned by the calling thread's lane:
 *   txn_begin -> txn_lock (ascending lock ids) -> undo_record before each in-place
 *   write -> txn_commit (the single store of LANE_COMMITTED is the commit point) ->
 *   locks released.
 * If the thread dies at any instruction, whoever next takes one of its locks gets
 * EOWNERDEAD and lock_recover() rolls that lock's undo entries back (or, when the lane
 * had committed, leaves the writes in place), then marks the mutex consistent.
 * Bytes of freshly allocated objects need no undo: they become reachable only through
 * logged writes. Frees are deferred to commit so a block freed by a transaction is
 * never reused inside it.
 * The undo log is one logical byte sequence that starts in the lane's own area and
 * grows, inside the transaction, into segments taken from the page heap (see "The
 * undo log's segments" in txn.c): no transaction is too large for it while the arena
 * has room. A transaction that cannot get a segment fails with TXN_E_UNDO_FULL and
 * is rolled back.
 * The namespace registry's lock (arena_header.ns_lock, not a txn lock id) comes after
 * every txn lock: it may be taken while shard and heap locks are held, and no other
 * lock is taken while it is held (namespace.c). */
#ifndef KVNS_TXN_H
#define KVNS_TXN_H

#include "kvns/arena.h"

enum txn_error {
    TXN_OK = 0,
    TXN_E_UNDO_FULL = 1,   /* the undo log could not grow: no arena room for a segment */
    TXN_E_NOMEM = 2,       /* the arena has no room left */
};

#define TXN_DEDUP_SLOTS 4096      /* words already logged in this transaction */

typedef struct txn_free {
    aoff     off;
    uint32_t size;
    uint32_t shard;
} txn_free;

typedef struct kv_txn {
    lane     *ln;
    /* the undo segment holding the log's end: logical bytes [seg_start, seg_end) are
     * at arena offset seg_bias + logical; entries go up to seg_limit (the rest is the
     * reserve for the heap records of a growth, see txn.c) */
    uint64_t  seg_bias, seg_start, seg_end, seg_limit;
    aoff      seg_run;         /* its heap run, 0 = the lane's own area */
    bool      growing;         /* taking the next segment: records may use the reserve */
    uint32_t  lane_id;
    uint32_t  nlocked;
    uint32_t *locked;          /* lock ids held, ascending; capacity shard_count + 1 */
    int       failed;          /* enum txn_error: once set, logged writes are skipped */
    int64_t   grow;            /* net bytes charged by this transaction */
    int64_t   now_ms;          /* wall clock at txn_begin, for expiry decisions */
    int64_t   batch_clock_ms;  /* when > 0, txn_begin takes now_ms from here (the
                                  worker sets it once per pipelined batch) */
    txn_free *frees;
    size_t    nfrees, cap_frees;
    uint64_t  dedup_gen;
    struct { aoff off; uint64_t gen; } dedup[TXN_DEDUP_SLOTS];
} kv_txn;

/* Binds t to lane lane_id for the life of the calling thread. */
void txn_init(kv_txn *t, uint32_t lane_id);
void txn_destroy(kv_txn *t);

void txn_begin(kv_txn *t);
/* Takes lock id (a shard or the heap). Ids must be taken in ascending order within a
 * transaction; taking one already held is a no-op. Recovers the lock if its previous
 * owner died. */
void txn_lock(kv_txn *t, uint32_t lock_id);
/* Sorts and de-duplicates ids[] in place, then takes them in ascending order. */
void txn_lock_many(kv_txn *t, uint32_t *ids, size_t n);
/* Takes lock id only when it is free now (or its owner died: recovered as txn_lock
 * does); false when another thread holds it. Same ordering rule as txn_lock. */
bool txn_trylock(kv_txn *t, uint32_t lock_id);
/* Sorts and de-duplicates ids[] in place, then tries each in ascending order. False
 * when one is busy; the locks this call took are released again (those t held
 * before stay), so the caller can retry later or give up. Take every lock before the
 * first write: a transaction never waits while holding changes. */
bool txn_trylock_many(kv_txn *t, uint32_t *ids, size_t n);
bool txn_holds(const kv_txn *t, uint32_t lock_id);

/* Records the current bytes at p[0..len) under lock_id before the caller overwrites
 * them. Returns false (and sets t->failed) when the log could not grow; the caller
 * must then skip the write. 8-byte words already recorded in this transaction are
 * skipped. A record under a shard lock may grow the log (taking the heap lock); one
 * under the heap lock never does: the heap's own operations call undo_reserve first. */
bool undo_record(kv_txn *t, uint32_t lock_id, void *p, size_t len);

/* The undo bytes one page-heap operation (alloc.c) logs at most. */
#define UNDO_HEAP_OP_MAX 256
/* Called by the page heap before it reads its free lists: grows the log now if it is
 * past its soft limit, so that the operation's records (at most UNDO_HEAP_OP_MAX)
 * never make it grow in the middle of a heap update. False when growing failed
 * (t->failed is set). */
bool undo_reserve(kv_txn *t);
/* True when [start, end) overlaps an undo segment of another lane that died holding
 * it (its log may still be read by recovery until the lane is swept): the heap must
 * not hand that memory out yet. Caller holds the heap lock. */
bool undo_segments_overlap(const kv_txn *t, aoff start, aoff end);

/* Logged stores: record, then write (skipped when the transaction has failed). */
void tx_store64(kv_txn *t, uint32_t lock_id, uint64_t *p, uint64_t v);
void tx_store32(kv_txn *t, uint32_t lock_id, uint32_t *p, uint32_t v);
void tx_add64(kv_txn *t, uint32_t lock_id, uint64_t *p, int64_t delta);
void tx_copy(kv_txn *t, uint32_t lock_id, void *dst, const void *src, size_t n);

/* Queues an arena block for freeing at commit (see alloc.h). */
void txn_defer_free(kv_txn *t, uint32_t shard, aoff off, uint32_t size);

/* Applies deferred frees, commits, releases every lock. Returns TXN_OK, or the
 * failure code after rolling everything back (then nothing changed). */
int txn_commit(kv_txn *t);
/* Rolls back every write of the transaction and releases its locks. */
void txn_abort(kv_txn *t);

/* A point inside an open transaction that it can be rolled back to, keeping its
 * locks: EXEC and scripts take one before each command they run, so a command that
 * fails undoes only itself. undo_used is a logical log offset: a savepoint may lie
 * in any segment, and rolling back to it returns the segments taken after it. */
typedef struct txn_savepoint {
    uint64_t undo_used;
    size_t   nfrees;
    int64_t  grow;
} txn_savepoint;

/* Also starts a new dedup generation: a word logged before sp and changed after it
 * must be logged again, or rolling back to sp could not restore it. */
txn_savepoint txn_savepoint_take(kv_txn *t);
/* Undoes every write logged after sp (newest first), drops the frees queued after
 * it and clears t->failed. Locks taken since stay held. Crash-safe at any point: the
 * entries stay in the log until the last one is undone. */
void txn_rollback_to(kv_txn *t, const txn_savepoint *sp);

/* Takes lock_id now if it is free (or recovers it), outside the ascending order:
 * for a script that reaches a shard it did not declare. Never waits, so it cannot
 * deadlock; false when another thread holds it. */
bool txn_trylock_unordered(kv_txn *t, uint32_t lock_id);

/* The one checked way to take any process-shared robust mutex of the arena (shard,
 * heap and namespace locks). When the previous owner died, recover(arg) runs with m
 * held, before m is marked consistent. A mutex that cannot be recovered
 * (ENOTRECOVERABLE, or any other error) means the arena cannot be trusted: the process
 * exits with EXIT_ARENA_BROKEN, which stops the server. try: do not wait; false when
 * another thread holds m (never false otherwise). */
bool arena_mutex_acquire(pthread_mutex_t *m, bool try, void (*recover)(void *arg), void *arg);

/* Recovers lock_id after its owner died: undoes the uncommitted entries any lane holds
 * for it. Called with the mutex held (EOWNERDEAD), before pthread_mutex_consistent. */
void lock_recover(uint32_t lock_id);
/* Finishes a dead lane: takes and recovers every lock it held, then resets it.
 * Used by the replacement worker and the supervisor's sweep helper. */
void lane_sweep(uint32_t lane_id);
/* Number of lanes that are not idle (tests: all must be idle after a sweep). */
uint32_t lanes_busy(void);

/* Test hook: when non-zero, the process raises SIGKILL after that many more undo
 * records (lets unit tests kill a child in the middle of a mutation). */
extern long txn_kill_after_records;
/* Test hook: 1 = raise SIGKILL just before the commit store, 2 = just after it
 * (locks still held). */
extern int txn_kill_at_commit;
/* Test hook: the log's next growth raises SIGKILL at step 1 = segment taken from the
 * heap, not linked; 2 = linked and padded, the log's end not moved into it; 3 = during the
 * commit's release of the segments, after the first one went back to the heap. */
extern int txn_kill_at_grow;

#endif
