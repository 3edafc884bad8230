/* zipf_client.c - cache-aside hit-rate probe for tools/bench_evict.sh.
 *
 * Picks keys from a universe of U keys with a Zipf(s) distribution (rank r is chosen
 * with probability proportional to 1/r^s), does GET and, on a miss, SET of a value of
 * d bytes (cache-aside), pipelined in batches over one connection. With -F the whole
 * universe is first SET once in a scrambled order (the cache starts full of keys chosen
 * without regard to popularity). The first W operations then warm the cache and are
 * not counted; the next N are. Ranks are mapped to
 * key names through a fixed bijection so the hot keys are spread over the key space.
 * The same seed gives the same GET sequence against every server.
 *
 *   zipf_client -p port [-h 127.0.0.1] [-u universe] [-n ops] [-w warmup] [-s 1.0]
 *               [-d 100] [-b 64] [-S seed] [-k prefix] [-F]
 *
 * Prints one line: "ops=N gets=N hits=N hit_rate=F sets=N set_errors=N secs=F ops_per_sec=F"
 * (counted phase only). Exit code 0, or 1 on a connection/protocol failure. */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int fd = -1;
static char rbuf[1 << 20];
static size_t rlen, rpos;
static char *wbuf;
static size_t wlen, wcap;

static void die(const char *msg)
{
    fprintf(stderr, "zipf_client: %s%s%s\n", msg, errno ? ": " : "", errno ? strerror(errno) : "");
    exit(1);
}

/* xorshift64* */
static uint64_t rng_state;
static uint64_t rng(void)
{
    uint64_t x = rng_state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng_state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static double rng_unit(void)
{
    return (double)(rng() >> 11) * (1.0 / 9007199254740992.0);
}

/* Cumulative distribution of Zipf(s) over ranks 1..u. */
static double *zipf_cdf(uint64_t u, double s)
{
    double *cdf = malloc(u * sizeof *cdf);
    if (!cdf)
        die("out of memory");
    double sum = 0;
    for (uint64_t i = 0; i < u; i++) {
        sum += 1.0 / pow((double)(i + 1), s);
        cdf[i] = sum;
    }
    for (uint64_t i = 0; i < u; i++)
        cdf[i] /= sum;
    return cdf;
}

/* A rank in [0, u) drawn from cdf. */
static uint64_t zipf_draw(const double *cdf, uint64_t u)
{
    double x = rng_unit();
    uint64_t lo = 0, hi = u - 1;
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        if (cdf[mid] < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* A bijection of [0, u) (multiplication by an odd constant modulo the next power of
 * two, cycle-walking back into range), so rank order is not key order. */
static uint64_t scramble(uint64_t r, uint64_t u)
{
    uint64_t m = 1;
    while (m < u)
        m <<= 1;
    do {
        r = (r * 0x9E3779B97F4A7C15ULL + 0x632BE59BD9B4E019ULL) & (m - 1);
    } while (r >= u);
    return r;
}

static void wput(const void *p, size_t n)
{
    if (wlen + n > wcap) {
        wcap = (wlen + n) * 2;
        wbuf = realloc(wbuf, wcap);
        if (!wbuf)
            die("out of memory");
    }
    memcpy(wbuf + wlen, p, n);
    wlen += n;
}

static void wflush(void)
{
    size_t off = 0;
    while (off < wlen) {
        ssize_t n = send(fd, wbuf + off, wlen - off, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            die("send");
        }
        off += (size_t)n;
    }
    wlen = 0;
}

static void cmd_bulk(int argc, const char *const *argv, const size_t *lens)
{
    char head[32];
    int n = snprintf(head, sizeof head, "*%d\r\n", argc);
    wput(head, (size_t)n);
    for (int i = 0; i < argc; i++) {
        n = snprintf(head, sizeof head, "$%zu\r\n", lens[i]);
        wput(head, (size_t)n);
        wput(argv[i], lens[i]);
        wput("\r\n", 2);
    }
}

static int rbyte(void)
{
    if (rpos == rlen) {
        ssize_t n;
        do {
            n = recv(fd, rbuf, sizeof rbuf, 0);
        } while (n < 0 && errno == EINTR);
        if (n <= 0) {
            if (n == 0)
                errno = 0;
            die(n == 0 ? "server closed the connection" : "recv");
        }
        rlen = (size_t)n;
        rpos = 0;
    }
    return (unsigned char)rbuf[rpos++];
}

/* Reads one line (without CRLF) into line. */
static void rline(char *line, size_t cap)
{
    size_t n = 0;
    for (;;) {
        int c = rbyte();
        if (c == '\r') {
            if (rbyte() != '\n') {
                errno = 0;
                die("protocol error: CR without LF");
            }
            break;
        }
        if (n + 1 < cap)
            line[n++] = (char)c;
    }
    line[n] = 0;
}

/* Reply kinds the client cares about. */
enum { RP_NIL, RP_BULK, RP_OK, RP_ERROR };

static int read_reply(char *err, size_t errcap)
{
    char line[512];
    rline(line, sizeof line);
    switch (line[0]) {
    case '$': {
        long len = strtol(line + 1, NULL, 10);
        if (len < 0)
            return RP_NIL;
        for (long i = 0; i < len + 2; i++)
            rbyte();
        return RP_BULK;
    }
    case '_':
        return RP_NIL;
    case '+':
        return RP_OK;
    case '-':
        snprintf(err, errcap, "%.200s", line + 1);
        return RP_ERROR;
    default:
        errno = 0;
        fprintf(stderr, "zipf_client: unexpected reply '%s'\n", line);
        exit(1);
    }
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    const char *host = "127.0.0.1", *prefix = "zipf:";
    int port = 0, opt, fill = 0;
    uint64_t universe = 1000000, ops = 500000, warmup = 200000, seed = 42;
    double s = 1.0;
    size_t vlen = 100, batch = 64;
    while ((opt = getopt(argc, argv, "h:p:u:n:w:s:d:b:S:k:F")) != -1) {
        switch (opt) {
        case 'h': host = optarg; break;
        case 'p': port = atoi(optarg); break;
        case 'u': universe = strtoull(optarg, NULL, 10); break;
        case 'n': ops = strtoull(optarg, NULL, 10); break;
        case 'w': warmup = strtoull(optarg, NULL, 10); break;
        case 's': s = strtod(optarg, NULL); break;
        case 'd': vlen = strtoull(optarg, NULL, 10); break;
        case 'b': batch = strtoull(optarg, NULL, 10); break;
        case 'S': seed = strtoull(optarg, NULL, 10); break;
        case 'k': prefix = optarg; break;
        case 'F': fill = 1; break;
        default:
            fprintf(stderr, "usage: %s -p port [-h host] [-u universe] [-n ops] [-w warmup] "
                            "[-s zipf_s] [-d value_bytes] [-b batch] [-S seed] [-k key_prefix] [-F]\n", argv[0]);
            return 2;
        }
    }
    if (port <= 0 || universe == 0 || batch == 0 || s <= 0) {
        fprintf(stderr, "zipf_client: -p, -u, -b and -s must be positive\n");
        return 2;
    }
    rng_state = seed * 0x9E3779B97F4A7C15ULL + 1;

    struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM }, *ai;
    char portstr[16];
    snprintf(portstr, sizeof portstr, "%d", port);
    if (getaddrinfo(host, portstr, &hints, &ai) != 0)
        die("cannot resolve the host");
    fd = socket(ai->ai_family, ai->ai_socktype, 0);
    if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) != 0)
        die("connect");
    freeaddrinfo(ai);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);

    double *cdf = zipf_cdf(universe, s);
    char *value = malloc(vlen + 1);
    uint64_t *keys = malloc(batch * sizeof *keys);
    int *kinds = malloc(batch * sizeof *kinds);
    if (!value || !keys || !kinds)
        die("out of memory");
    memset(value, 'z', vlen);
    value[vlen] = 0;

    uint64_t fill_errors = 0;
    for (uint64_t i = 0; fill && i < universe;) {
        char key[96], err[256];
        size_t n = 0;
        for (; n < batch && i < universe; n++, i++) {
            int kl = snprintf(key, sizeof key, "%s%012llu", prefix,
                              (unsigned long long)scramble(i, universe));
            const char *a[] = { "SET", key, value };
            size_t l[] = { 3, (size_t)kl, vlen };
            cmd_bulk(3, a, l);
        }
        wflush();
        for (; n > 0; n--)
            if (read_reply(err, sizeof err) == RP_ERROR)
                fill_errors++;
    }
    if (fill_errors)
        fprintf(stderr, "zipf_client: %llu SETs of the fill phase failed\n", (unsigned long long)fill_errors);

    uint64_t gets = 0, hits = 0, sets = 0, set_errors = 0, done = 0;
    char first_error[256] = "";
    double t0 = 0;
    int counting = 0;
    for (uint64_t total = warmup + ops; done < total;) {
        if (!counting && done >= warmup) {
            counting = 1;
            t0 = now_s();
        }
        size_t n = batch;
        uint64_t phase_end = counting ? total : warmup;
        if (n > phase_end - done)
            n = (size_t)(phase_end - done);
        char key[96];
        for (size_t i = 0; i < n; i++) {
            keys[i] = scramble(zipf_draw(cdf, universe), universe);
            int kl = snprintf(key, sizeof key, "%s%012llu", prefix, (unsigned long long)keys[i]);
            const char *a[] = { "GET", key };
            size_t l[] = { 3, (size_t)kl };
            cmd_bulk(2, a, l);
        }
        wflush();
        size_t misses = 0;
        char err[256];
        for (size_t i = 0; i < n; i++) {
            kinds[i] = read_reply(err, sizeof err);
            if (kinds[i] == RP_ERROR) {
                fprintf(stderr, "zipf_client: GET failed: %s\n", err);
                return 1;
            }
            if (kinds[i] == RP_NIL) {
                int kl = snprintf(key, sizeof key, "%s%012llu", prefix, (unsigned long long)keys[i]);
                const char *a[] = { "SET", key, value };
                size_t l[] = { 3, (size_t)kl, vlen };
                cmd_bulk(3, a, l);
                misses++;
            } else if (counting) {
                hits++;
            }
        }
        wflush();
        for (size_t i = 0; i < misses; i++) {
            if (read_reply(err, sizeof err) == RP_ERROR) {
                if (counting)
                    set_errors++;
                if (!first_error[0])
                    snprintf(first_error, sizeof first_error, "%.200s", err);
            }
        }
        if (counting) {
            gets += n;
            sets += misses;
        }
        done += n;
    }
    double secs = now_s() - t0;
    if (first_error[0])
        fprintf(stderr, "zipf_client: SET errors, first: %s\n", first_error);
    printf("ops=%llu gets=%llu hits=%llu hit_rate=%.4f sets=%llu set_errors=%llu secs=%.2f ops_per_sec=%.0f\n",
           (unsigned long long)ops, (unsigned long long)gets, (unsigned long long)hits,
           gets ? (double)hits / (double)gets : 0.0, (unsigned long long)sets,
           (unsigned long long)set_errors, secs, secs > 0 ? (double)(gets + sets) / secs : 0.0);
    free(cdf);
    free(value);
    free(keys);
    free(kinds);
    free(wbuf);
    close(fd);
    return 0;
}
