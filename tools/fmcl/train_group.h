/* fmcl train over several devices: the group of ranks a run trains in and
 * the device each takes (docs/DISTRIBUTED.md). Under mpirun every process
 * is a rank of the MPI group; rank 0 alone prints and writes files. */
#ifndef FMCL_TRAIN_GROUP_H
#define FMCL_TRAIN_GROUP_H

#include "fmcl.h"

typedef struct {
    fmcl_group *g; /* NULL: one process alone */
    int rank, size;
    char device[256]; /* this rank's device: "P:D", or --device as given alone */
} train_rank;

/* This process's place: the MPI group when mpirun (or another MPI launcher)
 * started it, else one process alone; then its device, the local rank's
 * turn of device (fmcl_device_select_rank). Under a group, the messages of
 * cli_error carry the rank from now on. Prints the error and returns
 * CLI_FAIL when the group cannot be made (an fmcl built without MPI under
 * mpirun) or the device list is unusable. */
int train_group_open(const char *device, train_rank *r);
void train_group_close(train_rank *r);
/* Every rank's outcome of a step that may fail on some ranks only (this
 * rank's: failed, and what failed, its own message already printed): 0 when
 * every rank is fine; else 1 on every rank, rank 0 printing which ranks
 * failed and why. Always the rank's own outcome without a group. */
int train_group_failed(const train_rank *r, int failed, const char *what);

#endif
