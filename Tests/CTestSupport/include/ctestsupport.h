#ifndef CTESTSUPPORT_H
#define CTESTSUPPORT_H

#include <spawn.h>

/// pipe2(fds, O_CLOEXEC): a pipe no other child inherits (GNU; hidden from Swift's Glibc).
int ctestsupport_cloexec_pipe(int fds[2]);

/// posix_spawn_file_actions_addclosefrom_np (GNU): the child keeps no descriptor from `from` on.
int ctestsupport_close_from(posix_spawn_file_actions_t *actions, int from);

#endif
