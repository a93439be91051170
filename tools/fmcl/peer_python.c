/* The benchmarks' PyTorch interpreter and U-Net script (peer_python.h). */
#include "peer_python.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#ifndef FMCL_BENCH_UNET_TORCH
#define FMCL_BENCH_UNET_TORCH "tools/bench_unet_torch.py"
#endif

const char *peer_python(char *buf, size_t cap)
{
    const char *env = getenv("FMCL_PYTHON");
    if (env && *env) {
        snprintf(buf, cap, "%s", env);
        return "$FMCL_PYTHON";
    }
    const char *cache = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    int n = -1;
    if (cache && *cache)
        n = snprintf(buf, cap, "%s/fmcl/peer-venv/bin/python", cache);
    else if (home && *home)
        n = snprintf(buf, cap, "%s/.cache/fmcl/peer-venv/bin/python", home);
    if (n > 0 && (size_t)n < cap && access(buf, X_OK) == 0)
        return "tools/peer-venv.sh's environment: the newest PyTorch from PyPI";
    snprintf(buf, cap, "/usr/bin/python3");
    return "the system's python3 (no tools/peer-venv.sh environment: Debian's PyTorch, older "
           "than PyPI's; run tools/peer-venv.sh for the newest)";
}

double peer_unet_torch(const char *py, const char *args, const char *key)
{
    char cmd[2048], line[512], fmt[64];
    snprintf(cmd, sizeof cmd, "'%s' '%s' %s 2>&1", py, FMCL_BENCH_UNET_TORCH, args);
    snprintf(fmt, sizeof fmt, "%s=%%lf", key);
    printf("running: %s\n", cmd);
    fflush(stdout);
    FILE *p = popen(cmd, "r");
    double v, got = 0;
    while (p && fgets(line, sizeof line, p)) {
        fputs(line, stdout);
        if (sscanf(line, fmt, &v) == 1 && v > 0) got = v;
    }
    if (p && pclose(p) != 0) got = 0;
    return got;
}
