/* t_script.c - EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT.
 *
 * Bodies live in the shared cache (kvns/scripts.h), so a script loaded on one
 * worker runs on every other. Each thread compiles a body the first time it runs it
 * and keeps the function in its Lua state's registry table SCRIPT_CACHE as
 * {function, flags} under the sha; a number there is a body in the shared cache not
 * compiled here yet. The thread's index follows the cache by its generation: SCRIPT
 * FLUSH anywhere empties every thread's index on its next script. */
#include "script_internal.h"
#include "sha1.h"

#include "kvns/arena.h"
#include "kvns/log.h"
#include "kvns/scripts.h"

#include <ctype.h>
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Records in the shared cache become numbers (their offsets) in the index table on
 * top of the stack, unless the sha is there already. */
static void index_visit(const char *sha, uint64_t rec, size_t body_len, void *arg)
{
    lua_State *L = arg;
    lua_pushlstring(L, sha, SCRIPT_SHA_LEN);
    lua_rawget(L, -2);
    bool known = !lua_isnil(L, -1);
    lua_pop(L, 1);
    if (known)
        return;
    lua_pushlstring(L, sha, SCRIPT_SHA_LEN);
    lua_pushnumber(L, (lua_Number)rec);
    lua_rawset(L, -3);
}

/* Brings the thread's index up to date with the shared cache and pushes it. */
static void index_push(script_engine *e, lua_State *L)
{
    for (;;) {
        uint64_t gen = scripts_generation();
        if (gen != e->cache_gen) {
            lua_newtable(L);
            lua_setfield(L, LUA_REGISTRYINDEX, SCRIPT_CACHE);
            e->cache_gen = gen;
            e->cache_seen = 0;
        }
        lua_getfield(L, LUA_REGISTRYINDEX, SCRIPT_CACHE);
        uint64_t from = e->cache_seen;
        if (scripts_scan(gen, &from, index_visit, L)) {
            e->cache_seen = from;
            return;
        }
        lua_pop(L, 1);
        e->cache_gen = gen - 1;     /* flushed while we read: start over */
    }
}

const script_flag_name script_flag_names[] = {
    { "no-writes", SCRIPT_NO_WRITES },     { "allow-oom", SCRIPT_ALLOW_OOM },
    { "allow-stale", SCRIPT_ALLOW_STALE }, { "no-cluster", SCRIPT_NO_CLUSTER },
    { "allow-cross-slot-keys", SCRIPT_ALLOW_CROSS_SLOT }, { NULL, 0 },
};

int script_shebang_flags(const char *body, size_t len, uint32_t *flags, size_t *shebang_len, char *err,
                         size_t errlen)
{
    *flags = SCRIPT_EVAL_COMPAT;
    *shebang_len = 0;
    if (len < 2 || memcmp(body, "#!", 2) != 0)
        return 0;
    const char *end = memchr(body, '\n', len);
    if (!end) {
        snprintf(err, errlen, "Invalid script shebang");
        return -1;
    }
    *shebang_len = (size_t)(end - body);
    *flags = 0;
    /* words separated by spaces: "#!lua", then options */
    const char *p = body, *stop = end;
    bool first = true;
    while (p < stop) {
        while (p < stop && isspace((unsigned char)*p))
            p++;
        if (p == stop)
            break;
        const char *w = p;
        while (p < stop && !isspace((unsigned char)*p))
            p++;
        size_t wl = (size_t)(p - w);
        if (first) {
            if (wl != 5 || memcmp(w, "#!lua", 5) != 0) {
                snprintf(err, errlen, "Unexpected engine in script shebang: %.*s", (int)wl, w);
                return -1;
            }
            first = false;
            continue;
        }
        if (wl < 6 || memcmp(w, "flags=", 6) != 0) {
            snprintf(err, errlen, "Unknown lua shebang option: %.*s", (int)wl, w);
            return -1;
        }
        const char *f = w + 6, *fend = p;
        while (f < fend) {
            const char *comma = memchr(f, ',', (size_t)(fend - f));
            const char *fe = comma ? comma : fend;
            size_t fl = (size_t)(fe - f);
            const script_flag_name *n = script_flag_names;
            while (n->name && !(strlen(n->name) == fl && memcmp(n->name, f, fl) == 0))
                n++;
            if (!n->name) {
                snprintf(err, errlen, "Unexpected flag in script shebang: %.*s", (int)fl, f);
                return -1;
            }
            *flags |= n->flag;
            f = comma ? comma + 1 : fend;
        }
    }
    return 0;
}

/* Compiles body and stores {function, flags} in the index (on top) under sha.
 * Returns 0, or -1 after replying Redis's error. */
static int compile_into_index(client *c, lua_State *L, const char *sha, const char *body, size_t len)
{
    uint32_t flags;
    size_t shebang;
    char err[256];
    if (script_shebang_flags(body, len, &flags, &shebang, err, sizeof err) != 0) {
        reply_errorf(&c->out, "ERR %s", err);
        return -1;
    }
    /* the shebang line is skipped but its newline kept: line numbers stay right */
    if (script_compile(L, body + shebang, len - shebang, "@user_script") != 0) {
        reply_errorf(&c->out, "ERR Error compiling script (new function): %s", lua_tostring(L, -1));
        lua_pop(L, 1);
        return -1;
    }
    lua_createtable(L, 2, 0);
    lua_insert(L, -2);
    lua_rawseti(L, -2, 1);
    lua_pushnumber(L, flags);
    lua_rawseti(L, -2, 2);
    lua_pushlstring(L, sha, SCRIPT_SHA_LEN);
    lua_insert(L, -2);
    lua_rawset(L, -3);
    return 0;
}

/* Adds body to the shared cache, logging (once a minute) when it is full: the script
 * still runs on this thread. */
static void share(const char *sha, const char *body, size_t len)
{
    static int64_t warned_ms;
    if (scripts_add(sha, body, len) == SCRIPTS_FULL && clock_mono_ms() - warned_ms > 60000) {
        warned_ms = clock_mono_ms();
        log_write(LOG_LVL_WARN, "script cache full: SCRIPT FLUSH frees it", "bytes=%llu",
                  (unsigned long long)scripts_bytes());
    }
}

/* Lower-cases a 40-digit sha into out[41]; false when it is not 40 bytes long. */
static bool sha_normal(const resp_arg *a, char out[SCRIPT_SHA_LEN + 1])
{
    if (a->len != SCRIPT_SHA_LEN)
        return false;
    for (size_t i = 0; i < SCRIPT_SHA_LEN; i++)
        out[i] = (char)tolower((unsigned char)a->ptr[i]);
    out[SCRIPT_SHA_LEN] = 0;
    return true;
}

/* Pushes the index entry {function, flags} of sha, compiling a shared body the
 * first time. body: EVAL's (compiled and shared when unknown), or NULL (EVALSHA:
 * NOSCRIPT when unknown). Returns false after replying an error. */
static bool entry_push(client *c, lua_State *L, const char *sha, const char *body, size_t len)
{
    script_engine *e = c->w->script;
    for (;;) {
        index_push(e, L);
        lua_pushlstring(L, sha, SCRIPT_SHA_LEN);
        lua_rawget(L, -2);
        if (lua_istable(L, -1)) {
            lua_remove(L, -2);
            return true;
        }
        bool shared = lua_isnumber(L, -1);
        uint64_t rec = shared ? (uint64_t)lua_tonumber(L, -1) : 0;
        lua_pop(L, 1);
        char *copy = NULL;
        if (shared && !body) {
            copy = scripts_copy(e->cache_gen, rec, &len);
            if (!copy) {                         /* flushed meanwhile */
                lua_pop(L, 1);
                continue;
            }
        } else if (!body) {
            lua_pop(L, 1);
            reply_error(&c->out, "NOSCRIPT No matching script. Please use EVAL.");
            return false;
        }
        int rc = compile_into_index(c, L, sha, copy ? copy : body, len);
        if (rc == 0 && !shared)
            share(sha, body, len);
        free(copy);
        lua_pop(L, 1);
        if (rc != 0)
            return false;
    }
}

/* script_exec's push: the function of the entry table at stack index *arg. */
static bool push_entry_function(lua_State *L, void *arg)
{
    lua_rawgeti(L, *(int *)arg, 1);
    return true;
}

/* EVAL body numkeys key... arg... and its variants. */
static void eval_generic(client *c, bool by_sha, bool ro)
{
    long long numkeys;
    if (!arg_ll(c, 2, &numkeys))
        return;
    if (!script_numkeys_ok(c, numkeys))
        return;
    lua_State *L = script_lua(c->w);
    char sha[SCRIPT_SHA_LEN + 1];
    const char *body = NULL;
    size_t body_len = 0;
    if (by_sha) {
        if (!sha_normal(&c->argv[1], sha)) {
            reply_error(&c->out, "NOSCRIPT No matching script. Please use EVAL.");
            return;
        }
    } else {
        body = c->argv[1].ptr;
        body_len = c->argv[1].len;
        sha1_hex(body, body_len, sha);
    }
    int top = lua_gettop(L);
    if (!entry_push(c, L, sha, body, body_len))
        return;
    int entry = lua_gettop(L);
    lua_rawgeti(L, entry, 2);
    uint32_t flags = (uint32_t)lua_tonumber(L, -1);
    lua_pop(L, 1);
    if (!(flags & SCRIPT_EVAL_COMPAT) && !(flags & SCRIPT_NO_WRITES)) {
        if (ro) {
            reply_error(&c->out, "ERR Can not execute a script with write flag using *_ro command.");
            lua_settop(L, top);
            return;
        }
        if (script_refuse_oom(c, flags)) {
            lua_settop(L, top);
            return;
        }
    }
    script_call sc = {
        .funcname = sha,              /* error texts name the script by its sha */
        .flags = flags,
        .ro = ro,
        .eval = true,
        .keys = &c->argv[3],
        .nkeys = (size_t)numkeys,
        .args = &c->argv[3 + numkeys],
        .nargs = c->argc - 3 - (size_t)numkeys,
    };
    script_exec(c, &sc, push_entry_function, &entry);
    lua_settop(L, top);
}

static void cmd_eval(client *c)
{
    eval_generic(c, false, false);
}

static void cmd_evalsha(client *c)
{
    eval_generic(c, true, false);
}

static void cmd_eval_ro(client *c)
{
    eval_generic(c, false, true);
}

static void cmd_evalsha_ro(client *c)
{
    eval_generic(c, true, true);
}

/* SCRIPT LOAD body: compiles it (so a syntax error is reported now) and shares it. */
static void script_load(client *c)
{
    lua_State *L = script_lua(c->w);
    char sha[SCRIPT_SHA_LEN + 1];
    sha1_hex(c->argv[2].ptr, c->argv[2].len, sha);
    int top = lua_gettop(L);
    bool ok = entry_push(c, L, sha, c->argv[2].ptr, c->argv[2].len);
    lua_settop(L, top);
    if (ok)
        reply_bulk(&c->out, sha, SCRIPT_SHA_LEN);
}

/* SCRIPT EXISTS sha...: 1 or 0 per sha, whether the shared cache holds its body. */
static void script_exists(client *c)
{
    lua_State *L = script_lua(c->w);
    int top = lua_gettop(L);
    index_push(c->w->script, L);
    reply_array(&c->out, (long long)c->argc - 2);
    for (size_t i = 2; i < c->argc; i++) {
        char sha[SCRIPT_SHA_LEN + 1];
        bool found = false;
        if (sha_normal(&c->argv[i], sha)) {
            lua_pushlstring(L, sha, SCRIPT_SHA_LEN);
            lua_rawget(L, -2);
            found = !lua_isnil(L, -1);
            lua_pop(L, 1);
        }
        reply_int(&c->out, found);
    }
    lua_settop(L, top);
}

/* SCRIPT FLUSH [ASYNC|SYNC]: empties the shared cache and this thread's index (the
 * others follow its generation). Anything but one mode is Redis's option error. */
static void script_flush(client *c)
{
    if (c->argc > 3 || (c->argc == 3 && !arg_is(&c->argv[2], "sync") && !arg_is(&c->argv[2], "async"))) {
        reply_error(&c->out, "ERR SCRIPT FLUSH only support SYNC|ASYNC option");
        return;
    }
    scripts_flush();
    if (c->w->script) {
        lua_State *L = c->w->script->L;
        lua_newtable(L);
        lua_setfield(L, LUA_REGISTRYINDEX, SCRIPT_CACHE);
        c->w->script->cache_gen = scripts_generation();
        c->w->script->cache_seen = 0;
        lua_gc(L, LUA_GCCOLLECT, 0);
    }
    reply_ok(&c->out);
}

/* SCRIPT HELP: Redis's text. */
static void script_help(client *c)
{
    static const char *const lines[] = {
        "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "EXISTS <sha1> [<sha1> ...]",
        "    Return information about the existence of the scripts in the script cache.",
        "FLUSH [ASYNC|SYNC]",
        "    Flush the Lua scripts cache. Very dangerous on replicas.",
        "    When called without the optional mode argument, the behavior is determined by the",
        "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
        "    * ASYNC: Asynchronously flush the scripts cache.",
        "    * SYNC: Synchronously flush the scripts cache.",
        "KILL",
        "    Kill the currently executing Lua script.",
        "LOAD <script>",
        "    Load a script into the scripts cache without executing it.",
        "HELP",
        "    Prints this help.",
    };
    reply_array(&c->out, (long long)(sizeof lines / sizeof lines[0]));
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++)
        reply_simple(&c->out, lines[i]);
}

/* SCRIPT KILL: stops the script running on any worker, unless it has written
 * (script_kill has Redis's NOTBUSY/UNKILLABLE texts). */
static void script_kill_cmd(client *c)
{
    script_kill(c, false);
}

/* SCRIPT's subcommands, with Redis 7's arities and flags. */
static const command script_subs[] = {
    { "exists", -3, CMD_NOSCRIPT, NULL, script_exists, NULL,
      "Determines whether server-side Lua scripts exist in the script cache.", "2.6.0",
      "O(N) with N being the number of scripts to check (so checking a single script is an O(1) operation).",
      NULL },
    { "flush", -2, CMD_NOSCRIPT, NULL, script_flush, NULL, "Removes all server-side Lua scripts from the script cache.",
      "2.6.0", "O(N) with N being the number of scripts in cache", NULL },
    { "help", 2, CMD_LOADING | CMD_STALE, NULL, script_help, NULL,
      "Returns helpful text about the different subcommands.", "5.0.0", "O(1)", NULL },
    { "kill", 2, CMD_NOSCRIPT, NULL, script_kill_cmd, NULL, "Terminates a server-side Lua script during execution.",
      "2.6.0", "O(1)", NULL },
    { "load", 3, CMD_NOSCRIPT | CMD_STALE, NULL, script_load, NULL,
      "Loads a server-side Lua script to the script cache.", "2.6.0",
      "O(N) with N being the length in bytes of the script body.", NULL },
    { 0 }
};

static const key_spec eval_keys[] = {
    { KS_RW | KS_ACCESS | KS_UPDATE, KS_INDEX, 2, NULL, KS_KEYNUM, .keynum = { 0, 1, 1 },
      "We cannot tell how the keys will be used so we assume the worst, RW and UPDATE", NULL },
    { 0 },
};
static const key_spec eval_ro_keys[] = {
    { KS_RO | KS_ACCESS, KS_INDEX, 2, NULL, KS_KEYNUM, .keynum = { 0, 1, 1 },
      "We cannot tell how the keys will be used so we assume the worst, RO and ACCESS", NULL },
    { 0 },
};

#define EVAL_FLAGS (CMD_NOLOCK | CMD_NOSCRIPT | CMD_STALE | CMD_NO_MANDATORY_KEYS)

const command script_commands[] = {
    { "eval", -3, EVAL_FLAGS, eval_keys, cmd_eval, "scripting", "Executes a server-side Lua script.", "2.6.0",
      "Depends on the script that is executed.", NULL },
    { "evalsha", -3, EVAL_FLAGS, eval_keys, cmd_evalsha, "scripting",
      "Executes a server-side Lua script by SHA1 digest.", "2.6.0", "Depends on the script that is executed.", NULL },
    { "eval_ro", -3, EVAL_FLAGS | CMD_READONLY, eval_ro_keys, cmd_eval_ro, "scripting",
      "Executes a read-only server-side Lua script.", "7.0.0", "Depends on the script that is executed.", NULL },
    { "evalsha_ro", -3, EVAL_FLAGS | CMD_READONLY, eval_ro_keys, cmd_evalsha_ro, "scripting",
      "Executes a read-only server-side Lua script by SHA1 digest.", "7.0.0",
      "Depends on the script that is executed.", NULL },
    { "script", -2, 0, NULL, NULL, "scripting", "A container for Lua scripts management commands.", "2.6.0",
      "Depends on subcommand.", script_subs },
    { 0 },
};
