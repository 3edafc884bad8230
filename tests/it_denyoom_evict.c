/* it_denyoom_evict.c - every DENYOOM command evicts in its own namespace (issue 9):
 * with the memory limit reached under policy lru, each command of the table flagged
 * "denyoom" (as COMMAND INFO reports it) runs repeatedly on keys of namespace a, its
 * sources in namespace src (policy none, never evicted) - and is never refused with
 * OOM: keys of a are evicted for it, while namespace b (also lru) loses nothing.
 *
 * The invocations are listed below, one per DENYOOM command; the test fails when
 * COMMAND INFO reports a DENYOOM command the list does not cover, so a new one cannot
 * go untested. kvns-only (namespaces): skipped against redis-server. */
#include "harness.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIN_ROUNDS 20       /* invocations per command at least */
#define MAX_ROUNDS 2000     /* ... and at most: until one of them has evicted (an
                               eviction frees several keys, leaving some room) */
#define B_KEYS   100        /* keys of namespace b, none of which may go */
#define FILL_LEN 1000       /* value size of the keys that fill namespace a */

/* "@" in an invocation is the round's fresh key of namespace a, "@2" a second one,
 * "V" a 500-byte value. */
typedef struct denyoom_case {
    const char *name;
    const char *pre[6];     /* run first each round (a key the command needs), or none */
    const char *cmd[8];
} denyoom_case;

static const denyoom_case cases[] = {
    { "append", { NULL }, { "APPEND", "@", "V" } },
    { "copy", { NULL }, { "COPY", "src/str", "@" } },
    { "decr", { NULL }, { "DECR", "@" } },
    { "decrby", { NULL }, { "DECRBY", "@", "5" } },
    { "getset", { NULL }, { "GETSET", "@", "V" } },
    { "hincrby", { NULL }, { "HINCRBY", "@", "V", "1" } },
    { "hincrbyfloat", { NULL }, { "HINCRBYFLOAT", "@", "V", "1.5" } },
    { "hmset", { NULL }, { "HMSET", "@", "f", "V" } },
    { "hset", { NULL }, { "HSET", "@", "f", "V" } },
    { "hsetnx", { NULL }, { "HSETNX", "@", "f", "V" } },
    { "incr", { NULL }, { "INCR", "@" } },
    { "incrby", { NULL }, { "INCRBY", "@", "7" } },
    { "incrbyfloat", { NULL }, { "INCRBYFLOAT", "@", "1.5" } },
    { "linsert", { "RPUSH", "@", "pivot" }, { "LINSERT", "@", "BEFORE", "pivot", "V" } },
    { "lmove", { NULL }, { "LMOVE", "src/list", "@", "LEFT", "RIGHT" } },
    { "lpush", { NULL }, { "LPUSH", "@", "V" } },
    { "lpushx", { "RPUSH", "@", "x" }, { "LPUSHX", "@", "V" } },
    { "lset", { "RPUSH", "@", "x" }, { "LSET", "@", "0", "V" } },
    { "mset", { NULL }, { "MSET", "@", "V", "@2", "V" } },
    { "msetnx", { NULL }, { "MSETNX", "@", "V", "@2", "V" } },
    { "psetex", { NULL }, { "PSETEX", "@", "100000", "V" } },
    { "rpoplpush", { NULL }, { "RPOPLPUSH", "src/list", "@" } },
    { "rpush", { NULL }, { "RPUSH", "@", "V" } },
    { "rpushx", { "RPUSH", "@", "x" }, { "RPUSHX", "@", "V" } },
    { "sadd", { NULL }, { "SADD", "@", "V" } },
    { "sdiffstore", { NULL }, { "SDIFFSTORE", "@", "src/set1", "src/set2" } },
    { "set", { NULL }, { "SET", "@", "V" } },
    { "setex", { NULL }, { "SETEX", "@", "100", "V" } },
    { "setnx", { NULL }, { "SETNX", "@", "V" } },
    { "setrange", { NULL }, { "SETRANGE", "@", "0", "V" } },
    { "sinterstore", { NULL }, { "SINTERSTORE", "@", "src/set1", "src/set1" } },
    { "sort", { "RPUSH", "@2", "V" }, { "SORT", "@2", "ALPHA", "STORE", "@" } },
    { "sunionstore", { NULL }, { "SUNIONSTORE", "@", "src/set1", "src/set2" } },
    { "zadd", { NULL }, { "ZADD", "@", "1", "V" } },
    { "zdiffstore", { NULL }, { "ZDIFFSTORE", "@", "2", "src/z1", "src/z2" } },
    { "zincrby", { NULL }, { "ZINCRBY", "@", "1", "V" } },
    { "zinterstore", { NULL }, { "ZINTERSTORE", "@", "2", "src/z1", "src/z1" } },
    { "zrangestore", { NULL }, { "ZRANGESTORE", "@", "src/z1", "0", "-1" } },
    { "zunionstore", { NULL }, { "ZUNIONSTORE", "@", "2", "src/z1", "src/z2" } },
};

/* DENYOOM commands that cannot store anything in kvns, and why. */
static const struct { const char *name, *reply; } unsupported[] = {
    { "xadd", "ERR stream type not supported" },
};

static kv_server *g_srv;
static kv_conn *g_conn;

static int teardown(void **state)
{
    (void)state;
    if (g_conn)
        conn_close(g_conn);
    g_conn = NULL;
    int rc = g_srv ? srv_stop(g_srv) : 0;
    g_srv = NULL;
    return rc == 0 ? 0 : -1;
}

/* Runs argv (n arguments) and returns the reply, failing on no reply. */
static kv_reply *run(int n, const char *const *argv, const size_t *lens)
{
    kv_reply *r = conn_cmdv(g_conn, n, argv, lens);
    if (!r)
        it_fail("%s: no reply (%s)", argv[0], conn_error(g_conn));
    return r;
}

/* Runs a command given as C strings and returns the reply. */
static kv_reply *cmd(const char *arg0, ...)
{
    va_list ap;
    va_start(ap, arg0);
    kv_reply *r = conn_cmd_va(g_conn, arg0, ap);
    va_end(ap);
    if (!r)
        it_fail("%s: no reply (%s)", arg0, conn_error(g_conn));
    return r;
}

/* Runs a case's argument template for round i; returns the reply. */
static kv_reply *run_template(const char *name, const char *const *tpl, int i)
{
    static char value[501];
    char key[64], key2[64];
    const char *argv[8];
    size_t lens[8];
    int n = 0;
    memset(value, 'v', 500);
    snprintf(key, sizeof key, "a/%s:%d", name, i);
    snprintf(key2, sizeof key2, "a/%s:%d:2", name, i);
    for (; n < 8 && tpl[n]; n++) {
        const char *a = tpl[n];
        argv[n] = strcmp(a, "@") == 0 ? key : strcmp(a, "@2") == 0 ? key2 : strcmp(a, "V") == 0 ? value : a;
        lens[n] = strlen(argv[n]);
    }
    return run(n, argv, lens);
}

/* evicted_keys of INFO stats. */
static long long evicted_keys(void)
{
    kv_reply *r = cmd("INFO", "stats", NULL);
    const char *p = r->str ? strstr(r->str, "evicted_keys:") : NULL;
    if (!p)
        it_fail("INFO stats has no evicted_keys");
    long long v = atoll(p + strlen("evicted_keys:"));
    kv_reply_free(r);
    return v;
}

/* True when COMMAND INFO entry e has the flag. */
static bool info_has_flag(const kv_reply *e, const char *flag)
{
    return e->count > 2 && kv_reply_find_str(e->elements[2], flag) >= 0;
}

/* Fails unless every DENYOOM command of COMMAND INFO has a case (or is unsupported). */
static void expect_every_denyoom_covered(void)
{
    kv_reply *all = cmd("COMMAND", "INFO", NULL);
    assert_true(all->count > 100);
    size_t denyoom = 0;
    for (size_t i = 0; i < all->count; i++) {
        const kv_reply *e = all->elements[i];
        if (!info_has_flag(e, "denyoom"))
            continue;
        denyoom++;
        const char *name = e->elements[0]->str;
        bool covered = false;
        for (size_t j = 0; j < sizeof cases / sizeof cases[0]; j++)
            covered |= strcasecmp(cases[j].name, name) == 0;
        for (size_t j = 0; j < sizeof unsupported / sizeof unsupported[0]; j++)
            covered |= strcasecmp(unsupported[j].name, name) == 0;
        if (!covered)
            it_fail("DENYOOM command %s has no case in it_denyoom_evict.c", name);
    }
    kv_reply_free(all);
    assert_int_equal(denyoom, sizeof cases / sizeof cases[0] + sizeof unsupported / sizeof unsupported[0]);
}

/* Sources in namespace src (policy none), b's keys, then namespace a filled until a
 * write has to evict: the server is at its limit. */
static void fill(void)
{
    kv_reply_free(cmd("SET", "src/str", "a-string-value-to-copy-into-namespace-a-of-some-length", NULL));
    for (int i = 0; i < 100; i++) {
        char m[48];
        snprintf(m, sizeof m, "member-%03d-of-the-sources", i);
        kv_reply_free(cmd("RPUSH", "src/list", m, NULL));
        kv_reply_free(cmd("SADD", "src/set1", m, NULL));
        kv_reply_free(cmd("ZADD", "src/z1", "1", m, NULL));
        if (i % 2) {
            kv_reply_free(cmd("SADD", "src/set2", m, NULL));
            kv_reply_free(cmd("ZADD", "src/z2", "2", m, NULL));
        }
    }
    static char big[FILL_LEN + 1];
    memset(big, 'f', FILL_LEN);
    for (int i = 0; i < B_KEYS; i++) {
        char k[32];
        snprintf(k, sizeof k, "b/k%d", i);
        kv_reply *r = cmd("SET", k, big, NULL);
        assert_status(r, "OK");
        kv_reply_free(r);
    }
    for (int i = 0; evicted_keys() == 0; i++) {
        if (i > 20000)
            it_fail("namespace a never reached the memory limit");
        for (int j = 0; j < 50; j++) {
            char k[32];
            snprintf(k, sizeof k, "a/fill%d", i * 50 + j);
            kv_reply *r = cmd("SET", k, big, NULL);
            assert_status(r, "OK");
            kv_reply_free(r);
        }
    }
}

/* Fails unless every key of b is still there. */
static void expect_b_intact(const char *after)
{
    const char *argv[B_KEYS + 1];
    size_t lens[B_KEYS + 1];
    char keys[B_KEYS][16];
    argv[0] = "EXISTS";
    lens[0] = 6;
    for (int i = 0; i < B_KEYS; i++) {
        snprintf(keys[i], sizeof keys[i], "b/k%d", i);
        argv[i + 1] = keys[i];
        lens[i + 1] = strlen(keys[i]);
    }
    kv_reply *r = run(B_KEYS + 1, argv, lens);
    if (r->type != KV_REPLY_INTEGER || r->integer != B_KEYS)
        it_fail("after %s: namespace b kept %lld of %d keys", after, r->integer, B_KEYS);
    kv_reply_free(r);
}

static void test_every_denyoom_command_evicts_in_its_namespace(void **state)
{
    (void)state;
    it_skip_unless_kvns("namespace-scoped eviction");
    const char *env[] = { "KVNS_MEMORY_LIMIT=2m", "KVNS_EVICTION_POLICY=lru", "KVNS_NS_EVICTION=src:none", NULL };
    g_srv = srv_start(env);
    if (!g_srv)
        it_fail("the server did not start");
    g_conn = conn_open(srv_port(g_srv));
    if (!g_conn)
        it_fail("cannot connect to the server");
    conn_set_timeout(g_conn, 30000);
    expect_every_denyoom_covered();
    fill();
    for (size_t j = 0; j < sizeof unsupported / sizeof unsupported[0]; j++) {
        kv_reply *r = cmd(unsupported[j].name, "a/x", "*", "f", "v", NULL);
        assert_error(r, unsupported[j].reply);
        kv_reply_free(r);
    }
    for (size_t j = 0; j < sizeof cases / sizeof cases[0]; j++) {
        const denyoom_case *dc = &cases[j];
        long long evicted = 0;
        int i = 0;
        for (; i < MAX_ROUNDS && (i < MIN_ROUNDS || evicted == 0); i++) {
            if (dc->pre[0])
                kv_reply_free(run_template(dc->name, dc->pre, i));
            long long before = evicted_keys();
            kv_reply *r = run_template(dc->name, dc->cmd, i);
            if (r->type == KV_REPLY_ERROR)
                it_fail("%s round %d at the memory limit: %s", dc->name, i, r->str);
            kv_reply_free(r);
            evicted += evicted_keys() - before;
        }
        if (evicted == 0)
            it_fail("%s: %d rounds at the memory limit evicted nothing", dc->name, i);
        expect_b_intact(dc->name);
    }
    kv_reply *r = cmd("EXISTS", "src/str", "src/list", "src/set1", "src/set2", "src/z1", "src/z2", NULL);
    assert_int(r, 6);
    kv_reply_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_every_denyoom_command_evicts_in_its_namespace, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
