/* alloc.c - page heap and per-shard slabs inside the arena (see alloc.h). */
#include "kvns/alloc.h"
#include "kvns/shard.h"

#include <stdio.h>
#include <string.h>

#define RUN_HDR ((size_t)sizeof(run_header))
#define LARGE_LIST (HEAP_FREE_LISTS - 1)

static size_t class_size_tab[SLAB_CLASSES];

/* Size-class table: 8-byte steps to 128, then 8 classes per doubling up to 16 KiB. */
static void class_table_init(void)
{
    if (class_size_tab[0])
        return;
    size_t n = 0, sz = 8;
    while (sz <= 128)
        class_size_tab[n++] = sz, sz += 8;
    for (size_t base = 128; base < SLAB_MAX; base *= 2)
        for (size_t k = 1; k <= 8 && n < SLAB_CLASSES; k++)
            class_size_tab[n++] = base + k * (base / 8);
}

/* The slab class for size (size <= SLAB_MAX). */
static unsigned size_class(size_t size)
{
    if (size <= 128)
        return size ? (unsigned)((size + 7) / 8 - 1) : 0;
    unsigned lg = 63u - (unsigned)__builtin_clzll(size - 1);   /* 2^lg < size <= 2^(lg+1) */
    size_t base = (size_t)1 << lg;
    size_t step = base / 8;
    unsigned k = (unsigned)((size - base + step - 1) / step);  /* 1..8 */
    return 16 + (lg - 7) * 8 + (k - 1);
}

static size_t large_pages(size_t size)
{
    return (size + RUN_HDR + ARENA_PAGE - 1) / ARENA_PAGE;
}

size_t alloc_real_size(size_t size)
{
    class_table_init();
    if (size <= SLAB_MAX)
        return class_size_tab[size_class(size)];
    return large_pages(size) * ARENA_PAGE;
}

static inline uint32_t heap_id(void) { return lock_id_heap(); }

/* The tag heap_free_run leaves in a run's prev field: which transaction freed it. */
static inline uint64_t free_tag(const kv_txn *t) { return (t->ln->txn << 16) | (t->lane_id + 1); }

/* True when the npages at run may be handed out to t: not freed by t itself (its
 * bytes are still the contents a rollback restores, as deferred frees guarantee for
 * slab slots) and not an undo segment of a lane that died (see txn.h). */
static bool run_usable(const kv_txn *t, aoff run, uint64_t npages, bool is_free)
{
    if (is_free && ((run_header *)arena_ptr(run))->prev == free_tag(t))
        return false;
    return !undo_segments_overlap(t, run, run + npages * ARENA_PAGE);
}

/* Takes npages from the heap (the heap lock is taken in this transaction and kept to
 * commit). Returns the run offset, or 0 when the arena is full. */
static aoff heap_alloc_pages(kv_txn *t, uint64_t npages)
{
    arena_header *h = arena_hdr();
    txn_lock(t, heap_id());
    if (!undo_reserve(t))
        return 0;
    uint64_t list = npages < LARGE_LIST ? npages : LARGE_LIST;
    aoff run = 0;
    if (list < LARGE_LIST && h->heap_free[list] && run_usable(t, h->heap_free[list], npages, true)) {
        run = h->heap_free[list];
        run_header *r = arena_ptr(run);
        tx_store64(t, heap_id(), &h->heap_free[list], r->next);
    } else if (h->heap_bump + npages * ARENA_PAGE <= h->heap_end && run_usable(t, h->heap_bump, npages, false)) {
        run = h->heap_bump;
        tx_store64(t, heap_id(), &h->heap_bump, run + npages * ARENA_PAGE);
        run_header *r = arena_ptr(run);       /* fresh memory: no undo needed */
        memset(r, 0, RUN_HDR);
        r->npages = npages;
        r->magic = RUN_MAGIC;
    } else {
        /* first fit among runs at least as long, splitting off the tail */
        for (uint64_t l = list; l <= LARGE_LIST && !run; l++) {
            aoff *link = &h->heap_free[l];
            while (*link) {
                run_header *r = arena_ptr(*link);
                if (r->npages >= npages && run_usable(t, *link, npages, true)) {
                    run = *link;
                    tx_store64(t, heap_id(), link, r->next);
                    break;
                }
                link = &r->next;
            }
        }
        if (!run)
            return 0;
        run_header *r = arena_ptr(run);
        uint64_t rest = r->npages - npages;
        if (rest) {
            aoff tail = run + npages * ARENA_PAGE;
            run_header *tr = arena_ptr(tail);       /* inside a free run: not live */
            memset(tr, 0, RUN_HDR);
            tr->npages = rest;
            tr->magic = RUN_MAGIC;
            tr->kind = RUN_FREE;
            uint64_t tl = rest < LARGE_LIST ? rest : LARGE_LIST;
            tr->next = h->heap_free[tl];
            tx_store64(t, heap_id(), &h->heap_free[tl], tail);
            tx_store64(t, heap_id(), &r->npages, npages);
        }
    }
    tx_add64(t, heap_id(), &h->heap_pages_used, (int64_t)npages);
    return run;
}

/* Returns a run to the heap's free lists (logged; the heap lock is taken), tagged
 * with t so that t does not take it again. */
static void heap_free_run(kv_txn *t, aoff run)
{
    arena_header *h = arena_hdr();
    txn_lock(t, heap_id());
    if (!undo_reserve(t))
        return;
    run_header *r = arena_ptr(run);
    uint64_t list = r->npages < LARGE_LIST ? r->npages : LARGE_LIST;
    if (undo_record(t, heap_id(), r, RUN_HDR)) {
        r->kind = RUN_FREE;
        r->next = h->heap_free[list];
        r->prev = free_tag(t);
    }
    tx_store64(t, heap_id(), &h->heap_free[list], run);
    tx_add64(t, heap_id(), &h->heap_pages_used, -(int64_t)r->npages);
}

aoff alloc_undo_segment(kv_txn *t, uint64_t npages)
{
    aoff run = heap_alloc_pages(t, npages);
    if (!run)
        return 0;
    run_header *r = arena_ptr(run);
    if (!undo_record(t, heap_id(), r, RUN_HDR))
        return 0;
    r->kind = RUN_UNDO;
    r->next = 0;
    r->prev = 0;
    return run;
}

void alloc_free_undo_segment(kv_txn *t, aoff run) { heap_free_run(t, run); }

/* Gives shard s a fresh slab chunk for class c; returns false when the arena is full. */
static bool slab_new_chunk(kv_txn *t, shard *sh, unsigned c)
{
    aoff run = heap_alloc_pages(t, SLAB_CHUNK_PAGES);
    if (!run)
        return false;
    run_header *r = arena_ptr(run);
    if (!undo_record(t, sh->id, r, RUN_HDR))
        return false;
    r->kind = RUN_SLAB;
    r->slab_class = (uint16_t)c;
    r->shard = sh->id;
    r->next = sh->chunks;
    r->prev = 0;
    tx_store64(t, sh->id, &sh->chunks, run);
    tx_store64(t, sh->id, &sh->slab_chunk[c], run);
    tx_store64(t, sh->id, &sh->slab_chunk_used[c], RUN_HDR);
    return true;
}

aoff shard_alloc(kv_txn *t, uint32_t s, size_t size)
{
    class_table_init();
    shard *sh = shard_at(s);
    if (t->failed)
        return 0;
    if (size > SLAB_MAX) {
        uint64_t np = large_pages(size);
        aoff run = heap_alloc_pages(t, np);
        if (!run) {
            if (!t->failed)
                t->failed = TXN_E_NOMEM;
            return 0;
        }
        run_header *r = arena_ptr(run);
        if (!undo_record(t, s, r, RUN_HDR))
            return 0;
        r->kind = RUN_LARGE;
        r->shard = s;
        r->next = sh->large;
        r->prev = 0;
        if (sh->large) {
            run_header *old = arena_ptr(sh->large);
            tx_store64(t, s, &old->prev, run);
        }
        tx_store64(t, s, &sh->large, run);
        tx_add64(t, s, &sh->mem_used, (int64_t)(np * ARENA_PAGE));
        t->grow += (int64_t)(np * ARENA_PAGE);
        return run + RUN_HDR;
    }
    unsigned c = size_class(size);
    size_t csz = class_size_tab[c];
    aoff slot = sh->slab_free[c];
    if (slot) {
        uint64_t *link = arena_ptr(slot);
        if (!undo_record(t, s, link, 8))   /* the caller will overwrite the link */
            return 0;
        tx_store64(t, s, &sh->slab_free[c], *link);
    } else {
        if (!sh->slab_chunk[c] ||
            sh->slab_chunk_used[c] + csz > SLAB_CHUNK_PAGES * ARENA_PAGE) {
            if (!slab_new_chunk(t, sh, c)) {
                if (!t->failed)
                    t->failed = TXN_E_NOMEM;
                return 0;
            }
        }
        slot = sh->slab_chunk[c] + sh->slab_chunk_used[c];
        tx_store64(t, s, &sh->slab_chunk_used[c], sh->slab_chunk_used[c] + csz);
    }
    tx_add64(t, s, &sh->mem_used, (int64_t)csz);
    t->grow += (int64_t)csz;
    return t->failed ? 0 : slot;
}

void shard_free(kv_txn *t, uint32_t s, aoff off, size_t size)
{
    if (off)
        txn_defer_free(t, s, off, (uint32_t)size);
}

/* Frees one block now (called at commit for deferred frees). */
static void free_now(kv_txn *t, uint32_t s, aoff off, size_t size)
{
    shard *sh = shard_at(s);
    if (size > SLAB_MAX) {
        aoff run = off - RUN_HDR;
        run_header *r = arena_ptr(run);
        if (r->prev) {
            run_header *p = arena_ptr(r->prev);
            tx_store64(t, s, &p->next, r->next);
        } else {
            tx_store64(t, s, &sh->large, r->next);
        }
        if (r->next) {
            run_header *n = arena_ptr(r->next);
            tx_store64(t, s, &n->prev, r->prev);
        }
        tx_add64(t, s, &sh->mem_used, -(int64_t)(r->npages * ARENA_PAGE));
        t->grow -= (int64_t)(r->npages * ARENA_PAGE);
        heap_free_run(t, run);
        return;
    }
    unsigned c = size_class(size);
    uint64_t *link = arena_ptr(off);
    tx_store64(t, s, link, sh->slab_free[c]);
    tx_store64(t, s, &sh->slab_free[c], off);
    tx_add64(t, s, &sh->mem_used, -(int64_t)class_size_tab[c]);
    t->grow -= (int64_t)class_size_tab[c];
}

void alloc_apply_frees(kv_txn *t)
{
    class_table_init();
    /* large frees take the heap lock, which must come after every shard lock: all
     * shard locks of the transaction are already held, so order is preserved */
    for (size_t i = 0; i < t->nfrees && !t->failed; i++)
        free_now(t, t->frees[i].shard, t->frees[i].off, t->frees[i].size);
    t->nfrees = 0;
}

void shard_release_all(kv_txn *t, uint32_t s)
{
    shard *sh = shard_at(s);
    aoff run = sh->chunks;
    while (run && !t->failed) {
        aoff next = ((run_header *)arena_ptr(run))->next;
        heap_free_run(t, run);
        run = next;
    }
    run = sh->large;
    while (run && !t->failed) {
        aoff next = ((run_header *)arena_ptr(run))->next;
        heap_free_run(t, run);
        run = next;
    }
    tx_store64(t, s, &sh->chunks, 0);
    tx_store64(t, s, &sh->large, 0);
    for (unsigned c = 0; c < SLAB_CLASSES; c++) {
        if (sh->slab_free[c])
            tx_store64(t, s, &sh->slab_free[c], 0);
        if (sh->slab_chunk[c]) {
            tx_store64(t, s, &sh->slab_chunk[c], 0);
            tx_store64(t, s, &sh->slab_chunk_used[c], 0);
        }
    }
    t->grow -= (int64_t)sh->mem_used;
    tx_store64(t, s, &sh->mem_used, 0);
}

uint64_t heap_free_bytes(void)
{
    arena_header *h = arena_hdr();
    uint64_t total = (h->heap_end - h->heap_start) / ARENA_PAGE;
    uint64_t used = __atomic_load_n(&h->heap_pages_used, __ATOMIC_RELAXED);
    return used < total ? (total - used) * ARENA_PAGE : 0;
}

int alloc_check(char *err, size_t errlen)
{
    class_table_init();
    arena_header *h = arena_hdr();
    uint64_t used_pages = 0;
    for (aoff at = h->heap_start; at < h->heap_bump;) {
        run_header *r = arena_ptr(at);
        if (r->magic != RUN_MAGIC || r->npages == 0 || at + r->npages * ARENA_PAGE > h->heap_bump) {
            snprintf(err, errlen, "heap run at %llu is corrupt", (unsigned long long)at);
            return -1;
        }
        if (r->kind == RUN_UNDO) {
            /* a live log with segments holds the heap lock; a dead one's were undone */
            snprintf(err, errlen, "undo segment at %llu outlived its transaction", (unsigned long long)at);
            return -1;
        }
        if (r->kind != RUN_FREE)
            used_pages += r->npages;
        at += r->npages * ARENA_PAGE;
    }
    if (used_pages != h->heap_pages_used) {
        snprintf(err, errlen, "heap pages used %llu, counter says %llu",
                 (unsigned long long)used_pages, (unsigned long long)h->heap_pages_used);
        return -1;
    }
    for (uint32_t s = 0; s < h->shard_count; s++) {
        shard *sh = shard_at(s);
        for (aoff run = sh->chunks; run; run = ((run_header *)arena_ptr(run))->next) {
            run_header *r = arena_ptr(run);
            if (r->kind != RUN_SLAB || r->shard != s) {
                snprintf(err, errlen, "shard %u chunk list holds a foreign run", s);
                return -1;
            }
        }
        for (aoff run = sh->large; run; run = ((run_header *)arena_ptr(run))->next) {
            run_header *r = arena_ptr(run);
            if (r->kind != RUN_LARGE || r->shard != s) {
                snprintf(err, errlen, "shard %u large list holds a foreign run", s);
                return -1;
            }
        }
        for (unsigned c = 0; c < SLAB_CLASSES; c++) {
            uint64_t n = 0;
            for (aoff slot = sh->slab_free[c]; slot; slot = *(uint64_t *)arena_ptr(slot)) {
                if (slot < h->heap_start || slot >= h->heap_bump || ++n > (1ULL << 32)) {
                    snprintf(err, errlen, "shard %u class %u free list broken", s, c);
                    return -1;
                }
            }
        }
    }
    return 0;
}
