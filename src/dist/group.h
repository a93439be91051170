/* Groups: the ranks that train one model together, data-parallel
 * (docs/DESIGN.md, "Data-parallel training"). Each rank computes its share
 * of a batch; the group sums the gradients, compares checksums, agrees on
 * setup statuses and broadcasts resume state. No MPI here: a backend gives
 * the operations of fmcl_group_ops, and this file builds the rest on them.
 * Backends: MPI (dist/mpi.c, built with MPI), threads of one process
 * (dist/threads.c), or the caller's own (fmcl_group_create_custom: NCCL,
 * RCCL, ...). NULL stands for one process alone, everywhere a group is
 * taken: rank 0 of 1, every operation trivial.
 *
 * Every operation is collective: each rank of the group makes the same
 * calls in the same order with the same sizes, or the group hangs (until
 * the timeout) or fails. After a failed operation the group is broken: the
 * ranks may be at different points, so the caller reports the message and
 * ends (fmcl_group_abort ends every rank at once). Functions return an
 * fmcl_status; the reason is on the handle (fmcl_group_error) and names
 * the ranks concerned. */
#ifndef FMCL_DIST_GROUP_H
#define FMCL_DIST_GROUP_H

#include <stddef.h>
#include <stdint.h>

#include "fmcl.h"

/* A backend. Each operation returns 0, or non-zero after writing a message
 * to err (errlen bytes, at least 256). timeout: seconds a rank may wait for
 * the others before giving up with a message (0: wait for ever); a backend
 * that cannot time out may ignore it. impl is the pointer the group was
 * created with. */
typedef struct {
    /* x[n] <- the sum over the ranks of each rank's x[n]. Every rank must
     * get the same bits, and the same inputs on the same ranks the same
     * bits every time: a fixed order of additions (or the weights drift
     * apart and fmcl_group_same reports it). */
    int (*sum)(void *impl, float *x, size_t n, double timeout, char *err, size_t errlen);
    /* out[size * bytes] <- each rank's in[bytes], rank r's at r * bytes. */
    int (*gather)(void *impl, const void *in, void *out, size_t bytes, double timeout, char *err,
                  size_t errlen);
    /* buf[bytes] <- rank root's buf[bytes]. */
    int (*broadcast)(void *impl, void *buf, size_t bytes, int root, double timeout, char *err,
                     size_t errlen);
    /* Stops the other ranks from waiting on this one after a failure it
     * cannot share through the group (MPI: ends every rank's process with
     * exit status code); may be NULL. */
    void (*abort)(void *impl, int code);
    /* Releases impl when the group is freed; may be NULL. */
    void (*free)(void *impl);
} fmcl_group_ops;

/* A group over the caller's backend: this process is rank `rank` of `size`,
 * local_rank of local_size on its machine (which device it takes). ops is
 * copied; sum, gather and broadcast are required. */
fmcl_status fmcl_group_create_custom(int rank, int size, int local_rank, int local_size,
                                     const fmcl_group_ops *ops, void *impl, fmcl_group **out,
                                     char *err, size_t errlen);

/* The public calls (create_mpi, create_threads, free, rank, size, error,
 * timeout, agree, abort) are in fmcl/group.h. */

/* x[n] <- the sum over the ranks, the same bits on every rank. */
fmcl_status fmcl_group_sum(fmcl_group *g, float *x, size_t n);
/* out[size * bytes] <- every rank's in[bytes], in rank order. */
fmcl_status fmcl_group_gather(fmcl_group *g, const void *in, void *out, size_t bytes);
/* buf[bytes] <- rank root's. */
fmcl_status fmcl_group_broadcast(fmcl_group *g, void *buf, size_t bytes, int root);

/* Longest text of a rank that fmcl_group_agree passes on (longer is cut). */
#define FMCL_GROUP_TEXT 480

/* Checks that value is the same on every rank (a checksum of the weights):
 * FMCL_ERR_NUMERIC naming each rank that differs from rank 0, and `what`. */
fmcl_status fmcl_group_same(fmcl_group *g, uint64_t value, const char *what);

/* FNV-1a (64 bits) of bytes, continuing from h (FMCL_FNV1A_INIT to start):
 * the weight checksum that fmcl_group_same compares. */
#define FMCL_FNV1A_INIT 0xcbf29ce484222325ull
uint64_t fmcl_fnv1a(const void *p, size_t bytes, uint64_t h);

#endif
