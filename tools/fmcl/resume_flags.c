/* Repeated flags on fmcl train --resume (see resume_flags.h). */
#define _POSIX_C_SOURCE 200809L
#include "resume_flags.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

/* Flags that change nothing the run computes: given freely. */
static const char *const free_flags[] = {"resume",    "steps",      "device",
                                         "log-every", "ckpt-every", NULL};
/* Flags whose saved value train_resume_opts restores, by the kind of run. */
static const char *const every_run[] = {
    "data",         "out",    "model",    "batch",    "lr",          "seed",     "path",
    "sigma-min",    "poly-n", "beta-min", "beta-max", "sigma-lo",    "sigma-hi", "coupling",
    "weight-decay", "clip",   "ema",      "warmup",   "lr-schedule", NULL};
static const char *const mlp_run[] = {"width", "depth", "time-freqs", NULL};
static const char *const image_run[] = {"hflip", "cond", "label-drop", "limit", NULL};
static const char *const folder_run[] = {"image-size", "channels", NULL};

static int listed(const char *const *list, const char *name)
{
    for (; *list; list++)
        if (strcmp(*list, name) == 0) return 1;
    return 0;
}

/* Two paths that name the same file or folder. */
static int same_path(const char *a, const char *b)
{
    struct stat sa, sb;
    return strcmp(a, b) == 0 || (stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
                                 sa.st_ino == sb.st_ino);
}

/* The value of spec s in o (s->dest points into base), as text into buf;
 * returns whether it equals the value in other. */
static int compare(const arg_spec *s, const train_opts *base, const train_opts *o,
                   const train_opts *other, char *buf, size_t len)
{
    const size_t at = (size_t)((const char *)s->dest - (const char *)base);
    const void *v = (const char *)o + at, *w = (const char *)other + at;
    switch (s->type) {
    case ARG_BOOL:
    case ARG_INT:
        snprintf(buf, len, "%d", *(const int *)v);
        return *(const int *)v == *(const int *)w;
    case ARG_U64:
        snprintf(buf, len, "%" PRIu64, *(const uint64_t *)v);
        return *(const uint64_t *)v == *(const uint64_t *)w;
    case ARG_REAL: /* saved as float: compared as float */
        snprintf(buf, len, "%g", (double)(float)*(const double *)v);
        return (float)*(const double *)v == (float)*(const double *)w;
    default: {
        const char *x = *(const char *const *)v, *y = *(const char *const *)w;
        snprintf(buf, len, "%s", x ? x : "(none)");
        if (!x || !y) return x == y;
        return strcmp(s->name, "data") == 0 || strcmp(s->name, "out") == 0 ? same_path(x, y)
                                                                           : !strcmp(x, y);
    }
    }
}

int resume_flags_check(arg_cmd *cmd, const train_opts *given, const train_opts *saved, int images)
{
    const int mlp = strcmp(saved->model, "mlp") == 0;
    const int folder = strncmp(saved->data, "images:", 7) == 0;
    char conflicts[4096] = "", mine[512], theirs[512];
    size_t used = 0;
    for (int i = 0; i < cmd->n; i++) {
        const arg_spec *s = &cmd->specs[i];
        if (!s->seen || listed(free_flags, s->name)) continue;
        if (!listed(every_run, s->name) && !(mlp && listed(mlp_run, s->name)) &&
            !(images && listed(image_run, s->name)) && !(folder && listed(folder_run, s->name)))
            return args_usage(cmd,
                              "--%s does not apply to resuming this run: a resumed run "
                              "keeps the settings it was started with (give only --steps, "
                              "--device, --log-every, --ckpt-every, or the run's own flags "
                              "with the values it was started with)",
                              s->name);
        if (compare(s, saved, given, saved, mine, sizeof mine)) continue;
        compare(s, saved, saved, given, theirs, sizeof theirs);
        if (used < sizeof conflicts)
            used += (size_t)snprintf(
                conflicts + used, sizeof conflicts - used, "%s--%s%s%s (the run's: %s)",
                used ? ", " : "", s->name, s->type == ARG_BOOL ? "" : " ",
                s->type == ARG_BOOL ? "" : mine,
                s->type == ARG_BOOL ? (*theirs == '1' ? "on" : "off") : theirs);
    }
    if (used)
        return args_usage(cmd,
                          "--resume %s: flags that differ from the run's settings: %s; a "
                          "resumed run keeps its settings, so drop them, or start a new run "
                          "with a fresh --out",
                          saved->resume, conflicts);
    return CLI_OK;
}
