/* rng.c - the per-thread xorshift64* generator of rng.h. */
#include "kvns/rng.h"
#include "kvns/clock.h"

#include <unistd.h>

/* Returns the thread's next value; the first call seeds the state from the monotonic
 * clock, the pid and the state's own address (distinct per thread). */
uint64_t rng_u64(void)
{
    static __thread uint64_t state;
    if (!state) {
        uint64_t ns = clock_mono_ns();
        state = (ns << 20) ^ (ns >> 30) ^ ((uint64_t)getpid() << 40) ^ (uint64_t)(uintptr_t)&state;
        if (!state)
            state = 0x9e3779b97f4a7c15ULL;
    }
    state ^= state >> 12;
    state ^= state << 25;
    state ^= state >> 27;
    return state * 0x2545f4914f6cdd1dULL;
}
