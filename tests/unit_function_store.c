/* unit_function_store.c - the FUNCTION library registry (shm/function_store.c) and its
 * snapshot record: the encoding's round trip and its refusal of truncated or invalid
 * blobs; a change published by a commit and undone by an abort (generation included);
 * libraries kept through a snapshot written and loaded again; a snapshot without
 * libraries (the older format) loading as before; and a function libraries record
 * that is corrupt under valid checksums refused with a message naming the problem. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "kvns/function_store.h"
#include "kvns/persist.h"
#include "kvns/shard.h"
#include "kvns/store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SHARDS 4
#define LANES  2

static kv_txn txn;
static char tmpdir[256];
static char snap_path[512];

/* Creates the arena once per process. */
static void arena_setup(void)
{
    static int fd = -1;
    if (fd >= 0)
        return;
    arena_params p = { .memory_limit = 256u << 20, .shard_count = SHARDS, .lane_count = LANES,
                       .undo_bytes = 4u << 20 };
    if (arena_create(&p, &fd) != 0) {
        fprintf(stderr, "arena_create: %s\n", strerror(errno));
        exit(1);
    }
    txn_init(&txn, 0);
}

/* Replaces the registry by s in one committed transaction. */
static void install(const fn_set *s)
{
    txn_begin(&txn);
    assert_int_equal(fnstore_install(&txn, s), FNSTORE_OK);
    assert_int_equal(txn_commit(&txn), TXN_OK);
}

/* Every test starts with an empty store and registry and a fresh directory. */
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
    fn_set empty = { 0 };
    install(&empty);
    snprintf(tmpdir, sizeof tmpdir, "/tmp/kvns-unit-fnstore-%d-XXXXXX", (int)getpid());
    assert_non_null(mkdtemp(tmpdir));
    snprintf(snap_path, sizeof snap_path, "%s/dump.kvns", tmpdir);
    return 0;
}

/* Removes the temporary directory. */
static int teardown(void **state)
{
    (void)state;
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", tmpdir);
    return 0;
}

/* A malloc'ed copy of s. */
static char *dup_str(const char *s)
{
    char *d = strdup(s);
    assert_non_null(d);
    return d;
}

/* Appends library `name` with functions fnames[0..n) (the first described and flagged). */
static void add_lib(fn_set *s, const char *name, const char *const *fnames, size_t n)
{
    fn_lib l = { 0 };
    l.name = dup_str(name);
    l.engine = dup_str("LUA");
    char code[256];
    snprintf(code, sizeof code, "#!lua name=%s\nredis.register_function('%s', function() return 1 end)", name,
             fnames[0]);
    l.code = dup_str(code);
    l.code_len = strlen(code);
    l.funcs = calloc(n, sizeof *l.funcs);
    assert_non_null(l.funcs);
    l.nfuncs = n;
    for (size_t i = 0; i < n; i++) {
        l.funcs[i].name = dup_str(fnames[i]);
        if (i == 0) {
            l.funcs[i].desc = dup_str("a description");
            l.funcs[i].desc_len = strlen("a description");
            l.funcs[i].flags = SCRIPT_NO_WRITES | SCRIPT_ALLOW_STALE;
        }
    }
    fnset_add(s, &l);
}

/* Two libraries: lib1 {fone (described, flagged), ftwo} and lib2 {fthree}. */
static void sample(fn_set *s)
{
    static const char *const a[] = { "fone", "ftwo" };
    static const char *const b[] = { "fthree" };
    add_lib(s, "lib1", a, 2);
    add_lib(s, "lib2", b, 1);
}

/* Asserts that got holds exactly what sample() builds. */
static void assert_sample(const fn_set *got)
{
    assert_int_equal(got->nlibs, 2);
    assert_string_equal(got->libs[0].name, "lib1");
    assert_string_equal(got->libs[1].name, "lib2");
    assert_string_equal(got->libs[0].engine, "LUA");
    assert_int_equal(got->libs[0].nfuncs, 2);
    assert_string_equal(got->libs[0].funcs[0].name, "fone");
    assert_int_equal(got->libs[0].funcs[0].flags, SCRIPT_NO_WRITES | SCRIPT_ALLOW_STALE);
    assert_int_equal(got->libs[0].funcs[0].desc_len, strlen("a description"));
    assert_memory_equal(got->libs[0].funcs[0].desc, "a description", got->libs[0].funcs[0].desc_len);
    assert_null(got->libs[0].funcs[1].desc);
    assert_string_equal(got->libs[1].funcs[0].name, "fthree");
    assert_non_null(strstr(got->libs[1].code, "'fthree'"));
    assert_int_equal(fnset_nfuncs(got), 3);
}

/* The encoding round-trips, and every truncation of it is refused. */
static void test_encode_round_trip_and_truncation(void **state)
{
    (void)state;
    fn_set s = { 0 };
    sample(&s);
    char *blob;
    size_t len = fnset_encode(&s, &blob);
    assert_non_null(blob);
    fn_set got = { 0 };
    char err[160];
    assert_int_equal(fnset_decode(blob, len, &got, err, sizeof err), 0);
    assert_sample(&got);
    size_t li, fi;
    assert_true(fnset_find_func(&got, "FTHREE", 6, &li, &fi));
    assert_int_equal(li, 1);
    fnset_clear(&got);
    for (size_t cut = 0; cut < len; cut++) {
        fn_set part = { 0 };
        if (fnset_decode(blob, cut, &part, err, sizeof err) == 0)
            fail_msg("a blob cut to %zu of %zu bytes decoded", cut, len);
        assert_int_equal(part.nlibs, 0);
    }
    free(blob);
    fnset_clear(&s);
}

/* Invalid contents under a well-formed layout are refused, each with its reason: a
 * function name repeated across libraries (any case), a bad name and unknown flags. */
static void test_decode_refuses_invalid(void **state)
{
    (void)state;
    static const char *const a[] = { "shared" };
    static const char *const b[] = { "SHARED" };
    fn_set s = { 0 };
    add_lib(&s, "liba", a, 1);
    add_lib(&s, "libb", b, 1);
    char *blob, err[160];
    size_t len = fnset_encode(&s, &blob);
    fn_set got = { 0 };
    assert_int_equal(fnset_decode(blob, len, &got, err, sizeof err), -1);
    assert_non_null(strstr(err, "function repeated"));
    free(blob);
    fnset_clear(&s);

    static const char *const c[] = { "bad-name" };
    add_lib(&s, "libc", c, 1);
    len = fnset_encode(&s, &blob);
    assert_int_equal(fnset_decode(blob, len, &got, err, sizeof err), -1);
    assert_non_null(strstr(err, "bad function name"));
    free(blob);
    s.libs[0].funcs[0].name[3] = '_';
    s.libs[0].funcs[0].flags = SCRIPT_EVAL_COMPAT;
    len = fnset_encode(&s, &blob);
    assert_int_equal(fnset_decode(blob, len, &got, err, sizeof err), -1);
    assert_non_null(strstr(err, "unknown function flags"));
    free(blob);
    fnset_clear(&s);
}

/* fnstore_edit_fn: adds the libraries of *arg (moved). */
static bool edit_add(fn_set *cur, void *arg)
{
    fn_set *add = arg;
    for (size_t i = 0; i < add->nlibs; i++)
        fnset_add(cur, &add->libs[i]);
    add->nlibs = 0;
    return true;
}

/* A change is seen after its commit with a new generation; an aborted one leaves the
 * registry and its generation as they were. */
static void test_update_commit_and_abort(void **state)
{
    (void)state;
    uint64_t gen0 = fnstore_generation();
    fn_set add = { 0 };
    sample(&add);
    txn_begin(&txn);
    txn_lock(&txn, lock_id_functions());
    assert_int_equal(fnstore_update_locked(&txn, edit_add, &add), FNSTORE_OK);
    fn_set inside = { 0 };
    assert_int_equal(fnstore_read_locked(&inside), 0);
    assert_int_equal(inside.gen, FNSTORE_GEN_UNCOMMITTED);
    assert_int_equal(inside.nlibs, 2);
    fnset_clear(&inside);
    assert_int_equal(txn_commit(&txn), TXN_OK);
    fnset_clear(&add);
    uint64_t gen1 = fnstore_generation();
    assert_true(gen1 != gen0);
    fn_set got = { 0 };
    assert_int_equal(fnstore_read(&got), 0);
    assert_int_equal(got.gen, gen1);
    assert_sample(&got);
    fnset_clear(&got);

    static const char *const d[] = { "fdrop" };
    add_lib(&add, "dropped", d, 1);
    txn_begin(&txn);
    txn_lock(&txn, lock_id_functions());
    assert_int_equal(fnstore_update_locked(&txn, edit_add, &add), FNSTORE_OK);
    txn_abort(&txn);
    fnset_clear(&add);
    assert_int_equal(fnstore_generation(), gen1);
    assert_int_equal(fnstore_read(&got), 0);
    assert_sample(&got);
    fnset_clear(&got);
}

/* Writes the store and registry to snap_path. */
static void write_snapshot(void)
{
    persist_report rep;
    int rc = persist_write(snap_path, &txn, NULL, &rep);
    if (rc != PERSIST_OK)
        fail_msg("persist_write: %s", rep.message);
}

/* Puts the string key k = v. */
static void put_key(const char *k, const char *v)
{
    kv_key key;
    key_init(&key, k, strlen(k));
    txn_begin(&txn);
    txn_lock(&txn, key.shard);
    assert_int_equal(store_put_string(&txn, &key, v, strlen(v), -1, NULL), STORE_OK);
    assert_int_equal(txn_commit(&txn), TXN_OK);
}

/* Libraries survive a snapshot: written, the registry emptied, loaded back; the key
 * count of both reports leaves the libraries' record out. */
static void test_snapshot_round_trip(void **state)
{
    (void)state;
    fn_set s = { 0 };
    sample(&s);
    install(&s);
    fnset_clear(&s);
    put_key("k", "v");
    persist_report rep;
    assert_int_equal(persist_write(snap_path, &txn, NULL, &rep), PERSIST_OK);
    assert_int_equal(rep.keys, 1);
    assert_int_equal(rep.sections, 2);
    install(&s);                                   /* empty again */
    bool missing;
    assert_int_equal(persist_load(snap_path, &txn, &rep, &missing), PERSIST_OK);
    assert_int_equal(rep.keys, 1);
    fn_set got = { 0 };
    assert_int_equal(fnstore_read(&got), 0);
    assert_sample(&got);
    fnset_clear(&got);
}

/* Without libraries nothing is written for them (the format older kvns wrote), and
 * loading such a file leaves the registry as it is. */
static void test_snapshot_without_libraries(void **state)
{
    (void)state;
    put_key("k", "v");
    write_snapshot();
    persist_report rep;
    assert_int_equal(persist_verify(snap_path, &rep), PERSIST_OK);
    assert_int_equal(rep.sections, 1);
    bool missing;
    assert_int_equal(persist_load(snap_path, &txn, &rep, &missing), PERSIST_OK);
    fn_set got = { 0 };
    assert_int_equal(fnstore_read(&got), 0);
    assert_int_equal(got.nlibs, 0);
}

/* Reads the whole file at path. */
static unsigned char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *p = malloc((size_t)n);
    assert_non_null(p);
    assert_int_equal(fread(p, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return p;
}

/* A function name made invalid inside the libraries' record, with the section's, the
 * footer's and every checksum recomputed, is refused by the verifying pass (nothing is
 * loaded) with a message naming the record and the problem. */
static void test_snapshot_corrupt_record_refused(void **state)
{
    (void)state;
    fn_set s = { 0 };
    sample(&s);
    install(&s);
    fnset_clear(&s);
    put_key("k", "v");
    write_snapshot();
    size_t size;
    unsigned char *p = read_all(snap_path, &size);
    unsigned char *at = memmem(p, size, "\x04\0\0\0fone", 8);
    assert_non_null(at);
    at[5] = '-';
    uint64_t sections;
    memcpy(&sections, p + 24, 8);
    size_t pos = SNAP_HEADER_BYTES;
    uint32_t body = 0;
    for (uint64_t i = 0; i < sections; i++) {
        unsigned char *h = p + pos;
        uint64_t payload;
        memcpy(&payload, h + 16, 8);
        uint32_t crc = crc32c_update(0, h + SNAP_SECTION_BYTES, payload);
        memcpy(h + 24, &crc, 4);
        crc = crc32c_update(0, h, 28);
        memcpy(h + 28, &crc, 4);
        body = crc32c_update(body, h, SNAP_SECTION_BYTES + payload);
        pos += SNAP_SECTION_BYTES + payload;
    }
    memcpy(p + pos + 24, &body, 4);
    uint32_t crc = crc32c_update(0, p + pos, 28);
    memcpy(p + pos + 28, &crc, 4);
    FILE *f = fopen(snap_path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, size, f), size);
    fclose(f);
    free(p);
    install(&s);                                   /* empty: a load must not fill it */
    persist_report rep;
    bool missing;
    assert_int_equal(persist_load(snap_path, &txn, &rep, &missing), PERSIST_E_FORMAT);
    if (!strstr(rep.message, "section 0 record 0") || !strstr(rep.message, "bad function name"))
        fail_msg("unexpected message: %s", rep.message);
    assert_int_equal(rep.section, 0);
    fn_set got = { 0 };
    assert_int_equal(fnstore_read(&got), 0);
    assert_int_equal(got.nlibs, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_encode_round_trip_and_truncation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_decode_refuses_invalid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_update_commit_and_abort, setup, teardown),
        cmocka_unit_test_setup_teardown(test_snapshot_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_snapshot_without_libraries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_snapshot_corrupt_record_refused, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
