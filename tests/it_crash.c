/* it_crash.c - the crash drill: SIGKILL kvns workers (and the housekeeper) over and
 * over while writer threads mutate keys through connections that may land on any
 * worker (INCR; 12-key MSET; APPEND, with a TTL set or cleared every eighth append of
 * a string that grows out of line), then check that nothing acknowledged was lost, nothing was torn or
 * duplicated, the arena is consistent, every child was respawned, and that clients of
 * a worker that was never killed (W0) saw no error at all.
 *
 * The EXEC drill (test_crash_drill_exec) does the same while clients EXEC groups of
 * INCRs over keys of many shards and namespaces: every acknowledged EXEC is wholly
 * there, no EXEC is ever seen or left in part (about 17 s, up to 60 s on a loaded
 * host; fewer kills under ASan).
 *
 * Only runs against kvns (skipped with KVNS_TEST_TARGET=redis). Everything is on
 * 127.0.0.1; every thread is joined and the server is stopped before the test returns.
 * The killer, the observers, worker discovery and the writers' reconnecting connections
 * are the shared drill machinery of harness_drill.h (which explains how connections land
 * on workers and which pids get signalled).
 *
 * Worker threads never call cmocka: they record failures (drill_fail) that the main
 * thread turns into the test's verdict after joining them. */
#include "harness_drill.h"

#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
/* the EXEC drill: writers EXEC groups of INCRs over keys of many shards and namespaces */
#define N_EXEC_WRITERS         4
#define N_EXEC_READERS         2
#define EXEC_KEYS              8
#define EXEC_SHARDS            "KVNS_SHARD_COUNT=64"
#ifdef __SANITIZE_ADDRESS__
#define EXEC_WORKER_KILLS      40     /* ASan: slower workers, fewer kills in the same time */
#else
#define EXEC_WORKER_KILLS      100
#endif
#define EXEC_HOUSEKEEPER_KILLS 2
#define EXEC_KILL_PHASE_LIMIT_MS 60000 /* ~17 s normally; kills slow down with the host's load
                                          (33 in 40 s at load 40) */

/* ---- time bounds (milliseconds); the whole test stays under ~60 s ----------------- */
#define WARMUP_MS              300    /* writers run before the first kill */
#define KILL_PHASE_LIMIT_MS    40000  /* the whole kill loop */

/* ---- writers ------------------------------------------------------------------------ */

typedef enum { W_INCR, W_MSET, W_APPEND, W_EXEC, W_EXEC_READ } writer_kind;

static const char *const kind_name[] = { "INCR", "MSET", "APPEND", "EXEC", "EXEC reader" };

typedef struct writer {
    int         id;
    writer_kind kind;
    /* results, read by the main thread after the join */
    long long attempts;       /* commands sent (APPEND: includes retries of a number) */
    long long acked;          /* commands whose success reply arrived */
    long long lost;           /* commands whose reply never came */
    long long last_attempted; /* MSET: round; APPEND: highest n sent (-1: none) */
    long long last_acked;     /* MSET: round (0: none); APPEND: highest n acked (-1) */
    bool      gave_up;        /* stopped early after recording a failure */
    drill_client cl;          /* its reconnecting connection (name "<KIND> writer <id>") */
} writer;

static void writer_bad_reply(writer *w, const char *cmd, const kv_reply *r)
{
    drill_client_bad_reply(&w->cl, cmd, r);
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
    while (!drill_stopping(&drill_stop_writers) && !w->gave_up) {
        if (!drill_client_ready(&w->cl, true))
            break;
        w->attempts++;
        kv_reply *r = conn_cmd(w->cl.c, "INCR", key, NULL);
        if (!r) {
            w->lost++;
            drill_client_failed(&w->cl, "INCR");
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
                drill_fail("INCR writer %d: INCR %s answered %lld, expected [%lld, %lld] "
                           "(acked %lld, lost %lld) on worker pid %d", w->id, key,
                           r->integer, lo, hi, w->acked, w->lost, (int)w->cl.pid);
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
    while (!drill_stopping(&drill_stop_writers) && !w->gave_up) {
        if (!drill_client_ready(&w->cl, !unsure))
            break;
        if (unsure) {
            /* the worker died with MSET `round` in flight: all of it or none of it */
            kv_reply *r = conn_cmdv(w->cl.c, 1 + MSET_KEYS, mget, NULL);
            if (!r) {
                drill_client_failed(&w->cl, "MGET");
                continue;
            }
            if (!mset_consistent(w, r, why, sizeof why)) {
                drill_fail("MSET writer %d: after MSET round %lld got no reply: %s", w->id,
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
        kv_reply *r = conn_cmdv(w->cl.c, 1 + 2 * MSET_KEYS, argv, NULL);
        if (!r) {
            w->lost++;
            unsure = true;
            drill_client_failed(&w->cl, "MSET");
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

/* Every eighth acknowledged APPEND the writer also sets or clears the key's TTL, so
 * that kills land in TTL changes of a string that soon lives out of line. A lost
 * reply just reconnects: either outcome leaves the value as it was. */
static void change_ttl(writer *w, const char *key, bool set)
{
    kv_reply *r = set ? conn_cmd(w->cl.c, "PEXPIRE", key, "3600000", NULL)
                      : conn_cmd(w->cl.c, "PERSIST", key, NULL);
    if (!r)
        drill_client_failed(&w->cl, set ? "PEXPIRE" : "PERSIST");
    else if (r->type != KV_REPLY_INTEGER)
        writer_bad_reply(w, set ? "PEXPIRE" : "PERSIST", r);
    kv_reply_free(r);
}

static void run_append(writer *w)
{
    char key[64], piece[32];
    snprintf(key, sizeof key, "drill/a:%d", w->id);
    long long next = 0;          /* the value is "0;...;(next-1);" when not unsure */
    size_t len = 0;              /* ... and this long */
    bool unsure = false;         /* an APPEND of `next` got no reply: applied or not? */
    while (!drill_stopping(&drill_stop_writers) && !w->gave_up) {
        if (!drill_client_ready(&w->cl, !unsure))
            break;
        if (unsure) {
            /* The worker died with APPEND `next` in flight: the value must now be
             * "0;...;(next-1);" (not applied) or "0;...;next;" (applied), nothing else. */
            kv_reply *r = conn_cmd(w->cl.c, "GET", key, NULL);
            if (!r) {
                drill_client_failed(&w->cl, "GET");
                continue;
            }
            long long k = r->type == KV_REPLY_NIL ? 0
                        : r->type == KV_REPLY_BULK ? append_prefix_count(r->str, r->len) : -2;
            if (k == -2) {
                writer_bad_reply(w, "GET", r);
            } else if (k != next && k != next + 1) {
                char got[300];
                drill_fail("APPEND writer %d: after APPEND \"%lld;\" to %s got no reply, "
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
        kv_reply *r = conn_cmd(w->cl.c, "APPEND", key, piece, NULL);
        if (!r) {
            w->lost++;
            unsure = true;
            drill_client_failed(&w->cl, "APPEND");
            continue;
        }
        if (r->type != KV_REPLY_INTEGER) {
            w->lost++;
            writer_bad_reply(w, "APPEND", r);
        } else {
            size_t want = len + plen;
            if (r->integer < 0 || (size_t)r->integer != want) {
                drill_fail("APPEND writer %d: APPEND \"%s\" to %s answered length %lld, "
                           "expected %zu (worker pid %d)", w->id, piece, key, r->integer,
                           want, (int)w->cl.pid);
                w->gave_up = true;
            }
            w->acked++;
            w->last_acked = next;
            next++;
            len = want;
        }
        kv_reply_free(r);
        if (next % 8 == 0 && !w->gave_up)
            change_ttl(w, key, (next / 8) % 2 == 1);
    }
}

/* ---- the EXEC drill's writers and readers ------------------------------------------- */

/* Key of counter j of EXEC writer id: one namespace per counter, so that one EXEC spans
 * EXEC_KEYS namespaces and, with KVNS_SHARD_COUNT=64, about as many shards. */
static void exec_key(char *out, size_t cap, int id, int j)
{
    snprintf(out, cap, "x%d/e%d:%d", j, id, j);
}

/* MGET argv for EXEC writer id's counters (keys[] holds their names). */
static void exec_mget_argv(int id, char keys[][64], const char **argv)
{
    argv[0] = "MGET";
    for (int j = 0; j < EXEC_KEYS; j++) {
        exec_key(keys[j], 64, id, j);
        argv[1 + j] = keys[j];
    }
}

/* The common value of writer id's counters in an MGET reply (0 when all are missing),
 * or -1 when they differ - part of an EXEC seen - with a description in why. */
static long long exec_counters(const kv_reply *r, int id, char *why, size_t cap)
{
    char got[600];
    long long v = -2;
    for (size_t j = 0; r->type == KV_REPLY_ARRAY && r->count == EXEC_KEYS && j < EXEC_KEYS; j++) {
        const kv_reply *e = r->elements[j];
        long long x = e->type == KV_REPLY_NIL ? 0 : e->type == KV_REPLY_BULK ? strtoll(e->str, NULL, 10) : -1;
        if (v != -2 && x != v) {
            v = -1;
            break;
        }
        v = x;
    }
    if (v >= 0)
        return v;
    snprintf(why, cap, "the %d counters x*/e%d:* differ (part of an EXEC): %s", EXEC_KEYS, id,
             kv_reply_describe(r, got, sizeof got));
    return -1;
}

/* Sends MULTI, one INCR of each counter and EXEC in one go, and reads their replies.
 * Returns EXEC's reply, or NULL when the connection failed (the EXEC may have run). A
 * reply other than OK/QUEUED before it is recorded (*bad set). */
static kv_reply *exec_round(writer *w, char keys[][64], bool *bad)
{
    kv_conn *c = w->cl.c;
    bool sent = conn_send_cmd(c, "MULTI", NULL) == 0;
    for (int j = 0; sent && j < EXEC_KEYS; j++)
        sent = conn_send_cmd(c, "INCR", keys[j], NULL) == 0;
    if (!sent || conn_send_cmd(c, "EXEC", NULL) != 0)
        return NULL;
    for (int i = 0; i <= EXEC_KEYS; i++) {
        kv_reply *r = conn_read_reply(c);
        if (!r)
            return NULL;
        if (!kv_reply_is_str(r, i == 0 ? "OK" : "QUEUED")) {
            writer_bad_reply(w, i == 0 ? "MULTI" : "INCR (queued)", r);
            *bad = true;
        }
        kv_reply_free(r);
    }
    return conn_read_reply(c);
}

/* EXEC writer: increments its EXEC_KEYS counters together, one transaction each round.
 * last_acked is the counters' value for sure; an acknowledged EXEC must answer it plus
 * one for every counter; after a lost reply the counters must all hold last_acked (not
 * applied) or last_acked + 1 (applied), checked before the next round. */
static void run_exec(writer *w)
{
    char keys[EXEC_KEYS][64], why[700];
    const char *mget[1 + EXEC_KEYS];
    exec_mget_argv(w->id, keys, mget);
    bool unsure = false;
    while (!drill_stopping(&drill_stop_writers) && !w->gave_up) {
        if (!drill_client_ready(&w->cl, !unsure))
            break;
        if (unsure) {
            kv_reply *r = conn_cmdv(w->cl.c, 1 + EXEC_KEYS, mget, NULL);
            if (!r) {
                drill_client_failed(&w->cl, "MGET");
                continue;
            }
            long long v = exec_counters(r, w->id, why, sizeof why);
            if (v < 0) {
                drill_fail("EXEC writer %d: after an EXEC got no reply: %s", w->id, why);
                w->gave_up = true;
            } else if (v != w->last_acked && v != w->last_acked + 1) {
                drill_fail("EXEC writer %d: after an EXEC got no reply the counters hold %lld, expected %lld "
                           "or %lld", w->id, v, w->last_acked, w->last_acked + 1);
                w->gave_up = true;
            }
            w->last_acked = v;
            w->last_attempted = v;
            unsure = false;
            kv_reply_free(r);
            continue;
        }
        w->attempts++;
        w->last_attempted = w->last_acked + 1;
        bool bad = false;
        kv_reply *r = exec_round(w, keys, &bad);
        if (!r) {
            w->lost++;
            unsure = true;
            drill_client_failed(&w->cl, "MULTI/INCR/EXEC");
            continue;
        }
        bool whole = r->type == KV_REPLY_ARRAY && r->count == EXEC_KEYS;
        for (size_t j = 0; whole && j < EXEC_KEYS; j++)
            whole = r->elements[j]->type == KV_REPLY_INTEGER && r->elements[j]->integer == w->last_acked + 1;
        if (!whole && !bad) {
            char got[600];
            drill_fail("EXEC writer %d: EXEC answered %s, expected %d times %lld (worker pid %d)", w->id,
                       kv_reply_describe(r, got, sizeof got), EXEC_KEYS, w->last_acked + 1, (int)w->cl.pid);
            w->gave_up = true;
        }
        w->acked++;
        w->last_acked++;
        kv_reply_free(r);
    }
}

/* EXEC reader: reads the counters of EXEC writer (id % N_EXEC_WRITERS) with MGET from
 * any worker; they must always be equal and never go back. */
static void run_exec_read(writer *w)
{
    char keys[EXEC_KEYS][64], why[700];
    const char *mget[1 + EXEC_KEYS];
    int owner = w->id % N_EXEC_WRITERS;
    exec_mget_argv(owner, keys, mget);
    long long last = 0;
    while (!drill_stopping(&drill_stop_writers) && !w->gave_up) {
        if (!drill_client_ready(&w->cl, true))
            break;
        kv_reply *r = conn_cmdv(w->cl.c, 1 + EXEC_KEYS, mget, NULL);
        if (!r) {
            w->lost++;
            drill_client_failed(&w->cl, "MGET");
            continue;
        }
        long long v = exec_counters(r, owner, why, sizeof why);
        if (v < 0 || v < last) {
            drill_fail("EXEC reader %d: %s", w->id, v < 0 ? why : "the counters went back");
            w->gave_up = true;
        }
        last = v;
        w->acked++;
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
    else if (w->kind == W_APPEND)
        run_append(w);
    else if (w->kind == W_EXEC)
        run_exec(w);
    else
        run_exec_read(w);
    if (w->cl.c)
        drill_client_disconnect(&w->cl);
    return NULL;
}


/* ---- final checks (main thread, writers stopped) -------------------------------------- */

static void check_incr(kv_conn *c, const writer *w)
{
    char key[64], got[300];
    snprintf(key, sizeof key, "drill/ctr:%d", w->id);
    kv_reply *r = drill_final_cmd(c, "GET", "GET", key, NULL);
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
        drill_fail("INCR writer %d: %s is %s, expected an integer in [%lld, %lld] "
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
        drill_fail("final check: MGET got no reply: %s", conn_error(c));
    else if (!mset_consistent(w, r, why, sizeof why))
        drill_fail("MSET writer %d after the drill: %s", w->id, why);
    kv_reply_free(r);
}

static void check_append(kv_conn *c, const writer *w)
{
    char key[64], got[300];
    snprintf(key, sizeof key, "drill/a:%d", w->id);
    kv_reply *r = drill_final_cmd(c, "GET", "GET", key, NULL);
    if (!r)
        return;
    long long k = r->type == KV_REPLY_NIL ? 0
                : r->type == KV_REPLY_BULK ? append_prefix_count(r->str, r->len) : -1;
    /* every acknowledged number present, in order, once; at most the ones sent */
    long long lo = w->last_acked + 1, hi = w->last_attempted + 1;
    if (k < lo || k > hi || k < w->acked)
        drill_fail("APPEND writer %d: %s is %s (%lld elements of \"0;1;...\"), expected "
                   "\"0;...;(k-1);\" with k in [%lld, %lld] (acked %lld)", w->id, key,
                   kv_reply_describe(r, got, sizeof got), k, lo, hi, w->acked);
    kv_reply_free(r);
}

/* Every acknowledged EXEC is there, whole: the counters are equal and hold the last
 * acknowledged count, or one more when the last EXEC's reply was lost. */
static void check_exec(kv_conn *c, const writer *w)
{
    char keys[EXEC_KEYS][64], why[700];
    const char *argv[1 + EXEC_KEYS];
    exec_mget_argv(w->id, keys, argv);
    kv_reply *r = conn_cmdv(c, 1 + EXEC_KEYS, argv, NULL);
    if (!r) {
        drill_fail("final check: MGET got no reply: %s", conn_error(c));
        return;
    }
    long long v = exec_counters(r, w->id, why, sizeof why);
    if (v < 0)
        drill_fail("EXEC writer %d after the drill: %s", w->id, why);
    else if (v < w->last_acked || v > w->last_attempted)
        drill_fail("EXEC writer %d after the drill: the counters hold %lld, expected [%lld (acked), %lld]",
                   w->id, v, w->last_acked, w->last_attempted);
    kv_reply_free(r);
}

/* ---- the tests ------------------------------------------------------------------------ */

static void test_crash_drill(void **state)
{
    it_skip_unless_kvns("crash drill of kvns workers");
    long long t_start = drill_now_ms();
    const char *env[] = { "KVNS_WORKERS=3", NULL };
    kv_server *srv = srv_start(env);
    assert_non_null(srv);

    static drill d;              /* large; the test runs once */
    static drill_observer obs[N_OBSERVERS];
    static drill_client *clients[N_WRITERS];
    writer *wr = g_writers;
    memset(g_writers, 0, sizeof g_writers);
    for (int i = 0; i < N_WRITERS; i++)
        clients[i] = &wr[i].cl;
    char err[512] = "";
    if (!drill_begin(&d, srv, DRILL_WORKERS, clients, N_WRITERS, obs, N_OBSERVERS, err,
                     sizeof err)) {
        drill_abort(&d, obs, N_OBSERVERS, srv, err);
    }
    for (int i = 0; i < N_WRITERS; i++) {
        wr[i].id = i;
        wr[i].kind = i < N_INCR_WRITERS ? W_INCR
                   : i < N_INCR_WRITERS + N_MSET_WRITERS ? W_MSET : W_APPEND;
        wr[i].last_attempted = wr[i].last_acked = wr[i].kind == W_APPEND ? -1 : 0;
        wr[i].cl.rng = (unsigned)t_start * 2654435761u + (unsigned)i;
        snprintf(wr[i].cl.name, sizeof wr[i].cl.name, "%s writer %d", kind_name[wr[i].kind], i);
    }

    /* From here on no cmocka assertion until every thread is joined. */
    static pthread_t tids[N_WRITERS];
    const drill_writers writers = { writer_main, wr, sizeof *wr, tids, N_WRITERS };
    long long kill_phase_ms;
    drill_run(&d, obs, N_OBSERVERS, &writers, WARMUP_MS, MIN_WORKER_KILLS, HOUSEKEEPER_KILLS,
              KILL_PHASE_LIMIT_MS, (unsigned)getpid() ^ (unsigned)t_start, &kill_phase_ms);

    /* ---- verdict ---- */
    bool server_up = drill_supervisor_ok(&d);
    kv_conn *fc = server_up ? conn_open(drill_port()) : NULL;
    kv_reply *r;
    if (fc) {
        char got[600];
        conn_set_timeout(fc, DRILL_WRITER_TIMEOUT_MS);
        drill_final_debug_check(fc);
        for (int i = 0; i < N_WRITERS; i++) {
            if (wr[i].acked == 0)
                drill_fail("%s writer %d made no acknowledged progress", kind_name[wr[i].kind],
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
        r = drill_final_cmd(fc, "DBSIZE", "DBSIZE", NULL);
        if (r && !(r->type == KV_REPLY_INTEGER && r->integer == want))
            drill_fail("DBSIZE after the drill is %s, expected %lld",
                       kv_reply_describe(r, got, sizeof got), want);
        kv_reply_free(r);
        conn_close(fc);
    } else if (server_up) {
        drill_fail("cannot connect after the drill");
    }
    if (server_up)
        drill_check_children(&d);
    long long obs_ops;
    bool observers_ok = drill_observers_ok(obs, N_OBSERVERS, &obs_ops);
    drill_end(&d, obs, N_OBSERVERS);

    long long acked[3] = { 0 }, lost[3] = { 0 }, connects = 0, on_w0 = 0;
    for (int i = 0; i < N_WRITERS; i++) {
        acked[wr[i].kind] += wr[i].acked;
        lost[wr[i].kind] += wr[i].lost;
        connects += wr[i].cl.connects;
        on_w0 += wr[i].cl.on_w0;
    }
    print_message("crash drill: %d worker kills (%d hit writers, %d within %d ms of start) and "
                  "%d housekeeper kills in %lld ms; respawn avg %lld ms, max %lld ms; %d of %d "
                  "replacements answered INFO directly; longest wait to avoid back-off %lld ms\n",
                  d.worker_kills, d.kills_with_writers, d.quick_kills,
                  DRILL_QUICK_DEATH_MS + DRILL_QUICK_MARGIN_MS, d.hk_kills, kill_phase_ms,
                  d.respawns ? d.respawn_total_ms / d.respawns : 0, d.respawn_max_ms,
                  d.replacements_reached, d.worker_kills, d.max_pause_ms);
    print_message("crash drill: acked INCR %lld / MSET %lld / APPEND %lld, lost attempts "
                  "%lld / %lld / %lld; writer connects %lld (%lld on W0); observers %lld ops "
                  "on W0 %s\n", acked[W_INCR], acked[W_MSET], acked[W_APPEND], lost[W_INCR],
                  lost[W_MSET], lost[W_APPEND], connects, on_w0, obs_ops,
                  observers_ok ? "without error" : "WITH ERRORS");

    drill_finish(srv, "crash drill");
}

#define N_EXEC_CLIENTS (N_EXEC_WRITERS + N_EXEC_READERS)
static writer g_exec_writers[N_EXEC_CLIENTS];

/* The EXEC drill: workers are SIGKILLed while N_EXEC_WRITERS clients EXEC groups of
 * EXEC_KEYS INCRs over keys of different shards and namespaces (each client its own
 * counters, pipelined MULTI...EXEC so that workers spend their time inside EXEC) and
 * readers MGET them from any worker. No reader ever sees the counters of one client
 * differ, every acknowledged EXEC answered the same count for every counter, and at
 * the end each client's counters are all its acknowledged count (one more when the
 * last EXEC's reply was lost). */
static void test_crash_drill_exec(void **state)
{
    it_skip_unless_kvns("crash drill of kvns workers");
    long long t_start = drill_now_ms();
    const char *env[] = { "KVNS_WORKERS=3", EXEC_SHARDS, NULL };
    kv_server *srv = srv_start(env);
    assert_non_null(srv);

    static drill d;
    static drill_observer obs[N_OBSERVERS];
    static drill_client *clients[N_EXEC_CLIENTS];
    writer *wr = g_exec_writers;
    for (int i = 0; i < N_EXEC_CLIENTS; i++)
        clients[i] = &wr[i].cl;
    char err[512] = "";
    if (!drill_begin(&d, srv, DRILL_WORKERS, clients, N_EXEC_CLIENTS, obs, N_OBSERVERS, err, sizeof err))
        drill_abort(&d, obs, N_OBSERVERS, srv, err);
    for (int i = 0; i < N_EXEC_CLIENTS; i++) {
        wr[i].id = i;
        wr[i].kind = i < N_EXEC_WRITERS ? W_EXEC : W_EXEC_READ;
        wr[i].cl.rng = (unsigned)t_start * 2654435761u + (unsigned)i;
        snprintf(wr[i].cl.name, sizeof wr[i].cl.name, "%s %d", kind_name[wr[i].kind], i);
    }

    /* From here on no cmocka assertion until every thread is joined. */
    static pthread_t tids[N_EXEC_CLIENTS];
    const drill_writers writers = { writer_main, wr, sizeof *wr, tids, N_EXEC_CLIENTS };
    d.aim_running = true;        /* kill workers inside a command: mostly inside an EXEC */
    long long kill_phase_ms;
    drill_run(&d, obs, N_OBSERVERS, &writers, WARMUP_MS, EXEC_WORKER_KILLS, EXEC_HOUSEKEEPER_KILLS,
              EXEC_KILL_PHASE_LIMIT_MS, (unsigned)getpid() ^ (unsigned)t_start, &kill_phase_ms);

    bool server_up = drill_supervisor_ok(&d);
    kv_conn *fc = server_up ? conn_open(drill_port()) : NULL;
    long long acked = 0, lost = 0, reads = 0;
    if (fc) {
        conn_set_timeout(fc, DRILL_WRITER_TIMEOUT_MS);
        drill_final_debug_check(fc);
        for (int i = 0; i < N_EXEC_CLIENTS; i++) {
            if (wr[i].acked == 0)
                drill_fail("%s made no acknowledged progress", wr[i].cl.name);
            if (wr[i].kind == W_EXEC)
                check_exec(fc, &wr[i]);
        }
        conn_close(fc);
    } else if (server_up) {
        drill_fail("cannot connect after the drill");
    }
    if (server_up)
        drill_check_children(&d);
    long long obs_ops;
    bool observers_ok = drill_observers_ok(obs, N_OBSERVERS, &obs_ops);
    drill_end(&d, obs, N_OBSERVERS);
    for (int i = 0; i < N_EXEC_CLIENTS; i++) {
        if (wr[i].kind == W_EXEC) {
            acked += wr[i].acked;
            lost += wr[i].lost;
        } else {
            reads += wr[i].acked;
        }
    }
    print_message("EXEC drill: %d worker kills (%d hit writers, %d aimed at a running worker) and %d "
                  "housekeeper kills in %lld ms; %lld acknowledged EXECs of %d INCRs, %lld replies lost "
                  "(each checked whole or absent), %lld MGETs never saw part of one; observers %lld ops "
                  "on W0 %s\n", d.worker_kills, d.kills_with_writers, d.aimed_kills, d.hk_kills, kill_phase_ms,
                  acked, EXEC_KEYS, lost, reads, obs_ops, observers_ok ? "without error" : "WITH ERRORS");
    drill_finish(srv, "EXEC drill");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crash_drill),
        cmocka_unit_test(test_crash_drill_exec),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
