/* command.h - clients, the command table and the dispatcher.
 *
 * Each command family file (t_string.c, t_keyspace.c, t_server.c, ...) exports one
 * table of `struct command` rows ending with a zeroed row; command.c merges them at
 * start into one lookup table. A row gives the name, Redis-style arity (N exact, -N at
 * least N, the name included) and its key specs (Redis 7's: where the keys of an argv
 * are), from which the dispatcher resolves every key argument, locks the keys' shards
 * in one transaction before calling the handler, and checks memory and commits after
 * it - so a handler just works on c->keys[i] (the resolved key of argv[i]) inside an
 * open transaction.
 *
 * When the specs cannot be resolved (a bad numkeys argument) the handler runs with no
 * transaction and no keys: it must reply its argument error before touching any key
 * (its own checks are at least as strict as the resolution's).
 *
 * Handlers write their reply into c->out. A handler that fails after mutating must
 * call cmd_abort(c, "ERR ...") (rolls the transaction back and replaces whatever reply
 * it wrote). Rows flagged CMD_NOLOCK get no transaction: the handler opens its own
 * with cmd_txn_begin, to visit shards one at a time (SCAN, KEYS, FLUSHALL, ...).
 *
 * Container commands (OBJECT, MEMORY, CLIENT, CONFIG, COMMAND, LATENCY, SLOWLOG, SCRIPT,
 * FUNCTION): the container's row points at a table of
 * subcommand rows (`.subcommands`, ended by a zeroed row), each an ordinary row named
 * by the subcommand alone ("encoding"), with its own arity (counting the whole argv),
 * flags, key specs and handler. The dispatcher runs argv[1]'s row as if it were the
 * command - its keys resolved and locked, its arity checked as 'object|encoding' -
 * and answers Redis's "unknown subcommand" itself; COMMAND INFO/DOCS/LIST/GETKEYS and
 * the HELP rows (handler tsrv_sub_help) read the same table. The container row's own
 * handler runs only for argv with no subcommand (COMMAND alone); NULL elsewhere. So
 * adding a subcommand is one handler and one row; its COMMAND DOCS arguments come from
 * the generated src/command_docs.c by full name ("script|load").
 *
 * A new container, e.g. FUNCTION (t_script.c's SCRIPT is the model), in its family's file:
 *     static const command function_subs[] = {
 *         { "load", -3, CMD_WRITE | CMD_DENYOOM | CMD_NOSCRIPT, NULL, function_load, NULL, "Creates ...",
 *           "7.0.0", "O(1) ...", NULL },
 *         { "list", -2, CMD_NOSCRIPT, NULL, function_list, NULL, ... },
 *         { 0 }
 *     };
 * and in the family's table (arity -2, no flags, keys or handler, as Redis's row):
 *     { "function", -2, 0, NULL, NULL, "scripting", "A container for function commands.", "7.0.0",
 *       "Depends on subcommand.", function_subs },
 * A subcommand row's group is NULL (COMMAND reports the container's); its key specs
 * index the whole argv (OBJECT ENCODING's key is argv[2]). Inside MULTI the container
 * row is queued once the dispatcher has checked the subcommand and its arity; EXEC
 * takes the shards of the subcommand row's keys, and command_call finds that row again
 * (nested calls dispatch exactly like top-level ones; a script's redis.call checks the
 * subcommand row's arity and flags through command_find_row). Nothing else to register:
 * src/command_docs.c already has every Redis 7.0.15 command (a subcommand 7.0 lacks
 * goes in tools/command_docs_kvns.json, then regenerate), it_command checks each
 * listed name's COMMAND DOCS, and the differential fuzzer needs one grammar row per
 * "container|sub" (tests/fuzz/difffuzz_grammar.c), since COMMAND LIST names it (a name
 * without a row gets generic arguments and its replies compared exactly). */
#ifndef KVNS_COMMAND_H
#define KVNS_COMMAND_H

#include "kvns/resp.h"
#include "kvns/store.h"
#include "kvns/config.h"
#include "kvns/clock.h"   /* clock_wall_ms, clock_mono_ns: every handler's clocks */

enum cmd_flags {
    CMD_WRITE    = 1 << 0,
    CMD_READONLY = 1 << 1,
    CMD_DENYOOM  = 1 << 2,   /* refused with OOM when it would grow memory past the limit */
    CMD_FAST     = 1 << 3,
    CMD_ADMIN    = 1 << 4,
    CMD_NOLOCK   = 1 << 5,   /* the handler manages its own transactions */
    CMD_PUBSUB   = 1 << 6,
    CMD_LOADING  = 1 << 7,
    CMD_STALE    = 1 << 8,
    CMD_NOSCRIPT = 1 << 9,
    CMD_NOMULTI  = 1 << 10,  /* refused inside MULTI (Redis's no-multi: SAVE, SHUTDOWN, ...) */
    CMD_NO_MANDATORY_KEYS = 1 << 11,   /* may have no keys (EVAL ... 0): GETKEYS answers [] */
};

/* Redis 7's key-spec flags (COMMAND INFO prints them in this order). */
enum key_spec_flags {
    KS_RO             = 1 << 0,   /* reads the key's value */
    KS_RW             = 1 << 1,   /* reads and writes it */
    KS_OW             = 1 << 2,   /* overwrites it, not reading it */
    KS_RM             = 1 << 3,   /* deletes it */
    KS_ACCESS         = 1 << 4,   /* returns, copies or uses the user data */
    KS_UPDATE         = 1 << 5,   /* updates data already there */
    KS_INSERT         = 1 << 6,   /* only adds data */
    KS_DELETE         = 1 << 7,   /* explicitly deletes some content */
    KS_NOT_KEY        = 1 << 8,
    KS_INCOMPLETE     = 1 << 9,
    KS_VARIABLE_FLAGS = 1 << 10,
};

enum key_spec_begin {
    KS_END = 0,          /* the zeroed row that ends a spec array */
    KS_INDEX,            /* the keys begin at argv[pos] */
    KS_KEYWORD,          /* the keys begin after `keyword`, searched from argv[pos]
                            forward (pos > 0) or from argv[argc + pos] backward */
    KS_BEGIN_UNKNOWN,    /* Redis's "unknown": the spec's find_key proc finds its key,
                            or (none) the handler finds and locks them (SORT's BY/GET) */
};

enum key_spec_find {
    KS_RANGE = 1,        /* keys from the begin index to lastkey (relative to it; < 0:
                            counted from the end), every step; limit > 1: only the
                            first 1/limit of the rest */
    KS_KEYNUM,           /* argv[begin + keynumidx] says how many keys, the first at
                            begin + firstkey, every step */
    KS_FIND_UNKNOWN,     /* with KS_BEGIN_UNKNOWN */
};

/* For a KS_VARIABLE_FLAGS key spec: the KS_* flags of the key at argv[pos] for this
 * command line (Redis's getkeys_proc flags, e.g. SET with or without GET). */
typedef uint32_t key_flags_proc(const resp_arg *argv, int argc, int pos);
/* For a KS_BEGIN_UNKNOWN key spec: the argv index of its key in this command line,
 * or 0 for none (Redis's getkeys_proc, e.g. SORT's STORE destination). */
typedef int key_find_proc(const resp_arg *argv, int argc);

/* One of a command's key specs, as Redis 7 describes them. */
typedef struct key_spec {
    uint32_t            flags;       /* KS_RO | KS_ACCESS ... */
    enum key_spec_begin begin;
    int                 pos;         /* KS_INDEX: the index; KS_KEYWORD: the start */
    const char         *keyword;     /* KS_KEYWORD only */
    enum key_spec_find  find;
    union {
        struct { int lastkey, step, limit; } range;
        struct { int keynumidx, firstkey, step; } keynum;
    };
    const char *notes;               /* Redis's remark on the flags, or NULL */
    key_flags_proc *key_flags;       /* KS_VARIABLE_FLAGS: the flags of one argv */
    key_find_proc  *find_key;        /* KS_BEGIN_UNKNOWN: finds its key, or NULL (the
                                        handler's own: resolution skips the spec) */
} key_spec;

struct client;
typedef void cmd_proc(struct client *c);

typedef struct command {
    const char *name;        /* lower case */
    int         arity;
    uint32_t    flags;
    const key_spec *key_specs;   /* ended by a KS_END row; NULL: no keys */
    cmd_proc   *proc;
    const char *group;       /* COMMAND DOCS group: "string", "generic", "connection", "server" */
    const char *summary;
    const char *since;
    const char *complexity;
    const struct command *subcommands;   /* a container's subcommand rows, or NULL */
} command;

/* COMMAND DOCS argument types and flags, as Redis 7 names them. */
enum cmd_arg_type {
    ARG_STRING, ARG_INTEGER, ARG_DOUBLE, ARG_KEY, ARG_PATTERN, ARG_UNIX_TIME, ARG_PURE_TOKEN,
    ARG_ONEOF, ARG_BLOCK,
};
enum cmd_arg_flags { ARG_OPTIONAL = 1 << 0, ARG_MULTIPLE = 1 << 1, ARG_MULTIPLE_TOKEN = 1 << 2 };
enum cmd_doc_flags { DOC_DEPRECATED = 1 << 0, DOC_SYSCMD = 1 << 1 };

/* One argument of a command as COMMAND DOCS describes it. */
typedef struct cmd_arg {
    const char *name;
    uint8_t     type;                /* enum cmd_arg_type */
    uint8_t     flags;               /* ARG_* */
    int8_t      key_spec_index;      /* ARG_KEY: its key spec; -1 otherwise */
    uint8_t     nargs;               /* ARG_ONEOF / ARG_BLOCK: how many in args */
    const char *token, *since, *deprecated_since;   /* NULL when absent */
    const struct cmd_arg *args;
} cmd_arg;

/* The COMMAND DOCS fields of a command or subcommand beyond its row's summary, since,
 * group and complexity (src/command_docs.c, generated from redis-server). */
typedef struct command_doc {
    const char *name;                /* full name: "get", "object|encoding" */
    uint8_t     doc_flags;           /* DOC_* */
    const char *deprecated_since, *replaced_by;
    const char *const *history;      /* version, text, version, text, ..., NULL; or NULL */
    const cmd_arg *args;
    size_t      nargs;
} command_doc;

/* The docs of the command or subcommand of this full name, or NULL. */
const command_doc *command_doc_find(const char *full_name);
/* The generated table (src/command_docs.c), sorted by name. */
extern const command_doc command_docs[];
extern const size_t command_docs_count;

enum client_flags {
    CLIENT_CLOSE_AFTER_REPLY = 1 << 0,
    CLIENT_CLOSE_ASAP        = 1 << 1,
};

/* Per thread of a worker process (or the housekeeper): its lane's transaction and
 * the clients it serves. */
typedef struct worker_ctx {
    kv_txn   txn;
    uint32_t worker_slot;        /* 0..workers-1 */
    uint32_t thread_idx;
    int      epfd;
    struct client *clients;      /* doubly linked list of this thread's clients */
    uint64_t nclients;
    uint64_t seen_kill_seq;      /* lane kill_seq value last acted on */
    int64_t  accept_resume_ms;   /* > 0: listener paused after accept() failed, until then */
    int64_t  accept_warned_ms;   /* last accept-failure warning (at most one a second) */
    int64_t  reply_warned_ms;    /* last reply-out-of-memory warning (likewise) */
    const kvns_config *cfg;
    struct client *parked_head;  /* clients waiting for a busy shard, oldest first */
    struct client *parked_tail;
    uint64_t parked_retry_ns;    /* when parked clients were last retried (clock_mono_ns) */
    /* command_call: EXEC or a script runs commands inside its one open transaction */
    int      nested;             /* > 0 while it does */
    txn_savepoint nest_sp;       /* where the nested command began: cmd_abort's target */
    bool     nest_relock;        /* a nested command met a shard another thread holds */
    uint32_t nest_missing;       /* ... this one */
    bool     nest_allow_oom;     /* a script runs it: past the limit it is not refused */
    struct script_engine *script;   /* this thread's Lua state (src/script_lua.c), or NULL */
} worker_ctx;

typedef struct client {
    int       fd;
    uint64_t  id;
    int       proto;             /* 2 or 3 */
    unsigned  flags;
    worker_ctx *w;
    struct client *prev, *next;
    /* input */
    char     *rbuf;
    size_t    rlen, rcap, rpos;  /* bytes held, capacity, parse position */
    size_t    rneed;             /* parser says nothing can complete before rlen >= rneed */
    resp_request req;
    resp_arg *argv;              /* == req.argv during a command */
    size_t    argc;
    kv_key   *keys;              /* keys[i] resolved for each key position i of argv */
    size_t    keys_cap;
    /* output */
    reply_buf out;               /* replies not yet (fully) sent */
    size_t    reply_mark;        /* reply_len(&out) when the current command started */
    bool      aborted;
    bool      lock_busy;         /* the current command met a busy shard: run it again later */
    const char *busy_refused;    /* cmd_txn_begin refused it with this -BUSY text, or NULL */
    bool      error_counted;     /* its error reply was counted already (a script's
                                    error raised by redis.call): not again */
    bool      parked;            /* on its thread's parked list, its request kept parsed */
    struct client *parked_next;
    size_t    parked_consumed;   /* bytes of the parked request in rbuf, from rpos */
    uint64_t  parked_since_ns;   /* when the command first found its shard busy, 0 = never */
    int64_t   last_grow;         /* bytes the last OOM-refused attempt wanted */
    /* identity */
    char     *name;              /* CLIENT SETNAME, or NULL */
    char     *lib_name, *lib_ver;
    char      addr[64], laddr[64];
    int64_t   created_ms, last_ms;
    const command *last_cmd;
    uint32_t  last_cmd_idx;      /* index + 1 in the command table, 0 = none */
    uint64_t  commands;
    int       slot;              /* this client's entry in the shared registry, or -1 */
    uint32_t  epoll_events;      /* the events its fd is registered for (client_update_events) */
    struct multi_state *multi;   /* MULTI's queue (src/t_multi.c), NULL outside MULTI */
    struct watch_list  *watched; /* WATCHed keys (src/t_multi.c), or NULL */
} client;

/* Looks up a command by name (any case). */
const command *command_lookup(const char *name, size_t len);
/* The subcommand row of container parent named by `name` (any case), or NULL. */
const command *command_sub_lookup(const command *parent, const resp_arg *name);
/* The row that runs argv for cmd (Redis's lookupCommand): a container's subcommand row
 * named by argv[1], NULL when it has none of that name; else cmd itself. No reply:
 * for callers that check a row before command_call (EXEC's keys, a script's flags). */
const command *command_find_row(const command *cmd, const resp_arg *argv, size_t argc);
/* Writes "parent|sub" (sub NULL: parent's name) into buf: the name Redis reports. */
const char *command_full_name(const command *parent, const command *sub, char *buf, size_t cap);
/* Builds the merged table; call once per process before serving. */
void command_table_init(void);
/* Iterates the merged table (COMMAND, COMMAND COUNT/LIST/DOCS). */
size_t command_count(void);
const command *command_at(size_t i);

/* One resolved key argument: its index in argv and its spec's KS_* flags. */
typedef struct cmd_key_ref {
    int      pos;
    uint32_t flags;
} cmd_key_ref;

/* Resolves the key arguments of argv[0..argc) for cmd from its key specs, in spec
 * order, into out[] (room for argc entries); an "unknown" spec gives the key its
 * find_key proc finds, if any. Returns how many, or -1 when a keynum
 * spec's count is not a number, negative, or runs past the arguments (Redis's
 * getKeysUsingKeySpecs: no keys for a spec whose keyword is absent). */
int command_resolve_keys(const command *cmd, const resp_arg *argv, int argc, cmd_key_ref *out);
/* Redis's legacy (first, last, step) of a command, derived from its specs as Redis's
 * populateCommandLegacyRangeSpec does, and whether its keys are "movablekeys". */
void command_legacy_range(const command *cmd, int *first, int *last, int *step, bool *movable);

/* Executes the request in c->argv/c->argc: lookup, arity, locking, handler, commit,
 * errors. Appends the reply to c->out and returns true; returns false, with nothing
 * replied or changed, when a shard it needs stayed busy: the caller keeps the request
 * and calls again later (the thread serves its other clients meanwhile). */
bool command_exec(client *c);

/* Opens the current command's transaction holding every shard in ids[] (sorted in
 * place). False when one stayed busy past a short spin: nothing is held, the handler
 * must return at once (what it replied so far is dropped) and the dispatcher runs the
 * command again. Handlers that lock for themselves (CMD_NOLOCK) open every
 * transaction with this, never with txn_lock. */
bool cmd_txn_begin(client *c, uint32_t *ids, size_t n);

/* Commits the transaction a CMD_NOLOCK handler opened with cmd_txn_begin. Inside
 * command_call the caller's transaction commits once at its end instead: a no-op
 * then. Returns TXN_OK or the failure code (the writes were rolled back). */
int cmd_commit(client *c);

/* Rolls back the current command's transaction and replaces its reply by err.
 * Inside command_call only the current command is rolled back. */
void cmd_abort(client *c, const char *err);

/* How a command run by command_call ended. */
enum call_result {
    CALL_DONE = 0,     /* ran (or was refused); its reply is in c->out */
    CALL_RELOCK = 1,   /* it needed a shard the transaction does not hold and another
                          thread does: it was rolled back, nothing replied. The caller
                          must roll back the whole transaction and run again holding
                          txn.locked plus more (worker_ctx.nest_relock is set) */
};

/* Runs argv[0..argc) as one command inside the caller's open transaction (EXEC's
 * queued commands, a script's redis.call), appending its reply to c->out. The
 * transaction is neither begun nor committed here: the caller holds the locks of
 * the keys it declared, and commits once when everything has run. Shards it lacks
 * are tried without waiting (see CALL_RELOCK). A command that fails rolls back only
 * itself; a DENYOOM command that leaves memory over the limit is rolled back and
 * answers OOM, setting c->last_grow to what the whole transaction had grown by then
 * (the room the caller may evict for before running everything again). cmd may be
 * NULL (unknown command). Arity is the caller's to check, except a subcommand's (a
 * container's cmd runs argv[1]'s row, checked here). */
int command_call(client *c, const command *cmd, resp_arg *argv, size_t argc);

/* Bytes a write of argv[0..argc) may add: its arguments plus per-key overhead (a
 * guess made before running it; the exact figure is known at commit). */
uint64_t command_growth_estimate(const resp_arg *argv, size_t argc);
/* Evicts, in the namespaces of cmd's keys in argv (each by its own policy), until
 * `need` more bytes fit under the eviction threshold or nothing is left there: what
 * the dispatcher does before a DENYOOM command, for a command not run yet (MULTI's
 * queue). Returns the bytes freed. t must have no transaction open. */
uint64_t command_evict_for(const command *cmd, const resp_arg *argv, size_t argc, uint64_t need, kv_txn *t);
/* True when used memory is over the memory limit (maxmemory). */
bool command_memory_over_limit(void);

/* Common replies. */
extern const char *const ERR_WRONGTYPE;   /* "WRONGTYPE Operation against a key holding the wrong kind of value" */
extern const char *const ERR_NOT_INT;     /* "ERR value is not an integer or out of range" */
extern const char *const ERR_NOT_FLOAT;   /* "ERR value is not a valid float" */
extern const char *const ERR_SYNTAX;      /* "ERR syntax error" */
extern const char *const ERR_OOM;         /* "OOM command not allowed when used memory > 'maxmemory'." */
extern const char *const ERR_NO_KEY;      /* "ERR no such key" */

/* Case-insensitive compare of an argument with a lower-case word. */
bool arg_is(const resp_arg *a, const char *word);
/* Parses argv[i] as an integer; on failure replies ERR_NOT_INT and returns false. */
bool arg_ll(client *c, size_t i, long long *out);
/* How a typed key lookup counts: KEY_READ counts a keyspace hit or miss (commands
 * that read the value), KEY_WRITE is a plain lookup (commands that modify it). */
enum key_access { KEY_WRITE, KEY_READ };

/* Redis's lookupKeyRead/WriteOrReply + checkType for key k: true with *ep = its live
 * entry, or NULL when k is missing; false after replying WRONGTYPE when k holds
 * another type than `type`. Inline: every typed command starts with it. */
static inline bool key_lookup_typed_at(client *c, const kv_key *k, uint8_t type, enum key_access how,
                                       kv_entry **ep)
{
    kv_entry *e = how == KEY_READ ? store_find_read(&c->w->txn, k) : store_find(&c->w->txn, k);
    if (e && e->type != type) {
        reply_error(&c->out, ERR_WRONGTYPE);
        *ep = NULL;
        return false;
    }
    *ep = e;
    return true;
}

/* key_lookup_typed_at for the key of argv[i] (c->keys[i]). */
static inline bool key_lookup_typed(client *c, size_t i, uint8_t type, enum key_access how, kv_entry **ep)
{
    return key_lookup_typed_at(c, &c->keys[i], type, how, ep);
}
/* Rolls back (like cmd_abort) and replies the right error for a failed store call
 * (STORE_E_*) or commit (TXN_E_*): OOM (the arena, or an undo log that could not
 * grow), namespace table full, ... The one place such failures become replies
 * (handlers and the dispatcher alike). */
void reply_store_error(client *c, int rc);

/* MULTI/EXEC/WATCH (src/t_multi.c). Inside MULTI: queues the request for cmd
 * (replying +QUEUED) and returns true, unless cmd is one that runs at once (EXEC,
 * DISCARD, MULTI, WATCH, QUIT, RESET). row is the row that runs (a container's
 * subcommand row, else cmd): its flags and keys are the ones checked. */
bool multi_intercept(client *c, const command *cmd, const command *row);
/* True for EXEC's row: EXEC refused for its arity ends the transaction. */
bool multi_is_exec(const command *cmd);
/* EXEC refused before it ran (Redis's execCommandAbort): replies "EXECABORT
 * Transaction discarded because of: <why>" in place of its reply and leaves MULTI. */
void multi_refuse_exec(client *c, const char *why);
/* Inside MULTI: a refused command makes EXEC answer EXECABORT. */
void multi_flag_error(client *c);
/* Leaves MULTI, dropping the queue, and forgets every WATCHed key (DISCARD, EXEC,
 * RESET, QUIT, a closing connection). */
void multi_discard(client *c);
extern const command multi_commands[];   /* MULTI, EXEC, DISCARD, WATCH, UNWATCH */

/* Per-family tables. */
extern const command string_commands[];
extern const command keyspace_commands[];
extern const command server_commands[];
extern const command memory_commands[];
extern const command persist_commands[];   /* SAVE, BGSAVE, SHUTDOWN, LASTSAVE (src/t_persist.c) */
extern const command script_commands[];    /* EVAL, EVALSHA, *_RO, SCRIPT (src/t_script.c) */
extern const command function_commands[];  /* FUNCTION, FCALL, FCALL_RO (src/t_function.c) */
extern const command sort_commands[];      /* SORT, SORT_RO (src/t_sort.c) */
/* stop-writes-on-bgsave-error: when the last snapshot failed, replies Redis's -MISCONF
 * to a write command or PING and returns true (src/t_persist.c). */
bool persist_refuse_write(client *c, const command *cmd);
extern const char *const ERR_MISCONF;     /* "MISCONF Redis is configured to save RDB snapshots, ..." */

/* Process-wide state a command may read (set by the worker at start). */
typedef struct server_state {
    const kvns_config *cfg;
    int64_t start_ms;
    int     role_worker;             /* this process serves clients */
    uint32_t worker_slot;
    uint64_t *stat_connections;      /* arena counters (see stats.h), may be NULL in tests */
} server_state;
extern server_state server;

#endif
