/* fmcl/plot.h: pictures as PNG files, written atomically. 2D points are
 * n x 2 floats, row-major, shown in the square [lo, hi]^2; images are
 * n x c x h x w floats in [-1, 1], channel-major (c = 1 grey, 3 RGB). */
#ifndef FMCL_PLOT_H
#define FMCL_PLOT_H

#include "fmcl/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Data and samples as two titled 2D histograms side by side. */
FMCL_API fmcl_status fmcl_plot_densities(const char *path, const float *data, int n_data,
                                         const float *samples, int n_samples, float lo, float hi,
                                         char *err, size_t errlen);
/* One titled 2D histogram. */
FMCL_API fmcl_status fmcl_plot_density(const char *path, const char *title, const float *pts, int n,
                                       float lo, float hi, char *err, size_t errlen);
/* A g x g grid of values as colours, linear from the smallest to the largest
 * finite value; row 0 at y = lo, column 0 at x = lo; sub is a grey line
 * under the title (may be NULL). */
FMCL_API fmcl_status fmcl_plot_heatmap(const char *path, const char *title, const char *sub,
                                       const float *v, int g, float lo, float hi, char *err,
                                       size_t errlen);
/* The paths of the first n_show points: traj is n_states x n_points x 2,
 * state 0 at t = 0 (noise), the last at t = 1; start and end marked. */
FMCL_API fmcl_status fmcl_plot_trajectories(const char *path, const float *traj, int n_states,
                                            int n_points, int n_show, float lo, float hi, char *err,
                                            size_t errlen);
/* The loss per step (faint) and smoothed, on a log-scaled axis. */
FMCL_API fmcl_status fmcl_plot_loss(const char *path, const float *loss, int n, char *err,
                                    size_t errlen);
/* n images tiled cols to a row with `border` pixels of grey around and
 * between them; each value clamped to [-1, 1] and shown as
 * round((x + 1) 127.5). */
FMCL_API fmcl_status fmcl_plot_images(const char *path, const float *x, int n, int c, int h, int w,
                                      int cols, int border, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
