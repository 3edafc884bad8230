/* it_persist.c - snapshot persistence end to end (KVNS_PERSIST_PATH): SIGTERM then a
 * restart gives back every key (all types, TTLs, namespaces, hit counters); SIGKILL of
 * the whole process group then a restart gives the data of the last completed SAVE;
 * expired keys are dropped at load; a corrupt, truncated or foreign file stops kvns at
 * start with exit code 2 and a log line, and the file is left untouched; a BGSAVE taken
 * while writers write loads and passes DEBUG CHECK; SAVE/BGSAVE/LASTSAVE and INFO
 * persistence. Every test starts its own servers; kvns only (skipped for redis). */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char tmpdir[256];
static char dump_path[512];
static char env_path[600];

/* Per test: a fresh directory; the snapshot path is <dir>/data/dump.kvns (the data
 * directory does not exist yet: kvns creates it). */
static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/kvns-it-persist-%d-XXXXXX", (int)getpid());
    if (!mkdtemp(tmpdir))
        return -1;
    snprintf(dump_path, sizeof dump_path, "%s/data/dump.kvns", tmpdir);
    snprintf(env_path, sizeof env_path, "KVNS_PERSIST_PATH=%s", dump_path);
    return 0;
}

/* Per test: removes the directory tree. */
static int teardown(void **state)
{
    (void)state;
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

/* Starts kvns with persistence to dump_path (no periodic snapshot during a test). */
static kv_server *start_persistent(void)
{
    const char *env[] = { env_path, "KVNS_PERSIST_INTERVAL=3600", NULL };
    kv_server *srv = srv_start(env);
    if (!srv)
        it_fail("kvns did not start with %s", env_path);
    return srv;
}

/* SIGKILL to the whole process group (supervisor, workers, housekeeper), then reap. */
static void kill_group(kv_server *srv)
{
    char log_path[sizeof srv->log_path];
    snprintf(log_path, sizeof log_path, "%s", srv->log_path);
    kill(-srv_pid(srv), SIGKILL);
    srv_stop(srv);
    unlink(log_path);            /* killed on purpose: the harness keeps it otherwise */
}

/* ---- a client-side description of the whole keyspace ------------------------------- */

typedef struct text {
    char  *p;
    size_t len, cap;
} text;

/* Appends s[0..n) to a growable text (always NUL-terminated). */
static void text_add(text *t, const char *s, size_t n)
{
    if (t->len + n + 1 > t->cap) {
        t->cap = (t->len + n + 1) * 2;
        t->p = realloc(t->p, t->cap);
        assert_non_null(t->p);
    }
    memcpy(t->p + t->len, s, n);
    t->len += n;
    t->p[t->len] = 0;
}

/* Appends a reply's strings as hex, elements separated by spaces. */
static void add_reply(text *t, const kv_reply *r)
{
    if (!r) {
        text_add(t, "(none)", 6);
        return;
    }
    if (r->count || r->type == KV_REPLY_ARRAY || r->type == KV_REPLY_SET || r->type == KV_REPLY_MAP) {
        for (size_t i = 0; i < r->count; i++) {
            add_reply(t, r->elements[i]);
            text_add(t, " ", 1);
        }
        return;
    }
    if (r->type == KV_REPLY_INTEGER) {
        char buf[32];
        int n = snprintf(buf, sizeof buf, ":%lld", r->integer);
        text_add(t, buf, (size_t)n);
        return;
    }
    for (size_t i = 0; r->str && i < r->len; i++) {
        char buf[3];
        snprintf(buf, sizeof buf, "%02x", (unsigned char)r->str[i]);
        text_add(t, buf, 2);
    }
}

/* qsort order of C strings. */
static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Appends the elements of an array reply (pairs when `pairs`) sorted, as hex. */
static void add_sorted(text *t, const kv_reply *r, bool pairs)
{
    size_t step = pairs ? 2 : 1, n = r ? r->count / step : 0;
    char **items = calloc(n + 1, sizeof *items);
    for (size_t i = 0; i < n; i++) {
        text one = { 0 };
        for (size_t j = 0; j < step; j++) {
            add_reply(&one, r->elements[i * step + j]);
            text_add(&one, "=", 1);
        }
        items[i] = one.p;
    }
    qsort(items, n, sizeof *items, cmp_str);
    for (size_t i = 0; i < n; i++) {
        text_add(t, items[i], strlen(items[i]));
        text_add(t, " ", 1);
        free(items[i]);
    }
    free(items);
}

/* One line describing key k: type, absolute expiry, contents (unordered ones sorted). */
static void describe_key(kv_conn *c, text *t, const char *k)
{
    kv_reply *type = conn_cmd(c, "TYPE", k, NULL);
    kv_reply *exp = conn_cmd(c, "PEXPIRETIME", k, NULL);
    assert_non_null(type);
    assert_non_null(exp);
    text_add(t, k, strlen(k));
    char buf[96];
    int n = snprintf(buf, sizeof buf, " %s %lld: ", type->str, exp->integer);
    text_add(t, buf, (size_t)n);
    kv_reply *v = NULL;
    if (strcmp(type->str, "string") == 0) {
        v = conn_cmd(c, "GET", k, NULL);
        add_reply(t, v);
    } else if (strcmp(type->str, "list") == 0) {
        v = conn_cmd(c, "LRANGE", k, "0", "-1", NULL);
        add_reply(t, v);
    } else if (strcmp(type->str, "hash") == 0) {
        v = conn_cmd(c, "HGETALL", k, NULL);
        add_sorted(t, v, true);
    } else if (strcmp(type->str, "set") == 0) {
        v = conn_cmd(c, "SMEMBERS", k, NULL);
        add_sorted(t, v, false);
    } else {
        v = conn_cmd(c, "ZRANGE", k, "0", "-1", "WITHSCORES", NULL);
        add_reply(t, v);
    }
    text_add(t, "\n", 1);
    kv_reply_free(v);
    kv_reply_free(type);
    kv_reply_free(exp);
}

/* qsort order of two string replies. */
static int cmp_reply(const void *a, const void *b)
{
    const kv_reply *x = *(kv_reply *const *)a, *y = *(kv_reply *const *)b;
    return strcmp(x->str, y->str);
}

/* Everything in the keyspace: one describe_key line per key, sorted by key (malloc'd).
 * Reads count as hits: call freq_of_all first when hit counters are compared. */
static char *describe_all(kv_conn *c)
{
    kv_reply *keys = conn_cmd(c, "KEYS", "*", NULL);
    assert_non_null(keys);
    qsort(keys->elements, keys->count, sizeof *keys->elements, cmp_reply);
    text t = { 0 };
    text_add(&t, "", 0);
    for (size_t i = 0; i < keys->count; i++)
        describe_key(c, &t, keys->elements[i]->str);
    kv_reply_free(keys);
    return t.p;
}

/* "key=freq" of every key (OBJECT FREQ does not count as a read), sorted. */
static char *freq_of_all(kv_conn *c)
{
    kv_reply *keys = conn_cmd(c, "KEYS", "*", NULL);
    assert_non_null(keys);
    qsort(keys->elements, keys->count, sizeof *keys->elements, cmp_reply);
    text t = { 0 };
    text_add(&t, "", 0);
    for (size_t i = 0; i < keys->count; i++) {
        kv_reply *f = conn_cmd(c, "OBJECT", "FREQ", keys->elements[i]->str, NULL);
        assert_non_null(f);
        char buf[600];
        int n = snprintf(buf, sizeof buf, "%s=%lld\n", keys->elements[i]->str, f->integer);
        text_add(&t, buf, (size_t)n);
        kv_reply_free(f);
    }
    kv_reply_free(keys);
    return t.p;
}

/* Sends argv (argc strings) and expects an integer reply >= 0. */
static void cmd_argv(kv_conn *c, int argc, const char **argv)
{
    kv_reply *r = conn_cmdv(c, argc, argv, NULL);
    if (!r || r->type == KV_REPLY_ERROR)
        it_fail("%s failed: %s", argv[0], r && r->str ? r->str : conn_error(c));
    kv_reply_free(r);
}

/* Builds a command of `n` generated arguments after a fixed head and runs it; gen
 * writes argument i into buf. */
static void bulk_cmd(kv_conn *c, const char *cmd, const char *key, int n, int per,
                     void (*gen)(int i, int j, char *buf, size_t cap))
{
    int argc = 2 + n * per;
    const char **argv = calloc((size_t)argc, sizeof *argv);
    char (*bufs)[48] = calloc((size_t)(n * per), sizeof *bufs);
    argv[0] = cmd;
    argv[1] = key;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < per; j++) {
            gen(i, j, bufs[i * per + j], sizeof bufs[0]);
            argv[2 + i * per + j] = bufs[i * per + j];
        }
    cmd_argv(c, argc, argv);
    free(bufs);
    free(argv);
}

/* bulk_cmd generators: element names, (score, member) pairs, integers. */
static void gen_elem(int i, int j, char *buf, size_t cap) { snprintf(buf, cap, "e%d-%d", i, j); }
static void gen_score(int i, int j, char *buf, size_t cap)
{
    if (j == 0)
        snprintf(buf, cap, "%d.%d", (i * 7919) % 1000 - 500, i % 10);
    else
        snprintf(buf, cap, "member-%d", i);
}
static void gen_int(int i, int j, char *buf, size_t cap) { snprintf(buf, cap, "%d", i * 3 - 100); }

/* Every type, in and out of namespaces, with TTLs, binary values and hit counts. */
static void populate(kv_conn *c)
{
    expect_status(c, "OK", "SET", "plain", "value", NULL);
    expect_status(c, "OK", "SET", "ns1/str", "in a namespace", "EX", "1000", NULL);
    expect_status(c, "OK", "SET", "default/x/y", "default namespace, slash in the key", NULL);
    const char *bin_argv[] = { "SET", "ns2/bin", "a\0b\r\n\xff" };
    size_t bin_lens[] = { 3, 7, 6 };
    kv_reply *r = conn_cmdv(c, 3, bin_argv, bin_lens);
    assert_status(r, "OK");
    kv_reply_free(r);
    expect_int(c, 3, "RPUSH", "ns2/list", "a", "b", "c", NULL);
    expect_int(c, 1, "PEXPIRE", "ns2/list", "5000000", NULL);
    bulk_cmd(c, "RPUSH", "biglist", 3000, 1, gen_elem);
    expect_int(c, 2, "HSET", "ns1/h", "f1", "v1", "f2", "v2", NULL);
    bulk_cmd(c, "HSET", "bighash", 400, 2, gen_elem);
    expect_int(c, 3, "SADD", "ints", "1", "2", "3", NULL);
    bulk_cmd(c, "SADD", "ns3/bigints", 700, 1, gen_int);
    expect_int(c, 3, "SADD", "ns3/strs", "a", "b", "c", NULL);
    bulk_cmd(c, "SADD", "bigset", 300, 1, gen_elem);
    expect_int(c, 3, "ZADD", "z", "1", "a", "2", "b", "-3.5", "c", NULL);
    bulk_cmd(c, "ZADD", "ns2/bigz", 600, 2, gen_score);
    expect_int(c, 1, "EXPIRE", "ns2/bigz", "100000", NULL);
    for (int i = 0; i < 3; i++)
        expect_bulk(c, "value", "GET", "plain", NULL);
    expect_int(c, 3, "LLEN", "ns2/list", NULL);
}

/* ---- tests ------------------------------------------------------------------------------ */

/* SIGTERM writes the final snapshot (mode 0600, directory created 0700); a restart
 * gives back every key with its type, contents, expiry and hit counter. */
static void test_sigterm_restart(void **state)
{
    (void)state;
    it_skip_unless_kvns("snapshot persistence");
    kv_server *srv = start_persistent();
    kv_conn *c = conn_open(srv_port(srv));
    populate(c);
    char *freq_before = freq_of_all(c);
    char *before = describe_all(c);
    char *freq_final = freq_of_all(c);           /* the reads of describe_all counted */
    conn_close(c);
    assert_int_equal(srv_stop(srv), 0);
    struct stat st;
    assert_int_equal(stat(dump_path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    char dir[600];
    snprintf(dir, sizeof dir, "%s/data", tmpdir);
    assert_int_equal(stat(dir, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);

    srv = start_persistent();
    c = conn_open(srv_port(srv));
    char *freq_after = freq_of_all(c);
    char *after = describe_all(c);
    assert_string_equal(freq_after, freq_final);
    assert_string_equal(after, before);
    assert_non_null(strstr(freq_before, "plain=3\n"));
    expect_status(c, "OK", "DEBUG", "CHECK", NULL);
    assert_int_equal(it_info_ll(c, "persistence", "rdb_last_load_keys_loaded"), 14);
    assert_int_equal(it_info_ll(c, "persistence", "loading"), 0);
    conn_close(c);
    assert_int_equal(srv_stop(srv), 0);
    free(freq_before);
    free(freq_final);
    free(freq_after);
    free(before);
    free(after);
}

/* SIGKILL of every process: a restart has what the last SAVE wrote, nothing after. */
static void test_sigkill_after_save(void **state)
{
    (void)state;
    it_skip_unless_kvns("snapshot persistence");
    kv_server *srv = start_persistent();
    kv_conn *c = conn_open(srv_port(srv));
    expect_status(c, "OK", "SET", "saved", "1", NULL);
    expect_int(c, 2, "RPUSH", "ns/saved-list", "a", "b", NULL);
    expect_status(c, "OK", "SAVE", NULL);
    expect_status(c, "OK", "SET", "not-saved", "1", NULL);
    expect_int(c, 3, "RPUSH", "ns/saved-list", "c", NULL);
    conn_close(c);
    kill_group(srv);

    srv = start_persistent();
    c = conn_open(srv_port(srv));
    expect_bulk(c, "1", "GET", "saved", NULL);
    expect_int(c, 2, "LLEN", "ns/saved-list", NULL);
    expect_int(c, 0, "EXISTS", "not-saved", NULL);
    expect_status(c, "OK", "DEBUG", "CHECK", NULL);
    conn_close(c);
    kill_group(srv);
}

/* Keys whose TTL passed while kvns was down are not loaded (and are counted). */
static void test_expired_dropped_at_load(void **state)
{
    (void)state;
    it_skip_unless_kvns("snapshot persistence");
    kv_server *srv = start_persistent();
    kv_conn *c = conn_open(srv_port(srv));
    expect_status(c, "OK", "SET", "short", "1", "PX", "800", NULL);
    expect_int(c, 2, "SADD", "ns/short-set", "a", "b", NULL);
    expect_int(c, 1, "PEXPIRE", "ns/short-set", "800", NULL);
    expect_status(c, "OK", "SET", "long", "1", "EX", "1000", NULL);
    expect_status(c, "OK", "SET", "forever", "1", NULL);
    expect_status(c, "OK", "SAVE", NULL);
    conn_close(c);
    kill_group(srv);
    sleep_ms(1000);

    srv = start_persistent();
    c = conn_open(srv_port(srv));
    expect_int(c, 0, "EXISTS", "short", "ns/short-set", NULL);
    expect_int(c, 2, "EXISTS", "long", "forever", NULL);
    expect_int_range(c, 990, 1000, "TTL", "long", NULL);
    assert_int_equal(it_info_ll(c, "persistence", "rdb_last_load_keys_expired"), 2);
    assert_int_equal(it_info_ll(c, "persistence", "rdb_last_load_keys_loaded"), 2);
    conn_close(c);
    assert_int_equal(srv_stop(srv), 0);
}

/* Runs kvns with persistence to dump_path and expects it to exit at start; returns its
 * exit code and puts its log in log (malloc'd). */
static int run_expecting_exit(char **log)
{
    char bin[PATH_MAX], log_path[600], port[16];
    srv_kvns_binary(bin, sizeof bin);
    snprintf(port, sizeof port, "%d", srv_free_port());
    snprintf(log_path, sizeof log_path, "%s/kvns.log", tmpdir);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(fd, 1);
        dup2(fd, 2);
        setenv("KVNS_PERSIST_PATH", dump_path, 1);
        setenv("KVNS_HOST", "127.0.0.1", 1);
        setenv("KVNS_PORT", port, 1);
        setenv("KVNS_METRICS_PORT", "0", 1);
        setenv("KVNS_WORKERS", "1", 1);
        execl(bin, bin, (char *)NULL);
        _exit(127);
    }
    int st = 0;
    long long deadline = now_ms() + 10000;
    pid_t got;
    while ((got = waitpid(pid, &st, WNOHANG)) == 0 && now_ms() < deadline)
        sleep_ms(10);
    if (got == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &st, 0);
        it_fail("kvns did not exit at start with a bad snapshot");
    }
    FILE *f = fopen(log_path, "r");
    assert_non_null(f);
    char *buf = calloc(1, 65536);
    size_t n = fread(buf, 1, 65535, f);
    buf[n] = 0;
    fclose(f);
    *log = buf;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Reads the whole snapshot file (malloc'd). */
static char *read_dump(size_t *len)
{
    FILE *f = fopen(dump_path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    char *p = malloc(*len + 1);
    assert_int_equal(fread(p, 1, *len, f), *len);
    fclose(f);
    return p;
}

/* Replaces the snapshot file by p[0..len). */
static void write_dump(const char *p, size_t len)
{
    FILE *f = fopen(dump_path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, len, f), len);
    fclose(f);
}

/* Writes `bad` as the snapshot, runs kvns: exit code 2, a log line with `what`, the
 * byte offset and the section; the file is byte for byte and mtime unchanged. */
static void expect_refused(const char *bad, size_t len, const char *what)
{
    write_dump(bad, len);
    struct stat before, after;
    assert_int_equal(stat(dump_path, &before), 0);
    sleep_ms(20);
    char *log;
    int code = run_expecting_exit(&log);
    if (code != 2 || !strstr(log, "refusing to start") || !strstr(log, what) || !strstr(log, "offset=") ||
        !strstr(log, "section="))
        it_fail("expected exit 2 and a log line naming \"%s\"; got exit %d and log:\n%s", what, code, log);
    free(log);
    assert_int_equal(stat(dump_path, &after), 0);
    assert_int_equal(before.st_mtim.tv_sec, after.st_mtim.tv_sec);
    assert_int_equal(before.st_mtim.tv_nsec, after.st_mtim.tv_nsec);
    size_t now_len;
    char *now = read_dump(&now_len);
    assert_int_equal(now_len, len);
    assert_memory_equal(now, bad, len);
    free(now);
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s.tmp", dump_path);
    assert_int_equal(access(tmp, F_OK), -1);
}

/* A corrupt, truncated or foreign snapshot stops kvns at start (exit 2) and is left as
 * it was; the intact file still loads afterwards. */
static void test_corrupt_file_refused(void **state)
{
    (void)state;
    it_skip_unless_kvns("snapshot persistence");
    kv_server *srv = start_persistent();
    kv_conn *c = conn_open(srv_port(srv));
    populate(c);
    conn_close(c);
    assert_int_equal(srv_stop(srv), 0);
    size_t len;
    char *good = read_dump(&len);
    char *bad = malloc(len);
    memcpy(bad, good, len);
    bad[len / 2] ^= 0x01;
    expect_refused(bad, len, "checksum mismatch");
    expect_refused(good, len - 10, "truncated");
    expect_refused(good, len / 3, "truncated");
    expect_refused("REDIS0011 and some more bytes than a header needs", 49, "bad magic");
    memcpy(bad, good, len);
    bad[8] = 7;                                  /* version 7 */
    expect_refused(bad, len, "unsupported version");
    write_dump(good, len);
    srv = start_persistent();
    c = conn_open(srv_port(srv));
    expect_bulk(c, "value", "GET", "plain", NULL);
    conn_close(c);
    assert_int_equal(srv_stop(srv), 0);
    free(bad);
    free(good);
}

/* ---- BGSAVE while writers write -------------------------------------------------------- */

#define BG_KEYS     100000
#define BG_WRITERS  2

static int bg_port;
static int bg_stop;
static int bg_errors;

/* Writer thread: SET/INCR/RPUSH/HSET/ZADD in a loop until bg_stop. */
static void *bg_writer(void *arg)
{
    long id = (long)arg;
    kv_conn *c = conn_open(bg_port);
    if (!c) {
        __atomic_add_fetch(&bg_errors, 1, __ATOMIC_RELAXED);
        return NULL;
    }
    char key[64], val[64], field[64];
    for (long i = 0; !__atomic_load_n(&bg_stop, __ATOMIC_ACQUIRE); i++) {
        snprintf(key, sizeof key, "w%ld/k%ld", id, i % 5000);
        snprintf(val, sizeof val, "%ld", i);
        snprintf(field, sizeof field, "f%ld", i % 300);
        kv_reply *r[5] = {
            conn_cmd(c, "SET", key, val, NULL),
            conn_cmd(c, "INCR", "counter", NULL),
            conn_cmd(c, "RPUSH", "w/list", val, NULL),
            conn_cmd(c, "HSET", "w/hash", field, val, NULL),
            conn_cmd(c, "ZADD", "w/zset", val, field, NULL),
        };
        for (int j = 0; j < 5; j++) {
            if (!r[j] || r[j]->type == KV_REPLY_ERROR)
                __atomic_add_fetch(&bg_errors, 1, __ATOMIC_RELAXED);
            kv_reply_free(r[j]);
        }
    }
    conn_close(c);
    return NULL;
}

/* Loads BG_KEYS keys with pipelined SETs. */
static void fill_keys(kv_conn *c)
{
    char key[32], val[32];
    for (int base = 0; base < BG_KEYS; base += 1000) {
        for (int i = base; i < base + 1000; i++) {
            snprintf(key, sizeof key, "%s/key:%d", i % 2 ? "odd" : "even", i);
            snprintf(val, sizeof val, "value-%d", i);
            assert_int_equal(conn_send_cmd(c, "SET", key, val, NULL), 0);
        }
        for (int i = base; i < base + 1000; i++) {
            kv_reply *r = conn_read_reply(c);
            assert_status(r, "OK");
            kv_reply_free(r);
        }
    }
}

/* A snapshot taken by BGSAVE while writers hammer every type is loadable after a
 * SIGKILL, holds every key written before it, and the store passes DEBUG CHECK. */
static void test_bgsave_while_writing(void **state)
{
    (void)state;
    it_skip_unless_kvns("snapshot persistence");
    kv_server *srv = start_persistent();
    bg_port = srv_port(srv);
    kv_conn *c = conn_open(bg_port);
    fill_keys(c);
    __atomic_store_n(&bg_stop, 0, __ATOMIC_RELEASE);
    pthread_t tids[BG_WRITERS];
    for (long i = 0; i < BG_WRITERS; i++)
        pthread_create(&tids[i], NULL, bg_writer, (void *)i);
    sleep_ms(200);
    kv_reply *r = conn_cmd(c, "BGSAVE", NULL);
    assert_status(r, "Background saving started");
    kv_reply_free(r);
    r = conn_cmd(c, "BGSAVE", NULL);             /* coalesced or refused, never an other error */
    assert_non_null(r);
    if (r->type == KV_REPLY_ERROR)
        assert_error(r, "ERR Background save already in progress");
    kv_reply_free(r);
    long long deadline = now_ms() + 30000;
    while (now_ms() < deadline && (it_info_ll(c, "persistence", "rdb_saves") < 1 ||
                                   it_info_ll(c, "persistence", "rdb_bgsave_in_progress") != 0))
        sleep_ms(20);
    sleep_ms(100);                               /* writes after the snapshot */
    __atomic_store_n(&bg_stop, 1, __ATOMIC_RELEASE);
    for (int i = 0; i < BG_WRITERS; i++)
        pthread_join(tids[i], NULL);
    assert_int_equal(bg_errors, 0);
    assert_true(it_info_ll(c, "persistence", "rdb_saves") >= 1);
    kv_reply *status = conn_cmd(c, "INFO", "persistence", NULL);
    assert_non_null(strstr(status->str, "rdb_last_bgsave_status:ok"));
    kv_reply_free(status);
    kv_reply *counter = conn_cmd(c, "GET", "counter", NULL);
    long long final_counter = atoll(counter->str);
    kv_reply_free(counter);
    conn_close(c);
    kill_group(srv);

    srv = start_persistent();
    c = conn_open(srv_port(srv));
    expect_status(c, "OK", "DEBUG", "CHECK", NULL);
    kv_reply *size = conn_cmd(c, "DBSIZE", NULL);
    assert_true(size->integer >= BG_KEYS);
    kv_reply_free(size);
    expect_bulk(c, "value-0", "GET", "even/key:0", NULL);
    expect_bulk(c, "value-99999", "GET", "odd/key:99999", NULL);
    expect_bulk(c, "value-12345", "GET", "odd/key:12345", NULL);
    counter = conn_cmd(c, "GET", "counter", NULL);
    assert_non_null(counter->str);
    assert_true(atoll(counter->str) > 0 && atoll(counter->str) <= final_counter);
    kv_reply_free(counter);
    assert_int_equal(info_ll_or(c, "keyspace", "db0", LLONG_MIN) == LLONG_MIN, 0);
    conn_close(c);
    assert_int_equal(srv_stop(srv), 0);
}

/* SAVE, BGSAVE [SCHEDULE], LASTSAVE and the INFO persistence fields. */
static void test_commands_and_info(void **state)
{
    (void)state;
    it_skip_unless_kvns("snapshot persistence");
    kv_server *srv = start_persistent();
    kv_conn *c = conn_open(srv_port(srv));
    long long start = now_ms() / 1000;
    kv_reply *r = conn_cmd(c, "INFO", "persistence", NULL);
    assert_non_null(r);
    assert_non_null(strstr(r->str, "# Persistence\r\nloading:0\r\n"));
    kv_reply_free(r);
    assert_int_equal(it_info_ll(c, "persistence", "rdb_saves"), 0);
    assert_int_equal(it_info_ll(c, "persistence", "rdb_last_bgsave_time_sec"), -1);
    expect_int_range(c, start - 5, start + 1, "LASTSAVE", NULL);
    expect_status(c, "OK", "SET", "a", "1", NULL);
    expect_status(c, "OK", "SET", "b", "1", NULL);
    expect_int(c, 1, "DEL", "a", NULL);
    expect_bulk(c, "1", "GET", "b", NULL);          /* reads are not changes */
    assert_int_equal(it_info_ll(c, "persistence", "rdb_changes_since_last_save"), 3);
    expect_status(c, "OK", "SAVE", NULL);
    assert_int_equal(it_info_ll(c, "persistence", "rdb_changes_since_last_save"), 0);
    assert_int_equal(it_info_ll(c, "persistence", "rdb_saves"), 1);
    assert_int_equal(it_info_ll(c, "persistence", "rdb_bgsave_in_progress"), 0);
    assert_true(it_info_ll(c, "persistence", "rdb_last_bgsave_time_sec") >= 0);
    long long saved_at = it_info_ll(c, "persistence", "rdb_last_save_time");
    assert_true(saved_at >= start);
    expect_int(c, saved_at, "LASTSAVE", NULL);
    expect_error(c, "ERR syntax error", "BGSAVE", "now", NULL);
    expect_error(c, "ERR wrong number of arguments for 'save' command", "SAVE", "x", NULL);
    r = conn_cmd(c, "BGSAVE", "SCHEDULE", NULL);
    assert_reply_type(r, KV_REPLY_STATUS);
    kv_reply_free(r);
    long long deadline = now_ms() + 10000;
    while (it_info_ll(c, "persistence", "rdb_saves") < 2 && now_ms() < deadline)
        sleep_ms(10);
    assert_int_equal(it_info_ll(c, "persistence", "rdb_saves"), 2);
    conn_close(c);
    assert_int_equal(srv_stop(srv), 0);
}

#define MISCONF "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to " \
    "persist to disk. Commands that may modify the data set are disabled, because this instance " \
    "is configured to report errors during writes if RDB snapshotting fails " \
    "(stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB error."

/* Polls INFO persistence until rdb_last_bgsave_status is `status` (10 s at most). */
static void wait_bgsave_status(kv_conn *c, const char *status)
{
    char want[64];
    snprintf(want, sizeof want, "rdb_last_bgsave_status:%s\r\n", status);
    for (long long deadline = now_ms() + 10000;; sleep_ms(10)) {
        kv_reply *r = conn_cmd(c, "INFO", "persistence", NULL);
        bool found = r && r->str && strstr(r->str, want);
        kv_reply_free(r);
        if (found)
            return;
        if (now_ms() > deadline)
            it_fail("INFO persistence never showed %s", want);
    }
}

/* stop-writes-on-bgsave-error: a directory where PATH.tmp must be created makes every
 * snapshot fail (open(O_CREAT) of a directory is EISDIR even for root, unlike a chmod).
 * Then writes and PING get -MISCONF, reads still work; turning the setting off lets
 * writes through; removing the obstacle and a successful SAVE clears the state. */
static void test_stop_writes_on_bgsave_error(void **state)
{
    (void)state;
    it_skip_unless_kvns("snapshot persistence");
    kv_server *srv = start_persistent();
    kv_conn *c = conn_open(srv_port(srv));
    expect_status(c, "OK", "SET", "before", "1", NULL);
    kv_reply *r = conn_cmd(c, "CONFIG", "GET", "stop-writes-on-bgsave-error", NULL);
    assert_array_len(r, 2);
    assert_string_equal(r->elements[1]->str, "yes");
    kv_reply_free(r);
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s.tmp", dump_path);
    assert_int_equal(mkdir(tmp, 0700), 0);

    r = conn_cmd(c, "BGSAVE", NULL);
    assert_status(r, "Background saving started");
    kv_reply_free(r);
    wait_bgsave_status(c, "err");
    expect_error(c, MISCONF, "SET", "after", "1", NULL);
    expect_error(c, MISCONF, "DEL", "before", NULL);
    expect_error(c, MISCONF, "PING", NULL);
    expect_bulk(c, "1", "GET", "before", NULL);
    expect_int(c, 1, "EXISTS", "before", NULL);
    r = conn_cmd(c, "SAVE", NULL);
    assert_reply_type(r, KV_REPLY_ERROR);
    assert_non_null(strstr(r->str, "Is a directory"));
    kv_reply_free(r);
    expect_error(c, MISCONF, "INCR", "n", NULL);
    /* inside MULTI a write or PING is refused while queueing, failing the EXEC */
    expect_status(c, "OK", "MULTI", NULL);
    expect_status(c, "QUEUED", "GET", "before", NULL);
    expect_error(c, MISCONF, "SET", "after", "1", NULL);
    expect_error(c, MISCONF, "PING", NULL);
    expect_error(c, "EXECABORT Transaction discarded because of previous errors.", "EXEC", NULL);

    expect_error(c, "ERR CONFIG SET failed (possibly related to argument 'stop-writes-on-bgsave-error') - "
                 "argument must be 'yes' or 'no'", "CONFIG", "SET", "stop-writes-on-bgsave-error", "maybe", NULL);
    expect_status(c, "OK", "CONFIG", "SET", "stop-writes-on-bgsave-error", "no", NULL);
    expect_status(c, "OK", "SET", "after", "1", NULL);
    expect_status(c, "PONG", "PING", NULL);
    /* a write queued before the refusal began makes EXEC itself refused */
    kv_conn *admin = conn_open(srv_port(srv));
    expect_status(c, "OK", "MULTI", NULL);
    expect_status(c, "QUEUED", "SET", "after", "queued", NULL);
    expect_status(admin, "OK", "CONFIG", "SET", "stop-writes-on-bgsave-error", "yes", NULL);
    conn_close(admin);
    expect_error(c, "EXECABORT Transaction discarded because of: " MISCONF, "EXEC", NULL);
    expect_bulk(c, "1", "GET", "after", NULL);
    expect_error(c, MISCONF, "SET", "after", "2", NULL);

    assert_int_equal(rmdir(tmp), 0);
    expect_status(c, "OK", "SAVE", NULL);
    wait_bgsave_status(c, "ok");
    expect_status(c, "OK", "SET", "after", "3", NULL);
    expect_status(c, "PONG", "PING", NULL);
    conn_close(c);
    assert_int_equal(srv_stop(srv), 0);

    srv = start_persistent();
    c = conn_open(srv_port(srv));
    expect_bulk(c, "3", "GET", "after", NULL);
    conn_close(c);
    assert_int_equal(srv_stop(srv), 0);
}

/* Writes n bytes of filler to path (creating or replacing it). */
static void write_filler(const char *path, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(fputc('x', f), 'x');
    assert_int_equal(fclose(f), 0);
}

/* The PATH.tmp a killed snapshot writer left behind is removed at start (and logged);
 * other files next to it, even with similar names, are left alone. */
static void test_stale_tmp_removed_at_start(void **state)
{
    (void)state;
    it_skip_unless_kvns("snapshot persistence");
    char dir[300], tmp[600], similar[600], other[600];
    snprintf(dir, sizeof dir, "%s/data", tmpdir);
    assert_int_equal(mkdir(dir, 0700), 0);
    snprintf(tmp, sizeof tmp, "%s.tmp", dump_path);
    snprintf(similar, sizeof similar, "%s.tmp.keep", dump_path);
    snprintf(other, sizeof other, "%s/other.tmp", dir);
    write_filler(tmp, 4096);
    write_filler(similar, 10);
    write_filler(other, 10);
    kv_server *srv = start_persistent();
    assert_int_equal(access(tmp, F_OK), -1);
    assert_int_equal(access(similar, F_OK), 0);
    assert_int_equal(access(other, F_OK), 0);
    assert_true(srv_log_contains(srv, "removed a stale temporary snapshot file"));
    assert_true(srv_log_contains(srv, "bytes=4096"));
    kv_conn *c = conn_open(srv_port(srv));
    expect_status(c, "OK", "SET", "k", "v", NULL);
    expect_status(c, "OK", "SAVE", NULL);
    conn_close(c);
    assert_int_equal(srv_stop(srv), 0);
    assert_int_equal(access(tmp, F_OK), -1);
    assert_int_equal(access(similar, F_OK), 0);
}

/* Without KVNS_PERSIST_PATH nothing is written: SAVE and BGSAVE say so, LASTSAVE is the
 * start time. */
static void test_no_persistence(void **state)
{
    (void)state;
    it_skip_unless_kvns("snapshot persistence");
    kv_server *srv = srv_start(NULL);
    assert_non_null(srv);
    kv_conn *c = conn_open(srv_port(srv));
    long long now = now_ms() / 1000;
    expect_error(c, "ERR persistence is disabled: KVNS_PERSIST_PATH is not set", "SAVE", NULL);
    expect_error(c, "ERR persistence is disabled: KVNS_PERSIST_PATH is not set", "BGSAVE", NULL);
    expect_int_range(c, now - 10, now, "LASTSAVE", NULL);
    assert_int_equal(it_info_ll(c, "persistence", "loading"), 0);
    assert_int_equal(it_info_ll(c, "persistence", "rdb_bgsave_in_progress"), 0);
    conn_close(c);
    assert_int_equal(srv_stop(srv), 0);
}

/* Waits up to 10 s for srv to exit on its own (SHUTDOWN) and returns its exit status. */
static int wait_exit(kv_server *srv)
{
    for (long long deadline = now_ms() + 10000; srv_alive(srv) && now_ms() < deadline;)
        sleep_ms(10);
    if (srv_alive(srv))
        it_fail("the server still runs 10 s after SHUTDOWN");
    return srv_stop(srv);
}

/* Sends SHUTDOWN with up to two options on a fresh connection to srv: the connection
 * must close without a reply and the server exit with 0. */
static void shutdown_ok(kv_server *srv, const char *opt1, const char *opt2)
{
    kv_conn *c = conn_open(srv_port(srv));
    kv_reply *r = conn_cmd(c, "SHUTDOWN", opt1, opt2, NULL);
    char got[300];
    if (r)
        it_fail("SHUTDOWN %s answered %s: want the connection closed", opt1 ? opt1 : "",
                kv_reply_describe(r, got, sizeof got));
    conn_close(c);
    assert_int_equal(wait_exit(srv), 0);
}

/* SHUTDOWN writes the final snapshot (what was set is there after a restart), NOSAVE
 * does not; its option errors are Redis's, it is refused inside MULTI; without
 * persistence SAVE cannot save and is refused unless FORCE. */
static void test_shutdown(void **state)
{
    (void)state;
    it_skip_unless_kvns("snapshot persistence");
    kv_server *srv = start_persistent();
    kv_conn *c = conn_open(srv_port(srv));
    expect_error(c, "ERR No shutdown in progress.", "SHUTDOWN", "ABORT", NULL);
    expect_error(c, "ERR syntax error", "SHUTDOWN", "NOSAVE", "SAVE", NULL);
    expect_error(c, "ERR syntax error", "SHUTDOWN", "ABORT", "NOW", NULL);
    expect_error(c, "ERR syntax error", "SHUTDOWN", "LATER", NULL);
    expect_status(c, "OK", "MULTI", NULL);
    expect_error(c, "ERR Command not allowed inside a transaction", "SHUTDOWN", "NOSAVE", NULL);
    expect_error(c, "EXECABORT Transaction discarded because of previous errors.", "EXEC", NULL);
    expect_status(c, "OK", "SET", "kept", "1", NULL);
    conn_close(c);
    shutdown_ok(srv, NULL, NULL);

    srv = start_persistent();
    c = conn_open(srv_port(srv));
    expect_bulk(c, "1", "GET", "kept", NULL);
    expect_status(c, "OK", "SET", "lost", "1", NULL);
    conn_close(c);
    shutdown_ok(srv, "NOSAVE", "NOW");

    srv = start_persistent();
    c = conn_open(srv_port(srv));
    expect_bulk(c, "1", "GET", "kept", NULL);
    expect_nil(c, "GET", "lost", NULL);
    conn_close(c);
    shutdown_ok(srv, "SAVE", NULL);

    srv = srv_start(NULL);
    assert_non_null(srv);
    c = conn_open(srv_port(srv));
    expect_error(c, "ERR Errors trying to SHUTDOWN. Check logs.", "SHUTDOWN", "SAVE", NULL);
    expect_status(c, "PONG", "PING", NULL);
    conn_close(c);
    shutdown_ok(srv, "SAVE", "FORCE");
}

/* Every test starts and stops its own servers (no group server). */
int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_sigterm_restart),
        T(test_sigkill_after_save),
        T(test_expired_dropped_at_load),
        T(test_corrupt_file_refused),
        T(test_bgsave_while_writing),
        T(test_commands_and_info),
        T(test_no_persistence),
        T(test_stale_tmp_removed_at_start),
        T(test_stop_writes_on_bgsave_error),
        T(test_shutdown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
