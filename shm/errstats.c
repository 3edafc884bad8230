/* errstats.c - error replies counted by code across workers (see errstats.h). */
#include "kvns/errstats.h"
#include "kvns/arena.h"
#include "kvns/txn.h"

#include <string.h>

/* Nothing to repair when the lock's holder died: an entry is published whole. */
static void errstats_recover(void *arg)
{
    (void)arg;
}

/* The entry of code among the first n, or NULL. */
static errstat_entry *errstats_find(errstat_entry *tab, uint32_t n, const char *code, size_t len)
{
    for (uint32_t i = 0; i < n; i++)
        if (strncmp(tab[i].code, code, len) == 0 && tab[i].code[len] == 0)
            return &tab[i];
    return NULL;
}

void errstats_count(const char *code, size_t len)
{
    arena_header *h = arena_hdr();
    if (len >= ERRSTATS_CODE_MAX)
        len = ERRSTATS_CODE_MAX - 1;
    uint32_t n = __atomic_load_n(&h->errstats_used, __ATOMIC_ACQUIRE);
    errstat_entry *e = errstats_find(h->errstats, n, code, len);
    if (!e) {
        arena_mutex_acquire(&h->errstats_lock, false, errstats_recover, NULL);
        n = h->errstats_used;
        e = errstats_find(h->errstats, n, code, len);
        if (!e && n < ERRSTATS_MAX) {
            e = &h->errstats[n];
            memcpy(e->code, code, len);
            e->code[len] = 0;
            __atomic_store_n(&e->count, 0, __ATOMIC_RELAXED);
            __atomic_store_n(&h->errstats_used, n + 1, __ATOMIC_RELEASE);
        }
        pthread_mutex_unlock(&h->errstats_lock);
        if (!e)
            return;                              /* the table is full: not tracked */
    }
    __atomic_add_fetch(&e->count, 1, __ATOMIC_RELAXED);
}

void errstats_foreach(void (*fn)(const char *code, uint64_t count, void *arg), void *arg)
{
    arena_header *h = arena_hdr();
    uint32_t n = __atomic_load_n(&h->errstats_used, __ATOMIC_ACQUIRE);
    for (uint32_t i = 0; i < n; i++) {
        uint64_t count = __atomic_load_n(&h->errstats[i].count, __ATOMIC_RELAXED);
        if (count)
            fn(h->errstats[i].code, count, arg);
    }
}

void errstats_reset(void)
{
    arena_header *h = arena_hdr();
    uint32_t n = __atomic_load_n(&h->errstats_used, __ATOMIC_ACQUIRE);
    for (uint32_t i = 0; i < n; i++)
        __atomic_store_n(&h->errstats[i].count, 0, __ATOMIC_RELAXED);
}
