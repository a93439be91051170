/* Ctrl-C (SIGINT) and SIGTERM for the commands that write files.
 *
 * In the deferred mode the handler only records the signal (a sig_atomic_t);
 * the command checks interrupt_signal() at its safe points (between training
 * steps, between output files) and finishes cleanly. A second signal, or any
 * signal in the immediate mode, ends the process at once (write(2) of a
 * message prepared beforehand, then _exit: both async-signal-safe). Every
 * file fmcl writes is written atomically, so ending at once never leaves a
 * half-written file in place of a good one. */
#ifndef FMCL_CLI_INTERRUPT_H
#define FMCL_CLI_INTERRUPT_H

#include "fmcl.h"

/* Installs the handlers for SIGINT and SIGTERM. */
void interrupt_install(void);
/* The first signal received (SIGINT, SIGTERM), 0 while none. */
int interrupt_signal(void);
/* The exit status of a process ended by interrupt_signal(): 128 + signal. */
int interrupt_status(void);
/* immediate: a signal ends the process at once, printing "fmcl: STOP".
 * Otherwise the first signal is recorded and "fmcl: NOTE" printed (NULL:
 * nothing), and a second one ends the process with STOP. Both are copied. */
void interrupt_mode(int immediate, const char *note, const char *stop);

/* Runs up to n training steps from step first of tr, fetching their losses
 * into loss + first, in parts short enough (about 0.1-0.5 s) that a signal
 * is noticed soon after the step in flight; stops early after a signal.
 * *ran receives the steps run. */
fmcl_status interrupt_train(fmcl_trainer *tr, int first, int n, float *loss, int *ran);

/* fmcl train's three phases. Before the first step: handlers installed, a
 * first signal stops the run after the step in flight. After the steps of
 * a signalled run (saved or not): says what the folder holds and prints
 * the command that continues it; returns the exit status (130, 143).
 * After the final checkpoint: a signal ends the run at once, saying that
 * the checkpoint is complete. device: --device (NULL: none given). */
void interrupt_train_start(const char *dir, const char *device);
int interrupt_train_report(const char *dir, int step, int steps, const char *device);
void interrupt_train_finished(const char *dir);

#endif
