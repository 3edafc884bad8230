/* t_server.c - connection and server commands: PING, ECHO, QUIT, HELLO, AUTH, RESET,
 * SELECT, TIME, DEBUG, WAIT, LATENCY, SLOWLOG, XADD, and the command table of this
 * family (CLIENT is in t_client.c, CONFIG in t_config.c, COMMAND in t_command.c, INFO
 * and LATENCY HISTOGRAM in t_info.c).
 *
 * Redis 7.2 is the model for every reply and error text. A container command (CLIENT,
 * COMMAND, CONFIG, LATENCY, SLOWLOG) has a table of subcommand rows (command.h) that
 * the dispatcher runs and that feeds COMMAND INFO / DOCS / LIST and HELP, so
 * `client|list` and friends are described the way Redis describes them.
 *
 * CLIENT LIST and CLIENT KILL work on the shared client registry (clients.h), so they
 * see and reach the clients of every worker process and thread. */
#include "kvns/command.h"
#include "kvns/arena.h"
#include "kvns/clients.h"
#include "kvns/glob.h"
#include "kvns/shard.h"
#include "kvns/latency.h"
#include "t_server.h"
#include "kvns/worker.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

/* ---- small helpers ------------------------------------------------------------------ */

/* Copies at most 128 bytes of an argument into dst for an error text, with CR and LF
 * turned into spaces as Redis does (an error reply is one line). */
void tsrv_arg_for_error(const resp_arg *a, char *dst, size_t cap)
{
    size_t n = a->len < 128 ? a->len : 128;
    if (n >= cap)
        n = cap - 1;
    for (size_t i = 0; i < n; i++)
        dst[i] = (a->ptr[i] == '\r' || a->ptr[i] == '\n') ? ' ' : a->ptr[i];
    dst[n] = '\0';
}

/* Replies an array of status lines (Redis's addReplyHelp). */
static void reply_help(client *c, const char *const *lines, size_t n)
{
    reply_array(&c->out, (long long)n);
    for (size_t i = 0; i < n; i++)
        reply_simple(&c->out, lines[i]);
}

/* True when the bytes are all printable ASCII without spaces (Redis's
 * validateClientAttr: every byte in '!'..'~'). */
bool tsrv_valid_client_attr(const resp_arg *a)
{
    for (size_t i = 0; i < a->len; i++) {
        unsigned char ch = (unsigned char)a->ptr[i];
        if (ch < '!' || ch > '~')
            return false;
    }
    return true;
}

/* Replaces *slot by a copy of the argument, or NULL when it is empty. */
void tsrv_set_client_string(char **slot, const resp_arg *a)
{
    char *copy = NULL;
    if (a->len) {
        copy = malloc(a->len + 1);
        if (!copy)
            abort();
        memcpy(copy, a->ptr, a->len);
        copy[a->len] = '\0';
    }
    free(*slot);
    *slot = copy;
}

static void set_proto(client *c, int proto)
{
    c->proto = proto;
    c->out.proto = proto;
}

/* CONTAINER HELP, generated from the container's subcommand rows: usage line, then
 * each subcommand with its summary (Redis's addReplyHelp shape: an array of status
 * lines). The handler of the HELP rows that have no hand-written text. */
void tsrv_sub_help(client *c)
{
    const command *parent = command_lookup(c->argv[0].ptr, c->argv[0].len);
    char upper[32];
    size_t i = 0;
    for (; parent->name[i] && i < sizeof upper - 1; i++)
        upper[i] = (char)toupper((unsigned char)parent->name[i]);
    upper[i] = '\0';
    size_t n = 0;
    for (const command *s = parent->subcommands; s->name; s++)
        n++;
    reply_array(&c->out, (long long)(1 + 2 * n));
    char line[256];
    snprintf(line, sizeof line, "%s <subcommand> [<arg> [value] [opt] ...]. Subcommands are:", upper);
    reply_simple(&c->out, line);
    for (const command *s = parent->subcommands; s->name; s++) {
        for (i = 0; s->name[i] && i < sizeof line - 1; i++)
            line[i] = (char)toupper((unsigned char)s->name[i]);
        line[i] = '\0';
        reply_simple(&c->out, line);
        snprintf(line, sizeof line, "    %s", s->summary ? s->summary : "");
        reply_simple(&c->out, line);
    }
}

/* ---- connection commands -------------------------------------------------------------- */

static void cmd_ping(client *c)
{
    if (c->argc > 2) {
        reply_error(&c->out, "ERR wrong number of arguments for 'ping' command");
        return;
    }
    if (c->argc == 2)
        reply_bulk(&c->out, c->argv[1].ptr, c->argv[1].len);
    else
        reply_simple(&c->out, "PONG");
}

static void cmd_echo(client *c)
{
    reply_bulk(&c->out, c->argv[1].ptr, c->argv[1].len);
}

static void cmd_quit(client *c)
{
    multi_discard(c);
    reply_ok(&c->out);
    c->flags |= CLIENT_CLOSE_AFTER_REPLY;
}

static const char ERR_NO_PASSWORD[] =
    "ERR AUTH <password> called without any password configured for the default user. "
    "Are you sure your configuration is correct?";
static const char ERR_WRONGPASS[] = "WRONGPASS invalid username-password pair or user is disabled.";

/* kvns has one user, "default", with no password: like Redis's default user with
 * `nopass`, it accepts any password, and any other user name does not exist. */
bool tsrv_auth_user_ok(const resp_arg *user)
{
    return user->len == 7 && memcmp(user->ptr, "default", 7) == 0;   /* case-sensitive */
}

/* AUTH [username] password */
static void cmd_auth(client *c)
{
    if (c->argc > 3) {
        reply_error(&c->out, ERR_SYNTAX);
        return;
    }
    if (c->argc == 2) {
        reply_error(&c->out, ERR_NO_PASSWORD);
        return;
    }
    if (!tsrv_auth_user_ok(&c->argv[1])) {
        reply_error(&c->out, ERR_WRONGPASS);
        return;
    }
    reply_ok(&c->out);
}

/* HELLO [protover [AUTH username password] [SETNAME clientname]] */
static void cmd_hello(client *c)
{
    long long ver = 0;
    size_t next = 1;
    if (c->argc >= 2) {
        if (parse_ll(c->argv[1].ptr, c->argv[1].len, &ver) != 0) {
            reply_error(&c->out, "ERR Protocol version is not an integer or out of range");
            return;
        }
        next = 2;
        if (ver < 2 || ver > 3) {
            reply_error(&c->out, "NOPROTO unsupported protocol version");
            return;
        }
    }
    const resp_arg *user = NULL, *name = NULL;
    for (size_t j = next; j < c->argc; j++) {
        size_t more = c->argc - 1 - j;
        if (arg_is(&c->argv[j], "auth") && more >= 2) {
            user = &c->argv[j + 1];
            j += 2;
        } else if (arg_is(&c->argv[j], "setname") && more >= 1) {
            name = &c->argv[j + 1];
            j++;
        } else {
            char opt[160];
            tsrv_arg_for_error(&c->argv[j], opt, sizeof opt);
            reply_errorf(&c->out, "ERR Syntax error in HELLO option '%s'", opt);
            return;
        }
    }
    if (user && !tsrv_auth_user_ok(user)) {
        reply_error(&c->out, ERR_WRONGPASS);
        return;
    }
    if (name) {
        if (!tsrv_valid_client_attr(name)) {
            reply_error(&c->out, "ERR Client names cannot contain spaces, newlines or special characters.");
            return;
        }
        tsrv_set_client_string(&c->name, name);
    }
    if (ver)
        set_proto(c, (int)ver);
    reply_map(&c->out, 7);
    reply_bulk_cstr(&c->out, "server");
    reply_bulk_cstr(&c->out, "redis");
    reply_bulk_cstr(&c->out, "version");
    reply_bulk_cstr(&c->out, KVNS_REDIS_VERSION);
    reply_bulk_cstr(&c->out, "proto");
    reply_int(&c->out, c->proto);
    reply_bulk_cstr(&c->out, "id");
    reply_int(&c->out, (long long)c->id);
    reply_bulk_cstr(&c->out, "mode");
    reply_bulk_cstr(&c->out, "standalone");
    reply_bulk_cstr(&c->out, "role");
    reply_bulk_cstr(&c->out, "master");
    reply_bulk_cstr(&c->out, "modules");
    reply_array(&c->out, 0);
}

/* RESET: back to RESP2, no name, out of MULTI and no WATCHed keys. The connection
 * has no other per-client state in kvns yet (no subscriptions, tracking or CLIENT
 * REPLY modes); the library name and version survive, as in Redis. */
static void cmd_reset(client *c)
{
    multi_discard(c);
    set_proto(c, 2);
    free(c->name);
    c->name = NULL;
    reply_simple(&c->out, "RESET");
}

/* SELECT index: kvns has database 0 only (namespaces replace databases). */
static void cmd_select(client *c)
{
    long long db;
    if (parse_ll(c->argv[1].ptr, c->argv[1].len, &db) != 0) {
        reply_error(&c->out, ERR_NOT_INT);
        return;
    }
    if (db < -2147483648LL || db > 2147483647LL) {
        reply_error(&c->out, "ERR value is out of range, value must between -2147483648 and 2147483647");
        return;
    }
    if (db != 0) {
        reply_error(&c->out, "ERR DB index is out of range");
        return;
    }
    reply_ok(&c->out);
}

static void cmd_time(client *c)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    reply_array(&c->out, 2);
    reply_bulk_ll(&c->out, (long long)tv.tv_sec);
    reply_bulk_ll(&c->out, (long long)tv.tv_usec);
}

/* ---- DEBUG ------------------------------------------------------------------------------- */

#define DEBUG_SLEEP_MAX_SECONDS 3600.0
#define DEBUG_SLEEP_SLICE_MS    10

/* Sleeps until deadline_ns (monotonic) in short slices, returning early when the
 * worker is told to stop. */
static void sleep_until_or_stop(int64_t deadline_ns)
{
    for (int64_t left = deadline_ns - (int64_t)clock_mono_ns(); left > 0 && !worker_is_stopping();
         left = deadline_ns - (int64_t)clock_mono_ns()) {
        int64_t slice = left < DEBUG_SLEEP_SLICE_MS * 1000000LL ? left : DEBUG_SLEEP_SLICE_MS * 1000000LL;
        struct timespec ts = { (time_t)(slice / 1000000000LL), (long)(slice % 1000000000LL) };
        nanosleep(&ts, NULL);
    }
}

/* DEBUG SLEEP seconds: blocks this thread, as Redis blocks its server (tests use it).
 * The argument must be a finite number from 0 to DEBUG_SLEEP_MAX_SECONDS; the sleep is
 * taken in short slices so that a stopping worker returns at once. */
static void debug_sleep(client *c)
{
    double secs;
    if (parse_double(c->argv[2].ptr, c->argv[2].len, &secs) != 0 || !isfinite(secs)) {
        reply_error(&c->out, ERR_NOT_FLOAT);
        return;
    }
    if (secs < 0 || secs > DEBUG_SLEEP_MAX_SECONDS) {
        reply_errorf(&c->out, "ERR DEBUG SLEEP takes 0 to %.0f seconds", DEBUG_SLEEP_MAX_SECONDS);
        return;
    }
    sleep_until_or_stop((int64_t)clock_mono_ns() + (int64_t)(secs * 1e9));
    c->w->txn.batch_clock_ms = clock_wall_ms();   /* later commands of the batch see the sleep */
    reply_ok(&c->out);
}

/* DEBUG KEYSHARD key: the shard the key lives in (kvns's own, for tests and for
 * reading lock-wait figures). */
static void debug_keyshard(client *c)
{
    kv_key k;
    key_init(&k, c->argv[2].ptr, c->argv[2].len);
    reply_int(&c->out, k.shard);
}

/* DEBUG LOCKSHARD key milliseconds: holds the lock of key's shard that long (0 to
 * 60000), stalling this thread as a stopped or very slow worker would: lets tests
 * show that other threads' clients of other shards are not held up. */
static void debug_lockshard(client *c)
{
    long long ms;
    if (parse_ll(c->argv[3].ptr, c->argv[3].len, &ms) != 0 || ms < 0 || ms > 60000) {
        reply_error(&c->out, "ERR DEBUG LOCKSHARD takes 0 to 60000 milliseconds");
        return;
    }
    kv_key k;
    key_init(&k, c->argv[2].ptr, c->argv[2].len);
    if (!cmd_txn_begin(c, &k.shard, 1))
        return;
    sleep_until_or_stop((int64_t)clock_mono_ns() + ms * 1000000LL);
    cmd_commit(c);
    c->w->txn.batch_clock_ms = clock_wall_ms();
    reply_ok(&c->out);
}

/* DEBUG CHECK: walks every structure of the arena and verifies its invariants. */
static void debug_check(client *c)
{
    char err[512] = "";
    if (store_check(&c->w->txn, err, sizeof err) == 0)
        reply_ok(&c->out);
    else
        reply_errorf(&c->out, "ERR arena check failed: %s", err);
}

/* True when the peer is this host: loopback (IPv4, IPv6 or IPv4-mapped) or a Unix
 * socket, as Redis's islocalClient decides for enable-debug-command local. */
static bool client_is_local(const client *c)
{
    return strncmp(c->addr, "127.", 4) == 0 || strncmp(c->addr, "::1:", 4) == 0 ||
           strncmp(c->addr, "::ffff:127.", 11) == 0 || c->addr[0] == '/';
}

/* Whether enable-debug-command lets this client run DEBUG. */
static bool debug_allowed(const client *c)
{
    const kvns_config *cfg = c->w->cfg ? c->w->cfg : server.cfg;
    enum debug_access a = cfg ? cfg->enable_debug_command : DEBUG_ACCESS_NO;
    return a == DEBUG_ACCESS_YES || (a == DEBUG_ACCESS_LOCAL && client_is_local(c));
}

static void cmd_debug(client *c)
{
    if (!debug_allowed(c)) {
        reply_error(&c->out, "ERR DEBUG command not allowed. If the enable-debug-command option is set "
                             "to \"local\", you can run it from a local connection, otherwise you need "
                             "to set this option in the configuration file, and then restart the server.");
        return;
    }
    if (arg_is(&c->argv[1], "sleep") && c->argc == 3) {
        debug_sleep(c);
    } else if (arg_is(&c->argv[1], "check") && c->argc == 2) {
        debug_check(c);
    } else if (arg_is(&c->argv[1], "keyshard") && c->argc == 3) {
        debug_keyshard(c);
    } else if (arg_is(&c->argv[1], "lockshard") && c->argc == 4) {
        debug_lockshard(c);
    } else if (arg_is(&c->argv[1], "help") && c->argc == 2) {
        static const char *const lines[] = {
            "DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "CHECK",
            "    Walk every structure of the shared-memory store and verify its invariants.",
            "KEYSHARD <key>",
            "    Return the shard <key> lives in.",
            "LOCKSHARD <key> <milliseconds>",
            "    Hold the lock of <key>'s shard for <milliseconds>, stalling this connection's thread.",
            "SLEEP <seconds>",
            "    Stop the server for <seconds>. Decimals allowed.",
            "HELP",
            "    Prints this help.",
        };
        reply_help(c, lines, sizeof lines / sizeof lines[0]);
    } else {
        char sub[160];
        tsrv_arg_for_error(&c->argv[1], sub, sizeof sub);
        reply_errorf(&c->out, "ERR unknown subcommand or wrong number of arguments for '%s'. Try DEBUG HELP.",
                     sub);
    }
}

/* ---- WAIT, LATENCY, SLOWLOG, LASTSAVE, XADD ------------------------------------------------ */

/* WAIT numreplicas timeout: kvns has no replicas, so none acknowledged (answered at once,
 * where Redis would wait out the timeout when numreplicas > 0). */
static void cmd_wait(client *c)
{
    long long replicas, timeout;
    if (!arg_ll(c, 1, &replicas))
        return;
    if (parse_ll(c->argv[2].ptr, c->argv[2].len, &timeout) != 0) {
        reply_error(&c->out, "ERR timeout is not an integer or out of range");
        return;
    }
    if (timeout < 0) {
        reply_error(&c->out, "ERR timeout is negative");
        return;
    }
    reply_int(&c->out, 0);
}

/* LATENCY LATEST / HISTORY / RESET / DOCTOR / GRAPH: the latency monitor's events
 * ("command", "fast-command"), merged over every worker's lanes (slowlog.h); LATENCY
 * HISTOGRAM reports the per-command histograms (t_info.c). */

/* LATENCY LATEST: [event, unix time of its latest sample, that sample's ms, the
 * all-time high ms] for each event that has samples. */
static void latency_sub_latest(client *c)
{
    latency_history *hist = malloc(sizeof *hist);
    if (!hist)
        abort();
    size_t handle = reply_defer_array(&c->out);
    long long events = 0;
    for (int e = 0; e < LATENCY_EVENTS; e++) {
        if (!latency_collect((enum latency_event)e, hist))
            continue;
        const latency_sample *latest = &hist->samples[hist->count - 1];
        reply_array(&c->out, 4);
        reply_bulk_cstr(&c->out, latency_event_name((enum latency_event)e));
        reply_int(&c->out, (long long)latest->unix_time);
        reply_int(&c->out, (long long)latest->latency_ms);
        reply_int(&c->out, (long long)hist->max_ms);
        events++;
    }
    reply_fix_array(&c->out, handle, events);
    free(hist);
}

/* LATENCY HISTORY event: [[unix time, ms], ...] oldest first, one per second; empty for
 * an event without samples or an unknown one. */
static void latency_sub_history(client *c)
{
    latency_history *hist = malloc(sizeof *hist);
    if (!hist)
        abort();
    int e = latency_event_find(c->argv[2].ptr, c->argv[2].len);
    if (e < 0 || !latency_collect((enum latency_event)e, hist))
        hist->count = 0;
    reply_array(&c->out, hist->count);
    for (uint32_t i = 0; i < hist->count; i++) {
        reply_array(&c->out, 2);
        reply_int(&c->out, (long long)hist->samples[i].unix_time);
        reply_int(&c->out, (long long)hist->samples[i].latency_ms);
    }
    free(hist);
}

/* LATENCY RESET [event ...]: forgets every event, or the named ones (any case, unlike
 * HISTORY and GRAPH: Redis's latencyResetEvent uses strcasecmp); replies the number of
 * events that had samples. */
static void latency_sub_reset(client *c)
{
    long long resets = 0;
    if (c->argc == 2) {
        for (int e = 0; e < LATENCY_EVENTS; e++)
            resets += latency_reset((enum latency_event)e);
    }
    for (size_t i = 2; i < c->argc; i++) {
        for (int e = 0; e < LATENCY_EVENTS; e++) {
            if (arg_is(&c->argv[i], latency_event_name((enum latency_event)e)))
                resets += latency_reset((enum latency_event)e);   /* 0 when named twice */
        }
    }
    reply_int(&c->out, resets);
}

/* LATENCY DOCTOR: a short report on the recorded events and what to do about them. */
static void latency_sub_doctor(client *c)
{
    size_t len = 0;
    char *text = latency_doctor_text(&len);
    reply_verbatim(&c->out, text, len);
    free(text);
}

/* LATENCY GRAPH event: Redis's ASCII sparkline of the event's samples. */
static void latency_sub_graph(client *c)
{
    int e = latency_event_find(c->argv[2].ptr, c->argv[2].len);
    size_t len = 0;
    char *text = e < 0 ? NULL : latency_graph_text((enum latency_event)e, &len);
    if (!text) {
        char event[160];
        tsrv_arg_for_error(&c->argv[2], event, sizeof event);
        reply_errorf(&c->out, "ERR No samples available for event '%s'", event);
        return;
    }
    reply_verbatim(&c->out, text, len);
    free(text);
}

static const command latency_subs[] = {
    { "doctor", 2, ADMIN_SUB, NULL, latency_sub_doctor, NULL, "Returns a human-readable latency analysis report.",
      "2.8.13", "O(1)", NULL },
    { "graph", 3, ADMIN_SUB, NULL, latency_sub_graph, NULL, "Returns a latency graph for an event.", "2.8.13", "O(1)", NULL },
    { "histogram", -2, ADMIN_SUB, NULL, tsrv_latency_histogram, NULL,
      "Returns the cumulative distribution of latencies of a subset or all commands.", "7.0.0",
      "O(N) where N is the number of commands with latency information being retrieved.", NULL },
    { "history", 3, ADMIN_SUB, NULL, latency_sub_history, NULL, "Returns timestamp-latency samples for an event.",
      "2.8.13", "O(1)", NULL },
    { "latest", 2, ADMIN_SUB, NULL, latency_sub_latest, NULL, "Returns the latest latency samples for all events.",
      "2.8.13", "O(1)", NULL },
    { "reset", -2, ADMIN_SUB, NULL, latency_sub_reset, NULL, "Resets the latency data for one or more events.",
      "2.8.13", "O(1)", NULL },
    { "help", 2, CMD_LOADING | CMD_STALE, NULL, tsrv_sub_help, NULL,
      "Returns helpful text about the different subcommands.", "2.8.13", "O(1)", NULL },
    { 0 }
};

/* SLOWLOG GET [count]: the newest count entries (default 10, -1 all) of every worker,
 * newest first, each [id, unix time, microseconds, [args], client addr, client name]. */
static void slowlog_sub_get(client *c)
{
    long long count = 10;
    if (c->argc > 3) {
        char sub[160];
        tsrv_arg_for_error(&c->argv[1], sub, sizeof sub);
        reply_errorf(&c->out, "ERR unknown subcommand or wrong number of arguments for '%s'. Try SLOWLOG HELP.",
                     sub);
        return;
    }
    if (c->argc == 3 && (parse_ll(c->argv[2].ptr, c->argv[2].len, &count) != 0 || count < -1)) {
        reply_error(&c->out, "ERR count should be greater than or equal to -1");
        return;
    }
    slowlog_list list;
    slowlog_collect(&list);
    size_t n = count < 0 || (unsigned long long)count > list.count ? list.count : (size_t)count;
    reply_array(&c->out, (long long)n);
    for (size_t i = 0; i < n; i++) {
        const slowlog_entry *e = &list.entries[i];
        reply_array(&c->out, 6);
        reply_int(&c->out, (long long)e->id);
        reply_int(&c->out, (long long)e->unix_time);
        reply_int(&c->out, (long long)e->duration_us);
        reply_array(&c->out, e->argc);
        size_t len;
        for (uint32_t a = 0; a < e->argc + 2; a++) {
            const char *p = slowlog_entry_string(&list, e, a, &len);
            reply_bulk(&c->out, p, len);      /* the arguments, then addr and name */
        }
    }
    slowlog_list_free(&list);
}

/* SLOWLOG LEN: the entries of every worker that SLOWLOG GET -1 would show. */
static void slowlog_sub_len(client *c)
{
    reply_int(&c->out, (long long)slowlog_length());
}

/* SLOWLOG RESET: empties the slow log of every worker. */
static void slowlog_sub_reset(client *c)
{
    slowlog_reset();
    reply_ok(&c->out);
}

static const command slowlog_subs[] = {
    { "get", -2, ADMIN_SUB, NULL, slowlog_sub_get, NULL, "Returns the slow log's entries.", "2.2.12",
      "O(N) where N is the number of entries returned", NULL },
    { "len", 2, ADMIN_SUB, NULL, slowlog_sub_len, NULL, "Returns the number of entries in the slow log.", "2.2.12", "O(1)", NULL },
    { "reset", 2, ADMIN_SUB, NULL, slowlog_sub_reset, NULL, "Clears all entries from the slow log.", "2.2.12",
      "O(N) where N is the number of entries in the slowlog", NULL },
    { "help", 2, CMD_LOADING | CMD_STALE, NULL, tsrv_sub_help, NULL,
      "Show helpful text about the different subcommands", "6.2.0", "O(1)", NULL },
    { 0 }
};

/* XADD: streams are not implemented (the reference's documented reply). */
static void cmd_xadd(client *c)
{
    reply_error(&c->out, "ERR stream type not supported");
}

/* ---- the table ----------------------------------------------------------------------------- */

#define NL CMD_NOLOCK
#define LS (CMD_LOADING | CMD_STALE)

const command server_commands[] = {
    { "ping", -1, NL | CMD_FAST | CMD_STALE, NULL, cmd_ping, "connection",
      "Returns the server's liveliness response.", "1.0.0", "O(1)", NULL },
    { "echo", 2, NL | CMD_FAST | LS, NULL, cmd_echo, "connection", "Returns the given string.",
      "1.0.0", "O(1)", NULL },
    { "quit", -1, NL | CMD_FAST | CMD_NOSCRIPT | LS, NULL, cmd_quit, "connection",
      "Closes the connection.", "1.0.0", "O(1)", NULL },
    { "hello", -1, NL | CMD_FAST | CMD_NOSCRIPT | LS, NULL, cmd_hello, "connection",
      "Handshakes with the Redis server.", "6.0.0", "O(1)", NULL },
    { "auth", -2, NL | CMD_FAST | CMD_NOSCRIPT | LS, NULL, cmd_auth, "connection",
      "Authenticates the connection.", "1.0.0",
      "O(N) where N is the number of passwords defined for the user", NULL },
    { "reset", 1, NL | CMD_FAST | CMD_NOSCRIPT | LS, NULL, cmd_reset, "connection",
      "Resets the connection.", "6.2.0", "O(1)", NULL },
    { "select", 2, NL | CMD_FAST | LS, NULL, cmd_select, "connection",
      "Changes the selected database.", "1.0.0", "O(1)", NULL },
    { "client", -2, NL, NULL, NULL, "connection",
      "A container for client connection commands.", "2.4.0", "Depends on subcommand.", tsrv_client_subs },
    { "time", 1, NL | CMD_FAST | LS, NULL, cmd_time, "server", "Returns the server time.", "2.6.0",
      "O(1)", NULL },
    { "command", -1, NL | LS, NULL, tsrv_command, "server",
      "Returns detailed information about all commands.", "2.8.13",
      "O(N) where N is the total number of Redis commands", tsrv_command_subs },
    { "info", -1, NL | LS, NULL, tsrv_info, "server",
      "Returns information and statistics about the server.", "1.0.0", "O(1)", NULL },
    { "config", -2, NL, NULL, NULL, "server",
      "A container for server configuration commands.", "2.0.0", "Depends on subcommand.", tsrv_config_subs },
    { "debug", -2, NL | CMD_ADMIN | CMD_NOSCRIPT | LS, NULL, cmd_debug, "server",
      "A container for debugging commands.", "1.0.0", "Depends on subcommand.", NULL },
    { "latency", -2, NL, NULL, NULL, "server",
      "A container for latency diagnostics commands.", "2.8.13", "Depends on subcommand.", latency_subs },
    { "slowlog", -2, NL, NULL, NULL, "server", "A container for slow log commands.",
      "2.2.12", "Depends on subcommand.", slowlog_subs },
    { "wait", 3, NL | CMD_NOSCRIPT, NULL, cmd_wait, "generic",
      "Blocks until the asynchronous replication of all preceding write commands sent by the "
      "connection is completed.", "3.0.0", "O(1)", NULL },
    { "xadd", -5, CMD_WRITE | CMD_DENYOOM | CMD_FAST, (const key_spec[]){ { KS_RW | KS_UPDATE, KS_INDEX, 1, NULL, KS_RANGE, .range = { 0, 1, 0 }, .notes = "UPDATE instead of INSERT because of the optional trimming feature" }, { 0 } }, cmd_xadd, "stream",
      "Appends a new message to a stream. Creates the key if it doesn't exist.", "5.0.0",
      "O(1) when adding a new entry, O(N) when trimming where N being the number of entries "
      "evicted.", NULL },
    { 0 }
};
