/* arena.c - creating and mapping the shared-memory arena (see arena.h). */
#include "kvns/arena.h"
#include "kvns/clock.h"
#include "kvns/shard.h"
#include "kvns/clients.h"
#include "kvns/scripts.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

char *arena_base;

static uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) & ~(a - 1); }

static uint64_t lane_held_words(uint32_t shard_count) { return (shard_count + 2 + 63) / 64; }

/* Offsets of every region for the given params; returns the total size. */
/* Namespace ids the params allow: KVNS_MAX_NAMESPACES, or the default when unset. */
static uint32_t ns_limit_of(const arena_params *p)
{
    return p->max_namespaces && p->max_namespaces <= NS_MAX ? p->max_namespaces : NS_DEFAULT_LIMIT;
}

static uint64_t arena_layout(const arena_params *p, arena_header *h)
{
    uint64_t at = align_up(sizeof(arena_header), ARENA_PAGE);
    h->shards_off = at;
    at = align_up(at + (uint64_t)p->shard_count * sizeof(shard), ARENA_PAGE);
    h->lanes_off = at;
    at = align_up(at + (uint64_t)p->lane_count * sizeof(lane), ARENA_PAGE);
    h->ns_bytes_off = at;
    at += (uint64_t)p->shard_count * ns_limit_of(p) * 8;
    h->ns_keys_off = at;
    at = align_up(at + (uint64_t)p->shard_count * ns_limit_of(p) * 8, ARENA_PAGE);
    h->ns_names_off = at;
    at = align_up(at + NS_NAMES_BYTES, ARENA_PAGE);
    /* metrics: one latency series table per lane */
    h->metrics_off = at;
    at += (uint64_t)METRICS_AREA_BYTES * p->lane_count;
    at = align_up(at, ARENA_PAGE);
    h->clients_off = at;
    h->clients_cap = p->max_clients + 64;
    at = align_up(at + (uint64_t)h->clients_cap * CLIENT_SLOT_BYTES, ARENA_PAGE);
    h->scripts_off = at;
    at = align_up(at + SCRIPTS_AREA_BYTES, ARENA_PAGE);
    /* lane areas: held bitmap then undo log */
    uint64_t lane_area = align_up(lane_held_words(p->shard_count) * 8 + p->undo_bytes, ARENA_PAGE);
    uint64_t lanes_area_start = at;
    at += lane_area * p->lane_count;
    h->heap_start = at;
    /* room for the data: the limit, plus slab fragmentation and per-shard slack
     * (every shard may hold a partly used 64 KiB chunk per size class it uses) */
    uint64_t data = p->memory_limit + p->memory_limit / 4 +
                    (uint64_t)p->shard_count * 16 * SLAB_CHUNK_PAGES * ARENA_PAGE + (64ULL << 20);
    h->heap_end = align_up(at + data, ARENA_PAGE);
    (void)lanes_area_start;
    return h->heap_end;
}

uint64_t arena_size_for(const arena_params *p)
{
    arena_header h;
    memset(&h, 0, sizeof h);
    return arena_layout(p, &h);
}

/* Initialises a robust, process-shared mutex in arena memory. */
static void robust_mutex_init(pthread_mutex_t *m)
{
    pthread_mutexattr_t a;
    memset(m, 0, sizeof *m);
    pthread_mutexattr_init(&a);
    pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
    pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
    pthread_mutex_init(m, &a);
    pthread_mutexattr_destroy(&a);
}


uint64_t lane_stat_sum(enum lane_stat k)
{
    uint64_t n = 0;
    for (uint32_t i = 0; i < arena_hdr()->lane_count; i++)
        n += __atomic_load_n(&arena_lane(i)->stat[k], __ATOMIC_RELAXED);
    return n;
}

/* Sums the keyspace counters of every shard (relaxed loads: INFO and /metrics
 * tolerate a count in flight). */
shard_stat_totals shard_stats_sum(void)
{
    shard_stat_totals t = { 0 };
    for (uint32_t s = 0; s < arena_hdr()->shard_count; s++) {
        const shard *sh = arena_shard(s);
        t.hits += __atomic_load_n(&sh->stat_hits, __ATOMIC_RELAXED);
        t.misses += __atomic_load_n(&sh->stat_misses, __ATOMIC_RELAXED);
        t.expired += __atomic_load_n(&sh->stat_expired, __ATOMIC_RELAXED);
        t.evicted += __atomic_load_n(&sh->stat_evicted, __ATOMIC_RELAXED);
    }
    return t;
}

/* Zeroes the keyspace counters of every shard (CONFIG RESETSTAT). */
void shard_stats_reset(void)
{
    for (uint32_t s = 0; s < arena_hdr()->shard_count; s++) {
        shard *sh = arena_shard(s);
        __atomic_store_n(&sh->stat_hits, 0, __ATOMIC_RELAXED);
        __atomic_store_n(&sh->stat_misses, 0, __ATOMIC_RELAXED);
        __atomic_store_n(&sh->stat_expired, 0, __ATOMIC_RELAXED);
        __atomic_store_n(&sh->stat_evicted, 0, __ATOMIC_RELAXED);
    }
}

shard *arena_shard(uint32_t i)
{
    return (shard *)(arena_base + arena_hdr()->shards_off) + i;
}

int arena_create(const arena_params *p, int *fd_out)
{
    arena_header tmp;
    memset(&tmp, 0, sizeof tmp);
    uint64_t size = arena_layout(p, &tmp);
    if (size > ARENA_MAX_BYTES) {
        errno = EFBIG;
        return -1;
    }
    int fd = memfd_create("kvns-arena", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0)
        return -1;
    if (ftruncate(fd, (off_t)size) != 0)
        goto fail;
    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
    void *base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd, 0);
    if (base == MAP_FAILED)
        goto fail;
    arena_base = base;
    arena_header *h = arena_hdr();
    *h = tmp;
    h->magic = ARENA_MAGIC;
    h->version = ARENA_VERSION;
    h->mutex_size = sizeof(pthread_mutex_t);
    h->size = size;
    if (getrandom(&h->hash_seed, sizeof h->hash_seed, 0) != sizeof h->hash_seed)
        h->hash_seed = (uint64_t)time(NULL) * 0x9e3779b97f4a7c15ULL;
    h->run_id = h->hash_seed ^ (uint64_t)getpid();
    h->shard_count = p->shard_count;
    h->shard_bits = (uint32_t)__builtin_ctz(p->shard_count);
    h->lane_count = p->lane_count;
    h->memory_limit = p->memory_limit;
    h->ns_limit = ns_limit_of(p);
    h->evict_threshold = 1.0;
    h->start_time_ms = clock_wall_ms();
    robust_mutex_init(&h->heap_lock);
    robust_mutex_init(&h->ns_lock);
    robust_mutex_init(&h->fn_lock);
    robust_mutex_init(&h->scripts_lock);
    robust_mutex_init(&h->errstats_lock);
    h->busy_reply_threshold_ms = 5000;
    h->heap_bump = h->heap_start;

    for (uint32_t i = 0; i < p->shard_count; i++) {
        shard *sh = arena_shard(i);
        memset(sh, 0, sizeof *sh);
        robust_mutex_init(&sh->lock);
        sh->id = i;
        sh->ht.rehash_idx = -1;
    }
    uint64_t held_words = lane_held_words(p->shard_count);
    uint64_t lane_area = align_up(held_words * 8 + p->undo_bytes, ARENA_PAGE);
    aoff area = h->heap_start - lane_area * p->lane_count;
    for (uint32_t i = 0; i < p->lane_count; i++) {
        lane *ln = arena_lane(i);
        memset(ln, 0, sizeof *ln);
        ln->held_off = area + lane_area * i;
        ln->held_words = held_words;
        ln->undo_off = ln->held_off + held_words * 8;
        ln->undo_cap = lane_area - held_words * 8;
        ln->metrics_off = h->metrics_off + (uint64_t)METRICS_AREA_BYTES * i; /* metrics */
    }
    /* namespace 0 is "default" */
    memcpy(arena_base + h->ns_names_off, "default", 7);
    h->ns[0].len = 7;
    h->ns[0].name_off = 0;
    h->ns[0].cap = 7;
    h->ns[0].state = NS_LIVE;
    h->ns_names_used = 7;
    h->ns_count = 1;
    *fd_out = fd;
    return 0;
fail: {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
}

int arena_attach(int fd)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return -1;
    void *base = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd, 0);
    if (base == MAP_FAILED)
        return -1;
    arena_header *h = base;
    if (h->magic != ARENA_MAGIC || h->version != ARENA_VERSION ||
        h->mutex_size != sizeof(pthread_mutex_t) || h->size != (uint64_t)st.st_size) {
        munmap(base, (size_t)st.st_size);
        errno = EINVAL;
        return -1;
    }
    arena_base = base;
    return 0;
}
