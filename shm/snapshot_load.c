/* snapshot_load.c - verifies a snapshot file completely, then loads it into the store
 * in bounded transactions (format: persist.h). The file is mapped read-only and never
 * written. */
#include "kvns/persist.h"
#include "kvns/clock.h"
#include "kvns/function_store.h"
#include "kvns/hash.h"
#include "kvns/list.h"
#include "kvns/set.h"
#include "kvns/store.h"
#include "kvns/zset.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* A collection is loaded in transactions of at most this many elements / bytes. */
#define LOAD_CHUNK_ELEMS 1024u
#define LOAD_CHUNK_BYTES (1u << 20)

/* ---- reading little-endian fields --------------------------------------------------------- */

static uint32_t load_u32(const unsigned char *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return le32toh(v);
}

/* Reads a little-endian u64. */
static uint64_t load_u64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return le64toh(v);
}

/* Sets the report's error, position and message; returns the error. */
static int fail(persist_report *rep, int error, uint64_t offset, int64_t section, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static int fail(persist_report *rep, int error, uint64_t offset, int64_t section, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rep->message, sizeof rep->message, fmt, ap);
    va_end(ap);
    rep->error = error;
    rep->offset = offset;
    rep->section = section;
    return error;
}

/* A bounded cursor over the mapped file: [pos, end) of file offsets. */
typedef struct cursor {
    const unsigned char *base;  /* the mapping (file offset 0) */
    uint64_t pos, end;
} cursor;

/* Consumes n bytes; returns a pointer to them or NULL when fewer remain. */
static const unsigned char *take(cursor *c, uint64_t n)
{
    if (c->end - c->pos < n)
        return NULL;
    const unsigned char *p = c->base + c->pos;
    c->pos += n;
    return p;
}

/* Consumes a u32 length and that many bytes; false when they do not fit. */
static bool take_str(cursor *c, const char **p, uint32_t *len)
{
    const unsigned char *l = take(c, 4);
    if (!l)
        return false;
    *len = load_u32(l);
    const unsigned char *s = take(c, *len);
    *p = (const char *)s;
    return s != NULL;
}

/* ---- records -------------------------------------------------------------------------- */

/* One record as parsed from the file; collections' elements are [elems_at, elems_end). */
typedef struct rec_view {
    uint64_t    offset;         /* of the record */
    uint8_t     type;
    uint32_t    hits;
    int64_t     expire;         /* unix ms, -1 none */
    const char *key;
    uint32_t    klen;
    const char *val;            /* strings */
    uint32_t    vlen;
    uint64_t    count;          /* collections */
    uint64_t    elems_at, elems_end;
    char        why[192];       /* what is wrong, when it names an element */
} rec_view;

/* The members (hash fields) of one record met so far, for the duplicate check: an
 * open-addressing set of file offsets of their length prefixes (offset + 1, 0 = empty),
 * so a duplicate is found in O(count) without copying anything. */
typedef struct member_set {
    uint64_t *slot;
    size_t    mask;
} member_set;

/* Sizes the set for count members; false when memory is short. */
static bool member_set_init(member_set *ms, uint64_t count)
{
    size_t cap = 16;
    while (cap < 2 * count)
        cap *= 2;
    ms->slot = calloc(cap, sizeof *ms->slot);
    ms->mask = cap - 1;
    return ms->slot != NULL;
}

/* Adds the member whose u32 length prefix is at file offset at; false when an equal
 * member is already there. */
static bool member_set_add(member_set *ms, const unsigned char *base, uint64_t at)
{
    uint32_t len = load_u32(base + at);
    const unsigned char *p = base + at + 4;
    for (size_t i = kv_hash_bytes(p, len, 0) & ms->mask;; i = (i + 1) & ms->mask) {
        if (!ms->slot[i]) {
            ms->slot[i] = at + 1;
            return true;
        }
        uint64_t other = ms->slot[i] - 1;
        if (load_u32(base + other) == len && memcmp(base + other + 4, p, len) == 0)
            return false;
    }
}

/* Writes into v->why that the record repeats member p[0..len), naming the key. */
static const char *duplicate_member(rec_view *v, const char *what, const char *p, uint32_t len)
{
    snprintf(v->why, sizeof v->why, "%s '%.*s' of key '%.*s' appears twice", what, (int)(len > 40 ? 40 : len), p,
             (int)(v->klen > 60 ? 60 : v->klen), v->key);
    return v->why;
}

/* Bytes the smallest element of a collection of type takes in the file. */
static uint64_t min_element_bytes(uint8_t type)
{
    return type == KV_ZSET ? 12 : type == KV_HASH ? 8 : 4;
}

/* Walks the v->count elements of collection v, checking that they fit, that hash
 * fields, set members and sorted-set members are unique (lists may repeat), and for a
 * sorted set that scores are numbers in ascending (score, member) order. Returns NULL,
 * or what is wrong. */
static const char *check_elements(cursor *c, rec_view *v)
{
    uint8_t type = v->type;
    uint64_t count = v->count;
    if (count > (c->end - c->pos) / min_element_bytes(type))
        return "collection elements run past the section";
    member_set seen = { NULL, 0 };
    if (type != KV_LIST && !member_set_init(&seen, count))
        return "out of memory checking the collection for duplicates";
    const char *why = NULL;
    const char *prev = NULL;
    uint32_t prevlen = 0;
    double prevscore = 0;
    for (uint64_t i = 0; i < count && !why; i++) {
        const char *p;
        uint32_t len;
        if (type == KV_ZSET) {
            const unsigned char *s = take(c, 8);
            if (!s) {
                why = "sorted-set element runs past the section";
                break;
            }
            uint64_t bits = load_u64(s);
            double score;
            memcpy(&score, &bits, 8);
            uint64_t at = c->pos;
            if (isnan(score))
                why = "sorted-set score is NaN";
            else if (!take_str(c, &p, &len))
                why = "sorted-set member runs past the section";
            else if (prev && (score < prevscore ||
                              (score == prevscore && zset_member_cmp(prev, prevlen, p, len) >= 0)))
                why = "sorted-set members out of order or duplicated";
            else if (!member_set_add(&seen, c->base, at))
                why = duplicate_member(v, "sorted-set member", p, len);
            if (why)
                break;
            prev = p;
            prevlen = len;
            prevscore = score;
        } else {
            uint64_t at = c->pos;
            if (!take_str(c, &p, &len))
                why = "collection element runs past the section";
            else if (type != KV_LIST && !member_set_add(&seen, c->base, at))
                why = duplicate_member(v, type == KV_HASH ? "hash field" : "set member", p, len);
            else if (type == KV_HASH && !take_str(c, &p, &len))
                why = "hash value runs past the section";
        }
    }
    free(seen.slot);
    return why;
}

/* The rest of a function libraries record (after its 8-byte header) into v->val /
 * v->vlen, decoded once to check it. Returns NULL or what is wrong (in v->why). */
static const char *parse_functions(cursor *c, rec_view *v, uint8_t flags)
{
    if (flags || v->hits)
        return "function libraries record with flags or hits";
    if (!take_str(c, &v->key, &v->klen) || v->klen != 0)
        return "function libraries record without its empty key";
    if (!take_str(c, &v->val, &v->vlen))
        return "function libraries run past the section";
    fn_set set = { 0 };
    char err[160];
    if (fnset_decode(v->val, v->vlen, &set, err, sizeof err) != 0) {
        snprintf(v->why, sizeof v->why, "%s", err);
        return v->why;
    }
    fnset_clear(&set);
    return NULL;
}

/* Parses and checks one record at c->pos into v. Returns NULL or what is wrong. */
static const char *parse_record(cursor *c, rec_view *v)
{
    memset(v, 0, sizeof *v);
    v->offset = c->pos;
    const unsigned char *h = take(c, 8);
    if (!h)
        return "record header runs past the section";
    v->type = h[0];
    uint8_t flags = h[1];
    v->hits = load_u32(h + 4);
    v->expire = -1;
    if (v->type > KV_ZSET && v->type != SNAP_TYPE_FUNCTIONS)
        return "unknown record type";
    if ((flags & ~SNAP_REC_EXPIRE) || h[2] || h[3])
        return "unknown record flags";
    if (v->type == SNAP_TYPE_FUNCTIONS)
        return parse_functions(c, v, flags);
    if (flags & SNAP_REC_EXPIRE) {
        const unsigned char *e = take(c, 8);
        if (!e)
            return "expiry runs past the section";
        v->expire = (int64_t)load_u64(e);
        if (v->expire < 0)
            return "negative expiry";
    }
    if (!take_str(c, &v->key, &v->klen))
        return "key runs past the section";
    if (v->type == KV_STRING) {
        if (!take_str(c, &v->val, &v->vlen))
            return "string value runs past the section";
        return NULL;
    }
    const unsigned char *n = take(c, 8);
    if (!n)
        return "element count runs past the section";
    v->count = load_u64(n);
    if (v->count == 0)
        return "empty collection";
    v->elems_at = c->pos;
    const char *why = check_elements(c, v);
    v->elems_end = c->pos;
    return why;
}

/* ---- walking the file --------------------------------------------------------------------- */

typedef int (*record_fn)(const rec_view *v, const cursor *file, persist_report *rep, void *ctx);

/* Checks the 40-byte header; sets *sections. Returns PERSIST_OK or the error. */
static int check_header(const unsigned char *p, uint64_t size, persist_report *rep, uint64_t *sections)
{
    if (size < 8 && memcmp(p, SNAP_MAGIC, size) == 0)
        return fail(rep, PERSIST_E_TRUNCATED, size, -1, "the file is %llu bytes, shorter than the %u-byte header",
                    (unsigned long long)size, SNAP_HEADER_BYTES);
    if (memcmp(p, SNAP_MAGIC, 8) != 0)
        return fail(rep, PERSIST_E_MAGIC, 0, -1, "not a kvns snapshot (the file does not start with \"%s\")",
                    SNAP_MAGIC);
    if (size < SNAP_HEADER_BYTES)
        return fail(rep, PERSIST_E_TRUNCATED, size, -1, "the file is %llu bytes, shorter than the %u-byte header",
                    (unsigned long long)size, SNAP_HEADER_BYTES);
    uint32_t version = load_u32(p + 8);
    if (version != SNAP_VERSION)
        return fail(rep, PERSIST_E_VERSION, 8, -1, "format version %u, this kvns reads version %u", version,
                    SNAP_VERSION);
    if (crc32c_update(0, p, 36) != load_u32(p + 36))
        return fail(rep, PERSIST_E_CRC, 0, -1, "header checksum mismatch");
    if (load_u32(p + 12) != 0)
        return fail(rep, PERSIST_E_FORMAT, 12, -1, "unknown header flags");
    rep->created_ms = (int64_t)load_u64(p + 16);
    *sections = load_u64(p + 24);
    return PERSIST_OK;
}

/* Checks section i at *pos (header, checksums, records) and calls fn for every record
 * (fn may be NULL). Advances *pos past it. Returns PERSIST_OK or the error. */
static int walk_section(const unsigned char *p, uint64_t size, uint64_t *pos, uint64_t i, uint32_t *body_crc,
                        uint64_t *records, record_fn fn, void *ctx, persist_report *rep)
{
    int64_t sec = (int64_t)i;
    if (size - *pos < SNAP_SECTION_BYTES)
        return fail(rep, PERSIST_E_TRUNCATED, size, sec, "the file ends inside the header of section %llu",
                    (unsigned long long)i);
    const unsigned char *h = p + *pos;
    if (crc32c_update(0, h, 28) != load_u32(h + 28))
        return fail(rep, PERSIST_E_CRC, *pos, sec, "section %llu: header checksum mismatch", (unsigned long long)i);
    if (memcmp(h, SNAP_SECTION_TAG, 4) != 0 || load_u32(h + 4) != (uint32_t)i)
        return fail(rep, PERSIST_E_FORMAT, *pos, sec, "section %llu: bad tag or index", (unsigned long long)i);
    uint64_t payload = load_u64(h + 16);
    uint64_t start = *pos + SNAP_SECTION_BYTES;
    if (payload > size - start)
        return fail(rep, PERSIST_E_TRUNCATED, size, sec,
                    "section %llu announces %llu payload bytes at offset %llu, the file ends after %llu",
                    (unsigned long long)i, (unsigned long long)payload, (unsigned long long)start,
                    (unsigned long long)(size - start));
    if (crc32c_update(0, p + start, payload) != load_u32(h + 24))
        return fail(rep, PERSIST_E_CRC, start, sec, "section %llu: payload checksum mismatch (%llu bytes at offset %llu)",
                    (unsigned long long)i, (unsigned long long)payload, (unsigned long long)start);
    *body_crc = crc32c_update(*body_crc, h, SNAP_SECTION_BYTES + payload);
    uint32_t announced = load_u32(h + 12);
    cursor c = { p, start, start + payload };
    uint32_t n = 0;
    while (c.pos < c.end) {
        rec_view v;
        const char *why = parse_record(&c, &v);
        if (why)
            return fail(rep, PERSIST_E_FORMAT, v.offset, sec, "section %llu record %u: %s", (unsigned long long)i,
                        n, why);
        n++;
        if (fn) {
            int rc = fn(&v, &c, rep, ctx);
            if (rc != PERSIST_OK) {
                rep->section = sec;
                return rc;
            }
        }
    }
    if (n != announced)
        return fail(rep, PERSIST_E_FORMAT, *pos, sec, "section %llu holds %u records, its header says %u",
                    (unsigned long long)i, n, announced);
    *records += n;
    *pos = start + payload;
    return PERSIST_OK;
}

/* Verifies the mapped file p[0..size) from header to footer, calling fn (may be NULL)
 * for each record. Returns PERSIST_OK or the error (rep filled). */
static int walk_file(const unsigned char *p, uint64_t size, record_fn fn, void *ctx, persist_report *rep)
{
    uint64_t sections = 0, records = 0;
    int rc = check_header(p, size, rep, &sections);
    if (rc != PERSIST_OK)
        return rc;
    uint64_t pos = SNAP_HEADER_BYTES;
    uint32_t body_crc = 0;
    for (uint64_t i = 0; i < sections; i++) {
        rc = walk_section(p, size, &pos, i, &body_crc, &records, fn, ctx, rep);
        if (rc != PERSIST_OK)
            return rc;
    }
    if (size - pos < SNAP_FOOTER_BYTES)
        return fail(rep, PERSIST_E_TRUNCATED, size, -1, "the file ends before the footer (expected at offset %llu)",
                    (unsigned long long)pos);
    const unsigned char *f = p + pos;
    if (crc32c_update(0, f, 28) != load_u32(f + 28))
        return fail(rep, PERSIST_E_CRC, pos, -1, "footer checksum mismatch");
    if (memcmp(f, SNAP_FOOTER_TAG, 4) != 0 || load_u32(f + 4) != 0)
        return fail(rep, PERSIST_E_FORMAT, pos, -1, "bad footer tag");
    if (load_u64(f + 8) != sections || load_u64(f + 16) != records)
        return fail(rep, PERSIST_E_FORMAT, pos, -1, "footer counts (%llu sections, %llu records) differ from the file's "
                    "(%llu, %llu)", (unsigned long long)load_u64(f + 8), (unsigned long long)load_u64(f + 16),
                    (unsigned long long)sections, (unsigned long long)records);
    if (load_u32(f + 24) != body_crc)
        return fail(rep, PERSIST_E_CRC, pos, -1, "footer: checksum of all sections mismatch");
    if (size - pos > SNAP_FOOTER_BYTES)
        return fail(rep, PERSIST_E_FORMAT, pos + SNAP_FOOTER_BYTES, -1, "%llu bytes after the footer",
                    (unsigned long long)(size - pos - SNAP_FOOTER_BYTES));
    rep->sections = sections;
    rep->bytes = size;
    return PERSIST_OK;
}

/* ---- inserting records -------------------------------------------------------------------- */

typedef struct load_ctx {
    kv_txn   *t;
    int64_t   now_ms;           /* records expiring at or before this are dropped */
    hs_str    strs[2 * LOAD_CHUNK_ELEMS];
    zset_item items[LOAD_CHUNK_ELEMS];
} load_ctx;

/* The error of a failed store call or commit, with a message. */
static int store_failure(persist_report *rep, const rec_view *v, int store_rc, const char *what)
{
    if (store_rc == STORE_E_NSFULL)
        return fail(rep, PERSIST_E_NOMEM, v->offset, -1, "%s: too many namespaces", what);
    if (store_rc == STORE_E_TOOBIG)
        return fail(rep, PERSIST_E_FORMAT, v->offset, -1, "%s: key or value too large", what);
    return fail(rep, PERSIST_E_NOMEM, v->offset, -1,
                "%s: the data does not fit in memory (raise KVNS_MEMORY_LIMIT)", what);
}

/* Reads the next chunk of a collection's elements from c into lc's arrays (at most
 * `left` elements); returns how many. The first pass (check_elements) has verified
 * that they fit, so the reads are not checked again. */
static size_t read_chunk(load_ctx *lc, cursor *c, uint8_t type, uint64_t left)
{
    size_t n = 0, bytes = 0;
    while (n < LOAD_CHUNK_ELEMS && n < left && bytes < LOAD_CHUNK_BYTES) {
        const char *p;
        uint32_t len;
        if (type == KV_ZSET) {
            uint64_t bits = load_u64(take(c, 8));
            memcpy(&lc->items[n].score, &bits, 8);
            take_str(c, &p, &len);
            lc->items[n].member = p;
            lc->items[n].len = len;
        } else if (type == KV_HASH) {
            take_str(c, &p, &len);
            lc->strs[2 * n] = (hs_str){ p, len };
            bytes += len;
            take_str(c, &p, &len);
            lc->strs[2 * n + 1] = (hs_str){ p, len };
        } else {
            take_str(c, &p, &len);
            lc->strs[n] = (hs_str){ p, len };
        }
        bytes += len;
        n++;
    }
    return n;
}

/* Builds a new collection root of v's type in shard s from the first chunk (fresh
 * memory). Returns the root, or 0 when the transaction failed. */
static aoff build_first_chunk(load_ctx *lc, const rec_view *v, uint32_t s, size_t n)
{
    kv_txn *t = lc->t;
    aoff root = 0;
    if (v->type == KV_LIST) {
        root = list_create(t, s);
        list_h h;
        if (root) {
            list_bind(&h, t, s, NULL, root);
            for (size_t i = 0; i < n && !t->failed; i++)
                list_push(&h, true, lc->strs[i].p, lc->strs[i].len);
        }
    } else if (v->type == KV_HASH) {
        root = hash_new(t, s);
        if (root)
            hash_set(t, s, NULL, root, lc->strs, n, false, false);
    } else if (v->type == KV_SET) {
        root = set_new(t, s, set_initial_encoding(lc->strs[0], (size_t)v->count));
        if (root)
            set_add(t, s, NULL, root, lc->strs, n);
    } else {
        root = zset_build_sorted(t, s, lc->items, n);
    }
    return t->failed ? 0 : root;
}

/* Adds a later chunk to the existing collection entry e (charging its namespace). */
static void add_chunk(load_ctx *lc, const rec_view *v, uint32_t s, kv_entry *e, size_t n)
{
    kv_txn *t = lc->t;
    aoff obj = entry_obj(e);
    if (v->type == KV_LIST) {
        list_h h;
        list_bind_entry(&h, t, s, e);
        for (size_t i = 0; i < n && !t->failed; i++)
            list_push(&h, true, lc->strs[i].p, lc->strs[i].len);
    } else if (v->type == KV_HASH) {
        hash_set(t, s, e, obj, lc->strs, n, false, false);
    } else if (v->type == KV_SET) {
        set_add(t, s, e, obj, lc->strs, n);
    } else {
        zset_obj *z = arena_ptr(obj);
        for (size_t i = 0; i < n && !t->failed; i++) {
            int out;
            double score;
            zset_add(t, s, e, z, lc->items[i].score, lc->items[i].member, lc->items[i].len, 0, &out, &score);
        }
    }
}

/* Loads a collection record chunk by chunk: the first transaction creates the key
 * (TTL and hit counter included), later ones append to it. base is the mapping. */
static int load_collection(load_ctx *lc, const rec_view *v, const unsigned char *base, const kv_key *k,
                           persist_report *rep)
{
    kv_txn *t = lc->t;
    cursor c = { base, v->elems_at, v->elems_end };
    uint64_t left = v->count;
    bool first = true;
    while (left > 0) {
        size_t n = read_chunk(lc, &c, v->type, left);
        left -= n;
        txn_begin(t);
        txn_lock(t, k->shard);
        int rc = STORE_OK;
        if (first) {
            aoff root = build_first_chunk(lc, v, k->shard, n);
            kv_entry *e = NULL;
            rc = root ? store_put_object(t, k, v->type, root, v->expire, &e) : STORE_E_NOMEM;
            if (rc == STORE_OK && e && !t->failed)
                e->hits = v->hits;          /* a fresh entry: no undo needed */
        } else {
            kv_entry *e = store_find(t, k);
            if (!e || e->type != v->type) {  /* expired while loading */
                txn_commit(t);
                return PERSIST_OK;
            }
            add_chunk(lc, v, k->shard, e, n);
        }
        if (rc != STORE_OK) {
            txn_abort(t);
            return store_failure(rep, v, rc, "loading a collection");
        }
        if (txn_commit(t) != TXN_OK)
            return store_failure(rep, v, STORE_E_NOMEM, "loading a collection");
        first = false;
    }
    return PERSIST_OK;
}

/* Replaces the function registry by the libraries of record v (checked by the
 * verifying pass) in one transaction. Returns PERSIST_OK or the error. */
static int load_functions(kv_txn *t, const rec_view *v, persist_report *rep)
{
    fn_set set = { 0 };
    char err[160];
    if (fnset_decode(v->val, v->vlen, &set, err, sizeof err) != 0)
        return fail(rep, PERSIST_E_NOMEM, v->offset, -1, "function libraries: %s", err);
    txn_begin(t);
    int rc = fnstore_install(t, &set);
    fnset_clear(&set);
    if (rc != FNSTORE_OK) {
        txn_abort(t);
        return fail(rep, PERSIST_E_NOMEM, v->offset, -1, "out of arena memory loading the function libraries");
    }
    if (txn_commit(t) != TXN_OK)
        return fail(rep, PERSIST_E_NOMEM, v->offset, -1, "out of arena memory loading the function libraries");
    return PERSIST_OK;
}

/* walk_file callback of the loading pass: inserts one record (or drops it when its
 * TTL has passed). */
static int load_record(const rec_view *v, const cursor *file, persist_report *rep, void *ctx)
{
    load_ctx *lc = ctx;
    if (v->type == SNAP_TYPE_FUNCTIONS)
        return load_functions(lc->t, v, rep);
    if (v->expire >= 0 && v->expire <= lc->now_ms) {
        rep->expired++;
        return PERSIST_OK;
    }
    kv_key k;
    key_init(&k, v->key, v->klen);
    rep->keys++;
    if (v->type != KV_STRING)
        return load_collection(lc, v, file->base, &k, rep);
    kv_txn *t = lc->t;
    txn_begin(t);
    txn_lock(t, k.shard);
    kv_entry *e = NULL;
    int rc = store_put_string(t, &k, v->val, v->vlen, v->expire, &e);
    if (rc == STORE_OK && e && !t->failed)
        e->hits = v->hits;
    if (rc != STORE_OK) {
        txn_abort(t);
        return store_failure(rep, v, rc, "loading a string");
    }
    if (txn_commit(t) != TXN_OK)
        return store_failure(rep, v, STORE_E_NOMEM, "loading a string");
    return PERSIST_OK;
}

/* ---- entry points ------------------------------------------------------------------------ */

/* Maps path read-only. Returns PERSIST_OK with *map and *size set (*map NULL for an empty
 * file), or PERSIST_E_IO; *missing when it does not exist. */
static int map_file(const char *path, const unsigned char **map, uint64_t *size, bool *missing,
                    persist_report *rep)
{
    *map = NULL;
    *size = 0;
    if (missing)
        *missing = false;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT && missing) {
            *missing = true;
            return PERSIST_OK;
        }
        return fail(rep, PERSIST_E_IO, 0, -1, "cannot open %s: %s", path, strerror(errno));
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        int err = errno;
        close(fd);
        return fail(rep, PERSIST_E_IO, 0, -1, "%s is not a regular file%s%s", path, err ? ": " : "",
                    err ? strerror(err) : "");
    }
    *size = (uint64_t)st.st_size;
    if (*size > 0) {
        void *p = mmap(NULL, *size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            int err = errno;
            close(fd);
            return fail(rep, PERSIST_E_IO, 0, -1, "cannot map %s: %s", path, strerror(err));
        }
        madvise(p, *size, MADV_SEQUENTIAL);
        *map = p;
    }
    close(fd);
    return PERSIST_OK;
}

/* Verifies (fn NULL) or verifies then loads the file at path. */
static int verify_or_load(const char *path, kv_txn *t, persist_report *rep, bool *missing)
{
    memset(rep, 0, sizeof *rep);
    rep->section = -1;
    const unsigned char *map;
    uint64_t size;
    int rc = map_file(path, &map, &size, missing, rep);
    if (rc != PERSIST_OK || (missing && *missing))
        return rc;
    static const unsigned char empty[8];
    rc = walk_file(map ? map : empty, size, NULL, NULL, rep);
    if (rc == PERSIST_OK && t) {
        load_ctx *lc = malloc(sizeof *lc);
        if (!lc) {
            rc = fail(rep, PERSIST_E_NOMEM, 0, -1, "out of process memory");
        } else {
            lc->t = t;
            lc->now_ms = clock_wall_ms();
            rc = walk_file(map, size, load_record, lc, rep);
            free(lc);
        }
    }
    if (map)
        munmap((void *)map, size);
    return rc;
}

/* Verifies the whole file, then loads it (see persist.h). */
int persist_load(const char *path, kv_txn *t, persist_report *rep, bool *missing)
{
    bool dummy;
    return verify_or_load(path, t, rep, missing ? missing : &dummy);
}

/* Verifies the whole file without loading it. */
int persist_verify(const char *path, persist_report *rep)
{
    return verify_or_load(path, NULL, rep, NULL);
}
