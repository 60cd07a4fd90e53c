/* jitctl shell: unlock for one shell, whose processes alone are served. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "duration.h"
#include "err.h"
#include "jitctl.h"
#include "jsonx.h"
#include "proto-names.h"

#define SHELL_ENV "JIT_SHELL" /* the names, for the prompt */
#define SHELL_ENV_UNTIL "JIT_SHELL_UNTIL" /* the window's end, unix time */

static const char shell_help[] =
    "usage: jitctl shell [--for DURATION] [--token LABEL] [--pin-fd N]\n"
    "                    NAME... [-- COMMAND [ARG...]]\n"
    "\n"
    "Unlock credentials with one touch or PIN for a new shell ($SHELL, or\n"
    "COMMAND): the agent serves them to that process and its descendants\n"
    "only, and wipes them when it exits, whatever the window.  The shell\n"
    "finds the names in $JIT_SHELL, for its prompt:\n"
    "  PS1='${JIT_SHELL:+[prod: $JIT_SHELL] }'\"$PS1\"\n"
    "\n"
    "  -f, --for DURATION  the window (default 15m)\n"
    "  -t, --token LABEL   use this token\n"
    "  -p, --pin-fd N      read the PIN from file descriptor N\n"
    "  -h, --help          this text\n";

/*
 * The child: held until the unlock answers (a byte on the pipe), then the
 * shell.  Started first, so that the agent can bind the grant to it.
 */
static pid_t
start_held(char **cmd, const char *names, int *ret_go)
{
	char *sh = getenv("SHELL"), bin_sh[] = "/bin/sh", *dflt[2];
	pid_t pid;
	int p[2];
	char go;

	if (pipe2(p, O_CLOEXEC) != 0)
		return -1;
	if ((pid = fork()) < 0) {
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid == 0) {
		close(p[1]);
		if (read(p[0], &go, 1) != 1)
			_exit(126); /* not unlocked: nothing runs */
		close(p[0]);
		if (setenv(SHELL_ENV, names, 1) != 0)
			_exit(126);
		if (cmd == NULL) {
			dflt[0] = sh != NULL && sh[0] == '/' ? sh : bin_sh;
			dflt[1] = NULL;
			cmd = dflt;
		}
		execvp(cmd[0], cmd);
		fprintf(stderr, "jitctl shell: cannot run %s: %s\n", cmd[0],
		    strerror(errno));
		_exit(127);
	}
	close(p[0]);
	*ret_go = p[1];
	return pid;
}

static int
wait_child(pid_t pid)
{
	int st;

	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return JITCTL_EXIT_FAIL;
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	return 128 + WTERMSIG(st);
}

int
shell_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "for", required_argument, NULL, 'f' },
		{ "token", required_argument, NULL, 't' },
		{ "pin-fd", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct client_reply st = { .retries = -1 }, rep = { .retries = -1 };
	struct json_object *args = NULL, *names = NULL, *labels = NULL;
	struct stepup_opts so = { .pin_fd = -1 };
	const char *for_arg = NULL;
	char **cmd = NULL, list[1024], left[32];
	int64_t window = 0;
	int c, i, r, ex, nnames, go = -1;
	pid_t child = -1;

	/* "+": the names end the options; "--" starts the command. */
	while ((c = cli_getopt(argc, argv, "+:f:t:p:h", opts)) != -1) {
		switch (c) {
		case 'f': for_arg = optarg; break;
		case 't': so.token = optarg; break;
		case 'p':
			if (cli_pin_fd("--pin-fd", optarg, &so.pin_fd) != 0)
				return JITCTL_EXIT_USAGE;
			break;
		case 'h': return cli_help(shell_help);
		default: return cli_getopt_error(c, argv);
		}
	}
	for (i = optind; i < argc && strcmp(argv[i], "--") != 0; i++)
		;
	nnames = i - optind;
	if (i < argc && i + 1 < argc)
		cmd = argv + i + 1;
	else if (i < argc)
		return cli_usage_error("-- but no command after it");
	if (nnames == 0)
		return cli_usage_error("which credentials? (NAME...)");
	if (for_arg != NULL && duration_parse(for_arg, &window) != 0)
		return cli_usage_error(
		    "bad --for '%s': use 90s, 15m, 2h or 1h30m", for_arg);
	if ((args = json_object_new_object()) == NULL ||
	    (names = json_object_new_array()) == NULL ||
	    (labels = json_object_new_array()) == NULL) {
		ex = cli_fail_code(JIT_E_NOMEM, NULL);
		goto out;
	}
	for (i = 0; i < nnames; i++)
		if ((r = cli_jappend(names, argv[optind + i])) != 0) {
			ex = cli_fail_code(r, NULL);
			goto out;
		}
	cli_jjoin(names, ",", list, sizeof(list));
	if ((child = start_held(cmd, list, &go)) < 0) {
		ex = cli_fail_code(JIT_E_IO, "cannot start the shell");
		goto out;
	}
	if (json_object_object_add(
		args, JP_ARG_UNLOCK_NAMES, json_object_get(names)) ||
	    jsonx_add_int(args, JP_ARG_UNLOCK_SHELL, (int64_t)child) != 0 ||
	    (window > 0 &&
		jsonx_add_int(args, JP_ARG_UNLOCK_FOR, window) != 0) ||
	    (so.token != NULL &&
		jsonx_add_str(args, JP_ARG_UNLOCK_TOKEN, so.token))) {
		ex = cli_fail_code(JIT_E_NOMEM, NULL);
		goto out;
	}
	if ((r = cli_request(JP_VERB_STATUS, NULL, NULL, &st)) != 0 &&
	    r == JIT_E_AGENT) {
		ex = cli_fail(r, &st);
		goto out;
	}
	if ((r = unlock_labels_for(
		 cli_jarray(st.result, JP_RES_STATUS_CREDENTIALS), nnames,
		 argv + optind, labels)) != 0) {
		ex = cli_fail_code(r, NULL);
		goto out;
	}
	/* Names, expiry, the agent's lock: checked before any "touch". */
	if ((r = unlock_precheck(args, &rep)) != 0) {
		ex = cli_fail(r, &rep);
		goto out;
	}
	client_reply_reset(&rep);
	so.purpose = "to start the shell";
	if ((r = stepup_request(JP_VERB_UNLOCK, args,
		 cli_jarray(st.result, JP_RES_STATUS_TOKENS), labels, &so,
		 &rep)) != 0) {
		ex = cli_fail(r, &rep);
		goto out;
	}
	if ((ex = cli_report_failed(
		 cli_jarray(rep.result, JP_RES_UNLOCK_FAILED),
		 unlock_say_failed)) != JITCTL_EXIT_OK) {
		cli_err("not every credential was unlocked: no shell");
		goto out;
	}
	duration_format(
	    cli_jint(rep.result, JP_RES_UNLOCK_WINDOW, 0), left, sizeof(left));
	cli_note("unlocked %s for this shell (pid %d) for %s or until it exits",
	    list, (int)child, left);
	/* The shell owns the terminal now: ^C is its, not ours. */
	signal(SIGINT, SIG_IGN);
	signal(SIGQUIT, SIG_IGN);
	cli_disconnect();
	if (write(go, "g", 1) != 1) {
		ex = cli_fail_code(JIT_E_IO, "cannot start the shell");
		goto out;
	}
	close(go);
	go = -1;
	ex = wait_child(child);
	child = -1;
out:
	if (go >= 0)
		close(go); /* the held child exits without running anything */
	if (child > 0)
		(void)wait_child(child);
	json_object_put(args);
	json_object_put(names);
	json_object_put(labels);
	client_reply_reset(&st);
	client_reply_reset(&rep);
	return ex;
}
