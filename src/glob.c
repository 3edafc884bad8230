/* glob.c - Redis-compatible glob matching (KEYS, SCAN MATCH, CONFIG GET).
 *
 * Semantics follow Redis's stringmatchlen() (util.c) token by token:
 *   *        any sequence of bytes, including none
 *   ?        exactly one byte
 *   [abc]    one byte from the set; [a-z] ranges (reversed bounds are swapped);
 *            [^abc] and [!abc] negate; \x inside a class is the literal x;
 *            a class with no closing ] extends to the end of the pattern
 *   \x       the literal byte x (a trailing lone \ is a literal backslash)
 *
 * Where this differs from Redis, deliberately:
 *   - `*` is handled with the classic iterative algorithm that remembers only the
 *     most recent star. Redis recurses once per star and can take exponential time on
 *     patterns such as "a*a*a*a*a*a*b"; this runs in O(plen * slen) at worst. Keeping a
 *     single backtrack point is correct because a later star can absorb anything an
 *     earlier star could have.
 *   - `[!...]` negates like `[^...]` (Redis only knows `^`).
 *   - A pattern made only of stars matches the empty string (Redis's stringmatchlen
 *     returns 0 there and special-cases a lone "*" in KEYS/SCAN instead).
 *   - Range bounds compare as unsigned bytes. Redis compares plain `char`, which is
 *     signed on x86 and unsigned on ARM, so its result for ranges over bytes >= 0x80
 *     depends on the platform.
 * Kept from Redis on purpose: with nocase, an escaped byte inside a class (`[\A]`) is
 * still compared case-sensitively.
 */
#include "kvns/glob.h"

#include <stdint.h>

/* Returns the ASCII lower-case form of c. Locale-independent on purpose: Redis runs in
 * the C locale, where tolower() only folds A-Z. */
static unsigned char ascii_lower(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return (unsigned char)(c - 'A' + 'a');
    return c;
}

/* Returns whether two bytes are equal, folding ASCII case when nocase is set. */
static bool bytes_equal(unsigned char a, unsigned char b, bool nocase)
{
    if (nocase)
        return ascii_lower(a) == ascii_lower(b);
    return a == b;
}

/* Matches the bracket class that starts at pattern[open] ('[') against byte c.
 * Returns the index just past the class (past its ']', or plen for an unclosed class)
 * and stores in *matched whether c belongs to it. The class length never depends on c,
 * which is what lets glob_match retry the same class against other bytes. */
static size_t match_class(const unsigned char *pattern, size_t plen, size_t open,
                          unsigned char c, bool nocase, bool *matched)
{
    size_t i = open + 1;
    bool negate = false;
    bool found = false;

    if (i < plen && (pattern[i] == '^' || pattern[i] == '!')) {
        negate = true;
        i++;
    }
    for (;;) {
        if (i < plen && pattern[i] == '\\' && plen - i >= 2) {
            /* Escaped byte: literal, compared case-sensitively as in Redis. */
            i++;
            if (pattern[i] == c)
                found = true;
        } else if (i < plen && pattern[i] == ']') {
            break;
        } else if (i >= plen) {
            /* Unclosed class: it ends with the pattern. Step back onto the last byte
             * so the common "past the class" step below lands exactly on plen. */
            i--;
            break;
        } else if (plen - i >= 3 && pattern[i + 1] == '-') {
            unsigned char start = pattern[i];
            unsigned char end = pattern[i + 2];
            unsigned char byte = c;
            if (start > end) {
                unsigned char swap = start;
                start = end;
                end = swap;
            }
            if (nocase) {
                start = ascii_lower(start);
                end = ascii_lower(end);
                byte = ascii_lower(byte);
            }
            if (byte >= start && byte <= end)
                found = true;
            i += 2;
        } else if (bytes_equal(pattern[i], c, nocase)) {
            found = true;
        }
        i++;
    }
    *matched = negate ? !found : found;
    return i + 1;
}

/* Matches the single-byte token at pattern[pos] (anything but '*') against byte c.
 * Returns the index just past the token and stores in *matched whether c fits it. */
static size_t match_one_token(const unsigned char *pattern, size_t plen, size_t pos,
                              unsigned char c, bool nocase, bool *matched)
{
    switch (pattern[pos]) {
    case '?':
        *matched = true;
        return pos + 1;
    case '[':
        return match_class(pattern, plen, pos, c, nocase, matched);
    case '\\':
        if (plen - pos >= 2) {
            *matched = bytes_equal(pattern[pos + 1], c, nocase);
            return pos + 2;
        }
        *matched = bytes_equal('\\', c, nocase);
        return pos + 1;
    default:
        *matched = bytes_equal(pattern[pos], c, nocase);
        return pos + 1;
    }
}

/* Returns whether s[0..slen) matches p[0..plen); see the top of the file. */
bool glob_match(const char *p, size_t plen, const char *s, size_t slen, bool nocase)
{
    const unsigned char *pattern = (const unsigned char *)p;
    const unsigned char *string = (const unsigned char *)s;
    size_t pi = 0, si = 0;
    bool have_star = false;
    size_t star_resume_pi = 0; /* pattern index just after the latest run of stars */
    size_t star_resume_si = 0; /* string index the latest star is currently absorbed up to */

    while (si < slen) {
        if (pi < plen && pattern[pi] == '*') {
            while (pi < plen && pattern[pi] == '*')
                pi++;
            if (pi == plen)
                return true; /* trailing star swallows the rest */
            have_star = true;
            star_resume_pi = pi;
            star_resume_si = si;
            continue;
        }
        if (pi < plen) {
            bool matched = false;
            size_t next = match_one_token(pattern, plen, pi, string[si], nocase, &matched);
            if (matched) {
                pi = next;
                si++;
                continue;
            }
        }
        if (!have_star)
            return false;
        /* Let the latest star absorb one more byte and retry what follows it. */
        star_resume_si++;
        si = star_resume_si;
        pi = star_resume_pi;
    }
    while (pi < plen && pattern[pi] == '*')
        pi++;
    return pi == plen;
}

/* Returns how many leading bytes of the pattern are plain literals (before the first
 * '*', '?', '[' or '\'). Callers use it to skip keys that cannot match, e.g. to scan
 * only one namespace when the pattern is "ns/" plus a star. With nocase the prefix must be compared ignoring case. */
size_t glob_literal_prefix(const char *p, size_t plen)
{
    size_t n = 0;
    while (n < plen && p[n] != '*' && p[n] != '?' && p[n] != '[' && p[n] != '\\')
        n++;
    return n;
}
