/* parse.c - the strict number parsers of the base layer (see parse.h): Redis's
 * string2ll, string2d and string2ld rules, used for command arguments in src/ and for
 * numbers kept as strings in shm/. */
#include "kvns/parse.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Longest text string2ll accepts (Redis's LONG_STR_SIZE is 21, exclusive). */
#define LL_TEXT_MAX 20

/* Redis's MAX_LONG_DOUBLE_CHARS: string2ld rejects longer input. */
#define LONG_DOUBLE_TEXT_MAX (5 * 1024)

/* Aborts the process: a number too long for the stack buffer needs a heap copy, and
 * a caller cannot do anything sensible with a half-parsed argument. */
static void parse_out_of_memory(void)
{
    fputs("kvns: out of memory parsing a number\n", stderr);
    abort();
}

/* Returns 0 and sets *out when p[0..n) is exactly a decimal long long in Redis's
 * string2ll form: optional '-', no '+', no spaces, no leading zeros, no "-0", full
 * range including LLONG_MIN. Returns -1 otherwise. Used for every integer argument. */
int parse_ll(const char *p, size_t n, long long *out)
{
    size_t i = 0;
    int negative = 0;
    unsigned long long v;

    if (n == 0 || n > LL_TEXT_MAX)
        return -1;
    if (n == 1 && p[0] == '0') {
        *out = 0;
        return 0;
    }
    if (p[0] == '-') {
        negative = 1;
        if (++i == n)
            return -1;
    }
    if (p[i] < '1' || p[i] > '9')
        return -1;
    v = (unsigned long long)(p[i++] - '0');
    for (; i < n; i++) {
        unsigned digit = (unsigned)(unsigned char)p[i] - '0';
        if (digit > 9)
            return -1;
        if (v > (~0ULL - digit) / 10)
            return -1;
        v = v * 10 + digit;
    }
    if (negative) {
        if (v > (unsigned long long)LLONG_MAX + 1)
            return -1;
        *out = v == (unsigned long long)LLONG_MAX + 1 ? LLONG_MIN : -(long long)v;
    } else {
        if (v > (unsigned long long)LLONG_MAX)
            return -1;
        *out = (long long)v;
    }
    return 0;
}

/* Returns 0 and sets *out when p[0..n) is a double as Redis's string2d accepts it
 * (strtod syntax, whole input used, no leading space, "inf"/"+inf"/"-inf" in any case,
 * no NaN, no overflow to infinity, no underflow to zero). Returns -1 otherwise.
 * Plain integers of up to 15 digits skip strtod: they convert exactly. */
int parse_double(const char *p, size_t n, double *out)
{
    char stack_text[128];
    char *text = stack_text;
    char *end;
    long long whole;
    double v;
    int ok;

    if (n == 0 || parse_is_c_space(p[0]))
        return -1;
    if (n <= 15 && parse_ll(p, n, &whole) == 0) {
        *out = (double)whole;
        return 0;
    }
    if (n >= sizeof(stack_text)) {
        text = malloc(n + 1);
        if (!text)
            parse_out_of_memory();
    }
    memcpy(text, p, n);
    text[n] = '\0';
    errno = 0;
    v = strtod(text, &end);
    ok = (size_t)(end - text) == n && !isnan(v) &&
         !(errno == ERANGE && (v == HUGE_VAL || v == -HUGE_VAL || v == 0.0));
    if (text != stack_text)
        free(text);
    if (!ok)
        return -1;
    *out = v;
    return 0;
}

/* Returns 0 and sets *out when p[0..n) is a long double as Redis's string2ld accepts
 * it (INCRBYFLOAT): strtold syntax, whole input used, no leading space, no NaN, at
 * most 5119 bytes; infinity parses (the command rejects infinite results). */
int parse_long_double(const char *p, size_t n, long double *out)
{
    char text[LONG_DOUBLE_TEXT_MAX];
    char *end;
    long double v;

    if (n == 0 || n >= sizeof(text) || parse_is_c_space(p[0]))
        return -1;
    memcpy(text, p, n);
    text[n] = '\0';
    errno = 0;
    v = strtold(text, &end);
    if ((size_t)(end - text) != n || isnan(v))
        return -1;
    if (errno == ERANGE && (v == HUGE_VALL || v == -HUGE_VALL || v == 0.0L))
        return -1;
    *out = v;
    return 0;
}
