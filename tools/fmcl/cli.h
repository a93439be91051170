/* Helpers shared by the fmcl subcommands. Exit codes: 0 success, 1 failure
 * (a library error, a bad file), 2 usage (see args.h). */
#ifndef FMCL_CLI_H
#define FMCL_CLI_H

#include <stddef.h>
#include <stdio.h>

enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2 };

int cmd_devices(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_sample(int argc, char **argv);
int cmd_nll(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_tune(int argc, char **argv);

/* One device a command runs on: a spec for --device, "" for the default. */
typedef struct {
    char spec[256];
} cli_device_spec;
/* The devices of --all (every device found, as "P:D") or else the one of
 * --device (NULL: the default). *out holds *n entries; free it. Prints the
 * error and returns CLI_FAIL when listing fails or finds no device. */
int cli_device_specs(int all, const char *device, cli_device_spec **out, int *n);

/* Prints "fmcl: error: MESSAGE" on stderr ("fmcl: rank R of N: error: ..."
 * after cli_set_rank, in a group of ranks); returns CLI_FAIL. */
void cli_set_rank(int rank, int size);
int cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The same for a message of the library (prefix: what the command was
 * doing, may be ""), followed by the flags that act on what it says: the
 * library speaks of a batch, the command of --batch. */
int cli_lib_error(const char *prefix, const char *msg);
/* cli_lib_error for --data spec: "--data SPEC: MESSAGE". */
int cli_data_error(const char *spec, const char *msg);
/* Writes s as a quoted JSON string (escaping quotes, backslashes and control
 * characters). */
void cli_json_string(FILE *f, const char *s);
/* Writes v as a JSON number; null for Inf and NaN, which JSON lacks. */
void cli_json_number(FILE *f, double v);
/* Seconds on a monotonic clock. */
double cli_now(void);
/* Prints the context's notes (fmcl_ctx_notes) from offset `from` on to
 * stderr: what one call noted, such as a checkpoint's weights converted. */
void cli_notes_since(const char *notes, size_t from);
/* Creates dir and its missing parents. */
int cli_mkdir_p(const char *dir, char *err, size_t errlen);
/* 1 when name ends in ".npy" (any case). */
int cli_is_npy(const char *name);
/* Half-width of the square [-r, r] that shows n 2D points: a little more
 * than the 99.9% quantile of max(|x|, |y|), so a few stray samples do not
 * shrink the picture. */
float cli_plot_extent(const float *pts, int n);

#endif
