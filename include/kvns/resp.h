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

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "kvns/parse.h"   /* parse_ll and friends: the argument parsers */

#define RESP_MAX_BULK   (512LL * 1024 * 1024)
#define RESP_MAX_ARGS   2147483647LL      /* Redis's: a multibulk count above INT_MAX is refused */
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

/* A reply is a chain of blocks, as Redis's reply list: small replies are appended to
 * the tail block (REPLY_BLOCK_BYTES, 16 KiB, allocated with its header); a bulk too
 * large for the tail's room fills it and gets one block sized for the rest. Nothing
 * ever reallocates or moves the whole output. Offsets (reply_len, marks, defer
 * handles) count bytes appended since the output was last fully sent.
 *
 * When a block cannot be allocated the buffer becomes failed (reply_failed): appends
 * are dropped from then on and the content after the first failure is meaningless;
 * reply_truncate back to a mark taken before restores a consistent, non-failed
 * buffer. Nothing aborts. */
#define REPLY_BLOCK_BYTES (16 * 1024)

typedef struct reply_block {
    struct reply_block *prev, *next;
    size_t used;     /* bytes written to data */
    size_t size;     /* capacity of data */
    char   data[];
} reply_block;

typedef struct reply_buf {
    reply_block *head, *tail;
    size_t len;        /* offset of the end of the reply */
    size_t sent;       /* offset of the first byte not yet sent */
    size_t head_sent;  /* bytes of head->data already sent */
    size_t held;       /* bytes allocated for blocks (CLIENT LIST omem) */
    int    proto;      /* 2 or 3: selects map/set/double/null/bool encodings */
    bool   failed;     /* a block allocation failed since the last truncate */
} reply_buf;

/* The block allocator (malloc); tests replace it to inject allocation failures. */
extern void *(*reply_block_malloc)(size_t size);

void reply_init(reply_buf *r);
void reply_free(reply_buf *r);
void reply_raw(reply_buf *r, const void *p, size_t n);
void reply_simple(reply_buf *r, const char *s);            /* +s\r\n */
void reply_error(reply_buf *r, const char *s);             /* -s\r\n, s includes the code ("ERR ...") */
void reply_errorf(reply_buf *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void reply_ok(reply_buf *r);                               /* +OK */
void reply_int(reply_buf *r, long long v);                 /* :v */
/* Writes v in decimal to dst (no NUL; 20 bytes needed), as integer replies do;
 * returns the length. For values stored as text (INCR). */
size_t reply_format_ll(char *dst, long long v);
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

/* Output state. reply_len is the mark commands take and roll back to. */
static inline size_t reply_len(const reply_buf *r) { return r->len; }
static inline size_t reply_pending(const reply_buf *r) { return r->len - r->sent; }
static inline bool   reply_failed(const reply_buf *r) { return r->failed; }
static inline size_t reply_memory(const reply_buf *r) { return r->held; }
/* Drops everything after offset mark (not before what was sent) and clears failure.
 * Inline for the common no-op: a command rolling back a reply it never started. */
void reply_truncate_blocks(reply_buf *r, size_t mark);
static inline void reply_truncate(reply_buf *r, size_t mark)
{
    if (mark < r->len || r->failed)
        reply_truncate_blocks(r, mark);
}
/* The byte at offset off (< reply_len, not yet sent); inline when it is in the tail
 * block, where a command's reply usually starts. */
char reply_byte_before_tail(const reply_buf *r, size_t off);
static inline char reply_byte_at(const reply_buf *r, size_t off)
{
    size_t tail_start = r->len - r->tail->used;

    return off >= tail_start ? r->tail->data[off - tail_start] : reply_byte_before_tail(r, off);
}
/* Moves src's content to the end of dst without copying; src is left empty. */
void reply_splice(reply_buf *dst, reply_buf *src);
/* Fills iov[0..max) with the unsent bytes, oldest first; returns the count used. */
int  reply_iov(const reply_buf *r, struct iovec *iov, int max);
/* Marks n more bytes as sent, freeing sent blocks. Once everything is sent the offsets
 * restart at 0 and one ordinary block is kept for the next replies. */
void reply_consume(reply_buf *r, size_t n);

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


#endif
