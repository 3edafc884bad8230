/* glob.h - Redis-compatible glob matching for KEYS, SCAN MATCH and CONFIG GET. */
#ifndef KVNS_GLOB_H
#define KVNS_GLOB_H
#include <stdbool.h>
#include <stddef.h>

/* True when s[0..slen) matches pattern p[0..plen): `*`, `?`, `[abc]`, `[a-z]`,
 * `[^x]` and `[!x]`, `\` escapes the next character; case-sensitive unless nocase.
 * Runs in O(plen * slen) at worst (no exponential backtracking). */
bool glob_match(const char *p, size_t plen, const char *s, size_t slen, bool nocase);

/* True when the pattern can only match strings that start with the literal prefix
 * it returns in *prefix_len (the bytes before the first special character). */
size_t glob_literal_prefix(const char *p, size_t plen);

#endif
