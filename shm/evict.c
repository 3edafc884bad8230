/* evict.c - namespace-scoped, sampled lru/mru eviction (see evict.h). */
#include "kvns/evict.h"
#include "kvns/rng.h"
#include "kvns/shard.h"
#include "kvns/store.h"
#include "store_internal.h"

#include <stdlib.h>
#include <string.h>

#define SAMPLE_SHARDS   1        /* shards sampled per round (the pool carries over) */
#define SAMPLE_PER_SHARD 5       /* entries taken from each (Redis: maxmemory-samples 5) */
#define SAMPLE_BUCKETS  64       /* buckets visited per shard sample */
#define POOL_SIZE       16       /* best candidates kept across samples (Redis: EVPOOL_SIZE) */
#define MAX_ROUNDS      (1 << 20) /* bound; a round evicts one key or drops a stale one */
#define STALL_ROUNDS    64        /* rounds in a row that freed nothing: give up */

static const kvns_config *evict_cfg;
/* Per id: the override of the namespace that had generation known_gen - 1 (0 =
 * unknown), or -2 when it has none. A reclaimed and reused id looks it up again. */
static struct { uint32_t known_gen; signed char policy; } policy_cache[NS_MAX];

void evict_init(const kvns_config *cfg)
{
    evict_cfg = cfg;
    memset(policy_cache, 0, sizeof policy_cache);
}

enum evict_policy evict_policy_of(uint32_t nsid)
{
    uint32_t gen = nsid < NS_MAX ? ns_generation(nsid) + 1 : 0;
    if (nsid < NS_MAX && policy_cache[nsid].known_gen != gen) {
        policy_cache[nsid].known_gen = gen;
        policy_cache[nsid].policy = -2;
        uint32_t len;
        const char *name = ns_name(nsid, &len);
        for (unsigned i = 0; evict_cfg && i < evict_cfg->ns_eviction_count; i++) {
            const ns_override *o = &evict_cfg->ns_eviction[i];
            if (strlen(o->name) == len && memcmp(o->name, name, len) == 0)
                policy_cache[nsid].policy = (signed char)o->policy;
        }
    }
    if (nsid < NS_MAX && policy_cache[nsid].policy >= 0)
        return (enum evict_policy)policy_cache[nsid].policy;
    return (enum evict_policy)__atomic_load_n(&arena_hdr()->evict_policy, __ATOMIC_RELAXED);
}

uint64_t evict_start_bytes(void)
{
    arena_header *h = arena_hdr();
    uint64_t limit = __atomic_load_n(&h->memory_limit, __ATOMIC_RELAXED);
    double th = h->evict_threshold > 0 && h->evict_threshold <= 1 ? h->evict_threshold : 1.0;
    return (uint64_t)((double)limit * th);
}

typedef struct candidate {
    uint32_t shard;
    uint32_t hits;
    uint32_t klen;
    uint32_t tiebreak;            /* random: equal hit counts are broken at random */
    char     key[64];             /* keys longer than this are kept in long_key */
    char    *long_key;
} candidate;

/* True when a is a better victim than b under policy p. Without the random tie-break
 * the first key sampled would win every tie, and new keys sit first in their chain. */
static bool better_victim(const candidate *a, const candidate *b, enum evict_policy p)
{
    if (a->hits != b->hits)
        return p == EVICT_MRU ? a->hits > b->hits : a->hits < b->hits;
    return a->tiebreak < b->tiebreak;
}

/* True when the pool already holds the key of e (sampled again in a later round). */
static bool pool_has(const candidate *pool, size_t n, const kv_entry *e)
{
    for (size_t i = 0; i < n; i++) {
        const char *k = pool[i].long_key ? pool[i].long_key : pool[i].key;
        if (pool[i].klen == e->klen && memcmp(k, entry_key(e), e->klen) == 0)
            return true;
    }
    return false;
}

static void pool_add(candidate *pool, size_t *n, const kv_entry *e, uint32_t s, enum evict_policy p)
{
    if (pool_has(pool, *n, e))
        return;
    candidate c = { .shard = s, .hits = e->hits, .klen = e->klen, .tiebreak = (uint32_t)rng_u64() };
    if (e->klen <= sizeof c.key) {
        memcpy(c.key, entry_key(e), e->klen);
    } else {
        c.long_key = malloc(e->klen);
        if (!c.long_key)
            return;
        memcpy(c.long_key, entry_key(e), e->klen);
    }
    if (*n < POOL_SIZE) {
        pool[(*n)++] = c;
        return;
    }
    size_t worst = 0;
    for (size_t i = 1; i < *n; i++)
        if (better_victim(&pool[worst], &pool[i], p))
            worst = i;
    if (better_victim(&c, &pool[worst], p)) {
        free(pool[worst].long_key);
        pool[worst] = c;
    } else {
        free(c.long_key);
    }
}

/* Fills the pool from SAMPLE_SHARDS random shards that hold keys of nsid. Returns
 * false when the namespace has no keys at all. */
static bool sample_pool(kv_txn *t, uint32_t nsid, candidate *pool, size_t *n, enum evict_policy p)
{
    arena_header *h = arena_hdr();
    if (!store_ns_keys(nsid))
        return false;
    uint32_t start = (uint32_t)rng_u64() & (h->shard_count - 1);
    unsigned sampled = 0;
    for (uint32_t i = 0; i < h->shard_count && sampled < SAMPLE_SHARDS; i++) {
        uint32_t s = (start + i) & (h->shard_count - 1);
        if (!__atomic_load_n(ns_keys_slot(s, nsid), __ATOMIC_RELAXED))
            continue;
        kv_entry *found[SAMPLE_PER_SHARD];
        txn_begin(t);
        if (!txn_trylock(t, s)) {          /* busy: sample another shard rather than wait */
            txn_abort(t);
            continue;
        }
        size_t got = store_sample_ns(t, s, nsid, found, SAMPLE_PER_SHARD, SAMPLE_BUCKETS);
        for (size_t j = 0; j < got; j++)
            pool_add(pool, n, found[j], s, p);
        txn_commit(t);
        sampled++;
    }
    return true;
}

/* Deletes the candidate if it still exists; returns the bytes it freed. */
static uint64_t evict_one(kv_txn *t, const candidate *c, uint32_t nsid)
{
    kv_key k;
    key_init(&k, c->long_key ? c->long_key : c->key, c->klen);
    txn_begin(t);
    if (!txn_trylock(t, k.shard)) {        /* busy: counts as a stale candidate */
        txn_abort(t);
        return 0;
    }
    uint64_t freed = 0;
    kv_entry *e = store_find(t, &k);
    if (e && e->nsid == nsid) {
        freed = store_entry_bytes(e);
        store_delete(t, &k);
    }
    if (txn_commit(t) != TXN_OK)
        return 0;
    if (freed) {
        __atomic_add_fetch(&arena_hdr()->ns_evictions[nsid], 1, __ATOMIC_RELAXED);
        __atomic_add_fetch(&shard_at(k.shard)->stat_evicted, 1, __ATOMIC_RELAXED);
    }
    return freed;
}

uint64_t evict_namespace(kv_txn *t, uint32_t nsid, uint64_t need)
{
    enum evict_policy p = evict_policy_of(nsid);
    if (p == EVICT_NONE)
        return 0;
    /* leave some headroom below the threshold, so that concurrent writers that were
     * also waiting do not immediately take the room this writer made */
    uint64_t start = evict_start_bytes();
    uint64_t margin = start / 256 < (1u << 20) ? start / 256 : (1u << 20);
    uint64_t target = start - margin;
    uint64_t freed = 0;
    /* Like Redis's EvictionPoolLRU, the pool of best candidates outlives the call (one
     * per thread, for the namespace it last served): each round adds a fresh sample
     * and evicts the single best candidate, so victims are the best of many samples
     * while a round costs only a couple of shard visits. Candidates are re-checked
     * under their shard lock when evicted; stale ones are dropped. */
    static __thread candidate pool[POOL_SIZE];
    static __thread size_t n;
    static __thread uint32_t pool_ns = UINT32_MAX;
    static __thread enum evict_policy pool_policy;
    if (pool_ns != nsid || pool_policy != p) {
        for (size_t i = 0; i < n; i++)
            free(pool[i].long_key);
        n = 0;
        pool_ns = nsid;
        pool_policy = p;
    }
    unsigned stalled = 0;
    for (int round = 0; round < MAX_ROUNDS && stalled < STALL_ROUNDS; round++) {
        if (store_used_memory() + need <= target)
            break;
        if (!sample_pool(t, nsid, pool, &n, p) || n == 0)
            break;
        size_t best = 0;
        for (size_t i = 1; i < n; i++)
            if (better_victim(&pool[i], &pool[best], p))
                best = i;
        uint64_t got = evict_one(t, &pool[best], nsid);   /* 0: already gone, stale */
        free(pool[best].long_key);
        pool[best] = pool[--n];
        freed += got;
        stalled = got ? 0 : stalled + 1;
    }
    return freed;
}

uint64_t evict_count(uint32_t nsid)
{
    return nsid < NS_MAX ? __atomic_load_n(&arena_hdr()->ns_evictions[nsid], __ATOMIC_RELAXED) : 0;
}
