/* evict.h - the memory limit: OOM decisions and namespace-scoped lru/mru eviction.
 *
 * Policies (the reference's meaning): lru evicts the keys with the fewest hits first,
 * mru the ones with the most; hits are counted per key by reads. Eviction is sampled
 * like Redis's approximated LRU, so its cost does not grow with the key count, and it
 * never leaves the writing key's namespace. Each eviction is its own crash-atomic
 * transaction taking one shard lock at a time, so it can run before a command (never
 * inside one: that would break the ascending lock order). */
#ifndef KVNS_EVICT_H
#define KVNS_EVICT_H

#include "kvns/txn.h"
#include "kvns/config.h"

/* The policy of namespace nsid: its KVNS_NS_EVICTION override or the global one. */
enum evict_policy evict_policy_of(uint32_t nsid);
/* Supplies the overrides (by name) and lets the global policy come from the arena. */
void evict_init(const kvns_config *cfg);

/* Bytes the store may reach before eviction starts (threshold x limit). */
uint64_t evict_start_bytes(void);

/* Evicts keys of namespace nsid until `need` more bytes fit under the eviction
 * threshold, or the namespace has nothing left. Returns the bytes freed. Uses t for
 * its own short transactions (t must have no transaction open). */
uint64_t evict_namespace(kv_txn *t, uint32_t nsid, uint64_t need);

/* Keys evicted from namespace nsid since start (metrics). */
uint64_t evict_count(uint32_t nsid);

#endif
