/* Output files checked before any work (see outputs.h). */
#define _POSIX_C_SOURCE 200809L
#include "outputs.h"

#include <errno.h>
#include <glob.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

int outputs_has_run(const char *dir)
{
    char ckpt[4200];
    struct stat st;
    snprintf(ckpt, sizeof ckpt, "%s/model.safetensors", dir);
    return stat(ckpt, &st) == 0;
}

int outputs_run_dir(const char *dir, int overwrite)
{
    char ckpt[4200];
    snprintf(ckpt, sizeof ckpt, "%s/model.safetensors", dir);
    if (overwrite || !outputs_has_run(dir)) {
        outputs_remove_unfinished(dir); /* a run killed in its first write */
        return CLI_OK;
    }
    return cli_error("--out %s already holds a run (%s): continue it with `fmcl train --resume "
                     "%s`, or choose a fresh --out; --overwrite replaces it",
                     dir, ckpt, dir);
}

void outputs_remove_unfinished(const char *dir)
{
    char pattern[4300];
    snprintf(pattern, sizeof pattern, "%s/model.safetensors.tmp.??????", dir);
    glob_t g;
    if (glob(pattern, 0, NULL, &g) != 0) return;
    int removed = 0;
    for (size_t i = 0; i < g.gl_pathc; i++) removed += unlink(g.gl_pathv[i]) == 0;
    if (removed)
        fprintf(stderr, "removed %d unfinished checkpoint write(s) of a killed run\n", removed);
    globfree(&g);
}

int outputs_file(const char *flag, const char *path)
{
    char dir[4096], err[1024];
    const char *slash = strrchr(path, '/');
    int len = slash ? (int)(slash - path) : 1;
    if (snprintf(dir, sizeof dir, "%.*s", len ? len : 1, slash ? path : ".") >= (int)sizeof dir)
        return cli_error("%s %s: the name is too long", flag, path);
    if (!*path || (slash && !slash[1]))
        return cli_error("%s '%s' names a folder; give a file name", flag, path);
    if (cli_mkdir_p(dir, err, sizeof err) != 0) return cli_error("%s %s: %s", flag, path, err);
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return cli_error("%s %s is a folder; give a file name", flag, path);
    /* A file of our own in the folder shows it takes the atomic write's
     * temporary file and rename (permissions, a read-only file system). */
    char probe[4200];
    snprintf(probe, sizeof probe, "%s/.fmcl-probe-XXXXXX", dir);
    int fd = mkstemp(probe);
    if (fd < 0)
        return cli_error("%s %s: cannot write into the folder %s (%s); choose another place", flag,
                         path, dir, strerror(errno));
    close(fd);
    unlink(probe);
    return CLI_OK;
}

int outputs_is_png(const char *path)
{
    size_t n = strlen(path);
    return n > 4 && strcasecmp(path + n - 4, ".png") == 0;
}

const char *outputs_beside(const char *out, char *buf, size_t len)
{
    size_t n = strlen(out);
    if (cli_is_npy(out)) n -= 4;
    snprintf(buf, len, "%.*s.png", (int)n, out);
    return buf;
}

size_t outputs_nonfinite(const float *x, size_t n)
{
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) bad += !isfinite(x[i]);
    return bad;
}
