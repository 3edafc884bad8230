/* parse.h - strict number parsers (base layer, shm/base/parse.c), used by src/ for
 * command arguments and by shm/ for numbers stored as strings.
 * They follow Redis's string2ll / string2d / string2ld rules: no leading '+' or spaces
 * for integers, the full range checked. Each returns 0 and sets *out on success, -1
 * otherwise. */
#ifndef KVNS_PARSE_H
#define KVNS_PARSE_H

#include <stdbool.h>
#include <stddef.h>

int parse_ll(const char *p, size_t n, long long *out);
int parse_double(const char *p, size_t n, double *out);       /* accepts inf/-inf/+inf, rejects nan */
int parse_long_double(const char *p, size_t n, long double *out);

/* True for the bytes C's isspace() accepts in the "C" locale: the parsers do not
 * depend on the process locale. */
static inline bool parse_is_c_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

#endif
