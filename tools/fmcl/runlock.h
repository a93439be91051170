/* The lock on a run folder: one process at a time writes a run. fmcl train
 * holds an fcntl write lock on DIR/.fmcl.lock (its pid written inside) from
 * before its first write into DIR until it exits; the kernel releases the
 * lock when the process ends, however it ends, so a killed run never leaves
 * a stale lock. */
#ifndef FMCL_CLI_RUNLOCK_H
#define FMCL_CLI_RUNLOCK_H

#define RUNLOCK_NAME ".fmcl.lock"

enum { RUNLOCK_NO_FOLDER = -2 };

/* Takes the lock of folder dir. Returns the lock's file descriptor (kept
 * open until exit or runlock_release); RUNLOCK_NO_FOLDER, printing nothing,
 * when dir does not exist; or -1 after printing why not: another process
 * holds it (named by pid), or dir cannot be written. */
int runlock_take(const char *dir);
/* Releases the lock and removes the lock file, for a folder about to be
 * removed again. */
void runlock_release(int fd, const char *dir);

#endif
