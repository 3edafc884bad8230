/* store_internal.h - what the store's own files (store.c and store_check.c) share:
 * the shard tables' htable type and per-namespace counter addressing. Not for callers of
 * the store: they use kvns/store.h. */
#ifndef KVNS_STORE_INTERNAL_H
#define KVNS_STORE_INTERNAL_H

#include "kvns/shard.h"
#include "kvns/store.h"

static inline uint64_t *ns_bytes_slot(uint32_t s, uint32_t nsid)
{
    return (uint64_t *)(arena_base + arena_hdr()->ns_bytes_off) + (uint64_t)s * arena_hdr()->ns_limit + nsid;
}

static inline uint64_t *ns_keys_slot(uint32_t s, uint32_t nsid)
{
    return (uint64_t *)(arena_base + arena_hdr()->ns_keys_off) + (uint64_t)s * arena_hdr()->ns_limit + nsid;
}

/* Checks the namespace registry (store_check, every shard lock held): ids within the
 * limit, live names inside the names region and unique. Returns 0 or -1 with err. */
int ns_registry_check(char *err, size_t errlen);

/* The htable type of the shards' tables (kv_entry chains). */
extern const htable_type store_table_type;

#endif
