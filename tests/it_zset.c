/* it_zset.c - integration tests for the sorted set commands: every command, option and
 * error text over TCP, in RESP2 and RESP3 shapes, run against kvns or redis-server (see
 * harness.h; every expectation was checked against Redis 7 - ZRANK/ZREVRANK WITHSCORE,
 * new in 7.2, is skipped on an older redis-server). */
#include "harness.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WRONGTYPE "WRONGTYPE Operation against a key holding the wrong kind of value"
#define NOT_INT   "ERR value is not an integer or out of range"
#define NOT_FLOAT "ERR value is not a valid float"
#define SYNTAX    "ERR syntax error"
#define NOT_RANGE "ERR min or max is not a float"
#define NOT_LEX   "ERR min or max not valid string range item"

/* ---- helpers ------------------------------------------------------------------------------ */

/* Appends a flat rendering of r to buf: strings as they are, integers and doubles as
 * text, nil as "nil", nested aggregates in brackets, elements separated by spaces. */
static void render(const kv_reply *r, char *buf, size_t cap, bool top)
{
    size_t len = strlen(buf);
    if (!r) {
        snprintf(buf + len, cap - len, "(no reply)");
        return;
    }
    switch (r->type) {
    case KV_REPLY_ARRAY: case KV_REPLY_SET: case KV_REPLY_MAP: case KV_REPLY_PUSH:
        if (!top)
            snprintf(buf + len, cap - len, "[");
        for (size_t i = 0; i < r->count; i++) {
            if (i) {
                len = strlen(buf);
                snprintf(buf + len, cap - len, " ");
            }
            render(r->elements[i], buf, cap, false);
        }
        if (!top) {
            len = strlen(buf);
            snprintf(buf + len, cap - len, "]");
        }
        return;
    case KV_REPLY_INTEGER: case KV_REPLY_BOOL:
        snprintf(buf + len, cap - len, "%lld", r->integer);
        return;
    case KV_REPLY_NIL:
        snprintf(buf + len, cap - len, "nil");
        return;
    case KV_REPLY_ERROR:
        snprintf(buf + len, cap - len, "!%s", r->str);
        return;
    default:
        snprintf(buf + len, cap - len, "%s", r->str ? r->str : "");
        return;
    }
}

/* Runs a command and compares the rendering of its reply with want. */
static void expect_render_at(const char *file, int line, kv_conn *c, const char *want, ...)
{
    va_list ap;
    va_start(ap, want);
    const char *arg0 = va_arg(ap, const char *);
    kv_reply *r = conn_cmd_va(c, arg0, ap);
    va_end(ap);
    static char got[65536];
    got[0] = 0;
    render(r, got, sizeof got, true);
    if (strcmp(got, want) != 0) {
        char desc[512];
        kv_reply_describe(r, desc, sizeof desc);
        kv_reply_free(r);
        kvt_fail_msg(file, line, "%s: expected \"%s\", got \"%s\" (%s)", arg0, want, got, desc);
    }
    kv_reply_free(r);
}
#define expect_render(c, want, ...) expect_render_at(__FILE__, __LINE__, (c), (want), __VA_ARGS__)

/* Expects a RESP3 double (or, in RESP2, a bulk string) with the given text. */
static void expect_double_at(const char *file, int line, kv_conn *c, bool resp3, const char *text, ...)
{
    va_list ap;
    va_start(ap, text);
    const char *arg0 = va_arg(ap, const char *);
    kv_reply *r = conn_cmd_va(c, arg0, ap);
    va_end(ap);
    kv_reply_type want = resp3 ? KV_REPLY_DOUBLE : KV_REPLY_BULK;
    if (!r || r->type != want || strcmp(r->str, text) != 0) {
        char desc[512];
        kv_reply_describe(r, desc, sizeof desc);
        kv_reply_free(r);
        kvt_fail_msg(file, line, "%s: expected %s %s, got %s", arg0, kv_reply_type_name(want), text, desc);
    }
    kv_reply_free(r);
}
#define expect_double(c, resp3, text, ...) expect_double_at(__FILE__, __LINE__, (c), (resp3), (text), __VA_ARGS__)

static void hello3(kv_conn *c)
{
    kv_reply *r = conn_cmd(c, "HELLO", "3", NULL);
    assert_non_null(r);
    kv_reply_free(r);
}

/* Skips the test when the reference redis-server predates ZRANK ... WITHSCORE (Redis
 * 7.2); kvns must know it. */
static void require_withscore(kv_conn *c)
{
    if (!srv_target_is_redis())
        return;
    kv_reply *r = conn_cmd(c, "ZRANK", "probe-key", "m", "WITHSCORE", NULL);
    bool ok = r && r->type != KV_REPLY_ERROR;
    kv_reply_free(r);
    if (!ok)
        it_skip("redis-server older than 7.2 (ZRANK WITHSCORE)");
}

/* Adds members "m0".."m<n-1>" with score i * step to key, pipelined in batches. */
static void fill(kv_conn *c, const char *key, int n, double step)
{
    for (int base = 0; base < n; base += 500) {
        int cnt = n - base < 500 ? n - base : 500;
        const char **argv = malloc((size_t)(2 + 2 * cnt) * sizeof *argv);
        char (*bufs)[2][32] = malloc((size_t)cnt * sizeof *bufs);
        argv[0] = "ZADD";
        argv[1] = key;
        for (int i = 0; i < cnt; i++) {
            snprintf(bufs[i][0], 32, "%.17g", (base + i) * step);
            snprintf(bufs[i][1], 32, "m%d", base + i);
            argv[2 + 2 * i] = bufs[i][0];
            argv[3 + 2 * i] = bufs[i][1];
        }
        kv_reply *r = conn_cmdv(c, 2 + 2 * cnt, argv, NULL);
        assert_int(r, cnt);
        kv_reply_free(r);
        free(argv);
        free(bufs);
    }
}

/* ---- ZADD, ZINCRBY, ZSCORE, ZCARD, ZREM ----------------------------------------------------- */

static void test_zadd_basic(void **state)
{
    kv_conn *c = *state;
    expect_int(c, 3, "ZADD", "z", "1", "a", "2", "b", "3", "c", NULL);
    expect_int(c, 0, "ZADD", "z", "10", "a", NULL);              /* update: not added */
    expect_int(c, 1, "ZADD", "z", "4", "d", "2", "b", NULL);
    expect_int(c, 4, "ZCARD", "z", NULL);
    expect_render(c, "10", "ZSCORE", "z", "a", NULL);
    expect_nil(c, "ZSCORE", "z", "nope", NULL);
    expect_nil(c, "ZSCORE", "missing", "a", NULL);
    expect_int(c, 0, "ZCARD", "missing", NULL);
    expect_render(c, "zset", "TYPE", "z", NULL);
    /* the same member twice in one call: the last score wins */
    expect_int(c, 1, "ZADD", "dup", "1", "x", "2", "x", NULL);
    expect_render(c, "2", "ZSCORE", "dup", "x", NULL);
    /* scores: integers, floats, infinities, exponents, formatting with %.17g */
    expect_int(c, 5, "ZADD", "f", "0.1", "a", "-inf", "b", "+inf", "c", "1e308", "d", "1.5e3", "e", NULL);
    expect_render(c, "b -inf a 0.10000000000000001 e 1500 d 1e+308 c inf", "ZRANGE", "f", "0", "-1",
                  "WITHSCORES", NULL);
    expect_render(c, "-inf", "ZSCORE", "f", "b", NULL);
}

/* Option words in any case (and near misses that are scores, hence not floats), and
 * the score forms ZADD's integer fast path must read exactly as strtod does. */
static void test_zadd_option_case_and_score_forms(void **state)
{
    kv_conn *c = *state;
    expect_int(c, 1, "ZADD", "z", "nX", "cH", "1", "a", NULL);
    expect_int(c, 0, "ZADD", "z", "xX", "2", "b", NULL);
    expect_int(c, 1, "ZADD", "z", "Gt", "Ch", "5", "a", NULL);
    expect_int(c, 0, "ZADD", "z", "lT", "7", "a", NULL);
    expect_render(c, "6", "ZADD", "z", "iNcR", "1", "a", NULL);
    expect_error(c, NOT_FLOAT, "ZADD", "z", "nxx", "a", NULL);
    expect_error(c, NOT_FLOAT, "ZADD", "z", "n", "a", NULL);
    expect_error(c, NOT_FLOAT, "ZADD", "z", "inc", "a", NULL);
    expect_error(c, NOT_FLOAT, "ZADD", "z", "incrr", "a", NULL);
    expect_int(c, 10, "ZADD", "s", "007", "a", "-0010", "b", "000000012345", "c", "+5", "d",
               "123456789012345", "e", "-123456789012345", "f", "9007199254740993", "g",
               "0x10", "h", "00", "i", "-0", "j", NULL);
    expect_render(c, "7 -10 12345 5 123456789012345 -123456789012345 9007199254740992 16 0 0",
                  "ZMSCORE", "s", "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", NULL);
    expect_error(c, NOT_FLOAT, "ZADD", "s", "-", "a", NULL);
    expect_error(c, NOT_FLOAT, "ZADD", "s", "--1", "a", NULL);
    expect_error(c, NOT_FLOAT, "ZADD", "s", "12a", "a", NULL);
    expect_error(c, NOT_FLOAT, "ZADD", "s", "1 ", "a", NULL);
    expect_int(c, 10, "ZCARD", "s", NULL);
}

static void test_zadd_options(void **state)
{
    kv_conn *c = *state;
    expect_int(c, 2, "ZADD", "z", "1", "a", "2", "b", NULL);
    /* NX: only new members; XX: only existing ones */
    expect_int(c, 1, "ZADD", "z", "NX", "5", "a", "3", "c", NULL);
    expect_render(c, "1", "ZSCORE", "z", "a", NULL);
    expect_int(c, 0, "ZADD", "z", "XX", "5", "a", "4", "d", NULL);
    expect_render(c, "5", "ZSCORE", "z", "a", NULL);
    expect_nil(c, "ZSCORE", "z", "d", NULL);
    /* CH counts changed members too */
    expect_int(c, 2, "ZADD", "z", "CH", "6", "a", "2", "b", "7", "e", NULL);
    expect_int(c, 0, "ZADD", "z", "ch", "6", "a", NULL);
    /* GT / LT update only upwards / downwards, and still add new members */
    expect_int(c, 1, "ZADD", "z", "GT", "CH", "1", "a", "9", "b", NULL);
    expect_render(c, "6 9", "ZMSCORE", "z", "a", "b", NULL);
    expect_int(c, 2, "ZADD", "z", "LT", "CH", "1", "a", "10", "b", "0", "f", NULL);
    expect_render(c, "1 9 0", "ZMSCORE", "z", "a", "b", "f", NULL);
    expect_int(c, 0, "ZADD", "z", "GT", "XX", "0", "a", "1", "new", NULL);
    expect_nil(c, "ZSCORE", "z", "new", NULL);
    /* INCR: the new score, nil when a condition stopped it */
    expect_render(c, "3.5", "ZADD", "z", "INCR", "2.5", "a", NULL);
    expect_nil(c, "ZADD", "z", "INCR", "NX", "1", "a", NULL);
    expect_render(c, "1", "ZADD", "z", "INCR", "NX", "1", "brand-new", NULL);
    expect_nil(c, "ZADD", "z", "INCR", "XX", "1", "absent", NULL);
    expect_nil(c, "ZADD", "z", "INCR", "GT", "-1", "a", NULL);
    expect_nil(c, "ZADD", "z", "INCR", "LT", "1", "a", NULL);          /* 4.5 is not < 3.5 */
    /* XX on a missing key creates nothing */
    expect_int(c, 0, "ZADD", "none", "XX", "1", "a", NULL);
    expect_nil(c, "ZADD", "none", "XX", "INCR", "1", "a", NULL);
    expect_int(c, 0, "EXISTS", "none", NULL);
    /* option errors, in Redis's order of checks */
    expect_error(c, "ERR XX and NX options at the same time are not compatible", "ZADD", "z", "NX", "XX", "1", "a", NULL);
    expect_error(c, "ERR GT, LT, and/or NX options at the same time are not compatible", "ZADD", "z", "GT", "LT", "1", "a", NULL);
    expect_error(c, "ERR GT, LT, and/or NX options at the same time are not compatible", "ZADD", "z", "NX", "GT", "1", "a", NULL);
    expect_error(c, "ERR GT, LT, and/or NX options at the same time are not compatible", "ZADD", "z", "LT", "NX", "1", "a", NULL);
    expect_error(c, "ERR INCR option supports a single increment-element pair", "ZADD", "z", "INCR", "1", "a", "2", "b", NULL);
    expect_error(c, SYNTAX, "ZADD", "z", "1", "a", "2", NULL);
    expect_error(c, SYNTAX, "ZADD", "z", "NX", "CH", NULL);
    expect_error(c, SYNTAX, "ZADD", "z", "XX", "NX", "1", NULL);
    expect_error(c, "ERR wrong number of arguments for 'zadd' command", "ZADD", "z", "1", NULL);
    expect_error(c, NOT_FLOAT, "ZADD", "z", "abc", "a", NULL);
    expect_error(c, NOT_FLOAT, "ZADD", "z", "nan", "a", NULL);
    expect_error(c, NOT_FLOAT, "ZADD", "z", "1", "a", " 2", "b", NULL);
    expect_error(c, NOT_FLOAT, "ZADD", "z", "1e400", "a", NULL);
    expect_error(c, NOT_FLOAT, "ZADD", "z", "", "a", NULL);
    /* a failed ZADD changed nothing (its valid first pair was not applied) */
    expect_error(c, NOT_FLOAT, "ZADD", "z", "100", "a", "x", "b", NULL);
    expect_render(c, "3.5", "ZSCORE", "z", "a", NULL);
    /* inf + -inf */
    expect_int(c, 1, "ZADD", "n", "inf", "m", NULL);
    expect_error(c, "ERR resulting score is not a number (NaN)", "ZADD", "n", "INCR", "-inf", "m", NULL);
    expect_render(c, "inf", "ZSCORE", "n", "m", NULL);
}

static void test_zincrby(void **state)
{
    kv_conn *c = *state;
    expect_render(c, "2", "ZINCRBY", "z", "2", "a", NULL);
    expect_render(c, "2.5", "ZINCRBY", "z", "0.5", "a", NULL);
    expect_render(c, "0.10000000000000001", "ZINCRBY", "z", "0.1", "b", NULL);
    expect_render(c, "0.30000000000000004", "ZINCRBY", "z", "0.2", "b", NULL);
    expect_render(c, "-7.5", "ZINCRBY", "z", "-10", "a", NULL);
    expect_render(c, "inf", "ZINCRBY", "z", "inf", "i", NULL);
    expect_error(c, "ERR resulting score is not a number (NaN)", "ZINCRBY", "z", "-inf", "i", NULL);
    expect_error(c, NOT_FLOAT, "ZINCRBY", "z", "x", "a", NULL);
    expect_error(c, SYNTAX, "ZINCRBY", "z", "nx", "a", NULL);
    expect_error(c, "ERR wrong number of arguments for 'zincrby' command", "ZINCRBY", "z", "1", NULL);
    expect_render(c, "a -7.5 b 0.30000000000000004 i inf", "ZRANGE", "z", "0", "-1", "WITHSCORES", NULL);
}

static void test_zrem(void **state)
{
    kv_conn *c = *state;
    expect_int(c, 3, "ZADD", "z", "1", "a", "2", "b", "3", "c", NULL);
    expect_int(c, 2, "ZREM", "z", "a", "b", "x", "a", NULL);
    expect_int(c, 1, "ZCARD", "z", NULL);
    expect_int(c, 0, "ZREM", "missing", "a", NULL);
    expect_int(c, 1, "ZREM", "z", "c", "c", NULL);
    expect_int(c, 0, "EXISTS", "z", NULL);              /* empty sets are deleted */
    expect_error(c, "ERR wrong number of arguments for 'zrem' command", "ZREM", "z", NULL);
}

/* ---- ZRANGE and friends ------------------------------------------------------------------------ */

static void test_zrange_rank(void **state)
{
    kv_conn *c = *state;
    expect_int(c, 5, "ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e", NULL);
    expect_render(c, "a b c d e", "ZRANGE", "z", "0", "-1", NULL);
    expect_render(c, "b c", "ZRANGE", "z", "1", "2", NULL);
    expect_render(c, "d e", "ZRANGE", "z", "-2", "100", NULL);
    expect_render(c, "a b", "ZRANGE", "z", "-100", "1", NULL);
    expect_render(c, "", "ZRANGE", "z", "3", "1", NULL);
    expect_render(c, "", "ZRANGE", "z", "5", "10", NULL);
    expect_render(c, "", "ZRANGE", "missing", "0", "-1", NULL);
    expect_render(c, "a 1 b 2", "ZRANGE", "z", "0", "1", "WITHSCORES", NULL);
    expect_render(c, "e d", "ZRANGE", "z", "0", "1", "REV", NULL);
    expect_render(c, "d 4 c 3", "ZRANGE", "z", "1", "2", "REV", "WITHSCORES", NULL);
    expect_render(c, "e d c b a", "ZREVRANGE", "z", "0", "-1", NULL);
    expect_render(c, "b 2 a 1", "ZREVRANGE", "z", "-2", "-1", "withscores", NULL);
    expect_error(c, NOT_INT, "ZRANGE", "z", "a", "1", NULL);
    expect_error(c, NOT_INT, "ZRANGE", "z", "0", "1.5", NULL);
    expect_error(c, "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
                 "ZRANGE", "z", "0", "1", "LIMIT", "0", "1", NULL);
    expect_error(c, "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
                 "ZREVRANGE", "z", "0", "1", "LIMIT", "0", "1", NULL);
    expect_error(c, SYNTAX, "ZRANGE", "z", "0", "1", "LIMIT", "0", NULL);
    expect_error(c, SYNTAX, "ZRANGE", "z", "0", "1", "FOO", NULL);
    expect_error(c, SYNTAX, "ZREVRANGE", "z", "0", "1", "REV", NULL);
    expect_error(c, SYNTAX, "ZRANGE", "z", "0", "1", "BYSCORE", "BYLEX", NULL);
    expect_error(c, "ERR wrong number of arguments for 'zrange' command", "ZRANGE", "z", "0", NULL);
}

static void test_zrange_byscore(void **state)
{
    kv_conn *c = *state;
    expect_int(c, 6, "ZADD", "z", "-inf", "n", "1", "a", "2", "b", "2", "bb", "3", "c", "+inf", "p", NULL);
    expect_render(c, "a b bb c", "ZRANGE", "z", "1", "3", "BYSCORE", NULL);
    expect_render(c, "b bb", "ZRANGE", "z", "(1", "(3", "BYSCORE", NULL);
    expect_render(c, "n a b bb c p", "ZRANGE", "z", "-inf", "+inf", "BYSCORE", NULL);
    expect_render(c, "p", "ZRANGE", "z", "(3", "inf", "BYSCORE", NULL);
    expect_render(c, "", "ZRANGE", "z", "(2", "(2", "BYSCORE", NULL);
    expect_render(c, "", "ZRANGE", "z", "5", "4", "BYSCORE", NULL);
    expect_render(c, "b 2 bb 2", "ZRANGE", "z", "2", "2", "BYSCORE", "WITHSCORES", NULL);
    /* LIMIT offset count: negative count = all, negative offset = nothing */
    expect_render(c, "b bb", "ZRANGE", "z", "-inf", "inf", "BYSCORE", "LIMIT", "2", "2", NULL);
    expect_render(c, "bb c p", "ZRANGE", "z", "-inf", "inf", "BYSCORE", "LIMIT", "3", "-1", NULL);
    expect_render(c, "", "ZRANGE", "z", "-inf", "inf", "BYSCORE", "LIMIT", "-1", "2", NULL);
    expect_render(c, "", "ZRANGE", "z", "-inf", "inf", "BYSCORE", "LIMIT", "6", "2", NULL);
    expect_render(c, "", "ZRANGE", "z", "-inf", "inf", "BYSCORE", "LIMIT", "0", "0", NULL);
    /* REV takes max first */
    expect_render(c, "c bb b a", "ZRANGE", "z", "3", "1", "BYSCORE", "REV", NULL);
    expect_render(c, "bb 2 b 2", "ZRANGE", "z", "(3", "(1", "REV", "BYSCORE", "WITHSCORES", NULL);
    expect_render(c, "b a", "ZRANGE", "z", "+inf", "-inf", "BYSCORE", "REV", "LIMIT", "3", "2", NULL);
    expect_render(c, "a b bb c", "ZRANGEBYSCORE", "z", "1", "3", NULL);
    expect_render(c, "a 1 b 2", "ZRANGEBYSCORE", "z", "1", "3", "WITHSCORES", "LIMIT", "0", "2", NULL);
    expect_render(c, "c bb", "ZREVRANGEBYSCORE", "z", "3", "1", "LIMIT", "0", "2", NULL);
    expect_render(c, "p inf c 3", "ZREVRANGEBYSCORE", "z", "+inf", "(2", "WITHSCORES", NULL);
    /* bounds parse with strtod, like Redis: "(" alone is an exclusive 0 */
    expect_int(c, 1, "ZADD", "zero", "0", "o", NULL);
    expect_render(c, "", "ZRANGEBYSCORE", "zero", "(", "1", NULL);
    expect_render(c, "o", "ZRANGEBYSCORE", "zero", "0", "(1", NULL);
    expect_error(c, NOT_RANGE, "ZRANGE", "z", "a", "1", "BYSCORE", NULL);
    expect_error(c, NOT_RANGE, "ZRANGEBYSCORE", "z", "1", "nan", NULL);
    expect_error(c, NOT_RANGE, "ZRANGEBYSCORE", "z", "(1x", "2", NULL);
    expect_error(c, NOT_INT, "ZRANGEBYSCORE", "z", "1", "2", "LIMIT", "x", "1", NULL);
    expect_error(c, SYNTAX, "ZRANGEBYSCORE", "z", "1", "2", "LIMIT", "1", NULL);
    expect_error(c, SYNTAX, "ZRANGEBYSCORE", "z", "1", "2", "BYSCORE", NULL);
    expect_error(c, SYNTAX, "ZRANGEBYSCORE", "z", "1", "2", "REV", NULL);
}

static void test_zrange_bylex(void **state)
{
    kv_conn *c = *state;
    expect_int(c, 7, "ZADD", "z", "0", "a", "0", "b", "0", "c", "0", "d", "0", "e", "0", "f", "0", "g", NULL);
    expect_render(c, "a b c", "ZRANGE", "z", "-", "[c", "BYLEX", NULL);
    expect_render(c, "a b", "ZRANGE", "z", "-", "(c", "BYLEX", NULL);
    expect_render(c, "c d e f g", "ZRANGE", "z", "[c", "+", "BYLEX", NULL);
    expect_render(c, "c d", "ZRANGE", "z", "(b", "(e", "BYLEX", NULL);
    expect_render(c, "a b c d e f g", "ZRANGEBYLEX", "z", "-", "+", NULL);
    expect_render(c, "", "ZRANGEBYLEX", "z", "+", "-", NULL);
    expect_render(c, "", "ZRANGEBYLEX", "z", "[d", "[c", NULL);
    expect_render(c, "", "ZRANGEBYLEX", "z", "(c", "[c", NULL);
    expect_render(c, "c", "ZRANGEBYLEX", "z", "[c", "[c", NULL);
    expect_render(c, "c d", "ZRANGEBYLEX", "z", "[aa", "(dd", "LIMIT", "1", "2", NULL);
    expect_render(c, "g f e", "ZRANGE", "z", "+", "[e", "BYLEX", "REV", NULL);
    expect_render(c, "e d", "ZREVRANGEBYLEX", "z", "(f", "[b", "LIMIT", "0", "2", NULL);
    expect_render(c, "b a", "ZREVRANGEBYLEX", "z", "[b", "-", NULL);
    expect_error(c, NOT_LEX, "ZRANGEBYLEX", "z", "a", "+", NULL);
    expect_error(c, NOT_LEX, "ZRANGEBYLEX", "z", "-", "c", NULL);
    expect_error(c, NOT_LEX, "ZRANGEBYLEX", "z", "+x", "+", NULL);
    expect_error(c, NOT_LEX, "ZRANGE", "z", "", "+", "BYLEX", NULL);
    expect_error(c, "ERR syntax error, WITHSCORES not supported in combination with BYLEX",
                 "ZRANGE", "z", "-", "+", "BYLEX", "WITHSCORES", NULL);
    expect_error(c, "ERR syntax error, WITHSCORES not supported in combination with BYLEX",
                 "ZRANGEBYLEX", "z", "-", "+", "WITHSCORES", NULL);
}

static void test_zcount_zlexcount(void **state)
{
    kv_conn *c = *state;
    expect_int(c, 5, "ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e", NULL);
    expect_int(c, 3, "ZCOUNT", "z", "2", "4", NULL);
    expect_int(c, 1, "ZCOUNT", "z", "(2", "(4", NULL);
    expect_int(c, 5, "ZCOUNT", "z", "-inf", "+inf", NULL);
    expect_int(c, 0, "ZCOUNT", "z", "(5", "+inf", NULL);
    expect_int(c, 0, "ZCOUNT", "z", "4", "2", NULL);
    expect_int(c, 0, "ZCOUNT", "missing", "0", "1", NULL);
    expect_error(c, NOT_RANGE, "ZCOUNT", "z", "x", "1", NULL);
    expect_int(c, 4, "ZADD", "l", "0", "a", "0", "b", "0", "c", "0", "d", NULL);
    expect_int(c, 4, "ZLEXCOUNT", "l", "-", "+", NULL);
    expect_int(c, 2, "ZLEXCOUNT", "l", "[b", "[c", NULL);
    expect_int(c, 1, "ZLEXCOUNT", "l", "(a", "(c", NULL);
    expect_int(c, 0, "ZLEXCOUNT", "l", "+", "-", NULL);
    expect_int(c, 0, "ZLEXCOUNT", "missing", "-", "+", NULL);
    expect_error(c, NOT_LEX, "ZLEXCOUNT", "l", "b", "+", NULL);
}

static void test_zremrange(void **state)
{
    kv_conn *c = *state;
    expect_int(c, 6, "ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e", "6", "f", NULL);
    expect_int(c, 2, "ZREMRANGEBYRANK", "z", "0", "1", NULL);
    expect_render(c, "c d e f", "ZRANGE", "z", "0", "-1", NULL);
    expect_int(c, 1, "ZREMRANGEBYRANK", "z", "-1", "-1", NULL);
    expect_int(c, 0, "ZREMRANGEBYRANK", "z", "5", "10", NULL);
    expect_int(c, 2, "ZREMRANGEBYSCORE", "z", "(3", "5", NULL);
    expect_render(c, "c", "ZRANGE", "z", "0", "-1", NULL);
    expect_int(c, 0, "ZREMRANGEBYSCORE", "z", "10", "20", NULL);
    expect_int(c, 1, "ZREMRANGEBYSCORE", "z", "-inf", "+inf", NULL);
    expect_int(c, 0, "EXISTS", "z", NULL);
    expect_int(c, 5, "ZADD", "l", "0", "a", "0", "b", "0", "c", "0", "d", "0", "e", NULL);
    expect_int(c, 2, "ZREMRANGEBYLEX", "l", "(a", "[c", NULL);
    expect_render(c, "a d e", "ZRANGE", "l", "0", "-1", NULL);
    expect_int(c, 3, "ZREMRANGEBYLEX", "l", "-", "+", NULL);
    expect_int(c, 0, "EXISTS", "l", NULL);
    expect_int(c, 0, "ZREMRANGEBYRANK", "missing", "0", "-1", NULL);
    expect_error(c, NOT_INT, "ZREMRANGEBYRANK", "z", "0", "x", NULL);
    expect_error(c, NOT_RANGE, "ZREMRANGEBYSCORE", "z", "0", "x", NULL);
    expect_error(c, NOT_LEX, "ZREMRANGEBYLEX", "z", "0", "+", NULL);
}

static void test_zrank_zmscore(void **state)
{
    kv_conn *c = *state;
    expect_int(c, 3, "ZADD", "z", "1", "a", "2", "b", "3", "c", NULL);
    expect_int(c, 0, "ZRANK", "z", "a", NULL);
    expect_int(c, 2, "ZRANK", "z", "c", NULL);
    expect_int(c, 2, "ZREVRANK", "z", "a", NULL);
    expect_nil(c, "ZRANK", "z", "x", NULL);
    expect_nil(c, "ZREVRANK", "missing", "x", NULL);
    expect_render(c, "1 nil 3", "ZMSCORE", "z", "a", "x", "c", NULL);
    expect_render(c, "nil nil", "ZMSCORE", "missing", "a", "b", NULL);
    expect_error(c, "ERR wrong number of arguments for 'zmscore' command", "ZMSCORE", "z", NULL);
}

/* ZRANK / ZREVRANK ... WITHSCORE (Redis 7.2). */
static void test_zrank_withscore(void **state)
{
    kv_conn *c = *state;
    require_withscore(c);
    expect_int(c, 3, "ZADD", "z", "1.5", "a", "2", "b", "3", "c", NULL);
    expect_render(c, "0 1.5", "ZRANK", "z", "a", "WITHSCORE", NULL);
    expect_render(c, "0 3", "ZREVRANK", "z", "c", "withscore", NULL);
    expect_render(c, "nil", "ZRANK", "z", "x", "WITHSCORE", NULL);
    expect_render(c, "nil", "ZRANK", "missing", "x", "WITHSCORE", NULL);
    expect_error(c, SYNTAX, "ZRANK", "z", "a", "WITHSCORES", NULL);
    expect_error(c, "ERR wrong number of arguments for 'zrank' command", "ZRANK", "z", "a", "WITHSCORE", "x", NULL);
    /* RESP2: a nil array for a missing member with WITHSCORE; RESP3 shapes */
    kv_reply *r = conn_cmd(c, "ZRANK", "z", "x", "WITHSCORE", NULL);
    assert_true(r && r->type == KV_REPLY_NIL && r->prefix == '*');
    kv_reply_free(r);
    hello3(c);
    r = conn_cmd(c, "ZRANK", "z", "b", "WITHSCORE", NULL);
    assert_true(r && r->type == KV_REPLY_ARRAY && r->count == 2);
    assert_true(r->elements[0]->type == KV_REPLY_INTEGER && r->elements[0]->integer == 1);
    assert_true(r->elements[1]->type == KV_REPLY_DOUBLE && r->elements[1]->dval == 2);
    kv_reply_free(r);
}

/* ---- ZPOPMIN, ZPOPMAX, ZMPOP, ZRANDMEMBER --------------------------------------------------------- */

static void test_zpop(void **state)
{
    kv_conn *c = *state;
    expect_int(c, 4, "ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d", NULL);
    expect_render(c, "a 1", "ZPOPMIN", "z", NULL);
    expect_render(c, "d 4", "ZPOPMAX", "z", NULL);
    expect_render(c, "b 2 c 3", "ZPOPMIN", "z", "5", NULL);
    expect_int(c, 0, "EXISTS", "z", NULL);
    expect_render(c, "", "ZPOPMIN", "z", NULL);
    expect_render(c, "", "ZPOPMAX", "missing", "3", NULL);
    expect_int(c, 3, "ZADD", "y", "1", "a", "2", "b", "3", "c", NULL);
    expect_render(c, "", "ZPOPMAX", "y", "0", NULL);
    expect_render(c, "c 3 b 2", "ZPOPMAX", "y", "2", NULL);
    expect_error(c, "ERR value is out of range, must be positive", "ZPOPMIN", "y", "-1", NULL);
    expect_error(c, "ERR value is out of range, must be positive", "ZPOPMIN", "y", "x", NULL);
    expect_error(c, SYNTAX, "ZPOPMIN", "y", "1", "2", NULL);
    expect_int(c, 1, "ZCARD", "y", NULL);
}

static void test_zmpop(void **state)
{
    kv_conn *c = *state;
    expect_int(c, 3, "ZADD", "b", "1", "x", "2", "y", "3", "z", NULL);
    expect_render(c, "b [[x 1]]", "ZMPOP", "2", "a", "b", "MIN", NULL);
    expect_render(c, "b [[z 3] [y 2]]", "ZMPOP", "2", "a", "b", "MAX", "COUNT", "10", NULL);
    expect_int(c, 0, "EXISTS", "b", NULL);
    expect_render(c, "nil", "ZMPOP", "2", "a", "b", "MIN", NULL);
    expect_error(c, "ERR numkeys should be greater than 0", "ZMPOP", "0", "a", "MIN", NULL);
    expect_error(c, "ERR numkeys should be greater than 0", "ZMPOP", "x", "a", "MIN", NULL);
    expect_error(c, SYNTAX, "ZMPOP", "1", "a", "MIDDLE", NULL);
    expect_error(c, SYNTAX, "ZMPOP", "3", "a", "MIN", NULL);
    expect_error(c, "ERR count should be greater than 0", "ZMPOP", "1", "a", "MIN", "COUNT", "0", NULL);
    expect_error(c, SYNTAX, "ZMPOP", "1", "a", "MIN", "COUNT", "1", "COUNT", "2", NULL);
    expect_render(c, "OK", "SET", "s", "v", NULL);
    expect_error(c, WRONGTYPE, "ZMPOP", "2", "s", "b", "MIN", NULL);
}

static void test_zrandmember(void **state)
{
    kv_conn *c = *state;
    expect_nil(c, "ZRANDMEMBER", "missing", NULL);
    expect_render(c, "", "ZRANDMEMBER", "missing", "5", NULL);
    expect_int(c, 3, "ZADD", "z", "1", "a", "2", "b", "3", "c", NULL);
    kv_reply *r = conn_cmd(c, "ZRANDMEMBER", "z", NULL);
    assert_true(r && r->type == KV_REPLY_BULK && strchr("abc", r->str[0]) && r->len == 1);
    kv_reply_free(r);
    /* a count >= size returns every member, highest score first (Redis's iteration) */
    expect_render(c, "c b a", "ZRANDMEMBER", "z", "10", NULL);
    expect_render(c, "c 3 b 2 a 1", "ZRANDMEMBER", "z", "3", "WITHSCORES", NULL);
    expect_render(c, "", "ZRANDMEMBER", "z", "0", NULL);
    /* distinct members for a positive count; repeats allowed for a negative one */
    r = conn_cmd(c, "ZRANDMEMBER", "z", "2", NULL);
    assert_true(r && r->type == KV_REPLY_ARRAY && r->count == 2);
    assert_true(strcmp(r->elements[0]->str, r->elements[1]->str) != 0);
    kv_reply_free(r);
    r = conn_cmd(c, "ZRANDMEMBER", "z", "-20", "WITHSCORES", NULL);
    assert_true(r && r->type == KV_REPLY_ARRAY && r->count == 40);
    for (size_t i = 0; i < 40; i += 2)
        assert_true(r->elements[i + 1]->str[0] == r->elements[i]->str[0] - 'a' + '1');
    kv_reply_free(r);
    expect_error(c, NOT_INT, "ZRANDMEMBER", "z", "x", NULL);
    expect_error(c, SYNTAX, "ZRANDMEMBER", "z", "1", "WITHSCORE", NULL);
    expect_error(c, SYNTAX, "ZRANDMEMBER", "z", "1", "WITHSCORES", "x", NULL);
    expect_error(c, "ERR value is out of range", "ZRANDMEMBER", "z", "-9223372036854775807", "WITHSCORES", NULL);
    expect_error(c, "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
                 "ZRANDMEMBER", "z", "-9223372036854775808", NULL);
    /* a large set: distinct picks, both strategies (count * 3 > size and not) */
    fill(c, "big", 300, 1);
    for (int k = 0; k < 2; k++) {
        r = conn_cmd(c, "ZRANDMEMBER", "big", k ? "250" : "20", NULL);
        assert_true(r && r->type == KV_REPLY_ARRAY && r->count == (k ? 250u : 20u));
        for (size_t i = 0; i < r->count; i++)
            for (size_t j = i + 1; j < r->count; j++)
                assert_true(strcmp(r->elements[i]->str, r->elements[j]->str) != 0);
        kv_reply_free(r);
    }
}

/* ---- ZRANGESTORE and the set operations ---------------------------------------------------------- */

static void test_zrangestore(void **state)
{
    kv_conn *c = *state;
    expect_int(c, 5, "ZADD", "src", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e", NULL);
    expect_int(c, 3, "ZRANGESTORE", "dst", "src", "1", "3", NULL);
    expect_render(c, "b 2 c 3 d 4", "ZRANGE", "dst", "0", "-1", "WITHSCORES", NULL);
    expect_int(c, 2, "ZRANGESTORE", "dst", "src", "(1", "4", "BYSCORE", "LIMIT", "1", "2", NULL);
    expect_render(c, "c d", "ZRANGE", "dst", "0", "-1", NULL);
    expect_int(c, 2, "ZRANGESTORE", "dst", "src", "+inf", "-inf", "BYSCORE", "REV", "LIMIT", "0", "2", NULL);
    expect_render(c, "d 4 e 5", "ZRANGE", "dst", "0", "-1", "WITHSCORES", NULL);
    expect_int(c, 2, "ZRANGESTORE", "dst", "src", "0", "1", "REV", NULL);
    expect_render(c, "d e", "ZRANGE", "dst", "0", "-1", NULL);
    /* an empty result deletes the destination; a missing source too */
    expect_int(c, 0, "ZRANGESTORE", "dst", "src", "10", "20", NULL);
    expect_int(c, 0, "EXISTS", "dst", NULL);
    expect_render(c, "OK", "SET", "dst", "string", NULL);
    expect_int(c, 0, "ZRANGESTORE", "dst", "missing", "0", "-1", NULL);
    expect_int(c, 0, "EXISTS", "dst", NULL);
    /* the destination is replaced whatever it held; source and destination may match */
    expect_render(c, "OK", "SET", "dst", "string", NULL);
    expect_int(c, 5, "ZRANGESTORE", "dst", "src", "0", "-1", NULL);
    expect_render(c, "zset", "TYPE", "dst", NULL);
    expect_int(c, 2, "ZRANGESTORE", "src", "src", "0", "1", NULL);
    expect_render(c, "a b", "ZRANGE", "src", "0", "-1", NULL);
    expect_int(c, 2, "ZRANGESTORE", "lex", "dst", "[b", "(d", "BYLEX", NULL);
    expect_error(c, SYNTAX, "ZRANGESTORE", "dst", "src", "0", "1", "WITHSCORES", NULL);
    expect_render(c, "OK", "SET", "str", "v", NULL);
    expect_error(c, WRONGTYPE, "ZRANGESTORE", "dst", "str", "0", "1", NULL);
    expect_error(c, "ERR wrong number of arguments for 'zrangestore' command", "ZRANGESTORE", "dst", "src", "0", NULL);
}

static void test_zunion_inter_diff(void **state)
{
    kv_conn *c = *state;
    expect_int(c, 3, "ZADD", "z1", "1", "a", "2", "b", "3", "c", NULL);
    expect_int(c, 3, "ZADD", "z2", "10", "b", "20", "c", "30", "d", NULL);
    expect_int(c, 4, "ZUNIONSTORE", "u", "2", "z1", "z2", NULL);
    expect_render(c, "a 1 b 12 c 23 d 30", "ZRANGE", "u", "0", "-1", "WITHSCORES", NULL);
    expect_int(c, 4, "ZUNIONSTORE", "u", "2", "z1", "z2", "WEIGHTS", "2", "0.5", "AGGREGATE", "MAX", NULL);
    expect_render(c, "a 2 b 5 c 10 d 15", "ZRANGE", "u", "0", "-1", "WITHSCORES", NULL);
    expect_int(c, 2, "ZINTERSTORE", "i", "2", "z1", "z2", "AGGREGATE", "min", NULL);
    expect_render(c, "b 2 c 3", "ZRANGE", "i", "0", "-1", "WITHSCORES", NULL);
    expect_int(c, 2, "ZINTERSTORE", "i", "2", "z1", "z2", NULL);
    expect_render(c, "b 12 c 23", "ZRANGE", "i", "0", "-1", "WITHSCORES", NULL);
    expect_int(c, 1, "ZDIFFSTORE", "d", "2", "z1", "z2", NULL);
    expect_render(c, "a 1", "ZRANGE", "d", "0", "-1", "WITHSCORES", NULL);
    /* missing keys are empty sets; an empty result deletes the destination */
    expect_int(c, 3, "ZUNIONSTORE", "u", "2", "z1", "missing", NULL);
    expect_int(c, 0, "ZINTERSTORE", "u", "2", "z1", "missing", NULL);
    expect_int(c, 0, "EXISTS", "u", NULL);
    expect_int(c, 0, "ZDIFFSTORE", "d", "2", "z1", "z1", NULL);
    expect_int(c, 0, "EXISTS", "d", NULL);
    /* sets count with score 1 */
    expect_int(c, 2, "SADD", "s", "a", "d", NULL);
    expect_int(c, 4, "ZUNIONSTORE", "u", "2", "z1", "s", NULL);
    expect_render(c, "c 3 b 2 a 2 d 1", "ZRANGE", "u", "0", "-1", "WITHSCORES", "REV", NULL);
    expect_render(c, "a 11", "ZINTER", "2", "s", "z1", "WEIGHTS", "10", "1", "WITHSCORES", NULL);
    /* inf * 0 is NaN, taken as 0; inf + -inf sums to 0 */
    expect_int(c, 1, "ZADD", "pinf", "inf", "m", NULL);
    expect_int(c, 1, "ZADD", "ninf", "-inf", "m", NULL);
    expect_render(c, "m 0", "ZUNION", "2", "pinf", "ninf", "WITHSCORES", NULL);
    expect_render(c, "m 0", "ZUNION", "1", "pinf", "WEIGHTS", "0", "WITHSCORES", NULL);
    /* the reading forms */
    expect_render(c, "a b c d", "ZUNION", "2", "z1", "z2", NULL);
    expect_render(c, "a 1 b 12 c 23 d 30", "ZUNION", "2", "z1", "z2", "WITHSCORES", NULL);
    expect_render(c, "b c", "ZINTER", "2", "z1", "z2", NULL);
    expect_render(c, "a 1", "ZDIFF", "2", "z1", "z2", "WITHSCORES", NULL);
    expect_render(c, "d", "ZDIFF", "2", "z2", "z1", NULL);
    expect_int(c, 2, "ZINTERCARD", "2", "z1", "z2", NULL);
    expect_int(c, 1, "ZINTERCARD", "2", "z1", "z2", "LIMIT", "1", NULL);
    expect_int(c, 2, "ZINTERCARD", "2", "z1", "z2", "LIMIT", "0", NULL);
    /* errors */
    expect_error(c, "ERR at least 1 input key is needed for 'zunionstore' command", "ZUNIONSTORE", "u", "0", "z1", NULL);
    expect_error(c, "ERR at least 1 input key is needed for 'zunion' command", "ZUNION", "0", "z1", NULL);
    expect_error(c, NOT_INT, "ZUNION", "x", "z1", NULL);
    expect_error(c, SYNTAX, "ZUNION", "3", "z1", "z2", NULL);
    expect_error(c, SYNTAX, "ZUNIONSTORE", "u", "1", "z1", "WITHSCORES", NULL);
    expect_error(c, SYNTAX, "ZUNION", "2", "z1", "z2", "WEIGHTS", "1", NULL);
    expect_error(c, "ERR weight value is not a float", "ZUNION", "2", "z1", "z2", "WEIGHTS", "1", "x", NULL);
    expect_error(c, SYNTAX, "ZUNION", "1", "z1", "AGGREGATE", "avg", NULL);
    expect_error(c, SYNTAX, "ZDIFF", "2", "z1", "z2", "WEIGHTS", "1", "2", NULL);
    expect_error(c, SYNTAX, "ZINTERCARD", "1", "z1", "WITHSCORES", NULL);
    expect_error(c, "ERR LIMIT can't be negative", "ZINTERCARD", "1", "z1", "LIMIT", "-1", NULL);
    expect_render(c, "OK", "SET", "str", "v", NULL);
    expect_error(c, WRONGTYPE, "ZUNIONSTORE", "u", "2", "z1", "str", NULL);
    expect_error(c, WRONGTYPE, "ZINTER", "2", "str", "z1", NULL);
    /* the destination may be one of the sources */
    expect_int(c, 4, "ZUNIONSTORE", "z1", "2", "z1", "z2", NULL);
    expect_render(c, "a b c d", "ZRANGE", "z1", "0", "-1", NULL);
}

/* ---- ZSCAN -------------------------------------------------------------------------------------------- */

static void test_zscan(void **state)
{
    kv_conn *c = *state;
    expect_render(c, "0 []", "ZSCAN", "missing", "0", NULL);
    expect_int(c, 3, "ZADD", "z", "1", "a", "2.5", "b", "3", "c", NULL);
    expect_render(c, "0 [a 1 b 2.5 c 3]", "ZSCAN", "z", "0", NULL);
    expect_render(c, "0 [b 2.5]", "ZSCAN", "z", "0", "MATCH", "b*", NULL);
    expect_error(c, "ERR invalid cursor", "ZSCAN", "z", "x", NULL);
    expect_error(c, SYNTAX, "ZSCAN", "z", "0", "COUNT", "0", NULL);
    expect_error(c, SYNTAX, "ZSCAN", "z", "0", "TYPE", "zset", NULL);
    expect_error(c, NOT_INT, "ZSCAN", "z", "0", "COUNT", "x", NULL);
    /* a large set: a full iteration returns every member with its score */
    fill(c, "big", 1000, 0.5);
    bool *seen = calloc(1000, 1);
    char cursor[32] = "0";
    int rounds = 0;
    do {
        kv_reply *r = conn_cmd(c, "ZSCAN", "big", cursor, "COUNT", "50", NULL);
        assert_true(r && r->type == KV_REPLY_ARRAY && r->count == 2);
        snprintf(cursor, sizeof cursor, "%s", r->elements[0]->str);
        const kv_reply *items = r->elements[1];
        assert_true(items->count % 2 == 0);
        for (size_t i = 0; i < items->count; i += 2) {
            int idx = atoi(items->elements[i]->str + 1);
            assert_true(idx >= 0 && idx < 1000);
            char want[32];
            snprintf(want, sizeof want, "%.17g", idx * 0.5);
            assert_string_equal(items->elements[i + 1]->str, want);
            seen[idx] = true;
        }
        kv_reply_free(r);
        rounds++;
    } while (strcmp(cursor, "0") != 0 && rounds < 10000);
    for (int i = 0; i < 1000; i++)
        assert_true(seen[i]);
    assert_true(rounds > 5);
    free(seen);
}

/* ---- encodings, RESP3 shapes, types --------------------------------------------------------------- */

static void test_encodings(void **state)
{
    kv_conn *c = *state;
    fill(c, "z", 128, 1);
    expect_render(c, "listpack", "OBJECT", "ENCODING", "z", NULL);
    expect_int(c, 1, "ZADD", "z", "1000", "one-more", NULL);
    expect_render(c, "skiplist", "OBJECT", "ENCODING", "z", NULL);
    expect_int(c, 128, "ZREMRANGEBYRANK", "z", "1", "-1", NULL);
    expect_render(c, "skiplist", "OBJECT", "ENCODING", "z", NULL);      /* never converts back */
    char m64[65], m65[66];
    memset(m64, 'x', 64);
    m64[64] = 0;
    memset(m65, 'y', 65);
    m65[65] = 0;
    expect_int(c, 1, "ZADD", "v", "1", m64, NULL);
    expect_render(c, "listpack", "OBJECT", "ENCODING", "v", NULL);
    expect_int(c, 1, "ZADD", "v", "2", m65, NULL);
    expect_render(c, "skiplist", "OBJECT", "ENCODING", "v", NULL);
    expect_int(c, 1, "ZADD", "w", "1", m65, NULL);
    expect_render(c, "skiplist", "OBJECT", "ENCODING", "w", NULL);
    /* stored results take the compact encoding when they fit */
    expect_int(c, 2, "ZUNIONSTORE", "u", "1", "v", "WEIGHTS", "1", NULL);
    expect_render(c, "skiplist", "OBJECT", "ENCODING", "u", NULL);
    expect_int(c, 1, "ZRANGESTORE", "r", "v", "0", "0", NULL);
    expect_render(c, "listpack", "OBJECT", "ENCODING", "r", NULL);
    /* a compact set stores -0 as 0 (Redis's listpack keeps integral scores as integers) */
    expect_int(c, 1, "ZADD", "neg0", "-0", "m", NULL);
    expect_render(c, "0", "ZSCORE", "neg0", "m", NULL);
}

static void test_resp3_shapes(void **state)
{
    kv_conn *c = *state;
    expect_int(c, 2, "ZADD", "z", "1.5", "a", "2", "b", NULL);
    expect_double(c, false, "1.5", "ZSCORE", "z", "a", NULL);
    hello3(c);
    expect_double(c, true, "1.5", "ZSCORE", "z", "a", NULL);
    expect_double(c, true, "3.5", "ZINCRBY", "z", "2", "a", NULL);
    expect_double(c, true, "4.5", "ZADD", "z", "INCR", "1", "a", NULL);
    expect_render(c, "[b 2] [a 4.5]", "ZRANGE", "z", "0", "-1", "WITHSCORES", NULL);
    expect_render(c, "[a 4.5]", "ZRANGEBYSCORE", "z", "3", "5", "WITHSCORES", NULL);
    expect_render(c, "[b 2] [a 4.5]", "ZUNION", "1", "z", "WITHSCORES", "AGGREGATE", "SUM", NULL);
    expect_render(c, "4.5 nil", "ZMSCORE", "z", "a", "x", NULL);
    kv_reply *r = conn_cmd(c, "ZMSCORE", "z", "b", NULL);
    assert_true(r && r->elements[0]->type == KV_REPLY_DOUBLE);
    kv_reply_free(r);
    expect_render(c, "[a 4.5] [b 2]", "ZRANDMEMBER", "z", "5", "WITHSCORES", NULL);
    /* ZPOPMIN: flat without a count, nested with one */
    expect_render(c, "b 2", "ZPOPMIN", "z", NULL);
    expect_int(c, 2, "ZADD", "z", "1", "x", "2", "y", NULL);
    expect_render(c, "[x 1] [y 2]", "ZPOPMIN", "z", "2", NULL);
    r = conn_cmd(c, "ZPOPMAX", "z", "1", NULL);
    assert_true(r && r->count == 1 && r->elements[0]->type == KV_REPLY_ARRAY &&
                r->elements[0]->elements[1]->type == KV_REPLY_DOUBLE);
    kv_reply_free(r);
    expect_render(c, "nil", "ZSCORE", "z", "a", NULL);
    expect_int(c, 1, "ZADD", "m", "5", "k", NULL);
    expect_render(c, "m [[k 5]]", "ZMPOP", "1", "m", "MAX", NULL);
    /* ZSCAN scores stay bulk strings */
    expect_int(c, 1, "ZADD", "s", "0.25", "q", NULL);
    r = conn_cmd(c, "ZSCAN", "s", "0", NULL);
    assert_true(r && r->elements[1]->elements[1]->type == KV_REPLY_BULK);
    kv_reply_free(r);
}

static void test_wrongtype(void **state)
{
    kv_conn *c = *state;
    expect_render(c, "OK", "SET", "s", "v", NULL);
    expect_error(c, WRONGTYPE, "ZADD", "s", "1", "a", NULL);
    expect_error(c, WRONGTYPE, "ZINCRBY", "s", "1", "a", NULL);
    expect_error(c, WRONGTYPE, "ZREM", "s", "a", NULL);
    expect_error(c, WRONGTYPE, "ZCARD", "s", NULL);
    expect_error(c, WRONGTYPE, "ZSCORE", "s", "a", NULL);
    expect_error(c, WRONGTYPE, "ZMSCORE", "s", "a", NULL);
    expect_error(c, WRONGTYPE, "ZRANK", "s", "a", NULL);
    expect_error(c, WRONGTYPE, "ZREVRANK", "s", "a", NULL);
    expect_error(c, WRONGTYPE, "ZRANGE", "s", "0", "1", NULL);
    expect_error(c, WRONGTYPE, "ZRANGEBYSCORE", "s", "0", "1", NULL);
    expect_error(c, WRONGTYPE, "ZREVRANGEBYLEX", "s", "+", "-", NULL);
    expect_error(c, WRONGTYPE, "ZCOUNT", "s", "0", "1", NULL);
    expect_error(c, WRONGTYPE, "ZLEXCOUNT", "s", "-", "+", NULL);
    expect_error(c, WRONGTYPE, "ZREMRANGEBYRANK", "s", "0", "1", NULL);
    expect_error(c, WRONGTYPE, "ZREMRANGEBYSCORE", "s", "0", "1", NULL);
    expect_error(c, WRONGTYPE, "ZREMRANGEBYLEX", "s", "-", "+", NULL);
    expect_error(c, WRONGTYPE, "ZPOPMIN", "s", NULL);
    expect_error(c, WRONGTYPE, "ZPOPMAX", "s", "2", NULL);
    expect_error(c, WRONGTYPE, "ZRANDMEMBER", "s", NULL);
    expect_error(c, WRONGTYPE, "ZRANDMEMBER", "s", "2", NULL);
    expect_error(c, WRONGTYPE, "ZSCAN", "s", "0", NULL);
    expect_error(c, WRONGTYPE, "ZUNION", "1", "s", NULL);
    expect_error(c, WRONGTYPE, "ZDIFFSTORE", "d", "1", "s", NULL);
    /* argument errors come before the type check where Redis parses first */
    expect_error(c, NOT_FLOAT, "ZADD", "s", "x", "a", NULL);
    expect_error(c, NOT_RANGE, "ZCOUNT", "s", "x", "1", NULL);
    expect_error(c, "ERR invalid cursor", "ZSCAN", "s", "x", NULL);
    /* SET and DEL overwrite / remove a zset */
    expect_int(c, 1, "ZADD", "z", "1", "a", NULL);
    expect_render(c, "OK", "SET", "z", "v", NULL);
    expect_render(c, "string", "TYPE", "z", NULL);
    expect_int(c, 1, "ZADD", "z2", "1", "a", NULL);
    expect_int(c, 1, "DEL", "z2", NULL);
    expect_int(c, 0, "EXISTS", "z2", NULL);
}

/* A few thousand members (skiplist): ranks, ranges and removals checked against the
 * arithmetic of the scores (member i has score 2i). */
static void test_large_set(void **state)
{
    kv_conn *c = *state;
    fill(c, "big", 3000, 2);
    expect_int(c, 3000, "ZCARD", "big", NULL);
    expect_render(c, "skiplist", "OBJECT", "ENCODING", "big", NULL);
    expect_int(c, 1234, "ZRANK", "big", "m1234", NULL);
    expect_int(c, 3000 - 1 - 1234, "ZREVRANK", "big", "m1234", NULL);
    expect_render(c, "m1000 2000 m1001 2002", "ZRANGE", "big", "1000", "1001", "WITHSCORES", NULL);
    expect_render(c, "m2999 m2998", "ZREVRANGE", "big", "0", "1", NULL);
    expect_render(c, "m11 m12 m13", "ZRANGEBYSCORE", "big", "(20", "26", NULL);
    expect_render(c, "m2500 m2501", "ZRANGE", "big", "5000", "+inf", "BYSCORE", "LIMIT", "0", "2", NULL);
    expect_render(c, "m1997 m1996", "ZRANGE", "big", "(4000", "-inf", "BYSCORE", "REV", "LIMIT", "2", "2", NULL);
    expect_int(c, 501, "ZCOUNT", "big", "1000", "2000", NULL);
    expect_int(c, 100, "ZREMRANGEBYRANK", "big", "0", "99", NULL);
    expect_render(c, "m100", "ZRANGE", "big", "0", "0", NULL);
    expect_int(c, 100, "ZREMRANGEBYSCORE", "big", "(400", "600", NULL);
    expect_int(c, 2800, "ZCARD", "big", NULL);
    expect_int(c, 200, "ZRANK", "big", "m400", NULL);
    expect_int(c, 1, "ZADD", "big", "-1", "m0", NULL);
    expect_render(c, "m0 m100", "ZRANGE", "big", "0", "1", NULL);
}

/* The empty string is a valid member everywhere. */
static void test_empty_member(void **state)
{
    kv_conn *c = *state;
    expect_int(c, 2, "ZADD", "z", "1", "", "2", "a", NULL);
    expect_render(c, "1", "ZSCORE", "z", "", NULL);
    expect_int(c, 0, "ZRANK", "z", "", NULL);
    expect_render(c, " 1 a 2", "ZRANGE", "z", "0", "-1", "WITHSCORES", NULL);
    expect_render(c, " a", "ZRANGEBYLEX", "z", "[", "+", NULL);
    expect_render(c, "", "ZRANGEBYLEX", "z", "-", "(", NULL);
    expect_int(c, 1, "ZRANGESTORE", "d", "z", "0", "0", NULL);
    expect_render(c, " 1", "ZRANGE", "d", "0", "-1", "WITHSCORES", NULL);
    expect_render(c, " 2 a 2", "ZUNION", "2", "z", "d", "WITHSCORES", "AGGREGATE", "SUM", NULL);
    expect_int(c, 1, "ZUNIONSTORE", "u", "1", "d", NULL);
    expect_render(c, "", "ZDIFF", "2", "d", "z", NULL);
    expect_int(c, 1, "ZREM", "z", "", NULL);
    expect_render(c, "a", "ZRANGE", "z", "0", "-1", NULL);
}

/* Key-level commands on sorted sets: COPY (both encodings, independent copies),
 * RENAME, EXPIRE/TTL, DEL of a large set. */
static void test_generic_key_ops(void **state)
{
    kv_conn *c = *state;
    expect_int(c, 2, "ZADD", "small", "1", "a", "2", "b", NULL);
    expect_int(c, 1, "COPY", "small", "small2", NULL);
    expect_int(c, 1, "ZADD", "small", "3", "c", NULL);
    expect_render(c, "a 1 b 2", "ZRANGE", "small2", "0", "-1", "WITHSCORES", NULL);
    expect_render(c, "listpack", "OBJECT", "ENCODING", "small2", NULL);
    fill(c, "big", 500, 1);
    expect_int(c, 1, "COPY", "big", "big2", NULL);
    expect_int(c, 10, "ZREMRANGEBYRANK", "big", "0", "9", NULL);
    expect_int(c, 500, "ZCARD", "big2", NULL);
    expect_render(c, "skiplist", "OBJECT", "ENCODING", "big2", NULL);
    expect_int(c, 250, "ZRANK", "big2", "m250", NULL);
    expect_render(c, "m499 499", "ZRANGE", "big2", "-1", "-1", "WITHSCORES", NULL);
    expect_int(c, 1, "ZADD", "big2", "-5", "first", NULL);
    expect_render(c, "first m0", "ZRANGE", "big2", "0", "1", NULL);
    expect_render(c, "OK", "RENAME", "big2", "big3", NULL);
    expect_int(c, 501, "ZCARD", "big3", NULL);
    expect_int(c, 1, "EXPIRE", "big3", "100", NULL);
    expect_int_range(c, 99, 100, "TTL", "big3", NULL);
    expect_int(c, 501, "ZCARD", "big3", NULL);
    expect_int(c, 1, "ZADD", "big3", "1000", "late", NULL);
    expect_int_range(c, 99, 100, "TTL", "big3", NULL);
    expect_int(c, 3, "DEL", "big", "big3", "small", NULL);
    expect_int(c, 0, "EXISTS", "big", "big3", "small", NULL);
    expect_int(c, 1, "EXISTS", "small2", NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_zadd_basic, it_test_setup, it_test_teardown),
        cmocka_unit_test_setup_teardown(test_zadd_option_case_and_score_forms, it_test_setup, it_test_teardown),
        cmocka_unit_test_setup_teardown(test_zadd_options, it_test_setup, it_test_teardown),
        cmocka_unit_test_setup_teardown(test_zincrby, it_test_setup, it_test_teardown),
        cmocka_unit_test_setup_teardown(test_zrem, it_test_setup, it_test_teardown),
        cmocka_unit_test_setup_teardown(test_zrange_rank, it_test_setup, it_test_teardown),
        cmocka_unit_test_setup_teardown(test_zrange_byscore, it_test_setup, it_test_teardown),
        cmocka_unit_test_setup_teardown(test_zrange_bylex, it_test_setup, it_test_teardown),
        cmocka_unit_test_setup_teardown(test_zcount_zlexcount, it_test_setup, it_test_teardown),
        cmocka_unit_test_setup_teardown(test_zremrange, it_test_setup, it_test_teardown),
        cmocka_unit_test_setup_teardown(test_zrank_zmscore, it_test_setup, it_test_teardown),
        cmocka_unit_test_setup_teardown(test_zrank_withscore, it_test_setup, it_test_teardown),
        cmocka_unit_test_setup_teardown(test_zpop, it_test_setup, it_test_teardown),
        cmocka_unit_test_setup_teardown(test_zmpop, it_test_setup, it_test_teardown),
        cmocka_unit_test_setup_teardown(test_zrandmember, it_test_setup, it_test_teardown),
        cmocka_unit_test_setup_teardown(test_zrangestore, it_test_setup, it_test_teardown),
        cmocka_unit_test_setup_teardown(test_zunion_inter_diff, it_test_setup, it_test_teardown),
        cmocka_unit_test_setup_teardown(test_zscan, it_test_setup, it_test_teardown),
        cmocka_unit_test_setup_teardown(test_encodings, it_test_setup, it_test_teardown),
        cmocka_unit_test_setup_teardown(test_resp3_shapes, it_test_setup, it_test_teardown),
        cmocka_unit_test_setup_teardown(test_wrongtype, it_test_setup, it_test_teardown),
        cmocka_unit_test_setup_teardown(test_large_set, it_test_setup, it_test_teardown),
        cmocka_unit_test_setup_teardown(test_empty_member, it_test_setup, it_test_teardown),
        cmocka_unit_test_setup_teardown(test_generic_key_ops, it_test_setup, it_test_teardown),
    };
    return cmocka_run_group_tests(tests, it_group_setup, it_group_teardown);
}
