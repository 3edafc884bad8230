/* it_lockwait.c - a command whose shard is held elsewhere waits parked, without
 * holding up the other clients of its thread: while one connection holds a shard's
 * lock (DEBUG LOCKSHARD, as a stopped or very slow worker would), clients of other
 * shards served by the same thread as a waiting client keep getting answers, the
 * waiter's pipelined commands are answered in order once the lock frees, INFO counts
 * the wait, a holder that dies frees its waiters, and a waiter that hangs up is
 * dropped cleanly. kvns only. */
#include "harness.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define COLD_KEYS 20
#define PROBES    400

static long long mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* The pid of the worker serving c. */
static long long serving_pid(kv_conn *c) { return it_info_ll(c, "server", "process_id"); }

static long long key_shard(kv_conn *c, const char *key)
{
    kv_reply *r = conn_cmd(c, "DEBUG", "KEYSHARD", key, NULL);
    assert_reply_type(r, KV_REPLY_INTEGER);
    long long s = r->integer;
    kv_reply_free(r);
    return s;
}

/* Fills cold[] with COLD_KEYS keys on shards other than hot's and sets them. */
static void make_cold_keys(kv_conn *c, long long hot_shard, char cold[][32])
{
    int n = 0;
    for (int i = 0; n < COLD_KEYS; i++) {
        snprintf(cold[n], 32, "cold:%d", i);
        if (key_shard(c, cold[n]) == hot_shard)
            continue;
        expect_status(c, "OK", "SET", cold[n], cold[n], NULL);
        n++;
    }
}

static int cmp_ll(const void *x, const void *y)
{
    long long a = *(const long long *)x, b = *(const long long *)y;
    return a < b ? -1 : a > b;
}

/* Sends up to PROBES GETs of the cold keys one at a time on c (for at most 0.9 s);
 * stores the sorted latencies in lat[] and returns how many were sent. */
static int probe_cold(kv_conn *c, char cold[][32], long long *lat)
{
    long long start = mono_us();
    int n = 0;
    while (n < PROBES && mono_us() - start < 900000) {
        const char *k = cold[n % COLD_KEYS];
        long long t0 = mono_us();
        expect_bulk(c, k, "GET", k, NULL);
        lat[n++] = mono_us() - t0;
    }
    qsort(lat, (size_t)n, sizeof lat[0], cmp_ll);
    return n;
}

/* The cast of a lock-wait test: kvns with 2 single-thread workers; "hot" holds "v";
 * the holder connection holds hot's shard for hold_ms (DEBUG LOCKSHARD, its reply
 * read by the test later); a waiter and an observer connect meanwhile, so they land
 * on the other worker: the holder's only thread is busy and cannot accept them. */
typedef struct lockwait_setup {
    kv_server *srv;
    kv_conn   *holder, *waiter, *other;
    long long  holder_pid;
} lockwait_setup;

static lockwait_setup lockwait_start(const char *hold_ms)
{
    it_skip_unless_kvns("DEBUG LOCKSHARD lock waits");
    const char *env[] = { "KVNS_WORKERS=2", "KVNS_THREADS=1", NULL };
    lockwait_setup ls = { srv_start(env), NULL, NULL, NULL, 0 };
    assert_non_null(ls.srv);
    ls.holder = conn_open(srv_port(ls.srv));
    assert_non_null(ls.holder);
    ls.holder_pid = serving_pid(ls.holder);
    expect_status(ls.holder, "OK", "SET", "hot", "v", NULL);
    assert_int_equal(conn_send_cmd(ls.holder, "DEBUG", "LOCKSHARD", "hot", hold_ms, NULL), 0);
    sleep_ms(100);
    ls.waiter = it_connect_elsewhere(srv_port(ls.srv), ls.holder_pid);
    ls.other = it_connect_elsewhere(srv_port(ls.srv), ls.holder_pid);
    return ls;
}

/* Reads the holder's +OK (the hold is over). */
static void lockwait_hold_ended(lockwait_setup *ls)
{
    conn_set_timeout(ls->holder, 10000);
    kv_reply *r = conn_read_reply(ls->holder);
    assert_status(r, "OK");
    kv_reply_free(r);
}

/* Closes the connections and stops the server (it must exit cleanly). */
static void lockwait_stop(lockwait_setup *ls)
{
    conn_close(ls->holder);
    conn_close(ls->waiter);
    conn_close(ls->other);
    assert_int_equal(srv_stop(ls->srv), 0);
}

/* While the shard of "hot" is held for 2.5 s, a client of the same thread as a parked
 * GET hot keeps getting its GETs of other shards answered (compared with the same
 * probes once nothing is held); the parked client's pipelined GET and INCR are then
 * answered, in order, and INFO counts the lock wait. */
static void test_other_shards_served_while_one_is_held(void **state)
{
    (void)state;
    lockwait_setup ls = lockwait_start("2500");
    kv_conn *waiter = ls.waiter, *other = ls.other;
    long long waits_before = it_info_ll(other, "stats", "kvns_lock_waits");
    char cold[COLD_KEYS][32];
    make_cold_keys(other, key_shard(other, "hot"), cold);
    assert_int_equal(conn_send_cmd(waiter, "GET", "hot", NULL), 0);
    assert_int_equal(conn_send_cmd(waiter, "INCR", "counter", NULL), 0);
    assert_true(conn_no_data_within(waiter, 200));   /* parked behind the lock */

    long long lat[PROBES];
    int probes = probe_cold(other, cold, lat);
    long long worst = lat[probes - 1];
    print_message("while a shard was held: %d GETs of other shards on the waiter's thread, "
                  "p50 %lld us, p99 %lld us, max %lld us\n", probes, lat[probes / 2],
                  lat[probes * 99 / 100], worst);
    assert_true(probes >= 50);
    /* a thread stalled behind the lock would answer nothing for over a second */
    if (worst > 500000)
        fail_msg("a GET of another shard waited %lld us behind the held shard", worst);

    conn_set_timeout(waiter, 10000);
    kv_reply *r = conn_read_reply(waiter);
    assert_bulk(r, "v");
    kv_reply_free(r);
    r = conn_read_reply(waiter);
    assert_int(r, 1);
    kv_reply_free(r);
    lockwait_hold_ended(&ls);
    long long idle[PROBES];
    int n = probe_cold(other, cold, idle);
    print_message("nothing held: %d GETs, p50 %lld us, p99 %lld us, max %lld us\n", n,
                  idle[n / 2], idle[n * 99 / 100], idle[n - 1]);
    assert_true(it_info_ll(other, "stats", "kvns_lock_waits") >= waits_before + 1);
    assert_true(it_info_ll(other, "stats", "kvns_lock_wait_usec") >= 500000);
    expect_status(other, "OK", "DEBUG", "CHECK", NULL);
    lockwait_stop(&ls);
}

/* The holder's worker is SIGKILLed while a client waits for its shard: the waiter
 * recovers the lock, gets its answer, and the store checks clean. */
static void test_waiter_freed_when_holder_dies(void **state)
{
    (void)state;
    lockwait_setup ls = lockwait_start("60000");
    assert_int_equal(conn_send_cmd(ls.waiter, "APPEND", "hot", "w", NULL), 0);
    assert_true(conn_no_data_within(ls.waiter, 200));
    assert_int_equal(kill((pid_t)ls.holder_pid, SIGKILL), 0);
    conn_set_timeout(ls.waiter, 10000);
    kv_reply *r = conn_read_reply(ls.waiter);
    assert_int(r, 2);
    kv_reply_free(r);
    expect_bulk(ls.other, "vw", "GET", "hot", NULL);
    expect_status(ls.other, "OK", "DEBUG", "CHECK", NULL);
    lockwait_stop(&ls);
}

/* A parked client that hangs up is dropped once its command has run: the write it
 * sent still applies (it was received), the connection count comes back down, and
 * the store checks clean. */
static void test_parked_client_hangs_up(void **state)
{
    (void)state;
    lockwait_setup ls = lockwait_start("500");
    long long before = it_info_ll(ls.other, "clients", "connected_clients");
    assert_int_equal(conn_send_cmd(ls.waiter, "APPEND", "hot", "x", NULL), 0);
    assert_int_equal(conn_send_cmd(ls.waiter, "GET", "hot", NULL), 0);
    assert_true(conn_no_data_within(ls.waiter, 100));
    conn_close(ls.waiter);
    lockwait_hold_ended(&ls);
    ls.waiter = conn_open(srv_port(ls.srv));           /* lockwait_stop closes it */
    assert_non_null(ls.waiter);
    long long now = 0;
    for (int i = 0; i < 100; i++) {
        now = it_info_ll(ls.other, "clients", "connected_clients");
        if (now <= before)                             /* the new waiter replaces the old */
            break;
        sleep_ms(20);
    }
    if (now > before)
        fail_msg("connected_clients stayed at %lld (was %lld) after the parked client left", now, before);
    expect_bulk(ls.other, "vx", "GET", "hot", NULL);
    expect_status(ls.other, "OK", "DEBUG", "CHECK", NULL);
    lockwait_stop(&ls);
}

/* DEBUG LOCKSHARD refuses a duration outside 0..60000 ms. */
static void test_lockshard_arguments(void **state)
{
    (void)state;
    it_skip_unless_kvns("DEBUG LOCKSHARD lock waits");
    kv_server *srv = srv_start(NULL);
    assert_non_null(srv);
    kv_conn *c = conn_open(srv_port(srv));
    assert_non_null(c);
    expect_error(c, "ERR DEBUG LOCKSHARD takes 0 to 60000 milliseconds", "DEBUG", "LOCKSHARD", "k", "-1", NULL);
    expect_error(c, "ERR DEBUG LOCKSHARD takes 0 to 60000 milliseconds", "DEBUG", "LOCKSHARD", "k", "60001", NULL);
    expect_error(c, "ERR DEBUG LOCKSHARD takes 0 to 60000 milliseconds", "DEBUG", "LOCKSHARD", "k", "x", NULL);
    expect_status(c, "OK", "DEBUG", "LOCKSHARD", "k", "0", NULL);
    conn_close(c);
    assert_int_equal(srv_stop(srv), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_other_shards_served_while_one_is_held),
        cmocka_unit_test(test_waiter_freed_when_holder_dies),
        cmocka_unit_test(test_parked_client_hangs_up),
        cmocka_unit_test(test_lockshard_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
