/* harness_arena.c - the unit tests' arena fixture (see harness_arena.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "harness_arena.h"
#include "kvns/hash.h"
#include "kvns/list.h"
#include "kvns/set.h"
#include "kvns/store.h"
#include "kvns/zset.h"

void arena_fixture_reset(kv_txn *t, uint32_t shards, uint64_t memory_limit)
{
    static int fd = -1;
    if (fd < 0) {
        arena_params p = { .memory_limit = memory_limit, .shard_count = shards, .lane_count = 4,
                           .undo_bytes = 16u << 20, .max_clients = 16 };
        assert_int_equal(arena_create(&p, &fd), 0);
        txn_init(t, 0);
        store_register_type(KV_LIST, &list_type_ops);
        store_register_type(KV_HASH, &hash_type_ops);
        store_register_type(KV_SET, &set_type_ops);
        store_register_type(KV_ZSET, &zset_type_ops);
    }
    for (uint32_t s = 0; s < arena_hdr()->shard_count; s++) {
        txn_begin(t);
        txn_lock(t, s);
        store_flush_shard(t, s);
        assert_int_equal(txn_commit(t), TXN_OK);
    }
}

void arena_fixture_check(kv_txn *t)
{
    char err[256] = "";
    if (store_check(t, err, sizeof err) != 0)
        fail_msg("store_check: %s", err);
}
