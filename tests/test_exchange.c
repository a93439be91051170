/* The gradient exchange (src/flow/exchange.c) between two ranks of a
 * thread group, each with its own context on the device under test: the
 * gradients and the loss come back summed in rank order, bit for bit; a
 * rank that failed makes both fail with its reason and leaves the buffers
 * alone; the weights' checksums pass when equal and name the rank that
 * differs. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flow/exchange.h"
#include "testlib.h"

#define N 1001 /* gradient floats */

typedef struct {
    fmcl_ctx *ctx;
    fmcl_group *g;
    int rank;
    float grads[N], loss, got[N], got_loss;
    fmcl_status sum, failed, same, differ;
    char failed_msg[1024], differ_msg[1024];
    float after_fail[N];
    long count;
} rank_job;

static void values(float *x, int n, int rank)
{
    tl_fill(x, (size_t)n, -2.f, 2.f, 40u + (uint32_t)rank);
}

static void *run(void *arg)
{
    rank_job *j = arg;
    fmcl_ctx *ctx = j->ctx;
    fmcl_t buf = {0};
    fmcl_exchange x;
    j->sum = fmcl_exchange_init(ctx, &x, j->g, N);
    if (j->sum == FMCL_OK) j->sum = fmcl_alloc(ctx, (N + 1) * sizeof(float), &buf, "exchange");
    fmcl_t grads = buf, loss = fmcl_at(buf, N);
    if (j->sum == FMCL_OK) j->sum = fmcl_write(ctx, grads, j->grads, sizeof j->grads);
    if (j->sum == FMCL_OK) j->sum = fmcl_write(ctx, loss, &j->loss, sizeof j->loss);
    /* Every rank makes every call, whatever failed before, as ranks must. */
    fmcl_status s = fmcl_exchange_step(ctx, &x, grads, loss, j->sum, NULL);
    if (j->sum == FMCL_OK) j->sum = s;
    if (j->sum == FMCL_OK) j->sum = fmcl_read(ctx, grads, j->got, sizeof j->got);
    if (j->sum == FMCL_OK) j->sum = fmcl_read(ctx, loss, &j->got_loss, sizeof j->got_loss);
    j->count = x.count;

    /* Rank 1 failed in its step. */
    const int fails = j->rank == 1;
    j->failed = fmcl_exchange_step(ctx, &x, grads, loss, fails ? FMCL_ERR_NOMEM : FMCL_OK,
                                   fails ? "the device ran out of memory" : NULL);
    snprintf(j->failed_msg, sizeof j->failed_msg, "%s", fmcl_ctx_error(ctx));
    if (fmcl_read(ctx, grads, j->after_fail, sizeof j->after_fail) != FMCL_OK)
        j->after_fail[0] = -1e30f;

    /* The same weights (both hold the sum), then rank 1's changed. */
    j->same = fmcl_exchange_check_weights(ctx, &x, grads, 7);
    if (fails) fmcl_write(ctx, grads, j->grads, sizeof(float));
    j->differ = fmcl_exchange_check_weights(ctx, &x, grads, 8);
    snprintf(j->differ_msg, sizeof j->differ_msg, "%s", fmcl_ctx_error(ctx));
    fmcl_release(&buf);
    fmcl_exchange_free(&x);
    return NULL;
}

static int device_checks(fmcl_ctx *ctx, void *user)
{
    (void)user;
    const fmcl_device_info *d = fmcl_ctx_device(ctx);
    char spec[32], err[2048];
    snprintf(spec, sizeof spec, "%d:%d", d->platform_index, d->device_index);
    fmcl_ctx *other = NULL;
    if (!tl_check(fmcl_ctx_create(&other, spec, err, sizeof err) == FMCL_OK,
                  "a second context on %s: %s", spec, err))
        return 0;
    fmcl_group *g[2];
    if (!tl_check(fmcl_group_create_threads(2, g, err, sizeof err) == FMCL_OK, "group: %s", err)) {
        fmcl_ctx_free(other);
        return 0;
    }
    rank_job *jobs = calloc(2, sizeof *jobs);
    pthread_t th[2];
    for (int r = 0; r < 2; r++) {
        jobs[r].ctx = r ? other : ctx;
        jobs[r].g = g[r];
        jobs[r].rank = r;
        values(jobs[r].grads, N, r);
        jobs[r].loss = 0.25f + (float)r;
        pthread_create(&th[r], NULL, run, &jobs[r]);
    }
    for (int r = 0; r < 2; r++) pthread_join(th[r], NULL);

    float want[N];
    for (int i = 0; i < N; i++) want[i] = jobs[0].grads[i] + jobs[1].grads[i];
    for (int r = 0; r < 2; r++) {
        const rank_job *j = &jobs[r];
        if (!tl_check(j->sum == FMCL_OK, "rank %d: exchange: %s", r, fmcl_ctx_error(j->ctx)))
            continue;
        tl_check(memcmp(j->got, want, sizeof want) == 0 && j->got_loss == 1.5f && j->count == 1,
                 "rank %d: the gradients and loss are the sums in rank order (loss %g)", r,
                 (double)j->got_loss);
        tl_check(j->failed == FMCL_ERR_NOMEM &&
                     strstr(j->failed_msg, "rank 1 of 2: the device ran out of memory"),
                 "rank %d: rank 1's failure gave %d '%s'", r, j->failed, j->failed_msg);
        tl_check(memcmp(j->after_fail, want, sizeof want) == 0,
                 "rank %d: a failed exchange changed the gradients", r);
        tl_check(j->same == FMCL_OK, "rank %d: equal weights reported as differing", r);
        tl_check(j->differ == FMCL_ERR_NUMERIC &&
                     strstr(j->differ_msg, "checksum after step 8 differs between ranks") &&
                     strstr(j->differ_msg, ", rank 1 "),
                 "rank %d: differing weights gave %d '%s'", r, j->differ, j->differ_msg);
    }
    free(jobs);
    fmcl_group_free(g[0]);
    fmcl_group_free(g[1]);
    fmcl_ctx_free(other);
    return 0;
}

int main(void) { return tl_for_each_device(device_checks, NULL); }
