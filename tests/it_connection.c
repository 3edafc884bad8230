/* it_connection.c - integration tests for connection-level commands (PING, ECHO, QUIT,
 * HELLO/RESP3, RESET, SELECT, TIME, CLIENT, COMMAND, INFO) and for the texts of generic
 * errors, run against kvns or redis-server (see harness.h). */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Returns CLIENT ID of the connection. */
static long long client_id(kv_conn *c)
{
    kv_reply *r = conn_cmd(c, "CLIENT", "ID", NULL);
    assert_reply_type(r, KV_REPLY_INTEGER);
    long long id = r->integer;
    kv_reply_free(r);
    return id;
}

/* Checks the HELLO reply fields shared by RESP2 and RESP3 (r is a MAP or flat ARRAY). */
static void check_hello_fields(const kv_reply *r, long long proto, long long id)
{
    assert_int_equal(r->count, 14);
    static const char *const keys[] = { "server", "version", "proto", "id", "mode", "role",
                                        "modules" };
    for (size_t i = 0; i < 7; i++) {
        if (!kv_reply_is_str(r->elements[2 * i], keys[i])) {
            char got[1024];
            it_fail("HELLO field %zu should be \"%s\": %s", i, keys[i],
                    kv_reply_describe(r, got, sizeof got));
        }
    }
    const kv_reply *server = kv_reply_map_get(r, "server");
    assert_reply_type(server, KV_REPLY_BULK);
    if (srv_target_is_redis())
        assert_bulk(server, "redis");
    else
        assert_true(server->len > 0);
    const kv_reply *version = kv_reply_map_get(r, "version");
    assert_reply_type(version, KV_REPLY_BULK);
    assert_true(version->len > 0);
    assert_int(kv_reply_map_get(r, "proto"), proto);
    assert_int(kv_reply_map_get(r, "id"), id);
    assert_bulk(kv_reply_map_get(r, "mode"), "standalone");
    assert_bulk(kv_reply_map_get(r, "role"), "master");
    assert_array_len(kv_reply_map_get(r, "modules"), 0);
}

/* Validates one CLIENT LIST / CLIENT INFO line: "k=v" pairs separated by single spaces,
 * no trailing space, containing the fields every client line has. */
static void check_client_line(const char *line, size_t len)
{
    char buf[2048];
    if (len == 0 || len >= sizeof buf)
        it_fail("client line of length %zu", len);
    memcpy(buf, line, len);
    buf[len] = '\0';
    if (buf[0] == ' ' || buf[len - 1] == ' ' || strstr(buf, "  "))
        it_fail("client line has stray spaces: \"%s\"", buf);
    for (char *tok = buf, *next; tok; tok = next) {
        next = strchr(tok, ' ');
        if (next)
            *next++ = '\0';
        char *eq = strchr(tok, '=');
        if (!eq || eq == tok)
            it_fail("client line token \"%s\" is not key=value", tok);
    }
    memcpy(buf, line, len);
    buf[len] = '\0';
    static const char *const fields[] = { "id=", " addr=", " name=", " age=", " idle=",
                                          " flags=", " db=", " cmd=" };
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        if (strncmp(buf, "id=", 3) != 0 || (i > 0 && !strstr(buf, fields[i])))
            it_fail("client line lacks \"%s\": \"%s\"", fields[i], buf);
    }
}

/* PING answers PONG, or echoes its argument as a bulk string. */
static void test_ping(void **state)
{
    kv_conn *c = *state;
    expect_status(c, "PONG", "PING", NULL);
    expect_bulk(c, "hello world", "PING", "hello world", NULL);
    expect_bulk(c, "", "PING", "", NULL);
    expect_error(c, "ERR wrong number of arguments for 'ping' command", "PING", "a", "b", NULL);
}

/* ECHO returns its argument, binary safe. */
static void test_echo(void **state)
{
    kv_conn *c = *state;
    expect_bulk(c, "x", "ECHO", "x", NULL);
    const char *argv[] = { "ECHO", "a\0b\r\n" };
    const size_t lens[] = { 4, 5 };
    kv_reply *r = conn_cmdv(c, 2, argv, lens);
    assert_bulk_bin(r, "a\0b\r\n", 5);
    kv_reply_free(r);
    expect_error(c, "ERR wrong number of arguments for 'echo' command", "ECHO", NULL);
    expect_error(c, "ERR wrong number of arguments for 'echo' command", "ECHO", "a", "b", NULL);
}

/* QUIT answers +OK and the server then closes the connection. */
static void test_quit(void **state)
{
    kv_conn *c = it_connect();
    expect_status(c, "OK", "QUIT", NULL);
    assert_null(conn_read_reply(c));
    assert_true(conn_is_closed(c));
    assert_false(conn_timed_out(c));
    conn_close(c);
    /* Commands pipelined after QUIT are not executed. */
    c = it_connect();
    static const char pipeline[] = "QUIT\r\nSET after-quit 1\r\n";
    assert_int_equal(conn_send_raw(c, pipeline, sizeof pipeline - 1), 0);
    kv_reply *r = conn_read_reply(c);
    assert_status(r, "OK");
    kv_reply_free(r);
    assert_true(conn_wait_closed(c, 5000));
    conn_close(c);
    expect_int(*state, 0, "EXISTS", "after-quit", NULL);
}

/* HELLO without arguments: RESP2 flat array server/version/proto/id/mode/role/modules. */
static void test_hello_resp2(void **state)
{
    kv_conn *c = *state;
    long long id = client_id(c);
    kv_reply *r = conn_cmd(c, "HELLO", NULL);
    assert_reply_type(r, KV_REPLY_ARRAY);
    check_hello_fields(r, 2, id);
    kv_reply_free(r);
    r = conn_cmd(c, "HELLO", "2", NULL);
    assert_reply_type(r, KV_REPLY_ARRAY);
    check_hello_fields(r, 2, id);
    kv_reply_free(r);
}

/* HELLO 3 answers a MAP and switches the connection to RESP3 (null is "_"). */
static void test_hello3_switches_to_resp3(void **state)
{
    kv_conn *c = *state;
    long long id = client_id(c);
    kv_reply *r = conn_cmd(c, "HELLO", "3", NULL);
    assert_reply_type(r, KV_REPLY_MAP);
    assert_int_equal(r->prefix, '%');
    check_hello_fields(r, 3, id);
    kv_reply_free(r);
    /* Exact bytes of a RESP3 null. */
    assert_int_equal(conn_send_cmd(c, "GET", "missing", NULL), 0);
    char raw[3];
    assert_int_equal(conn_read_raw(c, raw, 3), 3);
    assert_memory_equal(raw, "_\r\n", 3);
    r = conn_cmd(c, "GET", "missing", NULL);
    assert_nil(r);
    assert_int_equal(r->prefix, '_');
    kv_reply_free(r);
    expect_status(c, "PONG", "PING", NULL);
    expect_status(c, "OK", "SET", "k", "v", NULL);
    expect_bulk(c, "v", "GET", "k", NULL);
    /* HELLO without a version keeps RESP3; HELLO 2 goes back. */
    r = conn_cmd(c, "HELLO", NULL);
    assert_reply_type(r, KV_REPLY_MAP);
    assert_int(kv_reply_map_get(r, "proto"), 3);
    kv_reply_free(r);
    r = conn_cmd(c, "HELLO", "2", NULL);
    assert_reply_type(r, KV_REPLY_ARRAY);
    kv_reply_free(r);
    r = conn_cmd(c, "GET", "missing", NULL);
    assert_nil(r);
    assert_int_equal(r->prefix, '$');
    kv_reply_free(r);
}

/* HELLO rejects unknown protocol versions and non-numeric versions. */
static void test_hello_errors(void **state)
{
    kv_conn *c = *state;
    expect_error(c, "NOPROTO unsupported protocol version", "HELLO", "4", NULL);
    expect_error(c, "NOPROTO unsupported protocol version", "HELLO", "1", NULL);
    expect_error(c, "ERR Protocol version is not an integer or out of range", "HELLO", "abc",
                 NULL);
    expect_error(c, "ERR Syntax error in HELLO option 'FOO'", "HELLO", "3", "FOO", NULL);
    /* The failed HELLOs left the connection on RESP2. */
    kv_reply *r = conn_cmd(c, "GET", "missing", NULL);
    assert_nil(r);
    assert_int_equal(r->prefix, '$');
    kv_reply_free(r);
}

/* HELLO 3 SETNAME sets the connection name. */
static void test_hello_setname(void **state)
{
    kv_conn *c = *state;
    kv_reply *r = conn_cmd(c, "HELLO", "3", "SETNAME", "foo", NULL);
    assert_reply_type(r, KV_REPLY_MAP);
    kv_reply_free(r);
    expect_bulk(c, "foo", "CLIENT", "GETNAME", NULL);
}

/* RESET answers +RESET, returns to RESP2 and clears the name. */
static void test_reset(void **state)
{
    kv_conn *c = *state;
    kv_reply *r = conn_cmd(c, "HELLO", "3", "SETNAME", "before-reset", NULL);
    assert_reply_type(r, KV_REPLY_MAP);
    kv_reply_free(r);
    expect_status(c, "RESET", "RESET", NULL);
    r = conn_cmd(c, "GET", "missing", NULL);
    assert_nil(r);
    assert_int_equal(r->prefix, '$');
    kv_reply_free(r);
    expect_nil(c, "CLIENT", "GETNAME", NULL);
    expect_status(c, "PONG", "PING", NULL);
}

/* SELECT 0 works; other indexes: Redis has 16 databases, kvns only db 0. */
static void test_select(void **state)
{
    kv_conn *c = *state;
    expect_status(c, "OK", "SELECT", "0", NULL);
    if (srv_target_is_redis()) {
        expect_status(c, "OK", "SELECT", "1", NULL);
        expect_status(c, "OK", "SELECT", "0", NULL);
    } else {
        expect_error(c, "ERR DB index is out of range", "SELECT", "1", NULL);
    }
    expect_error(c, "ERR DB index is out of range", "SELECT", "16", NULL);
    expect_error(c, "ERR DB index is out of range", "SELECT", "-1", NULL);
    expect_error(c, "ERR value is not an integer or out of range", "SELECT", "abc", NULL);
    expect_error(c, "ERR wrong number of arguments for 'select' command", "SELECT", NULL);
    expect_status(c, "OK", "SET", "k", "v", NULL);
    expect_bulk(c, "v", "GET", "k", NULL);
}

/* TIME: two bulk strings, seconds close to our clock and microseconds below 1e6. */
static void test_time(void **state)
{
    kv_conn *c = *state;
    kv_reply *r = conn_cmd(c, "TIME", NULL);
    assert_array_len(r, 2);
    assert_reply_type(r->elements[0], KV_REPLY_BULK);
    assert_reply_type(r->elements[1], KV_REPLY_BULK);
    long long secs = atoll(r->elements[0]->str);
    long long usec = atoll(r->elements[1]->str);
    long long now = now_ms() / 1000;
    assert_in_range(secs, now - 5, now + 5);
    assert_in_range(usec, 0, 999999);
    kv_reply_free(r);
    expect_error(c, "ERR wrong number of arguments for 'time' command", "TIME", "x", NULL);
}

/* CLIENT SETNAME / GETNAME, including invalid and empty names. */
static void test_client_name(void **state)
{
    kv_conn *c = *state;
    const char *bad_name = "ERR Client names cannot contain spaces, newlines or special characters.";
    expect_nil(c, "CLIENT", "GETNAME", NULL);
    expect_status(c, "OK", "CLIENT", "SETNAME", "worker-1", NULL);
    expect_bulk(c, "worker-1", "CLIENT", "GETNAME", NULL);
    expect_error(c, bad_name, "CLIENT", "SETNAME", "a b", NULL);
    expect_error(c, bad_name, "CLIENT", "SETNAME", "a\nb", NULL);
    expect_bulk(c, "worker-1", "CLIENT", "GETNAME", NULL);
    expect_status(c, "OK", "client", "setname", "", NULL);
    expect_nil(c, "CLIENT", "GETNAME", NULL);
    expect_error(c, "ERR wrong number of arguments for 'client|setname' command", "CLIENT",
                 "SETNAME", NULL);
    expect_error(c, "ERR wrong number of arguments for 'client|getname' command", "CLIENT",
                 "GETNAME", "x", NULL);
    expect_error(c, "ERR unknown subcommand 'foo'. Try CLIENT HELP.", "CLIENT", "foo", NULL);
    expect_error(c, "ERR wrong number of arguments for 'client' command", "CLIENT", NULL);
}

/* CLIENT ID is positive, stable per connection and grows for newer connections. */
static void test_client_id(void **state)
{
    kv_conn *c = *state;
    long long id = client_id(c);
    assert_true(id > 0);
    assert_int_equal(client_id(c), id);
    kv_conn *other = it_connect();
    long long other_id = client_id(other);
    conn_close(other);
    assert_true(other_id > id);
    expect_error(c, "ERR wrong number of arguments for 'client|id' command", "CLIENT", "ID", "x",
                 NULL);
}

/* CLIENT SETINFO LIB-NAME (Redis 7.2+; 7.0 does not know it) shows up in CLIENT INFO. */
static void test_client_setinfo(void **state)
{
    kv_conn *c = *state;
    kv_reply *r = conn_cmd(c, "CLIENT", "SETINFO", "LIB-NAME", "x", NULL);
    if (srv_target_is_redis() && r && r->type == KV_REPLY_ERROR) {
        assert_error(r, "ERR unknown subcommand 'SETINFO'. Try CLIENT HELP.");
        kv_reply_free(r);
        it_skip("redis-server older than 7.2 (CLIENT SETINFO)");
    }
    assert_status(r, "OK");
    kv_reply_free(r);
    expect_status(c, "OK", "CLIENT", "SETINFO", "LIB-VER", "1.2.3", NULL);
    r = conn_cmd(c, "CLIENT", "INFO", NULL);
    assert_bulk_contains(r, " lib-name=x ");
    assert_bulk_contains(r, " lib-ver=1.2.3");
    kv_reply_free(r);
}

/* CLIENT INFO: one line of k=v pairs for this connection, ending in a newline. */
static void test_client_info(void **state)
{
    kv_conn *c = *state;
    expect_status(c, "OK", "CLIENT", "SETNAME", "info-test", NULL);
    long long id = client_id(c);
    kv_reply *r = conn_cmd(c, "CLIENT", "INFO", NULL);
    assert_reply_type(r, KV_REPLY_BULK);
    assert_true(r->len > 1 && r->str[r->len - 1] == '\n');
    assert_null(memchr(r->str, '\n', r->len - 1));
    check_client_line(r->str, r->len - 1);
    char want[64];
    snprintf(want, sizeof want, "id=%lld ", id);
    assert_int_equal(strncmp(r->str, want, strlen(want)), 0);
    assert_bulk_contains(r, " addr=127.0.0.1:");
    assert_bulk_contains(r, " name=info-test ");
    assert_bulk_contains(r, " db=0 ");
    assert_bulk_contains(r, " cmd=client|info");
    kv_reply_free(r);
}

/* CLIENT LIST: one well-formed line per connection, ours included. */
static void test_client_list(void **state)
{
    kv_conn *c = *state;
    kv_conn *other = it_connect();
    expect_status(other, "OK", "CLIENT", "SETNAME", "the-other", NULL);
    long long id = client_id(c);
    kv_reply *r = conn_cmd(c, "CLIENT", "LIST", NULL);
    assert_reply_type(r, KV_REPLY_BULK);
    assert_true(r->len > 1 && r->str[r->len - 1] == '\n');
    char want[64];
    snprintf(want, sizeof want, "id=%lld ", id);
    bool found_self = false, found_other = false;
    int lines = 0;
    for (const char *p = r->str, *end = r->str + r->len; p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        assert_non_null(nl);
        check_client_line(p, (size_t)(nl - p));
        found_self |= strncmp(p, want, strlen(want)) == 0;
        found_other |= memmem(p, (size_t)(nl - p), " name=the-other ", 16) != NULL;
        lines++;
        p = nl + 1;
    }
    kv_reply_free(r);
    conn_close(other);
    assert_true(lines >= 2);
    assert_true(found_self);
    assert_true(found_other);
}

/* COMMAND COUNT is the number of top-level commands. */
static void test_command_count(void **state)
{
    kv_conn *c = *state;
    expect_int_range(c, 51, 100000, "COMMAND", "COUNT", NULL);
}

/* COMMAND INFO get: name, arity 2, flags, first/last key 1, step 1; nil for unknown names. */
static void test_command_info_get(void **state)
{
    kv_conn *c = *state;
    kv_reply *r = conn_cmd(c, "COMMAND", "INFO", "get", NULL);
    assert_array_len(r, 1);
    const kv_reply *get = r->elements[0];
    assert_reply_type(get, KV_REPLY_ARRAY);
    assert_true(get->count >= 6);
    assert_bulk(get->elements[0], "get");
    assert_int(get->elements[1], 2);
    assert_reply_type(get->elements[2], KV_REPLY_ARRAY);
    assert_true(get->elements[2]->count >= 1);
    for (size_t i = 0; i < get->elements[2]->count; i++) {
        kv_reply_type t = get->elements[2]->elements[i]->type;
        assert_true(t == KV_REPLY_STATUS || t == KV_REPLY_BULK);
    }
    assert_true(kv_reply_find_str(get->elements[2], "readonly") >= 0);
    assert_int(get->elements[3], 1);
    assert_int(get->elements[4], 1);
    assert_int(get->elements[5], 1);
    kv_reply_free(r);
    r = conn_cmd(c, "COMMAND", "INFO", "nosuchcommand", "SET", NULL);
    assert_array_len(r, 2);
    assert_nil(r->elements[0]);
    assert_reply_type(r->elements[1], KV_REPLY_ARRAY);
    assert_bulk(r->elements[1]->elements[0], "set");
    assert_int(r->elements[1]->elements[1], -3);
    kv_reply_free(r);
}

/* True when r is a well-formed key/value listing (MAP, or ARRAY of even length with string keys). */
static bool is_key_value_listing(const kv_reply *r)
{
    if (!r || (r->type != KV_REPLY_MAP && r->type != KV_REPLY_ARRAY) || r->count % 2)
        return false;
    for (size_t i = 0; i < r->count; i += 2) {
        if (r->elements[i]->type != KV_REPLY_BULK && r->elements[i]->type != KV_REPLY_STATUS)
            return false;
    }
    return true;
}

/* COMMAND DOCS get: a name -> doc-map listing with a summary; empty for unknown names. */
static void test_command_docs_get(void **state)
{
    kv_conn *c = *state;
    char got[1024];
    kv_reply *r = conn_cmd(c, "COMMAND", "DOCS", "get", NULL);
    if (!is_key_value_listing(r) || r->count != 2 || !kv_reply_is_str(r->elements[0], "get"))
        it_fail("COMMAND DOCS get: %s", kv_reply_describe(r, got, sizeof got));
    const kv_reply *doc = r->elements[1];
    if (!is_key_value_listing(doc))
        it_fail("COMMAND DOCS get: doc is %s", kv_reply_describe(doc, got, sizeof got));
    const kv_reply *summary = kv_reply_map_get(doc, "summary");
    assert_reply_type(summary, KV_REPLY_BULK);
    assert_true(summary->len > 0);
    assert_non_null(kv_reply_map_get(doc, "since"));
    assert_bulk(kv_reply_map_get(doc, "group"), "string");
    kv_reply_free(r);
    expect_array_len(c, 0, "COMMAND", "DOCS", "nosuchcommand", NULL);
    /* RESP3: maps. */
    r = conn_cmd(c, "HELLO", "3", NULL);
    kv_reply_free(r);
    r = conn_cmd(c, "COMMAND", "DOCS", "get", NULL);
    assert_reply_type(r, KV_REPLY_MAP);
    assert_reply_type(kv_reply_map_get(r, "get"), KV_REPLY_MAP);
    kv_reply_free(r);
}

/* COMMAND LIST: bulk names including the basic commands. */
static void test_command_list(void **state)
{
    kv_conn *c = *state;
    kv_reply *r = conn_cmd(c, "COMMAND", "LIST", NULL);
    assert_reply_type(r, KV_REPLY_ARRAY);
    assert_true(r->count > 50);
    for (size_t i = 0; i < r->count; i++)
        assert_reply_type(r->elements[i], KV_REPLY_BULK);
    static const char *const names[] = { "get", "set", "ping", "del", "scan", "command", "hello" };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (kv_reply_find_str(r, names[i]) < 0)
            it_fail("COMMAND LIST lacks \"%s\"", names[i]);
    }
    kv_reply_free(r);
}

/* Plain COMMAND: one array per command (COMMAND COUNT of them), each with name and arity. */
static void test_command_plain(void **state)
{
    kv_conn *c = *state;
    kv_reply *count = conn_cmd(c, "COMMAND", "COUNT", NULL);
    assert_reply_type(count, KV_REPLY_INTEGER);
    kv_reply *r = conn_cmd(c, "COMMAND", NULL);
    assert_reply_type(r, KV_REPLY_ARRAY);
    assert_int_equal(r->count, count->integer);
    bool found_get = false;
    for (size_t i = 0; i < r->count; i++) {
        const kv_reply *cmd = r->elements[i];
        assert_reply_type(cmd, KV_REPLY_ARRAY);
        assert_true(cmd->count >= 6);
        assert_reply_type(cmd->elements[0], KV_REPLY_BULK);
        assert_reply_type(cmd->elements[1], KV_REPLY_INTEGER);
        if (kv_reply_is_str(cmd->elements[0], "get")) {
            found_get = true;
            assert_int(cmd->elements[1], 2);
        }
    }
    assert_true(found_get);
    kv_reply_free(r);
    kv_reply_free(count);
    expect_error(c, "ERR unknown subcommand 'foo'. Try COMMAND HELP.", "COMMAND", "foo", NULL);
}

/* INFO: all default sections with the fields clients rely on. */
static void test_info_default(void **state)
{
    kv_conn *c = *state;
    kv_reply *r = conn_cmd(c, "INFO", NULL);
    assert_reply_type(r, KV_REPLY_BULK);
    static const char *const needles[] = { "# Server\r\n", "redis_version:", "# Clients\r\n",
                                           "connected_clients:", "# Persistence\r\n",
                                           "loading:0\r\n", "# Replication\r\n",
                                           "role:master\r\n", "# Keyspace" };
    for (size_t i = 0; i < sizeof needles / sizeof needles[0]; i++)
        assert_bulk_contains(r, needles[i]);
    assert_int_equal(strncmp(r->str, "# Server\r\n", 10), 0);
    kv_reply_free(r);
}

/* INFO keyspace reports db0 keys and expires after writes. */
static void test_info_keyspace_after_set(void **state)
{
    kv_conn *c = *state;
    kv_reply *r = conn_cmd(c, "INFO", "keyspace", NULL);
    assert_bulk_contains(r, "# Keyspace");
    assert_null(memmem(r->str, r->len, "db0:", 4));
    kv_reply_free(r);
    expect_status(c, "OK", "SET", "k", "v", NULL);
    r = conn_cmd(c, "INFO", NULL);
    assert_bulk_contains(r, "\r\ndb0:keys=1,expires=0");
    kv_reply_free(r);
    expect_status(c, "OK", "SET", "t", "v", "EX", "100", NULL);
    r = conn_cmd(c, "INFO", "keyspace", NULL);
    assert_bulk_contains(r, "db0:keys=2,expires=1");
    kv_reply_free(r);
}

/* INFO <section> returns only that section; several sections may be named. */
static void test_info_sections(void **state)
{
    kv_conn *c = *state;
    kv_reply *r = conn_cmd(c, "INFO", "server", NULL);
    assert_bulk_contains(r, "# Server\r\n");
    assert_bulk_contains(r, "redis_version:");
    assert_null(memmem(r->str, r->len, "# Clients", 9));
    assert_null(memmem(r->str, r->len, "# Keyspace", 10));
    kv_reply_free(r);
    r = conn_cmd(c, "INFO", "keyspace", NULL);
    assert_bulk_contains(r, "# Keyspace");
    assert_null(memmem(r->str, r->len, "# Server", 8));
    kv_reply_free(r);
    r = conn_cmd(c, "INFO", "SERVER", "clients", NULL);
    assert_bulk_contains(r, "# Server\r\n");
    assert_bulk_contains(r, "# Clients\r\n");
    assert_null(memmem(r->str, r->len, "# Keyspace", 10));
    kv_reply_free(r);
    expect_bulk(c, "", "INFO", "nosuchsection", NULL);
}

/* INFO under RESP3 is a verbatim string of format "txt". */
static void test_info_resp3_verbatim(void **state)
{
    kv_conn *c = *state;
    kv_reply *r = conn_cmd(c, "HELLO", "3", NULL);
    kv_reply_free(r);
    r = conn_cmd(c, "INFO", "server", NULL);
    assert_reply_type(r, KV_REPLY_VERBATIM);
    assert_string_equal(r->vformat, "txt");
    assert_bulk_contains(r, "# Server");
    kv_reply_free(r);
}

/* Unknown commands: Redis 7.0's text quotes the name as sent and up to the first args,
 * each followed by a space. */
static void test_unknown_command_text(void **state)
{
    kv_conn *c = *state;
    expect_error(c, "ERR unknown command 'FOOBAR', with args beginning with: 'a' 'b' ", "FOOBAR",
                 "a", "b", NULL);
    expect_error(c, "ERR unknown command 'foobar', with args beginning with: ", "foobar", NULL);
    expect_error(c, "ERR unknown command 'FooBar', with args beginning with: 'a b' 'c' ", "FooBar",
                 "a b", "c", NULL);
    /* The connection stays usable. */
    expect_status(c, "PONG", "PING", NULL);
}

/* Wrong arity: the command name is lower-cased in the message. */
static void test_wrong_arity_text(void **state)
{
    kv_conn *c = *state;
    expect_error(c, "ERR wrong number of arguments for 'get' command", "GET", NULL);
    expect_error(c, "ERR wrong number of arguments for 'get' command", "GeT", NULL);
    expect_error(c, "ERR wrong number of arguments for 'get' command", "get", "a", "b", NULL);
    expect_error(c, "ERR wrong number of arguments for 'set' command", "SET", "a", NULL);
    expect_error(c, "ERR wrong number of arguments for 'dbsize' command", "DBSIZE", "x", NULL);
}

/* Command names are case-insensitive. */
static void test_command_case_insensitive(void **state)
{
    kv_conn *c = *state;
    expect_status(c, "OK", "set", "k", "v1", NULL);
    expect_bulk(c, "v1", "get", "k", NULL);
    expect_status(c, "OK", "SeT", "k", "v2", NULL);
    expect_bulk(c, "v2", "gEt", "k", NULL);
    expect_status(c, "PONG", "ping", NULL);
    expect_int(c, 1, "Exists", "k", NULL);
    expect_int_range(c, 51, 100000, "command", "count", NULL);
    expect_nil(c, "client", "getname", NULL);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, it_test_setup, it_test_teardown)
    const struct CMUnitTest tests[] = {
        T(test_ping),
        T(test_echo),
        T(test_quit),
        T(test_hello_resp2),
        T(test_hello3_switches_to_resp3),
        T(test_hello_errors),
        T(test_hello_setname),
        T(test_reset),
        T(test_select),
        T(test_time),
        T(test_client_name),
        T(test_client_id),
        T(test_client_setinfo),
        T(test_client_info),
        T(test_client_list),
        T(test_command_count),
        T(test_command_info_get),
        T(test_command_docs_get),
        T(test_command_list),
        T(test_command_plain),
        T(test_info_default),
        T(test_info_keyspace_after_set),
        T(test_info_sections),
        T(test_info_resp3_verbatim),
        T(test_unknown_command_text),
        T(test_wrong_arity_text),
        T(test_command_case_insensitive),
    };
#undef T
    return cmocka_run_group_tests(tests, it_group_setup, it_group_teardown);
}
