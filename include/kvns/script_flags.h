/* script_flags.h - Redis's script flags: an EVAL script's `#!lua flags=...` and a
 * FUNCTION's register_function flags are the same set (src/script_lua.h runs them,
 * shm/function_store.c keeps the functions' in the registry and in snapshots). */
#ifndef KVNS_SCRIPT_FLAGS_H
#define KVNS_SCRIPT_FLAGS_H

enum script_flags {
    SCRIPT_NO_WRITES        = 1 << 0,
    SCRIPT_ALLOW_OOM        = 1 << 1,
    SCRIPT_ALLOW_STALE      = 1 << 2,
    SCRIPT_NO_CLUSTER       = 1 << 3,
    SCRIPT_ALLOW_CROSS_SLOT = 1 << 4,
    SCRIPT_EVAL_COMPAT      = 1 << 8,   /* an EVAL script without a shebang */
};
/* The flags a script or function can declare (the ones with a name). */
#define SCRIPT_FLAGS_DECLARABLE 0x1fu

#endif
