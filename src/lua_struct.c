/* lua_struct.c - the struct library of Redis scripts: packs Lua values into binary
 * strings and back, with the format language and error texts of Roberto
 * Ierusalimschy's struct library as Redis 7 bundles it (with Redis's bounds fixes).
 *
 * Format options (x86-64 sizes; native order is little-endian):
 *   <  >      little / big endian from here on
 *   ![n]      align to n (a power of 2; 8 without n), 1 at the start
 *   x         one padding byte
 *   b B       signed / unsigned char      h H  short (2)     l L  long (8)
 *   T         size_t (8)                  i[n] I[n]  int of n bytes (4 by default,
 *             at most 32; sizes past 8 pad a 64-bit value)
 *   f d       float / double
 *   s         zero-terminated string
 *   c[n]      n bytes (1 by default); c0: pack takes the whole string, unpack the
 *             length read just before
 *   ' '       ignored
 * Numbers outside a field's range wrap the way x86-64's conversions do, as in Redis;
 * '=' (native order) is not an option there, so it is not here either. */
#include "lua_libs.h"

#include <lauxlib.h>
#include <stdint.h>
#include <string.h>

#define STRUCT_MAX_INT_SIZE 32
#define STRUCT_MAX_ALIGN 8

/* Byte order and alignment in force while a format is read. */
typedef struct {
    int big_endian;
    int align;
} struct_header;

/* True for the decimal digits; the format's bytes are never classified by locale. */
static int struct_is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* True for ASCII letters and digits: struct.size skips such options unchecked. */
static int struct_is_alnum(char c)
{
    return struct_is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Reads the decimal number at *fmt (advancing past it), or returns df when there is
 * none. Raises "integral size overflow" past INT_MAX. */
static int struct_getnum(lua_State *L, const char **fmt, int df)
{
    if (!struct_is_digit(**fmt))
        return df;
    int a = 0;
    while (struct_is_digit(**fmt)) {
        int digit = **fmt - '0';
        if (a > INT32_MAX / 10 || a * 10 > INT32_MAX - digit)
            luaL_error(L, "integral size overflow");
        a = a * 10 + digit;
        (*fmt)++;
    }
    return a;
}

/* Returns the size in bytes of option opt (reading its count from *fmt for c, i, I);
 * 0 for options without one (s, control options, unknown letters). */
static size_t struct_option_size(lua_State *L, char opt, const char **fmt)
{
    switch (opt) {
    case 'b': case 'B': case 'x':
        return 1;
    case 'h': case 'H':
        return sizeof(short);
    case 'l': case 'L':
        return sizeof(long);
    case 'T':
        return sizeof(size_t);
    case 'f':
        return sizeof(float);
    case 'd':
        return sizeof(double);
    case 'c':
        return (size_t)struct_getnum(L, fmt, 1);
    case 'i': case 'I': {
        int size = struct_getnum(L, fmt, sizeof(int));
        if (size > STRUCT_MAX_INT_SIZE)
            luaL_error(L, "integral size %d is larger than limit of %d", size,
                       STRUCT_MAX_INT_SIZE);
        return (size_t)size;
    }
    default:
        return 0;
    }
}

/* Returns the padding that puts an item of `size` bytes at offset len on its
 * alignment (capped by the header's). The library's formula, also for sizes that are
 * no power of 2 (i3); c strings are never aligned. */
static size_t struct_padding(size_t len, const struct_header *h, char opt, size_t size)
{
    if (size == 0 || opt == 'c')
        return 0;
    if (size > (size_t)h->align)
        size = (size_t)h->align;
    return (size - (len & (size - 1))) & (size - 1);
}

/* Applies a control option (' ', <, >, !n) to h; raises "invalid format option" for
 * anything else. */
static void struct_control(lua_State *L, char opt, const char **fmt, struct_header *h)
{
    switch (opt) {
    case ' ':
        return;
    case '>':
        h->big_endian = 1;
        return;
    case '<':
        h->big_endian = 0;
        return;
    case '!': {
        int a = struct_getnum(L, fmt, STRUCT_MAX_ALIGN);
        if (a <= 0 || (a & (a - 1)) != 0)
            luaL_error(L, "alignment %d is not a power of 2", a);
        h->align = a;
        return;
    }
    default:
        luaL_argerror(L, 1, lua_pushfstring(L, "invalid format option '%c'", opt));
    }
}

/* Returns the 64 bits that x86-64 gives a double converted to an unsigned long
 * (NaN and values past 2^64 included, where C leaves it undefined): what the
 * library packs for an integer field, and reads as a c0 length. */
static uint64_t struct_number_bits(lua_Number n)
{
    if (n != n)
        return UINT64_C(1) << 63;
    if (n < 0)
        return n >= -9223372036854775808.0 ? (uint64_t)(int64_t)n : UINT64_C(1) << 63;
    return n < 18446744073709551616.0 ? (uint64_t)n : 0;
}

/* Copies the `size` bytes at src to dst in the header's byte order, from native
 * (little-endian) order: for floats and doubles. */
static void struct_copy_ordered(char *dst, const void *src, size_t size, int big_endian)
{
    const char *s = src;
    for (size_t i = 0; i < size; i++)
        dst[i] = big_endian ? s[size - 1 - i] : s[i];
}

/* Adds argument arg as an integer of `size` bytes; past 8 bytes the high ones are 0. */
static void struct_put_integer(lua_State *L, luaL_Buffer *b, int arg, int big_endian,
                               size_t size)
{
    uint64_t value = struct_number_bits(luaL_checknumber(L, arg));
    char bytes[STRUCT_MAX_INT_SIZE];
    for (size_t i = 0; i < size; i++) {
        bytes[big_endian ? size - 1 - i : i] = (char)(value & 0xff);
        value >>= 8;
    }
    luaL_addlstring(b, bytes, size);
}

/* struct.pack(fmt, v1, ...): returns the string of the values laid out by fmt. */
static int struct_pack(lua_State *L)
{
    const char *fmt = luaL_checkstring(L, 1);
    struct_header h = {.big_endian = 0, .align = 1};
    int arg = 2;
    size_t total = 0;
    luaL_Buffer b;
    /* the library's separator below the buffer: a missing argument is "got nil" */
    lua_pushnil(L);
    luaL_buffinit(L, &b);
    while (*fmt) {
        char opt = *fmt++;
        size_t size = struct_option_size(L, opt, &fmt);
        size_t pad = struct_padding(total, &h, opt, size);
        total += pad;
        while (pad-- > 0)
            luaL_addchar(&b, '\0');
        switch (opt) {
        case 'b': case 'B': case 'h': case 'H': case 'l': case 'L':
        case 'T': case 'i': case 'I':
            struct_put_integer(L, &b, arg++, h.big_endian, size);
            break;
        case 'x':
            luaL_addchar(&b, '\0');
            break;
        case 'f': {
            float f = (float)luaL_checknumber(L, arg++);
            char bytes[sizeof f];
            struct_copy_ordered(bytes, &f, sizeof f, h.big_endian);
            luaL_addlstring(&b, bytes, sizeof f);
            break;
        }
        case 'd': {
            double d = luaL_checknumber(L, arg++);
            char bytes[sizeof d];
            struct_copy_ordered(bytes, &d, sizeof d, h.big_endian);
            luaL_addlstring(&b, bytes, sizeof d);
            break;
        }
        case 'c': case 's': {
            size_t len;
            const char *s = luaL_checklstring(L, arg++, &len);
            if (size == 0)
                size = len;
            /* the library names the argument after the string: kept */
            luaL_argcheck(L, len >= size, arg, "string too short");
            luaL_addlstring(&b, s, size);
            if (opt == 's') {
                luaL_addchar(&b, '\0');
                size++;
            }
            break;
        }
        default:
            struct_control(L, opt, &fmt, &h);
        }
        total += size;
    }
    luaL_pushresult(&b);
    return 1;
}

/* Returns the integer of `size` bytes at p; with more than 8 bytes only the 8 read
 * last count, and the sign bit is found as x86-64's 64-bit shift finds it. */
static lua_Number struct_get_integer(const char *p, int big_endian, int is_signed,
                                     size_t size)
{
    uint64_t v = 0;
    for (size_t i = 0; i < size; i++)
        v = (v << 8) | (unsigned char)p[big_endian ? i : size - 1 - i];
    if (!is_signed)
        return (lua_Number)v;
    uint64_t sign = ~UINT64_C(0) << ((size * 8 - 1) & 63);
    if (v & sign)
        v |= sign;
    return (lua_Number)(int64_t)v;
}

/* struct.unpack(fmt, s [, pos]): returns the values fmt reads from s at 1-based
 * byte pos, then the position after them. */
static int struct_unpack(lua_State *L)
{
    const char *fmt = luaL_checkstring(L, 1);
    size_t len;
    const char *data = luaL_checklstring(L, 2, &len);
    size_t pos = (size_t)luaL_optinteger(L, 3, 1);
    luaL_argcheck(L, pos > 0, 3, "offset must be 1 or greater");
    pos--;
    struct_header h = {.big_endian = 0, .align = 1};
    int n = 0;
    while (*fmt) {
        char opt = *fmt++;
        size_t size = struct_option_size(L, opt, &fmt);
        pos += struct_padding(pos, &h, opt, size);
        luaL_argcheck(L, size <= len && pos <= len - size, 2, "data string too short");
        luaL_checkstack(L, 2, "too many results");
        switch (opt) {
        case 'b': case 'B': case 'h': case 'H': case 'l': case 'L':
        case 'T': case 'i': case 'I':
            lua_pushnumber(L, struct_get_integer(data + pos, h.big_endian,
                                                 opt >= 'a' && opt <= 'z', size));
            n++;
            break;
        case 'x':
            break;
        case 'f': {
            float f;
            struct_copy_ordered((char *)&f, data + pos, sizeof f, h.big_endian);
            lua_pushnumber(L, f);
            n++;
            break;
        }
        case 'd': {
            double d;
            struct_copy_ordered((char *)&d, data + pos, sizeof d, h.big_endian);
            lua_pushnumber(L, d);
            n++;
            break;
        }
        case 'c':
            if (size == 0) {
                if (n == 0 || !lua_isnumber(L, -1))
                    luaL_error(L, "format 'c0' needs a previous size");
                size = (size_t)struct_number_bits(lua_tonumber(L, -1));
                lua_pop(L, 1);
                n--;
                luaL_argcheck(L, size <= len && pos <= len - size, 2,
                              "data string too short");
            }
            lua_pushlstring(L, data + pos, size);
            n++;
            break;
        case 's': {
            const char *end = memchr(data + pos, '\0', len - pos);
            if (!end)
                luaL_error(L, "unfinished string in data");
            size = (size_t)(end - (data + pos)) + 1;
            lua_pushlstring(L, data + pos, size - 1);
            n++;
            break;
        }
        default:
            struct_control(L, opt, &fmt, &h);
        }
        pos += size;
    }
    lua_pushinteger(L, (lua_Integer)pos + 1);
    return n + 1;
}

/* struct.size(fmt): returns the bytes fmt lays out; s and c0 have no fixed size.
 * Letters it does not know count 0 (only pack and unpack reject them). */
static int struct_size(lua_State *L)
{
    const char *fmt = luaL_checkstring(L, 1);
    struct_header h = {.big_endian = 0, .align = 1};
    size_t pos = 0;
    while (*fmt) {
        char opt = *fmt++;
        size_t size = struct_option_size(L, opt, &fmt);
        pos += struct_padding(pos, &h, opt, size);
        if (opt == 's')
            luaL_argerror(L, 1, "option 's' has no fixed size");
        else if (opt == 'c' && size == 0)
            luaL_argerror(L, 1, "option 'c0' has no fixed size");
        if (!struct_is_alnum(opt))
            struct_control(L, opt, &fmt, &h);
        pos += size;
    }
    lua_pushinteger(L, (lua_Integer)pos);
    return 1;
}

int luaopen_struct(lua_State *L)
{
    static const luaL_Reg functions[] = {
        {"pack", struct_pack},
        {"unpack", struct_unpack},
        {"size", struct_size},
        {NULL, NULL},
    };
    luaL_register(L, "struct", functions);
    return 1;
}
