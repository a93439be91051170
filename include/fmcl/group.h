/* fmcl/group.h: groups of processes or threads that train one model
 * together, data-parallel (docs/DISTRIBUTED.md).
 *
 * Each member of a group (a rank) drives its own device and trains on its
 * share of every batch; the group sums the gradients in a fixed order, so
 * every rank applies the same update and the weights stay the same bits on
 * every rank. Pass a group to fmcl_trainer_create_group; NULL everywhere
 * stands for one process alone (rank 0 of 1).
 *
 * Backends: MPI (this library built with it: FMCL_HAS_MPI in
 * fmcl/version.h), or threads of one process, one per device. Every
 * operation is collective: each rank makes the same calls in the same
 * order. After a failed operation the group is broken; report its message
 * (which names the ranks concerned) and end. */
#ifndef FMCL_GROUP_H
#define FMCL_GROUP_H

#include "fmcl/core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fmcl_group fmcl_group;

/* 1 when this process looks started by mpirun or another MPI launcher (its
 * environment names a rank and a size of at least 2), else 0. Needs no MPI. */
FMCL_API int fmcl_group_launched(void);

/* The MPI group. comm points to the caller's MPI_Comm, which the group
 * duplicates; NULL means MPI_COMM_WORLD, initialising MPI if the caller
 * has not (freeing the group then finalises it). FMCL_ERR_UNSUPPORTED
 * when the library was built without MPI. */
FMCL_API fmcl_status fmcl_group_create_mpi(const void *comm, fmcl_group **out, char *err,
                                           size_t errlen);
/* n groups of one process, one for each of n threads (rank r =
 * members[r]): each thread drives its own context and calls the
 * operations on its own member. Free each member. */
FMCL_API fmcl_status fmcl_group_create_threads(int n, fmcl_group **members, char *err,
                                               size_t errlen);
FMCL_API void fmcl_group_free(fmcl_group *g);

/* This member's rank and the group's size; on its machine, its local rank
 * and the number of ranks there (which device it takes). NULL gives 0, 1,
 * 0, 1. */
FMCL_API int fmcl_group_rank(const fmcl_group *g);
FMCL_API int fmcl_group_size(const fmcl_group *g);
FMCL_API int fmcl_group_local_rank(const fmcl_group *g);
FMCL_API int fmcl_group_local_size(const fmcl_group *g);
/* The last failure's message ("" when none). */
FMCL_API const char *fmcl_group_error(const fmcl_group *g);
/* Seconds any operation may wait for the other ranks; 0 (the default)
 * waits for ever. A rank that stops answering is then reported (status
 * FMCL_ERR_GROUP) instead of hanging the group. */
FMCL_API void fmcl_group_set_timeout(fmcl_group *g, double seconds);

/* Each rank gives its own outcome (FMCL_OK, or a failure and why): FMCL_OK
 * on every rank when every rank is fine; otherwise every rank fails with
 * the lowest failing rank's status and a message naming each failing rank
 * and its reason ("rank 1 of 4: ..."). For the caller's own steps that can
 * fail on one rank only (opening data, writing files). */
FMCL_API fmcl_status fmcl_group_agree(fmcl_group *g, fmcl_status mine, const char *why);

/* After a failure that left the ranks at different points, stops the
 * others from waiting: MPI ends every rank's process with exit status code;
 * threads' operations fail at once; NULL does nothing. */
FMCL_API void fmcl_group_abort(fmcl_group *g, int code);

#ifdef __cplusplus
}
#endif
#endif
