/* t_hash.c - hash commands (Redis 7 semantics) over shm/hash.c. Every handler runs
 * inside the dispatcher's transaction with its key's shard locked (see command.h). */
#include "kvns/command.h"
#include "kvns/rng.h"
#include "kvns/hash.h"
#include "kvns/scan.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The transaction the dispatcher opened for this command. */
static kv_txn *txn_of(client *c) { return &c->w->txn; }

/* argv[from..from+n) as byte strings (malloc'd; the caller frees). */
static hs_str *args_str(client *c, size_t from, size_t n)
{
    hs_str *v = malloc((n + 1) * sizeof *v);
    if (!v)
        abort();
    for (size_t i = 0; i < n; i++)
        v[i] = (hs_str){ c->argv[from + i].ptr, c->argv[from + i].len };
    return v;
}

/* Sets pairs kv[0..2n) in the hash of argv[1], creating the key when missing (e is
 * then NULL). Returns the number of new fields, or -1 after aborting the command. */
static long long hash_write(client *c, kv_entry *e, const hs_str *kv, size_t n, bool nx, bool force_ht)
{
    kv_txn *t = txn_of(c);
    const kv_key *k = &c->keys[1];
    long long added;
    if (e) {
        added = hash_set(t, k->shard, e, entry_obj(e), kv, n, nx, force_ht);
    } else {
        aoff obj = hash_new(t, k->shard);
        added = obj ? hash_set(t, k->shard, NULL, obj, kv, n, nx, force_ht) : -1;
        if (added >= 0) {
            int rc = store_put_object(t, k, KV_HASH, obj, -1, NULL);
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

/* HSET key field value [field value ...] (HMSET: +OK instead of the count of new
 * fields). As in Redis 7.0, only the resulting size and lengths decide the encoding
 * (7.2 also converts up front when given > 128 pairs, duplicates or not). */
static void hset_generic(client *c, bool hmset)
{
    if (c->argc % 2 == 1) {
        reply_errorf(&c->out, "ERR wrong number of arguments for '%s' command", hmset ? "hmset" : "hset");
        return;
    }
    kv_entry *e;
    if (!key_lookup_typed(c, 1, KV_HASH, KEY_WRITE, &e))
        return;
    size_t n = (c->argc - 2) / 2;
    hs_str *kv = args_str(c, 2, 2 * n);
    long long added = hash_write(c, e, kv, n, false, false);
    free(kv);
    if (added < 0)
        return;
    if (hmset)
        reply_ok(&c->out);
    else
        reply_int(&c->out, added);
}

/* HSET: the number of fields added. */
static void cmd_hset(client *c) { hset_generic(c, false); }
/* HMSET: +OK. */
static void cmd_hmset(client *c) { hset_generic(c, true); }

/* HSETNX key field value: 1 when the field was set, 0 when it existed. */
static void cmd_hsetnx(client *c)
{
    kv_entry *e;
    if (!key_lookup_typed(c, 1, KV_HASH, KEY_WRITE, &e))
        return;
    hs_str kv[2] = { { c->argv[2].ptr, c->argv[2].len }, { c->argv[3].ptr, c->argv[3].len } };
    long long added = hash_write(c, e, kv, 1, true, false);
    if (added >= 0)
        reply_int(&c->out, added);
}

/* HGET key field: the value, or nil. */
static void cmd_hget(client *c)
{
    kv_entry *e;
    if (!key_lookup_typed(c, 1, KV_HASH, KEY_READ, &e))
        return;
    hs_str v;
    if (e && hash_get(entry_obj(e), c->argv[2].ptr, c->argv[2].len, &v))
        reply_bulk(&c->out, v.p, v.len);
    else
        reply_null(&c->out);
}

/* HMGET key field [field ...]: an array of values and nils. */
static void cmd_hmget(client *c)
{
    kv_entry *e;
    if (!key_lookup_typed(c, 1, KV_HASH, KEY_READ, &e))
        return;
    reply_array(&c->out, (long long)(c->argc - 2));
    for (size_t i = 2; i < c->argc; i++) {
        hs_str v;
        if (e && hash_get(entry_obj(e), c->argv[i].ptr, c->argv[i].len, &v))
            reply_bulk(&c->out, v.p, v.len);
        else
            reply_null(&c->out);
    }
}

/* HDEL key field [field ...]: how many fields were removed; the key goes with the
 * last field. */
static void cmd_hdel(client *c)
{
    kv_entry *e;
    if (!key_lookup_typed(c, 1, KV_HASH, KEY_WRITE, &e))
        return;
    if (!e) {
        reply_int(&c->out, 0);
        return;
    }
    kv_txn *t = txn_of(c);
    hs_str *f = args_str(c, 2, c->argc - 2);
    long long n = hash_del(t, c->keys[1].shard, e, entry_obj(e), f, c->argc - 2);
    free(f);
    if (n < 0) {
        reply_store_error(c, STORE_E_NOMEM);
        return;
    }
    if (hash_len(entry_obj(e)) == 0)
        store_delete(t, &c->keys[1]);
    reply_int(&c->out, n);
}

/* HEXISTS key field: 1 or 0. */
static void cmd_hexists(client *c)
{
    kv_entry *e;
    if (!key_lookup_typed(c, 1, KV_HASH, KEY_READ, &e))
        return;
    hs_str v;
    reply_int(&c->out, e && hash_get(entry_obj(e), c->argv[2].ptr, c->argv[2].len, &v));
}

/* HLEN key: the number of fields (0 for a missing key). */
static void cmd_hlen(client *c)
{
    kv_entry *e;
    if (key_lookup_typed(c, 1, KV_HASH, KEY_READ, &e))
        reply_int(&c->out, e ? (long long)hash_len(entry_obj(e)) : 0);
}

/* HSTRLEN key field: the length of the value, 0 when missing. */
static void cmd_hstrlen(client *c)
{
    kv_entry *e;
    if (!key_lookup_typed(c, 1, KV_HASH, KEY_READ, &e))
        return;
    hs_str v;
    reply_int(&c->out, e && hash_get(entry_obj(e), c->argv[2].ptr, c->argv[2].len, &v) ? (long long)v.len : 0);
}

enum { EMIT_FIELDS = 1, EMIT_VALUES = 2 };

struct emit_ctx {
    reply_buf *out;
    int what;
};

/* hash_fn: appends the field and/or value the context asks for. */
static void emit_pair(hs_str f, hs_str v, void *arg)
{
    struct emit_ctx *x = arg;
    if (x->what & EMIT_FIELDS)
        reply_bulk(x->out, f.p, f.len);
    if (x->what & EMIT_VALUES)
        reply_bulk(x->out, v.p, v.len);
}

/* HGETALL (a RESP3 map), HKEYS, HVALS. */
static void getall_generic(client *c, int what)
{
    kv_entry *e;
    if (!key_lookup_typed(c, 1, KV_HASH, KEY_READ, &e))
        return;
    long long n = e ? (long long)hash_len(entry_obj(e)) : 0;
    if (what == (EMIT_FIELDS | EMIT_VALUES))
        reply_map(&c->out, n);
    else
        reply_array(&c->out, n);
    if (e) {
        struct emit_ctx x = { &c->out, what };
        hash_foreach(entry_obj(e), emit_pair, &x);
    }
}

/* HGETALL key: a map of fields to values. */
static void cmd_hgetall(client *c) { getall_generic(c, EMIT_FIELDS | EMIT_VALUES); }
/* HKEYS key: the fields. */
static void cmd_hkeys(client *c) { getall_generic(c, EMIT_FIELDS); }
/* HVALS key: the values. */
static void cmd_hvals(client *c) { getall_generic(c, EMIT_VALUES); }

/* HINCRBY key field increment: the new value. */
static void cmd_hincrby(client *c)
{
    long long incr, cur = 0;
    if (!arg_ll(c, 3, &incr))
        return;
    kv_entry *e;
    if (!key_lookup_typed(c, 1, KV_HASH, KEY_WRITE, &e))
        return;
    hs_str v;
    if (e && hash_get(entry_obj(e), c->argv[2].ptr, c->argv[2].len, &v) && parse_ll(v.p, v.len, &cur) != 0) {
        reply_error(&c->out, "ERR hash value is not an integer");
        return;
    }
    if ((incr < 0 && cur < 0 && incr < LLONG_MIN - cur) || (incr > 0 && cur > 0 && incr > LLONG_MAX - cur)) {
        reply_error(&c->out, "ERR increment or decrement would overflow");
        return;
    }
    cur += incr;
    char buf[32];
    hs_str kv[2] = { { c->argv[2].ptr, c->argv[2].len }, { buf, (size_t)snprintf(buf, sizeof buf, "%lld", cur) } };
    if (hash_write(c, e, kv, 1, false, false) >= 0)
        reply_int(&c->out, cur);
}

/* HINCRBYFLOAT key field increment: the new value as a bulk string (long double
 * arithmetic and formatting, as Redis). */
static void cmd_hincrbyfloat(client *c)
{
    long double incr, cur = 0;
    if (parse_long_double(c->argv[3].ptr, c->argv[3].len, &incr) != 0) {
        reply_error(&c->out, ERR_NOT_FLOAT);
        return;
    }
    if (isnan(incr) || isinf(incr)) {
        reply_error(&c->out, "ERR value is NaN or Infinity");
        return;
    }
    kv_entry *e;
    if (!key_lookup_typed(c, 1, KV_HASH, KEY_WRITE, &e))
        return;
    hs_str v;
    if (e && hash_get(entry_obj(e), c->argv[2].ptr, c->argv[2].len, &v) &&
        parse_long_double(v.p, v.len, &cur) != 0) {
        reply_error(&c->out, "ERR hash value is not a float");
        return;
    }
    cur += incr;
    if (isnan(cur) || isinf(cur)) {
        reply_error(&c->out, "ERR increment would produce NaN or Infinity");
        return;
    }
    char buf[5120];
    int len = fmt_long_double(buf, sizeof buf, cur);
    hs_str kv[2] = { { c->argv[2].ptr, c->argv[2].len }, { buf, (size_t)len } };
    if (hash_write(c, e, kv, 1, false, false) >= 0)
        reply_bulk(&c->out, buf, (size_t)len);
}

/* ---- HRANDFIELD ---------------------------------------------------------------------- */

/* Parses a RANDFIELD/RANDMEMBER count (Redis's range -LONG_MAX..LONG_MAX). */
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

typedef struct pair_vec {
    hs_str *f, *v;
    size_t n, cap;
} pair_vec;

/* hash_fn: appends (field, value) to a pair_vec (pointers stay valid: reads only). */
static void collect_pair(hs_str f, hs_str v, void *arg)
{
    pair_vec *pv = arg;
    if (pv->n == pv->cap) {
        pv->cap = pv->cap ? pv->cap * 2 : 64;
        pv->f = realloc(pv->f, pv->cap * sizeof *pv->f);
        pv->v = realloc(pv->v, pv->cap * sizeof *pv->v);
        if (!pv->f || !pv->v)
            abort();
    }
    pv->f[pv->n] = f;
    pv->v[pv->n] = v;
    pv->n++;
}

/* One HRANDFIELD element: the field, with its value (RESP3: as a 2-array). */
static void emit_random(client *c, hs_str f, hs_str v, bool withvalues)
{
    if (withvalues && c->proto > 2)
        reply_array(&c->out, 2);
    reply_bulk(&c->out, f.p, f.len);
    if (withvalues)
        reply_bulk(&c->out, v.p, v.len);
}

/* Set of field pointers already returned (fields are stable during a read). */
typedef struct ptr_set {
    const char **slot;
    size_t cap;
} ptr_set;

/* Adds p; returns false when it was already there. */
static bool ptr_set_add(ptr_set *ps, const char *p)
{
    size_t i = ((uintptr_t)p * 0x9e3779b97f4a7c15ULL) >> 20;
    for (;; i++) {
        const char **s = &ps->slot[i & (ps->cap - 1)];
        if (!*s) {
            *s = p;
            return true;
        }
        if (*s == p)
            return false;
    }
}

/* HRANDFIELD key count [WITHVALUES], following Redis's four cases: repeats allowed
 * (negative count, or 1), the whole hash, most of it (drop random fields), a few of it
 * (random picks without repeats). */
static void hrandfield_count(client *c, kv_entry *e, long long l, bool withvalues)
{
    aoff obj = entry_obj(e);
    uint64_t size = hash_len(obj);
    uint64_t count = l < 0 ? (uint64_t)-l : (uint64_t)l;
    long long mult = withvalues && c->proto == 2 ? 2 : 1;
    hs_str f, v;
    if (count == 0) {
        reply_array(&c->out, 0);
        return;
    }
    if (l < 0 || count == 1) {
        reply_array(&c->out, (long long)count * mult);
        for (uint64_t i = 0; i < count; i++) {
            hash_random(obj, &f, &v);
            emit_random(c, f, v, withvalues);
        }
        return;
    }
    pair_vec pv = { 0 };
    if (count >= size || count * 3 > size) {
        hash_foreach(obj, collect_pair, &pv);
        while (pv.n > count) {              /* remove random fields until count remain */
            size_t i = (size_t)(rng_u64() % pv.n);
            pv.f[i] = pv.f[pv.n - 1];
            pv.v[i] = pv.v[pv.n - 1];
            pv.n--;
        }
    } else {
        ptr_set seen = { NULL, 16 };
        while (seen.cap < count * 2)
            seen.cap *= 2;
        seen.slot = calloc(seen.cap, sizeof *seen.slot);
        if (!seen.slot)
            abort();
        while (pv.n < count) {
            hash_random(obj, &f, &v);
            if (ptr_set_add(&seen, f.p))
                collect_pair(f, v, &pv);
        }
        free(seen.slot);
    }
    reply_array(&c->out, (long long)pv.n * mult);
    for (size_t i = 0; i < pv.n; i++)
        emit_random(c, pv.f[i], pv.v[i], withvalues);
    free(pv.f);
    free(pv.v);
}

/* HRANDFIELD key [count [WITHVALUES]]. */
static void cmd_hrandfield(client *c)
{
    long long l = 0;
    bool withvalues = false;
    if (c->argc >= 3) {
        if (!count_arg(c, 2, &l))
            return;
        if (c->argc > 4 || (c->argc == 4 && !arg_is(&c->argv[3], "withvalues"))) {
            reply_error(&c->out, ERR_SYNTAX);
            return;
        }
        if (c->argc == 4) {
            withvalues = true;
            if (l < -LLONG_MAX / 2 || l > LLONG_MAX / 2) {
                reply_error(&c->out, "ERR value is out of range");
                return;
            }
        }
    }
    kv_entry *e;
    if (!key_lookup_typed(c, 1, KV_HASH, KEY_READ, &e))
        return;
    if (c->argc >= 3) {
        if (!e)
            reply_array(&c->out, 0);
        else
            hrandfield_count(c, e, l, withvalues);
        return;
    }
    if (!e) {
        reply_null(&c->out);
        return;
    }
    hs_str f, v;
    hash_random(entry_obj(e), &f, &v);
    reply_bulk(&c->out, f.p, f.len);
}

/* ---- HSCAN ------------------------------------------------------------------------------ */

/* HSCAN key cursor [MATCH pattern] [COUNT count]: [next cursor, [field, value, ...]].
 * A listpack hash answers everything at once with cursor 0, as Redis does. */
static void cmd_hscan(client *c)
{
    uint64_t cursor;
    scan_opts o;
    kv_entry *e = scan_key_begin(c, KV_HASH, &cursor, &o);
    if (!e)
        return;
    aoff obj = entry_obj(e);
    pair_vec pv = { 0 };
    long long maxiterations = o.max_steps;
    do
        cursor = hash_scan(obj, cursor, collect_pair, &pv);
    while (cursor && maxiterations-- && (long long)pv.n * 2 < o.count);
    size_t kept = 0;
    for (size_t i = 0; i < pv.n; i++) {
        if (!scan_match(&o, pv.f[i].p, pv.f[i].len))
            continue;
        pv.f[kept] = pv.f[i];
        pv.v[kept] = pv.v[i];
        kept++;
    }
    scan_reply_cursor(c, cursor);
    reply_array(&c->out, (long long)kept * 2);
    for (size_t i = 0; i < kept; i++) {
        reply_bulk(&c->out, pv.f[i].p, pv.f[i].len);
        reply_bulk(&c->out, pv.v[i].p, pv.v[i].len);
    }
    free(pv.f);
    free(pv.v);
}

#define W (CMD_WRITE | CMD_DENYOOM)
#define R (CMD_READONLY)
const command hash_commands[] = {
    { "hset", -4, W | CMD_FAST, (const key_spec[]){ { KS_RW | KS_UPDATE, KS_INDEX, 1, NULL, KS_RANGE, .range = { 0, 1, 0 } }, { 0 } }, cmd_hset, "hash", "Creates or modifies the value of a field in a hash.", "2.0.0", "O(1) for each field/value pair added, so O(N) to add N field/value pairs when the command is called with multiple field/value pairs.", NULL },
    { "hmset", -4, W | CMD_FAST, (const key_spec[]){ { KS_RW | KS_UPDATE, KS_INDEX, 1, NULL, KS_RANGE, .range = { 0, 1, 0 } }, { 0 } }, cmd_hmset, "hash", "Sets the values of multiple fields.", "2.0.0", "O(N) where N is the number of fields being set.", NULL },
    { "hsetnx", 4, W | CMD_FAST, (const key_spec[]){ { KS_RW | KS_INSERT, KS_INDEX, 1, NULL, KS_RANGE, .range = { 0, 1, 0 } }, { 0 } }, cmd_hsetnx, "hash", "Sets the value of a field in a hash only when the field doesn't exist.", "2.0.0", "O(1)", NULL },
    { "hget", 3, R | CMD_FAST, (const key_spec[]){ { KS_RO | KS_ACCESS, KS_INDEX, 1, NULL, KS_RANGE, .range = { 0, 1, 0 } }, { 0 } }, cmd_hget, "hash", "Returns the value of a field in a hash.", "2.0.0", "O(1)", NULL },
    { "hmget", -3, R | CMD_FAST, (const key_spec[]){ { KS_RO | KS_ACCESS, KS_INDEX, 1, NULL, KS_RANGE, .range = { 0, 1, 0 } }, { 0 } }, cmd_hmget, "hash", "Returns the values of all fields in a hash.", "2.0.0", "O(N) where N is the number of fields being requested.", NULL },
    { "hdel", -3, CMD_WRITE | CMD_FAST, (const key_spec[]){ { KS_RW | KS_DELETE, KS_INDEX, 1, NULL, KS_RANGE, .range = { 0, 1, 0 } }, { 0 } }, cmd_hdel, "hash", "Deletes one or more fields and their values from a hash. Deletes the hash if no fields remain.", "2.0.0", "O(N) where N is the number of fields to be removed.", NULL },
    { "hexists", 3, R | CMD_FAST, (const key_spec[]){ { KS_RO, KS_INDEX, 1, NULL, KS_RANGE, .range = { 0, 1, 0 } }, { 0 } }, cmd_hexists, "hash", "Determines whether a field exists in a hash.", "2.0.0", "O(1)", NULL },
    { "hlen", 2, R | CMD_FAST, (const key_spec[]){ { KS_RO, KS_INDEX, 1, NULL, KS_RANGE, .range = { 0, 1, 0 } }, { 0 } }, cmd_hlen, "hash", "Returns the number of fields in a hash.", "2.0.0", "O(1)", NULL },
    { "hstrlen", 3, R | CMD_FAST, (const key_spec[]){ { KS_RO, KS_INDEX, 1, NULL, KS_RANGE, .range = { 0, 1, 0 } }, { 0 } }, cmd_hstrlen, "hash", "Returns the length of the value of a field.", "3.2.0", "O(1)", NULL },
    { "hgetall", 2, R, (const key_spec[]){ { KS_RO | KS_ACCESS, KS_INDEX, 1, NULL, KS_RANGE, .range = { 0, 1, 0 } }, { 0 } }, cmd_hgetall, "hash", "Returns all fields and values in a hash.", "2.0.0", "O(N) where N is the size of the hash.", NULL },
    { "hkeys", 2, R, (const key_spec[]){ { KS_RO | KS_ACCESS, KS_INDEX, 1, NULL, KS_RANGE, .range = { 0, 1, 0 } }, { 0 } }, cmd_hkeys, "hash", "Returns all fields in a hash.", "2.0.0", "O(N) where N is the size of the hash.", NULL },
    { "hvals", 2, R, (const key_spec[]){ { KS_RO | KS_ACCESS, KS_INDEX, 1, NULL, KS_RANGE, .range = { 0, 1, 0 } }, { 0 } }, cmd_hvals, "hash", "Returns all values in a hash.", "2.0.0", "O(N) where N is the size of the hash.", NULL },
    { "hincrby", 4, W | CMD_FAST, (const key_spec[]){ { KS_RW | KS_ACCESS | KS_UPDATE, KS_INDEX, 1, NULL, KS_RANGE, .range = { 0, 1, 0 } }, { 0 } }, cmd_hincrby, "hash", "Increments the integer value of a field in a hash by a number. Uses 0 as initial value if the field doesn't exist.", "2.0.0", "O(1)", NULL },
    { "hincrbyfloat", 4, W | CMD_FAST, (const key_spec[]){ { KS_RW | KS_ACCESS | KS_UPDATE, KS_INDEX, 1, NULL, KS_RANGE, .range = { 0, 1, 0 } }, { 0 } }, cmd_hincrbyfloat, "hash", "Increments the floating point value of a field by a number. Uses 0 as initial value if the field doesn't exist.", "2.6.0", "O(1)", NULL },
    { "hrandfield", -2, R, (const key_spec[]){ { KS_RO | KS_ACCESS, KS_INDEX, 1, NULL, KS_RANGE, .range = { 0, 1, 0 } }, { 0 } }, cmd_hrandfield, "hash", "Returns one or more random fields from a hash.", "6.2.0", "O(N) where N is the number of fields returned", NULL },
    { "hscan", -3, R, (const key_spec[]){ { KS_RO | KS_ACCESS, KS_INDEX, 1, NULL, KS_RANGE, .range = { 0, 1, 0 } }, { 0 } }, cmd_hscan, "hash", "Iterates over fields and values of a hash.", "2.8.0", "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.", NULL },
    { 0 }
};
