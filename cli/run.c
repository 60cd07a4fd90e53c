/* The child of jitctl exec and inject, its signals, and the concealing filter. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "err.h"
#include "jitctl.h"
#include "mask.h"
#include "run.h"

extern char **environ;

static volatile sig_atomic_t run_pid;

static void
run_forward(int signo)
{
	if (run_pid > 0)
		kill((pid_t)run_pid, signo);
}

/* The signals jitctl changes while its child runs, and what they were. */
static const int run_ignored[] = { SIGINT, SIGQUIT, SIGPIPE };
static const int run_forwarded[] = { SIGTERM, SIGHUP, SIGUSR1, SIGUSR2 };
#define N_IGN (sizeof(run_ignored) / sizeof(run_ignored[0]))
#define N_FWD (sizeof(run_forwarded) / sizeof(run_forwarded[0]))

struct run_signals {
	struct sigaction ign[N_IGN];
	struct sigaction fwd[N_FWD];
};

static void
signals_restore(const struct run_signals *s)
{
	size_t i;

	for (i = 0; i < N_IGN; i++)
		(void)sigaction(run_ignored[i], &s->ign[i], NULL);
	for (i = 0; i < N_FWD; i++)
		(void)sigaction(run_forwarded[i], &s->fwd[i], NULL);
}

/* In the child: jitctl's first signals and core limit, then the command. */
static void __attribute__((noreturn))
run_exec(char **cmd, char **envp, const struct run_signals *s, int out, int err)
{
	char msg[512], safe[256];
	int e, n;

	signals_restore(s);
	(void)setrlimit(RLIMIT_CORE, &jitctl_core_limit);
	if ((out >= 0 && dup2(out, STDOUT_FILENO) < 0) ||
	    (err >= 0 && dup2(err, STDERR_FILENO) < 0))
		_exit(126);
	execvpe(cmd[0], cmd, envp != NULL ? envp : environ);
	e = errno;
	cli_sanitize(cmd[0], safe, sizeof(safe));
	n = snprintf(
	    msg, sizeof(msg), "jitctl: exec: %s: %s\n", safe, strerror(e));
	if (n > 0)
		(void)cli_write_all(STDERR_FILENO, msg, (size_t)n);
	_exit(e == ENOENT ? 127 : 126);
}

static int
run_wait(pid_t pid)
{
	int status;

	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			cli_err("waitpid: %s", strerror(errno));
			return JITCTL_EXIT_FAIL;
		}
	}
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return JITCTL_EXIT_FAIL;
}

static int
fd_out(void *ctx, const void *p, size_t n)
{
	return cli_write_all(*(const int *)ctx, p, n);
}

/* One of the child's streams on its way through the filter. */
struct run_pipe {
	int rfd; /* -1 at its end */
	int wfd; /* jitctl's stdout or stderr */
	struct mask_stream *st;
};

/*
 * Read one chunk into the filter.  When jitctl's own output is gone
 * (EPIPE), the pipe is closed so the child learns it too.
 */
static void
pipe_read(struct run_pipe *p)
{
	uint8_t *dst;
	size_t room;
	ssize_t k;

	dst = mask_stream_space(p->st, &room);
	if ((k = read(p->rfd, dst, room)) < 0 && errno == EINTR)
		return;
	if (k > 0 && mask_stream_commit(p->st, (size_t)k) == 0)
		return;
	(void)mask_stream_flush(p->st);
	close(p->rfd);
	p->rfd = -1;
}

/* Pass the child's output through the filters until both ends close. */
static void
run_filter(struct run_pipe *p)
{
	struct pollfd pf[2];
	int i, n, timeout;

	while (p[0].rfd >= 0 || p[1].rfd >= 0) {
		timeout = -1;
		for (i = 0; i < 2; i++) {
			pf[i].fd = p[i].rfd;
			pf[i].events = POLLIN;
			pf[i].revents = 0;
			if (p[i].rfd >= 0 && mask_stream_held(p[i].st) > 0)
				timeout = RUN_IDLE_MS;
		}
		if ((n = poll(pf, 2, timeout)) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (n == 0) {
			/* Idle: nothing more of a value is coming soon. */
			for (i = 0; i < 2; i++)
				if (p[i].rfd >= 0)
					(void)mask_stream_flush(p[i].st);
			continue;
		}
		for (i = 0; i < 2; i++)
			if (p[i].rfd >= 0 &&
			    (pf[i].revents & (POLLIN | POLLHUP | POLLERR)))
				pipe_read(&p[i]);
	}
	for (i = 0; i < 2; i++)
		if (p[i].rfd >= 0)
			close(p[i].rfd);
}

int
run_child(char **cmd, char **envp, const struct mask_set *mask,
    void (*started)(void *), void *arg)
{
	static int fds[2] = { STDOUT_FILENO, STDERR_FILENO };
	struct run_pipe p[2] = { { -1, STDOUT_FILENO, NULL },
		{ -1, STDERR_FILENO, NULL } };
	struct run_signals old;
	struct sigaction sa;
	int pp[2][2] = { { -1, -1 }, { -1, -1 } };
	pid_t pid;
	size_t i;
	int r, ex = JITCTL_EXIT_FAIL;

	if (mask != NULL) {
		for (i = 0; i < 2; i++) {
			if (pipe2(pp[i], O_CLOEXEC) != 0) {
				ex = cli_fail_code(
				    JIT_E_IO, "pipe: %s", strerror(errno));
				goto out;
			}
			if ((r = mask_stream_new(
				 mask, fd_out, &fds[i], &p[i].st)) != 0) {
				ex = cli_fail_code(
				    r, "cannot set up the output filter");
				goto out;
			}
		}
	}
	/* As system(3): the terminal's ^C and ^\ are for the child. */
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = SIG_IGN;
	for (i = 0; i < N_IGN; i++)
		(void)sigaction(run_ignored[i], &sa, &old.ign[i]);
	sa.sa_handler = run_forward; /* no SA_RESTART: poll wakes up */
	for (i = 0; i < N_FWD; i++)
		(void)sigaction(run_forwarded[i], &sa, &old.fwd[i]);
	fflush(NULL);
	if ((pid = fork()) < 0) {
		ex = cli_fail_code(JIT_E_IO, "fork: %s", strerror(errno));
		goto restore;
	}
	if (pid == 0)
		run_exec(cmd, envp, &old, pp[0][1], pp[1][1]);
	run_pid = pid;
	if (started != NULL)
		started(arg);
	if (mask != NULL) {
		for (i = 0; i < 2; i++) {
			close(pp[i][1]);
			pp[i][1] = -1;
			p[i].rfd = pp[i][0];
			pp[i][0] = -1;
		}
		run_filter(p);
	}
	ex = run_wait(pid);
	run_pid = 0;
restore:
	signals_restore(&old);
out:
	for (i = 0; i < 2; i++) {
		if (pp[i][0] >= 0)
			close(pp[i][0]);
		if (pp[i][1] >= 0)
			close(pp[i][1]);
		mask_stream_free(p[i].st);
	}
	return ex;
}
