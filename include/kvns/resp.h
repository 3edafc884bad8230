/* resp.h - RESP request parser and reply writer (process-local, no arena access).
 *
 * The parser works in place on a connection's read buffer: argument pointers point
 * into that buffer and stay valid until the caller compacts or frees it. It accepts
 * RESP2 multibulk (`*N\r\n$L\r\n...`) and inline commands (a line split on spaces and
 * tabs, with Redis's quoting rules: "..." with \n \r \t \b \a \\ \" \xHH escapes, and
 * '...' with \' only). Limits follow Redis: a bulk is at most RESP_MAX_BULK bytes, a
 * multibulk has at most RESP_MAX_ARGS elements, an inline line or a header line is at
 * most RESP_MAX_INLINE bytes.
 */
#ifndef KVNS_RESP_H
#define KVNS_RESP_H

#include <stddef.h>
#include <stdint.h>

#define RESP_MAX_BULK   (512LL * 1024 * 1024)
#define RESP_MAX_ARGS   (1024 * 1024)
#define RESP_MAX_INLINE (64 * 1024)

typedef struct resp_arg {
    char  *ptr;   /* into the read buffer (inline args: unescaped in place) */
    size_t len;
} resp_arg;

typedef struct resp_request {
    resp_arg *argv;   /* grown by the parser with malloc; freed by resp_request_free */
    size_t    argc;
    size_t    cap;
} resp_request;

enum resp_status {
    RESP_ERROR = -1,      /* *errmsg is set: e.g. "Protocol error: invalid bulk length" */
    RESP_INCOMPLETE = 0,  /* need more bytes; *need says how many in total (0 = unknown) */
    RESP_OK = 1,          /* one request parsed; *consumed bytes used; argc may be 0
                             for an empty inline line or `*0`/`*-1` (no reply is due) */
};

/* Parses one request from buf[0..len). On RESP_OK sets *consumed. On RESP_INCOMPLETE
 * sets *need to the total buffer length that must be present before another attempt
 * can succeed (lets callers skip re-parsing while a large bulk streams in), or 0.
 * On RESP_ERROR sets *errmsg to a static string without the "-ERR " prefix, worded as
 * Redis words it ("Protocol error: invalid multibulk length", "Protocol error:
 * expected '$', got 'x'", "Protocol error: invalid bulk length", "Protocol error:
 * too big inline request", "Protocol error: unbalanced quotes in request", ...).
 * Inline parsing may modify buf (unescaping) - buf is the connection's own buffer. */
int resp_parse(resp_request *req, char *buf, size_t len, size_t *consumed,
               size_t *need, const char **errmsg);

void resp_request_free(resp_request *req);

/* ---- reply writer -------------------------------------------------------------- */

typedef struct reply_buf {
    char  *data;
    size_t len;
    size_t cap;
    int    proto;   /* 2 or 3: selects map/set/double/null/bool encodings */
} reply_buf;

void reply_init(reply_buf *r);
void reply_free(reply_buf *r);
void reply_reset(reply_buf *r);                 /* len = 0, keeps memory */
void reply_raw(reply_buf *r, const void *p, size_t n);
void reply_simple(reply_buf *r, const char *s);            /* +s\r\n */
void reply_error(reply_buf *r, const char *s);             /* -s\r\n, s includes the code ("ERR ...") */
void reply_errorf(reply_buf *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void reply_ok(reply_buf *r);                               /* +OK */
void reply_int(reply_buf *r, long long v);                 /* :v */
void reply_bulk(reply_buf *r, const void *p, size_t n);    /* $n\r\n...\r\n */
void reply_bulk_cstr(reply_buf *r, const char *s);
void reply_bulk_ll(reply_buf *r, long long v);             /* integer as a bulk string */
void reply_null(reply_buf *r);                             /* RESP2 $-1, RESP3 _ */
void reply_null_array(reply_buf *r);                       /* RESP2 *-1, RESP3 _ */
void reply_array(reply_buf *r, long long n);               /* *n */
void reply_map(reply_buf *r, long long pairs);             /* RESP3 %n, RESP2 *2n */
void reply_set(reply_buf *r, long long n);                 /* RESP3 ~n, RESP2 *n */
void reply_push(reply_buf *r, long long n);                /* RESP3 >n, RESP2 *n */
void reply_bool(reply_buf *r, int v);                      /* RESP3 #t/#f, RESP2 :1/:0 */
/* A double as Redis 7 prints it: RESP3 `,<%.17g>` (inf, -inf, nan spelled so);
 * RESP2 a bulk string with the same text. */
void reply_double(reply_buf *r, double d);
/* Verbatim text (INFO): RESP3 `=len\r\ntxt:...`, RESP2 a bulk string. */
void reply_verbatim(reply_buf *r, const char *p, size_t n);

/* Reserve space for an array/map header whose count is known only later:
 * returns a handle for reply_fix_array. Writes a fixed-width placeholder. */
size_t reply_defer_array(reply_buf *r);
void   reply_fix_array(reply_buf *r, size_t handle, long long n);
size_t reply_defer_map(reply_buf *r);
void   reply_fix_map(reply_buf *r, size_t handle, long long pairs);

/* Formats d like Redis's `%.17g` output used for scores and INCRBYFLOAT results
 * ("inf", "-inf"; integers without ".0"). Returns length written (< 32). */
int fmt_double(char *buf, size_t cap, double d);
/* Formats for INCRBYFLOAT/HINCRBYFLOAT: Redis's long-double "%.17Lf" with trailing
 * zeros (and a trailing '.') trimmed. */
int fmt_long_double(char *buf, size_t cap, long double d);

/* Strict parsers for command arguments (Redis's string2ll / string2ld rules):
 * no leading '+' or spaces for integers, full range checked. Return 0 on success. */
int parse_ll(const char *p, size_t n, long long *out);
int parse_double(const char *p, size_t n, double *out);       /* accepts inf/-inf/+inf, rejects nan */
int parse_long_double(const char *p, size_t n, long double *out);

#endif
