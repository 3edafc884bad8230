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
 * This file also holds the dispatcher's hook (slowlog_record_command, which reads the
 * client) and the text of LATENCY DOCTOR and LATENCY GRAPH. */
#include "kvns/slowlog.h"
#include "kvns/command.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
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

/* ---- LATENCY DOCTOR and LATENCY GRAPH text ----------------------------------------------------- */

/* Redis's analyzeLatencyForEvent: the statistics the doctor reports for one event. */
typedef struct latency_stats {
    uint64_t samples, min, max, avg, mad;
    int64_t  period;         /* seconds since the oldest sample (at least 1) */
} latency_stats;

/* Fills st from a merged history. */
static void latency_analyze(const latency_history *hist, latency_stats *st)
{
    memset(st, 0, sizeof *st);
    uint64_t sum = 0;
    int64_t oldest = 0;
    for (uint32_t i = 0; i < hist->count; i++) {
        uint64_t v = hist->samples[i].latency_ms;
        if (st->samples == 0 || v < st->min)
            st->min = v;
        if (v > st->max)
            st->max = v;
        sum += v;
        st->samples++;
        if (oldest == 0 || hist->samples[i].unix_time < oldest)
            oldest = hist->samples[i].unix_time;
    }
    if (!st->samples)
        return;
    st->avg = sum / st->samples;
    st->period = (int64_t)time(NULL) - oldest;
    if (st->period <= 0)
        st->period = 1;
    uint64_t deviation = 0;
    for (uint32_t i = 0; i < hist->count; i++) {
        uint64_t v = hist->samples[i].latency_ms;
        deviation += v > st->avg ? v - st->avg : st->avg - v;
    }
    st->mad = deviation / st->samples;
}

/* Redis's createLatencyReport, shortened: the disabled and quiet texts, or one line
 * of statistics per event followed by advice. */
char *latency_doctor_text(size_t *len)
{
    char *text = NULL;
    FILE *f = open_memstream(&text, len);
    if (!f)
        abort();
    latency_history *hist = malloc(sizeof *hist);
    if (!hist)
        abort();
    int64_t threshold = latency_threshold_ms();
    bool have[LATENCY_EVENTS], any = false;
    for (int e = 0; e < LATENCY_EVENTS; e++)
        any |= have[e] = latency_collect((enum latency_event)e, hist);
    if (!any && threshold == 0) {
        fputs("I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this Redis instance. "
              "You may use \"CONFIG SET latency-monitor-threshold <milliseconds>.\" in order to enable it. "
              "If we weren't in a deep space mission I'd suggest to take a look at "
              "https://redis.io/topics/latency-monitor.\n",
              f);
    } else if (!any) {
        fputs("Dave, no latency spike was observed during the lifetime of this Redis instance, not in the "
              "slightest bit. I honestly think you ought to sit down calmly, take a stress pill, and "
              "think things over.\n",
              f);
    } else {
        fputs("Dave, I have observed latency spikes in this Redis instance. You don't mind talking about "
              "it, do you Dave?\n\n",
              f);
        int number = 0;
        for (int e = 0; e < LATENCY_EVENTS; e++) {
            if (!have[e])
                continue;
            latency_collect((enum latency_event)e, hist);
            latency_stats st;
            latency_analyze(hist, &st);
            fprintf(f,
                    "%d. %s: %llu latency spikes (average %llums, mean deviation %llums, period %.2f sec). "
                    "Worst all time event %llums.\n",
                    ++number, latency_event_name((enum latency_event)e), (unsigned long long)st.samples,
                    (unsigned long long)st.avg, (unsigned long long)st.mad,
                    (double)st.period / (double)st.samples, (unsigned long long)hist->max_ms);
        }
        /* Redis's advice for the "command" event; kvns's own for "fast-command" */
        fputs("\nI have a few advices for you:\n\n", f);
        int64_t slower_than = slowlog_slower_than_us();
        if (slower_than < 0)
            fprintf(f, "- There are latency issues with potentially slow commands you are using. Try to "
                       "enable the Slow Log Redis feature using the command 'CONFIG SET "
                       "slowlog-log-slower-than %llu'. If the Slow log is disabled Redis is not able to "
                       "log slow commands execution for you.\n",
                    (unsigned long long)threshold * 1000);
        else if (slower_than / 1000 > threshold)
            fprintf(f, "- Your current Slow Log configuration only logs events that are slower than your "
                       "configured latency monitor threshold. Please use 'CONFIG SET "
                       "slowlog-log-slower-than %llu'.\n",
                    (unsigned long long)threshold * 1000);
        fputs("- Check your Slow Log to understand what are the commands you are running which are too "
              "slow to execute. Please check https://redis.io/commands/slowlog for more information.\n", f);
        if (have[LATENCY_EVENT_FAST_COMMAND])
            fputs("- Commands flagged fast (O(1) or O(log N)) were slow: the host may not give kvns "
                  "enough CPU time, or clients contend for the same shards.\n", f);
        fputs("- Deleting, expiring or evicting (because of maxmemory policy) large objects is a blocking "
              "operation. If you have very large objects that are often deleted, expired, or evicted, "
              "try to fragment those objects into multiple smaller objects.\n", f);
    }
    free(hist);
    fclose(f);
    return text;
}

#define GRAPH_COLUMNS 80
#define GRAPH_ROWS    4

/* Appends one chunk (samples [from, from + count)) of Redis's sparkline: GRAPH_ROWS rows
 * of "_o#" and '|' bars scaled between min and max, a blank line, then each sample's
 * label written vertically (sparkline.c's sparklineRenderRange with SPARKLINE_FILL). */
static void graph_chunk(FILE *f, const latency_history *hist, char labels[][24], uint32_t from,
                        uint32_t count, uint64_t min, uint64_t max)
{
    static const char fill[] = "_o#";
    const int steps = 3 * GRAPH_ROWS;
    double range = max > min ? (double)(max - min) : 1.0;
    char line[GRAPH_COLUMNS + 1];
    for (int row = 0;; row++) {
        bool printed = false;
        memset(line, ' ', count);
        for (uint32_t j = 0; j < count; j++) {
            if (row < GRAPH_ROWS) {
                /* Redis's arithmetic: (int)(relval * steps) / relmax */
                int scaled = (int)((double)(hist->samples[from + j].latency_ms - min) * steps);
                int step = (int)((double)scaled / range);
                step = step < 0 ? 0 : step >= steps ? steps - 1 : step;
                int level = step - (GRAPH_ROWS - row - 1) * 3;
                if (level >= 0 && level < 3)
                    line[j] = fill[level];
                else if (level >= 3)
                    line[j] = '|';
                printed = true;
            } else if (row == GRAPH_ROWS) {
                printed = true;                  /* the blank line above the labels */
            } else {
                size_t at = (size_t)(row - GRAPH_ROWS - 1);
                if (strlen(labels[from + j]) > at) {
                    line[j] = labels[from + j][at];
                    printed = true;
                }
            }
        }
        if (!printed)
            break;
        fwrite(line, 1, count, f);
        fputc('\n', f);
    }
}

/* Redis's latencyCommandGenSparkeline: a title line, 80 dashes, then the sparkline
 * in chunks of 80 samples, each labelled with how long ago it was taken. */
char *latency_graph_text(enum latency_event e, size_t *len)
{
    latency_history *hist = malloc(sizeof *hist);
    char (*labels)[24] = malloc(LATENCY_SAMPLES * sizeof *labels);
    if (!hist || !labels)
        abort();
    char *text = NULL;
    if (!latency_collect(e, hist)) {
        free(hist);
        free(labels);
        *len = 0;
        return NULL;
    }
    uint64_t min = hist->samples[0].latency_ms, max = min;
    int64_t now = (int64_t)time(NULL);
    for (uint32_t i = 0; i < hist->count; i++) {
        uint64_t v = hist->samples[i].latency_ms;
        min = v < min ? v : min;
        max = v > max ? v : max;
        /* label: how long ago, in s, m, h or d (Redis's units) */
        int64_t ago = now - hist->samples[i].unix_time;
        ago = ago < 0 ? 0 : ago;
        if (ago < 60)
            snprintf(labels[i], sizeof labels[i], "%llds", (long long)ago);
        else if (ago < 3600)
            snprintf(labels[i], sizeof labels[i], "%lldm", (long long)(ago / 60));
        else if (ago < 86400)
            snprintf(labels[i], sizeof labels[i], "%lldh", (long long)(ago / 3600));
        else
            snprintf(labels[i], sizeof labels[i], "%lldd", (long long)(ago / 86400));
    }
    FILE *f = open_memstream(&text, len);
    if (!f)
        abort();
    fprintf(f, "%s - high %llu ms, low %llu ms (all time high %llu ms)\n", latency_event_name(e),
            (unsigned long long)max, (unsigned long long)min, (unsigned long long)hist->max_ms);
    for (int i = 0; i < GRAPH_COLUMNS; i++)
        fputc('-', f);
    fputc('\n', f);
    for (uint32_t from = 0; from < hist->count; from += GRAPH_COLUMNS) {
        if (from)
            fputc('\n', f);
        uint32_t count = hist->count - from < GRAPH_COLUMNS ? hist->count - from : GRAPH_COLUMNS;
        graph_chunk(f, hist, labels, from, count, min, max);
    }
    fclose(f);
    free(hist);
    free(labels);
    return text;
}

/* ---- the dispatcher's hook ------------------------------------------------------------------ */

static const slowlog_arg REDACTED = { "(redacted)", 10 };

/* Case-insensitive compare of an argument with a lower-case word. */
static bool arg_equals(const slowlog_arg *a, const char *word)
{
    size_t n = strlen(word);
    return a->len == n && strncasecmp(a->ptr, word, n) == 0;
}

/* True for the CONFIG parameters Redis 7 marks sensitive (their values are redacted). */
static bool config_is_sensitive(const slowlog_arg *name)
{
    static const char *const names[] = { "requirepass", "masterauth", "masteruser", "tls-key-file-pass",
                                         "tls-client-key-file-pass" };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (arg_equals(name, names[i]))
            return true;
    }
    return false;
}

/* Replaces secrets by "(redacted)" as Redis 7 does before logging: AUTH's arguments,
 * HELLO's AUTH username and password, the value of a sensitive CONFIG SET parameter.
 * args holds the first kept of argc arguments. */
static void redact_secrets(slowlog_arg *args, size_t kept, size_t argc)
{
    if (kept == 0)
        return;
    if (arg_equals(&args[0], "auth")) {
        for (size_t i = 1; i < kept; i++)
            args[i] = REDACTED;
    } else if (arg_equals(&args[0], "hello")) {
        for (size_t j = 2; j < kept; j++) {
            size_t more = argc - 1 - j;
            if (arg_equals(&args[j], "auth") && more >= 2) {
                for (size_t k = j + 1; k <= j + 2 && k < kept; k++)
                    args[k] = REDACTED;
                j += 2;
            } else if (arg_equals(&args[j], "setname") && more >= 1) {
                j++;
            } else {
                break;
            }
        }
    } else if (arg_equals(&args[0], "config") && kept > 1 && arg_equals(&args[1], "set")) {
        for (size_t i = 2; i + 1 < kept; i += 2) {
            if (config_is_sensitive(&args[i]))
                args[i + 1] = REDACTED;
        }
    }
}

/* Applies each threshold to a slow command: a slow-log entry of its (redacted)
 * arguments, and a latency sample of event "fast-command" or "command". */
void slowlog_record_command(client *c, const command *cmd, uint64_t elapsed_ns)
{
    /* the dispatcher refused it for its arity: Redis never runs (nor logs) those */
    if ((cmd->arity > 0 && (int)c->argc != cmd->arity) || (int)c->argc < -cmd->arity)
        return;
    uint32_t lane_id = c->w->txn.lane_id;
    uint64_t us = elapsed_ns / 1000;
    int64_t slower_than = slowlog_slower_than_us();
    if (slower_than >= 0 && us >= (uint64_t)slower_than) {
        slowlog_arg args[SLOWLOG_MAX_ARGC];
        size_t kept = c->argc < SLOWLOG_MAX_ARGC ? c->argc : SLOWLOG_MAX_ARGC;
        for (size_t i = 0; i < kept; i++)
            args[i] = (slowlog_arg){ c->argv[i].ptr, c->argv[i].len };
        redact_secrets(args, kept, c->argc);
        slowlog_push(lane_id, args, c->argc, c->addr, c->name, us);
    }
    int64_t threshold = latency_threshold_ms();
    if (threshold > 0 && us / 1000 >= (uint64_t)threshold)
        latency_add_sample(lane_id, (cmd->flags & CMD_FAST) ? LATENCY_EVENT_FAST_COMMAND : LATENCY_EVENT_COMMAND,
                           us / 1000);
}
