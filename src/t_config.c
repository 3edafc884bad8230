/* t_config.c - CONFIG GET/SET/RESETSTAT/REWRITE/HELP over the settings kvns has
 * (maxmemory and its policy live in the arena, so a SET reaches every worker). */
#include "kvns/command.h"
#include "kvns/errstats.h"
#include "kvns/arena.h"
#include "kvns/clients.h"
#include "kvns/glob.h"
#include "kvns/persist.h"
#include "kvns/shard.h"
#include "kvns/slowlog.h"
#include "t_server.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

/* ---- CONFIG ---------------------------------------------------------------------------------- */

/* kvns's policy names, with Redis's "noeviction" for none. */
static const char *policy_name(uint32_t p)
{
    return p == EVICT_NONE ? "noeviction" : evict_policy_name((enum evict_policy)p);
}

/* CFG_LIVE_INT: an integer setting kept in the arena header (the slow log's and the
 * latency monitor's), changed by CONFIG SET for every worker at once. CFG_STOP_WRITES:
 * stop-writes-on-bgsave-error, yes/no, kept in the persistence state every process
 * shares. */
enum config_kind { CFG_FIXED, CFG_MAXMEMORY, CFG_POLICY, CFG_LIVE_INT, CFG_STOP_WRITES };

enum config_id {
    P_BIND, P_PORT, P_DATABASES, P_MAXCLIENTS, P_MAXMEMORY, P_MAXMEMORY_POLICY, P_SAVE,
    P_APPENDONLY, P_TIMEOUT, P_TCP_KEEPALIVE, P_HZ, P_IO_THREADS, P_OUTPUT_LIMIT,
    P_PROTO_MAX_BULK, P_QUERY_LIMIT, P_NOTIFY, P_REQUIREPASS, P_PROTECTED, P_DAEMONIZE,
    P_LOGLEVEL, P_CLUSTER, P_DIR, P_UNIXSOCKET, P_KVNS_WORKERS, P_KVNS_THREADS, P_KVNS_SHARDS,
    P_KVNS_THRESHOLD, P_KVNS_PERSIST_PATH, P_KVNS_PERSIST_INTERVAL, P_KVNS_METRICS_PORT,
    P_SLOWLOG_SLOWER_THAN, P_SLOWLOG_MAX_LEN, P_LATENCY_THRESHOLD, P_BUSY_REPLY, P_ENABLE_DEBUG,
    P_STOP_WRITES,
};

/* The parameters CONFIG GET reports. Only maxmemory, maxmemory-policy, the slow log
 * and latency monitor settings, busy-reply-threshold and stop-writes-on-bgsave-error
 * can change at run time; the rest come from the KVNS_*
 * environment or are fixed by design. */
static const struct config_param {
    const char *name;
    enum config_id id;
    enum config_kind kind;
} config_params[] = {
    { "bind", P_BIND, CFG_FIXED },
    { "port", P_PORT, CFG_FIXED },
    { "databases", P_DATABASES, CFG_FIXED },
    { "maxclients", P_MAXCLIENTS, CFG_FIXED },
    { "maxmemory", P_MAXMEMORY, CFG_MAXMEMORY },
    { "maxmemory-policy", P_MAXMEMORY_POLICY, CFG_POLICY },
    { "save", P_SAVE, CFG_FIXED },
    { "appendonly", P_APPENDONLY, CFG_FIXED },
    { "timeout", P_TIMEOUT, CFG_FIXED },
    { "tcp-keepalive", P_TCP_KEEPALIVE, CFG_FIXED },
    { "hz", P_HZ, CFG_FIXED },
    { "io-threads", P_IO_THREADS, CFG_FIXED },
    { "client-output-buffer-limit", P_OUTPUT_LIMIT, CFG_FIXED },
    { "proto-max-bulk-len", P_PROTO_MAX_BULK, CFG_FIXED },
    { "client-query-buffer-limit", P_QUERY_LIMIT, CFG_FIXED },
    { "notify-keyspace-events", P_NOTIFY, CFG_FIXED },
    { "requirepass", P_REQUIREPASS, CFG_FIXED },
    { "protected-mode", P_PROTECTED, CFG_FIXED },
    { "daemonize", P_DAEMONIZE, CFG_FIXED },
    { "loglevel", P_LOGLEVEL, CFG_FIXED },
    { "cluster-enabled", P_CLUSTER, CFG_FIXED },
    { "dir", P_DIR, CFG_FIXED },
    { "unixsocket", P_UNIXSOCKET, CFG_FIXED },
    { "kvns-workers", P_KVNS_WORKERS, CFG_FIXED },
    { "kvns-threads", P_KVNS_THREADS, CFG_FIXED },
    { "kvns-shard-count", P_KVNS_SHARDS, CFG_FIXED },
    { "kvns-eviction-threshold", P_KVNS_THRESHOLD, CFG_FIXED },
    { "kvns-persist-path", P_KVNS_PERSIST_PATH, CFG_FIXED },
    { "kvns-persist-interval", P_KVNS_PERSIST_INTERVAL, CFG_FIXED },
    { "kvns-metrics-port", P_KVNS_METRICS_PORT, CFG_FIXED },
    { "slowlog-log-slower-than", P_SLOWLOG_SLOWER_THAN, CFG_LIVE_INT },
    { "slowlog-max-len", P_SLOWLOG_MAX_LEN, CFG_LIVE_INT },
    { "latency-monitor-threshold", P_LATENCY_THRESHOLD, CFG_LIVE_INT },
    { "busy-reply-threshold", P_BUSY_REPLY, CFG_LIVE_INT },
    { "lua-time-limit", P_BUSY_REPLY, CFG_LIVE_INT },   /* its old name */
    { "enable-debug-command", P_ENABLE_DEBUG, CFG_FIXED },
    { "stop-writes-on-bgsave-error", P_STOP_WRITES, CFG_STOP_WRITES },
};
#define CONFIG_PARAMS (sizeof config_params / sizeof config_params[0])

/* Writes the current value of a parameter. */
static void config_value(const client *c, enum config_id id, char *buf, size_t cap)
{
    const kvns_config *cfg = c->w->cfg ? c->w->cfg : server.cfg;
    const arena_header *h = arena_hdr();
    static const char *const loglevels[] = { "warning", "warning", "notice", "debug" };
    buf[0] = '\0';
    switch (id) {
    case P_BIND: snprintf(buf, cap, "%s", cfg ? cfg->host : ""); break;
    case P_PORT: snprintf(buf, cap, "%d", cfg ? cfg->port : 0); break;
    case P_DATABASES: snprintf(buf, cap, "1"); break;
    case P_MAXCLIENTS: snprintf(buf, cap, "%u", cfg ? cfg->max_clients : 0); break;
    case P_MAXMEMORY:
        snprintf(buf, cap, "%llu",
                 (unsigned long long)__atomic_load_n(&h->memory_limit, __ATOMIC_RELAXED));
        break;
    case P_MAXMEMORY_POLICY:
        snprintf(buf, cap, "%s", policy_name(__atomic_load_n(&h->evict_policy, __ATOMIC_RELAXED)));
        break;
    case P_SAVE: break;
    case P_APPENDONLY: snprintf(buf, cap, "no"); break;
    case P_TIMEOUT: snprintf(buf, cap, "0"); break;
    case P_TCP_KEEPALIVE: snprintf(buf, cap, "0"); break;
    case P_HZ: snprintf(buf, cap, "10"); break;
    case P_IO_THREADS: snprintf(buf, cap, "%u", cfg ? cfg->threads : 1); break;
    case P_OUTPUT_LIMIT: snprintf(buf, cap, "normal 0 0 0 slave 0 0 0 pubsub 0 0 0"); break;
    case P_PROTO_MAX_BULK: snprintf(buf, cap, "%lld", (long long)RESP_MAX_BULK); break;
    case P_QUERY_LIMIT: snprintf(buf, cap, "1073741824"); break;
    case P_NOTIFY: break;
    case P_REQUIREPASS: break;
    case P_PROTECTED: snprintf(buf, cap, "no"); break;
    case P_DAEMONIZE: snprintf(buf, cap, "no"); break;
    case P_LOGLEVEL:
        snprintf(buf, cap, "%s", cfg && cfg->log_level >= 0 && cfg->log_level <= 3 ? loglevels[cfg->log_level] : "notice");
        break;
    case P_CLUSTER: snprintf(buf, cap, "no"); break;
    case P_DIR:
        if (!getcwd(buf, cap))
            buf[0] = '\0';
        break;
    case P_UNIXSOCKET: break;
    case P_KVNS_WORKERS: snprintf(buf, cap, "%u", h->workers); break;
    case P_KVNS_THREADS: snprintf(buf, cap, "%u", h->threads); break;
    case P_KVNS_SHARDS: snprintf(buf, cap, "%u", h->shard_count); break;
    case P_KVNS_THRESHOLD: snprintf(buf, cap, "%g", h->evict_threshold); break;
    case P_KVNS_PERSIST_PATH: snprintf(buf, cap, "%s", cfg ? cfg->persist_path : ""); break;
    case P_KVNS_PERSIST_INTERVAL: snprintf(buf, cap, "%u", cfg ? cfg->persist_interval : 0); break;
    case P_KVNS_METRICS_PORT: snprintf(buf, cap, "%d", cfg ? cfg->metrics_port : 0); break;
    case P_SLOWLOG_SLOWER_THAN: snprintf(buf, cap, "%lld", (long long)slowlog_slower_than_us()); break;
    case P_SLOWLOG_MAX_LEN: snprintf(buf, cap, "%llu", (unsigned long long)slowlog_max_len()); break;
    case P_LATENCY_THRESHOLD: snprintf(buf, cap, "%lld", (long long)latency_threshold_ms()); break;
    case P_BUSY_REPLY:
        snprintf(buf, cap, "%lld", (long long)__atomic_load_n(&h->busy_reply_threshold_ms, __ATOMIC_RELAXED));
        break;
    case P_ENABLE_DEBUG:
        snprintf(buf, cap, "%s", debug_access_name(cfg ? cfg->enable_debug_command : DEBUG_ACCESS_NO));
        break;
    case P_STOP_WRITES: snprintf(buf, cap, "%s", persist_stop_writes() ? "yes" : "no"); break;
    }
}

/* CONFIG GET pattern [pattern ...]: a map of every parameter matching a pattern
 * (case-insensitive glob), each once. */
static void config_get(client *c)
{
    size_t handle = reply_defer_map(&c->out);
    long long n = 0;
    for (size_t i = 0; i < CONFIG_PARAMS; i++) {
        const char *name = config_params[i].name;
        bool match = false;
        for (size_t a = 2; a < c->argc && !match; a++)
            match = glob_match(c->argv[a].ptr, c->argv[a].len, name, strlen(name), true);
        if (!match)
            continue;
        char value[4200];
        config_value(c, config_params[i].id, value, sizeof value);
        reply_bulk_cstr(&c->out, name);
        reply_bulk_cstr(&c->out, value);
        n++;
    }
    reply_fix_map(&c->out, handle, n);
}

/* Redis's memtoull: digits with an optional unit b, k, kb, m, mb, g, gb (any case;
 * k = 1000, kb = 1024). */
static bool parse_memory(const resp_arg *a, unsigned long long *out)
{
    static const struct { const char *unit; unsigned long long mul; } units[] = {
        { "", 1 }, { "b", 1 }, { "k", 1000 }, { "kb", 1024 }, { "m", 1000000 },
        { "mb", 1048576 }, { "g", 1000000000 }, { "gb", 1073741824 },
    };
    size_t digits = 0;
    while (digits < a->len && isdigit((unsigned char)a->ptr[digits]))
        digits++;
    if (digits == 0 || digits > 19)
        return false;
    resp_arg unit = { a->ptr + digits, a->len - digits };
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (!arg_is(&unit, units[i].unit))
            continue;
        long long v;
        if (parse_ll(a->ptr, digits, &v) != 0 || (unsigned long long)v > ~0ULL / units[i].mul)
            return false;
        *out = (unsigned long long)v * units[i].mul;
        return true;
    }
    return false;
}

static const struct config_param *config_find(const resp_arg *name)
{
    for (size_t i = 0; i < CONFIG_PARAMS; i++) {
        if (arg_is(name, config_params[i].name))
            return &config_params[i];
    }
    return NULL;
}

/* The smallest value a CFG_LIVE_INT parameter accepts (Redis 7's bounds; the largest
 * is LLONG_MAX for all three). */
static long long live_int_min(enum config_id id)
{
    return id == P_SLOWLOG_SLOWER_THAN ? -1 : 0;
}

/* Stores a validated CFG_LIVE_INT value in the arena header (seen by every worker). */
static void live_int_apply(enum config_id id, long long v)
{
    if (id == P_SLOWLOG_SLOWER_THAN)
        slowlog_set_slower_than_us(v);
    else if (id == P_SLOWLOG_MAX_LEN)
        slowlog_set_max_len((uint64_t)v);
    else if (id == P_LATENCY_THRESHOLD)
        latency_set_threshold_ms(v);
    else if (id == P_BUSY_REPLY)
        __atomic_store_n(&arena_hdr()->busy_reply_threshold_ms, (int64_t)v, __ATOMIC_RELAXED);
}

static void config_set_failed(client *c, const resp_arg *name, const char *why)
{
    char arg[160];
    tsrv_arg_for_error(name, arg, sizeof arg);
    reply_errorf(&c->out, "ERR CONFIG SET failed (possibly related to argument '%s') - %s", arg, why);
}

/* CONFIG SET parameter value [parameter value ...]: all or nothing, as in Redis 7.
 * maxmemory is bounded by the arena, which is sized once at start (0 = as much as the
 * arena holds); maxmemory-policy takes kvns's policies (noeviction = none);
 * slowlog-log-slower-than, slowlog-max-len and latency-monitor-threshold take Redis's
 * ranges. Any other parameter accepts only its current value. */
static void config_set(client *c)
{
    if ((c->argc - 2) % 2) {
        reply_error(&c->out, "ERR wrong number of arguments for 'config|set' command");
        return;
    }
    size_t pairs = (c->argc - 2) / 2;
    unsigned long long memory = 0;
    enum evict_policy policy = EVICT_NONE;
    for (size_t i = 0; i < pairs; i++) {
        const resp_arg *name = &c->argv[2 + 2 * i];
        const struct config_param *p = config_find(name);
        if (!p) {
            char arg[160];
            tsrv_arg_for_error(name, arg, sizeof arg);
            reply_errorf(&c->out, "ERR Unknown option or number of arguments for CONFIG SET - '%s'", arg);
            return;
        }
        for (size_t j = 0; j < i; j++) {
            if (config_find(&c->argv[2 + 2 * j]) == p) {
                config_set_failed(c, name, "duplicate parameter");
                return;
            }
        }
    }
    const arena_header *h = arena_hdr();
    unsigned long long capacity = h->heap_end - h->heap_start;
    for (size_t i = 0; i < pairs; i++) {
        const resp_arg *name = &c->argv[2 + 2 * i], *val = &c->argv[3 + 2 * i];
        const struct config_param *p = config_find(name);
        if (p->kind == CFG_MAXMEMORY) {
            if (!parse_memory(val, &memory)) {
                config_set_failed(c, name, "argument must be a memory value");
                return;
            }
            if (memory == 0)
                memory = capacity;
            if (memory > capacity) {
                char why[160];
                snprintf(why, sizeof why, "argument must not exceed the arena's capacity (%llu bytes)",
                         capacity);
                config_set_failed(c, name, why);
                return;
            }
        } else if (p->kind == CFG_POLICY) {
            char v[16];
            size_t n = val->len < sizeof v - 1 ? val->len : sizeof v - 1;
            memcpy(v, val->ptr, n);
            v[n] = '\0';
            if (arg_is(val, "noeviction")) {
                policy = EVICT_NONE;
            } else if (val->len >= sizeof v || evict_policy_parse(v, &policy) != 0) {
                config_set_failed(c, name, "argument(s) must be one of the following: noeviction, none, lru, mru, lfu, mfu");
                return;
            }
        } else if (p->kind == CFG_LIVE_INT) {
            long long v;
            if (parse_ll(val->ptr, val->len, &v) != 0) {
                config_set_failed(c, name, "argument couldn't be parsed into an integer");
                return;
            }
            if (v < live_int_min(p->id)) {
                char why[128];
                snprintf(why, sizeof why, "argument must be between %lld and %lld inclusive",
                         live_int_min(p->id), LLONG_MAX);
                config_set_failed(c, name, why);
                return;
            }
        } else if (p->kind == CFG_STOP_WRITES) {
            if (!arg_is(val, "yes") && !arg_is(val, "no")) {
                config_set_failed(c, name, "argument must be 'yes' or 'no'");
                return;
            }
        } else {
            char cur[4200];
            config_value(c, p->id, cur, sizeof cur);
            if (strlen(cur) != val->len || strncasecmp(cur, val->ptr, val->len) != 0) {
                config_set_failed(c, name, "can't set immutable config");
                return;
            }
        }
    }
    arena_header *hw = arena_hdr();
    for (size_t i = 0; i < pairs; i++) {
        const struct config_param *p = config_find(&c->argv[2 + 2 * i]);
        if (p->kind == CFG_MAXMEMORY)
            __atomic_store_n(&hw->memory_limit, (uint64_t)memory, __ATOMIC_RELAXED);
        else if (p->kind == CFG_POLICY)
            __atomic_store_n(&hw->evict_policy, (uint32_t)policy, __ATOMIC_RELAXED);
        else if (p->kind == CFG_LIVE_INT) {
            long long v = 0;
            const resp_arg *val = &c->argv[3 + 2 * i];
            parse_ll(val->ptr, val->len, &v);           /* validated above */
            live_int_apply(p->id, v);
        } else if (p->kind == CFG_STOP_WRITES) {
            persist_set_stop_writes(arg_is(&c->argv[3 + 2 * i], "yes"));
        }
    }
    slowlog_trim();         /* a lower slowlog-max-len applies now, as in Redis */
    reply_ok(&c->out);
}

/* CONFIG RESETSTAT: clears the keyspace hit/miss/expired/evicted counters (shard
 * statistics), INFO errorstats and this process's memory peak. The connection, command, byte and error
 * counters are single-writer per lane and owned by their threads, so they are not
 * reset; /metrics counters never are (Prometheus counters must not go backwards). */
static void config_resetstat(client *c)
{
    shard_stats_reset();
    errstats_reset();
    tsrv_reset_memory_peak();
    reply_ok(&c->out);
}

static void config_rewrite(client *c)
{
    reply_error(&c->out, "ERR The server is running without a config file");
}

const command tsrv_config_subs[] = {
    { "get", -3, ADMIN_SUB, NULL, config_get, NULL,
      "Returns the effective values of configuration parameters.", "2.0.0",
      "O(N) when N is the number of configuration parameters provided", NULL },
    { "resetstat", 2, ADMIN_SUB, NULL, config_resetstat, NULL, "Resets the server's statistics.",
      "2.0.0", "O(1)", NULL },
    { "rewrite", 2, ADMIN_SUB, NULL, config_rewrite, NULL,
      "Persists the effective configuration to file.", "2.8.0", "O(1)", NULL },
    { "set", -4, ADMIN_SUB, NULL, config_set, NULL, "Sets configuration parameters in-flight.",
      "2.0.0", "O(N) when N is the number of configuration parameters provided", NULL },
    { "help", 2, CMD_LOADING | CMD_STALE, NULL, tsrv_sub_help, NULL,
      "Returns helpful text about the different subcommands.", "5.0.0", "O(1)", NULL },
    { 0 }
};

