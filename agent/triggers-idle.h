/* idle_lock: everything is wiped when no credential was used for so long. */
#ifndef JIT_TRIGGERS_IDLE_H
#define JIT_TRIGGERS_IDLE_H

#include <stdbool.h>
#include <stdint.h>

#include "agent.h"

/* Armed by [agent] idle_lock (again at SIGHUP), off without it.  Idle is
 * measured from the latest unlock or use of a credential unlocked now:
 * with nothing unlocked there is nothing to lock. */
int idle_trigger_start(struct agent *ag);
void idle_trigger_stop(struct agent *ag);
/* The timer's check, at now_ms (CLOCK_BOOTTIME): true if it locked. */
bool idle_check(struct agent *ag, int64_t now_ms);

#endif
