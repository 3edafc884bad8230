/* resp.c - RESP2 request parser (multibulk and inline).
 *
 * The parser is stateless: every call parses from buf[0]. It follows Redis 7's
 * processMultibulkBuffer / processInlineBuffer, with three deliberate differences:
 *  - a header line's '\r' must be followed by '\n' and a bulk payload by "\r\n"
 *    (Redis skips those two bytes unchecked); both are errors here;
 *  - lines are located with memchr, so a NUL byte never hides a terminator;
 *  - a header or inline line whose terminator lies beyond RESP_MAX_INLINE bytes is an
 *    error even when the terminator has already arrived, so the outcome never depends
 *    on how the bytes were split across reads.
 * The reply writer lives in reply.c; the number parsers live in the base layer
 * (shm/base/parse.c).
 */
#include "kvns/resp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char ERR_MBULK_LEN[]     = "Protocol error: invalid multibulk length";
static const char ERR_BULK_LEN[]      = "Protocol error: invalid bulk length";
static const char ERR_BIG_INLINE[]    = "Protocol error: too big inline request";
static const char ERR_BIG_MBULK_STR[] = "Protocol error: too big mbulk count string";
static const char ERR_BIG_BULK_STR[]  = "Protocol error: too big bulk count string";
static const char ERR_QUOTES[]        = "Protocol error: unbalanced quotes in request";

/* How many argv slots a multibulk header may reserve before any argument arrives:
 * a client announcing a million arguments gets them allocated only as they come. */
#define ARGV_PREALLOC_MAX 1024

/* Aborts the process: the parser has no way to continue without memory, and a
 * half-parsed request must not be executed. */
static void resp_out_of_memory(void)
{
    fputs("kvns: out of memory in the RESP parser\n", stderr);
    abort();
}

enum line_status { LINE_OK, LINE_INCOMPLETE, LINE_TOO_LONG, LINE_BAD_TERMINATOR };

/* ---- argument vector ----------------------------------------------------------- */

/* Makes room for at least `want` arguments, doubling so that appends are amortised
 * O(1); the array is kept between requests so steady state does no allocation. */
static void reserve_args(resp_request *req, size_t want)
{
    size_t cap = req->cap ? req->cap : 8;
    resp_arg *grown;

    if (want <= req->cap)
        return;
    while (cap < want)
        cap *= 2;
    grown = realloc(req->argv, cap * sizeof(*grown));
    if (!grown)
        resp_out_of_memory();
    req->argv = grown;
    req->cap = cap;
}

/* Appends one argument pointing into the caller's buffer. */
static inline void push_arg(resp_request *req, char *ptr, size_t len)
{
    if (req->argc == req->cap)
        reserve_args(req, req->argc + 1);
    req->argv[req->argc].ptr = ptr;
    req->argv[req->argc].len = len;
    req->argc++;
}

void resp_request_free(resp_request *req)
{
    free(req->argv);
    req->argv = NULL;
    req->argc = 0;
    req->cap = 0;
}

/* ---- multibulk ------------------------------------------------------------------- */

/* Fast path for the header every client sends: up to 18 plain digits (no sign, no
 * leading zero) followed by "\r\n". Returns the position after the "\r\n" and sets
 * *value, or NULL when the slow path must decide (sign, long number, garbage, or
 * simply not all bytes here yet). Whatever it accepts, the slow path would accept
 * with the same value. */
static const char *scan_plain_number_line(const char *p, const char *end, long long *value)
{
    const char *digits = p;
    const char *digits_end = end - p > 18 ? p + 18 : end;
    long long v = 0;

    while (p < digits_end && (unsigned)(unsigned char)*p - '0' <= 9) {
        v = v * 10 + (*p - '0');
        p++;
    }
    if (p == digits || (digits[0] == '0' && p - digits > 1))
        return NULL;
    if (end - p < 2 || p[0] != '\r' || p[1] != '\n')
        return NULL;
    *value = v;
    return p + 2;
}

/* Finds the end of the header line starting at buf[start] (its '*' or '$'), Redis's
 * way: the first '\r'. Returns LINE_OK with *cr at that '\r' when "\r\n" is present,
 * LINE_INCOMPLETE when more bytes may still complete it, LINE_TOO_LONG when no '\r'
 * is within RESP_MAX_INLINE bytes, LINE_BAD_TERMINATOR when '\r' is not followed by
 * '\n'. */
static enum line_status find_header_line(const char *buf, size_t len, size_t start, size_t *cr)
{
    size_t avail = len - start;
    size_t scan = avail < (size_t)RESP_MAX_INLINE + 1 ? avail : (size_t)RESP_MAX_INLINE + 1;
    const char *found = memchr(buf + start, '\r', scan);
    size_t at;

    if (!found)
        return avail > (size_t)RESP_MAX_INLINE ? LINE_TOO_LONG : LINE_INCOMPLETE;
    at = (size_t)(found - buf);
    if (at + 1 >= len)
        return LINE_INCOMPLETE;
    if (buf[at + 1] != '\n')
        return LINE_BAD_TERMINATOR;
    *cr = at;
    return LINE_OK;
}

/* Returns Redis's "expected '$', got 'X'" text for the byte found instead of '$'.
 * The message needs the byte, so it lives in a per-thread buffer that stays valid
 * until this thread's next resp_parse. CR, LF and NUL are shown as a space, as Redis's
 * error sanitising would (a raw CR/LF would break the error reply). */
static const char *expected_dollar_message(char got)
{
    static __thread char message[] = "Protocol error: expected '$', got ' '";
    size_t quote_at = sizeof(message) - 3;

    message[quote_at] = (got == '\r' || got == '\n' || got == '\0') ? ' ' : got;
    return message;
}

/* Reads the bulk header "$<len>\r\n" at buf[*pos]. Returns RESP_OK with *pos moved past
 * it and *bulk_len set, RESP_INCOMPLETE, or RESP_ERROR with *errmsg set. The length is
 * not range-checked here. */
static int read_bulk_header(const char *buf, size_t len, size_t *pos, long long *bulk_len,
                            const char **errmsg)
{
    size_t start = *pos;
    size_t cr = 0;
    const char *after;
    enum line_status line;

    if (start >= len)
        return RESP_INCOMPLETE;
    if (buf[start] == '$') {
        after = scan_plain_number_line(buf + start + 1, buf + len, bulk_len);
        if (after) {
            *pos = (size_t)(after - buf);
            return RESP_OK;
        }
    }
    line = find_header_line(buf, len, start, &cr);
    if (line == LINE_INCOMPLETE)
        return RESP_INCOMPLETE;
    if (line == LINE_TOO_LONG) {
        *errmsg = ERR_BIG_BULK_STR;
        return RESP_ERROR;
    }
    if (buf[start] != '$') {
        *errmsg = expected_dollar_message(buf[start]);
        return RESP_ERROR;
    }
    if (line == LINE_BAD_TERMINATOR || parse_ll(buf + start + 1, cr - start - 1, bulk_len) != 0) {
        *errmsg = ERR_BULK_LEN;
        return RESP_ERROR;
    }
    *pos = cr + 2;
    return RESP_OK;
}

/* Reads the multibulk count "*<n>\r\n" at buf[0]. Returns RESP_OK with *pos past it,
 * RESP_INCOMPLETE, or RESP_ERROR with *errmsg set. */
static int read_multibulk_count(const char *buf, size_t len, size_t *pos, long long *count,
                                const char **errmsg)
{
    size_t cr = 0;
    const char *after = scan_plain_number_line(buf + 1, buf + len, count);
    enum line_status line;

    if (after) {
        *pos = (size_t)(after - buf);
        return RESP_OK;
    }
    line = find_header_line(buf, len, 0, &cr);
    if (line == LINE_INCOMPLETE)
        return RESP_INCOMPLETE;
    if (line == LINE_TOO_LONG) {
        *errmsg = ERR_BIG_MBULK_STR;
        return RESP_ERROR;
    }
    if (line == LINE_BAD_TERMINATOR || parse_ll(buf + 1, cr - 1, count) != 0) {
        *errmsg = ERR_MBULK_LEN;
        return RESP_ERROR;
    }
    *pos = cr + 2;
    return RESP_OK;
}

/* The *need of a multibulk that stopped at pos of buf[0..len) with `left` bulks not
 * yet complete (the first of which needs bytes up to first_end, when its length is
 * known, else 0). A request of many arguments is parsed again from its start on every
 * attempt, so with more than ARGV_PREALLOC_MAX of them left this asks for the lower
 * bound every bulk gives ("$0\r\n\r\n" at least), capped at twice what has arrived:
 * attempts then come each time the bytes double, not once per read, and the buffer
 * never grows past what the request surely needs. Below that only first_end counts.
 * Out of line: only a request split across reads gets here. */
__attribute__((noinline, cold)) static size_t multibulk_need(size_t pos, size_t len, long long left,
                                                             size_t first_end)
{
    if (left <= ARGV_PREALLOC_MAX)
        return first_end;
    size_t floor = first_end > len ? first_end : len + 1;
    size_t bound = (first_end ? first_end : pos) + (size_t)(left - (first_end != 0)) * 6;
    size_t need = bound < 2 * len ? bound : 2 * len;
    return need > floor ? need : floor;
}

/* Parses "*N\r\n" followed by N "$L\r\n<L bytes>\r\n" bulks. Returns RESP_OK with the
 * arguments pointing into buf, RESP_INCOMPLETE (with *need once a bulk's length is
 * known), or RESP_ERROR. A count of zero or below is a complete empty request, as in
 * Redis. */
static int parse_multibulk(resp_request *req, char *buf, size_t len, size_t *consumed,
                           size_t *need, const char **errmsg)
{
    size_t pos = 0;
    long long count, bulk_len, i;
    int status;

    status = read_multibulk_count(buf, len, &pos, &count, errmsg);
    if (status != RESP_OK)
        return status;
    if (count > RESP_MAX_ARGS) {
        *errmsg = ERR_MBULK_LEN;
        return RESP_ERROR;
    }
    if (count <= 0) {
        *consumed = pos;
        return RESP_OK;
    }
    reserve_args(req, count < ARGV_PREALLOC_MAX ? (size_t)count : ARGV_PREALLOC_MAX);

    for (i = 0; i < count; i++) {
        status = read_bulk_header(buf, len, &pos, &bulk_len, errmsg);
        if (status != RESP_OK) {
            if (status == RESP_INCOMPLETE)
                *need = multibulk_need(pos, len, count - i, 0);
            goto not_complete;
        }
        if (bulk_len < 0 || bulk_len > RESP_MAX_BULK) {
            *errmsg = ERR_BULK_LEN;
            status = RESP_ERROR;
            goto not_complete;
        }
        if (len - pos < (size_t)bulk_len + 2) {
            *need = multibulk_need(pos, len, count - i, pos + (size_t)bulk_len + 2);
            status = RESP_INCOMPLETE;
            goto not_complete;
        }
        if (buf[pos + bulk_len] != '\r' || buf[pos + bulk_len + 1] != '\n') {
            *errmsg = ERR_BULK_LEN;
            status = RESP_ERROR;
            goto not_complete;
        }
        push_arg(req, buf + pos, (size_t)bulk_len);
        pos += (size_t)bulk_len + 2;
    }
    *consumed = pos;
    return RESP_OK;

not_complete:
    req->argc = 0;
    return status;
}

/* ---- inline ------------------------------------------------------------------------ */

/* Returns the byte at p, or NUL at or past end: lets the splitter mirror Redis's
 * C-string code without ever reading past the line. */
static char byte_at(const char *p, const char *end)
{
    return p < end ? *p : '\0';
}

/* Returns 1 for an ASCII hex digit. */
static int is_hex_digit(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Returns the value 0..15 of a hex digit already checked with is_hex_digit. */
static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return c - 'A' + 10;
}

/* Returns the byte a backslash escape inside "..." stands for (\n \r \t \b \a; any
 * other byte stands for itself, so \\ and \" work). */
static char unescape_byte(char c)
{
    switch (c) {
    case 'n': return '\n';
    case 'r': return '\r';
    case 't': return '\t';
    case 'b': return '\b';
    case 'a': return '\a';
    default: return c;
    }
}

/* Splits line[0..n) into arguments with Redis's sdssplitargs rules, unescaping in
 * place (output never outruns input). Like sdssplitargs, which sees a C string, the
 * line ends at its first NUL byte. Returns 0, or -1 for unbalanced quotes or a closing
 * quote followed by something other than a space. */
static int split_inline_args(resp_request *req, char *line, size_t n)
{
    const char *nul = memchr(line, '\0', n);
    const char *end = nul ? nul : line + n;
    char *p = line;

    for (;;) {
        char *token, *out;
        int in_double = 0, in_single = 0;

        while (p < end && parse_is_c_space(*p))
            p++;
        if (p == end)
            return 0;
        token = out = p;
        for (;;) {
            char c = byte_at(p, end);
            if (in_double) {
                if (c == '\\' && byte_at(p + 1, end) == 'x' && is_hex_digit(byte_at(p + 2, end)) &&
                    is_hex_digit(byte_at(p + 3, end))) {
                    *out++ = (char)(hex_value(p[2]) * 16 + hex_value(p[3]));
                    p += 4;
                } else if (c == '\\' && byte_at(p + 1, end) != '\0') {
                    *out++ = unescape_byte(p[1]);
                    p += 2;
                } else if (c == '"') {
                    char next = byte_at(p + 1, end);
                    if (next != '\0' && !parse_is_c_space(next))
                        return -1;
                    p++;
                    break;
                } else if (c == '\0') {
                    return -1;
                } else {
                    *out++ = c;
                    p++;
                }
            } else if (in_single) {
                if (c == '\\' && byte_at(p + 1, end) == '\'') {
                    *out++ = '\'';
                    p += 2;
                } else if (c == '\'') {
                    char next = byte_at(p + 1, end);
                    if (next != '\0' && !parse_is_c_space(next))
                        return -1;
                    p++;
                    break;
                } else if (c == '\0') {
                    return -1;
                } else {
                    *out++ = c;
                    p++;
                }
            } else if (c == ' ' || c == '\n' || c == '\r' || c == '\t') {
                p++;
                break;
            } else if (c == '\0') {
                break;
            } else if (c == '"') {
                in_double = 1;
                p++;
            } else if (c == '\'') {
                in_single = 1;
                p++;
            } else {
                *out++ = c;
                p++;
            }
        }
        push_arg(req, token, (size_t)(out - token));
    }
}

/* Parses one inline command line ending in "\n" or "\r\n". Returns RESP_OK (argc 0 for
 * a blank line), RESP_INCOMPLETE, or RESP_ERROR for a line longer than RESP_MAX_INLINE
 * or unbalanced quotes. */
static int parse_inline(resp_request *req, char *buf, size_t len, size_t *consumed,
                        const char **errmsg)
{
    size_t scan = len < (size_t)RESP_MAX_INLINE + 1 ? len : (size_t)RESP_MAX_INLINE + 1;
    const char *newline = memchr(buf, '\n', scan);
    size_t line_len;

    if (!newline) {
        if (len > (size_t)RESP_MAX_INLINE) {
            *errmsg = ERR_BIG_INLINE;
            return RESP_ERROR;
        }
        return RESP_INCOMPLETE;
    }
    line_len = (size_t)(newline - buf);
    *consumed = line_len + 1;
    if (line_len > 0 && buf[line_len - 1] == '\r')
        line_len--;
    if (split_inline_args(req, buf, line_len) != 0) {
        req->argc = 0;
        *errmsg = ERR_QUOTES;
        return RESP_ERROR;
    }
    return RESP_OK;
}

/* ---- entry point ------------------------------------------------------------------ */

/* Returns RESP_OK, RESP_INCOMPLETE or RESP_ERROR for the request at buf[0]; see resp.h.
 * A leading '*' selects multibulk, anything else is an inline command, as in Redis. */
int resp_parse(resp_request *req, char *buf, size_t len, size_t *consumed, size_t *need,
               const char **errmsg)
{
    size_t unused_need;
    const char *unused_errmsg;

    if (!need)
        need = &unused_need;
    if (!errmsg)
        errmsg = &unused_errmsg;
    req->argc = 0;
    *need = 0;
    if (len == 0)
        return RESP_INCOMPLETE;
    if (buf[0] == '*')
        return parse_multibulk(req, buf, len, consumed, need, errmsg);
    return parse_inline(req, buf, len, consumed, errmsg);
}
