/* config.h - the KVNS_* environment configuration, parsed and validated at start. */
#ifndef KVNS_CONFIG_H
#define KVNS_CONFIG_H
#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

enum evict_policy { EVICT_NONE = 0, EVICT_LRU = 1, EVICT_MRU = 2 };

/* Who may run DEBUG (Redis's enable-debug-command): nobody, local connections
 * (loopback or a Unix socket), or everyone. */
enum debug_access { DEBUG_ACCESS_NO = 0, DEBUG_ACCESS_LOCAL = 1, DEBUG_ACCESS_YES = 2 };

#define CONFIG_MAX_NS_OVERRIDES 64
#define CONFIG_NS_NAME_MAX 128

typedef struct ns_override {
    char name[CONFIG_NS_NAME_MAX];
    enum evict_policy policy;
} ns_override;

typedef struct kvns_config {
    char     host[256];            /* KVNS_HOST, default "0.0.0.0" */
    int      port;                 /* KVNS_PORT, default 6480, 1..65535 */
    uint64_t memory_limit;         /* effective limit in bytes after clamping */
    uint64_t memory_limit_requested; /* what KVNS_MEMORY_LIMIT said (0 if unset) */
    const char *memory_limit_source; /* "default", "env", "env-clamped-70%-of-ram", "cgroup", ... */
    char     metrics_host[256];    /* KVNS_METRICS_HOST, default "0.0.0.0" */
    int      metrics_port;         /* KVNS_METRICS_PORT, default 9090; 0 disables metrics */
    char     persist_path[4096];   /* KVNS_PERSIST_PATH, "" = no persistence */
    unsigned persist_interval;     /* KVNS_PERSIST_INTERVAL seconds, default 300, >= 1 */
    bool     stop_writes_on_bgsave_error; /* KVNS_STOP_WRITES_ON_BGSAVE_ERROR, default true */
    enum evict_policy eviction_policy;   /* KVNS_EVICTION_POLICY none|lru|mru (lfu/mfu aliases) */
    double   eviction_threshold;   /* KVNS_EVICTION_THRESHOLD, 0 < x <= 1, default 1.0 */
    ns_override ns_eviction[CONFIG_MAX_NS_OVERRIDES]; /* KVNS_NS_EVICTION "ns1:lru,ns2:mru" */
    unsigned ns_eviction_count;
    bool     sharded_mode;         /* KVNS_SHARDED_MODE, accepted; the store is always sharded */
    unsigned shard_count;          /* KVNS_SHARD_COUNT, default 4*CPUs rounded up to a power of two; 1..65536, rounded up */
    unsigned workers;              /* KVNS_WORKERS, default CPU count, 1..256 */
    unsigned threads;              /* KVNS_THREADS per worker, default 1, 1..64 */
    int      log_level;            /* KVNS_LOG_LEVEL error|warn|info|debug, default info */
    enum debug_access enable_debug_command; /* KVNS_ENABLE_DEBUG_COMMAND no|local|yes, default no */
    unsigned max_clients;          /* KVNS_MAX_CLIENTS, default 10000 */
    unsigned max_namespaces;       /* KVNS_MAX_NAMESPACES, default 1024, 1..4096 (default included) */
} kvns_config;

/* Fills cfg from the environment. Returns 0, or -1 with err set to a one-line message
 * naming the variable and the accepted values, e.g.
 * "KVNS_PORT: invalid value 'abc': expected an integer from 1 to 65535". */
int config_load(kvns_config *cfg, char *err, size_t errlen);

/* Same, but reads variables through getenv_fn (tests pass a fake environment). */
int config_load_from(kvns_config *cfg, const char *(*getenv_fn)(const char *name),
                     char *err, size_t errlen);

/* Memory-limit rule, exposed for tests: requested = KVNS_MEMORY_LIMIT (set_flag says
 * whether it was set), host_ram = MemTotal bytes or 0 if unknown, cgroup_max = cgroup v2
 * memory.max bytes or 0 if none. Returns the effective limit and sets *source. */
uint64_t config_effective_memory_limit(bool set_flag, uint64_t requested, uint64_t host_ram,
                                       uint64_t cgroup_max, const char **source);

/* Descriptors one process needs for max_clients connections and threads epoll loops
 * (each worker process may hold every client), and max_clients lowered to fit fd_limit. */
uint64_t config_fds_needed(unsigned max_clients, unsigned threads);
unsigned config_clients_for_fds(unsigned max_clients, unsigned threads, uint64_t fd_limit);
/* Raises RLIMIT_NOFILE for max_clients, or lowers cfg->max_clients to fit (logged). */
void config_fit_open_files(kvns_config *cfg);

const char *evict_policy_name(enum evict_policy p);
/* "no", "local" or "yes" (CONFIG GET enable-debug-command). */
const char *debug_access_name(enum debug_access a);
/* Parses none|lru|mru|lfu|mfu (case-insensitive). Returns 0 on success. */
int evict_policy_parse(const char *s, enum evict_policy *out);

#endif
