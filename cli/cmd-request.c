/* jitctl request: have a profile's issuer mint a credential, wrapped at once. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "duration.h"
#include "err.h"
#include "jitctl.h"
#include "jsonx.h"
#include "prompt.h"
#include "proto-names.h"

#define APPROVAL_INPUT_MAX (32 * 1024)

static const char request_help[] =
    "usage: jitctl request PROFILE --reason TEXT [--ttl DURATION]\n"
    "                      [--name NAME] [--json] [--pin-fd N]\n"
    "       jitctl request --approval FILE|- ID [--json] [--pin-fd N]\n"
    "\n"
    "Ask the agent to run the issuer of PROFILE (jit-agent.conf(5)): it\n"
    "mints a short-lived credential (a database role, a cloud session,\n"
    "an SSH certificate), which the agent wraps to every enrolled token at\n"
    "once.  No touch is needed; 'jitctl unlock NAME' opens it.  The reason\n"
    "is passed to the issuer and written to the audit log.\n"
    "\n"
    "A profile with approvals (jit-agent.conf(5)) makes a request that\n"
    "waits instead: its text is printed on stdout for you to pass to the\n"
    "approvers ('jitctl approve', or 'ssh-keygen -Y sign -n\n"
    "jit-approval@jit-agent').  Hand each approval back with --approval;\n"
    "the last one needed runs the issuer.\n"
    "\n"
    "  -a, --approval FILE an approval (an OpenSSH signature) of request ID\n"
    "  -r, --reason TEXT   why (an incident, a ticket); required\n"
    "  -t, --ttl DURATION  how long it is valid (default: the profile's\n"
    "                      default_ttl; at most its max_ttl)\n"
    "  -n, --name NAME     the credential's name (default: PROFILE)\n"
    "  -j, --json          print the agent's answer as JSON\n"
    "  -p, --pin-fd N      the PIN of the token that verifies the enrolled\n"
    "                      tokens, if the agent asks (see jitctl add)\n"
    "  -h, --help          this text\n";

/* The args of approve: the request's id and the approval's text. */
static struct json_object *
approval_args(const char *path, const char *id)
{
	struct json_object *args = NULL;
	char *text = NULL;
	size_t len;
	int r;

	if ((r = cli_read_text(path, APPROVAL_INPUT_MAX, &text, &len)) != 0) {
		(void)cli_fail_code(r, "cannot read the approval from %s",
		    strcmp(path, "-") == 0 ? "stdin" : path);
		return NULL;
	}
	if (memchr(text, '\0', len) != NULL ||
	    (args = json_object_new_object()) == NULL ||
	    jsonx_add_str(args, JP_ARG_APPROVE_ID, id) != 0 ||
	    jsonx_add_str(args, JP_ARG_APPROVE_SIGNATURE, text) != 0) {
		cli_err("the approval in %s is not text", path);
		json_object_put(args);
		args = NULL;
	}
	free(text);
	return args;
}

/* A request that waits: its text on stdout, what to do on stderr. */
static int
print_waiting(struct json_object *res)
{
	const char *text = cli_jstr(res, JP_RES_REQUEST_TEXT);
	char until[64];

	cli_close_line();
	if (text != NULL && cli_jint(res, JP_RES_REQUEST_APPROVALS, 0) == 0 &&
	    cli_write_all(STDOUT_FILENO, text, strlen(text)) != 0)
		return JITCTL_EXIT_FAIL;
	cli_time(
	    cli_jint(res, JP_RES_REQUEST_EXPIRES, 0), until, sizeof(until));
	if (text != NULL)
		cli_note(
		    "request %s waits for %lld approval(s) until %s: pass the text above to the approvers ('jitctl approve'), then 'jitctl request --approval FILE %s'",
		    cli_jstr(res, JP_RES_REQUEST_ID),
		    (long long)cli_jint(res, JP_RES_REQUEST_NEEDED, 0), until,
		    cli_jstr(res, JP_RES_REQUEST_ID));
	else
		cli_note(
		    "approved by %s: %lld of %lld approvals; request %s waits for the others",
		    cli_jstr(res, JP_RES_REQUEST_APPROVERS),
		    (long long)cli_jint(res, JP_RES_REQUEST_APPROVALS, 0),
		    (long long)cli_jint(res, JP_RES_REQUEST_NEEDED, 0),
		    cli_jstr(res, JP_RES_REQUEST_ID));
	return JITCTL_EXIT_OK;
}

int
request_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "reason", required_argument, NULL, 'r' },
		{ "ttl", required_argument, NULL, 't' },
		{ "name", required_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },
		{ "pin-fd", required_argument, NULL, 'p' },
		{ "approval", required_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct client_reply rep = { .retries = -1 };
	struct json_object *args = NULL;
	const char *profile, *reason = NULL, *ttl_arg = NULL, *name = NULL,
			     *approval = NULL;
	const char *verb = JP_VERB_REQUEST;
	char until[64], list[512], fields[512];
	bool json = false;
	int64_t ttl = 0;
	struct stepup_opts so = { .pin_fd = -1 };
	int c, r, ex;

	while ((c = cli_getopt(argc, argv, ":r:t:n:jp:a:h", opts)) != -1) {
		switch (c) {
		case 'a': approval = optarg; break;
		case 'r': reason = optarg; break;
		case 't': ttl_arg = optarg; break;
		case 'n': name = optarg; break;
		case 'j': json = true; break;
		case 'p':
			if (cli_pin_fd("--pin-fd", optarg, &so.pin_fd) != 0)
				return JITCTL_EXIT_USAGE;
			break;
		case 'h': return cli_help(request_help);
		default: return cli_getopt_error(c, argv);
		}
	}
	if (argc - optind != 1)
		return cli_usage_error(approval != NULL ?
			"expected the request's id after --approval FILE" :
			"expected one profile name");
	profile = argv[optind];
	if (approval != NULL) {
		if (reason != NULL || ttl_arg != NULL || name != NULL)
			return cli_usage_error(
			    "--approval hands an approval to a request made before: no --reason, --ttl or --name");
		if ((args = approval_args(approval, profile)) == NULL)
			return JITCTL_EXIT_FAIL;
		verb = JP_VERB_APPROVE;
		cli_notice_open(
		    "Handing the approval to request %s...", profile);
		goto send;
	}
	if (reason == NULL || reason[0] == '\0')
		return cli_usage_error(
		    "--reason is required: why you need it (an incident, a ticket)");
	if (ttl_arg != NULL && duration_parse(ttl_arg, &ttl) != 0)
		return cli_usage_error(
		    "bad --ttl '%s': use 90s, 15m, 2h, 1d or 1h30m", ttl_arg);
	if ((args = json_object_new_object()) == NULL ||
	    jsonx_add_str(args, JP_ARG_REQUEST_PROFILE, profile) != 0 ||
	    jsonx_add_str(args, JP_ARG_REQUEST_REASON, reason) != 0 ||
	    (name != NULL &&
		jsonx_add_str(args, JP_ARG_REQUEST_NAME, name) != 0) ||
	    (ttl > 0 && jsonx_add_int(args, JP_ARG_REQUEST_TTL, ttl) != 0)) {
		ex = cli_fail_code(JIT_E_NOMEM, NULL);
		goto out;
	}
	cli_notice_open("Asking the issuer of %s...", profile);
send:
	r = cli_request(verb, args, NULL, &rep);
	/* The first wrap since the agent started: a token vouches first. */
	if (r == JIT_E_UNVERIFIED) {
		cli_close_line();
		if ((ex = stepup_verify_tokens(&so)) != JITCTL_EXIT_OK)
			goto out;
		cli_notice_open("Asking the agent again...");
		r = cli_request(verb, args, NULL, &rep);
	}
	if (r != 0) {
		cli_close_line();
		ex = cli_fail(r, &rep);
		goto out;
	}
	if (json) {
		cli_close_line();
		ex = cli_print_json(rep.result) == 0 ? JITCTL_EXIT_OK :
						       JITCTL_EXIT_FAIL;
		goto out;
	}
	if (cli_jstr(rep.result, JP_RES_REQUEST_ID) != NULL) {
		ex = print_waiting(rep.result);
		goto out;
	}
	cli_time(cli_jint(rep.result, JP_RES_REQUEST_NOT_AFTER, 0), until,
	    sizeof(until));
	cli_jjoin(cli_jarray(rep.result, JP_RES_REQUEST_TOKENS), ", ", list,
	    sizeof(list));
	cli_jjoin(cli_jarray(rep.result, JP_RES_REQUEST_FIELDS), ", ", fields,
	    sizeof(fields));
	cli_note("got %s (%s: %s), valid until %s, wrapped to %s",
	    cli_jstr(rep.result, JP_RES_REQUEST_NAME),
	    cli_jstr(rep.result, JP_RES_REQUEST_KIND), fields, until,
	    list[0] != '\0' ? list : "no token");
	cli_note("open it with 'jitctl unlock %s'",
	    cli_jstr(rep.result, JP_RES_REQUEST_NAME));
	ex = JITCTL_EXIT_OK;
out:
	json_object_put(args);
	client_reply_reset(&rep);
	return ex;
}
