/* unit_shm_alone.c - shm/ and the base layer without src/: this binary links
 * libkvnsshm.a and libkvnsbase.a only (GNUmakefile), so a shm/ object that needs a
 * src/ symbol fails its link. It creates an arena, commits, rolls back and recovers
 * string writes, and checks that shm/'s log lines reach the sink a caller installs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "kvns/log.h"
#include "kvns/store.h"
#include "kvns/txn.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static kv_txn txn;

/* The lines the test sink received: their count and the last one's level and text. */
static struct {
    int            lines;
    enum log_level level;
    char           msg[128];
    char           fields[256];
} seen;

/* A log_sink that remembers what shm/ logged. */
__attribute__((format(printf, 3, 0)))
static void remember_line(enum log_level level, const char *msg, const char *fmt, va_list args)
{
    seen.lines++;
    seen.level = level;
    snprintf(seen.msg, sizeof seen.msg, "%s", msg);
    seen.fields[0] = '\0';
    if (fmt)
        vsnprintf(seen.fields, sizeof seen.fields, fmt, args);
}

/* One arena for the process (8 shards, 4 lanes), every shard emptied before each test. */
static int setup(void **state)
{
    static int fd = -1;
    if (fd < 0) {
        arena_params p = { .memory_limit = 64u << 20, .shard_count = 8, .lane_count = 4,
                           .undo_bytes = 1u << 20, .max_clients = 16 };
        assert_int_equal(arena_create(&p, &fd), 0);
        txn_init(&txn, 0);
    }
    for (uint32_t s = 0; s < arena_hdr()->shard_count; s++) {
        txn_begin(&txn);
        txn_lock(&txn, s);
        store_flush_shard(&txn, s);
        assert_int_equal(txn_commit(&txn), TXN_OK);
    }
    memset(&seen, 0, sizeof seen);
    shm_log_set_sink(remember_line);
    return 0;
}

/* Writes key=val in a transaction of its own and commits it. */
static void put(const char *key, const char *val)
{
    kv_key k;
    key_init(&k, key, strlen(key));
    txn_begin(&txn);
    txn_lock(&txn, k.shard);
    assert_int_equal(store_put_string(&txn, &k, val, strlen(val), -1, NULL), STORE_OK);
    assert_int_equal(txn_commit(&txn), TXN_OK);
}

/* Returns a malloc'd copy of key's value, or NULL when the key is missing. */
static char *get(const char *key)
{
    kv_key k;
    key_init(&k, key, strlen(key));
    txn_begin(&txn);
    txn_lock(&txn, k.shard);
    kv_entry *e = store_find(&txn, &k);
    char *v = e ? strndup(entry_str(e), e->vlen) : NULL;
    assert_int_equal(txn_commit(&txn), TXN_OK);
    return v;
}

/* Runs the arena's consistency checker and fails the test with its report. */
static void check_store(void)
{
    char err[256] = "";
    if (store_check(&txn, err, sizeof err) != 0)
        fail_msg("store_check: %s", err);
}

/* Committed writes are read back, and the store's key count follows them. */
static void test_commit_and_read(void **state)
{
    (void)state;
    put("alpha", "1");
    put("beta", "two");
    put("alpha", "one");
    char *a = get("alpha"), *b = get("beta");
    assert_string_equal(a, "one");
    assert_string_equal(b, "two");
    free(a);
    free(b);
    assert_int_equal(store_keys(), 2);
    assert_null(get("gamma"));
    check_store();
}

/* txn_abort undoes an overwrite, an insert and a delete of the same transaction. */
static void test_abort_rolls_back(void **state)
{
    (void)state;
    put("kept", "before");
    put("doomed", "still here");
    kv_key kept, fresh, doomed;
    key_init(&kept, "kept", 4);
    key_init(&fresh, "fresh", 5);
    key_init(&doomed, "doomed", 6);
    uint32_t locks[] = { kept.shard, fresh.shard, doomed.shard };
    txn_begin(&txn);
    txn_lock_many(&txn, locks, 3);
    assert_int_equal(store_put_string(&txn, &kept, "after", 5, -1, NULL), STORE_OK);
    assert_int_equal(store_put_string(&txn, &fresh, "new", 3, -1, NULL), STORE_OK);
    assert_int_equal(store_delete(&txn, &doomed), 1);
    assert_non_null(store_find(&txn, &fresh));
    txn_abort(&txn);

    char *v = get("kept"), *d = get("doomed");
    assert_string_equal(v, "before");
    assert_string_equal(d, "still here");
    free(v);
    free(d);
    assert_null(get("fresh"));
    assert_int_equal(store_keys(), 2);
    check_store();
}

/* A process killed mid-write leaves its lock to the next taker, which rolls the
 * write back and says so through the installed log sink (not on stderr). */
static void test_owner_death_is_undone_and_logged(void **state)
{
    (void)state;
    put("solo", "old");
    kv_key k;
    key_init(&k, "solo", 4);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        kv_txn child;
        txn_init(&child, 1);
        txn_begin(&child);
        txn_lock(&child, k.shard);
        store_put_string(&child, &k, "a longer value that needs a new entry", 37, -1, NULL);
        raise(SIGKILL);                     /* dies holding the lock, uncommitted */
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFSIGNALED(st));
    assert_int_equal(seen.lines, 0);

    char *v = get("solo");                  /* EOWNERDEAD: undo, then the log line */
    assert_string_equal(v, "old");
    free(v);
    assert_int_equal(seen.lines, 1);
    assert_int_equal(seen.level, LOG_LVL_WARN);
    assert_string_equal(seen.msg, "recovered lock after owner death");
    char want[64];
    snprintf(want, sizeof want, "lock=%u ", k.shard);
    assert_non_null(strstr(seen.fields, want));
    lane_sweep(1);
    check_store();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_commit_and_read, setup),
        cmocka_unit_test_setup(test_abort_rolls_back, setup),
        cmocka_unit_test_setup(test_owner_death_is_undone_and_logged, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
