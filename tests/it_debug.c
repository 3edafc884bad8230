/* it_debug.c - DEBUG is refused unless enable-debug-command allows it (no by default,
 * local for loopback clients only, yes for all), DEBUG SLEEP refuses what is not a
 * finite number of seconds in range, and a stopping server does not wait out a sleep.
 * Each test starts its own kvns. */
#include "harness.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NOT_ALLOWED \
    "ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you " \
    "can run it from a local connection, otherwise you need to set this option in the " \
    "configuration file, and then restart the server."

/* A kvns started with one KVNS_ENABLE_DEBUG_COMMAND setting, and a connection to it
 * (skips the test against redis-server: the setting is kvns's). */
typedef struct debug_server {
    kv_server *srv;
    kv_conn   *c;
} debug_server;

static debug_server start_with(const char *setting)
{
    it_skip_unless_kvns("KVNS_ENABLE_DEBUG_COMMAND settings");
    const char *env[] = { setting, NULL };
    debug_server d = { srv_start(env), NULL };
    assert_non_null(d.srv);
    d.c = conn_open(srv_port(d.srv));
    assert_non_null(d.c);
    return d;
}

/* Closes the connection and stops the server, which must exit cleanly. */
static void stop(debug_server *d)
{
    conn_close(d->c);
    assert_int_equal(srv_stop(d->srv), 0);
}

/* CONFIG GET enable-debug-command answers want. */
static void expect_setting(kv_conn *c, const char *want)
{
    kv_reply *r = conn_cmd(c, "CONFIG", "GET", "enable-debug-command", NULL);
    assert_array_len(r, 2);
    assert_bulk(r->elements[1], want);
    kv_reply_free(r);
}

/* Without the setting (the harness sets yes: override it with no) DEBUG is refused
 * with Redis's text, and CONFIG GET reports the setting. */
static void test_debug_refused_by_default(void **state)
{
    (void)state;
    debug_server d = start_with("KVNS_ENABLE_DEBUG_COMMAND=no");
    kv_conn *c = d.c;
    expect_error(c, NOT_ALLOWED, "DEBUG", "SLEEP", "0", NULL);
    expect_error(c, NOT_ALLOWED, "DEBUG", "CHECK", NULL);
    expect_error(c, NOT_ALLOWED, "DEBUG", "HELP", NULL);
    expect_setting(c, "no");
    expect_status(c, "PONG", "PING", NULL);     /* the connection is still usable */
    stop(&d);
}

/* local: a client on 127.0.0.1 may run DEBUG. */
static void test_debug_local_allows_loopback(void **state)
{
    (void)state;
    debug_server d = start_with("KVNS_ENABLE_DEBUG_COMMAND=local");
    expect_status(d.c, "OK", "DEBUG", "CHECK", NULL);
    expect_status(d.c, "OK", "DEBUG", "SLEEP", "0", NULL);
    expect_setting(d.c, "local");
    stop(&d);
}

/* A bad setting stops the server at start with exit code 2. */
static void test_debug_bad_setting_refused(void **state)
{
    (void)state;
    it_skip_unless_kvns("KVNS_ENABLE_DEBUG_COMMAND settings");
    const char *env[] = { "KVNS_ENABLE_DEBUG_COMMAND=sometimes", NULL };
    kv_server *srv = srv_start(env);
    if (srv) {
        srv_stop(srv);
        fail_msg("kvns started with KVNS_ENABLE_DEBUG_COMMAND=sometimes");
    }
}

/* DEBUG SLEEP takes a finite number of seconds from 0 to 3600: inf, nan, huge,
 * negative and non-numbers are refused without sleeping. */
static void test_debug_sleep_arguments(void **state)
{
    (void)state;
    debug_server d = start_with("KVNS_ENABLE_DEBUG_COMMAND=yes");
    kv_conn *c = d.c;
    static const char *const not_numbers[] = { "inf", "-inf", "+inf", "nan", "abc", "1e", "" };
    for (size_t i = 0; i < sizeof not_numbers / sizeof not_numbers[0]; i++)
        expect_error(c, "ERR value is not a valid float", "DEBUG", "SLEEP", not_numbers[i], NULL);
    static const char *const out_of_range[] = { "-1", "3600.5", "1e300", "9223372036854775808" };
    long long start = mono_ms();
    for (size_t i = 0; i < sizeof out_of_range / sizeof out_of_range[0]; i++)
        expect_error(c, "ERR DEBUG SLEEP takes 0 to 3600 seconds", "DEBUG", "SLEEP", out_of_range[i], NULL);
    assert_true(mono_ms() - start < 2000);
    start = mono_ms();
    expect_status(c, "OK", "DEBUG", "SLEEP", "0.2", NULL);
    long long slept = mono_ms() - start;
    assert_true(slept >= 190);
    stop(&d);
}

/* SIGTERM while a client sleeps for an hour: the server still stops cleanly within
 * the harness's 5 s grace (srv_stop answers -1 when it had to SIGKILL). */
static void test_debug_sleep_ends_on_stop(void **state)
{
    (void)state;
    debug_server d = start_with("KVNS_ENABLE_DEBUG_COMMAND=yes");
    assert_int_equal(conn_send_cmd(d.c, "DEBUG", "SLEEP", "3600", NULL), 0);
    assert_true(conn_no_data_within(d.c, 300));   /* it is sleeping */
    assert_int_equal(srv_stop(d.srv), 0);
    conn_close(d.c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_debug_refused_by_default),
        cmocka_unit_test(test_debug_local_allows_loopback),
        cmocka_unit_test(test_debug_bad_setting_refused),
        cmocka_unit_test(test_debug_sleep_arguments),
        cmocka_unit_test(test_debug_sleep_ends_on_stop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
