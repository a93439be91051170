/* fmcl: the command-line tool. Dispatches to a subcommand; exit codes are
 * 0 success, 1 failure, 2 usage error. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "fmcl.h"

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *about;
} commands[] = {
    {"devices", cmd_devices, "list the OpenCL devices"},
    {"train", cmd_train, "train a 2D flow-matching model, write checkpoint and pictures"},
    {"sample", cmd_sample, "draw samples from a trained model"},
    {"nll", cmd_nll, "negative log-likelihood (nats, bits/dim) of points under a model"},
    {"check", cmd_check, "check every op on the device against the CPU reference"},
    {"bench", cmd_bench, "time the standard workloads (GEMM, training, sampling) on devices"},
    {"tune", cmd_tune, "tune CLBlast's GEMM for this device; later runs use the result"},
};
#define N_COMMANDS ((int)(sizeof commands / sizeof commands[0]))

static void usage(FILE *f)
{
    fprintf(f,
            "usage: fmcl COMMAND [flags]\n\n"
            "Flow Matching on OpenCL %s: train and sample flow-matching generative models on\n"
            "any OpenCL device.\n\ncommands:\n",
            FMCL_VERSION);
    for (int i = 0; i < N_COMMANDS; i++)
        fprintf(f, "  %-9s %s\n", commands[i].name, commands[i].about);
    fprintf(f, "\n'fmcl COMMAND --help' lists a command's flags and their defaults.\n"
               "'fmcl --version' prints the version.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return CLI_USAGE;
    }
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 || strcmp(name, "help") == 0) {
        usage(stdout);
        return CLI_OK;
    }
    if (strcmp(name, "--version") == 0) {
        printf("fmcl %s (%s MPI)\n", FMCL_VERSION, FMCL_HAS_MPI ? "with" : "without");
        return CLI_OK;
    }
    for (int i = 0; i < N_COMMANDS; i++)
        if (strcmp(name, commands[i].name) == 0) return commands[i].run(argc - 1, argv + 1);
    fprintf(
        stderr,
        "fmcl: unknown command '%s' (expected devices, train, sample, nll, check, bench or tune)\n"
        "Run 'fmcl --help' for the list.\n",
        name);
    return CLI_USAGE;
}
