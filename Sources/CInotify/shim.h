#include <sys/inotify.h>
#include <inotifytools/inotifytools.h>
#include <sys/prctl.h>
#include <signal.h>

/* The few libc calls the spool needs that Swift's Glibc module does not import
   (they sit behind _GNU_SOURCE or are variadic). Declared here, once. */

/* Rename that fails with EEXIST instead of replacing the destination (Linux 3.15+). */
int renameat2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, unsigned int flags);
#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif

/* Closes every descriptor from `first` to `last` (glibc 2.34+). */
int close_range(unsigned int first, unsigned int last, int flags);

/* prctl is variadic, which Swift cannot call: the spool's worker wrapper asks the kernel
   to send `sig` to it when the daemon that started it dies. */
static inline int spool_set_parent_death_signal(int sig) {
    return prctl(PR_SET_PDEATHSIG, (unsigned long)sig, 0UL, 0UL, 0UL);
}

/* A pipe whose ends are created with flags such as O_CLOEXEC | O_NONBLOCK. */
int pipe2(int pipefd[2], int flags);
