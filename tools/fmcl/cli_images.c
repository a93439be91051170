/* Image-model helpers of the fmcl subcommands (see cli_images.h). */
#include "cli_images.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define GRID_BORDER 2

int cli_image_shape(const fmcl_checkpoint *f, const char *path, int shape[3])
{
    const char *keys[3] = {CLI_META_CHANNELS, CLI_META_HEIGHT, CLI_META_WIDTH};
    const char *bits = fmcl_checkpoint_meta(f, CLI_META_BITS);
    if (!bits) return 0;
    if (strcmp(bits, "8") != 0) {
        cli_error("%s: %s is '%s'; fmcl knows only 8-bit images", path, CLI_META_BITS, bits);
        return -1;
    }
    for (int i = 0; i < 3; i++) {
        const char *v = fmcl_checkpoint_meta(f, keys[i]);
        char *end = NULL;
        long x = v ? strtol(v, &end, 10) : 0;
        if (!v || *end || x < 1 || x > 65536) {
            cli_error("%s: an image model needs %s, a positive integer (found %s)", path, keys[i],
                      v ? v : "nothing");
            return -1;
        }
        shape[i] = (int)x;
    }
    return 1;
}

int cli_write_grid(const char *path, const float *x, int n, const int shape[3])
{
    char err[1024];
    const int shown = n < CLI_GRID_MAX ? n : CLI_GRID_MAX;
    const int cols = (int)ceil(sqrt((double)shown));
    if (fmcl_plot_images(path, x, shown, shape[0], shape[1], shape[2], cols, GRID_BORDER, err,
                         sizeof err) != FMCL_OK)
        return cli_error("%s", err);
    printf("wrote %s (%d sample%s of %d x %d x %d in a grid of %d columns%s)\n", path, shown,
           shown == 1 ? "" : "s", shape[0], shape[1], shape[2], cols,
           shown < n ? ", the first ones" : "");
    return CLI_OK;
}

int cli_write_class_grid(const char *path, const float *x, int classes, int per, const int shape[3])
{
    char err[1024];
    const size_t D = (size_t)shape[0] * shape[1] * shape[2];
    const int cols = per < CLI_GRID_COLS ? per : CLI_GRID_COLS;
    float *tiles = malloc(sizeof(float) * D * (size_t)classes * cols);
    if (!tiles) return cli_error("out of host memory for the class grid");
    for (int k = 0; k < classes; k++) /* the first cols samples of class k */
        memcpy(tiles + (size_t)k * cols * D, x + (size_t)k * per * D, sizeof(float) * D * cols);
    fmcl_status s = fmcl_plot_images(path, tiles, classes * cols, shape[0], shape[1], shape[2],
                                     cols, GRID_BORDER, err, sizeof err);
    free(tiles);
    if (s != FMCL_OK) return cli_error("%s", err);
    printf("wrote %s (one row per class: %d rows of %d samples of %d x %d x %d)\n", path, classes,
           cols, shape[0], shape[1], shape[2]);
    return CLI_OK;
}

int cli_write_trajectory(const char *path, const float *traj, int n_times, int n, int rows,
                         const int shape[3])
{
    char err[1024];
    const size_t D = (size_t)shape[0] * shape[1] * shape[2];
    rows = rows < n ? rows : n;
    float *tiles = malloc(sizeof(float) * D * (size_t)rows * n_times);
    if (!tiles) return cli_error("out of host memory for the trajectory picture");
    for (int r = 0; r < rows; r++) /* row r: sample r at each time, left to right */
        for (int j = 0; j < n_times; j++)
            memcpy(tiles + ((size_t)r * n_times + j) * D, traj + ((size_t)j * n + r) * D,
                   sizeof(float) * D);
    fmcl_status s = fmcl_plot_images(path, tiles, rows * n_times, shape[0], shape[1], shape[2],
                                     n_times, GRID_BORDER, err, sizeof err);
    free(tiles);
    if (s != FMCL_OK) return cli_error("%s", err);
    printf("wrote %s (%d samples in rows, their states at %d times in columns)\n", path, rows,
           n_times);
    return CLI_OK;
}
