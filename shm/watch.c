/* watch.c - key versions for WATCH (see watch.h). */
#include "kvns/watch.h"
#include "kvns/shard.h"

_Static_assert(sizeof(((shard *)0)->watch_ver) / sizeof(uint64_t) == WATCH_SLOTS, "watch slots");

/* k's slot: the hash bits below the ones that chose the shard. */
static uint64_t *watch_slot(const kv_key *k)
{
    return &shard_at(k->shard)->watch_ver[k->hash % WATCH_SLOTS];
}

uint64_t watch_version_locked(const kv_key *k)
{
    return *watch_slot(k);
}

void watch_touch_locked(kv_txn *t, const kv_key *k)
{
    if (!watch_anyone())
        return;
    tx_add64(t, k->shard, watch_slot(k), 1);
}

void watch_watchers_add(int delta)
{
    __atomic_add_fetch(&arena_hdr()->watchers, (uint64_t)(int64_t)delta, __ATOMIC_SEQ_CST);
}
