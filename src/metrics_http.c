/* metrics_http.c - the housekeeper's small HTTP/1.1 endpoint: GET /metrics and
 * GET /health (HEAD too). One thread, one epoll loop, non-blocking sockets, one
 * request per connection (the answer carries Connection: close).
 *
 * Defences: at most HTTP_MAX_CONNS connections at once (when full, the connection
 * that has waited longest for its request head makes room for the new one);
 * the request head must arrive within HTTP_HEADER_TIMEOUT_MS and fit HTTP_REQUEST_MAX
 * bytes (431 otherwise); a reader too slow to take the answer within
 * HTTP_SEND_TIMEOUT_MS is dropped. None of these ever blocks another scraper. */
#include "kvns/metrics.h"
#include "kvns/clock.h"
#include "kvns/log.h"
#include "metrics_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define HTTP_MAX_CONNS         64
#define HTTP_HEADER_TIMEOUT_MS 5000
#define HTTP_SEND_TIMEOUT_MS   30000
#define HTTP_LINGER_MS         1000     /* after the answer: wait for the client's close */
#define HTTP_POLL_MS           100      /* how often *stop and deadlines are checked */
#define HTTP_LISTENER_TAG      UINT32_MAX

enum http_phase {
    HTTP_READING,        /* collecting the request head */
    HTTP_WRITING,        /* sending resp */
    HTTP_LINGERING,      /* answer sent, write side shut: discarding input until EOF */
};

typedef struct http_conn {
    int      fd;                 /* -1: free slot */
    enum http_phase phase;
    int64_t  deadline_ms;
    size_t   req_len;
    char    *resp;
    size_t   resp_len, resp_sent;
    char     req[HTTP_REQUEST_MAX];
} http_conn;

/* Releases conn's socket and buffers and frees its slot. */
static void conn_close(http_conn *conn)
{
    if (conn->fd >= 0)
        close(conn->fd);           /* also removes it from the epoll set */
    free(conn->resp);
    conn->fd = -1;
    conn->resp = NULL;
    conn->req_len = conn->resp_len = conn->resp_sent = 0;
}

/* Builds the whole answer (status line, headers, body unless head_only) into
 * conn->resp. extra_headers is "" or lines ending in \r\n. False when out of memory. */
static bool build_response(http_conn *conn, const char *status, const char *content_type,
                           const char *extra_headers, const char *body, size_t body_len,
                           bool head_only)
{
    metrics_text t = { 0 };
    metrics_text_printf(&t, "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                            "%sConnection: close\r\n\r\n",
                        status, content_type, body_len, extra_headers);
    if (!head_only)
        metrics_text_put(&t, body, body_len);
    if (t.failed) {
        metrics_text_free(&t);
        return false;
    }
    conn->resp = t.buf;
    conn->resp_len = t.len;
    conn->resp_sent = 0;
    return true;
}

/* Answers with a short plain-text body. */
static bool simple_response(http_conn *conn, const char *status, const char *extra_headers,
                            const char *body, bool head_only)
{
    return build_response(conn, status, "text/plain; charset=utf-8", extra_headers, body,
                          strlen(body), head_only);
}

/* Answers GET /metrics: the exposition of the current arena. */
static bool metrics_response(http_conn *conn, bool head_only)
{
    metrics_text body = { 0 };
    metrics_render(&body);
    if (body.failed) {
        metrics_text_free(&body);
        return simple_response(conn, "500 Internal Server Error", "", "out of memory\n", head_only);
    }
    bool ok = build_response(conn, "200 OK", "text/plain; version=0.0.4; charset=utf-8", "",
                             body.buf ? body.buf : "", body.len, head_only);
    metrics_text_free(&body);
    return ok;
}

/* True when req holds a complete request head (a blank line ends it). */
static bool head_complete(const char *req)
{
    return strstr(req, "\r\n\r\n") != NULL || strstr(req, "\n\n") != NULL;
}

/* Returns what to answer to the head read so far (see metrics_internal.h). */
enum http_route metrics_http_route(const char *req, size_t len, bool *head_only)
{
    *head_only = false;
    if (!head_complete(req)) {
        if (len >= HTTP_REQUEST_MAX - 1)
            return HTTP_ROUTE_TOO_LARGE;
        return memchr(req, 0, len) ? HTTP_ROUTE_BAD_REQUEST : HTTP_ROUTE_INCOMPLETE;
    }
    const char *eol = strpbrk(req, "\r\n");
    size_t line_len = eol ? (size_t)(eol - req) : strlen(req);
    char line[HTTP_REQUEST_MAX];
    memcpy(line, req, line_len);
    line[line_len] = 0;
    char *method = line;
    char *target = strchr(method, ' ');
    char *version = target ? strchr(target + 1, ' ') : NULL;
    if (!target || !version || strchr(version + 1, ' ') || strncmp(version + 1, "HTTP/1.", 7) != 0 ||
        target == method || target[1] != '/')
        return HTTP_ROUTE_BAD_REQUEST;
    *target++ = 0;
    *version = 0;
    target[strcspn(target, "?#")] = 0;   /* the query string does not matter */
    bool is_get = strcmp(method, "GET") == 0, is_head = strcmp(method, "HEAD") == 0;
    bool is_metrics = strcmp(target, "/metrics") == 0, is_health = strcmp(target, "/health") == 0;
    if (!is_metrics && !is_health) {
        *head_only = is_head;
        return HTTP_ROUTE_NOT_FOUND;
    }
    if (!is_get && !is_head)
        return HTTP_ROUTE_NOT_ALLOWED;
    *head_only = is_head;
    return is_metrics ? HTTP_ROUTE_METRICS : HTTP_ROUTE_HEALTH;
}

/* Builds the answer for a routed request head. False when out of memory. */
static bool answer_request(http_conn *conn, enum http_route route, bool head_only)
{
    switch (route) {
    case HTTP_ROUTE_TOO_LARGE:
        return simple_response(conn, "431 Request Header Fields Too Large", "", "request too large\n",
                               false);
    case HTTP_ROUTE_NOT_FOUND:
        return simple_response(conn, "404 Not Found", "", "not found\n", head_only);
    case HTTP_ROUTE_NOT_ALLOWED:
        return simple_response(conn, "405 Method Not Allowed", "Allow: GET, HEAD\r\n",
                               "method not allowed\n", false);
    case HTTP_ROUTE_METRICS:
        return metrics_response(conn, head_only);
    case HTTP_ROUTE_HEALTH:
        if (__atomic_load_n(&arena_hdr()->shutting_down, __ATOMIC_ACQUIRE))
            return simple_response(conn, "503 Service Unavailable", "", "shutting down\n", head_only);
        return simple_response(conn, "200 OK", "", "OK", head_only);
    default:
        return simple_response(conn, "400 Bad Request", "", "bad request\n", false);
    }
}

/* Switches conn to lingering: the answer is out, our side of the stream is closed and
 * input is discarded until the client closes (closing with unread input would reset
 * the connection and could destroy the answer in flight). */
static void start_lingering(http_conn *conn)
{
    shutdown(conn->fd, SHUT_WR);
    conn->phase = HTTP_LINGERING;
    conn->deadline_ms = clock_mono_ms() + HTTP_LINGER_MS;
}

/* Sends what the socket takes of the answer; waits for EPOLLOUT when it is full. */
static void conn_write(int epfd, http_conn *conn, uint32_t tag)
{
    while (conn->resp_sent < conn->resp_len) {
        ssize_t n = send(conn->fd, conn->resp + conn->resp_sent, conn->resp_len - conn->resp_sent,
                         MSG_NOSIGNAL);
        if (n > 0) {
            conn->resp_sent += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            struct epoll_event ev = { .events = EPOLLOUT, .data.u32 = tag };
            epoll_ctl(epfd, EPOLL_CTL_MOD, conn->fd, &ev);
            return;
        }
        conn_close(conn);
        return;
    }
    if (conn->phase == HTTP_WRITING) {
        struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP, .data.u32 = tag };
        epoll_ctl(epfd, EPOLL_CTL_MOD, conn->fd, &ev);
        start_lingering(conn);
    }
}

/* Reads what is available; answers once the head is complete or too large. */
static void conn_read(int epfd, http_conn *conn, uint32_t tag)
{
    for (;;) {
        char discard[4096];
        bool lingering = conn->phase == HTTP_LINGERING;
        char *dst = lingering ? discard : conn->req + conn->req_len;
        size_t room = lingering ? sizeof discard : HTTP_REQUEST_MAX - 1 - conn->req_len;
        if (room == 0)
            break;
        ssize_t n = recv(conn->fd, dst, room, 0);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
            conn_close(conn);         /* the client left (or, lingering, finished) */
            return;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return;                   /* EAGAIN: wait for more */
        if (lingering)
            continue;
        conn->req_len += (size_t)n;
        conn->req[conn->req_len] = 0;
        if (head_complete(conn->req))
            break;
    }
    if (conn->phase != HTTP_READING)
        return;
    bool head_only;
    enum http_route route = metrics_http_route(conn->req, conn->req_len, &head_only);
    if (route == HTTP_ROUTE_INCOMPLETE)
        return;                       /* wait for more */
    bool ok = answer_request(conn, route, head_only);
    if (!ok) {
        conn_close(conn);
        return;
    }
    conn->phase = HTTP_WRITING;
    conn->deadline_ms = clock_mono_ms() + HTTP_SEND_TIMEOUT_MS;
    conn_write(epfd, conn, tag);
}

/* A slot for a new connection: a free one, else the one that has waited longest
 * for its request head (a scraper whose request is in is never displaced), else
 * HTTP_MAX_CONNS. */
static uint32_t slot_for_new_conn(http_conn *conns)
{
    uint32_t oldest = HTTP_MAX_CONNS;
    for (uint32_t i = 0; i < HTTP_MAX_CONNS; i++) {
        if (conns[i].fd < 0)
            return i;
        if (conns[i].phase == HTTP_READING &&
            (oldest == HTTP_MAX_CONNS || conns[i].deadline_ms < conns[oldest].deadline_ms))
            oldest = i;
    }
    if (oldest < HTTP_MAX_CONNS)
        conn_close(&conns[oldest]);
    return oldest;
}

/* Accepts every pending connection into a slot (closing those without one). */
static void accept_pending(int epfd, int listen_fd, http_conn *conns)
{
    for (;;) {
        int fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                log_debug("metrics accept failed", "err=\"%s\"", strerror(errno));
            return;
        }
        uint32_t slot = slot_for_new_conn(conns);
        if (slot == HTTP_MAX_CONNS) {
            close(fd);
            continue;
        }
        http_conn *conn = &conns[slot];
        struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP, .data.u32 = slot };
        if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
            close(fd);
            continue;
        }
        conn->fd = fd;
        conn->phase = HTTP_READING;
        conn->deadline_ms = clock_mono_ms() + HTTP_HEADER_TIMEOUT_MS;
        conn->req_len = 0;
        conn->req[0] = 0;
    }
}

void metrics_serve(int listen_fd, const kvns_config *cfg, volatile int *stop)
{
    (void)cfg;
    int epfd = epoll_create1(EPOLL_CLOEXEC);
    http_conn *conns = calloc(HTTP_MAX_CONNS, sizeof *conns);
    struct epoll_event ev = { .events = EPOLLIN, .data.u32 = HTTP_LISTENER_TAG };
    if (epfd < 0 || !conns || epoll_ctl(epfd, EPOLL_CTL_ADD, listen_fd, &ev) != 0) {
        log_error("metrics endpoint cannot start", "err=\"%s\"", strerror(errno));
        if (epfd >= 0)
            close(epfd);
        free(conns);
        return;
    }
    for (uint32_t i = 0; i < HTTP_MAX_CONNS; i++)
        conns[i].fd = -1;
    while (!*stop) {
        struct epoll_event events[HTTP_MAX_CONNS + 1];
        int n = epoll_wait(epfd, events, HTTP_MAX_CONNS + 1, HTTP_POLL_MS);
        for (int i = 0; i < n; i++) {
            uint32_t tag = events[i].data.u32;
            if (tag == HTTP_LISTENER_TAG) {
                accept_pending(epfd, listen_fd, conns);
                continue;
            }
            http_conn *conn = &conns[tag];
            if (conn->fd < 0)
                continue;
            if (conn->phase == HTTP_WRITING)
                conn_write(epfd, conn, tag);
            else
                conn_read(epfd, conn, tag);
        }
        int64_t now = clock_mono_ms();
        for (uint32_t i = 0; i < HTTP_MAX_CONNS; i++)
            if (conns[i].fd >= 0 && now >= conns[i].deadline_ms)
                conn_close(&conns[i]);
    }
    for (uint32_t i = 0; i < HTTP_MAX_CONNS; i++)
        if (conns[i].fd >= 0)
            conn_close(&conns[i]);
    free(conns);
    close(epfd);
}
