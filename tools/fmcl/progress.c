/* Training progress line (see progress.h). */
#include "progress.h"

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

double progress_loss(const progress *p)
{
    return p->ema_w > 0.0 ? p->ema / p->ema_w : 0.0;
}

static void format_duration(char *buf, size_t len, double s)
{
    long t = (long)(s + 0.5);
    if (t >= 3600)
        snprintf(buf, len, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else
        snprintf(buf, len, "%ld:%02ld", t / 60, t % 60);
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
    if (p->tty) {
        /* Pad with blanks so a shorter line fully covers the previous one. */
        fprintf(p->f, "\r%s%*s", line, p->width > w ? p->width - w : 0, "");
        p->width = w;
    } else {
        fprintf(p->f, "%s\n", line);
    }
    fflush(p->f);
}

void progress_end(progress *p)
{
    if (p->tty && p->width > 0)
        fputc('\n', p->f);
    fflush(p->f);
}
