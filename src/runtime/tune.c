/* The tuned-parameter file (format in tune.h): a strict line parser, a
 * writer, where a device's file lives, and the device limits a candidate
 * must respect. Nothing here talks to CLBlast; gemm.c applies what this
 * reads. */
#include "runtime/tune.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/atomic.h"
#include "runtime/cache.h"
#include "runtime/sha256.h"

#define HEADER "fmcl-clblast-params 1"
#define MAX_LINE 1024

void fmcl_tune_identity(const fmcl_device_info *info, fmcl_tune_set *id)
{
    memset(id, 0, sizeof *id);
    snprintf(id->platform, sizeof id->platform, "%s", info->platform_name);
    snprintf(id->device, sizeof id->device, "%s", info->device_name);
    snprintf(id->driver, sizeof id->driver, "%s", info->driver_version);
    snprintf(id->clblast, sizeof id->clblast, "%s", fmcl_clblast_version());
}

void fmcl_tune_limits(const fmcl_ctx *ctx, size_t *local_mem, size_t *max_wg)
{
    cl_ulong lm = 0;
    clGetDeviceInfo(ctx->device, CL_DEVICE_LOCAL_MEM_SIZE, sizeof lm, &lm, NULL);
    *local_mem = (size_t)lm;
    *max_wg = ctx->sched.max_wg;
}

/* ---- validity ------------------------------------------------------------- */

/* Every parameter CLBlast 1.5.3 wants for each kernel of its GEMM routine
 * (it refuses a kernel given only some of them). */
static const struct {
    const char *kernel, *params;
} required[] = {
    {"Xgemm", "GEMMK KREG KWG KWI MDIMA MDIMC MWG NDIMB NDIMC NWG SA SB STRM STRN VWM VWN"},
    {"XgemmDirect", "KWID MDIMAD MDIMCD NDIMBD NDIMCD PADA PADB VWMD VWND WGD"},
    {"Copy", "COPY_DIMX COPY_DIMY COPY_VW COPY_WPT"},
    {"Pad", "PAD_DIMX PAD_DIMY PAD_WPTX PAD_WPTY"},
    {"Transpose", "TRA_DIM TRA_PAD TRA_SHUFFLE TRA_WPT"},
    {"Padtranspose", "PADTRA_PAD PADTRA_TILE PADTRA_WPT"},
    {"GemmRoutine", "XGEMM_MIN_INDIRECT_SIZE"},
};

/* Bounds beyond CLBlast's own rules, each twice (tiles) or exactly (work per
 * work-item) the largest value its tuners search: CLBlast pads every matrix
 * to a multiple of the GEMM tiles, so a huge tile makes every product's
 * scratch buffer huge and the GEMM fails for want of memory, and a huge
 * per-work-item tile does not fit in registers. */
#define MAX_TILE 256
#define MAX_PER_ITEM 256

static size_t get(const fmcl_tune_kernel *k, const char *name)
{
    for (int i = 0; i < k->n; i++)
        if (strcmp(k->param[i], name) == 0) return k->value[i];
    return 0;
}

static int has(const fmcl_tune_kernel *k, const char *name)
{
    for (int i = 0; i < k->n; i++)
        if (strcmp(k->param[i], name) == 0) return 1;
    return 0;
}

static int multiple(size_t x, size_t of) { return of != 0 && x % of == 0; }
static int vector_width(size_t w) { return w == 1 || w == 2 || w == 4 || w == 8 || w == 16; }

/* The missing parameter of k, "" when none is, NULL for an unknown kernel. */
static const char *missing_param(const fmcl_tune_kernel *k, char *buf, size_t cap)
{
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++) {
        if (strcmp(k->name, required[i].kernel) != 0) continue;
        for (const char *p = required[i].params; *p;) {
            size_t l = strcspn(p, " ");
            snprintf(buf, cap, "%.*s", (int)l, p);
            if (!has(k, buf)) return buf;
            p += l + (p[l] ? 1 : 0);
        }
        return "";
    }
    return NULL;
}

const char *fmcl_tune_invalid(const fmcl_tune_kernel *k, size_t max_wg, size_t local_mem, char *buf,
                              size_t cap)
{
    char name[32];
    const char *miss = missing_param(k, name, sizeof name);
    if (!miss) return "not a kernel of CLBlast's GEMM";
    if (*miss) {
        snprintf(buf, cap, "parameter %s is missing (CLBlast needs all of them)", miss);
        return buf;
    }
#define P(name) get(k, name)
    size_t wg = 0, lmem = 0, tile = 0, per_item = 0; /* lmem in floats */
    if (strcmp(k->name, "Xgemm") == 0) {
        size_t kdima = P("MDIMA") ? P("MDIMC") * P("NDIMC") / P("MDIMA") : 0;
        size_t kdimb = P("NDIMB") ? P("MDIMC") * P("NDIMC") / P("NDIMB") : 0;
        if (!multiple(P("KWG"), P("KWI"))) return "KWG is not a multiple of KWI";
        if (!multiple(P("MWG"), P("MDIMC") * P("VWM"))) return "MWG % (MDIMC VWM) != 0";
        if (!multiple(P("NWG"), P("NDIMC") * P("VWN"))) return "NWG % (NDIMC VWN) != 0";
        if (!multiple(P("MWG"), P("MDIMA") * P("VWM"))) return "MWG % (MDIMA VWM) != 0";
        if (!multiple(P("NWG"), P("NDIMB") * P("VWN"))) return "NWG % (NDIMB VWN) != 0";
        if (!multiple(P("KWG"), kdima) || !multiple(P("KWG"), kdimb))
            return "KWG is not a multiple of MDIMC NDIMC / MDIMA and / NDIMB";
        if (!vector_width(P("VWM")) || !vector_width(P("VWN")))
            return "VWM and VWN must be 1, 2, 4, 8 or 16";
        wg = P("MDIMC") * P("NDIMC");
        lmem = P("SA") * P("KWG") * P("MWG") + P("SB") * P("KWG") * P("NWG");
        tile = P("MWG") > P("NWG") ? P("MWG") : P("NWG");
        tile = P("KWG") > tile ? P("KWG") : tile;
        per_item = P("MWG") / P("MDIMC") * (P("NWG") / P("NDIMC"));
    } else if (strcmp(k->name, "XgemmDirect") == 0) {
        size_t w = P("WGD"), c = P("MDIMCD") * P("NDIMCD");
        if (!multiple(w, P("KWID"))) return "WGD is not a multiple of KWID";
        if (!multiple(w, P("MDIMCD") * P("VWMD")) || !multiple(w, P("NDIMCD") * P("VWND")) ||
            !multiple(w, P("MDIMAD") * P("VWMD")) || !multiple(w, P("NDIMBD") * P("VWND")))
            return "WGD is not a multiple of the thread tiles times the vector widths";
        if (!P("MDIMAD") || !P("NDIMBD") || !multiple(w, c / P("MDIMAD")) ||
            !multiple(w, c / P("NDIMBD")))
            return "WGD is not a multiple of MDIMCD NDIMCD / MDIMAD and / NDIMBD";
        if (!vector_width(P("VWMD")) || !vector_width(P("VWND")))
            return "VWMD and VWND must be 1, 2, 4, 8 or 16";
        wg = c;
        lmem = w * (w + P("PADA")) + w * (w + P("PADB"));
        tile = w;
        per_item = w / P("MDIMCD") * (w / P("NDIMCD"));
    } else if (strcmp(k->name, "Copy") == 0) {
        if (!vector_width(P("COPY_VW"))) return "COPY_VW must be 1, 2, 4, 8 or 16";
        wg = P("COPY_DIMX") * P("COPY_DIMY");
        per_item = P("COPY_VW") * P("COPY_WPT");
    } else if (strcmp(k->name, "Pad") == 0) {
        wg = P("PAD_DIMX") * P("PAD_DIMY");
        per_item = P("PAD_WPTX") * P("PAD_WPTY");
    } else if (strcmp(k->name, "Transpose") == 0) {
        size_t t = P("TRA_DIM") * P("TRA_WPT");
        wg = P("TRA_DIM") * P("TRA_DIM");
        lmem = t * (t + P("TRA_PAD"));
        per_item = P("TRA_WPT") * P("TRA_WPT");
    } else if (strcmp(k->name, "Padtranspose") == 0) {
        size_t t = P("PADTRA_TILE") * P("PADTRA_WPT");
        wg = P("PADTRA_TILE") * P("PADTRA_TILE");
        lmem = t * (t + P("PADTRA_PAD"));
        per_item = P("PADTRA_WPT") * P("PADTRA_WPT");
    } else { /* GemmRoutine: a size threshold, any value */
        return NULL;
    }
#undef P
    if (wg == 0 || wg > max_wg) return "work-group larger than the device allows";
    if (lmem * 4 > local_mem) return "more local memory than the device has";
    if (tile > MAX_TILE) return "a tile larger than 256 (CLBlast pads the matrices to it)";
    if (per_item == 0 || per_item > MAX_PER_ITEM)
        return "no work, or more than 256 values, per work-item";
    return NULL;
}

/* ---- the file ------------------------------------------------------------- */

static int is_name(const char *s, size_t len, size_t cap)
{
    if (len == 0 || len >= cap) return 0;
    for (size_t i = 0; i < len; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '_') return 0;
    return 1;
}

/* "NAME P=V P=V ..." into k; NULL on success, else what is wrong. */
static const char *parse_kernel(char *rest, fmcl_tune_kernel *k)
{
    memset(k, 0, sizeof *k);
    char *save = NULL, *tok = strtok_r(rest, " \t", &save);
    if (!tok) return "a kernel line needs a name";
    /* Only the GEMM routine's kernels: CLBlast answers other names with an
     * error it also prints on stderr. */
    static const char *const known[] = {"Xgemm",     "XgemmDirect",  "Copy",       "Pad",
                                        "Transpose", "Padtranspose", "GemmRoutine"};
    size_t i = 0;
    while (i < sizeof known / sizeof known[0] && strcmp(tok, known[i]) != 0) i++;
    if (i == sizeof known / sizeof known[0])
        return "not a kernel of CLBlast's GEMM (Xgemm, XgemmDirect, Copy, Pad, Transpose, "
               "Padtranspose, GemmRoutine)";
    strcpy(k->name, tok);
    while ((tok = strtok_r(NULL, " \t", &save))) {
        char *eq = strchr(tok, '=');
        if (!eq) return "a parameter is not NAME=VALUE";
        if (!is_name(tok, (size_t)(eq - tok), sizeof k->param[0])) return "bad parameter name";
        if (k->n == FMCL_TUNE_MAX_PARAMS) return "too many parameters";
        const char *v = eq + 1;
        if (!*v || strspn(v, "0123456789") != strlen(v) || strlen(v) > 7)
            return "a parameter value is not a small non-negative integer";
        size_t value = strtoul(v, NULL, 10);
        if (value > FMCL_TUNE_MAX_VALUE) return "a parameter value is too large";
        *eq = 0;
        for (int j = 0; j < k->n; j++)
            if (strcmp(k->param[j], tok) == 0) return "a parameter appears twice";
        strcpy(k->param[k->n], tok);
        k->value[k->n++] = value;
    }
    return k->n ? NULL : "a kernel line needs at least one parameter";
}

/* One identity field: its destination, or NULL when key is not one. */
static char *field(fmcl_tune_set *s, const char *key, size_t *cap)
{
    struct {
        const char *key;
        char *dst;
        size_t cap;
    } f[] = {{"platform", s->platform, sizeof s->platform},
             {"device", s->device, sizeof s->device},
             {"driver", s->driver, sizeof s->driver},
             {"clblast", s->clblast, sizeof s->clblast}};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        if (strcmp(key, f[i].key) == 0) {
            *cap = f[i].cap;
            return f[i].dst;
        }
    return NULL;
}

static int identity_complete(const fmcl_tune_set *s)
{
    return s->platform[0] && s->device[0] && s->driver[0] && s->clblast[0];
}

/* One line inside a section; NULL when fine, else the defect. *done is set
 * by "end". */
static const char *section_line(fmcl_tune_set *s, char *line, int *done)
{
    if (strcmp(line, "end") == 0) {
        if (!identity_complete(s)) return "'end' before platform, device, driver and clblast";
        if (s->n_kernels == 0) return "a section without kernel lines";
        *done = 1;
        return NULL;
    }
    char *sp = strchr(line, ' ');
    if (!sp) return "unknown line";
    *sp = 0;
    char *rest = sp + 1;
    if (strcmp(line, "kernel") == 0) {
        if (!identity_complete(s))
            return "a kernel line before platform, device, driver and clblast";
        if (s->n_kernels == FMCL_TUNE_MAX_KERNELS) return "too many kernel lines";
        fmcl_tune_kernel k;
        const char *why = parse_kernel(rest, &k);
        if (why) return why;
        for (int i = 0; i < s->n_kernels; i++)
            if (strcmp(s->kernel[i].name, k.name) == 0) return "a kernel appears twice";
        s->kernel[s->n_kernels++] = k;
        return NULL;
    }
    size_t cap;
    char *dst = field(s, line, &cap);
    if (!dst) return "unknown line";
    if (dst[0]) return "a field appears twice";
    if (!*rest || strlen(rest) >= cap) return "a field's value is empty or too long";
    strcpy(dst, rest);
    return NULL;
}

fmcl_status fmcl_tune_parse(const char *text, size_t len, fmcl_tune_set *sets, int cap, int *n,
                            char *err, size_t errlen)
{
    *n = 0;
    if (memchr(text, 0, len))
        return fmcl_errf(err, errlen, FMCL_ERR_FORMAT, "binary data (a NUL byte)");
    int lineno = 0, open_at = 0;
    for (size_t pos = 0; pos < len;) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t l = nl ? (size_t)(nl - (text + pos)) : len - pos;
        lineno++;
        if (l >= MAX_LINE)
            return fmcl_errf(err, errlen, FMCL_ERR_FORMAT, "line %d is too long", lineno);
        char line[MAX_LINE];
        memcpy(line, text + pos, l);
        pos += l + 1;
        while (l > 0 && isspace((unsigned char)line[l - 1])) l--;
        line[l] = 0;
        if (l == 0 || line[0] == '#') continue;
        const char *why = NULL;
        if (strcmp(line, HEADER) == 0) {
            if (open_at)
                why = "a new section before the previous one's 'end'";
            else if (*n == cap)
                why = "too many sections";
            else {
                memset(&sets[*n], 0, sizeof sets[*n]);
                open_at = lineno;
            }
        } else if (!open_at) {
            why = "expected the header '" HEADER "'";
        } else {
            int done = 0;
            why = section_line(&sets[*n], line, &done);
            if (done) {
                open_at = 0;
                ++*n;
            }
        }
        if (why) {
            *n = 0;
            return fmcl_errf(err, errlen, FMCL_ERR_FORMAT, "line %d: %s", lineno, why);
        }
    }
    if (open_at) {
        *n = 0;
        return fmcl_errf(err, errlen, FMCL_ERR_FORMAT,
                         "truncated: the section that starts on line %d has no 'end' line",
                         open_at);
    }
    return FMCL_OK;
}

int fmcl_tune_matches(const fmcl_tune_set *s, const fmcl_tune_set *id, char *why, size_t whylen)
{
    const char *names[] = {"platform", "device", "driver version", "CLBlast version"};
    const char *have[] = {s->platform, s->device, s->driver, s->clblast};
    const char *want[] = {id->platform, id->device, id->driver, id->clblast};
    for (int i = 0; i < 4; i++)
        if (strcmp(have[i], want[i]) != 0) {
            snprintf(why, whylen, "made for %s '%s', this is '%s'", names[i], have[i], want[i]);
            return 0;
        }
    return 1;
}

size_t fmcl_tune_format(const fmcl_tune_set *s, const char *comment, char *buf, size_t cap)
{
    size_t used = 0;
#define PUT(...)                                                                                   \
    do {                                                                                           \
        int w_ = snprintf(used < cap ? buf + used : NULL, used < cap ? cap - used : 0,             \
                          __VA_ARGS__);                                                            \
        used += w_ > 0 ? (size_t)w_ : 0;                                                           \
    } while (0)
    if (comment)
        for (const char *p = comment; *p;) {
            size_t l = strcspn(p, "\n");
            PUT("# %.*s\n", (int)l, p);
            p += l + (p[l] ? 1 : 0);
        }
    PUT("%s\nplatform %s\ndevice %s\ndriver %s\nclblast %s\n", HEADER, s->platform, s->device,
        s->driver, s->clblast);
    for (int i = 0; i < s->n_kernels; i++) {
        PUT("kernel %s", s->kernel[i].name);
        for (int j = 0; j < s->kernel[i].n; j++)
            PUT(" %s=%zu", s->kernel[i].param[j], s->kernel[i].value[j]);
        PUT("\n");
    }
    PUT("end\n");
#undef PUT
    return used;
}

int fmcl_tune_put(fmcl_tune_set *s, const fmcl_tune_kernel *k)
{
    for (int i = 0; i < s->n_kernels; i++)
        if (strcmp(s->kernel[i].name, k->name) == 0) {
            s->kernel[i] = *k;
            return 1;
        }
    if (s->n_kernels == FMCL_TUNE_MAX_KERNELS) return 0;
    s->kernel[s->n_kernels++] = *k;
    return 1;
}

int fmcl_tune_path(const fmcl_device_info *info, char *path, size_t cap)
{
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    char id[300];
    uint8_t d[32];
    snprintf(id, sizeof id, "%s\n%s", info->platform_name, info->device_name);
    fmcl_sha256_of(id, strlen(id), d);
    int n;
    if (xdg && xdg[0] == '/')
        n = snprintf(path, cap, "%s/fmcl/clblast/%02x%02x%02x%02x%02x%02x%02x%02x.txt", xdg, d[0],
                     d[1], d[2], d[3], d[4], d[5], d[6], d[7]);
    else if (home && *home)
        n = snprintf(path, cap, "%s/.cache/fmcl/clblast/%02x%02x%02x%02x%02x%02x%02x%02x.txt", home,
                     d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]);
    else
        return 0;
    return n > 0 && (size_t)n < cap;
}

fmcl_status fmcl_tune_save(const char *path, const fmcl_tune_set *s, const char *comment, char *err,
                           size_t errlen)
{
    size_t len = fmcl_tune_format(s, comment, NULL, 0);
    char *buf = malloc(len + 1);
    if (!buf) return fmcl_errf(err, errlen, FMCL_ERR_NOMEM, "out of host memory");
    fmcl_tune_format(s, comment, buf, len + 1);
    fmcl_status st = fmcl_cache_make_parents(path, err, errlen);
    if (st == FMCL_OK) {
        const void *chunk = buf;
        st = fmcl_write_file_atomic(path, &chunk, &len, 1, err, errlen);
    }
    free(buf);
    return st;
}
