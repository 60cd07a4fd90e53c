/* Starting jit-agent the way ssh-agent starts: shell lines, -k, a private
 * socket directory, a command run under the agent, --ensure. */
#ifndef JIT_LAUNCH_H
#define JIT_LAUNCH_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define LAUNCH_READY_MAX 8192 /* the child's word to its parent */

/* How the parent speaks once the agent serves. */
struct launch {
	bool csh; /* -c, or $SHELL ends in csh */
	char **cmd; /* command [arg ...]: run it, then exit with the agent */
	bool pids; /* print SSH_AGENT_PID (not with -D or -d, as ssh-agent) */
};

/* Where an agent listens, and the agent jitctl should talk to (the store's
 * holder when this one serves ssh-add keys only); jit_pid 0: this one. */
struct launch_ready {
	const char *sock;
	const char *jit_sock;
	pid_t jit_pid;
};

/* -c unless -s, a command or $SHELL say otherwise: ssh-agent's rule. */
bool launch_shell_is_csh(void);

/* The shell lines for an agent, sh or csh, as ssh-agent prints them;
 * pid 0 leaves SSH_AGENT_PID and JIT_AGENT_PID out. */
void launch_print_env(
    bool csh, const char *sock, pid_t pid, const char *jit_sock, pid_t jit_pid);

/* -k: SIGTERM to $SSH_AGENT_PID and the lines that unset its variables.
 * Returns the exit status. */
int launch_kill(bool csh);

/*
 * Forks.  The child returns JIT_OK with *ret_fd its end of a pipe, to be
 * given to launch_tell_ready() or launch_tell_error(); the parent waits for
 * that word and never returns: it prints the shell lines or runs l->cmd
 * with them in its environment, or prints the child's error and exits 1.
 */
int launch_fork(const struct launch *l, int *ret_fd);
void launch_tell_ready(int fd, const struct launch_ready *r);
void launch_tell_error(int fd, const char *msg);

/* A fresh private directory and the socket in it, as ssh-agent makes
 * them: $TMPDIR/jit-agent-XXXXXX/agent.PPID. */
int launch_fresh_socket(
    char **ret_dir, char **ret_sock, char *why, size_t whylen);

/*
 * The agent holding data_dir's lock, from what it wrote there: true with
 * its pid and socket (malloc'd) while it holds the lock, false when no
 * agent does (or it did not say who it is).
 */
bool launch_holder(const char *data_dir, pid_t *ret_pid, char **ret_sock);

/* rm -r of a directory this agent made (its private socket directory). */
void launch_remove_tree(const char *dir);

#endif
