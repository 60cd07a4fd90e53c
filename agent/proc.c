/* Running an issuer or revoke command off the loop, with every wait bounded. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "err.h"
#include "proc.h"
#include "secret.h"

extern char **environ;

#define POLL_SLICE_MS 50
#define SCRATCH_LEN 512

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
proc_env_free(struct proc_env *e)
{
	size_t i;

	if (e == NULL || e->v == NULL)
		return;
	for (i = 0; i < e->n; i++)
		free(e->v[i]);
	free(e->v);
	e->v = NULL;
	e->n = e->cap = 0;
}

int
proc_env_init(struct proc_env *e)
{
	size_t n, i;

	for (n = 0; environ != NULL && environ[n] != NULL; n++)
		;
	if (n > PROC_ENV_MAX)
		n = PROC_ENV_MAX;
	e->n = 0;
	e->cap = n + PROC_ENV_EXTRA_MAX + 1;
	if ((e->v = calloc(e->cap, sizeof(*e->v))) == NULL)
		return JIT_E_NOMEM;
	for (i = 0; i < n; i++) {
		if ((e->v[e->n] = strdup(environ[i])) == NULL) {
			proc_env_free(e);
			return JIT_E_NOMEM;
		}
		e->n++;
	}
	return JIT_OK;
}

int
proc_env_set(struct proc_env *e, const char *name, const char *value)
{
	size_t i, nl = strlen(name);
	char *s;

	for (i = 0; i < e->n;) {
		if (strncmp(e->v[i], name, nl) == 0 && e->v[i][nl] == '=') {
			free(e->v[i]);
			e->v[i] = e->v[--e->n];
			e->v[e->n] = NULL;
			continue;
		}
		i++;
	}
	if (e->n + 1 >= e->cap)
		return JIT_E_LIMIT;
	if (asprintf(&s, "%s=%s", name, value) < 0)
		return JIT_E_NOMEM;
	e->v[e->n++] = s;
	e->v[e->n] = NULL;
	return JIT_OK;
}

void
proc_result_reset(struct proc_result *res)
{
	secret_free(res->out);
	memset(res, 0, sizeof(*res));
}

int
proc_status(const struct proc_result *res)
{
	if (!res->spawned || res->timed_out)
		return -1;
	return res->exited ? res->code : -res->code;
}

/* The first lines of stderr, escaped and capped, for an error message. */
static void
excerpt(const uint8_t *p, size_t len, char *out, size_t outlen)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, o = 0, lines = 0, limit, n;
	bool more = false, at_start = true;
	char e[5];
	uint8_t c;

	if (outlen < 8)
		return;
	limit = outlen - 5 < PROC_ERR_CHARS ? outlen - 5 : PROC_ERR_CHARS;
	for (i = 0; i < len; i++) {
		c = p[i];
		if (c == '\n') {
			if (!at_start)
				lines++;
			at_start = true;
			continue;
		}
		if (at_start) {
			if (lines == PROC_ERR_LINES ||
			    (lines > 0 && o + 3 > limit)) {
				more = true;
				break;
			}
			if (lines > 0) {
				memcpy(out + o, " / ", 3);
				o += 3;
			}
			at_start = false;
		}
		if (c >= 0x20 && c < 0x7f && c != '\\') {
			e[0] = (char)c;
			n = 1;
		} else {
			e[0] = '\\';
			e[1] = 'x';
			e[2] = hex[c >> 4];
			e[3] = hex[c & 15];
			n = 4;
		}
		if (o + n > limit) {
			more = true;
			break;
		}
		memcpy(out + o, e, n);
		o += n;
	}
	if (more) {
		memcpy(out + o, " ...", 4);
		o += 4;
	}
	out[o] = '\0';
}

/* Read what is there into buf (at *len, up to cap); the rest is dropped.
 * 0 at end of file, 1 if it read, -1 on error; *dropped counts the rest. */
static int
drain(int fd, uint8_t *buf, size_t cap, size_t *len, size_t *dropped)
{
	uint8_t scratch[SCRATCH_LEN];
	ssize_t n;

	if (buf != NULL && *len < cap)
		n = read(fd, buf + *len, cap - *len);
	else {
		n = read(fd, scratch, sizeof(scratch));
		if (n > 0)
			*dropped += (size_t)n;
		sodium_memzero(scratch, sizeof(scratch));
		return n > 0 ? 1 :
		    n == 0   ? 0 :
			       (errno == EINTR || errno == EAGAIN ? 1 : -1);
	}
	if (n > 0)
		*len += (size_t)n;
	return n > 0 ? 1 :
	    n == 0   ? 0 :
		       (errno == EINTR || errno == EAGAIN ? 1 : -1);
}

static bool
reap(pid_t pid, int *status, bool block)
{
	pid_t w;

	for (;;) {
		w = waitpid(pid, status, block ? 0 : WNOHANG);
		if (w == pid)
			return true;
		if (w < 0 && errno == EINTR)
			continue;
		return false;
	}
}

/* Stop the whole group: TERM, a grace period, then KILL; reap the leader. */
static void
stop_group(pid_t pid, bool *reaped, int *status)
{
	int64_t until;
	struct timespec nap = { 0, 10 * 1000 * 1000 };

	kill(-pid, SIGTERM);
	until = now_ms() + PROC_KILL_GRACE_MS;
	while (!*reaped && now_ms() < until) {
		if (reap(pid, status, false))
			*reaped = true;
		else
			nanosleep(&nap, NULL);
	}
	kill(-pid, SIGKILL);
	if (!*reaped && reap(pid, status, true))
		*reaped = true;
}

static int
spawn(const struct proc_spec *spec, int outw, int errw, pid_t *pid)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t all, none;
	int r;

	if ((r = posix_spawn_file_actions_init(&fa)) != 0)
		return r;
	if ((r = posix_spawnattr_init(&attr)) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		return r;
	}
	/* Signals the agent ignores (SIGPIPE) or blocks come back to their
	 * defaults; its own group, so that a timeout can kill it all. */
	sigfillset(&all);
	sigemptyset(&none);
	if ((r = posix_spawn_file_actions_addopen(&fa, 0,
		 spec->stdin_path ? spec->stdin_path : "/dev/null", O_RDONLY,
		 0)) != 0 ||
	    (r = posix_spawn_file_actions_adddup2(&fa, outw, 1)) != 0 ||
	    (r = posix_spawn_file_actions_adddup2(&fa, errw, 2)) != 0 ||
	    (r = posix_spawn_file_actions_addclosefrom_np(&fa, 3)) != 0 ||
	    (r = posix_spawnattr_setsigdefault(&attr, &all)) != 0 ||
	    (r = posix_spawnattr_setsigmask(&attr, &none)) != 0 ||
	    (r = posix_spawnattr_setpgroup(&attr, 0)) != 0 ||
	    (r = posix_spawnattr_setflags(&attr,
		 POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK |
		     POSIX_SPAWN_SETPGROUP)) != 0)
		goto out;
	r = posix_spawn(pid, spec->argv[0], &fa, &attr, spec->argv, spec->envp);
out:
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	return r;
}

int
proc_run(const struct proc_spec *spec, struct proc_result *res)
{
	struct secret *out = NULL, *err = NULL;
	struct pollfd pfd[2];
	struct timespec nap = { 0, 10 * 1000 * 1000 };
	int outp[2] = { -1, -1 }, errp[2] = { -1, -1 };
	size_t outlen = 0, errlen = 0, dropped = 0, errdropped = 0, np;
	int64_t deadline, left;
	bool reaped = false;
	pid_t pid = -1;
	int status = 0, r, k;

	memset(res, 0, sizeof(*res));
	if ((r = secret_new(spec->out_max > 0 ? spec->out_max : 1, &out)) !=
		0 ||
	    (r = secret_new(PROC_STDERR_MAX, &err)) != 0)
		goto out;
	if (pipe2(outp, O_CLOEXEC) != 0 || pipe2(errp, O_CLOEXEC) != 0) {
		res->io_error = true;
		r = JIT_E_IO;
		goto out;
	}
	r = spawn(spec, outp[1], errp[1], &pid);
	close(outp[1]);
	close(errp[1]);
	outp[1] = errp[1] = -1;
	if (r != 0) {
		res->spawn_errno = r;
		r = JIT_E_ISSUER;
		goto out;
	}
	res->spawned = true;
	deadline = now_ms() + spec->timeout_ms;
	for (;;) {
		if (!reaped && reap(pid, &status, false))
			reaped = true;
		if (reaped && outp[0] < 0 && errp[0] < 0)
			break;
		if ((left = deadline - now_ms()) <= 0) {
			res->timed_out = true;
			break;
		}
		if (spec->out_max > 0 && dropped > 0) {
			res->overflow = true;
			break;
		}
		np = 0;
		if (outp[0] >= 0) {
			pfd[np].fd = outp[0];
			pfd[np++].events = POLLIN;
		}
		if (errp[0] >= 0) {
			pfd[np].fd = errp[0];
			pfd[np++].events = POLLIN;
		}
		if (np == 0) {
			/* Both pipes are closed; the leader has not exited. */
			nanosleep(&nap, NULL);
			continue;
		}
		k = poll(pfd, np,
		    (int)(left < POLL_SLICE_MS ? left : POLL_SLICE_MS));
		if (k < 0 && errno != EINTR) {
			res->io_error = true;
			break;
		}
		for (size_t i = 0; k > 0 && i < np; i++) {
			if (pfd[i].revents == 0)
				continue;
			if (pfd[i].fd == outp[0])
				k = drain(outp[0],
				    spec->out_max > 0 ? secret_ptr(out) : NULL,
				    spec->out_max, &outlen, &dropped);
			else
				k = drain(errp[0], secret_ptr(err),
				    PROC_STDERR_MAX, &errlen, &errdropped);
			if (k <= 0) {
				close(pfd[i].fd);
				if (pfd[i].fd == outp[0])
					outp[0] = -1;
				else
					errp[0] = -1;
			}
			k = 1;
		}
	}
	if (res->timed_out || res->overflow || res->io_error || !reaped)
		stop_group(pid, &reaped, &status);
	if (reaped && WIFEXITED(status)) {
		res->exited = true;
		res->code = WEXITSTATUS(status);
	} else if (reaped && WIFSIGNALED(status))
		res->code = WTERMSIG(status);
	excerpt(secret_ptr(err), errlen, res->err, sizeof(res->err));
	if (res->timed_out)
		r = JIT_E_TIMEOUT;
	else if (res->overflow)
		r = JIT_E_LIMIT;
	else if (res->io_error)
		r = JIT_E_IO;
	else if (!res->exited || res->code != 0)
		r = JIT_E_ISSUER;
	else
		r = JIT_OK;
	if (r == 0 && spec->out_max > 0) {
		secret_shrink(out, outlen);
		res->out = out;
		out = NULL;
	}
out:
	if (outp[0] >= 0)
		close(outp[0]);
	if (errp[0] >= 0)
		close(errp[0]);
	if (outp[1] >= 0)
		close(outp[1]);
	if (errp[1] >= 0)
		close(errp[1]);
	secret_free(out);
	secret_free(err);
	return r;
}

void
proc_describe(const struct proc_result *res, int64_t timeout_ms,
    bool with_stderr, char *out, size_t outlen)
{
	const char *sig;

	if (!res->spawned && res->spawn_errno != 0)
		snprintf(out, outlen, "could not be started: %s",
		    strerror(res->spawn_errno));
	else if (!res->spawned || res->io_error ||
	    (!res->exited && res->code == 0))
		snprintf(out, outlen, "could not be run: %s",
		    jit_strerror(JIT_E_IO));
	else if (res->timed_out)
		snprintf(out, outlen,
		    "did not finish within %lld s and was killed",
		    (long long)(timeout_ms / 1000));
	else if (res->overflow)
		snprintf(out, outlen, "wrote more than %d KiB and was stopped",
		    PROC_OUT_MAX / 1024);
	else if (res->exited && (!with_stderr || res->err[0] == '\0'))
		snprintf(out, outlen, "exited with status %d", res->code);
	else if (res->exited)
		snprintf(out, outlen, "exited with status %d (stderr: \"%s\")",
		    res->code, res->err);
	else {
		sig = sigabbrev_np(res->code);
		snprintf(out, outlen, "was killed by signal %d (SIG%s)",
		    res->code, sig != NULL ? sig : "?");
	}
}

const char *
proc_tmp_base(void)
{
	const char *s;

	if ((s = getenv("XDG_RUNTIME_DIR")) != NULL && s[0] == '/')
		return s;
	if ((s = getenv("TMPDIR")) != NULL && s[0] == '/')
		return s;
	return "/tmp";
}
