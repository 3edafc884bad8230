/* store_check.c - the arena consistency checker behind DEBUG CHECK: walks every
 * shard's tables and entries and the allocator, and compares what it finds with every
 * counter (keys, expires, bytes per namespace, shard bytes). Tests run it after crash
 * drills; the sweep runs it after a worker died of a fault. */
#include "kvns/alloc.h"
#include "store_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What check_entry accumulates over a shard's entries. */
struct shard_check {
    uint32_t  s;
    uint32_t  nns;
    uint64_t  keys, expires;
    uint64_t *ns_bytes, *ns_keys;
};

/* Per-entry part of the shard check (the table structure is htable_check's): the key
 * belongs to this shard, is canonical, names a live namespace, has a known type; its
 * bytes and counts are summed. Returns 0 or -1 with err. */
static int check_entry(const void *node, void *ctx, char *err, size_t errlen)
{
    struct shard_check *c = ctx;
    const kv_entry *e = node;
    const arena_header *h = arena_hdr();
    uint64_t hash = kv_hash_bytes(entry_key(e), e->klen, h->hash_seed);
    if ((h->shard_bits ? (uint32_t)(hash >> (64 - h->shard_bits)) : 0) != c->s) {
        snprintf(err, errlen, "shard %u: key '%.*s' in the wrong shard", c->s,
                 (int)(e->klen > 64 ? 64 : e->klen), entry_key(e));
        return -1;
    }
    if (e->nsid >= c->nns || !ns_live(e->nsid) || e->type > KV_ZSET) {
        snprintf(err, errlen, "shard %u: entry with bad namespace or type", c->s);
        return -1;
    }
    kv_key probe;
    key_init(&probe, entry_key(e), e->klen);
    if (probe.len != e->klen || key_nsid_existing(&probe) != e->nsid) {
        snprintf(err, errlen, "shard %u: key '%.*s' not canonical or wrong namespace", c->s,
                 (int)(e->klen > 64 ? 64 : e->klen), entry_key(e));
        return -1;
    }
    c->ns_bytes[e->nsid] += store_entry_bytes(e);
    c->ns_keys[e->nsid]++;
    c->keys++;
    if (entry_has_expire(e))
        c->expires++;
    return 0;
}

/* Checks shard s: its table, its entries and every counter they must add up to.
 * Returns 0 or -1 with err. */
static int check_shard(uint32_t s, char *err, size_t errlen, uint64_t *ns_bytes, uint64_t *ns_keys)
{
    shard *sh = shard_at(s);
    struct shard_check c = { s, ns_count(), 0, 0, ns_bytes, ns_keys };
    char what[32];
    memset(ns_bytes, 0, NS_MAX * 8);
    memset(ns_keys, 0, NS_MAX * 8);
    snprintf(what, sizeof what, "shard %u", s);
    if (htable_check(&sh->ht, &store_table_type, what, check_entry, &c, err, errlen) < 0)
        return -1;
    if (c.keys != sh->keys || c.expires != sh->expires) {
        snprintf(err, errlen, "shard %u: %llu keys/%llu expires found, counters say %llu/%llu", s,
                 (unsigned long long)c.keys, (unsigned long long)c.expires,
                 (unsigned long long)sh->keys, (unsigned long long)sh->expires);
        return -1;
    }
    uint64_t charged = htable_table_bytes(&sh->ht) + sh->lazy_bytes;
    for (uint32_t i = 0; i < c.nns; i++) {
        if (ns_bytes[i] != *ns_bytes_slot(s, i) || ns_keys[i] != *ns_keys_slot(s, i)) {
            snprintf(err, errlen, "shard %u namespace %u: %llu bytes/%llu keys found, counters say %llu/%llu",
                     s, i, (unsigned long long)ns_bytes[i], (unsigned long long)ns_keys[i],
                     (unsigned long long)*ns_bytes_slot(s, i), (unsigned long long)*ns_keys_slot(s, i));
            return -1;
        }
        charged += ns_bytes[i];
    }
    if (charged != sh->mem_used) {
        snprintf(err, errlen, "shard %u: %llu bytes reachable, mem_used says %llu", s,
                 (unsigned long long)charged, (unsigned long long)sh->mem_used);
        return -1;
    }
    return 0;
}

int store_check(kv_txn *t, char *err, size_t errlen)
{
    arena_header *h = arena_hdr();
    txn_begin(t);
    for (uint32_t s = 0; s < h->shard_count; s++)
        txn_lock(t, s);
    txn_lock(t, lock_id_heap());
    uint64_t *ns_bytes = malloc(NS_MAX * 8), *ns_keys = malloc(NS_MAX * 8);
    int rc = 0;
    if (!ns_bytes || !ns_keys) {
        snprintf(err, errlen, "out of memory");
        rc = -1;
    }
    for (uint32_t s = 0; s < h->shard_count && rc == 0; s++)
        rc = check_shard(s, err, errlen, ns_bytes, ns_keys);
    if (rc == 0)
        rc = alloc_check(err, errlen);
    if (rc == 0)
        rc = ns_registry_check(err, errlen);
    free(ns_bytes);
    free(ns_keys);
    txn_commit(t);
    return rc;
}

