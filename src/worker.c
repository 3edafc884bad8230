/* worker.c - a worker process: pre-started threads, one epoll loop each, accepting on
 * the shared listening socket (EPOLLEXCLUSIVE), parsing RESP in place, executing
 * pipelined commands and writing their replies in one write per batch. */
#include "kvns/worker.h"
#include "script_lua.h"
#include "kvns/command.h"
#include "kvns/clients.h"
#include "kvns/log.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define READ_CHUNK        (16 * 1024)
#define OUT_HIGH_WATER    (64u * 1024 * 1024)   /* stop reading while this much is unsent */
#define QUERY_BUF_MAX     (1024u * 1024 * 1024 + 64 * 1024)
#define MAX_EVENTS        256
#define FLUSH_IOV         64                    /* reply blocks per writev */
#define ACCEPT_BACKOFF_MS 100                   /* listener pause after accept() fails */
#define WARN_INTERVAL_MS  1000                  /* at most one warning a second per kind */

/* What a client gets instead of a reply that could not be allocated (README). */
static const char ERR_REPLY_OOM[] =
    "ERR reply dropped: out of memory building it (the command itself ran)";

static volatile sig_atomic_t worker_stopping;
static int worker_listen_fd = -1;
static const kvns_config *worker_cfg;

uint32_t lane_of_worker(const kvns_config *cfg, uint32_t slot, uint32_t thread)
{
    return slot * cfg->threads + thread;
}

uint32_t lane_of_housekeeper(const kvns_config *cfg)
{
    return cfg->workers * cfg->threads;
}

static void on_stop_signal(int sig) { (void)sig; worker_stopping = 1; }

bool worker_is_stopping(void) { return worker_stopping != 0; }

/* Formats a socket address as ip:port (Redis's CLIENT LIST addr field). */
static void format_addr(const struct sockaddr_storage *ss, char *buf, size_t cap)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const void *)ss;
        inet_ntop(AF_INET, &a->sin_addr, ip, sizeof ip);
        port = ntohs(a->sin_port);
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const void *)ss;
        inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof ip);
        port = ntohs(a->sin6_port);
    }
    snprintf(buf, cap, "%s:%d", ip, port);
}

static client *client_new(worker_ctx *w, int fd, const struct sockaddr_storage *peer)
{
    client *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->fd = fd;
    c->w = w;
    c->proto = 2;
    reply_init(&c->out);
    c->out.proto = 2;
    c->id = __atomic_add_fetch(&arena_hdr()->next_client_id, 1, __ATOMIC_RELAXED);
    c->created_ms = c->last_ms = clock_wall_ms();
    format_addr(peer, c->addr, sizeof c->addr);
    struct sockaddr_storage local;
    socklen_t sl = sizeof local;
    if (getsockname(fd, (struct sockaddr *)&local, &sl) == 0)
        format_addr(&local, c->laddr, sizeof c->laddr);
    c->slot = clients_claim(c->id, w->txn.lane_id);
    if (c->slot >= 0) {
        client_slot *s = clients_slot((uint32_t)c->slot);
        s->fd = fd;
        s->pid = getpid();
        s->resp = 2;
        s->created_ms = s->last_ms = c->created_ms;
        clients_set_field(s->addr, sizeof s->addr, c->addr, strlen(c->addr));
        clients_set_field(s->laddr, sizeof s->laddr, c->laddr, strlen(c->laddr));
    }
    c->next = w->clients;
    if (w->clients)
        w->clients->prev = c;
    w->clients = c;
    w->nclients++;
    lane_stat_add(w->txn.ln, STAT_CONNECTED, 1);
    lane_stat_add(w->txn.ln, STAT_CONNECTIONS, 1);
    return c;
}

/* Takes c off its thread's parked list (it is on it). */
static void parked_remove(client *c)
{
    worker_ctx *w = c->w;
    client **link = &w->parked_head, *prev = NULL;
    while (*link != c) {
        prev = *link;
        link = &(*link)->parked_next;
    }
    *link = c->parked_next;
    if (w->parked_tail == c)
        w->parked_tail = prev;
    c->parked_next = NULL;
    c->parked = false;
}

/* Puts c at the end of its thread's parked list: its current request (kept parsed,
 * parked_consumed bytes from rpos) waits for a busy shard. */
static void parked_add(client *c)
{
    worker_ctx *w = c->w;
    c->parked = true;
    c->parked_next = NULL;
    if (w->parked_tail)
        w->parked_tail->parked_next = c;
    else
        w->parked_head = c;
    w->parked_tail = c;
}

static void client_free(client *c)
{
    worker_ctx *w = c->w;
    if (c->parked)
        parked_remove(c);
    epoll_ctl(w->epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    if (c->prev)
        c->prev->next = c->next;
    else
        w->clients = c->next;
    if (c->next)
        c->next->prev = c->prev;
    w->nclients--;
    lane_stat_add(w->txn.ln, STAT_CONNECTED, -1);
    clients_release(c->slot);
    free(c->rbuf);
    free(c->keys);
    multi_discard(c);
    free(c->name);
    free(c->lib_name);
    free(c->lib_ver);
    resp_request_free(&c->req);
    reply_free(&c->out);
    free(c);
}

static int client_flush(client *c);

/* Refreshes the client's registry slot after a batch (CLIENT LIST reads it). */
static void client_sync_slot(client *c)
{
    if (c->slot < 0)
        return;
    client_slot *s = clients_slot((uint32_t)c->slot);
    s->last_ms = c->last_ms;
    s->last_cmd = c->last_cmd_idx;
    s->resp = (uint32_t)c->proto;
    s->commands = c->commands;
    s->qbuf = c->rlen - c->rpos;
    s->obuf = reply_pending(&c->out);
    const char *name = c->name ? c->name : "";
    clients_set_field(s->name, sizeof s->name, name, strlen(name));
    const char *ln = c->lib_name ? c->lib_name : "", *lv = c->lib_ver ? c->lib_ver : "";
    clients_set_field(s->lib_name, sizeof s->lib_name, ln, strlen(ln));
    clients_set_field(s->lib_ver, sizeof s->lib_ver, lv, strlen(lv));
}

/* Closes this thread's clients that CLIENT KILL (from any process) marked. */
static void reap_killed_clients(worker_ctx *w)
{
    uint64_t seq = __atomic_load_n(&w->txn.ln->kill_seq, __ATOMIC_ACQUIRE);
    if (seq == w->seen_kill_seq)
        return;
    w->seen_kill_seq = seq;
    client *c = w->clients;
    while (c) {
        client *next = c->next;
        if (c->slot >= 0 && __atomic_load_n(&clients_slot((uint32_t)c->slot)->kill, __ATOMIC_ACQUIRE)) {
            client_flush(c);
            client_free(c);
        }
        c = next;
    }
}

/* Sets which events the connection waits for: input unless output is backed up or a
 * parked request holds pointers into the read buffer. The kernel is told only when
 * that changes: in the common round (read, run, reply sent in full) it does not, and
 * a system call per round is a measurable share of a pipelined request's cost. */
static void client_update_events(client *c)
{
    size_t pending = reply_pending(&c->out);
    uint32_t events = pending ? EPOLLOUT : 0;
    if (pending < OUT_HIGH_WATER && !(c->flags & CLIENT_CLOSE_AFTER_REPLY) && !c->parked)
        events |= EPOLLIN;
    if (events == c->epoll_events)
        return;
    struct epoll_event ev = { .events = events, .data.ptr = c };
    if (epoll_ctl(c->w->epfd, EPOLL_CTL_MOD, c->fd, &ev) == 0)
        c->epoll_events = events;
}

/* Writes pending output, up to FLUSH_IOV blocks per writev; sent blocks are freed as
 * they go, so a huge reply's memory is given back while it drains. Returns -1 when
 * the connection must be closed. */
static int client_flush(client *c)
{
    struct iovec iov[FLUSH_IOV];

    while (reply_pending(&c->out) > 0) {
        int cnt = reply_iov(&c->out, iov, FLUSH_IOV);
        /* one block (the usual reply) goes out with write, which costs less than writev */
        ssize_t n = cnt == 1 ? write(c->fd, iov[0].iov_base, iov[0].iov_len) : writev(c->fd, iov, cnt);
        if (n > 0) {
            reply_consume(&c->out, (size_t)n);
            lane_stat_add(c->w->txn.ln, STAT_NET_OUT, n);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        return -1;
    }
    if (reply_pending(&c->out) == 0 && (c->flags & CLIENT_CLOSE_AFTER_REPLY))
        return -1;
    return 0;
}

/* Moves the unparsed tail (and a parked request) to the start of the read buffer,
 * keeping a parked request's argument pointers on their bytes. */
static void client_compact(client *c)
{
    if (c->rpos == c->rlen) {
        c->rpos = c->rlen = 0;
        c->rneed = 0;
    } else if (c->rpos > 0) {
        size_t shift = c->rpos;
        memmove(c->rbuf, c->rbuf + shift, c->rlen - shift);
        c->rlen -= shift;
        if (c->rneed)
            c->rneed -= shift;
        c->rpos = 0;
        if (c->parked)
            for (size_t i = 0; i < c->req.argc; i++)
                c->req.argv[i].ptr -= shift;
    }
}

/* Returns whether a rate-limited warning may be logged now (none in the last
 * WARN_INTERVAL_MS by this thread), and if so records the time in *last_ms. */
static bool warning_due(int64_t *last_ms)
{
    int64_t now = clock_wall_ms();
    if (*last_ms && now - *last_ms < WARN_INTERVAL_MS)
        return false;
    *last_ms = now;
    return true;
}

/* Replaces a reply that ran out of memory while being built (reply_failed) by
 * ERR_REPLY_OOM; the command itself ran. When even that error cannot be allocated the
 * client is closed after what it was already owed is sent. Either way the worker and
 * its other clients carry on. */
static void client_reply_failed(client *c, size_t mark)
{
    reply_truncate(&c->out, mark);
    reply_error(&c->out, ERR_REPLY_OOM);
    lane_stat_add(c->w->txn.ln, STAT_ERRORS, 1);
    if (!reply_failed(&c->out)) {
        if (warning_due(&c->w->reply_warned_ms))
            log_warn("reply dropped: out of memory building it", "addr=%s id=%llu",
                     c->addr, (unsigned long long)c->id);
        return;
    }
    reply_truncate(&c->out, mark);
    c->flags |= CLIENT_CLOSE_AFTER_REPLY;
    log_warn("closing client: out of memory building its reply", "addr=%s id=%llu",
             c->addr, (unsigned long long)c->id);
}

/* Executes the parsed request (consumed bytes from rpos) and moves past it; a reply
 * that ran out of memory is replaced (client_reply_failed). Returns false, with the
 * client parked and the request kept, when a shard it needs stayed busy. */
static inline bool client_run_request(client *c, size_t consumed)
{
    c->argv = c->req.argv;
    c->argc = c->req.argc;
    size_t mark = reply_len(&c->out);
    if (!command_exec(c)) {
        c->parked_consumed = consumed;
        parked_add(c);
        return false;
    }
    if (reply_failed(&c->out))
        client_reply_failed(c, mark);
    c->rpos += consumed;
    c->commands++;
    return true;
}

/* Parses and executes every complete request in the read buffer. The wall clock is
 * read once per batch: every command of a pipelined batch sees the same "now", as
 * Redis's cached command time does. A command whose shard stays busy parks the
 * client: its request stays parsed in place and the thread moves on. */
static void client_process(client *c)
{
    if (c->parked)
        return;
    c->last_ms = clock_wall_ms();
    c->w->txn.batch_clock_ms = c->last_ms;
    while (c->rpos < c->rlen && !(c->flags & CLIENT_CLOSE_AFTER_REPLY)) {
        if (reply_pending(&c->out) >= OUT_HIGH_WATER)
            break;
        if (c->rneed && c->rlen < c->rneed)
            break;
        size_t consumed = 0, need = 0;
        const char *err = NULL;
        int rc = resp_parse(&c->req, c->rbuf + c->rpos, c->rlen - c->rpos, &consumed, &need, &err);
        if (rc == RESP_INCOMPLETE) {
            c->rneed = need ? c->rpos + need : 0;
            break;
        }
        c->rneed = 0;
        if (rc == RESP_ERROR) {
            size_t mark = reply_len(&c->out);
            reply_errorf(&c->out, "ERR %s", err);
            if (reply_failed(&c->out))
                reply_truncate(&c->out, mark);
            c->flags |= CLIENT_CLOSE_AFTER_REPLY;
            break;
        }
        if (c->req.argc == 0) {
            c->rpos += consumed;
            continue;
        }
        if (!client_run_request(c, consumed))
            break;
    }
    c->w->txn.batch_clock_ms = 0;
    client_sync_slot(c);
    client_compact(c);
}

/* Reads what the socket has. Returns -1 on EOF or error. */
static int client_read(client *c)
{
    for (int rounds = 0; rounds < 4; rounds++) {
        size_t want = READ_CHUNK;
        if (c->rneed > c->rlen && c->rneed - c->rlen > want)
            want = c->rneed - c->rlen;      /* a large bulk: read it in one go */
        if (c->rcap - c->rlen < want) {
            size_t cap = c->rlen + want;
            if (cap > QUERY_BUF_MAX) {
                log_warn("closing client: query buffer limit", "addr=%s", c->addr);
                return -1;
            }
            char *nb = realloc(c->rbuf, cap);
            if (!nb)
                return -1;
            c->rbuf = nb;
            c->rcap = cap;
        }
        ssize_t n = read(c->fd, c->rbuf + c->rlen, c->rcap - c->rlen);
        if (n > 0) {
            c->rlen += (size_t)n;
            lane_stat_add(c->w->txn.ln, STAT_NET_IN, n);
            if (c->rlen < c->rcap)
                return 0;               /* short read: the socket is drained */
            continue;
        }
        if (n == 0)
            return -1;
        if (errno == EINTR)
            continue;
        return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -1;
    }
    return 0;
}

/* Flushes c and resumes parsing input that output back-pressure had held; then sets
 * its events. Frees c when the connection must close. */
static void client_after_run(client *c)
{
    if (client_flush(c) < 0) {
        client_free(c);
        return;
    }
    /* output drained below the high-water mark: resume parsing buffered input */
    if (c->rlen > c->rpos && reply_pending(&c->out) < OUT_HIGH_WATER && !c->parked &&
        !(c->flags & CLIENT_CLOSE_AFTER_REPLY) && !(c->rneed && c->rlen < c->rneed)) {
        client_process(c);
        if (client_flush(c) < 0) {
            client_free(c);
            return;
        }
    }
    client_update_events(c);
}

/* Runs the parked request of c again; when it goes through, the rest of c's buffered
 * input follows. */
static void client_retry_parked(client *c)
{
    parked_remove(c);
    c->last_ms = clock_wall_ms();
    c->w->txn.batch_clock_ms = c->last_ms;
    bool done = client_run_request(c, c->parked_consumed);
    c->w->txn.batch_clock_ms = 0;
    if (!done)
        return;
    client_process(c);
    client_after_run(c);
}

#define PARKED_RETRY_NS 1000000      /* parked commands are retried once a millisecond */

/* Gives every client parked when the call starts one more try, oldest first, when a
 * millisecond has passed since the last round. */
static void retry_parked_clients(worker_ctx *w)
{
    if (!w->parked_head)
        return;
    uint64_t now = clock_mono_ns();
    if (now - w->parked_retry_ns < PARKED_RETRY_NS)
        return;
    w->parked_retry_ns = now;
    client *last = w->parked_tail;
    while (w->parked_head) {
        client *c = w->parked_head;
        client_retry_parked(c);
        if (c == last)
            break;
    }
}

static void client_on_event(client *c, uint32_t events)
{
    if (events & (EPOLLERR | EPOLLHUP)) {
        if (!(events & EPOLLIN)) {
            client_free(c);
            return;
        }
    }
    if ((events & EPOLLIN) && !c->parked) {   /* a read could move a parked request */
        if (client_read(c) < 0) {
            client_free(c);
            return;
        }
    }
    client_process(c);
    client_after_run(c);
}

static int listen_marker;

/* Answers every complete request of c with -BUSY while a script of this thread runs
 * past busy-reply-threshold, as Redis does: SCRIPT KILL, FUNCTION KILL and SHUTDOWN
 * NOSAVE run (they only flag the script or signal the supervisor), and so do MULTI,
 * DISCARD and UNWATCH; inside MULTI a refused command fails the EXEC and EXEC itself
 * answers EXECABORT. Nothing here touches the store or the thread's open transaction. */
static void client_process_busy(client *c, const char *busy)
{
    while (c->rpos < c->rlen && !(c->flags & CLIENT_CLOSE_AFTER_REPLY)) {
        size_t consumed = 0, need = 0;
        const char *err = NULL;
        int rc = resp_parse(&c->req, c->rbuf + c->rpos, c->rlen - c->rpos, &consumed, &need, &err);
        if (rc == RESP_INCOMPLETE)
            break;
        if (rc == RESP_ERROR) {
            reply_errorf(&c->out, "ERR %s", err);
            c->flags |= CLIENT_CLOSE_AFTER_REPLY;
            break;
        }
        c->argv = c->req.argv;
        c->argc = c->req.argc;
        c->reply_mark = reply_len(&c->out);
        bool kill = c->argc == 2 && arg_is(&c->argv[1], "kill");
        bool alone = c->argc == 1;
        if (c->argc == 0)
            ;
        else if (kill && arg_is(&c->argv[0], "script"))
            script_kill(c, false);
        else if (kill && arg_is(&c->argv[0], "function"))
            script_kill(c, true);
        else if (c->argc == 2 && arg_is(&c->argv[0], "shutdown") && arg_is(&c->argv[1], "nosave"))
            command_lookup("shutdown", 8)->proc(c);   /* stops the script too (its hook) */
        else if (alone && (arg_is(&c->argv[0], "multi") || arg_is(&c->argv[0], "discard") ||
                           arg_is(&c->argv[0], "unwatch")))
            command_lookup(c->argv[0].ptr, c->argv[0].len)->proc(c);   /* Redis's allow-busy */
        else if (c->multi && alone && arg_is(&c->argv[0], "exec"))
            multi_refuse_exec(c, busy);
        else {
            multi_flag_error(c);                 /* a refused command fails the EXEC */
            reply_error(&c->out, busy);
        }
        c->rpos += consumed;
    }
    client_compact(c);
}

void worker_serve_busy(worker_ctx *w, client *running, const char *busy)
{
    struct epoll_event events[MAX_EVENTS];
    int n = epoll_wait(w->epfd, events, MAX_EVENTS, 0);
    for (int i = 0; i < n; i++) {
        client *c = events[i].data.ptr;
        /* new connections are left to the other threads; the script's own client
         * and parked requests wait for the script to end */
        if (events[i].data.ptr == &listen_marker || c == running || c->parked)
            continue;
        /* a client that hung up is left to the loop: the loop's own event array,
         * whose turn runs this script, may still name it */
        if ((events[i].events & (EPOLLERR | EPOLLHUP)) && !(events[i].events & EPOLLIN))
            continue;
        if ((events[i].events & EPOLLIN) && client_read(c) < 0)
            continue;
        client_process_busy(c, busy);
        if (client_flush(c) == 0)
            client_update_events(c);
    }
}

/* Adds the shared listener to this thread's epoll set; EPOLLEXCLUSIVE wakes one
 * waiting thread per connection. Returns false when epoll_ctl fails. */
static bool listener_watch(worker_ctx *w)
{
    struct epoll_event ev = { .events = EPOLLIN | EPOLLEXCLUSIVE, .data.ptr = &listen_marker };
    return epoll_ctl(w->epfd, EPOLL_CTL_ADD, worker_listen_fd, &ev) == 0;
}

/* accept() failed for want of a resource (file descriptors, socket buffers, memory).
 * The connection stays queued and the level-triggered listener stays readable, so
 * polling it again at once would spin: take it out of this thread's epoll set for
 * ACCEPT_BACKOFF_MS (thread_loop puts it back), count it and warn once a second. */
static void accept_back_off(worker_ctx *w, int err)
{
    lane_stat_add(w->txn.ln, STAT_ACCEPT_ERRORS, 1);
    if (warning_due(&w->accept_warned_ms))
        log_warn("accept failed: pausing the listener", "err=\"%s\" pause_ms=%d thread_clients=%llu",
                 strerror(err), ACCEPT_BACKOFF_MS, (unsigned long long)w->nclients);
    epoll_ctl(w->epfd, EPOLL_CTL_DEL, worker_listen_fd, NULL);
    w->accept_resume_ms = clock_wall_ms() + ACCEPT_BACKOFF_MS;
}

static void accept_clients(worker_ctx *w)
{
    for (int i = 0; i < 64; i++) {
        struct sockaddr_storage peer;
        socklen_t pl = sizeof peer;
        int fd = accept4(worker_listen_fd, (struct sockaddr *)&peer, &pl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
                accept_back_off(w, errno);
            return;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (lane_stat_sum(STAT_CONNECTED) >= worker_cfg->max_clients) {
            static const char msg[] = "-ERR max number of clients reached\r\n";
            ssize_t ignored = write(fd, msg, sizeof msg - 1);
            (void)ignored;
            close(fd);
            lane_stat_add(w->txn.ln, STAT_REJECTED, 1);
            continue;
        }
        client *c = client_new(w, fd, &peer);
        if (!c) {
            close(fd);
            continue;
        }
        struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
        if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
            client_free(c);                  /* never polled: it would hang unserved */
            continue;
        }
        c->epoll_events = EPOLLIN;
    }
}

/* One thread's event loop. */
static void *thread_loop(void *arg)
{
    worker_ctx *w = arg;
    if (!listener_watch(w)) {
        log_error("epoll_ctl on listener failed", "err=\"%s\"", strerror(errno));
        exit(EXIT_FAILURE_GENERIC);
    }
    struct epoll_event events[MAX_EVENTS];
    bool listening = true;
    while (true) {
        if (worker_stopping && listening) {
            epoll_ctl(w->epfd, EPOLL_CTL_DEL, worker_listen_fd, NULL);
            listening = false;
        }
        if (worker_stopping && !w->clients)
            break;
        if (worker_stopping) {
            /* commands run to completion between loop turns and parked ones have
             * not run, so nothing is in flight here: send what is pending (best
             * effort) and close */
            while (w->clients) {
                client_flush(w->clients);
                client_free(w->clients);
            }
            continue;
        }
        if (w->accept_resume_ms && clock_wall_ms() >= w->accept_resume_ms) {
            w->accept_resume_ms = 0;
            listener_watch(w);
        }
        /* parked clients are retried every millisecond until their shard frees */
        int n = epoll_wait(w->epfd, events, MAX_EVENTS, w->parked_head ? 1 : 100);
        reap_killed_clients(w);         /* before serving: a killed client gets no reply */
        for (int i = 0; i < n; i++) {
            if (events[i].data.ptr == &listen_marker)
                accept_clients(w);
            else
                client_on_event(events[i].data.ptr, events[i].events);
        }
        retry_parked_clients(w);
    }
    return NULL;
}

int worker_main(const kvns_config *cfg, uint32_t slot, int listen_fd)
{
    char role[32];
    snprintf(role, sizeof role, "worker-%u", slot);
    log_set_role(role);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() == 1)
        return EXIT_FAILURE_GENERIC;
    worker_cfg = cfg;
    worker_listen_fd = listen_fd;
    server.cfg = cfg;
    server.role_worker = 1;
    server.worker_slot = slot;
    server.start_ms = arena_hdr()->start_time_ms;
    command_table_init();
    struct sigaction sa = { .sa_handler = on_stop_signal };
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);

    worker_ctx *ctx = calloc(cfg->threads, sizeof *ctx);
    pthread_t *tids = calloc(cfg->threads, sizeof *tids);
    if (!ctx || !tids)
        return EXIT_FAILURE_GENERIC;
    for (uint32_t i = 0; i < cfg->threads; i++) {
        uint32_t ln = lane_of_worker(cfg, slot, i);
        lane_sweep(ln);                 /* finish what a dead predecessor left */
        txn_init(&ctx[i].txn, ln);
        ctx[i].txn.ln->stat[STAT_CONNECTED] = 0;
        ctx[i].worker_slot = slot;
        ctx[i].thread_idx = i;
        ctx[i].cfg = cfg;
        ctx[i].epfd = epoll_create1(EPOLL_CLOEXEC);
        if (ctx[i].epfd < 0)
            return EXIT_FAILURE_GENERIC;
    }
    log_info("worker started", "slot=%u threads=%u", slot, cfg->threads);
    for (uint32_t i = 1; i < cfg->threads; i++)
        pthread_create(&tids[i], NULL, thread_loop, &ctx[i]);
    thread_loop(&ctx[0]);
    for (uint32_t i = 1; i < cfg->threads; i++)
        pthread_join(tids[i], NULL);
    log_info("worker stopped", "slot=%u", slot);
    return EXIT_OK;
}
