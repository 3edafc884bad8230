/* difffuzz_grammar.c - the differential fuzzer's commands: one row per command of
 * kvns's table, the shapes of its arguments, and how its reply is compared.
 *
 * A row's spec is a list of argument groups separated by spaces; ';' separates whole
 * alternative specs (one is picked). A group is alternatives separated by '|', each a
 * list of items separated by ','; a leading '?' makes the group optional, '*' repeats
 * it 0-3 times, '+' 1-3 times. An item is a shape name from the list below, else a
 * literal argument:
 *   k     a key from a small pool, so commands collide: plain, namespaced (ns/k0),
 *         binary (\0 \r \n), 300 and 600+ bytes long
 *   lk    a key of the lex-range commands: only ZADD with score 0 writes these, since
 *         a lex range over members of different scores is unspecified (kvns and
 *         Redis answer differently)
 *   v     a value: short, numeric edge values, binary, 100 B, 600 B, 2 KiB, 100 KiB
 *   m     a collection element / field: short, numeric, binary, 600 B
 *   i f   an integer / a float (edges: 64-bit limits, overflow, inf, 1e308, junk)
 *   n     a count; idx an index; off a SETRANGE offset
 *   t tms seconds / milliseconds relative TTLs (far future, 0, negative)
 *   at atms absolute deadlines in seconds / ms (far future, past); atf atmsf
 *         far future only
 *   pat   a glob pattern; sb lb a score / lex range bound; agg SUM MIN MAX
 *   typ   a type name; name a client name; cmdname a command name
 *   nk    numkeys then that many keys; nw as many weights as the last nk
 * One command in 50 gets an extra argument or loses its last one (arity errors). */
#include "difffuzz.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static const df_row rows[] = {
    /* strings */
    { "append", 30, DF_EXACT, "k v", NULL },
    { "decr", 10, DF_EXACT, "k", NULL },
    { "decrby", 10, DF_EXACT, "k i", NULL },
    { "get", 40, DF_EXACT, "k", NULL },
    { "getdel", 10, DF_EXACT, "k", NULL },
    { "getex", 30, DF_EXACT, "k ?EX,t|PX,tms|EXAT,at|PXAT,atms|PERSIST", NULL },
    { "getrange", 10, DF_EXACT, "k idx idx", NULL },
    { "getset", 10, DF_EXACT, "k v", NULL },
    { "incr", 10, DF_EXACT, "k", NULL },
    { "incrby", 10, DF_EXACT, "k i", NULL },
    { "incrbyfloat", 10, DF_EXACT, "k f", NULL },
    { "mget", 10, DF_EXACT, "+k", NULL },
    { "mset", 10, DF_EXACT, "+k,v", NULL },
    { "msetnx", 10, DF_EXACT, "+k,v", NULL },
    { "psetex", 10, DF_EXACT, "k tms v", NULL },
    /* future deadlines only: Redis keeps a key SET with a past one until it is next
     * looked up, and DBSIZE and MEMORY USAGE still see it; kvns deletes it at once */
    { "set", 60, DF_EXACT, "k v ?EX,t|PX,tms|EXAT,atf|PXAT,atmsf|KEEPTTL ?NX|XX ?GET", NULL },
    { "setex", 10, DF_EXACT, "k t v", NULL },
    { "setnx", 10, DF_EXACT, "k v", NULL },
    { "setrange", 20, DF_EXACT, "k off v", NULL },
    { "strlen", 10, DF_EXACT, "k", NULL },
    { "substr", 5, DF_EXACT, "k idx idx", NULL },
    /* keyspace and TTLs */
    { "copy", 10, DF_EXACT, "k k ?REPLACE", NULL },
    { "del", 20, DF_EXACT, "+k", NULL },
    { "dbsize", 5, DF_EXACT, "", NULL },
    { "exists", 10, DF_EXACT, "+k", NULL },
    /* GT and LT only with absolute deadlines: with relative ones the comparison of
     * two equal TTLs depends on the milliseconds between the commands */
    { "expire", 30, DF_EXACT, "k t ?NX|XX", NULL },
    { "expireat", 20, DF_EXACT, "k at ?NX|XX|GT|LT", NULL },
    { "expiretime", 10, DF_TTL, "k", NULL },
    { "pexpire", 20, DF_EXACT, "k tms ?NX|XX", NULL },
    { "pexpireat", 20, DF_EXACT, "k atms ?NX|XX|GT|LT", NULL },
    { "pexpiretime", 10, DF_TTL, "k", NULL },
    { "persist", 20, DF_EXACT, "k", NULL },
    { "pttl", 10, DF_TTL, "k", NULL },
    { "ttl", 10, DF_TTL, "k", NULL },
    { "keys", 5, DF_SORTED, "pat", NULL },
    { "randomkey", 3, DF_SHAPE, "", NULL },
    { "rename", 10, DF_EXACT, "k k", NULL },
    { "renamenx", 5, DF_EXACT, "k k", NULL },
    { "scan", 3, DF_TYPE, "0 ?MATCH,pat ?COUNT,n ?TYPE,typ", NULL },
    { "touch", 5, DF_EXACT, "+k", NULL },
    { "type", 10, DF_EXACT, "k", NULL },
    { "unlink", 5, DF_EXACT, "+k", NULL },
    /* kvns's own encodings (listpack sets, as Redis 7.2) and byte counts: types only */
    { "object|encoding", 2, DF_TYPE, "k", NULL },
    { "object|refcount", 1, DF_TYPE, "k", NULL },
    { "object|idletime", 1, DF_TYPE, "k", NULL },
    { "object|help", 1, DF_TYPE, "", NULL },
    { "memory|usage", 3, DF_TYPE, "k ?SAMPLES,n", NULL },
    { "memory|doctor", 1, DF_TYPE, "", NULL },
    { "memory|stats", 1, DF_TYPE, "", NULL },
    { "memory|malloc-stats", 1, DF_TYPE, "", NULL },
    { "memory|purge", 1, DF_TYPE, "", NULL },
    { "memory|help", 1, DF_TYPE, "", NULL },
    { "script|exists", 1, DF_EXACT, "+m", NULL },
    { "script|flush", 1, DF_EXACT, "?SYNC|ASYNC", NULL },
    { "script|help", 1, DF_TYPE, "", NULL },
    { "script|kill", 1, DF_EXACT, "", NULL },
    { "flushall", 1, DF_EXACT, "?SYNC|ASYNC", NULL },
    { "flushdb", 1, DF_EXACT, "?SYNC|ASYNC", NULL },
    { "select", 1, DF_EXACT, "0", NULL },
    { "wait", 1, DF_EXACT, "0 0", NULL },
    /* lists */
    { "lindex", 10, DF_EXACT, "k idx", NULL },
    { "linsert", 10, DF_EXACT, "k BEFORE|AFTER m m", NULL },
    { "llen", 5, DF_EXACT, "k", NULL },
    { "lmove", 10, DF_EXACT, "k k LEFT|RIGHT LEFT|RIGHT", NULL },
    { "lmpop", 10, DF_EXACT, "nk LEFT|RIGHT ?COUNT,n", NULL },
    { "lpop", 10, DF_EXACT, "k ?n", NULL },
    { "lpos", 10, DF_EXACT, "k m ?RANK,idx ?COUNT,n ?MAXLEN,n", NULL },
    { "lpush", 30, DF_EXACT, "k +m", NULL },
    { "lpushx", 5, DF_EXACT, "k +m", NULL },
    { "lrange", 10, DF_EXACT, "k idx idx", NULL },
    { "lrem", 10, DF_EXACT, "k idx m", NULL },
    { "lset", 10, DF_EXACT, "k idx m", NULL },
    { "ltrim", 10, DF_EXACT, "k idx idx", NULL },
    { "rpop", 10, DF_EXACT, "k ?n", NULL },
    { "rpoplpush", 5, DF_EXACT, "k k", NULL },
    { "rpush", 30, DF_EXACT, "k +m", NULL },
    { "rpushx", 5, DF_EXACT, "k +m", NULL },
    /* hashes */
    { "hdel", 10, DF_EXACT, "k +m", NULL },
    { "hexists", 5, DF_EXACT, "k m", NULL },
    { "hget", 10, DF_EXACT, "k m", NULL },
    { "hgetall", 10, DF_PAIRS, "k", NULL },
    { "hincrby", 10, DF_EXACT, "k m i", NULL },
    { "hincrbyfloat", 10, DF_EXACT, "k m f", NULL },
    { "hkeys", 5, DF_SORTED, "k", NULL },
    { "hlen", 5, DF_EXACT, "k", NULL },
    { "hmget", 5, DF_EXACT, "k +m", NULL },
    { "hmset", 5, DF_EXACT, "k +m,v", NULL },
    { "hrandfield", 5, DF_SHAPE, "k ?n|n,WITHVALUES", NULL },
    { "hscan", 3, DF_TYPE, "k 0 ?MATCH,pat ?COUNT,n", NULL },
    { "hset", 30, DF_EXACT, "k +m,v", NULL },
    { "hsetnx", 5, DF_EXACT, "k m v", NULL },
    { "hstrlen", 5, DF_EXACT, "k m", NULL },
    { "hvals", 5, DF_SORTED, "k", NULL },
    /* sets */
    { "sadd", 30, DF_EXACT, "k +m", NULL },
    { "scard", 5, DF_EXACT, "k", NULL },
    { "sdiff", 5, DF_SORTED, "+k", NULL },
    { "sdiffstore", 5, DF_EXACT, "k +k", NULL },
    { "sinter", 5, DF_SORTED, "+k", NULL },
    { "sintercard", 5, DF_EXACT, "nk ?LIMIT,n", NULL },
    { "sinterstore", 5, DF_EXACT, "k +k", NULL },
    { "sismember", 5, DF_EXACT, "k m", NULL },
    { "smembers", 10, DF_SORTED, "k", NULL },
    { "smismember", 5, DF_EXACT, "k +m", NULL },
    { "smove", 5, DF_EXACT, "k k m", NULL },
    /* without a count, or with one below the set's size, SPOP removes random members */
    { "spop", 5, DF_SORTED, "k 1000|0|-1", NULL },
    { "srandmember", 5, DF_SHAPE, "k ?n", NULL },
    { "srem", 10, DF_EXACT, "k +m", NULL },
    { "sscan", 3, DF_TYPE, "k 0 ?MATCH,pat ?COUNT,n", NULL },
    { "sunion", 5, DF_SORTED, "+k", NULL },
    { "sunionstore", 5, DF_EXACT, "k +k", NULL },
    /* sorted sets */
    { "zadd", 40, DF_EXACT, "k ?NX|XX ?GT|LT ?CH ?INCR +f,m; lk ?NX|XX ?CH +0,m", NULL },
    { "zcard", 5, DF_EXACT, "k", NULL },
    { "zcount", 5, DF_EXACT, "k sb sb", NULL },
    { "zdiff", 5, DF_EXACT, "nk ?WITHSCORES", NULL },
    { "zdiffstore", 5, DF_EXACT, "k nk", NULL },
    { "zincrby", 10, DF_EXACT, "k f m", NULL },
    { "zinter", 5, DF_EXACT, "nk ?WEIGHTS,nw ?AGGREGATE,agg ?WITHSCORES", NULL },
    { "zintercard", 5, DF_EXACT, "nk ?LIMIT,n", NULL },
    { "zinterstore", 5, DF_EXACT, "k nk ?WEIGHTS,nw ?AGGREGATE,agg", NULL },
    { "zlexcount", 5, DF_EXACT, "lk lb lb", NULL },
    { "zmpop", 5, DF_EXACT, "nk MIN|MAX ?COUNT,n", NULL },
    { "zmscore", 5, DF_EXACT, "k +m", NULL },
    { "zpopmax", 5, DF_EXACT, "k ?n", NULL },
    { "zpopmin", 5, DF_EXACT, "k ?n", NULL },
    { "zrandmember", 5, DF_SHAPE, "k ?n|n,WITHSCORES", NULL },
    { "zrange", 15, DF_EXACT,
      "k idx idx ?REV ?WITHSCORES; k sb sb BYSCORE ?REV ?LIMIT,idx,n ?WITHSCORES;"
      " lk lb lb BYLEX ?REV ?LIMIT,idx,n", NULL },
    { "zrangebylex", 5, DF_EXACT, "lk lb lb ?LIMIT,idx,n", NULL },
    { "zrangebyscore", 5, DF_EXACT, "k sb sb ?WITHSCORES ?LIMIT,idx,n", NULL },
    { "zrangestore", 5, DF_EXACT, "k k idx idx; k k sb sb BYSCORE ?REV ?LIMIT,idx,n", NULL },
    { "zrank", 5, DF_EXACT, "k m", NULL },
    { "zrem", 10, DF_EXACT, "k +m", NULL },
    { "zremrangebylex", 5, DF_EXACT, "lk lb lb", NULL },
    { "zremrangebyrank", 5, DF_EXACT, "k idx idx", NULL },
    { "zremrangebyscore", 5, DF_EXACT, "k sb sb", NULL },
    { "zrevrange", 5, DF_EXACT, "k idx idx ?WITHSCORES", NULL },
    { "zrevrangebylex", 5, DF_EXACT, "lk lb lb ?LIMIT,idx,n", NULL },
    { "zrevrangebyscore", 5, DF_EXACT, "k sb sb ?WITHSCORES ?LIMIT,idx,n", NULL },
    { "zrevrank", 5, DF_EXACT, "k m", NULL },
    { "zscan", 3, DF_TYPE, "k 0 ?MATCH,pat ?COUNT,n", NULL },
    { "zscore", 10, DF_EXACT, "k m", NULL },
    { "zunion", 5, DF_EXACT, "nk ?WEIGHTS,nw ?AGGREGATE,agg ?WITHSCORES", NULL },
    { "zunionstore", 5, DF_EXACT, "k nk ?WEIGHTS,nw ?AGGREGATE,agg", NULL },
    /* SORT: no BY nosort (a set's own order differs between servers) and no ALPHA
     * with BY (equal BY values leave the order to qsort); the w_ keys are mostly
     * missing, so BY often sorts by element as the tie-break */
    { "sort", 10, DF_EXACT,
      "k ?BY,w_*|BY,w_*->f ?LIMIT,idx,idx *GET,#|GET,w_*|GET,w_*->f ?ASC|DESC ?STORE,k;"
      "k ?LIMIT,idx,idx *GET,#|GET,w_* ?ASC|DESC ALPHA ?STORE,k", NULL },
    { "sort_ro", 5, DF_EXACT, "k ?BY,w_* ?LIMIT,idx,idx *GET,#|GET,w_*->f ?ASC|DESC;k ALPHA ?DESC", NULL },
    /* connection and server */
    { "ping", 2, DF_EXACT, "?v", NULL },
    { "echo", 2, DF_EXACT, "v", NULL },
    { "hello", 2, DF_TYPE, "?2|3", NULL },
    { "auth", 1, DF_EXACT, "v", NULL },
    { "reset", 1, DF_EXACT, "", NULL },
    { "client|getname", 1, DF_EXACT, "", NULL },
    { "client|setname", 1, DF_EXACT, "name", NULL },
    { "client|id", 1, DF_TYPE, "", NULL },
    { "client|info", 1, DF_TYPE, "", NULL },
    { "client|list", 1, DF_TYPE, "", NULL },
    { "client|no-evict", 1, DF_EXACT, "ON|OFF", NULL },
    { "client|no-touch", 1, DF_EXACT, "ON|OFF", NULL },
    { "client|setinfo", 1, DF_EXACT, "LIB-NAME|LIB-VER v", NULL },
    { "client|getredir", 1, DF_EXACT, "", NULL },
    { "client|help", 1, DF_TYPE, "", NULL },
    { "command", 1, DF_TYPE, "", NULL },
    { "command|count", 1, DF_TYPE, "", NULL },
    { "command|docs", 1, DF_TYPE, "?cmdname", NULL },
    { "command|getkeys", 1, DF_EXACT, "GET,k|SET,k,v|MSET,k,v,k,v|ZUNION,2,k,k|LMOVE,k,k,LEFT,RIGHT", NULL },
    { "command|getkeysandflags", 1, DF_TYPE, "GET,k|SET,k,v|LMOVE,k,k,LEFT,RIGHT", NULL },
    { "command|help", 1, DF_TYPE, "", NULL },
    { "command|info", 1, DF_TYPE, "?cmdname", NULL },
    { "command|list", 1, DF_TYPE, "", NULL },
    { "config|get", 1, DF_TYPE, "maxmemory|maxmemory-policy|appendonly", NULL },
    { "config|help", 1, DF_TYPE, "", NULL },
    { "info", 1, DF_TYPE, "?server|memory|keyspace", NULL },
    { "lastsave", 1, DF_TYPE, "", NULL },
    { "time", 1, DF_TYPE, "", NULL },
    { "latency|doctor", 1, DF_TYPE, "", NULL },
    { "latency|graph", 1, DF_TYPE, "command", NULL },
    { "latency|help", 1, DF_TYPE, "", NULL },
    { "latency|histogram", 1, DF_TYPE, "?cmdname", NULL },
    { "latency|history", 1, DF_TYPE, "command", NULL },
    { "latency|latest", 1, DF_TYPE, "", NULL },
    { "latency|reset", 1, DF_TYPE, "", NULL },
    { "slowlog|get", 1, DF_TYPE, "?n", NULL },
    { "slowlog|help", 1, DF_TYPE, "", NULL },
    { "slowlog|len", 1, DF_TYPE, "", NULL },
    { "slowlog|reset", 1, DF_TYPE, "", NULL },
    /* never generated */
    { "object", 0, DF_EXACT, "", "a container: its subcommands have rows" },
    { "memory", 0, DF_EXACT, "", "a container: its subcommands have rows" },
    { "object|freq", 0, DF_EXACT, "", "kvns counts hits under every policy; Redis errors unless an LFU one is set" },
    { "script", 0, DF_EXACT, "", "a container: its subcommands have rows" },
    { "script|load", 0, DF_EXACT, "", "a script body does not fit the grammar's arguments (it_script loads them)" },
    { "client", 0, DF_EXACT, "", "a container: its subcommands have rows" },
    { "config", 0, DF_EXACT, "", "a container: its subcommands have rows" },
    { "latency", 0, DF_EXACT, "", "a container: its subcommands have rows" },
    { "slowlog", 0, DF_EXACT, "", "a container: its subcommands have rows" },
    { "client|kill", 0, DF_EXACT, "", "would close the fuzzer's own connection" },
    { "client|reply", 0, DF_EXACT, "", "OFF/SKIP would desynchronise replies" },
    { "config|set", 0, DF_EXACT, "", "changes server behaviour differently per server" },
    { "config|rewrite", 0, DF_EXACT, "", "writes a config file" },
    { "config|resetstat", 0, DF_EXACT, "", "server statistics are not compared" },
    { "debug", 0, DF_EXACT, "", "DEBUG CHECK is sent to kvns only, by the fuzzer itself" },
    { "save", 0, DF_EXACT, "", "would write snapshot files" },
    { "bgsave", 0, DF_EXACT, "", "would write snapshot files" },
    { "quit", 0, DF_EXACT, "", "closes the connection" },
    { "xadd", 0, DF_EXACT, "", "streams are not implemented (ERR stream type not supported)" },
    { "shutdown", 0, DF_EXACT, "", "would stop both servers" },
    { "eval", 0, DF_EXACT, "", "scripts are compared by it_script (a random body is a syntax error)" },
    { "evalsha", 0, DF_EXACT, "", "scripts are compared by it_script" },
    { "eval_ro", 0, DF_EXACT, "", "scripts are compared by it_script" },
    { "evalsha_ro", 0, DF_EXACT, "", "scripts are compared by it_script" },
    { "script", 0, DF_EXACT, "", "scripts are compared by it_script" },
};

enum { ROW_COUNT = sizeof rows / sizeof rows[0] };

struct df_gen {
    uint64_t rng;
    long total_weight;
    int  last_numkeys;
    char at_s[24], at_ms[24];          /* far-future absolute deadlines */
    char *long_key, *mid_key, *ns_long_key;
    char *val_100, *val_600, *val_2k, *val_100k, *member_600;
};

static const char *const small_keys[] = { "k0", "k1", "k2", "k3", "ns/k0", "ns/k1", "ns2/k0", "{k}0" };
static const char *const lex_keys[] = { "lex0", "lex1", "ns/lex0" };
static const char *const values[] = { "", "v", "hello", "10", "-3", "0", "3.5", "1e5", "inf", "-inf",
                                      "9223372036854775807", "-9223372036854775808",
                                      "9223372036854775808", " 1", "0x10", "00", "x y" };
static const char *const members[] = { "a", "b", "c", "d", "e", "1", "2", "10", "-1", "1.5" };
static const char *const floats[] = { "0", "1", "-1", "2.5", "-2.5", "1e308", "-1e308", "inf", "-inf",
                                      "+inf", "3.0000000000000004", "0.1", "-0", "1e-5", "nan", "abc" };
static const char *const ints[] = { "0", "1", "-1", "2", "3", "10", "-10", "100", "9223372036854775807",
                                    "-9223372036854775808", "9223372036854775808", "x", "1.5" };
static const char *const counts[] = { "0", "1", "2", "3", "5", "-1", "-2", "100" };
static const char *const indexes[] = { "0", "1", "-1", "2", "-2", "5", "-100", "100" };
static const char *const offsets[] = { "0", "1", "3", "10", "100", "600", "-1" };
static const char *const ttls_s[] = { "1000", "86400", "100000", "0", "-1", "-100" };
static const char *const ttls_ms[] = { "1000000", "86400000", "0", "-1", "100000000" };
static const char *const patterns[] = { "*", "k*", "ns/*", "*0", "k?", "[ak]*", "\\*", "b*", "ns2/*" };
static const char *const score_bounds[] = { "-inf", "+inf", "0", "1", "(1", "(2.5", "2", "-1", "x" };
static const char *const lex_bounds[] = { "-", "+", "[a", "(a", "[c", "(z", "[1", "a" };
static const char *const aggregates[] = { "SUM", "MIN", "MAX", "AVG" };
static const char *const types[] = { "string", "list", "hash", "set", "zset", "stream" };
static const char *const names[] = { "fz", "fz-2", "a b" };
static const char *const cmdnames[] = { "get", "set", "zadd", "client|list", "nosuchcmd" };

/* A random word of the array arr. */
#define PICK(g, arr) (arr)[df_rand(g) % (sizeof(arr) / sizeof((arr)[0]))]

/* The next 64 random bits (xorshift64*). */
static uint64_t df_rand(df_gen *g)
{
    g->rng ^= g->rng >> 12;
    g->rng ^= g->rng << 25;
    g->rng ^= g->rng >> 27;
    return g->rng * 0x2545F4914F6CDD1DULL;
}

/* True with probability percent / 100. */
static bool chance(df_gen *g, unsigned percent)
{
    return df_rand(g) % 100 < percent;
}

/* A malloc'd string of n bytes: prefix then a repeated letter (distinct per call). */
static char *filled(const char *prefix, size_t n, char letter)
{
    char *s = malloc(n + 1);
    if (!s)
        abort();
    memset(s, letter, n);
    size_t plen = strlen(prefix);
    memcpy(s, prefix, plen < n ? plen : n);
    s[n] = 0;
    return s;
}

void df_cmd_reset(df_cmd *c)
{
    for (int i = 0; i < c->argc; i++)
        free(c->argv[i]);
    free(c->argv);
    free(c->lens);
    memset(c, 0, sizeof *c);
}

/* Appends a copy of p[0..len) as the next argument. */
void df_cmd_push(df_cmd *c, const void *p, size_t len)
{
    c->argv = realloc(c->argv, (size_t)(c->argc + 1) * sizeof *c->argv);
    c->lens = realloc(c->lens, (size_t)(c->argc + 1) * sizeof *c->lens);
    char *copy = malloc(len + 1);
    if (!c->argv || !c->lens || !copy)
        abort();
    memcpy(copy, p, len);
    copy[len] = 0;
    c->argv[c->argc] = copy;
    c->lens[c->argc] = len;
    c->argc++;
}

/* Makes dst an independent copy of src (dst is reset first). */
void df_cmd_copy(df_cmd *dst, const df_cmd *src)
{
    df_cmd_reset(dst);
    for (int i = 0; i < src->argc; i++)
        df_cmd_push(dst, src->argv[i], src->lens[i]);
    dst->row = src->row;
}

static void push_str(df_cmd *c, const char *s)
{
    df_cmd_push(c, s, strlen(s));
}

static void push_key(df_gen *g, df_cmd *c)
{
    unsigned r = (unsigned)(df_rand(g) % 100);
    if (r < 80)
        push_str(c, PICK(g, small_keys));
    else if (r < 88)
        df_cmd_push(c, "b\0\r\n", 4);
    else if (r < 92)
        push_str(c, g->mid_key);
    else if (r < 96)
        push_str(c, g->long_key);
    else
        push_str(c, g->ns_long_key);
}

static void push_value(df_gen *g, df_cmd *c)
{
    unsigned r = (unsigned)(df_rand(g) % 1000);
    if (r < 700)
        push_str(c, PICK(g, values));
    else if (r < 760)
        df_cmd_push(c, "\0\r\n\x01", 4);
    else if (r < 860)
        push_str(c, g->val_100);
    else if (r < 940)
        push_str(c, g->val_600);
    else if (r < 995)
        push_str(c, g->val_2k);
    else
        push_str(c, g->val_100k);
}

static void push_member(df_gen *g, df_cmd *c)
{
    unsigned r = (unsigned)(df_rand(g) % 100);
    if (r < 90)
        push_str(c, PICK(g, members));
    else if (r < 96)
        df_cmd_push(c, "m\0\r\n", 4);
    else
        push_str(c, g->member_600);
}

/* numkeys (1-3, sometimes 0 or more than given) then the keys. */
static void push_numkeys(df_gen *g, df_cmd *c)
{
    int n = 1 + (int)(df_rand(g) % 3);
    int announced = chance(g, 5) ? (int)(df_rand(g) % 5) : n;
    char buf[16];
    snprintf(buf, sizeof buf, "%d", announced);
    push_str(c, buf);
    for (int i = 0; i < n; i++)
        push_key(g, c);
    g->last_numkeys = announced;
}

/* As many weights as the last numkeys announced (sometimes one more). */
static void push_weights(df_gen *g, df_cmd *c)
{
    int n = g->last_numkeys + (chance(g, 5) ? 1 : 0);
    for (int i = 0; i < n; i++)
        push_str(c, PICK(g, floats));
}

/* True when name[0..len) is word. */
static bool is_word(const char *name, size_t len, const char *word)
{
    return strlen(word) == len && memcmp(name, word, len) == 0;
}

/* Pushes the argument(s) of shape name[0..len). False when it names no shape. */
static bool push_shape(df_gen *g, df_cmd *c, const char *name, size_t len)
{
    if (is_word(name, len, "k"))
        push_key(g, c);
    else if (is_word(name, len, "lk"))
        push_str(c, PICK(g, lex_keys));
    else if (is_word(name, len, "v"))
        push_value(g, c);
    else if (is_word(name, len, "m"))
        push_member(g, c);
    else if (is_word(name, len, "f"))
        push_str(c, PICK(g, floats));
    else if (is_word(name, len, "i"))
        push_str(c, PICK(g, ints));
    else if (is_word(name, len, "n"))
        push_str(c, PICK(g, counts));
    else if (is_word(name, len, "idx"))
        push_str(c, PICK(g, indexes));
    else if (is_word(name, len, "off"))
        push_str(c, PICK(g, offsets));
    else if (is_word(name, len, "t"))
        push_str(c, PICK(g, ttls_s));
    else if (is_word(name, len, "tms"))
        push_str(c, PICK(g, ttls_ms));
    else if (is_word(name, len, "at"))
        push_str(c, chance(g, 80) ? g->at_s : "1");
    else if (is_word(name, len, "atms"))
        push_str(c, chance(g, 80) ? g->at_ms : "1");
    else if (is_word(name, len, "atf"))
        push_str(c, g->at_s);
    else if (is_word(name, len, "atmsf"))
        push_str(c, g->at_ms);
    else if (is_word(name, len, "pat"))
        push_str(c, PICK(g, patterns));
    else if (is_word(name, len, "sb"))
        push_str(c, PICK(g, score_bounds));
    else if (is_word(name, len, "lb"))
        push_str(c, PICK(g, lex_bounds));
    else if (is_word(name, len, "agg"))
        push_str(c, PICK(g, aggregates));
    else if (is_word(name, len, "typ"))
        push_str(c, PICK(g, types));
    else if (is_word(name, len, "name"))
        push_str(c, PICK(g, names));
    else if (is_word(name, len, "cmdname"))
        push_str(c, PICK(g, cmdnames));
    else if (is_word(name, len, "nk"))
        push_numkeys(g, c);
    else if (is_word(name, len, "nw"))
        push_weights(g, c);
    else
        return false;
    return true;
}

/* The n-th of the sep-separated parts of s[0..len) (start and length), or false. */
static bool nth_part(const char *s, size_t len, char sep, size_t n, const char **part, size_t *plen)
{
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || s[i] == sep) {
            if (n == 0) {
                *part = s + start;
                *plen = i - start;
                return true;
            }
            n--;
            start = i + 1;
        }
    }
    return false;
}

/* How many sep-separated parts s[0..len) has. */
static size_t count_parts(const char *s, size_t len, char sep)
{
    size_t n = 1;
    for (size_t i = 0; i < len; i++)
        n += s[i] == sep;
    return n;
}

/* Emits one argument group (see the top of the file). */
static void gen_group(df_gen *g, df_cmd *c, const char *grp, size_t len)
{
    int reps = 1;
    if (len && (grp[0] == '?' || grp[0] == '*' || grp[0] == '+')) {
        reps = grp[0] == '?' ? (int)(df_rand(g) % 2) : grp[0] == '*' ? (int)(df_rand(g) % 4)
                                                                    : 1 + (int)(df_rand(g) % 3);
        grp++;
        len--;
    }
    for (int r = 0; r < reps; r++) {
        const char *alt = grp;
        size_t alen = len;
        nth_part(grp, len, '|', df_rand(g) % count_parts(grp, len, '|'), &alt, &alen);
        for (size_t i = 0; i < count_parts(alt, alen, ','); i++) {
            const char *item = alt;
            size_t ilen = alen;
            nth_part(alt, alen, ',', i, &item, &ilen);
            if (!push_shape(g, c, item, ilen))
                df_cmd_push(c, item, ilen);
        }
    }
}

/* Emits the arguments of one of spec's ';'-separated alternatives. */
static void gen_spec(df_gen *g, df_cmd *c, const char *spec)
{
    size_t slen = strlen(spec);
    const char *alt = spec;
    size_t alen = slen;
    nth_part(spec, slen, ';', df_rand(g) % count_parts(spec, slen, ';'), &alt, &alen);
    size_t i = 0;
    while (i < alen) {
        while (i < alen && alt[i] == ' ')
            i++;
        size_t start = i;
        while (i < alen && alt[i] != ' ')
            i++;
        if (i > start)
            gen_group(g, c, alt + start, i - start);
    }
}

/* The row picked by weight. */
static const df_row *pick_row(df_gen *g)
{
    long r = (long)(df_rand(g) % (uint64_t)g->total_weight);
    for (size_t i = 0; i < ROW_COUNT; i++) {
        r -= rows[i].weight;
        if (r < 0)
            return &rows[i];
    }
    return &rows[0];
}

void df_generate(df_gen *g, df_cmd *c)
{
    df_cmd_reset(c);
    const df_row *row = pick_row(g);
    c->row = row;
    const char *bar = strchr(row->name, '|');
    if (bar) {
        df_cmd_push(c, row->name, (size_t)(bar - row->name));
        push_str(c, bar + 1);
    } else {
        push_str(c, row->name);
    }
    gen_spec(g, c, row->spec);
    unsigned r = (unsigned)(df_rand(g) % 100);
    if (r == 0)
        push_str(c, "extra");
    else if (r == 1 && c->argc > (bar ? 2 : 1) && strcmp(row->name, "spop") != 0)
        free(c->argv[--c->argc]);   /* (SPOP without a count pops a random member) */
}

const df_row *df_find_row(const char *name)
{
    for (size_t i = 0; i < ROW_COUNT; i++)
        if (strcmp(rows[i].name, name) == 0)
            return &rows[i];
    return NULL;
}

size_t df_row_count(void) { return ROW_COUNT; }
const df_row *df_row_at(size_t i) { return &rows[i]; }

df_gen *df_gen_new(uint64_t seed)
{
    df_gen *g = calloc(1, sizeof *g);
    if (!g)
        abort();
    g->rng = seed * 0x9E3779B97F4A7C15ULL + 1;
    for (size_t i = 0; i < ROW_COUNT; i++)
        g->total_weight += rows[i].weight;
    if (g->total_weight <= 0)
        abort();
    long long now = (long long)time(NULL);
    snprintf(g->at_s, sizeof g->at_s, "%lld", now + 1000000);
    snprintf(g->at_ms, sizeof g->at_ms, "%lld", (now + 1000000) * 1000 + 123);
    g->mid_key = filled("mid", 300, 'M');
    g->long_key = filled("long", 600, 'L');
    g->ns_long_key = filled("ns/long", 700, 'N');
    g->val_100 = filled("v100", 100, 'a');
    g->val_600 = filled("v600", 600, 'b');
    g->val_2k = filled("v2k", 2048, 'c');
    g->val_100k = filled("v100k", 100 * 1024, 'd');
    g->member_600 = filled("m600", 600, 'e');
    return g;
}

void df_gen_free(df_gen *g)
{
    if (!g)
        return;
    free(g->mid_key);
    free(g->long_key);
    free(g->ns_long_key);
    free(g->val_100);
    free(g->val_600);
    free(g->val_2k);
    free(g->val_100k);
    free(g->member_600);
    free(g);
}
