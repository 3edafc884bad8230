/* metrics.h - per-command latency histograms and the Prometheus endpoint.
 *
 * Each serving thread records into a table of its own lane's area in the arena
 * (single writer, no shared lock on the hot path); the housekeeper sums every lane's
 * table when /metrics is scraped. A series is (command, namespace); keyless commands
 * use namespace "" (an empty label). */
#ifndef KVNS_METRICS_H
#define KVNS_METRICS_H

#include "kvns/arena.h"
#include "kvns/config.h"

/* Records one command execution: cmd_index is the command's position in the merged
 * command table (command_at), nsid its first key's namespace or METRICS_NO_NS. */
#define METRICS_NO_NS 0xffffu
void metrics_observe(uint32_t lane_id, uint32_t cmd_index, uint32_t nsid, uint64_t elapsed_ns);

/* Serves GET /metrics and GET /health on listen_fd until *stop is set (housekeeper). */
void metrics_serve(int listen_fd, const kvns_config *cfg, volatile int *stop);

#endif
