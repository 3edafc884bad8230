/* scripts.h - the EVAL script cache, shared by every process in the arena.
 *
 * SCRIPT LOAD or EVAL on any worker adds a script's body here; EVALSHA on any other
 * worker finds it. The cache is an append-only region of records [sha1 hex][length]
 * [body], filled under its own robust mutex (taken through arena_mutex_acquire after
 * any txn lock: nothing else is ever taken while it is held) and published by moving
 * `end` past a complete record with a release store. A writer killed at any
 * instruction leaves either the old end or the new one, never a half record: nothing
 * needs repairing when its lock is recovered.
 *
 * Readers take no lock. SCRIPT FLUSH bumps the generation first and only then
 * empties the region, so records are immutable within one generation: a reader
 * copies a body and then checks that the generation did not move (a seqlock); if it
 * did, the copy may be torn and is thrown away with everything the reader knew.
 * Scripts are not persisted (as in Redis 7). */
#ifndef KVNS_SCRIPTS_H
#define KVNS_SCRIPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SCRIPTS_AREA_BYTES (32ULL << 20)   /* bytes of records the cache can hold */
#define SCRIPT_SHA_LEN     40              /* lower-case hex SHA-1 */

/* The cache generation now (moves with every SCRIPT FLUSH). */
uint64_t scripts_generation(void);
/* How many scripts and how many record bytes the cache holds now. */
uint64_t scripts_count(void);
uint64_t scripts_bytes(void);

/* Called for each record by scripts_scan: sha (40 hex digits) and the record's
 * offset, to pass to scripts_copy later. */
typedef void scripts_visit_fn(const char *sha, uint64_t rec, size_t body_len, void *arg);

/* Visits the records from byte *from (0, or the *from a previous scan of the same
 * generation returned) to the end, and moves *from past them. Returns false, having
 * visited nothing trustworthy, when the generation is no longer gen: the caller drops
 * what it knew and scans from 0 with the new generation. */
bool scripts_scan(uint64_t gen, uint64_t *from, scripts_visit_fn *visit, void *arg);

/* Copies the body of record rec (from a scan of generation gen) into a malloc'ed,
 * NUL-terminated buffer. NULL when the generation moved meanwhile (or malloc failed). */
char *scripts_copy(uint64_t gen, uint64_t rec, size_t *len);

enum scripts_add_result {
    SCRIPTS_ADDED = 0,
    SCRIPTS_PRESENT = 1,        /* a script with this sha was already there */
    SCRIPTS_FULL = 2,           /* no room: SCRIPT FLUSH frees it */
};
/* Adds body under sha (lower-case hex of its SHA-1) unless present. */
int scripts_add(const char *sha, const char *body, size_t len);
/* Empties the cache (SCRIPT FLUSH) on every worker. */
void scripts_flush(void);

#endif
