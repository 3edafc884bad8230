/* t_keyspace.c - the generic keyspace commands: DEL, EXISTS, TYPE, the TTL and EXPIRE
 * families, RENAME, COPY, TOUCH, OBJECT, and the commands that visit every shard
 * (KEYS, SCAN, RANDOMKEY, DBSIZE, FLUSHDB, FLUSHALL).
 *
 * Rows with key positions run inside the dispatcher's transaction with every key's
 * shard locked, so their handlers just work on c->keys[i]. The multi-shard commands
 * are CMD_NOLOCK: they open one transaction per shard, in ascending shard order, and
 * never hold two shards at once. Replies and error texts follow Redis 7. */
#include "kvns/command.h"
#include "kvns/rng.h"
#include "kvns/glob.h"
#include "kvns/scan.h"
#include "kvns/shard.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- helpers ------------------------------------------------------------------- */

/* Redis's TYPE name of an entry type. */
static const char *type_name(uint8_t type)
{
    switch (type) {
    case KV_STRING: return "string";
    case KV_LIST:   return "list";
    case KV_HASH:   return "hash";
    case KV_SET:    return "set";
    case KV_ZSET:   return "zset";
    default:        return "none";
    }
}

/* True when a and b name the same key (canonical bytes, so `x` == `default/x`). */
static bool same_key(const kv_key *a, const kv_key *b)
{
    return a->shard == b->shard && a->len == b->len && memcmp(a->ptr, b->ptr, a->len) == 0;
}

/* Lookup like Redis's LOOKUP_NOTOUCH (EXISTS, TYPE, TTL, OBJECT): counts a keyspace
 * hit or miss but leaves the entry's hit counter (eviction order, FREQ) alone. */
static kv_entry *find_notouch(kv_txn *t, const kv_key *k)
{
    kv_entry *e = store_find(t, k);
    shard *sh = shard_at(k->shard);
    __atomic_add_fetch(e ? &sh->stat_hits : &sh->stat_misses, 1, __ATOMIC_RELAXED);
    return e;
}

/* Replies "<prefix><arg><suffix>" as an error, quoting at most max bytes of the client's
 * argument; stops at a NUL and turns CR/LF into spaces, as Redis's %s formatting does. */
static void reply_err_arg(client *c, const char *prefix, const resp_arg *a, size_t max,
                          const char *suffix)
{
    size_t n = a->len < max ? a->len : max;
    char *msg = malloc(strlen(prefix) + n + strlen(suffix) + 1);
    if (!msg)
        abort();
    size_t len = strlen(prefix);
    memcpy(msg, prefix, len);
    for (size_t i = 0; i < n && a->ptr[i]; i++)
        msg[len++] = (a->ptr[i] == '\r' || a->ptr[i] == '\n') ? ' ' : a->ptr[i];
    strcpy(msg + len, suffix);
    reply_error(&c->out, msg);
    free(msg);
}

/* Commits a NOLOCK handler's per-shard transaction. On failure (never expected for
 * reads) the reply written so far is replaced by the error; returns false then. */
static bool shard_commit(client *c)
{
    int rc = cmd_commit(c);
    if (rc == TXN_OK)
        return true;
    c->aborted = true;                   /* the commit rolled back already */
    reply_store_error(c, rc);
    return false;
}

/* ---- DEL, UNLINK, EXISTS, TOUCH, TYPE ------------------------------------------ */

/* DEL key [key ...]: the number of keys that existed and were removed. UNLINK is the
 * same command here: a delete only queues frees for commit, so there is nothing to
 * hand to a background thread. */
static void cmd_del(client *c)
{
    long long n = 0;
    for (size_t i = 1; i < c->argc; i++)
        n += store_delete(&c->w->txn, &c->keys[i]);
    reply_int(&c->out, n);
}

/* EXISTS key [key ...]: how many of the keys exist (a key named twice counts twice). */
static void cmd_exists(client *c)
{
    long long n = 0;
    for (size_t i = 1; i < c->argc; i++)
        n += find_notouch(&c->w->txn, &c->keys[i]) != NULL;
    reply_int(&c->out, n);
}

/* TOUCH key [key ...]: how many exist; counts as a read of each (bumps its hits). */
static void cmd_touch(client *c)
{
    long long n = 0;
    for (size_t i = 1; i < c->argc; i++)
        n += store_find_read(&c->w->txn, &c->keys[i]) != NULL;
    reply_int(&c->out, n);
}

/* TYPE key: string/list/hash/set/zset, or none for a missing key (simple string). */
static void cmd_type(client *c)
{
    kv_entry *e = find_notouch(&c->w->txn, &c->keys[1]);
    reply_simple(&c->out, e ? type_name(e->type) : "none");
}

/* ---- TTL family ------------------------------------------------------------------ */

/* TTL/PTTL/EXPIRETIME/PEXPIRETIME: -2 for a missing key, -1 without a TTL, else the
 * remaining time (or the absolute deadline), seconds rounded like Redis. */
static void ttl_generic(client *c, bool in_ms, bool absolute)
{
    kv_txn *t = &c->w->txn;
    kv_entry *e = find_notouch(t, &c->keys[1]);
    if (!e) {
        reply_int(&c->out, -2);
        return;
    }
    int64_t expire = entry_expire(e);
    if (expire < 0) {
        reply_int(&c->out, -1);
        return;
    }
    int64_t v = absolute ? expire : expire - t->now_ms;
    if (v < 0)
        v = 0;
    reply_int(&c->out, in_ms ? v : (v + 500) / 1000);
}

/* TTL key: remaining seconds. */
static void cmd_ttl(client *c) { ttl_generic(c, false, false); }
/* PTTL key: remaining milliseconds. */
static void cmd_pttl(client *c) { ttl_generic(c, true, false); }
/* EXPIRETIME key: the deadline as a unix time in seconds. */
static void cmd_expiretime(client *c) { ttl_generic(c, false, true); }
/* PEXPIRETIME key: the deadline as a unix time in milliseconds. */
static void cmd_pexpiretime(client *c) { ttl_generic(c, true, true); }

/* ---- EXPIRE family ---------------------------------------------------------------- */

enum { EXP_NX = 1, EXP_XX = 2, EXP_GT = 4, EXP_LT = 8 };

/* Parses the NX/XX/GT/LT options from argv[3] on; replies the error and returns false
 * on an unknown option or an incompatible combination (Redis 7's texts). */
static bool parse_expire_flags(client *c, int *flags)
{
    int f = 0;
    for (size_t j = 3; j < c->argc; j++) {
        const resp_arg *a = &c->argv[j];
        if (arg_is(a, "nx")) {
            f |= EXP_NX;
        } else if (arg_is(a, "xx")) {
            f |= EXP_XX;
        } else if (arg_is(a, "gt")) {
            f |= EXP_GT;
        } else if (arg_is(a, "lt")) {
            f |= EXP_LT;
        } else {
            reply_err_arg(c, "ERR Unsupported option ", a, a->len, "");
            return false;
        }
    }
    if ((f & EXP_NX) && (f & (EXP_XX | EXP_GT | EXP_LT))) {
        reply_error(&c->out, "ERR NX and XX, GT or LT options at the same time are not compatible");
        return false;
    }
    if ((f & EXP_GT) && (f & EXP_LT)) {
        reply_error(&c->out, "ERR GT and LT options at the same time are not compatible");
        return false;
    }
    *flags = f;
    return true;
}

/* Shared body of EXPIRE/PEXPIRE/EXPIREAT/PEXPIREAT, after Redis's expireGenericCommand:
 * the deadline is computed in ms with overflow checks (an overflow is "invalid expire
 * time"); 0 when the key is missing or a condition fails; a deadline already past
 * deletes the key; otherwise the TTL is set. Replies 1 when the key was changed. */
static void expire_generic(client *c, int64_t basetime, bool seconds, const char *name)
{
    kv_txn *t = &c->w->txn;
    const kv_key *k = &c->keys[1];
    int flags;
    long long when;
    if (!parse_expire_flags(c, &flags) || !arg_ll(c, 2, &when))
        return;
    if (seconds) {
        if (when > LLONG_MAX / 1000 || when < LLONG_MIN / 1000)
            goto invalid;
        when *= 1000;
    }
    if (when > LLONG_MAX - basetime)
        goto invalid;
    when += basetime;

    kv_entry *e = store_find(t, k);
    if (!e) {
        reply_int(&c->out, 0);
        return;
    }
    int64_t cur = entry_expire(e);          /* -1: persistent, an infinite TTL */
    if (((flags & EXP_NX) && cur != -1) ||
        ((flags & EXP_XX) && cur == -1) ||
        ((flags & EXP_GT) && (cur == -1 || when <= cur)) ||
        ((flags & EXP_LT) && cur != -1 && when >= cur)) {
        reply_int(&c->out, 0);
        return;
    }
    if (when <= t->now_ms) {
        store_delete(t, k);
    } else if (!store_set_expire(t, k, e, when)) {
        reply_store_error(c, STORE_E_NOMEM);
        return;
    }
    reply_int(&c->out, 1);
    return;
invalid:
    reply_errorf(&c->out, "ERR invalid expire time in '%s' command", name);
}

/* EXPIRE key seconds [NX|XX|GT|LT] */
static void cmd_expire(client *c) { expire_generic(c, c->w->txn.now_ms, true, "expire"); }
/* PEXPIRE key milliseconds [NX|XX|GT|LT] */
static void cmd_pexpire(client *c) { expire_generic(c, c->w->txn.now_ms, false, "pexpire"); }
/* EXPIREAT key unix-seconds [NX|XX|GT|LT] */
static void cmd_expireat(client *c) { expire_generic(c, 0, true, "expireat"); }
/* PEXPIREAT key unix-ms [NX|XX|GT|LT] */
static void cmd_pexpireat(client *c) { expire_generic(c, 0, false, "pexpireat"); }

/* PERSIST key: 1 when a TTL was removed, 0 when the key is missing or has none. */
static void cmd_persist(client *c)
{
    kv_txn *t = &c->w->txn;
    kv_entry *e = store_find(t, &c->keys[1]);
    if (!e || !entry_has_expire(e)) {
        reply_int(&c->out, 0);
        return;
    }
    if (!store_set_expire(t, &c->keys[1], e, -1)) {
        reply_store_error(c, STORE_E_NOMEM);
        return;
    }
    reply_int(&c->out, 1);
}

/* ---- RENAME, RENAMENX, COPY ------------------------------------------------------- */

/* Copies src's entry to dst (keeping TTL and hit counter). Returns the store code. */
static int copy_entry(kv_txn *t, kv_entry *e, const kv_key *dst)
{
    uint32_t hits = e->hits;
    int rc = store_copy(t, e, dst, true);
    if (rc == STORE_OK) {
        kv_entry *ne = store_find(t, dst);
        if (ne)      /* a fresh entry of this transaction: no undo needed */
            __atomic_store_n(&ne->hits, hits, __ATOMIC_RELAXED);
    }
    return rc;
}

/* RENAME/RENAMENX src dst: ERR no such key when src is missing; renaming a key onto
 * itself is a no-op (OK / 0). Otherwise dst is replaced (RENAME) or left alone when it
 * exists (RENAMENX replies 0), and the value moves with its TTL - across shards and
 * namespaces alike, as a copy plus a delete in one transaction. */
static void rename_generic(client *c, bool nx)
{
    kv_txn *t = &c->w->txn;
    const kv_key *src = &c->keys[1], *dst = &c->keys[2];
    kv_entry *e = store_find(t, src);
    if (!e) {
        reply_error(&c->out, ERR_NO_KEY);
        return;
    }
    if (same_key(src, dst)) {
        if (nx)
            reply_int(&c->out, 0);
        else
            reply_ok(&c->out);
        return;
    }
    if (nx && store_find(t, dst)) {
        reply_int(&c->out, 0);
        return;
    }
    int rc = copy_entry(t, e, dst);
    if (rc != STORE_OK) {
        reply_store_error(c, rc);
        return;
    }
    store_delete(t, src);
    if (nx)
        reply_int(&c->out, 1);
    else
        reply_ok(&c->out);
}

/* RENAME key newkey */
static void cmd_rename(client *c) { rename_generic(c, false); }
/* RENAMENX key newkey */
static void cmd_renamenx(client *c) { rename_generic(c, true); }

/* COPY src dst [DB 0] [REPLACE]: 1 when copied (value and TTL), 0 when src is missing
 * or dst exists without REPLACE. There is a single database: DB must be 0. */
static void cmd_copy(client *c)
{
    kv_txn *t = &c->w->txn;
    bool replace = false;
    for (size_t j = 3; j < c->argc; j++) {
        if (arg_is(&c->argv[j], "replace")) {
            replace = true;
        } else if (arg_is(&c->argv[j], "db") && j + 1 < c->argc) {
            long long db;
            if (!arg_ll(c, ++j, &db))
                return;
            if (db < INT_MIN || db > INT_MAX) {
                reply_error(&c->out, "ERR value is out of range, value must between "
                                     "-2147483648 and 2147483647");
                return;
            }
            if (db != 0) {
                reply_error(&c->out, "ERR DB index is out of range");
                return;
            }
        } else {
            reply_error(&c->out, ERR_SYNTAX);
            return;
        }
    }
    const kv_key *src = &c->keys[1], *dst = &c->keys[2];
    if (same_key(src, dst)) {
        reply_error(&c->out, "ERR source and destination objects are the same");
        return;
    }
    kv_entry *e = store_find_read(t, src);
    if (!e || (!replace && store_find(t, dst))) {
        reply_int(&c->out, 0);
        return;
    }
    int rc = store_copy(t, e, dst, true);
    if (rc != STORE_OK) {
        reply_store_error(c, rc);
        return;
    }
    reply_int(&c->out, 1);
}

/* ---- OBJECT ------------------------------------------------------------------------- */

/* Redis's encoding name for a string: "int" for a canonical integer that fits a long
 * long, "embstr" up to 44 bytes, "raw" beyond. */
static const char *string_encoding(const kv_entry *e)
{
    long long v;
    if (e->vlen <= 20 && parse_ll(entry_str(e), e->vlen, &v) == 0)
        return "int";
    return e->vlen <= 44 ? "embstr" : "raw";
}

/* OBJECT ENCODING's answer: the type module's own name for its representation when it
 * has an encoding hook, else Redis's usual small-collection names. */
static const char *entry_encoding(const kv_entry *e)
{
    if (e->type == KV_STRING)
        return string_encoding(e);
    const type_ops *ops = store_type_ops(e->type);
    if (ops && ops->encoding)
        return ops->encoding(entry_obj(e));
    return e->type == KV_SET ? "hashtable" : "listpack";
}

static const char *const object_help[] = {
    "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "ENCODING <key>",
    "    Return the kind of internal representation used in order to store the value",
    "    associated with a <key>.",
    "FREQ <key>",
    "    Return the access frequency index of the <key>. The returned integer is",
    "    proportional to the logarithm of the recent access frequency of the key.",
    "IDLETIME <key>",
    "    Return the idle time of the <key>, that is the approximated number of",
    "    seconds elapsed since the last access to the key.",
    "REFCOUNT <key>",
    "    Return the number of references of the value associated with the specified",
    "    <key>.",
    "HELP",
    "    Prints this help.",
};

/* OBJECT HELP: Redis's text. */
static void object_help_cmd(client *c)
{
    size_t n = sizeof object_help / sizeof object_help[0];
    reply_array(&c->out, (long long)n);
    for (size_t i = 0; i < n; i++)
        reply_simple(&c->out, object_help[i]);
}

/* OBJECT ENCODING key: the encoding's name, or nil for a missing key. */
static void object_encoding_cmd(client *c)
{
    kv_entry *e = find_notouch(&c->w->txn, &c->keys[2]);
    if (e)
        reply_bulk_cstr(&c->out, entry_encoding(e));
    else
        reply_null(&c->out);
}

/* OBJECT FREQ key: the entry's hit counter (kvns's eviction counter, kept whatever
 * the policy), or nil. */
static void object_freq_cmd(client *c)
{
    kv_entry *e = find_notouch(&c->w->txn, &c->keys[2]);
    if (e)
        reply_int(&c->out, e->hits);
    else
        reply_null(&c->out);
}

/* OBJECT IDLETIME key: always 0 (no per-key access clock is kept), or nil. */
static void object_idletime_cmd(client *c)
{
    if (find_notouch(&c->w->txn, &c->keys[2]))
        reply_int(&c->out, 0);
    else
        reply_null(&c->out);
}

/* OBJECT REFCOUNT key: always 1 (values are never shared), or nil. */
static void object_refcount_cmd(client *c)
{
    if (find_notouch(&c->w->txn, &c->keys[2]))
        reply_int(&c->out, 1);
    else
        reply_null(&c->out);
}

/* OBJECT's subcommands: the key of each is argv[2], locked by the dispatcher. */
static const key_spec object_key[] = {
    { KS_RO, KS_INDEX, 2, NULL, KS_RANGE, .range = { 0, 1, 0 } }, { 0 }
};
static const command object_subs[] = {
    { "help", 2, CMD_LOADING | CMD_STALE, NULL, object_help_cmd, NULL,
      "Returns helpful text about the different subcommands.", "6.2.0", "O(1)", NULL },
    { "encoding", 3, CMD_READONLY, object_key, object_encoding_cmd, NULL,
      "Returns the internal encoding of a Redis object.", "2.2.3", "O(1)", NULL },
    { "idletime", 3, CMD_READONLY, object_key, object_idletime_cmd, NULL,
      "Returns the time since the last access to a Redis object.", "2.2.3", "O(1)", NULL },
    { "freq", 3, CMD_READONLY, object_key, object_freq_cmd, NULL,
      "Returns the logarithmic access frequency counter of a Redis object.", "4.0.0", "O(1)", NULL },
    { "refcount", 3, CMD_READONLY, object_key, object_refcount_cmd, NULL,
      "Returns the reference count of a value of a key.", "2.2.3", "O(1)", NULL },
    { 0 }
};

/* ---- KEYS, SCAN, RANDOMKEY ------------------------------------------------------- */

/* What KEYS and SCAN match against each visited entry. */
typedef struct match_ctx {
    reply_buf *out;          /* where matching display names go */
    const char *pat;         /* NULL: every key */
    size_t plen;
    int type;                /* -1: any type; -2: an unknown type name (matches none) */
    long long visited, matched;
} match_ctx;

/* entry_fn: appends e's display name (its canonical key) to the reply when it passes
 * the MATCH and TYPE filters. */
static void match_visit(kv_entry *e, void *arg)
{
    match_ctx *m = arg;
    m->visited++;
    if (m->type != -1 && m->type != e->type)
        return;
    if (m->pat && !glob_match(m->pat, m->plen, entry_key(e), e->klen, false))
        return;
    reply_bulk(m->out, entry_key(e), e->klen);
    m->matched++;
}

/* KEYS pattern: every live key of every shard whose display name matches, visiting
 * the shards one at a time. */
static void cmd_keys(client *c)
{
    kv_txn *t = &c->w->txn;
    const resp_arg *p = &c->argv[1];
    bool all = p->len == 1 && p->ptr[0] == '*';
    match_ctx m = { &c->out, all ? NULL : p->ptr, p->len, -1, 0, 0 };
    size_t h = reply_defer_array(&c->out);
    uint32_t nshards = arena_hdr()->shard_count;
    for (uint32_t s = 0; s < nshards; s++) {
        if (!cmd_txn_begin(c, &s, 1))
            return;
        store_foreach(t, s, match_visit, &m);
        if (!shard_commit(c))
            return;
    }
    reply_fix_array(&c->out, h, m.matched);
}

/* Type filter of SCAN ... TYPE name (case-insensitive, like Redis 7.0). */
static int parse_type_name(const resp_arg *a)
{
    for (int ty = KV_STRING; ty <= KV_ZSET; ty++)
        if (arg_is(a, type_name((uint8_t)ty)))
            return ty;
    return -2;
}

/* SCAN cursor [MATCH pattern] [COUNT n] [TYPE type]: [next cursor (bulk), [keys]].
 * Cursor layout: (v << shard_bits) | shard, v being the shard's reverse-binary cursor
 * (store_scan_step), so every key present for the whole scan is returned at least
 * once: each shard's cursor guarantees it, and shards are visited in order. COUNT
 * bounds the work like Redis: steps continue until COUNT keys were visited (before
 * filtering) or 10*COUNT bucket steps were made; "0" after the last shard. */
static void cmd_scan(client *c)
{
    kv_txn *t = &c->w->txn;
    uint64_t cursor;
    scan_opts o;
    if (!scan_parse_cursor(c, 1, &cursor) || !scan_parse_opts(c, 2, true, &o))
        return;
    reply_buf keys;
    reply_init(&keys);
    keys.proto = c->out.proto;
    match_ctx m = { &keys, o.pat, o.plen, o.type ? parse_type_name(o.type) : -1, 0, 0 };

    const arena_header *hdr = arena_hdr();
    uint32_t nshards = hdr->shard_count, bits = hdr->shard_bits;
    uint32_t s = (uint32_t)(cursor & (nshards - 1));
    uint64_t v = cursor >> bits;
    long long steps = o.max_steps;
    while (s < nshards) {
        if (!cmd_txn_begin(c, &s, 1)) {
            reply_free(&keys);
            return;
        }
        if (shard_at(s)->keys) {     /* an empty shard costs no steps */
            do
                v = store_scan_step(t, s, v, match_visit, &m);
            while (v && --steps > 0 && m.visited < o.count);
        } else {
            v = 0;
        }
        if (!shard_commit(c)) {
            reply_free(&keys);
            return;
        }
        if (v)
            break;
        s++;
        if (m.visited >= o.count || steps <= 0)
            break;
    }
    scan_reply_cursor(c, s >= nshards ? 0 : (v << bits) | s);
    reply_array(&c->out, m.matched);
    reply_splice(&c->out, &keys);
}

/* Replies a random key of shard s when it has one; returns whether it did, or true
 * when the command must stop (the shard was busy, or the commit failed). */
static bool random_from_shard(client *c, uint32_t s)
{
    kv_txn *t = &c->w->txn;
    bool found = false;
    if (!cmd_txn_begin(c, &s, 1))
        return true;
    if (shard_at(s)->keys) {
        kv_entry *e = store_random(t, s);
        if (e) {
            reply_bulk(&c->out, entry_key(e), e->klen);
            found = true;
        }
    }
    return shard_commit(c) ? found : true;
}

/* RANDOMKEY: the display name of a random live key, or null when the store is empty.
 * Tries a few random shards, then takes the first shard in order that has a key. */
static void cmd_randomkey(client *c)
{
    uint32_t nshards = arena_hdr()->shard_count;
    for (int tries = 0; tries < 8; tries++)
        if (random_from_shard(c, (uint32_t)rng_u64() % nshards))
            return;
    for (uint32_t s = 0; s < nshards; s++)
        if (random_from_shard(c, s))
            return;
    reply_null(&c->out);
}

/* ---- DBSIZE, FLUSHDB, FLUSHALL --------------------------------------------------- */

/* DBSIZE: the number of keys, summed over the shards' counters (like Redis, keys that
 * have expired but were not reclaimed yet still count). */
static void cmd_dbsize(client *c)
{
    reply_int(&c->out, (long long)store_keys());
}

/* FLUSHDB/FLUSHALL [ASYNC|SYNC]: empties every shard, one transaction per shard (the
 * single database makes both the same). ASYNC is accepted and runs synchronously:
 * a shard flush releases whole slab runs, O(chunks). */
static void cmd_flush(client *c)
{
    if (c->argc > 2 || (c->argc == 2 && !arg_is(&c->argv[1], "sync") &&
                        !arg_is(&c->argv[1], "async"))) {
        reply_error(&c->out, ERR_SYNTAX);
        return;
    }
    kv_txn *t = &c->w->txn;
    uint32_t nshards = arena_hdr()->shard_count;
    for (uint32_t s = 0; s < nshards; s++) {
        if (!cmd_txn_begin(c, &s, 1))
            return;                          /* run again from shard 0: flushing is idempotent */
        store_flush_shard(t, s);
        if (!shard_commit(c))
            return;
    }
    reply_ok(&c->out);
}

/* ---- the table ------------------------------------------------------------------------ */

#define RO   CMD_READONLY
#define WR   CMD_WRITE
#define FAST CMD_FAST
#define ALL_SHARDS CMD_NOLOCK

const command keyspace_commands[] = {
    { "del", -2, WR, (const key_spec[]){ { KS_RM | KS_DELETE, KS_INDEX, 1, NULL, KS_RANGE, .range = { -1, 1, 0 } }, { 0 } }, cmd_del, "generic",
      "Deletes one or more keys.", "1.0.0", "O(N) where N is the number of keys that will be removed.", NULL },
    { "unlink", -2, WR | FAST, (const key_spec[]){ { KS_RM | KS_DELETE, KS_INDEX, 1, NULL, KS_RANGE, .range = { -1, 1, 0 } }, { 0 } }, cmd_del, "generic",
      "Asynchronously deletes one or more keys.", "4.0.0", "O(1) for each key removed regardless of its size.", NULL },
    { "exists", -2, RO | FAST, (const key_spec[]){ { KS_RO, KS_INDEX, 1, NULL, KS_RANGE, .range = { -1, 1, 0 } }, { 0 } }, cmd_exists, "generic",
      "Determines whether one or more keys exist.", "1.0.0", "O(N) where N is the number of keys to check.", NULL },
    { "touch", -2, RO | FAST, (const key_spec[]){ { KS_RO, KS_INDEX, 1, NULL, KS_RANGE, .range = { -1, 1, 0 } }, { 0 } }, cmd_touch, "generic",
      "Returns the number of existing keys out of those specified after updating the time they were last accessed.",
      "3.2.1", "O(N) where N is the number of keys that will be touched.", NULL },
    { "type", 2, RO | FAST, (const key_spec[]){ { KS_RO, KS_INDEX, 1, NULL, KS_RANGE, .range = { 0, 1, 0 } }, { 0 } }, cmd_type, "generic",
      "Determines the type of value stored at a key.", "1.0.0", "O(1)", NULL },
    { "ttl", 2, RO | FAST, (const key_spec[]){ { KS_RO | KS_ACCESS, KS_INDEX, 1, NULL, KS_RANGE, .range = { 0, 1, 0 } }, { 0 } }, cmd_ttl, "generic",
      "Returns the expiration time in seconds of a key.", "1.0.0", "O(1)", NULL },
    { "pttl", 2, RO | FAST, (const key_spec[]){ { KS_RO | KS_ACCESS, KS_INDEX, 1, NULL, KS_RANGE, .range = { 0, 1, 0 } }, { 0 } }, cmd_pttl, "generic",
      "Returns the expiration time in milliseconds of a key.", "2.6.0", "O(1)", NULL },
    { "expiretime", 2, RO | FAST, (const key_spec[]){ { KS_RO | KS_ACCESS, KS_INDEX, 1, NULL, KS_RANGE, .range = { 0, 1, 0 } }, { 0 } }, cmd_expiretime, "generic",
      "Returns the expiration time of a key as a Unix timestamp.", "7.0.0", "O(1)", NULL },
    { "pexpiretime", 2, RO | FAST, (const key_spec[]){ { KS_RO | KS_ACCESS, KS_INDEX, 1, NULL, KS_RANGE, .range = { 0, 1, 0 } }, { 0 } }, cmd_pexpiretime, "generic",
      "Returns the expiration time of a key as a Unix milliseconds timestamp.", "7.0.0", "O(1)", NULL },
    { "expire", -3, WR | FAST, (const key_spec[]){ { KS_RW | KS_UPDATE, KS_INDEX, 1, NULL, KS_RANGE, .range = { 0, 1, 0 } }, { 0 } }, cmd_expire, "generic",
      "Sets the expiration time of a key in seconds.", "1.0.0", "O(1)", NULL },
    { "pexpire", -3, WR | FAST, (const key_spec[]){ { KS_RW | KS_UPDATE, KS_INDEX, 1, NULL, KS_RANGE, .range = { 0, 1, 0 } }, { 0 } }, cmd_pexpire, "generic",
      "Sets the expiration time of a key in milliseconds.", "2.6.0", "O(1)", NULL },
    { "expireat", -3, WR | FAST, (const key_spec[]){ { KS_RW | KS_UPDATE, KS_INDEX, 1, NULL, KS_RANGE, .range = { 0, 1, 0 } }, { 0 } }, cmd_expireat, "generic",
      "Sets the expiration time of a key to a Unix timestamp.", "1.2.0", "O(1)", NULL },
    { "pexpireat", -3, WR | FAST, (const key_spec[]){ { KS_RW | KS_UPDATE, KS_INDEX, 1, NULL, KS_RANGE, .range = { 0, 1, 0 } }, { 0 } }, cmd_pexpireat, "generic",
      "Sets the expiration time of a key to a Unix milliseconds timestamp.", "2.6.0", "O(1)", NULL },
    { "persist", 2, WR | FAST, (const key_spec[]){ { KS_RW | KS_UPDATE, KS_INDEX, 1, NULL, KS_RANGE, .range = { 0, 1, 0 } }, { 0 } }, cmd_persist, "generic",
      "Removes the expiration time of a key.", "2.2.0", "O(1)", NULL },
    { "rename", 3, WR, (const key_spec[]){ { KS_RW | KS_ACCESS | KS_DELETE, KS_INDEX, 1, NULL, KS_RANGE, .range = { 0, 1, 0 } }, { KS_OW | KS_UPDATE, KS_INDEX, 2, NULL, KS_RANGE, .range = { 0, 1, 0 } }, { 0 } }, cmd_rename, "generic",
      "Renames a key and overwrites the destination.", "1.0.0", "O(1)", NULL },
    { "renamenx", 3, WR | FAST, (const key_spec[]){ { KS_RW | KS_ACCESS | KS_DELETE, KS_INDEX, 1, NULL, KS_RANGE, .range = { 0, 1, 0 } }, { KS_OW | KS_INSERT, KS_INDEX, 2, NULL, KS_RANGE, .range = { 0, 1, 0 } }, { 0 } }, cmd_renamenx, "generic",
      "Renames a key only when the target key name doesn't exist.", "1.0.0", "O(1)", NULL },
    { "copy", -3, WR | CMD_DENYOOM, (const key_spec[]){ { KS_RO | KS_ACCESS, KS_INDEX, 1, NULL, KS_RANGE, .range = { 0, 1, 0 } }, { KS_OW | KS_UPDATE, KS_INDEX, 2, NULL, KS_RANGE, .range = { 0, 1, 0 } }, { 0 } }, cmd_copy, "generic",
      "Copies the value of a key to a new key.", "6.2.0",
      "O(N) worst case for collections, where N is the number of nested items. O(1) for string values.", NULL },
    { "object", -2, 0, NULL, NULL, "generic",
      "A container for object introspection commands.", "2.2.3", "Depends on subcommand.", object_subs },
    { "keys", 2, RO | ALL_SHARDS, NULL, cmd_keys, "generic",
      "Returns all key names that match a pattern.", "1.0.0",
      "O(N) with N being the number of keys in the database, under the assumption that the key names in the database and the given pattern have limited length.", NULL },
    { "scan", -2, RO | ALL_SHARDS, NULL, cmd_scan, "generic",
      "Iterates over the key names in the database.", "2.8.0",
      "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.", NULL },
    { "randomkey", 1, RO | ALL_SHARDS, NULL, cmd_randomkey, "generic",
      "Returns a random key name from the database.", "1.0.0", "O(1)", NULL },
    { "dbsize", 1, RO | FAST | ALL_SHARDS, NULL, cmd_dbsize, "server",
      "Returns the number of keys in the database.", "1.0.0", "O(1)", NULL },
    { "flushdb", -1, WR | ALL_SHARDS, NULL, cmd_flush, "server",
      "Remove all keys from the current database.", "1.0.0",
      "O(N) where N is the number of keys in the selected database", NULL },
    { "flushall", -1, WR | ALL_SHARDS, NULL, cmd_flush, "server",
      "Removes all keys from all databases.", "1.0.0",
      "O(N) where N is the total number of keys in all databases", NULL },
    { 0 },
};
