/* t_server.c - connection and server commands: PING, ECHO, QUIT, HELLO, AUTH, RESET,
 * SELECT, TIME, CLIENT, CONFIG, DEBUG, WAIT, LATENCY, SLOWLOG, LASTSAVE, XADD, and the
 * command table of this family (INFO, COMMAND and LATENCY HISTOGRAM are in t_info.c).
 *
 * Redis 7.2 is the model for every reply and error text. A container command (CLIENT,
 * COMMAND, CONFIG, LATENCY, SLOWLOG) dispatches through a table of subcommand rows -
 * plain `command` rows whose arity counts the whole argv - that also feeds COMMAND
 * INFO / DOCS / LIST and the container's HELP, so `client|list` and friends are
 * described the way Redis describes them.
 *
 * CLIENT LIST and CLIENT KILL work on the shared client registry (clients.h), so they
 * see and reach the clients of every worker process and thread. */
#include "kvns/command.h"
#include "kvns/arena.h"
#include "kvns/clients.h"
#include "kvns/glob.h"
#include "kvns/shard.h"
#include "kvns/slowlog.h"

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

#define KVNS_REDIS_VERSION "7.2.4"

/* Shared with t_info.c (no header of their own; keep both copies in step). */
void tsrv_info(client *c);                      /* t_info.c: INFO */
void tsrv_command(client *c);                   /* t_info.c: COMMAND */
void tsrv_latency_histogram(client *c);         /* t_info.c: LATENCY HISTOGRAM */
void tsrv_reset_memory_peak(void);              /* t_info.c: INFO's used_memory_peak */
void tsrv_run_subcommand(client *c, const char *parent, const command *subs);
const command *tsrv_subs_of(const command *cmd);
extern const command tsrv_command_subs[];

static void cmd_config(client *c);

/* ---- small helpers ------------------------------------------------------------------ */

/* Copies at most 128 bytes of an argument into dst for an error text, with CR and LF
 * turned into spaces as Redis does (an error reply is one line). */
static void arg_for_error(const resp_arg *a, char *dst, size_t cap)
{
    size_t n = a->len < 128 ? a->len : 128;
    if (n >= cap)
        n = cap - 1;
    for (size_t i = 0; i < n; i++)
        dst[i] = (a->ptr[i] == '\r' || a->ptr[i] == '\n') ? ' ' : a->ptr[i];
    dst[n] = '\0';
}

/* Copies an argument into a NUL-terminated buffer (truncating); returns dst. */
static char *arg_cstr(const resp_arg *a, char *dst, size_t cap)
{
    size_t n = a->len < cap - 1 ? a->len : cap - 1;
    memcpy(dst, a->ptr, n);
    dst[n] = '\0';
    return dst;
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
static bool valid_client_attr(const resp_arg *a)
{
    for (size_t i = 0; i < a->len; i++) {
        unsigned char ch = (unsigned char)a->ptr[i];
        if (ch < '!' || ch > '~')
            return false;
    }
    return true;
}

/* Replaces *slot by a copy of the argument, or NULL when it is empty. */
static void set_client_string(char **slot, const resp_arg *a)
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

/* CONTAINER HELP, generated from the subcommand rows: usage line, then each
 * subcommand with its summary (Redis's addReplyHelp shape: an array of status lines). */
static void reply_sub_help(client *c, const char *upper, const command *subs)
{
    size_t n = 0;
    for (const command *s = subs; s->name; s++)
        n++;
    reply_array(&c->out, (long long)(1 + 2 * n));
    char line[256];
    snprintf(line, sizeof line, "%s <subcommand> [<arg> [value] [opt] ...]. Subcommands are:", upper);
    reply_simple(&c->out, line);
    for (const command *s = subs; s->name; s++) {
        size_t i = 0;
        for (; s->name[i] && i < sizeof line - 1; i++)
            line[i] = (char)toupper((unsigned char)s->name[i]);
        line[i] = '\0';
        reply_simple(&c->out, line);
        snprintf(line, sizeof line, "    %s", s->summary ? s->summary : "");
        reply_simple(&c->out, line);
    }
}

/* Runs the subcommand of a container command named by argv[1] (its rows' arity counts
 * the whole argv): Redis's errors for an unknown subcommand and a wrong arity. A row
 * without a handler is the generated HELP. */
void tsrv_run_subcommand(client *c, const char *parent, const command *subs)
{
    char upper[32], arg[160];
    size_t i = 0;
    for (; parent[i] && i < sizeof upper - 1; i++)
        upper[i] = (char)toupper((unsigned char)parent[i]);
    upper[i] = '\0';
    const resp_arg *a = &c->argv[1];
    for (const command *s = subs; s->name; s++) {
        if (!arg_is(a, s->name))
            continue;
        if ((s->arity > 0 && (int)c->argc != s->arity) || (int)c->argc < -s->arity)
            reply_errorf(&c->out, "ERR wrong number of arguments for '%s|%s' command", parent, s->name);
        else if (s->proc)
            s->proc(c);
        else
            reply_sub_help(c, upper, subs);
        return;
    }
    arg_for_error(a, arg, sizeof arg);
    reply_errorf(&c->out, "ERR unknown subcommand '%s'. Try %s HELP.", arg, upper);
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
    reply_ok(&c->out);
    c->flags |= CLIENT_CLOSE_AFTER_REPLY;
}

static const char ERR_NO_PASSWORD[] =
    "ERR AUTH <password> called without any password configured for the default user. "
    "Are you sure your configuration is correct?";
static const char ERR_WRONGPASS[] = "WRONGPASS invalid username-password pair or user is disabled.";

/* kvns has one user, "default", with no password: like Redis's default user with
 * `nopass`, it accepts any password, and any other user name does not exist. */
static bool auth_user_ok(const resp_arg *user)
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
    if (!auth_user_ok(&c->argv[1])) {
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
            arg_for_error(&c->argv[j], opt, sizeof opt);
            reply_errorf(&c->out, "ERR Syntax error in HELLO option '%s'", opt);
            return;
        }
    }
    if (user && !auth_user_ok(user)) {
        reply_error(&c->out, ERR_WRONGPASS);
        return;
    }
    if (name) {
        if (!valid_client_attr(name)) {
            reply_error(&c->out, "ERR Client names cannot contain spaces, newlines or special characters.");
            return;
        }
        set_client_string(&c->name, name);
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

/* RESET: back to RESP2 and no name. The connection has no other per-client state in
 * kvns yet (no MULTI, WATCH, subscriptions, tracking or CLIENT REPLY modes); the
 * library name and version survive, as in Redis. */
static void cmd_reset(client *c)
{
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

/* ---- CLIENT ---------------------------------------------------------------------------- */

/* The fields after "cmd=" every client line ends with. */
#define LINE_TAIL "user=default redir=-1 resp=%d lib-name=%s lib-ver=%s\n"

/* Appends the caller's own CLIENT LIST / INFO line, as Redis 7.2 formats it (single
 * spaces, no trailing space): from the live connection, naming the running subcommand
 * and counting its arguments. */
static void self_line(FILE *f, const client *c)
{
    int64_t now = now_ms();
    long long age = (long long)((now - c->created_ms) / 1000);
    size_t argv_mem = 0;
    for (size_t i = 0; i < c->argc; i++)
        argv_mem += c->argv[i].len;
    char sub[32];
    size_t n = 0;
    for (; c->argc >= 2 && n < c->argv[1].len && n < sizeof sub - 1; n++)
        sub[n] = (char)tolower((unsigned char)c->argv[1].ptr[n]);
    sub[n] = '\0';
    size_t tot_mem = sizeof *c + c->rcap + c->out.cap + c->keys_cap * sizeof(kv_key) +
                     c->req.cap * sizeof(resp_arg);
    fprintf(f,
            "id=%llu addr=%s laddr=%s fd=%d name=%s age=%lld idle=0 flags=N db=0 sub=0 psub=0 "
            "ssub=0 multi=-1 qbuf=%zu qbuf-free=%zu argv-mem=%zu multi-mem=0 rbs=%zu rbp=0 obl=0 "
            "oll=0 omem=0 tot-mem=%zu events=r cmd=client|%s " LINE_TAIL,
            (unsigned long long)c->id, c->addr, c->laddr, c->fd, c->name ? c->name : "",
            age < 0 ? 0 : age, c->rlen, c->rcap - c->rlen, argv_mem, c->out.cap, tot_mem, sub,
            c->proto, c->lib_name ? c->lib_name : "", c->lib_ver ? c->lib_ver : "");
}

/* A copy of registry slot i taken without locks (its owner thread writes it with
 * plain stores after every batch of commands): false when the slot is free, being
 * claimed, or was reused while copied. Strings are forced to end within their field. */
static bool slot_snapshot(uint32_t i, client_slot *out)
{
    client_slot *s = clients_slot(i);
    uint64_t id = __atomic_load_n(&s->id, __ATOMIC_ACQUIRE);
    if (id == 0 || id == UINT64_MAX)
        return false;
    memcpy(out, s, sizeof *out);
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    if (__atomic_load_n(&s->id, __ATOMIC_RELAXED) != id)
        return false;
    out->id = id;
    out->addr[sizeof out->addr - 1] = out->laddr[sizeof out->laddr - 1] = '\0';
    out->name[sizeof out->name - 1] = out->lib_name[sizeof out->lib_name - 1] = '\0';
    out->lib_ver[sizeof out->lib_ver - 1] = '\0';
    return true;
}

/* Appends the CLIENT LIST line of another client, from its registry slot (as fresh as
 * its thread's last batch of commands; buffer sizes other than qbuf are not published
 * and read 0 - the slot's obuf is taken before the batch's replies are written). */
static void slot_line(FILE *f, const client_slot *s)
{
    int64_t now = now_ms();
    long long age = (long long)((now - s->created_ms) / 1000);
    long long idle = (long long)((now - s->last_ms) / 1000);
    const command *last = s->last_cmd ? command_at(s->last_cmd - 1) : NULL;
    fprintf(f,
            "id=%llu addr=%s laddr=%s fd=%d name=%s age=%lld idle=%lld flags=%s db=0 sub=0 psub=0 "
            "ssub=0 multi=-1 qbuf=%llu qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 "
            "oll=0 omem=0 tot-mem=%llu events=r cmd=%s " LINE_TAIL,
            (unsigned long long)s->id, s->addr, s->laddr, s->fd, s->name, age < 0 ? 0 : age,
            idle < 0 ? 0 : idle, s->kill ? "A" : "N", (unsigned long long)s->qbuf,
            (unsigned long long)(sizeof(client) + s->qbuf), last ? last->name : "NULL",
            (int)s->resp, s->lib_name, s->lib_ver);
}

static void client_setname(client *c)
{
    if (!valid_client_attr(&c->argv[2])) {
        reply_error(&c->out, "ERR Client names cannot contain spaces, newlines or special characters.");
        return;
    }
    set_client_string(&c->name, &c->argv[2]);
    reply_ok(&c->out);
}

static void client_getname(client *c)
{
    if (c->name)
        reply_bulk_cstr(&c->out, c->name);
    else
        reply_null(&c->out);
}

static void client_id(client *c)
{
    reply_int(&c->out, (long long)c->id);
}

/* CLIENT SETINFO LIB-NAME|LIB-VER value (Redis 7.2): an empty value clears it. */
static void client_setinfo(client *c)
{
    char attr[160];
    arg_for_error(&c->argv[2], attr, sizeof attr);
    char **slot;
    if (arg_is(&c->argv[2], "lib-name")) {
        slot = &c->lib_name;
    } else if (arg_is(&c->argv[2], "lib-ver")) {
        slot = &c->lib_ver;
    } else {
        reply_errorf(&c->out, "ERR Unrecognized option '%s'", attr);
        return;
    }
    if (!valid_client_attr(&c->argv[3])) {
        reply_errorf(&c->out, "ERR %s cannot contain spaces, newlines or special characters.", attr);
        return;
    }
    set_client_string(slot, &c->argv[3]);
    reply_ok(&c->out);
}

static void client_info(client *c)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        abort();
    self_line(f, c);
    fclose(f);
    reply_verbatim(&c->out, text, len);
    free(text);
}

/* Client types CLIENT LIST / KILL TYPE accept; only "normal" clients exist in kvns. */
static int client_type_of(const resp_arg *a)
{
    if (arg_is(a, "normal"))
        return 1;
    if (arg_is(a, "master") || arg_is(a, "replica") || arg_is(a, "slave") || arg_is(a, "pubsub"))
        return 0;
    return -1;
}

typedef struct slot_ref {
    uint64_t id;
    uint32_t index;
} slot_ref;

static int slot_ref_cmp(const void *a, const void *b)
{
    const slot_ref *x = a, *y = b;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* The registry's live slots, oldest client first (*n of them; free the result). */
static slot_ref *registry_scan(size_t *n)
{
    uint32_t cap = clients_capacity();
    slot_ref *refs = malloc((cap ? cap : 1) * sizeof *refs);
    if (!refs)
        abort();
    *n = 0;
    for (uint32_t i = 0; i < cap; i++) {
        client_slot *s = clients_slot(i);
        uint64_t id = __atomic_load_n(&s->id, __ATOMIC_ACQUIRE);
        if (id != 0 && id != UINT64_MAX)
            refs[(*n)++] = (slot_ref){ id, i };
    }
    qsort(refs, *n, sizeof *refs, slot_ref_cmp);
    return refs;
}

/* CLIENT LIST [TYPE normal|master|replica|pubsub] [ID client-id ...]: every client of
 * every worker process and thread (the shared registry). */
static void client_list(client *c)
{
    bool none = false;
    size_t ids_from = 0;
    if (c->argc == 4 && arg_is(&c->argv[2], "type")) {
        int t = client_type_of(&c->argv[3]);
        if (t < 0) {
            char name[160];
            arg_for_error(&c->argv[3], name, sizeof name);
            reply_errorf(&c->out, "ERR Unknown client type '%s'", name);
            return;
        }
        none = t == 0;
    } else if (c->argc > 3 && arg_is(&c->argv[2], "id")) {
        for (size_t i = 3; i < c->argc; i++) {
            long long id;
            if (parse_ll(c->argv[i].ptr, c->argv[i].len, &id) != 0) {
                reply_error(&c->out, "ERR Invalid client ID");
                return;
            }
        }
        ids_from = 3;
    } else if (c->argc != 2) {
        reply_error(&c->out, ERR_SYNTAX);
        return;
    }
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        abort();
    size_t n = 0;
    slot_ref *refs = none ? NULL : registry_scan(&n);
    for (size_t r = 0; r < n; r++) {
        if (ids_from) {
            bool wanted = false;
            for (size_t i = ids_from; i < c->argc && !wanted; i++) {
                long long id = 0;
                parse_ll(c->argv[i].ptr, c->argv[i].len, &id);
                wanted = (unsigned long long)id == refs[r].id;
            }
            if (!wanted)
                continue;
        }
        client_slot snap;
        if (refs[r].id == c->id)
            self_line(f, c);
        else if (slot_snapshot(refs[r].index, &snap))
            slot_line(f, &snap);
    }
    free(refs);
    fclose(f);
    reply_verbatim(&c->out, text, len);
    free(text);
}

static bool addr_is(const char *addr, const resp_arg *a)
{
    return strlen(addr) == a->len && memcmp(addr, a->ptr, a->len) == 0;
}

/* Closes the client of registry slot i: the caller after its reply; any other client
 * (any process) is flagged, and its thread closes it on its next loop turn. */
static void kill_slot(client *c, uint32_t i, uint64_t id)
{
    if (id == c->id) {
        c->flags |= CLIENT_CLOSE_AFTER_REPLY;
        return;
    }
    client_slot *s = clients_slot(i);
    uint32_t owner = __atomic_load_n(&s->lane, __ATOMIC_RELAXED);
    __atomic_store_n(&s->kill, 1, __ATOMIC_RELEASE);
    if (owner < arena_hdr()->lane_count)
        __atomic_add_fetch(&arena_lane(owner)->kill_seq, 1, __ATOMIC_RELEASE);
}

/* CLIENT KILL ip:port | CLIENT KILL <filter> <value> ...: over every worker's clients.
 * Clients of other threads close asynchronously (within one event-loop turn). */
static void client_kill(client *c)
{
    size_t n = 0;
    client_slot snap;
    if (c->argc == 3) {                       /* old form: reply +OK or an error */
        slot_ref *refs = registry_scan(&n);
        for (size_t r = 0; r < n; r++) {
            if (slot_snapshot(refs[r].index, &snap) && !snap.kill && addr_is(snap.addr, &c->argv[2])) {
                kill_slot(c, refs[r].index, refs[r].id);
                free(refs);
                reply_ok(&c->out);
                return;
            }
        }
        free(refs);
        reply_error(&c->out, "ERR No such client");
        return;
    }
    if ((c->argc - 2) % 2) {
        reply_error(&c->out, ERR_SYNTAX);
        return;
    }
    long long id = 0;
    const resp_arg *addr = NULL, *laddr = NULL;
    int type = -1;                            /* -1 any, 0 a type kvns never has, 1 normal */
    bool skipme = true;
    for (size_t i = 2; i < c->argc; i += 2) {
        const resp_arg *opt = &c->argv[i], *val = &c->argv[i + 1];
        char text[160];
        arg_for_error(val, text, sizeof text);
        if (arg_is(opt, "id")) {
            if (parse_ll(val->ptr, val->len, &id) != 0 || id <= 0) {
                reply_error(&c->out, "ERR client-id should be greater than 0");
                return;
            }
        } else if (arg_is(opt, "addr")) {
            addr = val;
        } else if (arg_is(opt, "laddr")) {
            laddr = val;
        } else if (arg_is(opt, "type")) {
            if ((type = client_type_of(val)) < 0) {
                reply_errorf(&c->out, "ERR Unknown client type '%s'", text);
                return;
            }
        } else if (arg_is(opt, "user")) {
            if (!auth_user_ok(val)) {
                reply_errorf(&c->out, "ERR No such user '%s'", text);
                return;
            }
        } else if (arg_is(opt, "skipme") && (arg_is(val, "yes") || arg_is(val, "no"))) {
            skipme = arg_is(val, "yes");
        } else {
            reply_error(&c->out, ERR_SYNTAX);
            return;
        }
    }
    long long killed = 0;
    slot_ref *refs = type == 0 ? NULL : registry_scan(&n);
    for (size_t r = 0; r < n; r++) {
        if (!slot_snapshot(refs[r].index, &snap) || snap.kill)
            continue;
        if ((id && snap.id != (unsigned long long)id) || (addr && !addr_is(snap.addr, addr)) ||
            (laddr && !addr_is(snap.laddr, laddr)) || (skipme && snap.id == c->id))
            continue;
        kill_slot(c, refs[r].index, snap.id);
        killed++;
    }
    free(refs);
    reply_int(&c->out, killed);
}

/* CLIENT NO-EVICT on|off: kvns never evicts clients, so both settings hold. */
static void client_no_evict(client *c)
{
    if (arg_is(&c->argv[2], "on") || arg_is(&c->argv[2], "off"))
        reply_ok(&c->out);
    else
        reply_error(&c->out, ERR_SYNTAX);
}

/* CLIENT NO-TOUCH on|off: accepted for compatibility; kvns's per-key hit counters (the
 * lru/mru eviction input) are still bumped by this client's reads. */
static void client_no_touch(client *c)
{
    client_no_evict(c);
}

/* CLIENT REPLY ON: the only mode kvns has. OFF and SKIP would need the dispatcher to
 * drop replies, so they are refused rather than silently ignored. */
static void client_reply(client *c)
{
    if (arg_is(&c->argv[2], "on"))
        reply_ok(&c->out);
    else if (arg_is(&c->argv[2], "off") || arg_is(&c->argv[2], "skip"))
        reply_error(&c->out, "ERR CLIENT REPLY OFF and SKIP are not supported by kvns");
    else
        reply_error(&c->out, ERR_SYNTAX);
}

/* CLIENT GETREDIR: no client-side caching, so no redirection (-1). */
static void client_getredir(client *c)
{
    reply_int(&c->out, -1);
}

#define CONN_SUB (CMD_NOSCRIPT | CMD_LOADING | CMD_STALE)
#define ADMIN_SUB (CMD_ADMIN | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE)

static const command client_subs[] = {
    { "getname", 2, CONN_SUB, 0, 0, 0, client_getname, NULL, "Returns the name of the connection.", "2.6.9", "O(1)" },
    { "getredir", 2, CONN_SUB, 0, 0, 0, client_getredir, NULL,
      "Returns the client ID to which the connection's tracking notifications are redirected.",
      "6.0.0", "O(1)" },
    { "id", 2, CONN_SUB, 0, 0, 0, client_id, NULL, "Returns the unique client ID of the connection.", "5.0.0", "O(1)" },
    { "info", 2, CONN_SUB, 0, 0, 0, client_info, NULL, "Returns information about the connection.", "6.2.0", "O(1)" },
    { "kill", -3, ADMIN_SUB, 0, 0, 0, client_kill, NULL, "Terminates open connections.", "2.4.0",
      "O(N) where N is the number of client connections" },
    { "list", -2, ADMIN_SUB, 0, 0, 0, client_list, NULL, "Lists open connections.", "2.4.0",
      "O(N) where N is the number of client connections" },
    { "no-evict", 3, ADMIN_SUB, 0, 0, 0, client_no_evict, NULL, "Sets the client eviction mode of the connection.",
      "7.0.0", "O(1)" },
    { "no-touch", 3, CONN_SUB, 0, 0, 0, client_no_touch, NULL,
      "Controls whether commands sent by the client affect the LRU/LFU of accessed keys.", "7.2.0",
      "O(1)" },
    { "reply", 3, CONN_SUB, 0, 0, 0, client_reply, NULL, "Instructs the server whether to reply to commands.",
      "3.2.0", "O(1)" },
    { "setinfo", 4, CONN_SUB, 0, 0, 0, client_setinfo, NULL, "Sets information specific to the client or connection.",
      "7.2.0", "O(1)" },
    { "setname", 3, CONN_SUB, 0, 0, 0, client_setname, NULL, "Sets the connection name.", "2.6.9", "O(1)" },
    { "help", 2, CMD_LOADING | CMD_STALE, 0, 0, 0, NULL, NULL,
      "Returns helpful text about the different subcommands.", "5.0.0", "O(1)" },
    { 0 }
};

static void cmd_client(client *c)
{
    tsrv_run_subcommand(c, "client", client_subs);
}

/* ---- CONFIG ---------------------------------------------------------------------------------- */

/* kvns's policy names, with Redis's "noeviction" for none. */
static const char *policy_name(uint32_t p)
{
    return p == EVICT_NONE ? "noeviction" : evict_policy_name((enum evict_policy)p);
}

/* CFG_LIVE_INT: an integer setting kept in the arena header (the slow log's and the
 * latency monitor's), changed by CONFIG SET for every worker at once. */
enum config_kind { CFG_FIXED, CFG_MAXMEMORY, CFG_POLICY, CFG_LIVE_INT };

enum config_id {
    P_BIND, P_PORT, P_DATABASES, P_MAXCLIENTS, P_MAXMEMORY, P_MAXMEMORY_POLICY, P_SAVE,
    P_APPENDONLY, P_TIMEOUT, P_TCP_KEEPALIVE, P_HZ, P_IO_THREADS, P_OUTPUT_LIMIT,
    P_PROTO_MAX_BULK, P_QUERY_LIMIT, P_NOTIFY, P_REQUIREPASS, P_PROTECTED, P_DAEMONIZE,
    P_LOGLEVEL, P_CLUSTER, P_DIR, P_UNIXSOCKET, P_KVNS_WORKERS, P_KVNS_THREADS, P_KVNS_SHARDS,
    P_KVNS_THRESHOLD, P_KVNS_PERSIST_PATH, P_KVNS_PERSIST_INTERVAL, P_KVNS_METRICS_PORT,
    P_SLOWLOG_SLOWER_THAN, P_SLOWLOG_MAX_LEN, P_LATENCY_THRESHOLD,
};

/* The parameters CONFIG GET reports. Only maxmemory, maxmemory-policy and the slow log
 * and latency monitor settings can change at run time; the rest come from the KVNS_*
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
}

static void config_set_failed(client *c, const resp_arg *name, const char *why)
{
    char arg[160];
    arg_for_error(name, arg, sizeof arg);
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
            arg_for_error(name, arg, sizeof arg);
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
        }
    }
    slowlog_trim();         /* a lower slowlog-max-len applies now, as in Redis */
    reply_ok(&c->out);
}

/* CONFIG RESETSTAT: clears the keyspace hit/miss/expired/evicted counters (shard
 * statistics) and this process's memory peak. The connection, command, byte and error
 * counters are single-writer per lane and owned by their threads, so they are not
 * reset; /metrics counters never are (Prometheus counters must not go backwards). */
static void config_resetstat(client *c)
{
    for (uint32_t s = 0; s < arena_hdr()->shard_count; s++) {
        shard *sh = shard_at(s);
        __atomic_store_n(&sh->stat_hits, 0, __ATOMIC_RELAXED);
        __atomic_store_n(&sh->stat_misses, 0, __ATOMIC_RELAXED);
        __atomic_store_n(&sh->stat_expired, 0, __ATOMIC_RELAXED);
        __atomic_store_n(&sh->stat_evicted, 0, __ATOMIC_RELAXED);
    }
    tsrv_reset_memory_peak();
    reply_ok(&c->out);
}

static void config_rewrite(client *c)
{
    reply_error(&c->out, "ERR The server is running without a config file");
}

static const command config_subs[] = {
    { "get", -3, ADMIN_SUB, 0, 0, 0, config_get, NULL,
      "Returns the effective values of configuration parameters.", "2.0.0",
      "O(N) when N is the number of configuration parameters provided" },
    { "resetstat", 2, ADMIN_SUB, 0, 0, 0, config_resetstat, NULL, "Resets the server's statistics.",
      "2.0.0", "O(1)" },
    { "rewrite", 2, ADMIN_SUB, 0, 0, 0, config_rewrite, NULL,
      "Persists the effective configuration to file.", "2.8.0", "O(1)" },
    { "set", -4, ADMIN_SUB, 0, 0, 0, config_set, NULL, "Sets configuration parameters in-flight.",
      "2.0.0", "O(N) when N is the number of configuration parameters provided" },
    { "help", 2, CMD_LOADING | CMD_STALE, 0, 0, 0, NULL, NULL,
      "Returns helpful text about the different subcommands.", "5.0.0", "O(1)" },
    { 0 }
};

static void cmd_config(client *c)
{
    tsrv_run_subcommand(c, "config", config_subs);
}

/* ---- DEBUG ------------------------------------------------------------------------------- */

/* DEBUG SLEEP seconds: blocks this thread, as Redis blocks its server (tests use it). */
static void debug_sleep(client *c)
{
    char buf[64];
    double secs = strtod(arg_cstr(&c->argv[2], buf, sizeof buf), NULL);
    if (secs > 0) {
        struct timespec ts = { (time_t)secs, (long)((secs - (double)(time_t)secs) * 1e9) };
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
            ;
        c->w->txn.batch_clock_ms = now_ms();   /* later commands of the batch see the sleep */
    }
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

static void cmd_debug(client *c)
{
    if (arg_is(&c->argv[1], "sleep") && c->argc == 3) {
        debug_sleep(c);
    } else if (arg_is(&c->argv[1], "check") && c->argc == 2) {
        debug_check(c);
    } else if (arg_is(&c->argv[1], "help") && c->argc == 2) {
        static const char *const lines[] = {
            "DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "CHECK",
            "    Walk every structure of the shared-memory store and verify its invariants.",
            "SLEEP <seconds>",
            "    Stop the server for <seconds>. Decimals allowed.",
            "HELP",
            "    Prints this help.",
        };
        reply_help(c, lines, sizeof lines / sizeof lines[0]);
    } else {
        char sub[160];
        arg_for_error(&c->argv[1], sub, sizeof sub);
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
        arg_for_error(&c->argv[2], event, sizeof event);
        reply_errorf(&c->out, "ERR No samples available for event '%s'", event);
        return;
    }
    reply_verbatim(&c->out, text, len);
    free(text);
}

static const command latency_subs[] = {
    { "doctor", 2, ADMIN_SUB, 0, 0, 0, latency_sub_doctor, NULL, "Returns a human-readable latency analysis report.",
      "2.8.13", "O(1)" },
    { "graph", 3, ADMIN_SUB, 0, 0, 0, latency_sub_graph, NULL, "Returns a latency graph for an event.", "2.8.13", "O(1)" },
    { "histogram", -2, ADMIN_SUB, 0, 0, 0, tsrv_latency_histogram, NULL,
      "Returns the cumulative distribution of latencies of a subset or all commands.", "7.0.0",
      "O(N) where N is the number of commands with latency information being retrieved." },
    { "history", 3, ADMIN_SUB, 0, 0, 0, latency_sub_history, NULL, "Returns timestamp-latency samples for an event.",
      "2.8.13", "O(1)" },
    { "latest", 2, ADMIN_SUB, 0, 0, 0, latency_sub_latest, NULL, "Returns the latest latency samples for all events.",
      "2.8.13", "O(1)" },
    { "reset", -2, ADMIN_SUB, 0, 0, 0, latency_sub_reset, NULL, "Resets the latency data for one or more events.",
      "2.8.13", "O(1)" },
    { "help", 2, CMD_LOADING | CMD_STALE, 0, 0, 0, NULL, NULL,
      "Returns helpful text about the different subcommands.", "2.8.13", "O(1)" },
    { 0 }
};

static void cmd_latency(client *c)
{
    tsrv_run_subcommand(c, "latency", latency_subs);
}

/* SLOWLOG GET [count]: the newest count entries (default 10, -1 all) of every worker,
 * newest first, each [id, unix time, microseconds, [args], client addr, client name]. */
static void slowlog_sub_get(client *c)
{
    long long count = 10;
    if (c->argc > 3) {
        char sub[160];
        arg_for_error(&c->argv[1], sub, sizeof sub);
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
    { "get", -2, ADMIN_SUB, 0, 0, 0, slowlog_sub_get, NULL, "Returns the slow log's entries.", "2.2.12",
      "O(N) where N is the number of entries returned" },
    { "len", 2, ADMIN_SUB, 0, 0, 0, slowlog_sub_len, NULL, "Returns the number of entries in the slow log.", "2.2.12", "O(1)" },
    { "reset", 2, ADMIN_SUB, 0, 0, 0, slowlog_sub_reset, NULL, "Clears all entries from the slow log.", "2.2.12",
      "O(N) where N is the number of entries in the slowlog" },
    { "help", 2, CMD_LOADING | CMD_STALE, 0, 0, 0, NULL, NULL,
      "Show helpful text about the different subcommands", "6.2.0", "O(1)" },
    { 0 }
};

static void cmd_slowlog(client *c)
{
    tsrv_run_subcommand(c, "slowlog", slowlog_subs);
}

/* XADD: streams are not implemented (the reference's documented reply). */
static void cmd_xadd(client *c)
{
    reply_error(&c->out, "ERR stream type not supported");
}

/* The subcommand rows of a container command of this family, else NULL. */
const command *tsrv_subs_of(const command *cmd)
{
    if (cmd->proc == cmd_client)
        return client_subs;
    if (cmd->proc == tsrv_command)
        return tsrv_command_subs;
    if (cmd->proc == cmd_config)
        return config_subs;
    if (cmd->proc == cmd_latency)
        return latency_subs;
    if (cmd->proc == cmd_slowlog)
        return slowlog_subs;
    return NULL;
}

/* ---- the table ----------------------------------------------------------------------------- */

#define NL CMD_NOLOCK
#define LS (CMD_LOADING | CMD_STALE)

const command server_commands[] = {
    { "ping", -1, NL | CMD_FAST | CMD_STALE, 0, 0, 0, cmd_ping, "connection",
      "Returns the server's liveliness response.", "1.0.0", "O(1)" },
    { "echo", 2, NL | CMD_FAST | LS, 0, 0, 0, cmd_echo, "connection", "Returns the given string.",
      "1.0.0", "O(1)" },
    { "quit", -1, NL | CMD_FAST | CMD_NOSCRIPT | LS, 0, 0, 0, cmd_quit, "connection",
      "Closes the connection.", "1.0.0", "O(1)" },
    { "hello", -1, NL | CMD_FAST | CMD_NOSCRIPT | LS, 0, 0, 0, cmd_hello, "connection",
      "Handshakes with the Redis server.", "6.0.0", "O(1)" },
    { "auth", -2, NL | CMD_FAST | CMD_NOSCRIPT | LS, 0, 0, 0, cmd_auth, "connection",
      "Authenticates the connection.", "1.0.0",
      "O(N) where N is the number of passwords defined for the user" },
    { "reset", 1, NL | CMD_FAST | CMD_NOSCRIPT | LS, 0, 0, 0, cmd_reset, "connection",
      "Resets the connection.", "6.2.0", "O(1)" },
    { "select", 2, NL | CMD_FAST | LS, 0, 0, 0, cmd_select, "connection",
      "Changes the selected database.", "1.0.0", "O(1)" },
    { "client", -2, NL, 0, 0, 0, cmd_client, "connection",
      "A container for client connection commands.", "2.4.0", "Depends on subcommand." },
    { "time", 1, NL | CMD_FAST | LS, 0, 0, 0, cmd_time, "server", "Returns the server time.", "2.6.0",
      "O(1)" },
    { "command", -1, NL | LS, 0, 0, 0, tsrv_command, "server",
      "Returns detailed information about all commands.", "2.8.13",
      "O(N) where N is the total number of Redis commands" },
    { "info", -1, NL | LS, 0, 0, 0, tsrv_info, "server",
      "Returns information and statistics about the server.", "1.0.0", "O(1)" },
    { "config", -2, NL, 0, 0, 0, cmd_config, "server",
      "A container for server configuration commands.", "2.0.0", "Depends on subcommand." },
    { "debug", -2, NL | CMD_ADMIN | CMD_NOSCRIPT | LS, 0, 0, 0, cmd_debug, "server",
      "A container for debugging commands.", "1.0.0", "Depends on subcommand." },
    { "latency", -2, NL, 0, 0, 0, cmd_latency, "server",
      "A container for latency diagnostics commands.", "2.8.13", "Depends on subcommand." },
    { "slowlog", -2, NL, 0, 0, 0, cmd_slowlog, "server", "A container for slow log commands.",
      "2.2.12", "Depends on subcommand." },
    { "wait", 3, NL | CMD_NOSCRIPT, 0, 0, 0, cmd_wait, "generic",
      "Blocks until the asynchronous replication of all preceding write commands sent by the "
      "connection is completed.", "3.0.0", "O(1)" },
    { "xadd", -5, NL | CMD_WRITE | CMD_DENYOOM | CMD_FAST, 1, 1, 1, cmd_xadd, "stream",
      "Appends a new message to a stream. Creates the key if it doesn't exist.", "5.0.0",
      "O(1) when adding a new entry, O(N) when trimming where N being the number of entries "
      "evicted." },
    { 0 }
};
