/* t_zset.c - sorted set commands (Redis 7 semantics): ZADD, ZINCRBY, ZREM, ZCARD,
 * ZSCORE, ZMSCORE, ZRANK, ZREVRANK, ZPOPMIN, ZPOPMAX, ZMPOP, ZRANDMEMBER, ZSCAN, the
 * helpers the other zset command files share, and the command table. Range commands
 * are in t_zset_range.c, the multi-key set operations in t_zset_setops.c. Handlers of
 * table-driven rows run inside the transaction the dispatcher opened (command.h). */
#include "t_zset.h"
#include "kvns/rng.h"
#include "kvns/scan.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- shared helpers --------------------------------------------------------------------- */

zset_obj *zset_create_at(client *c, const kv_key *k, kv_entry **ep)
{
    kv_txn *t = zset_txn(c);
    aoff root = zset_create(t, k->shard);
    if (!root) {
        reply_store_error(c, STORE_E_NOMEM);
        return NULL;
    }
    int rc = store_put_object(t, k, KV_ZSET, root, -1, ep);
    if (rc != STORE_OK) {
        reply_store_error(c, rc);
        return NULL;
    }
    return arena_ptr(root);
}

bool zset_settle(client *c, const kv_key *k, zset_obj *z)
{
    kv_txn *t = zset_txn(c);
    if (t->failed) {
        reply_store_error(c, STORE_E_NOMEM);
        return false;
    }
    if (!z->length)
        store_delete(t, k);
    if (t->failed) {
        reply_store_error(c, STORE_E_NOMEM);
        return false;
    }
    return true;
}

bool zset_store_result(client *c, const kv_key *k, const zset_item *items, size_t n)
{
    kv_txn *t = zset_txn(c);
    if (n == 0) {
        store_delete(t, k);
        return true;
    }
    aoff root = zset_build_sorted(t, k->shard, items, n);
    if (!root) {
        reply_store_error(c, STORE_E_NOMEM);
        return false;
    }
    int rc = store_put_object(t, k, KV_ZSET, root, -1, NULL);
    if (rc != STORE_OK) {
        reply_store_error(c, rc);
        return false;
    }
    return true;
}

void zset_reply_member(client *c, const char *m, size_t len, double score, bool withscores)
{
    if (withscores && c->out.proto == 3)
        reply_array(&c->out, 2);
    reply_bulk(&c->out, m, len);
    if (withscores)
        zset_reply_score(c, score);
}

void zset_reply_members_header(client *c, long long n, bool withscores)
{
    reply_array(&c->out, withscores && c->out.proto != 3 ? n * 2 : n);
}

void zres_init(zset_results *r) { memset(r, 0, sizeof *r); }

bool zres_add(zset_results *r, const char *m, size_t len, double score)
{
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 16;
        zset_item *items = realloc(r->items, cap * sizeof *items);
        size_t *offs = items ? realloc(r->offs, cap * sizeof *offs) : NULL;
        if (items)
            r->items = items;
        if (!items || !offs)
            return false;
        r->offs = offs;
        r->cap = cap;
    }
    if (r->pool_len + len > r->pool_cap) {
        size_t cap = r->pool_cap ? r->pool_cap : 256;
        while (cap < r->pool_len + len)
            cap *= 2;
        char *pool = realloc(r->pool, cap);
        if (!pool)
            return false;
        r->pool = pool;
        r->pool_cap = cap;
    }
    if (len)
        memcpy(r->pool + r->pool_len, m, len);
    r->offs[r->n] = r->pool_len;
    r->items[r->n++] = (zset_item){ NULL, len, score };
    r->pool_len += len;
    return true;
}

void zres_freeze(zset_results *r)
{
    for (size_t i = 0; i < r->n; i++)
        r->items[i].member = r->pool ? r->pool + r->offs[i] : "";   /* all members empty */
}

/* (score, member) order for qsort. */
static int item_cmp(const void *a, const void *b)
{
    const zset_item *x = a, *y = b;
    if (x->score != y->score)
        return x->score < y->score ? -1 : 1;
    return zset_member_cmp(x->member, x->len, y->member, y->len);
}

void zres_sort(zset_results *r)
{
    if (r->n > 1)
        qsort(r->items, r->n, sizeof *r->items, item_cmp);
}

void zres_free(zset_results *r)
{
    free(r->items);
    free(r->offs);
    free(r->pool);
    zres_init(r);
}

/* ---- ZADD, ZINCRBY ------------------------------------------------------------------------ */

/* Redis's zaddGenericCommand: ZADD key [NX|XX] [GT|LT] [CH] [INCR] score member ...
 * Replies the number of added (CH: added or changed) members, or with INCR the new
 * score (nil when NX/XX/GT/LT prevented the update). */
/* Adds the ZADD option a names (NX XX GT LT INCR, any case) to *flags, or sets *ch for
 * CH. Returns false when a is no option (the scores start there). Looks at the length
 * first: it runs on every score argument of every ZADD. */
static bool zadd_option(const resp_arg *a, int *flags, bool *ch)
{
    if (a->len == 4) {
        if (strncasecmp(a->ptr, "incr", 4) != 0)
            return false;
        *flags |= ZADD_IN_INCR;
        return true;
    }
    if (a->len != 2)
        return false;
    /* c | 0x20 is a lowercase letter only when c is that letter or its capital */
    char w0 = (char)(a->ptr[0] | 0x20), w1 = (char)(a->ptr[1] | 0x20);
    if (w0 == 'n' && w1 == 'x')
        *flags |= ZADD_IN_NX;
    else if (w0 == 'x' && w1 == 'x')
        *flags |= ZADD_IN_XX;
    else if (w0 == 'g' && w1 == 't')
        *flags |= ZADD_IN_GT;
    else if (w0 == 'l' && w1 == 't')
        *flags |= ZADD_IN_LT;
    else if (w0 == 'c' && w1 == 'h')
        *ch = true;
    else
        return false;
    return true;
}

/* Parses a score like parse_double. Plain decimal integers of up to 15 digits (leading
 * zeros allowed, a '-' before a nonzero value) convert exactly without strtod, which
 * gives the same double for them; everything else is parse_double's. */
static int zadd_parse_score(const char *p, size_t n, double *out)
{
    bool neg = n > 1 && p[0] == '-';
    size_t i = neg ? 1 : 0;
    if (n == i || n - i > 15)
        return parse_double(p, n, out);
    uint64_t v = 0;
    for (; i < n; i++) {
        unsigned d = (unsigned)(unsigned char)p[i] - '0';
        if (d > 9)
            return parse_double(p, n, out);
        v = v * 10 + d;
    }
    if (neg && v == 0)
        return parse_double(p, n, out);
    *out = neg ? -(double)v : (double)v;
    return 0;
}

#define ZADD_STACK_SCORES 16   /* scores parsed without malloc */

static void zadd_generic(client *c, int flags)
{
    kv_txn *t = zset_txn(c);
    size_t idx = 2;
    bool ch = false;
    while (idx < c->argc && zadd_option(&c->argv[idx], &flags, &ch))
        idx++;
    bool incr = flags & ZADD_IN_INCR, nx = flags & ZADD_IN_NX, xx = flags & ZADD_IN_XX;
    bool gt = flags & ZADD_IN_GT, lt = flags & ZADD_IN_LT;
    size_t elements = c->argc - idx;
    if (elements % 2 || !elements) {
        reply_error(&c->out, ERR_SYNTAX);
        return;
    }
    elements /= 2;
    if (nx && xx) {
        reply_error(&c->out, "ERR XX and NX options at the same time are not compatible");
        return;
    }
    if ((gt && nx) || (lt && nx) || (gt && lt)) {
        reply_error(&c->out, "ERR GT, LT, and/or NX options at the same time are not compatible");
        return;
    }
    if (incr && elements > 1) {
        reply_error(&c->out, "ERR INCR option supports a single increment-element pair");
        return;
    }
    double stack_scores[ZADD_STACK_SCORES];
    double *scores = elements <= ZADD_STACK_SCORES ? stack_scores : malloc(elements * sizeof *scores);
    if (!scores) {
        reply_error(&c->out, ERR_OOM);
        return;
    }
    for (size_t j = 0; j < elements; j++) {
        const resp_arg *a = &c->argv[idx + j * 2];
        if (zadd_parse_score(a->ptr, a->len, &scores[j]) != 0) {
            reply_error(&c->out, ERR_NOT_FLOAT);
            goto done;
        }
    }
    const kv_key *k = &c->keys[1];
    kv_entry *e;
    bool ok = key_lookup_typed_at(c, k, KV_ZSET, KEY_WRITE, &e);
    zset_obj *z = zset_of(e);
    long long added = 0, updated = 0, processed = 0;
    double score = 0;
    if (!ok)
        goto done;
    if (!z) {
        if (xx)
            goto reply;
        if (!(z = zset_create_at(c, k, &e)))
            goto done;
    }
    for (size_t j = 0; j < elements; j++) {
        const resp_arg *m = &c->argv[idx + 1 + j * 2];
        int out;
        double newscore = scores[j];
        int rc = zset_add(t, k->shard, e, z, scores[j], m->ptr, m->len, flags, &out, &newscore);
        if (rc == 0) {
            cmd_abort(c, "ERR resulting score is not a number (NaN)");
            goto done;
        }
        if (rc < 0) {
            reply_store_error(c, STORE_E_NOMEM);
            goto done;
        }
        if (out & ZADD_OUT_ADDED)
            added++;
        if (out & ZADD_OUT_UPDATED)
            updated++;
        if (!(out & ZADD_OUT_NOP))
            processed++;
        score = newscore;
    }
    if (!zset_settle(c, k, z))
        goto done;
reply:
    if (incr) {
        if (processed)
            zset_reply_score(c, score);
        else
            reply_null(&c->out);
    } else {
        reply_int(&c->out, ch ? added + updated : added);
    }
done:
    if (scores != stack_scores)
        free(scores);
}

/* ZADD and ZINCRBY share Redis's zaddGenericCommand. */
static void cmd_zadd(client *c) { zadd_generic(c, 0); }
static void cmd_zincrby(client *c) { zadd_generic(c, ZADD_IN_INCR); }

/* ---- ZREM, ZCARD, ZSCORE, ZMSCORE, ZRANK ------------------------------------------------------ */

/* ZREM key member...: how many members were removed (the key goes with the last). */
static void cmd_zrem(client *c)
{
    kv_txn *t = zset_txn(c);
    const kv_key *k = &c->keys[1];
    kv_entry *e;
    if (!key_lookup_typed_at(c, k, KV_ZSET, KEY_WRITE, &e))
        return;
    zset_obj *z = zset_of(e);
    if (!z) {
        reply_int(&c->out, 0);
        return;
    }
    long long deleted = 0;
    for (size_t j = 2; j < c->argc && z->length && !t->failed; j++)
        deleted += zset_del(t, k->shard, e, z, c->argv[j].ptr, c->argv[j].len);
    if (zset_settle(c, k, z))
        reply_int(&c->out, deleted);
}

/* ZCARD key: the number of members, 0 for a missing key. */
static void cmd_zcard(client *c)
{
    kv_entry *e;
    if (key_lookup_typed(c, 1, KV_ZSET, KEY_READ, &e))
        reply_int(&c->out, e ? (long long)zset_of(e)->length : 0);
}

/* ZSCORE key member: the score, or nil. */
static void cmd_zscore(client *c)
{
    kv_entry *e;
    if (!key_lookup_typed(c, 1, KV_ZSET, KEY_READ, &e))
        return;
    zset_obj *z = zset_of(e);
    double score;
    if (z && zset_score(z, c->argv[2].ptr, c->argv[2].len, &score))
        zset_reply_score(c, score);
    else
        reply_null(&c->out);
}

/* ZMSCORE key member...: the score of each member, nil for absent ones. */
static void cmd_zmscore(client *c)
{
    kv_entry *e;
    if (!key_lookup_typed(c, 1, KV_ZSET, KEY_READ, &e))
        return;
    zset_obj *z = zset_of(e);
    reply_array(&c->out, (long long)c->argc - 2);
    for (size_t j = 2; j < c->argc; j++) {
        double score;
        if (z && zset_score(z, c->argv[j].ptr, c->argv[j].len, &score))
            zset_reply_score(c, score);
        else
            reply_null(&c->out);
    }
}

/* ZRANK / ZREVRANK key member [WITHSCORE] (7.2): the 0-based rank, or [rank, score];
 * nil (a nil array with WITHSCORE) when the key or member is missing. */
static void zrank_generic(client *c, bool reverse)
{
    if (c->argc > 4) {
        reply_errorf(&c->out, "ERR wrong number of arguments for '%s' command", c->last_cmd->name);
        return;
    }
    bool withscore = false;
    if (c->argc == 4) {
        if (!arg_is(&c->argv[3], "withscore")) {
            reply_error(&c->out, ERR_SYNTAX);
            return;
        }
        withscore = true;
    }
    kv_entry *e;
    if (!key_lookup_typed(c, 1, KV_ZSET, KEY_READ, &e))
        return;
    zset_obj *z = zset_of(e);
    uint64_t rank;
    double score;
    if (!z || !zset_rank(z, c->argv[2].ptr, c->argv[2].len, reverse, &rank, &score)) {
        if (withscore)
            reply_null_array(&c->out);
        else
            reply_null(&c->out);
        return;
    }
    if (withscore)
        reply_array(&c->out, 2);
    reply_int(&c->out, (long long)rank);
    if (withscore)
        zset_reply_score(c, score);
}

/* ZRANK counts from the lowest score, ZREVRANK from the highest. */
static void cmd_zrank(client *c) { zrank_generic(c, false); }
static void cmd_zrevrank(client *c) { zrank_generic(c, true); }

/* ---- ZPOPMIN, ZPOPMAX, ZMPOP ------------------------------------------------------------------ */

/* Pops min(count, length) members of z from the low end (or the high end when max)
 * and replies each (as a [member, score] array when nested). The caller wrote the
 * enclosing header. Removing everything deletes the key without visiting the nodes
 * (a big set is then freed lazily). Returns false after aborting. */
static bool zpop_members(client *c, const kv_key *k, kv_entry *e, zset_obj *z, bool max, uint64_t n,
                         bool nested)
{
    kv_txn *t = zset_txn(c);
    uint64_t len = z->length;
    zset_iter it;
    zset_iter_init(&it, z, 0, max);
    const char *m;
    size_t mlen;
    double score;
    for (uint64_t i = 0; i < n && zset_iter_next(&it, &m, &mlen, &score); i++) {
        if (nested)
            reply_array(&c->out, 2);
        reply_bulk(&c->out, m, mlen);
        zset_reply_score(c, score);
    }
    if (n >= len) {
        store_delete(t, k);
        if (t->failed) {
            reply_store_error(c, STORE_E_NOMEM);
            return false;
        }
        return true;
    }
    if (max)
        zset_delete_rank_range(t, k->shard, e, z, len - n, len - 1);
    else
        zset_delete_rank_range(t, k->shard, e, z, 0, n - 1);
    return zset_settle(c, k, z);
}

/* ZPOPMIN / ZPOPMAX key [count]: without count a flat [member, score]; with count the
 * popped pairs (nested in RESP3). */
static void zpop_generic(client *c, bool max)
{
    if (c->argc > 3) {
        reply_error(&c->out, ERR_SYNTAX);
        return;
    }
    long long count = -1;
    if (c->argc == 3 && (parse_ll(c->argv[2].ptr, c->argv[2].len, &count) != 0 || count < 0)) {
        /* getPositiveLongFromObjectOrReply: one message for both failures */
        reply_error(&c->out, "ERR value is out of range, must be positive");
        return;
    }
    bool nested = c->out.proto == 3 && count != -1;
    const kv_key *k = &c->keys[1];
    kv_entry *e;
    if (!key_lookup_typed_at(c, k, KV_ZSET, KEY_WRITE, &e))
        return;
    zset_obj *z = zset_of(e);
    if (!z || count == 0) {
        reply_array(&c->out, 0);
        return;
    }
    uint64_t n = count == -1 ? 1 : (uint64_t)count;
    if (n > z->length)
        n = z->length;
    reply_array(&c->out, nested ? (long long)n : (long long)n * 2);
    zpop_members(c, k, e, z, max, n, nested);
}

/* ZPOPMIN pops the lowest scores, ZPOPMAX the highest. */
static void cmd_zpopmin(client *c) { zpop_generic(c, false); }
static void cmd_zpopmax(client *c) { zpop_generic(c, true); }

/* Parses a positive count like getRangeLongFromObjectOrReply(1, LONG_MAX, msg): both a
 * non-integer and an out-of-range value reply msg. */
static bool positive_arg(client *c, size_t i, const char *msg, long long *out)
{
    if (parse_ll(c->argv[i].ptr, c->argv[i].len, out) != 0 || *out < 1) {
        reply_error(&c->out, msg);
        return false;
    }
    return true;
}

/* ZMPOP numkeys key... MIN|MAX [COUNT count]: [key, [[member, score], ...]] from the
 * first non-empty key, or a nil array. */
static void cmd_zmpop(client *c)
{
    long long numkeys, count = -1;
    if (!positive_arg(c, 1, "ERR numkeys should be greater than 0", &numkeys))
        return;
    if (numkeys > (long long)c->argc - 2) {
        reply_error(&c->out, ERR_SYNTAX);
        return;
    }
    size_t where_idx = 2 + (size_t)numkeys;
    if (where_idx >= c->argc) {
        reply_error(&c->out, ERR_SYNTAX);
        return;
    }
    bool max;
    if (arg_is(&c->argv[where_idx], "min"))
        max = false;
    else if (arg_is(&c->argv[where_idx], "max"))
        max = true;
    else {
        reply_error(&c->out, ERR_SYNTAX);
        return;
    }
    for (size_t j = where_idx + 1; j < c->argc; j++) {
        if (count == -1 && arg_is(&c->argv[j], "count") && j + 1 < c->argc) {
            if (!positive_arg(c, ++j, "ERR count should be greater than 0", &count))
                return;
        } else {
            reply_error(&c->out, ERR_SYNTAX);
            return;
        }
    }
    if (count == -1)
        count = 1;
    bool done = false;
    for (long long i = 0; i < numkeys && !done; i++) {
        const kv_key *k = &c->keys[2 + i];
        kv_entry *e;
        if (!key_lookup_typed_at(c, k, KV_ZSET, KEY_WRITE, &e))
            return;
        zset_obj *z = zset_of(e);
        if (z) {
            uint64_t n = (uint64_t)count < z->length ? (uint64_t)count : z->length;
            reply_array(&c->out, 2);
            reply_bulk(&c->out, c->argv[2 + i].ptr, c->argv[2 + i].len);
            reply_array(&c->out, (long long)n);
            if (!zpop_members(c, k, e, z, max, n, true))
                return;                      /* aborted, error replied */
            done = true;
        }
    }
    if (!done)
        reply_null_array(&c->out);
}

/* ---- ZRANDMEMBER ------------------------------------------------------------------------------ */

/* Replies the member of 0-based rank r. */
static void reply_rank(client *c, const zset_obj *z, uint64_t r, bool withscores)
{
    zset_iter it;
    zset_iter_init(&it, z, r, false);
    const char *m;
    size_t len;
    double score;
    if (zset_iter_next(&it, &m, &len, &score))
        zset_reply_member(c, m, len, score, withscores);
}

/* Open-addressing set of ranks (unique random picks). */
typedef struct rank_set { uint64_t *slot; uint64_t mask; } rank_set;

/* Inserts r (stored as r + 1); false when it was already there. */
static bool rank_set_add(rank_set *s, uint64_t r)
{
    for (uint64_t i = (r * 0x9e3779b97f4a7c15ULL) & s->mask;; i = (i + 1) & s->mask) {
        if (s->slot[i] == r + 1)
            return false;
        if (!s->slot[i]) {
            s->slot[i] = r + 1;
            return true;
        }
    }
}

/* ZRANDMEMBER key count [WITHSCORES] as zrandmemberWithCountCommand: a negative count
 * allows repeats; a positive one returns distinct members (all of them, from the
 * highest score down, when count >= the size). Picks are uniform over ranks. */
static void zrandmember_count(client *c, long long l, bool withscores)
{
    kv_entry *e;
    if (!key_lookup_typed(c, 1, KV_ZSET, KEY_READ, &e))
        return;
    zset_obj *z = zset_of(e);
    if (!z || l == 0) {
        reply_array(&c->out, 0);
        return;
    }
    uint64_t size = z->length;
    bool uniq = l >= 0;
    uint64_t count = uniq ? (uint64_t)l : (uint64_t)0 - (uint64_t)l;
    if (!uniq || count == 1) {
        zset_reply_members_header(c, (long long)count, withscores);
        for (uint64_t i = 0; i < count; i++)
            reply_rank(c, z, rng_u64() % size, withscores);
        return;
    }
    if (count >= size) {
        zset_reply_members_header(c, (long long)size, withscores);
        zset_iter it;
        zset_iter_init(&it, z, 0, true);
        const char *m;
        size_t len;
        double score;
        while (zset_iter_next(&it, &m, &len, &score))
            zset_reply_member(c, m, len, score, withscores);
        return;
    }
    zset_reply_members_header(c, (long long)count, withscores);
    if (count * 3 > size) {
        /* a partial Fisher-Yates shuffle of all ranks */
        uint64_t *perm = malloc(size * sizeof *perm);
        if (!perm)
            abort();
        for (uint64_t i = 0; i < size; i++)
            perm[i] = i;
        for (uint64_t i = 0; i < count; i++) {
            uint64_t j = i + rng_u64() % (size - i);
            uint64_t tmp = perm[i];
            perm[i] = perm[j];
            perm[j] = tmp;
            reply_rank(c, z, perm[i], withscores);
        }
        free(perm);
        return;
    }
    uint64_t cap = 16;
    while (cap < count * 2)
        cap *= 2;
    rank_set picked = { calloc(cap, sizeof(uint64_t)), cap - 1 };
    if (!picked.slot)
        abort();
    for (uint64_t added = 0; added < count;) {
        uint64_t r = rng_u64() % size;
        if (rank_set_add(&picked, r)) {
            reply_rank(c, z, r, withscores);
            added++;
        }
    }
    free(picked.slot);
}

/* ZRANDMEMBER key [count [WITHSCORES]]: a random member (nil when missing) or, with a
 * count, an array of them. */
static void cmd_zrandmember(client *c)
{
    if (c->argc >= 3) {
        long long l;
        if (!arg_ll(c, 2, &l))
            return;
        if (l == LLONG_MIN) {        /* getRangeLongFromObjectOrReply(-LONG_MAX, LONG_MAX) */
            reply_error(&c->out, "ERR value is out of range, value must between -9223372036854775807 and "
                                 "9223372036854775807");
            return;
        }
        if (c->argc > 4 || (c->argc == 4 && !arg_is(&c->argv[3], "withscores"))) {
            reply_error(&c->out, ERR_SYNTAX);
            return;
        }
        bool withscores = c->argc == 4;
        if (withscores && (l < LLONG_MIN / 2 || l > LLONG_MAX / 2)) {
            reply_error(&c->out, "ERR value is out of range");
            return;
        }
        zrandmember_count(c, l, withscores);
        return;
    }
    kv_entry *e;
    if (!key_lookup_typed(c, 1, KV_ZSET, KEY_READ, &e))
        return;
    zset_obj *z = zset_of(e);
    if (!z) {
        reply_null(&c->out);
        return;
    }
    const char *m;
    size_t len;
    double score;
    zset_random(z, &m, &len, &score);
    reply_bulk(&c->out, m, len);
}

/* ---- ZSCAN -------------------------------------------------------------------------------------- */

/* zset_scan callback: copies one visited member into the results. */
static void scan_collect(const char *m, size_t len, double score, void *ctx)
{
    zres_add(ctx, m, len, score);
}

/* ZSCAN key cursor [MATCH pattern] [COUNT count]: [next cursor, [member, score, ...]]
 * with scores as bulk strings. A compact set is returned whole with cursor 0; a large
 * one is walked with the dict's reverse-binary cursor, COUNT bounding the work as in
 * Redis (visits until COUNT members were seen or 10*COUNT steps were made). */
static void cmd_zscan(client *c)
{
    uint64_t cursor;
    scan_opts o;
    kv_entry *e = scan_key_begin(c, KV_ZSET, &cursor, &o);
    if (!e)
        return;
    zset_obj *z = zset_of(e);
    zset_results res;
    zres_init(&res);
    if (z->encoding == ZSET_COMPACT) {
        cursor = zset_scan(z, 0, scan_collect, &res);
    } else {
        long long steps = o.max_steps;
        do
            cursor = zset_scan(z, cursor, scan_collect, &res);
        while (cursor && --steps > 0 && (long long)res.n < o.count);
    }
    zres_freeze(&res);
    size_t matched = 0;
    for (size_t i = 0; i < res.n; i++) {
        if (scan_match(&o, res.items[i].member, res.items[i].len))
            res.items[matched++] = res.items[i];
    }
    scan_reply_cursor(c, cursor);
    reply_array(&c->out, (long long)matched * 2);
    for (size_t i = 0; i < matched; i++) {
        char buf[32];
        reply_bulk(&c->out, res.items[i].member, res.items[i].len);
        int n = fmt_double(buf, sizeof buf, res.items[i].score);
        reply_bulk(&c->out, buf, (size_t)n);
    }
    zres_free(&res);
}

/* ---- the table ------------------------------------------------------------------------------------ */

#define RO     CMD_READONLY
#define WR     CMD_WRITE
#define FAST   CMD_FAST
#define DENY   CMD_DENYOOM

const command zset_commands[] = {
    { "zadd", -4, WR | DENY | FAST, (const key_spec[]){ { KS_RW | KS_UPDATE, KS_INDEX, 1, NULL, KS_RANGE, .range = { 0, 1, 0 } }, { 0 } }, cmd_zadd, "sorted-set",
      "Adds one or more members to a sorted set, or updates their scores. Creates the key if it doesn't exist.",
      "1.2.0", "O(log(N)) for each item added, where N is the number of elements in the sorted set.", NULL },
    { "zincrby", 4, WR | DENY | FAST, (const key_spec[]){ { KS_RW | KS_ACCESS | KS_UPDATE, KS_INDEX, 1, NULL, KS_RANGE, .range = { 0, 1, 0 } }, { 0 } }, cmd_zincrby, "sorted-set",
      "Increments the score of a member in a sorted set.", "1.2.0",
      "O(log(N)) where N is the number of elements in the sorted set.", NULL },
    { "zrem", -3, WR | FAST, (const key_spec[]){ { KS_RW | KS_DELETE, KS_INDEX, 1, NULL, KS_RANGE, .range = { 0, 1, 0 } }, { 0 } }, cmd_zrem, "sorted-set",
      "Removes one or more members from a sorted set. Deletes the sorted set if all members were removed.",
      "1.2.0", "O(M*log(N)) with N being the number of elements in the sorted set and M the number of elements to be removed.", NULL },
    { "zcard", 2, RO | FAST, (const key_spec[]){ { KS_RO, KS_INDEX, 1, NULL, KS_RANGE, .range = { 0, 1, 0 } }, { 0 } }, cmd_zcard, "sorted-set",
      "Returns the number of members in a sorted set.", "1.2.0", "O(1)", NULL },
    { "zscore", 3, RO | FAST, (const key_spec[]){ { KS_RO | KS_ACCESS, KS_INDEX, 1, NULL, KS_RANGE, .range = { 0, 1, 0 } }, { 0 } }, cmd_zscore, "sorted-set",
      "Returns the score of a member in a sorted set.", "1.2.0", "O(1)", NULL },
    { "zmscore", -3, RO | FAST, (const key_spec[]){ { KS_RO | KS_ACCESS, KS_INDEX, 1, NULL, KS_RANGE, .range = { 0, 1, 0 } }, { 0 } }, cmd_zmscore, "sorted-set",
      "Returns the score of one or more members in a sorted set.", "6.2.0",
      "O(N) where N is the number of members being requested.", NULL },
    { "zrank", -3, RO | FAST, (const key_spec[]){ { KS_RO | KS_ACCESS, KS_INDEX, 1, NULL, KS_RANGE, .range = { 0, 1, 0 } }, { 0 } }, cmd_zrank, "sorted-set",
      "Returns the index of a member in a sorted set ordered by ascending scores.", "2.0.0", "O(log(N))", NULL },
    { "zrevrank", -3, RO | FAST, (const key_spec[]){ { KS_RO | KS_ACCESS, KS_INDEX, 1, NULL, KS_RANGE, .range = { 0, 1, 0 } }, { 0 } }, cmd_zrevrank, "sorted-set",
      "Returns the index of a member in a sorted set ordered by descending scores.", "2.0.0", "O(log(N))", NULL },
    { "zcount", 4, RO | FAST, (const key_spec[]){ { KS_RO | KS_ACCESS, KS_INDEX, 1, NULL, KS_RANGE, .range = { 0, 1, 0 } }, { 0 } }, zcmd_zcount, "sorted-set",
      "Returns the count of members in a sorted set that have scores within a range.", "2.0.0",
      "O(log(N)) with N being the number of elements in the sorted set.", NULL },
    { "zlexcount", 4, RO | FAST, (const key_spec[]){ { KS_RO | KS_ACCESS, KS_INDEX, 1, NULL, KS_RANGE, .range = { 0, 1, 0 } }, { 0 } }, zcmd_zlexcount, "sorted-set",
      "Returns the number of members in a sorted set within a lexicographical range.", "2.8.9",
      "O(log(N)) with N being the number of elements in the sorted set.", NULL },
    { "zrange", -4, RO, (const key_spec[]){ { KS_RO | KS_ACCESS, KS_INDEX, 1, NULL, KS_RANGE, .range = { 0, 1, 0 } }, { 0 } }, zcmd_zrange, "sorted-set",
      "Returns members in a sorted set within a range of indexes.", "1.2.0",
      "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements returned.", NULL },
    { "zrangestore", -5, WR | DENY, (const key_spec[]){ { KS_OW | KS_UPDATE, KS_INDEX, 1, NULL, KS_RANGE, .range = { 0, 1, 0 } }, { KS_RO | KS_ACCESS, KS_INDEX, 2, NULL, KS_RANGE, .range = { 0, 1, 0 } }, { 0 } }, zcmd_zrangestore, "sorted-set",
      "Stores a range of members from sorted set in a key.", "6.2.0",
      "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements stored into the destination key.", NULL },
    { "zrevrange", -4, RO, (const key_spec[]){ { KS_RO | KS_ACCESS, KS_INDEX, 1, NULL, KS_RANGE, .range = { 0, 1, 0 } }, { 0 } }, zcmd_zrevrange, "sorted-set",
      "Returns members in a sorted set within a range of indexes in reverse order.", "1.2.0",
      "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements returned.", NULL },
    { "zrangebyscore", -4, RO, (const key_spec[]){ { KS_RO | KS_ACCESS, KS_INDEX, 1, NULL, KS_RANGE, .range = { 0, 1, 0 } }, { 0 } }, zcmd_zrangebyscore, "sorted-set",
      "Returns members in a sorted set within a range of scores.", "1.0.5",
      "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N)).", NULL },
    { "zrevrangebyscore", -4, RO, (const key_spec[]){ { KS_RO | KS_ACCESS, KS_INDEX, 1, NULL, KS_RANGE, .range = { 0, 1, 0 } }, { 0 } }, zcmd_zrevrangebyscore, "sorted-set",
      "Returns members in a sorted set within a range of scores in reverse order.", "2.2.0",
      "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N)).", NULL },
    { "zrangebylex", -4, RO, (const key_spec[]){ { KS_RO | KS_ACCESS, KS_INDEX, 1, NULL, KS_RANGE, .range = { 0, 1, 0 } }, { 0 } }, zcmd_zrangebylex, "sorted-set",
      "Returns members in a sorted set within a lexicographical range.", "2.8.9",
      "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N)).", NULL },
    { "zrevrangebylex", -4, RO, (const key_spec[]){ { KS_RO | KS_ACCESS, KS_INDEX, 1, NULL, KS_RANGE, .range = { 0, 1, 0 } }, { 0 } }, zcmd_zrevrangebylex, "sorted-set",
      "Returns members in a sorted set within a lexicographical range in reverse order.", "2.8.9",
      "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N)).", NULL },
    { "zremrangebyrank", 4, WR, (const key_spec[]){ { KS_RW | KS_DELETE, KS_INDEX, 1, NULL, KS_RANGE, .range = { 0, 1, 0 } }, { 0 } }, zcmd_zremrangebyrank, "sorted-set",
      "Removes members in a sorted set within a range of indexes. Deletes the sorted set if all members were removed.",
      "2.0.0", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation.", NULL },
    { "zremrangebyscore", 4, WR, (const key_spec[]){ { KS_RW | KS_DELETE, KS_INDEX, 1, NULL, KS_RANGE, .range = { 0, 1, 0 } }, { 0 } }, zcmd_zremrangebyscore, "sorted-set",
      "Removes members in a sorted set within a range of scores. Deletes the sorted set if all members were removed.",
      "1.2.0", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation.", NULL },
    { "zremrangebylex", 4, WR, (const key_spec[]){ { KS_RW | KS_DELETE, KS_INDEX, 1, NULL, KS_RANGE, .range = { 0, 1, 0 } }, { 0 } }, zcmd_zremrangebylex, "sorted-set",
      "Removes members in a sorted set within a lexicographical range. Deletes the sorted set if all members were removed.",
      "2.8.9", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation.", NULL },
    { "zpopmin", -2, WR | FAST, (const key_spec[]){ { KS_RW | KS_ACCESS | KS_DELETE, KS_INDEX, 1, NULL, KS_RANGE, .range = { 0, 1, 0 } }, { 0 } }, cmd_zpopmin, "sorted-set",
      "Returns the lowest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped.",
      "5.0.0", "O(log(N)*M) with N being the number of elements in the sorted set, and M being the number of elements popped.", NULL },
    { "zpopmax", -2, WR | FAST, (const key_spec[]){ { KS_RW | KS_ACCESS | KS_DELETE, KS_INDEX, 1, NULL, KS_RANGE, .range = { 0, 1, 0 } }, { 0 } }, cmd_zpopmax, "sorted-set",
      "Returns the highest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped.",
      "5.0.0", "O(log(N)*M) with N being the number of elements in the sorted set, and M being the number of elements popped.", NULL },
    { "zmpop", -4, WR, (const key_spec[]){ { KS_RW | KS_ACCESS | KS_DELETE, KS_INDEX, 1, NULL, KS_KEYNUM, .keynum = { 0, 1, 1 } }, { 0 } }, cmd_zmpop, "sorted-set",
      "Returns the highest- or lowest-scoring members from one or more sorted sets after removing them. Deletes the sorted set if the last member was popped.",
      "7.0.0", "O(K) + O(M*log(N)) where K is the number of provided keys, N being the number of elements in the sorted set, and M being the number of elements popped.", NULL },
    { "zrandmember", -2, RO, (const key_spec[]){ { KS_RO | KS_ACCESS, KS_INDEX, 1, NULL, KS_RANGE, .range = { 0, 1, 0 } }, { 0 } }, cmd_zrandmember, "sorted-set",
      "Returns one or more random members from a sorted set.", "6.2.0",
      "O(N) where N is the number of members returned", NULL },
    { "zscan", -3, RO, (const key_spec[]){ { KS_RO | KS_ACCESS, KS_INDEX, 1, NULL, KS_RANGE, .range = { 0, 1, 0 } }, { 0 } }, cmd_zscan, "sorted-set",
      "Iterates over members and scores of a sorted set.", "2.8.0",
      "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.", NULL },
    { "zunionstore", -4, WR | DENY, (const key_spec[]){ { KS_OW | KS_UPDATE, KS_INDEX, 1, NULL, KS_RANGE, .range = { 0, 1, 0 } }, { KS_RO | KS_ACCESS, KS_INDEX, 2, NULL, KS_KEYNUM, .keynum = { 0, 1, 1 } }, { 0 } }, zcmd_zunionstore, "sorted-set",
      "Stores the union of multiple sorted sets in a key.", "2.0.0",
      "O(N)+O(M log(M)) with N being the sum of the sizes of the input sorted sets, and M being the number of elements in the resulting sorted set.", NULL },
    { "zinterstore", -4, WR | DENY, (const key_spec[]){ { KS_OW | KS_UPDATE, KS_INDEX, 1, NULL, KS_RANGE, .range = { 0, 1, 0 } }, { KS_RO | KS_ACCESS, KS_INDEX, 2, NULL, KS_KEYNUM, .keynum = { 0, 1, 1 } }, { 0 } }, zcmd_zinterstore, "sorted-set",
      "Stores the intersect of multiple sorted sets in a key.", "2.0.0",
      "O(N*K)+O(M*log(M)) worst case with N being the smallest input sorted set, K being the number of input sorted sets and M being the number of elements in the resulting sorted set.", NULL },
    { "zdiffstore", -4, WR | DENY, (const key_spec[]){ { KS_OW | KS_UPDATE, KS_INDEX, 1, NULL, KS_RANGE, .range = { 0, 1, 0 } }, { KS_RO | KS_ACCESS, KS_INDEX, 2, NULL, KS_KEYNUM, .keynum = { 0, 1, 1 } }, { 0 } }, zcmd_zdiffstore, "sorted-set",
      "Stores the difference of multiple sorted sets in a key.", "6.2.0",
      "O(L + (N-K)log(N)) worst case where L is the total number of elements in all the sets, N is the size of the first set, and K is the size of the result set.", NULL },
    { "zunion", -3, RO, (const key_spec[]){ { KS_RO | KS_ACCESS, KS_INDEX, 1, NULL, KS_KEYNUM, .keynum = { 0, 1, 1 } }, { 0 } }, zcmd_zunion, "sorted-set",
      "Returns the union of multiple sorted sets.", "6.2.0",
      "O(N)+O(M*log(M)) with N being the sum of the sizes of the input sorted sets, and M being the number of elements in the resulting sorted set.", NULL },
    { "zinter", -3, RO, (const key_spec[]){ { KS_RO | KS_ACCESS, KS_INDEX, 1, NULL, KS_KEYNUM, .keynum = { 0, 1, 1 } }, { 0 } }, zcmd_zinter, "sorted-set",
      "Returns the intersect of multiple sorted sets.", "6.2.0",
      "O(N*K)+O(M*log(M)) worst case with N being the smallest input sorted set, K being the number of input sorted sets and M being the number of elements in the resulting sorted set.", NULL },
    { "zdiff", -3, RO, (const key_spec[]){ { KS_RO | KS_ACCESS, KS_INDEX, 1, NULL, KS_KEYNUM, .keynum = { 0, 1, 1 } }, { 0 } }, zcmd_zdiff, "sorted-set",
      "Returns the difference between multiple sorted sets.", "6.2.0",
      "O(L + (N-K)log(N)) worst case where L is the total number of elements in all the sets, N is the size of the first set, and K is the size of the result set.", NULL },
    { "zintercard", -3, RO, (const key_spec[]){ { KS_RO | KS_ACCESS, KS_INDEX, 1, NULL, KS_KEYNUM, .keynum = { 0, 1, 1 } }, { 0 } }, zcmd_zintercard, "sorted-set",
      "Returns the number of members of the intersect of multiple sorted sets.", "7.0.0",
      "O(N*K) worst case with N being the smallest input sorted set, K being the number of input sorted sets.", NULL },
    { 0 },
};
