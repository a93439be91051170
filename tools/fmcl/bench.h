/* fmcl bench: the standard workloads (bench_run.c) and what they measured,
 * which cmd_bench.c prints as a table and JSON and compares with PyTorch. */
#ifndef FMCL_CLI_BENCH_H
#define FMCL_CLI_BENCH_H

#include <stdint.h>

#include "fmcl.h"
#include "runtime/profile.h"

#define BENCH_GEMMS 8
#define BENCH_TOP 12 /* kernels listed in a step's breakdown */
#define BENCH_TRAINS 3 /* the reference and small MLPs, the default U-Net */

typedef struct {
    int quick;
} bench_opts;

/* One GEMM shape as the MLP issues it (row-major, fmcl_gemm conventions). */
typedef struct {
    const char *what; /* "ref hidden forward" */
    int ta, tb, M, N, K;
    double secs, gflops; /* best of the repeats, through the implementation fmcl uses */
    double alt_gflops;   /* the other one (CLBlast or the packed kernels), for comparison */
} bench_gemm;

typedef struct {
    int slot;
    double ms_per_step;
    double calls_per_step;
} bench_kernel_time;

/* One training workload: MLP 3 -> width x depth -> 2, OT path, Adam; or
 * (unet) the default Fashion-MNIST U-Net on noise (tools/unet_step.h). */
typedef struct {
    const char *name; /* "reference", "small", "U-Net" */
    int unet;
    size_t params;
    int width, depth, batch;
    int warmup, repeats, steps_per_repeat, profile_steps;
    double ms_min, ms_median, ms_max; /* per step, over the repeats */
    double steps_per_s, samples_per_s, gflops;
    int n_losses;
    double loss_mean;     /* over every step run, from seed 0 */
    uint64_t loss_hash;   /* FNV-1a over the losses' float bits */
    double launches_per_step, gemms_per_step, profiled_ms_per_step;
    int n_top;
    bench_kernel_time top[BENCH_TOP];
} bench_train;

typedef struct {
    int width, depth, points, steps, nfe;
    double secs, points_nfe_per_s;
    double mean[2], std[2]; /* of the sampled points */
    uint64_t hash;          /* FNV-1a over the samples' float bits */
} bench_sample;

typedef struct {
    char spec[64];
    fmcl_device_info info;
    char notes[1024];
    int gemm_packed; /* fmcl's packed GEMM kernels in use, not CLBlast */
    double peak_gflops;
    int n_gemm;
    bench_gemm gemm[BENCH_GEMMS];
    bench_train train[BENCH_TRAINS];
    bench_sample sample;
    double first_step_s, first_step_process_s; /* < 0: not measured */
    double first_step_parts[4]; /* context, model, trainer (plans, warms GEMMs), the step */
    char first_step_note[256];
    char error[2048]; /* set when the device could not run everything */
    char kernel_names[FMCL_PROF_SLOTS][48];
} bench_result;

/* Runs every workload on the device spec names; fills r (r->error on
 * failure, with whatever finished before). self is this program's path, for
 * the first-step child. */
void bench_device(const char *spec, const bench_opts *o, const char *self, bench_result *r);

/* `fmcl bench --first-step`: context creation to the end of the first
 * reference training step in this process, in seconds, and its parts
 * (context, model, trainer, step); < 0 and err on failure. */
double bench_first_step(const char *spec, double parts[4], char *err, size_t errlen);

uint64_t bench_fnv1a(const void *data, size_t len, uint64_t h);
#define BENCH_FNV_INIT 1469598103934665603ULL

#endif
