/* t_info.c - the introspection half of the server family: COMMAND (INFO, DOCS, LIST,
 * COUNT, GETKEYS, GETKEYSANDFLAGS), INFO and LATENCY HISTOGRAM - read-only views of
 * the server. The rows live in t_server.c's table.
 *
 * Everything here reads shared state without locks: arena header fields, relaxed lane
 * and shard counters, and the metrics tables, so INFO reports the whole server (every
 * worker and thread), never one process's share - except where a field says it is
 * per-process (process_id, used_memory_rss, used_cpu_*, used_memory_peak). */
#include "kvns/command.h"
#include "kvns/scripts.h"
#include "script_lua.h"
#include "kvns/arena.h"
#include "kvns/clock.h"
#include "kvns/glob.h"
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

/* ---- COMMAND ----------------------------------------------------------------------------- */

/* Redis's command flags, in the order Redis prints them; movablekeys as Redis derives
 * it from the key specs. */
static size_t command_flag_names(uint32_t flags, bool movable, const char **out)
{
    static const struct { uint32_t bit; const char *name; } map[] = {
        { CMD_WRITE, "write" },     { CMD_READONLY, "readonly" }, { CMD_DENYOOM, "denyoom" },
        { CMD_ADMIN, "admin" },     { CMD_PUBSUB, "pubsub" },     { CMD_NOSCRIPT, "noscript" },
        { CMD_LOADING, "loading" }, { CMD_STALE, "stale" },       { CMD_FAST, "fast" },
    };
    size_t n = 0;
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
        if (flags & map[i].bit)
            out[n++] = map[i].name;
    }
    if (movable)
        out[n++] = "movablekeys";
    return n;
}

static bool group_is(const char *group, const char *name)
{
    return group && strcmp(group, name) == 0;
}

/* ACL categories derived from the flags and the group, in Redis's order (Redis lists
 * them explicitly per command; the derivation reproduces its rules for most). A
 * container command is just @slow, as in Redis. */
static size_t acl_categories(uint32_t flags, const char *group, bool container, const char **out)
{
    size_t n = 0;
    if (container) {
        out[n++] = "@slow";
        return n;
    }
    static const struct { const char *group, *cat; } types[] = {
        { "set", "@set" },       { "sorted-set", "@sortedset" }, { "sorted_set", "@sortedset" },
        { "list", "@list" },     { "hash", "@hash" },           { "string", "@string" },
        { "bitmap", "@bitmap" }, { "hyperloglog", "@hyperloglog" }, { "geo", "@geo" },
        { "stream", "@stream" },
    };
    if (group_is(group, "generic"))
        out[n++] = "@keyspace";
    if (flags & CMD_READONLY)
        out[n++] = "@read";
    if (flags & CMD_WRITE)
        out[n++] = "@write";
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        if (group_is(group, types[i].group))
            out[n++] = types[i].cat;
    }
    if ((flags & CMD_PUBSUB) || group_is(group, "pubsub"))
        out[n++] = "@pubsub";
    if (flags & CMD_ADMIN)
        out[n++] = "@admin";
    out[n++] = (flags & CMD_FAST) ? "@fast" : "@slow";
    if (flags & CMD_ADMIN)
        out[n++] = "@dangerous";
    if (group_is(group, "connection"))
        out[n++] = "@connection";
    if (group_is(group, "transactions"))
        out[n++] = "@transaction";
    if (group_is(group, "scripting"))
        out[n++] = "@scripting";
    return n;
}

/* Names of a key spec's KS_* flags, in Redis's order (key specs and GETKEYSANDFLAGS). */
static size_t key_flag_names(uint32_t flags, const char **out)
{
    static const char *const names[] = { "RO",     "RW",     "OW",      "RM",         "access",        "update",
                                         "insert", "delete", "not_key", "incomplete", "variable_flags" };
    size_t n = 0;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (flags & (1u << i))
            out[n++] = names[i];
    }
    return n;
}

static void reply_status_set(reply_buf *r, const char **names, size_t n)
{
    reply_set(r, (long long)n);
    for (size_t i = 0; i < n; i++)
        reply_simple(r, names[i]);
}

/* One key spec as Redis 7's COMMAND INFO / DOCS show it: a map of [notes,] flags,
 * begin_search and find_keys. */
static void reply_key_spec(reply_buf *r, const key_spec *s)
{
    const char *names[12];
    reply_map(r, s->notes ? 4 : 3);
    if (s->notes) {
        reply_bulk_cstr(r, "notes");
        reply_bulk_cstr(r, s->notes);
    }
    reply_bulk_cstr(r, "flags");
    reply_status_set(r, names, key_flag_names(s->flags, names));
    reply_bulk_cstr(r, "begin_search");
    reply_map(r, 2);
    reply_bulk_cstr(r, "type");
    reply_bulk_cstr(r, s->begin == KS_INDEX ? "index" : "keyword");
    reply_bulk_cstr(r, "spec");
    if (s->begin == KS_INDEX) {
        reply_map(r, 1);
        reply_bulk_cstr(r, "index");
        reply_int(r, s->pos);
    } else {
        reply_map(r, 2);
        reply_bulk_cstr(r, "keyword");
        reply_bulk_cstr(r, s->keyword);
        reply_bulk_cstr(r, "startfrom");
        reply_int(r, s->pos);
    }
    reply_bulk_cstr(r, "find_keys");
    reply_map(r, 2);
    reply_bulk_cstr(r, "type");
    reply_bulk_cstr(r, s->find == KS_RANGE ? "range" : "keynum");
    reply_bulk_cstr(r, "spec");
    reply_map(r, 3);
    if (s->find == KS_RANGE) {
        reply_bulk_cstr(r, "lastkey");
        reply_int(r, s->range.lastkey);
        reply_bulk_cstr(r, "keystep");
        reply_int(r, s->range.step);
        reply_bulk_cstr(r, "limit");
        reply_int(r, s->range.limit);
    } else {
        reply_bulk_cstr(r, "keynumidx");
        reply_int(r, s->keynum.keynumidx);
        reply_bulk_cstr(r, "firstkey");
        reply_int(r, s->keynum.firstkey);
        reply_bulk_cstr(r, "keystep");
        reply_int(r, s->keynum.step);
    }
}

/* A row's key specs (an empty array for none). */
static void reply_key_specs(reply_buf *r, const command *cmd)
{
    long long n = 0;
    for (const key_spec *s = cmd->key_specs; s && s->begin != KS_END; s++)
        n++;
    reply_array(r, n);
    for (const key_spec *s = cmd->key_specs; s && s->begin != KS_END; s++)
        reply_key_spec(r, s);
}

/* One COMMAND INFO entry for a subcommand. */
static void reply_sub_info(reply_buf *r, const command *parent, const command *s)
{
    const char *names[16];
    char full[96];
    snprintf(full, sizeof full, "%s|%s", parent->name, s->name);
    reply_array(r, 10);
    reply_bulk_cstr(r, full);
    reply_int(r, s->arity);
    reply_status_set(r, names, command_flag_names(s->flags, false, names));
    reply_int(r, 0);
    reply_int(r, 0);
    reply_int(r, 0);
    reply_status_set(r, names, acl_categories(s->flags, parent->group, false, names));
    reply_array(r, 0);                         /* tips */
    reply_array(r, 0);                         /* key specs */
    reply_array(r, 0);                         /* subcommands */
}

/* One COMMAND INFO entry: [name, arity, flags, first, last, step, acl categories, tips,
 * key specs, subcommands], as Redis 7 shapes it. */
static void reply_command_info(reply_buf *r, const command *cmd)
{
    const char *names[16];
    const command *subs = tsrv_subs_of(cmd);
    int first, last, step;
    bool movable;
    command_legacy_range(cmd, &first, &last, &step, &movable);
    reply_array(r, 10);
    reply_bulk_cstr(r, cmd->name);
    reply_int(r, cmd->arity);
    reply_status_set(r, names, command_flag_names(cmd->flags, movable, names));
    reply_int(r, first);
    reply_int(r, last);
    reply_int(r, step);
    reply_status_set(r, names, acl_categories(cmd->flags, cmd->group, subs != NULL, names));
    reply_array(r, 0);                         /* tips */
    reply_key_specs(r, cmd);
    size_t nsubs = 0;
    for (const command *s = subs; s && s->name; s++)
        nsubs++;
    reply_array(r, (long long)nsubs);
    for (const command *s = subs; s && s->name; s++)
        reply_sub_info(r, cmd, s);
}

static size_t doc_fields(const char *summary, const char *since, const char *group,
                         const char *complexity)
{
    return (size_t)(summary != NULL) + (since != NULL) + (group != NULL) + (complexity != NULL);
}

static void reply_doc_fields(reply_buf *r, const char *summary, const char *since,
                             const char *group, const char *complexity)
{
    if (summary) {
        reply_bulk_cstr(r, "summary");
        reply_bulk_cstr(r, summary);
    }
    if (since) {
        reply_bulk_cstr(r, "since");
        reply_bulk_cstr(r, since);
    }
    if (group) {
        reply_bulk_cstr(r, "group");
        reply_bulk_cstr(r, group);
    }
    if (complexity) {
        reply_bulk_cstr(r, "complexity");
        reply_bulk_cstr(r, complexity);
    }
}

/* One COMMAND DOCS value: {summary, since, group, complexity[, subcommands]}. The
 * argument descriptions Redis adds are left out (clients treat them as optional). */
static void reply_command_doc(reply_buf *r, const command *cmd)
{
    const command *subs = tsrv_subs_of(cmd);
    size_t n = doc_fields(cmd->summary, cmd->since, cmd->group, cmd->complexity);
    reply_map(r, (long long)(n + (subs != NULL)));
    reply_doc_fields(r, cmd->summary, cmd->since, cmd->group, cmd->complexity);
    if (!subs)
        return;
    size_t nsubs = 0;
    for (const command *s = subs; s->name; s++)
        nsubs++;
    reply_bulk_cstr(r, "subcommands");
    reply_map(r, (long long)nsubs);
    for (const command *s = subs; s->name; s++) {
        char full[96];
        snprintf(full, sizeof full, "%s|%s", cmd->name, s->name);
        reply_bulk_cstr(r, full);
        reply_map(r, (long long)doc_fields(s->summary, s->since, cmd->group, s->complexity));
        reply_doc_fields(r, s->summary, s->since, cmd->group, s->complexity);
    }
}

/* Resolves "name" or "parent|sub" (any case). Sets *sub for a subcommand. */
static const command *lookup_full_name(const resp_arg *a, const command **sub)
{
    *sub = NULL;
    const char *bar = memchr(a->ptr, '|', a->len);
    if (!bar)
        return command_lookup(a->ptr, a->len);
    const command *parent = command_lookup(a->ptr, (size_t)(bar - a->ptr));
    const command *subs = parent ? tsrv_subs_of(parent) : NULL;
    resp_arg rest = { (char *)bar + 1, a->len - (size_t)(bar - a->ptr) - 1 };
    for (const command *s = subs; s && s->name; s++) {
        if (arg_is(&rest, s->name)) {
            *sub = s;
            return parent;
        }
    }
    return NULL;
}

static void command_all_info(client *c)
{
    size_t n = command_count();
    reply_array(&c->out, (long long)n);
    for (size_t i = 0; i < n; i++)
        reply_command_info(&c->out, command_at(i));
}

static void command_count_cmd(client *c)
{
    reply_int(&c->out, (long long)command_count());
}

/* COMMAND INFO [name ...]: nil for unknown names; every command without names. */
static void command_info_cmd(client *c)
{
    if (c->argc == 2) {
        command_all_info(c);
        return;
    }
    reply_array(&c->out, (long long)(c->argc - 2));
    for (size_t i = 2; i < c->argc; i++) {
        const command *sub;
        const command *cmd = lookup_full_name(&c->argv[i], &sub);
        if (!cmd)
            reply_null(&c->out);
        else if (sub)
            reply_sub_info(&c->out, cmd, sub);
        else
            reply_command_info(&c->out, cmd);
    }
}

/* COMMAND DOCS [name ...]: a map name -> doc; unknown names are left out. */
static void command_docs_cmd(client *c)
{
    if (c->argc == 2) {
        size_t n = command_count();
        reply_map(&c->out, (long long)n);
        for (size_t i = 0; i < n; i++) {
            reply_bulk_cstr(&c->out, command_at(i)->name);
            reply_command_doc(&c->out, command_at(i));
        }
        return;
    }
    size_t handle = reply_defer_map(&c->out);
    long long found = 0;
    for (size_t i = 2; i < c->argc; i++) {
        const command *s;
        const command *cmd = lookup_full_name(&c->argv[i], &s);
        if (!cmd)
            continue;
        found++;
        if (s) {
            char full[96];
            snprintf(full, sizeof full, "%s|%s", cmd->name, s->name);
            reply_bulk_cstr(&c->out, full);
            reply_map(&c->out, (long long)doc_fields(s->summary, s->since, cmd->group, s->complexity));
            reply_doc_fields(&c->out, s->summary, s->since, cmd->group, s->complexity);
        } else {
            reply_bulk_cstr(&c->out, cmd->name);
            reply_command_doc(&c->out, cmd);
        }
    }
    reply_fix_map(&c->out, handle, found);
}

/* True when the command (or subcommand) passes a COMMAND LIST filter. */
static bool list_filter_ok(const char *name, uint32_t flags, const char *group, bool container,
                           int kind, const resp_arg *val)
{
    if (kind == 0)
        return true;
    if (kind == 1)                             /* MODULE: kvns has none */
        return false;
    if (kind == 2) {                           /* ACLCAT */
        const char *cats[16];
        size_t n = acl_categories(flags, group, container, cats);
        const char *want = val->ptr;
        size_t wlen = val->len;
        if (wlen && want[0] == '@') {
            want++;
            wlen--;
        }
        for (size_t i = 0; i < n; i++) {
            if (strlen(cats[i] + 1) == wlen && strncasecmp(cats[i] + 1, want, wlen) == 0)
                return true;
        }
        return false;
    }
    return glob_match(val->ptr, val->len, name, strlen(name), true);   /* PATTERN */
}

/* COMMAND LIST [FILTERBY MODULE name | ACLCAT category | PATTERN pattern]: command and
 * subcommand names, as Redis 7 lists them. */
static void command_list_cmd(client *c)
{
    int kind = 0;
    const resp_arg *val = NULL;
    if (c->argc == 5 && arg_is(&c->argv[2], "filterby")) {
        val = &c->argv[4];
        if (arg_is(&c->argv[3], "module"))
            kind = 1;
        else if (arg_is(&c->argv[3], "aclcat"))
            kind = 2;
        else if (arg_is(&c->argv[3], "pattern"))
            kind = 3;
    }
    if (c->argc != 2 && kind == 0) {
        reply_error(&c->out, ERR_SYNTAX);
        return;
    }
    size_t handle = reply_defer_array(&c->out);
    long long n = 0;
    for (size_t i = 0; i < command_count(); i++) {
        const command *cmd = command_at(i);
        const command *subs = tsrv_subs_of(cmd);
        if (list_filter_ok(cmd->name, cmd->flags, cmd->group, subs != NULL, kind, val)) {
            reply_bulk_cstr(&c->out, cmd->name);
            n++;
        }
        for (const command *s = subs; s && s->name; s++) {
            char full[96];
            snprintf(full, sizeof full, "%s|%s", cmd->name, s->name);
            if (list_filter_ok(full, s->flags, cmd->group, false, kind, val)) {
                reply_bulk_cstr(&c->out, full);
                n++;
            }
        }
    }
    reply_fix_array(&c->out, handle, n);
}

/* The key arguments of argv[from..] as a command line, resolved from its command's
 * key specs into refs (positions relative to from); returns the count, or -1 after
 * replying Redis's error. */
static int command_keys(client *c, size_t from, cmd_key_ref *refs)
{
    const resp_arg *argv = c->argv + from;
    int argc = (int)(c->argc - from);
    const command *sub;
    const command *cmd = lookup_full_name(&argv[0], &sub);
    if (!cmd) {
        reply_error(&c->out, "ERR Invalid command specified");
        return -1;
    }
    if (sub || !cmd->key_specs) {
        reply_error(&c->out, "ERR The command has no key arguments");
        return -1;
    }
    if ((cmd->arity > 0 && argc != cmd->arity) || argc < -cmd->arity) {
        reply_error(&c->out, "ERR Invalid number of arguments specified for command");
        return -1;
    }
    int n = command_resolve_keys(cmd, argv, argc, refs);
    if (n <= 0) {
        reply_error(&c->out, "ERR Invalid arguments specified for command");
        return -1;
    }
    return n;
}

/* COMMAND GETKEYS cmd arg... / COMMAND GETKEYSANDFLAGS cmd arg... */
static void command_getkeys_common(client *c, bool with_flags)
{
    cmd_key_ref *refs = malloc(c->argc * sizeof *refs);
    if (!refs)
        abort();
    int n = command_keys(c, 2, refs);
    for (int i = 0; i < n; i++) {
        if (i == 0)
            reply_array(&c->out, n);
        const resp_arg *key = &c->argv[2 + refs[i].pos];
        if (with_flags) {
            const char *names[12];
            reply_array(&c->out, 2);
            reply_bulk(&c->out, key->ptr, key->len);
            reply_status_set(&c->out, names, key_flag_names(refs[i].flags, names));
        } else {
            reply_bulk(&c->out, key->ptr, key->len);
        }
    }
    free(refs);
}

static void command_getkeys_cmd(client *c)
{
    command_getkeys_common(c, false);
}

static void command_getkeysandflags_cmd(client *c)
{
    command_getkeys_common(c, true);
}

#define CMD_SUB (CMD_LOADING | CMD_STALE)

const command tsrv_command_subs[] = {
    { "count", 2, CMD_SUB, NULL, command_count_cmd, NULL, "Returns a count of commands.", "2.8.13", "O(1)" },
    { "docs", -2, CMD_SUB, NULL, command_docs_cmd, NULL,
      "Returns documentary information about one, multiple or all commands.", "7.0.0",
      "O(N) where N is the number of commands to look up" },
    { "getkeys", -4, CMD_SUB, NULL, command_getkeys_cmd, NULL, "Extracts the key names from an arbitrary command.",
      "2.8.13", "O(N) where N is the number of arguments to the command" },
    { "getkeysandflags", -4, CMD_SUB, NULL, command_getkeysandflags_cmd, NULL,
      "Extracts the key names and access flags for an arbitrary command.", "7.0.0",
      "O(N) where N is the number of arguments to the command" },
    { "info", -2, CMD_SUB, NULL, command_info_cmd, NULL, "Returns information about one, multiple or all commands.",
      "2.8.13", "O(N) where N is the number of commands to look up" },
    { "list", -2, CMD_SUB, NULL, command_list_cmd, NULL, "Returns a list of command names.", "7.0.0",
      "O(N) where N is the total number of Redis commands" },
    { "help", 2, CMD_SUB, NULL, NULL, NULL, "Returns helpful text about the different subcommands.",
      "5.0.0", "O(1)" },
    { 0 }
};

void tsrv_command(client *c)
{
    if (c->argc == 1)
        command_all_info(c);
    else
        tsrv_run_subcommand(c, "command", tsrv_command_subs);
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
    { "errorstats", "Errorstats", info_nothing, true },
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
