/* What both simulators' programs (jit-sim-fido2, jit-sim-piv) do at start:
 * hardening, signals, the --touch option, the pid file. */
#ifndef JIT_SIM_MAIN_H
#define JIT_SIM_MAIN_H

#include <signal.h>
#include <sys/types.h>

#include "simtouch.h"

/* The lines of both programs' usage on the touch script. */
#define SIM_USAGE_TOUCH_ENV \
	"Environment: " SIM_TOUCH_FILE_ENV \
	" (touch mode re-read before each touch),\n" \
	"             " SIM_TOUCH_TIMEOUT_ENV \
	" (wait of --touch timeout, default 3000)\n"

/* Set by TERM and INT (simmain_signals). */
extern volatile sig_atomic_t sim_stop_requested;

/* No core dumps, not ptrace-able: the simulator holds keys. */
void simmain_harden(void);
/* TERM and INT set sim_stop_requested; a closed peer is no SIGPIPE. */
void simmain_signals(void);
/* --touch MODE into ret, or a sentence on stderr and -1. */
int simmain_touch_opt(const char *prog, const char *arg, struct sim_touch *ret);
/* Write pid into path (atomically), or a sentence on stderr and -1. */
int simmain_pid_file(const char *prog, const char *path, pid_t pid);

#endif
