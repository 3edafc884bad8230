/* errstats.h - INFO errorstats: error replies counted by their code (the first word,
 * "ERR", "WRONGTYPE", ...), shared by every worker in the arena.
 *
 * A fixed table of ERRSTATS_MAX codes, as Redis tracks at most 128: a code is
 * registered once under the table's robust lock (published by a release store of the
 * count, so lock-free readers see whole entries) and counted with an atomic add; codes
 * past the table's end are not tracked. CONFIG RESETSTAT zeroes the counts and keeps
 * the codes. */
#ifndef KVNS_ERRSTATS_H
#define KVNS_ERRSTATS_H

#include <stddef.h>
#include <stdint.h>

#define ERRSTATS_MAX      128
#define ERRSTATS_CODE_MAX 32     /* bytes of a code, its NUL included */

typedef struct errstat_entry {
    char     code[ERRSTATS_CODE_MAX];
    uint64_t count;              /* atomic */
} errstat_entry;

/* Counts one error reply whose code is code[0..len) (longer codes are cut). */
void errstats_count(const char *code, size_t len);
/* Calls fn for every code counted since the last reset, in first-seen order. */
void errstats_foreach(void (*fn)(const char *code, uint64_t count, void *arg), void *arg);
/* Zeroes every count (CONFIG RESETSTAT). */
void errstats_reset(void);

#endif
