/* jitctl exec: run a command with credentials in its environment only. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "exec-env.h"
#include "fields.h"
#include "jitctl.h"
#include "jsonx.h"
#include "mask.h"
#include "proto-names.h"
#include "run.h"
#include "secret.h"

static const char exec_help[] =
    "usage: jitctl exec [--no-masking] [--pin-fd N] NAME... -- COMMAND [ARGS...]\n"
    "       jitctl exec [--no-masking] [--pin-fd N] NAME COMMAND [ARGS...]\n"
    "\n"
    "Run COMMAND with the credentials in its environment, as its tools\n"
    "read them: aws as AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,\n"
    "AWS_SESSION_TOKEN and AWS_CREDENTIAL_EXPIRATION; kube as KUBECONFIG\n"
    "(a temporary file, removed at the end, whose user asks jitctl);\n"
    "ssh-cert as SSH_AUTH_SOCK (a private agent holding that certificate\n"
    "only); secret as JIT_SECRET; others one variable per field.  Nothing\n"
    "secret is written to disk.  The command's output passes through a\n"
    "filter that replaces every value with <concealed by jit-agent>.\n"
    "jitctl exits with the command's status (128 + N if signal N killed it).\n"
    "\n"
    "      --no-masking  leave the output alone (and a terminal a terminal)\n"
    "  -p, --pin-fd N    the PIN, for a credential whose step-up asks for\n"
    "                    the token on every use\n"
    "  -h, --help        this text\n";

enum {
	OPT_NO_MASKING = 256,
};

struct exec_args {
	int pin_fd;
	bool masking;
	char **names;
	size_t nnames;
	char **cmd;
};

/* NAMEs and the command: options before "--" only, so none reach CMD. */
static int
parse_args(int argc, char **argv, struct exec_args *a)
{
	static const struct option opts[] = {
		{ "pin-fd", required_argument, NULL, 'p' },
		{ "no-masking", no_argument, NULL, OPT_NO_MASKING },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c, dd, end;

	for (dd = 1; dd < argc && strcmp(argv[dd], "--") != 0; dd++)
		;
	/* Without "--", stop at NAME: what follows is the command's. */
	end = dd < argc ? dd : argc;
	while ((c = cli_getopt(
		    end, argv, dd < argc ? ":p:h" : "+:p:h", opts)) != -1) {
		switch (c) {
		case 'p':
			if (cli_pin_fd("--pin-fd", optarg, &a->pin_fd) != 0)
				return JITCTL_EXIT_USAGE;
			break;
		case OPT_NO_MASKING: a->masking = false; break;
		case 'h': (void)cli_help(exec_help); return -1;
		default: return cli_getopt_error(c, argv);
		}
	}
	if (dd < argc) {
		if (end - optind == 0)
			return cli_usage_error(
			    "which credential? (jitctl exec NAME... -- COMMAND)");
		if (end - optind > EXEC_CREDS_MAX)
			return cli_usage_error(
			    "at most %d credentials in one command",
			    EXEC_CREDS_MAX);
		a->names = argv + optind;
		a->nnames = (size_t)(end - optind);
		a->cmd = argv + dd + 1;
		if (dd + 1 >= argc)
			return cli_usage_error("no command after '--'");
	} else {
		if (argc - optind < 2)
			return cli_usage_error(
			    "expected NAME... -- COMMAND [ARGS...]");
		a->names = argv + optind;
		a->nnames = 1;
		a->cmd = argv + optind + 1;
	}
	return JITCTL_EXIT_OK;
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

/* Is name a credential of kind ssh-cert?  (No: unknown, or no agent;
 * get_fields says why.) */
static bool
is_ssh_cert(const char *name)
{
	struct client_reply st = { .retries = -1 };
	struct json_object *args;
	const char *kind = NULL;
	bool yes;

	if ((args = json_object_new_object()) == NULL ||
	    jsonx_add_str(args, JP_ARG_STATUS_NAME, name) != 0 ||
	    cli_request(JP_VERB_STATUS, args, NULL, &st) != 0) {
		json_object_put(args);
		client_reply_reset(&st);
		return false;
	}
	kind = cli_jstr(
	    cli_jfind(cli_jarray(st.result, JP_RES_STATUS_CREDENTIALS),
		JP_CRED_NAME, name),
	    JP_CRED_KIND);
	yes = kind != NULL && strcmp(kind, "ssh-cert") == 0;
	json_object_put(args);
	client_reply_reset(&st);
	return yes;
}

static void
wipe_env(void *arg)
{
	exec_env_wipe(arg);
}

int
exec_main(int argc, char **argv)
{
	struct exec_args a = { .pin_fd = -1, .masking = true };
	struct exec_cred creds[EXEC_CREDS_MAX];
	const struct secret *all[EXEC_CREDS_MAX];
	struct exec_env *env = NULL;
	struct mask_set *mask = NULL;
	const char *base;
	size_t i, n = 0;
	int r, ex;

	memset(creds, 0, sizeof(creds));
	if ((ex = parse_args(argc, argv, &a)) != 0)
		return ex < 0 ? JITCTL_EXIT_OK : ex;
	if (!runnable(a.cmd[0])) {
		cli_err("%s: command not found or not executable", a.cmd[0]);
		return 127;
	}
	if ((base = strrchr(a.cmd[0], '/')) != NULL)
		base++;
	else
		base = a.cmd[0];
	for (n = 0; n < a.nnames; n++) {
		creds[n].name = a.names[n];
		/* Of an SSH certificate only the certificate: its private
		 * key stays in the agent, which signs. */
		if ((ex = get_fields(a.names[n],
			 is_ssh_cert(a.names[n]) ? "cert" : NULL, "exec", base,
			 a.pin_fd, &creds[n].cred, &creds[n].fields)) != 0)
			goto out;
		all[n] = creds[n].fields;
	}
	/* The command may run for hours: the agent needs no idle link. */
	cli_disconnect();
	if (a.masking && (r = mask_set_new(all, n, &mask)) != 0) {
		ex = cli_fail_code(r, "cannot set up the output filter");
		goto out;
	}
	if ((r = exec_env_new(creds, n, &env)) != 0) {
		ex = r == JIT_E_ARG ?
		    JITCTL_EXIT_FAIL :
		    cli_fail_code(r, "cannot build the environment");
		goto out;
	}
	for (i = 0; i < n; i++) {
		secret_free(creds[i].fields);
		creds[i].fields = NULL;
	}
	ex = run_child(a.cmd, exec_env_vec(env), mask, wipe_env, env);
out:
	exec_env_free(env);
	mask_set_free(mask);
	for (i = 0; i < n; i++) {
		json_object_put(creds[i].cred);
		secret_free(creds[i].fields);
	}
	return ex;
}
