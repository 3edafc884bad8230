/* unit_persist.c - snapshot files: a round trip of every type (TTLs, namespaces, hit
 * counters, every encoding, collections larger than a load chunk) into a fresh arena
 * of a fresh process; expired keys dropped at load; refusal of a file truncated at
 * every byte, of a flipped byte anywhere, of a wrong magic or version, with the right
 * error, offset and section and without touching the file; the writer's durability
 * rules (mode 0600, directories 0700, no .tmp left, a writer killed midway leaves the
 * previous snapshot intact); cancellation; and the housekeeper's request/serve cycle.
 *
 * The round trip loads in a child process started as `<this binary> --child-load FILE
 * OUT` (a fresh arena with fresh namespace registry), which writes a canonical text
 * dump of its store that the parent compares with the dump of the original. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "kvns/alloc.h"
#include "kvns/hash.h"
#include "kvns/list.h"
#include "kvns/persist.h"
#include "kvns/set.h"
#include "kvns/shard.h"
#include "kvns/store.h"
#include "kvns/zset.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SHARDS 8
#define LANES  4

static kv_txn txn;
static char tmpdir[256];
static char snap_path[512];

/* ---- arena and store helpers ---------------------------------------------------------- */

/* Creates the arena (once per process) and registers the collection types. */
static void arena_setup(void)
{
    static int fd = -1;
    if (fd >= 0)
        return;
    arena_params p = { .memory_limit = 512u << 20, .shard_count = SHARDS, .lane_count = LANES,
                       .undo_bytes = 16u << 20 };
    if (arena_create(&p, &fd) != 0) {
        fprintf(stderr, "arena_create: %s\n", strerror(errno));
        exit(1);
    }
    txn_init(&txn, 0);
    store_register_type(KV_LIST, &list_type_ops);
    store_register_type(KV_HASH, &hash_type_ops);
    store_register_type(KV_SET, &set_type_ops);
    store_register_type(KV_ZSET, &zset_type_ops);
}

/* Every test starts from an empty store and a fresh temporary directory. */
static int setup(void **state)
{
    (void)state;
    arena_setup();
    for (uint32_t s = 0; s < SHARDS; s++) {
        txn_begin(&txn);
        txn_lock(&txn, s);
        store_flush_shard(&txn, s);
        assert_int_equal(txn_commit(&txn), TXN_OK);
    }
    snprintf(tmpdir, sizeof tmpdir, "/tmp/kvns-unit-persist-%d-XXXXXX", (int)getpid());
    assert_non_null(mkdtemp(tmpdir));
    snprintf(snap_path, sizeof snap_path, "%s/sub/dir/dump.kvns", tmpdir);
    return 0;
}

/* Removes the temporary directory tree. */
static int teardown(void **state)
{
    (void)state;
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", tmpdir);
    return 0;
}

/* Wall clock, unix milliseconds. */
static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Fails the test unless the store passes its consistency checker. */
static void check_store(void)
{
    char err[256] = "";
    if (store_check(&txn, err, sizeof err) != 0)
        fail_msg("store_check: %s", err);
}

/* Opens a transaction on key's shard; fills k. */
static void begin_key(kv_key *k, const char *key)
{
    key_init(k, key, strlen(key));
    txn_begin(&txn);
    txn_lock(&txn, k->shard);
}

/* Commits the open transaction, which must succeed. */
static void commit(void) { assert_int_equal(txn_commit(&txn), TXN_OK); }

/* Sets a string key (expire: unix ms, -1 none). */
static void put_string(const char *key, const void *val, size_t len, int64_t expire)
{
    kv_key k;
    begin_key(&k, key);
    assert_int_equal(store_put_string(&txn, &k, val, len, expire, NULL), STORE_OK);
    commit();
}

/* Reads key n times (hit counter). */
static void read_key(const char *key, int n)
{
    for (int i = 0; i < n; i++) {
        kv_key k;
        begin_key(&k, key);
        assert_non_null(store_find_read(&txn, &k));
        commit();
    }
}

/* Pushes n elements "prefix-i" (every 7th one long) at the tail of list key. */
static void make_list(const char *key, int n, int64_t expire)
{
    kv_key k;
    begin_key(&k, key);
    aoff root = list_create(&txn, k.shard);
    list_h h;
    list_bind(&h, &txn, k.shard, NULL, root);
    char buf[200];
    for (int i = 0; i < n; i++) {
        int len = snprintf(buf, sizeof buf, "%s-%d%s", key, i, i % 7 ? "" : "-a-longer-element-with-more-bytes-in-it");
        assert_true(list_push(&h, true, buf, (size_t)len));
    }
    assert_int_equal(store_put_object(&txn, &k, KV_LIST, root, expire, NULL), STORE_OK);
    commit();
}

/* Sets n fields f<i> = v<i> (vlen bytes when vlen > 0) in hash key. */
static void make_hash(const char *key, int n, size_t vlen, int64_t expire)
{
    kv_key k;
    begin_key(&k, key);
    aoff obj = hash_new(&txn, k.shard);
    for (int i = 0; i < n; i++) {
        char f[32], v[256];
        int fl = snprintf(f, sizeof f, "f%d", i);
        size_t vl = vlen ? vlen : (size_t)snprintf(v, sizeof v, "v%d", i);
        if (vlen)
            memset(v, 'a' + i % 26, vlen);
        hs_str kv[2] = { { f, (size_t)fl }, { v, vl } };
        assert_true(hash_set(&txn, k.shard, NULL, obj, kv, 1, false, false) >= 0);
    }
    assert_int_equal(store_put_object(&txn, &k, KV_HASH, obj, expire, NULL), STORE_OK);
    commit();
}

/* Adds n members (integers when numeric, else "m<i>") to set key. */
static void make_set(const char *key, int n, bool numeric, int64_t expire)
{
    kv_key k;
    begin_key(&k, key);
    char first[32];
    int fl = numeric ? snprintf(first, sizeof first, "%d", 0) : snprintf(first, sizeof first, "m0");
    aoff obj = set_new(&txn, k.shard, set_initial_encoding((hs_str){ first, (size_t)fl }, (size_t)n));
    for (int i = 0; i < n; i++) {
        char m[32];
        int ml = numeric ? snprintf(m, sizeof m, "%d", i * 3 - 50) : snprintf(m, sizeof m, "m%d", i);
        hs_str s = { m, (size_t)ml };
        assert_true(set_add(&txn, k.shard, NULL, obj, &s, 1) >= 0);
    }
    assert_int_equal(store_put_object(&txn, &k, KV_SET, obj, expire, NULL), STORE_OK);
    commit();
}

/* Adds n members with scores (some equal, some negative, one infinite) to zset key. */
static void make_zset(const char *key, int n, int64_t expire)
{
    kv_key k;
    begin_key(&k, key);
    aoff root = zset_create(&txn, k.shard);
    zset_obj *z = arena_ptr(root);
    for (int i = 0; i < n; i++) {
        char m[32];
        int ml = snprintf(m, sizeof m, "z%d", i);
        double score = i == 0 ? -1.0 / 0.0 : (double)(i % 10) - 4.5 + (i % 3) * 0.1;
        int out;
        double ns;
        assert_int_equal(zset_add(&txn, k.shard, NULL, z, score, m, (size_t)ml, 0, &out, &ns), 1);
    }
    assert_int_equal(store_put_object(&txn, &k, KV_ZSET, root, expire, NULL), STORE_OK);
    commit();
}

/* ---- a canonical text dump of the store ------------------------------------------------ */

typedef struct strv {
    char **v;
    size_t n, cap;
} strv;

/* Appends a malloc'd string to a growable array. */
static void strv_push(strv *s, char *str)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 64;
        s->v = realloc(s->v, s->cap * sizeof *s->v);
        assert_non_null(s->v);
    }
    s->v[s->n++] = str;
}

/* qsort order of C strings. */
static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Hex text of p[0..n) (binary safe and comparable). */
static char *hex(const char *p, size_t n)
{
    char *out = malloc(2 * n + 1);
    assert_non_null(out);
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", (unsigned char)p[i]);
    out[2 * n] = 0;
    return out;
}

/* hash_foreach visitor: one "field=value" item (hex). */
static void visit_hash(hs_str f, hs_str v, void *ctx)
{
    char *a = hex(f.p, f.len), *b = hex(v.p, v.len), *line;
    assert_true(asprintf(&line, "%s=%s", a, b) > 0);
    strv_push(ctx, line);
    free(a);
    free(b);
}

/* set_foreach visitor: one member item (hex). */
static void visit_set(hs_str m, void *ctx) { strv_push(ctx, hex(m.p, m.len)); }

/* Appends the items of s (sorted when `sort`) to f, and frees them. */
static void emit_items(FILE *f, strv *s, bool sort)
{
    if (sort && s->n)
        qsort(s->v, s->n, sizeof *s->v, cmp_str);
    for (size_t i = 0; i < s->n; i++) {
        fprintf(f, " %s", s->v[i]);
        free(s->v[i]);
    }
    free(s->v);
}

/* store_foreach visitor: one line per key. */
static void dump_entry(kv_entry *e, void *ctx)
{
    char *line = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&line, &len);
    char *key = hex(entry_key(e), e->klen);
    uint32_t nslen;
    const char *ns = ns_name(e->nsid, &nslen);
    fprintf(f, "%s ns=%.*s type=%u expire=%lld hits=%u:", key, (int)nslen, ns, e->type,
            (long long)entry_expire(e), e->hits);
    free(key);
    strv items = { 0 };
    aoff obj = e->type == KV_STRING ? 0 : entry_obj(e);
    if (e->type == KV_STRING) {
        strv_push(&items, hex(entry_str(e), e->vlen));
    } else if (e->type == KV_LIST) {
        list_pos pos;
        if (list_seek(arena_ptr(obj), 0, &pos)) {
            do {
                list_elem el = list_get(&pos);
                strv_push(&items, hex(el.p, el.n));
            } while (list_next(&pos));
        }
    } else if (e->type == KV_HASH) {
        hash_foreach(obj, visit_hash, &items);
    } else if (e->type == KV_SET) {
        set_foreach(obj, visit_set, &items);
    } else {
        zset_iter it;
        zset_iter_init(&it, arena_ptr(obj), 0, false);
        const char *m;
        size_t ml;
        double score;
        while (zset_iter_next(&it, &m, &ml, &score)) {
            char *mh = hex(m, ml), *item;
            assert_true(asprintf(&item, "%.17g/%s", score, mh) > 0);
            free(mh);
            strv_push(&items, item);
        }
    }
    emit_items(f, &items, e->type == KV_HASH || e->type == KV_SET);
    fclose(f);
    strv_push(ctx, line);
}

/* The whole store as sorted text lines (malloc'd). */
static char *dump_store(void)
{
    strv lines = { 0 };
    for (uint32_t s = 0; s < SHARDS; s++) {
        txn_begin(&txn);
        txn_lock(&txn, s);
        store_foreach(&txn, s, dump_entry, &lines);
        txn_commit(&txn);
    }
    if (lines.n)
        qsort(lines.v, lines.n, sizeof *lines.v, cmp_str);
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    for (size_t i = 0; i < lines.n; i++) {
        fprintf(f, "%s\n", lines.v[i]);
        free(lines.v[i]);
    }
    free(lines.v);
    fclose(f);
    return out;
}

/* ---- files -------------------------------------------------------------------------------- */

/* Reads a whole file (malloc'd); *len set. */
static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = 0;
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* Writes p[0..n) as the whole file at path. */
static void write_file(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

/* Writes the current store to snap_path and checks the writer's report. */
static void write_snapshot(void)
{
    persist_report rep;
    int rc = persist_write(snap_path, &txn, NULL, &rep);
    if (rc != PERSIST_OK)
        fail_msg("persist_write: %s: %s", persist_error_name(rc), rep.message);
}

/* Path of this test binary, for the child-load mode. */
static char self_exe[1024];

/* Loads path in a fresh process (fresh arena) and returns its dump (malloc'd), or
 * NULL when the load failed; *exit_code gets the child's status. */
static char *load_in_child(const char *path, int *exit_code)
{
    char out[600];
    snprintf(out, sizeof out, "%s/child-dump.txt", tmpdir);
    unlink(out);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        execl(self_exe, self_exe, "--child-load", path, out, (char *)NULL);
        _exit(127);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    *exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    size_t len;
    return *exit_code == 0 ? read_file(out, &len) : NULL;
}

/* Child-load mode: fresh arena, load, check, dump. Exit 0, or 10 + the load error. */
static int child_load_main(const char *path, const char *out)
{
    arena_setup();
    persist_report rep;
    bool missing = false;
    int rc = persist_load(path, &txn, &rep, &missing);
    if (rc != PERSIST_OK || missing) {
        fprintf(stderr, "child load: %s: %s\n", persist_error_name(rc), rep.message);
        return 10 + rc;
    }
    char err[256];
    if (store_check(&txn, err, sizeof err) != 0) {
        fprintf(stderr, "child load: store_check: %s\n", err);
        return 3;
    }
    char *dump = dump_store();
    FILE *f = fopen(out, "w");
    if (!f)
        return 4;
    fputs(dump, f);
    fclose(f);
    free(dump);
    return 0;
}

/* ---- tests ------------------------------------------------------------------------------- */

/* Fills the store with every type and encoding, TTLs, namespaces, hits, binary data. */
static void fill_everything(int64_t ttl_base)
{
    put_string("plain", "value", 5, -1);
    put_string("empty", "", 0, -1);
    put_string("ns1/str", "in a namespace", 14, ttl_base + 3600000);
    put_string("default/a/b", "default with a slash", 20, -1);
    put_string("ns2/bin", "\0\r\n\xff\x01zero", 10, -1);
    char *big = malloc(300000);
    for (int i = 0; i < 300000; i++)
        big[i] = (char)(i * 7);
    put_string("ns2/big", big, 300000, ttl_base + 7200000);
    free(big);
    read_key("plain", 5);
    read_key("ns1/str", 2);
    make_list("l/small", 3, -1);
    make_list("l/big", 5000, ttl_base + 100000);          /* several load chunks */
    make_hash("h/compact", 5, 0, -1);
    make_hash("h/table", 3000, 0, ttl_base + 50000);
    make_hash("h/longvalues", 4, 100, -1);                 /* hashtable by value length */
    make_set("s/ints", 20, true, -1);
    make_set("s/strs", 10, false, -1);
    make_set("s/table", 2500, false, -1);
    make_set("s/bigints", 1500, true, ttl_base + 600000);
    make_zset("z/compact", 10, -1);
    make_zset("z/skiplist", 3000, ttl_base + 9000000);
    read_key("z/skiplist", 3);
    read_key("l/big", 1);
    /* many small keys over every shard */
    for (int i = 0; i < 2000; i++) {
        char key[32], val[32];
        snprintf(key, sizeof key, "%s/k%d", i % 3 ? "many" : "default", i);
        int n = snprintf(val, sizeof val, "v%d", i);
        put_string(key, val, (size_t)n, i % 5 ? -1 : ttl_base + 600000 + i);
    }
}

/* Every type round-trips through a file into a fresh arena: same keys, namespaces,
 * values, TTLs and hit counters; the loaded store passes the checker. */
static void test_round_trip_every_type(void **state)
{
    (void)state;
    fill_everything(wall_ms());
    check_store();
    char *before = dump_store();
    write_snapshot();
    int code;
    char *after = load_in_child(snap_path, &code);
    assert_int_equal(code, 0);
    assert_non_null(after);
    if (strcmp(before, after) != 0) {
        write_file("/tmp/kvns-unit-persist-before.txt", before, strlen(before));
        write_file("/tmp/kvns-unit-persist-after.txt", after, strlen(after));
        fail_msg("the loaded store differs (dumps in /tmp/kvns-unit-persist-{before,after}.txt)");
    }
    free(before);
    free(after);
}

/* An empty store gives a valid header+footer file that loads as empty. */
static void test_empty_store(void **state)
{
    (void)state;
    write_snapshot();
    persist_report rep;
    assert_int_equal(persist_verify(snap_path, &rep), PERSIST_OK);
    assert_int_equal(rep.sections, 0);
    assert_int_equal(rep.bytes, SNAP_HEADER_BYTES + SNAP_FOOTER_BYTES);
    int code;
    char *after = load_in_child(snap_path, &code);
    assert_int_equal(code, 0);
    assert_string_equal(after, "");
    free(after);
}

/* Keys whose TTL passes between the write and the load are dropped and counted. */
static void test_expired_dropped_at_load(void **state)
{
    (void)state;
    int64_t now = wall_ms();
    put_string("stays", "1", 1, now + 3600000);
    put_string("ns/goes", "1", 1, now + 400);
    make_list("ns/goes-list", 2000, now + 400);
    make_zset("goes-zset", 300, now + 400);
    write_snapshot();
    usleep(600 * 1000);
    for (uint32_t s = 0; s < SHARDS; s++) {
        txn_begin(&txn);
        txn_lock(&txn, s);
        store_flush_shard(&txn, s);
        commit();
    }
    persist_report rep;
    bool missing = true;
    assert_int_equal(persist_load(snap_path, &txn, &rep, &missing), PERSIST_OK);
    assert_false(missing);
    assert_int_equal(rep.keys, 1);
    assert_int_equal(rep.expired, 3);
    assert_int_equal(store_keys(), 1);
    check_store();
}

/* The writer: directories 0700, file 0600, no .tmp left; a missing file loads as
 * "missing" without error. */
static void test_writer_files(void **state)
{
    (void)state;
    persist_report rep;
    bool missing = false;
    assert_int_equal(persist_load(snap_path, &txn, &rep, &missing), PERSIST_OK);
    assert_true(missing);
    umask(0);
    put_string("k", "v", 1, -1);
    write_snapshot();
    umask(022);
    struct stat st;
    assert_int_equal(stat(snap_path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    char dir[600];
    snprintf(dir, sizeof dir, "%s/sub/dir", tmpdir);
    assert_int_equal(stat(dir, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    snprintf(dir, sizeof dir, "%s/sub", tmpdir);
    assert_int_equal(stat(dir, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s.tmp", snap_path);
    assert_int_equal(access(tmp, F_OK), -1);
    /* a parent that is a file: an I/O error, nothing written */
    char bad[600];
    snprintf(bad, sizeof bad, "%s/sub/dir/dump.kvns/x/dump.kvns", tmpdir);
    assert_int_equal(persist_write(bad, &txn, NULL, &rep), PERSIST_E_IO);
}

/* Section boundaries of a valid file: start offsets of each section and of the footer. */
static size_t section_starts(const unsigned char *p, size_t size, size_t *starts, size_t max)
{
    uint64_t count;
    memcpy(&count, p + 24, 8);
    size_t pos = SNAP_HEADER_BYTES, n = 0;
    for (uint64_t i = 0; i < count && n < max; i++) {
        starts[n++] = pos;
        uint64_t payload;
        memcpy(&payload, p + pos + 16, 8);
        pos += SNAP_SECTION_BYTES + payload;
    }
    assert_true(pos + SNAP_FOOTER_BYTES == size);
    starts[n] = pos;            /* the footer */
    return n;
}

/* Index of the section holding byte offset off (-1: header or footer). */
static int64_t section_of(const size_t *starts, size_t n, size_t off)
{
    for (size_t i = 0; i < n; i++)
        if (off >= starts[i] && off < starts[i + 1])
            return (int64_t)i;
    return -1;
}

/* Fills a small store spread over several sections (a few keys per shard). */
static void fill_small(void)
{
    int64_t now = wall_ms();
    put_string("a", "1", 1, -1);
    put_string("ns/b", "two", 3, now + 100000);
    make_list("ns/l", 3, -1);
    make_hash("h", 2, 0, -1);
    make_set("s", 3, true, -1);
    make_zset("z", 3, -1);
    put_string("c", "3", 1, -1);
    put_string("d", "4", 1, -1);
}

/* Cut at every byte boundary: refused as truncated, with the file's end as offset and
 * the section the cut falls in; the file is not modified and nothing is loaded. */
static void test_truncated_at_every_byte(void **state)
{
    (void)state;
    fill_small();
    write_snapshot();
    size_t size;
    unsigned char *orig = (unsigned char *)read_file(snap_path, &size);
    size_t starts[64];
    size_t nsec = section_starts(orig, size, starts, 63);
    assert_true(nsec >= 3);
    for (uint32_t s = 0; s < SHARDS; s++) {   /* loads must not add anything */
        txn_begin(&txn);
        txn_lock(&txn, s);
        store_flush_shard(&txn, s);
        commit();
    }
    char cut[600];
    snprintf(cut, sizeof cut, "%s/cut.kvns", tmpdir);
    for (size_t len = 0; len < size; len++) {
        write_file(cut, orig, len);
        persist_report rep;
        bool missing;
        int rc = persist_load(cut, &txn, &rep, &missing);
        if (rc != PERSIST_E_TRUNCATED)
            fail_msg("cut at %zu of %zu: %s (%s), expected truncated", len, size, persist_error_name(rc),
                     rep.message);
        assert_int_equal(rep.offset, len);
        /* the header and the footer are section -1; a cut at a section's first byte is
         * in that section (its header is missing) */
        int64_t want = section_of(starts, nsec, len);
        if (rep.section != want)
            fail_msg("cut at %zu: section %lld, expected %lld (%s)", len, (long long)rep.section, (long long)want,
                     rep.message);
        assert_int_equal(store_keys(), 0);
        size_t now_len;
        char *now_data = read_file(cut, &now_len);
        assert_int_equal(now_len, len);
        assert_memory_equal(now_data, orig, len);
        free(now_data);
    }
    free(orig);
}

/* A flipped byte anywhere is refused: in a section as a checksum error naming that
 * section, in the header as bad magic / version / checksum, in the footer as a
 * checksum error. */
static void test_flipped_byte_everywhere(void **state)
{
    (void)state;
    fill_small();
    write_snapshot();
    size_t size;
    unsigned char *orig = (unsigned char *)read_file(snap_path, &size);
    size_t starts[64];
    size_t nsec = section_starts(orig, size, starts, 63);
    char bad[600];
    snprintf(bad, sizeof bad, "%s/flipped.kvns", tmpdir);
    unsigned char *copy = malloc(size);
    for (size_t off = 0; off < size; off++) {
        memcpy(copy, orig, size);
        copy[off] ^= 0x20;
        write_file(bad, copy, size);
        persist_report rep;
        int rc = persist_verify(bad, &rep);
        int want = PERSIST_E_CRC;
        if (off < 8)
            want = PERSIST_E_MAGIC;
        else if (off < 12)
            want = PERSIST_E_VERSION;
        if (rc != want)
            fail_msg("byte %zu flipped: %s (%s), expected %s", off, persist_error_name(rc), rep.message,
                     persist_error_name(want));
        int64_t sec = off < SNAP_HEADER_BYTES ? -1 : section_of(starts, nsec, off);
        assert_int_equal(rep.section, sec);
    }
    free(copy);
    free(orig);
}

/* A version this kvns does not know (with a valid header checksum) is refused as
 * such; so are a wrong magic and trailing bytes. The file stays as it was. */
static void test_wrong_version_and_magic(void **state)
{
    (void)state;
    put_string("a", "1", 1, -1);
    write_snapshot();
    size_t size;
    unsigned char *p = (unsigned char *)read_file(snap_path, &size);
    uint32_t v = 2;
    memcpy(p + 8, &v, 4);
    uint32_t crc = crc32c_update(0, p, 36);
    memcpy(p + 36, &crc, 4);
    write_file(snap_path, p, size);
    struct stat before, after;
    assert_int_equal(stat(snap_path, &before), 0);
    persist_report rep;
    bool missing;
    assert_int_equal(persist_load(snap_path, &txn, &rep, &missing), PERSIST_E_VERSION);
    assert_int_equal(rep.offset, 8);
    assert_non_null(strstr(rep.message, "version 2"));
    assert_int_equal(stat(snap_path, &after), 0);
    assert_int_equal(before.st_mtim.tv_sec, after.st_mtim.tv_sec);
    assert_int_equal(before.st_mtim.tv_nsec, after.st_mtim.tv_nsec);
    size_t len2;
    char *again = read_file(snap_path, &len2);
    assert_int_equal(len2, size);
    assert_memory_equal(again, p, size);
    free(again);
    write_file(snap_path, "REDIS0011 and more bytes than a header needs to be", 50);
    assert_int_equal(persist_verify(snap_path, &rep), PERSIST_E_MAGIC);
    assert_int_equal(rep.offset, 0);
    free(p);
    /* bytes after the footer */
    write_snapshot();
    char *good = read_file(snap_path, &size);
    good = realloc(good, size + 3);
    memcpy(good + size, "xyz", 3);
    write_file(snap_path, good, size + 3);
    assert_int_equal(persist_verify(snap_path, &rep), PERSIST_E_FORMAT);
    assert_int_equal(rep.offset, size);
    free(good);
}

/* Replaces the length-prefixed string `from` by `to` (same length) in the snapshot
 * image p, then recomputes every section's and the footer's checksums, so that the
 * record parser, not a checksum, has to find what is wrong. */
static void patch_member(unsigned char *p, size_t size, const char *from, const char *to)
{
    size_t n = strlen(from);
    assert_int_equal(strlen(to), n);
    unsigned char pattern[64];
    uint32_t len = (uint32_t)n;
    memcpy(pattern, &len, 4);
    memcpy(pattern + 4, from, n);
    unsigned char *at = memmem(p, size, pattern, n + 4);
    assert_non_null(at);
    memcpy(at + 4, to, n);
    size_t starts[64];
    size_t sections = section_starts(p, size, starts, 63);
    uint32_t body = 0;
    for (size_t i = 0; i < sections; i++) {
        unsigned char *h = p + starts[i];
        uint64_t payload;
        memcpy(&payload, h + 16, 8);
        uint32_t crc = crc32c_update(0, h + SNAP_SECTION_BYTES, payload);
        memcpy(h + 24, &crc, 4);
        crc = crc32c_update(0, h, 28);
        memcpy(h + 28, &crc, 4);
        body = crc32c_update(body, h, SNAP_SECTION_BYTES + payload);
    }
    unsigned char *f = p + starts[sections];
    memcpy(f + 24, &body, 4);
    uint32_t crc = crc32c_update(0, f, 28);
    memcpy(f + 28, &crc, 4);
}

/* Writes a snapshot of the store, turns member `from` into a second `to` and expects
 * verification and loading to refuse the file naming `what`, with the file untouched. */
static void expect_duplicate_refused(const char *from, const char *to, const char *what)
{
    write_snapshot();
    size_t size;
    unsigned char *p = (unsigned char *)read_file(snap_path, &size);
    patch_member(p, size, from, to);
    write_file(snap_path, p, size);
    persist_report rep;
    assert_int_equal(persist_verify(snap_path, &rep), PERSIST_E_FORMAT);
    if (!strstr(rep.message, what) || !strstr(rep.message, "appears twice"))
        fail_msg("expected a message naming %s twice, got: %s", what, rep.message);
    assert_true(rep.section >= 0 && rep.offset >= SNAP_HEADER_BYTES && rep.offset < size);
    bool missing;
    assert_int_equal(persist_load(snap_path, &txn, &rep, &missing), PERSIST_E_FORMAT);
    size_t len2;
    char *again = read_file(snap_path, &len2);
    assert_int_equal(len2, size);
    assert_memory_equal(again, p, size);
    free(again);
    free(p);
}

/* A hash field, set member or sorted-set member present twice in a record (with valid
 * checksums) is refused at load; a list may repeat an element. The sorted-set case has
 * the copies at different scores, so only the duplicate check can see it. */
static void test_duplicate_members_refused(void **state)
{
    (void)state;
    make_hash("h", 3, 0, -1);
    expect_duplicate_refused("f1", "f0", "hash field 'f0' of key 'h'");
    teardown(NULL);
    setup(NULL);
    make_set("s", 3, false, -1);
    expect_duplicate_refused("m2", "m0", "set member 'm0' of key 's'");
    teardown(NULL);
    setup(NULL);
    make_zset("z", 3, -1);              /* z0 at -inf, z1 at -3.4, z2 at -2.3 */
    expect_duplicate_refused("z2", "z0", "sorted-set member 'z0' of key 'z'");
    teardown(NULL);
    setup(NULL);
    make_list("l", 3, -1);              /* l-0 (long), l-1, l-2 */
    write_snapshot();
    size_t size;
    unsigned char *p = (unsigned char *)read_file(snap_path, &size);
    patch_member(p, size, "l-2", "l-1");
    write_file(snap_path, p, size);
    free(p);
    persist_report rep;
    assert_int_equal(persist_verify(snap_path, &rep), PERSIST_OK);
}

/* persist_startup (the supervisor's call) refuses a corrupt file and leaves it as it
 * was (content and mtime); a good one loads. */
static void test_startup_refuses_corrupt(void **state)
{
    (void)state;
    fill_small();
    write_snapshot();
    size_t size;
    unsigned char *p = (unsigned char *)read_file(snap_path, &size);
    p[size / 2] ^= 1;
    write_file(snap_path, p, size);
    struct stat before, after;
    assert_int_equal(stat(snap_path, &before), 0);
    static kvns_config cfg;
    snprintf(cfg.persist_path, sizeof cfg.persist_path, "%s", snap_path);
    cfg.persist_interval = 300;
    assert_int_equal(persist_startup(&cfg, LANES - 1), -1);
    assert_int_equal(stat(snap_path, &after), 0);
    assert_int_equal(before.st_mtim.tv_nsec, after.st_mtim.tv_nsec);
    assert_int_equal(before.st_size, after.st_size);
    size_t len2;
    char *again = read_file(snap_path, &len2);
    assert_memory_equal(again, p, size);
    free(again);
    p[size / 2] ^= 1;
    write_file(snap_path, p, size);
    assert_int_equal(persist_startup(&cfg, LANES - 1), 0);
    free(p);
    check_store();
}

/* A cancelled write leaves neither the file nor a .tmp; a writer killed midway leaves
 * the previous snapshot complete and loadable. */
static void test_cancel_and_killed_writer(void **state)
{
    (void)state;
    for (int i = 0; i < 20000; i++) {
        char key[32];
        snprintf(key, sizeof key, "key%d", i);
        put_string(key, "some value bytes", 16, -1);
    }
    static volatile sig_atomic_t cancel = 1;
    persist_report rep;
    assert_int_equal(persist_write(snap_path, &txn, &cancel, &rep), PERSIST_E_CANCELLED);
    assert_int_equal(access(snap_path, F_OK), -1);
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s.tmp", snap_path);
    assert_int_equal(access(tmp, F_OK), -1);
    write_snapshot();
    size_t size;
    char *good = read_file(snap_path, &size);
    for (int delay_us = 0; delay_us <= 4000; delay_us += 500) {
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            kv_txn child;
            txn_init(&child, 1);
            persist_write(snap_path, &child, NULL, &rep);
            _exit(0);
        }
        usleep((useconds_t)delay_us);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        lane_sweep(1);                          /* it may have died holding a shard lock */
        assert_int_equal(persist_verify(snap_path, &rep), PERSIST_OK);
        assert_int_equal(rep.bytes, size);
    }
    free(good);
    check_store();
}

/* The loader's transactions are crash-atomic like any mutation: a loading process
 * killed at every undo record leaves a store that recovers (lane_sweep) and passes the
 * checker, each key either absent or whole as far as its committed chunks go. */
static void test_crash_during_load(void **state)
{
    (void)state;
    make_list("l", 3000, -1);
    make_hash("h", 1500, 0, -1);
    make_set("s", 1500, false, -1);
    make_zset("z", 1500, -1);
    put_string("str", "v", 1, -1);
    write_snapshot();
    for (long kill_at = 1; kill_at < 4000; kill_at += kill_at < 64 ? 1 : 97) {
        for (uint32_t s = 0; s < SHARDS; s++) {
            txn_begin(&txn);
            txn_lock(&txn, s);
            store_flush_shard(&txn, s);
            commit();
        }
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            kv_txn child;
            txn_init(&child, 1);
            txn_kill_after_records = kill_at;
            persist_report rep;
            bool missing;
            persist_load(snap_path, &child, &rep, &missing);
            _exit(0);
        }
        int st;
        waitpid(pid, &st, 0);
        lane_sweep(1);
        assert_int_equal(lanes_busy(), 0);
        check_store();
        if (WIFEXITED(st))
            break;                              /* the load finished before the kill point */
    }
}

/* The housekeeper's cycle in one process: a request is served by the next tick, the
 * waiter sees success, the statistics move, changes reset. */
static void test_request_and_serve(void **state)
{
    (void)state;
    static kvns_config cfg;
    snprintf(cfg.persist_path, sizeof cfg.persist_path, "%s", snap_path);
    cfg.persist_interval = 3600;
    assert_int_equal(persist_init(&cfg, 1000), 0);
    persist_housekeeper_start();
    persist_stats st;
    persist_stats_read(&st);
    assert_true(st.enabled);
    assert_int_equal(st.last_save_ms, 1000);
    assert_int_equal(st.saves_ok, 0);
    put_string("x", "1", 1, -1);
    put_string("y", "2", 1, -1);
    persist_stats_read(&st);
    assert_int_equal(st.changes, 2);
    persist_housekeeper_tick(&txn, NULL);        /* not due, nothing requested */
    persist_stats_read(&st);
    assert_int_equal(st.saves_ok, 0);
    uint64_t ticket = persist_request();
    persist_housekeeper_tick(&txn, NULL);
    char err[256];
    assert_int_equal(persist_wait(ticket, err, sizeof err), 1);
    persist_stats_read(&st);
    assert_int_equal(st.saves_ok, 1);
    assert_int_equal(st.changes, 0);
    assert_true(st.last_ok);
    assert_true(st.last_save_ms > 1000);
    assert_int_equal(st.last_keys, 2);
    assert_false(st.in_progress);
    /* a failing write: a directory where the file should be */
    assert_int_equal(unlink(snap_path), 0);
    assert_int_equal(mkdir(snap_path, 0700), 0);
    ticket = persist_request();
    persist_housekeeper_tick(&txn, NULL);
    assert_int_equal(persist_wait(ticket, err, sizeof err), 0);
    assert_true(strlen(err) > 0);
    persist_stats_read(&st);
    assert_false(st.last_ok);
    assert_int_equal(st.saves_failed, 1);
    assert_true(persist_housekeeper_final(&txn) == false);
    rmdir(snap_path);
    assert_true(persist_housekeeper_final(&txn));
    persist_stats_read(&st);
    assert_true(st.last_ok);
    assert_int_equal(st.saves_ok, 2);
}

/* A housekeeper that dies in the middle of a snapshot: its successor marks the attempt
 * failed and the SAVE waiting for it gets an error instead of waiting forever; the
 * previous snapshot file is intact. */
static void test_housekeeper_death_fails_waiters(void **state)
{
    (void)state;
    static kvns_config cfg;
    snprintf(cfg.persist_path, sizeof cfg.persist_path, "%s", snap_path);
    cfg.persist_interval = 3600;
    assert_int_equal(persist_init(&cfg, 1000), 0);
    persist_housekeeper_start();
    for (int i = 0; i < 200; i++) {
        char key[32];
        snprintf(key, sizeof key, "k%d", i);
        put_string(key, "v", 1, -1);
    }
    write_snapshot();
    persist_report before;
    assert_int_equal(persist_verify(snap_path, &before), PERSIST_OK);
    /* hold shard 3 so that the child's snapshot blocks in the middle */
    txn_begin(&txn);
    txn_lock(&txn, 3);
    uint64_t ticket = persist_request();
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        kv_txn child;
        txn_init(&child, 1);
        persist_housekeeper_tick(&child, NULL);
        _exit(0);
    }
    persist_stats st;
    for (int i = 0; i < 500; i++) {
        persist_stats_read(&st);
        if (st.in_progress)
            break;
        usleep(2000);
    }
    assert_true(st.in_progress);
    usleep(20000);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    commit();
    lane_sweep(1);
    persist_housekeeper_start();                 /* the successor */
    char err[256];
    assert_int_equal(persist_wait(ticket, err, sizeof err), 0);
    assert_non_null(strstr(err, "died"));
    persist_stats_read(&st);
    assert_false(st.in_progress);
    assert_false(st.last_ok);
    persist_report after;
    assert_int_equal(persist_verify(snap_path, &after), PERSIST_OK);
    assert_int_equal(after.created_ms, before.created_ms);
    check_store();
}

/* CRC32C test vector (RFC 3720 / iSCSI) and chaining. */
static void test_crc32c(void **state)
{
    (void)state;
    assert_int_equal(crc32c_update(0, "123456789", 9), 0xe3069283u);
    assert_int_equal(crc32c_update(crc32c_update(0, "1234", 4), "56789", 5), 0xe3069283u);
    assert_int_equal(crc32c_update(0, "", 0), 0);
}

/* Runs the tests, or the child-load mode used by load_in_child. */
int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "--child-load") == 0)
        return child_load_main(argv[2], argv[3]);
    ssize_t n = readlink("/proc/self/exe", self_exe, sizeof self_exe - 1);
    if (n <= 0)
        return 1;
    self_exe[n] = 0;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc32c),
        cmocka_unit_test_setup_teardown(test_round_trip_every_type, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_store, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expired_dropped_at_load, setup, teardown),
        cmocka_unit_test_setup_teardown(test_writer_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncated_at_every_byte, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flipped_byte_everywhere, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_version_and_magic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_duplicate_members_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_startup_refuses_corrupt, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_and_killed_writer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crash_during_load, setup, teardown),
        cmocka_unit_test_setup_teardown(test_request_and_serve, setup, teardown),
        cmocka_unit_test_setup_teardown(test_housekeeper_death_fails_waiters, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
