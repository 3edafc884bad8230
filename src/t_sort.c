/* t_sort.c - SORT and SORT_RO (Redis 7.0's sort.c semantics): the elements of a list,
 * set or sorted set, numerically or ALPHA (byte order), by themselves or BY the values
 * of other keys, LIMIT, GET of other keys' values, STORE into a list.
 *
 * Locking. The dispatcher holds the shards of the sorted key and of STORE's
 * destination (found by sort_store_key, Redis's sortGetKeys). BY and GET patterns
 * name keys known only once the elements are read, on any shard. A SORT with a real
 * BY or GET pattern therefore drops the dispatcher's transaction before reading
 * anything and opens one over every shard with cmd_txn_begin: in ascending order, so
 * it waits (and parks) like any command instead of failing whenever another thread
 * holds one shard, and one transaction keeps the sort atomic. Try-locking out of
 * order as command_call does would give up on any busy shard with no way to wait,
 * and taking shards one by one per element would not be atomic. Inside EXEC or a
 * script cmd_txn_begin adds the shards without waiting, and the caller
 * runs everything again holding them when one is busy. The dispatcher commits and
 * checks memory (DENYOOM) as for any write. */
#include "kvns/command.h"
#include "kvns/hash.h"
#include "kvns/list.h"
#include "kvns/set.h"
#include "kvns/watch.h"
#include "kvns/zset.h"
#include "script_lua.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* A parsed SORT command line. */
typedef struct sort_opts {
    bool desc, alpha, dontsort;
    long long limit_start, limit_count;
    const resp_arg *by;          /* NULL: sort by the elements */
    size_t *gets;                /* argv indexes of the GET patterns */
    size_t ngets;
    const resp_arg *store;       /* STORE's destination, or NULL */
} sort_opts;

/* One element to sort: its bytes, and what it sorts by. */
typedef struct sort_item {
    const char *p;
    size_t n;
    double score;
    const char *cmp;             /* ALPHA BY: the BY value, NULL when missing */
    size_t cmpn;
} sort_item;

/* The comparison's parameters (qsort_r's context). */
typedef struct sort_cmp_ctx {
    bool desc, alpha, bypattern;
} sort_cmp_ctx;

/* Bytes of a pattern up to its first NUL: Redis searches it with strchr/strstr. */
static size_t sort_cstr_len(const resp_arg *a)
{
    const char *nul = memchr(a->ptr, '\0', a->len);
    return nul ? (size_t)(nul - a->ptr) : a->len;
}

/* True when pattern a is "#": GET # returns the element itself. */
static bool sort_pattern_is_hash(const resp_arg *a)
{
    return a->len >= 1 && a->ptr[0] == '#' && (a->len == 1 || a->ptr[1] == '\0');
}

/* True when pattern a makes SORT read other keys (it has a '*' and is not "#"). */
static bool sort_pattern_reads_keys(const resp_arg *a)
{
    return !sort_pattern_is_hash(a) && memchr(a->ptr, '*', sort_cstr_len(a)) != NULL;
}

/* Parses argv[2..] into o (Redis's order: ASC, DESC, ALPHA, LIMIT, STORE, BY, GET; a
 * later repetition wins). False after replying the error. */
static bool sort_parse(client *c, bool readonly, sort_opts *o)
{
    memset(o, 0, sizeof *o);
    o->limit_count = -1;
    o->gets = malloc(c->argc * sizeof *o->gets);
    if (!o->gets)
        abort();
    for (size_t j = 2; j < c->argc; j++) {
        size_t left = c->argc - j - 1;
        const resp_arg *a = &c->argv[j];
        if (arg_is(a, "asc")) {
            o->desc = false;
        } else if (arg_is(a, "desc")) {
            o->desc = true;
        } else if (arg_is(a, "alpha")) {
            o->alpha = true;
        } else if (arg_is(a, "limit") && left >= 2) {
            if (!arg_ll(c, j + 1, &o->limit_start) || !arg_ll(c, j + 2, &o->limit_count))
                return false;
            j += 2;
        } else if (!readonly && arg_is(a, "store") && left >= 1) {
            o->store = &c->argv[++j];
        } else if (arg_is(a, "by") && left >= 1) {
            o->by = &c->argv[++j];
            o->dontsort = memchr(o->by->ptr, '*', sort_cstr_len(o->by)) == NULL;
        } else if (arg_is(a, "get") && left >= 1) {
            o->gets[o->ngets++] = ++j;
        } else {
            reply_error(&c->out, ERR_SYNTAX);
            return false;
        }
    }
    return true;
}

/* True when the sort will read keys named by its patterns: BY with a '*' (sorting
 * for real) or a GET pattern other than "#" with a '*'. */
static bool sort_reads_pattern_keys(const client *c, const sort_opts *o)
{
    if (o->by && !o->dontsort)
        return true;
    for (size_t i = 0; i < o->ngets; i++)
        if (sort_pattern_reads_keys(&c->argv[o->gets[i]]))
            return true;
    return false;
}

/* Makes the transaction hold every shard the sort needs (see the top of the file):
 * all of them when all_shards, else the sorted key's and dest's (dest may be NULL).
 * True when it does; false when the command must return at once (a shard is busy:
 * the dispatcher or the nested caller runs it again; or -BUSY was replied). */
static bool sort_lock(client *c, bool all_shards, const kv_key *dest)
{
    kv_txn *t = &c->w->txn;
    uint32_t nshards = arena_hdr()->shard_count;
    uint32_t *ids = malloc((all_shards ? nshards : 2) * sizeof *ids);
    if (!ids)
        abort();
    size_t n = 0;
    if (all_shards) {
        for (uint32_t s = 0; s < nshards; s++)
            ids[n++] = s;
    } else {
        ids[n++] = c->keys[1].shard;
        if (dest)
            ids[n++] = dest->shard;
    }
    bool held = true;
    for (size_t i = 0; i < n && held; i++)
        held = txn_holds(t, ids[i]);
    bool ok = held;
    if (!held) {
        if (!c->w->nested)
            txn_abort(t);                        /* nothing read or written yet */
        ok = cmd_txn_begin(c, ids, n);
        if (!ok && !c->w->nested)
            c->aborted = true;                   /* no transaction left to commit */
    }
    free(ids);
    return ok;
}

/* Redis's lookupKeyByPattern: the value of the key named by pattern with its first
 * '*' replaced by elem - a string key's value, or with "->field" the field of a hash
 * key. True with *out set, false when the pattern has no '*', the key is missing or of
 * the other type, or the field is missing. "#" is elem itself. buf: scratch room. */
static bool sort_lookup(client *c, const resp_arg *pat, const char *elem, size_t elen, char **buf,
                        size_t *bufcap, hs_str *out)
{
    if (sort_pattern_is_hash(pat)) {
        *out = (hs_str){ elem, elen };
        return true;
    }
    size_t clen = sort_cstr_len(pat);
    const char *star = memchr(pat->ptr, '*', clen);
    if (!star)
        return false;
    const char *field = NULL;
    size_t fieldlen = 0;
    for (const char *f = star + 1; f + 1 < pat->ptr + clen; f++) {
        if (f[0] == '-' && f[1] == '>') {
            if (f + 2 < pat->ptr + clen) {       /* "->" at the end is part of the key */
                field = f + 2;
                fieldlen = pat->len - (size_t)(field - pat->ptr);
            }
            break;
        }
    }
    size_t prefix = (size_t)(star - pat->ptr);
    size_t postfix = pat->len - prefix - 1 - (field ? fieldlen + 2 : 0);
    size_t klen = prefix + elen + postfix;
    if (klen + 1 > *bufcap) {                    /* + 1: never a 0-byte (NULL) buffer */
        *bufcap = klen * 2 + 1;
        *buf = realloc(*buf, *bufcap);
        if (!*buf)
            abort();
    }
    memcpy(*buf, pat->ptr, prefix);
    if (elen)
        memcpy(*buf + prefix, elem, elen);
    memcpy(*buf + prefix + elen, star + 1, postfix);
    kv_key k;
    key_init(&k, *buf, klen);
    kv_entry *e = store_find_read(&c->w->txn, &k);
    if (!e)
        return false;
    if (field)
        return e->type == KV_HASH && hash_get(entry_obj(e), field, fieldlen, out);
    if (e->type != KV_STRING)
        return false;
    *out = (hs_str){ entry_str(e), e->vlen };
    return true;
}

/* Binary comparison of two byte strings (Redis's compareStringObjects). */
static int sort_bytes_cmp(const char *a, size_t an, const char *b, size_t bn)
{
    size_t common = an < bn ? an : bn;
    int cmp = common ? memcmp(a, b, common) : 0;
    if (cmp)
        return cmp;
    return an < bn ? -1 : an > bn;
}

/* Redis's sortCompare: by score (ties by the elements' bytes), or ALPHA by the BY
 * values (a missing one first) or the elements; reversed for DESC. */
static int sort_compare(const void *x, const void *y, void *arg)
{
    const sort_item *a = x, *b = y;
    const sort_cmp_ctx *ctx = arg;
    int cmp;
    if (!ctx->alpha) {
        if (a->score != b->score)
            cmp = a->score > b->score ? 1 : -1;
        else
            cmp = sort_bytes_cmp(a->p, a->n, b->p, b->n);
    } else if (ctx->bypattern) {
        if (!a->cmp || !b->cmp)
            cmp = a->cmp == b->cmp ? 0 : a->cmp ? 1 : -1;
        else
            cmp = sort_bytes_cmp(a->cmp, a->cmpn, b->cmp, b->cmpn);
    } else {
        cmp = sort_bytes_cmp(a->p, a->n, b->p, b->n);
    }
    return ctx->desc ? -cmp : cmp;
}

/* The elements being gathered; set members are copied (an intset's are formatted in
 * temporary room), list and zset elements point into the arena. */
typedef struct sort_vec {
    sort_item *items;
    size_t n, cap;
    char **owned;
    size_t nowned;
} sort_vec;

/* Appends one element; copy: it must be copied first. */
static void sort_vec_add(sort_vec *v, const char *p, size_t n, bool copy)
{
    if (v->n == v->cap) {
        v->cap = v->cap ? v->cap * 2 : 16;
        v->items = realloc(v->items, v->cap * sizeof *v->items);
        v->owned = realloc(v->owned, v->cap * sizeof *v->owned);
        if (!v->items || !v->owned)
            abort();
    }
    if (copy) {
        char *dup = malloc(n ? n : 1);
        if (!dup)
            abort();
        if (n)
            memcpy(dup, p, n);
        v->owned[v->nowned++] = dup;
        p = dup;
    }
    v->items[v->n++] = (sort_item){ p, n, 0, NULL, 0 };
}

/* set_foreach's callback: collects a member. */
static void sort_add_member(hs_str m, void *arg) { sort_vec_add(arg, m.p, m.len, true); }

/* Frees what v holds. */
static void sort_vec_free(sort_vec *v)
{
    for (size_t i = 0; i < v->nowned; i++)
        free(v->owned[i]);
    free(v->owned);
    free(v->items);
}

/* Number of elements of a list, set or zset entry (0 for none). */
static long long sort_source_len(const kv_entry *e)
{
    if (!e)
        return 0;
    aoff obj = entry_obj(e);
    if (e->type == KV_LIST)
        return (long long)((const list_root *)arena_ptr(obj))->count;
    if (e->type == KV_SET)
        return (long long)set_len(obj);
    return (long long)((const zset_obj *)arena_ptr(obj))->length;
}

/* Loads the elements of e into v as Redis does: with dontsort a list or zset gives
 * just the range [*start, *end] in its own order (reversed for DESC), and the range
 * becomes [0, count-1] of v; else every element. */
static void sort_load(const kv_entry *e, const sort_opts *o, long long *start, long long *end, sort_vec *v)
{
    if (!e)
        return;
    aoff obj = entry_obj(e);
    long long len = sort_source_len(e);
    if (e->type == KV_SET) {
        set_foreach(obj, sort_add_member, v);
    } else if (e->type == KV_LIST) {
        const list_root *r = arena_ptr(obj);
        bool range = o->dontsort;
        if (range && *end < *start)
            return;
        long long first = range ? (o->desc ? len - *start - 1 : *start) : 0;
        long long want = range ? *end - *start + 1 : len;
        list_pos pos;
        if (want > 0 && list_seek(r, (uint64_t)first, &pos)) {
            for (long long i = 0; i < want; i++) {
                list_elem el = list_get(&pos);
                sort_vec_add(v, el.p, el.n, false);
                if (!(range && o->desc ? list_prev(&pos) : list_next(&pos)))
                    break;
            }
        }
        if (range) {
            *end -= *start;
            *start = 0;
        }
    } else {
        const zset_obj *z = arena_ptr(obj);
        bool range = o->dontsort;
        long long want = range ? (*end >= *start ? *end - *start + 1 : 0) : len;
        zset_iter it;
        zset_iter_init(&it, z, range ? (uint64_t)*start : 0, range && o->desc);
        const char *m;
        size_t mlen;
        double score;
        for (long long i = 0; i < want && zset_iter_next(&it, &m, &mlen, &score); i++)
            sort_vec_add(v, m, mlen, false);
        if (range) {
            *end -= *start;
            *start = 0;
        }
    }
}

/* Computes what every element sorts by (its BY value or itself); false when a
 * numeric sort met a value that is not a double (Redis's strtod test). */
static bool sort_scores(client *c, const sort_opts *o, sort_vec *v, char **buf, size_t *bufcap)
{
    bool ok = true;
    char *num = NULL;
    size_t numcap = 0;
    for (size_t j = 0; j < v->n; j++) {
        sort_item *it = &v->items[j];
        hs_str val = { it->p, it->n };
        if (o->by && !sort_lookup(c, o->by, it->p, it->n, buf, bufcap, &val))
            continue;
        if (o->alpha) {
            if (o->by) {
                it->cmp = val.p;
                it->cmpn = val.len;
            }
            continue;
        }
        if (val.len + 1 > numcap) {
            numcap = val.len + 1;
            num = realloc(num, numcap);
            if (!num)
                abort();
        }
        if (val.len)
            memcpy(num, val.p, val.len);
        num[val.len] = '\0';
        char *eptr;
        errno = 0;
        it->score = strtod(num, &eptr);
        if (eptr[0] != '\0' || errno == ERANGE || isnan(it->score))
            ok = false;
    }
    free(num);
    return ok;
}

/* Replies the elements [start, end] of v, or for each the values of the GET
 * patterns (nil for a missing one). */
static void sort_reply(client *c, const sort_opts *o, const sort_vec *v, long long start, long long end,
                       char **buf, size_t *bufcap)
{
    long long count = end - start + 1;
    reply_array(&c->out, o->ngets ? (long long)o->ngets * count : count);
    for (long long j = start; j <= end; j++) {
        const sort_item *it = &v->items[j];
        if (!o->ngets)
            reply_bulk(&c->out, it->p, it->n);
        for (size_t g = 0; g < o->ngets; g++) {
            hs_str val;
            if (sort_lookup(c, &c->argv[o->gets[g]], it->p, it->n, buf, bufcap, &val))
                reply_bulk(&c->out, val.p, val.len);
            else
                reply_null(&c->out);
        }
    }
}

/* STORE: replaces dest by a list of what sort_reply would return (a missing GET
 * value is ""), or deletes dest when that is empty; replies the count. */
static void sort_store(client *c, const sort_opts *o, const sort_vec *v, long long start, long long end,
                       const kv_key *dest, char **buf, size_t *bufcap)
{
    kv_txn *t = &c->w->txn;
    long long count = (end - start + 1) * (long long)(o->ngets ? o->ngets : 1);
    if (count <= 0) {
        if (store_delete(t, dest) && watch_anyone())
            watch_touch_locked(t, dest);
        reply_int(&c->out, 0);
        return;
    }
    aoff root = list_create(t, dest->shard);
    if (!root) {
        reply_store_error(c, STORE_E_NOMEM);
        return;
    }
    list_h h;
    list_bind(&h, t, dest->shard, NULL, root);
    for (long long j = start; j <= end; j++) {
        const sort_item *it = &v->items[j];
        bool ok = true;
        if (!o->ngets)
            ok = list_push(&h, true, it->p, it->n);
        for (size_t g = 0; g < o->ngets && ok; g++) {
            hs_str val = { "", 0 };
            sort_lookup(c, &c->argv[o->gets[g]], it->p, it->n, buf, bufcap, &val);
            ok = list_push(&h, true, val.p, val.len);
        }
        if (!ok) {
            reply_store_error(c, STORE_E_NOMEM);
            return;
        }
    }
    int rc = store_put_object(t, dest, KV_LIST, root, -1, NULL);
    if (rc != STORE_OK) {
        reply_store_error(c, rc);
        return;
    }
    if (watch_anyone())
        watch_touch_locked(t, dest);
    reply_int(&c->out, count);
}

/* SORT / SORT_RO key [BY pattern] [LIMIT offset count] [GET pattern ...] [ASC|DESC]
 * [ALPHA] [STORE destination]: Redis 7.0's sortCommandGeneric. */
static void sort_generic(client *c, bool readonly)
{
    sort_opts o;
    sort_vec v = { 0 };
    char *buf = NULL;
    size_t bufcap = 0;
    kv_key dest;
    if (!sort_parse(c, readonly, &o))
        goto out;
    if (o.store)
        key_init(&dest, o.store->ptr, o.store->len);
    if (!sort_lock(c, sort_reads_pattern_keys(c, &o), o.store ? &dest : NULL))
        goto out;
    kv_entry *e = store_find_read(&c->w->txn, &c->keys[1]);
    if (e && e->type != KV_LIST && e->type != KV_SET && e->type != KV_ZSET) {
        reply_error(&c->out, ERR_WRONGTYPE);
        goto out;
    }
    /* a set has no order of its own: what a script or STORE sees must not depend
     * on it, so Redis sorts it ALPHA there */
    if (o.dontsort && e && e->type == KV_SET && (o.store || script_running(c->w))) {
        o.dontsort = false;
        o.alpha = true;
        o.by = NULL;
    }
    long long len = sort_source_len(e);
    long long start = o.limit_start < 0 ? 0 : o.limit_start < len ? o.limit_start : len;
    long long lcount = o.limit_count < -1 ? -1 : o.limit_count < len ? o.limit_count : len;
    long long end = lcount < 0 ? len - 1 : start + lcount - 1;
    if (start >= len) {
        start = len - 1;
        end = len - 2;
    }
    if (end >= len)
        end = len - 1;
    sort_load(e, &o, &start, &end, &v);
    if (!o.dontsort) {
        if (!sort_scores(c, &o, &v, &buf, &bufcap)) {
            reply_error(&c->out, "ERR One or more scores can't be converted into double");
            goto out;
        }
        sort_cmp_ctx ctx = { o.desc, o.alpha, o.by != NULL };
        if (v.n > 1)
            qsort_r(v.items, v.n, sizeof *v.items, sort_compare, &ctx);
    }
    if (o.store)
        sort_store(c, &o, &v, start, end, &dest, &buf, &bufcap);
    else
        sort_reply(c, &o, &v, start, end, &buf, &bufcap);
out:
    free(o.gets);
    free(buf);
    sort_vec_free(&v);
}

/* Redis's sortGetKeys for the STORE key spec: the destination of the last STORE,
 * found skipping the arguments of LIMIT, GET and BY, or 0 - for the dispatcher's
 * locks, EXEC and COMMAND GETKEYS. (A line that parses otherwise, say
 * "STORE get STORE d", is re-checked by sort_lock.) */
static int sort_store_key(const resp_arg *argv, int argc)
{
    static const struct { const char *name; int skip; } skips[] = { { "limit", 2 }, { "get", 1 }, { "by", 1 } };
    int store = 0;
    for (int i = 2; i < argc; i++) {
        for (size_t j = 0; j < sizeof skips / sizeof skips[0]; j++) {
            if (arg_is(&argv[i], skips[j].name)) {
                i += skips[j].skip;
                break;
            }
            if (arg_is(&argv[i], "store") && i + 1 < argc) {
                store = i + 1;
                break;
            }
        }
    }
    return store;
}

static void cmd_sort(client *c) { sort_generic(c, false); }
static void cmd_sort_ro(client *c) { sort_generic(c, true); }

#define SORT_KEY { KS_RO | KS_ACCESS, KS_INDEX, 1, NULL, KS_RANGE, .range = { 0, 1, 0 } }
#define SORT_PATTERN_KEYS                                                                               \
    { KS_RO | KS_ACCESS, KS_BEGIN_UNKNOWN, 0, NULL, KS_FIND_UNKNOWN, .range = { 0, 0, 0 },              \
      "For the optional BY/GET keyword. It is marked 'unknown' because the key names derive from the "  \
      "content of the key we sort", NULL, NULL }
#define SORT_CPLX                                                                                        \
    "O(N+M*log(M)) where N is the number of elements in the list or set to sort, and M the number of "   \
    "returned elements. When the elements are not sorted, complexity is O(N)."

const command sort_commands[] = {
    { "sort", -2, CMD_WRITE | CMD_DENYOOM,
      (const key_spec[]){ SORT_KEY, SORT_PATTERN_KEYS,
                          { KS_OW | KS_UPDATE, KS_BEGIN_UNKNOWN, 0, NULL, KS_FIND_UNKNOWN, .range = { 0, 0, 0 },
                            "For the optional STORE keyword. It is marked 'unknown' because the keyword can "
                            "appear anywhere in the argument array",
                            NULL, sort_store_key },
                          { 0 } },
      cmd_sort, "generic", "Sort the elements in a list, set or sorted set", "1.0.0", SORT_CPLX, NULL },
    { "sort_ro", -2, CMD_READONLY, (const key_spec[]){ SORT_KEY, SORT_PATTERN_KEYS, { 0 } }, cmd_sort_ro,
      "generic", "Sort the elements in a list, set or sorted set. Read-only variant of SORT.", "7.0.0",
      SORT_CPLX, NULL },
    { 0 }
};
