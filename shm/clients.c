/* clients.c - the shared client registry (see clients.h). */
#include "kvns/clients.h"

#include <string.h>

client_slot *clients_slot(uint32_t i)
{
    return (client_slot *)(arena_base + arena_hdr()->clients_off + (uint64_t)i * CLIENT_SLOT_BYTES);
}

uint32_t clients_capacity(void) { return arena_hdr()->clients_cap; }

int clients_claim(uint64_t id, uint32_t lane_id)
{
    uint32_t cap = clients_capacity();
    uint32_t start = (uint32_t)(id * 2654435761u) % cap;
    for (uint32_t n = 0; n < cap; n++) {
        uint32_t i = (start + n) % cap;
        client_slot *s = clients_slot(i);
        uint64_t expect = 0;
        if (__atomic_load_n(&s->id, __ATOMIC_RELAXED) == 0 &&
            __atomic_compare_exchange_n(&s->id, &expect, UINT64_MAX, false, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) {
            /* reserved (UINT64_MAX) while filled, then published with its id */
            memset((char *)s + sizeof s->id, 0, sizeof *s - sizeof s->id);
            s->lane = lane_id;
            __atomic_store_n(&s->id, id, __ATOMIC_RELEASE);
            return (int)i;
        }
    }
    return -1;
}

void clients_release(int i)
{
    if (i >= 0)
        __atomic_store_n(&clients_slot((uint32_t)i)->id, 0, __ATOMIC_RELEASE);
}

void clients_release_lane(uint32_t lane_id)
{
    for (uint32_t i = 0; i < clients_capacity(); i++) {
        client_slot *s = clients_slot(i);
        if (__atomic_load_n(&s->id, __ATOMIC_ACQUIRE) != 0 && s->lane == lane_id)
            __atomic_store_n(&s->id, 0, __ATOMIC_RELEASE);
    }
}

void clients_set_field(char *field, size_t cap, const char *s, size_t len)
{
    if (len >= cap)
        len = cap - 1;
    memcpy(field, s, len);
    field[len] = 0;
}
