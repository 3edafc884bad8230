/* t_function.c - FUNCTION (LOAD, LIST, DELETE, FLUSH, DUMP, RESTORE, STATS, KILL, HELP)
 * and FCALL / FCALL_RO, with Redis 7.0's replies and error texts.
 *
 * Libraries live in the shared registry (function_store.h): a change takes the
 * registry's lock id in the command's own transaction (parking when another thread
 * holds it, like a busy shard), edits the decoded set and publishes it; every thread
 * sees it at its next FCALL through the generation number. A library's code is run
 * once in the load sandbox before the lock is taken (function_load.c), so the lock is
 * held only for plain C work.
 *
 * FUNCTION DUMP's payload is Redis's: per library the RDB_OPCODE_FUNCTION2 byte and the
 * code as an RDB string, then the RDB version (2 bytes) and a CRC64 (Jones) of
 * everything before it, so payloads move between kvns and Redis 7 both ways (an
 * LZF-compressed string, which Redis writes for code it can shrink, is decompressed). */
#include "function_lua.h"
#include "kvns/arena.h"
#include "kvns/glob.h"
#include "kvns/parse.h"
#include "t_server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define RDB_OPCODE_FUNCTION_PRE_GA 246
#define RDB_OPCODE_FUNCTION2       245
#define RDB_VERSION_DUMP           10      /* Redis 7.0's RDB_VERSION */

/* ---- edits of the registry --------------------------------------------------------------- */

/* What an edit adds or removes, and the refusal text it leaves. */
typedef struct fn_edit {
    fn_set *add;               /* libraries to add (LOAD: one; RESTORE: the payload's) */
    bool    replace;           /* a library of the same name is replaced, not refused */
    bool    flush;             /* everything else goes first (FLUSH, RESTORE FLUSH) */
    bool    quoted;            /* LOAD's "Library 'x' already exists", RESTORE's without quotes */
    const char *delete_name;   /* DELETE */
    char    err[256];
} fn_edit;

/* fnstore_edit_fn: applies e to cur as Redis's functionsCreateWithLibraryCtx /
 * libraryJoin do: library collisions (or replacement) first, then function names. */
static bool fn_apply_edit(fn_set *cur, void *arg)
{
    fn_edit *e = arg;
    if (e->delete_name) {
        long i = fnset_find_lib(cur, e->delete_name);
        if (i < 0) {
            snprintf(e->err, sizeof e->err, "ERR Library not found");
            return false;
        }
        fnset_remove(cur, (size_t)i);
        return true;
    }
    if (e->flush)
        fnset_clear(cur);
    for (size_t k = 0; e->add && k < e->add->nlibs; k++) {
        long i = fnset_find_lib(cur, e->add->libs[k].name);
        if (i >= 0 && !e->replace) {
            snprintf(e->err, sizeof e->err, e->quoted ? "ERR Library '%s' already exists" : "ERR Library %s already exists",
                     e->add->libs[k].name);
            return false;
        }
        if (i >= 0)
            fnset_remove(cur, (size_t)i);
    }
    for (size_t k = 0; e->add && k < e->add->nlibs; k++) {
        const fn_lib *l = &e->add->libs[k];
        for (size_t j = 0; j < l->nfuncs; j++) {
            size_t li, fi;
            if (fnset_find_func(cur, l->funcs[j].name, strlen(l->funcs[j].name), &li, &fi)) {
                snprintf(e->err, sizeof e->err, "ERR Function %s already exists", l->funcs[j].name);
                return false;
            }
        }
    }
    for (size_t k = 0; e->add && k < e->add->nlibs; k++)
        fnset_add(cur, &e->add->libs[k]);
    if (e->add)
        e->add->nlibs = 0;
    return true;
}

/* Runs e against the registry in this command's transaction and replies its error,
 * or returns true (the caller replies success). False with nothing replied when the
 * registry lock was busy: the command is parked and runs again. */
static bool fn_change(client *c, fn_edit *e)
{
    uint32_t id = lock_id_functions();
    if (!cmd_txn_begin(c, &id, 1)) {
        return false;
    }
    int rc = fnstore_update_locked(&c->w->txn, fn_apply_edit, e);
    if (rc == FNSTORE_FAILED) {
        reply_store_error(c, c->w->txn.failed ? c->w->txn.failed : TXN_E_NOMEM);
        return false;
    }
    int crc = cmd_commit(c);
    if (crc != TXN_OK) {
        reply_store_error(c, crc);
        return false;
    }
    if (rc == FNSTORE_REFUSED) {
        reply_error(&c->out, e->err);
        return false;
    }
    return true;
}

/* True (after replying OOM) when used memory is over the limit: FUNCTION LOAD and
 * RESTORE are deny-oom commands. */
static bool fn_refuse_oom(client *c)
{
    if (store_used_memory() <= __atomic_load_n(&arena_hdr()->memory_limit, __ATOMIC_RELAXED))
        return false;
    reply_error(&c->out, ERR_OOM);
    return true;
}

/* Copies an argument into a NUL-terminated malloc'ed string. */
static char *arg_dup(const resp_arg *a)
{
    char *s = malloc(a->len + 1);
    if (!s)
        abort();
    memcpy(s, a->ptr, a->len);
    s[a->len] = '\0';
    return s;
}

/* FUNCTION LOAD [REPLACE] code */
static void fn_load(client *c)
{
    bool replace = false;
    size_t i = 2;
    for (; i + 1 < c->argc; i++) {
        if (!arg_is(&c->argv[i], "replace")) {
            char arg[160];
            tsrv_arg_for_error(&c->argv[i], arg, sizeof arg);
            reply_errorf(&c->out, "ERR Unknown option given: %s", arg);
            return;
        }
        replace = true;
    }
    if (fn_refuse_oom(c))
        return;
    const resp_arg *code = &c->argv[i];
    char err[512];
    fnlua_meta md;
    if (fnlua_shebang(code->ptr, code->len, &md, err, sizeof err) != 0) {
        reply_error(&c->out, err);
        return;
    }
    fn_set cur = { 0 };
    if (!fnlua_read_registry(c, &cur)) {
        fnlua_meta_clear(&md);
        return;
    }
    bool exists = fnset_find_lib(&cur, md.name) >= 0;
    fnset_clear(&cur);
    bool name_ok = fnlua_name_valid(md.name, strlen(md.name)) && strcasecmp(md.engine, "lua") == 0;
    if (exists && !replace && name_ok) {
        reply_errorf(&c->out, "ERR Library '%s' already exists", md.name);
        fnlua_meta_clear(&md);
        return;
    }
    fnlua_meta_clear(&md);
    fn_lib lib;
    if (fnlua_parse_library(code->ptr, code->len, &lib, err, sizeof err) != 0) {
        reply_error(&c->out, err);
        return;
    }
    char *name = strdup(lib.name);
    fn_set add = { 0 };
    fnset_add(&add, &lib);
    fn_edit e = { .add = &add, .replace = replace, .quoted = true };
    if (fn_change(c, &e))
        reply_bulk_cstr(&c->out, name);
    free(name);
    fnset_clear(&add);
}

/* FUNCTION DELETE library */
static void fn_delete(client *c)
{
    char *name = arg_dup(&c->argv[2]);
    fn_edit e = { .delete_name = name };
    if (fn_change(c, &e))
        reply_ok(&c->out);
    free(name);
}

/* Redis's addReplySubcommandSyntaxError. */
static void fn_syntax_error(client *c)
{
    char arg[160];
    tsrv_arg_for_error(&c->argv[1], arg, sizeof arg);
    reply_errorf(&c->out, "ERR unknown subcommand or wrong number of arguments for '%s'. Try FUNCTION HELP.", arg);
}

/* FUNCTION FLUSH [ASYNC|SYNC] (both free at once: the registry is one blob) */
static void fn_flush(client *c)
{
    if (c->argc > 3) {
        fn_syntax_error(c);
        return;
    }
    if (c->argc == 3 && !arg_is(&c->argv[2], "sync") && !arg_is(&c->argv[2], "async")) {
        reply_error(&c->out, "ERR FUNCTION FLUSH only supports SYNC|ASYNC option");
        return;
    }
    fn_edit e = { .flush = true };
    if (fn_change(c, &e))
        reply_ok(&c->out);
}

/* Replies one function's flags as a set of status strings. */
static void fn_reply_flags(client *c, uint32_t flags)
{
    long long n = 0;
    for (const script_flag_name *f = script_flag_names; f->name; f++)
        n += (flags & f->flag) != 0;
    reply_set(&c->out, n);
    for (const script_flag_name *f = script_flag_names; f->name; f++)
        if (flags & f->flag)
            reply_simple(&c->out, f->name);
}

/* FUNCTION LIST [LIBRARYNAME pattern] [WITHCODE] */
static void fn_list(client *c)
{
    bool with_code = false;
    const resp_arg *pattern = NULL;
    for (size_t i = 2; i < c->argc; i++) {
        if (!with_code && arg_is(&c->argv[i], "withcode")) {
            with_code = true;
        } else if (!pattern && arg_is(&c->argv[i], "libraryname")) {
            if (i + 1 >= c->argc) {
                reply_error(&c->out, "ERR library name argument was not given");
                return;
            }
            pattern = &c->argv[++i];
        } else {
            char arg[160];
            tsrv_arg_for_error(&c->argv[i], arg, sizeof arg);
            reply_errorf(&c->out, "ERR Unknown argument %s", arg);
            return;
        }
    }
    fn_set s = { 0 };
    if (!fnlua_read_registry(c, &s))
        return;
    size_t n = 0;
    for (size_t i = 0; i < s.nlibs; i++)
        n += !pattern || glob_match(pattern->ptr, pattern->len, s.libs[i].name, strlen(s.libs[i].name), true);
    reply_array(&c->out, (long long)n);
    for (size_t i = 0; i < s.nlibs; i++) {
        const fn_lib *l = &s.libs[i];
        if (pattern && !glob_match(pattern->ptr, pattern->len, l->name, strlen(l->name), true))
            continue;
        reply_map(&c->out, with_code ? 4 : 3);
        reply_bulk_cstr(&c->out, "library_name");
        reply_bulk_cstr(&c->out, l->name);
        reply_bulk_cstr(&c->out, "engine");
        reply_bulk_cstr(&c->out, l->engine);
        reply_bulk_cstr(&c->out, "functions");
        reply_array(&c->out, (long long)l->nfuncs);
        for (size_t j = 0; j < l->nfuncs; j++) {
            reply_map(&c->out, 3);
            reply_bulk_cstr(&c->out, "name");
            reply_bulk_cstr(&c->out, l->funcs[j].name);
            reply_bulk_cstr(&c->out, "description");
            if (l->funcs[j].desc)
                reply_bulk(&c->out, l->funcs[j].desc, l->funcs[j].desc_len);
            else
                reply_null(&c->out);
            reply_bulk_cstr(&c->out, "flags");
            fn_reply_flags(c, l->funcs[j].flags);
        }
        if (with_code) {
            reply_bulk_cstr(&c->out, "library_code");
            reply_bulk(&c->out, l->code, l->code_len);
        }
    }
    fnset_clear(&s);
}

/* ---- DUMP and RESTORE ------------------------------------------------------------------- */

/* CRC-64/Jones as Redis's crc64 (reflected, polynomial 0xad93d23594c935a9, init 0). */
static uint64_t fn_crc64(const unsigned char *p, size_t n)
{
    uint64_t crc = 0;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int b = 0; b < 8; b++)
            crc = (crc & 1) ? (crc >> 1) ^ 0x95ac9329ac4bc9b5ULL : crc >> 1;
    }
    return crc;
}

/* A growing byte buffer for the payload. */
typedef struct fn_buf {
    unsigned char *p;
    size_t len, cap;
} fn_buf;

static void buf_put(fn_buf *b, const void *src, size_t n)
{
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        if (!b->p)
            abort();
    }
    memcpy(b->p + b->len, src, n);
    b->len += n;
}

/* Appends an RDB length (6-bit, 14-bit, 32-bit or 64-bit big-endian form). */
static void buf_put_len(fn_buf *b, uint64_t len)
{
    unsigned char x[9];
    if (len < 64) {
        x[0] = (unsigned char)len;
        buf_put(b, x, 1);
    } else if (len < 16384) {
        x[0] = (unsigned char)(0x40 | (len >> 8));
        x[1] = (unsigned char)len;
        buf_put(b, x, 2);
    } else if (len <= UINT32_MAX) {
        x[0] = 0x80;
        for (int i = 0; i < 4; i++)
            x[1 + i] = (unsigned char)(len >> (24 - 8 * i));
        buf_put(b, x, 5);
    } else {
        x[0] = 0x81;
        for (int i = 0; i < 8; i++)
            x[1 + i] = (unsigned char)(len >> (56 - 8 * i));
        buf_put(b, x, 9);
    }
}

/* FUNCTION DUMP */
static void fn_dump(client *c)
{
    fn_set s = { 0 };
    if (!fnlua_read_registry(c, &s))
        return;
    fn_buf b = { 0 };
    for (size_t i = 0; i < s.nlibs; i++) {
        unsigned char op = RDB_OPCODE_FUNCTION2;
        buf_put(&b, &op, 1);
        buf_put_len(&b, s.libs[i].code_len);
        buf_put(&b, s.libs[i].code, s.libs[i].code_len);
    }
    unsigned char ver[2] = { RDB_VERSION_DUMP & 0xff, RDB_VERSION_DUMP >> 8 };
    buf_put(&b, ver, 2);
    uint64_t crc = fn_crc64(b.p, b.len);
    unsigned char crcb[8];
    for (int i = 0; i < 8; i++)
        crcb[i] = (unsigned char)(crc >> (8 * i));
    buf_put(&b, crcb, 8);
    reply_bulk(&c->out, b.p, b.len);
    free(b.p);
    fnset_clear(&s);
}

/* A reader over the payload (its last 10 bytes, version and CRC, excluded). */
typedef struct fn_rd {
    const unsigned char *p;
    size_t len, pos;
} fn_rd;

/* Reads an RDB length into *len; *encoded is set for the 0xC0 special forms (then *len
 * is the form: 0-2 integers, 3 LZF). False when the payload ends. */
static bool rd_len(fn_rd *r, uint64_t *len, bool *encoded)
{
    *encoded = false;
    if (r->pos >= r->len)
        return false;
    unsigned char b0 = r->p[r->pos++];
    int kind = b0 >> 6;
    if (kind == 0) {
        *len = b0 & 0x3f;
    } else if (kind == 1) {
        if (r->pos >= r->len)
            return false;
        *len = (uint64_t)(b0 & 0x3f) << 8 | r->p[r->pos++];
    } else if (kind == 3) {
        *encoded = true;
        *len = b0 & 0x3f;
    } else {
        size_t n = b0 == 0x80 ? 4 : b0 == 0x81 ? 8 : 0;
        if (!n || r->len - r->pos < n)
            return false;
        uint64_t v = 0;
        for (size_t i = 0; i < n; i++)
            v = v << 8 | r->p[r->pos++];
        *len = v;
    }
    return true;
}

/* Redis's lzf_decompress: expands in[0..n) into out (exactly outlen bytes expected).
 * False on a malformed stream. */
static bool lzf_expand(const unsigned char *in, size_t n, unsigned char *out, size_t outlen)
{
    size_t ip = 0, op = 0;
    while (ip < n) {
        unsigned ctrl = in[ip++];
        if (ctrl < 32) {                         /* a literal run of ctrl + 1 bytes */
            size_t run = ctrl + 1;
            if (op + run > outlen || ip + run > n)
                return false;
            memcpy(out + op, in + ip, run);
            op += run;
            ip += run;
            continue;
        }
        size_t len = ctrl >> 5;                  /* a back reference */
        if (len == 7) {
            if (ip >= n)
                return false;
            len += in[ip++];
        }
        if (ip >= n)
            return false;
        size_t back = ((size_t)(ctrl & 0x1f) << 8) + in[ip++] + 1;
        len += 2;
        if (back > op || op + len > outlen)
            return false;
        for (size_t i = 0; i < len; i++, op++)
            out[op] = out[op - back];
    }
    return op == outlen;
}

/* Reads one RDB string into a malloc'ed buffer; NULL when malformed. */
static char *rd_string(fn_rd *r, size_t *out_len)
{
    uint64_t len;
    bool enc;
    if (!rd_len(r, &len, &enc))
        return NULL;
    if (enc && len == 3) {                       /* LZF: compressed and plain lengths */
        uint64_t clen, plen;
        bool e1, e2;
        if (!rd_len(r, &clen, &e1) || !rd_len(r, &plen, &e2) || e1 || e2 || r->len - r->pos < clen ||
            plen > (1ULL << 32))
            return NULL;
        char *s = malloc(plen + 1);
        if (!s)
            abort();
        if (!lzf_expand(r->p + r->pos, clen, (unsigned char *)s, plen)) {
            free(s);
            return NULL;
        }
        r->pos += clen;
        *out_len = plen;
        return s;
    }
    if (enc) {                                   /* an integer: 1, 2 or 4 bytes */
        size_t n = len == 0 ? 1 : len == 1 ? 2 : len == 2 ? 4 : 0;
        if (!n || r->len - r->pos < n)
            return NULL;
        int64_t v = 0;
        for (size_t i = 0; i < n; i++)
            v |= (int64_t)r->p[r->pos + i] << (8 * i);
        if (n < 8 && (v & (1LL << (8 * n - 1))))
            v -= 1LL << (8 * n);
        r->pos += n;
        char *s = malloc(24);
        if (!s)
            abort();
        *out_len = (size_t)snprintf(s, 24, "%lld", (long long)v);
        return s;
    }
    if (r->len - r->pos < len)
        return NULL;
    char *s = malloc(len + 1);
    if (!s)
        abort();
    memcpy(s, r->p + r->pos, len);
    r->pos += len;
    *out_len = len;
    return s;
}

/* Decodes a FUNCTION DUMP payload into libraries (each run through the load sandbox).
 * Returns 0, or -1 with Redis's error text in err. */
static int fn_payload_parse(const resp_arg *a, fn_set *out, char *err, size_t errlen)
{
    const unsigned char *p = (const unsigned char *)a->ptr;
    if (a->len < 10 || (p[a->len - 9] << 8 | p[a->len - 10]) > RDB_VERSION_DUMP) {
        snprintf(err, errlen, "ERR DUMP payload version or checksum are wrong");
        return -1;
    }
    uint64_t crc = fn_crc64(p, a->len - 8), want = 0;
    for (int i = 0; i < 8; i++)
        want |= (uint64_t)p[a->len - 8 + i] << (8 * i);
    if (crc != want) {
        snprintf(err, errlen, "ERR DUMP payload version or checksum are wrong");
        return -1;
    }
    fn_rd r = { p, a->len - 10, 0 };
    while (r.pos < r.len) {
        unsigned char type = p[r.pos++];
        if (type == RDB_OPCODE_FUNCTION_PRE_GA) {
            snprintf(err, errlen, "ERR Pre-GA function format not supported");
            return -1;
        }
        if (type != RDB_OPCODE_FUNCTION2) {
            snprintf(err, errlen, "ERR given type is not a function");
            return -1;
        }
        size_t len;
        char *code = rd_string(&r, &len);
        if (!code) {
            snprintf(err, errlen, "ERR failed loading the given functions payload");
            return -1;
        }
        fn_lib lib;
        int rc = fnlua_parse_library(code, len, &lib, err, errlen);
        free(code);
        if (rc != 0)
            return -1;
        if (fnset_find_lib(out, lib.name) >= 0) {
            snprintf(err, errlen, "ERR Library '%s' already exists", lib.name);
            fnlib_clear(&lib);
            return -1;
        }
        fnset_add(out, &lib);
    }
    return 0;
}

/* FUNCTION RESTORE payload [FLUSH|APPEND|REPLACE] */
static void fn_restore(client *c)
{
    if (c->argc > 4) {
        fn_syntax_error(c);
        return;
    }
    fn_edit e = { .quoted = false };
    if (c->argc == 4) {
        if (arg_is(&c->argv[3], "replace")) {
            e.replace = true;
        } else if (arg_is(&c->argv[3], "flush")) {
            e.flush = true;
        } else if (!arg_is(&c->argv[3], "append")) {
            reply_error(&c->out, "ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.");
            return;
        }
    }
    if (fn_refuse_oom(c))
        return;
    fn_set add = { 0 };
    char err[512];
    if (fn_payload_parse(&c->argv[2], &add, err, sizeof err) != 0) {
        reply_error(&c->out, err);
        fnset_clear(&add);
        return;
    }
    e.add = &add;
    if (fn_change(c, &e))
        reply_ok(&c->out);
    fnset_clear(&add);
}

/* FUNCTION STATS */
static void fn_stats(client *c)
{
    fn_set s = { 0 };
    if (!fnlua_read_registry(c, &s))
        return;
    fnlua_reply_stats(c, s.nlibs, fnset_nfuncs(&s));
    fnset_clear(&s);
}

/* FUNCTION KILL: stops a function some thread runs past busy-reply-threshold. */
static void fn_kill(client *c)
{
    script_kill(c, true);
}

#define FN_WR (CMD_NOSCRIPT | CMD_WRITE)

/* FUNCTION's subcommands, with Redis 7's arities and flags. */
static const command tfn_function_subs[] = {
    { "delete", 3, FN_WR, NULL, fn_delete, NULL, "Deletes a library and its functions.", "7.0.0", "O(1)", NULL },
    { "dump", 2, CMD_NOSCRIPT, NULL, fn_dump, NULL, "Dumps all libraries into a serialized binary payload.",
      "7.0.0", "O(N) where N is the number of functions", NULL },
    { "flush", -2, FN_WR, NULL, fn_flush, NULL, "Deletes all libraries and functions.", "7.0.0",
      "O(N) where N is the number of functions deleted", NULL },
    { "help", 2, CMD_LOADING | CMD_STALE, NULL, tsrv_sub_help, NULL, "Returns helpful text about the different subcommands.",
      "7.0.0", "O(1)", NULL },
    { "kill", 2, CMD_NOSCRIPT, NULL, fn_kill, NULL, "Terminates a function during execution.", "7.0.0", "O(1)", NULL },
    { "list", -2, CMD_NOSCRIPT, NULL, fn_list, NULL, "Returns information about all libraries.", "7.0.0",
      "O(N) where N is the number of functions", NULL },
    { "load", -3, FN_WR | CMD_DENYOOM, NULL, fn_load, NULL, "Creates a library.", "7.0.0",
      "O(1) (considering compilation time is redundant)", NULL },
    { "restore", -3, FN_WR | CMD_DENYOOM, NULL, fn_restore, NULL,
      "Restores all libraries from a payload.", "7.0.0", "O(N) where N is the number of functions on the payload", NULL },
    { "stats", 2, CMD_NOSCRIPT, NULL, fn_stats, NULL, "Returns information about a function during execution.",
      "7.0.0", "O(1)", NULL },
    { 0 }
};

/* FCALL / FCALL_RO: the function, numkeys, keys, args (Redis's fcallCommandGeneric). */
static void fcall_generic(client *c, bool ro)
{
    long long numkeys;
    if (parse_ll(c->argv[2].ptr, c->argv[2].len, &numkeys) != 0) {
        reply_error(&c->out, "ERR Bad number of keys provided");
        return;
    }
    if (!script_numkeys_ok(c, numkeys))
        return;
    fnlua_fcall(c, (size_t)numkeys, ro);
}

static void cmd_fcall(client *c) { fcall_generic(c, false); }
static void cmd_fcall_ro(client *c) { fcall_generic(c, true); }

static const key_spec fcall_keys[] = {
    { KS_RW | KS_ACCESS | KS_UPDATE, KS_INDEX, 2, NULL, KS_KEYNUM, .keynum = { 0, 1, 1 },
      "We cannot tell how the keys will be used so we assume the worst, RW and UPDATE", NULL },
    { 0 },
};
static const key_spec fcall_ro_keys[] = {
    { KS_RO | KS_ACCESS, KS_INDEX, 2, NULL, KS_KEYNUM, .keynum = { 0, 1, 1 },
      "We cannot tell how the keys will be used so we assume the worst, RO and ACCESS", NULL },
    { 0 },
};

const command function_commands[] = {
    { "function", -2, 0, NULL, NULL, "scripting", "A container for function commands.", "7.0.0",
      "Depends on subcommand.", tfn_function_subs },
    { "fcall", -3, CMD_NOLOCK | CMD_NOSCRIPT | CMD_STALE, fcall_keys, cmd_fcall, "scripting", "Invokes a function.",
      "7.0.0", "Depends on the function that is executed.", NULL },
    { "fcall_ro", -3, CMD_NOLOCK | CMD_NOSCRIPT | CMD_STALE | CMD_READONLY, fcall_ro_keys, cmd_fcall_ro, "scripting",
      "Invokes a read-only function.", "7.0.0", "Depends on the function that is executed.", NULL },
    { 0 },
};
