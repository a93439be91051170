/* The MPI group (src/dist/mpi.c), run by tests/group_mpi.sh under mpirun:
 *   test_group_mpi SIZE      every operation on SIZE ranks: sums bitwise
 *                            equal to the documented ring order on every
 *                            rank and twice over, gather, broadcast, agree
 *                            naming the failing rank, checksums; rank 0
 *                            prints each sum's FNV-1a ("sum N HEX") so the
 *                            script can compare two runs
 *   test_group_mpi timeout   the last rank arrives 3 s late at a sum with a
 *                            1 s timeout: the others report it, then abort
 *   test_group_mpi die       the last rank kills itself after one sum while
 *                            the others sum on without a timeout
 * Each rank prints its own checks and summary; mpirun fails if any rank
 * does. */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dist/backend.h"
#include "dist/group.h"
#include "testlib.h"

static void rank_values(float *x, size_t n, int r)
{
    tl_fill(x, n, -1.0f, 1.0f, 17u + (uint32_t)r);
    for (size_t i = 0; i < n; i++) x[i] *= (i % 7 == 0) ? 1e3f : (i % 3 == 0) ? 1e-3f : 1.0f;
}

/* The sum as group.h documents it: chunk c adds rank c's values, then
 * rank c + 1's, ..., rank c - 1's. */
static void ring_order_sum(float *want, size_t n, int size)
{
    float *x = malloc(n * sizeof *x + 1);
    for (int c = 0; c < size; c++) {
        size_t lo, hi;
        fmcl_group_chunk(n, size, c, &lo, &hi);
        rank_values(x, n, c);
        for (size_t i = lo; i < hi; i++) want[i] = x[i];
        for (int k = 1; k < size; k++) {
            rank_values(x, n, (c + k) % size);
            for (size_t i = lo; i < hi; i++) want[i] += x[i];
        }
    }
    free(x);
}

static void check_sums(fmcl_group *g)
{
    const int rank = fmcl_group_rank(g), size = fmcl_group_size(g);
    const size_t sizes[] = {0, 1, 2, (size_t)size - 1, 7, 1000, 100003};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        const size_t n = sizes[k];
        float *x = malloc(n * sizeof *x + 1), *want = malloc(n * sizeof *want + 1),
              *again = malloc(n * sizeof *again + 1);
        rank_values(x, n, rank);
        rank_values(again, n, rank);
        fmcl_status s = fmcl_group_sum(g, x, n);
        if (s == FMCL_OK) s = fmcl_group_sum(g, again, n);
        if (!tl_check(s == FMCL_OK, "rank %d: sum of %zu: %s", rank, n, fmcl_group_error(g)))
            return;
        ring_order_sum(want, n, size);
        tl_check(n == 0 || memcmp(x, want, n * sizeof *x) == 0,
                 "rank %d: sum of %zu floats differs from the ring order", rank, n);
        tl_check(n == 0 || memcmp(x, again, n * sizeof *x) == 0,
                 "rank %d: two sums of %zu floats differ", rank, n);
        const uint64_t h = fmcl_fnv1a(x, n * sizeof *x, FMCL_FNV1A_INIT);
        tl_check(fmcl_group_same(g, h, "the sum's checksum") == FMCL_OK, "rank %d: %s", rank,
                 fmcl_group_error(g));
        /* And close to the exact sum (within float rounding of size terms). */
        double worst = 0, *d = calloc(n + 1, sizeof *d), *mag = calloc(n + 1, sizeof *mag);
        for (int r = 0; r < size; r++) {
            rank_values(want, n, r);
            for (size_t i = 0; i < n; i++) d[i] += want[i], mag[i] += fabs(want[i]);
        }
        for (size_t i = 0; i < n; i++) {
            double e = fabs(x[i] - d[i]) / (mag[i] + 1e-30);
            worst = e > worst ? e : worst;
        }
        free(d);
        free(mag);
        tl_check(worst <= size * 6e-8, "rank %d: sum of %zu off the double sum by %g", rank, n,
                 worst);
        if (rank == 0) printf("sum %zu %016llx\n", n, (unsigned long long)h);
        free(x);
        free(want);
        free(again);
    }
}

static void check_others(fmcl_group *g)
{
    const int rank = fmcl_group_rank(g), size = fmcl_group_size(g);
    int mine[2] = {rank, 100 + rank}, *all = malloc((size_t)size * sizeof mine);
    int ok = fmcl_group_gather(g, mine, all, sizeof mine) == FMCL_OK;
    for (int r = 0; ok && r < size; r++) ok = all[2 * r] == r && all[2 * r + 1] == 100 + r;
    tl_check(ok, "rank %d: gather", rank);
    free(all);

    const size_t bytes = 3u << 20;
    unsigned char *block = malloc(bytes);
    for (size_t i = 0; i < bytes; i++) block[i] = rank == size - 1 ? (unsigned char)(i * 13) : 0;
    ok = fmcl_group_broadcast(g, block, bytes, size - 1) == FMCL_OK;
    for (size_t i = 0; ok && i < bytes; i++) ok = block[i] == (unsigned char)(i * 13);
    tl_check(ok, "rank %d: broadcast of %zu bytes from rank %d", rank, bytes, size - 1);
    free(block);

    tl_check(fmcl_group_agree(g, FMCL_OK, NULL) == FMCL_OK, "rank %d: agree, all fine", rank);
    const int fails = rank == 1;
    fmcl_status s = fmcl_group_agree(g, fails ? FMCL_ERR_IO : FMCL_OK,
                                     fails ? "cannot open data.npy: No such file" : NULL);
    char want[96];
    snprintf(want, sizeof want, "rank 1 of %d: cannot open data.npy: No such file", size);
    tl_check(s == FMCL_ERR_IO && !strcmp(fmcl_group_error(g), want),
             "rank %d: agree with rank 1 failing gave %d '%s'", rank, s, fmcl_group_error(g));
    s = fmcl_group_same(g, rank == size - 1 ? 1 : 2, "the weights' checksum");
    char who[48];
    snprintf(who, sizeof who, "rank %d 0000000000000001", size - 1);
    tl_check(s == FMCL_ERR_NUMERIC && strstr(fmcl_group_error(g), who),
             "rank %d: checksums differing on rank %d gave %d '%s'", rank, size - 1, s,
             fmcl_group_error(g));
}

int main(int argc, char **argv)
{
    fmcl_group *g = NULL;
    char err[512];
    if (fmcl_group_create_mpi(NULL, &g, err, sizeof err) != FMCL_OK) {
        fprintf(stderr, "FAIL creating the MPI group: %s\n", err);
        return 1;
    }
    const int rank = fmcl_group_rank(g), size = fmcl_group_size(g);
    const char *mode = argc > 1 ? argv[1] : "";
    if (!strcmp(mode, "timeout")) {
        fmcl_group_set_timeout(g, 1.0);
        if (rank == size - 1) {
            struct timespec nap = {3, 0};
            nanosleep(&nap, NULL);
        }
        float x[64] = {0};
        const double t0 = fmcl_group_now();
        fmcl_status s = fmcl_group_sum(g, x, 64);
        const double took = fmcl_group_now() - t0;
        printf("rank %d: %.2f s: %s\n", rank, took, fmcl_group_error(g));
        char want[64];
        snprintf(want, sizeof want, "rank 0 had no data from rank %d", size - 1);
        if (rank == 0 && s != FMCL_OK && took >= 0.99 && took < 2.5 &&
            strstr(fmcl_group_error(g), want) && strstr(fmcl_group_error(g), "within 1 s"))
            printf("timeout reported\n");
        fflush(stdout);
        if (s != FMCL_OK) fmcl_group_abort(g, 7);
        fmcl_group_free(g);
        return 0;
    }
    if (!strcmp(mode, "die")) {
        float x[1000];
        rank_values(x, 1000, rank);
        fmcl_status s = fmcl_group_sum(g, x, 1000);
        printf("rank %d: first sum %s\n", rank, s == FMCL_OK ? "done" : fmcl_group_error(g));
        fflush(stdout);
        if (rank == size - 1) raise(SIGKILL);
        for (int i = 0; s == FMCL_OK && i < 1000000; i++) s = fmcl_group_sum(g, x, 1000);
        printf("rank %d: %s\n", rank, fmcl_group_error(g));
        fmcl_group_free(g);
        return 1;
    }
    const int want_size = atoi(mode);
    tl_check(size == want_size && rank >= 0 && rank < size, "rank %d of %d, expected %d ranks",
             rank, size, want_size);
    tl_check(fmcl_group_local_size(g) == size && fmcl_group_local_rank(g) == rank,
             "rank %d: local rank %d of %d on one machine", rank, fmcl_group_local_rank(g),
             fmcl_group_local_size(g));
    fmcl_group_set_timeout(g, 60);
    check_sums(g);
    check_others(g);
    printf("rank %d: ", rank);
    const int rc = tl_summary();
    fmcl_group_free(g);
    return rc;
}
