/* harness_drill.c - shared machinery of the crash drills; see harness_drill.h. */
#include "harness_drill.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PROBE_BURST            4      /* connections opened back to back by probe_burst */
#define WRITER_BURST           3      /* burst size of a writer's (re)connect */
#define DISCOVERY_BURST        8      /* burst size while learning every worker's pid */
#define VICTIM_SEARCH_MS       3000   /* finding a connection on a non-W0 worker */
#define RESPAWN_TIMEOUT_MS     3000   /* kill -> supervisor has workers+1 children again */
#define STABLE_MS              20     /* child set unchanged this long (not a sweeper) */
#define HK_STABLE_MS           100    /* same for a new housekeeper */
#define SERVE_TIMEOUT_MS       3000   /* replacement in place -> a non-W0 worker PONGs */
#define MAX_QUICK_STREAK       3      /* the supervisor backs off after more in a row */
#define WRITER_ROTATE_MIN_MS   30     /* a writer moves to a fresh connection after a */
#define WRITER_ROTATE_MAX_MS   150    /* random time in this range (re-spreads writers) */
#define FINAL_SETTLE_MS        3000   /* after the kills: child set back to workers+1 */
#define SCAN_INTERVAL_MS       2
#define AIM_MAX_MS             20     /* aim_running: longest wait for a running victim */

/* ---- failures recorded by any thread ---------------------------------------------- */

static pthread_mutex_t g_fail_mu = PTHREAD_MUTEX_INITIALIZER;
static int g_fail_count;
static char g_fail_msgs[DRILL_MAX_FAIL_MSGS][512];

void drill_fail(const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&g_fail_mu);
    if (g_fail_count < DRILL_MAX_FAIL_MSGS)
        snprintf(g_fail_msgs[g_fail_count], sizeof g_fail_msgs[0], "%s", msg);
    g_fail_count++;
    pthread_mutex_unlock(&g_fail_mu);
}

int drill_failure_count(void)
{
    pthread_mutex_lock(&g_fail_mu);
    int n = g_fail_count;
    pthread_mutex_unlock(&g_fail_mu);
    return n;
}

const char *drill_failure(int i)
{
    return i >= 0 && i < DRILL_MAX_FAIL_MSGS ? g_fail_msgs[i] : "";
}

void drill_print_failures(const char *label)
{
    int nfail = drill_failure_count();
    for (int i = 0; i < nfail && i < DRILL_MAX_FAIL_MSGS; i++)
        print_error("%s failure %d: %s\n", label, i + 1, g_fail_msgs[i]);
    if (nfail > DRILL_MAX_FAIL_MSGS)
        print_error("%s: %d more failures not shown\n", label, nfail - DRILL_MAX_FAIL_MSGS);
}

/* ---- shared read-only drill parameters (set before any thread starts) ------------- */

static int g_port;
static int g_workers;              /* KVNS_WORKERS of the server */
static pid_t g_w0;                 /* the observer worker: never killed */
int drill_stop_writers;            /* __atomic flags */
int drill_stop_observers;

int drill_port(void) { return g_port; }
pid_t drill_w0(void) { return g_w0; }
bool drill_stopping(const int *flag) { return __atomic_load_n(flag, __ATOMIC_ACQUIRE); }

long long drill_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- INFO and landing connections on workers --------------------------------------- */

int drill_parse_worker_info(const kv_reply *r, pid_t *pid, int *slot, char *err, size_t cap)
{
    if (r && (r->type == KV_REPLY_BULK || r->type == KV_REPLY_VERBATIM)) {
        long long p = info_text_ll(r->str, "process_id", -1);
        long long s = info_text_ll(r->str, "kvns_worker_slot", -1);
        if (p > 0 && s >= 0 && s < g_workers) {
            *pid = (pid_t)p;
            *slot = (int)s;
            return 1;
        }
    }
    char got[300];
    snprintf(err, cap, "INFO server lacks process_id/kvns_worker_slot (0..%d): %s",
             g_workers - 1, kv_reply_describe(r, got, sizeof got));
    return -1;
}

/* Opens n connections back to back, then asks each which worker serves it (INFO
 * pipelined after all connects, so the connections arrive close together and spread
 * over the workers). Failed connections come back with c == NULL. Returns the number
 * of usable entries; a malformed INFO is recorded as a failure. */
int drill_probe_burst(drill_landed *out, int n)
{
    for (int i = 0; i < n; i++) {
        out[i].c = conn_open(g_port);
        out[i].pid = -1;
        out[i].slot = -1;
    }
    for (int i = 0; i < n; i++)
        if (out[i].c)
            conn_set_timeout(out[i].c, DRILL_PROBE_TIMEOUT_MS);
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
        if (!r || drill_parse_worker_info(r, &out[i].pid, &out[i].slot, err, sizeof err) != 1) {
            if (r)
                drill_fail("%s", err);
            conn_close(out[i].c);
            out[i].c = NULL;
        } else {
            ok++;
        }
        kv_reply_free(r);
    }
    return ok;
}

void drill_close_burst(drill_landed *out, int n, int keep)
{
    for (int i = 0; i < n; i++) {
        if (i != keep && out[i].c) {
            conn_close(out[i].c);
            out[i].c = NULL;
        }
    }
}

kv_conn *drill_open_on_w0(void)
{
    long long deadline = drill_now_ms() + DRILL_DISCOVERY_TIMEOUT_MS;
    while (drill_now_ms() < deadline) {
        kv_conn *c = conn_open(g_port);
        if (!c)
            continue;
        conn_set_timeout(c, DRILL_PROBE_TIMEOUT_MS);
        kv_reply *r = conn_cmd(c, "INFO", "server", NULL);
        pid_t pid = -1;
        int slot = -1;
        char err[400];
        bool on = r && drill_parse_worker_info(r, &pid, &slot, err, sizeof err) == 1 &&
                  pid == g_w0;
        kv_reply_free(r);
        if (on)
            return c;
        conn_close(c);
    }
    return NULL;
}

/* ---- /proc: the supervisor's children ----------------------------------------------- */

int drill_list_children(pid_t parent, pid_t *out, int cap)
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

bool drill_pid_in(pid_t pid, const pid_t *set, int n)
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
        if (!drill_pid_in(a[i], b, nb))
            return false;
    return true;
}

/* children of the supervisor, clamped to DRILL_MAX_CHILDREN */
static int children(pid_t parent, pid_t *out)
{
    int n = drill_list_children(parent, out, DRILL_MAX_CHILDREN);
    return n > DRILL_MAX_CHILDREN ? DRILL_MAX_CHILDREN : n;
}

/* ---- reconnecting writer connections ------------------------------------------------- */

/* (Re)connects (cl->c), preferring a worker other than W0; false once stopping. */
static bool client_connect(drill_client *cl)
{
    while (!drill_stopping(&drill_stop_writers)) {
        drill_landed b[WRITER_BURST];
        drill_probe_burst(b, WRITER_BURST);
        int pick = -1;
        for (int i = 0; i < WRITER_BURST && pick < 0; i++)
            if (b[i].c && b[i].pid != g_w0)
                pick = i;
        for (int i = 0; i < WRITER_BURST && pick < 0; i++)
            if (b[i].c)
                pick = i;
        drill_close_burst(b, WRITER_BURST, pick);
        if (pick < 0) {
            sleep_ms(2);
            continue;
        }
        cl->connects++;
        cl->on_w0 += b[pick].pid == g_w0;
        cl->c = b[pick].c;
        cl->pid = b[pick].pid;
        cl->rotate_at = drill_now_ms() + WRITER_ROTATE_MIN_MS +
                        rand_r(&cl->rng) % (WRITER_ROTATE_MAX_MS - WRITER_ROTATE_MIN_MS + 1);
        conn_set_timeout(cl->c, DRILL_WRITER_TIMEOUT_MS);
        __atomic_store_n(&cl->served_by, (long long)cl->pid * 16 + b[pick].slot,
                         __ATOMIC_RELEASE);
        return true;
    }
    return false;
}

void drill_client_disconnect(drill_client *cl)
{
    __atomic_store_n(&cl->served_by, 0, __ATOMIC_RELEASE);
    conn_close(cl->c);
    cl->c = NULL;
}

bool drill_client_ready(drill_client *cl, bool may_rotate)
{
    if (cl->c && may_rotate && drill_now_ms() >= cl->rotate_at)
        drill_client_disconnect(cl);
    return cl->c || client_connect(cl);
}

void drill_client_failed(drill_client *cl, const char *cmd)
{
    if (conn_timed_out(cl->c))
        drill_fail("%s: %s got no reply within %d ms from worker pid %d", cl->name, cmd,
                   DRILL_WRITER_TIMEOUT_MS, (int)cl->pid);
    else if (cl->pid == g_w0)
        drill_fail("%s: %s on W0 (pid %d, never killed) failed: %s", cl->name, cmd,
                   (int)cl->pid, conn_error(cl->c));
    drill_client_disconnect(cl);
}

void drill_client_bad_reply(const drill_client *cl, const char *cmd, const kv_reply *r)
{
    char got[300];
    drill_fail("%s: unexpected reply to %s: %s", cl->name, cmd,
               kv_reply_describe(r, got, sizeof got));
}

/* ---- observers: SET/GET on W0, which is never killed --------------------------------- */

static void *observer_main(void *arg)
{
    drill_observer *o = arg;
    char key[64], val[64];
    snprintf(key, sizeof key, "drill/obs:%d", o->id);
    conn_set_timeout(o->c, DRILL_OBSERVER_TIMEOUT_MS);
    for (long long seq = 1; !drill_stopping(&drill_stop_observers); seq++) {
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
            drill_fail("observer %d on W0 (pid %d): %s %s after %lld ops: %s%s%s", o->id,
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

int drill_start_observers(drill_observer *obs, int n)
{
    int started = 0;
    for (; started < n; started++) {
        int rc = pthread_create(&obs[started].tid, NULL, observer_main, &obs[started]);
        if (rc) {
            drill_fail("pthread_create: %s", strerror(rc));
            break;
        }
    }
    return started;
}

void drill_join_observers(drill_observer *obs, int n)
{
    __atomic_store_n(&drill_stop_observers, 1, __ATOMIC_RELEASE);
    for (int i = 0; i < n; i++)
        pthread_join(obs[i].tid, NULL);
}

/* ---- the killer (main thread) ------------------------------------------------------- */

static void note_seen(drill *d, pid_t pid, long long ms)
{
    d->seen[d->nseen % DRILL_SEEN_SLOTS].pid = pid;
    d->seen[d->nseen % DRILL_SEEN_SLOTS].ms = ms;
    d->nseen++;
}

/* When we first saw pid as a child (an upper bound of its start), or -1. */
static long long seen_ms(const drill *d, pid_t pid)
{
    unsigned n = d->nseen < DRILL_SEEN_SLOTS ? d->nseen : DRILL_SEEN_SLOTS;
    for (unsigned i = 0; i < n; i++)
        if (d->seen[i].pid == pid)
            return d->seen[i].ms;
    return -1;
}

bool drill_supervisor_ok(drill *d)
{
    if (srv_alive(d->srv))
        return true;
    drill_fail("the supervisor (pid %d) exited during the drill", (int)d->sup);
    return false;
}

/* True when the server's log holds the supervisor's "child started" line for pid. The
 * supervisor forks a sweep helper after every death and the replacement only once the
 * helper exited; both are plain children of the supervisor, and a helper may live for
 * tens of milliseconds on a loaded machine, so a new child counts as the replacement
 * only once the supervisor logged it as a child (it never logs its sweep helpers). */
static bool child_logged(const drill *d, pid_t pid)
{
    FILE *f = fopen(d->srv->log_path, "r");
    if (!f)
        return false;
    char line[1024], want[48];
    int n = snprintf(want, sizeof want, " child_pid=%d", (int)pid);
    bool found = false;
    while (!found && fgets(line, sizeof line, f)) {
        char *at = strstr(line, want);
        found = at && strstr(line, "msg=\"child started\"") &&
                (at[n] == '\0' || at[n] == '\n' || at[n] == ' ');
    }
    fclose(f);
    return found;
}

/* After killing victim (a worker, or the housekeeper when victim == d->hk): waits until
 * the supervisor has workers+1 live children again, without victim, with exactly one
 * pid that was not there before the kill and that the supervisor logged as a child (not
 * its sweep helper: see child_logged), and that set stays the same for stable_ms.
 * *fresh receives the new pid. */
static bool wait_respawn(drill *d, pid_t victim, const pid_t *before, int nbefore,
                         long long killed_at, long long stable_ms, pid_t *fresh)
{
    bool hk_victim = victim == d->hk;
    long long deadline = killed_at + RESPAWN_TIMEOUT_MS;
    pid_t cur[DRILL_MAX_CHILDREN], cand[DRILL_MAX_CHILDREN];
    int ncand = -1;
    long long cand_since = 0;
    for (;;) {
        long long now = drill_now_ms();
        int n = children(d->sup, cur);
        if (n >= 0 && !drill_pid_in(g_w0, cur, n)) {
            drill_fail("W0 (pid %d, never signalled) is no longer a child of the supervisor",
                       (int)g_w0);
            return false;
        }
        if (n >= 0 && !hk_victim && !drill_pid_in(d->hk, cur, n)) {
            drill_fail("the housekeeper (pid %d, not signalled) is gone", (int)d->hk);
            return false;
        }
        int nnew = 0;
        pid_t newpid = -1;
        for (int i = 0; i < n; i++) {
            if (!drill_pid_in(cur[i], before, nbefore)) {
                nnew++;
                newpid = cur[i];
            }
        }
        if (n == d->workers + 1 && !drill_pid_in(victim, cur, n) && nnew == 1 &&
            (same_set(cur, n, cand, ncand) || child_logged(d, newpid))) {
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
        if (!drill_supervisor_ok(d))
            return false;
        if (now > deadline) {
            char list[512];
            size_t pos = 0;
            list[0] = '\0';
            for (int i = 0; i < n && pos + 16 < sizeof list; i++)
                pos += (size_t)snprintf(list + pos, sizeof list - pos, " %d", (int)cur[i]);
            drill_fail("%s pid %d was SIGKILLed and no replacement settled within %d ms "
                       "(children now:%s; expected %d)", hk_victim ? "housekeeper" : "worker",
                       (int)victim, RESPAWN_TIMEOUT_MS, list, d->workers + 1);
            return false;
        }
        sleep_ms(SCAN_INTERVAL_MS);
    }
}

/* Waits until a fresh connection on a worker other than W0 answers PING; notes whether
 * it was the replacement itself. */
static bool wait_serving(drill *d, pid_t replacement)
{
    long long deadline = drill_now_ms() + SERVE_TIMEOUT_MS;
    while (drill_now_ms() < deadline) {
        drill_landed b[PROBE_BURST];
        drill_probe_burst(b, PROBE_BURST);
        bool served = false;
        for (int i = 0; i < PROBE_BURST && !served; i++) {
            if (!b[i].c || b[i].pid == g_w0)
                continue;
            if (b[i].pid == d->hk)
                drill_fail("pid %d, taken for the housekeeper, answered INFO as worker %d",
                           (int)d->hk, b[i].slot);
            kv_reply *r = conn_cmd(b[i].c, "PING", NULL);
            if (r && r->type == KV_REPLY_STATUS && kv_reply_is_str(r, "PONG")) {
                served = true;
                d->replacements_reached += b[i].pid == replacement;
            }
            kv_reply_free(r);
        }
        drill_close_burst(b, PROBE_BURST, -1);
        if (served)
            return true;
        if (!drill_supervisor_ok(d))
            return false;
        sleep_ms(SCAN_INTERVAL_MS);
    }
    drill_fail("no worker other than W0 answered PING within %d ms after a respawn",
               SERVE_TIMEOUT_MS);
    return false;
}

/* The live non-W0 worker serving the most writers right now, as the writers learned
 * from INFO on their connections. Returns the number of writers on it (0: none). */
static int victim_from_writers(drill *d, drill_landed *v)
{
    pid_t kids[DRILL_MAX_CHILDREN];
    int nkids = children(d->sup, kids);
    pid_t pids[DRILL_MAX_CLIENTS];
    int slots[DRILL_MAX_CLIENTS], counts[DRILL_MAX_CLIENTS], n = 0, best = -1;
    for (int i = 0; i < d->nclients && i < DRILL_MAX_CLIENTS; i++) {
        long long sb = __atomic_load_n(&d->clients[i]->served_by, __ATOMIC_ACQUIRE);
        pid_t pid = (pid_t)(sb / 16);
        if (sb == 0 || pid == g_w0 || !drill_pid_in(pid, kids, nkids < 0 ? 0 : nkids))
            continue;
        if (pid == d->hk) {
            drill_fail("pid %d, taken for the housekeeper, answered INFO as worker %d",
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

/* Waits (AIM_MAX_MS at most) until pid is running - on a CPU or runnable, not blocked in
 * a system call such as epoll_wait - as /proc/<pid>/syscall tells. True when it was. */
static bool wait_running(pid_t pid)
{
    char path[64], buf[16];
    snprintf(path, sizeof path, "/proc/%d/syscall", (int)pid);
    long long deadline = drill_now_ms() + AIM_MAX_MS;
    do {
        FILE *f = fopen(path, "r");
        if (!f)
            return false;
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = '\0';
        if (strncmp(buf, "running", 7) == 0)
            return true;
    } while (drill_now_ms() < deadline);
    return false;
}

bool drill_kill_worker(drill *d)
{
    drill_landed v = { NULL, -1, -1 };
    int with_writers = victim_from_writers(d, &v);
    long long deadline = drill_now_ms() + VICTIM_SEARCH_MS;
    while (!with_writers && !v.c) {
        if (drill_now_ms() > deadline) {
            drill_fail("no connection landed on a worker other than W0 within %d ms",
                       VICTIM_SEARCH_MS);
            return false;
        }
        drill_landed b[PROBE_BURST];
        drill_probe_burst(b, PROBE_BURST);
        int pick = -1;
        for (int i = 0; i < PROBE_BURST; i++) {
            if (!b[i].c)
                continue;
            if (b[i].pid == d->hk)
                drill_fail("pid %d, taken for the housekeeper, answered INFO as worker %d",
                           (int)d->hk, b[i].slot);
            else if (pick < 0 && b[i].pid != g_w0)
                pick = i;
        }
        if (pick >= 0)
            v = b[pick];
        drill_close_burst(b, PROBE_BURST, pick);
        if (!v.c && !drill_supervisor_ok(d))
            return false;
    }

    /* The supervisor respawns at once unless a slot had more than MAX_QUICK_STREAK
     * deaths in a row within DRILL_QUICK_DEATH_MS of their start: stay below that. Our
     * sighting time is later than the real start, so "quick" is judged pessimistically. */
    long long born = seen_ms(d, v.pid);
    if (born < 0) {
        born = drill_now_ms();
        note_seen(d, v.pid, born);
    }
    long long age = drill_now_ms() - born;
    bool quick = age < DRILL_QUICK_DEATH_MS + DRILL_QUICK_MARGIN_MS;
    if (quick && d->quick_streak[v.slot] >= MAX_QUICK_STREAK) {
        long long wait = DRILL_QUICK_DEATH_MS + DRILL_QUICK_MARGIN_MS - age;
        if (wait > d->max_pause_ms)
            d->max_pause_ms = wait;
        sleep_ms((long)wait);
        quick = false;
    }

    pid_t before[DRILL_MAX_CHILDREN];
    int nbefore = children(d->sup, before);
    if (!drill_pid_in(v.pid, before, nbefore < 0 ? 0 : nbefore)) {
        /* died on its own between INFO and now: not ours to count, the next round
         * notices a missing child */
        conn_close(v.c);
        drill_fail("worker pid %d (slot %d) vanished without being signalled", (int)v.pid,
                   v.slot);
        return false;
    }
    bool aimed = d->aim_running && wait_running(v.pid);
    if (kill(v.pid, SIGKILL) != 0) {
        drill_fail("kill(%d, SIGKILL): %s", (int)v.pid, strerror(errno));
        conn_close(v.c);
        return false;
    }
    d->aimed_kills += aimed;
    long long killed_at = drill_now_ms();
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

bool drill_kill_housekeeper(drill *d)
{
    long long age = drill_now_ms() - d->hk_seen_ms;
    if (age < DRILL_QUICK_DEATH_MS + DRILL_QUICK_MARGIN_MS)
        sleep_ms((long)(DRILL_QUICK_DEATH_MS + DRILL_QUICK_MARGIN_MS - age));
    pid_t before[DRILL_MAX_CHILDREN];
    int nbefore = children(d->sup, before);
    if (!drill_pid_in(d->hk, before, nbefore < 0 ? 0 : nbefore)) {
        drill_fail("the housekeeper (pid %d) vanished without being signalled", (int)d->hk);
        return false;
    }
    if (kill(d->hk, SIGKILL) != 0) {
        drill_fail("kill(%d, SIGKILL): %s", (int)d->hk, strerror(errno));
        return false;
    }
    long long killed_at = drill_now_ms();
    d->hk_kills++;
    pid_t fresh = -1;
    if (!wait_respawn(d, d->hk, before, nbefore, killed_at, HK_STABLE_MS, &fresh))
        return false;
    d->hk = fresh;
    d->hk_seen_ms = seen_ms(d, fresh);
    return true;
}

static void add_worker(const drill *d, pid_t *workers, int *n, pid_t pid)
{
    if (pid > 0 && !drill_pid_in(pid, workers, *n) && *n < d->workers)
        workers[(*n)++] = pid;
}

/* Learns every worker's pid through INFO - on our own bursts of connections and on the
 * writers' connections (run it while the writers run: busy workers spread incoming
 * connections far better than idle ones) - before any kill. The one other child of
 * the supervisor is the housekeeper. */
bool drill_discover(drill *d, char *err, size_t cap)
{
    pid_t workers[DRILL_MAX_WORKERS];
    int nworkers = 0;
    add_worker(d, workers, &nworkers, g_w0);
    long long deadline = drill_now_ms() + DRILL_DISCOVERY_TIMEOUT_MS;
    pid_t kids[DRILL_MAX_CHILDREN];
    int nkids = 0;
    while (drill_now_ms() < deadline) {
        drill_landed b[DISCOVERY_BURST];
        drill_probe_burst(b, DISCOVERY_BURST);
        for (int i = 0; i < DISCOVERY_BURST; i++)
            if (b[i].c)
                add_worker(d, workers, &nworkers, b[i].pid);
        drill_close_burst(b, DISCOVERY_BURST, -1);
        for (int i = 0; i < d->nclients; i++)
            add_worker(d, workers, &nworkers,
                       (pid_t)(__atomic_load_n(&d->clients[i]->served_by, __ATOMIC_ACQUIRE) / 16));
        nkids = children(d->sup, kids);
        bool all_children = nkids == d->workers + 1;
        for (int i = 0; i < nworkers; i++)
            all_children &= drill_pid_in(workers[i], kids, nkids);
        if (nworkers == d->workers && all_children) {
            long long now = drill_now_ms();
            for (int i = 0; i < nkids; i++) {
                note_seen(d, kids[i], now);
                if (!drill_pid_in(kids[i], workers, nworkers)) {
                    d->hk = kids[i];
                    d->hk_seen_ms = now;
                }
            }
            return true;
        }
        sleep_ms(SCAN_INTERVAL_MS);
    }
    snprintf(err, cap, "within %d ms INFO showed %d of %d workers and the supervisor (pid %d) "
             "has %d children (expected %d)", DRILL_DISCOVERY_TIMEOUT_MS, nworkers, d->workers,
             (int)d->sup, nkids, d->workers + 1);
    return false;
}

long long drill_kill_phase(drill *d, int min_worker_kills, int hk_kills, long long limit_ms,
                           unsigned rng)
{
    int hk_kill_every = min_worker_kills / (hk_kills > 0 ? hk_kills : 1); /* worker kills apart */
    long long kill_deadline = drill_now_ms() + limit_ms;
    long long kill_started = drill_now_ms();
    while (drill_failure_count() == 0 &&
           (d->worker_kills < min_worker_kills || d->hk_kills < hk_kills)) {
        if (drill_now_ms() > kill_deadline) {
            drill_fail("only %d worker kills and %d housekeeper kills within %lld ms "
                       "(want %d and %d)", d->worker_kills, d->hk_kills, limit_ms,
                       min_worker_kills, hk_kills);
            break;
        }
        bool hk_turn = d->hk_kills < hk_kills &&
                       (d->worker_kills >= min_worker_kills ||
                        d->worker_kills >= (d->hk_kills + 1) * hk_kill_every - hk_kill_every / 2);
        if (!(hk_turn ? drill_kill_housekeeper(d) : drill_kill_worker(d)))
            break;
        sleep_ms(DRILL_KILL_PACE_MIN_MS +
                 (long)(rand_r(&rng) % (DRILL_KILL_PACE_MAX_MS - DRILL_KILL_PACE_MIN_MS + 1)));
    }
    return drill_now_ms() - kill_started;
}

/* Waits until the supervisor's live children are stable at workers+1 (no sweeper). */
static int settled_children(drill *d, pid_t *kids)
{
    long long deadline = drill_now_ms() + FINAL_SETTLE_MS;
    pid_t prev[DRILL_MAX_CHILDREN];
    int nprev = -1, n = 0;
    long long since = 0;
    for (;;) {
        n = children(d->sup, kids);
        long long now = drill_now_ms();
        if (same_set(kids, n, prev, nprev)) {
            if (n == d->workers + 1 && now - since >= HK_STABLE_MS)
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

void drill_check_children(drill *d)
{
    pid_t kids[DRILL_MAX_CHILDREN];
    int n = settled_children(d, kids);
    if (n != d->workers + 1)
        drill_fail("after the drill the supervisor has %d live children, expected %d", n,
                   d->workers + 1);
    if (!drill_pid_in(g_w0, kids, n > 0 ? n : 0))
        drill_fail("W0 (pid %d) is not a child of the supervisor after the drill", (int)g_w0);
    if (d->hk > 0 && !drill_pid_in(d->hk, kids, n > 0 ? n : 0))
        drill_fail("the housekeeper (pid %d) is not a child of the supervisor after the drill",
                   (int)d->hk);
}

/* ---- setup and teardown ------------------------------------------------------------- */

bool drill_begin(drill *d, kv_server *srv, int workers, drill_client *const *clients,
                 int nclients, drill_observer *obs, int nobs, char *err, size_t cap)
{
    memset(d, 0, sizeof *d);
    memset(obs, 0, (size_t)nobs * sizeof *obs);
    d->srv = srv;
    d->sup = srv_pid(srv);
    d->workers = workers < DRILL_MAX_WORKERS ? workers : DRILL_MAX_WORKERS;
    d->clients = clients;
    d->nclients = nclients < DRILL_MAX_CLIENTS ? nclients : DRILL_MAX_CLIENTS;
    g_port = srv_port(srv);
    g_workers = d->workers;
    g_w0 = -1;
    __atomic_store_n(&drill_stop_writers, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&drill_stop_observers, 0, __ATOMIC_RELEASE);
    pthread_mutex_lock(&g_fail_mu);
    g_fail_count = 0;            /* a binary may run several drills: each its own verdict */
    pthread_mutex_unlock(&g_fail_mu);
    err[0] = '\0';
    d->ctl = conn_open(g_port);
    if (d->ctl)
        conn_set_timeout(d->ctl, DRILL_PROBE_TIMEOUT_MS);
    kv_reply *r = d->ctl ? conn_cmd(d->ctl, "FLUSHALL", NULL) : NULL;
    if (!r || !kv_reply_is_str(r, "OK") || r->type != KV_REPLY_STATUS) {
        char got[300];
        snprintf(err, cap, "FLUSHALL before the drill: %s", kv_reply_describe(r, got, sizeof got));
    }
    kv_reply_free(r);
    /* W0: the worker of the first connection that INFO places on a worker. */
    if (!*err) {
        int slot;
        r = conn_cmd(d->ctl, "INFO", "server", NULL);
        if (drill_parse_worker_info(r, &g_w0, &slot, err, cap) != 1)
            g_w0 = -1;      /* err says why */
        kv_reply_free(r);
    }
    for (int i = 0; i < nobs && !*err; i++) {
        obs[i].id = i;
        obs[i].c = drill_open_on_w0();
        if (!obs[i].c)
            snprintf(err, cap, "no connection landed on W0 (pid %d) within %d ms", (int)g_w0,
                     DRILL_DISCOVERY_TIMEOUT_MS);
    }
    return !*err;
}

void drill_end(drill *d, drill_observer *obs, int nobs)
{
    for (int i = 0; i < nobs; i++) {
        conn_close(obs[i].c);
        obs[i].c = NULL;
    }
    conn_close(d->ctl);
    d->ctl = NULL;
}

/* ---- the run and the verdict ----------------------------------------------------------- */

void drill_abort(drill *d, drill_observer *obs, int nobs, kv_server *srv, const char *err)
{
    drill_end(d, obs, nobs);
    srv_print_log_tail(srv, 40);
    setenv("KVNS_TEST_KEEP_LOGS", "1", 1);
    srv_stop(srv);
    it_fail("%s", err);
}

int drill_run(drill *d, drill_observer *obs, int nobs, const drill_writers *w,
              long long warmup_ms, int min_worker_kills, int hk_kills, long long limit_ms,
              unsigned rng, long long *kill_phase_ms)
{
    char err[512];
    int started_obs = drill_start_observers(obs, nobs), nwr = 0;
    for (; nwr < w->n && drill_failure_count() == 0; nwr++) {
        int rc = pthread_create(&w->tids[nwr], NULL, w->main,
                                (char *)w->first + (size_t)nwr * w->stride);
        if (rc) {
            drill_fail("pthread_create: %s", strerror(rc));
            break;
        }
    }
    sleep_ms(warmup_ms);
    if (drill_failure_count() == 0 && !drill_discover(d, err, sizeof err))
        drill_fail("%s", err);
    *kill_phase_ms = drill_kill_phase(d, min_worker_kills, hk_kills, limit_ms, rng);
    __atomic_store_n(&drill_stop_writers, 1, __ATOMIC_RELEASE);
    for (int i = 0; i < nwr; i++)
        pthread_join(w->tids[i], NULL);
    drill_join_observers(obs, started_obs);
    return nwr;
}

kv_reply *drill_final_cmd(kv_conn *c, const char *what, const char *arg0, ...)
{
    va_list ap;
    va_start(ap, arg0);
    kv_reply *r = conn_cmd_va(c, arg0, ap);
    va_end(ap);
    if (!r)
        drill_fail("final check: %s got no reply: %s", what, conn_error(c));
    return r;
}

void drill_final_debug_check(kv_conn *c)
{
    char got[600];
    kv_reply *r = drill_final_cmd(c, "DEBUG CHECK", "DEBUG", "CHECK", NULL);
    if (r && !(r->type == KV_REPLY_STATUS && kv_reply_is_str(r, "OK")))
        drill_fail("DEBUG CHECK after the drill: %s", kv_reply_describe(r, got, sizeof got));
    kv_reply_free(r);
}

bool drill_observers_ok(const drill_observer *obs, int n, long long *ops)
{
    bool ok = true;
    *ops = 0;
    for (int i = 0; i < n; i++) {
        ok &= !obs[i].failed;
        *ops += obs[i].ops;
    }
    return ok;
}

void drill_finish(kv_server *srv, const char *label)
{
    int nfail = drill_failure_count();
    if (nfail) {
        drill_print_failures(label);
        srv_print_log_tail(srv, 40);
        setenv("KVNS_TEST_KEEP_LOGS", "1", 1);   /* srv_stop keeps the log and says where */
    }
    int rc = srv_stop(srv);
    if (nfail)
        it_fail("%s: %d failure(s), first: %s", label, nfail, drill_failure(0));
    if (rc != 0 && rc != 128 + SIGTERM)
        it_fail("kvns exited with status %d after SIGTERM", rc);
}
