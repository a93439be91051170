/* Pictures of 2D flows as PNG (stb_image_write), written atomically. Points
 * are n x 2 row-major; [lo, hi] is the square shown. Labels use a small
 * built-in bitmap font. */
#ifndef FMCL_PLOT_H
#define FMCL_PLOT_H

#include <stddef.h>

#include "fmcl.h"

/* Data and samples as 2D histograms side by side, titled. */
fmcl_status fmcl_plot_densities(const char *path, const float *data, int n_data,
                                const float *samples, int n_samples, float lo, float hi,
                                char *err, size_t errlen);
/* One 2D histogram (fmcl sample --png). */
fmcl_status fmcl_plot_density(const char *path, const char *title, const float *pts, int n,
                              float lo, float hi, char *err, size_t errlen);
/* A g x g grid of values as colours (fmcl nll --png: the model's density),
 * linear from the smallest to the largest finite value; row 0 at y = lo,
 * column 0 at x = lo. sub is the grey line under the title (may be NULL). */
fmcl_status fmcl_plot_heatmap(const char *path, const char *title, const char *sub,
                              const float *v, int g, float lo, float hi, char *err, size_t errlen);
/* Paths of the first n_show points: traj is n_states x n_points x 2, state 0
 * at t = 0 (noise) and the last at t = 1; start and end marked. */
fmcl_status fmcl_plot_trajectories(const char *path, const float *traj, int n_states,
                                   int n_points, int n_show, float lo, float hi, char *err,
                                   size_t errlen);
/* Loss per step (raw, faint) and smoothed, log-scaled y axis, labelled. */
fmcl_status fmcl_plot_loss(const char *path, const float *loss, int n, char *err, size_t errlen);

#endif
