/* The lock on a run folder (see runlock.h). */
#define _POSIX_C_SOURCE 200809L
#include "runlock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

/* The holder's pid into the lock file, for people and for lock holders that
 * F_GETLK cannot name. Returns fd, or -1 after closing it. */
static int write_pid(int fd, const char *dir, const char *path)
{
    char buf[32];
    int n = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) == 0 && pwrite(fd, buf, (size_t)n, 0) == n) return fd;
    cli_error("cannot write into %s (%s: %s); choose a folder you can write", dir, path,
              strerror(errno));
    close(fd);
    return -1;
}

int runlock_take(const char *dir)
{
    char path[4200];
    if (snprintf(path, sizeof path, "%s/%s", dir, RUNLOCK_NAME) >= (int)sizeof path)
        return cli_error("%s: folder name is too long", dir), -1;
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    struct stat st;
    if (fd < 0 && errno == ENOENT && stat(dir, &st) != 0) return RUNLOCK_NO_FOLDER;
    if (fd < 0)
        return cli_error("cannot write into %s (%s: %s); choose a folder you can write", dir, path,
                         strerror(errno)),
               -1;
    /* Tried twice: the holder may let go between the two calls. */
    for (int attempt = 0; attempt < 2; attempt++) {
        struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
        if (fcntl(fd, F_SETLK, &fl) == 0) return write_pid(fd, dir, path);
        if (errno != EACCES && errno != EAGAIN) break;
        /* F_GETLK names the holder; the pid inside the file serves where it
         * cannot (a holder on another machine of a network file system). */
        struct flock who = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
        if (fcntl(fd, F_GETLK, &who) != 0) break;
        if (who.l_type == F_UNLCK) continue;
        long pid = who.l_pid;
        char buf[32] = "";
        ssize_t n = pid > 0 ? 0 : pread(fd, buf, sizeof buf - 1, 0);
        if (n > 0) buf[n] = '\0', pid = strtol(buf, NULL, 10);
        close(fd);
        return cli_error("%s is in use: fmcl process %ld is writing this run (its lock: %s); "
                         "wait for it to finish, or stop it (kill %ld)",
                         dir, pid, path, pid),
               -1;
    }
    cli_error("cannot lock %s: %s", path, strerror(errno));
    close(fd);
    return -1;
}

void runlock_release(int fd, const char *dir)
{
    if (fd < 0) return;
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, RUNLOCK_NAME);
    unlink(path);
    close(fd);
}
