/* t_info.c - the introspection half of the server family: INFO and LATENCY HISTOGRAM,
 * read-only views of the server (COMMAND is t_command.c's). The rows live in
 * t_server.c's table.
 *
 * Everything here reads shared state without locks: arena header fields, relaxed lane
 * and shard counters, and the metrics tables, so INFO reports the whole server (every
 * worker and thread), never one process's share - except where a field says it is
 * per-process (process_id, used_memory_rss, used_cpu_*, used_memory_peak). */
#include "kvns/command.h"
#include "kvns/scripts.h"
#include "kvns/errstats.h"
#include "script_lua.h"
#include "kvns/arena.h"
#include "kvns/clock.h"
#include "kvns/persist.h"
#include "metrics_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/utsname.h>
#include <unistd.h>

#define KVNS_REDIS_VERSION "7.2.4"
#define KVNS_VERSION "0.1.0"

/* Shared with t_server.c, t_client.c and t_config.c. */
#include "t_server.h"

/* A text buffer on open_memstream; aborts when it cannot be had (like the reply
 * writer: a reply that cannot be built cannot be sent either). */
static FILE *text_open(char **text, size_t *len)
{
    *text = NULL;
    *len = 0;
    FILE *f = open_memstream(text, len);
    if (!f)
        abort();
    return f;
}

/* ---- INFO ----------------------------------------------------------------------------------- */

/* Highest used_memory this process has seen (INFO reads it; CONFIG RESETSTAT clears it). */
static uint64_t memory_peak;

void tsrv_reset_memory_peak(void)
{
    __atomic_store_n(&memory_peak, store_used_memory(), __ATOMIC_RELAXED);
}

static uint64_t track_peak(uint64_t used)
{
    uint64_t peak = __atomic_load_n(&memory_peak, __ATOMIC_RELAXED);
    while (used > peak &&
           !__atomic_compare_exchange_n(&memory_peak, &peak, used, true, __ATOMIC_RELAXED,
                                        __ATOMIC_RELAXED))
        ;
    return used > peak ? used : peak;
}

/* Redis's bytesToHuman: 1023B, 1.00K, 1.50M, ... */
static const char *human_bytes(uint64_t n, char *buf, size_t cap)
{
    static const char units[] = "KMGTPE";
    if (n < 1024) {
        snprintf(buf, cap, "%lluB", (unsigned long long)n);
        return buf;
    }
    double d = (double)n / 1024;
    size_t u = 0;
    while (d >= 1024 && u < sizeof units - 2) {
        d /= 1024;
        u++;
    }
    snprintf(buf, cap, "%.2f%c", d, units[u]);
    return buf;
}

/* A 40-hex-digit id derived from the arena's run id, the same in every process of the
 * server (salt tells run_id and master_replid apart). */
static const char *hex_id(uint64_t salt, char *buf, size_t cap)
{
    uint64_t x = arena_hdr()->run_id ^ salt, w[3];
    for (int i = 0; i < 3; i++) {          /* splitmix64 */
        uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        w[i] = z ^ (z >> 31);
    }
    snprintf(buf, cap, "%016llx%016llx%08llx", (unsigned long long)w[0],
             (unsigned long long)w[1], (unsigned long long)(w[2] >> 32));
    return buf;
}

static void info_server(FILE *f, client *c)
{
    struct utsname un;
    if (uname(&un) != 0)
        memset(&un, 0, sizeof un);
    char exe[1024] = "";
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[n > 0 ? n : 0] = '\0';
    char runid[48];
    const arena_header *h = arena_hdr();
    long long up = (long long)((clock_wall_ms() - h->start_time_ms) / 1000);
    if (up < 0)
        up = 0;
    const kvns_config *cfg = c->w->cfg ? c->w->cfg : server.cfg;
    fprintf(f,
            "redis_version:" KVNS_REDIS_VERSION "\r\n"
            "redis_git_sha1:00000000\r\n"
            "redis_git_dirty:0\r\n"
            "redis_build_id:0\r\n"
            "redis_mode:standalone\r\n"
            "os:%s %s %s\r\n"
            "arch_bits:%d\r\n"
            "monotonic_clock:POSIX clock_gettime\r\n"
            "multiplexing_api:epoll\r\n"
            "atomicvar_api:c11-builtin\r\n"
            "gcc_version:%d.%d.%d\r\n"
            "process_id:%d\r\n"
            "run_id:%s\r\n"
            "tcp_port:%d\r\n"
            "server_time_usec:%lld\r\n"
            "uptime_in_seconds:%lld\r\n"
            "uptime_in_days:%lld\r\n"
            "hz:10\r\n"
            "configured_hz:10\r\n"
            "executable:%s\r\n"
            "config_file:\r\n"
            "io_threads_active:0\r\n"
            "kvns_version:" KVNS_VERSION "\r\n"
            "kvns_worker_slot:%u\r\n"
            "kvns_worker_thread:%u\r\n"
            "kvns_workers:%u\r\n"
            "kvns_threads:%u\r\n"
            "kvns_worker_restarts:%llu\r\n"
            "kvns_shards:%u\r\n",
            un.sysname, un.release, un.machine, (int)(sizeof(void *) * 8), __GNUC__,
            __GNUC_MINOR__, __GNUC_PATCHLEVEL__, (int)getpid(),
            hex_id(0, runid, sizeof runid), cfg ? cfg->port : 0,
            (long long)clock_wall_us(), up, up / 86400, exe,
            c->w->worker_slot, c->w->thread_idx, h->workers, h->threads,
            (unsigned long long)__atomic_load_n(&h->worker_restarts, __ATOMIC_RELAXED),
            h->shard_count);
}

static void info_clients(FILE *f, client *c)
{
    const kvns_config *cfg = c->w->cfg ? c->w->cfg : server.cfg;
    fprintf(f,
            "connected_clients:%llu\r\n"
            "cluster_connections:0\r\n"
            "maxclients:%u\r\n"
            "blocked_clients:0\r\n"
            "tracking_clients:0\r\n"
            "clients_in_timeout_table:0\r\n",
            (unsigned long long)lane_stat_sum(STAT_CONNECTED), cfg ? cfg->max_clients : 0);
}

static const char *policy_name(uint32_t p)
{
    return p == EVICT_NONE ? "noeviction" : evict_policy_name((enum evict_policy)p);
}

/* Resident set of this process (the arena pages it touched included). */
static uint64_t process_rss(void)
{
    unsigned long long size = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%llu %llu", &size, &resident) != 2)
            resident = 0;
        fclose(f);
    }
    return (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE);
}

static void info_memory(FILE *f, client *c)
{
    const arena_header *h = arena_hdr();
    uint64_t used = store_used_memory(), peak = track_peak(used), rss = process_rss();
    uint64_t limit = __atomic_load_n(&h->memory_limit, __ATOMIC_RELAXED);
    long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);
    uint64_t total = pages > 0 && psize > 0 ? (uint64_t)pages * (uint64_t)psize : 0;
    char h1[32], h2[32], h3[32], h4[32], h5[32];
    fprintf(f,
            "used_memory:%llu\r\n"
            "used_memory_human:%s\r\n"
            "used_memory_rss:%llu\r\n"
            "used_memory_rss_human:%s\r\n"
            "used_memory_peak:%llu\r\n"
            "used_memory_peak_human:%s\r\n"
            "used_memory_peak_perc:%.2f%%\r\n"
            "total_system_memory:%llu\r\n"
            "total_system_memory_human:%s\r\n"
            "maxmemory:%llu\r\n"
            "maxmemory_human:%s\r\n"
            "maxmemory_policy:%s\r\n"
            "mem_fragmentation_ratio:%.2f\r\n"
            "mem_allocator:kvns-arena\r\n"
            "kvns_arena_bytes:%llu\r\n"
            "kvns_eviction_threshold:%.2f\r\n"
            "kvns_namespaces:%u\r\n",
            (unsigned long long)used, human_bytes(used, h1, sizeof h1), (unsigned long long)rss,
            human_bytes(rss, h2, sizeof h2), (unsigned long long)peak,
            human_bytes(peak, h3, sizeof h3), peak ? (double)used * 100 / (double)peak : 100.0,
            (unsigned long long)total, human_bytes(total, h4, sizeof h4),
            (unsigned long long)limit, human_bytes(limit, h5, sizeof h5),
            policy_name(__atomic_load_n(&h->evict_policy, __ATOMIC_RELAXED)),
            used ? (double)rss / (double)used : 0.0, (unsigned long long)h->size,
            h->evict_threshold, ns_live_count());
    /* scripts: the Lua state is the serving thread's own; the cache is shared */
    uint64_t lua = script_lua_memory(c->w);
    char h6[32];
    fprintf(f,
            "used_memory_lua:%llu\r\n"
            "used_memory_vm_eval:%llu\r\n"
            "used_memory_lua_human:%s\r\n"
            "used_memory_scripts_eval:%llu\r\n"
            "number_of_cached_scripts:%llu\r\n",
            (unsigned long long)lua, (unsigned long long)lua, human_bytes(lua, h6, sizeof h6),
            (unsigned long long)scripts_bytes(), (unsigned long long)scripts_count());
}

/* persist: the housekeeper's snapshots, as it publishes them (persist_stats_read). The
 * rdb_* names are Redis's (a kvns snapshot plays the RDB file's part); loading comes
 * first and is always 0 (the snapshot is loaded before anything is served). */
static void info_persistence(FILE *f, client *c)
{
    persist_stats st;
    persist_stats_read(&st);
    int64_t now = clock_wall_ms();
    int64_t last_save = st.last_save_ms ? st.last_save_ms : arena_hdr()->start_time_ms;
    long long last_time_sec = st.last_duration_ms < 0 ? -1 : (st.last_duration_ms + 500) / 1000;
    long long current_sec = st.in_progress && st.current_start_ms ? (now - st.current_start_ms) / 1000 : -1;
    fprintf(f,
            "loading:0\r\n"
            "async_loading:0\r\n"
            "rdb_changes_since_last_save:%llu\r\n"
            "rdb_bgsave_in_progress:%d\r\n"
            "rdb_last_save_time:%lld\r\n"
            "rdb_last_bgsave_status:%s\r\n"
            "rdb_last_bgsave_time_sec:%lld\r\n"
            "rdb_current_bgsave_time_sec:%lld\r\n"
            "rdb_saves:%llu\r\n"
            "rdb_last_load_keys_expired:%llu\r\n"
            "rdb_last_load_keys_loaded:%llu\r\n"
            "aof_enabled:0\r\n"
            "aof_rewrite_in_progress:0\r\n"
            "aof_rewrite_scheduled:0\r\n"
            "aof_last_rewrite_time_sec:-1\r\n"
            "aof_current_rewrite_time_sec:-1\r\n"
            "aof_last_bgrewrite_status:ok\r\n"
            "aof_last_write_status:ok\r\n"
            "kvns_persistence_enabled:%d\r\n"
            "kvns_snapshot_failures:%llu\r\n"
            "kvns_snapshot_last_bytes:%llu\r\n"
            "kvns_snapshot_last_keys:%llu\r\n",
            (unsigned long long)st.changes, st.in_progress ? 1 : 0, (long long)(last_save / 1000),
            st.last_ok ? "ok" : "err", last_time_sec, current_sec, (unsigned long long)st.saves_ok,
            (unsigned long long)st.loaded_expired, (unsigned long long)st.loaded_keys, st.enabled ? 1 : 0,
            (unsigned long long)st.saves_failed, (unsigned long long)st.last_bytes,
            (unsigned long long)st.last_keys);
}
/* ---- end persist ------------------------------------------------------------------------- */

static void info_stats(FILE *f, client *c)
{
    shard_stat_totals keyspace = shard_stats_sum();
    fprintf(f,
            "total_connections_received:%llu\r\n"
            "total_commands_processed:%llu\r\n"
            "instantaneous_ops_per_sec:0\r\n"
            "total_net_input_bytes:%llu\r\n"
            "total_net_output_bytes:%llu\r\n"
            "instantaneous_input_kbps:0.00\r\n"
            "instantaneous_output_kbps:0.00\r\n"
            "rejected_connections:%llu\r\n"
            "sync_full:0\r\n"
            "sync_partial_ok:0\r\n"
            "sync_partial_err:0\r\n"
            "expired_keys:%llu\r\n"
            "evicted_keys:%llu\r\n"
            "keyspace_hits:%llu\r\n"
            "keyspace_misses:%llu\r\n"
            "pubsub_channels:0\r\n"
            "pubsub_patterns:0\r\n"
            "latest_fork_usec:0\r\n"
            "total_forks:0\r\n"
            "total_error_replies:%llu\r\n"
            "kvns_oom_rejected_commands:%llu\r\n"
            "kvns_lock_waits:%llu\r\n"
            "kvns_lock_wait_usec:%llu\r\n"
            "kvns_accept_errors:%llu\r\n",
            (unsigned long long)lane_stat_sum(STAT_CONNECTIONS),
            (unsigned long long)lane_stat_sum(STAT_COMMANDS),
            (unsigned long long)lane_stat_sum(STAT_NET_IN),
            (unsigned long long)lane_stat_sum(STAT_NET_OUT),
            (unsigned long long)lane_stat_sum(STAT_REJECTED),
            (unsigned long long)keyspace.expired,
            (unsigned long long)keyspace.evicted,
            (unsigned long long)keyspace.hits,
            (unsigned long long)keyspace.misses,
            (unsigned long long)lane_stat_sum(STAT_ERRORS),
            (unsigned long long)lane_stat_sum(STAT_OOM),
            (unsigned long long)lane_stat_sum(STAT_LOCK_WAITS),
            (unsigned long long)lane_stat_sum(STAT_LOCK_WAIT_US),
            (unsigned long long)lane_stat_sum(STAT_ACCEPT_ERRORS));
}

static void info_replication(FILE *f, client *c)
{
    char replid[48];
    fprintf(f,
            "role:master\r\n"
            "connected_slaves:0\r\n"
            "master_failover_state:no-failover\r\n"
            "master_replid:%s\r\n"
            "master_replid2:0000000000000000000000000000000000000000\r\n"
            "master_repl_offset:0\r\n"
            "second_repl_offset:-1\r\n"
            "repl_backlog_active:0\r\n"
            "repl_backlog_first_byte_offset:0\r\n"
            "repl_backlog_histlen:0\r\n",
            hex_id(0x5265706c49642121ULL, replid, sizeof replid));
}

static void info_cpu(FILE *f, client *c)
{
    struct rusage self, children, thread;
    getrusage(RUSAGE_SELF, &self);
    getrusage(RUSAGE_CHILDREN, &children);
    getrusage(RUSAGE_THREAD, &thread);
#define TV(t) (long)(t).tv_sec, (long)(t).tv_usec
    fprintf(f,
            "used_cpu_sys:%ld.%06ld\r\n"
            "used_cpu_user:%ld.%06ld\r\n"
            "used_cpu_sys_children:%ld.%06ld\r\n"
            "used_cpu_user_children:%ld.%06ld\r\n"
            "used_cpu_sys_main_thread:%ld.%06ld\r\n"
            "used_cpu_user_main_thread:%ld.%06ld\r\n",
            TV(self.ru_stime), TV(self.ru_utime), TV(children.ru_stime), TV(children.ru_utime),
            TV(thread.ru_stime), TV(thread.ru_utime));
#undef TV
}

/* Per-command calls and time from the metrics tables (every lane, every namespace). */
static void info_commandstats(FILE *f, client *c)
{
    size_t n = 0;
    metrics_sample *s = metrics_collect(&n, NULL);
    for (size_t i = 0; i < n;) {
        uint32_t idx = s[i].cmd_index;
        uint64_t calls = 0, ns = 0;
        for (; i < n && s[i].cmd_index == idx; i++) {
            calls += s[i].count;
            ns += s[i].sum_ns;
        }
        const command *cmd = command_at(idx);
        if (!cmd || calls == 0)
            continue;
        fprintf(f, "cmdstat_%s:calls=%llu,usec=%llu,usec_per_call=%.2f\r\n", cmd->name,
                (unsigned long long)calls, (unsigned long long)(ns / 1000),
                (double)ns / 1000.0 / (double)calls);
    }
    free(s);
}

static void errorstat_line(const char *code, uint64_t count, void *arg)
{
    fprintf(arg, "errorstat_%s:count=%llu\r\n", code, (unsigned long long)count);
}

/* Error replies by code, from every worker (errstats.h). */
static void info_errorstats(FILE *f, client *c)
{
    errstats_foreach(errorstat_line, f);
}

static void info_cluster(FILE *f, client *c)
{
    fputs("cluster_enabled:0\r\n", f);
}

static void info_keyspace(FILE *f, client *c)
{
    uint64_t keys = store_keys();
    if (keys)
        fprintf(f, "db0:keys=%llu,expires=%llu,avg_ttl=0\r\n", (unsigned long long)keys,
                (unsigned long long)store_expires());
}

/* Sections kvns keeps empty: no modules, no per-prefix error counts, no latency
 * percentiles (the histograms are in LATENCY HISTOGRAM and /metrics). */
static void info_nothing(FILE *f, client *c)
{
}

static const struct info_section {
    const char *name, *title;
    void (*gen)(FILE *f, client *c);
    bool by_default;
} info_sections[] = {
    { "server", "Server", info_server, true },
    { "clients", "Clients", info_clients, true },
    { "memory", "Memory", info_memory, true },
    { "persistence", "Persistence", info_persistence, true },
    { "stats", "Stats", info_stats, true },
    { "replication", "Replication", info_replication, true },
    { "cpu", "CPU", info_cpu, true },
    { "modules", "Modules", info_nothing, true },
    { "commandstats", "Commandstats", info_commandstats, false },
    { "errorstats", "Errorstats", info_errorstats, true },
    { "latencystats", "Latencystats", info_nothing, false },
    { "cluster", "Cluster", info_cluster, true },
    { "keyspace", "Keyspace", info_keyspace, true },
};
#define INFO_SECTIONS (sizeof info_sections / sizeof info_sections[0])

/* INFO [section ...]: the named sections in Redis's order (unknown names are ignored);
 * "default" (also no argument), "all" and "everything" select groups. A bulk string,
 * verbatim under RESP3, with CRLF line endings and a blank line between sections. */
void tsrv_info(client *c)
{
    bool want[INFO_SECTIONS] = { false };
    for (size_t i = 0; i < INFO_SECTIONS; i++)
        want[i] = c->argc == 1 && info_sections[i].by_default;
    for (size_t a = 1; a < c->argc; a++) {
        bool all = arg_is(&c->argv[a], "all") || arg_is(&c->argv[a], "everything");
        bool dflt = arg_is(&c->argv[a], "default");
        for (size_t i = 0; i < INFO_SECTIONS; i++) {
            if (all || (dflt && info_sections[i].by_default) ||
                arg_is(&c->argv[a], info_sections[i].name))
                want[i] = true;
        }
    }
    char *text;
    size_t len;
    FILE *f = text_open(&text, &len);
    int sections = 0;
    for (size_t i = 0; i < INFO_SECTIONS; i++) {
        if (!want[i])
            continue;
        fprintf(f, "%s# %s\r\n", sections++ ? "\r\n" : "", info_sections[i].title);
        info_sections[i].gen(f, c);
    }
    fclose(f);
    reply_verbatim(&c->out, text, len);
    free(text);
}

/* ---- LATENCY HISTOGRAM ------------------------------------------------------------------- */

/* LATENCY HISTOGRAM [command ...]: per command, its calls and the cumulative count of
 * calls at or under each bucket bound (in microseconds, rounded up: kvns's buckets are
 * the /metrics histogram's, not Redis's powers of two). Calls slower than the last
 * finite bound (1 s) count in `calls` only. */
void tsrv_latency_histogram(client *c)
{
    size_t n = 0;
    metrics_sample *s = metrics_collect(&n, NULL);
    size_t handle = reply_defer_map(&c->out);
    long long entries = 0;
    for (size_t i = 0; i < n;) {
        uint32_t idx = s[i].cmd_index;
        uint64_t calls = 0, bucket[METRICS_BUCKETS] = { 0 };
        for (; i < n && s[i].cmd_index == idx; i++) {
            calls += s[i].count;
            for (unsigned b = 0; b < METRICS_BUCKETS; b++)
                bucket[b] += s[i].bucket[b];
        }
        const command *cmd = command_at(idx);
        if (!cmd || calls == 0)
            continue;
        bool wanted = c->argc == 2;
        for (size_t a = 2; a < c->argc && !wanted; a++)
            wanted = arg_is(&c->argv[a], cmd->name);
        if (!wanted)
            continue;
        int first = -1, last = -1;
        for (int b = 0; b < METRICS_BUCKETS - 1; b++) {
            if (bucket[b]) {
                if (first < 0)
                    first = b;
                last = b;
            }
        }
        entries++;
        reply_bulk_cstr(&c->out, cmd->name);
        reply_map(&c->out, 2);
        reply_bulk_cstr(&c->out, "calls");
        reply_int(&c->out, (long long)calls);
        reply_bulk_cstr(&c->out, "histogram_usec");
        reply_map(&c->out, first < 0 ? 0 : last - first + 1);
        uint64_t cumulative = 0;
        for (int b = 0; b < first; b++)
            cumulative += bucket[b];
        for (int b = first; first >= 0 && b <= last; b++) {
            cumulative += bucket[b];
            reply_int(&c->out, (long long)((metrics_bucket_bound_ns[b] + 999) / 1000));
            reply_int(&c->out, (long long)cumulative);
        }
    }
    reply_fix_map(&c->out, handle, entries);
    free(s);
}
