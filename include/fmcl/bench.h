/* fmcl/bench.h: the standard benchmark workloads of `fmcl bench`, their
 * results as plain structs, and the JSON file that collects them from many
 * machines (written, read and compared here; docs/BENCHMARKS.md).
 *
 * The workloads are the same on every device, so devices compare on neutral
 * ground: the FMA rate of a built-in kernel, GEMM at the models' shapes, a
 * training step of the reference and of a small 2D MLP and of the default
 * 28x28 U-Net (timed, then profiled: device time per kernel, kernel launches,
 * GEMM calls and host waits per step), sampling throughput, and
 * the first training step of a new process. Checksums of the losses and
 * samples say whether two machines computed the same thing. Times are host
 * clocks around a wait for the queue, best or median of repeats as each
 * field says. These calls measure and never judge: no figure fails a call.
 * Every call that takes a context blocks until its work is done.
 */
#ifndef FMCL_BENCH_H
#define FMCL_BENCH_H

#include <stddef.h>
#include <stdint.h>

#include "fmcl/core.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FMCL_BENCH_GEMMS 8  /* GEMM shapes of the MLPs */
#define FMCL_BENCH_TOP 12   /* kernels in a training step's profile, slowest first */
#define FMCL_BENCH_FORMAT 1 /* the version of the JSON file format written */

/* The training workloads, in the order of fmcl_bench_result's train[]. */
typedef enum {
    FMCL_BENCH_REFERENCE = 0, /* MLP 3-512x4-2, batch 4096: the PyTorch library's 2D example */
    FMCL_BENCH_SMALL,         /* MLP 3-128x3-2, batch 1024: fmcl train's demo */
    FMCL_BENCH_UNET,          /* the default 28x28x1 U-Net, batch 16, on noise */
    FMCL_BENCH_TRAINS
} fmcl_bench_workload;

typedef enum { FMCL_BENCH_MODEL_MLP = 0, FMCL_BENCH_MODEL_UNET } fmcl_bench_model;

/* Which GEMM implementation a context uses (docs/DESIGN.md, "GEMM"). */
typedef enum { FMCL_BENCH_CLBLAST = 0, FMCL_BENCH_PACKED } fmcl_bench_gemm_impl;

typedef struct {
    int quick; /* 1: fewer repeats and a smaller sampling run, about half the time */
} fmcl_bench_config;

FMCL_API void fmcl_bench_config_default(fmcl_bench_config *cfg);

/* One GEMM shape as the MLP issues it (row-major; ta, tb: transposed). */
typedef struct {
    char what[48]; /* "reference hidden forward" */
    int ta, tb, M, N, K;
    double seconds, gflops; /* best of the repeats, through the implementation in use */
    double other_gflops;    /* the other implementation's (CLBlast or the packed kernels) */
} fmcl_bench_gemm;

/* One kernel's share of a profiled training step. */
typedef struct {
    char kernel[48]; /* the OpenCL kernel's name, or "gemm (CLBlast)" */
    double ms_per_step, calls_per_step;
} fmcl_bench_kernel;

/* A training workload: what to run (fmcl_bench_train_default fills it) and,
 * after fmcl_bench_train_run, what it measured. A step is forward, MSE loss,
 * backward and an Adam update, enqueued without waiting; the timed steps are
 * repeats of steps_per_repeat steps, each ended by a wait for the queue. */
typedef struct {
    char name[16]; /* "reference", "small", "U-Net" */
    fmcl_bench_model model;
    int width, depth; /* the MLP 3 -> width x depth -> 2 (OT path, seed 0) */
    int batch;
    int warmup, repeats, steps_per_repeat, profile_steps; /* repeats: 1 to 16 */
    /* figures */
    int64_t params;
    double flop_per_example;          /* one forward pass; a step counts 3 */
    double ms_min, ms_median, ms_max; /* per step, over the repeats */
    double steps_per_s, samples_per_s, gflops;
    double launches_per_step; /* of fmcl's kernels (packed GEMMs in, CLBlast's not) */
    double gemms_per_step;    /* GEMM calls (CLBlast's or the packed kernels') */
    /* host waits for the queue: finishes, blocking reads and writes (a step needs none) */
    double syncs_per_step;
    double paces_per_step;       /* waits that only bound the queue's depth */
    double profiled_ms_per_step; /* from the first start to the last end */
    int n_top;
    fmcl_bench_kernel top[FMCL_BENCH_TOP];
    /* checksum: the MLPs' every loss, the U-Net's last; n_losses 0: not run */
    int n_losses;
    double loss_mean;
    uint64_t loss_hash; /* FNV-1a of the losses' float32 bits */
} fmcl_bench_train;

/* Sampling throughput: RK4 from seed 0 through an untrained MLP (seed 1),
 * so every device integrates the same field. */
typedef struct {
    int width, depth, points, steps;
    int nfe; /* model evaluations of the solve; 0: not run */
    double seconds, points_nfe_per_s;
    double mean[2], std[2]; /* of the samples: the checksum that should agree */
    uint64_t hash;          /* FNV-1a of the samples' float32 bits */
} fmcl_bench_sample;

/* The first training step of the reference workload in a fresh process. */
typedef struct {
    double seconds; /* context creation to the step's end; < 0: not measured */
    double context, model, trainer, step; /* its parts; trainer includes GEMM warm-up */
    double process_seconds;               /* spawn to exit, when the caller measured it; else < 0 */
    char note[256];                       /* why it was not measured */
} fmcl_bench_first;

/* Everything fmcl_bench_run measures on one device. */
typedef struct {
    char spec[64]; /* "P:D" */
    fmcl_device_info device;
    char notes[1024]; /* the context's setup notes */
    fmcl_bench_gemm_impl gemm_impl;
    double peak_gflops; /* FMA rate of the peak_fma kernel */
    int n_gemm;
    fmcl_bench_gemm gemm[FMCL_BENCH_GEMMS];
    fmcl_bench_train train[FMCL_BENCH_TRAINS];
    fmcl_bench_sample sample;
    fmcl_bench_first first;
    char error[1024]; /* why the device could not run everything; "" when it did */
} fmcl_bench_result;

/* Runs every workload but the first step on ctx's device into *r (cleared
 * first; r->first is left "not measured" for the caller, who times it in a
 * new process with fmcl_bench_first_step). On failure r holds what finished
 * and r->error the context's message. The suite takes about 25 s on a
 * 2-core CPU, half that with cfg->quick. */
FMCL_API fmcl_status fmcl_bench_run(fmcl_ctx *ctx, const fmcl_bench_config *cfg,
                                    fmcl_bench_result *r);

/* The description of workload which at the suite's sizes (repeats and steps
 * as cfg->quick asks); figures zeroed. */
FMCL_API void fmcl_bench_train_default(fmcl_bench_train *w, fmcl_bench_workload which,
                                       const fmcl_bench_config *cfg);
/* Runs the training workload w describes and fills its figures: warm-up,
 * the timed repeats, then profile_steps on a profiling queue (0: none). */
FMCL_API fmcl_status fmcl_bench_train_run(fmcl_ctx *ctx, fmcl_bench_train *w);

/* Context creation to the end of the first reference training step, in this
 * process, on the device spec selects; for a measurement meant to start
 * cold, call it first thing in a new process. */
FMCL_API fmcl_status fmcl_bench_first_step(const char *spec, fmcl_bench_first *out, char *err,
                                           size_t errlen);

/* U-Net sampling: a class-conditional default U-Net (28x28x1, 10 classes,
 * weights from seed 1) integrated from noise with the midpoint solver;
 * guidance w > 0 adds classifier-free guidance (2 rows per point and
 * evaluation). After an untimed warm-up run, the median of `repeats` runs. */
typedef struct {
    int n, steps, repeats; /* repeats: 1 to 1000 */
    float guidance;
    /* figures */
    double ms_median;
    double mean; /* of the samples, a checksum */
} fmcl_bench_unet_sampling;

FMCL_API fmcl_status fmcl_bench_unet_sample(fmcl_ctx *ctx, fmcl_bench_unet_sampling *w);

/* ---- the JSON file -------------------------------------------------------- */

/* The PyTorch peer's figures for the same workloads, filled by whoever ran
 * it (fmcl bench --torch); 0 where it gave none. */
typedef struct {
    int ran;
    char about[256]; /* its version, threads, BLAS */
    double gemm_gflops[FMCL_BENCH_GEMMS];
    double steps_per_s[FMCL_BENCH_TRAINS];
    double points_nfe_per_s;
} fmcl_bench_peer;

/* One file: the results of one invocation on one or more devices. */
typedef struct {
    int format; /* FMCL_BENCH_FORMAT it was written in */
    char fmcl_version[32];
    char clblast_version[32];
    int quick;
    fmcl_bench_peer peer;
    int n_results;
    fmcl_bench_result *results;
} fmcl_bench_report;

/* A report with n_results cleared results (first steps "not measured"),
 * this library's versions and format; release with fmcl_bench_report_free. */
FMCL_API fmcl_status fmcl_bench_report_create(int n_results, fmcl_bench_report **out);
FMCL_API void fmcl_bench_report_free(fmcl_bench_report *rep);

/* Writes rep as JSON to path, atomically. */
FMCL_API fmcl_status fmcl_bench_write_json(const char *path, const fmcl_bench_report *rep,
                                           char *err, size_t errlen);
/* Reads a file fmcl_bench_write_json wrote (by any fmcl version of format
 * FMCL_BENCH_FORMAT or older) into *out (release with
 * fmcl_bench_report_free). Figures absent from the file read as not
 * measured: 0, or < 0 for the first step. FMCL_ERR_FORMAT names the file and
 * the defect, or the newer format it is written in. */
FMCL_API fmcl_status fmcl_bench_read_json(const char *path, fmcl_bench_report **out, char *err,
                                          size_t errlen);

/* ---- comparing results ---------------------------------------------------- */

/* One figure of a result as a row of a comparison. Speeds compare where the
 * workload strings are equal (the same model, sizes and batch), checksums
 * where checksum_of is equal too (the same steps from the same seeds). */
typedef struct {
    char name[48];        /* "GEMM reference hidden forward", "training, U-Net" */
    char workload[96];    /* "NT 4096x512x512", "MLP 3-512x4-2, batch 4096" */
    char unit[24];        /* "GFLOP/s", "steps/s", "points x NFE/s", "s" */
    int lower_is_better;  /* a time, not a rate */
    double value;         /* 0 when not measured */
    char checksum_of[48]; /* "loss mean of 6 steps"; "" where the row has no checksum */
    char checksum[96];    /* its value, rounded to 4 significant digits */
    int n_sums;
    double sums[4]; /* the values it shows, rounded so */
    uint64_t hash;  /* FNV-1a of the float32 bits behind it */
} fmcl_bench_row;

/* The most rows a result gives: the peak, each GEMM, each training
 * workload, sampling and the first step. */
#define FMCL_BENCH_ROWS (1 + FMCL_BENCH_GEMMS + FMCL_BENCH_TRAINS + 2)

/* r's figures as rows, in that order; returns how many (at most
 * FMCL_BENCH_ROWS). */
FMCL_API int fmcl_bench_rows(const fmcl_bench_result *r, fmcl_bench_row *rows);

/* Checksums agree when each rounded value is equal or next to the other's
 * (one unit apart in the 4th significant digit): two values a rounding
 * error apart can round either side of a boundary. */
typedef enum {
    FMCL_BENCH_NO_CHECKSUM = 0, /* the row has none, or the workloads differ */
    FMCL_BENCH_BITS_EQUAL,      /* the same float32 bits */
    FMCL_BENCH_AGREE,           /* the rounded checksums agree: the same computation */
    FMCL_BENCH_DIFFER           /* they differ: not the same computation */
} fmcl_bench_agreement;

/* "", "bit-identical", "agree", "DIFFER". */
FMCL_API const char *fmcl_bench_agreement_name(fmcl_bench_agreement a);

typedef struct {
    int comparable; /* the same workload, measured on both sides */
    double speed;   /* row's speed relative to base's (> 1: faster); 0 unless comparable */
    fmcl_bench_agreement agreement;
} fmcl_bench_comparison;

FMCL_API fmcl_bench_comparison fmcl_bench_compare(const fmcl_bench_row *base,
                                                  const fmcl_bench_row *row);

/* A bar chart of n results' speeds relative to the first's, one group of
 * bars per row of the first result, on a logarithmic axis; labels[i] names
 * result i in the legend. Rows that do not compare have no bar. */
FMCL_API fmcl_status fmcl_bench_plot(const char *path, const fmcl_bench_result *const *results,
                                     const char *const *labels, int n, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
