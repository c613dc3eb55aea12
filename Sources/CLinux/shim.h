#ifndef CLINUX_SHIM_H
#define CLINUX_SHIM_H

// Linux event primitives and glibc calls that Swift's Glibc module does not export.
#include <malloc.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <sys/prctl.h>

/// Names the calling thread (shown by top -H and gdb); prctl is variadic.
static inline int CLinux_set_thread_name(const char *name)
{
    return prctl(PR_SET_NAME, (unsigned long)name, 0UL, 0UL, 0UL);
}

#endif
