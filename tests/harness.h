/* harness.h - integration-test harness: server process control, a RESP2/RESP3 client
 * and cmocka assertion helpers.
 *
 * The same tests run against either target, chosen by the environment:
 *   KVNS_TEST_TARGET=kvns   (default) the kvns binary: $KVNS_BIN, else <dir of the test
 *                           binary>/../kvns when it exists, else "build/kvns".
 *   KVNS_TEST_TARGET=redis  a real redis-server ($REDIS_SERVER_BIN, default "redis-server"
 *                           from PATH), used to develop the tests and to check that the
 *                           expected replies are Redis's.
 *   KVNS_TEST_KEEP_LOGS=1   keep the server log (/tmp/kvns-it-<binary>-<pid>-<n>.log) even
 *                           after a clean run; it is always kept, and its path printed,
 *                           when a harness assertion failed or the server exited non-zero.
 *
 * Typical test binary:
 *
 *   static void test_set_get(void **state) {
 *       kv_conn *c = *state;                      // opened by it_test_setup
 *       expect_status(c, "OK", "SET", "k", "v", NULL);
 *       expect_bulk(c, "v", "GET", "k", NULL);
 *   }
 *   int main(void) {
 *       const struct CMUnitTest tests[] = {
 *           cmocka_unit_test_setup_teardown(test_set_get, it_test_setup, it_test_teardown),
 *       };
 *       return cmocka_run_group_tests(tests, it_group_setup, it_group_teardown);
 *   }
 *
 * Symbol names: every function declared here is linked under a "kvt_" symbol name (GCC
 * asm labels) because harness.o is linked into every test binary next to libkvns.a, whose
 * own conn and server functions must not clash. C code uses the names below unchanged.
 * Reply objects are freed with kv_reply_free (kvns's resp.h already owns reply_free).
 */
#ifndef KVNS_TESTS_HARNESS_H
#define KVNS_TESTS_HARNESS_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <sys/types.h>
#include <cmocka.h>

/* Link name "kvt_<name>" for a harness function (see "Symbol names" above). */
#define KVT_SYM(name) __asm__("kvt_" #name)
/* The call must end with a NULL argument (checked by the compiler). */
#define KVT_SENTINEL __attribute__((sentinel))

/* ---- server processes ---------------------------------------------------------- */

typedef struct kv_server {
    pid_t pid;              /* leader pid; also the process group id (setpgid) */
    int   port;             /* 127.0.0.1 port the server listens on */
    bool  is_redis;         /* started as redis-server rather than kvns */
    char  log_path[256];    /* stdout+stderr of the server */
    char  binary[1024];     /* what was executed */
} kv_server;

/* Starts the target on a free 127.0.0.1 port in a new process group, output to a log
 * file under /tmp, and waits (10 s at most) until PING answers PONG. env: extra
 * "NAME=value" entries for kvns (NULL-terminated, may be NULL); they override the
 * harness defaults KVNS_HOST, KVNS_PORT, KVNS_METRICS_PORT=0, KVNS_WORKERS=2,
 * KVNS_SHARD_COUNT=8, KVNS_ENABLE_DEBUG_COMMAND=yes (redis-server gets
 * --enable-debug-command yes). Ignored for redis. Returns NULL after printing the reason and the
 * log's tail to stderr. The server becomes srv_current(); it is killed automatically at
 * exit, on SIGINT/SIGTERM/SIGHUP/SIGQUIT and when the test process dies. Call from the
 * main thread (the kill-on-parent-death signal is tied to the calling thread). */
kv_server *srv_start(const char *const *env) KVT_SYM(srv_start);
/* SIGTERM to the leader, up to 5 s for it to exit, then SIGKILL to the whole process
 * group; always reaps. Frees srv. Returns the leader's exit code, 128+signal when a
 * signal ended it, or -1 when it had to be killed (or srv is NULL). */
int srv_stop(kv_server *srv) KVT_SYM(srv_stop);
pid_t srv_pid(const kv_server *srv) KVT_SYM(srv_pid);
int srv_port(const kv_server *srv) KVT_SYM(srv_port);
/* True when the server process is still running (does not reap it). */
bool srv_alive(kv_server *srv) KVT_SYM(srv_alive);
/* Prints the last max_lines lines of the server's log to stderr. */
void srv_print_log_tail(const kv_server *srv, int max_lines) KVT_SYM(srv_print_log_tail);
/* True when KVNS_TEST_TARGET=redis. */
bool srv_target_is_redis(void) KVT_SYM(srv_target_is_redis);
/* The most recently started server that is not stopped yet, or NULL. */
kv_server *srv_current(void) KVT_SYM(srv_current);
/* A 127.0.0.1 TCP port nothing listens on right now (bound, read, released), or -1. */
int srv_free_port(void) KVT_SYM(srv_free_port);
/* The kvns executable srv_start runs, into out: $KVNS_BIN, else <dir of the test
 * binary>/../kvns when it exists, else "build/kvns". */
void srv_kvns_binary(char *out, size_t cap) KVT_SYM(srv_kvns_binary);
/* True when the server's log (stdout+stderr so far) contains text. */
bool srv_log_contains(const kv_server *srv, const char *text) KVT_SYM(srv_log_contains);

/* ---- RESP client ----------------------------------------------------------------- */

typedef enum kv_reply_type {
    KV_REPLY_STATUS,    /* +OK */
    KV_REPLY_ERROR,     /* -ERR ... and RESP3 !<len> blob errors */
    KV_REPLY_INTEGER,   /* :5 */
    KV_REPLY_BULK,      /* $3 abc */
    KV_REPLY_NIL,       /* $-1, *-1 and RESP3 _ (see prefix) */
    KV_REPLY_ARRAY,     /* *n */
    KV_REPLY_MAP,       /* %n: elements hold key, value, key, value... (count = 2n) */
    KV_REPLY_SET,       /* ~n */
    KV_REPLY_DOUBLE,    /* ,3.14 (dval, and the text in str) */
    KV_REPLY_BOOL,      /* #t / #f (integer 1 / 0) */
    KV_REPLY_VERBATIM,  /* =len fmt:text (str is the text, vformat the fmt) */
    KV_REPLY_PUSH,      /* >n */
    KV_REPLY_BIGNUM,    /* (123... (the digits in str) */
} kv_reply_type;

typedef struct kv_reply {
    kv_reply_type type;
    char      prefix;      /* the RESP type byte received: '+', '$', '_', '*', '%', ... */
    char     *str;         /* STATUS ERROR BULK VERBATIM DOUBLE BIGNUM: NUL-terminated copy */
    size_t    len;         /* length of str without the terminator (may contain NULs) */
    char      vformat[4];  /* VERBATIM format, e.g. "txt" */
    long long integer;     /* INTEGER; BOOL as 1/0 */
    double    dval;        /* DOUBLE */
    struct kv_reply **elements; /* ARRAY MAP SET PUSH */
    size_t    count;       /* number of elements (MAP: twice the number of pairs) */
} kv_reply;

typedef struct kv_conn kv_conn;

/* Connects to 127.0.0.1:port with TCP_NODELAY and 10 s send/receive timeouts. Returns
 * NULL (after printing why) when the connection fails. */
kv_conn *conn_open(int port) KVT_SYM(conn_open);
void conn_close(kv_conn *c) KVT_SYM(conn_close);
/* Changes the receive timeout (milliseconds, > 0). */
void conn_set_timeout(kv_conn *c, int timeout_ms) KVT_SYM(conn_set_timeout);
int conn_fd(const kv_conn *c) KVT_SYM(conn_fd);
/* True once the server closed the connection (EOF or reset seen by a read or write). */
bool conn_is_closed(const kv_conn *c) KVT_SYM(conn_is_closed);
/* True when the last read stopped because the receive timeout expired. */
bool conn_timed_out(const kv_conn *c) KVT_SYM(conn_timed_out);
/* The last I/O or protocol error, "" if none. */
const char *conn_error(const kv_conn *c) KVT_SYM(conn_error);

/* Sends one command (binary safe; lens may be NULL for C strings) and reads its reply.
 * Returns NULL when the connection fails or closes (see conn_is_closed / conn_error). */
kv_reply *conn_cmdv(kv_conn *c, int argc, const char *const *argv, const size_t *lens)
    KVT_SYM(conn_cmdv);
/* conn_cmd(c, "SET", "k", "v", NULL): NULL-terminated C-string arguments. */
kv_reply *conn_cmd(kv_conn *c, const char *arg0, ...) KVT_SYM(conn_cmd) KVT_SENTINEL;
kv_reply *conn_cmd_va(kv_conn *c, const char *arg0, va_list ap) KVT_SYM(conn_cmd_va);
/* Sends a command without reading its reply (pipelining). Returns 0, or -1. */
int conn_send_cmdv(kv_conn *c, int argc, const char *const *argv, const size_t *lens)
    KVT_SYM(conn_send_cmdv);
int conn_send_cmd(kv_conn *c, const char *arg0, ...) KVT_SYM(conn_send_cmd) KVT_SENTINEL;
/* Writes bytes as they are. Returns 0, or -1 (e.g. the server closed the connection). */
int conn_send_raw(kv_conn *c, const void *data, size_t len) KVT_SYM(conn_send_raw);
/* Reads one reply (waiting up to the receive timeout). NULL on close, timeout or a
 * malformed reply. */
kv_reply *conn_read_reply(kv_conn *c) KVT_SYM(conn_read_reply);
/* Reads exactly len raw bytes unless the connection closes or times out first; returns
 * the number of bytes stored in buf. Bytes already buffered by the parser come first. */
size_t conn_read_raw(kv_conn *c, void *buf, size_t len) KVT_SYM(conn_read_raw);
/* Waits up to timeout_ms for the server to close the connection, discarding any data.
 * True when it was closed. */
bool conn_wait_closed(kv_conn *c, int timeout_ms) KVT_SYM(conn_wait_closed);
/* True when no byte arrives within timeout_ms (the connection stays usable). */
bool conn_no_data_within(kv_conn *c, int timeout_ms) KVT_SYM(conn_no_data_within);

/* ---- replies -------------------------------------------------------------------- */

void kv_reply_free(kv_reply *r) KVT_SYM(kv_reply_free);
/* Name of a reply type, e.g. "BULK". */
const char *kv_reply_type_name(kv_reply_type t) KVT_SYM(kv_reply_type_name);
/* Writes a short readable rendering of r (redis-cli like, escaped, truncated) into buf
 * and returns buf. r may be NULL ("(no reply)"). */
char *kv_reply_describe(const kv_reply *r, char *buf, size_t cap) KVT_SYM(kv_reply_describe);
/* True when r is a BULK/STATUS/VERBATIM whose bytes equal s. */
bool kv_reply_is_str(const kv_reply *r, const char *s) KVT_SYM(kv_reply_is_str);
/* Index of the first element (ARRAY/SET/PUSH/MAP) that is a string equal to s, or -1. */
long kv_reply_find_str(const kv_reply *r, const char *s) KVT_SYM(kv_reply_find_str);
/* Value for key in a RESP3 MAP or a RESP2 flat key/value ARRAY; NULL when absent. */
const kv_reply *kv_reply_map_get(const kv_reply *r, const char *key) KVT_SYM(kv_reply_map_get);

/* ---- assertions (fail the current cmocka test with what was received) ------------ */

/* Each assert_* checks a reply the caller owns (it is not freed); each expect_* runs the
 * command given as NULL-terminated C strings, checks its reply and frees it. */
#define assert_status(r, status)       kvt_assert_status(__FILE__, __LINE__, (r), (status))
#define assert_error(r, text)          kvt_assert_error(__FILE__, __LINE__, (r), (text))
#define assert_error_prefix(r, prefix) kvt_assert_error_prefix(__FILE__, __LINE__, (r), (prefix))
#define assert_int(r, value)           kvt_assert_int(__FILE__, __LINE__, (r), (value))
#define assert_int_range(r, lo, hi)    kvt_assert_int_range(__FILE__, __LINE__, (r), (lo), (hi))
#define assert_bulk(r, s)              kvt_assert_bulk(__FILE__, __LINE__, (r), (s), (size_t)-1)
#define assert_bulk_bin(r, p, n)       kvt_assert_bulk(__FILE__, __LINE__, (r), (p), (n))
#define assert_bulk_contains(r, s)     kvt_assert_bulk_contains(__FILE__, __LINE__, (r), (s))
#define assert_nil(r)                  kvt_assert_nil(__FILE__, __LINE__, (r))
#define assert_array_len(r, n)         kvt_assert_array_len(__FILE__, __LINE__, (r), (n))
#define assert_reply_type(r, t)        kvt_assert_reply_type(__FILE__, __LINE__, (r), (t))

#define expect_status(c, status, ...)  kvt_expect_status(__FILE__, __LINE__, (c), (status), __VA_ARGS__)
#define expect_error(c, text, ...)     kvt_expect_error(__FILE__, __LINE__, (c), (text), __VA_ARGS__)
#define expect_error_prefix(c, p, ...) kvt_expect_error_prefix(__FILE__, __LINE__, (c), (p), __VA_ARGS__)
#define expect_int(c, value, ...)      kvt_expect_int(__FILE__, __LINE__, (c), (value), __VA_ARGS__)
#define expect_int_range(c, lo, hi, ...) \
    kvt_expect_int_range(__FILE__, __LINE__, (c), (lo), (hi), __VA_ARGS__)
#define expect_bulk(c, s, ...)         kvt_expect_bulk(__FILE__, __LINE__, (c), (s), __VA_ARGS__)
#define expect_nil(c, ...)             kvt_expect_nil(__FILE__, __LINE__, (c), __VA_ARGS__)
#define expect_array_len(c, n, ...)    kvt_expect_array_len(__FILE__, __LINE__, (c), (n), __VA_ARGS__)
/* Fails the test with a printf-style message (and the log tail if the server died). */
#define it_fail(...)                   kvt_fail_msg(__FILE__, __LINE__, __VA_ARGS__)

void kvt_assert_status(const char *file, int line, const kv_reply *r, const char *status);
void kvt_assert_error(const char *file, int line, const kv_reply *r, const char *text);
void kvt_assert_error_prefix(const char *file, int line, const kv_reply *r, const char *prefix);
void kvt_assert_int(const char *file, int line, const kv_reply *r, long long value);
void kvt_assert_int_range(const char *file, int line, const kv_reply *r, long long lo,
                          long long hi);
/* n == (size_t)-1: s is a C string. */
void kvt_assert_bulk(const char *file, int line, const kv_reply *r, const void *s, size_t n);
void kvt_assert_bulk_contains(const char *file, int line, const kv_reply *r, const char *s);
void kvt_assert_nil(const char *file, int line, const kv_reply *r);
/* ARRAY, SET or PUSH with n elements. */
void kvt_assert_array_len(const char *file, int line, const kv_reply *r, size_t n);
void kvt_assert_reply_type(const char *file, int line, const kv_reply *r, kv_reply_type t);

void kvt_expect_status(const char *file, int line, kv_conn *c, const char *status, ...)
    KVT_SENTINEL;
void kvt_expect_error(const char *file, int line, kv_conn *c, const char *text, ...)
    KVT_SENTINEL;
void kvt_expect_error_prefix(const char *file, int line, kv_conn *c, const char *prefix, ...)
    KVT_SENTINEL;
void kvt_expect_int(const char *file, int line, kv_conn *c, long long value, ...) KVT_SENTINEL;
void kvt_expect_int_range(const char *file, int line, kv_conn *c, long long lo, long long hi,
                          ...) KVT_SENTINEL;
void kvt_expect_bulk(const char *file, int line, kv_conn *c, const char *s, ...) KVT_SENTINEL;
void kvt_expect_nil(const char *file, int line, kv_conn *c, ...) KVT_SENTINEL;
void kvt_expect_array_len(const char *file, int line, kv_conn *c, size_t n, ...) KVT_SENTINEL;
void kvt_fail_msg(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4), noreturn));

/* ---- cmocka fixtures ------------------------------------------------------------ */

/* Group setup: starts the one server of this test binary (srv_start(NULL)). */
int it_group_setup(void **state) KVT_SYM(it_group_setup);
/* Group teardown: stops it. */
int it_group_teardown(void **state) KVT_SYM(it_group_teardown);
/* Per-test setup: opens a connection to the group's server, sends FLUSHALL and stores
 * the connection in *state. */
int it_test_setup(void **state) KVT_SYM(it_test_setup);
/* Per-test teardown: closes the connection stored in *state; against kvns it then runs
 * DEBUG CHECK on a new connection and fails the test when the arena check fails. */
int it_test_teardown(void **state) KVT_SYM(it_test_teardown);
/* Port of the group's server. */
int it_port(void) KVT_SYM(it_port);
/* A new connection to the group's server; fails the test when it cannot connect. */
kv_conn *it_connect(void) KVT_SYM(it_connect);

/* ---- small utilities -------------------------------------------------------------- */

/* Wall clock in milliseconds / seconds since the epoch. */
long long now_ms(void) KVT_SYM(now_ms);
/* CLOCK_MONOTONIC milliseconds, for deadlines and durations. */
long long mono_ms(void) KVT_SYM(mono_ms);
/* Sleeps for ms milliseconds. */
void sleep_ms(long ms) KVT_SYM(sleep_ms);
/* Formats v in decimal into buf and returns buf (command arguments from numbers). */
const char *fmt_ll(char *buf, size_t cap, long long v) KVT_SYM(fmt_ll);

/* ---- skipped cases ---------------------------------------------------------------- *
 * A case is skipped only for a reason outside kvns: the behaviour it checks is kvns's
 * own and the target is redis-server, the reference redis-server is too old for it,
 * or a tool it drives is not installed. A command kvns lacks must fail, never skip.
 * Every skip is printed with its reason when it happens, and once more in the binary's
 * last line ("harness: N case(s) skipped: reason; reason ..."), which
 * tools/run-tests.sh gathers into its summary. */

/* Skips the current case when KVNS_TEST_TARGET=redis; why names the kvns-only
 * behaviour, e.g. "OBJECT ENCODING thresholds". Returns when the target is kvns. */
void it_skip_unless_kvns(const char *why) KVT_SYM(it_skip_unless_kvns);
/* Skips the current case, recording why (a tool is missing, ...). Does not return. */
void it_skip(const char *why) KVT_SYM(it_skip) __attribute__((noreturn));

/* ---- small client helpers --------------------------------------------------------- */

/* Runs a command (NULL-terminated C strings) and returns its reply, which the caller
 * frees; fails the test when no reply comes (connection closed or timed out). */
kv_reply *it_run(kv_conn *c, const char *arg0, ...) KVT_SYM(it_run) KVT_SENTINEL;
/* it_run for commands run only for their side effects: the reply is freed. */
void it_run_void(kv_conn *c, const char *arg0, ...) KVT_SYM(it_run_void) KVT_SENTINEL;
/* The string elements of aggregate r joined by commas (malloc'd, caller frees),
 * sorted first when sorted; fails the test when r is not of type t or holds a
 * non-bulk element. */
char *it_joined(const kv_reply *r, kv_reply_type t, bool sorted) KVT_SYM(it_joined);
/* Runs a command; its reply must be an aggregate of type t holding csv (in order, or
 * as a multiset when sorted: csv is then sorted too). */
void it_expect_agg(kv_conn *c, kv_reply_type t, bool sorted, const char *csv,
                   const char *arg0, ...) KVT_SYM(it_expect_agg) KVT_SENTINEL;

/* ---- INFO fields -------------------------------------------------------------------- */

/* The number after "name:" at the start of a line of INFO text, or missing when no
 * line has it. */
long long info_text_ll(const char *text, const char *name, long long missing)
    KVT_SYM(info_text_ll);
/* INFO <section> on c, then info_text_ll; missing also when no reply came. Never
 * touches cmocka: callable from any thread. */
long long info_ll_or(kv_conn *c, const char *section, const char *name, long long missing)
    KVT_SYM(info_ll_or);
/* INFO <section> field name as a number; fails the test when absent. */
long long it_info_ll(kv_conn *c, const char *section, const char *name) KVT_SYM(it_info_ll);
/* A new connection to port served by a worker process other than pid (INFO server's
 * process_id). The kernel may queue a new connection on any worker's listener; one
 * that lands on pid's worker (or on a worker whose only thread is busy and gives no
 * INFO within 300 ms) is closed for another try: an idle server often hands several
 * in a row to the same thread. Fails the test after 200 tries. */
kv_conn *it_connect_elsewhere(int port, long long pid) KVT_SYM(it_connect_elsewhere);

#endif
