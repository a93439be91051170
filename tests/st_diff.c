/* st_diff A B: how far apart two checkpoints of the same model are. The
 * float32 tensors of A (B must hold each with the same shape) fall in
 * groups: the weights, their EMA ("ema."), Adam's moments
 * ("optim.exp_avg.", "optim.exp_avg_sq.") and the losses ("train.loss").
 * Prints one line
 *   max_rel R max_abs E tensors N worst GROUP
 * R the largest over the groups of ||a - b|| / ||b|| (2-norms over the
 * group's floats: a weight vector's relative error, which tensors that
 * start at zero do not blow up), GROUP that group, E the largest |a - b|.
 * Exit 1 when a file cannot be read or a tensor differs in name or shape.
 * Used by tests/train_mpi.sh. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "io/safetensors.h"

static const char *const groups[] = {"optim.exp_avg_sq.", "optim.exp_avg.", "ema.", "train.loss",
                                     ""};
#define N_GROUPS (sizeof groups / sizeof *groups)

static int group_of(const char *name)
{
    for (size_t g = 0; g < N_GROUPS; g++)
        if (!strncmp(name, groups[g], strlen(groups[g]))) return (int)g;
    return (int)N_GROUPS - 1;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: st_diff A.safetensors B.safetensors\n");
        return 2;
    }
    fmcl_st_file a, b;
    char err[1024];
    if (fmcl_st_read(argv[1], &a, err, sizeof err) != FMCL_OK ||
        fmcl_st_read(argv[2], &b, err, sizeof err) != FMCL_OK) {
        fprintf(stderr, "st_diff: %s\n", err);
        return 1;
    }
    double diff2[N_GROUPS] = {0}, norm2[N_GROUPS] = {0}, max_abs = 0;
    int n = 0, bad = 0;
    for (int i = 0; i < a.count; i++) {
        const fmcl_st_tensor *x = &a.tensors[i], *y = fmcl_st_find(&b, x->name);
        if (x->dtype != FMCL_ST_F32) continue;
        if (!y || y->dtype != x->dtype || y->nbytes != x->nbytes) {
            fprintf(stderr, "st_diff: %s: missing or of another shape in %s\n", x->name, argv[2]);
            bad = 1;
            continue;
        }
        const int g = group_of(x->name);
        for (size_t k = 0; k < x->nbytes / 4; k++) {
            float u, v;
            memcpy(&u, (const char *)x->data + 4 * k, 4);
            memcpy(&v, (const char *)y->data + 4 * k, 4);
            const double d = (double)u - v;
            diff2[g] += d * d;
            norm2[g] += (double)v * v;
            max_abs = fmax(max_abs, fabs(d));
        }
        n++;
    }
    double max_rel = 0;
    const char *worst = "none";
    for (size_t g = 0; g < N_GROUPS; g++) {
        const double rel = norm2[g] > 0 ? sqrt(diff2[g] / norm2[g]) : sqrt(diff2[g]);
        if (rel > max_rel) max_rel = rel, worst = *groups[g] ? groups[g] : "weights";
    }
    printf("max_rel %.3g max_abs %.3g tensors %d worst %s\n", max_rel, max_abs, n, worst);
    fmcl_st_free(&a);
    fmcl_st_free(&b);
    return bad || n == 0;
}
