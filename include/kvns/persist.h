/* persist.h - snapshot persistence: the file format, the writer, the loader and the
 * state shared by the housekeeper (which writes snapshots) and the workers (SAVE,
 * BGSAVE, LASTSAVE, INFO persistence) and the metrics endpoint.
 *
 * When KVNS_PERSIST_PATH is set, the supervisor loads PATH into the fresh arena before
 * it forks anything (persist_startup), the housekeeper writes a snapshot every
 * KVNS_PERSIST_INTERVAL seconds when something changed, on SAVE/BGSAVE, and a final one
 * on SIGTERM/SIGINT after the supervisor has stopped every worker.
 *
 * ---- Writing ------------------------------------------------------------------------
 * Parent directories are created (mode 0700). The snapshot is written to PATH.tmp
 * (mode 0600), fsynced, renamed over PATH, and PATH's directory is fsynced: PATH is
 * always either the previous complete snapshot or the new complete one. A PATH.tmp
 * (regular file) that a killed writer left behind is removed at start, before loading. Shards are
 * taken one at a time: lock a shard, serialize a bounded batch of it (at most
 * SNAP_BATCH_BUCKETS buckets of its table or about SNAP_BATCH_BYTES of records, a
 * single key always whole, at most ~SNAP_BATCH_MAX_US of work) into process memory,
 * unlock, write the batch as one section, continue with the next shard (round robin,
 * so a client waiting for the shard just released gets it before the writer comes
 * back). Clients are served between batches, so a snapshot is NOT a
 * point-in-time image of the whole store: each batch is consistent, every key is
 * written as it was when its batch was taken, and every write acknowledged before the
 * snapshot started is included (or superseded by a later write). Because the table
 * may be resized between batches (SCAN's cursor guarantee), a key can appear twice; the
 * later record is the newer one and the loader keeps the last. Expired keys are not
 * written. A huge collection is serialized under one lock hold (O(its size)).
 *
 * ---- Loading --------------------------------------------------------------------------
 * The whole file is verified first (header, every section's checksums, the footer and
 * every record's structure); nothing is loaded unless the file is entirely valid. A
 * missing file means an empty store. A truncated or corrupt file, a wrong magic or an
 * unsupported version stops kvns with exit code 2 (EXIT_CONFIG: systemd's
 * RestartPreventExitStatus=2, a fatal error a restart cannot fix) and a log line naming
 * the problem, the byte offset and the section index; the file is left untouched and no
 * snapshot is written by that process. Keys whose TTL has passed are dropped. Records
 * are inserted in bounded transactions (a big collection over several) with the
 * supervisor's sweep lane.
 *
 * ---- File format, version 1 (all integers little-endian) ------------------------------
 *   Header, 40 bytes:
 *     0  magic "KVNSSNAP" (8 bytes)
 *     8  u32 format version (1)
 *    12  u32 flags (0)
 *    16  i64 creation time, unix milliseconds
 *    24  u64 number of sections
 *    32  u32 shard count of the writer (informational)
 *    36  u32 CRC32C of bytes 0..35
 *   Sections, numbered 0, 1, 2...; each is a 32-byte header then the payload:
 *     0  tag "SECT"
 *     4  u32 section index
 *     8  u32 shard the records came from (informational)
 *    12  u32 number of records in the payload
 *    16  u64 payload length in bytes
 *    24  u32 CRC32C of the payload
 *    28  u32 CRC32C of bytes 0..27 of this section header
 *   Footer, 32 bytes, then end of file:
 *     0  tag "KEND"
 *     4  u32 flags (0)
 *     8  u64 number of sections (must equal the header's)
 *    16  u64 number of records in all sections
 *    24  u32 CRC32C of every byte from offset 40 to the footer (all sections)
 *    28  u32 CRC32C of bytes 0..27 of the footer
 *   Record (one key, or the function libraries):
 *     u8  type: 0 string, 1 list, 2 hash, 3 set, 4 sorted set, 5 function libraries
 *     u8  flags: bit 0 = an expiry follows; other bits 0
 *     u16 reserved (0)
 *     u32 hit counter (OBJECT FREQ, lru/mru eviction)
 *     [i64 expiry, unix milliseconds]          when flags bit 0
 *     u32 key length, key bytes                the canonical key: "ns/local", or a bare
 *                                              key for the default namespace
 *     value, by type:
 *       string      u32 length, bytes
 *       list        u64 count, count x (u32 length, bytes)            head to tail
 *       hash        u64 count, count x (u32 length, field, u32 length, value)
 *       set         u64 count, count x (u32 length, member)
 *       sorted set  u64 count, count x (f64 score (IEEE 754 binary64), u32 length, member)
 *                   in ascending (score, member) order, no duplicates, no NaN
 *   The function libraries (FUNCTION LOAD's registry) are one type-5 record, in a
 *   section of its own before the shards' (shard field 0xffffffff), written only when
 *   there is a library: flags 0, hits 0, an empty key, then u32 length and the
 *   registry's encoding (function_store.c: every library's name, engine, code and its
 *   functions' names, descriptions and flags). The loader decodes and checks it in the
 *   verifying pass and replaces the registry with it; a snapshot without one (older
 *   ones) leaves no library.
 *   Collections are never empty; hash fields, set members and sorted-set members are
 *   unique within their record (the loader refuses a repeat; list elements may repeat).
 *   CRC32C is the Castagnoli polynomial (iSCSI, ext4), as
 *   computed by crc32c_update(0, ...). Readers refuse versions they do not know. */
#ifndef KVNS_PERSIST_H
#define KVNS_PERSIST_H

#include "kvns/config.h"
#include "kvns/txn.h"
#include "kvns/crc32c.h"  /* crc32c_update: every record and section is checksummed */

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#define SNAP_MAGIC          "KVNSSNAP"
#define SNAP_VERSION        1u
#define SNAP_HEADER_BYTES   40u
#define SNAP_SECTION_BYTES  32u
#define SNAP_FOOTER_BYTES   32u
#define SNAP_SECTION_TAG    "SECT"
#define SNAP_FOOTER_TAG     "KEND"
#define SNAP_REC_EXPIRE     1u
#define SNAP_TYPE_FUNCTIONS 5u         /* the record of the function libraries */
#define SNAP_SHARD_FUNCTIONS 0xffffffffu  /* its section's shard field */
/* Bounds of one batch (one lock hold, one section): buckets, bytes of records, and
 * microseconds of work (checked every 16 buckets). */
#define SNAP_BATCH_BUCKETS  256u
#define SNAP_BATCH_BYTES    (1u << 20)
#define SNAP_BATCH_MAX_US   200u


/* ---- results ---------------------------------------------------------------------------- */
enum persist_error {
    PERSIST_OK = 0,
    PERSIST_E_IO = 1,          /* open/read/write/fsync/rename failed (errno in message) */
    PERSIST_E_TRUNCATED = 2,   /* the file ends before the structure it announces */
    PERSIST_E_MAGIC = 3,       /* not a kvns snapshot */
    PERSIST_E_VERSION = 4,     /* a format version this kvns does not read */
    PERSIST_E_CRC = 5,         /* a checksum does not match: corrupt */
    PERSIST_E_FORMAT = 6,      /* checksums fine but the content is malformed */
    PERSIST_E_NOMEM = 7,       /* the data does not fit in the arena (memory limit) */
    PERSIST_E_CANCELLED = 8,   /* writing stopped by the caller's cancel flag */
};

/* What a load or a write reports. For load errors, offset is the byte offset of the
 * problem and section the index of the section it is in (-1: header or footer). */
typedef struct persist_report {
    int      error;            /* enum persist_error */
    char     message[256];
    uint64_t offset;
    int64_t  section;
    uint64_t keys;             /* written, or loaded */
    uint64_t expired;          /* load: records dropped because their TTL had passed */
    uint64_t sections;
    uint64_t bytes;            /* file size */
    uint64_t max_lock_hold_us; /* write: longest shard lock hold */
    int64_t  created_ms;       /* load: the file's creation time */
} persist_report;

/* Human name of an error kind ("truncated", "checksum mismatch", ...). */
const char *persist_error_name(int error);
/* Creates the missing parent directories of path with mode 0700 (mkdir -p of its
 * dirname). Returns 0, or -1 with a message in err. */
int persist_make_dirs(const char *path, char *err, size_t errlen);
/* Writes the name of path's temporary file (PATH.tmp) into out. Returns false when it
 * does not fit. */
bool persist_tmp_path(const char *path, char *out, size_t outlen);

/* ---- the writer (shm/snapshot_write.c) -------------------------------------------------- */
/* Writes a snapshot of the whole store to path (via path.tmp, see above) using t's
 * lane for the shard locks. cancel (may be NULL) is polled between batches: when it
 * becomes non-zero the temporary file is removed and PERSIST_E_CANCELLED returned.
 * Returns PERSIST_OK or an error with rep->message set; path is untouched on error. */
int persist_write(const char *path, kv_txn *t, const volatile sig_atomic_t *cancel,
                  persist_report *rep);

/* ---- the loader (shm/snapshot_load.c) ---------------------------------------------------- */
/* Verifies the snapshot at path completely, then loads it into the store through t
 * (any idle lane; the store is normally empty). A missing file is PERSIST_OK with
 * rep->keys = 0 and *missing set. The file is only read. Returns PERSIST_OK or an error
 * with rep->message, rep->offset and rep->section set. */
int persist_load(const char *path, kv_txn *t, persist_report *rep, bool *missing);
/* Verifies a snapshot without loading it (tests, tools). Same errors as persist_load. */
int persist_verify(const char *path, persist_report *rep);

/* ---- shared state and the service (shm/persist.c) --------------------------------------- */
/* Counters and flags every process reads: published by the housekeeper (and by the
 * supervisor before forking), in a MAP_SHARED mapping made by persist_init. */
typedef struct persist_stats {
    bool     enabled;
    bool     in_progress;
    bool     last_ok;          /* the last snapshot attempt succeeded (true before any) */
    int64_t  last_save_ms;     /* unix ms of the last success; the start time before one */
    int64_t  current_start_ms; /* unix ms the running snapshot started, 0 when none */
    int64_t  last_duration_ms; /* of the last successful snapshot, -1 before one */
    uint64_t saves_ok, saves_failed;
    uint64_t last_bytes;       /* size of the last successful snapshot */
    uint64_t last_keys;
    uint64_t changes;          /* committed writes since the last successful save started */
    uint64_t loaded_keys, loaded_expired;
    char     last_error[256];
} persist_stats;

/* Maps the shared state (idempotent; call before forking). start_ms is what LASTSAVE
 * answers before the first snapshot. Returns 0, or -1 when mmap failed. */
int persist_init(const kvns_config *cfg, int64_t start_ms);
/* True when KVNS_PERSIST_PATH is set (and persist_init ran). */
bool persist_enabled(void);
/* stop-writes-on-bgsave-error (KVNS_STOP_WRITES_ON_BGSAVE_ERROR, CONFIG SET): when on and
 * the last snapshot attempt failed, write commands (and PING, as in Redis 7) get
 * -MISCONF until a snapshot succeeds. */
bool persist_stop_writes(void);
void persist_set_stop_writes(bool on);
/* True when write commands must be refused now (see above). Lock-free. */
bool persist_writes_refused(void);
/* A consistent-enough copy of the shared state (zeros when persist_init never ran). */
void persist_stats_read(persist_stats *out);

/* Supervisor, before forking: persist_init, then (persistence on) creates the parent
 * directories and loads the snapshot through lane lane_id. Logs what it did. Returns 0,
 * or -1 after logging why the server must not start (exit with EXIT_CONFIG). */
int persist_startup(const kvns_config *cfg, uint32_t lane_id);

/* Housekeeper: called once at its start (clears a snapshot its dead predecessor left
 * in progress). */
void persist_housekeeper_start(void);
/* Housekeeper, every cycle: writes a snapshot when one was requested or the interval
 * has passed with changes. cancel: the housekeeper's stop flag. */
void persist_housekeeper_tick(kv_txn *t, const volatile sig_atomic_t *cancel);
/* Housekeeper, at stop: writes the final snapshot (persistence on). Returns true when
 * it was written (or persistence is off). */
bool persist_housekeeper_final(kv_txn *t);
/* Housekeeper: sleeps up to ms milliseconds, waking early when a save is requested or
 * a signal arrives. */
void persist_housekeeper_sleep(unsigned ms);

/* Workers: asks the housekeeper for a snapshot. Returns the request's ticket. */
uint64_t persist_request(void);
/* Workers: waits until the snapshot covering ticket finished (or the server stops).
 * Returns 1 when it succeeded, 0 when it failed (why in *err), -1 when the server is
 * stopping. */
int persist_wait(uint64_t ticket, char *err, size_t errlen);

#endif
