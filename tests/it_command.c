/* it_command.c - the command table's key specs (issue 9) seen from a client:
 *   - COMMAND INFO: Redis 7's key_specs (flags, begin_search, find_keys, notes), the
 *     legacy first/last/step triple and the movablekeys flag derived from them;
 *   - COMMAND GETKEYS / GETKEYSANDFLAGS: keys and per-key flags from the specs, and
 *     Redis's errors (invalid command, arity, no keys, bad numkeys);
 *   - the numkeys errors of ZUNIONSTORE & co, LMPOP, ZMPOP, SINTERCARD, ZINTERCARD;
 *   - commands whose keys follow numkeys lock every key (across shards) in one
 *     transaction, and wait for a busy shard (kvns only: DEBUG LOCKSHARD);
 *   - COMMAND DOCS of every listed command and subcommand is redis-server 7.0.15's
 *     (tests/command_docs_expect.h) but for the summary and complexity texts;
 *   - subcommand rows: COMMAND LIST/INFO name them, GETKEYS finds their keys, and the
 *     dispatcher answers their arity and unknown-subcommand errors, and a script's
 *     redis.call checks the subcommand's arity and flags.
 * Every expectation is Redis 7.0's reply: KVNS_TEST_TARGET=redis passes too (but the
 * busy-shard test). */
#include "harness.h"
#include "command_docs_expect.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Runs a command given as C strings and returns its reply, failing on no reply. */
static kv_reply *cmd(kv_conn *c, const char *arg0, ...)
{
    va_list ap;
    va_start(ap, arg0);
    kv_reply *r = conn_cmd_va(c, arg0, ap);
    va_end(ap);
    if (!r)
        it_fail("%s: no reply (%s)", arg0, conn_error(c));
    return r;
}

/* Appends r in a compact form: strings bare, integers in decimal, aggregates (arrays,
 * sets, maps as their flat pairs) as [a, b, ...] - the same for RESP2 and RESP3. */
static void compact(const kv_reply *r, char *buf, size_t cap, size_t *len)
{
    if (r->type == KV_REPLY_ARRAY || r->type == KV_REPLY_SET || r->type == KV_REPLY_MAP) {
        *len += (size_t)snprintf(buf + *len, cap - *len, "[");
        for (size_t i = 0; i < r->count && *len < cap; i++) {
            if (i)
                *len += (size_t)snprintf(buf + *len, cap - *len, ", ");
            if (*len < cap)
                compact(r->elements[i], buf, cap, len);
        }
        if (*len < cap)
            *len += (size_t)snprintf(buf + *len, cap - *len, "]");
    } else if (r->type == KV_REPLY_INTEGER) {
        *len += (size_t)snprintf(buf + *len, cap - *len, "%lld", r->integer);
    } else {
        *len += (size_t)snprintf(buf + *len, cap - *len, "%s", r->str ? r->str : "(nil)");
    }
}

/* Fails unless the compact form of r is want. */
static void expect_described(const kv_reply *r, const char *want, const char *what)
{
    char buf[4096];
    size_t len = 0;
    compact(r, buf, sizeof buf, &len);
    if (strcmp(buf, want) != 0)
        it_fail("%s:\n  got  %s\n  want %s", what, buf, want);
}

/* The COMMAND INFO entry of name (freed with the returned reply *all). */
static const kv_reply *info_of(kv_conn *c, const char *name, kv_reply **all)
{
    *all = cmd(c, "COMMAND", "INFO", name, NULL);
    assert_int_equal((*all)->count, 1);
    const kv_reply *e = (*all)->elements[0];
    assert_int_equal(e->count, 10);
    return e;
}

/* Fails unless name's first/last/step are as given, it is movablekeys or not, and its
 * key specs describe as specs. */
static void expect_info(kv_conn *c, const char *name, long long first, long long last, long long step,
                        bool movable, const char *specs)
{
    kv_reply *all;
    const kv_reply *e = info_of(c, name, &all);
    assert_int(e->elements[3], first);
    assert_int(e->elements[4], last);
    assert_int(e->elements[5], step);
    if ((kv_reply_find_str(e->elements[2], "movablekeys") >= 0) != movable)
        it_fail("%s: movablekeys should be %s", name, movable ? "set" : "absent");
    expect_described(e->elements[8], specs, name);
    kv_reply_free(all);
}

static void test_info_key_specs(void **state)
{
    kv_conn *c = *state;
    expect_info(c, "get", 1, 1, 1, false,
                "[[flags, [RO, access], begin_search, [type, index, spec, [index, 1]], "
                "find_keys, [type, range, spec, [lastkey, 0, keystep, 1, limit, 0]]]]");
    expect_info(c, "mset", 1, -1, 2, false,
                "[[flags, [OW, update], begin_search, [type, index, spec, [index, 1]], "
                "find_keys, [type, range, spec, [lastkey, -1, keystep, 2, limit, 0]]]]");
    expect_info(c, "del", 1, -1, 1, false,
                "[[flags, [RM, delete], begin_search, [type, index, spec, [index, 1]], "
                "find_keys, [type, range, spec, [lastkey, -1, keystep, 1, limit, 0]]]]");
    expect_info(c, "smove", 1, 2, 1, false,
                "[[flags, [RW, access, delete], begin_search, [type, index, spec, [index, 1]], "
                "find_keys, [type, range, spec, [lastkey, 0, keystep, 1, limit, 0]]], "
                "[flags, [RW, insert], begin_search, [type, index, spec, [index, 2]], "
                "find_keys, [type, range, spec, [lastkey, 0, keystep, 1, limit, 0]]]]");
    expect_info(c, "sunionstore", 1, -1, 1, false,
                "[[flags, [OW, update], begin_search, [type, index, spec, [index, 1]], "
                "find_keys, [type, range, spec, [lastkey, 0, keystep, 1, limit, 0]]], "
                "[flags, [RO, access], begin_search, [type, index, spec, [index, 2]], "
                "find_keys, [type, range, spec, [lastkey, -1, keystep, 1, limit, 0]]]]");
    expect_info(c, "zunionstore", 1, 1, 1, true,
                "[[flags, [OW, update], begin_search, [type, index, spec, [index, 1]], "
                "find_keys, [type, range, spec, [lastkey, 0, keystep, 1, limit, 0]]], "
                "[flags, [RO, access], begin_search, [type, index, spec, [index, 2]], "
                "find_keys, [type, keynum, spec, [keynumidx, 0, firstkey, 1, keystep, 1]]]]");
    expect_info(c, "lmpop", 0, 0, 0, true,
                "[[flags, [RW, access, delete], begin_search, [type, index, spec, [index, 1]], "
                "find_keys, [type, keynum, spec, [keynumidx, 0, firstkey, 1, keystep, 1]]]]");
    expect_info(c, "sintercard", 0, 0, 0, true,
                "[[flags, [RO, access], begin_search, [type, index, spec, [index, 1]], "
                "find_keys, [type, keynum, spec, [keynumidx, 0, firstkey, 1, keystep, 1]]]]");
    expect_info(c, "set", 1, 1, 1, false,
                "[[notes, RW and ACCESS due to the optional `GET` argument, "
                "flags, [RW, access, update, variable_flags], begin_search, [type, index, spec, [index, 1]], "
                "find_keys, [type, range, spec, [lastkey, 0, keystep, 1, limit, 0]]]]");
    expect_info(c, "ping", 0, 0, 0, false, "[]");
}

/* The key positions every DENYOOM-free, keyless or keyed row reports agree with
 * GETKEYS on a sample command line: first/last/step of a non-movable command are
 * exactly the keys GETKEYS finds. */
static void test_info_triple_matches_getkeys(void **state)
{
    kv_conn *c = *state;
    kv_reply *r = cmd(c, "COMMAND", "GETKEYS", "MSET", "a", "1", "b", "2", "c", "3", NULL);
    expect_described(r, "[a, b, c]", "GETKEYS MSET");
    kv_reply_free(r);
    r = cmd(c, "COMMAND", "GETKEYS", "SUNIONSTORE", "d", "s1", "s2", NULL);
    expect_described(r, "[d, s1, s2]", "GETKEYS SUNIONSTORE");
    kv_reply_free(r);
    r = cmd(c, "COMMAND", "GETKEYS", "RENAME", "x", "y", NULL);
    expect_described(r, "[x, y]", "GETKEYS RENAME");
    kv_reply_free(r);
}

static void test_getkeys_movable(void **state)
{
    kv_conn *c = *state;
    kv_reply *r = cmd(c, "COMMAND", "GETKEYS", "ZUNIONSTORE", "dst", "2", "z1", "z2", "WEIGHTS", "1", "2", NULL);
    expect_described(r, "[dst, z1, z2]", "GETKEYS ZUNIONSTORE");
    kv_reply_free(r);
    r = cmd(c, "COMMAND", "GETKEYS", "LMPOP", "2", "l1", "l2", "LEFT", "COUNT", "3", NULL);
    expect_described(r, "[l1, l2]", "GETKEYS LMPOP");
    kv_reply_free(r);
    r = cmd(c, "COMMAND", "GETKEYS", "ZINTERCARD", "3", "a", "b", "c", "LIMIT", "1", NULL);
    expect_described(r, "[a, b, c]", "GETKEYS ZINTERCARD");
    kv_reply_free(r);
    r = cmd(c, "COMMAND", "GETKEYS", "ZMPOP", "1", "z", "MIN", NULL);
    expect_described(r, "[z]", "GETKEYS ZMPOP");
    kv_reply_free(r);
}

static void test_getkeysandflags(void **state)
{
    kv_conn *c = *state;
    kv_reply *r = cmd(c, "COMMAND", "GETKEYSANDFLAGS", "SET", "k1", "v1", NULL);
    expect_described(r, "[[k1, [OW, update]]]", "SET");
    kv_reply_free(r);
    r = cmd(c, "COMMAND", "GETKEYSANDFLAGS", "SET", "k1", "v1", "GET", NULL);
    expect_described(r, "[[k1, [RW, access, update]]]", "SET GET");
    kv_reply_free(r);
    r = cmd(c, "COMMAND", "GETKEYSANDFLAGS", "MSET", "k1", "v1", "k2", "v2", NULL);
    expect_described(r, "[[k1, [OW, update]], [k2, [OW, update]]]", "MSET");
    kv_reply_free(r);
    r = cmd(c, "COMMAND", "GETKEYSANDFLAGS", "LMOVE", "k1", "k2", "left", "right", NULL);
    expect_described(r, "[[k1, [RW, access, delete]], [k2, [RW, insert]]]", "LMOVE");
    kv_reply_free(r);
    r = cmd(c, "COMMAND", "GETKEYSANDFLAGS", "ZUNIONSTORE", "d", "2", "a", "b", NULL);
    expect_described(r, "[[d, [OW, update]], [a, [RO, access]], [b, [RO, access]]]", "ZUNIONSTORE");
    kv_reply_free(r);
}

static void test_getkeys_errors(void **state)
{
    kv_conn *c = *state;
    expect_error(c, "ERR Invalid command specified", "COMMAND", "GETKEYS", "NOSUCHCMD", "a", NULL);
    expect_error(c, "ERR The command has no key arguments", "COMMAND", "GETKEYS", "PING", "x", NULL);
    expect_error(c, "ERR Invalid number of arguments specified for command", "COMMAND", "GETKEYS", "SET",
                 "a", NULL);
    expect_error(c, "ERR Invalid arguments specified for command", "COMMAND", "GETKEYS", "ZUNIONSTORE", "d",
                 "0", "a", NULL);
    expect_error(c, "ERR Invalid arguments specified for command", "COMMAND", "GETKEYS", "LMPOP", "5", "a",
                 "LEFT", NULL);
    expect_error(c, "ERR Invalid arguments specified for command", "COMMAND", "GETKEYS", "SINTERCARD", "x",
                 "a", NULL);
    expect_error(c, "ERR wrong number of arguments for 'command|getkeys' command", "COMMAND", "GETKEYS",
                 "GET", NULL);
    /* no_mandatory_keys: EVAL with no keys has none to report, not an error */
    expect_array_len(c, 0, "COMMAND", "GETKEYS", "EVAL", "return 1", "0", NULL);
    expect_array_len(c, 0, "COMMAND", "GETKEYSANDFLAGS", "EVAL", "return 1", "x", NULL);
    kv_reply *all;
    const kv_reply *e = info_of(c, "eval", &all);
    if (kv_reply_find_str(e->elements[2], "no_mandatory_keys") < 0)
        it_fail("COMMAND INFO eval: no_mandatory_keys missing from its flags");
    kv_reply_free(all);
}

static void test_numkeys_errors(void **state)
{
    kv_conn *c = *state;
    expect_error(c, "ERR at least 1 input key is needed for 'zunionstore' command", "ZUNIONSTORE", "d", "0",
                 "a", NULL);
    expect_error(c, "ERR at least 1 input key is needed for 'zinterstore' command", "ZINTERSTORE", "d", "-1",
                 "a", NULL);
    expect_error(c, "ERR at least 1 input key is needed for 'zunion' command", "ZUNION", "0", "a", NULL);
    expect_error(c, "ERR at least 1 input key is needed for 'zintercard' command", "ZINTERCARD", "0", "a", NULL);
    expect_error(c, "ERR value is not an integer or out of range", "ZUNIONSTORE", "d", "x", "a", NULL);
    expect_error(c, "ERR syntax error", "ZUNIONSTORE", "d", "5", "a", NULL);
    expect_error(c, "ERR syntax error", "ZDIFF", "3", "a", "b", NULL);
    expect_error(c, "ERR numkeys should be greater than 0", "LMPOP", "0", "a", "LEFT", NULL);
    expect_error(c, "ERR numkeys should be greater than 0", "LMPOP", "x", "a", "LEFT", NULL);
    expect_error(c, "ERR syntax error", "LMPOP", "3", "a", "LEFT", NULL);
    expect_error(c, "ERR numkeys should be greater than 0", "ZMPOP", "0", "a", "MIN", NULL);
    expect_error(c, "ERR syntax error", "ZMPOP", "5", "a", "MIN", NULL);
    expect_error(c, "ERR numkeys should be greater than 0", "SINTERCARD", "0", "a", NULL);
    expect_error(c, "ERR numkeys should be greater than 0", "SINTERCARD", "x", "a", NULL);
    expect_error(c, "ERR Number of keys can't be greater than number of args", "SINTERCARD", "3", "a", "b",
                 NULL);
}

/* Keys on every shard (many names): the movable commands see all of them at once. */
static void test_movable_across_shards(void **state)
{
    kv_conn *c = *state;
    const char *zs[] = { "z:a", "z:b", "z:c", "z:d", "z:e", "z:f", "z:g", "z:h" };
    for (int i = 0; i < 8; i++) {
        char score[16];
        snprintf(score, sizeof score, "%d", i + 1);
        expect_int(c, 1, "ZADD", zs[i], score, "m", NULL);
        expect_int(c, 1, "SADD", zs[i] + 2, "m", NULL);
        expect_int(c, 1, "RPUSH", zs[i] + 1, "e", NULL);
    }
    expect_int(c, 1, "ZUNIONSTORE", "z:dst", "8", "z:a", "z:b", "z:c", "z:d", "z:e", "z:f", "z:g", "z:h",
               NULL);
    expect_bulk(c, "36", "ZSCORE", "z:dst", "m", NULL);
    expect_int(c, 1, "ZINTERCARD", "8", "z:a", "z:b", "z:c", "z:d", "z:e", "z:f", "z:g", "z:h", NULL);
    expect_int(c, 1, "SINTERCARD", "8", "a", "b", "c", "d", "e", "f", "g", "h", NULL);
    kv_reply *r = cmd(c, "LMPOP", "3", "nol1", "nol2", ":c", "RIGHT", NULL);
    expect_described(r, "[:c, [e]]", "LMPOP");
    kv_reply_free(r);
    r = cmd(c, "ZMPOP", "2", "nozset", "z:h", "MAX", NULL);
    expect_described(r, "[z:h, [[m, 8]]]", "ZMPOP");
    kv_reply_free(r);
    expect_int(c, 0, "EXISTS", ":c", "z:h", NULL);
}

/* A movable command whose key's shard is held waits for it, then runs (kvns only). */
static void test_movable_waits_for_busy_shard(void **state)
{
    kv_conn *c = *state;
    it_skip_unless_kvns("DEBUG LOCKSHARD holds a shard");
    expect_int(c, 1, "RPUSH", "busy", "x", NULL);
    kv_conn *holder = it_connect();
    long long start = now_ms();
    assert_int_equal(conn_send_cmd(holder, "DEBUG", "LOCKSHARD", "busy", "300", NULL), 0);
    sleep_ms(50);
    kv_reply *r = cmd(c, "LMPOP", "2", "other", "busy", "LEFT", NULL);
    expect_described(r, "[busy, [x]]", "LMPOP after the shard was released");
    kv_reply_free(r);
    if (now_ms() - start < 250)
        it_fail("LMPOP answered after %lld ms, while the shard was held for 300", now_ms() - start);
    r = conn_read_reply(holder);
    assert_status(r, "OK");
    kv_reply_free(r);
    conn_close(holder);
}

/* The expected compact COMMAND DOCS of name (command_docs_expect.h), or NULL. */
static const char *redis_doc_of(const char *name)
{
    for (size_t i = 0; i < sizeof redis_docs_expect / sizeof redis_docs_expect[0]; i++)
        if (strcmp(redis_docs_expect[i][0], name) == 0)
            return redis_docs_expect[i][1];
    return NULL;
}

/* The compact form of a COMMAND DOCS map (flat pairs under RESP2) without the fields
 * the expectations leave out: summary, complexity, subcommands. */
static void compact_doc(const kv_reply *doc, char *buf, size_t cap)
{
    size_t len = (size_t)snprintf(buf, cap, "[");
    bool first = true;
    for (size_t i = 0; i + 1 < doc->count && len < cap; i += 2) {
        const char *key = doc->elements[i]->str;
        if (strcmp(key, "summary") == 0 || strcmp(key, "complexity") == 0 || strcmp(key, "subcommands") == 0)
            continue;
        len += (size_t)snprintf(buf + len, cap - len, "%s%s, ", first ? "" : ", ", key);
        if (len < cap)
            compact(doc->elements[i + 1], buf, cap, &len);
        first = false;
    }
    if (len < cap)
        snprintf(buf + len, cap - len, "]");
}

/* Every command and subcommand COMMAND LIST names documents the arguments, history,
 * since and group redis-server 7.0.15 does; only kvns's additions from Redis 7.2
 * (tools/command_docs_kvns.json) have no 7.0 doc to compare with. */
static void test_docs_match_redis(void **state)
{
    kv_conn *c = *state;
    static const char *const newer[] = { "client|setinfo", "client|no-touch" };
    kv_reply *list = cmd(c, "COMMAND", "LIST", NULL);
    size_t compared = 0;
    static char got[32768];
    for (size_t i = 0; i < list->count; i++) {
        const char *name = list->elements[i]->str;
        const char *want = redis_doc_of(name);
        if (!want) {
            bool known = false;
            for (size_t j = 0; j < sizeof newer / sizeof newer[0]; j++)
                known |= strcmp(name, newer[j]) == 0;
            if (!known)
                it_fail("COMMAND LIST names '%s', which redis-server 7.0.15 does not document", name);
            continue;
        }
        kv_reply *r = cmd(c, "COMMAND", "DOCS", name, NULL);
        if (r->count != 2 || !kv_reply_is_str(r->elements[0], name))
            it_fail("COMMAND DOCS %s: want one entry named %s", name, name);
        compact_doc(r->elements[1], got, sizeof got);
        if (strcmp(got, want) != 0)
            it_fail("COMMAND DOCS %s:\n  got  %s\n  want %s", name, got, want);
        kv_reply_free(r);
        compared++;
    }
    if (compared < 100)
        it_fail("only %zu commands compared", compared);
    kv_reply_free(list);
}

/* Fails unless COMMAND INFO's subcommands entry of container (element 9) names
 * exactly the given full names, in any order. */
static void expect_subcommands(kv_conn *c, const char *container, const char *const *names, size_t n)
{
    kv_reply *all;
    const kv_reply *e = info_of(c, container, &all);
    const kv_reply *subs = e->elements[9];
    if (subs->count != n)
        it_fail("%s: %zu subcommands, want %zu", container, subs->count, n);
    for (size_t i = 0; i < n; i++) {
        bool found = false;
        for (size_t j = 0; j < subs->count; j++)
            found |= kv_reply_is_str(subs->elements[j]->elements[0], names[i]);
        if (!found)
            it_fail("%s: subcommand %s missing from COMMAND INFO", container, names[i]);
    }
    kv_reply_free(all);
}

/* OBJECT and MEMORY as containers: their subcommands listed and described like any
 * command, their keys found by GETKEYS, their errors given by the dispatcher. */
static void test_subcommand_rows(void **state)
{
    kv_conn *c = *state;
    static const char *const object[] = { "object|encoding", "object|freq", "object|help", "object|idletime",
                                          "object|refcount" };
    static const char *const memory[] = { "memory|doctor", "memory|help", "memory|malloc-stats",
                                          "memory|purge", "memory|stats", "memory|usage" };
    expect_subcommands(c, "object", object, sizeof object / sizeof object[0]);
    expect_subcommands(c, "memory", memory, sizeof memory / sizeof memory[0]);
    expect_info(c, "object|encoding", 2, 2, 1, false,
                "[[flags, [RO], begin_search, [type, index, spec, [index, 2]], find_keys, "
                "[type, range, spec, [lastkey, 0, keystep, 1, limit, 0]]]]");
    kv_reply *list = cmd(c, "COMMAND", "LIST", NULL);
    if (kv_reply_find_str(list, "object|encoding") < 0 || kv_reply_find_str(list, "memory|usage") < 0)
        it_fail("COMMAND LIST should name object|encoding and memory|usage");
    kv_reply_free(list);
    kv_reply *r = cmd(c, "COMMAND", "GETKEYS", "OBJECT", "ENCODING", "k1", NULL);
    expect_described(r, "[k1]", "GETKEYS OBJECT ENCODING");
    kv_reply_free(r);
    r = cmd(c, "COMMAND", "GETKEYS", "MEMORY", "USAGE", "k2", "SAMPLES", "5", NULL);
    expect_described(r, "[k2]", "GETKEYS MEMORY USAGE");
    kv_reply_free(r);
    expect_error(c, "ERR The command has no key arguments", "COMMAND", "GETKEYS", "MEMORY", "STATS", NULL);
    expect_error(c, "ERR unknown subcommand 'nope'. Try OBJECT HELP.", "OBJECT", "nope", "k", NULL);
    expect_error(c, "ERR unknown subcommand 'nope'. Try MEMORY HELP.", "MEMORY", "nope", NULL);
    expect_error(c, "ERR wrong number of arguments for 'object|encoding' command", "OBJECT", "ENCODING",
                 NULL);
    expect_error(c, "ERR wrong number of arguments for 'memory|usage' command", "MEMORY", "USAGE", NULL);
    expect_error(c, "ERR wrong number of arguments for 'object' command", "OBJECT", NULL);
    expect_error(c, "ERR unknown subcommand 'nope'. Try SCRIPT HELP.", "SCRIPT", "nope", NULL);
    expect_error(c, "ERR wrong number of arguments for 'script|load' command", "SCRIPT", "LOAD", NULL);
    expect_error(c, "ERR SCRIPT FLUSH only support SYNC|ASYNC option", "SCRIPT", "FLUSH", "SYNC", "x", NULL);
    expect_status(c, "OK", "SET", "k1", "hello", NULL);
    expect_bulk(c, "embstr", "OBJECT", "ENCODING", "k1", NULL);
    expect_nil(c, "OBJECT", "ENCODING", "missing", NULL);
}

/* A script's redis.call checks the subcommand's row, as Redis's scriptCall does after
 * lookupCommand: its arity, an unknown subcommand, and its flags (CONFIG GET, CLIENT
 * ID are noscript where their containers are not); OBJECT ENCODING runs. */
static void test_scripts_check_subcommand_rows(void **state)
{
    kv_conn *c = *state;
    static const struct { const char *body, *error; } refused[] = {
        { "return redis.call('object', 'nope', 'k')", "ERR Unknown Redis command called from script" },
        { "return redis.call('object', 'encoding')", "ERR Wrong number of args calling Redis command from script" },
        { "return redis.call('config', 'get', 'maxmemory')", "ERR This Redis command is not allowed from script" },
        { "return redis.call('config', 'set', 'maxmemory', '0')", "ERR This Redis command is not allowed from script" },
        { "return redis.call('client', 'id')", "ERR This Redis command is not allowed from script" },
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
        expect_error_prefix(c, refused[i].error, "EVAL", refused[i].body, "0", NULL);
    expect_bulk(c, "int", "EVAL", "redis.call('set', KEYS[1], '12'); return redis.call('object', 'encoding', KEYS[1])",
                "1", "k1", NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_info_key_specs, it_test_setup, it_test_teardown),
        cmocka_unit_test_setup_teardown(test_info_triple_matches_getkeys, it_test_setup, it_test_teardown),
        cmocka_unit_test_setup_teardown(test_getkeys_movable, it_test_setup, it_test_teardown),
        cmocka_unit_test_setup_teardown(test_getkeysandflags, it_test_setup, it_test_teardown),
        cmocka_unit_test_setup_teardown(test_getkeys_errors, it_test_setup, it_test_teardown),
        cmocka_unit_test_setup_teardown(test_numkeys_errors, it_test_setup, it_test_teardown),
        cmocka_unit_test_setup_teardown(test_movable_across_shards, it_test_setup, it_test_teardown),
        cmocka_unit_test_setup_teardown(test_movable_waits_for_busy_shard, it_test_setup, it_test_teardown),
        cmocka_unit_test_setup_teardown(test_docs_match_redis, it_test_setup, it_test_teardown),
        cmocka_unit_test_setup_teardown(test_subcommand_rows, it_test_setup, it_test_teardown),
        cmocka_unit_test_setup_teardown(test_scripts_check_subcommand_rows, it_test_setup, it_test_teardown),
    };
    return cmocka_run_group_tests(tests, it_group_setup, it_group_teardown);
}
