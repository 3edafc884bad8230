/* t_command.c - COMMAND and its subcommands (INFO, DOCS, LIST, COUNT, GETKEYS,
 * GETKEYSANDFLAGS): the command table as Redis 7 describes it - flags, ACL categories,
 * key specs, subcommands, and COMMAND DOCS's arguments and history from the generated
 * src/command_docs.c. The rows live in t_server.c's table. */
#include "kvns/command.h"
#include "kvns/glob.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Shared with t_server.c, t_client.c and t_config.c. */
#include "t_server.h"
/* Redis's command flags, in the order Redis prints them; movablekeys as Redis derives
 * it from the key specs. */
static size_t command_flag_names(uint32_t flags, bool movable, const char **out)
{
    static const struct { uint32_t bit; const char *name; } map[] = {
        { CMD_WRITE, "write" },     { CMD_READONLY, "readonly" }, { CMD_DENYOOM, "denyoom" },
        { CMD_ADMIN, "admin" },     { CMD_PUBSUB, "pubsub" },     { CMD_NOSCRIPT, "noscript" },
        { CMD_LOADING, "loading" }, { CMD_STALE, "stale" },       { CMD_FAST, "fast" },
        { CMD_NO_MANDATORY_KEYS, "no_mandatory_keys" }, { CMD_NOMULTI, "no_multi" },
    };
    size_t n = 0;
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
        if (flags & map[i].bit)
            out[n++] = map[i].name;
    }
    if (movable)
        out[n++] = "movablekeys";
    return n;
}

static bool group_is(const char *group, const char *name)
{
    return group && strcmp(group, name) == 0;
}

/* Redis's ACL categories of the commands whose list the derivation below does not
 * reproduce (SORT is in the generic group, yet not @keyspace). */
static const struct { const char *name; const char *cats[8]; } acl_listed_rows[] = {
    { "sort", { "@write", "@set", "@sortedset", "@list", "@slow", "@dangerous", NULL } },
    { "sort_ro", { "@read", "@set", "@sortedset", "@list", "@slow", "@dangerous", NULL } },
};

/* The listed categories of the command of this full name ("object|encoding"), or NULL. */
static const char *const *acl_listed(const char *full_name)
{
    for (size_t i = 0; i < sizeof acl_listed_rows / sizeof acl_listed_rows[0]; i++)
        if (strcmp(acl_listed_rows[i].name, full_name) == 0)
            return acl_listed_rows[i].cats;
    return NULL;
}

/* ACL categories derived from the flags and the group, in Redis's order (Redis lists
 * them explicitly per command; the derivation reproduces its rules for most; `given`
 * is acl_listed's list for the others). A container command is just @slow, as in
 * Redis. */
static size_t acl_categories(uint32_t flags, const char *group, bool container, const char *const *given,
                             const char **out)
{
    size_t n = 0;
    if (given) {
        while (given[n]) {
            out[n] = given[n];
            n++;
        }
        return n;
    }
    if (container) {
        out[n++] = "@slow";
        return n;
    }
    static const struct { const char *group, *cat; } types[] = {
        { "set", "@set" },       { "sorted-set", "@sortedset" }, { "sorted_set", "@sortedset" },
        { "list", "@list" },     { "hash", "@hash" },           { "string", "@string" },
        { "bitmap", "@bitmap" }, { "hyperloglog", "@hyperloglog" }, { "geo", "@geo" },
        { "stream", "@stream" },
    };
    if (group_is(group, "generic"))
        out[n++] = "@keyspace";
    if (flags & CMD_READONLY)
        out[n++] = "@read";
    if (flags & CMD_WRITE)
        out[n++] = "@write";
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        if (group_is(group, types[i].group))
            out[n++] = types[i].cat;
    }
    if ((flags & CMD_PUBSUB) || group_is(group, "pubsub"))
        out[n++] = "@pubsub";
    if (flags & CMD_ADMIN)
        out[n++] = "@admin";
    out[n++] = (flags & CMD_FAST) ? "@fast" : "@slow";
    if (flags & CMD_ADMIN)
        out[n++] = "@dangerous";
    if (group_is(group, "connection"))
        out[n++] = "@connection";
    if (group_is(group, "transactions"))
        out[n++] = "@transaction";
    if (group_is(group, "scripting"))
        out[n++] = "@scripting";
    return n;
}

/* Names of a key spec's KS_* flags, in Redis's order (key specs and GETKEYSANDFLAGS). */
static size_t key_flag_names(uint32_t flags, const char **out)
{
    static const char *const names[] = { "RO",     "RW",     "OW",      "RM",         "access",        "update",
                                         "insert", "delete", "not_key", "incomplete", "variable_flags" };
    size_t n = 0;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (flags & (1u << i))
            out[n++] = names[i];
    }
    return n;
}

static void reply_status_set(reply_buf *r, const char **names, size_t n)
{
    reply_set(r, (long long)n);
    for (size_t i = 0; i < n; i++)
        reply_simple(r, names[i]);
}

/* One key spec as Redis 7's COMMAND INFO / DOCS show it: a map of [notes,] flags,
 * begin_search and find_keys. */
static void reply_key_spec(reply_buf *r, const key_spec *s)
{
    const char *names[12];
    reply_map(r, s->notes ? 4 : 3);
    if (s->notes) {
        reply_bulk_cstr(r, "notes");
        reply_bulk_cstr(r, s->notes);
    }
    reply_bulk_cstr(r, "flags");
    reply_status_set(r, names, key_flag_names(s->flags, names));
    reply_bulk_cstr(r, "begin_search");
    reply_map(r, 2);
    reply_bulk_cstr(r, "type");
    if (s->begin == KS_BEGIN_UNKNOWN) {          /* Redis: type unknown, empty specs */
        reply_bulk_cstr(r, "unknown");
        reply_bulk_cstr(r, "spec");
        reply_map(r, 0);
        reply_bulk_cstr(r, "find_keys");
        reply_map(r, 2);
        reply_bulk_cstr(r, "type");
        reply_bulk_cstr(r, "unknown");
        reply_bulk_cstr(r, "spec");
        reply_map(r, 0);
        return;
    }
    reply_bulk_cstr(r, s->begin == KS_INDEX ? "index" : "keyword");
    reply_bulk_cstr(r, "spec");
    if (s->begin == KS_INDEX) {
        reply_map(r, 1);
        reply_bulk_cstr(r, "index");
        reply_int(r, s->pos);
    } else {
        reply_map(r, 2);
        reply_bulk_cstr(r, "keyword");
        reply_bulk_cstr(r, s->keyword);
        reply_bulk_cstr(r, "startfrom");
        reply_int(r, s->pos);
    }
    reply_bulk_cstr(r, "find_keys");
    reply_map(r, 2);
    reply_bulk_cstr(r, "type");
    reply_bulk_cstr(r, s->find == KS_RANGE ? "range" : "keynum");
    reply_bulk_cstr(r, "spec");
    reply_map(r, 3);
    if (s->find == KS_RANGE) {
        reply_bulk_cstr(r, "lastkey");
        reply_int(r, s->range.lastkey);
        reply_bulk_cstr(r, "keystep");
        reply_int(r, s->range.step);
        reply_bulk_cstr(r, "limit");
        reply_int(r, s->range.limit);
    } else {
        reply_bulk_cstr(r, "keynumidx");
        reply_int(r, s->keynum.keynumidx);
        reply_bulk_cstr(r, "firstkey");
        reply_int(r, s->keynum.firstkey);
        reply_bulk_cstr(r, "keystep");
        reply_int(r, s->keynum.step);
    }
}

/* A row's key specs (an empty array for none). */
static void reply_key_specs(reply_buf *r, const command *cmd)
{
    long long n = 0;
    for (const key_spec *s = cmd->key_specs; s && s->begin != KS_END; s++)
        n++;
    reply_array(r, n);
    for (const key_spec *s = cmd->key_specs; s && s->begin != KS_END; s++)
        reply_key_spec(r, s);
}

/* One COMMAND INFO entry: [name, arity, flags, first, last, step, acl categories, tips,
 * key specs, subcommands], as Redis 7 shapes it. row is parent's subcommand row, or
 * parent itself (a command, then shown with its subcommands). */
static void reply_command_info(reply_buf *r, const command *parent, const command *row)
{
    const char *names[16];
    char full[96];
    bool is_sub = row != parent;
    const command *subs = is_sub ? NULL : row->subcommands;
    int first, last, step;
    bool movable;
    command_legacy_range(row, &first, &last, &step, &movable);
    reply_array(r, 10);
    reply_bulk_cstr(r, command_full_name(parent, is_sub ? row : NULL, full, sizeof full));
    reply_int(r, row->arity);
    reply_status_set(r, names, command_flag_names(row->flags, movable, names));
    reply_int(r, first);
    reply_int(r, last);
    reply_int(r, step);
    reply_status_set(r, names, acl_categories(row->flags, parent->group, subs != NULL, acl_listed(full), names));
    reply_array(r, 0);                         /* tips */
    reply_key_specs(r, row);
    size_t nsubs = 0;
    for (const command *s = subs; s && s->name; s++)
        nsubs++;
    reply_array(r, (long long)nsubs);
    for (const command *s = subs; s && s->name; s++)
        reply_command_info(r, row, s);
}

/* Argument types and flags as COMMAND DOCS names them. */
static const char *const arg_type_names[] = {
    [ARG_STRING] = "string",       [ARG_INTEGER] = "integer",   [ARG_DOUBLE] = "double",
    [ARG_KEY] = "key",             [ARG_PATTERN] = "pattern",   [ARG_UNIX_TIME] = "unix-time",
    [ARG_PURE_TOKEN] = "pure-token", [ARG_ONEOF] = "oneof",     [ARG_BLOCK] = "block",
};

/* COMMAND DOCS "arguments": one map per argument, its fields in Redis's order (name,
 * type, key_spec_index, token, since, deprecated_since, flags, arguments). */
static void reply_doc_args(reply_buf *r, const cmd_arg *args, size_t n)
{
    reply_array(r, (long long)n);
    for (size_t i = 0; i < n; i++) {
        const cmd_arg *a = &args[i];
        reply_map(r, 2 + (a->key_spec_index >= 0) + (a->token != NULL) + (a->since != NULL) +
                         (a->deprecated_since != NULL) + (a->flags != 0) + (a->args != NULL));
        reply_bulk_cstr(r, "name");
        reply_bulk_cstr(r, a->name);
        reply_bulk_cstr(r, "type");
        reply_bulk_cstr(r, arg_type_names[a->type]);
        if (a->key_spec_index >= 0) {
            reply_bulk_cstr(r, "key_spec_index");
            reply_int(r, a->key_spec_index);
        }
        if (a->token) {
            reply_bulk_cstr(r, "token");
            reply_bulk_cstr(r, a->token);
        }
        if (a->since) {
            reply_bulk_cstr(r, "since");
            reply_bulk_cstr(r, a->since);
        }
        if (a->deprecated_since) {
            reply_bulk_cstr(r, "deprecated_since");
            reply_bulk_cstr(r, a->deprecated_since);
        }
        if (a->flags) {
            const char *names[3];
            size_t nf = 0;
            if (a->flags & ARG_OPTIONAL)
                names[nf++] = "optional";
            if (a->flags & ARG_MULTIPLE)
                names[nf++] = "multiple";
            if (a->flags & ARG_MULTIPLE_TOKEN)
                names[nf++] = "multiple_token";
            reply_bulk_cstr(r, "flags");
            reply_status_set(r, names, nf);
        }
        if (a->args) {
            reply_bulk_cstr(r, "arguments");
            reply_doc_args(r, a->args, a->nargs);
        }
    }
}

/* How many of a doc's generated fields COMMAND DOCS shows. */
static size_t doc_extra_fields(const command_doc *d)
{
    if (!d)
        return 0;
    size_t n = (d->doc_flags != 0) + (d->deprecated_since != NULL) + (d->replaced_by != NULL);
    return n + (d->history != NULL) + (d->args != NULL);
}

/* The generated fields of a doc, after summary/since/group/complexity: doc_flags,
 * deprecated_since, replaced_by, history, arguments (Redis's order). */
static void reply_doc_extra(reply_buf *r, const command_doc *d)
{
    if (!d)
        return;
    if (d->doc_flags) {
        const char *names[2];
        size_t n = 0;
        if (d->doc_flags & DOC_DEPRECATED)
            names[n++] = "deprecated";
        if (d->doc_flags & DOC_SYSCMD)
            names[n++] = "syscmd";
        reply_bulk_cstr(r, "doc_flags");
        reply_status_set(r, names, n);
    }
    if (d->deprecated_since) {
        reply_bulk_cstr(r, "deprecated_since");
        reply_bulk_cstr(r, d->deprecated_since);
    }
    if (d->replaced_by) {
        reply_bulk_cstr(r, "replaced_by");
        reply_bulk_cstr(r, d->replaced_by);
    }
    if (d->history) {
        size_t n = 0;
        while (d->history[n])
            n++;
        reply_bulk_cstr(r, "history");
        reply_array(r, (long long)(n / 2));
        for (size_t i = 0; i + 1 < n; i += 2) {
            reply_array(r, 2);
            reply_bulk_cstr(r, d->history[i]);
            reply_bulk_cstr(r, d->history[i + 1]);
        }
    }
    if (d->args) {
        reply_bulk_cstr(r, "arguments");
        reply_doc_args(r, d->args, d->nargs);
    }
}

/* One COMMAND DOCS entry, "name" then its map: summary, since, group, complexity (from
 * the row; a subcommand has its container's group), the generated fields, and a
 * command's subcommands. row is parent's subcommand row, or parent itself. */
static void reply_command_doc(reply_buf *r, const command *parent, const command *row)
{
    char full[96];
    bool is_sub = row != parent;
    const command *subs = is_sub ? NULL : row->subcommands;
    const command_doc *d = command_doc_find(command_full_name(parent, is_sub ? row : NULL, full, sizeof full));
    reply_bulk_cstr(r, full);
    size_t n = (size_t)(row->summary != NULL) + (row->since != NULL) + (parent->group != NULL) +
               (row->complexity != NULL);
    reply_map(r, (long long)(n + doc_extra_fields(d) + (subs != NULL)));
    const char *fields[4][2] = { { "summary", row->summary }, { "since", row->since },
                                 { "group", parent->group }, { "complexity", row->complexity } };
    for (size_t i = 0; i < 4; i++) {
        if (fields[i][1]) {
            reply_bulk_cstr(r, fields[i][0]);
            reply_bulk_cstr(r, fields[i][1]);
        }
    }
    reply_doc_extra(r, d);
    if (!subs)
        return;
    size_t nsubs = 0;
    for (const command *s = subs; s->name; s++)
        nsubs++;
    reply_bulk_cstr(r, "subcommands");
    reply_map(r, (long long)nsubs);
    for (const command *s = subs; s->name; s++)
        reply_command_doc(r, row, s);
}

/* Resolves "name" or "parent|sub" (any case). Sets *sub for a subcommand. */
static const command *lookup_full_name(const resp_arg *a, const command **sub)
{
    *sub = NULL;
    const char *bar = memchr(a->ptr, '|', a->len);
    if (!bar)
        return command_lookup(a->ptr, a->len);
    const command *parent = command_lookup(a->ptr, (size_t)(bar - a->ptr));
    resp_arg rest = { (char *)bar + 1, a->len - (size_t)(bar - a->ptr) - 1 };
    *sub = parent ? command_sub_lookup(parent, &rest) : NULL;
    return *sub ? parent : NULL;
}

static void command_all_info(client *c)
{
    size_t n = command_count();
    reply_array(&c->out, (long long)n);
    for (size_t i = 0; i < n; i++)
        reply_command_info(&c->out, command_at(i), command_at(i));
}

static void command_count_cmd(client *c)
{
    reply_int(&c->out, (long long)command_count());
}

/* COMMAND INFO [name ...]: nil for unknown names; every command without names. */
static void command_info_cmd(client *c)
{
    if (c->argc == 2) {
        command_all_info(c);
        return;
    }
    reply_array(&c->out, (long long)(c->argc - 2));
    for (size_t i = 2; i < c->argc; i++) {
        const command *sub;
        const command *cmd = lookup_full_name(&c->argv[i], &sub);
        if (!cmd)
            reply_null(&c->out);
        else
            reply_command_info(&c->out, cmd, sub ? sub : cmd);
    }
}

/* COMMAND DOCS [name ...]: a map name -> doc; unknown names are left out. */
static void command_docs_cmd(client *c)
{
    if (c->argc == 2) {
        size_t n = command_count();
        reply_map(&c->out, (long long)n);
        for (size_t i = 0; i < n; i++)
            reply_command_doc(&c->out, command_at(i), command_at(i));
        return;
    }
    size_t handle = reply_defer_map(&c->out);
    long long found = 0;
    for (size_t i = 2; i < c->argc; i++) {
        const command *sub;
        const command *cmd = lookup_full_name(&c->argv[i], &sub);
        if (!cmd)
            continue;
        found++;
        reply_command_doc(&c->out, cmd, sub ? sub : cmd);
    }
    reply_fix_map(&c->out, handle, found);
}

/* True when the command (or subcommand) passes a COMMAND LIST filter. */
static bool list_filter_ok(const char *name, uint32_t flags, const char *group, bool container,
                           const char *const *given_cats, int kind, const resp_arg *val)
{
    if (kind == 0)
        return true;
    if (kind == 1)                             /* MODULE: kvns has none */
        return false;
    if (kind == 2) {                           /* ACLCAT */
        const char *cats[16];
        size_t n = acl_categories(flags, group, container, given_cats, cats);
        const char *want = val->ptr;
        size_t wlen = val->len;
        if (wlen && want[0] == '@') {
            want++;
            wlen--;
        }
        for (size_t i = 0; i < n; i++) {
            if (strlen(cats[i] + 1) == wlen && strncasecmp(cats[i] + 1, want, wlen) == 0)
                return true;
        }
        return false;
    }
    return glob_match(val->ptr, val->len, name, strlen(name), true);   /* PATTERN */
}

/* COMMAND LIST [FILTERBY MODULE name | ACLCAT category | PATTERN pattern]: command and
 * subcommand names, as Redis 7 lists them. */
static void command_list_cmd(client *c)
{
    int kind = 0;
    const resp_arg *val = NULL;
    if (c->argc == 5 && arg_is(&c->argv[2], "filterby")) {
        val = &c->argv[4];
        if (arg_is(&c->argv[3], "module"))
            kind = 1;
        else if (arg_is(&c->argv[3], "aclcat"))
            kind = 2;
        else if (arg_is(&c->argv[3], "pattern"))
            kind = 3;
    }
    if (c->argc != 2 && kind == 0) {
        reply_error(&c->out, ERR_SYNTAX);
        return;
    }
    size_t handle = reply_defer_array(&c->out);
    long long n = 0;
    for (size_t i = 0; i < command_count(); i++) {
        const command *cmd = command_at(i);
        const command *subs = cmd->subcommands;
        if (list_filter_ok(cmd->name, cmd->flags, cmd->group, subs != NULL, acl_listed(cmd->name), kind, val)) {
            reply_bulk_cstr(&c->out, cmd->name);
            n++;
        }
        for (const command *s = subs; s && s->name; s++) {
            char full[96];
            snprintf(full, sizeof full, "%s|%s", cmd->name, s->name);
            if (list_filter_ok(full, s->flags, cmd->group, false, acl_listed(full), kind, val)) {
                reply_bulk_cstr(&c->out, full);
                n++;
            }
        }
    }
    reply_fix_array(&c->out, handle, n);
}

/* The key arguments of argv[from..] as a command line, resolved from its command's
 * key specs into refs (positions relative to from); returns the count (0 only for a
 * no_mandatory_keys command), or -1 after replying Redis's error. */
static int command_keys(client *c, size_t from, cmd_key_ref *refs)
{
    const resp_arg *argv = c->argv + from;
    int argc = (int)(c->argc - from);
    const command *cmd = command_lookup(argv[0].ptr, argv[0].len);
    if (cmd)
        cmd = command_find_row(cmd, argv, (size_t)argc);
    if (!cmd) {
        reply_error(&c->out, "ERR Invalid command specified");
        return -1;
    }
    if (!cmd->key_specs) {
        reply_error(&c->out, "ERR The command has no key arguments");
        return -1;
    }
    if ((cmd->arity > 0 && argc != cmd->arity) || argc < -cmd->arity) {
        reply_error(&c->out, "ERR Invalid number of arguments specified for command");
        return -1;
    }
    int n = command_resolve_keys(cmd, argv, argc, refs);
    if (n <= 0 && (cmd->flags & CMD_NO_MANDATORY_KEYS))
        return 0;                                /* EVAL with 0 (or a bad) numkeys: [] as Redis */
    if (n <= 0) {
        reply_error(&c->out, "ERR Invalid arguments specified for command");
        return -1;
    }
    return n;
}

/* COMMAND GETKEYS cmd arg... / COMMAND GETKEYSANDFLAGS cmd arg... */
static void command_getkeys_common(client *c, bool with_flags)
{
    cmd_key_ref *refs = malloc(c->argc * sizeof *refs);
    if (!refs)
        abort();
    int n = command_keys(c, 2, refs);
    if (n >= 0)
        reply_array(&c->out, n);
    for (int i = 0; i < n; i++) {
        const resp_arg *key = &c->argv[2 + refs[i].pos];
        if (with_flags) {
            const char *names[12];
            reply_array(&c->out, 2);
            reply_bulk(&c->out, key->ptr, key->len);
            reply_status_set(&c->out, names, key_flag_names(refs[i].flags, names));
        } else {
            reply_bulk(&c->out, key->ptr, key->len);
        }
    }
    free(refs);
}

static void command_getkeys_cmd(client *c)
{
    command_getkeys_common(c, false);
}

static void command_getkeysandflags_cmd(client *c)
{
    command_getkeys_common(c, true);
}

#define CMD_SUB (CMD_LOADING | CMD_STALE)

const command tsrv_command_subs[] = {
    { "count", 2, CMD_SUB, NULL, command_count_cmd, NULL, "Returns a count of commands.", "2.8.13", "O(1)", NULL },
    { "docs", -2, CMD_SUB, NULL, command_docs_cmd, NULL,
      "Returns documentary information about one, multiple or all commands.", "7.0.0",
      "O(N) where N is the number of commands to look up", NULL },
    { "getkeys", -4, CMD_SUB, NULL, command_getkeys_cmd, NULL, "Extracts the key names from an arbitrary command.",
      "2.8.13", "O(N) where N is the number of arguments to the command", NULL },
    { "getkeysandflags", -4, CMD_SUB, NULL, command_getkeysandflags_cmd, NULL,
      "Extracts the key names and access flags for an arbitrary command.", "7.0.0",
      "O(N) where N is the number of arguments to the command", NULL },
    { "info", -2, CMD_SUB, NULL, command_info_cmd, NULL, "Returns information about one, multiple or all commands.",
      "2.8.13", "O(N) where N is the number of commands to look up", NULL },
    { "list", -2, CMD_SUB, NULL, command_list_cmd, NULL, "Returns a list of command names.", "7.0.0",
      "O(N) where N is the total number of Redis commands", NULL },
    { "help", 2, CMD_SUB, NULL, tsrv_sub_help, NULL, "Returns helpful text about the different subcommands.",
      "5.0.0", "O(1)", NULL },
    { 0 }
};

void tsrv_command(client *c)
{
    command_all_info(c);
}
