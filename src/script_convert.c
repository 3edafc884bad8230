/* script_convert.c - redis.call and the conversions between RESP replies and Lua
 * values, exactly as Redis 7's script_lua.c makes them (RESP2 and RESP3). */
#include "script_internal.h"

#include "kvns/arena.h"

#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SCRIPT_MAX_DEPTH 1000   /* nesting of a reply or a returned table */

void script_push_error(lua_State *L, const char *s, size_t len)
{
    const char *code = "ERR", *msg = s;
    size_t code_len = 3, msg_len = len;
    if (len > 0 && s[0] == '-') {
        const char *sp = memchr(s, ' ', len);
        if (sp) {
            code = s + 1;
            code_len = (size_t)(sp - s) - 1;
            msg = sp + 1;
            msg_len = len - (size_t)(sp + 1 - s);
        } else {
            msg = s + 1;
            msg_len = len - 1;
        }
    }
    while (msg_len > 0 && (msg[msg_len - 1] == '\r' || msg[msg_len - 1] == '\n'))
        msg_len--;
    while (msg_len > 0 && (msg[0] == '\r' || msg[0] == '\n')) {
        msg++;
        msg_len--;
    }
    lua_newtable(L);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    luaL_addlstring(&b, code, code_len);
    luaL_addchar(&b, ' ');
    luaL_addlstring(&b, msg, msg_len);
    luaL_pushresult(&b);
    lua_setfield(L, -2, "err");
}

int script_raise(lua_State *L, const char *msg)
{
    script_push_error(L, msg, strlen(msg));
    return lua_error(L);
}

/* ---- RESP -> Lua ------------------------------------------------------------- */

/* The line p[0..) up to CRLF: its length (the CRLF excluded). */
static size_t line_len(const char *p, size_t len)
{
    const char *cr = memchr(p, '\r', len);
    return cr ? (size_t)(cr - p) : len;
}

static long long line_ll(const char *p, size_t n)
{
    char buf[32];
    if (n >= sizeof buf)
        n = sizeof buf - 1;
    memcpy(buf, p, n);
    buf[n] = 0;
    return strtoll(buf, NULL, 10);
}

static size_t resp_to_lua_at(lua_State *L, const char *p, size_t len, int depth);

/* Pushes `count` elements of an aggregate as a Lua array (keys 1..n); returns the
 * bytes they used. */
static size_t aggregate_to_lua(lua_State *L, const char *p, size_t len, long long count, int depth)
{
    size_t used = 0;
    lua_createtable(L, count > 0 && count < 1 << 20 ? (int)count : 0, 0);
    for (long long i = 0; i < count; i++) {
        used += resp_to_lua_at(L, p + used, len - used, depth + 1);
        lua_rawseti(L, -2, (int)i + 1);
    }
    return used;
}

/* Pushes the RESP value at p; returns its size in bytes. */
static size_t resp_to_lua_at(lua_State *L, const char *p, size_t len, int depth)
{
    if (!lua_checkstack(L, 5) || depth > SCRIPT_MAX_DEPTH)
        luaL_error(L, "reached lua stack limit");
    size_t n = line_len(p + 1, len - 1);
    const char *body = p + 1;
    size_t head = 1 + n + 2;      /* type byte, line, CRLF */
    switch (p[0]) {
    case ':':
        lua_pushnumber(L, (lua_Number)line_ll(body, n));
        return head;
    case '$': {
        long long blen = line_ll(body, n);
        if (blen < 0) {
            lua_pushboolean(L, 0);
            return head;
        }
        lua_pushlstring(L, p + head, (size_t)blen);
        return head + (size_t)blen + 2;
    }
    case '+':
        lua_newtable(L);
        lua_pushlstring(L, body, n);
        lua_setfield(L, -2, "ok");
        return head;
    case '-':
        script_push_error(L, p, 1 + n);
        lua_pushboolean(L, 1);
        lua_setfield(L, -2, "ignore_error_stats_update");
        return head;
    case '*': {
        long long count = line_ll(body, n);
        if (count < 0) {
            lua_pushboolean(L, 0);
            return head;
        }
        return head + aggregate_to_lua(L, p + head, len - head, count, depth);
    }
    case '>':
        return head + aggregate_to_lua(L, p + head, len - head, line_ll(body, n), depth);
    case '_':
        lua_pushnil(L);
        return head;
    case '#':
        lua_pushboolean(L, n > 0 && body[0] == 't');
        return head;
    case ',': {
        char buf[64];
        size_t m = n < sizeof buf - 1 ? n : sizeof buf - 1;
        memcpy(buf, body, m);
        buf[m] = 0;
        lua_newtable(L);
        lua_pushnumber(L, strtod(buf, NULL));
        lua_setfield(L, -2, "double");
        return head;
    }
    case '(':
        lua_newtable(L);
        lua_pushlstring(L, body, n);
        lua_setfield(L, -2, "big_number");
        return head;
    case '=': {
        long long blen = line_ll(body, n);
        const char *v = p + head;
        lua_newtable(L);
        lua_newtable(L);
        lua_pushlstring(L, blen >= 4 ? v + 4 : v, blen >= 4 ? (size_t)blen - 4 : 0);
        lua_setfield(L, -2, "string");
        lua_pushlstring(L, v, blen >= 3 ? 3 : 0);
        lua_setfield(L, -2, "format");
        lua_setfield(L, -2, "verbatim_string");
        return head + (size_t)(blen > 0 ? blen : 0) + 2;
    }
    case '%': {
        long long pairs = line_ll(body, n);
        size_t used = head;
        lua_newtable(L);
        lua_newtable(L);
        for (long long i = 0; i < pairs; i++) {
            used += resp_to_lua_at(L, p + used, len - used, depth + 1);
            used += resp_to_lua_at(L, p + used, len - used, depth + 1);
            lua_settable(L, -3);
        }
        lua_setfield(L, -2, "map");
        return used;
    }
    case '~': {
        long long count = line_ll(body, n);
        size_t used = head;
        lua_newtable(L);
        lua_newtable(L);
        for (long long i = 0; i < count; i++) {
            used += resp_to_lua_at(L, p + used, len - used, depth + 1);
            lua_pushboolean(L, 1);
            lua_settable(L, -3);
        }
        lua_setfield(L, -2, "set");
        return used;
    }
    case '|': {
        /* attributes are not shown to scripts: skip them, then the value */
        long long pairs = line_ll(body, n);
        size_t used = head;
        for (long long i = 0; i < 2 * pairs; i++) {
            used += resp_to_lua_at(L, p + used, len - used, depth + 1);
            lua_pop(L, 1);
        }
        return used + resp_to_lua_at(L, p + used, len - used, depth);
    }
    default:
        luaL_error(L, "unexpected reply from Redis command");
        return len;
    }
}

size_t script_resp_to_lua(lua_State *L, const char *p, size_t len)
{
    return resp_to_lua_at(L, p, len, 0);
}

/* ---- Lua -> reply ------------------------------------------------------------- */

/* Replies s with CR and LF made spaces (status and error lines, big numbers). */
static void copy_sanitized(char *dst, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = s[i] == '\r' || s[i] == '\n' ? ' ' : s[i];
}

static void reply_line(client *c, char type, const char *s, size_t n)
{
    char stack[256];
    char *buf = n + 3 <= sizeof stack ? stack : malloc(n + 3);
    if (!buf)
        abort();
    buf[0] = type;
    copy_sanitized(buf + 1, s, n);
    buf[n + 1] = '\r';
    buf[n + 2] = '\n';
    reply_raw(&c->out, buf, n + 3);
    if (buf != stack)
        free(buf);
}

static void reply_big_number(client *c, const char *s, size_t n)
{
    if (c->out.proto >= 3) {
        reply_line(c, '(', s, n);
        return;
    }
    char *buf = malloc(n + 1);
    if (!buf)
        abort();
    copy_sanitized(buf, s, n);
    reply_bulk(&c->out, buf, n);
    free(buf);
}

static void reply_verbatim_fmt(client *c, const char *fmt, size_t flen, const char *s, size_t n)
{
    if (c->out.proto < 3 || flen != 3) {
        reply_bulk(&c->out, s, n);
        return;
    }
    char head[48];
    int h = snprintf(head, sizeof head, "=%zu\r\n%.3s:", n + 4, fmt);
    reply_raw(&c->out, head, (size_t)h);
    reply_raw(&c->out, s, n);
    reply_raw(&c->out, "\r\n", 2);
}

/* Pushes t[name] (raw) for the table at idx; returns its type. */
static int raw_field(lua_State *L, int idx, const char *name)
{
    lua_pushstring(L, name);
    lua_rawget(L, idx < 0 ? idx - 1 : idx);
    return lua_type(L, -1);
}

static void lua_to_reply_at(client *c, lua_State *L, int resp, int depth);

/* Replies the table on top (not popped) that is none of Redis's special shapes. */
static void table_to_reply(client *c, lua_State *L, int resp, int depth)
{
    if (raw_field(L, -1, "err") == LUA_TSTRING) {
        size_t n;
        const char *s = lua_tolstring(L, -1, &n);
        reply_line(c, '-', s, n);
        lua_pop(L, 1);
        /* a redis.pcall error returned as the script's reply was counted already */
        if (depth == 0 && raw_field(L, -1, "ignore_error_stats_update") == LUA_TBOOLEAN)
            c->error_counted = lua_toboolean(L, -1);
        if (depth == 0)
            lua_pop(L, 1);
        return;
    }
    lua_pop(L, 1);
    if (raw_field(L, -1, "ok") == LUA_TSTRING) {
        size_t n;
        const char *s = lua_tolstring(L, -1, &n);
        reply_line(c, '+', s, n);
        lua_pop(L, 1);
        return;
    }
    lua_pop(L, 1);
    if (raw_field(L, -1, "double") == LUA_TNUMBER) {
        reply_double(&c->out, lua_tonumber(L, -1));
        lua_pop(L, 1);
        return;
    }
    lua_pop(L, 1);
    if (raw_field(L, -1, "big_number") == LUA_TSTRING) {
        size_t n;
        const char *s = lua_tolstring(L, -1, &n);
        reply_big_number(c, s, n);
        lua_pop(L, 1);
        return;
    }
    lua_pop(L, 1);
    if (raw_field(L, -1, "map") == LUA_TTABLE) {
        long long pairs = 0;
        for (lua_pushnil(L); lua_next(L, -2); lua_pop(L, 1))
            pairs++;
        reply_map(&c->out, pairs);
        for (lua_pushnil(L); lua_next(L, -2);) {
            lua_pushvalue(L, -2);
            lua_to_reply_at(c, L, resp, depth + 1);   /* the key (a copy) */
            lua_to_reply_at(c, L, resp, depth + 1);   /* the value, popped */
        }
        lua_pop(L, 1);
        return;
    }
    lua_pop(L, 1);
    if (raw_field(L, -1, "set") == LUA_TTABLE) {
        long long count = 0;
        for (lua_pushnil(L); lua_next(L, -2); lua_pop(L, 1))
            count++;
        reply_set(&c->out, count);
        for (lua_pushnil(L); lua_next(L, -2); lua_pop(L, 1)) {
            lua_pushvalue(L, -2);
            lua_to_reply_at(c, L, resp, depth + 1);
        }
        lua_pop(L, 1);
        return;
    }
    lua_pop(L, 1);
    if (raw_field(L, -1, "verbatim_string") == LUA_TTABLE) {
        int st = raw_field(L, -1, "string"), ft = raw_field(L, -2, "format");
        if (st == LUA_TSTRING && ft == LUA_TSTRING) {
            size_t n, fl;
            const char *s = lua_tolstring(L, -2, &n), *f = lua_tolstring(L, -1, &fl);
            reply_verbatim_fmt(c, f, fl, s, n);
            lua_pop(L, 3);
            return;
        }
        lua_pop(L, 2);
    }
    lua_pop(L, 1);
    long long n = 0;
    for (;; n++) {
        lua_rawgeti(L, -1, (int)n + 1);
        bool end = lua_isnil(L, -1);
        lua_pop(L, 1);
        if (end)
            break;
    }
    reply_array(&c->out, n);
    for (long long i = 1; i <= n; i++) {
        lua_rawgeti(L, -1, (int)i);
        lua_to_reply_at(c, L, resp, depth + 1);
    }
}

/* Replies the value on top of L and pops it. */
static void lua_to_reply_at(client *c, lua_State *L, int resp, int depth)
{
    if (!lua_checkstack(L, 4) || depth > SCRIPT_MAX_DEPTH) {
        reply_error(&c->out, "ERR reached lua stack limit");
        lua_pop(L, 1);
        return;
    }
    switch (lua_type(L, -1)) {
    case LUA_TSTRING: {
        size_t n;
        const char *s = lua_tolstring(L, -1, &n);
        reply_bulk(&c->out, s, n);
        break;
    }
    case LUA_TBOOLEAN:
        if (resp == 2) {
            if (lua_toboolean(L, -1))
                reply_int(&c->out, 1);
            else
                reply_null(&c->out);
        } else {
            reply_bool(&c->out, lua_toboolean(L, -1));
        }
        break;
    case LUA_TNUMBER: {
        double d = lua_tonumber(L, -1);
        long long v = d >= 9.2233720368547758e18 ? INT64_MAX : d <= -9.2233720368547758e18 ? INT64_MIN
                                                                                              : (long long)d;
        reply_int(&c->out, d != d ? 0 : v);
        break;
    }
    case LUA_TTABLE:
        table_to_reply(c, L, resp, depth);
        break;
    default:
        reply_null(&c->out);
        break;
    }
    lua_pop(L, 1);
}

void script_lua_to_reply(client *c, lua_State *L, int resp)
{
    lua_to_reply_at(c, L, resp, 0);
}

/* ---- redis.call / redis.pcall --------------------------------------------------- */

/* An argument or lookup error of redis.call (raised) or redis.pcall (returned). */
static int call_fail(lua_State *L, bool raise, const char *msg)
{
    script_push_error(L, msg, strlen(msg));
    return raise ? lua_error(L) : 1;
}

/* Copies the Lua arguments 1..argc (strings, or numbers as Redis prints them) into
 * the engine's argv. False when one is of another type. */
static bool build_argv(script_engine *e, lua_State *L, int argc)
{
    size_t total = 0;
    for (int i = 1; i <= argc; i++) {
        int t = lua_type(L, i);
        if (t == LUA_TNUMBER) {
            char num[64];
            int n = snprintf(num, sizeof num, "%.17g", (double)lua_tonumber(L, i));
            lua_pushlstring(L, num, (size_t)n);
            lua_replace(L, i);
        } else if (t != LUA_TSTRING) {
            return false;
        }
        total += lua_objlen(L, i) + 1;
    }
    if ((size_t)argc > e->argv_cap) {
        e->argv_cap = (size_t)argc * 2;
        e->argv = realloc(e->argv, e->argv_cap * sizeof *e->argv);
    }
    if (total > e->argbuf_cap) {
        e->argbuf_cap = total * 2;
        e->argbuf = realloc(e->argbuf, e->argbuf_cap);
    }
    if (!e->argv || !e->argbuf)
        abort();
    char *p = e->argbuf;
    for (int i = 1; i <= argc; i++) {
        size_t n;
        const char *s = lua_tolstring(L, i, &n);
        memcpy(p, s, n);
        p[n] = 0;
        e->argv[i - 1] = (resp_arg){ p, n };
        p += n + 1;
    }
    return true;
}

int script_unwind(lua_State *L)
{
    lua_pushliteral(L, "ERR the script is being stopped");
    return lua_error(L);
}

/* Converts the reply redis.call's command left in the scratch buffer. */
static void push_scratch_reply(script_engine *e, lua_State *L)
{
    reply_buf *r = &e->scratch;
    size_t len = reply_len(r);
    if (r->head == r->tail || len == 0) {
        script_resp_to_lua(L, r->head->data + r->head_sent, len);
        return;
    }
    char *flat = malloc(len);
    if (!flat)
        abort();
    size_t at = 0;
    for (reply_block *b = r->head; b; b = b->next) {
        size_t skip = b == r->head ? r->head_sent : 0;
        memcpy(flat + at, b->data + skip, b->used - skip);
        at += b->used - skip;
    }
    script_resp_to_lua(L, flat, len);
    free(flat);
}

int script_redis_command(lua_State *L, bool raise)
{
    script_engine *e = script_engine_of(L);
    if (e->relock || e->killed)
        return script_unwind(L);
    if (!e->c)
        return call_fail(L, raise, "redis.call can only be called from a script");
    int argc = lua_gettop(L);
    if (argc == 0)
        return call_fail(L, raise, "Please specify at least one argument for this redis lib call");
    if (!build_argv(e, L, argc))
        return call_fail(L, raise, "Lua redis lib command arguments must be strings or integers");
    const command *cmd = command_lookup(e->argv[0].ptr, e->argv[0].len);
    /* a container's checks are its subcommand's; command_call finds that row again */
    const command *row = cmd ? command_find_row(cmd, e->argv, (size_t)argc) : NULL;
    if (!row)
        return call_fail(L, raise, "Unknown Redis command called from script");
    if ((row->arity > 0 && argc != row->arity) || argc < -row->arity)
        return call_fail(L, raise, "Wrong number of args calling Redis command from script");
    if (row->flags & CMD_NOSCRIPT)
        return call_fail(L, raise, "This Redis command is not allowed from script");
    if (row->flags & CMD_WRITE) {
        if (e->sc->ro || (e->sc->flags & SCRIPT_NO_WRITES))
            return call_fail(L, raise, "Write commands are not allowed from read-only scripts.");
        if ((row->flags & CMD_DENYOOM) && e->oom_at_start && !e->wrote && !(e->sc->flags & SCRIPT_ALLOW_OOM))
            return call_fail(L, raise, ERR_OOM);
    }
    client *c = e->c;
    /* the first write is refused like any command when it leaves memory over the
     * limit (nothing of the script was written yet); later ones are not: a script
     * cannot stop half-way, as in Redis */
    c->w->nest_allow_oom = e->wrote || (e->sc->flags & SCRIPT_ALLOW_OOM);
    if ((row->flags & CMD_WRITE) && !e->wrote) {
        e->wrote = true;
        __atomic_store_n(&c->w->txn.ln->script_wrote, 1, __ATOMIC_RELAXED);
    }
    reply_buf saved = c->out;
    int saved_proto = c->proto;
    c->out = e->scratch;
    c->out.proto = e->resp;
    c->proto = e->resp;
    int rc = command_call(c, cmd, e->argv, (size_t)argc);
    e->scratch = c->out;
    c->out = saved;
    c->proto = saved_proto;
    if (rc == CALL_RELOCK) {
        e->relock = true;
        reply_truncate(&e->scratch, 0);
        return script_unwind(L);
    }
    lua_settop(L, 0);
    bool is_error = reply_len(&e->scratch) > 0 && reply_byte_at(&e->scratch, 0) == '-';
    push_scratch_reply(e, L);
    reply_truncate(&e->scratch, 0);
    if (is_error && raise)
        return lua_error(L);
    return 1;
}
