/* slowlog.h - the slow log (SLOWLOG) and the latency monitor (LATENCY LATEST/HISTORY/
 * RESET/DOCTOR), shared by every worker process and thread through the arena.
 *
 * Writers: each serving thread records only into its own lane's area (lane.slowlog_area,
 * SLOWLOG_LANE_BYTES): a ring of SLOWLOG_LANE_ENTRIES slow-log entries whose strings
 * live in a byte ring, and one series of LATENCY_SAMPLES samples per latency event.
 * One writer per lane, so recording takes no lock; readers in any process copy entries
 * under per-slot sequence counters (seqlocks) and drop anything torn or overwritten.
 * Entry ids come from one atomic counter in the arena header, so SLOWLOG GET merges
 * every lane's ring by id, newest first.
 *
 * SLOWLOG RESET and the slowlog-max-len trim raise a watermark (entries with a lower
 * id are hidden); LATENCY RESET bumps the event's generation (samples of an older
 * generation are hidden, and their lane drops them on its next sample). Nobody ever
 * writes into another lane's area.
 *
 * Redis 7 is the model: the thresholds, the >= comparisons, the entry shape [id, unix
 * time, microseconds, [args], addr, name], the argument truncation (32 arguments of at
 * most 128 bytes, "... (N more bytes)", "... (N more arguments)"), the redaction of
 * AUTH / HELLO AUTH / sensitive CONFIG SET values, the latency events "command" and
 * "fast-command" (CMD_FAST commands) and their 160 per-second samples.
 * Limits of the per-lane design: a lane keeps its newest 128 entries (fewer when their
 * strings fill its byte ring), so SLOWLOG GET shows at most 128 entries per lane
 * whatever slowlog-max-len says.
 *
 * This is shm/'s half (shm/slowlog.c): the rings and the settings. What reads a
 * client or a command (the dispatcher's hook, the redaction of secrets) and the
 * LATENCY DOCTOR / GRAPH texts are src/'s: latency.h. */
#ifndef KVNS_SLOWLOG_H
#define KVNS_SLOWLOG_H

#include "kvns/arena.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SLOWLOG_LANE_ENTRIES       128     /* slow-log entries each lane keeps */
#define SLOWLOG_MAX_ARGC           32      /* Redis's SLOWLOG_ENTRY_MAX_ARGC */
#define SLOWLOG_MAX_ARG_BYTES      128     /* Redis's SLOWLOG_ENTRY_MAX_STRING */
#define SLOWLOG_MAX_NAME_BYTES     256     /* a longer client name is cut */
#define SLOWLOG_DEFAULT_SLOWER_THAN_US 10000
#define SLOWLOG_DEFAULT_MAX_LEN    128
#define LATENCY_SAMPLES            160     /* Redis's LATENCY_TS_LEN */

/* ---- settings (CONFIG GET / SET) -------------------------------------------------- */

/* slowlog-log-slower-than in microseconds (-1: the slow log is off). */
static inline int64_t slowlog_slower_than_us(void)
{
    const arena_header *h = arena_hdr();
    if (!__atomic_load_n(&h->slowlog_slower_than_set, __ATOMIC_ACQUIRE))
        return SLOWLOG_DEFAULT_SLOWER_THAN_US;
    return __atomic_load_n(&h->slowlog_slower_than_us, __ATOMIC_RELAXED);
}

/* slowlog-max-len. */
static inline uint64_t slowlog_max_len(void)
{
    const arena_header *h = arena_hdr();
    if (!__atomic_load_n(&h->slowlog_max_len_set, __ATOMIC_ACQUIRE))
        return SLOWLOG_DEFAULT_MAX_LEN;
    return __atomic_load_n(&h->slowlog_max_len, __ATOMIC_RELAXED);
}

/* latency-monitor-threshold in milliseconds (0: the latency monitor is off). */
static inline int64_t latency_threshold_ms(void)
{
    return __atomic_load_n(&arena_hdr()->latency_threshold_ms, __ATOMIC_RELAXED);
}

/* Store a CONFIG SET value in the arena header (every worker sees it at once). */
void slowlog_set_slower_than_us(int64_t us);
void slowlog_set_max_len(uint64_t n);
void latency_set_threshold_ms(int64_t ms);

/* ---- recording (the dispatcher's hook is latency.h's slowlog_observe) ------------------- */

/* True when a command that ran elapsed_ns must be recorded by the slow log or the
 * latency monitor (Redis's tests: duration >= threshold). */
static inline bool slowlog_is_slow(uint64_t elapsed_ns)
{
    int64_t us = (int64_t)(elapsed_ns / 1000);
    int64_t slower_than = slowlog_slower_than_us();
    if (slower_than >= 0 && us >= slower_than)
        return true;
    int64_t latency_ms = latency_threshold_ms();
    return latency_ms > 0 && us / 1000 >= latency_ms;
}

/* Adds one entry to lane_id's ring (nothing when slowlog-max-len is 0; the threshold
 * test is the caller's). argv holds the first min(argc, SLOWLOG_MAX_ARGC) arguments of
 * a command of argc arguments; they are cut as Redis cuts them. name may be NULL. */
typedef struct slowlog_arg {
    const char *ptr;
    size_t      len;
} slowlog_arg;
void slowlog_push(uint32_t lane_id, const slowlog_arg *argv, size_t argc, const char *addr,
                  const char *name, uint64_t duration_us);

/* ---- reading the slow log (SLOWLOG GET / LEN / RESET) ----------------------------------- */

typedef struct slowlog_entry {
    uint64_t id;
    int64_t  unix_time;
    uint64_t duration_us;
    uint32_t argc;          /* strings: argc arguments, then the address, then the name */
    uint32_t pad;
    size_t   data_off;      /* the entry's packed strings in the list's data */
    size_t   data_len;
} slowlog_entry;

typedef struct slowlog_list {
    slowlog_entry *entries; /* newest (highest id) first */
    size_t         count, cap;
    char          *data;
    size_t         data_len, data_cap;
} slowlog_list;

/* Copies every visible entry of every lane into out (initialised by the call), newest
 * first. Free with slowlog_list_free. */
void slowlog_collect(slowlog_list *out);
/* Frees a list filled by slowlog_collect. */
void slowlog_list_free(slowlog_list *l);
/* String i of entry e: 0..argc-1 its arguments, argc the client address, argc + 1 the
 * client name. Sets *len. */
const char *slowlog_entry_string(const slowlog_list *l, const slowlog_entry *e, uint32_t i,
                                 size_t *len);
/* Number of visible entries (SLOWLOG LEN). */
uint64_t slowlog_length(void);
/* Hides every entry recorded so far (SLOWLOG RESET). */
void slowlog_reset(void);
/* Keeps only the newest slowlog-max-len entries while the slow log is on. Redis trims
 * after every command; kvns trims after each entry it adds and after each CONFIG SET
 * (the only ways the log can outgrow its limit), which gives the same log. */
void slowlog_trim(void);

/* ---- the latency monitor --------------------------------------------------------------- */

enum latency_event { LATENCY_EVENT_COMMAND = 0, LATENCY_EVENT_FAST_COMMAND = 1, LATENCY_EVENTS = 2 };

typedef struct latency_sample {
    int64_t  unix_time;     /* 0: empty */
    uint64_t latency_ms;
} latency_sample;

/* One event merged over every lane: samples oldest first, one per second (the worst
 * of that second), the newest LATENCY_SAMPLES of them. */
typedef struct latency_history {
    uint32_t       count;
    uint64_t       max_ms;  /* all-time high since the last reset */
    latency_sample samples[LATENCY_SAMPLES];
} latency_history;

/* Event name ("command", "fast-command"). */
const char *latency_event_name(enum latency_event e);
/* The event called name (case-sensitive, like Redis's event table), or -1. */
int latency_event_find(const char *name, size_t len);
/* Adds a sample of latency_ms to lane_id's series of event (threshold test is the
 * caller's). */
void latency_add_sample(uint32_t lane_id, enum latency_event e, uint64_t latency_ms);
/* Merges the event's samples of every lane into out. False when it has none. */
bool latency_collect(enum latency_event e, latency_history *out);
/* Forgets the event's samples; returns 1 when it had any, else 0 (LATENCY RESET). */
int latency_reset(enum latency_event e);

#endif
