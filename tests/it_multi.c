/* it_multi.c - MULTI/EXEC/DISCARD/WATCH/UNWATCH as Redis 7 answers them:
 *   - the queue runs in order with run-time errors inside EXEC's array;
 *   - a command refused while queueing (unknown, wrong arity) makes EXEC answer
 *     EXECABORT and run nothing; DISCARD drops the queue;
 *   - the error texts of nested MULTI, WATCH inside MULTI, EXEC/DISCARD without MULTI;
 *   - WATCH from another connection (often another worker): a write, a create-then-
 *     delete of a missing key, expiry of a watched key and FLUSHALL of a live one
 *     abort EXEC; an untouched key, UNWATCH and FLUSHALL of a missing key do not;
 *   - no reader on another connection ever sees part of an EXEC over many shards;
 *   - RESP3 (a watched abort is the null `_`), long keys and values.
 * Every expectation is Redis 7.0's reply: KVNS_TEST_TARGET=redis passes too. */
#include "harness.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Runs a command and returns its reply, failing on no reply. */
static kv_reply *run(kv_conn *c, const char *arg0, const char *arg1, const char *arg2)
{
    kv_reply *r = conn_cmd(c, arg0, arg1, arg2, NULL);
    if (!r)
        it_fail("%s: no reply (%s)", arg0, conn_error(c));
    return r;
}

static void test_exec_runs_queue_in_order(void **state)
{
    kv_conn *c = *state;
    expect_status(c, "OK", "MULTI", NULL);
    expect_status(c, "QUEUED", "SET", "a", "1", NULL);
    expect_status(c, "QUEUED", "INCR", "a", NULL);
    expect_status(c, "QUEUED", "LPUSH", "a", "x", NULL);
    expect_status(c, "QUEUED", "GET", "a", NULL);
    kv_reply *r = run(c, "EXEC", NULL, NULL);
    assert_array_len(r, 4);
    assert_status(r->elements[0], "OK");
    assert_int(r->elements[1], 2);
    assert_error_prefix(r->elements[2], "WRONGTYPE");
    assert_bulk(r->elements[3], "2");
    kv_reply_free(r);
    expect_bulk(c, "2", "GET", "a", NULL);
    /* an empty transaction answers an empty array */
    expect_status(c, "OK", "MULTI", NULL);
    expect_array_len(c, 0, "EXEC", NULL);
}

static void test_refused_command_aborts_exec(void **state)
{
    kv_conn *c = *state;
    expect_status(c, "OK", "MULTI", NULL);
    expect_status(c, "QUEUED", "SET", "a", "1", NULL);
    expect_error_prefix(c, "ERR unknown command 'NOPE'", "NOPE", NULL);
    expect_error(c, "EXECABORT Transaction discarded because of previous errors.", "EXEC", NULL);
    expect_nil(c, "GET", "a", NULL);
    expect_status(c, "OK", "MULTI", NULL);
    expect_error(c, "ERR wrong number of arguments for 'get' command", "GET", NULL);
    expect_status(c, "QUEUED", "SET", "a", "1", NULL);
    expect_error(c, "EXECABORT Transaction discarded because of previous errors.", "EXEC", NULL);
    expect_nil(c, "GET", "a", NULL);
}

static void test_control_errors_and_discard(void **state)
{
    kv_conn *c = *state;
    expect_error(c, "ERR EXEC without MULTI", "EXEC", NULL);
    expect_error(c, "ERR DISCARD without MULTI", "DISCARD", NULL);
    expect_status(c, "OK", "MULTI", NULL);
    expect_error(c, "ERR MULTI calls can not be nested", "MULTI", NULL);
    expect_error(c, "ERR WATCH inside MULTI is not allowed", "WATCH", "a", NULL);
    expect_status(c, "QUEUED", "SET", "a", "1", NULL);
    expect_status(c, "OK", "DISCARD", NULL);
    expect_nil(c, "GET", "a", NULL);
    expect_error(c, "ERR EXEC without MULTI", "EXEC", NULL);
}

/* Runs MULTI; SET key mine; EXEC on c and returns EXEC's reply. */
static kv_reply *exec_set(kv_conn *c, const char *key)
{
    expect_status(c, "OK", "MULTI", NULL);
    expect_status(c, "QUEUED", "SET", key, "mine", NULL);
    return run(c, "EXEC", NULL, NULL);
}

static void test_watch_sees_other_connection(void **state)
{
    kv_conn *c = *state, *other = it_connect();
    expect_status(c, "OK", "WATCH", "w", NULL);
    expect_status(other, "OK", "SET", "w", "other", NULL);
    kv_reply *r = exec_set(c, "w");
    if (r->type != KV_REPLY_NIL)
        it_fail("EXEC after a watched key changed: want a null reply");
    kv_reply_free(r);
    expect_bulk(c, "other", "GET", "w", NULL);
    /* EXEC unwatched: the next transaction goes through */
    expect_status(other, "OK", "SET", "w", "again", NULL);
    r = exec_set(c, "w");
    assert_array_len(r, 1);
    kv_reply_free(r);
    /* an untouched watched key, and UNWATCH, let EXEC run */
    expect_status(c, "OK", "WATCH", "w", "unrelated", NULL);
    expect_status(other, "OK", "SET", "unrelated-2", "x", NULL);
    r = exec_set(c, "w");
    assert_array_len(r, 1);
    kv_reply_free(r);
    expect_status(c, "OK", "WATCH", "w", NULL);
    expect_status(c, "OK", "UNWATCH", NULL);
    expect_status(other, "OK", "SET", "w", "later", NULL);
    r = exec_set(c, "w");
    assert_array_len(r, 1);
    kv_reply_free(r);
    conn_close(other);
}

static void test_watch_missing_key_created_and_deleted(void **state)
{
    kv_conn *c = *state, *other = it_connect();
    expect_status(c, "OK", "WATCH", "ghost", NULL);
    expect_status(other, "OK", "SET", "ghost", "1", NULL);
    expect_int(other, 1, "DEL", "ghost", NULL);
    kv_reply *r = exec_set(c, "ghost");
    if (r->type != KV_REPLY_NIL)
        it_fail("EXEC after a watched missing key was created and deleted: want a null reply");
    kv_reply_free(r);
    expect_nil(c, "GET", "ghost", NULL);
    conn_close(other);
}

static void test_watch_expired_key_aborts(void **state)
{
    kv_conn *c = *state;
    expect_status(c, "OK", "SET", "e", "1", "PX", "50", NULL);
    expect_status(c, "OK", "WATCH", "e", NULL);
    sleep_ms(120);
    kv_reply *r = exec_set(c, "e");
    if (r->type != KV_REPLY_NIL)
        it_fail("EXEC after a watched key expired: want a null reply");
    kv_reply_free(r);
}

static void test_flushall_touches_only_live_watched_keys(void **state)
{
    kv_conn *c = *state, *other = it_connect();
    expect_status(c, "OK", "WATCH", "never", NULL);
    expect_status(other, "OK", "SET", "somekey", "1", NULL);
    expect_status(other, "OK", "FLUSHALL", NULL);
    kv_reply *r = exec_set(c, "never");
    assert_array_len(r, 1);
    kv_reply_free(r);
    expect_status(c, "OK", "SET", "live", "1", NULL);
    expect_status(c, "OK", "WATCH", "live", NULL);
    expect_status(other, "OK", "FLUSHALL", NULL);
    r = exec_set(c, "live");
    if (r->type != KV_REPLY_NIL)
        it_fail("EXEC after FLUSHALL removed a watched key: want a null reply");
    kv_reply_free(r);
    conn_close(other);
}

/* A transaction over keys of many shards commits as a whole: every key was written,
 * and FLUSHALL queued in it runs in the same transaction. */
static void test_exec_over_many_shards(void **state)
{
    kv_conn *c = *state;
    char key[32];
    expect_status(c, "OK", "MULTI", NULL);
    for (int i = 0; i < 64; i++) {
        snprintf(key, sizeof key, "ns%d/k%d", i % 4, i);
        expect_status(c, "QUEUED", "INCRBY", key, "5", NULL);
    }
    expect_status(c, "QUEUED", "DBSIZE", NULL);
    kv_reply *r = run(c, "EXEC", NULL, NULL);
    assert_array_len(r, 65);
    assert_int(r->elements[64], 64);
    kv_reply_free(r);
    for (int i = 0; i < 64; i++) {
        snprintf(key, sizeof key, "ns%d/k%d", i % 4, i);
        expect_bulk(c, "5", "GET", key, NULL);
    }
    expect_status(c, "OK", "MULTI", NULL);
    expect_status(c, "QUEUED", "FLUSHALL", NULL);
    expect_status(c, "QUEUED", "SET", "after", "1", NULL);
    expect_status(c, "QUEUED", "DBSIZE", NULL);
    r = run(c, "EXEC", NULL, NULL);
    assert_array_len(r, 3);
    assert_int(r->elements[2], 1);
    kv_reply_free(r);
}

/* Under RESP3 EXEC's array and its aborted null; keys and values far longer than
 * fit inline in an entry, copied through the queue intact. */
static void test_resp3_and_long_arguments(void **state)
{
    kv_conn *c = *state, *other = it_connect();
    kv_reply_free(run(c, "HELLO", "3", NULL));
    size_t klen = 1000, vlen = 100000;
    char *key = malloc(klen + 1), *val = malloc(vlen + 1);
    assert_non_null(key);
    assert_non_null(val);
    memset(key, 'k', klen);
    key[klen] = 0;
    for (size_t i = 0; i < vlen; i++)
        val[i] = (char)('a' + i % 26);
    val[vlen] = 0;
    expect_status(c, "OK", "MULTI", NULL);
    expect_status(c, "QUEUED", "SET", key, val, NULL);
    expect_status(c, "QUEUED", "STRLEN", key, NULL);
    kv_reply *r = run(c, "EXEC", NULL, NULL);
    assert_array_len(r, 2);
    assert_status(r->elements[0], "OK");
    assert_int(r->elements[1], (long long)vlen);
    kv_reply_free(r);
    expect_bulk(other, val, "GET", key, NULL);
    expect_status(c, "OK", "WATCH", key, NULL);
    expect_int(other, (long long)vlen + 1, "APPEND", key, "x", NULL);
    r = exec_set(c, key);
    if (r->type != KV_REPLY_NIL)
        it_fail("RESP3 EXEC after a watched key changed: want the null reply, got %s", kv_reply_type_name(r->type));
    kv_reply_free(r);
    free(key);
    free(val);
    conn_close(other);
}

#define ATOMIC_KEYS   8
#define ATOMIC_ROUNDS 300

/* The child of test_no_reader_sees_part_of_exec: ATOMIC_ROUNDS transactions each
 * incrementing every key; exits 0 when each EXEC answered its full array. */
static void exec_increments(const char *const *keys)
{
    kv_conn *c = it_connect();
    for (int round = 0; round < ATOMIC_ROUNDS; round++) {
        kv_reply *r = conn_cmd(c, "MULTI", NULL);
        kv_reply_free(r);
        for (int i = 0; i < ATOMIC_KEYS; i++)
            kv_reply_free(conn_cmd(c, "INCR", keys[i], NULL));
        r = conn_cmd(c, "EXEC", NULL);
        if (!r || r->type != KV_REPLY_ARRAY || r->count != ATOMIC_KEYS)
            _exit(1);
        kv_reply_free(r);
    }
    conn_close(c);
    _exit(0);
}

/* One connection runs EXECs of INCRs over keys of different namespaces and shards
 * while another reads them all with MGET (one transaction too): every read must see
 * the same count on every key, and at the end all of them are ATOMIC_ROUNDS. */
static void test_no_reader_sees_part_of_exec(void **state)
{
    kv_conn *c = *state;
    const char *keys[ATOMIC_KEYS] = { "a/n", "b/n", "c/n", "d/n", "e/n", "f/n", "g/n", "h/n" };
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        exec_increments(keys);
    int status = 0, reads = 0;
    pid_t done = 0;
    while (done == 0) {
        kv_reply *r = conn_cmd(c, "MGET", keys[0], keys[1], keys[2], keys[3], keys[4], keys[5], keys[6], keys[7],
                               NULL);
        assert_array_len(r, ATOMIC_KEYS);
        for (int i = 1; i < ATOMIC_KEYS; i++) {
            const char *a = r->elements[0]->str, *b = r->elements[i]->str;
            if ((a == NULL) != (b == NULL) || (a && strcmp(a, b) != 0)) {
                kill(pid, SIGKILL);
                waitpid(pid, &status, 0);
                it_fail("read %d saw part of an EXEC: %s=%s but %s=%s", reads, keys[0], a ? a : "(nil)", keys[i],
                        b ? b : "(nil)");
            }
        }
        kv_reply_free(r);
        reads++;
        done = waitpid(pid, &status, WNOHANG);
        if (reads > 200000) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            it_fail("the EXEC client did not finish");
        }
    }
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    for (int i = 0; i < ATOMIC_KEYS; i++)
        expect_bulk(c, "300", "GET", keys[i], NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_exec_runs_queue_in_order, it_test_setup, it_test_teardown),
        cmocka_unit_test_setup_teardown(test_refused_command_aborts_exec, it_test_setup, it_test_teardown),
        cmocka_unit_test_setup_teardown(test_control_errors_and_discard, it_test_setup, it_test_teardown),
        cmocka_unit_test_setup_teardown(test_watch_sees_other_connection, it_test_setup, it_test_teardown),
        cmocka_unit_test_setup_teardown(test_watch_missing_key_created_and_deleted, it_test_setup,
                                        it_test_teardown),
        cmocka_unit_test_setup_teardown(test_watch_expired_key_aborts, it_test_setup, it_test_teardown),
        cmocka_unit_test_setup_teardown(test_flushall_touches_only_live_watched_keys, it_test_setup,
                                        it_test_teardown),
        cmocka_unit_test_setup_teardown(test_exec_over_many_shards, it_test_setup, it_test_teardown),
        cmocka_unit_test_setup_teardown(test_no_reader_sees_part_of_exec, it_test_setup, it_test_teardown),
        cmocka_unit_test_setup_teardown(test_resp3_and_long_arguments, it_test_setup, it_test_teardown),
    };
    return cmocka_run_group_tests(tests, it_group_setup, it_group_teardown);
}
