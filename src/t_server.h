/* t_server.h - what the server-command files (t_server.c, t_client.c, t_config.c,
 * t_command.c, t_info.c) share. Private to src/. */
#ifndef KVNS_T_SERVER_H
#define KVNS_T_SERVER_H

#include "kvns/command.h"

#define KVNS_REDIS_VERSION "7.2.4"

/* Flags of subcommand rows (COMMAND INFO reports them like Redis's). */
#define CONN_SUB (CMD_NOSCRIPT | CMD_LOADING | CMD_STALE)
#define ADMIN_SUB (CMD_ADMIN | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE)

void tsrv_info(client *c);                      /* t_info.c: INFO */
void tsrv_command(client *c);                   /* t_command.c: COMMAND (no subcommand) */
void tsrv_latency_histogram(client *c);         /* t_info.c: LATENCY HISTOGRAM */
void tsrv_reset_memory_peak(void);              /* t_info.c: INFO's used_memory_peak */
extern const command tsrv_command_subs[];       /* t_command.c */
extern const command tsrv_client_subs[];        /* t_client.c: CLIENT's */
extern const command tsrv_config_subs[];        /* t_config.c: CONFIG's */

/* CONTAINER HELP generated from argv[0]'s subcommand rows: the handler of a HELP row
 * without a hand-written text. */
void tsrv_sub_help(client *c);
/* Copies an argument into dst for an error text (truncated, one line). */
void tsrv_arg_for_error(const resp_arg *a, char *dst, size_t cap);
/* True when a is a valid client name or lib-name/lib-ver (no spaces or newlines). */
bool tsrv_valid_client_attr(const resp_arg *a);
/* Replaces *slot by a copy of a (NULL when a is empty). */
void tsrv_set_client_string(char **slot, const resp_arg *a);
/* True when user names the default user (AUTH/HELLO AUTH without ACLs). */
bool tsrv_auth_user_ok(const resp_arg *user);

#endif
