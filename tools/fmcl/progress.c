/* Training progress line (see progress.h). */
#include "progress.h"

#include <stdlib.h>
#include <unistd.h>

#include "cli.h"

/* Smoothing of the shown loss: about the last 50 steps. */
#define LOSS_BETA 0.98

void progress_start(progress *p, FILE *f, int total)
{
    p->f = f;
    p->tty = isatty(fileno(f));
    p->total = total;
    p->step = 0;
    p->t0 = cli_now();
    p->ema = 0.0;
    p->ema_w = 0.0;
    p->width = 0;
}

double progress_loss(const progress *p) { return p->ema_w > 0.0 ? p->ema / p->ema_w : 0.0; }

static void format_duration(char *buf, size_t len, double s)
{
    long t = (long)(s + 0.5);
    if (t >= 3600)
        snprintf(buf, len, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else
        snprintf(buf, len, "%ld:%02ld", t / 60, t % 60);
}

/* Writes line: over the previous one on a terminal, else as a line of its own. */
static void show(FILE *f, int tty, int *width, const char *line, int w)
{
    if (tty) {
        /* Pad with blanks so a shorter line fully covers the previous one. */
        fprintf(f, "\r%s%*s", line, *width > w ? *width - w : 0, "");
        *width = w;
    } else {
        fprintf(f, "%s\n", line);
    }
    fflush(f);
}

void progress_update(progress *p, const float *loss, int n)
{
    for (int i = 0; i < n; i++) {
        p->ema = LOSS_BETA * p->ema + (1.0 - LOSS_BETA) * loss[i];
        p->ema_w = LOSS_BETA * p->ema_w + (1.0 - LOSS_BETA);
    }
    p->step += n;
    double elapsed = cli_now() - p->t0;
    double rate = elapsed > 0.0 ? p->step / elapsed : 0.0;
    char eta[32];
    format_duration(eta, sizeof eta, rate > 0.0 ? (p->total - p->step) / rate : 0.0);
    char line[160];
    int w = snprintf(line, sizeof line, "step %d/%d  loss %.4f  %.1f steps/s  ETA %s", p->step,
                     p->total, progress_loss(p), rate, eta);
    show(p->f, p->tty, &p->width, line, w);
}

void progress_end(progress *p)
{
    if (p->tty && p->width > 0) fputc('\n', p->f);
    fflush(p->f);
}

static int eval_report(void *user, long done, long total)
{
    eval_progress *p = user;
    const double now = cli_now(), elapsed = now - p->t0;
    if (elapsed < p->quiet || (p->shown && now - p->last < (p->tty ? 0.5 : 5.0))) return 0;
    p->last = now;
    p->shown = 1;
    char eta[32], line[200];
    format_duration(eta, sizeof eta, done > 0 ? (total - done) * elapsed / done : 0.0);
    const int w = snprintf(line, sizeof line, "%s: %.0f%% (%ld of %ld model evaluations)  ETA %s",
                           p->what, 100.0 * done / (total > 0 ? total : 1), done, total, eta);
    show(p->f, p->tty, &p->width, line, w);
    return 0;
}

void eval_progress_start(eval_progress *p, FILE *f, const char *what, fmcl_sample_config *sc)
{
    /* FMCL_PROGRESS_AFTER: the quiet seconds, for tests (docs/CLI.md). */
    const char *env = getenv("FMCL_PROGRESS_AFTER");
    char *end = NULL;
    const double quiet = env ? strtod(env, &end) : 2.0;
    *p = (eval_progress){.f = f,
                         .tty = isatty(fileno(f)),
                         .what = what,
                         .t0 = cli_now(),
                         .quiet = env && end != env && !*end && quiet >= 0 ? quiet : 2.0};
    sc->progress = eval_report;
    sc->progress_user = p;
}

void eval_progress_end(eval_progress *p)
{
    if (p->tty && p->shown) fputc('\n', p->f);
    fflush(p->f);
}
