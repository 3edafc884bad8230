/* metrics_internal.h - what metrics.c (series tables, exposition text) shares with
 * metrics_http.c (the HTTP endpoint) and tests/unit_metrics.c. Not a public header:
 * the contract the rest of kvns uses is include/kvns/metrics.h. */
#ifndef KVNS_METRICS_INTERNAL_H
#define KVNS_METRICS_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Histogram buckets: METRICS_BUCKETS - 1 finite upper bounds, then +Inf. */
#define METRICS_BUCKETS       20
/* Per lane: series with a namespace stop being added at METRICS_NS_SERIES_MAX (later
 * ones fold into their command's namespace-less series); the rest of the table is
 * reserved for namespace-less series, one per command at most. */
#define METRICS_NS_SERIES_MAX 1024
#define METRICS_SERIES_MAX    1536
#define METRICS_INDEX_SLOTS   4096           /* open-addressing index, a power of two */
#define METRICS_CMD_LIMIT     0xffffu        /* command indexes must stay below this */

/* Upper bound of finite bucket b, in nanoseconds and as the `le` label text. */
extern const uint64_t metrics_bucket_bound_ns[METRICS_BUCKETS - 1];
extern const char *const metrics_bucket_le[METRICS_BUCKETS];

/* Index of the bucket an observation of ns nanoseconds falls into (le is inclusive). */
unsigned metrics_bucket_of(uint64_t ns);

/* One (command, namespace) histogram summed over every lane. count is the sum of the
 * bucket counts, so the +Inf bucket always equals _count. */
typedef struct metrics_sample {
    uint32_t cmd_index;
    uint32_t nsid;                      /* METRICS_NO_NS for namespace "" */
    uint64_t sum_ns;
    uint64_t count;
    uint64_t bucket[METRICS_BUCKETS];   /* per bucket, not cumulative */
} metrics_sample;

/* Reads every lane's table (relaxed loads, no lock) and merges equal series. Returns
 * a malloc'd array sorted by (cmd_index, nsid) with *count_out entries (NULL with
 * *count_out = 0 when empty or out of memory); *dropped_out (may be NULL) receives the
 * observations no table had room for. */
metrics_sample *metrics_collect(size_t *count_out, uint64_t *dropped_out);

/* A growable text buffer; `failed` is set once an allocation fails (text then stays
 * as it was and every later append is ignored). */
typedef struct metrics_text {
    char  *buf;
    size_t len, cap;
    bool   failed;
} metrics_text;

void metrics_text_put(metrics_text *t, const char *s, size_t n);
void metrics_text_puts(metrics_text *t, const char *s);
void metrics_text_printf(metrics_text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void metrics_text_free(metrics_text *t);

/* Appends s[0..len) as the inside of a quoted label value: \ " and newline escaped as
 * the exposition format says; bytes that are not valid UTF-8, and control bytes
 * other than newline, appear as the four-character text \xHH (so as \\xHH). */
void metrics_escape_label(metrics_text *out, const char *s, size_t len);

/* The metrics endpoint's limit on a request head, terminator included. */
#define HTTP_REQUEST_MAX 8192

/* What the endpoint answers to the request head read so far. */
enum http_route {
    HTTP_ROUTE_INCOMPLETE,     /* no blank line yet: read more */
    HTTP_ROUTE_TOO_LARGE,      /* 431: no complete head within HTTP_REQUEST_MAX - 1 bytes */
    HTTP_ROUTE_BAD_REQUEST,    /* 400: malformed request line, or a NUL byte before the head ends */
    HTTP_ROUTE_NOT_FOUND,      /* 404 */
    HTTP_ROUTE_NOT_ALLOWED,    /* 405: a method other than GET or HEAD */
    HTTP_ROUTE_METRICS,        /* GET or HEAD /metrics */
    HTTP_ROUTE_HEALTH,         /* GET or HEAD /health */
};

/* Routes the request head req[0..len) (NUL-terminated at len, len < HTTP_REQUEST_MAX):
 * only the request line matters, the query string is ignored. *head_only tells whether
 * the answer goes without a body (HEAD, for the routes that honour it). Pure: no I/O
 * and no arena access, so tests/fuzz/fuzz_http.c can drive it directly. */
enum http_route metrics_http_route(const char *req, size_t len, bool *head_only);

/* Appends the whole exposition (text format 0.0.4) for the current arena. */
void metrics_render(metrics_text *out);

#endif
