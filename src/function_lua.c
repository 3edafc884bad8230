/* function_lua.c - FUNCTION libraries in each serving thread's Lua state, and FCALL.
 *
 * A thread runs functions in the same Lua state as its EVAL scripts (script_lua). Its
 * libraries are a registry table FN_TABLE of lower-cased function name -> {callback,
 * flags, name}, built by running every library's code again in this state when the
 * shared registry's generation differs from FN_GEN (the one it was built from).
 *
 * Every library's code runs with one environment table FN_ENV, as all libraries share
 * the globals of Redis's function engine: an empty read-only table whose metatable
 * reads through to the load API (fnlua_push_load_globals: register_function, log, the
 * version) while the code runs, and to the scripts' sandboxed globals afterwards - so
 * the callbacks, created with that environment, see redis.call, string, cjson ... and
 * never register_function.
 *
 * A running FCALL also writes its name and command into its lane (script_desc) for
 * FUNCTION STATS on other threads. */
#include "function_lua.h"
#include "script_internal.h"

#include "kvns/arena.h"
#include "kvns/log.h"

#include <ctype.h>
#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>

#define FN_TABLE     "kvns.functions"       /* lower-cased name -> {callback, flags, name} */
#define FN_GEN       "kvns.functions.gen"   /* the registry generation FN_TABLE was built at */
#define FN_ENV       "kvns.functions.env"   /* the libraries' globals */
#define FN_ENV_MT    "kvns.functions.envmt" /* its metatable (__index switched) */
#define FN_LOAD_API  "kvns.functions.load"  /* the load-time globals */
#define FN_BUILDING  "kvns.functions.next"  /* the FN_TABLE being built */
#define FN_NLIBS     "kvns.functions.nlibs" /* libraries and functions of FN_GEN's registry */
#define FN_NFUNCS    "kvns.functions.nfuncs"

#define FN_NAME_MAX 128                     /* a lower-cased lookup key; longer never matches */

/* __newindex of FN_ENV. */
static int fn_env_readonly(lua_State *L)
{
    return luaL_error(L, "Attempt to modify a readonly table");
}

/* Creates FN_ENV, its metatable and the load API in L's registry the first time. */
static void fn_env_init(lua_State *L)
{
    lua_getfield(L, LUA_REGISTRYINDEX, FN_ENV);
    bool have = lua_istable(L, -1);
    lua_pop(L, 1);
    if (have)
        return;
    fnlua_push_load_globals(L);
    lua_setfield(L, LUA_REGISTRYINDEX, FN_LOAD_API);
    lua_newtable(L);                                   /* FN_ENV */
    lua_newtable(L);                                   /* its metatable */
    lua_pushvalue(L, LUA_GLOBALSINDEX);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, fn_env_readonly);
    lua_setfield(L, -2, "__newindex");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_pushvalue(L, -1);
    lua_setfield(L, LUA_REGISTRYINDEX, FN_ENV_MT);
    lua_setmetatable(L, -2);
    script_mark_readonly(L);             /* rawset refuses it like the others */
    lua_setfield(L, LUA_REGISTRYINDEX, FN_ENV);
}

/* Points FN_ENV's reads at the load API (loading) or the scripts' globals. */
static void fn_env_mode(lua_State *L, bool loading)
{
    lua_getfield(L, LUA_REGISTRYINDEX, FN_ENV_MT);
    if (loading)
        lua_getfield(L, LUA_REGISTRYINDEX, FN_LOAD_API);
    else
        lua_pushvalue(L, LUA_GLOBALSINDEX);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
}

/* Lower-cases name[0..len) into out[FN_NAME_MAX]; false when it is too long. */
static bool fn_key(const char *name, size_t len, char *out)
{
    if (len >= FN_NAME_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        out[i] = (char)tolower((unsigned char)name[i]);
    out[len] = '\0';
    return true;
}

/* fnlua_reg's on_callback while a thread builds its libraries: stores the callback
 * at stack index cb (of register_function's frame) in FN_BUILDING. */
static void fn_keep_callback(lua_State *L, fnlua_reg *reg, const char *name, int cb)
{
    char key[FN_NAME_MAX];
    if (!fn_key(name, strlen(name), key))
        return;
    lua_getfield(L, LUA_REGISTRYINDEX, FN_BUILDING);
    lua_pushstring(L, key);
    lua_createtable(L, 3, 0);
    lua_pushvalue(L, cb);
    lua_rawseti(L, -2, 1);
    lua_pushnumber(L, reg->lib.funcs[reg->lib.nfuncs - 1].flags);
    lua_rawseti(L, -2, 2);
    lua_pushstring(L, name);
    lua_rawseti(L, -2, 3);
    lua_rawset(L, -3);
    lua_pop(L, 1);
}

/* Rebuilds FN_TABLE from s: every library's code runs once in FN_ENV. A library that
 * fails here (it loaded on another thread) is logged and left out. */
static void fn_rebuild(lua_State *L, const fn_set *s)
{
    fn_env_init(L);
    lua_newtable(L);
    lua_setfield(L, LUA_REGISTRYINDEX, FN_BUILDING);
    lua_getfield(L, LUA_REGISTRYINDEX, FN_ENV);
    int env = lua_gettop(L);
    fn_env_mode(L, true);
    for (size_t i = 0; i < s->nlibs; i++) {
        char err[512];
        fnlua_meta md;
        fnlua_reg reg = { .no_timeout = true, .on_callback = fn_keep_callback };
        if (fnlua_shebang(s->libs[i].code, s->libs[i].code_len, &md, err, sizeof err) != 0 ||
            fnlua_run_library(L, &md, &reg, env, err, sizeof err) != 0)
            log_write(LOG_LVL_WARN, "function library not loaded on this thread", "library=%s error=\"%s\"",
                      s->libs[i].name, err);
        fnlua_meta_clear(&md);
        fnlib_clear(&reg.lib);
    }
    fn_env_mode(L, false);
    lua_pop(L, 1);
    lua_getfield(L, LUA_REGISTRYINDEX, FN_BUILDING);
    lua_setfield(L, LUA_REGISTRYINDEX, FN_TABLE);
    lua_pushnil(L);
    lua_setfield(L, LUA_REGISTRYINDEX, FN_BUILDING);
    lua_gc(L, LUA_GCCOLLECT, 0);
}

bool fnlua_read_registry(client *c, fn_set *out)
{
    if (!c->w->nested)
        return fnstore_read(out) == 0;
    uint32_t id = lock_id_functions();
    if (!cmd_txn_begin(c, &id, 1))
        return false;
    fnstore_read_locked(out);
    return true;
}

/* Brings the thread's libraries up to the shared registry. False when the registry
 * could not be read inside a transaction (see fnlua_read_registry). */
static bool fn_sync(client *c, lua_State *L)
{
    uint64_t gen = fnstore_generation();
    lua_getfield(L, LUA_REGISTRYINDEX, FN_GEN);
    bool current = lua_isstring(L, -1) && strtoull(lua_tostring(L, -1), NULL, 10) == gen;
    lua_pop(L, 1);
    if (current)
        return true;
    fn_set s = { 0 };
    if (!fnlua_read_registry(c, &s))
        return false;
    fn_rebuild(L, &s);
    char num[24];
    snprintf(num, sizeof num, "%llu", (unsigned long long)s.gen);
    lua_pushstring(L, s.gen == FNSTORE_GEN_UNCOMMITTED ? "none" : num);
    lua_setfield(L, LUA_REGISTRYINDEX, FN_GEN);
    lua_pushnumber(L, (lua_Number)s.nlibs);
    lua_setfield(L, LUA_REGISTRYINDEX, FN_NLIBS);
    lua_pushnumber(L, (lua_Number)fnset_nfuncs(&s));
    lua_setfield(L, LUA_REGISTRYINDEX, FN_NFUNCS);
    fnset_clear(&s);
    return true;
}

/* Writes the function's name and command line into the lane for FUNCTION STATS:
 * name NUL, a byte of argument count, then each argument as a byte of length and its
 * bytes, cut short where the field ends. */
static void fn_publish_desc(client *c, const char *name)
{
    char *d = c->w->txn.ln->script_desc;
    size_t cap = sizeof c->w->txn.ln->script_desc, n = strnlen(name, 63);
    memcpy(d, name, n);
    d[n++] = '\0';
    size_t count_at = n++;
    unsigned count = 0;
    for (size_t i = 0; i < c->argc && count < 255; i++) {
        size_t len = c->argv[i].len > 255 ? 255 : c->argv[i].len;
        if (n + 1 + len > cap)
            break;
        d[n++] = (char)len;
        memcpy(d + n, c->argv[i].ptr, len);
        n += len;
        count++;
    }
    d[count_at] = (char)count;
}

void fnlua_reply_running(client *c)
{
    uint32_t lanes = arena_hdr()->lane_count;
    for (uint32_t i = 0; i < lanes; i++) {
        lane *ln = arena_lane(i);
        int64_t since = __atomic_load_n(&ln->script_since_ms, __ATOMIC_ACQUIRE);
        if (!since || !__atomic_load_n(&ln->script_is_function, __ATOMIC_RELAXED))
            continue;
        char d[sizeof ln->script_desc];
        memcpy(d, ln->script_desc, sizeof d);
        if (__atomic_load_n(&ln->script_since_ms, __ATOMIC_ACQUIRE) != since)
            continue;                            /* it ended (or another began) meanwhile */
        size_t n = strnlen(d, sizeof d - 2);
        reply_map(&c->out, 3);
        reply_bulk_cstr(&c->out, "name");
        reply_bulk(&c->out, d, n);
        n++;
        unsigned count = (unsigned char)d[n++];
        reply_bulk_cstr(&c->out, "command");
        reply_array(&c->out, count);
        for (unsigned k = 0; k < count; k++) {
            size_t len = (unsigned char)d[n++];
            reply_bulk(&c->out, d + n, len);
            n += len;
        }
        reply_bulk_cstr(&c->out, "duration_ms");
        reply_int(&c->out, clock_mono_ms() - since);
        return;
    }
    reply_null(&c->out);
}

void fnlua_reply_stats(client *c, size_t nlibs, size_t nfuncs)
{
    reply_map(&c->out, 2);
    reply_bulk_cstr(&c->out, "running_script");
    fnlua_reply_running(c);
    reply_bulk_cstr(&c->out, "engines");
    reply_map(&c->out, 1);
    reply_bulk_cstr(&c->out, "LUA");
    reply_map(&c->out, 2);
    reply_bulk_cstr(&c->out, "libraries_count");
    reply_int(&c->out, (long long)nlibs);
    reply_bulk_cstr(&c->out, "functions_count");
    reply_int(&c->out, (long long)nfuncs);
}

void fnlua_reply_stats_cached(client *c)
{
    lua_State *L = script_lua(c->w);
    lua_getfield(L, LUA_REGISTRYINDEX, FN_NLIBS);
    lua_getfield(L, LUA_REGISTRYINDEX, FN_NFUNCS);
    size_t nlibs = (size_t)lua_tonumber(L, -2), nfuncs = (size_t)lua_tonumber(L, -1);
    lua_pop(L, 2);
    fnlua_reply_stats(c, nlibs, nfuncs);
}

/* script_exec's push: the callback of the entry table at stack index *arg. */
static bool fn_push_callback(lua_State *L, void *arg)
{
    lua_rawgeti(L, *(int *)arg, 1);
    return true;
}

void fnlua_fcall(client *c, size_t numkeys, bool ro)
{
    lua_State *L = script_lua(c->w);
    int top = lua_gettop(L);
    if (!fn_sync(c, L))
        return;
    char key[FN_NAME_MAX];
    lua_getfield(L, LUA_REGISTRYINDEX, FN_TABLE);
    if (lua_istable(L, -1) && fn_key(c->argv[1].ptr, c->argv[1].len, key)) {
        lua_pushstring(L, key);
        lua_rawget(L, -2);
    } else {
        lua_pushnil(L);
    }
    if (!lua_istable(L, -1)) {
        reply_error(&c->out, "ERR Function not found");
        lua_settop(L, top);
        return;
    }
    int entry = lua_gettop(L);
    lua_rawgeti(L, entry, 2);
    uint32_t flags = (uint32_t)lua_tonumber(L, -1);
    lua_rawgeti(L, entry, 3);
    const char *name = lua_tostring(L, -1);     /* kept alive by the entry */
    lua_pop(L, 2);
    /* Redis's scriptPrepareForRun: no-writes implies allow-oom */
    if (!(flags & SCRIPT_NO_WRITES) && ro) {
        reply_error(&c->out, "ERR Can not execute a script with write flag using *_ro command.");
        lua_settop(L, top);
        return;
    }
    if (script_refuse_oom(c, flags)) {
        lua_settop(L, top);
        return;
    }
    script_call sc = {
        .funcname = name,
        .flags = flags,
        .ro = ro,
        .eval = false,
        .is_function = true,
        .keys = &c->argv[3],
        .nkeys = numkeys,
        .args = &c->argv[3 + numkeys],
        .nargs = c->argc - 3 - numkeys,
    };
    fn_publish_desc(c, name);
    script_exec(c, &sc, fn_push_callback, &entry);
    lua_settop(L, top);
}
