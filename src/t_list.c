/* t_list.c - list commands (Redis 7 semantics). Handlers run inside the transaction the
 * dispatcher opened with their keys' shards locked (see command.h); LMPOP, whose key
 * positions depend on numkeys, locks its keys itself. The structure is shm/list.c. */
#include "kvns/command.h"
#include "kvns/list.h"

#include <stdlib.h>
#include <string.h>

static kv_txn *txn_of(client *c) { return &c->w->txn; }

/* The root of a list entry, for reading. */
static const list_root *root_of(const kv_entry *e) { return arena_ptr(entry_obj(e)); }

/* Aborts the command after a list operation failed (arena full, or the undo log could not grow). */
static void list_fail(client *c) { reply_store_error(c, STORE_E_NOMEM); }

/* Parses LEFT/RIGHT at argv[i] into *tail; replies a syntax error and returns false
 * for anything else. */
static bool where_arg(client *c, size_t i, bool *tail)
{
    if (arg_is(&c->argv[i], "left"))
        *tail = false;
    else if (arg_is(&c->argv[i], "right"))
        *tail = true;
    else {
        reply_error(&c->out, ERR_SYNTAX);
        return false;
    }
    return true;
}

/* True when element el equals argument a. */
static bool elem_equals(list_elem el, const resp_arg *a)
{
    return el.n == a->len && memcmp(el.p, a->ptr, a->len) == 0;
}

/* Replies the n elements from the tail end (or head end) of the list, outermost
 * first, as an array. */
static void reply_end_elements(client *c, const list_root *r, bool tail, uint64_t n)
{
    reply_array(&c->out, (long long)n);
    list_pos pos;
    if (!n || !list_seek(r, tail ? r->count - 1 : 0, &pos))
        return;
    for (uint64_t i = 0; i < n; i++) {
        list_elem el = list_get(&pos);
        reply_bulk(&c->out, el.p, el.n);
        if (i + 1 < n && !(tail ? list_prev(&pos) : list_next(&pos)))
            break;
    }
}

/* Deletes key argv[i] when its list is now empty (empty collections never exist). */
static void delete_if_empty(client *c, size_t i, const list_h *h)
{
    if (h->r->count == 0)
        store_delete(txn_of(c), &c->keys[i]);
}

/* Pushes vals[0..n) into the list of key argv[k] (entry e), creating the list when e
 * is NULL. Returns the new length, or -1 after aborting the command. */
static long long push_values(client *c, size_t k, kv_entry *e, bool tail, const resp_arg *vals, size_t n)
{
    kv_txn *t = txn_of(c);
    uint32_t s = c->keys[k].shard;
    list_h h;
    if (e) {
        list_bind_entry(&h, t, s, e);
    } else {
        aoff root = list_create(t, s);
        if (!root) {
            list_fail(c);
            return -1;
        }
        list_bind(&h, t, s, NULL, root);
    }
    for (size_t i = 0; i < n; i++) {
        if (!list_push(&h, tail, vals[i].ptr, vals[i].len)) {
            list_fail(c);
            return -1;
        }
    }
    long long len = (long long)h.r->count;
    if (!e) {
        int rc = store_put_object(t, &c->keys[k], KV_LIST, arena_off(h.r), -1, NULL);
        if (rc != STORE_OK) {
            reply_store_error(c, rc);
            return -1;
        }
    }
    return len;
}

/* ---- push and pop ------------------------------------------------------------------ */

/* LPUSH/RPUSH/LPUSHX/RPUSHX key element...: the length after the pushes; the X forms
 * do nothing (0) when the key is missing. */
static void push_generic(client *c, bool tail, bool only_existing)
{
    kv_entry *e;
    if (!key_lookup_typed(c, 1, KV_LIST, KEY_WRITE, &e))
        return;
    if (!e && only_existing) {
        reply_int(&c->out, 0);
        return;
    }
    long long len = push_values(c, 1, e, tail, c->argv + 2, c->argc - 2);
    if (len >= 0)
        reply_int(&c->out, len);
}

static void cmd_lpush(client *c) { push_generic(c, false, false); }
static void cmd_rpush(client *c) { push_generic(c, true, false); }
static void cmd_lpushx(client *c) { push_generic(c, false, true); }
static void cmd_rpushx(client *c) { push_generic(c, true, true); }

/* LPOP/RPOP key [count]: one element (nil when missing), or with count an array of up
 * to count elements (nil array when missing, empty array for count 0). */
static void pop_generic(client *c, bool tail)
{
    if (c->argc > 3) {
        reply_errorf(&c->out, "ERR wrong number of arguments for '%s' command", c->last_cmd->name);
        return;
    }
    bool has_count = c->argc == 3;
    long long count = 0;
    if (has_count && (parse_ll(c->argv[2].ptr, c->argv[2].len, &count) != 0 || count < 0)) {
        reply_error(&c->out, "ERR value is out of range, must be positive");
        return;
    }
    kv_entry *e;
    if (!key_lookup_typed(c, 1, KV_LIST, KEY_WRITE, &e))
        return;
    if (!e) {
        if (has_count)
            reply_null_array(&c->out);
        else
            reply_null(&c->out);
        return;
    }
    if (has_count && count == 0) {
        reply_array(&c->out, 0);
        return;
    }
    list_h h;
    list_bind_entry(&h, txn_of(c), c->keys[1].shard, e);
    if (!has_count) {
        list_elem el;
        if (!list_pop(&h, tail, &el)) {
            list_fail(c);
            return;
        }
        reply_bulk(&c->out, el.p, el.n);
    } else {
        uint64_t n = (uint64_t)count < h.r->count ? (uint64_t)count : h.r->count;
        reply_end_elements(c, h.r, tail, n);
        list_drop(&h, tail, n);
    }
    delete_if_empty(c, 1, &h);
    if (txn_of(c)->failed)
        list_fail(c);
}

static void cmd_lpop(client *c) { pop_generic(c, false); }
static void cmd_rpop(client *c) { pop_generic(c, true); }

/* ---- reads ----------------------------------------------------------------------------- */

/* LLEN key: the length, 0 when missing. */
static void cmd_llen(client *c)
{
    kv_entry *e;
    if (key_lookup_typed(c, 1, KV_LIST, KEY_READ, &e))
        reply_int(&c->out, e ? (long long)root_of(e)->count : 0);
}

/* Converts Redis's start/end (negative from the end) for a list of len elements into
 * an inclusive range; returns false when it is empty. */
static bool range_of(long long len, long long start, long long end, long long *from, long long *to)
{
    if (start < 0)
        start += len;
    if (end < 0)
        end += len;
    if (start < 0)
        start = 0;
    if (start > end || start >= len)
        return false;
    if (end >= len)
        end = len - 1;
    *from = start;
    *to = end;
    return true;
}

/* LRANGE key start stop: the elements of the inclusive range, empty when missing. */
static void cmd_lrange(client *c)
{
    long long start, end, from, to;
    if (!arg_ll(c, 2, &start) || !arg_ll(c, 3, &end))
        return;
    kv_entry *e;
    if (!key_lookup_typed(c, 1, KV_LIST, KEY_READ, &e))
        return;
    if (!e || !range_of((long long)root_of(e)->count, start, end, &from, &to)) {
        reply_array(&c->out, 0);
        return;
    }
    reply_array(&c->out, to - from + 1);
    list_pos pos;
    list_seek(root_of(e), (uint64_t)from, &pos);
    for (long long i = from; i <= to; i++) {
        list_elem el = list_get(&pos);
        reply_bulk(&c->out, el.p, el.n);
        if (i < to)
            list_next(&pos);
    }
}

/* LINDEX key index: the element (negative counts from the tail), nil when out of range
 * or missing. The key is looked up before the index is parsed, as Redis does. */
static void cmd_lindex(client *c)
{
    kv_entry *e;
    if (!key_lookup_typed(c, 1, KV_LIST, KEY_READ, &e))
        return;
    if (!e) {
        reply_null(&c->out);
        return;
    }
    long long idx;
    if (!arg_ll(c, 2, &idx))
        return;
    const list_root *r = root_of(e);
    if (idx < 0)
        idx += (long long)r->count;
    list_pos pos;
    if (idx < 0 || !list_seek(r, (uint64_t)idx, &pos)) {
        reply_null(&c->out);
        return;
    }
    list_elem el = list_get(&pos);
    reply_bulk(&c->out, el.p, el.n);
}

/* LPOS key element [RANK rank] [COUNT num] [MAXLEN len]: the index of the rank-th match
 * (negative rank: from the tail), or with COUNT an array of up to num indexes (0: all);
 * MAXLEN bounds the elements compared. Mirrors Redis's lposCommand step by step,
 * including its handling of RANK -9223372036854775808. */
static void cmd_lpos(client *c)
{
    long long rank = 1, count = -1, maxlen = 0;
    for (size_t j = 3; j < c->argc; j++) {
        bool more = j + 1 < c->argc;
        if (arg_is(&c->argv[j], "rank") && more) {
            if (!arg_ll(c, ++j, &rank))
                return;
            if (rank == 0) {
                reply_error(&c->out, "ERR RANK can't be zero: use 1 to start from the first match, "
                                     "2 from the second ... or use negative to start from the end of the list");
                return;
            }
        } else if (arg_is(&c->argv[j], "count") && more) {
            j++;
            if (parse_ll(c->argv[j].ptr, c->argv[j].len, &count) != 0 || count < 0) {
                reply_error(&c->out, "ERR COUNT can't be negative");
                return;
            }
        } else if (arg_is(&c->argv[j], "maxlen") && more) {
            j++;
            if (parse_ll(c->argv[j].ptr, c->argv[j].len, &maxlen) != 0 || maxlen < 0) {
                reply_error(&c->out, "ERR MAXLEN can't be negative");
                return;
            }
        } else {
            reply_error(&c->out, ERR_SYNTAX);
            return;
        }
    }
    bool backward = rank < 0;
    if (backward)
        rank = (long long)(0 - (unsigned long long)rank);    /* LLONG_MIN stays negative */
    kv_entry *e;
    if (!key_lookup_typed(c, 1, KV_LIST, KEY_READ, &e))
        return;
    if (!e) {
        if (count != -1)
            reply_array(&c->out, 0);
        else
            reply_null(&c->out);
        return;
    }
    const list_root *r = root_of(e);
    size_t handle = count != -1 ? reply_defer_array(&c->out) : 0;
    long long llen = (long long)r->count, index = 0, matches = 0, matchindex = -1, arraylen = 0;
    list_pos pos;
    bool more = list_seek(r, backward ? r->count - 1 : 0, &pos);
    while (more && (maxlen == 0 || index < maxlen)) {
        if (elem_equals(list_get(&pos), &c->argv[2])) {
            matches++;
            matchindex = backward ? llen - index - 1 : index;
            if (matches >= rank) {
                if (count == -1)
                    break;
                arraylen++;
                reply_int(&c->out, matchindex);
                long long got = (long long)((unsigned long long)matches - (unsigned long long)rank + 1);
                if (count && got >= count)
                    break;
            }
        }
        index++;
        matchindex = -1;
        more = backward ? list_prev(&pos) : list_next(&pos);
    }
    if (count != -1)
        reply_fix_array(&c->out, handle, arraylen);
    else if (matchindex != -1)
        reply_int(&c->out, matchindex);
    else
        reply_null(&c->out);
}

/* ---- edits ------------------------------------------------------------------------------ */

/* LSET key index element: +OK; "ERR no such key" when missing, "ERR index out of
 * range" past either end. */
static void cmd_lset(client *c)
{
    kv_entry *e;
    if (!key_lookup_typed(c, 1, KV_LIST, KEY_WRITE, &e))
        return;
    if (!e) {
        reply_error(&c->out, ERR_NO_KEY);
        return;
    }
    long long idx;
    if (!arg_ll(c, 2, &idx))
        return;
    list_h h;
    list_bind_entry(&h, txn_of(c), c->keys[1].shard, e);
    if (idx < 0)
        idx += (long long)h.r->count;
    list_pos pos;
    if (idx < 0 || !list_seek(h.r, (uint64_t)idx, &pos)) {
        reply_error(&c->out, "ERR index out of range");
        return;
    }
    if (!list_set(&h, &pos, c->argv[3].ptr, c->argv[3].len)) {
        list_fail(c);
        return;
    }
    reply_ok(&c->out);
}

/* LINSERT key BEFORE|AFTER pivot element: the new length, -1 when the pivot is not
 * found, 0 when the key is missing. */
static void cmd_linsert(client *c)
{
    bool after;
    if (arg_is(&c->argv[2], "after"))
        after = true;
    else if (arg_is(&c->argv[2], "before"))
        after = false;
    else {
        reply_error(&c->out, ERR_SYNTAX);
        return;
    }
    kv_entry *e;
    if (!key_lookup_typed(c, 1, KV_LIST, KEY_WRITE, &e))
        return;
    if (!e) {
        reply_int(&c->out, 0);
        return;
    }
    list_h h;
    list_bind_entry(&h, txn_of(c), c->keys[1].shard, e);
    list_pos pos;
    bool more = list_seek(h.r, 0, &pos);
    while (more && !elem_equals(list_get(&pos), &c->argv[3]))
        more = list_next(&pos);
    if (!more) {
        reply_int(&c->out, -1);
        return;
    }
    if (!list_insert(&h, &pos, after, c->argv[4].ptr, c->argv[4].len)) {
        list_fail(c);
        return;
    }
    reply_int(&c->out, (long long)h.r->count);
}

/* LREM key count element: removes up to |count| matches (0: all) from the head, or
 * from the tail for a negative count; the number removed. */
static void cmd_lrem(client *c)
{
    long long count;
    if (!arg_ll(c, 2, &count))
        return;
    kv_entry *e;
    if (!key_lookup_typed(c, 1, KV_LIST, KEY_WRITE, &e))
        return;
    if (!e) {
        reply_int(&c->out, 0);
        return;
    }
    list_h h;
    list_bind_entry(&h, txn_of(c), c->keys[1].shard, e);
    uint64_t limit = count < 0 ? 0 - (unsigned long long)count : (uint64_t)count;
    bool ok;
    uint64_t removed = list_remove(&h, c->argv[3].ptr, c->argv[3].len, limit, count < 0, &ok);
    if (!ok) {
        list_fail(c);
        return;
    }
    delete_if_empty(c, 1, &h);
    reply_int(&c->out, (long long)removed);
}

/* LTRIM key start stop: keeps only the inclusive range (the key goes when it is
 * empty); +OK, also for a missing key. */
static void cmd_ltrim(client *c)
{
    long long start, end, from, to;
    if (!arg_ll(c, 2, &start) || !arg_ll(c, 3, &end))
        return;
    kv_entry *e;
    if (!key_lookup_typed(c, 1, KV_LIST, KEY_WRITE, &e))
        return;
    if (!e) {
        reply_ok(&c->out);
        return;
    }
    list_h h;
    list_bind_entry(&h, txn_of(c), c->keys[1].shard, e);
    long long len = (long long)h.r->count;
    if (!range_of(len, start, end, &from, &to)) {
        from = len;
        to = len - 1;
    }
    list_drop(&h, false, (uint64_t)from);
    list_drop(&h, true, (uint64_t)(len - 1 - to));
    delete_if_empty(c, 1, &h);
    if (txn_of(c)->failed) {
        list_fail(c);
        return;
    }
    reply_ok(&c->out);
}

/* ---- moves ------------------------------------------------------------------------------ */

/* LMOVE/RPOPLPUSH core: pops from argv[1]'s end, pushes to argv[2]'s end (the same
 * list rotates); replies the element, or nil when the source is missing. The source
 * goes when it is left empty. */
static void move_generic(client *c, bool from_tail, bool to_tail)
{
    kv_entry *src;
    if (!key_lookup_typed(c, 1, KV_LIST, KEY_WRITE, &src))
        return;
    if (!src) {
        reply_null(&c->out);
        return;
    }
    kv_entry *dst;
    if (!key_lookup_typed(c, 2, KV_LIST, KEY_WRITE, &dst))
        return;
    kv_txn *t = txn_of(c);
    list_h hs;
    list_bind_entry(&hs, t, c->keys[1].shard, src);
    list_elem el;
    if (!list_pop(&hs, from_tail, &el)) {
        list_fail(c);
        return;
    }
    /* the element's bytes may be overwritten by the push: keep a copy */
    char *val = malloc(el.n ? el.n : 1);
    if (!val) {
        list_fail(c);
        return;
    }
    memcpy(val, el.p, el.n);
    size_t n = el.n;
    bool ok;
    if (dst) {
        list_h hd;
        list_bind_entry(&hd, t, c->keys[2].shard, dst);
        ok = list_push(&hd, to_tail, val, n);
        if (!ok)
            list_fail(c);
    } else {
        resp_arg v = { val, n };
        ok = push_values(c, 2, NULL, to_tail, &v, 1) >= 0;
    }
    if (ok) {
        reply_bulk(&c->out, val, n);
        delete_if_empty(c, 1, &hs);
        if (t->failed)
            list_fail(c);
    }
    free(val);
}

/* LMOVE source destination LEFT|RIGHT LEFT|RIGHT. */
static void cmd_lmove(client *c)
{
    bool from_tail, to_tail;
    if (where_arg(c, 3, &from_tail) && where_arg(c, 4, &to_tail))
        move_generic(c, from_tail, to_tail);
}

/* RPOPLPUSH source destination: LMOVE source destination RIGHT LEFT. */
static void cmd_rpoplpush(client *c) { move_generic(c, true, false); }

/* LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT count]: [key, elements] of the first
 * non-empty list, or a nil array. */
static void cmd_lmpop(client *c)
{
    long long numkeys, count = -1;
    if (parse_ll(c->argv[1].ptr, c->argv[1].len, &numkeys) != 0 || numkeys <= 0) {
        reply_error(&c->out, "ERR numkeys should be greater than 0");
        return;
    }
    if (numkeys >= (long long)c->argc - 2) {
        reply_error(&c->out, ERR_SYNTAX);
        return;
    }
    size_t where_idx = 2 + (size_t)numkeys;
    bool tail;
    if (!where_arg(c, where_idx, &tail))
        return;
    for (size_t j = where_idx + 1; j < c->argc; j++) {
        if (count == -1 && arg_is(&c->argv[j], "count") && j + 1 < c->argc) {
            j++;
            if (parse_ll(c->argv[j].ptr, c->argv[j].len, &count) != 0 || count <= 0) {
                reply_error(&c->out, "ERR count should be greater than 0");
                return;
            }
        } else {
            reply_error(&c->out, ERR_SYNTAX);
            return;
        }
    }
    if (count == -1)
        count = 1;
    kv_txn *t = txn_of(c);
    bool popped = false;
    for (size_t i = 0; i < (size_t)numkeys && !popped; i++) {
        const kv_key *k = &c->keys[2 + i];
        kv_entry *e = store_find(t, k);
        if (!e)
            continue;
        if (e->type != KV_LIST) {
            reply_error(&c->out, ERR_WRONGTYPE);
            return;
        }
        list_h h;
        list_bind_entry(&h, t, k->shard, e);
        uint64_t n = (uint64_t)count < h.r->count ? (uint64_t)count : h.r->count;
        reply_array(&c->out, 2);
        reply_bulk(&c->out, c->argv[2 + i].ptr, c->argv[2 + i].len);
        reply_end_elements(c, h.r, tail, n);
        list_drop(&h, tail, n);
        if (h.r->count == 0)
            store_delete(t, k);
        popped = true;
    }
    if (t->failed) {
        list_fail(c);
        return;
    }
    if (!popped)
        reply_null_array(&c->out);
}

#define W (CMD_WRITE | CMD_DENYOOM)
#define R (CMD_READONLY)
#define PUSH_CPLX "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments."
const command list_commands[] = {
    { "lpush", -3, W | CMD_FAST, (const key_spec[]){ { KS_RW | KS_INSERT, KS_INDEX, 1, NULL, KS_RANGE, .range = { 0, 1, 0 } }, { 0 } }, cmd_lpush, "list", "Prepends one or more elements to a list. Creates the key if it doesn't exist.", "1.0.0", PUSH_CPLX, NULL },
    { "rpush", -3, W | CMD_FAST, (const key_spec[]){ { KS_RW | KS_INSERT, KS_INDEX, 1, NULL, KS_RANGE, .range = { 0, 1, 0 } }, { 0 } }, cmd_rpush, "list", "Appends one or more elements to a list. Creates the key if it doesn't exist.", "1.0.0", PUSH_CPLX, NULL },
    { "lpushx", -3, W | CMD_FAST, (const key_spec[]){ { KS_RW | KS_INSERT, KS_INDEX, 1, NULL, KS_RANGE, .range = { 0, 1, 0 } }, { 0 } }, cmd_lpushx, "list", "Prepends one or more elements to a list only when the list exists.", "2.2.0", PUSH_CPLX, NULL },
    { "rpushx", -3, W | CMD_FAST, (const key_spec[]){ { KS_RW | KS_INSERT, KS_INDEX, 1, NULL, KS_RANGE, .range = { 0, 1, 0 } }, { 0 } }, cmd_rpushx, "list", "Appends an element to a list only when the list exists.", "2.2.0", PUSH_CPLX, NULL },
    { "lpop", -2, CMD_WRITE | CMD_FAST, (const key_spec[]){ { KS_RW | KS_ACCESS | KS_DELETE, KS_INDEX, 1, NULL, KS_RANGE, .range = { 0, 1, 0 } }, { 0 } }, cmd_lpop, "list", "Returns the first elements in a list after removing it. Deletes the list if the last element was popped.", "1.0.0", "O(N) where N is the number of elements returned", NULL },
    { "rpop", -2, CMD_WRITE | CMD_FAST, (const key_spec[]){ { KS_RW | KS_ACCESS | KS_DELETE, KS_INDEX, 1, NULL, KS_RANGE, .range = { 0, 1, 0 } }, { 0 } }, cmd_rpop, "list", "Returns and removes the last elements of a list. Deletes the list if the last element was popped.", "1.0.0", "O(N) where N is the number of elements returned", NULL },
    { "llen", 2, R | CMD_FAST, (const key_spec[]){ { KS_RO, KS_INDEX, 1, NULL, KS_RANGE, .range = { 0, 1, 0 } }, { 0 } }, cmd_llen, "list", "Returns the length of a list.", "1.0.0", "O(1)", NULL },
    { "lrange", 4, R, (const key_spec[]){ { KS_RO | KS_ACCESS, KS_INDEX, 1, NULL, KS_RANGE, .range = { 0, 1, 0 } }, { 0 } }, cmd_lrange, "list", "Returns a range of elements from a list.", "1.0.0", "O(S+N) where S is the distance of start offset from HEAD for small lists, from nearest end (HEAD or TAIL) for large lists; and N is the number of elements in the specified range.", NULL },
    { "lindex", 3, R, (const key_spec[]){ { KS_RO | KS_ACCESS, KS_INDEX, 1, NULL, KS_RANGE, .range = { 0, 1, 0 } }, { 0 } }, cmd_lindex, "list", "Returns an element from a list by its index.", "1.0.0", "O(N) where N is the number of elements to traverse to get to the element at index. This makes asking for the first or the last element of the list O(1).", NULL },
    { "lset", 4, W, (const key_spec[]){ { KS_RW | KS_UPDATE, KS_INDEX, 1, NULL, KS_RANGE, .range = { 0, 1, 0 } }, { 0 } }, cmd_lset, "list", "Sets the value of an element in a list by its index.", "1.0.0", "O(N) where N is the length of the list. Setting either the first or the last element of the list is O(1).", NULL },
    { "lrem", 4, CMD_WRITE, (const key_spec[]){ { KS_RW | KS_DELETE, KS_INDEX, 1, NULL, KS_RANGE, .range = { 0, 1, 0 } }, { 0 } }, cmd_lrem, "list", "Removes elements from a list. Deletes the list if the last element was removed.", "1.0.0", "O(N+M) where N is the length of the list and M is the number of elements removed.", NULL },
    { "ltrim", 4, CMD_WRITE, (const key_spec[]){ { KS_RW | KS_DELETE, KS_INDEX, 1, NULL, KS_RANGE, .range = { 0, 1, 0 } }, { 0 } }, cmd_ltrim, "list", "Removes elements from both ends a list. Deletes the list if all elements were trimmed.", "1.0.0", "O(N) where N is the number of elements to be removed by the operation.", NULL },
    { "linsert", 5, W, (const key_spec[]){ { KS_RW | KS_INSERT, KS_INDEX, 1, NULL, KS_RANGE, .range = { 0, 1, 0 } }, { 0 } }, cmd_linsert, "list", "Inserts an element before or after another element in a list.", "2.2.0", "O(N) where N is the number of elements to traverse before seeing the value pivot. This means that inserting somewhere on the left end on the list (head) can be considered O(1) and inserting somewhere on the right end (tail) is O(N).", NULL },
    { "lpos", -3, R, (const key_spec[]){ { KS_RO | KS_ACCESS, KS_INDEX, 1, NULL, KS_RANGE, .range = { 0, 1, 0 } }, { 0 } }, cmd_lpos, "list", "Returns the index of matching elements in a list.", "6.0.6", "O(N) where N is the number of elements in the list, for the average case. When searching for elements near the head or the tail of the list, or when the MAXLEN option is provided, the command may run in constant time.", NULL },
    { "lmove", 5, W, (const key_spec[]){ { KS_RW | KS_ACCESS | KS_DELETE, KS_INDEX, 1, NULL, KS_RANGE, .range = { 0, 1, 0 } }, { KS_RW | KS_INSERT, KS_INDEX, 2, NULL, KS_RANGE, .range = { 0, 1, 0 } }, { 0 } }, cmd_lmove, "list", "Returns an element after popping it from one list and pushing it to another. Deletes the list if the last element was moved.", "6.2.0", "O(1)", NULL },
    { "rpoplpush", 3, W, (const key_spec[]){ { KS_RW | KS_ACCESS | KS_DELETE, KS_INDEX, 1, NULL, KS_RANGE, .range = { 0, 1, 0 } }, { KS_RW | KS_INSERT, KS_INDEX, 2, NULL, KS_RANGE, .range = { 0, 1, 0 } }, { 0 } }, cmd_rpoplpush, "list", "Returns the last element of a list after removing and pushing it to another list. Deletes the list if the last element was popped.", "1.2.0", "O(1)", NULL },
    { "lmpop", -4, CMD_WRITE, (const key_spec[]){ { KS_RW | KS_ACCESS | KS_DELETE, KS_INDEX, 1, NULL, KS_KEYNUM, .keynum = { 0, 1, 1 } }, { 0 } }, cmd_lmpop, "list", "Returns multiple elements from a list after removing them. Deletes the list if the last element was popped.", "7.0.0", "O(N+M) where N is the number of provided keys and M is the number of elements returned.", NULL },
    { 0 }
};
