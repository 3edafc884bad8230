/* function_lua.h - the Lua engine of FUNCTION libraries (private to src/).
 *
 * function_load.c: the shebang, the load sandbox and redis.register_function, used both
 * by FUNCTION LOAD / RESTORE (to validate a library and learn its functions) and by
 * each serving thread when it builds the library callbacks in its own Lua state.
 * function_lua.c: that per-thread state, kept in step with the shared registry by its
 * generation number, and FCALL's run of one callback. */
#ifndef KVNS_FUNCTION_LUA_H
#define KVNS_FUNCTION_LUA_H

#include "kvns/command.h"
#include "kvns/function_store.h"
#include "script_lua.h"

#include <lua.h>

/* True when name is a valid library or function name: [A-Za-z0-9_]+. */
bool fnlua_name_valid(const char *name, size_t len);

/* What the first line of a library says. */
typedef struct fnlua_meta {
    char       *engine;        /* after "#!", as given */
    char       *name;          /* name=..., unquoted */
    const char *body;          /* the code after the shebang, from its '\n' (line numbers kept) */
    size_t      body_len;
} fnlua_meta;

/* Parses the `#!<engine> name=<lib>` line of code (Redis's functionExtractLibMetaData).
 * Returns 0, or -1 with Redis's reply text ("ERR Missing library metadata", ...). */
int fnlua_shebang(const char *code, size_t len, fnlua_meta *md, char *err, size_t errlen);
void fnlua_meta_clear(fnlua_meta *md);

/* A registration in progress: the library's functions so far. on_callback (may be
 * NULL) sees each callback (at stack index cb) as it is registered. */
typedef struct fnlua_reg fnlua_reg;
struct fnlua_reg {
    fn_lib   lib;
    uint64_t start_ns;
    bool     no_timeout;       /* a thread rebuilding a library loaded before: no limit */
    void   (*on_callback)(lua_State *L, fnlua_reg *reg, const char *name, int cb);
};

/* Pushes a fresh load-time globals table (read-only; its only name is a read-only
 * `redis` with register_function, log, LOG_*, REDIS_VERSION(_NUM)). */
void fnlua_push_load_globals(lua_State *L);
/* Compiles md's code as "@user_function" with the table at env_idx as its globals and
 * runs it with reg as the registration (500 ms limit). Returns 0, or -1 with Redis's
 * "ERR Error compiling function: ..." / "ERR Error registering functions: ..." text. */
int fnlua_run_library(lua_State *L, const fnlua_meta *md, fnlua_reg *reg, int env_idx, char *err, size_t errlen);

/* FUNCTION LOAD's validation: shebang, name, engine, then one run in a throwaway load
 * sandbox. Fills out (name, engine "LUA", the whole code, its functions) and returns 0,
 * or -1 with Redis's reply text in err. */
int fnlua_parse_library(const char *code, size_t len, fn_lib *out, char *err, size_t errlen);

/* function_lua.c: FCALL / FCALL_RO of the function named argv[1] with numkeys keys
 * (checked by the caller), run in the thread's Lua state, whose libraries follow the
 * shared registry by its generation. */
void fnlua_fcall(client *c, size_t numkeys, bool ro);
/* FUNCTION STATS's running_script value: the function some thread runs, or null. */
void fnlua_reply_running(client *c);
/* FUNCTION STATS's reply for a registry of nlibs libraries and nfuncs functions. */
void fnlua_reply_stats(client *c, size_t nlibs, size_t nfuncs);
/* FUNCTION STATS while this thread runs a script (script_busy_reply): the counts of
 * the registry its libraries were last built from, without taking the registry lock. */
void fnlua_reply_stats_cached(client *c);
/* Reads the registry for c's command: fnstore_read, or inside a transaction (EXEC)
 * fnstore_read_locked after taking the registry's lock id in it. False when that lock
 * is busy: the command must return at once (EXEC runs again holding more). */
bool fnlua_read_registry(client *c, fn_set *out);

#endif
