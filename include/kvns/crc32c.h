/* crc32c.h - CRC32C (Castagnoli) of the base layer (shm/base/crc32c.c): the checksum
 * of snapshot records, sections and footers. */
#ifndef KVNS_CRC32C_H
#define KVNS_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* CRC32C of p[0..n) continuing from crc (0 to start). */
uint32_t crc32c_update(uint32_t crc, const void *p, size_t n);

#endif
