/* What the fmcl subcommands share about image models: the metadata a
 * checkpoint of one holds and the sample grid. */
#ifndef FMCL_CLI_IMAGES_H
#define FMCL_CLI_IMAGES_H

#include "fmcl.h"

/* Metadata keys of an image model's checkpoint (fmcl_trainer_create records
 * them). */
#define CLI_META_CHANNELS "image_channels"
#define CLI_META_HEIGHT "image_height"
#define CLI_META_WIDTH "image_width"
#define CLI_META_BITS "pixel_bits"       /* "8": 8-bit data scaled to [-1, 1] */
#define CLI_META_SCALING "pixel_scaling" /* the formula, for people reading the file */

/* Samples shown in a grid at most (the first ones). */
#define CLI_GRID_MAX 256

/* shape = {channels, height, width} of the images the checkpoint was trained
 * on. Returns 1 for an image model, 0 for one without image metadata, and
 * CLI-style -1 after printing an error when the metadata is malformed. */
int cli_image_shape(const fmcl_checkpoint *f, const char *path, int shape[3]);

/* Writes the first min(n, CLI_GRID_MAX) images of x (n x c x h x w) as a
 * square-ish PNG grid and says so on stdout; CLI_OK or CLI_FAIL. */
int cli_write_grid(const char *path, const float *x, int n, const int shape[3]);

/* Samples per class shown in a class grid's row at most. */
#define CLI_GRID_COLS 16

/* x holds per samples of each of `classes` classes, class by class: one
 * row per class, its first min(per, CLI_GRID_COLS) samples. */
int cli_write_class_grid(const char *path, const float *x, int classes, int per,
                         const int shape[3]);

/* traj: n_times x n images (fmcl_sample's states at its times): the first
 * min(rows, n) samples in rows, their states at the times in columns. */
int cli_write_trajectory(const char *path, const float *traj, int n_times, int n, int rows,
                         const int shape[3]);

#endif
