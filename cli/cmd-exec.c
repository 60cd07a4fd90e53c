/* jitctl exec: run a command with a credential in its environment only. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "err.h"
#include "fields.h"
#include "jitctl.h"
#include "prompt.h"
#include "proto-names.h"
#include "secret.h"

extern char **environ;

static const char exec_help[] =
    "usage: jitctl exec [--pin-fd N] NAME -- COMMAND [ARGS...]\n"
    "\n"
    "Run COMMAND with the credential's fields added to its environment\n"
    "(PGPASSWORD, AWS_SECRET_ACCESS_KEY, VAULT_TOKEN...).  Nothing is\n"
    "written to disk and jitctl's own environment never holds them.  A\n"
    "credential of kind secret is given as JIT_SECRET.  jitctl exits with\n"
    "the command's status (128 + N if it was killed by signal N).\n"
    "\n"
    "  -p, --pin-fd N  the PIN, for a credential whose step-up asks for\n"
    "                  the token on every use\n"
    "  -h, --help      this text\n";

#define JIT_SECRET_VAR "JIT_SECRET"

static volatile sig_atomic_t child_pid;

static void
forward(int signo)
{
	if (child_pid > 0)
		kill((pid_t)child_pid, signo);
}

static void
env_name(
    const struct field *f, bool as_secret, const char **ret, size_t *ret_len)
{
	if (as_secret && f->namelen == strlen(FIELD_DEFAULT) &&
	    memcmp(f->name, FIELD_DEFAULT, f->namelen) == 0) {
		*ret = JIT_SECRET_VAR;
		*ret_len = strlen(JIT_SECRET_VAR);
	} else {
		*ret = (const char *)f->name;
		*ret_len = f->namelen;
	}
}

/* Is the environ entry e one that a field replaces? */
static bool
overridden(const char *e, const struct secret *fields, bool as_secret)
{
	const char *eq = strchr(e, '='), *name;
	struct fields_iter it;
	struct field f;
	size_t n, len;

	if (eq == NULL)
		return false;
	n = (size_t)(eq - e);
	if (fields_iter_init(&it, fields) != 0)
		return false;
	while (fields_next(&it, &f) == 1) {
		env_name(&f, as_secret, &name, &len);
		if (len == n && memcmp(name, e, n) == 0)
			return true;
	}
	return false;
}

/*
 * The child's environment: environ plus NAME=VALUE per field.  The strings
 * and the pointer array are guarded memory; the kernel copies them into
 * the child at execve.
 */
static int
build_env(const struct secret *fields, bool as_secret,
    struct secret **ret_strings, struct secret **ret_vec)
{
	struct secret *strings = NULL, *vec = NULL;
	struct fields_iter it;
	struct field f;
	const char *name;
	char **v, *p, safe[FIELD_NAME_MAX + 1];
	size_t nenv = 0, nfields = 0, total = 0, len, i, j = 0;
	int r;

	if ((r = fields_iter_init(&it, fields)) != 0)
		return r;
	while ((r = fields_next(&it, &f)) == 1) {
		env_name(&f, as_secret, &name, &len);
		if (!cli_env_name_ok((const uint8_t *)name, len)) {
			memcpy(safe, f.name, f.namelen);
			safe[f.namelen] = '\0';
			cli_err(
			    "field '%s' is not an environment variable name ([A-Za-z_][A-Za-z0-9_]*)",
			    safe);
			return JIT_E_ARG;
		}
		nfields++;
		total += len + 1 + f.vallen + 1;
	}
	if (r != 0)
		return r;
	while (environ != NULL && environ[nenv] != NULL)
		nenv++;
	if (nenv > SECRET_MAX / sizeof(char *) - nfields - 1)
		return JIT_E_LIMIT;
	if ((r = secret_new(total, &strings)) != 0 ||
	    (r = secret_new((nenv + nfields + 1) * sizeof(char *), &vec)) != 0)
		goto out;
	v = (char **)(void *)secret_ptr(vec);
	p = (char *)secret_ptr(strings);
	(void)fields_iter_init(&it, fields);
	while (fields_next(&it, &f) == 1) {
		env_name(&f, as_secret, &name, &len);
		v[j++] = p;
		memcpy(p, name, len);
		p += len;
		*p++ = '=';
		memcpy(p, f.val, f.vallen);
		p += f.vallen;
		*p++ = '\0';
	}
	for (i = 0; i < nenv; i++)
		if (!overridden(environ[i], fields, as_secret))
			v[j++] = environ[i];
	v[j] = NULL;
	*ret_strings = strings;
	*ret_vec = vec;
	strings = vec = NULL;
	r = JIT_OK;
out:
	secret_free(strings);
	secret_free(vec);
	return r;
}

/* Without a kind from the agent: is this the one field "secret"? */
static bool
single_secret(const struct secret *fields)
{
	struct field f;
	uint32_t count;

	return fields_validate(fields, &count) == 0 && count == 1 &&
	    fields_get(fields, FIELD_DEFAULT, &f) == 0;
}

/* Can cmd be run?  Asked before the agent, so a typo costs no touch and
 * no use of the credential.  execvpe has the last word. */
static bool
runnable(const char *cmd)
{
	const char *path, *p, *end;
	char *cand;
	size_t dlen;
	bool ok;

	if (strchr(cmd, '/') != NULL)
		return access(cmd, X_OK) == 0;
	if ((path = getenv("PATH")) == NULL)
		path = "/bin:/usr/bin";
	for (p = path;; p = end + 1) {
		end = strchr(p, ':');
		dlen = end != NULL ? (size_t)(end - p) : strlen(p);
		if (asprintf(&cand, "%.*s/%s", (int)dlen, dlen > 0 ? p : ".",
			cmd) < 0)
			return true; /* let execvpe decide */
		ok = access(cand, X_OK) == 0;
		free(cand);
		if (ok)
			return true;
		if (end == NULL)
			return false;
	}
}

/* In the child: the signals and core limit jitctl found, then the command. */
static void __attribute__((noreturn)) child(char **cmd, char **envp,
    const struct sigaction *old_int, const struct sigaction *old_quit)
{
	char msg[512], safe[256];
	int e, n;

	(void)sigaction(SIGINT, old_int, NULL);
	(void)sigaction(SIGQUIT, old_quit, NULL);
	(void)setrlimit(RLIMIT_CORE, &jitctl_core_limit);
	execvpe(cmd[0], cmd, envp);
	e = errno;
	cli_sanitize(cmd[0], safe, sizeof(safe));
	n = snprintf(
	    msg, sizeof(msg), "jitctl: exec: %s: %s\n", safe, strerror(e));
	if (n > 0)
		(void)cli_write_all(STDERR_FILENO, msg, (size_t)n);
	_exit(e == ENOENT ? 127 : 126);
}

static int
wait_child(pid_t pid)
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

/* NAME and the command: options before "--" only, so none reach CMD. */
static int
parse_args(int argc, char **argv, int *pin_fd, char **ret_name, char ***ret_cmd)
{
	static const struct option opts[] = {
		{ "pin-fd", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c, dd, end, n;

	for (dd = 1; dd < argc && strcmp(argv[dd], "--") != 0; dd++)
		;
	/* Without "--", stop at NAME: what follows is the command's. */
	end = dd < argc ? dd : argc;
	while ((c = cli_getopt(
		    end, argv, dd < argc ? ":p:h" : "+:p:h", opts)) != -1) {
		switch (c) {
		case 'p':
			if (cli_pin_fd("--pin-fd", optarg, pin_fd) != 0)
				return JITCTL_EXIT_USAGE;
			break;
		case 'h': (void)cli_help(exec_help); return -1;
		default: return cli_getopt_error(c, argv);
		}
	}
	if (dd < argc) {
		if ((n = end - optind) == 0)
			return cli_usage_error(
			    "which credential? (jitctl exec NAME -- COMMAND)");
		if (n > 1)
			return cli_usage_error("one credential before '--'");
		*ret_name = argv[optind];
		*ret_cmd = argv + dd + 1;
		if (dd + 1 >= argc)
			return cli_usage_error("no command after '--'");
	} else {
		if (argc - optind < 2)
			return cli_usage_error(
			    "expected NAME -- COMMAND [ARGS...]");
		*ret_name = argv[optind];
		*ret_cmd = argv + optind + 1;
	}
	return JITCTL_EXIT_OK;
}

int
exec_main(int argc, char **argv)
{
	struct sigaction ign, fwd, old_int, old_quit, old_term, old_hup;
	struct json_object *cred = NULL;
	struct secret *fields = NULL, *strings = NULL, *vec = NULL;
	const char *kind, *base;
	char *name = NULL, **cmd = NULL;
	bool as_secret;
	pid_t pid;
	int r, ex, pin_fd = -1;

	if ((ex = parse_args(argc, argv, &pin_fd, &name, &cmd)) != 0)
		return ex < 0 ? JITCTL_EXIT_OK : ex;
	if (!runnable(cmd[0])) {
		cli_err("%s: command not found or not executable", cmd[0]);
		return 127;
	}
	if ((base = strrchr(cmd[0], '/')) != NULL)
		base++;
	else
		base = cmd[0];
	ex = get_fields(name, NULL, "exec", base, pin_fd, &cred, &fields);
	if (ex != 0)
		goto out;
	/* The command may run for hours: the agent needs no idle link. */
	cli_disconnect();
	if ((kind = cli_jstr(cred, JP_CRED_KIND)) != NULL)
		as_secret = strcmp(kind, "secret") == 0;
	else
		as_secret = single_secret(fields);
	if ((r = build_env(fields, as_secret, &strings, &vec)) == JIT_E_ARG) {
		ex = JITCTL_EXIT_FAIL; /* reported */
		goto out;
	}
	if (r != 0) {
		ex = cli_fail_code(r, "cannot build the environment");
		goto out;
	}
	secret_free(fields);
	fields = NULL;

	/* As system(3): the terminal's ^C and ^\ are for the child. */
	memset(&ign, 0, sizeof(ign));
	ign.sa_handler = SIG_IGN;
	sigemptyset(&ign.sa_mask);
	(void)sigaction(SIGINT, &ign, &old_int);
	(void)sigaction(SIGQUIT, &ign, &old_quit);
	fflush(NULL);
	if ((pid = fork()) < 0) {
		ex = cli_fail_code(JIT_E_IO, "fork: %s", strerror(errno));
		goto restore;
	}
	if (pid == 0)
		child(
		    cmd, (char **)(void *)secret_ptr(vec), &old_int, &old_quit);
	/* The child has its copy; ours goes now, before the wait. */
	secret_free(strings);
	secret_free(vec);
	strings = vec = NULL;
	child_pid = pid;
	memset(&fwd, 0, sizeof(fwd));
	fwd.sa_handler = forward;
	sigemptyset(&fwd.sa_mask);
	(void)sigaction(SIGTERM, &fwd, &old_term);
	(void)sigaction(SIGHUP, &fwd, &old_hup);
	ex = wait_child(pid);
	(void)sigaction(SIGTERM, &old_term, NULL);
	(void)sigaction(SIGHUP, &old_hup, NULL);
restore:
	(void)sigaction(SIGINT, &old_int, NULL);
	(void)sigaction(SIGQUIT, &old_quit, NULL);
out:
	json_object_put(cred);
	secret_free(fields);
	secret_free(strings);
	secret_free(vec);
	return ex;
}
