/* function_store.h - the FUNCTION library registry, shared by every process in the arena.
 *
 * The registry is one immutable encoded blob (every library: name, engine, code and
 * its functions with flags and description) in a RUN_META heap run, plus a generation
 * number bumped by every change. A thread that runs functions keeps a decoded copy and
 * the generation it was read at; when arena_header.fn_gen differs it reads the blob
 * again (fnstore_read) and rebuilds its Lua libraries. A library is decoded here
 * without Lua: the metadata was taken from the code when it was loaded.
 *
 * Crash safety. The registry has a lock id of its own, lock_id_functions(), between
 * the shards and the heap, taken in a transaction like a shard (so a busy registry
 * parks the command, and EXEC or a script reaching it keeps the usual lock order). A
 * change allocates the new blob (heap lock, undo-logged), fills it, publishes it by
 * logged stores of fn_blob / fn_blob_len / fn_gen under the registry's lock id and
 * frees the old blob, all in the one transaction whose commit is the commit point: a
 * writer killed at any instruction leaves the last committed registry, recovered by
 * whoever takes the lock next. Readers copy the blob holding fn_lock (without a
 * transaction: they write nothing), so a blob is never freed under them. */
#ifndef KVNS_FUNCTION_STORE_H
#define KVNS_FUNCTION_STORE_H

#include "kvns/arena.h"
#include "kvns/script_flags.h"
#include "kvns/txn.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One registered function of a library. */
typedef struct fn_func {
    char    *name;             /* NUL-terminated, [A-Za-z0-9_]+ */
    char    *desc;             /* NULL: no description */
    size_t   desc_len;
    uint32_t flags;            /* enum script_flags (declarable ones) */
} fn_func;

/* One library: what FUNCTION LOAD was given and what its code registered. */
typedef struct fn_lib {
    char    *name;             /* NUL-terminated, [A-Za-z0-9_]+ */
    char    *engine;           /* "LUA" */
    char    *code;             /* the whole FUNCTION LOAD argument, shebang included */
    size_t   code_len;
    fn_func *funcs;
    size_t   nfuncs;
} fn_lib;

/* Every library, in load order. */
typedef struct fn_set {
    fn_lib  *libs;
    size_t   nlibs;
    uint64_t gen;              /* the registry generation it was read at */
} fn_set;

/* Frees everything s owns and empties it. */
void fnset_clear(fn_set *s);
/* Frees one library's contents. */
void fnlib_clear(fn_lib *l);
/* Moves lib into s (appended; lib is emptied). */
void fnset_add(fn_set *s, fn_lib *lib);
/* Removes and frees library i of s (later ones move up). */
void fnset_remove(fn_set *s, size_t i);
/* The index of the library called name (case-sensitive, as Redis), or -1. */
long fnset_find_lib(const fn_set *s, const char *name);
/* The library and function named fname (case-insensitive, as Redis), or false. */
bool fnset_find_func(const fn_set *s, const char *fname, size_t len, size_t *lib, size_t *fn);
/* Total functions of every library. */
size_t fnset_nfuncs(const fn_set *s);

/* Encodes s into a malloc'ed buffer (the registry blob and the snapshot record).
 * Returns its length; *out NULL only when malloc failed (then 0). */
size_t fnset_encode(const fn_set *s, char **out);
/* Decodes and validates a blob into out (empty on entry). Returns 0, or -1 with a
 * description in err (out is left empty). */
int fnset_decode(const char *p, size_t len, fn_set *out, char *err, size_t errlen);

/* The registry generation now (changes with every published change). */
static inline uint64_t fnstore_generation(void)
{
    return __atomic_load_n(&arena_hdr()->fn_gen, __ATOMIC_ACQUIRE);
}
/* Copies and decodes the registry into out (empty on entry), out->gen its generation.
 * Returns 0, or -1 when memory ran out. Takes fn_lock briefly: only with no
 * transaction open (a thread holding a shard or the heap would wait on a writer that
 * waits for it). */
int fnstore_read(fn_set *out);
/* out->gen of a read inside a transaction holding the registry: it may hold changes
 * that are not committed (and may roll back), so nobody may cache it by that number. */
#define FNSTORE_GEN_UNCOMMITTED UINT64_MAX
/* fnstore_read for a transaction that holds lock_id_functions() (EXEC, a nested
 * command): decodes what the transaction sees; out->gen is FNSTORE_GEN_UNCOMMITTED. */
int fnstore_read_locked(fn_set *out);

/* How a change ended. */
enum fnstore_result {
    FNSTORE_OK = 0,
    FNSTORE_REFUSED = 1,       /* the edit callback said no (its error stands) */
    FNSTORE_FAILED = 2,        /* t->failed: arena full or undo log full (rolled back) */
};
/* Edits the current set in place; returns false to leave the registry unchanged.
 * Runs with the registry lock held: plain C only, no Lua, no other lock. */
typedef bool fnstore_edit_fn(fn_set *cur, void *arg);

/* Changes the registry in t's open transaction, which holds lock_id_functions():
 * reads the current set, lets edit change it, and publishes the result. The caller
 * commits t (the commit point). */
int fnstore_update_locked(kv_txn *t, fnstore_edit_fn *edit, void *arg);
/* Replaces the whole registry by s in t (taking the registry lock; the snapshot
 * loader). The caller commits t. */
int fnstore_install(kv_txn *t, const fn_set *s);

#endif
