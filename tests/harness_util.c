/* harness_util.c - the small helpers many test files share (harness.h, "skipped
 * cases", "small client helpers", "INFO fields"): skips that say why, commands that
 * fail the test when no reply comes, aggregate replies as comma-joined text, and
 * numbers read from INFO. */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SKIP_REASONS_MAX 32

static int skip_count;
static const char *skip_reasons[SKIP_REASONS_MAX];
static int skip_reason_uses[SKIP_REASONS_MAX];
static int skip_nreasons;

/* atexit: the binary's skip summary, after cmocka's own (run-tests.sh greps it). */
static void skip_print_summary(void)
{
    if (skip_count == 0)
        return;
    printf("harness: %d case(s) skipped:", skip_count);
    for (int i = 0; i < skip_nreasons; i++)
        printf("%s %s (%d)", i ? ";" : "", skip_reasons[i], skip_reason_uses[i]);
    printf("\n");
    fflush(stdout);
}

/* Counts a skip under its reason (reasons are string literals: compared by text). */
static void skip_record(const char *why)
{
    if (skip_count++ == 0)
        atexit(skip_print_summary);
    for (int i = 0; i < skip_nreasons; i++) {
        if (strcmp(skip_reasons[i], why) == 0) {
            skip_reason_uses[i]++;
            return;
        }
    }
    if (skip_nreasons < SKIP_REASONS_MAX) {
        skip_reasons[skip_nreasons] = why;
        skip_reason_uses[skip_nreasons++] = 1;
    }
}

void it_skip(const char *why)
{
    skip_record(why);
    printf("harness: skipping this case: %s\n", why);
    fflush(stdout);
    skip();
    abort();   /* cmocka's skip() jumps out of the case; never reached */
}

void it_skip_unless_kvns(const char *why)
{
    static char reasons[SKIP_REASONS_MAX][160];
    static int used;
    if (!srv_target_is_redis())
        return;
    /* one stable "kvns only: <why>" string per distinct why */
    for (int i = 0; i < used; i++) {
        if (strcmp(reasons[i] + strlen("kvns only: "), why) == 0)
            it_skip(reasons[i]);
    }
    if (used == SKIP_REASONS_MAX)
        it_skip("kvns only");
    snprintf(reasons[used], sizeof reasons[used], "kvns only: %s", why);
    it_skip(reasons[used++]);
}

const char *fmt_ll(char *buf, size_t cap, long long v)
{
    snprintf(buf, cap, "%lld", v);
    return buf;
}

/* it_run's body over a va_list. */
static kv_reply *run_va(kv_conn *c, const char *arg0, va_list ap)
{
    kv_reply *r = conn_cmd_va(c, arg0, ap);
    if (!r)
        it_fail("%s: no reply (%s)", arg0, conn_error(c));
    return r;
}

kv_reply *it_run(kv_conn *c, const char *arg0, ...)
{
    va_list ap;
    va_start(ap, arg0);
    kv_reply *r = run_va(c, arg0, ap);
    va_end(ap);
    return r;
}

void it_run_void(kv_conn *c, const char *arg0, ...)
{
    va_list ap;
    va_start(ap, arg0);
    kv_reply *r = run_va(c, arg0, ap);
    va_end(ap);
    kv_reply_free(r);
}

/* qsort order of C strings. */
static int cmp_cstr(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

char *it_joined(const kv_reply *r, kv_reply_type t, bool sorted)
{
    char got[512];
    if (!r || r->type != t)
        it_fail("expected a %s, got %s", kv_reply_type_name(t), kv_reply_describe(r, got, sizeof got));
    char **v = malloc((r->count + 1) * sizeof *v);
    size_t total = 1;
    for (size_t i = 0; i < r->count; i++) {
        if (r->elements[i]->type != KV_REPLY_BULK)
            it_fail("element %zu is not a bulk string: %s", i, kv_reply_describe(r, got, sizeof got));
        v[i] = r->elements[i]->str;
        total += r->elements[i]->len + 1;
    }
    if (sorted)
        qsort(v, r->count, sizeof *v, cmp_cstr);
    char *out = calloc(1, total);
    for (size_t i = 0; i < r->count; i++) {
        if (i)
            strcat(out, ",");
        strcat(out, v[i]);
    }
    free(v);
    return out;
}

void it_expect_agg(kv_conn *c, kv_reply_type t, bool sorted, const char *csv,
                   const char *arg0, ...)
{
    va_list ap;
    va_start(ap, arg0);
    kv_reply *r = conn_cmd_va(c, arg0, ap);
    va_end(ap);
    char *got = it_joined(r, t, sorted);
    if (strcmp(got, csv) != 0)
        it_fail("%s: expected [%s], got [%s]", arg0, csv, got);
    free(got);
    kv_reply_free(r);
}

long long info_text_ll(const char *text, const char *name, long long missing)
{
    size_t n = strlen(name);
    for (const char *line = text; line && *line;) {
        if (strncmp(line, name, n) == 0 && line[n] == ':')
            return strtoll(line + n + 1, NULL, 10);
        line = strchr(line, '\n');
        if (line)
            line++;
    }
    return missing;
}

long long info_ll_or(kv_conn *c, const char *section, const char *name, long long missing)
{
    kv_reply *r = conn_cmd(c, "INFO", section, NULL);
    long long v = r && r->str ? info_text_ll(r->str, name, missing) : missing;
    kv_reply_free(r);
    return v;
}

long long it_info_ll(kv_conn *c, const char *section, const char *name)
{
    kv_reply *r = it_run(c, "INFO", section, NULL);
    if (!r->str)
        it_fail("INFO %s: not a text reply", section);
    char *end = NULL;
    const char *at = NULL;
    size_t n = strlen(name);
    for (const char *line = r->str; line && *line && !at;) {
        if (strncmp(line, name, n) == 0 && line[n] == ':')
            at = line + n + 1;
        line = strchr(line, '\n');
        if (line)
            line++;
    }
    long long v = at ? strtoll(at, &end, 10) : 0;
    bool ok = at && end != at;
    kv_reply_free(r);
    if (!ok)
        it_fail("INFO %s has no numeric field %s", section, name);
    return v;
}

kv_conn *it_connect_elsewhere(int port, long long pid)
{
    for (int attempt = 0; attempt < 200; attempt++) {
        kv_conn *c = conn_open(port);
        if (!c)
            it_fail("cannot connect to port %d", port);
        conn_set_timeout(c, 300);
        long long got = info_ll_or(c, "server", "process_id", -1);
        if (got >= 0 && got != pid) {
            conn_set_timeout(c, 10000);
            return c;
        }
        conn_close(c);
    }
    it_fail("200 new connections in a row landed on worker %lld (or found no other answering)", pid);
    return NULL;
}
