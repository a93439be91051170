/* Shared by the libFuzzer harnesses of the readers (docs/FUZZING.md). Each
 * harness feeds one input to one reader, in memory or as a file, and checks
 * what the reader promises on success; ASan, UBSan and LeakSanitizer catch
 * the rest, and libFuzzer's -rss_limit_mb / -malloc_limit_mb any allocation
 * out of proportion to the input. */
#ifndef FMCL_FUZZ_H
#define FMCL_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The input as a file for the readers that take a path: an in-memory file
 * (memfd), reached as /proc/self/fd/N, which is a regular file as they
 * demand. slot 0 or 1: two files at once. Aborts when it cannot. */
const char *fuzz_file(int slot, const uint8_t *data, size_t size);

/* Aborts with a message: a broken promise is a finding like a crash. */
void fuzz_fail(const char *what);

#endif
