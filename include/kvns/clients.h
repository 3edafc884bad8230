/* clients.h - the registry of connected clients, shared by every worker (CLIENT LIST,
 * CLIENT KILL, INFO clients across processes).
 *
 * Each connection claims one slot; only the thread serving it writes the slot (plain
 * relaxed stores: it is a diagnostic view, not store data, so it is not undo-logged).
 * CLIENT KILL from any process sets the slot's kill flag and bumps the owner lane's
 * kill_seq; the owner closes the connection on its next loop turn. Slots of a dead
 * worker are released by the sweep. */
#ifndef KVNS_CLIENTS_H
#define KVNS_CLIENTS_H

#include "kvns/arena.h"

#define CLIENT_SLOT_BYTES 384

typedef struct client_slot {
    uint64_t id;                /* 0: free; claimed with a compare-and-swap */
    uint32_t lane;
    uint32_t kill;              /* set by CLIENT KILL */
    int32_t  fd;
    int32_t  pid;
    uint32_t resp;
    uint32_t last_cmd;          /* command index + 1, 0 = none yet */
    int64_t  created_ms;
    int64_t  last_ms;
    uint64_t qbuf, obuf;        /* bytes buffered in and out at the last update */
    uint64_t commands;
    char     addr[48];
    char     laddr[48];
    char     name[96];
    char     lib_name[48];
    char     lib_ver[48];
} client_slot;

_Static_assert(sizeof(client_slot) <= CLIENT_SLOT_BYTES, "client_slot outgrew its size");

client_slot *clients_slot(uint32_t i);
uint32_t clients_capacity(void);
/* Claims a free slot for client id served by lane; returns its index or -1. */
int clients_claim(uint64_t id, uint32_t lane_id);
/* Releases slot i (the connection closed). */
void clients_release(int i);
/* Releases every slot owned by lane (its thread died). */
void clients_release_lane(uint32_t lane_id);
/* Copies s into a fixed slot field, NUL-terminated and truncated. */
void clients_set_field(char *field, size_t cap, const char *s, size_t len);

#endif
