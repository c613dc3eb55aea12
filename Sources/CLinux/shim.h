#ifndef CLINUX_SHIM_H
#define CLINUX_SHIM_H

// Linux event primitives and glibc calls that Swift's Glibc module does not export.
#include <dlfcn.h>
#include <malloc.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef RTLD_DEFAULT
#define RTLD_DEFAULT ((void *)0)  // glibc defines it only with _GNU_SOURCE
#endif

/// Names the calling thread (shown by top -H and gdb); prctl is variadic.
static inline int CLinux_set_thread_name(const char *name)
{
    return prctl(PR_SET_NAME, (unsigned long)name, 0UL, 0UL, 0UL);
}

/// Sets the calling thread's nice value (Linux gives each thread its own; setpriority with
/// PRIO_PROCESS and a thread id sets that thread's alone). Returns 0, or -1 with errno.
static inline int CLinux_set_thread_niceness(int niceness)
{
    return setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), niceness);
}

/// Gives the heap's free pages back to the system, through whichever allocator the process
/// runs on: gperftools' tcmalloc (the release binary links it) keeps its own page heap, which
/// glibc's malloc_trim does not see; without it, glibc's arenas are trimmed.
static inline void CLinux_release_free_heap_memory(void)
{
    static void (*release)(void);
    static int looked_up;
    if (!looked_up) {
        release = (void (*)(void))dlsym(RTLD_DEFAULT, "MallocExtension_ReleaseFreeMemory");
        looked_up = 1;
    }
    if (release) release(); else malloc_trim(0);
}

#endif
