/* log.h - structured (logfmt) logging to stderr.
 *
 * Lines look like `ts=2026-11-24T10:00:00.123Z level=info pid=123 msg="worker started" slot=1`.
 * With JOURNAL_STREAM set in the environment, each line instead starts with the sd-daemon
 * priority prefix (`<6>` for info) and no ts= field, so journald records the level.
 * Safe to call from any thread and from several processes (one write(2) per line). */
#ifndef KVNS_LOG_H
#define KVNS_LOG_H

enum log_level { LOG_LVL_ERROR = 0, LOG_LVL_WARN = 1, LOG_LVL_INFO = 2, LOG_LVL_DEBUG = 3 };

void log_init(enum log_level level);          /* also reads JOURNAL_STREAM */
enum log_level log_get_level(void);
/* role is printed as `role=` (supervisor, worker, housekeeper, ...). */
void log_set_role(const char *role);
/* msg is quoted as needed; fmt produces the trailing key=value pairs (may be NULL).
 * Values with spaces must be quoted by the caller. Pass NULL as fmt when there are no
 * fields: log_info("started", NULL). */
void log_write(enum log_level level, const char *msg, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define log_error(msg, ...) log_write(LOG_LVL_ERROR, msg, __VA_ARGS__)
#define log_warn(msg, ...)  log_write(LOG_LVL_WARN, msg, __VA_ARGS__)
#define log_info(msg, ...)  log_write(LOG_LVL_INFO, msg, __VA_ARGS__)
#define log_debug(msg, ...) log_write(LOG_LVL_DEBUG, msg, __VA_ARGS__)

#endif
