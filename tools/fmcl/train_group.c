/* The group and device of fmcl train (train_group.h). */
#include "train_group.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* Seconds a rank waits for the others before it names the late one: long
 * enough for rank 0 to write a checkpoint while the others wait. */
#define GROUP_TIMEOUT 300.0

static int pick_device(const char *device, int local_rank, train_rank *r)
{
    char err[4096];
    fmcl_device_info *devs = NULL;
    int count = 0, index = 0;
    if (fmcl_devices_list(&devs, &count, err, sizeof err) != FMCL_OK) return cli_error("%s", err);
    fmcl_status s = fmcl_device_select_rank(devs, count, device, local_rank, &index, err,
                                            sizeof err);
    if (s == FMCL_OK)
        snprintf(r->device, sizeof r->device, "%d:%d", devs[index].platform_index,
                 devs[index].device_index);
    fmcl_devices_free(devs);
    return s == FMCL_OK ? CLI_OK : cli_error("--device: %s", err);
}

int train_group_open(const char *device, train_rank *r)
{
    memset(r, 0, sizeof *r);
    r->size = 1;
    snprintf(r->device, sizeof r->device, "%s", device ? device : "");
    if (!fmcl_group_launched()) {
        if (device && strchr(device, ','))
            return cli_error("--device %s lists several devices, which a run started by "
                             "mpirun shares out, one per process; this one runs alone: start "
                             "it with mpirun -np N, or give one device",
                             device);
        return CLI_OK;
    }
    char err[1024];
    if (fmcl_group_create_mpi(NULL, &r->g, err, sizeof err) != FMCL_OK)
        return cli_error("started by mpirun, but %s", err);
    r->rank = fmcl_group_rank(r->g);
    r->size = fmcl_group_size(r->g);
    cli_set_rank(r->rank, r->size);
    const char *t = getenv("FMCL_GROUP_TIMEOUT");
    fmcl_group_set_timeout(r->g, t && *t ? atof(t) : GROUP_TIMEOUT);
    int rc = pick_device(device, fmcl_group_local_rank(r->g), r);
    if (train_group_failed(r, rc != CLI_OK, "could not choose its device")) {
        train_group_close(r);
        return CLI_FAIL;
    }
    return CLI_OK;
}

void train_group_close(train_rank *r)
{
    fmcl_group_free(r->g);
    r->g = NULL;
}

int train_group_failed(const train_rank *r, int failed, const char *what)
{
    if (!r->g) return failed;
    fmcl_status s = fmcl_group_agree(r->g, failed ? FMCL_ERR_ARG : FMCL_OK, what);
    if (s == FMCL_OK) return 0;
    if (r->rank == 0) fprintf(stderr, "fmcl: error: %s\n", fmcl_group_error(r->g));
    return 1;
}
