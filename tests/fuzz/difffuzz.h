/* difffuzz.h - the differential fuzzer: the same random command sequences to kvns and
 * to redis-server, reply by reply, with DEBUG CHECK on kvns along the way.
 *
 * The run is a series of rounds of opts.round_len commands; each round starts from an
 * empty store (FLUSHALL, RESET on both servers). Commands come from a grammar with one
 * row per command of kvns's table (difffuzz_grammar.c); every name COMMAND LIST
 * reports must have a row. Replies are compared exactly, or after normalising what is
 * legitimately not deterministic (unordered collections are sorted, TTLs compared
 * within a tolerance, random picks and server information by shape only). The first
 * divergence, a DEBUG CHECK that does not answer OK, or kvns going away ends the run:
 * the report gives the seed, the command's index, the round's commands up to it
 * (minimised when opts.minimise_ms > 0: commands are dropped while the failure
 * remains) and both replies. The same seed and options replay the same sequence.
 *
 * Used by tests/fuzz/difffuzz_main.c (make fuzz, by hand) and tests/it_difffuzz.c
 * (the short seeded run of make check). Links tests/harness.c for the servers and the
 * RESP client. */
#ifndef KVNS_TESTS_DIFFFUZZ_H
#define KVNS_TESTS_DIFFFUZZ_H

#include "../harness.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* The two servers compared. started: difffuzz_start_servers made them (then kvns can
 * be restarted while minimising); otherwise only the ports are used. */
typedef struct difffuzz_servers {
    kv_server *kvns, *redis;
    int kvns_port, redis_port;
    bool started;
} difffuzz_servers;

typedef struct difffuzz_opts {
    uint64_t seed;
    long     commands;       /* stop after this many commands */
    long     max_ms;         /* ... or after this much wall-clock time (0: no limit) */
    int      round_len;      /* commands between two resets of both stores */
    int      check_every;    /* DEBUG CHECK on kvns every this many commands */
    long     minimise_ms;    /* time for shrinking a failure's sequence (0: none) */
    FILE    *report;         /* the failure report and warnings */
} difffuzz_opts;

typedef struct difffuzz_result {
    long sent;               /* commands compared */
    long checks;             /* DEBUG CHECKs answered OK */
    bool failed;             /* a divergence, a failed check or kvns gone */
} difffuzz_result;

/* Fills opts with the defaults (seed 1, 10000 commands, rounds of 1000, a check every
 * 250, no time limits, reports to stderr). */
void difffuzz_default_opts(difffuzz_opts *opts);

/* Starts kvns (with KVNS_ENABLE_DEBUG_COMMAND=yes) and redis-server through the
 * harness. Returns 0, or -1 after printing why. */
int difffuzz_start_servers(difffuzz_servers *s);
/* Stops what difffuzz_start_servers started. */
void difffuzz_stop_servers(difffuzz_servers *s);

/* Runs the fuzzer. Returns 0 when every reply matched and every check passed, 1 on a
 * failure (reported to opts->report), -1 when it could not run (no connection, no
 * grammar row for a command of kvns's table). */
int difffuzz_run(difffuzz_servers *s, const difffuzz_opts *opts, difffuzz_result *res);

/* ---- between difffuzz.c and difffuzz_grammar.c ----------------------------------------- */

/* How the two replies of a command are compared. */
enum df_compare {
    DF_EXACT,       /* byte for byte, types included */
    DF_SORTED,      /* an unordered collection: elements sorted first */
    DF_PAIRS,       /* an unordered map (HGETALL): field/value pairs sorted first */
    DF_TTL,         /* an integer TTL or deadline: equal when negative, else close */
    DF_SHAPE,       /* random picks: the same type and element count */
    DF_TYPE,        /* server information, cursors: the same reply type */
};

typedef struct df_row {
    const char *name;        /* as COMMAND LIST spells it: "get", "client|getname" */
    int weight;              /* relative frequency; 0: never generated (see why) */
    enum df_compare cmp;
    const char *spec;        /* argument shapes (difffuzz_grammar.c) */
    const char *why;         /* for weight 0 */
} df_row;

typedef struct df_cmd {
    int     argc;
    char  **argv;
    size_t *lens;
    const df_row *row;
} df_cmd;

typedef struct df_gen df_gen;

/* The grammar row of a command name, or NULL. */
const df_row *df_find_row(const char *name);
/* The generator of seed's sequence. */
df_gen *df_gen_new(uint64_t seed);
void df_gen_free(df_gen *g);
size_t df_row_count(void);
const df_row *df_row_at(size_t i);
/* Fills c with the next random command (c is reset first). */
void df_generate(df_gen *g, df_cmd *c);
void df_cmd_reset(df_cmd *c);
void df_cmd_push(df_cmd *c, const void *p, size_t len);
void df_cmd_copy(df_cmd *dst, const df_cmd *src);

#endif
