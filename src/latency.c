/* latency.c - the slow log and latency monitor as the server uses them (see
 * latency.h): the dispatcher's hook, which reads the client and the command and
 * redacts secrets as Redis 7 does, and the text of LATENCY DOCTOR and LATENCY GRAPH.
 * The per-lane rings they read and write are shm/slowlog.c's. */
#include "kvns/latency.h"
#include "kvns/command.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* ---- LATENCY DOCTOR and LATENCY GRAPH text ----------------------------------------------------- */

/* Redis's analyzeLatencyForEvent: the statistics the doctor reports for one event. */
typedef struct latency_stats {
    uint64_t samples, min, max, avg, mad;
    int64_t  period;         /* seconds since the oldest sample (at least 1) */
} latency_stats;

/* Fills st from a merged history. */
static void latency_analyze(const latency_history *hist, latency_stats *st)
{
    memset(st, 0, sizeof *st);
    uint64_t sum = 0;
    int64_t oldest = 0;
    for (uint32_t i = 0; i < hist->count; i++) {
        uint64_t v = hist->samples[i].latency_ms;
        if (st->samples == 0 || v < st->min)
            st->min = v;
        if (v > st->max)
            st->max = v;
        sum += v;
        st->samples++;
        if (oldest == 0 || hist->samples[i].unix_time < oldest)
            oldest = hist->samples[i].unix_time;
    }
    if (!st->samples)
        return;
    st->avg = sum / st->samples;
    st->period = (int64_t)time(NULL) - oldest;
    if (st->period <= 0)
        st->period = 1;
    uint64_t deviation = 0;
    for (uint32_t i = 0; i < hist->count; i++) {
        uint64_t v = hist->samples[i].latency_ms;
        deviation += v > st->avg ? v - st->avg : st->avg - v;
    }
    st->mad = deviation / st->samples;
}

/* Redis's createLatencyReport, shortened: the disabled and quiet texts, or one line
 * of statistics per event followed by advice. */
char *latency_doctor_text(size_t *len)
{
    char *text = NULL;
    FILE *f = open_memstream(&text, len);
    if (!f)
        abort();
    latency_history *hist = malloc(sizeof *hist);
    if (!hist)
        abort();
    int64_t threshold = latency_threshold_ms();
    bool have[LATENCY_EVENTS], any = false;
    for (int e = 0; e < LATENCY_EVENTS; e++)
        any |= have[e] = latency_collect((enum latency_event)e, hist);
    if (!any && threshold == 0) {
        fputs("I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this Redis instance. "
              "You may use \"CONFIG SET latency-monitor-threshold <milliseconds>.\" in order to enable it. "
              "If we weren't in a deep space mission I'd suggest to take a look at "
              "https://redis.io/topics/latency-monitor.\n",
              f);
    } else if (!any) {
        fputs("Dave, no latency spike was observed during the lifetime of this Redis instance, not in the "
              "slightest bit. I honestly think you ought to sit down calmly, take a stress pill, and "
              "think things over.\n",
              f);
    } else {
        fputs("Dave, I have observed latency spikes in this Redis instance. You don't mind talking about "
              "it, do you Dave?\n\n",
              f);
        int number = 0;
        for (int e = 0; e < LATENCY_EVENTS; e++) {
            if (!have[e])
                continue;
            latency_collect((enum latency_event)e, hist);
            latency_stats st;
            latency_analyze(hist, &st);
            fprintf(f,
                    "%d. %s: %llu latency spikes (average %llums, mean deviation %llums, period %.2f sec). "
                    "Worst all time event %llums.\n",
                    ++number, latency_event_name((enum latency_event)e), (unsigned long long)st.samples,
                    (unsigned long long)st.avg, (unsigned long long)st.mad,
                    (double)st.period / (double)st.samples, (unsigned long long)hist->max_ms);
        }
        /* Redis's advice for the "command" event; kvns's own for "fast-command" */
        fputs("\nI have a few advices for you:\n\n", f);
        int64_t slower_than = slowlog_slower_than_us();
        if (slower_than < 0)
            fprintf(f, "- There are latency issues with potentially slow commands you are using. Try to "
                       "enable the Slow Log Redis feature using the command 'CONFIG SET "
                       "slowlog-log-slower-than %llu'. If the Slow log is disabled Redis is not able to "
                       "log slow commands execution for you.\n",
                    (unsigned long long)threshold * 1000);
        else if (slower_than / 1000 > threshold)
            fprintf(f, "- Your current Slow Log configuration only logs events that are slower than your "
                       "configured latency monitor threshold. Please use 'CONFIG SET "
                       "slowlog-log-slower-than %llu'.\n",
                    (unsigned long long)threshold * 1000);
        fputs("- Check your Slow Log to understand what are the commands you are running which are too "
              "slow to execute. Please check https://redis.io/commands/slowlog for more information.\n", f);
        if (have[LATENCY_EVENT_FAST_COMMAND])
            fputs("- Commands flagged fast (O(1) or O(log N)) were slow: the host may not give kvns "
                  "enough CPU time, or clients contend for the same shards.\n", f);
        fputs("- Deleting, expiring or evicting (because of maxmemory policy) large objects is a blocking "
              "operation. If you have very large objects that are often deleted, expired, or evicted, "
              "try to fragment those objects into multiple smaller objects.\n", f);
    }
    free(hist);
    fclose(f);
    return text;
}

#define GRAPH_COLUMNS 80
#define GRAPH_ROWS    4

/* Appends one chunk (samples [from, from + count)) of Redis's sparkline: GRAPH_ROWS rows
 * of "_o#" and '|' bars scaled between min and max, a blank line, then each sample's
 * label written vertically (sparkline.c's sparklineRenderRange with SPARKLINE_FILL). */
static void graph_chunk(FILE *f, const latency_history *hist, char labels[][24], uint32_t from,
                        uint32_t count, uint64_t min, uint64_t max)
{
    static const char fill[] = "_o#";
    const int steps = 3 * GRAPH_ROWS;
    double range = max > min ? (double)(max - min) : 1.0;
    char line[GRAPH_COLUMNS + 1];
    for (int row = 0;; row++) {
        bool printed = false;
        memset(line, ' ', count);
        for (uint32_t j = 0; j < count; j++) {
            if (row < GRAPH_ROWS) {
                /* Redis's arithmetic: (int)(relval * steps) / relmax */
                int scaled = (int)((double)(hist->samples[from + j].latency_ms - min) * steps);
                int step = (int)((double)scaled / range);
                step = step < 0 ? 0 : step >= steps ? steps - 1 : step;
                int level = step - (GRAPH_ROWS - row - 1) * 3;
                if (level >= 0 && level < 3)
                    line[j] = fill[level];
                else if (level >= 3)
                    line[j] = '|';
                printed = true;
            } else if (row == GRAPH_ROWS) {
                printed = true;                  /* the blank line above the labels */
            } else {
                size_t at = (size_t)(row - GRAPH_ROWS - 1);
                if (strlen(labels[from + j]) > at) {
                    line[j] = labels[from + j][at];
                    printed = true;
                }
            }
        }
        if (!printed)
            break;
        fwrite(line, 1, count, f);
        fputc('\n', f);
    }
}

/* Redis's latencyCommandGenSparkeline: a title line, 80 dashes, then the sparkline
 * in chunks of 80 samples, each labelled with how long ago it was taken. */
char *latency_graph_text(enum latency_event e, size_t *len)
{
    latency_history *hist = malloc(sizeof *hist);
    char (*labels)[24] = malloc(LATENCY_SAMPLES * sizeof *labels);
    if (!hist || !labels)
        abort();
    char *text = NULL;
    if (!latency_collect(e, hist)) {
        free(hist);
        free(labels);
        *len = 0;
        return NULL;
    }
    uint64_t min = hist->samples[0].latency_ms, max = min;
    int64_t now = (int64_t)time(NULL);
    for (uint32_t i = 0; i < hist->count; i++) {
        uint64_t v = hist->samples[i].latency_ms;
        min = v < min ? v : min;
        max = v > max ? v : max;
        /* label: how long ago, in s, m, h or d (Redis's units) */
        int64_t ago = now - hist->samples[i].unix_time;
        ago = ago < 0 ? 0 : ago;
        if (ago < 60)
            snprintf(labels[i], sizeof labels[i], "%llds", (long long)ago);
        else if (ago < 3600)
            snprintf(labels[i], sizeof labels[i], "%lldm", (long long)(ago / 60));
        else if (ago < 86400)
            snprintf(labels[i], sizeof labels[i], "%lldh", (long long)(ago / 3600));
        else
            snprintf(labels[i], sizeof labels[i], "%lldd", (long long)(ago / 86400));
    }
    FILE *f = open_memstream(&text, len);
    if (!f)
        abort();
    fprintf(f, "%s - high %llu ms, low %llu ms (all time high %llu ms)\n", latency_event_name(e),
            (unsigned long long)max, (unsigned long long)min, (unsigned long long)hist->max_ms);
    for (int i = 0; i < GRAPH_COLUMNS; i++)
        fputc('-', f);
    fputc('\n', f);
    for (uint32_t from = 0; from < hist->count; from += GRAPH_COLUMNS) {
        if (from)
            fputc('\n', f);
        uint32_t count = hist->count - from < GRAPH_COLUMNS ? hist->count - from : GRAPH_COLUMNS;
        graph_chunk(f, hist, labels, from, count, min, max);
    }
    fclose(f);
    free(hist);
    free(labels);
    return text;
}

/* ---- the dispatcher's hook ------------------------------------------------------------------ */

static const slowlog_arg REDACTED = { "(redacted)", 10 };

/* Case-insensitive compare of an argument with a lower-case word. */
static bool arg_equals(const slowlog_arg *a, const char *word)
{
    size_t n = strlen(word);
    return a->len == n && strncasecmp(a->ptr, word, n) == 0;
}

/* True for the CONFIG parameters Redis 7 marks sensitive (their values are redacted). */
static bool config_is_sensitive(const slowlog_arg *name)
{
    static const char *const names[] = { "requirepass", "masterauth", "masteruser", "tls-key-file-pass",
                                         "tls-client-key-file-pass" };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (arg_equals(name, names[i]))
            return true;
    }
    return false;
}

/* Replaces secrets by "(redacted)" as Redis 7 does before logging: AUTH's arguments,
 * HELLO's AUTH username and password, the value of a sensitive CONFIG SET parameter.
 * args holds the first kept of argc arguments. */
static void redact_secrets(slowlog_arg *args, size_t kept, size_t argc)
{
    if (kept == 0)
        return;
    if (arg_equals(&args[0], "auth")) {
        for (size_t i = 1; i < kept; i++)
            args[i] = REDACTED;
    } else if (arg_equals(&args[0], "hello")) {
        for (size_t j = 2; j < kept; j++) {
            size_t more = argc - 1 - j;
            if (arg_equals(&args[j], "auth") && more >= 2) {
                for (size_t k = j + 1; k <= j + 2 && k < kept; k++)
                    args[k] = REDACTED;
                j += 2;
            } else if (arg_equals(&args[j], "setname") && more >= 1) {
                j++;
            } else {
                break;
            }
        }
    } else if (arg_equals(&args[0], "config") && kept > 1 && arg_equals(&args[1], "set")) {
        for (size_t i = 2; i + 1 < kept; i += 2) {
            if (config_is_sensitive(&args[i]))
                args[i + 1] = REDACTED;
        }
    }
}

/* Applies each threshold to a slow command: a slow-log entry of its (redacted)
 * arguments, and a latency sample of event "fast-command" or "command". */
void slowlog_record_command(client *c, const command *cmd, uint64_t elapsed_ns)
{
    /* the dispatcher refused it for its arity: Redis never runs (nor logs) those */
    if ((cmd->arity > 0 && (int)c->argc != cmd->arity) || (int)c->argc < -cmd->arity)
        return;
    uint32_t lane_id = c->w->txn.lane_id;
    uint64_t us = elapsed_ns / 1000;
    int64_t slower_than = slowlog_slower_than_us();
    if (slower_than >= 0 && us >= (uint64_t)slower_than) {
        slowlog_arg args[SLOWLOG_MAX_ARGC];
        size_t kept = c->argc < SLOWLOG_MAX_ARGC ? c->argc : SLOWLOG_MAX_ARGC;
        for (size_t i = 0; i < kept; i++)
            args[i] = (slowlog_arg){ c->argv[i].ptr, c->argv[i].len };
        redact_secrets(args, kept, c->argc);
        slowlog_push(lane_id, args, c->argc, c->addr, c->name, us);
    }
    int64_t threshold = latency_threshold_ms();
    if (threshold > 0 && us / 1000 >= (uint64_t)threshold)
        latency_add_sample(lane_id, (cmd->flags & CMD_FAST) ? LATENCY_EVENT_FAST_COMMAND : LATENCY_EVENT_COMMAND,
                           us / 1000);
}
