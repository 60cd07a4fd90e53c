/* jitctl shell: grants bound to one process tree, wiped at the shell's exit. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "err.h"
#include "log.h"
#include "procinfo.h"
#include "shell.h"
#include "store.h"
#include "vault.h"

#define SHELL_WATCH_MAX 64

struct shell_watch {
	uv_poll_t poll; /* first: the close callback frees */
	struct agent *ag;
	pid_t pid;
	uint64_t start;
	int pidfd;
	struct shell_watch *next;
};

int
shell_bind_check(const struct peer *p, pid_t child, uint64_t *ret_start,
    char *why, size_t whylen)
{
	struct proc_stat st;

	if (child <= 1 || proc_stat_read(child, &st) != 0) {
		snprintf(why, whylen, "the shell (pid %d) is not running",
		    (int)child);
		return JIT_E_ARG;
	}
	if (st.ppid != p->pid) {
		snprintf(why, whylen,
		    "pid %d is not a child of the requesting process: only jitctl shell binds a grant to its own shell",
		    (int)child);
		return JIT_E_DENIED;
	}
	*ret_start = st.start;
	return JIT_OK;
}

static void
on_closed(uv_handle_t *h)
{
	struct shell_watch *w = h->data;

	close(w->pidfd);
	free(w);
}

static void
watch_end(struct shell_watch *w)
{
	struct shell_watch **pp;

	for (pp = &w->ag->shells; *pp != NULL; pp = &(*pp)->next)
		if (*pp == w) {
			*pp = w->next;
			break;
		}
	uv_poll_stop(&w->poll);
	uv_close((uv_handle_t *)&w->poll, on_closed);
}

/* The pidfd is readable: the shell exited. */
static void
on_exit_ready(uv_poll_t *p, int status, int events)
{
	struct shell_watch *w = p->data;
	char why[64];

	(void)status;
	(void)events;
	snprintf(why, sizeof(why), "shell pid %d exited", (int)w->pid);
	(void)agent_lock_shell(w->ag, why, w->pid, w->start);
	watch_end(w);
}

static int
watch(struct agent *ag, pid_t pid, uint64_t start)
{
	struct shell_watch *w;
	size_t n = 0;
	int fd;

	for (w = ag->shells; w != NULL; w = w->next, n++)
		if (w->pid == pid && w->start == start)
			return JIT_OK;
	if (n >= SHELL_WATCH_MAX)
		return JIT_E_LIMIT;
	if ((fd = (int)syscall(SYS_pidfd_open, pid, 0)) < 0)
		return errno == ESRCH ? JIT_E_NOENT : JIT_E_UNSUPPORTED;
	if ((w = calloc(1, sizeof(*w))) == NULL) {
		close(fd);
		return JIT_E_NOMEM;
	}
	w->ag = ag;
	w->pid = pid;
	w->start = start;
	w->pidfd = fd;
	uv_poll_init(ag->loop, &w->poll, fd);
	w->poll.data = w;
	uv_poll_start(&w->poll, UV_READABLE, on_exit_ready);
	w->next = ag->shells;
	ag->shells = w;
	return JIT_OK;
}

int
shell_bind(struct agent *ag, struct cred *c, pid_t pid, uint64_t start)
{
	struct proc_stat st;
	int r;

	if (c->slot == NULL)
		return JIT_E_LOCKED;
	/* The pidfd is opened first, then the start time checked: the
	 * pidfd is then surely the shell's, not a reused pid's. */
	if ((r = watch(ag, pid, start)) != 0)
		return r;
	if (proc_stat_read(pid, &st) != 0 || st.start != start)
		return JIT_E_NOENT;
	c->slot->bound_pid = pid;
	c->slot->bound_start = start;
	return JIT_OK;
}

bool
shell_peer_allowed(
    const struct cred *c, const struct peer *p, char *why, size_t whylen)
{
	const struct vault_slot *s = c->slot;

	if (s == NULL || s->bound_pid == 0)
		return true;
	if (p->start != 0 &&
	    proc_descends_from(p->pid, p->start, s->bound_pid, s->bound_start))
		return true;
	snprintf(why, whylen,
	    "%s is unlocked for the jitctl shell pid %d only: use it from that shell, or unlock it here",
	    c->name, (int)s->bound_pid);
	return false;
}

void
shell_stop_all(struct agent *ag)
{
	while (ag->shells != NULL)
		watch_end(ag->shells);
}
