/* it_memory.c - integration tests for the memory limit, the exact per-namespace
 * accounting and namespace-scoped eviction:
 *   - policy none: growing writes refused with Redis's OOM text once full, nothing
 *     changed by a refused write, reads and deletes still allowed, room reusable;
 *   - lru / mru: a write evicts only in its own namespace (filling b never removes a key
 *     of a), lru keeps the most-read keys, mru evicts them first (sampled, so the checks
 *     are rates, not sets); a namespace with nothing left to evict gets OOM;
 *   - KVNS_EVICTION_THRESHOLD starts eviction at that fraction of the limit;
 *   - KVNS_NS_EVICTION overrides the policy per namespace;
 *   - several connections writing concurrently near the limit lose no acknowledged write
 *     (policy none), and are never refused while their namespace has keys to evict (lru);
 *   - MEMORY USAGE, INFO used_memory/maxmemory/maxmemory_policy, CONFIG GET and the
 *     kvns_memory_* metrics agree; FLUSHALL returns used_memory to its starting figure;
 *   - CONFIG SET maxmemory / maxmemory-policy change the live behaviour;
 *   - bad KVNS_* eviction values stop the server at start with exit code 2 and a
 *     message naming the variable.
 * kvns-only (namespaces, KVNS_* variables): every test is skipped against redis-server.
 * Every test starts its own server, so each one sees exactly its own configuration. */
#include "harness_http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#define OOM_TEXT "OOM command not allowed when used memory > 'maxmemory'."
#define LIMIT_4M (4LL * 1024 * 1024)
#define VAL_1K   1000          /* value size of the "small" keys: ~1.07 KB charged each */
#define BATCH    256           /* commands per pipelined batch */

/* ---- per-test server ------------------------------------------------------------ */

static kv_server *g_srv;
static kv_conn *g_conn;
static int g_metrics_port;

/* Starts kvns with env (NULL-terminated "NAME=value" entries) and, when metrics is
 * true, a /metrics endpoint on a free 127.0.0.1 port; returns a connection to it.
 * Skips the test against redis-server. The teardown stops the server. */
static kv_conn *start_kvns(const char *const *env, bool metrics)
{
    it_skip_unless_kvns("kvns memory limits and eviction settings");
    const char *all[32];
    size_t n = 0;
    char mport[64];
    for (; env && env[n] && n < 28; n++)
        all[n] = env[n];
    if (metrics) {
        g_metrics_port = srv_free_port();
        assert_true(g_metrics_port > 0);
        snprintf(mport, sizeof mport, "KVNS_METRICS_PORT=%d", g_metrics_port);
        all[n++] = mport;
        all[n++] = "KVNS_METRICS_HOST=127.0.0.1";
    }
    all[n] = NULL;
    g_srv = srv_start(all);
    if (!g_srv)
        it_fail("the server did not start");
    g_conn = conn_open(srv_port(g_srv));
    if (!g_conn)
        it_fail("cannot connect to the server");
    conn_set_timeout(g_conn, 30000);
    return g_conn;
}

static int teardown(void **state)
{
    (void)state;
    if (g_conn)
        conn_close(g_conn);
    g_conn = NULL;
    if (g_srv) {
        int rc = srv_stop(g_srv);
        g_srv = NULL;
        if (rc != 0) {
            fprintf(stderr, "it_memory: the server exited with %d\n", rc);
            return -1;
        }
    }
    g_metrics_port = 0;
    return 0;
}

/* ---- small helpers ----------------------------------------------------------------- */

/* A value of n bytes ('v' repeated), NUL-terminated; valid until the next call. */
static const char *value_of(size_t n)
{
    static char *buf;
    static size_t cap, last;
    if (n + 1 > cap) {
        free(buf);
        cap = n + 1 > 4096 ? n + 1 : 4096;
        buf = malloc(cap);
        assert_non_null(buf);
        memset(buf, 'v', cap);
        last = 0;
    }
    buf[last] = 'v';
    buf[n] = 0;
    last = n;
    return buf;
}

/* Runs "SET key <n bytes>" and returns the reply. */
static kv_reply *set_sized(kv_conn *c, const char *key, size_t n)
{
    const char *argv[] = { "SET", key, value_of(n) };
    size_t lens[] = { 3, strlen(key), n };
    kv_reply *r = conn_cmdv(c, 3, argv, lens);
    if (!r)
        it_fail("SET %s: no reply (%s)", key, conn_error(c));
    return r;
}

/* The text after "field:" in INFO (all default sections), into buf. */
static const char *info_str(kv_conn *c, const char *field, char *buf, size_t cap)
{
    kv_reply *r = it_run(c, "INFO", "everything", NULL);
    if (r->type != KV_REPLY_BULK && r->type != KV_REPLY_VERBATIM)
        it_fail("INFO: not a bulk reply");
    size_t fl = strlen(field);
    const char *p = r->str;
    bool found = false;
    while (p && *p) {
        if (strncmp(p, field, fl) == 0 && p[fl] == ':') {
            const char *v = p + fl + 1;
            size_t vl = strcspn(v, "\r\n");
            if (vl >= cap)
                vl = cap - 1;
            memcpy(buf, v, vl);
            buf[vl] = 0;
            found = true;
            break;
        }
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    kv_reply_free(r);
    if (!found)
        it_fail("INFO has no field %s", field);
    return buf;
}

static long long info_ll(kv_conn *c, const char *field)
{
    char buf[128];
    info_str(c, field, buf, sizeof buf);
    char *end;
    long long v = strtoll(buf, &end, 10);
    if (end == buf)
        it_fail("INFO %s: '%s' is not a number", field, buf);
    return v;
}

static long long used_memory(kv_conn *c) { return info_ll(c, "used_memory"); }
static long long evicted_keys(kv_conn *c) { return info_ll(c, "evicted_keys"); }

/* CONFIG GET name -> its value as a C string in buf. */
static const char *config_get(kv_conn *c, const char *name, char *buf, size_t cap)
{
    kv_reply *r = it_run(c, "CONFIG", "GET", name, NULL);
    const kv_reply *v = kv_reply_map_get(r, name);
    if (!v || !v->str)
        it_fail("CONFIG GET %s: no value", name);
    snprintf(buf, cap, "%s", v->str);
    kv_reply_free(r);
    return buf;
}

static long long integer_reply(kv_reply *r, const char *what)
{
    if (!r || r->type != KV_REPLY_INTEGER) {
        char d[256];
        it_fail("%s: expected an integer, got %s", what, kv_reply_describe(r, d, sizeof d));
    }
    long long v = r->integer;
    kv_reply_free(r);
    return v;
}

static long long memory_usage(kv_conn *c, const char *key)
{
    char what[300];
    snprintf(what, sizeof what, "MEMORY USAGE %s", key);
    return integer_reply(it_run(c, "MEMORY", "USAGE", key, NULL), what);
}

/* Result of one pipelined write. */
enum { WR_OK = 1, WR_OOM = 2 };

/* Pipelined "SET <prefix><i> <vlen bytes>" for i in [from, to). Every reply must be OK
 * or the OOM error; res[i - from] (when res) receives WR_OK / WR_OOM. Counts in *ok, *oom. */
static void set_range(kv_conn *c, const char *prefix, long from, long to, size_t vlen,
                      unsigned char *res, long *ok, long *oom)
{
    char keys[BATCH][96];
    long n_ok = 0, n_oom = 0;
    for (long b = from; b < to; b += BATCH) {
        long e = b + BATCH < to ? b + BATCH : to;
        for (long i = b; i < e; i++) {
            snprintf(keys[i - b], sizeof keys[0], "%s%ld", prefix, i);
            const char *argv[] = { "SET", keys[i - b], value_of(vlen) };
            size_t lens[] = { 3, strlen(keys[i - b]), vlen };
            if (conn_send_cmdv(c, 3, argv, lens) != 0)
                it_fail("SET %s: send failed (%s)", keys[i - b], conn_error(c));
        }
        for (long i = b; i < e; i++) {
            kv_reply *r = conn_read_reply(c);
            int got;
            if (r && r->type == KV_REPLY_STATUS && strcmp(r->str, "OK") == 0) {
                got = WR_OK;
                n_ok++;
            } else if (r && r->type == KV_REPLY_ERROR && strcmp(r->str, OOM_TEXT) == 0) {
                got = WR_OOM;
                n_oom++;
            } else {
                char d[256];
                it_fail("SET %s: expected OK or the OOM error, got %s (%s)", keys[i - b],
                        kv_reply_describe(r, d, sizeof d), conn_error(c));
            }
            if (res)
                res[i - from] = (unsigned char)got;
            kv_reply_free(r);
        }
    }
    if (ok)
        *ok = n_ok;
    if (oom)
        *oom = n_oom;
}

/* Pipelined EXISTS <prefix><i> for i in [from, to); present[i - from] (when given) gets
 * 0/1. Returns how many exist. */
static long exists_range(kv_conn *c, const char *prefix, long from, long to, unsigned char *present)
{
    char key[96];
    long total = 0;
    for (long b = from; b < to; b += BATCH) {
        long e = b + BATCH < to ? b + BATCH : to;
        for (long i = b; i < e; i++) {
            snprintf(key, sizeof key, "%s%ld", prefix, i);
            if (conn_send_cmd(c, "EXISTS", key, NULL) != 0)
                it_fail("EXISTS: send failed (%s)", conn_error(c));
        }
        for (long i = b; i < e; i++) {
            kv_reply *r = conn_read_reply(c);
            long long v = integer_reply(r, "EXISTS");
            if (present)
                present[i - from] = (unsigned char)v;
            total += v;
        }
    }
    return total;
}

/* Pipelined GET <prefix><i> for every i in [from, to) with i % step == 0, reps times. */
static void read_keys(kv_conn *c, const char *prefix, long from, long to, long step, int reps)
{
    char key[96];
    for (int rep = 0; rep < reps; rep++) {
        long sent = 0;
        for (long i = from; i < to; i++) {
            if (i % step)
                continue;
            snprintf(key, sizeof key, "%s%ld", prefix, i);
            if (conn_send_cmd(c, "GET", key, NULL) != 0)
                it_fail("GET: send failed (%s)", conn_error(c));
            if (++sent == BATCH || i == to - 1) {
                for (; sent > 0; sent--) {
                    kv_reply *r = conn_read_reply(c);
                    if (!r || r->type != KV_REPLY_BULK)
                        it_fail("GET %s: not a bulk reply", key);
                    kv_reply_free(r);
                }
            }
        }
        for (; sent > 0; sent--) {
            kv_reply *r = conn_read_reply(c);
            if (!r || r->type != KV_REPLY_BULK)
                it_fail("GET: not a bulk reply");
            kv_reply_free(r);
        }
    }
}

/* Waits (up to 3 s) for used_memory to equal want; returns the last figure. */
static long long wait_used(kv_conn *c, long long want)
{
    long long u = used_memory(c);
    for (int i = 0; i < 60 && u != want; i++) {
        sleep_ms(50);
        u = used_memory(c);
    }
    return u;
}

/* FLUSHALL must bring used_memory back to start (exactly). */
static void expect_flush_restores(kv_conn *c, long long start)
{
    expect_status(c, "OK", "FLUSHALL", NULL);
    long long u = wait_used(c, start);
    if (u != start)
        it_fail("after FLUSHALL used_memory is %lld, it was %lld at start", u, start);
    expect_int(c, 0, "DBSIZE", NULL);
}

/* ---- /metrics ------------------------------------------------------------------- */

/* Sum of every kvns_memory_used_bytes{namespace=...} sample. */
static double sum_ns_metric(const char *text)
{
    static const char prefix[] = "kvns_memory_used_bytes{";
    double sum = 0;
    for (const char *line = text; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
        if (strncmp(line, prefix, sizeof prefix - 1) != 0)
            continue;
        const char *v = strstr(line, "} ");
        if (v)
            sum += strtod(v + 2, NULL);
    }
    return sum;
}

/* What a refused write must leave as it was. used_memory also holds the shards' hash
 * tables, which the housekeeper's incremental rehashing resizes in the background (an
 * idle server's used_memory moves by a few hundred bytes now and then), so it is
 * compared within TABLE_NOISE; the bytes charged to namespaces and the key count are
 * compared exactly. Needs the server started with metrics. */
#define TABLE_NOISE (16 * 1024)

typedef struct mem_snap {
    double    ns_bytes;      /* sum of kvns_memory_used_bytes{namespace} */
    long long keys;          /* DBSIZE */
    long long used;          /* INFO used_memory */
} mem_snap;

static mem_snap mem_snapshot(kv_conn *c)
{
    mem_snap m;
    char *text = metrics_scrape_body(g_metrics_port);
    m.ns_bytes = sum_ns_metric(text);
    free(text);
    m.keys = integer_reply(it_run(c, "DBSIZE", NULL), "DBSIZE");
    m.used = used_memory(c);
    return m;
}

static void expect_unchanged(kv_conn *c, mem_snap before, const char *what)
{
    mem_snap now = mem_snapshot(c);
    if (now.ns_bytes != before.ns_bytes || now.keys != before.keys)
        it_fail("%s changed the store: namespaces' bytes %.0f -> %.0f, keys %lld -> %lld", what,
                before.ns_bytes, now.ns_bytes, before.keys, now.keys);
    if (llabs(now.used - before.used) > TABLE_NOISE)
        it_fail("%s changed used_memory %lld -> %lld", what, before.used, now.used);
}

/* ---- policy none -------------------------------------------------------------------- */

/* Fills namespace a until a write is refused: the exact OOM text, the refused key is
 * absent, nothing changed, used_memory <= maxmemory; reads and deletes keep working,
 * and a DEL makes room for a SET of the same size. */
static void test_none_fill_until_oom(void **state)
{
    const char *env[] = { "KVNS_MEMORY_LIMIT=4m", NULL };
    kv_conn *c = start_kvns(env, true);
    char buf[64];
    long long start = used_memory(c);
    assert_int_equal(info_ll(c, "maxmemory"), LIMIT_4M);
    assert_string_equal(info_str(c, "maxmemory_policy", buf, sizeof buf), "noeviction");
    assert_string_equal(config_get(c, "maxmemory-policy", buf, sizeof buf), "noeviction");
    assert_string_equal(config_get(c, "maxmemory", buf, sizeof buf), "4194304");

    const size_t vlen = 20000;
    char key[64];
    int i, refused = -1;
    for (i = 0; i < 1000 && refused < 0; i++) {
        snprintf(key, sizeof key, "a/k%d", i);
        mem_snap before = mem_snapshot(c);
        kv_reply *r = set_sized(c, key, vlen);
        if (r->type == KV_REPLY_ERROR) {
            assert_error(r, OOM_TEXT);
            refused = i;
            /* nothing changed: no key, same figures */
            expect_int(c, 0, "EXISTS", key, NULL);
            expect_nil(c, "GET", key, NULL);
            expect_unchanged(c, before, "the refused SET");
        } else {
            assert_status(r, "OK");
        }
        kv_reply_free(r);
    }
    if (refused < 0)
        it_fail("1000 SETs of %zu bytes (20 MB) into a 4 MiB server were all accepted", vlen);
    long long used = used_memory(c);
    if (used > LIMIT_4M)
        it_fail("used_memory %lld > maxmemory %lld", used, LIMIT_4M);
    /* the refused data did fit at least three quarters of the limit first */
    if (used < LIMIT_4M * 3 / 4)
        it_fail("refused at used_memory %lld, far below the 4 MiB limit", used);
    fprintf(stderr, "  none: %d keys of %zu bytes accepted, refused at used_memory %lld\n",
            refused, vlen, used);

    /* still refused: more growing writes, in this namespace and others */
    mem_snap full = mem_snapshot(c);
    kv_reply *r = set_sized(c, "a/again", vlen);
    assert_error(r, OOM_TEXT);
    kv_reply_free(r);
    r = set_sized(c, "b/other", vlen);
    assert_error(r, OOM_TEXT);
    kv_reply_free(r);
    expect_error(c, OOM_TEXT, "APPEND", "a/k0", value_of(vlen), NULL);
    expect_int(c, (long long)vlen, "STRLEN", "a/k0", NULL);
    expect_int(c, 0, "EXISTS", "a/again", "b/other", NULL);
    expect_unchanged(c, full, "the refused SETs and APPEND");

    /* reads and non-growing commands work when full */
    expect_bulk(c, value_of(vlen), "GET", "a/k1", NULL);
    r = it_run(c, "MGET", "a/k0", "a/k1", "a/nokey", NULL);
    assert_array_len(r, 3);
    kv_reply_free(r);
    expect_int(c, refused, "DBSIZE", NULL);
    expect_int(c, 2, "EXISTS", "a/k0", "a/k1", NULL);
    expect_status(c, "string", "TYPE", "a/k0", NULL);
    expect_int(c, 1, "EXPIRE", "a/k2", "1000", NULL);
    expect_int_range(c, 999, 1000, "TTL", "a/k2", NULL);
    long long usage = memory_usage(c, "a/k3");
    assert_true(usage >= (long long)vlen);

    /* DEL / UNLINK / GETDEL each free room for exactly one more value of that size */
    static const char *const freeing[][3] = {
        { "DEL", "a/k0", "a/k0" },              /* re-create the deleted key */
        { "UNLINK", "a/k1", "a/after-unlink" }, /* or a new one */
        { "GETDEL", "a/k4", "a/after-getdel" },
    };
    for (size_t f = 0; f < sizeof freeing / sizeof *freeing; f++) {
        used = used_memory(c);
        r = it_run(c, freeing[f][0], freeing[f][1], NULL);
        if (f < 2)
            assert_int(r, 1);
        else
            assert_bulk(r, value_of(vlen));
        kv_reply_free(r);
        if (used_memory(c) >= used)
            it_fail("%s did not lower used_memory (%lld)", freeing[f][0], used);
        expect_int(c, 0, "EXISTS", freeing[f][1], NULL);
        r = set_sized(c, freeing[f][2], vlen);
        assert_status(r, "OK");
        kv_reply_free(r);
        expect_bulk(c, value_of(vlen), "GET", freeing[f][2], NULL);
        r = set_sized(c, "a/one-too-many", vlen);      /* full again */
        assert_error(r, OOM_TEXT);
        kv_reply_free(r);
    }
    expect_int(c, 0, "EXISTS", "a/one-too-many", NULL);
    expect_int(c, refused, "DBSIZE", NULL);
    assert_true(used_memory(c) <= LIMIT_4M);
    assert_int_equal(evicted_keys(c), 0);
    expect_flush_restores(c, start);
}

/* ---- lru: isolation ------------------------------------------------------------------- */

/* Filling namespace b with 10x the limit never removes a key of namespace a; b's newest
 * writes are present; used_memory stays under the limit; FLUSHALL restores the start. */
static void test_lru_namespace_isolation(void **state)
{
    const char *env[] = { "KVNS_MEMORY_LIMIT=4m", "KVNS_EVICTION_POLICY=lru", NULL };
    kv_conn *c = start_kvns(env, false);
    char buf[64];
    assert_string_equal(info_str(c, "maxmemory_policy", buf, sizeof buf), "lru");
    assert_string_equal(config_get(c, "maxmemory-policy", buf, sizeof buf), "lru");
    long long start = used_memory(c);
    const long a_keys = 1400;        /* ~1.5 MB: well over a third of the limit */
    long ok = 0, oom = 0;
    set_range(c, "a/k", 0, a_keys, VAL_1K, NULL, &ok, &oom);
    assert_int_equal(ok, a_keys);
    read_keys(c, "a/k", 0, a_keys, 7, 1);    /* some of a read, some not */

    const long b_keys = 10 * LIMIT_4M / VAL_1K;   /* 10x the limit in values alone */
    long long max_used = 0;
    for (long from = 0; from < b_keys; from += 4096) {
        long to = from + 4096 < b_keys ? from + 4096 : b_keys;
        set_range(c, "b/k", from, to, VAL_1K, NULL, &ok, &oom);
        if (oom)
            it_fail("%ld of b's writes %ld..%ld were refused with OOM (b has keys to evict)",
                    oom, from, to);
        long long u = used_memory(c);
        max_used = u > max_used ? u : max_used;
        if (u > LIMIT_4M)
            it_fail("used_memory %lld > maxmemory after writing b/k..%ld", u, to);
    }
    long a_left = exists_range(c, "a/k", 0, a_keys, NULL);
    if (a_left != a_keys)
        it_fail("writing namespace b evicted %ld of namespace a's %ld keys", a_keys - a_left, a_keys);
    /* spot-check a's values */
    expect_bulk(c, value_of(VAL_1K), "GET", "a/k0", NULL);
    expect_bulk(c, value_of(VAL_1K), "GET", "a/k1399", NULL);
    long long evicted = evicted_keys(c);
    long long keys = integer_reply(it_run(c, "DBSIZE", NULL), "DBSIZE");
    /* nothing was deleted or overwritten: every key that is gone was evicted */
    if (evicted != a_keys + b_keys - keys)
        it_fail("evicted_keys %lld, but %ld keys were written and %lld remain", evicted,
                a_keys + b_keys, keys);
    /* b's newest writes are present: the last one surely (eviction runs before the
     * write), and nearly all of the newest 100 (lru is fewest hits first: every b key
     * has 0 hits, so a just-written key is as likely a victim as an old one) */
    long newest = exists_range(c, "b/k", b_keys - 100, b_keys, NULL);
    if (newest < 90)
        it_fail("only %ld of b's 100 newest keys are present", newest);
    char last_key[32];
    snprintf(last_key, sizeof last_key, "b/k%ld", b_keys - 1);
    expect_bulk(c, value_of(VAL_1K), "GET", last_key, NULL);
    long b_left = exists_range(c, "b/k", 0, b_keys, NULL);
    assert_int_equal(b_left + a_keys, keys);
    fprintf(stderr, "  lru isolation: a kept %ld/%ld, b kept %ld/%ld, evicted %lld, max used %lld\n",
            a_left, a_keys, b_left, b_keys, evicted, max_used);
    /* a itself can still grow by evicting its own keys, and b's keys go nowhere */
    set_range(c, "a/n", 0, 500, VAL_1K, NULL, &ok, &oom);
    assert_int_equal(ok, 500);
    assert_int_equal(exists_range(c, "b/k", 0, b_keys, NULL), b_left);
    expect_flush_restores(c, start);
}

/* ---- lru / mru: who is evicted ------------------------------------------------------ */

typedef struct hot_result {
    double hot_rate;     /* share of the read-heavy old keys still present */
    double cold_rate;    /* share of the never-read old keys still present */
    long   evicted;
} hot_result;

/* In namespace ns: writes n old keys, reads every 4th of them `reps` times, then writes
 * n_new more keys of the same size (overflowing the limit), and measures which old keys
 * survived. Every write must be accepted (the namespace has keys to evict). */
static hot_result hot_experiment(kv_conn *c, const char *ns, long n, long n_new, int reps)
{
    char fmt_old[64], fmt_new[64];
    snprintf(fmt_old, sizeof fmt_old, "%s/old", ns);
    snprintf(fmt_new, sizeof fmt_new, "%s/new", ns);
    long long ev0 = evicted_keys(c);
    long ok = 0, oom = 0;
    set_range(c, fmt_old, 0, n, VAL_1K, NULL, &ok, &oom);
    assert_int_equal(ok, n);
    assert_int_equal(evicted_keys(c), ev0);       /* it fitted: nothing evicted yet */
    read_keys(c, fmt_old, 0, n, 4, reps);
    set_range(c, fmt_new, 0, n_new, VAL_1K, NULL, &ok, &oom);
    if (oom)
        it_fail("%s: %ld writes refused with OOM", ns, oom);
    unsigned char *present = calloc((size_t)n, 1);
    assert_non_null(present);
    exists_range(c, fmt_old, 0, n, present);
    long hot = 0, hot_kept = 0, cold = 0, cold_kept = 0;
    for (long i = 0; i < n; i++) {
        if (i % 4 == 0) {
            hot++;
            hot_kept += present[i];
        } else {
            cold++;
            cold_kept += present[i];
        }
    }
    free(present);
    hot_result r = { (double)hot_kept / (double)hot, (double)cold_kept / (double)cold,
                     (long)(evicted_keys(c) - ev0) };
    fprintf(stderr, "  %s: read-heavy kept %ld/%ld (%.2f), never-read kept %ld/%ld (%.2f), evicted %ld\n",
            ns, hot_kept, hot, r.hot_rate, cold_kept, cold, r.cold_rate, r.evicted);
    if (r.evicted < n_new / 4)
        it_fail("%s: only %ld keys evicted while writing %ld keys past the limit", ns, r.evicted, n_new);
    if (used_memory(c) > LIMIT_4M)
        it_fail("%s: used_memory %lld > maxmemory", ns, used_memory(c));
    return r;
}

/* The experiment evicts ~3000 of ~7000 keys, 500 of them read-heavy (3 hits), the
 * rest never read. A sampled policy that evicts the best victim of each sample of k
 * keys (Redis: k = 5) takes a read-heavy key under lru only when a whole sample is
 * read-heavy (almost never), and under mru whenever a sample holds one, which removes
 * all but ~500 x exp(-k x 3000 / 3900) (k = 5: ~2%) of them. The bounds below leave
 * wide margins on both: rates, not sets, since sampling is approximate. */

/* Under lru the keys read most survive: their survival rate is clearly higher. */
static void expect_lru_shape(hot_result r, const char *ns)
{
    if (!(r.hot_rate >= 0.8 && r.hot_rate >= r.cold_rate + 0.25))
        it_fail("%s (lru): read-heavy keys kept at %.2f, never-read at %.2f: lru should evict "
                "the fewest-hit keys first", ns, r.hot_rate, r.cold_rate);
}

/* Under mru the keys read most go first: their survival rate is clearly lower. */
static void expect_mru_shape(hot_result r, const char *ns)
{
    if (!(r.hot_rate <= 0.15 && r.cold_rate >= r.hot_rate + 0.25))
        it_fail("%s (mru): read-heavy keys kept at %.2f, never-read at %.2f: mru should evict "
                "the most-hit keys first", ns, r.hot_rate, r.cold_rate);
}

#define HOT_OLD  2000      /* ~2.1 MB of old keys */
#define HOT_NEW  5000      /* ~5.4 MB more: ~3.4 MB past the limit */
#define HOT_REPS 3

static void test_lru_keeps_read_keys(void **state)
{
    const char *env[] = { "KVNS_MEMORY_LIMIT=4m", "KVNS_EVICTION_POLICY=lru", NULL };
    kv_conn *c = start_kvns(env, false);
    long long start = used_memory(c);
    expect_lru_shape(hot_experiment(c, "c", HOT_OLD, HOT_NEW, HOT_REPS), "c");
    expect_flush_restores(c, start);
}

static void test_mru_evicts_read_keys(void **state)
{
    const char *env[] = { "KVNS_MEMORY_LIMIT=4m", "KVNS_EVICTION_POLICY=mru", NULL };
    kv_conn *c = start_kvns(env, false);
    char buf[64];
    assert_string_equal(info_str(c, "maxmemory_policy", buf, sizeof buf), "mru");
    long long start = used_memory(c);
    expect_mru_shape(hot_experiment(c, "c", HOT_OLD, HOT_NEW, HOT_REPS), "c");
    expect_flush_restores(c, start);
}

/* ---- threshold ---------------------------------------------------------------------- */

/* KVNS_EVICTION_THRESHOLD=0.5: while writing 3x the limit, used_memory stays at about
 * half the limit (it reaches it, and does not pass it by more than a little slack). */
static void test_threshold(void **state)
{
    const char *env[] = { "KVNS_MEMORY_LIMIT=4m", "KVNS_EVICTION_POLICY=lru",
                          "KVNS_EVICTION_THRESHOLD=0.5", NULL };
    kv_conn *c = start_kvns(env, false);
    char buf[64];
    assert_string_equal(info_str(c, "kvns_eviction_threshold", buf, sizeof buf), "0.50");
    long long start = used_memory(c);
    const long long half = LIMIT_4M / 2, slack = 64 * 1024;
    const long total = 3 * LIMIT_4M / VAL_1K;
    long long max_used = 0;
    long ok, oom;
    for (long from = 0; from < total; from += 128) {
        long to = from + 128 < total ? from + 128 : total;
        set_range(c, "t/k", from, to, VAL_1K, NULL, &ok, &oom);
        if (oom)
            it_fail("threshold: %ld writes refused with OOM", oom);
        long long u = used_memory(c);
        max_used = u > max_used ? u : max_used;
        if (u > half + slack)
            it_fail("threshold 0.5: used_memory %lld after t/k..%ld, above 0.5 x limit (%lld) + %lld",
                    u, to, half, slack);
    }
    long long evicted = evicted_keys(c);
    fprintf(stderr, "  threshold 0.5: max used_memory %lld (half the limit: %lld), evicted %lld\n",
            max_used, half, evicted);
    if (max_used < half - 128 * 1024)
        it_fail("threshold 0.5: used_memory peaked at %lld, well below the threshold %lld", max_used, half);
    assert_true(evicted > total / 2);
    /* the newest write is there (eviction runs before it), and nearly all of the 50
     * newest (ties at 0 hits make any key a possible victim, see the isolation test) */
    char last_key[32];
    snprintf(last_key, sizeof last_key, "t/k%ld", total - 1);
    expect_bulk(c, value_of(VAL_1K), "GET", last_key, NULL);
    long newest = exists_range(c, "t/k", total - 50, total, NULL);
    if (newest < 45)
        it_fail("threshold: only %ld of the 50 newest keys are present", newest);
    expect_flush_restores(c, start);
}

/* ---- per-namespace override ---------------------------------------------------------- */

/* Global lru with KVNS_NS_EVICTION=cache:mru,pinned:none: cache evicts its most-read
 * keys first, pinned is refused with OOM instead of evicting, others follow lru. */
static void test_ns_override(void **state)
{
    const char *env[] = { "KVNS_MEMORY_LIMIT=4m", "KVNS_EVICTION_POLICY=lru",
                          "KVNS_NS_EVICTION= cache:mru , pinned:none", NULL };
    kv_conn *c = start_kvns(env, false);
    char buf[64];
    assert_string_equal(config_get(c, "maxmemory-policy", buf, sizeof buf), "lru");
    long long start = used_memory(c);

    /* pinned: none -> OOM and no eviction, although the global policy is lru */
    long ok = 0, oom = 0;
    set_range(c, "pinned/k", 0, 500, 20000, NULL, &ok, &oom);
    if (oom == 0)
        it_fail("pinned:none: 10 MB written into a 4 MiB server without an OOM");
    assert_int_equal(evicted_keys(c), 0);
    assert_int_equal(exists_range(c, "pinned/k", 0, ok, NULL), ok);
    fprintf(stderr, "  pinned:none: %ld accepted, %ld refused, no eviction\n", ok, oom);
    expect_flush_restores(c, start);

    /* sess: no override, so the global lru */
    expect_lru_shape(hot_experiment(c, "sess", HOT_OLD, HOT_NEW, HOT_REPS), "sess");
    expect_flush_restores(c, start);
    /* cache: mru */
    expect_mru_shape(hot_experiment(c, "cache", HOT_OLD, HOT_NEW, HOT_REPS), "cache");
    expect_flush_restores(c, start);
}

/* ---- nothing left to evict --------------------------------------------------------------- */

/* Under lru a write whose namespace has nothing (or not enough) to evict is refused with
 * OOM and does not touch the other namespaces. */
static void test_nothing_to_evict(void **state)
{
    const char *env[] = { "KVNS_MEMORY_LIMIT=4m", "KVNS_EVICTION_POLICY=lru", NULL };
    kv_conn *c = start_kvns(env, true);
    long long start = used_memory(c);

    /* larger than the limit itself, in an empty server */
    kv_reply *r = set_sized(c, "x/huge", (size_t)LIMIT_4M + 1024);
    assert_error(r, OOM_TEXT);
    kv_reply_free(r);
    expect_int(c, 0, "EXISTS", "x/huge", NULL);
    assert_int_equal(used_memory(c), start);

    /* a fills ~90% of the limit */
    long ok = 0, oom = 0, a_keys = 0;
    while (used_memory(c) < LIMIT_4M * 9 / 10) {
        set_range(c, "a/k", a_keys, a_keys + 100, VAL_1K, NULL, &ok, &oom);
        assert_int_equal(ok, 100);
        a_keys += 100;
    }
    mem_snap before = mem_snapshot(c);
    /* a fresh namespace: a value larger than the free room -> OOM, a untouched */
    r = set_sized(c, "b/big", 1024 * 1024);
    assert_error(r, OOM_TEXT);
    kv_reply_free(r);
    expect_int(c, 0, "EXISTS", "b/big", NULL);
    expect_unchanged(c, before, "the refused SET b/big");
    assert_int_equal(evicted_keys(c), 0);
    assert_int_equal(exists_range(c, "a/k", 0, a_keys, NULL), a_keys);

    /* b has a little, not enough: still OOM, and a is still untouched */
    r = set_sized(c, "b/small", 100);
    assert_status(r, "OK");
    kv_reply_free(r);
    r = set_sized(c, "b/big", 1024 * 1024);
    assert_error(r, OOM_TEXT);
    kv_reply_free(r);
    expect_int(c, 0, "EXISTS", "b/big", NULL);
    assert_int_equal(exists_range(c, "a/k", 0, a_keys, NULL), a_keys);
    assert_true(used_memory(c) <= LIMIT_4M);
    /* the namespace that owns the memory can still write, by evicting its own keys */
    r = set_sized(c, "a/big", 1024 * 1024);
    assert_status(r, "OK");
    kv_reply_free(r);
    expect_int(c, 1, "EXISTS", "a/big", NULL);
    assert_true(used_memory(c) <= LIMIT_4M);
    expect_flush_restores(c, start);
}

/* ---- concurrent writers ------------------------------------------------------------ */

#define CW_THREADS 4
#define CW_OPS     1500
#define CW_VLEN    200

typedef struct cw_thread {
    int  id;
    int  port;
    pthread_t tid;
    unsigned char state[CW_OPS];   /* per SET key j: 0 not tried, WR_OK, WR_OOM, 3 deleted */
    long incr_acked;               /* INCRs answered with an integer */
    long n_ok, n_oom, n_del;
    char error[512];               /* the first unexpected thing, "" if none */
} cw_thread;

static void cw_value(char *buf, int id, int j)
{
    int n = snprintf(buf, CW_VLEN + 1, "t%d-j%d-", id, j);
    memset(buf + n, 'w', (size_t)(CW_VLEN - n));
    buf[CW_VLEN] = 0;
}

/* One writer: its own connection, its own keys w/t<id>/...: INCR a counter every third
 * operation, SET a 200-byte value otherwise, and every tenth operation DEL one of its
 * keys written five operations earlier (DEL must answer 1 exactly when that SET was
 * acknowledged). Records every answer; no cmocka calls here (not thread-safe). */
static void *cw_main(void *arg)
{
    cw_thread *t = arg;
    kv_conn *c = conn_open(t->port);
    if (!c) {
        snprintf(t->error, sizeof t->error, "thread %d: cannot connect", t->id);
        return NULL;
    }
    conn_set_timeout(c, 30000);
    char key[64], ctr[64], val[CW_VLEN + 1], d[256];
    snprintf(ctr, sizeof ctr, "w/t%d/ctr", t->id);
    for (int j = 0; j < CW_OPS && !t->error[0]; j++) {
        kv_reply *r;
        if (j % 3 == 0) {
            r = conn_cmd(c, "INCR", ctr, NULL);
            if (r && r->type == KV_REPLY_INTEGER) {
                if (r->integer != t->incr_acked + 1)
                    snprintf(t->error, sizeof t->error, "thread %d: INCR answered %lld after %ld acknowledged",
                             t->id, r->integer, t->incr_acked);
                t->incr_acked++;
                t->n_ok++;
            } else if (r && r->type == KV_REPLY_ERROR && strcmp(r->str, OOM_TEXT) == 0) {
                t->n_oom++;
            } else {
                snprintf(t->error, sizeof t->error, "thread %d: INCR answered %s", t->id,
                         kv_reply_describe(r, d, sizeof d));
            }
        } else {
            snprintf(key, sizeof key, "w/t%d/k%d", t->id, j);
            cw_value(val, t->id, j);
            r = conn_cmd(c, "SET", key, val, NULL);
            if (r && r->type == KV_REPLY_STATUS && strcmp(r->str, "OK") == 0) {
                t->state[j] = WR_OK;
                t->n_ok++;
            } else if (r && r->type == KV_REPLY_ERROR && strcmp(r->str, OOM_TEXT) == 0) {
                t->state[j] = WR_OOM;
                t->n_oom++;
            } else {
                snprintf(t->error, sizeof t->error, "thread %d: SET %s answered %s", t->id, key,
                         kv_reply_describe(r, d, sizeof d));
            }
        }
        kv_reply_free(r);
        if (j % 10 == 9 && j >= 5 && (j - 5) % 3 != 0 && !t->error[0]) {
            int k = j - 5;
            snprintf(key, sizeof key, "w/t%d/k%d", t->id, k);
            r = conn_cmd(c, "DEL", key, NULL);
            long long want = t->state[k] == WR_OK ? 1 : 0;
            if (!r || r->type != KV_REPLY_INTEGER || r->integer != want)
                snprintf(t->error, sizeof t->error, "thread %d: DEL %s (SET was %s) answered %s",
                         t->id, key, want ? "acknowledged" : "refused", kv_reply_describe(r, d, sizeof d));
            else if (want) {
                t->state[k] = 3;
                t->n_del++;
            }
            kv_reply_free(r);
        }
    }
    conn_close(c);
    return NULL;
}

/* Policy none, the store near its limit, four connections writing concurrently: every
 * acknowledged write is present afterwards with its value, every refused one got the OOM
 * text and left nothing behind, and the limit held. */
static void test_concurrent_writers_oom(void **state)
{
    const char *env[] = { "KVNS_MEMORY_LIMIT=4m", "KVNS_WORKERS=2", "KVNS_THREADS=2", NULL };
    kv_conn *c = start_kvns(env, false);
    long long start = used_memory(c);
    /* filler until refused, then free ~100 KB: room for a fraction of what is written */
    long ok = 0, oom = 0, filled = 0;
    do {
        set_range(c, "f/k", filled, filled + 256, VAL_1K, NULL, &ok, &oom);
        filled += 256;
    } while (oom == 0 && filled < 100000);
    assert_true(oom > 0);
    for (long i = 0; i < 100; i++) {
        char key[32];
        snprintf(key, sizeof key, "f/k%ld", i);
        expect_int(c, 1, "DEL", key, NULL);
    }

    static cw_thread th[CW_THREADS];
    memset(th, 0, sizeof th);
    for (int i = 0; i < CW_THREADS; i++) {
        th[i].id = i;
        th[i].port = srv_port(g_srv);
        assert_int_equal(pthread_create(&th[i].tid, NULL, cw_main, &th[i]), 0);
    }
    for (int i = 0; i < CW_THREADS; i++)
        pthread_join(th[i].tid, NULL);
    long total_ok = 0, total_oom = 0, total_del = 0;
    for (int i = 0; i < CW_THREADS; i++) {
        if (th[i].error[0])
            it_fail("%s", th[i].error);
        total_ok += th[i].n_ok;
        total_oom += th[i].n_oom;
        total_del += th[i].n_del;
    }
    fprintf(stderr, "  concurrent writers: %ld acknowledged, %ld refused with OOM, %ld deleted\n",
            total_ok, total_oom, total_del);
    if (total_ok == 0 || total_oom == 0)
        it_fail("the writers did not run into the limit (%ld acknowledged, %ld refused)", total_ok, total_oom);

    /* every acknowledged write is there, every refused or deleted one is not */
    char key[64], val[CW_VLEN + 1];
    for (int i = 0; i < CW_THREADS; i++) {
        for (int j = 0; j < CW_OPS; j++) {
            if (j % 3 == 0)
                continue;
            snprintf(key, sizeof key, "w/t%d/k%d", i, j);
            if (th[i].state[j] == WR_OK) {
                cw_value(val, i, j);
                kv_reply *r = it_run(c, "GET", key, NULL);
                if (!r || r->type != KV_REPLY_BULK || strcmp(r->str, val) != 0) {
                    char d[256];
                    it_fail("acknowledged SET %s lost: GET answers %s", key, kv_reply_describe(r, d, sizeof d));
                }
                kv_reply_free(r);
            } else {
                kv_reply *r = it_run(c, "EXISTS", key, NULL);
                if (r->type != KV_REPLY_INTEGER || r->integer != 0)
                    it_fail("%s was %s but exists", key, th[i].state[j] == 3 ? "deleted" : "refused");
                kv_reply_free(r);
            }
        }
        char ctr[64];
        snprintf(ctr, sizeof ctr, "w/t%d/ctr", i);
        if (th[i].incr_acked) {
            char want[32];
            snprintf(want, sizeof want, "%ld", th[i].incr_acked);
            expect_bulk(c, want, "GET", ctr, NULL);
        } else {
            expect_int(c, 0, "EXISTS", ctr, NULL);
        }
    }
    long long used = used_memory(c);
    if (used > LIMIT_4M)
        it_fail("used_memory %lld > maxmemory after concurrent writers", used);
    assert_int_equal(evicted_keys(c), 0);
    expect_flush_restores(c, start);
}

/* Writers of one namespace racing each other past the limit under lru: each of them
 * always finds keys of the namespace to evict, so none may be refused. */
#define EW_THREADS 6
#define EW_KEYS    8000          /* per thread: 6 x 8000 x ~1 KB = ~12x the limit */

typedef struct ew_thread {
    int  id, port;
    pthread_t tid;
    long ok, oom;
    char error[512];
} ew_thread;

static void *ew_main(void *arg)
{
    ew_thread *t = arg;
    kv_conn *c = conn_open(t->port);
    if (!c) {
        snprintf(t->error, sizeof t->error, "writer %d: cannot connect", t->id);
        return NULL;
    }
    conn_set_timeout(c, 30000);
    static char value[VAL_1K + 1];
    memset(value, 'e', VAL_1K);          /* same bytes from every thread: no race */
    char key[64], d[256];
    for (int b = 0; b < EW_KEYS && !t->error[0]; b += 32) {
        int n = b + 32 <= EW_KEYS ? 32 : EW_KEYS - b;
        for (int j = b; j < b + n; j++) {
            snprintf(key, sizeof key, "e/t%d/k%d", t->id, j);
            const char *argv[] = { "SET", key, value };
            size_t lens[] = { 3, strlen(key), VAL_1K };
            if (conn_send_cmdv(c, 3, argv, lens) != 0) {
                snprintf(t->error, sizeof t->error, "writer %d: send failed", t->id);
                break;
            }
        }
        for (int j = 0; j < n && !t->error[0]; j++) {
            kv_reply *r = conn_read_reply(c);
            if (r && r->type == KV_REPLY_STATUS && strcmp(r->str, "OK") == 0)
                t->ok++;
            else if (r && r->type == KV_REPLY_ERROR && strcmp(r->str, OOM_TEXT) == 0)
                t->oom++;
            else
                snprintf(t->error, sizeof t->error, "writer %d: SET answered %s", t->id,
                         kv_reply_describe(r, d, sizeof d));
            kv_reply_free(r);
        }
    }
    conn_close(c);
    return NULL;
}

static void test_lru_concurrent_writers_never_oom(void **state)
{
    const char *env[] = { "KVNS_MEMORY_LIMIT=4m", "KVNS_EVICTION_POLICY=lru", "KVNS_WORKERS=2",
                          "KVNS_THREADS=2", NULL };
    kv_conn *c = start_kvns(env, false);
    long long start = used_memory(c);
    static ew_thread th[EW_THREADS];
    memset(th, 0, sizeof th);
    for (int i = 0; i < EW_THREADS; i++) {
        th[i].id = i;
        th[i].port = srv_port(g_srv);
        assert_int_equal(pthread_create(&th[i].tid, NULL, ew_main, &th[i]), 0);
    }
    for (int i = 0; i < EW_THREADS; i++)
        pthread_join(th[i].tid, NULL);
    long ok = 0, oom = 0;
    for (int i = 0; i < EW_THREADS; i++) {
        if (th[i].error[0])
            it_fail("%s", th[i].error);
        ok += th[i].ok;
        oom += th[i].oom;
    }
    long long evicted = evicted_keys(c), keys = integer_reply(it_run(c, "DBSIZE", NULL), "DBSIZE");
    fprintf(stderr, "  lru, %d concurrent writers: %ld OK, %ld OOM, %lld evicted, %lld left\n",
            EW_THREADS, ok, oom, evicted, keys);
    if (oom)
        it_fail("%ld of %d SETs refused with OOM under lru although namespace e had ~%lld keys to "
                "evict", oom, EW_THREADS * EW_KEYS, keys);
    assert_int_equal(ok + 0LL, (long long)EW_THREADS * EW_KEYS);
    assert_int_equal(evicted, ok - keys);
    if (used_memory(c) > LIMIT_4M)
        it_fail("used_memory %lld > maxmemory after concurrent evicting writers", used_memory(c));
    expect_flush_restores(c, start);
}

/* ---- accounting ---------------------------------------------------------------------- */

/* MEMORY USAGE, INFO used_memory, kvns_memory_used_bytes{namespace} and the totals agree. */
static void test_accounting(void **state)
{
    const char *env[] = { "KVNS_MEMORY_LIMIT=64m", "KVNS_EVICTION_POLICY=mru", NULL };
    kv_conn *c = start_kvns(env, true);
    char buf[64];
    long long start = used_memory(c);

    /* creation of a key in an idle server: its namespace's gauge grows by exactly
     * MEMORY USAGE; used_memory too, give or take a hash table resize (started by the
     * write, or an old table freed when the housekeeper finishes an incremental rehash;
     * the tables are what used_memory holds beyond the namespaces' sum) */
    static const size_t sizes[] = { 0, 1, 7, 15, 16, 40, 100, 255, 1000, 4000, 10000, 65536, 100000, 1000000 };
    long long usage_sum = 0;
    int exact = 0, total = 0;
    for (int round = 0; round < 4; round++) {
        for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
            char key[64];
            snprintf(key, sizeof key, "acc/s%d-%zu", round, sizes[i]);
            char *m0 = metrics_scrape_body(g_metrics_port);
            long long before = used_memory(c);
            double ns0 = round == 0 && i == 0 ? 0 : metric_need(m0, "kvns_memory_used_bytes{namespace=\"acc\"}");
            free(m0);
            kv_reply *r = set_sized(c, key, sizes[i]);
            assert_status(r, "OK");
            kv_reply_free(r);
            long long after = used_memory(c), usage = memory_usage(c, key);
            char *m1 = metrics_scrape_body(g_metrics_port);
            double ns1 = metric_need(m1, "kvns_memory_used_bytes{namespace=\"acc\"}");
            free(m1);
            long long delta = after - before;
            usage_sum += usage;
            total++;
            if (usage < (long long)sizes[i] + 1 || usage > (long long)sizes[i] * 11 / 10 + 128)
                it_fail("MEMORY USAGE %s = %lld for a %zu-byte value", key, usage, sizes[i]);
            if (ns1 - ns0 != (double)usage)
                it_fail("creating %s: kvns_memory_used_bytes{namespace=\"acc\"} grew by %.0f, MEMORY USAGE says %lld",
                        key, ns1 - ns0, usage);
            if (delta == usage)
                exact++;
            else if (llabs(delta - usage) > 4096)
                it_fail("creating %s: used_memory grew by %lld, MEMORY USAGE says %lld", key, delta, usage);
        }
    }
    fprintf(stderr, "  accounting: %d/%d creations grew used_memory by exactly MEMORY USAGE "
            "(the others by it plus a table resize)\n", exact, total);
    if (exact < total / 2)
        it_fail("only %d of %d creations grew used_memory by exactly MEMORY USAGE", exact, total);

    /* collections */
    long long coll_sum = 0;
    expect_int(c, 3, "HSET", "acc/h", "f1", "v1", "f2", value_of(300), "f3", "3", NULL);
    coll_sum += memory_usage(c, "acc/h");
    expect_int(c, 3, "RPUSH", "acc/l", "a", value_of(500), "c", NULL);
    coll_sum += memory_usage(c, "acc/l");
    expect_int(c, 3, "SADD", "acc/set", "a", "b", value_of(70), NULL);
    coll_sum += memory_usage(c, "acc/set");
    expect_int(c, 2, "ZADD", "acc/z", "1", "a", "2", value_of(90), NULL);
    coll_sum += memory_usage(c, "acc/z");
    /* keys in two other namespaces */
    expect_status(c, "OK", "SET", "plain", "in-default", NULL);
    expect_status(c, "OK", "SET", "other/x", value_of(2000), NULL);
    long long default_sum = memory_usage(c, "plain");
    long long other_sum = memory_usage(c, "other/x");

    char *m = metrics_scrape_body(g_metrics_port);
    long long used = used_memory(c);
    long long acc = (long long)metric_need(m, "kvns_memory_used_bytes{namespace=\"acc\"}");
    if (acc != usage_sum + coll_sum)
        it_fail("kvns_memory_used_bytes{namespace=\"acc\"} = %lld, sum of MEMORY USAGE = %lld",
                acc, usage_sum + coll_sum);
    assert_int_equal((long long)metric_need(m, "kvns_memory_used_bytes{namespace=\"default\"}"), default_sum);
    assert_int_equal((long long)metric_need(m, "kvns_memory_used_bytes{namespace=\"other\"}"), other_sum);
    double ns_total = sum_ns_metric(m);
    assert_true(ns_total == (double)(acc + default_sum + other_sum));
    if (ns_total > (double)used)
        it_fail("namespaces sum to %.0f bytes, more than used_memory %lld", ns_total, used);
    /* what is not charged to a namespace is table overhead: small */
    if ((double)used - ns_total > 64 * 1024)
        it_fail("used_memory %lld exceeds the namespaces' %.0f by more than 64 KiB", used, ns_total);
    /* the gauge and INFO are separate reads (background rehash between them) */
    if (llabs((long long)metric_need(m, "kvns_memory_used_bytes_total") - used) > 16 * 1024)
        it_fail("kvns_memory_used_bytes_total %.0f vs INFO used_memory %lld",
                metric_need(m, "kvns_memory_used_bytes_total"), used);
    assert_int_equal((long long)metric_need(m, "kvns_memory_limit_bytes"), 64LL << 20);
    free(m);
    assert_int_equal(info_ll(c, "maxmemory"), 64LL << 20);
    assert_string_equal(config_get(c, "maxmemory", buf, sizeof buf), "67108864");
    char pol[64];
    assert_string_equal(info_str(c, "maxmemory_policy", pol, sizeof pol),
                        config_get(c, "maxmemory-policy", buf, sizeof buf));
    assert_string_equal(pol, "mru");
    kv_reply *stats = it_run(c, "MEMORY", "STATS", NULL);
    const kv_reply *total_alloc = kv_reply_map_get(stats, "total.allocated");
    if (!total_alloc || total_alloc->type != KV_REPLY_INTEGER || llabs(total_alloc->integer - used) > 16 * 1024)
        it_fail("MEMORY STATS total.allocated differs from used_memory %lld", used);
    kv_reply_free(stats);

    /* deleting a key takes exactly its MEMORY USAGE off the namespace */
    long long u = memory_usage(c, "acc/s0-100000");
    expect_int(c, 1, "DEL", "acc/s0-100000", NULL);
    m = metrics_scrape_body(g_metrics_port);
    assert_int_equal((long long)metric_need(m, "kvns_memory_used_bytes{namespace=\"acc\"}"), acc - u);
    /* the scrape and INFO are two reads: the housekeeper's background rehash may move
     * the tables' bytes in between (a few hundred bytes), so they agree within that */
    long long total_metric = (long long)metric_need(m, "kvns_memory_used_bytes_total");
    free(m);
    long long total_info = used_memory(c);
    if (llabs(total_metric - total_info) > 16 * 1024)
        it_fail("kvns_memory_used_bytes_total %lld vs INFO used_memory %lld", total_metric, total_info);
    /* an overwrite with a bigger value: the namespace changes by the difference */
    long long before_ns = acc - u;
    long long old_usage = memory_usage(c, "acc/s1-1000");
    kv_reply *r = set_sized(c, "acc/s1-1000", 5000);
    assert_status(r, "OK");
    kv_reply_free(r);
    long long new_usage = memory_usage(c, "acc/s1-1000");
    m = metrics_scrape_body(g_metrics_port);
    assert_int_equal((long long)metric_need(m, "kvns_memory_used_bytes{namespace=\"acc\"}"),
                     before_ns - old_usage + new_usage);
    free(m);

    /* FLUSHALL: back to the start, every namespace at 0 */
    expect_flush_restores(c, start);
    m = metrics_scrape_body(g_metrics_port);
    assert_true(metric_need(m, "kvns_memory_used_bytes{namespace=\"acc\"}") == 0);
    assert_true(metric_need(m, "kvns_memory_used_bytes{namespace=\"other\"}") == 0);
    assert_true(metric_need(m, "kvns_memory_used_bytes_total") == (double)start);
    free(m);
}

/* FLUSHALL after an eviction-heavy run with collections returns used_memory to the start. */
static void test_flushall_restores_after_churn(void **state)
{
    const char *env[] = { "KVNS_MEMORY_LIMIT=4m", "KVNS_EVICTION_POLICY=lru", NULL };
    kv_conn *c = start_kvns(env, false);
    long long start = used_memory(c);
    long ok, oom;
    for (int round = 0; round < 2; round++) {
        set_range(c, "p/k", 0, 6000, 700, NULL, &ok, &oom);
        assert_int_equal(ok, 6000);
        set_range(c, "q/k", 0, 300, 30, NULL, &ok, &oom);
        for (int i = 0; i < 50; i++) {
            char key[32];
            snprintf(key, sizeof key, "h/%d", i);
            for (int f = 0; f < 40; f++) {
                char field[16];
                snprintf(field, sizeof field, "f%d", f);
                kv_reply *r = it_run(c, "HSET", key, field, value_of(50), NULL);
                kv_reply_free(r);
            }
        }
        for (int i = 0; i < 200; i++) {
            kv_reply *r = it_run(c, "RPUSH", "l/big", value_of(100), NULL);
            kv_reply_free(r);
        }
        assert_true(evicted_keys(c) > 0);
        assert_true(used_memory(c) <= LIMIT_4M);
        expect_flush_restores(c, start);
    }
}

/* ---- CONFIG SET ------------------------------------------------------------------------- */

/* CONFIG SET maxmemory below what is used refuses growing writes; CONFIG SET
 * maxmemory-policy lru makes them evict; CONFIG GET, INFO and /metrics follow. */
static void test_config_set(void **state)
{
    const char *env[] = { "KVNS_MEMORY_LIMIT=8m", NULL };
    kv_conn *c = start_kvns(env, true);
    char buf[64];
    long long start = used_memory(c);
    long ok, oom;
    set_range(c, "a/k", 0, 2000, VAL_1K, NULL, &ok, &oom);
    assert_int_equal(ok, 2000);
    mem_snap before = mem_snapshot(c);

    /* lower the limit below what is used: growing writes refused, reads and DEL fine */
    expect_status(c, "OK", "CONFIG", "SET", "maxmemory", "2mb", NULL);
    assert_string_equal(config_get(c, "maxmemory", buf, sizeof buf), "2097152");
    assert_int_equal(info_ll(c, "maxmemory"), 2097152);
    char *m = metrics_scrape_body(g_metrics_port);
    assert_int_equal((long long)metric_need(m, "kvns_memory_limit_bytes"), 2097152);
    free(m);
    kv_reply *r = set_sized(c, "a/new", VAL_1K);
    assert_error(r, OOM_TEXT);
    kv_reply_free(r);
    expect_error(c, OOM_TEXT, "SET", "b/new", "x", NULL);
    expect_int(c, 0, "EXISTS", "a/new", "b/new", NULL);
    expect_unchanged(c, before, "the refused SETs under the lowered maxmemory");
    expect_bulk(c, value_of(VAL_1K), "GET", "a/k5", NULL);
    expect_int(c, 1, "DEL", "a/k5", NULL);

    /* policy lru: the same write now evicts a's keys until it fits the new limit */
    expect_status(c, "OK", "CONFIG", "SET", "maxmemory-policy", "lru", NULL);
    assert_string_equal(config_get(c, "maxmemory-policy", buf, sizeof buf), "lru");
    assert_string_equal(info_str(c, "maxmemory_policy", buf, sizeof buf), "lru");
    r = set_sized(c, "a/new", VAL_1K);
    assert_status(r, "OK");
    kv_reply_free(r);
    expect_int(c, 1, "EXISTS", "a/new", NULL);
    if (used_memory(c) > 2097152)
        it_fail("after an evicting write under CONFIG SET maxmemory 2mb, used_memory is %lld",
                used_memory(c));
    assert_true(evicted_keys(c) > 0);
    /* b has nothing to evict: still refused */
    expect_error(c, OOM_TEXT, "SET", "b/new", value_of(200000), NULL);

    /* mru and noeviction are accepted and reported; bad values are refused */
    expect_status(c, "OK", "CONFIG", "SET", "maxmemory-policy", "mru", NULL);
    assert_string_equal(config_get(c, "maxmemory-policy", buf, sizeof buf), "mru");
    expect_status(c, "OK", "CONFIG", "SET", "maxmemory-policy", "noeviction", NULL);
    assert_string_equal(config_get(c, "maxmemory-policy", buf, sizeof buf), "noeviction");
    assert_string_equal(info_str(c, "maxmemory_policy", buf, sizeof buf), "noeviction");
    expect_error_prefix(c, "ERR CONFIG SET failed", "CONFIG", "SET", "maxmemory-policy", "foo", NULL);
    expect_error_prefix(c, "ERR CONFIG SET failed", "CONFIG", "SET", "maxmemory", "lots", NULL);
    assert_string_equal(config_get(c, "maxmemory-policy", buf, sizeof buf), "noeviction");
    assert_string_equal(config_get(c, "maxmemory", buf, sizeof buf), "2097152");
    expect_error(c, OOM_TEXT, "SET", "a/more", value_of(200000), NULL);

    /* raise it again: writes accepted without eviction */
    long long ev = evicted_keys(c);
    expect_status(c, "OK", "CONFIG", "SET", "maxmemory", "8388608", NULL);
    assert_int_equal(info_ll(c, "maxmemory"), 8388608);
    set_range(c, "b/k", 0, 2000, VAL_1K, NULL, &ok, &oom);
    assert_int_equal(ok, 2000);
    assert_int_equal(evicted_keys(c), ev);
    expect_flush_restores(c, start);
}

/* ---- bad configuration ----------------------------------------------------------------- */

/* Runs kvns with a clean environment plus bad; it must exit with code 2 within 5 s and
 * say which variable is wrong on stderr. */
static void expect_refused_at_start(const char *bad, const char *variable)
{
    char bin[PATH_MAX];
    srv_kvns_binary(bin, sizeof bin);
    char log_path[] = "/tmp/kvns-it-memory-env-XXXXXX";
    int log_fd = mkstemp(log_path);
    assert_true(log_fd >= 0);
    char port[32];
    snprintf(port, sizeof port, "KVNS_PORT=%d", srv_free_port());
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        setpgid(0, 0);
        /* the defaults, minus the one bad replaces, then bad */
        const char *defaults[] = { port, "KVNS_HOST=127.0.0.1", "KVNS_METRICS_PORT=0", "KVNS_WORKERS=1",
                                   "KVNS_SHARD_COUNT=2", "KVNS_MEMORY_LIMIT=4m" };
        char *envp[8];
        size_t ne = 0, nl = strcspn(bad, "=") + 1;
        for (size_t i = 0; i < sizeof defaults / sizeof *defaults; i++)
            if (strncmp(defaults[i], bad, nl) != 0)
                envp[ne++] = (char *)defaults[i];
        envp[ne++] = (char *)bad;
        envp[ne] = NULL;
        int devnull = open("/dev/null", O_RDWR);
        dup2(devnull, 0);
        dup2(devnull, 1);
        dup2(log_fd, 2);
        char *args[] = { bin, NULL };
        execve(bin, args, envp);
        _exit(127);
    }
    int status = 0;
    pid_t done = 0;
    for (int i = 0; i < 100 && done == 0; i++) {
        done = waitpid(pid, &status, WNOHANG);
        if (done == 0)
            sleep_ms(50);
    }
    if (done == 0) {
        kill(-pid, SIGKILL);
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
    }
    char log[4096] = "";
    ssize_t n = pread(log_fd, log, sizeof log - 1, 0);
    log[n > 0 ? n : 0] = 0;
    close(log_fd);
    unlink(log_path);
    if (done == 0)
        it_fail("%s: kvns (%s) kept running; stderr:\n%s", bad, bin, log);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 2)
        it_fail("%s: kvns ended with status 0x%x, expected exit code 2; stderr:\n%s", bad, status, log);
    if (!strstr(log, variable))
        it_fail("%s: the message does not name %s:\n%s", bad, variable, log);
}

static void test_bad_env_refused(void **state)
{
    it_skip_unless_kvns("kvns memory limits and eviction settings");
    static const char *const cases[][2] = {
        { "KVNS_EVICTION_POLICY=foo", "KVNS_EVICTION_POLICY" },
        { "KVNS_EVICTION_POLICY=allkeys-lru", "KVNS_EVICTION_POLICY" },
        { "KVNS_EVICTION_THRESHOLD=1.5", "KVNS_EVICTION_THRESHOLD" },
        { "KVNS_EVICTION_THRESHOLD=0", "KVNS_EVICTION_THRESHOLD" },
        { "KVNS_EVICTION_THRESHOLD=-0.5", "KVNS_EVICTION_THRESHOLD" },
        { "KVNS_EVICTION_THRESHOLD=abc", "KVNS_EVICTION_THRESHOLD" },
        { "KVNS_NS_EVICTION=x", "KVNS_NS_EVICTION" },
        { "KVNS_NS_EVICTION=cache:foo", "KVNS_NS_EVICTION" },
        { "KVNS_MEMORY_LIMIT=lots", "KVNS_MEMORY_LIMIT" },
        { "KVNS_MEMORY_LIMIT=1000", "KVNS_MEMORY_LIMIT" },
        { "KVNS_MEMORY_LIMIT=-4m", "KVNS_MEMORY_LIMIT" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        expect_refused_at_start(cases[i][0], cases[i][1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_bad_env_refused, teardown),
        cmocka_unit_test_teardown(test_none_fill_until_oom, teardown),
        cmocka_unit_test_teardown(test_accounting, teardown),
        cmocka_unit_test_teardown(test_config_set, teardown),
        cmocka_unit_test_teardown(test_lru_namespace_isolation, teardown),
        cmocka_unit_test_teardown(test_lru_keeps_read_keys, teardown),
        cmocka_unit_test_teardown(test_mru_evicts_read_keys, teardown),
        cmocka_unit_test_teardown(test_threshold, teardown),
        cmocka_unit_test_teardown(test_ns_override, teardown),
        cmocka_unit_test_teardown(test_nothing_to_evict, teardown),
        cmocka_unit_test_teardown(test_concurrent_writers_oom, teardown),
        cmocka_unit_test_teardown(test_lru_concurrent_writers_never_oom, teardown),
        cmocka_unit_test_teardown(test_flushall_restores_after_churn, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
