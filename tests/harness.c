/* harness.c - integration-test harness: server processes, RESP client, assertions.
 * See harness.h for the interface and the environment variables it reads. */
#include "harness.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* KVNS_TEST_FILTER=pattern (cmocka's * and ? wildcards) runs only the matching test
 * cases of every test binary: `make check T=it_zset F='*zadd*'` (README, Tests). */
__attribute__((constructor)) static void apply_test_filter(void)
{
    const char *pattern = getenv("KVNS_TEST_FILTER");
    if (pattern && *pattern)
        cmocka_set_test_filter(pattern);
}

extern char **environ;

#define START_TIMEOUT_MS   10000   /* srv_start: until PING answers PONG */
#define STOP_TIMEOUT_MS    5000    /* srv_stop: SIGTERM grace period */
#define IO_TIMEOUT_MS      10000   /* default socket send/receive timeout */
#define MAX_SERVERS        32
#define MAX_REPLY_DEPTH    64
#define READ_CHUNK         (64 * 1024)

/* ======================================================================== utilities */

/* Wall-clock milliseconds since the epoch. */
long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Monotonic milliseconds, for deadlines. */
long long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Sleeps for ms milliseconds, resuming after signals. */
void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {
    }
}

/* malloc that aborts on failure (tests have no sensible recovery). */
static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "harness: out of memory (%zu bytes)\n", n);
        abort();
    }
    return p;
}

/* realloc that aborts on failure. */
static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q) {
        fprintf(stderr, "harness: out of memory (%zu bytes)\n", n);
        abort();
    }
    return q;
}

/* strdup that aborts on failure. */
static char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = xmalloc(n);
    memcpy(p, s, n);
    return p;
}

/* ================================================================ server processes */

/* Process groups to kill from the atexit handler and fatal-signal handlers. */
static volatile pid_t g_cleanup_pgids[MAX_SERVERS];
static kv_server *g_servers[MAX_SERVERS];
static kv_server *g_current;
static int g_harness_failures;     /* assertion failures seen by the helpers */
static bool g_cleanup_installed;
static unsigned g_log_seq;

/* Internal bookkeeping kept next to the public struct. */
typedef struct server_priv {
    kv_server pub;          /* must stay first: kv_server* and server_priv* convert */
    bool      exited;       /* the leader has exited (observed without reaping) */
    bool      reaped;
    int       exit_code;    /* exit code, or 128+signal */
} server_priv;

/* Async-signal-safe: SIGKILL every process group still registered. */
static void kill_registered_groups(void)
{
    for (int i = 0; i < MAX_SERVERS; i++) {
        pid_t pg = g_cleanup_pgids[i];
        if (pg > 0)
            kill(-pg, SIGKILL);
    }
}

/* atexit: kill and reap whatever a failing test left running. */
static void cleanup_at_exit(void)
{
    kill_registered_groups();
    for (int i = 0; i < MAX_SERVERS; i++) {
        if (g_cleanup_pgids[i] > 0) {
            waitpid(g_cleanup_pgids[i], NULL, 0);
            g_cleanup_pgids[i] = 0;
        }
    }
}

/* Fatal signal: kill the servers, then die of the same signal. */
static void cleanup_on_signal(int sig)
{
    kill_registered_groups();
    signal(sig, SIG_DFL);
    raise(sig);
}

/* Installs the atexit and signal cleanup once. */
static void install_cleanup(void)
{
    if (g_cleanup_installed)
        return;
    g_cleanup_installed = true;
    atexit(cleanup_at_exit);
    const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = cleanup_on_signal;
        sigemptyset(&sa.sa_mask);
        sigaction(sigs[i], &sa, NULL);
    }
}

/* Adds srv to the registries; false when full. */
static bool register_server(kv_server *srv)
{
    for (int i = 0; i < MAX_SERVERS; i++) {
        if (g_servers[i] == NULL) {
            g_servers[i] = srv;
            g_cleanup_pgids[i] = srv->pid;
            return true;
        }
    }
    return false;
}

/* Removes srv from the registries. */
static void unregister_server(kv_server *srv)
{
    for (int i = 0; i < MAX_SERVERS; i++) {
        if (g_servers[i] == srv) {
            g_servers[i] = NULL;
            g_cleanup_pgids[i] = 0;
        }
    }
    if (g_current == srv) {
        g_current = NULL;
        for (int i = MAX_SERVERS - 1; i >= 0; i--) {
            if (g_servers[i]) {
                g_current = g_servers[i];
                break;
            }
        }
    }
}

/* True when KVNS_TEST_TARGET=redis. */
bool srv_target_is_redis(void)
{
    const char *t = getenv("KVNS_TEST_TARGET");
    return t && strcasecmp(t, "redis") == 0;
}

pid_t srv_pid(const kv_server *srv) { return srv ? srv->pid : -1; }
int srv_port(const kv_server *srv) { return srv ? srv->port : -1; }
kv_server *srv_current(void) { return g_current; }

/* Asks the kernel for a free 127.0.0.1 TCP port (bind port 0, read it, close). */
int srv_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    socklen_t alen = sizeof a;
    int port = -1;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &alen) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

/* The kvns executable: $KVNS_BIN, else <test binary dir>/../kvns, else build/kvns. */
void srv_kvns_binary(char *out, size_t cap)
{
    const char *env = getenv("KVNS_BIN");
    if (env && *env) {
        snprintf(out, cap, "%s", env);
        return;
    }
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');          /* .../build/tests/it_x */
        if (slash) {
            *slash = '\0';
            slash = strrchr(exe, '/');            /* .../build/tests */
            if (slash) {
                *slash = '\0';
                char candidate[PATH_MAX + 8];
                snprintf(candidate, sizeof candidate, "%s/kvns", exe);
                size_t len = strlen(candidate);
                if (len < cap && access(candidate, X_OK) == 0) {
                    memcpy(out, candidate, len + 1);
                    return;
                }
            }
        }
    }
    snprintf(out, cap, "%s", "build/kvns");
}

/* Length of the NAME part of a "NAME=value" entry. */
static size_t env_name_len(const char *entry)
{
    const char *eq = strchr(entry, '=');
    return eq ? (size_t)(eq - entry) : strlen(entry);
}

/* Sets entry ("NAME=value", copied) in a NULL-terminated malloc'ed array, replacing an
 * entry of the same name. */
static void env_put(char ***envp, size_t *count, const char *entry)
{
    size_t nl = env_name_len(entry);
    for (size_t i = 0; i < *count; i++) {
        if (env_name_len((*envp)[i]) == nl && strncmp((*envp)[i], entry, nl) == 0) {
            free((*envp)[i]);
            (*envp)[i] = xstrdup(entry);
            return;
        }
    }
    *envp = xrealloc(*envp, (*count + 2) * sizeof **envp);
    (*envp)[(*count)++] = xstrdup(entry);
    (*envp)[*count] = NULL;
}

/* The kvns environment: ours, the harness defaults, then the caller's overrides. */
static char **build_kvns_env(int port, const char *const *extra)
{
    char **envp = xmalloc(sizeof *envp);
    size_t count = 0;
    envp[0] = NULL;
    for (char **e = environ; e && *e; e++)
        env_put(&envp, &count, *e);
    char portbuf[32];
    snprintf(portbuf, sizeof portbuf, "KVNS_PORT=%d", port);
    const char *defaults[] = { "KVNS_HOST=127.0.0.1", portbuf, "KVNS_METRICS_PORT=0",
                               "KVNS_WORKERS=2", "KVNS_SHARD_COUNT=8",
                               "KVNS_ENABLE_DEBUG_COMMAND=yes" };
    for (size_t i = 0; i < sizeof defaults / sizeof defaults[0]; i++)
        env_put(&envp, &count, defaults[i]);
    for (const char *const *e = extra; e && *e; e++)
        env_put(&envp, &count, *e);
    return envp;
}

/* Frees a NULL-terminated array of malloc'ed strings. */
static void free_strv(char **v)
{
    for (char **p = v; p && *p; p++)
        free(*p);
    free(v);
}

/* Records the leader's exit without reaping it (the zombie keeps the pgid reserved until
 * srv_stop has killed the rest of the group). */
static bool check_exited(server_priv *sp)
{
    if (sp->exited)
        return true;
    siginfo_t si;
    memset(&si, 0, sizeof si);
    int rc = waitid(P_PID, (id_t)sp->pub.pid, &si, WEXITED | WNOHANG | WNOWAIT);
    if (rc == 0 && si.si_pid == sp->pub.pid) {
        sp->exited = true;
        sp->exit_code = si.si_code == CLD_EXITED ? si.si_status : 128 + si.si_status;
    } else if (rc == -1 && errno == ECHILD) {   /* reaped elsewhere: nothing to wait for */
        sp->exited = sp->reaped = true;
        sp->exit_code = -1;
    }
    return sp->exited;
}

/* True when the server process is still running. */
bool srv_alive(kv_server *srv)
{
    return srv && !check_exited((server_priv *)srv);
}

/* Prints the last max_lines lines of the server log to stderr. */
void srv_print_log_tail(const kv_server *srv, int max_lines)
{
    if (!srv)
        return;
    FILE *f = fopen(srv->log_path, "r");
    if (!f) {
        fprintf(stderr, "  (cannot open server log %s: %s)\n", srv->log_path, strerror(errno));
        return;
    }
    static char buf[16384];
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    long start = size > (long)sizeof buf - 1 ? size - (long)sizeof buf + 1 : 0;
    fseek(f, start, SEEK_SET);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* Walk back over max_lines newlines, not counting the one ending the last line. */
    const char *p = buf + n;
    if (p > buf && p[-1] == '\n')
        p--;
    int lines = 0;
    while (p > buf && !(p[-1] == '\n' && ++lines >= max_lines))
        p--;
    fprintf(stderr, "  ---- last lines of %s ----\n%s%s  ----\n", srv->log_path, p,
            (n && buf[n - 1] != '\n') ? "\n" : "");
}

/* True when a line of the server's log (up to 4 KiB per line) contains text. */
bool srv_log_contains(const kv_server *srv, const char *text)
{
    FILE *f = fopen(srv->log_path, "r");
    if (!f)
        return false;
    char line[4096];
    bool hit = false;
    while (!hit && fgets(line, sizeof line, f))
        hit = strstr(line, text) != NULL;
    fclose(f);
    return hit;
}

/* True when the log mentions the listen address being taken (retry another port). */
static bool log_says_address_in_use(const kv_server *srv)
{
    return srv_log_contains(srv, "in use") || srv_log_contains(srv, "EADDRINUSE");
}

/* Connects quietly to 127.0.0.1:port; returns the fd or -1. */
static int tcp_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)port);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* True when the server at port answers PING with +PONG within timeout_ms. */
static bool ping_once(int port, int timeout_ms)
{
    int fd = tcp_connect(port);
    if (fd < 0)
        return false;
    static const char ping[] = "*1\r\n$4\r\nPING\r\n";
    bool ok = false;
    if (send(fd, ping, sizeof ping - 1, MSG_NOSIGNAL) == (ssize_t)(sizeof ping - 1)) {
        char buf[64];
        size_t got = 0;
        long long deadline = mono_ms() + timeout_ms;
        while (got < 7 && mono_ms() < deadline) {
            struct pollfd pfd = { fd, POLLIN, 0 };
            if (poll(&pfd, 1, 50) <= 0)
                continue;
            ssize_t n = recv(fd, buf + got, sizeof buf - 1 - got, 0);
            if (n <= 0)
                break;
            got += (size_t)n;
        }
        ok = got >= 7 && memcmp(buf, "+PONG\r\n", 7) == 0;
    }
    close(fd);
    return ok;
}

/* Forks and execs the target; returns the leader pid or -1. */
static pid_t spawn_server(kv_server *srv, const char *const *extra_env)
{
    int logfd = open(srv->log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (logfd < 0) {
        fprintf(stderr, "harness: cannot create %s: %s\n", srv->log_path, strerror(errno));
        return -1;
    }
    int nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    char portbuf[16];
    snprintf(portbuf, sizeof portbuf, "%d", srv->port);
    char **envp = NULL;
    const char *argv_redis[] = { srv->binary, "--port", portbuf, "--bind", "127.0.0.1",
                                 "--save", "", "--appendonly", "no",
                                 "--enable-debug-command", "yes", NULL };
    const char *argv_kvns[] = { srv->binary, NULL };
    const char *const *argv = srv->is_redis ? argv_redis : argv_kvns;
    if (!srv->is_redis)
        envp = build_kvns_env(srv->port, extra_env);

    pid_t parent = getpid();
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        setpgid(0, 0);
        prctl(PR_SET_PDEATHSIG, SIGKILL);   /* dies with the test process */
        if (getppid() != parent)
            _exit(127);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        if (nullfd >= 0)
            dup2(nullfd, STDIN_FILENO);
        dup2(logfd, STDOUT_FILENO);
        dup2(logfd, STDERR_FILENO);
        execvpe(argv[0], (char *const *)argv, envp ? envp : environ);
        dprintf(STDERR_FILENO, "harness: exec %s failed: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    if (pid > 0)
        setpgid(pid, pid);                  /* no window where the child has our group */
    else
        fprintf(stderr, "harness: fork failed: %s\n", strerror(errno));
    close(logfd);
    if (nullfd >= 0)
        close(nullfd);
    free_strv(envp);
    return pid;
}

/* Kills the whole group of an unregistered, failed start and reaps the leader. */
static void discard_failed_start(server_priv *sp)
{
    kill(-sp->pub.pid, SIGKILL);
    if (!sp->reaped)
        waitpid(sp->pub.pid, NULL, 0);
    sp->reaped = true;
}

/* Starts the target and waits for it to answer PING (see harness.h). */
kv_server *srv_start(const char *const *env)
{
    install_cleanup();
    bool redis = srv_target_is_redis();
    const char *target = getenv("KVNS_TEST_TARGET");
    if (target && *target && !redis && strcasecmp(target, "kvns") != 0) {
        fprintf(stderr, "harness: KVNS_TEST_TARGET must be 'kvns' or 'redis', not '%s'\n",
                target);
        return NULL;
    }
    for (int attempt = 1; attempt <= 3; attempt++) {
        server_priv *sp = calloc(1, sizeof *sp);
        if (!sp)
            return NULL;
        kv_server *srv = &sp->pub;
        srv->is_redis = redis;
        if (redis) {
            const char *bin = getenv("REDIS_SERVER_BIN");
            snprintf(srv->binary, sizeof srv->binary, "%s", bin && *bin ? bin : "redis-server");
        } else {
            srv_kvns_binary(srv->binary, sizeof srv->binary);
            if (access(srv->binary, X_OK) != 0) {
                fprintf(stderr, "harness: kvns binary '%s' is not executable (%s); build it, "
                        "set KVNS_BIN, or run with KVNS_TEST_TARGET=redis\n", srv->binary,
                        strerror(errno));
                free(sp);
                return NULL;
            }
        }
        srv->port = srv_free_port();
        if (srv->port <= 0) {
            fprintf(stderr, "harness: cannot find a free port: %s\n", strerror(errno));
            free(sp);
            return NULL;
        }
        snprintf(srv->log_path, sizeof srv->log_path, "/tmp/kvns-it-%s-%d-%u.log",
                 program_invocation_short_name, (int)getpid(), g_log_seq++);
        srv->pid = spawn_server(srv, env);
        if (srv->pid <= 0) {
            free(sp);
            return NULL;
        }
        if (!register_server(srv)) {
            fprintf(stderr, "harness: more than %d servers running\n", MAX_SERVERS);
            discard_failed_start(sp);
            free(sp);
            return NULL;
        }
        long long deadline = mono_ms() + START_TIMEOUT_MS;
        bool ready = false, died = false;
        while (!ready && mono_ms() < deadline) {
            if (check_exited(sp)) {
                died = true;
                break;
            }
            ready = ping_once(srv->port, 1000);
            if (!ready)
                sleep_ms(20);
        }
        if (ready) {
            g_current = srv;
            return srv;
        }
        unregister_server(srv);
        if (died && attempt < 3 && log_says_address_in_use(srv)) {
            discard_failed_start(sp);
            unlink(srv->log_path);
            free(sp);
            continue;                          /* lost the port race: try another one */
        }
        if (died)
            fprintf(stderr, "harness: %s (port %d) exited during start-up with status %d\n",
                    srv->binary, srv->port, sp->exit_code);
        else
            fprintf(stderr, "harness: %s (pid %d, port %d) did not answer PING with PONG "
                    "within %d ms\n", srv->binary, (int)srv->pid, srv->port, START_TIMEOUT_MS);
        discard_failed_start(sp);
        srv_print_log_tail(srv, 30);
        free(sp);
        return NULL;
    }
    return NULL;
}

/* SIGTERM, grace period, SIGKILL of the group, reap (see harness.h). */
int srv_stop(kv_server *srv)
{
    if (!srv)
        return -1;
    server_priv *sp = (server_priv *)srv;
    bool killed = false;
    if (!check_exited(sp)) {
        kill(srv->pid, SIGTERM);
        long long deadline = mono_ms() + STOP_TIMEOUT_MS;
        while (!check_exited(sp) && mono_ms() < deadline)
            sleep_ms(10);
        killed = !sp->exited;
    }
    kill(-srv->pid, SIGKILL);    /* the leader's stragglers, or everything on timeout */
    if (!sp->reaped) {
        int st = 0;
        while (waitpid(srv->pid, &st, 0) == -1 && errno == EINTR) {
        }
        sp->reaped = true;
        if (!sp->exited)
            sp->exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    }
    unregister_server(srv);
    int result = killed ? -1 : sp->exit_code;
    bool keep = g_harness_failures > 0 || result != 0 || getenv("KVNS_TEST_KEEP_LOGS");
    if (killed)
        fprintf(stderr, "harness: server pid %d ignored SIGTERM for %d ms and was killed\n",
                (int)srv->pid, STOP_TIMEOUT_MS);
    if (keep)
        fprintf(stderr, "harness: server log kept at %s\n", srv->log_path);
    else
        unlink(srv->log_path);
    free(sp);
    return result;
}

/* ======================================================================= RESP client */

struct kv_conn {
    int    fd;
    char  *buf;          /* received, not yet consumed bytes: buf[start..end) */
    size_t start, end, cap;
    bool   closed;
    bool   timed_out;
    char   err[160];
};

/* Records an error message on the connection. */
static void set_err(kv_conn *c, const char *what, int errnum)
{
    if (errnum)
        snprintf(c->err, sizeof c->err, "%s: %s", what, strerror(errnum));
    else
        snprintf(c->err, sizeof c->err, "%s", what);
}

/* Sets SO_RCVTIMEO (and SO_SNDTIMEO when both is true) in milliseconds. */
static void set_sock_timeouts(int fd, int timeout_ms, bool both)
{
    struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (both)
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

/* Opens a client connection (see harness.h). */
kv_conn *conn_open(int port)
{
    int fd = tcp_connect(port);
    if (fd < 0) {
        fprintf(stderr, "harness: connect to 127.0.0.1:%d failed: %s\n", port, strerror(errno));
        return NULL;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    set_sock_timeouts(fd, IO_TIMEOUT_MS, true);
    kv_conn *c = calloc(1, sizeof *c);
    if (!c) {
        close(fd);
        return NULL;
    }
    c->fd = fd;
    c->cap = READ_CHUNK;
    c->buf = xmalloc(c->cap);
    return c;
}

void conn_close(kv_conn *c)
{
    if (!c)
        return;
    close(c->fd);
    free(c->buf);
    free(c);
}

void conn_set_timeout(kv_conn *c, int timeout_ms)
{
    set_sock_timeouts(c->fd, timeout_ms > 0 ? timeout_ms : 1, false);
}

int conn_fd(const kv_conn *c) { return c->fd; }
bool conn_is_closed(const kv_conn *c) { return c->closed; }
bool conn_timed_out(const kv_conn *c) { return c->timed_out; }
const char *conn_error(const kv_conn *c) { return c->err; }

/* Writes all bytes (see harness.h). */
int conn_send_raw(kv_conn *c, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EPIPE || errno == ECONNRESET)
                c->closed = true;
            set_err(c, "send", errno);
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Encodes a command as a RESP multibulk and sends it. */
int conn_send_cmdv(kv_conn *c, int argc, const char *const *argv, const size_t *lens)
{
    size_t total = 32;
    for (int i = 0; i < argc; i++)
        total += 32 + (lens ? lens[i] : strlen(argv[i]));
    char *out = xmalloc(total);
    size_t pos = (size_t)snprintf(out, total, "*%d\r\n", argc);
    for (int i = 0; i < argc; i++) {
        size_t n = lens ? lens[i] : strlen(argv[i]);
        pos += (size_t)snprintf(out + pos, total - pos, "$%zu\r\n", n);
        memcpy(out + pos, argv[i], n);
        pos += n;
        memcpy(out + pos, "\r\n", 2);
        pos += 2;
    }
    int rc = conn_send_raw(c, out, pos);
    free(out);
    return rc;
}

/* Collects NULL-terminated C-string arguments into a malloc'ed vector. */
static const char **collect_args(const char *arg0, va_list ap, int *argc)
{
    size_t cap = 8, n = 0;
    const char **argv = xmalloc(cap * sizeof *argv);
    for (const char *a = arg0; a; a = va_arg(ap, const char *)) {
        if (n == cap) {
            cap *= 2;
            argv = xrealloc(argv, cap * sizeof *argv);
        }
        argv[n++] = a;
    }
    *argc = (int)n;
    return argv;
}

int conn_send_cmd(kv_conn *c, const char *arg0, ...)
{
    va_list ap;
    va_start(ap, arg0);
    int argc;
    const char **argv = collect_args(arg0, ap, &argc);
    va_end(ap);
    int rc = conn_send_cmdv(c, argc, argv, NULL);
    free(argv);
    return rc;
}

kv_reply *conn_cmdv(kv_conn *c, int argc, const char *const *argv, const size_t *lens)
{
    if (conn_send_cmdv(c, argc, argv, lens) != 0)
        return NULL;
    return conn_read_reply(c);
}

kv_reply *conn_cmd_va(kv_conn *c, const char *arg0, va_list ap)
{
    int argc;
    const char **argv = collect_args(arg0, ap, &argc);
    kv_reply *r = conn_cmdv(c, argc, argv, NULL);
    free(argv);
    return r;
}

kv_reply *conn_cmd(kv_conn *c, const char *arg0, ...)
{
    va_list ap;
    va_start(ap, arg0);
    kv_reply *r = conn_cmd_va(c, arg0, ap);
    va_end(ap);
    return r;
}

/* Receives more bytes into the buffer. Returns >0, 0 on EOF, -1 on error/timeout. */
static ssize_t fill_buffer(kv_conn *c)
{
    if (c->start > 0 && (c->start == c->end || c->start > c->cap / 2)) {
        memmove(c->buf, c->buf + c->start, c->end - c->start);
        c->end -= c->start;
        c->start = 0;
    }
    if (c->cap - c->end < READ_CHUNK / 2) {
        c->cap *= 2;
        c->buf = xrealloc(c->buf, c->cap);
    }
    for (;;) {
        ssize_t n = recv(c->fd, c->buf + c->end, c->cap - c->end, 0);
        if (n > 0) {
            c->end += (size_t)n;
            return n;
        }
        if (n == 0) {
            c->closed = true;
            set_err(c, "connection closed by the server", 0);
            return 0;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            c->timed_out = true;
            set_err(c, "timed out waiting for the server", 0);
        } else {
            if (errno == ECONNRESET)
                c->closed = true;
            set_err(c, "recv", errno);
        }
        return -1;
    }
}

/* Finds the CRLF-terminated line at p[0..n); returns its length without CRLF or -1. */
static ssize_t line_len(const char *p, size_t n)
{
    for (size_t i = 0; i + 1 < n; i++) {
        if (p[i] == '\r' && p[i + 1] == '\n')
            return (ssize_t)i;
    }
    return -1;
}

/* Parses a signed decimal integer line strictly. */
static bool parse_int_line(const char *p, size_t n, long long *out)
{
    if (n == 0 || n > 20)
        return false;
    char tmp[24];
    memcpy(tmp, p, n);
    tmp[n] = '\0';
    char *end;
    errno = 0;
    long long v = strtoll(tmp, &end, 10);
    if (errno || *end)
        return false;
    *out = v;
    return true;
}

/* Allocates an empty reply of type t. */
static kv_reply *new_reply(kv_reply_type t, char prefix)
{
    kv_reply *r = calloc(1, sizeof *r);
    if (!r)
        abort();
    r->type = t;
    r->prefix = prefix;
    return r;
}

/* Copies n bytes into r->str with a terminating NUL. */
static void set_str(kv_reply *r, const char *p, size_t n)
{
    r->str = xmalloc(n + 1);
    memcpy(r->str, p, n);
    r->str[n] = '\0';
    r->len = n;
}

/* Parses one reply from p[0..n). Returns 1 with *out and *used set, 0 when more bytes
 * are needed, -1 on a malformed reply (message in c->err). */
static int parse_reply(kv_conn *c, const char *p, size_t n, size_t *used, kv_reply **out,
                       int depth)
{
    if (depth > MAX_REPLY_DEPTH) {
        set_err(c, "reply nested too deeply", 0);
        return -1;
    }
    if (n < 1)
        return 0;
    ssize_t ll = line_len(p, n);
    if (ll < 0)
        return 0;
    char t = p[0];
    const char *line = p + 1;
    size_t linelen = (size_t)ll - 1;
    size_t pos = (size_t)ll + 2;
    long long num = 0;
    kv_reply *r = NULL;

    switch (t) {
    case '+': case '-': case '(':
        r = new_reply(t == '+' ? KV_REPLY_STATUS : t == '-' ? KV_REPLY_ERROR : KV_REPLY_BIGNUM, t);
        set_str(r, line, linelen);
        break;
    case ':':
        if (!parse_int_line(line, linelen, &num))
            goto bad;
        r = new_reply(KV_REPLY_INTEGER, t);
        r->integer = num;
        break;
    case '_':
        if (linelen != 0)
            goto bad;
        r = new_reply(KV_REPLY_NIL, t);
        break;
    case '#':
        if (linelen != 1 || (line[0] != 't' && line[0] != 'f'))
            goto bad;
        r = new_reply(KV_REPLY_BOOL, t);
        r->integer = line[0] == 't';
        break;
    case ',': {
        r = new_reply(KV_REPLY_DOUBLE, t);
        set_str(r, line, linelen);
        if (strcmp(r->str, "inf") == 0)
            r->dval = INFINITY;
        else if (strcmp(r->str, "-inf") == 0)
            r->dval = -INFINITY;
        else if (strcmp(r->str, "nan") == 0 || strcmp(r->str, "-nan") == 0)
            r->dval = NAN;
        else {
            char *end;
            r->dval = strtod(r->str, &end);
            if (*end || linelen == 0) {
                kv_reply_free(r);
                goto bad;
            }
        }
        break;
    }
    case '$': case '=': case '!': {
        if (!parse_int_line(line, linelen, &num) || num < -1)
            goto bad;
        if (num == -1) {
            if (t != '$')
                goto bad;
            r = new_reply(KV_REPLY_NIL, t);
            break;
        }
        if (n - pos < (size_t)num + 2)
            return 0;
        if (p[pos + (size_t)num] != '\r' || p[pos + (size_t)num + 1] != '\n')
            goto bad;
        if (t == '=') {
            if (num < 4 || p[pos + 3] != ':')
                goto bad;
            r = new_reply(KV_REPLY_VERBATIM, t);
            memcpy(r->vformat, p + pos, 3);
            set_str(r, p + pos + 4, (size_t)num - 4);
        } else {
            r = new_reply(t == '$' ? KV_REPLY_BULK : KV_REPLY_ERROR, t);
            set_str(r, p + pos, (size_t)num);
        }
        pos += (size_t)num + 2;
        break;
    }
    case '*': case '%': case '~': case '>': case '|': {
        if (!parse_int_line(line, linelen, &num) || num < -1)
            goto bad;
        if (num == -1) {
            if (t != '*')
                goto bad;
            r = new_reply(KV_REPLY_NIL, t);
            break;
        }
        size_t count = (size_t)num * ((t == '%' || t == '|') ? 2 : 1);
        if (count > n)          /* every element needs at least one byte: not there yet */
            return 0;
        r = new_reply(t == '*' ? KV_REPLY_ARRAY : t == '%' || t == '|' ? KV_REPLY_MAP :
                      t == '~' ? KV_REPLY_SET : KV_REPLY_PUSH, t);
        r->elements = calloc(count ? count : 1, sizeof *r->elements);
        if (!r->elements)
            abort();
        for (size_t i = 0; i < count; i++) {
            size_t u = 0;
            int rc = parse_reply(c, p + pos, n - pos, &u, &r->elements[i], depth + 1);
            if (rc <= 0) {
                kv_reply_free(r);
                return rc;
            }
            r->count++;
            pos += u;
        }
        if (t == '|') {         /* attribute: skip it, the reply follows */
            kv_reply_free(r);
            size_t u = 0;
            int rc = parse_reply(c, p + pos, n - pos, &u, out, depth + 1);
            if (rc == 1)
                *used = pos + u;
            return rc;
        }
        break;
    }
    default:
        goto bad;
    }
    *out = r;
    *used = pos;
    return 1;

bad:
    snprintf(c->err, sizeof c->err, "malformed reply starting with '%.40s'", p);
    for (char *q = c->err; *q; q++)
        if (*q == '\r' || *q == '\n')
            *q = ' ';
    return -1;
}

/* Reads one reply (see harness.h). */
kv_reply *conn_read_reply(kv_conn *c)
{
    c->timed_out = false;
    for (;;) {
        if (c->end > c->start) {
            kv_reply *r = NULL;
            size_t used = 0;
            int rc = parse_reply(c, c->buf + c->start, c->end - c->start, &used, &r, 0);
            if (rc == 1) {
                c->start += used;
                return r;
            }
            if (rc < 0)
                return NULL;
        }
        if (c->closed || fill_buffer(c) <= 0)
            return NULL;
    }
}

/* Reads exactly len bytes unless closed or timed out (see harness.h). */
size_t conn_read_raw(kv_conn *c, void *buf, size_t len)
{
    c->timed_out = false;
    size_t got = 0;
    while (got < len) {
        if (c->end > c->start) {
            size_t take = c->end - c->start;
            if (take > len - got)
                take = len - got;
            memcpy((char *)buf + got, c->buf + c->start, take);
            c->start += take;
            got += take;
            continue;
        }
        if (c->closed || fill_buffer(c) <= 0)
            break;
    }
    return got;
}

/* Waits for the server to close the connection, discarding data (see harness.h). */
bool conn_wait_closed(kv_conn *c, int timeout_ms)
{
    long long deadline = mono_ms() + timeout_ms;
    c->start = c->end = 0;
    while (!c->closed) {
        long long left = deadline - mono_ms();
        if (left <= 0)
            return false;
        struct pollfd pfd = { c->fd, POLLIN, 0 };
        int pr = poll(&pfd, 1, (int)left);
        if (pr < 0 && errno != EINTR)
            return false;
        if (pr <= 0)
            continue;
        char tmp[4096];
        ssize_t n = recv(c->fd, tmp, sizeof tmp, MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno == ECONNRESET))
            c->closed = true;
    }
    return true;
}

/* True when the connection stays open and silent for timeout_ms (see harness.h). */
bool conn_no_data_within(kv_conn *c, int timeout_ms)
{
    if (c->end > c->start || c->closed)
        return false;
    struct pollfd pfd = { c->fd, POLLIN, 0 };
    int pr;
    while ((pr = poll(&pfd, 1, timeout_ms)) < 0 && errno == EINTR) {
    }
    if (pr == 0)
        return true;
    char b;
    ssize_t n = recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno == ECONNRESET))
        c->closed = true;
    return false;
}

/* ============================================================================ replies */

void kv_reply_free(kv_reply *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->count; i++)
        kv_reply_free(r->elements[i]);
    free(r->elements);
    free(r->str);
    free(r);
}

const char *kv_reply_type_name(kv_reply_type t)
{
    static const char *const names[] = { "STATUS", "ERROR", "INTEGER", "BULK", "NIL", "ARRAY",
                                         "MAP", "SET", "DOUBLE", "BOOL", "VERBATIM", "PUSH",
                                         "BIGNUM" };
    return (unsigned)t < sizeof names / sizeof names[0] ? names[t] : "?";
}

/* Appends printf output to buf at *pos, never overflowing cap. */
static void appendf(char *buf, size_t cap, size_t *pos, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void appendf(char *buf, size_t cap, size_t *pos, const char *fmt, ...)
{
    if (*pos + 1 >= cap)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + *pos, cap - *pos, fmt, ap);
    va_end(ap);
    if (n > 0)
        *pos = *pos + (size_t)n < cap ? *pos + (size_t)n : cap - 1;
}

/* Appends a quoted, escaped, possibly shortened copy of s[0..n). */
static void append_quoted(char *buf, size_t cap, size_t *pos, const char *s, size_t n)
{
    size_t show = n > 200 ? 200 : n;
    appendf(buf, cap, pos, "\"");
    for (size_t i = 0; i < show; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '"' || ch == '\\')
            appendf(buf, cap, pos, "\\%c", ch);
        else if (ch == '\n')
            appendf(buf, cap, pos, "\\n");
        else if (ch == '\r')
            appendf(buf, cap, pos, "\\r");
        else if (isprint(ch))
            appendf(buf, cap, pos, "%c", ch);
        else
            appendf(buf, cap, pos, "\\x%02x", ch);
    }
    appendf(buf, cap, pos, "\"");
    if (show < n)
        appendf(buf, cap, pos, "...(%zu bytes)", n);
}

/* Recursive part of kv_reply_describe. */
static void describe_into(const kv_reply *r, char *buf, size_t cap, size_t *pos)
{
    if (!r) {
        appendf(buf, cap, pos, "(no reply)");
        return;
    }
    appendf(buf, cap, pos, "%s", kv_reply_type_name(r->type));
    switch (r->type) {
    case KV_REPLY_STATUS: case KV_REPLY_ERROR: case KV_REPLY_BULK: case KV_REPLY_DOUBLE:
    case KV_REPLY_BIGNUM: case KV_REPLY_VERBATIM:
        appendf(buf, cap, pos, " ");
        append_quoted(buf, cap, pos, r->str, r->len);
        break;
    case KV_REPLY_INTEGER:
        appendf(buf, cap, pos, " %lld", r->integer);
        break;
    case KV_REPLY_BOOL:
        appendf(buf, cap, pos, " %s", r->integer ? "true" : "false");
        break;
    case KV_REPLY_NIL:
        appendf(buf, cap, pos, " ('%c')", r->prefix);
        break;
    case KV_REPLY_ARRAY: case KV_REPLY_MAP: case KV_REPLY_SET: case KV_REPLY_PUSH:
        appendf(buf, cap, pos, "[%zu] {", r->count);
        for (size_t i = 0; i < r->count && *pos + 16 < cap; i++) {
            appendf(buf, cap, pos, i ? ", " : " ");
            describe_into(r->elements[i], buf, cap, pos);
        }
        appendf(buf, cap, pos, " }");
        break;
    }
}

char *kv_reply_describe(const kv_reply *r, char *buf, size_t cap)
{
    size_t pos = 0;
    if (cap == 0)
        return buf;
    buf[0] = '\0';
    describe_into(r, buf, cap, &pos);
    if (pos + 1 >= cap && cap > 4)
        memcpy(buf + cap - 4, "...", 4);
    return buf;
}

/* True for reply types that carry a string. */
static bool is_stringish(const kv_reply *r)
{
    return r && (r->type == KV_REPLY_BULK || r->type == KV_REPLY_STATUS ||
                 r->type == KV_REPLY_VERBATIM);
}

bool kv_reply_is_str(const kv_reply *r, const char *s)
{
    return is_stringish(r) && r->len == strlen(s) && memcmp(r->str, s, r->len) == 0;
}

long kv_reply_find_str(const kv_reply *r, const char *s)
{
    if (!r || !(r->type == KV_REPLY_ARRAY || r->type == KV_REPLY_SET ||
                r->type == KV_REPLY_PUSH || r->type == KV_REPLY_MAP))
        return -1;
    for (size_t i = 0; i < r->count; i++) {
        if (kv_reply_is_str(r->elements[i], s))
            return (long)i;
    }
    return -1;
}

const kv_reply *kv_reply_map_get(const kv_reply *r, const char *key)
{
    if (!r || !(r->type == KV_REPLY_MAP || r->type == KV_REPLY_ARRAY))
        return NULL;
    for (size_t i = 0; i + 1 < r->count; i += 2) {
        if (kv_reply_is_str(r->elements[i], key))
            return r->elements[i + 1];
    }
    return NULL;
}

/* ========================================================================= assertions */

/* Prints the failure, the server's state, and fails the running cmocka test. */
static void fail_test(const char *file, int line, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0), noreturn));
static void fail_test(const char *file, int line, const char *fmt, va_list ap)
{
    char msg[4096];
    vsnprintf(msg, sizeof msg, fmt, ap);
    g_harness_failures++;
    print_error("%s:%d: %s\n", file, line, msg);
    kv_server *srv = g_current;
    if (srv && !srv_alive(srv)) {
        print_error("server pid %d is no longer running (status %d)\n", (int)srv->pid,
                    ((server_priv *)srv)->exit_code);
        srv_print_log_tail(srv, 30);
    }
    _fail(file, line);
    abort();                    /* _fail does not return inside a test */
}

void kvt_fail_msg(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fail_test(file, line, fmt, ap);
}

/* fail_test with varargs. */
static void failf(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4), noreturn));
static void failf(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fail_test(file, line, fmt, ap);
}

/* Fails with "expected <what>, got <reply>". */
static void fail_expected(const char *file, int line, const kv_reply *r, const char *what,
                          const char *detail) __attribute__((noreturn));
static void fail_expected(const char *file, int line, const kv_reply *r, const char *what,
                          const char *detail)
{
    char got[2048];
    kv_reply_describe(r, got, sizeof got);
    failf(file, line, "expected %s%s, got %s", what, detail ? detail : "", got);
}

/* Quotes s for a failure message. */
static const char *quoted(const char *s, size_t n, char *buf, size_t cap)
{
    size_t pos = 0;
    buf[0] = '\0';
    append_quoted(buf, cap, &pos, s, n);
    return buf;
}

void kvt_assert_status(const char *file, int line, const kv_reply *r, const char *status)
{
    char q[512];
    if (!r || r->type != KV_REPLY_STATUS || r->len != strlen(status) ||
        memcmp(r->str, status, r->len) != 0)
        fail_expected(file, line, r, "STATUS ", quoted(status, strlen(status), q, sizeof q));
}

void kvt_assert_error(const char *file, int line, const kv_reply *r, const char *text)
{
    char q[512];
    if (!r || r->type != KV_REPLY_ERROR || r->len != strlen(text) ||
        memcmp(r->str, text, r->len) != 0)
        fail_expected(file, line, r, "ERROR ", quoted(text, strlen(text), q, sizeof q));
}

void kvt_assert_error_prefix(const char *file, int line, const kv_reply *r, const char *prefix)
{
    char q[512];
    size_t n = strlen(prefix);
    if (!r || r->type != KV_REPLY_ERROR || r->len < n || memcmp(r->str, prefix, n) != 0)
        fail_expected(file, line, r, "ERROR starting with ", quoted(prefix, n, q, sizeof q));
}

void kvt_assert_int(const char *file, int line, const kv_reply *r, long long value)
{
    char d[64];
    snprintf(d, sizeof d, "%lld", value);
    if (!r || r->type != KV_REPLY_INTEGER || r->integer != value)
        fail_expected(file, line, r, "INTEGER ", d);
}

void kvt_assert_int_range(const char *file, int line, const kv_reply *r, long long lo,
                          long long hi)
{
    char d[96];
    snprintf(d, sizeof d, "in [%lld, %lld]", lo, hi);
    if (!r || r->type != KV_REPLY_INTEGER || r->integer < lo || r->integer > hi)
        fail_expected(file, line, r, "INTEGER ", d);
}

void kvt_assert_bulk(const char *file, int line, const kv_reply *r, const void *s, size_t n)
{
    char q[512];
    if (n == (size_t)-1)
        n = strlen(s);
    if (!r || r->type != KV_REPLY_BULK || r->len != n || memcmp(r->str, s, n) != 0)
        fail_expected(file, line, r, "BULK ", quoted(s, n, q, sizeof q));
}

void kvt_assert_bulk_contains(const char *file, int line, const kv_reply *r, const char *s)
{
    char q[512];
    if (!r || (r->type != KV_REPLY_BULK && r->type != KV_REPLY_VERBATIM) ||
        !memmem(r->str, r->len, s, strlen(s)))
        fail_expected(file, line, r, "a BULK containing ", quoted(s, strlen(s), q, sizeof q));
}

void kvt_assert_nil(const char *file, int line, const kv_reply *r)
{
    if (!r || r->type != KV_REPLY_NIL)
        fail_expected(file, line, r, "NIL", NULL);
}

void kvt_assert_array_len(const char *file, int line, const kv_reply *r, size_t n)
{
    char d[64];
    snprintf(d, sizeof d, " of %zu elements", n);
    if (!r || !(r->type == KV_REPLY_ARRAY || r->type == KV_REPLY_SET ||
                r->type == KV_REPLY_PUSH) || r->count != n)
        fail_expected(file, line, r, "ARRAY", d);
}

void kvt_assert_reply_type(const char *file, int line, const kv_reply *r, kv_reply_type t)
{
    if (!r || r->type != t)
        fail_expected(file, line, r, kv_reply_type_name(t), " reply");
}

/* Runs the NULL-terminated command of an expect_* call; fails when there is no reply. */
static kv_reply *run_va(const char *file, int line, kv_conn *c, va_list ap)
{
    const char *arg0 = va_arg(ap, const char *);
    kv_reply *r = conn_cmd_va(c, arg0, ap);
    if (!r)
        failf(file, line, "no reply to %s: %s", arg0, conn_error(c));
    return r;
}

/* Generates an expect_* function that runs a command and applies one assertion. */
#define DEFINE_EXPECT(name, T, assert_call)                                          \
    void kvt_expect_##name(const char *file, int line, kv_conn *c, T want, ...)     \
    {                                                                                \
        va_list ap;                                                                  \
        va_start(ap, want);                                                          \
        kv_reply *r = run_va(file, line, c, ap);                                     \
        va_end(ap);                                                                  \
        assert_call;                                                                 \
        kv_reply_free(r);                                                            \
    }

DEFINE_EXPECT(status, const char *, kvt_assert_status(file, line, r, want))
DEFINE_EXPECT(error, const char *, kvt_assert_error(file, line, r, want))
DEFINE_EXPECT(error_prefix, const char *, kvt_assert_error_prefix(file, line, r, want))
DEFINE_EXPECT(int, long long, kvt_assert_int(file, line, r, want))
DEFINE_EXPECT(bulk, const char *, kvt_assert_bulk(file, line, r, want, (size_t)-1))
DEFINE_EXPECT(array_len, size_t, kvt_assert_array_len(file, line, r, want))

void kvt_expect_int_range(const char *file, int line, kv_conn *c, long long lo, long long hi,
                          ...)
{
    va_list ap;
    va_start(ap, hi);
    kv_reply *r = run_va(file, line, c, ap);
    va_end(ap);
    kvt_assert_int_range(file, line, r, lo, hi);
    kv_reply_free(r);
}

void kvt_expect_nil(const char *file, int line, kv_conn *c, ...)
{
    va_list ap;
    va_start(ap, c);
    kv_reply *r = run_va(file, line, c, ap);
    va_end(ap);
    kvt_assert_nil(file, line, r);
    kv_reply_free(r);
}

/* ===================================================================== cmocka fixtures */

static kv_server *g_group_server;

int it_group_setup(void **state)
{
    g_group_server = srv_start(NULL);
    return g_group_server ? 0 : -1;
}

int it_group_teardown(void **state)
{
    if (!g_group_server)
        return 0;
    bool was_alive = srv_alive(g_group_server);
    int pid = (int)g_group_server->pid;
    if (!was_alive)
        srv_print_log_tail(g_group_server, 30);
    int rc = srv_stop(g_group_server);
    g_group_server = NULL;
    if (!was_alive) {
        fprintf(stderr, "harness: server pid %d died during the tests (status %d)\n", pid, rc);
        return -1;
    }
    if (rc != 0 && rc != 128 + SIGTERM) {
        fprintf(stderr, "harness: server pid %d exited with status %d after SIGTERM\n", pid, rc);
        return -1;
    }
    return 0;
}

int it_test_setup(void **state)
{
    if (!g_group_server)
        return -1;
    kv_conn *c = conn_open(g_group_server->port);
    if (!c)
        return -1;
    kv_reply *r = conn_cmd(c, "FLUSHALL", NULL);
    bool ok = r && r->type == KV_REPLY_STATUS && strcmp(r->str, "OK") == 0;
    if (!ok) {
        char got[512];
        fprintf(stderr, "harness: FLUSHALL before the test failed: %s %s\n",
                kv_reply_describe(r, got, sizeof got), conn_error(c));
        kv_reply_free(r);
        conn_close(c);
        return -1;
    }
    kv_reply_free(r);
    *state = c;
    return 0;
}

/* After every integration test against kvns: DEBUG CHECK on a fresh connection, so
 * that a command which damages the arena fails the test that ran it, whatever that
 * test asserted. A server that is gone or refuses the connection is left to the test
 * (some stop or fill it on purpose). Returns -1 (the test fails) on a failed check. */
static int arena_check_after_test(void)
{
    if (!g_group_server || g_group_server->is_redis || !srv_alive(g_group_server))
        return 0;
    kv_conn *c = conn_open(g_group_server->port);
    if (!c)
        return 0;
    kv_reply *r = conn_cmd(c, "DEBUG", "CHECK", NULL);
    int rc = 0;
    if (r && r->type == KV_REPLY_ERROR && strncmp(r->str, "ERR arena check failed", 22) == 0) {
        fprintf(stderr, "harness: DEBUG CHECK after the test: %s\n", r->str);
        rc = -1;
    }
    kv_reply_free(r);
    conn_close(c);
    return rc;
}

int it_test_teardown(void **state)
{
    conn_close(*state);
    *state = NULL;
    return arena_check_after_test();
}

int it_port(void)
{
    return g_group_server ? g_group_server->port : -1;
}

kv_conn *it_connect(void)
{
    kv_conn *c = g_group_server ? conn_open(g_group_server->port) : NULL;
    if (!c)
        it_fail("cannot connect to the test server on port %d", it_port());
    return c;
}
