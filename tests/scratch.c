/* A scratch folder for tests that write files (scratch.h). */
#include "scratch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testlib.h"

static char dir[64];

int scratch_make(const char *name)
{
    snprintf(dir, sizeof dir, "/tmp/fmcl-%s-XXXXXX", name);
    if (mkdtemp(dir)) return 1;
    perror("mkdtemp");
    return 0;
}

const char *scratch_dir(void) { return dir; }

const char *at(const char *name)
{
    static char buf[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
    return buf[k];
}

void put(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, len, f) != len) tl_check(0, "cannot write %s", path);
    if (f) fclose(f);
}

int expect_error(const char *what, fmcl_status got, fmcl_status want, const char *err,
                 const char *w1, const char *w2)
{
    int ok = tl_check(got == want, "%s: status %d, expected %d (%s)", what, got, want, err);
    ok &= tl_check(strstr(err, w1) != NULL, "%s: message '%s' lacks '%s'", what, err, w1);
    ok &= tl_check(!w2 || strstr(err, w2) != NULL, "%s: message '%s' lacks '%s'", what, err, w2);
    printf("  %-34s -> %s\n", what, err);
    return ok;
}

void scratch_remove(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) printf("could not remove %s\n", dir);
}
