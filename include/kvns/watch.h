/* watch.h - key versions for WATCH, shared by every worker and thread.
 *
 * Each shard keeps a small table of 64-bit versions indexed by key-hash bits. A
 * command that changed keys bumps theirs (undo-logged, so a rolled-back or crashed
 * write leaves no bump) while at least one client watches; WATCH records a key's
 * version and whether it existed, and EXEC aborts when either changed. Keys sharing
 * a slot can abort each other's EXEC spuriously (a retry fixes it); a change is
 * never missed.
 *
 * Ordering: WATCH raises the watcher count while holding the key's shard lock and
 * reads the version under it; a writer reads the count after taking the same lock.
 * A write after the WATCH's unlock therefore sees the count and bumps; a write
 * before it is already in the version WATCH read. */
#ifndef KVNS_WATCH_H
#define KVNS_WATCH_H

#include "kvns/arena.h"
#include "kvns/store.h"

#define WATCH_SLOTS 64   /* == the size of shard.watch_ver */

/* The version of k's slot. Caller holds k's shard lock. */
uint64_t watch_version_locked(const kv_key *k);
/* True while some client watches keys: only then do writes bump versions. Read it
 * with the written key's shard lock held (see the ordering above). */
static inline bool watch_anyone(void)
{
    return __atomic_load_n(&arena_hdr()->watchers, __ATOMIC_ACQUIRE) != 0;
}
/* Bumps k's version inside t when anyone watches. Caller holds k's shard lock. */
void watch_touch_locked(kv_txn *t, const kv_key *k);
/* Counts a client starting (+1) or stopping (-1) to watch keys. */
void watch_watchers_add(int delta);

#endif
