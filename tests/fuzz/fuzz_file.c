/* The fuzz input as a file (fuzz.h): memfd_create is a Linux call. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz.h"

void fuzz_fail(const char *what)
{
    fprintf(stderr, "fuzz: %s\n", what);
    abort();
}

const char *fuzz_file(int slot, const uint8_t *data, size_t size)
{
    static int fd[2] = {-1, -1};
    static char path[2][64];
    if (slot < 0 || slot > 1) fuzz_fail("fuzz_file: slot 0 or 1");
    if (fd[slot] < 0) {
        fd[slot] = memfd_create("fmcl-fuzz", 0);
        if (fd[slot] < 0) fuzz_fail("memfd_create failed");
        snprintf(path[slot], sizeof path[slot], "/proc/self/fd/%d", fd[slot]);
    }
    if (ftruncate(fd[slot], 0) != 0 || (size && pwrite(fd[slot], data, size, 0) != (ssize_t)size))
        fuzz_fail("cannot write the memfd");
    return path[slot];
}
