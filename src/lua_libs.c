/* lua_libs.c - opens the libraries of a script's Lua state in Redis's order
 * (luaLoadLibraries, script_lua.c): base, table, string, math, debug, then the
 * globals cjson, struct, cmsgpack and bit. */
#include "lua_libs.h"

#include <lualib.h>

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

void lua_libs_open(lua_State *L)
{
    lua_libs_open_standard(L, luaopen_base, "");
    lua_libs_open_standard(L, luaopen_table, LUA_TABLIBNAME);
    lua_libs_open_standard(L, luaopen_string, LUA_STRLIBNAME);
    lua_libs_open_standard(L, luaopen_math, LUA_MATHLIBNAME);
    lua_libs_open_standard(L, luaopen_debug, LUA_DBLIBNAME);
    lua_libs_open_global(L, luaopen_cjson, "cjson");
    lua_libs_open_global(L, luaopen_struct, "struct");
    lua_libs_open_global(L, luaopen_cmsgpack, "cmsgpack");
    lua_libs_open_global(L, luaopen_bit, "bit");
}
