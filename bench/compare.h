/* fmcl-compare's results (compare_paths.c) and their outputs: the tables on
 * stdout and the JSON file (compare_report.c), the figure (compare_plot.c).
 * In bench/ because the figure uses the library's internals (compare_paths.c
 * says why). */
#ifndef FMCL_COMPARE_H
#define FMCL_COMPARE_H

#include <stdint.h>
#include <stdio.h>

#include "compare_metrics.h"
#include "fmcl.h"

#define CMP_NFES 4  /* the NFE budgets of the fixed-step solvers */
#define CMP_FIXED 3 /* Euler, midpoint, RK4 */

typedef struct {
    const char *device, *out;
    int width, depth, batch, steps, eval_every, samples, nll_points;
    double lr;
    uint64_t seed;
} cmp_opts;

/* Held-out checkerboard points, fixed for both paths. */
typedef struct {
    cmp_ref ref;  /* CMP_REF_FACTOR x n_samples points samples are scored against */
    float *floor; /* CMP_FLOOR_SETS x n_samples x 2: independent data, scored the same way */
    float *nll;   /* n_nll x 2: the points of the NLL */
    int n_samples, n_nll;
    double floor_sw2, floor_sw2_sd; /* mean and standard deviation over the floor sets */
    double floor_board;             /* of all floor sets together */
} cmp_data;

#define CMP_REF_FACTOR 16
#define CMP_FLOOR_SETS 8
#define CMP_DIRS 64 /* sliced W2's directions */

typedef struct {
    int step;           /* measured after this many training steps */
    double nll, nll_se; /* nats, mean and standard error over the points */
    int nll_nfe;
    double nll_s; /* seconds the NLL took */
    double *logp; /* n_nll values, for the paired difference of the two paths */
} cmp_eval;

typedef struct {
    float *pts; /* n_samples x 2; NULL when the solver cannot make the NFE */
    int steps;  /* fixed-step solvers' uniform steps */
    int nfe, accepted, rejected;
    double sw2, board; /* sliced W2 to cmp_data.ref; fraction on the board */
} cmp_samples;

typedef struct {
    int path;    /* fmcl_path_kind */
    float *loss; /* per training step */
    cmp_eval *evals;
    int n_evals;
    cmp_samples fixed[CMP_FIXED][CMP_NFES];
    cmp_samples dopri5;
    double train_s, sample_s;
} cmp_path;

/* Names of the fixed-step solvers in table order. */
extern const char *const cmp_solver_names[CMP_FIXED];

/* Mean training loss of the steps (from, to]; from < to. */
double cmp_loss_mean(const cmp_path *r, int from, int to);

void cmp_print(FILE *f, const cmp_opts *o, const cmp_data *d, const cmp_path paths[2],
               const int nfes[CMP_NFES], double total_s);
fmcl_status cmp_write_json(const char *path, const cmp_opts *o, const cmp_data *d,
                           const cmp_path paths[2], double total_s, const fmcl_device_info *dev,
                           char *err, size_t errlen);
/* Samples of every path x solver at every NFE beside held-out data, and the
 * NLL and loss curves. */
fmcl_status cmp_plot(const char *path, const cmp_opts *o, const cmp_data *d,
                     const cmp_path paths[2], const int nfes[CMP_NFES], char *err, size_t errlen);

#endif
