/* Output files checked before any work, so that a run never computes for
 * minutes and then finds it cannot write, or writes over a run by mistake. */
#ifndef FMCL_CLI_OUTPUTS_H
#define FMCL_CLI_OUTPUTS_H

#include <stddef.h>

/* fmcl train --out DIR: refuses (CLI_FAIL, with the way out) a folder that
 * holds a run's checkpoint unless overwrite. */
int outputs_run_dir(const char *dir, int overwrite);
/* 1 when dir holds a run's checkpoint. */
int outputs_has_run(const char *dir);

#endif
