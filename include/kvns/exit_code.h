/* exit_code.h - the exit codes the supervisor understands, shared by shm/ (which must
 * be able to stop a process that finds the arena broken) and src/. */
#ifndef KVNS_EXIT_CODE_H
#define KVNS_EXIT_CODE_H

enum exit_code {
    EXIT_OK = 0,
    EXIT_FAILURE_GENERIC = 1,
    EXIT_CONFIG = 2,           /* bad configuration: fatal, never respawned */
    EXIT_ARENA_BROKEN = 3,     /* a lock is unrecoverable: stop everything */
};

#endif
