/* it_metrics.c - integration tests for the Prometheus endpoint served by the
 * housekeeper: every metric family with its HELP/TYPE and labels, histogram
 * consistency, namespace gauges returning to 0, /health, 404/405/400/431, slow
 * clients, `promtool check metrics` (when installed), label escaping of odd namespace
 * names, metrics disabled by port 0, a bind failure stopping the server, and counts
 * surviving killed workers. kvns-only: skipped against redis-server. */
#include "harness_http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#define MEMORY_LIMIT "268435456"

static kv_server *srv;
static int metrics_port;

/* ---- helpers -------------------------------------------------------------------- */

/* Fails unless series has exactly the value want. */
static void expect_metric(const char *text, const char *series, double want)
{
    double v = metric_value(text, series);
    if (isnan(v) || v != want)
        it_fail("%s: expected %g, got %g", series, want, v);
}

/* Checks the histogram of one label set (e.g. `command="get",namespace="ns1"`):
 * buckets in increasing le order with non-decreasing counts, the last one +Inf and
 * equal to _count, and a _sum. Returns _count. */
static double check_histogram(const char *text, const char *labels)
{
    char prefix[512];
    int plen = snprintf(prefix, sizeof prefix, "kvns_command_duration_seconds_bucket{%s,le=\"", labels);
    double last_le = -1, last_count = -1;
    int buckets = 0;
    bool inf_seen = false;
    for (const char *line = text; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
        if (strncmp(line, prefix, (size_t)plen) != 0)
            continue;
        if (inf_seen)
            it_fail("%s: bucket after +Inf", labels);
        const char *le = line + plen;
        double le_v = strncmp(le, "+Inf\"", 5) == 0 ? INFINITY : strtod(le, NULL);
        const char *val = strstr(le, "} ");
        assert_non_null(val);
        double count = strtod(val + 2, NULL);
        if (le_v <= last_le || count < last_count)
            it_fail("%s: buckets not monotonic at le=%g (count %g after %g)", labels, le_v, count, last_count);
        last_le = le_v;
        last_count = count;
        inf_seen = isinf(le_v);
        buckets++;
    }
    if (buckets < 2 || !inf_seen)
        it_fail("%s: %d buckets, +Inf %s", labels, buckets, inf_seen ? "present" : "missing");
    char series[512];
    snprintf(series, sizeof series, "kvns_command_duration_seconds_count{%s}", labels);
    double count = metric_need(text, series);
    if (count != last_count)
        it_fail("%s: +Inf bucket %g != _count %g", labels, last_count, count);
    snprintf(series, sizeof series, "kvns_command_duration_seconds_sum{%s}", labels);
    double sum = metric_need(text, series);
    if (sum < 0 || (count > 0 && sum <= 0))
        it_fail("%s: _sum %g for %g observations", labels, sum, count);
    return count;
}

/* ---- fixtures ------------------------------------------------------------------- */

/* Starts the server with metrics on a free port (kvns only). */
static int group_setup(void **state)
{
    if (srv_target_is_redis())
        return 0;
    metrics_port = srv_free_port();
    if (metrics_port <= 0)
        return -1;
    char port_env[64];
    snprintf(port_env, sizeof port_env, "KVNS_METRICS_PORT=%d", metrics_port);
    const char *env[] = { port_env, "KVNS_METRICS_HOST=127.0.0.1",
                          "KVNS_MEMORY_LIMIT=" MEMORY_LIMIT, NULL };
    srv = srv_start(env);
    return srv ? 0 : -1;
}

static int group_teardown(void **state)
{
    if (srv)
        srv_stop(srv);
    srv = NULL;
    return 0;
}

/* Opens a connection for the test (skipping it against redis). */
static int test_setup(void **state)
{
    if (!srv) {
        *state = NULL;
        return 0;
    }
    kv_conn *c = conn_open(srv_port(srv));
    *state = c;
    return c ? 0 : -1;
}

static int test_teardown(void **state)
{
    if (*state)
        conn_close(*state);
    return 0;
}

/* The test's connection; skips the test against redis-server. */
static kv_conn *kvns_conn(void **state)
{
    it_skip_unless_kvns("the /metrics endpoint");
    return *state;
}

/* ---- tests ------------------------------------------------------------------------ */

/* Per-namespace gauges, the memory gauges and per (command, namespace) histograms. */
static void test_namespace_series(void **state)
{
    kv_conn *c = kvns_conn(state);
    it_run_void(c, "SET", "ns1/a", "hello", NULL);
    it_run_void(c, "SET", "ns2/b", "world!", NULL);
    it_run_void(c, "SET", "ns2/c", "x", NULL);
    it_run_void(c, "GET", "ns1/a", NULL);
    it_run_void(c, "GET", "ns1/zz", NULL);
    it_run_void(c, "PING", NULL);
    http_reply *r = metrics_scrape(metrics_port);
    const char *m = r->body;
    expect_metric(m, "kvns_keys_total{namespace=\"ns1\"}", 1);
    expect_metric(m, "kvns_keys_total{namespace=\"ns2\"}", 2);
    metric_need(m, "kvns_keys_total{namespace=\"default\"}");
    double b1 = metric_need(m, "kvns_memory_used_bytes{namespace=\"ns1\"}");
    double b2 = metric_need(m, "kvns_memory_used_bytes{namespace=\"ns2\"}");
    if (b1 <= 0 || b2 <= b1)
        it_fail("memory per namespace: ns1 %g, ns2 %g (ns2 holds more)", b1, b2);
    double total = metric_need(m, "kvns_memory_used_bytes_total");
    if (total < b1 + b2)
        it_fail("kvns_memory_used_bytes_total %g < ns1 + ns2 = %g", total, b1 + b2);
    expect_metric(m, "kvns_memory_limit_bytes", atof(MEMORY_LIMIT));
    expect_metric(m, "kvns_evictions_total{namespace=\"ns1\"}", 0);
    expect_metric(m, "kvns_evictions_total{namespace=\"ns2\"}", 0);
    assert_true(check_histogram(m, "command=\"set\",namespace=\"ns1\"") == 1);
    assert_true(check_histogram(m, "command=\"set\",namespace=\"ns2\"") == 2);
    assert_true(check_histogram(m, "command=\"get\",namespace=\"ns1\"") == 2);
    assert_true(check_histogram(m, "command=\"ping\",namespace=\"\"") >= 1);
    http_reply_free(r);
}

/* Every family has HELP and TYPE once, before its samples, with the specified texts;
 * every histogram in the page is consistent. */
static void test_help_and_type(void **state)
{
    kv_conn *c = kvns_conn(state);
    it_run_void(c, "SET", "ht/k", "v", NULL);
    http_reply *r = metrics_scrape(metrics_port);
    static const char *const families[][3] = {
        { "kvns_keys_total", "gauge", "Number of keys in the store" },
        { "kvns_memory_used_bytes", "gauge", "Memory currently used by the store in bytes, per namespace" },
        { "kvns_memory_used_bytes_total", "gauge",
          "Total memory currently used by the store in bytes across all namespaces" },
        { "kvns_memory_limit_bytes", "gauge", "Configured memory limit in bytes" },
        { "kvns_command_duration_seconds", "histogram", "Command processing latency in seconds" },
        { "kvns_evictions_total", "counter", "Number of keys evicted from the store" },
        { "kvns_connections", "gauge", NULL },
        { "kvns_connections_received_total", "counter", NULL },
        { "kvns_rejected_connections_total", "counter", NULL },
        { "kvns_commands_processed_total", "counter", NULL },
        { "kvns_command_errors_total", "counter", NULL },
        { "kvns_oom_rejections_total", "counter", NULL },
        { "kvns_expired_keys_total", "counter", NULL },
        { "kvns_keyspace_hits_total", "counter", NULL },
        { "kvns_keyspace_misses_total", "counter", NULL },
        { "kvns_net_input_bytes_total", "counter", NULL },
        { "kvns_net_output_bytes_total", "counter", NULL },
        { "kvns_worker_restarts_total", "counter", NULL },
        { "kvns_uptime_seconds", "gauge", NULL },
    };
    for (size_t i = 0; i < sizeof families / sizeof families[0]; i++) {
        char line[512];
        snprintf(line, sizeof line, "\n# TYPE %s %s\n", families[i][0], families[i][1]);
        const char *type = strstr(r->body, line);
        if (!type)
            it_fail("no TYPE line for %s", families[i][0]);
        if (strstr(type + 1, line))
            it_fail("TYPE of %s twice", families[i][0]);
        snprintf(line, sizeof line, "# HELP %s ", families[i][0]);
        const char *help = strstr(r->body, line);
        if (!help || help > type)
            it_fail("no HELP line before the TYPE of %s", families[i][0]);
        if (families[i][2] && strncmp(help + strlen(line), families[i][2], strlen(families[i][2])) != 0)
            it_fail("HELP of %s: %.200s", families[i][0], help);
        snprintf(line, sizeof line, "\n%s", families[i][0]);
        const char *sample = strstr(r->body, line);
        if (!sample || sample < type)
            it_fail("no sample of %s after its TYPE", families[i][0]);
    }
    /* every sample belongs to a family declared just before it */
    char family[256] = "";
    for (const char *line = r->body; *line; ) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        if (strncmp(line, "# TYPE ", 7) == 0)
            snprintf(family, sizeof family, "%.*s", (int)strcspn(line + 7, " "), line + 7);
        else if (line[0] != '#' && len > 0) {
            size_t fl = strlen(family);
            if (fl == 0 || strncmp(line, family, fl) != 0 || !strchr("{ _", line[fl]))
                it_fail("sample outside its family (%s): %.*s", family, (int)len, line);
        }
        if (!end)
            break;
        line = end + 1;
    }
    /* every histogram of the page */
    int histograms = 0;
    static const char count_prefix[] = "kvns_command_duration_seconds_count{";
    for (const char *p = strstr(r->body, count_prefix); p; p = strstr(p + 1, count_prefix)) {
        char labels[512];
        const char *start = p + strlen(count_prefix);
        const char *close_brace = strstr(start, "} ");
        assert_non_null(close_brace);
        snprintf(labels, sizeof labels, "%.*s", (int)(close_brace - start), start);
        check_histogram(r->body, labels);
        histograms++;
    }
    assert_true(histograms >= 1);
    http_reply_free(r);
}

/* Scrapes until no sample of the page carries `label`, failing after 5 s: the
 * housekeeper reclaims empty namespaces once a second. */
static void wait_label_gone(const char *label)
{
    for (long long deadline = now_ms() + 5000;; sleep_ms(50)) {
        http_reply *r = metrics_scrape(metrics_port);
        bool present = strstr(r->body, label) != NULL;
        http_reply_free(r);
        if (!present)
            return;
        if (now_ms() > deadline)
            it_fail("%s still on the metrics page 5 s after its namespace emptied", label);
    }
}

/* A namespace whose last key is gone leaves the page: gauges, counter and histograms. */
static void test_emptied_namespace_leaves_the_page(void **state)
{
    kv_conn *c = kvns_conn(state);
    it_run_void(c, "SET", "gone/x", "1234567890", NULL);
    it_run_void(c, "SET", "gone/y", "1", NULL);
    http_reply *r = metrics_scrape(metrics_port);
    expect_metric(r->body, "kvns_keys_total{namespace=\"gone\"}", 2);
    assert_true(metric_need(r->body, "kvns_memory_used_bytes{namespace=\"gone\"}") > 0);
    expect_metric(r->body, "kvns_evictions_total{namespace=\"gone\"}", 0);
    http_reply_free(r);
    it_run_void(c, "DEL", "gone/x", "gone/y", NULL);
    wait_label_gone("namespace=\"gone\"");
    r = metrics_scrape(metrics_port);
    metric_need(r->body, "kvns_keys_total{namespace=\"default\"}");
    http_reply_free(r);
}

/* With KVNS_MAX_NAMESPACES=4 (default and three more) a fourth namespace is refused;
 * once the three are emptied their ids are reclaimed and a new namespace reuses one
 * without inheriting its latency series, gauges or eviction counter. */
static void test_reused_namespace_id_starts_clean(void **state)
{
    kvns_conn(state);
    int saved_port = metrics_port;
    metrics_port = srv_free_port();
    char port_env[64];
    snprintf(port_env, sizeof port_env, "KVNS_METRICS_PORT=%d", metrics_port);
    const char *env[] = { port_env, "KVNS_METRICS_HOST=127.0.0.1", "KVNS_MAX_NAMESPACES=4", NULL };
    kv_server *small = srv_start(env);
    assert_non_null(small);
    kv_conn *c = conn_open(srv_port(small));
    static const char *const old[] = { "a/x", "b/x", "c/x" };
    for (int i = 0; i < 3; i++) {
        expect_status(c, "OK", "SET", old[i], "v", NULL);
        expect_bulk(c, "v", "GET", old[i], NULL);
    }
    expect_error(c, "ERR too many namespaces", "SET", "d/x", "v", NULL);
    expect_status(c, "OK", "SET", "plain", "v", NULL);      /* default needs no slot */
    http_reply *r = metrics_scrape(metrics_port);
    assert_true(check_histogram(r->body, "command=\"get\",namespace=\"a\"") == 1);
    http_reply_free(r);
    expect_int(c, 3, "DEL", "a/x", "b/x", "c/x", NULL);
    wait_label_gone("namespace=\"a\"");
    kv_reply *rep = NULL;
    for (long long deadline = now_ms() + 5000;; sleep_ms(50)) {
        rep = conn_cmd(c, "SET", "d/x", "v", NULL);
        if (rep && rep->type == KV_REPLY_STATUS)
            break;
        assert_non_null(rep);
        assert_error(rep, "ERR too many namespaces");  /* the reuse delay has not passed */
        kv_reply_free(rep);
        if (now_ms() > deadline)
            it_fail("no namespace id reclaimed 5 s after the namespaces emptied");
    }
    kv_reply_free(rep);
    r = metrics_scrape(metrics_port);
    expect_metric(r->body, "kvns_keys_total{namespace=\"d\"}", 1);
    expect_metric(r->body, "kvns_evictions_total{namespace=\"d\"}", 0);
    assert_true(check_histogram(r->body, "command=\"set\",namespace=\"d\"") == 1);
    assert_true(isnan(metric_value(r->body, "kvns_command_duration_seconds_count{command=\"get\",namespace=\"d\"}")));
    assert_true(isnan(metric_value(r->body, "kvns_command_duration_seconds_count{command=\"del\",namespace=\"d\"}")));
    assert_null(strstr(r->body, "namespace=\"b\""));
    http_reply_free(r);
    expect_status(c, "OK", "DEBUG", "CHECK", NULL);
    conn_close(c);
    assert_int_equal(srv_stop(small), 0);
    metrics_port = saved_port;
}

/* The operator counters move with traffic. */
static void test_server_counters(void **state)
{
    kv_conn *c = kvns_conn(state);
    http_reply *before = metrics_scrape(metrics_port);
    it_run_void(c, "SET", "cnt/k", "v", NULL);
    it_run_void(c, "GET", "cnt/k", NULL);               /* hit */
    it_run_void(c, "GET", "cnt/none", NULL);            /* miss */
    it_run_void(c, "GET", NULL);                        /* wrong arity: an error */
    it_run_void(c, "SET", "cnt/short", "v", "PX", "1", NULL);
    sleep_ms(20);
    it_run_void(c, "GET", "cnt/short", NULL);           /* expires on access */
    http_reply *after = metrics_scrape(metrics_port);
    const char *b = before->body, *a = after->body;
    static const char *const grows[] = {
        "kvns_commands_processed_total", "kvns_command_errors_total", "kvns_keyspace_hits_total",
        "kvns_keyspace_misses_total", "kvns_expired_keys_total", "kvns_net_input_bytes_total",
        "kvns_net_output_bytes_total",
    };
    for (size_t i = 0; i < sizeof grows / sizeof grows[0]; i++)
        if (!(metric_need(a, grows[i]) > metric_need(b, grows[i])))
            it_fail("%s did not grow: %g -> %g", grows[i], metric_need(b, grows[i]), metric_need(a, grows[i]));
    if (metric_need(a, "kvns_commands_processed_total") - metric_need(b, "kvns_commands_processed_total") < 6)
        it_fail("kvns_commands_processed_total grew by less than the 6 commands sent");
    assert_true(metric_need(a, "kvns_connections") >= 1);
    assert_true(metric_need(a, "kvns_connections_received_total") >= 1);
    assert_true(metric_need(a, "kvns_uptime_seconds") > 0);
    expect_metric(a, "kvns_rejected_connections_total", 0);
    expect_metric(a, "kvns_oom_rejections_total", 0);
    expect_metric(a, "kvns_command_observations_dropped_total", 0);
    metric_need(a, "kvns_worker_restarts_total");
    http_reply_free(before);
    http_reply_free(after);
}

/* /health answers OK; HEAD gets headers only. */
static void test_health(void **state)
{
    kvns_conn(state);
    http_reply *r = http_call(metrics_port, "GET", "/health");
    assert_non_null(r);
    assert_int_equal(r->status, 200);
    assert_int_equal(r->body_len, 2);
    assert_string_equal(r->body, "OK");
    assert_non_null(strstr(r->head, "\r\nConnection: close"));
    http_reply_free(r);
    r = http_call(metrics_port, "HEAD", "/metrics");
    assert_non_null(r);
    assert_int_equal(r->status, 200);
    assert_int_equal(r->body_len, 0);
    assert_non_null(strstr(r->head, "\r\nContent-Length: "));
    http_reply_free(r);
    r = http_call(metrics_port, "GET", "/metrics?name[]=kvns_keys_total");   /* query strings are ignored */
    assert_non_null(r);
    assert_int_equal(r->status, 200);
    http_reply_free(r);
}

/* Unknown paths, other methods, malformed and oversized requests. */
static void test_errors(void **state)
{
    kvns_conn(state);
    http_reply *r = http_call(metrics_port, "GET", "/nope");
    assert_non_null(r);
    assert_int_equal(r->status, 404);
    http_reply_free(r);
    r = http_call(metrics_port, "POST", "/metrics");
    assert_non_null(r);
    assert_int_equal(r->status, 405);
    if (!strstr(r->head, "\r\nAllow: GET"))
        it_fail("405 without Allow: GET:\n%s", r->head);
    http_reply_free(r);
    r = http_call(metrics_port, "DELETE", "/health");
    assert_non_null(r);
    assert_int_equal(r->status, 405);
    http_reply_free(r);
    r = http_raw(metrics_port, "GARBAGE\r\n\r\n", 11);
    assert_non_null(r);
    assert_int_equal(r->status, 400);
    http_reply_free(r);
    size_t big = 20000;
    char *huge = malloc(big + 64);
    assert_non_null(huge);
    int n = snprintf(huge, 64, "GET /metrics HTTP/1.1\r\nX-Pad: ");
    memset(huge + n, 'a', big);
    r = http_raw(metrics_port, huge, (size_t)n + big);
    free(huge);
    assert_non_null(r);
    assert_int_equal(r->status, 431);
    http_reply_free(r);
}

/* A client that connects and sends nothing (or half a request) does not delay other
 * scrapes, and is dropped after the header deadline. */
static void test_slow_client(void **state)
{
    kvns_conn(state);
    int silent = http_connect(metrics_port, 10000);
    int partial = http_connect(metrics_port, 10000);
    assert_true(silent >= 0 && partial >= 0);
    assert_int_equal(send(partial, "GET /metr", 9, MSG_NOSIGNAL), 9);
    long long t0 = now_ms();
    http_reply *r = metrics_scrape(metrics_port);
    long long took = now_ms() - t0;
    http_reply_free(r);
    if (took > 1000)
        it_fail("a scrape took %lld ms next to two slow clients", took);
    /* the server closes the silent one after its deadline (5 s) */
    char byte;
    t0 = now_ms();
    ssize_t got = recv(silent, &byte, 1, 0);
    long long waited = now_ms() - t0;
    if (got != 0 && !(got < 0 && errno == ECONNRESET))
        it_fail("silent client: recv returned %zd (errno %d) after %lld ms, expected a close",
                got, errno, waited);
    if (waited < 3000 || waited > 9000)
        it_fail("silent client closed after %lld ms, expected about 5 s", waited);
    close(silent);
    close(partial);
}

/* More idle connections than the endpoint keeps (64) do not lock scrapers out: the
 * longest-waiting idle one makes room. */
static void test_connection_flood(void **state)
{
    kvns_conn(state);
    enum { IDLE = 80 };
    int idle[IDLE];
    for (int i = 0; i < IDLE; i++) {
        idle[i] = http_connect(metrics_port, 10000);
        assert_true(idle[i] >= 0);
    }
    sleep_ms(200);
    long long t0 = now_ms();
    http_reply *r = metrics_scrape(metrics_port);
    long long took = now_ms() - t0;
    http_reply_free(r);
    for (int i = 0; i < IDLE; i++)
        close(idle[i]);
    if (took > 1000)
        it_fail("a scrape took %lld ms next to %d idle connections", took, IDLE);
}

/* promtool check metrics accepts the page: only the two lint notes the reference's
 * gauge names cause are tolerated. Skipped when promtool is not installed. */
static void test_promtool(void **state)
{
    kv_conn *c = kvns_conn(state);
    if (system("command -v promtool >/dev/null 2>&1") != 0) {
        it_skip("promtool is not installed (apt-get install prometheus)");
    }
    it_run_void(c, "SET", "prom/a", "1", NULL);
    it_run_void(c, "GET", "prom/a", NULL);
    http_reply *r = metrics_scrape(metrics_port);
    char path[] = "/tmp/kvns-it-metrics-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, r->body, r->body_len), (ssize_t)r->body_len);
    close(fd);
    http_reply_free(r);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "promtool check metrics < %s 2>&1", path);
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
    unlink(path);
    if (bad || !WIFEXITED(rc) || (WEXITSTATUS(rc) != 0 && WEXITSTATUS(rc) != 3))
        it_fail("promtool check metrics: %d unexpected line(s), exit %d", bad, WEXITSTATUS(rc));
}

/* Namespace names with quotes, backslashes and newlines are escaped in labels. */
static void test_label_escaping(void **state)
{
    kv_conn *c = kvns_conn(state);
    const char *argv[] = { "SET", "we\"ird\\n\ns/k", "v" };
    kv_reply *rep = conn_cmdv(c, 3, argv, NULL);
    assert_status(rep, "OK");
    kv_reply_free(rep);
    http_reply *r = metrics_scrape(metrics_port);
    expect_metric(r->body, "kvns_keys_total{namespace=\"we\\\"ird\\\\n\\ns\"}", 1);
    assert_true(check_histogram(r->body, "command=\"set\",namespace=\"we\\\"ird\\\\n\\ns\"") == 1);
    http_reply_free(r);
}

/* Runs the binary with KVNS_METRICS_PORT on a port we hold: it must exit non-zero
 * within a few seconds and say why. */
static void test_bind_failure_stops_the_server(void **state)
{
    kvns_conn(state);
    int holder = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof sa;
    assert_int_equal(bind(holder, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(holder, 1), 0);
    assert_int_equal(getsockname(holder, (struct sockaddr *)&sa, &len), 0);
    char log_path[] = "/tmp/kvns-it-metrics-bind-XXXXXX";
    int log_fd = mkstemp(log_path);
    assert_true(log_fd >= 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char port[32], mport[32];
        snprintf(port, sizeof port, "KVNS_PORT=%d", srv_free_port());
        snprintf(mport, sizeof mport, "KVNS_METRICS_PORT=%d", ntohs(sa.sin_port));
        char *env[] = { port, mport, "KVNS_HOST=127.0.0.1", "KVNS_METRICS_HOST=127.0.0.1",
                        "KVNS_WORKERS=1", "KVNS_SHARD_COUNT=2", "KVNS_MEMORY_LIMIT=67108864", NULL };
        dup2(log_fd, 1);
        dup2(log_fd, 2);
        char *args[] = { srv->binary, NULL };
        execve(srv->binary, args, env);
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
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
    }
    char log[8192] = "";
    ssize_t n = pread(log_fd, log, sizeof log - 1, 0);
    log[n > 0 ? n : 0] = 0;
    close(log_fd);
    unlink(log_path);
    close(holder);
    if (done == 0)
        it_fail("kvns kept running with its metrics port taken; log:\n%s", log);
    if (!WIFEXITED(status) || WEXITSTATUS(status) == 0)
        it_fail("kvns exited with status %d with its metrics port taken; log:\n%s", status, log);
    if (!strstr(log, "cannot open the metrics listener"))
        it_fail("no clear log line about the metrics listener; log:\n%s", log);
}

/* KVNS_METRICS_PORT=0 (the harness default) disables the endpoint. */
static void test_port_zero_disables(void **state)
{
    kvns_conn(state);
    kv_server *plain = srv_start(NULL);
    assert_non_null(plain);
    FILE *f = fopen(plain->log_path, "r");
    char log[16384] = "";
    size_t n = f ? fread(log, 1, sizeof log - 1, f) : 0;
    log[n] = 0;
    if (f)
        fclose(f);
    bool listening = strstr(log, "metrics listening") != NULL;
    srv_stop(plain);
    if (listening)
        it_fail("KVNS_METRICS_PORT=0 still opened a metrics listener:\n%s", log);
}

/* The pids of the direct children of pid (workers and housekeeper). */
static size_t children_of(pid_t pid, pid_t *out, size_t max)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task/%d/children", (int)pid, (int)pid);
    FILE *f = fopen(path, "r");
    size_t n = 0;
    int child;
    while (f && n < max && fscanf(f, "%d", &child) == 1)
        out[n++] = child;
    if (f)
        fclose(f);
    return n;
}

/* Killing every child (workers and the housekeeper) keeps the counts: lanes and their
 * series live in the arena, and the respawned housekeeper serves the same socket. */
static void test_counts_survive_killed_children(void **state)
{
    kv_conn *c = kvns_conn(state);
    for (int i = 0; i < 5; i++)
        it_run_void(c, "SET", "crash/k", "v", NULL);
    http_reply *r = metrics_scrape(metrics_port);
    double before = check_histogram(r->body, "command=\"set\",namespace=\"crash\"");
    double restarts_before = metric_need(r->body, "kvns_worker_restarts_total");
    double commands_before = metric_need(r->body, "kvns_commands_processed_total");
    http_reply_free(r);
    pid_t kids[64];
    size_t nkids = children_of(srv_pid(srv), kids, 64);
    if (nkids < 2)
        it_fail("cannot list the server's children (/proc/PID/task/PID/children)");
    for (size_t i = 0; i < nkids; i++)
        kill(kids[i], SIGKILL);
    /* wait for a respawned worker and housekeeper */
    http_reply *after = NULL;
    for (int i = 0; i < 200 && !after; i++) {
        sleep_ms(50);
        kv_conn *c2 = conn_open(srv_port(srv));
        kv_reply *pong = c2 ? conn_cmd(c2, "SET", "crash/k", "v", NULL) : NULL;
        bool ok = pong && pong->type == KV_REPLY_STATUS;
        kv_reply_free(pong);
        if (c2)
            conn_close(c2);
        if (!ok)
            continue;
        http_reply *h = http_call(metrics_port, "GET", "/metrics");
        if (h && h->status == 200 && !isnan(metric_value(h->body, "kvns_worker_restarts_total")) &&
            metric_need(h->body, "kvns_worker_restarts_total") >= restarts_before + (double)nkids)
            after = h;
        else
            http_reply_free(h);
    }
    if (!after)
        it_fail("no metrics after the children were killed and respawned");
    double now = check_histogram(after->body, "command=\"set\",namespace=\"crash\"");
    if (now < before + 1)
        it_fail("SET crash/ count went from %g to %g across the restart", before, now);
    if (metric_need(after->body, "kvns_commands_processed_total") < commands_before)
        it_fail("kvns_commands_processed_total went backwards across the restart");
    http_reply_free(after);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_namespace_series, test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_help_and_type, test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_emptied_namespace_leaves_the_page, test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_reused_namespace_id_starts_clean, test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_server_counters, test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_health, test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_errors, test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_slow_client, test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_connection_flood, test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_promtool, test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_label_escaping, test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_bind_failure_stops_the_server, test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_port_zero_disables, test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_counts_survive_killed_children, test_setup, test_teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
