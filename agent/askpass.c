/* Asking the person: an SSH_ASKPASS-style confirmation, off the loop. */
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "askpass.h"
#include "err.h"
#include "hwq.h"
#include "log.h"

extern char **environ;

#define ENV_MAX 256

void
askpass_prompt(const struct peer *p, const char *what, char *out, size_t outlen)
{
	char eexe[512], ewhat[512];

	log_escape(p->exe, sizeof(p->exe), eexe, sizeof(eexe));
	log_escape(what, strlen(what), ewhat, sizeof(ewhat));
	snprintf(out, outlen, "Allow %s (pid %d, uid %u) to use %s?", eexe,
	    (int)p->pid, (unsigned)p->uid, ewhat);
}

int
askpass_confirm(const char *prompt, const volatile int *cancel)
{
	const char *prog = getenv("SSH_ASKPASS");
	char *argv[3], **envp = NULL;
	struct timespec nap = { 0, 50 * 1000 * 1000 };
	size_t n = 0, i;
	pid_t pid;
	int status, r, waited = 0;

	if (prog == NULL || prog[0] == '\0')
		prog = ASKPASS_DEFAULT;
	if (access(prog, X_OK) != 0) {
		log_warn("no askpass program at %s: set SSH_ASKPASS", prog);
		return JIT_E_UNSUPPORTED;
	}
	/* The child gets our environment (no secret is in it) plus the
	 * prompt kind, as OpenSSH passes it. */
	for (n = 0; environ[n] != NULL && n < ENV_MAX; n++)
		;
	if ((envp = calloc(n + 2, sizeof(*envp))) == NULL)
		return JIT_E_NOMEM;
	for (i = 0; i < n; i++)
		envp[i] = environ[i];
	envp[n] = (char *)(uintptr_t) "SSH_ASKPASS_PROMPT=confirm";
	argv[0] = (char *)(uintptr_t)prog;
	argv[1] = (char *)(uintptr_t)prompt;
	argv[2] = NULL;
	r = posix_spawn(&pid, prog, NULL, NULL, argv, envp);
	free(envp);
	if (r != 0) {
		log_warn("cannot run %s: %s", prog, strerror(r));
		return JIT_E_UNSUPPORTED;
	}
	for (;;) {
		r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			break;
		if (r < 0 && errno != EINTR) {
			log_warn("waitpid: %s", strerror(errno));
			return JIT_E_INTERNAL;
		}
		if ((cancel != NULL && *cancel) ||
		    waited >= ASKPASS_TIMEOUT_MS) {
			kill(pid, SIGTERM);
			waitpid(pid, &status, 0);
			return cancel != NULL && *cancel ? JIT_E_CANCELLED :
							   JIT_E_TIMEOUT;
		}
		nanosleep(&nap, NULL);
		waited += 50;
	}
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? JIT_OK :
							       JIT_E_DENIED;
}

struct ask_job {
	struct hwjob hj; /* first: hwq frees the job */
	char *prompt;
	askpass_done_fn *done;
	void *arg;
};

static void
ask_run(struct hwjob *hj)
{
	struct ask_job *j = (struct ask_job *)hj;

	hj->result = askpass_confirm(j->prompt, &hj->cancel);
}

static void
ask_done(struct hwjob *hj)
{
	struct ask_job *j = (struct ask_job *)hj;

	if (hj->conn != NULL)
		conn_set_job(hj->conn, NULL);
	j->done(hj->ag, hj->conn, hj->result, j->arg);
	free(j->prompt);
}

int
askpass_submit(struct agent *ag, struct request *rq, const char *prompt,
    askpass_done_fn *done, void *arg)
{
	struct ask_job *j;
	int r;

	if ((j = calloc(1, sizeof(*j))) == NULL)
		return JIT_E_NOMEM;
	if ((j->prompt = strdup(prompt)) == NULL ||
	    (j->hj.device = strdup("askpass")) == NULL) {
		free(j->prompt);
		free(j);
		return JIT_E_NOMEM;
	}
	j->done = done;
	j->arg = arg;
	j->hj.conn = rq->conn;
	j->hj.run = ask_run;
	j->hj.done = ask_done;
	if ((r = hwq_submit(ag->hwq, &j->hj)) != 0) {
		free(j->hj.device);
		free(j->prompt);
		free(j);
		return r;
	}
	conn_set_job(rq->conn, &j->hj);
	return AGENT_DEFERRED;
}
