/* log.c - logfmt lines on stderr, one write(2) per line.
 *
 * Each call formats its whole line in a stack buffer of LOG_LINE_MAX bytes and hands it
 * to the kernel in one write(2). Nothing is shared between calls except the level, the
 * journal flag and the role, so no lock is needed. LOG_LINE_MAX equals PIPE_BUF on
 * Linux, so lines written to a pipe (journald's stdout stream, `2>&1 | ...`) are also
 * atomic with respect to other processes. Longer lines are cut and end in "...".
 */
#include "kvns/log.h"
#include "kvns/clock.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define LOG_LINE_MAX 4096
#define LOG_ROLE_MAX 64

static atomic_int current_level = LOG_LVL_INFO;
static atomic_bool journal_mode = false;
/* Written by log_set_role (a start-up call, before threads exist), read by log_write. */
static char role_name[LOG_ROLE_MAX];

/* A line being built: bytes [0, len) of data are used; at most capacity may be used,
 * and one more byte after that is always kept for the final newline. */
struct line_buf {
    char *data;
    size_t len;
    size_t capacity;
    bool truncated;
};

/* Returns the logfmt name of a level ("info"); unknown values read as "debug" since
 * they can only be more verbose than debug. */
static const char *level_name(enum log_level level)
{
    switch (level) {
    case LOG_LVL_ERROR: return "error";
    case LOG_LVL_WARN:  return "warn";
    case LOG_LVL_INFO:  return "info";
    default:            return "debug";
    }
}

/* Returns the sd-daemon priority (syslog severity) for a level, for the <N> prefix. */
static int journal_priority(enum log_level level)
{
    switch (level) {
    case LOG_LVL_ERROR: return 3;
    case LOG_LVL_WARN:  return 4;
    case LOG_LVL_INFO:  return 6;
    default:            return 7;
    }
}

/* Returns true when JOURNAL_STREAM names the device:inode of our stderr, i.e. stderr
 * really is connected to journald. Checking the inode, as systemd recommends, keeps
 * the <N> prefixes out of files and terminals that merely inherited the variable. */
static bool stderr_is_journal(void)
{
    const char *stream = getenv("JOURNAL_STREAM");
    if (stream == NULL || *stream == '\0')
        return false;

    char *end = NULL;
    errno = 0;
    unsigned long long dev = strtoull(stream, &end, 10);
    if (errno != 0 || end == stream || *end != ':')
        return false;
    const char *ino_text = end + 1;
    unsigned long long ino = strtoull(ino_text, &end, 10);
    if (errno != 0 || end == ino_text || *end != '\0')
        return false;

    struct stat st;
    if (fstat(STDERR_FILENO, &st) != 0)
        return false;
    return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

/* Sets the level, re-detects journald and routes shm/'s log lines (shm_log) here;
 * call once at start (and again after redirecting stderr). The children the
 * supervisor forks inherit all three. */
void log_init(enum log_level level)
{
    shm_log_set_sink(log_vwrite);
    if ((int)level < LOG_LVL_ERROR)
        level = LOG_LVL_ERROR;
    if ((int)level > LOG_LVL_DEBUG)
        level = LOG_LVL_DEBUG;
    atomic_store(&current_level, (int)level);
    atomic_store(&journal_mode, stderr_is_journal());
}

/* Returns the current level, so callers can skip building expensive debug fields. */
enum log_level log_get_level(void)
{
    return (enum log_level)atomic_load(&current_level);
}

/* Sets the role= field for the lines this process writes from now on (NULL or "" drops
 * it). The name is copied; call before starting threads. */
void log_set_role(const char *role)
{
    if (role == NULL)
        role = "";
    snprintf(role_name, sizeof role_name, "%s", role);
}

/* Appends len bytes, or as many as fit (then marks the line truncated). */
static void append_bytes(struct line_buf *line, const char *bytes, size_t len)
{
    size_t room = line->capacity - line->len;
    if (len > room) {
        len = room;
        line->truncated = true;
    }
    memcpy(line->data + line->len, bytes, len);
    line->len += len;
}

/* Appends a NUL-terminated string (possibly cut short). */
static void append_text(struct line_buf *line, const char *text)
{
    append_bytes(line, text, strlen(text));
}

/* Returns true when a logfmt value must be quoted: empty, or containing a space or
 * control byte, a double quote or an equals sign. */
static bool value_needs_quotes(const char *value)
{
    if (*value == '\0')
        return true;
    for (const unsigned char *p = (const unsigned char *)value; *p != '\0'; p++) {
        if (*p <= ' ' || *p == 0x7f || *p == '"' || *p == '=')
            return true;
    }
    return false;
}

/* Appends value as a logfmt value: bare when safe, otherwise in double quotes with
 * \" \\ \n \r \t and \u00XX escapes, so the line always stays one line. */
static void append_value(struct line_buf *line, const char *value)
{
    if (!value_needs_quotes(value)) {
        append_text(line, value);
        return;
    }
    append_bytes(line, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)value; *p != '\0'; p++) {
        char escaped[8];
        switch (*p) {
        case '"':  append_bytes(line, "\\\"", 2); break;
        case '\\': append_bytes(line, "\\\\", 2); break;
        case '\n': append_bytes(line, "\\n", 2); break;
        case '\r': append_bytes(line, "\\r", 2); break;
        case '\t': append_bytes(line, "\\t", 2); break;
        default:
            if (*p < ' ' || *p == 0x7f) {
                snprintf(escaped, sizeof escaped, "\\u%04x", (unsigned)*p);
                append_text(line, escaped);
            } else {
                append_bytes(line, (const char *)p, 1);
            }
        }
    }
    append_bytes(line, "\"", 1);
}

/* Appends "ts=YYYY-MM-DDTHH:MM:SS.mmmZ " (RFC 3339, UTC, milliseconds). */
static void append_timestamp(struct line_buf *line)
{
    int64_t now_ms = clock_wall_ms();
    time_t now_s = (time_t)(now_ms / 1000);
    struct tm utc;
    char text[64];

    gmtime_r(&now_s, &utc);
    snprintf(text, sizeof text, "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03dZ ",
             utc.tm_year + 1900, utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min,
             utc.tm_sec, (int)(now_ms % 1000));
    append_text(line, text);
}

/* Appends the caller's key=value text. Control bytes (a stray newline in a value) become
 * spaces: the caller quotes values, but the line must stay one line regardless. */
__attribute__((format(printf, 2, 0)))
static void append_fields(struct line_buf *line, const char *fmt, va_list args)
{
    size_t start = line->len;
    size_t room = line->capacity - line->len;
    /* vsnprintf may use room + 1 bytes: the extra one is the byte kept for '\n'. */
    int wanted = vsnprintf(line->data + line->len, room + 1, fmt, args);
    if (wanted < 0)
        return;
    if ((size_t)wanted > room) {
        line->len = line->capacity;
        line->truncated = true;
    } else {
        line->len += (size_t)wanted;
    }
    for (size_t i = start; i < line->len; i++) {
        unsigned char c = (unsigned char)line->data[i];
        if (c < ' ' || c == 0x7f)
            line->data[i] = ' ';
    }
}

/* Writes all of buf to stderr, retrying on EINTR and short writes. One call in practice. */
static void write_all_stderr(const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(STDERR_FILENO, buf, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return;
        }
        buf += n;
        len -= (size_t)n;
    }
}

/* Formats one line and writes it with a single write(2). Leaves errno unchanged, so
 * callers can log a failure and then still inspect or report errno. */
void log_write(enum log_level level, const char *msg, const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    log_vwrite(level, msg, fmt, args);
    va_end(args);
}

/* log_write with the fields' arguments in a va_list: the sink log_init installs for
 * shm/'s shm_log. */
void log_vwrite(enum log_level level, const char *msg, const char *fmt, va_list args)
{
    if ((int)level > atomic_load(&current_level))
        return;

    int saved_errno = errno;
    char buffer[LOG_LINE_MAX];
    struct line_buf line = {buffer, 0, sizeof buffer - 1, false};
    char number[32];

    if (atomic_load(&journal_mode)) {
        snprintf(number, sizeof number, "<%d>", journal_priority(level));
        append_text(&line, number);
    } else {
        append_timestamp(&line);
    }
    append_text(&line, "level=");
    append_text(&line, level_name(level));
    if (role_name[0] != '\0') {
        append_text(&line, " role=");
        append_value(&line, role_name);
    }
    snprintf(number, sizeof number, " pid=%ld", (long)getpid());
    append_text(&line, number);
    append_text(&line, " msg=");
    append_value(&line, msg != NULL ? msg : "");
    if (fmt != NULL && *fmt != '\0') {
        append_bytes(&line, " ", 1);
        append_fields(&line, fmt, args);
    }
    if (line.truncated && line.len >= 3)
        memcpy(line.data + line.len - 3, "...", 3);
    line.data[line.len++] = '\n';

    write_all_stderr(line.data, line.len);
    errno = saved_errno;
}
