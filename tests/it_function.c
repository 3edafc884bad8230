/* it_function.c - FUNCTION and FCALL as Redis 7.0 answers them:
 *   - FUNCTION LOAD [REPLACE] of positional and named registrations, FCALL and
 *     FCALL_RO with keys and arguments, LIST [LIBRARYNAME] [WITHCODE], STATS, DELETE,
 *     FLUSH; the load sandbox and register_function's error texts; flags (no-writes,
 *     allow-oom) and the OOM refusals; run-time error texts naming the function;
 *   - DUMP and RESTORE with each policy, a bad payload refused with nothing dropped;
 *   - FUNCTION LOAD and FCALL inside one MULTI/EXEC;
 * and, kvns only (a server of 2 single-thread workers):
 *   - a library loaded on one worker is called on the other, REPLACE and FLUSH on one
 *     are seen by the other;
 *   - past busy-reply-threshold a function's shard answers FUNCTION KILL's BUSY text on
 *     the other worker, FUNCTION STATS shows it running, SCRIPT KILL refuses, FUNCTION
 *     KILL stops it;
 *   - a client of the very thread running a function (or an EVAL) past the threshold
 *     is answered -BUSY, FUNCTION STATS and FUNCTION KILL (SCRIPT KILL) work for it;
 *   - libraries kept in the snapshot: SAVE, restart, FCALL works. */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A library `name` whose function `fname` runs body (keys and args as KEYS, ARGV). */
static void lib_code(char *out, size_t cap, const char *name, const char *fname, const char *body)
{
    snprintf(out, cap, "#!lua name=%s\nredis.register_function('%s', function(KEYS, ARGV)\n %s \nend)", name, fname,
             body);
}

/* FUNCTION LOAD [REPLACE] of lib_code(...), expecting the library's name back. */
static void load_lib(kv_conn *c, bool replace, const char *name, const char *fname, const char *body)
{
    char code[2048];
    lib_code(code, sizeof code, name, fname, body);
    if (replace)
        expect_bulk(c, name, "FUNCTION", "LOAD", "REPLACE", code, NULL);
    else
        expect_bulk(c, name, "FUNCTION", "LOAD", code, NULL);
}

/* Runs a command and returns its reply, failing on no reply. */
static kv_reply *run4(kv_conn *c, const char *a0, const char *a1, const char *a2, const char *a3)
{
    kv_reply *r = conn_cmd(c, a0, a1, a2, a3, NULL);
    if (!r)
        it_fail("%s: no reply (%s)", a0, conn_error(c));
    return r;
}

/* The entry of FUNCTION LIST's functions array named name (Redis lists them in its
 * dictionary's order). */
static const kv_reply *function_entry(const kv_reply *fns, const char *name)
{
    for (size_t i = 0; i < fns->count; i++)
        if (kv_reply_is_str(kv_reply_map_get(fns->elements[i], "name"), name))
            return fns->elements[i];
    it_fail("no function %s in the list", name);
    return NULL;
}

static void test_load_call_list(void **state)
{
    kv_conn *c = *state;
    expect_status(c, "OK", "FUNCTION", "FLUSH", NULL);
    const char *code = "#!lua name=mylib\n"
                       "local function greet(who) return 'hi ' .. who end\n"
                       "redis.register_function('hello', function(keys, args) return greet(args[1]) end)\n"
                       "redis.register_function{function_name='getk', callback=function(keys) "
                       "return redis.call('get', keys[1]) end, description='reads a key', "
                       "flags={'no-writes', 'ALLOW-STALE'}}\n"
                       "redis.register_function('setk', function(keys, args) "
                       "return redis.call('set', keys[1], args[1]) end)";
    expect_bulk(c, "mylib", "FUNCTION", "LOAD", code, NULL);
    expect_bulk(c, "hi bob", "FCALL", "hello", "0", "bob", NULL);
    expect_bulk(c, "hi ann", "FCALL", "HeLLo", "0", "ann", NULL);
    expect_status(c, "OK", "FCALL", "setk", "1", "k", "v1", NULL);
    expect_bulk(c, "v1", "FCALL_RO", "getk", "1", "k", NULL);
    expect_bulk(c, "v1", "GET", "k", NULL);
    /* LIST: library_name, engine, functions [{name, description, flags}] */
    kv_reply *r = run4(c, "FUNCTION", "LIST", NULL, NULL);
    assert_array_len(r, 1);
    const kv_reply *lib = r->elements[0];
    assert_bulk(kv_reply_map_get(lib, "library_name"), "mylib");
    assert_bulk(kv_reply_map_get(lib, "engine"), "LUA");
    assert_null(kv_reply_map_get(lib, "library_code"));
    const kv_reply *fns = kv_reply_map_get(lib, "functions");
    assert_array_len(fns, 3);
    const kv_reply *hello = function_entry(fns, "hello"), *getk = function_entry(fns, "getk");
    assert_nil(kv_reply_map_get(hello, "description"));
    assert_array_len(kv_reply_map_get(hello, "flags"), 0);
    assert_bulk(kv_reply_map_get(getk, "description"), "reads a key");
    const kv_reply *flags = kv_reply_map_get(getk, "flags");
    assert_array_len(flags, 2);
    assert_status(flags->elements[0], "no-writes");
    assert_status(flags->elements[1], "allow-stale");
    kv_reply_free(r);
    r = conn_cmd(c, "FUNCTION", "LIST", "LIBRARYNAME", "my*", "WITHCODE", NULL);
    assert_array_len(r, 1);
    assert_bulk(kv_reply_map_get(r->elements[0], "library_code"), code);
    kv_reply_free(r);
    expect_array_len(c, 0, "FUNCTION", "LIST", "LIBRARYNAME", "other*", NULL);
    /* STATS: no running script, one library of three functions */
    r = run4(c, "FUNCTION", "STATS", NULL, NULL);
    assert_nil(kv_reply_map_get(r, "running_script"));
    const kv_reply *lua = kv_reply_map_get(kv_reply_map_get(r, "engines"), "LUA");
    assert_int(kv_reply_map_get(lua, "libraries_count"), 1);
    assert_int(kv_reply_map_get(lua, "functions_count"), 3);
    kv_reply_free(r);
    /* REPLACE swaps the code; DELETE removes every function of the library */
    load_lib(c, true, "mylib", "hello", "return 'replaced'");
    expect_bulk(c, "replaced", "FCALL", "hello", "0", NULL);
    expect_error(c, "ERR Function not found", "FCALL", "getk", "1", "k", NULL);
    expect_status(c, "OK", "FUNCTION", "DELETE", "mylib", NULL);
    expect_error(c, "ERR Function not found", "FCALL", "hello", "0", NULL);
    expect_error(c, "ERR Library not found", "FUNCTION", "DELETE", "mylib", NULL);
    /* FLUSHALL leaves the libraries */
    load_lib(c, false, "keep", "kept", "return 1");
    expect_status(c, "OK", "FLUSHALL", NULL);
    expect_int(c, 1, "FCALL", "kept", "0", NULL);
    expect_status(c, "OK", "FUNCTION", "FLUSH", "SYNC", NULL);
    expect_array_len(c, 0, "FUNCTION", "LIST", NULL);
}

static void test_load_errors(void **state)
{
    kv_conn *c = *state;
    expect_status(c, "OK", "FUNCTION", "FLUSH", NULL);
    load_lib(c, false, "test", "test", "return 'hello'");
    char code[512];
    lib_code(code, sizeof code, "test", "other", "return 1");
    expect_error(c, "ERR Library 'test' already exists", "FUNCTION", "LOAD", code, NULL);
    expect_error(c, "ERR Unknown option given: foo", "FUNCTION", "LOAD", "foo", code, NULL);
    expect_error(c, "ERR Missing library metadata", "FUNCTION", "LOAD", "return 1", NULL);
    lib_code(code, sizeof code, "bad-name", "f", "return 1");
    expect_error(c, "ERR Library names can only contain letters, numbers, or underscores(_) and must be at least one "
                    "character long", "FUNCTION", "LOAD", code, NULL);
    expect_error(c, "ERR Engine 'python' not found", "FUNCTION", "LOAD",
                 "#!python name=p\nredis.register_function('f', function() return 1 end)", NULL);
    expect_error(c, "ERR Invalid metadata value given: foo=bar", "FUNCTION", "LOAD",
                 "#!lua name=x foo=bar\nredis.register_function('f', function() return 1 end)", NULL);
    expect_error(c, "ERR Library name was not given", "FUNCTION", "LOAD",
                 "#!lua\nredis.register_function('f', function() return 1 end)", NULL);
    expect_error(c, "ERR Invalid metadata value, name argument was given multiple times", "FUNCTION", "LOAD",
                 "#!lua name=a name=b\nredis.register_function('f', function() return 1 end)", NULL);
    expect_bulk(c, "quoted", "FUNCTION", "LOAD",
                "#!lua name=\"quoted\"\nredis.register_function('fq', function() return 1 end)", NULL);
    lib_code(code, sizeof code, "test", "test", "bad script");
    expect_error_prefix(c, "ERR Error compiling function: user_function:", "FUNCTION", "LOAD", "REPLACE", code, NULL);
    expect_bulk(c, "hello", "FCALL", "test", "0", NULL);          /* the failed REPLACE kept it */
    expect_error(c, "ERR No functions registered", "FUNCTION", "LOAD", "#!lua name=empty\nreturn 1", NULL);
    expect_error(c, "ERR Error registering functions: ERR user_function:2: Script attempted to access nonexistent "
                    "global variable 'math'", "FUNCTION", "LOAD", "#!lua name=m\nreturn math.random()", NULL);
    expect_error(c, "ERR Error registering functions: ERR user_function:2: Script attempted to access nonexistent "
                    "global variable 'call'", "FUNCTION", "LOAD", "#!lua name=m\nreturn redis.call('ping')", NULL);
    expect_error(c, "ERR Error registering functions: ERR user_function:2: Attempt to modify a readonly table", "FUNCTION",
                 "LOAD", "#!lua name=m\na = 1", NULL);
    expect_error(c, "ERR Error registering functions: ERR Function already exists in the library", "FUNCTION",
                 "LOAD", "#!lua name=m\nredis.register_function('f', function() end)\n"
                 "redis.register_function('f', function() end)", NULL);
    expect_error(c, "ERR Function test already exists", "FUNCTION", "LOAD",
                 "#!lua name=m\nredis.register_function('test', function() end)", NULL);
    expect_error(c, "ERR Error registering functions: ERR Library names can only contain letters, numbers, or "
                    "underscores(_) and must be at least one character long", "FUNCTION", "LOAD",
                 "#!lua name=m\nredis.register_function('a\\0b', function() end)", NULL);
    expect_error(c, "ERR Error registering functions: ERR unknown flag given", "FUNCTION", "LOAD",
                 "#!lua name=m\nredis.register_function{function_name='f', callback=function() end, "
                 "flags={'bogus'}}", NULL);
    expect_error(c, "ERR Error registering functions: ERR wrong number of arguments to redis.register_function",
                 "FUNCTION", "LOAD", "#!lua name=m\nredis.register_function()", NULL);
    expect_error_prefix(c, "ERR Error registering functions: ERR FUNCTION LOAD timeout", "FUNCTION", "LOAD",
                        "#!lua name=m\nwhile true do end", NULL);
    /* FCALL's own arguments */
    expect_error(c, "ERR Bad number of keys provided", "FCALL", "test", "x", NULL);
    expect_error(c, "ERR Number of keys can't be greater than number of args", "FCALL", "test", "2", "k", NULL);
    expect_error(c, "ERR Number of keys can't be negative", "FCALL", "test", "-1", NULL);
    expect_error(c, "ERR FUNCTION FLUSH only supports SYNC|ASYNC option", "FUNCTION", "FLUSH", "now", NULL);
    expect_error(c, "ERR unknown subcommand or wrong number of arguments for 'FLUSH'. Try FUNCTION HELP.", "FUNCTION",
                 "FLUSH", "sync", "extra", NULL);
    expect_error(c, "ERR Unknown argument bad", "FUNCTION", "LIST", "bad", NULL);
    expect_error(c, "ERR library name argument was not given", "FUNCTION", "LIST", "LIBRARYNAME", NULL);
    expect_error(c, "NOTBUSY No scripts in execution right now.", "FUNCTION", "KILL", NULL);
}

static void test_flags_and_run_errors(void **state)
{
    kv_conn *c = *state;
    expect_status(c, "OK", "FUNCTION", "FLUSH", NULL);
    expect_bulk(c, "flags", "FUNCTION", "LOAD",
                "#!lua name=flags\n"
                "redis.register_function('w', function(keys) return redis.call('set', keys[1], 'x') end)\n"
                "redis.register_function{function_name='ro_w', callback=function(keys) "
                "return redis.call('set', keys[1], 'x') end, flags={'no-writes'}}\n"
                "redis.register_function{function_name='ro', callback=function() return 'fine' end, "
                "flags={'no-writes'}}\n"
                "redis.register_function('boom', function() error('boom') end)\n"
                "redis.register_function('global', function() undefined_thing = 1 end)\n"
                "redis.register_function('reg', function() redis.register_function('x', function() end) end)",
                NULL);
    expect_error(c, "ERR Can not execute a script with write flag using *_ro command.", "FCALL_RO", "w", "1", "k",
                 NULL);
    expect_error(c, "ERR Write commands are not allowed from read-only scripts. script: ro_w, on @user_function:3.",
                 "FCALL", "ro_w", "1", "k", NULL);
    expect_bulk(c, "fine", "FCALL_RO", "ro", "0", NULL);
    expect_error(c, "ERR user_function:5: boom script: boom, on @user_function:5.", "FCALL", "boom", "0", NULL);
    expect_error(c, "ERR user_function:6: Attempt to modify a readonly table script: global, on @user_function:6.",
                 "FCALL", "global", "0", NULL);
    expect_error_prefix(c, "ERR user_function:7: attempt to call field 'register_function' (a nil value)", "FCALL",
                        "reg", "0", NULL);
    expect_nil(c, "GET", "k", NULL);
}

static void test_dump_restore(void **state)
{
    kv_conn *c = *state;
    expect_status(c, "OK", "FUNCTION", "FLUSH", NULL);
    load_lib(c, false, "lib1", "f1", "return 'one'");
    kv_reply *dump = run4(c, "FUNCTION", "DUMP", NULL, NULL);
    assert_reply_type(dump, KV_REPLY_BULK);
    const char *argv[] = { "FUNCTION", "RESTORE", dump->str, "APPEND" };
    size_t lens[] = { 8, 7, dump->len, 6 };
    expect_status(c, "OK", "FUNCTION", "FLUSH", NULL);
    kv_reply *r = conn_cmdv(c, 3, argv, lens);
    assert_status(r, "OK");
    kv_reply_free(r);
    expect_bulk(c, "one", "FCALL", "f1", "0", NULL);
    /* APPEND (and no policy) refuse a library that exists, naming it without quotes */
    r = conn_cmdv(c, 4, argv, lens);
    assert_error(r, "ERR Library lib1 already exists");
    kv_reply_free(r);
    /* REPLACE puts the dumped code back */
    load_lib(c, true, "lib1", "f1", "return 'changed'");
    load_lib(c, false, "lib2", "f2", "return 'two'");
    argv[3] = "REPLACE";
    lens[3] = 7;
    r = conn_cmdv(c, 4, argv, lens);
    assert_status(r, "OK");
    kv_reply_free(r);
    expect_bulk(c, "one", "FCALL", "f1", "0", NULL);
    expect_bulk(c, "two", "FCALL", "f2", "0", NULL);
    /* FLUSH drops lib2 first */
    argv[3] = "FLUSH";
    lens[3] = 5;
    r = conn_cmdv(c, 4, argv, lens);
    assert_status(r, "OK");
    kv_reply_free(r);
    expect_error(c, "ERR Function not found", "FCALL", "f2", "0", NULL);
    argv[3] = "SOMETIMES";
    lens[3] = 9;
    r = conn_cmdv(c, 4, argv, lens);
    assert_error(r, "ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.");
    kv_reply_free(r);
    kv_reply_free(dump);
    expect_error(c, "ERR DUMP payload version or checksum are wrong", "FUNCTION", "RESTORE", "bad_payload", NULL);
    expect_bulk(c, "one", "FCALL", "f1", "0", NULL);
}

static void test_load_and_call_inside_exec(void **state)
{
    kv_conn *c = *state;
    expect_status(c, "OK", "FUNCTION", "FLUSH", NULL);
    char code[512];
    lib_code(code, sizeof code, "inexec", "incr_it", "return redis.call('incrby', KEYS[1], ARGV[1])");
    expect_status(c, "OK", "MULTI", NULL);
    expect_status(c, "QUEUED", "FUNCTION", "LOAD", code, NULL);
    expect_status(c, "QUEUED", "FCALL", "incr_it", "1", "n", "5", NULL);
    expect_status(c, "QUEUED", "INCR", "n", NULL);
    expect_status(c, "QUEUED", "FUNCTION", "STATS", NULL);
    kv_reply *r = run4(c, "EXEC", NULL, NULL, NULL);
    assert_array_len(r, 4);
    assert_bulk(r->elements[0], "inexec");
    assert_int(r->elements[1], 5);
    assert_int(r->elements[2], 6);
    const kv_reply *lua = kv_reply_map_get(kv_reply_map_get(r->elements[3], "engines"), "LUA");
    assert_int(kv_reply_map_get(lua, "libraries_count"), 1);
    kv_reply_free(r);
    expect_int(c, 8, "FCALL", "incr_it", "1", "n", "2", NULL);
}

static void test_oom(void **state)
{
    kv_conn *c = *state;
    expect_status(c, "OK", "FUNCTION", "FLUSH", NULL);
    expect_bulk(c, "oom", "FUNCTION", "LOAD",
                "#!lua name=oom\n"
                "redis.register_function('w', function(keys) return redis.call('set', keys[1], '1') end)\n"
                "redis.register_function{function_name='ok', callback=function(keys) "
                "return redis.call('set', keys[1], '1') end, flags={'allow-oom'}}\n"
                "redis.register_function{function_name='ro', callback=function() return 'hello' end, "
                "flags={'no-writes'}}",
                NULL);
    kv_reply *dump = run4(c, "FUNCTION", "DUMP", NULL, NULL);
    expect_status(c, "OK", "SET", "filler", "some bytes in use", NULL);   /* kvns counts only data */
    expect_status(c, "OK", "CONFIG", "SET", "maxmemory", "1", NULL);
    expect_error(c, "OOM command not allowed when used memory > 'maxmemory'.", "FCALL", "w", "1", "k", NULL);
    expect_bulk(c, "hello", "FCALL", "ro", "1", "k", NULL);
    expect_bulk(c, "hello", "FCALL_RO", "ro", "1", "k", NULL);
    expect_status(c, "OK", "FCALL", "ok", "1", "k", NULL);
    char code[512];
    lib_code(code, sizeof code, "more", "more", "return 1");
    expect_error(c, "OOM command not allowed when used memory > 'maxmemory'.", "FUNCTION", "LOAD", code, NULL);
    const char *argv[] = { "FUNCTION", "RESTORE", dump->str, "REPLACE" };
    size_t lens[] = { 8, 7, dump->len, 7 };
    kv_reply *r = conn_cmdv(c, 4, argv, lens);
    assert_error(r, "OOM command not allowed when used memory > 'maxmemory'.");
    kv_reply_free(r);
    kv_reply_free(dump);
    expect_status(c, "OK", "CONFIG", "SET", "maxmemory", "0", NULL);
    expect_bulk(c, "1", "GET", "k", NULL);
}

/* ---- kvns only: across workers ------------------------------------------------------ */

/* A server of two single-thread workers and a connection on each. */
typedef struct two_workers {
    kv_server *srv;
    kv_conn   *a, *b;
} two_workers;

static two_workers two_workers_start(const char *extra_env)
{
    const char *env[] = { "KVNS_WORKERS=2", "KVNS_THREADS=1", extra_env, NULL };
    two_workers tw = { srv_start(env), NULL, NULL };
    assert_non_null(tw.srv);
    tw.a = conn_open(srv_port(tw.srv));
    assert_non_null(tw.a);
    long long a_pid = it_info_ll(tw.a, "server", "process_id");
    /* while a's only thread sleeps, a new connection answers only from the other */
    assert_int_equal(conn_send_cmd(tw.a, "DEBUG", "SLEEP", "1", NULL), 0);
    sleep_ms(50);
    tw.b = it_connect_elsewhere(srv_port(tw.srv), a_pid);
    kv_reply *r = conn_read_reply(tw.a);
    assert_status(r, "OK");
    kv_reply_free(r);
    return tw;
}

static void two_workers_stop(two_workers *tw)
{
    conn_close(tw->a);
    conn_close(tw->b);
    assert_int_equal(srv_stop(tw->srv), 0);
}

static void test_shared_by_workers(void **state)
{
    it_skip_unless_kvns("two workers");
    two_workers tw = two_workers_start(NULL);
    expect_error(tw.b, "ERR Function not found", "FCALL", "where", "0", NULL);   /* b built its (empty) set */
    load_lib(tw.a, false, "shared", "where", "return 'loaded on a'");
    expect_bulk(tw.b, "loaded on a", "FCALL", "where", "0", NULL);
    load_lib(tw.b, true, "shared", "where", "return 'replaced on b'");
    expect_bulk(tw.a, "replaced on b", "FCALL", "where", "0", NULL);
    expect_bulk(tw.b, "replaced on b", "FCALL", "where", "0", NULL);
    expect_status(tw.b, "OK", "FUNCTION", "FLUSH", NULL);
    expect_error(tw.a, "ERR Function not found", "FCALL", "where", "0", NULL);
    expect_array_len(tw.a, 0, "FUNCTION", "LIST", NULL);
    two_workers_stop(&tw);
}

static void test_function_kill_across_workers(void **state)
{
    it_skip_unless_kvns("BUSY only for clients of other workers");
    two_workers tw = two_workers_start(NULL);
    expect_status(tw.b, "OK", "CONFIG", "SET", "busy-reply-threshold", "100", NULL);
    load_lib(tw.b, false, "loop", "spin", "redis.call('get', KEYS[1]) while true do end");
    assert_int_equal(conn_send_cmd(tw.a, "FCALL", "spin", "1", "k", NULL), 0);
    sleep_ms(300);
    expect_error(tw.b, "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.",
                 "GET", "k", NULL);
    kv_reply *r = run4(tw.b, "FUNCTION", "STATS", NULL, NULL);
    const kv_reply *running = kv_reply_map_get(r, "running_script");
    assert_bulk(kv_reply_map_get(running, "name"), "spin");
    const kv_reply *cmd = kv_reply_map_get(running, "command");
    assert_array_len(cmd, 4);
    assert_bulk(cmd->elements[0], "FCALL");
    assert_bulk(cmd->elements[3], "k");
    assert_int_range(kv_reply_map_get(running, "duration_ms"), 200, 100000);
    kv_reply_free(r);
    expect_error(tw.b, "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.",
                 "SCRIPT", "KILL", NULL);
    expect_status(tw.b, "OK", "FUNCTION", "KILL", NULL);
    conn_set_timeout(tw.a, 5000);
    r = conn_read_reply(tw.a);
    assert_reply_type(r, KV_REPLY_ERROR);
    if (!strstr(r->str, "Script killed by user with SCRIPT KILL... script: spin, on @user_function:"))
        it_fail("killed function replied %s", r->str);
    kv_reply_free(r);
    expect_nil(tw.b, "GET", "k", NULL);
    expect_error(tw.b, "NOTBUSY No scripts in execution right now.", "FUNCTION", "KILL", NULL);
    r = run4(tw.b, "FUNCTION", "STATS", NULL, NULL);
    assert_nil(kv_reply_map_get(r, "running_script"));
    kv_reply_free(r);
    two_workers_stop(&tw);
}

static void test_busy_on_the_running_thread(void **state)
{
    it_skip_unless_kvns("one single-thread worker");
    const char *env[] = { "KVNS_WORKERS=1", "KVNS_THREADS=1", NULL };
    kv_server *srv = srv_start(env);
    assert_non_null(srv);
    kv_conn *a = conn_open(srv_port(srv)), *b = conn_open(srv_port(srv));
    assert_non_null(a);
    assert_non_null(b);
    conn_set_timeout(b, 5000);
    expect_status(b, "OK", "CONFIG", "SET", "busy-reply-threshold", "50", NULL);
    load_lib(b, false, "loop", "spin", "while true do end");
    assert_int_equal(conn_send_cmd(a, "FCALL", "spin", "0", NULL), 0);
    sleep_ms(200);
    /* the thread is inside the function, yet its other client is answered */
    expect_error(b, "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.",
                 "PING", NULL);
    kv_reply *r = run4(b, "FUNCTION", "STATS", NULL, NULL);
    assert_bulk(kv_reply_map_get(kv_reply_map_get(r, "running_script"), "name"), "spin");
    assert_int(kv_reply_map_get(kv_reply_map_get(kv_reply_map_get(r, "engines"), "LUA"), "functions_count"), 1);
    kv_reply_free(r);
    expect_error(b, "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.",
                 "SCRIPT", "KILL", NULL);
    expect_status(b, "OK", "FUNCTION", "KILL", NULL);
    conn_set_timeout(a, 5000);
    r = conn_read_reply(a);
    assert_error_prefix(r, "ERR Script killed by user with SCRIPT KILL... script: spin");
    kv_reply_free(r);
    expect_status(b, "PONG", "PING", NULL);
    /* the same for EVAL, with SCRIPT KILL's text */
    assert_int_equal(conn_send_cmd(a, "EVAL", "while true do end", "0", NULL), 0);
    sleep_ms(200);
    expect_error(b, "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.", "GET",
                 "k", NULL);
    expect_status(b, "OK", "SCRIPT", "KILL", NULL);
    r = conn_read_reply(a);
    assert_error_prefix(r, "ERR Script killed by user with SCRIPT KILL...");
    kv_reply_free(r);
    conn_close(a);
    conn_close(b);
    assert_int_equal(srv_stop(srv), 0);
}

static void test_libraries_in_snapshot(void **state)
{
    it_skip_unless_kvns("KVNS_PERSIST_PATH");
    char dir[128], env_path[256];
    snprintf(dir, sizeof dir, "/tmp/kvns-it-function-%d-XXXXXX", (int)getpid());
    assert_non_null(mkdtemp(dir));
    snprintf(env_path, sizeof env_path, "KVNS_PERSIST_PATH=%s/dump.kvns", dir);
    two_workers tw = two_workers_start(env_path);
    expect_bulk(tw.a, "saved", "FUNCTION", "LOAD",
                "#!lua name=saved\nredis.register_function{function_name='kept', callback=function(keys, args) "
                "return redis.call('get', keys[1]) .. args[1] end, description='survives', flags={'no-writes'}}",
                NULL);
    expect_status(tw.a, "OK", "SET", "k", "v", NULL);
    expect_status(tw.a, "OK", "SAVE", NULL);
    two_workers_stop(&tw);
    tw = two_workers_start(env_path);
    expect_bulk(tw.a, "v!", "FCALL_RO", "kept", "1", "k", "!", NULL);
    expect_bulk(tw.b, "v?", "FCALL_RO", "kept", "1", "k", "?", NULL);
    kv_reply *r = run4(tw.b, "FUNCTION", "LIST", NULL, NULL);
    assert_array_len(r, 1);
    const kv_reply *fn = kv_reply_map_get(r->elements[0], "functions")->elements[0];
    assert_bulk(kv_reply_map_get(fn, "description"), "survives");
    assert_array_len(kv_reply_map_get(fn, "flags"), 1);
    kv_reply_free(r);
    two_workers_stop(&tw);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_load_call_list, it_test_setup, it_test_teardown),
        cmocka_unit_test_setup_teardown(test_load_errors, it_test_setup, it_test_teardown),
        cmocka_unit_test_setup_teardown(test_flags_and_run_errors, it_test_setup, it_test_teardown),
        cmocka_unit_test_setup_teardown(test_dump_restore, it_test_setup, it_test_teardown),
        cmocka_unit_test_setup_teardown(test_load_and_call_inside_exec, it_test_setup, it_test_teardown),
        cmocka_unit_test_setup_teardown(test_oom, it_test_setup, it_test_teardown),
        cmocka_unit_test(test_shared_by_workers),
        cmocka_unit_test(test_function_kill_across_workers),
        cmocka_unit_test(test_busy_on_the_running_thread),
        cmocka_unit_test(test_libraries_in_snapshot),
    };
    return cmocka_run_group_tests(tests, it_group_setup, it_group_teardown);
}
