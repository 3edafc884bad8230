/* reply.c - RESP2/RESP3 reply writer and Redis-compatible number formatting.
 *
 * Replies are appended to a process-local chain of blocks (see resp.h). Encodings
 * that differ between protocols (null, map, set, push, bool, double, verbatim) look at
 * reply_buf.proto (3 = RESP3, anything else = RESP2).
 */
#include "kvns/resp.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Room for "<type><-9223372036854775808>\r\n". */
#define HEADER_MAX 23
/* Width of the placeholder reply_defer_array writes; any header fits in it. */
#define DEFER_WIDTH HEADER_MAX

/* ---- number formatting ------------------------------------------------------------ */

/* Returns how many decimal digits v has (1 for 0). */
static size_t count_digits(unsigned long long v)
{
    size_t n = 1;

    while (v >= 10000) {
        v /= 10000;
        n += 4;
    }
    if (v >= 1000)
        return n + 3;
    if (v >= 100)
        return n + 2;
    if (v >= 10)
        return n + 1;
    return n;
}

/* Writes v in decimal to dst (no NUL) and returns the length, two digits per division;
 * this runs for every integer reply and every bulk header. dst needs 20 bytes. */
static size_t format_ull(char *dst, unsigned long long v)
{
    static const char pairs[] =
        "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
        "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
        "8081828384858687888990919293949596979899";
    size_t n = count_digits(v);
    size_t i = n;

    while (v >= 100) {
        size_t at = (size_t)(v % 100) * 2;
        v /= 100;
        dst[--i] = pairs[at + 1];
        dst[--i] = pairs[at];
    }
    if (v >= 10) {
        dst[--i] = pairs[v * 2 + 1];
        dst[--i] = pairs[v * 2];
    } else {
        dst[--i] = (char)('0' + v);
    }
    return n;
}

/* Writes v in decimal to dst (no NUL) and returns the length; dst needs 20 bytes.
 * LLONG_MIN is handled by negating in unsigned arithmetic. */
static size_t format_ll(char *dst, long long v)
{
    if (v < 0) {
        dst[0] = '-';
        return 1 + format_ull(dst + 1, 0ULL - (unsigned long long)v);
    }
    return format_ull(dst, (unsigned long long)v);
}

size_t reply_format_ll(char *dst, long long v) { return format_ll(dst, v); }

/* Copies text[0..n) into buf[0..cap) with a NUL, truncating to fit, and returns the
 * number of characters written. */
static int copy_formatted(char *buf, size_t cap, const char *text, size_t n)
{
    if (cap == 0)
        return 0;
    if (n >= cap)
        n = cap - 1;
    memcpy(buf, text, n);
    buf[n] = '\0';
    return (int)n;
}

/* Returns the length of d formatted as Redis 7 prints doubles ("%.17g"), with inf,
 * -inf and nan spelled out whatever libc does. Integral values below 1e17, which
 * "%.17g" prints as plain integers, skip snprintf. */
int fmt_double(char *buf, size_t cap, double d)
{
    char text[32];
    size_t n;

    if (isinf(d))
        return copy_formatted(buf, cap, d > 0 ? "inf" : "-inf", d > 0 ? 3 : 4);
    if (isnan(d))
        return copy_formatted(buf, cap, "nan", 3);
    if (d > -1e17 && d < 1e17 && d == (double)(long long)d && !(d == 0 && signbit(d))) {
        n = format_ll(text, (long long)d);
    } else {
        int written = snprintf(text, sizeof(text), "%.17g", d);
        n = written < 0 ? 0 : (size_t)written;
    }
    return copy_formatted(buf, cap, text, n);
}

/* Returns the length of d formatted as Redis's ld2string(LD_STR_HUMAN) does for
 * INCRBYFLOAT: "%.17Lf" with trailing zeros and a trailing '.' removed, "-0" shown as
 * "0", inf/-inf/nan spelled out. Returns 0 (and an empty string) when cap is too small;
 * finite values can need up to ~5000 bytes (Redis uses a 5 KiB buffer). */
int fmt_long_double(char *buf, size_t cap, long double d)
{
    int written;
    size_t n;

    if (isinf(d))
        return cap >= 5 ? copy_formatted(buf, cap, d > 0 ? "inf" : "-inf", d > 0 ? 3 : 4)
                        : copy_formatted(buf, cap, "", 0);
    if (isnan(d))
        return cap >= 4 ? copy_formatted(buf, cap, "nan", 3) : copy_formatted(buf, cap, "", 0);
    written = snprintf(buf, cap, "%.17Lf", d);
    if (written < 0 || (size_t)written + 1 > cap)
        return copy_formatted(buf, cap, "", 0);
    n = (size_t)written;
    if (memchr(buf, '.', n)) {
        while (buf[n - 1] == '0')
            n--;
        if (buf[n - 1] == '.')
            n--;
    }
    if (n == 2 && buf[0] == '-' && buf[1] == '0') {
        buf[0] = '0';
        n = 1;
    }
    buf[n] = '\0';
    return (int)n;
}

/* ---- block chain ---------------------------------------------------------------------- */

void *(*reply_block_malloc)(size_t size) = malloc;

void reply_init(reply_buf *r)
{
    memset(r, 0, sizeof *r);
    r->proto = 2;
}

/* Unlinks block b from the chain and frees it. */
static void block_drop(reply_buf *r, reply_block *b)
{
    if (b->prev)
        b->prev->next = b->next;
    else
        r->head = b->next;
    if (b->next)
        b->next->prev = b->prev;
    else
        r->tail = b->prev;
    r->held -= b->size;
    free(b);
}

void reply_free(reply_buf *r)
{
    int proto = r->proto;

    while (r->head)
        block_drop(r, r->head);
    reply_init(r);
    r->proto = proto;
}

/* Appends a block with room for at least n bytes (REPLY_BLOCK_BYTES in all, or the
 * size n asks for when larger) and returns where writing starts. NULL, with the buffer
 * marked failed, when it is failed already or the block cannot be allocated. Kept out
 * of line so the room check in reply_room stays small enough to inline. */
static __attribute__((noinline)) char *block_append(reply_buf *r, size_t n)
{
    size_t size = REPLY_BLOCK_BYTES - sizeof(reply_block);
    reply_block *b;

    if (r->failed)
        return NULL;
    if (n > size)
        size = n;
    b = reply_block_malloc(sizeof(reply_block) + size);
    if (!b) {
        r->failed = true;
        return NULL;
    }
    b->prev = r->tail;
    b->next = NULL;
    b->used = 0;
    b->size = size;
    if (r->tail)
        r->tail->next = b;
    else
        r->head = b;
    r->tail = b;
    r->held += size;
    return b->data;
}

/* Returns a pointer to n contiguous free bytes at the end of the reply, or NULL when
 * the buffer failed. The caller writes there and then calls reply_advance. */
static inline char *reply_room(reply_buf *r, size_t n)
{
    reply_block *b = r->tail;

    if (b && b->size - b->used >= n)
        return b->data + b->used;
    return block_append(r, n);
}

static inline void reply_advance(reply_buf *r, size_t n)
{
    r->tail->used += n;
    r->len += n;
}

/* Appends what does not fit the tail's room: fills the tail, then one block sized for
 * the rest. Out of line: append_raw's fast path is what every short reply runs. */
static __attribute__((noinline)) void append_spill(reply_buf *r, const char *src, size_t n)
{
    reply_block *b = r->tail;
    size_t room = b ? b->size - b->used : 0;
    char *dst;

    if (room) {
        memcpy(b->data + b->used, src, room);
        reply_advance(r, room);
        src += room;
        n -= room;
    }
    dst = block_append(r, n);
    if (!dst)
        return;
    memcpy(dst, src, n);
    reply_advance(r, n);
}

/* Appends p[0..n), n > 0: a copy into the tail block when it has room. */
static inline void append_raw(reply_buf *r, const void *p, size_t n)
{
    reply_block *b = r->tail;

    if (b && b->size - b->used >= n) {
        memcpy(b->data + b->used, p, n);
        reply_advance(r, n);
        return;
    }
    append_spill(r, p, n);
}

void reply_raw(reply_buf *r, const void *p, size_t n)
{
    if (n)
        append_raw(r, p, n);
}

/* Returns the block holding offset off and sets *start to the offset of its data[0];
 * the search runs from the tail, where marks and handles usually are. off == r->len
 * gives the tail. */
static reply_block *block_at(const reply_buf *r, size_t off, size_t *start)
{
    reply_block *b = r->tail;
    size_t begin = r->len - b->used;

    while (begin > off && b->prev) {
        b = b->prev;
        begin -= b->used;
    }
    *start = begin;
    return b;
}

void reply_truncate_blocks(reply_buf *r, size_t mark)
{
    reply_block *b;
    size_t start;

    r->failed = false;
    if (mark >= r->len || !r->tail)
        return;
    if (mark < r->sent)
        mark = r->sent;
    b = block_at(r, mark, &start);
    while (r->tail != b)
        block_drop(r, r->tail);
    b->used = mark - start;
    r->len = mark;
}

char reply_byte_before_tail(const reply_buf *r, size_t off)
{
    size_t start;
    const reply_block *b = block_at(r, off, &start);

    return b->data[off - start];
}

/* src must not have been sent from (a scratch buffer, as SCAN builds its keys in).
 * Content that fits the room left in dst's tail is copied there instead, so a short
 * reply still ends up in one block. */
void reply_splice(reply_buf *dst, reply_buf *src)
{
    int proto = src->proto;

    if (src->failed)
        dst->failed = true;
    if (src->head && src->head == src->tail && dst->tail &&
        dst->tail->size - dst->tail->used >= src->len) {
        reply_raw(dst, src->head->data, src->len);
        reply_free(src);
    } else if (src->head) {
        src->head->prev = dst->tail;
        if (dst->tail)
            dst->tail->next = src->head;
        else
            dst->head = src->head;
        dst->tail = src->tail;
        dst->len += src->len;
        dst->held += src->held;
    }
    reply_init(src);
    src->proto = proto;
}

int reply_iov(const reply_buf *r, struct iovec *iov, int max)
{
    const reply_block *b = r->head;
    size_t skip = r->head_sent;
    int n = 0;

    for (; b && n < max; b = b->next, skip = 0) {
        if (b->used == skip)
            continue;
        iov[n].iov_base = (char *)b->data + skip;
        iov[n].iov_len = b->used - skip;
        n++;
    }
    return n;
}

void reply_consume(reply_buf *r, size_t n)
{
    r->sent += n;
    n += r->head_sent;
    while (r->head && n >= r->head->used && r->head != r->tail) {
        n -= r->head->used;
        block_drop(r, r->head);
    }
    r->head_sent = n;
    if (r->sent < r->len)
        return;
    /* all sent: restart the offsets; keep the tail if it is an ordinary block */
    r->len = r->sent = r->head_sent = 0;
    if (r->tail && r->tail->size != REPLY_BLOCK_BYTES - sizeof(reply_block))
        block_drop(r, r->tail);
    if (r->tail)
        r->tail->used = 0;
}

/* Writes "<type><n>\r\n" to dst and returns its length (at most HEADER_MAX). */
static size_t format_header(char *dst, char type, long long n)
{
    size_t len = 1;

    dst[0] = type;
    len += format_ll(dst + 1, n);
    dst[len++] = '\r';
    dst[len++] = '\n';
    return len;
}

/* Appends "<type><n>\r\n": the header of integers, arrays, maps, sets and pushes. */
static void append_header(reply_buf *r, char type, long long n)
{
    char *dst = reply_room(r, HEADER_MAX);

    if (dst)
        reply_advance(r, format_header(dst, type, n));
}

/* Longest piece of a status or error line written contiguously. */
#define LINE_PIECE (REPLY_BLOCK_BYTES / 2)

/* Copies text[0..n) to dst with CR and LF turned into spaces. */
static void copy_line_text(char *dst, const char *text, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = text[i];
        dst[i] = (c == '\r' || c == '\n') ? ' ' : c;
    }
}

/* Appends "<type><text>\r\n" with any CR or LF in text turned into a space, so a
 * message can never end the line early and inject protocol. A short line is written
 * in one piece; a long one in LINE_PIECE pieces. */
static void append_line(reply_buf *r, char type, const char *text, size_t n)
{
    char *dst;

    if (n <= LINE_PIECE) {
        dst = reply_room(r, n + 3);
        if (!dst)
            return;
        dst[0] = type;
        copy_line_text(dst + 1, text, n);
        dst[n + 1] = '\r';
        dst[n + 2] = '\n';
        reply_advance(r, n + 3);
        return;
    }
    append_raw(r, &type, 1);
    for (size_t done = 0; done < n;) {
        size_t piece = n - done < LINE_PIECE ? n - done : LINE_PIECE;

        dst = reply_room(r, piece);
        if (!dst)
            return;
        copy_line_text(dst, text + done, piece);
        reply_advance(r, piece);
        done += piece;
    }
    append_raw(r, "\r\n", 2);
}

/* ---- simple types --------------------------------------------------------------------- */

void reply_simple(reply_buf *r, const char *s)
{
    append_line(r, '+', s, strlen(s));
}

/* Appends "-<s>\r\n". A leading '-' in s is dropped so "-ERR x" does not become
 * "--ERR x". */
void reply_error(reply_buf *r, const char *s)
{
    if (s[0] == '-')
        s++;
    append_line(r, '-', s, strlen(s));
}

void reply_errorf(reply_buf *r, const char *fmt, ...)
{
    char stack_text[512];
    char *text = stack_text;
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(stack_text, sizeof(stack_text), fmt, ap);
    va_end(ap);
    if (n < 0) {
        reply_error(r, "ERR reply formatting failed");
        return;
    }
    if ((size_t)n >= sizeof(stack_text)) {
        text = malloc((size_t)n + 1);
        if (!text) {
            r->failed = true;
            return;
        }
        va_start(ap, fmt);
        vsnprintf(text, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    reply_error(r, text);
    if (text != stack_text)
        free(text);
}

void reply_ok(reply_buf *r)
{
    append_raw(r, "+OK\r\n", 5);
}

void reply_int(reply_buf *r, long long v)
{
    append_header(r, ':', v);
}

/* ---- bulk strings --------------------------------------------------------------------- */

/* A bulk that fits the tail block is written in one go (the common short value);
 * otherwise header, payload and CRLF are appended separately, the payload filling
 * the tail and one block sized for the rest. */
void reply_bulk(reply_buf *r, const void *p, size_t n)
{
    reply_block *b = r->tail;
    size_t header;
    char *dst;

    if (!b || b->size - b->used < HEADER_MAX + n + 2) {
        append_header(r, '$', (long long)n);
        reply_raw(r, p, n);
        append_raw(r, "\r\n", 2);
        return;
    }
    dst = b->data + b->used;
    header = format_header(dst, '$', (long long)n);
    if (n)
        memcpy(dst + header, p, n);
    dst[header + n] = '\r';
    dst[header + n + 1] = '\n';
    reply_advance(r, header + n + 2);
}

void reply_bulk_cstr(reply_buf *r, const char *s)
{
    reply_bulk(r, s, strlen(s));
}

void reply_bulk_ll(reply_buf *r, long long v)
{
    char digits[24];

    reply_bulk(r, digits, format_ll(digits, v));
}

void reply_null(reply_buf *r)
{
    if (r->proto == 3)
        append_raw(r, "_\r\n", 3);
    else
        append_raw(r, "$-1\r\n", 5);
}

void reply_null_array(reply_buf *r)
{
    if (r->proto == 3)
        append_raw(r, "_\r\n", 3);
    else
        append_raw(r, "*-1\r\n", 5);
}

/* ---- aggregates ------------------------------------------------------------------------- */

void reply_array(reply_buf *r, long long n)
{
    append_header(r, '*', n);
}

void reply_map(reply_buf *r, long long pairs)
{
    if (r->proto == 3)
        append_header(r, '%', pairs);
    else
        append_header(r, '*', pairs * 2);
}

void reply_set(reply_buf *r, long long n)
{
    append_header(r, r->proto == 3 ? '~' : '*', n);
}

void reply_push(reply_buf *r, long long n)
{
    append_header(r, r->proto == 3 ? '>' : '*', n);
}

void reply_bool(reply_buf *r, int v)
{
    if (r->proto == 3)
        append_raw(r, v ? "#t\r\n" : "#f\r\n", 4);
    else
        append_raw(r, v ? ":1\r\n" : ":0\r\n", 4);
}

void reply_double(reply_buf *r, double d)
{
    char text[32];
    int n = fmt_double(text, sizeof(text), d);

    if (r->proto == 3)
        append_line(r, ',', text, (size_t)n);
    else
        reply_bulk(r, text, (size_t)n);
}

void reply_verbatim(reply_buf *r, const char *p, size_t n)
{
    if (r->proto != 3) {
        reply_bulk(r, p, n);
        return;
    }
    append_header(r, '=', (long long)(n + 4));
    append_raw(r, "txt:", 4);
    reply_raw(r, p, n);
    append_raw(r, "\r\n", 2);
}

/* ---- deferred headers --------------------------------------------------------------------- */

/* Returns the offset of a DEFER_WIDTH-byte placeholder appended for a header whose
 * count is not known yet; the placeholder never straddles blocks. Handles must be
 * fixed innermost first (last deferred, first fixed), since fixing one moves what was
 * written after it; nothing after the placeholder may be sent before the fix. */
size_t reply_defer_array(reply_buf *r)
{
    char *dst = reply_room(r, DEFER_WIDTH);
    size_t handle = r->len;

    if (dst) {
        memset(dst, ' ', DEFER_WIDTH);
        reply_advance(r, DEFER_WIDTH);
    }
    return handle;
}

/* Replaces the placeholder at handle with "<type><n>\r\n" and closes the gap by moving
 * the bytes after it within its own block only (at most a block's worth, never the
 * whole output), so the client sees plain valid RESP. Later blocks keep their bytes;
 * the placeholder's block simply ends up less full. */
static void fix_deferred(reply_buf *r, size_t handle, char type, long long n)
{
    char header[HEADER_MAX];
    size_t header_len, start, at;
    reply_block *b;

    if (r->failed || handle > r->len || r->len - handle < DEFER_WIDTH)
        return;   /* a failed reply is discarded; a truncated one has nothing to fix */
    b = block_at(r, handle, &start);
    at = handle - start;
    if (b->used - at < DEFER_WIDTH)
        return;   /* truncated since the defer: this block holds no placeholder */
    header_len = format_header(header, type, n);
    memmove(b->data + at + header_len, b->data + at + DEFER_WIDTH, b->used - at - DEFER_WIDTH);
    memcpy(b->data + at, header, header_len);
    b->used -= DEFER_WIDTH - header_len;
    r->len -= DEFER_WIDTH - header_len;
}

void reply_fix_array(reply_buf *r, size_t handle, long long n)
{
    fix_deferred(r, handle, '*', n);
}

size_t reply_defer_map(reply_buf *r)
{
    return reply_defer_array(r);
}

void reply_fix_map(reply_buf *r, size_t handle, long long pairs)
{
    if (r->proto == 3)
        fix_deferred(r, handle, '%', pairs);
    else
        fix_deferred(r, handle, '*', pairs * 2);
}
