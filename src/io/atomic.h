/* Files users already have are never damaged: every output is written to a
 * temporary file in the same folder, flushed, fsync'ed and renamed over. */
#ifndef FMCL_ATOMIC_H
#define FMCL_ATOMIC_H

#include <stddef.h>

#include "fmcl.h"

/* Reads a whole regular file (at most max_bytes) into a malloc'ed buffer; folders,
 * devices, FIFOs and sockets are refused with a message naming what the path is. */
fmcl_status fmcl_read_file(const char *path, size_t max_bytes, unsigned char **out, size_t *len,
                           char *err, size_t errlen);

/* Formats a message into the caller's err buffer (either may be NULL / 0) and
 * returns s; shared by the io files, which report through err, not a handle. */
fmcl_status fmcl_errf(char *err, size_t errlen, fmcl_status s, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
