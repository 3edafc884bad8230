/* it_systemd.c - integration tests for the systemd integration: the sd_notify protocol
 * the supervisor speaks (READY=1 with STATUS=, WATCHDOG=1 every WATCHDOG_USEC/2,
 * STOPPING=1 on SIGTERM) received on a datagram socket of our own given as
 * NOTIFY_SOCKET, `systemd-analyze verify` of systemd/kvns.service (skipped when
 * systemd-analyze is missing), and the files `make install` puts in place.
 * kvns-only: skipped against redis-server.
 *
 * The repository root (for the unit file and `make install`) is the working directory
 * when it holds GNUmakefile and systemd/kvns.service (tools/run-tests.sh runs from
 * there), else the parent of the directory of the kvns binary (build/kvns). */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_MESSAGES     256
#define COMMAND_TIMEOUT_MS 120000

/* ---- the notify socket ------------------------------------------------------------ */

typedef struct notify_msg {
    char      text[512];
    long long at_ms;        /* monotonic arrival time */
} notify_msg;

typedef struct notify_sock {
    int        fd;
    char       path[108];
    notify_msg msgs[MAX_MESSAGES];
    int        count;
} notify_sock;

/* Creates and binds the AF_UNIX datagram socket kvns will notify (a fresh path under
 * /tmp). Fails the test when it cannot. */
static void notify_open(notify_sock *ns)
{
    static unsigned seq;
    memset(ns, 0, sizeof *ns);
    snprintf(ns->path, sizeof ns->path, "/tmp/kvns-it-notify-%d-%u.sock", (int)getpid(), seq++);
    unlink(ns->path);
    ns->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    memcpy(sa.sun_path, ns->path, strlen(ns->path) + 1);
    if (ns->fd < 0 || bind(ns->fd, (struct sockaddr *)&sa, sizeof sa) != 0)
        it_fail("cannot bind the notify socket %s: %s", ns->path, strerror(errno));
}

/* Closes the notify socket and removes its path. */
static void notify_close(notify_sock *ns)
{
    if (ns->fd >= 0)
        close(ns->fd);
    ns->fd = -1;
    unlink(ns->path);
}

/* True when one line of text (lines end with '\n' or the end) equals line. */
static bool has_line(const char *text, const char *line)
{
    size_t ll = strlen(line);
    for (const char *l = text; l;) {
        if (strncmp(l, line, ll) == 0 && (l[ll] == '\n' || l[ll] == '\0'))
            return true;
        l = strchr(l, '\n');
        if (l)
            l++;
    }
    return false;
}

/* Receives datagrams for up to timeout_ms, appending them to ns->msgs; returns early
 * once a message containing `until` (a whole line) arrived, when until is not NULL.
 * Returns true when it did. */
static bool notify_wait(notify_sock *ns, int timeout_ms, const char *until)
{
    long long deadline = mono_ms() + timeout_ms;
    for (;;) {
        long long left = deadline - mono_ms();
        if (left <= 0)
            return false;
        struct pollfd p = { .fd = ns->fd, .events = POLLIN };
        int rc = poll(&p, 1, (int)left);
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc <= 0)
            return false;
        char buf[512];
        ssize_t n = recv(ns->fd, buf, sizeof buf - 1, 0);
        if (n < 0)
            continue;
        buf[n] = '\0';
        if (ns->count < MAX_MESSAGES) {
            notify_msg *m = &ns->msgs[ns->count++];
            memcpy(m->text, buf, (size_t)n + 1);
            m->at_ms = mono_ms();
        }
        if (until && has_line(buf, until))
            return true;
    }
}

/* Index of the first message having a line equal to `line`, from index `from`, or -1. */
static int notify_find(const notify_sock *ns, int from, const char *line)
{
    for (int i = from; i < ns->count; i++) {
        if (has_line(ns->msgs[i].text, line))
            return i;
    }
    return -1;
}

/* Number of messages having a line equal to `line`. */
static int notify_count(const notify_sock *ns, const char *line)
{
    int n = 0;
    for (int i = notify_find(ns, 0, line); i >= 0; i = notify_find(ns, i + 1, line))
        n++;
    return n;
}

/* Prints every message received (for a failure's context). */
static void notify_dump(const notify_sock *ns)
{
    for (int i = 0; i < ns->count; i++)
        fprintf(stderr, "  notify[%d] +%lldms: %s\n", i, ns->msgs[i].at_ms - ns->msgs[0].at_ms, ns->msgs[i].text);
}

/* Starts kvns with NOTIFY_SOCKET pointing at ns (plus extra, a "NAME=value" entry or
 * NULL). Fails the test when it does not start. */
static kv_server *start_notified(notify_sock *ns, const char *extra)
{
    char env_socket[160];
    snprintf(env_socket, sizeof env_socket, "NOTIFY_SOCKET=%s", ns->path);
    const char *env[] = { env_socket, extra, NULL };
    kv_server *srv = srv_start(env);
    if (!srv)
        it_fail("kvns did not start with %s", env_socket);
    return srv;
}

/* True when a fresh connection to srv answers PING with PONG. */
static bool answers_ping(const kv_server *srv)
{
    kv_conn *c = conn_open(srv_port(srv));
    if (!c)
        return false;
    kv_reply *r = conn_cmd(c, "PING", NULL);
    bool ok = r && kv_reply_is_str(r, "PONG");
    kv_reply_free(r);
    conn_close(c);
    return ok;
}

/* ---- sd_notify ------------------------------------------------------------------------ */

/* READY=1 comes once, in one datagram with a STATUS= line, when connections are
 * accepted; no WATCHDOG=1 without WATCHDOG_USEC. */
static void test_ready_with_status(void **state)
{
    it_skip_unless_kvns("sd_notify and the systemd unit");
    notify_sock ns;
    notify_open(&ns);
    kv_server *srv = start_notified(&ns, NULL);     /* returns once PING answers */
    if (!notify_wait(&ns, 5000, "READY=1")) {
        notify_dump(&ns);
        srv_stop(srv);
        notify_close(&ns);
        it_fail("no READY=1 within 5 s of the server answering PING");
    }
    assert_true(answers_ping(srv));
    int ready = notify_find(&ns, 0, "READY=1");
    const char *status = strstr(ns.msgs[ready].text, "STATUS=");
    bool status_ok = status && (status == ns.msgs[ready].text || status[-1] == '\n') &&
                     status[7] != '\0' && status[7] != '\n';
    notify_wait(&ns, 500, NULL);                     /* anything else that follows */
    int readies = notify_count(&ns, "READY=1"), watchdogs = notify_count(&ns, "WATCHDOG=1");
    if (!status_ok || readies != 1 || watchdogs != 0)
        notify_dump(&ns);
    assert_int_equal(srv_stop(srv), 0);
    notify_close(&ns);
    assert_true(status_ok);
    assert_int_equal(readies, 1);
    assert_int_equal(watchdogs, 0);
}

/* With WATCHDOG_USEC=200000, WATCHDOG=1 arrives every 100 ms or so (WATCHDOG_USEC/2)
 * while the workers and the housekeeper run. Arrival times are skewed by scheduling,
 * so the check is on the count and the average interval over one second. */
static void test_watchdog(void **state)
{
    it_skip_unless_kvns("sd_notify and the systemd unit");
    notify_sock ns;
    notify_open(&ns);
    kv_server *srv = start_notified(&ns, "WATCHDOG_USEC=200000");
    bool ready = notify_wait(&ns, 5000, "READY=1");
    int from = ns.count;
    notify_wait(&ns, 1000, NULL);                   /* one second of keep-alives */
    int count = 0;
    long long first_at = 0, last_at = 0;
    for (int i = notify_find(&ns, from, "WATCHDOG=1"); i >= 0; i = notify_find(&ns, i + 1, "WATCHDOG=1")) {
        if (count++ == 0)
            first_at = ns.msgs[i].at_ms;
        last_at = ns.msgs[i].at_ms;
    }
    long long average = count > 1 ? (last_at - first_at) / (count - 1) : 0;
    bool alive = srv_alive(srv);
    if (!ready || count < 4 || count > 25 || average < 60 || average > 250)
        notify_dump(&ns);
    assert_int_equal(srv_stop(srv), 0);
    notify_close(&ns);
    assert_true(ready);
    assert_true(alive);
    if (count < 4 || count > 25)
        it_fail("%d WATCHDOG=1 in one second, expected about 10 (one per 100 ms)", count);
    if (average < 60 || average > 250)
        it_fail("WATCHDOG=1 every %lld ms on average, expected about 100 (WATCHDOG_USEC/2)", average);
}

/* SIGTERM to the supervisor: STOPPING=1 arrives (after READY=1) and kvns exits 0. */
static void test_stopping_on_sigterm(void **state)
{
    it_skip_unless_kvns("sd_notify and the systemd unit");
    notify_sock ns;
    notify_open(&ns);
    kv_server *srv = start_notified(&ns, NULL);
    bool ready = notify_wait(&ns, 5000, "READY=1");
    int rc = srv_stop(srv);                          /* SIGTERM, waits for the exit */
    bool stopping = notify_find(&ns, 0, "STOPPING=1") >= 0 || notify_wait(&ns, 2000, "STOPPING=1");
    int ready_at = notify_find(&ns, 0, "READY=1"), stopping_at = notify_find(&ns, 0, "STOPPING=1");
    if (!ready || !stopping || rc != 0)
        notify_dump(&ns);
    notify_close(&ns);
    assert_true(ready);
    assert_true(stopping);
    assert_true(stopping_at > ready_at);
    assert_int_equal(rc, 0);
}

/* ---- files: the unit and make install ---------------------------------------------------- */

/* The kvns binary under test (srv_kvns_binary) as an absolute path. */
static void kvns_binary(char *out, size_t cap)
{
    char bin[PATH_MAX], resolved[PATH_MAX];
    srv_kvns_binary(bin, sizeof bin);
    if (!realpath(bin, resolved))
        it_fail("cannot resolve the kvns binary '%s': %s", bin, strerror(errno));
    snprintf(out, cap, "%s", resolved);
}

/* True when dir holds GNUmakefile and systemd/kvns.service. */
static bool is_repo_root(const char *dir)
{
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/GNUmakefile", dir);
    if (access(path, R_OK) != 0)
        return false;
    snprintf(path, sizeof path, "%s/systemd/kvns.service", dir);
    return access(path, R_OK) == 0;
}

/* The repository root (see the file comment); fails the test when neither guess is. */
static void repo_root(char *out, size_t cap)
{
    char dir[PATH_MAX];
    if (getcwd(dir, sizeof dir) && is_repo_root(dir)) {
        snprintf(out, cap, "%s", dir);
        return;
    }
    kvns_binary(dir, sizeof dir);
    for (int up = 0; up < 2; up++) {
        char *slash = strrchr(dir, '/');
        if (!slash || slash == dir)
            break;
        *slash = '\0';
    }
    if (!is_repo_root(dir))
        it_fail("cannot find the repository root (from the working directory or the kvns binary)");
    snprintf(out, cap, "%s", dir);
}

/* Runs argv in dir with stdout and stderr into log_path; returns its exit status, 128 +
 * signal, or -1 when it could not run or ran over COMMAND_TIMEOUT_MS (then killed). */
static int run_program(const char *const *argv, const char *dir, const char *log_path)
{
    int logfd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (logfd < 0)
        return -1;
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        if (dir && chdir(dir) != 0)
            _exit(126);
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0)
            dup2(devnull, STDIN_FILENO);
        dup2(logfd, STDOUT_FILENO);
        dup2(logfd, STDERR_FILENO);
        execvp(argv[0], (char *const *)argv);
        dprintf(STDERR_FILENO, "exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(logfd);
    if (pid < 0)
        return -1;
    long long deadline = mono_ms() + COMMAND_TIMEOUT_MS;
    int status;
    for (;;) {
        pid_t got = waitpid(pid, &status, WNOHANG);
        if (got == pid)
            break;
        if (got < 0 && errno != EINTR)
            return -1;
        if (mono_ms() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            return -1;
        }
        sleep_ms(20);
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* The file's contents (NUL-terminated, *len bytes), or NULL. Free the result. */
static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (cap - n < 4096) {
            cap = cap ? cap * 2 : 8192;
            buf = realloc(buf, cap);
            if (!buf)
                abort();
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0)
            break;
    }
    fclose(f);
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

/* Writes len bytes to path. True on success. */
static bool write_file(const char *path, const char *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return false;
    bool ok = fwrite(data, 1, len, f) == len;
    return fclose(f) == 0 && ok;
}

/* nftw callback: removes one entry (depth first). */
static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    return remove(path);
}

/* Removes a directory tree (best effort). */
static void remove_tree(const char *dir)
{
    nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Prints a log file to stderr (a failed command's output). */
static void print_file(const char *what, const char *path)
{
    char *text = read_file(path, NULL);
    fprintf(stderr, "---- %s (%s)\n%s\n----\n", what, path, text ? text : "(unreadable)");
    free(text);
}

/* True when `program` is an executable in PATH. */
static bool in_path(const char *program)
{
    const char *path = getenv("PATH");
    if (!path)
        path = "/usr/bin:/bin";
    char *copy = strdup(path), *save = NULL;
    bool found = false;
    for (char *dir = strtok_r(copy, ":", &save); dir && !found; dir = strtok_r(NULL, ":", &save)) {
        char candidate[PATH_MAX + 64];
        snprintf(candidate, sizeof candidate, "%s/%s", *dir ? dir : ".", program);
        found = access(candidate, X_OK) == 0;
    }
    free(copy);
    return found;
}

/* `systemd-analyze verify` accepts systemd/kvns.service: the unit is verified as a copy
 * whose ExecStart= is the binary under test (verify wants an existing executable), and
 * no line of its output may say a setting was ignored. */
static void test_unit_verifies(void **state)
{
    if (!in_path("systemd-analyze")) {
        it_skip("systemd-analyze is not installed");
    }
    char root[PATH_MAX], bin[PATH_MAX], unit_path[PATH_MAX + 64];
    repo_root(root, sizeof root);
    kvns_binary(bin, sizeof bin);
    snprintf(unit_path, sizeof unit_path, "%s/systemd/kvns.service", root);
    size_t len;
    char *unit = read_file(unit_path, &len);
    assert_non_null(unit);
    char dir[] = "/tmp/kvns-it-unit-XXXXXX";
    assert_non_null(mkdtemp(dir));
    /* the copy: every ExecStart= line pointing at the binary under test */
    char copy_path[sizeof dir + 32], log_path[sizeof dir + 32];
    snprintf(copy_path, sizeof copy_path, "%s/kvns.service", dir);
    snprintf(log_path, sizeof log_path, "%s/verify.log", dir);
    char *copy = malloc(len + PATH_MAX + 64);
    assert_non_null(copy);
    size_t out = 0;
    int exec_lines = 0;
    for (const char *line = unit; *line;) {
        const char *end = strchr(line, '\n');
        size_t n = end ? (size_t)(end - line) + 1 : strlen(line);
        if (strncmp(line, "ExecStart=", 10) == 0) {
            out += (size_t)sprintf(copy + out, "ExecStart=%s\n", bin);
            exec_lines++;
        } else {
            memcpy(copy + out, line, n);
            out += n;
        }
        line += n;
    }
    assert_int_equal(exec_lines, 1);
    assert_true(write_file(copy_path, copy, out));
    const char *argv[] = { "systemd-analyze", "verify", copy_path, NULL };
    int rc = run_program(argv, root, log_path);
    char *log = read_file(log_path, NULL);
    bool ignored = log && strstr(log, "ignoring");
    if (rc != 0 || ignored)
        print_file("systemd-analyze verify", log_path);
    free(log);
    free(unit);
    free(copy);
    remove_tree(dir);
    assert_int_equal(rc, 0);
    assert_false(ignored);
}

/* Checks that path is a regular file with permission bits mode and, when want is not
 * NULL, the same bytes as the file want. */
static void expect_installed(const char *path, mode_t mode, const char *want)
{
    struct stat st;
    if (stat(path, &st) != 0)
        it_fail("make install did not create %s", path);
    if (!S_ISREG(st.st_mode) || (st.st_mode & 07777) != mode)
        it_fail("%s: mode %04o, expected a regular file of mode %04o", path, (unsigned)(st.st_mode & 07777),
                (unsigned)mode);
    if (!want)
        return;
    size_t got_len, want_len;
    char *got = read_file(path, &got_len), *expected = read_file(want, &want_len);
    bool same = got && expected && got_len == want_len && memcmp(got, expected, got_len) == 0;
    free(got);
    free(expected);
    if (!same)
        it_fail("%s differs from %s", path, want);
}

/* `make install DESTDIR=<tmp> PREFIX=/usr/local` puts the binary, the unit (whose
 * ExecStart= is that binary) and the example settings in place. It installs the binary
 * under test: BUILD is its directory and `-o` keeps make from rebuilding it (the
 * sanitizer build's objects must not be rebuilt with plain flags). */
static void test_make_install(void **state)
{
    if (!in_path("make")) {
        it_skip("make is not installed");
    }
    char root[PATH_MAX], bin[PATH_MAX], build[PATH_MAX];
    repo_root(root, sizeof root);
    kvns_binary(bin, sizeof bin);
    snprintf(build, sizeof build, "%s", bin);
    *strrchr(build, '/') = '\0';
    char dir[] = "/tmp/kvns-it-install-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char destdir[sizeof dir + 16], log_path[sizeof dir + 16], build_arg[PATH_MAX + 8];
    snprintf(destdir, sizeof destdir, "DESTDIR=%s/root", dir);
    snprintf(log_path, sizeof log_path, "%s/make.log", dir);
    snprintf(build_arg, sizeof build_arg, "BUILD=%s", build);
    const char *argv[] = { "make", "--no-print-directory", "install", destdir, "PREFIX=/usr/local", build_arg,
                           "-o", bin, NULL };
    int rc = run_program(argv, root, log_path);
    if (rc != 0) {
        print_file("make install", log_path);
        remove_tree(dir);
        it_fail("make install exited with status %d", rc);
    }
    char path[PATH_MAX + 128], source[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/root/usr/local/bin/kvns", dir);
    expect_installed(path, 0755, bin);
    snprintf(path, sizeof path, "%s/root/lib/systemd/system/kvns.service", dir);
    snprintf(source, sizeof source, "%s/systemd/kvns.service", root);
    expect_installed(path, 0644, source);
    /* the unit starts the installed binary */
    char *unit = read_file(path, NULL);
    assert_non_null(unit);
    bool exec_ok = strstr(unit, "\nExecStart=/usr/local/bin/kvns\n") != NULL;
    free(unit);
    snprintf(path, sizeof path, "%s/root/etc/default/kvns.example", dir);
    snprintf(source, sizeof source, "%s/systemd/kvns.env.example", root);
    expect_installed(path, 0644, source);
    remove_tree(dir);
    assert_true(exec_ok);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ready_with_status),
        cmocka_unit_test(test_watchdog),
        cmocka_unit_test(test_stopping_on_sigterm),
        cmocka_unit_test(test_unit_verifies),
        cmocka_unit_test(test_make_install),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
