/* lua_cjson_guard.c - bounds around Debian's lua-cjson 2.1.0 (liblua5.1-cjson),
 * whose string buffers count bytes in int and do not have Redis's fixes for
 * CVE-2022-24834:
 *   - encode reserves 6 bytes per byte of each string before writing it; when the
 *     buffer would pass 2^31 bytes the int wraps: a heap overrun (a string of 341 MB)
 *     or an endless doubling loop (several big strings);
 *   - decode sizes its scratch buffer from the text's length as an int: a text of
 *     2 GB or more overruns it.
 * kvns wraps cjson.encode and cjson.decode. encode first walks the value in
 * cjson's own order with cjson's own rules (depth limit, sparse arrays, read from
 * the live configuration) adding up what cjson will reserve, and raises an error
 * instead when that passes the buffer's limit; decode refuses texts that long.
 * Otherwise both call Debian's function and raise its errors with the position of
 * the script line, as Redis's cjson does. */
#include "lua_libs.h"

#include <lauxlib.h>
#include <limits.h>
#include <math.h>

/* The largest size cjson's buffer reaches by doubling its 1023 initial bytes
 * without overflowing an int, less its terminating NUL. */
#define CJSON_GUARD_LIMIT ((size_t)1023 * (1u << 21) - 1)
/* What cjson reserves for one number (FPCONV_G_FMT_BUFSIZE). */
#define CJSON_GUARD_NUMBER 32

/* Upvalues of the encode wrapper. */
enum { CJSON_UP_ENCODE = 1, CJSON_UP_MAX_DEPTH, CJSON_UP_SPARSE };

/* The walk of one value: what cjson will have written so far and its settings. */
typedef struct {
    lua_State *L;
    size_t out;
    int max_depth;
    int sparse_convert, sparse_ratio, sparse_safe;
} cjson_walk;

/* Raises "Cannot serialise TYPE: JSON text too long" (TYPE of the value at idx)
 * when cjson, having written w->out bytes, cannot reserve `request` more. Returns
 * nothing otherwise. */
static void cjson_walk_reserve(cjson_walk *w, int idx, size_t request)
{
    if (request > CJSON_GUARD_LIMIT || w->out > CJSON_GUARD_LIMIT - request)
        luaL_error(w->L, "Cannot serialise %s: JSON text too long", luaL_typename(w->L, idx));
}

/* Accounts for a token of n bytes that cjson reserves and writes. */
static void cjson_walk_token(cjson_walk *w, int idx, size_t n)
{
    cjson_walk_reserve(w, idx, n);
    w->out += n;
}

/* Accounts for the string at idx: cjson reserves 6 bytes a byte plus the quotes,
 * then writes each byte as 1, 2 (\" \\ \/) or 6 (\u00XX) bytes. */
static void cjson_walk_string(cjson_walk *w, int idx)
{
    size_t len;
    const unsigned char *s = (const unsigned char *)lua_tolstring(w->L, idx, &len);
    cjson_walk_reserve(w, idx, len > CJSON_GUARD_LIMIT ? len : len * 6 + 2);
    size_t written = len + 2;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < 32 || s[i] == 127)
            written += 5;
        else if (s[i] == '"' || s[i] == '\\' || s[i] == '/')
            written += 1;
    }
    w->out += written;
}

/* Returns what cjson's lua_array_length returns for the table on top: the largest
 * key when all keys are integers >= 1 (kept in an int as cjson keeps it, which an
 * x86-64 conversion makes INT_MIN past INT_MAX), -1 for an object, -2 where cjson
 * raises "excessively sparse array". Stack unchanged. */
static int cjson_walk_array_length(cjson_walk *w)
{
    lua_State *L = w->L;
    int max = 0, items = 0;
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        lua_Number k = lua_type(L, -2) == LUA_TNUMBER ? lua_tonumber(L, -2) : 0;
        lua_pop(L, 1);
        if (!(k >= 1 && floor(k) == k)) {
            lua_pop(L, 1);
            return -1;
        }
        if (k > max)
            max = k < 2147483648.0 ? (int)k : INT_MIN;
        items++;
    }
    int limit = (int)((unsigned)items * (unsigned)w->sparse_ratio);
    if (w->sparse_ratio > 0 && max > limit && max > w->sparse_safe)
        return w->sparse_convert ? -1 : -2;
    return max;
}

static int cjson_walk_value(cjson_walk *w, int idx, int depth);

/* Walks the elements 1..length of the array on top, as cjson writes them. Returns 0
 * where cjson raises an error of its own, which ends the walk. */
static int cjson_walk_array(cjson_walk *w, int depth, int length)
{
    cjson_walk_token(w, -1, 1);
    for (int i = 1; i <= length; i++) {
        if (i > 1)
            cjson_walk_token(w, -1, 1);
        lua_rawgeti(w->L, -1, i);
        int go_on = cjson_walk_value(w, -1, depth);
        lua_pop(w->L, 1);
        if (!go_on)
            return 0;
    }
    cjson_walk_token(w, -1, 1);
    return 1;
}

/* Walks the pairs of the object on top in lua_next order, as cjson writes them.
 * Returns 0 where cjson raises an error of its own (a key neither number nor
 * string, or one from the values), which ends the walk. */
static int cjson_walk_object(cjson_walk *w, int depth)
{
    lua_State *L = w->L;
    cjson_walk_token(w, -1, 1);
    int first = 1;
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        if (!first)
            cjson_walk_token(w, -1, 1);
        first = 0;
        int go_on = 1;
        if (lua_type(L, -2) == LUA_TNUMBER) {
            cjson_walk_token(w, -2, 1 + CJSON_GUARD_NUMBER + 2);
        } else if (lua_type(L, -2) == LUA_TSTRING) {
            cjson_walk_string(w, -2);
            cjson_walk_token(w, -2, 1);
        } else {
            go_on = 0;
        }
        go_on = go_on && cjson_walk_value(w, -1, depth);
        lua_pop(L, 1);
        if (!go_on) {
            lua_pop(L, 1);
            return 0;
        }
    }
    cjson_walk_token(w, -1, 1);
    return 1;
}

/* Walks the table on top, at nesting `depth`. Returns 0 where cjson raises an
 * error of its own (too deep, too sparse, ...), which ends the walk. */
static int cjson_walk_table(cjson_walk *w, int depth)
{
    if (depth > w->max_depth || !lua_checkstack(w->L, 3))
        return 0;
    int length = cjson_walk_array_length(w);
    if (length == -2)
        return 0;
    return length > 0 ? cjson_walk_array(w, depth, length) : cjson_walk_object(w, depth);
}

/* Walks the value at idx, the top of the stack (a table one level deeper: no copy,
 * so that the walk needs the stack cjson needs and runs out of it where cjson
 * does). Returns 0 where cjson raises an error of its own, which ends the walk. */
static int cjson_walk_value(cjson_walk *w, int idx, int depth)
{
    switch (lua_type(w->L, idx)) {
    case LUA_TSTRING:
        cjson_walk_string(w, idx);
        return 1;
    case LUA_TNUMBER:
        cjson_walk_reserve(w, idx, CJSON_GUARD_NUMBER);
        w->out += CJSON_GUARD_NUMBER;
        return 1;
    case LUA_TBOOLEAN: case LUA_TNIL: case LUA_TLIGHTUSERDATA:
        cjson_walk_token(w, idx, 5);
        return 1;
    case LUA_TTABLE:
        return cjson_walk_table(w, depth + 1);
    default:
        return 0;
    }
}

/* Calls the function below the n arguments on top, protected; on a run-time error
 * raises it again from here, prefixed with the position of the script line that
 * called the wrapper (cjson's own prefix names the wrapper, a C function: none).
 * Returns the number of results. */
static int cjson_guard_call(lua_State *L, int nargs)
{
    int base = lua_gettop(L) - nargs - 1;
    int rc = lua_pcall(L, nargs, LUA_MULTRET, 0);
    if (rc == LUA_ERRRUN && lua_type(L, -1) == LUA_TSTRING) {
        luaL_where(L, 1);
        lua_insert(L, -2);
        lua_concat(L, 2);
    }
    if (rc != 0)
        return lua_error(L);
    return lua_gettop(L) - base;
}

/* Reads the live settings the walk follows: cjson's setting functions (upvalues of
 * the wrapper) report them when called without arguments. */
static void cjson_guard_settings(lua_State *L, cjson_walk *w)
{
    lua_pushvalue(L, lua_upvalueindex(CJSON_UP_MAX_DEPTH));
    lua_call(L, 0, 1);
    w->max_depth = (int)lua_tointeger(L, -1);
    lua_pushvalue(L, lua_upvalueindex(CJSON_UP_SPARSE));
    lua_call(L, 0, 3);
    w->sparse_convert = lua_toboolean(L, -3);
    w->sparse_ratio = (int)lua_tointeger(L, -2);
    w->sparse_safe = (int)lua_tointeger(L, -1);
    lua_pop(L, 4);
}

/* cjson.encode(v): Debian's encode after the walk has found the text fits. */
static int cjson_guard_encode(lua_State *L)
{
    luaL_argcheck(L, lua_gettop(L) == 1, 1, "expected 1 argument");
    cjson_walk w = {.L = L};
    cjson_guard_settings(L, &w);
    cjson_walk_value(&w, 1, 0);
    lua_pushvalue(L, lua_upvalueindex(CJSON_UP_ENCODE));
    lua_insert(L, 1);
    return cjson_guard_call(L, 1);
}

/* cjson.decode(s): Debian's decode for texts under 2^31 - 2 bytes. */
static int cjson_guard_decode(lua_State *L)
{
    luaL_argcheck(L, lua_gettop(L) == 1, 1, "expected 1 argument");
    if (lua_type(L, 1) == LUA_TSTRING && lua_objlen(L, 1) >= INT_MAX - 1)
        return luaL_error(L, "JSON text too long to decode (%d bytes at most)", INT_MAX - 2);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    return cjson_guard_call(L, 1);
}

void lua_cjson_guard_install(lua_State *L)
{
    int cjson = lua_gettop(L);
    lua_getfield(L, cjson, "encode");
    lua_getfield(L, cjson, "encode_max_depth");
    lua_getfield(L, cjson, "encode_sparse_array");
    lua_pushcclosure(L, cjson_guard_encode, 3);
    lua_setfield(L, cjson, "encode");
    lua_getfield(L, cjson, "decode");
    lua_pushcclosure(L, cjson_guard_decode, 1);
    lua_setfield(L, cjson, "decode");
}
