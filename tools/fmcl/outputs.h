/* Output files checked before any work, so that a run never computes for
 * minutes and then finds it cannot write, or writes over a run by mistake. */
#ifndef FMCL_CLI_OUTPUTS_H
#define FMCL_CLI_OUTPUTS_H

#include <stddef.h>

/* fmcl train --out DIR: refuses (CLI_FAIL, with the way out) a folder that
 * holds a run's checkpoint unless overwrite. */
int outputs_run_dir(const char *dir, int overwrite);
/* Removes the temporary files (PATH.tmp.XXXXXX of fmcl_write_file_atomic)
 * that a killed run's unfinished checkpoint writes left in dir, and says
 * so on stderr. Only for the holder of the folder's lock (runlock.h): no
 * live writer can own them then. */
void outputs_remove_unfinished(const char *dir);
/* 1 when dir holds a run's checkpoint. */
int outputs_has_run(const char *dir);
/* An output file of flag (e.g. "--out"): creates its missing parent folders
 * (as fmcl train does for its folder), then checks that the folder takes a
 * new file and that path is not a folder. CLI_OK, or CLI_FAIL after saying
 * why not. */
int outputs_file(const char *flag, const char *path);
/* 1 when path names a PNG file (ends in ".png", any case). */
int outputs_is_png(const char *path);
/* The picture beside out: out's name with ".png" for its ".npy" (or
 * appended), into buf. */
const char *outputs_beside(const char *out, char *buf, size_t len);
/* The number of values of x[0..n) that are NaN or infinite. */
size_t outputs_nonfinite(const float *x, size_t n);

#endif
