/* harness_arena.h - the in-process arena fixture of the unit tests: one arena per
 * test process (created on first use), emptied before every test. */
#ifndef KVNS_TESTS_HARNESS_ARENA_H
#define KVNS_TESTS_HARNESS_ARENA_H

#include "kvns/txn.h"

/* Creates the arena on the first call (shards shards, 4 lanes, 16 MiB undo per lane,
 * memory_limit bytes), binds t to lane 0 and registers every collection type; every
 * call then empties all shards. Lanes 1..3 are free for forked children. */
void arena_fixture_reset(kv_txn *t, uint32_t shards, uint64_t memory_limit);

/* Runs the arena consistency checker through t and fails the test with its report. */
void arena_fixture_check(kv_txn *t);

#endif
