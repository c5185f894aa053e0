/*
 * Clock helpers: wall time in milliseconds since the Unix epoch (the API's times)
 * and a monotonic clock for durations and timeouts.
 */
#ifndef HERALD_CORE_CLOCK_H
#define HERALD_CORE_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline int64_t clock_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline uint64_t clock_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static inline uint64_t clock_mono_ms(void)
{
    return clock_mono_us() / 1000u;
}

#endif
