/* fmcl train --resume DIR with the run's own flags repeated, the natural way
 * to rerun a command: flags equal to the saved settings are accepted, and
 * only those that conflict are refused, each named with the run's value. */
#ifndef FMCL_CLI_RESUME_FLAGS_H
#define FMCL_CLI_RESUME_FLAGS_H

#include "args.h"
#include "train_opts.h"

/* given: the options as parsed; saved: the same after --resume filled in
 * the run's settings (cmd's destinations point into saved); images: the run
 * trained on an image set. CLI_OK, or a usage error naming every flag that
 * conflicts with the run or does not apply to a resumed run. */
int resume_flags_check(arg_cmd *cmd, const train_opts *given, const train_opts *saved, int images);

#endif
