/* unit_log.c - log_write line format, quoting, level filtering, truncation, the
 * journald (JOURNAL_STREAM) prefix and shm/'s shm_log hook. stderr is pointed at a temporary file per test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kvns/log.h"

#define CAPTURE_MAX (1 << 20)

/* The real stderr while a test runs, so failure details stay visible (cmocka itself
 * prints to stderr, which the tests redirect). */
static int real_stderr = -1;

struct capture {
    int saved_stderr; /* the real stderr, restored after each test */
    int file_fd;      /* the temporary file standing in for stderr */
    char text[CAPTURE_MAX];
};

/* Points stderr at a fresh temporary file; returns 0 (cmocka setup). */
static int capture_setup(void **state)
{
    struct capture *cap = calloc(1, sizeof *cap);
    if (cap == NULL)
        return -1;
    char path[] = "/tmp/kvns-unit-log-XXXXXX";
    cap->file_fd = mkstemp(path);
    if (cap->file_fd < 0)
        return -1;
    unlink(path);
    fflush(stderr);
    cap->saved_stderr = dup(STDERR_FILENO);
    if (cap->saved_stderr < 0 || dup2(cap->file_fd, STDERR_FILENO) < 0)
        return -1;
    real_stderr = cap->saved_stderr;
    unsetenv("JOURNAL_STREAM");
    log_set_role(NULL);
    log_init(LOG_LVL_INFO);
    *state = cap;
    return 0;
}

/* Restores stderr and frees the capture; returns 0 (cmocka teardown). */
static int capture_teardown(void **state)
{
    struct capture *cap = *state;
    dup2(cap->saved_stderr, STDERR_FILENO);
    close(cap->saved_stderr);
    real_stderr = -1;
    close(cap->file_fd);
    free(cap);
    unsetenv("JOURNAL_STREAM");
    log_set_role(NULL);
    log_init(LOG_LVL_INFO);
    return 0;
}

/* Returns everything written to the captured stderr so far, NUL-terminated. */
static const char *captured(struct capture *cap)
{
    ssize_t n = pread(cap->file_fd, cap->text, sizeof cap->text - 1, 0);
    assert_true(n >= 0);
    cap->text[n] = '\0';
    return cap->text;
}

/* Fails unless text matches the POSIX extended regular expression. */
static void assert_matches(const char *text, const char *regex)
{
    regex_t compiled;
    assert_int_equal(regcomp(&compiled, regex, REG_EXTENDED | REG_NOSUB), 0);
    int rc = regexec(&compiled, text, 0, NULL, 0);
    regfree(&compiled);
    if (rc != 0) {
        if (real_stderr >= 0)
            dprintf(real_stderr, "'%s' does not match /%s/\n", text, regex);
        fail_msg("'%s' does not match /%s/", text, regex);
    }
}

/* Sets JOURNAL_STREAM to the dev:ino of the captured stderr, as systemd would. */
static void pretend_journal(struct capture *cap)
{
    struct stat st;
    char value[64];
    assert_int_equal(fstat(cap->file_fd, &st), 0);
    snprintf(value, sizeof value, "%llu:%llu", (unsigned long long)st.st_dev,
             (unsigned long long)st.st_ino);
    setenv("JOURNAL_STREAM", value, 1);
}

static void test_plain_format(void **state)
{
    struct capture *cap = *state;
    log_set_role("worker");
    log_info("worker started", "slot=%d listen=%s", 1, "0.0.0.0:6480");
    assert_matches(captured(cap),
                   "^ts=[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z "
                   "level=info role=worker pid=[0-9]+ msg=\"worker started\" "
                   "slot=1 listen=0\\.0\\.0\\.0:6480\n$");
    char expected_pid[32];
    snprintf(expected_pid, sizeof expected_pid, " pid=%ld ", (long)getpid());
    assert_non_null(strstr(cap->text, expected_pid));
}

static void test_no_role_no_fields(void **state)
{
    struct capture *cap = *state;
    log_warn("ready", NULL);
    assert_matches(captured(cap), "^ts=[^ ]+Z level=warn pid=[0-9]+ msg=ready\n$");
}

static void test_msg_quoting(void **state)
{
    struct capture *cap = *state;
    log_error("say \"hi\"", NULL);
    log_error("a=b", NULL);
    log_error("", NULL);
    log_error("two\nlines\\", NULL);
    log_error(NULL, NULL);
    const char *text = captured(cap);
    assert_non_null(strstr(text, " msg=\"say \\\"hi\\\"\"\n"));
    assert_non_null(strstr(text, " msg=\"a=b\"\n"));
    assert_non_null(strstr(text, " msg=\"\"\n"));
    assert_non_null(strstr(text, " msg=\"two\\nlines\\\\\"\n"));
    /* five calls, five lines */
    int lines = 0;
    for (const char *p = text; *p; p++)
        lines += *p == '\n';
    assert_int_equal(lines, 5);
}

static void test_fields_stay_on_one_line(void **state)
{
    struct capture *cap = *state;
    log_info("x", "detail=%s", "bad\nvalue");
    assert_matches(captured(cap), "^ts=[^ ]+ level=info pid=[0-9]+ msg=x detail=bad value\n$");
}

static void test_level_filter(void **state)
{
    struct capture *cap = *state;
    log_init(LOG_LVL_WARN);
    assert_int_equal(log_get_level(), LOG_LVL_WARN);
    log_debug("hidden debug", NULL);
    log_info("hidden info", NULL);
    log_warn("shown warn", NULL);
    log_error("shown error", NULL);
    const char *text = captured(cap);
    assert_null(strstr(text, "hidden"));
    assert_non_null(strstr(text, "level=warn"));
    assert_non_null(strstr(text, "level=error"));

    log_init(LOG_LVL_DEBUG);
    log_debug("now shown", NULL);
    assert_non_null(strstr(captured(cap), "level=debug"));
}

/* log_init routes shm/'s lines through log_write: same format, same level filter. */
static void test_shm_log_goes_through_log_init(void **state)
{
    struct capture *cap = *state;
    log_set_role("housekeeper");
    shm_log(LOG_LVL_WARN, "recovered lock after owner death", "lock=%u lanes_checked=%u", 3u, 1u);
    assert_matches(captured(cap),
                   "^ts=[^ ]+Z level=warn role=housekeeper pid=[0-9]+ "
                   "msg=\"recovered lock after owner death\" lock=3 lanes_checked=1\n$");
    log_init(LOG_LVL_WARN);
    shm_log(LOG_LVL_INFO, "hidden info", NULL);
    assert_null(strstr(captured(cap), "hidden"));
}

/* Without a sink (shm/ linked alone) shm_log still writes one plain line to stderr. */
static void test_shm_log_fallback_writes_stderr(void **state)
{
    struct capture *cap = *state;
    shm_log_set_sink(NULL);
    shm_log(LOG_LVL_ERROR, "arena mutex unusable: stopping", "offset=%llu err=%d", 4096ULL, 131);
    shm_log(LOG_LVL_INFO, "no fields", NULL);
    assert_matches(captured(cap), "^level=error msg=\"arena mutex unusable: stopping\" offset=4096 err=131\n"
                                  "level=info msg=\"no fields\"\n$");
}

static void test_journal_prefix(void **state)
{
    struct capture *cap = *state;
    pretend_journal(cap);
    log_init(LOG_LVL_DEBUG);
    log_set_role("supervisor");
    log_error("e", NULL);
    log_warn("w", NULL);
    log_info("i", "k=v");
    log_debug("d", NULL);
    const char *text = captured(cap);
    assert_matches(text, "^<3>level=error role=supervisor pid=[0-9]+ msg=e\n"
                         "<4>level=warn role=supervisor pid=[0-9]+ msg=w\n"
                         "<6>level=info role=supervisor pid=[0-9]+ msg=i k=v\n"
                         "<7>level=debug role=supervisor pid=[0-9]+ msg=d\n$");
    assert_null(strstr(text, "ts="));
}

static void test_journal_stream_for_another_file(void **state)
{
    struct capture *cap = *state;
    /* Inherited from a parent whose stderr was the journal, but ours is not. */
    setenv("JOURNAL_STREAM", "1:1", 1);
    log_init(LOG_LVL_INFO);
    log_info("hello", NULL);
    assert_matches(captured(cap), "^ts=[^ ]+Z level=info pid=[0-9]+ msg=hello\n$");
}

static void test_truncation(void **state)
{
    struct capture *cap = *state;
    size_t big = 10000;
    char *value = malloc(big + 1);
    assert_non_null(value);
    memset(value, 'v', big);
    value[big] = '\0';
    log_info("long", "blob=%s", value);
    log_info(value, NULL); /* a huge msg is cut too */
    log_info("after", NULL);
    free(value);

    const char *text = captured(cap);
    const char *second = strchr(text, '\n') + 1;
    const char *third = strchr(second, '\n') + 1;
    assert_int_equal(second - text, 4096);
    assert_int_equal(third - second, 4096);
    assert_memory_equal(second - 4, "...\n", 4);
    assert_memory_equal(third - 4, "...\n", 4);
    assert_matches(third, "^ts=[^ ]+ level=info pid=[0-9]+ msg=after\n$");
}

static void test_errno_preserved(void **state)
{
    errno = ENOSPC;
    log_error("disk full", NULL);
    assert_int_equal(errno, ENOSPC);
}

/* Writes 200 lines tagged with the thread number; returns NULL (pthread entry). */
static void *log_from_thread(void *arg)
{
    int thread = (int)(long)arg;
    for (int i = 0; i < 200; i++)
        log_info("tick", "thread=%d i=%d pad=%s", thread, i, "xxxxxxxxxxxxxxxxxxxxxxxx");
    return NULL;
}

static void test_threads_do_not_interleave(void **state)
{
    struct capture *cap = *state;
    pthread_t threads[4];
    for (long t = 0; t < 4; t++)
        assert_int_equal(pthread_create(&threads[t], NULL, log_from_thread, (void *)t), 0);
    for (int t = 0; t < 4; t++)
        pthread_join(threads[t], NULL);

    char *text = strdup(captured(cap));
    assert_non_null(text);
    int lines = 0;
    char *save = NULL;
    for (char *l = strtok_r(text, "\n", &save); l != NULL; l = strtok_r(NULL, "\n", &save)) {
        assert_matches(l, "^ts=[^ ]+Z level=info pid=[0-9]+ msg=tick thread=[0-3] "
                          "i=[0-9]+ pad=x{24}$");
        lines++;
    }
    assert_int_equal(lines, 800);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_plain_format, capture_setup, capture_teardown),
        cmocka_unit_test_setup_teardown(test_no_role_no_fields, capture_setup, capture_teardown),
        cmocka_unit_test_setup_teardown(test_msg_quoting, capture_setup, capture_teardown),
        cmocka_unit_test_setup_teardown(test_fields_stay_on_one_line, capture_setup,
                                        capture_teardown),
        cmocka_unit_test_setup_teardown(test_level_filter, capture_setup, capture_teardown),
        cmocka_unit_test_setup_teardown(test_shm_log_goes_through_log_init, capture_setup,
                                        capture_teardown),
        cmocka_unit_test_setup_teardown(test_shm_log_fallback_writes_stderr, capture_setup,
                                        capture_teardown),
        cmocka_unit_test_setup_teardown(test_journal_prefix, capture_setup, capture_teardown),
        cmocka_unit_test_setup_teardown(test_journal_stream_for_another_file, capture_setup,
                                        capture_teardown),
        cmocka_unit_test_setup_teardown(test_truncation, capture_setup, capture_teardown),
        cmocka_unit_test_setup_teardown(test_errno_preserved, capture_setup, capture_teardown),
        cmocka_unit_test_setup_teardown(test_threads_do_not_interleave, capture_setup,
                                        capture_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
