/* txn.c - robust locks, per-thread lanes and the undo log (see txn.h).
 *
 * The undo log's segments. A lane's log is one logical byte sequence of entries (a
 * header, then the old bytes padded to 8). Its first segment is the lane's own area
 * (logical bytes [0, undo_cap)); when that is full the transaction takes another
 * segment from the page heap - a RUN_UNDO run holding an undo_seg header and then its
 * payload, which covers the next logical bytes - linked from lane.undo_next and then
 * from each segment's header. An entry never straddles two segments: the writer fills
 * the rest of a segment with one UNDO_PAD entry (or leaves fewer than a header's
 * bytes), published when the log's end moves into the next segment. Readers
 * (recovery, rollback) walk the chain up to the published undo_used.
 *
 * Growing is an ordinary allocation inside the transaction: the heap writes that take
 * the segment are logged (into the reserve: the last UNDO_RESERVE bytes of every
 * segment, which only the heap's records and a growth's may use), so a rollback or a
 * crash returns the segment with everything else. A record under the heap lock never
 * grows the log - the growth would change heap state its caller has already read -
 * so every heap operation first calls undo_reserve, which grows the log at that safe
 * point when it is past the soft limit. A savepoint may lie in any segment: rolling
 * back to it undoes the later segments' allocations with the rest, and unlinks them
 * (undo_truncate_chain). Order of a growth: allocate (logged)
 * -> write the segment's header -> link it -> pad the old segment's tail -> publish
 * undo_used = the new segment's start. A crash before the link leaves an unreachable
 * run that the rollback frees; after it, readers stop at the published undo_used,
 * which names the new segment only once its header and link are in place.
 *
 * Why recovery can read a dead lane's segments: a rollback of the dead lane's heap
 * records (by whoever takes the heap lock next) makes its segments free again, while
 * the lane's other locks may not be recovered yet. So the heap does not hand out
 * memory that overlaps an undo segment of another lane (undo_segments_overlap) until
 * that lane is swept; a live lane with segments holds the heap lock, and it unlinks
 * them before releasing it, so only dead lanes' chains are ever seen there.
 * arena_header.undo_chains counts the lanes with a chain, so that check costs one
 * load while there is none.
 *
 * When the transaction ends the segments go back to the heap: a rollback returns them
 * by undoing their allocation; a commit frees them (logged, before the commit point;
 * the heap does not reuse a run freed by the same transaction). Nothing is kept per
 * lane between transactions. */
#include "kvns/txn.h"
#include "kvns/clock.h"
#include "kvns/shard.h"
#include "kvns/alloc.h"
#include "kvns/exit_code.h"
#include "kvns/log.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define UNDO_DONE 0xffffffffu   /* entry undone by recovery */
#define UNDO_PAD  0xfffffffeu   /* fills a segment's tail: the log goes on in the next */

/* Bytes at the end of each segment that only the heap's records and a growth's own
 * use: one heap operation plus the growth (an allocation and the run's header). */
#define UNDO_RESERVE (2 * UNDO_HEAP_OP_MAX + 512)

long txn_kill_after_records;
int txn_kill_at_commit;
int txn_kill_at_grow;

/* One undo entry: header, then len bytes of old contents padded to 8. */
typedef struct undo_entry {
    uint32_t lock_id;
    uint32_t len;
    aoff     off;
} undo_entry;

/* The header of an undo segment taken from the heap, after its run_header. */
typedef struct undo_seg {
    aoff     next;             /* the log's next segment (its run), or 0 */
    uint64_t start;            /* logical offset of the first payload byte */
    uint64_t cap;              /* payload bytes */
    uint64_t bytes;            /* bytes of the whole run */
} undo_seg;

static inline uint64_t *lane_held(lane *ln) { return arena_ptr(ln->held_off); }

static inline undo_seg *seg_hdr(aoff run) { return (undo_seg *)((char *)arena_ptr(run) + sizeof(run_header)); }

/* A reader's position in a lane's chain of segments. */
typedef struct seg_cursor {
    const lane *ln;
    aoff     run;              /* 0: the lane's own area */
    uint64_t bias;             /* arena offset of logical byte 0 through this segment */
    uint64_t start, end;       /* the logical bytes it covers */
} seg_cursor;

/* The cursor at lane ln's first segment (its own area). */
static seg_cursor seg_first(const lane *ln)
{
    return (seg_cursor){ ln, 0, ln->undo_off, 0, ln->undo_cap };
}

/* The segment that follows c's. Returns false when c is the last one. */
static bool seg_advance(seg_cursor *c)
{
    aoff next = c->run ? __atomic_load_n(&seg_hdr(c->run)->next, __ATOMIC_ACQUIRE)
                       : __atomic_load_n(&c->ln->undo_next, __ATOMIC_ACQUIRE);
    if (!next)
        return false;
    undo_seg *h = seg_hdr(next);
    c->run = next;
    c->start = h->start;
    c->end = h->start + h->cap;
    c->bias = arena_off(h + 1) - h->start;
    return true;
}

/* Points t's writer at the segment c. */
static void txn_seg_set(kv_txn *t, const seg_cursor *c)
{
    t->seg_run = c->run;
    t->seg_bias = c->bias;
    t->seg_start = c->start;
    t->seg_end = c->end;
    t->seg_limit = c->end - UNDO_RESERVE;
}

/* Collects the entries of lane ln's log in [from, used), oldest first, into a
 * malloc'ed array the caller frees: those of lock_id, or every live one when all. */
static size_t undo_collect(const lane *ln, uint64_t from, uint64_t used, uint32_t lock_id, bool all,
                           undo_entry ***out)
{
    size_t n = 0, cap = 64;
    undo_entry **v = malloc(cap * sizeof *v);
    if (!v)
        abort();
    seg_cursor c = seg_first(ln);
    while (from >= c.end && seg_advance(&c))
        ;
    for (uint64_t at = from; at < used;) {
        if (at + sizeof(undo_entry) > c.end) {
            if (!seg_advance(&c))
                break;
            at = c.start;
            continue;
        }
        undo_entry *e = arena_ptr(c.bias + at);
        if (e->lock_id == UNDO_PAD) {
            at = c.end;
            continue;
        }
        if (all ? e->lock_id != UNDO_DONE : e->lock_id == lock_id) {
            if (n == cap) {
                cap *= 2;
                v = realloc(v, cap * sizeof *v);
                if (!v)
                    abort();
            }
            v[n++] = e;
        }
        at += sizeof(undo_entry) + ((e->len + 7u) & ~7u);
    }
    *out = v;
    return n;
}

/* The mutex behind a lock id. */
static pthread_mutex_t *lock_mutex(uint32_t lock_id)
{
    arena_header *h = arena_hdr();
    if (lock_id < h->shard_count)
        return &shard_at(lock_id)->lock;
    if (lock_id == lock_id_functions())
        return &h->fn_lock;
    return &h->heap_lock;
}

void txn_init(kv_txn *t, uint32_t lane_id)
{
    memset(t, 0, sizeof *t);
    t->lane_id = lane_id;
    t->ln = arena_lane(lane_id);
    if (t->ln->undo_cap < 2 * UNDO_RESERVE) {
        shm_log(LOG_LVL_ERROR, "lane undo area too small", "bytes=%llu", (unsigned long long)t->ln->undo_cap);
        abort();
    }
    seg_cursor c = seg_first(t->ln);
    txn_seg_set(t, &c);
    t->locked = calloc(arena_hdr()->shard_count + 2, sizeof(uint32_t));
    if (!t->locked)
        abort();
    t->ln->pid = getpid();
}

void txn_destroy(kv_txn *t)
{
    free(t->locked);
    free(t->frees);
    t->locked = NULL;
    t->frees = NULL;
}

void txn_begin(kv_txn *t)
{
    if (t->batch_clock_ms > 0) {
        t->now_ms = t->batch_clock_ms;
    } else {
        t->now_ms = clock_wall_ms();
    }
    t->failed = TXN_OK;
    t->grow = 0;
    t->nfrees = 0;
    t->dedup_gen++;
    t->ln->txn++;
    __atomic_store_n(&t->ln->state, LANE_ACTIVE, __ATOMIC_RELEASE);
}

bool txn_holds(const kv_txn *t, uint32_t lock_id)
{
    for (uint32_t i = 0; i < t->nlocked; i++)
        if (t->locked[i] == lock_id)
            return true;
    return false;
}

/* Applies, newest first, the uncommitted undo entries of lane ln that belong to
 * lock_id, marking each done so a crash during recovery can safely repeat it. */
static void lane_undo_lock(lane *ln, uint32_t lock_id)
{
    uint64_t used = __atomic_load_n(&ln->undo_used, __ATOMIC_ACQUIRE);
    undo_entry **v;
    size_t n = undo_collect(ln, 0, used, lock_id, false, &v);
    while (n-- > 0) {
        memcpy(arena_base + v[n]->off, (char *)(v[n] + 1), v[n]->len);
        __atomic_store_n(&v[n]->lock_id, UNDO_DONE, __ATOMIC_RELEASE);
    }
    free(v);
}

void lock_recover(uint32_t lock_id)
{
    arena_header *h = arena_hdr();
    uint32_t undone = 0;
    for (uint32_t i = 0; i < h->lane_count; i++) {
        lane *ln = arena_lane(i);
        /* Only a lane that set its held bit for this lock can have entries for it:
         * the dead owner, or live lanes blocked waiting for it (whose logs are stable
         * while they wait and hold nothing for this lock). Other live lanes may be
         * rewriting their logs right now and must not be read. */
        uint64_t bits = __atomic_load_n(&lane_held(ln)[lock_id / 64], __ATOMIC_ACQUIRE);
        if (!(bits & (1ULL << (lock_id % 64))))
            continue;
        uint32_t st = __atomic_load_n(&ln->state, __ATOMIC_ACQUIRE);
        if (st != LANE_ACTIVE)
            continue;   /* committed: its writes stand; idle: nothing pending */
        lane_undo_lock(ln, lock_id);
        undone++;
    }
    shm_log(LOG_LVL_WARN, "recovered lock after owner death", "lock=%u lanes_checked=%u", lock_id, undone);
}

bool arena_mutex_acquire(pthread_mutex_t *m, bool try, void (*recover)(void *arg), void *arg)
{
    int rc = try ? pthread_mutex_trylock(m) : pthread_mutex_lock(m);
    if (rc == 0)
        return true;
    if (try && rc == EBUSY)
        return false;
    if (rc == EOWNERDEAD) {
        recover(arg);
        pthread_mutex_consistent(m);
        return true;
    }
    shm_log(LOG_LVL_ERROR, "arena mutex unusable: stopping", "offset=%llu err=%d",
              (unsigned long long)arena_off(m), rc);
    _exit(EXIT_ARENA_BROKEN);
}

/* arena_mutex_acquire's recovery for a shard or heap lock: arg is the lock id. */
static void recover_lock_id(void *arg)
{
    lock_recover(*(const uint32_t *)arg);
}

/* Checks the ascending-order rule for taking lock_id next. Returns true when t holds
 * it already (nothing to take). */
static bool lock_order_check(const kv_txn *t, uint32_t lock_id)
{
    if (t->nlocked && t->locked[t->nlocked - 1] >= lock_id) {
        if (txn_holds(t, lock_id))
            return true;
        shm_log(LOG_LVL_ERROR, "lock order violation", "lock=%u last=%u", lock_id, t->locked[t->nlocked - 1]);
        abort();
    }
    return false;
}

/* Acquires lock_id's mutex for t's lane: waits for it, or (try) takes it only when it
 * is free now and returns false when another thread holds it. The lane's held bit goes
 * up before the attempt: a recovery running meanwhile may visit this lane, which has
 * no entries for the lock yet, and a dead waiter's bit tells the sweep what to look
 * at. The caller records the lock in t->locked. */
static inline bool lock_acquire(kv_txn *t, uint32_t lock_id, bool try)
{
    uint64_t *held = lane_held(t->ln);
    uint64_t bit = 1ULL << (lock_id % 64);
    __atomic_or_fetch(&held[lock_id / 64], bit, __ATOMIC_SEQ_CST);
    if (!arena_mutex_acquire(lock_mutex(lock_id), try, recover_lock_id, &lock_id)) {
        __atomic_and_fetch(&held[lock_id / 64], ~bit, __ATOMIC_RELEASE);
        return false;
    }
    return true;
}

/* Takes lock_id for t in ascending order (see lock_acquire for try). */
static inline bool lock_take(kv_txn *t, uint32_t lock_id, bool try)
{
    if (lock_order_check(t, lock_id))
        return true;
    if (!lock_acquire(t, lock_id, try))
        return false;
    t->locked[t->nlocked++] = lock_id;
    return true;
}

void txn_lock(kv_txn *t, uint32_t lock_id) { lock_take(t, lock_id, false); }

bool txn_trylock_unordered(kv_txn *t, uint32_t lock_id)
{
    if (txn_holds(t, lock_id))
        return true;
    if (!lock_acquire(t, lock_id, true))
        return false;
    /* keep locked[] ascending: lock_order_check reads its last entry */
    uint32_t i = t->nlocked++;
    while (i > 0 && t->locked[i - 1] > lock_id) {
        t->locked[i] = t->locked[i - 1];
        i--;
    }
    t->locked[i] = lock_id;
    return true;
}

bool txn_trylock(kv_txn *t, uint32_t lock_id) { return lock_take(t, lock_id, true); }

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* Releases the locks t took after the first `keep`, newest first, and clears the
 * lane's held bits for them. */
static void txn_unlock_from(kv_txn *t, uint32_t keep)
{
    uint64_t *held = lane_held(t->ln);
    while (t->nlocked > keep) {
        uint32_t id = t->locked[--t->nlocked];
        pthread_mutex_unlock(lock_mutex(id));
        __atomic_and_fetch(&held[id / 64], ~(1ULL << (id % 64)), __ATOMIC_RELEASE);
    }
}

/* Sorts and de-duplicates ids[], then takes each in ascending order (see lock_take).
 * When one is busy (try only), releases what this call took and returns false. */
static inline bool lock_take_many(kv_txn *t, uint32_t *ids, size_t n, bool try)
{
    if (n > 1)
        qsort(ids, n, sizeof *ids, cmp_u32);
    uint32_t keep = t->nlocked;
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && ids[i] == ids[i - 1])
            continue;
        if (!lock_take(t, ids[i], try)) {
            txn_unlock_from(t, keep);
            return false;
        }
    }
    return true;
}

void txn_lock_many(kv_txn *t, uint32_t *ids, size_t n) { lock_take_many(t, ids, n, false); }

bool txn_trylock_many(kv_txn *t, uint32_t *ids, size_t n) { return lock_take_many(t, ids, n, true); }

/* True when the 8-byte word at off was already recorded in this transaction. */
static bool dedup_seen(kv_txn *t, aoff off)
{
    uint64_t slot = (off >> 3) * 0x9e3779b97f4a7c15ULL >> 52;   /* 12 bits: TXN_DEDUP_SLOTS */
    for (int probe = 0; probe < 4; probe++) {
        uint64_t i = (slot + probe) & (TXN_DEDUP_SLOTS - 1);
        if (t->dedup[i].gen != t->dedup_gen) {
            t->dedup[i].gen = t->dedup_gen;
            t->dedup[i].off = off;
            return false;
        }
        if (t->dedup[i].off == off)
            return true;
    }
    return false;
}

/* Adds 1 (or -1) to the count of lanes whose log has heap segments. */
static void undo_chains_add(int delta)
{
    __atomic_add_fetch(&arena_hdr()->undo_chains, (uint64_t)(int64_t)delta, __ATOMIC_SEQ_CST);
}

/* Gives t's log a new segment with room for an entry of need bytes after the current
 * one's end, in the order the comment at the top describes. Returns false when the
 * heap has no room (t->failed = TXN_E_UNDO_FULL). */
static bool undo_grow(kv_txn *t, size_t need)
{
    lane *ln = t->ln;
    uint64_t payload = ln->undo_cap > need + UNDO_RESERVE ? ln->undo_cap : need + UNDO_RESERVE;
    uint64_t npages = (sizeof(run_header) + sizeof(undo_seg) + payload + ARENA_PAGE - 1) / ARENA_PAGE;
    t->growing = true;
    aoff run = alloc_undo_segment(t, npages);
    t->growing = false;
    if (!run || t->failed) {
        if (!t->failed)
            t->failed = TXN_E_UNDO_FULL;
        return false;
    }
    if (txn_kill_at_grow == 1)
        raise(SIGKILL);
    undo_seg *h = seg_hdr(run);        /* fresh: reachable only once linked */
    h->next = 0;
    h->start = t->seg_end;
    h->bytes = npages * ARENA_PAGE;
    h->cap = h->bytes - sizeof(run_header) - sizeof(undo_seg);
    if (t->seg_run) {
        __atomic_store_n(&seg_hdr(t->seg_run)->next, run, __ATOMIC_RELEASE);
    } else {
        undo_chains_add(1);            /* before the link: the heap checks from now on */
        __atomic_store_n(&ln->undo_next, run, __ATOMIC_RELEASE);
    }
    uint64_t at = ln->undo_used;
    if (t->seg_end - at >= sizeof(undo_entry)) {
        undo_entry *pad = arena_ptr(t->seg_bias + at);
        pad->lock_id = UNDO_PAD;
        pad->len = (uint32_t)(t->seg_end - at - sizeof(undo_entry));
        pad->off = 0;
    }
    if (txn_kill_at_grow == 2)
        raise(SIGKILL);
    /* the log's end moves to the new segment: publishes the pad */
    __atomic_store_n(&ln->undo_used, h->start, __ATOMIC_RELEASE);
    seg_cursor c = { ln, run, arena_off(h + 1) - h->start, h->start, h->start + h->cap };
    txn_seg_set(t, &c);
    return true;
}

/* Writes one entry at logical byte `at` of t's current segment and publishes it
 * (before the caller's in-place write can happen). */
static inline bool undo_write(kv_txn *t, uint64_t at, uint32_t lock_id, const void *p, size_t len, size_t need)
{
    undo_entry *e = arena_ptr(t->seg_bias + at);
    e->lock_id = lock_id;
    e->len = (uint32_t)len;
    e->off = arena_off(p);
    memcpy(e + 1, p, len);
    __atomic_store_n(&t->ln->undo_used, at + need, __ATOMIC_RELEASE);
    if (txn_kill_after_records && --txn_kill_after_records == 0)
        raise(SIGKILL);
    return true;
}

/* undo_record's slow path: an entry of need bytes does not fit below the segment's
 * soft limit. Records of a growth and of the heap (under lock_id) go into the
 * reserve; others get a new segment. Out of line (and reached by a tail call), so
 * that the common record pays nothing for it. */
__attribute__((noinline, cold)) static bool undo_record_slow(kv_txn *t, uint32_t lock_id, const void *p,
                                                             size_t len, size_t need)
{
    uint64_t at = t->ln->undo_used;
    if (t->growing || lock_id == lock_id_heap()) {
        if (at + need > t->seg_end) {
            t->failed = TXN_E_UNDO_FULL;   /* undo_reserve keeps this from happening */
            return false;
        }
    } else {
        if (!undo_grow(t, need))
            return false;
        at = t->seg_start;             /* == undo_used now */
    }
    return undo_write(t, at, lock_id, p, len, need);
}

bool undo_reserve(kv_txn *t)
{
    if (t->failed)
        return false;
    if (t->growing || t->ln->undo_used <= t->seg_limit)
        return true;
    return undo_grow(t, 0);
}

bool undo_segments_overlap(const kv_txn *t, aoff start, aoff end)
{
    arena_header *h = arena_hdr();
    if (!__atomic_load_n(&h->undo_chains, __ATOMIC_ACQUIRE))
        return false;
    for (uint32_t i = 0; i < h->lane_count; i++) {
        if (i == t->lane_id)
            continue;                  /* its own segments are allocated */
        for (aoff run = arena_lane(i)->undo_next; run; run = seg_hdr(run)->next)
            if (run < end && start < run + seg_hdr(run)->bytes)
                return true;
    }
    return false;
}

bool undo_record(kv_txn *t, uint32_t lock_id, void *p, size_t len)
{
    if (t->failed)
        return false;
    aoff off = arena_off(p);
    if (len == 8 && (off & 7) == 0 && dedup_seen(t, off))
        return true;
    size_t need = sizeof(undo_entry) + ((len + 7) & ~(size_t)7);
    uint64_t at = t->ln->undo_used;
    if (at + need > t->seg_limit)
        return undo_record_slow(t, lock_id, p, len, need);
    return undo_write(t, at, lock_id, p, len, need);
}

void tx_store64(kv_txn *t, uint32_t lock_id, uint64_t *p, uint64_t v)
{
    if (undo_record(t, lock_id, p, 8))
        __atomic_store_n(p, v, __ATOMIC_RELEASE);
}

void tx_store32(kv_txn *t, uint32_t lock_id, uint32_t *p, uint32_t v)
{
    if (undo_record(t, lock_id, p, 4))
        __atomic_store_n(p, v, __ATOMIC_RELEASE);
}

void tx_add64(kv_txn *t, uint32_t lock_id, uint64_t *p, int64_t delta)
{
    tx_store64(t, lock_id, p, *p + (uint64_t)delta);
}

void tx_copy(kv_txn *t, uint32_t lock_id, void *dst, const void *src, size_t n)
{
    if (undo_record(t, lock_id, dst, n)) {
        memcpy(dst, src, n);
        __atomic_thread_fence(__ATOMIC_RELEASE);
    }
}

void txn_defer_free(kv_txn *t, uint32_t shard_id, aoff off, uint32_t size)
{
    if (t->nfrees == t->cap_frees) {
        t->cap_frees = t->cap_frees ? t->cap_frees * 2 : 64;
        t->frees = realloc(t->frees, t->cap_frees * sizeof *t->frees);
        if (!t->frees)
            abort();
    }
    t->frees[t->nfrees++] = (txn_free){ off, size, shard_id };
}

/* Unlinks the segments of t's log that start after logical byte `from` (their
 * allocation was just undone, or they were freed) and points the writer at the one
 * holding `from`. Caller holds the heap lock whenever there are segments. Out of
 * line, as undo_record_slow: the end of every transaction tests whether to call it. */
__attribute__((noinline, cold)) static void undo_truncate_chain(kv_txn *t, uint64_t from)
{
    lane *ln = t->ln;
    seg_cursor c = seg_first(ln);
    seg_cursor next = c;
    while (seg_advance(&next) && next.start <= from)
        c = next;
    if (c.run) {
        __atomic_store_n(&seg_hdr(c.run)->next, 0, __ATOMIC_RELEASE);
    } else if (ln->undo_next) {
        __atomic_store_n(&ln->undo_next, 0, __ATOMIC_RELEASE);
        undo_chains_add(-1);           /* after the unlink: see the top comment */
    }
    txn_seg_set(t, &c);
}

/* Undoes this lane's undo entries from logical byte `from` of the log on, newest
 * first (we hold every lock they name), then shortens the log to `from`. */
static void undo_apply_from(kv_txn *t, uint64_t from)
{
    lane *ln = t->ln;
    undo_entry **v;
    size_t n = undo_collect(ln, from, ln->undo_used, 0, true, &v);
    while (n-- > 0)
        memcpy(arena_base + v[n]->off, (char *)(v[n] + 1), v[n]->len);
    free(v);
    /* only now: a crash before this store finds the entries and undoes them again */
    __atomic_store_n(&ln->undo_used, from, __ATOMIC_RELEASE);
    if (t->seg_run)
        undo_truncate_chain(t, from);
}

static void txn_rollback(kv_txn *t) { undo_apply_from(t, 0); }

txn_savepoint txn_savepoint_take(kv_txn *t)
{
    t->dedup_gen++;
    return (txn_savepoint){ t->ln->undo_used, t->nfrees, t->grow };
}

void txn_rollback_to(kv_txn *t, const txn_savepoint *sp)
{
    undo_apply_from(t, sp->undo_used);
    t->nfrees = sp->nfrees;
    t->grow = sp->grow;
    t->failed = TXN_OK;
    t->dedup_gen++;      /* words first logged after sp are no longer in the log */
}

/* Ends the transaction: lane idle, undo emptied, segments unlinked (they are free
 * by now), locks released. */
static inline void txn_finish(kv_txn *t)
{
    __atomic_store_n(&t->ln->undo_used, 0, __ATOMIC_RELEASE);
    if (t->seg_run)
        undo_truncate_chain(t, 0);
    __atomic_store_n(&t->ln->state, LANE_IDLE, __ATOMIC_RELEASE);
    txn_unlock_from(t, 0);              /* every lock, newest first */
}

/* Before the commit point: returns every heap segment of t's log to the heap
 * (logged: a crash before the commit point undoes this with the rest). Freeing may
 * itself take one more segment, which the walk then reaches and frees too. */
__attribute__((noinline, cold)) static void undo_release_segments(kv_txn *t)
{
    for (aoff run = t->ln->undo_next; run && !t->failed; run = seg_hdr(run)->next) {
        alloc_free_undo_segment(t, run);
        if (txn_kill_at_grow == 3)
            raise(SIGKILL);
    }
}

int txn_commit(kv_txn *t)
{
    if (!t->failed && t->nfrees)
        alloc_apply_frees(t);
    if (t->seg_run && !t->failed)
        undo_release_segments(t);
    if (t->failed) {
        int err = t->failed;
        txn_abort(t);
        t->failed = err;
        return err;
    }
    if (t->ln->undo_used) {
        for (uint32_t i = 0; i < t->nlocked; i++)
            if (t->locked[i] < arena_hdr()->shard_count)
                __atomic_add_fetch(&shard_at(t->locked[i])->version, 1, __ATOMIC_RELAXED);
        if (txn_kill_at_commit == 1)
            raise(SIGKILL);
        /* the commit point: one aligned store */
        __atomic_store_n(&t->ln->state, LANE_COMMITTED, __ATOMIC_SEQ_CST);
        if (txn_kill_at_commit == 2)
            raise(SIGKILL);
    }
    txn_finish(t);
    return TXN_OK;
}

void txn_abort(kv_txn *t)
{
    txn_rollback(t);
    t->nfrees = 0;
    txn_finish(t);
}

void lane_sweep(uint32_t lane_id)
{
    lane *ln = arena_lane(lane_id);
    /* a script the dead thread ran is over: nobody is answered BUSY for it any more */
    __atomic_store_n(&ln->script_since_ms, 0, __ATOMIC_RELEASE);
    uint64_t *held = lane_held(ln);
    for (uint64_t w = 0; w < ln->held_words; w++) {
        while (held[w]) {
            uint32_t id = (uint32_t)(w * 64 + (uint64_t)__builtin_ctzll(held[w]));
            pthread_mutex_t *m = lock_mutex(id);
            arena_mutex_acquire(m, false, recover_lock_id, &id);
            /* normal acquisition: whoever recovered it already undid our entries */
            if (__atomic_load_n(&ln->state, __ATOMIC_ACQUIRE) == LANE_ACTIVE)
                lane_undo_lock(ln, id);
            pthread_mutex_unlock(m);
            __atomic_and_fetch(&held[w], ~(1ULL << (id % 64)), __ATOMIC_RELEASE);
        }
    }
    __atomic_store_n(&ln->undo_used, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&ln->state, LANE_IDLE, __ATOMIC_RELEASE);
    /* every lock is recovered: nobody reads the log, its segments may be reused */
    if (ln->undo_next) {
        __atomic_store_n(&ln->undo_next, 0, __ATOMIC_RELEASE);
        undo_chains_add(-1);
    }
}

uint32_t lanes_busy(void)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < arena_hdr()->lane_count; i++)
        if (__atomic_load_n(&arena_lane(i)->state, __ATOMIC_ACQUIRE) != LANE_IDLE)
            n++;
    return n;
}
