/* harness_cmd.h - the in-process command fixture of the unit tests that run whole
 * commands through the dispatcher (unit_keyspace, unit_probes): one arena, one lane,
 * one client, no sockets. */
#ifndef KVNS_TESTS_HARNESS_CMD_H
#define KVNS_TESTS_HARNESS_CMD_H

#include <stddef.h>

/* Creates the arena (64 MiB limit, 4 shards, 2 lanes, 4 MiB undo), binds the client to
 * lane 0 and builds the command table. Returns 0, or -1 when the arena cannot be made
 * (a cmocka group setup returns it as is). */
int cmd_fixture_init(void);

/* Runs one command given as n words through command_exec and returns its raw RESP
 * reply (RESP2), valid until the next call. */
const char *cmd_fixture_runv(const char *const *words, size_t n);

/* cmd_fixture_runv for NULL-terminated words. */
const char *cmd_fixture_run(const char *first, ...) __attribute__((sentinel));

#endif
