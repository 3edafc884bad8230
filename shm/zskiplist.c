/* zskiplist.c - the arena skiplist of large sorted sets (see zset.h).
 *
 * A C translation of Redis's zskiplist (Pugh's skiplist with spans for ranks and a
 * level-0 backward link) onto arena memory: forward links are arefs packed with their
 * span into one 8-byte level word, so relinking a level is a single tx_store64 and a
 * crash at any instruction rolls back to a consistent list. Nodes allocated in the
 * running transaction are filled with plain stores before they become reachable. */
#include "kvns/zset.h"
#include "kvns/rng.h"
#include "kvns/alloc.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* ---- nodes ---------------------------------------------------------------------------- */

/* Returns 1 + the number of leading "heads" of a coin with p = 1/4, capped at
 * ZSL_MAXLEVEL: two random bits per level (32 levels need 62 bits). */
int zsl_random_level(void)
{
    uint64_t r = rng_u64();
    int level = 1;
    while ((r & 3) == 0 && level < ZSL_MAXLEVEL) {
        level++;
        r >>= 2;
    }
    return level;
}

size_t zsl_node_size(int level, size_t mlen)
{
    return sizeof(zsl_node) + 8 * (size_t)level + (mlen >= ZSL_LONG_MEMBER ? 8 : 0) + mlen;
}

const char *zsl_member(const zsl_node *n, size_t *len)
{
    const char *p = (const char *)zsl_levels(n) + 8 * (size_t)n->level;
    if (n->mlen16 != ZSL_LONG_MEMBER) {
        *len = n->mlen16;
        return p;
    }
    uint64_t l;
    memcpy(&l, p, 8);
    *len = (size_t)l;
    return p + 8;
}

/* The size node n was allocated with (what shard_free needs). */
static size_t node_alloc_size(const zsl_node *n)
{
    size_t len;
    zsl_member(n, &len);
    return zsl_node_size(n->level, len);
}

/* Allocates and fills a node (fresh memory: plain stores, zeroed levels). Counts it in
 * *bytes. Returns NULL on failure. */
static zsl_node *node_new(kv_txn *t, uint32_t s, int level, double score, const char *m, size_t len,
                          uint64_t *bytes)
{
    size_t size = zsl_node_size(level, len);
    aoff off = shard_alloc(t, s, size);
    if (!off)
        return NULL;
    zsl_node *n = arena_ptr(off);
    n->score = score;
    n->backward = 0;
    n->level = (uint8_t)level;
    n->pad = 0;
    n->mlen16 = len >= ZSL_LONG_MEMBER ? ZSL_LONG_MEMBER : (uint16_t)len;
    memset(zsl_levels(n), 0, 8 * (size_t)level);
    char *p = (char *)zsl_levels(n) + 8 * (size_t)level;
    if (len >= ZSL_LONG_MEMBER) {
        uint64_t l = len;
        memcpy(p, &l, 8);
        p += 8;
    }
    if (len)
        memcpy(p, m, len);
    *bytes += alloc_real_size(size);
    return n;
}

/* Frees n at commit and takes it out of z's byte counter. */
static void node_free(kv_txn *t, uint32_t s, zset_obj *z, zsl_node *n)
{
    size_t size = node_alloc_size(n);
    shard_free(t, s, arena_off(n), size);
    tx_add64(t, s, &z->bytes, -(int64_t)alloc_real_size(size));
}

/* Logged write of level i of an existing node. */
static inline void level_set(kv_txn *t, uint32_t s, zsl_node *n, int i, aref fwd, uint64_t span)
{
    tx_store64(t, s, &zsl_levels(n)[i], zsl_level_word(fwd, span));
}

/* True when node n sorts strictly before (score, m). */
static inline bool node_before(const zsl_node *n, double score, const char *m, size_t len)
{
    if (n->score != score)
        return n->score < score;
    size_t nl;
    const char *nm = zsl_member(n, &nl);
    return zset_member_cmp(nm, nl, m, len) < 0;
}

/* True when n sorts before or equals (score, m). */
static inline bool node_before_eq(const zsl_node *n, double score, const char *m, size_t len)
{
    if (n->score != score)
        return n->score < score;
    size_t nl;
    const char *nm = zsl_member(n, &nl);
    return zset_member_cmp(nm, nl, m, len) <= 0;
}

void zsl_init(zskiplist *zsl)
{
    memset(zsl, 0, sizeof *zsl);
    zsl->level = 1;
    adict_init(&zsl->dict);
    zsl->head.level = ZSL_MAXLEVEL;
}

/* ---- insertion and removal --------------------------------------------------------------- */

/* Links node n (score, member and level set) at its place. fresh: n was allocated in
 * this transaction (its own fields take plain stores); otherwise they are logged. */
static void link_node(kv_txn *t, uint32_t s, zset_obj *z, zsl_node *n, bool fresh)
{
    zskiplist *zsl = zset_zsl(z);
    zsl_node *update[ZSL_MAXLEVEL];
    uint64_t rank[ZSL_MAXLEVEL], word[ZSL_MAXLEVEL];
    size_t len;
    const char *m = zsl_member(n, &len);
    int cur = (int)zsl->level;
    zsl_node *x = &zsl->head;
    for (int i = cur - 1; i >= 0; i--) {
        rank[i] = i == cur - 1 ? 0 : rank[i + 1];
        zsl_node *f;
        while ((f = zsl_fwd(x, i)) && node_before(f, n->score, m, len)) {
            rank[i] += zsl_span(x, i);
            x = f;
        }
        update[i] = x;
        word[i] = zsl_levels(x)[i];
    }
    int level = n->level;
    if (level > cur) {
        for (int i = cur; i < level; i++) {
            rank[i] = 0;
            update[i] = &zsl->head;
            word[i] = zsl_level_word(0, z->length);
        }
        tx_store32(t, s, &zsl->level, (uint32_t)level);
    }
    for (int i = 0; i < level; i++) {
        uint64_t span = (word[i] >> 32) - (rank[0] - rank[i]);
        if (fresh)
            zsl_levels(n)[i] = zsl_level_word((aref)word[i], span);
        else
            level_set(t, s, n, i, (aref)word[i], span);
        level_set(t, s, update[i], i, ptr_ref(n), rank[0] - rank[i] + 1);
    }
    for (int i = level; i < cur; i++)
        level_set(t, s, update[i], i, (aref)word[i], (word[i] >> 32) + 1);
    aref back = update[0] == &zsl->head ? 0 : ptr_ref(update[0]);
    if (fresh)
        n->backward = back;
    else
        tx_store32(t, s, &n->backward, back);
    aref next_ref = (aref)word[0];   /* update[0]'s old successor is n's successor */
    zsl_node *next = next_ref ? (zsl_node *)ref_ptr(next_ref) : NULL;
    if (next)
        tx_store32(t, s, &next->backward, ptr_ref(n));
    else
        tx_store64(t, s, &zsl->tail, arena_off(n));
    tx_add64(t, s, &z->length, 1);
}

zsl_node *zsl_insert(kv_txn *t, uint32_t s, zset_obj *z, double score, const char *m, size_t len)
{
    uint64_t bytes = 0;
    zsl_node *n = node_new(t, s, zsl_random_level(), score, m, len, &bytes);
    if (!n)
        return NULL;
    tx_add64(t, s, &z->bytes, (int64_t)bytes);
    link_node(t, s, z, n, true);
    return t->failed ? NULL : n;
}

/* Fills update[] with, at each level, the last node before (score, m). */
static void find_update(const zskiplist *zsl, double score, const char *m, size_t len,
                        zsl_node **update)
{
    zsl_node *x = (zsl_node *)&zsl->head;
    for (int i = (int)zsl->level - 1; i >= 0; i--) {
        zsl_node *f;
        while ((f = zsl_fwd(x, i)) && node_before(f, score, m, len))
            x = f;
        update[i] = x;
    }
}

/* Unlinks x (update[] from find_update) without freeing it: Redis's zslDeleteNode. */
static void unlink_node(kv_txn *t, uint32_t s, zset_obj *z, zsl_node *x, zsl_node **update)
{
    zskiplist *zsl = zset_zsl(z);
    aref xr = ptr_ref(x);
    int cur = (int)zsl->level;
    for (int i = 0; i < cur; i++) {
        uint64_t w = zsl_levels(update[i])[i];
        if ((aref)w == xr)
            level_set(t, s, update[i], i, zsl_fwd_ref(x, i), (w >> 32) + zsl_span(x, i) - 1);
        else
            level_set(t, s, update[i], i, (aref)w, (w >> 32) - 1);
    }
    zsl_node *next = zsl_fwd(x, 0);
    if (next)
        tx_store32(t, s, &next->backward, x->backward);
    else
        tx_store64(t, s, &zsl->tail, x->backward ? ((aoff)x->backward << 3) : 0);
    int level = cur;
    while (level > 1 && !zsl_fwd_ref(&zsl->head, level - 1))
        level--;
    if (level != cur)
        tx_store32(t, s, &zsl->level, (uint32_t)level);
    tx_add64(t, s, &z->length, -1);
}

void zsl_update_score(kv_txn *t, uint32_t s, zset_obj *z, zsl_node *n, double newscore)
{
    zskiplist *zsl = zset_zsl(z);
    zsl_node *prev = n->backward ? (zsl_node *)ref_ptr(n->backward) : NULL;
    zsl_node *next = zsl_fwd(n, 0);
    size_t len;
    const char *m = zsl_member(n, &len);
    /* still between its neighbours (strictly, as Redis checks): only the score changes */
    if ((!prev || prev->score < newscore) && (!next || next->score > newscore)) {
        uint64_t bits;
        memcpy(&bits, &newscore, 8);
        tx_store64(t, s, (uint64_t *)&n->score, bits);
        return;
    }
    zsl_node *update[ZSL_MAXLEVEL];
    find_update(zsl, n->score, m, len, update);
    unlink_node(t, s, z, n, update);
    uint64_t bits;
    memcpy(&bits, &newscore, 8);
    tx_store64(t, s, (uint64_t *)&n->score, bits);
    if (t->failed)
        return;
    link_node(t, s, z, n, false);
}

void zsl_delete(kv_txn *t, uint32_t s, zset_obj *z, zsl_node *n)
{
    zsl_node *update[ZSL_MAXLEVEL];
    size_t len;
    const char *m = zsl_member(n, &len);
    find_update(zset_zsl(z), n->score, m, len, update);
    unlink_node(t, s, z, n, update);
    node_free(t, s, z, n);
}

uint64_t zsl_delete_rank_range(kv_txn *t, uint32_t s, zset_obj *z, uint64_t start, uint64_t end)
{
    zskiplist *zsl = zset_zsl(z);
    zsl_node *update[ZSL_MAXLEVEL];
    uint64_t traversed = 0, removed = 0;
    zsl_node *x = &zsl->head;
    for (int i = (int)zsl->level - 1; i >= 0; i--) {
        zsl_node *f;
        while ((f = zsl_fwd(x, i)) && traversed + zsl_span(x, i) < start) {
            traversed += zsl_span(x, i);
            x = f;
        }
        update[i] = x;
    }
    traversed++;
    x = zsl_fwd(x, 0);
    while (x && traversed <= end && !t->failed) {
        zsl_node *next = zsl_fwd(x, 0);
        size_t len;
        const char *m = zsl_member(x, &len);
        unlink_node(t, s, z, x, update);
        adict_delete(t, s, &zsl->dict, m, len);
        node_free(t, s, z, x);
        removed++;
        traversed++;
        x = next;
    }
    return removed;
}

/* ---- bulk construction ------------------------------------------------------------------- */

void zsl_builder_init(zsl_builder *b, zskiplist *zsl)
{
    memset(b, 0, sizeof *b);
    b->zsl = zsl;
    for (int i = 0; i < ZSL_MAXLEVEL; i++)
        b->last[i] = &zsl->head;
}

zsl_node *zsl_builder_append(kv_txn *t, uint32_t s, zsl_builder *b, double score, const char *m,
                             size_t len, int level)
{
    if (level <= 0)
        level = zsl_random_level();
    zsl_node *n = node_new(t, s, level, score, m, len, &b->bytes);
    if (!n)
        return NULL;
    uint64_t rank = ++b->count;
    for (int i = 0; i < level; i++) {
        zsl_levels(b->last[i])[i] = zsl_level_word(ptr_ref(n), rank - b->last_rank[i]);
        b->last[i] = n;
        b->last_rank[i] = rank;
    }
    n->backward = b->prev ? ptr_ref(b->prev) : 0;
    b->prev = n;
    if ((uint32_t)level > b->zsl->level)
        b->zsl->level = (uint32_t)level;
    return n;
}

void zsl_builder_finish(zsl_builder *b)
{
    zskiplist *zsl = b->zsl;
    for (int i = 0; i < (int)zsl->level; i++) {
        uint64_t w = zsl_levels(b->last[i])[i];
        zsl_levels(b->last[i])[i] = zsl_level_word((aref)w, b->count - b->last_rank[i]);
    }
    zsl->tail = b->prev ? arena_off(b->prev) : 0;
}

/* ---- lookups ------------------------------------------------------------------------------- */

zsl_node *zsl_lookup(const zset_obj *z, const char *m, size_t len)
{
    adict_node *dn = adict_find(&zset_zsl(z)->dict, m, len);
    if (!dn)
        return NULL;
    aoff off;
    memcpy(&off, adict_node_val(dn), 8);
    return arena_ptr(off);
}

uint64_t zsl_rank_of(const zset_obj *z, const zsl_node *n)
{
    const zskiplist *zsl = zset_zsl(z);
    size_t len;
    const char *m = zsl_member(n, &len);
    uint64_t rank = 0;
    const zsl_node *x = &zsl->head;
    for (int i = (int)zsl->level - 1; i >= 0; i--) {
        zsl_node *f;
        while ((f = zsl_fwd(x, i)) && node_before_eq(f, n->score, m, len)) {
            rank += zsl_span(x, i);
            x = f;
        }
        if (x == n)
            return rank;
    }
    return 0;
}

zsl_node *zsl_by_rank(const zset_obj *z, uint64_t rank)
{
    const zskiplist *zsl = zset_zsl(z);
    uint64_t traversed = 0;
    zsl_node *x = (zsl_node *)&zsl->head;
    for (int i = (int)zsl->level - 1; i >= 0; i--) {
        zsl_node *f;
        while ((f = zsl_fwd(x, i)) && traversed + zsl_span(x, i) <= rank) {
            traversed += zsl_span(x, i);
            x = f;
        }
        if (traversed == rank)
            return x == &zsl->head ? NULL : x;
    }
    return NULL;
}

/* First and last nodes, NULL when empty. */
static inline zsl_node *zsl_first(const zskiplist *zsl) { return zsl_fwd(&zsl->head, 0); }
static inline zsl_node *zsl_tail(const zskiplist *zsl) { return zsl->tail ? arena_ptr(zsl->tail) : NULL; }

/* True when some member may lie in r (Redis's zslIsInRange). */
static bool in_range(const zskiplist *zsl, const zrangespec *r)
{
    if (r->min > r->max || (r->min == r->max && (r->minex || r->maxex)))
        return false;
    zsl_node *x = zsl_tail(zsl);
    if (!x || !zset_score_gte_min(x->score, r))
        return false;
    x = zsl_first(zsl);
    return x && zset_score_lte_max(x->score, r);
}

zsl_node *zsl_first_in_range(const zset_obj *z, const zrangespec *r, uint64_t *rank)
{
    const zskiplist *zsl = zset_zsl(z);
    if (!in_range(zsl, r))
        return NULL;
    uint64_t traversed = 0;
    zsl_node *x = (zsl_node *)&zsl->head;
    for (int i = (int)zsl->level - 1; i >= 0; i--) {
        zsl_node *f;
        while ((f = zsl_fwd(x, i)) && !zset_score_gte_min(f->score, r)) {
            traversed += zsl_span(x, i);
            x = f;
        }
    }
    x = zsl_fwd(x, 0);
    if (!x || !zset_score_lte_max(x->score, r))
        return NULL;
    *rank = traversed + 1;
    return x;
}

zsl_node *zsl_last_in_range(const zset_obj *z, const zrangespec *r, uint64_t *rank)
{
    const zskiplist *zsl = zset_zsl(z);
    if (!in_range(zsl, r))
        return NULL;
    uint64_t traversed = 0;
    zsl_node *x = (zsl_node *)&zsl->head;
    for (int i = (int)zsl->level - 1; i >= 0; i--) {
        zsl_node *f;
        while ((f = zsl_fwd(x, i)) && zset_score_lte_max(f->score, r)) {
            traversed += zsl_span(x, i);
            x = f;
        }
    }
    if (x == &zsl->head || !zset_score_gte_min(x->score, r))
        return NULL;
    *rank = traversed;
    return x;
}

/* Compares two lex bounds like Redis's sdscmplex (the "-" and "+" sentinels sort
 * before and after every string). */
static int lex_bound_cmp(const char *a, size_t alen, int akind, const char *b, size_t blen, int bkind)
{
    if (akind != ZLEX_STR && akind == bkind)
        return 0;
    if (akind == ZLEX_MIN || bkind == ZLEX_MAX)
        return -1;
    if (akind == ZLEX_MAX || bkind == ZLEX_MIN)
        return 1;
    return zset_member_cmp(a, alen, b, blen);
}

/* True when n's member is >= the lex range's min. */
static bool node_lex_gte_min(const zsl_node *n, const zlexrangespec *r)
{
    size_t len;
    const char *m = zsl_member(n, &len);
    return zset_lex_gte_min(m, len, r);
}

/* True when n's member is <= the lex range's max. */
static bool node_lex_lte_max(const zsl_node *n, const zlexrangespec *r)
{
    size_t len;
    const char *m = zsl_member(n, &len);
    return zset_lex_lte_max(m, len, r);
}

/* True when some member may lie in the lex range (Redis's zslIsInLexRange). */
static bool in_lex_range(const zskiplist *zsl, const zlexrangespec *r)
{
    int cmp = lex_bound_cmp(r->min, r->minlen, r->minkind, r->max, r->maxlen, r->maxkind);
    if (cmp > 0 || (cmp == 0 && (r->minex || r->maxex)))
        return false;
    zsl_node *x = zsl_tail(zsl);
    if (!x || !node_lex_gte_min(x, r))
        return false;
    x = zsl_first(zsl);
    return x && node_lex_lte_max(x, r);
}

zsl_node *zsl_first_in_lex_range(const zset_obj *z, const zlexrangespec *r, uint64_t *rank)
{
    const zskiplist *zsl = zset_zsl(z);
    if (!in_lex_range(zsl, r))
        return NULL;
    uint64_t traversed = 0;
    zsl_node *x = (zsl_node *)&zsl->head;
    for (int i = (int)zsl->level - 1; i >= 0; i--) {
        zsl_node *f;
        while ((f = zsl_fwd(x, i)) && !node_lex_gte_min(f, r)) {
            traversed += zsl_span(x, i);
            x = f;
        }
    }
    x = zsl_fwd(x, 0);
    if (!x || !node_lex_lte_max(x, r))
        return NULL;
    *rank = traversed + 1;
    return x;
}

zsl_node *zsl_last_in_lex_range(const zset_obj *z, const zlexrangespec *r, uint64_t *rank)
{
    const zskiplist *zsl = zset_zsl(z);
    if (!in_lex_range(zsl, r))
        return NULL;
    uint64_t traversed = 0;
    zsl_node *x = (zsl_node *)&zsl->head;
    for (int i = (int)zsl->level - 1; i >= 0; i--) {
        zsl_node *f;
        while ((f = zsl_fwd(x, i)) && node_lex_lte_max(f, r)) {
            traversed += zsl_span(x, i);
            x = f;
        }
    }
    if (x == &zsl->head || !node_lex_gte_min(x, r))
        return NULL;
    *rank = traversed;
    return x;
}

/* ---- freeing and checking ------------------------------------------------------------------ */

bool zsl_free_nodes(kv_txn *t, uint32_t s, zset_obj *z, unsigned *budget)
{
    zskiplist *zsl = zset_zsl(z);
    aref r = zsl_fwd_ref(&zsl->head, 0);
    if (!r)
        return true;
    int64_t freed_bytes = 0;
    while (r && *budget > 0) {
        zsl_node *n = ref_ptr(r);
        r = zsl_fwd_ref(n, 0);
        size_t size = node_alloc_size(n);
        shard_free(t, s, arena_off(n), size);
        freed_bytes += (int64_t)alloc_real_size(size);
        (*budget)--;
    }
    level_set(t, s, &zsl->head, 0, r, 0);
    tx_add64(t, s, &z->bytes, -freed_bytes);
    return r == 0;
}

int zsl_check(const zset_obj *z, char *err, size_t errlen)
{
    const zskiplist *zsl = zset_zsl(z);
    if (zsl->level < 1 || zsl->level > ZSL_MAXLEVEL || zsl->head.level != ZSL_MAXLEVEL) {
        snprintf(err, errlen, "zset: bad level %u", zsl->level);
        return -1;
    }
    /* level 0: order, backward links, tail, length, dict, bytes */
    uint64_t count = 0, bytes = 0;
    const zsl_node *prev = NULL;
    int max_level = 1;
    for (const zsl_node *x = zsl_first(zsl); x; x = zsl_fwd(x, 0)) {
        if (++count > z->length) {
            snprintf(err, errlen, "zset: more nodes than length %llu", (unsigned long long)z->length);
            return -1;
        }
        size_t len;
        const char *m = zsl_member(x, &len);
        if (isnan(x->score) || x->level < 1 || x->level > ZSL_MAXLEVEL) {
            snprintf(err, errlen, "zset: node %llu has a bad score or level", (unsigned long long)count);
            return -1;
        }
        if (x->level > max_level)
            max_level = x->level;
        if ((prev ? ptr_ref(prev) : 0) != x->backward) {
            snprintf(err, errlen, "zset: node %llu has a wrong backward link", (unsigned long long)count);
            return -1;
        }
        if (prev && !node_before(prev, x->score, m, len)) {
            snprintf(err, errlen, "zset: node %llu out of order", (unsigned long long)count);
            return -1;
        }
        if (zsl_fwd(x, 0) && zsl_span(x, 0) != 1) {
            snprintf(err, errlen, "zset: node %llu has level-0 span %u", (unsigned long long)count,
                     zsl_span(x, 0));
            return -1;
        }
        if (zsl_lookup(z, m, len) != x) {
            snprintf(err, errlen, "zset: member '%.*s' not mapped to its node by the dict",
                     (int)(len > 64 ? 64 : len), m);
            return -1;
        }
        bytes += alloc_real_size(node_alloc_size(x));
        prev = x;
    }
    if (count != z->length || adict_len(&zsl->dict) != count) {
        snprintf(err, errlen, "zset: %llu nodes, length %llu, dict %llu", (unsigned long long)count,
                 (unsigned long long)z->length, (unsigned long long)adict_len(&zsl->dict));
        return -1;
    }
    if (zsl->tail != (prev ? arena_off(prev) : 0)) {
        snprintf(err, errlen, "zset: wrong tail");
        return -1;
    }
    if ((int)zsl->level < max_level) {
        snprintf(err, errlen, "zset: level %u below a node's level %d", zsl->level, max_level);
        return -1;
    }
    /* every level: spans equal the rank distance; a last node's span reaches the end */
    for (int i = 0; i < (int)zsl->level; i++) {
        uint64_t rank = 0, walked = 0;
        const zsl_node *x = &zsl->head, *cursor = &zsl->head;
        for (;;) {
            const zsl_node *f = zsl_fwd(x, i);
            if (!f) {
                if (zsl_span(x, i) != count - rank) {
                    snprintf(err, errlen, "zset: level %d trailing span %u, expected %llu", i,
                             zsl_span(x, i), (unsigned long long)(count - rank));
                    return -1;
                }
                break;
            }
            if (f->level <= i) {
                snprintf(err, errlen, "zset: level %d links a node of level %d", i, f->level);
                return -1;
            }
            while (cursor != f && (cursor = zsl_fwd(cursor, 0)) != NULL)
                walked++;
            if (!cursor || walked - rank != zsl_span(x, i)) {
                snprintf(err, errlen, "zset: level %d span %u, expected %llu", i, zsl_span(x, i),
                         (unsigned long long)(walked - rank));
                return -1;
            }
            rank = walked;
            x = f;
        }
    }
    for (int i = (int)zsl->level; i < ZSL_MAXLEVEL; i++) {
        if (zsl_fwd_ref(&zsl->head, i)) {
            snprintf(err, errlen, "zset: header links level %d above the level count", i);
            return -1;
        }
    }
    if (zsl->level > 1 && !zsl_fwd_ref(&zsl->head, (int)zsl->level - 1)) {
        snprintf(err, errlen, "zset: top level %u is empty", zsl->level);
        return -1;
    }
    bytes += alloc_real_size(sizeof(zset_obj)) + alloc_real_size(sizeof(zskiplist));
    if (bytes != z->bytes) {
        snprintf(err, errlen, "zset: %llu bytes allocated, counter says %llu", (unsigned long long)bytes,
                 (unsigned long long)z->bytes);
        return -1;
    }
    return adict_check(&zsl->dict, err, errlen);
}
