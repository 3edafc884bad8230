/* harness_cmd.c - the in-process command fixture (see harness_cmd.h). */
#include "harness_cmd.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "kvns/command.h"

enum { CMD_FIXTURE_MAX_WORDS = 64, CMD_FIXTURE_MAX_REPLY = 64 * 1024 };

static worker_ctx fixture_worker;
static client fixture_client;

int cmd_fixture_init(void)
{
    arena_params p = { .memory_limit = 64u << 20, .shard_count = 4, .lane_count = 2,
                       .undo_bytes = 4u << 20 };
    int fd;
    if (arena_create(&p, &fd) != 0)
        return -1;
    txn_init(&fixture_worker.txn, 0);
    command_table_init();
    fixture_client.w = &fixture_worker;
    fixture_client.proto = 2;
    reply_init(&fixture_client.out);
    return 0;
}

const char *cmd_fixture_runv(const char *const *words, size_t n)
{
    static resp_arg argv[CMD_FIXTURE_MAX_WORDS];
    static char *copies[CMD_FIXTURE_MAX_WORDS];
    assert_true(n <= CMD_FIXTURE_MAX_WORDS);
    for (size_t i = 0; i < n; i++) {
        copies[i] = strdup(words[i]);   /* own bytes, as a parsed request has */
        argv[i].ptr = copies[i];
        argv[i].len = strlen(words[i]);
    }
    client *c = &fixture_client;
    c->argv = argv;
    c->argc = n;
    reply_truncate(&c->out, 0);
    command_exec(c);
    for (size_t i = 0; i < n; i++)
        free(copies[i]);
    static char text[CMD_FIXTURE_MAX_REPLY];
    struct iovec pieces[8];
    int count = reply_iov(&c->out, pieces, 8);
    size_t len = 0;
    for (int i = 0; i < count; i++) {
        assert_true(len + pieces[i].iov_len < sizeof text);
        memcpy(text + len, pieces[i].iov_base, pieces[i].iov_len);
        len += pieces[i].iov_len;
    }
    assert_int_equal(len, reply_len(&c->out));
    text[len] = '\0';
    return text;
}

const char *cmd_fixture_run(const char *first, ...)
{
    const char *words[CMD_FIXTURE_MAX_WORDS];
    size_t n = 0;
    va_list ap;
    va_start(ap, first);
    for (const char *w = first; w; w = va_arg(ap, const char *)) {
        assert_true(n < CMD_FIXTURE_MAX_WORDS);
        words[n++] = w;
    }
    va_end(ap);
    return cmd_fixture_runv(words, n);
}
