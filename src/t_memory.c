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
    kv_key k;
    key_init(&k, c->argv[2].ptr, c->argv[2].len);
    kv_txn *t = &c->w->txn;
    if (!cmd_txn_begin(c, &k.shard, 1))
        return;
    kv_entry *e = store_find(t, &k);
    size_t bytes = e ? store_entry_bytes(e) : 0;
    cmd_commit(c);
    if (e)
        reply_int(&c->out, (long long)bytes);
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

/* MEMORY subcommand dispatch. */
static void cmd_memory(client *c)
{
    const resp_arg *sub = &c->argv[1];
    if (arg_is(sub, "usage") && c->argc >= 3) {
        memory_usage(c);
    } else if (arg_is(sub, "stats") && c->argc == 2) {
        memory_stats(c);
    } else if (arg_is(sub, "doctor") && c->argc == 2) {
        static const char doctor[] = "Hi Sam, I can't find any memory issue in your instance. "
                                     "I can only account for what occurs on this base.";
        reply_verbatim(&c->out, doctor, sizeof doctor - 1);
    } else if (arg_is(sub, "malloc-stats") && c->argc == 2) {
        static const char nostats[] = "Stats not supported for the current allocator";
        reply_verbatim(&c->out, nostats, sizeof nostats - 1);
    } else if (arg_is(sub, "purge") && c->argc == 2) {
        reply_ok(&c->out);
    } else if (arg_is(sub, "help") && c->argc == 2) {
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
    } else {
        char msg[200];
        snprintf(msg, sizeof msg, "ERR unknown subcommand or wrong number of arguments for '%.*s'. Try MEMORY HELP.",
                 (int)(sub->len > 64 ? 64 : sub->len), sub->ptr);
        reply_error(&c->out, msg);
    }
}

const command memory_commands[] = {
    { "memory", -2, CMD_READONLY | CMD_NOLOCK, NULL, cmd_memory, "server",
      "A container for memory diagnostics commands.", "4.0.0", "Depends on subcommand." },
    { 0 }
};
