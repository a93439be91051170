/* Kernel registration. Each layer owns the kernels it launches: it lists them
 * in its kernels.def, numbers them in its kernels.h and exports them with
 * their sources as one fmcl_kernel_set. A kernel id packs (set, index):
 * FMCL_KID(set, i), i the line of the kernel in its set's kernels.def. The
 * top of the library creates a context with every layer's set
 * (fmcl_runtime_ctx_create); the runtime knows only its own set, builds one
 * program from all the sources and maps ids to kernels. */
#ifndef FMCL_RUNTIME_KERNELS_H
#define FMCL_RUNTIME_KERNELS_H

typedef struct {
    int id;                   /* FMCL_KSET_*: the set part of its kernels' ids */
    const char *layer;        /* "nn", for messages */
    const char *source;       /* the layer's kernels/ files, embedded at build time */
    const char *const *names; /* its kernels, in kernels.def order */
    int count;
} fmcl_kernel_set;

#define FMCL_KSET_BITS 8     /* index bits of a kernel id: up to 256 kernels per set */
#define FMCL_KSETS 8         /* set ids 0 .. FMCL_KSETS - 1 */
#define FMCL_KERNELS_MAX 256 /* kernels of all sets of one context */
#define FMCL_KID(set, index) ((set) << FMCL_KSET_BITS | (index))

/* The runtime's own kernels (runtime/kernels.def), set 0 of every context. */
#define FMCL_KSET_RUNTIME 0
enum {
    FMCL_K_RUNTIME_BEFORE = FMCL_KID(FMCL_KSET_RUNTIME, 0) - 1, /* ids count from (0, 0) */
#define FMCL_KERNEL(name) FMCL_K_##name,
#include "runtime/kernels.def"
#undef FMCL_KERNEL
};
extern const fmcl_kernel_set fmcl_runtime_kernels;

#endif
