/* unit_config.c - config_load_from over a fake environment: defaults, every variable's
 * good and bad values with the exact error text, the memory-limit rule table, shard
 * rounding and KVNS_NS_EVICTION parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kvns/config.h"
#include "kvns/log.h"

#define MIB (1024ULL * 1024)
#define GIB (1024ULL * 1024 * 1024)
#define FAKE_ENV_MAX 8

struct env_var {
    const char *name;
    const char *value;
};

/* The fake environment config_load_from sees; cleared before each test. */
static struct env_var fake_env[FAKE_ENV_MAX];
static size_t fake_env_count;

/* getenv stand-in over fake_env. Returns the value or NULL when unset. */
static const char *fake_getenv(const char *name)
{
    for (size_t i = 0; i < fake_env_count; i++) {
        if (strcmp(fake_env[i].name, name) == 0)
            return fake_env[i].value;
    }
    return NULL;
}

/* Sets (or replaces) one fake variable; the strings must outlive the test. */
static void fake_set(const char *name, const char *value)
{
    for (size_t i = 0; i < fake_env_count; i++) {
        if (strcmp(fake_env[i].name, name) == 0) {
            fake_env[i].value = value;
            return;
        }
    }
    assert_true(fake_env_count < FAKE_ENV_MAX);
    fake_env[fake_env_count].name = name;
    fake_env[fake_env_count].value = value;
    fake_env_count++;
}

/* Empties the fake environment; returns 0 (cmocka setup). */
static int fake_reset(void **state)
{
    fake_env_count = 0;
    return 0;
}

/* Loads with only name=value set and fails unless it succeeds. */
static void load_ok(kvns_config *cfg, const char *name, const char *value)
{
    char err[512];
    fake_env_count = 0;
    fake_set(name, value);
    if (config_load_from(cfg, fake_getenv, err, sizeof err) != 0)
        fail_msg("%s='%s' rejected: %s", name, value, err);
}

/* Loads with only name=value set and fails unless it is rejected with exactly expected. */
static void load_fails(const char *name, const char *value, const char *expected)
{
    kvns_config cfg;
    char err[512];
    fake_env_count = 0;
    fake_set(name, value);
    if (config_load_from(&cfg, fake_getenv, err, sizeof err) == 0)
        fail_msg("%s='%s' accepted", name, value);
    if (strcmp(err, expected) != 0)
        fail_msg("%s='%s':\n  got      %s\n  expected %s", name, value, err, expected);
}

/* Loads with only name=value set and fails unless it is rejected; returns the message
 * in err for further checks. */
static void load_fails_any(const char *name, const char *value, char *err, size_t errlen)
{
    kvns_config cfg;
    fake_env_count = 0;
    fake_set(name, value);
    if (config_load_from(&cfg, fake_getenv, err, errlen) == 0)
        fail_msg("%s='%s' accepted", name, value);
    if (strncmp(err, name, strlen(name)) != 0 || strchr(err, '\n') != NULL)
        fail_msg("%s='%s': message not one line naming the variable: %s", name, value, err);
}

/* Returns the smallest power of two >= value (the test's own copy of the rule). */
static unsigned expected_power_of_two(unsigned value)
{
    unsigned power = 1;
    while (power < value)
        power <<= 1;
    return power;
}

static void test_defaults(void **state)
{
    kvns_config cfg;
    char err[256];
    assert_int_equal(config_load_from(&cfg, fake_getenv, err, sizeof err), 0);

    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    assert_true(cpus >= 1);
    assert_string_equal(cfg.host, "0.0.0.0");
    assert_int_equal(cfg.port, 6480);
    assert_string_equal(cfg.metrics_host, "0.0.0.0");
    assert_int_equal(cfg.metrics_port, 9090);
    assert_string_equal(cfg.persist_path, "");
    assert_int_equal(cfg.persist_interval, 300);
    assert_true(cfg.stop_writes_on_bgsave_error);
    assert_int_equal(cfg.max_namespaces, 1024);
    assert_int_equal(cfg.eviction_policy, EVICT_NONE);
    assert_true(cfg.eviction_threshold == 1.0);
    assert_int_equal(cfg.ns_eviction_count, 0);
    assert_true(cfg.sharded_mode);
    assert_int_equal(cfg.shard_count, expected_power_of_two((unsigned)cpus * 4));
    assert_int_equal(cfg.workers, cpus > 256 ? 256 : cpus);
    assert_int_equal(cfg.threads, 1);
    assert_int_equal(cfg.log_level, LOG_LVL_INFO);
    assert_int_equal(cfg.max_clients, 10000);
    assert_int_equal(cfg.memory_limit_requested, 0);
    assert_true(cfg.memory_limit <= GIB);
    assert_non_null(cfg.memory_limit_source);
    assert_true(strncmp(cfg.memory_limit_source, "default", 7) == 0);
}

static void test_good_values(void **state)
{
    kvns_config cfg;

    load_ok(&cfg, "KVNS_HOST", "127.0.0.1");
    assert_string_equal(cfg.host, "127.0.0.1");
    load_ok(&cfg, "KVNS_HOST", "::1");
    assert_string_equal(cfg.host, "::1");
    load_ok(&cfg, "KVNS_HOST", "localhost");
    load_ok(&cfg, "KVNS_HOST", "kvns-0.kvns.default.svc.cluster.local.");
    load_ok(&cfg, "KVNS_HOST", "cache_server");
    load_ok(&cfg, "KVNS_METRICS_HOST", "2001:db8::42");
    assert_string_equal(cfg.metrics_host, "2001:db8::42");

    load_ok(&cfg, "KVNS_PORT", "1");
    assert_int_equal(cfg.port, 1);
    load_ok(&cfg, "KVNS_PORT", "65535");
    assert_int_equal(cfg.port, 65535);
    load_ok(&cfg, "KVNS_METRICS_PORT", "0");
    assert_int_equal(cfg.metrics_port, 0);
    load_ok(&cfg, "KVNS_METRICS_PORT", "9100");
    assert_int_equal(cfg.metrics_port, 9100);

    load_ok(&cfg, "KVNS_PERSIST_PATH", "/var/lib/kvns/dump.kvns");
    assert_string_equal(cfg.persist_path, "/var/lib/kvns/dump.kvns");
    load_ok(&cfg, "KVNS_PERSIST_PATH", "");
    assert_string_equal(cfg.persist_path, "");
    load_ok(&cfg, "KVNS_PERSIST_INTERVAL", "1");
    assert_int_equal(cfg.persist_interval, 1);
    load_ok(&cfg, "KVNS_PERSIST_INTERVAL", "2147483648");
    assert_int_equal(cfg.persist_interval, 2147483648U);

    load_ok(&cfg, "KVNS_EVICTION_POLICY", "lru");
    assert_int_equal(cfg.eviction_policy, EVICT_LRU);
    load_ok(&cfg, "KVNS_EVICTION_POLICY", "MRU");
    assert_int_equal(cfg.eviction_policy, EVICT_MRU);
    load_ok(&cfg, "KVNS_EVICTION_POLICY", "lfu");
    assert_int_equal(cfg.eviction_policy, EVICT_LRU);
    load_ok(&cfg, "KVNS_EVICTION_POLICY", "Mfu");
    assert_int_equal(cfg.eviction_policy, EVICT_MRU);
    load_ok(&cfg, "KVNS_EVICTION_POLICY", "none");
    assert_int_equal(cfg.eviction_policy, EVICT_NONE);

    load_ok(&cfg, "KVNS_EVICTION_THRESHOLD", "0.9");
    assert_true(cfg.eviction_threshold == 0.9);
    load_ok(&cfg, "KVNS_EVICTION_THRESHOLD", "1");
    assert_true(cfg.eviction_threshold == 1.0);
    load_ok(&cfg, "KVNS_EVICTION_THRESHOLD", "1.000");
    load_ok(&cfg, "KVNS_EVICTION_THRESHOLD", ".25");
    assert_true(cfg.eviction_threshold == 0.25);
    load_ok(&cfg, "KVNS_EVICTION_THRESHOLD", "0.000001");

    static const char *const truthy[] = {"1", "true", "TRUE", "yes", "Yes", "on", "ON"};
    static const char *const falsy[] = {"0", "false", "False", "no", "NO", "off", "oFF"};
    for (size_t i = 0; i < sizeof truthy / sizeof truthy[0]; i++) {
        load_ok(&cfg, "KVNS_SHARDED_MODE", truthy[i]);
        assert_true(cfg.sharded_mode);
        load_ok(&cfg, "KVNS_SHARDED_MODE", falsy[i]);
        assert_false(cfg.sharded_mode);
        load_ok(&cfg, "KVNS_STOP_WRITES_ON_BGSAVE_ERROR", falsy[i]);
        assert_false(cfg.stop_writes_on_bgsave_error);
        load_ok(&cfg, "KVNS_STOP_WRITES_ON_BGSAVE_ERROR", truthy[i]);
        assert_true(cfg.stop_writes_on_bgsave_error);
    }

    load_ok(&cfg, "KVNS_MAX_NAMESPACES", "1");
    assert_int_equal(cfg.max_namespaces, 1);
    load_ok(&cfg, "KVNS_MAX_NAMESPACES", "4096");
    assert_int_equal(cfg.max_namespaces, 4096);

    load_ok(&cfg, "KVNS_WORKERS", "1");
    assert_int_equal(cfg.workers, 1);
    load_ok(&cfg, "KVNS_WORKERS", "256");
    assert_int_equal(cfg.workers, 256);
    load_ok(&cfg, "KVNS_THREADS", "64");
    assert_int_equal(cfg.threads, 64);
    load_ok(&cfg, "KVNS_MAX_CLIENTS", "1");
    assert_int_equal(cfg.max_clients, 1);
    load_ok(&cfg, "KVNS_MAX_CLIENTS", "1000000");
    assert_int_equal(cfg.max_clients, 1000000);

    load_ok(&cfg, "KVNS_LOG_LEVEL", "error");
    assert_int_equal(cfg.log_level, LOG_LVL_ERROR);
    load_ok(&cfg, "KVNS_LOG_LEVEL", "warn");
    assert_int_equal(cfg.log_level, LOG_LVL_WARN);
    load_ok(&cfg, "KVNS_LOG_LEVEL", "Info");
    assert_int_equal(cfg.log_level, LOG_LVL_INFO);
    load_ok(&cfg, "KVNS_LOG_LEVEL", "DEBUG");
    assert_int_equal(cfg.log_level, LOG_LVL_DEBUG);
}

static void test_several_variables_together(void **state)
{
    kvns_config cfg;
    char err[256];
    fake_set("KVNS_PORT", "7000");
    fake_set("KVNS_WORKERS", "3");
    fake_set("KVNS_NS_EVICTION", "a:lru");
    fake_set("KVNS_EVICTION_POLICY", "mru");
    assert_int_equal(config_load_from(&cfg, fake_getenv, err, sizeof err), 0);
    assert_int_equal(cfg.port, 7000);
    assert_int_equal(cfg.workers, 3);
    assert_int_equal(cfg.ns_eviction_count, 1);
    assert_int_equal(cfg.eviction_policy, EVICT_MRU);

    /* the first bad variable stops the load */
    fake_set("KVNS_THREADS", "0");
    assert_int_equal(config_load_from(&cfg, fake_getenv, err, sizeof err), -1);
    assert_string_equal(err, "KVNS_THREADS: invalid value '0': expected an integer from 1 to 64");
}

struct bad_value {
    const char *name;
    const char *value;
    const char *message;
};

static void test_bad_values_exact_messages(void **state)
{
#define HOST_HELP "expected an IPv4 address, an IPv6 address (no brackets) or a host name, 1 to 255 bytes"
#define BOOL_HELP "expected one of 1, 0, true, false, yes, no, on, off"
#define THRESHOLD_HELP "expected a decimal number greater than 0 and at most 1 (e.g. 0.9)"
    static const struct bad_value cases[] = {
        {"KVNS_PORT", "abc", "KVNS_PORT: invalid value 'abc': expected an integer from 1 to 65535"},
        {"KVNS_PORT", "0", "KVNS_PORT: invalid value '0': expected an integer from 1 to 65535"},
        {"KVNS_PORT", "65536", "KVNS_PORT: invalid value '65536': expected an integer from 1 to 65535"},
        {"KVNS_PORT", "80x", "KVNS_PORT: invalid value '80x': expected an integer from 1 to 65535"},
        {"KVNS_PORT", " 80", "KVNS_PORT: invalid value ' 80': expected an integer from 1 to 65535"},
        {"KVNS_PORT", "+80", "KVNS_PORT: invalid value '+80': expected an integer from 1 to 65535"},
        {"KVNS_PORT", "-1", "KVNS_PORT: invalid value '-1': expected an integer from 1 to 65535"},
        {"KVNS_PORT", "", "KVNS_PORT: invalid value '': expected an integer from 1 to 65535"},
        {"KVNS_PORT", "99999999999999999999999",
         "KVNS_PORT: invalid value '99999999999999999999999': expected an integer from 1 to 65535"},
        {"KVNS_METRICS_PORT", "65536",
         "KVNS_METRICS_PORT: invalid value '65536': expected an integer from 0 to 65535 (0 disables metrics)"},
        {"KVNS_METRICS_PORT", "x",
         "KVNS_METRICS_PORT: invalid value 'x': expected an integer from 0 to 65535 (0 disables metrics)"},
        {"KVNS_PERSIST_INTERVAL", "0",
         "KVNS_PERSIST_INTERVAL: invalid value '0': expected an integer from 1 to 2147483648 (seconds)"},
        {"KVNS_PERSIST_INTERVAL", "2147483649",
         "KVNS_PERSIST_INTERVAL: invalid value '2147483649': expected an integer from 1 to 2147483648 (seconds)"},
        {"KVNS_PERSIST_INTERVAL", "5m",
         "KVNS_PERSIST_INTERVAL: invalid value '5m': expected an integer from 1 to 2147483648 (seconds)"},
        {"KVNS_SHARD_COUNT", "0",
         "KVNS_SHARD_COUNT: invalid value '0': expected an integer from 1 to 65536 (rounded up to a power of two)"},
        {"KVNS_SHARD_COUNT", "65537",
         "KVNS_SHARD_COUNT: invalid value '65537': expected an integer from 1 to 65536 (rounded up to a power of two)"},
        {"KVNS_WORKERS", "0", "KVNS_WORKERS: invalid value '0': expected an integer from 1 to 256"},
        {"KVNS_WORKERS", "257", "KVNS_WORKERS: invalid value '257': expected an integer from 1 to 256"},
        {"KVNS_THREADS", "65", "KVNS_THREADS: invalid value '65': expected an integer from 1 to 64"},
        {"KVNS_THREADS", "1.5", "KVNS_THREADS: invalid value '1.5': expected an integer from 1 to 64"},
        {"KVNS_MAX_CLIENTS", "0", "KVNS_MAX_CLIENTS: invalid value '0': expected an integer from 1 to 1000000"},
        {"KVNS_MAX_CLIENTS", "1000001",
         "KVNS_MAX_CLIENTS: invalid value '1000001': expected an integer from 1 to 1000000"},
        {"KVNS_EVICTION_POLICY", "foo",
         "KVNS_EVICTION_POLICY: invalid value 'foo': expected one of none, lru, mru (lfu, mfu are aliases)"},
        {"KVNS_EVICTION_POLICY", "",
         "KVNS_EVICTION_POLICY: invalid value '': expected one of none, lru, mru (lfu, mfu are aliases)"},
        {"KVNS_EVICTION_POLICY", "allkeys-lru",
         "KVNS_EVICTION_POLICY: invalid value 'allkeys-lru': expected one of none, lru, mru (lfu, mfu are aliases)"},
        {"KVNS_EVICTION_THRESHOLD", "0", "KVNS_EVICTION_THRESHOLD: invalid value '0': " THRESHOLD_HELP},
        {"KVNS_EVICTION_THRESHOLD", "0.0", "KVNS_EVICTION_THRESHOLD: invalid value '0.0': " THRESHOLD_HELP},
        {"KVNS_EVICTION_THRESHOLD", "1.01", "KVNS_EVICTION_THRESHOLD: invalid value '1.01': " THRESHOLD_HELP},
        {"KVNS_EVICTION_THRESHOLD", "-0.5", "KVNS_EVICTION_THRESHOLD: invalid value '-0.5': " THRESHOLD_HELP},
        {"KVNS_EVICTION_THRESHOLD", "1e-1", "KVNS_EVICTION_THRESHOLD: invalid value '1e-1': " THRESHOLD_HELP},
        {"KVNS_EVICTION_THRESHOLD", "nan", "KVNS_EVICTION_THRESHOLD: invalid value 'nan': " THRESHOLD_HELP},
        {"KVNS_EVICTION_THRESHOLD", "0.5.1", "KVNS_EVICTION_THRESHOLD: invalid value '0.5.1': " THRESHOLD_HELP},
        {"KVNS_EVICTION_THRESHOLD", ".", "KVNS_EVICTION_THRESHOLD: invalid value '.': " THRESHOLD_HELP},
        {"KVNS_EVICTION_THRESHOLD", "90%", "KVNS_EVICTION_THRESHOLD: invalid value '90%': " THRESHOLD_HELP},
        {"KVNS_EVICTION_THRESHOLD", "", "KVNS_EVICTION_THRESHOLD: invalid value '': " THRESHOLD_HELP},
        {"KVNS_SHARDED_MODE", "maybe", "KVNS_SHARDED_MODE: invalid value 'maybe': " BOOL_HELP},
        {"KVNS_SHARDED_MODE", "2", "KVNS_SHARDED_MODE: invalid value '2': " BOOL_HELP},
        {"KVNS_SHARDED_MODE", "", "KVNS_SHARDED_MODE: invalid value '': " BOOL_HELP},
        {"KVNS_MAX_NAMESPACES", "0",
         "KVNS_MAX_NAMESPACES: invalid value '0': expected an integer from 1 to 4096 (the default namespace included)"},
        {"KVNS_MAX_NAMESPACES", "4097",
         "KVNS_MAX_NAMESPACES: invalid value '4097': expected an integer from 1 to 4096 (the default namespace included)"},
        {"KVNS_STOP_WRITES_ON_BGSAVE_ERROR", "maybe",
         "KVNS_STOP_WRITES_ON_BGSAVE_ERROR: invalid value 'maybe': " BOOL_HELP},
        {"KVNS_LOG_LEVEL", "verbose",
         "KVNS_LOG_LEVEL: invalid value 'verbose': expected one of error, warn, info, debug"},
        {"KVNS_LOG_LEVEL", "warning",
         "KVNS_LOG_LEVEL: invalid value 'warning': expected one of error, warn, info, debug"},
        {"KVNS_HOST", "", "KVNS_HOST: invalid value '': " HOST_HELP},
        {"KVNS_HOST", "[::1]", "KVNS_HOST: invalid value '[::1]': " HOST_HELP},
        {"KVNS_HOST", "has space", "KVNS_HOST: invalid value 'has space': " HOST_HELP},
        {"KVNS_HOST", "-lead.example", "KVNS_HOST: invalid value '-lead.example': " HOST_HELP},
        {"KVNS_HOST", "trail-.example", "KVNS_HOST: invalid value 'trail-.example': " HOST_HELP},
        {"KVNS_HOST", "a..b", "KVNS_HOST: invalid value 'a..b': " HOST_HELP},
        {"KVNS_HOST", "10.0.0.300", "KVNS_HOST: invalid value '10.0.0.300': " HOST_HELP},
        {"KVNS_HOST", "0.0.0.0:6480", "KVNS_HOST: invalid value '0.0.0.0:6480': " HOST_HELP},
        {"KVNS_METRICS_HOST", "bad/host", "KVNS_METRICS_HOST: invalid value 'bad/host': " HOST_HELP},
        {"KVNS_MEMORY_LIMIT", "lots",
         "KVNS_MEMORY_LIMIT: invalid value 'lots': expected a byte count, optionally with a "
         "1024-based unit k, kb, m, mb, g or gb (e.g. 512mb, 4g), or 0 for 70% of host RAM"},
        {"KVNS_MEMORY_LIMIT", "1000",
         "KVNS_MEMORY_LIMIT: invalid value '1000': expected at least 1 MiB (1048576 bytes, 1mb), "
         "or 0 for 70% of host RAM"},
        {"KVNS_MEMORY_LIMIT", "1023k",
         "KVNS_MEMORY_LIMIT: invalid value '1023k': expected at least 1 MiB (1048576 bytes, 1mb), "
         "or 0 for 70% of host RAM"},
        {"KVNS_NS_EVICTION", "a:lru,b",
         "KVNS_NS_EVICTION: invalid value 'a:lru,b': entry 'b' has no ':'; expected comma-separated "
         "ns:policy entries, policy one of none, lru, mru (lfu, mfu are aliases)"},
        {"KVNS_NS_EVICTION", ":lru",
         "KVNS_NS_EVICTION: invalid value ':lru': entry ':lru' has an empty namespace; expected "
         "comma-separated ns:policy entries, policy one of none, lru, mru (lfu, mfu are aliases)"},
        {"KVNS_NS_EVICTION", "a:fifo",
         "KVNS_NS_EVICTION: invalid value 'a:fifo': entry 'a:fifo' has an unknown policy; expected "
         "comma-separated ns:policy entries, policy one of none, lru, mru (lfu, mfu are aliases)"},
        {"KVNS_NS_EVICTION", "a:",
         "KVNS_NS_EVICTION: invalid value 'a:': entry 'a:' has an unknown policy; expected "
         "comma-separated ns:policy entries, policy one of none, lru, mru (lfu, mfu are aliases)"},
        {"KVNS_NS_EVICTION", "a:lru,b:mru,a:mru",
         "KVNS_NS_EVICTION: invalid value 'a:lru,b:mru,a:mru': entry 'a:mru' repeats a namespace "
         "already listed; expected comma-separated ns:policy entries, policy one of none, lru, "
         "mru (lfu, mfu are aliases)"},
        {"KVNS_NS_EVICTION", "a/b:lru",
         "KVNS_NS_EVICTION: invalid value 'a/b:lru': entry 'a/b:lru' has a '/' in its namespace; "
         "expected comma-separated ns:policy entries, policy one of none, lru, mru (lfu, mfu are "
         "aliases)"},
        {"KVNS_PORT", "1\n2", "KVNS_PORT: invalid value '1?2': expected an integer from 1 to 65535"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        load_fails(cases[i].name, cases[i].value, cases[i].message);
#undef HOST_HELP
#undef BOOL_HELP
#undef THRESHOLD_HELP
}

static void test_host_limits(void **state)
{
    kvns_config cfg;
    char err[512];
    char name[300];

    /* 63-byte labels are fine, 64 are not */
    memset(name, 'a', 63);
    strcpy(name + 63, ".example");
    load_ok(&cfg, "KVNS_HOST", name);
    assert_string_equal(cfg.host, name);
    memset(name, 'a', 64);
    strcpy(name + 64, ".example");
    load_fails_any("KVNS_HOST", name, err, sizeof err);

    /* 253 bytes in total at most */
    for (int i = 0; i < 300; i++)
        name[i] = (i % 50 == 49) ? '.' : 'b';
    name[253] = '\0';
    load_ok(&cfg, "KVNS_HOST", name);
    name[253] = 'c';
    name[254] = '\0';
    load_fails_any("KVNS_HOST", name, err, sizeof err);
    name[299] = '\0';
    load_fails_any("KVNS_METRICS_HOST", name, err, sizeof err);
}

static void test_persist_path_limit(void **state)
{
    kvns_config cfg;
    char err[512];
    char *path = malloc(sizeof cfg.persist_path + 1);
    assert_non_null(path);
    memset(path, 'p', sizeof cfg.persist_path - 1);
    path[sizeof cfg.persist_path - 1] = '\0';
    load_ok(&cfg, "KVNS_PERSIST_PATH", path);
    assert_int_equal(strlen(cfg.persist_path), sizeof cfg.persist_path - 1);
    path[sizeof cfg.persist_path - 1] = 'p';
    path[sizeof cfg.persist_path] = '\0';
    load_fails_any("KVNS_PERSIST_PATH", path, err, sizeof err);
    assert_non_null(strstr(err, "expected a file path shorter than 4096 bytes, or empty for no "
                                "persistence"));
    free(path);
}

static void test_long_bad_value_is_cut_in_message(void **state)
{
    char value[1000];
    char err[1024];
    memset(value, '9', sizeof value - 1);
    value[sizeof value - 1] = '\0';
    load_fails_any("KVNS_PORT", value, err, sizeof err);
    assert_true(strlen(err) < 300);
    assert_non_null(strstr(err, "...': expected an integer from 1 to 65535"));

    /* tiny or absent buffers are survivable */
    kvns_config cfg;
    char tiny[8];
    fake_env_count = 0;
    fake_set("KVNS_PORT", "bad");
    assert_int_equal(config_load_from(&cfg, fake_getenv, tiny, sizeof tiny), -1);
    assert_string_equal(tiny, "KVNS_PO");
    assert_int_equal(config_load_from(&cfg, fake_getenv, NULL, 0), -1);
}

static void test_memory_limit_parsing(void **state)
{
    static const struct {
        const char *text;
        unsigned long long bytes;
    } good[] = {
        {"1048576", MIB},      {"1024k", MIB},      {"1024KB", MIB},       {"1m", MIB},
        {"64mb", 64 * MIB},    {"64MB", 64 * MIB},  {"64Mb", 64 * MIB},    {"2g", 2 * GIB},
        {"2GB", 2 * GIB},      {"0", 0},            {"0mb", 0},            {"1073741824", GIB},
        {"16777216k", 16 * GIB},
    };
    static const char *const bad[] = {
        "", "1.5g", "10tb", "1t", "-1", " 1g", "1g ", "1 g", "mb", "g1", "1gbb", "1b",
        "0x100000", "99999999999999999999999", "18446744073709551615g", "1e9",
    };
    kvns_config cfg;
    char err[512];

    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        load_ok(&cfg, "KVNS_MEMORY_LIMIT", good[i].text);
        if (cfg.memory_limit_requested != good[i].bytes)
            fail_msg("'%s' parsed as %llu", good[i].text,
                     (unsigned long long)cfg.memory_limit_requested);
        assert_non_null(cfg.memory_limit_source);
        assert_true(cfg.memory_limit > 0);
        if (good[i].bytes != 0)
            assert_true(cfg.memory_limit <= good[i].bytes);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        load_fails_any("KVNS_MEMORY_LIMIT", bad[i], err, sizeof err);

    /* small values stay as asked on any real host */
    load_ok(&cfg, "KVNS_MEMORY_LIMIT", "16mb");
    assert_int_equal(cfg.memory_limit, 16 * MIB);
    assert_string_equal(cfg.memory_limit_source, "KVNS_MEMORY_LIMIT");
}

struct memory_rule {
    bool set;
    unsigned long long requested, host_ram, cgroup_max;
    unsigned long long expected;
    const char *source;
};

static void test_memory_limit_rule_table(void **state)
{
    static const struct memory_rule rules[] = {
        /* unset: 1 GiB, clamped to 70% of RAM only on small hosts */
        {false, 0, 16 * GIB, 0, GIB, "default"},
        {false, 0, 0, 0, GIB, "default"},
        {false, 0, 1 * GIB, 0, 1 * GIB * 7 / 10, "default, clamped to 70% of host RAM"},
        {false, 0, 16 * GIB, 512 * MIB, 512 * MIB * 7 / 10,
         "default, clamped to 70% of cgroup memory.max"},
        /* 0: 70% of RAM, 1 GiB when RAM is unknown */
        {true, 0, 10 * GIB, 0, 7 * GIB, "70% of host RAM"},
        {true, 0, 0, 0, GIB, "default (KVNS_MEMORY_LIMIT=0 but host RAM is unknown)"},
        {true, 0, 10 * GIB, 2 * GIB, 2 * GIB * 7 / 10, "70% of cgroup memory.max"},
        {true, 0, 0, 2 * GIB, 2 * GIB * 7 / 10, "70% of cgroup memory.max"},
        {true, 0, 2 * GIB, 10 * GIB, 2 * GIB * 7 / 10, "70% of host RAM"},
        /* explicit values: kept up to 70% of RAM, clamped above */
        {true, 4 * GIB, 16 * GIB, 0, 4 * GIB, "KVNS_MEMORY_LIMIT"},
        {true, 7 * GIB, 10 * GIB, 0, 7 * GIB, "KVNS_MEMORY_LIMIT"}, /* exactly 70% */
        {true, 7 * GIB + 1, 10 * GIB, 0, 7 * GIB, "KVNS_MEMORY_LIMIT, clamped to 70% of host RAM"},
        {true, 64 * GIB, 10 * GIB, 0, 7 * GIB, "KVNS_MEMORY_LIMIT, clamped to 70% of host RAM"},
        {true, 64 * GIB, 0, 0, 64 * GIB, "KVNS_MEMORY_LIMIT"}, /* RAM unknown: keep */
        {true, 4 * GIB, 16 * GIB, 4 * GIB, 4 * GIB * 7 / 10,
         "KVNS_MEMORY_LIMIT, clamped to 70% of cgroup memory.max"},
        {true, 1 * GIB, 16 * GIB, 4 * GIB, 1 * GIB, "KVNS_MEMORY_LIMIT"},
        {true, 8 * GIB, 0, 4 * GIB, 4 * GIB * 7 / 10,
         "KVNS_MEMORY_LIMIT, clamped to 70% of cgroup memory.max"},
        /* 70% of a huge value does not overflow */
        {true, 0, UINT64_MAX, 0, UINT64_MAX / 10 * 7 + UINT64_MAX % 10 * 7 / 10, "70% of host RAM"},
    };
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
        const char *source = NULL;
        uint64_t got = config_effective_memory_limit(rules[i].set, rules[i].requested,
                                                     rules[i].host_ram, rules[i].cgroup_max,
                                                     &source);
        if (got != rules[i].expected || source == NULL ||
            strcmp(source, rules[i].source) != 0)
            fail_msg("rule %zu: got %llu '%s', expected %llu '%s'", i,
                     (unsigned long long)got, source ? source : "(null)", rules[i].expected,
                     rules[i].source);
    }
    /* source may be NULL */
    assert_int_equal(config_effective_memory_limit(false, 0, 0, 0, NULL), GIB);
}

static void test_shard_count_rounding(void **state)
{
    static const struct {
        const char *text;
        unsigned expected;
    } cases[] = {
        {"1", 1},     {"2", 2},       {"3", 4},         {"5", 8},         {"16", 16},
        {"17", 32},   {"1000", 1024}, {"32768", 32768}, {"32769", 65536}, {"65536", 65536},
    };
    kvns_config cfg;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        load_ok(&cfg, "KVNS_SHARD_COUNT", cases[i].text);
        if (cfg.shard_count != cases[i].expected)
            fail_msg("KVNS_SHARD_COUNT=%s gave %u, expected %u", cases[i].text, cfg.shard_count,
                     cases[i].expected);
    }
}

static void test_ns_eviction_parsing(void **state)
{
    kvns_config cfg;

    load_ok(&cfg, "KVNS_NS_EVICTION", "sessions:lru,cache:mru");
    assert_int_equal(cfg.ns_eviction_count, 2);
    assert_string_equal(cfg.ns_eviction[0].name, "sessions");
    assert_int_equal(cfg.ns_eviction[0].policy, EVICT_LRU);
    assert_string_equal(cfg.ns_eviction[1].name, "cache");
    assert_int_equal(cfg.ns_eviction[1].policy, EVICT_MRU);

    /* blanks and empty entries are ignored, aliases and case accepted */
    load_ok(&cfg, "KVNS_NS_EVICTION", ", a : lfu ,, b:MFU ,c:none,");
    assert_int_equal(cfg.ns_eviction_count, 3);
    assert_string_equal(cfg.ns_eviction[0].name, "a");
    assert_int_equal(cfg.ns_eviction[0].policy, EVICT_LRU);
    assert_string_equal(cfg.ns_eviction[1].name, "b");
    assert_int_equal(cfg.ns_eviction[1].policy, EVICT_MRU);
    assert_string_equal(cfg.ns_eviction[2].name, "c");
    assert_int_equal(cfg.ns_eviction[2].policy, EVICT_NONE);

    /* a namespace may contain ':' (split at the last one); names are case-sensitive */
    load_ok(&cfg, "KVNS_NS_EVICTION", "app:v1:lru,A:mru,a:mru");
    assert_int_equal(cfg.ns_eviction_count, 3);
    assert_string_equal(cfg.ns_eviction[0].name, "app:v1");

    load_ok(&cfg, "KVNS_NS_EVICTION", "");
    assert_int_equal(cfg.ns_eviction_count, 0);
    load_ok(&cfg, "KVNS_NS_EVICTION", " , ,, ");
    assert_int_equal(cfg.ns_eviction_count, 0);
}

static void test_ns_eviction_limits(void **state)
{
    kvns_config cfg;
    char err[512];
    char value[CONFIG_MAX_NS_OVERRIDES * 16];
    char name[CONFIG_NS_NAME_MAX + 16];

    /* names up to CONFIG_NS_NAME_MAX - 1 bytes */
    memset(name, 'n', CONFIG_NS_NAME_MAX - 1);
    strcpy(name + CONFIG_NS_NAME_MAX - 1, ":lru");
    load_ok(&cfg, "KVNS_NS_EVICTION", name);
    assert_int_equal(strlen(cfg.ns_eviction[0].name), CONFIG_NS_NAME_MAX - 1);
    memset(name, 'n', CONFIG_NS_NAME_MAX);
    strcpy(name + CONFIG_NS_NAME_MAX, ":lru");
    load_fails_any("KVNS_NS_EVICTION", name, err, sizeof err);
    assert_non_null(strstr(err, "has a namespace longer than 127 bytes"));

    /* at most CONFIG_MAX_NS_OVERRIDES entries */
    size_t len = 0;
    for (int i = 0; i < CONFIG_MAX_NS_OVERRIDES; i++)
        len += (size_t)snprintf(value + len, sizeof value - len, "ns%d:lru,", i);
    load_ok(&cfg, "KVNS_NS_EVICTION", value);
    assert_int_equal(cfg.ns_eviction_count, CONFIG_MAX_NS_OVERRIDES);
    assert_string_equal(cfg.ns_eviction[CONFIG_MAX_NS_OVERRIDES - 1].name, "ns63");
    snprintf(value + len, sizeof value - len, "extra:mru");
    load_fails_any("KVNS_NS_EVICTION", value, err, sizeof err);
    assert_non_null(strstr(err, "more than 64 entries"));
}

static void test_evict_policy_helpers(void **state)
{
    enum evict_policy policy = EVICT_MRU;
    assert_string_equal(evict_policy_name(EVICT_NONE), "none");
    assert_string_equal(evict_policy_name(EVICT_LRU), "lru");
    assert_string_equal(evict_policy_name(EVICT_MRU), "mru");
    assert_string_equal(evict_policy_name((enum evict_policy)42), "unknown");

    assert_int_equal(evict_policy_parse("NONE", &policy), 0);
    assert_int_equal(policy, EVICT_NONE);
    assert_int_equal(evict_policy_parse("lfu", &policy), 0);
    assert_int_equal(policy, EVICT_LRU);
    assert_int_equal(evict_policy_parse("MFU", &policy), 0);
    assert_int_equal(policy, EVICT_MRU);
    assert_int_equal(evict_policy_parse("lru ", &policy), -1);
    assert_int_equal(evict_policy_parse("", &policy), -1);
    assert_int_equal(evict_policy_parse(NULL, &policy), -1);
    assert_int_equal(policy, EVICT_MRU); /* untouched on failure */
}

static void test_config_load_reads_process_environment(void **state)
{
    kvns_config cfg;
    char err[256];
    setenv("KVNS_PORT", "6555", 1);
    setenv("KVNS_LOG_LEVEL", "debug", 1);
    assert_int_equal(config_load(&cfg, err, sizeof err), 0);
    assert_int_equal(cfg.port, 6555);
    assert_int_equal(cfg.log_level, LOG_LVL_DEBUG);
    setenv("KVNS_PORT", "nope", 1);
    assert_int_equal(config_load(&cfg, err, sizeof err), -1);
    assert_string_equal(err, "KVNS_PORT: invalid value 'nope': expected an integer from 1 to 65535");
    unsetenv("KVNS_PORT");
    unsetenv("KVNS_LOG_LEVEL");
}

/* Every worker process may hold every client, so each needs max_clients plus the
 * reserved descriptors; a lower limit lowers max_clients, never below 1. */
static void test_max_clients_fit_fd_limit(void **state)
{
    assert_int_equal(config_fds_needed(10000, 1), 10033);
    assert_int_equal(config_fds_needed(100, 4), 136);
    assert_int_equal(config_clients_for_fds(10000, 1, 1048576), 10000);
    assert_int_equal(config_clients_for_fds(10000, 1, 10033), 10000);
    assert_int_equal(config_clients_for_fds(10000, 1, 10032), 9999);
    assert_int_equal(config_clients_for_fds(10000, 1, 1024), 991);
    assert_int_equal(config_clients_for_fds(10000, 2, 64), 30);
    assert_int_equal(config_clients_for_fds(10000, 1, 33), 1);
    assert_int_equal(config_clients_for_fds(10000, 1, 0), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_defaults, fake_reset),
        cmocka_unit_test_setup(test_good_values, fake_reset),
        cmocka_unit_test_setup(test_several_variables_together, fake_reset),
        cmocka_unit_test_setup(test_bad_values_exact_messages, fake_reset),
        cmocka_unit_test_setup(test_host_limits, fake_reset),
        cmocka_unit_test_setup(test_persist_path_limit, fake_reset),
        cmocka_unit_test_setup(test_long_bad_value_is_cut_in_message, fake_reset),
        cmocka_unit_test_setup(test_memory_limit_parsing, fake_reset),
        cmocka_unit_test_setup(test_memory_limit_rule_table, fake_reset),
        cmocka_unit_test_setup(test_shard_count_rounding, fake_reset),
        cmocka_unit_test_setup(test_ns_eviction_parsing, fake_reset),
        cmocka_unit_test_setup(test_ns_eviction_limits, fake_reset),
        cmocka_unit_test_setup(test_evict_policy_helpers, fake_reset),
        cmocka_unit_test_setup(test_config_load_reads_process_environment, fake_reset),
        cmocka_unit_test(test_max_clients_fit_fd_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
