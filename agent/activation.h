/* Socket activation: the listening socket systemd passed (LISTEN_FDS). */
#ifndef JIT_ACTIVATION_H
#define JIT_ACTIVATION_H

#include <stddef.h>

#include "agent.h"

/*
 * With LISTEN_FDS for this process (a systemd .socket unit), the one
 * socket passed becomes the agent's listener: ag->activated, its fd, and
 * sock_path from its address.  JIT_E_NOENT when the agent was not socket
 * activated (or built without libsystemd); another error with why.
 */
int activation_listener(struct agent *ag, char *why, size_t whylen);

#endif
