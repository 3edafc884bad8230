/* worker.h - the serving processes: worker event loops, housekeeper, supervisor. */
#ifndef KVNS_WORKER_H
#define KVNS_WORKER_H

#include "kvns/config.h"
#include "kvns/exit_code.h"
#include <stdbool.h>
#include <stdint.h>

/* Lane numbering: worker w's thread i uses lane w * threads + i; the housekeeper
 * uses lane workers * threads. */
uint32_t lane_of_worker(const kvns_config *cfg, uint32_t slot, uint32_t thread);
uint32_t lane_of_housekeeper(const kvns_config *cfg);

/* Runs worker `slot` (in a forked child) until SIGTERM; returns the exit code. */
int worker_main(const kvns_config *cfg, uint32_t slot, int listen_fd);
/* True once this worker process was asked to stop (SIGTERM/SIGINT): long waits in a
 * command (DEBUG SLEEP) end early so a stopping server does not wait them out. */
bool worker_is_stopping(void);
/* struct worker_ctx and struct client: kvns/command.h */
struct worker_ctx;
struct client;
/* A script of w's thread runs past busy-reply-threshold: serves the thread's other
 * clients the way Redis does meanwhile (src/worker.c): -BUSY (the text busy) to every
 * command but SCRIPT KILL, FUNCTION KILL, FUNCTION STATS and SHUTDOWN NOSAVE. Called
 * from the script's hook. */
void worker_serve_busy(struct worker_ctx *w, struct client *running, const char *busy);
/* Runs the housekeeper (in a forked child) until SIGTERM; returns the exit code. */
int housekeeper_main(const kvns_config *cfg);
/* Runs the supervisor: creates the arena and sockets, forks and watches children. */
int supervisor_main(const kvns_config *cfg);

#endif
