/* The start-up both simulators' programs share (simmain.h). */
#include <sys/prctl.h>
#include <sys/resource.h>

#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "fsutil.h"
#include "simmain.h"

volatile sig_atomic_t sim_stop_requested;

void
simmain_harden(void)
{
	struct rlimit rl = { 0, 0 };

	setrlimit(RLIMIT_CORE, &rl);
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

static void
on_signal(int sig)
{
	(void)sig;
	sim_stop_requested = 1;
}

void
simmain_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
}

int
simmain_touch_opt(const char *prog, const char *arg, struct sim_touch *ret)
{
	if (sim_touch_parse(arg, ret) == 0)
		return 0;
	fprintf(stderr,
	    "%s: --touch takes approve, deny, timeout, delay=MS or ask\n",
	    prog);
	return -1;
}

int
simmain_pid_file(const char *prog, const char *path, pid_t pid)
{
	char line[32];
	int n = snprintf(line, sizeof(line), "%ld\n", (long)pid);

	if (fs_write_atomic(path, line, (size_t)n, 0644) == 0)
		return 0;
	fprintf(stderr, "%s: cannot write %s\n", prog, path);
	return -1;
}
