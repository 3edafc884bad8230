/* difffuzz_main.c - the differential fuzzer's command line (see difffuzz.h).
 *
 *   difffuzz [--seed N] [--seeds N] [--commands N] [--seconds N] [--round N]
 *            [--check-every N] [--minimise-seconds N] [--keep-going]
 *            [--kvns-port P --redis-port P]
 *
 * Without ports it starts kvns ($KVNS_BIN, else build/kvns; DEBUG enabled) and
 * redis-server itself. --seeds N runs seeds seed, seed+1, ... seed+N-1, each for
 * --commands commands, all within --seconds; --keep-going goes on with the next seed
 * after a failure (to collect several). Exits 0 when nothing diverged, 1 on a
 * failure (the report is on stderr), 2 on a usage or start-up error. */
#include "difffuzz.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static void usage(void)
{
    fprintf(stderr, "usage: difffuzz [--seed N] [--seeds N] [--commands N] [--seconds N] [--round N]\n"
                    "                [--check-every N] [--minimise-seconds N] [--keep-going]\n"
                    "                [--kvns-port P --redis-port P]\n");
    exit(2);
}

/* The numeric value of option argv[*i] (its next argument). */
static long long option_value(int argc, char **argv, int *i)
{
    if (*i + 1 >= argc)
        usage();
    char *end;
    long long v = strtoll(argv[++*i], &end, 10);
    if (*end || v < 0)
        usage();
    return v;
}

int main(int argc, char **argv)
{
    difffuzz_opts o;
    difffuzz_default_opts(&o);
    o.minimise_ms = 60000;
    long long seeds = 1, seconds = 0;
    bool keep_going = false;
    difffuzz_servers s = { 0 };
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--seed") == 0) o.seed = (uint64_t)option_value(argc, argv, &i);
        else if (strcmp(a, "--seeds") == 0) seeds = option_value(argc, argv, &i);
        else if (strcmp(a, "--commands") == 0) o.commands = (long)option_value(argc, argv, &i);
        else if (strcmp(a, "--seconds") == 0) seconds = option_value(argc, argv, &i);
        else if (strcmp(a, "--round") == 0) o.round_len = (int)option_value(argc, argv, &i);
        else if (strcmp(a, "--check-every") == 0) o.check_every = (int)option_value(argc, argv, &i);
        else if (strcmp(a, "--minimise-seconds") == 0) o.minimise_ms = 1000 * (long)option_value(argc, argv, &i);
        else if (strcmp(a, "--keep-going") == 0) keep_going = true;
        else if (strcmp(a, "--kvns-port") == 0) s.kvns_port = (int)option_value(argc, argv, &i);
        else if (strcmp(a, "--redis-port") == 0) s.redis_port = (int)option_value(argc, argv, &i);
        else usage();
    }
    if (o.round_len <= 0 || o.check_every <= 0 || seeds <= 0 || (!s.kvns_port != !s.redis_port))
        usage();
    if (!s.kvns_port && difffuzz_start_servers(&s) != 0)
        return 2;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    long long end_ms = seconds ? t0.tv_sec * 1000LL + t0.tv_nsec / 1000000 + seconds * 1000 : 0;
    long total = 0, checks = 0, failures = 0;
    int rc = 0;
    uint64_t first = o.seed;
    for (long long k = 0; k < seeds && (rc == 0 || (rc > 0 && keep_going)); k++) {
        o.seed = first + (uint64_t)k;
        if (end_ms) {
            clock_gettime(CLOCK_MONOTONIC, &t1);
            o.max_ms = (long)(end_ms - (t1.tv_sec * 1000LL + t1.tv_nsec / 1000000));
            if (o.max_ms <= 0)
                break;
        }
        difffuzz_result res;
        rc = difffuzz_run(&s, &o, &res);
        total += res.sent;
        checks += res.checks;
        failures += rc > 0;
        fprintf(stderr, "difffuzz: seed %llu: %ld commands, %ld checks OK%s\n",
                (unsigned long long)o.seed, res.sent, res.checks,
                rc == 0 ? "" : rc > 0 ? ": FAILED" : ": could not run");
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    fprintf(stderr, "difffuzz: %ld commands in %.1f s (%.0f/s), %ld checks OK, %ld failed seeds\n",
            total, secs, secs > 0 ? (double)total / secs : 0.0, checks, failures);
    if (s.started)
        difffuzz_stop_servers(&s);
    return rc < 0 ? 2 : failures ? 1 : 0;
}
