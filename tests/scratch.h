/* A scratch folder for the tests that write files (test_datasets,
 * test_bounds), and the check of a call that must refuse one. */
#ifndef FMCL_TEST_SCRATCH_H
#define FMCL_TEST_SCRATCH_H

#include <stddef.h>

#include "fmcl.h"

/* Creates /tmp/fmcl-NAME-XXXXXX; returns 0 (after a message) when it cannot. */
int scratch_make(const char *name);
/* The folder, and NAME inside it (four buffers in turn, so up to four
 * paths can be in use at once). */
const char *scratch_dir(void);
const char *at(const char *name);
/* Writes a file; a failed check when it cannot. */
void put(const char *path, const void *data, size_t len);
/* Checks a call that must fail with status want and a message holding w1
 * and w2 (w2 may be NULL), and prints the message; 1 when it does. */
int expect_error(const char *what, fmcl_status got, fmcl_status want, const char *err,
                 const char *w1, const char *w2);
/* Removes the folder and everything in it. */
void scratch_remove(void);

#endif
