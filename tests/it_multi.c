/* it_multi.c - MULTI/EXEC/DISCARD/WATCH/UNWATCH as Redis 7 answers them:
 *   - the queue runs in order with run-time errors inside EXEC's array;
 *   - a command refused while queueing (unknown, wrong arity) makes EXEC answer
 *     EXECABORT and run nothing; DISCARD drops the queue;
 *   - the error texts of nested MULTI, WATCH inside MULTI, EXEC/DISCARD without MULTI;
 *     RESET and QUIT inside MULTI run at once;
 *   - WATCH from another connection (often another worker): a write, a create-then-
 *     delete of a missing key, expiry of a watched key and FLUSHALL of a live one
 *     abort EXEC; an untouched key, UNWATCH and FLUSHALL of a missing key do not;
 *   - no reader on another connection ever sees part of an EXEC over many shards;
 *   - subcommands (OBJECT ENCODING, MEMORY USAGE, CONFIG GET) queue and run; an unknown
 *     one or a wrong subcommand arity aborts EXEC;
 *   - RESP3 (a watched abort is the null `_`), long keys and values;
 *   - SAVE (no-multi) refused in MULTI; while over maxmemory every queued command is
 *     refused with OOM and an EXEC holding a write answers EXECABORT ... OOM; EXEC
 *     evicts for its writes under lru (kvns only: its policy names and namespaces);
 *   - the WATCH drill: hundreds of rounds of a watched key changed from the other
 *     worker in eleven ways, and optimistic increments racing another worker's INCRs.
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
    /* RESET runs at once and drops the queue; SLOWLOG RESET is only queued */
    expect_status(c, "OK", "MULTI", NULL);
    expect_status(c, "QUEUED", "SET", "a", "1", NULL);
    expect_status(c, "QUEUED", "SLOWLOG", "RESET", NULL);
    expect_status(c, "RESET", "RESET", NULL);
    expect_error(c, "ERR EXEC without MULTI", "EXEC", NULL);
    expect_nil(c, "GET", "a", NULL);
    /* QUIT runs at once too: +OK, then the server closes the connection */
    kv_conn *q = it_connect();
    expect_status(q, "OK", "MULTI", NULL);
    expect_status(q, "OK", "QUIT", NULL);
    assert_null(conn_read_reply(q));
    assert_true(conn_is_closed(q));
    conn_close(q);
}

/* Runs MULTI; SET key mine; EXEC on c and returns EXEC's reply. */
static kv_reply *exec_set(kv_conn *c, const char *key)
{
    expect_status(c, "OK", "MULTI", NULL);
    expect_status(c, "QUEUED", "SET", key, "mine", NULL);
    return run(c, "EXEC", NULL, NULL);
}

/* Writes to key a key on a shard holding neither a nor b (kvns: DEBUG KEYSHARD), so
 * that writing it can never share a WATCH version slot with them; any other key
 * against Redis. */
static void key_apart(kv_conn *c, const char *a, const char *b, char *key, size_t cap)
{
    for (int i = 0;; i++) {
        snprintf(key, cap, "unrelated-%d", i);
        if (srv_target_is_redis())
            return;
        long long s[3];
        const char *names[3] = { a, b, key };
        for (int j = 0; j < 3; j++) {
            kv_reply *r = run(c, "DEBUG", "KEYSHARD", names[j]);
            s[j] = r->integer;
            kv_reply_free(r);
        }
        if (s[2] != s[0] && s[2] != s[1])
            return;
    }
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
    char apart[32];
    key_apart(other, "w", "unrelated", apart, sizeof apart);
    expect_status(c, "OK", "WATCH", "w", "unrelated", NULL);
    expect_status(other, "OK", "SET", apart, "x", NULL);
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

/* A subcommand queues as its container and runs as its own row inside EXEC; an
 * unknown subcommand or a subcommand's wrong arity is refused while queueing
 * (EXECABORT), as Redis's lookupCommand does before MULTI queues anything. */
static void test_subcommands_in_multi(void **state)
{
    kv_conn *c = *state;
    expect_status(c, "OK", "SET", "a", "12", NULL);
    expect_status(c, "OK", "MULTI", NULL);
    expect_status(c, "QUEUED", "OBJECT", "ENCODING", "a", NULL);
    expect_status(c, "QUEUED", "MEMORY", "USAGE", "a", NULL);
    expect_status(c, "QUEUED", "OBJECT", "ENCODING", "missing", NULL);
    expect_status(c, "QUEUED", "CONFIG", "GET", "maxmemory", NULL);
    kv_reply *r = run(c, "EXEC", NULL, NULL);
    assert_array_len(r, 4);
    assert_bulk(r->elements[0], "int");
    if (r->elements[1]->type != KV_REPLY_INTEGER || r->elements[1]->integer <= 0)
        it_fail("MEMORY USAGE inside EXEC: want a positive integer");
    if (r->elements[2]->type != KV_REPLY_NIL)
        it_fail("OBJECT ENCODING of a missing key inside EXEC: want a null reply");
    assert_array_len(r->elements[3], 2);
    kv_reply_free(r);
    expect_status(c, "OK", "MULTI", NULL);
    expect_status(c, "QUEUED", "SET", "a", "queued", NULL);
    expect_error(c, "ERR unknown subcommand 'NOPE'. Try OBJECT HELP.", "OBJECT", "NOPE", "a", NULL);
    expect_error(c, "EXECABORT Transaction discarded because of previous errors.", "EXEC", NULL);
    expect_status(c, "OK", "MULTI", NULL);
    expect_status(c, "QUEUED", "SET", "a", "queued", NULL);
    expect_error(c, "ERR wrong number of arguments for 'object|encoding' command", "OBJECT", "ENCODING", NULL);
    expect_error(c, "EXECABORT Transaction discarded because of previous errors.", "EXEC", NULL);
    expect_bulk(c, "12", "GET", "a", NULL);
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

/* SAVE (no-multi) is refused inside MULTI with Redis's text and makes EXEC abort. */
static void test_no_multi_command_refused(void **state)
{
    kv_conn *c = *state;
    expect_status(c, "OK", "MULTI", NULL);
    expect_status(c, "QUEUED", "SET", "foo", "bar", NULL);
    expect_error(c, "ERR Command not allowed inside a transaction", "SAVE", NULL);
    expect_error(c, "EXECABORT Transaction discarded because of previous errors.", "EXEC", NULL);
    expect_nil(c, "GET", "foo", NULL);
}

static const char OOM_TEXT[] = "OOM command not allowed when used memory > 'maxmemory'.";

/* Sets maxmemory (and, when policy is not NULL, maxmemory-policy) from conn c. */
static void set_memory(kv_conn *c, const char *maxmemory, const char *policy)
{
    expect_status(c, "OK", "CONFIG", "SET", "maxmemory", maxmemory, NULL);
    if (policy)
        expect_status(c, "OK", "CONFIG", "SET", "maxmemory-policy", policy, NULL);
}

/* Teardown of the memory tests: the limit and policy back to the defaults, whatever
 * the test left. */
static int memory_teardown(void **state)
{
    kv_conn *c = it_connect();
    kv_reply_free(conn_cmd(c, "CONFIG", "SET", "maxmemory", "0", "maxmemory-policy", "noeviction", NULL));
    conn_close(c);
    return it_test_teardown(state);
}

/* Redis's processCommand while used memory is over maxmemory (noeviction): inside
 * MULTI every command but EXEC/DISCARD is refused with OOM and flags the transaction;
 * an EXEC whose queue holds a DENYOOM command answers EXECABORT with the OOM text and
 * runs nothing; an EXEC of reads runs; DISCARD works. The limit is set from a second
 * connection, as Redis's own unit does. */
static void test_oom_while_queueing_and_at_exec(void **state)
{
    kv_conn *c = *state, *admin = it_connect();
    expect_status(c, "OK", "SET", "seed", "value", NULL);   /* kvns counts data only */
    expect_status(c, "OK", "MULTI", NULL);
    expect_status(c, "QUEUED", "SET", "foo1", "bar1", NULL);
    set_memory(admin, "1", NULL);
    expect_error(c, OOM_TEXT, "LPUSH", "mylist", "v", NULL);
    expect_error(c, OOM_TEXT, "GET", "seed", NULL);
    set_memory(admin, "0", NULL);
    expect_status(c, "QUEUED", "SET", "foo2", "bar2", NULL);
    expect_error(c, "EXECABORT Transaction discarded because of previous errors.", "EXEC", NULL);
    expect_int(c, 0, "EXISTS", "foo1", "foo2", "mylist", NULL);

    expect_status(c, "OK", "MULTI", NULL);
    expect_status(c, "QUEUED", "GET", "seed", NULL);
    expect_status(c, "QUEUED", "PING", NULL);
    set_memory(admin, "1", NULL);
    kv_reply *r = run(c, "EXEC", NULL, NULL);
    assert_array_len(r, 2);
    assert_bulk(r->elements[0], "value");
    assert_status(r->elements[1], "PONG");
    kv_reply_free(r);
    set_memory(admin, "0", NULL);

    expect_status(c, "OK", "MULTI", NULL);
    expect_status(c, "QUEUED", "SET", "x", "1", NULL);
    expect_status(c, "QUEUED", "GET", "x", NULL);
    set_memory(admin, "1", NULL);
    expect_error(c, "EXECABORT Transaction discarded because of: OOM command not allowed when used memory > "
                    "'maxmemory'.", "EXEC", NULL);
    expect_status(c, "OK", "MULTI", NULL);
    expect_error(c, OOM_TEXT, "SET", "x", "1", NULL);
    expect_status(c, "OK", "DISCARD", NULL);
    set_memory(admin, "0", NULL);
    expect_nil(c, "GET", "x", NULL);
    conn_close(admin);
}

#define FILL_KEYS 200
#define FILL_LEN  1000
#define BIG_LEN   50000

/* Bytes INFO memory reports as used_memory. */
static long long used_memory(kv_conn *c)
{
    return it_info_ll(c, "memory", "used_memory");
}

/* Writes FILL_KEYS keys fill/k<i> of FILL_LEN bytes. */
static void fill_namespace(kv_conn *c)
{
    char key[32], *val = malloc(FILL_LEN + 1);
    assert_non_null(val);
    memset(val, 'f', FILL_LEN);
    val[FILL_LEN] = 0;
    for (int i = 0; i < FILL_KEYS; i++) {
        snprintf(key, sizeof key, "fill/k%d", i);
        expect_status(c, "OK", "SET", key, val, NULL);
    }
    free(val);
}

/* Runs MULTI; SET fill/big <BIG_LEN bytes>; INCR counter; EXEC and returns EXEC's
 * reply. */
static kv_reply *exec_big_write(kv_conn *c, const char *counter)
{
    char *big = malloc(BIG_LEN + 1);
    assert_non_null(big);
    memset(big, 'b', BIG_LEN);
    big[BIG_LEN] = 0;
    expect_status(c, "OK", "MULTI", NULL);
    expect_status(c, "QUEUED", "SET", "fill/big", big, NULL);
    expect_status(c, "QUEUED", "INCR", counter, NULL);
    free(big);
    return run(c, "EXEC", NULL, NULL);
}

/* Memory just under a limit the queued writes do not fit in: under noeviction the
 * write that does not fit answers OOM inside EXEC's array (the rest runs); under lru
 * EXEC first evicts in the queued writes' namespace and the whole EXEC succeeds. With
 * memory over the limit, a command queued under lru evicts instead of being refused. */
static void test_exec_evicts_for_its_writes(void **state)
{
    it_skip_unless_kvns("kvns's lru policy name and namespaced eviction");
    kv_conn *c = *state;
    char limit[32];
    fill_namespace(c);
    snprintf(limit, sizeof limit, "%lld", used_memory(c) + BIG_LEN / 5);
    set_memory(c, limit, "noeviction");
    kv_reply *r = exec_big_write(c, "fill/n");
    assert_array_len(r, 2);
    assert_error(r->elements[0], OOM_TEXT);
    assert_int(r->elements[1], 1);
    kv_reply_free(r);
    expect_int(c, 0, "EXISTS", "fill/big", NULL);

    set_memory(c, limit, "lru");
    r = exec_big_write(c, "fill/m");         /* fill/n may be evicted: a fresh counter */
    assert_array_len(r, 2);
    assert_status(r->elements[0], "OK");
    assert_int(r->elements[1], 1);
    kv_reply_free(r);
    expect_int(c, BIG_LEN, "STRLEN", "fill/big", NULL);
    if (it_info_ll(c, "stats", "evicted_keys") == 0)
        it_fail("EXEC fit without evicting: the test's limit is too loose");

    snprintf(limit, sizeof limit, "%lld", used_memory(c) / 2);
    set_memory(c, limit, NULL);
    expect_status(c, "OK", "MULTI", NULL);
    expect_status(c, "QUEUED", "SET", "fill/small", "1", NULL);
    r = run(c, "EXEC", NULL, NULL);
    assert_array_len(r, 1);
    assert_status(r->elements[0], "OK");
    kv_reply_free(r);
    if (used_memory(c) > atoll(limit))
        it_fail("used_memory %lld over the limit %s after a queued write evicted", used_memory(c), limit);
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

/* The pid of the process serving c (kvns: one of its workers). */
static long long serving_pid(kv_conn *c)
{
    return info_ll_or(c, "server", "process_id", -1);
}

/* Opens a connection served by another worker than pid: a lone new connection goes to
 * the first idle worker, so connections are opened in bursts of 8 and one served
 * elsewhere is kept. NULL after 50 bursts. Against redis-server any connection. */
static kv_conn *connect_elsewhere(long long pid)
{
    if (srv_target_is_redis())
        return conn_open(it_port());
    for (int attempt = 0; attempt < 50; attempt++) {
        kv_conn *burst[8];
        kv_conn *found = NULL;
        for (int i = 0; i < 8; i++)
            burst[i] = conn_open(it_port());
        for (int i = 0; i < 8; i++) {
            if (!found && burst[i] && serving_pid(burst[i]) != pid)
                found = burst[i];
            else if (burst[i])
                conn_close(burst[i]);
        }
        if (found)
            return found;
    }
    return NULL;
}

/* How the other worker changes the watched key "@" in a round of the WATCH drill
 * ("@moved", "@2": other keys of the round). */
static const char *const watch_changes[][5] = {
    { "SET", "@", "changed" },      { "DEL", "@" },           { "INCR", "@" },
    { "APPEND", "@", "x" },         { "EXPIRE", "@", "100" }, { "RENAME", "@", "@moved" },
    { "LPUSH", "@", "x" },          { "SETRANGE", "@", "0", "y" }, { "MSET", "@", "1", "@2", "2" },
    { "PERSIST", "@" },             { "FLUSHALL" },           { NULL },
};

/* Sends the change of a WATCH drill round from conn other (its reply is not checked:
 * only EXEC's outcome is). */
static void watch_change(kv_conn *other, const char *const *change, const char *key)
{
    char moved[48], second[48];
    snprintf(moved, sizeof moved, "%smoved", key);
    snprintf(second, sizeof second, "%s2", key);
    const char *argv[5];
    int argc = 0;
    for (; argc < 5 && change[argc]; argc++)
        argv[argc] = strcmp(change[argc], "@") == 0       ? key
                   : strcmp(change[argc], "@moved") == 0  ? moved
                   : strcmp(change[argc], "@2") == 0      ? second
                                                          : change[argc];
    kv_reply *r = conn_cmdv(other, argc, argv, NULL);
    if (!r)
        it_fail("%s from the other worker: no reply (%s)", argv[0], conn_error(other));
    kv_reply_free(r);
}

#define WATCH_ROUNDS 600

/* The WATCH drill, part 1: over WATCH_ROUNDS rounds on keys of many shards and
 * namespaces, a key WATCHed on one worker and changed in one of the ways above by a
 * client of the other worker (KVNS_WORKERS=2) - before MULTI or while the transaction
 * is queued - always makes EXEC answer nil and write nothing (LPUSH creates the key,
 * which was missing when WATCHed); a round where nothing changed it (the last kind,
 * and PERSIST of a key without TTL) runs EXEC. */
static void test_watch_drill_rounds(void **state)
{
    kv_conn *c = *state, *other = connect_elsewhere(serving_pid(*state));
    if (!other)
        it_fail("no connection landed on the second worker in 50 bursts");
    size_t kinds = sizeof watch_changes / sizeof watch_changes[0];
    int aborted = 0, ran = 0;
    for (int round = 0; round < WATCH_ROUNDS; round++) {
        const char *const *change = watch_changes[round % kinds];
        bool touches = change[0] && strcmp(change[0], "PERSIST") != 0;
        bool while_queued = round % 2 == 1;
        char key[32];
        snprintf(key, sizeof key, "ns%d/w%d", round % 7, round);
        if (!change[0] || strcmp(change[0], "LPUSH") != 0)
            expect_status(c, "OK", "SET", key, "1", NULL);
        expect_status(c, "OK", "WATCH", key, NULL);
        if (!while_queued && change[0])
            watch_change(other, change, key);
        expect_status(c, "OK", "MULTI", NULL);
        expect_status(c, "QUEUED", "SET", key, "mine", NULL);
        if (while_queued && change[0])
            watch_change(other, change, key);
        kv_reply *r = run(c, "EXEC", NULL, NULL);
        if (touches && r->type != KV_REPLY_NIL)
            it_fail("round %d: %s of %s from the other worker %s, yet EXEC ran", round, change[0], key,
                    while_queued ? "while the transaction was queued" : "after WATCH");
        if (!touches && !(r->type == KV_REPLY_ARRAY && r->count == 1))
            it_fail("round %d: nothing changed %s, yet EXEC did not run", round, key);
        kv_reply *v = run(c, "GET", key, NULL);
        if (touches && kv_reply_is_str(v, "mine"))
            it_fail("round %d: the aborted EXEC wrote %s", round, key);
        kv_reply_free(v);
        aborted += r->type == KV_REPLY_NIL;
        ran += r->type == KV_REPLY_ARRAY;
        kv_reply_free(r);
    }
    print_message("WATCH drill: %d EXECs aborted by a change from the other worker, %d ran untouched\n",
                  aborted, ran);
    conn_close(other);
}

#define CAS_CHILD_INCRS 3000
#define CAS_MAX_ROUNDS  100000

/* The child of test_watch_drill_cas: CAS_CHILD_INCRS INCRs of key from a worker other
 * than pid; exits 0 when each answered. */
static void cas_increments(const char *key, long long pid)
{
    kv_conn *c = connect_elsewhere(pid);
    if (!c)
        _exit(2);
    for (int i = 0; i < CAS_CHILD_INCRS; i++) {
        kv_reply *r = conn_cmd(c, "INCR", key, NULL);
        if (!r || r->type != KV_REPLY_INTEGER)
            _exit(1);
        kv_reply_free(r);
        usleep(200);             /* about one optimistic round: both outcomes are common */
    }
    conn_close(c);
    _exit(0);
}

/* The WATCH drill, part 2: optimistic increments (WATCH, GET, MULTI, SET value+1,
 * EXEC) on one worker race plain INCRs from the other. An EXEC that ran although the
 * key changed after its WATCH would lose an increment: the final value must be the
 * child's INCRs plus exactly the EXECs that ran. */
static void test_watch_drill_cas(void **state)
{
    kv_conn *c = *state;
    const char *key = "cas/counter";
    expect_status(c, "OK", "SET", key, "0", NULL);
    long long mine = serving_pid(c);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        cas_increments(key, mine);
    long long ran = 0, aborted = 0;
    int status = 0;
    pid_t done = 0;
    char next[32];
    for (int round = 0; done == 0 && round < CAS_MAX_ROUNDS; round++) {
        expect_status(c, "OK", "WATCH", key, NULL);
        kv_reply *v = run(c, "GET", key, NULL);
        snprintf(next, sizeof next, "%lld", atoll(v->str ? v->str : "0") + 1);
        kv_reply_free(v);
        expect_status(c, "OK", "MULTI", NULL);
        expect_status(c, "QUEUED", "SET", key, next, NULL);
        kv_reply *r = run(c, "EXEC", NULL, NULL);
        ran += r->type == KV_REPLY_ARRAY;
        aborted += r->type == KV_REPLY_NIL;
        kv_reply_free(r);
        done = waitpid(pid, &status, WNOHANG);
    }
    if (done == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        it_fail("the INCR child did not finish within %d rounds", CAS_MAX_ROUNDS);
    }
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    char want[32];
    snprintf(want, sizeof want, "%lld", CAS_CHILD_INCRS + ran);
    expect_bulk(c, want, "GET", key, NULL);
    print_message("WATCH drill: %lld optimistic increments ran, %lld aborted by the other worker's INCRs\n",
                  ran, aborted);
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
        cmocka_unit_test_setup_teardown(test_subcommands_in_multi, it_test_setup, it_test_teardown),
        cmocka_unit_test_setup_teardown(test_resp3_and_long_arguments, it_test_setup, it_test_teardown),
        cmocka_unit_test_setup_teardown(test_no_multi_command_refused, it_test_setup, it_test_teardown),
        cmocka_unit_test_setup_teardown(test_oom_while_queueing_and_at_exec, it_test_setup, memory_teardown),
        cmocka_unit_test_setup_teardown(test_exec_evicts_for_its_writes, it_test_setup, memory_teardown),
        cmocka_unit_test_setup_teardown(test_watch_drill_rounds, it_test_setup, it_test_teardown),
        cmocka_unit_test_setup_teardown(test_watch_drill_cas, it_test_setup, it_test_teardown),
    };
    return cmocka_run_group_tests(tests, it_group_setup, it_group_teardown);
}
