/* t_memory.c - MEMORY USAGE / STATS / DOCTOR / HELP: the arena's exact accounting. */
#include "kvns/command.h"
#include "kvns/alloc.h"
#include "kvns/evict.h"

#include <stdio.h>
#include <string.h>

/* MEMORY USAGE key [SAMPLES n]: the bytes charged to the key (entry, value and
 * collection nodes, as allocated in the arena), or nil when missing. SAMPLES is
 * accepted and ignored: the figure is exact, not sampled. */
static void memory_usage(client *c)
{
    /* options as Redis parses them: SAMPLES n, repeatable; n >= 0 */
    for (size_t i = 3; i < c->argc; i += 2) {
        long long samples;
        if (!arg_is(&c->argv[i], "samples") || i + 1 >= c->argc) {
            reply_error(&c->out, ERR_SYNTAX);
            return;
        }
        if (!arg_ll(c, i + 1, &samples))
            return;
        if (samples < 0) {
            reply_error(&c->out, ERR_SYNTAX);
            return;
        }
    }
    kv_entry *e = store_find(&c->w->txn, &c->keys[2]);
    if (e)
        reply_int(&c->out, (long long)store_entry_bytes(e));
    else
        reply_null(&c->out);
}

/* MEMORY STATS: a map of the main figures, in Redis's field names where they exist. */
static void memory_stats(client *c)
{
    arena_header *h = arena_hdr();
    uint64_t used = store_used_memory();
    uint64_t keys = store_keys();
    reply_map(&c->out, 7);
    reply_bulk_cstr(&c->out, "peak.allocated");
    reply_int(&c->out, (long long)used);
    reply_bulk_cstr(&c->out, "total.allocated");
    reply_int(&c->out, (long long)used);
    reply_bulk_cstr(&c->out, "keys.count");
    reply_int(&c->out, (long long)keys);
    reply_bulk_cstr(&c->out, "keys.bytes-per-key");
    reply_int(&c->out, keys ? (long long)(used / keys) : 0);
    reply_bulk_cstr(&c->out, "dataset.bytes");
    reply_int(&c->out, (long long)used);
    reply_bulk_cstr(&c->out, "arena.size");
    reply_int(&c->out, (long long)h->size);
    reply_bulk_cstr(&c->out, "arena.heap-free");
    reply_int(&c->out, (long long)heap_free_bytes());
}

/* MEMORY DOCTOR: nothing to report (the arena's accounting is exact). */
static void memory_doctor(client *c)
{
    static const char doctor[] = "Hi Sam, I can't find any memory issue in your instance. "
                                 "I can only account for what occurs on this base.";
    reply_verbatim(&c->out, doctor, sizeof doctor - 1);
}

/* MEMORY MALLOC-STATS: the arena allocator keeps no such report. */
static void memory_malloc_stats(client *c)
{
    static const char nostats[] = "Stats not supported for the current allocator";
    reply_verbatim(&c->out, nostats, sizeof nostats - 1);
}

/* MEMORY PURGE: nothing to purge (freed arena blocks are reused, not returned). */
static void memory_purge(client *c)
{
    reply_ok(&c->out);
}

/* MEMORY HELP: Redis's text. */
static void memory_help(client *c)
{
    static const char *const lines[] = {
        "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "DOCTOR",
        "    Return memory problems reports.",
        "MALLOC-STATS",
        "    Return internal statistics report from the memory allocator.",
        "PURGE",
        "    Attempt to purge dirty pages for reclamation by the allocator.",
        "STATS",
        "    Return information about the memory usage of the server.",
        "USAGE <key> [SAMPLES <count>]",
        "    Return memory in bytes used by <key> and its value. Nested values are",
        "    sampled up to <count> times (default: 5, 0 means sample all).",
        "HELP",
        "    Print this help.",
    };
    reply_array(&c->out, (long long)(sizeof lines / sizeof *lines));
    for (size_t i = 0; i < sizeof lines / sizeof *lines; i++)
        reply_simple(&c->out, lines[i]);
}

/* MEMORY's subcommands; USAGE's key (argv[2]) is locked by the dispatcher. */
static const command memory_subs[] = {
    { "doctor", 2, CMD_NOLOCK, NULL, memory_doctor, NULL, "Outputs a memory problems report.", "4.0.0", "O(1)", NULL },
    { "help", 2, CMD_NOLOCK | CMD_LOADING | CMD_STALE, NULL, memory_help, NULL,
      "Returns helpful text about the different subcommands.", "4.0.0", "O(1)", NULL },
    { "malloc-stats", 2, CMD_NOLOCK, NULL, memory_malloc_stats, NULL, "Returns the allocator statistics.", "4.0.0",
      "Depends on how much memory is allocated, could be slow", NULL },
    { "purge", 2, CMD_NOLOCK, NULL, memory_purge, NULL, "Asks the allocator to release memory.", "4.0.0",
      "Depends on how much memory is allocated, could be slow", NULL },
    { "stats", 2, CMD_NOLOCK, NULL, memory_stats, NULL, "Returns details about memory usage.", "4.0.0", "O(1)", NULL },
    { "usage", -3, CMD_READONLY, (const key_spec[]){ { KS_RO, KS_INDEX, 2, NULL, KS_RANGE, .range = { 0, 1, 0 } }, { 0 } },
      memory_usage, NULL, "Estimates the memory usage of a key.", "4.0.0",
      "O(N) where N is the number of samples.", NULL },
    { 0 }
};

const command memory_commands[] = {
    { "memory", -2, 0, NULL, NULL, "server", "A container for memory diagnostics commands.", "4.0.0",
      "Depends on subcommand.", memory_subs },
    { 0 }
};
