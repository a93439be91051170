/* Atomic writes (temp file in the same folder, fsync, rename) and whole-file
 * reads, with errors that name the file and the reason. */
#include "io/atomic.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

fmcl_status fmcl_errf(char *err, size_t errlen, fmcl_status s, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return s;
}

static int write_all(int fd, const unsigned char *p, size_t len)
{
    while (len) {
        ssize_t w = write(fd, p, len);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

/* Makes the rename itself durable. Best effort: some file systems cannot
 * fsync a folder, and the new file is complete and in place either way. */
static void sync_parent_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
    if (!dir) return;
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    free(dir);
}

fmcl_status fmcl_write_file_atomic(const char *path, const void *const *data, const size_t *len,
                                   int n, char *err, size_t errlen)
{
    if (!path || !*path || n < 0 || (n > 0 && (!data || !len)))
        return fmcl_errf(err, errlen, FMCL_ERR_ARG,
                         "fmcl_write_file_atomic: no path or bad chunk list");
    for (int i = 0; i < n; i++)
        if (len[i] && !data[i])
            return fmcl_errf(err, errlen, FMCL_ERR_ARG,
                             "fmcl_write_file_atomic: chunk %d has no data", i);

    /* Keep the permissions of a file being replaced; new files get rw-r--r--
     * (mkstemp creates them rw-------). */
    mode_t mode = 0644;
    struct stat st;
    if (stat(path, &st) == 0) {
        if (S_ISDIR(st.st_mode))
            return fmcl_errf(err, errlen, FMCL_ERR_IO,
                             "cannot write %s: it is a folder; give a file name", path);
        mode = st.st_mode & 07777;
    }

    size_t plen = strlen(path);
    char *tmp = malloc(plen + sizeof ".tmp.XXXXXX");
    if (!tmp) return fmcl_errf(err, errlen, FMCL_ERR_NOMEM, "out of memory writing %s", path);
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp.XXXXXX", sizeof ".tmp.XXXXXX");

    int fd = mkstemp(tmp);
    if (fd < 0) {
        fmcl_status s = fmcl_errf(err, errlen, FMCL_ERR_IO,
                                  "cannot create a temporary file next to %s: %s "
                                  "(does the folder exist and is it writable?)",
                                  path, strerror(errno));
        free(tmp);
        return s;
    }

    const char *what = NULL;
    if (fchmod(fd, mode) != 0) what = "set permissions of";
    for (int i = 0; !what && i < n; i++)
        if (write_all(fd, data[i], len[i]) != 0) what = "write";
    if (!what && fsync(fd) != 0) what = "flush (fsync)";
    int e = errno;
    if (close(fd) != 0 && !what) {
        what = "close";
        e = errno;
    }
    if (!what && rename(tmp, path) != 0) {
        what = "rename into place";
        e = errno;
    }
    if (what) {
        unlink(tmp);
        free(tmp);
        return fmcl_errf(err, errlen, FMCL_ERR_IO,
                         "cannot %s the temporary file for %s: %s (is the disk full or "
                         "read-only?); %s was left as it was",
                         what, path, strerror(e), path);
    }
    free(tmp);
    sync_parent_dir(path);
    return FMCL_OK;
}

/* What st is, for a message; NULL for a regular file. */
static const char *not_regular(const struct stat *st)
{
    if (S_ISREG(st->st_mode)) return NULL;
    if (S_ISDIR(st->st_mode)) return "a folder";
    if (S_ISFIFO(st->st_mode)) return "a FIFO (named pipe)";
    if (S_ISCHR(st->st_mode)) return "a character device";
    if (S_ISBLK(st->st_mode)) return "a block device";
    if (S_ISSOCK(st->st_mode)) return "a socket";
    return "not a regular file";
}

fmcl_status fmcl_read_file(const char *path, size_t max_bytes, unsigned char **out, size_t *len,
                           char *err, size_t errlen)
{
    if (!path || !out || !len)
        return fmcl_errf(err, errlen, FMCL_ERR_ARG, "fmcl_read_file: missing argument");
    *out = NULL;
    *len = 0;
    /* Regular files only: /dev/zero would be read until memory runs out, and
     * opening a FIFO blocks until a writer comes (O_NONBLOCK lets the open
     * return, so fstat can refuse it). */
    int fd = open(path, O_RDONLY | O_NONBLOCK);
    if (fd < 0)
        return fmcl_errf(err, errlen, FMCL_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return fmcl_errf(err, errlen, FMCL_ERR_IO, "cannot read %s: %s", path, strerror(e));
    }
    const char *kind = not_regular(&st);
    if (kind) {
        close(fd);
        return fmcl_errf(err, errlen, FMCL_ERR_IO,
                         "cannot read %s: it is %s; fmcl reads only regular files", path, kind);
    }
    if ((uint64_t)st.st_size > max_bytes) {
        close(fd);
        return fmcl_errf(err, errlen, FMCL_ERR_IO, "%s is %lld bytes, more than the %zu accepted",
                         path, (long long)st.st_size, max_bytes);
    }

    /* One byte more than the size, so EOF shows without a second allocation;
     * a file that grows while it is read grows the buffer by doubling, up to
     * max_bytes. */
    size_t cap = (size_t)st.st_size + 1;
    size_t n = 0;
    unsigned char *buf = malloc(cap);
    fmcl_status s = FMCL_OK;
    while (buf) {
        if (n == cap) {
            if (n > max_bytes) {
                s = fmcl_errf(err, errlen, FMCL_ERR_IO, "%s is more than the %zu bytes accepted",
                              path, max_bytes);
                break;
            }
            size_t ncap = cap > SIZE_MAX / 2 ? SIZE_MAX : cap * 2;
            unsigned char *nb = realloc(buf, ncap);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap = ncap;
        }
        /* cppcheck-suppress nullPointerArithmeticRedundantCheck ; buf != NULL in the loop */
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            s = fmcl_errf(err, errlen, FMCL_ERR_IO, "cannot read %s: %s", path, strerror(errno));
            break;
        }
        if (r == 0) break;
        n += (size_t)r;
    }
    close(fd);
    if (!buf) return fmcl_errf(err, errlen, FMCL_ERR_NOMEM, "out of memory reading %s", path);
    if (s == FMCL_OK && n > max_bytes)
        s = fmcl_errf(err, errlen, FMCL_ERR_IO, "%s is more than the %zu bytes accepted", path,
                      max_bytes);
    if (s != FMCL_OK) {
        free(buf);
        return s;
    }
    *out = buf;
    *len = n;
    return FMCL_OK;
}
