/* t_persist.c - SAVE, BGSAVE, SHUTDOWN and LASTSAVE. Snapshots are written by the housekeeper
 * (shm/persist.c, shm/snapshot_write.c): these commands ask it for one and read the
 * state it publishes. */
#include "kvns/command.h"
#include "kvns/arena.h"
#include "kvns/log.h"
#include "kvns/persist.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define ERR_SAVE_RUNNING "ERR Background save already in progress"
#define ERR_NO_PERSIST   "ERR persistence is disabled: KVNS_PERSIST_PATH is not set"
const char *const ERR_MISCONF = "MISCONF Redis is configured to save RDB snapshots, but it's currently "
    "unable to persist to disk. Commands that may modify the data set are disabled, because "
    "this instance is configured to report errors during writes if RDB snapshotting fails "
    "(stop-writes-on-bgsave-error option). Please check the Redis logs for details about "
    "the RDB error.";

/* Redis 7.0's processCommand refuses write commands and PING while the last snapshot
 * failed (and stop-writes-on-bgsave-error is on); reads, SAVE and BGSAVE still run. */
bool persist_refuse_write(client *c, const command *cmd)
{
    if (!persist_writes_refused())       /* the common case: two loads, no name compare */
        return false;
    if (!(cmd->flags & CMD_WRITE) && strcmp(cmd->name, "ping") != 0)
        return false;
    reply_error(&c->out, ERR_MISCONF);
    return true;
}

/* True when persistence is on; otherwise replies the error and returns false. */
static bool require_persistence(client *c)
{
    if (persist_enabled())
        return true;
    reply_error(&c->out, ERR_NO_PERSIST);
    return false;
}

/* True while the housekeeper is writing a snapshot. */
static bool save_in_progress(void)
{
    persist_stats st;
    persist_stats_read(&st);
    return st.in_progress;
}

/* SAVE: asks the housekeeper for a snapshot and waits for it (this connection's thread
 * blocks meanwhile, as Redis's SAVE blocks the server). +OK, or an error naming why. */
static void cmd_save(client *c)
{
    if (!require_persistence(c))
        return;
    if (save_in_progress()) {
        reply_error(&c->out, ERR_SAVE_RUNNING);
        return;
    }
    char why[256] = "";
    int rc = persist_wait(persist_request(), why, sizeof why);
    if (rc > 0)
        reply_ok(&c->out);
    else if (rc == 0)
        reply_errorf(&c->out, "ERR snapshot failed: %s", why[0] ? why : "see the server log");
    else
        reply_error(&c->out, "ERR the server is shutting down");
}

/* BGSAVE [SCHEDULE]: asks the housekeeper for a snapshot and returns at once. While one
 * runs: an error, or with SCHEDULE another one is queued after it. */
static void cmd_bgsave(client *c)
{
    bool schedule = false;
    if (c->argc > 1) {
        if (c->argc == 2 && arg_is(&c->argv[1], "schedule")) {
            schedule = true;
        } else {
            reply_error(&c->out, ERR_SYNTAX);
            return;
        }
    }
    if (!require_persistence(c))
        return;
    if (save_in_progress()) {
        if (!schedule) {
            reply_error(&c->out, ERR_SAVE_RUNNING);
            return;
        }
        persist_request();
        reply_simple(&c->out, "Background saving scheduled");
        return;
    }
    persist_request();
    reply_simple(&c->out, "Background saving started");
}

#define ERR_SHUTDOWN "ERR Errors trying to SHUTDOWN. Check logs."

/* Writes the snapshot SHUTDOWN takes before stopping (Redis refuses to stop when it
 * fails). Returns true when it was written; else logs why and returns false. */
static bool shutdown_save(void)
{
    if (!persist_enabled()) {
        log_warn("SHUTDOWN SAVE: no snapshot can be written, persistence is disabled", NULL);
        return false;
    }
    char why[256] = "";
    if (persist_wait(persist_request(), why, sizeof why) > 0)
        return true;
    log_warn("SHUTDOWN: the snapshot failed", "error=\"%s\"", why[0] ? why : "see above");
    return false;
}

/* SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT]: stops the server as SIGTERM does (the
 * supervisor stops every worker, then writes the final snapshot when persistence is
 * on), no final snapshot with NOSAVE. With a snapshot to write (persistence on, or
 * SAVE) one is written first and a failure refuses the shutdown unless FORCE, as in
 * Redis; the supervisor's final one still keeps the writes made meanwhile. NOW is
 * accepted (there are no replicas to wait for), so no shutdown is ever pending for
 * ABORT. On success nothing is replied: the connection closes with the server. */
static void cmd_shutdown(client *c)
{
    bool nosave = false, save = false, force = false, abort_pending = false;
    for (size_t i = 1; i < c->argc; i++) {
        if (arg_is(&c->argv[i], "nosave"))
            nosave = true;
        else if (arg_is(&c->argv[i], "save"))
            save = true;
        else if (arg_is(&c->argv[i], "force"))
            force = true;
        else if (arg_is(&c->argv[i], "abort"))
            abort_pending = true;
        else if (!arg_is(&c->argv[i], "now")) {
            reply_error(&c->out, ERR_SYNTAX);
            return;
        }
    }
    if ((nosave && save) || (abort_pending && c->argc > 2)) {
        reply_error(&c->out, ERR_SYNTAX);
        return;
    }
    if (abort_pending) {
        reply_error(&c->out, "ERR No shutdown in progress.");
        return;
    }
    pid_t supervisor = getppid();
    if (supervisor <= 1 || (!nosave && (save || persist_enabled()) && !shutdown_save() && !force)) {
        reply_error(&c->out, ERR_SHUTDOWN);
        return;
    }
    log_info("SHUTDOWN: stopping the server", "client_id=%llu nosave=%d", (unsigned long long)c->id, nosave);
    __atomic_store_n(&arena_hdr()->no_final_snapshot, nosave, __ATOMIC_RELEASE);
    kill(supervisor, SIGTERM);
    c->flags |= CLIENT_CLOSE_AFTER_REPLY;
}

/* LASTSAVE: unix seconds of the last successful snapshot, or of the server's start
 * before the first one. */
static void cmd_lastsave(client *c)
{
    persist_stats st;
    persist_stats_read(&st);
    int64_t ms = st.last_save_ms ? st.last_save_ms : arena_hdr()->start_time_ms;
    reply_int(&c->out, (long long)(ms / 1000));
}

#define PERSIST_FLAGS (CMD_NOLOCK | CMD_ADMIN | CMD_NOSCRIPT)

const command persist_commands[] = {
    { "save", 1, PERSIST_FLAGS | CMD_NOMULTI, NULL, cmd_save, "server",
      "Synchronously saves the database(s) to disk.", "1.0.0",
      "O(N) where N is the total number of keys in all databases", NULL },
    { "bgsave", -1, PERSIST_FLAGS, NULL, cmd_bgsave, "server",
      "Asynchronously saves the database(s) to disk.", "1.0.0", "O(1)", NULL },
    { "shutdown", -1, CMD_NOLOCK | CMD_ADMIN | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_NOMULTI, NULL,
      cmd_shutdown, "server", "Synchronously saves the database(s) to disk and shuts down the Redis server.",
      "1.0.0", "O(N) when saving, where N is the total number of keys in all databases when saving data, "
      "otherwise O(1)", NULL },
    { "lastsave", 1, CMD_NOLOCK | CMD_FAST | CMD_LOADING | CMD_STALE, NULL, cmd_lastsave, "server",
      "Returns the Unix timestamp of the last successful save to disk.", "1.0.0", "O(1)", NULL },
    { 0 }
};
