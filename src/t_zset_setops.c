/* t_zset_setops.c - ZUNION, ZINTER, ZDIFF, their STORE forms and ZINTERCARD (Redis 7
 * semantics: numkeys, WEIGHTS, AGGREGATE SUM|MIN|MAX, WITHSCORES, LIMIT; plain sets
 * count as sorted sets whose scores are all 1). The dispatcher locks every key's shard
 * (resolved from numkeys by the key specs) in one transaction; the result is computed
 * in process memory and, for the STORE forms, written to the destination in the same
 * transaction (whose memory check and eviction are the dispatcher's, as for any
 * DENYOOM command). */
#include "t_zset.h"
#include "kvns/set.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum setop { OP_UNION, OP_INTER, OP_DIFF };
enum aggregate { AGG_SUM, AGG_MIN, AGG_MAX };

/* One input: a sorted set, a set (scores 1) or a missing key (empty). */
typedef struct zsrc {
    uint8_t  type;           /* KV_ZSET, KV_SET, or KV_STRING for a missing key */
    aoff     obj;
    uint64_t len;
    double   weight;
    size_t   order;          /* position in the command, a tie-breaker for sorting */
} zsrc;

/* Score of m in input s (1 for a set member); false when absent or s is missing. */
static bool src_find(const zsrc *s, const char *m, size_t len, double *score)
{
    if (s->type == KV_ZSET)
        return zset_score(arena_ptr(s->obj), m, len, score);
    if (s->type == KV_SET && set_contains(s->obj, m, len)) {
        *score = 1.0;
        return true;
    }
    return false;
}

typedef void (*member_fn)(const char *m, size_t len, double score, void *ctx);

struct set_adapter { member_fn fn; void *ctx; };

/* set_foreach callback: a set member counts with score 1. */
static void set_visit(hs_str member, void *arg)
{
    struct set_adapter *a = arg;
    a->fn(member.p, member.len, 1.0, a->ctx);
}

/* Calls fn for every member of s. */
static void src_foreach(const zsrc *s, member_fn fn, void *ctx)
{
    if (s->type == KV_ZSET) {
        zset_iter it;
        zset_iter_init(&it, arena_ptr(s->obj), 0, false);
        const char *m;
        size_t len;
        double score;
        while (zset_iter_next(&it, &m, &len, &score))
            fn(m, len, score, ctx);
    } else if (s->type == KV_SET) {
        struct set_adapter a = { fn, ctx };
        set_foreach(s->obj, set_visit, &a);
    }
}

/* Ascending cardinality (input order on ties), as Redis sorts the inputs. */
static int src_cmp(const void *a, const void *b)
{
    const zsrc *x = a, *y = b;
    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

/* zunionInterAggregate: SUM turns NaN (inf + -inf) into 0. */
static void aggregate(double *target, double val, int agg)
{
    if (agg == AGG_SUM) {
        *target += val;
        if (isnan(*target))
            *target = 0.0;
    } else if (agg == AGG_MIN) {
        *target = val < *target ? val : *target;
    } else {
        *target = val > *target ? val : *target;
    }
}

/* ---- the accumulator: result members with a hash index ---------------------------------------- */

typedef struct accum {
    zset_results res;
    uint64_t    *slot;       /* item index + 1, 0 = empty */
    uint64_t     mask;
    int          agg;
    double       weight;     /* of the source being added */
    bool         oom;
} accum;

/* FNV-1a with a final mix: the accumulator's hash of member bytes. */
static uint64_t member_hash(const char *p, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)p[i]) * 1099511628211ULL;
    return h ^ (h >> 29);
}

/* An empty accumulator aggregating with agg; false when out of process memory. */
static bool accum_init(accum *a, int agg)
{
    memset(a, 0, sizeof *a);
    zres_init(&a->res);
    a->agg = agg;
    a->mask = 63;
    a->slot = calloc(64, sizeof *a->slot);
    return a->slot != NULL;
}

/* Releases the accumulator's memory. */
static void accum_free(accum *a)
{
    zres_free(&a->res);
    free(a->slot);
}

/* Member bytes of item i (the pool is only allocated once some member has bytes). */
static const char *accum_member(const accum *a, uint64_t i)
{
    return a->res.pool ? a->res.pool + a->res.offs[i] : "";
}

/* The slot holding m, or the empty slot where it would go. */
static uint64_t *accum_slot(accum *a, const char *m, size_t len)
{
    for (uint64_t i = member_hash(m, len) & a->mask;; i = (i + 1) & a->mask) {
        uint64_t v = a->slot[i];
        if (!v || (a->res.items[v - 1].len == len && (!len || memcmp(accum_member(a, v - 1), m, len) == 0)))
            return &a->slot[i];
    }
}

/* Doubles the hash index; false when out of process memory. */
static bool accum_grow(accum *a)
{
    uint64_t cap = (a->mask + 1) * 2;
    uint64_t *old = a->slot, old_cap = a->mask + 1;
    a->slot = calloc(cap, sizeof *a->slot);
    if (!a->slot) {
        a->slot = old;
        return false;
    }
    a->mask = cap - 1;
    for (uint64_t i = 0; i < old_cap; i++) {
        if (!old[i])
            continue;
        uint64_t v = old[i] - 1;
        *accum_slot(a, accum_member(a, v), a->res.items[v].len) = old[i];
    }
    free(old);
    return true;
}

/* Adds (m, score) or aggregates it into the member already there. */
static void accum_add(accum *a, const char *m, size_t len, double score)
{
    uint64_t *slot = accum_slot(a, m, len);
    if (*slot) {
        aggregate(&a->res.items[*slot - 1].score, score, a->agg);
        return;
    }
    if (!zres_add(&a->res, m, len, score)) {
        a->oom = true;
        return;
    }
    *slot = a->res.n;
    if (a->res.n * 2 > a->mask + 1 && !accum_grow(a))
        a->oom = true;
}

/* ZUNION: weights one member of the current input and aggregates it in. */
static void union_visit(const char *m, size_t len, double score, void *ctx)
{
    accum *a = ctx;
    score *= a->weight;
    if (isnan(score))
        score = 0;
    accum_add(a, m, len, score);
}

/* ---- the operations -------------------------------------------------------------------------------- */

struct inter_ctx {
    const zsrc *src;
    size_t      n;
    int         agg;
    bool        count_only;
    long long   limit, card;
    zset_results *out;
    bool        oom;
};

/* ZINTER: keeps a member of the smallest input present in every other input, its
 * weighted scores aggregated (or only counts it for ZINTERCARD, up to LIMIT). */
static void inter_visit(const char *m, size_t len, double score, void *arg)
{
    struct inter_ctx *x = arg;
    if (x->count_only && x->limit && x->card >= x->limit)
        return;
    double acc = x->src[0].weight * score;
    if (isnan(acc))
        acc = 0;
    for (size_t j = 1; j < x->n; j++) {
        double v;
        if (!src_find(&x->src[j], m, len, &v))
            return;
        aggregate(&acc, v * x->src[j].weight, x->agg);
    }
    if (x->count_only)
        x->card++;
    else if (!zres_add(x->out, m, len, acc))
        x->oom = true;
}

struct diff_ctx { const zsrc *src; size_t n; zset_results *out; bool oom; };

/* ZDIFF: keeps a member of the first input that no other input holds. */
static void diff_visit(const char *m, size_t len, double score, void *arg)
{
    struct diff_ctx *x = arg;
    double v;
    for (size_t j = 1; j < x->n; j++)
        if (src_find(&x->src[j], m, len, &v))
            return;
    if (!zres_add(x->out, m, len, score))
        x->oom = true;
}

/* Parsed command: where the pieces are. */
typedef struct setop_args {
    int       op;
    bool      store, count_only, withscores;
    int       agg;
    long long limit;
} setop_args;

/* Replies the result of a non-STORE form. */
static void reply_result(client *c, const setop_args *p, const zset_results *res, long long card)
{
    if (p->count_only) {
        reply_int(&c->out, card);
        return;
    }
    zset_reply_members_header(c, (long long)res->n, p->withscores);
    for (size_t i = 0; i < res->n; i++)
        zset_reply_member(c, res->items[i].member, res->items[i].len, res->items[i].score, p->withscores);
}

/* Parses WEIGHTS / AGGREGATE / WITHSCORES / LIMIT after the keys (Redis's order and
 * conditions). Returns false after replying the error. */
static bool parse_options(client *c, size_t j, zsrc *src, size_t setnum, setop_args *p)
{
    while (j < c->argc) {
        size_t remaining = c->argc - j;
        const resp_arg *a = &c->argv[j];
        if (p->op != OP_DIFF && !p->count_only && remaining >= setnum + 1 && arg_is(a, "weights")) {
            j++;
            for (size_t i = 0; i < setnum; i++, j++) {
                if (parse_double(c->argv[j].ptr, c->argv[j].len, &src[i].weight) != 0) {
                    reply_error(&c->out, "ERR weight value is not a float");
                    return false;
                }
            }
        } else if (p->op != OP_DIFF && !p->count_only && remaining >= 2 && arg_is(a, "aggregate")) {
            const resp_arg *v = &c->argv[j + 1];
            if (arg_is(v, "sum"))
                p->agg = AGG_SUM;
            else if (arg_is(v, "min"))
                p->agg = AGG_MIN;
            else if (arg_is(v, "max"))
                p->agg = AGG_MAX;
            else {
                reply_error(&c->out, ERR_SYNTAX);
                return false;
            }
            j += 2;
        } else if (!p->store && !p->count_only && arg_is(a, "withscores")) {
            p->withscores = true;
            j++;
        } else if (p->count_only && remaining >= 2 && arg_is(a, "limit")) {
            /* getPositiveLongFromObjectOrReply: one message for both failures */
            if (parse_ll(c->argv[j + 1].ptr, c->argv[j + 1].len, &p->limit) != 0 || p->limit < 0) {
                reply_error(&c->out, "ERR LIMIT can't be negative");
                return false;
            }
            j += 2;
        } else {
            reply_error(&c->out, ERR_SYNTAX);
            return false;
        }
    }
    return true;
}

/* Computes the operation into res (sorted) or *card. Returns false on process OOM. */
static bool compute(zsrc *src, size_t setnum, const setop_args *p, zset_results *res, long long *card)
{
    if (p->op != OP_DIFF)
        qsort(src, setnum, sizeof *src, src_cmp);
    if (p->op == OP_UNION) {
        accum a;
        if (!accum_init(&a, p->agg))
            return false;
        for (size_t i = 0; i < setnum && !a.oom; i++) {
            if (!src[i].len)
                continue;
            a.weight = src[i].weight;
            src_foreach(&src[i], union_visit, &a);
        }
        bool ok = !a.oom;
        *res = a.res;                 /* hand the items over */
        zres_init(&a.res);
        accum_free(&a);
        if (!ok)
            return false;
    } else if (p->op == OP_INTER) {
        struct inter_ctx x = { src, setnum, p->agg, p->count_only, p->limit, 0, res, false };
        if (src[0].len)
            src_foreach(&src[0], inter_visit, &x);
        *card = x.card;
        if (x.oom)
            return false;
    } else {
        struct diff_ctx x = { src, setnum, res, false };
        if (src[0].len)
            src_foreach(&src[0], diff_visit, &x);
        if (x.oom)
            return false;
    }
    zres_freeze(res);
    zres_sort(res);
    return true;
}

/* zunionInterDiffGenericCommand. numkeys_idx: 2 for the STORE forms (destination in
 * argv[1]), else 1. */
static void setop_generic(client *c, size_t numkeys_idx, setop_args p)
{
    long long setnum;
    if (!arg_ll(c, numkeys_idx, &setnum))
        return;
    if (setnum < 1) {
        reply_errorf(&c->out, "ERR at least 1 input key is needed for '%s' command", c->last_cmd->name);
        return;
    }
    if (setnum > (long long)(c->argc - numkeys_idx - 1)) {
        reply_error(&c->out, ERR_SYNTAX);
        return;
    }
    size_t n = (size_t)setnum;
    zsrc *src = calloc(n, sizeof *src);
    if (!src) {
        reply_error(&c->out, ERR_OOM);
        return;
    }
    kv_txn *t = zset_txn(c);
    zset_results res;
    zres_init(&res);
    long long card = 0;
    bool ok = true;
    for (size_t i = 0; i < n && ok; i++) {
        kv_entry *e = store_find_read(t, &c->keys[numkeys_idx + 1 + i]);
        src[i] = (zsrc){ KV_STRING, 0, 0, 1.0, i };
        if (!e)
            continue;
        if (e->type != KV_ZSET && e->type != KV_SET) {
            reply_error(&c->out, ERR_WRONGTYPE);
            ok = false;
            break;
        }
        src[i].type = e->type;
        src[i].obj = entry_obj(e);
        src[i].len = e->type == KV_ZSET ? ((zset_obj *)arena_ptr(src[i].obj))->length : set_len(src[i].obj);
    }
    if (ok)
        ok = parse_options(c, numkeys_idx + 1 + n, src, n, &p);
    if (ok && !compute(src, n, &p, &res, &card)) {
        reply_error(&c->out, ERR_OOM);
        ok = false;
    }
    if (ok && !p.store)
        reply_result(c, &p, &res, card);
    else if (ok && zset_store_result(c, &c->keys[1], res.items, res.n))
        reply_int(&c->out, (long long)res.n);   /* else aborted, error replied */
    zres_free(&res);
    free(src);
}

void zcmd_zunionstore(client *c) { setop_generic(c, 2, (setop_args){ .op = OP_UNION, .store = true }); }
void zcmd_zinterstore(client *c) { setop_generic(c, 2, (setop_args){ .op = OP_INTER, .store = true }); }
void zcmd_zdiffstore(client *c) { setop_generic(c, 2, (setop_args){ .op = OP_DIFF, .store = true }); }
void zcmd_zunion(client *c) { setop_generic(c, 1, (setop_args){ .op = OP_UNION }); }
void zcmd_zinter(client *c) { setop_generic(c, 1, (setop_args){ .op = OP_INTER }); }
void zcmd_zdiff(client *c) { setop_generic(c, 1, (setop_args){ .op = OP_DIFF }); }
void zcmd_zintercard(client *c) { setop_generic(c, 1, (setop_args){ .op = OP_INTER, .count_only = true }); }
