/* harness_http.c - the /metrics HTTP client of the integration tests; see harness_http.h. */
#include "harness_http.h"

#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define HTTP_TIMEOUT_MS 10000

int http_connect(int port, int timeout_ms)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

void http_reply_free(http_reply *r)
{
    if (r)
        free(r->raw);
    free(r);
}

http_reply *http_raw(int port, const char *request, size_t len)
{
    int fd = http_connect(port, HTTP_TIMEOUT_MS);
    if (fd < 0)
        return NULL;
    if (len && send(fd, request, len, MSG_NOSIGNAL) != (ssize_t)len) {
        close(fd);
        return NULL;
    }
    size_t cap = 65536, got = 0;
    char *buf = malloc(cap);
    assert_non_null(buf);
    for (;;) {
        if (got + 1 >= cap) {
            cap *= 2;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
        ssize_t n = recv(fd, buf + got, cap - got - 1, 0);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    buf[got] = 0;
    http_reply *r = calloc(1, sizeof *r);
    assert_non_null(r);
    r->raw = buf;
    r->head = buf;
    char *blank = strstr(buf, "\r\n\r\n");
    if (blank) {
        *blank = 0;
        r->body = blank + 4;
        r->body_len = got - (size_t)(r->body - buf);
    } else {
        r->body = buf + got;
    }
    if (strncmp(buf, "HTTP/1.1 ", 9) == 0)
        r->status = atoi(buf + 9);
    return r;
}

http_reply *http_call(int port, const char *method, const char *path)
{
    char req[512];
    int n = snprintf(req, sizeof req, "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: kvns-tests\r\n\r\n",
                     method, path);
    return http_raw(port, req, (size_t)n);
}

http_reply *metrics_scrape(int port)
{
    http_reply *r = http_call(port, "GET", "/metrics");
    if (!r || r->status != 200)
        it_fail("GET /metrics: %s", r ? r->raw : "connection failed");
    if (!strstr(r->head, "\r\nContent-Type: text/plain; version=0.0.4"))
        it_fail("GET /metrics: unexpected content type in:\n%s", r->head);
    return r;
}

char *metrics_scrape_body(int port)
{
    http_reply *r = metrics_scrape(port);
    char *body = strdup(r->body);
    assert_non_null(body);
    http_reply_free(r);
    return body;
}

double metric_value(const char *text, const char *series)
{
    size_t n = strlen(series);
    for (const char *line = text; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL)
        if (strncmp(line, series, n) == 0 && line[n] == ' ')
            return strtod(line + n + 1, NULL);
    return NAN;
}

double metric_need(const char *text, const char *series)
{
    double v = metric_value(text, series);
    if (isnan(v))
        it_fail("metric %s missing", series);
    return v;
}
