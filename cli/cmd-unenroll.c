/* jitctl unenroll: forget a token; credentials keep their other wraps. */
#include <getopt.h>
#include <stdio.h>

#include "err.h"
#include "jitctl.h"
#include "jsonx.h"
#include "prompt.h"
#include "proto-names.h"

static const char unenroll_help[] =
    "usage: jitctl unenroll [--force] [--token LABEL] [--pin-fd N] LABEL\n"
    "\n"
    "Forget the token LABEL: its record is deleted and every credential\n"
    "drops the copy of its data key wrapped to it.  A credential wrapped\n"
    "to no other token would become unopenable, so the agent refuses\n"
    "unless --force is given (such credentials are then deleted).\n"
    "An enrolled token approves it with a fresh touch or PIN (LABEL\n"
    "itself may).  A token that 'jitctl tokens' says was added outside\n"
    "jit-agent is removed the same way, approved by a genuine token.\n"
    "\n"
    "  -f, --force         delete credentials only this token can open\n"
    "  -t, --token LABEL   the enrolled token that approves\n"
    "  -p, --pin-fd N      read the approving token's PIN from N\n"
    "  -h, --help          this text\n";

int
unenroll_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "force", no_argument, NULL, 'f' },
		{ "token", required_argument, NULL, 't' },
		{ "pin-fd", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct client_reply rep = { .retries = -1 }, toks = { .retries = -1 };
	struct json_object *args = NULL;
	struct stepup_opts so = { .pin_fd = -1 };
	char purpose[128], safe[80];
	bool force = false;
	int64_t n;
	int c, r, ex;

	while ((c = cli_getopt(argc, argv, ":ft:p:h", opts)) != -1) {
		switch (c) {
		case 'f': force = true; break;
		case 't': so.token = optarg; break;
		case 'p':
			if (cli_pin_fd("--pin-fd", optarg, &so.pin_fd) != 0)
				return JITCTL_EXIT_USAGE;
			break;
		case 'h': return cli_help(unenroll_help);
		default: return cli_getopt_error(c, argv);
		}
	}
	if (argc - optind != 1)
		return cli_usage_error("expected one token label");
	if ((args = json_object_new_object()) == NULL ||
	    jsonx_add_str(args, JP_ARG_UNENROLL_LABEL, argv[optind]) != 0 ||
	    (force && jsonx_add_bool(args, JP_ARG_UNENROLL_FORCE, true) != 0) ||
	    (so.token != NULL &&
		jsonx_add_str(args, JP_ARG_UNENROLL_TOKEN, so.token) != 0)) {
		ex = cli_fail_code(JIT_E_NOMEM, NULL);
		goto out;
	}
	if ((r = stepup_tokens(&toks)) != 0) {
		ex = cli_fail(r, &toks);
		goto out;
	}
	cli_sanitize(argv[optind], safe, sizeof(safe));
	snprintf(purpose, sizeof(purpose), "to approve removing %s", safe);
	so.purpose = purpose;
	if ((r = stepup_request(JP_VERB_UNENROLL, args,
		 cli_jarray(toks.result, JP_RES_TOKENS_TOKENS), NULL, &so,
		 &rep)) != 0) {
		ex = cli_fail(r, &rep);
		goto out;
	}
	n = cli_jint(rep.result, JP_RES_UNENROLL_REWRAPPED, 0);
	cli_note("unenrolled %s (%lld credential%s updated)", argv[optind],
	    (long long)n, n == 1 ? "" : "s");
	ex = JITCTL_EXIT_OK;
out:
	json_object_put(args);
	client_reply_reset(&rep);
	client_reply_reset(&toks);
	return ex;
}
