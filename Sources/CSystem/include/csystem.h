#ifndef TUTOR_CSYSTEM_H
#define TUTOR_CSYSTEM_H

/* The few libc calls tutor needs that Swift's Glibc module does not import (they sit behind
   _GNU_SOURCE or are variadic). Declared here, once; the System module wraps them. */

#include <sys/types.h>

/* Rename that fails with EEXIST instead of replacing the destination (Linux 3.15+). */
int renameat2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, unsigned int flags);
#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif

/* Closes every descriptor from `first` to `last` (glibc 2.34+). */
int close_range(unsigned int first, unsigned int last, int flags);

/* A pipe whose ends are created with flags such as O_CLOEXEC | O_NONBLOCK. */
int pipe2(int pipefd[2], int flags);

/* prctl is variadic, which Swift cannot call: asks the kernel to send `sig` to this process
   when the thread that started it dies. */
int csystem_set_parent_death_signal(int sig);

/* mallopt's M_MMAP_THRESHOLD and M_TRIM_THRESHOLD (malloc.h is not in Swift's Glibc module):
   blocks under `mmap_threshold` bytes come from the heap, and freed heap is handed back to the
   kernel only when over `trim_threshold` bytes sit free at its top. Returns 1 when both took. */
int csystem_keep_freed_memory(size_t mmap_threshold, size_t trim_threshold);

#endif
