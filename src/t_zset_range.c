/* t_zset_range.c - sorted set range commands (Redis 7 semantics): ZRANGE (BYSCORE,
 * BYLEX, REV, LIMIT, WITHSCORES), ZRANGESTORE, ZREVRANGE, ZRANGEBYSCORE,
 * ZREVRANGEBYSCORE, ZRANGEBYLEX, ZREVRANGEBYLEX, ZCOUNT, ZLEXCOUNT and the three
 * ZREMRANGEBY* commands. Ranges are resolved to ranks (O(log n) on a skiplist), then
 * walked with Redis's end-of-range checks. */
#include "t_zset.h"

#include <stdlib.h>
#include <string.h>

enum zrange_type { ZR_AUTO = 0, ZR_RANK, ZR_SCORE, ZR_LEX };
enum zrange_dir { ZD_AUTO = 0, ZD_FWD, ZD_REV };

static const char *const ERR_NOT_FLOAT_RANGE = "ERR min or max is not a float";
static const char *const ERR_NOT_LEX_RANGE = "ERR min or max not valid string range item";

/* ---- result sinks: the client's reply or a list for ZRANGESTORE ------------------------------ */

typedef struct zsink {
    client      *c;
    bool         store, withscores;
    bool         deferred;
    size_t       handle;
    long long    emitted;
    zset_results res;
    bool         oom;
} zsink;

/* Starts the result: a header when the length is known (>= 0), else a placeholder. */
static void sink_begin(zsink *s, long long length)
{
    if (s->store)
        return;
    if (length >= 0) {
        zset_reply_members_header(s->c, length, s->withscores);
    } else {
        s->deferred = true;
        s->handle = reply_defer_array(&s->c->out);
    }
}

/* Sends one member to the client or appends it to the stored result. */
static void sink_emit(zsink *s, const char *m, size_t len, double score)
{
    s->emitted++;
    if (s->store) {
        if (!zres_add(&s->res, m, len, score))
            s->oom = true;
        return;
    }
    zset_reply_member(s->c, m, len, score, s->withscores);
}

/* Ends the result: fixes a deferred header. */
static void sink_end(zsink *s)
{
    if (s->store || !s->deferred)
        return;
    long long n = s->withscores && s->c->out.proto != 3 ? s->emitted * 2 : s->emitted;
    reply_fix_array(&s->c->out, s->handle, n);
}

/* ---- the walks -------------------------------------------------------------------------------------- */

/* Normalises Redis-style start/end ranks against llen; false when the range is empty. */
static bool normalize_ranks(long long llen, long long *start, long long *end)
{
    if (*start < 0)
        *start = llen + *start;
    if (*end < 0)
        *end = llen + *end;
    if (*start < 0)
        *start = 0;
    if (*start > *end || *start >= llen)
        return false;
    if (*end >= llen)
        *end = llen - 1;
    return true;
}

/* genericZrangebyrankCommand: emits ranks [start, end] (counted from the top when
 * reverse) after Redis's normalisation of negative and out-of-range indexes. */
static void range_by_rank(zsink *s, const zset_obj *z, long long start, long long end, bool reverse)
{
    if (!normalize_ranks((long long)z->length, &start, &end)) {
        sink_begin(s, 0);
        sink_end(s);
        return;
    }
    long long n = end - start + 1;
    sink_begin(s, n);
    zset_iter it;
    zset_iter_init(&it, z, (uint64_t)start, reverse);
    const char *m;
    size_t len;
    double score;
    while (n-- > 0 && zset_iter_next(&it, &m, &len, &score))
        sink_emit(s, m, len, score);
    sink_end(s);
}

/* The BYSCORE / BYLEX walk (genericZrangebyscoreCommand / ...bylex): from the first
 * member in range (the last when reverse), skip offset members, then emit up to limit
 * (negative: no limit) while the members stay within the far bound. */
static void range_by_bounds(zsink *s, const zset_obj *z, const zrangespec *r, const zlexrangespec *lr,
                            long long offset, long long limit, bool reverse)
{
    sink_begin(s, -1);
    uint64_t llen = z->length, start;
    if (offset < 0 || (offset > 0 && (uint64_t)offset >= llen)) {
        sink_end(s);
        return;
    }
    bool found;
    if (r)
        found = reverse ? zset_last_in_range(z, r, &start) : zset_first_in_range(z, r, &start);
    else
        found = reverse ? zset_last_in_lex_range(z, lr, &start) : zset_first_in_lex_range(z, lr, &start);
    if (!found) {
        sink_end(s);
        return;
    }
    uint64_t rank = reverse ? llen - 1 - start : start;
    zset_iter it;
    zset_iter_init(&it, z, rank + (uint64_t)offset, reverse);
    const char *m;
    size_t len;
    double score;
    while (limit != 0 && zset_iter_next(&it, &m, &len, &score)) {
        bool inside;
        if (r)
            inside = reverse ? zset_score_gte_min(score, r) : zset_score_lte_max(score, r);
        else
            inside = reverse ? zset_lex_gte_min(m, len, lr) : zset_lex_lte_max(m, len, lr);
        if (!inside)
            break;
        sink_emit(s, m, len, score);
        if (limit > 0)
            limit--;
    }
    sink_end(s);
}

/* Redis's zrangeGenericCommand. argc_start: index of the source key (1 for ZRANGE, 2
 * for ZRANGESTORE, whose destination is argv[1]). type/dir: fixed by the command, or
 * AUTO when options choose them. */
static void zrange_generic(client *c, size_t argc_start, bool store, int type, int dir)
{
    size_t minidx = argc_start + 1, maxidx = argc_start + 2;
    long long offset = 0, limit = -1;
    bool withscores = false;
    for (size_t j = argc_start + 3; j < c->argc; j++) {
        size_t leftargs = c->argc - j - 1;
        const resp_arg *a = &c->argv[j];
        if (!store && arg_is(a, "withscores")) {
            withscores = true;
        } else if (arg_is(a, "limit") && leftargs >= 2) {
            if (!arg_ll(c, j + 1, &offset) || !arg_ll(c, j + 2, &limit))
                return;
            j += 2;
        } else if (dir == ZD_AUTO && arg_is(a, "rev")) {
            dir = ZD_REV;
        } else if (type == ZR_AUTO && arg_is(a, "bylex")) {
            type = ZR_LEX;
        } else if (type == ZR_AUTO && arg_is(a, "byscore")) {
            type = ZR_SCORE;
        } else {
            reply_error(&c->out, ERR_SYNTAX);
            return;
        }
    }
    if (dir == ZD_AUTO)
        dir = ZD_FWD;
    if (type == ZR_AUTO)
        type = ZR_RANK;
    if (limit != -1 && type == ZR_RANK) {
        reply_error(&c->out, "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX");
        return;
    }
    if (withscores && type == ZR_LEX) {
        reply_error(&c->out, "ERR syntax error, WITHSCORES not supported in combination with BYLEX");
        return;
    }
    bool reverse = dir == ZD_REV;
    if (reverse && type != ZR_RANK) {
        size_t tmp = minidx;
        minidx = maxidx;
        maxidx = tmp;
    }
    long long start = 0, end = 0;
    zrangespec r;
    zlexrangespec lr;
    const resp_arg *mn = &c->argv[minidx], *mx = &c->argv[maxidx];
    if (type == ZR_RANK) {
        if (!arg_ll(c, minidx, &start) || !arg_ll(c, maxidx, &end))
            return;
    } else if (type == ZR_SCORE) {
        if (!zset_parse_range(mn->ptr, mn->len, mx->ptr, mx->len, &r)) {
            reply_error(&c->out, ERR_NOT_FLOAT_RANGE);
            return;
        }
    } else if (!zset_parse_lex_range(mn->ptr, mn->len, mx->ptr, mx->len, &lr)) {
        reply_error(&c->out, ERR_NOT_LEX_RANGE);
        return;
    }
    kv_entry *e;
    if (!key_lookup_typed(c, argc_start, KV_ZSET, KEY_READ, &e))
        return;
    zset_obj *z = zset_of(e);
    zsink s = { .c = c, .store = store, .withscores = withscores || store };
    zres_init(&s.res);
    if (!z) {
        if (!store)
            reply_array(&c->out, 0);
    } else if (type == ZR_RANK) {
        range_by_rank(&s, z, start, end, reverse);
    } else {
        range_by_bounds(&s, z, type == ZR_SCORE ? &r : NULL, type == ZR_LEX ? &lr : NULL, offset, limit,
                        reverse);
    }
    if (store) {
        if (s.oom) {
            cmd_abort(c, ERR_OOM);
        } else {
            zres_freeze(&s.res);
            /* a reverse walk produced descending order */
            for (size_t i = 0, j = s.res.n; reverse && i + 1 < j; i++, j--) {
                zset_item tmp = s.res.items[i];
                s.res.items[i] = s.res.items[j - 1];
                s.res.items[j - 1] = tmp;
            }
            if (zset_store_result(c, &c->keys[1], s.res.items, s.res.n))
                reply_int(&c->out, (long long)s.res.n);
        }
    }
    zres_free(&s.res);
}

void zcmd_zrange(client *c) { zrange_generic(c, 1, false, ZR_AUTO, ZD_AUTO); }
void zcmd_zrangestore(client *c) { zrange_generic(c, 2, true, ZR_AUTO, ZD_AUTO); }
void zcmd_zrevrange(client *c) { zrange_generic(c, 1, false, ZR_RANK, ZD_REV); }
void zcmd_zrangebyscore(client *c) { zrange_generic(c, 1, false, ZR_SCORE, ZD_FWD); }
void zcmd_zrevrangebyscore(client *c) { zrange_generic(c, 1, false, ZR_SCORE, ZD_REV); }
void zcmd_zrangebylex(client *c) { zrange_generic(c, 1, false, ZR_LEX, ZD_FWD); }
void zcmd_zrevrangebylex(client *c) { zrange_generic(c, 1, false, ZR_LEX, ZD_REV); }

/* ---- ZCOUNT, ZLEXCOUNT --------------------------------------------------------------------------- */

/* How many members from rank first on stay within the far bound (the walk Redis's
 * compact-set counts and range deletions make). */
static uint64_t walk_count(const zset_obj *z, uint64_t first, const zrangespec *r, const zlexrangespec *lr)
{
    zset_iter it;
    zset_iter_init(&it, z, first, false);
    const char *m;
    size_t len;
    double score;
    uint64_t n = 0;
    while (zset_iter_next(&it, &m, &len, &score) &&
           (r ? zset_score_lte_max(score, r) : zset_lex_lte_max(m, len, lr)))
        n++;
    return n;
}

/* ZCOUNT key min max: members with scores in the range (O(log n) through ranks). */
void zcmd_zcount(client *c)
{
    zrangespec r;
    if (!zset_parse_range(c->argv[2].ptr, c->argv[2].len, c->argv[3].ptr, c->argv[3].len, &r)) {
        reply_error(&c->out, ERR_NOT_FLOAT_RANGE);
        return;
    }
    kv_entry *e;
    if (!key_lookup_typed(c, 1, KV_ZSET, KEY_READ, &e))
        return;
    zset_obj *z = zset_of(e);
    uint64_t first, last;
    reply_int(&c->out, z && zset_score_range_ranks(z, &r, &first, &last) ? (long long)(last - first + 1) : 0);
}

/* ZLEXCOUNT key min max: members within the lex range. */
void zcmd_zlexcount(client *c)
{
    zlexrangespec r;
    if (!zset_parse_lex_range(c->argv[2].ptr, c->argv[2].len, c->argv[3].ptr, c->argv[3].len, &r)) {
        reply_error(&c->out, ERR_NOT_LEX_RANGE);
        return;
    }
    kv_entry *e;
    if (!key_lookup_typed(c, 1, KV_ZSET, KEY_READ, &e))
        return;
    zset_obj *z = zset_of(e);
    uint64_t first, last;
    long long count = 0;
    if (z && zset_first_in_lex_range(z, &r, &first)) {
        if (z->encoding == ZSET_COMPACT) {
            count = (long long)walk_count(z, first, NULL, &r);
        } else {
            /* zlexcountCommand's rank arithmetic */
            count = (long long)(z->length - first);
            if (zset_last_in_lex_range(z, &r, &last))
                count -= (long long)(z->length - 1 - last);
        }
    }
    reply_int(&c->out, count);
}

/* ---- ZREMRANGEBYRANK, ZREMRANGEBYSCORE, ZREMRANGEBYLEX ------------------------------------------- */

/* Redis's zremrangeGenericCommand: parses the range, then removes the members of the
 * resulting rank window (O(log n) to find, O(removed) to walk and remove); removing all of them deletes the key without visiting the
 * nodes (a big set is then freed lazily). Replies the number removed. */
static void zremrange_generic(client *c, int type)
{
    long long start = 0, end = 0;
    zrangespec r;
    zlexrangespec lr;
    const resp_arg *mn = &c->argv[2], *mx = &c->argv[3];
    if (type == ZR_RANK) {
        if (!arg_ll(c, 2, &start) || !arg_ll(c, 3, &end))
            return;
    } else if (type == ZR_SCORE) {
        if (!zset_parse_range(mn->ptr, mn->len, mx->ptr, mx->len, &r)) {
            reply_error(&c->out, ERR_NOT_FLOAT_RANGE);
            return;
        }
    } else if (!zset_parse_lex_range(mn->ptr, mn->len, mx->ptr, mx->len, &lr)) {
        reply_error(&c->out, ERR_NOT_LEX_RANGE);
        return;
    }
    const kv_key *k = &c->keys[1];
    kv_entry *e;
    if (!key_lookup_typed_at(c, k, KV_ZSET, KEY_WRITE, &e))
        return;
    zset_obj *z = zset_of(e);
    uint64_t first = 0, last = 0;
    bool found = false;
    if (z && type == ZR_RANK) {
        found = normalize_ranks((long long)z->length, &start, &end);
        first = (uint64_t)start;
        last = (uint64_t)end;
    } else if (z) {
        /* from the first member in range, delete while within the far bound */
        found = type == ZR_SCORE ? zset_first_in_range(z, &r, &first) : zset_first_in_lex_range(z, &lr, &first);
        if (found)
            last = first + walk_count(z, first, type == ZR_SCORE ? &r : NULL, type == ZR_LEX ? &lr : NULL) - 1;
    }
    if (!found) {
        reply_int(&c->out, 0);
        return;
    }
    kv_txn *t = zset_txn(c);
    uint64_t removed = last - first + 1;
    if (removed == z->length) {
        store_delete(t, k);
        if (t->failed) {
            reply_store_error(c, STORE_E_NOMEM);
            return;
        }
    } else {
        zset_delete_rank_range(t, k->shard, e, z, first, last);
        if (!zset_settle(c, k, z))
            return;
    }
    reply_int(&c->out, (long long)removed);
}

void zcmd_zremrangebyrank(client *c) { zremrange_generic(c, ZR_RANK); }
void zcmd_zremrangebyscore(client *c) { zremrange_generic(c, ZR_SCORE); }
void zcmd_zremrangebylex(client *c) { zremrange_generic(c, ZR_LEX); }
