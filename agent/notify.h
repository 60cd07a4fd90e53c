/* Telling the person that a tool waits for a touch: [agent] notify. */
#ifndef JIT_NOTIFY_H
#define JIT_NOTIFY_H

#include "agent.h"

#define NOTIFY_AFTER_MS 2000

struct notify;

/*
 * A tool that does not know about the agent (ssh signing with an SSH
 * certificate credential) cannot say "touch your key".  When its open job
 * has waited NOTIFY_AFTER_MS, the configured notify command runs once,
 * with JIT_NOTIFY_CREDENTIAL, JIT_NOTIFY_TOKEN, JIT_NOTIFY_PID and
 * JIT_NOTIFY_EXE in its environment.  NULL when nothing is configured.
 */
struct notify *notify_arm(struct agent *ag, const char *cred, const char *token,
    const struct peer *p);
/* The job is done: no notice (NULL ok). */
void notify_disarm(struct notify *n);

#endif
