/* store_check.c - the arena consistency checker behind DEBUG CHECK: walks every
 * shard's tables and entries and the allocator, and compares what it finds with every
 * counter (keys, expires, bytes per namespace, shard bytes). Tests run it after crash
 * drills; the sweep runs it after a worker died of a fault. */
#include "kvns/alloc.h"
#include "store_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check_shard(uint32_t s, char *err, size_t errlen, uint64_t *ns_bytes, uint64_t *ns_keys)
{
    shard *sh = shard_at(s);
    arena_header *h = arena_hdr();
    uint64_t keys = 0, expires = 0, table_bytes = 0;
    uint32_t nns = ns_count();
    memset(ns_bytes, 0, NS_MAX * 8);
    memset(ns_keys, 0, NS_MAX * 8);
    for (int tbl = 0; tbl < 2; tbl++) {
        if (!sh->size[tbl])
            continue;
        if (sh->size[tbl] & (sh->size[tbl] - 1)) {
            snprintf(err, errlen, "shard %u table %d size %llu not a power of two", s, tbl,
                     (unsigned long long)sh->size[tbl]);
            return -1;
        }
        table_bytes += alloc_real_size(sh->size[tbl] * sizeof(aref));
        uint64_t in_table = 0;
        for (uint64_t b = 0; b < sh->size[tbl]; b++) {
            if (tbl == 0 && rehashing(sh) && b < (uint64_t)sh->rehash_idx && *bucket_at(sh, 0, b)) {
                snprintf(err, errlen, "shard %u: moved bucket %llu not empty", s, (unsigned long long)b);
                return -1;
            }
            uint64_t chain = 0;
            for (aref r = *bucket_at(sh, tbl, b); r; r = ((kv_entry *)ref_ptr(r))->next) {
                aoff off = (aoff)r << 3;
                if (off < h->heap_start || off >= h->heap_bump || ++chain > sh->keys + 1) {
                    snprintf(err, errlen, "shard %u bucket %llu: bad entry ref", s, (unsigned long long)b);
                    return -1;
                }
                kv_entry *e = ref_ptr(r);
                kv_key k = { entry_key(e), e->klen, 0, 0 };
                k.hash = kv_hash_bytes(k.ptr, k.len, h->hash_seed);
                uint32_t ks = h->shard_bits ? (uint32_t)(k.hash >> (64 - h->shard_bits)) : 0;
                if (ks != s || (k.hash & (sh->size[tbl] - 1)) != b) {
                    snprintf(err, errlen, "shard %u: key '%.*s' in the wrong bucket", s,
                             (int)(e->klen > 64 ? 64 : e->klen), entry_key(e));
                    return -1;
                }
                if (e->nsid >= nns || !ns_live(e->nsid) || e->type > KV_ZSET) {
                    snprintf(err, errlen, "shard %u: entry with bad namespace or type", s);
                    return -1;
                }
                kv_key probe;
                key_init(&probe, entry_key(e), e->klen);
                if (probe.len != e->klen || key_nsid_existing(&probe) != e->nsid) {
                    snprintf(err, errlen, "shard %u: key '%.*s' not canonical or wrong namespace", s,
                             (int)(e->klen > 64 ? 64 : e->klen), entry_key(e));
                    return -1;
                }
                ns_bytes[e->nsid] += store_entry_bytes(e);
                ns_keys[e->nsid]++;
                keys++;
                in_table++;
                if (entry_has_expire(e))
                    expires++;
            }
        }
        if (in_table != sh->used[tbl]) {
            snprintf(err, errlen, "shard %u table %d holds %llu entries, counter says %llu", s, tbl,
                     (unsigned long long)in_table, (unsigned long long)sh->used[tbl]);
            return -1;
        }
    }
    if (keys != sh->keys || expires != sh->expires) {
        snprintf(err, errlen, "shard %u: %llu keys/%llu expires found, counters say %llu/%llu", s,
                 (unsigned long long)keys, (unsigned long long)expires,
                 (unsigned long long)sh->keys, (unsigned long long)sh->expires);
        return -1;
    }
    uint64_t charged = table_bytes + sh->lazy_bytes;
    for (uint32_t i = 0; i < nns; i++) {
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

