/* script_run.c - one script run inside its command's transaction, the BUSY state of
 * a long script and SCRIPT/FUNCTION KILL across workers (see script_lua.h).
 *
 * A running script publishes itself in its lane (script_since_ms, script_wrote):
 * another thread whose command finds a shard busy looks there, and past
 * busy-reply-threshold answers -BUSY instead of waiting. KILL sets script_kill; the
 * script's count hook, run every SCRIPT_HOOK_COUNT Lua instructions, sees it. */
#include "script_internal.h"

#include "kvns/arena.h"
#include "kvns/txn.h"
#include "kvns/worker.h"

#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>

#define SCRIPT_HOOK_COUNT 100000   /* Lua instructions between looks at the lane */
#define SCRIPT_GC_PERIOD  50       /* a GC step every this many scripts, as Redis */

int script_error_handler(lua_State *L)
{
    lua_Debug ar;
    int level = 1;
    bool have = lua_getstack(L, level, &ar) && lua_getinfo(L, "nSl", &ar);
    if (have && strcmp(ar.what, "C") == 0)
        have = lua_getstack(L, ++level, &ar) && lua_getinfo(L, "nSl", &ar);
    if (!lua_istable(L, 1)) {
        lua_pushliteral(L, "ERR ");
        lua_getglobal(L, "tostring");
        lua_pushvalue(L, 1);
        lua_call(L, 1, 1);
        lua_concat(L, 2);
        lua_newtable(L);
        lua_insert(L, -2);
        lua_setfield(L, -2, "err");
        lua_replace(L, 1);
    }
    if (have) {
        lua_pushstring(L, ar.source);
        lua_setfield(L, 1, "source");
        lua_pushnumber(L, ar.currentline);
        lua_setfield(L, 1, "line");
    }
    lua_settop(L, 1);
    return 1;
}

static const char BUSY_EVAL[] =
    "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";
static const char BUSY_FUNCTION[] =
    "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.";

/* The count hook. Past busy-reply-threshold it serves the thread's other clients
 * (-BUSY); it stops a script that KILL asked to stop, or that must be run again
 * holding more shards, by raising an error on every line until it returns. */
static void script_hook(lua_State *L, lua_Debug *ar)
{
    script_engine *e = script_engine_of(L);
    if (e->relock)
        script_unwind(L);
    lane *ln = e->c->w->txn.ln;
    int64_t limit = __atomic_load_n(&arena_hdr()->busy_reply_threshold_ms, __ATOMIC_RELAXED);
    if (!e->killed && limit > 0 && clock_mono_ms() - ln->script_since_ms >= limit)
        worker_serve_busy(e->c->w, e->c, e->sc->is_function ? BUSY_FUNCTION : BUSY_EVAL);
    if (!e->killed && __atomic_load_n(&ln->script_kill, __ATOMIC_RELAXED) && !e->wrote) {
        e->killed = true;
        lua_sethook(L, script_hook, LUA_MASKLINE, 0);
    }
    if (!e->stopping && worker_is_stopping()) {
        /* SHUTDOWN (or SIGTERM): even a script that wrote stops, and is undone */
        e->killed = e->stopping = true;
        lua_sethook(L, script_hook, LUA_MASKLINE, 0);
    }
    if (e->stopping)
        script_raise(L, "Script killed by a server shutdown");
    if (e->killed)
        script_raise(L, "Script killed by user with SCRIPT KILL...");
}

/* Replies the error object a failed run left on top of L (Redis's luaCallFunction):
 * "-<err> script: <name>, on <source>:<line>." when it knows where. */
static void reply_run_error(client *c, lua_State *L, const script_call *sc)
{
    if (!lua_istable(L, -1)) {
        const char *msg = lua_isstring(L, -1) ? lua_tostring(L, -1) : "execution failure";
        reply_errorf(&c->out, "ERR Error running script %s, %.100s", sc->funcname, msg);
        return;
    }
    lua_getfield(L, -1, "ignore_error_stats_update");
    c->error_counted = lua_toboolean(L, -1);     /* a redis.call error, counted when it happened */
    lua_pop(L, 1);
    lua_getfield(L, -1, "err");
    lua_getfield(L, -2, "source");
    lua_getfield(L, -3, "line");
    size_t n = 0;
    const char *msg = lua_isstring(L, -3) ? lua_tolstring(L, -3, &n) : "ERR unknown error";
    if (!lua_isstring(L, -3))
        n = strlen(msg);
    char *line;
    int len;
    if (lua_isstring(L, -2) && lua_isnumber(L, -1))
        len = asprintf(&line, "%.*s script: %s, on %s:%d.", (int)n, msg, sc->funcname, lua_tostring(L, -2),
                       (int)lua_tonumber(L, -1));
    else
        len = asprintf(&line, "%.*s", (int)n, msg);
    if (len < 0)
        abort();
    for (int i = 0; i < len; i++)
        if (line[i] == '\r' || line[i] == '\n')
            line[i] = ' ';
    reply_error(&c->out, line);
    free(line);
    lua_pop(L, 3);
}

/* Sets table[1..n] of the table on top to the arguments. */
static void push_args_table(lua_State *L, const resp_arg *a, size_t n)
{
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
        lua_pushlstring(L, a[i].ptr, a[i].len);
        lua_rawseti(L, -2, (int)i + 1);
    }
}

enum { RUN_OK = 0, RUN_RELOCK = 1, RUN_STOPPED = 2 };

/* Runs the function at the top of L for c, inside the open transaction, and
 * replies. RUN_RELOCK: it met a shard another thread holds and stopped; its reply
 * is not written and the caller must undo and run it again. RUN_STOPPED: the worker
 * is stopping; the caller undoes it (its error is replied). */
static int script_run(client *c, lua_State *L, const script_call *sc)
{
    script_engine *e = script_engine_of(L);
    int base = lua_gettop(L) - 1;            /* below the function */
    lua_getfield(L, LUA_REGISTRYINDEX, SCRIPT_ERRH);
    lua_insert(L, base + 1);
    int nargs = 0;
    if (sc->eval) {
        lua_getfield(L, LUA_REGISTRYINDEX, SCRIPT_GLOBALS);
        lua_pushliteral(L, "KEYS");
        push_args_table(L, sc->keys, sc->nkeys);
        lua_rawset(L, -3);
        lua_pushliteral(L, "ARGV");
        push_args_table(L, sc->args, sc->nargs);
        lua_rawset(L, -3);
        lua_pop(L, 1);
    } else {
        push_args_table(L, sc->keys, sc->nkeys);
        push_args_table(L, sc->args, sc->nargs);
        nargs = 2;
    }
    e->c = c;
    e->sc = sc;
    e->resp = 2;
    e->wrote = e->relock = e->killed = e->stopping = false;
    e->oom_at_start = store_used_memory() > __atomic_load_n(&arena_hdr()->memory_limit, __ATOMIC_RELAXED);
    lane *ln = c->w->txn.ln;
    ln->script_wrote = 0;
    ln->script_is_function = sc->is_function;
    __atomic_store_n(&ln->script_kill, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&ln->script_since_ms, clock_mono_ms(), __ATOMIC_RELEASE);
    lua_sethook(L, script_hook, LUA_MASKCOUNT, SCRIPT_HOOK_COUNT);
    int err = lua_pcall(L, nargs, 1, base + 1);
    c->w->nest_allow_oom = false;
    lua_sethook(L, NULL, 0, 0);
    __atomic_store_n(&ln->script_since_ms, 0, __ATOMIC_RELEASE);
    e->c = NULL;
    e->sc = NULL;
    int rc = RUN_OK;
    if (e->relock)
        rc = RUN_RELOCK;
    else if (err)
        reply_run_error(c, L, sc);
    else
        script_lua_to_reply(c, L, e->resp);
    if (e->stopping)
        rc = RUN_STOPPED;
    lua_settop(L, base);
    if (sc->eval) {
        lua_getfield(L, LUA_REGISTRYINDEX, SCRIPT_GLOBALS);
        lua_pushliteral(L, "KEYS");
        lua_pushnil(L);
        lua_rawset(L, -3);
        lua_pushliteral(L, "ARGV");
        lua_pushnil(L);
        lua_rawset(L, -3);
        lua_pop(L, 1);
    }
    if (++e->runs % SCRIPT_GC_PERIOD == 0)
        lua_gc(L, LUA_GCSTEP, SCRIPT_GC_PERIOD);
    return rc;
}

/* Writes to ids[] the distinct shards of keys[0..n); returns how many. */
static size_t key_shards(const resp_arg *keys, size_t n, uint32_t *ids)
{
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        kv_key k;
        key_init(&k, keys[i].ptr, keys[i].len);
        bool seen = false;
        for (size_t j = 0; j < m && !seen; j++)
            seen = ids[j] == k.shard;
        if (!seen)
            ids[m++] = k.shard;
    }
    return m;
}

void script_exec(client *c, const script_call *sc, script_push_fn *push, void *arg)
{
    lua_State *L = script_lua(c->w);
    kv_txn *t = &c->w->txn;
    uint32_t nshards = arena_hdr()->shard_count;
    uint32_t *ids = malloc((sc->nkeys + nshards + 1) * sizeof *ids);
    if (!ids)
        abort();
    size_t n = key_shards(sc->keys, sc->nkeys, ids);
    size_t mark = reply_len(&c->out);
    for (;;) {
        if (!cmd_txn_begin(c, ids, n)) {
            free(ids);                           /* parked (or, nested, the caller relocks) */
            return;
        }
        if (!push(L, arg)) {
            free(ids);
            cmd_commit(c);
            return;
        }
        int rc = script_run(c, L, sc);
        if (rc == RUN_OK)
            break;
        if (rc == RUN_STOPPED) {
            free(ids);
            cmd_abort(c, "ERR Script killed by a server shutdown");
            return;
        }
        reply_truncate(&c->out, mark);
        if (c->w->nested) {
            /* inside EXEC: the caller undoes it and runs everything holding more */
            c->lock_busy = true;
            c->w->nest_relock = true;
            free(ids);
            return;
        }
        /* run it again holding what it held plus the shard it could not take */
        n = 0;
        for (uint32_t i = 0; i < t->nlocked; i++)
            if (t->locked[i] < nshards)
                ids[n++] = t->locked[i];
        ids[n++] = c->w->nest_missing;
        txn_abort(t);
    }
    free(ids);
    int rc = cmd_commit(c);
    if (rc != TXN_OK) {
        c->reply_mark = mark;
        c->aborted = true;                       /* the commit rolled back already */
        reply_store_error(c, rc);
    }
}

bool script_numkeys_ok(client *c, long long numkeys)
{
    if (numkeys > (long long)c->argc - 3) {
        reply_error(&c->out, "ERR Number of keys can't be greater than number of args");
        return false;
    }
    if (numkeys < 0) {
        reply_error(&c->out, "ERR Number of keys can't be negative");
        return false;
    }
    return true;
}

bool script_refuse_oom(client *c, uint32_t flags)
{
    if ((flags & (SCRIPT_NO_WRITES | SCRIPT_ALLOW_OOM)) ||
        store_used_memory() <= __atomic_load_n(&arena_hdr()->memory_limit, __ATOMIC_RELAXED))
        return false;
    reply_error(&c->out, c->w->nested ? "OOM allow-oom flag is not set on the script, can not run it when used "
                                        "memory > 'maxmemory'"
                                      : ERR_OOM);
    return true;
}

/* ---- BUSY and KILL ---------------------------------------------------------------- */

/* The lane's running script when it has run past busy-reply-threshold, or NULL. */
static lane *busy_lane(uint32_t i, int64_t now)
{
    lane *ln = arena_lane(i);
    int64_t since = __atomic_load_n(&ln->script_since_ms, __ATOMIC_ACQUIRE);
    int64_t limit = __atomic_load_n(&arena_hdr()->busy_reply_threshold_ms, __ATOMIC_RELAXED);
    return since && limit > 0 && now - since >= limit ? ln : NULL;
}

bool script_running(const worker_ctx *w)
{
    return w->script && w->script->c;
}

/* True when lane ln holds or is acquiring lock id. */
static bool lane_holds(const lane *ln, uint32_t id)
{
    const uint64_t *held = arena_ptr(ln->held_off);
    return id / 64 < ln->held_words && (__atomic_load_n(&held[id / 64], __ATOMIC_RELAXED) >> (id % 64) & 1);
}

const char *script_busy_error(const worker_ctx *w, const uint32_t *ids, size_t n)
{
    int64_t now = clock_mono_ms();
    uint32_t lanes = arena_hdr()->lane_count;
    for (uint32_t i = 0; i < lanes; i++) {
        lane *ln = busy_lane(i, now);
        if (!ln || ln == w->txn.ln)
            continue;
        for (size_t k = 0; k < n; k++)
            if (lane_holds(ln, ids[k]))
                return ln->script_is_function ? BUSY_FUNCTION : BUSY_EVAL;
    }
    return NULL;
}

void script_kill(client *c, bool functions)
{
    int64_t now = clock_mono_ms();
    uint32_t lanes = arena_hdr()->lane_count;
    bool found = false, unkillable = false, wrong_kind = false;
    for (uint32_t i = 0; i < lanes; i++) {
        lane *ln = busy_lane(i, now);
        if (!ln)
            continue;
        if ((bool)ln->script_is_function != functions) {
            wrong_kind = true;
            continue;
        }
        found = true;
        if (__atomic_load_n(&ln->script_wrote, __ATOMIC_RELAXED))
            unkillable = true;
        else
            __atomic_store_n(&ln->script_kill, 1, __ATOMIC_RELAXED);
    }
    if (!found && wrong_kind)
        reply_error(&c->out, functions ? BUSY_EVAL : BUSY_FUNCTION);
    else if (!found)
        reply_error(&c->out, "NOTBUSY No scripts in execution right now.");
    else if (unkillable)
        reply_error(&c->out, "UNKILLABLE Sorry the script already executed write commands against the dataset. "
                             "You can either wait the script termination or kill the server in a hard way "
                             "using the SHUTDOWN NOSAVE command.");
    else
        reply_ok(&c->out);
}
