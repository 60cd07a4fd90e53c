/* jitctl rewrap: wrap existing credentials to every enrolled token (or one). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "err.h"
#include "jitctl.h"
#include "jsonx.h"
#include "proto-names.h"

static const char rewrap_help[] =
    "usage: jitctl rewrap [--to LABEL] [--token LABEL] [--pin-fd N] [NAME...]\n"
    "\n"
    "Wrap credentials to every enrolled token, so that a token enrolled\n"
    "after them (a replacement or a backup key) opens them too.  One touch\n"
    "or PIN of a token they are wrapped to opens their data keys; nothing\n"
    "is unlocked and no secret leaves the agent.  Without names, every\n"
    "credential that has not expired.\n"
    "\n"
    "  -T, --to LABEL      wrap to this token only\n"
    "  -t, --token LABEL   open them with this token\n"
    "  -p, --pin-fd N      read the PIN from file descriptor N\n"
    "  -h, --help          this text\n";

/* The labels of the tokens the credentials (names, or all) are wrapped
 * to: one of them answers. */
static int
wrapped_to(
    struct json_object *creds, char **names, int n, struct json_object *labels)
{
	struct json_object *cred, *toks;
	size_t i, k, nc;
	int j, r;

	nc = creds == NULL ? 0 : json_object_array_length(creds);
	for (i = 0; i < nc; i++) {
		cred = json_object_array_get_idx(creds, i);
		for (j = 0; j < n; j++)
			if (strcmp(cli_jstr(cred, JP_CRED_NAME) != NULL ?
				    cli_jstr(cred, JP_CRED_NAME) :
				    "",
				names[j]) == 0)
				break;
		if (n > 0 && j == n)
			continue;
		if ((toks = cli_jarray(cred, JP_CRED_TOKENS)) == NULL)
			continue;
		for (k = 0; k < json_object_array_length(toks); k++)
			if (json_object_get_string(
				json_object_array_get_idx(toks, k)) != NULL &&
			    (r = cli_jappend(labels,
				 json_object_get_string(
				     json_object_array_get_idx(toks, k)))) != 0)
				return r;
	}
	return JIT_OK;
}

/* What did not get its wraps, and why (cli_report_failed). */
static void
say_not_rewrapped(const char *name, const char *why)
{
	cli_err("%s was not rewrapped: %s", name, why);
}

int
rewrap_run(const char *to, const struct stepup_opts *o, char **names, int n)
{
	struct client_reply st = { .retries = -1 }, rep = { .retries = -1 };
	struct json_object *args = NULL, *arr = NULL, *labels = NULL;
	struct stepup_opts so = *o;
	char list[1024], tolist[256];
	size_t done;
	int i, r, ex;

	so.purpose = "to rewrap the credentials";
	so.pin_fields = false;
	if ((args = json_object_new_object()) == NULL ||
	    (arr = json_object_new_array()) == NULL ||
	    (labels = json_object_new_array()) == NULL) {
		ex = cli_fail_code(JIT_E_NOMEM, NULL);
		goto out;
	}
	for (i = 0; i < n; i++)
		if ((r = cli_jappend(arr, names[i])) != 0) {
			ex = cli_fail_code(r, NULL);
			goto out;
		}
	if (json_object_object_add(
		args, JP_ARG_REWRAP_NAMES, json_object_get(arr)) != 0 ||
	    (to != NULL && jsonx_add_str(args, JP_ARG_REWRAP_TO, to) != 0) ||
	    (so.token != NULL &&
		jsonx_add_str(args, JP_ARG_REWRAP_TOKEN, so.token) != 0)) {
		ex = cli_fail_code(JIT_E_NOMEM, NULL);
		goto out;
	}
	if ((r = cli_request(JP_VERB_STATUS, NULL, NULL, &st)) != 0 &&
	    r == JIT_E_AGENT) {
		ex = cli_fail(r, &st);
		goto out;
	}
	/* Any token the credentials are wrapped to may answer. */
	if ((r = wrapped_to(cli_jarray(st.result, JP_RES_STATUS_CREDENTIALS),
		 names, n, labels)) != 0) {
		ex = cli_fail_code(r, NULL);
		goto out;
	}
	if ((r = stepup_request(JP_VERB_REWRAP, args,
		 cli_jarray(st.result, JP_RES_STATUS_TOKENS), labels, &so,
		 &rep)) != 0) {
		ex = cli_fail(r, &rep);
		goto out;
	}
	cli_close_line();
	cli_jjoin(cli_jarray(rep.result, JP_RES_REWRAP_REWRAPPED), ", ", list,
	    sizeof(list));
	cli_jjoin(cli_jarray(rep.result, JP_RES_REWRAP_TO), ", ", tolist,
	    sizeof(tolist));
	done = json_object_array_length(
	    cli_jarray(rep.result, JP_RES_REWRAP_REWRAPPED));
	if (done == 0)
		cli_note("every credential was wrapped to %s already", tolist);
	else
		cli_note("rewrapped %zu credential(s) to %s with %s: %s", done,
		    tolist, cli_jstr(rep.result, JP_RES_REWRAP_TOKEN), list);
	ex = cli_report_failed(
	    cli_jarray(rep.result, JP_RES_REWRAP_FAILED), say_not_rewrapped);
out:
	json_object_put(args);
	json_object_put(arr);
	json_object_put(labels);
	client_reply_reset(&st);
	client_reply_reset(&rep);
	return ex;
}

int
rewrap_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "to", required_argument, NULL, 'T' },
		{ "token", required_argument, NULL, 't' },
		{ "pin-fd", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct stepup_opts so = { .pin_fd = -1 };
	const char *to = NULL;
	int c;

	while ((c = cli_getopt(argc, argv, ":T:t:p:h", opts)) != -1) {
		switch (c) {
		case 'T': to = optarg; break;
		case 't': so.token = optarg; break;
		case 'p':
			if (cli_pin_fd("--pin-fd", optarg, &so.pin_fd) != 0)
				return JITCTL_EXIT_USAGE;
			break;
		case 'h': return cli_help(rewrap_help);
		default: return cli_getopt_error(c, argv);
		}
	}
	return rewrap_run(to, &so, argv + optind, argc - optind);
}
