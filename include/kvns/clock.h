/* clock.h - the clocks of the base layer: the wall clock in unix milliseconds (expiry
 * times, INFO's start time, snapshots) and the monotonic clock (intervals, lock hold
 * times, command latency). One set for shm/ and src/, inline: the dispatcher reads the
 * monotonic clock twice per command. */
#ifndef KVNS_CLOCK_H
#define KVNS_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Unix time in milliseconds. */
static inline int64_t clock_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Unix time in microseconds (INFO's server_time_usec). */
static inline int64_t clock_wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Monotonic time in nanoseconds. */
static inline uint64_t clock_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Monotonic time in microseconds. */
static inline uint64_t clock_mono_us(void)
{
    return clock_mono_ns() / 1000u;
}

/* Monotonic time in milliseconds. */
static inline int64_t clock_mono_ms(void)
{
    return (int64_t)(clock_mono_ns() / 1000000u);
}

#endif
