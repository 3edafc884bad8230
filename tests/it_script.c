/* it_script.c - EVAL, EVALSHA, EVAL_RO and SCRIPT as Redis 7 answers them:
 *   - replies converted both ways (RESP2 and RESP3, setresp), KEYS/ARGV, pcall, the
 *     error tables and Redis's error texts with the script's name and line;
 *   - the sandbox: read-only globals and library tables, no loadfile/dofile/print,
 *     no binary chunks, cjson and bit present;
 *   - the script cache (SCRIPT LOAD/EXISTS/FLUSH, NOSCRIPT), read-only scripts and
 *     shebang flags, a script inside MULTI/EXEC, writes before an error staying;
 * and, kvns only (a server of 2 single-thread workers):
 *   - a script loaded on one worker runs on the other, a flush on one empties both;
 *   - a script touching a shard it did not declare while another worker holds it is
 *     undone and run again: nothing of the first run stays;
 *   - past busy-reply-threshold a client of another worker needing the script's shard
 *     gets -BUSY (another shard is served; an EXEC needing it answers EXECABORT), SCRIPT
 *     KILL stops it, UNKILLABLE once it wrote; the script's own thread answers its
 *     other clients -BUSY (MULTI allowed, EXEC aborted) from the hook;
 *   - a worker SIGKILLed in the middle of a script leaves none of its writes;
 *   - SHUTDOWN NOSAVE stops a busy script that wrote (nothing of it saved), SHUTDOWN
 *     writes the final snapshot. */
#include "harness.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Runs a command and returns its reply, failing on no reply. */
static kv_reply *run4(kv_conn *c, const char *a0, const char *a1, const char *a2, const char *a3)
{
    kv_reply *r = conn_cmd(c, a0, a1, a2, a3, NULL);
    if (!r)
        it_fail("%s: no reply (%s)", a0, conn_error(c));
    return r;
}

/* EVAL body 0 and its reply. */
static kv_reply *eval0(kv_conn *c, const char *body)
{
    return run4(c, "EVAL", body, "0", NULL);
}

/* The sha SCRIPT LOAD gives body, into sha[41]. */
static void script_sha(kv_conn *c, const char *body, char sha[41])
{
    kv_reply *r = run4(c, "SCRIPT", "LOAD", body, NULL);
    assert_reply_type(r, KV_REPLY_BULK);
    assert_int_equal(r->len, 40);
    memcpy(sha, r->str, 41);
    kv_reply_free(r);
}

/* Asserts EVAL body 0 fails with "<prefix> script: <sha>, on @user_script:<line>.". */
static void expect_script_error(kv_conn *c, const char *body, const char *prefix, int line)
{
    char sha[41], want[512];
    script_sha(c, body, sha);
    snprintf(want, sizeof want, "%s script: %s, on @user_script:%d.", prefix, sha, line);
    kv_reply *r = eval0(c, body);
    assert_error(r, want);
    kv_reply_free(r);
}

static void test_reply_conversions(void **state)
{
    kv_conn *c = *state;
    expect_int(c, 3, "EVAL", "return 3.99", "0", NULL);
    expect_int(c, -2, "EVAL", "return -2.5", "0", NULL);
    expect_bulk(c, "hello", "EVAL", "return 'hello'", "0", NULL);
    expect_int(c, 1, "EVAL", "return true", "0", NULL);
    expect_nil(c, "EVAL", "return false", "0", NULL);
    expect_nil(c, "EVAL", "return nil", "0", NULL);
    expect_status(c, "FINE", "EVAL", "return redis.status_reply('FINE')", "0", NULL);
    expect_status(c, "OK", "EVAL", "return {ok='OK'}", "0", NULL);
    expect_error(c, "My Error", "EVAL", "return {err='My Error'}", "0", NULL);
    expect_error(c, "MY_ERR_CODE custom msg", "EVAL", "return redis.error_reply('MY_ERR_CODE custom msg')", "0",
                 NULL);
    expect_bulk(c, "3.5", "EVAL", "return {double=3.5}", "0", NULL);
    /* an array stops at its first nil; nested tables; booleans inside */
    kv_reply *r = eval0(c, "return {1, 'two', {3, {4}}, false, true, nil, 7}");
    assert_array_len(r, 5);
    assert_int(r->elements[0], 1);
    assert_bulk(r->elements[1], "two");
    assert_array_len(r->elements[2], 2);
    assert_int(r->elements[2]->elements[0], 3);
    assert_array_len(r->elements[2]->elements[1], 1);
    assert_nil(r->elements[3]);
    assert_int(r->elements[4], 1);
    kv_reply_free(r);
    /* KEYS and ARGV, and redis.call's replies converted to Lua and back */
    r = conn_cmd(c, "EVAL",
                 "redis.call('set', KEYS[1], ARGV[1]); redis.call('rpush', KEYS[2], 'a', 'b');"
                 "return {redis.call('get', KEYS[1]), redis.call('lrange', KEYS[2], 0, -1),"
                 " redis.call('get', 'nokey') == false, redis.call('llen', KEYS[2]), #KEYS, #ARGV}",
                 "2", "k", "l", "v1", "extra", NULL);
    assert_array_len(r, 6);
    assert_bulk(r->elements[0], "v1");
    assert_array_len(r->elements[1], 2);
    assert_bulk(r->elements[1]->elements[1], "b");
    assert_int(r->elements[2], 1);
    assert_int(r->elements[3], 2);
    assert_int(r->elements[4], 2);
    assert_int(r->elements[5], 2);
    kv_reply_free(r);
    /* status replies become {ok=...}, numbers become integers in arguments */
    expect_bulk(c, "OK", "EVAL", "return redis.call('set', 'n', 12.0).ok", "0", NULL);
    expect_bulk(c, "12", "EVAL", "return redis.call('get', 'n')", "0", NULL);
    expect_bulk(c, "12039611435714932082", "EVAL",
                "redis.call('set', 'big', '12039611435714932082'); return redis.call('get', 'big')", "0", NULL);
}

static void test_error_texts(void **state)
{
    kv_conn *c = *state;
    expect_script_error(c, "return a", "ERR user_script:1: Script attempted to access nonexistent global variable 'a'",
                        1);
    expect_script_error(c, "local x = 1\nb = 2", "ERR user_script:2: Attempt to modify a readonly table", 2);
    expect_status(c, "OK", "SET", "str", "abc", NULL);
    expect_script_error(c, "return redis.call('incr', 'str')", "ERR value is not an integer or out of range", 1);
    expect_script_error(c, "return redis.call('nosuchcommand')", "ERR Unknown Redis command called from script", 1);
    expect_script_error(c, "return redis.call('get')", "ERR Wrong number of args calling Redis command from script",
                        1);
    expect_script_error(c, "return redis.call('eval', 'return 1', '0')",
                        "ERR This Redis command is not allowed from script", 1);
    expect_script_error(c, "return redis.call()",
                        "ERR Please specify at least one argument for this redis lib call", 1);
    expect_script_error(c, "return redis.call('ping', {})",
                        "ERR Lua redis lib command arguments must be strings or integers", 1);
    expect_script_error(c, "error('boom')", "ERR user_script:1: boom", 1);
    /* pcall gives the error table back instead */
    expect_error(c, "ERR value is not an integer or out of range", "EVAL", "return redis.pcall('incr', 'str')", "0",
                 NULL);
    expect_bulk(c, "ERR value is not an integer or out of range", "EVAL",
                "local e = redis.pcall('incr', 'str'); return e.err", "0", NULL);
    kv_reply *r = eval0(c, "local ok, e = pcall(function() return foo end); return tostring(ok) .. ' ' .. e");
    assert_bulk_contains(r, "false user_script:1: Script attempted to access nonexistent global variable 'foo'");
    kv_reply_free(r);
    /* the command's own argument errors */
    expect_error(c, "ERR Number of keys can't be greater than number of args", "EVAL", "return 1", "2", "a", NULL);
    expect_error(c, "ERR Number of keys can't be negative", "EVAL", "return 1", "-1", NULL);
    expect_error(c, "ERR value is not an integer or out of range", "EVAL", "return 1", "x", NULL);
    expect_error(c, "ERR wrong number of arguments for 'eval' command", "EVAL", "return 1", NULL);
    expect_error_prefix(c, "ERR Error compiling script (new function): user_script:1:", "EVAL", "return 'a' ..", "0",
                        NULL);
    expect_error(c, "NOSCRIPT No matching script. Please use EVAL.", "EVALSHA",
                 "ffffffffffffffffffffffffffffffffffffffff", "0", NULL);
    expect_error(c, "NOSCRIPT No matching script. Please use EVAL.", "EVALSHA", "short", "0", NULL);
}

static void test_sandbox(void **state)
{
    kv_conn *c = *state;
    static const char *const readonly[] = {
        "setmetatable(_G, {})",     "local g = getmetatable(_G); g.__index = {}",
        "redis = function() return 1 end", "_G = {}", "redis.call = function() return 1 end",
        "cjson.encode = function() return 1 end", "bit.lshift = function() return 1 end",
        "rawset(_G, 'x', 1)",       "string.upper = nil",
    };
    for (size_t i = 0; i < sizeof readonly / sizeof readonly[0]; i++) {
        kv_reply *r = eval0(c, readonly[i]);
        assert_reply_type(r, KV_REPLY_ERROR);
        if (!strstr(r->str, "Attempt to modify a readonly table"))
            it_fail("%s: %s", readonly[i], r->str);
        kv_reply_free(r);
    }
    static const char *const missing[] = { "loadfile", "dofile", "print" };
    for (size_t i = 0; i < 3; i++) {
        char body[64], want[128];
        snprintf(body, sizeof body, "%s('x')", missing[i]);
        snprintf(want, sizeof want, "Script attempted to access nonexistent global variable '%s'", missing[i]);
        kv_reply *r = eval0(c, body);
        assert_reply_type(r, KV_REPLY_ERROR);
        if (!strstr(r->str, want))
            it_fail("%s: %s", body, r->str);
        kv_reply_free(r);
    }
    for (size_t i = 0; i < 3; i++) {
        static const char *const absent[] = { "getfenv", "setfenv", "debug" };
        char body[64], want[128];
        snprintf(body, sizeof body, "return %s", absent[i]);
        snprintf(want, sizeof want, "Script attempted to access nonexistent global variable '%s'", absent[i]);
        kv_reply *r = eval0(c, body);
        assert_reply_type(r, KV_REPLY_ERROR);
        if (!strstr(r->str, want))
            it_fail("%s: %s", body, r->str);
        kv_reply_free(r);
    }
    kv_reply *r = eval0(c, "return loadstring(string.dump(function() return 1 end))()");
    assert_error_prefix(r, "ERR user_script:1: attempt to call a nil value");
    kv_reply_free(r);
    expect_int(c, 5, "EVAL", "return loadstring('return 5')()", "0", NULL);
    expect_bulk(c, "[1,2,3]", "EVAL", "return cjson.encode({1,2,3})", "0", NULL);
    expect_bulk(c, "b", "EVAL", "return cjson.decode('{\"a\":\"b\"}').a", "0", NULL);
    expect_int(c, 255, "EVAL", "return bit.bor(1,2,4,8,16,32,64,128)", "0", NULL);
    expect_bulk(c, "da39a3ee5e6b4b0d3255bfef95601890afd80709", "EVAL", "return redis.sha1hex('')", "0", NULL);
    expect_bulk(c, "74822d82031af7493c20eefa13bd07ec4fada82f", "EVAL", "return redis.sha1hex('Pizza & Mandolino')",
                "0", NULL);
    /* math.random is seedable and repeats for the same seed */
    r = eval0(c, "math.randomseed(42); local a = math.random(); math.randomseed(42); return tostring(a == math.random())");
    assert_bulk(r, "true");
    kv_reply_free(r);
    expect_int(c, 3, "EVAL", "return redis.LOG_WARNING", "0", NULL);
    r = eval0(c, "return type(redis.REDIS_VERSION) .. type(redis.REDIS_VERSION_NUM)");
    assert_bulk(r, "stringnumber");
    kv_reply_free(r);
}

static void test_script_cache(void **state)
{
    kv_conn *c = *state;
    char sha[41], upper[41];
    script_sha(c, "return 'loaded'", sha);
    expect_bulk(c, "loaded", "EVALSHA", sha, "0", NULL);
    for (int i = 0; i < 41; i++)
        upper[i] = (char)(sha[i] >= 'a' && sha[i] <= 'f' ? sha[i] - 32 : sha[i]);
    expect_bulk(c, "loaded", "EVALSHA", upper, "0", NULL);
    /* EVAL caches its body too */
    kv_reply_free(eval0(c, "return 'by eval'"));
    char sha2[41];
    script_sha(c, "return 'by eval'", sha2);
    kv_reply *r = run4(c, "SCRIPT", "EXISTS", sha, "nope");
    assert_array_len(r, 2);
    assert_int(r->elements[0], 1);
    assert_int(r->elements[1], 0);
    kv_reply_free(r);
    expect_error_prefix(c, "ERR Error compiling script", "SCRIPT", "LOAD", "return (", NULL);
    expect_status(c, "OK", "SCRIPT", "FLUSH", NULL);
    expect_error(c, "NOSCRIPT No matching script. Please use EVAL.", "EVALSHA", sha, "0", NULL);
    r = run4(c, "SCRIPT", "EXISTS", sha, sha2);
    assert_array_len(r, 2);
    assert_int(r->elements[0], 0);
    assert_int(r->elements[1], 0);
    kv_reply_free(r);
    expect_status(c, "OK", "SCRIPT", "FLUSH", "ASYNC", NULL);
    expect_error(c, "ERR SCRIPT FLUSH only support SYNC|ASYNC option", "SCRIPT", "FLUSH", "LATER", NULL);
    expect_error(c, "ERR wrong number of arguments for 'script|exists' command", "SCRIPT", "EXISTS", NULL);
    expect_error(c, "ERR unknown subcommand 'NOPE'. Try SCRIPT HELP.", "SCRIPT", "NOPE", NULL);
    expect_error(c, "NOTBUSY No scripts in execution right now.", "SCRIPT", "KILL", NULL);
}

static void test_resp3_conversions(void **state)
{
    kv_conn *c = *state;
    expect_int(c, 2, "HSET", "h", "f1", "v1", "f2", "v2", NULL);
    const char *map3 = "redis.setresp(3); return redis.call('hgetall', KEYS[1])";
    const char *map2 = "redis.setresp(2); return redis.call('hgetall', KEYS[1])";
    expect_array_len(c, 4, "EVAL", map3, "1", "h", NULL);   /* RESP2 client: flat */
    expect_array_len(c, 4, "EVAL", map2, "1", "h", NULL);
    kv_reply_free(run4(c, "HELLO", "3", NULL, NULL));
    kv_reply *r = conn_cmd(c, "EVAL", map3, "1", "h", NULL);
    assert_reply_type(r, KV_REPLY_MAP);
    assert_int_equal(r->count, 4);
    kv_reply_free(r);
    expect_array_len(c, 4, "EVAL", map2, "1", "h", NULL);
    r = eval0(c, "redis.setresp(3); return {double=1.5}");
    assert_reply_type(r, KV_REPLY_DOUBLE);
    kv_reply_free(r);
    r = eval0(c, "return {map={a=1}}");
    assert_reply_type(r, KV_REPLY_MAP);
    kv_reply_free(r);
    r = eval0(c, "return {set={a=true,b=true}}");
    assert_reply_type(r, KV_REPLY_SET);
    assert_int_equal(r->count, 2);
    kv_reply_free(r);
    r = eval0(c, "return {big_number='123456789012345678901234567890'}");
    assert_reply_type(r, KV_REPLY_BIGNUM);
    kv_reply_free(r);
    r = eval0(c, "redis.setresp(3); return false");
    assert_reply_type(r, KV_REPLY_BOOL);
    assert_int_equal(r->integer, 0);
    kv_reply_free(r);
    r = eval0(c, "return false");          /* the script's RESP2: a null, as Redis */
    assert_reply_type(r, KV_REPLY_NIL);
    kv_reply_free(r);
    /* RESP3 replies inside the script: a null is nil, a map is {map=...} */
    r = eval0(c, "redis.setresp(3); local m = redis.call('hgetall', 'h'); "
                 "return {tostring(redis.call('get', 'none')), m.map.f1}");
    assert_array_len(r, 2);
    assert_bulk(r->elements[0], "nil");
    assert_bulk(r->elements[1], "v1");
    kv_reply_free(r);
    expect_error_prefix(c, "ERR RESP version must be 2 or 3.", "EVAL", "redis.setresp(4)", "0", NULL);
}

static void test_readonly_and_flags(void **state)
{
    kv_conn *c = *state;
    expect_status(c, "OK", "SET", "k", "v", NULL);
    expect_bulk(c, "v", "EVAL_RO", "return redis.call('get', KEYS[1])", "1", "k", NULL);
    expect_error_prefix(c, "ERR Write commands are not allowed from read-only scripts.", "EVAL_RO",
                        "return redis.call('set', KEYS[1], 'x')", "1", "k", NULL);
    expect_error_prefix(c, "ERR Write commands are not allowed from read-only scripts.", "EVAL",
                        "#!lua flags=no-writes\nreturn redis.call('set', KEYS[1], 'x')", "1", "k", NULL);
    expect_bulk(c, "v", "EVAL_RO", "#!lua flags=no-writes\nreturn redis.call('get', KEYS[1])", "1", "k", NULL);
    expect_error(c, "ERR Can not execute a script with write flag using *_ro command.", "EVAL_RO",
                 "#!lua\nreturn 1", "0", NULL);
    expect_error(c, "ERR Unexpected flag in script shebang: bad", "EVAL", "#!lua flags=bad\nreturn 1", "0", NULL);
    expect_error(c, "ERR Unexpected engine in script shebang: #!python", "EVAL", "#!python\nreturn 1", "0", NULL);
    expect_error(c, "ERR Unknown lua shebang option: foo=bar", "EVAL", "#!lua foo=bar\nreturn 1", "0", NULL);
    char sha[41];
    script_sha(c, "return redis.call('get', KEYS[1])", sha);
    expect_bulk(c, "v", "EVALSHA_RO", sha, "1", "k", NULL);
    expect_bulk(c, "v", "GET", "k", NULL);
}

/* A script is atomic but not a rollback: writes before an error stay, as in Redis. */
static void test_writes_before_error_stay(void **state)
{
    kv_conn *c = *state;
    kv_reply *r = eval0(c, "redis.call('set', 'a', '1'); redis.call('incr', 'b'); error('stop')");
    assert_error_prefix(r, "ERR user_script:1: stop");
    kv_reply_free(r);
    expect_bulk(c, "1", "GET", "a", NULL);
    expect_bulk(c, "1", "GET", "b", NULL);
}

static void test_script_inside_exec(void **state)
{
    kv_conn *c = *state;
    expect_status(c, "OK", "MULTI", NULL);
    expect_status(c, "QUEUED", "EVAL", "return redis.call('incrby', KEYS[1], ARGV[1])", "1", "n", "5", NULL);
    expect_status(c, "QUEUED", "INCR", "n", NULL);
    expect_status(c, "QUEUED", "EVAL", "return redis.call('get', 'n')", "0", NULL);
    kv_reply *r = run4(c, "EXEC", NULL, NULL, NULL);
    assert_array_len(r, 3);
    assert_int(r->elements[0], 5);
    assert_int(r->elements[1], 6);
    assert_bulk(r->elements[2], "6");
    kv_reply_free(r);
}

/* True when INFO errorstats has exactly "errorstat_<code>:count=<n>". */
static bool errorstat_is(kv_conn *c, const char *code, long long n)
{
    char name[64];
    snprintf(name, sizeof name, "errorstat_%s", code);
    kv_reply *r = run4(c, "INFO", "errorstats", NULL, NULL);
    char want[96];
    snprintf(want, sizeof want, "%s:count=%lld\r\n", name, n);
    bool ok = r->str && strstr(r->str, want) != NULL;
    kv_reply_free(r);
    return ok;
}

/* Error replies are counted once by code: a script's error raised by redis.call (or
 * a pcall error it returns) counts as the command's, not again as the script's. */
static void test_error_stats(void **state)
{
    kv_conn *c = *state;
    expect_status(c, "OK", "SET", "s", "text", NULL);
    expect_status(c, "OK", "CONFIG", "RESETSTAT", NULL);
    long long before = it_info_ll(c, "stats", "total_error_replies");
    kv_reply_free(eval0(c, "return redis.error_reply('MY_ERR_CODE custom msg')"));
    assert_true(errorstat_is(c, "MY_ERR_CODE", 1));
    kv_reply_free(eval0(c, "return redis.call('incr', 's')"));
    assert_true(errorstat_is(c, "ERR", 1));
    kv_reply_free(eval0(c, "return redis.pcall('incr', 's')"));
    assert_true(errorstat_is(c, "ERR", 2));
    kv_reply_free(eval0(c, "local e = redis.pcall('incr', 's'); return 1"));
    assert_true(errorstat_is(c, "ERR", 3));
    assert_int_equal(it_info_ll(c, "stats", "total_error_replies") - before, 4);
    expect_status(c, "OK", "CONFIG", "RESETSTAT", NULL);
    kv_reply *r = run4(c, "INFO", "errorstats", NULL, NULL);
    assert_non_null(r->str);
    assert_null(strstr(r->str, "errorstat_"));
    kv_reply_free(r);
}

/* ---- kvns only: across workers ------------------------------------------------------ */

static long long serving_pid(kv_conn *c)
{
    return it_info_ll(c, "server", "process_id");
}

/* A connection to port served by another worker than a's (single-thread workers):
 * while a's only thread sleeps, a new connection is answered only by the other. */
static kv_conn *connect_other_worker(int port, kv_conn *a)
{
    long long pid = serving_pid(a);
    assert_int_equal(conn_send_cmd(a, "DEBUG", "SLEEP", "1", NULL), 0);
    sleep_ms(50);
    kv_conn *b = it_connect_elsewhere(port, pid);
    kv_reply *r = conn_read_reply(a);
    assert_status(r, "OK");
    kv_reply_free(r);
    return b;
}

/* A server of two single-thread workers and a connection on each. */
typedef struct two_workers {
    kv_server *srv;
    kv_conn   *a, *b;
    long long  a_pid;
} two_workers;

static two_workers two_workers_start(void)
{
    const char *env[] = { "KVNS_WORKERS=2", "KVNS_THREADS=1", NULL };
    two_workers tw = { srv_start(env), NULL, NULL, 0 };
    assert_non_null(tw.srv);
    tw.a = conn_open(srv_port(tw.srv));
    assert_non_null(tw.a);
    tw.a_pid = serving_pid(tw.a);
    tw.b = connect_other_worker(srv_port(tw.srv), tw.a);
    return tw;
}

static void two_workers_stop(two_workers *tw)
{
    conn_close(tw->a);
    conn_close(tw->b);
    assert_int_equal(srv_stop(tw->srv), 0);
}

static void test_cache_shared_by_workers(void **state)
{
    it_skip_unless_kvns("workers share the script cache");
    two_workers tw = two_workers_start();
    char sha[41];
    script_sha(tw.a, "return 'from a'", sha);
    expect_bulk(tw.b, "from a", "EVALSHA", sha, "0", NULL);
    kv_reply_free(eval0(tw.b, "return 'from b'"));
    char sha_b[41];
    script_sha(tw.b, "return 'from b'", sha_b);
    expect_bulk(tw.a, "from b", "EVALSHA", sha_b, "0", NULL);
    expect_status(tw.b, "OK", "SCRIPT", "FLUSH", NULL);
    expect_error(tw.a, "NOSCRIPT No matching script. Please use EVAL.", "EVALSHA", sha, "0", NULL);
    kv_reply *r = run4(tw.a, "SCRIPT", "EXISTS", sha_b, NULL);
    assert_array_len(r, 1);
    assert_int(r->elements[0], 0);
    kv_reply_free(r);
    two_workers_stop(&tw);
}

/* Fills key with a key on a shard other than `shard` (DEBUG KEYSHARD). */
static void key_off_shard(kv_conn *c, long long shard, char *key, size_t cap)
{
    for (int i = 0;; i++) {
        snprintf(key, cap, "other:%d", i);
        kv_reply *r = run4(c, "DEBUG", "KEYSHARD", key, NULL);
        long long s = r->integer;
        kv_reply_free(r);
        if (s != shard)
            return;
    }
}

static void test_undeclared_key_reruns_script(void **state)
{
    it_skip_unless_kvns("DEBUG LOCKSHARD holds a shard");
    two_workers tw = two_workers_start();
    kv_reply *r = run4(tw.a, "DEBUG", "KEYSHARD", "held", NULL);
    long long held_shard = r->integer;
    kv_reply_free(r);
    char other[32];
    key_off_shard(tw.a, held_shard, other, sizeof other);
    assert_int_equal(conn_send_cmd(tw.a, "DEBUG", "LOCKSHARD", "held", "400", NULL), 0);
    sleep_ms(100);
    /* declares nothing: `other` is taken when reached, `held` is busy: the first run
     * is undone, and the rerun waits for both */
    long long start = mono_ms();
    r = conn_cmd(tw.b, "EVAL", "return {redis.call('incr', ARGV[1]), redis.call('incr', ARGV[2])}", "0", other,
                 "held", NULL);
    assert_array_len(r, 2);
    assert_int(r->elements[0], 1);
    assert_int(r->elements[1], 1);
    kv_reply_free(r);
    assert_true(mono_ms() - start >= 200);      /* it waited for the hold */
    r = conn_read_reply(tw.a);
    assert_status(r, "OK");
    kv_reply_free(r);
    expect_bulk(tw.a, "1", "GET", other, NULL);
    expect_bulk(tw.a, "1", "GET", "held", NULL);
    expect_status(tw.a, "OK", "DEBUG", "CHECK", NULL);
    two_workers_stop(&tw);
}

static void test_busy_and_script_kill(void **state)
{
    it_skip_unless_kvns("BUSY only for clients of other workers");
    two_workers tw = two_workers_start();
    expect_status(tw.b, "OK", "CONFIG", "SET", "busy-reply-threshold", "100", NULL);
    kv_reply *r = run4(tw.b, "CONFIG", "GET", "lua-time-limit", NULL);
    assert_array_len(r, 2);
    assert_bulk(r->elements[1], "100");
    kv_reply_free(r);
    expect_status(tw.b, "OK", "SET", "k", "v", NULL);
    r = run4(tw.b, "DEBUG", "KEYSHARD", "k", NULL);
    long long k_shard = r->integer;
    kv_reply_free(r);
    char other[32];
    key_off_shard(tw.b, k_shard, other, sizeof other);
    /* a read-only endless loop holding k's shard */
    assert_int_equal(conn_send_cmd(tw.a, "EVAL", "redis.call('get', KEYS[1]); while true do end", "1", "k", NULL), 0);
    sleep_ms(300);
    expect_error(tw.b, "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.", "GET",
                 "k", NULL);
    expect_status(tw.b, "OK", "SET", other, "1", NULL);
    expect_status(tw.b, "OK", "SCRIPT", "KILL", NULL);
    conn_set_timeout(tw.a, 5000);
    r = conn_read_reply(tw.a);
    assert_reply_type(r, KV_REPLY_ERROR);
    if (!strstr(r->str, "ERR Script killed by user with SCRIPT KILL..."))
        it_fail("killed script replied %s", r->str);
    kv_reply_free(r);
    expect_bulk(tw.b, "v", "GET", "k", NULL);
    /* an EXEC that needs the busy script's shard is refused as a whole and leaves MULTI */
    expect_status(tw.b, "OK", "MULTI", NULL);
    expect_status(tw.b, "QUEUED", "INCR", other, NULL);
    expect_status(tw.b, "QUEUED", "GET", "k", NULL);
    assert_int_equal(conn_send_cmd(tw.a, "EVAL", "redis.call('get', KEYS[1]); while true do end", "1", "k", NULL), 0);
    sleep_ms(300);
    expect_error(tw.b,
                 "EXECABORT Transaction discarded because of: BUSY Redis is busy running a script. You can only "
                 "call SCRIPT KILL or SHUTDOWN NOSAVE.",
                 "EXEC", NULL);
    expect_bulk(tw.b, "1", "GET", other, NULL);   /* on another shard: served, not incremented */
    expect_status(tw.b, "OK", "SCRIPT", "KILL", NULL);
    r = conn_read_reply(tw.a);
    assert_reply_type(r, KV_REPLY_ERROR);
    kv_reply_free(r);
    /* one that wrote cannot be killed; it ends by itself (after about 1.5 s) */
    assert_int_equal(conn_send_cmd(tw.a, "EVAL",
                                   "redis.call('set', KEYS[1], 'w'); local t = redis.call('time'); "
                                   "local stop = t[1] * 1000000 + t[2] + 1500000; "
                                   "repeat t = redis.call('time') until t[1] * 1000000 + t[2] >= stop; return 'done'",
                                   "1", "k", NULL),
                     0);
    sleep_ms(400);
    expect_error_prefix(tw.b, "UNKILLABLE Sorry the script already executed write commands", "SCRIPT", "KILL", NULL);
    r = conn_read_reply(tw.a);
    assert_bulk(r, "done");
    kv_reply_free(r);
    expect_bulk(tw.b, "w", "GET", "k", NULL);
    expect_error(tw.b, "NOTBUSY No scripts in execution right now.", "SCRIPT", "KILL", NULL);
    two_workers_stop(&tw);
}

static void test_worker_killed_mid_script(void **state)
{
    it_skip_unless_kvns("SIGKILL of a worker");
    two_workers tw = two_workers_start();
    expect_status(tw.b, "OK", "CONFIG", "SET", "busy-reply-threshold", "100", NULL);
    const char *body = "for i = 1, #KEYS do redis.call('incr', KEYS[i]) end; "
                       "redis.call('set', 'k1', 'no'); while true do end";
    assert_int_equal(conn_send_cmd(tw.a, "EVAL", body, "8", "k1", "k2", "k3", "k4", "k5", "k6", "k7", "k8", NULL), 0);
    sleep_ms(300);
    /* it is running, past its writes: k1's shard answers BUSY */
    expect_error_prefix(tw.b, "BUSY", "GET", "k1", NULL);
    assert_int_equal(kill((pid_t)tw.a_pid, SIGKILL), 0);
    /* until the supervisor's sweep has taken the dead lane's locks, its script may
     * still look busy */
    long long deadline = mono_ms() + 10000;
    for (;;) {
        kv_reply *r = run4(tw.b, "GET", "k1", NULL, NULL);
        bool busy = r->type == KV_REPLY_ERROR && strncmp(r->str, "BUSY", 4) == 0;
        kv_reply_free(r);
        if (!busy || mono_ms() > deadline)
            break;
        sleep_ms(20);
    }
    char key[16];
    for (int i = 1; i <= 8; i++) {
        snprintf(key, sizeof key, "k%d", i);
        expect_nil(tw.b, "GET", key, NULL);
    }
    expect_int(tw.b, 0, "DBSIZE", NULL);
    expect_status(tw.b, "OK", "DEBUG", "CHECK", NULL);
    two_workers_stop(&tw);
}

/* One serving thread: while its script runs past busy-reply-threshold the thread's
 * other clients get -BUSY from the script's hook, as Redis's clients do; MULTI still
 * starts a transaction, a refused command fails it, EXEC then answers EXECABORT, and
 * SCRIPT KILL stops the script. */
static void test_busy_on_the_scripts_own_thread(void **state)
{
    it_skip_unless_kvns("one worker thread serves both clients");
    const char *env[] = { "KVNS_WORKERS=1", "KVNS_THREADS=1", NULL };
    kv_server *srv = srv_start(env);
    assert_non_null(srv);
    kv_conn *a = conn_open(srv_port(srv)), *b = conn_open(srv_port(srv));
    assert_non_null(a);
    assert_non_null(b);
    expect_status(b, "OK", "CONFIG", "SET", "busy-reply-threshold", "100", NULL);
    expect_status(b, "OK", "MULTI", NULL);
    expect_status(b, "QUEUED", "INCR", "x", NULL);
    assert_int_equal(conn_send_cmd(a, "EVAL", "while true do end", "0", NULL), 0);
    sleep_ms(300);
    const char *busy = "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";
    expect_error(b, busy, "INCR", "y", NULL);
    expect_error(b, "EXECABORT Transaction discarded because of: BUSY Redis is busy running a script. You can "
                    "only call SCRIPT KILL or SHUTDOWN NOSAVE.", "EXEC", NULL);
    expect_error(b, busy, "PING", NULL);
    expect_status(b, "OK", "MULTI", NULL);       /* allowed while busy, as in Redis */
    expect_error(b, busy, "INCR", "x", NULL);
    expect_status(b, "OK", "SCRIPT", "KILL", NULL);
    conn_set_timeout(a, 5000);
    kv_reply *r = conn_read_reply(a);
    assert_reply_type(r, KV_REPLY_ERROR);
    kv_reply_free(r);
    expect_error(b, "EXECABORT Transaction discarded because of previous errors.", "EXEC", NULL);
    expect_nil(b, "GET", "x", NULL);
    expect_status(b, "PONG", "PING", NULL);
    conn_close(a);
    conn_close(b);
    assert_int_equal(srv_stop(srv), 0);
}

/* SHUTDOWN NOSAVE from another worker stops the server while a script that wrote
 * runs; nothing of the script reaches the snapshot, what SAVE wrote before stays. A
 * plain SHUTDOWN writes the final snapshot. */
static void test_shutdown_stops_busy_script(void **state)
{
    it_skip_unless_kvns("restarts on one snapshot file");
    char dir[] = "/tmp/kvns-it-script-XXXXXX", env_path[300], cmd[400];
    assert_non_null(mkdtemp(dir));
    snprintf(env_path, sizeof env_path, "KVNS_PERSIST_PATH=%s/dump.kvns", dir);
    const char *env[] = { "KVNS_WORKERS=2", "KVNS_THREADS=1", env_path, NULL };
    kv_server *srv = srv_start(env);
    assert_non_null(srv);
    kv_conn *a = conn_open(srv_port(srv));
    assert_non_null(a);
    kv_conn *b = connect_other_worker(srv_port(srv), a);
    expect_status(b, "OK", "SET", "base", "1", NULL);
    expect_status(b, "OK", "SAVE", NULL);
    expect_status(b, "OK", "CONFIG", "SET", "busy-reply-threshold", "100", NULL);
    assert_int_equal(conn_send_cmd(a, "EVAL", "redis.call('set', KEYS[1], 'w'); while true do end", "1", "k", NULL),
                     0);
    sleep_ms(300);
    expect_error_prefix(b, "UNKILLABLE", "SCRIPT", "KILL", NULL);
    assert_int_equal(conn_send_cmd(b, "SHUTDOWN", "NOSAVE", NULL), 0);
    assert_true(conn_wait_closed(b, 10000));
    long long deadline = mono_ms() + 10000;
    while (srv_alive(srv) && mono_ms() < deadline)
        sleep_ms(20);
    assert_false(srv_alive(srv));
    conn_close(a);
    conn_close(b);
    assert_int_equal(srv_stop(srv), 0);
    srv = srv_start(env);
    assert_non_null(srv);
    a = conn_open(srv_port(srv));
    assert_non_null(a);
    expect_bulk(a, "1", "GET", "base", NULL);
    expect_nil(a, "GET", "k", NULL);
    expect_status(a, "OK", "SET", "later", "2", NULL);
    assert_int_equal(conn_send_cmd(a, "SHUTDOWN", NULL), 0);
    assert_true(conn_wait_closed(a, 10000));
    deadline = mono_ms() + 10000;
    while (srv_alive(srv) && mono_ms() < deadline)
        sleep_ms(20);
    conn_close(a);
    assert_int_equal(srv_stop(srv), 0);
    srv = srv_start(env);
    assert_non_null(srv);
    a = conn_open(srv_port(srv));
    assert_non_null(a);
    expect_bulk(a, "2", "GET", "later", NULL);
    expect_error(a, "ERR No shutdown in progress.", "SHUTDOWN", "ABORT", NULL);
    expect_error(a, "ERR syntax error", "SHUTDOWN", "SAVE", "NOSAVE", NULL);
    conn_close(a);
    assert_int_equal(srv_stop(srv), 0);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_reply_conversions, it_test_setup, it_test_teardown),
        cmocka_unit_test_setup_teardown(test_error_texts, it_test_setup, it_test_teardown),
        cmocka_unit_test_setup_teardown(test_sandbox, it_test_setup, it_test_teardown),
        cmocka_unit_test_setup_teardown(test_script_cache, it_test_setup, it_test_teardown),
        cmocka_unit_test_setup_teardown(test_resp3_conversions, it_test_setup, it_test_teardown),
        cmocka_unit_test_setup_teardown(test_readonly_and_flags, it_test_setup, it_test_teardown),
        cmocka_unit_test_setup_teardown(test_writes_before_error_stay, it_test_setup, it_test_teardown),
        cmocka_unit_test_setup_teardown(test_script_inside_exec, it_test_setup, it_test_teardown),
        cmocka_unit_test_setup_teardown(test_error_stats, it_test_setup, it_test_teardown),
        cmocka_unit_test(test_cache_shared_by_workers),
        cmocka_unit_test(test_undeclared_key_reruns_script),
        cmocka_unit_test(test_busy_and_script_kill),
        cmocka_unit_test(test_worker_killed_mid_script),
        cmocka_unit_test(test_busy_on_the_scripts_own_thread),
        cmocka_unit_test(test_shutdown_stops_busy_script),
    };
    return cmocka_run_group_tests(tests, it_group_setup, it_group_teardown);
}
