/* txn.c - robust locks, per-thread lanes and the undo log (see txn.h). */
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

#define UNDO_DONE 0xffffffffu

long txn_kill_after_records;
int txn_kill_at_commit;

/* One undo entry: header, then len bytes of old contents padded to 8. */
typedef struct undo_entry {
    uint32_t lock_id;
    uint32_t len;
    aoff     off;
} undo_entry;

static inline uint64_t *lane_held(lane *ln) { return arena_ptr(ln->held_off); }

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
    char *base = arena_ptr(ln->undo_off);
    size_t n = 0, cap = 64;
    uint64_t *pos = malloc(cap * sizeof *pos);
    if (!pos)
        abort();
    for (uint64_t at = 0; at + sizeof(undo_entry) <= used;) {
        undo_entry *e = (undo_entry *)(base + at);
        if (e->lock_id == lock_id) {
            if (n == cap) {
                cap *= 2;
                pos = realloc(pos, cap * sizeof *pos);
                if (!pos)
                    abort();
            }
            pos[n++] = at;
        }
        at += sizeof(undo_entry) + ((e->len + 7u) & ~7u);
    }
    while (n-- > 0) {
        undo_entry *e = (undo_entry *)(base + pos[n]);
        memcpy(arena_base + e->off, (char *)(e + 1), e->len);
        __atomic_store_n(&e->lock_id, UNDO_DONE, __ATOMIC_RELEASE);
    }
    free(pos);
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

bool undo_record(kv_txn *t, uint32_t lock_id, void *p, size_t len)
{
    if (t->failed)
        return false;
    aoff off = arena_off(p);
    if (len == 8 && (off & 7) == 0 && dedup_seen(t, off))
        return true;
    lane *ln = t->ln;
    size_t need = sizeof(undo_entry) + ((len + 7) & ~(size_t)7);
    if (ln->undo_used + need > ln->undo_cap) {
        t->failed = TXN_E_UNDO_FULL;
        return false;
    }
    undo_entry *e = (undo_entry *)((char *)arena_ptr(ln->undo_off) + ln->undo_used);
    e->lock_id = lock_id;
    e->len = (uint32_t)len;
    e->off = off;
    memcpy(e + 1, p, len);
    /* publish the entry before the caller's in-place write can happen */
    __atomic_store_n(&ln->undo_used, ln->undo_used + need, __ATOMIC_RELEASE);
    if (txn_kill_after_records && --txn_kill_after_records == 0)
        raise(SIGKILL);
    return true;
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

/* Undoes this lane's undo entries from byte `from` of the log on, newest first (we
 * hold every lock they name), then shortens the log to `from`. */
static void undo_apply_from(kv_txn *t, uint64_t from)
{
    lane *ln = t->ln;
    char *base = arena_ptr(ln->undo_off);
    uint64_t used = ln->undo_used;
    size_t n = 0, cap = 256;
    uint64_t *pos = malloc(cap * sizeof *pos);
    if (!pos)
        abort();
    for (uint64_t at = from; at < used;) {
        undo_entry *e = (undo_entry *)(base + at);
        if (n == cap) {
            cap *= 2;
            pos = realloc(pos, cap * sizeof *pos);
            if (!pos)
                abort();
        }
        pos[n++] = at;
        at += sizeof(undo_entry) + ((e->len + 7u) & ~7u);
    }
    while (n-- > 0) {
        undo_entry *e = (undo_entry *)(base + pos[n]);
        memcpy(arena_base + e->off, (char *)(e + 1), e->len);
    }
    free(pos);
    /* only now: a crash before this store finds the entries and undoes them again */
    __atomic_store_n(&ln->undo_used, from, __ATOMIC_RELEASE);
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

/* Ends the transaction: lane idle, undo emptied, locks released. */
static void txn_finish(kv_txn *t)
{
    __atomic_store_n(&t->ln->undo_used, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&t->ln->state, LANE_IDLE, __ATOMIC_RELEASE);
    txn_unlock_from(t, 0);              /* every lock, newest first */
}

int txn_commit(kv_txn *t)
{
    if (!t->failed && t->nfrees)
        alloc_apply_frees(t);
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
}

uint32_t lanes_busy(void)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < arena_hdr()->lane_count; i++)
        if (__atomic_load_n(&arena_lane(i)->state, __ATOMIC_ACQUIRE) != LANE_IDLE)
            n++;
    return n;
}
