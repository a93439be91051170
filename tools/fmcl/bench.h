/* fmcl bench in the command line: the tables (bench_print.c), the PyTorch
 * peer (bench_torch.c) and --compare (bench_compare.c). The workloads, their
 * JSON file and the comparison's rules are the library's (fmcl/bench.h). */
#ifndef FMCL_CLI_BENCH_H
#define FMCL_CLI_BENCH_H

#include "fmcl.h"

/* One device's figures as tables, with PyTorch's beside them when t->ran. */
void bench_print(const fmcl_bench_result *r, const fmcl_bench_peer *t);

/* tools/bench_torch.py and tools/bench_unet_torch.py over r's workloads (the
 * same on every device), their output echoed; t->ran says whether they gave
 * their figures. */
void bench_torch(const fmcl_bench_result *r, fmcl_bench_peer *t);

/* fmcl bench --compare: the files as one table, and with png a bar chart.
 * Returns the exit code. */
int bench_compare(const char *const *files, int n, const char *png);

#endif
