/* lua_libs.h - the Lua 5.1 libraries a script sees, as Redis 7 loads them
 * (luaLoadLibraries in Redis's script_lua.c). Private to src/.
 *
 * cjson and bit come from Debian's lua-cjson and lua-bitop; cmsgpack and struct,
 * which no package ships, are lua_cmsgpack.c and lua_struct.c. */
#ifndef KVNS_LUA_LIBS_H
#define KVNS_LUA_LIBS_H

#include <lua.h>

/* Pushes the cmsgpack table (pack, unpack, unpack_one, unpack_limit) and sets the
 * global cmsgpack; returns 1 (a lua_CFunction: call it through lua_call). */
int luaopen_cmsgpack(lua_State *L);
/* Pushes the struct table (pack, unpack, size) and sets the global struct;
 * returns 1 (a lua_CFunction: call it through lua_call). */
int luaopen_struct(lua_State *L);

/* Replaces encode and decode of the cjson table on top of the stack (Debian's
 * lua-cjson) by wrappers that refuse what would overrun its int-sized buffers
 * (lua_cjson_guard.c). Stack unchanged. */
void lua_cjson_guard_install(lua_State *L);

/* Opens base (with coroutine), table, string, math and debug into their globals,
 * then cjson, struct, cmsgpack and bit as globals, as Redis does. Two fixes over
 * the Debian packages: bit.tohex is kvns's own (CVE-2024-31449), cjson.encode and
 * decode are guarded (CVE-2022-24834). Not os, io, package: the sandbox has none.
 * Leaves the stack as it found it; raises a Lua error (LUA_ERRMEM) only when memory
 * runs out, so call it from lua_cpcall or right after lua_newstate where a panic is
 * acceptable. */
void lua_libs_open(lua_State *L);

#endif
