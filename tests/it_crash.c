/* it_crash.c - the crash drill: SIGKILL kvns workers (and the housekeeper) over and
 * over while writer threads mutate keys through connections that may land on any
 * worker, then check that nothing acknowledged was lost, nothing was torn or
 * duplicated, the arena is consistent, every child was respawned, and that clients of
 * a worker that was never killed (W0) saw no error at all.
 *
 * Only runs against kvns (skipped with KVNS_TEST_TARGET=redis). Everything is on
 * 127.0.0.1; every thread is joined and the server is stopped before the test returns.
 * Only pids learned from INFO (workers) or from the supervisor's children in /proc (the
 * housekeeper) are signalled, and each is re-checked to be a live child of the
 * supervisor right before kill().
 *
 * How connections land on workers: the workers share one listening socket and wait on
 * it with EPOLLEXCLUSIVE, so a lone connection goes to the first idle worker in the
 * socket's wait queue (nearly always the same one). Connections opened back to back in
 * a burst spread over several workers; probe_burst() uses that to reach workers other
 * than W0 (the killer's victims, and the writers, which prefer non-W0 workers so that
 * kills hit them mid-command).
 *
 * Worker threads never call cmocka: they record failures (record_failure) that the
 * main thread turns into the test's verdict after joining them. */
#include "harness.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- shape of the drill ---------------------------------------------------------- */
#define DRILL_WORKERS          3
#define N_INCR_WRITERS         2
#define N_MSET_WRITERS         2
#define N_APPEND_WRITERS       2
#define N_WRITERS              (N_INCR_WRITERS + N_MSET_WRITERS + N_APPEND_WRITERS)
#define N_OBSERVERS            4
#define MSET_KEYS              12
#define MIN_WORKER_KILLS       100
#define HOUSEKEEPER_KILLS      4
#define HK_KILL_EVERY          (MIN_WORKER_KILLS / HOUSEKEEPER_KILLS)  /* worker kills apart */
#define PROBE_BURST            4      /* connections opened back to back by probe_burst */
#define WRITER_BURST           3      /* burst size of a writer's (re)connect */
#define DISCOVERY_BURST        8      /* burst size while learning every worker's pid */
#define MAX_CHILDREN           64
#define MAX_FAIL_MSGS          16
#define SEEN_SLOTS             512

/* ---- time bounds (milliseconds); the whole test stays under ~60 s ----------------- */
#define DISCOVERY_TIMEOUT_MS   5000   /* W0, observers on W0, every worker's pid */
#define WARMUP_MS              300    /* writers run before the first kill */
#define KILL_PHASE_LIMIT_MS    40000  /* the whole kill loop */
#define KILL_PACE_MIN_MS       50     /* pause after a replacement serves, before the */
#define KILL_PACE_MAX_MS       150    /* next kill: writers are mid-command often */
#define VICTIM_SEARCH_MS       3000   /* finding a connection on a non-W0 worker */
#define RESPAWN_TIMEOUT_MS     3000   /* kill -> supervisor has workers+1 children again */
#define STABLE_MS              20     /* child set unchanged this long (not a sweeper) */
#define HK_STABLE_MS           100    /* same for a new housekeeper */
#define SERVE_TIMEOUT_MS       3000   /* replacement in place -> a non-W0 worker PONGs */
#define QUICK_DEATH_MS         250    /* supervisor: a death this soon after start is quick */
#define QUICK_MARGIN_MS        40     /* our start times are late by up to a scan interval */
#define MAX_QUICK_STREAK       3      /* the supervisor backs off after more in a row */
#define OBSERVER_TIMEOUT_MS    2000   /* any reply slower than this on W0 fails the test */
#define WRITER_TIMEOUT_MS      3000   /* a live worker must answer within this */
#define WRITER_ROTATE_MIN_MS   30     /* a writer moves to a fresh connection after a */
#define WRITER_ROTATE_MAX_MS   150    /* random time in this range (re-spreads writers) */
#define PROBE_TIMEOUT_MS       3000   /* INFO/PING on a probe connection */
#define FINAL_SETTLE_MS        3000   /* after the kills: child set back to workers+1 */
#define SCAN_INTERVAL_MS       2

/* ---- failures recorded by any thread ---------------------------------------------- */

static pthread_mutex_t g_fail_mu = PTHREAD_MUTEX_INITIALIZER;
static int g_fail_count;
static char g_fail_msgs[MAX_FAIL_MSGS][512];

static void record_failure(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void record_failure(const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&g_fail_mu);
    if (g_fail_count < MAX_FAIL_MSGS)
        snprintf(g_fail_msgs[g_fail_count], sizeof g_fail_msgs[0], "%s", msg);
    g_fail_count++;
    pthread_mutex_unlock(&g_fail_mu);
}

static int failure_count(void)
{
    pthread_mutex_lock(&g_fail_mu);
    int n = g_fail_count;
    pthread_mutex_unlock(&g_fail_mu);
    return n;
}

/* ---- shared read-only drill parameters (set before any thread starts) ------------- */

static int g_port;
static pid_t g_w0;                 /* the observer worker: never killed */
static int g_stop_writers;         /* __atomic flags */
static int g_stop_observers;

static bool stop_requested(const int *flag) { return __atomic_load_n(flag, __ATOMIC_ACQUIRE); }

static long long mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- INFO and landing connections on workers --------------------------------------- */

/* Value of "name:<integer>" at the start of a line of an INFO text, or -1. */
static long long info_field(const char *text, const char *name)
{
    size_t n = strlen(name);
    for (const char *line = text; line && *line;) {
        if (strncmp(line, name, n) == 0 && line[n] == ':') {
            char *end;
            long long v = strtoll(line + n + 1, &end, 10);
            if (end != line + n + 1 && (*end == '\r' || *end == '\n' || *end == '\0'))
                return v;
            return -1;
        }
        line = strchr(line, '\n');
        if (line)
            line++;
    }
    return -1;
}

/* Parses an INFO server reply. 1: *pid and *slot set; -1: the reply lacks the fields
 * (described in err). */
static int parse_worker_info(const kv_reply *r, pid_t *pid, int *slot, char *err, size_t cap)
{
    if (r && (r->type == KV_REPLY_BULK || r->type == KV_REPLY_VERBATIM)) {
        long long p = info_field(r->str, "process_id");
        long long s = info_field(r->str, "kvns_worker_slot");
        if (p > 0 && s >= 0 && s < DRILL_WORKERS) {
            *pid = (pid_t)p;
            *slot = (int)s;
            return 1;
        }
    }
    char got[300];
    snprintf(err, cap, "INFO server lacks process_id/kvns_worker_slot (0..%d): %s",
             DRILL_WORKERS - 1, kv_reply_describe(r, got, sizeof got));
    return -1;
}

typedef struct landed {
    kv_conn *c;       /* NULL: the connection failed before INFO answered */
    pid_t    pid;     /* the worker serving c */
    int      slot;
} landed;

/* Opens n connections back to back, then asks each which worker serves it (INFO
 * pipelined after all connects, so the connections arrive close together and spread
 * over the workers). Failed connections come back with c == NULL. Returns the number
 * of usable entries; a malformed INFO is recorded as a failure. */
static int probe_burst(landed *out, int n)
{
    for (int i = 0; i < n; i++) {
        out[i].c = conn_open(g_port);
        out[i].pid = -1;
        out[i].slot = -1;
    }
    for (int i = 0; i < n; i++)
        if (out[i].c)
            conn_set_timeout(out[i].c, PROBE_TIMEOUT_MS);
    for (int i = 0; i < n; i++) {
        if (out[i].c && conn_send_cmd(out[i].c, "INFO", "server", NULL) != 0) {
            conn_close(out[i].c);
            out[i].c = NULL;
        }
    }
    int ok = 0;
    for (int i = 0; i < n; i++) {
        if (!out[i].c)
            continue;
        kv_reply *r = conn_read_reply(out[i].c);
        char err[400];
        if (!r || parse_worker_info(r, &out[i].pid, &out[i].slot, err, sizeof err) != 1) {
            if (r)
                record_failure("%s", err);
            conn_close(out[i].c);
            out[i].c = NULL;
        } else {
            ok++;
        }
        kv_reply_free(r);
    }
    return ok;
}

/* Closes every connection of a burst except out[keep] (keep < 0: all). */
static void close_burst(landed *out, int n, int keep)
{
    for (int i = 0; i < n; i++) {
        if (i != keep && out[i].c) {
            conn_close(out[i].c);
            out[i].c = NULL;
        }
    }
}

/* ---- /proc: the supervisor's children ----------------------------------------------- */

/* Live (not zombie) children of parent, at most cap. */
static int list_children(pid_t parent, pid_t *out, int cap)
{
    DIR *d = opendir("/proc");
    if (!d)
        return -1;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        char *end;
        long pid = strtol(de->d_name, &end, 10);
        if (*end || pid <= 0)
            continue;
        char path[64], buf[1024];
        snprintf(path, sizeof path, "/proc/%ld/stat", pid);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        size_t len = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[len] = '\0';
        char *rp = strrchr(buf, ')');       /* comm may hold spaces and parentheses */
        char state;
        long ppid;
        if (!rp || sscanf(rp + 1, " %c %ld", &state, &ppid) != 2)
            continue;
        if (ppid != parent || state == 'Z' || state == 'X')
            continue;
        if (n < cap)
            out[n] = (pid_t)pid;
        n++;
    }
    closedir(d);
    return n;
}

static bool pid_in(pid_t pid, const pid_t *set, int n)
{
    for (int i = 0; i < n; i++)
        if (set[i] == pid)
            return true;
    return false;
}

static bool same_set(const pid_t *a, int na, const pid_t *b, int nb)
{
    if (na != nb)
        return false;
    for (int i = 0; i < na; i++)
        if (!pid_in(a[i], b, nb))
            return false;
    return true;
}

/* ---- writers ------------------------------------------------------------------------ */

typedef enum { W_INCR, W_MSET, W_APPEND } writer_kind;

static const char *const kind_name[] = { "INCR", "MSET", "APPEND" };

typedef struct writer {
    pthread_t   tid;
    int         id;
    writer_kind kind;
    /* results, read by the main thread after the join */
    long long attempts;       /* commands sent (APPEND: includes retries of a number) */
    long long acked;          /* commands whose success reply arrived */
    long long lost;           /* commands whose reply never came */
    long long connects;
    long long on_w0;          /* connects that landed on W0 */
    long long last_attempted; /* MSET: round; APPEND: highest n sent (-1: none) */
    long long last_acked;     /* MSET: round (0: none); APPEND: highest n acked (-1) */
    bool      gave_up;        /* stopped early after recording a failure */
    /* connection state (writer thread only) */
    kv_conn  *c;
    pid_t     pid;            /* worker serving c */
    long long rotate_at;      /* mono ms: move to a fresh connection after this */
    unsigned  rng;
    /* pid * 16 + slot of the worker serving the writer, 0 while reconnecting: read by
     * the killer to aim at workers with writers on them (__atomic) */
    long long served_by;
} writer;

/* (Re)connects a writer (w->c), preferring a worker other than W0; false once
 * stopping. */
static bool writer_connect(writer *w)
{
    while (!stop_requested(&g_stop_writers)) {
        landed b[WRITER_BURST];
        probe_burst(b, WRITER_BURST);
        int pick = -1;
        for (int i = 0; i < WRITER_BURST && pick < 0; i++)
            if (b[i].c && b[i].pid != g_w0)
                pick = i;
        for (int i = 0; i < WRITER_BURST && pick < 0; i++)
            if (b[i].c)
                pick = i;
        close_burst(b, WRITER_BURST, pick);
        if (pick < 0) {
            sleep_ms(2);
            continue;
        }
        w->connects++;
        w->on_w0 += b[pick].pid == g_w0;
        w->c = b[pick].c;
        w->pid = b[pick].pid;
        w->rotate_at = mono_now() + WRITER_ROTATE_MIN_MS +
                       rand_r(&w->rng) % (WRITER_ROTATE_MAX_MS - WRITER_ROTATE_MIN_MS + 1);
        conn_set_timeout(w->c, WRITER_TIMEOUT_MS);
        __atomic_store_n(&w->served_by, (long long)w->pid * 16 + b[pick].slot, __ATOMIC_RELEASE);
        return true;
    }
    return false;
}

/* Drops the writer's connection (a failure, or a rotation). */
static void writer_disconnect(writer *w)
{
    __atomic_store_n(&w->served_by, 0, __ATOMIC_RELEASE);
    conn_close(w->c);
    w->c = NULL;
}

/* Has a connection ready for the next command: reconnects after a failure, and moves
 * to a fresh connection now and then so that writers keep landing on the workers
 * being killed. False once stopping. */
static bool writer_ready(writer *w, bool may_rotate)
{
    if (w->c && may_rotate && mono_now() >= w->rotate_at)
        writer_disconnect(w);
    return w->c || writer_connect(w);
}

/* A command got no reply: the connection is dropped. Only a worker's death may cause
 * that; a timeout on a live worker or a failure on W0 is a bug. */
static void writer_conn_failed(writer *w, const char *cmd)
{
    if (conn_timed_out(w->c))
        record_failure("%s writer %d: %s got no reply within %d ms from worker pid %d",
                       kind_name[w->kind], w->id, cmd, WRITER_TIMEOUT_MS, (int)w->pid);
    else if (w->pid == g_w0)
        record_failure("%s writer %d: %s on W0 (pid %d, never killed) failed: %s",
                       kind_name[w->kind], w->id, cmd, (int)w->pid, conn_error(w->c));
    writer_disconnect(w);
}

static void writer_bad_reply(writer *w, const char *cmd, const kv_reply *r)
{
    char got[300];
    record_failure("%s writer %d: unexpected reply to %s: %s", kind_name[w->kind], w->id, cmd,
                   kv_reply_describe(r, got, sizeof got));
    w->gave_up = true;
}

/* k when s[0..len) is exactly "0;1;...;(k-1);", else -1. */
static long long append_prefix_count(const char *s, size_t len)
{
    long long k = 0;
    size_t pos = 0;
    char tmp[32];
    while (pos < len) {
        int n = snprintf(tmp, sizeof tmp, "%lld;", k);
        if (pos + (size_t)n > len || memcmp(s + pos, tmp, (size_t)n) != 0)
            return -1;
        pos += (size_t)n;
        k++;
    }
    return k;
}

static void run_incr(writer *w)
{
    char key[64];
    snprintf(key, sizeof key, "drill/ctr:%d", w->id);
    while (!stop_requested(&g_stop_writers) && !w->gave_up) {
        if (!writer_ready(w, true))
            break;
        w->attempts++;
        kv_reply *r = conn_cmd(w->c, "INCR", key, NULL);
        if (!r) {
            w->lost++;
            writer_conn_failed(w, "INCR");
            continue;
        }
        if (r->type != KV_REPLY_INTEGER) {
            w->lost++;              /* not acknowledged: keep the upper bound honest */
            writer_bad_reply(w, "INCR", r);
        } else {
            /* only this thread increments the key: the new value counts every acked
             * INCR plus any lost ones that were applied */
            long long lo = w->acked + 1, hi = w->acked + 1 + w->lost;
            if (r->integer < lo || r->integer > hi)
                record_failure("INCR writer %d: INCR %s answered %lld, expected [%lld, %lld] "
                               "(acked %lld, lost %lld) on worker pid %d", w->id, key,
                               r->integer, lo, hi, w->acked, w->lost, (int)w->pid);
            w->acked++;
        }
        kv_reply_free(r);
    }
}

/* MGET argv for writer w's MSET keys "drill/m<id>:<j>". */
static void mset_mget_argv(const writer *w, char keys[][64], const char **argv)
{
    argv[0] = "MGET";
    for (int j = 0; j < MSET_KEYS; j++) {
        snprintf(keys[j], 64, "drill/m%d:%d", w->id, j);
        argv[1 + j] = keys[j];
    }
}

/* Checks an MGET of writer w's keys: all hold the same "<id>:<round>" (no torn MSET)
 * with round between the last acknowledged and the last attempted one (all missing
 * only while nothing was acknowledged). False with a description in why. */
static bool mset_consistent(const writer *w, const kv_reply *r, char *why, size_t cap)
{
    char got[500];
    bool all_nil = r->type == KV_REPLY_ARRAY && r->count == MSET_KEYS;
    bool same = all_nil;
    for (size_t j = 0; all_nil && j < MSET_KEYS; j++)
        all_nil = r->elements[j]->type == KV_REPLY_NIL;
    for (size_t j = 0; same && j < MSET_KEYS; j++)
        same = r->elements[j]->type == KV_REPLY_BULK &&
               kv_reply_is_str(r->elements[j], r->elements[0]->str);
    long long round = -1;
    if (all_nil) {
        round = 0;
    } else if (same) {
        char *end;
        long id = strtol(r->elements[0]->str, &end, 10);
        if (id == w->id && *end == ':') {
            round = strtoll(end + 1, &end, 10);
            if (*end)
                round = -1;
        }
    }
    if (!all_nil && !same) {
        snprintf(why, cap, "torn MSET: the %d keys drill/m%d:* differ: %s", MSET_KEYS, w->id,
                 kv_reply_describe(r, got, sizeof got));
        return false;
    }
    if (round < w->last_acked || round > w->last_attempted) {
        snprintf(why, cap, "the keys hold round %lld, expected [%lld (last acked), %lld (last "
                 "attempted)]: %s", round, w->last_acked, w->last_attempted,
                 kv_reply_describe(r, got, sizeof got));
        return false;
    }
    return true;
}

static void run_mset(writer *w)
{
    char keys[MSET_KEYS][64], value[64];
    const char *argv[1 + 2 * MSET_KEYS];
    argv[0] = "MSET";
    for (int j = 0; j < MSET_KEYS; j++) {
        snprintf(keys[j], sizeof keys[j], "drill/m%d:%d", w->id, j);
        argv[1 + 2 * j] = keys[j];
        argv[2 + 2 * j] = value;
    }
    char mget_keys[MSET_KEYS][64], why[700];
    const char *mget[1 + MSET_KEYS];
    mset_mget_argv(w, mget_keys, mget);
    long long round = 0;
    bool unsure = false;         /* an MSET got no reply: check the keys before going on */
    while (!stop_requested(&g_stop_writers) && !w->gave_up) {
        if (!writer_ready(w, !unsure))
            break;
        if (unsure) {
            /* the worker died with MSET `round` in flight: all of it or none of it */
            kv_reply *r = conn_cmdv(w->c, 1 + MSET_KEYS, mget, NULL);
            if (!r) {
                writer_conn_failed(w, "MGET");
                continue;
            }
            if (!mset_consistent(w, r, why, sizeof why)) {
                record_failure("MSET writer %d: after MSET round %lld got no reply: %s", w->id,
                               round, why);
                w->gave_up = true;
            }
            unsure = false;
            kv_reply_free(r);
            continue;
        }
        round++;
        snprintf(value, sizeof value, "%d:%lld", w->id, round);
        w->attempts++;
        w->last_attempted = round;
        kv_reply *r = conn_cmdv(w->c, 1 + 2 * MSET_KEYS, argv, NULL);
        if (!r) {
            w->lost++;
            unsure = true;
            writer_conn_failed(w, "MSET");
            continue;
        }
        if (!kv_reply_is_str(r, "OK") || r->type != KV_REPLY_STATUS) {
            w->lost++;
            writer_bad_reply(w, "MSET", r);
        } else {
            w->acked++;
            w->last_acked = round;
        }
        kv_reply_free(r);
    }
}

static void run_append(writer *w)
{
    char key[64], piece[32];
    snprintf(key, sizeof key, "drill/a:%d", w->id);
    long long next = 0;          /* the value is "0;...;(next-1);" when not unsure */
    size_t len = 0;              /* ... and this long */
    bool unsure = false;         /* an APPEND of `next` got no reply: applied or not? */
    while (!stop_requested(&g_stop_writers) && !w->gave_up) {
        if (!writer_ready(w, !unsure))
            break;
        if (unsure) {
            /* The worker died with APPEND `next` in flight: the value must now be
             * "0;...;(next-1);" (not applied) or "0;...;next;" (applied), nothing else. */
            kv_reply *r = conn_cmd(w->c, "GET", key, NULL);
            if (!r) {
                writer_conn_failed(w, "GET");
                continue;
            }
            long long k = r->type == KV_REPLY_NIL ? 0
                        : r->type == KV_REPLY_BULK ? append_prefix_count(r->str, r->len) : -2;
            if (k == -2) {
                writer_bad_reply(w, "GET", r);
            } else if (k != next && k != next + 1) {
                char got[300];
                record_failure("APPEND writer %d: after APPEND \"%lld;\" to %s got no reply, "
                               "the value is %s (expected the sequence up to %lld or %lld)",
                               w->id, next, key, kv_reply_describe(r, got, sizeof got),
                               next - 1, next);
                w->gave_up = true;
            } else {
                next = k;
                len = r->type == KV_REPLY_BULK ? r->len : 0;
                unsure = false;
            }
            kv_reply_free(r);
            continue;
        }
        size_t plen = (size_t)snprintf(piece, sizeof piece, "%lld;", next);
        w->attempts++;
        w->last_attempted = next;
        kv_reply *r = conn_cmd(w->c, "APPEND", key, piece, NULL);
        if (!r) {
            w->lost++;
            unsure = true;
            writer_conn_failed(w, "APPEND");
            continue;
        }
        if (r->type != KV_REPLY_INTEGER) {
            w->lost++;
            writer_bad_reply(w, "APPEND", r);
        } else {
            size_t want = len + plen;
            if (r->integer < 0 || (size_t)r->integer != want) {
                record_failure("APPEND writer %d: APPEND \"%s\" to %s answered length %lld, "
                               "expected %zu (worker pid %d)", w->id, piece, key, r->integer,
                               want, (int)w->pid);
                w->gave_up = true;
            }
            w->acked++;
            w->last_acked = next;
            next++;
            len = want;
        }
        kv_reply_free(r);
    }
}

static writer g_writers[N_WRITERS];

static void *writer_main(void *arg)
{
    writer *w = arg;
    if (w->kind == W_INCR)
        run_incr(w);
    else if (w->kind == W_MSET)
        run_mset(w);
    else
        run_append(w);
    if (w->c)
        writer_disconnect(w);
    return NULL;
}

/* ---- observers: SET/GET on W0, which is never killed --------------------------------- */

typedef struct observer {
    pthread_t tid;
    int       id;
    kv_conn  *c;              /* opened on W0 by the main thread */
    long long ops;
    bool      failed;
} observer;

static void *observer_main(void *arg)
{
    observer *o = arg;
    char key[64], val[64];
    snprintf(key, sizeof key, "drill/obs:%d", o->id);
    conn_set_timeout(o->c, OBSERVER_TIMEOUT_MS);
    for (long long seq = 1; !stop_requested(&g_stop_observers); seq++) {
        snprintf(val, sizeof val, "%d:%lld", o->id, seq);
        kv_reply *r = conn_cmd(o->c, "SET", key, val, NULL);
        bool ok = r && r->type == KV_REPLY_STATUS && kv_reply_is_str(r, "OK");
        const char *what = "SET";
        if (ok) {
            kv_reply_free(r);
            r = conn_cmd(o->c, "GET", key, NULL);
            ok = r && r->type == KV_REPLY_BULK && kv_reply_is_str(r, val);
            what = "GET";
        }
        if (!ok) {
            char got[300];
            record_failure("observer %d on W0 (pid %d): %s %s after %lld ops: %s%s%s", o->id,
                           (int)g_w0, what, key, o->ops, kv_reply_describe(r, got, sizeof got),
                           r ? "" : " - ", r ? "" : (conn_timed_out(o->c) ? "timed out"
                                                       : conn_error(o->c)));
            kv_reply_free(r);
            o->failed = true;
            break;
        }
        kv_reply_free(r);
        o->ops += 2;
    }
    return NULL;
}

/* ---- the killer (main thread) ------------------------------------------------------- */

typedef struct drill {
    kv_server *srv;
    pid_t      sup;
    pid_t      hk;                       /* the current housekeeper */
    long long  hk_seen_ms;
    struct { pid_t pid; long long ms; } seen[SEEN_SLOTS];   /* first sighting of a child */
    unsigned   nseen;
    int        quick_streak[DRILL_WORKERS];
    /* statistics */
    int        worker_kills, quick_kills, hk_kills;
    long long  respawn_max_ms, respawn_total_ms;
    int        respawns;
    int        replacements_reached;    /* replacement pid answered INFO directly */
    int        kills_with_writers;      /* victim served at least one writer */
    long long  max_pause_ms;            /* longest extra wait to avoid supervisor back-off */
} drill;

static void note_seen(drill *d, pid_t pid, long long ms)
{
    d->seen[d->nseen % SEEN_SLOTS].pid = pid;
    d->seen[d->nseen % SEEN_SLOTS].ms = ms;
    d->nseen++;
}

/* When we first saw pid as a child (an upper bound of its start), or -1. */
static long long seen_ms(const drill *d, pid_t pid)
{
    unsigned n = d->nseen < SEEN_SLOTS ? d->nseen : SEEN_SLOTS;
    for (unsigned i = 0; i < n; i++)
        if (d->seen[i].pid == pid)
            return d->seen[i].ms;
    return -1;
}

/* False (after recording why) when the supervisor is gone. */
static bool supervisor_ok(drill *d)
{
    if (srv_alive(d->srv))
        return true;
    record_failure("the supervisor (pid %d) exited during the drill", (int)d->sup);
    return false;
}

/* After killing victim (a worker, or the housekeeper when victim == d->hk): waits until
 * the supervisor has workers+1 live children again, without victim, with exactly one
 * pid that was not there before the kill, and that set stays the same for stable_ms
 * (a sweep helper is a short-lived extra child). *fresh receives the new pid. */
static bool wait_respawn(drill *d, pid_t victim, const pid_t *before, int nbefore,
                         long long killed_at, long long stable_ms, pid_t *fresh)
{
    bool hk_victim = victim == d->hk;
    long long deadline = killed_at + RESPAWN_TIMEOUT_MS;
    pid_t cur[MAX_CHILDREN], cand[MAX_CHILDREN];
    int ncand = -1;
    long long cand_since = 0;
    for (;;) {
        long long now = mono_now();
        int n = list_children(d->sup, cur, MAX_CHILDREN);
        if (n > MAX_CHILDREN)
            n = MAX_CHILDREN;
        if (n >= 0 && !pid_in(g_w0, cur, n)) {
            record_failure("W0 (pid %d, never signalled) is no longer a child of the supervisor",
                           (int)g_w0);
            return false;
        }
        if (n >= 0 && !hk_victim && !pid_in(d->hk, cur, n)) {
            record_failure("the housekeeper (pid %d, not signalled) is gone", (int)d->hk);
            return false;
        }
        int nnew = 0;
        pid_t newpid = -1;
        for (int i = 0; i < n; i++) {
            if (!pid_in(cur[i], before, nbefore)) {
                nnew++;
                newpid = cur[i];
            }
        }
        if (n == DRILL_WORKERS + 1 && !pid_in(victim, cur, n) && nnew == 1) {
            if (same_set(cur, n, cand, ncand)) {
                if (now - cand_since >= stable_ms) {
                    long long took = cand_since - killed_at;
                    d->respawns++;
                    d->respawn_total_ms += took;
                    if (took > d->respawn_max_ms)
                        d->respawn_max_ms = took;
                    note_seen(d, newpid, cand_since);
                    *fresh = newpid;
                    return true;
                }
            } else {
                memcpy(cand, cur, (size_t)n * sizeof *cur);
                ncand = n;
                cand_since = now;
            }
        } else {
            ncand = -1;
        }
        if (!supervisor_ok(d))
            return false;
        if (now > deadline) {
            char list[512];
            size_t pos = 0;
            list[0] = '\0';
            for (int i = 0; i < n && pos + 16 < sizeof list; i++)
                pos += (size_t)snprintf(list + pos, sizeof list - pos, " %d", (int)cur[i]);
            record_failure("%s pid %d was SIGKILLed and no replacement settled within %d ms "
                           "(children now:%s; expected %d)", hk_victim ? "housekeeper" : "worker",
                           (int)victim, RESPAWN_TIMEOUT_MS, list, DRILL_WORKERS + 1);
            return false;
        }
        sleep_ms(SCAN_INTERVAL_MS);
    }
}

/* Waits until a fresh connection on a worker other than W0 answers PING; notes whether
 * it was the replacement itself. */
static bool wait_serving(drill *d, pid_t replacement)
{
    long long deadline = mono_now() + SERVE_TIMEOUT_MS;
    while (mono_now() < deadline) {
        landed b[PROBE_BURST];
        probe_burst(b, PROBE_BURST);
        bool served = false;
        for (int i = 0; i < PROBE_BURST && !served; i++) {
            if (!b[i].c || b[i].pid == g_w0)
                continue;
            if (b[i].pid == d->hk)
                record_failure("pid %d, taken for the housekeeper, answered INFO as worker %d",
                               (int)d->hk, b[i].slot);
            kv_reply *r = conn_cmd(b[i].c, "PING", NULL);
            if (r && r->type == KV_REPLY_STATUS && kv_reply_is_str(r, "PONG")) {
                served = true;
                d->replacements_reached += b[i].pid == replacement;
            }
            kv_reply_free(r);
        }
        close_burst(b, PROBE_BURST, -1);
        if (served)
            return true;
        if (!supervisor_ok(d))
            return false;
        sleep_ms(SCAN_INTERVAL_MS);
    }
    record_failure("no worker other than W0 answered PING within %d ms after a respawn",
                   SERVE_TIMEOUT_MS);
    return false;
}

/* The live non-W0 worker serving the most writers right now, as the writers learned
 * from INFO on their connections. Returns the number of writers on it (0: none). */
static int victim_from_writers(drill *d, landed *v)
{
    pid_t kids[MAX_CHILDREN];
    int nkids = list_children(d->sup, kids, MAX_CHILDREN);
    if (nkids > MAX_CHILDREN)
        nkids = MAX_CHILDREN;
    pid_t pids[N_WRITERS];
    int slots[N_WRITERS], counts[N_WRITERS], n = 0, best = -1;
    for (int i = 0; i < N_WRITERS; i++) {
        long long sb = __atomic_load_n(&g_writers[i].served_by, __ATOMIC_ACQUIRE);
        pid_t pid = (pid_t)(sb / 16);
        if (sb == 0 || pid == g_w0 || !pid_in(pid, kids, nkids < 0 ? 0 : nkids))
            continue;
        if (pid == d->hk) {
            record_failure("pid %d, taken for the housekeeper, answered INFO as worker %d",
                           (int)pid, (int)(sb % 16));
            continue;
        }
        int j = 0;
        while (j < n && pids[j] != pid)
            j++;
        if (j == n) {
            pids[n] = pid;
            slots[n] = (int)(sb % 16);
            counts[n++] = 0;
        }
        counts[j]++;
        if (best < 0 || counts[j] > counts[best])
            best = j;
    }
    if (best < 0)
        return 0;
    v->c = NULL;
    v->pid = pids[best];
    v->slot = slots[best];
    return counts[best];
}

/* SIGKILLs one worker other than W0 - preferably one serving writers, else one found
 * through INFO on a fresh connection - and waits for its replacement to serve. */
static bool kill_one_worker(drill *d)
{
    landed v = { NULL, -1, -1 };
    int with_writers = victim_from_writers(d, &v);
    long long deadline = mono_now() + VICTIM_SEARCH_MS;
    while (!with_writers && !v.c) {
        if (mono_now() > deadline) {
            record_failure("no connection landed on a worker other than W0 within %d ms",
                           VICTIM_SEARCH_MS);
            return false;
        }
        landed b[PROBE_BURST];
        probe_burst(b, PROBE_BURST);
        int pick = -1;
        for (int i = 0; i < PROBE_BURST; i++) {
            if (!b[i].c)
                continue;
            if (b[i].pid == d->hk)
                record_failure("pid %d, taken for the housekeeper, answered INFO as worker %d",
                               (int)d->hk, b[i].slot);
            else if (pick < 0 && b[i].pid != g_w0)
                pick = i;
        }
        if (pick >= 0)
            v = b[pick];
        close_burst(b, PROBE_BURST, pick);
        if (!v.c && !supervisor_ok(d))
            return false;
    }

    /* The supervisor respawns at once unless a slot had more than MAX_QUICK_STREAK
     * deaths in a row within QUICK_DEATH_MS of their start: stay below that. Our
     * sighting time is later than the real start, so "quick" is judged pessimistically. */
    long long born = seen_ms(d, v.pid);
    if (born < 0) {
        born = mono_now();
        note_seen(d, v.pid, born);
    }
    long long age = mono_now() - born;
    bool quick = age < QUICK_DEATH_MS + QUICK_MARGIN_MS;
    if (quick && d->quick_streak[v.slot] >= MAX_QUICK_STREAK) {
        long long wait = QUICK_DEATH_MS + QUICK_MARGIN_MS - age;
        if (wait > d->max_pause_ms)
            d->max_pause_ms = wait;
        sleep_ms((long)wait);
        quick = false;
    }

    pid_t before[MAX_CHILDREN];
    int nbefore = list_children(d->sup, before, MAX_CHILDREN);
    if (nbefore > MAX_CHILDREN)
        nbefore = MAX_CHILDREN;
    if (!pid_in(v.pid, before, nbefore < 0 ? 0 : nbefore)) {
        /* died on its own between INFO and now: not ours to count, the next round
         * notices a missing child */
        conn_close(v.c);
        record_failure("worker pid %d (slot %d) vanished without being signalled", (int)v.pid,
                       v.slot);
        return false;
    }
    if (kill(v.pid, SIGKILL) != 0) {
        record_failure("kill(%d, SIGKILL): %s", (int)v.pid, strerror(errno));
        conn_close(v.c);
        return false;
    }
    long long killed_at = mono_now();
    conn_close(v.c);
    d->worker_kills++;
    d->kills_with_writers += with_writers > 0;
    d->quick_kills += quick;
    d->quick_streak[v.slot] = quick ? d->quick_streak[v.slot] + 1 : 0;

    pid_t fresh = -1;
    if (!wait_respawn(d, v.pid, before, nbefore, killed_at, STABLE_MS, &fresh))
        return false;
    return wait_serving(d, fresh);
}

/* SIGKILLs the housekeeper and waits for the supervisor to start a new one. */
static bool kill_housekeeper(drill *d)
{
    long long age = mono_now() - d->hk_seen_ms;
    if (age < QUICK_DEATH_MS + QUICK_MARGIN_MS)
        sleep_ms((long)(QUICK_DEATH_MS + QUICK_MARGIN_MS - age));
    pid_t before[MAX_CHILDREN];
    int nbefore = list_children(d->sup, before, MAX_CHILDREN);
    if (nbefore > MAX_CHILDREN)
        nbefore = MAX_CHILDREN;
    if (!pid_in(d->hk, before, nbefore < 0 ? 0 : nbefore)) {
        record_failure("the housekeeper (pid %d) vanished without being signalled", (int)d->hk);
        return false;
    }
    if (kill(d->hk, SIGKILL) != 0) {
        record_failure("kill(%d, SIGKILL): %s", (int)d->hk, strerror(errno));
        return false;
    }
    long long killed_at = mono_now();
    d->hk_kills++;
    pid_t fresh = -1;
    if (!wait_respawn(d, d->hk, before, nbefore, killed_at, HK_STABLE_MS, &fresh))
        return false;
    d->hk = fresh;
    d->hk_seen_ms = seen_ms(d, fresh);
    return true;
}

static void add_worker(pid_t *workers, int *n, pid_t pid)
{
    if (pid > 0 && !pid_in(pid, workers, *n) && *n < DRILL_WORKERS)
        workers[(*n)++] = pid;
}

/* Learns every worker's pid through INFO - on our own bursts of connections and on the
 * writers' connections (run it while the writers run: busy workers spread incoming
 * connections far better than idle ones) - before any kill. The one other child of
 * the supervisor is the housekeeper. */
static bool discover_children(drill *d, char *err, size_t cap)
{
    pid_t workers[DRILL_WORKERS];
    int nworkers = 0;
    add_worker(workers, &nworkers, g_w0);
    long long deadline = mono_now() + DISCOVERY_TIMEOUT_MS;
    pid_t kids[MAX_CHILDREN];
    int nkids = 0;
    while (mono_now() < deadline) {
        landed b[DISCOVERY_BURST];
        probe_burst(b, DISCOVERY_BURST);
        for (int i = 0; i < DISCOVERY_BURST; i++)
            if (b[i].c)
                add_worker(workers, &nworkers, b[i].pid);
        close_burst(b, DISCOVERY_BURST, -1);
        for (int i = 0; i < N_WRITERS; i++)
            add_worker(workers, &nworkers,
                       (pid_t)(__atomic_load_n(&g_writers[i].served_by, __ATOMIC_ACQUIRE) / 16));
        nkids = list_children(d->sup, kids, MAX_CHILDREN);
        if (nkids > MAX_CHILDREN)
            nkids = MAX_CHILDREN;
        bool all_children = nkids == DRILL_WORKERS + 1;
        for (int i = 0; i < nworkers; i++)
            all_children &= pid_in(workers[i], kids, nkids);
        if (nworkers == DRILL_WORKERS && all_children) {
            long long now = mono_now();
            for (int i = 0; i < nkids; i++) {
                note_seen(d, kids[i], now);
                if (!pid_in(kids[i], workers, nworkers)) {
                    d->hk = kids[i];
                    d->hk_seen_ms = now;
                }
            }
            return true;
        }
        sleep_ms(SCAN_INTERVAL_MS);
    }
    snprintf(err, cap, "within %d ms INFO showed %d of %d workers and the supervisor (pid %d) "
             "has %d children (expected %d)", DISCOVERY_TIMEOUT_MS, nworkers, DRILL_WORKERS,
             (int)d->sup, nkids, DRILL_WORKERS + 1);
    return false;
}

/* Opens a connection served by W0 (open and close until one lands there). */
static kv_conn *open_on_w0(void)
{
    long long deadline = mono_now() + DISCOVERY_TIMEOUT_MS;
    while (mono_now() < deadline) {
        kv_conn *c = conn_open(g_port);
        if (!c)
            continue;
        conn_set_timeout(c, PROBE_TIMEOUT_MS);
        kv_reply *r = conn_cmd(c, "INFO", "server", NULL);
        pid_t pid = -1;
        int slot = -1;
        char err[400];
        bool on = r && parse_worker_info(r, &pid, &slot, err, sizeof err) == 1 && pid == g_w0;
        kv_reply_free(r);
        if (on)
            return c;
        conn_close(c);
    }
    return NULL;
}

/* Waits until the supervisor's live children are stable at workers+1 (no sweeper). */
static int settled_children(drill *d, pid_t *kids)
{
    long long deadline = mono_now() + FINAL_SETTLE_MS;
    pid_t prev[MAX_CHILDREN];
    int nprev = -1, n = 0;
    long long since = 0;
    for (;;) {
        n = list_children(d->sup, kids, MAX_CHILDREN);
        if (n > MAX_CHILDREN)
            n = MAX_CHILDREN;
        long long now = mono_now();
        if (same_set(kids, n, prev, nprev)) {
            if (n == DRILL_WORKERS + 1 && now - since >= HK_STABLE_MS)
                return n;
        } else {
            memcpy(prev, kids, (size_t)(n > 0 ? n : 0) * sizeof *kids);
            nprev = n;
            since = now;
        }
        if (now > deadline)
            return n;
        sleep_ms(SCAN_INTERVAL_MS);
    }
}

/* ---- final checks (main thread, writers stopped) -------------------------------------- */

static kv_reply *final_cmd(kv_conn *c, const char *what, const char *arg0, ...)
    __attribute__((sentinel));
static kv_reply *final_cmd(kv_conn *c, const char *what, const char *arg0, ...)
{
    va_list ap;
    va_start(ap, arg0);
    kv_reply *r = conn_cmd_va(c, arg0, ap);
    va_end(ap);
    if (!r)
        record_failure("final check: %s got no reply: %s", what, conn_error(c));
    return r;
}

static void check_incr(kv_conn *c, const writer *w)
{
    char key[64], got[300];
    snprintf(key, sizeof key, "drill/ctr:%d", w->id);
    kv_reply *r = final_cmd(c, "GET", "GET", key, NULL);
    if (!r)
        return;
    long long v = -1;
    if (r->type == KV_REPLY_BULK) {
        char *end;
        v = strtoll(r->str, &end, 10);
        if (*end || r->len == 0)
            v = -1;
    }
    if (v < w->acked || v > w->acked + w->lost)
        record_failure("INCR writer %d: %s is %s, expected an integer in [%lld, %lld] "
                       "(acked %lld, lost %lld)", w->id, key, kv_reply_describe(r, got, sizeof got),
                       w->acked, w->acked + w->lost, w->acked, w->lost);
    kv_reply_free(r);
}

static void check_mset(kv_conn *c, const writer *w)
{
    char keys[MSET_KEYS][64], why[700];
    const char *argv[1 + MSET_KEYS];
    mset_mget_argv(w, keys, argv);
    kv_reply *r = conn_cmdv(c, 1 + MSET_KEYS, argv, NULL);
    if (!r)
        record_failure("final check: MGET got no reply: %s", conn_error(c));
    else if (!mset_consistent(w, r, why, sizeof why))
        record_failure("MSET writer %d after the drill: %s", w->id, why);
    kv_reply_free(r);
}

static void check_append(kv_conn *c, const writer *w)
{
    char key[64], got[300];
    snprintf(key, sizeof key, "drill/a:%d", w->id);
    kv_reply *r = final_cmd(c, "GET", "GET", key, NULL);
    if (!r)
        return;
    long long k = r->type == KV_REPLY_NIL ? 0
                : r->type == KV_REPLY_BULK ? append_prefix_count(r->str, r->len) : -1;
    /* every acknowledged number present, in order, once; at most the ones sent */
    long long lo = w->last_acked + 1, hi = w->last_attempted + 1;
    if (k < lo || k > hi || k < w->acked)
        record_failure("APPEND writer %d: %s is %s (%lld elements of \"0;1;...\"), expected "
                       "\"0;...;(k-1);\" with k in [%lld, %lld] (acked %lld)", w->id, key,
                       kv_reply_describe(r, got, sizeof got), k, lo, hi, w->acked);
    kv_reply_free(r);
}

/* ---- the test ------------------------------------------------------------------------ */

static void test_crash_drill(void **state)
{
    if (srv_target_is_redis())
        skip();
    long long t_start = mono_now();
    const char *env[] = { "KVNS_WORKERS=3", NULL };
    kv_server *srv = srv_start(env);
    assert_non_null(srv);
    g_port = srv_port(srv);

    static drill d;              /* large; the test runs once */
    memset(&d, 0, sizeof d);
    d.srv = srv;
    d.sup = srv_pid(srv);

    static observer obs[N_OBSERVERS];
    writer *wr = g_writers;
    memset(obs, 0, sizeof obs);
    memset(g_writers, 0, sizeof g_writers);
    char err[512] = "";
    kv_conn *ctl = conn_open(g_port);
    if (ctl)
        conn_set_timeout(ctl, PROBE_TIMEOUT_MS);
    kv_reply *r = ctl ? conn_cmd(ctl, "FLUSHALL", NULL) : NULL;
    if (!r || !kv_reply_is_str(r, "OK") || r->type != KV_REPLY_STATUS) {
        char got[300];
        snprintf(err, sizeof err, "FLUSHALL before the drill: %s",
                 kv_reply_describe(r, got, sizeof got));
    }
    kv_reply_free(r);
    /* W0: the worker of the first connection that INFO places on a worker. */
    if (!*err) {
        int slot;
        r = conn_cmd(ctl, "INFO", "server", NULL);
        if (parse_worker_info(r, &g_w0, &slot, err, sizeof err) != 1)
            g_w0 = -1;      /* err says why */
        kv_reply_free(r);
    }
    for (int i = 0; i < N_OBSERVERS && !*err; i++) {
        obs[i].id = i;
        obs[i].c = open_on_w0();
        if (!obs[i].c)
            snprintf(err, sizeof err, "no connection landed on W0 (pid %d) within %d ms",
                     (int)g_w0, DISCOVERY_TIMEOUT_MS);
    }
    if (*err) {
        conn_close(ctl);
        for (int i = 0; i < N_OBSERVERS; i++)
            conn_close(obs[i].c);
        srv_print_log_tail(srv, 40);
        setenv("KVNS_TEST_KEEP_LOGS", "1", 1);
        srv_stop(srv);
        it_fail("%s", err);
    }
    for (int i = 0; i < N_WRITERS; i++) {
        wr[i].id = i;
        wr[i].kind = i < N_INCR_WRITERS ? W_INCR
                   : i < N_INCR_WRITERS + N_MSET_WRITERS ? W_MSET : W_APPEND;
        wr[i].last_attempted = wr[i].last_acked = wr[i].kind == W_APPEND ? -1 : 0;
        wr[i].rng = (unsigned)t_start * 2654435761u + (unsigned)i;
    }

    /* From here on no cmocka assertion until every thread is joined. */
    __atomic_store_n(&g_stop_writers, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&g_stop_observers, 0, __ATOMIC_RELEASE);
    int nobs = 0, nwr = 0;
    for (; nobs < N_OBSERVERS; nobs++) {
        int rc = pthread_create(&obs[nobs].tid, NULL, observer_main, &obs[nobs]);
        if (rc) {
            record_failure("pthread_create: %s", strerror(rc));
            break;
        }
    }
    for (; nwr < N_WRITERS && failure_count() == 0; nwr++) {
        int rc = pthread_create(&wr[nwr].tid, NULL, writer_main, &wr[nwr]);
        if (rc) {
            record_failure("pthread_create: %s", strerror(rc));
            break;
        }
    }
    sleep_ms(WARMUP_MS);
    if (failure_count() == 0 && !discover_children(&d, err, sizeof err))
        record_failure("%s", err);

    unsigned rng = (unsigned)getpid() ^ (unsigned)t_start;
    long long kill_deadline = mono_now() + KILL_PHASE_LIMIT_MS;
    long long kill_started = mono_now();
    while (failure_count() == 0 &&
           (d.worker_kills < MIN_WORKER_KILLS || d.hk_kills < HOUSEKEEPER_KILLS)) {
        if (mono_now() > kill_deadline) {
            record_failure("only %d worker kills and %d housekeeper kills within %d ms "
                           "(want %d and %d)", d.worker_kills, d.hk_kills, KILL_PHASE_LIMIT_MS,
                           MIN_WORKER_KILLS, HOUSEKEEPER_KILLS);
            break;
        }
        bool hk_turn = d.hk_kills < HOUSEKEEPER_KILLS &&
                       (d.worker_kills >= MIN_WORKER_KILLS ||
                        d.worker_kills >= (d.hk_kills + 1) * HK_KILL_EVERY - HK_KILL_EVERY / 2);
        if (!(hk_turn ? kill_housekeeper(&d) : kill_one_worker(&d)))
            break;
        sleep_ms(KILL_PACE_MIN_MS +
                 (long)(rand_r(&rng) % (KILL_PACE_MAX_MS - KILL_PACE_MIN_MS + 1)));
    }
    long long kill_phase_ms = mono_now() - kill_started;

    __atomic_store_n(&g_stop_writers, 1, __ATOMIC_RELEASE);
    for (int i = 0; i < nwr; i++)
        pthread_join(wr[i].tid, NULL);
    __atomic_store_n(&g_stop_observers, 1, __ATOMIC_RELEASE);
    for (int i = 0; i < nobs; i++)
        pthread_join(obs[i].tid, NULL);

    /* ---- verdict ---- */
    bool server_up = supervisor_ok(&d);
    kv_conn *fc = server_up ? conn_open(g_port) : NULL;
    if (fc) {
        conn_set_timeout(fc, WRITER_TIMEOUT_MS);
        r = final_cmd(fc, "DEBUG CHECK", "DEBUG", "CHECK", NULL);
        char got[600];
        if (r && !(r->type == KV_REPLY_STATUS && kv_reply_is_str(r, "OK")))
            record_failure("DEBUG CHECK after the drill: %s", kv_reply_describe(r, got, sizeof got));
        kv_reply_free(r);
        for (int i = 0; i < N_WRITERS; i++) {
            if (wr[i].acked == 0)
                record_failure("%s writer %d made no acknowledged progress", kind_name[wr[i].kind],
                               wr[i].id);
            if (wr[i].kind == W_INCR)
                check_incr(fc, &wr[i]);
            else if (wr[i].kind == W_MSET)
                check_mset(fc, &wr[i]);
            else
                check_append(fc, &wr[i]);
        }
        /* every writer acked at least once and every observer SET its key */
        long long want = N_INCR_WRITERS + (long long)N_MSET_WRITERS * MSET_KEYS +
                         N_APPEND_WRITERS + N_OBSERVERS;
        r = final_cmd(fc, "DBSIZE", "DBSIZE", NULL);
        if (r && !(r->type == KV_REPLY_INTEGER && r->integer == want))
            record_failure("DBSIZE after the drill is %s, expected %lld",
                           kv_reply_describe(r, got, sizeof got), want);
        kv_reply_free(r);
        conn_close(fc);
    } else if (server_up) {
        record_failure("cannot connect after the drill");
    }
    if (server_up) {
        pid_t kids[MAX_CHILDREN];
        int n = settled_children(&d, kids);
        if (n != DRILL_WORKERS + 1)
            record_failure("after the drill the supervisor has %d live children, expected %d",
                           n, DRILL_WORKERS + 1);
        if (!pid_in(g_w0, kids, n > 0 ? n : 0))
            record_failure("W0 (pid %d) is not a child of the supervisor after the drill",
                           (int)g_w0);
        if (d.hk > 0 && !pid_in(d.hk, kids, n > 0 ? n : 0))
            record_failure("the housekeeper (pid %d) is not a child of the supervisor after "
                           "the drill", (int)d.hk);
    }
    bool observers_ok = true;
    long long obs_ops = 0;
    for (int i = 0; i < N_OBSERVERS; i++) {
        observers_ok &= !obs[i].failed;
        obs_ops += obs[i].ops;
        conn_close(obs[i].c);
    }
    conn_close(ctl);

    long long acked[3] = { 0 }, lost[3] = { 0 }, connects = 0, on_w0 = 0;
    for (int i = 0; i < N_WRITERS; i++) {
        acked[wr[i].kind] += wr[i].acked;
        lost[wr[i].kind] += wr[i].lost;
        connects += wr[i].connects;
        on_w0 += wr[i].on_w0;
    }
    print_message("crash drill: %d worker kills (%d hit writers, %d within %d ms of start) and "
                  "%d housekeeper kills in %lld ms; respawn avg %lld ms, max %lld ms; %d of %d "
                  "replacements answered INFO directly; longest wait to avoid back-off %lld ms\n",
                  d.worker_kills, d.kills_with_writers, d.quick_kills,
                  QUICK_DEATH_MS + QUICK_MARGIN_MS, d.hk_kills, kill_phase_ms,
                  d.respawns ? d.respawn_total_ms / d.respawns : 0, d.respawn_max_ms,
                  d.replacements_reached, d.worker_kills, d.max_pause_ms);
    print_message("crash drill: acked INCR %lld / MSET %lld / APPEND %lld, lost attempts "
                  "%lld / %lld / %lld; writer connects %lld (%lld on W0); observers %lld ops "
                  "on W0 %s\n", acked[W_INCR], acked[W_MSET], acked[W_APPEND], lost[W_INCR],
                  lost[W_MSET], lost[W_APPEND], connects, on_w0, obs_ops,
                  observers_ok ? "without error" : "WITH ERRORS");

    int nfail = failure_count();
    if (nfail) {
        for (int i = 0; i < nfail && i < MAX_FAIL_MSGS; i++)
            print_error("crash drill failure %d: %s\n", i + 1, g_fail_msgs[i]);
        if (nfail > MAX_FAIL_MSGS)
            print_error("crash drill: %d more failures not shown\n", nfail - MAX_FAIL_MSGS);
        srv_print_log_tail(srv, 40);
        setenv("KVNS_TEST_KEEP_LOGS", "1", 1);   /* srv_stop keeps the log and says where */
    }
    int rc = srv_stop(srv);
    if (nfail)
        it_fail("crash drill: %d failure(s), first: %s", nfail, g_fail_msgs[0]);
    if (rc != 0 && rc != 128 + SIGTERM)
        it_fail("kvns exited with status %d after SIGTERM", rc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crash_drill),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
