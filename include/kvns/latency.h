/* latency.h - src/'s half of the slow log and the latency monitor (src/latency.c):
 * the hook the dispatcher calls after every command, and the text of LATENCY DOCTOR
 * and LATENCY GRAPH. The arena rings they use are slowlog.h's (shm/). */
#ifndef KVNS_LATENCY_H
#define KVNS_LATENCY_H

#include "kvns/slowlog.h"

struct client;
struct command;

/* Records a slow command (call only when slowlog_is_slow): a slow-log entry of its
 * arguments (secrets redacted as Redis 7 redacts them), address and name, and a
 * latency sample. Commands refused for their arity are not recorded (Redis rejects
 * them before running them). */
void slowlog_record_command(struct client *c, const struct command *cmd, uint64_t elapsed_ns);

/* After every command (cheap unless the command was slow). */
static inline void slowlog_observe(struct client *c, const struct command *cmd, uint64_t elapsed_ns)
{
    if (slowlog_is_slow(elapsed_ns))
        slowlog_record_command(c, cmd, elapsed_ns);
}

/* LATENCY DOCTOR's report (Redis's wording where it has one). Free the result. */
char *latency_doctor_text(size_t *len);
/* LATENCY GRAPH's text (Redis's sparkline of the event's samples), or NULL when the
 * event has no samples. Free the result. */
char *latency_graph_text(enum latency_event e, size_t *len);

#endif
