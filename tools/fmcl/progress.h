/* The progress lines on stderr: training's (step, smoothed loss, steps/s,
 * ETA), and sampling's (model evaluations done of the total, ETA). On a
 * terminal one line is rewritten in place (carriage return); otherwise (a
 * pipe, a log file) every update is a plain line of its own. */
#ifndef FMCL_CLI_PROGRESS_H
#define FMCL_CLI_PROGRESS_H

#include <stdio.h>

#include "fmcl.h"

typedef struct {
    FILE *f;
    int tty;
    int total;    /* steps in the run */
    int step;     /* steps whose losses were fed */
    double t0;    /* start of training */
    double ema;   /* exponential moving average of the loss, not bias-corrected */
    double ema_w; /* 1 - beta^step: the bias correction */
    int width;    /* length of the last line written on a terminal */
} progress;

void progress_start(progress *p, FILE *f, int total);
/* Feeds the losses of the next n steps and shows the line. */
void progress_update(progress *p, const float *loss, int n);
/* The smoothed loss so far. */
double progress_loss(const progress *p);
/* Ends the line on a terminal. */
void progress_end(progress *p);

/* Sampling's line, through fmcl_sample's progress callback: silent for the
 * first 2 s (FMCL_PROGRESS_AFTER), so that quick runs print nothing, then at
 * most twice a second on a terminal and every 5 s elsewhere. */
typedef struct {
    FILE *f;
    int tty, width, shown;
    const char *what; /* "sampling 64 images" */
    double t0, last, quiet;
} eval_progress;

/* Starts the clock and points sc's progress callback at p. */
void eval_progress_start(eval_progress *p, FILE *f, const char *what, fmcl_sample_config *sc);
/* Ends the line on a terminal. */
void eval_progress_end(eval_progress *p);

#endif
