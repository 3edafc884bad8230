/* it_protocol.c - integration tests for the wire protocol: pipelining, fragmented
 * requests, inline commands, empty requests, malformed frames, large arguments, many
 * concurrent clients and clients vanishing mid-frame. Runs against kvns or redis-server
 * (see harness.h). */
#include "harness.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Growable byte buffer for building raw requests. */
typedef struct byte_buf {
    char  *data;
    size_t len, cap;
} byte_buf;

/* Appends n bytes to b. */
static void buf_append(byte_buf *b, const void *p, size_t n)
{
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2 + 64;
        b->data = realloc(b->data, b->cap);
        assert_non_null(b->data);
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

/* Appends a printf-formatted string to b. */
static void buf_printf(byte_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void buf_printf(byte_buf *b, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    assert_true(n >= 0 && (size_t)n < sizeof tmp);
    buf_append(b, tmp, (size_t)n);
}

/* Appends a RESP multibulk command made of NUL-free C strings. */
static void buf_command(byte_buf *b, int argc, const char *const *argv)
{
    buf_printf(b, "*%d\r\n", argc);
    for (int i = 0; i < argc; i++) {
        buf_printf(b, "$%zu\r\n", strlen(argv[i]));
        buf_append(b, argv[i], strlen(argv[i]));
        buf_append(b, "\r\n", 2);
    }
}

/* Sends the whole string raw and checks the write succeeded. */
static void send_str(kv_conn *c, const char *s)
{
    if (conn_send_raw(c, s, strlen(s)) != 0)
        it_fail("send failed: %s", conn_error(c));
}

/* Reads one reply and checks it is the given status. */
static void read_status(kv_conn *c, const char *status)
{
    kv_reply *r = conn_read_reply(c);
    assert_status(r, status);
    kv_reply_free(r);
}

/* Reads one reply and checks it is the given bulk string. */
static void read_bulk(kv_conn *c, const char *s)
{
    kv_reply *r = conn_read_reply(c);
    assert_bulk(r, s);
    kv_reply_free(r);
}

/* 1000 mixed commands in a single write come back as 1000 replies in order. */
static void test_pipeline_1000_in_one_write(void **state)
{
    kv_conn *c = *state;
    byte_buf b = { 0 };
    char key[32], val[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(key, sizeof key, "k:%d", i);
        snprintf(val, sizeof val, "msg:%d", i);
        if (i % 3 == 0) {
            const char *argv[] = { "SET", key, val };
            buf_command(&b, 3, argv);
        } else if (i % 3 == 1) {
            const char *argv[] = { "INCR", "counter" };
            buf_command(&b, 2, argv);
        } else {
            const char *argv[] = { "ECHO", val };
            buf_command(&b, 2, argv);
        }
    }
    assert_int_equal(conn_send_raw(c, b.data, b.len), 0);
    free(b.data);
    long long counter = 0;
    for (int i = 0; i < 1000; i++) {
        kv_reply *r = conn_read_reply(c);
        if (i % 3 == 0) {
            assert_status(r, "OK");
        } else if (i % 3 == 1) {
            assert_int(r, ++counter);
        } else {
            snprintf(val, sizeof val, "msg:%d", i);
            assert_bulk(r, val);
        }
        kv_reply_free(r);
    }
    expect_bulk(c, "msg:999", "GET", "k:999", NULL);
    expect_int(c, 334 + 1, "DBSIZE", NULL);   /* the SET keys (i % 3 == 0) and "counter" */
}

/* A multibulk request and an inline request split into single bytes with pauses. */
static void test_request_split_byte_by_byte(void **state)
{
    kv_conn *c = *state;
    static const char set_cmd[] = "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$12\r\nhello\r\nworld\r\n";
    for (size_t i = 0; i < sizeof set_cmd - 1; i++) {
        assert_int_equal(conn_send_raw(c, set_cmd + i, 1), 0);
        sleep_ms(1);
    }
    read_status(c, "OK");
    static const char get_inline[] = "GET key\r\n";
    for (size_t i = 0; i < sizeof get_inline - 1; i++) {
        assert_int_equal(conn_send_raw(c, get_inline + i, 1), 0);
        sleep_ms(2);
    }
    read_bulk(c, "hello\r\nworld");
    /* Split exactly between CR and LF, and inside the length digits. */
    send_str(c, "*2\r\n$4\r\nECHO\r\n$1");
    sleep_ms(20);
    send_str(c, "2\r\n0123456789ab\r");
    sleep_ms(20);
    send_str(c, "\n");
    read_bulk(c, "0123456789ab");
}

/* Inline commands: plain, extra blanks, LF-only endings, double and single quotes. */
static void test_inline_commands(void **state)
{
    kv_conn *c = *state;
    send_str(c, "PING\r\n");
    read_status(c, "PONG");
    send_str(c, "SET a b\r\n");
    read_status(c, "OK");
    send_str(c, "GET a\r\n");
    read_bulk(c, "b");
    send_str(c, "  PING   \r\n");
    read_status(c, "PONG");
    send_str(c, "ECHO\tx\r\n");
    read_bulk(c, "x");
    send_str(c, "PING\n");
    read_status(c, "PONG");
    send_str(c, "SET \"a b\" \"c\\\"d\"\r\nGET \"a b\"\r\n");
    read_status(c, "OK");
    read_bulk(c, "c\"d");
    send_str(c, "ECHO \"\\t\\x4a\\x4B\\n\"\r\n");
    read_bulk(c, "\tJK\n");
    send_str(c, "ECHO 'x\\'y'\r\n");
    read_bulk(c, "x'y");
    send_str(c, "ECHO 'a\\nb'\r\n");          /* single quotes: only \' is an escape */
    read_bulk(c, "a\\nb");
    send_str(c, "ECHO \"\"\r\n");
    read_bulk(c, "");
    send_str(c, "set lower case\r\nget lower\r\n");
    read_status(c, "OK");
    read_bulk(c, "case");
    /* Inline and multibulk mixed in one write. */
    send_str(c, "PING\r\n*2\r\n$4\r\nECHO\r\n$3\r\nabc\r\nECHO def\r\n");
    read_status(c, "PONG");
    read_bulk(c, "abc");
    read_bulk(c, "def");
}

/* Empty requests (*0, *-1, blank lines) produce no reply at all. */
static void test_empty_requests_no_reply(void **state)
{
    kv_conn *c = *state;
    send_str(c, "*0\r\n");
    send_str(c, "\r\n");
    send_str(c, "\n");
    send_str(c, "   \r\n");
    send_str(c, "*-1\r\n");
    assert_true(conn_no_data_within(c, 200));
    send_str(c, "*0\r\n\r\n*-1\r\nPING\r\n");
    read_status(c, "PONG");
    assert_true(conn_no_data_within(c, 200));
    expect_status(c, "PONG", "PING", NULL);
}

/* One malformed-frame case: bytes to send and the exact error expected. */
typedef struct bad_frame {
    const char *bytes;
    const char *error;
} bad_frame;

static const bad_frame bad_frames[] = {
    { "*abc\r\n", "ERR Protocol error: invalid multibulk length" },
    { "*1\r\n$abc\r\n", "ERR Protocol error: invalid bulk length" },
    { "*1\r\n#foo\r\n", "ERR Protocol error: expected '$', got '#'" },
    { "*1\r\n$600000000\r\n", "ERR Protocol error: invalid bulk length" },
    { "*1\r\n$536870913\r\n", "ERR Protocol error: invalid bulk length" },
    { "*1\r\n$-1\r\n", "ERR Protocol error: invalid bulk length" },
    { "*2\r\n$4\r\nECHO\r\n+foo\r\n", "ERR Protocol error: expected '$', got '+'" },
    { "SET a \"unbalanced\r\n", "ERR Protocol error: unbalanced quotes in request" },
    { "GET \"a\"b\r\n", "ERR Protocol error: unbalanced quotes in request" },
};

/* Each malformed frame gets "-ERR Protocol error..." and the connection is closed,
 * while the server keeps serving other connections. */
static void test_malformed_frames_close_connection(void **state)
{
    kv_conn *other = *state;
    for (size_t i = 0; i < sizeof bad_frames / sizeof bad_frames[0]; i++) {
        kv_conn *c = it_connect();
        send_str(c, bad_frames[i].bytes);
        kv_reply *r = conn_read_reply(c);
        assert_error_prefix(r, "ERR Protocol error");
        assert_error(r, bad_frames[i].error);
        kv_reply_free(r);
        if (!conn_wait_closed(c, 3000))
            it_fail("connection not closed after malformed frame %zu", i);
        conn_close(c);
        expect_status(other, "PONG", "PING", NULL);
    }
    kv_conn *fresh = it_connect();
    expect_status(fresh, "PONG", "PING", NULL);
    conn_close(fresh);
}

/* Valid commands before a malformed frame in the same write are answered first; nothing
 * after it is executed. */
static void test_malformed_after_valid_commands(void **state)
{
    kv_conn *c = it_connect();
    send_str(c, "PING\r\nSET before 1\r\n*abc\r\nSET after 1\r\n");
    read_status(c, "PONG");
    read_status(c, "OK");
    kv_reply *r = conn_read_reply(c);
    assert_error(r, "ERR Protocol error: invalid multibulk length");
    kv_reply_free(r);
    assert_true(conn_wait_closed(c, 3000));
    conn_close(c);
    expect_int(*state, 1, "EXISTS", "before", NULL);
    expect_int(*state, 0, "EXISTS", "after", NULL);
}

/* An inline line longer than 64 KB is refused and the connection closed. */
static void test_inline_too_big(void **state)
{
    kv_conn *c = it_connect();
    size_t n = 64 * 1024 + 4096;
    char *junk = malloc(n);
    assert_non_null(junk);
    memset(junk, 'A', n);
    conn_send_raw(c, junk, n);          /* may fail part-way once the server closes */
    free(junk);
    kv_reply *r = conn_read_reply(c);
    assert_error(r, "ERR Protocol error: too big inline request");
    kv_reply_free(r);
    assert_true(conn_wait_closed(c, 3000));
    conn_close(c);
    expect_status(*state, "PONG", "PING", NULL);
}

/* A 1 MB bulk argument delivered in uneven pieces is stored exactly. */
static void test_large_bulk_argument_1mb(void **state)
{
    kv_conn *c = *state;
    const size_t n = 1024 * 1024;
    byte_buf b = { 0 };
    buf_printf(&b, "*3\r\n$3\r\nSET\r\n$5\r\nlarge\r\n$%zu\r\n", n);
    size_t header = b.len;
    for (size_t i = 0; i < n; i++) {
        char ch = (char)('a' + (i * 7) % 26);
        buf_append(&b, &ch, 1);
    }
    buf_append(&b, "\r\n", 2);
    static const size_t pieces[] = { 1, 7, 4093, 65536, 100003, 3 };
    size_t off = 0;
    for (size_t i = 0; off < b.len; i++) {
        size_t piece = pieces[i % (sizeof pieces / sizeof pieces[0])];
        if (piece > b.len - off)
            piece = b.len - off;
        assert_int_equal(conn_send_raw(c, b.data + off, piece), 0);
        off += piece;
    }
    read_status(c, "OK");
    kv_reply *r = conn_cmd(c, "GET", "large", NULL);
    assert_bulk_bin(r, b.data + header, n);
    kv_reply_free(r);
    expect_int(c, (long long)n, "STRLEN", "large", NULL);
    free(b.data);
}

/* Many pipelined GETs of a 64 KB value (about 12 MB of replies) arrive complete even
 * though we read only after sending everything. */
static void test_large_pipelined_replies(void **state)
{
    kv_conn *c = *state;
    const size_t n = 64 * 1024;
    char *val = malloc(n + 1);
    assert_non_null(val);
    for (size_t i = 0; i < n; i++)
        val[i] = (char)('A' + i % 23);
    val[n] = '\0';
    expect_status(c, "OK", "SET", "v", val, NULL);
    byte_buf b = { 0 };
    for (int i = 0; i < 200; i++)
        buf_printf(&b, "*2\r\n$3\r\nGET\r\n$1\r\nv\r\n");
    assert_int_equal(conn_send_raw(c, b.data, b.len), 0);
    free(b.data);
    for (int i = 0; i < 200; i++) {
        kv_reply *r = conn_read_reply(c);
        assert_bulk_bin(r, val, n);
        kv_reply_free(r);
    }
    free(val);
}

/* 200 simultaneously open connections, with requests in flight on all of them at once. */
static void test_200_concurrent_connections(void **state)
{
    enum { N = 200 };
    kv_conn *conns[N];
    char key[32], val[32];
    for (int i = 0; i < N; i++)
        conns[i] = it_connect();
    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof key, "conn:%d", i);
        snprintf(val, sizeof val, "value-%d", i);
        assert_int_equal(conn_send_cmd(conns[i], "SET", key, val, NULL), 0);
        assert_int_equal(conn_send_cmd(conns[i], "INCR", "shared", NULL), 0);
    }
    long long max_incr = 0;
    for (int i = 0; i < N; i++) {
        read_status(conns[i], "OK");
        kv_reply *r = conn_read_reply(conns[i]);
        assert_int_range(r, 1, N);
        if (r->integer > max_incr)
            max_incr = r->integer;
        kv_reply_free(r);
    }
    assert_int_equal(max_incr, N);
    for (int i = N - 1; i >= 0; i--) {
        snprintf(key, sizeof key, "conn:%d", (i + 1) % N);
        snprintf(val, sizeof val, "value-%d", (i + 1) % N);
        expect_bulk(conns[i], val, "GET", key, NULL);
    }
    kv_reply *r = conn_cmd(*state, "INFO", "clients", NULL);
    assert_bulk_contains(r, "connected_clients:");
    const char *cc = strstr(r->str, "connected_clients:");
    assert_true(atoi(cc + strlen("connected_clients:")) >= N + 1);
    kv_reply_free(r);
    for (int i = 0; i < N; i++)
        conn_close(conns[i]);
    expect_bulk(*state, "200", "GET", "shared", NULL);
    expect_int(*state, N + 1, "DBSIZE", NULL);
}

/* Work of one client thread: its connections, its key prefix and its failure count. */
typedef struct client_thread {
    int  port;
    int  index;
    int  conns;
    int  rounds;
    int  failures;
    char first_failure[256];
} client_thread;

/* Records a failure in a client thread (cmocka assertions are main-thread only). */
static void thread_fail(client_thread *t, const char *what, const kv_reply *r)
{
    if (t->failures++ == 0) {
        char got[160];
        snprintf(t->first_failure, sizeof t->first_failure, "%s: %s", what,
                 kv_reply_describe(r, got, sizeof got));
    }
}

/* Thread body: several connections doing INCRs and SET/GET round trips. */
static void *client_thread_main(void *arg)
{
    client_thread *t = arg;
    kv_conn *conns[32];
    int n = t->conns < 32 ? t->conns : 32;
    for (int i = 0; i < n; i++) {
        conns[i] = conn_open(t->port);
        if (!conns[i]) {
            thread_fail(t, "connect", NULL);
            n = i;
            break;
        }
    }
    char key[48], val[48];
    for (int round = 0; round < t->rounds; round++) {
        for (int i = 0; i < n; i++) {
            kv_reply *r = conn_cmd(conns[i], "INCR", "thread-counter", NULL);
            if (!r || r->type != KV_REPLY_INTEGER)
                thread_fail(t, "INCR", r);
            kv_reply_free(r);
            snprintf(key, sizeof key, "t%d:c%d", t->index, i);
            snprintf(val, sizeof val, "r%d", round);
            r = conn_cmd(conns[i], "SET", key, val, NULL);
            if (!kv_reply_is_str(r, "OK"))
                thread_fail(t, "SET", r);
            kv_reply_free(r);
            r = conn_cmd(conns[i], "GET", key, NULL);
            if (!r || r->type != KV_REPLY_BULK || strcmp(r->str, val) != 0)
                thread_fail(t, "GET", r);
            kv_reply_free(r);
        }
    }
    for (int i = 0; i < n; i++)
        conn_close(conns[i]);
    return NULL;
}

/* 8 threads x 25 connections work concurrently; no reply is lost or mixed up. */
static void test_threaded_clients(void **state)
{
    enum { THREADS = 8, CONNS = 25, ROUNDS = 20 };
    pthread_t tids[THREADS];
    client_thread work[THREADS];
    for (int i = 0; i < THREADS; i++) {
        work[i] = (client_thread){ .port = it_port(), .index = i, .conns = CONNS,
                                   .rounds = ROUNDS };
        assert_int_equal(pthread_create(&tids[i], NULL, client_thread_main, &work[i]), 0);
    }
    int failures = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(tids[i], NULL);
        if (work[i].failures) {
            print_error("thread %d: %d failures, first: %s\n", i, work[i].failures,
                        work[i].first_failure);
            failures += work[i].failures;
        }
    }
    assert_int_equal(failures, 0);
    char want[32];
    snprintf(want, sizeof want, "%d", THREADS * CONNS * ROUNDS);
    expect_bulk(*state, want, "GET", "thread-counter", NULL);
    expect_int(*state, THREADS * CONNS + 1, "DBSIZE", NULL);
}

/* Clients that disconnect in the middle of a frame do not disturb other clients, and
 * their partial commands are never executed. */
static void test_disconnect_mid_frame(void **state)
{
    kv_conn *c = *state;
    kv_conn *partial = it_connect();
    send_str(partial, "*2\r\n$3\r\nGET\r\n$");        /* finished later */
    kv_conn *quitter = it_connect();
    send_str(quitter, "*3\r\n$3\r\nSET\r\n$4\r\nhalf\r\n$10\r\nabc");
    conn_close(quitter);
    kv_conn *big_quitter = it_connect();
    byte_buf b = { 0 };
    buf_printf(&b, "*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$%d\r\n", 4 * 1024 * 1024);
    for (int i = 0; i < 256 * 1024; i++)
        buf_append(&b, "x", 1);
    assert_int_equal(conn_send_raw(big_quitter, b.data, b.len), 0);
    free(b.data);
    conn_close(big_quitter);
    kv_conn *inline_quitter = it_connect();
    send_str(inline_quitter, "SET inline val");
    conn_close(inline_quitter);
    sleep_ms(50);
    expect_status(c, "PONG", "PING", NULL);
    expect_status(c, "OK", "SET", "other", "ok", NULL);
    send_str(partial, "4\r\nhalf\r\n");
    kv_reply *r = conn_read_reply(partial);
    assert_nil(r);
    kv_reply_free(r);
    conn_close(partial);
    expect_int(c, 0, "EXISTS", "half", NULL);
    expect_int(c, 0, "EXISTS", "big", NULL);
    expect_int(c, 0, "EXISTS", "inline", NULL);
    expect_bulk(c, "ok", "GET", "other", NULL);
    expect_int(c, 1, "DBSIZE", NULL);
}

/* Harness self-check: the reply parser decodes every RESP2/RESP3 type, as served by a
 * fake server (a listening socket in this process) sending canned bytes. */
static void test_harness_parses_all_resp3_types(void **state)
{
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(lfd >= 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t alen = sizeof a;
    assert_int_equal(bind(lfd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(lfd, 1), 0);
    assert_int_equal(getsockname(lfd, (struct sockaddr *)&a, &alen), 0);
    kv_conn *c = conn_open(ntohs(a.sin_port));
    assert_non_null(c);
    int sfd = accept(lfd, NULL, NULL);
    assert_true(sfd >= 0);
    static const char canned[] =
        "+OK\r\n-ERR bad\r\n:-5\r\n$3\r\na\0c\r\n$-1\r\n*-1\r\n_\r\n,3.5\r\n,-inf\r\n"
        "#t\r\n#f\r\n(12345678901234567890\r\n=8\r\ntxt:abcd\r\n!7\r\nERR x\ny\r\n"
        "~2\r\n:1\r\n:2\r\n%1\r\n+k\r\n$1\r\nv\r\n>2\r\n+message\r\n$1\r\nx\r\n"
        "|1\r\n+key\r\n+val\r\n:7\r\n*2\r\n*1\r\n:1\r\n$0\r\n\r\n";
    assert_int_equal(write(sfd, canned, sizeof canned - 1), (ssize_t)(sizeof canned - 1));
    close(sfd);
    close(lfd);
    kv_reply *r;
    r = conn_read_reply(c); assert_status(r, "OK"); kv_reply_free(r);
    r = conn_read_reply(c); assert_error(r, "ERR bad"); kv_reply_free(r);
    r = conn_read_reply(c); assert_int(r, -5); kv_reply_free(r);
    r = conn_read_reply(c); assert_bulk_bin(r, "a\0c", 3); kv_reply_free(r);
    r = conn_read_reply(c); assert_nil(r); assert_int_equal(r->prefix, '$'); kv_reply_free(r);
    r = conn_read_reply(c); assert_nil(r); assert_int_equal(r->prefix, '*'); kv_reply_free(r);
    r = conn_read_reply(c); assert_nil(r); assert_int_equal(r->prefix, '_'); kv_reply_free(r);
    r = conn_read_reply(c);
    assert_reply_type(r, KV_REPLY_DOUBLE);
    assert_true(r->dval == 3.5);
    kv_reply_free(r);
    r = conn_read_reply(c);
    assert_reply_type(r, KV_REPLY_DOUBLE);
    assert_true(r->dval < -1e308);
    kv_reply_free(r);
    r = conn_read_reply(c); assert_reply_type(r, KV_REPLY_BOOL); assert_int_equal(r->integer, 1);
    kv_reply_free(r);
    r = conn_read_reply(c); assert_reply_type(r, KV_REPLY_BOOL); assert_int_equal(r->integer, 0);
    kv_reply_free(r);
    r = conn_read_reply(c);
    assert_reply_type(r, KV_REPLY_BIGNUM);
    assert_string_equal(r->str, "12345678901234567890");
    kv_reply_free(r);
    r = conn_read_reply(c);
    assert_reply_type(r, KV_REPLY_VERBATIM);
    assert_string_equal(r->vformat, "txt");
    assert_string_equal(r->str, "abcd");
    kv_reply_free(r);
    r = conn_read_reply(c); assert_error(r, "ERR x\ny"); kv_reply_free(r);
    r = conn_read_reply(c);
    assert_reply_type(r, KV_REPLY_SET);
    assert_array_len(r, 2);
    assert_int(r->elements[1], 2);
    kv_reply_free(r);
    r = conn_read_reply(c);
    assert_reply_type(r, KV_REPLY_MAP);
    assert_int_equal(r->count, 2);
    assert_bulk(kv_reply_map_get(r, "k"), "v");
    kv_reply_free(r);
    r = conn_read_reply(c);
    assert_reply_type(r, KV_REPLY_PUSH);
    assert_status(r->elements[0], "message");
    kv_reply_free(r);
    r = conn_read_reply(c); assert_int(r, 7); kv_reply_free(r);     /* attribute skipped */
    r = conn_read_reply(c);
    assert_array_len(r, 2);
    assert_array_len(r->elements[0], 1);
    assert_bulk(r->elements[1], "");
    kv_reply_free(r);
    assert_null(conn_read_reply(c));
    assert_true(conn_is_closed(c));
    conn_close(c);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, it_test_setup, it_test_teardown)
    const struct CMUnitTest tests[] = {
        T(test_pipeline_1000_in_one_write),
        T(test_request_split_byte_by_byte),
        T(test_inline_commands),
        T(test_empty_requests_no_reply),
        T(test_malformed_frames_close_connection),
        T(test_malformed_after_valid_commands),
        T(test_inline_too_big),
        T(test_large_bulk_argument_1mb),
        T(test_large_pipelined_replies),
        T(test_200_concurrent_connections),
        T(test_threaded_clients),
        T(test_disconnect_mid_frame),
        T(test_harness_parses_all_resp3_types),
    };
#undef T
    return cmocka_run_group_tests(tests, it_group_setup, it_group_teardown);
}
