/* Running an issuer or revoke command: argv, environment, pipes, limits. */
#ifndef JIT_PROC_H
#define JIT_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct secret;

#define PROC_OUT_MAX (64 * 1024) /* an issuer's stdout */
#define PROC_STDERR_MAX 4096 /* kept of stderr */
#define PROC_ERR_LINES 3 /* quoted in an error */
#define PROC_ERR_CHARS 300
#define PROC_ENV_MAX 1024 /* entries inherited */
#define PROC_KILL_GRACE_MS 1000 /* TERM, then KILL */

/*
 * What to run.  Blocking: call it from a worker thread (hwq.c).  The
 * command is never run through a shell; it starts in a process group of
 * its own so that a timeout kills everything it started; stdin is the
 * file stdin_path (or /dev/null); stdout goes, when out_max > 0, straight
 * into guarded memory, else it is read and dropped; stderr is kept (at
 * most PROC_STDERR_MAX bytes, in guarded memory too: a careless command
 * may print a secret there) for the error message.
 */
struct proc_spec {
	char *const *argv;
	char *const *envp; /* the whole environment */
	const char *stdin_path; /* NULL: /dev/null */
	int64_t timeout_ms;
	size_t out_max; /* 0: discard stdout */
};

struct proc_result {
	struct secret *out; /* stdout, exactly its length */
	bool spawned;
	int spawn_errno;
	bool exited; /* else killed by a signal */
	int code; /* exit status or signal number */
	bool timed_out;
	bool overflow; /* stdout was over out_max */
	bool io_error;
	char err[PROC_ERR_CHARS + 64]; /* stderr excerpt */
};

/* JIT_OK if the command ran and exited 0 in time, within its limits;
 * else JIT_E_ISSUER, JIT_E_TIMEOUT or JIT_E_LIMIT, and res says why. */
int proc_run(const struct proc_spec *spec, struct proc_result *res);
void proc_result_reset(struct proc_result *res);
/* A sentence: "exited with status 1: <stderr excerpt>", "timed out after
 * 30 s and was killed", ... */
void proc_describe(const struct proc_result *res, int64_t timeout_ms,
    bool with_stderr, char *out, size_t outlen);
/* The exit status for the audit log: N, or -SIGNAL, or -1 if none. */
int proc_status(const struct proc_result *res);

/*
 * An environment for a command: a copy of ours (which holds no secret),
 * then variables set on top, replacing any of the same name.
 */
struct proc_env {
	char **v; /* NULL-terminated, malloc'd strings */
	size_t n, cap;
};

#define PROC_ENV_EXTRA_MAX 64 /* variables set on top */

int proc_env_init(struct proc_env *e);
int proc_env_set(struct proc_env *e, const char *name, const char *value);
void proc_env_free(struct proc_env *e);

/* Where a child's files go: $XDG_RUNTIME_DIR, else $TMPDIR, else /tmp. */
const char *proc_tmp_base(void);

#endif
