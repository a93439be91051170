/* The data sources of include/fmcl/data.h as the trainer sees them. */
#ifndef FMCL_DATA_SOURCE_H
#define FMCL_DATA_SOURCE_H

#include "data/images.h"
#include "runtime/runtime.h"

struct fmcl_data {
    fmcl_data_kind kind;
    int toy;        /* FMCL_DATA_TOY: an fmcl_toy */
    float *points;  /* FMCL_DATA_POINTS: n x dim */
    int n, dim;     /* examples (0 for a built-in set) and floats of one */
    fmcl_images im; /* FMCL_DATA_IMAGES */
    char spec[4096];
    char what[640];
};

/* The kind the kernels and checkpoints know (toy2d.h): the built-in set,
 * FMCL_KIND_ARRAY or FMCL_KIND_IMAGES. */
int fmcl_data_source_kind(const fmcl_data *d);

#endif
