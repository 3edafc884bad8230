/* it_clients.c - real client libraries against kvns: the programs under tests/clients/
 * drive redis-py (Debian python3-redis, run with /usr/bin/python3), ioredis and
 * node-redis (npm, installed into <build>/clients/node_modules from
 * tests/clients/package-lock.json on first use) the way applications use them:
 *   - transactions: pipeline()/multi() with EXEC's replies parsed per command, a
 *     run-time error kept in its slot, a queue-time error aborting with EXECABORT;
 *   - WATCH: a change from a connection of the other worker (the server runs the
 *     harness's two workers) aborts EXEC the way each library reports it
 *     (redis-py's transaction() retries, ioredis answers null, node-redis throws
 *     WatchError);
 *   - plain pipelining, a shared connection pool under eight threads;
 *   - the connection handshakes: CLIENT SETNAME, CLIENT SETINFO, INFO (ioredis's ready
 *     check), HELLO 3 (ioredis's and node-redis's default) and RESP2;
 *   - scripts: redis-py's Lock (SET NX PX, then EVALSHA with SCRIPT LOAD after NOSCRIPT)
 *     and register_script, ioredis's defineCommand (EVAL first, then EVALSHA),
 *     node-redis's scriptLoad/evalSha and defineScript, each also inside a transaction
 *     and after SCRIPT FLUSH.
 * Each program prints "name: value" lines; a case runs one program with the server's
 * port and asserts its exit status and lines, killing it after CLIENT_TIMEOUT_MS.
 * A case is skipped when its interpreter or library is not installed; npm failing to
 * install the node libraries (no registry) fails the node cases with npm's output.
 * The expected lines are Redis 7's: KVNS_TEST_TARGET=redis passes too (7.0 lacks
 * CLIENT SETINFO, which is then expected to be refused). */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* One client program's run; npm install gets NPM_TIMEOUT_MS. */
#define CLIENT_TIMEOUT_MS 20000
#define NPM_TIMEOUT_MS 60000
#define OUTPUT_CAP (256 * 1024)

typedef struct clients_run {
    int  status;        /* exit code, 128 + signal, or -1 when killed on timeout */
    char output[OUTPUT_CAP]; /* stdout and stderr as they came, NUL-terminated */
} clients_run;

static clients_run g_run;

/* True when path names an existing file. */
static bool clients_file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* The directory of the client programs (tests/clients of the repository): under the
 * working directory (tools/run-tests.sh runs from the root), else two levels above the
 * kvns binary (<root>/build/kvns). Fails the test when neither holds them. */
static const char *clients_dir(void)
{
    static char dir[PATH_MAX + 16];
    char probe[PATH_MAX + 32];
    if (getcwd(dir, PATH_MAX)) {
        strcat(dir, "/tests/clients");
        snprintf(probe, sizeof probe, "%s/redis_py.py", dir);
        if (clients_file_exists(probe))
            return dir;
    }
    char bin[PATH_MAX], resolved[PATH_MAX];
    srv_kvns_binary(bin, sizeof bin);
    if (realpath(bin, resolved)) {
        for (int up = 0; up < 2; up++) {
            char *slash = strrchr(resolved, '/');
            if (slash && slash != resolved)
                *slash = '\0';
        }
        snprintf(dir, sizeof dir, "%s/tests/clients", resolved);
        snprintf(probe, sizeof probe, "%s/redis_py.py", dir);
        if (clients_file_exists(probe))
            return dir;
    }
    it_fail("cannot find tests/clients (from the working directory or the kvns binary)");
}

/* <dir of the kvns binary>/clients: where npm installs the node libraries. */
static const char *clients_build_dir(void)
{
    static char dir[PATH_MAX];
    char bin[PATH_MAX];
    srv_kvns_binary(bin, sizeof bin);
    if (!realpath(bin, dir))
        it_fail("cannot resolve the kvns binary '%s': %s", bin, strerror(errno));
    char *slash = strrchr(dir, '/');
    if (!slash)
        it_fail("unexpected kvns binary path '%s'", dir);
    snprintf(slash, sizeof dir - (size_t)(slash - dir), "/clients");
    return dir;
}

/* Runs argv (argv[0] looked up in PATH) in cwd with the extra environment entries env
 * (NULL-terminated "NAME=value", may be NULL), its stdout and stderr gathered into
 * g_run.output. The child leads a process group of its own, which is killed when it
 * runs over timeout_ms (g_run.status is then -1). Returns g_run.status. */
static int clients_spawn(const char *const *argv, const char *cwd, const char *const *env,
                         int timeout_ms)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
        it_fail("pipe: %s", strerror(errno));
    pid_t pid = fork();
    if (pid < 0)
        it_fail("fork: %s", strerror(errno));
    if (pid == 0) {
        setpgid(0, 0);
        dup2(fds[1], STDOUT_FILENO);
        dup2(fds[1], STDERR_FILENO);
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0)
            dup2(devnull, STDIN_FILENO);
        if (cwd && chdir(cwd) != 0)
            _exit(126);
        for (int i = 0; env && env[i]; i++)
            putenv((char *)env[i]);
        execvp(argv[0], (char *const *)argv);
        fprintf(stderr, "cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    setpgid(pid, pid);
    close(fds[1]);
    size_t used = 0;
    long long deadline = mono_ms() + timeout_ms;
    bool timed_out = false;
    for (;;) {
        long long left = deadline - mono_ms();
        if (left <= 0) {
            timed_out = true;
            break;
        }
        struct pollfd p = {.fd = fds[0], .events = POLLIN};
        int n = poll(&p, 1, (int)left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            continue;
        char buf[4096];
        ssize_t got = read(fds[0], buf, sizeof buf);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
        size_t keep = (size_t)got;
        if (keep > sizeof g_run.output - 1 - used)
            keep = sizeof g_run.output - 1 - used;
        memcpy(g_run.output + used, buf, keep);
        used += keep;
    }
    g_run.output[used] = '\0';
    close(fds[0]);
    int status = 0;
    if (timed_out)
        kill(-pid, SIGKILL);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (timed_out)
        g_run.status = -1;
    else if (WIFEXITED(status))
        g_run.status = WEXITSTATUS(status);
    else
        g_run.status = 128 + WTERMSIG(status);
    return g_run.status;
}

/* Fails the test showing the program's output; what names the run. */
static void clients_fail_run(const char *what)
{
    if (g_run.status == -1)
        it_fail("%s: killed after %d ms; output:\n%s", what, CLIENT_TIMEOUT_MS, g_run.output);
    it_fail("%s: exit status %d; output:\n%s", what, g_run.status, g_run.output);
}

/* True when text has a line exactly equal to line. */
static bool clients_has_line_in(const char *text, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = text; *p;) {
        if (strncmp(p, line, n) == 0 && (p[n] == '\n' || p[n] == '\0'))
            return true;
        const char *next = strchr(p, '\n');
        if (!next)
            break;
        p = next + 1;
    }
    return false;
}

/* Fails the test unless the last run printed every line of the NULL-terminated list. */
static void clients_expect_lines(const char *what, const char *const *lines)
{
    for (int i = 0; lines[i]; i++) {
        if (!clients_has_line_in(g_run.output, lines[i]))
            it_fail("%s: no line '%s' in the output:\n%s", what, lines[i], g_run.output);
    }
}

/* Fails the test unless, against kvns, the last run printed line: the two connections
 * of a WATCH case were served by different workers (redis-server has one process). */
static void clients_expect_other_worker(const char *what, const char *line)
{
    const char *lines[] = {line, NULL};
    if (!srv_target_is_redis())
        clients_expect_lines(what, lines);
}

/* ------------------------------------------------------------------------ redis-py */

#define PYTHON "/usr/bin/python3"

/* The "features" lines of redis_py.py (what the installed redis-py can do); skips the
 * case when /usr/bin/python3 or its redis module is missing (Debian python3-redis,
 * installed by make check). */
static const char *redispy_features(void)
{
    static char features[1024];
    static int available = -1;
    if (available < 0) {
        char script[PATH_MAX + 32];
        snprintf(script, sizeof script, "%s/redis_py.py", clients_dir());
        const char *argv[] = {PYTHON, script, "0", "features", NULL};
        available = access(PYTHON, X_OK) == 0 &&
                    clients_spawn(argv, NULL, NULL, CLIENT_TIMEOUT_MS) == 0;
        size_t n = strlen(g_run.output);
        n = n < sizeof features - 1 ? n : sizeof features - 1;
        memcpy(features, g_run.output, n);
        features[n] = '\0';
    }
    if (!available)
        it_skip("redis-py (Debian python3-redis for /usr/bin/python3) is not installed");
    return features;
}

/* Runs redis_py.py SCENARIO against the server; fails unless it exits 0 with lines. */
static void redispy_run(const char *scenario, const char *const *lines)
{
    redispy_features();
    char script[PATH_MAX + 32], port[16];
    snprintf(script, sizeof script, "%s/redis_py.py", clients_dir());
    const char *argv[] = {PYTHON, script, fmt_ll(port, sizeof port, it_port()), scenario, NULL};
    char what[64];
    snprintf(what, sizeof what, "redis-py %s", scenario);
    if (clients_spawn(argv, NULL, NULL, CLIENT_TIMEOUT_MS) != 0)
        clients_fail_run(what);
    clients_expect_lines(what, lines);
}

static void test_redispy_pipeline_transaction(void **state)
{
    const char *lines[] = {"results: [True, 2, b'2', True]", "ttl: 100", "plain: [3, 8, b'8']",
                           NULL};
    redispy_run("pipeline", lines);
}

static void test_redispy_pipeline_errors(void **state)
{
    const char *lines[] = {
        "result 0: True",
        "result 1: ResponseError WRONGTYPE Operation against a key holding the wrong kind of value",
        "result 2: 1",
        "result 3: b'v'",
        "execabort: Command # 2 (GET) of pipeline caused error: wrong number of arguments for "
        "'get' command",
        "after abort: b'1'",
        NULL,
    };
    redispy_run("pipeline-errors", lines);
}

static void test_redispy_watch_retry(void **state)
{
    const char *lines[] = {"attempts: 2", "results: [True, b'12']", "value: b'12'",
                           "watch error: WatchError", "untouched: b'0'", NULL};
    redispy_run("watch-retry", lines);
    clients_expect_other_worker("redis-py watch-retry", "other worker: True");
}

static void test_redispy_pool_threads(void **state)
{
    const char *lines[] = {"errors: []", "count: 2000", "txcount: 400", NULL};
    redispy_run("pool-threads", lines);
}

static void test_redispy_handshake(void **state)
{
    const char *lines[] = {"getname: 'kvns-py'", "client list: 1", "loading: 0", "role: master",
                           "ping: True", NULL};
    redispy_run("handshake", lines);
    /* redis-py 5 sends these at connect; Redis 7.0 has no CLIENT SETINFO yet */
    const char *setinfo_ok[] = {"setinfo name: b'OK'", "setinfo ver: b'OK'", NULL};
    const char *setinfo_refused[] = {
        "setinfo name: error: unknown subcommand 'SETINFO'. Try CLIENT HELP.", NULL};
    clients_expect_lines("redis-py handshake", srv_target_is_redis() ? setinfo_refused : setinfo_ok);
    char port_line[32];
    snprintf(port_line, sizeof port_line, "tcp_port: %d", it_port());
    const char *port_lines[] = {port_line, NULL};
    clients_expect_lines("redis-py handshake", port_lines);
}

/* redis-py speaks RESP3 from 5.0 on (protocol=3); Debian 12 ships 4.3. */
static void test_redispy_resp3(void **state)
{
    if (!clients_has_line_in(redispy_features(), "resp3: yes"))
        it_skip("the installed redis-py has no RESP3 (protocol=3 came with redis-py 5.0)");
    const char *lines[] = {"results: [True, 2, b'2', True]", NULL};
    redispy_run("resp3", lines);
}

static void test_redispy_lock(void **state)
{
    const char *lines[] = {
        "acquire: True", "second acquire: False", "owned: True False", "extend: True",
        "extended ttl: True", "reacquire: True", "reacquired ttl: True",
        "foreign release: LockNotOwnedError", "foreign extend: LockNotOwnedError",
        "released: 0", "again: True", NULL,
    };
    redispy_run("lock", lines);
}

static void test_redispy_register_script(void **state)
{
    const char *lines[] = {
        "call: [b'py:s', 5, 10]", "exists: [True]", "pipeline: [[b'py:s', 7, 4], b'7']",
        "noscript: No matching script. Please use EVAL.", NULL,
    };
    redispy_run("register-script", lines);
}

/* ------------------------------------------------------------------- node clients */

/* Installs the node libraries of tests/clients/package-lock.json into
 * clients_build_dir() with `npm ci` unless the same lock file is installed there
 * already. Skips the case when node or npm is missing; fails with npm's output when
 * the install fails (no registry). Returns the node_modules directory. */
static const char *node_modules(void)
{
    static char modules[PATH_MAX + 16];
    static int installed = -1;
    if (installed == 1)
        return modules;
    if (installed == 0)
        it_fail("npm ci failed earlier in this run (its output is in the first node case)");
    const char *which_node[] = {"node", "--version", NULL};
    const char *which_npm[] = {"npm", "--version", NULL};
    if (clients_spawn(which_node, NULL, NULL, CLIENT_TIMEOUT_MS) != 0 ||
        clients_spawn(which_npm, NULL, NULL, CLIENT_TIMEOUT_MS) != 0)
        it_skip("node and npm (Debian nodejs, npm) are not installed");
    const char *build = clients_build_dir();
    snprintf(modules, sizeof modules, "%s/node_modules", build);
    char cmd[3 * PATH_MAX + 256];
    /* the installed tree is current when npm's own copy of the lock matches ours */
    snprintf(cmd, sizeof cmd,
             "mkdir -p '%s' && cmp -s '%s/package-lock.json' '%s/package-lock.json' && "
             "cmp -s '%s/package-lock.json' '%s/.package-lock.json.installed'",
             build, clients_dir(), build, clients_dir(), modules);
    const char *check[] = {"sh", "-c", cmd, NULL};
    if (clients_spawn(check, NULL, NULL, CLIENT_TIMEOUT_MS) == 0) {
        installed = 1;
        return modules;
    }
    snprintf(cmd, sizeof cmd,
             "cp '%s/package.json' '%s/package-lock.json' '%s/' && "
             "npm ci --no-audit --no-fund --loglevel=error && "
             "cp package-lock.json node_modules/.package-lock.json.installed",
             clients_dir(), clients_dir(), build);
    const char *install[] = {"sh", "-c", cmd, NULL};
    installed = clients_spawn(install, build, NULL, NPM_TIMEOUT_MS) == 0;
    if (!installed && g_run.status == -1)
        it_fail("npm ci of tests/clients/package-lock.json into %s was killed after %d ms (is "
                "the npm registry reachable?); output:\n%s", build, NPM_TIMEOUT_MS, g_run.output);
    if (!installed)
        it_fail("npm ci of tests/clients/package-lock.json into %s failed (is the npm registry "
                "reachable?); exit status %d, output:\n%s", build, g_run.status, g_run.output);
    return modules;
}

/* Runs node PROGRAM PORT SCENARIO [RESP] against the server; fails unless it exits 0
 * with lines. */
static void node_run(const char *program, const char *scenario, const char *resp,
                     const char *const *lines)
{
    char env_path[PATH_MAX + 32];
    snprintf(env_path, sizeof env_path, "NODE_PATH=%s", node_modules());
    const char *env[] = {env_path, NULL};
    char script[PATH_MAX + 32], port[16];
    snprintf(script, sizeof script, "%s/%s", clients_dir(), program);
    const char *argv[] = {"node", script, fmt_ll(port, sizeof port, it_port()), scenario, resp,
                          NULL};
    char what[96];
    snprintf(what, sizeof what, "%s %s%s%s", program, scenario, resp ? " RESP" : "",
             resp ? resp : "");
    if (clients_spawn(argv, NULL, env, CLIENT_TIMEOUT_MS) != 0)
        clients_fail_run(what);
    clients_expect_lines(what, lines);
}

static void test_ioredis_handshake(void **state)
{
    const char *lines[] = {
        "status: \"ready\"", "server info loading: \"0\"", "client name: \"kvns-io\"",
        "resp: \"3\"", "hgetall: {\"f\":\"v\"}", "resp2: \"2\"", "resp2 hgetall: {\"f\":\"v\"}",
        NULL,
    };
    node_run("ioredis.js", "handshake", NULL, lines);
    const char *lib_name[] = {srv_target_is_redis() ? "client lib-name: \"(none)\""
                                                    : "client lib-name: \"ioredis\"", NULL};
    clients_expect_lines("ioredis handshake", lib_name);
}

static void test_ioredis_multi(void **state)
{
    const char *lines[] = {
        "exec: [[null,\"OK\"],[null,2],[null,\"2\"],[null,1]]",
        "with error: [[null,\"OK\"],[\"error\",\"WRONGTYPE Operation against a key holding the "
        "wrong kind of value\"],[null,3]]",
        "execabort: \"EXECABORT Transaction discarded because of previous errors.\"",
        "previous: [\"ERR wrong number of arguments for 'get' command\"]",
        "after abort: \"3\"",
        "typed: [[null,2],[null,{\"f\":\"v\",\"g\":\"w\"}],[null,1],[null,\"1.5\"],[null,1],"
        "[null,[\"a\"]],[null,[\"m\",\"1.5\"]],[null,-1],[null,\"hash\"]]",
        NULL,
    };
    node_run("ioredis.js", "multi", NULL, lines);
}

static void test_ioredis_pipeline(void **state)
{
    const char *lines[] = {
        "pipeline: [[null,1],[null,6],[\"error\",\"WRONGTYPE Operation against a key holding "
        "the wrong kind of value\"],[null,\"6\"]]",
        NULL,
    };
    node_run("ioredis.js", "pipeline", NULL, lines);
}

static void test_ioredis_watch(void **state)
{
    const char *lines[] = {"watch: \"OK\"", "aborted exec: null", "value: \"2\"",
                           "exec: [[null,\"OK\"]]", "value: \"mine\"", NULL};
    node_run("ioredis.js", "watch", NULL, lines);
    clients_expect_other_worker("ioredis watch", "other worker: true");
}

/* node-redis in RESP3 (its default: HELLO 3) and in RESP2: the same replies. */
static void node_redis_run(const char *scenario, const char *const *lines)
{
    node_run("node_redis.js", scenario, "3", lines);
    node_run("node_redis.js", scenario, "2", lines);
}

static void test_node_redis_handshake(void **state)
{
    const char *lines[] = {"name: \"kvns-nr\"", "hgetall: {\"f\":\"v\"}", "ping: \"PONG\"",
                           srv_target_is_redis() ? "lib-name: \"(none)\"" : "lib-name: \"node-redis\"",
                           NULL};
    const char *resp3[] = {"resp: 3", NULL}, *resp2[] = {"resp: 2", NULL};
    node_run("node_redis.js", "handshake", "3", lines);
    clients_expect_lines("node-redis handshake RESP3", resp3);
    node_run("node_redis.js", "handshake", "2", lines);
    clients_expect_lines("node-redis handshake RESP2", resp2);
}

static void test_node_redis_multi(void **state)
{
    const char *lines[] = {
        "exec: [\"OK\",2,\"2\",1]",
        "with error: [\"OK\",\"WRONGTYPE Operation against a key holding the wrong kind of "
        "value\",3]",
        "error indexes: [1]",
        "execabort: \"ERR wrong number of arguments for 'get' command\"",
        "after abort: \"3\"",
        "typed: [2,{\"f\":\"v\",\"g\":\"w\"},1,1.5,1,[\"a\"],[{\"value\":\"m\",\"score\":1.5}],-1,"
        "\"hash\"]",
        NULL,
    };
    node_redis_run("multi", lines);
}

static void test_node_redis_pipeline(void **state)
{
    const char *lines[] = {"pipeline: [1,6,\"6\"]", NULL};
    node_redis_run("pipeline", lines);
}

static void test_node_redis_watch(void **state)
{
    const char *lines[] = {"watch: \"OK\"", "aborted exec: \"WatchError\"", "value: \"2\"",
                           "exec: [\"OK\"]", "value: \"mine\"", NULL};
    node_run("node_redis.js", "watch", "3", lines);
    clients_expect_other_worker("node-redis watch RESP3", "other worker: true");
    node_run("node_redis.js", "watch", "2", lines);
    clients_expect_other_worker("node-redis watch RESP2", "other worker: true");
}

static void test_ioredis_scripts(void **state)
{
    const char *lines[] = {
        "first: [3,6,\"3\"]", "second: [7,8,\"1\"]", "after flush: [9,10,\"1\"]",
        "multi: [[null,[20,30,\"10\"]],[null,\"30\"]]",
        "sha: \"d3c21d0c2b9ca22f82737626a27bcaf5d288f99f\"", "evalsha: \"30\"",
        "script exists: [1,0]", "eval types: [1,\"two\",null,[3],\"FINE\"]",
        "error reply: \"MINE failed\"", NULL,
    };
    node_run("ioredis.js", "scripts", NULL, lines);
}

static void test_node_redis_scripts(void **state)
{
    const char *lines[] = {
        "sha: \"8cd00688c05c46bde4a2e60658ef20a2e5c0b248\"", "evalSha: 4",
        "script exists: [1,0]", "addTwice: [7,10,\"3\"]", "again: [11,12,\"1\"]",
        "multi: [[22,32,\"10\"],\"32\"]",
        "noscript: \"NOSCRIPT No matching script. Please use EVAL.\"", NULL,
    };
    node_redis_run("scripts", lines);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_redispy_pipeline_transaction, it_test_setup,
                                        it_test_teardown),
        cmocka_unit_test_setup_teardown(test_redispy_pipeline_errors, it_test_setup,
                                        it_test_teardown),
        cmocka_unit_test_setup_teardown(test_redispy_watch_retry, it_test_setup, it_test_teardown),
        cmocka_unit_test_setup_teardown(test_redispy_pool_threads, it_test_setup, it_test_teardown),
        cmocka_unit_test_setup_teardown(test_redispy_handshake, it_test_setup, it_test_teardown),
        cmocka_unit_test_setup_teardown(test_redispy_resp3, it_test_setup, it_test_teardown),
        cmocka_unit_test_setup_teardown(test_redispy_lock, it_test_setup, it_test_teardown),
        cmocka_unit_test_setup_teardown(test_redispy_register_script, it_test_setup,
                                        it_test_teardown),
        cmocka_unit_test_setup_teardown(test_ioredis_handshake, it_test_setup, it_test_teardown),
        cmocka_unit_test_setup_teardown(test_ioredis_multi, it_test_setup, it_test_teardown),
        cmocka_unit_test_setup_teardown(test_ioredis_pipeline, it_test_setup, it_test_teardown),
        cmocka_unit_test_setup_teardown(test_ioredis_watch, it_test_setup, it_test_teardown),
        cmocka_unit_test_setup_teardown(test_ioredis_scripts, it_test_setup, it_test_teardown),
        cmocka_unit_test_setup_teardown(test_node_redis_handshake, it_test_setup, it_test_teardown),
        cmocka_unit_test_setup_teardown(test_node_redis_multi, it_test_setup, it_test_teardown),
        cmocka_unit_test_setup_teardown(test_node_redis_pipeline, it_test_setup, it_test_teardown),
        cmocka_unit_test_setup_teardown(test_node_redis_watch, it_test_setup, it_test_teardown),
        cmocka_unit_test_setup_teardown(test_node_redis_scripts, it_test_setup, it_test_teardown),
    };
    return cmocka_run_group_tests(tests, it_group_setup, it_group_teardown);
}
