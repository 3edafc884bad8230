/* arena.h - the shared-memory arena: layout, offsets and the process-wide mapping.
 *
 * Every process (supervisor, workers, housekeeper) maps the same memfd. Nothing in the
 * arena stores a raw pointer: references are byte offsets from the mapping base (aoff)
 * or, where 4 bytes must do, "refs" = offset / 8 (so the arena is at most 32 GiB).
 * Locks are robust, process-shared pthread mutexes; lock ids 0..shard_count-1 are the
 * shards, then come the function registry and the page heap (lock_id_functions,
 * lock_id_heap). See DESIGN.md and README "Architecture". */
#ifndef KVNS_ARENA_H
#define KVNS_ARENA_H

#include <pthread.h>

#include "kvns/errstats.h"
#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>

typedef uint64_t aoff;                 /* arena byte offset, 0 = none */
typedef uint32_t aref;                 /* arena offset / 8, 0 = none */

#define ARENA_MAGIC      0x31534e564b4b5641ULL   /* "AVKKVNS1" */
#define ARENA_VERSION    1
#define ARENA_MAX_BYTES  (32ULL << 30)           /* aref addresses 8-byte units */
#define ARENA_PAGE       4096ULL
#define NS_MAX           4096                    /* namespace id capacity, id 0 = "default" */
#define NS_DEFAULT_LIMIT 1024                    /* KVNS_MAX_NAMESPACES default */
#define NS_NAMES_BYTES   (256 * 1024)
#define SLAB_CLASSES     72
#define SLAB_MAX         16384                   /* larger objects get page runs */
#define SLAB_CHUNK_PAGES 16                      /* 64 KiB slab chunks */
#define HEAP_FREE_LISTS  257                     /* runs of 1..256 pages, then one list */
/* metrics: bytes of each lane's latency series table (metrics.c static-asserts its fit;
 * pages are committed only as series appear) */
#define METRICS_AREA_BYTES (288u * 1024)
/* slowlog: bytes of each lane's slow-log ring and latency-monitor series, embedded in
 * the lane (slowlog.c static-asserts its fit) */
#define SLOWLOG_LANE_BYTES (140u * 1024)

enum lane_state { LANE_IDLE = 0, LANE_ACTIVE = 1, LANE_COMMITTED = 2 };

/* One per thread that may mutate the store: workers' threads, the housekeeper and
 * the supervisor's sweep helper. Single writer (its owner); read by recovery. */
typedef struct lane {
    uint32_t state;            /* enum lane_state; the store of COMMITTED is the commit point */
    int32_t  pid;              /* owner process, for diagnostics */
    uint64_t txn;              /* lane-local transaction counter */
    uint64_t undo_used;        /* logical bytes of undo entries (over every segment),
                                  published with release order */
    uint64_t undo_cap;         /* bytes of the lane's own undo area: the log's first segment */
    aoff     undo_off;         /* the lane's own undo area */
    aoff     undo_next;        /* the log's first heap segment (txn.c), 0 = none */
    aoff     held_off;         /* bitmap of lock ids this lane holds or is acquiring */
    uint64_t held_words;
    uint64_t stat[16];         /* enum lane_stat counters, single writer, relaxed */
    uint64_t kill_seq;         /* bumped by CLIENT KILL of one of this lane's clients */
    aoff     metrics_off;      /* metrics: this lane's latency series table (metrics.c) */
    /* a script (EVAL, FCALL) this lane runs, for BUSY replies and SCRIPT KILL */
    int64_t  script_since_ms;  /* clock_mono_ms it started, 0 = none (atomic) */
    uint32_t script_wrote;     /* it called a write command: it cannot be killed */
    uint32_t script_kill;      /* SCRIPT/FUNCTION KILL asked it to stop (atomic) */
    uint32_t script_is_function;  /* FCALL rather than EVAL */
    uint32_t script_pad;
    /* FCALL: the function's name and command line for FUNCTION STATS, written before
     * script_since_ms is set (function_lua.c's format) */
    char     script_desc[256];
    /* slowlog: this lane's slow-log ring and latency samples (slowlog.c); kept last */
    uint64_t slowlog_area[SLOWLOG_LANE_BYTES / 8];
} lane;

/* Counters each serving thread keeps in its lane (summed for INFO and metrics). */
enum lane_stat {
    STAT_CONNECTED = 0,        /* current connections (gauge) */
    STAT_CONNECTIONS,          /* connections accepted */
    STAT_COMMANDS,             /* commands executed */
    STAT_NET_IN,
    STAT_NET_OUT,
    STAT_REJECTED,             /* connections refused (max clients) */
    STAT_ERRORS,               /* error replies */
    STAT_OOM,                  /* commands refused for memory */
    STAT_LOCK_WAITS,           /* commands that found a shard busy and were parked */
    STAT_LOCK_WAIT_US,         /* microseconds parked commands waited, in all */
    STAT_ACCEPT_ERRORS,        /* accept() failures for lack of fds/memory (backed off) */
    STAT_COUNT
};

/* Adds delta to counter k of lane ln. */
static inline void lane_stat_add(lane *ln, enum lane_stat k, int64_t delta)
{
    __atomic_store_n(&ln->stat[k], ln->stat[k] + (uint64_t)delta, __ATOMIC_RELAXED);
}
/* Sum of counter k over every lane. */
uint64_t lane_stat_sum(enum lane_stat k);

/* The keyspace statistics of every shard summed (INFO stats, /metrics). */
typedef struct shard_stat_totals {
    uint64_t hits, misses, expired, evicted;
} shard_stat_totals;
shard_stat_totals shard_stats_sum(void);
/* Zeroes every shard's keyspace statistics (CONFIG RESETSTAT). */
void shard_stats_reset(void);

enum ns_state { NS_FREE = 0, NS_LIVE = 1 };

/* Per-namespace registry entry (namespace.c). Ids below ns_count have been used; the
 * release store of state LIVE publishes a namespace, the store of FREE reclaims it. */
typedef struct ns_slot {
    uint32_t len;
    uint32_t name_off;         /* into the names region */
    uint32_t cap;              /* bytes of the names region this slot owns (>= len) */
    uint32_t state;            /* enum ns_state */
    uint32_t gen;              /* bumped at each reclaim: per-lane metric series of an
                                  earlier life of the id no longer count */
    uint32_t pad;
    int64_t  freed_mono_ms;    /* CLOCK_MONOTONIC of the reclaim: reuse waits NS_REUSE_DELAY_MS */
} ns_slot;

typedef struct arena_header {
    uint64_t magic;
    uint32_t version;
    uint32_t mutex_size;       /* layout fingerprint: sizeof(pthread_mutex_t) */
    uint64_t size;
    uint64_t hash_seed;
    uint64_t run_id;
    uint32_t shard_count;
    uint32_t shard_bits;
    uint32_t lane_count;
    uint32_t pad0;
    aoff     shards_off;       /* shard_count * sizeof(struct shard) */
    aoff     lanes_off;        /* lane_count * sizeof(lane) */
    aoff     metrics_off;      /* metrics: lane_count * METRICS_AREA_BYTES, lane i's at i */
    aoff     clients_off;      /* client registry: clients_cap client_slot entries */
    uint32_t clients_cap;
    uint32_t pad_clients;
    aoff     ns_bytes_off;     /* shard_count * ns_limit uint64: bytes per (shard, ns) */
    aoff     ns_keys_off;      /* shard_count * ns_limit uint64: keys per (shard, ns) */
    aoff     heap_start;
    aoff     heap_end;
    uint64_t memory_limit;     /* live setting (CONFIG SET maxmemory) */
    uint64_t watchers;         /* clients with WATCHed keys (watch.c); overcounts (never
                                  under) after a worker died: writes then just bump */
    uint32_t evict_policy;
    uint32_t pad1;
    double   evict_threshold;
    int64_t  start_time_ms;

    /* the page heap (lock id = shard_count) */
    pthread_mutex_t heap_lock;
    aoff     heap_bump;
    aoff     heap_free[HEAP_FREE_LISTS];
    uint64_t heap_pages_used;
    uint64_t undo_chains;      /* atomic: lanes whose undo log has heap segments (txn.c);
                                  while non-zero the heap checks its candidates */

    /* namespaces */
    pthread_mutex_t ns_lock;
    uint32_t ns_count;          /* ids ever used (high-water mark), release order */
    uint32_t ns_names_used;
    uint32_t ns_limit;          /* KVNS_MAX_NAMESPACES: ids are below it (<= NS_MAX) */
    uint32_t ns_version;        /* bumped by every registration and reclaim: caches rebuild */
    ns_slot  ns[NS_MAX];
    aoff     ns_names_off;

    /* supervisor-written, read by everyone */
    volatile int32_t shutting_down;
    uint32_t workers;
    uint32_t threads;
    int32_t  no_final_snapshot; /* atomic: the housekeeper stops without the final snapshot
                                   (SHUTDOWN NOSAVE, or a stop that is not clean) */
    uint64_t worker_restarts;
    uint64_t next_client_id;    /* atomic: client ids are unique across workers */
    uint64_t ns_evictions[NS_MAX]; /* atomic: keys evicted per namespace */

    /* ---- slowlog: slow log and latency monitor (slowlog.h) ---- */
    /* CONFIG SET values. The arena starts zeroed, so a *_set flag of 0 means "never
     * set": the Redis default applies (slowlog-log-slower-than 10000, max-len 128). */
    int64_t  slowlog_slower_than_us;
    uint64_t slowlog_max_len;
    uint32_t slowlog_slower_than_set;
    uint32_t slowlog_max_len_set;
    int64_t  latency_threshold_ms;     /* latency-monitor-threshold, 0 = off (default) */
    uint64_t slowlog_next_id;          /* atomic: id of the next slow-log entry */
    uint64_t slowlog_first_id;         /* atomic: entries below it were reset or trimmed */
    uint64_t latency_generation[2];    /* atomic, per latency event: bumped by LATENCY RESET */
    /* ---- end slowlog ---- */

    /* ---- functions: the FUNCTION library registry (function_store.h) ---- */
    pthread_mutex_t fn_lock;           /* lock_id_functions(): changes and readers' copies */
    aoff     fn_blob;                  /* the encoded registry (a RUN_META run), 0 = empty */
    uint64_t fn_blob_len;
    uint64_t fn_gen;                   /* bumped by every change; read without the lock */
    /* ---- end functions ---- */
    /* the EVAL script cache (scripts.h) */
    pthread_mutex_t scripts_lock;
    aoff     scripts_off;       /* SCRIPTS_AREA_BYTES of records */
    uint64_t scripts_gen;       /* atomic: bumped by SCRIPT FLUSH before it empties */
    uint64_t scripts_end;       /* atomic: bytes of complete records (release order) */
    uint64_t scripts_count;     /* atomic */
    int64_t  busy_reply_threshold_ms;  /* busy-reply-threshold (lua-time-limit) */

    /* INFO errorstats (errstats.h) */
    pthread_mutex_t errstats_lock;
    uint32_t errstats_used;     /* entries registered (release order) */
    uint32_t errstats_pad;
    errstat_entry errstats[ERRSTATS_MAX];
} arena_header;

extern char *arena_base;               /* this process's mapping */

static inline void *arena_ptr(aoff off) { return arena_base + off; }
static inline aoff arena_off(const void *p) { return p ? (aoff)((const char *)p - arena_base) : 0; }
static inline void *ref_ptr(aref r) { return arena_base + ((uint64_t)r << 3); }
static inline aref ptr_ref(const void *p) { return p ? (aref)(((const char *)p - arena_base) >> 3) : 0; }
static inline arena_header *arena_hdr(void) { return (arena_header *)arena_base; }
/* Lock ids: 0..shard_count-1 the shards, then the function registry, then the heap
 * (taken last: every allocation may need it). */
static inline uint32_t lock_id_functions(void) { return arena_hdr()->shard_count; }
static inline uint32_t lock_id_heap(void) { return arena_hdr()->shard_count + 1; }

typedef struct arena_params {
    uint64_t memory_limit;
    uint32_t shard_count;      /* power of two */
    uint32_t lane_count;
    uint64_t undo_bytes;       /* per lane */
    uint32_t max_clients;      /* client registry capacity */
    uint32_t max_namespaces;   /* KVNS_MAX_NAMESPACES, 1..NS_MAX; 0 = NS_DEFAULT_LIMIT */
} arena_params;

/* Creates a sealed memfd large enough for the params, maps it MAP_SHARED, lays out and
 * initialises everything (robust mutexes included). Returns the fd, or -1 with errno. */
int arena_create(const arena_params *p, int *fd_out);
/* Size the arena needs for the params (memory limit plus metadata and slack). */
uint64_t arena_size_for(const arena_params *p);
/* Maps an existing arena fd (used by tests and tools); validates magic and fingerprint. */
int arena_attach(int fd);
/* Lane i and shard i: on the hot path of every command, hence inline. */
static inline lane *arena_lane(uint32_t i)
{
    return (lane *)(arena_base + arena_hdr()->lanes_off) + i;
}
static inline struct shard *arena_shard_at(uint32_t i, size_t shard_size)
{
    return (struct shard *)(arena_base + arena_hdr()->shards_off + (uint64_t)i * shard_size);
}
struct shard *arena_shard(uint32_t i);
/* Lane i's latency series table (METRICS_AREA_BYTES, laid out by arena_create; its
 * format is src/metrics.c's). */
static inline void *arena_lane_metrics(uint32_t i)
{
    return arena_base + arena_lane(i)->metrics_off;
}

#endif
