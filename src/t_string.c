/* t_string.c - string commands (Redis 7 semantics). Each handler runs inside the
 * transaction the dispatcher opened with its keys' shards locked (see command.h). */
#include "kvns/command.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STRING_MAX (512LL * 1024 * 1024)

static kv_txn *txn_of(client *c) { return &c->w->txn; }

/* Converts a relative or absolute expire argument to unix ms like Redis's
 * getExpireMillisecondsOrReply. unit_ms: 1000 for seconds, 1 for ms. Returns false
 * after replying an error. */
static bool expire_arg(client *c, size_t i, long long unit_ms, bool absolute, const char *cmd,
                       int64_t *out)
{
    long long v;
    if (!arg_ll(c, i, &v))
        return false;
    if (v <= 0 || (unit_ms > 1 && v > LLONG_MAX / unit_ms)) {
        reply_errorf(&c->out, "ERR invalid expire time in '%s' command", cmd);
        return false;
    }
    v *= unit_ms;
    if (!absolute) {
        int64_t now = txn_of(c)->now_ms;
        if (v > LLONG_MAX - now) {
            reply_errorf(&c->out, "ERR invalid expire time in '%s' command", cmd);
            return false;
        }
        v += now;
    }
    *out = v;
    return true;
}

/* Stores a string (or, when the deadline has already passed, deletes the key as Redis
 * does). Returns false after aborting on a store error. */
static bool string_store(client *c, size_t i, const void *v, size_t n, int64_t expire)
{
    if (expire >= 0 && expire <= txn_of(c)->now_ms) {
        store_delete(txn_of(c), &c->keys[i]);
        return true;
    }
    int rc = store_put_string(txn_of(c), &c->keys[i], v, n, expire, NULL);
    if (rc != STORE_OK) {
        reply_store_error(c, rc);
        return false;
    }
    return true;
}

enum set_flags { SET_NX = 1, SET_XX = 2, SET_GET = 4, SET_KEEPTTL = 8, SET_EXPIRE = 16 };

/* SET key value [NX|XX] [GET] [EX s|PX ms|EXAT s|PXAT ms|KEEPTTL]: +OK, or nil when
 * NX/XX prevented it, or the old value with GET. */
static void cmd_set(client *c)
{
    unsigned fl = 0;
    int64_t expire = -1;
    size_t time_arg = 0;        /* index of the EX/PX/EXAT/PXAT value, 0: none */
    bool secs = false, abs = false;
    for (size_t i = 3; i < c->argc; i++) {
        resp_arg *a = &c->argv[i];
        bool has_next = i + 1 < c->argc;
        if (arg_is(a, "nx") && !(fl & SET_XX)) {
            fl |= SET_NX;
        } else if (arg_is(a, "xx") && !(fl & SET_NX)) {
            fl |= SET_XX;
        } else if (arg_is(a, "get")) {
            fl |= SET_GET;
        } else if (arg_is(a, "keepttl") && !(fl & SET_EXPIRE)) {
            fl |= SET_KEEPTTL;
        } else if (has_next && !(fl & (SET_EXPIRE | SET_KEEPTTL)) &&
                   (arg_is(a, "ex") || arg_is(a, "px") || arg_is(a, "exat") || arg_is(a, "pxat"))) {
            secs = arg_is(a, "ex") || arg_is(a, "exat");
            abs = arg_is(a, "exat") || arg_is(a, "pxat");
            fl |= SET_EXPIRE;
            time_arg = ++i;
        } else {
            reply_error(&c->out, ERR_SYNTAX);
            return;
        }
    }
    /* as in Redis: the time is validated once the whole syntax is known to be right */
    if (time_arg && !expire_arg(c, time_arg, secs ? 1000 : 1, abs, "set", &expire))
        return;
    kv_entry *old;
    if (!(fl & SET_GET))
        old = store_find(txn_of(c), &c->keys[1]);   /* plain SET overwrites any type */
    else if (!key_lookup_typed(c, 1, KV_STRING, KEY_WRITE, &old))
        return;
    bool exists = old != NULL;
    if (((fl & SET_NX) && exists) || ((fl & SET_XX) && !exists)) {
        if (fl & SET_GET) {
            if (old && old->type == KV_STRING)
                reply_bulk(&c->out, entry_str(old), old->vlen);
            else
                reply_null(&c->out);
        } else {
            reply_null(&c->out);
        }
        return;
    }
    if (fl & SET_GET) {
        if (old)
            reply_bulk(&c->out, entry_str(old), old->vlen);
        else
            reply_null(&c->out);
    }
    if ((fl & SET_KEEPTTL) && old)
        expire = entry_expire(old);
    if (!string_store(c, 1, c->argv[2].ptr, c->argv[2].len, expire))
        return;
    if (!(fl & SET_GET))
        reply_ok(&c->out);
}

/* GET key: the value, or nil. */
static void cmd_get(client *c)
{
    kv_entry *e;
    if (!key_lookup_typed(c, 1, KV_STRING, KEY_READ, &e))
        return;
    if (e)
        reply_bulk(&c->out, entry_str(e), e->vlen);
    else
        reply_null(&c->out);
}

/* MGET key...: values in order, nil for missing keys and other types. */
static void cmd_mget(client *c)
{
    reply_array(&c->out, (long long)c->argc - 1);
    for (size_t i = 1; i < c->argc; i++) {
        kv_entry *e = store_find_read(txn_of(c), &c->keys[i]);
        if (e && e->type == KV_STRING)
            reply_bulk(&c->out, entry_str(e), e->vlen);
        else
            reply_null(&c->out);
    }
}

/* MSET key value [key value ...]: +OK; all pairs land in one transaction. */
static void cmd_mset(client *c)
{
    if (c->argc % 2 == 0) {
        reply_errorf(&c->out, "ERR wrong number of arguments for '%s' command", c->last_cmd->name);
        return;
    }
    for (size_t i = 1; i < c->argc; i += 2)
        if (!string_store(c, i, c->argv[i + 1].ptr, c->argv[i + 1].len, -1))
            return;
    reply_ok(&c->out);
}

/* MSETNX key value [key value ...]: 1 when every key was absent and all were set, else 0. */
static void cmd_msetnx(client *c)
{
    if (c->argc % 2 == 0) {
        reply_errorf(&c->out, "ERR wrong number of arguments for '%s' command", c->last_cmd->name);
        return;
    }
    for (size_t i = 1; i < c->argc; i += 2) {
        if (store_find(txn_of(c), &c->keys[i])) {
            reply_int(&c->out, 0);
            return;
        }
    }
    for (size_t i = 1; i < c->argc; i += 2)
        if (!string_store(c, i, c->argv[i + 1].ptr, c->argv[i + 1].len, -1))
            return;
    reply_int(&c->out, 1);
}

/* SETNX key value: 1 when set, 0 when the key existed. */
static void cmd_setnx(client *c)
{
    if (store_find(txn_of(c), &c->keys[1])) {
        reply_int(&c->out, 0);
        return;
    }
    if (string_store(c, 1, c->argv[2].ptr, c->argv[2].len, -1))
        reply_int(&c->out, 1);
}

/* SETEX/PSETEX key ttl value: +OK. */
static void setex_generic(client *c, long long unit_ms)
{
    int64_t expire;
    if (!expire_arg(c, 2, unit_ms, false, c->last_cmd->name, &expire))
        return;
    if (string_store(c, 1, c->argv[3].ptr, c->argv[3].len, expire))
        reply_ok(&c->out);
}

static void cmd_setex(client *c) { setex_generic(c, 1000); }
static void cmd_psetex(client *c) { setex_generic(c, 1); }

/* GETSET key value: the old value (nil if none); the TTL is dropped. */
static void cmd_getset(client *c)
{
    kv_entry *old;
    if (!key_lookup_typed(c, 1, KV_STRING, KEY_WRITE, &old))
        return;
    if (old)
        reply_bulk(&c->out, entry_str(old), old->vlen);
    else
        reply_null(&c->out);
    string_store(c, 1, c->argv[2].ptr, c->argv[2].len, -1);
}

/* GETDEL key: the value, then the key is gone. */
static void cmd_getdel(client *c)
{
    kv_entry *e;
    if (!key_lookup_typed(c, 1, KV_STRING, KEY_READ, &e))
        return;
    if (!e) {
        reply_null(&c->out);
        return;
    }
    reply_bulk(&c->out, entry_str(e), e->vlen);
    store_delete(txn_of(c), &c->keys[1]);
}

/* GETEX key [EX s|PX ms|EXAT s|PXAT ms|PERSIST]: the value, changing its TTL. As in
 * Redis, the key is looked up before the expire time is validated: a missing key
 * answers nil whatever the time. */
static void cmd_getex(client *c)
{
    int64_t expire = -2;        /* -2: unchanged, -1: persist */
    size_t time_arg = 0;        /* index of the EX/PX/EXAT/PXAT value, 0: none */
    bool have = false, secs = false, abs = false;
    for (size_t i = 2; i < c->argc; i++) {
        resp_arg *a = &c->argv[i];
        bool has_next = i + 1 < c->argc;
        if (!have && arg_is(a, "persist")) {
            expire = -1;
            have = true;
        } else if (!have && has_next && (arg_is(a, "ex") || arg_is(a, "px") || arg_is(a, "exat") || arg_is(a, "pxat"))) {
            secs = arg_is(a, "ex") || arg_is(a, "exat");
            abs = arg_is(a, "exat") || arg_is(a, "pxat");
            time_arg = ++i;
            have = true;
        } else {
            reply_error(&c->out, ERR_SYNTAX);
            return;
        }
    }
    kv_entry *e;
    if (!key_lookup_typed(c, 1, KV_STRING, KEY_READ, &e))
        return;
    if (!e) {
        reply_null(&c->out);
        return;
    }
    if (time_arg && !expire_arg(c, time_arg, secs ? 1000 : 1, abs, "getex", &expire))
        return;
    reply_bulk(&c->out, entry_str(e), e->vlen);
    if (expire >= 0 && expire <= txn_of(c)->now_ms) {
        store_delete(txn_of(c), &c->keys[1]);
    } else if (expire != -2 && !store_set_expire(txn_of(c), &c->keys[1], e, expire)) {
        reply_store_error(c, STORE_E_NOMEM);
    }
}

/* APPEND key value: the new length. */
static void cmd_append(client *c)
{
    kv_entry *e;
    if (!key_lookup_typed(c, 1, KV_STRING, KEY_WRITE, &e))
        return;
    if (!e) {
        if (string_store(c, 1, c->argv[2].ptr, c->argv[2].len, -1))
            reply_int(&c->out, (long long)c->argv[2].len);
        return;
    }
    if ((long long)e->vlen + (long long)c->argv[2].len > STRING_MAX) {
        reply_error(&c->out, "ERR string exceeds maximum allowed size (proto-max-bulk-len)");
        return;
    }
    kv_entry *ne;
    int rc = store_append(txn_of(c), &c->keys[1], e, c->argv[2].ptr, c->argv[2].len, &ne);
    if (rc != STORE_OK) {
        reply_store_error(c, rc);
        return;
    }
    reply_int(&c->out, ne->vlen);
}

/* STRLEN key: the value's length, 0 when missing. */
static void cmd_strlen(client *c)
{
    kv_entry *e;
    if (key_lookup_typed(c, 1, KV_STRING, KEY_READ, &e))
        reply_int(&c->out, e ? e->vlen : 0);
}

/* Adds by to the integer in argv[1] and replies the result (INCR family). */
static void incr_by(client *c, long long by)
{
    kv_entry *e;
    if (!key_lookup_typed(c, 1, KV_STRING, KEY_WRITE, &e))
        return;
    long long v = 0;
    if (e && (e->vlen > 20 || parse_ll(entry_str(e), e->vlen, &v) != 0)) {
        reply_error(&c->out, ERR_NOT_INT);
        return;
    }
    if ((by < 0 && v < LLONG_MIN - by) || (by > 0 && v > LLONG_MAX - by)) {
        reply_error(&c->out, "ERR increment or decrement would overflow");
        return;
    }
    v += by;
    char buf[32];
    size_t n = reply_format_ll(buf, v);
    if (e && n == e->vlen) {
        /* same length (the common case): overwrite the digits in place, undo-logged,
         * instead of building a new entry */
        int rc = store_setrange(txn_of(c), &c->keys[1], e, 0, buf, n, NULL);
        if (rc != STORE_OK) {
            reply_store_error(c, rc);
            return;
        }
        reply_int(&c->out, v);
        return;
    }
    if (string_store(c, 1, buf, n, e ? entry_expire(e) : -1))
        reply_int(&c->out, v);
}

static void cmd_incr(client *c) { incr_by(c, 1); }
static void cmd_decr(client *c) { incr_by(c, -1); }

static void cmd_incrby(client *c)
{
    long long by;
    if (arg_ll(c, 2, &by))
        incr_by(c, by);
}

static void cmd_decrby(client *c)
{
    long long by;
    if (!arg_ll(c, 2, &by))
        return;
    if (by == LLONG_MIN) {
        reply_error(&c->out, "ERR decrement would overflow");
        return;
    }
    incr_by(c, -by);
}

/* INCRBYFLOAT key increment: the new value as a bulk string (long double, %.17Lf). */
static void cmd_incrbyfloat(client *c)
{
    kv_entry *e;
    if (!key_lookup_typed(c, 1, KV_STRING, KEY_WRITE, &e))
        return;
    long double v = 0, by;
    if (e && parse_long_double(entry_str(e), e->vlen, &v) != 0) {
        reply_error(&c->out, ERR_NOT_FLOAT);
        return;
    }
    if (parse_long_double(c->argv[2].ptr, c->argv[2].len, &by) != 0) {
        reply_error(&c->out, ERR_NOT_FLOAT);
        return;
    }
    v += by;
    if (isnan(v) || isinf(v)) {
        reply_error(&c->out, "ERR increment would produce NaN or Infinity");
        return;
    }
    char buf[5200];             /* %.17Lf of a huge finite value is long (Redis: 5 KiB) */
    int n = fmt_long_double(buf, sizeof buf, v);
    if (string_store(c, 1, buf, (size_t)n, e ? entry_expire(e) : -1))
        reply_bulk(&c->out, buf, (size_t)n);
}

/* SETRANGE key offset value: the new length (zero-padded growth). */
static void cmd_setrange(client *c)
{
    long long off;
    if (!arg_ll(c, 2, &off))
        return;
    if (off < 0) {
        reply_error(&c->out, "ERR offset is out of range");
        return;
    }
    kv_entry *e;
    if (!key_lookup_typed(c, 1, KV_STRING, KEY_WRITE, &e))
        return;
    size_t n = c->argv[3].len;
    if (n == 0) {
        reply_int(&c->out, e ? e->vlen : 0);
        return;
    }
    if (off + (long long)n > STRING_MAX) {
        reply_error(&c->out, "ERR string exceeds maximum allowed size (proto-max-bulk-len)");
        return;
    }
    if (!e) {
        char *buf = calloc(1, (size_t)off + n);
        if (!buf) {
            reply_store_error(c, STORE_E_NOMEM);
            return;
        }
        memcpy(buf + off, c->argv[3].ptr, n);
        bool ok = string_store(c, 1, buf, (size_t)off + n, -1);
        free(buf);
        if (ok)
            reply_int(&c->out, off + (long long)n);
        return;
    }
    kv_entry *ne;
    int rc = store_setrange(txn_of(c), &c->keys[1], e, (size_t)off, c->argv[3].ptr, n, &ne);
    if (rc != STORE_OK) {
        reply_store_error(c, rc);
        return;
    }
    reply_int(&c->out, ne->vlen);
}

/* GETRANGE key start end (and SUBSTR): the substring, Redis's index rules. */
static void cmd_getrange(client *c)
{
    long long start, end;
    if (!arg_ll(c, 2, &start) || !arg_ll(c, 3, &end))
        return;
    kv_entry *e;
    if (!key_lookup_typed(c, 1, KV_STRING, KEY_READ, &e))
        return;
    long long len = e ? e->vlen : 0;
    if (start < 0 && end < 0 && start > end) {
        reply_bulk(&c->out, "", 0);
        return;
    }
    if (start < 0)
        start += len;
    if (end < 0)
        end += len;
    if (start < 0)
        start = 0;
    if (end < 0)
        end = 0;
    if (end >= len)
        end = len - 1;
    if (!e || start > end || len == 0) {
        reply_bulk(&c->out, "", 0);
        return;
    }
    reply_bulk(&c->out, entry_str(e) + start, (size_t)(end - start + 1));
}

/* SET's key flags (Redis's setGetKeys): reads the old value only with GET. */
static uint32_t set_key_flags(const resp_arg *argv, int argc, int pos)
{
    (void)pos;
    for (int i = 3; i < argc; i++) {
        if (arg_is(&argv[i], "get"))
            return KS_RW | KS_ACCESS | KS_UPDATE;
    }
    return KS_OW | KS_UPDATE;
}

#define W (CMD_WRITE | CMD_DENYOOM)
#define R (CMD_READONLY)
const command string_commands[] = {
    { "set", -3, W, (const key_spec[]){ { KS_RW | KS_ACCESS | KS_UPDATE | KS_VARIABLE_FLAGS, KS_INDEX, 1, NULL, KS_RANGE, .range = { 0, 1, 0 }, .notes = "RW and ACCESS due to the optional `GET` argument", .key_flags = set_key_flags }, { 0 } }, cmd_set, "string", "Sets the string value of a key, ignoring its type. The key is created if it doesn't exist.", "1.0.0", "O(1)", NULL },
    { "get", 2, R | CMD_FAST, (const key_spec[]){ { KS_RO | KS_ACCESS, KS_INDEX, 1, NULL, KS_RANGE, .range = { 0, 1, 0 } }, { 0 } }, cmd_get, "string", "Returns the string value of a key.", "1.0.0", "O(1)", NULL },
    { "mget", -2, R | CMD_FAST, (const key_spec[]){ { KS_RO | KS_ACCESS, KS_INDEX, 1, NULL, KS_RANGE, .range = { -1, 1, 0 } }, { 0 } }, cmd_mget, "string", "Atomically returns the string values of one or more keys.", "1.0.0", "O(N) where N is the number of keys to retrieve.", NULL },
    { "mset", -3, W, (const key_spec[]){ { KS_OW | KS_UPDATE, KS_INDEX, 1, NULL, KS_RANGE, .range = { -1, 2, 0 } }, { 0 } }, cmd_mset, "string", "Atomically creates or modifies the string values of one or more keys.", "1.0.1", "O(N) where N is the number of keys to set.", NULL },
    { "msetnx", -3, W, (const key_spec[]){ { KS_OW | KS_INSERT, KS_INDEX, 1, NULL, KS_RANGE, .range = { -1, 2, 0 } }, { 0 } }, cmd_msetnx, "string", "Atomically modifies the string values of one or more keys only when all keys don't exist.", "1.0.1", "O(N) where N is the number of keys to set.", NULL },
    { "setnx", 3, W | CMD_FAST, (const key_spec[]){ { KS_OW | KS_INSERT, KS_INDEX, 1, NULL, KS_RANGE, .range = { 0, 1, 0 } }, { 0 } }, cmd_setnx, "string", "Set the string value of a key only when the key doesn't exist.", "1.0.0", "O(1)", NULL },
    { "setex", 4, W, (const key_spec[]){ { KS_OW | KS_UPDATE, KS_INDEX, 1, NULL, KS_RANGE, .range = { 0, 1, 0 } }, { 0 } }, cmd_setex, "string", "Sets the string value and expiration time of a key. Creates the key if it doesn't exist.", "2.0.0", "O(1)", NULL },
    { "psetex", 4, W, (const key_spec[]){ { KS_OW | KS_UPDATE, KS_INDEX, 1, NULL, KS_RANGE, .range = { 0, 1, 0 } }, { 0 } }, cmd_psetex, "string", "Sets both string value and expiration time in milliseconds of a key. The key is created if it doesn't exist.", "2.6.0", "O(1)", NULL },
    { "getset", 3, W | CMD_FAST, (const key_spec[]){ { KS_RW | KS_ACCESS | KS_UPDATE, KS_INDEX, 1, NULL, KS_RANGE, .range = { 0, 1, 0 } }, { 0 } }, cmd_getset, "string", "Returns the previous string value of a key after setting it to a new value.", "1.0.0", "O(1)", NULL },
    { "getdel", 2, CMD_WRITE | CMD_FAST, (const key_spec[]){ { KS_RW | KS_ACCESS | KS_DELETE, KS_INDEX, 1, NULL, KS_RANGE, .range = { 0, 1, 0 } }, { 0 } }, cmd_getdel, "string", "Returns the string value of a key after deleting the key.", "6.2.0", "O(1)", NULL },
    { "getex", -2, CMD_WRITE | CMD_FAST, (const key_spec[]){ { KS_RW | KS_ACCESS | KS_UPDATE, KS_INDEX, 1, NULL, KS_RANGE, .range = { 0, 1, 0 }, .notes = "RW and UPDATE because it changes the TTL" }, { 0 } }, cmd_getex, "string", "Returns the string value of a key after setting its expiration time.", "6.2.0", "O(1)", NULL },
    { "append", 3, W | CMD_FAST, (const key_spec[]){ { KS_RW | KS_INSERT, KS_INDEX, 1, NULL, KS_RANGE, .range = { 0, 1, 0 } }, { 0 } }, cmd_append, "string", "Appends a string to the value of a key. Creates the key if it doesn't exist.", "2.0.0", "O(1). The amortized time complexity is O(1) assuming the appended value is small and the already present value is of any size, since the dynamic string library used by Redis will double the free space available on every reallocation.", NULL },
    { "strlen", 2, R | CMD_FAST, (const key_spec[]){ { KS_RO, KS_INDEX, 1, NULL, KS_RANGE, .range = { 0, 1, 0 } }, { 0 } }, cmd_strlen, "string", "Returns the length of a string value.", "2.2.0", "O(1)", NULL },
    { "incr", 2, W | CMD_FAST, (const key_spec[]){ { KS_RW | KS_ACCESS | KS_UPDATE, KS_INDEX, 1, NULL, KS_RANGE, .range = { 0, 1, 0 } }, { 0 } }, cmd_incr, "string", "Increments the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.", "1.0.0", "O(1)", NULL },
    { "decr", 2, W | CMD_FAST, (const key_spec[]){ { KS_RW | KS_ACCESS | KS_UPDATE, KS_INDEX, 1, NULL, KS_RANGE, .range = { 0, 1, 0 } }, { 0 } }, cmd_decr, "string", "Decrements the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.", "1.0.0", "O(1)", NULL },
    { "incrby", 3, W | CMD_FAST, (const key_spec[]){ { KS_RW | KS_ACCESS | KS_UPDATE, KS_INDEX, 1, NULL, KS_RANGE, .range = { 0, 1, 0 } }, { 0 } }, cmd_incrby, "string", "Increments the integer value of a key by a number. Uses 0 as initial value if the key doesn't exist.", "1.0.0", "O(1)", NULL },
    { "decrby", 3, W | CMD_FAST, (const key_spec[]){ { KS_RW | KS_ACCESS | KS_UPDATE, KS_INDEX, 1, NULL, KS_RANGE, .range = { 0, 1, 0 } }, { 0 } }, cmd_decrby, "string", "Decrements a number from the integer value of a key. Uses 0 as initial value if the key doesn't exist.", "1.0.0", "O(1)", NULL },
    { "incrbyfloat", 3, W | CMD_FAST, (const key_spec[]){ { KS_RW | KS_ACCESS | KS_UPDATE, KS_INDEX, 1, NULL, KS_RANGE, .range = { 0, 1, 0 } }, { 0 } }, cmd_incrbyfloat, "string", "Increment the floating point value of a key by a number. Uses 0 as initial value if the key doesn't exist.", "2.6.0", "O(1)", NULL },
    { "setrange", 4, W, (const key_spec[]){ { KS_RW | KS_UPDATE, KS_INDEX, 1, NULL, KS_RANGE, .range = { 0, 1, 0 } }, { 0 } }, cmd_setrange, "string", "Overwrites a part of a string value with another by an offset. Creates the key if it doesn't exist.", "2.2.0", "O(1), not counting the time taken to copy the new string in place. Usually, this string is very small so the amortized complexity is O(1). Otherwise, complexity is O(M) with M being the length of the value argument.", NULL },
    { "getrange", 4, R, (const key_spec[]){ { KS_RO | KS_ACCESS, KS_INDEX, 1, NULL, KS_RANGE, .range = { 0, 1, 0 } }, { 0 } }, cmd_getrange, "string", "Returns a substring of the string stored at a key.", "2.4.0", "O(N) where N is the length of the returned string. The complexity is ultimately determined by the returned length, but because creating a substring from an existing string is very cheap, it can be considered O(1) for small strings.", NULL },
    { "substr", 4, R, (const key_spec[]){ { KS_RO | KS_ACCESS, KS_INDEX, 1, NULL, KS_RANGE, .range = { 0, 1, 0 } }, { 0 } }, cmd_getrange, "string", "Returns a substring from a string value.", "1.0.0", "O(N) where N is the length of the returned string. The complexity is ultimately determined by the returned length, but because creating a substring from an existing string is very cheap, it can be considered O(1) for small strings.", NULL },
    { 0 }
};
