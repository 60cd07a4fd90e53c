/* jitctl shell: grants bound to one process tree, wiped at the shell's exit. */
#ifndef JIT_SHELL_H
#define JIT_SHELL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "agent.h"

struct cred;

/*
 * The unlock's "shell" argument names the requester's child (the shell
 * jitctl started and holds back until the unlock answers): it must be
 * that, else the request is refused with why.  ret_start: its start time.
 */
int shell_bind_check(const struct peer *p, pid_t child, uint64_t *ret_start,
    char *why, size_t whylen);
/*
 * c was just unlocked for the shell (pid, start): bind it, and watch the
 * shell (a pidfd under uv_poll) so that its exit wipes what is bound to
 * it (agent_lock_shell).  JIT_E_NOENT if the shell is gone already.
 */
int shell_bind(struct agent *ag, struct cred *c, pid_t pid, uint64_t start);
/* May p be served c?  Yes if c is bound to no shell, or p is the shell
 * or one of its descendants (checked now, with start times); else why. */
bool shell_peer_allowed(
    const struct cred *c, const struct peer *p, char *why, size_t whylen);
/* At exit: stop watching. */
void shell_stop_all(struct agent *ag);

#endif
