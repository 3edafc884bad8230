/* txn_client.c - MULTI/EXEC load generator for tools/bench.sh (profile multi3).
 *
 * redis-benchmark sends one command per request and cannot group them, so this tool
 * does the transactions: C connections, each sending batches of P transactions
 *     MULTI, INCR tx:a:<ra>, INCR tx:b:<rb>, GET tx:a:<ra>, EXEC
 * (ra, rb uniform in [0, keyspace), 12 digits like redis-benchmark's __rand_int__) in
 * one write, then reading all the batch's replies before the next batch (what
 * redis-benchmark -P does with single commands), until N transactions are done.
 * Every reply is checked: +OK for MULTI, +QUEUED for each command, and for EXEC an
 * array of 3 replies none of which is an error; any other reply is a failed transaction.
 *
 *   txn_client -p port [-h 127.0.0.1] [-c 50] [-n 100000] [-r 100000] [-P 16]
 *
 * Prints redis-benchmark's --csv shape, per transaction (rps = transactions/s; latency
 * from sending a transaction's batch to reading its EXEC reply, in ms):
 *   "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
 *   "MULTI INCR INCR GET EXEC","123456.00","1.234",...
 * Exit code 0; 1 on a connection or protocol failure or when any transaction failed
 * (counted and described on stderr); 2 on bad usage. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* Replies per transaction: MULTI, the three commands, EXEC. */
#define TC_REPLIES_PER_TXN 5
/* Bytes of one encoded transaction at most (the keys have bounded length). */
#define TC_TXN_MAX_BYTES 256
/* Input buffer of a connection: it holds at least one whole reply. */
#define TC_INBUF_BYTES (64 * 1024)

/* One connection: its pending output and the replies of its current batch. */
struct tc_conn {
    int fd;
    char *out;            /* the current batch, encoded */
    size_t out_len, out_sent;
    char in[TC_INBUF_BYTES];
    size_t in_len;
    unsigned batch_txns;  /* transactions in the current batch, 0 when idle */
    unsigned replies;     /* replies of the current batch read so far */
    int txn_failed;       /* a reply of the current transaction was wrong */
    double batch_sent_at;
};

static uint64_t tc_rng_state = 0x9E3779B97F4A7C15ULL;
static uint64_t tc_keyspace = 100000;
static double *tc_latencies;     /* seconds, one per transaction that succeeded */
static uint64_t tc_latency_count;
static uint64_t tc_failures;
static char tc_first_failure[256];

/* Prints the message (and errno's text when set) and exits 1: the run is void. */
static void tc_die(const char *msg)
{
    fprintf(stderr, "txn_client: %s%s%s\n", msg, errno ? ": " : "", errno ? strerror(errno) : "");
    exit(1);
}

/* The next number of a xorshift64* sequence (fixed seed: every server gets the same keys). */
static uint64_t tc_rng(void)
{
    uint64_t x = tc_rng_state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    tc_rng_state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

/* The monotonic clock in seconds. */
static double tc_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Appends one command as a RESP array of bulk strings at out; returns the bytes written. */
static size_t tc_encode_command(char *out, int argc, const char *const *argv)
{
    size_t n = (size_t)sprintf(out, "*%d\r\n", argc);
    for (int i = 0; i < argc; i++)
        n += (size_t)sprintf(out + n, "$%zu\r\n%s\r\n", strlen(argv[i]), argv[i]);
    return n;
}

/* Encodes one transaction with fresh random keys at out; returns the bytes written. */
static size_t tc_encode_txn(char *out)
{
    char a[32], b[32];
    snprintf(a, sizeof a, "tx:a:%012llu", (unsigned long long)(tc_rng() % tc_keyspace));
    snprintf(b, sizeof b, "tx:b:%012llu", (unsigned long long)(tc_rng() % tc_keyspace));
    size_t n = tc_encode_command(out, 1, (const char *const[]){ "MULTI" });
    n += tc_encode_command(out + n, 2, (const char *const[]){ "INCR", a });
    n += tc_encode_command(out + n, 2, (const char *const[]){ "INCR", b });
    n += tc_encode_command(out + n, 2, (const char *const[]){ "GET", a });
    n += tc_encode_command(out + n, 1, (const char *const[]){ "EXEC" });
    return n;
}

/* The CR of the line that starts at p, or NULL when its CR LF is not yet in [p, end). */
static const char *tc_line_end(const char *p, const char *end)
{
    const char *cr = memchr(p, '\r', (size_t)(end - p));
    if (!cr || cr + 1 >= end)
        return NULL;
    if (cr[1] != '\n') {
        errno = 0;
        tc_die("protocol error: CR without LF");
    }
    return cr;
}

/* The end of the RESP2 reply that starts at p, or NULL when it is not all in [p, end)
 * yet. Adds the error replies it holds (itself included) to *errors. */
static const char *tc_reply_end(const char *p, const char *end, uint64_t *errors)
{
    const char *cr = tc_line_end(p, end);
    if (!cr)
        return NULL;
    const char *next = cr + 2;
    long long n;
    switch (*p) {
    case '+':
    case ':':
        return next;
    case '-':
        (*errors)++;
        return next;
    case '$':
        n = strtoll(p + 1, NULL, 10);
        if (n < 0)
            return next;
        return end - next < n + 2 ? NULL : next + n + 2;
    case '*':
        n = strtoll(p + 1, NULL, 10);
        for (long long i = 0; i < n && next; i++)
            next = tc_reply_end(next, end, errors);
        return next;
    default:
        errno = 0;
        fprintf(stderr, "txn_client: unexpected reply '%.40s'\n", p);
        exit(1);
    }
}

/* Records a wrong reply: counted once per transaction, the first one kept for the report. */
static void tc_note_failure(struct tc_conn *c, const char *reply, const char *reply_end)
{
    if (!tc_first_failure[0]) {
        int len = (int)(reply_end - reply);
        snprintf(tc_first_failure, sizeof tc_first_failure, "reply %u of a transaction: %.*s",
                 c->replies % TC_REPLIES_PER_TXN + 1, len > 200 ? 200 : len, reply);
        for (char *s = tc_first_failure; *s; s++)
            if (*s == '\r' || *s == '\n')
                *s = ' ';
    }
    if (!c->txn_failed)
        tc_failures++;
    c->txn_failed = 1;
}

/* Checks one complete reply against what the transaction's position expects. */
static void tc_check_reply(struct tc_conn *c, const char *p, const char *end, uint64_t errors, double now)
{
    unsigned pos = c->replies % TC_REPLIES_PER_TXN;
    size_t len = (size_t)(end - p);
    if (pos == 0) {
        c->txn_failed = 0;
        if (len != 5 || memcmp(p, "+OK\r\n", 5) != 0)
            tc_note_failure(c, p, end);
    } else if (pos < TC_REPLIES_PER_TXN - 1) {
        if (len != 9 || memcmp(p, "+QUEUED\r\n", 9) != 0)
            tc_note_failure(c, p, end);
    } else {
        if (len < 4 || memcmp(p, "*3\r\n", 4) != 0 || errors != 0)
            tc_note_failure(c, p, end);
        else if (!c->txn_failed)
            tc_latencies[tc_latency_count++] = now - c->batch_sent_at;
    }
    c->replies++;
}

/* Starts the connection's next batch of up to pipeline transactions; returns how many. */
static unsigned tc_start_batch(struct tc_conn *c, unsigned pipeline, uint64_t *to_issue, double now)
{
    unsigned n = *to_issue < pipeline ? (unsigned)*to_issue : pipeline;
    c->out_len = 0;
    for (unsigned i = 0; i < n; i++)
        c->out_len += tc_encode_txn(c->out + c->out_len);
    c->out_sent = 0;
    c->batch_txns = n;
    c->replies = 0;
    c->batch_sent_at = now;
    *to_issue -= n;
    return n;
}

/* Sends what the socket takes of the pending batch. */
static void tc_send(struct tc_conn *c)
{
    while (c->out_sent < c->out_len) {
        ssize_t n = send(c->fd, c->out + c->out_sent, c->out_len - c->out_sent, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            tc_die("send");
        }
        c->out_sent += (size_t)n;
    }
}

/* Reads what arrived and checks every complete reply; returns 1 when the batch is done. */
static int tc_receive(struct tc_conn *c, double now)
{
    ssize_t n = recv(c->fd, c->in + c->in_len, sizeof c->in - c->in_len, 0);
    if (n < 0) {
        if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
            return 0;
        tc_die("recv");
    }
    if (n == 0) {
        errno = 0;
        tc_die("server closed the connection");
    }
    c->in_len += (size_t)n;
    const char *p = c->in, *end = c->in + c->in_len;
    for (;;) {
        uint64_t errors = 0;
        const char *reply_end = p < end ? tc_reply_end(p, end, &errors) : NULL;
        if (!reply_end)
            break;
        tc_check_reply(c, p, reply_end, errors, now);
        p = reply_end;
    }
    c->in_len = (size_t)(end - p);
    memmove(c->in, p, c->in_len);
    if (c->in_len == sizeof c->in) {
        errno = 0;
        tc_die("a reply larger than the input buffer");
    }
    return c->replies >= c->batch_txns * TC_REPLIES_PER_TXN;
}

/* Opens a non-blocking TCP_NODELAY connection to host:port. */
static int tc_connect(const char *host, int port)
{
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *ai;
    char portstr[16];
    snprintf(portstr, sizeof portstr, "%d", port);
    if (getaddrinfo(host, portstr, &hints, &ai) != 0) {
        errno = 0;
        tc_die("cannot resolve the host");
    }
    int fd = socket(ai->ai_family, ai->ai_socktype, 0);
    if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) != 0)
        tc_die("connect");
    freeaddrinfo(ai);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0)
        tc_die("fcntl");
    return fd;
}

/* qsort order of doubles. */
static int tc_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The q-quantile (0..1) of the sorted latencies, in ms. */
static double tc_quantile_ms(double q)
{
    if (tc_latency_count == 0)
        return 0;
    return tc_latencies[(uint64_t)(q * (double)(tc_latency_count - 1) + 0.5)] * 1e3;
}

int main(int argc, char **argv)
{
    const char *host = "127.0.0.1";
    int port = 0, opt;
    unsigned clients = 50, pipeline = 16;
    uint64_t total = 100000;
    while ((opt = getopt(argc, argv, "h:p:c:n:r:P:")) != -1) {
        switch (opt) {
        case 'h': host = optarg; break;
        case 'p': port = atoi(optarg); break;
        case 'c': clients = (unsigned)strtoul(optarg, NULL, 10); break;
        case 'n': total = strtoull(optarg, NULL, 10); break;
        case 'r': tc_keyspace = strtoull(optarg, NULL, 10); break;
        case 'P': pipeline = (unsigned)strtoul(optarg, NULL, 10); break;
        default:
            fprintf(stderr, "usage: %s -p port [-h host] [-c clients] [-n transactions] "
                            "[-r keyspace] [-P transactions_per_batch]\n", argv[0]);
            return 2;
        }
    }
    if (port <= 0 || clients == 0 || total == 0 || tc_keyspace == 0 || pipeline == 0) {
        fprintf(stderr, "txn_client: -p, -c, -n, -r and -P must be positive\n");
        return 2;
    }

    struct tc_conn *conns = calloc(clients, sizeof *conns);
    struct pollfd *pfds = calloc(clients, sizeof *pfds);
    tc_latencies = malloc(total * sizeof *tc_latencies);
    if (!conns || !pfds || !tc_latencies)
        tc_die("out of memory");
    for (unsigned i = 0; i < clients; i++) {
        conns[i].fd = tc_connect(host, port);
        conns[i].out = malloc((size_t)pipeline * TC_TXN_MAX_BYTES);
        if (!conns[i].out)
            tc_die("out of memory");
    }

    uint64_t to_issue = total, in_flight = 0;
    double t0 = tc_now();
    for (unsigned i = 0; i < clients; i++) {
        in_flight += tc_start_batch(&conns[i], pipeline, &to_issue, t0);
        tc_send(&conns[i]);
    }
    while (in_flight > 0) {
        for (unsigned i = 0; i < clients; i++) {
            struct tc_conn *c = &conns[i];
            pfds[i].fd = c->batch_txns ? c->fd : -1;
            pfds[i].events = (short)(POLLIN | (c->out_sent < c->out_len ? POLLOUT : 0));
            pfds[i].revents = 0;
        }
        errno = 0;
        int ready = poll(pfds, clients, 60000);
        if (ready < 0 && errno == EINTR)
            continue;
        if (ready <= 0)
            tc_die(ready < 0 ? "poll" : "no reply for 60 s");
        double now = tc_now();
        for (unsigned i = 0; i < clients; i++) {
            struct tc_conn *c = &conns[i];
            if (pfds[i].revents & POLLOUT)
                tc_send(c);
            if (!(pfds[i].revents & (POLLIN | POLLERR | POLLHUP)) || !tc_receive(c, now))
                continue;
            in_flight -= c->batch_txns;
            c->batch_txns = 0;
            if (to_issue > 0) {
                in_flight += tc_start_batch(c, pipeline, &to_issue, now);
                tc_send(c);
            }
        }
    }
    double secs = tc_now() - t0;

    qsort(tc_latencies, tc_latency_count, sizeof *tc_latencies, tc_cmp_double);
    double sum = 0;
    for (uint64_t i = 0; i < tc_latency_count; i++)
        sum += tc_latencies[i];
    printf("\"test\",\"rps\",\"avg_latency_ms\",\"min_latency_ms\",\"p50_latency_ms\","
           "\"p95_latency_ms\",\"p99_latency_ms\",\"max_latency_ms\"\n");
    printf("\"MULTI INCR INCR GET EXEC\",\"%.2f\",\"%.3f\",\"%.3f\",\"%.3f\",\"%.3f\",\"%.3f\",\"%.3f\"\n",
           (double)total / secs, tc_latency_count ? sum / (double)tc_latency_count * 1e3 : 0.0,
           tc_quantile_ms(0), tc_quantile_ms(0.5), tc_quantile_ms(0.95), tc_quantile_ms(0.99),
           tc_quantile_ms(1));
    for (unsigned i = 0; i < clients; i++) {
        close(conns[i].fd);
        free(conns[i].out);
    }
    free(conns);
    free(pfds);
    free(tc_latencies);
    if (tc_failures) {
        fprintf(stderr, "txn_client: %llu of %llu transactions failed; first: %s\n",
                (unsigned long long)tc_failures, (unsigned long long)total, tc_first_failure);
        return 1;
    }
    return 0;
}
