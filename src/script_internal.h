/* script_internal.h - what the files of the Lua engine share (script_lua.c,
 * script_convert.c, script_run.c). */
#ifndef KVNS_SCRIPT_INTERNAL_H
#define KVNS_SCRIPT_INTERNAL_H

#include "script_lua.h"

/* Registry keys */
#define SCRIPT_RO_SET   "kvns.readonly"   /* set of the sandbox's read-only proxies */
#define SCRIPT_GLOBALS  "kvns.globals"    /* the real globals table (KEYS, ARGV live here) */
#define SCRIPT_CACHE    "kvns.scripts"    /* EVAL: sha -> compiled function or record offset */
#define SCRIPT_ERRH     "kvns.errh"       /* the error handler of a script run */

/* A thread's engine: its Lua state and the script running on it. */
struct script_engine {
    lua_State *L;
    size_t     lua_bytes;      /* held by L (its allocator counts) */
    uint64_t   rand48;         /* math.random's state */
    reply_buf  scratch;        /* replies of redis.call, in the script's protocol */
    resp_arg  *argv;           /* redis.call's arguments */
    size_t     argv_cap;
    char      *argbuf;
    size_t     argbuf_cap;
    /* EVAL's view of the shared cache (t_script.c) */
    uint64_t   cache_gen;
    uint64_t   cache_seen;     /* bytes of the generation's records indexed */
    /* the run in progress */
    client    *c;
    const script_call *sc;
    int        resp;           /* redis.setresp: 2 or 3 */
    bool       wrote;          /* a write command was called */
    bool       oom_at_start;   /* memory was over the limit when it began */
    bool       relock;         /* it needs a shard another thread holds: unwinding */
    bool       killed;         /* SCRIPT KILL or a shutdown stopped it: unwinding */
    bool       stopping;       /* the worker is stopping: undo it all, commit nothing */
    unsigned   runs;           /* scripts run, for the periodic GC step */
};
typedef struct script_engine script_engine;

/* Records the table on top of L as one of the sandbox's read-only tables (rawset and
 * setmetatable refuse it); leaves the stack as it was. */
void script_mark_readonly(lua_State *L);
/* The engine owning L. */
script_engine *script_engine_of(lua_State *L);

/* Pushes Redis's error table {err = "CODE msg"} for "-CODE msg" or "msg" (ERR then),
 * trimming a trailing CRLF (Redis's luaPushErrorBuff). */
void script_push_error(lua_State *L, const char *s, size_t len);
/* Raises msg as an error table (ERR code): luaPushError + luaError. */
int script_raise(lua_State *L, const char *msg);
/* Stops a script that must not go on (it needs another shard, or was killed): an
 * error raised again by every redis.call and, through the hook, every line. */
int script_unwind(lua_State *L);
/* The message handler of a script run (Redis's __redis__err__handler): makes the
 * error a table {err=, source=, line=} of the Lua function where it was raised. */
int script_error_handler(lua_State *L);
/* redis.call (raise = true) and redis.pcall. */
int script_redis_command(lua_State *L, bool raise);

/* Converts the RESP reply in p[0..len) to a Lua value pushed on L (Redis's
 * redisProtocolToLuaType). Returns the bytes used. */
size_t script_resp_to_lua(lua_State *L, const char *p, size_t len);
/* Replies the Lua value at the top of L to c (popped; Redis's luaReplyToRedisReply),
 * in c's protocol; resp is the script's (booleans depend on it). */
void script_lua_to_reply(client *c, lua_State *L, int resp);

#endif
