/* sha1.h - SHA-1 (FIPS 180-4), for script names: EVAL's, SCRIPT LOAD's and
 * redis.sha1hex's lower-case hex digests. */
#ifndef KVNS_SHA1_H
#define KVNS_SHA1_H

#include <stddef.h>

/* Writes the 40 lower-case hex digits of SHA-1(p[0..n)) and a NUL to hex[41]. */
void sha1_hex(const void *p, size_t n, char hex[41]);

#endif
