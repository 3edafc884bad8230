/* rng.h - the base layer's pseudo-random numbers (shm/base/rng.c): a per-thread
 * xorshift64* generator for sampling (random keys, eviction candidates, dict buckets,
 * skiplist levels). Not for secrets. random(3) takes a process-wide lock; this does not. */
#ifndef KVNS_RNG_H
#define KVNS_RNG_H

#include <stdint.h>

/* The calling thread's next 64 random bits (seeded from the clock, the pid and the
 * thread on first use). */
uint64_t rng_u64(void);

#endif
