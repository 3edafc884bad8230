/* supervisor.c - the process that owns the arena and the listening socket, forks the
 * housekeeper and the workers, and respawns them. It never touches a key: after a
 * child dies it forks a short-lived sweep helper that recovers the dead child's lanes
 * (undo or keep its last transaction, per lock), and only then a replacement. */
#include "kvns/worker.h"
#include "kvns/clock.h"
#include "kvns/command.h"
#include "kvns/evict.h"
#include "kvns/clients.h"
#include "kvns/log.h"
#include "kvns/persist.h"

#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define QUICK_DEATH_MS   250
#define STOP_TIMEOUT_MS  10000
#define UNDO_BYTES       (16u << 20)

typedef struct child_slot {
    pid_t    pid;            /* the running child, or 0 */
    pid_t    sweeper;        /* sweep helper for a dead child, or 0 */
    int64_t  started_ms;
    int64_t  respawn_at_ms;  /* > 0: waiting to respawn */
    unsigned quick_deaths;
    bool     check_after_sweep; /* died of a signal that may have scribbled */
} child_slot;

static child_slot *slots;     /* workers, then the housekeeper */
static uint32_t nslots;
static int listen_fd = -1;
/* metrics: the /metrics listener, handed to the housekeeper (defined in housekeeper.c) */
extern int housekeeper_metrics_fd;
static const kvns_config *sup_cfg;

/* Sends one sd_notify datagram when NOTIFY_SOCKET is set (systemd Type=notify). */
static void sd_notify_send(const char *msg)
{
    const char *path = getenv("NOTIFY_SOCKET");
    if (!path || !*path)
        return;
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    size_t len = strlen(path);
    if (len >= sizeof sa.sun_path)
        return;
    memcpy(sa.sun_path, path, len);
    if (sa.sun_path[0] == '@')
        sa.sun_path[0] = 0;           /* abstract socket */
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return;
    sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&sa,
           (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len));
    close(fd);
}

/* Opens the RESP listening socket on host:port. Returns the fd or -1. */
static int open_listener(const char *host, int port)
{
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE };
    struct addrinfo *res = NULL;
    char portstr[16];
    snprintf(portstr, sizeof portstr, "%d", port);
    int rc = getaddrinfo(host, portstr, &hints, &res);
    if (rc != 0) {
        log_error("cannot resolve listen address", "host=%s err=\"%s\"", host, gai_strerror(rc));
        return -1;
    }
    int fd = -1;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
            continue;
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 511) == 0)
            break;
        log_error("cannot listen", "host=%s port=%d err=\"%s\"", host, port, strerror(errno));
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    return fd;
}

static const char *slot_role(uint32_t i) { return i + 1 == nslots ? "housekeeper" : "worker"; }

/* Forks the child of slot i (a worker or the housekeeper). */
static void spawn_slot(uint32_t i)
{
    pid_t pid = fork();
    if (pid < 0) {
        log_error("fork failed", "err=\"%s\"", strerror(errno));
        slots[i].respawn_at_ms = clock_mono_ms() + 1000;
        return;
    }
    if (pid == 0) {
        int rc = i + 1 == nslots ? housekeeper_main(sup_cfg) : worker_main(sup_cfg, i, listen_fd);
        _exit(rc);
    }
    slots[i].pid = pid;
    slots[i].started_ms = clock_mono_ms();
    slots[i].respawn_at_ms = 0;
    log_info("child started", "role=%s slot=%u child_pid=%d", slot_role(i), i, (int)pid);
}

/* Forks the sweep helper that recovers the lanes of dead slot i. */
static void spawn_sweeper(uint32_t i)
{
    bool check = slots[i].check_after_sweep;
    pid_t pid = fork();
    if (pid == 0) {
        log_set_role("sweeper");
        uint32_t first, count;
        if (i + 1 == nslots) {
            first = lane_of_housekeeper(sup_cfg);
            count = 1;
        } else {
            first = lane_of_worker(sup_cfg, i, 0);
            count = sup_cfg->threads;
        }
        for (uint32_t l = first; l < first + count; l++) {
            lane_sweep(l);
            clients_release_lane(l);           /* its connections died with it */
            arena_lane(l)->stat[STAT_CONNECTED] = 0;
        }
        if (check) {
            kv_txn *t = calloc(1, sizeof *t);
            char err[256];
            txn_init(t, arena_hdr()->lane_count - 1);
            if (store_check(t, err, sizeof err) != 0) {
                log_error("arena check failed after crash", "slot=%u err=\"%s\"", i, err);
                _exit(EXIT_ARENA_BROKEN);
            }
            log_info("arena check passed after crash", "slot=%u", i);
        }
        _exit(EXIT_OK);
    }
    if (pid < 0) {
        log_error("fork of sweeper failed", "err=\"%s\"", strerror(errno));
        slots[i].respawn_at_ms = clock_mono_ms() + 1000;
        return;
    }
    slots[i].sweeper = pid;
}

/* Back-off for slot i after a death: immediate for the first few quick deaths in a
 * row, then doubling from 100 ms to 5 s (a crash loop must not spin the machine). */
static int64_t respawn_delay(child_slot *s)
{
    if (clock_mono_ms() - s->started_ms >= QUICK_DEATH_MS) {
        s->quick_deaths = 0;
        return 0;
    }
    s->quick_deaths++;
    if (s->quick_deaths <= 3)
        return 0;
    int64_t d = 100LL << (s->quick_deaths - 4 < 6 ? s->quick_deaths - 4 : 6);
    return d > 5000 ? 5000 : d;
}

static volatile sig_atomic_t got_sigchld, got_stop;
static void on_signal(int sig)
{
    if (sig == SIGCHLD)
        got_sigchld = 1;
    else
        got_stop = 1;
}

/* Clears the slot entry (child or sweeper) of a reaped pid. */
static void forget_pid(pid_t pid)
{
    for (uint32_t i = 0; i < nslots; i++) {
        if (slots[i].pid == pid)
            slots[i].pid = 0;
        if (slots[i].sweeper == pid)
            slots[i].sweeper = 0;
    }
}

/* True while a child that stop_slots waits for is alive: any sweeper, any worker, and
 * the housekeeper unless keep_housekeeper. */
static bool slots_running(bool keep_housekeeper)
{
    for (uint32_t i = 0; i < nslots; i++) {
        if (slots[i].sweeper || (slots[i].pid && !(keep_housekeeper && i + 1 == nslots)))
            return true;
    }
    return false;
}

/* SIGTERM to every worker and sweeper, and to the housekeeper unless keep_housekeeper;
 * waits until they are gone (SIGKILL after STOP_TIMEOUT_MS). */
static void stop_slots(bool keep_housekeeper)
{
    for (uint32_t i = 0; i < nslots; i++) {
        if (slots[i].pid && !(keep_housekeeper && i + 1 == nslots))
            kill(slots[i].pid, SIGTERM);
        if (slots[i].sweeper)
            kill(slots[i].sweeper, SIGTERM);
    }
    int64_t deadline = clock_mono_ms() + STOP_TIMEOUT_MS;
    while (slots_running(keep_housekeeper)) {
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid < 0 && errno == ECHILD)
            break;
        if (pid > 0) {
            forget_pid(pid);
            continue;
        }
        if (clock_mono_ms() > deadline) {
            for (uint32_t i = 0; i < nslots; i++) {
                if (slots[i].pid && !(keep_housekeeper && i + 1 == nslots))
                    kill(slots[i].pid, SIGKILL);
                if (slots[i].sweeper)
                    kill(slots[i].sweeper, SIGKILL);
            }
            deadline = clock_mono_ms() + 1000000;
        }
        struct timespec ts = { 0, 10000000 };
        nanosleep(&ts, NULL);
    }
}

/* ---- persist: the final snapshot at shutdown ------------------------------------------ */
#define FINAL_SNAPSHOT_TIMEOUT_MS (10 * 60 * 1000)

/* With every worker gone, has the housekeeper write the final snapshot (SIGTERM makes
 * it write one and exit; a fresh one is forked when none runs) and waits for it.
 * Returns EXIT_OK, or EXIT_FAILURE_GENERIC when the snapshot was not written. */
static int final_snapshot(void)
{
    uint32_t hk = nslots - 1;
    if (!slots[hk].pid)
        spawn_slot(hk);
    pid_t pid = slots[hk].pid;
    if (!pid) {
        log_error("final snapshot not written: cannot start the housekeeper", NULL);
        return EXIT_FAILURE_GENERIC;
    }
    log_info("workers stopped; waiting for the final snapshot", "child_pid=%d", (int)pid);
    kill(pid, SIGTERM);
    int64_t deadline = clock_mono_ms() + FINAL_SNAPSHOT_TIMEOUT_MS;
    int status = 0;
    for (;;) {
        pid_t got = waitpid(pid, &status, WNOHANG);
        if (got == pid || (got < 0 && errno != EINTR))
            break;
        if (clock_mono_ms() > deadline) {
            log_error("final snapshot timed out: killing the housekeeper", "timeout_ms=%d", FINAL_SNAPSHOT_TIMEOUT_MS);
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            slots[hk].pid = 0;
            return EXIT_FAILURE_GENERIC;
        }
        struct timespec ts = { 0, 10000000 };
        nanosleep(&ts, NULL);
    }
    slots[hk].pid = 0;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return EXIT_OK;
    log_error("final snapshot failed (see the housekeeper's log line); the previous snapshot is kept",
              "status=%d", status);
    return EXIT_FAILURE_GENERIC;
}
/* ---- end persist -------------------------------------------------------------------- */

/* Stops every child: workers first; then, when final (persistence on and a clean
 * stop), the housekeeper writes the final snapshot. Returns an exit code. */
static int stop_children(bool final)
{
    sd_notify_send("STOPPING=1");
    log_info("stopping", NULL);
    __atomic_store_n(&arena_hdr()->shutting_down, 1, __ATOMIC_RELEASE);
    if (!final)      /* the housekeeper writes one when SIGTERMed: not this time */
        __atomic_store_n(&arena_hdr()->no_final_snapshot, 1, __ATOMIC_RELEASE);
    stop_slots(final);
    return final ? final_snapshot() : EXIT_OK;
}

/* Handles the exit of pid; returns an exit code > 0 when the server must stop. */
static int handle_exit(pid_t pid, int status)
{
    for (uint32_t i = 0; i < nslots; i++) {
        child_slot *s = &slots[i];
        if (s->sweeper == pid) {
            s->sweeper = 0;
            if (!WIFEXITED(status) || WEXITSTATUS(status) != EXIT_OK) {
                log_error("sweep failed: the arena cannot be trusted, stopping", "slot=%u", i);
                return EXIT_FAILURE_GENERIC;
            }
            s->respawn_at_ms = clock_mono_ms() + respawn_delay(s);
            return 0;
        }
        if (s->pid != pid)
            continue;
        s->pid = 0;
        if (WIFEXITED(status)) {
            int code = WEXITSTATUS(status);
            log_warn("child exited", "role=%s slot=%u child_pid=%d code=%d", slot_role(i), i, (int)pid, code);
            if (code == EXIT_CONFIG)
                return EXIT_CONFIG;
            if (code == EXIT_ARENA_BROKEN)
                return EXIT_FAILURE_GENERIC;
            s->check_after_sweep = false;
        } else {
            int sig = WTERMSIG(status);
            log_warn("child killed", "role=%s slot=%u child_pid=%d signal=%d", slot_role(i), i, (int)pid, sig);
            /* SIGKILL/SIGTERM stop a thread between instructions: undo suffices.
             * A fault may have written anywhere: check the arena after the sweep. */
            s->check_after_sweep = sig == SIGSEGV || sig == SIGBUS || sig == SIGABRT ||
                                   sig == SIGILL || sig == SIGFPE;
        }
        __atomic_add_fetch(&arena_hdr()->worker_restarts, 1, __ATOMIC_RELAXED);
        spawn_sweeper(i);
        return 0;
    }
    return 0;
}

int supervisor_main(const kvns_config *cfg)
{
    sup_cfg = cfg;
    log_set_role("supervisor");
    arena_params p = {
        .memory_limit = cfg->memory_limit,
        .shard_count = cfg->shard_count,
        .lane_count = cfg->workers * cfg->threads + 2,
        .undo_bytes = UNDO_BYTES,
        .max_clients = cfg->max_clients,
        .max_namespaces = cfg->max_namespaces,
    };
    int arena_fd;
    if (arena_create(&p, &arena_fd) != 0) {
        log_error("cannot create the arena", "bytes=%llu err=\"%s\"",
                  (unsigned long long)arena_size_for(&p), strerror(errno));
        return EXIT_FAILURE_GENERIC;
    }
    /* children inherit the command table, type hooks and eviction settings */
    command_table_init();
    evict_init(cfg);
    arena_header *h = arena_hdr();
    h->evict_policy = cfg->eviction_policy;
    h->evict_threshold = cfg->eviction_threshold;
    h->workers = cfg->workers;
    h->threads = cfg->threads;
    listen_fd = open_listener(cfg->host, cfg->port);
    if (listen_fd < 0)
        return EXIT_FAILURE_GENERIC;
    /* metrics: open the HTTP listener before forking, like the RESP one (port 0: off) */
    if (cfg->metrics_port > 0) {
        housekeeper_metrics_fd = open_listener(cfg->metrics_host, cfg->metrics_port);
        if (housekeeper_metrics_fd < 0) {
            log_error("cannot open the metrics listener (KVNS_METRICS_HOST/KVNS_METRICS_PORT), stopping",
                      "host=%s port=%d", cfg->metrics_host, cfg->metrics_port);
            return EXIT_FAILURE_GENERIC;
        }
        log_info("metrics listening", "host=%s port=%d", cfg->metrics_host, cfg->metrics_port);
    }
    log_info("arena ready", "bytes=%llu shards=%u lanes=%u memory_limit=%llu memory_limit_source=\"%s\"",
             (unsigned long long)h->size, h->shard_count, h->lane_count,
             (unsigned long long)cfg->memory_limit, cfg->memory_limit_source ? cfg->memory_limit_source : "");
    /* persist: load the snapshot into the fresh arena before forking (sweep lane); a
     * corrupt or unreadable snapshot is fatal (exit 2) and the file is left untouched */
    if (persist_startup(cfg, h->lane_count - 1) != 0)
        return EXIT_CONFIG;

    sigset_t block;
    sigemptyset(&block);
    sigaddset(&block, SIGCHLD);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    sigprocmask(SIG_BLOCK, &block, NULL);
    struct sigaction sa = { .sa_handler = on_signal };
    sigaction(SIGCHLD, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    nslots = cfg->workers + 1;
    slots = calloc(nslots, sizeof *slots);
    if (!slots)
        return EXIT_FAILURE_GENERIC;
    for (uint32_t i = 0; i < nslots; i++)
        spawn_slot(i);
    log_info("accepting connections", "host=%s port=%d workers=%u threads=%u", cfg->host, cfg->port,
             cfg->workers, cfg->threads);
    char status[400];
    snprintf(status, sizeof status, "READY=1\nSTATUS=serving on %s:%d with %u workers", cfg->host, cfg->port, cfg->workers);
    sd_notify_send(status);

    const char *wd = getenv("WATCHDOG_USEC");
    int64_t watchdog_ms = wd ? atoll(wd) / 2000 : 0, next_watchdog = clock_mono_ms();
    sigset_t empty;
    sigemptyset(&empty);
    int exit_code = EXIT_OK;
    while (!got_stop) {
        struct timespec ts = { 0, 50 * 1000000L };
        pselect(0, NULL, NULL, NULL, &ts, &empty);
        if (got_sigchld) {
            got_sigchld = 0;
            int st;
            pid_t pid;
            while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
                int rc = handle_exit(pid, st);
                if (rc) {
                    exit_code = rc;
                    got_stop = 1;
                }
            }
        }
        int64_t now = clock_mono_ms();
        bool all_up = true;
        for (uint32_t i = 0; i < nslots && !got_stop; i++) {
            if (!slots[i].pid && !slots[i].sweeper && slots[i].respawn_at_ms && now >= slots[i].respawn_at_ms)
                spawn_slot(i);
            all_up &= slots[i].pid != 0;
        }
        if (watchdog_ms > 0 && now >= next_watchdog && all_up) {
            sd_notify_send("WATCHDOG=1");
            next_watchdog = now + watchdog_ms;
        }
    }
    /* persist: a final snapshot only after a clean stop (never from a broken arena),
     * unless SHUTDOWN NOSAVE asked for none */
    bool nosave = __atomic_load_n(&arena_hdr()->no_final_snapshot, __ATOMIC_ACQUIRE) != 0;
    int stop_rc = stop_children(exit_code == EXIT_OK && persist_enabled() && !nosave);
    if (exit_code == EXIT_OK)
        exit_code = stop_rc;
    log_info("stopped", "exit_code=%d", exit_code);
    return exit_code;
}
