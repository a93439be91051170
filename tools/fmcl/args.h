/* A small flag parser for the fmcl subcommands: typed flags (--name VALUE or
 * --name=VALUE), defaults taken from the destination's value on entry,
 * checked ranges and choices, and --help text generated from the same table,
 * so the help can never disagree with what is accepted. */
#ifndef FMCL_CLI_ARGS_H
#define FMCL_CLI_ARGS_H

#include <stdio.h>

#include "fmcl.h"

typedef enum {
    ARG_BOOL,  /* int *: set to 1 by the bare flag */
    ARG_INT,   /* int *, within [lo, hi] */
    ARG_U64,   /* uint64_t *, any non-negative integer */
    ARG_REAL,  /* double *, finite, within [lo, hi] ((lo, hi] when lo_open) */
    ARG_STR,   /* const char ** */
    ARG_CHOICE /* const char **, one of choices */
} arg_type;

typedef struct {
    const char *name; /* without the leading "--" */
    arg_type type;
    void *dest;
    const char *metavar; /* shown after the flag in the help: N, X, DIR */
    const char *help;
    double lo, hi;
    int lo_open;
    const char *const *choices; /* NULL-terminated */
    const char *default_text;   /* shown instead of the initial value */
    int seen;                   /* set by args_parse when the flag was given */
} arg_spec;

typedef struct {
    const char *prog;   /* "fmcl train": prefixes messages */
    const char *about;  /* one paragraph under the usage line */
    const char *epilog; /* examples, printed last (may be NULL) */
    arg_spec *specs;
    int n;
} arg_cmd;

enum { ARGS_OK = 0, ARGS_HELP = -1, ARGS_USAGE = 2 };

/* Parses argv[1..argc-1] (argv[0] is the subcommand). Returns ARGS_OK,
 * ARGS_HELP after printing the help to stdout, or ARGS_USAGE after printing
 * a message that names the flag and what it accepts to stderr. */
int args_parse(arg_cmd *cmd, int argc, char **argv);
void args_help(const arg_cmd *cmd, FILE *f);
/* Prints "PROG: MESSAGE" and a pointer to --help on stderr; returns ARGS_USAGE. */
int args_usage(const arg_cmd *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The spec named name (which must exist). */
arg_spec *args_find(arg_cmd *cmd, const char *name);

/* A flag whose range or choices are those of a library setting
 * (fmcl_settings): key NULL means the flag's name with '_' for '-'. */
typedef struct {
    const char *flag;
    fmcl_setting_scope scope;
    const char *key;
} arg_binding;
/* Fills the bound flags' lo, hi and lo_open (ARG_INT, ARG_REAL) or choices
 * (ARG_CHOICE) from the settings table, so that each limit is written once.
 * An open upper end stays the library's to refuse. */
void args_bind(arg_cmd *cmd, const arg_binding *b, int n);

#endif
