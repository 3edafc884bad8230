/* harness_drill.h - shared machinery of the crash drills (it_crash.c, it_crash_collections.c):
 * SIGKILL kvns workers (and the housekeeper) over and over while writer threads mutate
 * keys through reconnecting connections that may land on any worker, with observer
 * threads on a worker that is never killed (W0).
 *
 * Only pids learned from INFO (workers) or from the supervisor's children in /proc (the
 * housekeeper) are signalled, and each is re-checked to be a live child of the
 * supervisor right before kill().
 *
 * How connections land on workers: the workers share one listening socket and wait on
 * it with EPOLLEXCLUSIVE, so a lone connection goes to the first idle worker in the
 * socket's wait queue (nearly always the same one). Connections opened back to back in
 * a burst spread over several workers; drill_probe_burst() uses that to reach workers
 * other than W0 (the killer's victims, and the writers, which prefer non-W0 workers so
 * that kills hit them mid-command).
 *
 * Threads never call cmocka: anything that goes wrong is recorded with drill_fail(), and
 * the main thread turns the records into the test's verdict after joining every thread.
 *
 * A drill, in the main thread:
 *   drill d; drill_begin(&d, srv, workers, clients, nclients, obs, nobs, err, cap);
 *   drill_start_observers(); start the writer threads (each owns a drill_client from
 *   `clients`); sleep; drill_discover(); drill_kill_phase();
 *   __atomic_store_n(&drill_stop_writers, 1, ...); join the writers;
 *   drill_join_observers(); final checks on a connection; drill_check_children();
 *   drill_print_failures(); drill_end().
 *
 * Every name here starts with drill_/DRILL_ (this object is linked into every test binary,
 * next to libkvns.a). */
#ifndef KVNS_TESTS_HARNESS_DRILL_H
#define KVNS_TESTS_HARNESS_DRILL_H

#include "harness.h"

#include <pthread.h>
#include <stdbool.h>
#include <sys/types.h>

/* ---- limits ------------------------------------------------------------------------ */
#define DRILL_MAX_WORKERS      16
#define DRILL_MAX_CLIENTS      64     /* reconnecting writer connections the killer tracks */
#define DRILL_MAX_CHILDREN     64
#define DRILL_MAX_FAIL_MSGS    16
#define DRILL_SEEN_SLOTS       512

/* ---- time bounds (milliseconds) ---------------------------------------------------- */
#define DRILL_DISCOVERY_TIMEOUT_MS 5000   /* W0, observers on W0, every worker's pid */
#define DRILL_KILL_PACE_MIN_MS     50     /* pause after a replacement serves, before the */
#define DRILL_KILL_PACE_MAX_MS     150    /* next kill: writers are mid-command often */
#define DRILL_QUICK_DEATH_MS       250    /* supervisor: a death this soon after start is quick */
#define DRILL_QUICK_MARGIN_MS      40     /* our start times are late by up to a scan interval */
#define DRILL_OBSERVER_TIMEOUT_MS  2000   /* any reply slower than this on W0 fails the test */
#define DRILL_WRITER_TIMEOUT_MS    3000   /* a live worker must answer within this */
#define DRILL_PROBE_TIMEOUT_MS     3000   /* INFO/PING on a probe connection */

/* ---- failures recorded by any thread ------------------------------------------------- */

void drill_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int drill_failure_count(void);
/* The i-th recorded message (i < DRILL_MAX_FAIL_MSGS and < drill_failure_count()). */
const char *drill_failure(int i);
/* print_error()s every recorded failure as "<label> failure <n>: <msg>" (main thread). */
void drill_print_failures(const char *label);

/* ---- shared state (set by drill_begin before any thread starts) ------------------------ */

int drill_port(void);
pid_t drill_w0(void);                   /* the observer worker: never killed */
extern int drill_stop_writers;          /* __atomic flags */
extern int drill_stop_observers;
bool drill_stopping(const int *flag);
long long drill_now_ms(void);           /* CLOCK_MONOTONIC milliseconds */

/* ---- INFO and landing connections on workers ------------------------------------------ */

typedef struct drill_landed {
    kv_conn *c;       /* NULL: the connection failed before INFO answered */
    pid_t    pid;     /* the worker serving c */
    int      slot;
} drill_landed;

/* Parses an INFO server reply. 1: *pid and *slot set; -1: the reply lacks the fields
 * (described in err). */
int drill_parse_worker_info(const kv_reply *r, pid_t *pid, int *slot, char *err, size_t cap);
/* Opens n connections back to back, then asks each which worker serves it. Failed
 * connections come back with c == NULL. Returns the number of usable entries. */
int drill_probe_burst(drill_landed *out, int n);
/* Closes every connection of a burst except out[keep] (keep < 0: all). */
void drill_close_burst(drill_landed *out, int n, int keep);
/* Opens a connection served by W0 (open and close until one lands there), or NULL. */
kv_conn *drill_open_on_w0(void);

/* ---- /proc: the supervisor's children -------------------------------------------------- */

/* Live (not zombie) children of parent, at most cap stored; returns the count (may exceed
 * cap) or -1. */
int drill_list_children(pid_t parent, pid_t *out, int cap);
bool drill_pid_in(pid_t pid, const pid_t *set, int n);

/* ---- reconnecting writer connections ------------------------------------------------- */

typedef struct drill_client {
    char      name[48];       /* prefix of failure messages, e.g. "INCR writer 3" */
    unsigned  rng;            /* rand_r state (rotation times; the writer may use it too) */
    long long connects;
    long long on_w0;          /* connects that landed on W0 */
    /* connection state (the writer thread only) */
    kv_conn  *c;
    pid_t     pid;            /* worker serving c */
    long long rotate_at;      /* mono ms: move to a fresh connection after this */
    /* pid * 16 + slot of the worker serving the writer, 0 while reconnecting: read by
     * the killer to aim at workers with writers on them (__atomic) */
    long long served_by;
} drill_client;

/* Has a connection ready for the next command (cl->c): reconnects after a failure
 * (preferring a worker other than W0), and moves to a fresh connection now and then
 * (when may_rotate) so that writers keep landing on the workers being killed. False once
 * drill_stop_writers is set. */
bool drill_client_ready(drill_client *cl, bool may_rotate);
/* Drops the connection (a failure, or a rotation). */
void drill_client_disconnect(drill_client *cl);
/* A command got no reply: the connection is dropped. Only a worker's death may cause
 * that; a timeout on a live worker or a failure on W0 is recorded as a failure. */
void drill_client_failed(drill_client *cl, const char *cmd);
/* Records "<name>: unexpected reply to <cmd>: <reply>". */
void drill_client_bad_reply(const drill_client *cl, const char *cmd, const kv_reply *r);

/* ---- observers: SET/GET of "drill/obs:<id>" on W0, which is never killed ------------- */

typedef struct drill_observer {
    pthread_t tid;
    int       id;
    kv_conn  *c;              /* opened on W0 by drill_begin */
    long long ops;
    bool      failed;
} drill_observer;

/* Starts every observer thread; returns how many started (a failure is recorded). */
int drill_start_observers(drill_observer *obs, int n);
/* Sets drill_stop_observers and joins the first n observers. */
void drill_join_observers(drill_observer *obs, int n);

/* ---- the killer (main thread) ---------------------------------------------------------- */

typedef struct drill {
    kv_server *srv;
    pid_t      sup;
    int        workers;                  /* KVNS_WORKERS of the server */
    kv_conn   *ctl;                      /* the control connection of drill_begin */
    drill_client *const *clients;        /* the writers' connections (served_by) */
    int        nclients;
    bool       aim_running;              /* set after drill_begin: kill workers when they
                                          * run (in a command), not while they wait for
                                          * input (up to 20 ms of /proc polling a kill) */
    pid_t      hk;                       /* the current housekeeper */
    long long  hk_seen_ms;
    struct { pid_t pid; long long ms; } seen[DRILL_SEEN_SLOTS];   /* first sighting */
    unsigned   nseen;
    int        quick_streak[DRILL_MAX_WORKERS];
    /* statistics */
    int        worker_kills, quick_kills, hk_kills;
    long long  respawn_max_ms, respawn_total_ms;
    int        respawns;
    int        replacements_reached;    /* replacement pid answered INFO directly */
    int        kills_with_writers;      /* victim served at least one writer */
    long long  max_pause_ms;            /* longest extra wait to avoid supervisor back-off */
    int        aimed_kills;             /* aim_running: victims killed while running */
} drill;

/* Prepares a drill on a started server: FLUSHALL, learns W0 (the worker of the control
 * connection), opens every observer's connection on W0, resets the stop flags and the
 * recorded failures. False
 * with err set on failure (the caller then stops the server and fails). d may be large:
 * make it static. */
bool drill_begin(drill *d, kv_server *srv, int workers, drill_client *const *clients,
                 int nclients, drill_observer *obs, int nobs, char *err, size_t cap);
/* Closes the control connection and the observers' connections. */
void drill_end(drill *d, drill_observer *obs, int nobs);
/* Learns every worker's pid (through INFO on bursts of connections and the writers'
 * connections: run it while the writers run) and the housekeeper's, before any kill. */
bool drill_discover(drill *d, char *err, size_t cap);
/* False (after recording why) when the supervisor is gone. */
bool drill_supervisor_ok(drill *d);
/* SIGKILLs one worker other than W0 - preferably one serving writers - and waits for
 * its replacement to serve. False after recording a failure. */
bool drill_kill_worker(drill *d);
/* SIGKILLs the housekeeper and waits for the supervisor to start a new one. */
bool drill_kill_housekeeper(drill *d);
/* Kills until min_worker_kills workers and hk_kills housekeepers died (housekeeper kills
 * spread among the worker kills), pausing DRILL_KILL_PACE_MIN..MAX_MS after each, while
 * no failure is recorded and for at most limit_ms. Returns the phase's duration (ms). */
long long drill_kill_phase(drill *d, int min_worker_kills, int hk_kills, long long limit_ms,
                           unsigned rng);
/* After the writers stopped: the supervisor's children settle back to workers + 1 and
 * include W0 and the housekeeper; records failures otherwise. */
void drill_check_children(drill *d);

/* ---- the run and the verdict (main thread) --------------------------------------------- */

/* Ends a drill that could not start: drill_end, the server's log tail, the log kept,
 * the server stopped, and the test failed with err. */
void drill_abort(drill *d, drill_observer *obs, int nobs, kv_server *srv, const char *err)
    __attribute__((noreturn));

/* The writer threads of drill_run: writer i runs main(first + i * stride) on tids[i]. */
typedef struct drill_writers {
    void    *(*main)(void *);
    void      *first;
    size_t     stride;
    pthread_t *tids;
    int        n;
} drill_writers;

/* The middle of every drill: starts the observers and the writers (a thread that fails
 * to start is recorded and ends the starting), lets them run warmup_ms, learns every
 * worker (drill_discover), runs drill_kill_phase(d, min_worker_kills, hk_kills,
 * limit_ms, rng), then stops and joins the writers and the observers. Makes no cmocka
 * call. Returns how many writers started; *kill_phase_ms gets the kill phase's length. */
int drill_run(drill *d, drill_observer *obs, int nobs, const drill_writers *w,
              long long warmup_ms, int min_worker_kills, int hk_kills, long long limit_ms,
              unsigned rng, long long *kill_phase_ms);
/* Runs a command of the final checks; no reply is recorded as a failure (then NULL). */
kv_reply *drill_final_cmd(kv_conn *c, const char *what, const char *arg0, ...)
    __attribute__((sentinel));
/* DEBUG CHECK on c must answer OK; records a failure otherwise. */
void drill_final_debug_check(kv_conn *c);
/* True when no observer failed; *ops gets the observers' operations in all. */
bool drill_observers_ok(const drill_observer *obs, int n, long long *ops);
/* The verdict: prints the recorded failures under label and keeps the server's log when
 * there are any, stops the server, and fails the test on a recorded failure or an exit
 * status other than 0 or SIGTERM's. */
void drill_finish(kv_server *srv, const char *label);

#endif
