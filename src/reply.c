/* reply.c - RESP2/RESP3 reply writer and Redis-compatible number formatting.
 *
 * Replies are appended to a process-local growable buffer (malloc/realloc). Encodings
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

/* Aborts the process: a reply that cannot be built cannot be sent either, and
 * continuing would desynchronise the client's protocol stream. */
static void reply_out_of_memory(void)
{
    fputs("kvns: out of memory in the reply writer\n", stderr);
    abort();
}

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

/* ---- buffer management -------------------------------------------------------------- */

void reply_init(reply_buf *r)
{
    r->data = NULL;
    r->len = 0;
    r->cap = 0;
    r->proto = 2;
}

void reply_free(reply_buf *r)
{
    free(r->data);
    r->data = NULL;
    r->len = 0;
    r->cap = 0;
}

void reply_reset(reply_buf *r)
{
    r->len = 0;
}

/* Grows the buffer geometrically until n more bytes fit; kept out of line so the
 * common no-growth check in reply_room stays small enough to inline. */
static __attribute__((noinline)) void reply_grow(reply_buf *r, size_t n)
{
    size_t cap = r->cap ? r->cap * 2 : 256;
    char *grown;

    while (cap - r->len < n)
        cap *= 2;
    grown = realloc(r->data, cap);
    if (!grown)
        reply_out_of_memory();
    r->data = grown;
    r->cap = cap;
}

/* Returns a pointer to at least n free bytes at the end of the reply. The caller
 * writes there and then advances r->len. */
static inline char *reply_room(reply_buf *r, size_t n)
{
    if (r->cap - r->len < n)
        reply_grow(r, n);
    return r->data + r->len;
}

void reply_raw(reply_buf *r, const void *p, size_t n)
{
    if (n == 0)
        return;
    memcpy(reply_room(r, n), p, n);
    r->len += n;
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
    r->len += format_header(reply_room(r, HEADER_MAX), type, n);
}

/* Appends "<type><text>\r\n" with any CR or LF in text turned into a space, so a
 * message can never end the line early and inject protocol. */
static void append_line(reply_buf *r, char type, const char *text, size_t n)
{
    char *dst = reply_room(r, n + 3);
    size_t i;

    dst[0] = type;
    for (i = 0; i < n; i++) {
        char c = text[i];
        dst[1 + i] = (c == '\r' || c == '\n') ? ' ' : c;
    }
    dst[n + 1] = '\r';
    dst[n + 2] = '\n';
    r->len += n + 3;
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
        if (!text)
            reply_out_of_memory();
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
    reply_raw(r, "+OK\r\n", 5);
}

void reply_int(reply_buf *r, long long v)
{
    append_header(r, ':', v);
}

/* ---- bulk strings --------------------------------------------------------------------- */

void reply_bulk(reply_buf *r, const void *p, size_t n)
{
    char *dst = reply_room(r, HEADER_MAX + n + 2);
    size_t header = format_header(dst, '$', (long long)n);

    if (n)
        memcpy(dst + header, p, n);
    dst[header + n] = '\r';
    dst[header + n + 1] = '\n';
    r->len += header + n + 2;
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
        reply_raw(r, "_\r\n", 3);
    else
        reply_raw(r, "$-1\r\n", 5);
}

void reply_null_array(reply_buf *r)
{
    if (r->proto == 3)
        reply_raw(r, "_\r\n", 3);
    else
        reply_raw(r, "*-1\r\n", 5);
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
        reply_raw(r, v ? "#t\r\n" : "#f\r\n", 4);
    else
        reply_raw(r, v ? ":1\r\n" : ":0\r\n", 4);
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
    char *dst;
    size_t header;

    if (r->proto != 3) {
        reply_bulk(r, p, n);
        return;
    }
    dst = reply_room(r, HEADER_MAX + 4 + n + 2);
    header = format_header(dst, '=', (long long)(n + 4));
    memcpy(dst + header, "txt:", 4);
    if (n)
        memcpy(dst + header + 4, p, n);
    dst[header + 4 + n] = '\r';
    dst[header + 4 + n + 1] = '\n';
    r->len += header + 4 + n + 2;
}

/* ---- deferred headers --------------------------------------------------------------------- */

/* Returns the offset of a DEFER_WIDTH-byte placeholder appended for a header whose
 * count is not known yet. Handles must be fixed innermost first (last deferred, first
 * fixed), since fixing one moves everything written after it; nothing after the
 * placeholder may be sent to the client before the fix. */
size_t reply_defer_array(reply_buf *r)
{
    size_t handle = r->len;

    memset(reply_room(r, DEFER_WIDTH), ' ', DEFER_WIDTH);
    r->len += DEFER_WIDTH;
    return handle;
}

/* Replaces the placeholder at handle with "<type><n>\r\n" and closes the gap by moving
 * the bytes written since, so the client sees plain valid RESP. */
static void fix_deferred(reply_buf *r, size_t handle, char type, long long n)
{
    char header[HEADER_MAX];
    size_t header_len, tail;

    if (handle > r->len || r->len - handle < DEFER_WIDTH)
        return;   /* the buffer was reset since the defer: nothing to fix */
    header_len = format_header(header, type, n);
    tail = r->len - handle - DEFER_WIDTH;
    memmove(r->data + handle + header_len, r->data + handle + DEFER_WIDTH, tail);
    memcpy(r->data + handle, header, header_len);
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
