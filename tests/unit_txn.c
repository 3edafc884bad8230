/* unit_txn.c - the undo log past the lane's own area: transactions that log many
 * times the area (a small one here, so that they are quick) commit, abort and roll
 * back to savepoints across segment boundaries, return their segments, fail cleanly
 * when the arena has no room for another, and stay crash-atomic when a child is
 * killed at every undo record, at each step of linking a segment and at the commit
 * point - recovered by the next locker, by the sweep, and after the heap lock was
 * recovered first and its memory handed out again; and a transaction never gets back
 * the pages it freed itself. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "kvns/alloc.h"
#include "kvns/shard.h"
#include "kvns/store.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define SHARDS    4
#define UNDO_AREA 4088             /* per lane, the log's first segment: with the held
                                      bitmap, one page */
#define NKEYS     400

static kv_txn txn;

/* Every test starts from an empty store in an arena whose lanes have small areas. */
static int setup(void **state)
{
    (void)state;
    static int fd = -1;
    if (fd < 0) {
        arena_params p = { .memory_limit = 64u << 20, .shard_count = SHARDS, .lane_count = 4,
                           .undo_bytes = UNDO_AREA, .max_clients = 16 };
        assert_int_equal(arena_create(&p, &fd), 0);
        txn_init(&txn, 0);
    }
    for (uint32_t s = 0; s < SHARDS; s++) {
        txn_begin(&txn);
        txn_lock(&txn, s);
        store_flush_shard(&txn, s);
        assert_int_equal(txn_commit(&txn), TXN_OK);
    }
    return 0;
}

static void check_store(void)
{
    char err[256] = "";
    if (store_check(&txn, err, sizeof err) != 0)
        fail_msg("store_check: %s", err);
}

/* Locks every shard for t's open transaction. */
static void lock_all(kv_txn *t)
{
    uint32_t ids[SHARDS];
    for (uint32_t s = 0; s < SHARDS; s++)
        ids[s] = s;
    txn_lock_many(t, ids, SHARDS);
}

/* Writes key i's value for round r: "r<r>-<i>-" then a filler whose length depends
 * on i and r, so that rounds mix in-place overwrites with new entries (allocations
 * and deferred frees) and every 11th key is deleted first. */
static void write_key(kv_txn *t, int i, int round)
{
    char key[32], val[400];
    snprintf(key, sizeof key, "k:%d", i);
    kv_key k;
    key_init(&k, key, strlen(key));
    int n = snprintf(val, sizeof val, "r%d-%d-", round, i);
    static const int fill[4] = { 40, 90, 300, 40 };
    int len = fill[(i + (round & 1)) % 4];
    memset(val + n, 'a' + round % 26, (size_t)len);
    if (i % 11 == 0)
        store_delete(t, &k);
    store_put_string(t, &k, val, (size_t)(n + len), -1, NULL);
}

/* One transaction over every shard that writes keys [0, n) for round r. */
static int mutate(kv_txn *t, int round, int n)
{
    txn_begin(t);
    lock_all(t);
    for (int i = 0; i < n; i++)
        write_key(t, i, round);
    return txn_commit(t);
}

/* The round key i carries (-1: missing), looked up inside t's open transaction. */
static int round_in(kv_txn *t, int i)
{
    char key[32];
    snprintf(key, sizeof key, "k:%d", i);
    kv_key k;
    key_init(&k, key, strlen(key));
    kv_entry *e = store_find(t, &k);
    int r = -1;
    if (e)
        sscanf(entry_str(e), "r%d-", &r);
    return r;
}

/* The round key i carries (-1: missing), in a transaction of its own. */
static int round_of(int i)
{
    txn_begin(&txn);
    lock_all(&txn);
    int r = round_in(&txn, i);
    txn_commit(&txn);
    return r;
}

/* The round every key of [0, n) carries, or -2 when they differ (a torn write). */
static int rounds_present(int n)
{
    int first = round_of(0);
    for (int i = 1; i < n; i++)
        if (round_of(i) != first)
            return -2;
    return first;
}

static uint64_t heap_pages(void) { return __atomic_load_n(&arena_hdr()->heap_pages_used, __ATOMIC_RELAXED); }

/* A transaction logging many areas' worth commits, its segments go back to the heap
 * (an in-place rewrite allocates nothing else: the page count is unchanged) and an
 * abort of another one returns every page it took. */
static void test_large_transaction_commits_and_aborts(void **state)
{
    (void)state;
    assert_int_equal(mutate(&txn, 0, NKEYS), TXN_OK);
    assert_int_equal(mutate(&txn, 1, NKEYS), TXN_OK);
    assert_int_equal(mutate(&txn, 2, NKEYS), TXN_OK);   /* lengths as round 0: in place */
    uint64_t pages = heap_pages();
    txn_begin(&txn);
    lock_all(&txn);
    for (int i = 0; i < NKEYS; i++)
        write_key(&txn, i, 4);
    assert_true(txn.ln->undo_used > 4 * txn.ln->undo_cap);
    assert_true(txn.ln->undo_next != 0);
    assert_int_equal(arena_hdr()->undo_chains, 1);
    assert_int_equal(txn_commit(&txn), TXN_OK);
    assert_int_equal(rounds_present(NKEYS), 4);
    assert_int_equal(txn.ln->undo_next, 0);
    assert_int_equal(arena_hdr()->undo_chains, 0);
    check_store();
    /* round 4 rewrote round 2's entries in place except the deleted ones, which come
     * back in the same size class: nothing but the log needed pages */
    assert_int_equal(heap_pages(), pages);

    txn_begin(&txn);
    lock_all(&txn);
    for (int i = 0; i < NKEYS; i++)
        write_key(&txn, i, 5);
    assert_true(heap_pages() > pages);
    txn_abort(&txn);
    assert_int_equal(heap_pages(), pages);
    assert_int_equal(rounds_present(NKEYS), 4);
    assert_int_equal(arena_hdr()->undo_chains, 0);
    check_store();
}

/* Savepoints across segment boundaries: rolling back to one taken two segments in
 * undoes only what followed it (words written before it and again after it too),
 * returns the later segments and leaves the writer where the savepoint was; the log
 * then grows again and commits. A savepoint in the lane's own area unlinks them all. */
static void test_savepoint_across_segments(void **state)
{
    (void)state;
    assert_int_equal(mutate(&txn, 0, NKEYS), TXN_OK);
    txn_begin(&txn);
    lock_all(&txn);
    int a = NKEYS / 3;
    for (int i = 0; i < a; i++)
        write_key(&txn, i, 1);
    assert_true(txn.seg_run != 0);
    txn_savepoint sp = txn_savepoint_take(&txn);
    aoff run_at_sp = txn.seg_run;
    for (int i = 0; i < NKEYS; i++)
        write_key(&txn, i, 2);
    assert_true(txn.seg_run != run_at_sp);
    uint64_t pages_late = heap_pages();
    txn_rollback_to(&txn, &sp);
    assert_int_equal(txn.ln->undo_used, sp.undo_used);
    assert_int_equal(txn.seg_run, run_at_sp);
    assert_true(heap_pages() < pages_late);
    for (int i = 0; i < NKEYS; i++)
        assert_int_equal(round_in(&txn, i), i < a ? 1 : 0);
    for (int i = a; i < NKEYS; i++)
        write_key(&txn, i, 3);
    assert_int_equal(txn_commit(&txn), TXN_OK);
    for (int i = 0; i < NKEYS; i++)
        assert_int_equal(round_of(i), i < a ? 1 : 3);
    check_store();

    uint64_t pages = heap_pages();
    txn_begin(&txn);
    lock_all(&txn);
    write_key(&txn, 0, 4);
    sp = txn_savepoint_take(&txn);
    assert_int_equal(txn.seg_run, 0);
    for (int i = 0; i < NKEYS; i++)
        write_key(&txn, i, 5);
    assert_true(txn.ln->undo_next != 0);
    txn_rollback_to(&txn, &sp);
    assert_int_equal(txn.ln->undo_next, 0);
    assert_int_equal(arena_hdr()->undo_chains, 0);
    assert_int_equal(round_in(&txn, 0), 4);
    assert_int_equal(round_in(&txn, 1), 1);
    assert_int_equal(round_in(&txn, NKEYS - 1), 3);
    txn_abort(&txn);
    assert_int_equal(heap_pages(), pages);
    assert_int_equal(round_of(0), 1);
    check_store();
}

/* Takes the heap lock alone (recovering it first if its owner died: a dead lane's
 * segments become free pages again), then takes every page run it can get, of
 * several sizes, and scribbles over them, before giving them back: what a busy
 * server would do with the memory before the dead lane's shards are recovered. */
static void reuse_heap_memory(void)
{
    txn_begin(&txn);
    txn_lock(&txn, lock_id_heap());
    for (int i = 0; i < 96; i++) {
        uint64_t np = 1 + (uint64_t)(i % 8);
        aoff run = alloc_undo_segment(&txn, np);
        if (!run)
            break;
        memset((char *)arena_ptr(run) + sizeof(run_header), 0xab, np * ARENA_PAGE - sizeof(run_header));
    }
    txn_abort(&txn);
}

/* How a test recovers after the child on lane 1 died. */
enum recovery { BY_SWEEP, BY_NEXT_LOCKER, HEAP_FIRST };

/* Recovers lane 1 the way `how` says, then checks the store and that the lane and
 * the heap's segment bookkeeping are clean. */
static void recover(enum recovery how)
{
    if (how == HEAP_FIRST)
        reuse_heap_memory();
    if (how != BY_SWEEP)
        (void)rounds_present(NKEYS);   /* each shard lock: EOWNERDEAD, undone */
    lane_sweep(1);
    assert_int_equal(lanes_busy(), 0);
    assert_int_equal(arena_hdr()->undo_chains, 0);
    assert_int_equal(arena_lane(1)->undo_next, 0);
    check_store();
}

/* Runs round `round` of the writes in a child on lane 1 with the given kill hooks;
 * returns true when it finished without being killed. */
static bool run_child(int round, long kill_after, int kill_grow, int kill_commit)
{
    pid_t pid = fork();
    if (pid == 0) {
        kv_txn child;
        txn_init(&child, 1);
        txn_kill_after_records = kill_after;
        txn_kill_at_grow = kill_grow;
        txn_kill_at_commit = kill_commit;
        _exit(mutate(&child, round, NKEYS) == TXN_OK ? 0 : 1);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    if (WIFEXITED(st)) {
        assert_int_equal(WEXITSTATUS(st), 0);
        return true;
    }
    assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    return false;
}

/* Kills the child at every undo record of a transaction spanning several segments
 * (so at every record around each boundary, the growths' own heap records included),
 * recovering in turn by the sweep, by the next locker and with the heap recovered and
 * reused first: every key keeps the old round or all have the new one. */
static void test_crash_at_every_record(void **state)
{
    (void)state;
    assert_int_equal(mutate(&txn, 0, NKEYS), TXN_OK);
    int committed = 0, rolled_back = 0;
    bool finished = false;
    for (long k = 1; !finished; k++) {
        int before = rounds_present(NKEYS);
        finished = run_child(before + 1, k, 0, 0);
        recover((enum recovery)(k % 3));
        int now = rounds_present(NKEYS);
        if (now == -2)
            fail_msg("torn transaction after a kill at undo record %ld", k);
        assert_true(now == before || now == before + 1);
        if (now == before)
            rolled_back++;
        else
            committed++;
        assert_true(k < 100000);
    }
    assert_true(rolled_back > 4 * UNDO_AREA / 100);   /* many areas' worth of records */
    print_message("kills: %d rolled back, %d committed\n", rolled_back, committed);
}

/* Kills the child at each step of taking a segment (taken, linked, unpublished),
 * while the commit returns them, and on both sides of the commit point. */
static void test_crash_while_linking_and_committing(void **state)
{
    (void)state;
    assert_int_equal(mutate(&txn, 0, NKEYS), TXN_OK);
    for (int step = 1; step <= 3; step++) {
        for (int how = BY_SWEEP; how <= HEAP_FIRST; how++) {
            int before = rounds_present(NKEYS);
            assert_false(run_child(before + 1, 0, step, 0));
            recover((enum recovery)how);
            assert_int_equal(rounds_present(NKEYS), before);
        }
    }
    for (int point = 1; point <= 2; point++) {
        int before = rounds_present(NKEYS);
        assert_false(run_child(before + 1, 0, 0, point));
        recover(HEAP_FIRST);
        assert_int_equal(rounds_present(NKEYS), point == 1 ? before : before + 1);
    }
}

/* True when round r's write of key i is an in-place overwrite of round 0's value
 * (same length, inline, not deleted first): it allocates nothing. */
static bool in_place(int i, int round) { return round % 2 == 0 && i % 11 != 0 && i % 4 != 2; }

/* A transaction that cannot get another segment (the heap exhausted by its own
 * allocations) fails with TXN_E_UNDO_FULL and changes nothing. */
static void test_no_room_for_a_segment_fails_cleanly(void **state)
{
    (void)state;
    assert_int_equal(mutate(&txn, 0, NKEYS), TXN_OK);
    uint64_t pages = heap_pages();
    txn_begin(&txn);
    lock_all(&txn);
    for (int i = 0; i < NKEYS / 2; i++)
        write_key(&txn, i, 1);
    for (uint64_t np = 256; np >= 1; np /= 2)
        while (!txn.failed && alloc_undo_segment(&txn, np))
            ;
    for (int i = 0; i < NKEYS; i++)
        if (in_place(i, 2))
            write_key(&txn, i, 2);
    assert_int_equal(txn.failed, TXN_E_UNDO_FULL);
    assert_int_equal(txn_commit(&txn), TXN_E_UNDO_FULL);
    assert_int_equal(heap_pages(), pages);
    assert_int_equal(rounds_present(NKEYS), 0);
    assert_int_equal(arena_hdr()->undo_chains, 0);
    check_store();
    assert_int_equal(mutate(&txn, 3, NKEYS), TXN_OK);   /* and the next one has room */
    assert_int_equal(rounds_present(NKEYS), 3);
}

/* A shard flushed inside a transaction returns its chunks to the heap at once; what
 * the same transaction allocates next must not land in them (it would overwrite the
 * flushed keys a rollback brings back). */
static void test_flushed_chunks_not_reused_before_commit(void **state)
{
    (void)state;
    assert_int_equal(mutate(&txn, 0, NKEYS), TXN_OK);
    txn_begin(&txn);
    lock_all(&txn);
    for (uint32_t s = 0; s < SHARDS; s++)
        store_flush_shard(&txn, s);
    assert_int_equal(round_in(&txn, 1), -1);
    for (int i = 0; i < NKEYS; i++)
        write_key(&txn, i, 1);
    txn_abort(&txn);
    assert_int_equal(rounds_present(NKEYS), 0);
    check_store();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_large_transaction_commits_and_aborts, setup),
        cmocka_unit_test_setup(test_savepoint_across_segments, setup),
        cmocka_unit_test_setup(test_crash_at_every_record, setup),
        cmocka_unit_test_setup(test_crash_while_linking_and_committing, setup),
        cmocka_unit_test_setup(test_no_room_for_a_segment_fails_cleanly, setup),
        cmocka_unit_test_setup(test_flushed_chunks_not_reused_before_commit, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
