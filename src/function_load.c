/* function_load.c - FUNCTION LOAD's part of the Lua engine: the `#!lua name=<lib>`
 * shebang, and running a library's code once in the load sandbox to learn what it
 * registers (names, flags, descriptions).
 *
 * The load sandbox is what Redis 7 gives library code at load time: the only global is
 * a read-only `redis` table with register_function, log, the LOG_* levels and
 * REDIS_VERSION / REDIS_VERSION_NUM; reading any other global (or field of `redis`)
 * fails with "Script attempted to access nonexistent global variable 'x'", writing one
 * with "Attempt to modify a readonly table", and the run is stopped after 500 ms
 * ("FUNCTION LOAD timeout"). Here it is a fresh lua_State with no standard library
 * opened, thrown away after the run; each serving thread builds the callbacks again in
 * its own state (function_lua.c) through the same registration code. */
#include "function_lua.h"
#include "kvns/clock.h"
#include "kvns/log.h"
#include "t_server.h"

#include <lauxlib.h>
#include <lualib.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define FN_LOAD_TIMEOUT_NS (500ull * 1000 * 1000)

bool fnlua_name_valid(const char *name, size_t len)
{
    if (len == 0)
        return false;
    for (size_t i = 0; i < len; i++) {
        char ch = name[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_'))
            return false;
    }
    return true;
}

/* ---- the shebang ----------------------------------------------------------------------- */

/* Splits line[0..n) into words as Redis's sdssplitargs does (blanks separate; "..." with
 * \n \r \t \b \a \\ \" \xHH escapes and '...' with \' are one word). Returns the word
 * count (at most max), or -1 for an unbalanced quote. Words are malloc'ed. */
static int split_words(const char *line, size_t n, char **words, int max)
{
    int nw = 0;
    size_t i = 0;
    while (nw < max) {
        while (i < n && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r'))
            i++;
        if (i >= n)
            break;
        char *w = malloc(n + 1);
        if (!w)
            abort();
        size_t wl = 0;
        char quote = 0;
        for (; i < n; i++) {
            char ch = line[i];
            if (!quote && (ch == ' ' || ch == '\t' || ch == '\r'))
                break;
            if (!quote && (ch == '"' || ch == '\'')) {
                quote = ch;
                continue;
            }
            if (quote && ch == quote) {
                quote = 0;
                i++;
                if (i < n && line[i] != ' ' && line[i] != '\t' && line[i] != '\r')
                    quote = -1;          /* a closing quote must end the word */
                break;
            }
            if (quote == '"' && ch == '\\' && i + 3 < n && line[i + 1] == 'x' && isxdigit((unsigned char)line[i + 2]) &&
                isxdigit((unsigned char)line[i + 3])) {
                char hex[3] = { line[i + 2], line[i + 3], 0 };
                ch = (char)strtol(hex, NULL, 16);
                i += 3;
            } else if (quote == '"' && ch == '\\' && i + 1 < n) {
                char e = line[++i];
                ch = e == 'n' ? '\n' : e == 'r' ? '\r' : e == 't' ? '\t' : e == 'b' ? '\b' : e == 'a' ? '\a' : e;
            } else if (quote == '\'' && ch == '\\' && i + 1 < n && line[i + 1] == '\'') {
                ch = line[++i];
            }
            w[wl++] = ch;
        }
        w[wl] = '\0';
        words[nw++] = w;
        if (quote) {
            for (int k = 0; k < nw; k++)
                free(words[k]);
            return -1;
        }
    }
    return nw;
}

int fnlua_shebang(const char *code, size_t len, fnlua_meta *md, char *err, size_t errlen)
{
    memset(md, 0, sizeof *md);
    if (len < 2 || code[0] != '#' || code[1] != '!') {
        snprintf(err, errlen, "ERR Missing library metadata");
        return -1;
    }
    const char *nl = memchr(code, '\n', len);
    if (!nl) {
        snprintf(err, errlen, "ERR Invalid library metadata");
        return -1;
    }
    char *words[16];
    int nw = split_words(code, (size_t)(nl - code), words, 16);
    if (nw <= 0) {
        snprintf(err, errlen, "ERR Invalid library metadata");
        return -1;
    }
    int rc = 0;
    md->engine = strdup(words[0] + 2);
    for (int i = 1; i < nw && rc == 0; i++) {
        if (strncasecmp(words[i], "name=", 5) == 0) {
            if (md->name) {
                snprintf(err, errlen, "ERR Invalid metadata value, name argument was given multiple times");
                rc = -1;
            } else {
                md->name = strdup(words[i] + 5);
            }
        } else {
            snprintf(err, errlen, "ERR Invalid metadata value given: %.200s", words[i]);
            rc = -1;
        }
    }
    if (rc == 0 && !md->name) {
        snprintf(err, errlen, "ERR Library name was not given");
        rc = -1;
    }
    for (int i = 0; i < nw; i++)
        free(words[i]);
    if (rc != 0) {
        fnlua_meta_clear(md);
        return -1;
    }
    md->body = nl;
    md->body_len = len - (size_t)(nl - code);
    return 0;
}

void fnlua_meta_clear(fnlua_meta *md)
{
    free(md->name);
    free(md->engine);
    memset(md, 0, sizeof *md);
}

/* ---- registration ---------------------------------------------------------------------- */

/* The registry key under which a state keeps its registration context (a light
 * userdata of fnlua_reg while a library's code runs, absent otherwise). */
static const char REG_CTX_KEY[] = "kvns_fn_load_ctx";

/* Sets (or with NULL clears) the registration redis.register_function adds to. */
static void set_reg_ctx(lua_State *L, fnlua_reg *reg)
{
    lua_pushstring(L, REG_CTX_KEY);
    if (reg)
        lua_pushlightuserdata(L, reg);
    else
        lua_pushnil(L);
    lua_rawset(L, LUA_REGISTRYINDEX);
}

/* The running registration, or NULL outside a library load. */
static fnlua_reg *reg_ctx(lua_State *L)
{
    lua_pushstring(L, REG_CTX_KEY);
    lua_rawget(L, LUA_REGISTRYINDEX);
    fnlua_reg *reg = lua_touserdata(L, -1);
    lua_pop(L, 1);
    return reg;
}

/* Raises err as Lua error (a table {err=...}, as Redis's luaPushError). */
static int reg_error(lua_State *L, const char *err)
{
    lua_newtable(L);
    lua_pushstring(L, "err");
    lua_pushstring(L, err);
    lua_rawset(L, -3);
    return lua_error(L);
}

/* A malloc'ed copy of the Lua string (or number) at idx, or NULL for another type. */
static char *lua_dup_string(lua_State *L, int idx, size_t *len)
{
    if (!lua_isstring(L, idx))
        return NULL;
    size_t n;
    const char *s = lua_tolstring(L, idx, &n);
    char *d = malloc(n + 1);
    if (!d)
        abort();
    memcpy(d, s, n);
    d[n] = '\0';
    if (len)
        *len = n;
    return d;
}

/* Reads the flags table at the top of the stack; false on an unknown flag. */
static bool read_flags(lua_State *L, uint32_t *flags)
{
    uint32_t f = 0;
    for (int j = 1;; j++) {
        lua_rawgeti(L, -1, j);
        if (lua_isnil(L, -1)) {
            lua_pop(L, 1);
            break;
        }
        bool found = false;
        if (lua_type(L, -1) == LUA_TSTRING) {
            const char *s = lua_tostring(L, -1);
            for (const script_flag_name *fl = script_flag_names; fl->name; fl++) {
                if (strcasecmp(fl->name, s) == 0) {
                    f |= fl->flag;
                    found = true;
                }
            }
        }
        lua_pop(L, 1);
        if (!found)
            return false;
    }
    *flags = f;
    return true;
}

/* Adds the function described (callback at stack index cb) to the registration, or
 * raises Redis's error. Takes ownership of name and desc. */
static int reg_add(lua_State *L, fnlua_reg *reg, char *name, size_t name_len, char *desc, size_t desc_len,
                   uint32_t flags, int cb)
{
    const char *err = NULL;
    if (!fnlua_name_valid(name, name_len))
        err = "Library names can only contain letters, numbers, or underscores(_) and must be at least one character long";
    for (size_t i = 0; !err && i < reg->lib.nfuncs; i++)
        if (strcmp(reg->lib.funcs[i].name, name) == 0)     /* case matters here, as in Redis */
            err = "Function already exists in the library";
    if (err) {
        free(name);
        free(desc);
        return reg_error(L, err);
    }
    fn_func *funcs = realloc(reg->lib.funcs, (reg->lib.nfuncs + 1) * sizeof *funcs);
    if (!funcs)
        abort();
    reg->lib.funcs = funcs;
    funcs[reg->lib.nfuncs++] = (fn_func){ name, desc, desc_len, flags };
    if (reg->on_callback)
        reg->on_callback(L, reg, name, cb);
    return 0;
}

/* redis.register_function{function_name=, callback=, flags=, description=}. */
static int reg_named(lua_State *L, fnlua_reg *reg)
{
    if (!lua_istable(L, 1))
        return reg_error(L, "calling redis.register_function with a single argument is only applicable to "
                            "Lua table (representing named arguments).");
    char *name = NULL, *desc = NULL;
    size_t name_len = 0, desc_len = 0;
    uint32_t flags = 0;
    int cb = 0;
    const char *err = NULL;
    lua_settop(L, 1);
    lua_pushnil(L);                      /* slot 2: the callback */
    lua_pushnil(L);
    while (!err && lua_next(L, 1)) {
        const char *key = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
        if (!key) {
            err = "named argument key given to redis.register_function is not a string";
        } else if (strcasecmp(key, "function_name") == 0) {
            free(name);
            if (!(name = lua_dup_string(L, -1, &name_len)))
                err = "function_name argument given to redis.register_function must be a string";
        } else if (strcasecmp(key, "description") == 0) {
            free(desc);
            if (!(desc = lua_dup_string(L, -1, &desc_len)))
                err = "description argument given to redis.register_function must be a string";
        } else if (strcasecmp(key, "callback") == 0) {
            if (!lua_isfunction(L, -1)) {
                err = "callback argument given to redis.register_function must be a function";
            } else {
                lua_pushvalue(L, -1);
                lua_replace(L, 2);
                cb = 2;
            }
        } else if (strcasecmp(key, "flags") == 0) {
            if (!lua_istable(L, -1))
                err = "flags argument to redis.register_function must be a table representing function flags";
            else if (!read_flags(L, &flags))
                err = "unknown flag given";
        } else {
            err = "unknown argument given to redis.register_function";
        }
        lua_pop(L, 1);
    }
    if (!err && !name)
        err = "redis.register_function must get a function name argument";
    if (!err && !cb)
        err = "redis.register_function must get a callback argument";
    if (err) {
        free(name);
        free(desc);
        return reg_error(L, err);
    }
    return reg_add(L, reg, name, name_len, desc, desc_len, flags, cb);
}

/* redis.register_function: positional (name, callback) or one table of named args. */
static int lua_register_function(lua_State *L)
{
    fnlua_reg *reg = reg_ctx(L);
    if (!reg)
        return reg_error(L, "redis.register_function can only be called on FUNCTION LOAD command");
    int argc = lua_gettop(L);
    if (argc < 1 || argc > 2)
        return reg_error(L, "wrong number of arguments to redis.register_function");
    if (argc == 1)
        return reg_named(L, reg);
    size_t name_len;
    char *name = lua_dup_string(L, 1, &name_len);
    if (!name)
        return reg_error(L, "first argument to redis.register_function must be a string");
    if (!lua_isfunction(L, 2)) {
        free(name);
        return reg_error(L, "second argument to redis.register_function must be a function");
    }
    return reg_add(L, reg, name, name_len, NULL, 0, 0, 2);
}

/* redis.log(level, message...) at load time: to kvns's log. */
static int lua_load_log(lua_State *L)
{
    int argc = lua_gettop(L);
    if (argc < 2)
        return luaL_error(L, "redis.log() requires two arguments or more.");
    if (!lua_isnumber(L, 1))
        return luaL_error(L, "First argument must be a number (log level).");
    int level = (int)lua_tonumber(L, 1);
    if (level < 0 || level > 3)
        return luaL_error(L, "Invalid debug level.");
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (int i = 2; i <= argc; i++) {
        if (i > 2)
            luaL_addchar(&b, ' ');
        size_t n;
        const char *s = lua_tolstring(L, i, &n);
        if (s)
            luaL_addlstring(&b, s, n);
    }
    luaL_pushresult(&b);
    enum log_level lv = level == 0 ? LOG_LVL_DEBUG : level == 3 ? LOG_LVL_WARN : LOG_LVL_INFO;
    log_write(lv, "function log", "text=\"%s\"", lua_tostring(L, -1));
    return 0;
}

/* __index of the sandbox tables: Redis's luaProtectedTableError. */
static int lua_missing_global(lua_State *L)
{
    const char *name = lua_isstring(L, 2) ? lua_tostring(L, 2) : "?";
    return luaL_error(L, "Script attempted to access nonexistent global variable '%s'", name);
}

/* __newindex of the sandbox tables. */
static int lua_readonly(lua_State *L)
{
    return luaL_error(L, "Attempt to modify a readonly table");
}

/* Pushes a read-only view of the table at the top (replacing it): an empty table whose
 * metatable reads through to it (missing names raise) and refuses every write. */
static void push_readonly_view(lua_State *L)
{
    int real = lua_gettop(L);
    lua_newtable(L);                     /* the view */
    lua_newtable(L);                     /* its metatable */
    lua_newtable(L);                     /* real's own metatable: missing names raise */
    lua_pushcfunction(L, lua_missing_global);
    lua_setfield(L, -2, "__index");
    lua_setmetatable(L, real);
    lua_pushvalue(L, real);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, lua_readonly);
    lua_setfield(L, -2, "__newindex");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2);
    lua_replace(L, real);
}

/* REDIS_VERSION_NUM for KVNS_REDIS_VERSION (0x00MMmmpp). */
static long long version_num(void)
{
    int a = 0, b = 0, c = 0;
    sscanf(KVNS_REDIS_VERSION, "%d.%d.%d", &a, &b, &c);
    return (long long)a << 16 | b << 8 | c;
}

void fnlua_push_load_globals(lua_State *L)
{
    lua_newtable(L);                     /* the load globals */
    lua_newtable(L);                     /* its `redis` */
    lua_pushcfunction(L, lua_register_function);
    lua_setfield(L, -2, "register_function");
    lua_pushcfunction(L, lua_load_log);
    lua_setfield(L, -2, "log");
    static const char *const levels[] = { "LOG_DEBUG", "LOG_VERBOSE", "LOG_NOTICE", "LOG_WARNING" };
    for (int i = 0; i < 4; i++) {
        lua_pushinteger(L, i);
        lua_setfield(L, -2, levels[i]);
    }
    lua_pushstring(L, KVNS_REDIS_VERSION);
    lua_setfield(L, -2, "REDIS_VERSION");
    lua_pushinteger(L, (lua_Integer)version_num());
    lua_setfield(L, -2, "REDIS_VERSION_NUM");
    push_readonly_view(L);
    lua_setfield(L, -2, "redis");
    push_readonly_view(L);
}

/* Count hook of a load run: stops it past FN_LOAD_TIMEOUT_NS. */
static void load_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    fnlua_reg *reg = reg_ctx(L);
    if (reg && !reg->no_timeout && clock_mono_ns() - reg->start_ns > FN_LOAD_TIMEOUT_NS) {
        lua_sethook(L, load_hook, LUA_MASKLINE, 0);
        reg_error(L, "FUNCTION LOAD timeout");
    }
}

/* The message of the Lua error at the top of the stack (an error table's err field,
 * or the string). */
static const char *error_text(lua_State *L)
{
    if (lua_istable(L, -1)) {
        lua_getfield(L, -1, "err");
        const char *s = lua_tostring(L, -1);
        lua_pop(L, 1);
        return s ? s : "unknown error";
    }
    const char *s = lua_tostring(L, -1);
    return s ? s : "unknown error";
}

int fnlua_run_library(lua_State *L, const fnlua_meta *md, fnlua_reg *reg, int env_idx, char *err, size_t errlen)
{
    if (luaL_loadbuffer(L, md->body, md->body_len, "@user_function")) {
        snprintf(err, errlen, "ERR Error compiling function: %s", error_text(L));
        lua_pop(L, 1);
        return -1;
    }
    lua_pushvalue(L, env_idx);
    lua_setfenv(L, -2);
    reg->start_ns = clock_mono_ns();
    set_reg_ctx(L, reg);
    lua_sethook(L, load_hook, LUA_MASKCOUNT, 100000);
    int rc = 0;
    if (lua_pcall(L, 0, 0, 0)) {
        snprintf(err, errlen, "ERR Error registering functions: ERR %s", error_text(L));
        lua_pop(L, 1);
        rc = -1;
    }
    lua_sethook(L, NULL, 0, 0);
    set_reg_ctx(L, NULL);
    return rc;
}

int fnlua_parse_library(const char *code, size_t len, fn_lib *out, char *err, size_t errlen)
{
    fnlua_meta md;
    if (fnlua_shebang(code, len, &md, err, errlen) != 0)
        return -1;
    int rc = -1;
    if (!fnlua_name_valid(md.name, strlen(md.name))) {
        snprintf(err, errlen, "ERR Library names can only contain letters, numbers, or underscores(_) and "
                              "must be at least one character long");
    } else if (strcasecmp(md.engine, "lua") != 0) {
        snprintf(err, errlen, "ERR Engine '%.100s' not found", md.engine);
    } else {
        lua_State *L = luaL_newstate();
        if (!L)
            abort();
        fnlua_push_load_globals(L);
        fnlua_reg reg = { 0 };
        if (fnlua_run_library(L, &md, &reg, lua_gettop(L), err, errlen) == 0) {
            if (reg.lib.nfuncs == 0) {
                snprintf(err, errlen, "ERR No functions registered");
            } else {
                rc = 0;
            }
        }
        lua_close(L);
        if (rc == 0) {
            reg.lib.name = md.name;
            reg.lib.engine = strdup("LUA");
            reg.lib.code = malloc(len ? len : 1);
            if (!reg.lib.engine || !reg.lib.code)
                abort();
            memcpy(reg.lib.code, code, len);
            reg.lib.code_len = len;
            md.name = NULL;
            *out = reg.lib;
        } else {
            fnlib_clear(&reg.lib);
        }
    }
    fnlua_meta_clear(&md);
    return rc;
}
