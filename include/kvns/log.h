/* log.h - structured (logfmt) logging to stderr.
 *
 * Lines look like `ts=2026-11-24T10:00:00.123Z level=info pid=123 msg="worker started" slot=1`.
 * With JOURNAL_STREAM set in the environment, each line instead starts with the sd-daemon
 * priority prefix (`<6>` for info) and no ts= field, so journald records the level.
 * Safe to call from any thread and from several processes (one write(2) per line).
 *
 * Two halves: shm/ logs through shm_log (shm/shm_log.c), a hook that writes a plain
 * logfmt line to stderr until src/'s log_init installs log_vwrite as its sink; src/
 * calls log_write (src/log.c) directly. shm/ never calls log_write, so it links
 * without src/. */
#ifndef KVNS_LOG_H
#define KVNS_LOG_H

#include <stdarg.h>

enum log_level { LOG_LVL_ERROR = 0, LOG_LVL_WARN = 1, LOG_LVL_INFO = 2, LOG_LVL_DEBUG = 3 };

/* ---- shm/'s hook ----------------------------------------------------------------------- */

/* Receives every shm_log line: msg, then fmt's key=value pairs built from args. */
typedef void (*log_sink)(enum log_level level, const char *msg, const char *fmt, va_list args);
/* Routes shm_log to sink (NULL: back to the built-in stderr writer). Call at start,
 * before threads exist. */
void shm_log_set_sink(log_sink sink);
/* A log line from shm/ (arguments as log_write's). */
void shm_log(enum log_level level, const char *msg, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- src/'s logger (src/log.c) -------------------------------------------------------- */

void log_init(enum log_level level);          /* also reads JOURNAL_STREAM */
enum log_level log_get_level(void);
/* role is printed as `role=` (supervisor, worker, housekeeper, ...). */
void log_set_role(const char *role);
/* msg is quoted as needed; fmt produces the trailing key=value pairs (may be NULL).
 * Values with spaces must be quoted by the caller. Pass NULL as fmt when there are no
 * fields: log_info("started", NULL). */
void log_write(enum log_level level, const char *msg, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* log_write taking the fields' arguments as a va_list (shm_log's sink). */
void log_vwrite(enum log_level level, const char *msg, const char *fmt, va_list args)
    __attribute__((format(printf, 3, 0)));

#define log_error(msg, ...) log_write(LOG_LVL_ERROR, msg, __VA_ARGS__)
#define log_warn(msg, ...)  log_write(LOG_LVL_WARN, msg, __VA_ARGS__)
#define log_info(msg, ...)  log_write(LOG_LVL_INFO, msg, __VA_ARGS__)
#define log_debug(msg, ...) log_write(LOG_LVL_DEBUG, msg, __VA_ARGS__)

#endif
