/* fmcl bench --torch: the same workloads in PyTorch on the CPU
 * (tools/bench_torch.py, and tools/bench_unet_torch.py for the U-Net),
 * through the interpreter peer_python.h picks; their lines are echoed and
 * parsed into the peer's figures. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "peer_python.h"

#ifndef FMCL_BENCH_TORCH_SCRIPT
#define FMCL_BENCH_TORCH_SCRIPT "tools/bench_torch.py"
#endif

/* tools/bench_torch.py --mode suite: GEMMs, the two MLPs, sampling. */
static int suite(const char *py, const fmcl_bench_result *r, fmcl_bench_peer *t)
{
    char cmd[4096];
    int len = snprintf(cmd, sizeof cmd, "'%s' '%s' --mode suite --gemm ", py,
                       FMCL_BENCH_TORCH_SCRIPT);
    for (int i = 0; i < r->n_gemm; i++) {
        const fmcl_bench_gemm *g = &r->gemm[i];
        len += snprintf(cmd + len, sizeof cmd - (size_t)len, "%s%d,%d,%d,%d,%d", i ? ":" : "",
                        g->ta, g->tb, g->M, g->N, g->K);
    }
    len += snprintf(cmd + len, sizeof cmd - (size_t)len, " --train ");
    for (int w = 0; w < 2; w++) { /* the MLPs; the U-Net has its own script */
        const fmcl_bench_train *b = &r->train[w];
        len += snprintf(cmd + len, sizeof cmd - (size_t)len, "%s%d,%d,%d,%d,%d", w ? ":" : "",
                        b->width, b->depth, b->batch, b->warmup, b->repeats * b->steps_per_repeat);
    }
    snprintf(cmd + len, sizeof cmd - (size_t)len, " --sample %d,%d,%d,%d 2>&1", r->sample.width,
             r->sample.depth, r->sample.points, r->sample.steps);
    printf("running: %s\n", cmd);
    fflush(stdout);
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    char line[1024];
    while (fgets(line, sizeof line, p)) {
        fputs(line, stdout);
        int i;
        double v;
        if (sscanf(line, "torch gemm %d gflops=%lf", &i, &v) == 2 && i >= 0 && i < FMCL_BENCH_GEMMS)
            t->gemm_gflops[i] = v;
        else if (sscanf(line, "torch train %d steps_per_s=%lf", &i, &v) == 2 && i >= 0 && i < 2)
            t->steps_per_s[i] = v;
        else if (sscanf(line, "torch sample points_nfe_per_s=%lf", &v) == 1)
            t->points_nfe_per_s = v;
        else if (strncmp(line, "# torch ", 8) == 0)
            snprintf(t->about, sizeof t->about, "%.*s", (int)strcspn(line + 2, "\n"), line + 2);
    }
    return pclose(p);
}

void bench_torch(const fmcl_bench_result *r, fmcl_bench_peer *t)
{
    memset(t, 0, sizeof *t);
    char py[1024], cmd[2048];
    const char *why = peer_python(py, sizeof py);
    printf("\ntorch: %s (%s)\n", py, why);
    snprintf(cmd, sizeof cmd, "'%s' -c 'import torch' >/dev/null 2>&1", py);
    if (system(cmd) != 0) {
        printf("torch: not available for %s; to compare, make the peer environment with the "
               "newest PyTorch from PyPI:\n  tools/peer-venv.sh\n",
               py);
        return;
    }
    int rc = suite(py, r, t);
    t->ran = rc == 0 && t->steps_per_s[FMCL_BENCH_REFERENCE] > 0;
    if (!t->ran) {
        printf("torch: %s did not finish with its figures (status %d)\n", FMCL_BENCH_TORCH_SCRIPT,
               rc);
        return;
    }
    /* The U-Net in its own script, same batch and number of timed steps. */
    const fmcl_bench_train *u = &r->train[FMCL_BENCH_UNET];
    char args[128];
    snprintf(args, sizeof args, "--batch %d --steps %d", u->batch,
             u->repeats * u->steps_per_repeat);
    double ms = peer_unet_torch(py, args, "torch ms_per_step");
    t->steps_per_s[FMCL_BENCH_UNET] = ms > 0 ? 1e3 / ms : 0;
}
