/* The search space of `fmcl tune` (tune_space.c). */
#ifndef FMCL_CLI_TUNE_SPACE_H
#define FMCL_CLI_TUNE_SPACE_H

#include <stddef.h>
#include <stdlib.h>

#include "runtime/tune.h"

typedef struct {
    const char *kernel; /* CLBlast's name */
    const char *fixed;  /* parameters every candidate shares */
    const char *const *list;
    int n;
} tune_space;

/* Searched in this order: the indirect kernel, its helpers, the direct one. */
#define TUNE_SPACES 6
extern const tune_space tune_spaces[TUNE_SPACES];

/* Candidate i of sp as a kernel line; 0 if it does not parse. */
int tune_kernel_of(const tune_space *sp, int i, fmcl_tune_kernel *k);

#endif
