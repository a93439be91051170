/* Groups without MPI (src/dist): NULL as one process, the custom-ops
 * constructor's checks, and groups of threads: sums bitwise equal to the
 * fixed rank order on every rank and every run, gather, broadcast, agree
 * naming the failing rank, checksum comparison, and timeouts and aborts
 * that free the waiting ranks. Host only. MPI: tests/test_group_mpi.c. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dist/backend.h"
#include "dist/group.h"
#include "testlib.h"

#define MAXN 5
static const size_t sizes[] = {0, 1, 2, 7, 1000, 100003};
#define NSIZES (sizeof sizes / sizeof sizes[0])
#define LARGEST 100003

/* Rank r's values: magnitudes spread over 1e-3 .. 1e3 so that the order of
 * additions shows in the last bits. */
static void rank_values(float *x, size_t n, int r)
{
    tl_fill(x, n, -1.0f, 1.0f, 17u + (uint32_t)r);
    for (size_t i = 0; i < n; i++) x[i] *= (i % 7 == 0) ? 1e3f : (i % 3 == 0) ? 1e-3f : 1.0f;
}

/* What one thread saw; checked on the main thread (tl_check is not
 * thread-safe). */
typedef struct {
    fmcl_group *g;
    int rank, size;
    int mode; /* 0: every operation; 1: the last rank is late (timeout); 2: rank 0 aborts */
    float *sums[NSIZES];
    float *again; /* the largest sum, a second time */
    int gather_ok, bcast_ok;
    fmcl_status agree_ok, agree_fail, same_ok, same_fail;
    char agree_msg[1024], same_msg[1024];
    fmcl_status late;
    double late_s;
    char late_msg[1024];
} job;

static void *run_rank(void *arg)
{
    job *j = arg;
    if (j->mode == 1) {
        fmcl_group_set_timeout(j->g, 0.3);
        if (j->rank == j->size - 1) {
            struct timespec nap = {1, 0};
            nanosleep(&nap, NULL);
        }
        float x[4] = {0};
        const double t0 = fmcl_group_now();
        j->late = fmcl_group_sum(j->g, x, 4);
        j->late_s = fmcl_group_now() - t0;
        snprintf(j->late_msg, sizeof j->late_msg, "%s", fmcl_group_error(j->g));
        return NULL;
    }
    if (j->mode == 2) {
        const double t0 = fmcl_group_now();
        if (j->rank == 0) {
            fmcl_group_abort(j->g, 3);
            j->late = FMCL_ERR_GROUP;
        } else {
            float x[4] = {0};
            j->late = fmcl_group_sum(j->g, x, 4);
        }
        j->late_s = fmcl_group_now() - t0;
        snprintf(j->late_msg, sizeof j->late_msg, "%s", fmcl_group_error(j->g));
        return NULL;
    }
    for (size_t k = 0; k < NSIZES; k++) {
        j->sums[k] = malloc((sizes[k] + 1) * sizeof(float));
        rank_values(j->sums[k], sizes[k], j->rank);
        if (fmcl_group_sum(j->g, j->sums[k], sizes[k]) != FMCL_OK) return NULL;
    }
    j->again = malloc(LARGEST * sizeof(float));
    rank_values(j->again, LARGEST, j->rank);
    if (fmcl_group_sum(j->g, j->again, LARGEST) != FMCL_OK) return NULL;

    int mine[3] = {j->rank, 10 * j->rank, -j->rank}, all[MAXN * 3];
    j->gather_ok = fmcl_group_gather(j->g, mine, all, sizeof mine) == FMCL_OK;
    for (int r = 0; r < j->size; r++)
        j->gather_ok &= all[3 * r] == r && all[3 * r + 1] == 10 * r && all[3 * r + 2] == -r;

    char block[3000];
    for (size_t i = 0; i < sizeof block; i++) block[i] = (char)(j->rank == j->size - 1 ? i * 7 : 0);
    j->bcast_ok = fmcl_group_broadcast(j->g, block, sizeof block, j->size - 1) == FMCL_OK;
    for (size_t i = 0; i < sizeof block; i++) j->bcast_ok &= block[i] == (char)(i * 7);

    j->agree_ok = fmcl_group_agree(j->g, FMCL_OK, NULL);
    const int fails = j->size > 1 && j->rank == 1;
    j->agree_fail = fmcl_group_agree(j->g, fails ? FMCL_ERR_NOMEM : FMCL_OK,
                                     fails ? "the device ran out of memory" : NULL);
    snprintf(j->agree_msg, sizeof j->agree_msg, "%s", fmcl_group_error(j->g));

    j->same_ok = fmcl_group_same(j->g, 0x1234, "the weights' checksum");
    j->same_fail = fmcl_group_same(j->g, j->rank == j->size - 1 ? 99 : 0x1234,
                                   "the weights' checksum");
    snprintf(j->same_msg, sizeof j->same_msg, "%s", fmcl_group_error(j->g));
    return NULL;
}

/* Runs `size` threads on a fresh thread group in the given mode. */
static int run_group(int size, int mode, job *jobs)
{
    fmcl_group *g[MAXN];
    char err[256];
    if (!tl_check(fmcl_group_create_threads(size, g, err, sizeof err) == FMCL_OK,
                  "a group of %d threads: %s", size, err))
        return 0;
    pthread_t th[MAXN];
    for (int r = 0; r < size; r++) {
        memset(&jobs[r], 0, sizeof jobs[r]);
        jobs[r] = (job){.g = g[r], .rank = r, .size = size, .mode = mode};
        tl_check(fmcl_group_rank(g[r]) == r && fmcl_group_size(g[r]) == size &&
                     fmcl_group_local_rank(g[r]) == r && fmcl_group_local_size(g[r]) == size,
                 "member %d of %d: rank %d size %d local %d of %d", r, size, fmcl_group_rank(g[r]),
                 fmcl_group_size(g[r]), fmcl_group_local_rank(g[r]), fmcl_group_local_size(g[r]));
    }
    for (int r = 0; r < size; r++) pthread_create(&th[r], NULL, run_rank, &jobs[r]);
    for (int r = 0; r < size; r++) pthread_join(th[r], NULL);
    for (int r = 0; r < size; r++) fmcl_group_free(g[r]);
    return 1;
}

static void check_operations(int size)
{
    job jobs[MAXN];
    if (!run_group(size, 0, jobs)) return;
    float *x[MAXN], *want = malloc(LARGEST * sizeof *want), *rev = malloc(LARGEST * sizeof *rev);
    for (int r = 0; r < size; r++) {
        x[r] = malloc(LARGEST * sizeof(float));
        rank_values(x[r], LARGEST, r);
    }
    for (size_t k = 0; k < NSIZES; k++) {
        /* The documented order: rank 0's values, plus rank 1's, ... */
        size_t n = sizes[k], differ = 0, reordered = 0;
        for (size_t i = 0; i < n; i++) {
            float s = x[0][i], t = x[size - 1][i];
            for (int r = 1; r < size; r++) s += x[r][i];
            for (int r = size - 2; r >= 0; r--) t += x[r][i];
            want[i] = s;
            rev[i] = t;
            reordered += memcmp(&s, &t, sizeof s) != 0;
        }
        for (int r = 0; r < size; r++)
            if (jobs[r].sums[k] && n && memcmp(jobs[r].sums[k], want, n * sizeof *want) != 0)
                differ++;
        tl_check(jobs[0].sums[k] && differ == 0,
                 "%d threads, sum of %zu floats: %zu ranks differ from rank order", size, n,
                 differ);
        if (n == LARGEST && size > 2)
            tl_check(reordered > 0, "%d threads: the test data hides the order of additions", size);
        if (n == LARGEST) {
            double worst = 0;
            for (size_t i = 0; i < n; i++) {
                double d = 0, mag = 0;
                for (int r = 0; r < size; r++) d += x[r][i], mag += fabs(x[r][i]);
                double e = fabs(want[i] - d) / (mag + 1e-30);
                worst = e > worst ? e : worst;
            }
            tl_check(worst <= size * 6e-8, "%d threads: sum off the double sum by %g", size, worst);
        }
    }
    for (int r = 0; r < size; r++) {
        tl_check(jobs[r].again && memcmp(jobs[r].again, want, LARGEST * sizeof *want) == 0,
                 "%d threads, rank %d: a second sum of the same values gave other bits", size, r);
        tl_check(jobs[r].gather_ok, "%d threads, rank %d: gather", size, r);
        tl_check(jobs[r].bcast_ok, "%d threads, rank %d: broadcast from rank %d", size, r,
                 size - 1);
        tl_check(jobs[r].agree_ok == FMCL_OK, "%d threads, rank %d: agree when all are fine", size,
                 r);
        if (size > 1) {
            char want_msg[128];
            snprintf(want_msg, sizeof want_msg, "rank 1 of %d: the device ran out of memory", size);
            tl_check(jobs[r].agree_fail == FMCL_ERR_NOMEM && strstr(jobs[r].agree_msg, want_msg),
                     "%d threads, rank %d: agree with rank 1 failing gave %d '%s'", size, r,
                     jobs[r].agree_fail, jobs[r].agree_msg);
            char rank_msg[64];
            snprintf(rank_msg, sizeof rank_msg, "rank %d 0000000000000063", size - 1);
            tl_check(jobs[r].same_fail == FMCL_ERR_NUMERIC && strstr(jobs[r].same_msg, rank_msg) &&
                         strstr(jobs[r].same_msg, "checksum differs between ranks"),
                     "%d threads, rank %d: a differing checksum gave %d '%s'", size, r,
                     jobs[r].same_fail, jobs[r].same_msg);
        } else {
            tl_check(jobs[r].agree_fail == FMCL_OK && jobs[r].same_fail == FMCL_OK,
                     "one thread: agree %d, same %d", jobs[r].agree_fail, jobs[r].same_fail);
        }
        tl_check(jobs[r].same_ok == FMCL_OK, "%d threads, rank %d: equal checksums refused", size,
                 r);
        for (size_t k = 0; k < NSIZES; k++) free(jobs[r].sums[k]);
        free(jobs[r].again);
        free(x[r]);
    }
    free(want);
    free(rev);
}

/* The last rank arrives 1 s late; the others give up after 0.3 s naming
 * it, and the late rank finds the group broken. The bounds leave room for a
 * loaded machine's scheduling (a thread may start a wait late): what counts
 * is that the others give up before the late rank arrives, and that it then
 * fails at once instead of waiting its own timeout. */
static void check_timeout(int size)
{
    job jobs[MAXN];
    if (!run_group(size, 1, jobs)) return;
    char name[32];
    snprintf(name, sizeof name, " rank %d", size - 1);
    for (int r = 0; r < size - 1; r++)
        tl_check(jobs[r].late == FMCL_ERR_GROUP && jobs[r].late_s >= 0.25 &&
                     jobs[r].late_s < 0.95 && strstr(jobs[r].late_msg, name) &&
                     strstr(jobs[r].late_msg, "waited 0.3 s"),
                 "%d threads, rank %d: the late rank gave %d after %.2f s: '%s'", size, r,
                 jobs[r].late, jobs[r].late_s, jobs[r].late_msg);
    tl_check(jobs[size - 1].late == FMCL_ERR_GROUP && jobs[size - 1].late_s < 0.5 &&
                 strstr(jobs[size - 1].late_msg, "broken"),
             "%d threads: the late rank gave %d after %.2f s: '%s'", size, jobs[size - 1].late,
             jobs[size - 1].late_s, jobs[size - 1].late_msg);
}

/* Rank 0 aborts; the others, waiting without a timeout, fail at once. */
static void check_abort(int size)
{
    job jobs[MAXN];
    if (!run_group(size, 2, jobs)) return;
    for (int r = 1; r < size; r++)
        tl_check(jobs[r].late == FMCL_ERR_GROUP && jobs[r].late_s < 5 &&
                     strstr(jobs[r].late_msg, "rank 0 stopped (status 3)"),
                 "%d threads, rank %d: after rank 0's abort %d after %.2f s: '%s'", size, r,
                 jobs[r].late, jobs[r].late_s, jobs[r].late_msg);
}

static int fake_sum(void *impl, float *x, size_t n, double timeout, char *err, size_t errlen)
{
    (void)impl, (void)x, (void)n, (void)timeout;
    snprintf(err, errlen, "the link is down");
    return 1;
}

static int fake_move(void *impl, const void *in, void *out, size_t bytes, double timeout, char *err,
                     size_t errlen)
{
    (void)impl, (void)in, (void)out, (void)bytes, (void)timeout, (void)err, (void)errlen;
    return 0;
}

static int fake_bcast(void *impl, void *buf, size_t bytes, int root, double timeout, char *err,
                      size_t errlen)
{
    (void)impl, (void)buf, (void)bytes, (void)root, (void)timeout, (void)err, (void)errlen;
    return 0;
}

static void check_single_and_custom(void)
{
    float x[3] = {1.5f, -2.0f, 3.25f}, y[3];
    tl_check(fmcl_group_rank(NULL) == 0 && fmcl_group_size(NULL) == 1 &&
                 fmcl_group_local_rank(NULL) == 0 && fmcl_group_local_size(NULL) == 1 &&
                 !*fmcl_group_error(NULL),
             "NULL: rank 0 of 1");
    tl_check(fmcl_group_sum(NULL, x, 3) == FMCL_OK && x[0] == 1.5f && x[1] == -2.0f &&
                 x[2] == 3.25f,
             "NULL: a sum leaves the values");
    tl_check(fmcl_group_gather(NULL, x, y, sizeof x) == FMCL_OK && !memcmp(x, y, sizeof x),
             "NULL: a gather copies");
    tl_check(fmcl_group_broadcast(NULL, x, sizeof x, 0) == FMCL_OK, "NULL: broadcast");
    tl_check(fmcl_group_agree(NULL, FMCL_ERR_IO, "no data") == FMCL_ERR_IO &&
                 fmcl_group_agree(NULL, FMCL_OK, NULL) == FMCL_OK,
             "NULL: agree gives back its own status");
    tl_check(fmcl_group_same(NULL, 5, "x") == FMCL_OK, "NULL: same");
    fmcl_group_abort(NULL, 1); /* does nothing */

    fmcl_group_ops ops = {fake_sum, fake_move, fake_bcast, NULL, NULL};
    fmcl_group *g = NULL;
    char err[256] = "";
    tl_check(fmcl_group_create_custom(2, 2, 0, 1, &ops, NULL, &g, err, sizeof err) ==
                     FMCL_ERR_ARG &&
                 !g && strstr(err, "rank must be in [0, size)"),
             "custom: rank 2 of 2 refused: '%s'", err);
    tl_check(fmcl_group_create_custom(0, 2, 1, 1, &ops, NULL, &g, err, sizeof err) ==
                     FMCL_ERR_ARG &&
                 strstr(err, "local rank"),
             "custom: local rank 1 of 1 refused: '%s'", err);
    fmcl_group_ops no_sum = {NULL, fake_move, fake_bcast, NULL, NULL};
    tl_check(fmcl_group_create_custom(0, 2, 0, 1, &no_sum, NULL, &g, err, sizeof err) ==
                     FMCL_ERR_ARG &&
                 strstr(err, "sum, gather and broadcast are required"),
             "custom: missing sum refused: '%s'", err);
    tl_check(fmcl_group_create_custom(1, 2, 0, 1, &ops, NULL, &g, err, sizeof err) == FMCL_OK &&
                 g && fmcl_group_rank(g) == 1 && fmcl_group_size(g) == 2,
             "custom: rank 1 of 2: '%s'", err);
    if (!g) return;
    tl_check(fmcl_group_sum(g, x, 3) == FMCL_ERR_GROUP &&
                 !strcmp(fmcl_group_error(g),
                         "rank 1 of 2: the sum over the group failed: the link is down"),
             "custom: a failing backend's sum gives '%s'", fmcl_group_error(g));
    tl_check(fmcl_group_broadcast(g, x, sizeof x, 2) == FMCL_ERR_ARG &&
                 strstr(fmcl_group_error(g), "broadcast from rank 2 in a group of 2"),
             "custom: broadcast from a rank outside the group: '%s'", fmcl_group_error(g));
    fmcl_group_abort(g, 1); /* no abort op: nothing happens */
    fmcl_group_free(g);
    tl_check(fmcl_group_create_threads(0, &g, err, sizeof err) == FMCL_ERR_ARG,
             "threads: a group of 0 refused");
}

static void check_fnv(void)
{
    /* FNV-1a 64 known answers: "" and "a", "foobar". */
    tl_check(fmcl_fnv1a("", 0, FMCL_FNV1A_INIT) == 0xcbf29ce484222325ull &&
                 fmcl_fnv1a("a", 1, FMCL_FNV1A_INIT) == 0xaf63dc4c8601ec8cull &&
                 fmcl_fnv1a("foobar", 6, FMCL_FNV1A_INIT) == 0x85944171f73967e8ull,
             "FNV-1a 64 known answers");
    tl_check(fmcl_fnv1a("bar", 3, fmcl_fnv1a("foo", 3, FMCL_FNV1A_INIT)) ==
                 fmcl_fnv1a("foobar", 6, FMCL_FNV1A_INIT),
             "FNV-1a continues across pieces");
}

static void check_chunks(void)
{
    for (size_t n = 0; n < 40; n++)
        for (int parts = 1; parts <= 7; parts++) {
            size_t at = 0, lo, hi, least = n, most = 0;
            int ok = 1;
            for (int c = 0; c < parts; c++) {
                fmcl_group_chunk(n, parts, c, &lo, &hi);
                ok &= lo == at && hi >= lo;
                least = hi - lo < least ? hi - lo : least;
                most = hi - lo > most ? hi - lo : most;
                at = hi;
            }
            if (!tl_check(ok && at == n && most - least <= 1,
                          "chunks of %zu in %d: not a cover of even chunks", n, parts))
                return;
        }
}

int main(void)
{
    check_fnv();
    check_chunks();
    check_single_and_custom();
    for (int size = 1; size <= MAXN; size++) check_operations(size);
    check_timeout(2);
    check_timeout(4);
    check_abort(3);
    return tl_summary();
}
