/* Helpers shared by the fmcl subcommands (see cli.h). */
#include "cli.h"

#include "fmcl.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

/* "rank R of N: " under a group of ranks (cli_set_rank), else "". */
static char who[48];

void cli_set_rank(int rank, int size) { snprintf(who, sizeof who, "rank %d of %d: ", rank, size); }

int cli_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "fmcl: %serror: ", who);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return CLI_FAIL;
}

int cli_lib_error(const char *prefix, const char *msg)
{
    static const struct {
        const char *phrase, *advice;
    } flags[] = {
        {"a smaller batch or model needs less", "use a smaller --batch or --width"},
        {"needs a smaller width or depth", "use a smaller --width or --depth"},
        {"needs a smaller base or mult", "use a smaller --base or --mult"},
        {"training diverged", "lower --lr or set --clip"},
        {"fewer images", "use --limit"},
        {"allow more steps (max_steps)", "use --max-steps, --atol or --rtol"},
    };
    const char *fit = strstr(msg, "a batch of ");
    int batch = 0;
    fprintf(stderr, "fmcl: %serror: %s%s", who, prefix, msg);
    if (fit && sscanf(fit, "a batch of %d fits", &batch) == 1)
        fprintf(stderr, ": use --batch %d or smaller", batch);
    for (size_t i = 0; i < sizeof flags / sizeof *flags; i++)
        if (strstr(msg, flags[i].phrase)) fprintf(stderr, ": %s", flags[i].advice);
    fputc('\n', stderr);
    return CLI_FAIL;
}

int cli_data_error(const char *spec, const char *msg)
{
    char prefix[4200];
    snprintf(prefix, sizeof prefix, "--data %s: ", spec);
    return cli_lib_error(prefix, msg);
}

int cli_device_specs(int all, const char *device, cli_device_spec **out, int *n)
{
    fmcl_device_info *devs = NULL;
    *n = 1;
    if (all) {
        char err[1024];
        if (fmcl_devices_list(&devs, n, err, sizeof err) != FMCL_OK) return cli_error("%s", err);
        if (*n == 0) {
            fmcl_devices_free(devs);
            return cli_error("no OpenCL device found; install an OpenCL driver (e.g. "
                             "pocl-opencl-icd) and see `fmcl devices`");
        }
    }
    *out = calloc((size_t)*n, sizeof **out);
    if (!*out) {
        fmcl_devices_free(devs);
        return cli_error("out of host memory");
    }
    for (int i = 0; i < *n; i++) {
        if (all)
            snprintf((*out)[i].spec, sizeof(*out)[i].spec, "%d:%d", devs[i].platform_index,
                     devs[i].device_index);
        else if (device)
            snprintf((*out)[i].spec, sizeof(*out)[i].spec, "%s", device);
    }
    fmcl_devices_free(devs);
    return CLI_OK;
}

void cli_json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

void cli_json_number(FILE *f, double v)
{
    if (isfinite(v))
        fprintf(f, "%.4g", v);
    else
        fputs("null", f);
}

double cli_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void cli_notes_since(const char *notes, size_t from)
{
    if (strlen(notes) > from) fprintf(stderr, "%s", notes + from);
}

int cli_mkdir_p(const char *dir, char *err, size_t errlen)
{
    char path[4096];
    if (snprintf(path, sizeof path, "%s", dir) >= (int)sizeof path) {
        snprintf(err, errlen, "output folder name is too long: %s", dir);
        return -1;
    }
    /* Create each prefix ending before a '/', then the whole path. */
    for (char *p = path + 1;; p++) {
        if (*p != '/' && *p != '\0') continue;
        char c = *p;
        *p = '\0';
        struct stat st;
        if (mkdir(path, 0777) != 0 && errno != EEXIST) {
            snprintf(err, errlen, "cannot create folder %s: %s", path, strerror(errno));
            return -1;
        }
        if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
            snprintf(err, errlen, "%s exists and is not a folder; choose another --out", path);
            return -1;
        }
        *p = c;
        if (c == '\0') return 0;
    }
}

int cli_is_npy(const char *name)
{
    size_t n = strlen(name);
    return n >= 4 && strcasecmp(name + n - 4, ".npy") == 0;
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

float cli_plot_extent(const float *pts, int n)
{
    float *r = malloc(sizeof(float) * (size_t)(n > 0 ? n : 1));
    if (!r || n <= 0) {
        free(r);
        return 4.0f;
    }
    int m = 0;
    for (int i = 0; i < n; i++) {
        float a = fabsf(pts[2 * i]), b = fabsf(pts[2 * i + 1]);
        float v = a > b ? a : b;
        if (isfinite(v)) r[m++] = v;
    }
    float q = 0.0f;
    if (m > 0) {
        qsort(r, (size_t)m, sizeof(float), cmp_float);
        q = r[(int)(0.999 * (m - 1))];
    }
    free(r);
    q *= 1.08f;
    return q > 0.5f ? q : 0.5f;
}
