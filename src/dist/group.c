/* The group handle over a backend's operations (dist/group.h), and what is
 * built on them: agreeing on a status, comparing checksums. */
#include "dist/group.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fmcl_group {
    int rank, size, local_rank, local_size;
    fmcl_group_ops ops;
    void *impl;
    double timeout;
    char err[4096];
};

static fmcl_status failf(fmcl_group *g, fmcl_status s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static fmcl_status failf(fmcl_group *g, fmcl_status s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g->err, sizeof g->err, fmt, ap);
    va_end(ap);
    return s;
}

fmcl_status fmcl_group_create_custom(int rank, int size, int local_rank, int local_size,
                                     const fmcl_group_ops *ops, void *impl, fmcl_group **out,
                                     char *err, size_t errlen)
{
    *out = NULL;
    const char *bad = NULL;
    if (size < 1 || rank < 0 || rank >= size)
        bad = "rank must be in [0, size) and size >= 1";
    else if (local_size < 1 || local_size > size || local_rank < 0 || local_rank >= local_size)
        bad = "local rank must be in [0, local size) and local size in [1, size]";
    else if (!ops || !ops->sum || !ops->gather || !ops->broadcast)
        bad = "the operations sum, gather and broadcast are required";
    if (bad) {
        if (err && errlen)
            snprintf(err, errlen, "group of rank %d of %d (local %d of %d): %s", rank, size,
                     local_rank, local_size, bad);
        return FMCL_ERR_ARG;
    }
    fmcl_group *g = calloc(1, sizeof *g);
    if (!g) {
        if (err && errlen) snprintf(err, errlen, "out of host memory creating a group");
        return FMCL_ERR_NOMEM;
    }
    *g = (fmcl_group){rank, size, local_rank, local_size, *ops, impl, 0.0, ""};
    *out = g;
    return FMCL_OK;
}

void fmcl_group_free(fmcl_group *g)
{
    if (!g) return;
    if (g->ops.free) g->ops.free(g->impl);
    free(g);
}

int fmcl_group_rank(const fmcl_group *g) { return g ? g->rank : 0; }
int fmcl_group_size(const fmcl_group *g) { return g ? g->size : 1; }
int fmcl_group_local_rank(const fmcl_group *g) { return g ? g->local_rank : 0; }
int fmcl_group_local_size(const fmcl_group *g) { return g ? g->local_size : 1; }
const char *fmcl_group_error(const fmcl_group *g) { return g ? g->err : ""; }

void fmcl_group_set_timeout(fmcl_group *g, double seconds)
{
    if (g) g->timeout = seconds > 0 ? seconds : 0.0;
}

/* A backend's failure, prefixed with the rank that saw it. */
static fmcl_status backend_failed(fmcl_group *g, const char *op, const char *why)
{
    return failf(g, FMCL_ERR_GROUP, "rank %d of %d: %s failed: %s", g->rank, g->size, op, why);
}

fmcl_status fmcl_group_sum(fmcl_group *g, float *x, size_t n)
{
    if (!g || g->size == 1) return FMCL_OK;
    char why[1024] = "";
    if (g->ops.sum(g->impl, x, n, g->timeout, why, sizeof why) != 0)
        return backend_failed(g, "the sum over the group", why);
    return FMCL_OK;
}

fmcl_status fmcl_group_gather(fmcl_group *g, const void *in, void *out, size_t bytes)
{
    if (!g || g->size == 1) {
        if (bytes) memmove(out, in, bytes);
        return FMCL_OK;
    }
    char why[1024] = "";
    if (g->ops.gather(g->impl, in, out, bytes, g->timeout, why, sizeof why) != 0)
        return backend_failed(g, "the gather over the group", why);
    return FMCL_OK;
}

fmcl_status fmcl_group_broadcast(fmcl_group *g, void *buf, size_t bytes, int root)
{
    if (g && (root < 0 || root >= g->size))
        return failf(g, FMCL_ERR_ARG, "broadcast from rank %d in a group of %d", root, g->size);
    if (!g || g->size == 1) return FMCL_OK;
    char why[1024] = "";
    if (g->ops.broadcast(g->impl, buf, bytes, root, g->timeout, why, sizeof why) != 0)
        return backend_failed(g, "the broadcast over the group", why);
    return FMCL_OK;
}

/* Every rank's `bytes` from mine, in a malloc'ed array (NULL and *s set on
 * failure). */
static void *gather_all(fmcl_group *g, const void *mine, size_t bytes, fmcl_status *s)
{
    void *all = malloc((size_t)g->size * bytes);
    *s = all ? fmcl_group_gather(g, mine, all, bytes)
             : failf(g, FMCL_ERR_NOMEM, "rank %d of %d: out of host memory", g->rank, g->size);
    if (*s == FMCL_OK) return all;
    free(all);
    return NULL;
}

/* One rank's entry in fmcl_group_agree. */
typedef struct {
    int32_t status;
    char why[FMCL_GROUP_TEXT];
} agree_entry;

fmcl_status fmcl_group_agree(fmcl_group *g, fmcl_status mine, const char *why)
{
    if (!g) return mine;
    agree_entry me = {(int32_t)mine, ""};
    if (mine != FMCL_OK) snprintf(me.why, sizeof me.why, "%s", why && *why ? why : "failed");
    fmcl_status s;
    agree_entry *all = gather_all(g, &me, sizeof me, &s);
    if (!all) return s;
    fmcl_status first = FMCL_OK;
    size_t used = 0;
    g->err[0] = '\0';
    for (int r = 0; r < g->size; r++) {
        if (all[r].status == FMCL_OK) continue;
        all[r].why[sizeof all[r].why - 1] = '\0';
        if (first == FMCL_OK) first = (fmcl_status)all[r].status;
        if (used < sizeof g->err)
            used += (size_t)snprintf(g->err + used, sizeof g->err - used, "%srank %d of %d: %s",
                                     used ? "; " : "", r, g->size, all[r].why);
    }
    free(all);
    return first;
}

fmcl_status fmcl_group_same(fmcl_group *g, uint64_t value, const char *what)
{
    if (!g || g->size == 1) return FMCL_OK;
    fmcl_status s;
    uint64_t *all = gather_all(g, &value, sizeof value, &s);
    if (!all) return s;
    size_t used = 0;
    for (int r = 1; r < g->size; r++) {
        if (all[r] == all[0]) continue;
        if (!used)
            used = (size_t)snprintf(g->err, sizeof g->err,
                                    "%s differs between ranks: rank 0 has %016" PRIx64, what,
                                    all[0]);
        if (used < sizeof g->err)
            used += (size_t)snprintf(g->err + used, sizeof g->err - used, ", rank %d %016" PRIx64,
                                     r, all[r]);
        s = FMCL_ERR_NUMERIC;
    }
    free(all);
    return s;
}

void fmcl_group_abort(fmcl_group *g, int code)
{
    if (g && g->size > 1 && g->ops.abort) g->ops.abort(g->impl, code);
}

uint64_t fmcl_fnv1a(const void *p, size_t bytes, uint64_t h)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < bytes; i++) h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

int fmcl_group_launched(void)
{
    /* Open MPI's mpirun, then the PMI of MPICH, Intel MPI and Slurm's srun. */
    const char *names[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        const char *v = getenv(names[i]);
        if (v && atoi(v) >= 2) return 1;
    }
    return 0;
}

#if !FMCL_HAS_MPI
fmcl_status fmcl_group_create_mpi(const void *comm, fmcl_group **out, char *err, size_t errlen)
{
    (void)comm;
    *out = NULL;
    if (err && errlen)
        snprintf(err, errlen,
                 "this fmcl was built without MPI: rebuild it with Open MPI's "
                 "development files present (meson -Dmpi=enabled)");
    return FMCL_ERR_UNSUPPORTED;
}
#endif
