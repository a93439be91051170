/* The benchmarks' PyTorch interpreter (peer_python.h). */
#include "peer_python.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

const char *peer_python(char *buf, size_t cap)
{
    const char *env = getenv("FMCL_PYTHON");
    if (env && *env) {
        snprintf(buf, cap, "%s", env);
        return "$FMCL_PYTHON";
    }
    const char *cache = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    int n = -1;
    if (cache && *cache) n = snprintf(buf, cap, "%s/fmcl/peer-venv/bin/python", cache);
    else if (home && *home) n = snprintf(buf, cap, "%s/.cache/fmcl/peer-venv/bin/python", home);
    if (n > 0 && (size_t)n < cap && access(buf, X_OK) == 0)
        return "tools/peer-venv.sh's environment: the newest PyTorch from PyPI";
    snprintf(buf, cap, "/usr/bin/python3");
    return "the system's python3 (no tools/peer-venv.sh environment: Debian's PyTorch, older "
           "than PyPI's; run tools/peer-venv.sh for the newest)";
}
