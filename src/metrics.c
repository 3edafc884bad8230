/* metrics.c - per-lane command latency series and the Prometheus exposition text.
 *
 * Hot path (metrics_observe, every command): each serving thread owns one lane, and
 * its lane owns a fixed table in the arena (METRICS_AREA_BYTES, arena_lane_metrics).
 * The table is a dense array of series appended in first-seen order plus a small
 * open-addressing index (uint16 slot numbers) to find a series by (command, namespace).
 * One writer per lane, so every update is a relaxed load and store: no lock, no atomic
 * read-modify-write, no syscall, no allocation. A series is published by a release
 * store of `used`; the housekeeper reads series [0, used) with relaxed loads, so it
 * only ever touches pages a lane has written.
 *
 * Crash safety: the table lives in the arena, so a respawned worker continues its
 * lane's counts (they stay monotonic). A worker killed inside an insertion can leave
 * an index entry that points at the unpublished slot `used`; lookups treat entries
 * >= used as empty, so that slot is simply reused by the next insertion.
 *
 * Scrape path (metrics_render, housekeeper thread): sums every lane's series, reads
 * the store's counters and writes the text exposition format 0.0.4. Metric names,
 * types, labels and HELP texts of the first six families are the reference's (see
 * DESIGN.md "Behaviour decisions"); the kvns_* extras after them are operator data. */
#include "kvns/metrics.h"
#include "kvns/clock.h"
#include "kvns/command.h"
#include "kvns/evict.h"
#include "kvns/persist.h"
#include "kvns/store.h"
#include "metrics_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- the per-lane table (arena memory) ----------------------------------------------- */

typedef struct metrics_series {
    uint32_t key;                      /* series_key(cmd_index, nsid) */
    uint32_t gen;                      /* ns_generation(nsid) the counts belong to */
    uint64_t sum_ns;
    uint64_t bucket[METRICS_BUCKETS];  /* observations per bucket, not cumulative */
} metrics_series;

typedef struct metrics_table {
    uint32_t used;                     /* series published (release store) */
    uint32_t pad;
    uint64_t dropped;                  /* observations with no room in the table */
    uint16_t index[METRICS_INDEX_SLOTS]; /* slot + 1 into series, 0 = empty */
    metrics_series series[METRICS_SERIES_MAX];
} metrics_table;

_Static_assert(sizeof(metrics_table) <= METRICS_AREA_BYTES,
               "METRICS_AREA_BYTES (arena.h) must hold a metrics_table");
_Static_assert(METRICS_SERIES_MAX < 0xffff, "index entries are uint16 slot + 1");
_Static_assert(METRICS_INDEX_SLOTS >= 2 * METRICS_SERIES_MAX, "the index keeps free slots");

const uint64_t metrics_bucket_bound_ns[METRICS_BUCKETS - 1] = {
    1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000,
    1000000, 2500000, 5000000, 10000000, 25000000, 50000000,
    100000000, 250000000, 500000000, 1000000000,
};

const char *const metrics_bucket_le[METRICS_BUCKETS] = {
    "0.000001", "0.0000025", "0.000005", "0.00001", "0.000025", "0.00005", "0.0001",
    "0.00025", "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05",
    "0.1", "0.25", "0.5", "1", "+Inf",
};

/* The table key of (command, namespace): never 0xffffffff, cheap to hash. */
static inline uint32_t series_key(uint32_t cmd_index, uint32_t nsid)
{
    return (cmd_index << 16) | (nsid & 0xffffu);
}

/* Start position of key in the index (Fibonacci hashing). */
static inline uint32_t index_slot(uint32_t key)
{
    return (key * 0x9e3779b1u) >> (32 - 12);
}
_Static_assert(METRICS_INDEX_SLOTS == 1 << 12, "index_slot yields 12 bits");

/* Adds v to a counter only this thread writes: a plain load and a relaxed store (the
 * reader may see the old or the new value, never a torn one). */
static inline void single_writer_add(uint64_t *counter, uint64_t v)
{
    __atomic_store_n(counter, __atomic_load_n(counter, __ATOMIC_RELAXED) + v, __ATOMIC_RELAXED);
}

unsigned metrics_bucket_of(uint64_t ns)
{
    unsigned b = 0;
    while (b < METRICS_BUCKETS - 1 && ns > metrics_bucket_bound_ns[b])
        b++;
    return b;
}

/* The lane's table (its area is the arena's, its format this file's). */
static inline metrics_table *lane_table(uint32_t lane_id)
{
    return arena_lane_metrics(lane_id);
}

/* Restarts series s from zero for generation gen of its namespace (the id was
 * reclaimed and reused since it was counted). Writer only: the counts first, then the
 * generation (release), so a reader that sees gen sees the new counts. */
static void series_restart(metrics_series *s, uint32_t gen)
{
    for (unsigned b = 0; b < METRICS_BUCKETS; b++)
        __atomic_store_n(&s->bucket[b], 0, __ATOMIC_RELAXED);
    __atomic_store_n(&s->sum_ns, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&s->gen, gen, __ATOMIC_RELEASE);
}

/* Finds the series of key in tab, adding it while the table holds fewer than limit
 * series; a series of an earlier generation gen is restarted. Returns NULL when it is
 * absent and there is no room. Writer only. */
static metrics_series *series_find_or_add(metrics_table *tab, uint32_t key, uint32_t gen, uint32_t limit)
{
    uint32_t used = __atomic_load_n(&tab->used, __ATOMIC_RELAXED);
    uint32_t i = index_slot(key);
    for (;;) {
        uint32_t entry = tab->index[i];
        if (entry == 0 || entry > used)      /* empty, or left by a killed insertion */
            break;
        metrics_series *s = &tab->series[entry - 1];
        if (s->key == key) {
            if (s->gen != gen)
                series_restart(s, gen);
            return s;
        }
        i = (i + 1) & (METRICS_INDEX_SLOTS - 1);
    }
    if (used >= limit)
        return NULL;
    metrics_series *s = &tab->series[used];
    memset(s, 0, sizeof *s);                 /* unpublished: nobody reads it yet */
    s->key = key;
    s->gen = gen;
    tab->index[i] = (uint16_t)(used + 1);
    __atomic_store_n(&tab->used, used + 1, __ATOMIC_RELEASE);
    return s;
}

void metrics_observe(uint32_t lane_id, uint32_t cmd_index, uint32_t nsid, uint64_t elapsed_ns)
{
    const arena_header *h = arena_hdr();
    if (lane_id >= h->lane_count || cmd_index >= METRICS_CMD_LIMIT)
        return;
    if (nsid >= arena_hdr()->ns_limit)
        nsid = METRICS_NO_NS;
    metrics_table *tab = lane_table(lane_id);
    metrics_series *s = nsid == METRICS_NO_NS
        ? series_find_or_add(tab, series_key(cmd_index, nsid), 0, METRICS_SERIES_MAX)
        : series_find_or_add(tab, series_key(cmd_index, nsid), ns_generation(nsid), METRICS_NS_SERIES_MAX);
    if (!s && nsid != METRICS_NO_NS)         /* full: fold into the command's "" series */
        s = series_find_or_add(tab, series_key(cmd_index, METRICS_NO_NS), 0, METRICS_SERIES_MAX);
    if (!s) {
        single_writer_add(&tab->dropped, 1);
        return;
    }
    single_writer_add(&s->bucket[metrics_bucket_of(elapsed_ns)], 1);
    single_writer_add(&s->sum_ns, elapsed_ns);
}

/* ---- reading the tables (housekeeper) ------------------------------------------------- */

/* Orders samples by command index, then namespace id. */
static int sample_cmp(const void *a, const void *b)
{
    const metrics_sample *x = a, *y = b;
    if (x->cmd_index != y->cmd_index)
        return x->cmd_index < y->cmd_index ? -1 : 1;
    return x->nsid < y->nsid ? -1 : x->nsid > y->nsid;
}

/* Smallest power of two >= n (n >= 1). */
static size_t pow2_at_least(size_t n)
{
    size_t p = 1;
    while (p < n)
        p <<= 1;
    return p;
}

metrics_sample *metrics_collect(size_t *count_out, uint64_t *dropped_out)
{
    const arena_header *h = arena_hdr();
    uint32_t lanes = h->lane_count;
    *count_out = 0;
    uint64_t dropped = 0;
    uint32_t *lane_used = calloc(lanes ? lanes : 1, sizeof *lane_used);
    if (!lane_used)
        return NULL;
    size_t total = 0;
    for (uint32_t l = 0; l < lanes; l++) {
        metrics_table *tab = lane_table(l);
        lane_used[l] = __atomic_load_n(&tab->used, __ATOMIC_ACQUIRE);
        if (lane_used[l] > METRICS_SERIES_MAX)
            lane_used[l] = METRICS_SERIES_MAX;
        dropped += __atomic_load_n(&tab->dropped, __ATOMIC_RELAXED);
        total += lane_used[l];
    }
    /* read after every `used` (acquire): a series is published only after its
     * namespace, so every nsid met below is < known_ns */
    uint32_t known_ns = ns_count();
    if (dropped_out)
        *dropped_out = dropped;
    if (total == 0) {
        free(lane_used);
        return NULL;
    }
    /* merge equal keys through a local open-addressing map: key -> sample index + 1 */
    size_t map_slots = pow2_at_least(total * 2);
    uint32_t *map = calloc(map_slots, sizeof *map);
    metrics_sample *out = calloc(total, sizeof *out);
    if (!map || !out) {
        free(map);
        free(out);
        free(lane_used);
        return NULL;
    }
    size_t n = 0;
    for (uint32_t l = 0; l < lanes; l++) {
        metrics_table *tab = lane_table(l);
        for (uint32_t i = 0; i < lane_used[l]; i++) {
            const metrics_series *s = &tab->series[i];
            uint32_t key = __atomic_load_n(&s->key, __ATOMIC_RELAXED);
            uint32_t cmd = key >> 16, nsid = key & 0xffffu;
            if (nsid != METRICS_NO_NS && nsid >= known_ns)
                nsid = METRICS_NO_NS;         /* cannot be named: keep it under "" */
            if (nsid != METRICS_NO_NS &&
                (!ns_live(nsid) || __atomic_load_n(&s->gen, __ATOMIC_ACQUIRE) != ns_generation(nsid)))
                continue;                     /* a reclaimed namespace's, or an earlier life's */
            key = series_key(cmd, nsid);
            size_t m = (size_t)((key * 0x9e3779b97f4a7c15ULL) >> 32) & (map_slots - 1);
            while (map[m] && (out[map[m] - 1].cmd_index != cmd || out[map[m] - 1].nsid != nsid))
                m = (m + 1) & (map_slots - 1);
            if (!map[m]) {
                out[n].cmd_index = cmd;
                out[n].nsid = nsid;
                map[m] = (uint32_t)++n;
            }
            metrics_sample *agg = &out[map[m] - 1];
            agg->sum_ns += __atomic_load_n(&s->sum_ns, __ATOMIC_RELAXED);
            for (unsigned b = 0; b < METRICS_BUCKETS; b++) {
                uint64_t c = __atomic_load_n(&s->bucket[b], __ATOMIC_RELAXED);
                agg->bucket[b] += c;
                agg->count += c;
            }
        }
    }
    free(map);
    free(lane_used);
    qsort(out, n, sizeof *out, sample_cmp);
    *count_out = n;
    return out;
}

/* ---- text buffer ---------------------------------------------------------------------- */

/* Makes room for n more bytes plus a terminator; false (and t->failed) when it cannot. */
static bool text_reserve(metrics_text *t, size_t n)
{
    if (t->failed)
        return false;
    if (t->len + n + 1 <= t->cap)
        return true;
    size_t cap = t->cap ? t->cap : 4096;
    while (cap < t->len + n + 1)
        cap *= 2;
    char *p = realloc(t->buf, cap);
    if (!p) {
        t->failed = true;
        return false;
    }
    t->buf = p;
    t->cap = cap;
    return true;
}

void metrics_text_put(metrics_text *t, const char *s, size_t n)
{
    if (!text_reserve(t, n))
        return;
    memcpy(t->buf + t->len, s, n);
    t->len += n;
    t->buf[t->len] = 0;
}

void metrics_text_puts(metrics_text *t, const char *s) { metrics_text_put(t, s, strlen(s)); }

void metrics_text_printf(metrics_text *t, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof small) {
        metrics_text_put(t, small, (size_t)n);
        return;
    }
    if (!text_reserve(t, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(t->buf + t->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    t->len += (size_t)n;
}

void metrics_text_free(metrics_text *t)
{
    free(t->buf);
    memset(t, 0, sizeof *t);
}

/* Length of the valid UTF-8 sequence at p (n bytes available), 0 when invalid. */
static size_t utf8_sequence_length(const unsigned char *p, size_t n)
{
    unsigned char c = p[0];
    size_t len;
    unsigned char lo = 0x80, hi = 0xbf;      /* allowed range of the second byte */
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        len = 2;
    else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        if (c == 0xe0)
            lo = 0xa0;                       /* no overlong forms */
        if (c == 0xed)
            hi = 0x9f;                       /* no surrogates */
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        if (c == 0xf0)
            lo = 0x90;
        if (c == 0xf4)
            hi = 0x8f;                       /* nothing above U+10FFFF */
    } else
        return 0;
    if (n < len || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (p[i] < 0x80 || p[i] > 0xbf)
            return 0;
    return len;
}

void metrics_escape_label(metrics_text *out, const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        unsigned char c = p[i];
        if (c == '\\') {
            metrics_text_put(out, "\\\\", 2);
            i++;
        } else if (c == '"') {
            metrics_text_put(out, "\\\"", 2);
            i++;
        } else if (c == '\n') {
            metrics_text_put(out, "\\n", 2);
            i++;
        } else if (c < 0x20 || c == 0x7f) {
            metrics_text_printf(out, "\\\\x%02X", c);
            i++;
        } else {
            size_t n = utf8_sequence_length(p + i, len - i);
            if (n == 0) {
                metrics_text_printf(out, "\\\\x%02X", c);
                i++;
            } else {
                metrics_text_put(out, s + i, n);
                i += n;
            }
        }
    }
}

/* ---- the exposition ------------------------------------------------------------------- */

/* Appends the HELP and TYPE lines of one family. */
static void family(metrics_text *out, const char *name, const char *type, const char *help)
{
    metrics_text_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Appends one unlabelled sample. */
static void sample_u64(metrics_text *out, const char *name, uint64_t v)
{
    metrics_text_printf(out, "%s %llu\n", name, (unsigned long long)v);
}

/* Appends a whole unlabelled family of one sample. */
static void family_u64(metrics_text *out, const char *name, const char *type, const char *help,
                       uint64_t v)
{
    family(out, name, type, help);
    sample_u64(out, name, v);
}

/* Appends a whole unlabelled family of one sample in seconds (or another fraction). */
static void family_double(metrics_text *out, const char *name, const char *type,
                          const char *help, double v)
{
    family(out, name, type, help);
    metrics_text_printf(out, "%s %.6f\n", name, v);
}

/* Appends `namespace="<escaped name of nsid>"` ("" for METRICS_NO_NS). */
static void namespace_label(metrics_text *out, uint32_t nsid)
{
    metrics_text_puts(out, "namespace=\"");
    if (nsid != METRICS_NO_NS && ns_live(nsid)) {
        uint32_t len;
        const char *name = ns_name(nsid, &len);
        metrics_escape_label(out, name, len);
    }
    metrics_text_puts(out, "\"");
}

/* Appends a family with one sample per registered namespace, value_of(nsid). */
static void family_per_namespace(metrics_text *out, const char *name, const char *type,
                                 const char *help, uint64_t (*value_of)(uint32_t nsid))
{
    family(out, name, type, help);
    uint32_t count = ns_count();
    for (uint32_t nsid = 0; nsid < count; nsid++) {
        if (!ns_live(nsid))
            continue;
        metrics_text_printf(out, "%s{", name);
        namespace_label(out, nsid);
        metrics_text_printf(out, "} %llu\n", (unsigned long long)value_of(nsid));
    }
}

/* Appends kvns_command_duration_seconds: one histogram per (command, namespace). */
static void render_command_histograms(metrics_text *out, uint64_t *dropped)
{
    static const char name[] = "kvns_command_duration_seconds";
    family(out, name, "histogram", "Command processing latency in seconds");
    size_t n = 0;
    metrics_sample *samples = metrics_collect(&n, dropped);
    metrics_text labels = { 0 };
    for (size_t i = 0; i < n; i++) {
        const metrics_sample *s = &samples[i];
        const command *cmd = command_at(s->cmd_index);
        if (!cmd)
            continue;
        labels.len = 0;
        metrics_text_puts(&labels, "command=\"");
        metrics_escape_label(&labels, cmd->name, strlen(cmd->name));
        metrics_text_puts(&labels, "\",");
        namespace_label(&labels, s->nsid);
        if (labels.failed)
            break;
        uint64_t cumulative = 0;
        for (unsigned b = 0; b < METRICS_BUCKETS; b++) {
            cumulative += s->bucket[b];
            metrics_text_printf(out, "%s_bucket{%s,le=\"%s\"} %llu\n", name, labels.buf,
                                metrics_bucket_le[b], (unsigned long long)cumulative);
        }
        metrics_text_printf(out, "%s_sum{%s} %llu.%09llu\n", name, labels.buf,
                            (unsigned long long)(s->sum_ns / 1000000000u),
                            (unsigned long long)(s->sum_ns % 1000000000u));
        metrics_text_printf(out, "%s_count{%s} %llu\n", name, labels.buf,
                            (unsigned long long)s->count);
    }
    metrics_text_free(&labels);
    free(samples);
}

/* Seconds since the arena was created (the server's start), with milliseconds. */
static void render_uptime(metrics_text *out)
{
    int64_t up_ms = clock_wall_ms() - arena_hdr()->start_time_ms;
    if (up_ms < 0)
        up_ms = 0;
    family(out, "kvns_uptime_seconds", "gauge", "Seconds since the server started");
    metrics_text_printf(out, "kvns_uptime_seconds %lld.%03lld\n", (long long)(up_ms / 1000),
                        (long long)(up_ms % 1000));
}

/* persist: the snapshot families, from the state the housekeeper publishes
 * (persist_stats_read; zeros when persistence is off). */
static void render_snapshot_metrics(metrics_text *out)
{
    persist_stats st;
    persist_stats_read(&st);
    family(out, "kvns_snapshot_duration_seconds", "gauge", "Duration of the last successful snapshot in seconds");
    metrics_text_printf(out, "kvns_snapshot_duration_seconds %.3f\n",
                        st.last_duration_ms < 0 ? 0.0 : (double)st.last_duration_ms / 1000.0);
    family(out, "kvns_snapshot_last_success_timestamp_seconds", "gauge",
           "Unix time of the last successful snapshot (0: none since start)");
    metrics_text_printf(out, "kvns_snapshot_last_success_timestamp_seconds %lld\n",
                        st.saves_ok ? (long long)(st.last_save_ms / 1000) : 0LL);
    family_u64(out, "kvns_snapshots_total", "counter", "Snapshots written successfully since start", st.saves_ok);
    family_u64(out, "kvns_snapshot_failures_total", "counter", "Snapshot attempts that failed since start",
               st.saves_failed);
    family_u64(out, "kvns_snapshot_size_bytes", "gauge", "Size of the last successful snapshot file in bytes",
               st.last_bytes);
    family_u64(out, "kvns_snapshot_in_progress", "gauge", "1 while a snapshot is being written", st.in_progress);
}
/* ---- end persist ------------------------------------------------------------------ */

/* The operator extras: connection, command and keyspace counters. */
static void render_server_counters(metrics_text *out, uint64_t dropped)
{
    shard_stat_totals keyspace = shard_stats_sum();
    family_u64(out, "kvns_connections", "gauge", "Client connections currently open",
               lane_stat_sum(STAT_CONNECTED));
    family_u64(out, "kvns_connections_received_total", "counter",
               "Client connections accepted since start", lane_stat_sum(STAT_CONNECTIONS));
    family_u64(out, "kvns_rejected_connections_total", "counter",
               "Client connections refused because of the client limit", lane_stat_sum(STAT_REJECTED));
    family_u64(out, "kvns_commands_processed_total", "counter", "Commands processed since start",
               lane_stat_sum(STAT_COMMANDS));
    family_u64(out, "kvns_command_errors_total", "counter", "Commands answered with an error",
               lane_stat_sum(STAT_ERRORS));
    family_u64(out, "kvns_oom_rejections_total", "counter",
               "Commands refused because memory would exceed the limit", lane_stat_sum(STAT_OOM));
    family_u64(out, "kvns_lock_waits_total", "counter",
               "Commands that found a shard lock busy and waited, parked, for it",
               lane_stat_sum(STAT_LOCK_WAITS));
    family_double(out, "kvns_lock_wait_seconds_total", "counter",
                  "Time parked commands spent waiting for shard locks",
                  (double)lane_stat_sum(STAT_LOCK_WAIT_US) / 1e6);
    family_u64(out, "kvns_command_observations_dropped_total", "counter",
               "Command latency observations dropped because a series table was full", dropped);
    family_u64(out, "kvns_expired_keys_total", "counter", "Keys deleted because their TTL expired",
               keyspace.expired);
    family_u64(out, "kvns_keyspace_hits_total", "counter", "Key lookups that found a live key",
               keyspace.hits);
    family_u64(out, "kvns_keyspace_misses_total", "counter", "Key lookups that found no key",
               keyspace.misses);
    family_u64(out, "kvns_net_input_bytes_total", "counter", "Bytes read from clients",
               lane_stat_sum(STAT_NET_IN));
    family_u64(out, "kvns_net_output_bytes_total", "counter", "Bytes written to clients",
               lane_stat_sum(STAT_NET_OUT));
    family_u64(out, "kvns_worker_restarts_total", "counter",
               "Worker and housekeeper processes respawned after dying",
               __atomic_load_n(&arena_hdr()->worker_restarts, __ATOMIC_RELAXED));
    render_uptime(out);
}

void metrics_render(metrics_text *out)
{
    family_per_namespace(out, "kvns_keys_total", "gauge", "Number of keys in the store", store_ns_keys);
    family_per_namespace(out, "kvns_memory_used_bytes", "gauge",
                         "Memory currently used by the store in bytes, per namespace", store_ns_bytes);
    family_u64(out, "kvns_memory_used_bytes_total", "gauge",
               "Total memory currently used by the store in bytes across all namespaces",
               store_used_memory());
    family_u64(out, "kvns_memory_limit_bytes", "gauge", "Configured memory limit in bytes",
               __atomic_load_n(&arena_hdr()->memory_limit, __ATOMIC_RELAXED));
    uint64_t dropped = 0;
    render_command_histograms(out, &dropped);
    family_per_namespace(out, "kvns_evictions_total", "counter", "Number of keys evicted from the store",
                         evict_count);
    render_server_counters(out, dropped);
    render_snapshot_metrics(out);
}
