/* slowlog.c - the slow log and the latency monitor in the arena (see slowlog.h).
 *
 * Layout of a lane's area (lane.slowlog_area): the slow-log slots, the latency series
 * of each event, then a byte ring holding the entries' packed strings (each string is
 * a 4-byte length followed by its bytes: the arguments, the client address, the client
 * name). The owner thread is the only writer; any process may read.
 *
 * Seqlocks: a slot (and a latency series) has a counter that is odd while its owner
 * rewrites it. A reader copies the record between two loads of the counter and keeps
 * the copy only when both loads saw the same even value. The strings of an entry sit
 * in the byte ring at an absolute position; the writer publishes how far it reserved
 * before writing bytes, so a reader that finds the reservation more than one ring
 * length past an entry's position knows its copy of that entry's strings may be torn.
 * A writer killed mid-record leaves an odd counter: readers skip that record until the
 * lane's next writer rewrites it.
 *
 * The dispatcher's hook (which reads the client) and the text of LATENCY DOCTOR and
 * LATENCY GRAPH are src/'s (src/latency.c). */
#include "kvns/slowlog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SLOWLOG_RING_BYTES   (128u * 1024)       /* a lane's string ring */
#define SLOWLOG_SUFFIX_MAX   40                  /* "... (N more bytes)" with N < 2^64 */
#define SLOWLOG_ADDR_MAX     64
/* The packed strings of one entry at most: 32 cut arguments, the address, the name. */
#define SLOWLOG_ENTRY_MAX_BYTES                                                          \
    (SLOWLOG_MAX_ARGC * (4 + SLOWLOG_MAX_ARG_BYTES + SLOWLOG_SUFFIX_MAX) + 4 + SLOWLOG_ADDR_MAX + \
     4 + SLOWLOG_MAX_NAME_BYTES)

/* One slow-log entry of a lane's ring. */
typedef struct slowlog_slot {
    uint64_t seq;            /* seqlock: 0 never written, odd while being rewritten */
    uint64_t id;
    int64_t  unix_time;
    uint64_t duration_us;
    uint64_t data_pos;       /* absolute position of the packed strings in the byte ring */
    uint32_t data_len;
    uint32_t argc;           /* arguments packed (<= SLOWLOG_MAX_ARGC) */
} slowlog_slot;

/* A lane's samples of one latency event, as Redis's latencyTimeSeries. */
typedef struct latency_series {
    uint64_t seq;            /* seqlock, as slowlog_slot.seq */
    uint64_t generation;     /* the event's reset generation the samples belong to */
    uint32_t next;           /* index of the slot the next new second goes to */
    uint32_t pad;
    uint64_t max_ms;         /* worst sample since the series was (re)started */
    latency_sample samples[LATENCY_SAMPLES];
} latency_series;

/* The whole of lane.slowlog_area. */
typedef struct slowlog_lane {
    uint64_t written;        /* entries ever written (owner only: picks the next slot) */
    uint64_t bytes_reserved; /* absolute end of the last reservation in the byte ring */
    slowlog_slot   slot[SLOWLOG_LANE_ENTRIES];
    latency_series latency[LATENCY_EVENTS];
    char           bytes[SLOWLOG_RING_BYTES];
} slowlog_lane;

_Static_assert(sizeof(slowlog_lane) <= SLOWLOG_LANE_BYTES,
               "SLOWLOG_LANE_BYTES (arena.h) must hold a slowlog_lane");
_Static_assert(SLOWLOG_ENTRY_MAX_BYTES * 8 <= SLOWLOG_RING_BYTES,
               "a lane's byte ring holds at least 8 of the largest entries");

static const char *const latency_event_names[LATENCY_EVENTS] = { "command", "fast-command" };

/* The slow-log area of lane lane_id. */
static slowlog_lane *lane_area(uint32_t lane_id)
{
    return (slowlog_lane *)arena_lane(lane_id)->slowlog_area;
}

/* ---- seqlocks ------------------------------------------------------------------------ */

/* Makes a record's counter odd before its owner rewrites it; returns the even value to
 * store with seq_write_end. A counter left odd by a killed writer stays odd. */
static uint64_t seq_write_begin(uint64_t *seq)
{
    uint64_t odd = __atomic_load_n(seq, __ATOMIC_RELAXED) | 1;
    __atomic_store_n(seq, odd, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_RELEASE);     /* the odd value before any new byte */
    return odd + 1;
}

/* Publishes a rewritten record. */
static void seq_write_end(uint64_t *seq, uint64_t even)
{
    __atomic_store_n(seq, even, __ATOMIC_RELEASE);
}

/* True when the counter still holds start after the reader copied the record. */
static bool seq_read_unchanged(const uint64_t *seq, uint64_t start)
{
    __atomic_thread_fence(__ATOMIC_ACQUIRE);     /* the copy before the second load */
    return __atomic_load_n(seq, __ATOMIC_RELAXED) == start;
}

/* ---- settings ------------------------------------------------------------------------- */

/* CONFIG SET slowlog-log-slower-than: the value, then the flag that makes it count. */
void slowlog_set_slower_than_us(int64_t us)
{
    arena_header *h = arena_hdr();
    __atomic_store_n(&h->slowlog_slower_than_us, us, __ATOMIC_RELAXED);
    __atomic_store_n(&h->slowlog_slower_than_set, 1, __ATOMIC_RELEASE);
}

/* CONFIG SET slowlog-max-len. */
void slowlog_set_max_len(uint64_t n)
{
    arena_header *h = arena_hdr();
    __atomic_store_n(&h->slowlog_max_len, n, __ATOMIC_RELAXED);
    __atomic_store_n(&h->slowlog_max_len_set, 1, __ATOMIC_RELEASE);
}

/* CONFIG SET latency-monitor-threshold. */
void latency_set_threshold_ms(int64_t ms)
{
    __atomic_store_n(&arena_hdr()->latency_threshold_ms, ms, __ATOMIC_RELAXED);
}

/* Raises the id below which entries are hidden to at least first_id (never lowers it:
 * resets and trims from several processes may race). */
static void raise_first_id(uint64_t first_id)
{
    uint64_t *watermark = &arena_hdr()->slowlog_first_id;
    uint64_t cur = __atomic_load_n(watermark, __ATOMIC_RELAXED);
    while (cur < first_id &&
           !__atomic_compare_exchange_n(watermark, &cur, first_id, true, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
        ;
}

/* ---- writing an entry ------------------------------------------------------------------- */

/* Appends one string (its 4-byte length, then its bytes) to buf at *len. */
static void pack_string(char *buf, size_t *len, const char *p, size_t n)
{
    uint32_t n32 = (uint32_t)n;
    memcpy(buf + *len, &n32, sizeof n32);
    if (n)
        memcpy(buf + *len + sizeof n32, p, n);
    *len += sizeof n32 + n;
}

/* Appends an argument as Redis's slow log keeps it: at most 128 bytes, then
 * "... (N more bytes)" when it was longer. */
static void pack_argument(char *buf, size_t *len, const slowlog_arg *a)
{
    if (a->len <= SLOWLOG_MAX_ARG_BYTES) {
        pack_string(buf, len, a->ptr, a->len);
        return;
    }
    char cut[SLOWLOG_MAX_ARG_BYTES + SLOWLOG_SUFFIX_MAX];
    memcpy(cut, a->ptr, SLOWLOG_MAX_ARG_BYTES);
    int suffix = snprintf(cut + SLOWLOG_MAX_ARG_BYTES, SLOWLOG_SUFFIX_MAX, "... (%lu more bytes)",
                          (unsigned long)(a->len - SLOWLOG_MAX_ARG_BYTES));
    pack_string(buf, len, cut, SLOWLOG_MAX_ARG_BYTES + (size_t)suffix);
}

/* Packs an entry's strings into buf (SLOWLOG_ENTRY_MAX_BYTES): the first arguments
 * (the 32nd replaced by "... (N more arguments)" when there are more than 32), the
 * address and the name. Returns the length; *stored gets the number of arguments. */
static size_t pack_entry(char *buf, const slowlog_arg *argv, size_t argc, const char *addr,
                         const char *name, uint32_t *stored)
{
    size_t len = 0;
    size_t kept = argc < SLOWLOG_MAX_ARGC ? argc : SLOWLOG_MAX_ARGC;
    for (size_t i = 0; i < kept; i++) {
        if (argc > SLOWLOG_MAX_ARGC && i == kept - 1) {
            char more[64];
            int n = snprintf(more, sizeof more, "... (%zu more arguments)", argc - kept + 1);
            pack_string(buf, &len, more, (size_t)n);
        } else {
            pack_argument(buf, &len, &argv[i]);
        }
    }
    addr = addr ? addr : "";
    name = name ? name : "";
    pack_string(buf, &len, addr, strnlen(addr, SLOWLOG_ADDR_MAX));
    pack_string(buf, &len, name, strnlen(name, SLOWLOG_MAX_NAME_BYTES));
    *stored = (uint32_t)kept;
    return len;
}

/* Writes one entry into the caller's own lane: take an id, reserve string bytes,
 * rewrite the next slot under its seqlock, then trim to slowlog-max-len. */
void slowlog_push(uint32_t lane_id, const slowlog_arg *argv, size_t argc, const char *addr,
                  const char *name, uint64_t duration_us)
{
    arena_header *h = arena_hdr();
    if (lane_id >= h->lane_count)
        return;
    uint64_t max_len = slowlog_max_len();
    uint64_t id = __atomic_fetch_add(&h->slowlog_next_id, 1, __ATOMIC_RELAXED);
    if (max_len == 0) {
        /* Redis adds the entry (so it takes an id), then trims the log to nothing */
        raise_first_id(id + 1);
        return;
    }
    char packed[SLOWLOG_ENTRY_MAX_BYTES];
    uint32_t stored;
    size_t len = pack_entry(packed, argv, argc, addr, name, &stored);

    slowlog_lane *sl = lane_area(lane_id);
    /* reserve the bytes (never wrapping inside an entry) before writing them: a reader
     * holding an older copy of these bytes then sees the reservation and drops it */
    uint64_t pos = sl->bytes_reserved;
    if (pos % SLOWLOG_RING_BYTES + len > SLOWLOG_RING_BYTES)
        pos += SLOWLOG_RING_BYTES - pos % SLOWLOG_RING_BYTES;
    __atomic_store_n(&sl->bytes_reserved, pos + len, __ATOMIC_RELAXED);

    slowlog_slot *s = &sl->slot[sl->written % SLOWLOG_LANE_ENTRIES];
    uint64_t done = seq_write_begin(&s->seq);
    __atomic_store_n(&s->id, id, __ATOMIC_RELAXED);
    __atomic_store_n(&s->unix_time, (int64_t)time(NULL), __ATOMIC_RELAXED);
    __atomic_store_n(&s->duration_us, duration_us, __ATOMIC_RELAXED);
    __atomic_store_n(&s->data_pos, pos, __ATOMIC_RELAXED);
    __atomic_store_n(&s->data_len, (uint32_t)len, __ATOMIC_RELAXED);
    __atomic_store_n(&s->argc, stored, __ATOMIC_RELAXED);
    memcpy(sl->bytes + pos % SLOWLOG_RING_BYTES, packed, len);
    seq_write_end(&s->seq, done);
    sl->written++;
    /* Redis trims its list to slowlog-max-len after each push */
    if (id + 1 > max_len)
        raise_first_id(id + 1 - max_len);
}

/* ---- reading entries ---------------------------------------------------------------------- */

/* A slot's fields, copied under its seqlock. */
typedef struct slot_copy {
    uint64_t seq;
    uint64_t id;
    int64_t  unix_time;
    uint64_t duration_us;
    uint64_t data_pos;
    uint32_t data_len;
    uint32_t argc;
} slot_copy;

/* Copies slot s's fields: false when it was never written, is being rewritten, is
 * hidden (id below first_id) or holds impossible values. The caller re-checks the
 * seqlock (seq_read_unchanged) after using the slot's strings. */
static bool slot_read(const slowlog_slot *s, uint64_t first_id, slot_copy *out)
{
    out->seq = __atomic_load_n(&s->seq, __ATOMIC_ACQUIRE);
    if (out->seq == 0 || (out->seq & 1))
        return false;
    out->id = __atomic_load_n(&s->id, __ATOMIC_RELAXED);
    out->unix_time = __atomic_load_n(&s->unix_time, __ATOMIC_RELAXED);
    out->duration_us = __atomic_load_n(&s->duration_us, __ATOMIC_RELAXED);
    out->data_pos = __atomic_load_n(&s->data_pos, __ATOMIC_RELAXED);
    out->data_len = __atomic_load_n(&s->data_len, __ATOMIC_RELAXED);
    out->argc = __atomic_load_n(&s->argc, __ATOMIC_RELAXED);
    return out->id >= first_id && out->argc <= SLOWLOG_MAX_ARGC &&
           out->data_len <= SLOWLOG_ENTRY_MAX_BYTES &&
           out->data_pos % SLOWLOG_RING_BYTES + out->data_len <= SLOWLOG_RING_BYTES;
}

/* True when the bytes of an entry at data_pos have not been reserved again since
 * (checked after copying them, behind an acquire fence). */
static bool bytes_still_there(const slowlog_lane *sl, uint64_t data_pos)
{
    uint64_t reserved = __atomic_load_n(&sl->bytes_reserved, __ATOMIC_RELAXED);
    return reserved - data_pos <= SLOWLOG_RING_BYTES;
}

/* True when data[0..len) holds exactly count well-formed strings. */
static bool packed_is_valid(const char *data, size_t len, uint32_t count)
{
    size_t at = 0;
    for (uint32_t i = 0; i < count; i++) {
        uint32_t n;
        if (len - at < sizeof n)
            return false;
        memcpy(&n, data + at, sizeof n);
        if (len - at - sizeof n < n)
            return false;
        at += sizeof n + n;
    }
    return at == len;
}

/* Makes room for one more entry and `bytes` more string bytes in l. */
static void list_reserve(slowlog_list *l, size_t bytes)
{
    if (l->count == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->entries = realloc(l->entries, l->cap * sizeof *l->entries);
        if (!l->entries)
            abort();
    }
    if (l->data_cap - l->data_len < bytes) {
        while (l->data_cap - l->data_len < bytes)
            l->data_cap = l->data_cap ? l->data_cap * 2 : 16384;
        l->data = realloc(l->data, l->data_cap);
        if (!l->data)
            abort();
    }
}

/* Orders entries newest (highest id) first. */
static int entry_newer_first(const void *a, const void *b)
{
    const slowlog_entry *x = a, *y = b;
    return x->id > y->id ? -1 : x->id < y->id;
}

/* Copies every lane's visible, untorn entries, then sorts them by id, newest first. */
void slowlog_collect(slowlog_list *out)
{
    memset(out, 0, sizeof *out);
    const arena_header *h = arena_hdr();
    uint64_t first_id = __atomic_load_n(&h->slowlog_first_id, __ATOMIC_ACQUIRE);
    for (uint32_t ln = 0; ln < h->lane_count; ln++) {
        const slowlog_lane *sl = lane_area(ln);
        for (uint32_t i = 0; i < SLOWLOG_LANE_ENTRIES; i++) {
            const slowlog_slot *s = &sl->slot[i];
            slot_copy sc;
            if (!slot_read(s, first_id, &sc))
                continue;
            list_reserve(out, sc.data_len);
            char *dst = out->data + out->data_len;
            memcpy(dst, sl->bytes + sc.data_pos % SLOWLOG_RING_BYTES, sc.data_len);
            if (!seq_read_unchanged(&s->seq, sc.seq) || !bytes_still_there(sl, sc.data_pos) ||
                !packed_is_valid(dst, sc.data_len, sc.argc + 2))
                continue;
            out->entries[out->count++] = (slowlog_entry){
                .id = sc.id, .unix_time = sc.unix_time, .duration_us = sc.duration_us,
                .argc = sc.argc, .data_off = out->data_len, .data_len = sc.data_len,
            };
            out->data_len += sc.data_len;
        }
    }
    if (out->count > 1)
        qsort(out->entries, out->count, sizeof *out->entries, entry_newer_first);
}

/* Frees what slowlog_collect allocated. */
void slowlog_list_free(slowlog_list *l)
{
    free(l->entries);
    free(l->data);
    memset(l, 0, sizeof *l);
}

/* Walks the entry's packed strings (validated by slowlog_collect) to string i. */
const char *slowlog_entry_string(const slowlog_list *l, const slowlog_entry *e, uint32_t i,
                                 size_t *len)
{
    const char *p = l->data + e->data_off;
    uint32_t n;
    for (uint32_t k = 0;; k++) {
        memcpy(&n, p, sizeof n);
        if (k == i)
            break;
        p += sizeof n + n;
    }
    *len = n;
    return p + sizeof n;
}

/* Counts the visible, untorn entries of every lane without copying their strings. */
uint64_t slowlog_length(void)
{
    const arena_header *h = arena_hdr();
    uint64_t first_id = __atomic_load_n(&h->slowlog_first_id, __ATOMIC_ACQUIRE);
    uint64_t n = 0;
    for (uint32_t ln = 0; ln < h->lane_count; ln++) {
        const slowlog_lane *sl = lane_area(ln);
        for (uint32_t i = 0; i < SLOWLOG_LANE_ENTRIES; i++) {
            slot_copy sc;
            if (slot_read(&sl->slot[i], first_id, &sc) && seq_read_unchanged(&sl->slot[i].seq, sc.seq) &&
                bytes_still_there(sl, sc.data_pos))
                n++;
        }
    }
    return n;
}

/* Hides all but the newest slowlog-max-len ids (ids of added entries are consecutive). */
void slowlog_trim(void)
{
    if (slowlog_slower_than_us() < 0)
        return;                                  /* Redis trims only while it logs */
    uint64_t max_len = slowlog_max_len();
    uint64_t next_id = __atomic_load_n(&arena_hdr()->slowlog_next_id, __ATOMIC_ACQUIRE);
    if (next_id > max_len)
        raise_first_id(next_id - max_len);
}

/* Hides every id handed out so far. */
void slowlog_reset(void)
{
    raise_first_id(__atomic_load_n(&arena_hdr()->slowlog_next_id, __ATOMIC_ACQUIRE));
}

/* ---- the latency monitor ----------------------------------------------------------------- */

/* The event's name as LATENCY LATEST shows it. */
const char *latency_event_name(enum latency_event e)
{
    return (unsigned)e < LATENCY_EVENTS ? latency_event_names[e] : "";
}

/* Exact (case-sensitive) lookup of an event name. */
int latency_event_find(const char *name, size_t len)
{
    for (int e = 0; e < LATENCY_EVENTS; e++) {
        if (strlen(latency_event_names[e]) == len && memcmp(latency_event_names[e], name, len) == 0)
            return e;
    }
    return -1;
}

/* Records a sample in the caller's own lane, under the series' seqlock; a series
 * of an older reset generation is emptied first. */
void latency_add_sample(uint32_t lane_id, enum latency_event e, uint64_t latency_ms)
{
    arena_header *h = arena_hdr();
    if (lane_id >= h->lane_count || (unsigned)e >= LATENCY_EVENTS)
        return;
    latency_series *ls = &lane_area(lane_id)->latency[e];
    uint64_t generation = __atomic_load_n(&h->latency_generation[e], __ATOMIC_ACQUIRE);
    int64_t now = (int64_t)time(NULL);
    uint64_t done = seq_write_begin(&ls->seq);
    if (ls->generation != generation || ls->next >= LATENCY_SAMPLES) {
        /* LATENCY RESET since this lane's last sample: start over */
        memset(ls->samples, 0, sizeof ls->samples);
        ls->next = 0;
        ls->max_ms = 0;
        ls->generation = generation;
    }
    if (latency_ms > ls->max_ms)
        ls->max_ms = latency_ms;
    /* one sample per second, the worst of that second (Redis's latencyAddSample) */
    latency_sample *prev = &ls->samples[(ls->next + LATENCY_SAMPLES - 1) % LATENCY_SAMPLES];
    if (prev->unix_time == now) {
        if (latency_ms > prev->latency_ms)
            prev->latency_ms = latency_ms;
    } else {
        ls->samples[ls->next] = (latency_sample){ now, latency_ms };
        ls->next = (ls->next + 1) % LATENCY_SAMPLES;
    }
    seq_write_end(&ls->seq, done);
}

/* Copies a lane's series into out; false when it belongs to another generation or
 * stayed mid-rewrite through every attempt. */
static bool series_read(const latency_series *ls, uint64_t generation, latency_series *out)
{
    for (int attempt = 0; attempt < 100; attempt++) {
        uint64_t start = __atomic_load_n(&ls->seq, __ATOMIC_ACQUIRE);
        if (start & 1)
            continue;
        memcpy(out, ls, sizeof *out);
        if (seq_read_unchanged(&ls->seq, start))
            return out->generation == generation;
    }
    return false;
}

/* Orders samples oldest first. */
static int sample_older_first(const void *a, const void *b)
{
    const latency_sample *x = a, *y = b;
    return x->unix_time < y->unix_time ? -1 : x->unix_time > y->unix_time;
}

/* Gathers the current generation's samples of every lane, merges seconds seen by
 * several lanes (worst wins) and keeps the newest LATENCY_SAMPLES, oldest first. */
bool latency_collect(enum latency_event e, latency_history *out)
{
    memset(out, 0, sizeof *out);
    const arena_header *h = arena_hdr();
    if ((unsigned)e >= LATENCY_EVENTS)
        return false;
    uint64_t generation = __atomic_load_n(&h->latency_generation[e], __ATOMIC_ACQUIRE);
    latency_sample *all = malloc((size_t)h->lane_count * LATENCY_SAMPLES * sizeof *all);
    latency_series *copy = malloc(sizeof *copy);
    if (!all || !copy)
        abort();
    size_t n = 0;
    for (uint32_t ln = 0; ln < h->lane_count; ln++) {
        if (!series_read(&lane_area(ln)->latency[e], generation, copy))
            continue;
        for (uint32_t i = 0; i < LATENCY_SAMPLES; i++) {
            if (copy->samples[i].unix_time != 0)
                all[n++] = copy->samples[i];
        }
        if (copy->max_ms > out->max_ms)
            out->max_ms = copy->max_ms;
    }
    qsort(all, n, sizeof *all, sample_older_first);
    /* lanes that saw the same second: keep the worst */
    size_t merged = 0;
    for (size_t i = 0; i < n; i++) {
        if (merged && all[merged - 1].unix_time == all[i].unix_time) {
            if (all[i].latency_ms > all[merged - 1].latency_ms)
                all[merged - 1].latency_ms = all[i].latency_ms;
        } else {
            all[merged++] = all[i];
        }
    }
    size_t skip = merged > LATENCY_SAMPLES ? merged - LATENCY_SAMPLES : 0;
    out->count = (uint32_t)(merged - skip);
    memcpy(out->samples, all + skip, out->count * sizeof *all);
    free(all);
    free(copy);
    return out->count > 0;
}

/* Notes whether the event had samples, then moves it to a new generation. */
int latency_reset(enum latency_event e)
{
    if ((unsigned)e >= LATENCY_EVENTS)
        return 0;
    latency_history *had = malloc(sizeof *had);
    if (!had)
        abort();
    bool any = latency_collect(e, had);
    free(had);
    __atomic_add_fetch(&arena_hdr()->latency_generation[e], 1, __ATOMIC_ACQ_REL);
    return any ? 1 : 0;
}
