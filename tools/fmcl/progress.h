/* The training progress line on stderr: step, smoothed loss, steps/s, ETA.
 * On a terminal one line is rewritten in place (carriage return); otherwise
 * (a pipe, a log file) every update is a plain line of its own. */
#ifndef FMCL_CLI_PROGRESS_H
#define FMCL_CLI_PROGRESS_H

#include <stdio.h>

typedef struct {
    FILE *f;
    int tty;
    int total;      /* steps in the run */
    int step;       /* steps whose losses were fed */
    double t0;      /* start of training */
    double ema;     /* exponential moving average of the loss, not bias-corrected */
    double ema_w;   /* 1 - beta^step: the bias correction */
    int width;      /* length of the last line written on a terminal */
} progress;

void progress_start(progress *p, FILE *f, int total);
/* Feeds the losses of the next n steps and shows the line. */
void progress_update(progress *p, const float *loss, int n);
/* The smoothed loss so far. */
double progress_loss(const progress *p);
/* Ends the line on a terminal. */
void progress_end(progress *p);

#endif
