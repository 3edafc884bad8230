/* script_lua.c - each serving thread's Lua state: libraries, sandbox and the `redis`
 * API (see script_lua.h). The conversions between replies and Lua values are in
 * script_convert.c, the run of one script in script_run.c. */
#include "script_lua.h"
#include "script_internal.h"
#include "lua_libs.h"
#include "sha1.h"
#include "t_server.h"

#include "kvns/arena.h"
#include "kvns/log.h"

#include <lauxlib.h>
#include <lualib.h>
#include <stdlib.h>
#include <string.h>


/* The allocator of every thread's Lua state: counts the bytes in use. */
static void *script_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    script_engine *e = ud;
    if (nsize == 0) {
        free(ptr);
        e->lua_bytes -= osize;
        return NULL;
    }
    void *p = realloc(ptr, nsize);
    if (p)
        e->lua_bytes += nsize - (ptr ? osize : 0);
    return p;
}

script_engine *script_engine_of(lua_State *L)
{
    void *ud;
    lua_getallocf(L, &ud);
    return ud;
}

/* ---- the sandbox -------------------------------------------------------------- */

static int ro_newindex(lua_State *L)
{
    return luaL_error(L, "Attempt to modify a readonly table");
}

/* Reading a global nobody defined is an error in a script, as in Redis. */
static int missing_global(lua_State *L)
{
    const char *name = lua_tostring(L, 2);
    luaL_where(L, 1);
    lua_pushfstring(L, "Script attempted to access nonexistent global variable '%s'", name ? name : "?");
    lua_concat(L, 2);
    return lua_error(L);
}

/* Replaces the table at the top of the stack by a read-only proxy of it: reads go to
 * the table, writes (and setmetatable/rawset on the proxy) raise "Attempt to modify a
 * readonly table". The proxy is remembered in the registry's set of read-only tables. */
static void make_readonly(lua_State *L)
{
    int real = lua_gettop(L);
    lua_newtable(L);                                  /* the proxy */
    lua_newtable(L);                                  /* its metatable */
    lua_pushvalue(L, real);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, ro_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_newtable(L);                                  /* what getmetatable shows: read-only too */
    lua_newtable(L);
    lua_pushcfunction(L, ro_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2);
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2);
    script_mark_readonly(L);
    lua_replace(L, real);
}

void script_mark_readonly(lua_State *L)
{
    lua_getfield(L, LUA_REGISTRYINDEX, SCRIPT_RO_SET);
    lua_pushvalue(L, -2);
    lua_pushboolean(L, 1);
    lua_rawset(L, -3);
    lua_pop(L, 1);
}

/* True when the value at idx is one of the sandbox's read-only tables. */
static bool is_readonly(lua_State *L, int idx)
{
    if (!lua_istable(L, idx))
        return false;
    lua_getfield(L, LUA_REGISTRYINDEX, SCRIPT_RO_SET);
    lua_pushvalue(L, idx);
    lua_rawget(L, -2);
    bool ro = lua_toboolean(L, -1);
    lua_pop(L, 2);
    return ro;
}

/* setmetatable and rawset that refuse the read-only tables (Lua's own would not). */
static int safe_setmetatable(lua_State *L)
{
    if (is_readonly(L, 1))
        return luaL_error(L, "Attempt to modify a readonly table");
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
    return lua_gettop(L);
}

static int safe_rawset(lua_State *L)
{
    if (is_readonly(L, 1))
        return luaL_error(L, "Attempt to modify a readonly table");
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checkany(L, 2);
    luaL_checkany(L, 3);
    lua_settop(L, 3);
    lua_rawset(L, 1);
    return 1;
}

/* loadstring that refuses precompiled chunks (they can crash Lua 5.1): returns nil
 * and a message for them, as Redis's patched loadstring does. */
static int safe_loadstring(lua_State *L)
{
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    if (len > 0 && s[0] == LUA_SIGNATURE[0]) {
        lua_pushnil(L);
        lua_pushliteral(L, "binary chunks are not allowed");
        return 2;
    }
    const char *name = luaL_optstring(L, 2, s);
    if (luaL_loadbuffer(L, s, len, name) != 0) {
        lua_pushnil(L);
        lua_insert(L, -2);
        return 2;
    }
    return 1;
}

int script_compile(lua_State *L, const char *code, size_t len, const char *chunkname)
{
    if (len > 0 && code[0] == LUA_SIGNATURE[0]) {
        lua_pushliteral(L, "binary chunks are not allowed");
        return -1;
    }
    if (luaL_loadbuffer(L, code, len, chunkname) != 0)
        return -1;
    return 0;
}

/* ---- math.random: Redis's own PRNG, one per state ------------------------------- */

/* rand48: x = (a*x + c) mod 2^48, 31 bits out, as Redis's redisLrand48. */
static int32_t script_lrand48(script_engine *e)
{
    e->rand48 = (e->rand48 * 0x5DEECE66DULL + 0xB) & ((1ULL << 48) - 1);
    return (int32_t)(e->rand48 >> 17);
}

static void script_srand48(script_engine *e, int32_t seed)
{
    e->rand48 = ((uint64_t)(uint32_t)seed << 16) | 0x330E;
}

#define SCRIPT_RAND48_MAX 2147483647

static int script_math_random(lua_State *L)
{
    script_engine *e = script_engine_of(L);
    lua_Number r = (lua_Number)(script_lrand48(e) % SCRIPT_RAND48_MAX) / (lua_Number)SCRIPT_RAND48_MAX;
    switch (lua_gettop(L)) {
    case 0:
        lua_pushnumber(L, r);
        break;
    case 1: {
        int u = luaL_checkint(L, 1);
        luaL_argcheck(L, 1 <= u, 1, "interval is empty");
        lua_pushnumber(L, (lua_Number)((int)(r * u) + 1));
        break;
    }
    case 2: {
        int l = luaL_checkint(L, 1), u = luaL_checkint(L, 2);
        luaL_argcheck(L, l <= u, 2, "interval is empty");
        lua_pushnumber(L, (lua_Number)((int)(r * (u - l + 1)) + l));
        break;
    }
    default:
        return luaL_error(L, "wrong number of arguments");
    }
    return 1;
}

static int script_math_randomseed(lua_State *L)
{
    script_srand48(script_engine_of(L), luaL_checkint(L, 1));
    return 0;
}

/* ---- the redis table ---------------------------------------------------------- */

static int redis_call(lua_State *L)
{
    return script_redis_command(L, true);
}

static int redis_pcall(lua_State *L)
{
    return script_redis_command(L, false);
}

static int redis_sha1hex(lua_State *L)
{
    if (lua_gettop(L) != 1)
        return script_raise(L, "wrong number of arguments");
    size_t len;
    const char *s = lua_tolstring(L, 1, &len);
    char hex[41];
    sha1_hex(s ? s : "", s ? len : 0, hex);
    lua_pushstring(L, hex);
    return 1;
}

/* redis.error_reply(msg): the error table {err = "CODE msg"} (ERR when no code). */
static int redis_error_reply(lua_State *L)
{
    if (lua_gettop(L) != 1 || lua_type(L, 1) != LUA_TSTRING)
        return script_raise(L, "wrong number or type of arguments");
    size_t len;
    const char *s = lua_tolstring(L, 1, &len);
    if (len > 0 && s[0] == '-')
        script_push_error(L, s, len);
    else {
        lua_pushliteral(L, "-");
        lua_pushvalue(L, 1);
        lua_concat(L, 2);
        s = lua_tolstring(L, -1, &len);
        script_push_error(L, s, len);
    }
    return 1;
}

static int redis_status_reply(lua_State *L)
{
    if (lua_gettop(L) != 1 || lua_type(L, 1) != LUA_TSTRING)
        return script_raise(L, "wrong number or type of arguments");
    lua_newtable(L);
    lua_pushvalue(L, 1);
    lua_setfield(L, -2, "ok");
    return 1;
}

static int redis_log(lua_State *L)
{
    int argc = lua_gettop(L);
    if (argc < 2)
        return script_raise(L, "redis.log() requires two arguments or more.");
    if (!lua_isnumber(L, 1))
        return script_raise(L, "First argument must be a number (log level).");
    int level = (int)lua_tonumber(L, 1);
    if (level < 0 || level > 3)
        return script_raise(L, "Invalid debug level.");
    static const enum log_level levels[] = { LOG_LVL_DEBUG, LOG_LVL_INFO, LOG_LVL_INFO, LOG_LVL_WARN };
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (int i = 2; i <= argc; i++) {
        size_t len;
        const char *s = lua_tolstring(L, i, &len);
        if (!s)
            continue;
        if (i > 2)
            luaL_addchar(&b, ' ');
        luaL_addlstring(&b, s, len);
    }
    luaL_pushresult(&b);
    log_write(levels[level], "script log", "text=%s", lua_tostring(L, -1));
    return 0;
}

static int redis_setresp(lua_State *L)
{
    if (lua_gettop(L) != 1)
        return script_raise(L, "redis.setresp() requires one argument.");
    int resp = (int)lua_tonumber(L, 1);
    if (resp != 2 && resp != 3)
        return script_raise(L, "RESP version must be 2 or 3.");
    script_engine_of(L)->resp = resp;
    return 0;
}

static int redis_set_repl(lua_State *L)
{
    if (lua_gettop(L) != 1)
        return script_raise(L, "redis.set_repl() requires one argument.");
    int flags = (int)lua_tonumber(L, 1);
    if (flags < 0 || flags > 3)
        return script_raise(L, "Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.");
    return 0;
}

static int redis_replicate_commands(lua_State *L)
{
    lua_pushboolean(L, 1);
    return 1;
}

static int redis_breakpoint(lua_State *L)
{
    lua_pushboolean(L, 0);
    return 1;
}

static int redis_debug(lua_State *L)
{
    return 0;
}

/* redis.acl_check_cmd(cmd, ...): whether the user may run it; with no ACL every
 * existing command may run. */
static int redis_acl_check_cmd(lua_State *L)
{
    size_t len;
    const char *name = lua_gettop(L) >= 1 ? lua_tolstring(L, 1, &len) : NULL;
    if (!name || !command_lookup(name, len))
        return script_raise(L, "Invalid command passed to redis.acl_check_cmd()");
    lua_pushboolean(L, 1);
    return 1;
}

/* Parses KVNS_REDIS_VERSION "MAJOR.MINOR.PATCH" into Redis's 0x00MMmmpp. */
static long long version_num(void)
{
    int major = 0, minor = 0, patch = 0;
    sscanf(KVNS_REDIS_VERSION, "%d.%d.%d", &major, &minor, &patch);
    return (long long)major << 16 | minor << 8 | patch;
}

static void set_int_field(lua_State *L, const char *name, lua_Number v)
{
    lua_pushnumber(L, v);
    lua_setfield(L, -2, name);
}

/* Pushes the `redis` table (not yet read-only). */
static void push_redis_table(lua_State *L)
{
    static const luaL_Reg fns[] = {
        { "call", redis_call },
        { "pcall", redis_pcall },
        { "sha1hex", redis_sha1hex },
        { "error_reply", redis_error_reply },
        { "status_reply", redis_status_reply },
        { "log", redis_log },
        { "setresp", redis_setresp },
        { "set_repl", redis_set_repl },
        { "replicate_commands", redis_replicate_commands },
        { "breakpoint", redis_breakpoint },
        { "debug", redis_debug },
        { "acl_check_cmd", redis_acl_check_cmd },
        { NULL, NULL },
    };
    lua_newtable(L);
    for (const luaL_Reg *f = fns; f->name; f++) {
        lua_pushcfunction(L, f->func);
        lua_setfield(L, -2, f->name);
    }
    set_int_field(L, "LOG_DEBUG", 0);
    set_int_field(L, "LOG_VERBOSE", 1);
    set_int_field(L, "LOG_NOTICE", 2);
    set_int_field(L, "LOG_WARNING", 3);
    set_int_field(L, "REPL_NONE", 0);
    set_int_field(L, "REPL_AOF", 1);
    set_int_field(L, "REPL_SLAVE", 2);
    set_int_field(L, "REPL_REPLICA", 2);
    set_int_field(L, "REPL_ALL", 3);
    lua_pushstring(L, KVNS_REDIS_VERSION);
    lua_setfield(L, -2, "REDIS_VERSION");
    set_int_field(L, "REDIS_VERSION_NUM", (lua_Number)version_num());
}

/* The libraries Redis gives scripts (lua_libs.h), with math.random and
 * math.randomseed replaced by the state's own PRNG, as globals of the (still
 * writable) real globals table. */
static void open_libraries(lua_State *L)
{
    lua_libs_open(L);
    lua_getglobal(L, "math");
    lua_pushcfunction(L, script_math_random);
    lua_setfield(L, -2, "random");
    lua_pushcfunction(L, script_math_randomseed);
    lua_setfield(L, -2, "randomseed");
    lua_pop(L, 1);
}

/* Makes the library tables in the globals read-only proxies. */
static void protect_libraries(lua_State *L)
{
    static const char *const libs[] = { "redis", "table", "string", "math", "debug", "cjson", "bit",
                                        "cmsgpack", "struct", "coroutine", NULL };
    for (const char *const *n = libs; *n; n++) {
        lua_getglobal(L, *n);
        if (lua_istable(L, -1)) {
            make_readonly(L);
            lua_setglobal(L, *n);
        } else {
            lua_pop(L, 1);
        }
    }
}

/* Builds a thread's Lua state: libraries, redis table, sandboxed globals. */
static lua_State *script_state_new(script_engine *e)
{
    lua_State *L = lua_newstate(script_alloc, e);
    if (!L)
        abort();
    lua_newtable(L);
    lua_setfield(L, LUA_REGISTRYINDEX, SCRIPT_RO_SET);
    lua_newtable(L);
    lua_setfield(L, LUA_REGISTRYINDEX, SCRIPT_CACHE);
    lua_pushcfunction(L, script_error_handler);
    lua_setfield(L, LUA_REGISTRYINDEX, SCRIPT_ERRH);
    open_libraries(L);
    push_redis_table(L);
    lua_setglobal(L, "redis");
    /* Redis 7's deny list, plus getfenv/setfenv (a C function's environment is the
     * real globals table: it would let a script write globals) and debug (Redis
     * removes it once loaded) */
    static const char *const denied[] = { "loadfile", "dofile", "print", "newproxy", "getfenv", "setfenv",
                                          "debug", NULL };
    for (const char *const *n = denied; *n; n++) {
        lua_pushnil(L);
        lua_setglobal(L, *n);
    }
    lua_getglobal(L, "setmetatable");
    lua_pushcclosure(L, safe_setmetatable, 1);
    lua_setglobal(L, "setmetatable");
    lua_pushcfunction(L, safe_rawset);
    lua_setglobal(L, "rawset");
    lua_pushcfunction(L, safe_loadstring);
    lua_setglobal(L, "loadstring");
    protect_libraries(L);
    /* the real globals: a miss is an error */
    lua_pushvalue(L, LUA_GLOBALSINDEX);
    lua_pushvalue(L, -1);
    lua_setfield(L, LUA_REGISTRYINDEX, SCRIPT_GLOBALS);
    lua_newtable(L);
    lua_pushcfunction(L, missing_global);
    lua_setfield(L, -2, "__index");
    lua_setmetatable(L, -2);
    /* what scripts see as their globals: a read-only proxy (also as _G) */
    make_readonly(L);
    lua_getfield(L, LUA_REGISTRYINDEX, SCRIPT_GLOBALS);
    lua_pushvalue(L, -2);
    lua_setfield(L, -2, "_G");
    lua_pop(L, 1);
    lua_replace(L, LUA_GLOBALSINDEX);
    script_srand48(e, 0);
    return L;
}

lua_State *script_lua(worker_ctx *w)
{
    if (!w->script) {
        script_engine *e = calloc(1, sizeof *e);
        if (!e)
            abort();
        reply_init(&e->scratch);
        e->L = script_state_new(e);
        w->script = e;
    }
    return w->script->L;
}

size_t script_lua_memory(worker_ctx *w)
{
    return w->script ? w->script->lua_bytes : 0;
}
