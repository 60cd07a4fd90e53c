/* jitctl unlock: open credentials with one touch or PIN, for a window. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "duration.h"
#include "err.h"
#include "jitctl.h"
#include "jsonx.h"
#include "prompt.h"
#include "proto-names.h"

static const char unlock_help[] =
    "usage: jitctl unlock [--for DURATION] [--token LABEL] [--pin-fd N]\n"
    "                     [--reason TEXT] (--all | NAME...)\n"
    "\n"
    "Unwrap credentials with one token operation (a touch, or a TPM PIN)\n"
    "and keep them in the agent's guarded memory for a window.\n"
    "\n"
    "  -a, --all           every credential\n"
    "  -f, --for DURATION  the window (default 15m; never past a\n"
    "                      credential's own expiry)\n"
    "  -t, --token LABEL   use this token\n"
    "  -r, --reason TEXT   why (an incident, a ticket): one line of at\n"
    "                      most 512 bytes, kept in the audit log\n"
    "  -p, --pin-fd N      read the PIN from file descriptor N instead of\n"
    "                      asking on the terminal\n"
    "  -h, --help          this text\n";

int
unlock_labels_for(
    struct json_object *creds, int n, char **names, struct json_object *labels)
{
	struct json_object *cred, *toks;
	const char *l;
	size_t j, k;
	int i, r;

	for (i = 0; i < n; i++) {
		if ((cred = cli_jfind(creds, JP_CRED_NAME, names[i])) == NULL ||
		    (toks = cli_jarray(cred, JP_CRED_TOKENS)) == NULL)
			continue;
		k = json_object_array_length(toks);
		for (j = 0; j < k; j++) {
			l = json_object_get_string(
			    json_object_array_get_idx(toks, j));
			if (l != NULL && (r = cli_jappend(labels, l)) != 0)
				return r;
		}
	}
	return JIT_OK;
}

int
unlock_precheck(struct json_object *args, struct client_reply *rep)
{
	int r;

	if (jsonx_add_bool(args, JP_ARG_UNLOCK_CHECK, true) != 0)
		return JIT_E_NOMEM;
	r = cli_request(JP_VERB_UNLOCK, args, NULL, rep);
	json_object_object_del(args, JP_ARG_UNLOCK_CHECK);
	return r;
}

/* The window actually granted; a second or two of latency is noise. */
static int64_t
window_left(int64_t until, int64_t asked)
{
	int64_t left = until - (int64_t)time(NULL);

	if (asked > 0 && left <= asked && asked - left <= 2)
		return asked;
	return left;
}

/* What did not open, and why (cli_report_failed). */
void
unlock_say_failed(const char *name, const char *why)
{
	cli_err("%s was not unlocked: %s", name, why);
}

int
unlock_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "all", no_argument, NULL, 'a' },
		{ "for", required_argument, NULL, 'f' },
		{ "token", required_argument, NULL, 't' },
		{ "reason", required_argument, NULL, 'r' },
		{ "pin-fd", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct client_reply st = { .retries = -1 }, rep = { .retries = -1 };
	struct json_object *args = NULL, *names = NULL, *labels = NULL;
	struct stepup_opts so = { .pin_fd = -1 };
	const char *for_arg = NULL, *reason = NULL;
	char list[1024], left[32];
	bool all = false;
	int64_t window = 0;
	int c, i, r, ex;

	while ((c = cli_getopt(argc, argv, ":af:t:r:p:h", opts)) != -1) {
		switch (c) {
		case 'a': all = true; break;
		case 'r': reason = optarg; break;
		case 'f': for_arg = optarg; break;
		case 't': so.token = optarg; break;
		case 'p':
			if (cli_pin_fd("--pin-fd", optarg, &so.pin_fd) != 0)
				return JITCTL_EXIT_USAGE;
			break;
		case 'h': return cli_help(unlock_help);
		default: return cli_getopt_error(c, argv);
		}
	}
	if (all && optind < argc)
		return cli_usage_error("--all takes no names");
	if (!all && optind == argc)
		return cli_usage_error("which credentials? (NAME... or --all)");
	if (reason != NULL && !cli_reason_ok(reason))
		return cli_usage_error(
		    "--reason is one line of text (1 to 512 bytes, no control characters)");
	if (for_arg != NULL && duration_parse(for_arg, &window) != 0)
		return cli_usage_error(
		    "bad --for '%s': use 90s, 15m, 2h or 1h30m", for_arg);

	if ((args = json_object_new_object()) == NULL ||
	    (names = json_object_new_array()) == NULL ||
	    (labels = json_object_new_array()) == NULL) {
		ex = cli_fail_code(JIT_E_NOMEM, NULL);
		goto out;
	}
	for (i = optind; i < argc; i++) {
		if ((r = cli_jappend(names, argv[i])) != 0) {
			ex = cli_fail_code(r, NULL);
			goto out;
		}
	}
	if (json_object_object_add(
		args, JP_ARG_UNLOCK_NAMES, json_object_get(names)) ||
	    (all && jsonx_add_bool(args, JP_ARG_UNLOCK_ALL, true) != 0) ||
	    (window > 0 &&
		jsonx_add_int(args, JP_ARG_UNLOCK_FOR, window) != 0) ||
	    (so.token != NULL &&
		jsonx_add_str(args, JP_ARG_UNLOCK_TOKEN, so.token)) ||
	    (reason != NULL &&
		jsonx_add_str(args, JP_ARG_UNLOCK_REASON, reason) != 0)) {
		ex = cli_fail_code(JIT_E_NOMEM, NULL);
		goto out;
	}
	/* Which tokens can answer decides what to ask of the person. */
	if ((r = cli_request(JP_VERB_STATUS, NULL, NULL, &st)) != 0 &&
	    r == JIT_E_AGENT) {
		ex = cli_fail(r, &st);
		goto out;
	}
	if (!all &&
	    (r = unlock_labels_for(
		 cli_jarray(st.result, JP_RES_STATUS_CREDENTIALS),
		 argc - optind, argv + optind, labels)) != 0) {
		ex = cli_fail_code(r, NULL);
		goto out;
	}
	/* Names, expiry, the agent's lock: checked before any "touch". */
	if ((r = unlock_precheck(args, &rep)) != 0) {
		ex = cli_fail(r, &rep);
		goto out;
	}
	client_reply_reset(&rep);
	if ((r = stepup_request(JP_VERB_UNLOCK, args,
		 cli_jarray(st.result, JP_RES_STATUS_TOKENS), labels, &so,
		 &rep)) != 0) {
		ex = cli_fail(r, &rep);
		goto out;
	}
	cli_jjoin(cli_jarray(rep.result, JP_RES_UNLOCK_UNLOCKED), ", ", list,
	    sizeof(list));
	duration_format(
	    window_left(cli_jint(rep.result, JP_RES_UNLOCK_UNTIL, 0),
		window > 0 ? window : 15 * 60),
	    left, sizeof(left));
	if (list[0] == '\0')
		cli_note("nothing to unlock");
	else
		cli_note("unlocked %s for %s", list, left);
	ex = cli_report_failed(
	    cli_jarray(rep.result, JP_RES_UNLOCK_FAILED), unlock_say_failed);
out:
	json_object_put(args);
	json_object_put(names);
	json_object_put(labels);
	client_reply_reset(&st);
	client_reply_reset(&rep);
	return ex;
}
