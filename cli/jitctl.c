/* jitctl: global options, the table of verbs, and start-up hardening. */
#include <getopt.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <sodium.h>

#include "config.h"
#include "err.h"
#include "jitctl.h"
#include "log.h"

const char *jitctl_socket_opt;
const char *jitctl_data_dir_opt;
struct rlimit jitctl_core_limit;

struct verb {
	const char *name;
	int (*fn)(int, char **);
	const char *summary;
};

static const struct verb verbs[] = {
	{ "enroll", enroll_main, "bind a hardware token (tpm2, fido2)" },
	{ "tokens", tokens_main, "list the enrolled tokens" },
	{ "unenroll", unenroll_main, "forget a token" },
	{ "rewrap", rewrap_main,
	    "wrap credentials to every enrolled token (a new key)" },
	{ "add", add_main, "store a credential read from stdin" },
	{ "seal", seal_main,
	    "seal a credential to recipients, with no agent (admins)" },
	{ "import", import_main, "add a credential sealed with 'seal'" },
	{ "recipient", recipient_main,
	    "check an exported recipient's attestation offline" },
	{ "request", request_main,
	    "have a profile's issuer mint a credential" },
	{ "approve", approve_main,
	    "sign someone's access request with your SSH key" },
	{ "unlock", unlock_main, "open credentials with a token, for a while" },
	{ "shell", shell_main,
	    "unlock for one shell: its processes alone, until it exits" },
	{ "get", get_main, "print an unlocked credential (for scripts)" },
	{ "exec", exec_main,
	    "run a command with a credential in its environment" },
	{ "inject", inject_main,
	    "fill a template with credentials, to stdout or a file" },
	{ "status", status_main, "what is unlocked, for whom, until when" },
	{ "lock", lock_main, "wipe unlocked credentials now" },
	{ "revoke", revoke_main, "wipe and delete a credential" },
	{ "audit", audit_main, "print or verify the audit log" },
	{ "events", events_main, "follow the audited events live" },
	{ "aws-credential-process", aws_main, "AWS credential_process helper" },
	{ "kube-credential", kube_main, "kubectl exec credential plugin" },
	{ "git-credential", git_main, "git credential helper" },
	{ "docker-credential", docker_main, "docker credential helper" },
	{ "complete", complete_main, "words for shell completion" },
};

void
jitctl_print_verbs(void)
{
	size_t i;

	for (i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		printf("%s\n", verbs[i].name);
}

static void
usage(FILE *f)
{
	size_t i;

	fprintf(f,
	    "usage: jitctl [-s SOCKET] [--data-dir DIR] VERB [ARGS...]\n"
	    "       jitctl VERB --help\n"
	    "\n"
	    "Drive jit-agent: hardware-wrapped, short-lived credentials.\n"
	    "\n"
	    "Options:\n"
	    "  -s, --socket PATH   the agent's socket (default: $JIT_AGENT_SOCK,\n"
	    "                      else $SSH_AUTH_SOCK, else\n"
	    "                      $XDG_RUNTIME_DIR/jit-agent/agent.sock)\n"
	    "      --data-dir DIR  where the audit log is (audit only)\n"
	    "  -h, --help          this text\n"
	    "      --version       the version\n"
	    "\n"
	    "Verbs:\n");
	for (i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		fprintf(f, "  %-22s %s\n", verbs[i].name, verbs[i].summary);
	fprintf(f, "\nSee jitctl(1).\n");
}

/* "unknown verb 'stauts' (did you mean 'status'?)" */
static int
unknown_verb(const char *name)
{
	const char *names[sizeof(verbs) / sizeof(verbs[0])], *near;
	char safe[64];
	size_t i;

	for (i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		names[i] = verbs[i].name;
	cli_sanitize(name, safe, sizeof(safe));
	if ((near = cli_nearest(name, names, i)) != NULL)
		return cli_usage_error(
		    "unknown verb '%s' (did you mean '%s'?)", safe, near);
	return cli_usage_error("unknown verb '%s'", safe);
}

/*
 * jitctl holds PINs and secrets too: no core from the start.  Only the soft
 * core limit drops, so that `jitctl exec` can give its child back the limit
 * it was started with.  Non-dumpable (no ptrace by peers) comes later, in
 * cli_connect(), once the agent has read /proc/PID/exe, which that hides
 * from a process of the same ordinary user; no secret is read before.
 */
static int
harden(void)
{
	struct rlimit rl;

	if (sodium_init() < 0)
		return JIT_E_CRYPTO;
	if (getrlimit(RLIMIT_CORE, &jitctl_core_limit) != 0)
		return JIT_E_INTERNAL;
	rl.rlim_cur = 0;
	rl.rlim_max = jitctl_core_limit.rlim_max;
	if (setrlimit(RLIMIT_CORE, &rl) != 0)
		return JIT_E_INTERNAL;
	return JIT_OK;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "data-dir", required_argument, NULL, 'D' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *name;
	size_t i;
	int c, r;

	setlocale(LC_CTYPE, "");
	log_init("jitctl", 1, LOG_LVL_WARN);
	if ((r = harden()) != 0) {
		fprintf(stderr, "jitctl: cannot start safely: %s\n",
		    jit_strerror(r));
		return JITCTL_EXIT_FAIL;
	}
	opterr = 0; /* our own messages, with the verb in them */
	/* '+': stop at the verb, whose options are its own. */
	while ((c = cli_getopt(argc, argv, "+:s:h", opts)) != -1) {
		switch (c) {
		case 's': jitctl_socket_opt = optarg; break;
		case 'D': jitctl_data_dir_opt = optarg; break;
		case 'h': usage(stdout); return JITCTL_EXIT_OK;
		case 'V':
			printf("jitctl %s\n", JIT_VERSION);
			return JITCTL_EXIT_OK;
		default: return cli_getopt_error(c, argv);
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return JITCTL_EXIT_USAGE;
	}
	name = argv[optind];
	if (strcmp(name, "help") == 0) {
		usage(stdout);
		return JITCTL_EXIT_OK;
	}
	for (i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
		if (strcmp(name, verbs[i].name) != 0)
			continue;
		cli_set_verb(verbs[i].name);
		argc -= optind;
		argv += optind;
		optind = 0; /* getopt_long starts afresh for the verb */
		return verbs[i].fn(argc, argv);
	}
	return unknown_verb(name);
}
