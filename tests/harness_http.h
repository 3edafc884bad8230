/* harness_http.h - a minimal HTTP/1.1 client for kvns's /metrics endpoint (it_metrics,
 * it_memory): raw requests, whole answers read until the server closes, and sample
 * values read from the Prometheus text exposition.
 *
 * Every function is linked under a "kvt_" symbol name (KVT_SYM, harness.h). */
#ifndef KVNS_TESTS_HARNESS_HTTP_H
#define KVNS_TESTS_HARNESS_HTTP_H

#include "harness.h"

typedef struct http_reply {
    int    status;          /* 0 when no status line came back */
    char  *raw;             /* the whole answer, NUL-terminated */
    char  *head;            /* status line and headers (points into raw) */
    char  *body;            /* after the blank line (points into raw) */
    size_t body_len;
} http_reply;

/* A blocking TCP connection to 127.0.0.1:port with timeout_ms send and receive
 * timeouts, or -1. */
int http_connect(int port, int timeout_ms) KVT_SYM(http_connect);
/* Sends request bytes as they are to 127.0.0.1:port and reads the answer until the
 * server closes (10 s timeouts). NULL when the connection fails. */
http_reply *http_raw(int port, const char *request, size_t len) KVT_SYM(http_raw);
/* Sends "METHOD path HTTP/1.1" with a Host header and returns the answer (NULL as
 * http_raw). */
http_reply *http_call(int port, const char *method, const char *path) KVT_SYM(http_call);
void http_reply_free(http_reply *r) KVT_SYM(http_reply_free);

/* GET /metrics; fails the test unless it answers 200 with the exposition type. */
http_reply *metrics_scrape(int port) KVT_SYM(metrics_scrape);
/* metrics_scrape's body as a malloc'd string (the caller frees it). */
char *metrics_scrape_body(int port) KVT_SYM(metrics_scrape_body);
/* Value of the sample line "<series> <value>" in text, or NAN when absent. */
double metric_value(const char *text, const char *series) KVT_SYM(metric_value);
/* The value of series, failing the test when it is missing. */
double metric_need(const char *text, const char *series) KVT_SYM(metric_need);

#endif
