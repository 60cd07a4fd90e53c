/* Every kill switch started, reloaded and stopped in one place. */
#include <unistd.h>

#include "log.h"
#include "shell.h"
#include "triggers-all.h"
#include "triggers-idle.h"
#include "triggers-logind.h"
#include "triggers-pcsc.h"
#include "triggers-removal.h"
#include "triggers.h"

void
triggers_start(struct agent *ag)
{
	triggers_note(ag, "jitctl lock", true, "jitctl lock, ssh-add -x");
	triggers_note(ag, "SIGUSR1", true, "kill -USR1 %d", (int)getpid());
	if (idle_trigger_start(ag) != 0)
		log_error("idle_lock: cannot arm the timer");
	logind_trigger_start(ag);
	removal_trigger_start(ag);
	pcsc_trigger_start(ag);
	triggers_note(ag, "shell exit", true,
	    "a jitctl shell's grant ends with the shell");
}

void
triggers_reload(struct agent *ag)
{
	if (idle_trigger_start(ag) != 0)
		log_error("idle_lock: cannot arm the timer");
	removal_trigger_note(ag);
	pcsc_trigger_note(ag);
}

void
triggers_stop(struct agent *ag)
{
	idle_trigger_stop(ag);
	logind_trigger_stop(ag);
	pcsc_trigger_stop(ag);
	removal_trigger_stop(ag);
	shell_stop_all(ag);
}
