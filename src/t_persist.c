/* t_persist.c - SAVE, BGSAVE and LASTSAVE. Snapshots are written by the housekeeper
 * (shm/persist.c, shm/snapshot_write.c): these commands ask it for one and read the
 * state it publishes. */
#include "kvns/command.h"
#include "kvns/persist.h"

#include <stdio.h>
#include <string.h>

#define ERR_SAVE_RUNNING "ERR Background save already in progress"
#define ERR_NO_PERSIST   "ERR persistence is disabled: KVNS_PERSIST_PATH is not set"
#define ERR_MISCONF      "MISCONF Redis is configured to save RDB snapshots, but it's currently " \
    "unable to persist to disk. Commands that may modify the data set are disabled, because " \
    "this instance is configured to report errors during writes if RDB snapshotting fails " \
    "(stop-writes-on-bgsave-error option). Please check the Redis logs for details about " \
    "the RDB error."

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
    { "save", 1, PERSIST_FLAGS, NULL, cmd_save, "server",
      "Synchronously saves the database(s) to disk.", "1.0.0",
      "O(N) where N is the total number of keys in all databases", NULL },
    { "bgsave", -1, PERSIST_FLAGS, NULL, cmd_bgsave, "server",
      "Asynchronously saves the database(s) to disk.", "1.0.0", "O(1)", NULL },
    { "lastsave", 1, CMD_NOLOCK | CMD_FAST | CMD_LOADING | CMD_STALE, NULL, cmd_lastsave, "server",
      "Returns the Unix timestamp of the last successful save to disk.", "1.0.0", "O(1)", NULL },
    { 0 }
};
