/* zset.c - the sorted set object: range parsing, the compact encoding, the operations
 * every command uses (dispatching to shm/zskiplist.c for large sets) and the type hooks
 * (free_step, copy_obj, obj_bytes, encoding). See zset.h. */
#include "kvns/zset.h"
#include "kvns/rng.h"
#include "kvns/alloc.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ZC_ENTRY_HDR 9      /* score (8) + member length (1) */

/* ---- comparisons and range parsing ------------------------------------------------------ */

int zset_member_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    size_t n = alen < blen ? alen : blen;
    int cmp = n ? memcmp(a, b, n) : 0;     /* empty members may come with NULL pointers */
    if (cmp)
        return cmp;
    return alen < blen ? -1 : alen > blen;
}

bool zset_score_gte_min(double v, const zrangespec *r) { return r->minex ? v > r->min : v >= r->min; }
bool zset_score_lte_max(double v, const zrangespec *r) { return r->maxex ? v < r->max : v <= r->max; }

/* Compares member bytes with a lex bound, the "-" / "+" sentinels below / above all. */
static int lex_cmp_bound(const char *m, size_t len, const char *b, size_t blen, uint8_t kind)
{
    if (kind == ZLEX_MIN)
        return 1;
    if (kind == ZLEX_MAX)
        return -1;
    return zset_member_cmp(m, len, b, blen);
}

bool zset_lex_gte_min(const char *m, size_t len, const zlexrangespec *r)
{
    int cmp = lex_cmp_bound(m, len, r->min, r->minlen, r->minkind);
    return r->minex ? cmp > 0 : cmp >= 0;
}

bool zset_lex_lte_max(const char *m, size_t len, const zlexrangespec *r)
{
    int cmp = lex_cmp_bound(m, len, r->max, r->maxlen, r->maxkind);
    return r->maxex ? cmp < 0 : cmp <= 0;
}

/* Parses one score bound as zslParseRange does: an optional "(" then strtod on the
 * NUL-terminated text, which must be consumed up to its terminator (so, as in Redis,
 * an empty bound reads 0 and bytes after an embedded NUL are ignored); NaN is refused. */
static bool parse_score_bound(const char *p, size_t n, double *v, bool *ex)
{
    char stack[128];
    char *text = n < sizeof stack ? stack : malloc(n + 1);
    if (!text)
        return false;
    if (n)
        memcpy(text, p, n);
    text[n] = 0;
    const char *start = text;
    *ex = false;
    if (start[0] == '(') {
        start++;
        *ex = true;
    }
    char *end;
    *v = strtod(start, &end);
    bool ok = end[0] == '\0' && !isnan(*v);
    if (text != stack)
        free(text);
    return ok;
}

bool zset_parse_range(const char *min, size_t minlen, const char *max, size_t maxlen, zrangespec *r)
{
    return parse_score_bound(min, minlen, &r->min, &r->minex) &&
           parse_score_bound(max, maxlen, &r->max, &r->maxex);
}

/* One lex bound as zslParseLexRangeItem: "+", "-", "(bytes" or "[bytes". Like Redis
 * (which looks at the C string) a sentinel only needs a NUL or the end after it. */
static bool parse_lex_bound(const char *p, size_t n, const char **out, size_t *len, uint8_t *kind,
                            bool *ex)
{
    if (n == 0)
        return false;
    *out = NULL;
    *len = 0;
    switch (p[0]) {
    case '+':
    case '-':
        if (n > 1 && p[1] != '\0')
            return false;
        *kind = p[0] == '+' ? ZLEX_MAX : ZLEX_MIN;
        *ex = true;
        return true;
    case '(':
    case '[':
        *kind = ZLEX_STR;
        *ex = p[0] == '(';
        *out = p + 1;
        *len = n - 1;
        return true;
    default:
        return false;
    }
}

bool zset_parse_lex_range(const char *min, size_t minlen, const char *max, size_t maxlen,
                          zlexrangespec *r)
{
    return parse_lex_bound(min, minlen, &r->min, &r->minlen, &r->minkind, &r->minex) &&
           parse_lex_bound(max, maxlen, &r->max, &r->maxlen, &r->maxkind, &r->maxex);
}

/* ---- the compact encoding ------------------------------------------------------------------ */

/* Decodes the entries of a compact set into items (pointers into the block, valid until
 * the transaction commits); returns their number. */
static size_t zc_decode(const zset_obj *z, zset_item *items)
{
    const zcompact *b = zset_block(z);
    const char *p = (const char *)(b + 1);
    for (uint32_t i = 0; i < b->count; i++) {
        memcpy(&items[i].score, p, 8);
        items[i].len = (uint8_t)p[8];
        items[i].member = p + ZC_ENTRY_HDR;
        p += ZC_ENTRY_HDR + items[i].len;
    }
    return b->count;
}

/* Bytes a compact block holding items needs (header included). */
static size_t zc_block_size(const zset_item *items, size_t n)
{
    size_t size = sizeof(zcompact);
    for (size_t i = 0; i < n; i++)
        size += ZC_ENTRY_HDR + items[i].len;
    return size;
}

/* Allocates and fills a compact block (fresh memory). Returns 0 on failure. */
static aoff zc_build(kv_txn *t, uint32_t s, const zset_item *items, size_t n)
{
    size_t size = zc_block_size(items, n);
    aoff off = shard_alloc(t, s, size);
    if (!off)
        return 0;
    zcompact *b = arena_ptr(off);
    b->size = (uint32_t)size;
    b->count = (uint32_t)n;
    char *p = (char *)(b + 1);
    for (size_t i = 0; i < n; i++) {
        /* a listpack keeps integral scores as integers, so -0 reads back as 0 */
        double score = items[i].score == 0 ? 0.0 : items[i].score;
        memcpy(p, &score, 8);
        p[8] = (char)(uint8_t)items[i].len;
        if (items[i].len)
            memcpy(p + ZC_ENTRY_HDR, items[i].member, items[i].len);
        p += ZC_ENTRY_HDR + items[i].len;
    }
    return off;
}

/* Replaces z's block by a new one holding items (copy on write). Returns false on
 * failure. */
static bool zc_write(kv_txn *t, uint32_t s, zset_obj *z, const zset_item *items, size_t n)
{
    aoff off = zc_build(t, s, items, n);
    if (!off)
        return false;
    zcompact *old = zset_block(z);
    int64_t delta = (int64_t)alloc_real_size(((zcompact *)arena_ptr(off))->size) -
                    (int64_t)alloc_real_size(old->size);
    shard_free(t, s, z->body, old->size);
    tx_store64(t, s, &z->body, off);
    tx_store64(t, s, &z->length, n);
    tx_add64(t, s, &z->bytes, delta);
    return !t->failed;
}

/* Index where (score, m) belongs in sorted items (the first entry sorting after it). */
static size_t zc_insert_pos(const zset_item *items, size_t n, double score, const char *m, size_t len)
{
    size_t i = 0;
    while (i < n && (items[i].score < score ||
                     (items[i].score == score && zset_member_cmp(items[i].member, items[i].len, m, len) < 0)))
        i++;
    return i;
}

/* Index of member m, or n when absent. */
static size_t zc_find(const zset_item *items, size_t n, const char *m, size_t len)
{
    for (size_t i = 0; i < n; i++)
        if (items[i].len == len && (!len || memcmp(items[i].member, m, len) == 0))
            return i;
    return n;
}

/* ---- building and converting ------------------------------------------------------------------ */

/* Allocates a zskiplist body holding items (sorted, unique) in fresh memory, dict
 * included. Adds its real bytes (body + nodes) to *bytes. Returns 0 on failure. */
static aoff zsl_build_fresh(kv_txn *t, uint32_t s, const zset_item *items, size_t n, uint64_t *bytes)
{
    aoff body = shard_alloc(t, s, sizeof(zskiplist));
    if (!body)
        return 0;
    zskiplist *zsl = arena_ptr(body);
    zsl_init(zsl);
    if (n && !adict_expand(t, s, &zsl->dict, n))
        return 0;
    zsl_builder b;
    zsl_builder_init(&b, zsl);
    for (size_t i = 0; i < n; i++) {
        zsl_node *node = zsl_builder_append(t, s, &b, items[i].score, items[i].member, items[i].len, 0);
        if (!node)
            return 0;
        aoff v = arena_off(node);
        if (!adict_insert(t, s, &zsl->dict, items[i].member, items[i].len, &v, 8))
            return 0;
    }
    zsl_builder_finish(&b);
    *bytes += alloc_real_size(sizeof(zskiplist)) + b.bytes;
    return t->failed ? 0 : body;
}

/* Converts a compact set to a skiplist (Redis converts when a member would exceed the
 * compact limits). Returns false on failure. */
static bool zset_convert(kv_txn *t, uint32_t s, zset_obj *z)
{
    zset_item items[ZSET_COMPACT_MAX_ENTRIES];
    size_t n = zc_decode(z, items);
    uint64_t bytes = 0;
    aoff body = zsl_build_fresh(t, s, items, n, &bytes);
    if (!body)
        return false;
    zcompact *old = zset_block(z);
    shard_free(t, s, z->body, old->size);
    tx_add64(t, s, &z->bytes, (int64_t)bytes - (int64_t)alloc_real_size(old->size));
    tx_store64(t, s, &z->body, body);
    tx_store32(t, s, &z->encoding, ZSET_SKIPLIST);
    return !t->failed;
}

/* A fresh root (plain stores). */
static zset_obj *root_new(kv_txn *t, uint32_t s)
{
    aoff off = shard_alloc(t, s, sizeof(zset_obj));
    if (!off)
        return NULL;
    zset_obj *z = arena_ptr(off);
    memset(z, 0, sizeof *z);
    z->encoding = ZSET_COMPACT;
    z->bytes = alloc_real_size(sizeof(zset_obj));
    return z;
}

aoff zset_create(kv_txn *t, uint32_t s)
{
    return zset_build_sorted(t, s, NULL, 0);
}

aoff zset_build_sorted(kv_txn *t, uint32_t s, const zset_item *items, size_t n)
{
    zset_obj *z = root_new(t, s);
    if (!z)
        return 0;
    bool fits = n <= ZSET_COMPACT_MAX_ENTRIES;
    for (size_t i = 0; i < n && fits; i++)
        fits = items[i].len <= ZSET_COMPACT_MAX_VALUE;
    if (fits) {
        z->body = zc_build(t, s, items, n);
        if (!z->body)
            return 0;
        z->bytes += alloc_real_size(zc_block_size(items, n));
    } else {
        uint64_t bytes = 0;
        z->body = zsl_build_fresh(t, s, items, n, &bytes);
        if (!z->body)
            return 0;
        z->encoding = ZSET_SKIPLIST;
        z->bytes += bytes;
    }
    z->length = n;
    return t->failed ? 0 : arena_off(z);
}

size_t zset_bytes(const zset_obj *z)
{
    size_t n = z->bytes;
    if (z->encoding == ZSET_SKIPLIST)
        n += zset_zsl(z)->dict.bytes;
    return n;
}

const char *zset_encoding_name(const zset_obj *z)
{
    return z->encoding == ZSET_SKIPLIST ? "skiplist" : "listpack";
}

/* ---- mutation -------------------------------------------------------------------------------- */

/* Charges the change of z's bytes since `before` to the namespace of entry e (NULL while
 * the set is built before store_put_object, which charges it whole). */
static void zset_charge(kv_txn *t, uint32_t s, const kv_entry *e, const zset_obj *z, size_t before)
{
    size_t after = zset_bytes(z);
    if (e && after != before && !t->failed)
        store_charge(t, s, e, (int64_t)after - (int64_t)before);
}

/* Redis's zsetAdd on a skiplist set. */
static int zsl_add(kv_txn *t, uint32_t s, zset_obj *z, double score, const char *m, size_t len,
                   int in_flags, int *out_flags, double *newscore)
{
    zsl_node *n = zsl_lookup(z, m, len);
    if (n) {
        if (in_flags & ZADD_IN_NX) {
            *out_flags |= ZADD_OUT_NOP;
            return 1;
        }
        double cur = n->score;
        if (in_flags & ZADD_IN_INCR) {
            score += cur;
            if (isnan(score)) {
                *out_flags |= ZADD_OUT_NAN;
                return 0;
            }
        }
        if (((in_flags & ZADD_IN_LT) && score >= cur) || ((in_flags & ZADD_IN_GT) && score <= cur)) {
            *out_flags |= ZADD_OUT_NOP;
            return 1;
        }
        *newscore = score;
        if (score != cur) {
            zsl_update_score(t, s, z, n, score);
            *out_flags |= ZADD_OUT_UPDATED;
        }
        return t->failed ? -1 : 1;
    }
    if (in_flags & ZADD_IN_XX) {
        *out_flags |= ZADD_OUT_NOP;
        return 1;
    }
    zsl_node *node = zsl_insert(t, s, z, score, m, len);
    if (!node)
        return -1;
    aoff v = arena_off(node);
    if (!adict_insert(t, s, &zset_zsl(z)->dict, m, len, &v, 8))
        return -1;
    *out_flags |= ZADD_OUT_ADDED;
    *newscore = score;
    return 1;
}

/* zset_add without the namespace charge. */
static int zset_add_uncharged(kv_txn *t, uint32_t s, zset_obj *z, double score, const char *m, size_t len,
                              int in_flags, int *out_flags, double *newscore)
{
    *out_flags = 0;
    if (isnan(score)) {
        *out_flags = ZADD_OUT_NAN;
        return 0;
    }
    if (z->encoding == ZSET_SKIPLIST)
        return zsl_add(t, s, z, score, m, len, in_flags, out_flags, newscore);
    zset_item items[ZSET_COMPACT_MAX_ENTRIES + 1];
    size_t n = zc_decode(z, items);
    size_t idx = zc_find(items, n, m, len);
    if (idx < n) {
        if (in_flags & ZADD_IN_NX) {
            *out_flags |= ZADD_OUT_NOP;
            return 1;
        }
        double cur = items[idx].score;
        if (in_flags & ZADD_IN_INCR) {
            score += cur;
            if (isnan(score)) {
                *out_flags |= ZADD_OUT_NAN;
                return 0;
            }
        }
        if (((in_flags & ZADD_IN_LT) && score >= cur) || ((in_flags & ZADD_IN_GT) && score <= cur)) {
            *out_flags |= ZADD_OUT_NOP;
            return 1;
        }
        *newscore = score;
        if (score != cur) {
            zset_item it = items[idx];
            memmove(items + idx, items + idx + 1, (n - idx - 1) * sizeof *items);
            n--;
            size_t pos = zc_insert_pos(items, n, score, it.member, it.len);
            memmove(items + pos + 1, items + pos, (n - pos) * sizeof *items);
            it.score = score;
            items[pos] = it;
            n++;
            if (!zc_write(t, s, z, items, n))
                return -1;
            *out_flags |= ZADD_OUT_UPDATED;
        }
        return 1;
    }
    if (in_flags & ZADD_IN_XX) {
        *out_flags |= ZADD_OUT_NOP;
        return 1;
    }
    if (n + 1 > ZSET_COMPACT_MAX_ENTRIES || len > ZSET_COMPACT_MAX_VALUE) {
        if (!zset_convert(t, s, z))
            return -1;
        return zsl_add(t, s, z, score, m, len, in_flags, out_flags, newscore);
    }
    size_t pos = zc_insert_pos(items, n, score, m, len);
    memmove(items + pos + 1, items + pos, (n - pos) * sizeof *items);
    items[pos] = (zset_item){ m, len, score };
    if (!zc_write(t, s, z, items, n + 1))
        return -1;
    *out_flags |= ZADD_OUT_ADDED;
    *newscore = score;
    return 1;
}

int zset_add(kv_txn *t, uint32_t s, const kv_entry *e, zset_obj *z, double score, const char *m,
             size_t len, int in_flags, int *out_flags, double *newscore)
{
    size_t before = zset_bytes(z);
    int rc = zset_add_uncharged(t, s, z, score, m, len, in_flags, out_flags, newscore);
    zset_charge(t, s, e, z, before);
    return rc;
}

/* zset_del without the namespace charge. */
static bool zset_del_uncharged(kv_txn *t, uint32_t s, zset_obj *z, const char *m, size_t len)
{
    if (z->encoding == ZSET_SKIPLIST) {
        zsl_node *n = zsl_lookup(z, m, len);
        if (!n)
            return false;
        adict_delete(t, s, &zset_zsl(z)->dict, m, len);
        zsl_delete(t, s, z, n);
        return true;
    }
    zset_item items[ZSET_COMPACT_MAX_ENTRIES];
    size_t n = zc_decode(z, items);
    size_t idx = zc_find(items, n, m, len);
    if (idx == n)
        return false;
    memmove(items + idx, items + idx + 1, (n - idx - 1) * sizeof *items);
    zc_write(t, s, z, items, n - 1);
    return true;
}

bool zset_del(kv_txn *t, uint32_t s, const kv_entry *e, zset_obj *z, const char *m, size_t len)
{
    size_t before = zset_bytes(z);
    bool found = zset_del_uncharged(t, s, z, m, len);
    zset_charge(t, s, e, z, before);
    return found;
}

/* zset_delete_rank_range without the namespace charge. */
static uint64_t zset_delete_rank_range_uncharged(kv_txn *t, uint32_t s, zset_obj *z, uint64_t first,
                                                 uint64_t last)
{
    if (first > last || first >= z->length)
        return 0;
    if (last >= z->length)
        last = z->length - 1;
    if (z->encoding == ZSET_SKIPLIST)
        return zsl_delete_rank_range(t, s, z, first + 1, last + 1);
    zset_item items[ZSET_COMPACT_MAX_ENTRIES];
    size_t n = zc_decode(z, items);
    uint64_t removed = last - first + 1;
    memmove(items + first, items + last + 1, (n - last - 1) * sizeof *items);
    zc_write(t, s, z, items, n - removed);
    return removed;
}

uint64_t zset_delete_rank_range(kv_txn *t, uint32_t s, const kv_entry *e, zset_obj *z, uint64_t first,
                                uint64_t last)
{
    size_t before = zset_bytes(z);
    uint64_t removed = zset_delete_rank_range_uncharged(t, s, z, first, last);
    zset_charge(t, s, e, z, before);
    return removed;
}

/* ---- reading --------------------------------------------------------------------------------- */

bool zset_score(const zset_obj *z, const char *m, size_t len, double *score)
{
    if (z->encoding == ZSET_SKIPLIST) {
        zsl_node *n = zsl_lookup(z, m, len);
        if (!n)
            return false;
        *score = n->score;
        return true;
    }
    zset_item items[ZSET_COMPACT_MAX_ENTRIES];
    size_t n = zc_decode(z, items);
    size_t idx = zc_find(items, n, m, len);
    if (idx == n)
        return false;
    *score = items[idx].score;
    return true;
}

bool zset_rank(const zset_obj *z, const char *m, size_t len, bool reverse, uint64_t *rank,
               double *score)
{
    if (z->encoding == ZSET_SKIPLIST) {
        zsl_node *n = zsl_lookup(z, m, len);
        if (!n)
            return false;
        uint64_t r = zsl_rank_of(z, n);
        *rank = reverse ? z->length - r : r - 1;
        *score = n->score;
        return true;
    }
    zset_item items[ZSET_COMPACT_MAX_ENTRIES];
    size_t n = zc_decode(z, items);
    size_t idx = zc_find(items, n, m, len);
    if (idx == n)
        return false;
    *rank = reverse ? n - 1 - idx : idx;
    *score = items[idx].score;
    return true;
}

/* Redis's zzlIsInRange / zzlIsInLexRange for a compact set: false when the range is
 * empty or lies wholly before the first or after the last member. */
static bool zc_in_range(const zset_item *items, size_t n, const zrangespec *r, const zlexrangespec *lr)
{
    if (!n)
        return false;
    if (r) {
        if (r->min > r->max || (r->min == r->max && (r->minex || r->maxex)))
            return false;
        return zset_score_gte_min(items[n - 1].score, r) && zset_score_lte_max(items[0].score, r);
    }
    if (lr->minkind != ZLEX_STR || lr->maxkind != ZLEX_STR) {
        if (lr->minkind == lr->maxkind || lr->minkind == ZLEX_MAX || lr->maxkind == ZLEX_MIN)
            return false;
    } else {
        int cmp = zset_member_cmp(lr->min, lr->minlen, lr->max, lr->maxlen);
        if (cmp > 0 || (cmp == 0 && (lr->minex || lr->maxex)))
            return false;
    }
    return zset_lex_gte_min(items[n - 1].member, items[n - 1].len, lr) &&
           zset_lex_lte_max(items[0].member, items[0].len, lr);
}

/* True when it is >= the range's min (score range r, else lex range lr). */
static bool item_gte_min(const zset_item *it, const zrangespec *r, const zlexrangespec *lr)
{
    return r ? zset_score_gte_min(it->score, r) : zset_lex_gte_min(it->member, it->len, lr);
}

/* True when it is <= the range's max (score range r, else lex range lr). */
static bool item_lte_max(const zset_item *it, const zrangespec *r, const zlexrangespec *lr)
{
    return r ? zset_score_lte_max(it->score, r) : zset_lex_lte_max(it->member, it->len, lr);
}

/* zzlFirstInRange / zzlFirstInLexRange: the first member >= min, if it is <= max. */
static bool zc_first(const zset_obj *z, const zrangespec *r, const zlexrangespec *lr, uint64_t *rank)
{
    zset_item items[ZSET_COMPACT_MAX_ENTRIES];
    size_t n = zc_decode(z, items);
    if (!zc_in_range(items, n, r, lr))
        return false;
    for (size_t i = 0; i < n; i++) {
        if (item_gte_min(&items[i], r, lr)) {
            if (!item_lte_max(&items[i], r, lr))
                return false;
            *rank = i;
            return true;
        }
    }
    return false;
}

/* zzlLastInRange / zzlLastInLexRange: the last member <= max, if it is >= min. */
static bool zc_last(const zset_obj *z, const zrangespec *r, const zlexrangespec *lr, uint64_t *rank)
{
    zset_item items[ZSET_COMPACT_MAX_ENTRIES];
    size_t n = zc_decode(z, items);
    if (!zc_in_range(items, n, r, lr))
        return false;
    for (size_t i = n; i-- > 0;) {
        if (item_lte_max(&items[i], r, lr)) {
            if (!item_gte_min(&items[i], r, lr))
                return false;
            *rank = i;
            return true;
        }
    }
    return false;
}

bool zset_first_in_range(const zset_obj *z, const zrangespec *r, uint64_t *rank)
{
    if (z->encoding == ZSET_COMPACT)
        return zc_first(z, r, NULL, rank);
    uint64_t r1;
    if (!zsl_first_in_range(z, r, &r1))
        return false;
    *rank = r1 - 1;
    return true;
}

bool zset_last_in_range(const zset_obj *z, const zrangespec *r, uint64_t *rank)
{
    if (z->encoding == ZSET_COMPACT)
        return zc_last(z, r, NULL, rank);
    uint64_t r1;
    if (!zsl_last_in_range(z, r, &r1))
        return false;
    *rank = r1 - 1;
    return true;
}

bool zset_first_in_lex_range(const zset_obj *z, const zlexrangespec *r, uint64_t *rank)
{
    if (z->encoding == ZSET_COMPACT)
        return zc_first(z, NULL, r, rank);
    uint64_t r1;
    if (!zsl_first_in_lex_range(z, r, &r1))
        return false;
    *rank = r1 - 1;
    return true;
}

bool zset_last_in_lex_range(const zset_obj *z, const zlexrangespec *r, uint64_t *rank)
{
    if (z->encoding == ZSET_COMPACT)
        return zc_last(z, NULL, r, rank);
    uint64_t r1;
    if (!zsl_last_in_lex_range(z, r, &r1))
        return false;
    *rank = r1 - 1;
    return true;
}

bool zset_score_range_ranks(const zset_obj *z, const zrangespec *r, uint64_t *first, uint64_t *last)
{
    return zset_first_in_range(z, r, first) && zset_last_in_range(z, r, last) && *first <= *last;
}

bool zset_lex_range_ranks(const zset_obj *z, const zlexrangespec *r, uint64_t *first, uint64_t *last)
{
    return zset_first_in_lex_range(z, r, first) && zset_last_in_lex_range(z, r, last) && *first <= *last;
}

void zset_random(const zset_obj *z, const char **m, size_t *len, double *score)
{
    if (z->encoding == ZSET_SKIPLIST) {
        adict_node *dn = adict_random(&zset_zsl(z)->dict);
        aoff off;
        memcpy(&off, adict_node_val(dn), 8);
        zsl_node *n = arena_ptr(off);
        *m = zsl_member(n, len);
        *score = n->score;
        return;
    }
    zset_item items[ZSET_COMPACT_MAX_ENTRIES];
    size_t n = zc_decode(z, items);
    size_t i = (size_t)(rng_u64() % n);
    *m = items[i].member;
    *len = items[i].len;
    *score = items[i].score;
}

void zset_iter_init(zset_iter *it, const zset_obj *z, uint64_t rank, bool reverse)
{
    it->z = z;
    it->reverse = reverse;
    it->node = NULL;
    uint64_t n = z->length;
    if (z->encoding == ZSET_SKIPLIST) {
        if (rank < n)
            it->node = zsl_by_rank(z, reverse ? n - rank : rank + 1);
        return;
    }
    const zcompact *b = zset_block(z);
    const char *base = (const char *)b, *p = (const char *)(b + 1);
    for (uint32_t i = 0; i < b->count; i++) {
        it->off[i] = (uint16_t)(p - base);
        p += ZC_ENTRY_HDR + (uint8_t)p[8];
    }
    it->pos = rank >= n ? UINT64_MAX : reverse ? n - 1 - rank : rank;
}

bool zset_iter_next(zset_iter *it, const char **m, size_t *len, double *score)
{
    if (it->z->encoding == ZSET_SKIPLIST) {
        zsl_node *x = it->node;
        if (!x)
            return false;
        *m = zsl_member(x, len);
        *score = x->score;
        it->node = it->reverse ? (x->backward ? (zsl_node *)ref_ptr(x->backward) : NULL) : zsl_fwd(x, 0);
        return true;
    }
    if (it->pos >= it->z->length)
        return false;
    const char *p = (const char *)zset_block(it->z) + it->off[it->pos];
    memcpy(score, p, 8);
    *len = (uint8_t)p[8];
    *m = p + ZC_ENTRY_HDR;
    it->pos = it->reverse ? it->pos - 1 : it->pos + 1;   /* 0 - 1 wraps past the end */
    return true;
}

struct scan_ctx { zset_visit_fn fn; void *ctx; };

/* adict_scan callback: hands the member of dict node dn and its node's score on. */
static void scan_visit(adict_node *dn, void *arg)
{
    struct scan_ctx *sc = arg;
    aoff off;
    memcpy(&off, adict_node_val(dn), 8);
    const zsl_node *n = arena_ptr(off);
    sc->fn(adict_node_key(dn), dn->klen, n->score, sc->ctx);
}

uint64_t zset_scan(const zset_obj *z, uint64_t cursor, zset_visit_fn fn, void *ctx)
{
    if (z->encoding == ZSET_SKIPLIST) {
        struct scan_ctx sc = { fn, ctx };
        return adict_scan(&zset_zsl(z)->dict, cursor, scan_visit, &sc);
    }
    zset_item items[ZSET_COMPACT_MAX_ENTRIES];
    size_t n = zc_decode(z, items);
    for (size_t i = 0; i < n; i++)
        fn(items[i].member, items[i].len, items[i].score, ctx);
    return 0;
}

int zset_check(const zset_obj *z, char *err, size_t errlen)
{
    if (z->encoding == ZSET_SKIPLIST)
        return zsl_check(z, err, errlen);
    if (z->encoding != ZSET_COMPACT) {
        snprintf(err, errlen, "zset: unknown encoding %u", z->encoding);
        return -1;
    }
    const zcompact *b = zset_block(z);
    if (b->count != z->length || b->count > ZSET_COMPACT_MAX_ENTRIES) {
        snprintf(err, errlen, "zset: compact block holds %u entries, length %llu", b->count,
                 (unsigned long long)z->length);
        return -1;
    }
    zset_item items[ZSET_COMPACT_MAX_ENTRIES];
    size_t n = zc_decode(z, items);
    for (size_t i = 0; i < n; i++) {
        if (items[i].len > ZSET_COMPACT_MAX_VALUE || isnan(items[i].score)) {
            snprintf(err, errlen, "zset: compact entry %zu too long or NaN", i);
            return -1;
        }
        if (i && !(items[i - 1].score < items[i].score ||
                   (items[i - 1].score == items[i].score &&
                    zset_member_cmp(items[i - 1].member, items[i - 1].len, items[i].member, items[i].len) < 0))) {
            snprintf(err, errlen, "zset: compact entry %zu out of order", i);
            return -1;
        }
        for (size_t j = 0; j < i; j++) {
            if (items[j].len == items[i].len && memcmp(items[j].member, items[i].member, items[i].len) == 0) {
                snprintf(err, errlen, "zset: compact member '%.*s' present twice", (int)items[i].len,
                         items[i].member);
                return -1;
            }
        }
    }
    if (zc_block_size(items, n) != b->size) {
        snprintf(err, errlen, "zset: compact block size %u, entries need %zu", b->size, zc_block_size(items, n));
        return -1;
    }
    size_t bytes = alloc_real_size(sizeof(zset_obj)) + alloc_real_size(b->size);
    if (bytes != z->bytes) {
        snprintf(err, errlen, "zset: compact set holds %zu bytes, counter says %llu", bytes,
                 (unsigned long long)z->bytes);
        return -1;
    }
    return 0;
}

/* ---- type hooks ------------------------------------------------------------------------------ */

/* Frees up to budget skiplist nodes, then dict nodes, then the body and root; true
 * once everything is gone (see type_ops.free_step). */
static bool zset_free_step(kv_txn *t, uint32_t s, aoff obj, unsigned budget)
{
    zset_obj *z = arena_ptr(obj);
    if (z->encoding == ZSET_SKIPLIST) {
        zskiplist *zsl = zset_zsl(z);
        if (!zsl_free_nodes(t, s, z, &budget) || budget == 0)
            return false;
        if (!adict_free_step(t, s, &zsl->dict, budget))
            return false;
        shard_free(t, s, z->body, sizeof(zskiplist));
    } else {
        shard_free(t, s, z->body, zset_block(z)->size);
    }
    shard_free(t, s, obj, sizeof(zset_obj));
    return !t->failed;
}

/* Deep copy into dst_shard (fresh memory throughout, no undo): the dict is copied
 * whole, then each copied node's offset is written into the copy's dict values. */
static aoff zset_copy_obj(kv_txn *t, uint32_t dst_shard, aoff obj, uint32_t src_shard)
{
    (void)src_shard;
    const zset_obj *src = arena_ptr(obj);
    zset_obj *z = root_new(t, dst_shard);
    if (!z)
        return 0;
    z->length = src->length;
    if (src->encoding == ZSET_COMPACT) {
        const zcompact *b = zset_block(src);
        aoff off = shard_alloc(t, dst_shard, b->size);
        if (!off)
            return 0;
        memcpy(arena_ptr(off), b, b->size);
        z->body = off;
        z->bytes += alloc_real_size(b->size);
        return arena_off(z);
    }
    const zskiplist *szsl = zset_zsl(src);
    aoff body = shard_alloc(t, dst_shard, sizeof(zskiplist));
    if (!body)
        return 0;
    zskiplist *zsl = arena_ptr(body);
    zsl_init(zsl);
    if (!adict_copy(t, dst_shard, &szsl->dict, &zsl->dict))
        return 0;
    zsl_builder b;
    zsl_builder_init(&b, zsl);
    for (const zsl_node *x = zsl_fwd(&szsl->head, 0); x; x = zsl_fwd(x, 0)) {
        size_t len;
        const char *m = zsl_member(x, &len);
        zsl_node *n = zsl_builder_append(t, dst_shard, &b, x->score, m, len, x->level);
        adict_node *dn = n ? adict_find(&zsl->dict, m, len) : NULL;
        if (!dn)
            return 0;
        aoff v = arena_off(n);
        memcpy(adict_node_val(dn), &v, 8);
    }
    zsl_builder_finish(&b);
    z->encoding = ZSET_SKIPLIST;
    z->body = body;
    z->bytes += alloc_real_size(sizeof(zskiplist)) + b.bytes;
    return t->failed ? 0 : arena_off(z);
}

/* obj_bytes hook: the object's arena bytes. */
static size_t zset_obj_bytes(aoff obj) { return zset_bytes(arena_ptr(obj)); }

/* encoding hook: OBJECT ENCODING's answer. */
static const char *zset_encoding(aoff obj) { return zset_encoding_name(arena_ptr(obj)); }

const type_ops zset_type_ops = {
    .free_step = zset_free_step,
    .copy_obj = zset_copy_obj,
    .obj_bytes = zset_obj_bytes,
    .encoding = zset_encoding,
};
