/* t_client.c - CLIENT and its subcommands (SETNAME, GETNAME, ID, SETINFO, INFO, LIST,
 * KILL, NO-EVICT, NO-TOUCH, REPLY, HELP). LIST and KILL work on the shared client
 * registry (clients.h), so they see and reach the clients of every worker. */
#include "kvns/command.h"
#include "kvns/arena.h"
#include "kvns/clients.h"
#include "kvns/glob.h"
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

/* ---- CLIENT ---------------------------------------------------------------------------- */

/* The fields after "cmd=" every client line ends with. */
#define LINE_TAIL "user=default redir=-1 resp=%d lib-name=%s lib-ver=%s\n"

/* Appends the caller's own CLIENT LIST / INFO line, as Redis 7.2 formats it (single
 * spaces, no trailing space): from the live connection, naming the running subcommand
 * and counting its arguments. */
static void self_line(FILE *f, const client *c)
{
    int64_t now = clock_wall_ms();
    long long age = (long long)((now - c->created_ms) / 1000);
    size_t argv_mem = 0;
    for (size_t i = 0; i < c->argc; i++)
        argv_mem += c->argv[i].len;
    char sub[32];
    size_t n = 0;
    for (; c->argc >= 2 && n < c->argv[1].len && n < sizeof sub - 1; n++)
        sub[n] = (char)tolower((unsigned char)c->argv[1].ptr[n]);
    sub[n] = '\0';
    size_t tot_mem = sizeof *c + c->rcap + reply_memory(&c->out) + c->keys_cap * sizeof(kv_key) +
                     c->req.cap * sizeof(resp_arg);
    fprintf(f,
            "id=%llu addr=%s laddr=%s fd=%d name=%s age=%lld idle=0 flags=N db=0 sub=0 psub=0 "
            "ssub=0 multi=-1 qbuf=%zu qbuf-free=%zu argv-mem=%zu multi-mem=0 rbs=%zu rbp=0 obl=0 "
            "oll=0 omem=%zu tot-mem=%zu events=r cmd=client|%s " LINE_TAIL,
            (unsigned long long)c->id, c->addr, c->laddr, c->fd, c->name ? c->name : "",
            age < 0 ? 0 : age, c->rlen, c->rcap - c->rlen, argv_mem, c->rcap,
            reply_memory(&c->out), tot_mem, sub,
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
    int64_t now = clock_wall_ms();
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
    if (!tsrv_valid_client_attr(&c->argv[2])) {
        reply_error(&c->out, "ERR Client names cannot contain spaces, newlines or special characters.");
        return;
    }
    tsrv_set_client_string(&c->name, &c->argv[2]);
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
    tsrv_arg_for_error(&c->argv[2], attr, sizeof attr);
    char **slot;
    if (arg_is(&c->argv[2], "lib-name")) {
        slot = &c->lib_name;
    } else if (arg_is(&c->argv[2], "lib-ver")) {
        slot = &c->lib_ver;
    } else {
        reply_errorf(&c->out, "ERR Unrecognized option '%s'", attr);
        return;
    }
    if (!tsrv_valid_client_attr(&c->argv[3])) {
        reply_errorf(&c->out, "ERR %s cannot contain spaces, newlines or special characters.", attr);
        return;
    }
    tsrv_set_client_string(slot, &c->argv[3]);
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
            tsrv_arg_for_error(&c->argv[3], name, sizeof name);
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
        tsrv_arg_for_error(val, text, sizeof text);
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
            if (!tsrv_auth_user_ok(val)) {
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


const command tsrv_client_subs[] = {
    { "getname", 2, CONN_SUB, NULL, client_getname, NULL, "Returns the name of the connection.", "2.6.9", "O(1)", NULL },
    { "getredir", 2, CONN_SUB, NULL, client_getredir, NULL,
      "Returns the client ID to which the connection's tracking notifications are redirected.",
      "6.0.0", "O(1)", NULL },
    { "id", 2, CONN_SUB, NULL, client_id, NULL, "Returns the unique client ID of the connection.", "5.0.0", "O(1)", NULL },
    { "info", 2, CONN_SUB, NULL, client_info, NULL, "Returns information about the connection.", "6.2.0", "O(1)", NULL },
    { "kill", -3, ADMIN_SUB, NULL, client_kill, NULL, "Terminates open connections.", "2.4.0",
      "O(N) where N is the number of client connections", NULL },
    { "list", -2, ADMIN_SUB, NULL, client_list, NULL, "Lists open connections.", "2.4.0",
      "O(N) where N is the number of client connections", NULL },
    { "no-evict", 3, ADMIN_SUB, NULL, client_no_evict, NULL, "Sets the client eviction mode of the connection.",
      "7.0.0", "O(1)", NULL },
    { "no-touch", 3, CONN_SUB, NULL, client_no_touch, NULL,
      "Controls whether commands sent by the client affect the LRU/LFU of accessed keys.", "7.2.0",
      "O(1)", NULL },
    { "reply", 3, CONN_SUB, NULL, client_reply, NULL, "Instructs the server whether to reply to commands.",
      "3.2.0", "O(1)", NULL },
    { "setinfo", 4, CONN_SUB, NULL, client_setinfo, NULL, "Sets information specific to the client or connection.",
      "7.2.0", "O(1)", NULL },
    { "setname", 3, CONN_SUB, NULL, client_setname, NULL, "Sets the connection name.", "2.6.9", "O(1)", NULL },
    { "help", 2, CMD_LOADING | CMD_STALE, NULL, tsrv_sub_help, NULL,
      "Returns helpful text about the different subcommands.", "5.0.0", "O(1)", NULL },
    { 0 }
};

