/* A group of threads in one process (dist/group.h): each thread is a rank
 * with its own member handle, and the members meet at a barrier. An
 * operation posts each rank's buffer, waits for all, then each rank reads
 * the others' buffers directly; a second barrier keeps those buffers alive
 * until everyone has read them. A sum is split into fixed chunks: rank c
 * adds chunk c over the ranks in rank order into its own part, then every
 * rank copies every part, so all get the same bits. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dist/backend.h"
#include "dist/group.h"

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int n, arrived, members_left;
    unsigned gen;      /* barrier generation */
    unsigned *reached; /* per rank: the generation it last reached, + 1 */
    int broken;        /* a rank timed out or aborted: every operation fails */
    char broken_why[256];
    const void **in;    /* per rank: the buffer it posted */
    size_t *len;        /* per rank: its size */
    const float **part; /* per rank: its chunk of a sum */
} shared;

typedef struct {
    shared *sh;
    int rank;
    float *part; /* this rank's chunk of the current sum */
    size_t part_cap;
} member;

/* Waits until every rank has arrived. Fails when the group is broken or the
 * wait outlasts timeout (which breaks it, naming the ranks that were late). */
static int barrier(member *m, double timeout, char *err, size_t errlen)
{
    shared *sh = m->sh;
    pthread_mutex_lock(&sh->mu);
    const unsigned gen = sh->gen;
    sh->reached[m->rank] = gen + 1;
    if (!sh->broken && ++sh->arrived == sh->n) {
        sh->arrived = 0;
        sh->gen++;
        pthread_cond_broadcast(&sh->cv);
    }
    struct timespec until;
    if (timeout > 0) {
        const double t = fmcl_group_now() + timeout;
        until.tv_sec = (time_t)t;
        until.tv_nsec = (long)((t - (double)until.tv_sec) * 1e9);
    }
    while (sh->gen == gen && !sh->broken) {
        if (timeout <= 0) {
            pthread_cond_wait(&sh->cv, &sh->mu);
        } else if (pthread_cond_timedwait(&sh->cv, &sh->mu, &until) != 0 && sh->gen == gen &&
                   !sh->broken) {
            size_t used = (size_t)snprintf(sh->broken_why, sizeof sh->broken_why,
                                           "rank %d waited %g s for", m->rank, timeout);
            for (int r = 0; r < sh->n && used < sizeof sh->broken_why; r++)
                if (sh->reached[r] != gen + 1)
                    used += (size_t)snprintf(sh->broken_why + used, sizeof sh->broken_why - used,
                                             " rank %d", r);
            if (used < sizeof sh->broken_why)
                snprintf(sh->broken_why + used, sizeof sh->broken_why - used,
                         " (hung, or making other calls)");
            sh->broken = 1;
            pthread_cond_broadcast(&sh->cv);
        }
    }
    const int ok = sh->gen != gen;
    if (!ok) snprintf(err, errlen, "the group is broken: %s", sh->broken_why);
    pthread_mutex_unlock(&sh->mu);
    return ok ? 0 : 1;
}

/* Posts buf and its size, and waits for every rank's; fails unless all
 * sizes agree. */
static int post(member *m, const void *buf, size_t len, double timeout, char *err, size_t errlen)
{
    shared *sh = m->sh;
    sh->in[m->rank] = buf;
    sh->len[m->rank] = len;
    if (barrier(m, timeout, err, errlen) != 0) return 1;
    for (int r = 0; r < sh->n; r++)
        if (sh->len[r] != len) {
            snprintf(err, errlen, "rank %d gave %zu elements but rank %d %zu", m->rank, len, r,
                     sh->len[r]);
            return 1;
        }
    return 0;
}

static int threads_sum(void *impl, float *x, size_t n, double timeout, char *err, size_t errlen)
{
    member *m = impl;
    shared *sh = m->sh;
    if (post(m, x, n, timeout, err, errlen) != 0) return 1;
    size_t lo, hi;
    fmcl_group_chunk(n, sh->n, m->rank, &lo, &hi);
    if (hi - lo > m->part_cap) {
        float *p = realloc(m->part, (hi - lo) * sizeof *p);
        if (!p) {
            /* The others wait at the next barrier: break it for them. */
            snprintf(err, errlen, "rank %d: out of host memory for %zu floats", m->rank, hi - lo);
            pthread_mutex_lock(&sh->mu);
            snprintf(sh->broken_why, sizeof sh->broken_why, "%s", err);
            sh->broken = 1;
            pthread_cond_broadcast(&sh->cv);
            pthread_mutex_unlock(&sh->mu);
            return 1;
        }
        m->part = p;
        m->part_cap = hi - lo;
    }
    for (size_t i = lo; i < hi; i++) {
        float s = ((const float *)sh->in[0])[i];
        for (int r = 1; r < sh->n; r++) s += ((const float *)sh->in[r])[i];
        m->part[i - lo] = s;
    }
    sh->part[m->rank] = m->part;
    if (barrier(m, timeout, err, errlen) != 0) return 1;
    /* No rank writes its part again before the next operation's first
     * barrier, which every rank reaches only after copying. */
    for (int c = 0; c < sh->n; c++) {
        fmcl_group_chunk(n, sh->n, c, &lo, &hi);
        if (hi > lo) memcpy(x + lo, sh->part[c], (hi - lo) * sizeof *x);
    }
    return 0;
}

static int threads_gather(void *impl, const void *in, void *out, size_t bytes, double timeout,
                          char *err, size_t errlen)
{
    member *m = impl;
    if (post(m, in, bytes, timeout, err, errlen) != 0) return 1;
    for (int r = 0; r < m->sh->n; r++)
        if (bytes) memcpy((char *)out + (size_t)r * bytes, m->sh->in[r], bytes);
    return barrier(m, timeout, err, errlen);
}

static int threads_broadcast(void *impl, void *buf, size_t bytes, int root, double timeout,
                             char *err, size_t errlen)
{
    member *m = impl;
    if (post(m, buf, bytes, timeout, err, errlen) != 0) return 1;
    if (m->rank != root && bytes) memcpy(buf, m->sh->in[root], bytes);
    return barrier(m, timeout, err, errlen);
}

static void threads_abort(void *impl, int code)
{
    member *m = impl;
    shared *sh = m->sh;
    pthread_mutex_lock(&sh->mu);
    if (!sh->broken)
        snprintf(sh->broken_why, sizeof sh->broken_why, "rank %d stopped (status %d)", m->rank,
                 code);
    sh->broken = 1;
    pthread_cond_broadcast(&sh->cv);
    pthread_mutex_unlock(&sh->mu);
}

static void shared_free(shared *sh)
{
    pthread_cond_destroy(&sh->cv);
    pthread_mutex_destroy(&sh->mu);
    free(sh->reached);
    free(sh->in);
    free(sh->len);
    free(sh->part);
    free(sh);
}

static void threads_free(void *impl)
{
    member *m = impl;
    shared *sh = m->sh;
    pthread_mutex_lock(&sh->mu);
    const int last = --sh->members_left == 0;
    pthread_mutex_unlock(&sh->mu);
    if (last) shared_free(sh);
    free(m->part);
    free(m);
}

static const fmcl_group_ops threads_ops = {threads_sum, threads_gather, threads_broadcast,
                                           threads_abort, threads_free};

static shared *shared_new(int n)
{
    shared *sh = calloc(1, sizeof *sh);
    if (!sh) return NULL;
    sh->n = n;
    sh->reached = calloc((size_t)n, sizeof *sh->reached);
    sh->in = calloc((size_t)n, sizeof *sh->in);
    sh->len = calloc((size_t)n, sizeof *sh->len);
    sh->part = calloc((size_t)n, sizeof *sh->part);
    pthread_condattr_t ca;
    int ok = sh->reached && sh->in && sh->len && sh->part && pthread_condattr_init(&ca) == 0;
    if (ok) {
        /* Timeouts on the monotonic clock, like fmcl_group_now. */
        ok = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0 &&
             pthread_cond_init(&sh->cv, &ca) == 0;
        pthread_condattr_destroy(&ca);
    }
    if (ok && pthread_mutex_init(&sh->mu, NULL) != 0) {
        pthread_cond_destroy(&sh->cv);
        ok = 0;
    }
    if (!ok) {
        free(sh->reached);
        free(sh->in);
        free(sh->len);
        free(sh->part);
        free(sh);
        return NULL;
    }
    return sh;
}

fmcl_status fmcl_group_create_threads(int n, fmcl_group **members, char *err, size_t errlen)
{
    if (n < 1 || n > 4096) {
        if (err && errlen) snprintf(err, errlen, "a group of %d threads: need 1 to 4096", n);
        return FMCL_ERR_ARG;
    }
    shared *sh = shared_new(n);
    member **m = calloc((size_t)n, sizeof *m);
    int ok = sh && m;
    for (int r = 0; ok && r < n; r++) {
        m[r] = calloc(1, sizeof *m[r]);
        if (m[r]) *m[r] = (member){sh, r, NULL, 0};
        ok = m[r] != NULL;
    }
    if (!ok) {
        for (int r = 0; m && r < n; r++) free(m[r]);
        free(m);
        if (sh) shared_free(sh);
        if (err && errlen) snprintf(err, errlen, "out of host memory creating a group");
        return FMCL_ERR_NOMEM;
    }
    sh->members_left = n; /* each member's free takes one; the last takes sh */
    fmcl_status s = FMCL_OK;
    for (int r = 0; r < n; r++) {
        members[r] = NULL;
        if (s == FMCL_OK)
            s = fmcl_group_create_custom(r, n, r, n, &threads_ops, m[r], &members[r], err, errlen);
    }
    for (int r = 0; s != FMCL_OK && r < n; r++) {
        if (members[r])
            fmcl_group_free(members[r]);
        else
            threads_free(m[r]);
        members[r] = NULL;
    }
    free(m);
    return s;
}
