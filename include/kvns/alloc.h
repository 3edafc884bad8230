/* alloc.h - memory inside the arena.
 *
 * Two levels, as nginx's slab allocator: a page heap (runs of 4 KiB pages, free lists
 * by run length, guarded by the heap lock) and per-shard slabs (size classes from 8 to
 * 16 KiB carved from 64 KiB chunks, guarded by the shard lock). All allocator metadata
 * changes are undo-logged in the caller's transaction, so a crash never leaks or
 * double-allocates. Frees are deferred to commit (txn_defer_free). */
#ifndef KVNS_ALLOC_H
#define KVNS_ALLOC_H

#include "kvns/txn.h"

/* Bytes really taken by an object of `size` bytes (its slab class, or its page run). */
size_t alloc_real_size(size_t size);

/* Allocates size bytes for shard s (the caller holds the shard lock). Returns the
 * offset, 8-byte aligned, or 0 with t->failed = TXN_E_NOMEM. Contents are garbage.
 * Charges alloc_real_size(size) to t->grow and the shard's mem_used. */
aoff shard_alloc(kv_txn *t, uint32_t s, size_t size);
/* Frees at commit an object of `size` bytes (the size it was allocated with). */
void shard_free(kv_txn *t, uint32_t s, aoff off, size_t size);

/* Returns every chunk and large run of shard s to the heap in one transaction step
 * (FLUSHALL): O(chunks), not O(keys). The caller resets the shard's tables. */
void shard_release_all(kv_txn *t, uint32_t s);

/* Takes a run of npages from the heap for an undo log segment (kind RUN_UNDO), logged
 * like any allocation (the heap lock is taken and kept to commit). Returns the run's
 * offset, or 0 when the arena has no such run. Only txn.c calls it, while growing. */
aoff alloc_undo_segment(kv_txn *t, uint64_t npages);
/* Returns an undo segment to the heap (logged). */
void alloc_free_undo_segment(kv_txn *t, aoff run);

/* Applies the transaction's deferred frees (called by txn_commit). */
void alloc_apply_frees(kv_txn *t);

/* Arena bytes not yet handed to any shard (for INFO and the OOM decision). */
uint64_t heap_free_bytes(void);

/* Walks the heap and every shard's slab metadata; returns 0 when consistent, or -1
 * with a description in err. Caller holds every shard lock and the heap lock. */
int alloc_check(char *err, size_t errlen);

#endif
