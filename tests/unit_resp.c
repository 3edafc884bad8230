/* unit_resp.c - tests for the RESP parser, the reply writer and the number helpers
 * (src/resp.c, src/reply.c).
 *
 * Every parse runs on a malloc'd copy of exactly the input's length, so ASan reports
 * any read past `len`, and inline parsing may rewrite the copy freely.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kvns/resp.h"

#define NOT_SET ((size_t)-7)

static const char ERR_MBULK_LEN[]     = "Protocol error: invalid multibulk length";
static const char ERR_BULK_LEN[]      = "Protocol error: invalid bulk length";
static const char ERR_BIG_INLINE[]    = "Protocol error: too big inline request";
static const char ERR_BIG_MBULK_STR[] = "Protocol error: too big mbulk count string";
static const char ERR_BIG_BULK_STR[]  = "Protocol error: too big bulk count string";
static const char ERR_QUOTES[]        = "Protocol error: unbalanced quotes in request";

/* ---- parse helpers ---------------------------------------------------------------------- */

/* One parse of one input, with the checks every result must pass. */
typedef struct parsed {
    resp_request req;
    char  *buf;        /* exact-size copy of the input; arguments point into it */
    size_t len;
    int    status;
    size_t consumed;
    size_t need;
    char   err[128];
} parsed;

/* Checks what resp.h promises for any result: OK consumes 1..len bytes and every
 * argument lies inside the buffer; INCOMPLETE's need is 0 or beyond what is there;
 * ERROR carries a "Protocol error: " message. */
static void check_invariants(const parsed *p)
{
    switch (p->status) {
    case RESP_OK:
        assert_true(p->consumed >= 1 && p->consumed <= p->len);
        for (size_t i = 0; i < p->req.argc; i++) {
            const resp_arg *a = &p->req.argv[i];
            assert_true(a->ptr >= p->buf);
            assert_true(a->ptr + a->len <= p->buf + p->consumed);
        }
        break;
    case RESP_INCOMPLETE:
        assert_true(p->need == 0 || p->need > p->len);
        assert_int_equal(p->req.argc, 0);
        break;
    case RESP_ERROR:
        assert_int_equal(strncmp(p->err, "Protocol error: ", 16), 0);
        assert_int_equal(p->req.argc, 0);
        break;
    default:
        fail_msg("resp_parse returned %d", p->status);
    }
}

/* Parses input[0..n) from a fresh exact-size copy, keeping p->req (so argv reuse can
 * be observed) and releasing the previous copy. */
static void parse_bytes(parsed *p, const void *input, size_t n)
{
    const char *err = NULL;

    free(p->buf);
    p->buf = malloc(n ? n : 1);
    assert_non_null(p->buf);
    if (n)
        memcpy(p->buf, input, n);
    p->len = n;
    p->consumed = NOT_SET;
    p->need = NOT_SET;
    p->err[0] = '\0';
    p->status = resp_parse(&p->req, p->buf, n, &p->consumed, &p->need, &err);
    if (p->status == RESP_ERROR) {
        assert_non_null(err);
        snprintf(p->err, sizeof(p->err), "%s", err);
    }
    check_invariants(p);
}

static void parse_cstr(parsed *p, const char *input)
{
    parse_bytes(p, input, strlen(input));
}

static void parsed_free(parsed *p)
{
    free(p->buf);
    p->buf = NULL;
    resp_request_free(&p->req);
}

/* Asserts argument i equals s[0..n). */
static void expect_arg_bytes(const parsed *p, size_t i, const void *s, size_t n)
{
    assert_true(i < p->req.argc);
    assert_int_equal(p->req.argv[i].len, n);
    if (n)
        assert_memory_equal(p->req.argv[i].ptr, s, n);
}

/* Asserts RESP_OK with `consumed` bytes used and exactly the argc NUL-free strings
 * that follow. */
static void expect_ok(const parsed *p, size_t consumed, size_t argc, ...)
{
    va_list ap;

    if (p->status != RESP_OK)
        fail_msg("expected RESP_OK, got %d (%s)", p->status, p->err);
    assert_int_equal(p->consumed, consumed);
    assert_int_equal(p->req.argc, argc);
    va_start(ap, argc);
    for (size_t i = 0; i < argc; i++) {
        const char *s = va_arg(ap, const char *);
        expect_arg_bytes(p, i, s, strlen(s));
    }
    va_end(ap);
}

static void expect_error(const parsed *p, const char *message)
{
    if (p->status != RESP_ERROR)
        fail_msg("expected RESP_ERROR '%s', got %d", message, p->status);
    assert_string_equal(p->err, message);
}

static void expect_incomplete(const parsed *p, size_t need)
{
    if (p->status != RESP_INCOMPLETE)
        fail_msg("expected RESP_INCOMPLETE, got %d (%s)", p->status, p->err);
    assert_int_equal(p->need, need);
}

/* Parses a NUL-free input and asserts the given error. */
static void expect_error_for(const char *input, const char *message)
{
    parsed p = {0};

    parse_cstr(&p, input);
    if (p.status != RESP_ERROR)
        fail_msg("input '%s': expected error '%s', got %d", input, message, p.status);
    assert_string_equal(p.err, message);
    parsed_free(&p);
}

/* Returns a malloc'd string: prefix, then `count` copies of fill, then suffix. */
static char *make_filled(const char *prefix, char fill, size_t count, const char *suffix, size_t *len)
{
    size_t a = strlen(prefix), c = strlen(suffix);
    char *s = malloc(a + count + c + 1);

    assert_non_null(s);
    memcpy(s, prefix, a);
    memset(s + a, fill, count);
    memcpy(s + a + count, suffix, c + 1);
    *len = a + count + c;
    return s;
}

/* ---- multibulk: valid ------------------------------------------------------------------ */

static void test_multibulk_ping(void **state)
{
    parsed p = {0};

    parse_cstr(&p, "*1\r\n$4\r\nPING\r\n");
    expect_ok(&p, 14, 1, "PING");
    assert_ptr_equal(p.req.argv[0].ptr, p.buf + 8);
    parsed_free(&p);
}

static void test_multibulk_set(void **state)
{
    parsed p = {0};

    parse_cstr(&p, "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n");
    expect_ok(&p, 33, 3, "SET", "key", "value");
    parsed_free(&p);
}

static void test_multibulk_binary_payload(void **state)
{
    static const char input[] = "*2\r\n$3\r\nGET\r\n$7\r\na\0\r\n*$b\r\n";
    parsed p = {0};

    parse_bytes(&p, input, sizeof(input) - 1);
    assert_int_equal(p.status, RESP_OK);
    assert_int_equal(p.consumed, sizeof(input) - 1);
    assert_int_equal(p.req.argc, 2);
    expect_arg_bytes(&p, 0, "GET", 3);
    expect_arg_bytes(&p, 1, "a\0\r\n*$b", 7);
    parsed_free(&p);
}

static void test_multibulk_empty_bulks(void **state)
{
    parsed p = {0};

    parse_cstr(&p, "*2\r\n$0\r\n\r\n$0\r\n\r\n");
    expect_ok(&p, 16, 2, "", "");
    parsed_free(&p);
}

static void test_multibulk_zero_and_negative_counts(void **state)
{
    parsed p = {0};

    parse_cstr(&p, "*0\r\n");
    expect_ok(&p, 4, 0);
    parse_cstr(&p, "*-1\r\n");
    expect_ok(&p, 5, 0);
    /* Redis treats any count <= 0 as an empty request. */
    parse_cstr(&p, "*-7\r\nPING\r\n");
    expect_ok(&p, 5, 0);
    parse_cstr(&p, "*-9223372036854775808\r\n");
    expect_ok(&p, 23, 0);
    parsed_free(&p);
}

static void test_multibulk_long_bulk_length_line(void **state)
{
    /* A 19-digit count takes the slow header path and must still be range-checked. */
    expect_error_for("*1000000000000000000\r\n", ERR_MBULK_LEN);
    expect_error_for("*9223372036854775807\r\n", ERR_MBULK_LEN);
    expect_error_for("*9999999999999999999\r\n", ERR_MBULK_LEN);
    expect_error_for("*1\r\n$9999999999999999999\r\n", ERR_BULK_LEN);
}

static void test_multibulk_count_limit(void **state)
{
    parsed p = {0};
    char text[64];

    /* with many arguments to come, the next attempt waits for twice the bytes */
    snprintf(text, sizeof(text), "*%lld\r\n", RESP_MAX_ARGS);
    parse_cstr(&p, text);
    expect_incomplete(&p, 2 * strlen(text));
    /* Announcing a huge count must not allocate for all of it up front. */
    snprintf(text, sizeof(text), "*%lld\r\n$0\r\n\r\n", RESP_MAX_ARGS);
    parse_cstr(&p, text);
    expect_incomplete(&p, 2 * strlen(text));
    assert_true(p.req.cap <= 1024);
    /* near the end only the next bulk counts: 1025 empty bulks left need 6 bytes each */
    snprintf(text, sizeof(text), "*1025\r\n");
    parse_cstr(&p, text);
    expect_incomplete(&p, 2 * strlen(text));
    snprintf(text, sizeof(text), "*1024\r\n$5\r\nab");
    parse_cstr(&p, text);
    expect_incomplete(&p, strlen("*1024\r\n$5\r\n") + 7);
    /* Redis's limit: INT_MAX arguments (ZADD of a million members needs two million) */
    expect_error_for("*2147483648\r\n", ERR_MBULK_LEN);
    parsed_free(&p);
}

static void test_multibulk_many_args_and_argv_reuse(void **state)
{
    enum { ARGS = 3000 };
    size_t cap = 16 + ARGS * 16, len = 0;
    char *input = malloc(cap);
    parsed p = {0};
    resp_arg *argv_before;
    size_t cap_before;

    assert_non_null(input);
    len += (size_t)sprintf(input + len, "*%d\r\n", ARGS);
    for (int i = 0; i < ARGS; i++) {
        char value[16];
        int n = sprintf(value, "%d", i);
        len += (size_t)sprintf(input + len, "$%d\r\n%s\r\n", n, value);
    }
    parse_bytes(&p, input, len);
    assert_int_equal(p.status, RESP_OK);
    assert_int_equal(p.consumed, len);
    assert_int_equal(p.req.argc, ARGS);
    for (int i = 0; i < ARGS; i++) {
        char value[16];
        int n = sprintf(value, "%d", i);
        expect_arg_bytes(&p, (size_t)i, value, (size_t)n);
    }
    assert_true(p.req.cap >= ARGS);

    /* A smaller request reuses the same array without reallocating. */
    argv_before = p.req.argv;
    cap_before = p.req.cap;
    parse_cstr(&p, "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n");
    expect_ok(&p, 20, 2, "GET", "k");
    assert_ptr_equal(p.req.argv, argv_before);
    assert_int_equal(p.req.cap, cap_before);
    parse_cstr(&p, "GET k\r\n");
    expect_ok(&p, 7, 2, "GET", "k");
    assert_ptr_equal(p.req.argv, argv_before);

    parsed_free(&p);
    assert_null(p.req.argv);
    assert_int_equal(p.req.cap, 0);
    free(input);
}

/* ---- multibulk: malformed --------------------------------------------------------------- */

static void test_multibulk_bad_counts(void **state)
{
    static const char *const inputs[] = {
        "*\r\n", "*abc\r\n", "*01\r\n", "*00\r\n", "*+1\r\n", "*-0\r\n", "*-\r\n", "* 1\r\n",
        "*1 \r\n", "*1x\r\n", "*0x10\r\n", "*1.0\r\n", "*99999999999999999999\r\n",
        "*123456789012345678901\r\n", "*1\n$4\r\nPING\r\n", "*\n\r\n",
    };

    for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++)
        expect_error_for(inputs[i], ERR_MBULK_LEN);
}

static void test_multibulk_count_line_needs_crlf(void **state)
{
    static const char with_nul[] = "*1\0\r\n";
    parsed p = {0};

    /* '\r' not followed by '\n' is an error as soon as the byte after it is known. */
    expect_error_for("*1\rX$4\r\nPING\r\n", ERR_MBULK_LEN);
    parse_cstr(&p, "*1\r");
    expect_incomplete(&p, 0);
    parse_bytes(&p, with_nul, sizeof(with_nul) - 1);
    expect_error(&p, ERR_MBULK_LEN);
    parsed_free(&p);
}

static void test_multibulk_expected_dollar(void **state)
{
    static const char nul_header[] = "*1\r\n\0\r\n";
    parsed p = {0};

    expect_error_for("*1\r\nfoo\r\n", "Protocol error: expected '$', got 'f'");
    expect_error_for("*2\r\n$1\r\na\r\n:1\r\n", "Protocol error: expected '$', got ':'");
    expect_error_for("*1\r\n*1\r\n", "Protocol error: expected '$', got '*'");
    /* CR, LF and NUL must not leak into the error line. */
    expect_error_for("*1\r\n\r\n", "Protocol error: expected '$', got ' '");
    expect_error_for("*1\r\n\n\r\n", "Protocol error: expected '$', got ' '");
    parse_bytes(&p, nul_header, sizeof(nul_header) - 1);
    expect_error(&p, "Protocol error: expected '$', got ' '");
    /* Like Redis, the '$' is only checked once the whole header line is there. */
    parse_cstr(&p, "*1\r\nfoo");
    expect_incomplete(&p, 0);
    parsed_free(&p);
}

static void test_bulk_bad_lengths(void **state)
{
    static const char *const inputs[] = {
        "*1\r\n$-1\r\n", "*1\r\n$-5\r\nhello\r\n", "*1\r\n$\r\n", "*1\r\n$abc\r\n",
        "*1\r\n$01\r\nx\r\n", "*1\r\n$00\r\n\r\n", "*1\r\n$+3\r\nfoo\r\n", "*1\r\n$ 3\r\nfoo\r\n",
        "*1\r\n$3 \r\nfoo\r\n", "*1\r\n$3x\r\nfoo\r\n", "*1\r\n$-0\r\n\r\n",
        "*1\r\n$536870913\r\n", "*1\r\n$99999999999999999999\r\n", "*1\r\n$1000000000000000000\r\n",
        "*1\r\n$3\rXfoo\r\n", "*2\r\n$3\r\nfoo\r\n$-1\r\n",
    };

    for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++)
        expect_error_for(inputs[i], ERR_BULK_LEN);
}

static void test_bulk_max_length_is_accepted(void **state)
{
    parsed p = {0};

    parse_cstr(&p, "*1\r\n$536870912\r\n");
    expect_incomplete(&p, 16 + 536870912ULL + 2);
    parsed_free(&p);
}

static void test_bulk_payload_must_end_in_crlf(void **state)
{
    parsed p = {0};

    expect_error_for("*1\r\n$3\r\nfooXY", ERR_BULK_LEN);
    expect_error_for("*1\r\n$3\r\nfoo\rX", ERR_BULK_LEN);
    expect_error_for("*1\r\n$3\r\nfoo\n\r", ERR_BULK_LEN);
    expect_error_for("*1\r\n$3\r\nfooo\r\n", ERR_BULK_LEN);
    expect_error_for("*2\r\n$3\r\nfoo\r\n$1\r\nab\r\n", ERR_BULK_LEN);
    /* A declared length longer than the payload swallows the CRLF: just incomplete. */
    parse_cstr(&p, "*1\r\n$4\r\nfoo\r\n");
    expect_incomplete(&p, 14);
    parse_cstr(&p, "*1\r\n$3\r\nfoo\r");
    expect_incomplete(&p, 13);
    parsed_free(&p);
}

static void test_incomplete_need(void **state)
{
    parsed p = {0};

    parse_cstr(&p, "");
    expect_incomplete(&p, 0);
    parse_cstr(&p, "*");
    expect_incomplete(&p, 0);
    parse_cstr(&p, "*2\r\n");
    expect_incomplete(&p, 0);
    parse_cstr(&p, "*2\r\n$3\r\nfoo\r\n$1");
    expect_incomplete(&p, 0);
    parse_cstr(&p, "*2\r\n$3\r\nfoo\r\n$10\r\n");
    expect_incomplete(&p, 30);
    parse_cstr(&p, "*2\r\n$3\r\nfoo\r\n$10\r\nab");
    expect_incomplete(&p, 30);
    parse_cstr(&p, "*2\r\n$3\r\nfoo\r\n$10\r\n0123456789\r");
    expect_incomplete(&p, 30);
    parse_cstr(&p, "*2\r\n$3\r\nfoo\r\n$10\r\n0123456789\r\n");
    expect_ok(&p, 30, 2, "foo", "0123456789");
    parse_cstr(&p, "*1\r\n$2");
    expect_incomplete(&p, 0);
    parse_cstr(&p, "*1\r\n$2\r");
    expect_incomplete(&p, 0);
    parsed_free(&p);
}

static void test_need_is_null_safe(void **state)
{
    resp_request req = {0};
    char buf[] = "*1\r\n$5\r\nab";
    char bad[] = "*x\r\n";
    size_t consumed = NOT_SET;

    assert_int_equal(resp_parse(&req, buf, strlen(buf), &consumed, NULL, NULL), RESP_INCOMPLETE);
    assert_int_equal(resp_parse(&req, bad, strlen(bad), &consumed, NULL, NULL), RESP_ERROR);
    resp_request_free(&req);
}

static void test_too_big_mbulk_count_string(void **state)
{
    size_t len;
    char *s;
    parsed p = {0};

    /* Exactly RESP_MAX_INLINE bytes without '\r' may still become a valid line. */
    s = make_filled("*", '1', RESP_MAX_INLINE - 1, "", &len);
    parse_bytes(&p, s, len);
    expect_incomplete(&p, 0);
    free(s);
    s = make_filled("*", '1', RESP_MAX_INLINE, "", &len);
    parse_bytes(&p, s, len);
    expect_error(&p, ERR_BIG_MBULK_STR);
    free(s);
    /* A '\r' right at the limit still ends a (here invalid) line of allowed size. */
    s = make_filled("*", '1', RESP_MAX_INLINE - 1, "\r\n", &len);
    parse_bytes(&p, s, len);
    expect_error(&p, ERR_MBULK_LEN);
    free(s);
    /* One byte further it is too long, whether or not the late '\r' has arrived. */
    s = make_filled("*", '1', RESP_MAX_INLINE, "\r\n", &len);
    parse_bytes(&p, s, len);
    expect_error(&p, ERR_BIG_MBULK_STR);
    free(s);
    parsed_free(&p);
}

static void test_too_big_bulk_count_string(void **state)
{
    size_t len;
    char *s;
    parsed p = {0};

    s = make_filled("*1\r\n$", '1', 70000, "", &len);
    parse_bytes(&p, s, len);
    expect_error(&p, ERR_BIG_BULK_STR);
    free(s);
    /* Redis looks for the line end before checking for '$'. */
    s = make_filled("*1\r\nX", 'x', 70000, "", &len);
    parse_bytes(&p, s, len);
    expect_error(&p, ERR_BIG_BULK_STR);
    free(s);
    s = make_filled("*1\r\n$", '1', RESP_MAX_INLINE - 1, "", &len);
    parse_bytes(&p, s, len);
    expect_incomplete(&p, 0);
    free(s);
    parsed_free(&p);
}

static void test_dollar_request_is_inline(void **state)
{
    parsed p = {0};

    /* Only '*' selects multibulk; a lone bulk is an inline line. */
    parse_cstr(&p, "$3\r\nfoo\r\n");
    expect_ok(&p, 4, 1, "$3");
    parsed_free(&p);
}

/* ---- pipelining ------------------------------------------------------------------------- */

static void test_pipelined_requests_in_one_buffer(void **state)
{
    static const char input[] =
        "*1\r\n$4\r\nPING\r\n"
        "PING\r\n"
        "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"
        "\r\n"
        "*0\r\n"
        "SET k \"v w\"\n"
        "*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\nb\r\n";
    static const struct {
        size_t consumed, argc;
        const char *argv[3];
    } expected[] = {
        {14, 1, {"PING"}}, {6, 1, {"PING"}}, {20, 2, {"GET", "k"}}, {2, 0, {NULL}},
        {4, 0, {NULL}}, {12, 3, {"SET", "k", "v w"}}, {27, 3, {"SET", "a", "b"}},
    };
    char *buf = malloc(sizeof(input) - 1);
    resp_request req = {0};
    size_t offset = 0;

    assert_non_null(buf);
    memcpy(buf, input, sizeof(input) - 1);
    for (size_t i = 0; i < sizeof(expected) / sizeof(expected[0]); i++) {
        size_t consumed = NOT_SET, need = NOT_SET;
        const char *err = NULL;
        int status = resp_parse(&req, buf + offset, sizeof(input) - 1 - offset, &consumed, &need, &err);
        assert_int_equal(status, RESP_OK);
        assert_int_equal(consumed, expected[i].consumed);
        assert_int_equal(req.argc, expected[i].argc);
        for (size_t j = 0; j < req.argc; j++) {
            assert_int_equal(req.argv[j].len, strlen(expected[i].argv[j]));
            assert_memory_equal(req.argv[j].ptr, expected[i].argv[j], req.argv[j].len);
        }
        offset += consumed;
    }
    assert_int_equal(offset, sizeof(input) - 1);
    {
        size_t consumed, need = NOT_SET;
        const char *err = NULL;
        assert_int_equal(resp_parse(&req, buf + offset, 0, &consumed, &need, &err), RESP_INCOMPLETE);
        assert_int_equal(need, 0);
    }
    resp_request_free(&req);
    free(buf);
}

/* ---- inline ------------------------------------------------------------------------------ */

static void test_inline_simple(void **state)
{
    parsed p = {0};

    parse_cstr(&p, "PING\r\n");
    expect_ok(&p, 6, 1, "PING");
    parse_cstr(&p, "PING\n");
    expect_ok(&p, 5, 1, "PING");
    parse_cstr(&p, "SET key value\r\nGET key\r\n");
    expect_ok(&p, 15, 3, "SET", "key", "value");
    parse_cstr(&p, "GET *x $y\n");
    expect_ok(&p, 10, 3, "GET", "*x", "$y");
    parse_cstr(&p, "PING");
    expect_incomplete(&p, 0);
    parse_cstr(&p, "PING\r");
    expect_incomplete(&p, 0);
    parsed_free(&p);
}

static void test_inline_whitespace(void **state)
{
    parsed p = {0};

    parse_cstr(&p, "  SET \t key\t  value  \r\n");
    expect_ok(&p, 23, 3, "SET", "key", "value");
    /* A lone '\r' inside the line separates like a space; only the last one before
     * '\n' belongs to the terminator. */
    parse_cstr(&p, "GET a\rb\r\n");
    expect_ok(&p, 9, 3, "GET", "a", "b");
    parse_cstr(&p, "PING\r\r\n");
    expect_ok(&p, 7, 1, "PING");
    /* \v and \f are skipped between arguments but do not end an unquoted one. */
    parse_cstr(&p, "\v\fGET a\vb\n");
    expect_ok(&p, 10, 2, "GET", "a\vb");
    parsed_free(&p);
}

static void test_inline_empty_lines(void **state)
{
    parsed p = {0};

    parse_cstr(&p, "\r\n");
    expect_ok(&p, 2, 0);
    parse_cstr(&p, "\n");
    expect_ok(&p, 1, 0);
    parse_cstr(&p, "   \r\n");
    expect_ok(&p, 5, 0);
    parse_cstr(&p, "\t \t\n");
    expect_ok(&p, 4, 0);
    parse_cstr(&p, "\n\nPING\n");
    expect_ok(&p, 1, 0);
    parsed_free(&p);
}

static void test_inline_double_quotes(void **state)
{
    parsed p = {0};

    parse_cstr(&p, "SET \"a b\" \"c\\\"d\"\r\n");
    expect_ok(&p, 18, 3, "SET", "a b", "c\"d");
    parse_cstr(&p, "SET k \"\"\n");
    expect_ok(&p, 9, 3, "SET", "k", "");
    parse_cstr(&p, "\"\"\n");
    expect_ok(&p, 3, 1, "");
    parse_cstr(&p, "\"a\"\tb\n");
    expect_ok(&p, 6, 2, "a", "b");
    parse_cstr(&p, "\"a\"\vb\n");
    expect_ok(&p, 6, 2, "a", "b");
    parse_cstr(&p, "\"a\"\rb\n");
    expect_ok(&p, 6, 2, "a", "b");
    /* A quote may open in the middle of an argument. */
    parse_cstr(&p, "ab\"cd ef\" gh\n");
    expect_ok(&p, 13, 2, "abcd ef", "gh");
    parse_cstr(&p, "\"sp ace\"\r\n");
    expect_ok(&p, 10, 1, "sp ace");
    parsed_free(&p);
}

static void test_inline_escapes(void **state)
{
    static const char expected[] = "\n\r\t\b\a\\\"AJ~\xff" "xzzq";
    parsed p = {0};

    parse_cstr(&p, "ECHO \"\\n\\r\\t\\b\\a\\\\\\\"\\x41\\x4a\\x7E\\xff\\xzzq\"\n");
    assert_int_equal(p.status, RESP_OK);
    assert_int_equal(p.req.argc, 2);
    expect_arg_bytes(&p, 1, expected, sizeof(expected) - 1);
    /* Unescaping happens in place: the argument lies inside the line. */
    assert_ptr_equal(p.req.argv[1].ptr, p.buf + 5);
    /* \x with fewer than two hex digits is an ordinary escape of 'x'. */
    parse_cstr(&p, "\"\\x4\" \"abc\\x\"\n");
    expect_ok(&p, 14, 2, "x4", "abcx");
    /* \x00 produces a NUL inside the argument. */
    parse_cstr(&p, "\"a\\x00b\"\n");
    assert_int_equal(p.status, RESP_OK);
    expect_arg_bytes(&p, 0, "a\0b", 3);
    parsed_free(&p);
}

static void test_inline_single_quotes(void **state)
{
    parsed p = {0};

    parse_cstr(&p, "'it\\'s' 'a\\nb' 'x\"y' ''\n");
    expect_ok(&p, 24, 4, "it's", "a\\nb", "x\"y", "");
    parse_cstr(&p, "ab'c d'\n");
    expect_ok(&p, 8, 1, "abc d");
    parsed_free(&p);
}

static void test_inline_unbalanced_quotes(void **state)
{
    static const char *const inputs[] = {
        "\"abc\n", "'abc\n", "\"abc\"def\n", "'abc'def\n", "\"a\\\"\n", "GET \"\n",
        "GET '\r\n", "\"abc\\\n", "\"a\"\"b\"\n", "SET k \"v\n", "'it\\'\n",
    };

    for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++)
        expect_error_for(inputs[i], ERR_QUOTES);
}

static void test_inline_nul_ends_line_content(void **state)
{
    static const char plain[] = "GET a\0b c\n";
    static const char quoted[] = "\"a\0\"\n";
    parsed p = {0};

    /* Like Redis's sdssplitargs, which sees a C string: the rest is ignored, but the
     * whole line is still consumed. */
    parse_bytes(&p, plain, sizeof(plain) - 1);
    expect_ok(&p, sizeof(plain) - 1, 2, "GET", "a");
    parse_bytes(&p, quoted, sizeof(quoted) - 1);
    expect_error(&p, ERR_QUOTES);
    parsed_free(&p);
}

static void test_inline_size_limit(void **state)
{
    size_t len;
    char *s;
    parsed p = {0};

    s = make_filled("", 'a', RESP_MAX_INLINE, "", &len);
    parse_bytes(&p, s, len);
    expect_incomplete(&p, 0);
    free(s);
    s = make_filled("", 'a', RESP_MAX_INLINE + 1, "", &len);
    parse_bytes(&p, s, len);
    expect_error(&p, ERR_BIG_INLINE);
    free(s);
    s = make_filled("", 'a', RESP_MAX_INLINE, "\n", &len);
    parse_bytes(&p, s, len);
    assert_int_equal(p.status, RESP_OK);
    assert_int_equal(p.consumed, len);
    assert_int_equal(p.req.argc, 1);
    assert_int_equal(p.req.argv[0].len, RESP_MAX_INLINE);
    free(s);
    s = make_filled("", 'a', RESP_MAX_INLINE + 1, "\n", &len);
    parse_bytes(&p, s, len);
    expect_error(&p, ERR_BIG_INLINE);
    free(s);
    parsed_free(&p);
}

/* ---- prefixes and streams ------------------------------------------------------------ */

typedef struct sample {
    const char *bytes;
    size_t len;
} sample;

#define SAMPLE(literal) {literal, sizeof(literal) - 1}

static const sample valid_samples[] = {
    SAMPLE("*1\r\n$4\r\nPING\r\n"),
    SAMPLE("*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n"),
    SAMPLE("*2\r\n$3\r\nGET\r\n$7\r\na\0\r\n*$b\r\n"),
    SAMPLE("*2\r\n$0\r\n\r\n$0\r\n\r\n"),
    SAMPLE("*0\r\n"),
    SAMPLE("*-1\r\n"),
    SAMPLE("*1\r\n$12\r\nhello world!\r\n"),
    SAMPLE("PING\r\n"),
    SAMPLE("PING\n"),
    SAMPLE("\r\n"),
    SAMPLE("SET \"a b\" 'c d' \"\\x41\\n\"\r\n"),
    SAMPLE("  GET\tkey  \n"),
};

static const struct {
    sample input;
    const char *error;
} invalid_samples[] = {
    {SAMPLE("*x\r\n"), ERR_MBULK_LEN},
    {SAMPLE("*2147483648\r\n"), ERR_MBULK_LEN},
    {SAMPLE("*1\rX"), ERR_MBULK_LEN},
    {SAMPLE("*1\r\nfoo\r\n"), "Protocol error: expected '$', got 'f'"},
    {SAMPLE("*1\r\n$-1\r\n"), ERR_BULK_LEN},
    {SAMPLE("*1\r\n$536870913\r\n"), ERR_BULK_LEN},
    {SAMPLE("*2\r\n$3\r\nfoo\r\n$3\r\nbarXY"), ERR_BULK_LEN},
    {SAMPLE("SET \"a b\r\n"), ERR_QUOTES},
    {SAMPLE("'x'y\n"), ERR_QUOTES},
};

/* Parses every proper prefix of input and checks it against the whole: for a request
 * that parses OK, each prefix is INCOMPLETE and its need never overshoots; for an
 * invalid one, each prefix is INCOMPLETE or already the same error, and once the
 * error shows up it stays. Returns the whole input's status. */
static int check_every_prefix(const char *input, size_t n, const char *expected_error)
{
    parsed whole = {0}, prefix = {0};
    int error_seen = 0;
    int status;

    parse_bytes(&whole, input, n);
    status = whole.status;
    if (expected_error)
        expect_error(&whole, expected_error);
    else
        assert_int_equal(status, RESP_OK);

    for (size_t k = 0; k < n; k++) {
        parse_bytes(&prefix, input, k);
        if (status == RESP_OK && k < whole.consumed) {
            expect_incomplete(&prefix, prefix.need);
            assert_true(prefix.need == 0 || (prefix.need > k && prefix.need <= whole.consumed));
        } else if (status == RESP_ERROR) {
            if (error_seen || prefix.status == RESP_ERROR) {
                expect_error(&prefix, whole.err);
                error_seen = 1;
            } else {
                expect_incomplete(&prefix, prefix.need);
            }
        }
    }
    parsed_free(&whole);
    parsed_free(&prefix);
    return status;
}

/* Asserts a valid request parses identically with unrelated bytes after it. */
static void check_trailing_bytes_ignored(const char *input, size_t n)
{
    parsed alone = {0}, followed = {0};
    char *longer = malloc(n + 5);

    assert_non_null(longer);
    memcpy(longer, input, n);
    memcpy(longer + n, "*9\r\n$", 5);
    parse_bytes(&alone, input, n);
    parse_bytes(&followed, longer, n + 5);
    assert_int_equal(followed.status, RESP_OK);
    assert_int_equal(followed.consumed, alone.consumed);
    assert_int_equal(followed.req.argc, alone.req.argc);
    for (size_t i = 0; i < alone.req.argc; i++)
        expect_arg_bytes(&followed, i, alone.req.argv[i].ptr, alone.req.argv[i].len);
    parsed_free(&alone);
    parsed_free(&followed);
    free(longer);
}

static void test_every_prefix_is_incomplete(void **state)
{
    for (size_t i = 0; i < sizeof(valid_samples) / sizeof(valid_samples[0]); i++) {
        assert_int_equal(check_every_prefix(valid_samples[i].bytes, valid_samples[i].len, NULL), RESP_OK);
        check_trailing_bytes_ignored(valid_samples[i].bytes, valid_samples[i].len);
    }
    for (size_t i = 0; i < sizeof(invalid_samples) / sizeof(invalid_samples[0]); i++)
        assert_int_equal(check_every_prefix(invalid_samples[i].input.bytes, invalid_samples[i].input.len,
                                            invalid_samples[i].error),
                         RESP_ERROR);
}

/* A growable byte log of parsed requests: "<argc>" then "[<len>]<bytes>" per arg. */
typedef struct request_log {
    char  *data;
    size_t len, cap;
} request_log;

static void log_bytes(request_log *log, const void *p, size_t n)
{
    if (log->len + n > log->cap) {
        log->cap = (log->len + n) * 2 + 64;
        log->data = realloc(log->data, log->cap);
        assert_non_null(log->data);
    }
    memcpy(log->data + log->len, p, n);
    log->len += n;
}

static void log_request(request_log *log, const resp_request *req)
{
    char number[32];

    log_bytes(log, number, (size_t)sprintf(number, "%zu", req->argc));
    for (size_t i = 0; i < req->argc; i++) {
        log_bytes(log, number, (size_t)sprintf(number, "[%zu]", req->argv[i].len));
        log_bytes(log, req->argv[i].ptr, req->argv[i].len);
    }
    log_bytes(log, "|", 1);
}

/* Feeds stream to a connection-like buffer `chunk` bytes at a time, parsing whenever
 * the buffer reaches the last reported need, and compacting after each request.
 * Returns the log of everything parsed; the stream must end on a request boundary. */
static request_log parse_stream_in_chunks(const char *stream, size_t n, size_t chunk)
{
    request_log log = {0};
    resp_request req = {0};
    char *conn = malloc(n);
    size_t have = 0, need = 0;

    assert_non_null(conn);
    for (size_t offset = 0; offset < n; offset += chunk) {
        size_t take = n - offset < chunk ? n - offset : chunk;
        memcpy(conn + have, stream + offset, take);
        have += take;
        if (need && have < need)
            continue;
        for (;;) {
            size_t consumed = NOT_SET;
            const char *err = NULL;
            int status = resp_parse(&req, conn, have, &consumed, &need, &err);
            if (status == RESP_INCOMPLETE)
                break;
            if (status == RESP_ERROR)
                fail_msg("chunk %zu: unexpected error %s", chunk, err);
            log_request(&log, &req);
            memmove(conn, conn + consumed, have - consumed);
            have -= consumed;
            need = 0;
        }
    }
    assert_int_equal(have, 0);
    resp_request_free(&req);
    free(conn);
    return log;
}

static void test_stream_split_at_every_chunk_size(void **state)
{
    static const char stream[] =
        "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$6\r\nv\0\r\nx\r\r\n"
        "PING\r\n"
        "\r\n"
        "*0\r\n"
        "GET \"a b\"\n"
        "*2\r\n$4\r\nECHO\r\n$40\r\n0123456789012345678901234567890123456789\r\n"
        "*-1\r\n"
        "  \t\n"
        "*1\r\n$0\r\n\r\n";
    static const char expected[] =
        "3[3]SET[1]k[6]v\0\r\nx\r|1[4]PING|0|0|2[3]GET[3]a b|"
        "2[4]ECHO[40]0123456789012345678901234567890123456789|0|0|1[0]|";
    size_t n = sizeof(stream) - 1;

    for (size_t chunk = 1; chunk <= n; chunk++) {
        request_log log = parse_stream_in_chunks(stream, n, chunk);
        assert_int_equal(log.len, sizeof(expected) - 1);
        assert_memory_equal(log.data, expected, log.len);
        free(log.data);
    }
}

/* ---- fuzzing ------------------------------------------------------------------------------- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

/* Returns the next xorshift64* value: deterministic, so failures reproduce. */
static uint64_t next_random(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ULL;
}

/* Returns a byte that is likely to matter to the parser, or a random one. */
static char interesting_byte(void)
{
    static const char bytes[] = "*$\r\n-+0123456789 \t\"'\\x\0";
    uint64_t r = next_random();

    if (r % 4 == 0)
        return (char)(r >> 8);
    return bytes[(r >> 8) % (sizeof(bytes) - 1)];
}

static void test_fuzz_never_crashes_and_stays_consistent(void **state)
{
    enum { ITERATIONS = 60000, MAX_LEN = 96 };
    char input[MAX_LEN];
    parsed p = {0}, cut = {0};

    for (int iter = 0; iter < ITERATIONS; iter++) {
        const sample *seed = &valid_samples[next_random() % (sizeof(valid_samples) / sizeof(valid_samples[0]))];
        size_t n = seed->len;
        int mutations = (int)(next_random() % 4);

        memcpy(input, seed->bytes, n);
        if (next_random() % 8 == 0) {
            n = next_random() % MAX_LEN;
            for (size_t i = 0; i < n; i++)
                input[i] = interesting_byte();
        }
        for (int m = 0; m < mutations && n > 0; m++) {
            size_t at = next_random() % n;
            switch (next_random() % 3) {
            case 0:
                input[at] = interesting_byte();
                break;
            case 1:
                if (n < MAX_LEN) {
                    memmove(input + at + 1, input + at, n - at);
                    input[at] = interesting_byte();
                    n++;
                }
                break;
            default:
                memmove(input + at, input + at + 1, n - at - 1);
                n--;
                break;
            }
        }
        parse_bytes(&p, input, n);
        if (n == 0)
            continue;
        /* Any prefix agrees with the whole: OK needs all of the request, and an error
         * never turns into success. */
        {
            size_t k = next_random() % n;
            parse_bytes(&cut, input, k);
            if (p.status == RESP_OK && k < p.consumed)
                assert_int_equal(cut.status, RESP_INCOMPLETE);
            else if (p.status == RESP_OK) {
                assert_int_equal(cut.status, RESP_OK);
                assert_int_equal(cut.consumed, p.consumed);
            }
            else if (p.status == RESP_INCOMPLETE)
                assert_int_equal(cut.status, RESP_INCOMPLETE);
            else
                assert_int_not_equal(cut.status, RESP_OK);
        }
    }
    parsed_free(&p);
    parsed_free(&cut);
}

/* ---- parse_ll ------------------------------------------------------------------------------- */

static int ll_of(const char *s, long long *out)
{
    return parse_ll(s, strlen(s), out);
}

static void test_parse_ll_accepts(void **state)
{
    static const struct {
        const char *text;
        long long value;
    } cases[] = {
        {"0", 0}, {"1", 1}, {"-1", -1}, {"10", 10}, {"1234567890", 1234567890},
        {"9223372036854775807", LLONG_MAX}, {"-9223372036854775808", LLONG_MIN},
        {"-9223372036854775807", -LLONG_MAX}, {"100000000000000000", 100000000000000000LL},
    };
    long long v;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        v = 12345;
        assert_int_equal(ll_of(cases[i].text, &v), 0);
        assert_true(v == cases[i].value);
    }
    /* Only n bytes are looked at. */
    assert_int_equal(parse_ll("12345", 3, &v), 0);
    assert_int_equal(v, 123);
    assert_int_equal(parse_ll("7\r\n", 1, &v), 0);
    assert_int_equal(v, 7);
}

static void test_parse_ll_rejects(void **state)
{
    static const char *const bad[] = {
        "", "-", "+", "+1", "-0", "00", "01", "-01", " 1", "1 ", "\t1", "1\n", "1a", "a",
        "0x10", "1.0", "1e3", "9223372036854775808", "-9223372036854775809",
        "18446744073709551615", "18446744073709551616", "99999999999999999999",
        "-99999999999999999999", "000000000000000000001", "--1", "1-", "1:", "12/", "9:",
    };
    long long v = 42;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (ll_of(bad[i], &v) == 0)
            fail_msg("parse_ll accepted '%s'", bad[i]);
    }
    assert_int_equal(v, 42);
    assert_int_not_equal(parse_ll("1\0", 2, &v), 0);
    assert_int_not_equal(parse_ll("12", 0, &v), 0);
}

/* ---- parse_double / parse_long_double ------------------------------------------------------- */

static int double_of(const char *s, double *out)
{
    return parse_double(s, strlen(s), out);
}

static void test_parse_double_accepts(void **state)
{
    static const struct {
        const char *text;
        double value;
    } cases[] = {
        {"0", 0.0}, {"1", 1.0}, {"-1", -1.0}, {"1.5", 1.5}, {"-2.25", -2.25}, {".5", 0.5},
        {"5.", 5.0}, {"+1", 1.0}, {"+1.5", 1.5}, {"1e3", 1000.0}, {"1E-2", 0.01}, {"0x10", 16.0},
        {"0x1p3", 8.0}, {"123456789012345", 123456789012345.0}, {"01", 1.0},
        {"1234567890123456789", 1234567890123456789.0}, {"9007199254740993", 9007199254740992.0},
        {"0.1", 0.1}, {"1.7976931348623157e308", DBL_MAX}, {"1e-320", 1e-320},
    };
    double v;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        v = -12345;
        if (double_of(cases[i].text, &v) != 0)
            fail_msg("parse_double rejected '%s'", cases[i].text);
        assert_true(v == cases[i].value);
    }
    assert_int_equal(double_of("-0", &v), 0);
    assert_true(v == 0.0 && signbit(v));
    assert_int_equal(parse_double("2.5junk", 3, &v), 0);
    assert_true(v == 2.5);
}

static void test_parse_double_infinities(void **state)
{
    static const char *const positive[] = {"inf", "+inf", "INF", "Inf", "infinity", "+Infinity"};
    static const char *const negative[] = {"-inf", "-INF", "-infinity"};
    double v;

    for (size_t i = 0; i < sizeof(positive) / sizeof(positive[0]); i++) {
        assert_int_equal(double_of(positive[i], &v), 0);
        assert_true(isinf(v) && v > 0);
    }
    for (size_t i = 0; i < sizeof(negative) / sizeof(negative[0]); i++) {
        assert_int_equal(double_of(negative[i], &v), 0);
        assert_true(isinf(v) && v < 0);
    }
}

static void test_parse_double_rejects(void **state)
{
    static const char *const bad[] = {
        "", " ", " 1", "1 ", "\t1", "\n1", "1\n", "nan", "NaN", "-nan", "+nan", "nan(123)",
        "abc", "1abc", "1e", "1e+", ".", "-", "+", "--1", "1..2", "0x", "1e400", "-1e400",
        "1e-400", "inff", "in", "1,5",
    };
    double v = 42;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (double_of(bad[i], &v) == 0)
            fail_msg("parse_double accepted '%s'", bad[i]);
    }
    assert_true(v == 42);
    assert_int_not_equal(parse_double("1\0", 2, &v), 0);
    assert_int_not_equal(parse_double("1.5\0", 4, &v), 0);
}

static void test_parse_double_long_input(void **state)
{
    size_t len;
    char *s = make_filled("0.", '0', 300, "1", &len);
    double v = 0;

    assert_int_equal(parse_double(s, len, &v), 0);
    assert_true(v == 1e-301);
    s[len - 1] = 'x';
    assert_int_not_equal(parse_double(s, len, &v), 0);
    free(s);
}

static void test_parse_long_double(void **state)
{
    static const char *const bad[] = {
        "", " 1", "1 ", "\t1", "nan", "NAN", "-nan", "abc", "1x", "1e5000", "-1e5000",
        "1e-5000", ".", "-",
    };
    long double v;
    size_t len;
    char *s;

    assert_int_equal(parse_long_double("10.5", 4, &v), 0);
    assert_true(v == 10.5L);
    assert_int_equal(parse_long_double("0.1", 3, &v), 0);
    assert_true(v == 0.1L);
    assert_int_equal(parse_long_double("-3", 2, &v), 0);
    assert_true(v == -3.0L);
    assert_int_equal(parse_long_double("+3", 2, &v), 0);
    assert_true(v == 3.0L);
    assert_int_equal(parse_long_double("0x1p-2", 6, &v), 0);
    assert_true(v == 0.25L);
    assert_int_equal(parse_long_double("1e4000", 6, &v), 0);
    assert_true(v > 1e308L && !isinf(v));
    assert_int_equal(parse_long_double("inf", 3, &v), 0);
    assert_true(isinf(v) && v > 0);
    assert_int_equal(parse_long_double("-Infinity", 9, &v), 0);
    assert_true(isinf(v) && v < 0);
    assert_int_equal(parse_long_double("2.5xyz", 3, &v), 0);
    assert_true(v == 2.5L);
    v = 42;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (parse_long_double(bad[i], strlen(bad[i]), &v) == 0)
            fail_msg("parse_long_double accepted '%s'", bad[i]);
    }
    assert_true(v == 42);
    assert_int_not_equal(parse_long_double("1\0", 2, &v), 0);

    /* Redis's string2ld takes at most 5119 bytes. */
    s = make_filled("1.", '0', 5116, "1", &len);
    assert_int_equal(len, 5119);
    assert_int_equal(parse_long_double(s, len, &v), 0);
    assert_true(v == 1.0L);
    free(s);
    s = make_filled("1.", '0', 5117, "1", &len);
    assert_int_not_equal(parse_long_double(s, len, &v), 0);
    free(s);
}

/* ---- fmt_double / fmt_long_double ---------------------------------------------------------- */

static void expect_fmt_double(double d, const char *expected)
{
    char buf[64];
    int n = fmt_double(buf, sizeof(buf), d);

    assert_string_equal(buf, expected);
    assert_int_equal(n, strlen(expected));
}

static void test_fmt_double_values(void **state)
{
    expect_fmt_double(1.0, "1");
    expect_fmt_double(0.1, "0.10000000000000001");
    expect_fmt_double(1.5, "1.5");
    expect_fmt_double(-2.0, "-2");
    expect_fmt_double(0.0, "0");
    expect_fmt_double(-0.0, "-0");
    expect_fmt_double(INFINITY, "inf");
    expect_fmt_double(-INFINITY, "-inf");
    expect_fmt_double(NAN, "nan");
    expect_fmt_double(-NAN, "nan");
    expect_fmt_double(1e16, "10000000000000000");
    expect_fmt_double(99999999999999984.0, "99999999999999984");
    expect_fmt_double(1e17, "1e+17");
    expect_fmt_double(-1e17, "-1e+17");
    expect_fmt_double(123456789012345678.0, "1.2345678901234568e+17");
    expect_fmt_double(3.14, "3.1400000000000001");
    expect_fmt_double(1e-5, "1.0000000000000001e-05");
    expect_fmt_double(DBL_MAX, "1.7976931348623157e+308");
    expect_fmt_double(-DBL_MIN, "-2.2250738585072014e-308");
    expect_fmt_double(9007199254740993.0, "9007199254740992");
}

static void test_fmt_double_matches_printf(void **state)
{
    char got[64], want[64];

    for (int i = 0; i < 200000; i++) {
        uint64_t bits = next_random();
        double d;
        if (i % 2)
            d = (double)(int64_t)(bits >> (bits % 64)) * ((bits & 1) ? -1 : 1);   /* integers */
        else
            memcpy(&d, &bits, sizeof(d));
        if (isnan(d) || isinf(d))
            continue;
        fmt_double(got, sizeof(got), d);
        snprintf(want, sizeof(want), "%.17g", d);
        if (strcmp(got, want) != 0)
            fail_msg("fmt_double(%a) = %s, want %s", d, got, want);
    }
}

static void test_fmt_double_small_buffer(void **state)
{
    char buf[4];

    assert_int_equal(fmt_double(buf, sizeof(buf), 0.1), 3);
    assert_string_equal(buf, "0.1");
    assert_int_equal(fmt_double(buf, sizeof(buf), 12345.0), 3);
    assert_string_equal(buf, "123");
    assert_int_equal(fmt_double(buf, 0, 1.0), 0);
}

static void expect_fmt_long_double(long double d, const char *expected)
{
    char buf[5 * 1024];
    int n = fmt_long_double(buf, sizeof(buf), d);

    assert_string_equal(buf, expected);
    assert_int_equal(n, strlen(expected));
}

static void test_fmt_long_double_values(void **state)
{
    char buf[5 * 1024];
    char tiny[4];
    int n;

    expect_fmt_long_double(10.5L, "10.5");
    expect_fmt_long_double(3.0L, "3");
    expect_fmt_long_double(0.0L, "0");
    expect_fmt_long_double(-0.0L, "0");
    expect_fmt_long_double(-3.0L, "-3");
    expect_fmt_long_double(100.0L, "100");
    expect_fmt_long_double(0.5L, "0.5");
    expect_fmt_long_double(1e20L, "100000000000000000000");
    expect_fmt_long_double(INFINITY, "inf");
    expect_fmt_long_double(-INFINITY, "-inf");
    expect_fmt_long_double(NAN, "nan");
    expect_fmt_long_double(1e-18L, "0");
    expect_fmt_long_double(-1e-18L, "0");
#if LDBL_MANT_DIG == 64
    /* x87 80-bit long double, as on the x86-64 servers Redis is measured on. */
    expect_fmt_long_double(0.1L, "0.1");
    expect_fmt_long_double(0.1L + 0.2L, "0.3");
    expect_fmt_long_double(1.0L / 3.0L, "0.33333333333333333");
    expect_fmt_long_double(10.5L + 0.1L, "10.6");
    /* 17 fixed decimals show the binary error of larger values, exactly as Redis's
     * INCRBYFLOAT does. */
    expect_fmt_long_double(5.0e3L + 0.1L, "5000.10000000000000009");
#endif

    /* Huge finite values print every integer digit. */
    n = fmt_long_double(buf, sizeof(buf), 1e300L);
    assert_int_equal(n, 301);
    assert_null(strchr(buf, '.'));
    /* Too small a buffer yields an empty string and 0, as Redis's ld2string does. */
    assert_int_equal(fmt_long_double(tiny, sizeof(tiny), 12345.5L), 0);
    assert_string_equal(tiny, "");
    assert_int_equal(fmt_long_double(tiny, sizeof(tiny), -INFINITY), 0);
    assert_int_equal(fmt_long_double(tiny, sizeof(tiny), NAN), 3);
    assert_string_equal(tiny, "nan");
}

/* ---- reply writer ---------------------------------------------------------------------------- */

#define CONTENT_IOV 4096

/* Returns a malloc'd NUL-terminated copy of r's unsent bytes, gathered block by block
 * with reply_iov as the worker's writev does, and checks they add up to reply_pending. */
static char *reply_contents(const reply_buf *r)
{
    static struct iovec iov[CONTENT_IOV];
    int cnt = reply_iov(r, iov, CONTENT_IOV);
    char *copy = malloc(reply_pending(r) + 1);
    size_t at = 0;

    assert_non_null(copy);
    assert_true(cnt < CONTENT_IOV);
    for (int i = 0; i < cnt; i++) {
        assert_true(at + iov[i].iov_len <= reply_pending(r));
        memcpy(copy + at, iov[i].iov_base, iov[i].iov_len);
        at += iov[i].iov_len;
    }
    assert_int_equal(at, reply_pending(r));
    copy[at] = '\0';
    return copy;
}

/* Asserts the reply holds exactly expected[0..n) and empties it. */
static void expect_reply_bytes(reply_buf *r, const char *expected, size_t n)
{
    char *got = reply_contents(r);

    if (reply_len(r) != n || (n && memcmp(got, expected, n) != 0))
        fail_msg("reply '%.*s' (%zu bytes), expected '%.*s' (%zu bytes)", (int)reply_len(r), got,
                 reply_len(r), (int)n, expected, n);
    free(got);
    reply_truncate(r, 0);
}

static void expect_reply(reply_buf *r, const char *expected)
{
    expect_reply_bytes(r, expected, strlen(expected));
}

/* Runs fn once with RESP2 and once with RESP3 and checks both encodings. */
static void expect_both(void (*fn)(reply_buf *), const char *resp2, const char *resp3)
{
    reply_buf r;

    reply_init(&r);
    r.proto = 2;
    fn(&r);
    expect_reply(&r, resp2);
    r.proto = 3;
    fn(&r);
    expect_reply(&r, resp3);
    reply_free(&r);
}

static void write_null(reply_buf *r) { reply_null(r); }
static void write_null_array(reply_buf *r) { reply_null_array(r); }
static void write_map_3(reply_buf *r) { reply_map(r, 3); }
static void write_map_0(reply_buf *r) { reply_map(r, 0); }
static void write_set_4(reply_buf *r) { reply_set(r, 4); }
static void write_push_3(reply_buf *r) { reply_push(r, 3); }
static void write_true(reply_buf *r) { reply_bool(r, 1); }
static void write_false(reply_buf *r) { reply_bool(r, 0); }
static void write_bool_7(reply_buf *r) { reply_bool(r, 7); }
static void write_double_1(reply_buf *r) { reply_double(r, 1.0); }
static void write_double_tenth(reply_buf *r) { reply_double(r, 0.1); }
static void write_double_inf(reply_buf *r) { reply_double(r, INFINITY); }
static void write_double_minus_inf(reply_buf *r) { reply_double(r, -INFINITY); }
static void write_double_nan(reply_buf *r) { reply_double(r, NAN); }
static void write_double_neg(reply_buf *r) { reply_double(r, -1.5e-7); }
static void write_verbatim(reply_buf *r) { reply_verbatim(r, "hello", 5); }
static void write_verbatim_empty(reply_buf *r) { reply_verbatim(r, "", 0); }
static void write_verbatim_lines(reply_buf *r) { reply_verbatim(r, "a:1\r\nb:2\r\n", 10); }
static void write_array_2(reply_buf *r) { reply_array(r, 2); }
static void write_ok(reply_buf *r) { reply_ok(r); }
static void write_int(reply_buf *r) { reply_int(r, -42); }
static void write_bulk(reply_buf *r) { reply_bulk(r, "abc", 3); }

static void test_reply_init_truncate_free(void **state)
{
    reply_buf r;
    size_t held;

    reply_init(&r);
    assert_int_equal(reply_len(&r), 0);
    assert_int_equal(reply_memory(&r), 0);
    assert_int_equal(r.proto, 2);
    reply_ok(&r);
    held = reply_memory(&r);
    assert_true(held >= 5 && held <= REPLY_BLOCK_BYTES);
    reply_truncate(&r, 0);
    assert_int_equal(reply_len(&r), 0);
    assert_int_equal(reply_memory(&r), held);   /* the block is kept for reuse */
    r.proto = 3;
    reply_free(&r);
    assert_int_equal(reply_len(&r), 0);
    assert_int_equal(reply_memory(&r), 0);
    assert_int_equal(r.proto, 3);
    reply_free(&r);
}

static void test_reply_simple_and_errors(void **state)
{
    reply_buf r;
    char long_message[2000];
    char *got;

    reply_init(&r);
    reply_ok(&r);
    expect_reply(&r, "+OK\r\n");
    reply_simple(&r, "PONG");
    expect_reply(&r, "+PONG\r\n");
    reply_simple(&r, "");
    expect_reply(&r, "+\r\n");
    reply_simple(&r, "a\r\nb");
    expect_reply(&r, "+a  b\r\n");
    reply_error(&r, "ERR unknown command");
    expect_reply(&r, "-ERR unknown command\r\n");
    reply_error(&r, "-WRONGTYPE Operation against a key holding the wrong kind of value");
    expect_reply(&r, "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
    reply_error(&r, "ERR bad\r\n+OK");
    expect_reply(&r, "-ERR bad  +OK\r\n");
    reply_errorf(&r, "ERR wrong number of arguments for '%s' command", "get");
    expect_reply(&r, "-ERR wrong number of arguments for 'get' command\r\n");
    reply_errorf(&r, "ERR value %d\nsplit", 7);
    expect_reply(&r, "-ERR value 7 split\r\n");

    /* Longer than the stack buffer reply_errorf starts with. */
    memset(long_message, 'x', sizeof(long_message) - 1);
    long_message[sizeof(long_message) - 1] = '\0';
    reply_errorf(&r, "ERR %s!", long_message);
    got = reply_contents(&r);
    assert_int_equal(reply_len(&r), 1 + 4 + sizeof(long_message) - 1 + 1 + 2);
    assert_memory_equal(got, "-ERR xxx", 8);
    assert_memory_equal(got + reply_len(&r) - 4, "x!\r\n", 4);
    free(got);
    reply_free(&r);
}

static void test_reply_integers(void **state)
{
    reply_buf r;
    char want[64];
    long long values[200];
    size_t count = 0;
    long long p10 = 1;

    values[count++] = 0;
    values[count++] = LLONG_MAX;
    values[count++] = LLONG_MIN;
    values[count++] = LLONG_MIN + 1;
    for (int i = 0; i < 19; i++) {
        values[count++] = p10;
        values[count++] = p10 - 1;
        values[count++] = p10 + 1;
        values[count++] = -p10;
        values[count++] = -(p10 - 1);
        if (i < 18)
            p10 *= 10;
    }
    reply_init(&r);
    for (size_t i = 0; i < count; i++) {
        reply_int(&r, values[i]);
        snprintf(want, sizeof(want), ":%lld\r\n", values[i]);
        expect_reply(&r, want);
        reply_bulk_ll(&r, values[i]);
        {
            char digits[32];
            int n = snprintf(digits, sizeof(digits), "%lld", values[i]);
            snprintf(want, sizeof(want), "$%d\r\n%s\r\n", n, digits);
        }
        expect_reply(&r, want);
    }
    for (int i = 0; i < 100000; i++) {
        long long v = (long long)next_random() >> (next_random() % 64);
        reply_int(&r, v);
        snprintf(want, sizeof(want), ":%lld\r\n", v);
        expect_reply(&r, want);
    }
    reply_free(&r);
}

static void test_reply_bulks(void **state)
{
    static const char binary[] = "a\0\r\nb";
    reply_buf r;

    reply_init(&r);
    reply_bulk(&r, "hello", 5);
    expect_reply(&r, "$5\r\nhello\r\n");
    reply_bulk(&r, "", 0);
    expect_reply(&r, "$0\r\n\r\n");
    reply_bulk(&r, NULL, 0);
    expect_reply(&r, "$0\r\n\r\n");
    reply_bulk(&r, binary, sizeof(binary) - 1);
    expect_reply_bytes(&r, "$5\r\na\0\r\nb\r\n", 11);
    reply_bulk_cstr(&r, "world");
    expect_reply(&r, "$5\r\nworld\r\n");
    reply_bulk_ll(&r, -42);
    expect_reply(&r, "$3\r\n-42\r\n");
    reply_bulk_ll(&r, 0);
    expect_reply(&r, "$1\r\n0\r\n");
    reply_raw(&r, "+raw\r\n", 6);
    reply_raw(&r, NULL, 0);
    expect_reply(&r, "+raw\r\n");
    r.proto = 3;
    reply_bulk(&r, "x", 1);
    expect_reply(&r, "$1\r\nx\r\n");
    reply_free(&r);
}

static void test_reply_protocol_dependent_types(void **state)
{
    expect_both(write_null, "$-1\r\n", "_\r\n");
    expect_both(write_null_array, "*-1\r\n", "_\r\n");
    expect_both(write_map_3, "*6\r\n", "%3\r\n");
    expect_both(write_map_0, "*0\r\n", "%0\r\n");
    expect_both(write_set_4, "*4\r\n", "~4\r\n");
    expect_both(write_push_3, "*3\r\n", ">3\r\n");
    expect_both(write_true, ":1\r\n", "#t\r\n");
    expect_both(write_false, ":0\r\n", "#f\r\n");
    expect_both(write_bool_7, ":1\r\n", "#t\r\n");
    expect_both(write_array_2, "*2\r\n", "*2\r\n");
    expect_both(write_ok, "+OK\r\n", "+OK\r\n");
    expect_both(write_int, ":-42\r\n", ":-42\r\n");
    expect_both(write_bulk, "$3\r\nabc\r\n", "$3\r\nabc\r\n");
}

static void test_reply_doubles(void **state)
{
    expect_both(write_double_1, "$1\r\n1\r\n", ",1\r\n");
    expect_both(write_double_tenth, "$19\r\n0.10000000000000001\r\n", ",0.10000000000000001\r\n");
    expect_both(write_double_inf, "$3\r\ninf\r\n", ",inf\r\n");
    expect_both(write_double_minus_inf, "$4\r\n-inf\r\n", ",-inf\r\n");
    expect_both(write_double_nan, "$3\r\nnan\r\n", ",nan\r\n");
    expect_both(write_double_neg, "$23\r\n-1.4999999999999999e-07\r\n", ",-1.4999999999999999e-07\r\n");
}

static void test_reply_verbatim(void **state)
{
    expect_both(write_verbatim, "$5\r\nhello\r\n", "=9\r\ntxt:hello\r\n");
    expect_both(write_verbatim_empty, "$0\r\n\r\n", "=4\r\ntxt:\r\n");
    expect_both(write_verbatim_lines, "$10\r\na:1\r\nb:2\r\n\r\n", "=14\r\ntxt:a:1\r\nb:2\r\n\r\n");
}

static void test_reply_aggregate_counts(void **state)
{
    reply_buf r;

    reply_init(&r);
    reply_array(&r, 0);
    expect_reply(&r, "*0\r\n");
    reply_array(&r, -1);
    expect_reply(&r, "*-1\r\n");
    reply_array(&r, 1234567890123LL);
    expect_reply(&r, "*1234567890123\r\n");
    reply_set(&r, 0);
    expect_reply(&r, "*0\r\n");
    r.proto = 3;
    reply_set(&r, 0);
    expect_reply(&r, "~0\r\n");
    reply_map(&r, 1000000);
    expect_reply(&r, "%1000000\r\n");
    reply_free(&r);
}

static void test_reply_deferred_array(void **state)
{
    reply_buf r;
    size_t handle;

    reply_init(&r);
    handle = reply_defer_array(&r);
    assert_int_equal(handle, 0);
    reply_bulk(&r, "a", 1);
    reply_bulk(&r, "bc", 2);
    reply_int(&r, 7);
    reply_fix_array(&r, handle, 3);
    expect_reply(&r, "*3\r\n$1\r\na\r\n$2\r\nbc\r\n:7\r\n");

    /* Empty and after earlier content. */
    reply_ok(&r);
    handle = reply_defer_array(&r);
    assert_int_equal(handle, 5);
    reply_fix_array(&r, handle, 0);
    reply_ok(&r);
    expect_reply(&r, "+OK\r\n*0\r\n+OK\r\n");

    /* The widest count still fits the placeholder. */
    handle = reply_defer_array(&r);
    reply_fix_array(&r, handle, LLONG_MIN);
    expect_reply(&r, "*-9223372036854775808\r\n");
    handle = reply_defer_array(&r);
    reply_fix_array(&r, handle, LLONG_MAX);
    expect_reply(&r, "*9223372036854775807\r\n");
    reply_free(&r);
}

static void test_reply_deferred_nested_and_growing(void **state)
{
    reply_buf r;
    char want[256];
    size_t outer, inner, want_len = 0;
    char *got;

    reply_init(&r);
    outer = reply_defer_array(&r);
    for (int i = 0; i < 3; i++) {
        inner = reply_defer_array(&r);
        for (int j = 0; j < i; j++)
            reply_int(&r, j);
        reply_fix_array(&r, inner, i);
    }
    reply_fix_array(&r, outer, 3);
    expect_reply(&r, "*3\r\n*0\r\n*1\r\n:0\r\n*2\r\n:0\r\n:1\r\n");

    /* The handle is an offset, so it survives the buffer moving while it grows. */
    reply_simple(&r, "start");
    outer = reply_defer_array(&r);
    for (int i = 0; i < 20000; i++)
        reply_bulk(&r, "0123456789", 10);
    reply_fix_array(&r, outer, 20000);
    want_len = (size_t)snprintf(want, sizeof(want), "+start\r\n*20000\r\n$10\r\n0123456789\r\n");
    got = reply_contents(&r);
    assert_int_equal(reply_len(&r), 8 + 8 + 20000 * 17);
    assert_memory_equal(got, want, want_len);
    for (size_t at = 16; at < reply_len(&r); at += 17)
        assert_memory_equal(got + at, "$10\r\n0123456789\r\n", 17);
    free(got);
    reply_truncate(&r, 0);

    /* Fixing after a truncate is ignored rather than corrupting memory. */
    outer = reply_defer_array(&r);
    reply_truncate(&r, 0);
    reply_fix_array(&r, outer, 5);
    assert_int_equal(reply_len(&r), 0);
    reply_free(&r);
}

static void test_reply_deferred_map(void **state)
{
    reply_buf r;
    size_t handle;

    reply_init(&r);
    handle = reply_defer_map(&r);
    reply_bulk(&r, "k", 1);
    reply_int(&r, 1);
    reply_bulk(&r, "j", 1);
    reply_int(&r, 2);
    reply_fix_map(&r, handle, 2);
    expect_reply(&r, "*4\r\n$1\r\nk\r\n:1\r\n$1\r\nj\r\n:2\r\n");
    r.proto = 3;
    handle = reply_defer_map(&r);
    reply_bulk(&r, "k", 1);
    reply_double(&r, 2.5);
    reply_fix_map(&r, handle, 1);
    expect_reply(&r, "%1\r\n$1\r\nk\r\n,2.5\r\n");
    handle = reply_defer_map(&r);
    reply_fix_map(&r, handle, 0);
    expect_reply(&r, "%0\r\n");
    reply_free(&r);
}

static void test_reply_growth_keeps_content(void **state)
{
    reply_buf r;
    char want[64];
    size_t at = 0;
    char *got;

    reply_init(&r);
    for (int i = 0; i < 100000; i++)
        reply_int(&r, i);
    got = reply_contents(&r);
    for (int i = 0; i < 100000; i++) {
        int n = snprintf(want, sizeof(want), ":%d\r\n", i);
        assert_memory_equal(got + at, want, (size_t)n);
        at += (size_t)n;
    }
    assert_int_equal(at, reply_len(&r));
    assert_true(reply_memory(&r) >= reply_len(&r));
    free(got);
    reply_free(&r);
}

/* Parses a reply we wrote with the request parser's sibling rules: every value must
 * be complete and valid RESP. Returns the position after one value, or 0 if invalid. */
static size_t skip_resp_value(const char *p, size_t len, size_t at)
{
    const char *cr;
    long long n;

    if (at >= len)
        return 0;
    cr = memchr(p + at, '\r', len - at);
    if (!cr || (size_t)(cr - p) + 1 >= len || cr[1] != '\n')
        return 0;
    switch (p[at]) {
    case '+': case '-': case ',': case '#': case '_':
        return (size_t)(cr - p) + 2;
    case ':':
        return parse_ll(p + at + 1, (size_t)(cr - p) - at - 1, &n) == 0 ? (size_t)(cr - p) + 2 : 0;
    case '$': case '=': {
        size_t start = (size_t)(cr - p) + 2;
        if (parse_ll(p + at + 1, (size_t)(cr - p) - at - 1, &n) != 0)
            return 0;
        if (n == -1)
            return start;
        if (n < 0 || start + (size_t)n + 2 > len || memcmp(p + start + n, "\r\n", 2) != 0)
            return 0;
        return start + (size_t)n + 2;
    }
    case '*': case '%': case '~': case '>': {
        size_t next = (size_t)(cr - p) + 2;
        if (parse_ll(p + at + 1, (size_t)(cr - p) - at - 1, &n) != 0)
            return 0;
        if (p[at] == '%')
            n *= 2;
        for (long long i = 0; i < n; i++) {
            next = skip_resp_value(p, len, next);
            if (next == 0)
                return 0;
        }
        return next;
    }
    default:
        return 0;
    }
}

static void test_reply_is_valid_resp(void **state)
{
    reply_buf r;
    char *got;

    for (int proto = 2; proto <= 3; proto++) {
        size_t at = 0, values = 0, outer, inner;
        reply_init(&r);
        r.proto = proto;
        outer = reply_defer_map(&r);
        reply_bulk_cstr(&r, "list");
        inner = reply_defer_array(&r);
        reply_null(&r);
        reply_bool(&r, 1);
        reply_double(&r, -0.0);
        reply_verbatim(&r, "x", 1);
        reply_fix_array(&r, inner, 4);
        reply_bulk_cstr(&r, "set");
        reply_set(&r, 2);
        reply_int(&r, 1);
        reply_bulk_ll(&r, 2);
        reply_fix_map(&r, outer, 2);
        reply_null_array(&r);
        reply_push(&r, 1);
        reply_error(&r, "ERR x");
        got = reply_contents(&r);
        while (at < reply_len(&r)) {
            at = skip_resp_value(got, reply_len(&r), at);
            assert_int_not_equal(at, 0);
            values++;
        }
        assert_int_equal(at, reply_len(&r));
        assert_int_equal(values, 3);
        free(got);
        reply_free(&r);
    }
}

/* ---- reply block chain -------------------------------------------------------------------- */

/* Bytes of data in one ordinary block. */
#define BLOCK_DATA (REPLY_BLOCK_BYTES - sizeof(reply_block))

/* Returns how many blocks hold unsent bytes. */
static int count_blocks(const reply_buf *r)
{
    static struct iovec iov[CONTENT_IOV];

    return reply_iov(r, iov, CONTENT_IOV);
}

/* Appends n ":<i>\r\n" integers and the same text to want (at *want_len). */
static void append_ints(reply_buf *r, char *want, size_t *want_len, int n)
{
    for (int i = 0; i < n; i++) {
        reply_int(r, i);
        *want_len += (size_t)sprintf(want + *want_len, ":%d\r\n", i);
    }
}

static void test_reply_chain_small_replies_cross_blocks(void **state)
{
    enum { N = 20000 };
    char *want = malloc(N * 8 + 1), *got;
    size_t want_len = 0, sent = 0;
    reply_buf r;

    reply_init(&r);
    append_ints(&r, want, &want_len, N);
    assert_int_equal(reply_len(&r), want_len);
    assert_true(count_blocks(&r) > 5);
    assert_true(reply_memory(&r) <= want_len + 2 * REPLY_BLOCK_BYTES);
    got = reply_contents(&r);
    assert_memory_equal(got, want, want_len);
    free(got);
    /* drain in odd-sized pieces, as short writes do: the rest stays intact and sent
     * blocks are given back */
    while (reply_pending(&r) > 7777) {
        size_t before = reply_memory(&r);
        reply_consume(&r, 7777);
        sent += 7777;
        assert_true(reply_memory(&r) <= before);
        assert_int_equal(reply_pending(&r), want_len - sent);
        assert_int_equal(reply_byte_at(&r, sent), want[sent]);
        got = reply_contents(&r);
        assert_memory_equal(got, want + sent, want_len - sent);
        free(got);
    }
    assert_true(reply_memory(&r) <= 2 * REPLY_BLOCK_BYTES);
    reply_consume(&r, reply_pending(&r));
    /* all sent: offsets restart and one ordinary block stays cached */
    assert_int_equal(reply_len(&r), 0);
    assert_int_equal(reply_pending(&r), 0);
    assert_int_equal(reply_memory(&r), BLOCK_DATA);
    reply_ok(&r);
    expect_reply(&r, "+OK\r\n");
    assert_int_equal(reply_memory(&r), BLOCK_DATA);
    reply_free(&r);
    free(want);
}

static void test_reply_chain_huge_bulk(void **state)
{
    const size_t n = 3 * 1024 * 1024 + 17;
    char *value = malloc(n), *got;
    char header[32];
    size_t header_len = (size_t)sprintf(header, "$%zu\r\n", n);
    reply_buf r;

    for (size_t i = 0; i < n; i++)
        value[i] = (char)('a' + i % 26);
    reply_init(&r);
    reply_ok(&r);
    reply_bulk(&r, value, n);
    reply_ok(&r);
    assert_int_equal(reply_len(&r), 5 + header_len + n + 2 + 5);
    /* the bulk filled the first block and got one block sized for the rest: no
     * doubling, no copy of the whole output */
    assert_true(reply_memory(&r) <= reply_len(&r) + 2 * REPLY_BLOCK_BYTES);
    assert_true(count_blocks(&r) <= 3);
    got = reply_contents(&r);
    assert_memory_equal(got, "+OK\r\n", 5);
    assert_memory_equal(got + 5, header, header_len);
    assert_memory_equal(got + 5 + header_len, value, n);
    assert_memory_equal(got + 5 + header_len + n, "\r\n+OK\r\n", 7);
    free(got);
    /* once sent, the big block is not kept */
    reply_consume(&r, reply_pending(&r));
    assert_true(reply_memory(&r) <= REPLY_BLOCK_BYTES);
    reply_free(&r);
    free(value);
}

static void test_reply_chain_defer_across_blocks(void **state)
{
    enum { N = 5000 };
    char *want = malloc(N * 8 + REPLY_BLOCK_BYTES + 64), *got;
    size_t want_len = 0, handle, filler;
    reply_buf r;

    reply_init(&r);
    /* a placeholder that would straddle the end of the first block goes to the next
     * one whole; the array it heads spans many blocks */
    filler = BLOCK_DATA - 10 - 7;
    char *pad = malloc(filler);
    memset(pad, 'p', filler);
    reply_bulk(&r, pad, filler - 8);
    want_len = (size_t)sprintf(want, "$%zu\r\n", filler - 8);
    memcpy(want + want_len, pad, filler - 8);
    want_len += filler - 8;
    memcpy(want + want_len, "\r\n", 2);
    want_len += 2;
    handle = reply_defer_array(&r);
    want_len += (size_t)sprintf(want + want_len, "*%d\r\n", N);
    append_ints(&r, want, &want_len, N);
    reply_fix_array(&r, handle, N);
    assert_true(count_blocks(&r) > 2);
    assert_int_equal(reply_len(&r), want_len);
    got = reply_contents(&r);
    assert_memory_equal(got, want, want_len);
    free(got);
    assert_int_equal(reply_byte_at(&r, handle), '*');
    reply_free(&r);
    free(pad);
    free(want);
}

static void test_reply_chain_truncate_into_earlier_block(void **state)
{
    enum { N = 30000 };
    char *want = malloc(N * 8 + 64), *got;
    size_t want_len = 0, mark;
    reply_buf r;

    reply_init(&r);
    append_ints(&r, want, &want_len, 100);
    mark = reply_len(&r);
    append_ints(&r, want, &want_len, N);
    assert_true(count_blocks(&r) > 5);
    for (size_t at = 0; at < reply_len(&r); at += 997)
        assert_int_equal(reply_byte_at(&r, at), want[at]);
    reply_truncate(&r, mark);
    assert_int_equal(reply_len(&r), mark);
    assert_int_equal(count_blocks(&r), 1);
    assert_true(reply_memory(&r) <= REPLY_BLOCK_BYTES);
    reply_error(&r, "ERR replaced");
    memcpy(want + mark, "-ERR replaced\r\n", 15);
    want_len = mark + 15;
    got = reply_contents(&r);
    assert_int_equal(reply_len(&r), want_len);
    assert_memory_equal(got, want, want_len);
    free(got);
    /* a mark past the end changes nothing */
    reply_truncate(&r, reply_len(&r) + 10);
    assert_int_equal(reply_len(&r), want_len);
    reply_free(&r);
    free(want);
}

static long allocs_left;

/* reply_block_malloc that fails once allocs_left allocations were made. */
static void *failing_malloc(size_t size)
{
    if (allocs_left <= 0)
        return NULL;
    allocs_left--;
    return malloc(size);
}

static void test_reply_chain_allocation_failure(void **state)
{
    char value[1000], *got;
    size_t mark, total = 0;
    reply_buf r, scratch;

    memset(value, 'v', sizeof value);
    reply_init(&r);
    reply_ok(&r);
    mark = reply_len(&r);
    allocs_left = 3;
    reply_block_malloc = failing_malloc;
    for (int i = 0; i < 200; i++)
        reply_bulk(&r, value, sizeof value);
    assert_true(reply_failed(&r));
    /* what is there is still a well-formed chain whose pieces add up */
    assert_true(reply_len(&r) < 200 * (sizeof value + 8));
    assert_int_equal(count_blocks(&r), 4);
    got = reply_contents(&r);
    free(got);
    for (size_t at = 0; at < reply_len(&r); at += 101)
        total += reply_byte_at(&r, at) != 0;
    assert_true(total > 0);
    /* deferred headers of a failed reply are left alone */
    size_t handle = reply_defer_array(&r);
    reply_fix_array(&r, handle, 1);
    assert_true(reply_failed(&r));
    /* rolling back to the command's mark gives a consistent, usable buffer */
    reply_truncate(&r, mark);
    assert_false(reply_failed(&r));
    reply_error(&r, "ERR dropped");
    expect_reply(&r, "+OK\r\n-ERR dropped\r\n");
    /* a failed scratch buffer fails the reply it is spliced into */
    reply_init(&scratch);
    allocs_left = 0;
    reply_bulk(&scratch, value, sizeof value);
    assert_true(reply_failed(&scratch));
    reply_splice(&r, &scratch);
    assert_true(reply_failed(&r));
    reply_block_malloc = malloc;
    reply_truncate(&r, 0);
    reply_bulk(&r, "ok", 2);
    expect_reply(&r, "$2\r\nok\r\n");
    reply_free(&r);
}

static void test_reply_chain_splice(void **state)
{
    enum { N = 10000 };
    char *want = malloc(N * 8 + 64), *got;
    size_t want_len = 0;
    reply_buf r, scratch;

    reply_init(&r);
    reply_init(&scratch);
    reply_array(&r, 2);
    want_len = 4;
    memcpy(want, "*2\r\n", 4);
    reply_int(&scratch, 7);               /* small: copied into r's tail */
    reply_splice(&r, &scratch);
    memcpy(want + want_len, ":7\r\n", 4);
    want_len += 4;
    assert_int_equal(count_blocks(&r), 1);
    append_ints(&scratch, want, &want_len, N);   /* large: its blocks are moved */
    reply_splice(&r, &scratch);
    assert_int_equal(reply_len(&scratch), 0);
    assert_int_equal(reply_memory(&scratch), 0);
    assert_int_equal(reply_len(&r), want_len);
    got = reply_contents(&r);
    assert_memory_equal(got, want, want_len);
    free(got);
    reply_free(&r);
    free(want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_multibulk_ping),
        cmocka_unit_test(test_multibulk_set),
        cmocka_unit_test(test_multibulk_binary_payload),
        cmocka_unit_test(test_multibulk_empty_bulks),
        cmocka_unit_test(test_multibulk_zero_and_negative_counts),
        cmocka_unit_test(test_multibulk_long_bulk_length_line),
        cmocka_unit_test(test_multibulk_count_limit),
        cmocka_unit_test(test_multibulk_many_args_and_argv_reuse),
        cmocka_unit_test(test_multibulk_bad_counts),
        cmocka_unit_test(test_multibulk_count_line_needs_crlf),
        cmocka_unit_test(test_multibulk_expected_dollar),
        cmocka_unit_test(test_bulk_bad_lengths),
        cmocka_unit_test(test_bulk_max_length_is_accepted),
        cmocka_unit_test(test_bulk_payload_must_end_in_crlf),
        cmocka_unit_test(test_incomplete_need),
        cmocka_unit_test(test_need_is_null_safe),
        cmocka_unit_test(test_too_big_mbulk_count_string),
        cmocka_unit_test(test_too_big_bulk_count_string),
        cmocka_unit_test(test_dollar_request_is_inline),
        cmocka_unit_test(test_pipelined_requests_in_one_buffer),
        cmocka_unit_test(test_inline_simple),
        cmocka_unit_test(test_inline_whitespace),
        cmocka_unit_test(test_inline_empty_lines),
        cmocka_unit_test(test_inline_double_quotes),
        cmocka_unit_test(test_inline_escapes),
        cmocka_unit_test(test_inline_single_quotes),
        cmocka_unit_test(test_inline_unbalanced_quotes),
        cmocka_unit_test(test_inline_nul_ends_line_content),
        cmocka_unit_test(test_inline_size_limit),
        cmocka_unit_test(test_every_prefix_is_incomplete),
        cmocka_unit_test(test_stream_split_at_every_chunk_size),
        cmocka_unit_test(test_fuzz_never_crashes_and_stays_consistent),
        cmocka_unit_test(test_parse_ll_accepts),
        cmocka_unit_test(test_parse_ll_rejects),
        cmocka_unit_test(test_parse_double_accepts),
        cmocka_unit_test(test_parse_double_infinities),
        cmocka_unit_test(test_parse_double_rejects),
        cmocka_unit_test(test_parse_double_long_input),
        cmocka_unit_test(test_parse_long_double),
        cmocka_unit_test(test_fmt_double_values),
        cmocka_unit_test(test_fmt_double_matches_printf),
        cmocka_unit_test(test_fmt_double_small_buffer),
        cmocka_unit_test(test_fmt_long_double_values),
        cmocka_unit_test(test_reply_init_truncate_free),
        cmocka_unit_test(test_reply_simple_and_errors),
        cmocka_unit_test(test_reply_integers),
        cmocka_unit_test(test_reply_bulks),
        cmocka_unit_test(test_reply_protocol_dependent_types),
        cmocka_unit_test(test_reply_doubles),
        cmocka_unit_test(test_reply_verbatim),
        cmocka_unit_test(test_reply_aggregate_counts),
        cmocka_unit_test(test_reply_deferred_array),
        cmocka_unit_test(test_reply_deferred_nested_and_growing),
        cmocka_unit_test(test_reply_deferred_map),
        cmocka_unit_test(test_reply_growth_keeps_content),
        cmocka_unit_test(test_reply_is_valid_resp),
        cmocka_unit_test(test_reply_chain_small_replies_cross_blocks),
        cmocka_unit_test(test_reply_chain_huge_bulk),
        cmocka_unit_test(test_reply_chain_defer_across_blocks),
        cmocka_unit_test(test_reply_chain_truncate_into_earlier_block),
        cmocka_unit_test(test_reply_chain_allocation_failure),
        cmocka_unit_test(test_reply_chain_splice),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
