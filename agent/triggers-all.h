/* Every kill switch started, reloaded and stopped in one place. */
#ifndef JIT_TRIGGERS_ALL_H
#define JIT_TRIGGERS_ALL_H

#include "agent.h"

/* At start: what can be armed is, what cannot says why once (log and
 * `jitctl status`).  Never fails the start: a trigger that cannot be
 * armed is reported as off. */
void triggers_start(struct agent *ag);
/* SIGHUP: the new configuration's idle_lock and lock_on_removal. */
void triggers_reload(struct agent *ag);
/* At exit. */
void triggers_stop(struct agent *ag);

#endif
