/* t_set.c - set commands (Redis 7 semantics) over shm/set.c. Handlers run inside the
 * dispatcher's transaction with every key's shard locked (SINTERCARD's keys too,
 * resolved from its numkeys argument by its key spec). Results of the
 * multi-set commands are gathered in process memory first (copies), then replied or
 * built into the destination in fresh memory - so a STORE command logs O(1) undo
 * whatever the result size, and works across shards and namespaces. */
#include "kvns/command.h"
#include "kvns/rng.h"
#include "kvns/scan.h"
#include "kvns/set.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The transaction the dispatcher (or SINTERCARD) opened. */
static kv_txn *txn_of(client *c) { return &c->w->txn; }

/* ---- process-local member collections ------------------------------------------------ */

#define POOL_CHUNK (64 * 1024)

/* A vector of member copies (bytes in chunks that never move), optionally with a hash
 * index to reject duplicates. */
typedef struct member_vec {
    hs_str  *v;
    size_t   n, cap;
    char   **chunks;
    size_t   nchunks;
    char    *cur;            /* free space of the last chunk */
    size_t   left;
    uint32_t *index;         /* open addressing: position + 1, 0 = empty */
    size_t   index_cap;
} member_vec;

/* realloc that aborts on failure. */
static void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (!p)
        abort();
    return p;
}

/* Copies len bytes into the pool; returns the stable copy. */
static const char *mv_copy(member_vec *mv, const char *p, size_t len)
{
    if (len > mv->left) {
        size_t size = len > POOL_CHUNK ? len : POOL_CHUNK;
        mv->chunks = xrealloc(mv->chunks, (mv->nchunks + 1) * sizeof *mv->chunks);
        mv->cur = mv->chunks[mv->nchunks++] = xrealloc(NULL, size);
        mv->left = size;
    }
    char *dst = mv->cur;
    if (len)
        memcpy(dst, p, len);
    mv->cur += len;
    mv->left -= len;
    return dst;
}

/* Appends a copy of m. */
static void mv_append(member_vec *mv, hs_str m)
{
    if (mv->n == mv->cap) {
        mv->cap = mv->cap ? mv->cap * 2 : 64;
        mv->v = xrealloc(mv->v, mv->cap * sizeof *mv->v);
    }
    mv->v[mv->n++] = (hs_str){ mv_copy(mv, m.p, m.len), m.len };
}

/* Rebuilds the duplicate index for twice the members. */
static void mv_reindex(member_vec *mv)
{
    mv->index_cap = mv->index_cap ? mv->index_cap * 2 : 256;
    free(mv->index);
    mv->index = calloc(mv->index_cap, sizeof *mv->index);
    if (!mv->index)
        abort();
    for (size_t i = 0; i < mv->n; i++) {
        size_t at = adict_hash(mv->v[i].p, mv->v[i].len);
        while (mv->index[at & (mv->index_cap - 1)])
            at++;
        mv->index[at & (mv->index_cap - 1)] = (uint32_t)(i + 1);
    }
}

/* Appends m unless an equal member is already there; returns true when appended. */
static bool mv_add_unique(member_vec *mv, hs_str m)
{
    if ((mv->n + 1) * 2 > mv->index_cap)
        mv_reindex(mv);
    for (size_t at = adict_hash(m.p, m.len);; at++) {
        uint32_t *slot = &mv->index[at & (mv->index_cap - 1)];
        if (!*slot) {
            mv_append(mv, m);
            *slot = (uint32_t)mv->n;
            return true;
        }
        const hs_str *x = &mv->v[*slot - 1];
        if (x->len == m.len && memcmp(x->p, m.p, m.len) == 0)
            return false;
    }
}

/* Releases everything mv holds. */
static void mv_free(member_vec *mv)
{
    for (size_t i = 0; i < mv->nchunks; i++)
        free(mv->chunks[i]);
    free(mv->chunks);
    free(mv->v);
    free(mv->index);
    memset(mv, 0, sizeof *mv);
}

/* set_fn: appends a copy of the member. */
static void collect_member(hs_str m, void *arg) { mv_append(arg, m); }
/* set_fn: appends a copy unless already collected. */
static void collect_unique(hs_str m, void *arg) { mv_add_unique(arg, m); }

/* Replies the collected members as a RESP3 set or an array. */
static void reply_members(client *c, const member_vec *mv, bool as_set)
{
    if (as_set)
        reply_set(&c->out, (long long)mv->n);
    else
        reply_array(&c->out, (long long)mv->n);
    for (size_t i = 0; i < mv->n; i++)
        reply_bulk(&c->out, mv->v[i].p, mv->v[i].len);
}

/* ---- lookups and writes ------------------------------------------------------------------ */

/* argv[from..from+n) as byte strings (malloc'd). */
static hs_str *args_str(client *c, size_t from, size_t n)
{
    hs_str *v = xrealloc(NULL, (n + 1) * sizeof *v);
    for (size_t i = 0; i < n; i++)
        v[i] = (hs_str){ c->argv[from + i].ptr, c->argv[from + i].len };
    return v;
}

/* Adds m[0..n) to the set at k (entry e, or a new key when e is NULL, created with
 * Redis's setTypeCreate choice for size_hint members). Returns the number added, or
 * -1 after aborting the command. */
static long long set_write(client *c, const kv_key *k, kv_entry *e, const hs_str *m, size_t n, size_t size_hint)
{
    kv_txn *t = txn_of(c);
    long long added;
    if (e) {
        added = set_add(t, k->shard, e, entry_obj(e), m, n);
    } else {
        aoff obj = set_new(t, k->shard, set_initial_encoding(m[0], size_hint));
        added = obj ? set_add(t, k->shard, NULL, obj, m, n) : -1;
        if (added >= 0) {
            int rc = store_put_object(t, k, KV_SET, obj, -1, NULL);
            if (rc != STORE_OK) {
                reply_store_error(c, rc);
                return -1;
            }
        }
    }
    if (added < 0 || t->failed) {
        reply_store_error(c, STORE_E_NOMEM);
        return -1;
    }
    return added;
}

/* Removes m[0..n) from the set e at k, deleting the key when it empties. Returns how
 * many were removed, or -1 after aborting. */
static long long set_remove(client *c, const kv_key *k, kv_entry *e, const hs_str *m, size_t n)
{
    kv_txn *t = txn_of(c);
    long long removed = set_rem(t, k->shard, e, entry_obj(e), m, n);
    if (removed < 0 || t->failed) {
        reply_store_error(c, STORE_E_NOMEM);
        return -1;
    }
    if (set_len(entry_obj(e)) == 0)
        store_delete(t, k);
    return removed;
}

/* ---- single-set commands ---------------------------------------------------------------- */

/* SADD key member [member ...]: how many members were new. */
static void cmd_sadd(client *c)
{
    kv_entry *e;
    if (!key_lookup_typed(c, 1, KV_SET, KEY_WRITE, &e))
        return;
    hs_str *m = args_str(c, 2, c->argc - 2);
    long long added = set_write(c, &c->keys[1], e, m, c->argc - 2, c->argc - 2);
    free(m);
    if (added >= 0)
        reply_int(&c->out, added);
}

/* SREM key member [member ...]: how many were removed. */
static void cmd_srem(client *c)
{
    kv_entry *e;
    if (!key_lookup_typed(c, 1, KV_SET, KEY_WRITE, &e))
        return;
    if (!e) {
        reply_int(&c->out, 0);
        return;
    }
    hs_str *m = args_str(c, 2, c->argc - 2);
    long long removed = set_remove(c, &c->keys[1], e, m, c->argc - 2);
    free(m);
    if (removed >= 0)
        reply_int(&c->out, removed);
}

/* SMEMBERS key: every member, as a RESP3 set. */
static void cmd_smembers(client *c)
{
    kv_entry *e;
    if (!key_lookup_typed(c, 1, KV_SET, KEY_READ, &e))
        return;
    member_vec mv = { 0 };
    if (e)
        set_foreach(entry_obj(e), collect_member, &mv);
    reply_members(c, &mv, true);
    mv_free(&mv);
}

/* SCARD key. */
static void cmd_scard(client *c)
{
    kv_entry *e;
    if (key_lookup_typed(c, 1, KV_SET, KEY_READ, &e))
        reply_int(&c->out, e ? (long long)set_len(entry_obj(e)) : 0);
}

/* SISMEMBER key member: 1 or 0. */
static void cmd_sismember(client *c)
{
    kv_entry *e;
    if (key_lookup_typed(c, 1, KV_SET, KEY_READ, &e))
        reply_int(&c->out, e && set_contains(entry_obj(e), c->argv[2].ptr, c->argv[2].len));
}

/* SMISMEMBER key member [member ...]: an array of 1 and 0. */
static void cmd_smismember(client *c)
{
    kv_entry *e;
    if (!key_lookup_typed(c, 1, KV_SET, KEY_READ, &e))
        return;
    reply_array(&c->out, (long long)(c->argc - 2));
    for (size_t i = 2; i < c->argc; i++)
        reply_int(&c->out, e && set_contains(entry_obj(e), c->argv[i].ptr, c->argv[i].len));
}

/* SMOVE source destination member: 1 when moved (or when source == destination and
 * member belongs to it), else 0. Both shards are locked, so the member is removed and
 * added in one transaction: never lost, never in both. */
static void cmd_smove(client *c)
{
    kv_txn *t = txn_of(c);
    kv_entry *src = store_find(t, &c->keys[1]);
    kv_entry *dst = store_find(t, &c->keys[2]);
    hs_str m = { c->argv[3].ptr, c->argv[3].len };
    if (!src) {
        reply_int(&c->out, 0);
        return;
    }
    if (src->type != KV_SET || (dst && dst->type != KV_SET)) {
        reply_error(&c->out, ERR_WRONGTYPE);
        return;
    }
    if (src == dst) {
        reply_int(&c->out, set_contains(entry_obj(src), m.p, m.len));
        return;
    }
    long long removed = set_remove(c, &c->keys[1], src, &m, 1);
    if (removed <= 0) {
        if (removed == 0)
            reply_int(&c->out, 0);
        return;
    }
    dst = store_find(t, &c->keys[2]);        /* the source's deletion may have moved things */
    if (set_write(c, &c->keys[2], dst, &m, 1, 1) >= 0)
        reply_int(&c->out, 1);
}

/* ---- random members ----------------------------------------------------------------------- */

/* Parses SRANDMEMBER's count (Redis's range -LONG_MAX..LONG_MAX). */
static bool count_arg(client *c, size_t i, long long *out)
{
    if (!arg_ll(c, i, out))
        return false;
    if (*out == LLONG_MIN) {
        reply_error(&c->out, "ERR value is out of range, value must between -9223372036854775807 and "
                             "9223372036854775807");
        return false;
    }
    return true;
}

/* Up to count distinct random members of obj (count < size), as Redis's SRANDMEMBER
 * cases 3 (most of the set: drop random members) and 4 (a few: random picks). */
static void random_distinct(aoff obj, uint64_t count, member_vec *mv)
{
    uint64_t size = set_len(obj);
    if (count * 3 > size) {
        set_foreach(obj, collect_member, mv);
        while (mv->n > count) {
            size_t i = (size_t)(rng_u64() % mv->n);
            mv->v[i] = mv->v[--mv->n];
        }
        return;
    }
    set_member r;
    while (mv->n < count) {
        set_random(obj, &r);
        mv_add_unique(mv, r.s);
    }
}

/* SRANDMEMBER key [count]. */
static void cmd_srandmember(client *c)
{
    long long l = 0;
    if (c->argc > 3) {
        reply_error(&c->out, ERR_SYNTAX);
        return;
    }
    if (c->argc == 3 && !count_arg(c, 2, &l))
        return;
    kv_entry *e;
    if (!key_lookup_typed(c, 1, KV_SET, KEY_READ, &e))
        return;
    set_member r;
    if (c->argc == 2) {
        if (!e) {
            reply_null(&c->out);
            return;
        }
        set_random(entry_obj(e), &r);
        reply_bulk(&c->out, r.s.p, r.s.len);
        return;
    }
    uint64_t count = l < 0 ? (uint64_t)-l : (uint64_t)l;
    if (!e || count == 0) {
        reply_array(&c->out, 0);
        return;
    }
    aoff obj = entry_obj(e);
    if (l < 0 || count == 1) {
        reply_array(&c->out, (long long)count);
        for (uint64_t i = 0; i < count; i++) {
            set_random(obj, &r);
            reply_bulk(&c->out, r.s.p, r.s.len);
        }
        return;
    }
    member_vec mv = { 0 };
    if (count >= set_len(obj))
        set_foreach(obj, collect_member, &mv);
    else
        random_distinct(obj, count, &mv);
    reply_members(c, &mv, false);
    mv_free(&mv);
}

#define SPOP_LOGGED_MAX 65536    /* larger pops from a hashtable rebuild the rest */

/* SPOP key count: pops count random members (a RESP3 set). Small pops remove members
 * in place; a large pop from a hashtable builds the remaining members into a fresh
 * set that replaces the key (keeping its TTL), so the undo log stays small. */
static void spop_count(client *c, kv_entry *e, uint64_t count)
{
    kv_txn *t = txn_of(c);
    const kv_key *k = &c->keys[1];
    aoff obj = entry_obj(e);
    uint64_t size = set_len(obj);
    member_vec mv = { 0 };
    if (count >= size) {
        set_foreach(obj, collect_member, &mv);
        reply_members(c, &mv, true);
        mv_free(&mv);
        store_delete(t, k);
        return;
    }
    bool big = strcmp(set_encoding(obj), "hashtable") == 0 && count > SPOP_LOGGED_MAX;
    if (!big) {
        random_distinct(obj, count, &mv);
        if (set_remove(c, k, e, mv.v, mv.n) >= 0)
            reply_members(c, &mv, true);
        mv_free(&mv);
        return;
    }
    /* shuffle the first count members into place: they are popped, the rest stay */
    set_foreach(obj, collect_member, &mv);
    for (uint64_t i = 0; i < count; i++) {
        size_t j = i + (size_t)(rng_u64() % (mv.n - i));
        hs_str x = mv.v[i];
        mv.v[i] = mv.v[j];
        mv.v[j] = x;
    }
    aoff rest = set_build(t, k->shard, mv.v + count, mv.n - count);
    int rc = rest ? store_put_object(t, k, KV_SET, rest, entry_expire(e), NULL) : STORE_E_NOMEM;
    if (rc != STORE_OK) {
        reply_store_error(c, rc);
    } else {
        mv.n = count;
        reply_members(c, &mv, true);
    }
    mv_free(&mv);
}

/* SPOP key [count]. */
static void cmd_spop(client *c)
{
    long long count = 0;
    if (c->argc > 3) {
        reply_error(&c->out, ERR_SYNTAX);
        return;
    }
    if (c->argc == 3) {
        if (parse_ll(c->argv[2].ptr, c->argv[2].len, &count) != 0 || count < 0) {
            reply_error(&c->out, "ERR value is out of range, must be positive");
            return;
        }
    }
    kv_entry *e;
    if (!key_lookup_typed(c, 1, KV_SET, KEY_WRITE, &e))
        return;
    if (!e || (c->argc == 3 && count == 0)) {   /* as Redis: the type is checked first */
        if (c->argc == 3)
            reply_set(&c->out, 0);
        else
            reply_null(&c->out);
        return;
    }
    if (c->argc == 3) {
        spop_count(c, e, (uint64_t)count);
        return;
    }
    set_member r;
    set_random(entry_obj(e), &r);
    char *copy = xrealloc(NULL, r.s.len);
    memcpy(copy, r.s.p, r.s.len);
    hs_str m = { copy, r.s.len };
    if (set_remove(c, &c->keys[1], e, &m, 1) >= 0)
        reply_bulk(&c->out, copy, m.len);
    free(copy);
}

/* ---- SSCAN --------------------------------------------------------------------------------- */

/* SSCAN key cursor [MATCH pattern] [COUNT count]. */
static void cmd_sscan(client *c)
{
    uint64_t cursor;
    scan_opts o;
    kv_entry *e = scan_key_begin(c, KV_SET, &cursor, &o);
    if (!e)
        return;
    aoff obj = entry_obj(e);
    member_vec mv = { 0 };
    long long maxiterations = o.max_steps;
    do
        cursor = set_scan(obj, cursor, collect_member, &mv);
    while (cursor && maxiterations-- && (long long)mv.n < o.count);
    size_t kept = 0;
    for (size_t i = 0; i < mv.n; i++)
        if (scan_match(&o, mv.v[i].p, mv.v[i].len))
            mv.v[kept++] = mv.v[i];
    mv.n = kept;
    scan_reply_cursor(c, cursor);
    reply_members(c, &mv, false);
    mv_free(&mv);
}

/* ---- multi-set algebra ---------------------------------------------------------------------- */

enum set_op { OP_UNION, OP_INTER, OP_DIFF };

/* Looks up keys[first..first+n) as sets. Missing keys give 0 in objs[]. Returns false
 * after replying WRONGTYPE. */
static bool lookup_sets(client *c, const kv_key *keys, size_t n, aoff *objs)
{
    for (size_t i = 0; i < n; i++) {
        kv_entry *e;
        if (!key_lookup_typed_at(c, &keys[i], KV_SET, KEY_READ, &e))
            return false;
        objs[i] = e ? entry_obj(e) : 0;
    }
    return true;
}

/* qsort order of set objects by cardinality (smallest first). */
static int cmp_size(const void *a, const void *b)
{
    uint64_t x = set_len(*(const aoff *)a), y = set_len(*(const aoff *)b);
    return x < y ? -1 : x > y;
}

struct inter_ctx {
    const aoff *others;
    size_t n;
    member_vec *out;
    uint64_t limit;          /* stop after this many (0: no limit) */
    uint64_t found;
    bool count_only;
};

/* set_fn: counts (and keeps) a member of the smallest set found in all others. */
static void inter_visit(hs_str m, void *arg)
{
    struct inter_ctx *x = arg;
    if (x->limit && x->found >= x->limit)
        return;
    for (size_t i = 0; i < x->n; i++)
        if (!set_contains(x->others[i], m.p, m.len))
            return;
    x->found++;
    if (!x->count_only)
        mv_append(x->out, m);
}

/* Intersection of objs[0..n) (all present), smallest first; counts only when out is
 * NULL. Returns the cardinality found (stopping at limit when nonzero). */
static uint64_t intersect(aoff *objs, size_t n, member_vec *out, uint64_t limit)
{
    qsort(objs, n, sizeof *objs, cmp_size);
    struct inter_ctx x = { objs + 1, n - 1, out, limit, 0, out == NULL };
    set_foreach(objs[0], inter_visit, &x);
    return x.found;
}

struct diff_ctx {
    const aoff *others;
    size_t n;
    member_vec *out;
};

/* set_fn: keeps a member of the first set found in none of the others. */
static void diff_visit(hs_str m, void *arg)
{
    struct diff_ctx *x = arg;
    for (size_t i = 0; i < x->n; i++)
        if (x->others[i] && set_contains(x->others[i], m.p, m.len))
            return;
    mv_append(x->out, m);
}

/* Computes op over the sets keys[0..n) into out. Returns false after replying an
 * error (WRONGTYPE). */
static bool set_algebra(client *c, enum set_op op, const kv_key *keys, size_t n, member_vec *out)
{
    aoff *objs = xrealloc(NULL, n * sizeof *objs);
    if (!lookup_sets(c, keys, n, objs)) {
        free(objs);
        return false;
    }
    if (op == OP_UNION) {
        for (size_t i = 0; i < n; i++)
            if (objs[i])
                set_foreach(objs[i], collect_unique, out);
    } else if (op == OP_INTER) {
        bool empty = false;
        for (size_t i = 0; i < n; i++)
            empty |= !objs[i];
        if (!empty)
            intersect(objs, n, out, 0);
    } else if (objs[0]) {
        struct diff_ctx x = { objs + 1, n - 1, out };
        set_foreach(objs[0], diff_visit, &x);
    }
    free(objs);
    return true;
}

/* SUNION/SINTER/SDIFF key [key ...]: the resulting members as a RESP3 set. */
static void algebra_reply(client *c, enum set_op op)
{
    member_vec mv = { 0 };
    if (set_algebra(c, op, &c->keys[1], c->argc - 1, &mv))
        reply_members(c, &mv, true);
    mv_free(&mv);
}

/* SUNIONSTORE/SINTERSTORE/SDIFFSTORE destination key [key ...]: stores the result
 * (replacing whatever destination held, TTL dropped) and returns its size; an empty
 * result deletes the destination. */
static void algebra_store(client *c, enum set_op op)
{
    kv_txn *t = txn_of(c);
    member_vec mv = { 0 };
    if (!set_algebra(c, op, &c->keys[2], c->argc - 2, &mv)) {
        mv_free(&mv);
        return;
    }
    const kv_key *dst = &c->keys[1];
    if (mv.n == 0) {
        store_delete(t, dst);
        reply_int(&c->out, 0);
        mv_free(&mv);
        return;
    }
    aoff obj = set_build(t, dst->shard, mv.v, mv.n);
    int rc = obj ? store_put_object(t, dst, KV_SET, obj, -1, NULL) : STORE_E_NOMEM;
    if (rc != STORE_OK)
        reply_store_error(c, rc);
    else
        reply_int(&c->out, (long long)mv.n);
    mv_free(&mv);
}

/* SUNION, SINTER, SDIFF and their STORE forms. */
static void cmd_sunion(client *c) { algebra_reply(c, OP_UNION); }
static void cmd_sinter(client *c) { algebra_reply(c, OP_INTER); }
static void cmd_sdiff(client *c) { algebra_reply(c, OP_DIFF); }
static void cmd_sunionstore(client *c) { algebra_store(c, OP_UNION); }
static void cmd_sinterstore(client *c) { algebra_store(c, OP_INTER); }
static void cmd_sdiffstore(client *c) { algebra_store(c, OP_DIFF); }

/* SINTERCARD numkeys key [key ...] [LIMIT limit]: the intersection's cardinality,
 * counting stops at limit (0: none). */
static void cmd_sintercard(client *c)
{
    long long numkeys, limit = 0;
    if (parse_ll(c->argv[1].ptr, c->argv[1].len, &numkeys) != 0 || numkeys < 1) {
        reply_error(&c->out, "ERR numkeys should be greater than 0");
        return;
    }
    if ((unsigned long long)numkeys > c->argc - 2) {
        reply_error(&c->out, "ERR Number of keys can't be greater than number of args");
        return;
    }
    for (size_t i = 2 + (size_t)numkeys; i < c->argc; i += 2) {
        if (i + 1 < c->argc && arg_is(&c->argv[i], "limit")) {
            if (parse_ll(c->argv[i + 1].ptr, c->argv[i + 1].len, &limit) != 0 || limit < 0) {
                reply_error(&c->out, "ERR LIMIT can't be negative");
                return;
            }
        } else {
            reply_error(&c->out, ERR_SYNTAX);
            return;
        }
    }
    size_t n = (size_t)numkeys;
    aoff *objs = xrealloc(NULL, n * sizeof *objs);
    if (lookup_sets(c, &c->keys[2], n, objs)) {
        bool empty = false;
        for (size_t i = 0; i < n; i++)
            empty |= !objs[i];
        reply_int(&c->out, empty ? 0 : (long long)intersect(objs, n, NULL, (uint64_t)limit));
    }
    free(objs);
}

#define W (CMD_WRITE | CMD_DENYOOM)
#define R (CMD_READONLY)
const command set_commands[] = {
    { "sadd", -3, W | CMD_FAST, (const key_spec[]){ { KS_RW | KS_INSERT, KS_INDEX, 1, NULL, KS_RANGE, .range = { 0, 1, 0 } }, { 0 } }, cmd_sadd, "set", "Adds one or more members to a set. Creates the key if it doesn't exist.", "1.0.0", "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.", NULL },
    { "srem", -3, CMD_WRITE | CMD_FAST, (const key_spec[]){ { KS_RW | KS_DELETE, KS_INDEX, 1, NULL, KS_RANGE, .range = { 0, 1, 0 } }, { 0 } }, cmd_srem, "set", "Removes one or more members from a set. Deletes the set if the last member was removed.", "1.0.0", "O(N) where N is the number of members to be removed.", NULL },
    { "smembers", 2, R, (const key_spec[]){ { KS_RO | KS_ACCESS, KS_INDEX, 1, NULL, KS_RANGE, .range = { 0, 1, 0 } }, { 0 } }, cmd_smembers, "set", "Returns all members of a set.", "1.0.0", "O(N) where N is the set cardinality.", NULL },
    { "scard", 2, R | CMD_FAST, (const key_spec[]){ { KS_RO, KS_INDEX, 1, NULL, KS_RANGE, .range = { 0, 1, 0 } }, { 0 } }, cmd_scard, "set", "Returns the number of members in a set.", "1.0.0", "O(1)", NULL },
    { "sismember", 3, R | CMD_FAST, (const key_spec[]){ { KS_RO, KS_INDEX, 1, NULL, KS_RANGE, .range = { 0, 1, 0 } }, { 0 } }, cmd_sismember, "set", "Determines whether a member belongs to a set.", "1.0.0", "O(1)", NULL },
    { "smismember", -3, R | CMD_FAST, (const key_spec[]){ { KS_RO | KS_ACCESS, KS_INDEX, 1, NULL, KS_RANGE, .range = { 0, 1, 0 } }, { 0 } }, cmd_smismember, "set", "Determines whether multiple members belong to a set.", "6.2.0", "O(N) where N is the number of elements being checked for membership", NULL },
    { "sunion", -2, R, (const key_spec[]){ { KS_RO | KS_ACCESS, KS_INDEX, 1, NULL, KS_RANGE, .range = { -1, 1, 0 } }, { 0 } }, cmd_sunion, "set", "Returns the union of multiple sets.", "1.0.0", "O(N) where N is the total number of elements in all given sets.", NULL },
    { "sinter", -2, R, (const key_spec[]){ { KS_RO | KS_ACCESS, KS_INDEX, 1, NULL, KS_RANGE, .range = { -1, 1, 0 } }, { 0 } }, cmd_sinter, "set", "Returns the intersect of multiple sets.", "1.0.0", "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets.", NULL },
    { "sdiff", -2, R, (const key_spec[]){ { KS_RO | KS_ACCESS, KS_INDEX, 1, NULL, KS_RANGE, .range = { -1, 1, 0 } }, { 0 } }, cmd_sdiff, "set", "Returns the difference of multiple sets.", "1.0.0", "O(N) where N is the total number of elements in all given sets.", NULL },
    { "sunionstore", -3, W, (const key_spec[]){ { KS_OW | KS_UPDATE, KS_INDEX, 1, NULL, KS_RANGE, .range = { 0, 1, 0 } }, { KS_RO | KS_ACCESS, KS_INDEX, 2, NULL, KS_RANGE, .range = { -1, 1, 0 } }, { 0 } }, cmd_sunionstore, "set", "Stores the union of multiple sets in a key.", "1.0.0", "O(N) where N is the total number of elements in all given sets.", NULL },
    { "sinterstore", -3, W, (const key_spec[]){ { KS_RW | KS_UPDATE, KS_INDEX, 1, NULL, KS_RANGE, .range = { 0, 1, 0 } }, { KS_RO | KS_ACCESS, KS_INDEX, 2, NULL, KS_RANGE, .range = { -1, 1, 0 } }, { 0 } }, cmd_sinterstore, "set", "Stores the intersect of multiple sets in a key.", "1.0.0", "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets.", NULL },
    { "sdiffstore", -3, W, (const key_spec[]){ { KS_OW | KS_UPDATE, KS_INDEX, 1, NULL, KS_RANGE, .range = { 0, 1, 0 } }, { KS_RO | KS_ACCESS, KS_INDEX, 2, NULL, KS_RANGE, .range = { -1, 1, 0 } }, { 0 } }, cmd_sdiffstore, "set", "Stores the difference of multiple sets in a key.", "1.0.0", "O(N) where N is the total number of elements in all given sets.", NULL },
    { "smove", 4, CMD_WRITE | CMD_FAST, (const key_spec[]){ { KS_RW | KS_ACCESS | KS_DELETE, KS_INDEX, 1, NULL, KS_RANGE, .range = { 0, 1, 0 } }, { KS_RW | KS_INSERT, KS_INDEX, 2, NULL, KS_RANGE, .range = { 0, 1, 0 } }, { 0 } }, cmd_smove, "set", "Moves a member from one set to another.", "1.0.0", "O(1)", NULL },
    { "spop", -2, CMD_WRITE | CMD_FAST, (const key_spec[]){ { KS_RW | KS_ACCESS | KS_DELETE, KS_INDEX, 1, NULL, KS_RANGE, .range = { 0, 1, 0 } }, { 0 } }, cmd_spop, "set", "Returns one or more random members from a set after removing them. Deletes the set if the last member was popped.", "1.0.0", "Without the count argument O(1), otherwise O(N) where N is the value of the passed count.", NULL },
    { "srandmember", -2, R, (const key_spec[]){ { KS_RO | KS_ACCESS, KS_INDEX, 1, NULL, KS_RANGE, .range = { 0, 1, 0 } }, { 0 } }, cmd_srandmember, "set", "Get one or multiple random members from a set", "1.0.0", "Without the count argument O(1), otherwise O(N) where N is the absolute value of the passed count.", NULL },
    { "sintercard", -3, R, (const key_spec[]){ { KS_RO | KS_ACCESS, KS_INDEX, 1, NULL, KS_KEYNUM, .keynum = { 0, 1, 1 } }, { 0 } }, cmd_sintercard, "set", "Returns the number of members of the intersect of multiple sets.", "7.0.0", "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets.", NULL },
    { "sscan", -3, R, (const key_spec[]){ { KS_RO | KS_ACCESS, KS_INDEX, 1, NULL, KS_RANGE, .range = { 0, 1, 0 } }, { 0 } }, cmd_sscan, "set", "Iterates over members of a set.", "2.8.0", "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.", NULL },
    { 0 }
};
