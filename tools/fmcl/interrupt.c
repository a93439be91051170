/* Ctrl-C and SIGTERM: record, or end at once (see interrupt.h). */
#define _POSIX_C_SOURCE 200809L
#include "interrupt.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t got;       /* the first signal, 0 while none */
static volatile sig_atomic_t immediate; /* end at the first signal */
/* The messages, twice: interrupt_mode writes the copy the handler is not
 * reading, then switches to it, so a handler (on any thread) never sees
 * one half written. */
typedef struct {
    char note[1024], stop[1024];
    int note_len, stop_len;
} messages;
static messages msg[2] = {{.stop = "\nfmcl: interrupted\n", .stop_len = 19}};
static volatile sig_atomic_t current;

static void on_signal(int sig)
{
    const messages *m = &msg[current];
    atomic_thread_fence(memory_order_seq_cst); /* pairs with interrupt_mode's */
    ssize_t w;
    if (got || immediate) {
        w = write(STDERR_FILENO, m->stop, (size_t)m->stop_len);
        _exit(128 + sig);
    }
    got = sig;
    /* cppcheck-suppress redundantAssignment ; the branch above ends in _exit */
    w = write(STDERR_FILENO, m->note, (size_t)m->note_len);
    (void)w; /* nothing to be done about a failed write here */
}

void interrupt_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART; /* the OpenCL driver's waits carry on */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

int interrupt_signal(void) { return got; }

int interrupt_status(void) { return 128 + got; }

/* "\nfmcl: TEXT\n" into buf (empty for NULL); returns its length. */
static int format(char *buf, size_t size, const char *text)
{
    int n = text ? snprintf(buf, size, "\nfmcl: %s\n", text) : 0;
    return n < 0 ? 0 : n >= (int)size ? (int)size - 1 : n;
}

void interrupt_mode(int now, const char *first, const char *last)
{
    messages *m = &msg[!current];
    m->note_len = format(m->note, sizeof m->note, first);
    m->stop_len = format(m->stop, sizeof m->stop, last);
    atomic_thread_fence(memory_order_seq_cst); /* the copy is whole before the switch */
    current = !current;
    immediate = now;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

fmcl_status interrupt_train(fmcl_trainer *tr, int first, int n, float *loss, int *ran)
{
    /* Steps are enqueued without waiting, so without a wait the queue could
     * hold minutes of work when the signal comes. Each part waits for its
     * steps; its length adapts so that a part takes 0.1-0.5 s, which costs
     * a few waits a second. */
    static int part = 1;
    fmcl_status st = FMCL_OK;
    *ran = 0;
    while (*ran < n && !got && st == FMCL_OK) {
        int k = n - *ran < part ? n - *ran : part;
        double t0 = now_s();
        st = fmcl_trainer_run(tr, k);
        if (st == FMCL_OK) st = fmcl_trainer_losses(tr, first + *ran, k, loss + first + *ran);
        if (st != FMCL_OK) break;
        *ran += k;
        double secs = now_s() - t0;
        if (k == part && secs < 0.1 && part < (1 << 20))
            part *= 2;
        else if (secs > 0.5 && part > 1)
            part /= 2;
    }
    return st;
}

/* s as one shell word: itself when it is made of safe characters, else in
 * single quotes. */
static const char *shell_word(const char *s, char *buf, size_t len)
{
    if (*s && strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                        "_-+./:,=@%") == strlen(s))
        return s;
    size_t k = 0;
    buf[k++] = '\'';
    for (; *s && k + 6 < len; s++) {
        if (*s == '\'') {
            memcpy(buf + k, "'\\''", 4);
            k += 4;
        } else {
            buf[k++] = *s;
        }
    }
    buf[k++] = '\'';
    buf[k] = '\0';
    return buf;
}

/* The command that continues the run in dir. */
static void resume_command(const char *dir, const char *device, char *buf, size_t len)
{
    char a[8192];
    int n = snprintf(buf, len, "fmcl train --resume %s", shell_word(dir, a, sizeof a));
    if (device && n >= 0 && (size_t)n < len) {
        char b[1024];
        snprintf(buf + n, len - (size_t)n, " --device %s", shell_word(device, b, sizeof b));
    }
}

void interrupt_train_start(const char *dir, const char *device)
{
    char cmd[9000], stop[10000];
    resume_command(dir, device, cmd, sizeof cmd);
    snprintf(stop, sizeof stop,
             "stopped at once, without saving; %s/model.safetensors, where "
             "it exists, holds the last checkpoint, intact, and `%s` continues from it",
             dir, cmd);
    interrupt_install();
    interrupt_mode(0,
                   "interrupted: finishing the step in flight, then saving the checkpoint "
                   "(interrupt again to stop at once)",
                   stop);
}

int interrupt_train_report(const char *dir, int step, int steps, const char *device)
{
    char ckpt[4200];
    struct stat st;
    const char *name = got == SIGTERM ? "SIGTERM" : "SIGINT";
    snprintf(ckpt, sizeof ckpt, "%s/model.safetensors", dir);
    if (stat(ckpt, &st) != 0) {
        fprintf(stderr,
                "fmcl train: interrupted (%s) before the first step; nothing was "
                "written\n",
                name);
    } else {
        char cmd[9000];
        resume_command(dir, device, cmd, sizeof cmd);
        fprintf(stderr,
                "fmcl train: interrupted (%s) at step %d of %d; %s holds the run so "
                "far. Continue it with:\n    %s\n",
                name, step, steps, ckpt, cmd);
    }
    return interrupt_status();
}

void interrupt_train_finished(const char *dir)
{
    char stop[9000];
    snprintf(stop, sizeof stop,
             "interrupted after training: %s/model.safetensors holds the "
             "trained model; loss.csv and the pictures may be missing (`fmcl sample --ckpt "
             "%s/model.safetensors` draws samples)",
             dir, dir);
    interrupt_mode(1, NULL, stop);
}
