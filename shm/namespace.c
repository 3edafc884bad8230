/* namespace.c - the namespace registry: names to ids, registration and reclaim (see
 * store.h).
 *
 * Slot i of arena_header.ns is namespace id i; ids below ns_count have been used and
 * each is LIVE or FREE. A slot's state is its commit point: registration writes the
 * name, then stores LIVE (release); reclaim resets the per-id state, then stores FREE.
 * A process killed anywhere in either therefore leaves the namespace registered or
 * cleanly free, never half of one. Registry writes are made under ns_lock and are not
 * undo-logged: each step is a single aligned store whose partial sequence is harmless.
 *
 * Why an id is never reused while anything carries it:
 *  - writers resolve a key's id (key_nsid) while holding the key's shard lock and
 *    charge the (shard, id) counters before releasing it;
 *  - the housekeeper reclaims only while holding every shard lock (ascending, then
 *    ns_lock: the order a writer uses, shard then ns_lock), and only ids whose key and
 *    byte counters are zero in every shard, so no entry of any shard carries them and
 *    no writer is between resolving an id and charging it;
 *  - a lookup returns an id only when its slot is LIVE with the same name, so a stale
 *    per-thread cache cannot hand out a reclaimed id;
 *  - a reclaimed id is reused only NS_REUSE_DELAY_MS later, so the lock-free callers
 *    that resolve an id outside any shard lock for a hint (the latency metrics, the
 *    eviction pre-check) cannot, in the microseconds they use it, meet a new
 *    namespace under an old id.
 * The per-id state kept elsewhere follows the slot: the eviction counter is reset at
 * reclaim, per-lane latency series and the per-process eviction-policy cache compare
 * the slot's generation. */
#include "kvns/store.h"
#include "kvns/clock.h"
#include "kvns/shard.h"
#include "store_internal.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#define NS_CACHE (2 * NS_MAX)           /* open addressing: at most half full */
#define NS_REUSE_DELAY_MS 1000

long ns_kill_after_stores;

/* Per-thread name -> id cache, rebuilt whenever the registry's version moves (or the
 * thread meets another arena: unit tests create several). */
static __thread struct {
    uint64_t run_id;
    uint32_t version;
    uint16_t slot[NS_CACHE];            /* id + 1, 0 = empty */
} ns_cache;

/* One step of a registration or reclaim: a single store, with the test hook that
 * kills the process before the n-th step (unit_store's crash test). */
static void ns_step_store32(uint32_t *p, uint32_t v)
{
    if (ns_kill_after_stores > 0 && --ns_kill_after_stores == 0)
        raise(SIGKILL);
    __atomic_store_n(p, v, __ATOMIC_RELEASE);
}

const char *ns_name(uint32_t nsid, uint32_t *len)
{
    arena_header *h = arena_hdr();
    *len = h->ns[nsid].len;
    return arena_base + h->ns_names_off + h->ns[nsid].name_off;
}

uint32_t ns_count(void) { return __atomic_load_n(&arena_hdr()->ns_count, __ATOMIC_ACQUIRE); }

bool ns_live(uint32_t nsid)
{
    return nsid < ns_count() && __atomic_load_n(&arena_hdr()->ns[nsid].state, __ATOMIC_ACQUIRE) == NS_LIVE;
}

uint32_t ns_generation(uint32_t nsid) { return __atomic_load_n(&arena_hdr()->ns[nsid].gen, __ATOMIC_ACQUIRE); }

uint32_t ns_live_count(void)
{
    uint32_t n = 0, count = ns_count();
    for (uint32_t id = 0; id < count; id++)
        n += ns_live(id);
    return n;
}

static uint64_t ns_hash(const char *p, size_t n) { return kv_hash_bytes(p, n, 0x6e616d65ULL); }

/* True when id is a live namespace named p[0..n). */
static bool ns_is(uint32_t id, const char *p, size_t n)
{
    if (!ns_live(id))
        return false;
    uint32_t len;
    const char *name = ns_name(id, &len);
    return len == n && memcmp(name, p, n) == 0;
}

/* Rebuilds this thread's cache from the live slots when the registry changed. */
static void ns_cache_sync(void)
{
    arena_header *h = arena_hdr();
    uint32_t version = __atomic_load_n(&h->ns_version, __ATOMIC_ACQUIRE);
    if (ns_cache.run_id == h->run_id && ns_cache.version == version)
        return;
    memset(ns_cache.slot, 0, sizeof ns_cache.slot);
    uint32_t count = ns_count();
    for (uint32_t id = 0; id < count; id++) {
        if (!ns_live(id))
            continue;
        uint32_t len;
        const char *name = ns_name(id, &len);
        uint64_t i = ns_hash(name, len);
        while (ns_cache.slot[i % NS_CACHE])
            i++;
        ns_cache.slot[i % NS_CACHE] = (uint16_t)(id + 1);
    }
    ns_cache.run_id = h->run_id;
    ns_cache.version = version;
}

int ns_find(const char *name, size_t len)
{
    ns_cache_sync();
    for (uint64_t i = ns_hash(name, len);; i++) {
        uint16_t v = ns_cache.slot[i % NS_CACHE];
        if (!v)
            return -1;
        if (ns_is(v - 1u, name, len))
            return v - 1;
    }
}

/* Recovery of the namespace lock after its holder died: bumps the version so every
 * cache rebuilds (the dead one may have stopped between a slot's state and the bump). */
static void ns_lock_recover(void *arg)
{
    arena_header *h = arg;
    __atomic_add_fetch(&h->ns_version, 1, __ATOMIC_ACQ_REL);
}

/* Takes the namespace lock through the checked funnel. */
static void ns_lock_acquire(arena_header *h)
{
    arena_mutex_acquire(&h->ns_lock, false, ns_lock_recover, h);
}

/* Id of live namespace p[0..n) by a full scan (caches may lag), or -1. */
static int ns_scan_locked(const char *p, size_t n)
{
    for (uint32_t id = 0; id < arena_hdr()->ns_count; id++)
        if (ns_is(id, p, n))
            return (int)id;
    return -1;
}

/* True when free slot id may take a new namespace: its reuse delay has passed. */
static bool ns_reusable_locked(const ns_slot *slot, int64_t now)
{
    return slot->state == NS_FREE && now - slot->freed_mono_ms >= NS_REUSE_DELAY_MS;
}

/* Lowers the names region's bump mark past bytes only reusable free slots own (they
 * lose their capacity), when a new name does not fit. */
static void ns_names_trim_locked(arena_header *h, int64_t now)
{
    uint32_t end = 0;
    for (uint32_t id = 0; id < h->ns_count; id++) {
        const ns_slot *slot = &h->ns[id];
        if (!ns_reusable_locked(slot, now) && slot->name_off + slot->cap > end)
            end = slot->name_off + slot->cap;
    }
    for (uint32_t id = 0; id < h->ns_count; id++) {
        ns_slot *slot = &h->ns[id];
        if (ns_reusable_locked(slot, now) && slot->name_off + slot->cap > end)
            slot->cap = 0;
    }
    h->ns_names_used = end;
}

/* Picks the slot for a new namespace of n name bytes: a reusable free slot whose
 * name capacity fits, else a never-used id, else any reusable slot (with fresh name
 * bytes). Returns the id, or -1 when every id below the limit is taken. */
static int ns_pick_slot_locked(arena_header *h, size_t n, int64_t now)
{
    int any = -1;
    for (uint32_t id = 1; id < h->ns_count; id++) {
        if (!ns_reusable_locked(&h->ns[id], now))
            continue;
        if (h->ns[id].cap >= n)
            return (int)id;
        if (any < 0)
            any = (int)id;
    }
    return h->ns_count < h->ns_limit ? (int)h->ns_count : any;
}

/* Registers namespace p[0..n) under ns_lock: the name bytes, then the slot's fields,
 * then LIVE (the publication point), then the count and the version. Returns the id,
 * or -1 when the limit or the names region is reached. */
static int ns_claim_locked(const char *p, size_t n)
{
    arena_header *h = arena_hdr();
    int64_t now = clock_mono_ms();
    int id = ns_pick_slot_locked(h, n, now);
    if (id < 0)
        return -1;
    ns_slot *slot = &h->ns[id];
    bool fresh = (uint32_t)id == h->ns_count;
    if (fresh || slot->cap < n) {
        if (h->ns_names_used + n > NS_NAMES_BYTES)
            ns_names_trim_locked(h, now);
        if (h->ns_names_used + n > NS_NAMES_BYTES)
            return -1;
        slot->name_off = h->ns_names_used;
        slot->cap = (uint32_t)n;
        h->ns_names_used += (uint32_t)n;
    }
    if (fresh) {
        slot->gen = 0;
        __atomic_store_n(&h->ns_evictions[id], 0, __ATOMIC_RELAXED);
    }
    memcpy(arena_base + h->ns_names_off + slot->name_off, p, n);
    slot->len = (uint32_t)n;
    ns_step_store32(&slot->state, NS_LIVE);
    if (fresh)
        ns_step_store32(&h->ns_count, (uint32_t)id + 1);
    ns_step_store32(&h->ns_version, h->ns_version + 1);
    return id;
}

/* Registers namespace p (or finds it, when another thread just did). */
static int ns_register(const char *p, size_t n)
{
    arena_header *h = arena_hdr();
    ns_lock_acquire(h);
    int id = ns_scan_locked(p, n);
    if (id < 0)
        id = ns_claim_locked(p, n);
    pthread_mutex_unlock(&h->ns_lock);
    return id;
}

int key_nsid_existing(const kv_key *k)
{
    const char *slash = memchr(k->ptr, '/', k->len);
    if (!slash)
        return 0;
    size_t n = (size_t)(slash - k->ptr);
    if (n == 7 && memcmp(k->ptr, "default", 7) == 0)
        return 0;
    return ns_find(k->ptr, n);
}

int key_nsid(const kv_key *k)
{
    int id = key_nsid_existing(k);
    if (id >= 0)
        return id;
    return ns_register(k->ptr, (size_t)((const char *)memchr(k->ptr, '/', k->len) - k->ptr));
}

/* True when namespace id has no key and no byte charged in any shard. */
static bool ns_empty(uint32_t id)
{
    for (uint32_t s = 0; s < arena_hdr()->shard_count; s++)
        if (__atomic_load_n(ns_keys_slot(s, id), __ATOMIC_RELAXED) ||
            __atomic_load_n(ns_bytes_slot(s, id), __ATOMIC_RELAXED))
            return false;
    return true;
}

/* True when some live namespace other than default looks empty (lock-free hint). */
static bool ns_reclaim_candidates(void)
{
    uint32_t count = ns_count();
    for (uint32_t id = 1; id < count; id++)
        if (ns_live(id) && ns_empty(id))
            return true;
    return false;
}

/* Frees live slot id (every shard lock and ns_lock held, its counters zero): the
 * per-id state first, then FREE (the commit point), then the version. */
static void ns_free_locked(arena_header *h, uint32_t id, int64_t now)
{
    ns_slot *slot = &h->ns[id];
    slot->freed_mono_ms = now;
    __atomic_store_n(&h->ns_evictions[id], 0, __ATOMIC_RELAXED);
    ns_step_store32(&slot->gen, slot->gen + 1);
    ns_step_store32(&slot->state, NS_FREE);
    ns_step_store32(&h->ns_version, h->ns_version + 1);
}

unsigned store_ns_reclaim(kv_txn *t)
{
    if (!ns_reclaim_candidates())
        return 0;
    arena_header *h = arena_hdr();
    txn_begin(t);
    for (uint32_t s = 0; s < h->shard_count; s++)
        txn_lock(t, s);
    ns_lock_acquire(h);
    unsigned freed = 0;
    int64_t now = clock_mono_ms();
    for (uint32_t id = 1; id < h->ns_count; id++) {
        if (h->ns[id].state == NS_LIVE && ns_empty(id)) {
            ns_free_locked(h, id, now);
            freed++;
        }
    }
    pthread_mutex_unlock(&h->ns_lock);
    txn_commit(t);
    return freed;
}

int ns_registry_check(char *err, size_t errlen)
{
    arena_header *h = arena_hdr();
    if (h->ns_count > h->ns_limit || h->ns_names_used > NS_NAMES_BYTES || !ns_live(0)) {
        snprintf(err, errlen, "namespace registry: count %u, limit %u, names %u bytes", h->ns_count,
                 h->ns_limit, h->ns_names_used);
        return -1;
    }
    for (uint32_t id = 0; id < h->ns_count; id++) {
        const ns_slot *slot = &h->ns[id];
        if (slot->state != NS_LIVE)
            continue;
        uint32_t len;
        const char *name = ns_name(id, &len);
        if (slot->len > slot->cap || slot->name_off + slot->cap > h->ns_names_used ||
            ns_scan_locked(name, len) != (int)id) {
            snprintf(err, errlen, "namespace %u: name outside its room or registered twice", id);
            return -1;
        }
    }
    return 0;
}
