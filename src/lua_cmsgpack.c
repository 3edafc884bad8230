/* lua_cmsgpack.c - the cmsgpack library of Redis scripts: MessagePack encoding of
 * Lua values, with the behaviour of the lua-cmsgpack 0.4.0 that Redis 7 embeds.
 *
 * Encoding (pack):
 *   - a number that is an integer in [-2^63, 2^63) takes the smallest int encoding
 *     (positive values always the unsigned forms: fixint, uint8..uint64; negative
 *     ones negative fixint, int8..int64); any other number is float32 when the float
 *     holds it exactly (1.5, inf), else float64 (0.1, NaN);
 *   - a string is fixstr/str8/str16/str32, whatever its bytes;
 *   - a table whose keys are exactly the integers 1..n is an array (an empty table
 *     is an empty array), any other table a map in lua_next order;
 *   - a table nested 16 deep, and nil, functions, userdata, threads, are nil.
 * Decoding (unpack*): bin, ext and 0xc1 are "Bad data format in input."; uint64
 * values above 2^63-1 come back as their two's complement (0xcf ff..ff is -1), as
 * in Redis. */
#include "lua_libs.h"

#include <float.h>
#include <lauxlib.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#define CMSGPACK_MAX_NESTING 16
#define CMSGPACK_OUT_INITIAL 64
#define CMSGPACK_TOO_MANY "too many return values at once; use unpack_one or unpack_limit instead."

/* Output of pack: the bytes live in a userdata at stack slot `slot`, so that a Lua
 * error in the middle of an encoding (a metamethod, memory) leaks nothing. */
typedef struct {
    lua_State *L;
    int slot;
    unsigned char *bytes;
    size_t len, cap;
} cmsgpack_out;

/* Input of unpack: the bytes not decoded yet and the first error met. */
typedef enum { CMSGPACK_OK, CMSGPACK_TRUNCATED, CMSGPACK_BADFORMAT } cmsgpack_status;
typedef struct {
    const unsigned char *p;
    size_t left;
    cmsgpack_status status;
} cmsgpack_in;

/* Appends n bytes to out, doubling its userdata when full. Returns nothing; raises
 * a Lua memory error when the bigger buffer cannot be had. */
static void cmsgpack_out_append(cmsgpack_out *out, const void *data, size_t n)
{
    if (out->cap - out->len < n) {
        size_t cap = out->cap * 2;
        while (cap - out->len < n)
            cap *= 2;
        luaL_checkstack(out->L, 1, "in function cmsgpack.pack");
        unsigned char *bigger = lua_newuserdata(out->L, cap);
        memcpy(bigger, out->bytes, out->len);
        lua_replace(out->L, out->slot);
        out->bytes = bigger;
        out->cap = cap;
    }
    memcpy(out->bytes + out->len, data, n);
    out->len += n;
}

/* Appends the tag byte then the low `width` bytes of v, most significant first
 * (MessagePack is big-endian). Returns nothing: the one writer of every header. */
static void cmsgpack_put(cmsgpack_out *out, unsigned char tag, uint64_t v, int width)
{
    unsigned char b[9];
    b[0] = tag;
    for (int i = 0; i < width; i++)
        b[1 + i] = (unsigned char)(v >> (8 * (width - 1 - i)));
    cmsgpack_out_append(out, b, (size_t)width + 1);
}

/* Appends n in the smallest encoding of its sign (unsigned forms for n >= 0). */
static void cmsgpack_encode_int(cmsgpack_out *out, int64_t n)
{
    uint64_t u = (uint64_t)n;
    if (n >= 0) {
        if (n <= 127)
            cmsgpack_put(out, (unsigned char)n, 0, 0);
        else if (n <= UINT8_MAX)
            cmsgpack_put(out, 0xcc, u, 1);
        else if (n <= UINT16_MAX)
            cmsgpack_put(out, 0xcd, u, 2);
        else if (n <= UINT32_MAX)
            cmsgpack_put(out, 0xce, u, 4);
        else
            cmsgpack_put(out, 0xcf, u, 8);
    } else {
        if (n >= -32)
            cmsgpack_put(out, (unsigned char)u, 0, 0);
        else if (n >= INT8_MIN)
            cmsgpack_put(out, 0xd0, u, 1);
        else if (n >= INT16_MIN)
            cmsgpack_put(out, 0xd1, u, 2);
        else if (n >= INT32_MIN)
            cmsgpack_put(out, 0xd2, u, 4);
        else
            cmsgpack_put(out, 0xd3, u, 8);
    }
}

/* True when the float nearest d is d itself (infinities too, never NaN): then
 * float32 carries d, as Redis's cmsgpack picks it. */
static int cmsgpack_fits_float(double d)
{
    if (isnan(d))
        return 0;
    if (isinf(d))
        return 1;
    return fabs(d) <= FLT_MAX && (double)(float)d == d;
}

/* Appends a Lua number: an int encoding when it is an integer that int64 holds,
 * else float32 or float64. */
static void cmsgpack_encode_number(cmsgpack_out *out, lua_Number d)
{
    if (d >= -9223372036854775808.0 && d < 9223372036854775808.0 && d == floor(d)) {
        cmsgpack_encode_int(out, (int64_t)d);
    } else if (cmsgpack_fits_float(d)) {
        float f = (float)d;
        uint32_t bits;
        memcpy(&bits, &f, sizeof bits);
        cmsgpack_put(out, 0xca, bits, 4);
    } else {
        uint64_t bits;
        memcpy(&bits, &d, sizeof bits);
        cmsgpack_put(out, 0xcb, bits, 8);
    }
}

/* Appends the string header for len bytes, then the bytes. */
static void cmsgpack_encode_string(cmsgpack_out *out, const char *s, size_t len)
{
    if (len < 32)
        cmsgpack_put(out, (unsigned char)(0xa0 | len), 0, 0);
    else if (len <= UINT8_MAX)
        cmsgpack_put(out, 0xd9, len, 1);
    else if (len <= UINT16_MAX)
        cmsgpack_put(out, 0xda, len, 2);
    else
        cmsgpack_put(out, 0xdb, len, 4);
    cmsgpack_out_append(out, s, len);
}

/* Appends an array (fix_tag 0x90) or map (0x80) header for n elements. */
static void cmsgpack_encode_header(cmsgpack_out *out, unsigned char fix_tag, size_t n)
{
    int is_map = fix_tag == 0x80;
    if (n <= 15)
        cmsgpack_put(out, (unsigned char)(fix_tag | n), 0, 0);
    else if (n <= UINT16_MAX)
        cmsgpack_put(out, is_map ? 0xde : 0xdc, n, 2);
    else
        cmsgpack_put(out, is_map ? 0xdf : 0xdd, n, 4);
}

/* Returns 1 when the keys of the table on top are exactly 1..n (numbers, each a
 * positive int), which makes it a MessagePack array; 0 for a map. Stack unchanged. */
static int cmsgpack_table_is_array(lua_State *L)
{
    int count = 0, max = 0;
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        lua_pop(L, 1);
        lua_Number k = lua_type(L, -1) == LUA_TNUMBER ? lua_tonumber(L, -1) : 0;
        if (!(k >= 1 && k <= INT_MAX && k == floor(k))) {
            lua_pop(L, 1);
            return 0;
        }
        if ((int)k > max)
            max = (int)k;
        count++;
    }
    return max == count;
}

static void cmsgpack_encode_value(lua_State *L, cmsgpack_out *out, int level);

/* Appends the table on top (an array or a map, see the file comment); its elements
 * are at nesting level + 1. Leaves the table on the stack. */
static void cmsgpack_encode_table(lua_State *L, cmsgpack_out *out, int level)
{
    luaL_checkstack(L, 4, "in function cmsgpack.pack");
    if (cmsgpack_table_is_array(L)) {
        size_t n = lua_objlen(L, -1);
        cmsgpack_encode_header(out, 0x90, n);
        for (size_t i = 1; i <= n; i++) {
            lua_pushnumber(L, (lua_Number)i);
            lua_gettable(L, -2);
            cmsgpack_encode_value(L, out, level + 1);
        }
        return;
    }
    size_t n = 0;
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        lua_pop(L, 1);
        n++;
    }
    cmsgpack_encode_header(out, 0x80, n);
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        lua_pushvalue(L, -2);
        cmsgpack_encode_value(L, out, level + 1);
        cmsgpack_encode_value(L, out, level + 1);
    }
}

/* Appends the value on top of the stack at nesting `level` and pops it. */
static void cmsgpack_encode_value(lua_State *L, cmsgpack_out *out, int level)
{
    int type = lua_type(L, -1);
    if (type == LUA_TTABLE && level == CMSGPACK_MAX_NESTING)
        type = LUA_TNIL;
    switch (type) {
    case LUA_TSTRING: {
        size_t len;
        const char *s = lua_tolstring(L, -1, &len);
        cmsgpack_encode_string(out, s, len);
        break;
    }
    case LUA_TBOOLEAN:
        cmsgpack_put(out, lua_toboolean(L, -1) ? 0xc3 : 0xc2, 0, 0);
        break;
    case LUA_TNUMBER:
        cmsgpack_encode_number(out, lua_tonumber(L, -1));
        break;
    case LUA_TTABLE:
        cmsgpack_encode_table(L, out, level);
        break;
    default:
        cmsgpack_put(out, 0xc0, 0, 0);
        break;
    }
    lua_pop(L, 1);
}

/* cmsgpack.pack(v1, ...): returns one string, the encodings of the arguments one
 * after the other. At least one argument, and (like Redis) no more than the stack
 * could hold twice. */
static int cmsgpack_pack(lua_State *L)
{
    int nargs = lua_gettop(L);
    if (nargs == 0)
        return luaL_argerror(L, 0, "MessagePack pack needs input.");
    if (!lua_checkstack(L, nargs))
        return luaL_argerror(L, 0, "Too many arguments for MessagePack pack.");
    cmsgpack_out out = {.L = L, .slot = nargs + 1, .cap = CMSGPACK_OUT_INITIAL};
    out.bytes = lua_newuserdata(L, out.cap);
    for (int i = 1; i <= nargs; i++) {
        lua_pushvalue(L, i);
        cmsgpack_encode_value(L, &out, 0);
    }
    lua_pushlstring(L, (const char *)out.bytes, out.len);
    return 1;
}

/* Returns the next n input bytes and consumes them, or NULL (status TRUNCATED) when
 * fewer are left. */
static const unsigned char *cmsgpack_take(cmsgpack_in *in, size_t n)
{
    if (in->left < n) {
        in->status = CMSGPACK_TRUNCATED;
        return NULL;
    }
    const unsigned char *p = in->p;
    in->p += n;
    in->left -= n;
    return p;
}

/* Reads a big-endian unsigned of `width` bytes into *v. Returns 0 when truncated. */
static int cmsgpack_take_uint(cmsgpack_in *in, int width, uint64_t *v)
{
    const unsigned char *p = cmsgpack_take(in, (size_t)width);
    if (!p)
        return 0;
    *v = 0;
    for (int i = 0; i < width; i++)
        *v = (*v << 8) | p[i];
    return 1;
}

static void cmsgpack_decode_value(lua_State *L, cmsgpack_in *in);

/* Returns how many slots to preallocate for n elements of at least `each` input
 * bytes apiece: never more than the input left could hold, so that a forged count
 * costs no memory. */
static int cmsgpack_presize(const cmsgpack_in *in, uint64_t n, size_t each)
{
    uint64_t most = in->left / each;
    if (most > INT_MAX)
        most = INT_MAX;
    return (int)(n < most ? n : most);
}

/* Pushes a table of the n values that follow (keys 1..n). Stops at the first error,
 * leaving the partial table: the caller raises the error. */
static void cmsgpack_decode_array(lua_State *L, cmsgpack_in *in, uint64_t n)
{
    lua_createtable(L, cmsgpack_presize(in, n, 1), 0);
    luaL_checkstack(L, 1, "in function mp_decode_to_lua_array");
    for (uint64_t i = 1; i <= n; i++) {
        lua_pushnumber(L, (lua_Number)i);
        cmsgpack_decode_value(L, in);
        if (in->status != CMSGPACK_OK)
            return;
        lua_settable(L, -3);
    }
}

/* Pushes a table of the n key/value pairs that follow. A nil or NaN key raises
 * Lua's "table index is ..." error, as in Redis. */
static void cmsgpack_decode_map(lua_State *L, cmsgpack_in *in, uint64_t n)
{
    lua_createtable(L, 0, cmsgpack_presize(in, n, 2));
    for (uint64_t i = 0; i < n; i++) {
        cmsgpack_decode_value(L, in);
        if (in->status != CMSGPACK_OK)
            return;
        cmsgpack_decode_value(L, in);
        if (in->status != CMSGPACK_OK)
            return;
        lua_settable(L, -3);
    }
}

/* Pushes the string of the len bytes that follow. */
static void cmsgpack_decode_string(lua_State *L, cmsgpack_in *in, uint64_t len)
{
    const unsigned char *p = cmsgpack_take(in, len);
    if (p)
        lua_pushlstring(L, (const char *)p, len);
}

/* Width in bytes of the length field after tag (str, array, map), 0 for others. */
static int cmsgpack_length_width(unsigned char tag)
{
    switch (tag) {
    case 0xd9:
        return 1;
    case 0xda: case 0xdc: case 0xde:
        return 2;
    case 0xdb: case 0xdd: case 0xdf:
        return 4;
    default:
        return 0;
    }
}

/* Pushes a value whose tag has a length field: str8..32, array16/32, map16/32. */
static void cmsgpack_decode_sized(lua_State *L, cmsgpack_in *in, unsigned char tag)
{
    uint64_t n;
    if (!cmsgpack_take_uint(in, cmsgpack_length_width(tag), &n))
        return;
    if (tag <= 0xdb)
        cmsgpack_decode_string(L, in, n);
    else if (tag <= 0xdd)
        cmsgpack_decode_array(L, in, n);
    else
        cmsgpack_decode_map(L, in, n);
}

/* Pushes a number tag (0xca..0xd3): floats, unsigned and signed ints. */
static void cmsgpack_decode_number(lua_State *L, cmsgpack_in *in, unsigned char tag)
{
    static const int widths[] = {4, 8, 1, 2, 4, 8, 1, 2, 4, 8};
    int width = widths[tag - 0xca];
    uint64_t v;
    if (!cmsgpack_take_uint(in, width, &v))
        return;
    if (tag == 0xca) {
        uint32_t bits = (uint32_t)v;
        float f;
        memcpy(&f, &bits, sizeof f);
        lua_pushnumber(L, f);
    } else if (tag == 0xcb) {
        double d;
        memcpy(&d, &v, sizeof d);
        lua_pushnumber(L, d);
    } else if (tag <= 0xcf) {
        lua_pushnumber(L, (lua_Number)(int64_t)v);
    } else {
        int shift = 64 - 8 * width;
        lua_pushnumber(L, (lua_Number)((int64_t)(v << shift) >> shift));
    }
}

/* Decodes one value from in and pushes it. On an error it sets in->status (and may
 * leave a partial value pushed): the caller raises the error. */
static void cmsgpack_decode_value(lua_State *L, cmsgpack_in *in)
{
    const unsigned char *p = cmsgpack_take(in, 1);
    if (!p)
        return;
    luaL_checkstack(L, 1, CMSGPACK_TOO_MANY);
    unsigned char tag = *p;
    if (tag <= 0x7f)
        lua_pushnumber(L, tag);
    else if (tag >= 0xe0)
        lua_pushnumber(L, (signed char)tag);
    else if (tag <= 0x8f)
        cmsgpack_decode_map(L, in, tag & 0x0f);
    else if (tag <= 0x9f)
        cmsgpack_decode_array(L, in, tag & 0x0f);
    else if (tag <= 0xbf)
        cmsgpack_decode_string(L, in, tag & 0x1f);
    else if (tag == 0xc0)
        lua_pushnil(L);
    else if (tag == 0xc2 || tag == 0xc3)
        lua_pushboolean(L, tag == 0xc3);
    else if (tag >= 0xca && tag <= 0xd3)
        cmsgpack_decode_number(L, in, tag);
    else if (cmsgpack_length_width(tag))
        cmsgpack_decode_sized(L, in, tag);
    else
        in->status = CMSGPACK_BADFORMAT;
}

/* The three unpack functions: decodes up to `limit` values of argument 1 from byte
 * `offset` (0-based). With limit and offset both 0 it decodes everything and returns
 * the values; otherwise it returns the offset of the next value (-1 at the end) and
 * then the values. The error texts are Redis's, the length in the first one too. */
static int cmsgpack_unpack_from(lua_State *L, lua_Integer limit, lua_Integer offset)
{
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    int all = limit == 0 && offset == 0;
    if (offset < 0 || limit < 0)
        return luaL_error(L, "Invalid request to unpack with offset of %d and limit of %d.",
                          (int)offset, (int)len);
    if ((size_t)offset > len)
        return luaL_error(L, "Start offset %d greater than input length %d.", (int)offset,
                          (int)len);
    if (all)
        limit = INT_MAX;
    cmsgpack_in in = {.p = (const unsigned char *)s + offset, .left = len - (size_t)offset};
    int count = 0;
    while (in.left > 0 && count < limit) {
        cmsgpack_decode_value(L, &in);
        if (in.status == CMSGPACK_TRUNCATED)
            return luaL_error(L, "Missing bytes in input.");
        if (in.status == CMSGPACK_BADFORMAT)
            return luaL_error(L, "Bad data format in input.");
        count++;
    }
    if (all)
        return count;
    luaL_checkstack(L, 1, "in function mp_unpack_full");
    lua_pushinteger(L, in.left == 0 ? -1 : (lua_Integer)(len - in.left));
    lua_insert(L, 2);
    return count + 1;
}

/* cmsgpack.unpack(s): returns every value encoded in s. */
static int cmsgpack_unpack(lua_State *L)
{
    return cmsgpack_unpack_from(L, 0, 0);
}

/* cmsgpack.unpack_one(s [, offset]): returns the next offset and one value. */
static int cmsgpack_unpack_one(lua_State *L)
{
    lua_Integer offset = luaL_optinteger(L, 2, 0);
    lua_settop(L, 1);
    return cmsgpack_unpack_from(L, 1, offset);
}

/* cmsgpack.unpack_limit(s, limit [, offset]): returns the next offset and up to
 * limit values. */
static int cmsgpack_unpack_limit(lua_State *L)
{
    lua_Integer limit = luaL_checkinteger(L, 2);
    lua_Integer offset = luaL_optinteger(L, 3, 0);
    lua_settop(L, 1);
    return cmsgpack_unpack_from(L, limit, offset);
}

int luaopen_cmsgpack(lua_State *L)
{
    static const luaL_Reg functions[] = {
        {"pack", cmsgpack_pack},
        {"unpack", cmsgpack_unpack},
        {"unpack_one", cmsgpack_unpack_one},
        {"unpack_limit", cmsgpack_unpack_limit},
        {NULL, NULL},
    };
    lua_newtable(L);
    for (const luaL_Reg *f = functions; f->name; f++) {
        lua_pushcfunction(L, f->func);
        lua_setfield(L, -2, f->name);
    }
    lua_pushliteral(L, "cmsgpack");
    lua_setfield(L, -2, "_NAME");
    lua_pushliteral(L, "lua-cmsgpack 0.4.0");
    lua_setfield(L, -2, "_VERSION");
    lua_pushliteral(L, "Copyright (C) 2012, Salvatore Sanfilippo");
    lua_setfield(L, -2, "_COPYRIGHT");
    lua_pushliteral(L, "MessagePack C implementation for Lua");
    lua_setfield(L, -2, "_DESCRIPTION");
    lua_pushvalue(L, -1);
    lua_setglobal(L, "cmsgpack");
    return 1;
}
