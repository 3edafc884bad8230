/* lua_libs.c - opens the libraries of a script's Lua state in Redis's order
 * (luaLoadLibraries, script_lua.c): base, table, string, math, debug, then the
 * globals cjson (guarded, lua_cjson_guard.c), struct, cmsgpack and bit (with
 * bit.tohex replaced by a fixed one). */
#include "lua_libs.h"

#include <lauxlib.h>
#include <lualib.h>
#include <stdint.h>
#include <string.h>

/* Debian's lua-cjson and lua-bitop export these openers without a header. */
int luaopen_cjson(lua_State *L);
int luaopen_bit(lua_State *L);

/* Runs a standard opener through Lua (as the Lua manual requires) with the library
 * name as its argument; 5.1's openers set their globals themselves. Returns nothing:
 * exists so that each library is one line of lua_libs_open. */
static void lua_libs_open_standard(lua_State *L, lua_CFunction opener, const char *name)
{
    lua_pushcfunction(L, opener);
    lua_pushstring(L, name);
    lua_call(L, 1, 0);
}

/* Runs an extension opener through Lua and stores the table it returns in the global
 * `name`: Debian's lua-cjson, unlike Redis's copy, sets no global of its own. */
static void lua_libs_open_global(lua_State *L, lua_CFunction opener, const char *name)
{
    lua_pushcfunction(L, opener);
    lua_pushstring(L, name);
    lua_call(L, 1, 1);
    lua_setglobal(L, name);
}

/* Returns argument idx as LuaBitOp reads it: the double rounded to an integer
 * modulo 2^32 (through the 2^52+2^51 trick), "number expected" when it is none. */
static uint32_t lua_libs_bit_arg(lua_State *L, int idx)
{
    double d = (double)lua_tonumber(L, idx) + 6755399441055744.0;
    uint64_t bits;
    memcpy(&bits, &d, sizeof bits);
    uint32_t b = (uint32_t)bits;
    if (b == 0 && !lua_isnumber(L, idx))
        luaL_typerror(L, idx, "number");
    return b;
}

/* bit.tohex(x [, n]): returns the low n hex digits of x (8 by default, at most 8;
 * upper case for negative n). Replaces Debian's lua-bitop 1.0.2 tohex, which
 * overruns its buffer for n = -2^31 (CVE-2024-31449); that n counts as -(2^31-1)
 * here, as in Redis's fixed copy. */
static int lua_libs_bit_tohex(lua_State *L)
{
    uint32_t b = lua_libs_bit_arg(L, 1);
    int32_t n = lua_isnone(L, 2) ? 8 : (int32_t)lua_libs_bit_arg(L, 2);
    const char *digits = "0123456789abcdef";
    char buf[8];
    if (n == INT32_MIN)
        n = INT32_MIN + 1;
    if (n < 0) {
        n = -n;
        digits = "0123456789ABCDEF";
    }
    if (n > 8)
        n = 8;
    for (int i = n - 1; i >= 0; i--) {
        buf[i] = digits[b & 15];
        b >>= 4;
    }
    lua_pushlstring(L, buf, (size_t)n);
    return 1;
}

void lua_libs_open(lua_State *L)
{
    lua_libs_open_standard(L, luaopen_base, "");
    lua_libs_open_standard(L, luaopen_table, LUA_TABLIBNAME);
    lua_libs_open_standard(L, luaopen_string, LUA_STRLIBNAME);
    lua_libs_open_standard(L, luaopen_math, LUA_MATHLIBNAME);
    lua_libs_open_standard(L, luaopen_debug, LUA_DBLIBNAME);
    lua_libs_open_global(L, luaopen_cjson, "cjson");
    lua_getglobal(L, "cjson");
    lua_cjson_guard_install(L);
    lua_pop(L, 1);
    lua_libs_open_global(L, luaopen_struct, "struct");
    lua_libs_open_global(L, luaopen_cmsgpack, "cmsgpack");
    lua_libs_open_global(L, luaopen_bit, "bit");
    lua_getglobal(L, "bit");
    lua_pushcfunction(L, lua_libs_bit_tohex);
    lua_setfield(L, -2, "tohex");
    lua_pop(L, 1);
}
