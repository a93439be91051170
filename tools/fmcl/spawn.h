/* Runs this program again as a child process (fmcl bench's first step,
 * fmcl tune's reports), so a measurement starts from a fresh process. */
#ifndef FMCL_CLI_SPAWN_H
#define FMCL_CLI_SPAWN_H

#include <stddef.h>

/* This program's path (/proc/self/exe) into buf; 0 when unknown. */
int cli_self_path(char *buf, size_t cap);
/* Runs path with argv (and envp, or this process's environment when NULL),
 * collecting its stdout (at most cap - 1 bytes, NUL-terminated) and the wall
 * time from spawn to exit. Returns its exit status, or -1 when it could not
 * run or did not exit normally. */
int cli_spawn_capture(const char *path, char *const argv[], char *const envp[], char *out,
                      size_t cap, double *wall);

#endif
