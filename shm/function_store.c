/* function_store.c - the FUNCTION library registry in the arena (see function_store.h).
 *
 * Blob layout (little-endian, the same bytes in the arena and in a snapshot record):
 *   u32 magic "FNRG", u32 version (1), u32 library count, u32 0;
 *   each library: str name, str engine, str code, u32 function count;
 *   each function: str name, u32 has-description, str description (when it has one),
 *   u32 flags.
 * A str is a u32 length and that many bytes. Decoding checks every length against the
 * bytes left, the names' characters, the flags and that no name repeats. */
#include "kvns/function_store.h"
#include "kvns/alloc.h"
#include "kvns/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define FN_BLOB_MAGIC   0x47524e46u    /* "FNRG" */
#define FN_BLOB_VERSION 1u

/* Frees one function's strings. */
static void fnfunc_clear(fn_func *f)
{
    free(f->name);
    free(f->desc);
    memset(f, 0, sizeof *f);
}

void fnlib_clear(fn_lib *l)
{
    for (size_t i = 0; i < l->nfuncs; i++)
        fnfunc_clear(&l->funcs[i]);
    free(l->funcs);
    free(l->name);
    free(l->engine);
    free(l->code);
    memset(l, 0, sizeof *l);
}

void fnset_clear(fn_set *s)
{
    for (size_t i = 0; i < s->nlibs; i++)
        fnlib_clear(&s->libs[i]);
    free(s->libs);
    s->libs = NULL;
    s->nlibs = 0;
}

void fnset_add(fn_set *s, fn_lib *lib)
{
    fn_lib *libs = realloc(s->libs, (s->nlibs + 1) * sizeof *libs);
    if (!libs)
        abort();
    s->libs = libs;
    s->libs[s->nlibs++] = *lib;
    memset(lib, 0, sizeof *lib);
}

void fnset_remove(fn_set *s, size_t i)
{
    fnlib_clear(&s->libs[i]);
    memmove(&s->libs[i], &s->libs[i + 1], (s->nlibs - i - 1) * sizeof *s->libs);
    s->nlibs--;
}

long fnset_find_lib(const fn_set *s, const char *name)
{
    for (size_t i = 0; i < s->nlibs; i++)
        if (strcmp(s->libs[i].name, name) == 0)
            return (long)i;
    return -1;
}

bool fnset_find_func(const fn_set *s, const char *fname, size_t len, size_t *lib, size_t *fn)
{
    for (size_t i = 0; i < s->nlibs; i++) {
        for (size_t j = 0; j < s->libs[i].nfuncs; j++) {
            const char *n = s->libs[i].funcs[j].name;
            if (strlen(n) == len && strncasecmp(n, fname, len) == 0) {
                *lib = i;
                *fn = j;
                return true;
            }
        }
    }
    return false;
}

size_t fnset_nfuncs(const fn_set *s)
{
    size_t n = 0;
    for (size_t i = 0; i < s->nlibs; i++)
        n += s->libs[i].nfuncs;
    return n;
}

/* ---- encoding -------------------------------------------------------------------------- */

/* A growing output buffer; ok goes false when malloc fails. */
typedef struct enc_buf {
    char  *p;
    size_t len, cap;
    bool   ok;
} enc_buf;

static void enc_bytes(enc_buf *b, const void *src, size_t n)
{
    if (!b->ok)
        return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->ok = false;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, src, n);
    b->len += n;
}

static void enc_u32(enc_buf *b, uint32_t v)
{
    unsigned char x[4] = { (unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                           (unsigned char)(v >> 24) };
    enc_bytes(b, x, 4);
}

static void enc_str(enc_buf *b, const char *s, size_t n)
{
    enc_u32(b, (uint32_t)n);
    enc_bytes(b, s, n);
}

size_t fnset_encode(const fn_set *s, char **out)
{
    enc_buf b = { NULL, 0, 0, true };
    enc_u32(&b, FN_BLOB_MAGIC);
    enc_u32(&b, FN_BLOB_VERSION);
    enc_u32(&b, (uint32_t)s->nlibs);
    enc_u32(&b, 0);
    for (size_t i = 0; i < s->nlibs; i++) {
        const fn_lib *l = &s->libs[i];
        enc_str(&b, l->name, strlen(l->name));
        enc_str(&b, l->engine, strlen(l->engine));
        enc_str(&b, l->code, l->code_len);
        enc_u32(&b, (uint32_t)l->nfuncs);
        for (size_t j = 0; j < l->nfuncs; j++) {
            const fn_func *f = &l->funcs[j];
            enc_str(&b, f->name, strlen(f->name));
            enc_u32(&b, f->desc != NULL);
            if (f->desc)
                enc_str(&b, f->desc, f->desc_len);
            enc_u32(&b, f->flags);
        }
    }
    if (!b.ok) {
        free(b.p);
        *out = NULL;
        return 0;
    }
    *out = b.p;
    return b.len;
}

/* ---- decoding -------------------------------------------------------------------------- */

typedef struct dec_buf {
    const unsigned char *p;
    size_t len, pos;
    char  *err;
    size_t errlen;
    bool   failed;
} dec_buf;

/* Records the first decoding error. */
static void dec_fail(dec_buf *d, const char *what)
{
    if (!d->failed)
        snprintf(d->err, d->errlen, "function registry: %s at byte %zu", what, d->pos);
    d->failed = true;
}

static uint32_t dec_u32(dec_buf *d)
{
    if (d->failed || d->len - d->pos < 4) {
        dec_fail(d, "truncated");
        return 0;
    }
    const unsigned char *x = d->p + d->pos;
    d->pos += 4;
    return (uint32_t)x[0] | (uint32_t)x[1] << 8 | (uint32_t)x[2] << 16 | (uint32_t)x[3] << 24;
}

/* A malloc'ed NUL-terminated copy of the next str (its length in *n), or NULL. */
static char *dec_str(dec_buf *d, size_t *n)
{
    uint32_t len = dec_u32(d);
    if (d->failed)
        return NULL;
    if (d->len - d->pos < len) {
        dec_fail(d, "string runs past the end");
        return NULL;
    }
    char *s = malloc((size_t)len + 1);
    if (!s) {
        dec_fail(d, "out of memory");
        return NULL;
    }
    memcpy(s, d->p + d->pos, len);
    s[len] = '\0';
    d->pos += len;
    if (n)
        *n = len;
    return s;
}

/* True when name is a valid library or function name (Redis's functionsVerifyName). */
static bool name_valid(const char *name, size_t len)
{
    if (len == 0)
        return false;
    for (size_t i = 0; i < len; i++) {
        char ch = name[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_'))
            return false;
    }
    return true;
}

/* Decodes one library into l; false after dec_fail. */
static bool dec_lib(dec_buf *d, fn_lib *l, const fn_set *so_far)
{
    size_t n = 0;
    l->name = dec_str(d, &n);
    if (l->name && !name_valid(l->name, n))
        dec_fail(d, "bad library name");
    if (l->name && fnset_find_lib(so_far, l->name) >= 0)
        dec_fail(d, "library repeated");
    l->engine = dec_str(d, NULL);
    l->code = dec_str(d, &l->code_len);
    uint32_t nf = dec_u32(d);
    if (d->failed)
        return false;
    if (nf == 0 || nf > (d->len - d->pos) / 12) {
        dec_fail(d, "bad function count");
        return false;
    }
    l->funcs = calloc(nf, sizeof *l->funcs);
    if (!l->funcs) {
        dec_fail(d, "out of memory");
        return false;
    }
    for (uint32_t j = 0; j < nf && !d->failed; j++) {
        fn_func *f = &l->funcs[j];
        l->nfuncs = j + 1;
        f->name = dec_str(d, &n);
        if (f->name && !name_valid(f->name, n))
            dec_fail(d, "bad function name");
        size_t li, fi;
        if (f->name && fnset_find_func(so_far, f->name, n, &li, &fi))
            dec_fail(d, "function repeated");
        for (uint32_t k = 0; f->name && k < j; k++)     /* within a library case matters */
            if (strcmp(l->funcs[k].name, f->name) == 0)
                dec_fail(d, "function repeated");
        uint32_t has_desc = dec_u32(d);
        if (has_desc > 1)
            dec_fail(d, "bad description marker");
        if (has_desc == 1)
            f->desc = dec_str(d, &f->desc_len);
        f->flags = dec_u32(d);
        if (f->flags & ~SCRIPT_FLAGS_DECLARABLE)
            dec_fail(d, "unknown function flags");
    }
    return !d->failed;
}

int fnset_decode(const char *p, size_t len, fn_set *out, char *err, size_t errlen)
{
    dec_buf d = { (const unsigned char *)p, len, 0, err, errlen, false };
    if (dec_u32(&d) != FN_BLOB_MAGIC)
        dec_fail(&d, "bad magic");
    if (dec_u32(&d) != FN_BLOB_VERSION)
        dec_fail(&d, "unsupported version");
    uint32_t nlibs = dec_u32(&d);
    dec_u32(&d);
    for (uint32_t i = 0; i < nlibs && !d.failed; i++) {
        fn_lib l = { 0 };
        if (dec_lib(&d, &l, out))
            fnset_add(out, &l);
        else
            fnlib_clear(&l);
    }
    if (!d.failed && d.pos != len)
        dec_fail(&d, "trailing bytes");
    if (d.failed) {
        fnset_clear(out);
        return -1;
    }
    return 0;
}

/* ---- the shared registry --------------------------------------------------------------- */

/* fn_lock's recovery after its owner died (arena_mutex_acquire's callback). */
static void recover_fn_lock(void *arg)
{
    (void)arg;
    lock_recover(lock_id_functions());
}

/* Decodes the current blob into out; caller holds fn_lock. */
static int registry_decode_locked(fn_set *out)
{
    arena_header *h = arena_hdr();
    out->gen = h->fn_gen;
    if (!h->fn_blob)
        return 0;
    char err[128];
    if (fnset_decode(arena_ptr(h->fn_blob), h->fn_blob_len, out, err, sizeof err) != 0) {
        shm_log(LOG_LVL_ERROR, "function registry unreadable", "error=\"%s\"", err);
        return -1;
    }
    return 0;
}

int fnstore_read_locked(fn_set *out)
{
    int rc = registry_decode_locked(out);
    out->gen = FNSTORE_GEN_UNCOMMITTED;
    return rc;
}

int fnstore_read(fn_set *out)
{
    arena_header *h = arena_hdr();
    arena_mutex_acquire(&h->fn_lock, false, recover_fn_lock, NULL);
    int rc = registry_decode_locked(out);
    pthread_mutex_unlock(&h->fn_lock);
    return rc;
}

/* Publishes s as the registry in t: the new blob's allocation, the stores of the
 * registry words and the old blob's free are all logged. Caller holds fn_lock in t. */
static int registry_publish_locked(kv_txn *t, const fn_set *s)
{
    arena_header *h = arena_hdr();
    uint32_t id = lock_id_functions();
    char *blob = NULL;
    size_t len = 0;
    aoff off = 0;
    if (s->nlibs) {
        len = fnset_encode(s, &blob);
        if (!blob)
            abort();
        off = heap_alloc_meta(t, len);
        if (!off) {
            free(blob);
            return FNSTORE_FAILED;
        }
        memcpy(arena_ptr(off), blob, len);     /* fresh memory: no undo needed */
        free(blob);
    }
    aoff old = h->fn_blob;
    tx_store64(t, id, &h->fn_blob, off);
    tx_store64(t, id, &h->fn_blob_len, len);
    tx_store64(t, id, &h->fn_gen, h->fn_gen + 1);
    heap_free_meta(t, old);
    return t->failed ? FNSTORE_FAILED : FNSTORE_OK;
}

int fnstore_update_locked(kv_txn *t, fnstore_edit_fn *edit, void *arg)
{
    fn_set cur = { 0 };
    int rc = registry_decode_locked(&cur) == 0 ? FNSTORE_OK : FNSTORE_FAILED;
    if (rc == FNSTORE_OK)
        rc = edit(&cur, arg) ? registry_publish_locked(t, &cur) : FNSTORE_REFUSED;
    fnset_clear(&cur);
    return rc;
}

int fnstore_install(kv_txn *t, const fn_set *s)
{
    txn_lock(t, lock_id_functions());
    return registry_publish_locked(t, s);
}
