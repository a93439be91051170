/* The settings table (include/fmcl/settings.h): every list's names round
 * trip through their values, every setting is found by its scope and key,
 * checks accept the ends of a range as its brackets say and refuse what lies
 * past them with a message naming the key and the range, float fields at a
 * limit pass, and values read from text (as checkpoints hold them) are
 * checked. Pure CPU. */
#include <math.h>
#include <string.h>

#include "io/settings.h"
#include "testlib.h"

static void names(void)
{
    const int sizes[FMCL_NAMES_COUNT] = {6, 2, 2, 6, 2, 5, 3};
    for (int l = 0; l < FMCL_NAMES_COUNT; l++) {
        const char *const *list = fmcl_names_of((fmcl_names)l);
        int n = 0;
        while (list && list[n]) {
            tl_check(fmcl_name_value((fmcl_names)l, list[n]) == n &&
                         fmcl_name((fmcl_names)l, n) == list[n],
                     "list %d: name %d '%s' round trip", l, n, list[n]);
            n++;
        }
        tl_check(n == sizes[l] && !fmcl_name((fmcl_names)l, n) && !fmcl_name((fmcl_names)l, -1),
                 "list %d holds %d names, expected %d", l, n, sizes[l]);
    }
    /* The enums' own order. */
    tl_check(!strcmp(fmcl_name(FMCL_NAMES_SOLVER, FMCL_SOLVER_HEUN), "heun") &&
                 !strcmp(fmcl_name(FMCL_NAMES_SOLVER, FMCL_SOLVER_RK4), "rk4") &&
                 !strcmp(fmcl_name(FMCL_NAMES_SOLVER, FMCL_SOLVER_RK4_38), "rk4-38") &&
                 !strcmp(fmcl_name(FMCL_NAMES_PATH, FMCL_PATH_LINEAR_VP), "linear-vp") &&
                 !strcmp(fmcl_name(FMCL_NAMES_LR_SCHEDULE, FMCL_LR_COSINE), "cosine") &&
                 !strcmp(fmcl_name(FMCL_NAMES_COUPLING, FMCL_COUPLING_OT), "ot"),
             "names in the order of their enums");
    tl_check(fmcl_name_value(FMCL_NAMES_SOLVER, "HEUN") == -1 &&
                 fmcl_name_value(FMCL_NAMES_PATH, NULL) == -1 && !fmcl_names_of(FMCL_NAMES_COUNT),
             "names match exactly; unknown lists and names are refused");
}

/* v passes s's check (want 1) or fails it with a message holding text. */
static void expect(fmcl_setting_scope scope, const char *key, double v, int want, const char *text)
{
    char err[256] = "";
    const fmcl_setting *s = fmcl_setting_find(scope, key);
    if (!tl_check(s != NULL, "setting %s (scope %d) exists", key, (int)scope)) return;
    fmcl_status st = fmcl_setting_check(s, v, err, sizeof err);
    tl_check(want ? st == FMCL_OK : st == FMCL_ERR_ARG && strstr(err, text),
             "%s = %.9g: status %d, message '%s' (expected %s '%s')", key, v, st, err,
             want ? "OK" : "a refusal with", want ? "" : text);
}

static void ranges(void)
{
    int count = 0;
    const fmcl_setting *all = fmcl_settings(&count);
    for (int i = 0; i < count; i++)
        tl_check(fmcl_setting_find(all[i].scope, all[i].key) == &all[i] && all[i].about &&
                     (all[i].type != FMCL_SETTING_NAME || fmcl_names_of(all[i].names)),
                 "setting %d (%s) found by its scope and key, described", i, all[i].key);
    tl_check(count > 40 && !fmcl_setting_find(FMCL_SCOPE_TRAIN, "nonsense") &&
                 fmcl_setting_find(FMCL_SCOPE_MLP, "width") !=
                     fmcl_setting_find(FMCL_SCOPE_UNET, "width"),
             "%d settings; a key is looked up within its scope", count);
    expect(FMCL_SCOPE_TRAIN, "batch", 1, 1, "");
    expect(FMCL_SCOPE_TRAIN, "batch", 1 << 20, 1, "");
    expect(FMCL_SCOPE_TRAIN, "batch", 0, 0, "batch must be in [1, 1048576]");
    expect(FMCL_SCOPE_TRAIN, "batch", 2.5, 0, "batch must be in");
    expect(FMCL_SCOPE_TRAIN, "lr", 0, 0, "lr must be in (0, 10]");
    expect(FMCL_SCOPE_TRAIN, "lr", 10, 1, "");
    expect(FMCL_SCOPE_TRAIN, "lr", NAN, 0, "lr must be");
    expect(FMCL_SCOPE_TRAIN, "eps", 1e30, 1, "");
    expect(FMCL_SCOPE_TRAIN, "eps", 0, 0, "eps must be greater than 0");
    expect(FMCL_SCOPE_TRAIN, "clip", INFINITY, 0, "clip must be at least 0");
    expect(FMCL_SCOPE_TRAIN, "sigma_min", 0.999f, 1, ""); /* the float nearest the limit */
    expect(FMCL_SCOPE_TRAIN, "sigma_min", 0.9991, 0, "sigma_min must be in [0, 0.999]");
    expect(FMCL_SCOPE_UNET, "dropout", 0.999999f, 1, "");
    expect(FMCL_SCOPE_UNET, "dropout", 1, 0, "dropout must be in [0, 1)");
    expect(FMCL_SCOPE_TRAIN, "path", FMCL_PATH_LINEAR_VP, 1, "");
    expect(FMCL_SCOPE_TRAIN, "path", 6, 0, "path must be one of ot, vp, ve, cosine, poly");
    expect(FMCL_SCOPE_TRAIN, "hflip", 2, 0, "hflip must be 0 or 1");
    expect(FMCL_SCOPE_TRAIN, "seed", 1e19, 1, "");
}

/* Text as a checkpoint's metadata holds it. */
static void reading(void)
{
    char err[256];
    double v = -1;
    const fmcl_setting *depth = fmcl_setting_find(FMCL_SCOPE_MLP, "depth");
    const fmcl_setting *path = fmcl_setting_find(FMCL_SCOPE_TRAIN, "path");
    const fmcl_setting *seed = fmcl_setting_find(FMCL_SCOPE_TRAIN, "seed");
    tl_check(fmcl_setting_read(depth, "64", &v, err, sizeof err) == FMCL_OK && v == 64,
             "depth 64 reads: %s", err);
    tl_check(fmcl_setting_read(depth, "65", &v, err, sizeof err) == FMCL_ERR_FORMAT &&
                 strstr(err, "depth must be in [1, 64]"),
             "depth 65 is refused: %s", err);
    tl_check(fmcl_setting_read(depth, "4x", &v, err, sizeof err) == FMCL_ERR_FORMAT &&
                 strstr(err, "depth is '4x', not an integer"),
             "depth 4x is refused: %s", err);
    tl_check(fmcl_setting_read(depth, NULL, &v, err, sizeof err) == FMCL_ERR_FORMAT &&
                 strstr(err, "depth is missing"),
             "a missing depth is refused: %s", err);
    tl_check(fmcl_setting_read(path, "linear-vp", &v, err, sizeof err) == FMCL_OK &&
                 v == FMCL_PATH_LINEAR_VP &&
                 fmcl_setting_read(path, "diffusion", &v, err, sizeof err) == FMCL_ERR_FORMAT,
             "paths read by name: %s", err);
    tl_check(fmcl_setting_read(seed, "18446744073709551615", &v, err, sizeof err) == FMCL_OK &&
                 fmcl_setting_read(seed, "-1", &v, err, sizeof err) == FMCL_ERR_FORMAT &&
                 fmcl_setting_read(seed, "", &v, err, sizeof err) == FMCL_ERR_FORMAT,
             "seeds: any unsigned integer, nothing else");
}

int main(void)
{
    names();
    ranges();
    reading();
    return tl_summary();
}
