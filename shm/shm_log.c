/* shm_log.c - shm/'s log hook (see log.h): lines go to the sink src/ installs, or to
 * stderr as plain logfmt when none is installed (unit tests of shm/ alone). */
#include "kvns/log.h"

#include <errno.h>
#include <stdio.h>
#include <unistd.h>

/* Writes "level=... msg="..." fields" to stderr in one write(2); long lines are cut.
 * The fallback sink: no timestamp, role or journald prefix (those are src/'s). */
__attribute__((format(printf, 3, 0)))
static void shm_log_stderr(enum log_level level, const char *msg, const char *fmt, va_list args)
{
    static const char *const names[] = { "error", "warn", "info", "debug" };
    char line[1024];
    size_t room = sizeof line - 1;
    int n = snprintf(line, room, "level=%s msg=\"%s\"", names[(unsigned)level <= LOG_LVL_DEBUG ? level : LOG_LVL_DEBUG],
                     msg ? msg : "");
    size_t len = n < 0 ? 0 : (size_t)n < room ? (size_t)n : room - 1;
    if (fmt && *fmt && len + 1 < room) {
        line[len++] = ' ';
        n = vsnprintf(line + len, room - len, fmt, args);
        len += n < 0 ? 0 : (size_t)n < room - len ? (size_t)n : room - len - 1;
    }
    line[len++] = '\n';
    int saved_errno = errno;
    while (write(STDERR_FILENO, line, len) < 0 && errno == EINTR)
        continue;
    errno = saved_errno;
}

static log_sink shm_log_sink = shm_log_stderr;

/* Installs sink (NULL: the stderr fallback); src/'s log_init calls it at start. */
void shm_log_set_sink(log_sink sink)
{
    shm_log_sink = sink ? sink : shm_log_stderr;
}

/* Hands one line to the installed sink: the only way shm/ logs. */
void shm_log(enum log_level level, const char *msg, const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    shm_log_sink(level, msg, fmt, args);
    va_end(args);
}
