/* snapshot_write.c - writes a snapshot file shard by shard with bounded lock holds
 * (format and guarantees: persist.h). */
#include "kvns/persist.h"
#include "kvns/clock.h"
#include "kvns/function_store.h"
#include "kvns/hash.h"
#include "kvns/list.h"
#include "kvns/set.h"
#include "kvns/shard.h"
#include "kvns/store.h"
#include "kvns/zset.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- a growable process-local buffer ------------------------------------------------------ */

typedef struct snap_buf {
    char  *p;
    size_t len, cap;
    bool   failed;             /* an allocation failed: the contents are incomplete */
} snap_buf;

/* Makes room for `extra` more bytes; false (and failed set) when memory ran out. */
static bool buf_reserve(snap_buf *b, size_t extra)
{
    if (b->failed)
        return false;
    if (b->len + extra <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 64 * 1024;
    while (cap < b->len + extra)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) {
        b->failed = true;
        return false;
    }
    b->p = p;
    b->cap = cap;
    return true;
}

/* Appends n raw bytes. */
static void put_bytes(snap_buf *b, const void *p, size_t n)
{
    if (!buf_reserve(b, n))
        return;
    if (n)
        memcpy(b->p + b->len, p, n);
    b->len += n;
}

/* Appends little-endian integers and an IEEE-754 double (one helper per width). */
static void put_u8(snap_buf *b, uint8_t v) { put_bytes(b, &v, 1); }
static void put_u16(snap_buf *b, uint16_t v) { v = htole16(v); put_bytes(b, &v, 2); }
static void put_u32(snap_buf *b, uint32_t v) { v = htole32(v); put_bytes(b, &v, 4); }
static void put_u64(snap_buf *b, uint64_t v) { v = htole64(v); put_bytes(b, &v, 8); }
static void put_f64(snap_buf *b, double d)
{
    uint64_t v;
    memcpy(&v, &d, 8);
    put_u64(b, v);
}

/* Stores a little-endian integer at p (headers filled in place). */
static void store_u32(char *p, uint32_t v) { v = htole32(v); memcpy(p, &v, 4); }
static void store_u64(char *p, uint64_t v) { v = htole64(v); memcpy(p, &v, 8); }

/* Appends a length-prefixed string (u32 length, bytes). */
static void put_str(snap_buf *b, const char *p, size_t n)
{
    put_u32(b, (uint32_t)n);
    put_bytes(b, p, n);
}

/* ---- serializing one entry (under its shard's lock) ----------------------------------------- */

typedef struct batch_ctx {
    snap_buf *buf;
    uint32_t  records;
    uint64_t  elements;        /* elements written for the collection in progress */
} batch_ctx;

/* hash_foreach visitor: one field/value pair. */
static void visit_hash_pair(hs_str field, hs_str value, void *ctx)
{
    batch_ctx *bc = ctx;
    put_str(bc->buf, field.p, field.len);
    put_str(bc->buf, value.p, value.len);
    bc->elements++;
}

/* set_foreach visitor: one member. */
static void visit_set_member(hs_str member, void *ctx)
{
    batch_ctx *bc = ctx;
    put_str(bc->buf, member.p, member.len);
    bc->elements++;
}

/* Writes the elements of a list, head to tail. */
static void put_list(batch_ctx *bc, aoff obj)
{
    const list_root *r = arena_ptr(obj);
    list_pos pos;
    if (!list_seek(r, 0, &pos))
        return;
    do {
        list_elem el = list_get(&pos);
        put_str(bc->buf, el.p, el.n);
        bc->elements++;
    } while (list_next(&pos));
}

/* Writes the (score, member) pairs of a sorted set in ascending order. */
static void put_zset(batch_ctx *bc, aoff obj)
{
    const zset_obj *z = arena_ptr(obj);
    zset_iter it;
    zset_iter_init(&it, z, 0, false);
    const char *m;
    size_t len;
    double score;
    while (zset_iter_next(&it, &m, &len, &score)) {
        put_f64(bc->buf, score);
        put_str(bc->buf, m, len);
        bc->elements++;
    }
}

/* The element count a collection announces. */
static uint64_t collection_count(uint8_t type, aoff obj)
{
    switch (type) {
    case KV_LIST: return ((const list_root *)arena_ptr(obj))->count;
    case KV_HASH: return hash_len(obj);
    case KV_SET: return set_len(obj);
    case KV_ZSET: return ((const zset_obj *)arena_ptr(obj))->length;
    }
    return 0;
}

/* store_scan_step visitor: appends the record of one live entry to the batch. */
static void put_entry(kv_entry *e, void *ctx)
{
    batch_ctx *bc = ctx;
    snap_buf *b = bc->buf;
    int64_t expire = entry_expire(e);
    put_u8(b, e->type);
    put_u8(b, expire >= 0 ? SNAP_REC_EXPIRE : 0);
    put_u16(b, 0);
    put_u32(b, __atomic_load_n(&e->hits, __ATOMIC_RELAXED));
    if (expire >= 0)
        put_u64(b, (uint64_t)expire);
    put_str(b, entry_key(e), e->klen);
    if (e->type == KV_STRING) {
        put_str(b, entry_str(e), e->vlen);
    } else {
        aoff obj = entry_obj(e);
        size_t count_at = b->len;
        put_u64(b, collection_count(e->type, obj));
        bc->elements = 0;
        if (e->type == KV_LIST)
            put_list(bc, obj);
        else if (e->type == KV_HASH)
            hash_foreach(obj, visit_hash_pair, bc);
        else if (e->type == KV_SET)
            set_foreach(obj, visit_set_member, bc);
        else
            put_zset(bc, obj);
        if (!b->failed)
            store_u64(b->p + count_at, bc->elements);   /* what was really written */
    }
    bc->records++;
}

/* ---- the file ------------------------------------------------------------------------------ */

/* Writes all of p[0..n) at the file position; false with errno on failure. */
static bool write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n > 0) {
        ssize_t w = write(fd, c, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return false;
        }
        c += w;
        n -= (size_t)w;
    }
    return true;
}

/* fsyncs the directory holding path, so a rename into it is durable. */
static int fsync_parent_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    char dir[4096];
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == path)
        snprintf(dir, sizeof dir, "/");
    else
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

/* State of one snapshot being written. */
typedef struct snap_writer {
    int       fd;
    uint64_t  offset;          /* bytes written so far */
    uint64_t  sections;
    uint64_t  records;
    uint32_t  body_crc;        /* CRC32C of every section byte */
    snap_buf  buf;             /* the batch: section header room, then records */
    uint64_t  function_records; /* of w->records: the function libraries' (not keys) */
    persist_report *rep;
} snap_writer;

/* Fills the section header in front of the batch's records and writes the section.
 * Returns PERSIST_OK or PERSIST_E_IO. */
static int write_section(snap_writer *w, uint32_t shard_id, uint32_t records)
{
    char *h = w->buf.p;
    uint64_t payload = w->buf.len - SNAP_SECTION_BYTES;
    memcpy(h, SNAP_SECTION_TAG, 4);
    store_u32(h + 4, (uint32_t)w->sections);
    store_u32(h + 8, shard_id);
    store_u32(h + 12, records);
    store_u64(h + 16, payload);
    store_u32(h + 24, crc32c_update(0, h + SNAP_SECTION_BYTES, payload));
    store_u32(h + 28, crc32c_update(0, h, 28));
    if (!write_all(w->fd, h, w->buf.len)) {
        snprintf(w->rep->message, sizeof w->rep->message, "write failed: %s", strerror(errno));
        return PERSIST_E_IO;
    }
    w->body_crc = crc32c_update(w->body_crc, h, w->buf.len);
    w->offset += w->buf.len;
    w->sections++;
    w->records += records;
    return PERSIST_OK;
}

/* Serializes one batch of shard s from *cursor (one lock hold: at most
 * SNAP_BATCH_BUCKETS buckets, about SNAP_BATCH_BYTES of records or SNAP_BATCH_MAX_US
 * of work) and writes it as a section. *cursor becomes 0 when the shard is done.
 * Returns PERSIST_OK or an error. */
static int write_batch(snap_writer *w, kv_txn *t, uint32_t s, uint64_t *cursor)
{
    w->buf.len = 0;
    if (!buf_reserve(&w->buf, SNAP_SECTION_BYTES)) {
        snprintf(w->rep->message, sizeof w->rep->message, "out of process memory for a batch of shard %u", s);
        return PERSIST_E_NOMEM;
    }
    w->buf.len = SNAP_SECTION_BYTES;
    batch_ctx bc = { &w->buf, 0, 0 };
    uint64_t t0 = clock_mono_us(), held;
    txn_begin(t);
    txn_lock(t, s);
    unsigned steps = 0;
    do {
        *cursor = store_scan_step(t, s, *cursor, put_entry, &bc);
        held = ++steps % 16 ? 0 : clock_mono_us() - t0;
    } while (*cursor && steps < SNAP_BATCH_BUCKETS && w->buf.len < SNAP_BATCH_BYTES &&
             held < SNAP_BATCH_MAX_US);
    txn_commit(t);                     /* read only: nothing logged, nothing to fail */
    held = clock_mono_us() - t0;
    if (held > w->rep->max_lock_hold_us)
        w->rep->max_lock_hold_us = held;
    if (w->buf.failed) {
        snprintf(w->rep->message, sizeof w->rep->message, "out of process memory for a batch of shard %u", s);
        return PERSIST_E_NOMEM;
    }
    return bc.records ? write_section(w, s, bc.records) : PERSIST_OK;
}

/* Writes the function libraries as one record in a section of its own, when there is
 * any. Returns PERSIST_OK or an error. */
static int write_functions(snap_writer *w)
{
    fn_set s = { 0 };
    if (fnstore_read(&s) != 0) {
        snprintf(w->rep->message, sizeof w->rep->message, "cannot read the function libraries");
        return PERSIST_E_NOMEM;
    }
    int rc = PERSIST_OK;
    if (s.nlibs) {
        char *blob;
        size_t len = fnset_encode(&s, &blob);
        w->buf.len = 0;
        if (blob && buf_reserve(&w->buf, SNAP_SECTION_BYTES)) {
            w->buf.len = SNAP_SECTION_BYTES;
            put_u8(&w->buf, SNAP_TYPE_FUNCTIONS);
            put_u8(&w->buf, 0);
            put_u16(&w->buf, 0);
            put_u32(&w->buf, 0);
            put_str(&w->buf, "", 0);
            put_str(&w->buf, blob, len);
        }
        free(blob);
        if (!blob || w->buf.failed) {
            snprintf(w->rep->message, sizeof w->rep->message, "out of process memory for the function libraries");
            rc = PERSIST_E_NOMEM;
        } else {
            rc = write_section(w, SNAP_SHARD_FUNCTIONS, 1);
            w->function_records++;
        }
    }
    fnset_clear(&s);
    return rc;
}

/* Serializes every shard, one batch of each in turn: after releasing a shard the
 * writer takes another one, so a client waiting for that shard gets it instead of
 * losing the lock to the writer again and again. Returns PERSIST_OK or an error. */
static int write_shards(snap_writer *w, kv_txn *t, const volatile sig_atomic_t *cancel)
{
    uint32_t shards = arena_hdr()->shard_count, left = shards;
    uint64_t *cursor = calloc(shards, sizeof *cursor);
    bool *done = calloc(shards, sizeof *done);
    int rc = PERSIST_OK;
    if (!cursor || !done) {
        snprintf(w->rep->message, sizeof w->rep->message, "out of process memory");
        rc = PERSIST_E_NOMEM;
    }
    while (rc == PERSIST_OK && left > 0) {
        for (uint32_t s = 0; s < shards && rc == PERSIST_OK; s++) {
            if (done[s])
                continue;
            if (cancel && *cancel) {
                snprintf(w->rep->message, sizeof w->rep->message, "cancelled by shutdown");
                rc = PERSIST_E_CANCELLED;
                break;
            }
            rc = write_batch(w, t, s, &cursor[s]);
            if (cursor[s] == 0) {
                done[s] = true;
                left--;
            }
        }
    }
    free(cursor);
    free(done);
    return rc;
}

/* Writes the footer and then the real header over the placeholder. */
static int write_header_footer(snap_writer *w, int64_t created_ms)
{
    char f[SNAP_FOOTER_BYTES];
    memset(f, 0, sizeof f);
    memcpy(f, SNAP_FOOTER_TAG, 4);
    store_u64(f + 8, w->sections);
    store_u64(f + 16, w->records);
    store_u32(f + 24, w->body_crc);
    store_u32(f + 28, crc32c_update(0, f, 28));
    char h[SNAP_HEADER_BYTES];
    memset(h, 0, sizeof h);
    memcpy(h, SNAP_MAGIC, 8);
    store_u32(h + 8, SNAP_VERSION);
    store_u64(h + 16, (uint64_t)created_ms);
    store_u64(h + 24, w->sections);
    store_u32(h + 32, arena_hdr()->shard_count);
    store_u32(h + 36, crc32c_update(0, h, 36));
    if (!write_all(w->fd, f, sizeof f) || pwrite(w->fd, h, sizeof h, 0) != (ssize_t)sizeof h) {
        snprintf(w->rep->message, sizeof w->rep->message, "write failed: %s", strerror(errno));
        return PERSIST_E_IO;
    }
    w->offset += sizeof f;
    return PERSIST_OK;
}

/* Writes the snapshot file: .tmp, sections, footer, header, fsync, rename, dir fsync. */
int persist_write(const char *path, kv_txn *t, const volatile sig_atomic_t *cancel,
                  persist_report *rep)
{
    memset(rep, 0, sizeof *rep);
    rep->section = -1;
    char tmp[4200];
    if (!persist_tmp_path(path, tmp, sizeof tmp)) {
        snprintf(rep->message, sizeof rep->message, "path too long");
        return rep->error = PERSIST_E_IO;
    }
    if (persist_make_dirs(path, rep->message, sizeof rep->message) != 0)
        return rep->error = PERSIST_E_IO;
    int64_t created_ms = clock_wall_ms();
    snap_writer w = { .rep = rep };
    w.fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (w.fd < 0) {
        snprintf(rep->message, sizeof rep->message, "cannot create the temporary file (.tmp): %s", strerror(errno));
        return rep->error = PERSIST_E_IO;
    }
    int rc = PERSIST_OK;
    char zero[SNAP_HEADER_BYTES] = { 0 };
    if (fchmod(w.fd, 0600) != 0 || !write_all(w.fd, zero, sizeof zero)) {
        snprintf(rep->message, sizeof rep->message, "cannot write the temporary file (.tmp): %s", strerror(errno));
        rc = PERSIST_E_IO;
    }
    w.offset = SNAP_HEADER_BYTES;
    if (rc == PERSIST_OK)
        rc = write_functions(&w);
    if (rc == PERSIST_OK)
        rc = write_shards(&w, t, cancel);
    if (rc == PERSIST_OK)
        rc = write_header_footer(&w, created_ms);
    if (rc == PERSIST_OK && fsync(w.fd) != 0) {
        snprintf(rep->message, sizeof rep->message, "fsync of the temporary file failed: %s", strerror(errno));
        rc = PERSIST_E_IO;
    }
    if (close(w.fd) != 0 && rc == PERSIST_OK) {
        snprintf(rep->message, sizeof rep->message, "close of the temporary file failed: %s", strerror(errno));
        rc = PERSIST_E_IO;
    }
    free(w.buf.p);
    if (rc == PERSIST_OK && rename(tmp, path) != 0) {
        snprintf(rep->message, sizeof rep->message, "rename of the temporary file over the snapshot failed: %s", strerror(errno));
        rc = PERSIST_E_IO;
    }
    if (rc != PERSIST_OK) {
        unlink(tmp);
        return rep->error = rc;
    }
    if (fsync_parent_dir(path) != 0) {
        /* the data is in place; only the rename's durability is in doubt */
        snprintf(rep->message, sizeof rep->message, "fsync of the directory failed: %s", strerror(errno));
        return rep->error = PERSIST_E_IO;
    }
    rep->keys = w.records - w.function_records;
    rep->sections = w.sections;
    rep->bytes = w.offset;
    rep->created_ms = created_ms;
    return PERSIST_OK;
}
