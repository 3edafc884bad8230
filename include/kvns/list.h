/* list.h - the LIST type in the arena: a doubly linked list of packed blocks (like
 * Redis's quicklist of listpacks).
 *
 * The root holds head/tail block offsets, the element and block counts, and `bytes`,
 * the real size of every allocation of the list (root included): obj_bytes. Each block
 * is a header followed by `cap` data bytes; the live elements sit contiguously in
 * [start, end) of the data, each encoded as
 *
 *     varint(len) | len bytes | backward varint(len)
 *
 * (LEB128 forwards; the trailing copy is readable from its last byte backwards), so
 * both ends of a block and both directions of iteration are O(1) per element. Blocks
 * hold at most LIST_BLOCK_DATA_MAX bytes unless a single element is larger (it then
 * gets a block of its own). Push and pop at either end touch one block: a push writes
 * into the block's free space (no undo when that space was free at transaction
 * start) and logs two header words; a pop logs one or two. Edits in the middle
 * (LSET with another length, LINSERT, LREM) rebuild the affected block into fresh
 * memory and relink it, which keeps the undo volume at a few words per block.
 *
 * Every function taking a list_h needs the list's shard locked in h->t. Element
 * pointers (list_elem) point into arena memory: valid until the list is changed again
 * or the transaction ends (freed blocks are only released at commit). */
#ifndef KVNS_LIST_H
#define KVNS_LIST_H

#include "kvns/store.h"

#define LIST_BLOCK_ALLOC_MAX 8192u    /* a block's allocation, header included */

typedef struct list_root {
    aoff     head, tail;       /* first and last block, 0 when empty */
    uint64_t count;            /* elements */
    uint64_t nblocks;
    uint64_t bytes;            /* alloc_real_size of the root and of every block */
} list_root;

typedef struct list_block {
    aoff     prev, next;
    uint32_t count;            /* elements in this block */
    uint32_t start;            /* first live byte of the data */
    uint32_t end;              /* one past the last live byte */
    uint32_t cap;              /* data bytes after the header */
} list_block;                  /* 32 bytes, then cap data bytes */

#define LIST_BLOCK_DATA_MAX (LIST_BLOCK_ALLOC_MAX - (uint32_t)sizeof(list_block))

/* A list being worked on in a transaction. e is the key's entry, whose namespace is
 * charged for growth; NULL while the list is built before store_put_object. */
typedef struct list_h {
    kv_txn         *t;
    uint32_t        shard;
    const kv_entry *e;
    list_root      *r;
} list_h;

typedef struct list_elem {
    const char *p;
    size_t      n;
} list_elem;

/* A position in a list: the element starting at data offset `off` of block b, which
 * is the element number `index` of the list. */
typedef struct list_pos {
    list_block *b;
    uint32_t    off;
    uint64_t    index;
} list_pos;

extern const type_ops list_type_ops;

/* Allocates an empty root in shard s (fill it, then store_put_object it). Returns 0
 * with t->failed set when the arena is full. */
aoff list_create(kv_txn *t, uint32_t s);
/* Binds h to the list root `root` of entry e (NULL before the key exists). */
void list_bind(list_h *h, kv_txn *t, uint32_t s, const kv_entry *e, aoff root);
/* The list of entry e (which must be a KV_LIST entry of shard s) bound into h. */
void list_bind_entry(list_h *h, kv_txn *t, uint32_t s, const kv_entry *e);

/* Pushes one element at the tail (or head). Returns false when the transaction
 * failed (arena full, or the undo log could not grow): abort the command. */
bool list_push(list_h *h, bool tail, const void *p, size_t n);
/* Removes the element at the tail (or head) into *out (valid until commit). Returns
 * false when the list is empty or the transaction failed. */
bool list_pop(list_h *h, bool tail, list_elem *out);
/* Removes n elements (at most the length) from the tail (or head) without reading
 * them: whole blocks are freed, the last one is cut. */
void list_drop(list_h *h, bool tail, uint64_t n);

/* Positions pos at element idx (0-based, < count), walking from the nearer end.
 * Returns false when idx is out of range. */
bool list_seek(const list_root *r, uint64_t idx, list_pos *pos);
/* Moves to the next / previous element; false at the end. */
bool list_next(list_pos *pos);
bool list_prev(list_pos *pos);
/* The element at pos. */
list_elem list_get(const list_pos *pos);

/* Replaces the element at pos by p[0..n). pos is invalid afterwards. */
bool list_set(list_h *h, const list_pos *pos, const void *p, size_t n);
/* Inserts p[0..n) before (or after) the element at pos. pos is invalid afterwards. */
bool list_insert(list_h *h, const list_pos *pos, bool after, const void *p, size_t n);
/* LREM: removes elements equal to p[0..n), at most `limit` of them (0: all), scanning
 * from the head (or from the tail when from_tail). Returns how many were removed;
 * *ok is false when the transaction failed. */
uint64_t list_remove(list_h *h, const void *p, size_t n, uint64_t limit, bool from_tail, bool *ok);

/* type_ops hooks (see store.h). */
bool list_free_step(kv_txn *t, uint32_t shard, aoff obj, unsigned budget);
aoff list_copy(kv_txn *t, uint32_t dst_shard, aoff obj, uint32_t src_shard);
size_t list_obj_bytes(aoff obj);
const char *list_encoding(aoff obj);

/* Walks the whole list and checks its invariants (links, counts, element encoding,
 * block sizes, the byte counter). Returns 0, or -1 with a description in err. */
int list_check(aoff obj, char *err, size_t errlen);

#endif
