/* scan.h - what SCAN, HSCAN, SSCAN and ZSCAN share (src/scan.c): the cursor and
 * option parsing of Redis 7.0's parseScanCursorOrReply and scanGenericCommand, the
 * MATCH filter and the reply's [next cursor, [items]] shape. */
#ifndef KVNS_SCAN_H
#define KVNS_SCAN_H

#include "kvns/command.h"

typedef struct scan_opts {
    long long       count;      /* COUNT, default 10 */
    long long       max_steps;  /* the work bound: 10 * COUNT steps, saturated */
    const char     *pat;        /* MATCH pattern, NULL for none (or "*") */
    size_t          plen;
    const resp_arg *type;       /* SCAN's TYPE name, NULL for none */
} scan_opts;

/* Parses argv[i] as Redis parses a SCAN cursor (strtoul: no leading space, nothing
 * after the digits, no overflow; "" is 0 and "+5", "-1" are accepted); replies
 * "ERR invalid cursor" and returns false when it is not one. */
bool scan_parse_cursor(client *c, size_t i, uint64_t *cursor);
/* Parses [MATCH pattern] [COUNT count] from argv[first..], and [TYPE type] when
 * with_type (SCAN; Redis 7.0 has no NOVALUES: a syntax error like any unknown
 * option). Returns false after replying the error. */
bool scan_parse_opts(client *c, size_t first, bool with_type, scan_opts *o);
/* True when s[0..len) passes the MATCH filter of o. */
bool scan_match(const scan_opts *o, const char *s, size_t len);
/* The start of HSCAN, SSCAN and ZSCAN key cursor [options], in Redis's order: parses
 * the cursor (argv[2]), looks up the key (argv[1]) as `type`, answers a missing key
 * with the empty scan before looking at the options, then parses them (argv[3..]).
 * Returns the key's entry, or NULL when the command has been answered. */
kv_entry *scan_key_begin(client *c, uint8_t type, uint64_t *cursor, scan_opts *o);
/* Starts the reply: a 2-element array and the next cursor as a bulk string; the
 * caller then appends the array of items. */
void scan_reply_cursor(client *c, uint64_t cursor);

#endif
