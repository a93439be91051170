/* Output files checked before any work (see outputs.h). */
#define _POSIX_C_SOURCE 200809L
#include "outputs.h"

#include <stdio.h>
#include <sys/stat.h>

#include "cli.h"

int outputs_has_run(const char *dir)
{
    char ckpt[4200];
    struct stat st;
    snprintf(ckpt, sizeof ckpt, "%s/model.safetensors", dir);
    return stat(ckpt, &st) == 0;
}

int outputs_run_dir(const char *dir, int overwrite)
{
    char ckpt[4200];
    snprintf(ckpt, sizeof ckpt, "%s/model.safetensors", dir);
    if (overwrite || !outputs_has_run(dir)) return CLI_OK;
    return cli_error("--out %s already holds a run (%s): continue it with `fmcl train --resume "
                     "%s`, or choose a fresh --out; --overwrite replaces it", dir, ckpt, dir);
}
