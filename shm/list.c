/* list.c - the LIST type in the arena: a doubly linked list of packed blocks
 * (see list.h for the layout and the crash-safety rules it follows). */
#include "kvns/list.h"
#include "kvns/alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BLK_HDR     ((uint32_t)sizeof(list_block))
#define DATA_MAX    LIST_BLOCK_DATA_MAX
#define MERGE_SMALL (DATA_MAX / 4)       /* a rebuilt block smaller than this ... */
#define MERGE_MAX   (DATA_MAX * 3 / 4)   /* ... absorbs a neighbour when both fit in this */
#define NOTE_SLOTS  16

enum merge_dir { MERGE_NONE = 0, MERGE_PREV = 1, MERGE_NEXT = 2 };

/* Small accessors: a block's data bytes, a block or root by offset (NULL for 0), a
 * block's allocation size and its live bytes. */
static inline uint8_t *blk_data(list_block *b) { return (uint8_t *)(b + 1); }
static inline list_block *blk_at(aoff off) { return off ? (list_block *)arena_ptr(off) : NULL; }
static inline list_root *root_at(aoff off) { return arena_ptr(off); }
static inline size_t blk_alloc_size(const list_block *b) { return (size_t)BLK_HDR + b->cap; }
static inline uint32_t blk_live(const list_block *b) { return b->end - b->start; }

/* Aborts the process on malloc failure: process-local scratch memory only. */
static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        abort();
    return p;
}

/* ---- element encoding ------------------------------------------------------------ */

/* Bytes of the LEB128 encoding of v. */
static inline unsigned varint_size(uint64_t v)
{
    unsigned k = 1;
    while (v >= 128) {
        v >>= 7;
        k++;
    }
    return k;
}

/* Encoded size of an element of n bytes: length, bytes, backward length. */
static inline size_t elem_size(size_t n) { return 2 * (size_t)varint_size(n) + n; }

/* Writes the encoding of p[0..n) at dst (p may overlap dst); returns its size. */
static size_t elem_encode(uint8_t *dst, const void *p, size_t n)
{
    unsigned k = varint_size(n);
    memmove(dst + k, p, n);
    uint64_t v = n;
    uint8_t *back = dst + k + n;
    for (unsigned i = 0; i < k; i++, v >>= 7) {
        uint8_t group = (uint8_t)((v & 127) | (i + 1 < k ? 128 : 0));
        dst[i] = group;                 /* forwards: low groups first */
        back[k - 1 - i] = group;        /* backwards: low group last */
    }
    return 2 * (size_t)k + n;
}

/* Decodes the element starting at p into *out; returns its encoded size. */
static size_t elem_read(const uint8_t *p, list_elem *out)
{
    uint64_t v = 0;
    unsigned k = 0, shift = 0;
    do {
        v |= (uint64_t)(p[k] & 127) << shift;
        shift += 7;
    } while (p[k++] & 128);
    out->p = (const char *)p + k;
    out->n = (size_t)v;
    return 2 * (size_t)k + (size_t)v;
}

/* Encoded size of the element starting at p. */
static inline size_t elem_size_fwd(const uint8_t *p)
{
    list_elem e;
    return elem_read(p, &e);
}

/* Encoded size of the element whose encoding ends just before end. */
static size_t elem_size_back(const uint8_t *end)
{
    const uint8_t *q = end - 1;
    uint64_t v = q[0] & 127;
    unsigned shift = 7, k = 1;
    while (q[0] & 128) {
        q--;
        v |= (uint64_t)(q[0] & 127) << shift;
        shift += 7;
        k++;
    }
    return 2 * (size_t)k + (size_t)v;
}

/* ---- which bytes need undo -----------------------------------------------------------
 * A push writes into a block's free space without undo, which is only safe when those
 * bytes held nothing live when the transaction began (a pop earlier in the same
 * transaction may have freed them, and a rollback would bring that element back). So
 * before a block's range changes for the first time in a transaction its original
 * range is noted here, and blocks allocated in the transaction are noted as fresh
 * (written freely). The notes are per thread and keyed by the transaction. When the
 * table is full of non-fresh notes, unknown blocks are treated conservatively. */

typedef struct blk_note {
    aoff     blk;
    uint32_t start, end;       /* the live range at transaction start */
    bool     fresh;            /* allocated in this transaction */
} blk_note;

static __thread struct {
    const kv_txn *t;
    uint64_t gen, lane_txn;
    unsigned n;
    bool     overflow;
    blk_note v[NOTE_SLOTS];
} notes;

/* Forgets the notes of an earlier transaction. */
static void notes_sync(kv_txn *t)
{
    if (notes.t == t && notes.gen == t->dedup_gen && notes.lane_txn == t->ln->txn)
        return;
    notes.t = t;
    notes.gen = t->dedup_gen;
    notes.lane_txn = t->ln->txn;
    notes.n = 0;
    notes.overflow = false;
}

/* The note of block off in this transaction, or NULL. */
static blk_note *note_find(kv_txn *t, aoff off)
{
    notes_sync(t);
    for (unsigned i = 0; i < notes.n; i++)
        if (notes.v[i].blk == off)
            return &notes.v[i];
    return NULL;
}

/* Notes block b; a full table gives up a fresh note (losing one only costs undo
 * volume), or else records that some changed block may be unknown. */
static void note_add(kv_txn *t, list_block *b, bool fresh)
{
    notes_sync(t);
    unsigned i = notes.n;
    if (i == NOTE_SLOTS) {
        for (i = 0; i < NOTE_SLOTS && !notes.v[i].fresh; i++)
            ;
        if (i == NOTE_SLOTS) {
            notes.overflow = true;
            return;
        }
    } else {
        notes.n++;
    }
    notes.v[i] = (blk_note){ arena_off(b), b->start, b->end, fresh };
}

/* True when b was allocated in this transaction. */
static bool blk_fresh(kv_txn *t, list_block *b)
{
    blk_note *n = note_find(t, arena_off(b));
    return n && n->fresh;
}

/* True when data bytes [lo, hi) of b were not live when the transaction began. */
static bool range_was_free(kv_txn *t, list_block *b, uint32_t lo, uint32_t hi)
{
    blk_note *n = note_find(t, arena_off(b));
    if (n)
        return n->fresh || hi <= n->start || lo >= n->end;
    if (notes.overflow)
        return false;
    return hi <= b->start || lo >= b->end;     /* unchanged so far in this transaction */
}

/* ---- logged header stores ------------------------------------------------------------ */

/* Stores v into link field p of block b (plain store when b is fresh). */
static void set_link(list_h *h, list_block *b, aoff *p, aoff v)
{
    if (blk_fresh(h->t, b))
        *p = v;
    else
        tx_store64(h->t, h->shard, p, v);
}

/* Stores two adjacent u32 fields as one logged 8-byte word. */
static void store_pair(list_h *h, uint32_t *pair, uint32_t lo, uint32_t hi)
{
    uint32_t w[2] = { lo, hi };
    uint64_t v;
    memcpy(&v, w, 8);
    tx_store64(h->t, h->shard, (uint64_t *)(void *)pair, v);
}

/* Sets b's count and live range, noting its original range first. */
static void blk_meta(list_h *h, list_block *b, uint32_t count, uint32_t start, uint32_t end)
{
    kv_txn *t = h->t;
    blk_note *note = note_find(t, arena_off(b));
    if (note && note->fresh) {
        b->count = count;
        b->start = start;
        b->end = end;
        return;
    }
    if (!note)
        note_add(t, b, false);
    if (count != b->count || start != b->start)
        store_pair(h, &b->count, count, start);
    if (end != b->end)
        store_pair(h, &b->end, end, b->cap);
}

/* Adds delta to the list's byte counter and to its namespace (once the key exists). */
static void charge(list_h *h, int64_t delta)
{
    tx_add64(h->t, h->shard, &h->r->bytes, delta);
    if (h->e)
        store_charge(h->t, h->shard, h->e, delta);
}

/* ---- blocks ----------------------------------------------------------------------------- */

/* Data capacity of the smallest allocation holding need data bytes (the slab class's
 * whole room; exactly need for elements beyond the slab sizes). */
static uint32_t cap_for(size_t need)
{
    size_t sz = BLK_HDR + need;
    if (sz > SLAB_MAX)
        return (uint32_t)need;
    return (uint32_t)(alloc_real_size(sz) - BLK_HDR);
}

/* Capacity for an end block that must hold need bytes and may keep growing: half as
 * much again, up to DATA_MAX (or exactly need for an oversized element). */
static uint32_t cap_grow(size_t need)
{
    if (need >= DATA_MAX)
        return cap_for(need);
    size_t want = need + need / 2;
    if (want < 32)
        want = 32;
    if (want > DATA_MAX)
        want = DATA_MAX;
    return cap_for(want);
}

/* Allocates an unlinked fresh block of data capacity cap, charged to the list.
 * Returns NULL when the transaction failed. */
static list_block *blk_alloc(list_h *h, uint32_t cap)
{
    size_t sz = (size_t)BLK_HDR + cap;
    aoff off = shard_alloc(h->t, h->shard, sz);
    if (!off)
        return NULL;
    list_block *b = arena_ptr(off);
    memset(b, 0, BLK_HDR);
    b->cap = cap;
    note_add(h->t, b, true);
    charge(h, (int64_t)alloc_real_size(sz));
    tx_add64(h->t, h->shard, &h->r->nblocks, 1);
    return b;
}

/* Frees b at commit (its bytes stay readable until then) and refunds it. */
static void blk_free(list_h *h, list_block *b)
{
    size_t sz = blk_alloc_size(b);
    shard_free(h->t, h->shard, arena_off(b), sz);
    charge(h, -(int64_t)alloc_real_size(sz));
    tx_add64(h->t, h->shard, &h->r->nblocks, -1);
}

/* Puts the chain of fresh blocks first..last (already linked to each other; NULL for
 * none) in place of the consecutive blocks from..to, and frees those. */
static void chain_replace(list_h *h, list_block *from, list_block *to, list_block *first,
                          list_block *last)
{
    list_root *r = h->r;
    aoff prev = from->prev, next = to->next;
    for (list_block *b = from;;) {
        aoff after = b->next;
        bool done = b == to;
        blk_free(h, b);
        if (done)
            break;
        b = blk_at(after);
    }
    aoff head_side = first ? arena_off(first) : next;
    aoff tail_side = last ? arena_off(last) : prev;
    if (first) {
        first->prev = prev;
        last->next = next;
    }
    if (prev)
        set_link(h, blk_at(prev), &blk_at(prev)->next, head_side);
    else
        tx_store64(h->t, h->shard, &r->head, head_side);
    if (next)
        set_link(h, blk_at(next), &blk_at(next)->prev, tail_side);
    else
        tx_store64(h->t, h->shard, &r->tail, tail_side);
}

/* Links fresh block nb after block `after` (NULL: as the new head). */
static void link_after(list_h *h, list_block *after, list_block *nb)
{
    list_root *r = h->r;
    aoff nbo = arena_off(nb);
    aoff next = after ? after->next : r->head;
    nb->prev = arena_off(after);
    nb->next = next;
    if (after)
        set_link(h, after, &after->next, nbo);
    else
        tx_store64(h->t, h->shard, &r->head, nbo);
    if (next)
        set_link(h, blk_at(next), &blk_at(next)->prev, nbo);
    else
        tx_store64(h->t, h->shard, &r->tail, nbo);
}

/* ---- root ------------------------------------------------------------------------------- */

/* An empty root with its own size counted (see list.h). */
aoff list_create(kv_txn *t, uint32_t s)
{
    aoff off = shard_alloc(t, s, sizeof(list_root));
    if (!off)
        return 0;
    list_root *r = arena_ptr(off);
    memset(r, 0, sizeof *r);
    r->bytes = alloc_real_size(sizeof *r);
    return off;
}

/* Fills the handle every list operation works through. */
void list_bind(list_h *h, kv_txn *t, uint32_t s, const kv_entry *e, aoff root)
{
    h->t = t;
    h->shard = s;
    h->e = e;
    h->r = root_at(root);
}

/* list_bind for an existing key's entry. */
void list_bind_entry(list_h *h, kv_txn *t, uint32_t s, const kv_entry *e)
{
    list_bind(h, t, s, e, entry_obj(e));
}

/* ---- push and pop ------------------------------------------------------------------------- */

/* Writes the element at data offset `at` of existing block b, logging the bytes first
 * unless they were free at transaction start. Returns false when the log is full. */
static bool write_elem(list_h *h, list_block *b, uint32_t at, const void *p, size_t n, size_t esz)
{
    uint8_t *dst = blk_data(b) + at;
    if (!range_was_free(h->t, b, at, (uint32_t)(at + esz)) && !undo_record(h->t, h->shard, dst, esz))
        return false;
    elem_encode(dst, p, n);
    return true;
}

/* Replaces end block b by a fresh, larger one holding its elements plus the new one at
 * that end. A lone block keeps up to half of the new slack on its other side when it
 * already had slack there (a list pushed at both ends); in a longer list an end block
 * only grows outwards and gets the full block size. */
static bool blk_regrow(list_h *h, list_block *b, bool tail, const void *p, size_t n, size_t esz)
{
    uint32_t live = blk_live(b);
    size_t need = live + esz;
    bool single = h->r->nblocks == 1;
    uint32_t cap = single ? cap_grow(need) : cap_for(DATA_MAX);
    uint32_t slack = cap - (uint32_t)need, other = 0;
    if (single) {
        uint32_t had = tail ? b->start : b->cap - b->end;
        other = had < slack / 2 ? had : slack / 2;
    }
    list_block *nb = blk_alloc(h, cap);
    if (!nb)
        return false;
    uint8_t *d = blk_data(nb);
    uint32_t start = tail ? other : cap - other - (uint32_t)need;
    if (tail) {
        memcpy(d + start, blk_data(b) + b->start, live);
        elem_encode(d + start + live, p, n);
    } else {
        elem_encode(d + start, p, n);
        memcpy(d + start + esz, blk_data(b) + b->start, live);
    }
    nb->count = b->count + 1;
    nb->start = start;
    nb->end = start + (uint32_t)need;
    chain_replace(h, b, b, nb, nb);
    return !h->t->failed;
}

/* Writes into the end block's free space when it fits (O(1), two logged words),
 * else regrows that block or starts a new one. False when the transaction failed. */
bool list_push(list_h *h, bool tail, const void *p, size_t n)
{
    kv_txn *t = h->t;
    list_root *r = h->r;
    if (t->failed)
        return false;
    size_t esz = elem_size(n);
    list_block *b = blk_at(tail ? r->tail : r->head);
    bool room = b && blk_live(b) + esz <= DATA_MAX;
    if (room && (tail ? b->end + esz <= b->cap : b->start >= esz)) {
        uint32_t at = tail ? b->end : b->start - (uint32_t)esz;
        if (!write_elem(h, b, at, p, n, esz))
            return false;
        blk_meta(h, b, b->count + 1, tail ? b->start : at, tail ? b->end + (uint32_t)esz : b->end);
    } else if (room) {
        if (!blk_regrow(h, b, tail, p, n, esz))
            return false;
    } else {
        /* a new end block: full size next to a full ordinary block, else small */
        bool next_to_full = b && b->cap <= DATA_MAX && esz <= DATA_MAX;
        uint32_t cap = next_to_full ? cap_for(DATA_MAX) : cap_grow(esz);
        list_block *nb = blk_alloc(h, cap);
        if (!nb)
            return false;
        uint32_t at = tail ? 0 : cap - (uint32_t)esz;
        elem_encode(blk_data(nb) + at, p, n);
        nb->count = 1;
        nb->start = at;
        nb->end = at + (uint32_t)esz;
        link_after(h, tail ? blk_at(r->tail) : NULL, nb);
    }
    tx_add64(t, h->shard, &r->count, 1);
    return !t->failed;
}

/* Moves the end block's start or end past the element (no bytes move); an emptied
 * block is unlinked and freed. False when empty or failed. */
bool list_pop(list_h *h, bool tail, list_elem *out)
{
    list_root *r = h->r;
    list_block *b = blk_at(tail ? r->tail : r->head);
    if (!b || h->t->failed)
        return false;
    uint8_t *d = blk_data(b);
    uint32_t at = tail ? b->end - (uint32_t)elem_size_back(d + b->end) : b->start;
    uint32_t esz = (uint32_t)elem_read(d + at, out);
    if (b->count == 1)
        chain_replace(h, b, b, NULL, NULL);
    else
        blk_meta(h, b, b->count - 1, tail ? b->start : at + esz, tail ? at : b->end);
    tx_add64(h->t, h->shard, &r->count, -1);
    return !h->t->failed;
}

/* Frees whole end blocks, then cuts the last one; O(blocks + one block). */
void list_drop(list_h *h, bool tail, uint64_t n)
{
    list_root *r = h->r;
    if (n > r->count)
        n = r->count;
    if (n == 0)
        return;
    uint64_t left = n;
    list_block *b = blk_at(tail ? r->tail : r->head);
    /* whole blocks go without relinking each: only the new end is linked */
    while (b && left >= b->count && !h->t->failed) {
        left -= b->count;
        aoff inner = tail ? b->prev : b->next;
        blk_free(h, b);
        b = blk_at(inner);
    }
    aoff bo = arena_off(b);
    if (tail) {
        tx_store64(h->t, h->shard, &r->tail, bo);
        if (b)
            set_link(h, b, &b->next, 0);
        else
            tx_store64(h->t, h->shard, &r->head, 0);
    } else {
        tx_store64(h->t, h->shard, &r->head, bo);
        if (b)
            set_link(h, b, &b->prev, 0);
        else
            tx_store64(h->t, h->shard, &r->tail, 0);
    }
    if (b && left) {
        uint8_t *d = blk_data(b);
        uint32_t pos = tail ? b->end : b->start;
        for (uint64_t i = 0; i < left; i++)
            pos = tail ? pos - (uint32_t)elem_size_back(d + pos) : pos + (uint32_t)elem_size_fwd(d + pos);
        blk_meta(h, b, b->count - (uint32_t)left, tail ? b->start : pos, tail ? pos : b->end);
    }
    tx_add64(h->t, h->shard, &r->count, -(int64_t)n);
}

/* ---- positions ------------------------------------------------------------------------------ */

/* Walks blocks from the nearer end by their counts, then elements from the nearer
 * end of the block: O(n / block elements + block elements). */
bool list_seek(const list_root *r, uint64_t idx, list_pos *pos)
{
    if (idx >= r->count)
        return false;
    list_block *b;
    uint64_t base;
    if (idx < r->count / 2) {
        b = blk_at(r->head);
        base = 0;
        while (idx - base >= b->count) {
            base += b->count;
            b = blk_at(b->next);
        }
    } else {
        b = blk_at(r->tail);
        base = r->count - b->count;
        while (idx < base) {
            b = blk_at(b->prev);
            base -= b->count;
        }
    }
    uint64_t local = idx - base;
    uint8_t *d = blk_data(b);
    uint32_t off;
    if (local < b->count / 2) {
        off = b->start;
        for (uint64_t i = 0; i < local; i++)
            off += (uint32_t)elem_size_fwd(d + off);
    } else {
        off = b->end;
        for (uint64_t i = local; i < b->count; i++)
            off -= (uint32_t)elem_size_back(d + off);
    }
    pos->b = b;
    pos->off = off;
    pos->index = idx;
    return true;
}

/* Steps over the current element's encoding, into the next block at the end. */
bool list_next(list_pos *pos)
{
    list_block *b = pos->b;
    uint32_t off = pos->off + (uint32_t)elem_size_fwd(blk_data(b) + pos->off);
    if (off >= b->end) {
        if (!b->next)
            return false;
        b = blk_at(b->next);
        off = b->start;
    }
    pos->b = b;
    pos->off = off;
    pos->index++;
    return true;
}

/* Steps back over the previous element's backward length. */
bool list_prev(list_pos *pos)
{
    list_block *b = pos->b;
    uint32_t off = pos->off;
    if (off == b->start) {
        if (!b->prev)
            return false;
        b = blk_at(b->prev);
        off = b->end;
    }
    off -= (uint32_t)elem_size_back(blk_data(b) + off);
    pos->b = b;
    pos->off = off;
    pos->index--;
    return true;
}

/* The bytes of the element at pos (pointing into the block). */
list_elem list_get(const list_pos *pos)
{
    list_elem e;
    elem_read(blk_data(pos->b) + pos->off, &e);
    return e;
}

/* ---- rebuilding blocks (edits in the middle) --------------------------------------------- */

/* Source of a rebuilt block's contents: n bytes of encoded elements at enc, or (enc
 * NULL) one new value raw[0..n). */
typedef struct piece {
    const uint8_t *enc;
    const void    *raw;
    size_t         n;
} piece;

/* One element of the rebuilt contents. */
typedef struct out_elem {
    const uint8_t *enc;        /* encoded bytes, or NULL: encode raw[0..n) */
    const void    *raw;
    size_t         n;
    size_t         size;       /* encoded size */
} out_elem;

/* Encoded size of a piece. */
static size_t piece_bytes(const piece *pc) { return pc->enc ? pc->n : elem_size(pc->n); }

/* Replaces the consecutive blocks from..to by fresh blocks holding the pieces' elements
 * in order (none: the blocks are just unlinked), split into blocks of at most DATA_MAX
 * bytes of about equal size. A small result absorbs a small neighbour on the allowed
 * side (merge). Keeps the root's element count. Returns false when the transaction
 * failed. */
static bool rebuild(list_h *h, list_block *from, list_block *to, const piece *pcs, size_t npc,
                    int merge)
{
    size_t total = 0;
    for (size_t i = 0; i < npc; i++)
        total += piece_bytes(&pcs[i]);
    piece *all = xmalloc((npc + 2) * sizeof *all);     /* room for a neighbour each side */
    memcpy(all + 1, pcs, npc * sizeof *pcs);
    piece *pc = all + 1;
    if (total > 0 && total < MERGE_SMALL) {
        list_block *pv = (merge & MERGE_PREV) ? blk_at(from->prev) : NULL;
        list_block *nx = (merge & MERGE_NEXT) ? blk_at(to->next) : NULL;
        if (pv && pv->cap <= DATA_MAX && blk_live(pv) + total <= MERGE_MAX) {
            pc = all;
            pc[0] = (piece){ blk_data(pv) + pv->start, NULL, blk_live(pv) };
            npc++;
            total += blk_live(pv);
            from = pv;
        } else if (nx && nx->cap <= DATA_MAX && blk_live(nx) + total <= MERGE_MAX) {
            pc[npc++] = (piece){ blk_data(nx) + nx->start, NULL, blk_live(nx) };
            total += blk_live(nx);
            to = nx;
        }
    }
    /* the elements, in order */
    size_t nel = 0, cap_el = 16;
    out_elem *els = xmalloc(cap_el * sizeof *els);
    for (size_t i = 0; i < npc; i++) {
        for (size_t off = 0; off < (pc[i].enc ? pc[i].n : 1);) {
            if (nel == cap_el) {
                cap_el *= 2;
                els = realloc(els, cap_el * sizeof *els);
                if (!els)
                    abort();
            }
            out_elem *o = &els[nel++];
            if (pc[i].enc) {
                list_elem e;
                o->enc = pc[i].enc + off;
                o->raw = NULL;
                o->size = elem_read(o->enc, &e);
                o->n = e.n;
                off += o->size;
            } else {
                o->enc = NULL;
                o->raw = pc[i].raw;
                o->n = pc[i].n;
                o->size = elem_size(pc[i].n);
                off = 1;
            }
        }
    }
    uint64_t old_count = 0;
    for (list_block *b = from;; b = blk_at(b->next)) {
        old_count += b->count;
        if (b == to)
            break;
    }
    size_t nblk = (total + DATA_MAX - 1) / DATA_MAX;
    size_t target = nblk ? total / nblk : 0;
    list_block *first = NULL, *last = NULL;
    bool ok = true;
    for (size_t i = 0; i < nel && ok;) {
        size_t j = i, bytes = 0;
        while (j < nel && !(bytes > 0 && (bytes + els[j].size > DATA_MAX || bytes >= target)))
            bytes += els[j++].size;
        list_block *nb = blk_alloc(h, cap_for(bytes));
        if (!nb) {
            ok = false;
            break;
        }
        uint8_t *d = blk_data(nb);
        size_t at = 0;
        for (size_t k = i; k < j; k++) {
            if (els[k].enc)
                memcpy(d + at, els[k].enc, els[k].size);
            else
                elem_encode(d + at, els[k].raw, els[k].n);
            at += els[k].size;
        }
        nb->count = (uint32_t)(j - i);
        nb->start = 0;
        nb->end = (uint32_t)bytes;
        if (last) {
            last->next = arena_off(nb);
            nb->prev = arena_off(last);
        } else {
            first = nb;
        }
        last = nb;
        i = j;
    }
    if (ok) {
        chain_replace(h, from, to, first, last);
        tx_add64(h->t, h->shard, &h->r->count, (int64_t)nel - (int64_t)old_count);
    }
    free(els);
    free(all);
    return ok && !h->t->failed;
}

/* Values up to this size are overwritten in place by LSET when the length is unchanged
 * (the old bytes go to the undo log); larger ones rebuild their block. */
#define SET_IN_PLACE_MAX 4096

/* Same length: overwrite in place (logged); else rebuild the block. */
bool list_set(list_h *h, const list_pos *pos, const void *p, size_t n)
{
    list_block *b = pos->b;
    uint8_t *d = blk_data(b);
    list_elem old;
    size_t osz = elem_read(d + pos->off, &old);
    if (old.n == n && n <= SET_IN_PLACE_MAX) {
        tx_copy(h->t, h->shard, (void *)old.p, p, n);
        return !h->t->failed;
    }
    uint32_t after = pos->off + (uint32_t)osz;
    piece pc[3] = {
        { d + b->start, NULL, pos->off - b->start },
        { NULL, p, n },
        { d + after, NULL, b->end - after },
    };
    return rebuild(h, b, b, pc, 3, MERGE_PREV | MERGE_NEXT);
}

/* Rebuilds pos's block with the new element (split in two when it overflows). */
bool list_insert(list_h *h, const list_pos *pos, bool after, const void *p, size_t n)
{
    list_block *b = pos->b;
    uint8_t *d = blk_data(b);
    uint32_t at = after ? pos->off + (uint32_t)elem_size_fwd(d + pos->off) : pos->off;
    piece pc[3] = {
        { d + b->start, NULL, at - b->start },
        { NULL, p, n },
        { d + at, NULL, b->end - at },
    };
    return rebuild(h, b, b, pc, 3, MERGE_PREV | MERGE_NEXT);
}

/* Visits blocks in the scan direction; a block with matches is rebuilt without them
 * (merging into the already visited neighbour when small). Returns the count removed. */
uint64_t list_remove(list_h *h, const void *p, size_t n, uint64_t limit, bool from_tail, bool *ok)
{
    list_root *r = h->r;
    uint64_t removed = 0;
    size_t cap = 64;
    uint32_t *offs = xmalloc((cap + 1) * sizeof *offs);
    uint8_t *kill = xmalloc(cap);
    piece *pcs = xmalloc((cap + 1) * sizeof *pcs);
    *ok = true;
    list_block *b = blk_at(from_tail ? r->tail : r->head);
    while (b && (limit == 0 || removed < limit)) {
        aoff onward = from_tail ? b->prev : b->next;
        if (b->count > cap) {
            cap = b->count;
            free(offs);
            free(kill);
            free(pcs);
            offs = xmalloc((cap + 1) * sizeof *offs);
            kill = xmalloc(cap);
            pcs = xmalloc((cap + 1) * sizeof *pcs);
        }
        uint8_t *d = blk_data(b);
        uint32_t k = 0;
        for (uint32_t off = b->start; off < b->end; off += (uint32_t)elem_size_fwd(d + off))
            offs[k++] = off;
        offs[k] = b->end;
        uint32_t hits = 0;
        for (uint32_t i = 0; i < k; i++) {
            uint32_t at = from_tail ? k - 1 - i : i;
            list_elem e;
            elem_read(d + offs[at], &e);
            kill[at] = (limit == 0 || removed + hits < limit) && e.n == n && memcmp(e.p, p, n) == 0;
            hits += kill[at];
        }
        if (hits) {
            size_t np = 0;
            for (uint32_t i = 0; i < k;) {
                if (kill[i]) {
                    i++;
                    continue;
                }
                uint32_t j = i;
                while (j < k && !kill[j])
                    j++;
                pcs[np++] = (piece){ d + offs[i], NULL, offs[j] - offs[i] };
                i = j;
            }
            if (!rebuild(h, b, b, pcs, np, from_tail ? MERGE_NEXT : MERGE_PREV)) {
                *ok = false;
                break;
            }
            removed += hits;
        }
        b = blk_at(onward);
    }
    free(offs);
    free(kill);
    free(pcs);
    return removed;
}

/* ---- type hooks ---------------------------------------------------------------------------- */

/* Frees up to budget blocks from the head (the list is already unreachable, so only
 * the root's head and byte counter are kept up to date), then the root: true when
 * everything is gone. */
bool list_free_step(kv_txn *t, uint32_t s, aoff obj, unsigned budget)
{
    list_root *r = root_at(obj);
    while (r->head && budget > 0 && !t->failed) {
        list_block *b = blk_at(r->head);
        size_t sz = blk_alloc_size(b);
        aoff next = b->next;
        shard_free(t, s, r->head, sz);
        tx_store64(t, s, &r->head, next);
        tx_add64(t, s, &r->bytes, -(int64_t)alloc_real_size(sz));
        tx_add64(t, s, &r->nblocks, -1);
        budget--;
    }
    if (r->head || t->failed)
        return false;
    shard_free(t, s, obj, sizeof(list_root));
    return true;
}

/* A compacted deep copy in dst_shard (fresh memory, tight blocks); 0 on failure. */
aoff list_copy(kv_txn *t, uint32_t dst_shard, aoff obj, uint32_t src_shard)
{
    (void)src_shard;
    list_root *src = root_at(obj);
    aoff root = list_create(t, dst_shard);
    if (!root)
        return 0;
    list_h h;
    list_bind(&h, t, dst_shard, NULL, root);
    list_block *last = NULL;
    for (list_block *b = blk_at(src->head); b; b = blk_at(b->next)) {
        list_block *nb = blk_alloc(&h, cap_for(blk_live(b)));
        if (!nb)
            return 0;
        memcpy(blk_data(nb), blk_data(b) + b->start, blk_live(b));
        nb->count = b->count;
        nb->start = 0;
        nb->end = blk_live(b);
        link_after(&h, last, nb);
        last = nb;
    }
    tx_store64(t, dst_shard, &h.r->count, src->count);
    return t->failed ? 0 : root;
}

/* The root's byte counter. */
size_t list_obj_bytes(aoff obj) { return root_at(obj)->bytes; }

/* "listpack" for one block of at most 128 elements and 8 KiB, else "quicklist". */
const char *list_encoding(aoff obj)
{
    list_root *r = root_at(obj);
    if (r->nblocks <= 1 && r->count <= 128 && (!r->head || blk_live(blk_at(r->head)) <= 8192))
        return "listpack";
    return "quicklist";
}

const type_ops list_type_ops = {
    .free_step = list_free_step,
    .copy_obj = list_copy,
    .obj_bytes = list_obj_bytes,
    .encoding = list_encoding,
};

/* ---- checker ----------------------------------------------------------------------------- */

/* Walks every block and element once (see list.h). */
int list_check(aoff obj, char *err, size_t errlen)
{
    list_root *r = root_at(obj);
    uint64_t count = 0, nblocks = 0, bytes = alloc_real_size(sizeof *r);
    aoff prev = 0;
    for (aoff off = r->head; off; off = blk_at(off)->next) {
        list_block *b = blk_at(off);
        if (b->prev != prev) {
            snprintf(err, errlen, "block %llu: prev link broken", (unsigned long long)nblocks);
            return -1;
        }
        if (b->start > b->end || b->end > b->cap || b->count == 0) {
            snprintf(err, errlen, "block %llu: range %u..%u of %u with %u elements", (unsigned long long)nblocks,
                     b->start, b->end, b->cap, b->count);
            return -1;
        }
        if (b->count > 1 && blk_live(b) > DATA_MAX) {
            snprintf(err, errlen, "block %llu: %u bytes in %u elements", (unsigned long long)nblocks,
                     blk_live(b), b->count);
            return -1;
        }
        uint8_t *d = blk_data(b);
        uint32_t n = 0, at = b->start;
        while (at < b->end) {
            size_t sz = elem_size_fwd(d + at);
            if (at + sz > b->end || elem_size_back(d + at + sz) != sz) {
                snprintf(err, errlen, "block %llu: element %u badly encoded", (unsigned long long)nblocks, n);
                return -1;
            }
            at += (uint32_t)sz;
            n++;
        }
        if (n != b->count) {
            snprintf(err, errlen, "block %llu holds %u elements, header says %u", (unsigned long long)nblocks,
                     n, b->count);
            return -1;
        }
        count += n;
        nblocks++;
        bytes += alloc_real_size(blk_alloc_size(b));
        prev = off;
    }
    if (prev != r->tail || count != r->count || nblocks != r->nblocks || bytes != r->bytes) {
        snprintf(err, errlen, "root says tail %llu count %llu blocks %llu bytes %llu; found %llu %llu %llu %llu",
                 (unsigned long long)r->tail, (unsigned long long)r->count, (unsigned long long)r->nblocks,
                 (unsigned long long)r->bytes, (unsigned long long)prev, (unsigned long long)count,
                 (unsigned long long)nblocks, (unsigned long long)bytes);
        return -1;
    }
    return 0;
}
