/* scan.c - cursor and option parsing and reply shape of the SCAN family (scan.h). */
#include "kvns/scan.h"
#include "kvns/glob.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool scan_parse_cursor(client *c, size_t i, uint64_t *cursor)
{
    const resp_arg *a = &c->argv[i];
    char *text = malloc(a->len + 1);     /* a copy: strtoull needs the terminator */
    if (!text)
        abort();
    memcpy(text, a->ptr, a->len);
    text[a->len] = 0;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    bool ok = !isspace((unsigned char)text[0]) && *end == 0 && errno != ERANGE;
    free(text);
    if (!ok) {
        reply_error(&c->out, "ERR invalid cursor");
        return false;
    }
    *cursor = v;
    return true;
}

bool scan_parse_opts(client *c, size_t first, bool with_type, scan_opts *o)
{
    *o = (scan_opts){ .count = 10 };
    for (size_t i = first; i < c->argc; i += 2) {
        bool has_value = i + 1 < c->argc;
        if (has_value && arg_is(&c->argv[i], "count")) {
            if (!arg_ll(c, i + 1, &o->count))
                return false;
            if (o->count < 1) {
                reply_error(&c->out, ERR_SYNTAX);
                return false;
            }
        } else if (has_value && arg_is(&c->argv[i], "match")) {
            const resp_arg *p = &c->argv[i + 1];
            o->pat = p->len == 1 && p->ptr[0] == '*' ? NULL : p->ptr;
            o->plen = p->len;
        } else if (has_value && with_type && arg_is(&c->argv[i], "type")) {
            o->type = &c->argv[i + 1];
        } else {
            reply_error(&c->out, ERR_SYNTAX);
            return false;
        }
    }
    o->max_steps = o->count > LLONG_MAX / 10 ? LLONG_MAX : o->count * 10;
    return true;
}

bool scan_match(const scan_opts *o, const char *s, size_t len)
{
    return !o->pat || glob_match(o->pat, o->plen, s, len, false);
}

void scan_reply_cursor(client *c, uint64_t cursor)
{
    char buf[24];
    int n = snprintf(buf, sizeof buf, "%llu", (unsigned long long)cursor);
    reply_array(&c->out, 2);
    reply_bulk(&c->out, buf, (size_t)n);
}

/* Redis's shared.emptyscan: cursor "0" and no items (the scan of a missing key). */
static void scan_reply_empty(client *c)
{
    scan_reply_cursor(c, 0);
    reply_array(&c->out, 0);
}

kv_entry *scan_key_begin(client *c, uint8_t type, uint64_t *cursor, scan_opts *o)
{
    kv_entry *e;
    if (!scan_parse_cursor(c, 2, cursor) || !key_lookup_typed(c, 1, type, KEY_READ, &e))
        return NULL;
    if (!e) {
        scan_reply_empty(c);
        return NULL;
    }
    return scan_parse_opts(c, 3, false, o) ? e : NULL;
}
