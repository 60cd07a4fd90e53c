/* Suspend and screen lock lock: logind's signals on the system bus. */
#ifndef JIT_TRIGGERS_LOGIND_H
#define JIT_TRIGGERS_LOGIND_H

#include "agent.h"

/*
 * With libsystemd and a system bus (DBUS_SYSTEM_BUS_ADDRESS, else the
 * standard socket), logind's PrepareForSleep(true) and the Lock signal of
 * this user's session lock the agent ("sleep" and "screen lock" in
 * status; armed once the bus has confirmed the matches).  Without a bus,
 * the agent says once that both are off.  The bus is read on the loop
 * (its fd under uv_poll, its timeouts under a uv timer): nothing waits.
 */
void logind_trigger_start(struct agent *ag);
void logind_trigger_stop(struct agent *ag);

#endif
