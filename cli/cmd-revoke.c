/* jitctl revoke: wipe a credential, delete it, and revoke it upstream. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "err.h"
#include "jitctl.h"
#include "jsonx.h"
#include "proto-names.h"

static const char revoke_help[] =
    "usage: jitctl revoke NAME...\n"
    "\n"
    "Wipe each credential from memory, delete its wrapped file, and run\n"
    "its issuer's revoke command so it dies upstream too.  There is no\n"
    "undo: add or request it again.  When the upstream revoke fails, it\n"
    "is tried again (see 'jitctl status') and the exit status is 1.\n"
    "\n"
    "  -h, --help   this text\n";

int
revoke_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct client_reply rep = { .retries = -1 };
	struct json_object *args = NULL;
	const char *up, *msg;
	int c, i, r, ex = JITCTL_EXIT_OK, one;

	while ((c = cli_getopt(argc, argv, ":h", opts)) != -1) {
		switch (c) {
		case 'h': return cli_help(revoke_help);
		default: return cli_getopt_error(c, argv);
		}
	}
	if (optind >= argc)
		return cli_usage_error(
		    "which credential? (jitctl revoke NAME)");
	/* One request per name; go on after a failure, report the first. */
	for (i = optind; i < argc; i++) {
		json_object_put(args);
		if ((args = json_object_new_object()) == NULL ||
		    (r = jsonx_add_str(args, JP_ARG_REVOKE_NAME, argv[i])) !=
			0) {
			ex = cli_fail_code(JIT_E_NOMEM, NULL);
			break;
		}
		if ((r = cli_request(JP_VERB_REVOKE, args, NULL, &rep)) != 0) {
			one = cli_fail(r, &rep);
			if (ex == JITCTL_EXIT_OK)
				ex = one;
			if (r == JIT_E_AGENT)
				break;
			continue;
		}
		up = cli_jstr(rep.result, JP_RES_REVOKE_UPSTREAM);
		msg = cli_jstr(rep.result, JP_RES_REVOKE_MESSAGE);
		if (up == NULL)
			cli_note("revoked %s", argv[i]);
		else if (strcmp(up, "done") == 0)
			cli_note("revoked %s, here and upstream", argv[i]);
		else if (strcmp(up, "failed") == 0 ||
		    strcmp(up, "gave-up") == 0) {
			cli_err(
			    "revoked %s here, but its upstream revoke failed: %s; %s",
			    argv[i], msg != NULL ? msg : "no reason given",
			    strcmp(up, "failed") == 0 ?
				"it is tried again ('jitctl status' shows it)" :
				"no more tries: revoke it upstream by hand");
			if (ex == JITCTL_EXIT_OK)
				ex = JITCTL_EXIT_FAIL;
		} else
			cli_note("revoked %s here; its upstream revoke is %s",
			    argv[i], up);
	}
	json_object_put(args);
	client_reply_reset(&rep);
	return ex;
}
