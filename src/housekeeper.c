/* housekeeper.c - the background process: active expiry and incremental rehashing.
 * Metrics and persistence join it later. It has a lane of its own and takes shard
 * locks one at a time, briefly, like any worker. */
#include "kvns/worker.h"
#include "kvns/command.h"
#include "kvns/log.h"
#include "kvns/shard.h"
#include "kvns/metrics.h"
#include "kvns/persist.h"                                         /* persist */

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#define EXPIRE_BUCKETS_PER_STEP 64
#define CYCLE_MS                100
#define LAZYFREE_NODES_PER_STEP 512
#define NS_RECLAIM_CYCLES       10      /* empty namespaces are freed once a second */

static volatile sig_atomic_t housekeeper_stopping;

static void on_stop(int sig) { (void)sig; housekeeper_stopping = 1; }

/* ---- metrics: the HTTP endpoint's thread ------------------------------------------ */
/* The /metrics listening socket the supervisor opened before forking (-1: disabled).
 * Set by supervisor.c; belongs in worker.h once that header is free to change. */
int housekeeper_metrics_fd = -1;
static volatile int metrics_stopping;

/* Thread body: serves /metrics and /health until metrics_stopping is set. */
static void *metrics_thread_main(void *cfg)
{
    metrics_serve(housekeeper_metrics_fd, cfg, &metrics_stopping);
    return NULL;
}

/* Starts the metrics thread with every signal blocked (they belong to the main loop).
 * Returns true when it runs. */
static bool metrics_thread_start(pthread_t *tid, const kvns_config *cfg)
{
    if (housekeeper_metrics_fd < 0)
        return false;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int rc = pthread_create(tid, NULL, metrics_thread_main, (void *)cfg);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        log_error("cannot start the metrics thread", "err=%d", rc);
        return false;
    }
    return true;
}
/* ---- end metrics ------------------------------------------------------------------- */

/* One active-expiry pass over every shard: like Redis's activeExpireCycle, a shard is
 * visited again at once while the last step found many expired keys. Returns the
 * number of keys deleted. */
static uint64_t expire_cycle(kv_txn *t)
{
    uint64_t total = 0;
    uint32_t shards = arena_hdr()->shard_count;
    for (uint32_t s = 0; s < shards && !housekeeper_stopping; s++) {
        shard *sh = shard_at(s);
        /* deleted big objects: free them in bounded steps, one short lock hold each */
        for (int rounds = 0; rounds < 64 && __atomic_load_n(&sh->lazyfree, __ATOMIC_RELAXED); rounds++) {
            txn_begin(t);
            txn_lock(t, s);
            store_lazyfree_step(t, s, LAZYFREE_NODES_PER_STEP);
            txn_commit(t);
        }
        for (int rounds = 0; rounds < 16; rounds++) {
            if (!__atomic_load_n(&sh->expires, __ATOMIC_RELAXED) && sh->ht.rehash_idx < 0)
                break;
            txn_begin(t);
            txn_lock(t, s);
            unsigned n = store_expire_scan(t, s, EXPIRE_BUCKETS_PER_STEP);
            txn_commit(t);
            total += n;
            if (n < EXPIRE_BUCKETS_PER_STEP / 4)
                break;
        }
    }
    return total;
}

int housekeeper_main(const kvns_config *cfg)
{
    log_set_role("housekeeper");
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() == 1)
        return EXIT_FAILURE_GENERIC;
    struct sigaction sa = { .sa_handler = on_stop };
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    server.cfg = cfg;
    uint32_t ln = lane_of_housekeeper(cfg);
    lane_sweep(ln);
    kv_txn *t = calloc(1, sizeof *t);
    if (!t)
        return EXIT_FAILURE_GENERIC;
    txn_init(t, ln);
    log_info("housekeeper started", NULL);
    persist_housekeeper_start();                                      /* persist */
    pthread_t metrics_tid;
    bool metrics_running = metrics_thread_start(&metrics_tid, cfg);   /* metrics */
    for (unsigned cycle = 0; !housekeeper_stopping; cycle++) {
        expire_cycle(t);
        if (cycle % NS_RECLAIM_CYCLES == 0) {
            unsigned freed = store_ns_reclaim(t);
            if (freed)
                log_debug("empty namespaces reclaimed", "count=%u", freed);
        }
        /* persist: snapshots when requested or due; the sleep wakes early for SAVE/BGSAVE */
        persist_housekeeper_tick(t, &housekeeper_stopping);
        persist_housekeeper_sleep(CYCLE_MS);
    }
    /* persist: the supervisor stopped every worker before this SIGTERM: final snapshot,
     * unless the stop is not clean or SHUTDOWN NOSAVE asked for none */
    bool final_snapshot_ok = __atomic_load_n(&arena_hdr()->no_final_snapshot, __ATOMIC_ACQUIRE) ||
                             persist_housekeeper_final(t);
    if (metrics_running) {                                            /* metrics */
        metrics_stopping = 1;
        pthread_join(metrics_tid, NULL);
    }
    txn_destroy(t);
    free(t);
    log_info("housekeeper stopped", NULL);
    return final_snapshot_ok ? EXIT_OK : EXIT_FAILURE_GENERIC;       /* persist */
}
