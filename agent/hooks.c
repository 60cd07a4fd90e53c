/* [hooks]: each audited event to commands (chat, paging), off the loop, never holding a request. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "conf.h"
#include "err.h"
#include "eventbus.h"
#include "hooks.h"
#include "hwq.h"
#include "log.h"
#include "proc.h"

struct hook_job {
	struct hwjob hj; /* first: hwq frees the job */
	const char *which; /* "event", "announce" */
	struct conf_argv argv; /* a copy: a reload may come */
	struct proc_env env;
	char *json;
	char *tmpbase;
	int64_t timeout_ms;
	struct proc_result pr;
	char why[400];
};

static size_t pending;

static void
hook_job_free(struct hook_job *j)
{
	conf_argv_free(&j->argv);
	proc_env_free(&j->env);
	free(j->json);
	free(j->tmpbase);
	proc_result_reset(&j->pr);
}

/* In a worker thread: the event in a private file, as the command's stdin. */
static void
hook_run(struct hwjob *hj)
{
	struct hook_job *j = (struct hook_job *)hj;
	struct proc_spec spec;
	char path[512];
	size_t len = strlen(j->json);
	int fd, r;

	snprintf(path, sizeof(path), "%s/jit-hook-XXXXXX", j->tmpbase);
	if ((fd = mkostemp(path, O_CLOEXEC)) < 0) {
		snprintf(j->why, sizeof(j->why),
		    "cannot make its input file in %s: %s", j->tmpbase,
		    strerror(errno));
		hj->result = JIT_E_IO;
		return;
	}
	if (write(fd, j->json, len) != (ssize_t)len ||
	    write(fd, "\n", 1) != 1) {
		snprintf(j->why, sizeof(j->why), "cannot write its input: %s",
		    strerror(errno));
		close(fd);
		unlink(path);
		hj->result = JIT_E_IO;
		return;
	}
	close(fd);
	memset(&spec, 0, sizeof(spec));
	spec.argv = j->argv.v;
	spec.envp = j->env.v;
	spec.stdin_path = path;
	spec.timeout_ms = j->timeout_ms;
	spec.out_max = 0;
	if ((r = proc_run(&spec, &j->pr)) != 0)
		proc_describe(
		    &j->pr, j->timeout_ms, true, j->why, sizeof(j->why));
	unlink(path);
	hj->result = r;
}

static void
hook_done(struct hwjob *hj)
{
	struct hook_job *j = (struct hook_job *)hj;
	char prog[128];

	pending--;
	if (hj->result != 0) {
		log_escape(
		    j->argv.v[0], strlen(j->argv.v[0]), prog, sizeof(prog));
		log_warn("hooks: the %s hook %s %s", j->which, prog, j->why);
	}
	hook_job_free(j);
}

static void
submit(struct agent *ag, const char *which, const struct conf_argv *argv,
    const struct event_rec *e)
{
	struct hook_job *j;
	int64_t timeout_s = ag->conf->hook_timeout_s > 0 ?
	    ag->conf->hook_timeout_s :
	    CONF_HOOK_TIMEOUT_DEFAULT_S;
	int r;

	if (pending >= HOOKS_PENDING_MAX) {
		log_warn(
		    "hooks: %d events wait for the hooks already: event %s is not passed to the %s hook",
		    HOOKS_PENDING_MAX, e->type, which);
		return;
	}
	if ((j = calloc(1, sizeof(*j))) == NULL)
		goto nomem;
	j->which = which;
	j->timeout_ms = timeout_s * 1000;
	if ((r = conf_argv_dup(argv, &j->argv)) != 0 ||
	    (j->json = strdup(e->json)) == NULL ||
	    (j->tmpbase = strdup(proc_tmp_base())) == NULL ||
	    (r = proc_env_init(&j->env)) != 0 ||
	    (r = proc_env_set(&j->env, "JIT_EVENT", e->type)) != 0 ||
	    asprintf(&j->hj.device, "hook:%s", which) < 0) {
		j->hj.device = NULL;
		goto fail;
	}
	j->hj.run = hook_run;
	j->hj.done = hook_done;
	if (hwq_submit(ag->hwq, &j->hj) != 0)
		goto fail;
	pending++;
	return;
fail:
	free(j->hj.device);
	hook_job_free(j);
	free(j);
nomem:
	log_warn("hooks: out of memory: event %s is not passed to the %s hook",
	    e->type, which);
}

void
hooks_event(struct agent *ag, const struct event_rec *e, void *arg)
{
	(void)arg;
	/* At exit nothing new is started: the agent does not wait for it. */
	if (ag->conf == NULL || ag->hwq == NULL || ag->exiting)
		return;
	if (ag->conf->hook_event.n > 0)
		submit(ag, "event", &ag->conf->hook_event, e);
	if (ag->conf->hook_announce.n > 0 &&
	    strcmp(e->type, "request-created") == 0)
		submit(ag, "announce", &ag->conf->hook_announce, e);
}
