/* it_crash_collections.c - the crash drill on the collection types: SIGKILL kvns workers
 * (and the housekeeper) over and over while writer threads change lists, hashes, sets and
 * sorted sets through connections that may land on any worker, then check that no
 * acknowledged change was lost, no element was duplicated or lost by a move between keys
 * (whatever was acknowledged), the arena is consistent (DEBUG CHECK), every child was
 * respawned, and that clients of the never-killed worker W0 saw no error.
 *
 * The killer, the observers on W0, worker discovery and the writers' reconnecting
 * connections are the shared machinery of harness_drill.h; the killer waits (briefly) for
 * its victim to be running rather than blocked in epoll_wait, so that more kills land in
 * the middle of a command. Every writer sends its commands in pipelines of 1..8 (a
 * worker runs a pipeline's commands back to back, so kills land inside write
 * transactions far more often than with one command per round trip, and a kill leaves
 * commands applied whose reply never left). A command without a reply is resolved on
 * the next connection; the applied ones of a pipeline must be a prefix of it. The
 * writers:
 *
 *   queues    RPUSH of 1..32 consecutive numbers "q<q>:<seq>:xxx..." (each sent once) by
 *             a pusher, and LPOP or LPOP <count> by a popper on the same list. The popper
 *             sees strictly increasing numbers that were sent; at the end the list is
 *             strictly increasing and after every acknowledged pop, every acknowledged push
 *             is in the list or was popped - except what the pops that got no reply may
 *             have taken (at most their counts, all from before the list's head) - and an
 *             RPUSH that got no reply was applied whole or not at all.
 *   HINCRBY   one writer per hash, fields chosen at random (past the listpack limit), now
 *             and then a DEL (the hash converts again). Each reply is the exact expected
 *             value; a command that got no reply is resolved on the next connection (HGET /
 *             EXISTS: applied or not, nothing else), so the final hash is known exactly.
 *   ZSET      one writer per key: ZINCRBY of member "ctr" by 1, ZADD of new members
 *             "m:<seq>" with score seq, now and then a DEL; resolved like the hashes
 *             (ZSCORE / EXISTS); the final ZRANGE WITHSCORES must equal the model.
 *   SMOVE     8 pairs of sets (A, B) - with 16 shards, pairs cross shards - each over a
 *             fixed universe of members (string members on even pairs, integers - intsets -
 *             on odd ones), all in A at first. Every member belongs to one of the movers,
 *             which moves it A->B or B->A at random (and sometimes tries the wrong way,
 *             expecting 0): every reply is known in advance and a lost SMOVE is resolved
 *             with SISMEMBER on both keys (in exactly one, the old or the new one). At the
 *             end every member is in exactly one set of its pair, where the model says.
 *   LMOVE     8 pairs of lists over a fixed universe of distinct elements, all in A at
 *             first. Pairs 0..3 have one mover each, which predicts every reply from its
 *             model of both lists and resolves lost LMOVEs with LRANGE on both (the state
 *             after a prefix of them, nothing else); pairs 4..7 are shared by two movers (any
 *             reply is nil or an element of the pair). At the end the owned pairs equal
 *             their model and on every pair each element appears exactly once.
 *
 * Only runs against kvns (skipped with KVNS_TEST_TARGET=redis). Everything is on
 * 127.0.0.1; every thread is joined and the server is stopped before the test returns.
 * Threads never call cmocka: they record failures (drill_fail) that the main thread turns
 * into the test's verdict after joining them. */
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
#define N_OBSERVERS            4
#define MIN_WORKER_KILLS       100
#define HOUSEKEEPER_KILLS      4

#define PIPE_MAX               8      /* commands a writer pipelines at most */
#define N_QUEUES               2      /* each has a pusher and a popper */
#define QUEUE_ELEM_LEN         40     /* "q<q>:<seq>:" padded with 'x' */
#define QUEUE_BATCH_MAX        32     /* an RPUSH sends, an LPOP count takes, 1..this many */
#define QUEUE_BACKLOG          4000   /* the pusher pauses while the list is longer */
#define N_HASH_WRITERS         2
#define HASH_FIELDS            160    /* > HASH_LP_MAX_ENTRIES: the hash converts */
#define HASH_DEL_ONE_IN        2000   /* a DEL about once in this many commands */
#define N_ZSET_WRITERS         2
#define ZSET_DEL_ONE_IN        3000
#define N_SET_PAIRS            8
#define SET_UNIVERSE           200    /* members per pair (> 128: listpack <-> hashtable) */
#define N_SMOVERS              3
#define SMOVE_WRONG_ONE_IN     8      /* SMOVE from the set not holding the member */
#define N_LIST_PAIRS           8
#define N_OWNED_LIST_PAIRS     4      /* pairs 0..3: one mover each; the rest are shared */
#define N_SHARED_LMOVERS       2
#define LIST_UNIVERSE          300
#define LIST_ELEM_LEN          40     /* "l<p>:e<j>:" padded with 'x': several blocks */

#define N_WRITERS (2 * N_QUEUES + N_HASH_WRITERS + N_ZSET_WRITERS + N_SMOVERS + \
                   N_OWNED_LIST_PAIRS + N_SHARED_LMOVERS)

/* ---- time bounds (milliseconds); the whole test stays under ~60 s ----------------- */
#define WARMUP_MS              300    /* writers run before the first kill */
#define KILL_PHASE_LIMIT_MS    40000  /* the whole kill loop */

/* ---- writers ------------------------------------------------------------------------ */

typedef enum {
    K_PUSH, K_POP, K_HASH, K_ZSET, K_SMOVE, K_LMOVE, K_LMOVE_SHARED, K_KINDS
} writer_kind;

static const char *const kind_name[K_KINDS] = {
    "RPUSH", "LPOP", "HINCRBY", "ZADD/ZINCRBY", "SMOVE", "LMOVE", "shared LMOVE"
};

/* A command that got no reply (the worker died): applied or not, still unknown. */
typedef struct pend_op {
    int       op;             /* kind-specific */
    int       a, b, c;        /* kind-specific arguments */
    long long n;
} pend_op;

/* The commands of a pipeline that got no reply, in order. The worker runs a pipeline's
 * commands in order and dies between two of them (or in one, which is rolled back): the
 * applied ones are a prefix. */
typedef struct pending {
    int     count;
    bool    unapplied_seen;   /* one of the resolved ones was not applied */
    pend_op ops[PIPE_MAX];
} pending;

/* Commands encoded for one write(2). */
typedef struct pipe_buf {
    char  *p;
    size_t len, cap;
    int    n;
} pipe_buf;

typedef struct queue queue;

typedef struct writer {
    int         id;           /* index among the writers of its kind */
    writer_kind kind;
    /* results, read by the main thread after the join */
    long long   attempts;     /* commands sent (resolution reads excluded) */
    long long   acked;        /* commands whose expected reply arrived (LPOP: an element) */
    long long   lost;         /* commands whose reply never came */
    long long   lost_applied; /* lost commands found applied when resolved */
    long long   nils;         /* LPOP / LMOVE answered nil */
    long long   pipelines;    /* pipelines of more than one command */
    bool        gave_up;      /* stopped early after recording a failure */
    pending     pend;         /* unresolved lost commands (the main thread resolves the last) */
    unsigned    rng;
    drill_client cl;
    pipe_buf    pipe;         /* the writer thread's */
    queue      *q;            /* K_PUSH, K_POP */
} writer;

static writer g_writers[N_WRITERS];

static bool writer_running(const writer *w)
{
    return !drill_stopping(&drill_stop_writers) && !w->gave_up;
}

static void writer_bad_reply(writer *w, const char *cmd, const kv_reply *r)
{
    drill_client_bad_reply(&w->cl, cmd, r);
    w->gave_up = true;
}

static unsigned rnd(writer *w, unsigned n) { return (unsigned)rand_r(&w->rng) % n; }

/* Pipeline depth of the next round: 1 half of the time, else 2..PIPE_MAX. */
static int depth(writer *w) { return rnd(w, 2) ? 1 : 2 + (int)rnd(w, PIPE_MAX - 1); }

static void *xrealloc_or_die(void *p, size_t n)
{
    void *q = realloc(p, n);
    if (!q) {
        fprintf(stderr, "it_crash_collections: out of memory (%zu bytes)\n", n);
        abort();
    }
    return q;
}

static void pipe_put(pipe_buf *b, const void *s, size_t n)
{
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2 + 256;
        b->p = xrealloc_or_die(b->p, b->cap);
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

/* Appends one command (C-string arguments) in RESP. */
static void pipe_cmd(pipe_buf *b, int argc, const char *const *argv)
{
    char hdr[32];
    pipe_put(b, hdr, (size_t)snprintf(hdr, sizeof hdr, "*%d\r\n", argc));
    for (int i = 0; i < argc; i++) {
        size_t n = strlen(argv[i]);
        pipe_put(b, hdr, (size_t)snprintf(hdr, sizeof hdr, "$%zu\r\n", n));
        pipe_put(b, argv[i], n);
        pipe_put(b, "\r\n", 2);
    }
    b->n++;
}

/* Sends the pipeline in one write and reads its replies into r[]. Returns how many
 * arrived; fewer than w->pipe.n when the connection failed (it is dropped, and the
 * missing ones are counted lost). Empties the pipeline. */
static int pipe_run(writer *w, kv_reply **r, const char *what)
{
    pipe_buf *b = &w->pipe;
    int got = 0, n = b->n;
    w->attempts += n;
    w->pipelines += n > 1;
    if (conn_send_raw(w->cl.c, b->p, b->len) == 0)
        for (; got < n; got++)
            if (!(r[got] = conn_read_reply(w->cl.c)))
                break;
    b->len = 0;
    b->n = 0;
    if (got < n) {
        w->lost += n - got;
        drill_client_failed(&w->cl, what);
    }
    return got;
}

static void free_replies(kv_reply **r, int n)
{
    for (int i = 0; i < n; i++)
        kv_reply_free(r[i]);
}

/* Resolves one pending command on c: 0 no reply (c failed), -1 failure recorded,
 * 1 it was not applied, 2 it was, 3 it cannot be told (a no-op either way). */
typedef int (*resolve_fn)(writer *w, kv_conn *c, const pend_op *op);

/* Resolves w->pend one command at a time (independent commands: distinct fields or
 * members), checking that the applied ones are a prefix. 1 when all are resolved. */
static int resolve_each(writer *w, kv_conn *c, resolve_fn fn, const char *what)
{
    while (w->pend.count > 0) {
        int rc = fn(w, c, &w->pend.ops[0]);
        if (rc <= 0)
            return rc;
        if (rc == 2 && w->pend.unapplied_seen) {
            drill_fail("%s writer %d: of a pipeline whose replies did not come, a %s was "
                       "applied after one that was not", kind_name[w->kind], w->id, what);
            return -1;
        }
        w->pend.unapplied_seen |= rc == 1;
        w->lost_applied += rc == 2;
        memmove(&w->pend.ops[0], &w->pend.ops[1], (size_t)--w->pend.count * sizeof w->pend.ops[0]);
    }
    return 1;
}

/* Has a connection, and no pending command left: resolves pending ones on the writer's
 * connection first. False when the writer must stop. */
static bool writer_settled(writer *w, int (*resolve)(writer *, kv_conn *), const char *what)
{
    while (writer_running(w)) {
        if (!drill_client_ready(&w->cl, w->pend.count == 0))
            return false;
        if (w->pend.count == 0)
            return true;
        int rc = resolve(w, w->cl.c);
        if (rc == 0)
            drill_client_failed(&w->cl, what);
        else if (rc < 0)
            w->gave_up = true;
    }
    return false;
}

static void set_pending(writer *w, const pend_op *ops, int from, int n)
{
    w->pend.count = n - from;
    w->pend.unapplied_seen = false;
    memcpy(w->pend.ops, ops + from, (size_t)(n - from) * sizeof *ops);
}

/* Integer value of a BULK (or STATUS/INTEGER) reply; false when it is not one. */
static bool reply_ll(const kv_reply *r, long long *v)
{
    if (r && r->type == KV_REPLY_INTEGER) {
        *v = r->integer;
        return true;
    }
    if (!r || (r->type != KV_REPLY_BULK && r->type != KV_REPLY_STATUS) || r->len == 0)
        return false;
    char *end;
    *v = strtoll(r->str, &end, 10);
    return *end == '\0';
}

/* A score (BULK in RESP2, DOUBLE in RESP3) that is an integer; false otherwise. */
static bool reply_score(const kv_reply *r, long long *v)
{
    if (r && r->type == KV_REPLY_DOUBLE) {
        *v = (long long)r->dval;
        return (double)*v == r->dval;
    }
    if (!r || r->type != KV_REPLY_BULK || r->len == 0)
        return false;
    char *end;
    double d = strtod(r->str, &end);
    *v = (long long)d;
    return *end == '\0' && (double)*v == d;
}

/* True when r is an ARRAY/SET reply whose elements are all bulk strings. */
static bool reply_strings(const kv_reply *r)
{
    if (!r || (r->type != KV_REPLY_ARRAY && r->type != KV_REPLY_SET))
        return false;
    for (size_t i = 0; i < r->count; i++)
        if (r->elements[i]->type != KV_REPLY_BULK)
            return false;
    return true;
}

/* snprintf, then pads with 'x' up to width bytes; returns the length. */
static size_t fmt_padded(char *buf, size_t cap, size_t width, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static size_t fmt_padded(char *buf, size_t cap, size_t width, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, cap, fmt, ap);
    va_end(ap);
    size_t len = n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
    while (len < width && len + 1 < cap)
        buf[len++] = 'x';
    buf[len] = '\0';
    return len;
}

/* ---- queues: RPUSH by a pusher, LPOP by a popper ------------------------------------ */

/* status of a sequence number: Q_LOST once sent, Q_ACKED once its RPUSH was answered;
 * Q_BATCH_START marks the first number of each RPUSH */
enum { Q_UNSENT = 0, Q_LOST = 1, Q_ACKED = 2, Q_STATE = 3, Q_BATCH_START = 4 };

struct queue {
    int            id;
    char           key[32];
    /* pusher */
    unsigned char *status;      /* per sequence number, see above */
    size_t         status_cap;
    long long      sent;        /* numbers [0, sent) were sent (__atomic: read by the popper) */
    long long      acked_elems; /* numbers whose RPUSH was answered */
    long long      max_len;     /* longest list an RPUSH reported */
    /* popper */
    long long     *popped;      /* acknowledged pops' elements, in order */
    unsigned      *pop_reply;   /* ... and the reply each came in (numbered from 0) */
    size_t         npopped, popped_cap;
    unsigned       replies;     /* acknowledged pops that returned elements */
    long long      lost_pop_elems;  /* elements the pops without a reply may have taken */
};

static queue g_queues[N_QUEUES];

static size_t queue_elem(const queue *q, long long seq, char *buf, size_t cap)
{
    return fmt_padded(buf, cap, QUEUE_ELEM_LEN, "q%d:%lld:", q->id, seq);
}

/* The sequence number of a queue element, or -1 when s is not exactly one of q's. */
static long long queue_parse(const queue *q, const char *s, size_t len)
{
    int id;
    long long seq;
    char buf[96];
    if (sscanf(s, "q%d:%lld:", &id, &seq) != 2 || id != q->id || seq < 0)
        return -1;
    size_t n = queue_elem(q, seq, buf, sizeof buf);
    return n == len && memcmp(buf, s, len) == 0 ? seq : -1;
}

/* Pipelines of RPUSHes of 1..QUEUE_BATCH_MAX consecutive numbers each, every number sent
 * once. */
static void run_push(writer *w)
{
    queue *q = w->q;
    kv_reply *r[PIPE_MAX];
    long long first[PIPE_MAX], len = 0;
    int size[PIPE_MAX];
    const char *argv[2 + QUEUE_BATCH_MAX] = { "RPUSH", q->key };
    static __thread char elems[QUEUE_BATCH_MAX][64];
    while (writer_running(w)) {
        if (!drill_client_ready(&w->cl, true))
            break;
        int d = depth(w);
        for (int p = 0; p < d; p++) {
            long long seq = q->sent;
            int k = 1 + (int)rnd(w, QUEUE_BATCH_MAX);
            if ((size_t)(seq + k) > q->status_cap) {
                size_t cap = q->status_cap ? 2 * q->status_cap : 65536;
                q->status = xrealloc_or_die(q->status, cap);
                memset(q->status + q->status_cap, Q_UNSENT, cap - q->status_cap);
                q->status_cap = cap;
            }
            for (int i = 0; i < k; i++) {
                q->status[seq + i] = (unsigned char)(Q_LOST | (i ? 0 : Q_BATCH_START));
                queue_elem(q, seq + i, elems[i], sizeof elems[i]);
                argv[2 + i] = elems[i];
            }
            first[p] = seq;
            size[p] = k;
            pipe_cmd(&w->pipe, 2 + k, argv);
            __atomic_store_n(&q->sent, seq + k, __ATOMIC_RELEASE);
        }
        int got = pipe_run(w, r, "RPUSH");
        for (int p = 0; p < got && !w->gave_up; p++) {
            if (r[p]->type != KV_REPLY_INTEGER || r[p]->integer < size[p]) {
                writer_bad_reply(w, "RPUSH", r[p]);
                break;
            }
            for (int i = 0; i < size[p]; i++)
                q->status[first[p] + i] = (unsigned char)(Q_ACKED | (i ? 0 : Q_BATCH_START));
            q->acked_elems += size[p];
            w->acked++;
            len = r[p]->integer;
            if (len > q->max_len)
                q->max_len = len;
        }
        free_replies(r, got);
        if (len > QUEUE_BACKLOG)
            sleep_ms(1);
    }
}

/* Pipelines of LPOP or LPOP <1..QUEUE_BATCH_MAX>: what comes back is numbers that were
 * sent, increasing from one pop to the next. */
static void run_pop(writer *w)
{
    queue *q = w->q;
    long long last = -1;
    char counts[PIPE_MAX][16], got_s[300];
    int cnt[PIPE_MAX];
    bool counted[PIPE_MAX];
    kv_reply *r[PIPE_MAX];
    while (writer_running(w)) {
        if (!drill_client_ready(&w->cl, true))
            break;
        int d = depth(w);
        for (int p = 0; p < d; p++) {
            counted[p] = rnd(w, 2);
            cnt[p] = counted[p] ? 1 + (int)rnd(w, QUEUE_BATCH_MAX) : 1;
            snprintf(counts[p], sizeof counts[p], "%d", cnt[p]);
            const char *argv[] = { "LPOP", q->key, counts[p] };
            pipe_cmd(&w->pipe, counted[p] ? 3 : 2, argv);
        }
        int got = pipe_run(w, r, "LPOP");
        for (int p = got; p < d; p++)
            q->lost_pop_elems += cnt[p];
        for (int p = 0; p < got && !w->gave_up; p++) {
            if (r[p]->type == KV_REPLY_NIL) {
                w->nils++;
                continue;
            }
            size_t n = counted[p] ? (reply_strings(r[p]) ? r[p]->count : 0)
                                  : r[p]->type == KV_REPLY_BULK;
            if (n == 0 || n > (size_t)cnt[p]) {
                writer_bad_reply(w, counted[p] ? "LPOP with a count" : "LPOP", r[p]);
                break;
            }
            long long sent = __atomic_load_n(&q->sent, __ATOMIC_ACQUIRE);
            for (size_t i = 0; i < n; i++) {
                const kv_reply *e = counted[p] ? r[p]->elements[i] : r[p];
                long long seq = queue_parse(q, e->str, e->len);
                if (seq < 0 || seq >= sent || seq <= last) {
                    drill_fail("LPOP writer %d: LPOP %s%s%s answered %s, element %zu after %lld "
                               "(numbers popped in order expected, below %lld sent) on worker "
                               "pid %d", w->id, q->key, counted[p] ? " " : "",
                               counted[p] ? counts[p] : "",
                               kv_reply_describe(r[p], got_s, sizeof got_s), i, last, sent,
                               (int)w->cl.pid);
                    w->gave_up = true;
                    break;
                }
                last = seq;
                if (q->npopped == q->popped_cap) {
                    q->popped_cap = q->popped_cap ? 2 * q->popped_cap : 65536;
                    q->popped = xrealloc_or_die(q->popped, q->popped_cap * sizeof *q->popped);
                    q->pop_reply = xrealloc_or_die(q->pop_reply,
                                                   q->popped_cap * sizeof *q->pop_reply);
                }
                q->pop_reply[q->npopped] = q->replies;
                q->popped[q->npopped++] = seq;
            }
            q->replies++;
            w->acked++;
        }
        free_replies(r, got);
    }
}

/* ---- HINCRBY on one hash per writer ------------------------------------------------ */

enum { OP_INCR, OP_DEL, OP_ZADD };

typedef struct hash_model {
    long long val[HASH_FIELDS];     /* exact values; 0: the field does not exist */
    long long dels;                 /* acknowledged or applied DELs */
} hash_model;

static hash_model g_hash[N_HASH_WRITERS];

static void hash_key(const writer *w, char *key, size_t cap)
{
    snprintf(key, cap, "drill/h:%d", w->id);
}

static void hash_field(int f, char *buf, size_t cap) { snprintf(buf, cap, "field:%d", f); }

static bool hash_nonempty(const hash_model *m)
{
    for (int f = 0; f < HASH_FIELDS; f++)
        if (m->val[f])
            return true;
    return false;
}

static int hash_resolve_op(writer *w, kv_conn *c, const pend_op *op)
{
    hash_model *m = &g_hash[w->id];
    char key[32], field[32], got[300];
    hash_key(w, key, sizeof key);
    if (op->op == OP_DEL) {
        kv_reply *r = conn_cmd(c, "EXISTS", key, NULL);
        if (!r)
            return 0;
        int rc = 1;
        if (r->type != KV_REPLY_INTEGER || r->integer < 0 || r->integer > 1 ||
            (r->integer == 1 && !hash_nonempty(m))) {
            drill_fail("HINCRBY writer %d: after DEL %s got no reply, EXISTS answered %s "
                       "(the model holds %s)", w->id, key, kv_reply_describe(r, got, sizeof got),
                       hash_nonempty(m) ? "fields" : "nothing");
            rc = -1;
        } else if (r->integer == 0) {
            rc = hash_nonempty(m) ? 2 : 3;
            memset(m->val, 0, sizeof m->val);
            m->dels++;
        }
        kv_reply_free(r);
        return rc;
    }
    int f = op->a;
    hash_field(f, field, sizeof field);
    kv_reply *r = conn_cmd(c, "HGET", key, field, NULL);
    if (!r)
        return 0;
    long long v = 0;
    int rc;
    if (!(r->type == KV_REPLY_NIL || reply_ll(r, &v)) || (v != m->val[f] && v != m->val[f] + 1)) {
        drill_fail("HINCRBY writer %d: after HINCRBY %s %s 1 got no reply, HGET answered %s "
                   "(expected %lld or %lld)", w->id, key, field,
                   kv_reply_describe(r, got, sizeof got), m->val[f], m->val[f] + 1);
        rc = -1;
    } else {
        rc = v != m->val[f] ? 2 : 1;
        m->val[f] = v;
    }
    kv_reply_free(r);
    return rc;
}

static int hash_resolve(writer *w, kv_conn *c)
{
    return resolve_each(w, c, hash_resolve_op, "HINCRBY or DEL");
}

/* Pipelines of HINCRBY by 1 of distinct random fields; now and then a DEL alone. */
static void run_hash(writer *w)
{
    hash_model *m = &g_hash[w->id];
    char key[32], fields[PIPE_MAX][32], got[300];
    pend_op ops[PIPE_MAX];
    kv_reply *r[PIPE_MAX];
    hash_key(w, key, sizeof key);
    while (writer_settled(w, hash_resolve, "HGET/EXISTS resolution")) {
        int d = depth(w);
        if (rnd(w, HASH_DEL_ONE_IN) == 0) {
            d = 1;
            ops[0] = (pend_op){ .op = OP_DEL };
            const char *argv[] = { "DEL", key };
            pipe_cmd(&w->pipe, 2, argv);
        } else {
            for (int p = 0; p < d; p++) {
                int f;
                bool dup;
                do {
                    f = (int)rnd(w, HASH_FIELDS);
                    dup = false;
                    for (int i = 0; i < p; i++)
                        dup |= ops[i].a == f;
                } while (dup);
                ops[p] = (pend_op){ .op = OP_INCR, .a = f };
                hash_field(f, fields[p], sizeof fields[p]);
                const char *argv[] = { "HINCRBY", key, fields[p], "1" };
                pipe_cmd(&w->pipe, 4, argv);
            }
        }
        int n = pipe_run(w, r, ops[0].op == OP_DEL ? "DEL" : "HINCRBY");
        for (int p = 0; p < n && !w->gave_up; p++) {
            if (ops[p].op == OP_DEL) {
                if (r[p]->type != KV_REPLY_INTEGER || r[p]->integer != hash_nonempty(m)) {
                    drill_fail("HINCRBY writer %d: DEL %s answered %s, expected %d", w->id, key,
                               kv_reply_describe(r[p], got, sizeof got), hash_nonempty(m));
                    w->gave_up = true;
                } else {
                    memset(m->val, 0, sizeof m->val);
                    m->dels++;
                    w->acked++;
                }
                continue;
            }
            int f = ops[p].a;
            if (r[p]->type != KV_REPLY_INTEGER) {
                writer_bad_reply(w, "HINCRBY", r[p]);
            } else if (r[p]->integer != m->val[f] + 1) {
                drill_fail("HINCRBY writer %d: HINCRBY %s %s 1 answered %lld, expected %lld "
                           "(worker pid %d)", w->id, key, fields[p], r[p]->integer,
                           m->val[f] + 1, (int)w->cl.pid);
                w->gave_up = true;
            } else {
                m->val[f]++;
                w->acked++;
            }
        }
        free_replies(r, n);
        set_pending(w, ops, n, w->gave_up ? n : d);
    }
}

/* ---- ZINCRBY / ZADD on one sorted set per writer ---------------------------------------- */

typedef struct zset_model {
    long long  ctr;          /* score of member "ctr"; 0: absent */
    long long *seqs;         /* members "m:<seq>" present (score seq), increasing */
    size_t     n, cap;
    long long  next_seq;
    long long  dels;
} zset_model;

static zset_model g_zset[N_ZSET_WRITERS];

static void zset_key(const writer *w, char *key, size_t cap)
{
    snprintf(key, cap, "drill/z:%d", w->id);
}

static void zset_add(zset_model *m, long long seq)
{
    if (m->n == m->cap) {
        m->cap = m->cap ? 2 * m->cap : 1024;
        m->seqs = xrealloc_or_die(m->seqs, m->cap * sizeof *m->seqs);
    }
    m->seqs[m->n++] = seq;
}

static bool zset_nonempty(const zset_model *m) { return m->ctr > 0 || m->n > 0; }

static int zset_resolve_op(writer *w, kv_conn *c, const pend_op *op)
{
    zset_model *m = &g_zset[w->id];
    char key[32], member[48], got[300];
    zset_key(w, key, sizeof key);
    if (op->op == OP_DEL) {
        kv_reply *r = conn_cmd(c, "EXISTS", key, NULL);
        if (!r)
            return 0;
        int rc = 1;
        if (r->type != KV_REPLY_INTEGER || r->integer < 0 || r->integer > 1 ||
            (r->integer == 1 && !zset_nonempty(m))) {
            drill_fail("ZSET writer %d: after DEL %s got no reply, EXISTS answered %s",
                       w->id, key, kv_reply_describe(r, got, sizeof got));
            rc = -1;
        } else if (r->integer == 0) {
            rc = zset_nonempty(m) ? 2 : 3;
            m->ctr = 0;
            m->n = 0;
            m->dels++;
        }
        kv_reply_free(r);
        return rc;
    }
    bool incr = op->op == OP_INCR;
    long long seq = op->n;
    if (incr)
        snprintf(member, sizeof member, "ctr");
    else
        snprintf(member, sizeof member, "m:%lld", seq);
    kv_reply *r = conn_cmd(c, "ZSCORE", key, member, NULL);
    if (!r)
        return 0;
    long long v = 0;
    bool nil = r->type == KV_REPLY_NIL;
    bool ok = nil || reply_score(r, &v);
    int rc = 1;
    if (incr) {
        ok = ok && (nil ? m->ctr == 0 : (v == m->ctr || v == m->ctr + 1));
        if (ok) {
            rc = !nil && v != m->ctr ? 2 : 1;
            m->ctr = nil ? 0 : v;
        }
    } else {
        ok = ok && (nil || v == seq);
        if (ok && !nil) {
            rc = 2;
            zset_add(m, seq);
        }
    }
    if (!ok) {
        drill_fail("ZSET writer %d: after %s %s got no reply, ZSCORE %s %s answered %s "
                   "(expected %s)", w->id, incr ? "ZINCRBY" : "ZADD", key, key, member,
                   kv_reply_describe(r, got, sizeof got),
                   incr ? "the old score or one more" : "nil or the sequence number");
        rc = -1;
    }
    kv_reply_free(r);
    return rc;
}

static int zset_resolve(writer *w, kv_conn *c)
{
    return resolve_each(w, c, zset_resolve_op, "ZADD, ZINCRBY or DEL");
}

/* Pipelines of ZADDs of new members (score = their sequence number) and at most one
 * ZINCRBY of "ctr"; now and then a DEL alone. */
static void run_zset(writer *w)
{
    zset_model *m = &g_zset[w->id];
    char key[32], members[PIPE_MAX][48], scores[PIPE_MAX][32], got[300];
    pend_op ops[PIPE_MAX];
    kv_reply *r[PIPE_MAX];
    zset_key(w, key, sizeof key);
    while (writer_settled(w, zset_resolve, "ZSCORE/EXISTS resolution")) {
        int d = depth(w);
        bool incr_used = false;
        if (rnd(w, ZSET_DEL_ONE_IN) == 0) {
            d = 1;
            ops[0] = (pend_op){ .op = OP_DEL };
            const char *argv[] = { "DEL", key };
            pipe_cmd(&w->pipe, 2, argv);
        } else {
            for (int p = 0; p < d; p++) {
                if (!incr_used && rnd(w, 2)) {
                    incr_used = true;
                    ops[p] = (pend_op){ .op = OP_INCR };
                    const char *argv[] = { "ZINCRBY", key, "1", "ctr" };
                    pipe_cmd(&w->pipe, 4, argv);
                } else {
                    long long seq = m->next_seq++;
                    ops[p] = (pend_op){ .op = OP_ZADD, .n = seq };
                    snprintf(members[p], sizeof members[p], "m:%lld", seq);
                    snprintf(scores[p], sizeof scores[p], "%lld", seq);
                    const char *argv[] = { "ZADD", key, scores[p], members[p] };
                    pipe_cmd(&w->pipe, 4, argv);
                }
            }
        }
        int n = pipe_run(w, r, ops[0].op == OP_DEL ? "DEL" : d > 1 ? "ZADD/ZINCRBY pipeline"
                               : ops[0].op == OP_INCR ? "ZINCRBY" : "ZADD");
        for (int p = 0; p < n && !w->gave_up; p++) {
            if (ops[p].op == OP_DEL) {
                if (r[p]->type != KV_REPLY_INTEGER || r[p]->integer != zset_nonempty(m)) {
                    drill_fail("ZSET writer %d: DEL %s answered %s, expected %d", w->id, key,
                               kv_reply_describe(r[p], got, sizeof got), zset_nonempty(m));
                    w->gave_up = true;
                } else {
                    m->ctr = 0;
                    m->n = 0;
                    m->dels++;
                    w->acked++;
                }
            } else if (ops[p].op == OP_INCR) {
                long long v;
                if (!reply_score(r[p], &v)) {
                    writer_bad_reply(w, "ZINCRBY", r[p]);
                } else if (v != m->ctr + 1) {
                    drill_fail("ZSET writer %d: ZINCRBY %s 1 ctr answered %s, expected %lld "
                               "(worker pid %d)", w->id, key,
                               kv_reply_describe(r[p], got, sizeof got), m->ctr + 1,
                               (int)w->cl.pid);
                    w->gave_up = true;
                } else {
                    m->ctr = v;
                    w->acked++;
                }
            } else {
                if (r[p]->type != KV_REPLY_INTEGER || r[p]->integer != 1) {
                    drill_fail("ZSET writer %d: ZADD %s %s %s answered %s, expected 1 (worker "
                               "pid %d)", w->id, key, scores[p], members[p],
                               kv_reply_describe(r[p], got, sizeof got), (int)w->cl.pid);
                    w->gave_up = true;
                } else {
                    zset_add(m, ops[p].n);
                    w->acked++;
                }
            }
        }
        free_replies(r, n);
        set_pending(w, ops, n, w->gave_up ? n : d);
    }
}

/* ---- SMOVE between the two sets of a pair ------------------------------------------- */

/* Where each member is: 0 in A, 1 in B. Member j of every pair belongs to mover
 * j % N_SMOVERS (only that thread reads or writes its entries until the join). */
static unsigned char g_set_loc[N_SET_PAIRS][SET_UNIVERSE];

static void set_key(int pair, int side, char *buf, size_t cap)
{
    snprintf(buf, cap, "drill/s%c:%d", side ? 'b' : 'a', pair);
}

/* Even pairs: strings (listpack / hashtable); odd pairs: integers (intset). */
static void set_member(int pair, int j, char *buf, size_t cap)
{
    if (pair % 2)
        snprintf(buf, cap, "%d", 100000 * (pair + 1) + j);
    else
        snprintf(buf, cap, "s%d:member-%d", pair, j);
}

/* The member index of s in pair, or -1. */
static int set_parse(int pair, const char *s)
{
    char *end;
    long v;
    if (pair % 2) {
        v = strtol(s, &end, 10) - 100000L * (pair + 1);
    } else {
        char prefix[32];
        int n = snprintf(prefix, sizeof prefix, "s%d:member-", pair);
        if (strncmp(s, prefix, (size_t)n) != 0)
            return -1;
        v = strtol(s + n, &end, 10);
    }
    char check[48];
    if (v < 0 || v >= SET_UNIVERSE)
        return -1;
    set_member(pair, (int)v, check, sizeof check);
    return strcmp(check, s) == 0 ? (int)v : -1;
}

/* Resolves a lost SMOVE of member op->b of pair op->a from side op->c (a real move when
 * op->n, else one expected to answer 0): the member is in exactly one of the sets. */
static int smove_resolve_op(writer *w, kv_conn *c, const pend_op *op)
{
    int pair = op->a, j = op->b;
    unsigned char *loc = &g_set_loc[pair][j];
    char keys[2][32], member[48], got[2][300];
    set_key(pair, 0, keys[0], sizeof keys[0]);
    set_key(pair, 1, keys[1], sizeof keys[1]);
    set_member(pair, j, member, sizeof member);
    kv_reply *r[2] = { NULL, NULL };
    for (int s = 0; s < 2; s++) {
        r[s] = conn_cmd(c, "SISMEMBER", keys[s], member, NULL);
        if (!r[s]) {
            kv_reply_free(r[0]);
            return 0;
        }
    }
    int rc;
    bool ints = r[0]->type == KV_REPLY_INTEGER && r[1]->type == KV_REPLY_INTEGER;
    int in_b = ints && r[0]->integer == 0 && r[1]->integer == 1;
    bool one = ints && r[0]->integer + r[1]->integer == 1;
    bool moved = in_b != *loc;
    if (!one || (moved && !op->n)) {
        drill_fail("SMOVE writer %d: after SMOVE %s %s %s got no reply, SISMEMBER answered %s "
                   "(%s) and %s (%s); the member was in %s", w->id, keys[op->c], keys[1 - op->c],
                   member, kv_reply_describe(r[0], got[0], sizeof got[0]), keys[0],
                   kv_reply_describe(r[1], got[1], sizeof got[1]), keys[1], keys[*loc]);
        rc = -1;
    } else {
        /* a wrong-way SMOVE changes nothing: applied or not cannot be told */
        rc = moved ? 2 : op->n ? 1 : 3;
        *loc = (unsigned char)in_b;
    }
    kv_reply_free(r[0]);
    kv_reply_free(r[1]);
    return rc;
}

static int smove_resolve(writer *w, kv_conn *c)
{
    return resolve_each(w, c, smove_resolve_op, "SMOVE");
}

/* Pipelines of SMOVEs of distinct members of this mover, each from the set holding it to
 * the other (answer 1) or, now and then, the wrong way (answer 0). */
static void run_smove(writer *w)
{
    char keys[PIPE_MAX][2][32], members[PIPE_MAX][48], got[300];
    pend_op ops[PIPE_MAX];
    kv_reply *r[PIPE_MAX];
    int mine = (SET_UNIVERSE - w->id + N_SMOVERS - 1) / N_SMOVERS;   /* members owned */
    while (writer_settled(w, smove_resolve, "SISMEMBER resolution")) {
        int d = depth(w);
        for (int p = 0; p < d; p++) {
            int pair, j;
            bool dup;
            do {
                pair = (int)rnd(w, N_SET_PAIRS);
                j = w->id + N_SMOVERS * (int)rnd(w, (unsigned)mine);
                dup = false;
                for (int i = 0; i < p; i++)
                    dup |= ops[i].a == pair && ops[i].b == j;
            } while (dup);
            bool real = rnd(w, SMOVE_WRONG_ONE_IN) != 0;
            int from = real ? g_set_loc[pair][j] : 1 - g_set_loc[pair][j];
            ops[p] = (pend_op){ .a = pair, .b = j, .c = from, .n = real };
            set_key(pair, from, keys[p][0], sizeof keys[p][0]);
            set_key(pair, 1 - from, keys[p][1], sizeof keys[p][1]);
            set_member(pair, j, members[p], sizeof members[p]);
            const char *argv[] = { "SMOVE", keys[p][0], keys[p][1], members[p] };
            pipe_cmd(&w->pipe, 4, argv);
        }
        int n = pipe_run(w, r, "SMOVE");
        for (int p = 0; p < n && !w->gave_up; p++) {
            if (r[p]->type != KV_REPLY_INTEGER || r[p]->integer != ops[p].n) {
                drill_fail("SMOVE writer %d: SMOVE %s %s %s answered %s, expected %lld (worker "
                           "pid %d)", w->id, keys[p][0], keys[p][1], members[p],
                           kv_reply_describe(r[p], got, sizeof got), ops[p].n, (int)w->cl.pid);
                w->gave_up = true;
            } else {
                if (ops[p].n)
                    g_set_loc[ops[p].a][ops[p].b] ^= 1;
                w->acked++;
            }
        }
        free_replies(r, n);
        set_pending(w, ops, n, w->gave_up ? n : d);
    }
}

/* ---- LMOVE between the two lists of a pair ------------------------------------------- */

typedef struct deque2 {
    int elems[2][LIST_UNIVERSE];   /* element indices of A and B, head first */
    int len[2];
} deque2;

/* Models of the owned pairs (pair p < N_OWNED_LIST_PAIRS, owned by LMOVE writer p). */
static deque2 g_lists[N_OWNED_LIST_PAIRS];

static void list_key(int pair, int side, char *buf, size_t cap)
{
    snprintf(buf, cap, "drill/l%c:%d", side ? 'b' : 'a', pair);
}

static size_t list_elem(int pair, int j, char *buf, size_t cap)
{
    return fmt_padded(buf, cap, LIST_ELEM_LEN, "l%d:e%d:", pair, j);
}

/* The element index of s[0..len) in pair, or -1. */
static int list_parse(int pair, const char *s, size_t len)
{
    int p, j;
    char buf[96];
    if (sscanf(s, "l%d:e%d:", &p, &j) != 2 || p != pair || j < 0 || j >= LIST_UNIVERSE)
        return -1;
    size_t n = list_elem(pair, j, buf, sizeof buf);
    return n == len && memcmp(buf, s, len) == 0 ? j : -1;
}

/* Applies LMOVE from side `from` (its tail when from_tail) to the other side (its tail
 * when to_tail); returns the element moved, or -1 when `from` is empty. */
static int deque_move(deque2 *d, int from, bool from_tail, bool to_tail)
{
    int to = 1 - from;
    if (d->len[from] == 0)
        return -1;
    int *src = d->elems[from], *dst = d->elems[to];
    int e;
    if (from_tail) {
        e = src[--d->len[from]];
    } else {
        e = src[0];
        memmove(src, src + 1, (size_t)--d->len[from] * sizeof *src);
    }
    if (to_tail) {
        dst[d->len[to]++] = e;
    } else {
        memmove(dst + 1, dst, (size_t)d->len[to]++ * sizeof *dst);
        dst[0] = e;
    }
    return e;
}

/* True when r (LRANGE of side `side` of pair) lists exactly d's elements of that side. */
static bool list_matches(int pair, const deque2 *d, int side, const kv_reply *r)
{
    if (!reply_strings(r) || r->count != (size_t)d->len[side])
        return false;
    for (size_t i = 0; i < r->count; i++)
        if (list_parse(pair, r->elements[i]->str, r->elements[i]->len) != d->elems[side][i])
            return false;
    return true;
}

static const char *const where[2] = { "LEFT", "RIGHT" };

/* Resolves the lost LMOVEs of an owned pair (op->a; from side op->b, from its tail when
 * op->c & 1, to the other's tail when op->c & 2): both lists now hold the state after a
 * prefix of them - none, some or all - and nothing else. */
static int lmove_resolve(writer *w, kv_conn *c)
{
    int pair = w->pend.ops[0].a;
    char keys[2][32], got[2][300];
    kv_reply *r[2] = { NULL, NULL };
    for (int s = 0; s < 2; s++) {
        list_key(pair, s, keys[s], sizeof keys[s]);
        r[s] = conn_cmd(c, "LRANGE", keys[s], "0", "-1", NULL);
        if (!r[s]) {
            kv_reply_free(r[0]);
            return 0;
        }
    }
    static __thread deque2 state;
    state = g_lists[pair];
    int applied = -1;
    for (int j = 0; applied < 0; j++) {
        if (list_matches(pair, &state, 0, r[0]) && list_matches(pair, &state, 1, r[1]))
            applied = j;
        else if (j == w->pend.count)
            break;
        else
            deque_move(&state, w->pend.ops[j].b, w->pend.ops[j].c & 1, w->pend.ops[j].c & 2);
    }
    int rc = 1;
    if (applied < 0) {
        const pend_op *op = &w->pend.ops[0];
        drill_fail("LMOVE writer %d: after %d LMOVEs got no reply (the first: LMOVE %s %s %s "
                   "%s), the lists are in no state they could lead to: %s = %s (%d before), "
                   "%s = %s (%d before)", w->id, w->pend.count, keys[op->b], keys[1 - op->b],
                   where[op->c & 1], where[(op->c & 2) != 0], keys[0],
                   kv_reply_describe(r[0], got[0], sizeof got[0]), g_lists[pair].len[0],
                   keys[1], kv_reply_describe(r[1], got[1], sizeof got[1]),
                   g_lists[pair].len[1]);
        rc = -1;
    } else {
        g_lists[pair] = state;
        w->lost_applied += applied;
        w->pend.count = 0;
    }
    kv_reply_free(r[0]);
    kv_reply_free(r[1]);
    return rc;
}

/* Pipelines of LMOVEs in random directions: on an owned pair every answer is predicted
 * from the model; on a shared pair it is nil or an element of the pair. */
static void run_lmove(writer *w, bool shared)
{
    char keys[PIPE_MAX][2][32], expect[96], got[300];
    pend_op ops[PIPE_MAX];
    kv_reply *r[PIPE_MAX];
    static __thread deque2 next;
    while (writer_settled(w, lmove_resolve, "LRANGE resolution")) {
        int d = depth(w);
        for (int p = 0; p < d; p++) {
            int pair = shared ? N_OWNED_LIST_PAIRS +
                                (int)rnd(w, N_LIST_PAIRS - N_OWNED_LIST_PAIRS) : w->id;
            int from = (int)rnd(w, 2), dirs = (int)rnd(w, 4);
            ops[p] = (pend_op){ .a = pair, .b = from, .c = dirs };
            list_key(pair, from, keys[p][0], sizeof keys[p][0]);
            list_key(pair, 1 - from, keys[p][1], sizeof keys[p][1]);
            const char *argv[] = { "LMOVE", keys[p][0], keys[p][1], where[dirs & 1],
                                   where[(dirs & 2) != 0] };
            pipe_cmd(&w->pipe, 5, argv);
        }
        int n = pipe_run(w, r, "LMOVE");
        for (int p = 0; p < n && !w->gave_up; p++) {
            int pair = ops[p].a;
            bool ok;
            if (shared) {
                ok = r[p]->type == KV_REPLY_NIL ||
                     (r[p]->type == KV_REPLY_BULK && list_parse(pair, r[p]->str, r[p]->len) >= 0);
            } else {
                next = g_lists[pair];
                int e = deque_move(&next, ops[p].b, ops[p].c & 1, ops[p].c & 2);
                if (e < 0) {
                    ok = r[p]->type == KV_REPLY_NIL;
                    snprintf(expect, sizeof expect, "nil");
                } else {
                    list_elem(pair, e, expect, sizeof expect);
                    ok = kv_reply_is_str(r[p], expect) && r[p]->type == KV_REPLY_BULK;
                }
                if (ok)
                    g_lists[pair] = next;
            }
            if (!ok) {
                drill_fail("%s writer %d: LMOVE %s %s %s %s answered %s, expected %s (worker "
                           "pid %d)", shared ? "shared LMOVE" : "LMOVE", w->id, keys[p][0],
                           keys[p][1], where[ops[p].c & 1], where[(ops[p].c & 2) != 0],
                           kv_reply_describe(r[p], got, sizeof got),
                           shared ? "nil or an element of the pair" : expect, (int)w->cl.pid);
                w->gave_up = true;
            } else {
                w->acked += r[p]->type != KV_REPLY_NIL;
                w->nils += r[p]->type == KV_REPLY_NIL;
            }
        }
        free_replies(r, n);
        if (!shared)
            set_pending(w, ops, n, w->gave_up ? n : d);
    }
}

static void *writer_main(void *arg)
{
    writer *w = arg;
    switch (w->kind) {
    case K_PUSH:         run_push(w); break;
    case K_POP:          run_pop(w); break;
    case K_HASH:         run_hash(w); break;
    case K_ZSET:         run_zset(w); break;
    case K_SMOVE:        run_smove(w); break;
    case K_LMOVE:        run_lmove(w, false); break;
    case K_LMOVE_SHARED: run_lmove(w, true); break;
    case K_KINDS:        break;
    }
    if (w->cl.c)
        drill_client_disconnect(&w->cl);
    free(w->pipe.p);
    w->pipe.p = NULL;
    return NULL;
}

/* ---- initial contents (main thread, before any writer) --------------------------------- */

/* Fills A of every set and list pair with its whole universe. "" or a description. */
static void fill_pairs(kv_conn *c, char *err, size_t cap)
{
    static char bufs[LIST_UNIVERSE > SET_UNIVERSE ? LIST_UNIVERSE : SET_UNIVERSE][96];
    const char *argv[2 + (LIST_UNIVERSE > SET_UNIVERSE ? LIST_UNIVERSE : SET_UNIVERSE)];
    char key[32], got[300];
    err[0] = '\0';
    for (int p = 0; p < N_SET_PAIRS && !*err; p++) {
        set_key(p, 0, key, sizeof key);
        argv[0] = "SADD";
        argv[1] = key;
        for (int j = 0; j < SET_UNIVERSE; j++) {
            set_member(p, j, bufs[j], sizeof bufs[j]);
            argv[2 + j] = bufs[j];
        }
        kv_reply *r = conn_cmdv(c, 2 + SET_UNIVERSE, argv, NULL);
        if (!r || r->type != KV_REPLY_INTEGER || r->integer != SET_UNIVERSE)
            snprintf(err, cap, "SADD %s (%d members) answered %s", key, SET_UNIVERSE,
                     kv_reply_describe(r, got, sizeof got));
        kv_reply_free(r);
    }
    for (int p = 0; p < N_LIST_PAIRS && !*err; p++) {
        list_key(p, 0, key, sizeof key);
        argv[0] = "RPUSH";
        argv[1] = key;
        for (int j = 0; j < LIST_UNIVERSE; j++) {
            list_elem(p, j, bufs[j], sizeof bufs[j]);
            argv[2 + j] = bufs[j];
        }
        kv_reply *r = conn_cmdv(c, 2 + LIST_UNIVERSE, argv, NULL);
        if (!r || r->type != KV_REPLY_INTEGER || r->integer != LIST_UNIVERSE)
            snprintf(err, cap, "RPUSH %s (%d elements) answered %s", key, LIST_UNIVERSE,
                     kv_reply_describe(r, got, sizeof got));
        kv_reply_free(r);
        if (p < N_OWNED_LIST_PAIRS) {
            for (int j = 0; j < LIST_UNIVERSE; j++)
                g_lists[p].elems[0][j] = j;
            g_lists[p].len[0] = LIST_UNIVERSE;
            g_lists[p].len[1] = 0;
        }
    }
}

/* ---- final checks (main thread, writers stopped) -------------------------------------- */

typedef struct final_stats {
    long long keys;            /* non-empty keys seen (for DBSIZE) */
    long long queue_len, queue_missing, queue_lost_applied;
    long long hash_fields, zset_members, set_cross;  /* set_cross: members in B */
    long long list_in_b;
} final_stats;

/* Settles a writer's last lost commands on the final connection. */
static void final_resolve(kv_conn *c, writer *w)
{
    if (w->pend.count == 0 || w->gave_up)
        return;
    int rc = w->kind == K_HASH ? hash_resolve(w, c)
           : w->kind == K_ZSET ? zset_resolve(w, c)
           : w->kind == K_SMOVE ? smove_resolve(w, c)
           : w->kind == K_LMOVE ? lmove_resolve(w, c) : 1;
    if (rc == 0)
        drill_fail("final check: resolving %s writer %d's last commands got no reply: %s",
                   kind_name[w->kind], w->id, conn_error(c));
    if (rc < 0)
        w->gave_up = true;
}

/* The list is increasing and after every acknowledged pop; every acknowledged push is
 * in it or was popped, except what pops without a reply took (from before the head); an
 * RPUSH without a reply was applied whole or not at all. */
static void check_queue(kv_conn *c, queue *q, const writer *popper, final_stats *st)
{
    char got[300];
    kv_reply *r = drill_final_cmd(c, "LRANGE", "LRANGE", q->key, "0", "-1", NULL);
    if (!r)
        return;
    if (!reply_strings(r)) {
        drill_fail("queue %s: LRANGE answered %s", q->key, kv_reply_describe(r, got, sizeof got));
        kv_reply_free(r);
        return;
    }
    long long sent = q->sent;
    enum { ABSENT = 0, IN_LIST = 1, POPPED = 2, UNAPPLIED = 3 };
    unsigned char *at = calloc((size_t)(sent > 0 ? sent : 1), 1);
    if (!at)
        abort();
    long long prev = -1, first = -1;
    bool ok = true;
    for (size_t i = 0; i < r->count && ok; i++) {
        long long s = queue_parse(q, r->elements[i]->str, r->elements[i]->len);
        if (s < 0 || s >= sent || s <= prev) {
            drill_fail("queue %s: element %zu of the list is %s after %lld (expected strictly "
                       "increasing numbers below %lld, the ones sent)", q->key, i,
                       kv_reply_describe(r->elements[i], got, sizeof got), prev, sent);
            ok = false;
        } else {
            at[s] = IN_LIST;
            prev = s;
            if (first < 0)
                first = s;
        }
    }
    for (size_t i = 0; i < q->npopped && ok; i++) {
        long long s = q->popped[i];
        if (at[s] || (first >= 0 && s > first)) {
            drill_fail("queue %s: %lld was popped (acknowledged) yet the list %s", q->key, s,
                       at[s] ? "still holds it" : "holds an older number before it");
            ok = false;
        }
        at[s] = POPPED;
        /* numbers between two elements of one LPOP reply were not in the list then (nor
         * later: the pusher sends in order): their RPUSH was not applied */
        if (i > 0 && q->pop_reply[i] == q->pop_reply[i - 1]) {
            for (long long x = q->popped[i - 1] + 1; x < s && ok; x++) {
                if ((q->status[x] & Q_STATE) == Q_ACKED) {
                    drill_fail("queue %s: one LPOP answered %lld then %lld without the "
                               "acknowledged %lld between them", q->key, q->popped[i - 1], s, x);
                    ok = false;
                }
                at[x] = UNAPPLIED;
            }
        }
    }
    long long missing = 0, first_missing = -1, lost_applied = 0;
    for (long long s = 0; s < sent && ok; s++) {
        if ((q->status[s] & Q_STATE) == Q_ACKED && at[s] != IN_LIST && at[s] != POPPED) {
            if (first >= 0 && s > first) {
                drill_fail("queue %s: acknowledged RPUSH of %lld is neither in the list nor "
                           "popped, and the list's head is the older %lld", q->key, s, first);
                ok = false;
            }
            if (first_missing < 0)
                first_missing = s;
            missing++;
        }
    }
    /* RPUSHes without a reply: all of their numbers or none (those taken by pops without
     * a reply, from before the head, cannot be told apart from unapplied ones) */
    for (long long s = 0; s < sent && ok;) {
        long long e = s + 1;
        while (e < sent && !(q->status[e] & Q_BATCH_START))
            e++;
        if ((q->status[s] & Q_STATE) == Q_LOST) {
            long long present = 0, surely_absent = -1;
            for (long long x = s; x < e; x++) {
                present += at[x] == IN_LIST || at[x] == POPPED;
                if (at[x] == UNAPPLIED || (at[x] == ABSENT && first >= 0 && x > first))
                    surely_absent = x;
            }
            if (present && surely_absent >= 0) {
                drill_fail("queue %s: the RPUSH of %lld..%lld that got no reply was applied in "
                           "part: %lld of its numbers are in the list or popped, %lld is not",
                           q->key, s, e - 1, present, surely_absent);
                ok = false;
            }
            lost_applied += present > 0;
        }
        s = e;
    }
    if (ok && missing > q->lost_pop_elems)
        drill_fail("queue %s: %lld acknowledged pushed numbers (the first %lld) are neither in "
                   "the list nor among the acknowledged pops, more than the %lld the LPOPs "
                   "without a reply may have taken", q->key, missing, first_missing,
                   q->lost_pop_elems);
    /* the bounds of the issue, implied by the above */
    long long len = (long long)r->count, popped = (long long)q->npopped;
    if (ok && (len < q->acked_elems - popped - q->lost_pop_elems || len > sent - popped))
        drill_fail("queue %s: LLEN %lld outside [%lld, %lld] (pushed numbers acked %lld / sent "
                   "%lld, popped acked %lld, pops without a reply %lld taking up to %lld)",
                   q->key, len, q->acked_elems - popped - q->lost_pop_elems, sent - popped,
                   q->acked_elems, sent, popped, popper->lost, q->lost_pop_elems);
    st->keys += len > 0;
    st->queue_len += len;
    st->queue_missing += missing;
    st->queue_lost_applied += lost_applied;
    free(at);
    kv_reply_free(r);
}

static void check_hash(kv_conn *c, const writer *w, final_stats *st)
{
    const hash_model *m = &g_hash[w->id];
    char key[32], field[32], got[300];
    hash_key(w, key, sizeof key);
    kv_reply *r = drill_final_cmd(c, "HGETALL", "HGETALL", key, NULL);
    if (!r)
        return;
    long long want = 0;
    for (int f = 0; f < HASH_FIELDS; f++)
        want += m->val[f] > 0;
    bool ok = (r->type == KV_REPLY_ARRAY || r->type == KV_REPLY_MAP) &&
              r->count == 2 * (size_t)want;
    for (int f = 0; f < HASH_FIELDS && ok; f++) {
        if (!m->val[f])
            continue;
        hash_field(f, field, sizeof field);
        const kv_reply *v = kv_reply_map_get(r, field);
        long long n;
        if (!v || !reply_ll(v, &n) || n != m->val[f]) {
            drill_fail("HINCRBY writer %d: %s %s is %s, expected %lld", w->id, key, field,
                       kv_reply_describe(v, got, sizeof got), m->val[f]);
            ok = false;
            break;
        }
    }
    if (!ok && r->count != 2 * (size_t)want)
        drill_fail("HINCRBY writer %d: HGETALL %s answered %s, expected %lld fields", w->id, key,
                   kv_reply_describe(r, got, sizeof got), want);
    st->keys += want > 0;
    st->hash_fields += want;
    kv_reply_free(r);
}

static void check_zset(kv_conn *c, const writer *w, final_stats *st)
{
    const zset_model *m = &g_zset[w->id];
    char key[32], member[48], got[300];
    zset_key(w, key, sizeof key);
    kv_reply *r = drill_final_cmd(c, "ZRANGE", "ZRANGE", key, "0", "-1", "WITHSCORES", NULL);
    if (!r)
        return;
    size_t want = m->n + (m->ctr > 0);
    bool ok = r->type == KV_REPLY_ARRAY && r->count == 2 * want;
    /* members in (score, member) order; "ctr" sorts before "m:..." on a tie */
    size_t mi = 0;
    bool ctr_seen = m->ctr == 0;
    long long prev = -1;
    for (size_t i = 0; ok && i < want; i++) {
        const kv_reply *mem = r->elements[2 * i], *sc = r->elements[2 * i + 1];
        long long score;
        if (mem->type != KV_REPLY_BULK || !reply_score(sc, &score) || score < prev) {
            ok = false;
            break;
        }
        prev = score;
        if (!ctr_seen && (mi == m->n || m->ctr <= m->seqs[mi])) {
            ok = kv_reply_is_str(mem, "ctr") && score == m->ctr;
            ctr_seen = true;
        } else {
            snprintf(member, sizeof member, "m:%lld", m->seqs[mi]);
            ok = mi < m->n && kv_reply_is_str(mem, member) && score == m->seqs[mi];
            mi++;
        }
    }
    if (!ok)
        drill_fail("ZSET writer %d: ZRANGE %s 0 -1 WITHSCORES answered %s, expected %zu "
                   "members (ctr %lld, m:<seq> with seq %lld..%lld)", w->id, key,
                   kv_reply_describe(r, got, sizeof got), want, m->ctr,
                   m->n ? m->seqs[0] : -1, m->n ? m->seqs[m->n - 1] : -1);
    kv_reply_free(r);
    r = drill_final_cmd(c, "ZCARD", "ZCARD", key, NULL);
    if (r && !(r->type == KV_REPLY_INTEGER && r->integer == (long long)want))
        drill_fail("ZSET writer %d: ZCARD %s is %s, expected %zu", w->id, key,
                   kv_reply_describe(r, got, sizeof got), want);
    kv_reply_free(r);
    st->keys += want > 0;
    st->zset_members += (long long)want;
}

static void check_set_pair(kv_conn *c, int pair, final_stats *st)
{
    char keys[2][32], got[300];
    unsigned char seen[SET_UNIVERSE];
    memset(seen, 0, sizeof seen);
    bool ok = true;
    size_t total = 0;
    for (int s = 0; s < 2 && ok; s++) {
        set_key(pair, s, keys[s], sizeof keys[s]);
        kv_reply *r = drill_final_cmd(c, "SMEMBERS", "SMEMBERS", keys[s], NULL);
        if (!r)
            return;
        if (!reply_strings(r)) {
            drill_fail("SMOVE pair %d: SMEMBERS %s answered %s", pair, keys[s],
                       kv_reply_describe(r, got, sizeof got));
            ok = false;
        }
        for (size_t i = 0; ok && i < r->count; i++) {
            int j = set_parse(pair, r->elements[i]->str);
            if (j < 0 || seen[j]) {
                drill_fail("SMOVE pair %d: %s holds %s, %s", pair, keys[s],
                           kv_reply_describe(r->elements[i], got, sizeof got),
                           j < 0 ? "not a member of the pair's universe"
                                 : seen[j] == 1 + s ? "twice" : "which the other set holds too");
                ok = false;
            } else if (g_set_loc[pair][j] != s) {
                drill_fail("SMOVE pair %d: %s holds %s, whose acknowledged moves leave it in %s",
                           pair, keys[s], r->elements[i]->str, keys[1 - s]);
                ok = false;
            } else {
                seen[j] = (unsigned char)(1 + s);
            }
        }
        total += ok ? r->count : 0;
        st->keys += ok && r->count > 0;
        if (s == 1 && ok)
            st->set_cross += (long long)r->count;
        kv_reply_free(r);
    }
    if (ok && total != SET_UNIVERSE)
        drill_fail("SMOVE pair %d: |%s| + |%s| = %zu, expected %d (members lost)", pair, keys[0],
                   keys[1], total, SET_UNIVERSE);
}

static void check_list_pair(kv_conn *c, int pair, final_stats *st)
{
    char keys[2][32], got[2][300];
    kv_reply *r[2] = { NULL, NULL };
    for (int s = 0; s < 2; s++) {
        list_key(pair, s, keys[s], sizeof keys[s]);
        r[s] = drill_final_cmd(c, "LRANGE", "LRANGE", keys[s], "0", "-1", NULL);
        if (!r[s]) {
            kv_reply_free(r[0]);
            return;
        }
    }
    bool ok = reply_strings(r[0]) && reply_strings(r[1]);
    if (ok && pair < N_OWNED_LIST_PAIRS) {
        const deque2 *d = &g_lists[pair];
        if (!list_matches(pair, d, 0, r[0]) || !list_matches(pair, d, 1, r[1])) {
            drill_fail("LMOVE pair %d: the lists differ from the acknowledged moves: %s = %s "
                       "(%d expected), %s = %s (%d expected)", pair, keys[0],
                       kv_reply_describe(r[0], got[0], sizeof got[0]), d->len[0], keys[1],
                       kv_reply_describe(r[1], got[1], sizeof got[1]), d->len[1]);
        }
    }
    unsigned short count[LIST_UNIVERSE];
    memset(count, 0, sizeof count);
    for (int s = 0; s < 2 && ok; s++) {
        for (size_t i = 0; i < r[s]->count && ok; i++) {
            int j = list_parse(pair, r[s]->elements[i]->str, r[s]->elements[i]->len);
            if (j < 0 || count[j]++) {
                drill_fail("LMOVE pair %d: %s holds %s%s", pair, keys[s],
                           kv_reply_describe(r[s]->elements[i], got[0], sizeof got[0]),
                           j < 0 ? ", not an element of the pair" : ", a second time");
                ok = false;
            }
        }
    }
    if (!ok && !(reply_strings(r[0]) && reply_strings(r[1])))
        drill_fail("LMOVE pair %d: LRANGE answered %s and %s", pair,
                   kv_reply_describe(r[0], got[0], sizeof got[0]),
                   kv_reply_describe(r[1], got[1], sizeof got[1]));
    if (ok && r[0]->count + r[1]->count != LIST_UNIVERSE)
        drill_fail("LMOVE pair %d: LLEN %s + LLEN %s = %zu, expected %d (elements lost)", pair,
                   keys[0], keys[1], r[0]->count + r[1]->count, LIST_UNIVERSE);
    if (ok) {
        st->keys += (r[0]->count > 0) + (r[1]->count > 0);
        st->list_in_b += (long long)r[1]->count;
    }
    kv_reply_free(r[0]);
    kv_reply_free(r[1]);
}

static const writer *lmove_owner(int pair)
{
    for (int i = 0; i < N_WRITERS; i++)
        if (g_writers[i].kind == K_LMOVE && g_writers[i].id == pair)
            return &g_writers[i];
    return NULL;
}

/* ---- the test ------------------------------------------------------------------------ */

static void test_crash_drill_collections(void **state)
{
    it_skip_unless_kvns("crash drill of kvns workers");
    long long t_start = drill_now_ms();
    const char *env[] = { "KVNS_WORKERS=3", "KVNS_SHARD_COUNT=16", NULL };
    kv_server *srv = srv_start(env);
    assert_non_null(srv);

    static drill d;              /* large; the test runs once */
    static drill_observer obs[N_OBSERVERS];
    static drill_client *clients[N_WRITERS];
    writer *wr = g_writers;
    memset(g_writers, 0, sizeof g_writers);
    memset(g_queues, 0, sizeof g_queues);
    memset(g_hash, 0, sizeof g_hash);
    memset(g_zset, 0, sizeof g_zset);
    memset(g_set_loc, 0, sizeof g_set_loc);
    memset(g_lists, 0, sizeof g_lists);
    int n = 0;
    for (int i = 0; i < N_QUEUES; i++) {
        g_queues[i].id = i;
        snprintf(g_queues[i].key, sizeof g_queues[i].key, "drill/q:%d", i);
        wr[n] = (writer){ .id = i, .kind = K_PUSH, .q = &g_queues[i] };
        n++;
        wr[n] = (writer){ .id = i, .kind = K_POP, .q = &g_queues[i] };
        n++;
    }
    for (int i = 0; i < N_HASH_WRITERS; i++)
        wr[n++] = (writer){ .id = i, .kind = K_HASH };
    for (int i = 0; i < N_ZSET_WRITERS; i++)
        wr[n++] = (writer){ .id = i, .kind = K_ZSET };
    for (int i = 0; i < N_SMOVERS; i++)
        wr[n++] = (writer){ .id = i, .kind = K_SMOVE };
    for (int i = 0; i < N_OWNED_LIST_PAIRS; i++)
        wr[n++] = (writer){ .id = i, .kind = K_LMOVE };
    for (int i = 0; i < N_SHARED_LMOVERS; i++)
        wr[n++] = (writer){ .id = i, .kind = K_LMOVE_SHARED };
    for (int i = 0; i < N_WRITERS; i++) {
        clients[i] = &wr[i].cl;
        wr[i].cl.rng = (unsigned)t_start * 2654435761u + (unsigned)i;
        wr[i].rng = (unsigned)t_start * 40503u + 7919u * (unsigned)i;
        snprintf(wr[i].cl.name, sizeof wr[i].cl.name, "%s writer %d", kind_name[wr[i].kind],
                 wr[i].id);
    }

    char err[512] = "";
    if (drill_begin(&d, srv, DRILL_WORKERS, clients, N_WRITERS, obs, N_OBSERVERS, err,
                    sizeof err))
        fill_pairs(d.ctl, err, sizeof err);
    if (*err) {
        drill_abort(&d, obs, N_OBSERVERS, srv, err);
    }

    d.aim_running = true;

    /* From here on no cmocka assertion until every thread is joined. */
    static pthread_t tids[N_WRITERS];
    const drill_writers writers = { writer_main, wr, sizeof *wr, tids, N_WRITERS };
    long long kill_phase_ms;
    int nwr = drill_run(&d, obs, N_OBSERVERS, &writers, WARMUP_MS, MIN_WORKER_KILLS,
                        HOUSEKEEPER_KILLS, KILL_PHASE_LIMIT_MS,
                        (unsigned)getpid() ^ (unsigned)t_start, &kill_phase_ms);

    /* ---- verdict ---- */
    final_stats st = { 0 };
    bool server_up = drill_supervisor_ok(&d);
    kv_conn *fc = server_up ? conn_open(drill_port()) : NULL;
    kv_reply *r;
    if (fc) {
        char got[600];
        conn_set_timeout(fc, DRILL_WRITER_TIMEOUT_MS);
        drill_final_debug_check(fc);
        for (int i = 0; i < nwr; i++)
            final_resolve(fc, &wr[i]);
        for (int i = 0; i < N_WRITERS; i++) {
            if (wr[i].acked == 0)
                drill_fail("%s writer %d made no acknowledged progress", kind_name[wr[i].kind],
                           wr[i].id);
        }
        /* a writer that gave up may have left its model behind: skip what it touched */
        bool smovers_ok = true;
        for (int i = 0; i < N_WRITERS; i++)
            smovers_ok &= wr[i].kind != K_SMOVE || !wr[i].gave_up;
        for (int i = 0; i < N_QUEUES; i++)
            if (!wr[2 * i].gave_up && !wr[2 * i + 1].gave_up)
                check_queue(fc, &g_queues[i], &wr[2 * i + 1], &st);
        for (int i = 0; i < N_WRITERS; i++) {
            if (wr[i].kind == K_HASH && !wr[i].gave_up)
                check_hash(fc, &wr[i], &st);
            else if (wr[i].kind == K_ZSET && !wr[i].gave_up)
                check_zset(fc, &wr[i], &st);
        }
        for (int p = 0; p < N_SET_PAIRS && smovers_ok; p++)
            check_set_pair(fc, p, &st);
        for (int p = 0; p < N_LIST_PAIRS; p++) {
            const writer *owner = p < N_OWNED_LIST_PAIRS ? lmove_owner(p) : NULL;
            if (!owner || !owner->gave_up)
                check_list_pair(fc, p, &st);
        }
        /* no stray keys: every non-empty key seen, plus the observers' (only meaningful
         * when every check above ran and counted its keys) */
        if (drill_failure_count() == 0) {
            long long want = st.keys + N_OBSERVERS;
            r = drill_final_cmd(fc, "DBSIZE", "DBSIZE", NULL);
            if (r && !(r->type == KV_REPLY_INTEGER && r->integer == want))
                drill_fail("DBSIZE after the drill is %s, expected %lld",
                           kv_reply_describe(r, got, sizeof got), want);
            kv_reply_free(r);
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

    long long acked[K_KINDS] = { 0 }, lost[K_KINDS] = { 0 }, applied[K_KINDS] = { 0 };
    long long connects = 0, on_w0 = 0, max_queue = 0, dels = 0, pipelines = 0;
    for (int i = 0; i < N_WRITERS; i++) {
        acked[wr[i].kind] += wr[i].acked;
        lost[wr[i].kind] += wr[i].lost;
        applied[wr[i].kind] += wr[i].lost_applied;
        connects += wr[i].cl.connects;
        on_w0 += wr[i].cl.on_w0;
        pipelines += wr[i].pipelines;
    }
    for (int i = 0; i < N_QUEUES; i++)
        max_queue = g_queues[i].max_len > max_queue ? g_queues[i].max_len : max_queue;
    for (int i = 0; i < N_HASH_WRITERS; i++)
        dels += g_hash[i].dels;
    for (int i = 0; i < N_ZSET_WRITERS; i++)
        dels += g_zset[i].dels;
    print_message("collections drill: %d worker kills (%d hit writers, %d within %d ms of start) "
                  "and %d housekeeper kills in %lld ms (%d victims killed while running); respawn avg "
                  "%lld ms, max %lld ms; writer connects %lld (%lld on W0); observers %lld ops on W0 %s\n",
                  d.worker_kills, d.kills_with_writers, d.quick_kills,
                  DRILL_QUICK_DEATH_MS + DRILL_QUICK_MARGIN_MS, d.hk_kills, kill_phase_ms,
                  d.aimed_kills, d.respawns ? d.respawn_total_ms / d.respawns : 0,
                  d.respawn_max_ms, connects,
                  on_w0, obs_ops, observers_ok ? "without error" : "WITH ERRORS");
    print_message("collections drill: acked (lost attempts, of which found applied): RPUSH %lld "
                  "(%lld, %lld in the end) / LPOP %lld (%lld) / HINCRBY+DEL %lld (%lld, %lld) / "
                  "ZADD+ZINCRBY+DEL %lld (%lld, %lld) / SMOVE %lld (%lld, %lld) / LMOVE %lld "
                  "(%lld, %lld) / shared LMOVE %lld (%lld); %lld DELs; %lld pipelines of 2..%d\n",
                  acked[K_PUSH], lost[K_PUSH], st.queue_lost_applied, acked[K_POP], lost[K_POP],
                  acked[K_HASH], lost[K_HASH], applied[K_HASH], acked[K_ZSET], lost[K_ZSET],
                  applied[K_ZSET], acked[K_SMOVE], lost[K_SMOVE], applied[K_SMOVE],
                  acked[K_LMOVE], lost[K_LMOVE], applied[K_LMOVE], acked[K_LMOVE_SHARED],
                  lost[K_LMOVE_SHARED], dels, pipelines, PIPE_MAX);
    long long q_sent = 0, q_acked = 0, q_popped = 0;
    for (int i = 0; i < N_QUEUES; i++) {
        q_sent += g_queues[i].sent;
        q_acked += g_queues[i].acked_elems;
        q_popped += (long long)g_queues[i].npopped;
    }
    print_message("collections drill: queues: %lld numbers pushed (%lld acked), %lld popped "
                  "(acked); finally %lld in the lists (longest %lld), %lld acked ones taken by "
                  "pops without a reply; hashes %lld fields, sorted sets %lld members, %lld of "
                  "%d set members in B, %lld of %d list elements in B; %lld non-empty keys\n",
                  q_sent, q_acked, q_popped, st.queue_len, max_queue, st.queue_missing,
                  st.hash_fields, st.zset_members, st.set_cross, N_SET_PAIRS * SET_UNIVERSE,
                  st.list_in_b, N_LIST_PAIRS * LIST_UNIVERSE, st.keys);

    for (int i = 0; i < N_QUEUES; i++) {
        free(g_queues[i].status);
        free(g_queues[i].popped);
        free(g_queues[i].pop_reply);
    }
    for (int i = 0; i < N_ZSET_WRITERS; i++)
        free(g_zset[i].seqs);

    drill_finish(srv, "collections drill");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crash_drill_collections),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
