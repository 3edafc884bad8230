/* config.c - reads and validates the KVNS_* environment variables (see config.h).
 *
 * A variable counts as set whenever the environment has it, even when empty; an empty
 * value is then validated like any other (so KVNS_PORT= is an error, while
 * KVNS_PERSIST_PATH= and KVNS_NS_EVICTION= are valid and mean "none").
 * Every error is one line: "NAME: invalid value 'VALUE': expected ...". Control and
 * non-ASCII bytes in VALUE are shown as '?', and long values are cut short.
 */
#include "kvns/config.h"
#include "kvns/arena.h"
#include "kvns/log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <unistd.h>

#include "kvns/log.h"

#define MIB (1024ULL * 1024)
#define GIB (1024ULL * 1024 * 1024)
#define DEFAULT_MEMORY_LIMIT GIB
#define MIN_MEMORY_LIMIT MIB
#define MAX_SHARDS 65536U
#define MAX_WORKERS 256U
#define MAX_THREADS 64U
#define MAX_CLIENTS 1000000U
#define MAX_PERSIST_INTERVAL 2147483648ULL /* 2^31 seconds */
#define HOST_MAX 256                       /* sizeof kvns_config.host, NUL included */
#define SHOWN_VALUE_MAX 128                /* bytes of a bad value quoted in errors */
#define CGROUP_ROOT "/sys/fs/cgroup"

#define POLICY_CHOICES "none, lru, mru (lfu, mfu are aliases)"

typedef const char *(*getenv_func)(const char *name);

/* Copies at most SHOWN_VALUE_MAX bytes of text[0..len) into out for an error message,
 * with non-printable bytes as '?' and "..." when cut, so errors stay one short line. */
static void show_value(const char *text, size_t len, char *out, size_t outlen)
{
    size_t shown = 0;
    size_t limit = outlen > 4 ? outlen - 4 : 0; /* room for "..." and NUL */
    if (limit > SHOWN_VALUE_MAX)
        limit = SHOWN_VALUE_MAX;
    for (size_t i = 0; i < len && shown < limit; i++) {
        unsigned char c = (unsigned char)text[i];
        out[shown++] = (c >= ' ' && c < 0x7f) ? (char)c : '?';
    }
    if (shown < len && outlen >= 4) {
        memcpy(out + shown, "...", 3);
        shown += 3;
    }
    if (outlen > 0)
        out[shown] = '\0';
}

/* Writes "NAME: invalid value 'VALUE': <expected...>" into err and returns -1, so every
 * failure path is one `return invalid_value(...)`. */
__attribute__((format(printf, 5, 6)))
static int invalid_value(char *err, size_t errlen, const char *name, const char *value,
                         const char *expected_fmt, ...)
{
    if (err == NULL || errlen == 0)
        return -1;
    char shown[SHOWN_VALUE_MAX + 4];
    show_value(value, strlen(value), shown, sizeof shown);
    int used = snprintf(err, errlen, "%s: invalid value '%s': ", name, shown);
    if (used < 0 || (size_t)used >= errlen)
        return -1;
    va_list args;
    va_start(args, expected_fmt);
    vsnprintf(err + used, errlen - (size_t)used, expected_fmt, args);
    va_end(args);
    return -1;
}

/* Parses a plain decimal integer: digits only, no sign, no spaces, no trailing junk.
 * Returns true and sets *out when text is such a number and fits in 64 bits. */
static bool parse_decimal_u64(const char *text, uint64_t *out)
{
    if (text[0] < '0' || text[0] > '9')
        return false;
    uint64_t value = 0;
    for (const char *p = text; *p != '\0'; p++) {
        if (*p < '0' || *p > '9')
            return false;
        unsigned digit = (unsigned)(*p - '0');
        if (value > (UINT64_MAX - digit) / 10)
            return false;
        value = value * 10 + digit;
    }
    *out = value;
    return true;
}

/* Reads an integer variable bounded to [min, max]; keeps *out (the default) when unset.
 * hint is appended to the "expected" text, e.g. " (0 disables metrics)".
 * Returns 0, or -1 with err set. */
static int load_integer(getenv_func env, const char *name, uint64_t min, uint64_t max,
                        const char *hint, uint64_t *out, char *err, size_t errlen)
{
    const char *text = env(name);
    if (text == NULL)
        return 0;
    uint64_t value;
    if (!parse_decimal_u64(text, &value) || value < min || value > max)
        return invalid_value(err, errlen, name, text,
                             "expected an integer from %llu to %llu%s",
                             (unsigned long long)min, (unsigned long long)max, hint);
    *out = value;
    return 0;
}

/* Returns the smallest power of two >= value (value must be 1..2^31). */
static unsigned round_up_power_of_two(unsigned value)
{
    unsigned power = 1;
    while (power < value)
        power <<= 1;
    return power;
}

/* Returns the number of online CPUs, at least 1. */
static unsigned online_cpu_count(void)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    if (cpus < 1)
        return 1;
    if (cpus > (long)MAX_SHARDS)
        return MAX_SHARDS;
    return (unsigned)cpus;
}

/* Returns the printable name of a policy ("none", "lru", "mru"), for logs and INFO. */
const char *evict_policy_name(enum evict_policy p)
{
    switch (p) {
    case EVICT_NONE: return "none";
    case EVICT_LRU:  return "lru";
    case EVICT_MRU:  return "mru";
    }
    return "unknown";
}

/* Parses none|lru|mru, with lfu as an alias of lru and mfu of mru (names some
 * deployments already use), ignoring case. Returns 0, or -1 for anything else. */
int evict_policy_parse(const char *s, enum evict_policy *out)
{
    if (s == NULL)
        return -1;
    if (strcasecmp(s, "none") == 0)
        *out = EVICT_NONE;
    else if (strcasecmp(s, "lru") == 0 || strcasecmp(s, "lfu") == 0)
        *out = EVICT_LRU;
    else if (strcasecmp(s, "mru") == 0 || strcasecmp(s, "mfu") == 0)
        *out = EVICT_MRU;
    else
        return -1;
    return 0;
}

/* Returns true when text is an IPv4 or IPv6 address literal (no brackets). */
static bool is_ip_literal(const char *text)
{
    struct in_addr v4;
    struct in6_addr v6;
    return inet_pton(AF_INET, text, &v4) == 1 || inet_pton(AF_INET6, text, &v6) == 1;
}

/* Returns true when text is a syntactically valid DNS host name: dot-separated labels of
 * 1..63 letters, digits, '-' or '_' (underscores appear in container service names), no
 * label starting or ending with '-', at most 253 bytes plus an optional final dot, and a
 * last label that is not all digits (so "10.0.0.300" is not taken for a name). */
static bool is_valid_hostname(const char *text)
{
    size_t len = strlen(text);
    if (len > 0 && text[len - 1] == '.')
        len--; /* fully qualified form */
    if (len == 0 || len > 253)
        return false;

    size_t label_start = 0;
    bool label_all_digits = true;
    for (size_t i = 0; i <= len; i++) {
        char c = i < len ? text[i] : '.';
        if (c == '.') {
            size_t label_len = i - label_start;
            if (label_len == 0 || label_len > 63)
                return false;
            if (text[label_start] == '-' || text[i - 1] == '-')
                return false;
            if (i == len && label_all_digits)
                return false;
            label_start = i + 1;
            label_all_digits = true;
            continue;
        }
        bool is_digit = c >= '0' && c <= '9';
        bool is_letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
        if (!is_digit && !is_letter && c != '-' && c != '_')
            return false;
        if (!is_digit)
            label_all_digits = false;
    }
    return true;
}

/* Reads a listen-address variable into out[HOST_MAX]; keeps the default when unset.
 * Returns 0, or -1 with err set. */
static int load_host(getenv_func env, const char *name, char *out, char *err, size_t errlen)
{
    const char *text = env(name);
    if (text == NULL)
        return 0;
    if (text[0] == '\0' || strlen(text) >= HOST_MAX ||
        !(is_ip_literal(text) || is_valid_hostname(text)))
        return invalid_value(err, errlen, name, text,
                             "expected an IPv4 address, an IPv6 address (no brackets) or "
                             "a host name, 1 to %d bytes", HOST_MAX - 1);
    memcpy(out, text, strlen(text) + 1);
    return 0;
}

/* Parses a KVNS_MEMORY_LIMIT value into bytes. Accepted: a plain byte count ("1073741824")
 * or a count with a unit suffix k, kb, m, mb, g or gb, in any case, with 1024-based units
 * ("512mb" = 512 * 1024 * 1024, "2G" = 2 * 1024^3). No spaces, no fractions.
 * Returns true and sets *bytes on success. */
static bool parse_memory_size(const char *text, uint64_t *bytes)
{
    static const struct {
        const char *suffix;
        uint64_t multiplier;
    } units[] = {
        {"", 1},         {"k", 1024},     {"kb", 1024}, {"m", MIB},
        {"mb", MIB},     {"g", GIB},      {"gb", GIB},
    };
    size_t digits = 0;
    while (text[digits] >= '0' && text[digits] <= '9')
        digits++;
    if (digits == 0 || digits > 20)
        return false;

    char number[21];
    memcpy(number, text, digits);
    number[digits] = '\0';
    uint64_t count;
    if (!parse_decimal_u64(number, &count))
        return false;

    const char *suffix = text + digits;
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcasecmp(suffix, units[i].suffix) != 0)
            continue;
        if (count > UINT64_MAX / units[i].multiplier)
            return false;
        *bytes = count * units[i].multiplier;
        return true;
    }
    return false;
}

/* Returns the first number in a file (e.g. "memory.max"), or 0 when the file is missing,
 * unreadable, or holds a non-number such as "max". */
static uint64_t read_number_file(const char *path)
{
    FILE *file = fopen(path, "re");
    if (file == NULL)
        return 0;
    unsigned long long value = 0;
    if (fscanf(file, "%llu", &value) != 1)
        value = 0;
    fclose(file);
    return value;
}

/* Returns MemTotal from /proc/meminfo in bytes, or 0 when it cannot be read. */
static uint64_t read_host_ram(void)
{
    FILE *file = fopen("/proc/meminfo", "re");
    if (file == NULL)
        return 0;
    char line[256];
    uint64_t bytes = 0;
    while (fgets(line, sizeof line, file) != NULL) {
        unsigned long long kib;
        if (sscanf(line, "MemTotal: %llu kB", &kib) == 1) {
            bytes = kib <= UINT64_MAX / 1024 ? kib * 1024 : UINT64_MAX;
            break;
        }
    }
    fclose(file);
    return bytes;
}

/* Returns the cgroup v2 memory limit that applies to this process, in bytes, or 0 when
 * there is none. Reads our cgroup from the "0::/path" line of /proc/self/cgroup, then
 * memory.max there and in every ancestor up to the mount root, and keeps the lowest:
 * a parent's limit (e.g. a systemd slice's MemoryMax=) binds the children too. */
static uint64_t read_cgroup_memory_max(void)
{
    FILE *file = fopen("/proc/self/cgroup", "re");
    if (file == NULL)
        return 0;
    char line[PATH_MAX];
    char dir[PATH_MAX + sizeof CGROUP_ROOT];
    bool found = false;
    while (fgets(line, sizeof line, file) != NULL) {
        if (strncmp(line, "0::/", 4) == 0) {
            line[strcspn(line, "\n")] = '\0';
            snprintf(dir, sizeof dir, "%s%s", CGROUP_ROOT, line + 3);
            found = true;
            break;
        }
    }
    fclose(file);
    if (!found)
        return 0;

    size_t root_len = strlen(CGROUP_ROOT);
    size_t len = strlen(dir);
    while (len > root_len && dir[len - 1] == '/')
        dir[--len] = '\0';

    uint64_t lowest = 0;
    for (;;) {
        char path[sizeof dir + sizeof "/memory.max"];
        snprintf(path, sizeof path, "%s/memory.max", dir);
        uint64_t limit = read_number_file(path);
        if (limit != 0 && (lowest == 0 || limit < lowest))
            lowest = limit;
        if (len <= root_len)
            break;
        char *slash = strrchr(dir, '/');
        if (slash == NULL || (size_t)(slash - dir) < root_len)
            break;
        *slash = '\0';
        len = (size_t)(slash - dir);
    }
    return lowest;
}

/* Returns 70% of ram, without overflowing for huge values. */
static uint64_t seventy_percent(uint64_t ram)
{
    return ram / 10 * 7 + ram % 10 * 7 / 10;
}

/* The memory-limit rule. The "RAM" it uses is MemTotal, or the cgroup v2 memory.max
 * when that is lower (or MemTotal is unknown); the 70% cap leaves room for
 * fragmentation, buffers and the rest of the host.
 *   unset:                 1 GiB, but never more than 70% of RAM
 *   0:                     70% of RAM (1 GiB when RAM is unknown)
 *   above 70% of RAM:      70% of RAM
 *   otherwise:             as requested (also when RAM is unknown)
 * Returns the limit in bytes; *source (when non-NULL) says how it was derived. */
uint64_t config_effective_memory_limit(bool set_flag, uint64_t requested, uint64_t host_ram,
                                       uint64_t cgroup_max, const char **source)
{
    uint64_t ram = host_ram;
    bool ram_is_cgroup = false;
    if (cgroup_max != 0 && (host_ram == 0 || cgroup_max < host_ram)) {
        ram = cgroup_max;
        ram_is_cgroup = true;
    }
    uint64_t cap = seventy_percent(ram);
    const char *unused;
    if (source == NULL)
        source = &unused;

    if (!set_flag) {
        if (ram != 0 && DEFAULT_MEMORY_LIMIT > cap) {
            *source = ram_is_cgroup ? "default, clamped to 70% of cgroup memory.max"
                                    : "default, clamped to 70% of host RAM";
            return cap;
        }
        *source = "default";
        return DEFAULT_MEMORY_LIMIT;
    }
    if (requested == 0) {
        if (ram == 0) {
            *source = "default (KVNS_MEMORY_LIMIT=0 but host RAM is unknown)";
            return DEFAULT_MEMORY_LIMIT;
        }
        *source = ram_is_cgroup ? "70% of cgroup memory.max" : "70% of host RAM";
        return cap;
    }
    if (ram != 0 && requested > cap) {
        *source = ram_is_cgroup ? "KVNS_MEMORY_LIMIT, clamped to 70% of cgroup memory.max"
                                : "KVNS_MEMORY_LIMIT, clamped to 70% of host RAM";
        return cap;
    }
    *source = "KVNS_MEMORY_LIMIT";
    return requested;
}

/* Reads KVNS_MEMORY_LIMIT and applies the memory-limit rule with this host's MemTotal
 * and cgroup limit. Returns 0, or -1 with err set. */
static int load_memory_limit(getenv_func env, kvns_config *cfg, char *err, size_t errlen)
{
    const char *name = "KVNS_MEMORY_LIMIT";
    const char *text = env(name);
    uint64_t requested = 0;
    if (text != NULL) {
        if (!parse_memory_size(text, &requested))
            return invalid_value(err, errlen, name, text,
                                 "expected a byte count, optionally with a 1024-based unit "
                                 "k, kb, m, mb, g or gb (e.g. 512mb, 4g), or 0 for 70%% "
                                 "of host RAM");
        if (requested != 0 && requested < MIN_MEMORY_LIMIT)
            return invalid_value(err, errlen, name, text,
                                 "expected at least 1 MiB (1048576 bytes, 1mb), or 0 for "
                                 "70%% of host RAM");
    }
    cfg->memory_limit_requested = requested;
    cfg->memory_limit = config_effective_memory_limit(text != NULL, requested, read_host_ram(),
                                                      read_cgroup_memory_max(),
                                                      &cfg->memory_limit_source);
    return 0;
}

/* Reads a boolean variable: 1/0, true/false, yes/no, on/off in any case.
 * Keeps *out when unset. Returns 0, or -1 with err set. */
static int load_bool(getenv_func env, const char *name, bool *out, char *err, size_t errlen)
{
    static const char *const true_words[] = {"1", "true", "yes", "on"};
    static const char *const false_words[] = {"0", "false", "no", "off"};
    const char *text = env(name);
    if (text == NULL)
        return 0;
    for (size_t i = 0; i < sizeof true_words / sizeof true_words[0]; i++) {
        if (strcasecmp(text, true_words[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(text, false_words[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return invalid_value(err, errlen, name, text,
                         "expected one of 1, 0, true, false, yes, no, on, off");
}

/* Reads KVNS_ENABLE_DEBUG_COMMAND: no, local or yes (any case; 1/0, true/false, on/off
 * as for booleans). Returns 0, or -1 with err set. */
static int load_debug_access(getenv_func env, enum debug_access *out, char *err, size_t errlen)
{
    const char *name = "KVNS_ENABLE_DEBUG_COMMAND";
    const char *text = env(name);
    if (text == NULL)
        return 0;
    if (strcasecmp(text, "local") == 0) {
        *out = DEBUG_ACCESS_LOCAL;
        return 0;
    }
    bool yes = false;
    if (load_bool(env, name, &yes, err, errlen) != 0)
        return invalid_value(err, errlen, name, text, "expected no, local or yes");
    *out = yes ? DEBUG_ACCESS_YES : DEBUG_ACCESS_NO;
    return 0;
}

const char *debug_access_name(enum debug_access a)
{
    return a == DEBUG_ACCESS_YES ? "yes" : a == DEBUG_ACCESS_LOCAL ? "local" : "no";
}

/* Reads KVNS_EVICTION_THRESHOLD: a plain decimal ("0.9", "1", ".75") in (0, 1].
 * Exponents, hex, signs, spaces, inf and nan are refused. Returns 0, or -1 with err. */
static int load_threshold(getenv_func env, double *out, char *err, size_t errlen)
{
    const char *name = "KVNS_EVICTION_THRESHOLD";
    const char *text = env(name);
    if (text == NULL)
        return 0;
    size_t digits = 0, dots = 0;
    bool plain = true;
    for (const char *p = text; *p != '\0'; p++) {
        if (*p >= '0' && *p <= '9')
            digits++;
        else if (*p == '.')
            dots++;
        else
            plain = false;
    }
    double value = 0.0;
    if (plain && digits > 0 && dots <= 1)
        value = strtod(text, NULL);
    if (!plain || digits == 0 || dots > 1 || !(value > 0.0 && value <= 1.0))
        return invalid_value(err, errlen, name, text,
                             "expected a decimal number greater than 0 and at most 1 "
                             "(e.g. 0.9)");
    *out = value;
    return 0;
}

/* Reads KVNS_LOG_LEVEL (error|warn|info|debug, any case). Returns 0, or -1 with err. */
static int load_log_level(getenv_func env, int *out, char *err, size_t errlen)
{
    static const struct {
        const char *name;
        enum log_level level;
    } levels[] = {
        {"error", LOG_LVL_ERROR}, {"warn", LOG_LVL_WARN},
        {"info", LOG_LVL_INFO},   {"debug", LOG_LVL_DEBUG},
    };
    const char *name = "KVNS_LOG_LEVEL";
    const char *text = env(name);
    if (text == NULL)
        return 0;
    for (size_t i = 0; i < sizeof levels / sizeof levels[0]; i++) {
        if (strcasecmp(text, levels[i].name) == 0) {
            *out = (int)levels[i].level;
            return 0;
        }
    }
    return invalid_value(err, errlen, name, text, "expected one of error, warn, info, debug");
}

/* Returns true for the blanks trimmed around KVNS_NS_EVICTION entries. */
static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* Narrows [*start, *end) of text to drop leading and trailing blanks. */
static void trim_blanks(const char *text, size_t *start, size_t *end)
{
    while (*start < *end && is_blank(text[*start]))
        (*start)++;
    while (*end > *start && is_blank(text[*end - 1]))
        (*end)--;
}

/* Parses one "ns:policy" entry, text[start..end) already trimmed and non-empty, and
 * appends it to cfg->ns_eviction. Splits at the last ':' so a namespace may itself
 * contain ':'. Returns 0, or -1 with err naming the entry and what is wrong with it. */
static int add_ns_override(kvns_config *cfg, const char *value, const char *text,
                           size_t start, size_t end, char *err, size_t errlen)
{
    const char *name = "KVNS_NS_EVICTION";
    const char *expected = "expected comma-separated ns:policy entries, policy one of "
                           POLICY_CHOICES;
    char entry[SHOWN_VALUE_MAX + 4];
    show_value(text + start, end - start, entry, sizeof entry);

    size_t colon = end;
    for (size_t i = end; i > start; i--) {
        if (text[i - 1] == ':') {
            colon = i - 1;
            break;
        }
    }
    if (colon == end)
        return invalid_value(err, errlen, name, value, "entry '%s' has no ':'; %s", entry,
                             expected);

    size_t ns_start = start, ns_end = colon;
    size_t policy_start = colon + 1, policy_end = end;
    trim_blanks(text, &ns_start, &ns_end);
    trim_blanks(text, &policy_start, &policy_end);
    size_t ns_len = ns_end - ns_start;

    if (ns_len == 0)
        return invalid_value(err, errlen, name, value, "entry '%s' has an empty namespace; %s",
                             entry, expected);
    if (ns_len >= CONFIG_NS_NAME_MAX)
        return invalid_value(err, errlen, name, value,
                             "entry '%s' has a namespace longer than %d bytes; %s", entry,
                             CONFIG_NS_NAME_MAX - 1, expected);
    if (memchr(text + ns_start, '/', ns_len) != NULL)
        return invalid_value(err, errlen, name, value,
                             "entry '%s' has a '/' in its namespace; %s", entry, expected);

    char policy_text[16];
    enum evict_policy policy = EVICT_NONE;
    size_t policy_len = policy_end - policy_start;
    bool policy_ok = policy_len < sizeof policy_text;
    if (policy_ok) {
        memcpy(policy_text, text + policy_start, policy_len);
        policy_text[policy_len] = '\0';
        policy_ok = evict_policy_parse(policy_text, &policy) == 0;
    }
    if (!policy_ok)
        return invalid_value(err, errlen, name, value, "entry '%s' has an unknown policy; %s",
                             entry, expected);

    for (unsigned i = 0; i < cfg->ns_eviction_count; i++) {
        const char *existing = cfg->ns_eviction[i].name;
        if (strlen(existing) == ns_len && memcmp(existing, text + ns_start, ns_len) == 0)
            return invalid_value(err, errlen, name, value,
                                 "entry '%s' repeats a namespace already listed; %s", entry,
                                 expected);
    }
    if (cfg->ns_eviction_count >= CONFIG_MAX_NS_OVERRIDES)
        return invalid_value(err, errlen, name, value,
                             "more than %d entries; expected at most %d comma-separated "
                             "ns:policy entries", CONFIG_MAX_NS_OVERRIDES,
                             CONFIG_MAX_NS_OVERRIDES);

    ns_override *slot = &cfg->ns_eviction[cfg->ns_eviction_count++];
    memcpy(slot->name, text + ns_start, ns_len);
    slot->name[ns_len] = '\0';
    slot->policy = policy;
    return 0;
}

/* Reads KVNS_NS_EVICTION, e.g. "sessions:lru, cache:mru": comma-separated ns:policy
 * entries; blanks around entries and around ':' are ignored, as are empty entries.
 * Returns 0, or -1 with err set. */
static int load_ns_eviction(getenv_func env, kvns_config *cfg, char *err, size_t errlen)
{
    const char *text = env("KVNS_NS_EVICTION");
    if (text == NULL)
        return 0;
    size_t len = strlen(text);
    size_t start = 0;
    while (start <= len) {
        size_t end = start;
        while (end < len && text[end] != ',')
            end++;
        size_t entry_start = start, entry_end = end;
        trim_blanks(text, &entry_start, &entry_end);
        if (entry_end > entry_start &&
            add_ns_override(cfg, text, text, entry_start, entry_end, err, errlen) != 0)
            return -1;
        start = end + 1;
    }
    return 0;
}

/* Reads KVNS_PERSIST_PATH ("" = no persistence). Returns 0, or -1 with err set. */
static int load_persist_path(getenv_func env, kvns_config *cfg, char *err, size_t errlen)
{
    const char *name = "KVNS_PERSIST_PATH";
    const char *text = env(name);
    if (text == NULL)
        return 0;
    size_t len = strlen(text);
    if (len >= sizeof cfg->persist_path)
        return invalid_value(err, errlen, name, text,
                             "expected a file path shorter than %zu bytes, or empty for no "
                             "persistence", sizeof cfg->persist_path);
    memcpy(cfg->persist_path, text, len + 1);
    return 0;
}

/* Fills cfg with every default (CPU-derived ones from this host). */
static void set_defaults(kvns_config *cfg)
{
    unsigned cpus = online_cpu_count();
    memset(cfg, 0, sizeof *cfg);
    snprintf(cfg->host, sizeof cfg->host, "%s", "0.0.0.0");
    cfg->port = 6480;
    cfg->memory_limit = DEFAULT_MEMORY_LIMIT;
    cfg->memory_limit_requested = 0;
    cfg->memory_limit_source = "default";
    snprintf(cfg->metrics_host, sizeof cfg->metrics_host, "%s", "0.0.0.0");
    cfg->metrics_port = 9090;
    cfg->persist_path[0] = '\0';
    cfg->persist_interval = 300;
    cfg->stop_writes_on_bgsave_error = true;
    cfg->eviction_policy = EVICT_NONE;
    cfg->eviction_threshold = 1.0;
    cfg->ns_eviction_count = 0;
    cfg->sharded_mode = true;
    cfg->shard_count = round_up_power_of_two(cpus * 4 > MAX_SHARDS ? MAX_SHARDS : cpus * 4);
    cfg->workers = cpus > MAX_WORKERS ? MAX_WORKERS : cpus;
    cfg->threads = 1;
    cfg->log_level = LOG_LVL_INFO;
    cfg->max_clients = 10000;
    cfg->max_namespaces = NS_DEFAULT_LIMIT;
}

/* Fills cfg from the variables getenv_fn returns. Returns 0, or -1 with err set to
 * the first problem found. */
int config_load_from(kvns_config *cfg, const char *(*getenv_fn)(const char *name),
                     char *err, size_t errlen)
{
    uint64_t number;

    if (err != NULL && errlen > 0)
        err[0] = '\0';
    set_defaults(cfg);

    if (load_host(getenv_fn, "KVNS_HOST", cfg->host, err, errlen) != 0)
        return -1;
    number = (uint64_t)cfg->port;
    if (load_integer(getenv_fn, "KVNS_PORT", 1, 65535, "", &number, err, errlen) != 0)
        return -1;
    cfg->port = (int)number;

    if (load_memory_limit(getenv_fn, cfg, err, errlen) != 0)
        return -1;

    if (load_host(getenv_fn, "KVNS_METRICS_HOST", cfg->metrics_host, err, errlen) != 0)
        return -1;
    number = (uint64_t)cfg->metrics_port;
    if (load_integer(getenv_fn, "KVNS_METRICS_PORT", 0, 65535, " (0 disables metrics)",
                     &number, err, errlen) != 0)
        return -1;
    cfg->metrics_port = (int)number;

    if (load_persist_path(getenv_fn, cfg, err, errlen) != 0)
        return -1;
    number = cfg->persist_interval;
    if (load_integer(getenv_fn, "KVNS_PERSIST_INTERVAL", 1, MAX_PERSIST_INTERVAL,
                     " (seconds)", &number, err, errlen) != 0)
        return -1;
    cfg->persist_interval = (unsigned)number;
    if (load_bool(getenv_fn, "KVNS_STOP_WRITES_ON_BGSAVE_ERROR", &cfg->stop_writes_on_bgsave_error,
                  err, errlen) != 0)
        return -1;

    const char *policy = getenv_fn("KVNS_EVICTION_POLICY");
    if (policy != NULL && evict_policy_parse(policy, &cfg->eviction_policy) != 0)
        return invalid_value(err, errlen, "KVNS_EVICTION_POLICY", policy,
                             "expected one of " POLICY_CHOICES);
    if (load_threshold(getenv_fn, &cfg->eviction_threshold, err, errlen) != 0)
        return -1;
    if (load_ns_eviction(getenv_fn, cfg, err, errlen) != 0)
        return -1;

    if (load_bool(getenv_fn, "KVNS_SHARDED_MODE", &cfg->sharded_mode, err, errlen) != 0)
        return -1;
    number = cfg->shard_count;
    if (load_integer(getenv_fn, "KVNS_SHARD_COUNT", 1, MAX_SHARDS,
                     " (rounded up to a power of two)", &number, err, errlen) != 0)
        return -1;
    cfg->shard_count = round_up_power_of_two((unsigned)number);
    number = cfg->workers;
    if (load_integer(getenv_fn, "KVNS_WORKERS", 1, MAX_WORKERS, "", &number, err, errlen) != 0)
        return -1;
    cfg->workers = (unsigned)number;
    number = cfg->threads;
    if (load_integer(getenv_fn, "KVNS_THREADS", 1, MAX_THREADS, "", &number, err, errlen) != 0)
        return -1;
    cfg->threads = (unsigned)number;

    if (load_log_level(getenv_fn, &cfg->log_level, err, errlen) != 0)
        return -1;
    if (load_debug_access(getenv_fn, &cfg->enable_debug_command, err, errlen) != 0)
        return -1;
    number = cfg->max_clients;
    if (load_integer(getenv_fn, "KVNS_MAX_CLIENTS", 1, MAX_CLIENTS, "", &number, err,
                     errlen) != 0)
        return -1;
    cfg->max_clients = (unsigned)number;
    number = cfg->max_namespaces;
    if (load_integer(getenv_fn, "KVNS_MAX_NAMESPACES", 1, NS_MAX, " (the default namespace included)",
                     &number, err, errlen) != 0)
        return -1;
    cfg->max_namespaces = (unsigned)number;
    return 0;
}

/* Adapts getenv's `char *` return to the const-returning type config_load_from takes. */
static const char *process_getenv(const char *name)
{
    return getenv(name);
}

/* Fills cfg from the process environment. Returns 0, or -1 with err set. */
int config_load(kvns_config *cfg, char *err, size_t errlen)
{
    return config_load_from(cfg, process_getenv, err, errlen);
}

/* File descriptors a worker process keeps besides client sockets (listener, arena,
 * stdio, a snapshot or metrics socket now and then), as Redis's
 * CONFIG_MIN_RESERVED_FDS; each thread's epoll fd comes on top. */
#define RESERVED_FDS 32

/* Returns the descriptors one process needs for max_clients connections. The limit
 * is per process and the listener is shared, so any one worker may end up holding
 * every client: each worker needs room for all of them. */
uint64_t config_fds_needed(unsigned max_clients, unsigned threads)
{
    return (uint64_t)max_clients + RESERVED_FDS + threads;
}

/* Returns max_clients lowered so that config_fds_needed fits fd_limit (at least 1). */
unsigned config_clients_for_fds(unsigned max_clients, unsigned threads, uint64_t fd_limit)
{
    uint64_t reserved = config_fds_needed(0, threads);

    if (fd_limit >= config_fds_needed(max_clients, threads))
        return max_clients;
    return fd_limit > reserved ? (unsigned)(fd_limit - reserved) : 1;
}

/* Raises the soft RLIMIT_NOFILE towards what max_clients needs (up to the hard limit,
 * which needs no privilege) before any child is forked, so every worker inherits it;
 * when it still falls short, lowers cfg->max_clients to fit and logs a warning with
 * the numbers, as Redis's adjustOpenFilesLimit does. */
void config_fit_open_files(kvns_config *cfg)
{
    uint64_t need = config_fds_needed(cfg->max_clients, cfg->threads);
    unsigned requested = cfg->max_clients;
    const char *why = "the hard limit is lower";
    struct rlimit rl;
    rlim_t old;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= need)
        return;
    old = rl.rlim_cur;
    rl.rlim_cur = rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need ? rl.rlim_max : need;
    if (rl.rlim_cur > old && setrlimit(RLIMIT_NOFILE, &rl) != 0) {
        why = strerror(errno);
        rl.rlim_cur = old;
    }
    if (rl.rlim_cur > old)
        log_info("raised the open files limit", "from=%llu to=%llu", (unsigned long long)old,
                 (unsigned long long)rl.rlim_cur);
    cfg->max_clients = config_clients_for_fds(cfg->max_clients, cfg->threads, rl.rlim_cur);
    if (cfg->max_clients == requested)
        return;
    log_warn("max clients reduced to fit the open files limit (raise ulimit -n / LimitNOFILE=)",
             "requested_max_clients=%u fds_needed=%llu open_files_limit=%llu hard_limit=%llu "
             "cannot_raise=\"%s\" max_clients=%u", requested, (unsigned long long)need,
             (unsigned long long)rl.rlim_cur, (unsigned long long)rl.rlim_max, why, cfg->max_clients);
}
