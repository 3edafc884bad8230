/* command.c - the merged command table and the dispatcher (see command.h). */
#include "kvns/command.h"
#include "kvns/alloc.h"
#include "kvns/evict.h"
#include "kvns/hash.h"
#include "kvns/list.h"
#include "kvns/log.h"
#include "kvns/metrics.h"
#include "kvns/set.h"
#include "kvns/latency.h"
#include "kvns/zset.h"
#include "kvns/watch.h"
#include "kvns/errstats.h"
#include "script_lua.h"

#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *const ERR_WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value";
const char *const ERR_NOT_INT = "ERR value is not an integer or out of range";
const char *const ERR_NOT_FLOAT = "ERR value is not a valid float";
const char *const ERR_SYNTAX = "ERR syntax error";
const char *const ERR_OOM = "OOM command not allowed when used memory > 'maxmemory'.";
const char *const ERR_NO_KEY = "ERR no such key";

server_state server;
extern const command list_commands[];
extern const command hash_commands[];
extern const command set_commands[];
extern const command zset_commands[];

#define LOOKUP_SLOTS 1024
static const command *all_commands[LOOKUP_SLOTS / 2];
static size_t ncommands;
static uint16_t lookup[LOOKUP_SLOTS];       /* index + 1 into all_commands, 0 = empty */

/* FNV-1a over the lower-cased name: the lookup table's hash. */
static uint32_t name_hash(const char *p, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)tolower((unsigned char)p[i])) * 16777619u;
    return h;
}

static void table_add(const command *rows)
{
    for (const command *c = rows; c->name; c++) {
        if (ncommands >= LOOKUP_SLOTS / 2) {
            log_error("command table full", NULL);
            abort();
        }
        all_commands[ncommands++] = c;
        uint32_t i = name_hash(c->name, strlen(c->name));
        while (lookup[i % LOOKUP_SLOTS])
            i++;
        lookup[i % LOOKUP_SLOTS] = (uint16_t)ncommands;
    }
}

void command_table_init(void)
{
    if (ncommands)
        return;
    table_add(string_commands);
    table_add(keyspace_commands);
    table_add(persist_commands);
    table_add(script_commands);
    table_add(function_commands);
    table_add(server_commands);
    table_add(memory_commands);
    table_add(list_commands);
    store_register_type(KV_LIST, &list_type_ops);
    table_add(hash_commands);
    table_add(set_commands);
    table_add(zset_commands);
    table_add(sort_commands);
    table_add(multi_commands);
    store_register_type(KV_HASH, &hash_type_ops);
    store_register_type(KV_SET, &set_type_ops);
    store_register_type(KV_ZSET, &zset_type_ops);
}

size_t command_count(void) { return ncommands; }
const command *command_at(size_t i) { return i < ncommands ? all_commands[i] : NULL; }

/* Position of the named command in the merged table, or -1. */
static int command_index(const char *name, size_t len)
{
    if (len > 32)
        return -1;
    for (uint32_t i = name_hash(name, len);; i++) {
        uint16_t v = lookup[i % LOOKUP_SLOTS];
        if (!v)
            return -1;
        const command *c = all_commands[v - 1];
        if (strlen(c->name) == len && strncasecmp(c->name, name, len) == 0)
            return v - 1;
    }
}

const command *command_lookup(const char *name, size_t len)
{
    int i = command_index(name, len);
    return i < 0 ? NULL : all_commands[i];
}

const command *command_sub_lookup(const command *parent, const resp_arg *name)
{
    for (const command *s = parent->subcommands; s && s->name; s++) {
        if (arg_is(name, s->name))
            return s;
    }
    return NULL;
}

const char *command_full_name(const command *parent, const command *sub, char *buf, size_t cap)
{
    if (sub)
        snprintf(buf, cap, "%s|%s", parent->name, sub->name);
    else
        snprintf(buf, cap, "%s", parent->name);
    return buf;
}

const command *command_find_row(const command *cmd, const resp_arg *argv, size_t argc)
{
    return cmd->subcommands && argc >= 2 ? command_sub_lookup(cmd, &argv[1]) : cmd;
}

/* bsearch's comparison of a full name with a command_doc. */
static int doc_name_cmp(const void *name, const void *doc)
{
    return strcmp(name, ((const command_doc *)doc)->name);
}

const command_doc *command_doc_find(const char *full_name)
{
    return bsearch(full_name, command_docs, command_docs_count, sizeof command_docs[0], doc_name_cmp);
}

bool arg_is(const resp_arg *a, const char *word)
{
    size_t n = strlen(word);
    return a->len == n && strncasecmp(a->ptr, word, n) == 0;
}

bool arg_ll(client *c, size_t i, long long *out)
{
    if (parse_ll(c->argv[i].ptr, c->argv[i].len, out) == 0)
        return true;
    reply_error(&c->out, ERR_NOT_INT);
    return false;
}

void cmd_abort(client *c, const char *err)
{
    if (!c->aborted) {
        int failed = c->w->txn.failed;
        if (c->w->nested)
            txn_rollback_to(&c->w->txn, &c->w->nest_sp);
        else
            txn_abort(&c->w->txn);
        c->w->txn.failed = failed;
    }
    reply_truncate(&c->out, c->reply_mark);
    reply_error(&c->out, err);
    c->aborted = true;
}

void reply_store_error(client *c, int rc)
{
    if (rc == STORE_E_NSFULL)
        cmd_abort(c, "ERR too many namespaces");
    else if (rc == STORE_E_TOOBIG)
        cmd_abort(c, "ERR string exceeds maximum allowed size (proto-max-bulk-len)");
    else                                         /* TXN_E_NOMEM, or an undo log that could not grow */
        cmd_abort(c, ERR_OOM);
}

/* Where spec s's keys begin in argv, or 0 when its keyword is absent. */
static int spec_begin(const key_spec *s, const resp_arg *argv, int argc)
{
    if (s->begin == KS_INDEX)
        return s->pos;
    int start = s->pos > 0 ? s->pos : argc + s->pos;
    int step = s->pos > 0 ? 1 : -1;
    size_t len = strlen(s->keyword);
    for (int i = start; i >= 1 && i < argc; i += step) {
        if (argv[i].len == len && strncasecmp(argv[i].ptr, s->keyword, len) == 0)
            return i + 1;
    }
    return 0;
}

int command_resolve_keys(const command *cmd, const resp_arg *argv, int argc, cmd_key_ref *out)
{
    int n = 0;
    for (const key_spec *s = cmd->key_specs; s && s->begin != KS_END; s++) {
        if (s->begin == KS_BEGIN_UNKNOWN) {
            int pos = s->find_key ? s->find_key(argv, argc) : 0;
            if (pos > 0)
                out[n++] = (cmd_key_ref){ pos, s->flags };
            continue;
        }
        int first = spec_begin(s, argv, argc);
        if (first == 0)
            continue;
        int last, step;
        if (s->find == KS_RANGE) {
            step = s->range.step;
            if (s->range.lastkey >= 0)
                last = first + s->range.lastkey;
            else if (!s->range.limit)
                last = argc + s->range.lastkey;
            else
                last = first + ((argc - first) / s->range.limit + s->range.lastkey);
        } else {
            long long numkeys;
            const resp_arg *count = &argv[first + s->keynum.keynumidx];
            step = s->keynum.step;
            if (s->keynum.keynumidx >= argc - first || parse_ll(count->ptr, count->len, &numkeys) != 0 ||
                numkeys < 0 || numkeys > argc)
                return -1;
            first += s->keynum.firstkey;
            last = first + (int)numkeys - 1;
        }
        /* out of bounds or no keys: an argument error of the command */
        if (last >= argc || last < first || first >= argc)
            return -1;
        for (int i = first; i <= last; i += step)
            out[n++] = (cmd_key_ref){ i, s->key_flags ? s->key_flags(argv, argc, i) : s->flags };
    }
    return n;
}

void command_legacy_range(const command *cmd, int *first, int *last, int *step, bool *movable)
{
    *first = *last = *step = 0;
    *movable = false;
    const key_spec *specs = cmd->key_specs;
    if (!specs || specs[0].begin == KS_END)
        return;
    if (specs[1].begin == KS_END && specs[0].begin == KS_INDEX && specs[0].find == KS_RANGE) {
        int lk = specs[0].range.lastkey;
        *first = specs[0].pos;
        *last = lk < 0 ? lk : specs[0].pos + lk;
        *step = specs[0].range.step;
        *movable = (specs[0].flags & KS_INCOMPLETE) != 0;
        return;
    }
    int lo = INT_MAX;
    unsigned hi = 0, prev_last = 0;   /* unsigned, as in Redis: a negative lastkey is the end */
    for (const key_spec *s = specs; s->begin != KS_END; s++) {
        if (s->begin != KS_INDEX || s->find != KS_RANGE || s->range.step != 1 ||
            (prev_last && prev_last != (unsigned)(s->pos - 1))) {
            *movable = true;
            continue;
        }
        if (s->flags & KS_INCOMPLETE)
            *movable = true;
        lo = s->pos < lo ? s->pos : lo;
        int abs_last = s->range.lastkey >= 0 ? s->range.lastkey + s->pos : s->range.lastkey;
        hi = (unsigned)abs_last > hi ? (unsigned)abs_last : hi;
        prev_last = hi;
    }
    if (lo == INT_MAX) {
        *movable = true;
        return;
    }
    *first = lo;
    *last = (int)hi;
    *step = 1;
}

/* Error texts quote client bytes: keep them on one line, like Redis does. */
static void append_sanitized(char *dst, size_t cap, size_t *len, const char *p, size_t n)
{
    for (size_t i = 0; i < n && *len + 1 < cap; i++) {
        char ch = p[i];
        dst[(*len)++] = (ch == '\r' || ch == '\n') ? ' ' : ch;
    }
    dst[*len] = 0;
}

/* Redis 7: "ERR unknown command 'x', with args beginning with: 'a' 'b' " */
static void reply_unknown_command(client *c)
{
    char msg[512];
    size_t len = 0;
    msg[0] = 0;
    append_sanitized(msg, sizeof msg, &len, "ERR unknown command '", 21);
    append_sanitized(msg, sizeof msg, &len, c->argv[0].ptr, c->argv[0].len > 128 ? 128 : c->argv[0].len);
    append_sanitized(msg, sizeof msg, &len, "', with args beginning with: ", 29);
    size_t args_start = len;
    for (size_t i = 1; i < c->argc && len - args_start < 128; i++) {
        size_t room = 128 - (len - args_start);
        append_sanitized(msg, sizeof msg, &len, "'", 1);
        append_sanitized(msg, sizeof msg, &len, c->argv[i].ptr, c->argv[i].len < room ? c->argv[i].len : room);
        append_sanitized(msg, sizeof msg, &len, "' ", 2);
    }
    reply_error(&c->out, msg);
}

/* Redis 7: "ERR unknown subcommand 'x'. Try OBJECT HELP." */
static void reply_unknown_subcommand(client *c, const command *parent)
{
    char msg[320], upper[40];
    size_t len = 0, i = 0;
    for (; parent->name[i] && i < sizeof upper - 1; i++)
        upper[i] = (char)toupper((unsigned char)parent->name[i]);
    upper[i] = '\0';
    append_sanitized(msg, sizeof msg, &len, "ERR unknown subcommand '", 24);
    append_sanitized(msg, sizeof msg, &len, c->argv[1].ptr, c->argv[1].len > 128 ? 128 : c->argv[1].len);
    snprintf(msg + len, sizeof msg - len, "'. Try %s HELP.", upper);
    reply_error(&c->out, msg);
}

/* True when argc arguments fit cmd's Redis-style arity (N exact, -N at least N). */
static inline bool arity_ok(const command *cmd, size_t argc)
{
    return cmd->arity > 0 ? (int)argc == cmd->arity : (int)argc >= -cmd->arity;
}

/* The row that runs c->argv: cmd itself, or for a container given a subcommand that
 * subcommand's row (Redis's lookupCommand). NULL after replying the unknown-subcommand
 * error or, when check_arity, the arity error under the full name ('object|encoding'). */
static const command *command_row(client *c, const command *cmd, bool check_arity)
{
    const command *row = command_find_row(cmd, c->argv, c->argc);
    if (!row) {
        reply_unknown_subcommand(c, cmd);
        return NULL;
    }
    if (check_arity && !arity_ok(row, c->argc)) {
        char name[96];
        reply_errorf(&c->out, "ERR wrong number of arguments for '%s' command",
                     command_full_name(cmd, row != cmd ? row : NULL, name, sizeof name));
        return NULL;
    }
    return row;
}

/* Initializes c->keys[] for the resolved key arguments refs[0..n) and writes their
 * shard ids to shards[]. */
static inline void bind_keys(client *c, const cmd_key_ref *refs, int n, uint32_t *shards)
{
    if (c->keys_cap < c->argc) {
        c->keys_cap = c->argc + 8;
        c->keys = realloc(c->keys, c->keys_cap * sizeof *c->keys);
        if (!c->keys)
            abort();
    }
    for (int i = 0; i < n; i++) {
        kv_key *k = &c->keys[refs[i].pos];
        key_init(k, c->argv[refs[i].pos].ptr, c->argv[refs[i].pos].len);
        shards[i] = k->shard;
    }
}

uint64_t command_growth_estimate(const resp_arg *argv, size_t argc)
{
    uint64_t n = 0;
    for (size_t i = 1; i < argc; i++)
        n += argv[i].len + 16;
    return n + 64;
}

/* Evicts, in the namespaces of the command's keys, enough to let `need` bytes fit
 * under the eviction threshold. Returns the bytes freed (0 when the policy is none,
 * nothing was over, or nothing was left to evict). *evictable (if non-NULL) says
 * whether one of those namespaces has an eviction policy and keys left. */
static uint64_t evict_before_write(client *c, const cmd_key_ref *refs, int nrefs, uint64_t need,
                                   kv_txn *t, bool *evictable)
{
    if (evictable) {
        /* decided before anything else: "nothing to evict" must not depend on a
         * momentary "there is room" that a concurrent writer may take back */
        *evictable = false;
        for (int i = 0; i < nrefs; i++) {
            int nsid = key_nsid(&c->keys[refs[i].pos]);
            if (nsid >= 0 && evict_policy_of((uint32_t)nsid) != EVICT_NONE && store_ns_keys((uint32_t)nsid))
                *evictable = true;
        }
    }
    if (store_used_memory() + need <= evict_start_bytes())
        return 0;
    uint64_t freed = 0;
    int prev = -1;
    for (int i = 0; i < nrefs; i++) {
        int nsid = key_nsid(&c->keys[refs[i].pos]);
        if (nsid < 0 || nsid == prev)
            continue;
        prev = nsid;
        freed += evict_namespace(t, (uint32_t)nsid, need);
    }
    return freed;
}

/* How long a command spins on a busy shard before it gives the thread back to its
 * other clients: shard locks are normally held for microseconds, so a brief spin
 * rides out ordinary contention; a longer hold (a stopped worker, a huge command)
 * parks the command instead of stalling everyone the thread serves. */
#define LOCK_SPIN_NS 20000

/* Tells the CPU this is a spin-wait (saves power, yields to a sibling hyperthread). */
static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ volatile("yield");
#endif
}

/* cmd_txn_begin inside command_call: the caller's transaction is open; take what
 * it does not hold yet without waiting. */
static bool nested_txn_begin(client *c, const uint32_t *ids, size_t n)
{
    kv_txn *t = &c->w->txn;
    for (size_t i = 0; i < n; i++) {
        if (!txn_trylock_unordered(t, ids[i])) {
            c->w->nest_relock = true;
            c->w->nest_missing = ids[i];
            c->lock_busy = true;
            return false;
        }
    }
    return true;
}

bool cmd_txn_begin(client *c, uint32_t *ids, size_t n)
{
    if (c->w->nested)
        return nested_txn_begin(c, ids, n);
    kv_txn *t = &c->w->txn;
    txn_begin(t);
    if (txn_trylock_many(t, ids, n))
        return true;
    /* a parked command's retries are one try each: the holder is a long one */
    uint64_t start = c->parked_since_ns ? 0 : clock_mono_ns();
    while (start && clock_mono_ns() - start < LOCK_SPIN_NS) {
        cpu_relax();
        if (txn_trylock_many(t, ids, n))
            return true;
    }
    txn_abort(t);
    const char *busy = script_busy_error(c->w, ids, n);
    c->busy_refused = busy;
    if (busy) {                                  /* a long script holds one: -BUSY */
        reply_truncate(&c->out, c->reply_mark);
        reply_error(&c->out, busy);
        return false;
    }
    c->lock_busy = true;
    return false;
}

int cmd_commit(client *c)
{
    if (c->w->nested)
        return c->w->txn.failed;
    return txn_commit(&c->w->txn);
}

/* WATCH: bumps the version of every key cmd writes (its RW/OW/RM key specs) when
 * it logged changes since undo byte `since`: the one place both top-level and
 * nested (EXEC, script) commands pass after running. */
static inline void touch_written_keys(client *c, const command *cmd, const cmd_key_ref *refs, int n,
                                      uint64_t since)
{
    kv_txn *t = &c->w->txn;
    if (!watch_anyone() || !(cmd->flags & CMD_WRITE) || t->ln->undo_used <= since || t->failed)
        return;
    for (int i = 0; i < n; i++)
        if (refs[i].flags & (KS_RW | KS_OW | KS_RM))
            watch_touch_locked(t, &c->keys[refs[i].pos]);
}

/* True when cmd (a DENYOOM one) grew memory beyond grow_before and used memory is now
 * over the limit: it must be rolled back and answer OOM (or evict and retry). */
static bool over_limit_after(const command *cmd, const kv_txn *t, int64_t grow_before)
{
    return (cmd->flags & CMD_DENYOOM) && t->grow > grow_before && command_memory_over_limit();
}

enum run_result { RUN_DONE = 0, RUN_OOM = 1, RUN_BUSY = 2 };
#define MAX_OOM_RETRIES 64   /* evict-and-retry rounds before a write gets OOM anyway */

/* Runs a table-driven command in one transaction over its keys' shards. RUN_OOM: it
 * would have grown memory past the limit and was rolled back (c->last_grow says by
 * how much); the caller may evict and retry. RUN_BUSY: a shard stayed busy, nothing
 * ran. */
static int run_locked(client *c, const command *cmd, kv_txn *t, const cmd_key_ref *refs, uint32_t *ids,
                      size_t n)
{
    reply_truncate(&c->out, c->reply_mark);
    c->aborted = false;
    if (!cmd_txn_begin(c, ids, n))
        return RUN_BUSY;
    cmd->proc(c);
    if (c->aborted)
        return RUN_DONE;
    touch_written_keys(c, cmd, refs, (int)n, 0);
    if (over_limit_after(cmd, t, 0)) {
        c->last_grow = t->grow;
        txn_abort(t);
        reply_truncate(&c->out, c->reply_mark);
        return RUN_OOM;
    }
    int rc = txn_commit(t);
    if (rc != TXN_OK) {
        c->aborted = true;                       /* the commit rolled back already */
        reply_store_error(c, rc);
    }
    return RUN_DONE;
}

static void command_run(client *c, const command *cmd);

/* Bookkeeping for a command that met a busy shard: its partial reply is dropped, and
 * the first time it counts as a lock wait. */
static void command_parked(client *c)
{
    reply_truncate(&c->out, c->reply_mark);
    c->lock_busy = false;
    if (!c->parked_since_ns) {
        c->parked_since_ns = clock_mono_ns();
        lane_stat_add(c->w->txn.ln, STAT_LOCK_WAITS, 1);
    }
}

/* The argv index whose namespace a command's metrics go to: its first key when that
 * has a fixed position, else 0 (none). */
static int metrics_key_pos(const command *cmd)
{
    const key_spec *s = cmd->key_specs;
    return s && s->begin == KS_INDEX && s->find == KS_RANGE ? s->pos : 0;
}

/* Records one run of cmd (table index idx) in the latency metrics, under the
 * namespace of its first fixed-position key. */
static inline void command_observe(client *c, const command *cmd, int idx, uint64_t elapsed_ns)
{
    uint32_t nsid = METRICS_NO_NS;
    int first = metrics_key_pos(cmd);
    if (first > 0 && (int)c->argc > first) {
        /* key_nsid reads only the bytes before the first '/': no hash needed */
        kv_key k = { c->argv[first].ptr, (uint32_t)c->argv[first].len, 0, 0 };
        int id = key_nsid_existing(&k);
        nsid = id < 0 ? METRICS_NO_NS : (uint32_t)id;
    }
    metrics_observe(c->w->txn.lane_id, (uint32_t)idx, nsid, elapsed_ns);
}

/* Counts the error reply at offset mark of out: total_error_replies and INFO
 * errorstats under its code (the first word). Inline for the common no-error test. */
static void count_error_reply(client *c, const reply_buf *out, size_t mark)
{
    char code[ERRSTATS_CODE_MAX];
    size_t n = 0, end = reply_len(out);
    for (size_t at = mark + 1; at < end && n < sizeof code - 1; at++) {
        char ch = reply_byte_at(out, at);
        if (ch == ' ' || ch == '\r')
            break;
        code[n++] = ch;
    }
    lane_stat_add(c->w->txn.ln, STAT_ERRORS, 1);
    errstats_count(code, n);
}

static inline void count_if_error(client *c, const reply_buf *out, size_t mark)
{
    if (reply_len(out) > mark && reply_byte_at(out, mark) == '-' && !c->error_counted)
        count_error_reply(c, out, mark);
    c->error_counted = false;
}

bool command_exec(client *c)
{
    int idx = command_index(c->argv[0].ptr, c->argv[0].len);
    const command *cmd = idx < 0 ? NULL : all_commands[idx];
    uint64_t start = clock_mono_ns();
    size_t mark = reply_len(&c->out);
    command_run(c, cmd);
    if (c->lock_busy) {
        command_parked(c);
        return false;
    }
    if (c->parked_since_ns) {
        lane_stat_add(c->w->txn.ln, STAT_LOCK_WAIT_US, (int64_t)((start - c->parked_since_ns) / 1000));
        c->parked_since_ns = 0;
    }
    lane_stat_add(c->w->txn.ln, STAT_COMMANDS, 1);
    c->last_cmd_idx = idx < 0 ? c->last_cmd_idx : (uint32_t)idx + 1;
    count_if_error(c, &c->out, mark);            /* every error reply, whoever wrote it */
    if (cmd) {
        uint64_t elapsed_ns = clock_mono_ns() - start;
        command_observe(c, cmd, idx, elapsed_ns);
        slowlog_observe(c, cmd, elapsed_ns);     /* slowlog: a threshold test unless slow */
    }
    return true;
}

/* Runs a command whose n key arguments were resolved into refs: binds and locks
 * them, runs it, and evicts and retries while it does not fit (DENYOOM). ids: room
 * for n shard ids. */
static void run_with_keys(client *c, const command *cmd, const cmd_key_ref *refs, int n, uint32_t *ids)
{
    bind_keys(c, refs, n, ids);
    kv_txn *t = &c->w->txn;
    if (cmd->flags & CMD_DENYOOM)
        evict_before_write(c, refs, n, command_growth_estimate(c->argv, c->argc), t, NULL);
    for (int attempt = 0;; attempt++) {
        int rc = run_locked(c, cmd, t, refs, ids, (size_t)n);
        if (rc != RUN_OOM)
            break;                               /* done, or parked (c->lock_busy) */
        /* it did not fit: the transaction was rolled back; free what it measured
         * in its namespaces (eviction policy permitting) and run it again */
        /* each retry makes more headroom than it needs, so that one writer cannot be
         * starved by others taking the room it freed */
        uint64_t grow = (uint64_t)c->last_grow;
        uint64_t need = grow << (attempt < 10 ? attempt : 10);
        uint64_t limit = __atomic_load_n(&arena_hdr()->memory_limit, __ATOMIC_RELAXED);
        bool evictable = false;
        uint64_t freed = attempt < MAX_OOM_RETRIES ? evict_before_write(c, refs, n, need, t, &evictable) : 0;
        /* Freeing nothing is an OOM only when there is still no room and nothing left
         * to evict: concurrent writers may have made room, or taken the candidates
         * this round had sampled. */
        if (attempt >= MAX_OOM_RETRIES ||
            (freed == 0 && store_used_memory() + grow > limit && !evictable)) {
            lane_stat_add(t->ln, STAT_OOM, 1);
            reply_error(&c->out, ERR_OOM);
            break;
        }
    }
}

/* Room for the resolved keys and shard ids of an argv: on the stack up to 32
 * arguments, else on the heap. */
typedef struct key_room {
    cmd_key_ref *refs;
    uint32_t    *ids;
    cmd_key_ref  stack_refs[32];
    uint32_t     stack_ids[32];
} key_room;

static inline void key_room_init(key_room *r, size_t argc)
{
    r->refs = argc <= 32 ? r->stack_refs : malloc(argc * sizeof *r->refs);
    r->ids = argc <= 32 ? r->stack_ids : malloc(argc * sizeof *r->ids);
    if (!r->refs || !r->ids)
        abort();
}

static inline void key_room_free(key_room *r)
{
    if (r->refs != r->stack_refs) {
        free(r->refs);
        free(r->ids);
    }
}

uint64_t command_evict_for(const command *cmd, const resp_arg *argv, size_t argc, uint64_t need, kv_txn *t)
{
    if (!cmd->key_specs || (cmd->flags & CMD_NOLOCK) || store_used_memory() + need <= evict_start_bytes())
        return 0;
    key_room room;
    key_room_init(&room, argc);
    int n = command_resolve_keys(cmd, argv, (int)argc, room.refs);
    uint64_t freed = 0;
    int prev = -1;
    for (int i = 0; i < n && store_used_memory() + need > evict_start_bytes(); i++) {
        kv_key k;
        key_init(&k, argv[room.refs[i].pos].ptr, argv[room.refs[i].pos].len);
        int nsid = key_nsid_existing(&k);
        if (nsid < 0 || nsid == prev)
            continue;
        prev = nsid;
        freed += evict_namespace(t, (uint32_t)nsid, need);
    }
    key_room_free(&room);
    return freed;
}

bool command_memory_over_limit(void)
{
    return store_used_memory() > __atomic_load_n(&arena_hdr()->memory_limit, __ATOMIC_RELAXED);
}

/* Executes one request against cmd (NULL: unknown command). */
static void command_run(client *c, const command *cmd)
{
    c->reply_mark = reply_len(&c->out);
    c->aborted = false;
    if (!cmd) {
        reply_unknown_command(c);
        multi_flag_error(c);
        return;
    }
    const command *row = cmd;
    if (cmd->subcommands || !arity_ok(cmd, c->argc)) {   /* skipped by a plain command with its arity */
        if (multi_is_exec(cmd)) {
            /* Redis's execCommandAbort: EXEC itself refused ends the transaction */
            multi_discard(c);
            reply_error(&c->out, "EXECABORT Transaction discarded because of: wrong number of arguments for "
                                 "'exec' command");
            return;
        }
        row = command_row(c, cmd, true);
        if (!row) {
            multi_flag_error(c);
            return;
        }
    }
    /* queued as the container: command_call finds the subcommand's row again */
    if (c->multi && multi_intercept(c, cmd, row))
        return;
    cmd = row;
    c->last_cmd = cmd;
    if (persist_refuse_write(c, cmd))
        return;
    if (!cmd->key_specs || (cmd->flags & CMD_NOLOCK)) {
        cmd->proc(c);
        return;
    }
    key_room room;
    key_room_init(&room, c->argc);
    cmd_key_ref *refs = room.refs;
    uint32_t *ids = room.ids;
    int n = command_resolve_keys(cmd, c->argv, (int)c->argc, refs);
    if (n <= 0)
        cmd->proc(c);                            /* a bad numkeys: the handler says why */
    else
        run_with_keys(c, cmd, refs, n, ids);
    key_room_free(&room);
}

/* command_call's body once argv is in place: resolve, lock, run, OOM check. */
static int call_nested(client *c, const command *cmd)
{
    worker_ctx *w = c->w;
    kv_txn *t = &w->txn;
    w->nest_sp = txn_savepoint_take(t);
    w->nest_relock = false;
    c->lock_busy = false;
    c->reply_mark = reply_len(&c->out);
    c->aborted = false;
    if (!cmd) {
        reply_unknown_command(c);
        return CALL_DONE;
    }
    const command *row = command_row(c, cmd, cmd->subcommands != NULL);
    if (!row)
        return CALL_DONE;
    cmd = row;
    c->last_cmd = cmd;
    if (persist_refuse_write(c, cmd))
        return CALL_DONE;
    key_room room;
    key_room_init(&room, c->argc);
    cmd_key_ref *refs = room.refs;
    uint32_t *ids = room.ids;
    int nrefs = cmd->key_specs && !(cmd->flags & CMD_NOLOCK) ? command_resolve_keys(cmd, c->argv, (int)c->argc, refs)
                                                             : 0;
    if (nrefs > 0)
        bind_keys(c, refs, nrefs, ids);
    bool locked = nrefs <= 0 || nested_txn_begin(c, ids, (size_t)nrefs);
    if (locked) {
        cmd->proc(c);
        if (!c->lock_busy && !c->aborted && nrefs > 0)
            touch_written_keys(c, cmd, refs, nrefs, w->nest_sp.undo_used);
    }
    key_room_free(&room);
    if (c->lock_busy) {
        txn_rollback_to(t, &w->nest_sp);
        reply_truncate(&c->out, c->reply_mark);
        c->lock_busy = false;
        return w->nest_relock ? CALL_RELOCK : CALL_DONE;
    }
    if (c->aborted)
        return CALL_DONE;
    if (t->failed) {
        reply_store_error(c, t->failed);
        return CALL_DONE;
    }
    if (!w->nest_allow_oom && over_limit_after(cmd, t, w->nest_sp.grow)) {
        c->last_grow = t->grow;
        txn_rollback_to(t, &w->nest_sp);
        reply_truncate(&c->out, c->reply_mark);
        lane_stat_add(t->ln, STAT_OOM, 1);
        reply_error(&c->out, ERR_OOM);
    }
    return CALL_DONE;
}

int command_call(client *c, const command *cmd, resp_arg *argv, size_t argc)
{
    resp_arg *saved_argv = c->argv;
    size_t saved_argc = c->argc;
    size_t saved_mark = c->reply_mark;          /* the caller's command's, not this one's */
    bool saved_aborted = c->aborted;
    txn_savepoint outer_sp = c->w->nest_sp;     /* a script run by EXEC nests twice */
    c->argv = argv;
    c->argc = argc;
    c->w->nested++;
    uint64_t start = clock_mono_ns();
    size_t mark = reply_len(&c->out);
    int rc = call_nested(c, cmd);
    if (rc == CALL_DONE)
        count_if_error(c, &c->out, mark);        /* EXEC's and scripts' commands too, as Redis */
    c->w->nested--;
    c->w->nest_sp = outer_sp;
    if (rc == CALL_DONE && cmd) {
        lane_stat_add(c->w->txn.ln, STAT_COMMANDS, 1);
        command_observe(c, cmd, command_index(cmd->name, strlen(cmd->name)), clock_mono_ns() - start);
    }
    c->argv = saved_argv;
    c->argc = saved_argc;
    c->reply_mark = saved_mark;
    c->aborted = saved_aborted;
    return rc;
}
