/* persist.c - snapshot persistence: directories, the state shared between the
 * housekeeper and the workers, start-up loading and the housekeeper's scheduling
 * (see persist.h; the writer is snapshot_write.c, the loader snapshot_load.c).
 *
 * The shared state lives in a small MAP_SHARED anonymous mapping the supervisor makes
 * before forking, outside the arena: it holds no key data, only counters and two futex
 * words (one wakes the housekeeper for SAVE/BGSAVE, one wakes the SAVE callers when a
 * snapshot ends). The housekeeper is its only writer once the children run, apart from
 * the request counter the workers bump. */
#include "kvns/persist.h"
#include "kvns/function_store.h"
#include "kvns/clock.h"
#include "kvns/arena.h"
#include "kvns/log.h"
#include "kvns/shard.h"
#include "kvns/store.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* The short name of an error kind, for log lines and messages. */
const char *persist_error_name(int error)
{
    switch (error) {
    case PERSIST_OK: return "ok";
    case PERSIST_E_IO: return "i/o error";
    case PERSIST_E_TRUNCATED: return "truncated";
    case PERSIST_E_MAGIC: return "bad magic";
    case PERSIST_E_VERSION: return "unsupported version";
    case PERSIST_E_CRC: return "checksum mismatch";
    case PERSIST_E_FORMAT: return "malformed";
    case PERSIST_E_NOMEM: return "out of memory";
    case PERSIST_E_CANCELLED: return "cancelled";
    }
    return "unknown";
}

/* ---- directories -------------------------------------------------------------------------- */

int persist_make_dirs(const char *path, char *err, size_t errlen)
{
    size_t len = strlen(path);
    char *dir = malloc(len + 1);
    if (!dir) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    memcpy(dir, path, len + 1);
    int rc = 0;
    /* every prefix ending just before a '/', except the root itself */
    for (size_t i = 1; i < len && rc == 0; i++) {
        if (dir[i] != '/' || dir[i - 1] == '/')
            continue;
        dir[i] = 0;
        if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
            snprintf(err, errlen, "cannot create directory %s: %s", dir, strerror(errno));
            rc = -1;
        } else {
            struct stat st;
            if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
                snprintf(err, errlen, "%s is not a directory", dir);
                rc = -1;
            }
        }
        dir[i] = '/';
    }
    free(dir);
    return rc;
}

/* Writes path's temporary file name (PATH.tmp) into out; false when it does not fit. */
bool persist_tmp_path(const char *path, char *out, size_t outlen)
{
    return snprintf(out, outlen, "%s.tmp", path) < (int)outlen;
}

/* Removes the PATH.tmp a killed housekeeper or supervisor left behind (a regular file
 * only: a directory or symlink of that name is not ours), and logs what went. */
static void remove_stale_tmp(const char *path)
{
    char tmp[PATH_MAX + 8];
    struct stat st;
    if (!persist_tmp_path(path, tmp, sizeof tmp) || lstat(tmp, &st) != 0 || !S_ISREG(st.st_mode))
        return;
    if (unlink(tmp) == 0)
        shm_log(LOG_LVL_WARN, "removed a stale temporary snapshot file left by an interrupted snapshot",
                 "file=\"%s\" bytes=%lld", tmp, (long long)st.st_size);
    else
        shm_log(LOG_LVL_WARN, "cannot remove a stale temporary snapshot file", "file=\"%s\" err=\"%s\"", tmp,
                 strerror(errno));
}

/* ---- shared state ------------------------------------------------------------------------- */

typedef struct persist_shared {
    uint32_t wake_word;        /* futex: bumped when a snapshot is requested */
    uint32_t done_word;        /* futex: bumped when a snapshot ends */
    uint32_t enabled;
    uint32_t in_progress;
    uint32_t last_ok;
    uint32_t stop_writes;      /* stop-writes-on-bgsave-error (CONFIG SET changes it) */
    uint64_t requested;        /* tickets handed out by persist_request */
    uint64_t served;           /* highest ticket a finished snapshot covered */
    uint64_t served_ok;        /* highest ticket a successful snapshot covered */
    uint64_t serving;          /* the ticket the running snapshot covers */
    int64_t  last_save_ms;
    int64_t  current_start_ms;
    int64_t  last_duration_ms;
    uint64_t saves_ok, saves_failed;
    uint64_t last_bytes, last_keys;
    uint64_t version_base;     /* sum of shard versions when the last good save started */
    uint64_t loaded_keys, loaded_expired;
    char     last_error[256];
} persist_shared;

static persist_shared *shared;
static char persist_path[4096];
static unsigned persist_interval_s = 300;
static int64_t next_due_ms;    /* housekeeper-local: monotonic time of the next periodic save */

#define SAVE_RETRY_MS 5000     /* a failed snapshot is retried this soon (Redis: 5 s) */

/* Sum of every shard's commit counter and the function registry's generation: the
 * store's write count (rdb_changes...). */
static uint64_t versions_sum(void)
{
    uint64_t n = fnstore_generation();
    for (uint32_t s = 0; s < arena_hdr()->shard_count; s++)
        n += __atomic_load_n(&shard_at(s)->version, __ATOMIC_RELAXED);
    return n;
}

/* Waits on a shared futex word while it still holds `seen`, at most ms milliseconds;
 * returns early on a wake or a signal. */
static void futex_wait_ms(uint32_t *word, uint32_t seen, unsigned ms)
{
    struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };
    syscall(SYS_futex, word, FUTEX_WAIT, seen, &ts, NULL, 0);
}

/* Bumps a shared futex word and wakes everyone waiting on it. */
static void futex_bump_wake(uint32_t *word)
{
    __atomic_add_fetch(word, 1, __ATOMIC_RELEASE);
    syscall(SYS_futex, word, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

/* Maps (once) and resets the shared state from the configuration. */
int persist_init(const kvns_config *cfg, int64_t start_ms)
{
    if (!shared) {
        void *p = mmap(NULL, sizeof *shared, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
            return -1;
        shared = p;
    }
    memset(shared, 0, sizeof *shared);
    snprintf(persist_path, sizeof persist_path, "%s", cfg && cfg->persist_path[0] ? cfg->persist_path : "");
    persist_interval_s = cfg && cfg->persist_interval ? cfg->persist_interval : 300;
    shared->enabled = persist_path[0] != 0;
    shared->last_ok = 1;
    shared->stop_writes = cfg ? cfg->stop_writes_on_bgsave_error : true;
    shared->last_save_ms = start_ms;
    shared->last_duration_ms = -1;
    shared->version_base = arena_base ? versions_sum() : 0;
    return 0;
}

/* True when KVNS_PERSIST_PATH is set. */
bool persist_enabled(void) { return shared && shared->enabled; }

/* stop-writes-on-bgsave-error as CONFIG GET reports it. */
bool persist_stop_writes(void) { return !shared || __atomic_load_n(&shared->stop_writes, __ATOMIC_RELAXED); }

/* CONFIG SET stop-writes-on-bgsave-error: every worker sees it at once. */
void persist_set_stop_writes(bool on)
{
    if (shared)
        __atomic_store_n(&shared->stop_writes, on ? 1u : 0u, __ATOMIC_RELAXED);
}

/* True when writes must be refused with MISCONF: persistence on, the setting on, and
 * the last snapshot attempt (interval, SAVE or BGSAVE) failed. */
bool persist_writes_refused(void)
{
    return shared && shared->enabled && __atomic_load_n(&shared->stop_writes, __ATOMIC_RELAXED) &&
           !__atomic_load_n(&shared->last_ok, __ATOMIC_RELAXED);
}

/* Copies the shared state with relaxed loads (INFO, metrics, commands). */
void persist_stats_read(persist_stats *out)
{
    memset(out, 0, sizeof *out);
    out->last_ok = true;
    out->last_duration_ms = -1;
    if (!shared)
        return;
    out->enabled = shared->enabled;
    out->in_progress = __atomic_load_n(&shared->in_progress, __ATOMIC_ACQUIRE);
    out->last_ok = __atomic_load_n(&shared->last_ok, __ATOMIC_RELAXED);
    out->last_save_ms = __atomic_load_n(&shared->last_save_ms, __ATOMIC_RELAXED);
    out->current_start_ms = __atomic_load_n(&shared->current_start_ms, __ATOMIC_RELAXED);
    out->last_duration_ms = __atomic_load_n(&shared->last_duration_ms, __ATOMIC_RELAXED);
    out->saves_ok = __atomic_load_n(&shared->saves_ok, __ATOMIC_RELAXED);
    out->saves_failed = __atomic_load_n(&shared->saves_failed, __ATOMIC_RELAXED);
    out->last_bytes = __atomic_load_n(&shared->last_bytes, __ATOMIC_RELAXED);
    out->last_keys = __atomic_load_n(&shared->last_keys, __ATOMIC_RELAXED);
    out->loaded_keys = shared->loaded_keys;
    out->loaded_expired = shared->loaded_expired;
    uint64_t base = __atomic_load_n(&shared->version_base, __ATOMIC_RELAXED);
    uint64_t now = arena_base ? versions_sum() : base;
    out->changes = now > base ? now - base : 0;
    memcpy(out->last_error, shared->last_error, sizeof out->last_error);
    out->last_error[sizeof out->last_error - 1] = 0;
}

/* ---- start-up --------------------------------------------------------------------------- */

int persist_startup(const kvns_config *cfg, uint32_t lane_id)
{
    if (persist_init(cfg, arena_hdr()->start_time_ms) != 0) {
        shm_log(LOG_LVL_ERROR, "cannot map the persistence state", "err=\"%s\"", strerror(errno));
        return -1;
    }
    if (!shared->enabled)
        return 0;
    char err[512];
    if (persist_make_dirs(persist_path, err, sizeof err) != 0) {
        shm_log(LOG_LVL_ERROR, "cannot create the snapshot directory (KVNS_PERSIST_PATH), refusing to start",
                  "path=\"%s\" err=\"%s\"", persist_path, err);
        return -1;
    }
    remove_stale_tmp(persist_path);
    kv_txn *t = calloc(1, sizeof *t);
    if (!t)
        return -1;
    txn_init(t, lane_id);
    persist_report rep;
    bool missing = false;
    int64_t started = clock_mono_ms();
    int rc = persist_load(persist_path, t, &rep, &missing);
    txn_destroy(t);
    free(t);
    if (rc != PERSIST_OK) {
        shm_log(LOG_LVL_ERROR, "cannot load the snapshot, refusing to start; the file is left untouched",
                  "path=\"%s\" error=\"%s\" offset=%llu section=%lld detail=\"%s\"", persist_path,
                  persist_error_name(rc), (unsigned long long)rep.offset, (long long)rep.section,
                  rep.message);
        return -1;
    }
    if (missing) {
        shm_log(LOG_LVL_INFO, "no snapshot yet: starting empty", "path=\"%s\"", persist_path);
    } else {
        shm_log(LOG_LVL_INFO, "snapshot loaded", "path=\"%s\" keys=%llu expired_dropped=%llu sections=%llu bytes=%llu "
                 "created_ms=%lld duration_ms=%lld", persist_path, (unsigned long long)rep.keys,
                 (unsigned long long)rep.expired, (unsigned long long)rep.sections,
                 (unsigned long long)rep.bytes, (long long)rep.created_ms, (long long)(clock_mono_ms() - started));
        if (store_used_memory() > arena_hdr()->memory_limit)
            shm_log(LOG_LVL_WARN, "the loaded data exceeds the memory limit: writes will be refused or evict",
                     "used=%llu limit=%llu", (unsigned long long)store_used_memory(),
                     (unsigned long long)arena_hdr()->memory_limit);
    }
    shared->loaded_keys = rep.keys;
    shared->loaded_expired = rep.expired;
    shared->version_base = versions_sum();   /* the loaded data is not a change */
    return 0;
}

/* ---- the housekeeper's side -------------------------------------------------------------- */

void persist_housekeeper_start(void)
{
    next_due_ms = clock_mono_ms() + (int64_t)persist_interval_s * 1000;
    if (!shared || !__atomic_load_n(&shared->in_progress, __ATOMIC_ACQUIRE))
        return;
    /* the previous housekeeper died while writing: that attempt failed (its .tmp file
     * is truncated by the next attempt); the SAVE callers it covered get the error */
    snprintf(shared->last_error, sizeof shared->last_error, "the housekeeper died during the snapshot");
    __atomic_store_n(&shared->served, __atomic_load_n(&shared->serving, __ATOMIC_RELAXED), __ATOMIC_RELEASE);
    __atomic_store_n(&shared->last_ok, 0, __ATOMIC_RELAXED);
    __atomic_add_fetch(&shared->saves_failed, 1, __ATOMIC_RELAXED);
    __atomic_store_n(&shared->current_start_ms, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&shared->in_progress, 0, __ATOMIC_RELEASE);
    futex_bump_wake(&shared->done_word);
}

/* Writes one snapshot and publishes the outcome; `reason` is for the log. Returns the
 * persist_write result. */
static int run_snapshot(kv_txn *t, const volatile sig_atomic_t *cancel, const char *reason)
{
    uint64_t ticket = __atomic_load_n(&shared->requested, __ATOMIC_ACQUIRE);
    uint64_t version_start = versions_sum();
    int64_t start_wall = clock_wall_ms(), start_mono = clock_mono_ms();
    __atomic_store_n(&shared->current_start_ms, start_wall, __ATOMIC_RELAXED);
    __atomic_store_n(&shared->serving, ticket, __ATOMIC_RELAXED);
    __atomic_store_n(&shared->in_progress, 1, __ATOMIC_RELEASE);
    persist_report rep;
    int rc = persist_write(persist_path, t, cancel, &rep);
    int64_t took = clock_mono_ms() - start_mono;
    if (rc == PERSIST_OK) {
        __atomic_store_n(&shared->version_base, version_start, __ATOMIC_RELAXED);
        __atomic_store_n(&shared->last_save_ms, clock_wall_ms(), __ATOMIC_RELAXED);
        __atomic_store_n(&shared->last_duration_ms, took, __ATOMIC_RELAXED);
        __atomic_store_n(&shared->last_bytes, rep.bytes, __ATOMIC_RELAXED);
        __atomic_store_n(&shared->last_keys, rep.keys, __ATOMIC_RELAXED);
        __atomic_add_fetch(&shared->saves_ok, 1, __ATOMIC_RELAXED);
        __atomic_store_n(&shared->last_ok, 1, __ATOMIC_RELAXED);
        __atomic_store_n(&shared->served_ok, ticket, __ATOMIC_RELAXED);
        shm_log(LOG_LVL_INFO, "snapshot written", "path=\"%s\" reason=%s keys=%llu bytes=%llu sections=%llu duration_ms=%lld "
                 "max_lock_hold_us=%llu", persist_path, reason, (unsigned long long)rep.keys,
                 (unsigned long long)rep.bytes, (unsigned long long)rep.sections, (long long)took,
                 (unsigned long long)rep.max_lock_hold_us);
    } else if (rc != PERSIST_E_CANCELLED) {
        snprintf(shared->last_error, sizeof shared->last_error, "%s", rep.message);
        __atomic_store_n(&shared->last_ok, 0, __ATOMIC_RELAXED);
        __atomic_add_fetch(&shared->saves_failed, 1, __ATOMIC_RELAXED);
        shm_log(LOG_LVL_ERROR, "snapshot failed", "path=\"%s\" reason=%s error=\"%s\" detail=\"%s\"", persist_path,
                  reason, persist_error_name(rc), rep.message);
    }
    if (rc != PERSIST_E_CANCELLED)
        __atomic_store_n(&shared->served, ticket, __ATOMIC_RELEASE);
    __atomic_store_n(&shared->current_start_ms, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&shared->in_progress, 0, __ATOMIC_RELEASE);
    futex_bump_wake(&shared->done_word);
    int64_t interval_ms = (int64_t)persist_interval_s * 1000;
    if (rc != PERSIST_OK && rc != PERSIST_E_CANCELLED && interval_ms > SAVE_RETRY_MS)
        interval_ms = SAVE_RETRY_MS;
    next_due_ms = start_mono + interval_ms;
    return rc;
}

/* Runs a snapshot when one is requested, or due with changes (or after a failure). */
void persist_housekeeper_tick(kv_txn *t, const volatile sig_atomic_t *cancel)
{
    if (!persist_enabled() || (cancel && *cancel))
        return;
    uint64_t requested = __atomic_load_n(&shared->requested, __ATOMIC_ACQUIRE);
    if (requested > __atomic_load_n(&shared->served, __ATOMIC_ACQUIRE)) {
        run_snapshot(t, cancel, "requested");
        return;
    }
    if (clock_mono_ms() < next_due_ms)
        return;
    persist_stats st;
    persist_stats_read(&st);
    if (st.changes == 0 && st.last_ok) {
        next_due_ms = clock_mono_ms() + (int64_t)persist_interval_s * 1000;   /* nothing new */
        return;
    }
    run_snapshot(t, cancel, "interval");
}

/* The shutdown snapshot: never cancelled; true when written or persistence is off. */
bool persist_housekeeper_final(kv_txn *t)
{
    if (!persist_enabled())
        return true;
    return run_snapshot(t, NULL, "shutdown") == PERSIST_OK;
}

/* The housekeeper's pause: a futex wait a save request (or a signal) cuts short. */
void persist_housekeeper_sleep(unsigned ms)
{
    if (!persist_enabled()) {
        struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };
        nanosleep(&ts, NULL);
        return;
    }
    uint32_t seen = __atomic_load_n(&shared->wake_word, __ATOMIC_ACQUIRE);
    if (__atomic_load_n(&shared->requested, __ATOMIC_ACQUIRE) > __atomic_load_n(&shared->served, __ATOMIC_ACQUIRE))
        return;
    futex_wait_ms(&shared->wake_word, seen, ms);
}

/* ---- the workers' side ----------------------------------------------------------------- */

uint64_t persist_request(void)
{
    if (!shared)
        return 0;
    uint64_t ticket = __atomic_add_fetch(&shared->requested, 1, __ATOMIC_ACQ_REL);
    futex_bump_wake(&shared->wake_word);
    return ticket;
}

/* Polls (100 ms futex waits) until a snapshot covered ticket: 1 ok, 0 failed, -1 stopping. */
int persist_wait(uint64_t ticket, char *err, size_t errlen)
{
    if (!shared)
        return -1;
    for (;;) {
        uint32_t seen = __atomic_load_n(&shared->done_word, __ATOMIC_ACQUIRE);
        if (__atomic_load_n(&shared->served, __ATOMIC_ACQUIRE) >= ticket) {
            if (__atomic_load_n(&shared->served_ok, __ATOMIC_ACQUIRE) >= ticket)
                return 1;
            snprintf(err, errlen, "%s", shared->last_error);
            return 0;
        }
        if (__atomic_load_n(&arena_hdr()->shutting_down, __ATOMIC_ACQUIRE))
            return -1;
        futex_wait_ms(&shared->done_word, seen, 100);
    }
}
