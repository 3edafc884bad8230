/* it_slowlog.c - integration tests for SLOWLOG and the latency monitor (LATENCY LATEST,
 * HISTORY, RESET, DOCTOR, GRAPH) and their CONFIG settings, run against kvns or
 * redis-server (see harness.h). kvns keeps both in the shared arena, one ring per
 * worker thread: the tests open connections on every worker (INFO's kvns_worker_slot)
 * and check that each sees the others' entries and settings.
 *
 * Against redis-server, DEBUG SLEEP needs `enable-debug-command yes`: point
 * REDIS_SERVER_BIN at a wrapper that adds it. */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WORKERS          2          /* the harness's default KVNS_WORKERS */
#define MAX_PROBES       20         /* connections tried to reach every worker */

/* ---- helpers -------------------------------------------------------------------- */

/* The worker slot serving c (kvns_worker_slot of INFO server; 0 for redis-server). */
static int worker_slot_of(kv_conn *c)
{
    if (srv_target_is_redis())
        return 0;
    kv_reply *r = it_run(c, "INFO", "server", NULL);
    if (r->type != KV_REPLY_BULK && r->type != KV_REPLY_VERBATIM)
        it_fail("INFO server did not answer a bulk string");
    long long slot = info_text_ll(r->str, "kvns_worker_slot", -1);
    kv_reply_free(r);
    if (slot < 0 || slot >= WORKERS)
        it_fail("INFO server has no kvns_worker_slot in 0..%d", WORKERS - 1);
    return (int)slot;
}

/* Opens one connection served by each worker into per_worker[0..WORKERS) (for
 * redis-server, WORKERS connections to the one server). Idle workers tend to win every
 * accept, so the workers already found are kept busy (a pipelined DEBUG SLEEP) while
 * the next connection is opened: only the others wait for it. Call before
 * fresh_slowlog (the sleeps may be logged). */
static void connect_every_worker(kv_conn **per_worker)
{
    int found = 0;
    for (int w = 0; w < WORKERS; w++)
        per_worker[w] = NULL;
    if (srv_target_is_redis()) {
        for (int w = 0; w < WORKERS; w++)
            per_worker[w] = it_connect();
        return;
    }
    for (int tried = 0; tried < MAX_PROBES && found < WORKERS; tried++) {
        for (int w = 0; w < WORKERS; w++) {
            if (per_worker[w] && conn_send_cmd(per_worker[w], "DEBUG", "SLEEP", "0.1", NULL) != 0)
                it_fail("cannot send DEBUG SLEEP: %s", conn_error(per_worker[w]));
        }
        kv_conn *probe = it_connect();
        int slot = worker_slot_of(probe);
        for (int w = 0; w < WORKERS; w++) {
            if (per_worker[w]) {
                kv_reply *r = conn_read_reply(per_worker[w]);
                assert_status(r, "OK");
                kv_reply_free(r);
            }
        }
        if (!per_worker[slot]) {
            per_worker[slot] = probe;
            found++;
        } else {
            conn_close(probe);
        }
    }
    if (found < WORKERS)
        it_fail("%d connections all landed on fewer than %d workers", MAX_PROBES, WORKERS);
}

/* Closes n connections. */
static void close_all(kv_conn **conns, int n)
{
    for (int i = 0; i < n; i++)
        conn_close(conns[i]);
}

/* Puts every setting back to a known state, empties the latency monitor, sets
 * slowlog-log-slower-than and empties the slow log last (with a threshold of 0 the
 * SLOWLOG RESET itself is then its only entry, as in Redis). */
static void fresh_slowlog(kv_conn *c, const char *slower_than)
{
    expect_status(c, "OK", "CONFIG", "SET", "slowlog-log-slower-than", "-1", NULL);
    expect_status(c, "OK", "CONFIG", "SET", "slowlog-max-len", "128", NULL);
    expect_status(c, "OK", "CONFIG", "SET", "latency-monitor-threshold", "0", NULL);
    kv_reply_free(it_run(c, "LATENCY", "RESET", NULL));
    expect_status(c, "OK", "CONFIG", "SET", "slowlog-log-slower-than", slower_than, NULL);
    expect_status(c, "OK", "SLOWLOG", "RESET", NULL);
}

/* Stops recording (the CONFIG SET that disables the slow log is not logged). */
static void stop_slowlog(kv_conn *c)
{
    expect_status(c, "OK", "CONFIG", "SET", "slowlog-log-slower-than", "-1", NULL);
}

/* Checks that entry is [id, time, microseconds, [args], addr, name] with the right
 * types and a time within a few seconds of now. */
static void assert_entry_shape(const kv_reply *entry)
{
    char got[512];
    if (!entry || entry->type != KV_REPLY_ARRAY || entry->count != 6)
        it_fail("slow log entry is not a 6-element array: %s", kv_reply_describe(entry, got, sizeof got));
    const kv_reply *const *f = (const kv_reply *const *)entry->elements;
    if (f[0]->type != KV_REPLY_INTEGER || f[0]->integer < 0 || f[1]->type != KV_REPLY_INTEGER ||
        f[2]->type != KV_REPLY_INTEGER || f[2]->integer < 0 || f[3]->type != KV_REPLY_ARRAY ||
        f[4]->type != KV_REPLY_BULK || f[5]->type != KV_REPLY_BULK)
        it_fail("slow log entry has wrong field types: %s", kv_reply_describe(entry, got, sizeof got));
    long long now = now_ms() / 1000;
    if (f[1]->integer < now - 10 || f[1]->integer > now + 10)
        it_fail("slow log entry time %lld is not close to now (%lld)", f[1]->integer, now);
    for (size_t i = 0; i < f[3]->count; i++) {
        if (f[3]->elements[i]->type != KV_REPLY_BULK)
            it_fail("slow log argument %zu is not a bulk string: %s", i,
                    kv_reply_describe(entry, got, sizeof got));
    }
}

/* True when the entry's arguments are exactly the n words. */
static bool entry_args_are(const kv_reply *entry, const char *const *words, size_t n)
{
    const kv_reply *args = entry->elements[3];
    if (args->count != n)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!kv_reply_is_str(args->elements[i], words[i]))
            return false;
    }
    return true;
}

/* Index in log (a SLOWLOG GET reply) of the first entry whose arguments are the
 * NULL-terminated words, or -1. */
static long find_entry(const kv_reply *log, const char *first, ...)
{
    const char *words[40];
    size_t n = 0;
    va_list ap;
    va_start(ap, first);
    for (const char *w = first; w && n < 40; w = va_arg(ap, const char *))
        words[n++] = w;
    va_end(ap);
    for (size_t i = 0; i < log->count; i++) {
        if (entry_args_are(log->elements[i], words, n))
            return (long)i;
    }
    return -1;
}

/* SLOWLOG GET -1, every entry shape-checked. */
static kv_reply *slowlog_all(kv_conn *c)
{
    kv_reply *log = it_run(c, "SLOWLOG", "GET", "-1", NULL);
    assert_reply_type(log, KV_REPLY_ARRAY);
    for (size_t i = 0; i < log->count; i++)
        assert_entry_shape(log->elements[i]);
    return log;
}

/* The addr=... field of CLIENT INFO into buf. */
static void client_addr(kv_conn *c, char *buf, size_t cap)
{
    kv_reply *r = it_run(c, "CLIENT", "INFO", NULL);
    const char *at = r->str ? strstr(r->str, "addr=") : NULL;
    if (!at)
        it_fail("CLIENT INFO has no addr= field");
    at += 5;
    size_t n = strcspn(at, " ");
    if (n >= cap)
        n = cap - 1;
    memcpy(buf, at, n);
    buf[n] = '\0';
    kv_reply_free(r);
}

/* The value CONFIG GET reports for name (into buf). */
static void config_get(kv_conn *c, const char *name, char *buf, size_t cap)
{
    kv_reply *r = it_run(c, "CONFIG", "GET", name, NULL);
    const kv_reply *v = kv_reply_map_get(r, name);
    if (!v || !v->str)
        it_fail("CONFIG GET %s has no value", name);
    snprintf(buf, cap, "%s", v->str);
    kv_reply_free(r);
}

/* ---- settings ----------------------------------------------------------------------- */

/* Redis's defaults (this test runs first, on a fresh server). */
static void test_config_defaults(void **state)
{
    kv_conn *c = *state;
    char v[64];
    config_get(c, "slowlog-log-slower-than", v, sizeof v);
    assert_string_equal(v, "10000");
    config_get(c, "slowlog-max-len", v, sizeof v);
    assert_string_equal(v, "128");
    config_get(c, "latency-monitor-threshold", v, sizeof v);
    assert_string_equal(v, "0");
    /* 10 ms by default: a quick command is not logged */
    expect_status(c, "OK", "SLOWLOG", "RESET", NULL);
    expect_status(c, "PONG", "PING", NULL);
    expect_int(c, 0, "SLOWLOG", "LEN", NULL);
}

/* Redis 7's ranges and error texts; a valid CONFIG SET is seen by every worker. */
static void test_config_set_ranges_and_sharing(void **state)
{
    kv_conn *c = *state;
    expect_error(c, "ERR CONFIG SET failed (possibly related to argument 'slowlog-log-slower-than') - "
                    "argument must be between -1 and 9223372036854775807 inclusive",
                 "CONFIG", "SET", "slowlog-log-slower-than", "-2", NULL);
    expect_error(c, "ERR CONFIG SET failed (possibly related to argument 'slowlog-log-slower-than') - "
                    "argument couldn't be parsed into an integer",
                 "CONFIG", "SET", "slowlog-log-slower-than", "abc", NULL);
    expect_error(c, "ERR CONFIG SET failed (possibly related to argument 'slowlog-max-len') - "
                    "argument must be between 0 and 9223372036854775807 inclusive",
                 "CONFIG", "SET", "slowlog-max-len", "-1", NULL);
    expect_error(c, "ERR CONFIG SET failed (possibly related to argument 'latency-monitor-threshold') - "
                    "argument must be between 0 and 9223372036854775807 inclusive",
                 "CONFIG", "SET", "latency-monitor-threshold", "-1", NULL);
    kv_conn *w[WORKERS];
    connect_every_worker(w);
    expect_status(w[0], "OK", "CONFIG", "SET", "slowlog-log-slower-than", "12345", "slowlog-max-len", "77",
                  "latency-monitor-threshold", "250", NULL);
    for (int i = 0; i < WORKERS; i++) {
        char v[64];
        config_get(w[i], "slowlog-log-slower-than", v, sizeof v);
        assert_string_equal(v, "12345");
        config_get(w[i], "slowlog-max-len", v, sizeof v);
        assert_string_equal(v, "77");
        config_get(w[i], "latency-monitor-threshold", v, sizeof v);
        assert_string_equal(v, "250");
    }
    /* all or nothing: a bad pair leaves the good one unapplied */
    expect_error_prefix(w[1], "ERR CONFIG SET failed", "CONFIG", "SET", "slowlog-max-len", "5",
                        "slowlog-log-slower-than", "x", NULL);
    char v[64];
    config_get(w[0], "slowlog-max-len", v, sizeof v);
    assert_string_equal(v, "77");
    expect_status(w[1], "OK", "CONFIG", "SET", "slowlog-log-slower-than", "10000", "slowlog-max-len", "128",
                  "latency-monitor-threshold", "0", NULL);
    close_all(w, WORKERS);
}

/* ---- SLOWLOG ---------------------------------------------------------------------------- */

/* Commands run on connections of every worker all show up in one SLOWLOG GET (read
 * from each worker), newest first, with each connection's address and name. */
static void test_entries_from_every_worker(void **state)
{
    kv_conn *c = *state;
    kv_conn *w[WORKERS];
    connect_every_worker(w);
    char addr[WORKERS][64], name[WORKERS][32], key[WORKERS][32];
    for (int i = 0; i < WORKERS; i++) {
        client_addr(w[i], addr[i], sizeof addr[i]);
        snprintf(name[i], sizeof name[i], "conn-%d", i);
        snprintf(key[i], sizeof key[i], "key-%d", i);
        expect_status(w[i], "OK", "CLIENT", "SETNAME", name[i], NULL);
    }
    fresh_slowlog(c, "0");
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < WORKERS; i++) {
            char val[32];
            snprintf(val, sizeof val, "v%d", round);
            expect_status(w[i], "OK", "SET", key[i], val, NULL);
        }
    }
    stop_slowlog(c);
    for (int reader = 0; reader < WORKERS; reader++) {
        kv_reply *log = slowlog_all(w[reader]);
        /* SLOWLOG RESET, 3 rounds of SETs: nothing else was logged */
        assert_int_equal(log->count, 1 + 3 * WORKERS);
        assert_true(entry_args_are(log->elements[log->count - 1], (const char *[]){ "SLOWLOG", "RESET" }, 2));
        /* newest first: the SETs come back in the reverse order of their execution */
        long long prev_id = -1;
        for (size_t e = 0; e < log->count; e++) {
            long long id = log->elements[e]->elements[0]->integer;
            if (prev_id >= 0 && id >= prev_id)
                it_fail("entry ids are not strictly decreasing: %lld after %lld", id, prev_id);
            prev_id = id;
        }
        for (int round = 2, e = 0; round >= 0; round--) {
            for (int i = WORKERS - 1; i >= 0; i--, e++) {
                char val[32];
                snprintf(val, sizeof val, "v%d", round);
                const kv_reply *entry = log->elements[e];
                assert_true(entry_args_are(entry, (const char *[]){ "SET", key[i], val }, 3));
                assert_bulk(entry->elements[4], addr[i]);
                assert_bulk(entry->elements[5], name[i]);
            }
        }
        kv_reply_free(log);
        expect_int(w[reader], 1 + 3 * WORKERS, "SLOWLOG", "LEN", NULL);
    }
    close_all(w, WORKERS);
}

/* SLOWLOG LEN counts the entries of every worker; RESET from any worker clears all of
 * them (and is itself the first entry after it when everything is logged). */
static void test_len_and_reset(void **state)
{
    kv_conn *c = *state;
    kv_conn *w[WORKERS];
    connect_every_worker(w);
    fresh_slowlog(c, "0");                       /* log: SLOWLOG RESET */
    for (int i = 0; i < WORKERS; i++) {
        expect_status(w[i], "PONG", "PING", NULL);
        expect_status(w[i], "PONG", "PING", NULL);
    }
    expect_int(c, 1 + 2 * WORKERS, "SLOWLOG", "LEN", NULL);
    expect_int(w[WORKERS - 1], 2 + 2 * WORKERS, "SLOWLOG", "LEN", NULL);  /* counts the LEN above */
    expect_status(w[WORKERS - 1], "OK", "SLOWLOG", "RESET", NULL);
    for (int i = 0; i < WORKERS; i++)
        expect_int(w[i], 1 + i, "SLOWLOG", "LEN", NULL);          /* RESET, then the LENs */
    kv_reply *log = slowlog_all(c);
    assert_int_equal(log->count, 1 + WORKERS);
    assert_true(find_entry(log, "SLOWLOG", "RESET", NULL) == (long)WORKERS);
    kv_reply_free(log);
    stop_slowlog(c);
    expect_status(c, "OK", "SLOWLOG", "RESET", NULL);
    expect_int(c, 0, "SLOWLOG", "LEN", NULL);
    expect_array_len(c, 0, "SLOWLOG", "GET", NULL);
    close_all(w, WORKERS);
}

/* slowlog-max-len keeps the newest entries; trimmed entries do not come back when the
 * limit grows; 0 empties the log; a lower limit applies at once. */
static void test_max_len(void **state)
{
    kv_conn *c = *state;
    kv_conn *w[WORKERS];
    connect_every_worker(w);
    fresh_slowlog(c, "0");
    expect_status(c, "OK", "CONFIG", "SET", "slowlog-max-len", "3", NULL);
    expect_int(c, 2, "SLOWLOG", "LEN", NULL);    /* SLOWLOG RESET, CONFIG SET */
    for (int i = 0; i < 6; i++)
        expect_bulk(w[i % WORKERS], i % 2 ? "odd" : "even", "ECHO", i % 2 ? "odd" : "even", NULL);
    expect_int(c, 3, "SLOWLOG", "LEN", NULL);
    kv_reply *log = slowlog_all(w[0]);
    assert_int_equal(log->count, 3);
    assert_true(entry_args_are(log->elements[0], (const char *[]){ "SLOWLOG", "LEN" }, 2));
    assert_true(entry_args_are(log->elements[1], (const char *[]){ "ECHO", "odd" }, 2));
    assert_true(entry_args_are(log->elements[2], (const char *[]){ "ECHO", "even" }, 2));
    kv_reply_free(log);
    /* a larger limit does not bring trimmed entries back */
    expect_status(c, "OK", "CONFIG", "SET", "slowlog-max-len", "100", NULL);
    expect_int(c, 4, "SLOWLOG", "LEN", NULL);    /* GET, LEN, ECHO odd, CONFIG SET */
    /* 0: every entry goes at once (Redis adds, then trims) */
    expect_status(c, "OK", "CONFIG", "SET", "slowlog-max-len", "0", NULL);
    expect_int(c, 0, "SLOWLOG", "LEN", NULL);
    expect_status(w[1], "PONG", "PING", NULL);
    expect_int(c, 0, "SLOWLOG", "LEN", NULL);
    expect_status(c, "OK", "CONFIG", "SET", "slowlog-max-len", "128", NULL);
    expect_int(c, 1, "SLOWLOG", "LEN", NULL);    /* that CONFIG SET */
    /* a lower limit applies at once, even when the CONFIG SET itself is not logged */
    fresh_slowlog(c, "50000");
    for (int i = 0; i < 3; i++)
        expect_status(w[i % WORKERS], "OK", "DEBUG", "SLEEP", "0.06", NULL);
    expect_int(c, 3, "SLOWLOG", "LEN", NULL);
    expect_status(c, "OK", "CONFIG", "SET", "slowlog-max-len", "1", NULL);
    expect_int(c, 1, "SLOWLOG", "LEN", NULL);
    expect_status(c, "OK", "CONFIG", "SET", "slowlog-max-len", "128", NULL);
    expect_int(c, 1, "SLOWLOG", "LEN", NULL);
    stop_slowlog(c);
    close_all(w, WORKERS);
}

/* SLOWLOG GET [count]: 10 by default, -1 for all, 0 for none; Redis 7's errors. */
static void test_get_count(void **state)
{
    kv_conn *c = *state;
    fresh_slowlog(c, "0");
    for (int i = 0; i < 14; i++)
        expect_status(c, "PONG", "PING", NULL);
    stop_slowlog(c);                                     /* 15 entries */
    expect_array_len(c, 10, "SLOWLOG", "GET", NULL);
    expect_array_len(c, 3, "SLOWLOG", "GET", "3", NULL);
    expect_array_len(c, 0, "SLOWLOG", "GET", "0", NULL);
    expect_array_len(c, 15, "SLOWLOG", "GET", "-1", NULL);
    expect_array_len(c, 15, "SLOWLOG", "GET", "1000", NULL);
    expect_error(c, "ERR count should be greater than or equal to -1", "SLOWLOG", "GET", "-2", NULL);
    expect_error(c, "ERR count should be greater than or equal to -1", "SLOWLOG", "GET", "ten", NULL);
    expect_error(c, "ERR unknown subcommand or wrong number of arguments for 'get'. Try SLOWLOG HELP.",
                 "SLOWLOG", "get", "1", "2", NULL);
    expect_error(c, "ERR wrong number of arguments for 'slowlog|len' command", "SLOWLOG", "LEN", "x", NULL);
    expect_error(c, "ERR unknown subcommand 'NOPE'. Try SLOWLOG HELP.", "SLOWLOG", "NOPE", NULL);
}

/* Arguments longer than 128 bytes keep 128 and say how many bytes were cut; more than
 * 32 arguments keep 31 and say how many more there were. */
static void test_argument_truncation(void **state)
{
    kv_conn *c = *state;
    char exact[129], longer[201], cut[160];
    memset(exact, 'e', 128);
    exact[128] = '\0';
    memset(longer, 'x', 200);
    longer[200] = '\0';
    memcpy(cut, longer, 128);
    strcpy(cut + 128, "... (72 more bytes)");
    /* DEL k1 k2 ... k39: the first 32, 33 and 40 words are three commands */
    const char *del[40];
    char keys[40][16];
    del[0] = "DEL";
    for (int i = 1; i < 40; i++) {
        snprintf(keys[i], sizeof keys[i], "k%d", i);
        del[i] = keys[i];
    }
    fresh_slowlog(c, "0");
    expect_status(c, "OK", "SET", "a", exact, NULL);
    expect_status(c, "OK", "SET", "b", longer, NULL);
    const int del_argc[3] = { 32, 33, 40 };
    for (int i = 0; i < 3; i++) {
        kv_reply *r = conn_cmdv(c, del_argc[i], del, NULL);
        assert_int(r, 0);
        kv_reply_free(r);
    }
    stop_slowlog(c);
    kv_reply *log = slowlog_all(c);
    assert_int_equal(log->count, 6);
    assert_true(find_entry(log, "SET", "a", exact, NULL) >= 0);
    assert_true(find_entry(log, "SET", "b", cut, NULL) >= 0);
    /* 32 arguments: all kept */
    assert_true(entry_args_are(log->elements[2], del, 32));
    /* 33 arguments: 31, then "... (2 more arguments)" */
    const kv_reply *args = log->elements[1]->elements[3];
    assert_int_equal(args->count, 32);
    for (int i = 0; i < 31; i++)
        assert_bulk(args->elements[i], del[i]);
    assert_bulk(args->elements[31], "... (2 more arguments)");
    /* 40 arguments: "... (9 more arguments)" */
    args = log->elements[0]->elements[3];
    assert_int_equal(args->count, 32);
    for (int i = 0; i < 31; i++)
        assert_bulk(args->elements[i], del[i]);
    assert_bulk(args->elements[31], "... (9 more arguments)");
    kv_reply_free(log);
}

/* Entries with many long arguments: a kvns worker's string ring holds about 25 of the
 * largest, so older ones are dropped whole (never shown torn); SLOWLOG LEN agrees. */
static void test_large_entries(void **state)
{
    kv_conn *c = *state;
    char big[200], cut[160];
    memset(big, 'b', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    memcpy(cut, big, 128);
    strcpy(cut + 128, "... (71 more bytes)");
    const char *argv[32];
    argv[0] = "ECHO";
    for (int i = 1; i < 32; i++)
        argv[i] = big;
    fresh_slowlog(c, "0");
    for (int i = 0; i < 40; i++) {
        kv_reply *r = conn_cmdv(c, 32, argv, NULL);   /* arity error: not logged */
        kv_reply_free(r);
        r = conn_cmdv(c, 2, (const char *[]){ "ECHO", big }, NULL);
        assert_bulk(r, big);
        kv_reply_free(r);
        r = it_run(c, "MSET", "a", big, "b", big, "c", big, "d", big, "e", big, "f", big, "g", big, "h", big,
                "i", big, "j", big, "k", big, "l", big, "m", big, "n", big, "o", big, NULL);
        assert_status(r, "OK");
        kv_reply_free(r);
    }
    stop_slowlog(c);
    kv_reply *log = slowlog_all(c);
    if (log->count < 20 || log->count > 81)
        it_fail("expected 20..81 entries, got %zu", log->count);
    /* newest first: MSET a <big> ... o <big>, ECHO <big>, MSET, ECHO, ... */
    for (size_t e = 0; e < log->count; e++) {
        const kv_reply *args = log->elements[e]->elements[3];
        if (e > 0)
            assert_true(log->elements[e]->elements[0]->integer < log->elements[e - 1]->elements[0]->integer);
        if (e + 1 == log->count && kv_reply_is_str(args->elements[0], "SLOWLOG"))
            break;                                   /* the oldest: SLOWLOG RESET */
        if (e % 2 == 0) {
            assert_int_equal(args->count, 31);
            assert_bulk(args->elements[0], "MSET");
            for (size_t a = 2; a < args->count; a += 2)
                assert_bulk(args->elements[a], cut);
        } else {
            assert_int_equal(args->count, 2);
            assert_bulk(args->elements[0], "ECHO");
            assert_bulk(args->elements[1], cut);
        }
    }
    expect_int(c, (long long)log->count, "SLOWLOG", "LEN", NULL);
    kv_reply_free(log);
}

/* AUTH's arguments, HELLO's AUTH pair and sensitive CONFIG SET values are redacted. */
static void test_secrets_redacted(void **state)
{
    kv_conn *c = *state;
    fresh_slowlog(c, "0");
    expect_error_prefix(c, "WRONGPASS", "AUTH", "someone", "secret", NULL);
    expect_error_prefix(c, "ERR AUTH", "AUTH", "secret", NULL);
    kv_reply_free(it_run(c, "HELLO", "2", "AUTH", "default", "secret", "SETNAME", "hello-name", NULL));
    kv_reply_free(it_run(c, "CONFIG", "SET", "requirepass", "", NULL));
    stop_slowlog(c);
    kv_reply *log = slowlog_all(c);
    assert_true(find_entry(log, "AUTH", "(redacted)", "(redacted)", NULL) >= 0);
    assert_true(find_entry(log, "AUTH", "(redacted)", NULL) >= 0);
    long hello = find_entry(log, "HELLO", "2", "AUTH", "(redacted)", "(redacted)", "SETNAME", "hello-name", NULL);
    assert_true(hello >= 0);
    assert_bulk(log->elements[hello]->elements[5], "hello-name");
    assert_true(find_entry(log, "CONFIG", "SET", "requirepass", "(redacted)", NULL) >= 0);
    kv_reply_free(log);
}

/* Commands refused before running (unknown, wrong arity) are not logged. */
static void test_refused_commands_not_logged(void **state)
{
    kv_conn *c = *state;
    fresh_slowlog(c, "0");
    expect_error_prefix(c, "ERR unknown command", "NOSUCHCOMMAND", "x", NULL);
    expect_error(c, "ERR wrong number of arguments for 'get' command", "GET", NULL);
    expect_error(c, "ERR wrong number of arguments for 'set' command", "SET", "k", NULL);
    stop_slowlog(c);
    kv_reply *log = slowlog_all(c);
    assert_int_equal(log->count, 1);                     /* SLOWLOG RESET */
    kv_reply_free(log);
}

/* Only commands at least slowlog-log-slower-than microseconds long are logged, with
 * their duration; -1 logs nothing. */
static void test_threshold(void **state)
{
    kv_conn *c = *state;
    kv_conn *w[WORKERS];
    connect_every_worker(w);
    fresh_slowlog(c, "100000");
    expect_status(w[1], "OK", "DEBUG", "SLEEP", "0.15", NULL);
    expect_status(w[0], "PONG", "PING", NULL);
    expect_status(w[0], "OK", "DEBUG", "SLEEP", "0.01", NULL);
    kv_reply *log = slowlog_all(w[0]);
    assert_int_equal(log->count, 1);
    assert_true(entry_args_are(log->elements[0], (const char *[]){ "DEBUG", "SLEEP", "0.15" }, 3));
    assert_int_range(log->elements[0]->elements[2], 150000, 5000000);
    kv_reply_free(log);
    stop_slowlog(c);
    expect_status(w[1], "OK", "DEBUG", "SLEEP", "0.12", NULL);
    expect_int(c, 1, "SLOWLOG", "LEN", NULL);
    close_all(w, WORKERS);
}

/* Writers on every worker pipeline commands while another connection reads the log:
 * every entry read is whole, ids only go down, and at the end the log holds exactly
 * the newest slowlog-max-len entries, with consecutive ids. */
static void test_concurrent_writers_and_reader(void **state)
{
    kv_conn *c = *state;
    kv_conn *w[WORKERS];
    connect_every_worker(w);
    fresh_slowlog(c, "0");
    char value[300];
    memset(value, 'v', sizeof value - 1);
    value[sizeof value - 1] = '\0';
    for (int round = 0; round < 10; round++) {
        for (int i = 0; i < WORKERS; i++) {
            for (int n = 0; n < 50; n++) {
                char key[48];
                snprintf(key, sizeof key, "w%d-r%d-n%d", i, round, n);
                if (conn_send_cmd(w[i], "SET", key, n % 2 ? value : "short", NULL) != 0)
                    it_fail("pipelined SET failed: %s", conn_error(w[i]));
            }
        }
        kv_reply *log = slowlog_all(c);        /* while the SETs run */
        for (size_t e = 1; e < log->count; e++)
            assert_true(log->elements[e]->elements[0]->integer < log->elements[e - 1]->elements[0]->integer);
        kv_reply_free(log);
        for (int i = 0; i < WORKERS; i++) {
            for (int n = 0; n < 50; n++) {
                kv_reply *r = conn_read_reply(w[i]);
                assert_status(r, "OK");
                kv_reply_free(r);
            }
        }
    }
    stop_slowlog(c);
    kv_reply *log = slowlog_all(c);
    assert_int_equal(log->count, 128);
    for (size_t e = 1; e < log->count; e++)
        assert_int(log->elements[e]->elements[0], log->elements[e - 1]->elements[0]->integer - 1);
    /* the newest SETs: one of the last pipelined batch, long values cut to 128 bytes */
    long newest_set = find_entry(log, "SET", "w0-r9-n49", "vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv"
                                                       "vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv"
                                                       "... (171 more bytes)", NULL);
    assert_true(newest_set >= 0);
    kv_reply_free(log);
    expect_int(c, 128, "SLOWLOG", "LEN", NULL);
    close_all(w, WORKERS);
}

/* ---- LATENCY ------------------------------------------------------------------------------- */

/* Reads LATENCY LATEST and checks it holds exactly one event, "command", whose latest
 * sample is at least latest_min ms and whose all-time high is at least max_min ms. */
static void expect_latest_command(kv_conn *c, long long latest_min, long long max_min)
{
    kv_reply *r = it_run(c, "LATENCY", "LATEST", NULL);
    char got[512];
    if (r->type != KV_REPLY_ARRAY || r->count != 1 || r->elements[0]->type != KV_REPLY_ARRAY ||
        r->elements[0]->count != 4)
        it_fail("LATENCY LATEST is not one [event, time, latest, max]: %s", kv_reply_describe(r, got, sizeof got));
    const kv_reply *ev = r->elements[0];
    assert_bulk(ev->elements[0], "command");
    long long now = now_ms() / 1000;
    assert_int_range(ev->elements[1], now - 10, now + 10);
    assert_int_range(ev->elements[2], latest_min, 5000);
    assert_int_range(ev->elements[3], max_min, 5000);
    assert_true(ev->elements[3]->integer >= ev->elements[2]->integer);
    kv_reply_free(r);
}

/* A DEBUG SLEEP over latency-monitor-threshold on one worker shows up in LATENCY
 * LATEST and HISTORY read on the other; shorter commands do not. */
static void test_latency_latest_and_history(void **state)
{
    kv_conn *c = *state;
    kv_conn *w[WORKERS];
    connect_every_worker(w);
    fresh_slowlog(c, "-1");
    expect_array_len(c, 0, "LATENCY", "LATEST", NULL);
    expect_status(c, "OK", "CONFIG", "SET", "latency-monitor-threshold", "100", NULL);
    expect_status(w[0], "OK", "DEBUG", "SLEEP", "0.02", NULL);      /* well under the threshold */
    expect_array_len(w[1], 0, "LATENCY", "LATEST", NULL);
    expect_status(w[0], "OK", "DEBUG", "SLEEP", "0.2", NULL);
    expect_latest_command(w[1], 200, 200);
    kv_reply *h = it_run(w[1], "LATENCY", "HISTORY", "command", NULL);
    assert_array_len(h, 1);
    assert_array_len(h->elements[0], 2);
    long long first_time = h->elements[0]->elements[0]->integer;
    assert_int_range(h->elements[0]->elements[1], 200, 5000);
    kv_reply_free(h);
    /* a second spike from the other worker, a second later: two samples, oldest first */
    sleep_ms(1100);
    expect_status(w[1], "OK", "DEBUG", "SLEEP", "0.12", NULL);
    expect_latest_command(w[0], 120, 200);
    h = it_run(w[0], "LATENCY", "HISTORY", "command", NULL);
    assert_array_len(h, 2);
    assert_int(h->elements[0]->elements[0], first_time);
    assert_int_range(h->elements[0]->elements[1], 200, 5000);
    assert_true(h->elements[1]->elements[0]->integer > first_time);
    assert_int_range(h->elements[1]->elements[1], 120, 199);
    kv_reply_free(h);
    /* event names are case-sensitive here, unknown ones are empty */
    expect_array_len(c, 0, "LATENCY", "HISTORY", "COMMAND", NULL);
    expect_array_len(c, 0, "LATENCY", "HISTORY", "nosuch", NULL);
    expect_error(c, "ERR wrong number of arguments for 'latency|history' command", "LATENCY", "HISTORY", NULL);
    /* disabled again: nothing new is recorded */
    expect_status(c, "OK", "CONFIG", "SET", "latency-monitor-threshold", "0", NULL);
    expect_status(w[0], "OK", "DEBUG", "SLEEP", "0.12", NULL);
    expect_array_len(c, 2, "LATENCY", "HISTORY", "command", NULL);
    close_all(w, WORKERS);
}

/* LATENCY RESET [event ...] answers how many events it cleared (names in any case,
 * each counted once). */
static void test_latency_reset(void **state)
{
    kv_conn *c = *state;
    kv_conn *w[WORKERS];
    connect_every_worker(w);
    fresh_slowlog(c, "-1");
    expect_int(c, 0, "LATENCY", "RESET", NULL);
    expect_status(c, "OK", "CONFIG", "SET", "latency-monitor-threshold", "100", NULL);
    expect_status(w[1], "OK", "DEBUG", "SLEEP", "0.11", NULL);
    expect_int(w[0], 1, "LATENCY", "RESET", "command", "nosuch", "command", NULL);
    expect_array_len(c, 0, "LATENCY", "LATEST", NULL);
    expect_array_len(c, 0, "LATENCY", "HISTORY", "command", NULL);
    expect_status(w[0], "OK", "DEBUG", "SLEEP", "0.11", NULL);
    expect_latest_command(c, 110, 110);
    expect_int(w[1], 1, "LATENCY", "RESET", "COMMAND", NULL);
    expect_status(w[1], "OK", "DEBUG", "SLEEP", "0.11", NULL);
    expect_int(c, 1, "LATENCY", "RESET", NULL);
    expect_int(c, 0, "LATENCY", "RESET", NULL);
    expect_status(c, "OK", "CONFIG", "SET", "latency-monitor-threshold", "0", NULL);
    close_all(w, WORKERS);
}

/* LATENCY DOCTOR's report in its three states, and LATENCY GRAPH's header. */
static void test_latency_doctor_and_graph(void **state)
{
    kv_conn *c = *state;
    fresh_slowlog(c, "-1");
    kv_reply *r = it_run(c, "LATENCY", "DOCTOR", NULL);
    assert_bulk_contains(r, "Latency monitoring is disabled");
    kv_reply_free(r);
    expect_error(c, "ERR No samples available for event 'command'", "LATENCY", "GRAPH", "command", NULL);
    expect_status(c, "OK", "CONFIG", "SET", "latency-monitor-threshold", "100", NULL);
    r = it_run(c, "LATENCY", "DOCTOR", NULL);
    assert_bulk_contains(r, "no latency spike was observed");
    kv_reply_free(r);
    expect_status(c, "OK", "DEBUG", "SLEEP", "0.15", NULL);
    r = it_run(c, "LATENCY", "DOCTOR", NULL);
    assert_bulk_contains(r, "I have observed latency spikes");
    assert_bulk_contains(r, "1. command: 1 latency spikes (average 15");
    kv_reply_free(r);
    r = it_run(c, "LATENCY", "GRAPH", "command", NULL);
    assert_bulk_contains(r, "command - high 15");
    assert_bulk_contains(r, "---------------------\n");
    kv_reply_free(r);
    expect_error(c, "ERR No samples available for event 'nosuch'", "LATENCY", "GRAPH", "nosuch", NULL);
    expect_int(c, 1, "LATENCY", "RESET", NULL);
    expect_status(c, "OK", "CONFIG", "SET", "latency-monitor-threshold", "0", NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_config_defaults, it_test_setup, it_test_teardown),
        cmocka_unit_test_setup_teardown(test_config_set_ranges_and_sharing, it_test_setup, it_test_teardown),
        cmocka_unit_test_setup_teardown(test_entries_from_every_worker, it_test_setup, it_test_teardown),
        cmocka_unit_test_setup_teardown(test_len_and_reset, it_test_setup, it_test_teardown),
        cmocka_unit_test_setup_teardown(test_max_len, it_test_setup, it_test_teardown),
        cmocka_unit_test_setup_teardown(test_get_count, it_test_setup, it_test_teardown),
        cmocka_unit_test_setup_teardown(test_argument_truncation, it_test_setup, it_test_teardown),
        cmocka_unit_test_setup_teardown(test_large_entries, it_test_setup, it_test_teardown),
        cmocka_unit_test_setup_teardown(test_secrets_redacted, it_test_setup, it_test_teardown),
        cmocka_unit_test_setup_teardown(test_refused_commands_not_logged, it_test_setup, it_test_teardown),
        cmocka_unit_test_setup_teardown(test_threshold, it_test_setup, it_test_teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_writers_and_reader, it_test_setup, it_test_teardown),
        cmocka_unit_test_setup_teardown(test_latency_latest_and_history, it_test_setup, it_test_teardown),
        cmocka_unit_test_setup_teardown(test_latency_reset, it_test_setup, it_test_teardown),
        cmocka_unit_test_setup_teardown(test_latency_doctor_and_graph, it_test_setup, it_test_teardown),
    };
    return cmocka_run_group_tests(tests, it_group_setup, it_group_teardown);
}
