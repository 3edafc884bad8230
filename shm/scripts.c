/* scripts.c - the shared EVAL script cache (see scripts.h).
 *
 * A record is [sha: 40 hex bytes][len: u32][pad: u32][body: len bytes], padded to 8
 * bytes. Only the lock holder writes, and only past `end`. */
#include "kvns/scripts.h"
#include "kvns/arena.h"
#include "kvns/txn.h"

#include <stdlib.h>
#include <string.h>

typedef struct script_rec {
    char     sha[SCRIPT_SHA_LEN];
    uint32_t len;
    uint32_t pad;
    /* then len body bytes */
} script_rec;

static inline size_t rec_size(size_t body_len)
{
    return (sizeof(script_rec) + body_len + 7) & ~(size_t)7;
}

static inline script_rec *rec_at(uint64_t off)
{
    return (script_rec *)arena_ptr(arena_hdr()->scripts_off + off);
}

uint64_t scripts_generation(void)
{
    return __atomic_load_n(&arena_hdr()->scripts_gen, __ATOMIC_ACQUIRE);
}

uint64_t scripts_count(void)
{
    return __atomic_load_n(&arena_hdr()->scripts_count, __ATOMIC_RELAXED);
}

uint64_t scripts_bytes(void)
{
    return __atomic_load_n(&arena_hdr()->scripts_end, __ATOMIC_RELAXED);
}

/* True when the generation is still gen after reading records (the reads happen
 * before the check: acquire fence). */
static bool gen_unchanged(uint64_t gen)
{
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    return __atomic_load_n(&arena_hdr()->scripts_gen, __ATOMIC_RELAXED) == gen;
}

bool scripts_scan(uint64_t gen, uint64_t *from, scripts_visit_fn *visit, void *arg)
{
    if (scripts_generation() != gen)
        return false;
    uint64_t end = __atomic_load_n(&arena_hdr()->scripts_end, __ATOMIC_ACQUIRE);
    uint64_t off = *from;
    while (off + sizeof(script_rec) <= end) {
        const script_rec *r = rec_at(off);
        char sha[SCRIPT_SHA_LEN];
        memcpy(sha, r->sha, sizeof sha);
        uint32_t len = r->len;
        /* a torn read after a flush may show any length: stop, the check below fails */
        if (rec_size(len) > end - off || !gen_unchanged(gen))
            return false;
        visit(sha, off, len, arg);
        off += rec_size(len);
    }
    if (!gen_unchanged(gen))
        return false;
    *from = off;
    return true;
}

char *scripts_copy(uint64_t gen, uint64_t rec, size_t *len)
{
    if (rec + sizeof(script_rec) > SCRIPTS_AREA_BYTES)
        return NULL;
    const script_rec *r = rec_at(rec);
    uint32_t n = r->len;
    if (rec_size(n) > SCRIPTS_AREA_BYTES - rec)
        return NULL;
    char *out = malloc((size_t)n + 1);
    if (!out)
        return NULL;
    memcpy(out, r + 1, n);
    out[n] = 0;
    if (!gen_unchanged(gen)) {
        free(out);
        return NULL;
    }
    *len = n;
    return out;
}

/* Nothing to repair when the lock's holder died: records are published whole. */
static void scripts_lock_recover(void *arg)
{
    (void)arg;
}

static void scripts_lock(void)
{
    arena_mutex_acquire(&arena_hdr()->scripts_lock, false, scripts_lock_recover, NULL);
}

static void scripts_unlock(void)
{
    pthread_mutex_unlock(&arena_hdr()->scripts_lock);
}

/* True when a record of sha is among the first `end` bytes. Caller holds the lock. */
static bool scripts_has_locked(const char *sha, uint64_t end)
{
    for (uint64_t off = 0; off < end; off += rec_size(rec_at(off)->len))
        if (memcmp(rec_at(off)->sha, sha, SCRIPT_SHA_LEN) == 0)
            return true;
    return false;
}

int scripts_add(const char *sha, const char *body, size_t len)
{
    arena_header *h = arena_hdr();
    scripts_lock();
    uint64_t end = h->scripts_end;
    int rc = SCRIPTS_ADDED;
    if (scripts_has_locked(sha, end)) {
        rc = SCRIPTS_PRESENT;
    } else if (len > UINT32_MAX || rec_size(len) > SCRIPTS_AREA_BYTES - end) {
        rc = SCRIPTS_FULL;
    } else {
        script_rec *r = rec_at(end);
        memcpy(r->sha, sha, SCRIPT_SHA_LEN);
        r->len = (uint32_t)len;
        r->pad = 0;
        memcpy(r + 1, body, len);
        __atomic_add_fetch(&h->scripts_count, 1, __ATOMIC_RELAXED);
        __atomic_store_n(&h->scripts_end, end + rec_size(len), __ATOMIC_RELEASE);   /* the publish */
    }
    scripts_unlock();
    return rc;
}

void scripts_flush(void)
{
    arena_header *h = arena_hdr();
    scripts_lock();
    /* generation first: a reader that then sees new bytes at old offsets also sees
     * the new generation and throws its copy away */
    __atomic_add_fetch(&h->scripts_gen, 1, __ATOMIC_RELEASE);
    __atomic_thread_fence(__ATOMIC_RELEASE);
    __atomic_store_n(&h->scripts_count, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&h->scripts_end, 0, __ATOMIC_RELEASE);
    scripts_unlock();
}
