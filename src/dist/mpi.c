/* The MPI group (dist/group.h): the only file that includes mpi.h, built
 * when meson finds MPI. Every operation is non-blocking underneath and
 * polled against the group's timeout, so a rank that stops answering is
 * reported instead of hanging the others; between polls the waiting rank
 * sleeps (up to 1 ms), leaving the cores to the ranks still computing.
 * Sums are a ring over fixed chunks (reduce-scatter, then all-gather),
 * each rank sending and receiving 2 (size - 1) / size of the floats, the
 * least any all-reduce moves; chunk c is added in the order rank c, c + 1,
 * ..., c - 1 (mod size) and then copied, so every rank and every run with
 * the same size gets the same bits. MPI_Allreduce promises neither. */
#include <limits.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dist/backend.h"
#include "dist/group.h"

#define TAG_SUM 0x464d /* "FM" */

typedef struct {
    MPI_Comm comm;
    int rank, size;
    int finalize; /* MPI was initialised here: finalise it with the group */
    float *recv;  /* a chunk received during a sum */
    size_t recv_cap;
} mpi_impl;

static void mpi_message(int code, const char *what, char *err, size_t errlen)
{
    char text[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(code, text, &len) != MPI_SUCCESS) len = 0;
    text[len] = '\0';
    snprintf(err, errlen, "%s: MPI error %d (%s)", what, code, len ? text : "no description");
}

/* Waits for n requests, polling: busy for the first 100 us, then sleeping
 * 20 us more each time up to 1 ms. On timeout cancels what is pending and
 * fails with `late`. */
static int wait_all(MPI_Request *req, int n, double timeout, const char *late, char *err,
                    size_t errlen)
{
    const double start = fmcl_group_now();
    long nap_ns = 0;
    for (;;) {
        int done = 0;
        int rc = MPI_Testall(n, req, &done, MPI_STATUSES_IGNORE);
        if (rc != MPI_SUCCESS) {
            mpi_message(rc, "waiting for the other ranks", err, errlen);
            return 1;
        }
        if (done) return 0;
        const double now = fmcl_group_now();
        if (timeout > 0 && now - start > timeout) {
            for (int i = 0; i < n; i++)
                if (req[i] != MPI_REQUEST_NULL) MPI_Cancel(&req[i]);
            snprintf(err, errlen, "%s within %g s", late, timeout);
            return 1;
        }
        if (now - start > 1e-4) {
            nap_ns = nap_ns < 1000000 ? nap_ns + 20000 : nap_ns;
            struct timespec nap = {0, nap_ns};
            nanosleep(&nap, NULL);
        }
    }
}

/* Sends chunk `send` of x to the right, receives chunk `recv` from the
 * left into into (n elements in all, split in size chunks). */
static int ring_step(mpi_impl *m, const float *x, size_t n, int send, float *into, int recv,
                     double timeout, char *err, size_t errlen)
{
    const int left = (m->rank + m->size - 1) % m->size, right = (m->rank + 1) % m->size;
    size_t slo, shi, rlo, rhi;
    fmcl_group_chunk(n, m->size, send, &slo, &shi);
    fmcl_group_chunk(n, m->size, recv, &rlo, &rhi);
    MPI_Request req[2] = {MPI_REQUEST_NULL, MPI_REQUEST_NULL};
    int rc = MPI_Irecv(into, (int)(rhi - rlo), MPI_FLOAT, left, TAG_SUM, m->comm, &req[0]);
    if (rc == MPI_SUCCESS)
        rc = MPI_Isend(x + slo, (int)(shi - slo), MPI_FLOAT, right, TAG_SUM, m->comm, &req[1]);
    if (rc != MPI_SUCCESS) {
        if (req[0] != MPI_REQUEST_NULL) MPI_Cancel(&req[0]);
        mpi_message(rc, "posting a ring transfer", err, errlen);
        return 1;
    }
    char late[160];
    snprintf(late, sizeof late,
             "rank %d had no data from rank %d (which, or a rank before it in the ring, hung or "
             "stopped)",
             m->rank, left);
    return wait_all(req, 2, timeout, late, err, errlen);
}

static int mpi_sum(void *impl, float *x, size_t n, double timeout, char *err, size_t errlen)
{
    mpi_impl *m = impl;
    const int N = m->size, r = m->rank;
    size_t lo, hi;
    fmcl_group_chunk(n, N, 0, &lo, &hi); /* chunk 0 is a longest */
    if (hi - lo > INT_MAX) {
        snprintf(err, errlen, "a sum of %zu floats over %d ranks: chunks past 2^31 floats", n, N);
        return 1;
    }
    if (hi - lo > m->recv_cap) {
        float *p = realloc(m->recv, (hi - lo) * sizeof *p);
        if (!p) {
            snprintf(err, errlen, "out of host memory for %zu floats", hi - lo);
            return 1;
        }
        m->recv = p;
        m->recv_cap = hi - lo;
    }
    /* Reduce-scatter: after step s, chunk (r - s - 1) holds the sum of
     * ranks r - s - 1 .. r; rank r ends with the whole chunk r + 1. */
    for (int s = 0; s < N - 1; s++) {
        const int c = (r - s - 1 + 2 * N) % N;
        if (ring_step(m, x, n, (r - s + N) % N, m->recv, c, timeout, err, errlen) != 0) return 1;
        fmcl_group_chunk(n, N, c, &lo, &hi);
        for (size_t i = lo; i < hi; i++) x[i] = m->recv[i - lo] + x[i];
    }
    /* All-gather: pass the whole chunks round. */
    for (int s = 0; s < N - 1; s++) {
        const int c = (r - s + N) % N;
        fmcl_group_chunk(n, N, c, &lo, &hi);
        if (ring_step(m, x, n, (r - s + 1 + N) % N, x + lo, c, timeout, err, errlen) != 0) return 1;
    }
    return 0;
}

static int mpi_gather(void *impl, const void *in, void *out, size_t bytes, double timeout,
                      char *err, size_t errlen)
{
    mpi_impl *m = impl;
    if (bytes > INT_MAX) {
        snprintf(err, errlen, "a gather of %zu bytes per rank: at most 2^31 - 1", bytes);
        return 1;
    }
    MPI_Request req = MPI_REQUEST_NULL;
    int rc = MPI_Iallgather(in, (int)bytes, MPI_BYTE, out, (int)bytes, MPI_BYTE, m->comm, &req);
    if (rc != MPI_SUCCESS) {
        mpi_message(rc, "starting a gather", err, errlen);
        return 1;
    }
    char late[96];
    snprintf(late, sizeof late, "rank %d: the gather over %d ranks did not finish", m->rank,
             m->size);
    return wait_all(&req, 1, timeout, late, err, errlen);
}

static int mpi_broadcast(void *impl, void *buf, size_t bytes, int root, double timeout, char *err,
                         size_t errlen)
{
    mpi_impl *m = impl;
    const size_t piece = (size_t)1 << 30;
    for (size_t at = 0; at < bytes; at += piece) {
        const size_t len = bytes - at < piece ? bytes - at : piece;
        MPI_Request req = MPI_REQUEST_NULL;
        int rc = MPI_Ibcast((char *)buf + at, (int)len, MPI_BYTE, root, m->comm, &req);
        if (rc != MPI_SUCCESS) {
            mpi_message(rc, "starting a broadcast", err, errlen);
            return 1;
        }
        char late[96];
        snprintf(late, sizeof late, "rank %d: the broadcast from rank %d did not finish", m->rank,
                 root);
        if (wait_all(&req, 1, timeout, late, err, errlen) != 0) return 1;
    }
    return 0;
}

static void mpi_abort(void *impl, int code)
{
    mpi_impl *m = impl;
    MPI_Abort(m->comm, code);
}

static void mpi_free(void *impl)
{
    mpi_impl *m = impl;
    MPI_Comm_free(&m->comm);
    int done = 0;
    if (m->finalize && MPI_Finalized(&done) == MPI_SUCCESS && !done) MPI_Finalize();
    free(m->recv);
    free(m);
}

static const fmcl_group_ops mpi_ops = {mpi_sum, mpi_gather, mpi_broadcast, mpi_abort, mpi_free};

fmcl_status fmcl_group_create_mpi(const void *comm, fmcl_group **out, char *err, size_t errlen)
{
    *out = NULL;
    int inited = 0, finalized = 0;
    MPI_Initialized(&inited);
    MPI_Finalized(&finalized);
    if (finalized || (comm && !inited)) {
        if (err && errlen)
            snprintf(err, errlen, "MPI is %s: a group needs it running",
                     finalized ? "finalised" : "not initialised but a communicator was given");
        return FMCL_ERR_ARG;
    }
    mpi_impl *m = calloc(1, sizeof *m);
    if (!m) {
        if (err && errlen) snprintf(err, errlen, "out of host memory creating an MPI group");
        return FMCL_ERR_NOMEM;
    }
    m->comm = MPI_COMM_NULL; /* not 0 in every MPI */
    int rc = MPI_SUCCESS;
    if (!inited) {
        rc = MPI_Init(NULL, NULL);
        m->finalize = rc == MPI_SUCCESS;
    }
    /* A communicator of our own, so that no message of the caller's
     * matches ours, reporting errors to us instead of ending the job. */
    if (rc == MPI_SUCCESS)
        rc = MPI_Comm_dup(comm ? *(const MPI_Comm *)comm : MPI_COMM_WORLD, &m->comm);
    if (rc == MPI_SUCCESS) rc = MPI_Comm_set_errhandler(m->comm, MPI_ERRORS_RETURN);
    if (rc == MPI_SUCCESS) rc = MPI_Comm_rank(m->comm, &m->rank);
    if (rc == MPI_SUCCESS) rc = MPI_Comm_size(m->comm, &m->size);
    int local_rank = 0, local_size = 1;
    MPI_Comm node = MPI_COMM_NULL;
    if (rc == MPI_SUCCESS)
        rc = MPI_Comm_split_type(m->comm, MPI_COMM_TYPE_SHARED, m->rank, MPI_INFO_NULL, &node);
    if (rc == MPI_SUCCESS) rc = MPI_Comm_rank(node, &local_rank);
    if (rc == MPI_SUCCESS) rc = MPI_Comm_size(node, &local_size);
    if (node != MPI_COMM_NULL) MPI_Comm_free(&node);
    if (rc != MPI_SUCCESS) {
        char why[512];
        mpi_message(rc, "setting up the MPI group", why, sizeof why);
        if (err && errlen) snprintf(err, errlen, "%s", why);
        if (m->comm != MPI_COMM_NULL) MPI_Comm_free(&m->comm);
        if (m->finalize) MPI_Finalize();
        free(m);
        return FMCL_ERR_IO;
    }
    fmcl_status s = fmcl_group_create_custom(m->rank, m->size, local_rank, local_size, &mpi_ops, m,
                                             out, err, errlen);
    if (s != FMCL_OK) mpi_free(m);
    return s;
}
