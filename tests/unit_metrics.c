/* unit_metrics.c - the per-lane latency series (metrics.c): bucket math, summing
 * across lanes and processes, the overflow fold when a lane's table is full, label
 * escaping, the exposition text (checked by promtool when it is installed) and a
 * micro-benchmark of metrics_observe, the dispatcher's per-command cost. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "kvns/command.h"
#include "kvns/metrics.h"
#include "kvns/store.h"
#include "../src/metrics_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define LANES       8
#define EXTRA_NS    600       /* namespaces ns0 .. ns599 registered at setup */

/* Creates the arena once, registers the command table and EXTRA_NS namespaces. */
static int group_setup(void **state)
{
    int fd;
    arena_params p = { .memory_limit = 64u << 20, .shard_count = 4, .lane_count = LANES,
                       .undo_bytes = 1u << 20 };
    assert_int_equal(arena_create(&p, &fd), 0);
    command_table_init();
    for (int i = 0; i < EXTRA_NS; i++) {
        char raw[32];
        int n = snprintf(raw, sizeof raw, "ns%d/k", i);
        kv_key k;
        key_init(&k, raw, (size_t)n);
        assert_true(key_nsid(&k) > 0);
    }
    return 0;
}

/* Empties every lane's series table (each test starts with no observations). */
static int reset_tables(void **state)
{
    for (uint32_t l = 0; l < LANES; l++)
        memset(arena_base + arena_lane(l)->metrics_off, 0, METRICS_AREA_BYTES);
    return 0;
}

/* The id of namespace "ns<i>". */
static uint32_t ns_id(int i)
{
    char name[16];
    int n = snprintf(name, sizeof name, "ns%d", i);
    int id = ns_find(name, (size_t)n);
    assert_true(id > 0);
    return (uint32_t)id;
}

/* The collected sample of (cmd, nsid), or NULL; samples is the collect result. */
static const metrics_sample *find_sample(const metrics_sample *samples, size_t n, uint32_t cmd,
                                         uint32_t nsid)
{
    for (size_t i = 0; i < n; i++)
        if (samples[i].cmd_index == cmd && samples[i].nsid == nsid)
            return &samples[i];
    return NULL;
}

/* Bucket boundaries are inclusive upper bounds and match the `le` texts. */
static void test_bucket_math(void **state)
{
    assert_int_equal(metrics_bucket_of(0), 0);
    assert_int_equal(metrics_bucket_of(1000), 0);          /* le="0.000001" is inclusive */
    assert_int_equal(metrics_bucket_of(1001), 1);
    assert_int_equal(metrics_bucket_of(1000000000), METRICS_BUCKETS - 2);
    assert_int_equal(metrics_bucket_of(1000000001), METRICS_BUCKETS - 1);   /* +Inf */
    assert_int_equal(metrics_bucket_of(UINT64_MAX), METRICS_BUCKETS - 1);
    for (unsigned b = 0; b + 1 < METRICS_BUCKETS; b++) {
        double le = strtod(metrics_bucket_le[b], NULL);
        assert_true(fabs(le * 1e9 - (double)metrics_bucket_bound_ns[b]) < 0.5);
        assert_int_equal(metrics_bucket_of(metrics_bucket_bound_ns[b]), b);
        assert_int_equal(metrics_bucket_of(metrics_bucket_bound_ns[b] + 1), b + 1);
        if (b > 0)
            assert_true(metrics_bucket_bound_ns[b] > metrics_bucket_bound_ns[b - 1]);
    }
    assert_string_equal(metrics_bucket_le[METRICS_BUCKETS - 1], "+Inf");
}

/* Equal series of different lanes are summed; different ones stay apart. */
static void test_sum_across_lanes(void **state)
{
    uint32_t ns1 = ns_id(1);
    for (uint32_t l = 0; l < LANES; l++) {
        metrics_observe(l, 0, ns1, 500);             /* bucket 0 */
        metrics_observe(l, 0, ns1, 3000);            /* bucket 2 (le 0.000005) */
        metrics_observe(l, 1, METRICS_NO_NS, 2000000000ULL);   /* +Inf */
    }
    metrics_observe(LANES, 0, ns1, 1);               /* no such lane: ignored */
    metrics_observe(0, METRICS_CMD_LIMIT, ns1, 1);   /* impossible command: ignored */
    size_t n = 0;
    uint64_t dropped = 1;
    metrics_sample *s = metrics_collect(&n, &dropped);
    assert_int_equal(n, 2);
    assert_int_equal(dropped, 0);
    const metrics_sample *a = find_sample(s, n, 0, ns1);
    assert_non_null(a);
    assert_int_equal(a->count, 2 * LANES);
    assert_int_equal(a->sum_ns, 3500 * LANES);
    assert_int_equal(a->bucket[0], LANES);
    assert_int_equal(a->bucket[2], LANES);
    const metrics_sample *b = find_sample(s, n, 1, METRICS_NO_NS);
    assert_non_null(b);
    assert_int_equal(b->count, LANES);
    assert_int_equal(b->bucket[METRICS_BUCKETS - 1], LANES);
    assert_int_equal(b->sum_ns, 2000000000ULL * LANES);
    assert_true(a < b);                              /* sorted by command index */
    free(s);
}

/* The table lives in the arena: what another process (a worker that then dies)
 * recorded in a lane stays, and the next owner of the lane continues from there. */
static void test_counts_survive_the_writer(void **state)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        for (int i = 0; i < 100; i++)
            metrics_observe(2, 4, 0, 100);
        _exit(0);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    for (int i = 0; i < 5; i++)
        metrics_observe(2, 4, 0, 100);               /* same lane, same series */
    size_t n = 0;
    metrics_sample *s = metrics_collect(&n, NULL);
    assert_int_equal(n, 1);
    assert_int_equal(s[0].count, 105);
    assert_int_equal(s[0].sum_ns, 10500);
    free(s);
}

/* A full lane folds new namespaced series into the command's "" series, while the
 * series it already has keep counting. */
static void test_overflow_fold(void **state)
{
    /* fill lane 3 with METRICS_NS_SERIES_MAX namespaced series: commands 0..1 x 512 ns */
    uint32_t filled = 0;
    for (uint32_t cmd = 0; filled < METRICS_NS_SERIES_MAX; cmd++)
        for (int i = 0; i < 512 && filled < METRICS_NS_SERIES_MAX; i++, filled++)
            metrics_observe(3, cmd, ns_id(i), 10);
    metrics_observe(3, 7, ns_id(550), 20);           /* no room: folds into (7, "") */
    metrics_observe(3, 7, ns_id(551), 30);
    metrics_observe(3, 0, ns_id(5), 40);             /* existing: still its own */
    metrics_observe(4, 7, ns_id(550), 50);           /* another lane has room */
    size_t n = 0;
    uint64_t dropped = 1;
    metrics_sample *s = metrics_collect(&n, &dropped);
    assert_int_equal(dropped, 0);
    assert_int_equal(n, METRICS_NS_SERIES_MAX + 2);
    const metrics_sample *fold = find_sample(s, n, 7, METRICS_NO_NS);
    assert_non_null(fold);
    assert_int_equal(fold->count, 2);
    assert_int_equal(fold->sum_ns, 50);
    const metrics_sample *own = find_sample(s, n, 7, ns_id(550));
    assert_non_null(own);
    assert_int_equal(own->count, 1);                 /* only lane 4's */
    assert_null(find_sample(s, n, 7, ns_id(551)));
    const metrics_sample *old = find_sample(s, n, 0, ns_id(5));
    assert_non_null(old);
    assert_int_equal(old->count, 2);
    assert_int_equal(old->sum_ns, 50);
    free(s);
    /* every command's "" series still fits after the namespaced part is full */
    for (uint32_t cmd = 0; cmd < 512; cmd++)
        metrics_observe(3, cmd, METRICS_NO_NS, 1);
    s = metrics_collect(&n, &dropped);
    assert_int_equal(dropped, 0);
    free(s);
}

/* Escapes s (len bytes) and compares with want. */
static void check_escape(const char *s, size_t len, const char *want)
{
    metrics_text t = { 0 };
    metrics_escape_label(&t, s, len);
    assert_false(t.failed);
    assert_string_equal(t.buf ? t.buf : "", want);
    metrics_text_free(&t);
}

/* Backslash, quote and newline are escaped; other control bytes and invalid UTF-8
 * become the text \xHH; valid UTF-8 passes through. */
static void test_label_escaping(void **state)
{
    check_escape("", 0, "");
    check_escape("plain", 5, "plain");
    check_escape("a\"b", 3, "a\\\"b");
    check_escape("a\\b", 3, "a\\\\b");
    check_escape("a\nb", 3, "a\\nb");
    check_escape("t\tz", 3, "t\\\\x09z");
    check_escape("n\0z", 3, "n\\\\x00z");
    check_escape("caf\xc3\xa9", 5, "caf\xc3\xa9");                 /* é */
    check_escape("\xe2\x82\xac", 3, "\xe2\x82\xac");               /* € */
    check_escape("\xf0\x9f\x98\x80", 4, "\xf0\x9f\x98\x80");       /* emoji */
    check_escape("x\xc3", 2, "x\\\\xC3");                          /* truncated */
    check_escape("\xc0\xaf", 2, "\\\\xC0\\\\xAF");                 /* overlong */
    check_escape("\xed\xa0\x80", 3, "\\\\xED\\\\xA0\\\\x80");      /* surrogate */
    check_escape("\xff", 1, "\\\\xFF");
}

/* Runs promtool check metrics over text; fails on anything but the two lint notes the
 * reference's names cause (kvns_keys_total and kvns_memory_used_bytes_total are
 * gauges named *_total). Skips with a message when promtool is missing. */
static void check_with_promtool(const char *text, size_t len)
{
    if (system("command -v promtool >/dev/null 2>&1") != 0) {
        printf("promtool not installed (apt-get install prometheus): exposition not linted\n");
        return;
    }
    char in[] = "/tmp/kvns-unit-metrics-XXXXXX";
    int fd = mkstemp(in);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, len), (ssize_t)len);
    close(fd);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "promtool check metrics < %s 2>&1", in);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char line[1024];
    int bad = 0;
    while (fgets(line, sizeof line, p)) {
        if (strstr(line, "non-counter metrics should not have \"_total\" suffix") &&
            (strncmp(line, "kvns_keys_total ", 16) == 0 ||
             strncmp(line, "kvns_memory_used_bytes_total ", 29) == 0))
            continue;
        printf("promtool: %s", line);
        bad++;
    }
    int rc = pclose(p);
    unlink(in);
    assert_int_equal(bad, 0);
    assert_true(WIFEXITED(rc) && (WEXITSTATUS(rc) == 0 || WEXITSTATUS(rc) == 3));
}

/* The exposition: every family present, histogram lines consistent, odd namespace
 * names escaped, and promtool-clean. */
static void test_render(void **state)
{
    const char *odd = "q\"uo\\te\nline/k";
    kv_key k;
    key_init(&k, odd, strlen(odd));
    int odd_id = key_nsid(&k);
    assert_true(odd_id > 0);
    uint32_t set = UINT32_MAX;
    for (size_t i = 0; i < command_count(); i++)
        if (command_at(i) == command_lookup("set", 3))
            set = (uint32_t)i;
    assert_true(set != UINT32_MAX);
    metrics_observe(0, set, (uint32_t)odd_id, 1500);
    metrics_observe(1, set, (uint32_t)odd_id, 7000000);
    metrics_observe(1, set, 0, 100);
    metrics_text t = { 0 };
    metrics_render(&t);
    assert_false(t.failed);
    const char *want[] = {
        "# HELP kvns_keys_total Number of keys in the store\n# TYPE kvns_keys_total gauge\n",
        "kvns_keys_total{namespace=\"default\"} 0\n",
        "kvns_keys_total{namespace=\"q\\\"uo\\\\te\\nline\"} 0\n",
        "# HELP kvns_memory_used_bytes Memory currently used by the store in bytes, per namespace\n"
        "# TYPE kvns_memory_used_bytes gauge\n",
        "kvns_memory_used_bytes{namespace=\"ns599\"} 0\n",
        "# HELP kvns_memory_used_bytes_total Total memory currently used by the store in bytes across all namespaces\n"
        "# TYPE kvns_memory_used_bytes_total gauge\nkvns_memory_used_bytes_total ",
        "# HELP kvns_memory_limit_bytes Configured memory limit in bytes\n"
        "# TYPE kvns_memory_limit_bytes gauge\nkvns_memory_limit_bytes 67108864\n",
        "# HELP kvns_command_duration_seconds Command processing latency in seconds\n"
        "# TYPE kvns_command_duration_seconds histogram\n",
        "kvns_command_duration_seconds_bucket{command=\"set\",namespace=\"q\\\"uo\\\\te\\nline\",le=\"0.000001\"} 0\n",
        "kvns_command_duration_seconds_bucket{command=\"set\",namespace=\"q\\\"uo\\\\te\\nline\",le=\"0.0000025\"} 1\n",
        "kvns_command_duration_seconds_bucket{command=\"set\",namespace=\"q\\\"uo\\\\te\\nline\",le=\"0.005\"} 1\n",
        "kvns_command_duration_seconds_bucket{command=\"set\",namespace=\"q\\\"uo\\\\te\\nline\",le=\"0.01\"} 2\n",
        "kvns_command_duration_seconds_bucket{command=\"set\",namespace=\"q\\\"uo\\\\te\\nline\",le=\"+Inf\"} 2\n",
        "kvns_command_duration_seconds_sum{command=\"set\",namespace=\"q\\\"uo\\\\te\\nline\"} 0.007001500\n",
        "kvns_command_duration_seconds_count{command=\"set\",namespace=\"q\\\"uo\\\\te\\nline\"} 2\n",
        "kvns_command_duration_seconds_count{command=\"set\",namespace=\"default\"} 1\n",
        "# HELP kvns_evictions_total Number of keys evicted from the store\n# TYPE kvns_evictions_total counter\n",
        "kvns_evictions_total{namespace=\"default\"} 0\n",
        "# TYPE kvns_connections gauge\n",
        "# TYPE kvns_commands_processed_total counter\n",
        "# TYPE kvns_expired_keys_total counter\n",
        "# TYPE kvns_worker_restarts_total counter\nkvns_worker_restarts_total 0\n",
        "# TYPE kvns_uptime_seconds gauge\nkvns_uptime_seconds ",
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        if (!strstr(t.buf, want[i]))
            fail_msg("exposition lacks:\n%s\n--- exposition:\n%.3000s", want[i], t.buf);
    check_with_promtool(t.buf, t.len);
    metrics_text_free(&t);
}

/* metrics_observe over a mix of commands, namespaces and latencies lands every
 * observation in its (command, namespace) series: 8 commands x 4 namespaces. */
static void test_observe_counts(void **state)
{
    enum { ROUNDS = 200000 };
    uint32_t ns[4] = { 0, ns_id(1), ns_id(2), METRICS_NO_NS };
    for (uint32_t i = 0; i < ROUNDS; i++)
        metrics_observe(0, i & 7, ns[(i >> 3) & 3], 800 + (i & 4095));
    size_t n = 0;
    metrics_sample *s = metrics_collect(&n, NULL);
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(s[i].count, ROUNDS / 32);
        total += s[i].count;
    }
    free(s);
    assert_int_equal(n, 32);
    assert_int_equal(total, ROUNDS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_bucket_math, reset_tables),
        cmocka_unit_test_setup(test_sum_across_lanes, reset_tables),
        cmocka_unit_test_setup(test_counts_survive_the_writer, reset_tables),
        cmocka_unit_test_setup(test_overflow_fold, reset_tables),
        cmocka_unit_test_setup(test_label_escaping, reset_tables),
        cmocka_unit_test_setup(test_render, reset_tables),
        cmocka_unit_test_setup(test_observe_counts, reset_tables),
    };
    return cmocka_run_group_tests(tests, group_setup, NULL);
}
