/* What the backends of dist/group.h share: the fixed chunks a sum is split
 * into, and the clock their timeouts run on. */
#ifndef FMCL_DIST_BACKEND_H
#define FMCL_DIST_BACKEND_H

#include <stddef.h>
#include <time.h>

/* Chunk c of n elements split into parts: [*lo, *hi), the first n % parts
 * chunks one element longer. Depends on (n, parts, c) only, so every rank
 * and every run splits alike. */
static inline void fmcl_group_chunk(size_t n, int parts, int c, size_t *lo, size_t *hi)
{
    const size_t q = n / (size_t)parts, r = n % (size_t)parts, k = (size_t)c;
    *lo = k * q + (k < r ? k : r);
    *hi = *lo + q + (k < r ? 1 : 0);
}

/* Seconds on the monotonic clock. */
static inline double fmcl_group_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

#endif
