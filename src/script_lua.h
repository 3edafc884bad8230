/* script_lua.h - the Lua engine that runs EVAL scripts and FCALL functions (private
 * to src/).
 *
 * Each serving thread has its own lua_State (Lua 5.1, as Redis embeds), created on
 * its first script: the libraries Redis gives scripts, the `redis` API, and Redis 7's
 * sandbox (no loadfile/dofile/print, read-only globals and library tables, an error
 * for reading a global that does not exist). A script runs inside its command's one
 * open transaction; redis.call runs each command through command_call, so what the
 * script does commits (or, after a crash, rolls back) as one unit. */
#ifndef KVNS_SCRIPT_LUA_H
#define KVNS_SCRIPT_LUA_H

#include "kvns/command.h"
#include "kvns/script_flags.h"

#include <lua.h>

/* A script flag's name (`#!lua flags=`, register_function), in FUNCTION LIST order. */
typedef struct script_flag_name {
    const char *name;
    uint32_t    flag;
} script_flag_name;
extern const script_flag_name script_flag_names[];   /* ended by a NULL name */

/* One script run. */
typedef struct script_call {
    const char *funcname;      /* the sha (EVAL) or the function's name (FCALL) */
    uint32_t    flags;         /* enum script_flags */
    bool        ro;            /* EVAL_RO, EVALSHA_RO, FCALL_RO */
    bool        eval;          /* KEYS/ARGV as globals (EVAL), else as arguments */
    bool        is_function;   /* FCALL: FUNCTION KILL rather than SCRIPT KILL stops it */
    const resp_arg *keys;
    size_t      nkeys;
    const resp_arg *args;
    size_t      nargs;
} script_call;

/* The thread's Lua state, created on first use. */
lua_State *script_lua(worker_ctx *w);

/* Pushes the function to run onto L (the caller's lookup), or returns false. */
typedef bool script_push_fn(lua_State *L, void *arg);

/* Runs a script for c: locks the shards of sc->keys (cmd_txn_begin: it may park, or
 * fail nested), calls push to get the function, runs it, replies its result (or its
 * error) and commits. A script that reaches a key on a shard it does not hold and
 * another thread does is undone entirely and run again holding that shard too. */
void script_exec(client *c, const script_call *sc, script_push_fn *push, void *arg);

/* Compiles code as a chunk named chunkname and leaves the function on L's stack with
 * the sandbox's globals. Returns 0, or -1 with Lua's message on the stack. Binary
 * chunks are refused. */
int script_compile(lua_State *L, const char *code, size_t len, const char *chunkname);

/* Parses an EVAL script's `#!lua flags=...` line (Redis's evalExtractShebangFlags).
 * Returns 0 with *flags and *shebang_len (0 without a shebang), or -1 with Redis's
 * message in err. */
int script_shebang_flags(const char *body, size_t len, uint32_t *flags, size_t *shebang_len, char *err,
                         size_t errlen);

/* True while a script runs on w's thread: its redis.call commands are Redis's
 * CLIENT_SCRIPT calls (SORT makes a set's order deterministic for them). */
bool script_running(const worker_ctx *w);

/* EVAL's and FCALL's numkeys against argc (numkeys at argv[2], keys from argv[3]):
 * false after replying Redis's error when it is negative or beyond the arguments. */
bool script_numkeys_ok(client *c, long long numkeys);

/* A script whose flags make it deny-oom (neither no-writes nor allow-oom) while used
 * memory is over the limit: replies Redis's refusal (processCommand's OOM text; inside
 * EXEC scriptPrepareForRun's) and returns true. EVAL and FCALL check it before running. */
bool script_refuse_oom(client *c, uint32_t flags);

/* Bytes the thread's Lua state uses (INFO used_memory_lua). */
size_t script_lua_memory(worker_ctx *w);

/* SCRIPT KILL / FUNCTION KILL from any worker: asks the running scripts of that kind
 * past busy-reply-threshold to stop and replies OK, or Redis's NOTBUSY / UNKILLABLE. */
void script_kill(client *c, bool functions);

/* When a lock id in ids[0..n) is held by another thread's script running past
 * busy-reply-threshold: Redis's -BUSY text for the command that found it busy (it is
 * answered that instead of waiting). NULL otherwise. */
const char *script_busy_error(const worker_ctx *w, const uint32_t *ids, size_t n);

#endif
