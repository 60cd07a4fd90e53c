/* Starting jit-agent the way ssh-agent starts: shell lines, -k, a private
 * socket directory, a command run under the agent, --ensure. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "err.h"
#include "launch.h"
#include "store.h"

#define SOCK_DIR_TEMPLATE "jit-agent-XXXXXX"
#define HOLDER_NOTE_MAX 512
#define SHELL_SAFE \
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_./:@%+,-"

bool
launch_shell_is_csh(void)
{
	const char *sh = getenv("SHELL");
	size_t n;

	return sh != NULL && (n = strlen(sh)) > 2 &&
	    strcmp(sh + n - 3, "csh") == 0;
}

/* A value as the shell reads it back: bare when that is safe (ssh-agent's
 * own paths always are), else in single quotes. */
static void
put_value(const char *v)
{
	const char *p;

	if (v[0] != '\0' && strspn(v, SHELL_SAFE) == strlen(v)) {
		fputs(v, stdout);
		return;
	}
	putchar('\'');
	for (p = v; *p != '\0'; p++) {
		if (*p == '\'')
			fputs("'\\''", stdout);
		else
			putchar(*p);
	}
	putchar('\'');
}

static void
put_var(bool csh, const char *name, const char *value)
{
	if (csh) {
		printf("setenv %s ", name);
		put_value(value);
		fputs(";\n", stdout);
	} else {
		printf("%s=", name);
		put_value(value);
		printf("; export %s;\n", name);
	}
}

void
launch_print_env(
    bool csh, const char *sock, pid_t pid, const char *jit_sock, pid_t jit_pid)
{
	char n[24];

	put_var(csh, "SSH_AUTH_SOCK", sock);
	if (pid > 0) {
		snprintf(n, sizeof(n), "%ld", (long)pid);
		put_var(csh, "SSH_AGENT_PID", n);
	}
	put_var(csh, "JIT_AGENT_SOCK", jit_sock);
	if (pid > 0) {
		snprintf(
		    n, sizeof(n), "%ld", (long)(jit_pid > 0 ? jit_pid : pid));
		put_var(csh, "JIT_AGENT_PID", n);
	}
	printf("echo Agent pid %ld;\n", (long)(pid > 0 ? pid : getpid()));
	fflush(stdout);
}

static bool
parse_pid(const char *s, pid_t *ret)
{
	char *end;
	long v;

	if (s == NULL || s[0] == '\0')
		return false;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < 2 || v > INT_MAX)
		return false;
	*ret = (pid_t)v;
	return true;
}

int
launch_kill(bool csh)
{
	const char *s = getenv("SSH_AGENT_PID"), *j;
	pid_t pid, jpid;

	if (s == NULL) {
		fprintf(stderr, "SSH_AGENT_PID not set, cannot kill agent\n");
		return 1;
	}
	if (!parse_pid(s, &pid)) {
		fprintf(stderr,
		    "SSH_AGENT_PID=\"%s\", which is not a good PID: set it to the agent's process id\n",
		    s);
		return 1;
	}
	if (kill(pid, SIGTERM) != 0) {
		perror("kill");
		return 1;
	}
	printf(csh ? "unsetenv %s;\n" : "unset %s;\n", "SSH_AUTH_SOCK");
	printf(csh ? "unsetenv %s;\n" : "unset %s;\n", "SSH_AGENT_PID");
	/* The JIT_ variables too when they name this agent (not the store's
	 * holder, which a keys-only agent points jitctl at). */
	j = getenv("JIT_AGENT_PID");
	if (parse_pid(j, &jpid) && jpid == pid) {
		printf(
		    csh ? "unsetenv %s;\n" : "unset %s;\n", "JIT_AGENT_SOCK");
		printf(csh ? "unsetenv %s;\n" : "unset %s;\n", "JIT_AGENT_PID");
	}
	printf("echo Agent pid %ld killed;\n", (long)pid);
	return 0;
}

/* The child's word: "ok\0SOCK\0JIT_SOCK\0JIT_PID\0", or an error text. */
static void
parent_wait(const struct launch *l, int fd, pid_t child)
{
	static char buf[LAUNCH_READY_MAX];
	const char *sock, *jsock, *jpid_s;
	size_t n = 0;
	ssize_t k;
	pid_t jpid;
	char pid_s[24], jpid_buf[24];

	while (n < sizeof(buf) - 1 &&
	    (k = read(fd, buf + n, sizeof(buf) - 1 - n)) != 0) {
		if (k < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		n += (size_t)k;
	}
	buf[n] = '\0';
	if (n < 3 || memcmp(buf, "ok\0", 3) != 0) {
		if (n > 0)
			fputs(buf, stderr);
		else
			fprintf(stderr,
			    "jit-agent: the agent stopped before it served (see the system log)\n");
		exit(1);
	}
	/* Four strings, each ended by its NUL inside what was read. */
	sock = buf + 3;
	jsock = sock + strnlen(sock, buf + n - sock) + 1;
	jpid_s = jsock < buf + n ? jsock + strnlen(jsock, buf + n - jsock) + 1 :
				   buf + n;
	if (jpid_s >= buf + n ||
	    memchr(jpid_s, '\0', buf + n - jpid_s) == NULL) {
		fprintf(stderr,
		    "jit-agent: the agent's start-up word was garbled\n");
		exit(1);
	}
	if (!parse_pid(jpid_s, &jpid))
		jpid = 0;
	if (l->cmd == NULL) {
		launch_print_env(
		    l->csh, sock, l->pids ? child : 0, jsock, jpid);
		exit(0);
	}
	snprintf(pid_s, sizeof(pid_s), "%ld", (long)child);
	snprintf(
	    jpid_buf, sizeof(jpid_buf), "%ld", (long)(jpid > 0 ? jpid : child));
	if (setenv("SSH_AUTH_SOCK", sock, 1) != 0 ||
	    setenv("SSH_AGENT_PID", pid_s, 1) != 0 ||
	    setenv("JIT_AGENT_SOCK", jsock, 1) != 0 ||
	    setenv("JIT_AGENT_PID", jpid_buf, 1) != 0) {
		perror("setenv");
		exit(1);
	}
	execvp(l->cmd[0], l->cmd);
	perror(l->cmd[0]);
	exit(1);
}

int
launch_fork(const struct launch *l, int *ret_fd)
{
	pid_t pid, parent = getpid();
	int p[2];

	if (pipe2(p, O_CLOEXEC) != 0)
		return JIT_E_IO;
	if ((pid = fork()) < 0) {
		close(p[0]);
		close(p[1]);
		return JIT_E_IO;
	}
	if (pid > 0) {
		close(p[1]);
		parent_wait(l, p[0], pid);
		/* NOTREACHED */
	}
	close(p[0]);
	/* With a command, the agent lives as long as it: the parent becomes
	 * the command, and its end is this process's SIGTERM. */
	if (l->cmd != NULL &&
	    (prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0) != 0 ||
		getppid() != parent))
		_exit(1);
	if (setsid() < 0)
		return JIT_E_IO;
	*ret_fd = p[1];
	return JIT_OK;
}

static void
write_all(int fd, const char *p, size_t n)
{
	ssize_t k;

	while (n > 0) {
		if ((k = write(fd, p, n)) < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		p += k;
		n -= (size_t)k;
	}
}

void
launch_tell_ready(int fd, const struct launch_ready *r)
{
	char pid_s[24];

	if (fd < 0)
		return;
	snprintf(pid_s, sizeof(pid_s), "%ld", (long)r->jit_pid);
	write_all(fd, "ok", 3);
	write_all(fd, r->sock, strlen(r->sock) + 1);
	write_all(fd, r->jit_sock, strlen(r->jit_sock) + 1);
	write_all(fd, pid_s, strlen(pid_s) + 1);
	close(fd);
}

void
launch_tell_error(int fd, const char *msg)
{
	if (fd < 0)
		return;
	write_all(fd, msg, strlen(msg));
	close(fd);
}

int
launch_fresh_socket(char **ret_dir, char **ret_sock, char *why, size_t whylen)
{
	const char *tmp = getenv("TMPDIR");
	char *dir = NULL, *sock = NULL;
	int r;

	if (tmp == NULL || tmp[0] != '/')
		tmp = "/tmp";
	if (asprintf(&dir, "%s/" SOCK_DIR_TEMPLATE, tmp) < 0) {
		dir = NULL;
		r = JIT_E_NOMEM;
		goto out;
	}
	if (mkdtemp(dir) == NULL) {
		snprintf(why, whylen,
		    "cannot create a socket directory %s: %s (set TMPDIR to a directory of yours, or pass -a SOCKET)",
		    dir, strerror(errno));
		r = JIT_E_IO;
		goto out;
	}
	if (asprintf(&sock, "%s/agent.%ld", dir, (long)getppid()) < 0) {
		sock = NULL;
		rmdir(dir);
		r = JIT_E_NOMEM;
		goto out;
	}
	if (strlen(sock) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
		snprintf(why, whylen,
		    "the socket path %s is too long for a Unix socket: set TMPDIR to a shorter directory",
		    sock);
		rmdir(dir);
		r = JIT_E_LIMIT;
		goto out;
	}
	*ret_dir = dir;
	*ret_sock = sock;
	dir = sock = NULL;
	r = JIT_OK;
out:
	free(dir);
	free(sock);
	return r;
}

bool
launch_holder(const char *data_dir, pid_t *ret_pid, char **ret_sock)
{
	char *path = NULL, note[HOLDER_NOTE_MAX], *nl, *sock;
	ssize_t n;
	long pid;
	int fd = -1, used = 0;
	bool held = false;

	if (asprintf(&path, "%s/" STORE_LOCK_FILE, data_dir) < 0)
		return false;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
		goto out;
	/* Taken: no agent holds it (we let go at once). */
	if (flock(fd, LOCK_SH | LOCK_NB) == 0 || errno != EWOULDBLOCK)
		goto out;
	if ((n = pread(fd, note, sizeof(note) - 1, 0)) <= 0)
		goto out;
	note[n] = '\0';
	if ((nl = strchr(note, '\n')) != NULL)
		*nl = '\0';
	/* store_lock's note, as main.c writes it: "pid N, socket PATH". */
	if (sscanf(note, "pid %ld, socket %n", &pid, &used) != 1 || used == 0 ||
	    pid < 2 || pid > INT_MAX || note[used] != '/')
		goto out;
	if ((sock = strdup(note + used)) == NULL)
		goto out;
	*ret_pid = (pid_t)pid;
	*ret_sock = sock;
	held = true;
out:
	if (fd >= 0)
		close(fd);
	free(path);
	return held;
}

static int
remove_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)f;
	if (flag == FTW_DP || flag == FTW_D)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

void
launch_remove_tree(const char *dir)
{
	(void)nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}
