/* difffuzz.c - the differential fuzzer's engine (see difffuzz.h): servers, sending,
 * comparing, DEBUG CHECK, minimising and reporting a failure. */
#include "difffuzz.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* What went wrong with a command or a check. */
enum df_failure {
    DF_OK,
    DF_DIVERGED,     /* the replies differ */
    DF_CHECK,        /* DEBUG CHECK did not answer OK */
    DF_GONE,         /* kvns closed the connection (crashed or hung up) */
    DF_REDIS_GONE,   /* the reference failed: not a finding, the run cannot go on */
};

typedef struct df_run {
    difffuzz_servers *s;
    const difffuzz_opts *o;
    kv_conn *ck, *cr;                /* to kvns, to redis */
    bool *kvns_only;                 /* per grammar row: redis does not know the command */
    bool *arity_differs;             /* per grammar row: the two servers' arities differ */
    bool *absent;                    /* per grammar row: kvns's table does not have it */
    char **generic;                  /* kvns commands without a grammar row */
    size_t ngeneric;
    uint64_t rng;                    /* picks the generic commands */
} df_run;

typedef struct sbuf {
    char  *p;
    size_t len, cap;
} sbuf;

static long long mono_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void difffuzz_default_opts(difffuzz_opts *opts)
{
    memset(opts, 0, sizeof *opts);
    opts->seed = 1;
    opts->commands = 10000;
    opts->round_len = 1000;
    opts->check_every = 250;
    opts->report = stderr;
}

/* ---- servers ----------------------------------------------------------------------------- */

/* Starts one server of the given target through the harness, which picks the target
 * from KVNS_TEST_TARGET (restored afterwards). */
static kv_server *start_target(const char *target)
{
    static const char *const kvns_env[] = { "KVNS_ENABLE_DEBUG_COMMAND=yes", NULL };
    const char *old = getenv("KVNS_TEST_TARGET");
    char *saved = old ? strdup(old) : NULL;
    setenv("KVNS_TEST_TARGET", target, 1);
    kv_server *srv = srv_start(kvns_env);
    if (saved)
        setenv("KVNS_TEST_TARGET", saved, 1);
    else
        unsetenv("KVNS_TEST_TARGET");
    free(saved);
    return srv;
}

int difffuzz_start_servers(difffuzz_servers *s)
{
    memset(s, 0, sizeof *s);
    s->kvns = start_target("kvns");
    s->redis = s->kvns ? start_target("redis") : NULL;
    if (!s->kvns || !s->redis) {
        difffuzz_stop_servers(s);
        return -1;
    }
    s->kvns_port = srv_port(s->kvns);
    s->redis_port = srv_port(s->redis);
    s->started = true;
    return 0;
}

void difffuzz_stop_servers(difffuzz_servers *s)
{
    if (s->kvns)
        srv_stop(s->kvns);
    if (s->redis)
        srv_stop(s->redis);
    s->kvns = s->redis = NULL;
    s->started = false;
}

/* Replaces a dead or corrupt kvns by a fresh one (only when we started it). */
static bool restart_kvns(df_run *run)
{
    if (!run->s->started)
        return false;
    if (run->ck)
        conn_close(run->ck);
    run->ck = NULL;
    srv_stop(run->s->kvns);
    run->s->kvns = start_target("kvns");
    if (!run->s->kvns)
        return false;
    run->s->kvns_port = srv_port(run->s->kvns);
    run->ck = conn_open(run->s->kvns_port);
    return run->ck != NULL;
}

/* ---- replies ------------------------------------------------------------------------------- */

static void sb_put(sbuf *b, const void *p, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (b->len + n + 1 > cap)
            cap *= 2;
        b->p = realloc(b->p, cap);
        if (!b->p)
            abort();
        b->cap = cap;
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
    b->p[b->len] = 0;
}

/* Appends a serialisation of r that is equal for equal replies (type, nil kind, bytes). */
static void canon(const kv_reply *r, sbuf *out)
{
    char head[64];
    int n;
    switch (r->type) {
    case KV_REPLY_INTEGER:
    case KV_REPLY_BOOL:
        n = snprintf(head, sizeof head, "%d:%lld;", (int)r->type, r->integer);
        sb_put(out, head, (size_t)n);
        return;
    case KV_REPLY_NIL:
        n = snprintf(head, sizeof head, "%d%c;", (int)r->type, r->prefix);
        sb_put(out, head, (size_t)n);
        return;
    case KV_REPLY_ARRAY:
    case KV_REPLY_MAP:
    case KV_REPLY_SET:
    case KV_REPLY_PUSH:
        n = snprintf(head, sizeof head, "%d*%zu;", (int)r->type, r->count);
        sb_put(out, head, (size_t)n);
        for (size_t i = 0; i < r->count; i++)
            canon(r->elements[i], out);
        return;
    default:
        n = snprintf(head, sizeof head, "%d$%zu:", (int)r->type, r->len);
        sb_put(out, head, (size_t)n);
        sb_put(out, r->str, r->len);
        return;
    }
}

static int cmp_sbuf(const void *a, const void *b)
{
    const sbuf *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->p, y->p, n);
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

static bool is_aggregate(const kv_reply *r)
{
    return r->type == KV_REPLY_ARRAY || r->type == KV_REPLY_MAP || r->type == KV_REPLY_SET ||
           r->type == KV_REPLY_PUSH;
}

/* Appends r with its top-level elements sorted, in units of `unit` elements (1, or 2
 * for field/value pairs): the serialisation of an unordered collection. */
static void canon_sorted(const kv_reply *r, size_t unit, sbuf *out)
{
    size_t nunits = r->count / unit;
    sbuf *parts = calloc(nunits ? nunits : 1, sizeof *parts);
    if (!parts)
        abort();
    for (size_t i = 0; i < nunits; i++)
        for (size_t j = 0; j < unit; j++)
            canon(r->elements[i * unit + j], &parts[i]);
    qsort(parts, nunits, sizeof *parts, cmp_sbuf);
    char head[64];
    int n = snprintf(head, sizeof head, "%d*%zu;", (int)r->type, r->count);
    sb_put(out, head, (size_t)n);
    for (size_t i = 0; i < nunits; i++) {
        sb_put(out, parts[i].p ? parts[i].p : "", parts[i].len);
        free(parts[i].p);
    }
    free(parts);
}

/* Appends r serialised as its row's comparison mode sees it. */
static void canon_for(const df_row *row, const kv_reply *r, sbuf *out)
{
    if ((row->cmp == DF_SORTED || row->cmp == DF_PAIRS) && is_aggregate(r))
        canon_sorted(r, row->cmp == DF_PAIRS ? 2 : 1, out);
    else
        canon(r, out);
}

/* True when a TTL-like integer reply matches: negative codes exactly, times within
 * the few milliseconds (or the second) that pass between the two servers. */
static bool ttl_close(const df_row *row, long long a, long long b)
{
    if (a < 0 || b < 0)
        return a == b;
    long long tolerance = row->name[0] == 'p' ? 2000 : 2;
    return llabs(a - b) <= tolerance;
}

/* True when the two replies of a command of this row count as equal. */
static bool replies_match(const df_row *row, const kv_reply *a, const kv_reply *b)
{
    if (row->cmp == DF_TYPE)
        return a->type == b->type;
    if (row->cmp == DF_SHAPE)
        return a->type == b->type && (!is_aggregate(a) || a->count == b->count);
    if (row->cmp == DF_TTL && a->type == KV_REPLY_INTEGER && b->type == KV_REPLY_INTEGER)
        return ttl_close(row, a->integer, b->integer);
    sbuf x = { 0 }, y = { 0 };
    canon_for(row, a, &x);
    canon_for(row, b, &y);
    bool same = x.len == y.len && memcmp(x.p, y.p, x.len) == 0;
    free(x.p);
    free(y.p);
    return same;
}

/* ---- sending ------------------------------------------------------------------------------- */

static bool is_status(const kv_reply *r, const char *s)
{
    return r && r->type == KV_REPLY_STATUS && strcmp(r->str, s) == 0;
}

/* Index of c's grammar row (generic commands have none: -1). */
static long row_index(const df_cmd *c)
{
    return c->row ? (long)(c->row - df_row_at(0)) : -1;
}

/* True when both replies are errors of a command whose arity differs between kvns and
 * this redis-server (a command that gained options in a later Redis 7 release, such
 * as ZRANK's WITHSCORE): one says "wrong number of arguments", the other rejects the
 * arguments some other way. */
static bool arity_error_pair(const df_run *run, const df_cmd *c, const kv_reply *a, const kv_reply *b)
{
    return row_index(c) >= 0 && run->arity_differs[row_index(c)] && a->type == KV_REPLY_ERROR &&
           b->type == KV_REPLY_ERROR;
}

/* Sends c to kvns and (unless redis lacks the command) to redis. The replies are
 * returned through *rk / *rr when those are not NULL, else freed. */
static enum df_failure step(df_run *run, const df_cmd *c, kv_reply **rk, kv_reply **rr)
{
    static const df_row generic_row = { "(generic)", 0, DF_EXACT, "", NULL };
    const df_row *row = c->row ? c->row : &generic_row;
    kv_reply *a = conn_cmdv(run->ck, c->argc, (const char *const *)c->argv, c->lens);
    kv_reply *b = NULL;
    enum df_failure f = DF_OK;
    if (!a) {
        f = DF_GONE;
    } else if (row_index(c) < 0 || !run->kvns_only[row_index(c)]) {
        b = conn_cmdv(run->cr, c->argc, (const char *const *)c->argv, c->lens);
        if (!b)
            f = DF_REDIS_GONE;
        else if (!replies_match(row, a, b) && !arity_error_pair(run, c, a, b))
            f = DF_DIVERGED;
    }
    if (rk)
        *rk = a;
    else
        kv_reply_free(a);
    if (rr)
        *rr = b;
    else
        kv_reply_free(b);
    return f;
}

/* DEBUG CHECK on kvns. *why (may be NULL) gets its reply, described. */
static enum df_failure check(df_run *run, char *why, size_t cap)
{
    kv_reply *r = conn_cmd(run->ck, "DEBUG", "CHECK", NULL);
    enum df_failure f = !r ? DF_GONE : is_status(r, "OK") ? DF_OK : DF_CHECK;
    if (why)
        kv_reply_describe(r, why, cap);
    kv_reply_free(r);
    return f;
}

/* Sends a state reset (FLUSHALL, RESET) on one connection; true when both answered. */
static bool reset_conn(kv_conn *c)
{
    kv_reply *f = c ? conn_cmd(c, "FLUSHALL", NULL) : NULL;
    kv_reply *r = f ? conn_cmd(c, "RESET", NULL) : NULL;
    bool ok = is_status(f, "OK") && is_status(r, "RESET");
    kv_reply_free(f);
    kv_reply_free(r);
    return ok;
}

/* Empties both stores and resets both connections; a kvns that does not answer or
 * fails DEBUG CHECK even when empty is restarted (when we started it). */
static bool reset_servers(df_run *run)
{
    if (!reset_conn(run->ck) || check(run, NULL, 0) != DF_OK) {
        if (!restart_kvns(run) || !reset_conn(run->ck))
            return false;
    }
    return reset_conn(run->cr);
}

/* ---- the command list ---------------------------------------------------------------------- */

enum { ARITY_UNKNOWN = 0, ARITY_GONE = 1000000 };

/* The arity COMMAND INFO gives for name: ARITY_UNKNOWN when the server does not know
 * the command, ARITY_GONE when it does not answer. */
static long long command_arity(kv_conn *c, const char *name)
{
    kv_reply *info = conn_cmd(c, "COMMAND", "INFO", name, NULL);
    if (!info)
        return ARITY_GONE;
    long long arity = ARITY_UNKNOWN;
    const kv_reply *e = info->type == KV_REPLY_ARRAY && info->count == 1 ? info->elements[0] : NULL;
    if (e && e->type == KV_REPLY_ARRAY && e->count > 1 && e->elements[1]->type == KV_REPLY_INTEGER)
        arity = e->elements[1]->integer;
    kv_reply_free(info);
    return arity;
}

/* Reads kvns's COMMAND LIST: rows kvns lacks are marked absent, names without a row
 * are kept for generic arguments. Marks rows redis does not know (COMMAND INFO nil) as
 * kvns-only. Returns false when either server does not answer. */
static bool learn_commands(df_run *run)
{
    size_t nrows = df_row_count();
    for (size_t i = 0; i < run->ngeneric; i++)
        free(run->generic[i]);
    run->ngeneric = 0;
    free(run->kvns_only);
    free(run->absent);
    free(run->arity_differs);
    run->kvns_only = calloc(nrows, sizeof *run->kvns_only);
    run->absent = calloc(nrows, sizeof *run->absent);
    run->arity_differs = calloc(nrows, sizeof *run->arity_differs);
    kv_reply *list = conn_cmd(run->ck, "COMMAND", "LIST", NULL);
    if (!run->kvns_only || !run->absent || !run->arity_differs || !list || list->type != KV_REPLY_ARRAY) {
        kv_reply_free(list);
        return false;
    }
    for (size_t i = 0; i < nrows; i++)
        run->absent[i] = true;
    for (size_t i = 0; i < list->count; i++) {
        const char *name = list->elements[i]->str;
        const df_row *row = name ? df_find_row(name) : NULL;
        if (row) {
            run->absent[row - df_row_at(0)] = false;
        } else if (name) {
            run->generic = realloc(run->generic, (run->ngeneric + 1) * sizeof *run->generic);
            run->generic[run->ngeneric++] = strdup(name);
            fprintf(run->o->report, "difffuzz: warning: no grammar row for '%s': generic arguments\n",
                    name);
        }
    }
    kv_reply_free(list);
    for (size_t i = 0; i < nrows; i++) {
        const df_row *row = df_row_at(i);
        if (row->weight == 0 || run->absent[i])
            continue;
        long long arity_kvns = command_arity(run->ck, row->name);
        long long arity_redis = command_arity(run->cr, row->name);
        if (arity_kvns == ARITY_GONE || arity_redis == ARITY_GONE)
            return false;
        run->kvns_only[i] = arity_redis == ARITY_UNKNOWN;
        run->arity_differs[i] = arity_kvns != arity_redis;
    }
    return true;
}

/* The next command: from the grammar, or now and then a generic one. */
static void next_command(df_run *run, df_gen *g, df_cmd *c)
{
    run->rng = run->rng * 6364136223846793005ULL + 1442695040888963407ULL;
    if (run->ngeneric && (run->rng >> 33) % 100 == 0) {
        df_cmd_reset(c);
        const char *name = run->generic[(run->rng >> 40) % run->ngeneric];
        const char *bar = strchr(name, '|');
        df_cmd_push(c, name, bar ? (size_t)(bar - name) : strlen(name));
        if (bar)
            df_cmd_push(c, bar + 1, strlen(bar + 1));
        df_cmd_push(c, "k0", 2);
        return;
    }
    do
        df_generate(g, c);
    while (run->absent[row_index(c)]);
}

/* ---- replay and minimising ----------------------------------------------------------------- */

/* Replays seq[0..n) on reset servers. True when it fails the way `kind` says: the
 * replies of a command differ (or kvns goes away) - *at is that command - or, for
 * DF_CHECK, DEBUG CHECK fails after the last command. */
static bool replay_fails(df_run *run, const df_cmd *const *seq, size_t n, enum df_failure kind,
                         size_t *at)
{
    if (!reset_servers(run))
        return false;
    for (size_t i = 0; i < n; i++) {
        enum df_failure f = step(run, seq[i], NULL, NULL);
        if (f == DF_OK)
            continue;
        *at = i;
        return f == kind;
    }
    *at = n ? n - 1 : 0;
    return kind == DF_CHECK && check(run, NULL, 0) == DF_CHECK;
}

/* Shrinks seq[0..*n) while it still fails the same way: drops chunks of halving size,
 * never the failing command itself; stops at the time budget. */
static void minimise(df_run *run, const df_cmd **seq, size_t *n, enum df_failure kind)
{
    long long deadline = mono_now_ms() + run->o->minimise_ms;
    const df_cmd **cand = malloc(*n * sizeof *cand);
    if (!cand)
        return;
    size_t chunk = *n / 2 ? *n / 2 : 1;
    while (chunk >= 1 && mono_now_ms() < deadline) {
        bool dropped = false;
        for (size_t start = 0; start + 1 < *n && mono_now_ms() < deadline;) {
            size_t end = start + chunk < *n - 1 ? start + chunk : *n - 1;
            size_t m = 0, at = 0;
            for (size_t i = 0; i < *n; i++)
                if (i < start || i >= end)
                    cand[m++] = seq[i];
            if (replay_fails(run, cand, m, kind, &at)) {
                *n = kind == DF_CHECK ? m : at + 1;
                memcpy(seq, cand, *n * sizeof *seq);
                dropped = true;
            } else {
                start = end;
            }
        }
        if (!dropped)
            chunk /= 2;
    }
    free(cand);
}

/* ---- reporting ----------------------------------------------------------------------------- */

/* Writes c as a command line: printable bytes as they are, others as \xHH, arguments
 * in quotes; a long argument shows its first 24 bytes and its length. */
static void print_cmd(FILE *out, const df_cmd *c)
{
    for (int i = 0; i < c->argc; i++) {
        fputs(i ? " \"" : "\"", out);
        size_t shown = c->lens[i] > 64 ? 24 : c->lens[i];
        for (size_t j = 0; j < shown; j++) {
            unsigned char ch = (unsigned char)c->argv[i][j];
            if (ch == '"' || ch == '\\')
                fprintf(out, "\\%c", ch);
            else if (ch >= 0x20 && ch < 0x7f)
                fputc(ch, out);
            else
                fprintf(out, "\\x%02x", ch);
        }
        fputc('"', out);
        if (shown < c->lens[i])
            fprintf(out, "...(%zu bytes)", c->lens[i]);
    }
}

static const char *failure_name(enum df_failure f)
{
    switch (f) {
    case DF_DIVERGED: return "the replies of kvns and redis-server differ";
    case DF_CHECK: return "DEBUG CHECK on kvns failed";
    case DF_GONE: return "kvns closed the connection (crashed?)";
    case DF_REDIS_GONE: return "redis-server stopped answering";
    default: return "ok";
    }
}

/* Replays seq once more and prints every command with both replies, and the check. */
static void print_replay(df_run *run, const df_cmd *const *seq, size_t n, enum df_failure kind)
{
    FILE *out = run->o->report;
    if (!reset_servers(run)) {
        fprintf(out, "difffuzz: (cannot replay: kvns does not come back)\n");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        kv_reply *a = NULL, *b = NULL;
        enum df_failure f = step(run, seq[i], &a, &b);
        char da[512], db[512];
        fprintf(out, "  %3zu. ", i + 1);
        print_cmd(out, seq[i]);
        fprintf(out, "\n       kvns:  %s\n       redis: %s%s\n", kv_reply_describe(a, da, sizeof da),
                b ? kv_reply_describe(b, db, sizeof db) : "(not sent)",
                f == DF_DIVERGED ? "   <== differs" : "");
        kv_reply_free(a);
        kv_reply_free(b);
        if (f != DF_OK)
            return;
    }
    if (kind == DF_CHECK) {
        char why[512];
        check(run, why, sizeof why);
        fprintf(out, "       DEBUG CHECK: %s\n", why);
    }
}

/* Reports the failure `kind` at the last command of round[0..n): how to replay it, the
 * minimised sequence and both replies of each of its commands. */
static void report_failure(df_run *run, const df_cmd *round, size_t n, long global_index,
                           enum df_failure kind, const char *detail)
{
    FILE *out = run->o->report;
    const difffuzz_opts *o = run->o;
    fprintf(out, "difffuzz: FAILED: %s at command #%ld (seed %llu, command %zu of its round)\n",
            failure_name(kind), global_index, (unsigned long long)o->seed, n);
    if (detail && *detail)
        fprintf(out, "difffuzz: %s\n", detail);
    fprintf(out, "difffuzz: replay: difffuzz --seed %llu --commands %ld --round %d --check-every %d\n",
            (unsigned long long)o->seed, global_index, o->round_len, o->check_every);
    if (kind == DF_GONE && run->s->kvns)
        srv_print_log_tail(run->s->kvns, 20);
    const df_cmd **seq = malloc(n * sizeof *seq);
    if (!seq)
        return;
    for (size_t i = 0; i < n; i++)
        seq[i] = &round[i];
    size_t m = n, at = 0;
    if (o->minimise_ms > 0) {
        if (replay_fails(run, seq, n, kind, &at)) {
            long long t0 = mono_now_ms();
            minimise(run, seq, &m, kind);
            fprintf(out, "difffuzz: minimised from %zu to %zu commands in %lld ms:\n", n, m,
                    mono_now_ms() - t0);
        } else {
            fprintf(out, "difffuzz: a replay of the round does not fail the same way; as run:\n");
        }
    } else {
        fprintf(out, "difffuzz: the round's commands up to the failure:\n");
    }
    print_replay(run, seq, m, kind);
    free(seq);
}

/* ---- the run ------------------------------------------------------------------------------- */

/* Connects to both servers, learns the command table and resets both stores. A kvns
 * that does not answer (a previous run's failure may have stopped it, or it is still
 * stopping) is restarted once, when we started it. */
static bool open_run(df_run *run)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        if (attempt > 0 && !restart_kvns(run))
            return false;
        if (!run->ck)
            run->ck = conn_open(run->s->kvns_port);
        if (!run->cr)
            run->cr = conn_open(run->s->redis_port);
        if (run->ck && run->cr && learn_commands(run) && reset_servers(run))
            return true;
        if (!run->s->started)
            return false;
    }
    return false;
}

static void free_run(df_run *run)
{
    if (run->ck)
        conn_close(run->ck);
    if (run->cr)
        conn_close(run->cr);
    for (size_t i = 0; i < run->ngeneric; i++)
        free(run->generic[i]);
    free(run->generic);
    free(run->kvns_only);
    free(run->absent);
    free(run->arity_differs);
}

int difffuzz_run(difffuzz_servers *s, const difffuzz_opts *o, difffuzz_result *res)
{
    memset(res, 0, sizeof *res);
    df_run run = { .s = s, .o = o, .rng = o->seed };
    if (!open_run(&run)) {
        fprintf(o->report, "difffuzz: cannot talk to both servers\n");
        free_run(&run);
        return -1;
    }
    df_gen *g = df_gen_new(o->seed);
    size_t round_cap = (size_t)(o->round_len > 0 ? o->round_len : 1);
    df_cmd *round = calloc(round_cap, sizeof *round);
    if (!round)
        abort();
    size_t n = 0;
    long long deadline = o->max_ms > 0 ? mono_now_ms() + o->max_ms : 0;
    int rc = 0;
    while (res->sent < o->commands && (!deadline || mono_now_ms() < deadline)) {
        if (n == round_cap) {
            n = 0;
            if (!reset_servers(&run)) {
                rc = -1;
                break;
            }
        }
        df_cmd *c = &round[n];
        next_command(&run, g, c);
        n++;
        kv_reply *rk = NULL, *rr = NULL;
        enum df_failure f = step(&run, c, &rk, &rr);
        res->sent++;
        char why[1200] = "";
        if (f == DF_DIVERGED) {
            char da[512], db[512];
            snprintf(why, sizeof why, "as run: kvns: %s; redis: %s", kv_reply_describe(rk, da, sizeof da),
                     kv_reply_describe(rr, db, sizeof db));
        }
        kv_reply_free(rk);
        kv_reply_free(rr);
        if (f == DF_OK && (res->sent % o->check_every == 0 || n == round_cap)) {
            f = check(&run, why, sizeof why);
            if (f == DF_OK)
                res->checks++;
        }
        if (f == DF_REDIS_GONE) {
            fprintf(o->report, "difffuzz: %s\n", failure_name(f));
            rc = -1;
            break;
        }
        if (f != DF_OK) {
            res->failed = true;
            if (f == DF_GONE)
                snprintf(why, sizeof why, "kvns connection: %s", conn_error(run.ck));
            report_failure(&run, round, n, res->sent, f, why);
            rc = 1;
            break;
        }
    }
    if (rc == 0 && check(&run, NULL, 0) != DF_OK) {
        res->failed = true;
        report_failure(&run, round, n, res->sent, DF_CHECK, "at the end of the run");
        rc = 1;
    }
    for (size_t i = 0; i < round_cap; i++)
        df_cmd_reset(&round[i]);
    free(round);
    df_gen_free(g);
    free_run(&run);
    return rc;
}
