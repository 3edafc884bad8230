/* t_multi.c - MULTI, EXEC, DISCARD: Redis transactions.
 *
 * While a client is in MULTI, command_run hands every command but the ones that
 * control the transaction to multi_intercept, which queues a copy of its argv (the
 * read buffer is reused) with +QUEUED - or refuses it as Redis's processCommand
 * does, flagging the transaction: a no-multi command (SAVE), any command while
 * memory is over the limit after eviction in its keys' namespaces, a write or PING
 * while snapshots fail (MISCONF).
 *
 * EXEC resolves the keys of every queued command, opens ONE transaction holding the
 * union of their shards (every shard when a queued command locks for itself, e.g.
 * FLUSHALL or KEYS), runs each queued command with command_call and commits once: no
 * client on any worker sees part of an EXEC, and a worker killed mid-EXEC leaves none
 * of it (the undo log rolls it back). When a shard is busy nothing has run: EXEC is
 * parked and run again later, queue intact. With a write queued, EXEC is refused
 * while snapshots fail; with a DENYOOM command queued it first evicts for the
 * queue's estimated growth and is refused (EXECABORT ... OOM) when memory stays over
 * the limit. A queued write that still does not fit makes EXEC evict for the whole
 * transaction and run again; where nothing can be evicted it answers OOM inside
 * EXEC's array.
 *
 * WATCH records, under each key's shard lock, the key's version (watch.h) and
 * whether it was live. EXEC holds the watched keys' shards too and aborts (a null
 * reply) when a version moved or a key that was live is gone: deleted, expired,
 * evicted or flushed. A key that was missing and is missing again is untouched
 * unless something wrote it meanwhile (its version moved). */
#include <stdlib.h>
#include <string.h>

#include "kvns/command.h"
#include "kvns/arena.h"
#include "kvns/persist.h"
#include "kvns/txn.h"
#include "kvns/watch.h"

typedef struct multi_cmd {
    const command *cmd;      /* what command_call runs: the row argv[0] names */
    const command *row;      /* its subcommand's row for a container, else cmd: flags, keys */
    resp_arg *argv;          /* one malloc'd block: the array, then the bytes */
    size_t argc;
} multi_cmd;

struct multi_state {
    multi_cmd *queue;
    size_t n, cap;
    bool dirty;              /* a command was refused while queueing: EXEC aborts */
};

typedef struct watched_key {
    char    *name;
    size_t   len;
    uint64_t version;
    bool     existed;
} watched_key;

struct watch_list {
    watched_key *keys;
    size_t n, cap;
};

/* Forgets every WATCHed key of c (UNWATCH, EXEC, DISCARD, RESET, disconnect). */
static void watch_clear(client *c)
{
    struct watch_list *wl = c->watched;
    if (!wl)
        return;
    for (size_t i = 0; i < wl->n; i++)
        free(wl->keys[i].name);
    free(wl->keys);
    free(wl);
    c->watched = NULL;
    watch_watchers_add(-1);
}

static const char ERR_EXECABORT[] = "EXECABORT Transaction discarded because of previous errors.";

/* Frees the client's queue, leaves MULTI and unwatches every key. Used by DISCARD,
 * EXEC, RESET, QUIT and when the connection closes. */
void multi_discard(client *c)
{
    watch_clear(c);
    struct multi_state *m = c->multi;
    if (!m)
        return;
    for (size_t i = 0; i < m->n; i++)
        free(m->queue[i].argv);
    free(m->queue);
    free(m);
    c->multi = NULL;
}

/* Marks the open transaction as failed (a command was refused while queueing);
 * returns nothing, a no-op outside MULTI. */
void multi_flag_error(client *c)
{
    if (c->multi)
        c->multi->dirty = true;
}

static void cmd_multi(client *c);
static void cmd_exec(client *c);
static void cmd_discard(client *c);
static void cmd_watch(client *c);

/* Whether cmd runs at once even inside MULTI (Redis's exception list in
 * processCommand): the commands that end or refuse the transaction. Asked for every
 * queued command, so this file's own are told by their function and only QUIT and
 * RESET (t_server.c) by name. */
static bool multi_runs_now(const command *cmd)
{
    if (cmd->proc == cmd_exec || cmd->proc == cmd_discard || cmd->proc == cmd_multi || cmd->proc == cmd_watch)
        return true;
    return strcmp(cmd->name, "quit") == 0 || strcmp(cmd->name, "reset") == 0;
}

/* Copies argv[0..argc) into one block: the resp_arg array, then each argument's bytes
 * NUL-terminated like the read buffer's. */
static resp_arg *multi_copy_argv(const resp_arg *argv, size_t argc)
{
    size_t bytes = argc * sizeof(resp_arg);
    for (size_t i = 0; i < argc; i++)
        bytes += argv[i].len + 1;
    resp_arg *out = malloc(bytes);
    if (!out)
        abort();
    char *p = (char *)(out + argc);
    for (size_t i = 0; i < argc; i++) {
        memcpy(p, argv[i].ptr, argv[i].len);
        p[argv[i].len] = 0;
        out[i] = (resp_arg){ p, argv[i].len };
        p += argv[i].len + 1;
    }
    return out;
}

/* Whether cmd is refused while memory is over the limit inside MULTI: every command
 * but the ones that end the transaction or the connection (Redis's processCommand:
 * queueing may use unbounded memory). */
static bool multi_oom_refuses(const command *cmd)
{
    static const char *const names[] = { "exec", "discard", "quit", "reset" };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(cmd->name, names[i]) == 0)
            return false;
    return true;
}

/* True when memory is over the limit for cmd queued inside MULTI, once eviction in
 * its keys' namespaces (where their policies allow) has had its chance. The limit is
 * tested first: it is cheaper than multi_oom_refuses's names and mostly not reached. */
static bool multi_over_memory(client *c, const command *cmd)
{
    if (!command_memory_over_limit() || !multi_oom_refuses(cmd))
        return false;
    command_evict_for(cmd, c->argv, c->argc, 0, &c->w->txn);
    return command_memory_over_limit();
}

/* Refuses cmd inside MULTI as Redis's processCommand does before queueing: a
 * no-multi command, any command while memory stays over the limit after evicting in
 * its keys' namespaces, a write or PING while snapshots fail (MISCONF). Returns true
 * when it did (replied and flagged the transaction). */
static bool multi_refuse(client *c, const command *cmd)
{
    if (cmd->flags & CMD_NOMULTI) {
        reply_error(&c->out, "ERR Command not allowed inside a transaction");
    } else if (multi_over_memory(c, cmd)) {
        lane_stat_add(c->w->txn.ln, STAT_OOM, 1);
        reply_error(&c->out, ERR_OOM);
    } else if (!persist_refuse_write(c, cmd)) {  /* which replied MISCONF if it refused */
        return false;
    }
    c->multi->dirty = true;
    return true;
}

/* Queues c->argv for cmd when the client is in MULTI and cmd is not one of the
 * commands that run at once. row is the row that runs (cmd's subcommand row for a
 * container): its flags decide the refusals. Returns true when it queued (and
 * replied +QUEUED) or refused (multi_refuse), so that command_run stops there. */
bool multi_intercept(client *c, const command *cmd, const command *row)
{
    struct multi_state *m = c->multi;
    if (!m)
        return false;
    if (multi_refuse(c, row))
        return true;
    if (multi_runs_now(cmd))
        return false;
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 8;
        m->queue = realloc(m->queue, m->cap * sizeof *m->queue);
        if (!m->queue)
            abort();
    }
    multi_cmd *q = &m->queue[m->n++];
    q->cmd = cmd;
    q->row = row;
    q->argc = c->argc;
    q->argv = multi_copy_argv(c->argv, c->argc);
    reply_simple(&c->out, "QUEUED");
    return true;
}

static void cmd_multi(client *c)
{
    if (c->multi) {
        reply_error(&c->out, "ERR MULTI calls can not be nested");
        return;
    }
    c->multi = calloc(1, sizeof *c->multi);
    if (!c->multi)
        abort();
    reply_ok(&c->out);
}

static void cmd_discard(client *c)
{
    if (!c->multi) {
        reply_error(&c->out, "ERR DISCARD without MULTI");
        return;
    }
    multi_discard(c);
    reply_ok(&c->out);
}

/* Writes to ids[] the shards EXEC must hold for the queue's keys and the WATCHed
 * keys (every one when `all`). Returns how many. Commands that visit shards for
 * themselves (FLUSHALL, KEYS, ...) take theirs when they run (command_call). */
static size_t multi_shards(const struct multi_state *m, const struct watch_list *c_watched, bool all,
                           uint32_t *ids)
{
    uint32_t nshards = arena_hdr()->shard_count;
    if (all) {                      /* every shard and the function registry */
        for (uint32_t s = 0; s < nshards; s++)
            ids[s] = s;
        ids[nshards] = lock_id_functions();
        return nshards + 1;
    }
    bool *seen = calloc(nshards, sizeof *seen);
    size_t n = 0;
    if (!seen)
        abort();
    for (size_t i = 0; i < m->n; i++) {
        const multi_cmd *q = &m->queue[i];
        if (!q->row->key_specs || (q->row->flags & CMD_NOLOCK))
            continue;
        cmd_key_ref *refs = malloc(q->argc * sizeof *refs);
        if (!refs)
            abort();
        int nk = command_resolve_keys(q->row, q->argv, (int)q->argc, refs);
        for (int k = 0; k < nk; k++) {
            kv_key key;
            key_init(&key, q->argv[refs[k].pos].ptr, q->argv[refs[k].pos].len);
            if (!seen[key.shard]) {
                seen[key.shard] = true;
                ids[n++] = key.shard;
            }
        }
        free(refs);
    }
    for (size_t i = 0; c_watched && i < c_watched->n; i++) {
        kv_key key;
        key_init(&key, c_watched->keys[i].name, c_watched->keys[i].len);
        if (!seen[key.shard]) {
            seen[key.shard] = true;
            ids[n++] = key.shard;
        }
    }
    free(seen);
    return n;
}

/* Runs the queue inside the open transaction, replying its array. Returns false
 * when a queued command met a shard the transaction lacks (CALL_RELOCK): the caller
 * rolls back and runs it again holding every shard. */
static bool multi_run_queue(client *c, const struct multi_state *m)
{
    reply_array(&c->out, (long long)m->n);
    for (size_t i = 0; i < m->n; i++)
        if (command_call(c, m->queue[i].cmd, m->queue[i].argv, m->queue[i].argc) == CALL_RELOCK)
            return false;
    return true;
}

/* True when a key c WATCHed changed since: its version moved, or it was live and is
 * not now. Caller holds every watched key's shard. */
static bool watch_touched(client *c)
{
    struct watch_list *wl = c->watched;
    for (size_t i = 0; wl && i < wl->n; i++) {
        kv_key k;
        key_init(&k, wl->keys[i].name, wl->keys[i].len);
        if (watch_version_locked(&k) != wl->keys[i].version)
            return true;
        if (wl->keys[i].existed && !store_find(&c->w->txn, &k))
            return true;
    }
    return false;
}

/* WATCH key...: remembers each key's version and liveness for EXEC. The dispatcher
 * holds the keys' shards. */
static void cmd_watch(client *c)
{
    if (c->multi) {
        reply_error(&c->out, "ERR WATCH inside MULTI is not allowed");
        return;
    }
    struct watch_list *wl = c->watched;
    if (!wl) {
        wl = c->watched = calloc(1, sizeof *wl);
        if (!wl)
            abort();
        watch_watchers_add(1);   /* before any version is read: see watch.h */
    }
    for (size_t i = 1; i < c->argc; i++) {
        if (wl->n == wl->cap) {
            wl->cap = wl->cap ? wl->cap * 2 : 8;
            wl->keys = realloc(wl->keys, wl->cap * sizeof *wl->keys);
            if (!wl->keys)
                abort();
        }
        const kv_key *k = &c->keys[i];
        watched_key *w = &wl->keys[wl->n++];
        w->len = c->argv[i].len;
        w->name = malloc(w->len + 1);
        if (!w->name)
            abort();
        memcpy(w->name, c->argv[i].ptr, w->len);
        w->name[w->len] = 0;
        w->version = watch_version_locked(k);
        w->existed = store_find(&c->w->txn, k) != NULL;
    }
    reply_ok(&c->out);
}

static void cmd_unwatch(client *c)
{
    watch_clear(c);
    reply_ok(&c->out);
}

/* Evicts, in the namespaces of the queue's DENYOOM commands, until `need` more bytes
 * fit (no transaction open). Returns the bytes freed. */
static uint64_t multi_evict(client *c, const struct multi_state *m, uint64_t need)
{
    uint64_t freed = 0;
    for (size_t i = 0; i < m->n; i++)
        if (m->queue[i].row->flags & CMD_DENYOOM)
            freed += command_evict_for(m->queue[i].row, m->queue[i].argv, m->queue[i].argc, need, &c->w->txn);
    return freed;
}

/* Redis's processCommand for EXEC: with a DENYOOM command queued, memory must not be
 * over the limit once eviction has made room for the queue's estimated growth.
 * Returns true when it is (EXEC is refused). */
static bool multi_out_of_memory(client *c, const struct multi_state *m)
{
    uint64_t need = 0;
    for (size_t i = 0; i < m->n; i++)
        if (m->queue[i].row->flags & CMD_DENYOOM)
            need += command_growth_estimate(m->queue[i].argv, m->queue[i].argc);
    if (!need)
        return false;
    multi_evict(c, m, need);
    return command_memory_over_limit();
}

/* True when a queued command has flag (CMD_WRITE, ...): EXEC counts as one then. */
static bool multi_queue_has(const struct multi_state *m, uint32_t flag)
{
    for (size_t i = 0; i < m->n; i++)
        if (m->queue[i].row->flags & flag)
            return true;
    return false;
}

#define MULTI_EVICT_ROUNDS 16   /* evict-and-run-again rounds when a queued write did not fit */

void multi_refuse_exec(client *c, const char *why)
{
    reply_truncate(&c->out, c->reply_mark);
    reply_errorf(&c->out, "EXECABORT Transaction discarded because of: %s", why);
    multi_discard(c);
}

static void cmd_exec(client *c)
{
    struct multi_state *m = c->multi;
    if (!m) {
        reply_error(&c->out, "ERR EXEC without MULTI");
        return;
    }
    if (m->dirty) {
        multi_discard(c);
        reply_error(&c->out, ERR_EXECABORT);
        return;
    }
    kv_txn *t = &c->w->txn;
    if (multi_out_of_memory(c, m)) {
        multi_discard(c);
        lane_stat_add(t->ln, STAT_OOM, 1);
        reply_errorf(&c->out, "EXECABORT Transaction discarded because of: %s", ERR_OOM);
        return;
    }
    if (persist_writes_refused() && multi_queue_has(m, CMD_WRITE)) {
        multi_discard(c);
        reply_errorf(&c->out, "EXECABORT Transaction discarded because of: %s", ERR_MISCONF);
        return;
    }
    uint32_t *ids = malloc((arena_hdr()->shard_count + 1) * sizeof *ids);
    if (!ids)
        abort();
    size_t mark = reply_len(&c->out);
    bool all = false;
    for (int round = 0;;) {
        size_t n = multi_shards(m, c->watched, all, ids);
        if (!cmd_txn_begin(c, ids, n)) {
            free(ids);                           /* parked: nothing ran, queue kept */
            if (c->busy_refused && !c->w->nested)
                multi_refuse_exec(c, c->busy_refused);
            return;
        }
        if (watch_touched(c)) {
            txn_abort(t);
            free(ids);
            multi_discard(c);
            reply_null_array(&c->out);
            return;
        }
        c->last_grow = 0;
        bool ran = multi_run_queue(c, m);
        if (ran && (c->last_grow == 0 || round == MULTI_EVICT_ROUNDS))
            break;
        txn_abort(t);
        reply_truncate(&c->out, mark);
        if (!ran) {
            all = true;                          /* a shard it lacked: hold them all */
            continue;
        }
        /* a queued write did not fit: make room for the whole transaction (more each
         * round, as run_with_keys does) and run it again; when nothing could be freed
         * the next run is the last, its OOM errors inside EXEC's array */
        uint64_t need = (uint64_t)c->last_grow << (round < 10 ? round : 10);
        round = multi_evict(c, m, need) ? round + 1 : MULTI_EVICT_ROUNDS;
    }
    free(ids);
    int rc = txn_commit(t);
    multi_discard(c);
    if (rc != TXN_OK) {
        c->reply_mark = mark;
        c->aborted = true;                       /* the commit rolled back already */
        reply_store_error(c, rc);
    }
}

bool multi_is_exec(const command *cmd)
{
    return cmd->proc == cmd_exec;
}

#define MULTI_FLAGS (CMD_NOLOCK | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_FAST)

const command multi_commands[] = {
    { "multi", 1, MULTI_FLAGS, NULL, cmd_multi, "transactions", "Starts a transaction.", "1.2.0", "O(1)", NULL },
    { "exec", 1, CMD_NOLOCK | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE, NULL, cmd_exec, "transactions",
      "Executes all commands in a transaction.", "1.2.0", "Depends on commands in the transaction", NULL },
    { "discard", 1, MULTI_FLAGS, NULL, cmd_discard, "transactions", "Discards a transaction.", "2.0.0",
      "O(N), when N is the number of queued commands", NULL },
    { "watch", -2, CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_FAST,
      (const key_spec[]){ { KS_RO, KS_INDEX, 1, NULL, KS_RANGE, .range = { -1, 1, 0 } }, { 0 } }, cmd_watch,
      "transactions", "Monitors changes to keys to determine the execution of a transaction.", "2.2.0",
      "O(1) for every key.", NULL },
    { "unwatch", 1, MULTI_FLAGS, NULL, cmd_unwatch, "transactions",
      "Forgets about all watched keys of a transaction.", "2.2.0", "O(1)", NULL },
    { 0 }
};
